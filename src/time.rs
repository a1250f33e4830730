//! Sleeping: suspending a coroutine until a point in time.

use std::time::{Duration, Instant};

use crate::context;
use crate::scheduler::Suspend;

/// Suspends the calling coroutine for at least `duration`; the OS thread
/// goes on running the other coroutines meanwhile.
///
/// Sleeps with equal deadlines end in the order they began. A zero duration
/// returns at once without switching (use [`yield_now`](crate::yield_now) to
/// let others run).
///
/// # Panics
///
/// Panics if called outside a corio coroutine (with a nonzero duration).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let elapsed = corio::run(|| {
///     let start = Instant::now();
///     let sleepers: Vec<_> = (0..100)
///         .map(|_| corio::spawn(|| corio::sleep(Duration::from_millis(20))))
///         .collect();
///     for s in sleepers {
///         s.join().unwrap();
///     }
///     start.elapsed()
/// });
/// // 100 sleeps of 20 ms overlapped on one thread.
/// assert!(elapsed < Duration::from_millis(20 * 100));
/// ```
pub fn sleep(duration: Duration) {
    if duration.is_zero() {
        return;
    }
    sleep_until(Instant::now() + duration);
}

/// Suspends the calling coroutine until `deadline` (returns at once if it
/// has passed).
///
/// # Panics
///
/// Panics if called outside a corio coroutine (with a future deadline).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// corio::run(|| {
///     let deadline = Instant::now() + Duration::from_millis(5);
///     corio::sleep_until(deadline);
///     assert!(Instant::now() >= deadline);
/// });
/// ```
pub fn sleep_until(deadline: Instant) {
    // Loop: a stray wake-up (a stale id held by some channel) must not cut
    // the sleep short.
    while Instant::now() < deadline {
        context::suspend("corio::sleep", Suspend::Sleep(deadline));
    }
}
