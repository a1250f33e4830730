//! Echo round trips per second over 100 connections: a corio server (one
//! coroutine per connection, one OS thread) against a std server (one OS
//! thread per connection), measured in the same run with the same client.
//!
//! ```text
//! cargo bench --bench echo
//! ```
//!
//! The client is one corio runtime on its own thread holding 100
//! connections; one iteration is one 64-byte round trip on each of them
//! (criterion's throughput is therefore round trips per second). Each
//! connection waits for its echo before sending again, so the rate measures
//! how fast a server turns requests around, not how much it can buffer.
//! At the end the bench prints both rates on one line.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use corio::Runtime;
use criterion::{Criterion, Throughput};

/// Concurrent connections, as in the task statement.
const CONNECTIONS: usize = 100;
/// Bytes per message.
const MESSAGE: usize = 64;
/// Criterion samples per benchmark (its minimum), to keep the run short.
const SAMPLES: usize = 10;

/// Starts a corio echo server on a thread of its own; returns its address.
fn start_corio_server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener
        .local_addr()
        .expect("bound listener has an address");
    thread::spawn(move || {
        corio::run(move || {
            let listener = corio::net::TcpListener::from_std(listener).expect("register listener");
            loop {
                let (stream, _) = listener.accept().expect("accept");
                stream.set_nodelay(true).expect("set TCP_NODELAY");
                corio::spawn(move || {
                    let mut buf = [0; 4096];
                    loop {
                        match (&stream).read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => (&stream).write_all(&buf[..n]).expect("echo"),
                        }
                    }
                });
            }
        })
    });
    addr
}

/// Starts a thread-per-connection std echo server; returns its address.
fn start_thread_server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener
        .local_addr()
        .expect("bound listener has an address");
    thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.expect("accept");
            stream.set_nodelay(true).expect("set TCP_NODELAY");
            thread::spawn(move || {
                let mut buf = [0; 4096];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => stream.write_all(&buf[..n]).expect("echo"),
                    }
                }
            });
        }
    });
    addr
}

/// The client: a corio runtime on its own thread with `CONNECTIONS` open
/// connections. Send it a number of rounds; it answers with how long
/// that many round trips on every connection took.
struct Load {
    rounds: mpsc::Sender<u64>,
    took: mpsc::Receiver<Duration>,
}

impl Load {
    fn start(addr: SocketAddr) -> Load {
        let (rounds_tx, rounds_rx) = mpsc::channel::<u64>();
        let (took_tx, took_rx) = mpsc::channel();
        thread::spawn(move || {
            let mut rt = Runtime::new().expect("client runtime");
            let mut streams = rt.block_on(move || {
                (0..CONNECTIONS)
                    .map(|_| {
                        let s = corio::net::TcpStream::connect(addr).expect("connect");
                        s.set_nodelay(true).expect("set TCP_NODELAY");
                        s
                    })
                    .collect::<Vec<_>>()
            });
            for rounds in rounds_rx {
                let (back, took) = rt.block_on(move || {
                    let start = Instant::now();
                    let workers: Vec<_> = streams
                        .into_iter()
                        .map(|s| corio::spawn(move || round_trips(s, rounds)))
                        .collect();
                    let back: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
                    (back, start.elapsed())
                });
                streams = back;
                if took_tx.send(took).is_err() {
                    return;
                }
            }
        });
        Load {
            rounds: rounds_tx,
            took: took_rx,
        }
    }

    /// Runs `rounds` round trips on every connection; returns the time.
    fn run(&self, rounds: u64) -> Duration {
        self.rounds.send(rounds).expect("client thread alive");
        self.took.recv().expect("client thread alive")
    }
}

/// `rounds` request/echo round trips on one connection.
fn round_trips(stream: corio::net::TcpStream, rounds: u64) -> corio::net::TcpStream {
    let message = [0x5a; MESSAGE];
    let mut echo = [0; MESSAGE];
    for _ in 0..rounds {
        (&stream).write_all(&message).expect("send");
        (&stream).read_exact(&mut echo).expect("receive echo");
    }
    assert_eq!(echo, message, "the server echoed something else");
    stream
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(SAMPLES)
        .configure_from_args();
    let mut group = c.benchmark_group("echo_100_connections");
    group.throughput(Throughput::Elements(CONNECTIONS as u64));

    let mut rates = Vec::new();
    for (name, start) in [
        (
            "corio_coroutine_per_connection",
            start_corio_server as fn() -> SocketAddr,
        ),
        ("std_thread_per_connection", start_thread_server),
    ] {
        let load = Load::start(start());
        let calls = RefCell::new(Vec::new());
        group.bench_function(name, |b| {
            b.iter_custom(|rounds| {
                let took = load.run(rounds);
                calls.borrow_mut().push((rounds, took));
                took
            })
        });
        // Criterion's last SAMPLES calls are the measured samples; the
        // earlier ones were warm-up.
        let calls = calls.into_inner();
        let measured = &calls[calls.len().saturating_sub(SAMPLES)..];
        let rounds: u64 = measured.iter().map(|(r, _)| r).sum();
        let took: Duration = measured.iter().map(|(_, t)| *t).sum();
        rates.push((
            name,
            (rounds * CONNECTIONS as u64) as f64 / took.as_secs_f64(),
        ));
    }
    group.finish();
    c.final_summary();
    println!(
        "echo round trips/s (mean over the measured samples), {CONNECTIONS} connections, \
         {MESSAGE}-byte messages, same run, same client:"
    );
    for (name, rate) in rates {
        println!("  {name:32} {rate:>12.0}");
    }
}
