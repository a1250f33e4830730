//! `Condvar` for coroutines and threads: std's, waiting with a `Mutex`
//! guard, which is released meanwhile; a wait suspends only the calling
//! coroutine.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LockResult, PoisonError};
use std::time::{Duration, Instant};

use super::mutex::MutexGuard;
use super::waiters::{Entry, Me, Waiters};
use crate::scheduler::{self, Blocker};

/// Whether a [`Condvar::wait_timeout`] returned because its time was up.
/// std's `WaitTimeoutResult`, which std gives no way to make.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use corio::sync::{Condvar, Mutex};
///
/// corio::run(|| {
///     let (m, cv) = (Mutex::new(()), Condvar::new());
///     let (_guard, result) = cv.wait_timeout(m.lock().unwrap(), Duration::from_millis(1)).unwrap();
///     assert!(result.timed_out());
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the wait ended because its timeout passed.
    ///
    /// # Examples
    ///
    /// See [`WaitTimeoutResult`].
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

/// A condition variable; `std::sync::Condvar` for coroutines as well as
/// threads: a coroutine waits (with a [`Mutex`](super::Mutex) guard, which
/// is released meanwhile) until another coroutine or thread notifies it.
///
/// As std's, a wait may wake spuriously: wait in a loop, or with
/// [`wait_while`](Condvar::wait_while). Waiters are notified oldest first.
/// `new` is `const` and a `Condvar` is `Sync`, so it can live in a
/// `static`; a thread outside any runtime that waits blocks, as with std.
///
/// A waiter queues itself before it releases the mutex, and a notify pops
/// waiters under the same list lock: a notify made while holding the mutex
/// after the waiter released it always finds the waiter.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use corio::sync::{Condvar, Mutex};
///
/// corio::run(|| {
///     let pair = Rc::new((Mutex::new(false), Condvar::new()));
///     let p = pair.clone();
///     corio::spawn(move || {
///         *p.0.lock().unwrap() = true;
///         p.1.notify_one();
///     });
///     let (lock, cvar) = &*pair;
///     let ready = cvar.wait_while(lock.lock().unwrap(), |ready| !*ready).unwrap();
///     assert!(*ready);
/// });
/// ```
pub struct Condvar {
    /// Coroutines and threads waiting to be notified, oldest first.
    waiters: Waiters,
    /// How many wait: a notify with nobody waiting skips the list's lock.
    /// Changed under that lock; a waiter's increment is ordered before its
    /// release of the mutex, so a notifier that holds the mutex sees it.
    waiting: AtomicUsize,
}

impl Default for Condvar {
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl Condvar {
    /// A condition variable nobody waits on.
    ///
    /// # Examples
    ///
    /// ```
    /// let cv = corio::sync::Condvar::new();
    /// cv.notify_all(); // nobody to wake
    ///
    /// static READY: corio::sync::Condvar = corio::sync::Condvar::new();
    /// READY.notify_one();
    /// ```
    pub const fn new() -> Condvar {
        Condvar {
            waiters: Waiters::new(),
            waiting: AtomicUsize::new(0),
        }
    }

    /// Releases `guard`'s lock, waits to be notified, and locks again.
    ///
    /// # Coroutines
    ///
    /// Where no coroutine can wait (a destructor while the runtime shuts
    /// down, a `log` backend), it returns at once, as a spurious wake-up.
    ///
    /// # Errors
    ///
    /// A [`PoisonError`] with the guard if the mutex is poisoned when it is
    /// locked again.
    ///
    /// # Examples
    ///
    /// See [`Condvar`].
    #[track_caller]
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        self.wait_until("Condvar::wait", guard, None).0
    }

    /// Waits while `condition` holds: `wait` in a loop, as std's.
    ///
    /// # Coroutines
    ///
    /// Where no coroutine can wait, it returns at once, the condition
    /// possibly still true: nothing could change it there.
    ///
    /// # Errors
    ///
    /// As [`wait`](Condvar::wait).
    ///
    /// # Examples
    ///
    /// See [`Condvar`].
    #[track_caller]
    pub fn wait_while<'a, T: ?Sized, F: FnMut(&mut T) -> bool>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>> {
        while condition(&mut *guard) {
            let (result, could_wait) = self.wait_until("Condvar::wait_while", guard, None);
            guard = result?;
            if !could_wait {
                break;
            }
        }
        Ok(guard)
    }

    /// As [`wait`](Condvar::wait), for at most `timeout` (`Duration::MAX`
    /// waits as long as `wait` would).
    ///
    /// # Errors
    ///
    /// As [`wait`](Condvar::wait), with the [`WaitTimeoutResult`] too.
    ///
    /// # Examples
    ///
    /// See [`WaitTimeoutResult`].
    #[track_caller]
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let deadline = scheduler::now().checked_add(timeout);
        let (result, _) = self.wait_until("Condvar::wait_timeout", guard, deadline);
        let timed_out = WaitTimeoutResult(deadline.is_some_and(|at| scheduler::now() >= at));
        match result {
            Ok(guard) => Ok((guard, timed_out)),
            Err(poisoned) => Err(PoisonError::new((poisoned.into_inner(), timed_out))),
        }
    }

    /// As [`wait_while`](Condvar::wait_while), for at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`wait`](Condvar::wait), with the [`WaitTimeoutResult`] too: it
    /// says whether the condition still held when the time was up.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use corio::sync::{Condvar, Mutex};
    ///
    /// corio::run(|| {
    ///     let (m, cv) = (Mutex::new(0), Condvar::new());
    ///     let (n, result) = cv
    ///         .wait_timeout_while(m.lock().unwrap(), Duration::from_millis(5), |n| *n == 0)
    ///         .unwrap();
    ///     assert!(result.timed_out());
    ///     assert_eq!(*n, 0);
    /// });
    /// ```
    #[track_caller]
    pub fn wait_timeout_while<'a, T: ?Sized, F: FnMut(&mut T) -> bool>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let deadline = scheduler::now().checked_add(timeout);
        loop {
            if !condition(&mut *guard) {
                return Ok((guard, WaitTimeoutResult(false)));
            }
            if deadline.is_some_and(|at| scheduler::now() >= at) {
                return Ok((guard, WaitTimeoutResult(true)));
            }
            let what = "Condvar::wait_timeout_while";
            let (result, could_wait) = self.wait_until(what, guard, deadline);
            match result {
                Ok(g) => guard = g,
                Err(poisoned) => {
                    return Err(PoisonError::new((
                        poisoned.into_inner(),
                        WaitTimeoutResult(false),
                    )));
                }
            }
            if !could_wait {
                let timed_out = condition(&mut *guard);
                return Ok((guard, WaitTimeoutResult(timed_out)));
            }
        }
    }

    /// Wakes the coroutine that has waited longest, if any.
    ///
    /// # Examples
    ///
    /// See [`Condvar`].
    pub fn notify_one(&self) {
        if self.waiting.load(Ordering::Acquire) == 0 {
            return;
        }
        let next = {
            let mut list = self.waiters.lock();
            let next = list.pop();
            if next.is_some() {
                self.waiting.fetch_sub(1, Ordering::Relaxed);
            }
            next
        };
        if let Some(next) = next {
            next.wake();
        }
    }

    /// Wakes every waiting coroutine.
    ///
    /// # Examples
    ///
    /// ```
    /// let cv = corio::sync::Condvar::new();
    /// cv.notify_all();
    /// ```
    pub fn notify_all(&self) {
        if self.waiting.load(Ordering::Acquire) == 0 {
            return;
        }
        let woken: Vec<_> = {
            let mut list = self.waiters.lock();
            let woken: Vec<_> = std::iter::from_fn(|| list.pop()).collect();
            self.waiting.fetch_sub(woken.len(), Ordering::Relaxed);
            woken
        };
        woken.into_iter().for_each(|w| w.wake());
    }

    /// One wait: queue, unlock, sleep until notified or `deadline`, lock
    /// again. Also returns whether it could wait at all.
    #[track_caller]
    fn wait_until<'a, T: ?Sized>(
        &self,
        what: &str,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (LockResult<MutexGuard<'a, T>>, bool) {
        let mutex = guard.mutex;
        let Ok(me) = Me::current(what) else {
            return (mutex.poisoned.result(guard), false);
        };
        // Queued before the unlock, so a notify in between is not lost.
        let entry = {
            let mut list = self.waiters.lock();
            self.waiting.fetch_add(1, Ordering::Release);
            list.push(me.waker())
        };
        let waiting = Waiting {
            condvar: self,
            entry,
        };
        drop(guard);
        let could_wait = loop {
            let slept = me.sleep(what, Blocker::Condvar, deadline);
            if !self.waiters.lock().contains(entry) {
                break true; // notified
            }
            if slept.is_err() {
                break false;
            }
            if deadline.is_some_and(|at| scheduler::now() >= at) {
                break true;
            }
        };
        drop(waiting);
        (mutex.lock(), could_wait)
    }
}

/// A place in a [`Condvar`]'s line; dropped (after the wait, or by an
/// unwind through it) it leaves the line if no notify took it out.
struct Waiting<'a> {
    /// The condvar waited on.
    condvar: &'a Condvar,
    /// The place in its line.
    entry: Entry,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.condvar.waiters.lock().remove(self.entry) {
            self.condvar.waiting.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar")
            .field("waiting", &self.waiting.load(Ordering::Relaxed))
            .finish()
    }
}
