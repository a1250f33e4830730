//! When every coroutine is blocked: wait patiently while another thread may
//! still wake one (and say who waits on what once that lasts), and report a
//! deadlock when nothing at all can.

use std::io::Write;
use std::time::{Duration, Instant};

use super::{Core, TaskId};

/// How long a runtime whose coroutines are all blocked waits for another
/// thread, when one only *may* wake it (a channel whose senders may be
/// there, a live `Handle`), before it logs who waits on what.
const STUCK_PATIENCE: Duration = Duration::from_secs(2);

impl Core {
    /// Polls for another thread's wake-up that may never come; once the
    /// runtime has been stuck so for its patience (20 stall thresholds, or
    /// [`STUCK_PATIENCE`] with the watchdog off), reports who waits on what
    /// (once per stretch: on stderr with the watchdog on, to `log` always),
    /// and from then on waits without a timeout.
    #[cold]
    pub(super) fn wait_patiently(&self) {
        let now = Instant::now();
        let since = self.stuck_since.get().unwrap_or(now);
        self.stuck_since.set(Some(since));
        let waited = now - since;
        let patience = self.quiet_after.unwrap_or(STUCK_PATIENCE);
        if waited < patience {
            self.poll(Some(patience - waited));
        } else {
            if !self.stuck_warned.replace(true) {
                self.report_quiet_hang(waited);
            }
            self.poll(None);
        }
        if self.run_queue.len() > 0 {
            self.stuck_since.set(None);
            self.stuck_warned.set(false);
        }
    }

    /// The quiet-hang report: nothing has run for `waited`.
    #[cold]
    fn report_quiet_hang(&self, waited: Duration) {
        let thread = std::thread::current();
        let thread = match thread.name() {
            Some(name) => format!("thread '{name}'"),
            None => format!("thread {:?}", thread.id()),
        };
        let report = format!(
            "corio: nothing has run for {} on {thread} (runtime {}): every coroutine \
             waits, and only another OS thread can wake one now (a channel's Sender or \
             a Handle held there; a lock, Condvar, Barrier or Semaphore that a thread \
             there may release, notify, reach or give a permit back to; or a \
             spawn_blocking job). If none will, this is a deadlock; the program keeps \
             waiting. The tasks:\n{}",
            seconds(waited),
            self.runtime,
            self.task_lines(None).join("\n")
        );
        if self.quiet_after.is_some() {
            // A failed write to stderr is ignored: there is nowhere else to
            // say it, and `log` gets the report too.
            let _ = writeln!(std::io::stderr().lock(), "{report}");
        }
        log::warn!("{report}");
    }

    #[cold]
    pub(super) fn deadlock(&self, root: TaskId) -> ! {
        let lines = self.task_lines(Some(root));
        let count = lines.len();
        panic!(
            "corio deadlock: {count} coroutine(s) are blocked and nothing (no timer, \
             no socket, no other thread) can ever wake any of them:\n{}\n\
             Check for a join on a task that waits for its joiner, or a lock held by \
             a coroutine that waits for its waiter.",
            lines.join("\n")
        )
    }

    /// One line per live task, as the task dump prints it, the root
    /// marked.
    pub(super) fn task_lines(&self, root: Option<TaskId>) -> Vec<String> {
        self.dump()
            .iter()
            .map(|task| {
                let note = if Some(task.id) == root {
                    " (the root passed to block_on)"
                } else {
                    ""
                };
                format!("  {}", task.line(note))
            })
            .collect()
    }
}

/// `d` as seconds with one decimal ("2.0 s"), or milliseconds below one
/// second ("250 ms").
pub(crate) fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}
