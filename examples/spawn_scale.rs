//! How fast can a million coroutines be started, what do they cost, and
//! does the memory come back when they are gone?
//!
//! ```text
//! cargo run --release --example spawn_scale                  # 1,000,000
//! cargo run --release --example spawn_scale -- --count 100000 --json
//! cargo run --release --example spawn_scale -- --only cold   # for perf record
//! ```
//!
//! The rows, in one run:
//!
//! - **page-fault floor**: what the kernel alone charges for N fresh pages
//!   laid out as corio lays out stacks (one page written per stack-sized
//!   stride of a fresh mapping). No stackful runtime that gives each
//!   coroutine its own guard-paged stack can start N coroutines faster
//!   than this on the same machine.
//! - **cold spawn**: N coroutines spawned into a fresh runtime, each run
//!   until it parks on a channel (so all are alive at once). Every one
//!   needs a stack page the process has never touched. Reported: the time,
//!   RSS and `/proc/self/maps` lines added per coroutine (RSS / each less
//!   one page is the heap a parked coroutine costs).
//!
//!   The VM's page cost drifts by a factor of two within minutes, so the
//!   floor and the cold spawn alternate (`--rounds` pairs: floor, cold,
//!   floor, cold, ...) and the figure is the median of each pair's
//!   `cold / floor`, in wall time and in this thread's CPU time (user +
//!   system; what the row cost, whoever else shared the cores). With 6
//!   rounds or more, each median comes with the range that holds it with
//!   95 % confidence (order statistics of the pairs' ratios).
//! - **spawn again**: N more in the first round's runtime, after the first
//!   N ended. The pool gives memory back after a large drop, so these
//!   stacks are mostly carved and faulted in again.
//! - **after the drop**: the RSS left over the level before the first
//!   spawn, once the N coroutines ended and the runtime waited once (its
//!   idle moment trims), and once the runtime itself is dropped.

use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use serde_json::json;

#[path = "common/pipe.rs"]
mod pipe;
#[path = "common/stats.rs"]
mod stats;
#[path = "common/usage.rs"]
mod usage;
#[path = "common/values.rs"]
mod values;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Only {
    /// One cold spawn of N in a fresh runtime; no teardown.
    Cold,
    /// One page-fault floor of N pages.
    Floor,
}

#[derive(Parser)]
#[command(
    about = "a million cold coroutine spawns: time, RSS and map entries against the page-fault floor, and the memory left after the drop"
)]
struct Args {
    /// Coroutines to start.
    #[arg(long, default_value_t = 1_000_000, value_parser = values::at_least_one::<usize>)]
    count: usize,
    /// Pairs of (floor, cold spawn) to alternate. Five by default: on a
    /// shared VM one pair's ratio ranged from 0.95x to 1.68x within a run,
    /// and the median of three moved from 1.27x to 1.43x between runs.
    #[arg(long, default_value_t = 5, value_parser = values::at_least_one::<usize>)]
    rounds: usize,
    /// One JSON object per row instead of a table.
    #[arg(long)]
    json: bool,
    /// Only one row, for a profiler (`perf record -g`).
    #[arg(long, value_enum)]
    only: Option<Only>,
}

/// This process's resident memory (`VmRSS`), in bytes.
fn rss_bytes() -> io::Result<u64> {
    Ok(usage::proc_field("/proc/self/status", "VmRSS")? * 1024)
}

/// This process's page tables (`VmPTE`), in bytes.
fn page_table_bytes() -> io::Result<u64> {
    Ok(usage::proc_field("/proc/self/status", "VmPTE")? * 1024)
}

fn page_size() -> usize {
    corio::stack::page_size()
}

/// Lines of `/proc/self/maps`: the mappings counted against `vm.max_map_count`.
fn map_lines() -> io::Result<usize> {
    Ok(std::fs::read_to_string("/proc/self/maps")?.lines().count())
}

struct Row {
    name: String,
    time: Duration,
    /// CPU time of this thread (user + system) over the same span: what
    /// the row cost whoever else shared the cores.
    cpu: Duration,
    rss_per: f64,
    maps_added: isize,
}

/// CPU time of the calling thread so far (user + system).
fn thread_cpu() -> Duration {
    usage::cpu_time(&usage::rusage(libc::RUSAGE_THREAD))
}

/// Spawns `count` coroutines that each park on one channel, and lets every
/// one run until it parks; returns how long that took (wall, CPU), the
/// sender that keeps them parked (drop it to end them all), and their
/// handles.
fn spawn_parked(
    count: usize,
) -> (
    (Duration, Duration),
    corio::sync::mpsc::Sender<()>,
    Vec<corio::JoinHandle<()>>,
) {
    let cpu = thread_cpu();
    let start = Instant::now();
    let (tx, rx) = corio::sync::channel::<()>();
    let rx = Rc::new(rx);
    let all: Vec<_> = (0..count)
        .map(|_| {
            let rx = rx.clone();
            corio::spawn(move || {
                let _ = rx.recv();
            })
        })
        .collect();
    corio::yield_now(); // every one has run and parked
    ((start.elapsed(), thread_cpu() - cpu), tx, all)
}

/// Ends every coroutine parked by [`spawn_parked`] and joins them.
fn end_all(tx: corio::sync::mpsc::Sender<()>, all: Vec<corio::JoinHandle<()>>) {
    drop(tx); // every receive fails: all end, their stacks go back to the pool
    for handle in all {
        handle.join().expect("a parked coroutine");
    }
}

/// A runtime for the lab: no stall reports (spawning a million from the
/// root holds the thread for seconds, by design).
fn runtime() -> io::Result<corio::Runtime> {
    corio::Runtime::builder().stall_threshold(None).build()
}

/// What the first round measures besides its cold row.
struct FirstRound {
    again: Row,
    /// RSS over the level before the spawn: with the coroutines ended and
    /// the runtime idle once; then with the runtime dropped.
    left_idle: u64,
    left_dropped: u64,
    rss_before: u64,
    rss_peak: u64,
    pte_peak: u64,
    pte_left: u64,
}

/// One cold round in a fresh runtime; the first round also spawns again
/// and measures the drop.
fn corio_round(count: usize, round: usize, first: bool) -> io::Result<(Row, Option<FirstRound>)> {
    let mut rt = runtime()?;
    let (rss0, maps0) = (rss_bytes()?, map_lines()?);
    let per = move |bytes: u64| bytes as f64 / count as f64;
    let (cold, again, rss_peak, pte_peak, left_idle) =
        rt.block_on(|| -> io::Result<(Row, Option<Row>, u64, u64, u64)> {
            let (took, tx, all) = spawn_parked(count);
            let (rss1, maps1, pte1) = (rss_bytes()?, map_lines()?, page_table_bytes()?);
            end_all(tx, all);
            // One idle moment: the runtime trims what a large drop left, so
            // that every round starts from the same heap.
            corio::sleep(Duration::from_millis(1));
            let cold = Row {
                name: format!("corio cold spawn {round}"),
                time: took.0,
                cpu: took.1,
                rss_per: per(rss1.saturating_sub(rss0)),
                maps_added: maps1 as isize - maps0 as isize,
            };
            if !first {
                return Ok((cold, None, rss1, pte1, 0));
            }
            let (took, tx, all) = spawn_parked(count);
            let rss2 = rss_bytes()?;
            end_all(tx, all);
            corio::sleep(Duration::from_millis(1));
            let left = rss_bytes()?.saturating_sub(rss0);
            let again = Row {
                name: "corio spawn again".to_owned(),
                time: took.0,
                cpu: took.1,
                rss_per: per(rss2.saturating_sub(rss0)),
                maps_added: 0,
            };
            Ok((cold, Some(again), rss1, pte1, left))
        })?;
    drop(rt);
    let first_round = again.map(|again| -> io::Result<FirstRound> {
        Ok(FirstRound {
            again,
            left_idle,
            left_dropped: rss_bytes()?.saturating_sub(rss0),
            rss_before: rss0,
            rss_peak,
            pte_peak,
            pte_left: page_table_bytes()?,
        })
    });
    Ok((cold, first_round.transpose()?))
}

/// N fresh pages, one per stack-sized stride of one fresh mapping.
fn floor_row(count: usize, round: usize) -> io::Result<Row> {
    let page = page_size();
    let stride = corio::stack::DEFAULT_STACK_SIZE + page;
    let len = stride * count;
    // SAFETY: a fresh anonymous private mapping; no existing memory is
    // affected, and it is unmapped below.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the range is the mapping just made; advice only.
    unsafe { libc::madvise(base, len, libc::MADV_NOHUGEPAGE) };
    let rss0 = rss_bytes()?;
    let cpu = thread_cpu();
    let start = Instant::now();
    for i in 0..count {
        // The top page of each "stack", where a coroutine's frames begin.
        let at = (i + 1) * stride - 64;
        // SAFETY: `at` lies inside the mapping, which is readable and
        // writable; a volatile write so that the touch is not elided.
        unsafe { std::ptr::write_volatile(base.cast::<u8>().add(at), 1) };
    }
    let time = start.elapsed();
    let cpu = thread_cpu() - cpu;
    let rss1 = rss_bytes()?;
    // SAFETY: unmaps exactly the mapping made above, which nothing else uses.
    unsafe { libc::munmap(base, len) };
    Ok(Row {
        name: format!("page-fault floor {round}"),
        time,
        cpu,
        rss_per: rss1.saturating_sub(rss0) as f64 / count as f64,
        maps_added: 1,
    })
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    pipe::exit_quietly_on_broken_pipe();
    let args = Args::parse();
    match args.only {
        Some(Only::Cold) => {
            let mut rt = runtime()?;
            let took = rt.block_on(|| {
                let (took, tx, _all) = spawn_parked(args.count);
                std::mem::forget(tx);
                took
            });
            println!(
                "cold spawn of {}: {:.3} s ({:.3} s CPU)",
                args.count,
                took.0.as_secs_f64(),
                took.1.as_secs_f64()
            );
            std::process::exit(0); // skip the teardown
        }
        Some(Only::Floor) => {
            let row = floor_row(args.count, 1)?;
            println!(
                "floor of {}: {:.3} s ({:.3} s CPU)",
                args.count,
                row.time.as_secs_f64(),
                row.cpu.as_secs_f64()
            );
            return Ok(());
        }
        None => {}
    }
    let mut rows = Vec::new();
    let mut ratios = Vec::new();
    let mut cpu_ratios = Vec::new();
    let mut first = None;
    for round in 1..=args.rounds {
        let floor = floor_row(args.count, round)?;
        let (cold, measured) = corio_round(args.count, round, round == 1)?;
        ratios.push(cold.time.as_secs_f64() / floor.time.as_secs_f64());
        cpu_ratios.push(cold.cpu.as_secs_f64() / floor.cpu.as_secs_f64());
        rows.push(floor);
        rows.push(cold);
        first = first.or(measured);
    }
    let first = first.expect("round 1 measures the drop");
    rows.push(first.again);
    let ratio = stats::median(&ratios);
    let cpu_ratio = stats::median(&cpu_ratios);
    let heap_per = rows
        .iter()
        .filter(|row| row.name.starts_with("corio cold"))
        .map(|row| row.rss_per - page_size() as f64)
        .collect::<Vec<_>>();
    let heap_per = stats::median(&heap_per);

    if !args.json {
        println!(
            "spawn_scale: {} coroutines, each parked on a channel; {} rounds of (floor, cold)",
            args.count, args.rounds
        );
        println!(
            "  {:<20}  {:>10}  {:>10}  {:>10}  {:>11}  {:>11}",
            "row", "time", "CPU", "ns / each", "RSS / each", "maps added"
        );
    }
    for row in &rows {
        let per = row.time.as_nanos() as f64 / args.count as f64;
        if args.json {
            println!(
                "{}",
                json!({"row": row.name, "count": args.count, "seconds": row.time.as_secs_f64(),
                       "cpu_seconds": row.cpu.as_secs_f64(), "ns_per": per,
                       "rss_bytes_per": row.rss_per, "maps_added": row.maps_added})
            );
        } else {
            println!(
                "  {:<20}  {:>8.3} s  {:>8.3} s  {:>10.0}  {:>9.0} B  {:>11}",
                row.name,
                row.time.as_secs_f64(),
                row.cpu.as_secs_f64(),
                per,
                row.rss_per,
                row.maps_added
            );
        }
    }
    let list = |ratios: &[f64]| {
        ratios
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if args.json {
        println!(
            "{}",
            json!({"row": "summary", "count": args.count, "cold_over_floor": ratio,
                   "cold_over_floor_pairs": ratios, "cold_over_floor_cpu": cpu_ratio,
                   "cold_over_floor_cpu_pairs": cpu_ratios,
                   "cold_over_floor_95": stats::median_interval(&ratios).map(|(l, h)| [l, h]),
                   "cold_over_floor_cpu_95": stats::median_interval(&cpu_ratios).map(|(l, h)| [l, h]),
                   "heap_bytes_per": heap_per,
                   "rss_before_bytes": first.rss_before, "rss_peak_bytes": first.rss_peak,
                   "rss_left_idle_bytes": first.left_idle,
                   "rss_left_dropped_bytes": first.left_dropped,
                   "page_tables_peak_bytes": first.pte_peak,
                   "page_tables_left_bytes": first.pte_left})
        );
    } else {
        // With rounds enough, the range that holds the median with 95 %
        // confidence.
        let interval = |ratios: &[f64]| match stats::median_interval(ratios) {
            Some((low, high)) => format!(", 95 % {low:.2}-{high:.2}"),
            None => String::new(),
        };
        println!(
            "  cold / floor = {ratio:.2}x in time{} (median of the pairs: {}), \
             {cpu_ratio:.2}x in CPU{} ({})",
            interval(&ratios),
            list(&ratios),
            interval(&cpu_ratios),
            list(&cpu_ratios)
        );
        println!("  heap / each  = {heap_per:.0} B (RSS / each of a cold row less one page)");
        println!(
            "  after the drop: RSS {:.1} MiB before the spawn, {:.1} MiB with all parked; \
             {:.1} MiB more than before once they ended and the runtime idled, \
             {:.1} MiB once it was dropped",
            mib(first.rss_before),
            mib(first.rss_peak),
            mib(first.left_idle),
            mib(first.left_dropped)
        );
        println!(
            "  page tables: {:.1} MiB with all parked, {:.1} MiB after the drop",
            mib(first.pte_peak),
            mib(first.pte_left)
        );
    }
    Ok(())
}
