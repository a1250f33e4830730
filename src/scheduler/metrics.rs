//! What a runtime counts: [`Stats`] for experiments, and the tick counter
//! that is both the switch count and the clock of the periodic poll.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::Core;
use super::pulse::Pulse;
use crate::trace;

/// Counters of one runtime, for experiments: how much switching and polling a
/// program caused.
///
/// # Examples
///
/// ```
/// let stats = corio::run(|| {
///     let h = corio::spawn(|| corio::yield_now());
///     h.join().unwrap();
///     corio::stats()
/// });
/// assert_eq!(stats.spawned, 2); // the root and the child
/// assert_eq!(stats.completed, 1); // the child; the root is still running
/// ```
///
/// Two coroutines that yield to each other 1,000 times each are switched in
/// about 2,000 times, however corio hands the CPU over:
///
/// ```
/// let switches = corio::run(|| {
///     let before = corio::stats().switches;
///     let other = corio::spawn(|| (0..1000).for_each(|_| corio::yield_now()));
///     (0..1000).for_each(|_| corio::yield_now());
///     other.join().unwrap();
///     corio::stats().switches - before
/// });
/// assert!((2000..=2003).contains(&switches), "{switches}");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Times a coroutine was switched in, that is, given the CPU: by the
    /// scheduler loop, or by a coroutine that hands over directly (a
    /// `yield_now` or a wait that runs the next task from its own stack, and
    /// the switch back into it when that task stops). A `yield_now` with
    /// nobody else to run switches nowhere and is not counted; neither is
    /// the unwinding of coroutines when a runtime is dropped.
    pub switches: u64,
    /// Tasks spawned, the roots of `block_on` included.
    pub spawned: u64,
    /// Tasks that ended by returning or panicking (not those unwound when
    /// their runtime was dropped).
    pub completed: u64,
    /// Calls into the poller (`epoll_wait`), blocking or not.
    pub polls: u64,
    /// Readiness events the poller returned (one per socket per call, for
    /// any mix of readable and writable).
    pub events: u64,
}

/// [`Stats`] as cells, bumped where things happen (`switches` is kept by
/// [`Ticks`]).
#[derive(Default)]
pub(super) struct StatCells {
    pub(super) spawned: Cell<u64>,
    pub(super) completed: Cell<u64>,
    pub(super) polls: Cell<u64>,
    pub(super) events: Cell<u64>,
}

pub(super) fn bump(cell: &Cell<u64>, by: u64) {
    cell.set(cell.get() + by);
}

/// The scheduler's tick counter, which is also its switch counter.
///
/// Every switch into a coroutine is a tick: a resume by the loop or by a
/// host, and a host's getting the CPU back at the end of its pass. So is a
/// yield that finds nobody else to run, which switches nowhere (an *idle*
/// tick). Every `interval` ticks the scheduler takes ready I/O and due
/// timers without blocking. A tick is one subtraction from the ticks left
/// and a branch; the switch count is worked out from them when asked.
///
/// The ticks left live in the runtime's [`Pulse`], where the stall watchdog
/// sees them move: a relaxed atomic, the same plain load and store as a
/// `Cell` (only this thread writes it).
pub(super) struct Ticks {
    /// What `left` starts each interval at: the ticks between two polls
    /// (`runtime::Builder::event_interval`, >= 1) less one.
    full: i64,
    /// Its `left`: ticks left until the next poll, less one, so that the
    /// poll is due once it is negative (a step of two may pass -1); reloaded
    /// to `full` after each poll; and what else the watchdog reads.
    /// Less one because "negative" is the sign bit the subtraction sets,
    /// where "0 or less" needs a comparison of its own, an instruction on
    /// every switch.
    pub(super) pulse: Pulse,
    /// Switches counted up to the last reload of the ticks left.
    switches_before: Cell<u64>,
    /// Idle ticks (counted, but switched nowhere) since that reload.
    idle: Cell<u64>,
}

impl Ticks {
    /// A counter that first falls due after `interval` ticks, of runtime
    /// `runtime` (whose thread is the calling one).
    pub(super) fn new(interval: u32, runtime: u32) -> Ticks {
        assert!(interval >= 1, "the builder validates event_interval");
        let full = i64::from(interval) - 1;
        Ticks {
            full,
            pulse: Pulse::new(runtime, full),
            switches_before: Cell::new(0),
            idle: Cell::new(0),
        }
    }

    /// Counts `n` ticks; `true` when a poll is due, which the caller must
    /// then do, and [`Ticks::reload`].
    #[inline(always)]
    pub(super) fn tick(&self, n: i64) -> bool {
        let left = self.pulse.left.load(Relaxed) - n;
        self.pulse.left.store(left, Relaxed);
        left < 0
    }

    /// Notes that one tick counted switches nowhere.
    pub(super) fn note_idle(&self) {
        bump(&self.idle, 1);
    }

    /// Switches so far.
    pub(super) fn switches(&self) -> u64 {
        let left = self.pulse.left.load(Relaxed);
        let ticked = u64::try_from(self.full - left).expect("left never exceeds where it starts");
        self.switches_before.get() + ticked - self.idle.get()
    }

    /// Starts the next interval.
    pub(super) fn reload(&self) {
        self.switches_before.set(self.switches());
        self.idle.set(0);
        self.pulse.left.store(self.full, Relaxed);
        let epoch = &self.pulse.epoch;
        epoch.store(epoch.load(Relaxed).wrapping_add(1), Relaxed);
    }
}

/// What one task cost the scheduler: how often it ran, for how long, and
/// how long it waited for the CPU once it could run.
///
/// `switches` is always counted. The durations are measured only in a
/// runtime built with `runtime::Builder::task_metrics(true)` (two readings
/// of the CPU's cycle counter per switch, the clock the trace uses), and
/// are zero otherwise. A task's metrics stay readable from its
/// `JoinHandle` after it finished.
///
/// # Examples
///
/// ```
/// use corio::runtime::Runtime;
///
/// let mut rt = Runtime::builder().task_metrics(true).build().unwrap();
/// let metrics = rt.block_on(|| {
///     let worker = corio::spawn(|| (0..3).for_each(|_| corio::yield_now()));
///     while !worker.is_finished() {
///         corio::yield_now();
///     }
///     worker.metrics()
/// });
/// assert_eq!(metrics.switches, 4); // its first run and three yields
/// assert!(metrics.busy >= metrics.longest_slice);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TaskMetrics {
    /// Times the task was switched in (given the CPU), counted as
    /// [`Stats::switches`] counts them.
    pub switches: u64,
    /// Time it spent running, over all its slices.
    pub busy: Duration,
    /// Its longest slice: the longest it kept the thread between two
    /// switches.
    pub longest_slice: Duration,
    /// Time it spent runnable but waiting for the CPU: from its spawn, its
    /// yield or its wake-up to its next switch-in.
    pub queued: Duration,
    /// The longest of those waits.
    pub longest_queued: Duration,
}

/// [`TaskMetrics`] as they are counted, in the task's join slot, where they
/// outlive the task. Times are in trace clock ticks.
#[derive(Debug, Default)]
pub(crate) struct TaskCounters {
    /// Times switched in.
    pub(crate) switches: Cell<u64>,
    /// Whether its `JoinHandle::cancel` was called. Here, beside the switch
    /// count, because the one place that must read it on a hot path (the
    /// end of a yield's pass, `hosting.rs`) already holds this struct.
    pub(crate) cancelled: Cell<bool>,
    /// Clock at the last switch-in (running) or at becoming runnable.
    since: Cell<u64>,
    busy: Cell<u64>,
    longest_slice: Cell<u64>,
    queued: Cell<u64>,
    longest_queued: Cell<u64>,
}

impl TaskCounters {
    /// Counts a switch in. A plain add.
    #[inline(always)]
    pub(crate) fn switched_in(&self) {
        self.switches.set(self.switches.get() + 1);
    }

    /// Timed runtimes: the task is switched in `now`, after waiting since
    /// it became runnable.
    #[inline]
    pub(crate) fn start_slice(&self, now: u64) {
        let waited = now.saturating_sub(self.since.get());
        self.queued.set(self.queued.get() + waited);
        self.longest_queued
            .set(self.longest_queued.get().max(waited));
        self.since.set(now);
    }

    /// Timed runtimes: the task stops running `now`.
    #[inline]
    pub(crate) fn end_slice(&self, now: u64) {
        let ran = now.saturating_sub(self.since.get());
        self.busy.set(self.busy.get() + ran);
        self.longest_slice.set(self.longest_slice.get().max(ran));
        self.since.set(now);
    }

    /// Timed runtimes: the task becomes runnable `now` (spawned, woken).
    #[inline]
    pub(crate) fn runnable(&self, now: u64) {
        self.since.set(now);
    }

    /// The counters as metrics.
    pub(crate) fn metrics(&self) -> TaskMetrics {
        TaskMetrics {
            switches: self.switches.get(),
            busy: clock_duration(self.busy.get()),
            longest_slice: clock_duration(self.longest_slice.get()),
            queued: clock_duration(self.queued.get()),
            longest_queued: clock_duration(self.longest_queued.get()),
        }
    }
}

/// Starts the calibration of the trace clock against `Instant`, once per
/// process: called by every runtime that measures task times, before its
/// first reading.
pub(super) fn start_clock_calibration() {
    calibration_origin();
}

/// The trace clock and `Instant` read together once, the origin of every
/// conversion.
fn calibration_origin() -> (u64, Instant) {
    static ORIGIN: OnceLock<(u64, Instant)> = OnceLock::new();
    *ORIGIN.get_or_init(|| (trace::clock(), Instant::now()))
}

/// `ticks` of the trace clock as a `Duration`, at the rate measured from
/// the calibration origin to now (on x86-64 the cycle counter runs at a
/// constant rate; elsewhere the clock is in nanoseconds already and the
/// rate is 1).
fn clock_duration(ticks: u64) -> Duration {
    if ticks == 0 {
        return Duration::ZERO;
    }
    let (origin_clock, origin) = calibration_origin();
    let elapsed_ticks = trace::clock().wrapping_sub(origin_clock);
    let elapsed_ns = origin.elapsed().as_nanos() as f64;
    let ns_per_tick = if elapsed_ticks == 0 || elapsed_ns == 0.0 {
        1.0
    } else {
        elapsed_ns / elapsed_ticks as f64
    };
    Duration::from_nanos((ticks as f64 * ns_per_tick) as u64)
}

impl Core {
    /// A snapshot of the counters.
    pub(crate) fn stats(&self) -> Stats {
        let s = &self.stats;
        Stats {
            switches: self.ticks.switches(),
            spawned: s.spawned.get(),
            completed: s.completed.get(),
            polls: s.polls.get(),
            events: s.events.get(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_count_switches_but_not_idle_ticks() {
        let ticks = Ticks::new(3, 1);
        assert!(!ticks.tick(1));
        ticks.note_idle();
        assert!(!ticks.tick(1));
        assert!(ticks.tick(1), "the third tick falls due");
        ticks.reload();
        assert_eq!(ticks.switches(), 2);
        assert!(!ticks.tick(1));
        assert_eq!(ticks.switches(), 3);
    }

    #[test]
    fn a_step_of_two_past_zero_falls_due_and_counts_both() {
        let ticks = Ticks::new(3, 1);
        assert!(!ticks.tick(2));
        assert!(ticks.tick(2), "3 - 4 < 0: due");
        assert_eq!(ticks.switches(), 4);
        ticks.reload();
        assert_eq!(ticks.switches(), 4);
        assert!(!ticks.tick(1));
        assert_eq!(ticks.switches(), 5);
    }
}
