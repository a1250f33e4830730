//! A child's pipe end as the parent owns it: non-blocking and registered
//! with the reactor inside a runtime, plain and blocking outside one.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

use mio::unix::SourceFd;

use crate::scheduler::{self, IoRegistration};

/// What a mio pipe end offers that [`Pipe`] needs.
pub(super) trait End: mio::event::Source + AsFd + Into<OwnedFd> {
    /// Sets or clears `O_NONBLOCK` on the end's open file description.
    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()>;
}

impl End for mio::unix::pipe::Sender {
    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        mio::unix::pipe::Sender::set_nonblocking(self, nonblocking)
    }
}

impl End for mio::unix::pipe::Receiver {
    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        mio::unix::pipe::Receiver::set_nonblocking(self, nonblocking)
    }
}

/// An fd registered with the reactor of the runtime that made it; dropped,
/// it deregisters (before the fd closes: see the field order of [`Pipe`]).
pub(super) struct Registered {
    /// The descriptor, owned elsewhere and open for as long as this lives.
    fd: RawFd,
    /// Its registration.
    registration: IoRegistration,
}

impl Registered {
    /// Registers `fd` with the current runtime's reactor.
    pub(super) fn new(what: &str, fd: RawFd) -> io::Result<Registered> {
        let registration = IoRegistration::new(what, &mut SourceFd(&fd), fd)?;
        Ok(Registered { fd, registration })
    }

    /// Runs `op` until it succeeds or fails with something other than
    /// `WouldBlock` or `Interrupted`; on `WouldBlock`, suspends the caller
    /// until the fd is ready for `interest`.
    pub(super) fn io<R>(
        &self,
        what: &str,
        interest: mio::Interest,
        mut op: impl FnMut() -> io::Result<R>,
    ) -> io::Result<R> {
        let registration = &self.registration;
        loop {
            if registration.is_ready(interest) {
                match op() {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        registration.clear_ready(interest);
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    result => {
                        // There may be more: let the next waiter try too.
                        registration.wake_next(interest);
                        return result;
                    }
                }
            }
            registration.wait(what, interest, None)?;
        }
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.registration.deregister(&mut SourceFd(&self.fd));
    }
}

/// The parent's end of a pipe to a child.
///
/// `O_NONBLOCK` belongs to the open file description, so it is set only
/// on this end, which the parent alone holds (the child's end is another
/// description and stays blocking); it is cleared again before the end is
/// handed to anyone else ([`Pipe::into_blocking`]).
pub(super) struct Pipe<E: End> {
    /// The end's registration with the runtime that spawned the child;
    /// `None` outside a runtime, where the end stays blocking and every
    /// call runs in place, as std's. Declared before `end`, so that it is
    /// dropped (deregistered) before the end closes.
    registration: Option<Registered>,
    /// The mio pipe end.
    end: E,
}

impl<E: End> Pipe<E> {
    /// Takes `end` over: non-blocking and registered inside a runtime.
    pub(super) fn new(what: &str, end: E) -> io::Result<Pipe<E>> {
        if !scheduler::in_runtime() {
            return Ok(Pipe {
                end,
                registration: None,
            });
        }
        end.set_nonblocking(true)?;
        let registration = Registered::new(what, end.as_fd().as_raw_fd())?;
        Ok(Pipe {
            end,
            registration: Some(registration),
        })
    }

    /// Whether the end is on a reactor (made inside a runtime).
    pub(super) fn is_registered(&self) -> bool {
        self.registration.is_some()
    }

    /// The mio end (for `AsFd`).
    pub(super) fn end(&self) -> &E {
        &self.end
    }

    /// Runs `op` on the end, suspending the caller while the pipe is not
    /// ready for `interest` (in place, blocking, outside a runtime).
    pub(super) fn io<R>(
        &self,
        what: &str,
        interest: mio::Interest,
        mut op: impl FnMut(&E) -> io::Result<R>,
    ) -> io::Result<R> {
        match &self.registration {
            Some(registration) => registration.io(what, interest, || op(&self.end)),
            None => loop {
                match op(&self.end) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    result => return result,
                }
            },
        }
    }

    /// The end as a plain blocking descriptor, deregistered, for a new
    /// owner (another child's stdio, say).
    pub(super) fn into_blocking(self) -> io::Result<OwnedFd> {
        let Pipe { registration, end } = self;
        if registration.is_some() {
            drop(registration);
            end.set_nonblocking(false)?;
        }
        Ok(end.into())
    }
}
