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

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, Write};
use std::time::Instant;

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

    /// Writes the whole trace as a Chrome trace-event JSON document (the
    /// format Perfetto and `chrome://tracing` open). Streams: nothing is
    /// allocated per event, so wrap a file in a `BufWriter`.
    ///
    /// # Errors
    ///
    /// What `out` returns.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = corio::Runtime::builder().trace(1024).build()?;
    /// rt.block_on(|| corio::spawn(|| ()).join().unwrap());
    /// let path = std::env::temp_dir().join("corio-doc-trace.json");
    /// let file = std::io::BufWriter::new(std::fs::File::create(&path)?);
    /// rt.take_trace().unwrap().write_chrome_json(file)?;
    /// # std::fs::remove_file(path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_chrome_json<W: Write>(&self, mut out: W) -> io::Result<()> {
        out.write_all(b"{\"traceEvents\":[\n")?;
        out.write_all(
            b"{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1,\"tid\":0,\"ts\":0,\
              \"args\":{\"name\":\"corio runtime\"}}",
        )?;
        self.write_chrome_events(&mut out, 1, 0)?;
        write!(
            out,
            "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{{\"dropped_events\":{}}}}}\n",
            self.dropped
        )?;
        out.flush()
    }

    /// Writes the events as Chrome trace events of process `pid`, each as
    /// `,\n{...}`: for a caller that merges this runtime's timeline into a
    /// `traceEvents` array of its own, after at least one event. Tracks
    /// (`tid`): 0 for the scheduler, the task's id for each coroutine.
    /// `shift_ns` is added to every timestamp, to line the runtime's zero
    /// (when it was built) up with the zero of the caller's timeline.
    ///
    /// # Errors
    ///
    /// What `out` returns.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = corio::Runtime::builder().trace(1024).build()?;
    /// rt.block_on(|| corio::yield_now());
    /// let mut json = b"{\"traceEvents\":[{\"ph\":\"M\",\"name\":\"process_name\",\
    ///     \"pid\":7,\"tid\":0,\"ts\":0,\"args\":{\"name\":\"mine\"}}".to_vec();
    /// rt.take_trace().unwrap().write_chrome_events(&mut json, 7, 0)?;
    /// json.extend_from_slice(b"]}");
    /// assert!(json.ends_with(b"}]}"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_chrome_events<W: Write>(
        &self,
        out: &mut W,
        pid: u32,
        shift_ns: u64,
    ) -> io::Result<()> {
        /// Chrome's `ts` is in microseconds.
        struct Micros(u64);
        impl fmt::Display for Micros {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
            }
        }
        write!(
            out,
            ",\n{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":{pid},\"tid\":0,\"ts\":0,\
             \"args\":{{\"name\":\"scheduler (polls)\"}}}}"
        )?;
        // Per task: when its current run began, and the flow waiting to
        // land on its next run. Grows per task, not per event.
        let mut open: HashMap<u64, u64> = HashMap::new();
        let mut flows: HashMap<u64, u64> = HashMap::new();
        let mut named: HashSet<u64> = HashSet::new();
        let mut next_flow = 1u64;
        for e in &self.events {
            let at_ns = e.at_ns + shift_ns;
            let (ts, tid) = (Micros(at_ns), e.task);
            if tid != 0 && named.insert(tid) {
                write!(
                    out,
                    ",\n{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":{pid},\"tid\":{tid},\
                     \"ts\":0,\"args\":{{\"name\":\"task {tid}"
                )?;
                if let Some(name) = self.task_name(tid) {
                    out.write_all(b" '")?;
                    write_json_escaped(out, name)?;
                    out.write_all(b"'")?;
                }
                out.write_all(b"\"}}")?;
            }
            match e.kind {
                EventKind::Spawn { parent } => write!(
                    out,
                    ",\n{{\"ph\":\"i\",\"s\":\"t\",\"name\":\"spawn\",\"pid\":{pid},\
                     \"tid\":{tid},\"ts\":{ts},\"args\":{{\"parent\":{parent}}}}}"
                )?,
                EventKind::Resume => {
                    open.insert(tid, at_ns);
                    if let Some(id) = flows.remove(&tid) {
                        write!(
                            out,
                            ",\n{{\"ph\":\"f\",\"bp\":\"e\",\"cat\":\"wake\",\"name\":\"wake\",\
                             \"id\":{id},\"pid\":{pid},\"tid\":{tid},\"ts\":{ts}}}"
                        )?;
                    }
                }
                EventKind::Suspend(reason) => {
                    if let Some(start) = open.remove(&tid) {
                        write!(
                            out,
                            ",\n{{\"ph\":\"X\",\"name\":\"run → {reason}\",\"cat\":\"run\",\
                             \"pid\":{pid},\"tid\":{tid},\"ts\":{},\"dur\":{},\
                             \"args\":{{\"then\":\"{}\"}}}}",
                            Micros(start),
                            Micros(at_ns - start),
                            reason.word()
                        )?;
                    }
                }
                EventKind::Finish => {
                    if let Some(start) = open.remove(&tid) {
                        write!(
                            out,
                            ",\n{{\"ph\":\"X\",\"name\":\"run → finish\",\"cat\":\"run\",\
                             \"pid\":{pid},\"tid\":{tid},\"ts\":{},\"dur\":{}}}",
                            Micros(start),
                            Micros(at_ns - start)
                        )?;
                    }
                    write!(
                        out,
                        ",\n{{\"ph\":\"i\",\"s\":\"t\",\"name\":\"finish\",\"pid\":{pid},\
                         \"tid\":{tid},\"ts\":{ts}}}"
                    )?;
                }
                EventKind::Wake(cause) => {
                    let (from, what) = match cause {
                        WakeCause::Task(waker) => (waker, "task"),
                        WakeCause::Io => (0, "io"),
                        WakeCause::Timer => (0, "timer"),
                        WakeCause::OtherThread => (0, "other thread"),
                        WakeCause::Scheduler => (0, "scheduler"),
                    };
                    let id = next_flow;
                    next_flow += 1;
                    flows.insert(tid, id);
                    write!(
                        out,
                        ",\n{{\"ph\":\"i\",\"s\":\"t\",\"name\":\"woken ({what})\",\
                         \"pid\":{pid},\"tid\":{tid},\"ts\":{ts},\"args\":{{\"by\":{from}}}}}\
                         ,\n{{\"ph\":\"s\",\"cat\":\"wake\",\"name\":\"wake\",\"id\":{id},\
                         \"pid\":{pid},\"tid\":{from},\"ts\":{ts}}}"
                    )?;
                }
                EventKind::Poll { events, waited_ns } => {
                    let start = at_ns.saturating_sub(waited_ns);
                    write!(
                        out,
                        ",\n{{\"ph\":\"X\",\"name\":\"poll: {events} events\",\"cat\":\"poll\",\
                         \"pid\":{pid},\"tid\":0,\"ts\":{},\"dur\":{},\
                         \"args\":{{\"events\":{events}}}}}",
                        Micros(start),
                        Micros(waited_ns)
                    )?;
                }
            }
        }
        Ok(())
    }
}

/// Writes `text` as the inside of a JSON string: quotes, backslashes and
/// control characters escaped.
fn write_json_escaped<W: Write>(out: &mut W, text: &str) -> io::Result<()> {
    let mut plain = 0;
    for (at, c) in text.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        out.write_all(&text.as_bytes()[plain..at])?;
        if escape.is_empty() {
            write!(out, "\\u{:04x}", c as u32)?;
        } else {
            out.write_all(escape.as_bytes())?;
        }
        plain = at + c.len_utf8();
    }
    out.write_all(&text.as_bytes()[plain..])
}

/// A raw event in the ring: a clock reading, the task, and the kind packed
/// into one word (24 bytes where an [`Event`] takes 40: the ring's stores
/// are most of tracing's cost once it outgrows the cache). A poll, which has
/// no task, keeps its duration in `task`.
#[derive(Clone, Copy)]
struct Raw {
    clock: u64,
    task: u64,
    data: u64,
}

const SPAWN: u64 = 0;
const RESUME: u64 = 1;
const SUSPEND: u64 = 2;
const WAKE: u64 = 3;
const POLL: u64 = 4;
const FINISH: u64 = 5;

/// The reasons in the order of their codes.
const REASONS: [SuspendReason; 9] = [
    SuspendReason::Yield,
    SuspendReason::Io {
        token: 0,
        writable: false,
    },
    SuspendReason::Sleep,
    SuspendReason::Join,
    SuspendReason::Channel,
    SuspendReason::Lock,
    SuspendReason::OtherThread,
    SuspendReason::Park,
    SuspendReason::Io {
        token: 0,
        writable: true,
    },
];

impl Raw {
    /// Packs `kind` of `task`, read at `clock`.
    #[inline(always)]
    fn pack(clock: u64, task: u64, kind: EventKind) -> Raw {
        let (task, data) = match kind {
            EventKind::Spawn { parent } => (task, SPAWN | parent << 8),
            EventKind::Resume => (task, RESUME),
            EventKind::Suspend(reason) => {
                let (code, token) = match reason {
                    SuspendReason::Yield => (0, 0),
                    SuspendReason::Io {
                        token,
                        writable: false,
                    } => (1, token),
                    SuspendReason::Sleep => (2, 0),
                    SuspendReason::Join => (3, 0),
                    SuspendReason::Channel => (4, 0),
                    SuspendReason::Lock => (5, 0),
                    SuspendReason::OtherThread => (6, 0),
                    SuspendReason::Park => (7, 0),
                    SuspendReason::Io {
                        token,
                        writable: true,
                    } => (8, token),
                };
                (task, SUSPEND | code << 8 | (token as u64) << 16)
            }
            EventKind::Wake(cause) => {
                let (code, by) = match cause {
                    WakeCause::Task(by) => (0, by),
                    WakeCause::Io => (1, 0),
                    WakeCause::Timer => (2, 0),
                    WakeCause::OtherThread => (3, 0),
                    WakeCause::Scheduler => (4, 0),
                };
                (task, WAKE | code << 8 | by << 16)
            }
            EventKind::Poll { events, waited_ns } => (waited_ns, POLL | u64::from(events) << 8),
            EventKind::Finish => (task, FINISH),
        };
        Raw { clock, task, data }
    }

    /// The task and kind packed by [`Raw::pack`]; a poll's duration still
    /// in clock ticks.
    fn unpack(self) -> (u64, EventKind) {
        let value = self.data >> 8;
        let kind = match self.data & 0xff {
            SPAWN => EventKind::Spawn { parent: value },
            RESUME => EventKind::Resume,
            SUSPEND => {
                let reason = match REASONS[(value & 0xff) as usize] {
                    SuspendReason::Io { writable, .. } => SuspendReason::Io {
                        token: (value >> 8) as usize,
                        writable,
                    },
                    other => other,
                };
                EventKind::Suspend(reason)
            }
            WAKE => EventKind::Wake(match value & 0xff {
                0 => WakeCause::Task(value >> 8),
                1 => WakeCause::Io,
                2 => WakeCause::Timer,
                3 => WakeCause::OtherThread,
                _ => WakeCause::Scheduler,
            }),
            POLL => {
                return (
                    0,
                    EventKind::Poll {
                        events: value as u32,
                        waited_ns: self.task,
                    },
                );
            }
            _ => EventKind::Finish,
        };
        (self.task, kind)
    }
}

/// The runtime's recorder: a ring of [`Raw`] events and the clock
/// calibration. Lives in the scheduler, only when tracing is on.
pub(crate) struct Recorder {
    ring: Vec<Raw>,
    /// Where the next event goes once the ring is full.
    next: usize,
    capacity: usize,
    dropped: u64,
    /// The names of named tasks spawned while tracing, kept until a take
    /// has handed over their `Finish`.
    names: HashMap<u64, Box<str>>,
    /// The clock and `Instant` at the start, for converting readings.
    start_clock: u64,
    start: Instant,
}

/// A reading of the trace clock: the time-stamp counter on x86-64.
#[inline(always)]
#[cfg(target_arch = "x86_64")]
pub(crate) fn clock() -> u64 {
    // SAFETY: RDTSC has no preconditions on x86-64; it only reads a counter.
    #[allow(unused_unsafe)]
    unsafe {
        std::arch::x86_64::_rdtsc()
    }
}

/// A reading of the trace clock: nanoseconds of the monotonic clock.
#[inline(always)]
#[cfg(not(target_arch = "x86_64"))]
pub(crate) fn clock() -> u64 {
    use std::sync::OnceLock;
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Instant::now);
    u64::try_from(origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl Recorder {
    /// A recorder that keeps the newest `capacity` events (at least 1).
    pub(crate) fn new(capacity: usize) -> Recorder {
        let capacity = capacity.max(1);
        Recorder {
            ring: Vec::with_capacity(capacity.min(1 << 20)),
            next: 0,
            capacity,
            dropped: 0,
            names: HashMap::new(),
            start_clock: clock(),
            start: Instant::now(),
        }
    }

    /// Records that `kind` happened to `task` now.
    #[inline]
    pub(crate) fn record(&mut self, task: u64, kind: EventKind) {
        let raw = Raw::pack(clock(), task, kind);
        if self.ring.len() < self.capacity {
            self.ring.push(raw);
        } else {
            self.ring[self.next] = raw;
            self.next += 1;
            if self.next == self.capacity {
                self.next = 0;
            }
            self.dropped += 1;
        }
    }

    /// Notes that `task`, just spawned, is named `name`.
    pub(crate) fn name(&mut self, task: u64, name: &str) {
        self.names.insert(task, name.into());
    }

    /// Nanoseconds per clock tick, measured over the recording so far.
    fn ns_per_tick(&self) -> f64 {
        let ticks = clock().wrapping_sub(self.start_clock);
        let nanos = self.start.elapsed().as_nanos() as f64;
        if ticks == 0 || nanos == 0.0 {
            1.0
        } else {
            nanos / ticks as f64
        }
    }

    /// Hands over the events so far, oldest first, and empties the ring.
    pub(crate) fn take(&mut self) -> Trace {
        let scale = self.ns_per_tick();
        let (newer, older) = self.ring.split_at(self.next);
        let events: Vec<Event> = older
            .iter()
            .chain(newer)
            .map(|raw| {
                let ticks = raw.clock.wrapping_sub(self.start_clock);
                let at_ns = (ticks as f64 * scale) as u64;
                let (task, kind) = raw.unpack();
                let kind = match kind {
                    // A poll's duration was recorded in ticks.
                    EventKind::Poll { events, waited_ns } => EventKind::Poll {
                        events,
                        waited_ns: (waited_ns as f64 * scale) as u64,
                    },
                    other => other,
                };
                Event { at_ns, task, kind }
            })
            .collect();
        let dropped = std::mem::take(&mut self.dropped);
        self.ring.clear();
        self.next = 0;
        // This trace names every named task; a finished one will not
        // appear in the next.
        let names = self.names.clone();
        for e in &events {
            if e.kind == EventKind::Finish {
                self.names.remove(&e.task);
            }
        }
        Trace {
            events,
            dropped,
            names,
        }
    }
}
