//! Echo round trips per second, measured in the same run with the same
//! client:
//!
//! - 100 connections: a corio server (one coroutine per connection, one OS
//!   thread) against tokio's current-thread runtime (a task per
//!   connection), may with one worker (a coroutine per connection) and a
//!   std server (one OS thread per connection);
//! - 1000 connections: a corio server on one runtime against tokio and
//!   may as above, and against the same corio server on two
//!   (`corio::runtime::ThreadPerCore`, each runtime accepting on the shared
//!   port through `TcpListener::bind_reuse_port`).
//!
//! Every server has the same loop: read up to 4 KiB, write back what came.
//!
//! ```text
//! cargo bench --bench echo
//! ```
//!
//! The client is corio runtimes on threads of their own (one for 100
//! connections, two for 1000) holding the connections; one iteration is one
//! 64-byte round trip on each of them (criterion's throughput is therefore
//! round trips per second). Each connection waits for its echo before
//! sending again, so the rate measures how fast a server turns requests
//! around, not how much it can buffer. At the end the bench prints the
//! rates and their ratios. The client runs on the same machine: on 2 cores,
//! a second server runtime competes with the client for the CPU.

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
                corio::spawn(move || echo_until_closed(&stream));
            }
        })
    });
    addr
}

/// Starts a corio echo server of `runtimes` runtimes sharing one port
/// (thread-per-core); returns its address.
fn start_corio_server_on(runtimes: usize) -> SocketAddr {
    let (addr_tx, addr_rx) = mpsc::channel();
    thread::spawn(move || {
        let first = std::sync::Mutex::new(None::<SocketAddr>);
        let bound = std::sync::Barrier::new(runtimes);
        corio::runtime::ThreadPerCore::new(runtimes)
            .run(|core| {
                let listener = if core == 0 {
                    let l = corio::net::TcpListener::bind_reuse_port("127.0.0.1:0")
                        .expect("bind 127.0.0.1:0");
                    *first.lock().unwrap() = Some(l.local_addr().unwrap());
                    addr_tx.send(l.local_addr().unwrap()).unwrap();
                    bound.wait();
                    l
                } else {
                    bound.wait();
                    let addr = first.lock().unwrap().unwrap();
                    corio::net::TcpListener::bind_reuse_port(addr).expect("bind the shared port")
                };
                loop {
                    let (stream, _) = listener.accept().expect("accept");
                    stream.set_nodelay(true).expect("set TCP_NODELAY");
                    corio::spawn(move || echo_until_closed(&stream));
                }
            })
            .expect("server runtimes");
    });
    addr_rx.recv().expect("server thread alive")
}

/// One server connection of a blocking-style server (corio, may, std):
/// echo until the peer closes.
fn echo_until_closed(mut stream: impl Read + Write) {
    let mut buf = [0; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => stream.write_all(&buf[..n]).expect("echo"),
        }
    }
}

/// Starts a tokio current-thread echo server (a task per connection) on a
/// thread of its own; returns its address.
fn start_tokio_server() -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener
        .set_nonblocking(true)
        .expect("non-blocking listener");
    let addr = listener
        .local_addr()
        .expect("bound listener has an address");
    thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .expect("a tokio runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("register");
            loop {
                let (mut stream, _) = listener.accept().await.expect("accept");
                stream.set_nodelay(true).expect("set TCP_NODELAY");
                tokio::spawn(async move {
                    let mut buf = [0; 4096];
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => stream.write_all(&buf[..n]).await.expect("echo"),
                        }
                    }
                });
            }
        })
    });
    addr
}

/// Starts a may echo server with one worker thread (a coroutine per
/// connection); returns its address. may's configuration is global and
/// read when its scheduler starts: this bench uses no other may code.
fn start_may_server() -> SocketAddr {
    may::config().set_workers(1);
    let listener = may::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener
        .local_addr()
        .expect("bound listener has an address");
    // SAFETY: may's `spawn` is unsafe because a coroutine that touches
    // thread-locals may see another thread's after it migrates, and because
    // a stack overflow is not caught. With one worker nothing migrates, and
    // these bodies use a 4 KiB buffer of may's default stack.
    unsafe {
        may::coroutine::spawn(move || -> () {
            loop {
                let (stream, _) = listener.accept().expect("accept");
                stream.set_nodelay(true).expect("set TCP_NODELAY");
                // SAFETY: as above.
                may::coroutine::spawn(move || echo_until_closed(stream));
            }
        });
    }
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
            let stream = stream.expect("accept");
            stream.set_nodelay(true).expect("set TCP_NODELAY");
            thread::spawn(move || echo_until_closed(stream));
        }
    });
    addr
}

/// The client: corio runtimes on threads of their own, together holding the
/// connections. Send it a number of rounds; it answers with how long that
/// many round trips on every connection took (the slowest runtime's time).
struct Load {
    rounds: Vec<mpsc::Sender<u64>>,
    took: mpsc::Receiver<Duration>,
}

impl Load {
    fn start(addr: SocketAddr, connections: usize, threads: usize) -> Load {
        let (took_tx, took_rx) = mpsc::channel();
        let rounds = (0..threads)
            .map(|t| {
                let (rounds_tx, rounds_rx) = mpsc::channel::<u64>();
                let took_tx = took_tx.clone();
                let mine = connections / threads + usize::from(t < connections % threads);
                thread::spawn(move || client(addr, mine, &rounds_rx, &took_tx));
                rounds_tx
            })
            .collect();
        Load {
            rounds,
            took: took_rx,
        }
    }

    /// Runs `rounds` round trips on every connection; returns the time.
    fn run(&self, rounds: u64) -> Duration {
        for tx in &self.rounds {
            tx.send(rounds).expect("client thread alive");
        }
        (0..self.rounds.len())
            .map(|_| self.took.recv().expect("client thread alive"))
            .max()
            .unwrap_or_default()
    }
}

/// One client thread: `connections` connections on one runtime.
fn client(
    addr: SocketAddr,
    connections: usize,
    rounds_rx: &mpsc::Receiver<u64>,
    took_tx: &mpsc::Sender<Duration>,
) {
    let mut rt = Runtime::new().expect("client runtime");
    let mut streams = rt.block_on(move || {
        (0..connections)
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

/// Measures each server of `servers` under `connections` connections from
/// `client_threads` client runtimes; returns the rates in round trips/s.
fn measure(
    c: &mut Criterion,
    group_name: &str,
    connections: usize,
    client_threads: usize,
    servers: &[(&'static str, &dyn Fn() -> SocketAddr)],
) -> Vec<(&'static str, f64)> {
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(connections as u64));
    let mut rates = Vec::new();
    for (name, start) in servers {
        let load = Load::start(start(), connections, client_threads);
        let calls = RefCell::new(Vec::new());
        group.bench_function(*name, |b| {
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
            *name,
            (rounds * connections as u64) as f64 / took.as_secs_f64(),
        ));
    }
    group.finish();
    rates
}

fn main() {
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(SAMPLES)
        .configure_from_args();
    let hundred = measure(
        &mut c,
        "echo_100_connections",
        CONNECTIONS,
        1,
        &[
            ("corio_coroutine_per_connection", &start_corio_server),
            ("tokio_current_thread", &start_tokio_server),
            ("may_1_worker", &start_may_server),
            ("std_thread_per_connection", &start_thread_server),
        ],
    );
    let thousand = measure(
        &mut c,
        "echo_1000_connections",
        1000,
        2,
        &[
            ("corio_1_runtime", &|| start_corio_server_on(1)),
            ("tokio_current_thread", &start_tokio_server),
            ("may_1_worker", &start_may_server),
            ("corio_2_runtimes", &|| start_corio_server_on(2)),
        ],
    );
    c.final_summary();
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "echo round trips/s (mean over the measured samples), {MESSAGE}-byte messages, \
         same run, same client, {cores} CPU cores shared by client and server:"
    );
    for (connections, rates) in [(CONNECTIONS, &hundred), (1000, &thousand)] {
        println!("  {connections} connections:");
        let (first, first_rate) = rates[0];
        for (name, rate) in rates.iter() {
            println!(
                "    {name:32} {rate:>12.0}   {first} / this: {:.2}x",
                first_rate / rate
            );
        }
    }
}
