//! `UnixListener`: accepting Unix domain stream connections without
//! blocking the thread.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net as std_net;
use std::path::Path;

use mio::Interest;

use super::{Socket, SocketAddr, UnixStream, explain_addr, explain_path, register};
use crate::net::registered::Registered;

/// A Unix domain socket server, listening for connections;
/// `std::os::unix::net::UnixListener` for coroutines.
///
/// [`accept`](UnixListener::accept) suspends the calling coroutine, not
/// the thread, until a client connects. As with std, dropping the listener
/// does not remove its socket file: remove it yourself (or use an abstract
/// name) before binding the same path again. A listener belongs to the
/// runtime that created it and is not `Send`:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<corio::os::unix::net::UnixListener>();
/// ```
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use corio::os::unix::net::{UnixListener, UnixStream};
///
/// corio::run(|| {
///     let dir = std::env::temp_dir().join(format!("corio-doc-listener-{}", std::process::id()));
///     std::fs::create_dir_all(&dir)?;
///     let path = dir.join("echo.sock");
///     # let _ = std::fs::remove_file(&path);
///     let listener = UnixListener::bind(&path)?;
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
///     let mut client = UnixStream::connect(&path)?;
///     client.write_all(b"ping")?;
///     let mut echo = [0; 4];
///     client.read_exact(&mut echo)?;
///     assert_eq!(&echo, b"ping");
///     std::fs::remove_dir_all(&dir)
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixListener {
    /// std's listening socket, non-blocking, registered with its runtime.
    inner: Registered<Socket<std_net::UnixListener>>,
}

impl UnixListener {
    /// Creates a listener bound to `path`, like std's `UnixListener::bind`:
    /// the socket file is created there.
    ///
    /// # Errors
    ///
    /// std's: `AddrInUse` if anything exists at `path` (a stale socket file
    /// of an earlier run, too), `InvalidInput` for a path too long for
    /// `sun_path` or containing a NUL byte, `NotFound` when its directory
    /// does not exist; each message names the path and what to do.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    /// use corio::os::unix::net::UnixListener;
    ///
    /// corio::run(|| {
    ///     let dir = std::env::temp_dir().join(format!("corio-doc-bind-{}", std::process::id()));
    ///     std::fs::create_dir_all(&dir)?;
    ///     let path = dir.join("sock");
    ///     # let _ = std::fs::remove_file(&path);
    ///     let listener = UnixListener::bind(&path)?;
    ///     let taken = UnixListener::bind(&path).unwrap_err();
    ///     assert_eq!(taken.kind(), ErrorKind::AddrInUse);
    ///     let too_long = UnixListener::bind(dir.join("x".repeat(200))).unwrap_err();
    ///     assert_eq!(too_long.kind(), ErrorKind::InvalidInput);
    ///     # drop(listener);
    ///     std::fs::remove_dir_all(&dir)
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        const WHAT: &str = "UnixListener::bind";
        crate::net::require_runtime(WHAT);
        let path = path.as_ref();
        let listener =
            std_net::UnixListener::bind(path).map_err(|e| explain_path(WHAT, path, e))?;
        UnixListener::wrap(WHAT, listener)
    }

    /// Creates a listener bound to `addr` (a path or, on Linux, an
    /// abstract name), like std's `UnixListener::bind_addr`.
    ///
    /// # Errors
    ///
    /// As [`bind`](UnixListener::bind); `AddrInUse` also for an abstract
    /// name that is taken.
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
    /// use corio::os::unix::net::{SocketAddr, UnixListener};
    ///
    /// corio::run(|| {
    ///     let name = format!("corio-doc-bind-addr-{}", std::process::id());
    ///     let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
    ///     let listener = UnixListener::bind_addr(&addr)?;
    ///     assert_eq!(listener.local_addr()?.as_abstract_name(), Some(name.as_bytes()));
    ///     let taken = UnixListener::bind_addr(&addr).unwrap_err();
    ///     assert_eq!(taken.kind(), std::io::ErrorKind::AddrInUse);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        const WHAT: &str = "UnixListener::bind_addr";
        crate::net::require_runtime(WHAT);
        let listener =
            std_net::UnixListener::bind_addr(addr).map_err(|e| explain_addr(WHAT, addr, e))?;
        UnixListener::wrap(WHAT, listener)
    }

    /// Makes a std listener non-blocking and registers it.
    fn wrap(what: &str, listener: std_net::UnixListener) -> io::Result<UnixListener> {
        listener.set_nonblocking(true)?;
        Ok(UnixListener {
            inner: register(what, listener)?,
        })
    }

    /// Turns a `std::os::unix::net::UnixListener` into a corio one: the
    /// socket is made non-blocking and registered with the current runtime.
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
    /// # #[cfg(target_os = "linux")] {
    /// use std::os::linux::net::SocketAddrExt;
    /// use corio::os::unix::net::{SocketAddr, UnixListener};
    ///
    /// corio::run(|| {
    ///     let name = format!("corio-doc-from-std-{}", std::process::id());
    ///     let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
    ///     let listener = UnixListener::from_std(std::os::unix::net::UnixListener::bind_addr(&addr)?)?;
    ///     assert_eq!(listener.local_addr()?.as_abstract_name(), Some(name.as_bytes()));
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn from_std(listener: std_net::UnixListener) -> io::Result<UnixListener> {
        const WHAT: &str = "UnixListener::from_std";
        crate::net::require_runtime(WHAT);
        UnixListener::wrap(WHAT, listener)
    }

    /// Waits for a connection and returns it with the client's address
    /// (usually unnamed), like std's `UnixListener::accept`.
    ///
    /// Suspends the calling coroutine (not the thread) until a client
    /// connects; a connection that is already queued returns at once.
    ///
    /// # Errors
    ///
    /// What `accept(2)` reports, as with std; `WouldBlock` in non-blocking
    /// mode when nobody is waiting. Out of descriptors (`EMFILE`), the
    /// connection stays queued: accept again once descriptors are free.
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
    /// use corio::os::unix::net::{SocketAddr, UnixListener, UnixStream};
    ///
    /// corio::run(|| {
    ///     let name = format!("corio-doc-accept-{}", std::process::id());
    ///     let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
    ///     let listener = UnixListener::bind_addr(&addr)?;
    ///     let client = UnixStream::connect_addr(&addr)?;
    ///     let (server_side, peer) = listener.accept()?;
    ///     assert!(peer.is_unnamed()); // the client did not bind a name
    ///     assert_eq!(server_side.local_addr()?.as_abstract_name(), Some(name.as_bytes()));
    ///     # drop(client);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        const WHAT: &str = "UnixListener::accept";
        let (stream, peer) = self
            .inner
            .io(WHAT, Interest::READABLE, None, |s| s.0.accept())?;
        // On Linux an accepted socket does not inherit `O_NONBLOCK`;
        // `wrap` sets it.
        Ok((UnixStream::wrap(WHAT, stream)?, peer))
    }

    /// An endless iterator over incoming connections: each `next` calls
    /// [`accept`](UnixListener::accept) and yields its result, without the
    /// address. It never returns `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use std::os::linux::net::SocketAddrExt;
    /// use corio::os::unix::net::{SocketAddr, UnixListener, UnixStream};
    ///
    /// corio::run(|| {
    ///     let name = format!("corio-doc-incoming-{}", std::process::id());
    ///     let addr = SocketAddr::from_abstract_name(name.as_bytes())?;
    ///     let listener = UnixListener::bind_addr(&addr)?;
    ///     let clients: Vec<_> = (0..3).map(|_| UnixStream::connect_addr(&addr)).collect();
    ///     let accepted = listener.incoming().take(3).filter(|s| s.is_ok()).count();
    ///     assert_eq!(accepted, 3);
    ///     # drop(clients);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// Another handle to the same listening socket (a duplicated
    /// descriptor, registered on its own, sharing the blocking mode).
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
    /// # #[cfg(target_os = "linux")] {
    /// use std::os::linux::net::SocketAddrExt;
    /// use corio::os::unix::net::{SocketAddr, UnixListener};
    ///
    /// corio::run(|| {
    ///     let name = format!("corio-doc-listener-clone-{}", std::process::id());
    ///     let listener = UnixListener::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes())?)?;
    ///     let clone = listener.try_clone()?;
    ///     assert_eq!(clone.local_addr()?.as_abstract_name(), Some(name.as_bytes()));
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        let clone = self.inner.source().try_clone()?;
        Ok(UnixListener {
            inner: Registered::new_clone_of("UnixListener::try_clone", Socket(clone), &self.inner)?,
        })
    }

    /// The address the listener is bound to.
    ///
    /// # Errors
    ///
    /// What `getsockname(2)` reports; practically never.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use std::os::linux::net::SocketAddrExt;
    /// use corio::os::unix::net::{SocketAddr, UnixListener};
    ///
    /// corio::run(|| {
    ///     let name = format!("corio-doc-listener-addr-{}", std::process::id());
    ///     let listener = UnixListener::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes())?)?;
    ///     assert!(listener.local_addr()?.as_pathname().is_none());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.source().local_addr()
    }

    /// Sets whether `accept` returns `ErrorKind::WouldBlock` instead of
    /// suspending the coroutine when no connection is waiting, like std's
    /// `set_nonblocking`. Shared with this listener's clones; streams it
    /// accepts start in blocking mode, as std's do.
    ///
    /// # Errors
    ///
    /// Never fails; the `Result` mirrors std.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[cfg(target_os = "linux")] {
    /// use std::io::ErrorKind;
    /// use std::os::linux::net::SocketAddrExt;
    /// use corio::os::unix::net::{SocketAddr, UnixListener};
    ///
    /// corio::run(|| {
    ///     let name = format!("corio-doc-listener-nb-{}", std::process::id());
    ///     let listener = UnixListener::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes())?)?;
    ///     listener.set_nonblocking(true)?;
    ///     assert_eq!(listener.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # }
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
    /// # #[cfg(target_os = "linux")] {
    /// use std::os::linux::net::SocketAddrExt;
    /// use corio::os::unix::net::{SocketAddr, UnixListener};
    ///
    /// corio::run(|| {
    ///     let name = format!("corio-doc-listener-err-{}", std::process::id());
    ///     let listener = UnixListener::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes())?)?;
    ///     assert!(listener.take_error()?.is_none());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.source().take_error()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.source().as_raw_fd()
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.source().as_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("UnixListener");
        d.field("fd", &self.as_raw_fd());
        if let Ok(addr) = self.local_addr() {
            d.field("local", &addr);
        }
        d.finish()
    }
}

impl<'a> IntoIterator for &'a UnixListener {
    type Item = io::Result<UnixStream>;
    type IntoIter = Incoming<'a>;

    fn into_iter(self) -> Incoming<'a> {
        self.incoming()
    }
}

/// The iterator returned by [`UnixListener::incoming`]: accepts
/// connections forever.
///
/// # Examples
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// use std::os::linux::net::SocketAddrExt;
/// use corio::os::unix::net::{Incoming, SocketAddr, UnixListener};
///
/// corio::run(|| {
///     let name = format!("corio-doc-incoming-type-{}", std::process::id());
///     let listener = UnixListener::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes())?)?;
///     let incoming: Incoming<'_> = listener.incoming();
///     # drop(incoming);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Incoming<'a> {
    /// The listener `next` accepts from.
    listener: &'a UnixListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<UnixStream>;

    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(stream, _)| stream))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (usize::MAX, None)
    }
}

impl std::iter::FusedIterator for Incoming<'_> {}
