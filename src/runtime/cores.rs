//! Thread-per-core: N runtimes on N named OS threads, one call to start
//! them and collect what each returned.

use std::any::Any;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::thread;

use super::Builder;
use crate::scheduler::{self, Core, Remote, panic_text};

/// The payload `block_on` unwinds with when a `ThreadPerCore` stopped its
/// runtime because another core failed.
pub(crate) struct Stopped;

/// Runs one runtime per OS thread ("thread-per-core"): the same closure on
/// each, with the index of its core, and their results in index order.
///
/// Each runtime is built from one [`Builder`] and runs on a thread named
/// `corio-core-N`; with [`pin`](ThreadPerCore::pin) the thread is pinned to
/// the N-th CPU the process may run on. Coroutines never move between the
/// runtimes; share work between them the way threads do (a
/// [`Handle`](crate::runtime::Handle), `Send` channel senders), and share a
/// port with [`TcpListener::bind_reuse_port`] so that each core accepts its
/// own connections.
///
/// If the closure panics on one core, the others are stopped: each one's
/// root coroutine and every coroutine it left is unwound (their destructors
/// run) and its thread ends; then `run` panics with a message that names
/// the core that failed and its panic's message.
///
/// [`TcpListener::bind_reuse_port`]: crate::net::TcpListener::bind_reuse_port
///
/// # Examples
///
/// ```
/// use corio::runtime::ThreadPerCore;
///
/// let sums = ThreadPerCore::new(2)
///     .run(|core| {
///         // Each core runs its own runtime: spawn, join, sleep, as usual.
///         let parts: Vec<_> = (0..4u64).map(|i| corio::spawn(move || i * 10)).collect();
///         core as u64 + parts.into_iter().map(|p| p.join().unwrap()).sum::<u64>()
///     })
///     .unwrap();
/// assert_eq!(sums, [60, 61]);
/// ```
#[derive(Debug, Clone)]
pub struct ThreadPerCore {
    /// How many runtimes.
    threads: usize,
    /// Whether to pin each to a CPU.
    pin: bool,
    /// How to build each runtime.
    builder: Builder,
}

impl ThreadPerCore {
    /// `threads` runtimes, default-built, not pinned. [`std::thread::available_parallelism`]
    /// gives the number of cores.
    ///
    /// # Examples
    ///
    /// ```
    /// let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    /// let per_core = corio::runtime::ThreadPerCore::new(cores);
    /// # let _ = per_core;
    /// ```
    pub fn new(threads: usize) -> ThreadPerCore {
        ThreadPerCore {
            threads,
            pin: false,
            builder: Builder::new(),
        }
    }

    /// Pins runtime N to the N-th CPU the process may run on (cycling if
    /// there are more runtimes than CPUs), with `sched_setaffinity(2)`.
    ///
    /// # Examples
    ///
    /// ```
    /// let cpus = corio::runtime::ThreadPerCore::new(1)
    ///     .pin(true)
    ///     .run(|_| std::fs::read_to_string("/proc/thread-self/status").unwrap())
    ///     .unwrap();
    /// assert!(cpus[0].contains("Cpus_allowed_list:"));
    /// ```
    pub fn pin(mut self, pin: bool) -> ThreadPerCore {
        self.pin = pin;
        self
    }

    /// Builds every runtime with `builder` (stack size, event interval).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::runtime::{Builder, ThreadPerCore};
    ///
    /// let per_core = ThreadPerCore::new(2).builder(Builder::new().stack_size(64 * 1024));
    /// assert_eq!(per_core.run(|i| i).unwrap(), [0, 1]);
    /// ```
    pub fn builder(mut self, builder: Builder) -> ThreadPerCore {
        self.builder = builder;
        self
    }

    /// Starts the runtimes, runs `f(index)` as the root coroutine of each,
    /// and returns the results in index order once all have returned. The
    /// calling thread only waits.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for 0 threads or a builder whose settings are out of
    /// range; the OS error if a thread cannot be started, a runtime cannot
    /// be built, or a thread cannot be pinned. The runtimes already started
    /// are stopped first.
    ///
    /// # Panics
    ///
    /// If `f` panics on a core, after stopping the others, with a message
    /// naming the core. If called from inside a corio runtime (it would
    /// block that runtime's thread until every core is done).
    ///
    /// # Examples
    ///
    /// ```
    /// let caught = std::panic::catch_unwind(|| {
    ///     corio::runtime::ThreadPerCore::new(2).run(|core| {
    ///         if core == 1 {
    ///             panic!("core 1 fails");
    ///         }
    ///         corio::sleep(std::time::Duration::from_secs(60)); // core 0 is stopped
    ///     })
    /// });
    /// let payload = caught.unwrap_err();
    /// let text = payload.downcast_ref::<String>().unwrap();
    /// assert!(text.contains("core 1") && text.contains("core 1 fails"), "{text}");
    /// ```
    #[track_caller]
    pub fn run<F, T>(self, f: F) -> io::Result<Vec<T>>
    where
        F: Fn(usize) -> T + Sync,
        T: Send,
    {
        if scheduler::in_runtime() {
            panic!(
                "ThreadPerCore::run was called from inside a corio runtime; it would block \
                 that runtime's thread until every core is done. Call it from main, or \
                 from a plain thread"
            );
        }
        if self.threads == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "ThreadPerCore::run: 0 threads; ask for at least 1 (one per core: \
                 std::thread::available_parallelism)",
            ));
        }
        let cpus = if self.pin {
            allowed_cpus()?
        } else {
            Vec::new()
        };
        let (events, inbox) = std_mpsc::channel::<Event<T>>();
        thread::scope(|scope| {
            for index in 0..self.threads {
                let core_events = events.clone();
                let f = &f;
                let builder = self.builder.clone();
                let cpu = (!cpus.is_empty()).then(|| cpus[index % cpus.len()]);
                let started = thread::Builder::new()
                    .name(format!("corio-core-{index}"))
                    .spawn_scoped(scope, move || {
                        run_core(index, cpu, builder, f, &core_events)
                    });
                if let Err(e) = started {
                    let _ = events.send(Event::Done(index, Outcome::Failed(e)));
                }
            }
            drop(events);
            collect(self.threads, inbox)
        })
    }
}

/// What a core's thread tells the calling thread.
enum Event<T> {
    /// Its runtime is up; this steers it.
    Started(usize, Arc<Remote>),
    /// Its root returned, panicked or was stopped, or it never started.
    Done(usize, Outcome<T>),
}

/// How one core ended.
enum Outcome<T> {
    /// `f` returned.
    Returned(T),
    /// `f` panicked.
    Panicked(Box<dyn Any + Send>),
    /// Stopped because another core failed.
    Stopped,
    /// The thread, the pinning or the runtime could not be had.
    Failed(io::Error),
}

/// The body of core `index`'s thread.
fn run_core<F, T>(
    index: usize,
    cpu: Option<usize>,
    builder: Builder,
    f: &F,
    events: &std_mpsc::Sender<Event<T>>,
) where
    F: Fn(usize) -> T + Sync,
{
    let outcome = (|| {
        if let Some(cpu) = cpu {
            if let Err(e) = pin_to(cpu) {
                return Outcome::Failed(e);
            }
        }
        let mut rt = match builder.build() {
            Ok(rt) => rt,
            Err(e) => return Outcome::Failed(e),
        };
        let _ = events.send(Event::Started(index, rt.remote()));
        match panic::catch_unwind(AssertUnwindSafe(|| rt.block_on(|| f(index)))) {
            Ok(value) => Outcome::Returned(value),
            Err(payload) if payload.is::<Stopped>() => Outcome::Stopped,
            Err(payload) => Outcome::Panicked(payload),
        }
        // The runtime is dropped here, on its own thread: what its root
        // left behind is unwound before the thread reports.
    })();
    let _ = events.send(Event::Done(index, outcome));
}

/// The calling thread's part: wait for every core; on the first failure,
/// stop the others; then give the results, the error or the panic.
fn collect<T>(threads: usize, inbox: std_mpsc::Receiver<Event<T>>) -> io::Result<Vec<T>> {
    let mut remotes: Vec<Option<Arc<Remote>>> = (0..threads).map(|_| None).collect();
    let mut results: Vec<Option<T>> = (0..threads).map(|_| None).collect();
    let mut failure: Option<(usize, Outcome<T>)> = None;
    for event in inbox {
        match event {
            Event::Started(index, remote) => {
                if failure.is_some() {
                    stop(&remote);
                }
                remotes[index] = Some(remote);
            }
            Event::Done(index, Outcome::Returned(value)) => {
                results[index] = Some(value);
                remotes[index] = None;
            }
            Event::Done(index, Outcome::Stopped) => remotes[index] = None,
            Event::Done(index, outcome) => {
                remotes[index] = None;
                if failure.is_none() {
                    for remote in remotes.iter().flatten() {
                        stop(remote);
                    }
                    failure = Some((index, outcome));
                }
            }
        }
    }
    match failure {
        None => Ok(results
            .into_iter()
            .map(|r| r.expect("every core returned or one failed"))
            .collect()),
        Some((_, Outcome::Failed(e))) => Err(e),
        Some((index, Outcome::Panicked(payload))) => panic!(
            "corio: the runtime on core {index} (thread 'corio-core-{index}') panicked: {}; \
             the other {} were stopped",
            panic_text(&*payload),
            threads - 1
        ),
        Some((_, Outcome::Returned(_) | Outcome::Stopped)) => {
            unreachable!("only failures are kept")
        }
    }
}

/// Asks the runtime behind `remote` to stop (see `Core::request_stop`).
fn stop(remote: &Remote) {
    // A runtime that is gone has stopped already.
    let _ = remote.post(Box::new(|core: &Core| core.request_stop()));
}

/// The CPUs this process may run on, in order.
fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: `cpu_set_t` is a plain bit set, valid all zeroes; the call
    // writes at most `size_of::<cpu_set_t>()` bytes into it.
    let set = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) == -1 {
            return Err(io::Error::last_os_error());
        }
        set
    };
    // SAFETY: `CPU_ISSET` reads one bit of `set`, for a CPU below
    // `CPU_SETSIZE`.
    let cpus: Vec<usize> = (0..libc::CPU_SETSIZE as usize)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect();
    Ok(cpus)
}

/// Pins the calling thread to `cpu`.
fn pin_to(cpu: usize) -> io::Result<()> {
    // SAFETY: as in `allowed_cpus`; `cpu` came from the allowed set, so it
    // is below `CPU_SETSIZE`, and `CPU_SET` writes that one bit.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set)
    };
    if rc == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
