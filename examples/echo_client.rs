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

use clap::Parser;
use corio::net::TcpStream;
use serde_json::json;

#[path = "common/pipe.rs"]
mod pipe;
#[path = "common/stats.rs"]
mod stats;
#[path = "common/values.rs"]
mod values;

/// What to run, from the command line.
#[derive(Parser)]
#[command(
    about = "Opens N connections to an echo server (one coroutine each), sends M messages \
             of BYTES bytes on each, one at a time, checks every echoed byte and prints \
             round trips per second and latency percentiles."
)]
struct Options {
    /// The echo server.
    #[arg(default_value = "127.0.0.1:7878")]
    addr: String,
    /// Concurrent connections.
    #[arg(short, long, value_name = "N", default_value_t = 10, value_parser = values::at_least_one::<usize>)]
    connections: usize,
    /// Messages per connection.
    #[arg(short, long, value_name = "M", default_value_t = 1000, value_parser = values::at_least_one::<usize>)]
    messages: usize,
    /// Bytes per message.
    #[arg(short, long, value_name = "BYTES", default_value_t = 64, value_parser = values::at_least_one::<usize>)]
    size: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    pipe::exit_quietly_on_broken_pipe();
    let opts = Options::parse();
    match corio::run(move || run(&opts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_client: {e}");
            ExitCode::FAILURE
        }
    }
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
    report(opts, elapsed, &latencies.borrow());
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
fn report(opts: &Options, elapsed: Duration, latencies: &[Duration]) {
    let at = |q: f64| stats::percentile(latencies, q);
    let (p50, p99, max) = (at(0.50), at(0.99), at(1.0));
    let trips = latencies.len();
    let rate = trips as f64 / elapsed.as_secs_f64();
    if opts.json {
        let micros = |d: Duration| d.as_micros() as u64;
        let line = json!({
            "addr": opts.addr,
            "connections": opts.connections,
            "messages": opts.messages,
            "size": opts.size,
            "round_trips": trips,
            "seconds": elapsed.as_secs_f64(),
            "round_trips_per_sec": rate.round(),
            "p50_us": micros(p50),
            "p99_us": micros(p99),
            "max_us": micros(max),
        });
        println!("{line}");
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
