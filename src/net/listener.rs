//! `TcpListener`: accepting TCP connections without blocking the thread.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use mio::Interest;

use super::ToSocketAddrs;
use super::registered::Registered;
use super::{TcpStream, each_addr};

/// Connections a listener lets the kernel queue before `accept` takes them
/// (std and mio use 128; see the module docs for why corio wants more).
/// Linux caps it at `net.core.somaxconn`.
const BACKLOG: libc::c_int = 1024;

/// A TCP socket server, listening for connections; `std::net::TcpListener`
/// for coroutines.
///
/// [`accept`](TcpListener::accept) suspends the calling coroutine, not the
/// thread, until a client connects. The usual server spawns one coroutine
/// per connection.
///
/// A listener belongs to the runtime that created it and is not `Send`:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<corio::net::TcpListener>();
/// ```
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use corio::net::{TcpListener, TcpStream};
///
/// corio::run(|| {
///     let listener = TcpListener::bind("127.0.0.1:0")?;
///     let addr = listener.local_addr()?;
///     corio::spawn(move || {
///         for stream in listener.incoming().take(1) {
///             let mut stream = stream?;
///             corio::spawn(move || {
///                 let mut buf = [0; 4];
///                 stream.read_exact(&mut buf)?;
///                 stream.write_all(&buf) // echo
///             });
///         }
///         Ok::<(), std::io::Error>(())
///     });
///     let mut client = TcpStream::connect(addr)?;
///     client.write_all(b"ping")?;
///     let mut echo = [0; 4];
///     client.read_exact(&mut echo)?;
///     assert_eq!(&echo, b"ping");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpListener {
    /// The non-blocking listening socket, registered with its runtime.
    inner: Registered<mio::net::TcpListener>,
}

impl TcpListener {
    /// Creates a listener bound to `addr`, like `std::net::TcpListener::bind`.
    ///
    /// If `addr` yields several addresses, each is tried in turn until one
    /// binds. Port 0 asks the OS for a free port; see
    /// [`local_addr`](TcpListener::local_addr). `SO_REUSEADDR` is set, so a
    /// restarted server can bind its port at once.
    ///
    /// # Errors
    ///
    /// The error of the last address tried (for example
    /// `ErrorKind::AddrInUse`), or `ErrorKind::InvalidInput` if `addr`
    /// resolves to no address.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let listener = corio::net::TcpListener::bind("127.0.0.1:0")?;
    ///     assert_ne!(listener.local_addr()?.port(), 0);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        super::require_runtime("TcpListener::bind");
        each_addr("TcpListener::bind", addr, |addr| {
            let listener = mio::net::TcpListener::bind(addr)?;
            set_backlog(listener.as_fd(), BACKLOG)?;
            TcpListener::register(listener)
        })
    }

    /// Registers a non-blocking mio listener with the current runtime.
    fn register(listener: mio::net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            inner: Registered::new("corio::net::TcpListener", listener)?,
        })
    }

    /// Waits for a connection and returns it with the peer's address.
    ///
    /// Suspends the calling coroutine (not the thread) until a client
    /// connects; a connection that is already queued returns at once.
    ///
    /// # Errors
    ///
    /// What `accept(2)` reports, as with std. Notably, when the process runs
    /// out of file descriptors the error is `EMFILE` ("Too many open
    /// files", `raw_os_error() == Some(24)`): the connection stays queued in
    /// the kernel, and calling `accept` again once descriptors are free
    /// takes it. A server should log the error, pause briefly (for example
    /// `corio::sleep` for a few milliseconds, so it does not spin) and keep
    /// accepting.
    ///
    /// # Panics
    ///
    /// Panics if it has to wait and is not called from a corio coroutine.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::net::{TcpListener, TcpStream};
    ///
    /// corio::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let client = TcpStream::connect(listener.local_addr()?)?;
    ///     let (server_side, peer) = listener.accept()?;
    ///     assert_eq!(peer, client.local_addr()?);
    ///     assert_eq!(server_side.peer_addr()?, client.local_addr()?);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        const WHAT: &str = "TcpListener::accept";
        let (stream, peer) = self.inner.io(
            WHAT,
            Interest::READABLE,
            None,
            mio::net::TcpListener::accept,
        )?;
        Ok((TcpStream::from_mio(WHAT, stream)?, peer))
    }

    /// An endless iterator over incoming connections: each `next` calls
    /// [`accept`](TcpListener::accept) and yields its result, without the
    /// peer address. It never returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::net::{TcpListener, TcpStream};
    ///
    /// corio::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let addr = listener.local_addr()?;
    ///     let clients: Vec<_> = (0..3).map(|_| TcpStream::connect(addr)).collect();
    ///     let accepted = listener.incoming().take(3).filter(|s| s.is_ok()).count();
    ///     assert_eq!(accepted, 3);
    ///     # drop(clients);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The address the listener is bound to (with the port the OS chose, if
    /// it was bound to port 0).
    ///
    /// # Errors
    ///
    /// What `getsockname(2)` reports; practically never.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::{Ipv4Addr, SocketAddr};
    ///
    /// corio::run(|| {
    ///     let listener = corio::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let addr = listener.local_addr()?;
    ///     assert_eq!(addr.ip(), Ipv4Addr::LOCALHOST);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.source().local_addr()
    }

    /// Another handle to the same listening socket (a duplicated
    /// descriptor, registered on its own), so that several coroutines can
    /// accept from it, each through its own handle.
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
    ///     let listener = corio::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let clone = listener.try_clone()?;
    ///     assert_eq!(clone.local_addr()?, listener.local_addr()?);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        let fd = self.inner.source().as_fd().try_clone_to_owned()?;
        let listener = mio::net::TcpListener::from_std(fd.into());
        Ok(TcpListener {
            inner: Registered::new_clone_of("TcpListener::try_clone", listener, &self.inner)?,
        })
    }

    /// Sets whether `accept` returns `ErrorKind::WouldBlock` instead of
    /// suspending the coroutine when no connection is waiting, like
    /// `std::net::TcpListener::set_nonblocking`. The mode is shared with
    /// this listener's [`try_clone`](TcpListener::try_clone)s, as std's is;
    /// streams it accepts start in blocking mode, as std's do.
    ///
    /// # Errors
    ///
    /// Never fails; the `Result` mirrors std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use corio::net::TcpListener;
    ///
    /// corio::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     listener.set_nonblocking(true)?;
    ///     let err = listener.accept().unwrap_err(); // nobody connected
    ///     assert_eq!(err.kind(), ErrorKind::WouldBlock);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Sets the IP time-to-live of connections accepted from now on.
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports (for example `InvalidInput` for a TTL
    /// above 255).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let listener = corio::net::TcpListener::bind("127.0.0.1:0")?;
    ///     listener.set_ttl(100)?;
    ///     assert_eq!(listener.ttl()?, 100);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.source().set_ttl(ttl)
    }

    /// The IP time-to-live; see [`set_ttl`](TcpListener::set_ttl).
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports; practically never.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let listener = corio::net::TcpListener::bind("127.0.0.1:0")?;
    ///     assert!(listener.ttl()? > 0);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.source().ttl()
    }

    /// Sets `IPV6_V6ONLY`, as the deprecated
    /// [`std::net::TcpListener::set_only_v6`]: on a listener that is already
    /// bound, Linux refuses the change.
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports: on a bound socket, `InvalidInput`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// corio::run(|| {
    ///     let listener = corio::net::TcpListener::bind("[::1]:0")?;
    ///     assert!(listener.set_only_v6(true).is_err()); // bound already
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[deprecated(
        since = "0.1.0",
        note = "this option can only be set before the socket is bound"
    )]
    pub fn set_only_v6(&self, only_v6: bool) -> io::Result<()> {
        #[allow(deprecated)]
        self.as_std()?.set_only_v6(only_v6)
    }

    /// Whether `IPV6_V6ONLY` is set, as the deprecated
    /// [`std::net::TcpListener::only_v6`].
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports: `InvalidInput` on an IPv4 socket.
    ///
    /// # Examples
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// corio::run(|| {
    ///     let listener = corio::net::TcpListener::bind("[::1]:0")?;
    ///     let _dual_stack = !listener.only_v6()?; // the system's default
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[deprecated(
        since = "0.1.0",
        note = "this option can only be set before the socket is bound"
    )]
    pub fn only_v6(&self) -> io::Result<bool> {
        #[allow(deprecated)]
        self.as_std()?.only_v6()
    }

    /// A `std::net::TcpListener` on a duplicate of this socket's descriptor
    /// (one open socket, two descriptors), for the options mio does not
    /// offer; dropping it closes only the duplicate.
    fn as_std(&self) -> io::Result<std::net::TcpListener> {
        let fd = self.as_fd().try_clone_to_owned()?;
        Ok(std::net::TcpListener::from(fd))
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
    ///     let listener = corio::net::TcpListener::bind("127.0.0.1:0")?;
    ///     assert!(listener.take_error()?.is_none());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.source().take_error()
    }

    /// Turns a `std::net::TcpListener` into a corio one: the socket is made
    /// non-blocking and registered with the current runtime. Its backlog is
    /// left as it was.
    ///
    /// # Errors
    ///
    /// What `fcntl(2)` or `epoll_ctl(2)` report; practically never.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let addr = std_listener.local_addr()?;
    ///     let listener = corio::net::TcpListener::from_std(std_listener)?;
    ///     assert_eq!(listener.local_addr()?, addr);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        super::require_runtime("TcpListener::from_std");
        listener.set_nonblocking(true)?;
        TcpListener::register(mio::net::TcpListener::from_std(listener))
    }
}

impl TcpListener {
    /// Binds a listener with `SO_REUSEPORT` (and `SO_REUSEADDR`) set before
    /// the bind, so that several listeners, one per runtime, can share one
    /// port: the kernel spreads incoming connections over them, and each
    /// core accepts its own (see
    /// [`runtime::ThreadPerCore`](crate::runtime::ThreadPerCore)). Every
    /// listener on the port must be bound this way, by the same user.
    /// Otherwise as [`TcpListener::bind`], backlog 1024.
    ///
    /// # Errors
    ///
    /// As [`TcpListener::bind`]: `AddrInUse` if the port is held by a
    /// socket bound without `SO_REUSEPORT`.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let a = corio::net::TcpListener::bind_reuse_port("127.0.0.1:0")?;
    ///     let port = a.local_addr()?;
    ///     let b = corio::net::TcpListener::bind_reuse_port(port)?; // same port
    ///     assert_eq!(b.local_addr()?, port);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn bind_reuse_port<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        const WHAT: &str = "TcpListener::bind_reuse_port";
        super::require_runtime(WHAT);
        each_addr(WHAT, addr, |addr| {
            TcpListener::from_std(reuse_port_listener(addr)?)
        })
    }
}

/// A listening socket on `addr` with `SO_REUSEADDR` and `SO_REUSEPORT` set
/// before its bind (std and mio offer no way to set them that early).
fn reuse_port_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    /// `rc`, or the OS error if it is -1.
    fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
        if rc == -1 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc)
        }
    }
    let domain = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let kind = libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    // SAFETY: socket(2) takes integers and touches no memory of ours.
    let fd = check(unsafe { libc::socket(domain, kind, 0) })?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by no one
    // else; from here on `OwnedFd` closes it on every path.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    for option in [libc::SO_REUSEADDR, libc::SO_REUSEPORT] {
        // SAFETY: the value pointer and length describe `one`, a live
        // `c_int`; `fd` is open (owned above).
        check(unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                option,
                std::ptr::from_ref(&one).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        })?;
    }
    let (storage, len) = socket_address(addr);
    // SAFETY: `storage` holds a `sockaddr_in` or `sockaddr_in6` of `len`
    // bytes, as bind(2) expects for the socket's family.
    check(unsafe { libc::bind(fd.as_raw_fd(), std::ptr::from_ref(&storage).cast(), len) })?;
    set_backlog(fd.as_fd(), BACKLOG)?;
    Ok(std::net::TcpListener::from(fd))
}

/// `addr` as the C socket address bind(2) takes, and its length.
fn socket_address(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: `sockaddr_storage` is a plain C struct, valid all zeroes.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: `sockaddr_storage` is larger than and aligned for any
            // socket address, so it can hold a `sockaddr_in`.
            unsafe { std::ptr::write(std::ptr::from_mut(&mut storage).cast(), sin) };
            size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for a `sockaddr_in6`.
            unsafe { std::ptr::write(std::ptr::from_mut(&mut storage).cast(), sin6) };
            size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// Sets the backlog of a listening socket (calling `listen(2)` again on a
/// listening socket only changes its backlog on Linux).
fn set_backlog(fd: BorrowedFd<'_>, backlog: libc::c_int) -> io::Result<()> {
    // SAFETY: listen(2) takes two integers and touches no memory of ours;
    // `fd` is borrowed, so it is open for the duration of the call.
    let rc = unsafe { libc::listen(fd.as_raw_fd(), backlog) };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.source().as_raw_fd()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.source().as_fd()
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpListener");
        if let Ok(addr) = self.local_addr() {
            d.field("addr", &addr);
        }
        d.field("fd", &self.as_raw_fd()).finish()
    }
}

/// The iterator returned by [`TcpListener::incoming`]: accepts connections
/// forever.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let listener = corio::net::TcpListener::bind("127.0.0.1:0")?;
///     let incoming: corio::net::Incoming<'_> = listener.incoming();
///     # drop(incoming);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Incoming<'a> {
    /// The listener `next` accepts from.
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(stream, _)| stream))
    }
}
