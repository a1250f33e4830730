//! Why a coroutine stopped, what a parked one waits on, and what woke it:
//! the words the coroutine side and the scheduler side use with each other.

use std::fmt;
use std::time::Instant;

use super::task::TaskId;
use crate::trace::SuspendReason;

/// What crosses the stack switch when a coroutine stops: one byte, so that
/// corosensei passes it in a register. Anything but a plain yield leaves its
/// [`Suspend`] in `Core::pending` first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Switch {
    /// A plain `yield_now`, the hot case: to the back of the run queue.
    Yield,
    /// Read the reason from `Core::pending`.
    Wait,
}

/// Why a coroutine handed control back to the scheduler. The coroutine only
/// *describes* what it waits for; the scheduler registers the wait after the
/// switch, on its own stack (see `Core::park`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Suspend {
    /// Put me back in the run queue with `ahead` tasks in front of me: a
    /// hosting coroutine that must hand back to the scheduler loop early
    /// keeps its place in line (see `hosting`).
    Requeue {
        /// Tasks that were ahead of it and have not run yet.
        ahead: usize,
    },
    /// Somebody holds my id and will wake me; `Blocker` says who, for the
    /// deadlock report.
    Park(Blocker),
    /// As `Park`, and wake me at this instant if nobody did before.
    ParkUntil(Blocker, Instant),
    /// Wake me when `token` is ready for `interest`, or at `deadline`.
    Io {
        /// The reactor token of the socket.
        token: usize,
        /// Readable or writable.
        interest: mio::Interest,
        /// A read/write timeout, if one is set.
        deadline: Option<Instant>,
    },
    /// Wake me at this instant.
    Sleep(Instant),
}

/// Who holds a lock a coroutine waits for, as far as the deadlock report
/// needs to know. The locks of `corio::sync` live in `static`s and are
/// shared across OS threads, so a lock may be released by another thread:
/// the waiter works out, when it parks, whether one can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Holder {
    /// The holder, when it is a coroutine of the waiter's own runtime.
    pub(crate) task: Option<TaskId>,
    /// Whether another OS thread may hand the lock on: it holds the lock,
    /// waits ahead in line for it, or the holder is not known. Then the
    /// wait is no deadlock while that thread runs.
    pub(crate) elsewhere: bool,
}

/// What a parked coroutine waits on, for the deadlock report.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Blocker {
    /// `JoinHandle::join` on this task.
    Join(TaskId),
    /// `Receiver::recv` on an empty channel.
    ChannelRecv,
    /// `SyncSender::send` on a full channel, or a rendezvous send whose
    /// message nobody has taken yet.
    ChannelSend,
    /// A sleep without end (`sleep(Duration::MAX)`): only a stray wake-up
    /// or the runtime's end stops it.
    SleepForever,
    /// `thread::park`, until a `Thread::unpark`.
    ThreadPark,
    /// `Mutex::lock`, on a mutex held by the holder described.
    Mutex(Holder),
    /// `RwLock::read` or `RwLock::write`.
    RwLock(Holder),
    /// `select!` on channels that are all empty.
    Select,
    /// `Condvar::wait`.
    Condvar,
    /// `Barrier::wait`, for the others to arrive.
    Barrier,
    /// `Semaphore::acquire`, for a permit.
    Semaphore,
    /// `Once::call_once` or `OnceLock::get_or_init`, while another runs it
    /// (the holder is the one running it).
    Once(Holder),
    /// `thread::scope`, for this many of its coroutines to end.
    Scope(usize),
    /// `spawn_blocking`, for its job to end on a pool thread.
    Blocking,
    /// `RemoteJoinHandle::join`, for a task of another runtime (or one
    /// spawned through a `Handle`) to end.
    RemoteJoin,
}

impl Suspend {
    /// The reason as the trace names it.
    pub(crate) fn trace_reason(self) -> SuspendReason {
        match self {
            Suspend::Requeue { .. } => SuspendReason::Yield,
            Suspend::Park(blocker) | Suspend::ParkUntil(blocker, _) => blocker.trace_reason(),
            Suspend::Io {
                token, interest, ..
            } => SuspendReason::Io {
                token,
                writable: !interest.is_readable(),
            },
            Suspend::Sleep(_) => SuspendReason::Sleep,
        }
    }
}

impl Blocker {
    /// The wait as the trace names it.
    pub(crate) fn trace_reason(self) -> SuspendReason {
        match self {
            Blocker::Join(_) | Blocker::Scope(_) => SuspendReason::Join,
            Blocker::ChannelRecv | Blocker::ChannelSend | Blocker::Select => SuspendReason::Channel,
            Blocker::Mutex(_)
            | Blocker::RwLock(_)
            | Blocker::Condvar
            | Blocker::Barrier
            | Blocker::Semaphore
            | Blocker::Once(_) => SuspendReason::Lock,
            Blocker::Blocking | Blocker::RemoteJoin => SuspendReason::OtherThread,
            Blocker::SleepForever | Blocker::ThreadPark => SuspendReason::Park,
        }
    }

    /// Whether another OS thread can end this wait: such a wait is no
    /// deadlock while the runtime's inbox is open. `Some(true)` when the
    /// other thread is known to be working on it (a blocking job, a task of
    /// another runtime), `Some(false)` when one only may be (a channel
    /// whose senders may sit on other threads, a lock another thread may
    /// release, a `Condvar` any thread may notify, a `Barrier` any thread
    /// may arrive at, a `Semaphore` any thread may give a permit back to),
    /// `None` when only this runtime's coroutines can.
    pub(crate) fn other_threads(&self) -> Option<bool> {
        match self {
            Blocker::Blocking | Blocker::RemoteJoin => Some(true),
            Blocker::ChannelRecv
            | Blocker::Select
            | Blocker::Condvar
            | Blocker::Barrier
            | Blocker::Semaphore => Some(false),
            Blocker::Mutex(holder) | Blocker::RwLock(holder) | Blocker::Once(holder)
                if holder.elsewhere =>
            {
                Some(false)
            }
            _ => None,
        }
    }
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::Join(id) => write!(f, "joining {id}"),
            Blocker::ChannelRecv => f.write_str("receiving on an empty channel"),
            Blocker::ChannelSend => f.write_str("sending on a full channel"),
            Blocker::SleepForever => f.write_str("sleeping forever"),
            Blocker::ThreadPark => f.write_str("parked (thread::park) until unparked"),
            Blocker::Mutex(Holder {
                task: Some(holder), ..
            }) => write!(f, "locking a Mutex held by {holder}"),
            Blocker::Mutex(_) => f.write_str("locking a Mutex"),
            Blocker::RwLock(Holder {
                task: Some(holder), ..
            }) => write!(f, "locking an RwLock held by {holder}"),
            Blocker::RwLock(_) => f.write_str("locking an RwLock"),
            Blocker::Select => f.write_str("selecting on empty channels"),
            Blocker::Condvar => f.write_str("waiting on a Condvar"),
            Blocker::Barrier => f.write_str("waiting at a Barrier for the others"),
            Blocker::Semaphore => f.write_str("acquiring a Semaphore permit"),
            Blocker::Once(Holder {
                task: Some(holder), ..
            }) => write!(f, "waiting for {holder}'s one-time initialiser"),
            Blocker::Once(_) => f.write_str("waiting for another coroutine's one-time initialiser"),
            Blocker::Scope(1) => f.write_str("waiting for 1 coroutine of its thread::scope to end"),
            Blocker::Scope(n) => {
                write!(f, "waiting for {n} coroutines of its thread::scope to end")
            }
            Blocker::Blocking => f.write_str("waiting for a spawn_blocking job on a pool thread"),
            Blocker::RemoteJoin => {
                f.write_str("joining a task of another runtime (RemoteJoinHandle)")
            }
        }
    }
}

/// What woke a parked coroutine, for the trace log. The coroutine itself is
/// not told: every wait re-checks its own condition (data, deadline, result)
/// when it runs again, which also makes a stray wake-up harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// What it waited for may have happened.
    Notified,
    /// Its deadline passed.
    TimedOut,
}

/// A wait that could not suspend, because no coroutine of this runtime is
/// running: the code asking is the runtime's own (a `log` backend it calls,
/// a destructor it runs) or the runtime is shutting down and unwinding its
/// coroutines. Every waiting call turns it into its own "cannot wait"
/// result (an `io::Error`, a `RecvError`, an early return); none panics,
/// because a panic there would abort the process during an unwind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CannotWait {
    /// The runtime is being dropped and is unwinding its coroutines.
    ShuttingDown,
    /// The scheduler itself is running (a log backend, a destructor).
    InScheduler,
}

impl CannotWait {
    /// Says why `what` returned at once, and what to do about it.
    pub(crate) fn explain(self, what: &str) -> String {
        match self {
            CannotWait::ShuttingDown => format!(
                "{what} could not wait: the corio runtime is shutting down and is \
                 unwinding its coroutines, so nothing can suspend; finish the work \
                 before the runtime is dropped (join the task that does it)"
            ),
            CannotWait::InScheduler => format!(
                "{what} could not wait: it was called from the corio scheduler's own \
                 code (a log backend or a destructor the scheduler ran), where no \
                 coroutine is running and nothing can suspend; do the waiting in a \
                 coroutine instead"
            ),
        }
    }
}
