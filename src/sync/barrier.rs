//! `Barrier` (std's) and `Semaphore` (permits as guards) for coroutines.

use std::cell::Cell;
use std::fmt;

use super::wait_queue::WaitQueue;
use crate::scheduler::Blocker;

/// Lets a group of coroutines wait until all of them have arrived;
/// `std::sync::Barrier` for coroutines.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use corio::sync::Barrier;
///
/// let log = corio::run(|| {
///     let barrier = Rc::new(Barrier::new(3));
///     let log = Rc::new(RefCell::new(Vec::new()));
///     let workers: Vec<_> = (0..3)
///         .map(|i| {
///             let (barrier, log) = (barrier.clone(), log.clone());
///             corio::spawn(move || {
///                 log.borrow_mut().push(format!("{i} arrives"));
///                 barrier.wait();
///                 log.borrow_mut().push(format!("{i} goes on"));
///             })
///         })
///         .collect();
///     workers.into_iter().for_each(|w| w.join().unwrap());
///     log.take()
/// });
/// // Nobody goes on before everybody has arrived.
/// assert!(log[..3].iter().all(|l| l.ends_with("arrives")));
/// ```
pub struct Barrier {
    /// How many must arrive.
    parties: usize,
    /// How many of the current round have arrived.
    arrived: Cell<usize>,
    /// The round; a waiter is released once it changes.
    generation: Cell<u64>,
    /// The coroutines that arrived and wait for the others.
    waiters: WaitQueue,
}

impl Barrier {
    /// A barrier for `n` coroutines (0 and 1 never wait, as in std).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| assert!(corio::sync::Barrier::new(1).wait().is_leader()));
    /// ```
    pub fn new(n: usize) -> Barrier {
        Barrier {
            parties: n,
            arrived: Cell::new(0),
            generation: Cell::new(0),
            waiters: WaitQueue::default(),
        }
    }

    /// Waits until all `n` have called `wait`; then all go on, and the
    /// barrier can be used again. The last to arrive is the leader.
    ///
    /// # Coroutines
    ///
    /// Where no coroutine can wait (a destructor while the runtime shuts
    /// down, a `log` backend), it returns at once, not as the leader.
    ///
    /// # Panics
    ///
    /// Panics if it has to wait outside a corio runtime.
    ///
    /// # Examples
    ///
    /// See [`Barrier`].
    #[track_caller]
    pub fn wait(&self) -> BarrierWaitResult {
        const WHAT: &str = "Barrier::wait";
        let arrived = self.arrived.get() + 1;
        if arrived >= self.parties {
            self.arrived.set(0);
            self.generation.set(self.generation.get() + 1);
            self.waiters.notify_all();
            return BarrierWaitResult(true);
        }
        self.arrived.set(arrived);
        let round = self.generation.get();
        while self.generation.get() == round {
            if self.waiters.wait_once(WHAT, Blocker::Barrier).is_err() {
                return BarrierWaitResult(false);
            }
        }
        BarrierWaitResult(false)
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("arrived", &self.arrived.get())
            .finish_non_exhaustive()
    }
}

/// What [`Barrier::wait`] returns: whether this coroutine was the leader
/// (the last to arrive). std's `BarrierWaitResult`, which std gives no way
/// to make.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let result = corio::sync::Barrier::new(1).wait();
///     assert!(result.is_leader());
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Whether this coroutine was the last to arrive.
    ///
    /// # Examples
    ///
    /// See [`BarrierWaitResult`].
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

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
        const WHAT: &str = "Semaphore::acquire";
        if let Some(permit) = self.try_acquire() {
            return permit;
        }
        loop {
            match self.waiters.wait_once(WHAT, Blocker::Semaphore) {
                // Notified: a released permit was reserved for us.
                Ok(true) => {
                    self.reserved.set(self.reserved.get() - 1);
                    self.permits.set(self.permits.get() - 1);
                    return SemaphorePermit { semaphore: self };
                }
                Ok(false) => {}
                Err(cannot) => panic!(
                    "{}; no permit is free, and nothing can give one back here",
                    cannot.explain(WHAT)
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
