//! The scheduler: a FIFO run queue of coroutines, the loop that resumes them,
//! and what it does with the reason each one gives for stopping.
//!
//! # Ownership is the state machine
//!
//! A task is a boxed [`Task`] that is always in exactly one place:
//!
//! ```text
//!   spawn ──► run_queue ──pop──► (the loop's hands, running) ──yield──► run_queue
//!                ▲                        │
//!                │ wake(id)               ├─ Park / Io / Sleep ──► tasks[key] = Parked(task)
//!                └────── tasks[key] ◄─────┘
//!                                         └─ returned ──► stack back to the pool, slot freed
//! ```
//!
//! The loop owns the running task outright, so resuming it needs no borrow of
//! anything shared: a coroutine is free to spawn (which grows the slab and the
//! queue) while it runs. Every `RefCell` borrow below is taken and released
//! between switches, never held across one.
//!
//! A yield touches only the run queue: pop the front, resume, push the back.
//! The `tasks` slab is for lookups by [`TaskId`] (wake-ups) and is touched
//! only when a task parks, wakes, or ends.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::ptr::{self, NonNull};
use std::time::Instant;

use corosensei::{Coroutine, CoroutineResult, Yielder};
use slab::Slab;

use crate::Stats;
use crate::context;
use crate::reactor::Reactor;
use crate::run_queue::RunQueue;
use crate::stack::{PooledStack, StackPool};
use crate::task::TaskId;
use crate::timer::{TimerKey, Timers};

/// What crosses the stack switch when a coroutine stops: one byte, so that
/// corosensei passes it in a register. Anything but a plain yield leaves its
/// [`Suspend`] in [`Core::pending`] first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Switch {
    /// A plain `yield_now`, the hot case: to the back of the run queue.
    Yield,
    /// Read the reason from `Core::pending`.
    Wait,
}

/// Why a coroutine handed control back to the scheduler. The coroutine only
/// *describes* what it waits for; the scheduler registers the wait after the
/// switch, on its own stack.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Suspend {
    /// Put me back in the run queue with `ahead` tasks in front of me: a
    /// hosting coroutine that must hand back to the scheduler loop early
    /// keeps its place in line (see [`Core::host_yield`]).
    Requeue {
        /// Tasks that were ahead of it and have not run yet.
        ahead: usize,
    },
    /// Somebody holds my id and will [`Core::wake`] me; `Blocker` says who,
    /// for the deadlock report.
    Park(Blocker),
    /// Wake me when `token` is ready for `interest`, or at `deadline`.
    Io {
        /// The reactor token of the socket.
        token: usize,
        /// Readable or writable.
        interest: mio::Interest,
        /// A read/write timeout, if one is set.
        deadline: Option<Instant>,
    },
    /// Wake me at this instant.
    Sleep(Instant),
}

/// What a parked coroutine waits on, for the deadlock report.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Blocker {
    /// `JoinHandle::join` on this task.
    Join(TaskId),
    /// `Receiver::recv` on an empty channel.
    ChannelRecv,
}

impl fmt::Display for Blocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Blocker::Join(id) => write!(f, "joining {id}"),
            Blocker::ChannelRecv => f.write_str("receiving on an empty channel"),
        }
    }
}

/// What woke a parked coroutine, for the trace log. The coroutine itself is
/// not told: every wait re-checks its own condition (data, deadline, result)
/// when it runs again, which also makes a stray wake-up harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// What it waited for may have happened.
    Notified,
    /// Its deadline passed.
    TimedOut,
}

/// The coroutine type every task runs in.
pub(crate) type TaskCoroutine = Coroutine<(), Switch, (), PooledStack>;

/// A spawned coroutine and what the scheduler needs to know about it.
///
/// It is also what the running coroutine knows about itself: the
/// thread-local current task points here (see `context`), and the code the
/// coroutine runs reads `id` and `yielder` through that pointer while its
/// resumer holds `coroutine` mutably borrowed. So a task never moves while
/// it runs (it is resumed from a raw pointer to its heap place), and nothing
/// but its resumer touches `coroutine`.
pub(crate) struct Task {
    /// Key in `Core::tasks` plus the serial that makes stale ids harmless.
    pub(crate) id: TaskId,
    /// The coroutine; its root function catches panics, so resuming it never
    /// unwinds into the scheduler.
    pub(crate) coroutine: TaskCoroutine,
    /// The coroutine's way back to its resumer, lent by corosensei to its
    /// root function and stored here by it before any user code runs; null
    /// before the first resume. It lives at the base of the coroutine's
    /// stack, so it is valid whenever the coroutine runs.
    pub(crate) yielder: Cell<*const Yielder<(), Switch>>,
    /// The name given with `task::Builder::name`, for logs and reports.
    pub(crate) name: Option<Box<str>>,
}

impl Task {
    fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("{} '{name}'", self.id),
            None => self.id.to_string(),
        }
    }
}

/// What a slab slot holds. A task that is queued or running is not in its
/// slot (the queue or the loop owns it); the slot stays to reserve the key and
/// to say, through `serial`, which task the key currently belongs to.
pub(crate) struct Slot {
    /// The serial of the task that owns this key; a wake-up whose id carries
    /// another serial is stale and ignored.
    pub(crate) serial: u64,
    /// Where the task is.
    pub(crate) state: SlotState,
}

/// See [`Slot`].
pub(crate) enum SlotState {
    /// In the run queue or running.
    Scheduled,
    /// Parked, waiting for a wake-up. Inline, not boxed: parking is on the
    /// hot path of every blocking wait and should not allocate.
    Parked(Parked),
}

/// A parked task and every registration that can wake it, so that whichever
/// fires first can cancel the others.
pub(crate) struct Parked {
    /// The task itself.
    pub(crate) task: Box<Task>,
    /// What it waits on (for the deadlock report).
    pub(crate) on: ParkedOn,
    /// Its timer, if it has a deadline.
    pub(crate) timer: Option<TimerKey>,
}

/// What a parked task waits on.
pub(crate) enum ParkedOn {
    /// Someone holding its id (join, channel).
    Blocker(Blocker),
    /// A socket's readiness.
    Io(usize, mio::Interest),
    /// Only a timer.
    Sleep,
}

/// The state of one runtime, shared by the scheduler loop and by the code
/// running in its coroutines (through [`crate::context`]).
///
/// Everything is `Cell`/`RefCell`: a runtime is confined to one thread, so a
/// lock would only cost time. Borrows never outlive a switch.
pub(crate) struct Core {
    /// This core, for handing out [`Core::weak`].
    pub(crate) me: std::rc::Weak<Core>,
    /// Tasks ready to run, in the order they became ready.
    pub(crate) run_queue: RunQueue,
    /// Every live task's slot, keyed by `TaskId::key`.
    pub(crate) tasks: RefCell<Slab<Slot>>,
    /// Next task serial; never reused within a runtime.
    pub(crate) next_serial: Cell<u64>,
    /// Free stacks, reused by the next spawn.
    pub(crate) stacks: RefCell<StackPool>,
    /// Stack size for tasks that do not ask for their own.
    pub(crate) default_stack_size: usize,
    /// Scheduler ticks, which also count the resumes (`Stats::switches`).
    pub(crate) ticks: Ticks,
    /// The coroutine running [`Core::host_until_woken`], if one is: a wake-up
    /// for it is noted in `host_woken_ahead` instead of queueing it.
    pub(crate) host: Cell<Option<TaskId>>,
    /// Tasks queued when the hosting coroutine was woken and not run since:
    /// those it must still run before its own turn. `None` until woken.
    pub(crate) host_woken_ahead: Cell<Option<usize>>,
    /// The task `run_until` waits for.
    pub(crate) root: Cell<Option<TaskId>>,
    /// Set when the root returns, wherever that happened.
    pub(crate) root_done: Cell<bool>,
    /// The reason of a coroutine that stopped with [`Switch::Wait`]: written
    /// right before its switch, taken right after it. Only one coroutine runs
    /// at a time, so one slot is enough.
    pub(crate) pending: Cell<Option<Suspend>>,
    /// Counters for experiments.
    pub(crate) stats: StatCells,
    /// The mio poller and socket registrations.
    pub(crate) reactor: std::rc::Rc<Reactor>,
    /// Deadlines of sleeping or timed-out waits.
    pub(crate) timers: RefCell<Timers>,
}

/// [`Stats`] as cells, bumped where things happen (`switches` is kept by
/// [`Ticks`]).
#[derive(Default)]
pub(crate) struct StatCells {
    pub(crate) spawned: Cell<u64>,
    pub(crate) completed: Cell<u64>,
    pub(crate) polls: Cell<u64>,
    pub(crate) events: Cell<u64>,
}

fn bump(cell: &Cell<u64>, by: u64) {
    cell.set(cell.get() + by);
}

/// The scheduler's tick counter, which is also its resume counter.
///
/// Every resume is a tick, and so is a yield that finds nobody else to run;
/// every `interval` ticks the scheduler takes ready I/O and due timers
/// without blocking. A tick is one decrement of `left` and a branch: one
/// read-modify-write per resume. (A resume counter plus a comparison with
/// the next poll's count, as before, measured 0.2 ns more per hand-off.)
/// The resume count is worked out from `left` when asked.
pub(crate) struct Ticks {
    /// Ticks between two polls (`runtime::Builder::event_interval`), >= 1.
    interval: u64,
    /// Ticks left until the next poll; never 0 between two ticks.
    left: Cell<u64>,
    /// Resumes counted up to the last reload of `left`.
    resumes_before: Cell<u64>,
    /// Idle ticks (yields that resumed nobody) since that reload.
    idle: Cell<u64>,
}

impl Ticks {
    /// A counter that first falls due after `interval` ticks.
    pub(crate) fn new(interval: u32) -> Ticks {
        assert!(interval >= 1, "the builder validates event_interval");
        Ticks {
            interval: u64::from(interval),
            left: Cell::new(u64::from(interval)),
            resumes_before: Cell::new(0),
            idle: Cell::new(0),
        }
    }

    /// Counts one tick; `true` when a poll is due, which the caller must
    /// then do, and [`Ticks::reload`].
    #[inline(always)]
    fn tick(&self) -> bool {
        let left = self.left.get() - 1;
        self.left.set(left);
        left == 0
    }

    /// Notes that the coming tick resumes nobody.
    fn note_idle(&self) {
        bump(&self.idle, 1);
    }

    /// Resumes so far.
    pub(crate) fn resumes(&self) -> u64 {
        self.resumes_before.get() + (self.interval - self.left.get()) - self.idle.get()
    }

    /// Starts the next interval.
    fn reload(&self) {
        self.resumes_before.set(self.resumes());
        self.idle.set(0);
        self.left.set(self.interval);
    }
}

impl Core {
    /// A weak handle to this runtime, to wake one of its tasks later from
    /// outside a coroutine (see `sync::channel`).
    pub(crate) fn weak(&self) -> std::rc::Weak<Core> {
        self.me.clone()
    }

    /// A snapshot of the counters.
    pub(crate) fn stats(&self) -> Stats {
        let s = &self.stats;
        Stats {
            switches: self.ticks.resumes(),
            spawned: s.spawned.get(),
            completed: s.completed.get(),
            polls: s.polls.get(),
            events: s.events.get(),
        }
    }

    /// Reserves a slot for a new task and returns its id.
    pub(crate) fn reserve_id(&self) -> TaskId {
        let serial = self.next_serial.get();
        self.next_serial.set(serial + 1);
        let key = self.tasks.borrow_mut().insert(Slot {
            serial,
            state: SlotState::Scheduled,
        });
        TaskId::new(key, serial)
    }

    /// Gives back a slot reserved by [`Core::reserve_id`] whose task was never
    /// created (its stack could not be had).
    pub(crate) fn release_id(&self, id: TaskId) {
        self.tasks.borrow_mut().remove(id.key());
    }

    /// Queues a freshly built task at the back of the run queue.
    pub(crate) fn schedule_new(&self, task: Box<Task>) {
        bump(&self.stats.spawned, 1);
        log::trace!("spawn {}", task.describe());
        self.run_queue.push_back(task);
    }

    /// Moves a parked task to the back of the run queue, cancelling whatever
    /// else could have woken it. A stale id, or a task that is not parked, is
    /// ignored: wake-ups are idempotent.
    pub(crate) fn wake(&self, id: TaskId, how: Wake) {
        if self.host.get() == Some(id) {
            // It is running, hosting the others until this very moment.
            if self.host_woken_ahead.get().is_none() {
                log::trace!("wake {id} (hosting; {how:?})");
                self.host_woken_ahead.set(Some(self.run_queue.len()));
            }
            return;
        }
        let state = {
            let mut tasks = self.tasks.borrow_mut();
            let Some(slot) = tasks.get_mut(id.key()) else {
                return;
            };
            if slot.serial != id.serial() {
                return;
            }
            std::mem::replace(&mut slot.state, SlotState::Scheduled)
        };
        // Not parked (queued or running already): nothing to do.
        let Some(task) = self.unpark(state) else {
            return;
        };
        log::trace!("wake {} ({how:?})", task.describe());
        self.run_queue.push_back(task);
    }

    /// Files a task that stopped with [`Switch::Wait`], kept out of line so
    /// the yield path of `resume` stays short.
    #[inline(never)]
    fn park_pending(&self, task: Box<Task>) {
        let reason = self
            .pending
            .take()
            .expect("a coroutine leaves its reason before it switches with Wait");
        self.park(task, reason);
    }

    /// Files a task that just suspended with `reason`.
    fn park(&self, task: Box<Task>, reason: Suspend) {
        let (on, deadline) = match reason {
            Suspend::Requeue { ahead } => {
                self.run_queue.insert(ahead, task);
                return;
            }
            Suspend::Park(blocker) => (ParkedOn::Blocker(blocker), None),
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
        let timer = deadline.map(|at| self.timers.borrow_mut().insert(at, id));
        log::trace!("park {}", task.describe());
        let mut tasks = self.tasks.borrow_mut();
        let slot = tasks
            .get_mut(id.key())
            .expect("a running task keeps its slot until it returns");
        slot.state = SlotState::Parked(Parked { task, on, timer });
    }

    /// A task returned: recycle its stack and free its slot.
    #[inline(never)]
    fn finish(&self, task: Task) {
        // The current-task pointer may still name this task: it is about to
        // be freed, so no coroutine is running now.
        context::leave_task();
        let Task { id, coroutine, .. } = task;
        log::trace!("finish {id}");
        if self.root.get() == Some(id) {
            self.root_done.set(true);
        }
        bump(&self.stats.completed, 1);
        self.stacks.borrow_mut().give_back(coroutine.into_stack());
        self.tasks.borrow_mut().remove(id.key());
    }

    /// Runs tasks until the task `root` has returned.
    ///
    /// # Panics
    ///
    /// Panics with a deadlock report when `root` is blocked and nothing can
    /// ever wake any task.
    pub(crate) fn run_until(&self, root: TaskId) {
        self.root.set(Some(root));
        self.root_done.set(false);
        while !self.root_done.get() {
            let next = self.run_queue.pop_front();
            let Some(task) = next else {
                // Nothing runnable: wait for I/O or the next timer.
                if !self.wait_for_events() {
                    self.deadlock(root);
                }
                continue;
            };
            self.resume(task, false);
            context::leave_task();
        }
        self.root.set(None);
    }

    /// Switches into `task`, `hosted` or not, until it suspends or returns,
    /// then files it. Returns whether it yielded (as opposed to parking or
    /// returning).
    #[inline(always)]
    fn resume(&self, task: Box<Task>, hosted: bool) -> bool {
        self.tick();
        let place = Box::into_raw(task);
        context::enter_task(place, hosted);
        // SAFETY: `place` is the task we own, unboxed so that the running
        // coroutine may read its other fields through the current-task
        // pointer while this borrows `coroutine` (see `Task`).
        let result = unsafe { (*place).coroutine.resume(()) };
        // SAFETY: `place` came from `Box::into_raw` above and nothing else
        // took ownership of it.
        let task = unsafe { Box::from_raw(place) };
        match result {
            CoroutineResult::Yield(Switch::Yield) => {
                self.run_queue.push_back(task);
                true
            }
            CoroutineResult::Yield(Switch::Wait) => {
                self.park_pending(task);
                false
            }
            CoroutineResult::Return(()) => {
                self.finish(*task);
                false
            }
        }
    }

    /// Counts a resume, right before its switch; every `event_interval`
    /// ticks, first takes ready I/O and due timers without blocking (what
    /// that wakes queues behind the tasks already queued, the resumed one
    /// included when it yields).
    #[inline(always)]
    fn tick(&self) {
        if self.ticks.tick() {
            self.poll_ready_events();
        }
    }

    /// A tick that resumed nobody: a coroutine yielded with nothing else to
    /// run. It must still let the reactor in every `event_interval` ticks,
    /// or a coroutine spinning on `yield_now` while it waits for I/O would
    /// never see it.
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
        context::suspend("corio::yield_now", Suspend::Requeue { ahead });
    }

    /// `yield_now` for a coroutine the scheduler loop resumed: instead of
    /// switching to the loop and from there to the next task (two switches
    /// per hand-off), it runs the loop's fast path on its own stack. It
    /// resumes, in order, exactly the tasks that were queued ahead of it,
    /// files each the way the loop would, and returns: its own turn has come.
    /// Tasks that become ready meanwhile queue behind it, as they would have.
    /// Order and semantics are those of a plain yield; a two-task ping-pong
    /// costs two switches instead of four.
    ///
    /// Tasks it resumes are *hosted*: they switch back here when they stop,
    /// and do not host others. Blocking (no task ahead and nothing ready) is
    /// never done here; that stays with the loop.
    #[inline(always)]
    pub(crate) fn host_yield(&self, me: *const Task) {
        let mut ahead = self.run_queue.len();
        if ahead == 0 {
            // Nobody else is runnable: our turn again at once, but let the
            // tick see I/O and timers as the loop would.
            self.idle_tick();
            return;
        }
        loop {
            ahead -= 1;
            // SAFETY: `ahead` tasks were queued when the pass began and
            // this is at most the `ahead`-th resume; each resume removes at
            // most the task it resumed (task code only pushes), so one is
            // still queued.
            let (core, yielded) = unsafe { self.resume_front() };
            // Only a task that returned can have been the root.
            if !yielded && core.root_done.get() {
                context::restore_current(me);
                Self::hand_back_to_loop(ahead);
                return;
            }
            if ahead == 0 {
                break;
            }
        }
        // Each resume marked its task as the running one: mark ours again.
        context::restore_current(me);
    }

    /// For [`Core::host_yield`]: resumes the task at the front of the run
    /// queue, *hosted* and where it lies, then files it: a yield moves it to
    /// the back (nothing moves when it is the only one queued), a wait parks
    /// it, a return finishes it. Returns the runtime, read again after the
    /// switch (see [`context::core_after_switch`]), and whether the task
    /// yielded.
    ///
    /// # Safety
    ///
    /// The run queue must not be empty: the caller counts the tasks ahead
    /// first.
    #[inline(always)]
    unsafe fn resume_front(&self) -> (&Core, bool) {
        // SAFETY: not empty (the caller).
        let task = unsafe { self.run_queue.front_unchecked() };
        self.tick();
        context::enter_task(task.as_ptr(), true);
        // SAFETY: the queue owns `task` and keeps it in place until it is
        // popped (`RunQueue::front_unchecked`), and nothing but this function
        // pops it: while it runs, the coroutine is hosted, so the code it
        // runs can push tasks (spawn, wake) but never hosts, runs the loop or
        // pops. (Wake-ups count the queue only for `host_until_woken`, which
        // pops before it resumes, so a task in place is never miscounted.)
        // No other reference to a queued task exists (the coroutine reads
        // other fields through a raw pointer, see `Task`), so this `&mut` is
        // unique for as long as it lives.
        let result = unsafe { (*task.as_ptr()).coroutine.resume(()) };
        let core = context::core_after_switch(self);
        let yielded = match result {
            CoroutineResult::Yield(Switch::Yield) => {
                core.run_queue.rotate();
                true
            }
            CoroutineResult::Yield(Switch::Wait) => {
                core.park_pending(core.pop_resumed(task));
                false
            }
            CoroutineResult::Return(()) => {
                core.finish(*core.pop_resumed(task));
                false
            }
        };
        (core, yielded)
    }

    /// Takes the task [`Core::resume_front`] resumed out of the queue, where
    /// it is still first (task code only pushes).
    #[cold]
    fn pop_resumed(&self, task: NonNull<Task>) -> Box<Task> {
        let popped = self
            .run_queue
            .pop_front()
            .expect("the resumed task is still queued");
        debug_assert!(
            ptr::eq(&*popped, task.as_ptr()),
            "the resumed task is still first"
        );
        popped
    }

    /// A blocking wait (`join`, `recv`) for a coroutine the scheduler loop
    /// resumed: rather than parking and letting the loop run the others, it
    /// runs them itself, as [`Core::host_yield`] does, until it is woken.
    /// The caller registers `me` with whatever will wake it (the join slot,
    /// the channel) *before* calling this, exactly as it would before
    /// parking; [`Core::wake`] then sees that `me` is hosting and notes how
    /// many tasks were queued at that moment: the ones a parked `me` would
    /// have queued behind. Those run too, then this returns `true`: same
    /// order as parking, half the switches, no park.
    ///
    /// Returns `false` (the caller then parks as usual) if the run queue
    /// empties first, or as soon as a task it resumed *yields* before the
    /// wake-up: tasks that yield to each other are better off hosting each
    /// other (one switch per hand-off) than bouncing through this host (two),
    /// and parking now is exactly what the caller would have done at first.
    pub(crate) fn host_until_woken(&self, me: *const Task, id: TaskId) -> bool {
        self.host.set(Some(id));
        self.host_woken_ahead.set(None);
        let finished = loop {
            if let Some(ahead) = self.host_woken_ahead.get() {
                if ahead == 0 {
                    break true;
                }
                self.host_woken_ahead.set(Some(ahead - 1));
            }
            // Woken or not, the tasks counted ahead are still queued (only
            // we pop), so the queue can only be empty while we still wait.
            // Popped, not resumed in place: a wake-up for us counts the
            // queue, which must not hold the task that is running.
            let Some(task) = self.run_queue.pop_front() else {
                break false;
            };
            let yielded = self.resume(task, true);
            let woken = self.host_woken_ahead.get();
            if yielded && woken.is_none() {
                break false;
            }
            if self.root_done.get() {
                self.host.set(None);
                context::restore_current(me);
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
        };
        self.host.set(None);
        context::restore_current(me);
        finished
    }

    /// While the run queue is busy: take whatever I/O and timers are ready,
    /// without waiting. Costs nothing when there is nothing to watch.
    #[cold]
    #[inline(never)]
    fn poll_ready_events(&self) {
        self.ticks.reload();
        let has_timers = !self.timers.borrow().is_empty();
        if self.reactor.has_waiters() {
            self.poll(Some(std::time::Duration::ZERO));
        }
        if has_timers {
            self.fire_timers(Instant::now());
        }
    }

    /// The run queue is empty: block in the reactor until an event or the
    /// nearest deadline. Returns `false` when nothing at all can wake a task.
    fn wait_for_events(&self) -> bool {
        let next_deadline = self.timers.borrow().next_deadline();
        let has_io = self.reactor.has_waiters();
        match next_deadline {
            None if !has_io => return false,
            None => self.poll(None),
            Some(at) => {
                // With no socket registered this is a plain timed sleep; one
                // syscall either way.
                let now = Instant::now();
                if at > now {
                    self.poll(Some(at - now));
                }
                self.fire_timers(Instant::now());
            }
        }
        true
    }

    /// One `epoll_wait`, then wake every task whose socket became ready.
    fn poll(&self, timeout: Option<std::time::Duration>) {
        bump(&self.stats.polls, 1);
        let mut woken = Vec::new();
        let events = self.reactor.poll(timeout, &mut woken);
        bump(&self.stats.events, events as u64);
        // Borrows of the reactor are released: now wake, in event order.
        for id in woken {
            self.wake(id, Wake::Notified);
        }
    }

    /// Wakes every task whose deadline is at or before `now`, earliest first,
    /// ties in the order the timers were set.
    fn fire_timers(&self, now: Instant) {
        loop {
            let due = self.timers.borrow_mut().pop_due(now);
            match due {
                Some(id) => self.wake(id, Wake::TimedOut),
                None => break,
            }
        }
    }

    #[cold]
    fn deadlock(&self, root: TaskId) -> ! {
        let tasks = self.tasks.borrow();
        let mut lines = Vec::new();
        for (_, slot) in tasks.iter() {
            if let SlotState::Parked(parked) = &slot.state {
                let who = if parked.task.id == root {
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
        let count = lines.len();
        drop(tasks);
        panic!(
            "corio deadlock: {count} coroutine(s) are blocked and nothing (no timer, \
             no socket, no other thread) can ever wake any of them:\n{}\n\
             Check for a join on a task that waits for its joiner, or a recv on a \
             channel whose senders are all held by blocked coroutines.",
            lines.join("\n")
        )
    }

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

    /// Cancels the registrations of a parked task and hands it over.
    fn unpark(&self, state: SlotState) -> Option<Box<Task>> {
        let SlotState::Parked(Parked { task, on, timer }) = state else {
            return None;
        };
        if let Some(key) = timer {
            self.timers.borrow_mut().cancel(key);
        }
        if let ParkedOn::Io(token, interest) = on {
            self.reactor.clear_waiter(token, interest, task.id);
        }
        Some(task)
    }

    /// Takes every task out of the runtime (queued first, then parked), for
    /// teardown. Returns `None` once there are none left.
    pub(crate) fn take_any_task(&self) -> Option<Box<Task>> {
        if let Some(task) = self.run_queue.pop_front() {
            return Some(task);
        }
        let mut tasks = self.tasks.borrow_mut();
        let key = tasks
            .iter()
            .find(|(_, slot)| matches!(slot.state, SlotState::Parked(_)))
            .map(|(key, _)| key)?;
        let state = tasks.remove(key).state;
        drop(tasks);
        self.unpark(state)
    }
}
