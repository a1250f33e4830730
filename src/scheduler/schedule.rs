//! The schedule policy: which runnable task runs next.
//!
//! [`Schedule::Fifo`] is the order documented in `DESIGN.md` (oldest
//! runnable first) and the only one the in-place hand-off (`hosting`)
//! serves: a yield there resumes exactly the tasks queued ahead, which is
//! FIFO by construction. Under [`Schedule::Random`] and [`Schedule::Pct`]
//! every switch goes through the loop, whose pick ([`Core::pick`]) asks the
//! [`Policy`]; so the choice is made in one place, once per switch, and
//! FIFO's own path is what it was, with one `match` on the policy.
//!
//! # Determinism
//!
//! A pick depends only on the seed, the number of picks made so far, the
//! tasks queued and (for PCT) their serials, all of which a program repeats
//! exactly as long as nothing from outside the runtime decides what is
//! runnable when. What does: a timer (it fires when the real clock says, so
//! a sleep can end before or after some pick), a socket, pipe, file, child
//! process or stdin (ready when the kernel says), a `spawn_blocking` job,
//! and anything sent from another OS thread (a `Handle::spawn`, a `Send`
//! channel's message, a lock released there). The order of `HashMap`
//! iteration in the program itself (a random `RandomState` per process)
//! breaks it too.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::str::FromStr;

/// How a runtime picks the next task to run, set with
/// [`runtime::Builder::schedule`](crate::runtime::Builder::schedule) or the
/// `CORIO_SCHEDULE` environment variable.
///
/// The same seed and the same program, without I/O, real timers or other
/// threads, give the same schedule, switch by switch (see
/// [`explore`](crate::runtime::explore) to try many seeds). What breaks that:
/// a timer, socket, pipe, file or child process (ready when the kernel
/// says), a `spawn_blocking` job, anything sent from another OS thread, and
/// iteration over a `HashMap` with std's random hasher.
///
/// It `Display`s, and parses from, the form `CORIO_SCHEDULE` takes: `fifo`,
/// `random:SEED`, `pct:SEED:DEPTH`.
///
/// # Examples
///
/// ```
/// use corio::runtime::{Builder, Schedule};
///
/// let schedule: Schedule = "random:7".parse()?;
/// assert_eq!(schedule, Schedule::Random { seed: 7 });
/// assert_eq!(schedule.to_string(), "random:7");
///
/// let mut rt = Builder::new().schedule(schedule).build()?;
/// let order = rt.block_on(|| {
///     let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
///     let tasks: Vec<_> = (0..3)
///         .map(|n| {
///             let log = log.clone();
///             corio::spawn(move || log.borrow_mut().push(n))
///         })
///         .collect();
///     tasks.into_iter().for_each(|t| t.join().unwrap());
///     log.take()
/// });
/// assert_eq!(order.len(), 3); // some order of 0, 1, 2: the same one for seed 7 every time
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Schedule {
    /// Oldest runnable task first: `spawn` and a wake-up append to the run
    /// queue, `yield_now` moves the caller to its back. The default.
    #[default]
    Fifo,
    /// Each pick of the next task is uniform among the runnable ones,
    /// drawn from a splitmix64 generator started at `seed`.
    Random {
        /// Starts the generator: the same seed, the same picks.
        seed: u64,
    },
    /// Probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi
    /// and Nagarakatte, ASPLOS 2010): every task gets a random priority
    /// when it is spawned, the runnable task with the highest runs, and at
    /// `depth - 1` change points (pick numbers drawn from `seed`) the task
    /// picked there drops below every task's initial priority, the `i`-th
    /// change point's task to priority `i`. A bug that needs `depth`
    /// ordering constraints between `n` tasks over `k` picks is found with
    /// probability at least `1 / (n * k^(depth - 1))` per run when the
    /// change points are drawn over the true `k`.
    ///
    /// # Step count
    ///
    /// The change points should be drawn uniformly over the run's number
    /// of picks, which is not known before the run ends, and a seed must
    /// give the same schedule in a fresh process, so the estimate cannot
    /// come from an earlier run. Each change point therefore draws its own
    /// estimate `k` from 16, 32, 64, ..., 65,536 (13 powers of two, equal
    /// odds), then its pick number uniformly in `1..=k`. For a run of `n`
    /// picks, a given pick `s <= n` is chosen with probability at least
    /// `1 / (13 * 2 * max(s, 16))`: within a factor of 26 of a draw over
    /// the true length for short runs and long ones alike.
    ///
    /// `depth` 0 makes [`Builder::build`](crate::runtime::Builder::build)
    /// fail with `InvalidInput`; `depth` 1 is priorities alone, no change
    /// point.
    Pct {
        /// Starts the generator for the priorities and the change points.
        seed: u64,
        /// One more than the number of priority change points.
        depth: u32,
    },
}

/// The forms `CORIO_SCHEDULE` and [`Schedule::from_str`] accept, for error
/// messages.
pub(crate) const SCHEDULE_FORMS: &str = "fifo, random:SEED or pct:SEED:DEPTH (SEED a u64, \
     DEPTH a u32 of at least 1), e.g. random:42";

impl fmt::Display for Schedule {
    /// The form `CORIO_SCHEDULE` takes, e.g. `random:42`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Fifo => f.write_str("fifo"),
            Schedule::Random { seed } => write!(f, "random:{seed}"),
            Schedule::Pct { seed, depth } => write!(f, "pct:{seed}:{depth}"),
        }
    }
}

/// A text that is not `fifo`, `random:SEED` or `pct:SEED:DEPTH`.
///
/// # Examples
///
/// ```
/// let err = "random".parse::<corio::runtime::Schedule>().unwrap_err();
/// assert!(err.to_string().contains("random:SEED"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseScheduleError {
    /// The text that did not parse.
    text: String,
}

impl fmt::Display for ParseScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a schedule; the accepted forms are {SCHEDULE_FORMS}",
            self.text
        )
    }
}

impl std::error::Error for ParseScheduleError {}

impl FromStr for Schedule {
    type Err = ParseScheduleError;

    /// Parses `fifo`, `random:SEED` or `pct:SEED:DEPTH` (surrounding
    /// whitespace and the case of the word are ignored). `pct:SEED:0`
    /// parses; building a runtime with it fails, as with
    /// [`Schedule::Pct`] written in code.
    fn from_str(text: &str) -> Result<Schedule, ParseScheduleError> {
        let error = || ParseScheduleError {
            text: text.to_owned(),
        };
        let lower = text.trim().to_ascii_lowercase();
        let mut parts = lower.split(':');
        let kind = parts.next().unwrap_or_default();
        let numbers: Vec<&str> = parts.collect();
        match (kind, numbers.as_slice()) {
            ("fifo", []) => Ok(Schedule::Fifo),
            ("random", [seed]) => Ok(Schedule::Random {
                seed: seed.parse().map_err(|_| error())?,
            }),
            ("pct", [seed, depth]) => Ok(Schedule::Pct {
                seed: seed.parse().map_err(|_| error())?,
                depth: depth.parse().map_err(|_| error())?,
            }),
            _ => Err(error()),
        }
    }
}

/// The splitmix64 generator (Steele, Lea and Flood, 2014): one add and
/// three multiply-xorshift steps per number, any seed (0 included) gives a
/// full-period stream. Small and fast; not for cryptography.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SplitMix64 {
    /// The state: advanced by the golden-ratio constant on every draw.
    state: u64,
}

impl SplitMix64 {
    /// A generator started at `seed`.
    pub(crate) fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix(self.state)
    }

    /// A number in `0..bound` (`bound > 0`), by Lemire's multiply-shift:
    /// its bias is below `bound / 2^64`, nothing a schedule can show.
    pub(crate) fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.next_u64()) * bound as u128) >> 64) as usize
    }
}

/// splitmix64's output function: a bijection on `u64` that spreads every
/// input bit over every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The smallest and largest power of two a PCT change point draws its
/// step-count estimate from (see [`Schedule::Pct`]).
const PCT_ESTIMATES: std::ops::RangeInclusive<u32> = 4..=16;

/// The state of a runtime's schedule: what [`Core::pick`] asks.
///
/// [`Core::pick`]: super::Core::pick
#[derive(Debug)]
pub(crate) enum Policy {
    /// Pop the front: no state.
    Fifo,
    /// The generator, advanced once per pick with two or more runnable.
    Random(Cell<SplitMix64>),
    /// Priorities and change points.
    Pct(Box<RefCell<Pct>>),
}

impl Policy {
    /// The state for `schedule` (already checked: PCT's depth is at least 1).
    pub(crate) fn new(schedule: Schedule) -> Policy {
        match schedule {
            Schedule::Fifo => Policy::Fifo,
            Schedule::Random { seed } => Policy::Random(Cell::new(SplitMix64::new(seed))),
            Schedule::Pct { seed, depth } => {
                Policy::Pct(Box::new(RefCell::new(Pct::new(seed, depth))))
            }
        }
    }

    /// Whether the in-place hand-off may run: only FIFO's order is its own.
    pub(crate) fn hosts(&self) -> bool {
        matches!(self, Policy::Fifo)
    }
}

/// PCT's state for one runtime.
#[derive(Debug)]
pub(crate) struct Pct {
    /// Keys each task's initial priority: `priority(serial)` is a hash of
    /// the serial with it, so no table of priorities is kept.
    seed: u64,
    /// The change points not reached yet, latest first, each with the
    /// priority its task drops to (`1..depth`).
    change_points: Vec<(u64, u64)>,
    /// Tasks that passed a change point, with the priority they dropped to;
    /// at most `depth - 1` entries.
    lowered: Vec<(u64, u64)>,
    /// Picks made so far (the PCT "step").
    step: u64,
}

impl Pct {
    /// Draws the change points for `seed` and `depth`.
    fn new(seed: u64, depth: u32) -> Pct {
        let mut rng = SplitMix64::new(seed);
        let priority_key = rng.next_u64();
        let estimates = PCT_ESTIMATES.end() - PCT_ESTIMATES.start() + 1;
        let mut change_points: Vec<(u64, u64)> = (1..u64::from(depth))
            .map(|priority| {
                let power = PCT_ESTIMATES.start() + rng.below(estimates as usize) as u32;
                let estimate = 1usize << power;
                let step = 1 + rng.below(estimate) as u64;
                (step, priority)
            })
            .collect();
        // Latest last for `pop`; at equal steps, the lower priority last.
        change_points.sort_unstable_by(|a, b| b.cmp(a));
        Pct {
            seed: priority_key,
            change_points,
            lowered: Vec::new(),
            step: 0,
        }
    }

    /// The current priority of the task with `serial`: a dropped one's
    /// `1..depth`, or its initial one, above every dropped priority (top
    /// bit set).
    fn priority(&self, serial: u64) -> u64 {
        match self.lowered.iter().find(|(s, _)| *s == serial) {
            Some(&(_, priority)) => priority,
            None => mix(self.seed ^ serial) | 1 << 63,
        }
    }

    /// The index, among `serials` (the runnable tasks, front first, at
    /// least one), of the task to run: the highest priority, after the
    /// change points that fall on this pick have dropped their tasks.
    pub(crate) fn pick(&mut self, serials: &[u64]) -> usize {
        self.step += 1;
        let mut best = self.highest(serials);
        while let Some(&(step, priority)) = self.change_points.last() {
            if step != self.step {
                break;
            }
            self.change_points.pop();
            self.lowered.push((serials[best], priority));
            best = self.highest(serials);
        }
        best
    }

    /// The index of the highest priority among `serials` (ties: the older
    /// serial, so that the choice never depends on queue order).
    fn highest(&self, serials: &[u64]) -> usize {
        let mut best = 0;
        let mut best_key = (self.priority(serials[0]), std::cmp::Reverse(serials[0]));
        for (index, &serial) in serials.iter().enumerate().skip(1) {
            let key = (self.priority(serial), std::cmp::Reverse(serial));
            if key > best_key {
                best = index;
                best_key = key;
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_stream() {
        // The first outputs of the reference implementation seeded with 0.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        assert_eq!(rng.next_u64(), 0x06c4_5d18_8009_454f);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = SplitMix64::new(9);
        let mut seen = [0u32; 5];
        for _ in 0..5_000 {
            seen[rng.below(5)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 800), "{seen:?}");
    }

    #[test]
    fn schedules_round_trip_through_text() {
        for schedule in [
            Schedule::Fifo,
            Schedule::Random { seed: u64::MAX },
            Schedule::Pct { seed: 3, depth: 2 },
        ] {
            assert_eq!(schedule.to_string().parse::<Schedule>(), Ok(schedule));
        }
        assert_eq!(" FIFO ".parse::<Schedule>(), Ok(Schedule::Fifo));
        for bad in [
            "",
            "lifo",
            "random",
            "random:x",
            "random:1:2",
            "pct:1",
            "pct:1:-2",
        ] {
            let err = bad.parse::<Schedule>().unwrap_err();
            assert!(err.to_string().contains("pct:SEED:DEPTH"), "{err}");
        }
    }

    #[test]
    fn pct_drops_the_task_at_its_change_point_below_all_others() {
        let mut pct = Pct::new(1, 2);
        let (step, priority) = pct.change_points[0];
        assert_eq!(priority, 1);
        assert!((1..=1 << 16).contains(&step));
        let serials = [1, 2, 3];
        let first = pct.pick(&serials);
        // Until the change point the same task keeps winning.
        for _ in 2..step {
            assert_eq!(pct.pick(&serials), first);
        }
        if step > 1 {
            // The change point's pick: the former winner drops to the bottom.
            assert_ne!(pct.pick(&serials), first);
            assert_eq!(pct.priority(serials[first]), 1);
        }
    }
}
