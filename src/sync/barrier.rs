//! `Barrier` for coroutines and threads: std's, with a wait that suspends
//! only the calling coroutine. It is `Sync` and `const`, as std's is: the
//! parties may be coroutines of any runtimes and plain threads, all at
//! one barrier (the waiters' list is `waiters`' list, under a std lock
//! held for a few instructions, never across a switch).

use std::fmt;
use std::sync::MutexGuard;

use super::waiters::{List, Me, Waker};
use crate::scheduler::{Blocker, lock_unpoisoned};

/// Lets a group of coroutines or threads wait until all of them have
/// arrived; `std::sync::Barrier`, whose wait suspends only the calling
/// coroutine.
///
/// It is `Sync`, as std's is: share it through an `Arc` (or a `static`)
/// between coroutines of several runtimes and plain threads, which all
/// count as parties; a thread outside any runtime blocks in `wait` as with
/// std.
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
///
/// A coroutine and an OS thread at one barrier:
///
/// ```
/// use std::sync::Arc;
/// use corio::sync::Barrier;
///
/// let barrier = Arc::new(Barrier::new(2));
/// let other = Arc::clone(&barrier);
/// let thread = std::thread::spawn(move || other.wait().is_leader());
/// let leader_here = corio::run(move || barrier.wait().is_leader());
/// // One of the two arrived last.
/// assert!(leader_here ^ thread.join().unwrap());
/// ```
pub struct Barrier {
    /// How many must arrive.
    parties: usize,
    /// The round being gathered and who waits in it.
    state: std::sync::Mutex<Round>,
}

/// What [`Barrier`] guards with its lock.
struct Round {
    /// How many of the current round have arrived.
    arrived: usize,
    /// The coroutines and threads that arrived and wait for the others,
    /// oldest first. A waiter learns that its round is complete by finding
    /// its entry gone: the leader takes every entry out before it wakes
    /// them.
    waiting: List,
}

impl Barrier {
    /// A barrier for `n` coroutines or threads (0 and 1 never wait, as in
    /// std).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| assert!(corio::sync::Barrier::new(1).wait().is_leader()));
    /// static START: corio::sync::Barrier = corio::sync::Barrier::new(1);
    /// assert!(START.wait().is_leader());
    /// ```
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            parties: n,
            state: std::sync::Mutex::new(Round {
                arrived: 0,
                waiting: List::new(),
            }),
        }
    }

    /// The round, locked. Nothing panics while it is held, so poisoning is
    /// ignored.
    fn lock(&self) -> MutexGuard<'_, Round> {
        lock_unpoisoned(&self.state)
    }

    /// Waits until all `n` have called `wait`; then all go on, and the
    /// barrier can be used again. The last to arrive is the leader.
    ///
    /// A coroutine suspends (its runtime's other coroutines run
    /// meanwhile); a thread outside any runtime blocks, as with std.
    ///
    /// # Coroutines
    ///
    /// Where no coroutine can wait (a destructor while the runtime shuts
    /// down, a `log` backend), it counts its arrival and returns at once,
    /// not as the leader. A wait that never ends, because the others never
    /// come, is reported by the runtime's watchdog as a quiet hang, not as
    /// a deadlock: a thread elsewhere might still arrive.
    ///
    /// # Examples
    ///
    /// See [`Barrier`].
    #[track_caller]
    pub fn wait(&self) -> BarrierWaitResult {
        const WHAT: &str = "Barrier::wait";
        let me = Me::current(WHAT);
        let mut round = self.lock();
        round.arrived += 1;
        if round.arrived >= self.parties {
            round.arrived = 0;
            let woken: Vec<Waker> = std::iter::from_fn(|| round.waiting.pop()).collect();
            drop(round);
            woken.into_iter().for_each(Waker::wake);
            return BarrierWaitResult(true);
        }
        let Ok(me) = me else {
            return BarrierWaitResult(false);
        };
        let entry = round.waiting.push(me.waker());
        drop(round);
        loop {
            let slept = me.sleep(WHAT, Blocker::Barrier, None);
            let mut round = self.lock();
            if !round.waiting.contains(entry) {
                return BarrierWaitResult(false);
            }
            if slept.is_err() {
                // The runtime is shutting down: leave the round (the
                // arrival stays counted) and go on.
                round.waiting.remove(entry);
                return BarrierWaitResult(false);
            }
        }
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("arrived", &self.lock().arrived)
            .finish_non_exhaustive()
    }
}

/// What [`Barrier::wait`] returns: whether this coroutine or thread was
/// the leader (the last to arrive). std's `BarrierWaitResult`, which std gives no way
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
    /// Whether this coroutine or thread was the last to arrive.
    ///
    /// # Examples
    ///
    /// See [`BarrierWaitResult`].
    pub fn is_leader(&self) -> bool {
        self.0
    }
}
