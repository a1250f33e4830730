//! A timeline of every switch: what ran when, why it stopped, who woke it.
//!
//! Turned on per runtime with [`Builder::trace`](crate::runtime::Builder::trace),
//! the scheduler records into a bounded ring: every spawn, every resume of a
//! coroutine, every suspend with its reason (yield, socket and direction,
//! sleep, join, channel, lock, …), every wake-up with its cause (which
//! coroutine, a socket event, a timer, another OS thread), every poll with
//! its event count and how long it blocked, and every finish. When the ring
//! is full the oldest events are dropped and counted
//! ([`Trace::dropped`]). [`Runtime::take_trace`](crate::Runtime::take_trace)
//! hands the events over; [`Trace::write_chrome_json`] writes them as Chrome
//! trace-event JSON, which Perfetto (<https://ui.perfetto.dev>, "Open trace
//! file") and `chrome://tracing` load: one track per coroutine (named
//! with its task's name, if it has one: [`Trace::task_name`]), one slice
//! per run (from its resume to its suspend, named by why it stopped), the
//! scheduler's polls on a track of their own, and a flow arrow from each
//! waker to the run it caused.
//! [`Trace::write_html`] writes the same timeline as one self-contained
//! HTML page that any browser opens offline (zoom, pan, hover, wake-up
//! arrows; usable at a million events).
//!
//! Timestamps are the CPU's time-stamp counter on x86-64 (read in a few
//! nanoseconds, converted to nanoseconds against the monotonic clock when
//! the trace is taken), the monotonic clock elsewhere. With tracing off,
//! each place that would record costs one predictable branch.
//!
//! # Examples
//!
//! ```
//! use corio::trace::{EventKind, SuspendReason};
//!
//! let mut rt = corio::Runtime::builder().trace(1024).build()?;
//! rt.block_on(|| {
//!     let child = corio::spawn(|| corio::yield_now());
//!     child.join().unwrap();
//! });
//! let trace = rt.take_trace().expect("tracing is on");
//! let yields = trace
//!     .events()
//!     .iter()
//!     .filter(|e| e.kind == EventKind::Suspend(SuspendReason::Yield))
//!     .count();
//! assert!(yields >= 1);
//! // Perfetto loads this file.
//! let mut json = Vec::new();
//! trace.write_chrome_json(&mut json)?;
//! assert!(json.starts_with(b"{\"traceEvents\":["));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::HashMap;
use std::fmt;

mod chrome;
mod html;

mod json;
mod recorder;

pub(crate) use recorder::{LoggedStall, Recorder, STALL_LOG_CAPACITY, StallLog, clock};

/// One thing the scheduler did, at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// Nanoseconds since tracing began (the runtime was built).
    pub at_ns: u64,
    /// The task it concerns ([`TaskId::as_u64`](crate::TaskId::as_u64));
    /// 0 for the scheduler itself (a poll).
    pub task: u64,
    /// What happened.
    pub kind: EventKind,
}

/// What an [`Event`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EventKind {
    /// The task was spawned, by the task `parent` (0: by code outside any
    /// coroutine, such as a `Handle` job or `block_on`).
    Spawn {
        /// Who spawned it.
        parent: u64,
    },
    /// The task got the CPU: a switch into it.
    Resume,
    /// The task gave the CPU back, and why.
    Suspend(SuspendReason),
    /// The parked task became runnable, and what made it so.
    Wake(WakeCause),
    /// The scheduler asked the poller for events: how many it got, and how
    /// long it blocked waiting for them (0 for a poll while tasks were
    /// runnable).
    Poll {
        /// Events `epoll_wait` returned.
        events: u32,
        /// Nanoseconds spent in the poll.
        waited_ns: u64,
    },
    /// The task returned (or its panic was caught): it is gone.
    Finish,
}

/// Why a task gave the CPU back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SuspendReason {
    /// `yield_now`: it goes to the back of the run queue.
    Yield,
    /// A socket said "would block".
    Io {
        /// The socket's reactor token.
        token: usize,
        /// Waiting to write (else to read).
        writable: bool,
    },
    /// `sleep`, or a wait with a timeout and nothing else to wait for.
    Sleep,
    /// `JoinHandle::join` (or a scope's end) on a task that has not ended.
    Join,
    /// A channel receive on an empty channel, a send on a full one, a
    /// `select!`.
    Channel,
    /// A `Mutex`, `RwLock`, `Condvar`, `Barrier`, `Semaphore` or `Once`.
    Lock,
    /// Something another OS thread will end: `spawn_blocking`, a join of a
    /// task on another runtime.
    OtherThread,
    /// `thread::park`, or a sleep without end.
    Park,
}

/// What made a parked task runnable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WakeCause {
    /// The coroutine with this id (it sent, unlocked, returned, …).
    Task(u64),
    /// A readiness event from the poller.
    Io,
    /// Its deadline passed.
    Timer,
    /// A job another OS thread posted (a `Send` sender, a `Handle`, a
    /// finished `spawn_blocking`).
    OtherThread,
    /// The scheduler itself, outside any coroutine (a destructor or log
    /// backend it ran).
    Scheduler,
}

impl fmt::Display for SuspendReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SuspendReason::Io {
                token,
                writable: false,
            } => write!(f, "read #{token}"),
            SuspendReason::Io {
                token,
                writable: true,
            } => write!(f, "write #{token}"),
            other => f.write_str(other.word()),
        }
    }
}

impl SuspendReason {
    /// One word for the reason (the socket's token left out).
    fn word(self) -> &'static str {
        match self {
            SuspendReason::Yield => "yield",
            SuspendReason::Io {
                writable: false, ..
            } => "read",
            SuspendReason::Io { writable: true, .. } => "write",
            SuspendReason::Sleep => "sleep",
            SuspendReason::Join => "join",
            SuspendReason::Channel => "channel",
            SuspendReason::Lock => "lock",
            SuspendReason::OtherThread => "other thread",
            SuspendReason::Park => "park",
        }
    }
}

/// The events a runtime recorded, from
/// [`Runtime::take_trace`](crate::Runtime::take_trace). See the module docs.
///
/// # Examples
///
/// ```
/// let mut rt = corio::Runtime::builder().trace(4).build()?;
/// rt.block_on(|| {
///     let other = corio::spawn(|| corio::yield_now());
///     for _ in 0..10 {
///         corio::yield_now();
///     }
///     other.join().unwrap();
/// });
/// let trace = rt.take_trace().unwrap();
/// // The ring holds 4; the rest were dropped, oldest first, and counted.
/// assert_eq!(trace.events().len(), 4);
/// assert!(trace.dropped() > 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Trace {
    events: Vec<Event>,
    dropped: u64,
    /// The names of the named tasks among the events' (`Builder::name`).
    names: HashMap<u64, Box<str>>,
    /// The stalls reported while these events were recorded, oldest first.
    stalls: Vec<StallNote>,
}

/// A stall the watchdog reported while tracing was on
/// ([`Builder::stall_threshold`](crate::runtime::Builder::stall_threshold)):
/// a coroutine kept its runtime's OS thread past the threshold, so nothing
/// else of the runtime ran. The Chrome JSON draws it as a slice named
/// "stall" inside the run slice, the HTML page as a red band on the task's
/// row with the report on hover, and lists the reports at the top.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
///
/// let mut rt = corio::Runtime::builder()
///     .trace(1024)
///     .stall_threshold(Some(Duration::from_millis(20)))
///     .build()?;
/// rt.block_on(|| std::thread::sleep(Duration::from_millis(100)));
/// let trace = rt.take_trace().unwrap();
/// let stall = &trace.stalls()[0];
/// assert!(stall.report.contains("nanosleep"));
/// assert!(stall.held_ns >= 100_000_000);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StallNote {
    /// When the coroutine began to hold the thread, on the events' clock
    /// ([`Event::at_ns`]): the start of its run slice when the trace holds
    /// it, else when the watchdog first saw it (up to a quarter of the
    /// threshold later).
    pub at_ns: u64,
    /// The coroutine (an [`Event::task`]).
    pub task: u64,
    /// How long it held the thread: its run slice's length when the trace
    /// holds both ends, else as the watchdog last sampled it.
    pub held_ns: u64,
    /// The report the watchdog printed (or gave `on_stall`) when the stall
    /// passed the threshold: who, which thread, what it was doing, the hint.
    pub report: String,
}

impl Trace {
    /// The events, oldest first.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::trace::EventKind;
    ///
    /// let mut rt = corio::Runtime::builder().trace(64).build()?;
    /// rt.block_on(|| ());
    /// let trace = rt.take_trace().unwrap();
    /// // The root was spawned, ran, and finished.
    /// let kinds: Vec<_> = trace.events().iter().map(|e| e.kind).collect();
    /// assert!(matches!(kinds[..], [EventKind::Spawn { .. }, EventKind::Resume, EventKind::Finish]));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// How many events the full ring overwrote before they were taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = corio::Runtime::builder().trace(1 << 16).build()?;
    /// rt.block_on(|| corio::yield_now());
    /// assert_eq!(rt.take_trace().unwrap().dropped(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The name `task` (an [`Event::task`]) was spawned with
    /// ([`thread::Builder::name`](crate::thread::Builder::name)), if it had
    /// one and was spawned while tracing was on. The Chrome JSON names the
    /// task's track with it.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = corio::Runtime::builder().trace(64).build()?;
    /// let id = rt.block_on(|| {
    ///     let worker = corio::thread::Builder::new()
    ///         .name("worker".into())
    ///         .spawn(|| corio::yield_now())?;
    ///     let id = worker.thread().task_id().as_u64();
    ///     worker.join().unwrap();
    ///     Ok::<_, std::io::Error>(id)
    /// })?;
    /// let trace = rt.take_trace().unwrap();
    /// assert_eq!(trace.task_name(id), Some("worker"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn task_name(&self, task: u64) -> Option<&str> {
        self.names.get(&task).map(|name| &**name)
    }

    /// The stalls the watchdog reported while these events were recorded,
    /// oldest first; empty when the runtime has no stall threshold. See
    /// [`StallNote`].
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = corio::Runtime::builder().trace(64).build()?;
    /// rt.block_on(|| corio::yield_now());
    /// // A coroutine that yields never stalls its runtime.
    /// assert!(rt.take_trace().unwrap().stalls().is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stalls(&self) -> &[StallNote] {
        &self.stalls
    }
}
