//! "Still running" on stderr, so a long run never looks frozen.
//!
//! On a terminal one line is rewritten in place (`io/threads: 37/100 tasks
//! done`) and erased when the mode ends. Elsewhere (a pipe, a log file) a
//! line is printed when a mode starts, at most once a second while it runs,
//! and when it ends.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::measure;

/// Progress of one mode run; shared by every task of that run.
#[derive(Debug)]
pub struct Progress {
    /// `workload/mode`, e.g. `io/threads`.
    label: String,
    total: usize,
    /// Atomic: tasks on several threads finish at once.
    done: AtomicUsize,
    /// When a line was last printed (`monotonic_ns`); the task that wins
    /// the compare-exchange on it prints, the others carry on.
    last_print_ns: AtomicU64,
    /// Quiet runs (tests) print nothing.
    enabled: bool,
    /// A terminal gets a rewritten line, anything else whole lines.
    terminal: bool,
}

impl Progress {
    /// Progress for `total` tasks of `label`, printing if `enabled`.
    pub fn new(label: String, total: usize, enabled: bool) -> Progress {
        let progress = Progress {
            label,
            total,
            done: AtomicUsize::new(0),
            last_print_ns: AtomicU64::new(measure::monotonic_ns()),
            enabled,
            terminal: std::io::stderr().is_terminal(),
        };
        if enabled {
            progress.print(0);
        }
        progress
    }

    /// Counts one finished task; prints if enough time has passed.
    pub fn task_done(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.enabled {
            return;
        }
        let interval_ns = if self.terminal {
            100_000_000
        } else {
            1_000_000_000
        };
        let now = measure::monotonic_ns();
        let last = self.last_print_ns.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= interval_ns
            && self
                .last_print_ns
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.print(done);
        }
    }

    /// Ends the mode's progress display.
    pub fn finish(&self, wall_ns: u64) {
        if !self.enabled {
            return;
        }
        let mut stderr = std::io::stderr().lock();
        if self.terminal {
            // Erase the line: the table is the record of the run.
            let _ = write!(stderr, "\r\x1b[K");
        } else {
            let _ = writeln!(
                stderr,
                "{}: {}/{} tasks done in {:.1} ms",
                self.label,
                self.done.load(Ordering::Relaxed),
                self.total,
                wall_ns as f64 / 1e6
            );
        }
    }

    fn print(&self, done: usize) {
        let mut stderr = std::io::stderr().lock();
        let line = format!("{}: {done}/{} tasks done", self.label, self.total);
        if self.terminal {
            let _ = write!(stderr, "\r\x1b[K{line}");
        } else {
            let _ = writeln!(stderr, "{line}");
        }
    }
}
