//! A mio socket registered with the runtime that created it: the one place
//! where `corio::net` meets the scheduler.
//!
//! Every operation of `TcpListener`, `TcpStream` and `UdpSocket` (and of
//! `os::unix::net`'s sockets, which share this door) goes through
//! [`Registered::io`]: unless the socket is known not to be ready,
//! try the system call; on `WouldBlock`, wait through the socket's
//! [`IoRegistration`] (the scheduler files the wait with the reactor after
//! the switch) and try again when woken. `net` never touches the reactor
//! itself. The readiness bits and the one-waiter-per-edge rule are
//! explained in `reactor`; the whole read path, step by step, in
//! `docs/architecture.md`.

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::deadline_after;
use crate::scheduler::IoRegistration;

/// What a socket shares with its `try_clone`s, as the descriptors of one
/// open socket share it under std: the blocking mode (`O_NONBLOCK`), the
/// shutdowns and the read and write timeouts (`SO_RCVTIMEO`,
/// `SO_SNDTIMEO`), so that a clone sees what the other set. One `Rc` for
/// all of it: most sockets are never cloned and never change any of it, and
/// then [`Registered::plain`] keeps the hot path from reading it at all.
#[derive(Debug, Default)]
struct Shared {
    /// `set_nonblocking(true)`: an operation that would wait returns
    /// `WouldBlock` instead.
    nonblocking: Cell<bool>,
    /// Which halves were shut down ([`Registered::shutdown`]): reading and
    /// writing. Past a local shutdown the syscall answers at once (end of
    /// file, a broken pipe), but the kernel need not send a readiness edge
    /// for it (a datagram socket's sends none), so the cached "not ready"
    /// must not make a coroutine wait for one.
    shut: Cell<(bool, bool)>,
    /// `None`: reads wait as long as it takes.
    read_timeout: Cell<Option<Duration>>,
    /// `None`: writes wait as long as it takes.
    write_timeout: Cell<Option<Duration>>,
}

impl Shared {
    /// Whether everything is as a new socket has it: blocking, nothing shut
    /// down, no timeouts.
    fn is_default(&self) -> bool {
        !self.nonblocking.get()
            && self.shut.get() == (false, false)
            && self.read_timeout.get().is_none()
            && self.write_timeout.get().is_none()
    }

    /// Whether the half of the socket that `interest` uses was shut down.
    fn is_shut_down(&self, interest: mio::Interest) -> bool {
        let (read, write) = self.shut.get();
        (interest.is_readable() && read) || (interest.is_writable() && write)
    }
}

/// A mio socket registered with the reactor of the runtime that created it.
/// It runs an operation the non-blocking way, and turns its `WouldBlock`
/// into "suspend this coroutine until the socket is ready", which is what
/// makes a corio socket look blocking. It also keeps what the socket shares
/// with its clones (blocking mode, shutdowns, timeouts).
pub(crate) struct Registered<S: mio::event::Source> {
    /// The mio socket (always non-blocking).
    source: S,
    /// Its registration with the reactor of the runtime that created it.
    registration: IoRegistration,
    /// The state this socket shares with its `try_clone`s. Its strong count
    /// says whether a clone is alive (see `Drop`).
    shared: Rc<Shared>,
    /// True only while no clone shares `shared` and `shared` holds nothing
    /// but its defaults: then every read and write can skip `shared`, a
    /// separate heap cell that has gone cold by the time a connection is
    /// served again. Every setter recomputes it; making a clone clears it on
    /// both sockets, since either may change what the other must see, and
    /// only the one that changes it would know. False is always correct,
    /// only slower.
    plain: Cell<bool>,
}

impl<S: mio::event::Source> Registered<S> {
    /// Registers `source` with the current runtime's reactor.
    ///
    /// # Panics
    ///
    /// Panics with a message naming `what` outside a corio runtime.
    #[track_caller]
    pub(crate) fn new(what: &str, mut source: S) -> io::Result<Registered<S>>
    where
        S: std::os::fd::AsRawFd,
    {
        let fd = source.as_raw_fd();
        let registration = IoRegistration::new(what, &mut source, fd)?;
        Ok(Registered {
            source,
            registration,
            shared: Rc::default(),
            plain: Cell::new(true),
        })
    }

    /// Registers `source`, a clone of `like`'s socket, sharing its
    /// blocking mode, shutdowns and timeouts.
    ///
    /// # Panics
    ///
    /// Panics with a message naming `what` outside a corio runtime.
    #[track_caller]
    pub(crate) fn new_clone_of<L: mio::event::Source>(
        what: &str,
        source: S,
        like: &Registered<L>,
    ) -> io::Result<Registered<S>>
    where
        S: std::os::fd::AsRawFd,
    {
        let mut registered = Registered::new(what, source)?;
        registered.shared = Rc::clone(&like.shared);
        registered.plain.set(false);
        like.plain.set(false);
        Ok(registered)
    }

    /// The shared state, or `None` when [`Registered::plain`] says it holds
    /// only defaults: the hot path's one question, answered from this
    /// struct's own line.
    fn shared(&self) -> Option<&Shared> {
        if self.plain.get() {
            None
        } else {
            Some(&self.shared)
        }
    }

    /// Recomputes [`Registered::plain`] after a change to the shared state.
    /// A clone that was alive and is gone leaves a count of one: nobody else
    /// can change the state then, so the flag may be true again.
    fn refresh_plain(&self) {
        self.plain
            .set(Rc::strong_count(&self.shared) == 1 && self.shared.is_default());
    }

    /// Sets whether an operation that would wait returns `WouldBlock`
    /// instead (for this socket and its clones).
    pub(crate) fn set_nonblocking(&self, nonblocking: bool) {
        self.shared.nonblocking.set(nonblocking);
        self.refresh_plain();
    }

    /// Shuts down `how` with `op` (the socket's `shutdown(2)`), then lets
    /// the coroutines waiting on a half that is now shut try again: the
    /// kernel answers them at once, but need not send a readiness edge to
    /// say so (a TCP stream's shutdown wakes its epoll entry; a datagram
    /// socket's does not).
    ///
    /// # Errors
    ///
    /// `op`'s.
    pub(crate) fn shutdown(
        &self,
        how: std::net::Shutdown,
        op: impl FnOnce(&S) -> io::Result<()>,
    ) -> io::Result<()> {
        use std::net::Shutdown;
        op(&self.source)?;
        let (read, write) = self.shared.shut.get();
        let read = read || matches!(how, Shutdown::Read | Shutdown::Both);
        let write = write || matches!(how, Shutdown::Write | Shutdown::Both);
        self.shared.shut.set((read, write));
        self.refresh_plain();
        // Each woken waiter's success wakes the next (`wake_next` below).
        if read {
            self.registration.wake_next(mio::Interest::READABLE);
        }
        if write {
            self.registration.wake_next(mio::Interest::WRITABLE);
        }
        Ok(())
    }

    /// Whether the half of the socket that `interest` uses was shut down
    /// through [`Registered::shutdown`].
    pub(crate) fn is_shut_down(&self, interest: mio::Interest) -> bool {
        self.shared()
            .is_some_and(|shared| shared.is_shut_down(interest))
    }

    /// Whether an operation that would wait returns `WouldBlock` instead
    /// ([`Registered::set_nonblocking`]).
    pub(crate) fn is_nonblocking(&self) -> bool {
        self.shared().is_some_and(|shared| shared.nonblocking.get())
    }

    /// Sets the read timeout (for this socket and its clones), refusing a
    /// zero one as std does; see [`checked_timeout`].
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `Some(Duration::ZERO)`, with a message naming
    /// `what`.
    pub(crate) fn set_read_timeout(&self, what: &str, dur: Option<Duration>) -> io::Result<()> {
        self.shared.read_timeout.set(checked_timeout(what, dur)?);
        self.refresh_plain();
        Ok(())
    }

    /// Sets the write timeout (for this socket and its clones), refusing a
    /// zero one as std does; see [`checked_timeout`].
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `Some(Duration::ZERO)`, with a message naming
    /// `what`.
    pub(crate) fn set_write_timeout(&self, what: &str, dur: Option<Duration>) -> io::Result<()> {
        self.shared.write_timeout.set(checked_timeout(what, dur)?);
        self.refresh_plain();
        Ok(())
    }

    /// The read timeout; `None` for no limit.
    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        self.shared().and_then(|shared| shared.read_timeout.get())
    }

    /// The write timeout; `None` for no limit.
    pub(crate) fn write_timeout(&self) -> Option<Duration> {
        self.shared().and_then(|shared| shared.write_timeout.get())
    }

    /// The instant a read that starts now must end by; `None` for no limit.
    pub(crate) fn read_deadline(&self) -> Option<Instant> {
        self.read_timeout().and_then(deadline_after)
    }

    /// The instant a write that starts now must end by; `None` for no limit.
    pub(crate) fn write_deadline(&self) -> Option<Instant> {
        self.write_timeout().and_then(deadline_after)
    }

    /// The mio socket.
    pub(crate) fn source(&self) -> &S {
        &self.source
    }

    /// Runs `op` until it succeeds or fails with something other than
    /// `WouldBlock` or `Interrupted`; on `WouldBlock`, suspends the calling
    /// coroutine until the socket is ready for `interest` and tries again.
    ///
    /// `deadline` bounds the whole operation: past it, the result is
    /// `ErrorKind::WouldBlock`, what std's sockets give on Unix when a read
    /// or write timeout passes (the kernel's `EAGAIN`), so code that matches
    /// on the kind behaves the same after a port.
    ///
    /// # Errors
    ///
    /// Besides `op`'s own (`WouldBlock` itself, in non-blocking mode):
    /// `WouldBlock` past `deadline`; `Other` when the
    /// socket belongs to another runtime, or when no coroutine can wait here
    /// (the runtime is shutting down, or the caller is the scheduler's own
    /// code), each with a message that says so.
    ///
    /// # Panics
    ///
    /// Panics with a message naming `what` when it must wait outside any
    /// corio runtime.
    #[track_caller]
    pub(crate) fn io<R>(
        &self,
        what: &str,
        interest: mio::Interest,
        deadline: Option<Instant>,
        op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io_drains(what, interest, deadline, op, |_| false)
    }

    /// [`Registered::io`] for a read or write of a stream, where `drained`
    /// says from the result that the kernel's buffer was emptied (read) or
    /// filled (write): fewer bytes moved than asked. The next operation then
    /// waits for the next edge without trying the syscall that would say
    /// `WouldBlock` (see `reactor`).
    #[track_caller]
    pub(crate) fn io_drains<R>(
        &self,
        what: &str,
        interest: mio::Interest,
        deadline: Option<Instant>,
        mut op: impl FnMut(&S) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> io::Result<R> {
        loop {
            // A non-blocking socket always asks the kernel: its caller
            // wants the syscall's answer, not the reactor's guess. Read
            // again on every turn: a clone may have changed either.
            let (nonblocking, shut) = match self.shared() {
                None => (false, false),
                Some(shared) => (shared.nonblocking.get(), shared.is_shut_down(interest)),
            };
            if nonblocking || shut || self.registration.is_ready(interest) {
                match op(&self.source) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.registration.clear_ready(interest);
                        if nonblocking {
                            return Err(e);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    result => {
                        match &result {
                            Ok(r) if drained(r) => self.registration.clear_ready(interest),
                            // There may be more: the next waiter may try.
                            _ => self.registration.wake_next(interest),
                        }
                        return result;
                    }
                }
            }
            if let Some(at) = deadline {
                if crate::scheduler::now() >= at {
                    return Err(timed_out(what));
                }
            }
            // Woken by readiness, by the deadline, or spuriously: in every
            // case the loop tries again and re-checks the deadline.
            self.registration.wait(what, interest, deadline)?;
        }
    }
}

impl<S: mio::event::Source> Drop for Registered<S> {
    /// The socket closes right after this (its `source` field is dropped).
    /// Closing a socket's last descriptor takes it out of epoll, so an
    /// `epoll_ctl(EPOLL_CTL_DEL)` is needed only while a `try_clone` of it
    /// (a `dup` of the same open file) is alive: the clones share
    /// `shared`, so its count says whether one is.
    fn drop(&mut self) {
        if Rc::strong_count(&self.shared) == 1 {
            self.registration.forget_before_close();
        } else {
            self.registration.deregister(&mut self.source);
        }
    }
}

impl<S: mio::event::Source + std::fmt::Debug> std::fmt::Debug for Registered<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.source.fmt(f)
    }
}

/// A timeout as a socket stores it: a zero one is refused, as std does; one
/// too long to end at any representable instant (`Duration::MAX`) is stored
/// as no timeout, which is what std's sockets on Linux do too: the kernel
/// keeps such a timeout as "none", and `read_timeout` then reports `None`.
///
/// # Errors
///
/// `InvalidInput` for `Some(Duration::ZERO)`, with a message naming `what`.
fn checked_timeout(what: &str, dur: Option<Duration>) -> io::Result<Option<Duration>> {
    if dur == Some(Duration::ZERO) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what}: a zero timeout is not allowed; pass None to wait without a limit"),
        ));
    }
    Ok(dur.filter(|&timeout| deadline_after(timeout).is_some()))
}

/// The error of an operation whose timeout passed: `WouldBlock`, as std's
/// sockets give on Unix (`EAGAIN` from a socket with `SO_RCVTIMEO` or
/// `SO_SNDTIMEO`), with a message that says it was the timeout.
pub(crate) fn timed_out(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::WouldBlock,
        format!(
            "{what} timed out: the socket was not ready before the timeout set on it \
             (std's sockets report this as WouldBlock on Unix, and so does corio); \
             retry, or allow more time with set_read_timeout / set_write_timeout"
        ),
    )
}

#[cfg(test)]
mod tests {
    use std::os::fd::{AsFd, OwnedFd};
    use std::time::Duration;

    use super::Registered;

    /// A connected Unix stream registered with the running runtime.
    fn registered(fd: OwnedFd) -> Registered<mio::net::UnixStream> {
        let stream = mio::net::UnixStream::from_std(fd.into());
        Registered::new("test", stream).expect("a fresh socket registers")
    }

    /// The flag is what keeps the hot path off the shared state: up for a
    /// lone socket at its defaults (so the fast path is really taken), down
    /// while anything differs or a clone lives, up again when both are
    /// over.
    #[test]
    fn the_flag_is_up_only_for_a_lone_socket_at_its_defaults() {
        crate::run(|| {
            let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
            a.set_nonblocking(true).unwrap();
            let a = registered(a.into());
            assert!(a.plain.get(), "a new socket");
            a.set_nonblocking(true);
            assert!(!a.plain.get() && a.is_nonblocking());
            a.set_nonblocking(false);
            assert!(a.plain.get(), "blocking again");
            a.set_write_timeout("test", Some(Duration::from_secs(1)))
                .unwrap();
            assert!(!a.plain.get() && a.write_deadline().is_some());
            a.set_write_timeout("test", None).unwrap();
            assert!(a.plain.get() && a.write_deadline().is_none());

            let dup = a.source().as_fd().try_clone_to_owned().unwrap();
            let dup = mio::net::UnixStream::from_std(dup.into());
            let clone = Registered::new_clone_of("test", dup, &a).unwrap();
            assert!(!a.plain.get() && !clone.plain.get(), "a clone lives");
            a.set_read_timeout("test", None).unwrap();
            assert!(!a.plain.get(), "defaults, but the clone could change them");
            drop(clone);
            a.set_read_timeout("test", None).unwrap();
            assert!(a.plain.get(), "alone again at the defaults");

            a.shutdown(std::net::Shutdown::Read, |s| {
                s.shutdown(std::net::Shutdown::Read)
            })
            .unwrap();
            assert!(!a.plain.get() && a.is_shut_down(mio::Interest::READABLE));
        });
    }
}
