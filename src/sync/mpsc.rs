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
//! - The ends are not `Send`: they link coroutines of one runtime.
//! - Where no coroutine can wait (a destructor run while the runtime shuts
//!   down, a `log` backend the scheduler calls), a receive that would wait
//!   reports the channel as disconnected, and a send that would wait fails
//!   with the message in its error, so that nothing hangs and nothing is
//!   lost.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

use super::wait_queue::WaitQueue;
use crate::scheduler::{self, Blocker, Suspend, TaskWaker};

/// The state both ends share.
struct Shared<T> {
    /// Messages sent and not yet received, oldest first.
    queue: RefCell<VecDeque<T>>,
    /// Coroutines waiting in `recv`, oldest first: any number may wait on
    /// one `Receiver` shared through an `Rc`, and a send wakes the oldest.
    receivers: WaitQueue,
    /// The bound of a `sync_channel`, and its waiting senders; `None` for an
    /// unbounded channel, which then pays one word for it.
    bounded: Option<Box<Bounded>>,
    /// Live `Sender`s and `SyncSender`s; at zero, `recv` on an empty queue
    /// fails.
    senders: Cell<usize>,
    /// Whether the `Receiver` is alive; when not, `send` fails.
    receiver_alive: Cell<bool>,
}

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

impl<T> Shared<T> {
    /// A channel with one sender, unbounded if `capacity` is `None`.
    fn new(capacity: Option<usize>) -> Rc<Shared<T>> {
        Rc::new(Shared {
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
            senders: Cell::new(1),
            receiver_alive: Cell::new(true),
        })
    }

    /// Appends a message and wakes the receiver that has waited longest.
    /// Returns the message's ticket (its number among all pushed).
    fn push(&self, value: T) -> u64 {
        self.queue.borrow_mut().push_back(value);
        let ticket = match &self.bounded {
            Some(bounded) => {
                let ticket = bounded.pushed.get();
                bounded.pushed.set(ticket + 1);
                ticket
            }
            None => 0,
        };
        self.receivers.notify_one();
        ticket
    }

    /// Takes the oldest message, if any, and tells waiting senders.
    fn pop(&self) -> Option<T> {
        let value = self.queue.borrow_mut().pop_front()?;
        if let Some(bounded) = &self.bounded {
            bounded.taken.set(bounded.taken.get() + 1);
            bounded.delivery.notify_one();
            bounded.room.notify_one();
        }
        Some(value)
    }

    /// The queue's length.
    fn len(&self) -> usize {
        self.queue.borrow().len()
    }

    /// One more sender.
    fn add_sender(self: &Rc<Self>) -> Rc<Self> {
        self.senders.set(self.senders.get() + 1);
        Rc::clone(self)
    }

    /// One sender less; at the last, every waiting receiver learns that
    /// nothing more will come.
    fn drop_sender(&self) {
        let left = self.senders.get() - 1;
        self.senders.set(left);
        if left == 0 {
            self.receivers.notify_all();
        }
    }

    /// `try_recv`'s answer.
    fn try_recv(&self) -> Result<T, TryRecvError> {
        if let Some(value) = self.pop() {
            return Ok(value);
        }
        if self.senders.get() == 0 {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }

    /// Waits for a message until `deadline` (`None`: as long as it takes).
    /// `Err(true)` for disconnected, `Err(false)` for timed out. Inlined, so
    /// that `recv`'s `None` folds away (`corio_channel_pingpong` in
    /// `benches/switch_costs.rs`).
    #[inline(always)]
    #[track_caller]
    fn recv_until(&self, what: &str, deadline: Option<Instant>) -> Result<T, bool> {
        loop {
            match self.try_recv() {
                Ok(value) => return Ok(value),
                Err(TryRecvError::Disconnected) => return Err(true),
                Err(TryRecvError::Empty) => {}
            }
            if deadline.is_some_and(|at| Instant::now() >= at) {
                return Err(false);
            }
            let Ok(me) = TaskWaker::running(what) else {
                // No coroutine can wait here (see the module docs).
                return Err(true);
            };
            // Queued until a send picks us; left (the guard's drop) if we
            // stop waiting for any other reason, unwinding included.
            let _waiting = self.receivers.wait(me);
            // Run the others from here until a sender wakes us, if we may.
            if scheduler::host_until_woken(what) {
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

    /// `SyncSender::send`.
    #[track_caller]
    fn send_bounded(&self, bounded: &Bounded, value: T) -> Result<(), SendError<T>> {
        const WHAT: &str = "SyncSender::send";
        // Wait for room: fewer than `capacity` queued, or for a rendezvous
        // channel, nothing in flight.
        let room = bounded.capacity.max(1);
        while self.len() >= room {
            if !self.receiver_alive.get() || !self.wait_as_sender(WHAT, &bounded.room) {
                return Err(SendError(value));
            }
        }
        if !self.receiver_alive.get() {
            return Err(SendError(value));
        }
        let ticket = self.push(value);
        if bounded.capacity > 0 {
            return Ok(());
        }
        // A rendezvous: done once the receiver has taken this message.
        while bounded.taken.get() <= ticket {
            if !self.receiver_alive.get() || !self.wait_as_sender(WHAT, &bounded.delivery) {
                // Not taken, and it will not be: it is the one message in
                // flight, so the last queued. Give it back.
                let value = self
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
            shared: Rc::clone(&shared),
        },
        Receiver { shared },
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
            shared: Rc::clone(&shared),
        },
        Receiver { shared },
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
    shared: Rc<Shared<T>>,
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
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if !self.shared.receiver_alive.get() {
            return Err(SendError(value));
        }
        self.shared.push(value);
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
    shared: Rc<Shared<T>>,
}

impl<T> SyncSender<T> {
    /// The bounded part of the channel (a `SyncSender` only comes from
    /// `sync_channel`).
    fn bounded(&self) -> &Bounded {
        self.shared
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
        if !self.shared.receiver_alive.get() {
            return Err(TrySendError::Disconnected(value));
        }
        let bounded = self.bounded();
        let room = if bounded.capacity == 0 {
            self.shared.len() == 0 && self.shared.receivers.len() > 0
        } else {
            self.shared.len() < bounded.capacity
        };
        if !room {
            return Err(TrySendError::Full(value));
        }
        self.shared.push(value);
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
    shared: Rc<Shared<T>>,
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
        let deadline = Instant::now().checked_add(timeout);
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
        self.shared.receiver_alive.set(false);
        // Senders waiting for room or for a delivery will never get either.
        if let Some(bounded) = &self.shared.bounded {
            bounded.room.notify_all();
            bounded.delivery.notify_all();
        }
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("queued", &self.shared.len())
            .field("waiting", &self.shared.receivers.len())
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
        self.shared.len() > 0 || self.shared.senders.get() == 0
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
        Some(SelectRegistration {
            waiting: Some(self.shared.receivers.wait(me)),
            receivers: &self.shared.receivers,
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
    Instant::now().checked_add(timeout)
}

#[doc(hidden)]
impl<T> Receiver<T> {
    /// The disconnect `select!` reports when no coroutine can wait.
    pub fn __select_disconnected(&self) -> Result<T, RecvError> {
        Err(RecvError)
    }
}
