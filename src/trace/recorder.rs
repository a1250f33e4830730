//! The recorder: the bounded ring the scheduler writes into, the clock it
//! reads, and the conversion of its raw words into a [`Trace`].

use std::collections::HashMap;
use std::time::Instant;

use super::{Event, EventKind, SuspendReason, Trace, WakeCause};

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
