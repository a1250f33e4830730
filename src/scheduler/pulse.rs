//! What another OS thread can see of a runtime while its own thread is busy:
//! the [`Pulse`] the stall watchdog (`runtime/watchdog.rs`) samples.
//!
//! The scheduler's whole cost is the tick countdown it already keeps, held
//! in a relaxed atomic instead of a `Cell` (the same plain load and store on
//! x86-64 and aarch64), and one plain store of the serial of each task it
//! switches in. Everything else here happens at a runtime's edges: entering
//! and leaving `block_on`, blocking in the poller, spawning and ending a
//! named task.
//!
//! A runtime that wants a watchdog registers its pulse in a process-wide
//! list ([`watch`]); the watchdog reads the list under its lock
//! ([`sample_watched`]). A [`Watched`] guard, dropped with the runtime's
//! [`Core`](super::Core), takes the entry out under the same lock, so the
//! watchdog never reads a pulse that is gone.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::lock_unpoisoned as lock;

/// The live signs of one runtime, written by its thread, read by the
/// watchdog's.
pub(crate) struct Pulse {
    /// Scheduler ticks left until the next poll (see `metrics::Ticks`): it
    /// moves at every switch, so a value that stays put while the runtime is
    /// busy means one coroutine has kept the thread.
    pub(super) left: AtomicI64,
    /// Bumped each time `left` is reloaded, so that a reload landing on the
    /// same value still reads as a change.
    pub(super) epoch: AtomicU64,
    /// The serial of the task switched in last (0: none yet).
    pub(super) running: AtomicU64,
    /// Whether the thread runs the runtime's tasks right now: inside
    /// `block_on`, and not blocked in the poller or waiting for another
    /// thread. A stall is only possible while this is set.
    pub(super) busy: AtomicBool,
    /// The runtime's id (as in every `TaskId`).
    runtime: u32,
    /// The kernel's id of the runtime's thread, for `/proc/self/task/TID`.
    tid: i32,
    /// The runtime's thread's name, if it has one.
    thread: Option<Arc<str>>,
    /// The names of the live named tasks, by serial: the watchdog cannot
    /// reach a task's own name (it lives on the runtime's thread).
    names: Mutex<HashMap<u64, Arc<str>>>,
}

/// What the watchdog reads of a pulse in one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Beat {
    /// Changes at every switch (the reload epoch, and the ticks left).
    pub(crate) count: (u64, i64),
    /// The serial of the task switched in last.
    pub(crate) running: u64,
    /// Whether the thread runs tasks right now (see [`Pulse::busy`]).
    pub(crate) busy: bool,
}

impl Pulse {
    /// The pulse of runtime `runtime`, whose thread is the calling one,
    /// with `left` ticks left (as `metrics::Ticks` counts them).
    pub(super) fn new(runtime: u32, left: i64) -> Pulse {
        Pulse {
            left: AtomicI64::new(left),
            epoch: AtomicU64::new(0),
            running: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            runtime,
            tid: current_tid(),
            thread: std::thread::current().name().map(Arc::from),
            names: Mutex::new(HashMap::new()),
        }
    }

    /// Notes that task `serial` is switched in. A plain store.
    #[inline(always)]
    pub(super) fn switched_in(&self, serial: u64) {
        self.running.store(serial, Ordering::Relaxed);
    }

    /// Notes whether the thread runs tasks from now on.
    #[inline]
    pub(super) fn set_busy(&self, busy: bool) {
        self.busy.store(busy, Ordering::Relaxed);
    }

    /// Notes the name of a new named task.
    pub(super) fn named(&self, serial: u64, name: &str) {
        lock(&self.names).insert(serial, Arc::from(name));
    }

    /// Forgets the name of a named task that ended.
    pub(super) fn unnamed(&self, serial: u64) {
        lock(&self.names).remove(&serial);
    }

    /// One sample.
    pub(crate) fn beat(&self) -> Beat {
        Beat {
            count: (
                self.epoch.load(Ordering::Relaxed),
                self.left.load(Ordering::Relaxed),
            ),
            running: self.running.load(Ordering::Relaxed),
            busy: self.busy.load(Ordering::Relaxed),
        }
    }

    /// The runtime's id.
    pub(crate) fn runtime(&self) -> u32 {
        self.runtime
    }

    /// The kernel's id of the runtime's thread.
    pub(crate) fn tid(&self) -> i32 {
        self.tid
    }

    /// The runtime's thread's name, if it has one.
    pub(crate) fn thread_name(&self) -> Option<Arc<str>> {
        self.thread.clone()
    }

    /// The name of the live task `serial`, if it has one.
    pub(crate) fn task_name(&self, serial: u64) -> Option<Arc<str>> {
        lock(&self.names).get(&serial).cloned()
    }
}

/// The calling thread's kernel id.
fn current_tid() -> i32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

/// A pulse in the process-wide list.
struct Entry(*const Pulse);

// SAFETY: a `Pulse` is all atomics and mutexes (`Sync`); the pointer is
// only dereferenced under `WATCHED`'s lock, while the entry is listed, and
// the entry is removed (under that lock) before the pulse is dropped
// (`Watched::drop`).
unsafe impl Send for Entry {}

/// The pulses of the runtimes that asked for a watchdog.
static WATCHED: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// Keeps a pulse in the watched list; dropping it takes the pulse out.
pub(crate) struct Watched(*const Pulse);

impl Drop for Watched {
    fn drop(&mut self) {
        lock(&WATCHED).retain(|entry| !std::ptr::eq(entry.0, self.0));
    }
}

/// Lists `pulse` for the watchdog until the guard is dropped.
///
/// # Safety
///
/// `pulse` must stay where it is and alive until the guard is dropped.
pub(super) unsafe fn watch(pulse: &Pulse) -> Watched {
    lock(&WATCHED).push(Entry(pulse));
    Watched(pulse)
}

/// Calls `f` with every watched pulse, under the list's lock: keep `f` short
/// (it delays the start and the end of every watched runtime).
pub(crate) fn sample_watched(mut f: impl FnMut(&Pulse)) {
    let watched = lock(&WATCHED);
    for entry in watched.iter() {
        // SAFETY: listed entries point to live pulses (see `Entry`).
        f(unsafe { &*entry.0 });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_or_a_reload_changes_the_beat_and_idling_shows() {
        let pulse = Pulse::new(7, 3);
        let first = pulse.beat();
        assert!(!first.busy);
        pulse.set_busy(true);
        pulse.left.store(2, Ordering::Relaxed);
        pulse.switched_in(5);
        let second = pulse.beat();
        assert_ne!(first.count, second.count);
        assert_eq!((second.running, second.busy), (5, true));
        // A reload to the value of an earlier sample still differs.
        pulse.left.store(3, Ordering::Relaxed);
        pulse.epoch.fetch_add(1, Ordering::Relaxed);
        assert_ne!(pulse.beat().count, first.count);
    }

    #[test]
    fn a_dropped_guard_unlists_its_pulse() {
        let pulse = Box::new(Pulse::new(u32::MAX, 1));
        let listed = |runtime| {
            let mut found = false;
            sample_watched(|p| found |= p.runtime() == runtime);
            found
        };
        // SAFETY: the box outlives the guard, dropped first below.
        let guard = unsafe { watch(&pulse) };
        assert!(listed(u32::MAX));
        pulse.named(9, "nine");
        assert_eq!(pulse.task_name(9).as_deref(), Some("nine"));
        pulse.unnamed(9);
        assert_eq!(pulse.task_name(9), None);
        drop(guard);
        assert!(!listed(u32::MAX));
    }
}
