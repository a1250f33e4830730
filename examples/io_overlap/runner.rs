//! Each mode runs in a fresh child process of this example, so that its
//! figures are its own.
//!
//! Peak memory and context switches are process-wide counters: measured in
//! one long-lived process, the threads mode would inherit the high-water
//! mark of everything before it, and the slow service's work would be mixed
//! in. So the parent re-runs its own executable with [`RUN_MODE_ARG`]; that
//! runner process runs one mode ([`measure_mode`]) and prints its
//! [`Measurement`] as lines on stdout, which the parent reads back
//! ([`measure_in_child`]). The slow service stays in the parent and is
//! never counted.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::measure::{self, Others};
use crate::modes::{self, Mode, Plan, TaskRecord, numbers};
use crate::progress::Progress;
use crate::workload::Workload;

/// The hidden argument that makes this executable run one mode and report.
pub const RUN_MODE_ARG: &str = "--internal-run-mode";

/// The figures of one (workload, mode) run.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// Which workload ran.
    pub workload: Workload,
    /// Which mode ran it.
    pub mode: Mode,
    /// How many tasks.
    pub tasks: usize,
    /// From just before the first task started to just after the last ended.
    pub wall_ns: u64,
    /// Peak OS threads over all of the mode's processes.
    pub os_threads: usize,
    /// Child processes the mode started (its runner process not counted).
    pub processes: usize,
    /// The runner's own peak RSS plus every child's own peak RSS, KiB.
    pub peak_rss_kib: u64,
    /// Kernel context switches (voluntary + involuntary, `getrusage`)
    /// during the mode, children included.
    pub context_switches: u64,
    /// CPU time (user + system) of the mode's processes during the mode,
    /// children included; the slow service, in the parent, is not.
    pub cpu_ns: u64,
    /// The system part of `cpu_ns`: the kernel's work on the mode's behalf
    /// (system calls, and the TCP processing done inside them).
    pub system_ns: u64,
    /// Coroutine switches corio counted, for the modes with corio runtimes.
    pub corio_switches: Option<u64>,
    /// When the mode started (`monotonic_ns`), the zero of its timeline.
    pub start_ns: u64,
    /// One record per task, ordered by task id.
    pub records: Vec<TaskRecord>,
    /// CPU that other programs on the machine used meanwhile; filled in by
    /// the parent, which sees the whole child's lifetime.
    pub others: Others,
    /// Connections the kernel dropped meanwhile for a full accept queue
    /// (`measure::listen_overflows`), filled in by the parent; `None` where
    /// the counter cannot be read.
    pub listen_overflows: Option<u64>,
    /// Whether this run belongs to the task-count sweep rather than the
    /// table; set by the parent.
    pub sweep: bool,
    /// For a sweep step, the wall time of each of its runs in this mode,
    /// in the order they ran; this measurement is the median one. Empty
    /// for the table's runs.
    pub rounds_wall_ns: Vec<u64>,
}

impl Measurement {
    /// Wall time in milliseconds.
    pub fn wall_ms(&self) -> f64 {
        self.wall_ns as f64 / 1e6
    }

    /// How long it took until the last task had started, ms: the cost of
    /// spawning every task (and, on one thread, of the connects made
    /// before it).
    pub fn start_ms(&self) -> f64 {
        let last = self.records.iter().map(|r| r.start_ns).max();
        last.map_or(0.0, |ns| ns.saturating_sub(self.start_ns) as f64 / 1e6)
    }
}

/// Runs `mode` in this process and measures it.
///
/// The figures are only that mode's own in a fresh process (see the module
/// docs); in a test harness they include the harness's threads.
///
/// # Errors
///
/// A task's failure, as a message for the user.
pub fn measure_mode(
    mode: Mode,
    plan: &Plan,
    exe: &Path,
    progress: Progress,
) -> Result<Measurement, String> {
    let switches_before = measure::context_switches();
    let (cpu_before, system_before) = measure::own_cpu();
    let run = modes::run_mode(mode, plan, exe, progress)?;
    let (cpu_after, system_after) = measure::own_cpu();
    let cpu_ns = cpu_after.saturating_sub(cpu_before);
    let system_ns = system_after.saturating_sub(system_before);
    let context_switches = measure::context_switches() - switches_before;
    let own_rss_kib =
        measure::peak_rss_kib().map_err(|error| format!("reading peak RSS: {error}"))?;
    Ok(Measurement {
        workload: plan.workload,
        mode,
        tasks: plan.tasks,
        wall_ns: run.end_ns - run.start_ns,
        os_threads: run.os_threads,
        processes: run.processes,
        peak_rss_kib: own_rss_kib + run.children_rss_kib,
        context_switches,
        cpu_ns,
        system_ns,
        corio_switches: run.corio_switches,
        start_ns: run.start_ns,
        records: run.records,
        others: Others::default(),
        listen_overflows: None,
        sweep: false,
        rounds_wall_ns: Vec::new(),
    })
}

/// Runs `mode` in a fresh child process of `exe` and reads its measurement.
/// With `trace_part`, a coroutines run writes its runtime's trace events
/// there, as trace process `pid` (see `modes::TRACE_PART_ENV`).
///
/// # Errors
///
/// The child's failure or an unreadable report, as a message for the user.
pub fn measure_in_child(
    mode: Mode,
    plan: &Plan,
    exe: &Path,
    show_progress: bool,
    trace_part: Option<(&Path, u32)>,
) -> Result<Measurement, String> {
    let others = measure::OtherLoad::start();
    let overflows_before = measure::listen_overflows();
    let mut command = Command::new(exe);
    if let Some((part, pid)) = trace_part {
        command
            .env(modes::TRACE_PART_ENV, part)
            .env(modes::TRACE_PID_ENV, pid.to_string());
    }
    let output = command
        .arg(RUN_MODE_ARG)
        .arg(mode.name())
        .arg(format!("progress={}", u8::from(show_progress)))
        .args(plan.to_args())
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|error| {
            format!(
                "could not start a process for {}/{mode} ({}): {error}",
                plan.workload,
                exe.display()
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "the {}/{mode} run failed ({}); its error is above",
            plan.workload, output.status
        ));
    }
    let report = String::from_utf8_lossy(&output.stdout);
    let mut measured = parse_report(mode, plan, &report).ok_or_else(|| {
        format!(
            "the {}/{mode} run printed an unexpected report:\n{report}",
            plan.workload
        )
    })?;
    measured.others = others.map(|start| start.since()).unwrap_or_default();
    measured.listen_overflows = overflows_before
        .zip(measure::listen_overflows())
        .map(|(before, after)| after.saturating_sub(before));
    Ok(measured)
}

/// The body of a runner process (see [`RUN_MODE_ARG`]).
///
/// # Errors
///
/// A bad internal argument or the mode's failure.
pub fn mode_child_main(args: &[String], exe: &Path) -> Result<(), String> {
    let mode = args
        .first()
        .and_then(|name| Mode::from_name(name))
        .ok_or("internal argument: a mode name must follow the run-mode flag")?;
    let show_progress = args.iter().any(|arg| arg == "progress=1");
    let plan = Plan::from_args(&args[1..])?;
    let progress = Progress::new(
        format!("{}/{mode}", plan.workload),
        plan.tasks,
        show_progress,
    );
    let measured = measure_mode(mode, &plan, exe, progress)?;
    print!("{}", format_report(&measured));
    Ok(())
}

/// A measurement as the runner prints it: a `record` line per task, then
/// one `summary` line, and a `corio` line for the modes with runtimes.
pub fn format_report(measured: &Measurement) -> String {
    let mut report = String::new();
    for r in &measured.records {
        report += &format!("record {}\n", r.to_fields());
    }
    report += &format!(
        "summary {} {} {} {} {} {} {} {}\n",
        measured.start_ns,
        measured.wall_ns,
        measured.os_threads,
        measured.processes,
        measured.peak_rss_kib,
        measured.context_switches,
        measured.cpu_ns,
        measured.system_ns
    );
    if let Some(switches) = measured.corio_switches {
        report += &format!("corio {switches}\n");
    }
    report
}

/// The inverse of [`format_report`]; `None` if anything is off.
pub fn parse_report(mode: Mode, plan: &Plan, report: &str) -> Option<Measurement> {
    let mut records = Vec::new();
    let mut summary = None;
    let mut corio_switches = None;
    for line in report.lines() {
        if let Some(rest) = line.strip_prefix("record ") {
            records.push(TaskRecord::from_fields(rest)?);
        } else if let Some(rest) = line.strip_prefix("summary ") {
            summary = Some(numbers(rest)?);
        } else if let Some(rest) = line.strip_prefix("corio ") {
            corio_switches = Some(rest.parse().ok()?);
        } else {
            return None;
        }
    }
    let &[
        start_ns,
        wall_ns,
        os_threads,
        processes,
        peak_rss_kib,
        context_switches,
        cpu_ns,
        system_ns,
    ] = summary?.as_slice()
    else {
        return None;
    };
    (records.len() == plan.tasks).then_some(Measurement {
        workload: plan.workload,
        mode,
        tasks: plan.tasks,
        wall_ns,
        os_threads: os_threads as usize,
        processes: processes as usize,
        peak_rss_kib,
        context_switches,
        cpu_ns,
        system_ns,
        corio_switches,
        start_ns,
        records,
        others: Others::default(),
        listen_overflows: None,
        sweep: false,
        rounds_wall_ns: Vec::new(),
    })
}
