//! [`Handle`]: a runtime as other OS threads see it, and the `Send` join
//! handle of a task spawned through it.

use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;

use crate::scheduler::{self, Blocker, Core, Remote, Suspend, TaskId, lock_unpoisoned};

/// A handle to a runtime that other OS threads may hold: `Send`, `Sync` and
/// `Clone`. Get one with [`Runtime::handle`](crate::Runtime::handle), or
/// with [`Handle::current`] from inside a coroutine.
///
/// Through it, any thread can [`spawn`](Handle::spawn) a task on the
/// runtime. Each call crosses threads through the runtime's inbox: a locked
/// list and one `eventfd` write that wakes the runtime if it sleeps in
/// `epoll_wait`. The runtime's own coroutines never touch that lock.
///
/// While a `Handle` lives, a runtime whose coroutines are all blocked waits
/// for it (a spawn may come) instead of reporting a deadlock; it logs a
/// warning naming who waits on what after 2 s.
///
/// # Examples
///
/// ```
/// let mut rt = corio::Runtime::new()?;
/// let handle = rt.handle();
/// let from_thread = std::thread::spawn(move || {
///     let task = handle.spawn(|| corio::task::current_id().as_u64()).unwrap();
///     task.join().unwrap() // blocks this OS thread until the task ends
/// });
/// // The runtime runs the task while its root waits for the thread.
/// let serial = rt.block_on(|| corio::spawn_blocking(move || from_thread.join().unwrap()));
/// assert!(serial.unwrap() > 1);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Handle {
    /// The runtime's inbox and waker.
    remote: Arc<Remote>,
}

impl Handle {
    /// A handle to `core`'s runtime.
    pub(crate) fn new(core: &Core) -> Handle {
        let remote = core.remote();
        remote.handles.fetch_add(1, Ordering::AcqRel);
        Handle { remote }
    }

    /// The handle of the runtime driving the calling thread.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let handle = corio::runtime::Handle::current();
    ///     let task = handle.spawn(|| "spawned through the handle").unwrap();
    ///     assert_eq!(task.join().unwrap(), "spawned through the handle");
    /// });
    /// ```
    #[track_caller]
    pub fn current() -> Handle {
        scheduler::with_core("corio::runtime::Handle::current", Handle::new)
    }

    /// Spawns `f` as a task of the handle's runtime, from any thread, and
    /// returns a `Send` handle to join it from any thread or coroutine.
    ///
    /// From a coroutine of the same runtime this is [`corio::spawn`]; from
    /// elsewhere the task is queued when the runtime next looks at its inbox
    /// (at once if it is idle; within `event_interval` switches if busy).
    ///
    /// # Errors
    ///
    /// `NotConnected` if the runtime has been dropped; from the runtime's
    /// own thread, what [`corio::spawn`] would panic with (no stack).
    ///
    /// [`corio::spawn`]: crate::spawn
    ///
    /// # Examples
    ///
    /// ```
    /// let handle = corio::Runtime::new()?.handle(); // the runtime is dropped here
    /// let err = handle.spawn(|| ()).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn<F, T>(&self, f: F) -> io::Result<RemoteJoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        const WHAT: &str = "corio::runtime::Handle::spawn";
        let packet = Arc::new(Packet::default());
        let completer = Completer(Some(Arc::clone(&packet)));
        let body = move || completer.run(f);
        if scheduler::current_runtime() == Some(self.remote.runtime) {
            scheduler::with_core(WHAT, |core| scheduler::spawn_on(core, body, None, None))?;
        } else {
            let job = Box::new(move |core: &Core| {
                if let Err(e) = scheduler::spawn_on(core, body, None, None) {
                    // The body was dropped: its joiner learns it never ran.
                    log::error!("{WHAT}: could not create the task's coroutine: {e}");
                }
            });
            if self.remote.post(job).is_err() {
                return Err(scheduler::runtime_gone(WHAT));
            }
        }
        Ok(RemoteJoinHandle { packet })
    }

    /// Whether the runtime is still there to take work.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = corio::Runtime::new()?;
    /// let handle = rt.handle();
    /// assert!(handle.is_alive());
    /// drop(rt);
    /// assert!(!handle.is_alive());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_alive(&self) -> bool {
        !self.remote.is_closed()
    }
}

impl Clone for Handle {
    fn clone(&self) -> Handle {
        self.remote.handles.fetch_add(1, Ordering::AcqRel);
        Handle {
            remote: Arc::clone(&self.remote),
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.remote.handles.fetch_sub(1, Ordering::AcqRel);
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("runtime", &self.remote.runtime)
            .finish_non_exhaustive()
    }
}

/// Where a task spawned through a [`Handle`] leaves its result.
struct Packet<T> {
    /// The result and who waits for it.
    state: Mutex<PacketState<T>>,
    /// Signalled when the result is in, for a waiting OS thread.
    done: Condvar,
}

impl<T> Default for Packet<T> {
    fn default() -> Packet<T> {
        Packet {
            state: Mutex::new(PacketState {
                result: None,
                finished: false,
                waiter: None,
            }),
            done: Condvar::new(),
        }
    }
}

/// What a [`Packet`]'s lock guards.
struct PacketState<T> {
    /// The task's result, until `join` takes it.
    result: Option<thread::Result<T>>,
    /// Whether the task has ended (stays set after `join` took the result).
    finished: bool,
    /// A coroutine blocked in `join`, and its runtime.
    waiter: Option<(Arc<Remote>, TaskId)>,
}

impl<T> Packet<T> {
    /// The state, locked; no code of ours panics while holding it.
    fn lock(&self) -> MutexGuard<'_, PacketState<T>> {
        lock_unpoisoned(&self.state)
    }

    /// Files the result (the first one wins) and wakes the joiner.
    fn complete(&self, result: thread::Result<T>) {
        let waiter = {
            let mut state = self.lock();
            if state.finished {
                return;
            }
            state.finished = true;
            state.result = Some(result);
            state.waiter.take()
        };
        self.done.notify_all();
        if let Some((remote, task)) = waiter {
            scheduler::wake_remote(&remote, task);
        }
    }
}

/// Completes the packet when the task ends, and also when it never runs
/// (its runtime was dropped first) or is unwound.
struct Completer<T>(Option<Arc<Packet<T>>>);

impl<T> Completer<T> {
    /// The task's body: runs `f` and files its result.
    fn run(mut self, f: impl FnOnce() -> T) {
        match panic::catch_unwind(AssertUnwindSafe(f)) {
            // A dropped runtime unwinding the task: let that go on; `Drop`
            // files the result.
            Err(payload) if scheduler::unwinding_in_progress() => panic::resume_unwind(payload),
            result => {
                if let Some(packet) = self.0.take() {
                    packet.complete(result);
                }
            }
        }
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if let Some(packet) = self.0.take() {
            packet.complete(Err(Box::new(NEVER_ENDED)));
        }
    }
}

/// What joining a task spawned through a `Handle` gives when it never ended.
const NEVER_ENDED: &str = "the task did not run to its end: its corio runtime was dropped first \
                           (or could not create its coroutine; see the log)";

/// A `Send` permission to join a task spawned through [`Handle::spawn`],
/// from any OS thread or coroutine. Dropping it detaches the task.
///
/// # Examples
///
/// ```
/// let mut rt = corio::Runtime::new()?;
/// let task = rt.handle().spawn(|| 2 + 2)?;
/// rt.block_on(|| corio::yield_now()); // the runtime runs it
/// assert!(task.is_finished());
/// assert_eq!(task.join().unwrap(), 4);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct RemoteJoinHandle<T> {
    /// Shared with the task's body.
    packet: Arc<Packet<T>>,
}

impl<T> RemoteJoinHandle<T> {
    /// Waits for the task to end and returns its result, `Err(payload)` if
    /// it panicked, as [`std::thread::JoinHandle::join`].
    ///
    /// # Coroutines
    ///
    /// Called from a coroutine, it suspends only that coroutine (of any
    /// runtime, the task's own included); called from a thread that runs no
    /// runtime, it blocks the thread. Called from a runtime's own scheduler
    /// code (a `log` backend, a destructor during shutdown), where nothing
    /// can wait, it gives `Err` at once if the task has not ended. A task
    /// whose runtime was dropped before it ended gives `Err` too.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = corio::Runtime::new()?;
    /// let handle = rt.handle();
    /// rt.block_on(|| {
    ///     let task = handle.spawn(|| -> u8 { panic!("boom") }).unwrap();
    ///     assert!(task.join().is_err());
    /// });
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn join(self) -> thread::Result<T> {
        const WHAT: &str = "RemoteJoinHandle::join";
        if !scheduler::in_runtime() {
            let mut state = self.packet.lock();
            loop {
                if let Some(result) = state.result.take() {
                    return result;
                }
                state = self
                    .packet
                    .done
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        let me = scheduler::running_id(WHAT);
        loop {
            {
                let mut state = self.packet.lock();
                if let Some(result) = state.result.take() {
                    return result;
                }
                match me {
                    Ok(me) => {
                        let remote = scheduler::with_core(WHAT, Core::remote);
                        state.waiter = Some((remote, me));
                    }
                    Err(cannot) => return Err(Box::new(cannot.explain(WHAT))),
                }
            }
            if let Err(cannot) = scheduler::suspend(WHAT, Suspend::Park(Blocker::RemoteJoin)) {
                self.packet.lock().waiter = None;
                return Err(Box::new(cannot.explain(WHAT)));
            }
        }
    }

    /// Whether the task has ended. Never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = corio::Runtime::new()?;
    /// let task = rt.handle().spawn(|| ())?;
    /// assert!(!task.is_finished()); // nobody ran the runtime yet
    /// drop(rt); // dropped before it ran: it never will
    /// assert!(task.is_finished());
    /// assert!(task.join().is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.packet.lock().finished
    }
}

impl<T> fmt::Debug for RemoteJoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteJoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
