//! The scheduler: a FIFO run queue of coroutines, the loop that resumes them,
//! and what it does with the reason each one gives for stopping.
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
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`Core`], the loop, wake / park / finish, the deadlock report, teardown |
//! | `task.rs` | [`TaskId`], [`Task`] and the slot it waits in |
//! | `suspend.rs` | [`Switch`], [`Suspend`], [`Blocker`], [`Wake`], [`CannotWait`] |
//! | `hosting.rs` | the in-place hand-off (`host_yield`, `host_until_woken`) |
//! | `context.rs` | the thread-local current runtime and task |
//! | `run_queue.rs` | the ring of runnable tasks |
//!
//! The rest of the crate talks to the scheduler through the functions
//! re-exported here (`suspend`, `current_id`, `host_until_woken`, ...) and a
//! [`TaskWaker`]; `reactor` and `timer` are leaves it uses.

mod context;
mod hosting;
mod run_queue;
mod suspend;
mod task;

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::ptr::NonNull;
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use corosensei::CoroutineResult;
use slab::Slab;

use crate::blocking::{Job, Remote};
use crate::reactor::Reactor;
use crate::stack::StackPool;
use crate::timer::Timers;
use crate::trace::{self, EventKind, Recorder, SuspendReason, Trace, WakeCause};

pub(crate) use context::{
    current_id, current_shared, describe_current, enter_runtime, host_until_woken, in_runtime,
    running_id, running_shared, start_task, suspend, try_running_id, try_with_core,
    unwinding_in_progress, with_core, yield_now,
};
pub(crate) use suspend::{Blocker, CannotWait, Suspend, Switch, Wake};
pub use task::TaskId;
pub(crate) use task::{Parker, Task, TaskCoroutine, TaskShared};

use run_queue::RunQueue;
use task::{Parked, ParkedOn, Slot, SlotState};

/// Counters of one runtime, for experiments: how much switching and polling a
/// program caused.
///
/// # Examples
///
/// ```
/// let stats = corio::run(|| {
///     let h = corio::spawn(|| corio::yield_now());
///     h.join().unwrap();
///     corio::stats()
/// });
/// assert_eq!(stats.spawned, 2); // the root and the child
/// assert_eq!(stats.completed, 1); // the child; the root is still running
/// ```
///
/// Two coroutines that yield to each other 1,000 times each are switched in
/// about 2,000 times, however corio hands the CPU over:
///
/// ```
/// let switches = corio::run(|| {
///     let before = corio::stats().switches;
///     let other = corio::spawn(|| (0..1000).for_each(|_| corio::yield_now()));
///     (0..1000).for_each(|_| corio::yield_now());
///     other.join().unwrap();
///     corio::stats().switches - before
/// });
/// assert!((2000..=2003).contains(&switches), "{switches}");
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Times a coroutine was switched in, that is, given the CPU: by the
    /// scheduler loop, or by a coroutine that hands over directly (a
    /// `yield_now` or a wait that runs the next task from its own stack, and
    /// the switch back into it when that task stops). A `yield_now` with
    /// nobody else to run switches nowhere and is not counted; neither is
    /// the unwinding of coroutines when a runtime is dropped.
    pub switches: u64,
    /// Tasks spawned, the roots of `block_on` included.
    pub spawned: u64,
    /// Tasks that ended by returning or panicking (not those unwound when
    /// their runtime was dropped).
    pub completed: u64,
    /// Calls into the poller (`epoll_wait`), blocking or not.
    pub polls: u64,
    /// Readiness events the poller returned (one per socket per call, for
    /// any mix of readable and writable).
    pub events: u64,
}

/// The state of one runtime, shared by the scheduler loop and by the code
/// running in its coroutines (through `context`).
///
/// Everything is `Cell`/`RefCell`: a runtime is confined to one thread, so a
/// lock would only cost time. Borrows never outlive a switch.
pub(crate) struct Core {
    /// This core, for handing out [`Core::weak`].
    me: Weak<Core>,
    /// Which runtime of the process this is; stamped into every `TaskId`, so
    /// that a join or a wake-up can tell a task of another runtime.
    runtime: u32,
    /// Tasks ready to run, in the order they became ready.
    run_queue: RunQueue,
    /// Every live task's slot, keyed by `TaskId::key`.
    tasks: RefCell<Slab<Slot>>,
    /// Next task serial; never reused within a runtime.
    next_serial: Cell<u64>,
    /// Free stacks, reused by the next spawn.
    pub(crate) stacks: RefCell<StackPool>,
    /// Stack size for tasks that do not ask for their own.
    pub(crate) default_stack_size: usize,
    /// Scheduler ticks, which also count the switches (`Stats::switches`).
    ticks: Ticks,
    /// The coroutine running `host_until_woken`, if one is: a wake-up for it
    /// is noted in `host_woken_ahead` instead of queueing it.
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
    pub(crate) reactor: Rc<Reactor<TaskId>>,
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
    /// Whether the "only other threads can wake us" warning was given for
    /// the current stretch of idleness.
    stuck_warned: Cell<bool>,
    /// The timeline recorder, when tracing is on (`runtime::Builder::trace`).
    trace: Option<Box<RefCell<Recorder>>>,
    /// What wakes tasks right now, when it is not a coroutine: set by the
    /// poll and the inbox around their wake-ups (for the trace; a timer's
    /// wake-up says so itself, with `Wake::TimedOut`).
    waking: Cell<Option<WakeCause>>,
}

/// How long a runtime whose coroutines are all blocked waits for another
/// thread, when one only *may* wake it (a channel whose senders may be
/// there, a live `Handle`), before it logs who waits on what.
const STUCK_PATIENCE: Duration = Duration::from_secs(2);

/// [`Stats`] as cells, bumped where things happen (`switches` is kept by
/// [`Ticks`]).
#[derive(Default)]
struct StatCells {
    spawned: Cell<u64>,
    completed: Cell<u64>,
    polls: Cell<u64>,
    events: Cell<u64>,
}

fn bump(cell: &Cell<u64>, by: u64) {
    cell.set(cell.get() + by);
}

/// The scheduler's tick counter, which is also its switch counter.
///
/// Every switch into a coroutine is a tick: a resume by the loop or by a
/// host, and a host's getting the CPU back at the end of its pass. So is a
/// yield that finds nobody else to run, which switches nowhere (an *idle*
/// tick). Every `interval` ticks the scheduler takes ready I/O and due
/// timers without blocking. A tick is one subtraction from `left` and a
/// branch; the switch count is worked out from `left` when asked.
struct Ticks {
    /// Ticks between two polls (`runtime::Builder::event_interval`), >= 1.
    interval: i64,
    /// Ticks left until the next poll: a poll is due once it is 0 or less
    /// (a step of two may pass 0). Reloaded to `interval` after each poll.
    left: Cell<i64>,
    /// Switches counted up to the last reload of `left`.
    switches_before: Cell<u64>,
    /// Idle ticks (counted, but switched nowhere) since that reload.
    idle: Cell<u64>,
}

impl Ticks {
    /// A counter that first falls due after `interval` ticks.
    fn new(interval: u32) -> Ticks {
        assert!(interval >= 1, "the builder validates event_interval");
        Ticks {
            interval: i64::from(interval),
            left: Cell::new(i64::from(interval)),
            switches_before: Cell::new(0),
            idle: Cell::new(0),
        }
    }

    /// Counts `n` ticks; `true` when a poll is due, which the caller must
    /// then do, and [`Ticks::reload`].
    #[inline(always)]
    fn tick(&self, n: i64) -> bool {
        let left = self.left.get() - n;
        self.left.set(left);
        left <= 0
    }

    /// Notes that one tick counted switches nowhere.
    fn note_idle(&self) {
        bump(&self.idle, 1);
    }

    /// Switches so far.
    fn switches(&self) -> u64 {
        let ticked =
            u64::try_from(self.interval - self.left.get()).expect("left never exceeds interval");
        self.switches_before.get() + ticked - self.idle.get()
    }

    /// Starts the next interval.
    fn reload(&self) {
        self.switches_before.set(self.switches());
        self.idle.set(0);
        self.left.set(self.interval);
    }
}

/// Which task [`Core::run_task`] runs, and who owns it while it runs.
enum Next {
    /// One the loop popped: `run_task` owns it, and files it.
    Popped(Box<Task>),
    /// The front of the run queue, run where it lies (by a host): the queue
    /// keeps owning it until `run_task` files it.
    Front,
}

/// How a task that [`Core::run_task`] ran stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stopped {
    /// It yielded: it is at the back of the run queue.
    Yielded,
    /// It waits: it is parked.
    Waited,
    /// It returned: it is gone.
    Returned,
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

/// Wakes `id`, a coroutine that waited on a socket, of the current runtime:
/// the socket may be ready for it too (see `reactor`).
pub(crate) fn wake_io_waiter(id: TaskId) {
    try_with_core(|core| core.wake(id, Wake::Notified));
}

/// The reactor of the current runtime (for registering a socket).
///
/// # Panics
///
/// Panics with a message naming `what` outside a runtime.
#[track_caller]
pub(crate) fn reactor(what: &str) -> Rc<Reactor<TaskId>> {
    with_core(what, |core| Rc::clone(&core.reactor))
}

/// Whether `reactor` is the current runtime's; `None` outside a runtime.
pub(crate) fn is_current_reactor(reactor: &Rc<Reactor<TaskId>>) -> Option<bool> {
    try_with_core(|core| Rc::ptr_eq(&core.reactor, reactor))
}

/// The id of the current runtime, `None` outside one.
#[inline]
pub(crate) fn current_runtime() -> Option<u32> {
    try_with_core(|core| core.runtime)
}

/// What `join` of a task that a dropped runtime unwound gives: the task never
/// finished.
pub(crate) const UNWOUND: &str =
    "the task did not finish: its corio runtime was dropped while it was still running";

impl Core {
    /// A runtime's scheduler, with an empty run queue and no tasks.
    pub(crate) fn new(
        default_stack_size: usize,
        event_interval: u32,
        reactor: Reactor<TaskId>,
        waker: mio::Waker,
        trace: Option<usize>,
    ) -> Rc<Core> {
        /// Hands out runtime ids; 2^32 runtimes in one process would wrap
        /// it, and the ids only need to differ among live ones.
        static NEXT_RUNTIME: AtomicU32 = AtomicU32::new(1);
        let runtime = NEXT_RUNTIME.fetch_add(1, Ordering::Relaxed);
        Rc::new_cyclic(|me| Core {
            me: me.clone(),
            runtime,
            run_queue: RunQueue::new(),
            tasks: RefCell::new(Slab::new()),
            next_serial: Cell::new(1),
            stacks: RefCell::new(StackPool::new()),
            default_stack_size,
            ticks: Ticks::new(event_interval),
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
            stuck_warned: Cell::new(false),
            trace: trace.map(|capacity| Box::new(RefCell::new(Recorder::new(capacity)))),
            waking: Cell::new(None),
        })
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

    /// This runtime's remote side, to hand to another thread (a `Handle`, a
    /// blocking job, a channel's cross-thread senders).
    pub(crate) fn remote(&self) -> Arc<Remote> {
        Arc::clone(&self.remote)
    }

    /// Runs the jobs other threads posted, oldest first, as scheduler code.
    fn drain_inbox(&self) {
        let _cause = Waking::begin(self, WakeCause::OtherThread);
        for job in self.remote.take_jobs() {
            let outcome =
                context::as_scheduler(|| panic::catch_unwind(AssertUnwindSafe(|| job(self))));
            if let Err(payload) = outcome {
                log::error!(
                    "corio: a job from another thread panicked on runtime {} ({}); the \
                     panic is dropped",
                    self.runtime,
                    crate::task::panic_text(&*payload)
                );
            }
        }
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

    /// The runtime is dropped: refuse further jobs from other threads, and
    /// hand back the ones never run (to be dropped).
    pub(crate) fn close_inbox(&self) -> Vec<Job> {
        self.remote.close()
    }

    /// A weak handle to this runtime, to wake one of its tasks later from
    /// outside a coroutine (see [`TaskWaker`]).
    pub(crate) fn weak(&self) -> Weak<Core> {
        self.me.clone()
    }

    /// A snapshot of the counters.
    pub(crate) fn stats(&self) -> Stats {
        let s = &self.stats;
        Stats {
            switches: self.ticks.switches(),
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
            // It is running, hosting the others until this very moment.
            if self.host_woken_ahead.get().is_none() {
                // The tasks queued now run before it, as they would before a
                // parked task woken now; a hosted task running where it lies
                // (the one waking it) is at the front, and is not ahead.
                let in_place = usize::from(context::is_running());
                self.host_woken_ahead
                    .set(Some(self.run_queue.len() - in_place));
                self.trace(id.serial(), || EventKind::Wake(self.wake_cause(how)));
                log::trace!("wake {id} (hosting; {how:?})");
            }
            return;
        }
        if id.runtime() != self.runtime {
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
        // Logged while this still holds the task: a backend that calls into
        // corio finds it in no queue and no slot (a wake-up for it is then
        // a no-op, as for any task that is not parked).
        self.trace(id.serial(), || EventKind::Wake(self.wake_cause(how)));
        log::trace!("wake {} ({how:?})", task.describe());
        self.run_queue.push_back(task);
    }

    /// What is waking a task right now, for the trace.
    fn wake_cause(&self, how: Wake) -> WakeCause {
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
    /// tasks it popped, the hosts the front of the queue. `None` if `next`
    /// is [`Next::Front`] and the queue is empty.
    ///
    /// The current-task mark is set right before the switch and cleared
    /// right after the switch back, before anything else: filing a task
    /// calls `log`, that is a user's backend, which may call into corio, and
    /// must find no coroutine running (see `context`).
    ///
    /// `TRACED` is whether tracing is on, decided once per pass by the
    /// caller, so that the untraced build of this function has no trace
    /// code at all (the yield path is where a branch shows).
    #[inline(always)]
    fn run_task<const TRACED: bool>(&self, next: Next) -> Option<Stopped> {
        let hosted = matches!(next, Next::Front);
        let task = match next {
            Next::Popped(task) => NonNull::from(Box::leak(task)),
            Next::Front => self.run_queue.front()?,
        };
        if TRACED {
            // SAFETY: as below: the task is alive and not running.
            let serial = unsafe { (*task.as_ptr()).id.serial() };
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
        let result = unsafe { (*task.as_ptr()).coroutine.resume(()) };
        context::leave_task();
        if TRACED {
            self.trace_stop(task, &result);
        }
        let stopped = match result {
            CoroutineResult::Yield(Switch::Yield) => {
                if hosted {
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
        };
        Some(stopped)
    }

    /// [`Core::run_task`], traced if tracing is on: for callers that run
    /// one task at a time (the loop, a waiting host); a yield's pass decides
    /// once for all its tasks (`host_yield`).
    #[inline(always)]
    fn run_next(&self, next: Next) -> Option<Stopped> {
        if self.trace.is_some() {
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
    /// (`corio_spawn_join` in `benches/switch_costs.rs`).
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
        let timer = deadline.map(|at| self.timers.borrow_mut().insert(at, id));
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
        let Task { id, coroutine, .. } = task;
        if self.root.get() == Some(id) {
            self.root_done.set(true);
        }
        bump(&self.stats.completed, 1);
        self.trace(id.serial(), || EventKind::Finish);
        self.stacks.borrow_mut().give_back(coroutine.into_stack());
        self.tasks.borrow_mut().remove(id.key());
        log::trace!("finish {id}");
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
                .run_queue
                .pop_front()
                .expect("a tick only adds to a non-empty run queue");
            self.run_next(Next::Popped(task));
        }
        self.root.set(None);
    }

    /// Counts a switch, right before it; every `event_interval` ticks, first
    /// takes ready I/O and due timers without blocking (what that wakes
    /// queues behind the tasks already queued).
    #[inline(always)]
    fn tick(&self) {
        self.tick_by(1);
    }

    /// [`Core::tick`] for `n` switches at once (a constant at each call).
    #[inline(always)]
    fn tick_by(&self, n: i64) {
        if self.ticks.tick(n) {
            self.poll_ready_events();
        }
    }

    /// While the run queue is busy: take whatever I/O and timers are ready,
    /// without waiting. Costs nothing when there is nothing to watch. Runs
    /// as scheduler code (no coroutine current: a wake-up's log line runs a
    /// user's backend), whoever's tick fell due.
    #[cold]
    #[inline(never)]
    fn poll_ready_events(&self) {
        self.ticks.reload();
        let has_timers = !self.timers.borrow().is_empty();
        // A job another thread posted since the last poll: its waker's
        // token is waiting in the poller.
        let has_io = self.reactor.has_waiters() || self.remote.has_pending();
        if !has_timers && !has_io {
            return;
        }
        context::as_scheduler(|| {
            if has_io {
                self.poll(Some(Duration::ZERO));
            }
            if has_timers {
                self.fire_timers(Instant::now());
            }
        });
    }

    /// The run queue is empty: block in the reactor until an event or the
    /// nearest deadline. Returns `false` when nothing at all can wake a task.
    fn wait_for_events(&self) -> bool {
        let next_deadline = self.timers.borrow().next_deadline();
        let has_io = self.reactor.has_waiters();
        if next_deadline.is_none() && !has_io {
            return self.wait_for_other_threads();
        }
        self.stuck_since.set(None);
        match next_deadline {
            None => self.poll(None),
            Some(at) => {
                let now = Instant::now();
                if at > now {
                    // The timerfd ends the wait to the microsecond; should
                    // arming fail, a millisecond timeout still does.
                    match self.reactor.arm(at, now) {
                        Ok(()) => self.poll(None),
                        Err(_) => self.poll(Some(at - now)),
                    }
                }
                self.fire_timers(Instant::now());
            }
        }
        true
    }

    /// No timer, no socket: only another thread can wake a task now, if any
    /// can. Waits for one; `false` (a deadlock) when none can.
    #[cold]
    fn wait_for_other_threads(&self) -> bool {
        if self.remote.has_jobs() {
            self.drain_inbox();
            return true;
        }
        match self.other_threads_may_wake() {
            None => false,
            Some(true) => {
                self.stuck_since.set(None);
                self.poll(None);
                true
            }
            Some(false) => {
                self.wait_patiently();
                true
            }
        }
    }

    /// Polls for another thread's wake-up that may never come; once the
    /// runtime has been stuck so for [`STUCK_PATIENCE`], logs who waits on
    /// what (once per stretch), and from then on waits without a timeout.
    #[cold]
    fn wait_patiently(&self) {
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

    /// Whether a task may be woken by another thread: `Some(true)` if one
    /// surely will be (a blocking job, a task of another runtime),
    /// `Some(false)` if one may be (a channel receive, a live `Handle`),
    /// `None` if nothing outside this runtime can wake any task.
    fn other_threads_may_wake(&self) -> Option<bool> {
        let mut may = (self.remote.handles.load(Ordering::Acquire) > 0).then_some(false);
        for (_, slot) in self.tasks.borrow().iter() {
            if let SlotState::Parked(Parked {
                on: ParkedOn::Blocker(blocker),
                ..
            }) = &slot.state
            {
                match blocker.other_threads() {
                    Some(true) => return Some(true),
                    Some(false) => may = Some(false),
                    None => {}
                }
            }
        }
        may
    }

    /// One `epoll_wait`, then wake every task whose socket became ready.
    fn poll(&self, timeout: Option<Duration>) {
        bump(&self.stats.polls, 1);
        let mut woken = Vec::new();
        let began = self.trace.is_some().then(trace::clock);
        let events = self.reactor.poll(timeout, &mut woken);
        bump(&self.stats.events, events as u64);
        if let Some(began) = began {
            // In clock ticks until the trace is taken (`Recorder::take`).
            self.trace(0, || EventKind::Poll {
                events: u32::try_from(events).unwrap_or(u32::MAX),
                waited_ns: trace::clock().wrapping_sub(began),
            });
        }
        let _cause = Waking::begin(self, WakeCause::Io);
        // Borrows of the reactor are released: now wake, in event order.
        for id in woken {
            self.wake(id, Wake::Notified);
        }
        if self.reactor.take_woken() {
            self.drain_inbox();
        }
    }

    /// Wakes every task whose deadline is at or before `now`, earliest first,
    /// ties in the order the timers were set (their `Wake::TimedOut` names
    /// the timer as the cause).
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
    fn blocked_lines(&self, root: Option<TaskId>) -> Vec<String> {
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
    fn take_parked_from(&self, cursor: &mut usize) -> Option<Box<Task>> {
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
    pub(crate) fn unwind(&self, mut task: Box<Task>) {
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
            panic::catch_unwind(AssertUnwindSafe(|| task.coroutine.force_unwind()))
        });
        if outcome.is_err() {
            log::error!(
                "corio: a destructor panicked while {} was unwound; the panic is dropped \
                 and the rest goes on",
                task.describe()
            );
        }
        drop(task);
    }
}

/// A task's description for a trace line, taken while the scheduler still
/// holds the task, if trace logging is on. The line itself is logged once
/// the task is filed: a log backend is user code, which may call into corio,
/// and should find the scheduler's state whole.
fn traced(task: &Task) -> Option<String> {
    log::log_enabled!(log::Level::Trace).then(|| task.describe())
}

/// Names what wakes tasks for the trace while it lives (the poll, the
/// inbox); puts the previous cause back when dropped.
struct Waking<'a> {
    core: &'a Core,
    previous: Option<WakeCause>,
}

impl<'a> Waking<'a> {
    fn begin(core: &'a Core, cause: WakeCause) -> Waking<'a> {
        Waking {
            core,
            previous: core.waking.replace(Some(cause)),
        }
    }
}

impl Drop for Waking<'_> {
    fn drop(&mut self) {
        self.core.waking.set(self.previous);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_count_switches_but_not_idle_ticks() {
        let ticks = Ticks::new(3);
        assert!(!ticks.tick(1));
        ticks.note_idle();
        assert!(!ticks.tick(1));
        assert!(ticks.tick(1), "the third tick falls due");
        ticks.reload();
        assert_eq!(ticks.switches(), 2);
        assert!(!ticks.tick(1));
        assert_eq!(ticks.switches(), 3);
    }

    #[test]
    fn a_step_of_two_past_zero_falls_due_and_counts_both() {
        let ticks = Ticks::new(3);
        assert!(!ticks.tick(2));
        assert!(ticks.tick(2), "3 - 4 < 0: due");
        assert_eq!(ticks.switches(), 4);
        ticks.reload();
        assert_eq!(ticks.switches(), 4);
        assert!(!ticks.tick(1));
        assert_eq!(ticks.switches(), 5);
    }
}
