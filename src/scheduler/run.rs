//! The loop and the one way a task runs: [`Core::run_task`] resumes a task
//! and files it by what it said (a yield to the back of the run queue, a
//! wait to its slot, a return to the stack pool); [`Core::wake`] moves a
//! parked task back to the queue. The loop ([`Core::run_until`]) and the
//! hosts (`hosting`) both run tasks through `run_task`.

use std::cell::{Cell, RefCell};
use std::ptr::NonNull;

use corosensei::{Coroutine, CoroutineResult};

use super::context;
use super::metrics::bump;
use super::pulse::Pulse;
use super::schedule::{Pct, Policy, SplitMix64};
use super::task::{Parked, ParkedOn, ParkedTimer, Slot, SlotState, describe};
use super::{Core, Run, Suspend, Switch, Task, TaskId, Wake};
use crate::trace::{self, EventKind, SuspendReason, WakeCause};

/// Which task [`Core::run_task`] runs, and who owns it while it runs.
pub(super) enum Next {
    /// One the loop popped: `run_task` owns it, and files it.
    Popped(Box<Task>),
    /// The front of the run queue (read by the caller right before, with
    /// nothing run since), run where it lies (by a host): the queue keeps
    /// owning it until `run_task` files it. `alone` when it was the only
    /// task queued (a yield's pass over one task), which tells how to file
    /// it when it yields.
    Front {
        /// The task.
        task: NonNull<Task>,
        /// Whether it was the only queued task.
        alone: bool,
    },
}

/// How a task that [`Core::run_task`] ran stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stopped {
    /// It yielded: it is at the back of the run queue.
    Yielded,
    /// It waits: it is parked.
    Waited,
    /// It returned: it is gone.
    Returned,
}

/// How many places back in the run queue [`Core::prefetch_ahead`] asks for
/// the frames a parked task resumes into: the task after the next one, so
/// that the lines arrive while the next one runs (one request of a server,
/// a few microseconds) and are still in the first-level cache when it is
/// their turn.
const PREFETCH_RESUME_AHEAD: usize = 1;

impl Core {
    /// Reserves a slot for a new task and returns its id.
    pub(crate) fn reserve_id(&self) -> TaskId {
        let serial = self.next_serial.get();
        self.next_serial.set(serial + 1);
        let mut tasks = self.tasks.borrow_mut();
        let key = tasks.insert(Slot {
            serial,
            state: SlotState::Scheduled,
        });
        self.live_peak.set(self.live_peak.get().max(tasks.len()));
        TaskId::new(key, self.runtime, serial)
    }

    /// Gives back a slot reserved by [`Core::reserve_id`] whose task was never
    /// created (its stack could not be had).
    pub(crate) fn release_id(&self, id: TaskId) {
        self.tasks.borrow_mut().remove(id.key());
    }

    /// Queues a freshly built task at the back of the run queue.
    pub(crate) fn schedule_new(&self, task: Box<Task>) {
        bump(&self.stats.spawned, 1);
        if let Some(recorder) = &self.trace {
            let mut recorder = recorder.borrow_mut();
            let serial = task.id.serial();
            let parent = context::running_serial();
            recorder.record(serial, EventKind::Spawn { parent });
            if let Some(name) = task.shared.name() {
                recorder.name(serial, name);
            }
        }
        if self.timed {
            task.counters().runnable(trace::clock());
        }
        if self.watched.get().is_some()
            && let Some(name) = task.shared.name()
        {
            self.ticks.pulse.named(task.id.serial(), name);
            self.named_live.set(self.named_live.get() + 1);
        }
        let traced = traced(&task);
        self.run_queue.push_back(task);
        if let Some(task) = traced {
            log::trace!("spawn {task}");
        }
    }

    /// Moves a parked task to the back of the run queue, cancelling whatever
    /// else could have woken it. A stale id, an id of another runtime, or a
    /// task that is not parked, is ignored: wake-ups are idempotent.
    pub(crate) fn wake(&self, id: TaskId, how: Wake) {
        if self.host.get() == Some(id) {
            // It runs, hosting the others until this very moment. Asked
            // before the slot is looked up: every join that hosts comes here
            // once, and the look-up showed in its instruction count
            // (`spawn_join` in `peers/benches/run_queue.rs`, under callgrind).
            self.host_woken(id, how);
            return;
        }
        if id.runtime() != self.runtime {
            return;
        }
        let parked = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(slot) = tasks.get_mut(id.key()) else {
                return;
            };
            if slot.serial != id.serial() {
                return;
            }
            match slot.state {
                // Running, and hosting the others until it is woken.
                SlotState::Scheduled if self.host.get() == Some(id) => None,
                // Queued or running already: nothing to do.
                SlotState::Scheduled => return,
                SlotState::Parked(_) => {
                    Some(std::mem::replace(&mut slot.state, SlotState::Scheduled))
                }
            }
        };
        let Some(state) = parked else {
            // It runs the others until this very moment (`hosting`).
            self.host_woken(id, how);
            return;
        };
        let task = self.unpark(state).expect("the slot said parked");
        // Logged while this still holds the task: a backend that calls into
        // corio finds it in no queue and no slot (a wake-up for it is then
        // a no-op, as for any task that is not parked).
        self.trace(id.serial(), || EventKind::Wake(self.wake_cause(how)));
        if self.timed {
            task.counters().runnable(trace::clock());
        }
        log::trace!("wake {} ({how:?})", task.describe());
        self.run_queue.push_back(task);
    }

    /// What is waking a task right now, for the trace.
    pub(super) fn wake_cause(&self, how: Wake) -> WakeCause {
        if how == Wake::TimedOut {
            return WakeCause::Timer;
        }
        if let Some(cause) = self.waking.get() {
            return cause;
        }
        match context::running_serial() {
            0 => WakeCause::Scheduler,
            serial => WakeCause::Task(serial),
        }
    }

    /// Runs `next` until it stops, then files it by what it said: a yield
    /// to the back of the run queue, a wait to its slot (parked), a return
    /// to the stack pool. This is the one way any task runs: the loop passes
    /// tasks it popped, the hosts the front of the queue.
    ///
    /// The current-task mark is set right before the switch and cleared
    /// right after the switch back, before anything else: filing a task
    /// calls `log`, that is a user's backend, which may call into corio, and
    /// must find no coroutine running (see `context`).
    ///
    /// `TRACED` is whether tracing or task timing is on
    /// (`Core::instrumented`), decided once per pass by the caller, so
    /// that the plain build of this function has no trace or timing code at
    /// all (the yield path is where a branch shows).
    #[inline(always)]
    pub(super) fn run_task<const TRACED: bool>(&self, next: Next) -> Stopped {
        let (task, hosted, alone) = match next {
            Next::Popped(task) => (NonNull::from(Box::leak(task)), false, false),
            Next::Front { task, alone } => (task, true, alone),
        };
        // SAFETY: as below. Made before the task is marked current, as
        // everything else here that may call `log` (a refused population
        // of its stack logs): a log backend must find no coroutine running.
        if let Run::Unstarted(..) = unsafe { &(*task.as_ptr()).coroutine } {
            // SAFETY: as below; the first run of this task.
            unsafe { self.start(task) };
        }
        // SAFETY: as below: the task is alive and not running; its counters
        // live in its join slot, which the task keeps alive.
        let (serial, counters) =
            unsafe { ((*task.as_ptr()).id.serial(), &*(*task.as_ptr()).counters) };
        // The watchdog's one store, and the task's switch count.
        self.ticks.pulse.switched_in(serial);
        counters.switched_in();
        if TRACED {
            if self.timed {
                counters.start_slice(trace::clock());
            }
            self.trace(serial, || EventKind::Resume);
        }
        context::enter_task(task.as_ptr(), hosted);
        // SAFETY: `task` is owned by this call (popped, leaked above) or by
        // the queue, which keeps it in place until it is popped, and only
        // this function pops it: the loop does not run while a host does,
        // a hosted coroutine never hosts, and code that runs with no
        // coroutine current (log backends) cannot host (`context`). So this
        // is the only `&mut` to the task's `coroutine`; the code it runs
        // reads the task's other fields through the current-task pointer
        // (see `Task`).
        // SAFETY: as above.
        let Run::Started(coroutine) = (unsafe { &mut (*task.as_ptr()).coroutine }) else {
            // SAFETY: `start` just made the coroutine if there was none.
            // Said so rather than checked again: the yield path then has
            // one branch for unstarted tasks, and the coroutine's address
            // stays the task's, one pointer to keep across the switch
            // (`scripts/instructions.sh` counts both).
            unsafe { std::hint::unreachable_unchecked() }
        };
        let result = coroutine.resume(());
        context::leave_task();
        if TRACED {
            if self.timed {
                counters.end_slice(trace::clock());
            }
            self.trace_stop(task, &result);
        }
        match result {
            CoroutineResult::Yield(Switch::Yield) => {
                if alone {
                    self.run_queue.rotate_expecting_one();
                } else if hosted {
                    self.run_queue.rotate();
                } else {
                    // SAFETY: leaked above from the popped `Box`, and nothing
                    // took it since.
                    self.run_queue
                        .push_back(unsafe { Box::from_raw(task.as_ptr()) });
                }
                Stopped::Yielded
            }
            CoroutineResult::Yield(Switch::Wait) => {
                self.park_pending(self.take_back(task, hosted));
                Stopped::Waited
            }
            CoroutineResult::Return(()) => {
                self.finish(*self.take_back(task, hosted));
                Stopped::Returned
            }
        }
    }

    /// Makes the coroutine of a task about to run for the first time
    /// (`task::Run` says why not at its spawn): readies its stack (its top
    /// page faulted in, in a burst with the next ones; its owner's label)
    /// and builds the coroutine on it. Out of line: the yield path of
    /// [`Core::run_task`] pays one branch for it.
    ///
    /// # Safety
    ///
    /// As in [`Core::run_task`]: `task` is alive and not running, and
    /// nothing else holds a reference to its `coroutine`; it is unstarted.
    #[cold]
    #[inline(never)]
    unsafe fn start(&self, task: NonNull<Task>) {
        // SAFETY: the caller's promise; the name and id are other fields,
        // which only shared references read.
        let (run, id, name) = unsafe {
            let task = task.as_ptr();
            (&mut (*task).coroutine, (*task).id, (*task).shared.name())
        };
        let Run::Unstarted(stack, body) = run else {
            unreachable!("start is called for an unstarted task only");
        };
        let (Some(mut stack), Some(body)) = (stack.take(), body.take()) else {
            unreachable!("an unstarted task keeps its stack and body until it first runs");
        };
        self.stacks
            .borrow_mut()
            .prepare(&mut stack, id.as_u64(), name);
        *run = Run::Started(Coroutine::with_stack(stack, body));
    }

    /// [`Core::run_task`], traced if tracing is on: for callers that run
    /// one task at a time (the loop, a waiting host); a yield's pass decides
    /// once for all its tasks (`host_yield`).
    #[inline(always)]
    pub(super) fn run_next(&self, next: Next) -> Stopped {
        if self.instrumented {
            self.run_task::<true>(next)
        } else {
            self.run_task::<false>(next)
        }
    }

    /// Records why the task `run_task` just ran stopped (a return is
    /// recorded by [`Core::finish`]).
    #[cold]
    fn trace_stop(&self, task: NonNull<Task>, result: &CoroutineResult<Switch, ()>) {
        // SAFETY: as in `run_task`: the task is alive and owned there.
        let serial = unsafe { (*task.as_ptr()).id.serial() };
        let reason = match result {
            CoroutineResult::Yield(Switch::Yield) => SuspendReason::Yield,
            CoroutineResult::Yield(Switch::Wait) => match self.pending.get() {
                Some(reason) => reason.trace_reason(),
                None => return,
            },
            CoroutineResult::Return(()) => return,
        };
        self.trace(serial, || EventKind::Suspend(reason));
    }

    /// Ownership of the task [`Core::run_task`] just ran: from the front of
    /// the queue, where it still is (task code only pushes), or from the
    /// pointer leaked from its `Box`. Not `#[cold]`: every task that parks
    /// or returns comes through here, a spawn + join pair twice
    /// (`corio_spawn_join` in `peers/benches/switch_costs.rs`).
    #[inline(always)]
    fn take_back(&self, task: NonNull<Task>, hosted: bool) -> Box<Task> {
        if !hosted {
            // SAFETY: as in `run_task`: leaked from the popped `Box`.
            return unsafe { Box::from_raw(task.as_ptr()) };
        }
        let popped = self
            .run_queue
            .pop_front()
            .expect("the task run in place is still queued");
        assert!(
            std::ptr::eq(&*popped, task.as_ptr()),
            "the task run in place is still first in the run queue"
        );
        popped
    }

    /// Files a task that stopped with [`Switch::Wait`], kept out of line so
    /// the yield path of `run_task` stays short.
    #[inline(never)]
    fn park_pending(&self, task: Box<Task>) {
        self.prefetch_ahead();
        let reason = self
            .pending
            .take()
            .expect("a coroutine leaves its reason before it switches with Wait");
        self.park(task, reason);
    }

    /// When a task has parked or ended, and others are queued: asks the
    /// CPU, ahead of time, for what their resumes will read.
    ///
    /// * The task [`PREFETCH_RESUME_AHEAD`] places back: the stack frames
    ///   it resumes into (`Task::prefetch_resume`), and the box of the one
    ///   after it, which holds where those frames are. A server resumes a
    ///   different connection's coroutine every time, on a stack the others
    ///   have pushed out of the caches since; stalling on each of those
    ///   lines in turn was most of what corio spent per request beyond
    ///   tokio at 1,000 connections (`docs/results/http_per_request.md`).
    ///
    /// A task that never ran needs nothing fetched: its stack is written
    /// for the first time at its first run, on a page populated just
    /// before (`Core::start`). Fetching the top of such a stack a few
    /// tasks ahead, as corio did when the spawn wrote it, measured 4 %
    /// slower on `spawn_scale --count 250000 --rounds 11` (cold / floor
    /// 1.31x against 1.25x, medians of five and six runs): the page is
    /// either not mapped yet or already cached.
    ///
    /// A yield does not do this: its path is kept to the fewest instructions
    /// (`peers/benches/switch_costs.rs`), and a task that only yields keeps
    /// its stack warm.
    #[inline(always)]
    fn prefetch_ahead(&self) {
        if let Some(next) = self.run_queue.nth(PREFETCH_RESUME_AHEAD) {
            // SAFETY: a queued task is alive and not running; `prefetch_resume`
            // reads only fields its own coroutine writes while it runs.
            unsafe { (*next.as_ptr()).prefetch_resume() };
            if let Some(after) = self.run_queue.nth(PREFETCH_RESUME_AHEAD + 1) {
                crate::stack::prefetch(after.as_ptr() as usize);
            }
        }
    }

    /// Files a task that just suspended with `reason`.
    fn park(&self, task: Box<Task>, reason: Suspend) {
        let (on, deadline) = match reason {
            Suspend::Requeue { ahead } => {
                self.run_queue.insert(ahead, task);
                return;
            }
            Suspend::Park(blocker) => (ParkedOn::Blocker(blocker), None),
            Suspend::ParkUntil(blocker, at) => (ParkedOn::Blocker(blocker), Some(at)),
            Suspend::Io {
                token,
                interest,
                deadline,
            } => {
                self.reactor.set_waiter(token, interest, task.id);
                (ParkedOn::Io(token, interest), deadline)
            }
            Suspend::Sleep(deadline) => (ParkedOn::Sleep, Some(deadline)),
        };
        let id = task.id;
        let traced = traced(&task);
        if on.surely_woken_elsewhere() {
            let count = &self.parked_for_other_threads;
            count.set(count.get() + 1);
        }
        let timer = deadline.map(|at| ParkedTimer::new(self.timers.borrow_mut().insert(at, id)));
        {
            let mut tasks = self.tasks.borrow_mut();
            let slot = tasks
                .get_mut(id.key())
                .expect("a running task keeps its slot until it returns");
            slot.state = SlotState::Parked(Parked { task, on, timer });
        }
        if let Some(task) = traced {
            log::trace!("park {task}");
        }
    }

    /// A task returned: recycle its stack and free its slot.
    #[inline(never)]
    fn finish(&self, task: Task) {
        self.prefetch_ahead();
        let id = task.id;
        self.retire(task);
        self.tasks.borrow_mut().remove(id.key());
        log::trace!("finish {id}");
    }

    /// The bookkeeping of a task that ended, returned or unwound by a
    /// cancel (whose slot is already gone): its name, the root's end, the
    /// count, the trace, and its stack back to the pool.
    pub(super) fn retire(&self, task: Task) {
        if self.named_live.get() > 0 && task.shared.name().is_some() {
            self.ticks.pulse.unnamed(task.id.serial());
            self.named_live.set(self.named_live.get() - 1);
        }
        let Task { id, coroutine, .. } = task;
        if self.root.get() == Some(id) {
            self.root_done.set(true);
        }
        bump(&self.stats.completed, 1);
        self.trace(id.serial(), || EventKind::Finish);
        let stack = match coroutine {
            Run::Started(coroutine) => coroutine.into_stack(),
            // Cancelled or unwound before it ever ran (`Core::unwound`
            // dropped its body).
            Run::Unstarted(stack, _) => stack.expect("an unstarted task keeps its stack"),
        };
        self.stacks.borrow_mut().give_back(stack);
    }

    /// Runs tasks until the task `root` has returned.
    ///
    /// # Panics
    ///
    /// Panics with a deadlock report when `root` is blocked and nothing can
    /// ever wake any task.
    pub(crate) fn run_until(&self, root: TaskId) {
        let _busy = Busy::begin(&self.ticks.pulse);
        self.root.set(Some(root));
        self.root_done.set(false);
        if self.remote.has_pending() {
            // Posted while no `block_on` ran: they go first.
            self.drain_inbox();
        }
        while !self.root_done.get() {
            if self.run_queue.len() == 0 {
                // Nothing runnable: wait for I/O or the next timer.
                if !self.wait_for_events() {
                    self.deadlock(root);
                }
                continue;
            }
            // The tick first: what its poll wakes queues behind the task.
            self.tick();
            let task = self
                .pick()
                .expect("a tick only adds to a non-empty run queue");
            self.run_next(Next::Popped(task));
        }
        self.root.set(None);
    }

    /// Takes the task to run next out of the run queue, as the schedule
    /// says: the front under FIFO (one `match` on the policy, then the pop
    /// FIFO always made); otherwise one drawn by the policy. `None` if the
    /// queue is empty.
    #[inline(always)]
    fn pick(&self) -> Option<Box<Task>> {
        match &self.policy {
            Policy::Fifo => self.run_queue.pop_front(),
            Policy::Random(rng) => self.pick_random(rng),
            Policy::Pct(pct) => self.pick_pct(pct),
        }
    }

    /// [`Core::pick`] under [`Schedule::Random`](super::Schedule::Random):
    /// uniform among the queued tasks. A lone task is taken without a draw,
    /// so a run's stream of draws depends only on its choices.
    #[inline(never)]
    fn pick_random(&self, rng: &Cell<SplitMix64>) -> Option<Box<Task>> {
        let len = self.run_queue.len();
        if len <= 1 {
            return self.run_queue.pop_front();
        }
        let mut generator = rng.get();
        let index = generator.below(len);
        rng.set(generator);
        self.run_queue.pop_at(index)
    }

    /// [`Core::pick`] under [`Schedule::Pct`](super::Schedule::Pct): the
    /// queued task of highest priority. Linear in the queue's length.
    #[inline(never)]
    fn pick_pct(&self, pct: &RefCell<Pct>) -> Option<Box<Task>> {
        if self.run_queue.len() == 0 {
            return None;
        }
        let serials: Vec<u64> = self
            .run_queue
            .snapshot()
            .into_iter()
            // SAFETY: the queue owns its tasks, alive until popped; only
            // the id is read, and nothing runs between the snapshot and
            // the pop below.
            .map(|task| unsafe { task.as_ref() }.id.serial())
            .collect();
        let index = pct.borrow_mut().pick(&serials);
        self.run_queue.pop_at(index)
    }

    /// Notes that a task other than the root panicked with `message`, if
    /// none did since the last [`Core::take_first_panic`].
    pub(crate) fn note_panic(&self, id: TaskId, name: Option<&str>, message: &str) {
        if self.root.get() == Some(id) {
            return;
        }
        let mut first = self.first_panic.borrow_mut();
        if first.is_none() {
            *first = Some(format!("{}: {message}", describe(id, name)));
        }
    }

    /// The first panic of a task other than the root since the last call
    /// ("task 3 'worker': message"), if one did.
    pub(crate) fn take_first_panic(&self) -> Option<String> {
        self.first_panic.borrow_mut().take()
    }

    /// Counts a switch, right before it; every `event_interval` ticks, first
    /// takes ready I/O and due timers without blocking (what that wakes
    /// queues behind the tasks already queued).
    #[inline(always)]
    pub(super) fn tick(&self) {
        self.tick_by(1);
    }

    /// [`Core::tick`] for `n` switches at once (a constant at each call).
    #[inline(always)]
    pub(super) fn tick_by(&self, n: i64) {
        if self.ticks.tick(n) {
            self.poll_ready_events();
        }
    }

    /// Cancels the registrations of a parked task and hands it over.
    pub(super) fn unpark(&self, state: SlotState) -> Option<Box<Task>> {
        let SlotState::Parked(Parked { task, on, timer }) = state else {
            return None;
        };
        if on.surely_woken_elsewhere() {
            let count = &self.parked_for_other_threads;
            count.set(count.get() - 1);
        }
        if let Some(timer) = timer {
            self.timers.borrow_mut().cancel(timer.key());
        }
        if let ParkedOn::Io(token, interest) = on {
            self.reactor.clear_waiter(token, interest, task.id);
        }
        Some(task)
    }
}

/// A task's description for a trace line, taken while the scheduler still
/// holds the task, if trace logging is on. The line itself is logged once
/// the task is filed: a log backend is user code, which may call into corio,
/// and should find the scheduler's state whole.
pub(super) fn traced(task: &Task) -> Option<String> {
    log::log_enabled!(log::Level::Trace).then(|| task.describe())
}

/// Marks the runtime's thread as running tasks (see `Pulse::busy`) while
/// `run_until` runs, and as not running them once it returns or unwinds.
struct Busy<'a>(&'a Pulse);

impl<'a> Busy<'a> {
    fn begin(pulse: &'a Pulse) -> Busy<'a> {
        pulse.set_busy(true);
        Busy(pulse)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.set_busy(false);
    }
}
