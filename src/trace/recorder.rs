//! The recorder: the bounded ring the scheduler writes into, the clock it
//! reads, and the conversion of its raw words into a [`Trace`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{Event, EventKind, StallNote, SuspendReason, Trace, WakeCause};

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
    /// The stalls the watchdog reported for this runtime, when it watches
    /// it: written by the watchdog's thread, so behind a lock of its own
    /// (the ring stays lock-free).
    stalls: Option<StallLog>,
}

/// A stall as the watchdog logs it for the trace, from its thread.
#[derive(Debug)]
pub(crate) struct LoggedStall {
    /// The coroutine's serial (an [`Event::task`]).
    pub(crate) task: u64,
    /// When the watchdog saw the coroutine start holding the thread (its
    /// first sample of the unchanged beat: up to one sampling period after
    /// the real start).
    pub(crate) began: Instant,
    /// How long it held the thread, as last sampled.
    pub(crate) held: Duration,
    /// The report line printed (or given to `on_stall`) at its start.
    pub(crate) report: String,
}

/// Stalls shared by the watchdog (which appends and updates) and the
/// runtime's recorder (which takes them with the events). At most
/// [`STALL_LOG_CAPACITY`] wait between two takes; later ones are counted
/// as dropped.
pub(crate) type StallLog = Arc<Mutex<Vec<LoggedStall>>>;

/// How many stalls a [`StallLog`] keeps between two takes.
pub(crate) const STALL_LOG_CAPACITY: usize = 1024;

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
            stalls: None,
        }
    }

    /// Takes stall reports from `log` into every later trace.
    pub(crate) fn log_stalls(&mut self, log: StallLog) {
        self.stalls = Some(log);
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
        let stalls = self.take_stalls(&events);
        Trace {
            events,
            dropped,
            names,
            stalls,
        }
    }

    /// The stalls logged since the last take, placed on the timeline of
    /// `events`: a stall is one run slice, so where the trace holds that
    /// slice it gives the exact start and length; where the ring dropped
    /// its start, or it was still running, the watchdog's sampled figures
    /// stand.
    fn take_stalls(&self, events: &[Event]) -> Vec<StallNote> {
        let Some(log) = &self.stalls else {
            return Vec::new();
        };
        let logged = std::mem::take(&mut *log.lock().unwrap_or_else(PoisonError::into_inner));
        let mut notes: Vec<StallNote> = logged
            .into_iter()
            .map(|stall| {
                let seen_ns = nanos(stall.began.saturating_duration_since(self.start));
                let slice = run_slice(events, stall.task, seen_ns);
                let (at_ns, held_ns) = slice.unwrap_or((seen_ns, nanos(stall.held)));
                StallNote {
                    at_ns,
                    task: stall.task,
                    held_ns,
                    report: stall.report,
                }
            })
            .collect();
        notes.sort_by_key(|note| note.at_ns);
        notes
    }
}

/// `d` in whole nanoseconds, saturating.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The run slice of `task` that was under way at `seen_ns`: its resume's
/// time and its length, if `events` hold both ends.
fn run_slice(events: &[Event], task: u64, seen_ns: u64) -> Option<(u64, u64)> {
    let after = events.partition_point(|e| e.at_ns <= seen_ns);
    let start = events[..after]
        .iter()
        .rev()
        .find(|e| e.task == task && e.kind == EventKind::Resume)?
        .at_ns;
    let end = events[after..]
        .iter()
        .find(|e| e.task == task && matches!(e.kind, EventKind::Suspend(_) | EventKind::Finish))?
        .at_ns;
    Some((start, end - start))
}
