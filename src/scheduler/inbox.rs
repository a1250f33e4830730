//! Work from other threads: each runtime's inbox, through which another
//! thread hands it a closure to run on the runtime's own thread.
//!
//! A runtime's scheduler touches its own state without locks or atomics.
//! Another thread never touches that state: it puts a [`Job`] (a closure the
//! runtime's thread will run on its scheduler stack) into the runtime's
//! [`Remote`], a mutex-guarded list, and rouses the runtime's `epoll_wait`
//! through one `mio::Waker` (an `eventfd`). The waker is written only when
//! the list goes from empty to non-empty, so a burst of jobs costs one
//! write, and the runtime takes them all in one lock. Nothing on the
//! single-thread path looks at the inbox: the runtime drains it when the
//! poller reports the waker's token, which it polls for anyway (when idle,
//! and every `event_interval` ticks when busy, where with no socket to watch
//! it first reads one atomic flag that the post set).
//!
//! Users of the inbox: `runtime::Handle` (spawning from another thread),
//! `spawn_blocking` (a job's end wakes its caller), the cross-thread
//! senders of `sync::mpsc`, and the locks of `sync` through [`SendWaker`].

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::lock_unpoisoned;

use super::context;
use super::idle::Waking;
use super::spawn::panic_text;
use super::{CannotWait, Core, TaskId, Wake};
use crate::trace::WakeCause;

/// Work another thread hands a runtime: run on the runtime's thread, as
/// scheduler code (no coroutine current), with its `Core`.
pub(crate) type Job = Box<dyn FnOnce(&Core) + Send>;

/// A runtime as other threads see it: its inbox and the waker of its
/// poller. Shared through an `Arc` by the runtime and every
/// `runtime::Handle`, cross-thread sender and blocking job that may have to
/// reach it.
pub(crate) struct Remote {
    /// The runtime's id (as in `TaskId`), to tell whether a caller is on it.
    pub(crate) runtime: u32,
    /// Jobs not yet taken by the runtime.
    inbox: Mutex<Inbox>,
    /// Rouses the runtime's `epoll_wait`.
    waker: mio::Waker,
    /// Set (under the inbox's lock) when a post wrote the waker, cleared
    /// when the runtime takes the jobs: a busy runtime reads it, without
    /// the lock, every `event_interval` ticks to learn whether to poll.
    pending: AtomicBool,
    /// Live `Handle`s: each could spawn a task that wakes the others, so
    /// while one lives, a runtime whose coroutines are all blocked waits
    /// instead of reporting a deadlock.
    pub(crate) handles: AtomicUsize,
}

/// The inbox proper.
#[derive(Default)]
struct Inbox {
    /// Posted jobs, oldest first.
    jobs: Vec<Job>,
    /// Whether the waker was written since the runtime last took the jobs.
    signalled: bool,
    /// Set when the runtime is dropped: no more jobs are accepted.
    closed: bool,
}

impl Remote {
    /// The remote side of runtime `runtime`, whose poller has `registry`.
    pub(crate) fn new(runtime: u32, waker: mio::Waker) -> Arc<Remote> {
        Arc::new(Remote {
            runtime,
            inbox: Mutex::new(Inbox::default()),
            waker,
            pending: AtomicBool::new(false),
            handles: AtomicUsize::new(0),
        })
    }

    /// The inbox, locked; a panic while it was held (none of ours can)
    /// leaves it consistent, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Inbox> {
        lock_unpoisoned(&self.inbox)
    }

    /// Hands `job` to the runtime, from any thread; it runs on the runtime's
    /// thread soon after (at once if the runtime is idle).
    ///
    /// # Errors
    ///
    /// Gives the job back if the runtime is gone.
    pub(crate) fn post(&self, job: Job) -> Result<(), Job> {
        let mut inbox = self.lock();
        if inbox.closed {
            return Err(job);
        }
        inbox.jobs.push(job);
        if !inbox.signalled {
            inbox.signalled = true;
            self.pending.store(true, Ordering::Release);
            // Under the lock, so that a concurrent `take_jobs` cannot reset
            // `signalled` between the two. An eventfd write fails only if
            // its counter would overflow, which a drained waker never nears.
            if let Err(e) = self.waker.wake() {
                log::error!("corio: could not wake runtime {}: {e}", self.runtime);
            }
        }
        Ok(())
    }

    /// Takes every posted job, oldest first (the runtime's thread only).
    pub(crate) fn take_jobs(&self) -> Vec<Job> {
        let mut inbox = self.lock();
        inbox.signalled = false;
        self.pending.store(false, Ordering::Release);
        std::mem::take(&mut inbox.jobs)
    }

    /// Whether jobs wait (the runtime's thread, before it reports a
    /// deadlock: a job may have been posted after the last poll).
    pub(crate) fn has_jobs(&self) -> bool {
        !self.lock().jobs.is_empty()
    }

    /// Whether a job was posted since the runtime last took them; one
    /// atomic load, no lock (the runtime's thread, on its periodic tick).
    #[inline]
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Refuses every later job and returns the ones not run (the runtime is
    /// being dropped).
    pub(crate) fn close(&self) -> Vec<Job> {
        let mut inbox = self.lock();
        inbox.closed = true;
        std::mem::take(&mut inbox.jobs)
    }

    /// Whether the runtime is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

/// The error of a cross-thread call into a runtime that is gone.
pub(crate) fn runtime_gone(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        format!(
            "{what}: the corio runtime this handle belongs to has been dropped; \
             keep the Runtime alive for as long as other threads use its Handle"
        ),
    )
}

/// A wake-up for `task` of the runtime behind `remote`, from any thread:
/// direct when the caller is on that runtime, through its inbox otherwise.
pub(crate) fn wake_remote(remote: &Remote, task: TaskId) {
    if super::current_runtime() == Some(remote.runtime) {
        context::try_with_core(|core| core.wake(task, Wake::Notified));
    } else {
        let _ = remote.post(Box::new(move |core: &Core| core.wake(task, Wake::Notified)));
    }
}

/// A task of a runtime, to be woken from any thread: what a lock that lives
/// in a `static` keeps for each coroutine waiting on it. The wake-up is
/// direct when it comes from the task's own runtime, a job in its inbox
/// otherwise (see [`wake_remote`]).
#[derive(Clone)]
pub(crate) struct SendWaker {
    /// The task's runtime, as other threads reach it.
    remote: Arc<Remote>,
    /// The task to wake.
    id: TaskId,
}

impl SendWaker {
    /// A waker for the running coroutine, which is about to wait.
    ///
    /// # Errors
    ///
    /// [`CannotWait`] when no coroutine runs but a runtime does.
    ///
    /// # Panics
    ///
    /// Panics with a message naming `what` outside any runtime.
    #[track_caller]
    pub(crate) fn running(what: &str) -> Result<SendWaker, CannotWait> {
        context::with_running(what, |id, core| SendWaker {
            remote: core.remote(),
            id,
        })
    }

    /// The task it wakes.
    pub(crate) fn id(&self) -> TaskId {
        self.id
    }

    /// Wakes the task, from any thread (a no-op if it is not parked or its
    /// runtime is gone).
    pub(crate) fn wake(&self) {
        wake_remote(&self.remote, self.id);
    }
}

impl Core {
    /// This runtime's remote side, to hand to another thread (a `Handle`, a
    /// blocking job, a channel's cross-thread senders).
    pub(crate) fn remote(&self) -> Arc<Remote> {
        Arc::clone(&self.remote)
    }

    /// Runs the jobs other threads posted, oldest first, as scheduler code.
    pub(super) fn drain_inbox(&self) {
        let _cause = Waking::begin(self, WakeCause::OtherThread);
        for job in self.remote.take_jobs() {
            let outcome =
                context::as_scheduler(|| panic::catch_unwind(AssertUnwindSafe(|| job(self))));
            if let Err(payload) = outcome {
                log::error!(
                    "corio: a job from another thread panicked on runtime {} ({}); the \
                     panic is dropped",
                    self.runtime,
                    panic_text(&*payload)
                );
            }
        }
    }

    /// The runtime is dropped: refuse further jobs from other threads, and
    /// hand back the ones never run (to be dropped).
    pub(crate) fn close_inbox(&self) -> Vec<Job> {
        self.remote.close()
    }
}
