//! The slow service the io tasks talk to: a corio server on its own OS
//! thread, one coroutine per connection, answering every 8-byte request
//! after a fixed latency.
//!
//! It lives in the parent process, and every mode runs in a child process
//! of its own, so the service's thread, memory and context switches never
//! appear in a mode's figures. Being a corio server, it can hold thousands
//! of connections waiting at once on that one thread.
//!
//! It must never be what a mode waits for. Ten thousand coroutines connect
//! within a few milliseconds, faster than any accept loop that shares the
//! machine can take them, and a connection that finds its listener's accept
//! queue full has its SYN dropped and retried a second or more later. So
//! the service does not race: it listens on enough sockets, each with the
//! largest backlog the kernel allows (`somaxconn`), that twice the largest
//! run's connections fit in the queues even if nobody accepted at all
//! ([`Sizing`]). A connect ramp would have worked too, but it adds a delay
//! of the harness's choosing to every mode's start; queues that are big
//! enough add nothing. The parent still reads the kernel's overflow counter
//! around each mode (`measure::listen_overflows`) and warns if it moved.
//!
//! Each listener has a port of its own (rather than all of them sharing one
//! through `SO_REUSEPORT`), and task `i` connects to listener
//! `i % listeners` ([`Plan::service_for`](crate::modes::Plan::service_for)),
//! because the kernel picks a client's port by walking the
//! ephemeral range (even ports first) and skipping every port already
//! connected to the *same* address and port. With one destination and more
//! than about 14,000 connections open at once, most of the half range it
//! tries first is taken, every `connect` walks thousands of ports, and the
//! coroutines, which hold all their connections open together, spent half
//! their time there (19,000 tasks: 6.6 s of CPU time against 1.9 s at
//! 15,000, `__inet_hash_connect` and `__inet_check_established` at 51 % of
//! the samples). Spread over several destinations, a port taken for one is
//! free for the others, and each destination holds a few thousand
//! connections at most.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use corio::net::{TcpListener, TcpStream};

use crate::workload::{self, MESSAGE_LEN};

/// How long the accept loop pauses after an accept error (typically
/// `EMFILE`: out of file descriptors), so it waits for descriptors to free
/// up instead of spinning.
const ACCEPT_RETRY: Duration = Duration::from_millis(5);

/// Where the service listens and how its accept queues are sized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sizing {
    /// One loopback address per listener (the same IP, a port each).
    pub addresses: Vec<SocketAddr>,
    /// Each listener's accept-queue length (`somaxconn`, read at start).
    pub backlog: usize,
}

/// The most listeners the service opens; with Linux's default `somaxconn`
/// of 4096 they hold more than 100,000 waiting connections.
const MAX_LISTENERS: usize = 64;

/// The accept-queue length one listener can have: `net.core.somaxconn`,
/// to which the kernel clamps every `listen(2)`.
fn kernel_backlog() -> usize {
    crate::usage::proc_number("/proc/sys/net/core/somaxconn")
        .map_or(1024, |n| n.clamp(128, i32::MAX as u64) as usize)
}

/// The most connections one listener is given (module docs: the kernel's
/// port search per destination), whatever the backlog.
const MOST_PER_LISTENER: usize = 2_048;

/// How many listeners of `backlog` hold twice `connections` between them,
/// with at most [`MOST_PER_LISTENER`] connections each.
pub fn listeners_for(connections: usize, backlog: usize) -> usize {
    (2 * connections)
        .div_ceil(backlog.max(1))
        .max(connections.div_ceil(MOST_PER_LISTENER))
        .clamp(1, MAX_LISTENERS)
}

/// Starts the service on loopback ports, sized for up to `connections`
/// clients at once (see the module docs), and returns where it listens.
///
/// The thread runs until the process exits.
///
/// # Errors
///
/// If the thread cannot be started or the port cannot be bound.
pub fn start(latency: Duration, connections: usize) -> io::Result<Sizing> {
    let backlog = kernel_backlog();
    let listeners = listeners_for(connections, backlog);
    let (addresses_sender, addresses_received) = mpsc::channel();
    thread::Builder::new()
        .name("slow service".into())
        .spawn(move || {
            corio::run(move || match bind(listeners, backlog) {
                Ok(mut bound) => {
                    let addresses = bound.iter().map(TcpListener::local_addr).collect();
                    let _ = addresses_sender.send(addresses);
                    // One acceptor per listener; the root is the first.
                    let first = bound.remove(0);
                    for listener in bound {
                        drop(corio::spawn(move || accept_forever(&listener, latency)));
                    }
                    accept_forever(&first, latency)
                }
                Err(error) => {
                    let _ = addresses_sender.send(Err(error));
                }
            })
        })?;
    let addresses = addresses_received.recv().map_err(|_| {
        io::Error::other("the slow service's thread ended before it was listening")
    })??;
    Ok(Sizing { addresses, backlog })
}

/// `count` listeners on loopback ports of their own, each with `backlog`.
fn bind(count: usize, backlog: usize) -> io::Result<Vec<TcpListener>> {
    let all = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<io::Result<Vec<_>>>()?;
    for listener in &all {
        // corio listens with a backlog of 1024; listen(2) again on a
        // listening socket changes only its backlog.
        let backlog = libc::c_int::try_from(backlog).unwrap_or(libc::c_int::MAX);
        // SAFETY: listen(2) takes two integers and touches no memory of
        // ours; the descriptor belongs to `listener`, alive here.
        if unsafe { libc::listen(listener.as_raw_fd(), backlog) } == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(all)
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
