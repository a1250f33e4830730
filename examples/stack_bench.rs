//! What a coroutine stack costs: a pooled stack (`StackPool::take` +
//! `give_back`) against a fresh guarded corosensei `DefaultStack` (mmap,
//! mprotect, munmap), alone and inside a whole coroutine lifecycle.
//!
//! Run with `cargo run --release --example stack_bench` (add `--json` for
//! one JSON object per line). Prints nanoseconds per operation; numbers are
//! for comparison on one machine, not guarantees.

use std::hint::black_box;
use std::time::Instant;

use clap::Parser;
use corio::stack::{self, DEFAULT_STACK_SIZE, StackPool};
use corosensei::Coroutine;
use corosensei::stack::DefaultStack;
use serde_json::json;

#[path = "common/pipe.rs"]
mod pipe;

/// Runs `op` `iterations` times and returns nanoseconds per call.
fn nanos_per_op(iterations: u32, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iterations {
        op();
    }
    start.elapsed().as_nanos() as f64 / f64::from(iterations)
}

#[derive(Parser)]
#[command(
    about = "What a coroutine stack costs: pooled against freshly mapped, in ns per operation"
)]
struct Args {
    /// One JSON object per line ({"case", "ns_per_op"}) instead of the table.
    #[arg(long)]
    json: bool,
}

fn main() {
    pipe::exit_quietly_on_broken_pipe();
    let Args { json } = Args::parse();
    let report = |name: &str, nanos: f64| {
        if json {
            let ns_per_op = (nanos * 10.0).round() / 10.0;
            println!("{}", json!({"case": name, "ns_per_op": ns_per_op}));
        } else {
            println!("{name:<44} {nanos:>10.1} ns");
        }
    };
    if !json {
        println!("guard pages: {:?}", stack::guard_kind());
    }

    let mut pool = StackPool::new();
    // Warm the pool: the first take carves (one madvise per slot).
    let carve = nanos_per_op(10_000, || {
        let stack = pool.take(DEFAULT_STACK_SIZE, 1, Some("bench")).unwrap();
        std::mem::forget(black_box(stack)); // keep the slot carved, not pooled
    });
    report("pool: first take (carve + guard)", carve);
    let warm = nanos_per_op(10_000_000, || {
        let stack = pool.take(DEFAULT_STACK_SIZE, 1, Some("bench")).unwrap();
        pool.give_back(black_box(stack));
    });
    report("pool: take + give_back (warm)", warm);
    let fresh = nanos_per_op(20_000, || {
        drop(black_box(DefaultStack::new(DEFAULT_STACK_SIZE).unwrap()));
    });
    report("DefaultStack::new + drop", fresh);

    let pooled_coroutine = nanos_per_op(1_000_000, || {
        let stack = pool.take(DEFAULT_STACK_SIZE, 2, Some("bench")).unwrap();
        let mut coroutine = Coroutine::<u64, (), u64, _>::with_stack(stack, |_, x| x + 1);
        black_box(coroutine.resume(black_box(1)));
        pool.give_back(coroutine.into_stack());
    });
    report("coroutine lifecycle on a pooled stack", pooled_coroutine);
    let fresh_coroutine = nanos_per_op(20_000, || {
        let stack = DefaultStack::new(DEFAULT_STACK_SIZE).unwrap();
        let mut coroutine = Coroutine::<u64, (), u64, _>::with_stack(stack, |_, x| x + 1);
        black_box(coroutine.resume(black_box(1)));
    });
    report("coroutine lifecycle on a DefaultStack", fresh_coroutine);
}
