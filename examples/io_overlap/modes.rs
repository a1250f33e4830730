//! The six ways of running the same tasks, and what each run recorded.
//!
//! | mode | how the tasks run |
//! |---|---|
//! | serial | one after another on the calling thread |
//! | processes | one child process per task (this executable, re-run with a hidden argument): the multi-process model |
//! | threads | one `std::thread` per task: the multi-thread model |
//! | processes+threads | one child process per core, one thread per task inside each: the multi-process + multi-thread model |
//! | coroutines | one corio coroutine per task, all on one OS thread |
//! | hybrid | one corio runtime per CPU core, tasks dealt out round-robin |

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use crate::measure::{self, ThreadPeak};
use crate::processes;
use crate::progress::Progress;
use crate::workload::{self, Workload};

/// A way of running a set of tasks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    /// One after another on one thread: no overlap at all.
    Serial,
    /// One OS process per task: overlap and parallelism, at a process each.
    Processes,
    /// One OS thread per task: overlap and parallelism, at a thread each.
    Threads,
    /// One OS process per core, one OS thread per task inside each.
    ProcessesThreads,
    /// One coroutine per task on one OS thread: overlap without parallelism.
    Coroutines,
    /// One runtime per core, many coroutines on each: overlap and parallelism.
    Hybrid,
}

impl Mode {
    /// Every mode, in the order a run reports them.
    pub const ALL: [Mode; 6] = [
        Mode::Serial,
        Mode::Processes,
        Mode::Threads,
        Mode::ProcessesThreads,
        Mode::Coroutines,
        Mode::Hybrid,
    ];

    /// The name used on the command line and in `--json`.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Serial => "serial",
            Mode::Processes => "processes",
            Mode::Threads => "threads",
            Mode::ProcessesThreads => "processes+threads",
            Mode::Coroutines => "coroutines",
            Mode::Hybrid => "hybrid",
        }
    }

    /// The inverse of [`Mode::name`].
    pub fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|mode| mode.name() == name)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Everything a mode needs to know to run the tasks of one workload. It
/// travels to child processes as `key=value` arguments ([`Plan::to_args`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// What every task does.
    pub workload: Workload,
    /// How many tasks; task ids are `0..tasks`.
    pub tasks: usize,
    /// io: round trips per task.
    pub requests: u32,
    /// io: where the slow service listens, one address per listener;
    /// task `i` connects to [`Plan::service_for`]`(i)`.
    pub service: Vec<SocketAddr>,
    /// cpu: hashing rounds per task.
    pub cpu_rounds: u64,
    /// How many corio runtimes (OS threads) the hybrid mode uses.
    pub cores: usize,
}

impl Plan {
    /// The address task `task` connects to: the service's listeners taken
    /// in turn, so that each holds an equal share of the connections (why
    /// several: `service`'s module docs).
    ///
    /// # Panics
    ///
    /// If the plan has no service address.
    pub fn service_for(&self, task: usize) -> SocketAddr {
        self.service[task % self.service.len()]
    }

    /// The plan as `key=value` arguments for a child process.
    pub fn to_args(&self) -> Vec<String> {
        vec![
            format!("workload={}", self.workload),
            format!("tasks={}", self.tasks),
            format!("requests={}", self.requests),
            format!(
                "service={}",
                self.service
                    .iter()
                    .map(SocketAddr::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            format!("cpu_rounds={}", self.cpu_rounds),
            format!("cores={}", self.cores),
        ]
    }

    /// The inverse of [`Plan::to_args`].
    ///
    /// # Errors
    ///
    /// A message naming the missing or malformed key.
    pub fn from_args(args: &[String]) -> Result<Plan, String> {
        let value = |key: &str| {
            args.iter()
                .find_map(|arg| arg.strip_prefix(key)?.strip_prefix('='))
                .ok_or_else(|| format!("internal argument {key}= is missing"))
        };
        let bad = |key: &str| format!("internal argument {key}= is malformed");
        Ok(Plan {
            workload: Workload::from_name(value("workload")?).ok_or_else(|| bad("workload"))?,
            tasks: value("tasks")?.parse().map_err(|_| bad("tasks"))?,
            requests: value("requests")?.parse().map_err(|_| bad("requests"))?,
            service: value("service")?
                .split(',')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .map_err(|_| bad("service"))?,
            cpu_rounds: value("cpu_rounds")?
                .parse()
                .map_err(|_| bad("cpu_rounds"))?,
            cores: value("cores")?.parse().map_err(|_| bad("cores"))?,
        })
    }
}

/// When one task ran and what it returned. Times are [`measure::monotonic_ns`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskRecord {
    /// Task id, `0..tasks`.
    pub task: usize,
    /// The task's result; equal across modes for a correct run.
    pub result: u64,
    /// When the task started (before connecting, for io).
    pub start_ns: u64,
    /// When the task returned.
    pub end_ns: u64,
}

impl TaskRecord {
    /// The record as the text a child process prints:
    /// `<task> <result> <start_ns> <end_ns>`.
    pub fn to_fields(self) -> String {
        format!(
            "{} {} {} {}",
            self.task, self.result, self.start_ns, self.end_ns
        )
    }

    /// The inverse of [`TaskRecord::to_fields`].
    pub fn from_fields(text: &str) -> Option<TaskRecord> {
        let &[task, result, start_ns, end_ns] = numbers(text)?.as_slice() else {
            return None;
        };
        Some(TaskRecord {
            task: task as usize,
            result,
            start_ns,
            end_ns,
        })
    }
}

/// Space-separated whole numbers, or `None` if any is not one.
pub fn numbers(text: &str) -> Option<Vec<u64>> {
    text.split(' ')
        .map(|field| field.parse::<u64>().ok())
        .collect()
}

/// What one mode did, as seen from the process that ran it.
#[derive(Clone, Debug)]
pub struct ModeRun {
    /// Just before the first task was started.
    pub start_ns: u64,
    /// Just after the last task was joined.
    pub end_ns: u64,
    /// One record per task, ordered by task id.
    pub records: Vec<TaskRecord>,
    /// Peak OS threads: this process's sampled peak plus, in processes
    /// mode, every child's.
    pub os_threads: usize,
    /// Child processes started (one per task in processes mode).
    pub processes: usize,
    /// Sum of the child processes' own peak RSS, KiB.
    pub children_rss_kib: u64,
    /// Coroutine switches corio counted (`corio::stats().switches`, summed
    /// over the mode's runtimes); `None` for the modes without a runtime.
    pub corio_switches: Option<u64>,
}

/// State shared by every task of one mode run.
#[derive(Debug)]
pub struct Shared {
    /// What to run.
    pub plan: Plan,
    /// Counts finished tasks on stderr.
    pub progress: Progress,
    /// Sampled once every task has started, and as each task ends.
    pub threads: ThreadPeak,
    /// Switches of every corio runtime of the mode, added as each ends.
    pub corio_switches: AtomicU64,
}

/// Runs every task of `plan` the way `mode` says.
///
/// `exe` is the executable that processes mode re-runs for each task (this
/// example's own binary). Progress goes to `progress`.
///
/// # Errors
///
/// The first task failure (connection refused, a child that died, a
/// panicking task), as a message for the user.
pub fn run_mode(
    mode: Mode,
    plan: &Plan,
    exe: &Path,
    progress: Progress,
) -> Result<ModeRun, String> {
    let shared = Arc::new(Shared {
        plan: plan.clone(),
        progress,
        threads: ThreadPeak::default(),
        corio_switches: AtomicU64::new(0),
    });
    shared.threads.sample();
    let start_ns = measure::monotonic_ns();
    let mut children = processes::Children::default();
    let mut records = match mode {
        Mode::Serial => run_serial(&shared),
        Mode::Processes => {
            let alone = (0..plan.tasks).map(|task| vec![task]).collect();
            processes::run_processes(&shared, exe, alone, &mut children)
        }
        Mode::Threads => run_threads(&shared),
        Mode::ProcessesThreads => {
            let per_core = deal(plan.tasks, plan.cores);
            processes::run_processes(&shared, exe, per_core, &mut children)
        }
        Mode::Coroutines => run_coroutines(&shared, (0..plan.tasks).collect(), start_ns),
        Mode::Hybrid => run_hybrid(&shared),
    }?;
    let end_ns = measure::monotonic_ns();
    shared.progress.finish(end_ns - start_ns);
    records.sort_by_key(|record| record.task);
    Ok(ModeRun {
        start_ns,
        end_ns,
        records,
        os_threads: shared.threads.peak() + children.threads,
        processes: children.count,
        children_rss_kib: children.rss_kib,
        corio_switches: matches!(mode, Mode::Coroutines | Mode::Hybrid)
            .then(|| shared.corio_switches.load(Ordering::Relaxed)),
    })
}

/// Runs `body` as task `task`, recording when it ran; then ticks progress
/// and samples the thread census while this task's thread still exists.
fn timed(
    shared: &Shared,
    task: usize,
    body: impl FnOnce() -> io::Result<u64>,
) -> Result<TaskRecord, String> {
    let start_ns = measure::monotonic_ns();
    let result = body().map_err(|error| task_error(&shared.plan, task, &error))?;
    let end_ns = measure::monotonic_ns();
    shared.threads.sample_now_and_then();
    shared.progress.task_done();
    Ok(TaskRecord {
        task,
        result,
        start_ns,
        end_ns,
    })
}

pub fn task_error(plan: &Plan, task: usize, error: &io::Error) -> String {
    match plan.workload {
        Workload::Io => format!(
            "task {task} failed talking to the slow service at {}: {error}",
            plan.service_for(task)
        ),
        Workload::Cpu => format!("task {task} failed: {error}"),
    }
}

/// One task with blocking `std` I/O; used by serial, processes, threads and
/// processes+threads.
pub fn run_task_std(plan: &Plan, task: usize) -> io::Result<u64> {
    match plan.workload {
        Workload::Io => {
            let stream = std::net::TcpStream::connect(plan.service_for(task))?;
            workload::abort_on_close(&stream)?;
            workload::io_task(stream, task, plan.requests)
        }
        Workload::Cpu => Ok(workload::cpu_task(task, plan.cpu_rounds, || {})),
    }
}

fn run_serial(shared: &Shared) -> Result<Vec<TaskRecord>, String> {
    (0..shared.plan.tasks)
        .map(|task| timed(shared, task, || run_task_std(&shared.plan, task)))
        .collect()
}

fn run_threads(shared: &Arc<Shared>) -> Result<Vec<TaskRecord>, String> {
    let mut handles = Vec::with_capacity(shared.plan.tasks);
    for task in 0..shared.plan.tasks {
        let shared = Arc::clone(shared);
        let handle = thread::Builder::new()
            .name(format!("task {task}"))
            .spawn(move || timed(&shared, task, || run_task_std(&shared.plan, task)))
            .map_err(|error| {
                format!("could not start a thread for task {task}: {error} (try fewer --tasks)")
            })?;
        handles.push(handle);
    }
    shared.threads.sample();
    handles
        .into_iter()
        .enumerate()
        .map(|(task, handle)| handle.join().map_err(|panic| panicked(task, &*panic))?)
        .collect()
}

/// The message for a task that panicked instead of returning.
pub fn panicked(task: usize, payload: &(dyn std::any::Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|text| text.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".to_string());
    format!("task {task} panicked: {message}")
}

/// Deals `0..tasks` out round-robin to `runtimes` lists.
pub fn deal(tasks: usize, runtimes: usize) -> Vec<Vec<usize>> {
    let runtimes = runtimes.clamp(1, tasks.max(1));
    let mut lists = vec![Vec::new(); runtimes];
    for task in 0..tasks {
        lists[task % runtimes].push(task);
    }
    lists
}

/// One task on a corio coroutine; used by coroutines and hybrid. The same
/// worker functions as [`run_task_std`], handed corio's stream and yield.
pub fn run_task_corio(plan: &Plan, task: usize) -> io::Result<u64> {
    match plan.workload {
        Workload::Io => {
            let stream = corio::net::TcpStream::connect(plan.service_for(task))?;
            workload::abort_on_close(&stream)?;
            workload::io_task(stream, task, plan.requests)
        }
        Workload::Cpu => Ok(workload::cpu_task(task, plan.cpu_rounds, corio::yield_now)),
    }
}

/// Where the parent asks a coroutines run to write its runtime's timeline
/// (`--trace`): a fragment of Chrome trace events (see
/// `corio::trace::Trace::write_chrome_events`), then merged into the file.
pub const TRACE_PART_ENV: &str = "IO_OVERLAP_TRACE_PART";

/// The trace process id the fragment's events use.
pub const TRACE_PID_ENV: &str = "IO_OVERLAP_TRACE_PID";

/// Events the traced runtime keeps (24 MiB): every switch of the default
/// io workload with room to spare; beyond it the oldest are dropped, and
/// the trace says how many.
const TRACE_EVENTS: usize = 1 << 20;

/// Runs `tasks` as coroutines on one new corio runtime on this thread;
/// `zero_ns` is when the mode started (the zero of its timeline). Traced
/// when the parent set [`TRACE_PART_ENV`].
fn run_coroutines(
    shared: &Arc<Shared>,
    tasks: Vec<usize>,
    zero_ns: u64,
) -> Result<Vec<TaskRecord>, String> {
    let Some(part) = std::env::var_os(TRACE_PART_ENV) else {
        let mut rt = measured_runtime()
            .build()
            .map_err(|error| format!("could not start a corio runtime: {error}"))?;
        return rt.block_on(|| coroutine_tasks(shared, tasks));
    };
    let pid: u32 = std::env::var(TRACE_PID_ENV)
        .ok()
        .and_then(|pid| pid.parse().ok())
        .ok_or("internal: a trace fragment needs its process id")?;
    let built_ns = measure::monotonic_ns();
    let mut rt = measured_runtime()
        .trace(TRACE_EVENTS)
        .build()
        .map_err(|error| format!("could not start a traced corio runtime: {error}"))?;
    let records = rt.block_on(|| coroutine_tasks(shared, tasks));
    let trace = rt.take_trace().expect("the runtime was built with a trace");
    let write = || -> io::Result<()> {
        let mut out = io::BufWriter::new(std::fs::File::create(&part)?);
        use std::io::Write;
        if Path::new(&part).to_string_lossy().contains(".html.part") {
            // `--trace FILE.html`: the runtime's offline viewer page.
            trace.write_html(&mut out)?;
            return out.flush();
        }
        let name = format!(
            "{} / coroutines: every switch of the corio runtime ({} events, {} dropped)",
            shared.plan.workload,
            trace.events().len(),
            trace.dropped()
        );
        // The runtime's events follow as `,\n{event}` runs; these two lead.
        for (kind, args) in [
            ("process_name", serde_json::json!({"name": name})),
            ("process_sort_index", serde_json::json!({"sort_index": pid})),
        ] {
            let event = serde_json::json!(
                {"ph": "M", "name": kind, "pid": pid, "tid": 0, "ts": 0, "args": args}
            );
            write!(out, ",\n{event}")?;
        }
        trace.write_chrome_events(&mut out, pid, built_ns.saturating_sub(zero_ns))?;
        out.flush()
    };
    write().map_err(|error| {
        format!(
            "could not write the runtime's trace to {}: {error}",
            Path::new(&part).display()
        )
    })?;
    records
}

/// Runs `tasks` as coroutines of the runtime the caller's coroutine is on,
/// and joins them.
fn coroutine_tasks(shared: &Arc<Shared>, tasks: Vec<usize>) -> Result<Vec<TaskRecord>, String> {
    let mut handles = Vec::with_capacity(tasks.len());
    for task in tasks {
        let task_shared = Arc::clone(shared);
        let handle = corio::task::Builder::new()
            .name(format!("task {task}"))
            .spawn(move || {
                timed(&task_shared, task, || {
                    run_task_corio(&task_shared.plan, task)
                })
            })
            .map_err(|error| format!("could not start a coroutine for task {task}: {error}"))?;
        handles.push((task, handle));
    }
    // Every spawned task is queued ahead of us: after this yield each
    // has run up to its first wait, so the census sees them all.
    corio::yield_now();
    shared.threads.sample();
    let records = handles
        .into_iter()
        .map(|(task, handle)| handle.join().map_err(|panic| panicked(task, &*panic))?)
        .collect();
    // Each mode run builds fresh runtimes, so the count is this run's.
    shared
        .corio_switches
        .fetch_add(corio::stats().switches, Ordering::Relaxed);
    records
}

/// The settings of every measured corio runtime: the defaults, with the
/// stall watchdog off. The watchdog is one more OS thread per process that
/// wakes every 25 ms and runs no task; the OS threads and context switches
/// columns count what runs the tasks (docs/io-overlap.md says so).
fn measured_runtime() -> corio::runtime::Builder {
    corio::Runtime::builder().stall_threshold(None)
}

/// One corio runtime per core (`corio::runtime::ThreadPerCore`), tasks
/// dealt out round-robin; this thread only waits for them.
fn run_hybrid(shared: &Arc<Shared>) -> Result<Vec<TaskRecord>, String> {
    let lists = deal(shared.plan.tasks, shared.plan.cores);
    let per_core = corio::runtime::ThreadPerCore::new(lists.len())
        .builder(measured_runtime())
        .run(|core| coroutine_tasks(shared, lists[core].clone()))
        .map_err(|error| format!("could not start the runtimes: {error}"))?;
    let mut records = Vec::with_capacity(shared.plan.tasks);
    for core_records in per_core {
        records.extend(core_records?);
    }
    Ok(records)
}
