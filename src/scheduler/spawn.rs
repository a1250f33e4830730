//! Task construction and joining: the one spawn path and the one join path.
//!
//! A spawn reserves the task's slot ([`Core::reserve_id`]), takes a stack
//! from the pool without touching it, wraps the closure in the coroutine's
//! root function ([`task_body`], boxed) and queues the task
//! ([`Core::schedule_new`]); the coroutine is made on the stack at the
//! task's first run (`Core::start`, and `task::Run` for why). The root
//! function runs the closure, catches its panic, leaves the result in the
//! task's [`JoinSlot`] and wakes the joiner. [`Spawned::join`] waits on that
//! slot: it hosts the others in place while it can (`hosting`), and parks
//! otherwise. `task::JoinHandle` and `thread::Scope` are thin public faces
//! over [`Spawned`].

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::io;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::rc::{Rc, Weak};
use std::thread;
use std::time::Instant;

use corosensei::{Coroutine, Yielder};

use super::cancel::Cancelled;
use super::context;
use super::{
    Blocker, Core, Parker, Run, Suspend, Switch, Task, TaskBody, TaskCounters, TaskId, TaskMetrics,
    TaskShared, Wake,
};
use crate::stack::{PooledStack, StackSpan};
use crate::trace::SuspendReason;

/// What `join` of a task that a dropped runtime unwound gives: the task never
/// finished.
pub(crate) const UNWOUND: &str =
    "the task did not finish: its corio runtime was dropped while it was still running";

/// Where a task's result waits for its owner ([`Spawned`]).
struct JoinSlot<T> {
    /// The task's return value or panic payload, once it has ended.
    result: RefCell<Option<thread::Result<T>>>,
    /// Whether the task has ended (stays true after `join` took the result).
    finished: Cell<bool>,
    /// Whether its [`Spawned`] owner is alive; when not, the task drops its own
    /// result where it ends (see `spawn_on`). A flag, not the slot's
    /// reference count: the task and its `Thread` handles hold the slot too.
    handle_alive: Cell<bool>,
    /// The task's park token (`thread::park`, `Thread::unpark`).
    parker: Parker,
    /// The task blocked in `join` on this slot, if any.
    joiner: Cell<Option<TaskId>>,
    /// The name given with `Builder::name`: here rather than in the `Task`,
    /// so that `Thread::name` reaches it through a handle.
    name: Option<Box<str>>,
    /// The task's switch and time counters, kept after it ended.
    counters: TaskCounters,
}

impl<T> TaskShared for JoinSlot<T> {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn parker(&self) -> &Parker {
        &self.parker
    }
}

/// A spawned task as its owner sees it: the way to its result. Held by a
/// `JoinHandle` (and through it a `ScopedJoinHandle`), and by `block_on` for
/// its root. Dropping it detaches the task: its result is dropped where it
/// ends.
pub(crate) struct Spawned<T> {
    /// Shared with the task's root function, which fills it.
    slot: Rc<JoinSlot<T>>,
    /// The task's id.
    id: TaskId,
    /// The task's runtime, for a `Thread` handle's `unpark`.
    core: Weak<Core>,
}

impl<T> Spawned<T> {
    /// The task's id.
    pub(crate) fn id(&self) -> TaskId {
        self.id
    }

    /// Whether the task has ended (returned or panicked).
    pub(crate) fn is_finished(&self) -> bool {
        self.slot.finished.get()
    }

    /// The task's metrics so far (final once it finished).
    pub(crate) fn metrics(&self) -> TaskMetrics {
        self.slot.counters.metrics()
    }

    /// Suspends the calling coroutine until the task ends, and returns its
    /// result (see `JoinHandle::join` for the contract). `what` names the
    /// public call in panics and errors.
    #[track_caller]
    pub(crate) fn join(&self, what: &str) -> thread::Result<T> {
        loop {
            // A task that has ended gives its result from anywhere, as it
            // would outside any runtime.
            if let Some(result) = self.slot.result.borrow_mut().take() {
                return result;
            }
            if super::current_runtime().is_some_and(|runtime| runtime != self.id.runtime()) {
                panic!(
                    "{what}: {} belongs to another corio runtime and has not finished; that \
                     runtime's scheduler does not run while this one does, so the join would \
                     wait forever; join it from a coroutine of its own runtime",
                    self.id
                );
            }
            let me = match context::running_id(what) {
                Ok(me) => me,
                Err(cannot) => return Err(Box::new(cannot.explain(what))),
            };
            if me == self.id {
                panic!("{what}: {me} tried to join itself, which would wait forever");
            }
            self.slot.joiner.set(Some(me));
            // Run the others from here until the task ends, if we may.
            if context::host_until_woken(what, SuspendReason::Join) {
                continue;
            }
            if let Err(cannot) = context::suspend(what, Suspend::Park(Blocker::Join(self.id))) {
                return Err(Box::new(cannot.explain(what)));
            }
        }
    }

    /// Cancels the task (`JoinHandle::cancel`; see `cancel.rs`). Nothing
    /// happens to a task that has ended or whose runtime is gone (its
    /// runtime unwound it then).
    pub(crate) fn cancel(&self) {
        if self.slot.finished.get() {
            return;
        }
        let Some(core) = self.core.upgrade() else {
            return;
        };
        // Unwinding runs the task's destructors, which may need their
        // runtime (a socket's deregistration): enter it if the caller is
        // not inside it (a handle cancelled after `block_on` returned).
        let _entered = (super::current_runtime() != Some(self.id.runtime()))
            .then(|| context::enter_runtime(&core));
        let unwound = core.cancel(self.id, &self.slot.counters);
        if unwound && !self.slot.finished.get() {
            // Unwound before it ever ran: its body never filled the slot.
            self.slot.finished.set(true);
            *self.slot.result.borrow_mut() = Some(Err(Box::new(Cancelled)));
        }
    }

    /// [`Spawned::join`] that gives up at `deadline`: `None` then, with the
    /// task left running and joinable. Never hosts the others (the hand-off
    /// has no deadline); it parks with a timer as `recv_timeout` does.
    #[track_caller]
    pub(crate) fn join_until(&self, what: &str, deadline: Instant) -> Option<thread::Result<T>> {
        loop {
            if let Some(result) = self.slot.result.borrow_mut().take() {
                return Some(result);
            }
            if super::now() >= deadline {
                return None;
            }
            if super::current_runtime().is_some_and(|runtime| runtime != self.id.runtime()) {
                panic!(
                    "{what}: {} belongs to another corio runtime and has not finished; that \
                     runtime's scheduler does not run while this one does, so the join could \
                     only time out; join it from a coroutine of its own runtime",
                    self.id
                );
            }
            let me = match context::running_id(what) {
                Ok(me) => me,
                Err(cannot) => return Some(Err(Box::new(cannot.explain(what)))),
            };
            if me == self.id {
                panic!("{what}: {me} tried to join itself, which could only time out");
            }
            self.slot.joiner.set(Some(me));
            let waited =
                context::suspend(what, Suspend::ParkUntil(Blocker::Join(self.id), deadline));
            // Timed out or not, nobody should wake us for this task now.
            self.slot.joiner.set(None);
            if let Err(cannot) = waited {
                return Some(Err(Box::new(cannot.explain(what))));
            }
        }
    }

    /// Takes the result of a task known to have ended, without suspending
    /// (used by `block_on` for the root, on the scheduler's stack).
    pub(crate) fn into_result(self) -> thread::Result<T> {
        self.slot
            .result
            .borrow_mut()
            .take()
            .expect("into_result is called only after the task returned")
    }

    /// Drops the result, if the task left one, and says whether it was a
    /// panic; for tasks whose result may borrow (see [`spawn_unchecked_on`]).
    pub(crate) fn discard_result(&self) -> bool {
        let result = self.slot.result.borrow_mut().take();
        let panicked = matches!(result, Some(Err(_)));
        drop_reported(result, "the result of a scoped task nobody joined");
        panicked
    }

    /// The task's runtime, weakly.
    pub(crate) fn core(&self) -> Weak<Core> {
        self.core.clone()
    }

    /// What the task shares with its `Thread` handles (name, park token),
    /// without the result type.
    ///
    /// # Safety
    ///
    /// As [`spawn_unchecked_on`]: the result is gone before what it borrows
    /// ends, so a handle kept longer reads nothing of it. Always sound for
    /// `T: 'static`.
    pub(crate) unsafe fn shared(&self) -> Rc<dyn TaskShared> {
        let shared: Rc<dyn TaskShared + '_> = self.slot.clone();
        // SAFETY: only the lifetime changes; see the contract above.
        unsafe {
            std::mem::transmute::<Rc<dyn TaskShared + '_>, Rc<dyn TaskShared + 'static>>(shared)
        }
    }
}

impl<T> Drop for Spawned<T> {
    fn drop(&mut self) {
        // Detached (or joined: then the result is already taken).
        self.slot.handle_alive.set(false);
    }
}

/// Spawns `f` on the current runtime (see [`spawn_on`]).
///
/// # Panics
///
/// Panics with a message naming `what` outside a corio runtime.
#[track_caller]
pub(crate) fn spawn<F, T>(
    what: &str,
    f: F,
    name: Option<String>,
    stack_size: Option<usize>,
) -> io::Result<Spawned<T>>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    context::with_core(what, |core| spawn_on(core, f, name, stack_size))
}

/// Builds a task around `f` and queues it on `core`.
pub(crate) fn spawn_on<F, T>(
    core: &Core,
    f: F,
    name: Option<String>,
    stack_size: Option<usize>,
) -> io::Result<Spawned<T>>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let (id, stack, slot) = prepare(core, name, stack_size)?;
    let run = run_on(stack, task_body(f, id, Rc::clone(&slot), |_, _| ()));
    let shared: Rc<dyn TaskShared> = slot.clone();
    Ok(queue(core, id, run, shared, slot))
}

/// [`spawn_on`] for a closure and a result that may borrow (a scope's
/// children, the root of `block_on`); `finished(id, unhandled_panic)` runs
/// in the task right after it ended, with whether it panicked with nobody
/// left to join it.
///
/// # Safety
///
/// The caller must make sure that the task has ended, or has been unwound
/// (`Core::take_any` and `Core::unwind`), before `'a` ends, on every path,
/// panics included; and that its [`Spawned`] is consumed or dropped by then
/// with its result taken (`Spawned::discard_result`). The task's table
/// entry and `Thread` handles may outlive `'a`; they then hold nothing of
/// `'a` but the emptied result slot, whose drop reads no `T`.
pub(crate) unsafe fn spawn_unchecked_on<'a, F, T, D>(
    core: &Core,
    f: F,
    name: Option<String>,
    stack_size: Option<usize>,
    finished: D,
) -> io::Result<Spawned<T>>
where
    F: FnOnce() -> T + 'a,
    T: 'a,
    D: FnOnce(TaskId, bool) + 'a,
{
    type Body<'b> = Box<dyn FnOnce(&Yielder<(), Switch>, ()) + 'b>;
    let (id, stack, slot) = prepare(core, name, stack_size)?;
    let body: Body<'a> = Box::new(task_body(f, id, Rc::clone(&slot), finished));
    // SAFETY: only the lifetime changes; the caller guarantees the body is
    // run or dropped (the coroutine ended or unwound) before `'a` ends.
    let body: TaskBody = unsafe { std::mem::transmute::<Body<'a>, Body<'static>>(body) };
    let run = run_on(stack, body);
    let shared: Rc<dyn TaskShared + 'a> = slot.clone();
    // SAFETY: only the lifetime changes; `TaskShared` reads the name and the
    // parker, never the result, and the result is gone before `'a` ends
    // (the caller's contract), so a handle kept longer reads nothing of `'a`.
    let shared = unsafe {
        std::mem::transmute::<Rc<dyn TaskShared + 'a>, Rc<dyn TaskShared + 'static>>(shared)
    };
    Ok(queue(core, id, run, shared, slot))
}

/// A task's coroutine, made now on a stack that is ready, or its stack and
/// boxed body for its first run (see `StackPool::take_for_task` and
/// `task::Run` for why); and where the stack is.
fn run_on<B>((stack, ready): (PooledStack, bool), body: B) -> (Run, StackSpan)
where
    B: FnOnce(&Yielder<(), Switch>, ()) + 'static,
{
    let span = stack.span();
    let run = if ready {
        Run::Started(Coroutine::with_stack(stack, body))
    } else {
        Run::Unstarted(Some(stack), Some(Box::new(body) as TaskBody))
    };
    (run, span)
}

/// A stack from `StackPool::take_for_task`, and whether it is ready.
type TakenStack = (PooledStack, bool);

/// A task's id, stack and result slot, before its coroutine is made.
fn prepare<T>(
    core: &Core,
    name: Option<String>,
    stack_size: Option<usize>,
) -> io::Result<(TaskId, TakenStack, Rc<JoinSlot<T>>)> {
    let id = core.reserve_id();
    let size = stack_size.unwrap_or(core.default_stack_size);
    let stack = core
        .stacks
        .borrow_mut()
        .take_for_task(size, id.as_u64(), name.as_deref());
    let stack = match stack {
        Ok(stack) => stack,
        Err(e) => {
            core.release_id(id);
            return Err(e);
        }
    };
    let slot = Rc::new(JoinSlot {
        result: RefCell::new(None),
        finished: Cell::new(false),
        handle_alive: Cell::new(true),
        parker: Parker::default(),
        joiner: Cell::new(None),
        name: name.map(String::into_boxed_str),
        counters: TaskCounters::default(),
    });
    Ok((id, stack, slot))
}

/// The root function of a task's coroutine: runs `f`, keeps its result or
/// panic for the `JoinHandle`, tells `finished`, and wakes the joiner.
fn task_body<F, T, D>(
    f: F,
    id: TaskId,
    slot: Rc<JoinSlot<T>>,
    finished: D,
) -> impl FnOnce(&Yielder<(), Switch>, ())
where
    F: FnOnce() -> T,
    D: FnOnce(TaskId, bool),
{
    let mut body = Unstarted(Some(f));
    move |yielder: &Yielder<(), Switch>, ()| {
        context::start_task(yielder);
        let f = body.take();
        // Catch the panic here, at the coroutine's root, so it becomes the
        // task's result and never unwinds into the scheduler. A dropped
        // runtime unwinding the coroutine is caught here too; the result
        // then says so rather than carry the unwinder's private payload.
        let result = match panic::catch_unwind(AssertUnwindSafe(f)) {
            Err(_) if slot.counters.cancelled.get() => Err(Box::new(Cancelled) as _),
            Err(_) if context::unwinding_in_progress() => Err(Box::new(UNWOUND) as _),
            result => result,
        };
        if let Err(payload) = &result {
            let message = panic_text(&**payload);
            let name = slot.name.as_deref();
            context::try_with_core(|core| core.note_panic(id, name, message));
        }
        slot.finished.set(true);
        let unhandled_panic = !slot.handle_alive.get() && result.is_err();
        if !slot.handle_alive.get() {
            // Detached: nobody will take the result. Drop it here, where a
            // destructor that panics cannot unwind into the scheduler.
            drop_reported(result, "the result of a detached task");
        } else {
            *slot.result.borrow_mut() = Some(result);
        }
        finished(id, unhandled_panic);
        if let Some(joiner) = slot.joiner.take() {
            context::try_with_core(|core| core.wake(joiner, Wake::Notified));
        }
    }
}

/// Files a new task in the run queue and makes its handle.
fn queue<T>(
    core: &Core,
    id: TaskId,
    run: (Run, StackSpan),
    shared: Rc<dyn TaskShared>,
    slot: Rc<JoinSlot<T>>,
) -> Spawned<T> {
    let counters: *const TaskCounters = &slot.counters;
    core.schedule_new(Box::new(Task::new(id, run, shared, counters)));
    Spawned {
        slot,
        id,
        core: core.weak(),
    }
}

/// A task's closure until its coroutine starts. If the coroutine never
/// starts (its runtime was dropped first), the closure is dropped on the
/// scheduler's stack; a destructor that panics there is caught and reported
/// instead of unwinding through corosensei's teardown.
struct Unstarted<F>(Option<F>);

impl<F> Unstarted<F> {
    /// The closure, for the coroutine's one start.
    fn take(&mut self) -> F {
        self.0.take().expect("a coroutine starts once")
    }
}

impl<F> Drop for Unstarted<F> {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            drop_reported(f, "the closure of a task that never ran");
        }
    }
}

/// Drops `value`; a panic of its destructor is logged and dropped, for
/// values the scheduler drops where a panic must not escape.
fn drop_reported<V>(value: V, what: &str) {
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| drop(value)));
    if let Err(payload) = outcome {
        log::error!(
            "corio: the destructor of {what} panicked ({}); the panic is dropped",
            panic_text(&*payload)
        );
    }
}

/// The message of a panic payload, if it is text.
pub(crate) fn panic_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("a non-text payload")
}

/// Keeps types that must stay on their runtime's thread from being `Send`.
pub(crate) type NotSend = PhantomData<*const ()>;
