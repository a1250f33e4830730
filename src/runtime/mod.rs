//! The runtime: one scheduler, one reactor and one stack pool, driven by the
//! OS thread that calls [`Runtime::block_on`].

use std::fmt;
use std::io::{self, Write};
use std::panic;
use std::rc::Rc;
use std::sync::Once;

mod activity;
mod builder;
mod cores;
mod explore;
mod handle;
mod watchdog;

pub use crate::blocking::{BLOCKING_KEEP_ALIVE, MAX_BLOCKING_THREADS};
pub use activity::Activity;
pub use builder::Builder;
pub use cores::ThreadPerCore;
pub use explore::{Failure, explore, explore_with};
pub use handle::{Handle, RemoteJoinHandle};
pub use watchdog::Stall;

pub use crate::scheduler::{Dump, ParseScheduleError, Schedule, TaskInfo, TaskMetrics, TaskState};

use crate::scheduler::{self, Core, NotSend, Remote, Stats};
use crate::stack;

/// Scheduler ticks (switches into a coroutine, see
/// [`Stats::switches`](crate::Stats::switches)) between two non-blocking
/// reactor polls while the run queue never empties. A tick costs a few nanoseconds and a
/// poll a few hundred, so 61 keeps polling under a few percent of a busy
/// loop's time while a ready socket waits at most 61 resumes for service.
/// (Prime, as tokio's equivalent, so it does not beat in step with a loop of
/// tasks of some round count.)
///
/// # Examples
///
/// ```
/// use corio::runtime::{Builder, DEFAULT_EVENT_INTERVAL};
///
/// // Serve sockets twice as often as the default under load.
/// let rt = Builder::new().event_interval(DEFAULT_EVENT_INTERVAL / 2).build()?;
/// # drop(rt);
/// # Ok::<(), std::io::Error>(())
/// ```
pub const DEFAULT_EVENT_INTERVAL: u32 = 61;

/// Stack size, in bytes, of a coroutine that does not ask for another: 256 KiB.
///
/// `format!`, buffered `std::io` and a few hundred frames of recursion fit
/// with a wide margin. It is a limit, not an allocation: stacks are reserved
/// with `MAP_NORESERVE`, so a coroutine costs only the pages it touched (4–8
/// KiB for a typical parked one). Change it for a runtime with
/// [`Builder::stack_size`], or for one task with
/// [`task::Builder::stack_size`](crate::task::Builder::stack_size).
///
/// # Examples
///
/// ```
/// assert_eq!(corio::runtime::DEFAULT_STACK_SIZE, 256 * 1024);
/// ```
pub const DEFAULT_STACK_SIZE: usize = stack::DEFAULT_STACK_SIZE;

/// The stall threshold of a runtime whose builder did not set one
/// ([`Builder::stall_threshold`]): 100 ms.
///
/// # Examples
///
/// ```
/// assert_eq!(corio::runtime::DEFAULT_STALL_THRESHOLD.as_millis(), 100);
/// ```
pub const DEFAULT_STALL_THRESHOLD: std::time::Duration = std::time::Duration::from_millis(100);

/// A corio runtime: runs coroutines on the thread that calls
/// [`block_on`](Runtime::block_on).
///
/// A runtime belongs to one OS thread (`Runtime` is not `Send`); for several
/// cores, run one runtime per thread.
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<corio::Runtime>();
/// ```
///
/// Dropping a runtime unwinds every coroutine still parked or queued in it,
/// in time linear in their number: their destructors run (on their own
/// stacks) and their stacks go back to the OS. Nothing can suspend during
/// that: a destructor that would wait (a flush into a full socket, a join, a
/// sleep, a `yield_now`) returns at once, a socket operation with an
/// `io::Error` that says the runtime is shutting down, a join with `Err`.
/// A destructor that panics while a coroutine is unwound aborts the process,
/// as a panic in a destructor during any unwind does in Rust; one that
/// panics in the closure of a task that never started, or in the result of
/// a detached task, is logged and the teardown goes on.
///
/// A panic inside a coroutine is reported by the panic hook that was in
/// place when the first runtime was built (std's, or yours), after a line
/// that names the coroutine: `corio: panic in coroutine task 5 'worker'`.
///
/// # Memory
///
/// A finished coroutine's stack goes back to the runtime's pool, which
/// keeps the last 256 of each size ready (their pages stay, so the next
/// spawns fault nothing) and gives the pages of older ones back to the OS
/// in batches. After a large drop (the tasks alive fall to a quarter of a
/// peak of at least 4,096), the runtime gives back the rest at its first
/// idle moment, when it next waits for events: free stacks past those 256,
/// whole stack mappings no stack uses any more, the room in its task table
/// and run queue, and the C heap's free pages (`malloc_trim`, where glibc
/// has it). A million parked coroutines take about 4.2 GiB of RSS; once
/// they have ended and the runtime has idled, it is back within a few MB
/// of where it started (`examples/spawn_scale.rs` measures it). A runtime
/// that never waits for events keeps the memory until it does.
///
/// # Examples
///
/// ```
/// use corio::Runtime;
///
/// let mut rt = Runtime::new()?;
/// let answer = rt.block_on(|| {
///     let h = corio::spawn(|| 6 * 7);
///     h.join().unwrap()
/// });
/// assert_eq!(answer, 42);
/// println!("{} switches", rt.stats().switches);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Runtime {
    /// The scheduler state. Behind an `Rc` so that its address (published in
    /// a thread-local while `block_on` runs) stays put, and so that a channel
    /// can hold a `Weak` to wake a receiver parked in it from anywhere on
    /// the thread.
    core: Rc<Core>,
    /// Keeps the stall watchdog watching this runtime, if it does.
    _watch: Option<watchdog::WatchGuard>,
    /// Coroutines are pinned to this thread.
    _not_send: NotSend,
}

impl Runtime {
    /// Creates a runtime with the default settings.
    ///
    /// # Errors
    ///
    /// The OS error if the poller cannot be created (for example too many
    /// open files).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = corio::Runtime::new()?;
    /// assert_eq!(rt.block_on(|| 1 + 1), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// A [`Builder`] to configure a runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = corio::Runtime::builder().stack_size(64 * 1024).build()?;
    /// # drop(rt);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// Runs `f` as the root coroutine, and every coroutine it spawns, until
    /// `f` returns; returns what `f` returned.
    ///
    /// `f` may borrow from the caller, as the future of tokio's `block_on`
    /// may: it is the one coroutine that never outlives this call. The
    /// coroutines it spawns are `'static` and may: other coroutines still
    /// running when `f` returns stay in the runtime, a later `block_on`
    /// continues them, and dropping the runtime unwinds them. (To run
    /// coroutines that borrow, use [`thread::scope`](crate::thread::scope).)
    ///
    /// # Panics
    ///
    /// - If `f` panics, the panic continues out of `block_on` (with the same
    ///   payload). The runtime stays usable.
    /// - If every coroutine is blocked and nothing can ever wake one, panics
    ///   with a deadlock report instead of hanging.
    /// - If called from inside a corio runtime on the same thread (that would
    ///   freeze every coroutine of the outer one): spawn instead.
    ///
    /// Panics raised here point at the caller's line.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = corio::Runtime::new()?;
    /// let v = rt.block_on(|| vec![1, 2, 3]);
    /// assert_eq!(v.len(), 3);
    ///
    /// // The root may borrow from here, and hand back a borrow.
    /// let mut log = vec![String::from("start")];
    /// let first = rt.block_on(|| {
    ///     log.push(String::from("in the root"));
    ///     &v[0]
    /// });
    /// assert_eq!((log.len(), *first), (2, 1));
    ///
    /// let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
    ///     rt.block_on(|| panic!("root failed"))
    /// }));
    /// assert!(caught.is_err());
    /// assert_eq!(rt.block_on(|| "still usable"), "still usable");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn block_on<F, T>(&mut self, f: F) -> T
    where
        F: FnOnce() -> T,
    {
        if scheduler::in_runtime() {
            panic!(
                "Runtime::block_on was called from inside a corio runtime on the same \
                 thread; it would stop every coroutine of the outer runtime. Use \
                 corio::spawn and JoinHandle::join instead"
            );
        }
        let core: &Core = &self.core;
        let _entered = scheduler::enter_runtime(core);
        // SAFETY: the root ends before this call returns, on every path:
        // `run_until` returns only once it has; if a panic leaves
        // `run_until` instead (a deadlock report, a panicking log backend),
        // the root is taken out, queued or parked, and unwound before the
        // panic goes on; its result is taken on both paths.
        let root =
            unsafe { scheduler::spawn_unchecked_on(core, f, Some("root".into()), None, |_, _| ()) };
        let root = match root {
            Ok(root) => root,
            Err(e) => panic!("corio: could not create the root coroutine: {e}"),
        };
        let root_id = root.id();
        if let Err(payload) =
            panic::catch_unwind(panic::AssertUnwindSafe(|| core.run_until(root_id)))
        {
            // The root's stack holds what it captured: unwind it before the
            // panic leaves this frame.
            if let Some(task) = core.take_any(root_id) {
                core.unwind(task);
            }
            root.discard_result();
            panic::resume_unwind(payload);
        }
        if core.take_stop_request() && !root.is_finished() {
            // Stopped from another thread (see `ThreadPerCore`): unwind the
            // root, as after a deadlock, and say so to the caller.
            if let Some(task) = core.take_any(root_id) {
                core.unwind(task);
            }
            root.discard_result();
            panic::resume_unwind(Box::new(cores::Stopped));
        }
        match root.into_result() {
            Ok(value) => value,
            Err(payload) => panic::resume_unwind(payload),
        }
    }

    /// This runtime's remote side, for code that steers it from another
    /// thread without counting as a `Handle` (see `ThreadPerCore`).
    pub(crate) fn remote(&self) -> std::sync::Arc<Remote> {
        self.core.remote()
    }

    /// The first panic of a coroutine other than the root since the last
    /// call, described with the coroutine (for `explore`).
    pub(crate) fn take_first_panic(&self) -> Option<String> {
        self.core.take_first_panic()
    }

    /// A snapshot of this runtime's counters.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = corio::Runtime::new()?;
    /// rt.block_on(|| {
    ///     corio::spawn(|| ());
    ///     corio::yield_now(); // the child runs
    /// });
    /// // Into the root, into the child, back into the root when it returns.
    /// assert_eq!(rt.stats().switches, 3);
    /// assert_eq!(rt.stats().completed, 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stats(&self) -> Stats {
        self.core.stats()
    }

    /// The timeline recorded since the runtime was built or since the last
    /// call (see [`crate::trace`]); `None` unless the runtime was built with
    /// [`Builder::trace`]. Recording goes on.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::trace::EventKind;
    ///
    /// let mut rt = corio::Runtime::builder().trace(1024).build()?;
    /// rt.block_on(|| corio::yield_now());
    /// let trace = rt.take_trace().unwrap();
    /// let resumes = trace.events().iter().filter(|e| e.kind == EventKind::Resume).count();
    /// assert_eq!(resumes as u64, rt.stats().switches);
    /// assert!(corio::Runtime::new()?.take_trace().is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_trace(&mut self) -> Option<crate::trace::Trace> {
        self.core.take_trace()
    }

    /// A [`Handle`] to this runtime, for other OS threads: `Send`, `Sync`
    /// and `Clone`; [`Handle::spawn`] puts a task on this runtime from
    /// anywhere.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = corio::Runtime::new()?;
    /// let handle = rt.handle();
    /// let task = std::thread::spawn(move || handle.spawn(|| 40 + 2).unwrap())
    ///     .join()
    ///     .unwrap();
    /// rt.block_on(|| assert_eq!(task.join().unwrap(), 42));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handle(&self) -> Handle {
        Handle::new(&self.core)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        // Destructors of the coroutines may wake or spawn others: keep the
        // runtime reachable while they run, and go on until none is left.
        let core: &Core = &self.core;
        let _entered = scheduler::enter_runtime(core);
        // Other threads get "the runtime is gone" from here on.
        let never_run = core.close_inbox();
        let unwound = core.tear_down();
        if unwound > 0 {
            log::debug!("runtime dropped: unwound {unwound} coroutine(s)");
        }
        // What other threads sent and the runtime never took: dropping a job
        // drops what it carries (a message, a closure, whose handle then
        // reports the runtime gone).
        for job in never_run {
            if panic::catch_unwind(panic::AssertUnwindSafe(|| drop(job))).is_err() {
                log::error!("corio: a destructor panicked while a runtime dropped its inbox");
            }
        }
    }
}

/// Installs, once per process, a panic hook that names the coroutine a panic
/// happened in, then hands over to the hook that was there before (std's
/// default, or the user's own): the user's hook stays in place and runs for
/// every panic. std's default report names the OS thread (`thread 'main'`),
/// which is all it can see; the line before it says which coroutine that
/// was. Both run on a spare stack when the panicking coroutine has too little
/// of its own left for a backtrace (`stack::with_panic_room`).
fn install_panic_hook() {
    static HOOK: Once = Once::new();
    // `set_hook` panics on a panicking thread; a later build installs it.
    if std::thread::panicking() {
        return;
    }
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            // On a coroutine's last few KiB the backtrace would overflow its
            // stack: the hook's work moves to a spare one there.
            stack::with_panic_room(|| {
                if let Some(task) = scheduler::describe_current() {
                    // Ignore a failed write: a panic inside the hook would abort.
                    let _ = writeln!(io::stderr(), "corio: panic in coroutine {task}:");
                }
                previous(info);
            });
        }));
    });
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("stack_size", &self.core.default_stack_size())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Runs `f` on a new default runtime and returns its result; the runtime is
/// dropped afterwards (any coroutine still parked is unwound). `f` may
/// borrow from the caller (see [`Runtime::block_on`]).
///
/// # Panics
///
/// If `f` panics, or the runtime cannot be created, or on deadlock (see
/// [`Runtime::block_on`]).
///
/// # Examples
///
/// ```
/// let n = corio::run(|| {
///     let a = corio::spawn(|| 1);
///     let b = corio::spawn(|| 2);
///     a.join().unwrap() + b.join().unwrap()
/// });
/// assert_eq!(n, 3);
/// ```
#[track_caller]
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T,
{
    let mut rt = match Runtime::new() {
        Ok(rt) => rt,
        Err(e) => panic!("corio::run could not create a runtime: {e}"),
    };
    rt.block_on(f)
}

/// The counters of the runtime driving this thread.
///
/// # Panics
///
/// Panics if called outside a corio runtime; use [`Runtime::stats`] there.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let before = corio::stats().switches;
///     corio::yield_now(); // nobody else is runnable: no switch at all
///     assert_eq!(corio::stats().switches, before);
///     corio::spawn(|| ());
///     corio::yield_now(); // into the child, and back into us when it returns
///     assert_eq!(corio::stats().switches, before + 2);
/// });
/// ```
#[track_caller]
pub fn stats() -> Stats {
    scheduler::with_core("corio::stats", Core::stats)
}

/// Every live task of the current runtime: the caller first, then the
/// runnable tasks in queue order, then the waiting ones, each with its
/// state in words, its metrics and its stack's high-water mark (see
/// [`TaskInfo`]). The deadlock and quiet-hang reports print the same lines.
///
/// # Panics
///
/// Panics outside a corio runtime, with a message saying so.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use corio::runtime::TaskState;
///
/// corio::run(|| {
///     let sleeper = corio::spawn(|| corio::thread::sleep(Duration::from_millis(50)));
///     corio::yield_now(); // the sleeper starts and sleeps
///     let dump = corio::runtime::tasks();
///     let states: Vec<_> = dump.iter().map(|t| t.state.clone()).collect();
///     assert_eq!(states, [TaskState::Running, TaskState::Sleeping]);
///     println!("{dump}");
///     sleeper.join().unwrap();
/// });
/// ```
#[track_caller]
pub fn tasks() -> Dump {
    scheduler::with_core("corio::runtime::tasks", Core::dump)
}
