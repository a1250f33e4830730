//! Tasks: spawning coroutines, joining them, and yielding.
//!
//! The API mirrors `std::thread`: [`spawn`] returns a [`JoinHandle`] whose
//! [`join`](JoinHandle::join) gives `std::thread::Result<T>`, and
//! [`Builder`] names a task or gives it its own stack size. The difference
//! is that everything here runs on one OS thread, and a task switches only
//! where it says so: [`yield_now`], or an operation that would block.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::thread;

use corosensei::{Coroutine, Yielder};

use crate::context;
use crate::scheduler::{Blocker, Core, Suspend, Switch, Task, Wake};
use crate::stack;

/// Identifies a task within its runtime.
///
/// It carries the task's slot in the runtime's task table *and* a serial
/// number that is never reused, so an id kept after its task ended can never
/// reach a later task that happens to get the same slot.
///
/// # Examples
///
/// ```
/// let (a, b) = corio::run(|| {
///     let a = corio::spawn(|| ());
///     let b = corio::spawn(|| ());
///     (a.id(), b.id())
/// });
/// assert_ne!(a, b);
/// println!("{a} and {b}"); // "task 2 and task 3"
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TaskId {
    /// Key of the task's slot in `Core::tasks`; reused after the task ends.
    key: u32,
    /// Unique within the runtime; what tells two users of one key apart.
    serial: u64,
}

impl TaskId {
    pub(crate) fn new(key: usize, serial: u64) -> TaskId {
        let key = u32::try_from(key).expect("fewer than 2^32 live tasks");
        TaskId { key, serial }
    }

    pub(crate) fn key(self) -> usize {
        self.key as usize
    }

    pub(crate) fn serial(self) -> u64 {
        self.serial
    }

    /// The task's serial number: unique among the tasks a runtime has ever
    /// run, counting from 1 in spawn order.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let a = corio::spawn(|| ());
    ///     let b = corio::spawn(|| ());
    ///     assert_eq!(b.id().as_u64(), a.id().as_u64() + 1);
    /// });
    /// ```
    pub fn as_u64(self) -> u64 {
        self.serial
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.serial)
    }
}

/// Where a task's result waits for its `JoinHandle`.
struct JoinSlot<T> {
    /// The task's return value or panic payload, once it has ended.
    result: RefCell<Option<thread::Result<T>>>,
    /// Whether the task has ended (stays true after `join` took the result).
    finished: Cell<bool>,
    /// The task blocked in `join` on this slot, if any.
    joiner: Cell<Option<TaskId>>,
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
}

impl<T> JoinHandle<T> {
    /// Suspends the calling coroutine until the task ends, and returns its
    /// result: `Ok(value)`, or `Err(payload)` if it panicked, exactly like
    /// [`std::thread::JoinHandle::join`]. A panicking task never takes the
    /// runtime or its joiner down with it.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio coroutine.
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
    pub fn join(self) -> thread::Result<T> {
        loop {
            if let Some(result) = self.slot.result.borrow_mut().take() {
                return result;
            }
            let me = context::current_id("JoinHandle::join");
            self.slot.joiner.set(Some(me));
            // Run the others from here until the task ends, if we may.
            if context::host_until_woken("JoinHandle::join") {
                continue;
            }
            context::suspend("JoinHandle::join", Suspend::Park(Blocker::Join(self.id)));
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
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let size = self
            .stack_size
            .map(stack::validate_stack_size)
            .transpose()?;
        context::with_core("corio::task::Builder::spawn", |core| {
            spawn_on(core, f, self.name, size)
        })
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
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    context::with_core("corio::spawn", |core| spawn_on(core, f, None, None))
        .unwrap_or_else(|e| panic!("corio::spawn could not create a coroutine: {e}"))
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
        joiner: Cell::new(None),
    });
    let task_slot = Rc::clone(&slot);
    let coroutine = Coroutine::with_stack(stack, move |yielder: &Yielder<(), Switch>, ()| {
        context::start_task(yielder);
        // Catch the panic here, at the coroutine's root, so it becomes the
        // task's result and never unwinds into the scheduler.
        let result = panic::catch_unwind(AssertUnwindSafe(f));
        *task_slot.result.borrow_mut() = Some(result);
        task_slot.finished.set(true);
        if let Some(joiner) = task_slot.joiner.take() {
            context::try_with_core(|core| core.wake(joiner, Wake::Notified));
        }
    });
    core.schedule_new(Box::new(Task {
        id,
        coroutine,
        yielder: Cell::new(std::ptr::null()),
        name: name.map(String::into_boxed_str),
    }));
    Ok(JoinHandle { slot, id })
}

/// Moves the calling coroutine to the back of the run queue, so every task
/// that is runnable now runs once before it continues.
///
/// With no other runnable task this returns at once, without a switch. It
/// never involves the kernel (other than the periodic non-blocking I/O poll
/// every scheduler tick may trigger, see
/// [`runtime::Builder::event_interval`](crate::runtime::Builder::event_interval)).
///
/// # Panics
///
/// Panics if called outside a corio coroutine.
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
pub fn yield_now() {
    context::yield_now();
}

/// The id of the calling task.
///
/// # Panics
///
/// Panics if called outside a corio coroutine.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let me = corio::task::current_id();
///     println!("running as {me}");
/// });
/// ```
pub fn current_id() -> TaskId {
    context::current_id("corio::task::current_id")
}

/// Keeps types that must stay on their runtime's thread from being `Send`.
pub(crate) type NotSend = PhantomData<*const ()>;
