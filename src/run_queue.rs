//! The run queue: tasks ready to run, oldest first.
//!
//! It is touched twice per hand-off (pop the next task, push back the one
//! that yielded), so it is a `VecDeque` in an `UnsafeCell` rather than a
//! `RefCell`: a borrow flag is a store and a load on the hottest path, and
//! the borrow rule it enforces holds here by construction (see
//! [`RunQueue`]'s invariant).

use std::cell::UnsafeCell;
use std::collections::VecDeque;

use crate::scheduler::Task;

/// A FIFO of runnable tasks, confined to its runtime's thread.
///
/// # Invariant
///
/// Every method takes the `&mut VecDeque` for its own duration only and,
/// while it holds it, runs no code but `VecDeque`'s own: no task code, no
/// destructor of a task (nothing is dropped in here; removed tasks are
/// returned), no callback. So no two of those `&mut` can ever overlap, the
/// type is `!Sync` (it holds an `UnsafeCell`) and `!Send` (tasks are not), and
/// the only re-entrance a `RefCell` would catch cannot happen.
pub(crate) struct RunQueue {
    /// The queue; see the invariant above.
    tasks: UnsafeCell<VecDeque<Box<Task>>>,
}

impl RunQueue {
    /// An empty queue.
    pub(crate) fn new() -> RunQueue {
        RunQueue {
            tasks: UnsafeCell::new(VecDeque::new()),
        }
    }

    /// Runs `f` on the queue.
    #[inline(always)]
    fn with<R>(&self, f: impl FnOnce(&mut VecDeque<Box<Task>>) -> R) -> R {
        // SAFETY: callers below only pass closures made of VecDeque calls,
        // which cannot reach this queue again (the invariant above), so this
        // is the only reference to it while `f` runs.
        f(unsafe { &mut *self.tasks.get() })
    }

    /// Appends a task.
    #[inline(always)]
    pub(crate) fn push_back(&self, task: Box<Task>) {
        self.with(|q| q.push_back(task));
    }

    /// Removes the oldest task.
    #[inline(always)]
    pub(crate) fn pop_front(&self) -> Option<Box<Task>> {
        self.with(|q| q.pop_front())
    }

    /// Inserts a task with `ahead` tasks before it (or last, if fewer are
    /// queued).
    pub(crate) fn insert(&self, ahead: usize, task: Box<Task>) {
        self.with(|q| {
            let at = ahead.min(q.len());
            q.insert(at, task);
        });
    }

    /// How many tasks are queued.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.with(|q| q.len())
    }
}
