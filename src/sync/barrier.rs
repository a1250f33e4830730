//! `Barrier` for coroutines: std's, with a wait that suspends only the
//! calling coroutine.

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
