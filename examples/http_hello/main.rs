//! A keep-alive HTTP/1.1 "hello" server: one coroutine per connection, the
//! code written as if sockets blocked.
//!
//! ```text
//! cargo run --release --example http_hello                    # 127.0.0.1:8080
//! cargo run --release --example http_hello -- --addr 127.0.0.1:9000
//! cargo run --release --example http_hello -- --threads 2     # a runtime per core
//! curl -s http://127.0.0.1:8080/                              # Hello, world!
//! wrk -t1 -c100 -d10s http://127.0.0.1:8080/                  # apt-get install wrk
//! ```
//!
//! Each connection reads what has arrived, answers every complete request
//! in it (pipelined requests too, in order, their responses written with
//! one `write`), and keeps the rest for the next read; `http.rs` is the
//! parsing, shared with the other runtimes' servers of the load bench. With
//! `--threads N`, N runtimes on N OS threads
//! (`corio::runtime::ThreadPerCore`) each accept on the same port
//! (`TcpListener::bind_reuse_port`).

mod http;

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use corio::net::{TcpListener, TcpStream};

#[path = "../common/pipe.rs"]
mod pipe;

#[derive(Parser)]
#[command(about = "a keep-alive HTTP/1.1 hello server on corio, one coroutine per connection")]
struct Args {
    /// Address to listen on (port 0 picks one; the chosen one is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Runtimes, one per OS thread, sharing the port.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() -> ExitCode {
    pipe::exit_quietly_on_broken_pipe();
    let args = Args::parse();
    if args.threads == 0 {
        eprintln!("http_hello: --threads must be at least 1");
        return ExitCode::FAILURE;
    }
    let result = if args.threads == 1 {
        corio::run(|| serve(TcpListener::bind(args.addr), None))
    } else {
        // Core 0 binds first (the port may be 0), the others bind the
        // address it got.
        let first = std::sync::OnceLock::new();
        let bound = std::sync::Barrier::new(args.threads);
        corio::runtime::ThreadPerCore::new(args.threads)
            .run(|core| {
                let listener = if core == 0 {
                    let listener = TcpListener::bind_reuse_port(args.addr);
                    let _ = first.set(
                        listener
                            .as_ref()
                            .map_err(|e| e.to_string())
                            .and_then(|l| l.local_addr().map_err(|e| e.to_string())),
                    );
                    bound.wait();
                    listener
                } else {
                    bound.wait();
                    match first.get().expect("core 0 bound first") {
                        Ok(addr) => TcpListener::bind_reuse_port(addr),
                        Err(e) => Err(io::Error::other(format!("core 0 could not bind: {e}"))),
                    }
                };
                serve(listener, Some(core))
            })
            .and_then(|results| results.into_iter().collect())
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http_hello: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Accepts forever, a coroutine per connection.
fn serve(listener: io::Result<TcpListener>, core: Option<usize>) -> io::Result<()> {
    let listener = listener.map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot listen: {e} (pick another --addr?)"),
        )
    })?;
    let prefix = core.map(|c| format!("core {c}: ")).unwrap_or_default();
    println!(
        "http_hello: {prefix}listening on http://{}/",
        listener.local_addr()?
    );
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                corio::spawn(move || {
                    // A reset or a half-closed peer ends the connection;
                    // there is nobody to tell.
                    let _ = connection(stream);
                });
            }
            Err(e) => {
                // EMFILE and friends: the connection waits in the kernel's
                // queue; try again once descriptors may be free.
                eprintln!("http_hello: {prefix}accept failed: {e}; retrying in 100 ms");
                corio::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}

/// Serves one connection until the peer closes it or a request says so.
fn connection(stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    http::serve(stream)
}
