//! Multi-producer, single-consumer channels for coroutines: the whole of
//! `std::sync::mpsc`, with a blocking call suspending only the calling
//! coroutine.
//!
//! [`channel`] makes an unbounded channel ([`Sender`] never waits);
//! [`sync_channel`] a bounded one ([`SyncSender::send`] waits while it is
//! full), and `sync_channel(0)` a rendezvous channel, where every send waits
//! until the receiver has taken its message. The names, signatures, error
//! types (std's own) and documented behaviour are std's, so code written
//! against `std::sync::mpsc` moves here by changing its `use` line:
//!
//! ```
//! use corio::sync::mpsc;
//!
//! let total = corio::run(|| {
//!     let (tx, rx) = mpsc::sync_channel(4); // at most 4 in flight
//!     for id in 0..3 {
//!         let tx = tx.clone();
//!         corio::spawn(move || {
//!             for n in 0..10 {
//!                 tx.send(id * 100 + n).unwrap(); // waits while full
//!             }
//!         });
//!     }
//!     drop(tx); // the loop below ends once every producer is done
//!     rx.iter().sum::<i32>()
//! });
//! assert_eq!(total, 3 * 45 + 100 * 10 + 200 * 10);
//! ```
//!
//! # Coroutines
//!
//! - A wait suspends the calling coroutine; the others run meanwhile.
//! - Any number of coroutines may wait on one [`Receiver`] (share it through
//!   an `Rc`): they are served in the order they began to wait, one message
//!   each. Senders waiting for room are served in order too.
//! - The senders are `Send` and `Sync` for `T: Send`; the [`Receiver`] is
//!   not. A channel's home is the thread that made it, where its receiver
//!   stays. A send there takes no lock and no atomic read-modify-write; a
//!   send from another OS thread takes a lock and, if the receiver's
//!   runtime has not been told yet, wakes it through its poller (one
//!   `eventfd` write per burst). A `SyncSender` on another thread blocks
//!   that thread until the message is in the bounded queue; `try_send` from
//!   there on a rendezvous channel is always `Full`.
//! - While a channel has live senders, a coroutine waiting on it is not a
//!   deadlock as far as corio can tell: a sender may sit on another thread.
//!   If every coroutine waits so for 2 s, the runtime logs (at `warn`) who
//!   waits on what, and goes on waiting.
//! - Where no coroutine can wait (a destructor run while the runtime shuts
//!   down, a `log` backend the scheduler calls), a receive that would wait
//!   reports the channel as disconnected, and a send that would wait fails
//!   with the message in its error, so that nothing hangs and nothing is
//!   lost.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use super::wait_queue::WaitQueue;
use crate::scheduler::{self, Blocker, Core, NotSend, Remote, Suspend, TaskWaker, lock_unpoisoned};

/// The state both ends share.
///
/// A channel has a *home*: the thread that made it, where its `Receiver`
/// (which is not `Send`) always is. [`Local`] is the home's state, touched
/// without locks or atomics, and only ever from the home thread. Senders
/// are `Send` (for `T: Send`): a sender on another thread puts its message
/// in the [`Lane`], under a lock, and has the home runtime take it (a job in
/// its inbox, see `scheduler::inbox`); the home moves lane messages into its queue
/// before it looks at the queue whenever `lane_busy` says there are some.
struct Shared<T> {
    /// The home thread's token ([`thread_token`]).
    home: usize,
    /// The home's state; see [`Shared::local`].
    local: Local<T>,
    /// Live `Sender`s and `SyncSender`s, wherever they are; at zero, `recv`
    /// on an empty queue fails.
    senders: AtomicUsize,
    /// Whether the `Receiver` is alive; when not, `send` fails.
    receiver_alive: AtomicBool,
    /// Whether the lane holds messages (kept equal to "not empty" under the
    /// lane's lock); read by the home without the lock.
    lane_busy: AtomicBool,
    /// Messages from other threads, and the home runtime to tell.
    lane: Mutex<Lane<T>>,
    /// Signalled when the home took lane messages or the receiver left, for
    /// `SyncSender`s waiting on other threads.
    lane_taken: Condvar,
    /// The queue's length as the home last left it (bounded channels only;
    /// a plain store by the home), for `try_send` from other threads.
    queued: AtomicUsize,
}

/// What only the home thread touches.
struct Local<T> {
    /// Messages sent and not yet received, oldest first.
    queue: RefCell<VecDeque<T>>,
    /// Coroutines waiting in `recv`, oldest first: any number may wait on
    /// one `Receiver` shared through an `Rc`, and a send wakes the oldest.
    receivers: WaitQueue,
    /// The bound of a `sync_channel`, and its waiting senders; `None` for an
    /// unbounded channel, which then pays one word for it.
    bounded: Option<Box<Bounded>>,
    /// The runtime the lane was last told to wake (see [`Shared::bind`]).
    bound_to: Cell<u32>,
}

/// Messages sent from other threads, not yet moved into the queue.
struct Lane<T> {
    /// Oldest first, each with its ticket.
    items: VecDeque<(T, u64)>,
    /// The runtime the receiver waits on, to wake when a message arrives.
    wake: Option<Arc<Remote>>,
    /// Tickets handed out to lane messages so far.
    pushed: u64,
    /// Lane messages the home took so far: a `SyncSender` on another thread
    /// is done once this passes its ticket.
    taken: u64,
}

// SAFETY: `Local` (cells, a `RefCell` queue, wait queues of the home's
// coroutines) is touched only on the home thread: every path to it checks
// `is_home` first, or runs where only the home can be (the `Receiver` is not
// `Send`; a job posted to the home runtime runs on its thread). Everything
// else is atomics or behind the lane's mutex. The one cross-thread use of
// `Local` is its drop, when the last end goes on another thread: by then the
// receiver is gone and no coroutine waits on the channel (a waiter holds an
// end), so the wait queues hold nothing tied to the home thread, and what is
// left in the queue is a `T`, which is `Send`.
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as above: shared references reach `Local` on the home thread only.
unsafe impl<T: Send> Sync for Shared<T> {}

/// What only a bounded channel needs.
struct Bounded {
    /// At most this many messages wait in the queue; 0 is a rendezvous
    /// channel, where one message at a time is in flight and its sender
    /// waits until it is taken.
    capacity: usize,
    /// Senders waiting for room (for a rendezvous channel: for the message
    /// in flight to be taken).
    room: WaitQueue,
    /// The rendezvous sender whose message is in flight, waiting for it to
    /// be taken.
    delivery: WaitQueue,
    /// Messages pushed so far; a rendezvous sender's ticket.
    pushed: Cell<u64>,
    /// Messages taken so far: a rendezvous send is done once this passes
    /// its ticket.
    taken: Cell<u64>,
}

/// A number that tells this OS thread from every other live one: the
/// address of a thread-local.
#[inline(always)]
fn thread_token() -> usize {
    thread_local! {
        static TOKEN: u8 = const { 0 };
    }
    TOKEN.with(|t| std::ptr::from_ref(t).addr())
}

/// Asserts that what it wraps may cross threads, where the type system
/// cannot see it: see its uses.
struct AssertSend<X>(X);

// SAFETY: only made on a path that a `Sender<T>` or `SyncSender<T>` took to
// another thread, which needs `T: Send` (their `Send` and `Sync` impls).
unsafe impl<X> Send for AssertSend<X> {}

impl<T> Shared<T> {
    /// A channel with one sender, unbounded if `capacity` is `None`, at home
    /// on the calling thread.
    fn new(capacity: Option<usize>) -> Arc<Shared<T>> {
        Arc::new(Shared {
            home: thread_token(),
            local: Local {
                queue: RefCell::new(VecDeque::new()),
                receivers: WaitQueue::default(),
                bounded: capacity.map(|capacity| {
                    Box::new(Bounded {
                        capacity,
                        room: WaitQueue::default(),
                        delivery: WaitQueue::default(),
                        pushed: Cell::new(0),
                        taken: Cell::new(0),
                    })
                }),
                bound_to: Cell::new(0),
            },
            senders: AtomicUsize::new(1),
            receiver_alive: AtomicBool::new(true),
            lane_busy: AtomicBool::new(false),
            lane: Mutex::new(Lane {
                items: VecDeque::new(),
                wake: None,
                pushed: 0,
                taken: 0,
            }),
            lane_taken: Condvar::new(),
            queued: AtomicUsize::new(0),
        })
    }

    /// Whether the caller is on the channel's home thread.
    #[inline(always)]
    fn is_home(&self) -> bool {
        self.home == thread_token()
    }

    /// The home's state. Callers are on the home thread (see the `Send`
    /// impl); checked in debug builds.
    #[inline(always)]
    fn local(&self) -> &Local<T> {
        debug_assert!(
            self.is_home(),
            "a channel's home state used off its home thread"
        );
        &self.local
    }

    /// The lane, locked; no code of ours panics while holding it.
    fn lane(&self) -> MutexGuard<'_, Lane<T>> {
        lock_unpoisoned(&self.lane)
    }

    /// Whether the receiver is alive.
    #[inline(always)]
    fn receiver_alive(&self) -> bool {
        self.receiver_alive.load(Ordering::Acquire)
    }

    /// Live senders.
    #[inline(always)]
    fn senders(&self) -> usize {
        self.senders.load(Ordering::Acquire)
    }

    /// Appends a message and wakes the receiver that has waited longest
    /// (home only). Returns the message's ticket (its number among all
    /// pushed).
    #[inline(always)]
    fn push(&self, value: T) -> u64 {
        let local = self.local();
        local.queue.borrow_mut().push_back(value);
        let ticket = match &local.bounded {
            Some(bounded) => {
                let ticket = bounded.pushed.get();
                bounded.pushed.set(ticket + 1);
                self.queued
                    .store(local.queue.borrow().len(), Ordering::Relaxed);
                ticket
            }
            None => 0,
        };
        local.receivers.notify_one();
        ticket
    }

    /// Takes the oldest message, if any, and tells waiting senders (home
    /// only).
    #[inline(always)]
    fn pop(&self) -> Option<T> {
        let local = self.local();
        if self.lane_busy.load(Ordering::Acquire) {
            self.take_lane();
        }
        let value = local.queue.borrow_mut().pop_front()?;
        if let Some(bounded) = &local.bounded {
            bounded.taken.set(bounded.taken.get() + 1);
            self.queued
                .store(local.queue.borrow().len(), Ordering::Relaxed);
            bounded.delivery.notify_one();
            bounded.room.notify_one();
            if self.lane_busy.load(Ordering::Acquire) {
                // Room for a message that waits on another thread.
                self.take_lane();
            }
        }
        Some(value)
    }

    /// Moves lane messages into the queue, oldest first: all of them for an
    /// unbounded channel, as many as there is room for otherwise (for a
    /// rendezvous channel, one, when the queue is empty). Home only.
    #[cold]
    #[inline(never)]
    fn take_lane(&self) {
        let local = self.local();
        let room = match &local.bounded {
            None => usize::MAX,
            Some(bounded) => bounded
                .capacity
                .max(1)
                .saturating_sub(local.queue.borrow().len()),
        };
        let mut lane = self.lane();
        let take = room.min(lane.items.len());
        let moved: Vec<T> = lane.items.drain(..take).map(|(value, _)| value).collect();
        lane.taken += take as u64;
        self.lane_busy
            .store(!lane.items.is_empty(), Ordering::Release);
        drop(lane);
        // Pushed after the lock is released: a push wakes a receiver, whose
        // log line may run a backend that sends on this very channel.
        for value in moved {
            self.push(value);
        }
        if take > 0 && local.bounded.is_some() {
            self.lane_taken.notify_all();
        }
    }

    /// Tells the lane which runtime to wake (the calling coroutine's), right
    /// before a receiver waits; home only. Cheap after the first time on a
    /// runtime: one comparison.
    /// Returns whether it just did (the caller then looks at the lane once
    /// more).
    #[inline(always)]
    fn bind(&self, runtime: u32) -> bool {
        if self.local().bound_to.get() != runtime {
            self.bind_to(runtime);
            return true;
        }
        false
    }

    /// [`Shared::bind`]'s first time on a runtime.
    #[cold]
    #[inline(never)]
    fn bind_to(&self, runtime: u32) {
        let Some(remote) = scheduler::try_with_core(Core::remote) else {
            return;
        };
        self.lane().wake = Some(remote);
        self.local().bound_to.set(runtime);
    }

    /// One more sender.
    fn add_sender(self: &Arc<Self>) -> Arc<Self> {
        self.senders.fetch_add(1, Ordering::Relaxed);
        Arc::clone(self)
    }

    /// One sender less; at the last, every waiting receiver learns that
    /// nothing more will come.
    fn drop_sender(self: &Arc<Self>) {
        if self.senders.fetch_sub(1, Ordering::AcqRel) != 1 {
            return;
        }
        if self.is_home() {
            self.local().receivers.notify_all();
        } else {
            self.tell_home();
        }
    }

    /// Has the home runtime look at the channel (from another thread): take
    /// the lane's messages and wake its receivers. The lane's lock is held
    /// by the caller or taken here, so that a receiver binding right now
    /// either sees the news or is told.
    fn tell_home(self: &Arc<Self>) {
        let remote = self.lane().wake.clone();
        if let Some(remote) = remote {
            self.post_home(&remote);
        }
    }

    /// Posts the "look at the channel" job to `remote`.
    fn post_home(self: &Arc<Self>, remote: &Remote) {
        type LookJob<'a> = Box<dyn FnOnce(&Core) + Send + 'a>;
        // Weak: a job still queued when the channel is gone finds nothing.
        let me = AssertSend(Arc::downgrade(self));
        let job: LookJob<'_> = Box::new(move |_: &Core| {
            let me = me;
            if let Some(shared) = me.0.upgrade() {
                shared.take_lane();
                shared.local().receivers.notify_all();
            }
        });
        // SAFETY: only the lifetime changes. The job holds a `Weak`, whose
        // drop reads no `T`; run, it reaches the channel only while an end
        // is alive, and an end alive means `T`'s borrows are (or the end was
        // leaked, and then the job only moves `T`s, never reads through
        // them).
        let job = unsafe { std::mem::transmute::<LookJob<'_>, LookJob<'static>>(job) };
        // A runtime that is gone has no receiver waiting to tell.
        let _ = remote.post(job);
    }

    /// A `SyncSender::try_send` from another thread: the room is judged
    /// from the home's last queue length and the lane; a rendezvous channel
    /// is always `Full` from afar (whether a receiver waits is known only
    /// at home).
    #[cold]
    #[inline(never)]
    fn try_send_from_afar(self: &Arc<Self>, value: T) -> Result<(), TrySendError<T>> {
        let capacity = self
            .local
            .bounded
            .as_ref()
            .map_or(usize::MAX, |bounded| bounded.capacity);
        {
            let lane = self.lane();
            if !self.receiver_alive() {
                return Err(TrySendError::Disconnected(value));
            }
            if self.queued.load(Ordering::Relaxed) + lane.items.len() >= capacity {
                return Err(TrySendError::Full(value));
            }
        }
        self.send_from_afar(value)
            .map(|_| ())
            .map_err(|SendError(value)| TrySendError::Disconnected(value))
    }

    /// A send from another thread: into the lane, and the home told if the
    /// lane was empty (it will look at the lane until it is empty again).
    /// Returns the message's ticket.
    #[cold]
    #[inline(never)]
    fn send_from_afar(self: &Arc<Self>, value: T) -> Result<u64, SendError<T>> {
        let mut lane = self.lane();
        if !self.receiver_alive() {
            return Err(SendError(value));
        }
        let ticket = lane.pushed;
        lane.pushed += 1;
        let was_empty = lane.items.is_empty();
        lane.items.push_back((value, ticket));
        self.lane_busy.store(true, Ordering::Release);
        if was_empty {
            if let Some(remote) = lane.wake.clone() {
                drop(lane);
                self.post_home(&remote);
            }
        }
        Ok(ticket)
    }

    /// A `SyncSender::send` from another thread: blocks the calling thread
    /// until the home took the message into the bounded queue.
    #[cold]
    #[inline(never)]
    fn send_bounded_from_afar(self: &Arc<Self>, value: T) -> Result<(), SendError<T>> {
        let ticket = self.send_from_afar(value)?;
        let mut lane = self.lane();
        loop {
            if lane.taken > ticket {
                return Ok(());
            }
            if !self.receiver_alive() {
                let at = lane.items.iter().position(|(_, t)| *t == ticket);
                return match at.and_then(|at| lane.items.remove(at)) {
                    Some((value, _)) => Err(SendError(value)),
                    None => Ok(()), // taken just before the receiver left
                };
            }
            lane = self
                .lane_taken
                .wait(lane)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// `try_recv`'s answer (home only).
    #[inline(always)]
    fn try_recv(&self) -> Result<T, TryRecvError> {
        if let Some(value) = self.pop() {
            return Ok(value);
        }
        if self.senders() != 0 {
            // A message from another thread that `pop` missed is seen
            // before the receiver waits (see `recv_until`).
            return Err(TryRecvError::Empty);
        }
        // Disconnected, unless the last senders sent from another thread
        // after `pop` looked: what they sent is in the lane by the time the
        // count says 0.
        if self.lane_busy.load(Ordering::Acquire) {
            if let Some(value) = self.pop() {
                return Ok(value);
            }
        }
        Err(TryRecvError::Disconnected)
    }

    /// Waits for a message until `deadline` (`None`: as long as it takes).
    /// `Err(true)` for disconnected, `Err(false)` for timed out. Inlined, so
    /// that `recv`'s `None` folds away (`corio_channel_pingpong` in
    /// `peers/benches/switch_costs.rs`).
    #[inline(always)]
    #[track_caller]
    fn recv_until(&self, what: &str, deadline: Option<Instant>) -> Result<T, bool> {
        loop {
            match self.try_recv() {
                Ok(value) => return Ok(value),
                Err(TryRecvError::Disconnected) => return Err(true),
                Err(TryRecvError::Empty) => {}
            }
            if deadline.is_some_and(|at| scheduler::now() >= at) {
                return Err(false);
            }
            let Ok(me) = TaskWaker::running(what) else {
                // No coroutine can wait here (see the module docs).
                return Err(true);
            };
            // A sender on another thread must know whom to wake. Once it
            // does, a message it sends after `try_recv` looked posts a
            // wake-up; one sent before this binding must be looked for.
            if self.bind(me.id().runtime()) && self.lane_busy.load(Ordering::Acquire) {
                continue;
            }
            // Queued until a send picks us; left (the guard's drop) if we
            // stop waiting for any other reason, unwinding included.
            let _waiting = self.local().receivers.wait(me);
            // Run the others from here until a sender wakes us, if we may.
            if scheduler::host_until_woken(what, crate::trace::SuspendReason::Channel) {
                continue;
            }
            let reason = match deadline {
                Some(at) => Suspend::ParkUntil(Blocker::ChannelRecv, at),
                None => Suspend::Park(Blocker::ChannelRecv),
            };
            if scheduler::suspend(what, reason).is_err() {
                return Err(true);
            }
        }
    }

    /// Waits on `queue` as a sender; `false` if no coroutine can wait here.
    #[track_caller]
    fn wait_as_sender(&self, what: &str, queue: &WaitQueue) -> bool {
        queue.wait_once(what, Blocker::ChannelSend).is_ok()
    }

    /// `SyncSender::send` on the home thread.
    #[track_caller]
    fn send_bounded(&self, bounded: &Bounded, value: T) -> Result<(), SendError<T>> {
        const WHAT: &str = "SyncSender::send";
        // Wait for room: fewer than `capacity` queued, or for a rendezvous
        // channel, nothing in flight.
        let room = bounded.capacity.max(1);
        if self.lane_busy.load(Ordering::Acquire) {
            self.take_lane(); // what other threads sent first goes first
        }
        let local = self.local();
        while local.queue.borrow().len() >= room {
            if !self.receiver_alive() || !self.wait_as_sender(WHAT, &bounded.room) {
                return Err(SendError(value));
            }
        }
        if !self.receiver_alive() {
            return Err(SendError(value));
        }
        let ticket = self.push(value);
        if bounded.capacity > 0 {
            return Ok(());
        }
        // A rendezvous: done once the receiver has taken this message.
        while bounded.taken.get() <= ticket {
            if !self.receiver_alive() || !self.wait_as_sender(WHAT, &bounded.delivery) {
                // Not taken, and it will not be: it is the one message in
                // flight, so the last queued. Give it back.
                let value = local
                    .queue
                    .borrow_mut()
                    .pop_back()
                    .expect("an untaken rendezvous message is still queued");
                return Err(SendError(value));
            }
        }
        Ok(())
    }
}

/// Creates an unbounded channel: any number of [`Sender`]s (clone it), one
/// [`Receiver`]. Messages arrive in the order each sender sent them; a send
/// never waits.
///
/// # Examples
///
/// ```
/// use corio::sync::mpsc::channel;
///
/// let got = corio::run(|| {
///     let (tx, rx) = channel();
///     for id in 0..3 {
///         let tx = tx.clone();
///         corio::spawn(move || tx.send(id).unwrap());
///     }
///     drop(tx); // so that the loop ends once every worker's sender is gone
///     let mut got: Vec<i32> = rx.iter().collect();
///     got.sort();
///     got
/// });
/// assert_eq!(got, [0, 1, 2]);
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Shared::new(None);
    (
        Sender {
            shared: Arc::clone(&shared),
        },
        Receiver {
            shared,
            _not_send: NotSend::default(),
        },
    )
}

/// Creates a bounded channel: at most `bound` messages wait in it, and
/// [`SyncSender::send`] suspends the sending coroutine while it is full.
/// With `bound` 0 it is a rendezvous channel: every send waits until the
/// receiver has taken its message.
///
/// # Examples
///
/// ```
/// use corio::sync::mpsc::{sync_channel, TrySendError};
///
/// corio::run(|| {
///     let (tx, rx) = sync_channel(1);
///     tx.send(1).unwrap();
///     assert_eq!(tx.try_send(2), Err(TrySendError::Full(2))); // no room
///     assert_eq!(rx.recv(), Ok(1));
///     tx.try_send(2).unwrap();
///
///     // A rendezvous: the send returns once the receiver took it.
///     let (tx, rx) = sync_channel(0);
///     let sender = corio::spawn(move || tx.send("hello"));
///     assert_eq!(rx.recv(), Ok("hello"));
///     sender.join().unwrap().unwrap();
/// });
/// ```
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let shared = Shared::new(Some(bound));
    (
        SyncSender {
            shared: Arc::clone(&shared),
        },
        Receiver {
            shared,
            _not_send: NotSend::default(),
        },
    )
}

/// The sending end of a [`channel`]; clone it for more producers.
///
/// # Examples
///
/// ```
/// let (tx, rx) = corio::sync::mpsc::channel();
/// tx.send("hi").unwrap();
/// assert_eq!(rx.try_recv(), Ok("hi"));
/// ```
pub struct Sender<T> {
    /// Shared with the receiver and the other senders.
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends a message. Never waits (the channel is unbounded); wakes the
    /// coroutine that has waited longest in `recv`, if one waits.
    ///
    /// # Errors
    ///
    /// If the [`Receiver`] is gone, the message comes back in the
    /// [`SendError`], as with `std::sync::mpsc`.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corio::sync::mpsc::channel();
    /// drop(rx);
    /// let err = tx.send(5).unwrap_err();
    /// assert_eq!(err.0, 5); // the value is not lost
    /// ```
    #[inline]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let shared = &self.shared;
        if !shared.is_home() {
            return shared.send_from_afar(value).map(|_| ());
        }
        if !shared.receiver_alive() {
            return Err(SendError(value));
        }
        if shared.lane_busy.load(Ordering::Acquire) {
            // What this sender sent from another thread goes first.
            shared.take_lane();
        }
        shared.push(value);
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        Sender {
            shared: self.shared.add_sender(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        self.shared.drop_sender();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// The sending end of a [`sync_channel`]; clone it for more producers.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let (tx, rx) = corio::sync::mpsc::sync_channel(2);
///     tx.send(1).unwrap();
///     tx.send(2).unwrap(); // both fit
///     assert_eq!(rx.iter().take(2).collect::<Vec<_>>(), [1, 2]);
/// });
/// ```
pub struct SyncSender<T> {
    /// Shared with the receiver and the other senders.
    shared: Arc<Shared<T>>,
}

impl<T> SyncSender<T> {
    /// The bounded part of the channel (a `SyncSender` only comes from
    /// `sync_channel`).
    fn bounded(&self) -> &Bounded {
        self.shared
            .local()
            .bounded
            .as_deref()
            .expect("a SyncSender's channel is bounded")
    }

    /// Sends a message, suspending the calling coroutine while the channel
    /// is full; on a rendezvous channel (`sync_channel(0)`), until the
    /// receiver has taken it.
    ///
    /// # Errors
    ///
    /// If the [`Receiver`] is gone (also while this waits), the message
    /// comes back in the [`SendError`]. Where no coroutine can wait (see the
    /// module docs), a send that would have to wait fails the same way.
    ///
    /// # Panics
    ///
    /// Panics if it has to wait outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc};
    ///
    /// let log = corio::run(|| {
    ///     let (tx, rx) = corio::sync::mpsc::sync_channel(1);
    ///     let log = Rc::new(RefCell::new(Vec::new()));
    ///     let l = log.clone();
    ///     let producer = corio::spawn(move || {
    ///         for n in 0..3 {
    ///             tx.send(n).unwrap(); // the second waits for room
    ///             l.borrow_mut().push(format!("sent {n}"));
    ///         }
    ///     });
    ///     corio::yield_now(); // the producer fills the channel and waits
    ///     log.borrow_mut().push("root receives".to_string());
    ///     let got: Vec<i32> = rx.iter().collect();
    ///     producer.join().unwrap();
    ///     assert_eq!(got, [0, 1, 2]);
    ///     log.take()
    /// });
    /// assert_eq!(log[..2], ["sent 0", "root receives"]);
    /// ```
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if !self.shared.is_home() {
            return self.shared.send_bounded_from_afar(value);
        }
        self.shared.send_bounded(self.bounded(), value)
    }

    /// Sends a message if there is room now; never waits. On a rendezvous
    /// channel there is room only while a receiver waits in `recv`.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] with the message when there is no room,
    /// [`TrySendError::Disconnected`] with it when the [`Receiver`] is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::sync::mpsc::{sync_channel, TrySendError};
    ///
    /// let (tx, rx) = sync_channel(0);
    /// assert_eq!(tx.try_send(1), Err(TrySendError::Full(1))); // nobody waits
    /// drop(rx);
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Disconnected(2)));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let shared = &self.shared;
        if !shared.is_home() {
            return shared.try_send_from_afar(value);
        }
        if !shared.receiver_alive() {
            return Err(TrySendError::Disconnected(value));
        }
        if shared.lane_busy.load(Ordering::Acquire) {
            shared.take_lane();
        }
        let local = shared.local();
        let bounded = self.bounded();
        let queued = local.queue.borrow().len();
        let room = if bounded.capacity == 0 {
            queued == 0 && local.receivers.len() > 0
        } else {
            queued < bounded.capacity
        };
        if !room {
            return Err(TrySendError::Full(value));
        }
        shared.push(value);
        Ok(())
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> SyncSender<T> {
        SyncSender {
            shared: self.shared.add_sender(),
        }
    }
}

impl<T> Drop for SyncSender<T> {
    fn drop(&mut self) {
        self.shared.drop_sender();
    }
}

impl<T> fmt::Debug for SyncSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SyncSender").finish_non_exhaustive()
    }
}

/// The receiving end of a [`channel`] or [`sync_channel`].
///
/// # Examples
///
/// ```
/// let (tx, rx) = corio::sync::mpsc::channel::<u8>();
/// assert!(rx.try_recv().is_err());
/// # drop(tx);
/// ```
pub struct Receiver<T> {
    /// Shared with the senders.
    shared: Arc<Shared<T>>,
    /// The receiver stays on its channel's home thread.
    _not_send: NotSend,
}

impl<T> Receiver<T> {
    /// Takes the oldest message, suspending the calling coroutine while the
    /// channel is empty.
    ///
    /// Any number of coroutines may wait on one receiver (share it through
    /// an `Rc`): they are served in the order they began to wait, one
    /// message each.
    ///
    /// # Coroutines
    ///
    /// Where no coroutine can wait (a destructor run while the runtime shuts
    /// down, a `log` backend the scheduler calls), an empty channel gives
    /// [`RecvError`] at once: no message can come to a caller that cannot
    /// wait for it.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the channel is empty and every sender is gone.
    ///
    /// # Panics
    ///
    /// Panics if it has to wait outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let (tx, rx) = corio::sync::mpsc::channel();
    ///     corio::spawn(move || {
    ///         corio::yield_now();
    ///         tx.send(42).unwrap();
    ///     });
    ///     assert_eq!(rx.recv(), Ok(42)); // waits for the producer
    ///     assert!(rx.recv().is_err()); // the producer ended: disconnected
    /// });
    /// ```
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        self.shared
            .recv_until("Receiver::recv", None)
            .map_err(|_| RecvError)
    }

    /// Takes the oldest message, waiting at most `timeout` for one. A
    /// timeout too long for an `Instant` (`Duration::MAX`) waits as long
    /// as it takes, as in std.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] if none came in time,
    /// [`RecvTimeoutError::Disconnected`] once the channel is empty and every
    /// sender is gone (or where no coroutine can wait, as for
    /// [`recv`](Receiver::recv)).
    ///
    /// # Panics
    ///
    /// Panics if it has to wait outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use corio::sync::mpsc::{channel, RecvTimeoutError};
    ///
    /// corio::run(|| {
    ///     let (tx, rx) = channel::<u8>();
    ///     let waited = rx.recv_timeout(Duration::from_millis(10));
    ///     assert_eq!(waited, Err(RecvTimeoutError::Timeout));
    ///     corio::spawn(move || {
    ///         corio::sleep(Duration::from_millis(5));
    ///         tx.send(7).unwrap();
    ///     });
    ///     assert_eq!(rx.recv_timeout(Duration::from_secs(5)), Ok(7));
    /// });
    /// ```
    #[track_caller]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let deadline = scheduler::now().checked_add(timeout);
        self.shared
            .recv_until("Receiver::recv_timeout", deadline)
            .map_err(|disconnected| {
                if disconnected {
                    RecvTimeoutError::Disconnected
                } else {
                    RecvTimeoutError::Timeout
                }
            })
    }

    /// Takes the oldest message if there is one; never waits.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if no message waits,
    /// [`TryRecvError::Disconnected`] if none waits and every sender is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::sync::mpsc::{channel, TryRecvError};
    ///
    /// let (tx, rx) = channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.shared.try_recv()
    }

    /// An iterator that receives until the channel is disconnected: each
    /// `next` is a [`recv`](Receiver::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let (tx, rx) = corio::sync::mpsc::channel();
    ///     corio::spawn(move || (1..=3).for_each(|n| tx.send(n).unwrap()));
    ///     assert_eq!(rx.iter().collect::<Vec<_>>(), [1, 2, 3]);
    /// });
    /// ```
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { receiver: self }
    }

    /// An iterator over the messages waiting now; it never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corio::sync::mpsc::channel();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    /// assert_eq!(rx.try_iter().next(), None); // the sender is alive, but nothing waits
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { receiver: self }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let shared = &self.shared;
        // Under the lane's lock, so that a sender on another thread either
        // sees the receiver gone or has its message in the lane to drop.
        let stranded = {
            let mut lane = shared.lane();
            shared.receiver_alive.store(false, Ordering::Release);
            shared.lane_busy.store(false, Ordering::Release);
            std::mem::take(&mut lane.items)
        };
        // Every buffered message goes now, as with std, not when the last
        // sender does. Except a rendezvous message: its sender is still
        // waiting in `send` and gives it back in its `SendError`. Taken
        // out first, so a message's destructor that touches this channel
        // (drops a `Sender` of it) finds the queue unborrowed.
        let local = shared.local();
        let rendezvous = local.bounded.as_ref().is_some_and(|b| b.capacity == 0);
        let buffered = if rendezvous {
            VecDeque::new()
        } else {
            std::mem::take(&mut *local.queue.borrow_mut())
        };
        // Senders waiting for room or for a delivery will never get either.
        shared.lane_taken.notify_all();
        if let Some(bounded) = &local.bounded {
            bounded.room.notify_all();
            bounded.delivery.notify_all();
        }
        drop(stranded);
        drop(buffered);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("queued", &self.shared.local().queue.borrow().len())
            .field("waiting", &self.shared.local().receivers.len())
            .finish_non_exhaustive()
    }
}

/// An iterator over messages on a [`Receiver`], made by
/// [`Receiver::iter`]: it waits for each message and ends when the channel
/// is disconnected.
///
/// # Examples
///
/// ```
/// let (tx, rx) = corio::sync::mpsc::channel();
/// tx.send(1).unwrap();
/// drop(tx);
/// let mut iter = rx.iter();
/// assert_eq!(iter.next(), Some(1));
/// assert_eq!(iter.next(), None);
/// ```
#[derive(Debug)]
pub struct Iter<'a, T> {
    /// The receiver it receives on.
    receiver: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

/// An iterator over the messages waiting on a [`Receiver`] now, made by
/// [`Receiver::try_iter`]; it never waits.
///
/// # Examples
///
/// ```
/// let (tx, rx) = corio::sync::mpsc::channel();
/// tx.send(1).unwrap();
/// let mut iter = rx.try_iter();
/// assert_eq!(iter.next(), Some(1));
/// assert_eq!(iter.next(), None);
/// # drop(tx);
/// ```
#[derive(Debug)]
pub struct TryIter<'a, T> {
    /// The receiver it takes from.
    receiver: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.receiver.try_recv().ok()
    }
}

/// An owning iterator over messages on a [`Receiver`] (`for msg in rx`): it
/// waits for each message and ends when the channel is disconnected.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let (tx, rx) = corio::sync::mpsc::channel();
///     corio::spawn(move || (0..3).for_each(|n| tx.send(n).unwrap()));
///     let mut seen = Vec::new();
///     for n in rx {
///         seen.push(n);
///     }
///     assert_eq!(seen, [0, 1, 2]);
/// });
/// ```
#[derive(Debug)]
pub struct IntoIter<T> {
    /// The receiver it owns.
    receiver: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.receiver.recv().ok()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter { receiver: self }
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

/// What `select!` needs of a [`Receiver`]; not an API of its own.
#[doc(hidden)]
impl<T> Receiver<T> {
    /// Whether a receive would not wait: a message is there, or every
    /// sender is gone.
    pub fn __select_ready(&self) -> bool {
        let shared = &self.shared;
        !shared.local().queue.borrow().is_empty()
            || shared.lane_busy.load(Ordering::Acquire)
            || shared.senders() == 0
    }

    /// The receive `__select_ready` promised (a message or a disconnect).
    pub fn __select_take(&self) -> Result<T, RecvError> {
        self.shared.try_recv().map_err(|_| RecvError)
    }

    /// Queues the running coroutine among this channel's receivers until
    /// the registration is dropped; `None` where no coroutine can wait.
    #[track_caller]
    pub fn __select_register(&self) -> Option<SelectRegistration<'_>> {
        let me = TaskWaker::running("corio::select!").ok()?;
        // As `recv`: tell senders on other threads whom to wake. A message
        // that came before is seen by the `__select_ready` that follows.
        let _ = self.shared.bind(me.id().runtime());
        let receivers = &self.shared.local().receivers;
        Some(SelectRegistration {
            waiting: Some(receivers.wait(me)),
            receivers,
        })
    }
}

/// A `select!` waiting on one channel; not an API of its own. Dropped, it
/// leaves the channel's queue; if the channel had already notified it, it
/// passes that notification on to the next receiver waiting there, since
/// the select may take another branch and the message must not sit
/// unnoticed.
#[doc(hidden)]
pub struct SelectRegistration<'a> {
    /// The place in the channel's queue.
    waiting: Option<super::wait_queue::Waiting<'a>>,
    /// The channel's queue, to pass a notification on.
    receivers: &'a WaitQueue,
}

impl Drop for SelectRegistration<'_> {
    fn drop(&mut self) {
        let Some(waiting) = self.waiting.take() else {
            return;
        };
        let notified = !waiting.is_queued();
        drop(waiting);
        if notified {
            self.receivers.notify_one();
        }
    }
}

impl fmt::Debug for SelectRegistration<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelectRegistration").finish_non_exhaustive()
    }
}

/// Suspends a `select!` until a registered channel notifies it or
/// `deadline` passes; `false` where no coroutine can wait. Not an API of
/// its own.
#[doc(hidden)]
#[track_caller]
pub fn __select_wait(deadline: Option<Instant>) -> bool {
    let reason = match deadline {
        Some(at) => Suspend::ParkUntil(Blocker::Select, at),
        None => Suspend::Park(Blocker::Select),
    };
    scheduler::suspend("corio::select!", reason).is_ok()
}

/// The deadline of a `select!`'s `default(timeout)`; not an API of its own.
#[doc(hidden)]
pub fn __select_deadline(timeout: Duration) -> Option<Instant> {
    scheduler::now().checked_add(timeout)
}

/// Whether a `select!`'s deadline has passed, on its runtime's clock (a
/// virtual one jumps); not an API of its own.
#[doc(hidden)]
pub fn __select_passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|at| scheduler::now() >= at)
}

#[doc(hidden)]
impl<T> Receiver<T> {
    /// The disconnect `select!` reports when no coroutine can wait.
    pub fn __select_disconnected(&self) -> Result<T, RecvError> {
        Err(RecvError)
    }
}
