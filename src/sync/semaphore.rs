//! `Semaphore` for coroutines: a count of permits, each held as a guard
//! that gives it back when dropped.

use std::cell::Cell;
use std::fmt;
use std::time::{Duration, Instant};

use super::wait_queue::WaitQueue;
use crate::scheduler::{self, Blocker};

/// A count of permits: [`acquire`](Semaphore::acquire) takes one, waiting
/// while none is free, and gives it back when the [`SemaphorePermit`] is
/// dropped. Waiters get permits in the order they asked (a permit given
/// back goes to the oldest waiter, never to a newcomer). Handy to bound how
/// many coroutines do something at once.
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
    /// Permits not held by anybody (reserved ones included).
    permits: Cell<usize>,
    /// Of `permits`, those given back to a notified waiter that has not run
    /// yet: not for newcomers.
    reserved: Cell<usize>,
    /// Coroutines waiting for a permit, oldest first.
    waiters: WaitQueue,
}

impl Semaphore {
    /// A semaphore with `permits` free permits.
    ///
    /// # Examples
    ///
    /// ```
    /// let s = corio::sync::Semaphore::new(3);
    /// assert_eq!(s.available_permits(), 3);
    /// ```
    pub fn new(permits: usize) -> Semaphore {
        Semaphore {
            permits: Cell::new(permits),
            reserved: Cell::new(0),
            waiters: WaitQueue::default(),
        }
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
        self.permits.get() - self.reserved.get()
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
        for _ in 0..n {
            self.release();
        }
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
        if self.available_permits() == 0 || self.waiters.len() > 0 {
            return None;
        }
        self.permits.set(self.permits.get() - 1);
        Some(SemaphorePermit { semaphore: self })
    }

    /// Takes a permit, suspending the calling coroutine until one is free.
    ///
    /// # Panics
    ///
    /// If it has to wait where no coroutine can (outside a runtime, in the
    /// scheduler's own code, while the runtime shuts down): nothing can
    /// give a permit back there.
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
        if let Some(permit) = self.try_acquire() {
            return Some(permit);
        }
        loop {
            match self
                .waiters
                .wait_once_until(what, Blocker::Semaphore, deadline)
            {
                // Notified: a released permit was reserved for us.
                Ok(true) => {
                    self.reserved.set(self.reserved.get() - 1);
                    self.permits.set(self.permits.get() - 1);
                    return Some(SemaphorePermit { semaphore: self });
                }
                Ok(false) if deadline.is_some_and(|at| scheduler::now() >= at) => return None,
                Ok(false) => {}
                Err(cannot) => panic!(
                    "{}; no permit is free, and nothing can give one back here",
                    cannot.explain(what)
                ),
            }
        }
    }

    /// Gives a permit back: to the oldest waiter if there is one.
    fn release(&self) {
        self.permits.set(self.permits.get() + 1);
        if self.waiters.len() > 0 {
            self.reserved.set(self.reserved.get() + 1);
            self.waiters.notify_one();
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available", &self.available_permits())
            .field("waiting", &self.waiters.len())
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
