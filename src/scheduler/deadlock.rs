//! When every coroutine is blocked: wait patiently while another thread may
//! still wake one (and say who waits on what once that lasts), and report a
//! deadlock when nothing at all can.

use std::time::{Duration, Instant};

use super::task::{ParkedOn, SlotState};
use super::{Core, TaskId};

/// How long a runtime whose coroutines are all blocked waits for another
/// thread, when one only *may* wake it (a channel whose senders may be
/// there, a live `Handle`), before it logs who waits on what.
const STUCK_PATIENCE: Duration = Duration::from_secs(2);

impl Core {
    /// Polls for another thread's wake-up that may never come; once the
    /// runtime has been stuck so for [`STUCK_PATIENCE`], logs who waits on
    /// what (once per stretch), and from then on waits without a timeout.
    #[cold]
    pub(super) fn wait_patiently(&self) {
        let now = Instant::now();
        let since = self.stuck_since.get().unwrap_or(now);
        self.stuck_since.set(Some(since));
        let waited = now - since;
        if waited < STUCK_PATIENCE {
            self.poll(Some(STUCK_PATIENCE - waited));
        } else {
            if !self.stuck_warned.replace(true) {
                log::warn!(
                    "corio: every coroutine of runtime {} has been blocked for {:?}, and \
                     only another OS thread can wake one now (a channel's sender or a \
                     Handle may be there). If no thread holds one, this is a \
                     deadlock:\n{}",
                    self.runtime,
                    STUCK_PATIENCE,
                    self.blocked_lines(None).join("\n")
                );
            }
            self.poll(None);
        }
        if self.run_queue.len() > 0 {
            self.stuck_since.set(None);
            self.stuck_warned.set(false);
        }
    }

    #[cold]
    pub(super) fn deadlock(&self, root: TaskId) -> ! {
        let lines = self.blocked_lines(Some(root));
        let count = lines.len();
        panic!(
            "corio deadlock: {count} coroutine(s) are blocked and nothing (no timer, \
             no socket, no other thread) can ever wake any of them:\n{}\n\
             Check for a join on a task that waits for its joiner, or a lock held by \
             a coroutine that waits for its waiter.",
            lines.join("\n")
        )
    }

    /// One line per parked task: who, and on what.
    pub(super) fn blocked_lines(&self, root: Option<TaskId>) -> Vec<String> {
        let tasks = self.tasks.borrow();
        let mut lines = Vec::new();
        for (_, slot) in tasks.iter() {
            if let SlotState::Parked(parked) = &slot.state {
                let who = if Some(parked.task.id) == root {
                    format!("{} (the root passed to block_on)", parked.task.describe())
                } else {
                    parked.task.describe()
                };
                let on = match &parked.on {
                    ParkedOn::Blocker(b) => b.to_string(),
                    ParkedOn::Io(token, _) => format!("waiting on socket token {token}"),
                    ParkedOn::Sleep => "sleeping".to_string(),
                };
                lines.push(format!("  {who}: {on}"));
            }
        }
        lines
    }
}
