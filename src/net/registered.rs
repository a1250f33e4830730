//! A mio socket registered with the runtime that created it: the one place
//! where `corio::net` meets the scheduler.
//!
//! Every operation of `TcpListener`, `TcpStream` and `UdpSocket` goes
//! through [`Registered::io`]: unless the reactor knows the socket is not
//! ready, try the system call; on `WouldBlock`, suspend the calling
//! coroutine with `Suspend::Io` (the scheduler files it with the reactor
//! after the switch) and try again when it is woken. The readiness bits and
//! the one-waiter-per-edge rule are explained in `reactor`.

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::Instant;

use crate::reactor::Reactor;
use crate::scheduler::{self, Suspend, TaskId};

/// A mio socket registered with the reactor of the runtime that created it.
/// It runs an operation the non-blocking way, and turns its `WouldBlock`
/// into "suspend this coroutine until the socket is ready", which is what
/// makes a corio socket look blocking.
pub(crate) struct Registered<S: mio::event::Source> {
    /// The mio socket (always non-blocking).
    source: S,
    /// Its token in `reactor`.
    token: usize,
    /// The reactor it is registered with; kept alive by the socket so that
    /// dropping the socket after its runtime still deregisters cleanly.
    reactor: Rc<Reactor<TaskId>>,
    /// `set_nonblocking(true)`: an operation that would wait returns
    /// `WouldBlock` instead. Shared with the socket's `try_clone`s, as std's
    /// `O_NONBLOCK` is shared by the descriptors of one open socket.
    nonblocking: Rc<Cell<bool>>,
}

impl<S: mio::event::Source> Registered<S> {
    /// Registers `source` with the current runtime's reactor.
    ///
    /// # Panics
    ///
    /// Panics with a message naming `what` outside a corio runtime.
    #[track_caller]
    pub(crate) fn new(what: &str, mut source: S) -> io::Result<Registered<S>> {
        let reactor = scheduler::reactor(what);
        let token = reactor.register(&mut source)?;
        Ok(Registered {
            source,
            token,
            reactor,
            nonblocking: Rc::default(),
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
    ) -> io::Result<Registered<S>> {
        let mut registered = Registered::new(what, source)?;
        registered.nonblocking = Rc::clone(&like.nonblocking);
        Ok(registered)
    }

    /// Sets whether an operation that would wait returns `WouldBlock`
    /// instead (for this socket and its clones).
    pub(crate) fn set_nonblocking(&self, nonblocking: bool) {
        self.nonblocking.set(nonblocking);
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
    /// `ErrorKind::TimedOut` (what std gives for a timed-out socket read is
    /// `WouldBlock` on Unix; corio follows the design contract and says
    /// `TimedOut`, which is what the situation is).
    ///
    /// # Errors
    ///
    /// Besides `op`'s own (`WouldBlock` itself, in non-blocking mode):
    /// `TimedOut` past `deadline`; `Other` when the
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
            if nonblocking || self.reactor.is_ready(self.token, interest) {
                match op(&self.source) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.reactor.clear_ready(self.token, interest);
                        if nonblocking {
                            return Err(e);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    result => {
                        match &result {
                            Ok(r) if drained(r) => self.reactor.clear_ready(self.token, interest),
                            // There may be more: the next waiter may try.
                            _ => {
                                if let Some(next) = self.reactor.next_waiter(self.token, interest) {
                                    scheduler::wake_io_waiter(next);
                                }
                            }
                        }
                        return result;
                    }
                }
            }
            if let Some(at) = deadline {
                if Instant::now() >= at {
                    return Err(timed_out(what));
                }
            }
            self.check_runtime(what)?;
            let reason = Suspend::Io {
                token: self.token,
                interest,
                deadline,
            };
            // Woken by readiness, by the deadline, or spuriously: in every
            // case the loop tries again and re-checks the deadline.
            if let Err(cannot) = scheduler::suspend(what, reason) {
                return Err(io::Error::other(cannot.explain(what)));
            }
        }
    }

    /// Fails if the socket is used from a runtime other than its own, whose
    /// reactor would never see its events.
    fn check_runtime(&self, what: &str) -> io::Result<()> {
        match scheduler::is_current_reactor(&self.reactor) {
            Some(true) => Ok(()),
            Some(false) => Err(io::Error::other(format!(
                "{what}: this socket was created by another corio runtime and can only wait \
                 for I/O there; create the socket inside the runtime that uses it"
            ))),
            // Not in a runtime: `suspend` gives the clear panic.
            None => Ok(()),
        }
    }
}

impl<S: mio::event::Source> Drop for Registered<S> {
    fn drop(&mut self) {
        self.reactor.deregister(self.token, &mut self.source);
    }
}

impl<S: mio::event::Source + std::fmt::Debug> std::fmt::Debug for Registered<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.source.fmt(f)
    }
}

/// The error of an operation whose timeout passed.
pub(crate) fn timed_out(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{what} timed out: the socket was not ready before the timeout set on it"),
    )
}
