//! The bridge to OS threads: each runtime's inbox, through which other
//! threads hand it work, and the pool that runs [`spawn_blocking`] jobs.
//!
//! # The inbox
//!
//! A runtime's scheduler touches its own state without locks or atomics.
//! Another thread never touches that state: it puts a [`Job`] (a closure the
//! runtime's thread will run on its scheduler stack) into the runtime's
//! [`Remote`], a mutex-guarded list, and rouses the runtime's `epoll_wait`
//! through one `mio::Waker` (an `eventfd`). The waker is written only when
//! the list goes from empty to non-empty, so a burst of jobs costs one
//! write, and the runtime takes them all in one lock. Nothing on the
//! single-thread path looks at the inbox: the runtime drains it when the
//! poller reports the waker's token, which it polls for anyway (when idle,
//! and every `event_interval` ticks when busy, where with no socket to watch
//! it first reads one atomic flag that the post set).
//!
//! # The blocking pool
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

use std::collections::VecDeque;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::Duration;

use crate::scheduler::{self, Blocker, Core, Suspend, TaskId, Wake};

/// Work another thread hands a runtime: run on the runtime's thread, as
/// scheduler code (no coroutine current), with its `Core`.
pub(crate) type Job = Box<dyn FnOnce(&Core) + Send>;

/// A runtime as other threads see it: its inbox and the waker of its
/// poller. Shared through an `Arc` by the runtime and every [`Handle`],
/// cross-thread sender and blocking job that may have to reach it.
///
/// [`Handle`]: crate::runtime::Handle
pub(crate) struct Remote {
    /// The runtime's id (as in `TaskId`), to tell whether a caller is on it.
    pub(crate) runtime: u32,
    /// Jobs not yet taken by the runtime.
    inbox: Mutex<Inbox>,
    /// Rouses the runtime's `epoll_wait`.
    waker: mio::Waker,
    /// Set (under the inbox's lock) when a post wrote the waker, cleared
    /// when the runtime takes the jobs: a busy runtime reads it, without
    /// the lock, every `event_interval` ticks to learn whether to poll.
    pending: AtomicBool,
    /// Live `Handle`s: each could spawn a task that wakes the others, so
    /// while one lives, a runtime whose coroutines are all blocked waits
    /// instead of reporting a deadlock.
    pub(crate) handles: AtomicUsize,
}

/// The inbox proper.
#[derive(Default)]
struct Inbox {
    /// Posted jobs, oldest first.
    jobs: Vec<Job>,
    /// Whether the waker was written since the runtime last took the jobs.
    signalled: bool,
    /// Set when the runtime is dropped: no more jobs are accepted.
    closed: bool,
}

impl Remote {
    /// The remote side of runtime `runtime`, whose poller has `registry`.
    pub(crate) fn new(runtime: u32, waker: mio::Waker) -> Arc<Remote> {
        Arc::new(Remote {
            runtime,
            inbox: Mutex::new(Inbox::default()),
            waker,
            pending: AtomicBool::new(false),
            handles: AtomicUsize::new(0),
        })
    }

    /// The inbox, locked; a panic while it was held (none of ours can)
    /// leaves it consistent, so poisoning is ignored.
    fn lock(&self) -> MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands `job` to the runtime, from any thread; it runs on the runtime's
    /// thread soon after (at once if the runtime is idle).
    ///
    /// # Errors
    ///
    /// Gives the job back if the runtime is gone.
    pub(crate) fn post(&self, job: Job) -> Result<(), Job> {
        let mut inbox = self.lock();
        if inbox.closed {
            return Err(job);
        }
        inbox.jobs.push(job);
        if !inbox.signalled {
            inbox.signalled = true;
            self.pending.store(true, Ordering::Release);
            // Under the lock, so that a concurrent `take_jobs` cannot reset
            // `signalled` between the two. An eventfd write fails only if
            // its counter would overflow, which a drained waker never nears.
            if let Err(e) = self.waker.wake() {
                log::error!("corio: could not wake runtime {}: {e}", self.runtime);
            }
        }
        Ok(())
    }

    /// Takes every posted job, oldest first (the runtime's thread only).
    pub(crate) fn take_jobs(&self) -> Vec<Job> {
        let mut inbox = self.lock();
        inbox.signalled = false;
        self.pending.store(false, Ordering::Release);
        std::mem::take(&mut inbox.jobs)
    }

    /// Whether jobs wait (the runtime's thread, before it reports a
    /// deadlock: a job may have been posted after the last poll).
    pub(crate) fn has_jobs(&self) -> bool {
        !self.lock().jobs.is_empty()
    }

    /// Whether a job was posted since the runtime last took them; one
    /// atomic load, no lock (the runtime's thread, on its periodic tick).
    #[inline]
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// Refuses every later job and returns the ones not run (the runtime is
    /// being dropped).
    pub(crate) fn close(&self) -> Vec<Job> {
        let mut inbox = self.lock();
        inbox.closed = true;
        std::mem::take(&mut inbox.jobs)
    }

    /// Whether the runtime is gone.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

/// The error of a cross-thread call into a runtime that is gone.
pub(crate) fn runtime_gone(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        format!(
            "{what}: the corio runtime this handle belongs to has been dropped; \
             keep the Runtime alive for as long as other threads use its Handle"
        ),
    )
}

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
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
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

/// A wake-up for `task` of the runtime behind `remote`, from any thread:
/// direct when the caller is on that runtime, through its inbox otherwise.
pub(crate) fn wake_remote(remote: &Remote, task: TaskId) {
    if scheduler::current_runtime() == Some(remote.runtime) {
        scheduler::try_with_core(|core| core.wake(task, Wake::Notified));
    } else {
        let _ = remote.post(Box::new(move |core: &Core| core.wake(task, Wake::Notified)));
    }
}
