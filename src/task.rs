//! Tasks: spawning coroutines, joining them, and yielding.
//!
//! The API mirrors `std::thread`: [`spawn`] returns a [`JoinHandle`] whose
//! [`join`](JoinHandle::join) gives `std::thread::Result<T>`, and
//! [`Builder`] names a task or gives it its own stack size. The difference
//! is that everything here runs on one OS thread, and a task switches only
//! where it says so: [`yield_now`], or an operation that would block.
//!
//! This file is the public face only: building, queueing and joining a task
//! happen in the scheduler (`scheduler::spawn`).

use std::cell::OnceCell;
use std::fmt;
use std::io;
use std::thread;
use std::time::Duration;

use crate::scheduler::{self, Spawned};
use crate::stack;
use crate::thread::Thread;

pub use crate::scheduler::TaskId;

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
    /// The task, as the scheduler hands it to its owner.
    spawned: Spawned<T>,
    /// The task's `Thread` handle, made when first asked for; boxed, so that
    /// a handle nobody asks it of stays small (one word).
    thread: OnceCell<Box<Thread>>,
}

impl<T> JoinHandle<T> {
    /// The public handle of a task the scheduler spawned.
    pub(crate) fn new(spawned: Spawned<T>) -> JoinHandle<T> {
        JoinHandle {
            spawned,
            thread: OnceCell::new(),
        }
    }

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
    /// - If the task belongs to another runtime and has not finished (it
    ///   could never be waited for from this one), or is the calling task
    ///   itself: both would wait forever. A finished task's result comes
    ///   back from any runtime, and from outside one.
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
        self.spawned.join("JoinHandle::join")
    }

    /// Cancels the task: it unwinds at its next suspension point, running
    /// its destructors, and [`join`](JoinHandle::join) then gives
    /// `Err(payload)` where `payload.downcast_ref::<`[`Cancelled`]`>()` is
    /// `Some`. No panic message is printed for a cancellation.
    ///
    /// - A task that waits (on a socket, a timer, a channel, a lock, a join,
    ///   `park`, a blocking job) or is queued to run unwinds at once, before
    ///   `cancel` returns; it leaves whatever queue it waited in. One that
    ///   never ran has its closure dropped.
    /// - A task cancelling itself unwinds from the `cancel` call.
    /// - A task that is running others in place while it waits or yields
    ///   (corio lets a waiting coroutine run the others on its own stack,
    ///   so a task may be cancelled by one it is running) unwinds as soon
    ///   as that run ends, before its wait or yield returns.
    /// - A task that has ended keeps its result: cancelling it changes
    ///   nothing. So does cancelling a task whose runtime is gone.
    ///
    /// A lock the task holds is released by its guard's destructor and, as
    /// std does for any unwind, poisoned (later `lock`s return a
    /// `PoisonError` that still gives access). A task waiting for
    /// [`spawn_blocking`](crate::spawn_blocking) unwinds; the job runs to its
    /// end on its pool thread, detached, and its result is dropped there.
    ///
    /// [`Cancelled`]: crate::thread::Cancelled
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use corio::thread::Cancelled;
    ///
    /// corio::run(|| {
    ///     let worker = corio::spawn(|| loop {
    ///         corio::thread::sleep(Duration::from_millis(1));
    ///     });
    ///     corio::thread::sleep(Duration::from_millis(5));
    ///     worker.cancel();
    ///     assert!(worker.is_finished());
    ///     let payload = worker.join().unwrap_err();
    ///     assert!(payload.downcast_ref::<Cancelled>().is_some());
    /// });
    /// ```
    pub fn cancel(&self) {
        self.spawned.cancel();
    }

    /// [`join`](JoinHandle::join), giving up after `timeout`: `Ok` with the
    /// task's result if it ended in time, or `Err` with this handle back if
    /// it did not, so the caller can join again later, wait longer, or drop
    /// the handle to detach the task. A task that has already ended gives
    /// its result at once, also with a zero `timeout`; `Duration::MAX` (or
    /// any timeout too large to add to now) waits without a limit, as
    /// `join` does.
    ///
    /// std's `JoinHandle` has no such method; it is the shape of
    /// [`std::sync::mpsc::Receiver::recv_timeout`] with the handle kept.
    ///
    /// # Coroutines
    ///
    /// Only the calling coroutine waits; the others run meanwhile. Where no
    /// coroutine can wait, it returns `Ok(Err(payload))` as
    /// [`join`](JoinHandle::join) does.
    ///
    /// # Panics
    ///
    /// As [`join`](JoinHandle::join): outside a runtime for a task that has
    /// not ended, for a task of another runtime that has not ended, and for
    /// the calling task itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// corio::run(|| {
    ///     let slow = corio::spawn(|| {
    ///         corio::sleep(Duration::from_millis(200));
    ///         7
    ///     });
    ///     let slow = slow.join_timeout(Duration::from_millis(10)).unwrap_err(); // not yet
    ///     assert!(!slow.is_finished());
    ///     let result = slow.join_timeout(Duration::from_secs(60)).unwrap();
    ///     assert_eq!(result.unwrap(), 7);
    /// });
    /// ```
    #[track_caller]
    pub fn join_timeout(self, timeout: Duration) -> Result<thread::Result<T>, JoinHandle<T>> {
        let Some(deadline) = crate::scheduler::now().checked_add(timeout) else {
            return Ok(self.join());
        };
        match self
            .spawned
            .join_until("JoinHandle::join_timeout", deadline)
        {
            Some(result) => Ok(result),
            None => Err(self),
        }
    }

    /// The task's metrics so far: how often it was switched in and, in a
    /// runtime built with `task_metrics(true)`, how long it ran and waited
    /// for the CPU. Final once the task has finished; readable from any
    /// thread of the runtime, also after the task ended.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let h = corio::spawn(|| (0..5).for_each(|_| corio::yield_now()));
    ///     while !h.is_finished() {
    ///         corio::yield_now();
    ///     }
    ///     assert_eq!(h.metrics().switches, 6); // the first run, then 5 yields
    /// });
    /// ```
    pub fn metrics(&self) -> crate::runtime::TaskMetrics {
        self.spawned.metrics()
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
        self.spawned.is_finished()
    }

    /// Drops the result, if the task left one, and says whether it was a
    /// panic; for handles whose result may borrow (see
    /// `scheduler::spawn_unchecked_on`).
    pub(crate) fn discard_result(&self) -> bool {
        self.spawned.discard_result()
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
        self.spawned.id()
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
    /// As `scheduler::spawn_unchecked_on`: the result is gone before what it
    /// borrows ends, so a `Thread` kept longer reads nothing of it.
    pub(crate) unsafe fn thread_unchecked(&self) -> &Thread {
        self.thread.get_or_init(|| {
            // SAFETY: the caller's contract, passed on.
            let shared = unsafe { self.spawned.shared() };
            Box::new(Thread::new(self.spawned.id(), shared, self.spawned.core()))
        })
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.spawned.id())
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
    /// allowed range, [`MIN_STACK_SIZE`](crate::stack::MIN_STACK_SIZE) to
    /// [`MAX_STACK_SIZE`](crate::stack::MAX_STACK_SIZE), is checked by
    /// [`Builder::spawn`].
    ///
    /// A panic near the end of the stack still comes back from `join`, with
    /// `RUST_BACKTRACE=1` or `full` too: the panic hook's report and
    /// backtrace move to a spare stack of the thread when less than 64 KiB
    /// are left (see
    /// [`runtime::Builder::stack_size`](crate::runtime::Builder::stack_size)).
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
        scheduler::spawn("corio::task::Builder::spawn", f, name, size).map(JoinHandle::new)
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
    match scheduler::spawn("corio::spawn", f, None, None) {
        Ok(spawned) => JoinHandle::new(spawned),
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
