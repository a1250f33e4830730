//! The run queue: tasks ready to run, oldest first.
//!
//! It is touched on every hand-off (a hosting coroutine resumes the front
//! task where it lies and, when it yields, moves it to the back), so it is a
//! ring of its own rather than a `VecDeque` in a `RefCell`:
//!
//! - no borrow flag: the queue sits in an `UnsafeCell`, and the borrow rule a
//!   `RefCell` would enforce holds by construction (see [`RunQueue`]'s
//!   invariant);
//! - a power-of-two capacity and two free-running counters, so a slot index
//!   is one `and`, the length one subtraction, and neither a pop nor a push
//!   needs the wrap-around arithmetic `VecDeque` does;
//! - tasks resumed in place ([`RunQueue::front`], [`RunQueue::rotate`]): a
//!   task that yields while it is the only one queued is not moved at all.
//!
//! Benchmark: `yield_round` in `peers/benches/run_queue.rs`, run once with this
//! ring and once with a `VecDeque` (in a `RefCell`, and in an `UnsafeCell`)
//! behind the same API. With other tasks runnable a yield takes fewer
//! instructions through the ring than through either; with one, the same.
//! The figures, and how they were taken, are in `docs/results/run_queue.md`.
//!
//! It grows by doubling and never shrinks: a runtime that once had 100,000
//! runnable tasks keeps 100,000 slots (800 KiB), which the next burst reuses.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use super::task::{Task, TaskId};

/// Slots a new queue starts with.
const INITIAL_CAPACITY: usize = 64;

/// A FIFO of runnable tasks, confined to its runtime's thread.
///
/// # Invariant
///
/// Every method takes the `&mut Ring` for its own duration only and, while
/// it holds it, runs no code but the ring's own: no task code, no destructor
/// of a task (nothing is dropped in here; removed tasks are returned), no
/// callback. So no two of those `&mut` can ever overlap, the type is `!Sync`
/// (it holds an `UnsafeCell`) and `!Send` (tasks are not), and the only
/// re-entrance a `RefCell` would catch cannot happen.
///
/// The queue owns its tasks as pointers leaked from their `Box`, so that a
/// task can be resumed where it lies ([`RunQueue::front`]) while the code it
/// runs pushes more tasks (which may move the pointers, never the tasks).
pub(crate) struct RunQueue {
    /// The ring; see the invariant above.
    ring: UnsafeCell<Ring<NonNull<Task>>>,
}

impl RunQueue {
    /// An empty queue with room for [`INITIAL_CAPACITY`] tasks before it
    /// first grows.
    pub(crate) fn new() -> RunQueue {
        RunQueue {
            ring: UnsafeCell::new(Ring::new()),
        }
    }

    /// Runs `f` on the ring.
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut Ring<NonNull<Task>>) -> R) -> R {
        // SAFETY: callers below only pass closures made of `Ring` calls,
        // which cannot reach this queue again (the invariant above), so this
        // is the only reference to it while `f` runs.
        f(unsafe { &mut *self.ring.get() })
    }

    /// Appends a task.
    #[inline(always)]
    pub(crate) fn push_back(&self, task: Box<Task>) {
        let task = NonNull::from(Box::leak(task));
        self.with(|ring| ring.push_back(task));
    }

    /// Removes the oldest task.
    #[inline(always)]
    pub(crate) fn pop_front(&self) -> Option<Box<Task>> {
        let task = self.with(Ring::pop_front)?;
        // SAFETY: every pointer in the ring came from `Box::leak` in
        // `push_back` or `insert` and is in the ring once; popping it hands
        // that ownership back exactly once.
        Some(unsafe { Box::from_raw(task.as_ptr()) })
    }

    /// The oldest task, left in the queue; `None` if it is empty.
    ///
    /// The pointer is valid, and the task is not moved, until the task is
    /// popped: pushes, growth and [`RunQueue::rotate`] move only pointers.
    /// The queue itself never reads or writes a `Task`, so a caller may
    /// borrow it mutably until it pops it, provided no other code does;
    /// the scheduler is the only code that takes tasks out of the queue.
    #[inline(always)]
    pub(crate) fn front(&self) -> Option<NonNull<Task>> {
        self.with(|ring| ring.front())
    }

    /// Gives back the room a burst of tasks left in the ring (see
    /// [`Ring::shrink`]): for the trim after a large drop.
    pub(crate) fn shrink(&self) {
        self.with(Ring::shrink);
    }

    /// The task with `ahead` tasks before it, left in the queue; `None` if
    /// fewer are queued. Valid as [`RunQueue::front`]'s pointer is; for
    /// hints about what runs soon (`Core::prefetch_ahead`).
    #[inline(always)]
    pub(crate) fn nth(&self, ahead: usize) -> Option<NonNull<Task>> {
        self.with(|ring| ring.nth(ahead))
    }

    /// Moves the oldest task to the back, behind every other queued task:
    /// the filing of a task that yielded while it stayed in the queue. With
    /// a single task queued there is nothing to move.
    #[inline(always)]
    pub(crate) fn rotate(&self) {
        self.with(Ring::rotate);
    }

    /// [`RunQueue::rotate`] where a single queued task is what the caller
    /// expects (a yield's pass over the one task queued): the check in
    /// line, the move out of it, so that the usual case keeps nothing live.
    #[inline(always)]
    pub(crate) fn rotate_expecting_one(&self) {
        if self.len() > 1 {
            self.rotate_out_of_line();
        }
    }

    /// [`RunQueue::rotate`], not inlined.
    #[inline(never)]
    fn rotate_out_of_line(&self) {
        self.rotate();
    }

    /// Removes the task with `index` tasks ahead of it (`index < len`), for a
    /// schedule other than FIFO: it swaps places with the front task, which
    /// is then popped. The swap moves the front task to `index`, so the
    /// others' order is not kept; a random or prioritised pick does not
    /// read it (and stays the same for the same queue, so it is as
    /// deterministic as the picks). Constant time.
    pub(crate) fn pop_at(&self, index: usize) -> Option<Box<Task>> {
        let task = self.with(|ring| {
            ring.swap_to_front(index);
            ring.pop_front()
        })?;
        // SAFETY: as in `pop_front`.
        Some(unsafe { Box::from_raw(task.as_ptr()) })
    }

    /// Inserts a task with `ahead` tasks before it (or last, if fewer are
    /// queued).
    pub(crate) fn insert(&self, ahead: usize, task: Box<Task>) {
        let task = NonNull::from(Box::leak(task));
        self.with(|ring| ring.insert(ahead, task));
    }

    /// Takes the queued task `id` out of the queue, keeping the others in
    /// order; `None` if it is not queued. Linear, and rare: a scope that
    /// must unwind its children before its own frame goes (see
    /// `Core::take_any`). The caller never asks for a task running in place
    /// at the front: only that task's own code could, and it never does.
    pub(crate) fn remove(&self, id: TaskId) -> Option<Box<Task>> {
        // SAFETY: every pointer in the ring owns a live task (the invariant
        // above); reading its id reads a field no running code changes.
        let found =
            self.with(|ring| ring.remove_first(|task| unsafe { task.as_ref() }.id == id))?;
        // SAFETY: as in `pop_front`: the pointer left the ring exactly once.
        Some(unsafe { Box::from_raw(found.as_ptr()) })
    }

    /// The queued tasks, front first (for the task dump; the pointers are
    /// valid until the queue next changes).
    pub(crate) fn snapshot(&self) -> Vec<NonNull<Task>> {
        self.with(|ring| ring.items())
    }

    /// How many tasks are queued.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.with(|ring| ring.len())
    }
}

/// The queue proper.
///
/// Item number `n` (counting every push since the ring was made) lives in
/// `slots[n & mask]`; the queued ones are `head..tail`. Both counters only
/// ever grow (wrapping), so `tail - head` is the length even across a wrap.
///
/// # Invariant
///
/// `slots.len()` is a power of two and `mask == slots.len() - 1`, so
/// `n & mask` is always in bounds; `tail - head <= slots.len()`; and the
/// slots of `head..tail` (taken `& mask`) are exactly the initialised ones.
struct Ring<T> {
    /// The storage; see the invariant for which slots hold a value.
    slots: Box<[MaybeUninit<T>]>,
    /// `slots.len() - 1`.
    mask: usize,
    /// Count of pops: the oldest item is at `head & mask`.
    head: usize,
    /// Count of pushes: the next push goes to `tail & mask`.
    tail: usize,
}

impl Drop for RunQueue {
    /// Frees what is still queued. A runtime takes every task out before it
    /// drops its queue (to unwind them in order), so this finds nothing; it
    /// is here so that no path can leak.
    fn drop(&mut self) {
        while self.pop_front().is_some() {}
    }
}

impl<T> Ring<T> {
    fn new() -> Ring<T> {
        Ring {
            slots: uninit_slots(INITIAL_CAPACITY),
            mask: INITIAL_CAPACITY - 1,
            head: 0,
            tail: 0,
        }
    }

    #[inline(always)]
    fn len(&self) -> usize {
        self.tail.wrapping_sub(self.head)
    }

    /// The slot of item number `n`.
    #[inline(always)]
    fn slot(&mut self, n: usize) -> &mut MaybeUninit<T> {
        // SAFETY: `n & mask < mask + 1 == slots.len()` (the invariant).
        unsafe { self.slots.get_unchecked_mut(n & self.mask) }
    }

    #[inline(always)]
    fn push_back(&mut self, item: T) {
        if self.len() > self.mask {
            self.grow();
        }
        // The slot after the newest item is free (len < capacity), so
        // writing it leaks nothing.
        self.slot(self.tail).write(item);
        self.tail = self.tail.wrapping_add(1);
    }

    #[inline(always)]
    fn pop_front(&mut self) -> Option<T> {
        if self.head == self.tail {
            return None;
        }
        // SAFETY: `head != tail`, so the slot of `head` is initialised (the
        // invariant); moving `head` past it right after the read makes it
        // uninitialised again, so the item is owned exactly once.
        let item = unsafe { self.slot(self.head).assume_init_read() };
        self.head = self.head.wrapping_add(1);
        Some(item)
    }

    /// The oldest item, left in place.
    #[inline(always)]
    fn front(&mut self) -> Option<T>
    where
        T: Copy,
    {
        self.nth(0)
    }

    /// The item with `ahead` items before it, left in place.
    #[inline(always)]
    fn nth(&mut self, ahead: usize) -> Option<T>
    where
        T: Copy,
    {
        if ahead >= self.len() {
            return None;
        }
        // SAFETY: `ahead < len`, so the slot of `head + ahead` is
        // initialised (the invariant); `T: Copy`, so reading it leaves it
        // valid.
        Some(unsafe { self.slot(self.head.wrapping_add(ahead)).assume_init_read() })
    }

    /// Moves the oldest item to the back. Needs no room: the slot it leaves
    /// is the one the back moves into when the ring is full.
    #[inline(always)]
    fn rotate(&mut self) {
        if self.len() <= 1 {
            return;
        }
        // SAFETY: `len >= 2`, so the slot of `head` is initialised; its item
        // is written to the slot of `tail` before either counter moves, and
        // `head` then moves past the old slot, so it is owned exactly once.
        // When the ring is full the two slots are the same one.
        let item = unsafe { self.slot(self.head).assume_init_read() };
        self.slot(self.tail).write(item);
        self.head = self.head.wrapping_add(1);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Swaps the item with `index` items ahead of it with the front one; an
    /// `index` past the back changes nothing.
    fn swap_to_front(&mut self, index: usize) {
        if index < self.len() {
            let at = self.head.wrapping_add(index);
            self.slots.swap(self.head & self.mask, at & self.mask);
        }
    }

    /// Inserts `item` with `ahead` items before it: a push, then a walk back
    /// to its place. Linear, and rare (a hosting coroutine handing back to
    /// the scheduler loop early).
    fn insert(&mut self, ahead: usize, item: T) {
        let ahead = ahead.min(self.len());
        self.push_back(item);
        let target = self.head.wrapping_add(ahead);
        let mut at = self.tail.wrapping_sub(1);
        while at != target {
            let before = at.wrapping_sub(1);
            self.slots.swap(at & self.mask, before & self.mask);
            at = before;
        }
    }

    /// Copies of the items, front first.
    fn items(&mut self) -> Vec<T>
    where
        T: Copy,
    {
        let mut items = Vec::with_capacity(self.len());
        let mut at = self.head;
        while at != self.tail {
            // SAFETY: `at` is in `head..tail`, so its slot is initialised.
            items.push(unsafe { *self.slot(at).assume_init_ref() });
            at = at.wrapping_add(1);
        }
        items
    }

    /// Removes the first item that `is_it` picks, moving the ones behind it
    /// forward by one; linear.
    fn remove_first(&mut self, mut is_it: impl FnMut(&T) -> bool) -> Option<T> {
        let mut at = self.head;
        while at != self.tail {
            // SAFETY: `at` is in `head..tail`, so its slot is initialised.
            if is_it(unsafe { self.slot(at).assume_init_ref() }) {
                break;
            }
            at = at.wrapping_add(1);
        }
        if at == self.tail {
            return None;
        }
        // Walk the found item to the back, then take it off there.
        let last = self.tail.wrapping_sub(1);
        while at != last {
            let next = at.wrapping_add(1);
            self.slots.swap(at & self.mask, next & self.mask);
            at = next;
        }
        self.tail = last;
        // SAFETY: `last` was in `head..tail` and holds the found item; moving
        // `tail` onto it made the slot uninitialised, so it is owned once.
        Some(unsafe { self.slot(last).assume_init_read() })
    }

    /// Doubles the capacity. Every queued item keeps its number; only its
    /// slot changes.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let capacity = (self.mask + 1)
            .checked_mul(2)
            .expect("the run queue cannot outgrow the address space");
        self.resize(capacity);
    }

    /// Gives back the room a burst left: the capacity comes down to the
    /// smallest power of two that holds twice what is queued (and at least
    /// the initial capacity), if that is smaller.
    fn shrink(&mut self) {
        let wanted = (self.len() * 2).next_power_of_two().max(INITIAL_CAPACITY);
        if wanted < self.mask + 1 {
            self.resize(wanted);
        }
    }

    /// Moves the items into `capacity` slots (a power of two that holds
    /// them all). Every queued item keeps its number; only its slot
    /// changes.
    fn resize(&mut self, capacity: usize) {
        debug_assert!(capacity >= self.len());
        let old_mask = self.mask;
        let old = std::mem::replace(&mut self.slots, uninit_slots(capacity));
        self.mask = capacity - 1;
        let mut n = self.head;
        while n != self.tail {
            // SAFETY: `n` is in `head..tail`, so its old slot is initialised;
            // `old` is dropped as `MaybeUninit` slots, which never drop what
            // they hold, so each item is moved exactly once.
            let item = unsafe { old[n & old_mask].assume_init_read() };
            self.slot(n).write(item);
            n = n.wrapping_add(1);
        }
        drop(old);
    }
}

impl<T> Drop for Ring<T> {
    /// Drops what is still queued (for the run queue, `RunQueue`'s own drop
    /// has emptied it already: its pointers own their tasks).
    fn drop(&mut self) {
        while self.pop_front().is_some() {}
    }
}

/// `capacity` uninitialised slots.
fn uninit_slots<T>(capacity: usize) -> Box<[MaybeUninit<T>]> {
    assert!(capacity.is_power_of_two());
    Box::new_uninit_slice(capacity)
}

#[cfg(test)]
mod tests {
    //! The ring's order across growth, wrap-around and `insert`, checked
    //! against a `VecDeque` doing the same operations.

    use std::collections::VecDeque;

    use super::*;

    /// The queued items, front first, emptying the ring.
    fn drain(ring: &mut Ring<usize>) -> Vec<usize> {
        std::iter::from_fn(|| ring.pop_front()).collect()
    }

    #[test]
    fn keeps_fifo_order_across_wraps_and_growth() {
        let mut ring = Ring::new();
        let mut model = VecDeque::new();
        let mut next = 0;
        // Interleave pushes and pops so that head and tail wrap the ring
        // many times, and push in bursts large enough to grow it twice.
        for round in 0..500 {
            let pushes = if round % 100 == 0 { 150 } else { round % 7 };
            for _ in 0..pushes {
                ring.push_back(next);
                model.push_back(next);
                next += 1;
            }
            for _ in 0..round % 5 {
                assert_eq!(ring.pop_front(), model.pop_front());
            }
            assert_eq!(ring.len(), model.len());
        }
        assert!(ring.mask + 1 >= 256, "the bursts grew the ring");
        assert_eq!(drain(&mut ring), Vec::from(model));
        assert_eq!(ring.pop_front(), None);
    }

    #[test]
    fn nth_reads_in_place_across_a_wrap() {
        let mut ring = Ring::new();
        ring.head = usize::MAX - 2;
        ring.tail = usize::MAX - 2;
        for value in 0..10 {
            ring.push_back(value);
        }
        for ahead in 0..10 {
            assert_eq!(ring.nth(ahead), Some(ahead));
        }
        assert_eq!(ring.nth(10), None);
        assert_eq!(drain(&mut ring), (0..10).collect::<Vec<_>>());
        assert_eq!(ring.nth(0), None);
    }

    #[test]
    fn shrink_gives_back_room_and_keeps_the_order() {
        let mut ring = Ring::new();
        for value in 0..10_000 {
            ring.push_back(value);
        }
        let grown = ring.mask + 1;
        for _ in 0..9_900 {
            ring.pop_front();
        }
        ring.shrink();
        assert_eq!(ring.mask + 1, 256, "twice the 100 left, to a power of two");
        assert!(ring.mask + 1 < grown);
        for _ in 0..90 {
            ring.pop_front();
        }
        ring.shrink();
        assert_eq!(ring.mask + 1, INITIAL_CAPACITY, "never below the initial");
        ring.push_back(1);
        assert_eq!(
            drain(&mut ring),
            [
                9_990, 9_991, 9_992, 9_993, 9_994, 9_995, 9_996, 9_997, 9_998, 9_999, 1
            ]
        );
    }

    #[test]
    fn counters_wrap_around_usize() {
        let mut ring = Ring::new();
        ring.head = usize::MAX - 2;
        ring.tail = usize::MAX - 2;
        for value in 0..100 {
            ring.push_back(value);
        }
        assert_eq!(ring.len(), 100);
        assert_eq!(drain(&mut ring), (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn rotate_moves_the_front_behind_everything_even_when_full() {
        let mut ring = Ring::new();
        ring.push_back(7);
        ring.rotate();
        assert_eq!((ring.front(), ring.len()), (Some(7), 1));
        for value in 1..64 {
            ring.push_back(value);
        }
        assert_eq!(ring.len(), ring.mask + 1, "full");
        ring.rotate();
        ring.rotate();
        assert_eq!(ring.front(), Some(2));
        let mut expected: Vec<_> = (2..64).collect();
        expected.extend([7, 1]);
        assert_eq!(drain(&mut ring), expected);
        assert_eq!(ring.front(), None);
    }

    /// The access pattern the scheduler relies on, in a form Miri can run
    /// (it cannot run the coroutine switch itself): an item resumed where it
    /// lies is borrowed mutably in one field, while "its code" reads and
    /// writes another field through a copy of the same pointer (the current
    /// task) and pushes enough to grow the ring; then it is rotated, and at
    /// last popped back into its `Box`. `cargo +nightly miri test --lib
    /// run_queue` checks it under Stacked Borrows.
    #[test]
    fn an_item_used_in_place_while_the_ring_grows_stays_sound() {
        struct Item {
            coroutine: u64,
            yielder: std::cell::Cell<u64>,
        }
        let make = |n| {
            NonNull::from(Box::leak(Box::new(Item {
                coroutine: n,
                yielder: std::cell::Cell::new(0),
            })))
        };
        let mut ring = Ring::new();
        ring.push_back(make(0));
        ring.push_back(make(1));
        // SAFETY: for the whole block: every pointer came from `Box::leak`
        // and is in the ring once; the mutable borrow covers only
        // `coroutine`, the copy touches only `yielder`, as in
        // `Core::run_task`.
        unsafe {
            let front = ring.front().unwrap();
            let current = front.as_ptr().cast_const();
            let coroutine = &mut (*front.as_ptr()).coroutine;
            (*current).yielder.set(7);
            for n in 2..200 {
                ring.push_back(make(n));
            }
            *coroutine += 100;
            assert_eq!((*current).yielder.get(), 7);
            ring.rotate();
            let mut seen = Vec::new();
            while let Some(item) = ring.pop_front() {
                let item = Box::from_raw(item.as_ptr());
                seen.push(item.coroutine);
            }
            assert_eq!(seen.len(), 200);
            assert_eq!(seen[0], 1);
            assert_eq!(
                *seen.last().unwrap(),
                100,
                "the rotated item, changed in place"
            );
        }
    }

    #[test]
    fn dropping_the_ring_drops_exactly_the_queued_items() {
        let item = std::rc::Rc::new(());
        let mut ring = Ring::new();
        for _ in 0..100 {
            ring.push_back(std::rc::Rc::clone(&item));
        }
        for _ in 0..30 {
            ring.pop_front();
        }
        assert_eq!(std::rc::Rc::strong_count(&item), 71);
        drop(ring);
        assert_eq!(std::rc::Rc::strong_count(&item), 1);
    }

    /// A ring holding 100..108 in slots that wrap around the end.
    fn wrapped_ring() -> Ring<usize> {
        let mut ring = Ring::new();
        // Start near the end of the slots so that walks cross the wrap.
        for value in 0..60 {
            ring.push_back(value);
        }
        for _ in 0..60 {
            ring.pop_front();
        }
        for value in 100..108 {
            ring.push_back(value);
        }
        ring
    }

    #[test]
    fn insert_places_an_item_behind_the_given_number() {
        let mut ring = wrapped_ring();
        ring.insert(3, 1);
        ring.insert(0, 2);
        ring.insert(99, 3);
        assert_eq!(
            drain(&mut ring),
            [2, 100, 101, 102, 1, 103, 104, 105, 106, 107, 3]
        );
    }

    #[test]
    fn swap_to_front_brings_the_item_forward_across_the_wrap() {
        let mut ring = wrapped_ring();
        ring.swap_to_front(5);
        assert_eq!(ring.pop_front(), Some(105));
        ring.swap_to_front(99);
        assert_eq!(drain(&mut ring), [101, 102, 103, 104, 100, 106, 107]);
    }

    #[test]
    fn remove_first_keeps_the_others_in_order_across_the_wrap() {
        let mut ring = wrapped_ring();
        assert_eq!(ring.remove_first(|&v| v == 103), Some(103));
        assert_eq!(ring.remove_first(|&v| v == 100), Some(100));
        assert_eq!(ring.remove_first(|&v| v == 107), Some(107));
        assert_eq!(ring.remove_first(|&v| v == 999), None);
        ring.push_back(7);
        assert_eq!(drain(&mut ring), [101, 102, 104, 105, 106, 7]);
    }
}
