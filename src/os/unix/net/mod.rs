//! Unix domain sockets that look blocking to the coroutine using them and
//! never block the OS thread; `std::os::unix::net` for coroutines.
//!
//! [`UnixListener`], [`UnixStream`] and [`UnixDatagram`] have the methods,
//! errors and documented behaviour of their std namesakes, so code written
//! against `std::os::unix::net` moves to corio by changing its `use` line.
//! Their addresses are std's own [`SocketAddr`], re-exported, so std's
//! `std::os::linux::net::SocketAddrExt` (abstract names) works with them:
//!
//! ```
//! # #[cfg(target_os = "linux")] {
//! use std::io::{Read, Write};
//! use std::os::linux::net::SocketAddrExt;
//! use corio::os::unix::net::{SocketAddr, UnixListener, UnixStream};
//!
//! corio::run(|| {
//!     // An abstract name: no file on disk, gone with the socket.
//!     let name = format!("corio-doc-abstract-{}", std::process::id());
//!     let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
//!     let listener = UnixListener::bind_addr(&addr)?;
//!     let server = corio::spawn(move || -> std::io::Result<()> {
//!         let (mut peer, _) = listener.accept()?; // suspends until a client comes
//!         peer.write_all(b"hello")
//!     });
//!     let mut client = UnixStream::connect_addr(&addr)?;
//!     let mut got = String::new();
//!     client.read_to_string(&mut got)?;
//!     assert_eq!(got, "hello");
//!     server.join().unwrap()
//! })?;
//! # }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # How it works
//!
//! Each socket is std's, made non-blocking and registered with the reactor
//! of the runtime that created it through the same door as `corio::net`'s
//! TCP and UDP sockets: an operation tries the system call, and on
//! "would block" the calling coroutine suspends until the socket is ready
//! (or its timeout passes) while the others run.
//!
//! # Differences from `std::os::unix::net`
//!
//! - The sockets are not `Send`: they belong to the runtime (and so the
//!   thread) that created them, as `corio::net`'s do.
//! - Read and write timeouts are kept by corio, shared by a socket and its
//!   `try_clone`s as with std; a timed-out operation gives `WouldBlock`,
//!   as std's does on Unix.
//! - Two waits have no readiness event to wait for, so they retry after a
//!   short sleep (1 ms, doubling up to 16 ms) instead: a
//!   [`UnixStream::connect`] to a listener whose backlog is full, and a
//!   [`UnixDatagram::send_to`] to a socket whose receive queue is full.
//!   std's calls block the thread there; corio's suspend the caller.
//! - Errors for bad addresses keep std's kinds (`InvalidInput` for a path
//!   too long for `sun_path`, `AddrInUse` for a path that exists, `NotFound`
//!   for a missing one), with a message that names the path and says what
//!   to do.

mod datagram;
mod listener;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::{Incoming, UnixListener};
pub use stream::UnixStream;
// std's address type: it holds no socket, and std's `SocketAddrExt` (and
// any code that names it) then works on corio's sockets unchanged.
pub use std::os::unix::net::SocketAddr;

use std::io;
use std::ops::Deref;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::net::registered::{Registered, timed_out};

/// A std Unix socket, non-blocking, as a mio event source: registering it
/// registers its descriptor. Keeping std's type (rather than mio's) gives
/// every one of std's methods on the socket itself; corio adds only the
/// waiting.
#[derive(Debug)]
struct Socket<T>(
    /// The std socket, always in non-blocking mode.
    T,
);

impl<T> Deref for Socket<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: AsRawFd> AsRawFd for Socket<T> {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.0.as_raw_fd()
    }
}

impl<T: AsRawFd> mio::event::Source for Socket<T> {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        mio::unix::SourceFd(&self.0.as_raw_fd()).deregister(registry)
    }
}

/// Registers `socket`, already non-blocking, with the current runtime.
fn register<T: AsRawFd>(what: &str, socket: T) -> io::Result<Registered<Socket<T>>> {
    Registered::new(what, Socket(socket))
}

/// The first sleep of a retry that has no readiness event to wait for.
const FIRST_RETRY: Duration = Duration::from_millis(1);
/// The longest sleep between two such retries.
const LAST_RETRY: Duration = Duration::from_millis(16);

/// Runs `op` until it gives something other than `WouldBlock` or
/// `Interrupted`, sleeping between tries (1 ms, doubling to 16 ms): for the
/// waits the kernel sends no readiness event for (see the module docs).
/// `deadline` bounds it (past it: [`timed_out`], `WouldBlock` as std);
/// `nonblocking` returns the first `WouldBlock` as it is.
fn retry<R>(
    what: &str,
    nonblocking: bool,
    deadline: Option<Instant>,
    mut op: impl FnMut() -> io::Result<R>,
) -> io::Result<R> {
    let mut pause = FIRST_RETRY;
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && !nonblocking => {}
            result => return result,
        }
        let now = crate::scheduler::now();
        let nap = match deadline {
            Some(at) if now >= at => return Err(timed_out(what)),
            Some(at) => pause.min(at - now),
            None => pause,
        };
        crate::time::sleep(nap);
        pause = (pause * 2).min(LAST_RETRY);
    }
}

/// `e`, an error from binding or connecting to `path`, with a message that
/// names the path and says what to do; its kind stays std's.
fn explain_path(what: &str, path: &Path, e: io::Error) -> io::Error {
    explain(what, &path.display(), e)
}

/// `e`, an error from binding or connecting to `addr`, explained as
/// [`explain_path`] does.
fn explain_addr(what: &str, addr: &SocketAddr, e: io::Error) -> io::Error {
    explain(what, &format_args!("{addr:?}"), e)
}

/// The message for [`explain_path`] and [`explain_addr`].
fn explain(what: &str, target: &dyn std::fmt::Display, e: io::Error) -> io::Error {
    let advice = match e.kind() {
        io::ErrorKind::InvalidInput => {
            "a Unix socket path must be shorter than sun_path (108 bytes on Linux, \
             including the final NUL) and contain no NUL byte; use a shorter path, \
             or an abstract name (std::os::linux::net::SocketAddrExt)"
        }
        io::ErrorKind::AddrInUse => {
            "a file already exists at that path (often the socket file of an earlier \
             run); remove it first, or bind another path"
        }
        io::ErrorKind::NotFound => {
            "nothing exists at that path; bind a listener there first, or check the path"
        }
        io::ErrorKind::ConnectionRefused => {
            "the path is a socket, but nobody listens on it any more; start the server, \
             or remove the stale socket file"
        }
        _ => return e,
    };
    io::Error::new(e.kind(), format!("{what}({target}): {e}; {advice}"))
}
