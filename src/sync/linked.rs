//! A FIFO with constant-time removal from the middle: a doubly linked list
//! whose nodes live in a `Slab`, addressed by 32-bit keys.
//!
//! Both kinds of waiter queue build on it: the `Sync` locks' [`List`]
//! (`waiters.rs`) and the runtime-local [`WaitQueue`] (`wait_queue.rs`). A
//! waiter that stops waiting on its own (a timeout, an unwind, a runtime
//! torn down with a million waiters on one channel) leaves by its key,
//! without a search. Keys are `u32` rather than `usize`, so that a node
//! holding a 24-byte waker is 32 bytes.
//!
//! A key is reused once its node is gone; callers that keep a key across a
//! wait tell their node from a later one by what it holds (a ticket, a task
//! id).
//!
//! [`List`]: super::waiters::List
//! [`WaitQueue`]: super::wait_queue::WaitQueue

use slab::Slab;

/// A node's key, or [`NONE`].
pub(super) type Link = u32;

/// No node.
pub(super) const NONE: Link = Link::MAX;

/// Never a node's key: free for a caller's own use (`wait_queue` gives it
/// to the waiter it keeps inline). Keys stay below it.
pub(super) const RESERVED: Link = Link::MAX - 1;

/// One queued value and its neighbours.
pub(super) struct Node<T> {
    /// What is queued.
    value: T,
    /// The node before this one (older), or [`NONE`].
    prev: Link,
    /// The node after this one (newer), or [`NONE`].
    next: Link,
}

/// Values oldest first; see the module docs.
pub(super) struct Linked<T> {
    /// Every node, by key.
    nodes: Slab<Node<T>>,
    /// The oldest, or [`NONE`].
    head: Link,
    /// The newest, or [`NONE`].
    tail: Link,
}

impl<T> Linked<T> {
    /// Empty, with nothing allocated.
    pub(super) const fn new() -> Linked<T> {
        Linked {
            nodes: Slab::new(),
            head: NONE,
            tail: NONE,
        }
    }

    /// Appends `value`; returns its key.
    ///
    /// # Panics
    ///
    /// With `2^32 - 2` values queued.
    pub(super) fn push_back(&mut self, value: T) -> Link {
        if self.nodes.capacity() == 0 {
            // Most queues never hold more than one: room for one, not the
            // four a first push would reserve.
            self.nodes.reserve_exact(1);
        }
        let key = self.nodes.insert(Node {
            value,
            prev: self.tail,
            next: NONE,
        });
        let key = Link::try_from(key)
            .ok()
            .filter(|&key| key < RESERVED)
            .expect("fewer than 2^32 - 2 waiters in one queue");
        match self.tail {
            NONE => self.head = key,
            tail => self.nodes[tail as usize].next = key,
        }
        self.tail = key;
        key
    }

    /// Removes and returns the oldest value.
    pub(super) fn pop_front(&mut self) -> Option<T> {
        match self.head {
            NONE => None,
            head => Some(self.remove(head)),
        }
    }

    /// Removes and returns the value at `key`.
    ///
    /// # Panics
    ///
    /// If nothing is queued at `key`.
    pub(super) fn remove(&mut self, key: Link) -> T {
        let node = self.nodes.remove(key as usize);
        match node.prev {
            NONE => self.head = node.next,
            prev => self.nodes[prev as usize].next = node.next,
        }
        match node.next {
            NONE => self.tail = node.prev,
            next => self.nodes[next as usize].prev = node.prev,
        }
        node.value
    }

    /// The value at `key`, if one is queued there.
    pub(super) fn get(&self, key: Link) -> Option<&T> {
        self.nodes.get(key as usize).map(|node| &node.value)
    }

    /// How many are queued.
    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether none is.
    pub(super) fn is_empty(&self) -> bool {
        self.head == NONE
    }
}

impl<T> Default for Linked<T> {
    fn default() -> Linked<T> {
        Linked::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(list: &mut Linked<u32>) -> Vec<u32> {
        std::iter::from_fn(|| list.pop_front()).collect()
    }

    #[test]
    fn pops_in_push_order() {
        let mut list = Linked::new();
        for value in 0..5 {
            list.push_back(value);
        }
        assert_eq!(list.len(), 5);
        assert_eq!(drain(&mut list), [0, 1, 2, 3, 4]);
        assert!(list.is_empty());
        assert_eq!(list.pop_front(), None);
    }

    #[test]
    fn removal_from_head_middle_and_tail_keeps_the_order() {
        let mut list = Linked::new();
        let keys: Vec<Link> = (0..6).map(|value| list.push_back(value)).collect();
        assert_eq!(list.remove(keys[0]), 0);
        assert_eq!(list.remove(keys[5]), 5);
        assert_eq!(list.remove(keys[3]), 3);
        assert_eq!(list.get(keys[3]), None);
        assert_eq!(list.get(keys[4]), Some(&4));
        // The key freed last, in the middle, is reused, at the back of the
        // order.
        let again = list.push_back(9);
        assert_eq!(again, keys[3]);
        assert_eq!(drain(&mut list), [1, 2, 4, 9]);
    }

    #[test]
    fn removing_every_node_leaves_it_empty_and_usable() {
        let mut list = Linked::new();
        let keys: Vec<Link> = (0..3).map(|value| list.push_back(value)).collect();
        for key in keys.into_iter().rev() {
            list.remove(key);
        }
        assert!(list.is_empty());
        list.push_back(7);
        assert_eq!(drain(&mut list), [7]);
    }

    #[test]
    fn a_node_of_a_three_word_value_takes_four_words() {
        assert_eq!(size_of::<Node<[usize; 3]>>(), 32);
    }
}
