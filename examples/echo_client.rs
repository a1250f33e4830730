//! An echo client: N connections, one coroutine each, on one OS thread; each
//! sends M messages, waits for every echo, checks every byte, and the run
//! ends with round-trip statistics.
//!
//! ```text
//! cargo run --release --example echo_server -- --quiet &
//! cargo run --release --example echo_client -- --connections 100 --messages 1000
//! cargo run --release --example echo_client -- 127.0.0.1:9000 --size 1024 --json
//! ```
//!
//! It works against any echo server (`ncat -l 7878 -k -c cat`, say), which
//! makes it a fair yardstick for comparing servers.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corio::net::TcpStream;

const USAGE: &str = "\
usage: echo_client [ADDR] [--connections N] [--messages M] [--size BYTES] [--json]

Opens N connections to an echo server (one coroutine each), sends M messages
of BYTES bytes on each, one at a time, checks every echoed byte and prints
round trips per second and latency percentiles.

  ADDR             the echo server (default 127.0.0.1:7878)
  --connections N  concurrent connections (default 10)
  --messages M     messages per connection (default 1000)
  --size BYTES     bytes per message (default 64)
  --json           print one JSON object instead of text
  --help           show this help";

/// What to run, from the command line.
struct Options {
    addr: String,
    connections: usize,
    messages: usize,
    size: usize,
    json: bool,
}

fn main() -> ExitCode {
    let opts = match parse(std::env::args().skip(1)) {
        Ok(Some(opts)) => opts,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("echo_client: {msg}\n\n{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    match corio::run(move || run(&opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_client: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Parses the arguments; `Ok(None)` means `--help`.
fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Options>, String> {
    let mut opts = Options {
        addr: "127.0.0.1:7878".into(),
        connections: 10,
        messages: 1000,
        size: 64,
        json: false,
    };
    while let Some(arg) = args.next() {
        let mut number = |name: &str| -> Result<usize, String> {
            let value = args.next().ok_or(format!("{name} needs a number"))?;
            match value.parse() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{name} needs a positive number, not {value:?}")),
            }
        };
        match arg.as_str() {
            "--help" | "-h" => return Ok(None),
            "--connections" | "-c" => opts.connections = number("--connections")?,
            "--messages" | "-m" => opts.messages = number("--messages")?,
            "--size" | "-s" => opts.size = number("--size")?,
            "--json" => opts.json = true,
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            other => opts.addr = other.to_string(),
        }
    }
    Ok(Some(opts))
}

/// Connects everything, then times the round trips of all connections.
fn run(opts: &Options) -> io::Result<()> {
    let mut streams = Vec::with_capacity(opts.connections);
    for _ in 0..opts.connections {
        let stream = TcpStream::connect(opts.addr.as_str()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot connect to {}: {e}; is the server running? \
                     (cargo run --release --example echo_server)",
                    opts.addr
                ),
            )
        })?;
        stream.set_nodelay(true)?;
        streams.push(stream);
    }
    let latencies = Rc::new(RefCell::new(Vec::with_capacity(
        opts.connections * opts.messages,
    )));
    let start = Instant::now();
    let workers: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(id, stream)| {
            let latencies = Rc::clone(&latencies);
            let (messages, size) = (opts.messages, opts.size);
            corio::spawn(move || round_trips(id, stream, messages, size, &latencies))
        })
        .collect();
    for w in workers {
        w.join().expect("a connection's coroutine panicked")?;
    }
    let elapsed = start.elapsed();
    report(opts, elapsed, &mut latencies.borrow_mut());
    Ok(())
}

/// Sends `messages` messages one at a time on `stream` and checks each echo.
fn round_trips(
    id: usize,
    mut stream: TcpStream,
    messages: usize,
    size: usize,
    latencies: &RefCell<Vec<Duration>>,
) -> io::Result<()> {
    let mut echo = vec![0; size];
    for seq in 0..messages {
        let message: Vec<u8> = (0..size).map(|i| (id * 7 + seq * 13 + i) as u8).collect();
        let sent = Instant::now();
        stream.write_all(&message)?;
        stream.read_exact(&mut echo)?;
        latencies.borrow_mut().push(sent.elapsed());
        if echo != message {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("connection {id}, message {seq}: the echo differs from what was sent"),
            ));
        }
    }
    Ok(())
}

/// Prints the rate and latency percentiles, as text or JSON.
fn report(opts: &Options, elapsed: Duration, latencies: &mut [Duration]) {
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    let (p50, p99, max) = (at(0.50), at(0.99), at(1.0));
    let trips = latencies.len();
    let rate = trips as f64 / elapsed.as_secs_f64();
    if opts.json {
        println!(
            "{{\"addr\":\"{}\",\"connections\":{},\"messages\":{},\"size\":{},\
             \"round_trips\":{trips},\"seconds\":{:.6},\"round_trips_per_sec\":{rate:.0},\
             \"p50_us\":{},\"p99_us\":{},\"max_us\":{}}}",
            opts.addr,
            opts.connections,
            opts.messages,
            opts.size,
            elapsed.as_secs_f64(),
            p50.as_micros(),
            p99.as_micros(),
            max.as_micros()
        );
        return;
    }
    println!(
        "echo_client: {} connections x {} messages of {} bytes to {}",
        opts.connections, opts.messages, opts.size, opts.addr
    );
    println!("  round trips  {trips} in {elapsed:.2?} = {rate:.0} round trips/s");
    println!("  latency      p50 {p50:.1?}, p99 {p99:.1?}, max {max:.1?}");
    println!("  every echoed byte matched");
}
