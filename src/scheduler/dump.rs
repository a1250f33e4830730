//! The task dump: every live task of a runtime, what it waits for in words,
//! its metrics and how deep its stack has been used. The deadlock report
//! and the quiet-hang report print the same lines.

use std::fmt;
use std::time::Instant;

use super::task::{Parked, ParkedOn, SlotState};
use super::{Blocker, Core, Task, TaskId, TaskMetrics, context};

/// What a task is doing right now, in a [`TaskInfo`] of the task dump.
///
/// Each state `Display`s as what it means, then the short word for its
/// wait in parentheses (`recv`, `sleep`, `read`, `write`, `lock`, `join`,
/// `park`, …).
///
/// # Examples
///
/// ```
/// use corio::runtime::TaskState;
///
/// assert_eq!(TaskState::Parked.to_string(), "parked (thread::park) until unparked (park)");
/// assert!(TaskState::Receiving.to_string().ends_with("(recv)"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskState {
    /// It is running: it is the task that asked for the dump.
    Running,
    /// It waits for a wake-up (a join or a channel) while it runs the
    /// other tasks from its own stack; it asked, or one of those did.
    Hosting,
    /// It is ready and waits for its turn on the CPU.
    Runnable,
    /// It sleeps (`corio::thread::sleep`, a timeout), until its deadline if
    /// it has one.
    Sleeping,
    /// It sleeps with no deadline (a sleep of `Duration::MAX`).
    SleepingForever,
    /// It waits for file descriptor `fd` to become readable.
    Reading {
        /// The socket's (or pipe's) file descriptor.
        fd: i32,
    },
    /// It waits for file descriptor `fd` to become writable.
    Writing {
        /// The socket's (or pipe's) file descriptor.
        fd: i32,
    },
    /// It waits to receive on an empty channel.
    Receiving,
    /// It waits to send on a full channel.
    Sending,
    /// It waits in a `select` on empty channels.
    Selecting,
    /// It waits for a lock or another primitive of `corio::sync`.
    Locking {
        /// Which primitive: `Mutex`, `RwLock`, `Condvar`, `Barrier`,
        /// `Semaphore`, `Once`.
        primitive: &'static str,
        /// The task holding it, where the primitive knows it.
        holder: Option<TaskId>,
    },
    /// It waits for task `task` to end (`JoinHandle::join`).
    Joining {
        /// The task it joins.
        task: TaskId,
    },
    /// It waits for `tasks` coroutines of its `thread::scope` to end.
    JoiningScope {
        /// How many are left.
        tasks: usize,
    },
    /// It joins a task of another runtime (`RemoteJoinHandle`).
    JoiningRemote,
    /// It is parked (`thread::park`).
    Parked,
    /// It waits for its `spawn_blocking` job on a pool thread.
    Blocking,
}

impl TaskState {
    /// The state of a parked task, waiting on `on`.
    fn of_parked(core: &Core, on: &ParkedOn) -> TaskState {
        match *on {
            ParkedOn::Sleep => TaskState::Sleeping,
            ParkedOn::Io(token, interest) => {
                let fd = core.reactor.fd(token).unwrap_or(-1);
                if interest.is_readable() {
                    TaskState::Reading { fd }
                } else {
                    TaskState::Writing { fd }
                }
            }
            ParkedOn::Blocker(blocker) => match blocker {
                Blocker::Join(task) => TaskState::Joining { task },
                Blocker::Scope(tasks) => TaskState::JoiningScope { tasks },
                Blocker::RemoteJoin => TaskState::JoiningRemote,
                Blocker::ChannelRecv => TaskState::Receiving,
                Blocker::ChannelSend => TaskState::Sending,
                Blocker::Select => TaskState::Selecting,
                Blocker::SleepForever => TaskState::SleepingForever,
                Blocker::ThreadPark => TaskState::Parked,
                Blocker::Mutex(holder) => TaskState::Locking {
                    primitive: "Mutex",
                    holder: holder.task,
                },
                Blocker::RwLock(holder) => TaskState::Locking {
                    primitive: "RwLock",
                    holder: holder.task,
                },
                Blocker::Condvar => locking("Condvar"),
                Blocker::Barrier => locking("Barrier"),
                Blocker::Semaphore => locking("Semaphore"),
                Blocker::Once(holder) => TaskState::Locking {
                    primitive: "Once",
                    holder: holder.task,
                },
                Blocker::Blocking => TaskState::Blocking,
            },
        }
    }
}

/// A wait on `primitive`, whose holder is not known.
fn locking(primitive: &'static str) -> TaskState {
    TaskState::Locking {
        primitive,
        holder: None,
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskState::Running => f.write_str("running"),
            TaskState::Hosting => {
                f.write_str("waiting for a wake-up, running the others meanwhile (wait)")
            }
            TaskState::Runnable => f.write_str("runnable, waiting for its turn"),
            TaskState::Sleeping => f.write_str("sleeping (sleep)"),
            TaskState::SleepingForever => f.write_str("sleeping forever (sleep)"),
            TaskState::Reading { fd } => write!(f, "waiting to read fd {fd} (read)"),
            TaskState::Writing { fd } => write!(f, "waiting to write fd {fd} (write)"),
            TaskState::Receiving => f.write_str("receiving on an empty channel (recv)"),
            TaskState::Sending => f.write_str("sending on a full channel (send)"),
            TaskState::Selecting => f.write_str("selecting on empty channels (recv)"),
            TaskState::Locking {
                primitive: "Once",
                holder: Some(holder),
            } => write!(f, "waiting for {holder}'s one-time initialiser (lock)"),
            TaskState::Locking {
                primitive: "RwLock",
                holder: Some(holder),
            } => write!(f, "locking an RwLock held by {holder} (lock)"),
            TaskState::Locking {
                primitive,
                holder: Some(holder),
            } => write!(f, "locking a {primitive} held by {holder} (lock)"),
            TaskState::Locking { primitive, .. } => match *primitive {
                "RwLock" => f.write_str("locking an RwLock (lock)"),
                "Condvar" => f.write_str("waiting on a Condvar (lock)"),
                "Barrier" => f.write_str("waiting at a Barrier for the others (lock)"),
                "Semaphore" => f.write_str("acquiring a Semaphore permit (lock)"),
                "Once" => {
                    f.write_str("waiting for another coroutine's one-time initialiser (lock)")
                }
                other => write!(f, "locking a {other} (lock)"),
            },
            TaskState::Joining { task } => write!(f, "joining {task} (join)"),
            TaskState::JoiningScope { tasks: 1 } => {
                f.write_str("waiting for 1 coroutine of its thread::scope to end (join)")
            }
            TaskState::JoiningScope { tasks } => {
                write!(
                    f,
                    "waiting for {tasks} coroutines of its thread::scope to end (join)"
                )
            }
            TaskState::JoiningRemote => {
                f.write_str("joining a task of another runtime (RemoteJoinHandle) (join)")
            }
            TaskState::Parked => f.write_str("parked (thread::park) until unparked (park)"),
            TaskState::Blocking => {
                f.write_str("waiting for a spawn_blocking job on a pool thread (blocking)")
            }
        }
    }
}

/// One task of a [`Dump`].
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let dump = corio::runtime::tasks();
///     let me = dump.iter().next().unwrap();
///     assert_eq!(me.state, corio::runtime::TaskState::Running);
///     assert!(me.stack_used > 0 && me.stack_used <= me.stack_size);
/// });
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TaskInfo {
    /// The task.
    pub id: TaskId,
    /// Its name (`task::Builder::name`), if it has one.
    pub name: Option<String>,
    /// What it is doing.
    pub state: TaskState,
    /// When its wait times out (a sleep, a timed wait), if it does.
    pub deadline: Option<Instant>,
    /// Its metrics so far.
    pub metrics: TaskMetrics,
    /// Its stack's high-water mark, in bytes from the stack's base: how
    /// deep the stack has been written since its memory was last given back
    /// to the OS. Exact to the byte on a fresh stack (except for zero bytes
    /// written at the very bottom); a stack the pool reused without
    /// releasing it shows the deepest use of any task that had it since, an
    /// upper bound. Read with `mincore` and a scan of the lowest resident
    /// page, so it touches no page that is not already in memory.
    pub stack_used: usize,
    /// Its stack's usable size, in bytes.
    pub stack_size: usize,
}

impl TaskInfo {
    /// Its dump line, with `note` after its name (as "(the root passed to
    /// block_on)").
    pub(crate) fn line(&self, note: &str) -> String {
        let mut line = match &self.name {
            Some(name) => format!("{} '{name}'{note}: {}", self.id, self.state),
            None => format!("{}{note}: {}", self.id, self.state),
        };
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(super::now());
            line.push_str(&format!(" (for {left:.1?} more)"));
        }
        line.push_str(&format!(
            "; {} switches; stack {} of {} KiB used",
            self.metrics.switches,
            kib(self.stack_used),
            self.stack_size / 1024
        ));
        line
    }
}

impl fmt::Display for TaskInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.line(""))
    }
}

/// `bytes` in KiB with one decimal.
fn kib(bytes: usize) -> String {
    format!("{:.1}", bytes as f64 / 1024.0)
}

/// Every live task of a runtime, as [`tasks`](crate::runtime::tasks) found
/// them: the running one first, then the runnable ones in queue order, then
/// the waiting ones by id.
///
/// `Display`s one line per task: its id and name, its state in words, its
/// switches and its stack's use.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let (tx, rx) = corio::sync::mpsc::channel::<u32>();
///     let receiver = corio::task::Builder::new()
///         .name("receiver".into())
///         .spawn(move || rx.recv())
///         .unwrap();
///     corio::yield_now(); // the receiver runs and waits
///     let dump = corio::runtime::tasks();
///     assert_eq!(dump.len(), 2);
///     let text = dump.to_string();
///     assert!(text.contains("'receiver': receiving on an empty channel (recv)"), "{text}");
///     tx.send(1).unwrap();
///     assert_eq!(receiver.join().unwrap(), Ok(1));
/// });
/// ```
#[derive(Debug, Clone, Default)]
pub struct Dump {
    /// The tasks, in the order above.
    tasks: Vec<TaskInfo>,
}

impl Dump {
    /// The tasks.
    pub fn iter(&self) -> std::slice::Iter<'_, TaskInfo> {
        self.tasks.iter()
    }

    /// How many tasks are live.
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Whether there are none (never, inside a coroutine: the caller is one).
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }
}

impl<'a> IntoIterator for &'a Dump {
    type Item = &'a TaskInfo;
    type IntoIter = std::slice::Iter<'a, TaskInfo>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for task in &self.tasks {
            writeln!(f, "  {task}")?;
        }
        Ok(())
    }
}

/// What the dump reads of a task, through its pointer: fields no running
/// code changes (the id, the shared part, the counters, the stack span).
///
/// # Safety
///
/// `task` must be alive (owned by the run queue, a slot, or running).
unsafe fn info(task: *const Task, state: TaskState, deadline: Option<Instant>) -> TaskInfo {
    // SAFETY: the caller's promise; only these fields are read, never the
    // coroutine, which a resumer may hold mutably.
    let (id, name, metrics, span) = unsafe {
        (
            (*task).id,
            (*task).shared.name().map(str::to_owned),
            (*(*task).counters).metrics(),
            (*task).stack(),
        )
    };
    TaskInfo {
        id,
        name,
        state,
        deadline,
        metrics,
        stack_used: span.used(),
        stack_size: span.len(),
    }
}

impl Core {
    /// Every live task, as [`Dump`] says.
    pub(crate) fn dump(&self) -> Dump {
        let mut tasks = Vec::new();
        let running = context::current_task();
        if let Some(task) = running {
            // SAFETY: the running task is alive while it runs.
            tasks.push(unsafe { info(task, TaskState::Running, None) });
        }
        if self.host.get().is_some() {
            let host = self.host_task.get();
            if Some(host) != running {
                // SAFETY: `host_task` is the host while `host` is set, and
                // the host is alive: it runs this very pass.
                tasks.push(unsafe { info(host, TaskState::Hosting, None) });
            }
        }
        for task in self.run_queue.snapshot() {
            let task = task.as_ptr().cast_const();
            if Some(task) != running {
                // SAFETY: the queue owns every task in it, alive until it
                // is popped, and nothing pops while this runs.
                tasks.push(unsafe { info(task, TaskState::Runnable, None) });
            }
        }
        let timers = self.timers.borrow();
        for (_, slot) in self.tasks.borrow().iter() {
            if let SlotState::Parked(Parked { task, on, timer }) = &slot.state {
                let state = TaskState::of_parked(self, on);
                let deadline = timer.map(|timer| timers.deadline(timer.key()));
                // SAFETY: the slot owns the parked task.
                tasks.push(unsafe { info(&**task, state, deadline) });
            }
        }
        Dump { tasks }
    }
}
