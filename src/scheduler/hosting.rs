//! The in-place hand-off: a coroutine that yields, or waits for a wake-up
//! somebody else will give, runs the scheduler's fast path on its own stack
//! instead of switching to the loop and from there to the next task.
//!
//! Two switches per hand-off instead of four: A→B→A is A resuming B and B
//! switching back, where through the loop it would be A→loop→B→loop→A.
//! Order and semantics are exactly the loop's. Tasks a host resumes are
//! *hosted*: they switch back to it when they stop and never host others
//! themselves (the tag bit in the current-task pointer says so), so hosting
//! never nests. Blocking in the poller (no task runnable and nothing ready)
//! is never done here; that stays with the loop.
//!
//! A pass runs as scheduler code, with no coroutine current, so that a log
//! backend that calls `yield_now` during the pass cannot start a second pass
//! inside this one: `run_task` clears the mark after every switch back, the
//! poll a tick can fall due for clears it for its own length (the one piece
//! of scheduler code that can run before a yield's first resume), and a wait
//! clears it up front. A guard puts the host's mark, and the hosting state,
//! back when the pass ends, also when a panic unwinds it.
//! Benchmark: `corio_yield` in `peers/benches/switch_costs.rs` and the
//! `switch_costs` example (against `raw_switch`, a bare corosensei switch).

use std::ptr::NonNull;

use super::cancel;
use super::context;
use super::run::{Next, Stopped};
use super::suspend::{Suspend, Wake};
use super::task::{Task, TaskId};
use super::{Core, YieldPath};
use crate::trace::{self, EventKind, SuspendReason};

/// A yield's pass of a host over the other tasks: restores the host's
/// current-task mark when dropped.
struct Pass {
    /// The hosting coroutine's task.
    me: *const Task,
}

impl Pass {
    /// Starts a yield's pass. The host's mark stays set until the first
    /// resume replaces it: only the tick runs before that, and its poll runs
    /// as scheduler code itself (`Core::poll_ready_events`).
    #[inline(always)]
    fn begin(me: *const Task) -> Pass {
        Pass { me }
    }
}

impl Drop for Pass {
    #[inline(always)]
    fn drop(&mut self) {
        context::restore_current(self.me);
    }
}

/// The pass of `host_until_woken`: while it lives `Core::host` names the
/// host, so that [`Core::wake`] notes a wake-up for it
/// ([`Core::host_woken`]) instead of queueing it. Dropped, it clears that
/// and puts back the host's current-task mark, also on unwind. Apart
/// from [`Pass`] so that a yield's pass carries nothing of it.
struct WaitingPass<'a> {
    /// The runtime the host runs on.
    core: &'a Core,
    /// The hosting coroutine's task.
    me: *const Task,
}

impl<'a> WaitingPass<'a> {
    /// Starts the pass: `Core::host` names the host, and no coroutine is
    /// current (the pass runs as scheduler code).
    fn begin(core: &'a Core, me: *const Task, id: TaskId) -> WaitingPass<'a> {
        core.host.set(Some(id));
        core.host_task.set(me);
        core.host_woken_ahead.set(None);
        context::leave_task();
        WaitingPass { core, me }
    }
}

impl Drop for WaitingPass<'_> {
    fn drop(&mut self) {
        self.core.host.set(None);
        self.core.host_woken_ahead.set(None);
        context::restore_current(self.me);
    }
}

impl Core {
    /// `yield_now` for a coroutine the scheduler loop resumed: resumes, in
    /// order, exactly the tasks that were queued ahead of it, files each the
    /// way the loop would, and returns: its own turn has come. Tasks that
    /// become ready meanwhile queue behind it, as they would have.
    #[inline(always)]
    ///
    /// Under a schedule other than FIFO the coroutine switches to the loop
    /// instead, whose pick chooses the next task: the one value checked
    /// here (`Core::yield_path`) also says whether tracing is on.
    pub(crate) fn host_yield(&self, me: *const Task) {
        match self.yield_path {
            YieldPath::Host => self.host_yield_as::<false>(me),
            YieldPath::HostTraced => self.host_yield_as::<true>(me),
            YieldPath::ThroughLoop => context::yield_to_loop(me),
        }
    }

    /// [`Core::host_yield`], with tracing on or off (see `run_task`).
    #[inline(always)]
    fn host_yield_as<const TRACED: bool>(&self, me: *const Task) {
        let ahead = self.run_queue.len();
        if ahead == 0 {
            // Nobody else is runnable: our turn again at once, but let the
            // tick see I/O and timers as the loop would.
            self.idle_tick();
            return;
        }
        let pass = Pass::begin(me);
        // SAFETY: `me` is the running coroutine's task, alive while it runs.
        let serial = || unsafe { (*me).id.serial() };
        // SAFETY: as above.
        let counters = || unsafe { (*me).counters() };
        if TRACED {
            if self.timed {
                counters().end_slice(trace::clock());
            }
            self.trace(serial(), || EventKind::Suspend(SuspendReason::Yield));
        }
        // One task ahead is the usual pass (two coroutines taking turns, or
        // one runnable task beside the host), and gets a path of its own:
        // without the loop's count live across the switch, the compiler
        // keeps less in registers the switch clobbers. Both count two
        // switches up front: into the first task, and back into this
        // coroutine when the pass ends.
        let handed_back = if ahead == 1 {
            // The front is read before the tick, where the length just
            // read proves it is there; only a tick that polled (which runs
            // wake-ups) makes it read again.
            let mut front = self.run_queue.front();
            if self.ticks.tick(2) {
                self.poll_ready_events();
                front = self.run_queue.front();
            }
            self.pass_one::<TRACED>(front)
        } else {
            self.tick_by(2);
            self.pass_over::<TRACED>(ahead)
        };
        if let Some(ahead) = handed_back {
            // The switch back counted up front does not happen: the loop
            // will switch into this coroutine, and count that.
            self.ticks.note_idle();
            drop(pass);
            Self::hand_back_to_loop(ahead);
            return;
        }
        // The switch back into this coroutine, counted up front. The
        // counters are read once: the stores below could alias the field,
        // so each `counters()` would load it again.
        let mine = counters();
        self.ticks.pulse.switched_in(serial());
        mine.switched_in();
        if TRACED {
            if self.timed {
                mine.start_slice(trace::clock());
            }
            self.trace(serial(), || EventKind::Resume);
        }
        drop(pass);
        // Cancelled by a task this pass ran: unwind now, as this task.
        cancel::check(mine);
    }

    /// A yield's pass over one task: runs `front`, the front of the run
    /// queue (`None`: nothing to run). Returns how many tasks were still
    /// queued ahead of the host (none) if block_on's root returned
    /// meanwhile and the host must hand back to the loop.
    #[inline(always)]
    fn pass_one<const TRACED: bool>(&self, front: Option<NonNull<Task>>) -> Option<usize> {
        let task = front?;
        match self.run_task::<TRACED>(Next::Front { task, alone: true }) {
            // Only a task that returned can have been the root.
            Stopped::Returned if self.root_done.get() => Some(0),
            _ => None,
        }
    }

    /// A yield's pass over the `ahead` tasks queued before the host, in
    /// order, a tick between two (the first tick was counted by the
    /// caller). Returns as [`Core::pass_one`] does: how many were still
    /// ahead if the root returned.
    ///
    /// Not inlined: inlined into every `yield_now`, its loop would keep
    /// the one-task pass's registers busy too (about 14 instructions more
    /// per round trip of two coroutines, counted with callgrind), for a
    /// call that costs a pass over several tasks about one per yield.
    #[inline(never)]
    fn pass_over<const TRACED: bool>(&self, mut ahead: usize) -> Option<usize> {
        loop {
            ahead -= 1;
            // `ahead` tasks were queued and each run removes at most the one
            // it ran, so the front is there; if not, end the pass.
            let task = self.run_queue.front()?;
            let stopped = self.run_task::<TRACED>(Next::Front { task, alone: false });
            // Only a task that returned can have been the root.
            if stopped == Stopped::Returned && self.root_done.get() {
                return Some(ahead);
            }
            if ahead == 0 {
                return None;
            }
            // The switch into the next task.
            self.tick();
        }
    }

    /// A tick that resumed nobody: a coroutine yielded with nothing else to
    /// run. It must still let the reactor in every `event_interval` ticks,
    /// or a coroutine spinning on `yield_now` while it waits for I/O would
    /// never see it. The poll runs as scheduler code.
    #[inline(always)]
    fn idle_tick(&self) {
        self.ticks.note_idle();
        self.tick();
    }

    /// block_on's root returned while a coroutine hosted others: the loop
    /// must see that now. Hand back to it, keeping our place in line.
    #[cold]
    #[inline(never)]
    fn hand_back_to_loop(ahead: usize) {
        // Cannot fail: the host's mark was just restored.
        let _ = context::suspend("corio::yield_now", Suspend::Requeue { ahead });
    }

    /// A blocking wait (`join`, `recv`) for a coroutine the scheduler loop
    /// resumed: rather than parking and letting the loop run the others, it
    /// runs them itself, as [`Core::host_yield`] does, until it is woken.
    /// The caller registers `me` with whatever will wake it (the join slot,
    /// the channel) *before* calling this, exactly as it would before
    /// parking; [`Core::wake`] then sees that `me` is the host
    /// (`Core::host`), and [`Core::host_woken`] notes how many tasks were queued ahead at that
    /// moment: the ones a parked `me`
    /// would have queued behind. Those run too, then this returns `true`:
    /// same order as parking, half the switches, no park.
    ///
    /// Returns `false` (the caller then parks as usual) if the run queue
    /// empties first, or as soon as a task it resumed *yields* before the
    /// wake-up: tasks that yield to each other are better off hosting each
    /// other (one switch per hand-off) than bouncing through this host (two),
    /// and parking now is exactly what the caller would have done at first.
    pub(crate) fn host_until_woken(
        &self,
        me: *const Task,
        id: TaskId,
        reason: SuspendReason,
    ) -> bool {
        if !self.policy.hosts() {
            // Only the loop's pick follows a schedule other than FIFO.
            return false;
        }
        let pass = WaitingPass::begin(self, me, id);
        // SAFETY: `me` is the running coroutine's task, alive while it runs.
        let counters = unsafe { (*me).counters() };
        if self.timed {
            counters.end_slice(trace::clock());
        }
        self.trace(id.serial(), || EventKind::Suspend(reason));
        loop {
            if let Some(ahead) = self.host_woken_ahead.get() {
                if ahead == 0 {
                    // The switch back into this coroutine counts as one.
                    self.tick();
                    self.ticks.pulse.switched_in(id.serial());
                    counters.switched_in();
                    if self.timed {
                        counters.start_slice(trace::clock());
                    }
                    self.trace(id.serial(), || EventKind::Resume);
                    return true;
                }
                self.host_woken_ahead.set(Some(ahead - 1));
            }
            // Woken or not, the tasks counted ahead are still queued (only
            // we pop), so the queue can only be empty while we still wait.
            if self.run_queue.len() == 0 {
                return false;
            }
            self.tick();
            let Some(front) = self.run_queue.front() else {
                return false;
            };
            let stopped = self.run_next(Next::Front {
                task: front,
                alone: false,
            });
            let woken = self.host_woken_ahead.get();
            if stopped == Stopped::Yielded && woken.is_none() {
                return false;
            }
            if self.root_done.get() {
                drop(pass);
                return match woken {
                    Some(ahead) => {
                        Self::hand_back_to_loop(ahead);
                        true
                    }
                    // Not woken: the caller parks, and the loop, seeing the
                    // root done, returns from block_on.
                    None => false,
                };
            }
        }
    }

    /// A wake-up for the task that hosts the others in `host_until_woken`
    /// (`Core::host`): the first one notes how many
    /// tasks are queued now, those a parked task woken now would queue
    /// behind; the host runs them, then its own turn has come.
    #[inline(always)]
    pub(super) fn host_woken(&self, id: TaskId, how: Wake) {
        if self.host_woken_ahead.get().is_some() {
            return;
        }
        // A hosted task running where it lies (the one waking the host) is
        // at the front of the queue, and is not ahead.
        let in_place = usize::from(context::is_running());
        self.host_woken_ahead
            .set(Some(self.run_queue.len() - in_place));
        if self.timed {
            // SAFETY: `host_task` is the hosting task while `host` is set,
            // and it is alive: it runs (hosting this very pass).
            unsafe { (*self.host_task.get()).counters() }.runnable(trace::clock());
        }
        self.trace(id.serial(), || EventKind::Wake(self.wake_cause(how)));
        log::trace!("wake {id} (hosting; {how:?})");
    }
}
