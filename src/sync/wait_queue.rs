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
//! linked list in a `Slab`, and the guard remembers its node.

use std::cell::RefCell;

use slab::Slab;

use crate::scheduler::TaskWaker;

/// One waiter in the list.
struct Node {
    /// Who to wake.
    waker: TaskWaker,
    /// The node before this one (older), if any.
    prev: Option<usize>,
    /// The node after this one (newer), if any.
    next: Option<usize>,
}

/// The list proper: nodes in a slab, linked oldest to newest.
#[derive(Default)]
struct List {
    /// Every node in the queue, keyed by its slab key.
    nodes: Slab<Node>,
    /// The oldest waiter.
    head: Option<usize>,
    /// The newest waiter.
    tail: Option<usize>,
}

impl List {
    /// Appends a waiter; returns its node key.
    fn push_back(&mut self, waker: TaskWaker) -> usize {
        let key = self.nodes.insert(Node {
            waker,
            prev: self.tail,
            next: None,
        });
        match self.tail {
            Some(tail) => self.nodes[tail].next = Some(key),
            None => self.head = Some(key),
        }
        self.tail = Some(key);
        key
    }

    /// Unlinks and returns node `key`.
    fn unlink(&mut self, key: usize) -> Node {
        let node = self.nodes.remove(key);
        match node.prev {
            Some(prev) => self.nodes[prev].next = node.next,
            None => self.head = node.next,
        }
        match node.next {
            Some(next) => self.nodes[next].prev = node.prev,
            None => self.tail = node.prev,
        }
        node
    }
}

/// Coroutines waiting for one thing, oldest first. See the module docs.
#[derive(Default)]
pub(crate) struct WaitQueue {
    /// Borrowed only inside these methods, never across a wake-up (waking
    /// is done after the borrow ends) or a switch.
    list: RefCell<List>,
}

impl WaitQueue {
    /// Adds the running coroutine, represented by `waker`, at the back; it
    /// stays queued until notified or until the guard is dropped.
    pub(crate) fn wait(&self, waker: TaskWaker) -> Waiting<'_> {
        let task = waker.id();
        let key = self.list.borrow_mut().push_back(waker);
        Waiting {
            queue: self,
            key,
            task,
        }
    }

    /// Removes the oldest waiter and wakes it; `false` if none waits.
    pub(crate) fn notify_one(&self) -> bool {
        let popped = {
            let mut list = self.list.borrow_mut();
            list.head.map(|head| list.unlink(head))
        };
        match popped {
            Some(node) => {
                node.waker.wake();
                true
            }
            None => false,
        }
    }

    /// Removes and wakes every waiter, oldest first.
    pub(crate) fn notify_all(&self) {
        while self.notify_one() {}
    }

    /// How many wait.
    pub(crate) fn len(&self) -> usize {
        self.list.borrow().nodes.len()
    }
}

/// A place in a [`WaitQueue`]; dropping it leaves the queue if the waiter is
/// still there (it was not the one notified).
pub(crate) struct Waiting<'a> {
    /// The queue waited in.
    queue: &'a WaitQueue,
    /// The node's key. Keys are reused once a node is gone, hence `task`.
    key: usize,
    /// Who waits: a node at `key` that wakes another task is not ours.
    task: crate::scheduler::TaskId,
}

impl Waiting<'_> {
    /// Whether this waiter is still queued (not notified yet).
    pub(crate) fn is_queued(&self) -> bool {
        let list = self.queue.list.borrow();
        list.nodes
            .get(self.key)
            .is_some_and(|node| node.waker.id() == self.task)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.is_queued() {
            self.queue.list.borrow_mut().unlink(self.key);
        }
    }
}
