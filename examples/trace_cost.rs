//! What do the timeline and the per-task metrics cost? Two coroutines hand
//! the CPU to each other with `yield_now` on a plain runtime, on one with
//! `runtime::Builder::task_metrics(true)` and on one with
//! `runtime::Builder::trace`, in interleaved rounds; each one's cost is
//! its difference from the plain runtime per switch (switches counted by
//! `Stats`).
//!
//! ```text
//! cargo run --release --example trace_cost
//! cargo run --release --example trace_cost -- --rounds 9 --json
//! cargo run --release --example trace_cost -- --only metrics --rounds 1 --yields 1000000
//! ```
//!
//! `--only MODE --rounds 1` runs one mode once with no warm-up, for an
//! instruction counter: the difference between two runs of different
//! `--yields` is the cost of that many round trips, free of start-up.

use std::time::Instant;

use clap::{Parser, ValueEnum};
use serde_json::json;

#[path = "common/pipe.rs"]
mod pipe;
#[path = "common/stats.rs"]
mod stats;

/// What the runtime measures besides scheduling.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Nothing: the plain runtime (the stall watchdog's default pulse only).
    Off,
    /// `task_metrics(true)`: run and queue times per task.
    Metrics,
    /// `trace(capacity)`: the timeline ring.
    Trace,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::Off, Mode::Metrics, Mode::Trace];

    fn name(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Metrics => "metrics",
            Mode::Trace => "trace",
        }
    }
}

#[derive(Parser)]
#[command(
    about = "the cost per switch of corio's trace and task metrics: yield ping-pong with each off and on"
)]
struct Args {
    /// Interleaved rounds of each (the median is reported).
    #[arg(long, default_value_t = 7)]
    rounds: usize,
    /// Yields per coroutine per round.
    #[arg(long, default_value_t = 1_000_000)]
    yields: u64,
    /// Events the trace ring keeps (24 bytes each); a ring that fits the
    /// CPU's cache costs less per event.
    #[arg(long, default_value_t = 1 << 20)]
    capacity: usize,
    /// Run only this mode, with no warm-up (for an instruction counter).
    #[arg(long, value_enum)]
    only: Option<Mode>,
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// Nanoseconds per switch of one round.
fn round(mode: Mode, yields: u64, capacity: usize) -> f64 {
    let builder = corio::Runtime::builder();
    let builder = match mode {
        Mode::Off => builder,
        Mode::Metrics => builder.task_metrics(true),
        // By default smaller than the events of a round: the ring wraps,
        // as it would in a long experiment.
        Mode::Trace => builder.trace(capacity),
    };
    let mut rt = builder.build().expect("a runtime");
    let before = rt.stats().switches;
    let start = Instant::now();
    rt.block_on(|| {
        let other = corio::spawn(move || {
            for _ in 0..yields {
                corio::yield_now();
            }
        });
        for _ in 0..yields {
            corio::yield_now();
        }
        other.join().unwrap();
    });
    let elapsed = start.elapsed();
    let switches = rt.stats().switches - before;
    elapsed.as_nanos() as f64 / switches as f64
}

fn main() {
    pipe::exit_quietly_on_broken_pipe();
    let args = Args::parse();
    let rounds = args.rounds.max(1);
    if let Some(mode) = args.only {
        let mut per_switch = Vec::new();
        for _ in 0..rounds {
            per_switch.push(round(mode, args.yields, args.capacity));
        }
        println!(
            "{}: {:.2} ns per switch",
            mode.name(),
            stats::median(&per_switch)
        );
        return;
    }
    let mut per_mode: [Vec<f64>; 3] = Default::default();
    round(Mode::Off, args.yields / 10, args.capacity); // warm up
    for _ in 0..rounds {
        for (i, mode) in Mode::ALL.into_iter().enumerate() {
            per_mode[i].push(round(mode, args.yields, args.capacity));
        }
    }
    // Each mode's cost, round by round, against the plain runtime's.
    let costs: Vec<Vec<f64>> = per_mode[1..]
        .iter()
        .map(|on| on.iter().zip(&per_mode[0]).map(|(b, a)| b - a).collect())
        .collect();
    let medians: Vec<f64> = per_mode.iter().map(|v| stats::median(v)).collect();
    let cost_medians: Vec<f64> = costs.iter().map(|v| stats::median(v)).collect();
    if args.json {
        println!(
            "{}",
            json!({"off_ns_per_switch": medians[0], "metrics_ns_per_switch": medians[1],
                   "on_ns_per_switch": medians[2], "metrics_cost_ns_per_switch": cost_medians[0],
                   "trace_cost_ns_per_switch": cost_medians[1], "rounds": rounds,
                   "off_rounds": per_mode[0], "metrics_rounds": per_mode[1],
                   "on_rounds": per_mode[2], "metrics_delta_rounds": costs[0],
                   "delta_rounds": costs[1]})
        );
        return;
    }
    let list = |v: &[f64]| {
        v.iter()
            .map(|d| format!("{d:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "trace and metrics cost: yield ping-pong, {rounds} interleaved rounds, median per switch"
    );
    println!("  plain runtime       {:>7.2} ns", medians[0]);
    println!("  task_metrics(true)  {:>7.2} ns", medians[1]);
    println!("  tracing on          {:>7.2} ns", medians[2]);
    println!(
        "  metrics cost        {:>7.2} ns per switch (rounds: {})",
        cost_medians[0],
        list(&costs[0])
    );
    println!(
        "  trace cost          {:>7.2} ns per switch (rounds: {})",
        cost_medians[1],
        list(&costs[1])
    );
}
