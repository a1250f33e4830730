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
use std::time::Instant;

use crate::scheduler::IoRegistration;

/// A mio socket registered with the reactor of the runtime that created it.
/// It runs an operation the non-blocking way, and turns its `WouldBlock`
/// into "suspend this coroutine until the socket is ready", which is what
/// makes a corio socket look blocking.
pub(crate) struct Registered<S: mio::event::Source> {
    /// The mio socket (always non-blocking).
    source: S,
    /// Its registration with the reactor of the runtime that created it.
    registration: IoRegistration,
    /// `set_nonblocking(true)`: an operation that would wait returns
    /// `WouldBlock` instead. Shared with the socket's `try_clone`s, as std's
    /// `O_NONBLOCK` is shared by the descriptors of one open socket.
    nonblocking: Rc<Cell<bool>>,
    /// Which halves were shut down here ([`Registered::shutdown`]): reading
    /// and writing. Past a local shutdown the syscall answers at once (end
    /// of file, a broken pipe), but the kernel sends no readiness edge for
    /// it, so the cached "not ready" must not make a coroutine wait for
    /// one. Shared with clones, as the shutdown acts on the socket.
    shut: Rc<Cell<(bool, bool)>>,
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
            nonblocking: Rc::default(),
            shut: Rc::default(),
        })
    }

    /// Registers `source`, a clone of `like`'s socket, sharing its
    /// blocking mode.
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
        registered.nonblocking = Rc::clone(&like.nonblocking);
        registered.shut = Rc::clone(&like.shut);
        Ok(registered)
    }

    /// Sets whether an operation that would wait returns `WouldBlock`
    /// instead (for this socket and its clones).
    pub(crate) fn set_nonblocking(&self, nonblocking: bool) {
        self.nonblocking.set(nonblocking);
    }

    /// Shuts down `how` with `op` (the socket's `shutdown(2)`), then lets
    /// the coroutines waiting on a half that is now shut try again: the
    /// kernel answers them at once, but sends no readiness edge to say so.
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
        let (read, write) = self.shut.get();
        let read = read || matches!(how, Shutdown::Read | Shutdown::Both);
        let write = write || matches!(how, Shutdown::Write | Shutdown::Both);
        self.shut.set((read, write));
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
        let (read, write) = self.shut.get();
        (interest.is_readable() && read) || (interest.is_writable() && write)
    }

    /// Whether an operation that would wait returns `WouldBlock` instead
    /// ([`Registered::set_nonblocking`]).
    pub(crate) fn is_nonblocking(&self) -> bool {
        self.nonblocking.get()
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
            // wants the syscall's answer, not the reactor's guess.
            let nonblocking = self.nonblocking.get();
            let shut = self.is_shut_down(interest);
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
    /// `nonblocking`, so its count says whether one is.
    fn drop(&mut self) {
        if Rc::strong_count(&self.nonblocking) == 1 {
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
