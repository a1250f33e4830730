//! Sockets as the scheduler sees them: [`IoRegistration`], a socket's token
//! in the reactor of the runtime that created it, and the one door through
//! which `net` reaches that reactor.
//!
//! `net` asks it whether the socket is known not to be ready, tells it what
//! a system call found, and waits through it; only the scheduler talks to
//! the reactor itself (here, and when it files a waiting task in `park`).

use std::io;
use std::rc::Rc;
use std::time::Instant;

use super::context;
use super::{Core, Suspend, TaskId, Wake};
use crate::reactor::Reactor;

/// A socket registered with the reactor of the runtime that created it.
///
/// Deregister it with [`IoRegistration::deregister`] before the socket
/// closes (`net`'s sockets do in their `Drop`).
pub(crate) struct IoRegistration {
    /// The socket's token in `reactor`.
    token: usize,
    /// The reactor it is registered with; kept alive by the socket, so that
    /// dropping the socket after its runtime still deregisters cleanly.
    reactor: Rc<Reactor<TaskId>>,
}

impl IoRegistration {
    /// Registers `source` with the current runtime's reactor.
    ///
    /// # Errors
    ///
    /// The error of `epoll_ctl`.
    ///
    /// # Panics
    ///
    /// Panics with a message naming `what` outside a corio runtime.
    #[track_caller]
    pub(crate) fn new(
        what: &str,
        source: &mut impl mio::event::Source,
        fd: std::os::fd::RawFd,
    ) -> io::Result<IoRegistration> {
        let reactor = context::with_core(what, |core: &Core| Rc::clone(&core.reactor));
        let token = reactor.register(source, fd)?;
        Ok(IoRegistration { token, reactor })
    }

    /// Whether the socket may be ready for `interest`: `false` only when
    /// the last system call said `WouldBlock` and no edge came since.
    pub(crate) fn is_ready(&self, interest: mio::Interest) -> bool {
        self.reactor.is_ready(self.token, interest)
    }

    /// The last system call found the socket not ready for `interest`
    /// (`WouldBlock`, or a read or write that drained the kernel's buffer).
    pub(crate) fn clear_ready(&self, interest: mio::Interest) {
        self.reactor.clear_ready(self.token, interest);
    }

    /// The last system call succeeded and there may be more: wake the next
    /// coroutine waiting for `interest` on this socket, if one is, so that
    /// it tries too.
    pub(crate) fn wake_next(&self, interest: mio::Interest) {
        if let Some(next) = self.reactor.next_waiter(self.token, interest) {
            context::try_with_core(|core| core.wake(next, Wake::Notified));
        }
    }

    /// Suspends the calling coroutine until the socket is ready for
    /// `interest`, or until `deadline`; the scheduler files the wait with
    /// the reactor after the switch (`Core::park`). The caller then tries
    /// its system call again: a wake-up means "look again".
    ///
    /// # Errors
    ///
    /// `Other` when the socket belongs to another runtime (whose reactor
    /// would never see its events), or when no coroutine can wait here (the
    /// runtime is shutting down, or the caller is the scheduler's own code),
    /// each with a message that says so.
    ///
    /// # Panics
    ///
    /// Panics with a message naming `what` outside any corio runtime.
    #[track_caller]
    pub(crate) fn wait(
        &self,
        what: &str,
        interest: mio::Interest,
        deadline: Option<Instant>,
    ) -> io::Result<()> {
        let ours = context::try_with_core(|core| Rc::ptr_eq(&core.reactor, &self.reactor));
        if ours == Some(false) {
            return Err(io::Error::other(format!(
                "{what}: this socket was created by another corio runtime and can only wait \
                 for I/O there; create the socket inside the runtime that uses it"
            )));
        }
        let reason = Suspend::Io {
            token: self.token,
            interest,
            deadline,
        };
        // Outside a runtime, `suspend` gives the clear panic.
        context::suspend(what, reason).map_err(|cannot| io::Error::other(cannot.explain(what)))
    }

    /// Removes `source`, the registered socket, from the reactor.
    pub(crate) fn deregister(&self, source: &mut impl mio::event::Source) {
        self.reactor.deregister(self.token, source);
    }

    /// Removes the socket from the reactor's table only, for a socket that
    /// is closed right after and whose open file no other descriptor known
    /// to the caller shares: the close takes it out of epoll (see
    /// `Reactor::forget`).
    pub(crate) fn forget_before_close(&self) {
        self.reactor.forget(self.token);
    }
}
