//! Processes mode: one child process per task.
//!
//! The child is this same executable, re-run with [`RUN_TASK_ARG`], a task
//! id and the [`Plan`] as `key=value` arguments. It runs the task with
//! `std` I/O, exactly as serial and threads do, and prints one line: its
//! [`ChildReport`]. No `fork` tricks: every child is a fresh program, which
//! is what starting a process really costs.

use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::measure;
use crate::modes::{Plan, Shared, TaskRecord, run_task_std, task_error};

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

/// The hidden argument that makes this executable run one task and report.
pub const RUN_TASK_ARG: &str = "--internal-run-task";

/// Starts one child process per task, all at once, then reaps them and
/// collects their reports; the children's counts go into `children`.
///
/// # Errors
///
/// A child that cannot be started, fails, or prints something unexpected.
pub fn run_processes(
    shared: &Shared,
    exe: &Path,
    children: &mut Children,
) -> Result<Vec<TaskRecord>, String> {
    let mut running = Vec::with_capacity(shared.plan.tasks);
    // On any failure, still reap every child already started (no zombies,
    // no orphans writing to the terminal later), then report the first.
    let mut first_error = None;
    for task in 0..shared.plan.tasks {
        let spawned = Command::new(exe)
            .arg(RUN_TASK_ARG)
            .arg(task.to_string())
            .args(shared.plan.to_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn();
        match spawned {
            Ok(child) => running.push((task, child)),
            Err(error) => {
                first_error = Some(format!(
                    "could not start a child process for task {task} ({}): {error} \
                     (try fewer --tasks)",
                    exe.display()
                ));
                break;
            }
        }
    }
    shared.threads.sample();
    // Reap in task order: only our own children, never `wait(-1)`, which
    // could steal a child some other part of the program is waiting for.
    let mut records = Vec::with_capacity(running.len());
    for (task, child) in running {
        match reap(task, child) {
            Ok(report) => {
                children.count += 1;
                children.threads += report.os_threads;
                children.rss_kib += report.peak_rss_kib;
                records.push(report.record);
                shared.progress.task_done();
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

/// Waits for task `task`'s process and reads its report.
fn reap(task: usize, child: Child) -> Result<ChildReport, String> {
    let output = child
        .wait_with_output()
        .map_err(|error| format!("waiting for task {task}'s process: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "the process of task {task} failed ({})",
            output.status
        ));
    }
    let report = String::from_utf8_lossy(&output.stdout);
    ChildReport::parse(&report).ok_or_else(|| {
        format!("the process of task {task} printed an unexpected report: {report:?}")
    })
}

/// What a task's child process prints on stdout: one line,
/// `task <id> <result> <start_ns> <end_ns> <peak_rss_kib> <os_threads>`.
#[derive(Debug, PartialEq)]
pub struct ChildReport {
    /// The task's record.
    pub record: TaskRecord,
    /// The child's own peak RSS (VmHWM), KiB.
    pub peak_rss_kib: u64,
    /// The child's peak OS threads.
    pub os_threads: usize,
}

impl ChildReport {
    /// The line a child prints.
    pub fn to_line(&self) -> String {
        let r = &self.record;
        format!(
            "task {} {} {} {} {} {}",
            r.task, r.result, r.start_ns, r.end_ns, self.peak_rss_kib, self.os_threads
        )
    }

    /// The inverse of [`ChildReport::to_line`].
    pub fn parse(line: &str) -> Option<ChildReport> {
        let mut fields = line.trim().strip_prefix("task ")?.split(' ');
        let mut next = || fields.next()?.parse::<u64>().ok();
        let report = ChildReport {
            record: TaskRecord {
                task: next()? as usize,
                result: next()?,
                start_ns: next()?,
                end_ns: next()?,
            },
            peak_rss_kib: next()?,
            os_threads: next()? as usize,
        };
        next().is_none().then_some(report)
    }
}

/// The body of a task's child process (see [`RUN_TASK_ARG`]): runs one task
/// with `std` I/O and prints its [`ChildReport`].
///
/// # Errors
///
/// A bad internal argument or the task's own error.
pub fn task_child_main(args: &[String]) -> Result<(), String> {
    let task: usize = args
        .first()
        .and_then(|task| task.parse().ok())
        .ok_or("internal argument: a task id must follow the run-task flag")?;
    let plan = Plan::from_args(&args[1..])?;
    let start_ns = measure::monotonic_ns();
    let result = run_task_std(&plan, task).map_err(|error| task_error(&plan, task, &error))?;
    let end_ns = measure::monotonic_ns();
    let report = ChildReport {
        record: TaskRecord {
            task,
            result,
            start_ns,
            end_ns,
        },
        peak_rss_kib: measure::peak_rss_kib().unwrap_or(0),
        os_threads: measure::os_threads_now().unwrap_or(1),
    };
    println!("{}", report.to_line());
    Ok(())
}
