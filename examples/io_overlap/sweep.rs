//! The task-count sweep: the io workload with threads and with coroutines
//! at growing task counts, each run in a fresh process as the table's are,
//! so that the count at which threads fall behind shows without flags.
//!
//! Each step runs `rounds` times, threads and coroutines taking turns, and
//! reports each mode's median run by wall time. On a shared machine a run
//! now and then takes a third longer than the others (another program, or
//! the slow service falling behind for a moment); the median of three is
//! not moved by one such run, whichever mode it hits, and every run's wall
//! time stays in the report ([`Measurement::rounds_wall_ns`]).
//!
//! Before each step [`limits::check`](crate::limits::check) asks whether
//! it fits this machine; the first step that does not, or whose run fails,
//! ends the sweep with one sentence saying why, and what ran stays
//! reported.

use std::path::Path;

use crate::limits;
use crate::modes::{Mode, Plan};
use crate::runner::{self, Measurement};

/// The modes the sweep compares.
pub const MODES: [Mode; 2] = [Mode::Threads, Mode::Coroutines];

/// What a sweep measured, and why it stopped early if it did.
#[derive(Debug, Default)]
pub struct Sweep {
    /// One measurement per (count, mode) that ran, in order: the median of
    /// its rounds.
    pub runs: Vec<Measurement>,
    /// Why the sweep ended before its last count: one sentence naming the
    /// limit or the failure.
    pub stopped: Option<String>,
}

/// Runs `base` (an io plan) at each of `counts` tasks with [`MODES`],
/// `rounds` times per count (at least once). `check` vets each run's
/// results as the table's are.
pub fn run(
    base: &Plan,
    counts: &[usize],
    rounds: usize,
    exe: &Path,
    show_progress: bool,
    check: impl Fn(&Measurement, &Plan) -> Result<(), String>,
) -> Sweep {
    let mut sweep = Sweep::default();
    for &tasks in counts {
        let plan = Plan {
            tasks,
            ..base.clone()
        };
        let mut runs: [Vec<Measurement>; MODES.len()] = Default::default();
        for _ in 0..rounds.max(1) {
            for (mode, runs) in MODES.into_iter().zip(&mut runs) {
                let measured = limits::check(mode, &plan)
                    .and_then(|()| runner::measure_in_child(mode, &plan, exe, show_progress, None))
                    .and_then(|measured| check(&measured, &plan).map(|()| measured));
                match measured {
                    Ok(measured) => runs.push(measured),
                    Err(why) => {
                        sweep.stopped = Some(format!(
                            "The sweep stopped at {tasks} tasks ({mode}): {why}."
                        ));
                        return sweep;
                    }
                }
            }
        }
        sweep.runs.extend(runs.into_iter().map(median));
    }
    sweep
}

/// The run of median wall time (the lower of the two middle ones for an
/// even count), marked as the sweep's, with every run's wall time.
///
/// # Panics
///
/// If `runs` is empty.
pub fn median(runs: Vec<Measurement>) -> Measurement {
    let rounds_wall_ns: Vec<u64> = runs.iter().map(|m| m.wall_ns).collect();
    let mut by_wall = runs;
    by_wall.sort_by_key(|m| m.wall_ns);
    let mut median = by_wall.swap_remove((by_wall.len() - 1) / 2);
    median.sweep = true;
    median.rounds_wall_ns = rounds_wall_ns;
    median
}
