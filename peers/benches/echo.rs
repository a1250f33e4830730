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
//! rates and their ratios, and where the CPU went: the server's and the
//! client's CPU-seconds per second (`getrusage`: the process minus the
//! client threads, and the client threads), the machine's busy CPUs
//! (`/proc/stat`, steal apart) and round trips per server CPU-second.
//!
//! The client runs on the same machine, and on loopback it costs about
//! what the server does per round trip (each side's `write` carries the
//! other side's receive in the kernel). So a second server runtime helps
//! only while a core idles: once server and client together keep every
//! core busy, the rate is bounded by cores ÷ (the machine's CPU time per
//! round trip), and the bench prints that bound beside the two-runtime rate.
//! Round trips per server CPU-second, 1 runtime against 2, is the figure
//! that shows whether a second runtime costs anything per request.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use corio::Runtime;
use criterion::{Criterion, Throughput};
use usage::CpuTicks;

#[path = "../../examples/common/usage.rs"]
mod usage;

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
/// many round trips on every connection took (the slowest runtime's time)
/// and how much CPU its threads spent on them.
struct Load {
    rounds: Vec<mpsc::Sender<u64>>,
    took: mpsc::Receiver<(Duration, Duration)>,
}

/// What one batch of round trips cost: the client's wall time, and the CPU
/// time of the client's threads, of the whole process and of the machine.
#[derive(Clone, Copy, Default)]
struct Cost {
    wall: Duration,
    client_cpu: Duration,
    process_cpu: Duration,
    machine: CpuTicks,
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

    /// Runs `rounds` round trips on every connection; returns what it cost.
    fn run(&self, rounds: u64) -> Cost {
        let process_before = cpu_time(libc::RUSAGE_SELF);
        let machine_before = machine_ticks();
        for tx in &self.rounds {
            tx.send(rounds).expect("client thread alive");
        }
        let mut cost = Cost::default();
        for _ in 0..self.rounds.len() {
            let (took, cpu) = self.took.recv().expect("client thread alive");
            cost.wall = cost.wall.max(took);
            cost.client_cpu += cpu;
        }
        cost.process_cpu = cpu_time(libc::RUSAGE_SELF).saturating_sub(process_before);
        cost.machine = machine_ticks().since(machine_before);
        cost
    }
}

/// CPU time (user + system) of the process (`RUSAGE_SELF`) or of the
/// calling thread (`RUSAGE_THREAD`).
fn cpu_time(who: libc::c_int) -> Duration {
    usage::cpu_time(&usage::rusage(who))
}

/// The machine's CPU counters now; all zero if `/proc/stat` cannot be read
/// (the CPU columns then print NaN).
fn machine_ticks() -> CpuTicks {
    CpuTicks::now().unwrap_or_default()
}

/// One client thread: `connections` connections on one runtime. Answers
/// each batch with its wall time and this thread's CPU time for it.
fn client(
    addr: SocketAddr,
    connections: usize,
    rounds_rx: &mpsc::Receiver<u64>,
    took_tx: &mpsc::Sender<(Duration, Duration)>,
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
        let cpu_before = cpu_time(libc::RUSAGE_THREAD);
        let (back, took) = rt.block_on(move || {
            let start = Instant::now();
            let workers: Vec<_> = streams
                .into_iter()
                .map(|s| corio::spawn(move || round_trips(s, rounds)))
                .collect();
            let back: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
            (back, start.elapsed())
        });
        let cpu = cpu_time(libc::RUSAGE_THREAD).saturating_sub(cpu_before);
        streams = back;
        if took_tx.send((took, cpu)).is_err() {
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

/// One server's measured samples under one load.
struct Measured {
    name: &'static str,
    /// Round trips per second.
    rate: f64,
    /// Server CPU time per second: the process's CPU time minus the client
    /// threads' (the idle servers of earlier benchmarks add nothing).
    server_cores: f64,
    /// The client threads' CPU time per second.
    client_cores: f64,
    /// The machine's busy CPU time per second (`/proc/stat`, all CPUs,
    /// neither idle nor stolen). What it has beyond server and client is
    /// other processes, and kernel work charged to no thread of ours
    /// (softirq time, `ksoftirqd`).
    machine_cores: f64,
    /// CPU time per second the hypervisor gave to other guests.
    steal_cores: f64,
}

impl Measured {
    fn from_samples(name: &'static str, connections: usize, samples: &[(u64, Cost)]) -> Measured {
        let round_trips: u64 = samples.iter().map(|(r, _)| r * connections as u64).sum();
        let sum = |f: fn(&Cost) -> Duration| samples.iter().map(|(_, c)| f(c)).sum::<Duration>();
        let wall = sum(|c| c.wall).as_secs_f64();
        let client = sum(|c| c.client_cpu);
        let server = sum(|c| c.process_cpu).saturating_sub(client);
        let (total, busy, steal) = samples.iter().fold((0, 0, 0), |(t, b, s), (_, c)| {
            (
                t + c.machine.total(),
                b + c.machine.busy,
                s + c.machine.steal,
            )
        });
        let cores = thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        Measured {
            name,
            rate: round_trips as f64 / wall,
            server_cores: server.as_secs_f64() / wall,
            client_cores: client.as_secs_f64() / wall,
            machine_cores: if total == 0 {
                f64::NAN
            } else {
                cores * busy as f64 / total as f64
            },
            steal_cores: if total == 0 {
                f64::NAN
            } else {
                cores * steal as f64 / total as f64
            },
        }
    }

    /// Round trips per second of server CPU time.
    fn per_server_cpu(&self) -> f64 {
        self.rate / self.server_cores
    }

    /// The rate this machine's cores allow at the CPU time the whole
    /// machine spent per round trip, if none of it idled or was stolen.
    fn cpu_bound(&self, cores: f64) -> f64 {
        cores * self.rate / self.machine_cores
    }
}

/// Measures each server of `servers` under `connections` connections from
/// `client_threads` client runtimes.
fn measure(
    c: &mut Criterion,
    group_name: &str,
    connections: usize,
    client_threads: usize,
    servers: &[(&'static str, &dyn Fn() -> SocketAddr)],
) -> Vec<Measured> {
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(connections as u64));
    let mut measured = Vec::new();
    for (name, start) in servers {
        let load = Load::start(start(), connections, client_threads);
        let calls = RefCell::new(Vec::new());
        group.bench_function(*name, |b| {
            b.iter_custom(|rounds| {
                let cost = load.run(rounds);
                calls.borrow_mut().push((rounds, cost));
                cost.wall
            })
        });
        // Criterion's last SAMPLES calls are the measured samples; the
        // earlier ones were warm-up.
        let calls = calls.into_inner();
        let samples = &calls[calls.len().saturating_sub(SAMPLES)..];
        measured.push(Measured::from_samples(name, connections, samples));
    }
    group.finish();
    measured
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
         same run, same client, {cores} CPU cores shared by client and server."
    );
    println!(
        "CPU columns are CPU-seconds per second: server and client by getrusage; machine = \
         /proc/stat busy time of all {cores} CPUs (other processes and kernel work charged \
         to no thread of ours, such as softirq, make up what it has beyond server + client); \
         steal = time the hypervisor gave to other guests. rt/server-cpu-s = round trips \
         per server CPU-second."
    );
    for (connections, rates) in [(CONNECTIONS, &hundred), (1000, &thousand)] {
        println!("  {connections} connections:");
        println!(
            "    {:32} {:>10} {:>7} {:>7} {:>8} {:>6} {:>16}   ratio",
            "server", "rt/s", "server", "client", "machine", "steal", "rt/server-cpu-s"
        );
        let first = &rates[0];
        for m in rates.iter() {
            println!(
                "    {:32} {:>10.0} {:>7.2} {:>7.2} {:>8.2} {:>6.2} {:>16.0}   {} / this: {:.2}x",
                m.name,
                m.rate,
                m.server_cores,
                m.client_cores,
                m.machine_cores,
                m.steal_cores,
                m.per_server_cpu(),
                first.name,
                first.rate / m.rate
            );
        }
    }
    thread_per_core_summary(&thousand, cores as f64);
}

/// What two server runtimes bought over one at 1000 connections, and what
/// bounds it when client and server share the machine's cores.
fn thread_per_core_summary(thousand: &[Measured], cores: f64) {
    let find = |name| thousand.iter().find(|m| m.name == name);
    let (Some(one), Some(two)) = (find("corio_1_runtime"), find("corio_2_runtimes")) else {
        return;
    };
    println!("  corio_2_runtimes / corio_1_runtime at 1000 connections:");
    println!(
        "    round trips/s {:.2}x; server CPU {:.2} vs {:.2} cores; \
         round trips per server CPU-second {:.2}x",
        two.rate / one.rate,
        two.server_cores,
        one.server_cores,
        two.per_server_cpu() / one.per_server_cpu()
    );
    println!(
        "    the client needs {:.2} CPU-seconds per server CPU-second at 2 runtimes; the machine \
         was busy {:.2} of {cores:.0} CPUs, so at this CPU per round trip its cores allow at \
         most {:.0} round trips/s ({:.2}x one runtime)",
        two.client_cores / two.server_cores,
        two.machine_cores,
        two.cpu_bound(cores),
        two.cpu_bound(cores) / one.rate
    );
}
