//! Faults, each played out in a child process: a coroutine overflowing its
//! pooled stack is reported by name and aborts; other faults still end the
//! way they would without corio.

mod util;

use std::os::unix::process::ExitStatusExt;
use std::process::Output;

use corio::stack::overflow;
use corio::stack::{self, DEFAULT_STACK_SIZE, GuardKind, StackPool};
use corosensei::Coroutine;

/// Recurses until the stack runs out; the 1 KiB frame cannot be optimised
/// away or turned into a loop.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 1024];
    frame[0] = depth as u8;
    std::hint::black_box(&mut frame);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + u64::from(std::hint::black_box(frame)[1])
}

/// Overflows a coroutine running on a pooled stack of `size` bytes.
fn overflow_a_coroutine(size: usize, task: u64, name: Option<&str>) -> ! {
    let mut pool = StackPool::new();
    let stack = pool
        .take(size, task, name)
        .expect("one stack can be carved");
    let mut coroutine = Coroutine::<(), (), u64, _>::with_stack(stack, |_, ()| recurse(0));
    coroutine.resume(());
    unreachable!("the overflow must have aborted this process");
}

/// The child's stderr, as text.
fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Plays `test_name` in a child process, asserts the child died of
/// `signal`, and returns what it printed on stderr.
fn stderr_of_child_killed_by(test_name: &str, signal: libc::c_int) -> String {
    let output = util::run_child(test_name);
    assert_killed_by(&output, signal);
    stderr(&output)
}

/// Asserts the child died of `signal`.
fn assert_killed_by(output: &Output, signal: libc::c_int) {
    assert_eq!(
        output.status.signal(),
        Some(signal),
        "child ended with {:?}; its stderr:\n{}",
        output.status,
        stderr(output)
    );
}

#[test]
fn coroutine_overflow_names_the_task_and_aborts() {
    const NAME: &str = "coroutine_overflow_names_the_task_and_aborts";
    if util::is_child(NAME) {
        overflow::install();
        overflow_a_coroutine(DEFAULT_STACK_SIZE, 17, Some("worker-3"));
    }
    let text = stderr_of_child_killed_by(NAME, libc::SIGABRT);
    assert!(
        text.contains("corio: coroutine 'worker-3' (task 17) overflowed its 256 KiB stack."),
        "{text}"
    );
    assert!(text.contains("corio::task::Builder::stack_size"), "{text}");
    assert!(text.contains("(the default is 256 KiB)"), "{text}");
}

/// Overflows the `nth` stack taken from one pool, in a child process
/// playing `name`, and checks it was reported by name. Guard pages are
/// installed 64 slots at a time, so the 2nd and the 66th stack of a pool
/// come from the first and the second batch.
fn overflow_the_nth_stack(name: &str, nth: u64) {
    if util::is_child(name) {
        overflow::install();
        let mut pool = StackPool::new();
        let _taken: Vec<_> = (1..nth)
            .map(|task| pool.take(DEFAULT_STACK_SIZE, task, None).unwrap())
            .collect();
        let stack = pool.take(DEFAULT_STACK_SIZE, nth, Some("late")).unwrap();
        let mut coroutine = Coroutine::<(), (), u64, _>::with_stack(stack, |_, ()| recurse(0));
        coroutine.resume(());
        unreachable!("the overflow must have aborted this process");
    }
    let text = stderr_of_child_killed_by(name, libc::SIGABRT);
    assert!(
        text.contains(&format!("corio: coroutine 'late' (task {nth}) overflowed")),
        "{text}"
    );
}

#[test]
fn the_second_stack_of_a_guard_batch_has_its_guard() {
    overflow_the_nth_stack("the_second_stack_of_a_guard_batch_has_its_guard", 2);
}

#[test]
fn a_stack_of_the_second_guard_batch_has_its_guard() {
    overflow_the_nth_stack("a_stack_of_the_second_guard_batch_has_its_guard", 66);
}

#[test]
fn overflow_of_a_small_stack_with_a_long_name_is_reported() {
    const NAME: &str = "overflow_of_a_small_stack_with_a_long_name_is_reported";
    if util::is_child(NAME) {
        let long_name = format!("{}-and-then-some", "ü".repeat(19));
        overflow_a_coroutine(48 * 1024, 99_000_000_001, Some(&long_name));
    }
    let text = stderr_of_child_killed_by(NAME, libc::SIGABRT);
    // 19 two-byte characters and "-a" fill the 40 name bytes.
    let expected = format!(
        "'{}-a...' (task 99000000001) overflowed its 48 KiB stack",
        "ü".repeat(19)
    );
    assert!(text.contains(&expected), "{text}");
}

#[test]
fn unnamed_coroutine_overflow_is_reported() {
    const NAME: &str = "unnamed_coroutine_overflow_is_reported";
    if util::is_child(NAME) {
        overflow_a_coroutine(DEFAULT_STACK_SIZE, 5, None);
    }
    let text = stderr_of_child_killed_by(NAME, libc::SIGABRT);
    assert!(
        text.contains("coroutine <unnamed> (task 5) overflowed its 256 KiB stack"),
        "{text}"
    );
}

#[test]
fn overflow_is_reported_on_a_thread_that_had_no_signal_stack() {
    const NAME: &str = "overflow_is_reported_on_a_thread_that_had_no_signal_stack";
    if util::is_child(NAME) {
        let disable = libc::stack_t {
            ss_sp: std::ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: not running on the signal stack; install() makes a new one.
        assert_eq!(
            unsafe { libc::sigaltstack(&disable, std::ptr::null_mut()) },
            0
        );
        overflow::install();
        overflow_a_coroutine(DEFAULT_STACK_SIZE, 8, Some("no-altstack"));
    }
    let text = stderr_of_child_killed_by(NAME, libc::SIGABRT);
    assert!(
        text.contains("'no-altstack' (task 8) overflowed its"),
        "{text}"
    );
}

#[test]
fn overflow_is_reported_with_mprotect_guards() {
    const NAME: &str = "overflow_is_reported_with_mprotect_guards";
    if util::is_child(NAME) {
        stack::force_guard_kind(GuardKind::Mprotect).expect("nothing carved a stack yet");
        // Each mprotect guard splits the arena: the fallback really is in use.
        let mut pool = StackPool::new();
        let before = util::map_count();
        let stacks: Vec<_> = (0..100)
            .map(|task| pool.take(DEFAULT_STACK_SIZE, task, None).unwrap())
            .collect();
        assert!(
            util::map_count() - before >= 100,
            "mprotect guards split the arena"
        );
        drop(stacks);
        overflow_a_coroutine(DEFAULT_STACK_SIZE, 3, Some("old-kernel"));
    }
    let text = stderr_of_child_killed_by(NAME, libc::SIGABRT);
    assert!(
        text.contains("'old-kernel' (task 3) overflowed its 256 KiB stack"),
        "{text}"
    );
}

#[test]
fn other_segfaults_still_kill_with_sigsegv() {
    const NAME: &str = "other_segfaults_still_kill_with_sigsegv";
    if util::is_child(NAME) {
        overflow::install();
        // A page nobody may touch, like a guard page, but not corio's.
        // SAFETY: a fresh anonymous mapping aliases nothing.
        let page = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                stack::page_size(),
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(page, libc::MAP_FAILED);
        assert!(!overflow::is_corio_guard_page(page as usize));
        // SAFETY: deliberately faults; that is the scenario under test.
        unsafe { std::ptr::write_volatile(page.cast::<u8>(), 1) };
        unreachable!("writing to a PROT_NONE page must fault");
    }
    let text = stderr_of_child_killed_by(NAME, libc::SIGSEGV);
    assert!(!text.contains("corio:"), "{text}");
}

#[test]
fn native_thread_overflow_keeps_std_message() {
    const NAME: &str = "native_thread_overflow_keeps_std_message";
    if util::is_child(NAME) {
        overflow::install();
        let _pool = StackPool::new();
        let thread = std::thread::Builder::new()
            .name("native-deep".into())
            .stack_size(128 * 1024)
            .spawn(|| recurse(0))
            .expect("a thread can be spawned");
        let _ = thread.join();
        unreachable!("the overflow must have aborted this process");
    }
    let text = stderr_of_child_killed_by(NAME, libc::SIGABRT);
    // std prints "thread 'native-deep' (<tid>) has overflowed its stack".
    assert!(text.contains("thread 'native-deep'"), "{text}");
    assert!(text.contains("has overflowed its stack"), "{text}");
    assert!(!text.contains("corio:"), "{text}");
}

#[test]
fn a_thread_without_a_signal_stack_gets_one_until_it_exits() {
    const NAME: &str = "a_thread_without_a_signal_stack_gets_one_until_it_exits";
    if util::is_child(NAME) {
        fn current_signal_stack() -> libc::stack_t {
            // SAFETY: all-zero is a valid stack_t; a null new stack only queries.
            let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
            // SAFETY: as above.
            assert_eq!(
                unsafe { libc::sigaltstack(std::ptr::null(), &mut current) },
                0
            );
            current
        }
        let signal_stack = std::thread::spawn(|| {
            let disable = libc::stack_t {
                ss_sp: std::ptr::null_mut(),
                ss_flags: libc::SS_DISABLE,
                ss_size: 0,
            };
            // SAFETY: not running on the signal stack.
            assert_eq!(
                unsafe { libc::sigaltstack(&disable, std::ptr::null_mut()) },
                0
            );
            overflow::install();
            let current = current_signal_stack();
            assert_eq!(current.ss_flags & libc::SS_DISABLE, 0, "install() made one");
            assert_eq!(current.ss_size, 64 * 1024);
            current.ss_sp as usize
        })
        .join()
        .expect("the thread's assertions hold");
        // mincore fails with ENOMEM on memory that is not mapped.
        let mut vector = 0u8;
        // SAFETY: mincore only reports on the page; it never touches it.
        let result = unsafe { libc::mincore(signal_stack as *mut _, 1, &mut vector) };
        assert_eq!(result, -1, "the signal stack is unmapped at thread exit");
        eprintln!("child: signal stack freed");
        return;
    }
    let output = util::run_child(NAME);
    assert!(output.status.success(), "child failed: {}", stderr(&output));
    assert!(stderr(&output).contains("child: signal stack freed"));
}

#[test]
fn a_corio_task_that_overflows_is_named_in_the_report() {
    const NAME: &str = "a_corio_task_that_overflows_is_named_in_the_report";
    if util::is_child(NAME) {
        corio::run(|| {
            let h = corio::task::Builder::new()
                .name("deep-worker".into())
                .stack_size(64 * 1024)
                .spawn(|| recurse(0))
                .unwrap();
            eprintln!("spawned {}", h.id());
            h.join().ok();
        });
        unreachable!("the overflow must have aborted this process");
    }
    let err = stderr_of_child_killed_by(NAME, libc::SIGABRT);
    // The root is task 1, so the worker is task 2.
    assert!(err.contains("spawned task 2"), "{err}");
    assert!(
        err.contains("coroutine 'deep-worker' (task 2) overflowed its 64 KiB stack"),
        "{err}"
    );
    assert!(err.contains("stack_size"), "says how to raise it: {err}");
}

#[test]
fn a_panic_with_full_backtraces_fits_on_the_smallest_stack() {
    // std's panic hook with RUST_BACKTRACE=full walks and symbolises the
    // stack, which needs more room than the smallest stack leaves; corio
    // runs it on the thread's spare stack there (src/stack/spare.rs), or a
    // plain panic would end in an overflow report and an abort.
    // tests/panic_room.rs does the same with most of the stack used.
    const NAME: &str = "a_panic_with_full_backtraces_fits_on_the_smallest_stack";
    if util::is_child(NAME) {
        let size = std::env::var("CORIO_TEST_STACK_SIZE")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(stack::MIN_STACK_SIZE);
        let message = corio::run(move || {
            let smallest = corio::task::Builder::new()
                .name("smallest".into())
                .stack_size(size)
                .spawn(|| -> () { panic!("boom on the smallest stack") })
                .expect("the smallest size is accepted");
            let payload = smallest.join().unwrap_err();
            payload.downcast_ref::<&str>().map(|s| s.to_string())
        });
        println!("joined: {message:?}");
        return;
    }
    let (out, err) = util::run_child_ok(NAME, &[("RUST_BACKTRACE", "full")]);
    assert!(
        out.contains("joined: Some(\"boom on the smallest stack\")"),
        "{out}"
    );
    assert!(err.contains("boom on the smallest stack"), "{err}");
    assert!(
        err.contains("stack backtrace:"),
        "the full backtrace was printed: {err}"
    );
}
