//! Time for coroutines: sleeping (suspending a coroutine until a point in
//! time) and [`Instant`], `std::time::Instant` read from the runtime's
//! clock.
//!
//! A runtime's clock is the real monotonic clock, unless it was built with
//! [`virtual_time`](crate::runtime::Builder::virtual_time): then it jumps
//! to the next timer whenever nothing else can happen first. Every timeout
//! in corio (sleeps, `recv_timeout`, `park_timeout`, `wait_timeout`,
//! `select!`, socket timeouts) is measured on it; [`Instant::now`] reads
//! it, where `std::time::Instant::now` reads the real clock.
//!
//! ```
//! use std::time::Duration;
//! use corio::time::Instant;
//!
//! corio::run(|| {
//!     let start = Instant::now();
//!     corio::time::sleep(Duration::from_millis(2));
//!     assert!(start.elapsed() >= Duration::from_millis(2));
//! });
//! ```

use std::fmt;
use std::ops::{Add, AddAssign, Sub, SubAssign};
use std::time::Duration;

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
    match scheduler::now().checked_add(duration) {
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
/// has passed), on the runtime's clock: a corio [`Instant`] or a
/// `std::time::Instant` (the two are the same on a real-time runtime; on a
/// virtual one, use corio's).
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
pub fn sleep_until(deadline: impl Into<std::time::Instant>) {
    let deadline = deadline.into();
    // Loop: a stray wake-up (a stale id held by some channel) must not cut
    // the sleep short.
    while scheduler::now() < deadline {
        if scheduler::suspend("corio::sleep", Suspend::Sleep(deadline)).is_err() {
            return;
        }
    }
}

/// A moment on the runtime's clock: `std::time::Instant`'s API, read with
/// [`Instant::now`] from the current runtime's clock (see the module docs),
/// or from the real clock outside a runtime.
///
/// On a runtime without [`virtual_time`](crate::runtime::Builder::virtual_time)
/// it is the same as std's; on one with it, it follows the clock's jumps.
/// Converts to and from `std::time::Instant` (`From`), which is what
/// corio's clock is made of: the real clock plus the jumps so far.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use corio::time::Instant;
///
/// let mut rt = corio::Runtime::builder().virtual_time(true).build()?;
/// rt.block_on(|| {
///     let start = Instant::now();
///     corio::sleep(Duration::from_secs(10));
///     let later = Instant::now();
///     assert!(later - start >= Duration::from_secs(10));
///     assert_eq!(later.duration_since(start), later - start);
///     assert!(start + Duration::from_secs(10) <= later);
/// });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(std::time::Instant);

impl Instant {
    /// Now, on the current runtime's clock (the real clock outside one).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = corio::time::Instant::now();
    /// let b = corio::time::Instant::now();
    /// assert!(b >= a);
    /// ```
    pub fn now() -> Instant {
        Instant(scheduler::now())
    }

    /// The time from `earlier` to this instant; zero if `earlier` is later
    /// (as std's, which saturates).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::time::Instant;
    /// let a = Instant::now();
    /// assert_eq!(a.duration_since(a + std::time::Duration::from_secs(1)), std::time::Duration::ZERO);
    /// ```
    pub fn duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// The time from `earlier` to this instant, or `None` if `earlier` is
    /// later.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::time::Instant;
    /// let a = Instant::now();
    /// assert_eq!(a.checked_duration_since(a), Some(std::time::Duration::ZERO));
    /// ```
    pub fn checked_duration_since(&self, earlier: Instant) -> Option<Duration> {
        self.0.checked_duration_since(earlier.0)
    }

    /// The time from `earlier` to this instant, or zero if `earlier` is
    /// later.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::time::Instant;
    /// let a = Instant::now();
    /// let b = a + std::time::Duration::from_millis(1);
    /// assert_eq!(a.saturating_duration_since(b), std::time::Duration::ZERO);
    /// ```
    pub fn saturating_duration_since(&self, earlier: Instant) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }

    /// The time since this instant, on the current runtime's clock.
    ///
    /// # Examples
    ///
    /// ```
    /// let start = corio::time::Instant::now();
    /// assert!(start.elapsed() < std::time::Duration::from_secs(3600));
    /// ```
    pub fn elapsed(&self) -> Duration {
        Instant::now().duration_since(*self)
    }

    /// This instant plus `duration`, or `None` if that does not fit.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = corio::time::Instant::now();
    /// assert!(a.checked_add(std::time::Duration::MAX).is_none());
    /// ```
    pub fn checked_add(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_add(duration).map(Instant)
    }

    /// This instant minus `duration`, or `None` if that does not fit.
    ///
    /// # Examples
    ///
    /// ```
    /// let a = corio::time::Instant::now();
    /// assert!(a.checked_sub(std::time::Duration::MAX).is_none());
    /// ```
    pub fn checked_sub(&self, duration: Duration) -> Option<Instant> {
        self.0.checked_sub(duration).map(Instant)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<std::time::Instant> for Instant {
    fn from(instant: std::time::Instant) -> Instant {
        Instant(instant)
    }
}

impl From<Instant> for std::time::Instant {
    fn from(instant: Instant) -> std::time::Instant {
        instant.0
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    /// # Panics
    ///
    /// As std's: if the result does not fit (see [`Instant::checked_add`]).
    fn add(self, duration: Duration) -> Instant {
        Instant(self.0 + duration)
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, duration: Duration) {
        self.0 += duration;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;

    /// # Panics
    ///
    /// As std's: if the result does not fit (see [`Instant::checked_sub`]).
    fn sub(self, duration: Duration) -> Instant {
        Instant(self.0 - duration)
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, duration: Duration) {
        self.0 -= duration;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    /// The time from `earlier` to `self`, zero if `earlier` is later (as
    /// std's).
    fn sub(self, earlier: Instant) -> Duration {
        self.duration_since(earlier)
    }
}
