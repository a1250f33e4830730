//! How fast can a million coroutines be started, and what do they cost?
//!
//! ```text
//! cargo run --release --example spawn_scale                  # 1,000,000
//! cargo run --release --example spawn_scale -- --count 100000 --json
//! ```
//!
//! Four rows, in one run (the floor before and after corio's rows):
//!
//! - **cold**: N coroutines spawned into a fresh runtime, each parking on a
//!   channel (so all are alive at once). Every one needs a stack page the
//!   process has never touched: the kernel must find, zero and map a page.
//!   Reported: the time, RSS and `/proc/self/maps` lines added per coroutine.
//! - **warm**: the same N again in the same runtime, after the first N ended:
//!   their stacks come back from the pool, so this is corio's own cost.
//! - **page-fault floor**: what the kernel alone charges for N fresh pages
//!   laid out as corio lays out stacks (one page touched per
//!   stack-sized stride of a fresh mapping). No stackful runtime that gives
//!   each coroutine its own guard-paged stack can start N coroutines faster
//!   than this on the same machine.
//!
//! On a VM the floor is often far above the microsecond or less a page
//! costs on bare metal; `cold / floor` is the figure that says how much of
//! the time is corio's.

use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

#[path = "common/pipe.rs"]
mod pipe;

#[derive(Parser)]
#[command(
    about = "a million cold coroutine spawns: time, RSS and map entries, against the page-fault floor"
)]
struct Args {
    /// Coroutines to start.
    #[arg(long, default_value_t = 1_000_000)]
    count: usize,
    /// One JSON object per row instead of a table.
    #[arg(long)]
    json: bool,
    /// Only the cold corio row (for a profiler: `perf record -g`).
    #[arg(long)]
    cold_only: bool,
}

/// Resident pages of this process (`/proc/self/statm`, second field), in bytes.
fn rss_bytes() -> io::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| io::Error::other(format!("unexpected /proc/self/statm: {statm:?}")))?;
    Ok(pages * page_size())
}

fn page_size() -> u64 {
    // SAFETY: sysconf takes no pointers.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).unwrap_or(4096)
}

/// Lines of `/proc/self/maps`: the mappings counted against `vm.max_map_count`.
fn map_lines() -> io::Result<usize> {
    Ok(std::fs::read_to_string("/proc/self/maps")?.lines().count())
}

struct Row {
    name: &'static str,
    time: Duration,
    rss_per: f64,
    maps_added: isize,
}

/// Spawns `count` coroutines that each park on one channel, and lets every
/// one run until it parks; returns how long that took, the sender that
/// keeps them parked (drop it to end them all), and their handles.
fn spawn_parked(
    count: usize,
) -> (
    Duration,
    corio::sync::mpsc::Sender<()>,
    Vec<corio::JoinHandle<()>>,
) {
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
    (start.elapsed(), tx, all)
}

fn corio_rows(count: usize) -> io::Result<(Row, Row)> {
    let mut rt = corio::Runtime::new()?;
    let (rss0, maps0) = (rss_bytes()?, map_lines()?);
    let measured = rt.block_on(|| -> io::Result<(Row, Row)> {
        let round = || spawn_parked(count);
        let (cold, tx, all) = round();
        let (rss1, maps1) = (rss_bytes()?, map_lines()?);
        drop(tx); // every receive fails: all end, their stacks go back to the pool
        for c in all {
            c.join().expect("a parked coroutine");
        }
        let (warm, tx, all) = round();
        let rss2 = rss_bytes()?;
        drop(tx);
        for c in all {
            c.join().expect("a parked coroutine");
        }
        let per = |bytes: u64| bytes as f64 / count as f64;
        Ok((
            Row {
                name: "corio cold spawn",
                time: cold,
                rss_per: per(rss1.saturating_sub(rss0)),
                maps_added: maps1 as isize - maps0 as isize,
            },
            Row {
                name: "corio warm spawn",
                time: warm,
                rss_per: per(rss2.saturating_sub(rss0)),
                maps_added: 0,
            },
        ))
    })?;
    Ok(measured)
}

/// N fresh pages, one per stack-sized stride of one fresh mapping.
fn floor_row(count: usize) -> io::Result<Row> {
    let page = page_size() as usize;
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
    let start = Instant::now();
    for i in 0..count {
        // The top page of each "stack", where a coroutine's frames begin.
        let at = (i + 1) * stride - 64;
        // SAFETY: `at` lies inside the mapping, which is readable and
        // writable; a volatile write so that the touch is not elided.
        unsafe { std::ptr::write_volatile(base.cast::<u8>().add(at), 1) };
    }
    let time = start.elapsed();
    let rss1 = rss_bytes()?;
    // SAFETY: unmaps exactly the mapping made above, which nothing else uses.
    unsafe { libc::munmap(base, len) };
    Ok(Row {
        name: "page-fault floor",
        time,
        rss_per: rss1.saturating_sub(rss0) as f64 / count as f64,
        maps_added: 1,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    pipe::exit_quietly_on_broken_pipe();
    let args = Args::parse();
    if args.count == 0 {
        return Err("--count must be at least 1".into());
    }
    if args.cold_only {
        let mut rt = corio::Runtime::new()?;
        let took = rt.block_on(|| {
            let (took, tx, _all) = spawn_parked(args.count);
            std::mem::forget(tx);
            took
        });
        println!("cold spawn of {}: {:.3} s", args.count, took.as_secs_f64());
        std::process::exit(0); // skip the teardown
    }
    // Floor first, then corio, then the floor again: the VM's page cost
    // drifts, and the two floors bracket the corio run.
    let floor_before = floor_row(args.count)?;
    let (cold, warm) = corio_rows(args.count)?;
    let floor_after = floor_row(args.count)?;
    let floor = floor_before.time.min(floor_after.time);
    let ratio = cold.time.as_secs_f64() / floor.as_secs_f64();
    let floor_before = Row {
        name: "floor, before",
        ..floor_before
    };
    let floor_after = Row {
        name: "floor, after",
        ..floor_after
    };
    if !args.json {
        println!(
            "spawn_scale: {} coroutines, each parked on a channel",
            args.count
        );
        println!(
            "  {:<18}  {:>10}  {:>12}  {:>14}  {:>11}",
            "row", "time", "ns / each", "RSS / each", "maps added"
        );
    }
    for row in [&floor_before, &cold, &warm, &floor_after] {
        let per = row.time.as_nanos() as f64 / args.count as f64;
        if args.json {
            println!(
                "{}",
                json!({"row": row.name, "count": args.count, "seconds": row.time.as_secs_f64(),
                       "ns_per": per, "rss_bytes_per": row.rss_per, "maps_added": row.maps_added,
                       "cold_over_floor": ratio})
            );
        } else {
            println!(
                "  {:<18}  {:>8.3} s  {:>12.0}  {:>10.0} B  {:>11}",
                row.name,
                row.time.as_secs_f64(),
                per,
                row.rss_per,
                row.maps_added
            );
        }
    }
    if !args.json {
        println!("  cold / floor = {ratio:.2}x (the faster floor: the VM's page cost drifts)");
    }
    Ok(())
}
