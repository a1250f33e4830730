//! `std::thread` for coroutines: the same names and shapes, so that code
//! written against `std::thread` moves to corio by changing its `use` line.
//!
//! ```
//! use corio::thread; // was: use std::thread;
//! use std::time::Duration;
//!
//! corio::run(|| {
//!     let worker = thread::Builder::new()
//!         .name("worker".into())
//!         .spawn(|| {
//!             thread::sleep(Duration::from_millis(5));
//!             thread::current().name().map(str::to_owned)
//!         })
//!         .unwrap();
//!     assert_eq!(worker.join().unwrap().as_deref(), Some("worker"));
//! });
//! ```
//!
//! [`scope`] spawns coroutines that borrow from the caller's stack, as
//! `std::thread::scope` does for threads:
//!
//! ```
//! use corio::thread;
//!
//! corio::run(|| {
//!     let lines = vec!["a b", "c d e", "f"];
//!     let words: usize = thread::scope(|s| {
//!         let counts: Vec<_> = lines
//!             .iter()
//!             .map(|line| s.spawn(move || line.split(' ').count()))
//!             .collect();
//!         counts.into_iter().map(|h| h.join().unwrap()).sum()
//!     });
//!     assert_eq!(words, 6);
//! });
//! ```
//!
//! # Coroutines
//!
//! Everything here works on the coroutines of one runtime, on one OS
//! thread: `spawn` starts a coroutine, `sleep` and `park` suspend only the
//! calling coroutine, and a [`Thread`] names a coroutine. Its
//! [`id`](Thread::id) is a [`ThreadId`], as std's is; the runtime's own
//! name for the coroutine, a [`crate::TaskId`], is
//! [`Thread::task_id`] (or [`ThreadId::task_id`]).
//! [`available_parallelism`] is std's, re-exported: it counts the CPUs, and
//! thread-per-core (`runtime::ThreadPerCore`) uses it the same way.

use std::fmt;
use std::rc::{Rc, Weak};
use std::time::{Duration, Instant};

use crate::scheduler::{self, Blocker, Core, Suspend, TaskId, TaskShared, TaskWaker};

pub use crate::scheduler::Cancelled;
pub use crate::scope::{Scope, ScopedJoinHandle, scope};
pub use crate::task::{Builder, JoinHandle, spawn, yield_now};
pub use crate::time::{sleep, sleep_until};
// Asking how many CPUs there are does not wait on anything: std's serves.
pub use std::thread::available_parallelism;

/// A coroutine's unique identifier; `std::thread::ThreadId` for coroutines.
///
/// Returned by [`Thread::id`]. Like std's, it is `Copy`, `Eq`, `Hash` and
/// `Debug`, and no two coroutines of the process ever share one, not even
/// two of different runtimes or one that ended and one that took its slot.
/// It wraps the coroutine's [`TaskId`], which [`ThreadId::task_id`] hands
/// back for the runtime's own APIs (traces, task dumps).
///
/// # Examples
///
/// ```
/// use std::collections::HashSet;
/// use corio::thread::{self, ThreadId};
///
/// corio::run(|| {
///     let ids: Vec<_> = (0..3).map(|_| thread::spawn(|| thread::current().id())).collect();
///     let ids: HashSet<ThreadId> = ids.into_iter().map(|h| h.join().unwrap()).collect();
///     assert_eq!(ids.len(), 3);
///     assert!(!ids.contains(&thread::current().id()));
/// });
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ThreadId(
    /// The coroutine's task id: already process-unique (runtime and a
    /// serial number that is never reused), so nothing else is needed.
    TaskId,
);

impl ThreadId {
    /// The coroutine's [`TaskId`], the name the runtime itself uses for it
    /// (in [`JoinHandle::id`], traces and task dumps).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let h = corio::thread::spawn(|| ());
    ///     assert_eq!(h.thread().id().task_id(), h.id());
    /// });
    /// ```
    pub fn task_id(self) -> TaskId {
        self.0
    }
}

impl From<ThreadId> for TaskId {
    fn from(id: ThreadId) -> TaskId {
        id.0
    }
}

/// A handle to a coroutine: its name, its id, and a way to
/// [`unpark`](Thread::unpark) it; `std::thread::Thread` for coroutines.
/// Get one with [`current`] or [`JoinHandle::thread`]; clones name the same
/// coroutine.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let me = corio::thread::current();
///     assert_eq!(me.name(), Some("root")); // block_on's root coroutine
///     assert_eq!(me.task_id(), corio::task::current_id());
/// });
/// ```
#[derive(Clone)]
pub struct Thread {
    /// The coroutine's id.
    id: TaskId,
    /// Its name and park token, shared with its join slot.
    shared: Rc<dyn TaskShared>,
    /// Its runtime, for `unpark`'s wake-up.
    core: Weak<Core>,
}

impl Thread {
    /// A handle to task `id`.
    pub(crate) fn new(id: TaskId, shared: Rc<dyn TaskShared>, core: Weak<Core>) -> Thread {
        Thread { id, shared, core }
    }

    /// The coroutine's [`ThreadId`], as `std::thread::Thread::id`.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let h = corio::thread::spawn(|| corio::thread::current().id());
    ///     let id = h.thread().id();
    ///     assert_eq!(h.join().unwrap(), id);
    ///     assert_ne!(corio::thread::current().id(), id);
    /// });
    /// ```
    pub fn id(&self) -> ThreadId {
        ThreadId(self.id)
    }

    /// The coroutine's [`TaskId`], the runtime's own name for it (what
    /// [`JoinHandle::id`] and [`crate::task::current_id`] return).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let h = corio::thread::spawn(|| ());
    ///     assert_eq!(h.thread().task_id(), h.id());
    ///     assert_eq!(corio::thread::current().task_id(), corio::task::current_id());
    /// });
    /// ```
    pub fn task_id(&self) -> TaskId {
        self.id
    }

    /// The name given with [`Builder::name`], if any (`Some("root")` for
    /// the coroutine that `block_on` runs).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let h = corio::thread::spawn(|| ());
    ///     assert_eq!(h.thread().name(), None);
    /// });
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.shared.name()
    }

    /// Makes the coroutine's park token available: its next (or current)
    /// [`park`] returns. As in std, an unpark before a park is not lost, and
    /// several unparks before one park make one token.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     corio::thread::current().unpark();
    ///     corio::thread::park(); // returns at once: the token was there
    /// });
    /// ```
    pub fn unpark(&self) {
        let parker = self.shared.parker();
        parker.token.set(true);
        if parker.waiting.get() {
            TaskWaker::new(self.id, self.core.clone()).wake();
        }
    }
}

impl fmt::Debug for Thread {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Thread")
            .field("id", &self.id)
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

/// A handle to the calling coroutine.
///
/// In a destructor run while a dropped runtime unwinds a coroutine, it
/// names that coroutine.
///
/// # Panics
///
/// Panics outside a corio coroutine.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let h = corio::thread::Builder::new()
///         .name("named".into())
///         .spawn(|| corio::thread::current().name().map(String::from))
///         .unwrap();
///     assert_eq!(h.join().unwrap().as_deref(), Some("named"));
/// });
/// ```
#[track_caller]
pub fn current() -> Thread {
    let (id, shared, core) = scheduler::current_shared("corio::thread::current");
    Thread::new(id, shared, core)
}

/// Waits until the calling coroutine's park token is available, and takes
/// it; `std::thread::park` for coroutines. Only this coroutine waits.
///
/// # Coroutines
///
/// Where no coroutine can wait (a destructor run while the runtime shuts
/// down, a `log` backend), it returns at once.
///
/// # Panics
///
/// Panics if it has to wait outside a corio runtime.
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
///
/// corio::run(|| {
///     let done = Rc::new(Cell::new(false));
///     let d = done.clone();
///     let waiter = corio::thread::spawn(move || {
///         while !d.get() {
///             corio::thread::park(); // until unparked (or spuriously)
///         }
///     });
///     corio::yield_now();
///     done.set(true);
///     waiter.thread().unpark();
///     waiter.join().unwrap();
/// });
/// ```
#[track_caller]
pub fn park() {
    park_until("corio::thread::park", None);
}

/// Waits at most `timeout` for the calling coroutine's park token, and takes
/// it if it came; `std::thread::park_timeout` for coroutines. A timeout too
/// long for an `Instant` (`Duration::MAX`) waits as long as `park` would.
///
/// # Panics
///
/// Panics if it has to wait outside a corio runtime.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// corio::run(|| {
///     let start = Instant::now();
///     corio::thread::park_timeout(Duration::from_millis(10)); // nobody unparks
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// ```
#[track_caller]
pub fn park_timeout(timeout: Duration) {
    park_until(
        "corio::thread::park_timeout",
        scheduler::now().checked_add(timeout),
    );
}

/// `park` until `deadline` (`None`: until unparked).
#[track_caller]
fn park_until(what: &str, deadline: Option<Instant>) {
    let Ok((_, shared, _)) = scheduler::running_shared(what) else {
        return; // No coroutine can wait here (see `# Coroutines`).
    };
    let parker = shared.parker();
    while !parker.token.replace(false) {
        if deadline.is_some_and(|at| scheduler::now() >= at) {
            return;
        }
        let reason = match deadline {
            Some(at) => Suspend::ParkUntil(Blocker::ThreadPark, at),
            None => Suspend::Park(Blocker::ThreadPark),
        };
        parker.waiting.set(true);
        let waited = scheduler::suspend(what, reason);
        parker.waiting.set(false);
        if waited.is_err() {
            return;
        }
    }
}
