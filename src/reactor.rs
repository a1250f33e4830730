//! The I/O reactor: a `mio::Poll` and, for every registered socket, which
//! coroutines wait to read it and which to write it.
//!
//! # How "would block" becomes "suspend"
//!
//! A socket is registered once, for both readable and writable, edge-triggered
//! (mio's only mode). An operation always tries the syscall first; only on
//! `WouldBlock` does the coroutine suspend with `Suspend::Io { token, .. }`,
//! and the scheduler files it here among the socket's readers or writers.
//! The next readiness edge wakes them, and each tries its syscall again.
//!
//! Because every wait starts right after a syscall said `WouldBlock`, the
//! edge that ends it is always one that happens *after* the wait began, so no
//! readiness is lost and no readiness state needs to be cached. A wake-up
//! that turns out to be spurious costs one more `WouldBlock` and one more wait.
//! Events for a socket nobody waits on are simply dropped.
//!
//! # Implementation notes
//!
//! Registrations live in a `Slab`; the key is the `mio::Token`. Sockets hold
//! an `Rc<Reactor>`, so a socket that outlives its runtime can still
//! deregister itself, and a socket can tell when it is used from another
//! runtime than its own.

use std::cell::{Cell, RefCell};
use std::io;
use std::time::Duration;

use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;

use crate::task::TaskId;

/// Events fetched by one `epoll_wait` at most; more wait for the next poll.
const EVENTS_PER_POLL: usize = 1024;

/// Who waits on one registered socket.
///
/// A list per direction, not a single slot: several coroutines may wait on
/// one socket the same way (two acceptors sharing an `Rc<TcpListener>`, two
/// readers of one `&TcpStream`). An edge wakes them all, in the order they
/// began to wait; those that find nothing wait again. An empty `Vec` does
/// not allocate, and a woken list keeps its capacity for the next wait.
#[derive(Default)]
struct Source {
    /// The coroutines waiting for it to become readable.
    readers: Vec<TaskId>,
    /// The coroutines waiting for it to become writable.
    writers: Vec<TaskId>,
}

impl Source {
    /// The waiting list for `interest` (readable, or else writable).
    fn waiting(&mut self, interest: Interest) -> &mut Vec<TaskId> {
        if interest.is_readable() {
            &mut self.readers
        } else {
            &mut self.writers
        }
    }
}

/// One runtime's poller and registrations. See the module docs.
pub(crate) struct Reactor {
    /// The poller. Borrowed mutably only by [`Reactor::poll`], which runs on
    /// the scheduler's stack while no coroutine runs.
    poll: RefCell<Poll>,
    /// A handle to register sockets with, usable while `poll` is not
    /// borrowed; kept apart so registering never touches the `RefCell`.
    registry: Registry,
    /// The buffer `epoll_wait` fills.
    events: RefCell<Events>,
    /// Registered sockets by token.
    sources: RefCell<Slab<Source>>,
    /// How many coroutines wait on a socket right now. While it is non-zero,
    /// an idle runtime blocks in the poller instead of reporting a deadlock.
    waiters: Cell<usize>,
}

impl Reactor {
    /// Creates the poller (`epoll_create1`).
    pub(crate) fn new() -> io::Result<Reactor> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        Ok(Reactor {
            poll: RefCell::new(poll),
            registry,
            events: RefCell::new(Events::with_capacity(EVENTS_PER_POLL)),
            sources: RefCell::new(Slab::new()),
            waiters: Cell::new(0),
        })
    }

    /// Registers a socket for readable and writable edges; returns its token.
    pub(crate) fn register(&self, source: &mut impl mio::event::Source) -> io::Result<usize> {
        let token = self.sources.borrow_mut().insert(Source::default());
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self.registry.register(source, Token(token), interest) {
            self.sources.borrow_mut().remove(token);
            return Err(e);
        }
        Ok(token)
    }

    /// Deregisters a socket that is being closed. A coroutine still waiting on
    /// it (only possible through unsafe fd games) is forgotten here; its
    /// timer, if any, still wakes it.
    pub(crate) fn deregister(&self, token: usize, source: &mut impl mio::event::Source) {
        // An error here means the fd is already gone from epoll; closing it
        // removes it anyway.
        let _ = self.registry.deregister(source);
        let mut sources = self.sources.borrow_mut();
        if let Some(entry) = sources.try_remove(token) {
            let stale = entry.readers.len() + entry.writers.len();
            self.waiters.set(self.waiters.get() - stale);
        }
    }

    /// Files `task` as a coroutine waiting on `token` for `interest`.
    pub(crate) fn set_waiter(&self, token: usize, interest: Interest, task: TaskId) {
        let mut sources = self.sources.borrow_mut();
        let source = sources
            .get_mut(token)
            .expect("a coroutine waits only on a socket it holds, which stays registered");
        source.waiting(interest).push(task);
        self.waiters.set(self.waiters.get() + 1);
    }

    /// Forgets `task` as a waiter on `token`, if it still is one (it woke for
    /// another reason, such as its timeout).
    pub(crate) fn clear_waiter(&self, token: usize, interest: Interest, task: TaskId) {
        let mut sources = self.sources.borrow_mut();
        let Some(source) = sources.get_mut(token) else {
            return;
        };
        let waiting = source.waiting(interest);
        if let Some(at) = waiting.iter().position(|&t| t == task) {
            waiting.remove(at);
            self.waiters.set(self.waiters.get() - 1);
        }
    }

    /// Whether any coroutine waits on a socket.
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters.get() > 0
    }

    /// Waits up to `timeout` (`None`: forever) for readiness, and appends the
    /// coroutines to wake to `woken`, in event order. Returns the number of
    /// events. `EINTR` counts as an empty poll.
    pub(crate) fn poll(&self, timeout: Option<Duration>, woken: &mut Vec<TaskId>) -> usize {
        let mut poll = self.poll.borrow_mut();
        let mut events = self.events.borrow_mut();
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                return 0;
            }
            // epoll_wait fails only for programming errors (bad fd, bad
            // buffer); nothing sensible can continue.
            panic!("corio: epoll_wait failed: {e}");
        }
        let mut sources = self.sources.borrow_mut();
        let mut count = 0;
        for event in events.iter() {
            count += 1;
            let Some(source) = sources.get_mut(event.token().0) else {
                continue;
            };
            let failed = event.is_error();
            if event.is_readable() || event.is_read_closed() || failed {
                self.waiters.set(self.waiters.get() - source.readers.len());
                woken.append(&mut source.readers);
            }
            if event.is_writable() || event.is_write_closed() || failed {
                self.waiters.set(self.waiters.get() - source.writers.len());
                woken.append(&mut source.writers);
            }
        }
        count
    }
}

/// A mio socket registered with the runtime that created it: the building
/// block of `corio::net`. It runs an operation the non-blocking way, and
/// turns its `WouldBlock` into "suspend this coroutine until the socket is
/// ready", which is what makes a corio socket look blocking.
pub(crate) struct Registered<S: mio::event::Source> {
    /// The mio socket (always non-blocking).
    source: S,
    /// Its token in `reactor`.
    token: usize,
    /// The reactor it is registered with; kept alive by the socket so that
    /// dropping the socket after its runtime still deregisters cleanly.
    reactor: std::rc::Rc<Reactor>,
}

impl<S: mio::event::Source> Registered<S> {
    /// Registers `source` with the current runtime's reactor.
    ///
    /// # Panics
    ///
    /// Panics with a message naming `what` outside a corio runtime.
    pub(crate) fn new(what: &str, mut source: S) -> io::Result<Registered<S>> {
        let reactor = crate::context::with_core(what, |core| std::rc::Rc::clone(&core.reactor));
        let token = reactor.register(&mut source)?;
        Ok(Registered {
            source,
            token,
            reactor,
        })
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
    /// # Panics
    ///
    /// Panics with a message naming `what` when it must wait but is not
    /// called from a coroutine.
    pub(crate) fn io<R>(
        &self,
        what: &str,
        interest: mio::Interest,
        deadline: Option<std::time::Instant>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            match op(&self.source) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => return result,
            }
            if let Some(at) = deadline {
                if std::time::Instant::now() >= at {
                    return Err(timed_out(what));
                }
            }
            self.check_runtime(what)?;
            let reason = crate::scheduler::Suspend::Io {
                token: self.token,
                interest,
                deadline,
            };
            // Woken by readiness, by the deadline, or spuriously: in every
            // case the loop tries again and re-checks the deadline.
            crate::context::suspend(what, reason);
        }
    }

    /// Fails if the socket is used from a runtime other than its own, whose
    /// reactor would never see its events.
    fn check_runtime(&self, what: &str) -> io::Result<()> {
        let same =
            crate::context::try_with_core(|core| std::rc::Rc::ptr_eq(&core.reactor, &self.reactor));
        match same {
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
