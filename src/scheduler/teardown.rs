//! Ending a runtime, and taking single tasks out of it: every task that is
//! not running can be unwound, its destructors run on its own stack and the
//! stack goes back to the OS.

use std::panic::{self, AssertUnwindSafe};

use super::context;
use super::task::{Slot, SlotState};
use super::{Core, Run, Task, TaskId};

impl Core {
    /// Takes a parked task out of the runtime (to unwind it), cancelling its
    /// registrations.
    pub(crate) fn take_task(&self, id: TaskId) -> Option<Box<Task>> {
        let mut tasks = self.tasks.borrow_mut();
        let slot = tasks.get(id.key())?;
        if slot.serial != id.serial() || !matches!(slot.state, SlotState::Parked(_)) {
            return None;
        }
        let state = tasks.remove(id.key()).state;
        drop(tasks);
        self.unpark(state)
    }

    /// Takes a task that is not running out of the runtime, parked or
    /// queued, to unwind it; `None` if it has ended (or is not this
    /// runtime's). For what must not outlive a caller's frame: a scope's
    /// children, the root of `block_on`.
    pub(crate) fn take_any(&self, id: TaskId) -> Option<Box<Task>> {
        if let Some(task) = self.take_task(id) {
            return Some(task);
        }
        let task = self.run_queue.remove(id)?;
        // Still in the table as `Scheduled`; `unwind` removes the slot.
        Some(task)
    }

    /// Unwinds every task of the runtime, queued first, then parked, for its
    /// `Drop`; returns how many. From here on nothing suspends: every wait
    /// returns at once ([`CannotWait::ShuttingDown`]), so a destructor that
    /// flushes, joins or sleeps finishes instead of aborting the process.
    ///
    /// Linear in the number of tasks: timers and socket waits are dropped
    /// wholesale first, and parked tasks are found by one pass of a cursor
    /// over the task table. The pass never needs to look back: a task can
    /// park only by running, and none runs any more; what the destructors
    /// wake or spawn goes to the run queue, which is emptied before each
    /// step of the cursor.
    pub(crate) fn tear_down(&self) -> usize {
        self.shutting_down.set(true);
        self.timers.borrow_mut().clear();
        self.reactor.clear_all_waiters();
        let mut cursor = 0;
        let mut unwound = 0;
        loop {
            let task = match self.run_queue.pop_front() {
                Some(task) => task,
                None => match self.take_parked_from(&mut cursor) {
                    Some(task) => task,
                    None => break,
                },
            };
            self.unwind(task);
            unwound += 1;
        }
        unwound
    }

    /// The next parked task at or after key `*cursor`, taken out of the
    /// table; moves the cursor past it.
    pub(super) fn take_parked_from(&self, cursor: &mut usize) -> Option<Box<Task>> {
        let mut tasks = self.tasks.borrow_mut();
        // Every key in use is below the capacity.
        while *cursor < tasks.capacity() {
            let key = *cursor;
            *cursor += 1;
            if let Some(Slot {
                state: SlotState::Parked(_),
                ..
            }) = tasks.get(key)
            {
                let state = tasks.remove(key).state;
                drop(tasks);
                return self.unpark(state);
            }
        }
        None
    }

    /// Unwinds one task that is not running: its coroutine's destructors run
    /// on its own stack (or, if it never started, its closure is dropped),
    /// then its stack is dropped. A panic that escapes (a destructor that
    /// panicked outside an unwind) is reported and the teardown goes on.
    pub(crate) fn unwind(&self, task: Box<Task>) {
        drop(self.unwound(task));
    }

    /// [`Core::unwind`], handing the unwound task back (its coroutine has
    /// ended) for [`Core::retire`].
    pub(super) fn unwound(&self, mut task: Box<Task>) -> Box<Task> {
        let id = task.id;
        {
            // A queued task still has its slot; a parked one was taken out.
            let mut tasks = self.tasks.borrow_mut();
            if tasks.get(id.key()).is_some_and(|s| s.serial == id.serial()) {
                tasks.remove(id.key());
            }
        }
        // As scheduler code, also when a coroutine unwinds another (a scope
        // unwinding its children): the unwound one must not find its
        // unwinder's task current and suspend that one's yielder.
        let outcome = context::as_scheduler(|| {
            let _unwinding = task.coroutine.started().then(|| context::unwinding(&*task));
            panic::catch_unwind(AssertUnwindSafe(|| match &mut task.coroutine {
                Run::Started(coroutine) => coroutine.force_unwind(),
                // Never ran: its closure is dropped, here on the
                // scheduler's stack (`spawn::Unstarted` reports a panic of
                // its destructor).
                Run::Unstarted(_, body) => drop(body.take()),
            }))
        });
        if outcome.is_err() {
            log::error!(
                "corio: a destructor panicked while {} was unwound; the panic is dropped \
                 and the rest goes on",
                task.describe()
            );
        }
        task
    }
}
