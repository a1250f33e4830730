//! Tasks: spawning coroutines, joining them, and yielding.
//!
//! The API mirrors `std::thread`: [`spawn`] returns a [`JoinHandle`] whose
//! [`join`](JoinHandle::join) gives `std::thread::Result<T>`, and
//! [`Builder`] names a task or gives it its own stack size. The difference
//! is that everything here runs on one OS thread, and a task switches only
//! where it says so: [`yield_now`], or an operation that would block.

use std::any::Any;
use std::cell::{Cell, OnceCell, RefCell};
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::rc::{Rc, Weak};
use std::thread;

use corosensei::{Coroutine, Yielder};

use crate::scheduler::{self, Blocker, Core, Parker, Suspend, Switch, Task, TaskShared, Wake};
use crate::stack::{self, PooledStack};
use crate::thread::Thread;

pub use crate::scheduler::TaskId;

/// Where a task's result waits for its `JoinHandle`.
struct JoinSlot<T> {
    /// The task's return value or panic payload, once it has ended.
    result: RefCell<Option<thread::Result<T>>>,
    /// Whether the task has ended (stays true after `join` took the result).
    finished: Cell<bool>,
    /// Whether the `JoinHandle` is alive; when not, the task drops its own
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
}

impl<T> TaskShared for JoinSlot<T> {
    fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    fn parker(&self) -> &Parker {
        &self.parker
    }
}

/// An owned permission to join a task: wait for it to end and take its result.
///
/// Dropping the handle *detaches* the task: it keeps running, and its result
/// is dropped when it ends. A `JoinHandle` belongs to the thread of its
/// runtime and cannot be sent to another thread:
///
/// ```compile_fail
/// fn assert_send<T: Send>(_: T) {}
/// corio::run(|| assert_send(corio::spawn(|| 1)));
/// ```
///
/// # Examples
///
/// ```
/// let sum = corio::run(|| {
///     let handles: Vec<_> = (1..=3).map(|i| corio::spawn(move || i * 10)).collect();
///     handles.into_iter().map(|h| h.join().unwrap()).sum::<i32>()
/// });
/// assert_eq!(sum, 60);
/// ```
pub struct JoinHandle<T> {
    /// Shared with the task's root function, which fills it.
    slot: Rc<JoinSlot<T>>,
    /// The task's id.
    id: TaskId,
    /// The task's runtime, for the `Thread` handle's `unpark`.
    core: Weak<Core>,
    /// The task's `Thread` handle, made when first asked for; boxed, so that
    /// a handle nobody asks it of stays small (one word).
    thread: OnceCell<Box<Thread>>,
}

impl<T> JoinHandle<T> {
    /// Suspends the calling coroutine until the task ends, and returns its
    /// result: `Ok(value)`, or `Err(payload)` if it panicked, exactly like
    /// [`std::thread::JoinHandle::join`]. A panicking task never takes the
    /// runtime or its joiner down with it.
    ///
    /// # Coroutines
    ///
    /// Where no coroutine can wait (the runtime is shutting down and this is
    /// a destructor of a coroutine it unwinds, or the caller is code the
    /// scheduler runs, such as a `log` backend), a task that has not ended
    /// gives `Err` at once, with a `String` payload that says why. A task
    /// that a dropped runtime unwound before it ended gives `Err` too.
    ///
    /// # Panics
    ///
    /// - If it has to wait outside a corio runtime.
    /// - If the task belongs to another runtime (it could never be waited
    ///   for from this one), or is the calling task itself: both would wait
    ///   forever.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let ok = corio::spawn(|| 7);
    ///     let bad = corio::spawn(|| -> i32 { panic!("boom") });
    ///     assert_eq!(ok.join().unwrap(), 7);
    ///     let payload = bad.join().unwrap_err();
    ///     assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    /// });
    /// ```
    #[track_caller]
    pub fn join(self) -> thread::Result<T> {
        const WHAT: &str = "JoinHandle::join";
        if let Some(runtime) = scheduler::current_runtime() {
            if runtime != self.id.runtime() {
                panic!(
                    "{WHAT}: {} belongs to another corio runtime, whose scheduler does not \
                     run while this one does, so the join would wait forever; join it from \
                     a coroutine of its own runtime",
                    self.id
                );
            }
        }
        loop {
            if let Some(result) = self.slot.result.borrow_mut().take() {
                return result;
            }
            let me = match scheduler::running_id(WHAT) {
                Ok(me) => me,
                Err(cannot) => return Err(Box::new(cannot.explain(WHAT))),
            };
            if me == self.id {
                panic!("{WHAT}: {me} tried to join itself, which would wait forever");
            }
            self.slot.joiner.set(Some(me));
            // Run the others from here until the task ends, if we may.
            if scheduler::host_until_woken(WHAT, crate::trace::SuspendReason::Join) {
                continue;
            }
            if let Err(cannot) = scheduler::suspend(WHAT, Suspend::Park(Blocker::Join(self.id))) {
                return Err(Box::new(cannot.explain(WHAT)));
            }
        }
    }

    /// Whether the task has ended (returned or panicked). Never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let h = corio::spawn(|| ());
    ///     assert!(!h.is_finished()); // queued, not run yet
    ///     corio::yield_now();        // the child runs
    ///     assert!(h.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.slot.finished.get()
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
    /// panic; for handles whose result may borrow (see
    /// [`spawn_unchecked_on`]).
    pub(crate) fn discard_result(&self) -> bool {
        let result = self.slot.result.borrow_mut().take();
        let panicked = matches!(result, Some(Err(_)));
        drop_reported(result, "the result of a scoped task nobody joined");
        panicked
    }

    /// The task's id.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let h = corio::spawn(|| corio::task::current_id());
    ///     let id = h.id();
    ///     assert_eq!(h.join().unwrap(), id);
    /// });
    /// ```
    pub fn id(&self) -> TaskId {
        self.id
    }

    /// The task's [`Thread`] handle, as [`std::thread::JoinHandle::thread`]:
    /// its name, its id, and [`Thread::unpark`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let h = corio::task::Builder::new()
    ///         .name("sleeper".into())
    ///         .spawn(|| corio::thread::park())
    ///         .unwrap();
    ///     assert_eq!(h.thread().name(), Some("sleeper"));
    ///     corio::yield_now(); // it parks
    ///     h.thread().unpark();
    ///     h.join().unwrap();
    /// });
    /// ```
    pub fn thread(&self) -> &Thread
    where
        // Every JoinHandle's is: `spawn` asks for it.
        T: 'static,
    {
        // SAFETY: `T: 'static`, so nothing is erased.
        unsafe { self.thread_unchecked() }
    }

    /// [`JoinHandle::thread`] for a result that may borrow.
    ///
    /// # Safety
    ///
    /// As [`spawn_unchecked_on`]: the result is gone before what it borrows
    /// ends, so a `Thread` kept longer reads nothing of it.
    pub(crate) unsafe fn thread_unchecked(&self) -> &Thread {
        self.thread.get_or_init(|| {
            let shared: Rc<dyn TaskShared + '_> = self.slot.clone();
            // SAFETY: only the lifetime changes; see the contract above.
            let shared = unsafe {
                std::mem::transmute::<Rc<dyn TaskShared + '_>, Rc<dyn TaskShared + 'static>>(shared)
            };
            Box::new(Thread::new(self.id, shared, self.core.clone()))
        })
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // Detached (or joined: then the result is already taken).
        self.slot.handle_alive.set(false);
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.id)
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Task factory, to name a task or give it its own stack size; mirrors
/// [`std::thread::Builder`].
///
/// # Examples
///
/// ```
/// use corio::task;
///
/// corio::run(|| {
///     let h = task::Builder::new()
///         .name("deep".into())
///         .stack_size(4 << 20)
///         .spawn(|| 42)
///         .expect("a 4 MiB stack is within range");
///     assert_eq!(h.join().unwrap(), 42);
/// });
/// ```
#[derive(Debug, Default)]
pub struct Builder {
    /// Name for logs, deadlock reports and stack-overflow reports.
    name: Option<String>,
    /// Stack size in bytes; `None` is the runtime's default.
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with no name and the runtime's default stack size.
    ///
    /// # Examples
    ///
    /// ```
    /// let b = corio::task::Builder::new();
    /// # let _ = b;
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task. The name appears in `log` output, deadlock reports and
    /// stack-overflow reports.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let h = corio::task::Builder::new().name("worker-1".into()).spawn(|| ()).unwrap();
    ///     h.join().unwrap();
    /// });
    /// ```
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Sets the task's stack size in bytes (rounded up to whole pages). The
    /// allowed range is checked by [`Builder::spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let h = corio::task::Builder::new().stack_size(64 * 1024).spawn(|| ()).unwrap();
    ///     h.join().unwrap();
    /// });
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Spawns the task on the current runtime: it is queued behind every task
    /// already runnable, and the caller keeps running.
    ///
    /// # Errors
    ///
    /// `ErrorKind::InvalidInput` if the stack size is out of range (the
    /// message gives the range), or the OS error if no stack could be mapped.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let err = corio::task::Builder::new().stack_size(0).spawn(|| ()).unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let (name, stack_size) = self.into_parts();
        let size = stack_size.map(stack::validate_stack_size).transpose()?;
        scheduler::with_core("corio::task::Builder::spawn", |core| {
            spawn_on(core, f, name, size)
        })
    }

    /// The name and the stack size asked for.
    pub(crate) fn into_parts(self) -> (Option<String>, Option<usize>) {
        (self.name, self.stack_size)
    }
}

/// Spawns a coroutine on the current runtime and returns its handle.
///
/// The new task goes to the back of the run queue; the caller keeps running
/// until it yields or blocks. Like [`std::thread::spawn`], `f` must be
/// `'static`: move what it needs into it.
///
/// # Panics
///
/// Panics if called outside a corio runtime, or if the OS refuses a stack
/// (use [`Builder::spawn`] to get that as an error).
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let msg = String::from("hello");
///     let h = corio::spawn(move || msg.len());
///     assert_eq!(h.join().unwrap(), 5);
/// });
/// ```
#[track_caller]
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    match scheduler::with_core("corio::spawn", |core| spawn_on(core, f, None, None)) {
        Ok(handle) => handle,
        Err(e) => spawn_failed(e),
    }
}

/// `spawn`'s panic when the OS refuses a stack, out of line.
#[cold]
#[inline(never)]
#[track_caller]
fn spawn_failed(error: io::Error) -> ! {
    panic!("corio::spawn could not create a coroutine: {error}")
}

/// Builds a task around `f` and queues it on `core`.
pub(crate) fn spawn_on<F, T>(
    core: &Core,
    f: F,
    name: Option<String>,
    stack_size: Option<usize>,
) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let (id, stack, slot) = prepare(core, name, stack_size)?;
    let coroutine = Coroutine::with_stack(stack, task_body(f, id, Rc::clone(&slot), |_, _| ()));
    let shared: Rc<dyn TaskShared> = slot.clone();
    Ok(queue(core, id, coroutine, shared, slot))
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
/// panics included; and that its `JoinHandle` is consumed or dropped by then
/// with its result taken (`JoinHandle::discard_result`). The task's table
/// entry and `Thread` handles may outlive `'a`; they then hold nothing of
/// `'a` but the emptied result slot, whose drop reads no `T`.
pub(crate) unsafe fn spawn_unchecked_on<'a, F, T, D>(
    core: &Core,
    f: F,
    name: Option<String>,
    stack_size: Option<usize>,
    finished: D,
) -> io::Result<JoinHandle<T>>
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
    let body: Body<'static> = unsafe { std::mem::transmute::<Body<'a>, Body<'static>>(body) };
    let coroutine = Coroutine::with_stack(stack, body);
    let shared: Rc<dyn TaskShared + 'a> = slot.clone();
    // SAFETY: only the lifetime changes; `TaskShared` reads the name and the
    // parker, never the result, and the result is gone before `'a` ends
    // (the caller's contract), so a handle kept longer reads nothing of `'a`.
    let shared = unsafe {
        std::mem::transmute::<Rc<dyn TaskShared + 'a>, Rc<dyn TaskShared + 'static>>(shared)
    };
    Ok(queue(core, id, coroutine, shared, slot))
}

/// A task's id, stack and result slot, before its coroutine is made.
fn prepare<T>(
    core: &Core,
    name: Option<String>,
    stack_size: Option<usize>,
) -> io::Result<(TaskId, PooledStack, Rc<JoinSlot<T>>)> {
    let id = core.reserve_id();
    let size = stack_size.unwrap_or(core.default_stack_size);
    let stack = core
        .stacks
        .borrow_mut()
        .take(size, id.as_u64(), name.as_deref());
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
        scheduler::start_task(yielder);
        let f = body.take();
        // Catch the panic here, at the coroutine's root, so it becomes the
        // task's result and never unwinds into the scheduler. A dropped
        // runtime unwinding the coroutine is caught here too; the result
        // then says so rather than carry the unwinder's private payload.
        let result = match panic::catch_unwind(AssertUnwindSafe(f)) {
            Err(_) if scheduler::unwinding_in_progress() => Err(Box::new(scheduler::UNWOUND) as _),
            result => result,
        };
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
            scheduler::try_with_core(|core| core.wake(joiner, Wake::Notified));
        }
    }
}

/// Files a new task in the run queue and makes its handle.
fn queue<T>(
    core: &Core,
    id: TaskId,
    coroutine: scheduler::TaskCoroutine,
    shared: Rc<dyn TaskShared>,
    slot: Rc<JoinSlot<T>>,
) -> JoinHandle<T> {
    core.schedule_new(Box::new(Task {
        id,
        coroutine,
        yielder: Cell::new(std::ptr::null()),
        shared,
    }));
    JoinHandle {
        slot,
        id,
        core: core.weak(),
        thread: OnceCell::new(),
    }
}

/// Moves the calling coroutine to the back of the run queue, so every task
/// that is runnable now runs once before it continues.
///
/// With no other runnable task this returns at once, without a switch. It
/// never involves the kernel (other than the periodic non-blocking I/O poll
/// every scheduler tick may trigger, see
/// [`runtime::Builder::event_interval`](crate::runtime::Builder::event_interval)).
///
/// # Coroutines
///
/// Called inside a runtime but not from one of its coroutines (a `log`
/// backend the scheduler calls, a destructor run while the runtime shuts
/// down), it returns at once: there is no coroutine to move.
///
/// # Panics
///
/// Panics if called outside a corio runtime.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
///
/// let order = corio::run(|| {
///     let order = Rc::new(RefCell::new(Vec::new()));
///     let o = order.clone();
///     let child = corio::spawn(move || o.borrow_mut().push("child"));
///     order.borrow_mut().push("root before yield");
///     corio::yield_now(); // the child runs now
///     order.borrow_mut().push("root after yield");
///     child.join().unwrap();
///     Rc::try_unwrap(order).unwrap().into_inner()
/// });
/// assert_eq!(order, ["root before yield", "child", "root after yield"]);
/// ```
#[inline(always)]
#[track_caller]
pub fn yield_now() {
    scheduler::yield_now();
}

/// The id of the calling task.
///
/// In a destructor that runs because a dropped runtime unwinds a coroutine,
/// it is that coroutine's id.
///
/// # Panics
///
/// Panics if called outside a corio coroutine: outside any runtime, in code
/// the scheduler runs itself (a `log` backend), or in the destructor of a
/// task's closure that never started.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let me = corio::task::current_id();
///     println!("running as {me}");
/// });
/// ```
#[track_caller]
pub fn current_id() -> TaskId {
    scheduler::current_id("corio::task::current_id")
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
