//! An echo server: one coroutine per connection, every connection on one OS
//! thread. Each connection's code is plain blocking-style `Read`/`Write`;
//! the runtime switches coroutines whenever a socket would block.
//!
//! ```text
//! cargo run --release --example echo_server                  # 127.0.0.1:7878
//! cargo run --release --example echo_server -- 127.0.0.1:9000 --quiet
//! cargo run --release --example echo_server -- --threads 2   # a runtime per core
//! ```
//!
//! With `--threads N`, N runtimes on N OS threads
//! (`corio::runtime::ThreadPerCore`) each listen on the same port
//! (`TcpListener::bind_reuse_port`), and the kernel spreads the connections
//! over them.
//!
//! Talk to it with the companion client (`cargo run --release --example
//! echo_client -- --connections 100 --messages 1000`) or with `nc 127.0.0.1
//! 7878`. Stop it with Ctrl-C.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use clap::Parser;
use corio::net::{TcpListener, TcpStream};

#[path = "common/pipe.rs"]
mod pipe;
#[path = "common/values.rs"]
mod values;

#[derive(Parser)]
#[command(about = "Echoes every byte it receives, one coroutine per connection.")]
struct Args {
    /// Address to listen on (port 0 picks one).
    #[arg(default_value = "127.0.0.1:7878")]
    addr: String,
    /// Do not print a line per connection.
    #[arg(short, long)]
    quiet: bool,
    /// Runtimes, each on its own OS thread, sharing the port.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = values::at_least_one::<usize>)]
    threads: usize,
}

/// How long to pause accepting after an error such as EMFILE (out of file
/// descriptors), so the loop does not spin while nothing can change.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    pipe::exit_quietly_on_broken_pipe();
    let Args {
        addr,
        quiet,
        threads,
    } = Args::parse();
    let result = if threads == 1 {
        corio::run(|| serve(&Listen::Alone(&addr), quiet))
    } else {
        // Core 0 binds first (the port may be 0) and tells the others.
        let bound = (Mutex::new(None), Condvar::new());
        corio::runtime::ThreadPerCore::new(threads)
            .run(|core| {
                serve(
                    &Listen::Shared {
                        addr: &addr,
                        core,
                        bound: &bound,
                    },
                    quiet,
                )
            })
            .and_then(|results| results.into_iter().collect())
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Where a runtime listens.
enum Listen<'a> {
    /// The only runtime.
    Alone(&'a str),
    /// One of several sharing a port; core 0 binds first and publishes the
    /// address in `bound`.
    Shared {
        addr: &'a str,
        core: usize,
        bound: &'a (Mutex<Option<io::Result<SocketAddr>>>, Condvar),
    },
}

impl Listen<'_> {
    /// The listener for this runtime.
    fn bind(&self) -> io::Result<TcpListener> {
        match self {
            Listen::Alone(addr) => TcpListener::bind(addr).map_err(|e| explain(addr, e)),
            Listen::Shared {
                addr,
                core: 0,
                bound,
            } => {
                let listener = TcpListener::bind_reuse_port(addr).map_err(|e| explain(addr, e));
                let published = match &listener {
                    Ok(l) => l.local_addr(),
                    Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
                };
                *bound.0.lock().unwrap() = Some(published);
                bound.1.notify_all();
                listener
            }
            Listen::Shared { bound, .. } => {
                // A short wait at start-up, before this runtime has any
                // coroutine to starve.
                let mut published = bound.0.lock().unwrap();
                while published.is_none() {
                    published = bound.1.wait(published).unwrap();
                }
                match published.as_ref().expect("published") {
                    Ok(addr) => TcpListener::bind_reuse_port(addr),
                    Err(e) => Err(io::Error::new(e.kind(), format!("core 0: {e}"))),
                }
            }
        }
    }

    /// "" for a lone runtime, "core N: " otherwise.
    fn prefix(&self) -> String {
        match self {
            Listen::Alone(_) => String::new(),
            Listen::Shared { core, .. } => format!("core {core}: "),
        }
    }
}

/// `e` with the address and a hint.
fn explain(addr: &str, e: io::Error) -> io::Error {
    let hint = match e.kind() {
        io::ErrorKind::AddrInUse => "another program listens there; pick another port",
        _ => "give an address such as 127.0.0.1:7878",
    };
    io::Error::new(e.kind(), format!("cannot listen on {addr}: {e} ({hint})"))
}

/// Accepts forever, spawning a coroutine per connection.
fn serve(listen: &Listen<'_>, quiet: bool) -> io::Result<()> {
    let listener = listen.bind()?;
    let prefix = listen.prefix();
    println!(
        "echo_server: {prefix}listening on {}",
        listener.local_addr()?
    );
    let open = Rc::new(Cell::new(0usize));
    let mut accepted = 0u64;
    loop {
        let (stream, peer) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) => {
                // EMFILE and friends: the connection waits in the kernel's
                // queue; accept again once descriptors are free.
                eprintln!("echo_server: accept failed: {e}; retrying in {ACCEPT_BACKOFF:?}");
                corio::sleep(ACCEPT_BACKOFF);
                continue;
            }
        };
        accepted += 1;
        open.set(open.get() + 1);
        if !quiet {
            println!(
                "{prefix}#{accepted} {peer}: connected ({} open)",
                open.get()
            );
        }
        let open = Rc::clone(&open);
        let prefix = prefix.clone();
        corio::spawn(move || {
            let result = echo(&stream);
            open.set(open.get() - 1);
            if quiet {
                return;
            }
            match result {
                Ok(bytes) => println!(
                    "{prefix}#{accepted} {peer}: closed after echoing {bytes} bytes ({} open)",
                    open.get()
                ),
                Err(e) => println!("{prefix}#{accepted} {peer}: {e} ({} open)", open.get()),
            }
        });
    }
}

/// Echoes until the peer closes its side; returns the bytes echoed.
fn echo(mut stream: &TcpStream) -> io::Result<u64> {
    stream.set_nodelay(true)?;
    let mut buf = [0; 16 * 1024];
    let mut total = 0u64;
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n])?;
        total += n as u64;
    }
}
