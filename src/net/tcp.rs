//! `TcpStream`: a TCP connection whose reads and writes suspend the calling
//! coroutine instead of blocking the thread.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::time::{Duration, Instant};

use mio::Interest;

use super::ToSocketAddrs;
use super::each_addr;
use super::registered::Registered;

mod options;

/// A TCP connection; `std::net::TcpStream` for coroutines.
///
/// Reads and writes look blocking to the coroutine that makes them; while
/// one waits, the runtime runs the others. It implements [`Read`] and
/// [`Write`], also for `&TcpStream`, so `BufReader`, `read_to_end`,
/// `write_all` and `lines()` work unchanged. To read in one coroutine and
/// write in another, give one of them a [`try_clone`](TcpStream::try_clone).
///
/// A stream belongs to the runtime that created it and is not `Send`:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<corio::net::TcpStream>();
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
///     let mut client = TcpStream::connect(listener.local_addr()?)?;
///     let (mut server, _) = listener.accept()?;
///     client.write_all(b"hello")?;
///     client.shutdown(std::net::Shutdown::Write)?;
///     let mut got = String::new();
///     server.read_to_string(&mut got)?; // reads until the client's shutdown
///     assert_eq!(got, "hello");
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpStream {
    /// The non-blocking socket, registered with its runtime; it also keeps
    /// the blocking mode, shutdowns and timeouts that clones share.
    inner: Registered<mio::net::TcpStream>,
}

impl TcpStream {
    /// Opens a TCP connection to `addr`, like `std::net::TcpStream::connect`.
    ///
    /// If `addr` yields several addresses, each is tried in turn until one
    /// connects. The calling coroutine suspends while the handshake runs.
    ///
    /// # Errors
    ///
    /// The error of the last address tried, with std's kinds:
    /// `ErrorKind::ConnectionRefused` when nothing listens there,
    /// `InvalidInput` when `addr` resolves to no address, and so on.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio coroutine.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use corio::net::{TcpListener, TcpStream};
    ///
    /// corio::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let addr = listener.local_addr()?;
    ///     let stream = TcpStream::connect(addr)?;
    ///     assert_eq!(stream.peer_addr()?, addr);
    ///
    ///     drop((stream, listener)); // nobody listens there any more
    ///     let err = TcpStream::connect(addr).unwrap_err();
    ///     assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        super::require_runtime("TcpStream::connect");
        each_addr("TcpStream::connect", addr, |addr| {
            connect_by(addr, None, "TcpStream::connect")
        })
    }

    /// Opens a TCP connection to `addr`, giving up after `timeout`, like
    /// `std::net::TcpStream::connect_timeout`.
    ///
    /// # Errors
    ///
    /// - `ErrorKind::TimedOut` if the handshake has not finished in time.
    /// - `ErrorKind::InvalidInput` for a zero `timeout`, as std.
    /// - Otherwise as [`connect`](TcpStream::connect).
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio coroutine.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use corio::net::{TcpListener, TcpStream};
    ///
    /// corio::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let addr = listener.local_addr()?;
    ///     let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    ///     assert_eq!(stream.peer_addr()?, addr);
    ///     let err = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        super::require_runtime("TcpStream::connect_timeout");
        const WHAT: &str = "TcpStream::connect_timeout";
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{WHAT}: a zero timeout is not allowed; use TcpStream::connect to wait without a limit"
                ),
            ));
        }
        connect_by(*addr, super::deadline_after(timeout), WHAT).map_err(|e| {
            // The only `WouldBlock` out of a blocking connect is its passed
            // deadline; std calls that `TimedOut` for a connect.
            if e.kind() != io::ErrorKind::WouldBlock {
                return e;
            }
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "{WHAT}: no connection to {addr} within {timeout:?}; check that the \
                     server is up and reachable, or allow more time"
                ),
            )
        })
    }

    /// Wraps a connected mio stream, registering it with the current runtime.
    pub(crate) fn from_mio(what: &str, stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream {
            inner: Registered::new(what, stream)?,
        })
    }

    /// The local address of the connection.
    ///
    /// # Errors
    ///
    /// What `getsockname(2)` reports; practically never.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::net::{TcpListener, TcpStream};
    ///
    /// corio::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let stream = TcpStream::connect(listener.local_addr()?)?;
    ///     assert!(stream.local_addr()?.ip().is_loopback());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.source().local_addr()
    }

    /// The address of the peer.
    ///
    /// # Errors
    ///
    /// `ErrorKind::NotConnected` if the connection is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::net::{TcpListener, TcpStream};
    ///
    /// corio::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let stream = TcpStream::connect(listener.local_addr()?)?;
    ///     assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.source().peer_addr()
    }

    /// Another handle to the same connection: a duplicated descriptor,
    /// registered on its own, sharing this stream's blocking mode,
    /// shutdowns and timeouts. One coroutine can read through one handle
    /// while another writes through the other.
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
    /// use std::io::{Read, Write};
    /// use corio::net::{TcpListener, TcpStream};
    ///
    /// corio::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let client = TcpStream::connect(listener.local_addr()?)?;
    ///     let (mut server, _) = listener.accept()?;
    ///     let mut writer = client.try_clone()?;
    ///     let sender = corio::spawn(move || writer.write_all(b"from the clone"));
    ///     let mut got = [0; 14];
    ///     server.read_exact(&mut got)?;
    ///     assert_eq!(&got, b"from the clone");
    ///     sender.join().unwrap()
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        let fd = self.inner.source().as_fd().try_clone_to_owned()?;
        let stream = mio::net::TcpStream::from_std(fd.into());
        Ok(TcpStream {
            inner: Registered::new_clone_of("TcpStream::try_clone", stream, &self.inner)?,
        })
    }

    /// Sets whether reads and writes that would wait return
    /// `ErrorKind::WouldBlock` instead of suspending the coroutine, like
    /// `std::net::TcpStream::set_nonblocking`. The mode is shared with this
    /// stream's [`try_clone`](TcpStream::try_clone)s, as std's is.
    ///
    /// # Errors
    ///
    /// Never fails; the `Result` mirrors std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    /// use corio::net::{TcpListener, TcpStream};
    ///
    /// corio::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let mut stream = TcpStream::connect(listener.local_addr()?)?;
    ///     stream.set_nonblocking(true)?;
    ///     let err = stream.read(&mut [0; 8]).unwrap_err(); // nothing sent yet
    ///     assert_eq!(err.kind(), ErrorKind::WouldBlock);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.inner.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Shuts down the read half, the write half or both, like std. After
    /// `Shutdown::Write` the peer reads end-of-file once it has read what
    /// was sent.
    ///
    /// # Errors
    ///
    /// `ErrorKind::NotConnected` if the connection is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::net::Shutdown;
    /// use corio::net::{TcpListener, TcpStream};
    ///
    /// corio::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let client = TcpStream::connect(listener.local_addr()?)?;
    ///     let (mut server, _) = listener.accept()?;
    ///     client.shutdown(Shutdown::Write)?;
    ///     assert_eq!(server.read(&mut [0; 8])?, 0); // end of file
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.shutdown(how, |s| s.shutdown(how))
    }

    /// Reads what has arrived without taking it from the socket: the next
    /// read returns the same bytes. Waits, like a read, until some data or
    /// end-of-file arrives (bounded by the read timeout).
    ///
    /// # Errors
    ///
    /// As [`read`](Read::read).
    ///
    /// # Panics
    ///
    /// Panics if it has to wait and is not called from a corio coroutine.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use corio::net::{TcpListener, TcpStream};
    ///
    /// corio::run(|| {
    ///     let listener = TcpListener::bind("127.0.0.1:0")?;
    ///     let mut client = TcpStream::connect(listener.local_addr()?)?;
    ///     let (mut server, _) = listener.accept()?;
    ///     client.write_all(b"abc")?;
    ///     let mut buf = [0; 3];
    ///     assert_eq!(server.peek(&mut buf)?, 3);
    ///     server.read_exact(&mut buf)?; // still there
    ///     assert_eq!(&buf, b"abc");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = self.inner.read_deadline();
        self.inner
            .io("TcpStream::peek", Interest::READABLE, deadline, |s| {
                s.peek(buf)
            })
    }

    /// Turns a connected `std::net::TcpStream` into a corio one: the socket
    /// is made non-blocking and registered with the current runtime. Read
    /// and write timeouts set on the std stream carry over.
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
    /// use corio::net::{TcpListener, TcpStream};
    ///
    /// corio::run(|| {
    ///     let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    ///     let std_stream = std::net::TcpStream::connect(std_listener.local_addr()?)?;
    ///     let stream = TcpStream::from_std(std_stream)?;
    ///     assert_eq!(stream.peer_addr()?, std_listener.local_addr()?);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        const WHAT: &str = "TcpStream::from_std";
        super::require_runtime(WHAT);
        let (read, write) = (stream.read_timeout()?, stream.write_timeout()?);
        stream.set_nonblocking(true)?;
        let inner = Registered::new(WHAT, mio::net::TcpStream::from_std(stream))?;
        inner.set_read_timeout(WHAT, read)?;
        inner.set_write_timeout(WHAT, write)?;
        Ok(TcpStream { inner })
    }
}

/// Connects to one address: a non-blocking `connect(2)`, then a wait until
/// the socket is writable, which is when the handshake has ended one way or
/// the other.
///
/// Whether it has ended, and how, takes one system call on success:
/// `getpeername` answers for a connected socket; only when it says "not
/// connected" does `SO_ERROR` tell a failed handshake (refused,
/// unreachable) from one still under way.
fn connect_by(addr: SocketAddr, deadline: Option<Instant>, what: &str) -> io::Result<TcpStream> {
    let stream = TcpStream::from_mio(what, mio::net::TcpStream::connect(addr)?)?;
    stream.inner.io(what, Interest::WRITABLE, deadline, |s| {
        match s.peer_addr() {
            Ok(_) => Ok(()),
            Err(e)
                if e.kind() == io::ErrorKind::NotConnected
                    || e.raw_os_error() == Some(libc::EINPROGRESS) =>
            {
                match s.take_error()? {
                    // A refused or unreachable peer leaves its error here.
                    Some(e) => Err(e),
                    // Still in the handshake: wait for the next edge.
                    None => Err(io::ErrorKind::WouldBlock.into()),
                }
            }
            Err(e) => Err(e),
        }
    })?;
    Ok(stream)
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = self.inner.read_deadline();
        let asked = buf.len();
        self.inner.io_drains(
            "TcpStream::read",
            Interest::READABLE,
            deadline,
            |s| super::sys::recv(s, buf),
            |&n| 0 < n && n < asked,
        )
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let deadline = self.inner.read_deadline();
        self.inner.io(
            "TcpStream::read_vectored",
            Interest::READABLE,
            deadline,
            |mut s| s.read_vectored(bufs),
        )
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let deadline = self.inner.write_deadline();
        self.inner
            .io("TcpStream::write", Interest::WRITABLE, deadline, |s| {
                super::sys::send(s, buf)
            })
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let deadline = self.inner.write_deadline();
        self.inner.io(
            "TcpStream::write_vectored",
            Interest::WRITABLE,
            deadline,
            |mut s| s.write_vectored(bufs),
        )
    }

    /// TCP keeps no buffer in user space: nothing to flush.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self).flush()
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.source().as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.source().as_fd()
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TcpStream");
        if let Ok(addr) = self.local_addr() {
            d.field("addr", &addr);
        }
        if let Ok(peer) = self.peer_addr() {
            d.field("peer", &peer);
        }
        d.field("fd", &self.as_raw_fd()).finish()
    }
}
