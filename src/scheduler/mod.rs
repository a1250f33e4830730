//! The scheduler: a run queue of coroutines (FIFO unless a
//! [`Schedule`] says otherwise), the loop that resumes them, and what it
//! does with the reason each one gives for stopping.
//!
//! # Ownership is the state machine
//!
//! A task is a boxed [`Task`] that is always in exactly one place:
//!
//! ```text
//!   spawn ──► run_queue ──► (running: popped by the loop, or in place at the
//!                ▲            front for a host) ──yield──► run_queue (back)
//!                │                        │
//!                │ wake(id)               ├─ Park / Io / Sleep ──► tasks[key] = Parked(task)
//!                └────── tasks[key] ◄─────┘
//!                                         └─ returned ──► stack back to the pool, slot freed
//! ```
//!
//! Every task runs through one function, [`Core::run_task`]: mark it
//! current, switch in, clear the mark the moment it switches back, then file
//! it by what it said. The loop ([`Core::run_until`]) runs tasks it popped;
//! the two hosts (`hosting`: a coroutine's `yield_now` or blocking wait that
//! runs the others from its own stack) run the front of the queue where it
//! lies. Every `RefCell` borrow is taken and released between switches,
//! never held across one.
//!
//! # Files
//!
//! The scheduler is closed: it uses only `stack`, `reactor`, `timer` and
//! `trace`, and everything public is built on it (`tests/layout.rs` checks).
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`Core`], the state of one runtime, and [`TaskWaker`] |
//! | `run.rs` | the loop (`run_until`), the one way a task runs (`run_task`), wake / park / finish |
//! | `hosting.rs` | the in-place hand-off (`host_yield`, `host_until_woken`) |
//! | `spawn.rs` | task construction, its root function, the join slot and [`Spawned::join`] |
//! | `io.rs` | [`IoRegistration`]: the one door from `net` to the reactor |
//! | `inbox.rs` | work from other threads: [`Remote`], its [`Job`]s and waker, [`SendWaker`] |
//! | `idle.rs` | polling the reactor, firing timers, draining the inbox |
//! | `deadlock.rs` | waiting on other threads, and the deadlock report |
//! | `teardown.rs` | unwinding tasks when a runtime is dropped, or one at a time |
//! | `cancel.rs` | `JoinHandle::cancel`, the `Cancelled` payload |
//! | `metrics.rs` | [`Stats`] and the tick counter |
//! | `task.rs` | [`TaskId`], [`Task`] and the slot it waits in |
//! | `suspend.rs` | [`Switch`], [`Suspend`], [`Blocker`], [`Holder`], [`Wake`], [`CannotWait`] |
//! | `context.rs` | the thread-local current runtime and task |
//! | `run_queue.rs` | the ring of runnable tasks |
//! | `schedule.rs` | [`Schedule`] and the pick's policy (FIFO, random, PCT) |
//!
//! The rest of the crate talks to the scheduler through the names
//! re-exported here: `spawn` / [`Spawned`] to start and join a task,
//! `suspend`, `current_id` and `host_until_woken` to wait, a
//! [`TaskWaker`] to wake (a [`SendWaker`] from any thread),
//! [`IoRegistration`] for a socket and [`Remote`] for another thread.

mod cancel;
mod context;
mod deadlock;
mod dump;
mod hosting;
mod idle;
mod inbox;
mod io;
mod metrics;
mod pulse;
mod run;
mod run_queue;
mod schedule;
mod spawn;
mod suspend;
mod task;
mod teardown;

use std::cell::{Cell, OnceCell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use slab::Slab;

use crate::reactor::Reactor;
use crate::stack::StackPool;
use crate::timer::Timers;
use crate::trace::{EventKind, Recorder, StallLog, Trace, WakeCause};

pub use cancel::Cancelled;
pub(crate) use context::{
    current_id, current_shared, describe_current, enter_runtime, host_until_woken, in_runtime,
    running_id, running_shared, suspend, try_running_id, try_with_core, unwinding_in_progress,
    with_core, yield_now,
};
pub use dump::{Dump, TaskInfo, TaskState};
pub(crate) use inbox::{Remote, SendWaker, runtime_gone, wake_remote};
pub(crate) use io::IoRegistration;
pub(crate) use metrics::TaskCounters;
pub use metrics::{Stats, TaskMetrics};
pub(crate) use pulse::{Beat, sample_watched};
pub(crate) use schedule::SCHEDULE_FORMS;
pub use schedule::{ParseScheduleError, Schedule};
pub(crate) use spawn::{NotSend, Spawned, panic_text, spawn, spawn_on, spawn_unchecked_on};
pub(crate) use suspend::{Blocker, CannotWait, Holder, Suspend, Switch, Wake};
pub use task::TaskId;
pub(crate) use task::{Parker, Run, Task, TaskBody, TaskShared};

use metrics::{StatCells, Ticks};
use pulse::Watched;
use run_queue::RunQueue;
use schedule::Policy;
use task::Slot;

/// What a runtime is built with (`runtime::Builder`, checked there).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// Stack size for tasks that do not ask for their own.
    pub(crate) stack_size: usize,
    /// Ticks between two non-blocking polls.
    pub(crate) event_interval: u32,
    /// Trace ring capacity, if tracing is on.
    pub(crate) trace: Option<usize>,
    /// The stall threshold, if the watchdog watches this runtime; a quiet
    /// hang is reported after [`QUIET_HANG_FACTOR`] times it.
    pub(crate) stall_threshold: Option<Duration>,
    /// Whether tasks' run and queue times are measured.
    pub(crate) task_metrics: bool,
    /// Whether the clock jumps to the next timer when nothing else can
    /// happen (`runtime::Builder::virtual_time`).
    pub(crate) virtual_time: bool,
    /// Which runnable task runs next (checked: PCT's depth is at least 1).
    pub(crate) schedule: Schedule,
}

/// What a coroutine resumed by the loop does when it yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum YieldPath {
    /// Runs the tasks queued ahead itself (`hosting`), uninstrumented.
    Host,
    /// The same, traced or timed (`run_task`'s `TRACED`).
    HostTraced,
    /// Switches to the loop, whose pick chooses the next task: any
    /// schedule but FIFO.
    ThroughLoop,
}

/// A runtime whose coroutines have all waited this many stall thresholds,
/// with only another thread left to wake one, reports a quiet hang.
pub(crate) const QUIET_HANG_FACTOR: u32 = 20;

/// The state of one runtime, shared by the scheduler loop and by the code
/// running in its coroutines (through `context`).
///
/// Everything is `Cell`/`RefCell`: a runtime is confined to one thread, so a
/// lock would only cost time. Borrows never outlive a switch.
pub(crate) struct Core {
    /// Keeps the pulse (in `ticks`) listed for the stall watchdog; declared
    /// before `ticks` so that it is dropped, and the pulse unlisted, first.
    watched: OnceCell<Watched>,
    /// This core, for handing out [`Core::weak`].
    me: Weak<Core>,
    /// Which runtime of the process this is; stamped into every `TaskId`, so
    /// that a join or a wake-up can tell a task of another runtime.
    runtime: u32,
    /// Tasks ready to run, in the order they became ready.
    run_queue: RunQueue,
    /// Which of them runs next ([`Core::pick`]); only FIFO lets a
    /// coroutine host the others (`hosting`).
    policy: Policy,
    /// The first panic of a task other than the root since the last
    /// [`Core::take_first_panic`], described with the task: `explore`
    /// reports it beside the root's.
    first_panic: RefCell<Option<String>>,
    /// Every live task's slot, keyed by `TaskId::key`.
    tasks: RefCell<Slab<Slot>>,
    /// Most tasks alive at once since the last trim of a large drop
    /// ([`Core::trim_after_drop`]); kept by the spawn path.
    live_peak: Cell<usize>,
    /// Parked tasks that another thread will surely wake
    /// ([`ParkedOn::surely_woken_elsewhere`]), counted as they park and
    /// leave the table's parked state (`Core::park`, `Core::unpark`), so
    /// that a virtual clock's jump asks in O(1) (`Core::may_jump`).
    parked_for_other_threads: Cell<usize>,
    /// Next task serial; never reused within a runtime.
    next_serial: Cell<u64>,
    /// Free stacks, reused by the next spawn.
    stacks: RefCell<StackPool>,
    /// Stack size for tasks that do not ask for their own.
    default_stack_size: usize,
    /// Scheduler ticks, which also count the switches (`Stats::switches`),
    /// and the pulse the stall watchdog reads.
    ticks: Ticks,
    /// How long every coroutine may wait, with only another thread left to
    /// wake one, before a quiet hang is reported on stderr (`None`: never).
    quiet_after: Option<Duration>,
    /// Named tasks alive, whose names the pulse keeps (watched runtimes only).
    named_live: Cell<usize>,
    /// Whether tasks' run and queue times are measured
    /// (`runtime::Builder::task_metrics`).
    timed: bool,
    /// Whether tracing or task timing is on: the instrumented build of the
    /// task-running code runs (`run_task`'s `TRACED`). Fixed at build.
    instrumented: bool,
    /// What `yield_now` does, decided at build from `instrumented` and the
    /// schedule, so that the yield checks one value (`Core::host_yield`).
    yield_path: YieldPath,
    /// The task hosting the others in `host_until_woken`, valid while
    /// `host` is set: for the task dump.
    host_task: Cell<*const Task>,
    /// The running task that hosts the others in `host_until_woken`, if
    /// one does: its slot says `Scheduled` (it runs), and [`Core::wake`]
    /// tells it from a queued task by this. A cell, not a slot state, so
    /// that a join that hosts writes no slab entry (`spawn_join` in
    /// `peers/benches/run_queue.rs`).
    host: Cell<Option<TaskId>>,
    /// Tasks queued when the hosting coroutine was woken and not run since:
    /// those it must still run before its own turn. `None` until woken.
    host_woken_ahead: Cell<Option<usize>>,
    /// The task `run_until` waits for.
    root: Cell<Option<TaskId>>,
    /// Set when the root returns, wherever that happened.
    root_done: Cell<bool>,
    /// The reason of a coroutine that stopped with [`Switch::Wait`]: written
    /// right before its switch, taken right after it. Only one coroutine runs
    /// at a time, so one slot is enough.
    pending: Cell<Option<Suspend>>,
    /// Set for good when the runtime is dropped: nothing suspends from then
    /// on (see `context`), every wait returns [`CannotWait::ShuttingDown`].
    shutting_down: Cell<bool>,
    /// Counters for experiments.
    stats: StatCells,
    /// The mio poller and socket registrations.
    reactor: Rc<Reactor<TaskId>>,
    /// Deadlines of sleeping or timed-out waits.
    timers: RefCell<Timers<TaskId>>,
    /// What other threads see of this runtime: its inbox and waker.
    remote: Arc<Remote>,
    /// Set by [`Core::request_stop`]: `run_until` returns before its root
    /// has ended, and `block_on` unwinds the root.
    stop_requested: Cell<bool>,
    /// Since when no coroutine could run and only another thread might
    /// change that, if so now.
    stuck_since: Cell<Option<Instant>>,
    /// The list a poll collects the tasks its events wake in, kept between
    /// polls so that a busy server's polls allocate nothing (empty while a
    /// poll has it).
    poll_woken: Cell<Vec<TaskId>>,
    /// Whether the "only other threads can wake us" warning was given for
    /// the current stretch of idleness.
    stuck_warned: Cell<bool>,
    /// The timeline recorder, when tracing is on (`runtime::Builder::trace`).
    trace: Option<Box<RefCell<Recorder>>>,
    /// What wakes tasks right now, when it is not a coroutine: set by the
    /// poll and the inbox around their wake-ups (for the trace; a timer's
    /// wake-up says so itself, with `Wake::TimedOut`).
    waking: Cell<Option<WakeCause>>,
    /// Whether the clock is virtual (`runtime::Builder::virtual_time`).
    virtual_time: bool,
    /// How far the virtual clock is ahead of the real one: the sum of its
    /// jumps. Zero on a real-time runtime.
    clock_offset: Cell<Duration>,
}

/// A task of a runtime, to be woken later from anywhere on its thread
/// (a channel keeps one per waiting receiver). Holds the runtime weakly: a
/// wake-up for a runtime that is gone is dropped.
#[derive(Clone, Debug)]
pub(crate) struct TaskWaker {
    /// The task to wake.
    id: TaskId,
    /// Its runtime.
    core: Weak<Core>,
}

impl TaskWaker {
    /// A waker for the running coroutine, which is about to wait.
    ///
    /// # Errors
    ///
    /// [`CannotWait`] when no coroutine runs but a runtime does.
    ///
    /// # Panics
    ///
    /// Panics with a message naming `what` outside any runtime.
    #[inline]
    #[track_caller]
    pub(crate) fn running(what: &str) -> Result<TaskWaker, CannotWait> {
        context::with_running(what, |id, core| TaskWaker {
            id,
            core: core.weak(),
        })
    }

    /// A waker for task `id` of the runtime `core`.
    pub(crate) fn new(id: TaskId, core: Weak<Core>) -> TaskWaker {
        TaskWaker { id, core }
    }

    /// The task it wakes.
    pub(crate) fn id(&self) -> TaskId {
        self.id
    }

    /// Wakes the task (a no-op if it is not parked or its runtime is gone).
    pub(crate) fn wake(&self) {
        if let Some(core) = self.core.upgrade() {
            core.wake(self.id, Wake::Notified);
        }
    }
}

/// The current runtime's clock ([`Core::now`]); the real clock outside a
/// runtime.
#[inline]
pub(crate) fn now() -> Instant {
    try_with_core(Core::now).unwrap_or_else(Instant::now)
}

/// Locks `mutex`, also after a panic elsewhere poisoned it. For the std
/// locks corio keeps internally, whose values stay whole across a panic
/// (each change under them is a single insert, removal or assignment), so
/// a poisoned one holds nothing half-done.
pub(crate) fn lock_unpoisoned<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The id of the current runtime, `None` outside one.
#[inline]
pub(crate) fn current_runtime() -> Option<u32> {
    try_with_core(|core| core.runtime)
}

impl Core {
    /// A runtime's scheduler, with an empty run queue and no tasks.
    ///
    /// # Errors
    ///
    /// The OS error if the poller (epoll, its waker, its timer) cannot be
    /// made.
    pub(crate) fn new(settings: Settings) -> std::io::Result<Rc<Core>> {
        let reactor = Reactor::new()?;
        let waker = reactor.waker()?;
        /// Hands out runtime ids; 2^32 runtimes in one process would wrap
        /// it, and the ids only need to differ among live ones.
        static NEXT_RUNTIME: AtomicU32 = AtomicU32::new(1);
        let runtime = NEXT_RUNTIME.fetch_add(1, Ordering::Relaxed);
        let core = Rc::new_cyclic(|me| Core {
            watched: OnceCell::new(),
            me: me.clone(),
            runtime,
            run_queue: RunQueue::new(),
            policy: Policy::new(settings.schedule),
            first_panic: RefCell::new(None),
            tasks: RefCell::new(Slab::new()),
            live_peak: Cell::new(0),
            parked_for_other_threads: Cell::new(0),
            next_serial: Cell::new(1),
            stacks: RefCell::new(StackPool::new()),
            default_stack_size: settings.stack_size,
            ticks: Ticks::new(settings.event_interval, runtime),
            quiet_after: settings
                .stall_threshold
                .map(|threshold| threshold.saturating_mul(QUIET_HANG_FACTOR)),
            named_live: Cell::new(0),
            timed: settings.task_metrics,
            instrumented: settings.task_metrics || settings.trace.is_some(),
            yield_path: match (
                settings.schedule,
                settings.task_metrics || settings.trace.is_some(),
            ) {
                (Schedule::Fifo, false) => YieldPath::Host,
                (Schedule::Fifo, true) => YieldPath::HostTraced,
                _ => YieldPath::ThroughLoop,
            },
            host_task: Cell::new(std::ptr::null()),
            host: Cell::new(None),
            host_woken_ahead: Cell::new(None),
            root: Cell::new(None),
            root_done: Cell::new(false),
            pending: Cell::new(None),
            shutting_down: Cell::new(false),
            stats: StatCells::default(),
            reactor: Rc::new(reactor),
            timers: RefCell::new(Timers::default()),
            remote: Remote::new(runtime, waker),
            stop_requested: Cell::new(false),
            stuck_since: Cell::new(None),
            poll_woken: Cell::new(Vec::new()),
            stuck_warned: Cell::new(false),
            trace: settings
                .trace
                .map(|capacity| Box::new(RefCell::new(Recorder::new(capacity)))),
            waking: Cell::new(None),
            virtual_time: settings.virtual_time,
            clock_offset: Cell::new(Duration::ZERO),
        });
        if settings.task_metrics {
            metrics::start_clock_calibration();
        }
        if settings.stall_threshold.is_some() {
            // SAFETY: the pulse lives inside the `Rc`'s allocation, which
            // does not move, and `watched` is dropped before `ticks` (field
            // order), so the pulse outlives its listing.
            let watched = unsafe { pulse::watch(&core.ticks.pulse) };
            let _ = core.watched.set(watched);
        }
        Ok(core)
    }

    /// The runtime's id, as stamped in its `TaskId`s.
    /// The runtime's clock: the real one, plus every jump a virtual clock
    /// made (see `idle.rs`).
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        Instant::now() + self.clock_offset.get()
    }

    /// Moves a virtual clock forward to `at` (nothing if it is there).
    pub(super) fn jump_to(&self, at: Instant) {
        let ahead = at.saturating_duration_since(self.now());
        self.clock_offset.set(self.clock_offset.get() + ahead);
        self.reactor.forget_armed();
    }

    pub(crate) fn runtime_id(&self) -> u32 {
        self.runtime
    }

    /// Records `kind` for `task` (a serial; 0: the scheduler) if tracing is
    /// on: one branch when it is off.
    #[inline(always)]
    pub(crate) fn trace(&self, task: u64, kind: impl FnOnce() -> EventKind) {
        if let Some(recorder) = &self.trace {
            recorder.borrow_mut().record(task, kind());
        }
    }

    /// The events recorded since the last call, if tracing is on.
    pub(crate) fn take_trace(&self) -> Option<Trace> {
        self.trace.as_ref().map(|r| r.borrow_mut().take())
    }

    /// A log the stall watchdog writes this runtime's stalls into, for the
    /// trace; `None` when tracing is off.
    pub(crate) fn stall_log(&self) -> Option<StallLog> {
        let recorder = self.trace.as_ref()?;
        let log = StallLog::default();
        recorder.borrow_mut().log_stalls(log.clone());
        Some(log)
    }

    /// Asks `run_until` to return at its next turn, whether or not its root
    /// has ended (a job from the thread that runs a `ThreadPerCore`, when
    /// another core failed). Free on the hot path: the loop already checks
    /// `root_done` every turn.
    pub(crate) fn request_stop(&self) {
        self.stop_requested.set(true);
        self.root_done.set(true);
    }

    /// Whether a stop was requested since the last call.
    pub(crate) fn take_stop_request(&self) -> bool {
        self.stop_requested.replace(false)
    }

    /// A weak handle to this runtime, to wake one of its tasks later from
    /// outside a coroutine (see [`TaskWaker`]).
    pub(crate) fn weak(&self) -> Weak<Core> {
        self.me.clone()
    }

    /// The stack size of a task that does not ask for its own.
    pub(crate) fn default_stack_size(&self) -> usize {
        self.default_stack_size
    }
}
