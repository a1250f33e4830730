//! Turning workloads into numbers a reader can trust: calibrate a loop length,
//! run several rounds of it, report the median and the spread.
//!
//! A single timing on a shared machine says little (a preemption, a cold cache,
//! a frequency change), so no row is ever one measurement.

use std::time::Duration;

use crate::stats;

/// How long and how often to measure.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Rounds per row; the row's value is their median.
    pub rounds: usize,
    /// Wall time one timed round should take; the loop length is calibrated to it.
    pub round_time: Duration,
    /// Round trips per round of the kernel-context-switch rows.
    pub counted_round_trips: u64,
    /// Coroutines parked at once for `corio_parked_bytes`.
    pub parked_coroutines: usize,
    /// Threads parked at once for `thread_parked_bytes`.
    pub parked_threads: usize,
    /// Rounds of the memory rows (each in a fresh child process).
    pub memory_rounds: usize,
}

impl Plan {
    /// The full measurement: about half a second per timed row.
    pub fn full() -> Self {
        Self {
            rounds: 9,
            round_time: Duration::from_millis(50),
            counted_round_trips: 10_000,
            parked_coroutines: 10_000,
            parked_threads: 1_000,
            memory_rounds: 3,
        }
    }

    /// `--quick`: same rows, small loops, for tests and a first look.
    pub fn quick() -> Self {
        Self {
            rounds: 3,
            round_time: Duration::from_millis(3),
            counted_round_trips: 2_000,
            parked_coroutines: 1_000,
            parked_threads: 100,
            memory_rounds: 1,
        }
    }
}

/// The rounds of one row.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Median over the rounds: the row's value.
    pub median: f64,
    /// Smallest round.
    pub min: f64,
    /// Largest round.
    pub max: f64,
    /// Operations (round trips, spawns, parked units) in each round.
    pub per_round: u64,
    /// How many rounds there were.
    pub rounds: usize,
}

impl Stats {
    /// Summarises one value per round. `per_round` is what each value is an average over.
    pub fn from_rounds(values: Vec<f64>, per_round: u64) -> Self {
        assert!(!values.is_empty(), "a row needs at least one round");
        Self {
            median: stats::median(&values),
            min: stats::percentile(&values, 0.0),
            max: stats::percentile(&values, 1.0),
            per_round,
            rounds: values.len(),
        }
    }
}

/// Nanoseconds per operation of each workload, with their rounds interleaved:
/// round 1 of every workload, then round 2 of every workload, and so on.
/// `run(workload, n)` performs `n` operations and returns the time they took
/// (set-up and tear-down excluded).
///
/// On a shared machine noise comes in bursts (a neighbour's build, a busy
/// hypervisor). Interleaved, a burst lands on one round of many rows rather
/// than on every round of one row, which the median then discards; so the
/// ratios between rows, the point of the table, hold up better.
pub fn ns_per_op<W>(plan: &Plan, workloads: &[W], run: impl Fn(&W, u64) -> Duration) -> Vec<Stats> {
    let per_round: Vec<u64> = workloads
        .iter()
        .map(|workload| calibrate(plan.round_time, |n| run(workload, n)))
        .collect();
    let mut values = vec![Vec::with_capacity(plan.rounds); workloads.len()];
    for _ in 0..plan.rounds {
        for ((workload, &n), values) in workloads.iter().zip(&per_round).zip(&mut values) {
            values.push(run(workload, n).as_nanos() as f64 / n as f64);
        }
    }
    values
        .into_iter()
        .zip(per_round)
        .map(|(values, n)| Stats::from_rounds(values, n))
        .collect()
}

/// The loop length whose timed span lasts about `round_time`.
///
/// Noise only ever makes a run slower, and a slow pilot would shrink every
/// round of the row; so this calibrates twice and keeps the longer loop.
fn calibrate(round_time: Duration, run: impl Fn(u64) -> Duration) -> u64 {
    calibrate_once(round_time, &run).max(calibrate_once(round_time, &run))
}

/// Grows the loop fourfold until a pilot lasts a tenth of `round_time`, then
/// scales it to the whole. The pilots double as the warm-up (code paged in,
/// caches and branch predictors trained, pools filled).
fn calibrate_once(round_time: Duration, run: &impl Fn(u64) -> Duration) -> u64 {
    let pilot_time = round_time / 10;
    let mut n: u64 = 1;
    loop {
        let elapsed = run(n);
        if elapsed >= pilot_time || n >= 1 << 34 {
            let scale = round_time.as_secs_f64() / elapsed.as_secs_f64().max(1e-9);
            return ((n as f64 * scale).round() as u64).max(1);
        }
        n *= 4;
    }
}
