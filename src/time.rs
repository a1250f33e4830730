//! Sleeping: suspending a coroutine until a point in time.

use std::time::{Duration, Instant};

use crate::scheduler::{self, Blocker, Suspend};

/// Suspends the calling coroutine for at least `duration`; the OS thread
/// goes on running the other coroutines meanwhile.
///
/// Sleeps with equal deadlines end in the order they began. A zero duration
/// returns at once without switching (use [`yield_now`](crate::yield_now) to
/// let others run). A duration too long for an [`Instant`] to hold, such as
/// [`Duration::MAX`], sleeps forever, as `std::thread::sleep` does: the
/// deadlock report names such a coroutine "sleeping forever" if nothing else
/// can run.
///
/// # Coroutines
///
/// Where no coroutine can wait, it returns at once: while the runtime is
/// shutting down (a destructor of a coroutine being unwound) and in code the
/// scheduler itself runs (a `log` backend).
///
/// # Panics
///
/// Panics if called outside a corio runtime (with a nonzero duration).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use std::{cell::Cell, rc::Rc};
///
/// let all_woke_first = corio::run(|| {
///     let woken = Rc::new(Cell::new(0));
///     let sleepers: Vec<_> = (0..100)
///         .map(|_| {
///             let woken = woken.clone();
///             corio::spawn(move || {
///                 corio::sleep(Duration::from_millis(20));
///                 woken.set(woken.get() + 1);
///             })
///         })
///         .collect();
///     // The sleeps overlap on one thread: all 100 end before one sleep of
///     // 100 ms that began before they did, however busy the machine is.
///     corio::sleep(Duration::from_millis(100));
///     let all = woken.get() == 100;
///     for s in sleepers {
///         s.join().unwrap();
///     }
///     all
/// });
/// assert!(all_woke_first);
/// ```
#[track_caller]
pub fn sleep(duration: Duration) {
    if duration.is_zero() {
        return;
    }
    match Instant::now().checked_add(duration) {
        Some(deadline) => sleep_until(deadline),
        None => sleep_forever(),
    }
}

/// `sleep(Duration::MAX)`: parks with no deadline. Only the runtime's end
/// (or a deadlock report) stops it; a stray wake-up parks again.
#[track_caller]
fn sleep_forever() {
    while scheduler::suspend("corio::sleep", Suspend::Park(Blocker::SleepForever)).is_ok() {}
}

/// Suspends the calling coroutine until `deadline` (returns at once if it
/// has passed).
///
/// # Coroutines
///
/// Returns at once where no coroutine can wait, as [`sleep`] does.
///
/// # Panics
///
/// Panics if called outside a corio runtime (with a future deadline).
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
#[track_caller]
pub fn sleep_until(deadline: Instant) {
    // Loop: a stray wake-up (a stale id held by some channel) must not cut
    // the sleep short.
    while Instant::now() < deadline {
        if scheduler::suspend("corio::sleep", Suspend::Sleep(deadline)).is_err() {
            return;
        }
    }
}
