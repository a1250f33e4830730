//! `Semaphore` for coroutines and threads: a count of permits, each held
//! as a guard that gives it back when dropped. `Sync` and `const`, as the
//! locks are: its waiters are `waiters`' list, under a std lock held for a
//! few instructions, never across a switch.

use std::fmt;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use super::waiters::{List, Me, Waker};
use crate::scheduler::{self, Blocker, lock_unpoisoned};

/// A count of permits: [`acquire`](Semaphore::acquire) takes one, waiting
/// while none is free, and gives it back when the [`SemaphorePermit`] is
/// dropped. Waiters get permits in the order they asked (a permit given
/// back goes to the oldest waiter, never to a newcomer). Handy to bound how
/// many coroutines do something at once.
///
/// It is `Sync`: share it through an `Arc` or a `static` between
/// coroutines of several runtimes and plain threads. A coroutine that
/// waits suspends; a thread outside any runtime blocks.
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
/// use corio::sync::Semaphore;
///
/// let most = corio::run(|| {
///     let slots = Rc::new(Semaphore::new(2)); // at most 2 at a time
///     let (now, most) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
///     let workers: Vec<_> = (0..6)
///         .map(|_| {
///             let (slots, now, most) = (slots.clone(), now.clone(), most.clone());
///             corio::spawn(move || {
///                 let _permit = slots.acquire();
///                 now.set(now.get() + 1);
///                 most.set(most.get().max(now.get()));
///                 corio::sleep(std::time::Duration::from_millis(1));
///                 now.set(now.get() - 1);
///             })
///         })
///         .collect();
///     workers.into_iter().for_each(|w| w.join().unwrap());
///     most.get()
/// });
/// assert_eq!(most, 2);
/// ```
pub struct Semaphore {
    /// The free permits and who waits, under one lock.
    state: std::sync::Mutex<Permits>,
}

/// What [`Semaphore`] guards with its lock.
struct Permits {
    /// Permits held by nobody. A permit given back while somebody waits is
    /// handed to the oldest waiter instead, so `free > 0` means nobody
    /// waits.
    free: usize,
    /// The coroutines and threads waiting for a permit, oldest first. A
    /// waiter learns that it was handed one by finding its entry gone.
    waiting: List,
}

impl Semaphore {
    /// A semaphore with `permits` free permits.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = corio::sync::Semaphore::new(3);
    /// assert_eq!(s.available_permits(), 3);
    /// static DOWNLOADS: corio::sync::Semaphore = corio::sync::Semaphore::new(4);
    /// assert_eq!(DOWNLOADS.available_permits(), 4);
    /// ```
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore {
            state: std::sync::Mutex::new(Permits {
                free: permits,
                waiting: List::new(),
            }),
        }
    }

    /// The permits, locked. Nothing panics while it is held, so poisoning
    /// is ignored.
    fn lock(&self) -> MutexGuard<'_, Permits> {
        lock_unpoisoned(&self.state)
    }

    /// Permits free for a newcomer now.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = corio::sync::Semaphore::new(1);
    /// let permit = s.try_acquire().unwrap();
    /// assert_eq!(s.available_permits(), 0);
    /// drop(permit);
    /// assert_eq!(s.available_permits(), 1);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.lock().free
    }

    /// Adds `n` permits (waking as many waiters).
    ///
    /// # Examples
    ///
    /// ```
    /// let s = corio::sync::Semaphore::new(0);
    /// s.add_permits(2);
    /// assert_eq!(s.available_permits(), 2);
    /// ```
    pub fn add_permits(&self, n: usize) {
        let woken: Vec<Waker> = {
            let mut permits = self.lock();
            let woken: Vec<Waker> = std::iter::from_fn(|| permits.waiting.pop())
                .take(n)
                .collect();
            permits.free += n - woken.len();
            woken
        };
        woken.into_iter().for_each(Waker::wake);
    }

    /// Takes a permit if one is free and nobody waits for one; never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = corio::sync::Semaphore::new(1);
    /// let first = s.try_acquire();
    /// assert!(first.is_some());
    /// assert!(s.try_acquire().is_none());
    /// ```
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        let mut permits = self.lock();
        if permits.free == 0 {
            return None;
        }
        permits.free -= 1;
        Some(SemaphorePermit { semaphore: self })
    }

    /// Takes a permit, suspending the calling coroutine until one is free;
    /// a thread outside any runtime blocks.
    ///
    /// A wait that never ends is reported by the runtime's watchdog as a
    /// quiet hang, not as a deadlock: a thread elsewhere might still give
    /// a permit back.
    ///
    /// # Panics
    ///
    /// If it has to wait on a runtime's thread where no coroutine can (in
    /// the scheduler's own code, while the runtime shuts down).
    ///
    /// # Examples
    ///
    /// See [`Semaphore`].
    #[track_caller]
    pub fn acquire(&self) -> SemaphorePermit<'_> {
        self.acquire_until("Semaphore::acquire", None)
            .expect("a wait without a deadline ends with a permit")
    }

    /// Takes a permit, suspending the calling coroutine until one is free
    /// or `timeout` has passed; `None` if it has. `Duration::MAX` (or any
    /// timeout too long to add to the clock) waits as long as
    /// [`acquire`](Semaphore::acquire) would. A permit given back in time
    /// goes to the waiters in the order they asked, as for `acquire`.
    ///
    /// # Panics
    ///
    /// As [`acquire`](Semaphore::acquire), if it has to wait where no
    /// coroutine can.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use corio::sync::Semaphore;
    ///
    /// corio::run(|| {
    ///     let slots = Semaphore::new(1);
    ///     let held = slots.acquire();
    ///     assert!(slots.acquire_timeout(Duration::from_millis(5)).is_none());
    ///     drop(held);
    ///     assert!(slots.acquire_timeout(Duration::from_millis(5)).is_some());
    /// });
    /// ```
    #[track_caller]
    pub fn acquire_timeout(&self, timeout: Duration) -> Option<SemaphorePermit<'_>> {
        let deadline = scheduler::now().checked_add(timeout);
        self.acquire_until("Semaphore::acquire_timeout", deadline)
    }

    /// Takes a permit, waiting in line until one is reserved for the caller
    /// or `deadline` passes (`None`: never).
    #[track_caller]
    fn acquire_until(&self, what: &str, deadline: Option<Instant>) -> Option<SemaphorePermit<'_>> {
        let me = Me::current(what);
        let mut permits = self.lock();
        if permits.free > 0 {
            permits.free -= 1;
            return Some(SemaphorePermit { semaphore: self });
        }
        let me = match me {
            Ok(me) => me,
            Err(cannot) => {
                drop(permits);
                panic!(
                    "{}; no permit is free, and nothing can give one back here",
                    cannot.explain(what)
                )
            }
        };
        let entry = permits.waiting.push(me.waker());
        drop(permits);
        loop {
            let slept = me.sleep(what, Blocker::Semaphore, deadline);
            let mut permits = self.lock();
            if !permits.waiting.contains(entry) {
                // Served: a permit given back was handed to us.
                return Some(SemaphorePermit { semaphore: self });
            }
            if let Err(cannot) = slept {
                permits.waiting.remove(entry);
                drop(permits);
                panic!(
                    "{}; no permit is free, and nothing can give one back here",
                    cannot.explain(what)
                );
            }
            if deadline.is_some_and(|at| scheduler::now() >= at) {
                permits.waiting.remove(entry);
                return None;
            }
        }
    }

    /// Gives a permit back: to the oldest waiter if one waits, else to the
    /// free count.
    fn release(&self) {
        let woken = {
            let mut permits = self.lock();
            let woken = permits.waiting.pop();
            if woken.is_none() {
                permits.free += 1;
            }
            woken
        };
        if let Some(waiter) = woken {
            waiter.wake();
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let permits = self.lock();
        f.debug_struct("Semaphore")
            .field("available", &permits.free)
            .field("waiting", &permits.waiting.len())
            .finish()
    }
}

/// One permit of a [`Semaphore`]; dropping it gives the permit back.
///
/// # Examples
///
/// ```
/// let s = corio::sync::Semaphore::new(1);
/// {
///     let _permit = s.try_acquire().unwrap();
///     assert_eq!(s.available_permits(), 0);
/// }
/// assert_eq!(s.available_permits(), 1);
/// ```
#[must_use = "the permit is given back as soon as it is dropped"]
pub struct SemaphorePermit<'a> {
    /// The semaphore it came from.
    semaphore: &'a Semaphore,
}

impl Drop for SemaphorePermit<'_> {
    fn drop(&mut self) {
        self.semaphore.release();
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphorePermit").finish_non_exhaustive()
    }
}
