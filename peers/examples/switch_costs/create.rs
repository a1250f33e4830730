//! Creation workloads: start a unit of execution that does nothing, wait for it
//! to end, `count` times in a row. Only the loop is timed; building a runtime
//! around it is not.

use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::os;

/// Times `count` calls of `spawn_join` on this thread.
fn timed(count: u64, mut spawn_join: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..count {
        spawn_join();
    }
    start.elapsed()
}

/// `corio::spawn` + `JoinHandle::join` from inside a running corio runtime,
/// with the default stack size.
pub fn corio_spawn_join(count: u64) -> Duration {
    corio::run(move || {
        timed(count, || {
            let handle = corio::spawn(|| black_box(1u64));
            black_box(handle.join().expect("an empty coroutine does not panic"));
        })
    })
}

/// `std::thread::spawn` + `join`, with std's default stack size.
pub fn thread_spawn_join(count: u64) -> Duration {
    timed(count, || {
        let handle = std::thread::spawn(|| black_box(1u64));
        black_box(handle.join().expect("an empty thread does not panic"));
    })
}

/// `Command::spawn` of this executable (which exits at once) + `wait`.
pub fn process_spawn_wait(count: u64) -> Duration {
    let mut command = os::child_command(&[os::CHILD_EXIT]);
    timed(count, || {
        let status = command
            .status()
            .expect("re-running this executable as an exit child");
        assert!(status.success(), "the exit child failed: {status}");
    })
}

/// `tokio::spawn` + `.await` of the `JoinHandle` inside `block_on` of a
/// current-thread runtime.
pub fn tokio_spawn_join(count: u64) -> Duration {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("building a tokio current-thread runtime");
    runtime.block_on(async move {
        let start = Instant::now();
        for _ in 0..count {
            let handle = tokio::spawn(async { black_box(1u64) });
            black_box(handle.await.expect("an empty task does not panic"));
        }
        start.elapsed()
    })
}

/// `may::coroutine::spawn` + `join` from inside a may coroutine, one worker.
pub fn may_spawn_join(count: u64) -> Duration {
    crate::handoff::configure_may();
    // SAFETY: see `may_spawn_join_loop`; the driver itself only runs that loop.
    let driver = unsafe { may::coroutine::spawn(move || may_spawn_join_loop(count)) };
    driver
        .join()
        .expect("the may driver coroutine does not panic")
}

/// The timed loop of `may_spawn_join`, run inside a may coroutine so that
/// `join` suspends a coroutine instead of blocking a thread.
fn may_spawn_join_loop(count: u64) -> Duration {
    timed(count, || {
        // SAFETY: may's `spawn` is unsafe because a coroutine that touches
        // thread-locals may see another thread's after it migrates, and because
        // a stack overflow is not caught. With one worker nothing migrates, and
        // this body uses a few bytes of may's default stack.
        let handle = unsafe { may::coroutine::spawn(|| black_box(1u64)) };
        black_box(handle.join().expect("an empty coroutine does not panic"));
    })
}
