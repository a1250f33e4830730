//! What does the timeline cost? Two coroutines hand the CPU to each other
//! with `yield_now`, on a runtime without tracing and on one with
//! `runtime::Builder::trace`, in interleaved rounds; the cost of tracing is
//! the difference per switch (switches counted by `Stats`).
//!
//! ```text
//! cargo run --release --example trace_cost
//! cargo run --release --example trace_cost -- --rounds 9 --json
//! ```

use std::time::Instant;

use clap::Parser;
use serde_json::json;

#[path = "common/pipe.rs"]
mod pipe;
#[path = "common/stats.rs"]
mod stats;

#[derive(Parser)]
#[command(about = "the cost of corio's trace per switch: yield ping-pong with tracing off and on")]
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
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// Nanoseconds per switch of one round.
fn round(trace: bool, yields: u64, capacity: usize) -> f64 {
    let mut builder = corio::Runtime::builder();
    if trace {
        // By default smaller than the events of a round: the ring wraps,
        // as it would in a long experiment.
        builder = builder.trace(capacity);
    }
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
    let (mut off, mut on) = (Vec::new(), Vec::new());
    round(false, args.yields / 10, args.capacity); // warm up
    for _ in 0..rounds {
        off.push(round(false, args.yields, args.capacity));
        on.push(round(true, args.yields, args.capacity));
    }
    let deltas: Vec<f64> = off.iter().zip(&on).map(|(a, b)| b - a).collect();
    let (off_m, on_m, delta_m) = (
        stats::median(&off),
        stats::median(&on),
        stats::median(&deltas),
    );
    if args.json {
        println!(
            "{}",
            json!({"off_ns_per_switch": off_m, "on_ns_per_switch": on_m,
                   "trace_cost_ns_per_switch": delta_m, "rounds": rounds,
                   "off_rounds": off, "on_rounds": on, "delta_rounds": deltas})
        );
        return;
    }
    println!("trace cost: yield ping-pong, {rounds} interleaved rounds, median per switch");
    println!("  tracing off   {off_m:>7.2} ns");
    println!("  tracing on    {on_m:>7.2} ns");
    println!(
        "  cost          {delta_m:>7.2} ns per switch (rounds: {})",
        deltas
            .iter()
            .map(|d| format!("{d:.1}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}
