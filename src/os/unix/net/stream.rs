//! `UnixStream`: a Unix domain stream socket whose reads and writes suspend
//! the calling coroutine instead of blocking the thread.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net as std_net;
use std::path::Path;
use std::time::Duration;

use mio::Interest;

use super::{Socket, SocketAddr, explain_addr, explain_path, register, retry};
use crate::net::registered::Registered;

/// A Unix domain stream socket; `std::os::unix::net::UnixStream` for
/// coroutines.
///
/// Reads and writes look blocking to the coroutine that makes them; while
/// one waits, the runtime runs the others. It implements [`Read`] and
/// [`Write`], also for `&UnixStream`. A stream belongs to the runtime that
/// created it and is not `Send`:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<corio::os::unix::net::UnixStream>();
/// ```
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use corio::os::unix::net::UnixStream;
///
/// corio::run(|| {
///     let (mut a, mut b) = UnixStream::pair()?;
///     let echo = corio::spawn(move || -> std::io::Result<()> {
///         let mut buf = [0; 4];
///         b.read_exact(&mut buf)?; // suspends this coroutine only
///         b.write_all(&buf)
///     });
///     a.write_all(b"ping")?;
///     let mut got = [0; 4];
///     a.read_exact(&mut got)?;
///     assert_eq!(&got, b"ping");
///     echo.join().unwrap()
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixStream {
    /// std's socket, non-blocking, registered with its runtime; it also
    /// keeps the blocking mode, shutdowns and timeouts that clones share.
    inner: Registered<Socket<std_net::UnixStream>>,
}

impl UnixStream {
    /// Connects to the socket bound at `path`, like std's
    /// `UnixStream::connect`.
    ///
    /// # Errors
    ///
    /// std's: `NotFound` when nothing is at `path`, `ConnectionRefused`
    /// when nobody listens there, `InvalidInput` for a path too long for
    /// `sun_path`; each message names the path and what to do.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio coroutine.
    ///
    /// # Coroutines
    ///
    /// When the listener's backlog is full, std's call blocks the thread
    /// until there is room; the kernel gives no readiness event for that,
    /// so corio's suspends the caller and retries after a short sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use corio::os::unix::net::{UnixListener, UnixStream};
    ///
    /// corio::run(|| {
    ///     let dir = std::env::temp_dir().join(format!("corio-doc-connect-{}", std::process::id()));
    ///     std::fs::create_dir_all(&dir)?;
    ///     let path = dir.join("sock");
    ///     # let _ = std::fs::remove_file(&path);
    ///     let listener = UnixListener::bind(&path)?;
    ///     let stream = UnixStream::connect(&path)?;
    ///     assert_eq!(stream.peer_addr()?.as_pathname(), Some(path.as_path()));
    ///     let missing = UnixStream::connect(dir.join("nobody")).unwrap_err();
    ///     assert_eq!(missing.kind(), ErrorKind::NotFound);
    ///     # drop((stream, listener));
    ///     std::fs::remove_dir_all(&dir)
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        const WHAT: &str = "UnixStream::connect";
        crate::net::require_runtime(WHAT);
        let path = path.as_ref();
        let addr = SocketAddr::from_pathname(path).map_err(|e| explain_path(WHAT, path, e))?;
        connect_by(WHAT, &addr).map_err(|e| explain_path(WHAT, path, e))
    }

    /// Connects to the socket at `addr` (a path or, on Linux, an abstract
    /// name), like std's `UnixStream::connect_addr`.
    ///
    /// # Errors
    ///
    /// As [`connect`](UnixStream::connect).
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio coroutine.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::os::unix::net::{UnixListener, UnixStream};
    ///
    /// corio::run(|| {
    ///     let dir = std::env::temp_dir().join(format!("corio-doc-caddr-{}", std::process::id()));
    ///     std::fs::create_dir_all(&dir)?;
    ///     # let _ = std::fs::remove_file(dir.join("sock"));
    ///     let listener = UnixListener::bind(dir.join("sock"))?;
    ///     let stream = UnixStream::connect_addr(&listener.local_addr()?)?;
    ///     let (server_side, _) = listener.accept()?;
    ///     assert_eq!(server_side.local_addr()?.as_pathname(), Some(dir.join("sock").as_path()));
    ///     # drop((stream, server_side, listener));
    ///     std::fs::remove_dir_all(&dir)
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        const WHAT: &str = "UnixStream::connect_addr";
        crate::net::require_runtime(WHAT);
        connect_by(WHAT, addr).map_err(|e| explain_addr(WHAT, addr, e))
    }

    /// Two connected streams with no name (`socketpair(2)`), like std's
    /// `UnixStream::pair`.
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
    /// use std::io::{Read, Write};
    /// corio::run(|| {
    ///     let (mut a, mut b) = corio::os::unix::net::UnixStream::pair()?;
    ///     a.write_all(b"x")?;
    ///     drop(a);
    ///     let mut got = Vec::new();
    ///     b.read_to_end(&mut got)?; // ends when `a` is gone
    ///     assert_eq!(got, b"x");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        const WHAT: &str = "UnixStream::pair";
        crate::net::require_runtime(WHAT);
        let (a, b) = std_net::UnixStream::pair()?;
        Ok((UnixStream::wrap(WHAT, a)?, UnixStream::wrap(WHAT, b)?))
    }

    /// Makes a std stream non-blocking and registers it, with fresh
    /// timeouts.
    pub(super) fn wrap(what: &str, stream: std_net::UnixStream) -> io::Result<UnixStream> {
        stream.set_nonblocking(true)?;
        Ok(UnixStream {
            inner: register(what, stream)?,
        })
    }

    /// Turns a connected `std::os::unix::net::UnixStream` into a corio one:
    /// the socket is made non-blocking and registered with the current
    /// runtime. Read and write timeouts set on the std stream carry over.
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
    /// use std::io::{Read, Write};
    /// corio::run(|| {
    ///     let (a, mut b) = std::os::unix::net::UnixStream::pair()?;
    ///     let mut a = corio::os::unix::net::UnixStream::from_std(a)?;
    ///     b.write_all(b"from std")?;
    ///     let mut got = [0; 8];
    ///     a.read_exact(&mut got)?;
    ///     assert_eq!(&got, b"from std");
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn from_std(stream: std_net::UnixStream) -> io::Result<UnixStream> {
        const WHAT: &str = "UnixStream::from_std";
        crate::net::require_runtime(WHAT);
        let (read, write) = (stream.read_timeout()?, stream.write_timeout()?);
        let stream = UnixStream::wrap(WHAT, stream)?;
        stream.inner.set_read_timeout(WHAT, read)?;
        stream.inner.set_write_timeout(WHAT, write)?;
        Ok(stream)
    }

    /// Another handle to the same connection: a duplicated descriptor,
    /// registered on its own, sharing this stream's timeouts and blocking
    /// mode. One coroutine can read through one handle while another writes
    /// through the other.
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
    /// use std::io::{Read, Write};
    /// corio::run(|| {
    ///     let (a, mut b) = corio::os::unix::net::UnixStream::pair()?;
    ///     let mut writer = a.try_clone()?;
    ///     let sender = corio::spawn(move || writer.write_all(b"from the clone"));
    ///     let mut got = [0; 14];
    ///     b.read_exact(&mut got)?;
    ///     assert_eq!(&got, b"from the clone");
    ///     sender.join().unwrap()
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        let clone = self.inner.source().try_clone()?;
        Ok(UnixStream {
            inner: Registered::new_clone_of("UnixStream::try_clone", Socket(clone), &self.inner)?,
        })
    }

    /// The address of this end of the connection (unnamed for a client or
    /// a [`pair`](UnixStream::pair)).
    ///
    /// # Errors
    ///
    /// What `getsockname(2)` reports; practically never.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let (a, _b) = corio::os::unix::net::UnixStream::pair()?;
    ///     assert!(a.local_addr()?.is_unnamed());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.source().local_addr()
    }

    /// The address of the other end of the connection.
    ///
    /// # Errors
    ///
    /// What `getpeername(2)` reports, `NotConnected` if the connection is
    /// gone.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let (a, _b) = corio::os::unix::net::UnixStream::pair()?;
    ///     assert!(a.peer_addr()?.is_unnamed());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.source().peer_addr()
    }

    /// Limits how long one read may wait; `None` waits as long as it takes.
    /// A read that runs out of time returns `ErrorKind::WouldBlock` (as
    /// std's on Unix; the message says it was the timeout), and the other
    /// coroutines keep running meanwhile. Shared with this stream's clones.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    /// use std::time::Duration;
    ///
    /// corio::run(|| {
    ///     let (mut a, _b) = corio::os::unix::net::UnixStream::pair()?;
    ///     a.set_read_timeout(Some(Duration::from_millis(10)))?;
    ///     let err = a.read(&mut [0; 8]).unwrap_err(); // nobody writes
    ///     assert_eq!(err.kind(), ErrorKind::WouldBlock);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner
            .set_read_timeout("UnixStream::set_read_timeout", timeout)
    }

    /// Limits how long one write may wait for room; `None` waits as long as
    /// it takes. A write that runs out of time returns
    /// `ErrorKind::WouldBlock`, as std's on Unix. Shared with this stream's
    /// clones.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Write};
    /// use std::time::Duration;
    ///
    /// corio::run(|| {
    ///     let (mut a, _b) = corio::os::unix::net::UnixStream::pair()?;
    ///     a.set_write_timeout(Some(Duration::from_millis(10)))?;
    ///     // Nobody reads: the buffers fill up and a write times out.
    ///     let err = loop {
    ///         if let Err(e) = a.write(&[0; 64 * 1024]) {
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
            .set_write_timeout("UnixStream::set_write_timeout", timeout)
    }

    /// The read timeout; see [`set_read_timeout`](UnixStream::set_read_timeout).
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
    ///     let (a, _b) = corio::os::unix::net::UnixStream::pair()?;
    ///     assert_eq!(a.read_timeout()?, None);
    ///     a.set_read_timeout(Some(Duration::from_secs(1)))?;
    ///     assert_eq!(a.try_clone()?.read_timeout()?, Some(Duration::from_secs(1)));
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.read_timeout())
    }

    /// The write timeout; see [`set_write_timeout`](UnixStream::set_write_timeout).
    ///
    /// # Errors
    ///
    /// Never fails; the `Result` mirrors std.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let (a, _b) = corio::os::unix::net::UnixStream::pair()?;
    ///     assert_eq!(a.write_timeout()?, None);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.write_timeout())
    }

    /// Sets whether reads and writes that would wait return
    /// `ErrorKind::WouldBlock` instead of suspending the coroutine, like
    /// std's `set_nonblocking`. Shared with this stream's clones.
    ///
    /// # Errors
    ///
    /// Never fails; the `Result` mirrors std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    /// corio::run(|| {
    ///     let (mut a, _b) = corio::os::unix::net::UnixStream::pair()?;
    ///     a.set_nonblocking(true)?;
    ///     assert_eq!(a.read(&mut [0; 8]).unwrap_err().kind(), ErrorKind::WouldBlock);
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
    ///     let (a, _b) = corio::os::unix::net::UnixStream::pair()?;
    ///     assert!(a.take_error()?.is_none());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.source().take_error()
    }

    /// Shuts down the read half, the write half or both, like std. After
    /// `Shutdown::Write` the peer reads end-of-file once it has read what
    /// was sent.
    ///
    /// # Errors
    ///
    /// What `shutdown(2)` reports, `NotConnected` if the connection is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::net::Shutdown;
    /// corio::run(|| {
    ///     let (a, mut b) = corio::os::unix::net::UnixStream::pair()?;
    ///     a.shutdown(Shutdown::Write)?;
    ///     assert_eq!(b.read(&mut [0; 8])?, 0); // end of file
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.inner.shutdown(how, |s| s.0.shutdown(how))
    }
}

/// Connects a new non-blocking socket to `addr`, retrying after a short
/// sleep while the listener's backlog is full (`EAGAIN`, for which the
/// kernel sends no readiness event).
fn connect_by(what: &str, addr: &SocketAddr) -> io::Result<UnixStream> {
    let stream = retry(what, false, None, || {
        mio::net::UnixStream::connect_addr(addr)
    })?;
    // mio's socket is std's, already non-blocking; take it back.
    UnixStream::wrap(what, std_net::UnixStream::from(stream))
}

impl Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let deadline = self.inner.read_deadline();
        let asked = buf.len();
        self.inner.io_drains(
            "UnixStream::read",
            Interest::READABLE,
            deadline,
            |s| (&s.0).read(buf),
            |&n| 0 < n && n < asked,
        )
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        let deadline = self.inner.read_deadline();
        self.inner.io(
            "UnixStream::read_vectored",
            Interest::READABLE,
            deadline,
            |s| (&s.0).read_vectored(bufs),
        )
    }
}

impl Write for &UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let deadline = self.inner.write_deadline();
        self.inner
            .io("UnixStream::write", Interest::WRITABLE, deadline, |s| {
                (&s.0).write(buf)
            })
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let deadline = self.inner.write_deadline();
        self.inner.io(
            "UnixStream::write_vectored",
            Interest::WRITABLE,
            deadline,
            |s| (&s.0).write_vectored(bufs),
        )
    }

    /// A socket keeps no buffer in user space: nothing to flush.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Write for UnixStream {
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

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.source().as_raw_fd()
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.source().as_fd()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UnixStream");
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
