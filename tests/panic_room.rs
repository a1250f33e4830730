//! A panic near the end of a coroutine's stack, with backtraces on, is a
//! panic like any other: `join` gets `Err`, the report and its backtrace
//! reach stderr, and the process goes on. Each case plays out in a child
//! process, so that an abort (the way this used to end: std's panic hook
//! walking and symbolising the stack on the coroutine's last few KiB) is
//! seen as the child's exit status instead of killing the test run.
//!
//! `CORIO_TEST_STACK_SIZE` and `CORIO_TEST_STACK_USED` (bytes) run a case's
//! child on other numbers, for measuring where a panic stops fitting:
//!
//! ```text
//! CORIO_TEST_CHILD_ROLE=a_panic_near_the_end_of_a_32_kib_stack_is_caught \
//!   CORIO_TEST_STACK_USED=20000 RUST_BACKTRACE=1 \
//!   target/debug/deps/panic_room-<hash> --exact \
//!   a_panic_near_the_end_of_a_32_kib_stack_is_caught --nocapture
//! ```

mod util;

use std::hint::black_box;

/// Bytes one level of [`spend_then_panic`] adds to the stack, at least.
const FRAME: usize = 512;

/// Recurses until the stack below `top` (the address of a local near the
/// start of the coroutine) reaches `used` bytes, then panics with
/// `message`. Returns the bytes used, measured, at the panic.
#[inline(never)]
fn spend_then_panic(top: usize, used: usize, message: &str) -> usize {
    let mut frame = [0u8; FRAME];
    frame[0] = message.len() as u8;
    let here = black_box(&mut frame).as_ptr() as usize;
    let spent = top - here;
    if spent >= used {
        // The child reads this back from stderr: the panic came at this depth.
        eprintln!("child: panicking with {spent} bytes of stack used");
        panic!("{message}");
    }
    spend_then_panic(top, used, message) + usize::from(black_box(frame)[1])
}

/// A byte count from the environment variable `name`, or `default`.
fn bytes_from_env(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a byte count")),
        Err(_) => default,
    }
}

/// The child's part: a coroutine named `near-the-end` on a stack of `size`
/// bytes uses `used` of them and panics; its join must give that panic back.
fn child(size: usize, used: usize) {
    let size = bytes_from_env("CORIO_TEST_STACK_SIZE", size);
    let used = bytes_from_env("CORIO_TEST_STACK_USED", used);
    let message = corio::run(move || {
        let handle = corio::thread::Builder::new()
            .name("near-the-end".into())
            .stack_size(size)
            .spawn(move || -> usize {
                let top = [0u8; 16];
                let top = black_box(&top).as_ptr() as usize;
                spend_then_panic(top, used, "boom near the end of the stack")
            })
            .expect("the size is accepted");
        let payload = handle.join().expect_err("the coroutine panicked");
        util::panic_text(&*payload)
    });
    // At most this much was left below the panic: the coroutine's first
    // frame already sat below the top of its stack.
    println!("left at most {} bytes", size.saturating_sub(used));
    println!("joined: Err({message:?})");
}

/// Plays `test` in a child with `RUST_BACKTRACE=backtrace` and checks that
/// it exited 0 with the panic caught, reported with its coroutine's name,
/// and followed by a backtrace; returns the bytes used at the panic.
fn check(test: &str, backtrace: &str) -> usize {
    let (out, err) = util::run_child_ok(test, &[("RUST_BACKTRACE", backtrace)]);
    assert!(
        out.contains("joined: Err(\"boom near the end of the stack\")"),
        "join gave the panic back (RUST_BACKTRACE={backtrace}):\n{out}\n{err}"
    );
    assert!(
        err.contains("corio: panic in coroutine") && err.contains("'near-the-end'"),
        "the report names the coroutine (RUST_BACKTRACE={backtrace}):\n{err}"
    );
    assert!(
        err.contains("boom near the end of the stack"),
        "the report has the message (RUST_BACKTRACE={backtrace}):\n{err}"
    );
    assert!(
        err.contains("stack backtrace:"),
        "a backtrace was printed (RUST_BACKTRACE={backtrace}):\n{err}"
    );
    // The walk reached the coroutine's own frames, on its own stack.
    assert!(
        err.contains("spend_then_panic"),
        "the backtrace shows the panicking function (RUST_BACKTRACE={backtrace}):\n{err}"
    );
    err.lines()
        .find_map(|line| line.strip_prefix("child: panicking with "))
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the child said how deep it was:\n{err}"))
}

#[test]
fn a_panic_near_the_end_of_a_32_kib_stack_is_caught() {
    const NAME: &str = "a_panic_near_the_end_of_a_32_kib_stack_is_caught";
    // The smallest size accepted, with 24 KiB of it used: less than 8 KiB
    // left, where std's hook alone needs 20 KiB or more.
    assert_eq!(corio::stack::MIN_STACK_SIZE, 32 * 1024);
    if util::is_child(NAME) {
        return child(32 * 1024, 24 * 1024);
    }
    for backtrace in ["1", "full"] {
        let used = check(NAME, backtrace);
        assert!(used >= 24 * 1024, "used {used} bytes");
    }
}

#[test]
fn a_panic_with_44_kib_used_of_64_kib_is_caught() {
    const NAME: &str = "a_panic_with_44_kib_used_of_64_kib_is_caught";
    if util::is_child(NAME) {
        return child(64 * 1024, 44 * 1024);
    }
    for backtrace in ["1", "full"] {
        let used = check(NAME, backtrace);
        assert!(used >= 44 * 1024, "used {used} bytes");
    }
}

#[test]
fn panics_short_of_room_on_several_runtimes_at_once_are_all_caught() {
    // Each thread has a spare stack of its own, reused from one panic to
    // the next: two runtimes on two threads, each with three coroutines
    // that panic on their last few KiB, one after the other.
    const NAME: &str = "panics_short_of_room_on_several_runtimes_at_once_are_all_caught";
    const PER_RUNTIME: usize = 3;
    if util::is_child(NAME) {
        let caught: usize = std::thread::scope(|scope| {
            let runtimes: Vec<_> = (0..2)
                .map(|_| {
                    scope.spawn(|| {
                        corio::run(|| {
                            let handles: Vec<_> = (0..PER_RUNTIME)
                                .map(|_| {
                                    corio::thread::Builder::new()
                                        .name("near-the-end".into())
                                        .stack_size(32 * 1024)
                                        .spawn(|| -> usize {
                                            let top = [0u8; 16];
                                            let top = black_box(&top).as_ptr() as usize;
                                            corio::yield_now();
                                            spend_then_panic(
                                                top,
                                                24 * 1024,
                                                "boom near the end of the stack",
                                            )
                                        })
                                        .expect("the size is accepted")
                                })
                                .collect();
                            handles
                                .into_iter()
                                .map(|handle| usize::from(handle.join().is_err()))
                                .sum::<usize>()
                        })
                    })
                })
                .collect();
            runtimes.into_iter().map(|t| t.join().unwrap()).sum()
        });
        println!("caught {caught} panics");
        return;
    }
    for backtrace in ["1", "full"] {
        let (out, err) = util::run_child_ok(NAME, &[("RUST_BACKTRACE", backtrace)]);
        assert!(
            out.contains(&format!("caught {} panics", 2 * PER_RUNTIME)),
            "every panic came back from join (RUST_BACKTRACE={backtrace}):\n{out}\n{err}"
        );
        assert_eq!(
            err.matches("stack backtrace:").count(),
            2 * PER_RUNTIME,
            "one backtrace per panic (RUST_BACKTRACE={backtrace}):\n{err}"
        );
    }
}
