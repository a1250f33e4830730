//! What the run queue costs on the scheduler's own paths, measured through
//! the public API (the queue is private to the scheduler):
//!
//! ```text
//! cargo bench --bench run_queue                  # every row, about a minute
//! cargo bench --bench run_queue -- yield_round/  # one group
//! cargo bench --bench run_queue -- --fixed 200000   # each row once, no criterion
//! cargo bench --bench run_queue -- --fixed 200000 yield_round/10  # one row once
//! ```
//!
//! - `yield_round/N`: N runnable coroutines each yield once, the front task
//!   moving to the back every time (the queue's `front` + `rotate`); with
//!   N = 1 the only task stays where it is. Reported per yield.
//! - `spawn_join`: one spawn (a push) and its join (the child runs and is
//!   popped) per iteration.
//! - `spawn_burst/N`: N spawns queued at once and then joined: the queue
//!   grows to N and drains. Reported per task.
//!
//! `--fixed COUNT [ROW]` runs each row (or only ROW, or only the group ROW
//! names) once with COUNT iterations and prints the wall time, for a profiler: under `valgrind --tool=callgrind` two counts
//! give the instructions per iteration as the difference of the totals
//! divided by the difference of the counts. `docs/results/run_queue.md`
//! holds both kinds of figures for the ring the queue is and for a
//! `VecDeque` in its place.

use std::cell::Cell;
use std::hint::black_box;
use std::rc::Rc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};

/// Runnable tasks in `yield_round`: one alone, a few, many.
const RUNNABLE: [u64; 3] = [1, 10, 1000];

/// Tasks queued at once in `spawn_burst`.
const BURST: [u64; 2] = [10, 1000];

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

/// `rounds` rounds in which each of `runnable` coroutines yields once: the
/// caller and `runnable - 1` partners that yield until told to stop. Only
/// the rounds are timed.
fn yield_round(runnable: u64, rounds: u64) -> Duration {
    corio::run(move || {
        let stop = Rc::new(Cell::new(false));
        let partners: Vec<_> = (1..runnable)
            .map(|_| {
                let stop = Rc::clone(&stop);
                corio::spawn(move || {
                    while !stop.get() {
                        corio::yield_now();
                    }
                })
            })
            .collect();
        // Untimed: every partner starts and reaches its first yield.
        corio::yield_now();
        let start = Instant::now();
        for _ in 0..rounds {
            corio::yield_now();
        }
        let elapsed = start.elapsed();
        stop.set(true);
        for partner in partners {
            partner.join().expect("a partner only yields");
        }
        elapsed
    })
}

/// `count` spawns, each joined before the next.
fn spawn_join(count: u64) -> Duration {
    corio::run(move || {
        let start = Instant::now();
        for _ in 0..count {
            let child = corio::spawn(|| black_box(1u64));
            black_box(child.join().expect("an empty coroutine does not panic"));
        }
        start.elapsed()
    })
}

/// `bursts` times: `size` spawns queued at once, then all joined.
fn spawn_burst(size: u64, bursts: u64) -> Duration {
    corio::run(move || {
        let mut children = Vec::with_capacity(size as usize);
        let start = Instant::now();
        for _ in 0..bursts {
            children.extend((0..size).map(|_| corio::spawn(|| black_box(1u64))));
            for child in children.drain(..) {
                black_box(child.join().expect("an empty coroutine does not panic"));
            }
        }
        start.elapsed()
    })
}

fn criterion_rows(c: &mut Criterion) {
    let mut group = c.benchmark_group("yield_round");
    for runnable in RUNNABLE {
        group.throughput(Throughput::Elements(runnable));
        group.bench_function(runnable.to_string(), |b| {
            b.iter_custom(|rounds| yield_round(runnable, rounds))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("spawn");
    group.bench_function("spawn_join", |b| b.iter_custom(spawn_join));
    for size in BURST {
        group.throughput(Throughput::Elements(size));
        group.bench_function(format!("spawn_burst/{size}"), |b| {
            b.iter_custom(|bursts| spawn_burst(size, bursts))
        });
    }
    group.finish();
}

/// Each row once (or only the row or group `only` names), `count`
/// operations (yields or tasks) in all, for a profiler; prints nanoseconds
/// per operation.
fn fixed_rows(count: u64, only: &str) {
    let wanted =
        |name: &str| only.is_empty() || name == only || name.starts_with(&format!("{only}/"));
    let report = |name: String, operations: u64, elapsed: Duration| {
        let per_op = elapsed.as_nanos() as f64 / operations as f64;
        println!("{name:<20} {operations:>10} ops {per_op:>8.1} ns/op");
    };
    for runnable in RUNNABLE {
        let name = format!("yield_round/{runnable}");
        if wanted(&name) {
            let rounds = (count / runnable).max(1);
            report(name, rounds * runnable, yield_round(runnable, rounds));
        }
    }
    if wanted("spawn_join") {
        report("spawn_join".to_owned(), count, spawn_join(count));
    }
    for size in BURST {
        let name = format!("spawn_burst/{size}");
        if wanted(&name) {
            let bursts = (count / size).max(1);
            report(name, bursts * size, spawn_burst(size, bursts));
        }
    }
}

/// The bench's own options; criterion reads its own (and what `cargo
/// bench` appends, such as `--bench`) from the same command line, so
/// clap ignores what it does not know.
#[derive(clap::Parser, Debug)]
#[command(ignore_errors = true)]
struct Args {
    /// Run each row once for this many operations, without criterion (for
    /// callgrind's instruction counts).
    #[arg(long, value_name = "COUNT")]
    fixed: Option<u64>,
    /// With --fixed: only the rows whose name contains this.
    #[arg(default_value = "")]
    row: String,
}

fn main() {
    let args = <Args as clap::Parser>::parse();
    if let Some(count) = args.fixed {
        // cargo appends `--bench`, which is no row name.
        let only = if args.row.starts_with("--") {
            ""
        } else {
            args.row.as_str()
        };
        fixed_rows(count, only);
        return;
    }
    let mut criterion = config().configure_from_args();
    criterion_rows(&mut criterion);
    criterion.final_summary();
}
