//! How precise are corio's timers, and how many can it keep?
//!
//! ```text
//! cargo run --release --example timers                  # all three parts
//! cargo run --release --example timers -- --pending 100000 --json
//! cargo run --release --example timers -- --structures  # only the data-structure race
//! ```
//!
//! 1. **Overshoot**: `corio::sleep(d)` against `std::thread::sleep(d)` for
//!    d = 1 µs, 100 µs and 1.5 ms: how late each wakes (median and p99 over
//!    `--samples` sleeps, interleaved so that both see the same machine).
//! 2. **Throughput at scale**: `--pending` coroutines sleep for an hour, so
//!    that many deadlines sit in the timer structure; meanwhile 1,000 active
//!    coroutines sleep random 0–1 ms again and again. Each of their sleeps is
//!    one timer insert and one fire. The rate is measured with and without
//!    the pending ones, in the same run.
//! 3. **Lateness under load**: N coroutines × 10 random sleeps of 0–100 ms,
//!    for N = 10,000 and 100,000, all starting together once every one is
//!    spawned: how late each sleep ends (p50, p99, max), and the sleeps per
//!    second the runtime kept up. Sleeps that the runtime cannot serve in
//!    time (100,000 × 10 over about 0.5 s asks for 2 M/s) show up as
//!    lateness.
//!
//! The timer structure itself (a B-tree keyed by deadline and sequence) is
//! explained in `src/timer.rs`; `--structures` races it against a binary
//! heap on the same workload, outside the runtime.

use std::cell::Cell;
use std::collections::{BTreeMap, BinaryHeap};
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

#[path = "common/pipe.rs"]
mod pipe;
#[path = "common/stats.rs"]
mod stats;

#[derive(Parser)]
#[command(
    about = "corio's timers: overshoot against std, throughput with many pending, lateness under load"
)]
struct Args {
    /// Sleeps per duration in the overshoot part.
    #[arg(long, default_value_t = 300)]
    samples: usize,
    /// Coroutines with a far deadline during the throughput part.
    #[arg(long, default_value_t = 1_000_000)]
    pending: usize,
    /// Coroutine counts for the lateness part, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000usize, 100_000])]
    load: Vec<usize>,
    /// Which parts to run, comma-separated: overshoot, throughput, lateness.
    #[arg(long, value_delimiter = ',', default_values_t = ["overshoot".to_string(), "throughput".to_string(), "lateness".to_string()])]
    parts: Vec<String>,
    /// Only the data-structure race (B-tree against binary heap).
    #[arg(long)]
    structures: bool,
    /// One JSON object per result line instead of tables.
    #[arg(long)]
    json: bool,
}

/// A tiny deterministic generator (xorshift64), so that runs are repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The `q`-quantile (0..=1) of `v`; zero when nothing was measured.
fn quantile(v: &[Duration], q: f64) -> Duration {
    if v.is_empty() {
        Duration::ZERO
    } else {
        stats::percentile(v, q)
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn overshoot(args: &Args) {
    let durations = [
        Duration::from_micros(1),
        Duration::from_micros(100),
        Duration::from_micros(1500),
    ];
    if !args.json {
        println!(
            "1. overshoot: how late a sleep ends (µs), {} sleeps each",
            args.samples
        );
        println!(
            "  {:>8}  {:>14}  {:>14}  {:>14}  {:>14}",
            "sleep", "corio median", "corio p99", "std median", "std p99"
        );
    }
    for d in durations {
        let mut corio_late = Vec::with_capacity(args.samples);
        let mut std_late = Vec::with_capacity(args.samples);
        let mut rt = corio::Runtime::new().expect("a runtime");
        // Interleaved in slices of 10 so that both see the same load.
        for _ in 0..args.samples.div_ceil(10) {
            rt.block_on(|| {
                for _ in 0..10 {
                    let start = Instant::now();
                    corio::sleep(d);
                    corio_late.push(start.elapsed().saturating_sub(d));
                }
            });
            for _ in 0..10 {
                let start = Instant::now();
                std::thread::sleep(d);
                std_late.push(start.elapsed().saturating_sub(d));
            }
        }
        let row = (
            quantile(&corio_late, 0.5),
            quantile(&corio_late, 0.99),
            quantile(&std_late, 0.5),
            quantile(&std_late, 0.99),
        );
        if args.json {
            println!(
                "{}",
                json!({"part": "overshoot", "sleep_us": us(d),
                       "corio_median_us": us(row.0), "corio_p99_us": us(row.1),
                       "std_median_us": us(row.2), "std_p99_us": us(row.3),
                       "samples": corio_late.len()})
            );
        } else {
            println!(
                "  {:>6.1}µs  {:>14.1}  {:>14.1}  {:>14.1}  {:>14.1}",
                us(d),
                us(row.0),
                us(row.1),
                us(row.2),
                us(row.3)
            );
        }
    }
}

/// Sleeps of the active coroutines per second, with `pending` far deadlines
/// armed meanwhile. Returns (rate, sleeps, seconds).
fn throughput(pending: usize) -> (f64, u64, f64) {
    const ACTIVE: usize = 1_000;
    const ROUNDS: usize = 200;
    let mut rt = corio::Runtime::new().expect("a runtime");
    rt.block_on(|| {
        for _ in 0..pending {
            corio::spawn(|| corio::sleep(Duration::from_secs(3600)));
        }
        corio::yield_now(); // every one has armed its timer
        let done = Rc::new(Cell::new(0u64));
        let start = Instant::now();
        let actives: Vec<_> = (0..ACTIVE)
            .map(|i| {
                let done = done.clone();
                corio::spawn(move || {
                    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
                    for _ in 0..ROUNDS {
                        corio::sleep(Duration::from_nanos(1 + rng.below(1_000_000)));
                        done.set(done.get() + 1);
                    }
                })
            })
            .collect();
        for a in actives {
            a.join().expect("an active sleeper");
        }
        let secs = start.elapsed().as_secs_f64();
        (done.get() as f64 / secs, done.get(), secs)
    })
    // Dropping `rt` unwinds the pending sleepers.
}

fn throughput_part(args: &Args) {
    if !args.json {
        println!(
            "\n2. throughput: 1,000 coroutines × 200 random sleeps of 0–1 ms, with N far deadlines pending"
        );
        println!("  {:>10}  {:>14}  {:>10}", "pending", "sleeps / s", "ratio");
    }
    let without = throughput(0);
    let base = without.0;
    let with = throughput(args.pending);
    for (pending, (rate, sleeps, secs)) in [(0, without), (args.pending, with)] {
        if args.json {
            println!(
                "{}",
                json!({"part": "throughput", "pending": pending, "sleeps_per_s": rate,
                       "ratio_to_no_pending": rate / base, "sleeps": sleeps, "seconds": secs})
            );
        } else {
            println!("  {:>10}  {:>14.0}  {:>9.2}x", pending, rate, rate / base);
        }
    }
}

/// N coroutines × 10 random sleeps of 0–100 ms: sorted lateness of each.
fn lateness(n: usize) -> (Vec<Duration>, f64) {
    let mut rt = corio::Runtime::new().expect("a runtime");
    rt.block_on(|| {
        let late = Rc::new(std::cell::RefCell::new(Vec::with_capacity(n * 10)));
        // Every sleeper starts once all are spawned: spawning 100,000
        // coroutines takes a while, and would be counted as lateness.
        let go = Rc::new(corio::sync::Barrier::new(n + 1));
        let all: Vec<_> = (0..n)
            .map(|i| {
                let (late, go) = (late.clone(), go.clone());
                corio::spawn(move || {
                    go.wait();
                    let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ (i as u64 + 1));
                    for _ in 0..10 {
                        let d = Duration::from_nanos(rng.below(100_000_000));
                        let begin = Instant::now();
                        corio::sleep(d);
                        late.borrow_mut().push(begin.elapsed().saturating_sub(d));
                    }
                })
            })
            .collect();
        go.wait();
        let start = Instant::now();
        for s in all {
            s.join().expect("a sleeper");
        }
        let secs = start.elapsed().as_secs_f64();
        let mut late = late.take();
        late.sort();
        let rate = late.len() as f64 / secs;
        (late, rate)
    })
}

fn lateness_part(args: &Args) {
    if !args.json {
        println!("\n3. lateness under load: N coroutines × 10 random sleeps of 0–100 ms");
        println!(
            "  {:>10}  {:>12}  {:>12}  {:>12}  {:>14}",
            "coroutines", "p50 µs", "p99 µs", "max µs", "sleeps / s"
        );
    }
    for &n in &args.load {
        let (late, rate) = lateness(n);
        let (p50, p99, max) = (
            quantile(&late, 0.5),
            quantile(&late, 0.99),
            quantile(&late, 1.0),
        );
        if args.json {
            println!(
                "{}",
                json!({"part": "lateness", "coroutines": n, "p50_us": us(p50), "p99_us": us(p99),
                       "max_us": us(max), "sleeps_per_s": rate})
            );
        } else {
            println!(
                "  {:>10}  {:>12.1}  {:>12.1}  {:>12.1}  {:>14.0}",
                n,
                us(p50),
                us(p99),
                us(max),
                rate
            );
        }
    }
}

/// The data-structure race of `src/timer.rs`'s docs: `pending` deadlines
/// spread over 100 ms; each step fires the earliest and arms a new one.
fn structures(args: &Args) {
    const STEPS: u64 = 2_000_000;
    let pending = args.pending as u64;
    let spread = 100_000_000u64;
    let mut results = Vec::new();
    {
        let mut rng = Rng(88_172_645_463_325_252);
        let mut map: BTreeMap<u128, u32> = BTreeMap::new();
        let mut seq = 0u128;
        for _ in 0..pending {
            map.insert((u128::from(rng.below(spread)) << 64) | seq, 0);
            seq += 1;
        }
        let start = Instant::now();
        for _ in 0..STEPS {
            let Some((key, v)) = map.pop_first() else {
                break;
            };
            let at = (key >> 64) + u128::from(rng.below(spread));
            map.insert((at << 64) | seq, v);
            seq += 1;
        }
        results.push((
            "btree_u128 (corio)",
            STEPS as f64 / start.elapsed().as_secs_f64(),
        ));
    }
    {
        let base = Instant::now();
        let mut rng = Rng(88_172_645_463_325_252);
        let mut map: BTreeMap<(Instant, u64), u32> = BTreeMap::new();
        let mut seq = 0u64;
        for _ in 0..pending {
            map.insert((base + Duration::from_nanos(rng.below(spread)), seq), 0);
            seq += 1;
        }
        let start = Instant::now();
        for _ in 0..STEPS {
            let Some(((at, _), v)) = map.pop_first() else {
                break;
            };
            map.insert((at + Duration::from_nanos(rng.below(spread)), seq), v);
            seq += 1;
        }
        results.push((
            "btree_instant",
            STEPS as f64 / start.elapsed().as_secs_f64(),
        ));
    }
    {
        let mut rng = Rng(88_172_645_463_325_252);
        let mut heap = BinaryHeap::new();
        let mut seq = 0u64;
        for _ in 0..pending {
            heap.push(std::cmp::Reverse((rng.below(spread), seq)));
            seq += 1;
        }
        let start = Instant::now();
        for _ in 0..STEPS {
            let Some(std::cmp::Reverse((at, _))) = heap.pop() else {
                break;
            };
            heap.push(std::cmp::Reverse((at + rng.below(spread), seq)));
            seq += 1;
        }
        results.push(("binary_heap", STEPS as f64 / start.elapsed().as_secs_f64()));
    }
    if !args.json {
        println!("timer structures: {pending} pending, {STEPS} steps of fire-earliest + insert");
    }
    for (name, rate) in results {
        if args.json {
            println!(
                "{}",
                json!({"part": "structures", "structure": name, "pending": pending,
                       "insert_fire_per_s": rate})
            );
        } else {
            println!("  {name:<20} {:>6.2} M insert+fire / s", rate / 1e6);
        }
    }
}

fn main() {
    pipe::exit_quietly_on_broken_pipe();
    let args = Args::parse();
    if args.structures {
        structures(&args);
        return;
    }
    for part in &args.parts {
        match part.as_str() {
            "overshoot" => overshoot(&args),
            "throughput" => throughput_part(&args),
            "lateness" => lateness_part(&args),
            other => {
                eprintln!("unknown part {other:?}: the parts are overshoot, throughput, lateness");
                std::process::exit(2);
            }
        }
    }
}
