//! HTTP/1.1 keep-alive load, one server per runtime, the same parsing and
//! connection loop on each (`examples/http_hello/http.rs`), driven by
//! `wrk` in one invocation with the servers interleaved round by round:
//!
//! - `corio`: one coroutine per connection on one runtime;
//! - `corio-no-watchdog` (only when asked for with `--servers`): the same
//!   with `stall_threshold(None)`, so no stall watchdog thread: a process
//!   of one thread, as tokio's is (`scripts/wrk_profile.sh` compares the
//!   two);
//! - `tokio`: tokio's current-thread runtime, a task per connection;
//! - `may`: may with one worker, a coroutine per connection;
//! - `std`: one OS thread per connection.
//!
//! ```text
//! apt-get install wrk                      # Debian/Ubuntu; brew install wrk on macOS
//! cargo bench --bench http                 # 3 rounds × 4 servers × 100 and 1000 connections
//! cargo bench --bench http -- --rounds 7 --duration 10 --json results.json
//! cargo bench --bench http -- --help
//! ```
//!
//! Each run starts a fresh server process (this binary re-executed with
//! `--serve NAME`) pinned to `--server-cpu`, warms it up with `--warmup`
//! seconds of load, then measures `--duration` seconds with the load
//! generator pinned to `--client-cpu`. Per run it records requests per
//! second, p50 and p99 latency (as the load generator saw them), the
//! server's CPU time (user + system, all its threads, from
//! `/proc/PID/stat`), requests per server CPU-second, the server's peak RSS
//! (`VmHWM`) and the machine's CPU steal during the run. The summary gives
//! the median of each over the rounds, and per round the ratios of corio to
//! the others, so a noisy round shows as one. With 6 rounds or more, each
//! median ratio of requests per second and per server CPU-second comes
//! with the range that holds it with 95 % confidence ("0.95x, 95 %
//! 0.89-1.02"), from the order statistics of the rounds' ratios, which
//! assume nothing about how the machine's noise is spread: a range that
//! holds 1.00 is a tie as far as those rounds can tell. On a shared VM
//! one round's ratio often differs from the next by 10 % or more, so a
//! difference of a few percent takes many rounds to tell apart.
//!
//! Without `wrk` on the `PATH` (or with `--generator corio`), the load comes
//! from a generator written on corio: one coroutine per connection, each
//! sending a request and reading its response in a loop, timing each. Its
//! figures are comparable with each other, not with wrk's.
//!
//! Linux only (`/proc`, `sched_setaffinity`).

#[path = "../../examples/common/affinity.rs"]
#[allow(dead_code)] // Pins to given CPUs only.
mod affinity;
#[path = "../../examples/http_hello/http.rs"]
mod http;
#[path = "../../examples/common/stats.rs"]
mod stats;
#[path = "../../examples/common/usage.rs"]
mod usage;

use usage::CpuTicks;

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use serde_json::json;

#[derive(Parser)]
#[command(
    about = "HTTP keep-alive load against the same hello server on corio, tokio \
             (current_thread), may (1 worker) and std threads, interleaved"
)]
struct Args {
    /// Servers to measure, in the order each round runs them.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "corio,tokio,may,std"
    )]
    servers: Vec<Server>,
    /// Connection counts; every server runs at each.
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    connections: Vec<usize>,
    /// Rounds; each runs every server at every connection count once.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds measured per run.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds of load before each measured run (not counted).
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    /// The load generator: wrk if it is installed, else corio's.
    #[arg(long, value_enum, default_value = "auto")]
    generator: Generator,
    /// CPU the server runs on.
    #[arg(long, default_value_t = 0)]
    server_cpu: usize,
    /// CPU the load generator runs on.
    #[arg(long, default_value_t = 1)]
    client_cpu: usize,
    /// Also write every run and the summary as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Internal: serve with this runtime (the bench re-executes itself).
    #[arg(long, value_enum, hide = true)]
    serve: Option<Server>,
    /// Passed by `cargo bench`; ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Server {
    Corio,
    CorioNoWatchdog,
    Tokio,
    May,
    Std,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Corio => "corio",
            Server::CorioNoWatchdog => "corio-no-watchdog",
            Server::Tokio => "tokio",
            Server::May => "may",
            Server::Std => "std",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Server::Corio => "corio, coroutine per connection",
            Server::CorioNoWatchdog => "corio, no stall watchdog",
            Server::Tokio => "tokio current_thread, task per connection",
            Server::May => "may, 1 worker, coroutine per connection",
            Server::Std => "std, thread per connection",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Generator {
    Auto,
    Wrk,
    Corio,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(server) = args.serve {
        return match serve(server, args.server_cpu) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("http bench server ({}): {e}", server.name());
                ExitCode::FAILURE
            }
        };
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http bench: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------- servers

/// The server process: pins itself, binds a free loopback port, prints it
/// as `listening ADDR` and serves until killed.
fn serve(server: Server, cpu: usize) -> io::Result<()> {
    affinity::pin_to(cpu)?;
    let announce = |addr: SocketAddr| -> io::Result<()> {
        println!("listening {addr}");
        io::stdout().flush()
    };
    match server {
        Server::Corio | Server::CorioNoWatchdog => {
            let mut builder = corio::Runtime::builder();
            if server == Server::CorioNoWatchdog {
                builder = builder.stall_threshold(None);
            }
            builder.build()?.block_on(move || {
                let listener = corio::net::TcpListener::bind("127.0.0.1:0")?;
                announce(listener.local_addr()?)?;
                loop {
                    let (stream, _) = listener.accept()?;
                    stream.set_nodelay(true)?;
                    corio::spawn(move || http::serve(stream));
                }
            })
        }
        Server::Tokio => tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()?
            .block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                announce(listener.local_addr()?)?;
                loop {
                    let (stream, _) = listener.accept().await?;
                    stream.set_nodelay(true)?;
                    tokio::spawn(serve_tokio(stream));
                }
            }),
        Server::May => {
            may::config().set_workers(1);
            let listener = may::net::TcpListener::bind("127.0.0.1:0")?;
            announce(listener.local_addr()?)?;
            // SAFETY: may's `spawn` is unsafe because a coroutine that
            // touches thread-locals may see another thread's after it
            // migrates, and because a stack overflow is not caught. With
            // one worker nothing migrates, and the connection loop's 16 KiB
            // buffer is on the heap.
            let accept = unsafe {
                may::coroutine::spawn(move || -> io::Result<()> {
                    loop {
                        let (stream, _) = listener.accept()?;
                        stream.set_nodelay(true)?;
                        // SAFETY: as above.
                        may::coroutine::spawn(move || http::serve(stream));
                    }
                })
            };
            accept
                .join()
                .map_err(|_| io::Error::other("may's accept coroutine panicked"))?
        }
        Server::Std => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            announce(listener.local_addr()?)?;
            for stream in listener.incoming() {
                let stream = stream?;
                stream.set_nodelay(true)?;
                std::thread::spawn(move || http::serve(stream));
            }
            Ok(())
        }
    }
}

/// `http::serve` with `.await` after each read and write.
async fn serve_tokio(mut stream: tokio::net::TcpStream) -> io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 2 * http::MAX_HEAD];
    let mut filled = 0;
    let mut out = Vec::with_capacity(4 * 1024);
    loop {
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let (used, close) = http::answer_all(&buf[..filled], &mut out);
        buf.copy_within(used..filled, 0);
        filled -= used;
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        if close {
            return Ok(());
        }
        if filled == buf.len() {
            stream.write_all(http::TOO_LARGE).await?;
            return Ok(());
        }
    }
}

/// A server process, killed when dropped.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
}

impl ServerProcess {
    fn start(server: Server, cpu: usize) -> io::Result<ServerProcess> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--serve", server.name(), "--server-cpu", &cpu.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout")).read_line(&mut line)?;
        let addr = line
            .strip_prefix("listening ")
            .and_then(|a| a.trim().parse().ok());
        match addr {
            Some(addr) => Ok(ServerProcess { child, addr }),
            None => {
                let _ = child.kill();
                let status = child.wait()?;
                Err(io::Error::other(format!(
                    "the {} server did not start ({status}; its error is above)",
                    server.name()
                )))
            }
        }
    }

    /// User + system CPU time of all its threads so far.
    fn cpu_time(&self) -> io::Result<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the parenthesised command name; utime and stime are
        // the 14th and 15th fields of the line.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .ok_or_else(|| io::Error::other("unreadable /proc/PID/stat"))?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 =
            fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
        Ok(Duration::from_nanos(
            ticks * 1_000_000_000 / CpuTicks::per_second(),
        ))
    }

    /// Peak resident set size, bytes.
    fn peak_rss(&self) -> io::Result<u64> {
        usage::proc_field(&format!("/proc/{}/status", self.child.id()), "VmHWM")
            .map(|kib| kib * 1024)
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- load

/// What one measured load run saw.
struct Load {
    requests: u64,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
    /// Socket errors and timeouts the generator reported.
    errors: u64,
}

/// Runs wrk, pinned to `cpu`, for `seconds` against `addr`.
fn wrk(addr: SocketAddr, connections: usize, seconds: u64, cpu: usize) -> io::Result<Load> {
    let mut command = Command::new("wrk");
    command.args([
        "-t1",
        &format!("-c{connections}"),
        &format!("-d{seconds}s"),
        "--timeout",
        "5s",
        "--latency",
        &format!("http://{addr}/"),
    ]);
    pin_command(&mut command, cpu);
    let output = command.stderr(Stdio::inherit()).output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "wrk failed ({}):\n{text}",
            output.status
        )));
    }
    parse_wrk(&text).ok_or_else(|| io::Error::other(format!("cannot read wrk's output:\n{text}")))
}

/// Reads requests, duration, latency percentiles and errors from wrk's
/// `--latency` report.
fn parse_wrk(text: &str) -> Option<Load> {
    let mut requests = None;
    let mut elapsed = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut errors = 0;
    for line in text.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("50%") {
            p50 = parse_wrk_time(v.trim());
        } else if let Some(v) = line.strip_prefix("99%") {
            p99 = parse_wrk_time(v.trim());
        } else if let Some((n, rest)) = line.split_once(" requests in ") {
            requests = n.trim().parse().ok();
            elapsed = rest
                .split(',')
                .next()
                .and_then(|t| parse_wrk_time(t.trim()));
        } else if let Some(rest) = line.strip_prefix("Socket errors:") {
            errors += rest
                .split(',')
                .filter_map(|kv| kv.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>();
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            errors += rest.trim().parse::<u64>().unwrap_or(0);
        }
    }
    Some(Load {
        requests: requests?,
        elapsed: elapsed?,
        p50: p50?,
        p99: p99?,
        errors,
    })
}

/// `462.00us`, `1.29ms`, `10.00s`, `2.5m`.
fn parse_wrk_time(v: &str) -> Option<Duration> {
    let split = v.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = v.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Some(Duration::from_secs_f64(seconds))
}

/// The request corio's load generator sends.
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// corio's load generator: `connections` coroutines on one runtime on a
/// thread pinned to `cpu`, each a request/response loop for `seconds`.
fn corio_load(addr: SocketAddr, connections: usize, seconds: u64, cpu: usize) -> io::Result<Load> {
    let thread = std::thread::spawn(move || -> io::Result<Load> {
        affinity::pin_to(cpu)?;
        corio::run(move || -> io::Result<(Vec<u32>, u64, Duration)> {
            let streams = (0..connections)
                .map(|_| {
                    let stream = corio::net::TcpStream::connect(addr)?;
                    stream.set_nodelay(true)?;
                    Ok(stream)
                })
                .collect::<io::Result<Vec<_>>>()?;
            let start = Instant::now();
            let end = start + Duration::from_secs(seconds);
            let workers: Vec<_> = streams
                .into_iter()
                .map(|stream| corio::spawn(move || request_loop(stream, end)))
                .collect();
            let mut latencies = Vec::new();
            let mut errors = 0;
            for worker in workers {
                match worker.join() {
                    Ok(Ok(mine)) => latencies.extend(mine),
                    Ok(Err(_)) | Err(_) => errors += 1,
                }
            }
            Ok((latencies, errors, start.elapsed()))
        })
        // The percentiles sort a million latencies or more: work for the
        // plain thread once the runtime is done, not a coroutine holding
        // it for 100 ms and more (which corio's stall report names).
        .map(|(latencies, errors, elapsed)| {
            let latencies: Vec<Duration> = latencies
                .into_iter()
                .map(|ns| Duration::from_nanos(u64::from(ns)))
                .collect();
            let at = |q: f64| {
                if latencies.is_empty() {
                    Duration::ZERO
                } else {
                    stats::percentile(&latencies, q)
                }
            };
            Load {
                requests: latencies.len() as u64,
                elapsed,
                p50: at(0.50),
                p99: at(0.99),
                errors,
            }
        })
    });
    thread
        .join()
        .map_err(|_| io::Error::other("corio's load generator panicked"))?
}

/// Requests on one connection until `end`; each latency in nanoseconds.
fn request_loop(mut stream: corio::net::TcpStream, end: Instant) -> io::Result<Vec<u32>> {
    let mut latencies = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let sent = Instant::now();
        if sent >= end {
            return Ok(latencies);
        }
        stream.write_all(REQUEST)?;
        read_response(&mut stream, &mut buf)?;
        latencies.push(sent.elapsed().as_nanos().min(u32::MAX as u128) as u32);
    }
}

/// Reads one response (head and `Content-Length` body), which must be a
/// `200`.
fn read_response(stream: &mut impl Read, buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    loop {
        let n = stream.read(&mut buf[filled..])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
        let Some(head) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") else {
            if filled == buf.len() {
                return Err(io::Error::other("response head too large"));
            }
            continue;
        };
        let head_text = String::from_utf8_lossy(&buf[..head]);
        if !head_text.starts_with("HTTP/1.1 200") {
            return Err(io::Error::other(format!(
                "unexpected response: {head_text}"
            )));
        }
        let body: usize = head_text
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        // The server answers one request at a time on this connection, so
        // nothing follows the body.
        if filled >= head + 4 + body {
            return Ok(());
        }
    }
}

// ---------------------------------------------------------------- machine

/// Makes `command`'s process start pinned to `cpu`.
fn pin_command(command: &mut Command, cpu: usize) {
    use std::os::unix::process::CommandExt;
    // SAFETY: runs in the forked child before exec; `pin_to` makes one
    // system call (sched_setaffinity) and touches no lock or allocator on
    // its success path, which is what the child needs.
    unsafe {
        command.pre_exec(move || affinity::pin_to(cpu));
    }
}

/// The machine's CPU counters now; all zero if `/proc/stat` cannot be read
/// (steal then reads 0).
fn machine_ticks() -> CpuTicks {
    CpuTicks::now().unwrap_or_default()
}

// ---------------------------------------------------------------- runs

/// One measured run of one server at one connection count.
struct Run {
    round: usize,
    server: Server,
    connections: usize,
    load: Load,
    server_cpu: Duration,
    peak_rss: u64,
    steal: f64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.load.requests as f64 / self.load.elapsed.as_secs_f64()
    }

    fn per_cpu_second(&self) -> f64 {
        self.load.requests as f64 / self.server_cpu.as_secs_f64().max(1e-9)
    }
}

fn run(args: &Args) -> io::Result<()> {
    if args.rounds == 0
        || args.duration == 0
        || args.servers.is_empty()
        || args.connections.is_empty()
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--rounds, --duration, --servers and --connections must not be zero or empty",
        ));
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    for cpu in [args.server_cpu, args.client_cpu] {
        if cpu >= cpus {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "CPU {cpu} does not exist here ({cpus} CPUs); pick --server-cpu and --client-cpu below {cpus}"
                ),
            ));
        }
    }
    let have_wrk = Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    let generator = match (args.generator, have_wrk) {
        (Generator::Wrk, false) => {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "--generator wrk, but wrk is not on the PATH (apt-get install wrk)",
            ));
        }
        (Generator::Auto, true) | (Generator::Wrk, true) => Generator::Wrk,
        _ => Generator::Corio,
    };
    if generator == Generator::Corio && args.generator == Generator::Auto {
        println!("wrk is not installed (apt-get install wrk): using corio's load generator");
    }
    let generator_name = if generator == Generator::Wrk {
        "wrk -t1"
    } else {
        "corio"
    };
    println!(
        "HTTP keep-alive, {} rounds × {} s (after {} s warm-up); server on CPU {}, {} on CPU {}; {} CPUs",
        args.rounds,
        args.duration,
        args.warmup,
        args.server_cpu,
        generator_name,
        args.client_cpu,
        cpus
    );
    let load = |addr, connections, seconds| match generator {
        Generator::Wrk => wrk(addr, connections, seconds, args.client_cpu),
        _ => corio_load(addr, connections, seconds, args.client_cpu),
    };
    // The servers' names as wide as the longest, so the rows line up.
    let width = args
        .servers
        .iter()
        .map(|s| s.name().len())
        .max()
        .unwrap_or(0);
    let mut runs = Vec::new();
    for round in 0..args.rounds {
        for &connections in &args.connections {
            for &server in &args.servers {
                let process = ServerProcess::start(server, args.server_cpu)?;
                if args.warmup > 0 {
                    load(process.addr, connections, args.warmup)?;
                }
                let cpu_before = process.cpu_time()?;
                let ticks_before = machine_ticks();
                let measured = load(process.addr, connections, args.duration)?;
                let server_cpu = process.cpu_time()?.saturating_sub(cpu_before);
                let ticks_after = machine_ticks();
                let peak_rss = process.peak_rss()?;
                let spent = ticks_after.since(ticks_before);
                let steal = spent.steal as f64 / spent.total().max(1) as f64;
                let run = Run {
                    round,
                    server,
                    connections,
                    load: measured,
                    server_cpu,
                    peak_rss,
                    steal,
                };
                println!(
                    "  round {} {:>5} conns {:width$} {:>9.0} req/s  p50 {:>8}  p99 {:>8}  cpu {:>5.2} s  {:>9.0} req/cpu-s  rss {:>6.1} MiB  steal {:>4.1} %{}",
                    round + 1,
                    connections,
                    server.name(),
                    run.rate(),
                    show(run.load.p50),
                    show(run.load.p99),
                    run.server_cpu.as_secs_f64(),
                    run.per_cpu_second(),
                    run.peak_rss as f64 / (1 << 20) as f64,
                    run.steal * 100.0,
                    if run.load.errors > 0 {
                        format!("  {} errors", run.load.errors)
                    } else {
                        String::new()
                    }
                );
                runs.push(run);
            }
        }
    }
    let summary = summarize(args, &runs);
    print!("{summary}");
    if let Some(path) = &args.json {
        let json = to_json(args, generator_name, cpus, &runs);
        std::fs::write(path, serde_json::to_string_pretty(&json).expect("JSON")).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display()))
        })?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn show(d: Duration) -> String {
    if d >= Duration::from_millis(1) {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.0} µs", d.as_secs_f64() * 1e6)
    }
}

/// Medians per server and connection count, then corio's per-round ratios.
fn summarize(args: &Args, runs: &[Run]) -> String {
    let mut out = String::new();
    let of = |server: Server, connections: usize| -> Vec<&Run> {
        runs.iter()
            .filter(|r| r.server == server && r.connections == connections)
            .collect()
    };
    for &connections in &args.connections {
        let _ = writeln!(
            out,
            "\n{connections} connections, median of {} rounds:\n  {:44} {:>10} {:>9} {:>9} {:>11} {:>9} {:>7}",
            args.rounds, "server", "req/s", "p50", "p99", "req/cpu-s", "rss MiB", "errors"
        );
        for &server in &args.servers {
            let mine = of(server, connections);
            let _ = writeln!(
                out,
                "  {:44} {:>10.0} {:>9} {:>9} {:>11.0} {:>9.1} {:>7}",
                server.description(),
                stats::median(&mine.iter().map(|r| r.rate()).collect::<Vec<_>>()),
                show(stats::median(
                    &mine.iter().map(|r| r.load.p50).collect::<Vec<_>>()
                )),
                show(stats::median(
                    &mine.iter().map(|r| r.load.p99).collect::<Vec<_>>()
                )),
                stats::median(&mine.iter().map(|r| r.per_cpu_second()).collect::<Vec<_>>()),
                stats::median(&mine.iter().map(|r| r.peak_rss as f64).collect::<Vec<_>>())
                    / (1 << 20) as f64,
                mine.iter().map(|r| r.load.errors).sum::<u64>(),
            );
        }
        if args.servers.contains(&Server::Corio) {
            let corio = of(Server::Corio, connections);
            for &other in args.servers.iter().filter(|&&s| s != Server::Corio) {
                let theirs = of(other, connections);
                let ratios = |f: &dyn Fn(&Run) -> f64| -> Vec<f64> {
                    corio
                        .iter()
                        .zip(&theirs)
                        .map(|(c, t)| f(c) / f(t))
                        .collect()
                };
                let list = |v: &[f64]| {
                    v.iter()
                        .map(|r| format!("{r:.2}"))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                // The median ratio, and the range that holds it with 95 %
                // confidence when there are rounds enough.
                let median = |v: &[f64]| match stats::median_interval(v) {
                    Some((low, high)) => {
                        format!("{:.2}x, 95 % {low:.2}-{high:.2}", stats::median(v))
                    }
                    None => format!("{:.2}x", stats::median(v)),
                };
                let rate = ratios(&|r| r.rate());
                let cpu = ratios(&|r| r.per_cpu_second());
                let p99 = ratios(&|r| r.load.p99.as_secs_f64());
                let _ = writeln!(
                    out,
                    "  corio / {:5}  req/s {} (rounds {})  req/cpu-s {} (rounds {})  p99 {:.2}x (rounds {})",
                    other.name(),
                    median(&rate),
                    list(&rate),
                    median(&cpu),
                    list(&cpu),
                    stats::median(&p99),
                    list(&p99),
                );
            }
        }
        let steals: Vec<f64> = runs
            .iter()
            .filter(|r| r.connections == connections)
            .map(|r| r.steal * 100.0)
            .collect();
        let worst = steals.iter().copied().fold(0.0, f64::max);
        if worst > 5.0 {
            let _ = writeln!(
                out,
                "  note: CPU steal reached {worst:.1} % in a run; the machine was busy, ratios of that round mean less"
            );
        }
    }
    if args.servers.contains(&Server::Corio) && args.servers.len() > 1 {
        if args.rounds >= stats::INTERVAL_MIN_VALUES {
            let _ = writeln!(
                out,
                "\n95 %: the range that holds the median ratio with 95 % confidence (order statistics of the rounds)"
            );
        } else {
            let _ = writeln!(
                out,
                "\n(with {} rounds or more, each median ratio also gets the range that holds it with 95 % confidence)",
                stats::INTERVAL_MIN_VALUES
            );
        }
    }
    out
}

fn to_json(args: &Args, generator: &str, cpus: usize, runs: &[Run]) -> serde_json::Value {
    json!({
        "bench": "http",
        "generator": generator,
        "cpus": cpus,
        "server_cpu": args.server_cpu,
        "client_cpu": args.client_cpu,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "rounds": args.rounds,
        "runs": runs.iter().map(|r| json!({
            "round": r.round + 1,
            "server": r.server.name(),
            "connections": r.connections,
            "requests": r.load.requests,
            "elapsed_s": r.load.elapsed.as_secs_f64(),
            "req_per_s": r.rate(),
            "p50_us": r.load.p50.as_secs_f64() * 1e6,
            "p99_us": r.load.p99.as_secs_f64() * 1e6,
            "errors": r.load.errors,
            "server_cpu_s": r.server_cpu.as_secs_f64(),
            "req_per_cpu_s": r.per_cpu_second(),
            "peak_rss_bytes": r.peak_rss,
            "steal_fraction": r.steal,
        })).collect::<Vec<_>>(),
    })
}
