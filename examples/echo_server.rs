//! An echo server: one coroutine per connection, every connection on one OS
//! thread. Each connection's code is plain blocking-style `Read`/`Write`;
//! the runtime switches coroutines whenever a socket would block.
//!
//! ```text
//! cargo run --release --example echo_server                  # 127.0.0.1:7878
//! cargo run --release --example echo_server -- 127.0.0.1:9000 --quiet
//! ```
//!
//! Talk to it with the companion client (`cargo run --release --example
//! echo_client -- --connections 100 --messages 1000`) or with `nc 127.0.0.1
//! 7878`. Stop it with Ctrl-C.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use corio::net::{TcpListener, TcpStream};

const USAGE: &str = "\
usage: echo_server [ADDR] [--quiet]

Echoes every byte it receives, one coroutine per connection.

  ADDR      address to listen on (default 127.0.0.1:7878; port 0 picks one)
  --quiet   do not print a line per connection
  --help    show this help";

/// How long to pause accepting after an error such as EMFILE (out of file
/// descriptors), so the loop does not spin while nothing can change.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

fn main() -> ExitCode {
    let mut addr = String::from("127.0.0.1:7878");
    let mut quiet = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--help" | "-h" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            "--quiet" | "-q" => quiet = true,
            flag if flag.starts_with('-') => {
                eprintln!("echo_server: unknown option {flag}\n\n{USAGE}");
                return ExitCode::FAILURE;
            }
            other => addr = other.to_string(),
        }
    }
    match corio::run(move || serve(&addr, quiet)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Accepts forever, spawning a coroutine per connection.
fn serve(addr: &str, quiet: bool) -> io::Result<()> {
    let listener = TcpListener::bind(addr).map_err(|e| {
        let hint = match e.kind() {
            io::ErrorKind::AddrInUse => "another program listens there; pick another port",
            _ => "give an address such as 127.0.0.1:7878",
        };
        io::Error::new(e.kind(), format!("cannot listen on {addr}: {e} ({hint})"))
    })?;
    println!("echo_server: listening on {}", listener.local_addr()?);
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
            println!("#{accepted} {peer}: connected ({} open)", open.get());
        }
        let open = Rc::clone(&open);
        corio::spawn(move || {
            let result = echo(&stream);
            open.set(open.get() - 1);
            if quiet {
                return;
            }
            match result {
                Ok(bytes) => println!(
                    "#{accepted} {peer}: closed after echoing {bytes} bytes ({} open)",
                    open.get()
                ),
                Err(e) => println!("#{accepted} {peer}: {e} ({} open)", open.get()),
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
