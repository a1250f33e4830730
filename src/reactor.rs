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
//! # Readiness kept per socket, and one waiter woken per edge
//!
//! Each socket keeps a readable and a writable bit. Both start set (nothing
//! is known, so the first operation tries its syscall). An operation whose
//! syscall says `WouldBlock` clears its bit, and so does a read or write that
//! moved fewer bytes than asked (the kernel's buffer was drained or filled:
//! under edge-triggered epoll, any change from there on is a new edge). Every
//! event sets the bits it reports, whether or not anybody waits. An operation
//! whose bit is clear suspends at once, without the syscall that would fail:
//! a request-response server does one `read`, one `write` and its share of
//! one `epoll_wait` per request, not a second `read` that returns `EAGAIN`.
//! A bit is only cleared right after the kernel said "nothing more", and
//! set by every later edge, so no readiness is lost; a stale set bit costs
//! one syscall that says `WouldBlock`. One state is not an edge but a
//! level: a hang-up (or an error) that was reported together with data the
//! coroutine then drained. It is kept in a bit of its own that is never
//! cleared, so reads go on asking the kernel, which says "end of file".
//!
//! Several coroutines may wait on one socket the same way (acceptors of one
//! listener, readers of one `UdpSocket`). An edge wakes only the first of
//! them, in the order they began to wait; when its operation succeeds and
//! the bit is still set (there may be more), it wakes the next one
//! ([`Reactor::next_waiter`]), which passes it on the same way. A readiness
//! edge costs O(1) wake-ups instead of one per waiter. An error or a hang-up
//! wakes them all: every one of them will see it.
//!
//! # Timers to the microsecond
//!
//! `epoll_wait` takes its timeout in whole milliseconds (mio rounds up), so
//! a poller that slept "until the next deadline" that way would wake a 1 µs
//! sleep after a millisecond. Instead the reactor owns one `timerfd`
//! (`CLOCK_MONOTONIC`, registered like a socket under [`TIMER_TOKEN`]):
//! before it blocks with a deadline, the scheduler [`arms`](Reactor::arm) it
//! (one `timerfd_settime`, skipped when it is already armed for that
//! instant) and then waits without a timeout. The kernel's hrtimer behind
//! the timerfd has no timer slack, so the wait ends within the wake-up
//! latency of the machine. A deadline that was cancelled after it was armed
//! costs one early wake-up that fires nothing, and the timer is re-armed.
//!
//! # Implementation notes
//!
//! A leaf: it knows nothing of the scheduler. A waiter is a `W` of the
//! caller's choosing (the scheduler uses its `TaskId`); [`Reactor::poll`]
//! hands back the waiters to wake and the scheduler wakes them, after every
//! borrow here is released. Registrations live in a `Slab`; the key is the
//! `mio::Token`. Sockets (`net::registered`) hold an `Rc<Reactor>`, so a
//! socket that outlives its runtime can still deregister itself, and a
//! socket can tell when it is used from another runtime than its own.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Registry, Token};
use slab::Slab;

/// Events fetched by one `epoll_wait` at most; more wait for the next poll.
const EVENTS_PER_POLL: usize = 1024;

/// Who waits on one registered socket, and what it is known to be ready for.
///
/// A list per direction, not a single slot: several coroutines may wait on
/// one socket the same way (two acceptors sharing an `Rc<TcpListener>`, two
/// readers of one `&TcpStream`), in the order they began to wait (module
/// docs).
struct Source<W> {
    /// The coroutines waiting for it to become readable.
    readers: Waiters<W>,
    /// The coroutines waiting for it to become writable.
    writers: Waiters<W>,
    /// [`READY_READ`] and [`READY_WRITE`]: what the socket may be ready for.
    ready: u8,
    /// Its file descriptor, for reports (the task dump).
    fd: i32,
}

/// The coroutines waiting on one socket one way, first come first served.
///
/// The first waiter is kept inline: nearly always it is the only one (one
/// coroutine per connection), and a socket's wait then touches only its
/// `Source`, where a `VecDeque` would touch its buffer as well, a second
/// cache line per wait and per wake-up that a server with many connections
/// finds cold every time. The others queue behind it in a deque allocated
/// when a second one comes and kept for the next time.
struct Waiters<W> {
    /// The one that began to wait first, if any waits.
    first: Option<W>,
    /// Those behind `first`, in order; empty whenever `first` is `None`.
    /// Boxed so that it takes one word of the `Source`, not a deque's
    /// four: the `Source` stays small enough for its hot fields to share
    /// a cache line.
    #[allow(clippy::box_collection)]
    rest: Option<Box<VecDeque<W>>>,
}

impl<W> Waiters<W> {
    /// No one waits.
    const fn new() -> Waiters<W> {
        Waiters {
            first: None,
            rest: None,
        }
    }

    /// How many wait.
    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.as_ref().map_or(0, |rest| rest.len())
    }

    /// Appends `waiter` to the back.
    fn push_back(&mut self, waiter: W) {
        if self.first.is_none() {
            self.first = Some(waiter);
        } else {
            self.rest.get_or_insert_default().push_back(waiter);
        }
    }

    /// Takes the one at the front.
    fn pop_front(&mut self) -> Option<W> {
        let first = self.first.take()?;
        self.first = self.rest.as_mut().and_then(|rest| rest.pop_front());
        Some(first)
    }

    /// Takes every one, front first, into `into`.
    fn drain_into(&mut self, into: &mut Vec<W>) {
        into.extend(self.first.take());
        if let Some(rest) = &mut self.rest {
            into.extend(rest.drain(..));
        }
    }

    /// Forgets every one.
    fn clear(&mut self) {
        self.first = None;
        if let Some(rest) = &mut self.rest {
            rest.clear();
        }
    }
}

impl<W: PartialEq> Waiters<W> {
    /// Takes `waiter` out of the line, wherever it stands; whether it was
    /// in it.
    fn remove(&mut self, waiter: &W) -> bool {
        if self.first.as_ref() == Some(waiter) {
            let _ = self.pop_front();
            return true;
        }
        let Some(rest) = &mut self.rest else {
            return false;
        };
        match rest.iter().position(|w| w == waiter) {
            Some(at) => {
                let _ = rest.remove(at);
                true
            }
            None => false,
        }
    }
}

/// The socket may be readable (no `WouldBlock` since the last edge).
const READY_READ: u8 = 1;
/// The socket may be writable.
const READY_WRITE: u8 = 2;
/// The peer hung up its sending side, or the socket failed: a read always
/// returns at once from now on (end of file or the error), and no further
/// edge will say so. Never cleared. Each closed bit is its ready bit
/// shifted by [`CLOSED_SHIFT`].
const READ_CLOSED: u8 = READY_READ << CLOSED_SHIFT;
/// The socket can no longer send, or failed: a write always fails at once.
const WRITE_CLOSED: u8 = READY_WRITE << CLOSED_SHIFT;
/// From a ready bit to its closed bit.
const CLOSED_SHIFT: u8 = 2;

/// The bits that make an operation of `interest` try its syscall: its
/// ready bit and its closed bit.
fn bits(interest: Interest) -> u8 {
    bit(interest) | bit(interest) << CLOSED_SHIFT
}

/// The clearable readiness bit of `interest`.
fn bit(interest: Interest) -> u8 {
    if interest.is_readable() {
        READY_READ
    } else {
        READY_WRITE
    }
}

impl<W> Default for Source<W> {
    fn default() -> Source<W> {
        Source {
            readers: Waiters::new(),
            writers: Waiters::new(),
            ready: READY_READ | READY_WRITE,
            fd: -1,
        }
    }
}

impl<W> Source<W> {
    /// The waiting list for `interest` (readable, or else writable).
    fn waiting(&mut self, interest: Interest) -> &mut Waiters<W> {
        if interest.is_readable() {
            &mut self.readers
        } else {
            &mut self.writers
        }
    }
}

/// One runtime's poller and registrations. See the module docs.
pub(crate) struct Reactor<W> {
    /// The poller. Borrowed mutably only by [`Reactor::poll`], which runs on
    /// the scheduler's stack while no coroutine runs.
    poll: RefCell<Poll>,
    /// A handle to register sockets with, usable while `poll` is not
    /// borrowed; kept apart so registering never touches the `RefCell`.
    registry: Registry,
    /// The buffer `epoll_wait` fills.
    events: RefCell<Events>,
    /// Registered sockets by token.
    sources: RefCell<Slab<Source<W>>>,
    /// How many coroutines wait on a socket right now. While it is non-zero,
    /// an idle runtime blocks in the poller instead of reporting a deadlock.
    waiters: Cell<usize>,
    /// Set by `poll` when the waker's token ([`WAKER_TOKEN`]) fired: another
    /// thread left work for the caller; taken by [`Reactor::take_woken`].
    woken: Cell<bool>,
    /// The timerfd that ends a wait at the next deadline (module docs).
    timer: OwnedFd,
    /// The instant the timerfd is armed for, until it fires.
    armed: Cell<Option<Instant>>,
}

/// The token of the one `mio::Waker` a reactor hands out; the slab never
/// gets near it.
const WAKER_TOKEN: usize = usize::MAX;

/// The token of the reactor's timerfd.
const TIMER_TOKEN: usize = usize::MAX - 1;

/// A non-blocking `CLOCK_MONOTONIC` timerfd, closed on exec.
fn timerfd() -> io::Result<OwnedFd> {
    // SAFETY: timerfd_create takes no pointers; a non-negative result is a
    // new descriptor that nothing else owns.
    let fd = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by no one else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Arms `timer` to expire once, `after` from now (at least 1 ns: a zero
/// value would disarm it).
fn set_timer(timer: &OwnedFd, after: Duration) -> io::Result<()> {
    let after = after.max(Duration::from_nanos(1));
    let value = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            // Beyond i64 seconds is beyond any run; clamp.
            tv_sec: libc::time_t::try_from(after.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: libc::c_long::from(after.subsec_nanos()),
        },
    };
    // SAFETY: `timer` is a live timerfd; `value` is a valid itimerspec that
    // outlives the call; a null old-value pointer is allowed.
    let rc = unsafe { libc::timerfd_settime(timer.as_raw_fd(), 0, &value, std::ptr::null_mut()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl<W: Copy + PartialEq> Reactor<W> {
    /// Creates the poller (`epoll_create1`) and its timerfd.
    pub(crate) fn new() -> io::Result<Reactor<W>> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let timer = timerfd()?;
        registry.register(
            &mut mio::unix::SourceFd(&timer.as_raw_fd()),
            Token(TIMER_TOKEN),
            Interest::READABLE,
        )?;
        Ok(Reactor {
            poll: RefCell::new(poll),
            registry,
            events: RefCell::new(Events::with_capacity(EVENTS_PER_POLL)),
            sources: RefCell::new(Slab::new()),
            waiters: Cell::new(0),
            woken: Cell::new(false),
            timer,
            armed: Cell::new(None),
        })
    }

    /// Makes the next [`Reactor::poll`] return by `at` at the latest, to the
    /// microsecond (module docs); `now` is the caller's reading of the
    /// clock. Call it right before a poll without a timeout.
    ///
    /// # Errors
    ///
    /// What `timerfd_settime` says; the caller then polls with a timeout.
    pub(crate) fn arm(&self, at: Instant, now: Instant) -> io::Result<()> {
        if self.armed.get() == Some(at) {
            return Ok(());
        }
        set_timer(&self.timer, at.saturating_duration_since(now))?;
        self.armed.set(Some(at));
        Ok(())
    }

    /// Forgets which deadline the timerfd is armed for, so that the next
    /// `arm` sets it: a virtual clock's jump changed what real time a
    /// deadline stands for.
    pub(crate) fn forget_armed(&self) {
        self.armed.set(None);
    }

    /// The waker other threads use to rouse this reactor's `poll`; made once
    /// per reactor (mio allows one per poller).
    pub(crate) fn waker(&self) -> io::Result<mio::Waker> {
        mio::Waker::new(&self.registry, Token(WAKER_TOKEN))
    }

    /// Whether the waker fired since the last call.
    pub(crate) fn take_woken(&self) -> bool {
        self.woken.replace(false)
    }

    /// Registers a socket for readable and writable edges; returns its token.
    /// `fd` is its file descriptor, for reports.
    pub(crate) fn register(
        &self,
        source: &mut impl mio::event::Source,
        fd: i32,
    ) -> io::Result<usize> {
        let token = self.sources.borrow_mut().insert(Source {
            fd,
            ..Source::default()
        });
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self.registry.register(source, Token(token), interest) {
            self.sources.borrow_mut().remove(token);
            return Err(e);
        }
        Ok(token)
    }

    /// The file descriptor registered under `token`, if it is registered.
    pub(crate) fn fd(&self, token: usize) -> Option<i32> {
        self.sources.borrow().get(token).map(|source| source.fd)
    }

    /// Deregisters a socket that is being closed. A coroutine still waiting on
    /// it (only possible through unsafe fd games) is forgotten here; its
    /// timer, if any, still wakes it.
    pub(crate) fn deregister(&self, token: usize, source: &mut impl mio::event::Source) {
        // An error here means the fd is already gone from epoll; closing it
        // removes it anyway.
        let _ = self.registry.deregister(source);
        self.forget(token);
    }

    /// Forgets the socket registered under `token` without telling epoll:
    /// for a socket about to be closed whose open file no other descriptor
    /// shares, since closing the last descriptor of a file removes it from
    /// every epoll set (one `epoll_ctl` saved per socket). Should a
    /// descriptor the caller does not know of keep the file open, its events
    /// still come under `token`, which a later socket may get: they only set
    /// readiness bits and wake waiters that then find the kernel not ready
    /// and wait again, which every waiter is ready for (module docs).
    pub(crate) fn forget(&self, token: usize) {
        let mut sources = self.sources.borrow_mut();
        if let Some(entry) = sources.try_remove(token) {
            let stale = entry.readers.len() + entry.writers.len();
            self.waiters.set(self.waiters.get() - stale);
        }
    }

    /// Files `task` as a coroutine waiting on `token` for `interest`.
    pub(crate) fn set_waiter(&self, token: usize, interest: Interest, task: W) {
        let mut sources = self.sources.borrow_mut();
        let source = sources
            .get_mut(token)
            .expect("a coroutine waits only on a socket it holds, which stays registered");
        source.waiting(interest).push_back(task);
        self.waiters.set(self.waiters.get() + 1);
    }

    /// Whether `token` may be ready for `interest`: no `WouldBlock` (or
    /// short transfer) since its last edge. See the module docs.
    #[inline]
    pub(crate) fn is_ready(&self, token: usize, interest: Interest) -> bool {
        self.sources
            .borrow()
            .get(token)
            .is_none_or(|source| source.ready & bits(interest) != 0)
    }

    /// Notes that `token` is not ready for `interest` until its next edge:
    /// its syscall said `WouldBlock`, or moved fewer bytes than asked.
    #[inline]
    pub(crate) fn clear_ready(&self, token: usize, interest: Interest) {
        if let Some(source) = self.sources.borrow_mut().get_mut(token) {
            source.ready &= !bit(interest);
        }
    }

    /// After an operation on `token` for `interest` succeeded: if the
    /// socket may still be ready and another coroutine waits the same way,
    /// takes that one off the list, for the caller to wake (module docs).
    #[inline]
    pub(crate) fn next_waiter(&self, token: usize, interest: Interest) -> Option<W> {
        let mut sources = self.sources.borrow_mut();
        let source = sources.get_mut(token)?;
        if source.ready & bits(interest) == 0 {
            return None;
        }
        let next = source.waiting(interest).pop_front()?;
        self.waiters.set(self.waiters.get() - 1);
        Some(next)
    }

    /// Forgets `task` as a waiter on `token`, if it still is one (it woke for
    /// another reason, such as its timeout).
    pub(crate) fn clear_waiter(&self, token: usize, interest: Interest, task: W) {
        let mut sources = self.sources.borrow_mut();
        let Some(source) = sources.get_mut(token) else {
            return;
        };
        if source.waiting(interest).remove(&task) {
            self.waiters.set(self.waiters.get() - 1);
        }
    }

    /// Forgets every waiter of every socket at once (a runtime being torn
    /// down): linear, where clearing them one by one would search each list.
    /// The sockets stay registered until they are dropped.
    pub(crate) fn clear_all_waiters(&self) {
        for (_, source) in self.sources.borrow_mut().iter_mut() {
            source.readers.clear();
            source.writers.clear();
        }
        self.waiters.set(0);
    }

    /// Moves the first of `waiting` (or all of them) to `woken`.
    fn wake_waiters(&self, waiting: &mut Waiters<W>, all: bool, woken: &mut Vec<W>) {
        if all {
            self.waiters.set(self.waiters.get() - waiting.len());
            waiting.drain_into(woken);
        } else if let Some(first) = waiting.pop_front() {
            self.waiters.set(self.waiters.get() - 1);
            woken.push(first);
        }
    }

    /// Whether any coroutine waits on a socket.
    pub(crate) fn has_waiters(&self) -> bool {
        self.waiters.get() > 0
    }

    /// Waits up to `timeout` (`None`: forever) for readiness, and appends the
    /// coroutines to wake to `woken`, in event order. Returns the number of
    /// events. `EINTR` counts as an empty poll.
    pub(crate) fn poll(&self, timeout: Option<Duration>, woken: &mut Vec<W>) -> usize {
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
            match event.token().0 {
                WAKER_TOKEN => {
                    self.woken.set(true);
                    continue;
                }
                // Edge-triggered: the next expiry is a new edge whether or
                // not this one's count is read, and re-arming resets it.
                TIMER_TOKEN => {
                    self.armed.set(None);
                    continue;
                }
                _ => {}
            }
            let Some(source) = sources.get_mut(event.token().0) else {
                continue;
            };
            let failed = event.is_error();
            // An error or a hang-up is news for every waiter; plain
            // readiness for the first, who passes it on (module docs).
            let readers_all = failed || event.is_read_closed();
            if readers_all {
                source.ready |= READ_CLOSED;
            }
            if event.is_readable() || readers_all {
                source.ready |= READY_READ;
                self.wake_waiters(&mut source.readers, readers_all, woken);
            }
            let writers_all = failed || event.is_write_closed();
            if writers_all {
                source.ready |= WRITE_CLOSED;
            }
            if event.is_writable() || writers_all {
                source.ready |= READY_WRITE;
                self.wake_waiters(&mut source.writers, writers_all, woken);
            }
        }
        count
    }
}
