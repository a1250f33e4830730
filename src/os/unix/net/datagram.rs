//! `UnixDatagram`: a Unix domain datagram socket whose sends and receives
//! suspend the calling coroutine instead of blocking the thread.

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net as std_net;
use std::path::Path;
use std::time::Duration;

use mio::Interest;

use super::{Socket, SocketAddr, explain_addr, explain_path, register, retry};
use crate::net::registered::Registered;

/// A Unix domain datagram socket; `std::os::unix::net::UnixDatagram` for
/// coroutines.
///
/// Sends and receives look blocking to the coroutine that makes them;
/// while one waits, the runtime runs the others. Each datagram arrives
/// whole or not at all, in order. A socket belongs to the runtime that
/// created it and is not `Send`:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<corio::os::unix::net::UnixDatagram>();
/// ```
///
/// # Examples
///
/// ```
/// use corio::os::unix::net::UnixDatagram;
///
/// corio::run(|| {
///     let (a, b) = UnixDatagram::pair()?;
///     let reader = corio::spawn(move || -> std::io::Result<Vec<u8>> {
///         let mut buf = [0; 64];
///         let n = b.recv(&mut buf)?; // suspends this coroutine only
///         Ok(buf[..n].to_vec())
///     });
///     a.send(b"hello")?;
///     assert_eq!(reader.join().unwrap()?, b"hello");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixDatagram {
    /// std's socket, non-blocking, registered with its runtime; it also
    /// keeps the blocking mode, shutdowns and timeouts that clones share.
    inner: Registered<Socket<std_net::UnixDatagram>>,
}

impl UnixDatagram {
    /// Creates a socket bound to `path`, like std's `UnixDatagram::bind`.
    ///
    /// # Errors
    ///
    /// std's: `AddrInUse` if anything exists at `path`, `InvalidInput` for
    /// a path too long for `sun_path`, `NotFound` when its directory does
    /// not exist; each message names the path and what to do.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::os::unix::net::UnixDatagram;
    ///
    /// corio::run(|| {
    ///     let dir = std::env::temp_dir().join(format!("corio-doc-dgram-{}", std::process::id()));
    ///     std::fs::create_dir_all(&dir)?;
    ///     let path = dir.join("dgram.sock");
    ///     # let _ = std::fs::remove_file(&path);
    ///     let socket = UnixDatagram::bind(&path)?;
    ///     let client = UnixDatagram::unbound()?;
    ///     client.send_to(b"hi", &path)?;
    ///     let mut buf = [0; 8];
    ///     let (n, from) = socket.recv_from(&mut buf)?;
    ///     assert_eq!((&buf[..n], from.is_unnamed()), (&b"hi"[..], true));
    ///     std::fs::remove_dir_all(&dir)
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        const WHAT: &str = "UnixDatagram::bind";
        crate::net::require_runtime(WHAT);
        let path = path.as_ref();
        let socket = std_net::UnixDatagram::bind(path).map_err(|e| explain_path(WHAT, path, e))?;
        UnixDatagram::wrap(WHAT, socket)
    }

    /// Creates a socket bound to `addr` (a path or, on Linux, an abstract
    /// name), like std's `UnixDatagram::bind_addr`.
    ///
    /// # Errors
    ///
    /// As [`bind`](UnixDatagram::bind).
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use std::os::linux::net::SocketAddrExt;
    /// use corio::os::unix::net::{SocketAddr, UnixDatagram};
    ///
    /// corio::run(|| {
    ///     let name = format!("corio-doc-dgram-addr-{}", std::process::id());
    ///     let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
    ///     let socket = UnixDatagram::bind_addr(&addr)?;
    ///     UnixDatagram::unbound()?.send_to_addr(b"abstract", &addr)?;
    ///     let mut buf = [0; 16];
    ///     let n = socket.recv(&mut buf)?;
    ///     assert_eq!(&buf[..n], b"abstract");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        const WHAT: &str = "UnixDatagram::bind_addr";
        crate::net::require_runtime(WHAT);
        let socket =
            std_net::UnixDatagram::bind_addr(addr).map_err(|e| explain_addr(WHAT, addr, e))?;
        UnixDatagram::wrap(WHAT, socket)
    }

    /// Creates a socket bound to no address, like std's
    /// `UnixDatagram::unbound`. It can send (with
    /// [`send_to`](UnixDatagram::send_to), or [`send`](UnixDatagram::send)
    /// once [`connect`](UnixDatagram::connect)ed); its datagrams arrive from
    /// an unnamed address, so their receivers cannot reply to it.
    ///
    /// # Errors
    ///
    /// What `socket(2)` reports, for example `EMFILE`.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let socket = corio::os::unix::net::UnixDatagram::unbound()?;
    ///     assert!(socket.local_addr()?.is_unnamed());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn unbound() -> io::Result<UnixDatagram> {
        const WHAT: &str = "UnixDatagram::unbound";
        crate::net::require_runtime(WHAT);
        UnixDatagram::wrap(WHAT, std_net::UnixDatagram::unbound()?)
    }

    /// Two connected sockets with no name (`socketpair(2)`), like std's
    /// `UnixDatagram::pair`.
    ///
    /// # Errors
    ///
    /// What `socketpair(2)` reports, for example `EMFILE`.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let (a, b) = corio::os::unix::net::UnixDatagram::pair()?;
    ///     b.send(b"back")?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(a.recv(&mut buf)?, 4);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        const WHAT: &str = "UnixDatagram::pair";
        crate::net::require_runtime(WHAT);
        let (a, b) = std_net::UnixDatagram::pair()?;
        Ok((UnixDatagram::wrap(WHAT, a)?, UnixDatagram::wrap(WHAT, b)?))
    }

    /// Turns a `std::os::unix::net::UnixDatagram` into a corio one: the
    /// socket is made non-blocking and registered with the current runtime.
    /// Read and write timeouts set on the std socket carry over.
    ///
    /// # Errors
    ///
    /// What `fcntl(2)`, `getsockopt(2)` or `epoll_ctl(2)` report;
    /// practically never.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
    ///     let a = corio::os::unix::net::UnixDatagram::from_std(a)?;
    ///     b.send(b"from std")?;
    ///     let mut buf = [0; 16];
    ///     assert_eq!(a.recv(&mut buf)?, 8);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn from_std(socket: std_net::UnixDatagram) -> io::Result<UnixDatagram> {
        const WHAT: &str = "UnixDatagram::from_std";
        crate::net::require_runtime(WHAT);
        let (read, write) = (socket.read_timeout()?, socket.write_timeout()?);
        let socket = UnixDatagram::wrap(WHAT, socket)?;
        socket.inner.set_read_timeout(WHAT, read)?;
        socket.inner.set_write_timeout(WHAT, write)?;
        Ok(socket)
    }

    /// Makes a std socket non-blocking and registers it, with fresh
    /// timeouts.
    fn wrap(what: &str, socket: std_net::UnixDatagram) -> io::Result<UnixDatagram> {
        socket.set_nonblocking(true)?;
        Ok(UnixDatagram {
            inner: register(what, socket)?,
        })
    }

    /// Connects the socket to `path`: [`send`](UnixDatagram::send) goes
    /// there, and [`recv`](UnixDatagram::recv) takes only what comes from
    /// there. Never waits.
    ///
    /// # Errors
    ///
    /// std's: `NotFound` when nothing is at `path`, `ConnectionRefused`
    /// when nothing is bound there any more, `InvalidInput` for a path too
    /// long; each message names the path and what to do.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use corio::os::unix::net::UnixDatagram;
    ///
    /// corio::run(|| {
    ///     let dir = std::env::temp_dir().join(format!("corio-doc-dconnect-{}", std::process::id()));
    ///     std::fs::create_dir_all(&dir)?;
    ///     # let _ = std::fs::remove_file(dir.join("server"));
    ///     let server = UnixDatagram::bind(dir.join("server"))?;
    ///     let client = UnixDatagram::unbound()?;
    ///     client.connect(dir.join("server"))?;
    ///     client.send(b"via connect")?;
    ///     let mut buf = [0; 16];
    ///     assert_eq!(server.recv(&mut buf)?, 11);
    ///     let missing = client.connect(dir.join("nobody")).unwrap_err();
    ///     assert_eq!(missing.kind(), ErrorKind::NotFound);
    ///     std::fs::remove_dir_all(&dir)
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        let path = path.as_ref();
        self.inner
            .source()
            .connect(path)
            .map_err(|e| explain_path("UnixDatagram::connect", path, e))
    }

    /// Connects the socket to `addr` (a path or, on Linux, an abstract
    /// name), like std's `UnixDatagram::connect_addr`.
    ///
    /// # Errors
    ///
    /// As [`connect`](UnixDatagram::connect).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use std::os::linux::net::SocketAddrExt;
    /// use corio::os::unix::net::{SocketAddr, UnixDatagram};
    ///
    /// corio::run(|| {
    ///     let name = format!("corio-doc-dconnect-addr-{}", std::process::id());
    ///     let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
    ///     let server = UnixDatagram::bind_addr(&addr)?;
    ///     let client = UnixDatagram::unbound()?;
    ///     client.connect_addr(&addr)?;
    ///     assert_eq!(client.peer_addr()?.as_abstract_name(), Some(name.as_bytes()));
    ///     # drop(server);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.inner
            .source()
            .connect_addr(addr)
            .map_err(|e| explain_addr("UnixDatagram::connect_addr", addr, e))
    }

    /// Another handle to the same socket: a duplicated descriptor,
    /// registered on its own, sharing this socket's timeouts and blocking
    /// mode.
    ///
    /// # Errors
    ///
    /// What `dup(2)` reports, for example `EMFILE`.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let (a, b) = corio::os::unix::net::UnixDatagram::pair()?;
    ///     a.try_clone()?.send(b"clone")?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.recv(&mut buf)?, 5);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        let clone = self.inner.source().try_clone()?;
        Ok(UnixDatagram {
            inner: Registered::new_clone_of("UnixDatagram::try_clone", Socket(clone), &self.inner)?,
        })
    }

    /// The address this socket is bound to (unnamed if none).
    ///
    /// # Errors
    ///
    /// What `getsockname(2)` reports; practically never.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let (a, _b) = corio::os::unix::net::UnixDatagram::pair()?;
    ///     assert!(a.local_addr()?.is_unnamed());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.source().local_addr()
    }

    /// The address this socket is connected to.
    ///
    /// # Errors
    ///
    /// `NotConnected` if it is not connected.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// corio::run(|| {
    ///     let socket = corio::os::unix::net::UnixDatagram::unbound()?;
    ///     assert_eq!(socket.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.source().peer_addr()
    }

    /// Receives one datagram and the address it came from, waiting until
    /// one arrives (bounded by the read timeout). A datagram longer than
    /// `buf` is cut to fit; the rest is lost.
    ///
    /// # Errors
    ///
    /// `WouldBlock` past the read timeout (as std's on Unix) or in
    /// non-blocking mode with nothing queued; otherwise what `recvfrom(2)`
    /// reports.
    ///
    /// # Panics
    ///
    /// Panics if it has to wait and is not called from a corio coroutine.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let (a, b) = corio::os::unix::net::UnixDatagram::pair()?;
    ///     a.send(b"data")?;
    ///     let mut buf = [0; 8];
    ///     let (n, from) = b.recv_from(&mut buf)?;
    ///     assert_eq!((n, from.is_unnamed()), (4, true));
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let deadline = self.inner.read_deadline();
        self.inner.io(
            "UnixDatagram::recv_from",
            Interest::READABLE,
            deadline,
            |s| match s.0.recv_from(buf) {
                Err(e) if self.read_is_shut(&e) => Ok((0, SocketAddr::from_pathname("")?)),
                result => result,
            },
        )
    }

    /// Receives one datagram, as [`recv_from`](UnixDatagram::recv_from)
    /// without the address.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UnixDatagram::recv_from).
    ///
    /// # Panics
    ///
    /// Panics if it has to wait and is not called from a corio coroutine.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let (a, b) = corio::os::unix::net::UnixDatagram::pair()?;
    ///     a.send(b"whole datagram")?;
    ///     let mut small = [0; 5];
    ///     assert_eq!(b.recv(&mut small)?, 5); // cut to fit
    ///     assert_eq!(&small, b"whole");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = self.inner.read_deadline();
        self.inner.io(
            "UnixDatagram::recv",
            Interest::READABLE,
            deadline,
            |s| match s.0.recv(buf) {
                Err(e) if self.read_is_shut(&e) => Ok(0),
                result => result,
            },
        )
    }

    /// Whether `e`, from a receive, is the `EAGAIN` that Linux gives a
    /// non-blocking datagram socket whose reading was shut down and whose
    /// queue is empty; a blocking one (std's) returns 0 bytes there, from
    /// an unnamed address, and so does corio.
    fn read_is_shut(&self, e: &io::Error) -> bool {
        e.kind() == io::ErrorKind::WouldBlock
            && !self.inner.is_nonblocking()
            && self.inner.is_shut_down(Interest::READABLE)
    }

    /// Sends `buf` as one datagram to the socket at `path`.
    ///
    /// # Errors
    ///
    /// `WouldBlock` past the write timeout or in non-blocking mode when the
    /// receiver's queue is full; `NotFound` / `ConnectionRefused` when
    /// nothing is bound at `path`; otherwise what `sendto(2)` reports.
    ///
    /// # Panics
    ///
    /// Panics if it has to wait and is not called from a corio coroutine.
    ///
    /// # Coroutines
    ///
    /// When the receiver's queue is full, std's call blocks the thread
    /// until there is room; the kernel gives the sender no readiness event
    /// for that, so corio's suspends the caller and retries after a short
    /// sleep (1 ms, doubling to 16 ms).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// corio::run(|| {
    ///     let socket = corio::os::unix::net::UnixDatagram::unbound()?;
    ///     let err = socket.send_to(b"x", "/nonexistent/corio/socket").unwrap_err();
    ///     assert_eq!(err.kind(), ErrorKind::NotFound);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        const WHAT: &str = "UnixDatagram::send_to";
        let path = path.as_ref();
        let deadline = self.inner.write_deadline();
        retry(WHAT, self.inner.is_nonblocking(), deadline, || {
            self.inner.source().send_to(buf, path)
        })
        .map_err(|e| explain_path(WHAT, path, e))
    }

    /// Sends `buf` as one datagram to `addr` (a path or, on Linux, an
    /// abstract name), as [`send_to`](UnixDatagram::send_to).
    ///
    /// # Errors
    ///
    /// As [`send_to`](UnixDatagram::send_to).
    ///
    /// # Panics
    ///
    /// Panics if it has to wait and is not called from a corio coroutine.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use std::os::linux::net::SocketAddrExt;
    /// use corio::os::unix::net::{SocketAddr, UnixDatagram};
    ///
    /// corio::run(|| {
    ///     let name = format!("corio-doc-send-to-addr-{}", std::process::id());
    ///     let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
    ///     let server = UnixDatagram::bind_addr(&addr)?;
    ///     let client = UnixDatagram::unbound()?;
    ///     assert_eq!(client.send_to_addr(b"to a name", &addr)?, 9);
    ///     let mut buf = [0; 16];
    ///     assert_eq!(server.recv(&mut buf)?, 9);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to_addr(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        const WHAT: &str = "UnixDatagram::send_to_addr";
        let deadline = self.inner.write_deadline();
        retry(WHAT, self.inner.is_nonblocking(), deadline, || {
            self.inner.source().send_to_addr(buf, addr)
        })
        .map_err(|e| explain_addr(WHAT, addr, e))
    }

    /// Sends `buf` as one datagram to the connected peer, waiting for room
    /// in its queue (bounded by the write timeout).
    ///
    /// # Errors
    ///
    /// `WouldBlock` past the write timeout (as std's on Unix) or in
    /// non-blocking mode when the peer's queue is full; `NotConnected` if
    /// not connected; otherwise what `send(2)` reports.
    ///
    /// # Panics
    ///
    /// Panics if it has to wait and is not called from a corio coroutine.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// corio::run(|| {
    ///     let socket = corio::os::unix::net::UnixDatagram::unbound()?;
    ///     assert_eq!(socket.send(b"x").unwrap_err().kind(), ErrorKind::NotConnected);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        let deadline = self.inner.write_deadline();
        self.inner
            .io("UnixDatagram::send", Interest::WRITABLE, deadline, |s| {
                s.0.send(buf)
            })
    }

    /// Limits how long one receive may wait; `None` waits as long as it
    /// takes. A receive that runs out of time returns
    /// `ErrorKind::WouldBlock` (as std's on Unix; the message says it was
    /// the timeout), and the other coroutines keep running meanwhile.
    /// Shared with this socket's clones.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use std::time::Duration;
    /// corio::run(|| {
    ///     let (a, _b) = corio::os::unix::net::UnixDatagram::pair()?;
    ///     a.set_read_timeout(Some(Duration::from_millis(10)))?;
    ///     assert_eq!(a.recv(&mut [0; 8]).unwrap_err().kind(), ErrorKind::WouldBlock);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner
            .set_read_timeout("UnixDatagram::set_read_timeout", timeout)
    }

    /// Limits how long one send may wait for room; `None` waits as long as
    /// it takes. A send that runs out of time returns
    /// `ErrorKind::WouldBlock`, as std's on Unix. Shared with this socket's
    /// clones.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use std::time::Duration;
    /// corio::run(|| {
    ///     let (a, _b) = corio::os::unix::net::UnixDatagram::pair()?;
    ///     a.set_write_timeout(Some(Duration::from_millis(10)))?;
    ///     // Nobody receives: the queue fills up and a send times out.
    ///     let err = loop {
    ///         if let Err(e) = a.send(&[0; 1024]) {
    ///             break e;
    ///         }
    ///     };
    ///     assert_eq!(err.kind(), ErrorKind::WouldBlock);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner
            .set_write_timeout("UnixDatagram::set_write_timeout", timeout)
    }

    /// The read timeout; see [`set_read_timeout`](UnixDatagram::set_read_timeout).
    ///
    /// # Errors
    ///
    /// Never fails; the `Result` mirrors std.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let (a, _b) = corio::os::unix::net::UnixDatagram::pair()?;
    ///     assert_eq!(a.read_timeout()?, None);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.read_timeout())
    }

    /// The write timeout; see [`set_write_timeout`](UnixDatagram::set_write_timeout).
    ///
    /// # Errors
    ///
    /// Never fails; the `Result` mirrors std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// corio::run(|| {
    ///     let (a, _b) = corio::os::unix::net::UnixDatagram::pair()?;
    ///     a.set_write_timeout(Some(Duration::from_secs(2)))?;
    ///     assert_eq!(a.write_timeout()?, Some(Duration::from_secs(2)));
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.write_timeout())
    }

    /// Sets whether sends and receives that would wait return
    /// `ErrorKind::WouldBlock` instead of suspending the coroutine, like
    /// std's `set_nonblocking`. Shared with this socket's clones.
    ///
    /// # Errors
    ///
    /// Never fails; the `Result` mirrors std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// corio::run(|| {
    ///     let (a, _b) = corio::os::unix::net::UnixDatagram::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     assert_eq!(a.recv(&mut [0; 8]).unwrap_err().kind(), ErrorKind::WouldBlock);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Takes the pending socket error (`SO_ERROR`), clearing it.
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports; practically never.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let (a, _b) = corio::os::unix::net::UnixDatagram::pair()?;
    ///     assert!(a.take_error()?.is_none());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.source().take_error()
    }

    /// Shuts down the receiving half, the sending half or both, like std:
    /// after `Shutdown::Read` a receive returns 0 at once, after
    /// `Shutdown::Write` a send fails with `BrokenPipe`.
    ///
    /// # Errors
    ///
    /// What `shutdown(2)` reports.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Shutdown;
    /// corio::run(|| {
    ///     let (a, _b) = corio::os::unix::net::UnixDatagram::pair()?;
    ///     a.shutdown(Shutdown::Read)?;
    ///     assert_eq!(a.recv(&mut [0; 8])?, 0); // no wait
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.shutdown(how, |s| s.0.shutdown(how))
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.source().as_raw_fd()
    }
}

impl AsFd for UnixDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.source().as_fd()
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UnixDatagram");
        d.field("fd", &self.as_raw_fd());
        if let Ok(addr) = self.local_addr() {
            d.field("local", &addr);
        }
        if let Ok(peer) = self.peer_addr() {
            d.field("peer", &peer);
        }
        d.finish()
    }
}
