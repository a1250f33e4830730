//! [`Builder`]: a runtime's settings, checked when it is built.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::watchdog::{self, OnStall, Stall};
use super::{DEFAULT_EVENT_INTERVAL, DEFAULT_STALL_THRESHOLD, Runtime, install_panic_hook};
use crate::scheduler::{Core, NotSend, SCHEDULE_FORMS, Schedule, Settings};
use crate::stack;

/// The smallest stall threshold a runtime accepts.
const MIN_STALL_THRESHOLD: Duration = Duration::from_millis(1);
/// The largest stall threshold a runtime accepts.
const MAX_STALL_THRESHOLD: Duration = Duration::from_secs(3600);

/// Configures and creates a [`Runtime`].
///
/// # Examples
///
/// ```
/// let mut rt = corio::Runtime::builder()
///     .stack_size(128 * 1024)
///     .event_interval(31)
///     .build()?;
/// rt.block_on(|| ());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Builder {
    /// Default stack size of the runtime's coroutines, before validation.
    stack_size: usize,
    /// See [`DEFAULT_EVENT_INTERVAL`](super::DEFAULT_EVENT_INTERVAL).
    event_interval: u32,
    /// Events the trace ring keeps, if tracing is on.
    trace: Option<usize>,
    /// See [`Builder::stall_threshold`].
    stall_threshold: Option<Duration>,
    /// See [`Builder::on_stall`].
    on_stall: Option<OnStall>,
    /// See [`Builder::task_metrics`].
    task_metrics: bool,
    /// See [`Builder::virtual_time`].
    virtual_time: bool,
    /// See [`Builder::schedule`]; `None`: `CORIO_SCHEDULE`, or FIFO.
    schedule: Option<Schedule>,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            stack_size: stack::DEFAULT_STACK_SIZE,
            event_interval: DEFAULT_EVENT_INTERVAL,
            trace: None,
            stall_threshold: Some(DEFAULT_STALL_THRESHOLD),
            on_stall: None,
            task_metrics: false,
            virtual_time: false,
            schedule: None,
        }
    }
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("stack_size", &self.stack_size)
            .field("event_interval", &self.event_interval)
            .field("trace", &self.trace)
            .field("stall_threshold", &self.stall_threshold)
            .field("on_stall", &self.on_stall.as_ref().map(|_| "Fn(&Stall)"))
            .field("task_metrics", &self.task_metrics)
            .field("virtual_time", &self.virtual_time)
            .field("schedule", &self.schedule)
            .finish()
    }
}

impl Builder {
    /// A builder with the defaults: [`DEFAULT_STACK_SIZE`](super::DEFAULT_STACK_SIZE) per coroutine and
    /// [`DEFAULT_EVENT_INTERVAL`](super::DEFAULT_EVENT_INTERVAL).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = corio::runtime::Builder::new().build()?;
    /// # drop(rt);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Sets the stack size, in bytes, of coroutines that do not choose their
    /// own with [`task::Builder::stack_size`](crate::task::Builder::stack_size).
    /// Rounded up to whole pages. Only the pages a coroutine touches cost
    /// memory; the size is a limit, not an allocation. The allowed range,
    /// checked by [`build`](Builder::build), is
    /// [`MIN_STACK_SIZE`](crate::stack::MIN_STACK_SIZE) to
    /// [`MAX_STACK_SIZE`](crate::stack::MAX_STACK_SIZE).
    ///
    /// A panic near the end of a coroutine's stack is caught by `join` like
    /// any other, with `RUST_BACKTRACE=1` or `full` too: when less than
    /// 64 KiB are left, the panic hook's report and backtrace run on a spare
    /// stack of the thread, and only the panic's entry and unwinding (a few
    /// KiB, `docs/results/panic_room.md`) need room on the coroutine's own.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = corio::Runtime::builder().stack_size(1 << 20).build()?;
    /// # drop(rt);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = bytes;
        self
    }

    /// Sets how many switches into coroutines may pass between two non-blocking
    /// polls for I/O and timers while the run queue stays busy (see
    /// [`DEFAULT_EVENT_INTERVAL`](super::DEFAULT_EVENT_INTERVAL)). Smaller serves sockets sooner under load;
    /// larger spends less time polling.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = corio::Runtime::builder().event_interval(1).build()?; // poll before every resume
    /// # drop(rt);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn event_interval(mut self, ticks: u32) -> Builder {
        self.event_interval = ticks;
        self
    }

    /// Records a timeline of the runtime's scheduling (see [`crate::trace`]):
    /// every spawn, resume, suspend with its reason, wake-up with its cause,
    /// poll and finish, into a ring that keeps the newest `capacity` events
    /// (24 bytes each; the oldest are dropped and counted). Take them with
    /// [`Runtime::take_trace`].
    ///
    /// Off by default; off, it costs one predictable branch per event site.
    /// On, about one time-stamp counter read and a 24-byte store per event,
    /// two events per switch (`cargo run --release --example trace_cost`
    /// measures it).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = corio::Runtime::builder().trace(1 << 16).build()?;
    /// rt.block_on(|| corio::spawn(|| corio::yield_now()).join().unwrap());
    /// let trace = rt.take_trace().unwrap();
    /// assert!(!trace.events().is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn trace(mut self, capacity: usize) -> Builder {
        self.trace = Some(capacity);
        self
    }

    /// How long one coroutine may keep the runtime's OS thread before the
    /// stall watchdog reports it; `None` turns the watchdog off (no stall
    /// and no quiet-hang reports). The default is
    /// [`DEFAULT_STALL_THRESHOLD`](super::DEFAULT_STALL_THRESHOLD), 100 ms;
    /// the allowed range is 1 ms to 1 hour.
    ///
    /// A coroutine keeps the thread until it yields or waits on something
    /// corio knows (a corio socket, timer, channel, lock, join). One that
    /// calls a blocking std function (`std::thread::sleep`, a std lock or
    /// channel, a std socket or stdin read, a child process wait) or loops
    /// without yielding stops every other coroutine of its runtime. Past
    /// the threshold, one line goes to stderr while the stall lasts, naming
    /// the coroutine, the thread, how long, and what the thread is doing
    /// (`running`, or `blocked in` a system call read from `/proc`), with
    /// a hint at the std call and corio's replacement; one more line says
    /// when it ended and how long it lasted (printed by the runtime's own
    /// drop if the watchdog has not seen the end by then, so that a program
    /// that exits right after a stall still prints it). The same lines go
    /// to `log::warn!`. With [`trace`](Builder::trace) on, every stall
    /// (rate limit or not) also goes into the trace
    /// ([`Trace::stalls`](crate::trace::Trace::stalls)). Reports are rate-limited process-wide: the first 10
    /// stalls, then at most one per 10 s, and the next printed report says
    /// how many were left out. A coroutine that keeps yielding is never
    /// reported.
    ///
    /// The watchdog is one OS thread per process (`corio-watchdog`),
    /// started with the first runtime that has a threshold; it wakes every
    /// quarter of the smallest threshold (every 5 ms while a reported stall
    /// lasts), so a reported length can be short by up to a quarter of the
    /// threshold. The scheduler's cost is one plain store per switch. The
    /// thread itself costs something too, and for the life of the
    /// process: in a process of more than one thread the kernel takes and
    /// drops a reference on the socket or file in every system call on a
    /// descriptor, which a process of one thread skips. In an HTTP server
    /// at 100 and 1,000 connections that counting was 1.97 % and 2.51 % of
    /// the server's CPU with the watchdog, 1.40 % and 2.06 % without it
    /// (tokio's: 1.52 % and 2.13 %), medians of five rounds
    /// (`docs/results/http_watchdog.md`, which `scripts/wrk_profile.sh`
    /// writes). A program that wants that back, and has no thread of its
    /// own, builds every runtime with `stall_threshold(None)`, and gives up
    /// the reports.
    ///
    /// The same threshold sets the quiet-hang report: when every coroutine
    /// has waited 20 thresholds (2 s by default) and only another OS
    /// thread could still wake one (a channel's `Sender` or a `Handle`
    /// held there, a `spawn_blocking` job), one report beginning `corio:
    /// nothing has run for` goes to stderr with the task dump below it;
    /// the program keeps waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut rt = corio::Runtime::builder()
    ///     .stall_threshold(Some(Duration::from_millis(20)))
    ///     .build()?;
    /// rt.block_on(|| corio::thread::sleep(Duration::from_millis(50))); // waits: no stall
    /// let quiet = corio::Runtime::builder().stall_threshold(None).build()?;
    /// let err = corio::Runtime::builder()
    ///     .stall_threshold(Some(Duration::from_micros(10)))
    ///     .build()
    ///     .unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # drop((rt, quiet));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stall_threshold(mut self, threshold: Option<Duration>) -> Builder {
        self.stall_threshold = threshold;
        self
    }

    /// Calls `f` with every stall report instead of printing it on stderr:
    /// once when the stall passes the threshold (`ended: false`) and once
    /// when it ends (`ended: true`). Every stall reaches `f` (no rate
    /// limit); `log::warn!` still gets the rate-limited lines. `f` runs on
    /// the watchdog's thread; a panic in it is caught and reported once on
    /// stderr, and the watchdog carries on. Without a stall threshold (see
    /// [`Builder::stall_threshold`]) `f` is never called.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    ///
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let log = Arc::clone(&seen);
    /// let mut rt = corio::Runtime::builder()
    ///     .stall_threshold(Some(Duration::from_millis(20)))
    ///     .on_stall(move |stall| log.lock().unwrap().push(stall.clone()))
    ///     .build()?;
    /// rt.block_on(|| std::thread::sleep(Duration::from_millis(300))); // breaks the contract
    /// drop(rt);
    /// # std::thread::sleep(Duration::from_millis(50));
    /// let seen = seen.lock().unwrap();
    /// assert!(seen.iter().any(|stall| !stall.ended));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn on_stall<F>(mut self, f: F) -> Builder
    where
        F: Fn(&Stall) + Send + Sync + 'static,
    {
        self.on_stall = Some(Arc::new(f));
        self
    }

    /// Measures every task's run and queue times ([`TaskMetrics`]'s
    /// `busy`, `longest_slice`, `queued`, `longest_queued`); off by
    /// default, when they stay zero. `switches` is counted either way.
    /// The cost is two readings of the CPU's cycle counter per switch, the
    /// clock the trace uses, and a few adds: less than tracing's two
    /// recorded events. `cargo run --release --example trace_cost` times
    /// both against a plain runtime, and `scripts/instructions.sh` counts
    /// their instructions per switch (results in `docs/results/trace_cost.md`
    /// and `docs/results/yield_instructions.md`).
    ///
    /// [`TaskMetrics`]: super::TaskMetrics
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = corio::Runtime::builder().task_metrics(true).build()?;
    /// let busy = rt.block_on(|| {
    ///     let worker = corio::spawn(|| (0..100_000u64).sum::<u64>());
    ///     worker.join().unwrap();
    ///     corio::runtime::tasks().iter().next().unwrap().metrics.busy
    /// });
    /// assert!(busy > std::time::Duration::ZERO);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn task_metrics(mut self, on: bool) -> Builder {
        self.task_metrics = on;
        self
    }

    /// Runs the runtime on a virtual clock: whenever no task can run and
    /// nothing but a timer can happen next, the clock jumps to the earliest
    /// timer instead of waiting for it. An hour of sleeps then takes as
    /// long as the code between them. Off by default.
    ///
    /// The clock never jumps past anything real: while a task waits on a
    /// socket, a pipe, a child process, another OS thread (a task of another
    /// runtime, work posted through a `Handle`, or any live `Handle`) or the
    /// blocking pool
    /// (`spawn_blocking`, `corio::fs`), it runs at real speed, so a reply
    /// that is on its way is never overtaken by a timeout. One thing it
    /// cannot see: a channel `Sender` moved to another OS thread that has
    /// not sent yet (nothing tells the runtime where a sender went). A task
    /// receiving from such a channel with a timeout should wait for a
    /// `spawn_blocking` job or a `Handle` instead, which hold the clock.
    /// The clock never goes back.
    ///
    /// Everything that waits for a time uses this clock:
    /// [`sleep`](crate::sleep), [`sleep_until`](crate::sleep_until),
    /// `recv_timeout`, `park_timeout`, `wait_timeout`, `select!`'s timeout,
    /// socket timeouts. Read it with
    /// [`corio::time::Instant::now`](crate::time::Instant::now), which
    /// gives the runtime's clock inside it (`std::time::Instant::now` stays
    /// the real one). The stall watchdog measures real time: a coroutine
    /// that holds the thread holds the virtual clock too, which then runs
    /// at real speed.
    ///
    /// Beside a schedule that makes the order of tasks repeatable, a
    /// virtual clock makes timer-heavy programs repeatable too: the clock
    /// moves only when the program waits, and a busy machine's other
    /// processes cannot make a timer fire earlier in the program's terms.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use corio::time::Instant;
    ///
    /// let mut rt = corio::Runtime::builder().virtual_time(true).build()?;
    /// let real = std::time::Instant::now();
    /// let slept = rt.block_on(|| {
    ///     let start = Instant::now();
    ///     corio::sleep(Duration::from_secs(3600)); // an hour, at once
    ///     start.elapsed()
    /// });
    /// assert!(slept >= Duration::from_secs(3600));
    /// assert!(real.elapsed() < Duration::from_secs(60));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn virtual_time(mut self, on: bool) -> Builder {
        self.virtual_time = on;
        self
    }

    /// Sets how the runtime picks the next task to run (see [`Schedule`]):
    /// FIFO, the documented order, unless this or `CORIO_SCHEDULE` says
    /// otherwise. A schedule set here wins over the environment variable.
    ///
    /// Under [`Schedule::Random`] and [`Schedule::Pct`] every switch goes
    /// through the scheduler loop, which makes the pick: a `yield_now` costs
    /// four stack switches instead of FIFO's two (`switch_costs`'
    /// `corio_yield_random` row measures it), and a join or a channel
    /// receive parks instead of running the others from the waiter's stack.
    ///
    /// # The `CORIO_SCHEDULE` environment variable
    ///
    /// Read by [`build`](Builder::build) when this was not called: `fifo`,
    /// `random:SEED` or `pct:SEED:DEPTH` (SEED a `u64`, DEPTH a `u32`, the
    /// word in any case). So a failing seed that
    /// [`explore`](super::explore) found replays under an unchanged test:
    /// `CORIO_SCHEDULE=random:17 cargo test the_test`. A value that does
    /// not parse makes `build` fail with `InvalidInput` naming the variable
    /// and the accepted forms, so `corio::run` panics with that message:
    /// a typo never falls back to FIFO in silence. Unset or empty means
    /// FIFO.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::runtime::{Builder, Schedule};
    ///
    /// let order = |schedule| -> std::io::Result<Vec<u32>> {
    ///     let mut rt = Builder::new().schedule(schedule).build()?;
    ///     Ok(rt.block_on(|| {
    ///         let log = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    ///         let tasks: Vec<_> = (0..8)
    ///             .map(|n| {
    ///                 let log = log.clone();
    ///                 corio::spawn(move || log.borrow_mut().push(n))
    ///             })
    ///             .collect();
    ///         tasks.into_iter().for_each(|t| t.join().unwrap());
    ///         log.take()
    ///     }))
    /// };
    /// assert_eq!(order(Schedule::Fifo)?, [0, 1, 2, 3, 4, 5, 6, 7]);
    /// let seed = Schedule::Random { seed: 3 };
    /// assert_eq!(order(seed)?, order(seed)?); // the same seed, the same order
    /// let err = Builder::new().schedule(Schedule::Pct { seed: 1, depth: 0 }).build().unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn schedule(mut self, schedule: Schedule) -> Builder {
        self.schedule = Some(schedule);
        self
    }

    /// Creates the runtime.
    ///
    /// # Errors
    ///
    /// - `ErrorKind::InvalidInput` if the stack size is out of range, the
    ///   event interval is 0, the trace capacity is 0, the stall threshold
    ///   is out of range, the schedule is [`Schedule::Pct`] with `depth` 0,
    ///   or (with no schedule set here) `CORIO_SCHEDULE` does not parse; the
    ///   message gives the allowed values.
    /// - The OS error if the poller cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    ///
    /// let err = corio::Runtime::builder().stack_size(0).build().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidInput);
    /// println!("{err}"); // says which sizes are allowed
    /// ```
    pub fn build(self) -> io::Result<Runtime> {
        let stack_size = stack::validate_stack_size(self.stack_size)?;
        if self.event_interval == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "event_interval must be at least 1 (scheduler ticks between two \
                 non-blocking I/O polls); the default is 61",
            ));
        }
        if self.trace == Some(0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "trace capacity must be at least 1 event (the ring keeps the newest \
                 `capacity` events, 24 bytes each); leave `trace` out to turn tracing off",
            ));
        }
        if let Some(threshold) = self.stall_threshold
            && !(MIN_STALL_THRESHOLD..=MAX_STALL_THRESHOLD).contains(&threshold)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "stall_threshold must be between 1 ms and 1 hour (it was {threshold:?}); \
                     the default is 100 ms, and None turns the stall watchdog off"
                ),
            ));
        }
        let schedule = match self.schedule {
            Some(schedule) => schedule,
            None => schedule_from_env()?,
        };
        if let Schedule::Pct { depth: 0, .. } = schedule {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Schedule::Pct needs a depth of at least 1 (one more than the number of \
                 priority change points; 1 is priorities alone)",
            ));
        }
        let core = Core::new(Settings {
            schedule,
            stack_size,
            event_interval: self.event_interval,
            trace: self.trace,
            stall_threshold: self.stall_threshold,
            task_metrics: self.task_metrics,
            virtual_time: self.virtual_time,
        })?;
        install_panic_hook();
        let watch = self.stall_threshold.map(|threshold| {
            watchdog::watch(
                core.runtime_id(),
                threshold,
                self.on_stall,
                core.stall_log(),
            )
        });
        Ok(Runtime {
            core,
            _watch: watch,
            _not_send: NotSend::default(),
        })
    }
}

/// The schedule `CORIO_SCHEDULE` asks for: FIFO when it is unset or empty.
///
/// # Errors
///
/// `InvalidInput` naming the variable and its accepted forms when it is set
/// to anything else that does not parse, or is not Unicode.
fn schedule_from_env() -> io::Result<Schedule> {
    let invalid = |why: String| io::Error::new(io::ErrorKind::InvalidInput, why);
    match std::env::var("CORIO_SCHEDULE") {
        Err(std::env::VarError::NotPresent) => Ok(Schedule::Fifo),
        Err(std::env::VarError::NotUnicode(value)) => Err(invalid(format!(
            "CORIO_SCHEDULE={value:?} is not valid Unicode; it takes {SCHEDULE_FORMS}"
        ))),
        Ok(value) if value.trim().is_empty() => Ok(Schedule::Fifo),
        Ok(value) => value.parse().map_err(|_| {
            invalid(format!(
                "CORIO_SCHEDULE={value:?} is not a schedule; it takes {SCHEDULE_FORMS}; \
                 unset it for the default, fifo"
            ))
        }),
    }
}
