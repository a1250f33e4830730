//! What a file call costs on corio against std's, in the same run.
//!
//! ```text
//! cargo run --release --example fs_cost
//! cargo run --release --example fs_cost -- --samples 20000 --size 64 --json
//! ```
//!
//! A regular file cannot be polled, so `corio::fs` runs each call on the
//! blocking pool and suspends the calling coroutine meanwhile: the other
//! coroutines of the runtime keep running, but the call itself pays a
//! hand-off to a pool thread and a wake-up back. This lab measures that
//! price on calls the page cache answers at once (the worst case for the
//! hand-off, since the call itself is cheapest there):
//!
//! - `read`: a `--size`-byte read from an open file, sequentially through a
//!   file that holds every sample (`std::fs::File::read` against
//!   `corio::fs::File::read`);
//! - `metadata`: one `stat` of that file;
//! - `read_file`: `fs::read` of a 4 KiB file (open, read, close: one pool
//!   trip for all three on corio);
//! - `pool_round_trip`: `corio::spawn_blocking` of an empty job, the floor
//!   under every corio row.
//!
//! std's calls run on the runtime's own thread, inside the same root
//! coroutine, so both columns see the same machine; the two are
//! interleaved in rounds. Each sample is one call, timed alone; the table
//! gives the median and the 99th percentile in microseconds and the ratio
//! of the medians. A large read amortizes the hand-off: batch (`fs::read`,
//! `read_to_end`, a `BufReader`) where calls are small.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

#[path = "common/pipe.rs"]
mod pipe;
#[path = "common/stats.rs"]
mod stats;
#[path = "common/values.rs"]
mod values;

#[derive(Parser)]
#[command(about = "The cost of a small file call on corio (blocking pool) against std, in one run")]
struct Args {
    /// Calls timed per operation and side.
    #[arg(long, default_value_t = 10_000, value_parser = values::at_least_one::<usize>)]
    samples: usize,
    /// Bytes per `read` call.
    #[arg(long, default_value_t = 64, value_parser = values::at_least_one::<usize>)]
    size: usize,
    /// Rounds the samples are split into, alternating std and corio.
    #[arg(long, default_value_t = 10, value_parser = values::at_least_one::<usize>)]
    rounds: usize,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

/// One operation measured on both sides.
struct Row {
    name: &'static str,
    std: Vec<Duration>,
    corio: Vec<Duration>,
}

/// Times `op` once per call, `n` times, appending to `into`.
fn time_each(n: usize, into: &mut Vec<Duration>, mut op: impl FnMut()) {
    for _ in 0..n {
        let start = Instant::now();
        op();
        into.push(start.elapsed());
    }
}

/// A scratch directory with the files the operations use.
fn prepare(args: &Args) -> std::io::Result<(PathBuf, PathBuf, PathBuf)> {
    let dir = std::env::temp_dir().join(format!("corio-fs-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let big = dir.join("reads");
    // Enough bytes that a whole side's reads never reach the end.
    std::fs::write(&big, vec![7u8; args.size * (args.samples + 1)])?;
    let small = dir.join("small");
    std::fs::write(&small, vec![1u8; 4096])?;
    Ok((dir, big, small))
}

fn measure(args: &Args, big: &Path, small: &Path) -> std::io::Result<Vec<Row>> {
    let per_round = args.samples.div_ceil(args.rounds);
    corio::run(|| {
        let mut rows = vec![
            Row {
                name: "read",
                std: vec![],
                corio: vec![],
            },
            Row {
                name: "metadata",
                std: vec![],
                corio: vec![],
            },
            Row {
                name: "read_file",
                std: vec![],
                corio: vec![],
            },
            Row {
                name: "pool_round_trip",
                std: vec![],
                corio: vec![],
            },
        ];
        let mut std_file = std::fs::File::open(big)?;
        let mut corio_file = corio::fs::File::open(big)?;
        let mut buf = vec![0u8; args.size];
        for _ in 0..args.rounds {
            std_file.seek(SeekFrom::Start(0))?;
            corio_file.seek(SeekFrom::Start(0))?;
            let [read, meta, whole, pool] = &mut rows[..] else {
                unreachable!("four rows")
            };
            time_each(per_round, &mut read.std, || {
                assert_eq!(std_file.read(&mut buf).unwrap(), args.size);
            });
            time_each(per_round, &mut read.corio, || {
                assert_eq!(corio_file.read(&mut buf).unwrap(), args.size);
            });
            time_each(per_round, &mut meta.std, || {
                std::fs::metadata(big).unwrap();
            });
            time_each(per_round, &mut meta.corio, || {
                corio::fs::metadata(big).unwrap();
            });
            time_each(per_round, &mut whole.std, || {
                assert_eq!(std::fs::read(small).unwrap().len(), 4096);
            });
            time_each(per_round, &mut whole.corio, || {
                assert_eq!(corio::fs::read(small).unwrap().len(), 4096);
            });
            // The floor: nothing on either side but the hand-off itself.
            time_each(per_round, &mut pool.std, || {
                std::hint::black_box(());
            });
            time_each(per_round, &mut pool.corio, || {
                corio::spawn_blocking(|| ()).unwrap();
            });
        }
        Ok(rows)
    })
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() -> std::io::Result<()> {
    pipe::exit_quietly_on_broken_pipe();
    let args = Args::parse();
    let (dir, big, small) = prepare(&args)?;
    let rows = measure(&args, &big, &small);
    std::fs::remove_dir_all(&dir)?;
    let rows = rows?;
    if !args.json {
        println!(
            "cost of one call, µs ({} calls per side, {}-byte reads, page cache warm)",
            rows[0].std.len(),
            args.size
        );
        println!(
            "{:>16} {:>11} {:>11} {:>12} {:>11} {:>8}",
            "operation", "std median", "std p99", "corio median", "corio p99", "ratio"
        );
    }
    for row in &rows {
        let (std_median, std_p99) = (stats::median(&row.std), stats::percentile(&row.std, 0.99));
        let (corio_median, corio_p99) = (
            stats::median(&row.corio),
            stats::percentile(&row.corio, 0.99),
        );
        let ratio = corio_median.as_secs_f64() / std_median.as_secs_f64().max(1e-9);
        if args.json {
            println!(
                "{}",
                json!({"operation": row.name, "calls": row.std.len(), "size": args.size,
                       "std_median_us": us(std_median), "std_p99_us": us(std_p99),
                       "corio_median_us": us(corio_median), "corio_p99_us": us(corio_p99),
                       "ratio": ratio})
            );
        } else if row.name == "pool_round_trip" {
            println!(
                "{:>16} {:>11} {:>11} {:>12.2} {:>11.2} {:>8}",
                row.name,
                "-",
                "-",
                us(corio_median),
                us(corio_p99),
                "-"
            );
        } else {
            println!(
                "{:>16} {:>11.2} {:>11.2} {:>12.2} {:>11.2} {:>7.1}x",
                row.name,
                us(std_median),
                us(std_p99),
                us(corio_median),
                us(corio_p99),
                ratio
            );
        }
    }
    Ok(())
}
