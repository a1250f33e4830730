//! The task-count sweep: the io workload with threads and with coroutines
//! at growing task counts, each run in a fresh process as the table's are,
//! so that the count at which threads fall behind shows without flags.
//!
//! Before each step [`limits::check`](crate::limits::check) asks whether
//! it fits this machine; the first step that does not, or that fails,
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
    /// One measurement per (count, mode) that ran, in order.
    pub runs: Vec<Measurement>,
    /// Why the sweep ended before its last count: one sentence naming the
    /// limit or the failure.
    pub stopped: Option<String>,
}

/// Runs `base` (an io plan) at each of `counts` tasks with [`MODES`].
/// `check` vets each run's results as the table's are.
pub fn run(
    base: &Plan,
    counts: &[usize],
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
        for mode in MODES {
            let measured = limits::check(mode, &plan)
                .and_then(|()| runner::measure_in_child(mode, &plan, exe, show_progress, None))
                .and_then(|mut measured| {
                    measured.sweep = true;
                    check(&measured, &plan).map(|()| measured)
                });
            match measured {
                Ok(measured) => sweep.runs.push(measured),
                Err(why) => {
                    sweep.stopped = Some(format!(
                        "The sweep stopped at {tasks} tasks ({mode}): {why}."
                    ));
                    return sweep;
                }
            }
        }
    }
    sweep
}
