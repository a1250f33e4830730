//! Networking: TCP and UDP sockets that look blocking to the coroutine using
//! them and never block the OS thread.
//!
//! [`TcpListener`], [`TcpStream`] and [`UdpSocket`] have the method names and
//! the semantics of their `std::net` namesakes, so code written against
//! `std::net` moves to corio by changing an import. `TcpStream` implements
//! [`Read`](std::io::Read) and [`Write`](std::io::Write) (also for
//! `&TcpStream`), so `BufReader`, `read_to_end`, `write_all` and `lines()`
//! work unchanged.
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use corio::net::{TcpListener, TcpStream};
//!
//! corio::run(|| {
//!     let listener = TcpListener::bind("127.0.0.1:0")?;
//!     let addr = listener.local_addr()?;
//!     let server = corio::spawn(move || -> std::io::Result<()> {
//!         let (mut peer, _) = listener.accept()?; // suspends until a client comes
//!         peer.write_all(b"hello\nworld\n")
//!     });
//!     let client = TcpStream::connect(addr)?;
//!     let lines: Vec<String> = BufReader::new(client).lines().collect::<Result<_, _>>()?;
//!     assert_eq!(lines, ["hello", "world"]);
//!     server.join().unwrap()
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The value types (addresses, [`Shutdown`], [`AddrParseError`]) are
//! std's own, re-exported, so `use corio::net::*` stands in for
//! `use std::net::*`:
//!
//! ```
//! use corio::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, SocketAddrV4};
//!
//! let addr: SocketAddr = "127.0.0.1:8080".parse()?;
//! assert_eq!(addr, SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080)));
//! assert_eq!(addr.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
//! let bad = "not an address".parse::<SocketAddr>();
//! let _: corio::net::AddrParseError = bad.unwrap_err();
//! let _ = Shutdown::Both; // the very type std::net::TcpStream::shutdown takes
//! # Ok::<(), corio::net::AddrParseError>(())
//! ```
//!
//! # How it works
//!
//! Every socket is non-blocking and registered with the reactor of the
//! runtime that created it. An operation tries the system call first; if the
//! kernel says "would block", the calling coroutine suspends until the
//! socket is ready (or its timeout passes), and the others run meanwhile.
//!
//! # Differences from `std::net`
//!
//! - Addresses are taken as [`ToSocketAddrs`], corio's copy of std's trait
//!   for the same types. It differs from std's only in where a host name
//!   is resolved, which its [Coroutines](ToSocketAddrs#coroutines) section
//!   says.
//! - The sockets are not `Send`: they belong to the runtime (and so the
//!   thread) that created them. Using one from a different runtime gives an
//!   error as soon as it would have to wait, saying so.
//! - Read and write timeouts are kept by corio, not in the socket: they are
//!   shared by a socket and its [`try_clone`](TcpStream::try_clone)s, as with
//!   std, but are not seen by other processes holding the descriptor.
//! - `TcpListener::bind` listens with a backlog of 1024 (std: 128): a
//!   coroutine server accepts in bursts between other coroutines' turns, so
//!   a burst of connections must be able to wait in the kernel's queue.

mod addr;
mod listener;
pub(crate) mod registered;
mod sys;
mod tcp;
mod udp;

// std's value types, so that `use corio::net::*` ports a whole
// `use std::net::*`: they hold no socket, so corio has nothing to change.
pub use std::net::{
    AddrParseError, IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, SocketAddrV4, SocketAddrV6,
};

pub use addr::ToSocketAddrs;
pub use listener::{Incoming, TcpListener};
pub use tcp::TcpStream;
pub use udp::UdpSocket;

use std::io;
use std::time::{Duration, Instant};

/// Panics, at the caller's line, if no corio runtime drives this thread: a
/// socket is registered with the runtime that creates it. Checked before
/// the address is resolved, so the panic names the user's call rather than
/// a closure inside corio.
#[track_caller]
pub(crate) fn require_runtime(what: &str) {
    crate::scheduler::with_core(what, |_| ());
}

/// Resolves `addr` and calls `f` with each address in turn until one
/// succeeds, like std: the last error is returned if all fail.
fn each_addr<T>(
    what: &str,
    addr: impl ToSocketAddrs,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last_err = None;
    for addr in addr.to_socket_addrs()? {
        match f(addr) {
            Ok(value) => return Ok(value),
            Err(e) => last_err = Some(e),
        }
    }
    Err(last_err.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{what}: the address resolved to no socket addresses; pass an IP address and port"
            ),
        )
    }))
}

/// The instant `timeout` from now, or `None` ("no deadline") when that lies
/// beyond what an `Instant` can hold: `Duration::MAX` means "wait as long as
/// it takes", as in std, never an overflow panic.
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    crate::scheduler::now().checked_add(timeout)
}
