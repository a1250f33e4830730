//! An unbounded multi-producer, single-consumer channel for coroutines.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::{Rc, Weak};
use std::sync::mpsc::{RecvError, SendError, TryRecvError};

use crate::context;
use crate::scheduler::{Blocker, Core, Suspend, Wake};
use crate::task::TaskId;

/// The state both ends share.
struct Shared<T> {
    /// Messages sent and not yet received, oldest first.
    queue: RefCell<VecDeque<T>>,
    /// The receiver's task while it is parked in `recv`, with the runtime it
    /// lives in, so a send from anywhere on the thread can wake it.
    parked_receiver: RefCell<Option<(TaskId, Weak<Core>)>>,
    /// Live `Sender`s; at zero, `recv` on an empty queue fails.
    senders: Cell<usize>,
    /// Whether the `Receiver` is alive; when not, `send` fails.
    receiver_alive: Cell<bool>,
}

impl<T> Shared<T> {
    /// Wakes the parked receiver, if any.
    fn wake_receiver(&self) {
        let parked = self.parked_receiver.borrow_mut().take();
        if let Some((task, core)) = parked {
            if let Some(core) = core.upgrade() {
                core.wake(task, Wake::Notified);
            }
        }
    }
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
        parked_receiver: RefCell::new(None),
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
    /// receiver if it waits.
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
        self.shared.wake_receiver();
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
            // The receiver must learn that nothing more will come.
            self.shared.wake_receiver();
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
    /// # Errors
    ///
    /// [`RecvError`] once the channel is empty and every [`Sender`] is gone.
    ///
    /// # Panics
    ///
    /// Panics if it has to wait and is not called from a corio coroutine.
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
    pub fn recv(&self) -> Result<T, RecvError> {
        loop {
            match self.try_recv() {
                Ok(value) => return Ok(value),
                Err(TryRecvError::Disconnected) => return Err(RecvError),
                Err(TryRecvError::Empty) => {}
            }
            let me = context::current_id("Receiver::recv");
            let core = context::with_core("Receiver::recv", Core::weak);
            *self.shared.parked_receiver.borrow_mut() = Some((me, core));
            let _clear = ClearOnUnwind(&self.shared.parked_receiver);
            // Run the others from here until a sender wakes us, if we may.
            if context::host_until_woken("Receiver::recv") {
                continue;
            }
            context::suspend("Receiver::recv", Suspend::Park(Blocker::ChannelRecv));
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

/// Forgets the parked receiver when `recv` is left by unwinding (its runtime
/// was dropped), so no sender later tries to wake a task that is gone.
struct ClearOnUnwind<'a, T>(&'a RefCell<Option<T>>);

impl<T> Drop for ClearOnUnwind<'_, T> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.borrow_mut().take();
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
            .finish_non_exhaustive()
    }
}
