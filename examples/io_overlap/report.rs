//! The human-readable report: the table of figures and the sentences that
//! say what they mean. Everything here is computed from [`Measurement`]s.

use serde_json::{Value, json};

use crate::modes::Mode;
use crate::runner::Measurement;
use crate::workload::Workload;

/// What the run was, for the sentences.
#[derive(Clone, Debug)]
pub struct Setup {
    /// CPU cores available to the run (the hybrid mode's runtime count).
    pub cores: usize,
    /// Whether `--cpus` pinned the run to those cores.
    pub pinned: bool,
    /// io: round trips per task.
    pub requests: u32,
    /// io: the service's delay per answer, ms.
    pub latency_ms: u64,
    /// cpu: what one task took during calibration, ms.
    pub cpu_task_ms: f64,
}

impl Setup {
    /// The io workload's ideal wall time, ms: every task's waits overlapped
    /// perfectly, so one task's `requests` waits of `latency_ms`.
    pub fn io_ideal_ms(&self) -> f64 {
        f64::from(self.requests) * self.latency_ms as f64
    }
}

/// `mode`'s wall time over serial's for the same workload and task count,
/// if serial ran (it never does in the sweep).
pub fn speedup(all: &[Measurement], measured: &Measurement) -> Option<f64> {
    let serial = all.iter().find(|m| {
        m.workload == measured.workload
            && m.mode == Mode::Serial
            && m.tasks == measured.tasks
            && m.sweep == measured.sweep
    })?;
    Some(serial.wall_ns as f64 / measured.wall_ns.max(1) as f64)
}

/// An io run's ideal wall time, ms ([`Setup::io_ideal_ms`]); `None` for
/// cpu.
pub fn ideal_ms(m: &Measurement, setup: &Setup) -> Option<f64> {
    (m.workload == Workload::Io).then(|| setup.io_ideal_ms())
}

/// Why a run's figures measured the harness too: the kernel dropped
/// connections for a full accept queue while it ran.
pub fn harness_warning(m: &Measurement) -> Option<String> {
    let dropped = m.listen_overflows.filter(|&n| n > 0)?;
    Some(format!(
        "the kernel dropped {dropped} connection attempt{} for a full accept queue while          this mode ran (TcpExtListenOverflows, counted for every program on this machine);          a dropped client retries a second or more later, so this wall time may include          that wait",
        plural(dropped as usize)
    ))
}

/// One `--json` line: exactly the keys `workload`, `mode`, `tasks`,
/// `wall_ms`, `speedup` (`null` when serial did not run), `os_threads`,
/// `processes`, `peak_rss_kib`, `context_switches` (the kernel's),
/// `corio_switches` (`null` for modes without a corio runtime), `profile`
/// (`"debug"` or `"release"`), `cores`, `pinned` (by `--cpus`),
/// `busy_warning` (`null`, or why the machine's other load makes this row
/// less trustworthy), `sweep` (whether the row is one of the task-count
/// sweep's), `ideal_ms` (io: the waits of one task, every wait overlapped;
/// `null` for cpu), `start_ms` (until the last task started),
/// `cpu_ms` (CPU time of the mode's processes, user + system, children
/// included), `system_ms` (its system part: the kernel's work on the mode's
/// behalf), `listen_overflows` (connections the kernel dropped meanwhile for a full
/// accept queue, `null` if unreadable), `harness_warning` (`null`, or
/// why those drops make the row measure the harness too) and
/// `rounds_wall_ms` (`null` for the table's rows; for the sweep's, the
/// wall time of each run of that step and mode, in the order they ran,
/// of which this row is the median).
pub fn json_row(all: &[Measurement], m: &Measurement, setup: &Setup) -> Value {
    // Milliseconds to the microsecond: more digits would only be noise.
    let to_us = |ms: f64| (ms * 1e3).round() / 1e3;
    let busy_warning = m.others.disturbing().then(|| {
        format!(
            "other programs used {:.1} cores on average while this mode ran",
            m.others.cores
        )
    });
    json!({
        "workload": m.workload.name(),
        "mode": m.mode.name(),
        "tasks": m.tasks,
        "wall_ms": to_us(m.wall_ms()),
        "speedup": speedup(all, m).map(to_us),
        "os_threads": m.os_threads,
        "processes": m.processes,
        "peak_rss_kib": m.peak_rss_kib,
        "context_switches": m.context_switches,
        "corio_switches": m.corio_switches,
        "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
        "cores": setup.cores,
        "pinned": setup.pinned,
        "busy_warning": busy_warning,
        "sweep": m.sweep,
        "ideal_ms": ideal_ms(m, setup),
        "start_ms": to_us(m.start_ms()),
        "cpu_ms": to_us(m.cpu_ns as f64 / 1e6),
        "system_ms": to_us(m.system_ns as f64 / 1e6),
        "listen_overflows": m.listen_overflows,
        "harness_warning": harness_warning(m),
        "rounds_wall_ms": m.sweep.then(|| {
            m.rounds_wall_ns
                .iter()
                .map(|&ns| to_us(ns as f64 / 1e6))
                .collect::<Vec<f64>>()
        }),
    })
}

fn find(all: &[Measurement], workload: Workload, mode: Mode) -> Option<&Measurement> {
    all.iter()
        .find(|m| m.workload == workload && m.mode == mode)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The table: one row per (workload, mode), then what each column counts.
pub fn table(all: &[Measurement]) -> String {
    let mut out = format!(
        "{:<8} {:<17} {:>9} {:>8} {:>8} {:>6} {:>10} {:>10} {:>9}\n",
        "workload",
        "mode",
        "wall ms",
        "speedup",
        "threads",
        "procs",
        "peak RSS",
        "kernel sw",
        "corio sw"
    );
    for m in all {
        let speedup = speedup(all, m).map_or("-".to_string(), |x| format!("{x:.1}x"));
        let corio = m.corio_switches.map_or("-".to_string(), |n| n.to_string());
        out += &format!(
            "{:<8} {:<17} {:>9.1} {:>8} {:>8} {:>6} {:>6.1} MiB {:>10} {:>9}\n",
            m.workload.name(),
            m.mode.name(),
            m.wall_ms(),
            speedup,
            m.os_threads,
            m.processes,
            mib(m.peak_rss_kib),
            m.context_switches,
            corio
        );
    }
    out += "\n\
threads:   peak OS threads in all of the mode's processes (slow service excluded)
procs:     child processes started for the tasks
peak RSS:  each process's own peak resident memory (VmHWM), summed over the
           mode's processes; user-space pages only (the kernel's own memory per
           thread and process, such as its kernel stack, is not included)
kernel sw: kernel context switches (getrusage: voluntary + involuntary), children
           included: each time the kernel took a CPU from one thread for another
corio sw:  switches between coroutines that corio made in user space, without the
           kernel (corio::stats().switches); - where no corio runtime ran
Every mode ran in a fresh process of its own, so these figures are its own.
";
    out += &busy_warning(all);
    out + &overflow_warning(all)
}

/// A warning naming the runs during which other programs kept CPUs busy;
/// empty if there were none.
fn busy_warning(all: &[Measurement]) -> String {
    let disturbed: Vec<String> = all
        .iter()
        .filter(|m| m.others.disturbing())
        .map(|m| {
            format!(
                "{}/{} at {} tasks {:.1}",
                m.workload, m.mode, m.tasks, m.others.cores
            )
        })
        .collect();
    if disturbed.is_empty() {
        return String::new();
    }
    let warning = format!(
        "warning: other programs kept CPUs busy while some modes ran (cores they used on \
         average: {}). Those wall times and speedups carry their load; rerun on an idle \
         machine for clean figures, or compare CPU time, which their load does not inflate.",
        disturbed.join(", ")
    );
    format!("\n{}\n", wrap(&warning, 80))
}

/// A warning naming the runs during which the kernel dropped connections
/// for a full accept queue; empty if there were none.
fn overflow_warning(all: &[Measurement]) -> String {
    let dropped: Vec<String> = all
        .iter()
        .filter_map(|m| {
            let n = m.listen_overflows.filter(|&n| n > 0)?;
            Some(format!(
                "{}/{} at {} tasks: {n}",
                m.workload, m.mode, m.tasks
            ))
        })
        .collect();
    if dropped.is_empty() {
        return String::new();
    }
    let warning = format!(
        "warning: the kernel dropped connections for a full accept queue while some modes          ran ({}; TcpExtListenOverflows, which counts every program on this machine). A          dropped client retries a second or more later, so those wall times may measure the          harness, not the mode.",
        dropped.join(", ")
    );
    format!("\n{}\n", wrap(&warning, 80))
}

/// The sweep's table: per task count and mode, wall time, how it compares
/// with the ideal, OS threads, peak memory per task and context switches;
/// then what the largest count shows, and why the sweep stopped early if
/// it did.
pub fn sweep_table(sweep: &[Measurement], setup: &Setup, stopped: Option<&str>) -> String {
    let ideal = setup.io_ideal_ms();
    let mut out = format!(
        "Sweep: the io workload at growing task counts, threads against coroutines. Ideal: \
         {ideal:.0} ms ({} wait{} of {} ms, every task's overlapped); \"x ideal\" is wall \
         time over that.",
        setup.requests,
        plural(setup.requests as usize),
        setup.latency_ms
    );
    let rounds = sweep.first().map_or(1, |m| m.rounds_wall_ns.len());
    if rounds > 1 {
        out += &format!(
            " Each step ran {rounds} times, the two modes taking turns; a row is its mode's \
             median run (every run's wall time is in --json, rounds_wall_ms)."
        );
    }
    out = wrap(&out, 80) + "\n\n";
    out += &format!(
        "{:>6} {:<11} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9} {:>10}\n",
        "tasks",
        "mode",
        "wall ms",
        "x ideal",
        "started",
        "CPU ms",
        "threads",
        "KiB/task",
        "kernel sw"
    );
    for m in sweep {
        out += &format!(
            "{:>6} {:<11} {:>9.1} {:>7.1}x {:>8.1} {:>8.1} {:>8} {:>9.1} {:>10}\n",
            m.tasks,
            m.mode.name(),
            m.wall_ms(),
            m.wall_ms() / ideal.max(f64::MIN_POSITIVE),
            m.start_ms(),
            m.cpu_ns as f64 / 1e6,
            m.os_threads,
            kib_per_task(m),
            m.context_switches
        );
    }
    out += &busy_warning(sweep);
    out += "started: ms until the last task began. CPU ms: user + system time of the mode's\n\
             processes (the service excluded), which other programs' load does not inflate.\n\
             KiB/task: peak RSS over the task count.\n";
    out += &overflow_warning(sweep);
    if let Some(sentence) = sweep_sentences(sweep, setup) {
        out += &format!("\n{}\n", wrap(&sentence, 80));
    }
    if let Some(why) = stopped {
        out += &format!("\n{}\n", wrap(why, 80));
    }
    out
}

/// Peak RSS per task, KiB.
pub fn kib_per_task(m: &Measurement) -> f64 {
    m.peak_rss_kib as f64 / m.tasks.max(1) as f64
}

/// What the largest task count that both modes ran says: how the two
/// modes compare there, and what bounds the coroutines.
pub fn sweep_sentences(sweep: &[Measurement], setup: &Setup) -> Option<String> {
    let at = |mode, tasks| sweep.iter().find(|m| m.mode == mode && m.tasks == tasks);
    let (threads, coroutines) = sweep
        .iter()
        .rev()
        .find_map(|m| Some((at(Mode::Threads, m.tasks)?, at(Mode::Coroutines, m.tasks)?)))?;
    let comparison = format!(
        "At {} tasks threads took {:.1}x the coroutines' wall time ({:.0} ms against {:.0} \
         ms) and {:.1}x their CPU time ({:.0} ms against {:.0} ms), with {} OS threads against \
         {} and {:.1} KiB per task against {:.1}.",
        threads.tasks,
        threads.wall_ns as f64 / coroutines.wall_ns.max(1) as f64,
        threads.wall_ms(),
        coroutines.wall_ms(),
        threads.cpu_ns as f64 / coroutines.cpu_ns.max(1) as f64,
        threads.cpu_ns as f64 / 1e6,
        coroutines.cpu_ns as f64 / 1e6,
        threads.os_threads,
        coroutines.os_threads,
        kib_per_task(threads),
        kib_per_task(coroutines)
    );
    Some(format!(
        "{comparison} {}",
        coroutine_bound(coroutines, threads, setup)
    ))
}

/// How much of their wall time the coroutines' one thread must spend on a
/// CPU for a sweep step to call them bound by that work, not by their waits.
const BUSY_BOUND: f64 = 0.75;

/// What bounds the coroutines of one sweep step, from their CPU and wall
/// times: their one thread's work when it was on a CPU for most of their
/// wall time and they took well over the ideal, else the service's answers.
fn coroutine_bound(coroutines: &Measurement, threads: &Measurement, setup: &Setup) -> String {
    let ideal_ms = setup.io_ideal_ms();
    let busy = coroutines.cpu_ns as f64 / coroutines.wall_ns.max(1) as f64;
    let kernel = coroutines.system_ns as f64 / coroutines.cpu_ns.max(1) as f64;
    let percent = |share: f64| (share * 100.0).round().min(100.0);
    if busy < BUSY_BOUND || coroutines.wall_ms() < 2.0 * ideal_ms {
        return format!(
            "The coroutines' one thread was on a CPU for {:.0} % of their wall time; the rest \
             it waited for the slow service.",
            percent(busy)
        );
    }
    // The kernel's own split of CPU time into user and system is sampled
    // at its clock tick: a share of less than a fifth of a second of CPU
    // time would be a guess.
    let work = if coroutines.cpu_ns >= 200_000_000 {
        format!(
            "{:.0} % of that in the kernel, where the TCP work of {} connections is done",
            percent(kernel),
            coroutines.tasks
        )
    } else {
        format!("running {} connections", coroutines.tasks)
    };
    format!(
        "The coroutines' one thread was on a CPU for {:.0} % of their wall time, {work}: at \
         this count that work bounds them, not the {ideal_ms:.0} ms of waiting. Threads did the \
         same TCP work on {} core{} shared with the slow service, and paid for a thread per \
         task and {} kernel switches besides.",
        percent(busy),
        setup.cores,
        plural(setup.cores),
        threads.context_switches
    )
}

/// Plain sentences computed from the figures; one paragraph per workload.
pub fn sentences(all: &[Measurement], setup: &Setup) -> String {
    let mut out = String::new();
    for workload in Workload::ALL {
        let lines = match workload {
            Workload::Io => io_sentences(all, setup),
            Workload::Cpu => cpu_sentences(all, setup),
        };
        if !lines.is_empty() {
            out += &wrap(&lines.join(" "), 80);
            out += "\n\n";
        }
    }
    out
}

fn io_sentences(all: &[Measurement], setup: &Setup) -> Vec<String> {
    let get = |mode| find(all, Workload::Io, mode);
    let mut lines = Vec::new();
    let Some(any) = all.iter().find(|m| m.workload == Workload::Io) else {
        return lines;
    };
    let waits = any.tasks as u64 * u64::from(setup.requests);
    lines.push(format!(
        "io: {} tasks each wait {} times for a {} ms answer: {waits} waits.",
        any.tasks, setup.requests, setup.latency_ms
    ));
    let serial = get(Mode::Serial);
    let speed = |m: &Measurement| {
        speedup(all, m).map_or(String::new(), |x| format!("{x:.0}x faster than serial, "))
    };
    // What a mode added over serial's peak is its own cost; without serial,
    // fall back to the absolute peak.
    let memory = |m: &Measurement| match serial {
        Some(serial) => {
            let extra = mib(m.peak_rss_kib) - mib(serial.peak_rss_kib);
            if extra < 0.05 {
                "no more memory than serial".to_string()
            } else {
                format!("{extra:.1} MiB more memory than serial")
            }
        }
        None => format!("{:.1} MiB at peak", mib(m.peak_rss_kib)),
    };
    if let Some(serial) = serial {
        lines.push(format!(
            "Serial pays them one after another: {:.2} s, and {} context switches (its thread blocks on every wait).",
            serial.wall_ms() / 1000.0,
            serial.context_switches
        ));
    }
    if let Some(coroutines) = get(Mode::Coroutines) {
        lines.push(format!(
            "Coroutines overlap all {} tasks' waits on {} OS thread{}: {}with {} and {} context switches.",
            coroutines.tasks,
            coroutines.os_threads,
            plural(coroutines.os_threads),
            speed(coroutines),
            memory(coroutines),
            coroutines.context_switches
        ));
    }
    if let Some(threads) = get(Mode::Threads) {
        lines.push(format!(
            "Threads overlap them with one OS thread per task ({} threads): {}with {} and {} switches.",
            threads.os_threads,
            speed(threads),
            memory(threads),
            threads.context_switches
        ));
    }
    if let Some(processes) = get(Mode::Processes) {
        lines.push(format!(
            "Processes overlap them too, but start {} whole programs: {}with {}.",
            processes.processes,
            speed(processes),
            memory(processes)
        ));
    }
    if let Some(both) = get(Mode::ProcessesThreads) {
        lines.push(format!(
            "Processes+threads start {} program{}, one per core, with a thread per task in each: {}with {}.",
            both.processes,
            plural(both.processes),
            speed(both),
            memory(both)
        ));
    }
    if let Some(hybrid) = get(Mode::Hybrid) {
        lines.push(format!(
            "Hybrid spreads the coroutines over {} runtime{}, one per core: {}as the cost was waiting, not computing.",
            setup.cores.min(hybrid.tasks),
            plural(setup.cores.min(hybrid.tasks)),
            speed(hybrid)
        ));
    }
    lines
}

fn cpu_sentences(all: &[Measurement], setup: &Setup) -> Vec<String> {
    let get = |mode| find(all, Workload::Cpu, mode);
    let mut lines = Vec::new();
    let Some(any) = all.iter().find(|m| m.workload == Workload::Cpu) else {
        return lines;
    };
    lines.push(format!(
        "cpu: {} tasks of about {:.0} ms of computing each, on {} core{}.",
        any.tasks,
        setup.cpu_task_ms,
        setup.cores,
        plural(setup.cores)
    ));
    if let Some(x) = get(Mode::Coroutines).and_then(|m| speedup(all, m)) {
        lines.push(format!(
            "Coroutines: {x:.2}x. They take turns on one thread (concurrency): only one computes \
             at any instant, so they cannot beat serial."
        ));
    }
    let parallel = parallel_cpu_speedups(all);
    // On one core `cpus_sentence` says what the parallel modes got.
    if !parallel.is_empty() && setup.cores > 1 {
        lines.push(format!(
            "Computing on every core at once (parallelism): {}; {} core{} cap the gain near {}x.",
            parallel.join(", "),
            setup.cores,
            plural(setup.cores),
            setup.cores
        ));
    }
    lines
}

/// What the number of CPUs changes: said from the figures when the run was
/// pinned to one, as a pointer to `--cpus 1` otherwise.
pub fn cpus_sentence(all: &[Measurement], setup: &Setup) -> String {
    let parallel_cpu = parallel_cpu_speedups(all);
    let text = if setup.cores == 1 {
        let pinned = if setup.pinned { " (--cpus 1)" } else { "" };
        let cpu = if parallel_cpu.is_empty() {
            String::new()
        } else {
            format!(
                " and the cpu workload gains nothing from more threads or processes ({}): \
                 without a second core there is no parallelism to be had",
                parallel_cpu.join(", ")
            )
        };
        format!(
            "One CPU{pinned}: nothing runs in parallel, every mode takes turns on the same core. \
             The io speedups are concurrency alone (waiting needs no CPU){cpu}."
        )
    } else {
        "Pinned to one CPU (--cpus 1), the io speedups stay (they come from overlapping waits, \
         which is concurrency) while threads and processes lose their cpu speedup (which is \
         parallelism, and needs a second core)."
            .to_string()
    };
    wrap(&text, 80) + "\n"
}

/// `threads 1.95x`, ... for every mode that can run the cpu workload on
/// several cores at once and ran it with serial.
fn parallel_cpu_speedups(all: &[Measurement]) -> Vec<String> {
    [
        Mode::Threads,
        Mode::Processes,
        Mode::ProcessesThreads,
        Mode::Hybrid,
    ]
    .into_iter()
    .filter_map(|mode| {
        let m = find(all, Workload::Cpu, mode)?;
        Some(format!("{mode} {:.2}x", speedup(all, m)?))
    })
    .collect()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Greedy word wrap at `width` columns.
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line_len = 0;
    for word in text.split_whitespace() {
        if line_len > 0 && line_len + 1 + word.len() > width {
            out.push('\n');
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out += word;
        line_len += word.len();
    }
    out
}
