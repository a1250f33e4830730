//! The stack pool: reuse, size classes, labels, guard registration, memory
//! release and stack-size validation.

use std::io::ErrorKind;

use corio::stack::overflow;
use corio::stack::{
    self, DEFAULT_STACK_SIZE, MAX_STACK_SIZE, MIN_STACK_SIZE, PooledStack, StackPool,
    WARM_STACKS_PER_SIZE, validate_stack_size,
};
use corosensei::stack::Stack;
use corosensei::{Coroutine, CoroutineResult};

/// Whether the page holding `address` is resident in memory.
fn resident(address: usize) -> bool {
    let page = stack::page_size();
    let mut vector = 0u8;
    // SAFETY: one page, mapped by a live stack; `vector` has room for it.
    let result = unsafe { libc::mincore((address & !(page - 1)) as *mut _, page, &mut vector) };
    assert_eq!(result, 0, "mincore: {}", std::io::Error::last_os_error());
    vector & 1 == 1
}

/// Writes a byte just below the stack's base (its top page).
fn touch_top_page(stack: &PooledStack) {
    // SAFETY: the 16 bytes below base are usable stack that no coroutine runs on.
    unsafe { std::ptr::write_volatile((stack.base().get() - 16) as *mut u8, 1) };
}

#[test]
fn given_back_stack_is_taken_again() {
    let mut pool = StackPool::new();
    let first = pool.take(DEFAULT_STACK_SIZE, 1, None).unwrap();
    let (limit, base) = (first.limit().get(), first.base().get());
    pool.give_back(first);
    assert_eq!(pool.pooled(), 1);

    let again = pool.take(DEFAULT_STACK_SIZE, 2, None).unwrap();
    assert_eq!((again.limit().get(), again.base().get()), (limit, base));
    assert_eq!(pool.pooled(), 0);
    assert_eq!(pool.carved(), 1);
}

#[test]
fn stack_geometry_matches_the_layout() {
    let mut pool = StackPool::new();
    let stack = pool.take(100_000, 1, None).unwrap();
    let page = stack::page_size();
    assert_eq!(stack.size(), 100_000usize.div_ceil(page) * page);
    assert_eq!(stack.limit().get() % page, 0);
    assert_eq!(stack.base().get() % 16, 0);
    // Guard page, then the stack, then the 64-byte header.
    assert_eq!(
        stack.base().get() - stack.limit().get(),
        page + stack.size() - 64
    );
    assert!(overflow::is_corio_guard_page(stack.limit().get()));
    assert!(overflow::is_corio_guard_page(
        stack.limit().get() + page - 1
    ));
    assert!(!overflow::is_corio_guard_page(stack.limit().get() + page));
    assert!(!overflow::is_corio_guard_page(stack.base().get() - 1));
}

#[test]
fn sizes_are_kept_apart() {
    let mut pool = StackPool::new();
    let small = pool.take(MIN_STACK_SIZE, 1, None).unwrap();
    let large = pool.take(DEFAULT_STACK_SIZE, 2, None).unwrap();
    let (small_limit, large_limit) = (small.limit().get(), large.limit().get());
    pool.give_back(large);
    pool.give_back(small);

    let small = pool.take(MIN_STACK_SIZE, 3, None).unwrap();
    assert_eq!(
        (small.size(), small.limit().get()),
        (MIN_STACK_SIZE, small_limit)
    );
    let large = pool.take(DEFAULT_STACK_SIZE, 4, None).unwrap();
    assert_eq!(
        (large.size(), large.limit().get()),
        (DEFAULT_STACK_SIZE, large_limit)
    );

    // No free stack of a third size: a new one is carved.
    let other = pool.take(2 * DEFAULT_STACK_SIZE, 5, None).unwrap();
    assert_eq!(other.size(), 2 * DEFAULT_STACK_SIZE);
    assert_eq!(pool.carved(), 3);
}

#[test]
fn header_is_labelled_on_every_take() {
    let mut pool = StackPool::new();
    let stack = pool.take(DEFAULT_STACK_SIZE, 17, Some("worker-3")).unwrap();
    assert_eq!(
        (stack.owner_id(), stack.owner_name()),
        (17, Some("worker-3"))
    );
    pool.give_back(stack);

    let stack = pool.take(DEFAULT_STACK_SIZE, 18, None).unwrap();
    assert_eq!((stack.owner_id(), stack.owner_name()), (18, None));
    pool.give_back(stack);

    // 40 bytes at most, cut at a character boundary.
    let long = "ä".repeat(30);
    let stack = pool.take(DEFAULT_STACK_SIZE, 19, Some(&long)).unwrap();
    assert_eq!(stack.owner_name(), Some("ä".repeat(20).as_str()));
}

#[test]
fn coroutine_runs_on_a_pooled_stack_and_returns_it() {
    let mut pool = StackPool::new();
    let stack = pool.take(DEFAULT_STACK_SIZE, 1, Some("deep")).unwrap();
    let limit = stack.limit().get();
    // Recurse until 8 KiB above the guard page: all of the stack is writable.
    let floor = limit + stack::page_size() + 8 * 1024;
    let mut coroutine = Coroutine::with_stack(stack, move |yielder, ()| {
        /// Returns the lowest frame address reached.
        fn fill(floor: usize) -> usize {
            let frame = std::hint::black_box([1u8; 1024]);
            let here = &raw const frame as usize;
            if here < floor {
                return here;
            }
            fill(floor).min(here + usize::from(frame[0]))
        }
        yielder.suspend(fill(floor));
        7
    });
    let CoroutineResult::Yield(lowest) = coroutine.resume(()) else {
        panic!("the coroutine yields before it returns");
    };
    assert!(lowest < floor && lowest > limit + stack::page_size());
    assert!(matches!(coroutine.resume(()), CoroutineResult::Return(7)));
    pool.give_back(coroutine.into_stack());

    let stack = pool.take(DEFAULT_STACK_SIZE, 2, None).unwrap();
    assert_eq!(stack.limit().get(), limit);
}

#[test]
fn chunk_outlives_the_pool_while_a_stack_lives() {
    let mut pool = StackPool::new();
    let stack = pool.take(DEFAULT_STACK_SIZE, 1, None).unwrap();
    let guard = stack.limit().get();
    drop(pool);
    assert!(overflow::is_corio_guard_page(guard));

    let mut coroutine = Coroutine::<u64, (), u64, _>::with_stack(stack, |_, x| x * 2);
    assert!(matches!(coroutine.resume(21), CoroutineResult::Return(42)));
    drop(coroutine);
    // The last stack of the chunk is gone: unmapped and unregistered.
    assert!(!overflow::is_corio_guard_page(guard));
}

#[test]
fn pool_drop_releases_free_stacks() {
    let mut pool = StackPool::new();
    let stack = pool.take(DEFAULT_STACK_SIZE, 1, None).unwrap();
    let guard = stack.limit().get();
    pool.give_back(stack);
    drop(pool);
    assert!(!overflow::is_corio_guard_page(guard));
}

#[test]
fn stacks_beyond_the_warm_limit_release_their_memory() {
    let mut pool = StackPool::new();
    let stacks: Vec<_> = (0..WARM_STACKS_PER_SIZE + 10)
        .map(|task| pool.take(DEFAULT_STACK_SIZE, task as u64, None).unwrap())
        .collect();
    let tops: Vec<usize> = stacks.iter().map(|stack| stack.base().get() - 16).collect();
    stacks.iter().for_each(touch_top_page);
    stacks.into_iter().for_each(|stack| pool.give_back(stack));

    assert!(
        tops[..WARM_STACKS_PER_SIZE]
            .iter()
            .all(|&top| resident(top))
    );
    assert!(
        tops[WARM_STACKS_PER_SIZE..]
            .iter()
            .all(|&top| !resident(top))
    );
    assert_eq!(pool.pooled(), WARM_STACKS_PER_SIZE + 10);
}

#[test]
fn stack_sizes_are_rounded_to_pages() {
    let page = stack::page_size();
    assert_eq!(validate_stack_size(MIN_STACK_SIZE).unwrap(), MIN_STACK_SIZE);
    assert_eq!(
        validate_stack_size(MIN_STACK_SIZE + 1).unwrap(),
        MIN_STACK_SIZE + page
    );
    assert_eq!(validate_stack_size(MAX_STACK_SIZE).unwrap(), MAX_STACK_SIZE);
}

#[test]
fn bad_stack_sizes_are_invalid_input_naming_the_range() {
    for (bytes, shown, advice) in [
        (0, "stack size 0 ", "leave it unset"),
        (
            1000,
            "stack size 1000 bytes is too small",
            "at least 32 KiB",
        ),
        (
            MIN_STACK_SIZE - 1,
            "stack size 32767 bytes is too small",
            "at least 32 KiB",
        ),
        (
            MAX_STACK_SIZE + 1,
            "stack size 1073741825 bytes is too large",
            "at most 1 GiB",
        ),
        (usize::MAX, "is too large", "at most 1 GiB"),
    ] {
        let error = validate_stack_size(bytes).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{bytes}");
        let message = error.to_string();
        assert!(message.contains(shown), "{message}");
        assert!(message.contains("between 32 KiB and 1 GiB"), "{message}");
        assert!(message.contains(advice), "{message}");
    }
}

#[test]
fn take_rejects_bad_sizes() {
    let mut pool = StackPool::new();
    let error = pool.take(0, 1, None).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert_eq!(pool.carved(), 0);
}
