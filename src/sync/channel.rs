//! An unbounded multi-producer, single-consumer channel for coroutines.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::sync::mpsc::{RecvError, SendError, TryRecvError};

use super::wait_queue::WaitQueue;
use crate::scheduler::{self, Blocker, Suspend, TaskWaker};

/// The state both ends share.
struct Shared<T> {
    /// Messages sent and not yet received, oldest first.
    queue: RefCell<VecDeque<T>>,
    /// Coroutines waiting in `recv`, oldest first: any number may wait on
    /// one `Receiver` shared through an `Rc`, and a send wakes the oldest.
    receivers: WaitQueue,
    /// Live `Sender`s; at zero, `recv` on an empty queue fails.
    senders: Cell<usize>,
    /// Whether the `Receiver` is alive; when not, `send` fails.
    receiver_alive: Cell<bool>,
}

/// Creates a channel: any number of [`Sender`]s (clone it), one
/// [`Receiver`]. Messages arrive in the order each sender sent them.
///
/// # Examples
///
/// ```
/// use corio::sync::channel;
///
/// let got = corio::run(|| {
///     let (tx, rx) = channel();
///     for id in 0..3 {
///         let tx = tx.clone();
///         corio::spawn(move || tx.send(id).unwrap());
///     }
///     drop(tx); // so that recv ends once every worker's sender is gone
///     let mut got: Vec<i32> = std::iter::from_fn(|| rx.recv().ok()).collect();
///     got.sort();
///     got
/// });
/// assert_eq!(got, [0, 1, 2]);
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let shared = Rc::new(Shared {
        queue: RefCell::new(VecDeque::new()),
        receivers: WaitQueue::default(),
        senders: Cell::new(1),
        receiver_alive: Cell::new(true),
    });
    (
        Sender {
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
/// let (tx, rx) = corio::sync::channel();
/// tx.send("hi").unwrap();
/// assert_eq!(rx.try_recv(), Ok("hi"));
/// ```
pub struct Sender<T> {
    /// Shared with the receiver and the other senders.
    shared: Rc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends a message. Never blocks (the channel is unbounded); wakes the
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
    /// let (tx, rx) = corio::sync::channel();
    /// drop(rx);
    /// let err = tx.send(5).unwrap_err();
    /// assert_eq!(err.0, 5); // the value is not lost
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        if !self.shared.receiver_alive.get() {
            return Err(SendError(value));
        }
        self.shared.queue.borrow_mut().push_back(value);
        self.shared.receivers.notify_one();
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.shared.senders.set(self.shared.senders.get() + 1);
        Sender {
            shared: Rc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let left = self.shared.senders.get() - 1;
        self.shared.senders.set(left);
        if left == 0 {
            // Every waiting receiver must learn that nothing more will come.
            self.shared.receivers.notify_all();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

/// The receiving end of a [`channel`].
///
/// # Examples
///
/// ```
/// let (tx, rx) = corio::sync::channel::<u8>();
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
    /// [`RecvError`] once the channel is empty and every [`Sender`] is gone.
    ///
    /// # Panics
    ///
    /// Panics if it has to wait outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let (tx, rx) = corio::sync::channel();
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
        const WHAT: &str = "Receiver::recv";
        loop {
            match self.try_recv() {
                Ok(value) => return Ok(value),
                Err(TryRecvError::Disconnected) => return Err(RecvError),
                Err(TryRecvError::Empty) => {}
            }
            let Ok(me) = TaskWaker::running(WHAT) else {
                // No coroutine can wait here (see `# Coroutines`).
                return Err(RecvError);
            };
            // Queued until a send picks us; left (the guard's drop) if we
            // stop waiting for any other reason, unwinding included.
            let _waiting = self.shared.receivers.wait(me);
            // Run the others from here until a sender wakes us, if we may.
            if scheduler::host_until_woken(WHAT) {
                continue;
            }
            if scheduler::suspend(WHAT, Suspend::Park(Blocker::ChannelRecv)).is_err() {
                return Err(RecvError);
            }
        }
    }

    /// Takes the oldest message if there is one; never blocks.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] if no message waits, [`TryRecvError::Disconnected`]
    /// if none waits and every [`Sender`] is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::sync::{channel, TryRecvError};
    ///
    /// let (tx, rx) = channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        if let Some(value) = self.shared.queue.borrow_mut().pop_front() {
            return Ok(value);
        }
        if self.shared.senders.get() == 0 {
            Err(TryRecvError::Disconnected)
        } else {
            Err(TryRecvError::Empty)
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.shared.receiver_alive.set(false);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("queued", &self.shared.queue.borrow().len())
            .field("waiting", &self.shared.receivers.len())
            .finish_non_exhaustive()
    }
}
