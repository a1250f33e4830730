//! The stack pool: reuse, size classes, labels, guard registration, memory
//! release (the hot set, batches, unmapping after a large drop), batched
//! population of new stacks and its fallback, and stack-size validation.

mod util;

use std::io::ErrorKind;

use corio::stack::overflow;
use corio::stack::{
    self, DEFAULT_STACK_SIZE, MAX_STACK_SIZE, MIN_STACK_SIZE, POPULATE_BATCH, PooledStack,
    PopulateKind, RELEASE_BATCH, StackPool, WARM_STACKS_PER_SIZE, validate_stack_size,
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
fn the_oldest_idle_stacks_release_their_memory_in_one_batch() {
    let mut pool = StackPool::new();
    let count = WARM_STACKS_PER_SIZE + RELEASE_BATCH;
    let stacks: Vec<_> = (0..count)
        .map(|task| pool.take(DEFAULT_STACK_SIZE, task as u64, None).unwrap())
        .collect();
    let tops: Vec<usize> = stacks.iter().map(|stack| stack.base().get() - 16).collect();
    stacks.iter().for_each(touch_top_page);
    // Given back in order: the first RELEASE_BATCH are the oldest.
    stacks.into_iter().for_each(|stack| pool.give_back(stack));

    assert!(tops[..RELEASE_BATCH].iter().all(|&top| !resident(top)));
    assert!(tops[RELEASE_BATCH..].iter().all(|&top| resident(top)));
    let stats = pool.stats();
    assert_eq!(stats.pooled, count);
    assert_eq!(stats.pooled_released, RELEASE_BATCH);
    assert_eq!(stats.released, RELEASE_BATCH as u64);
    match stack::populate_kind() {
        // The kernel takes advice from `process_madvise` for itself: one call.
        PopulateKind::Batched => assert_eq!(stats.release_calls, 1),
        PopulateKind::OnTouch => assert!(stats.release_calls <= RELEASE_BATCH as u64),
    }
    // The next take is the warmest stack, not a released one.
    let again = pool.take(DEFAULT_STACK_SIZE, 0, None).unwrap();
    assert_eq!(again.base().get() - 16, tops[count - 1]);
}

/// One round of a working set of `count` default-size stacks: all taken,
/// each written on its top page, all given back.
fn take_touch_and_give_back(pool: &mut StackPool, count: usize) {
    let stacks: Vec<_> = (0..count)
        .map(|task| pool.take(DEFAULT_STACK_SIZE, task as u64, None).unwrap())
        .collect();
    stacks.iter().for_each(touch_top_page);
    stacks.into_iter().for_each(|stack| pool.give_back(stack));
}

#[test]
fn a_working_set_within_the_hot_set_makes_no_release_call() {
    let mut pool = StackPool::new();
    for _round in 0..50 {
        take_touch_and_give_back(&mut pool, WARM_STACKS_PER_SIZE);
    }
    let stats = pool.stats();
    assert_eq!(stats.carved, WARM_STACKS_PER_SIZE, "every round reuses");
    assert_eq!((stats.release_calls, stats.released), (0, 0));
}

#[test]
fn ten_thousand_stacks_given_back_cost_a_few_dozen_release_calls() {
    let mut pool = StackPool::new();
    const STACKS: usize = 10_000;
    for _round in 0..2 {
        take_touch_and_give_back(&mut pool, STACKS);
    }
    let stats = pool.stats();
    // Every stack beyond the hot set and the batch in the making, each
    // round: (10,000 - 256) / 256 = 38 batches.
    assert!(stats.released >= 2 * 38 * RELEASE_BATCH as u64, "{stats:?}");
    if stack::populate_kind() == PopulateKind::Batched {
        assert!(stats.release_calls <= 2 * 39, "{stats:?}");
    } else {
        assert_eq!(stats.release_calls, stats.released, "{stats:?}");
    }
}

#[test]
fn a_large_drop_unmaps_chunks_whose_stacks_are_all_free() {
    // In a child process of its own: the map count would move with the
    // pools of the tests running beside it.
    const NAME: &str = "a_large_drop_unmaps_chunks_whose_stacks_are_all_free";
    if !util::is_child(NAME) {
        let (_, stderr) = util::run_child_ok(NAME, &[]);
        assert!(stderr.contains("/proc/self/maps:"), "{stderr}");
        return;
    }
    let before = util::map_count();
    let mut pool = StackPool::new();
    const STACKS: usize = 20_000;
    let stacks: Vec<_> = (0..STACKS)
        .map(|task| pool.take(DEFAULT_STACK_SIZE, task as u64, None).unwrap())
        .collect();
    stacks.iter().for_each(touch_top_page);
    let first_guard = stacks[0].limit().get();
    let warm_top = stacks[STACKS - 1].base().get() - 16;
    let during = util::map_count();
    stacks.into_iter().for_each(|stack| pool.give_back(stack));

    // Over the drop, without a trim: most chunks went.
    let stats = pool.stats();
    assert!(
        stats.chunks_unmapped * 2 >= stats.chunks_mapped,
        "{stats:?}"
    );
    assert!(stats.pooled < STACKS / 2, "{stats:?}");
    assert!(!overflow::is_corio_guard_page(first_guard));

    // A trim leaves the hot set and the chunks it lives in.
    pool.trim();
    let stats = pool.stats();
    assert_eq!(stats.pooled - stats.pooled_released, WARM_STACKS_PER_SIZE);
    assert!(stats.pooled < 2 * WARM_STACKS_PER_SIZE + 252, "{stats:?}");
    assert!(resident(warm_top), "the hot set keeps its pages");
    let after = util::map_count();
    eprintln!("/proc/self/maps: {before} before, {during} with {STACKS} stacks, {after} after");
    assert!(after <= before + 6, "{before} maps before, {after} after");
    // The stacks come back from the hot set first, then from new chunks.
    let again: Vec<_> = (0..STACKS)
        .map(|task| pool.take(DEFAULT_STACK_SIZE, task as u64, None).unwrap())
        .collect();
    assert_eq!(again.len(), STACKS);
}

#[test]
fn new_stacks_in_a_burst_have_their_top_pages_populated_ahead() {
    if stack::populate_kind() != PopulateKind::Batched {
        eprintln!("skipped: this kernel cannot populate in batches (Linux 6.13+)");
        return;
    }
    let mut pool = StackPool::new();
    let page = stack::page_size();
    // Past the first batch, inside the first chunk (252 default slots).
    let stacks: Vec<_> = (0..POPULATE_BATCH + 1)
        .map(|task| pool.take(DEFAULT_STACK_SIZE, task as u64, None).unwrap())
        .collect();
    let stats = pool.stats();
    assert_eq!(stats.populate_calls, 1, "{stats:?}");
    assert_eq!(stats.populated, POPULATE_BATCH as u64, "{stats:?}");
    // The next slot, not taken yet: its top page is in memory (its top two
    // in a debug build), and no other page of it.
    let slot_size = page + DEFAULT_STACK_SIZE;
    let next_slot = stacks.last().unwrap().limit().get() + slot_size;
    let populated = if cfg!(debug_assertions) { 2 } else { 1 };
    for depth in 1..=populated {
        assert!(resident(next_slot + slot_size - depth * page));
    }
    assert!(!resident(next_slot + slot_size - (populated + 1) * page));
}

#[test]
fn without_batched_population_new_stacks_fault_in_on_touch() {
    const NAME: &str = "without_batched_population_new_stacks_fault_in_on_touch";
    if util::is_child(NAME) {
        stack::force_populate_kind(PopulateKind::OnTouch).expect("nothing probed yet");
        let mut pool = StackPool::new();
        let page = stack::page_size();
        let stacks: Vec<_> = (0..POPULATE_BATCH + 1)
            .map(|task| pool.take(DEFAULT_STACK_SIZE, task as u64, None).unwrap())
            .collect();
        let stats = pool.stats();
        assert_eq!((stats.populate_calls, stats.populated), (0, 0));
        let slot_size = page + DEFAULT_STACK_SIZE;
        let next_slot = stacks.last().unwrap().limit().get() + slot_size;
        assert!(!resident(next_slot + slot_size - page));
        // A coroutine still runs on such a stack.
        let stack = pool.take(DEFAULT_STACK_SIZE, 99, None).unwrap();
        let mut coroutine = Coroutine::<u32, (), u32, _>::with_stack(stack, |_, x| x + 1);
        assert!(matches!(coroutine.resume(1), CoroutineResult::Return(2)));
        eprintln!("on-touch path checked");
        return;
    }
    let (_, stderr) = util::run_child_ok(NAME, &[]);
    assert!(stderr.contains("on-touch path checked"), "{stderr}");
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
