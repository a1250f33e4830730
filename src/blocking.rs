//! The pool that runs [`spawn_blocking`] jobs.
//!
//! One pool per process, started lazily: at most [`MAX_BLOCKING_THREADS`]
//! threads named `corio-blocking-N`, each leaving after
//! [`BLOCKING_KEEP_ALIVE`] without work. Jobs beyond the bound wait in a
//! FIFO queue. The numbers are tokio's, for tokio's reason: blocking jobs
//! mostly wait (on a disk, a lock, a name server) rather than compute, so
//! many threads are cheap and a low bound would queue independent waits
//! behind one another; the bound is there so that a flood of jobs cannot
//! exhaust the process's threads. CPU-heavy work is better given a pool the
//! size of the machine, such as [`crate::runtime::ThreadPerCore`].
//!
//! A job's end reaches its caller's runtime through that runtime's inbox
//! (`scheduler::inbox`), like any work from another thread.

use std::collections::VecDeque;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::Duration;

use crate::scheduler::{self, Blocker, Core, Suspend, Wake, lock_unpoisoned};

/// At most this many blocking-pool threads run at once; later jobs queue.
pub const MAX_BLOCKING_THREADS: usize = 512;

/// A blocking-pool thread with no job for this long leaves.
pub const BLOCKING_KEEP_ALIVE: Duration = Duration::from_secs(10);

/// A job for the pool.
type PoolJob = Box<dyn FnOnce() + Send>;

/// The process's blocking pool.
struct Pool {
    /// Queue and thread counts.
    state: Mutex<PoolState>,
    /// Signalled when a job is queued for an idle thread.
    work: Condvar,
}

/// What the pool's lock guards.
#[derive(Default)]
struct PoolState {
    /// Jobs no thread has taken yet, oldest first.
    queue: VecDeque<PoolJob>,
    /// Threads alive.
    threads: usize,
    /// Threads waiting for a job.
    idle: usize,
    /// Numbers the threads' names.
    started: usize,
}

/// The pool, made on first use.
fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(PoolState::default()),
        work: Condvar::new(),
    })
}

impl Pool {
    /// The state, locked; jobs run outside the lock, so it is never
    /// poisoned by them.
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        lock_unpoisoned(&self.state)
    }

    /// Queues `job`, waking an idle thread or starting one if the bound
    /// allows.
    fn submit(&'static self, job: PoolJob) -> io::Result<()> {
        let mut state = self.lock();
        state.queue.push_back(job);
        // Idle threads not yet claimed by an earlier job take this one.
        if state.idle >= state.queue.len() {
            self.work.notify_one();
            return Ok(());
        }
        if state.threads >= MAX_BLOCKING_THREADS {
            return Ok(()); // it waits for a busy thread to finish
        }
        state.threads += 1;
        state.started += 1;
        let name = format!("corio-blocking-{}", state.started);
        drop(state);
        let spawned = thread::Builder::new()
            .name(name)
            .spawn(move || self.work_loop());
        if let Err(e) = spawned {
            let mut state = self.lock();
            state.threads -= 1;
            if state.threads == 0 {
                // Nobody will ever run the job: hand the error back with it.
                state.queue.pop_back();
                return Err(e);
            }
        }
        Ok(())
    }

    /// A pool thread: run jobs until none came for the keep-alive time.
    fn work_loop(&self) {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                drop(state);
                // A job catches its own panic (see `spawn_blocking`); this
                // catch only keeps a panicking destructor from killing the
                // thread with the pool's count wrong.
                let _ = panic::catch_unwind(AssertUnwindSafe(job));
                state = self.lock();
                continue;
            }
            state.idle += 1;
            let (next, timeout) = self
                .work
                .wait_timeout(state, BLOCKING_KEEP_ALIVE)
                .unwrap_or_else(PoisonError::into_inner);
            state = next;
            state.idle -= 1;
            if timeout.timed_out() && state.queue.is_empty() {
                state.threads -= 1;
                return;
            }
        }
    }
}

/// Runs `f` on a thread of corio's blocking pool and suspends only the
/// calling coroutine until it is done; returns `Ok(value)`, or `Err(payload)`
/// if `f` panicked, as [`std::thread::JoinHandle::join`] would.
///
/// Use it for a call that blocks its OS thread (a blocking library, a big
/// file read, a CPU-heavy computation) and would otherwise stop every
/// coroutine of the runtime. The pool is started on first use and shared
/// by every runtime of the process: at most [`MAX_BLOCKING_THREADS`]
/// threads, each leaving after [`BLOCKING_KEEP_ALIVE`] idle; jobs beyond the
/// bound wait in FIFO order. `corio::net` uses it to resolve host names.
///
/// # Coroutines
///
/// While the job runs, the caller counts as waiting on another thread: a
/// runtime whose other coroutines are all blocked waits for it rather than
/// report a deadlock. Where no coroutine can wait (a destructor run while
/// the runtime is dropped, a `log` backend), `f` runs right there, on the
/// calling thread.
///
/// # Panics
///
/// Panics if called outside a corio runtime, or if the OS refuses to start
/// the pool's first thread.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// corio::run(|| {
///     let ticker = corio::spawn(|| {
///         let mut ticks = 0;
///         for _ in 0..10 {
///             corio::sleep(Duration::from_millis(1));
///             ticks += 1;
///         }
///         ticks
///     });
///     // Blocks a pool thread for 20 ms, not the runtime: the ticker ticks.
///     let got = corio::spawn_blocking(|| {
///         std::thread::sleep(Duration::from_millis(20));
///         6 * 7
///     });
///     assert_eq!(got.unwrap(), 42);
///     assert_eq!(ticker.join().unwrap(), 10);
///     assert!(corio::spawn_blocking(|| panic!("caught")).is_err());
/// });
/// ```
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> thread::Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    const WHAT: &str = "corio::spawn_blocking";
    let me = match scheduler::running_id(WHAT) {
        Ok(me) => me,
        // Nothing can wait here: do the work in place.
        Err(_) => return panic::catch_unwind(AssertUnwindSafe(f)),
    };
    let remote = scheduler::with_core(WHAT, |core| core.remote());
    let slot: Arc<Mutex<Option<thread::Result<T>>>> = Arc::new(Mutex::new(None));
    let job_slot = Arc::clone(&slot);
    let job: PoolJob = Box::new(move || {
        let result = panic::catch_unwind(AssertUnwindSafe(f));
        *job_slot.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
        // The runtime may be gone (dropped while the job ran): then nobody
        // waits, and the result is dropped with the slot.
        let _ = remote.post(Box::new(move |core: &Core| core.wake(me, Wake::Notified)));
    });
    if let Err(e) = pool().submit(job) {
        panic!("{WHAT} could not start a blocking-pool thread: {e}");
    }
    loop {
        if let Some(result) = slot.lock().unwrap_or_else(PoisonError::into_inner).take() {
            return result;
        }
        if let Err(cannot) = scheduler::suspend(WHAT, Suspend::Park(Blocker::Blocking)) {
            // Only a shutdown gets here (the caller was a coroutine):
            // the job runs on; its result is dropped when it ends.
            return Err(Box::new(cannot.explain(WHAT)));
        }
    }
}

/// Runs `f` where it may block: on the pool, suspending only the calling
/// coroutine, inside a runtime; right here, as std would, outside one.
/// `fs`, `io` and `process` funnel every call that can block through it.
///
/// # Errors
///
/// `f`'s own error; `Other`, naming `what`, if `f` panicked (a job that
/// cannot panic is the rule here, so that message points at a bug).
pub(crate) fn unblock<T, F>(what: &str, f: F) -> io::Result<T>
where
    F: FnOnce() -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    if !scheduler::in_runtime() {
        return f();
    }
    match spawn_blocking(f) {
        Ok(result) => result,
        Err(payload) => Err(io::Error::other(format!(
            "{what} failed on corio's blocking pool: {}",
            scheduler::panic_text(&*payload)
        ))),
    }
}
