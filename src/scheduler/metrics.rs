//! What a runtime counts: [`Stats`] for experiments, and the tick counter
//! that is both the switch count and the clock of the periodic poll.

use std::cell::Cell;

use super::Core;

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
/// timers without blocking. A tick is one subtraction from `left` and a
/// branch; the switch count is worked out from `left` when asked.
pub(super) struct Ticks {
    /// Ticks between two polls (`runtime::Builder::event_interval`), >= 1.
    interval: i64,
    /// Ticks left until the next poll: a poll is due once it is 0 or less
    /// (a step of two may pass 0). Reloaded to `interval` after each poll.
    left: Cell<i64>,
    /// Switches counted up to the last reload of `left`.
    switches_before: Cell<u64>,
    /// Idle ticks (counted, but switched nowhere) since that reload.
    idle: Cell<u64>,
}

impl Ticks {
    /// A counter that first falls due after `interval` ticks.
    pub(super) fn new(interval: u32) -> Ticks {
        assert!(interval >= 1, "the builder validates event_interval");
        Ticks {
            interval: i64::from(interval),
            left: Cell::new(i64::from(interval)),
            switches_before: Cell::new(0),
            idle: Cell::new(0),
        }
    }

    /// Counts `n` ticks; `true` when a poll is due, which the caller must
    /// then do, and [`Ticks::reload`].
    #[inline(always)]
    pub(super) fn tick(&self, n: i64) -> bool {
        let left = self.left.get() - n;
        self.left.set(left);
        left <= 0
    }

    /// Notes that one tick counted switches nowhere.
    pub(super) fn note_idle(&self) {
        bump(&self.idle, 1);
    }

    /// Switches so far.
    pub(super) fn switches(&self) -> u64 {
        let ticked =
            u64::try_from(self.interval - self.left.get()).expect("left never exceeds interval");
        self.switches_before.get() + ticked - self.idle.get()
    }

    /// Starts the next interval.
    pub(super) fn reload(&self) {
        self.switches_before.set(self.switches());
        self.idle.set(0);
        self.left.set(self.interval);
    }
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
        let ticks = Ticks::new(3);
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
        let ticks = Ticks::new(3);
        assert!(!ticks.tick(2));
        assert!(ticks.tick(2), "3 - 4 < 0: due");
        assert_eq!(ticks.switches(), 4);
        ticks.reload();
        assert_eq!(ticks.switches(), 4);
        assert!(!ticks.tick(1));
        assert_eq!(ticks.switches(), 5);
    }
}
