//! OS threads and coroutines in one process, and what each crossing between
//! them costs.
//!
//! ```text
//! cargo run --release --example threads_and_coroutines
//! cargo run --release --example threads_and_coroutines -- --samples 20000 --json
//! ```
//!
//! Part 1, a server that keeps serving: one runtime serves quick requests
//! and CPU-heavy ones over loopback TCP. Each heavy request goes to
//! `corio::spawn_blocking`, so the runtime's one thread stays free: the
//! quick requests' latency is printed with the heavy work on the blocking
//! pool, and with the same work done inline on the runtime's thread.
//!
//! Part 2, the crossings, each measured as a latency per message (median and
//! p99, `--samples` each, spaced 50 µs apart so that each one finds the
//! receiver idle, as a wake-up usually does):
//!
//! | row | from | to | through |
//! |---|---|---|---|
//! | coroutine -> coroutine | a coroutine | a coroutine of the same runtime | `corio::sync::mpsc` |
//! | std thread -> coroutine | an OS thread | a coroutine | a `corio` `Sender` (the runtime's inbox and `eventfd`) |
//! | std thread -> std thread | an OS thread | an OS thread | `std::sync::mpsc` (a futex) |
//! | spawn_blocking round trip | a coroutine | a pool thread and back | `corio::spawn_blocking(\|\| ())` |
//! | thread spawn + join | an OS thread | a new OS thread and back | `std::thread::spawn(\|\| ()).join()` |
//! | Handle::spawn from a thread | an OS thread | a new coroutine runs | `Handle::spawn` |

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::sync::mpsc as std_mpsc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use corio::net::{TcpListener, TcpStream};
use serde_json::json;

#[path = "common/pipe.rs"]
mod pipe;
#[path = "common/stats.rs"]
mod stats;
#[path = "common/values.rs"]
mod values;

#[derive(Parser)]
#[command(
    about = "Shows OS threads and coroutines cooperating in one process, and measures \
             every crossing between them (median and p99 latency)."
)]
struct Args {
    /// Messages per crossing.
    #[arg(long, value_name = "N", default_value_t = 5000, value_parser = values::at_least::<usize>(10))]
    samples: usize,
    /// One JSON object per row instead of the tables.
    #[arg(long)]
    json: bool,
}

/// Gap between two samples of a crossing, so that each finds its receiver
/// idle (a wake-up, not a hand-off into a busy loop).
const GAP: Duration = Duration::from_micros(50);

fn main() -> ExitCode {
    pipe::exit_quietly_on_broken_pipe();
    let Args { samples, json } = Args::parse();
    match run(samples, json) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("threads_and_coroutines: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Median and p99 of a set of latencies.
struct Summary {
    median: Duration,
    p99: Duration,
    count: usize,
}

fn summarise(v: Vec<Duration>) -> Summary {
    Summary {
        median: stats::median(&v),
        p99: stats::percentile(&v, 0.99),
        count: v.len(),
    }
}

fn run(samples: usize, json: bool) -> io::Result<()> {
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    if !json {
        println!("threads_and_coroutines: {cores} CPU cores, {profile} build\n");
        println!("Part 1: a coroutine server hands CPU-heavy requests to spawn_blocking");
    }
    for offload in [true, false] {
        let (quick, heavy) = serve_mixed(offload)?;
        let how = if offload {
            "heavy work on spawn_blocking"
        } else {
            "heavy work inline"
        };
        if json {
            let row = json!({
                "part": "server",
                "heavy": if offload { "spawn_blocking" } else { "inline" },
                "quick_median_us": tenths(micros(quick.median)),
                "quick_p99_us": tenths(micros(quick.p99)),
                "heavy_median_us": tenths(micros(heavy.median)),
                "profile": profile,
                "cores": cores,
            });
            println!("{row}");
        } else {
            println!(
                "  {how:<30} quick requests: median {:>8.1} µs, p99 {:>8.1} µs   heavy: median {:>8.1} µs",
                micros(quick.median),
                micros(quick.p99),
                micros(heavy.median)
            );
        }
    }
    if !json {
        println!("\nPart 2: each crossing, {samples} messages spaced {GAP:?} apart");
        println!("  {:<30} {:>12} {:>12}", "crossing", "median", "p99");
    }
    let rows: Vec<(&str, Summary)> = vec![
        ("coroutine -> coroutine", coroutine_to_coroutine(samples)),
        ("std thread -> coroutine", thread_to_coroutine(samples)),
        ("std thread -> std thread", thread_to_thread(samples)),
        ("spawn_blocking round trip", blocking_round_trip(samples)),
        ("thread spawn + join", spawn_join(samples)),
        ("Handle::spawn from a thread", handle_spawn(samples)),
    ];
    for (name, s) in &rows {
        if json {
            let row = json!({
                "part": "crossing",
                "crossing": name,
                "median_ns": s.median.as_nanos() as u64,
                "p99_ns": s.p99.as_nanos() as u64,
                "samples": s.count,
                "profile": profile,
                "cores": cores,
            });
            println!("{row}");
        } else {
            println!(
                "  {name:<30} {:>9.2} µs {:>9.2} µs",
                micros(s.median),
                micros(s.p99)
            );
        }
    }
    if !json {
        let by = |n: &str| rows.iter().find(|(r, _)| *r == n).map(|(_, s)| s.median);
        if let (Some(a), Some(b)) = (
            by("std thread -> coroutine"),
            by("std thread -> std thread"),
        ) {
            println!(
                "\n  std thread -> coroutine / std thread -> std thread (median): {:.2}x",
                a.as_secs_f64() / b.as_secs_f64()
            );
        }
        if let (Some(a), Some(b)) = (by("spawn_blocking round trip"), by("thread spawn + join")) {
            println!(
                "  spawn_blocking round trip / thread spawn + join (median):    {:.2}x",
                a.as_secs_f64() / b.as_secs_f64()
            );
        }
        println!(
            "\nThis machine may be shared: compare rows of one run, not runs of different days."
        );
    }
    Ok(())
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// `x` to one decimal, as the tables print it.
fn tenths(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// About 2 ms of hashing.
fn heavy_work(seed: u64) -> u64 {
    let mut h = seed ^ 0x9e37_79b9_7f4a_7c15;
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(2) {
        for _ in 0..1000 {
            h = h.rotate_left(5).wrapping_mul(0x100_0000_01b3) ^ 0xcbf2_9ce4_8422_2325;
        }
    }
    h
}

/// Part 1: a server on one runtime; 8 clients send quick requests (`q`,
/// answered at once), 2 send heavy ones (`h`, 2 ms of CPU). Returns the
/// latency of the quick and of the heavy requests.
fn serve_mixed(offload: bool) -> io::Result<(Summary, Summary)> {
    corio::run(move || {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        corio::spawn(move || {
            while let Ok((stream, _)) = listener.accept() {
                corio::spawn(move || serve_one(stream, offload));
            }
        });
        let client = |kind: u8, requests: usize| {
            corio::spawn(move || -> io::Result<Vec<Duration>> {
                let mut stream = TcpStream::connect(addr)?;
                stream.set_nodelay(true)?;
                let mut took = Vec::with_capacity(requests);
                let mut answer = [0u8; 8];
                for _ in 0..requests {
                    let start = Instant::now();
                    stream.write_all(&[kind])?;
                    stream.read_exact(&mut answer)?;
                    took.push(start.elapsed());
                    corio::sleep(Duration::from_micros(500));
                }
                Ok(took)
            })
        };
        let quick: Vec<_> = (0..8).map(|_| client(b'q', 200)).collect();
        let heavy: Vec<_> = (0..2).map(|_| client(b'h', 40)).collect();
        let mut q = Vec::new();
        for c in quick {
            q.extend(c.join().expect("a client panicked")?);
        }
        let mut h = Vec::new();
        for c in heavy {
            h.extend(c.join().expect("a client panicked")?);
        }
        Ok((summarise(q), summarise(h)))
    })
}

/// Answers each request byte with 8 bytes.
fn serve_one(mut stream: TcpStream, offload: bool) {
    let _ = stream.set_nodelay(true);
    let mut kind = [0u8; 1];
    while stream.read_exact(&mut kind).is_ok() {
        let answer = if kind[0] == b'h' {
            if offload {
                corio::spawn_blocking(|| heavy_work(7)).unwrap_or(0)
            } else {
                heavy_work(7)
            }
        } else {
            1
        };
        if stream.write_all(&answer.to_le_bytes()).is_err() {
            return;
        }
    }
}

/// A coroutine sends `Instant`s to another, `samples` times.
fn coroutine_to_coroutine(samples: usize) -> Summary {
    corio::run(|| {
        let (tx, rx) = corio::sync::mpsc::channel::<Instant>();
        let receiver = corio::spawn(move || rx.iter().map(|t| t.elapsed()).collect::<Vec<_>>());
        for _ in 0..samples {
            corio::sleep(GAP);
            tx.send(Instant::now()).unwrap();
        }
        drop(tx);
        summarise(receiver.join().unwrap())
    })
}

/// A std thread sends `Instant`s to a coroutine through a corio `Sender`.
fn thread_to_coroutine(samples: usize) -> Summary {
    corio::run(|| {
        let (tx, rx) = corio::sync::mpsc::channel::<Instant>();
        let feeder = feed(samples, move |t| tx.send(t).unwrap());
        let took: Vec<Duration> = rx.iter().map(|t| t.elapsed()).collect();
        feeder.join().unwrap();
        summarise(took)
    })
}

/// A std thread sends `Instant`s to another over `std::sync::mpsc`.
fn thread_to_thread(samples: usize) -> Summary {
    let (tx, rx) = std_mpsc::channel::<Instant>();
    let feeder = feed(samples, move |t| tx.send(t).unwrap());
    let took: Vec<Duration> = rx.iter().map(|t| t.elapsed()).collect();
    feeder.join().unwrap();
    summarise(took)
}

/// A std thread that calls `send(now)` `samples` times, `GAP` apart.
fn feed(samples: usize, send: impl Fn(Instant) + Send + 'static) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for _ in 0..samples {
            spin_for(GAP);
            send(Instant::now());
        }
    })
}

/// `spawn_blocking(|| ())` from a coroutine, timed round trip.
fn blocking_round_trip(samples: usize) -> Summary {
    corio::run(|| {
        let mut took = Vec::with_capacity(samples);
        for _ in 0..samples {
            corio::sleep(GAP);
            let start = Instant::now();
            corio::spawn_blocking(|| ()).unwrap();
            took.push(start.elapsed());
        }
        summarise(took)
    })
}

/// `std::thread::spawn(|| ()).join()`, timed.
fn spawn_join(samples: usize) -> Summary {
    let mut took = Vec::with_capacity(samples);
    for _ in 0..samples {
        spin_for(GAP);
        let start = Instant::now();
        thread::spawn(|| ()).join().unwrap();
        took.push(start.elapsed());
    }
    summarise(took)
}

/// From a std thread, `Handle::spawn` a task that reports when it runs.
fn handle_spawn(samples: usize) -> Summary {
    let mut rt = corio::Runtime::new().expect("a runtime");
    let handle = rt.handle();
    let (tx, rx) = std_mpsc::channel::<Duration>();
    let feeder = thread::spawn(move || {
        for _ in 0..samples {
            spin_for(GAP);
            let start = Instant::now();
            let tx = tx.clone();
            handle
                .spawn(move || tx.send(start.elapsed()).unwrap())
                .expect("the runtime is alive");
        }
    });
    // The runtime serves until the feeder is done, its root waiting on the
    // blocking pool for that.
    rt.block_on(|| corio::spawn_blocking(move || feeder.join().unwrap()).unwrap());
    drop(rt);
    summarise(rx.iter().collect())
}

/// Waits `d` without sleeping (a sleep of 50 µs takes 100 µs or more).
fn spin_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}
