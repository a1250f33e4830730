//! Processes mode (one child process per task) and processes+threads mode
//! (one child process per core, a thread per task inside it).
//!
//! The child is this same executable, re-run with [`RUN_TASK_ARG`], its task
//! ids and the [`Plan`] as `key=value` arguments. It runs the tasks with
//! `std` I/O, exactly as serial and threads do, and prints its
//! [`ChildReport`]. No `fork` tricks: every child is a fresh program, which
//! is what starting a process really costs.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::measure;
use crate::modes::{Plan, Shared, TaskRecord, numbers, panicked, run_task_std, task_error};

/// What the child processes of processes mode added up to.
#[derive(Debug, Default)]
pub struct Children {
    /// Child processes started and reaped.
    pub count: usize,
    /// Sum of their peak OS threads.
    pub threads: usize,
    /// Sum of their own peak RSS, KiB.
    pub rss_kib: u64,
}

/// The hidden argument that makes this executable run tasks and report.
pub const RUN_TASK_ARG: &str = "--internal-run-task";

/// Starts one child process per group of tasks, all at once, then reaps
/// them and collects their reports; the children's counts go into
/// `children`. A group of one task runs on the child's main thread
/// (processes mode); a larger group runs a thread per task
/// (processes+threads mode).
///
/// # Errors
///
/// A child that cannot be started, fails, or prints something unexpected.
pub fn run_processes(
    shared: &Shared,
    exe: &Path,
    groups: Vec<Vec<usize>>,
    children: &mut Children,
) -> Result<Vec<TaskRecord>, String> {
    let mut running = Vec::with_capacity(groups.len());
    // On any failure, still reap every child already started (no zombies,
    // no orphans writing to the terminal later), then report the first.
    let mut first_error = None;
    for group in groups {
        let ids: Vec<String> = group.iter().map(usize::to_string).collect();
        let spawned = Command::new(exe)
            .arg(RUN_TASK_ARG)
            .arg(ids.join(","))
            .args(shared.plan.to_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn();
        match spawned {
            Ok(child) => running.push((group, child)),
            Err(error) => {
                first_error = Some(format!(
                    "could not start a child process for tasks {} ({}): {error} \
                     (try fewer --tasks)",
                    ids.join(","),
                    exe.display()
                ));
                break;
            }
        }
    }
    shared.threads.sample();
    // Reap in order: only our own children, never `wait(-1)`, which could
    // steal a child some other part of the program is waiting for.
    let mut records = Vec::with_capacity(shared.plan.tasks);
    for (group, child) in running {
        match reap(&group, child) {
            Ok(report) => {
                children.count += 1;
                children.threads += report.os_threads;
                children.rss_kib += report.peak_rss_kib;
                for record in report.records {
                    records.push(record);
                    shared.progress.task_done();
                }
            }
            Err(message) => {
                first_error.get_or_insert(message);
            }
        }
    }
    match first_error {
        Some(message) => Err(message),
        None => Ok(records),
    }
}

/// Waits for the process of `group` and reads its report.
fn reap(group: &[usize], child: Child) -> Result<ChildReport, String> {
    let name = match group {
        [task] => format!("task {task}"),
        _ => format!("tasks {group:?}"),
    };
    let output = child
        .wait_with_output()
        .map_err(|error| format!("waiting for the process of {name}: {error}"))?;
    if !output.status.success() {
        return Err(format!("the process of {name} failed ({})", output.status));
    }
    let report = String::from_utf8_lossy(&output.stdout);
    ChildReport::parse(&report)
        .filter(|report| {
            report
                .records
                .iter()
                .map(|r| r.task)
                .eq(group.iter().copied())
        })
        .ok_or_else(|| format!("the process of {name} printed an unexpected report: {report:?}"))
}

/// What a child process prints on stdout: a line
/// `task <id> <result> <start_ns> <end_ns>` per task, in the order given,
/// then `child <peak_rss_kib> <os_threads>`.
#[derive(Debug, PartialEq)]
pub struct ChildReport {
    /// The tasks' records.
    pub records: Vec<TaskRecord>,
    /// The child's own peak RSS (VmHWM), KiB.
    pub peak_rss_kib: u64,
    /// The child's peak OS threads.
    pub os_threads: usize,
}

impl ChildReport {
    /// The lines a child prints.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        for r in &self.records {
            text += &format!("task {}\n", r.to_fields());
        }
        text + &format!("child {} {}\n", self.peak_rss_kib, self.os_threads)
    }

    /// The inverse of [`ChildReport::to_text`].
    pub fn parse(text: &str) -> Option<ChildReport> {
        let mut records = Vec::new();
        let mut lines = text.lines();
        for line in lines.by_ref() {
            if let Some(rest) = line.strip_prefix("task ") {
                records.push(TaskRecord::from_fields(rest)?);
            } else {
                let &[peak_rss_kib, os_threads] = numbers(line.strip_prefix("child ")?)?.as_slice()
                else {
                    return None;
                };
                let report = ChildReport {
                    records,
                    peak_rss_kib,
                    os_threads: os_threads as usize,
                };
                return (lines.next().is_none() && !report.records.is_empty()).then_some(report);
            }
        }
        None
    }
}

/// The body of a child process (see [`RUN_TASK_ARG`]): runs its tasks with
/// `std` I/O (one alone on this thread, several on a thread each) and
/// prints its [`ChildReport`].
///
/// # Errors
///
/// A bad internal argument or a task's own error.
pub fn task_child_main(args: &[String]) -> Result<(), String> {
    let tasks: Vec<usize> = args
        .first()
        .and_then(|ids| ids.split(',').map(|id| id.parse().ok()).collect())
        .ok_or("internal argument: task ids must follow the run-task flag")?;
    let plan = Plan::from_args(&args[1..])?;
    let run = |task: usize| -> Result<TaskRecord, String> {
        let start_ns = measure::monotonic_ns();
        let result = run_task_std(&plan, task).map_err(|error| task_error(&plan, task, &error))?;
        Ok(TaskRecord {
            task,
            result,
            start_ns,
            end_ns: measure::monotonic_ns(),
        })
    };
    let (records, os_threads) = match tasks.as_slice() {
        [task] => (vec![run(*task)?], measure::os_threads_now().unwrap_or(1)),
        _ => std::thread::scope(|scope| {
            let handles: Vec<_> = tasks
                .iter()
                .map(|&task| (task, scope.spawn(move || run(task))))
                .collect();
            let os_threads = measure::os_threads_now().unwrap_or(1 + tasks.len());
            let records = handles
                .into_iter()
                .map(|(task, handle)| handle.join().map_err(|panic| panicked(task, &*panic))?)
                .collect::<Result<Vec<_>, String>>()?;
            Ok::<_, String>((records, os_threads))
        })?,
    };
    let report = ChildReport {
        records,
        peak_rss_kib: measure::peak_rss_kib().unwrap_or(0),
        os_threads,
    };
    print!("{}", report.to_text());
    Ok(())
}
