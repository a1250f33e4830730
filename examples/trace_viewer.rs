//! The offline trace viewer: a traced run of a small loopback service,
//! written as one self-contained HTML page (`Trace::write_html`) that any
//! browser opens from the file, with no connection. Clients connect, send a
//! request and wait for the reply; each connection's handler takes a shared
//! lock, calls a slow "backend" (a 1 ms sleep) and answers; a collector
//! receives every latency on a channel. The page shows a row per task, every
//! run, why each ended, who woke whom, and a summary.
//!
//! `--events N` first runs two coroutines that only yield, enough to fill a
//! ring of N events and overflow it a little, so the page holds N events
//! and says how many the ring dropped (what a viewer must stay usable at).
//!
//! ```text
//! cargo run --release --example trace_viewer                      # writes trace.html
//! cargo run --release --example trace_viewer -- --out /tmp/t.html --clients 20
//! cargo run --release --example trace_viewer -- --events 1000000  # a million-event page
//! ```

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Parser;
use corio::net::{TcpListener, TcpStream};
use corio::sync::{Mutex, channel};
use corio::thread::Builder;
use serde_json::json;

#[path = "common/pipe.rs"]
mod pipe;

#[derive(Parser)]
#[command(about = "a traced run of a small loopback service, written as an offline HTML timeline")]
struct Args {
    /// Where the page goes (the path is checked before the run).
    #[arg(long, default_value = "trace.html")]
    out: PathBuf,
    /// Client connections, one coroutine each (and one handler each).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1000))]
    clients: u32,
    /// Fill a ring of this many events (and overflow it) with yields
    /// before the service runs; 0 keeps only the service's events.
    #[arg(long, default_value_t = 0)]
    events: usize,
    /// One JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

/// The service: `clients` round trips through a lock and a slow backend.
fn service(clients: u32) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let addr = listener.local_addr().expect("its address");
    let lock = Rc::new(Mutex::new(0u32));
    let server = Builder::new()
        .name("server".into())
        .spawn(move || {
            let mut handlers = Vec::new();
            for n in 0..clients {
                let (mut conn, _) = listener.accept().expect("a client");
                let lock = lock.clone();
                let handler = Builder::new().name(format!("handler {n}")).spawn(move || {
                    let mut request = [0; 4];
                    conn.read_exact(&mut request).expect("a request");
                    {
                        let mut served = lock.lock().expect("not poisoned");
                        *served += 1;
                        corio::yield_now(); // the others queue on the lock
                    }
                    corio::sleep(Duration::from_millis(1)); // the backend
                    conn.write_all(&request).expect("the reply");
                });
                handlers.push(handler.expect("a handler"));
            }
            for handler in handlers {
                handler.join().expect("a handler that finished");
            }
        })
        .expect("the server");
    let (latencies, collected) = channel::<Duration>();
    let collector = Builder::new()
        .name("collector".into())
        .spawn(move || collected.iter().count())
        .expect("the collector");
    let mut client_tasks = Vec::new();
    for n in 0..clients {
        let latencies = latencies.clone();
        let client = Builder::new().name(format!("client {n}")).spawn(move || {
            let start = Instant::now();
            let mut conn = TcpStream::connect(addr).expect("a connection");
            conn.write_all(&n.to_le_bytes()).expect("the request");
            let mut reply = [0; 4];
            conn.read_exact(&mut reply).expect("the reply");
            assert_eq!(u32::from_le_bytes(reply), n);
            latencies.send(start.elapsed()).expect("the collector");
        });
        client_tasks.push(client.expect("a client"));
    }
    drop(latencies);
    for client in client_tasks {
        client.join().expect("a client that finished");
    }
    server.join().expect("the server finished");
    assert_eq!(collector.join().expect("the collector"), clients as usize);
}

fn main() -> io::Result<()> {
    pipe::exit_quietly_on_broken_pipe();
    let args = Args::parse();
    // Fail before the run, not after it.
    let file = File::create(&args.out).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot write the page to {}: {e}; pass --out with a writable path",
                args.out.display()
            ),
        )
    })?;
    let capacity = if args.events > 0 {
        args.events
    } else {
        1 << 20
    };
    let mut rt = corio::Runtime::builder().trace(capacity).build()?;
    rt.block_on(|| {
        if args.events > 0 {
            // About four events per yield of each; a little more than fits.
            let yields = args.events / 4 + 1_000;
            let pinger = Builder::new().name("yielder a".into()).spawn(move || {
                for _ in 0..yields {
                    corio::yield_now();
                }
            });
            for _ in 0..yields {
                corio::yield_now();
            }
            pinger.expect("a yielder").join().expect("it finished");
        }
        service(args.clients);
    });
    let trace = rt.take_trace().expect("tracing is on");
    let mut out = BufWriter::new(file);
    trace.write_html(&mut out)?;
    out.flush()?;
    let bytes = std::fs::metadata(&args.out)?.len();
    let events = trace.events().len();
    let tasks: std::collections::HashSet<u64> = trace.events().iter().map(|e| e.task).collect();
    let per_event = bytes as f64 / events.max(1) as f64;
    if args.json {
        println!(
            "{}",
            json!({
                "events": events,
                "dropped": trace.dropped(),
                "tasks": tasks.len(),
                "page_bytes": bytes,
                "bytes_per_event": per_event,
                "out": args.out,
            })
        );
    } else {
        println!(
            "trace_viewer: a traced loopback service, {} clients, as an offline HTML timeline",
            args.clients
        );
        println!(
            "  events       {events} kept, {} dropped by the full ring",
            trace.dropped()
        );
        println!(
            "  tasks        {} (and the scheduler's row)",
            tasks.len() - usize::from(tasks.contains(&0))
        );
        println!("  page         {bytes} bytes, {per_event:.1} bytes per event");
        println!(
            "  written to   {} (open it in a browser)",
            args.out.display()
        );
    }
    Ok(())
}
