//! `UdpSocket`: datagrams whose sends and receives suspend the calling
//! coroutine instead of blocking the thread.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use mio::Interest;

use super::ToSocketAddrs;
use super::each_addr;
use super::registered::Registered;

mod options;

/// A UDP socket; `std::net::UdpSocket` for coroutines.
///
/// Receiving suspends the calling coroutine until a datagram arrives (or
/// the read timeout passes); sending suspends only if the socket's buffer
/// is full.
///
/// A socket belongs to the runtime that created it and is not `Send`:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<corio::net::UdpSocket>();
/// ```
///
/// # Examples
///
/// ```
/// use corio::net::UdpSocket;
///
/// corio::run(|| {
///     let server = UdpSocket::bind("127.0.0.1:0")?;
///     let client = UdpSocket::bind("127.0.0.1:0")?;
///     let server_addr = server.local_addr()?;
///     let echo = corio::spawn(move || -> std::io::Result<()> {
///         let mut buf = [0; 64];
///         let (n, from) = server.recv_from(&mut buf)?; // suspends until it arrives
///         server.send_to(&buf[..n], from)?;
///         Ok(())
///     });
///     client.send_to(b"ping", server_addr)?;
///     let mut buf = [0; 64];
///     let (n, from) = client.recv_from(&mut buf)?;
///     assert_eq!((&buf[..n], from), (&b"ping"[..], server_addr));
///     echo.join().unwrap()
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UdpSocket {
    /// The non-blocking socket, registered with its runtime; it also keeps
    /// the blocking mode and timeouts that clones share.
    inner: Registered<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Creates a UDP socket bound to `addr`, like `std::net::UdpSocket::bind`;
    /// each address `addr` yields is tried in turn until one binds.
    ///
    /// # Errors
    ///
    /// The error of the last address tried (for example
    /// `ErrorKind::AddrInUse`), or `InvalidInput` if `addr` resolves to no
    /// address.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     assert_ne!(socket.local_addr()?.port(), 0);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        super::require_runtime("UdpSocket::bind");
        each_addr("UdpSocket::bind", addr, |addr| {
            UdpSocket::register("UdpSocket::bind", mio::net::UdpSocket::bind(addr)?)
        })
    }

    /// Registers a non-blocking mio socket with the current runtime.
    fn register(what: &str, socket: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: Registered::new(what, socket)?,
        })
    }

    /// Sets the default destination for [`send`](UdpSocket::send) and the
    /// only source [`recv`](UdpSocket::recv) accepts. Each address `addr`
    /// yields is tried in turn until one works.
    ///
    /// # Errors
    ///
    /// The error of the last address tried, or `InvalidInput` if `addr`
    /// resolves to no address.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::net::UdpSocket;
    ///
    /// corio::run(|| {
    ///     let a = UdpSocket::bind("127.0.0.1:0")?;
    ///     let b = UdpSocket::bind("127.0.0.1:0")?;
    ///     a.connect(b.local_addr()?)?;
    ///     assert_eq!(a.peer_addr()?, b.local_addr()?);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        each_addr("UdpSocket::connect", addr, |addr| {
            self.inner.source().connect(addr)
        })
    }

    /// Sends a datagram to the connected peer; returns the bytes sent.
    ///
    /// # Errors
    ///
    /// - `ErrorKind::NotConnected` without a [`connect`](UdpSocket::connect).
    /// - `ErrorKind::WouldBlock` (as std on Unix) past the write timeout.
    /// - `ErrorKind::ConnectionRefused` if an earlier datagram was refused by
    ///   the peer (an ICMP "port unreachable" came back), as with std.
    ///
    /// # Panics
    ///
    /// Panics if it has to wait and is not called from a corio coroutine.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::net::UdpSocket;
    ///
    /// corio::run(|| {
    ///     let a = UdpSocket::bind("127.0.0.1:0")?;
    ///     let b = UdpSocket::bind("127.0.0.1:0")?;
    ///     a.connect(b.local_addr()?)?;
    ///     assert_eq!(a.send(b"hi")?, 2);
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.recv(&mut buf)?, 2);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        let deadline = self.inner.write_deadline();
        self.inner
            .io("UdpSocket::send", Interest::WRITABLE, deadline, |s| {
                s.send(buf)
            })
    }

    /// Receives a datagram from the connected peer (or, without a
    /// [`connect`](UdpSocket::connect), from anyone); returns its length. A
    /// datagram longer than `buf` is cut to fit, the rest is lost.
    ///
    /// # Errors
    ///
    /// `ErrorKind::WouldBlock` (as std on Unix) past the read timeout; `ConnectionRefused` as
    /// for [`send`](UdpSocket::send).
    ///
    /// # Panics
    ///
    /// Panics if it has to wait and is not called from a corio coroutine.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::net::UdpSocket;
    ///
    /// corio::run(|| {
    ///     let a = UdpSocket::bind("127.0.0.1:0")?;
    ///     let b = UdpSocket::bind("127.0.0.1:0")?;
    ///     b.connect(a.local_addr()?)?;
    ///     a.send_to(b"hello", b.local_addr()?)?;
    ///     let mut buf = [0; 3];
    ///     assert_eq!(b.recv(&mut buf)?, 3); // truncated
    ///     assert_eq!(&buf, b"hel");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = self.inner.read_deadline();
        self.inner
            .io("UdpSocket::recv", Interest::READABLE, deadline, |s| {
                s.recv(buf)
            })
    }

    /// Receives from the connected peer like [`recv`](UdpSocket::recv),
    /// but leaves the datagram queued: the next receive returns it again.
    ///
    /// # Errors
    ///
    /// As [`recv`](UdpSocket::recv).
    ///
    /// # Panics
    ///
    /// Panics if it has to wait and is not called from a corio coroutine.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::net::UdpSocket;
    ///
    /// corio::run(|| {
    ///     let a = UdpSocket::bind("127.0.0.1:0")?;
    ///     let b = UdpSocket::bind("127.0.0.1:0")?;
    ///     b.connect(a.local_addr()?)?;
    ///     a.send_to(b"xy", b.local_addr()?)?;
    ///     let mut buf = [0; 8];
    ///     assert_eq!(b.peek(&mut buf)?, 2);
    ///     assert_eq!(b.recv(&mut buf)?, 2); // still there
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = self.inner.read_deadline();
        self.inner
            .io("UdpSocket::peek", Interest::READABLE, deadline, |s| {
                s.peek(buf)
            })
    }

    /// Sends a datagram to `addr`; returns the bytes sent. Like std, only
    /// the first address `addr` resolves to is used.
    ///
    /// # Errors
    ///
    /// - `ErrorKind::InvalidInput` if `addr` resolves to no address.
    /// - `ErrorKind::WouldBlock` (as std on Unix) past the write timeout.
    /// - What `sendto(2)` reports, for example `PermissionDenied` for a
    ///   broadcast address without [`set_broadcast`](UdpSocket::set_broadcast).
    ///
    /// # Panics
    ///
    /// Panics if it has to wait and is not called from a corio coroutine.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::net::UdpSocket;
    ///
    /// corio::run(|| {
    ///     let a = UdpSocket::bind("127.0.0.1:0")?;
    ///     let b = UdpSocket::bind("127.0.0.1:0")?;
    ///     assert_eq!(a.send_to(b"hi", b.local_addr()?)?, 2);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to(&self, buf: &[u8], addr: impl ToSocketAddrs) -> io::Result<usize> {
        let Some(target) = addr.to_socket_addrs()?.next() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "UdpSocket::send_to: the address resolved to no socket addresses; \
                 pass an IP address and port",
            ));
        };
        let deadline = self.inner.write_deadline();
        self.inner
            .io("UdpSocket::send_to", Interest::WRITABLE, deadline, |s| {
                s.send_to(buf, target)
            })
    }

    /// Receives a datagram from anyone; returns its length and its sender.
    /// A datagram longer than `buf` is cut to fit, the rest is lost.
    ///
    /// # Errors
    ///
    /// `ErrorKind::WouldBlock` (as std on Unix) past the read timeout.
    ///
    /// # Panics
    ///
    /// Panics if it has to wait and is not called from a corio coroutine.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::net::UdpSocket;
    ///
    /// corio::run(|| {
    ///     let a = UdpSocket::bind("127.0.0.1:0")?;
    ///     let b = UdpSocket::bind("127.0.0.1:0")?;
    ///     a.send_to(b"hi", b.local_addr()?)?;
    ///     let mut buf = [0; 8];
    ///     let (n, from) = b.recv_from(&mut buf)?;
    ///     assert_eq!((n, from), (2, a.local_addr()?));
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let deadline = self.inner.read_deadline();
        self.inner
            .io("UdpSocket::recv_from", Interest::READABLE, deadline, |s| {
                s.recv_from(buf)
            })
    }

    /// Like [`recv_from`](UdpSocket::recv_from), but leaves the datagram
    /// queued: the next receive returns it again.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](UdpSocket::recv_from).
    ///
    /// # Panics
    ///
    /// Panics if it has to wait and is not called from a corio coroutine.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::net::UdpSocket;
    ///
    /// corio::run(|| {
    ///     let a = UdpSocket::bind("127.0.0.1:0")?;
    ///     let b = UdpSocket::bind("127.0.0.1:0")?;
    ///     a.send_to(b"hi", b.local_addr()?)?;
    ///     let mut buf = [0; 8];
    ///     let peeked = b.peek_from(&mut buf)?;
    ///     assert_eq!(b.recv_from(&mut buf)?, peeked);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let deadline = self.inner.read_deadline();
        self.inner
            .io("UdpSocket::peek_from", Interest::READABLE, deadline, |s| {
                s.peek_from(buf)
            })
    }

    /// The address the socket is bound to.
    ///
    /// # Errors
    ///
    /// What `getsockname(2)` reports; practically never.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     assert!(socket.local_addr()?.ip().is_loopback());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.source().local_addr()
    }

    /// The address given to [`connect`](UdpSocket::connect).
    ///
    /// # Errors
    ///
    /// `ErrorKind::NotConnected` if the socket is not connected.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     let err = socket.peer_addr().unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.source().peer_addr()
    }

    /// Another handle to the same socket (a duplicated descriptor,
    /// registered on its own, sharing the timeouts), so one coroutine can
    /// receive while another sends.
    ///
    /// # Errors
    ///
    /// What `dup(2)` reports, for example `EMFILE` when out of descriptors.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     let clone = socket.try_clone()?;
    ///     assert_eq!(clone.local_addr()?, socket.local_addr()?);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        let fd = self.inner.source().as_fd().try_clone_to_owned()?;
        let socket = mio::net::UdpSocket::from_std(fd.into());
        Ok(UdpSocket {
            inner: Registered::new_clone_of("UdpSocket::try_clone", socket, &self.inner)?,
        })
    }

    /// Sets whether sends and receives that would wait return
    /// `ErrorKind::WouldBlock` instead of suspending the coroutine, like
    /// `std::net::UdpSocket::set_nonblocking`. The mode is shared with this
    /// socket's [`try_clone`](UdpSocket::try_clone)s, as std's is.
    ///
    /// # Errors
    ///
    /// Never fails; the `Result` mirrors std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use corio::net::UdpSocket;
    ///
    /// corio::run(|| {
    ///     let socket = UdpSocket::bind("127.0.0.1:0")?;
    ///     socket.set_nonblocking(true)?;
    ///     let err = socket.recv_from(&mut [0; 8]).unwrap_err(); // nothing came
    ///     assert_eq!(err.kind(), ErrorKind::WouldBlock);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Turns a `std::net::UdpSocket` into a corio one: the socket is made
    /// non-blocking and registered with the current runtime. Read and write
    /// timeouts set on the std socket carry over.
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
    ///     let std_socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     let addr = std_socket.local_addr()?;
    ///     let socket = corio::net::UdpSocket::from_std(std_socket)?;
    ///     assert_eq!(socket.local_addr()?, addr);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        const WHAT: &str = "UdpSocket::from_std";
        super::require_runtime(WHAT);
        let (read, write) = (socket.read_timeout()?, socket.write_timeout()?);
        socket.set_nonblocking(true)?;
        let inner = Registered::new(WHAT, mio::net::UdpSocket::from_std(socket))?;
        inner.set_read_timeout(WHAT, read)?;
        inner.set_write_timeout(WHAT, write)?;
        Ok(UdpSocket { inner })
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.source().as_raw_fd()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.source().as_fd()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UdpSocket");
        if let Ok(addr) = self.local_addr() {
            d.field("addr", &addr);
        }
        d.field("fd", &self.as_raw_fd()).finish()
    }
}
