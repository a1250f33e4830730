//! corio's std-shaped synchronisation against std's, side by side:
//!
//! ```text
//! cargo bench --bench sync
//! ```
//!
//! - `mutex/*_uncontended`: one lock + unlock that nobody else wants;
//! - `sync_channel/*_pingpong`: a round trip over two `sync_channel(1)`s,
//!   between two coroutines (corio) or two OS threads (std);
//! - `select/*`: the same round trip between two coroutines, the partner
//!   receiving with a plain `recv` or with `select!` over two channels.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::Criterion;

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

fn mutex(c: &mut Criterion) {
    let mut group = c.benchmark_group("mutex");
    group.bench_function("corio_uncontended", |b| {
        let m = corio::sync::Mutex::new(0u64);
        b.iter(|| *black_box(&m).lock().unwrap() += 1);
    });
    group.bench_function("std_uncontended", |b| {
        let m = std::sync::Mutex::new(0u64);
        b.iter(|| *black_box(&m).lock().unwrap() += 1);
    });
    group.finish();
}

/// `$iters` round trips over two `sync_channel(1)`s between the caller and
/// a partner started with `$spawn`, the channels from `$mpsc`: the same
/// code for coroutines and for OS threads.
macro_rules! sync_pingpong {
    ($mpsc:path, $spawn:path, $iters:expr) => {{
        use $mpsc as mpsc;
        let (ping, pinged) = mpsc::sync_channel::<u64>(1);
        let (pong, ponged) = mpsc::sync_channel::<u64>(1);
        let partner = $spawn(move || {
            for v in pinged {
                pong.send(v).unwrap();
            }
        });
        let start = Instant::now();
        for i in 0..$iters {
            ping.send(black_box(i)).unwrap();
            black_box(ponged.recv().unwrap());
        }
        let elapsed = start.elapsed();
        drop(ping);
        partner.join().unwrap();
        elapsed
    }};
}

/// The ping-pong between two coroutines.
fn corio_pingpong(iters: u64) -> Duration {
    corio::run(move || sync_pingpong!(corio::sync::mpsc, corio::spawn, iters))
}

/// The same between two OS threads over std's channels.
fn std_pingpong(iters: u64) -> Duration {
    sync_pingpong!(std::sync::mpsc, std::thread::spawn, iters)
}

fn sync_channel(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync_channel");
    group.bench_function("corio_pingpong", |b| b.iter_custom(corio_pingpong));
    group.bench_function("std_pingpong", |b| b.iter_custom(std_pingpong));
    group.finish();
}

/// A corio ping-pong whose partner receives with `select!` over two
/// channels (the second never gets a message) or with a plain `recv`.
fn corio_select_pingpong(iters: u64, select: bool) -> Duration {
    corio::run(move || {
        let (ping, pinged) = corio::sync::mpsc::channel::<u64>();
        let (_idle_tx, idle) = corio::sync::mpsc::channel::<u64>();
        let (pong, ponged) = corio::sync::mpsc::channel::<u64>();
        let partner = corio::spawn(move || {
            loop {
                let next = if select {
                    corio::select! {
                        recv(pinged) -> v => v,
                        recv(idle) -> v => v,
                    }
                } else {
                    pinged.recv()
                };
                match next {
                    Ok(v) => pong.send(v).unwrap(),
                    Err(_) => break,
                }
            }
        });
        let start = Instant::now();
        for i in 0..iters {
            ping.send(black_box(i)).unwrap();
            black_box(ponged.recv().unwrap());
        }
        let elapsed = start.elapsed();
        drop(ping);
        partner.join().unwrap();
        elapsed
    })
}

fn select(c: &mut Criterion) {
    let mut group = c.benchmark_group("select");
    group.bench_function("corio_recv", |b| {
        b.iter_custom(|n| corio_select_pingpong(n, false))
    });
    group.bench_function("corio_select_of_2", |b| {
        b.iter_custom(|n| corio_select_pingpong(n, true))
    });
    group.finish();
}

fn main() {
    let mut criterion = config().configure_from_args();
    mutex(&mut criterion);
    sync_channel(&mut criterion);
    select(&mut criterion);
    criterion.final_summary();
}
