//! A FIFO of coroutines waiting for something (a message, later a lock), with
//! constant-time push, pop and removal.
//!
//! Every waiter is kept: several coroutines may wait on one `Receiver`
//! (shared through an `Rc`, the obvious worker pool), and each is served in
//! the order it began to wait. A waiter leaves the queue either because it
//! was notified (popped by [`WaitQueue::notify_one`]) or because it stopped
//! waiting on its own (its [`Waiting`] guard is dropped: it was woken for
//! another reason, or unwound by a dropped runtime). The second must not cost
//! a search through the queue, or tearing down a runtime with a million
//! waiters on one channel would be quadratic; so the queue is a doubly
//! linked list ([`Linked`]), and the guard remembers its node.
//!
//! Most queues never hold more than one waiter (a coroutine per channel),
//! and every parked coroutine pays for its queue's memory: a lone waiter is
//! kept inline (`Inner::solo`), and the slab is only allocated once a
//! second one comes.

use std::cell::{Cell, RefCell};
use std::time::Instant;

use super::linked::{Link, Linked, Node, RESERVED};
use crate::scheduler::{self, Blocker, CannotWait, Suspend, TaskId, TaskWaker};

/// The key of the inline waiter (`Inner::solo`), never a slab key.
const SOLO: Link = RESERVED;

const _: () = assert!(size_of::<Node<TaskWaker>>() == 32);
const _: () = assert!(size_of::<Inner>() == 32);
const _: () = assert!(size_of::<WaitQueue>() == 48);

/// The waiters behind the inline one, oldest first.
type List = Linked<TaskWaker>;

/// Coroutines waiting for one thing, oldest first. See the module docs.
#[derive(Default)]
pub(crate) struct WaitQueue {
    /// Borrowed only inside these methods, never across a wake-up (waking
    /// is done after the borrow ends) or a switch.
    inner: RefCell<Inner>,
    /// How many wait, kept beside `inner` so that the common "nobody waits"
    /// costs one load (an unlock, a send: `mutex/corio_uncontended` in
    /// `peers/benches/sync.rs`).
    waiting: Cell<usize>,
}

/// A [`WaitQueue`]'s waiters: 32 bytes while at most one waits.
#[derive(Default)]
struct Inner {
    /// The oldest waiter, when it came while nobody else waited. Invariant:
    /// when set, it is older than every waiter in `rest`.
    solo: Option<TaskWaker>,
    /// The other waiters; allocated when a second one comes.
    rest: Option<Box<List>>,
}

impl WaitQueue {
    /// A queue nobody waits in.
    pub(crate) const fn new() -> WaitQueue {
        WaitQueue {
            inner: RefCell::new(Inner {
                solo: None,
                rest: None,
            }),
            waiting: Cell::new(0),
        }
    }

    /// Adds the running coroutine, represented by `waker`, at the back; it
    /// stays queued until notified or until the guard is dropped.
    pub(crate) fn wait(&self, waker: TaskWaker) -> Waiting<'_> {
        let task = waker.id();
        let mut inner = self.inner.borrow_mut();
        let nobody_else =
            inner.solo.is_none() && inner.rest.as_ref().is_none_or(|list| list.is_empty());
        let key = if nobody_else {
            inner.solo = Some(waker);
            SOLO
        } else {
            inner.rest.get_or_insert_with(Box::default).push_back(waker)
        };
        self.waiting.set(self.waiting.get() + 1);
        Waiting {
            queue: self,
            key,
            task,
        }
    }

    /// Waits once in this queue as the running coroutine: queued, suspended
    /// (`blocker` says on what, for the deadlock report), and out of the
    /// queue again when it runs. `Ok(true)` if a notify woke it, `Ok(false)`
    /// for any other wake-up; the caller re-checks what it waits for.
    ///
    /// # Errors
    ///
    /// [`CannotWait`], without queueing, where no coroutine can wait.
    ///
    /// # Panics
    ///
    /// Panics with a message naming `what` outside any runtime.
    #[track_caller]
    pub(crate) fn wait_once(&self, what: &str, blocker: Blocker) -> Result<bool, CannotWait> {
        self.wait_once_until(what, blocker, None)
    }

    /// As [`WaitQueue::wait_once`], woken at `deadline` (if any) if
    /// nothing else woke it before.
    ///
    /// # Errors
    ///
    /// As [`WaitQueue::wait_once`].
    ///
    /// # Panics
    ///
    /// As [`WaitQueue::wait_once`].
    #[track_caller]
    pub(crate) fn wait_once_until(
        &self,
        what: &str,
        blocker: Blocker,
        deadline: Option<Instant>,
    ) -> Result<bool, CannotWait> {
        let me = TaskWaker::running(what)?;
        let waiting = self.wait(me);
        let reason = match deadline {
            Some(at) => Suspend::ParkUntil(blocker, at),
            None => Suspend::Park(blocker),
        };
        scheduler::suspend(what, reason)?;
        Ok(!waiting.is_queued())
    }

    /// Removes the oldest waiter and wakes it; `false` if none waits.
    pub(crate) fn notify_one(&self) -> bool {
        self.notify_one_id().is_some()
    }

    /// Removes the oldest waiter and wakes it, and says who it was (a lock
    /// hands itself over to that task).
    pub(crate) fn notify_one_id(&self) -> Option<TaskId> {
        if self.waiting.get() == 0 {
            return None;
        }
        let popped = {
            let mut inner = self.inner.borrow_mut();
            inner
                .solo
                .take()
                .or_else(|| inner.rest.as_mut()?.pop_front())
        };
        let waker = popped?;
        self.waiting.set(self.waiting.get() - 1);
        waker.wake();
        Some(waker.id())
    }

    /// Removes and wakes every waiter, oldest first.
    pub(crate) fn notify_all(&self) {
        while self.notify_one() {}
    }

    /// How many wait.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.waiting.get()
    }
}

/// A place in a [`WaitQueue`]; dropping it leaves the queue if the waiter is
/// still there (it was not the one notified).
pub(crate) struct Waiting<'a> {
    /// The queue waited in.
    queue: &'a WaitQueue,
    /// The node's key. Keys are reused once a node is gone, hence `task`.
    key: Link,
    /// Who waits: a node at `key` that wakes another task is not ours.
    task: TaskId,
}

impl Waiting<'_> {
    /// Whether this waiter is still queued: not notified (yet).
    pub(crate) fn is_queued(&self) -> bool {
        let inner = self.queue.inner.borrow();
        if self.key == SOLO {
            return inner.solo.as_ref().is_some_and(|w| w.id() == self.task);
        }
        inner.rest.as_ref().is_some_and(|list| {
            list.get(self.key)
                .is_some_and(|waker| waker.id() == self.task)
        })
    }
}

impl Drop for Waiting<'_> {
    /// Leaves the queue if this waiter is still in it (it was not the one
    /// notified; a notified waiter's place may hold another task by now).
    fn drop(&mut self) {
        let mut inner = self.queue.inner.borrow_mut();
        let left = if self.key == SOLO {
            let ours = inner.solo.as_ref().is_some_and(|w| w.id() == self.task);
            if ours {
                inner.solo = None;
            }
            ours
        } else if let Some(list) = inner.rest.as_mut() {
            let ours = list
                .get(self.key)
                .is_some_and(|waker| waker.id() == self.task);
            if ours {
                list.remove(self.key);
            }
            ours
        } else {
            false
        };
        if left {
            let waiting = &self.queue.waiting;
            waiting.set(waiting.get() - 1);
        }
    }
}
