//! What does a readiness event cost when many coroutines wait on one socket?
//!
//! ```text
//! cargo run --release --example shared_socket
//! cargo run --release --example shared_socket -- --waiters 1,100,1000,10000 --json
//! ```
//!
//! W coroutines wait in `recv` on one `UdpSocket`. The root sends one
//! datagram at a time and waits (on a channel) for the reader that got it to
//! say so, then sends the next. Reported per datagram: the wall time and
//! the switches the runtime made (`Stats`). The reactor wakes one waiter per
//! edge and that waiter passes the readiness on only if the socket may have
//! more (see `src/reactor.rs`), so both should stay flat as W grows; waking
//! every waiter for every event would cost W switches per datagram.

use std::rc::Rc;
use std::time::Instant;

use clap::Parser;
use serde_json::json;

#[path = "common/pipe.rs"]
mod pipe;

#[derive(Parser)]
#[command(about = "the cost of one readiness event with W coroutines waiting on one socket")]
struct Args {
    /// Waiter counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [1usize, 100, 1000])]
    waiters: Vec<usize>,
    /// Datagrams per count.
    #[arg(long, default_value_t = 2000)]
    datagrams: usize,
    /// One JSON object per count instead of the table.
    #[arg(long)]
    json: bool,
}

/// (µs per datagram, switches per datagram) with `waiters` readers.
fn measure(waiters: usize, datagrams: usize) -> (f64, f64) {
    let mut rt = corio::Runtime::new().expect("a runtime");
    let (elapsed, switches) = rt.block_on(|| {
        let socket = Rc::new(corio::net::UdpSocket::bind("127.0.0.1:0").expect("bind"));
        let addr = socket.local_addr().expect("an address");
        let (got_tx, got_rx) = corio::sync::channel::<()>();
        let readers: Vec<_> = (0..waiters)
            .map(|_| {
                let (socket, got_tx) = (socket.clone(), got_tx.clone());
                corio::spawn(move || {
                    let mut buf = [0; 16];
                    loop {
                        let n = socket.recv(&mut buf).expect("recv");
                        got_tx.send(()).expect("the root listens");
                        if &buf[..n] == b"stop" {
                            return;
                        }
                    }
                })
            })
            .collect();
        corio::yield_now(); // every reader waits
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
        let before = corio::stats().switches;
        let start = Instant::now();
        for _ in 0..datagrams {
            sender.send_to(b"ping", addr).expect("send");
            got_rx.recv().expect("a reader got it");
        }
        let elapsed = start.elapsed();
        let switches = corio::stats().switches - before;
        // One at a time, as the pings: a burst would overflow the
        // socket's receive buffer, and a dropped stop would leave a reader
        // waiting forever.
        for _ in 0..waiters {
            sender.send_to(b"stop", addr).expect("send");
            got_rx.recv().expect("a reader got it");
        }
        for r in readers {
            r.join().expect("a reader");
        }
        (elapsed, switches)
    });
    (
        elapsed.as_secs_f64() * 1e6 / datagrams as f64,
        switches as f64 / datagrams as f64,
    )
}

fn main() {
    pipe::exit_quietly_on_broken_pipe();
    let args = Args::parse();
    if !args.json {
        println!(
            "shared_socket: W coroutines in recv on one UdpSocket, {} datagrams one at a time",
            args.datagrams
        );
        println!(
            "  {:>8}  {:>14}  {:>20}",
            "waiters", "µs / datagram", "switches / datagram"
        );
    }
    for &w in &args.waiters {
        let (us, switches) = measure(w.max(1), args.datagrams.max(1));
        if args.json {
            println!(
                "{}",
                json!({"waiters": w, "us_per_datagram": us, "switches_per_datagram": switches,
                       "datagrams": args.datagrams})
            );
        } else {
            println!("  {w:>8}  {us:>14.2}  {switches:>20.2}");
        }
    }
}
