//! Cancelling a task (`JoinHandle::cancel`): it unwinds at its next
//! suspension point, running its destructors, and its join gives
//! `Err(payload)` with a [`Cancelled`] payload.
//!
//! Where the task is when it is cancelled decides how:
//! - parked (waiting on a socket, a timer, a channel, a lock, a join, a
//!   blocking job) or queued (runnable, started or not): it is taken out of
//!   whatever it waits in and unwound at once, from its suspension point,
//!   on its own stack (`Core::unwound`, as a dropped runtime unwinds);
//! - running (a task cancelling itself): it unwinds from the `cancel` call;
//! - hosting (inside `yield_now` or a wait, running other tasks in place on
//!   its own stack, one of which called `cancel`): it cannot be unwound
//!   under the task that runs on top of it, so it is flagged, and unwinds
//!   when its pass ends: a yield's pass checks the flag at its end, and a
//!   waiting host is woken so that its wait returns and checks it.
//!
//! The unwind is `std::panic::resume_unwind`, which skips the panic hook:
//! nothing is printed for a cancellation.

use std::fmt;
use std::panic;

use super::context;
use super::metrics::TaskCounters;
use super::suspend::Wake;
use super::{Core, TaskId};

/// The panic payload of a cancelled task, which its
/// [`JoinHandle::join`](crate::JoinHandle::join) returns as `Err`.
///
/// # Examples
///
/// ```
/// use corio::thread::Cancelled;
///
/// corio::run(|| {
///     let sleeper = corio::spawn(|| corio::thread::sleep(std::time::Duration::from_secs(3600)));
///     corio::yield_now(); // it starts, and waits
///     sleeper.cancel();
///     let payload = sleeper.join().unwrap_err();
///     assert!(payload.downcast_ref::<Cancelled>().is_some());
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cancelled;

impl fmt::Display for Cancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the task was cancelled (JoinHandle::cancel)")
    }
}

impl std::error::Error for Cancelled {}

/// Unwinds the running task because it was cancelled. No panic hook runs.
#[cold]
#[inline(never)]
pub(super) fn unwind_here() -> ! {
    panic::resume_unwind(Box::new(Cancelled))
}

/// Unwinds the running task if it was cancelled while it hosted others: at
/// the end of a waiting host's pass, and after any wait.
#[inline]
pub(super) fn check(counters: &TaskCounters) {
    if counters.cancelled.get() {
        unwind_here();
    }
}

impl Core {
    /// Cancels task `id` of this runtime, whose counters are `counters`
    /// (see the module docs). Returns `true` if the task was unwound here,
    /// `false` if it will unwind later (it hosts) or had already ended.
    /// Never returns if `id` is the running task.
    pub(crate) fn cancel(&self, id: TaskId, counters: &TaskCounters) -> bool {
        counters.cancelled.set(true);
        if context::try_running_id() == Some(id) {
            unwind_here();
        }
        match self.take_any(id) {
            Some(task) => {
                let task = self.unwound(task);
                self.retire(*task);
                true
            }
            None => {
                // Hosting (or ended): a waiting host is woken so that its
                // wait returns and sees the flag; a yield's host sees it
                // when its pass ends.
                self.wake(id, Wake::Notified);
                false
            }
        }
    }
}
