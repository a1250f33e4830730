//! The slow service the io tasks talk to: a corio server on its own OS
//! thread, one coroutine per connection, answering every 8-byte request
//! after a fixed latency.
//!
//! It lives in the parent process, and every mode runs in a child process
//! of its own, so the service's thread, memory and context switches never
//! appear in a mode's figures. Being a corio server, it can hold thousands
//! of connections waiting at once on that one thread.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use corio::net::{TcpListener, TcpStream};

use crate::workload::{self, MESSAGE_LEN};

/// How long the accept loop pauses after an accept error (typically
/// `EMFILE`: out of file descriptors), so it waits for descriptors to free
/// up instead of spinning.
const ACCEPT_RETRY: Duration = Duration::from_millis(5);

/// Starts the service on a loopback port and returns its address.
///
/// The thread runs until the process exits.
///
/// # Errors
///
/// If the thread cannot be started or the port cannot be bound.
pub fn start(latency: Duration) -> io::Result<SocketAddr> {
    let (address_sender, address) = mpsc::channel();
    thread::Builder::new()
        .name("slow service".into())
        .spawn(move || {
            corio::run(move || {
                let listener = match TcpListener::bind("127.0.0.1:0") {
                    Ok(listener) => listener,
                    Err(error) => {
                        let _ = address_sender.send(Err(error));
                        return;
                    }
                };
                let _ = address_sender.send(listener.local_addr());
                accept_forever(&listener, latency);
            })
        })?;
    address
        .recv()
        .map_err(|_| io::Error::other("the slow service's thread ended before it was listening"))?
}

fn accept_forever(listener: &TcpListener, latency: Duration) -> ! {
    loop {
        match listener.accept() {
            // Dropping the handle detaches the coroutine: it ends with its
            // connection.
            Ok((stream, _peer)) => drop(corio::spawn(move || serve(stream, latency))),
            Err(error) => {
                eprintln!("io_overlap: slow service: accept failed ({error}); retrying");
                corio::sleep(ACCEPT_RETRY);
            }
        }
    }
}

/// Answers requests on one connection until the client hangs up.
fn serve(mut stream: TcpStream, latency: Duration) {
    let mut request = [0u8; MESSAGE_LEN];
    // An error or end of stream just ends this connection.
    while stream.read_exact(&mut request).is_ok() {
        corio::sleep(latency);
        let reply = workload::service_reply(u64::from_le_bytes(request));
        if stream.write_all(&reply.to_le_bytes()).is_err() {
            return;
        }
    }
}
