//! # io_overlap: one workload, every way of running it, side by side
//!
//! ```text
//! cargo run --example io_overlap                      # both workloads, all modes, then the sweep
//! cargo run --release --example io_overlap
//! cargo run --example io_overlap -- --html report.html # the same as one self-contained page
//! cargo run --example io_overlap -- --workload io --tasks 1000 --modes threads,coroutines
//! cargo run --example io_overlap -- --json            # one JSON object per line
//! cargo run --example io_overlap -- --cpus 1          # one CPU: concurrency without parallelism
//! cargo run --example io_overlap -- --trace io.json   # open in https://ui.perfetto.dev
//! cargo run --example io_overlap -- --help
//! ```
//!
//! The same tasks run six ways, each in a fresh process (the primer's three
//! multitasking models are `processes`, `threads` and `processes+threads`):
//!
//! | mode | how |
//! |---|---|
//! | `serial` | one after another on the main thread |
//! | `processes` | one child process per task (this program, re-run with a hidden argument) |
//! | `threads` | one OS thread per task (`std::thread` + `std::net`) |
//! | `processes+threads` | one child process per CPU core, one OS thread per task inside each |
//! | `coroutines` | one corio coroutine per task, all on one OS thread |
//! | `hybrid` | one corio runtime per CPU core (`corio::runtime::ThreadPerCore`), tasks split across them |
//!
//! Two workloads:
//!
//! * **io**: every task makes a few round trips over loopback TCP to a slow
//!   service (a corio server on its own thread in this process, not counted)
//!   that answers after a fixed latency. The worker, `workload::io_task`, is
//!   written once, generic over `Read + Write`: it gets a
//!   `std::net::TcpStream` in serial/processes/threads and a
//!   `corio::net::TcpStream` in coroutines/hybrid.
//! * **cpu**: every task hashes for a fixed number of rounds, calibrated at
//!   start-up to take about 40 ms in the build being run.
//!
//! What it shows: waiting overlaps in every concurrent mode, and coroutines
//! do it on one OS thread with a fraction of the memory and context
//! switches of a thread per task; computing only gets faster with more
//! cores (threads, processes, processes+threads, hybrid), never with coroutines alone, which
//! give concurrency, not parallelism.
//!
//! For every (workload, mode) it prints wall time, speedup over serial, peak
//! OS threads, child processes, peak RSS, kernel context switches and
//! corio's own coroutine switches; then
//! sentences computed from those figures, and a text timeline of the first
//! tasks of each mode. With no arguments it then sweeps the io task count
//! (10, 100, 1,000, 10,000) for threads and coroutines, so the point where
//! threads fall behind shows without flags (`--sweep`, `--no-sweep`). How
//! each figure is measured: `measure.rs` and `runner.rs`, and
//! docs/io-overlap.md.
//!
//! Module map: `cli` (options), `workload` (the tasks), `service` (the slow
//! service), `modes` (the six ways to run them), `processes` (the child
//! processes), `runner` (one mode per child process, measured),
//! `measure` (OS counters), `limits` (does a run fit this machine),
//! `sweep` (the task-count sweep), `progress` (stderr), `report` (table,
//! sentences and `--json` rows), `timeline` (text, and the `--trace` file),
//! `html` (the `--html` page).

#[path = "../common/affinity.rs"]
mod affinity;
mod cli;
mod html;
mod limits;
mod measure;
mod modes;
#[path = "../common/pipe.rs"]
mod pipe;
mod processes;
mod progress;
mod report;
mod runner;
mod service;
mod sweep;
mod timeline;
#[path = "../common/usage.rs"]
mod usage;
mod workload;

use std::fs;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use cli::{Command, Options, Role};
use modes::{Mode, Plan};
use runner::Measurement;
use workload::Workload;

/// What one cpu task should take, in the build being run.
const CPU_TASK_TARGET: Duration = Duration::from_millis(40);

/// Tasks per mode shown in the text timeline.
const TIMELINE_ROWS: usize = 4;

fn main() -> ExitCode {
    pipe::exit_quietly_on_broken_pipe();
    match cli::parse_command_line() {
        Ok(Command::Help) => {
            println!("{}", cli::usage());
            ExitCode::SUCCESS
        }
        Ok(Command::Run(options)) => {
            // A page that cannot be written is a bad argument: said now,
            // before any work, as the parser's errors are.
            if let Some(path) = &options.html {
                if let Err(message) = check_writable(path, "HTML page") {
                    eprintln!("io_overlap: --html: {message}\n\n{}", cli::usage());
                    return ExitCode::from(2);
                }
            }
            exit_on_error(run(&options))
        }
        // Hidden roles: this same executable is the runner of each mode and
        // the process of each task in processes mode.
        Ok(Command::Role(Role::RunTask { args })) => {
            exit_on_error(processes::task_child_main(&args))
        }
        Ok(Command::Role(Role::RunMode { args })) => {
            measure::raise_open_file_limit();
            exit_on_error(current_exe().and_then(|exe| runner::mode_child_main(&args, &exe)))
        }
        Err(message) => {
            eprintln!("io_overlap: {message}\n\n{}", cli::usage());
            ExitCode::from(2)
        }
    }
}

fn exit_on_error(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("io_overlap: {message}");
            ExitCode::FAILURE
        }
    }
}

fn current_exe() -> Result<std::path::PathBuf, String> {
    std::env::current_exe()
        .map_err(|error| format!("cannot find this program's own executable to re-run it: {error}"))
}

fn run(options: &Options) -> Result<(), String> {
    let run_started = Instant::now();
    measure::raise_open_file_limit();
    // Before any thread or child exists, so that all of them inherit it.
    if let Some(cpus) = options.cpus {
        affinity::pin_to_first_cpus(cpus).map_err(|error| error.to_string())?;
    }
    if let Some(path) = &options.trace {
        check_writable(path, "trace file")?;
    }
    let mut fragments = Vec::new();
    let exe = current_exe()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let sweep_counts = options.sweep_counts();
    let service = if options.workloads.contains(&Workload::Io) || !sweep_counts.is_empty() {
        service::start(options.latency(), options.most_connections())
            .map_err(|error| format!("could not start the slow service: {error}"))?
            .addresses
    } else {
        vec![SocketAddr::from((Ipv4Addr::LOCALHOST, 0))]
    };
    let (cpu_rounds, cpu_task_ms) = if options.workloads.contains(&Workload::Cpu) {
        calibrate_cpu()
    } else {
        (0, 0.0)
    };
    let setup = report::Setup {
        cores,
        pinned: options.cpus.is_some(),
        requests: options.requests,
        latency_ms: options.latency_ms,
        cpu_task_ms,
    };
    if !options.json {
        print!("{}", header(options, &setup, cpu_rounds));
    }

    let mut all = Vec::new();
    for &workload in &options.workloads {
        let plan = Plan {
            workload,
            tasks: options.tasks_for(workload),
            requests: options.requests,
            service: service.clone(),
            cpu_rounds,
            cores,
        };
        for &mode in &options.modes {
            // The coroutines mode's runtime records every switch when a
            // trace is asked for: its own trace process, next to its tasks.
            let part = match (&options.trace, mode) {
                (Some(path), Mode::Coroutines) => Some((
                    trace_part_path(path, fragments.len()),
                    u32::try_from(1000 + all.len()).expect("few modes"),
                )),
                _ => None,
            };
            limits::check(mode, &plan)
                .map_err(|why| format!("{workload}/{mode} with {} tasks {why}", plan.tasks))?;
            let measured = runner::measure_in_child(
                mode,
                &plan,
                &exe,
                true,
                part.as_ref().map(|(path, pid)| (path.as_path(), *pid)),
            )?;
            if let Some((path, _)) = part {
                let read = fs::read_to_string(&path);
                let _ = fs::remove_file(&path);
                fragments.push(read.map_err(|error| {
                    format!(
                        "could not read the runtime's trace back from {}: {error}",
                        path.display()
                    )
                })?);
            }
            check_results(&all, &measured, &plan)?;
            all.push(measured);
        }
    }

    let sweep = if sweep_counts.is_empty() {
        sweep::Sweep::default()
    } else {
        let base = Plan {
            workload: Workload::Io,
            tasks: 0,
            requests: options.requests,
            service,
            cpu_rounds,
            cores,
        };
        sweep::run(
            &base,
            &sweep_counts,
            options.sweep_rounds,
            &exe,
            true,
            |measured, plan| check_results(&[], measured, plan),
        )
    };

    if let Some(path) = &options.trace {
        write_trace(path, &all, &fragments)?;
    }
    if let Some(path) = &options.html {
        let page = html::page(&all, &sweep, &setup);
        fs::write(path, page)
            .map_err(|error| format!("could not write the page to {}: {error}", path.display()))?;
    }
    if options.json {
        for m in &all {
            println!("{}", report::json_row(&all, m, &setup));
        }
        for m in &sweep.runs {
            println!("{}", report::json_row(&sweep.runs, m, &setup));
        }
        if let Some(why) = &sweep.stopped {
            eprintln!("io_overlap: {why}");
        }
    } else {
        print!("{}", full_report(&all, &setup));
        if !sweep_counts.is_empty() {
            println!();
            print!(
                "{}",
                report::sweep_table(&sweep.runs, &setup, sweep.stopped.as_deref())
            );
        }
        if let Some(path) = &options.html {
            println!("\nThe report as a page: {}", path.display());
        }
        println!(
            "\nThe whole run took {:.1} s.",
            run_started.elapsed().as_secs_f64()
        );
        match &options.trace {
            Some(path) if wants_html(path) => println!(
                "The coroutines run's runtime trace written to {} (opens in any browser, offline).",
                path.display()
            ),
            Some(path) => println!(
                "Trace of every task written to {} (open it in https://ui.perfetto.dev).",
                path.display()
            ),
            None => {}
        }
    }
    Ok(())
}

/// One cpu task's rounds for [`CPU_TASK_TARGET`], and what a task took.
fn calibrate_cpu() -> (u64, f64) {
    let rounds = workload::calibrate_cpu_rounds(CPU_TASK_TARGET);
    let started = Instant::now();
    std::hint::black_box(workload::cpu_task(0, rounds, || {}));
    (rounds, started.elapsed().as_secs_f64() * 1e3)
}

fn header(options: &Options, setup: &report::Setup, cpu_rounds: u64) -> String {
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let pinned = if setup.pinned {
        " (pinned by --cpus)"
    } else {
        ""
    };
    let mut out = format!(
        "io_overlap: the same tasks run serially, as processes, as threads, as processes\n\
         with threads, as corio coroutines, and hybrid (one corio runtime per core).\n\
         This run: {} CPU core{}{pinned}, {build} build.\n",
        setup.cores,
        if setup.cores == 1 { "" } else { "s" }
    );
    if options.workloads.contains(&Workload::Io) {
        let tasks = options.tasks_for(Workload::Io);
        out += &format!(
            "  io:  {tasks} tasks, each {} round trip{} over loopback TCP to a service that\n       \
             answers after {} ms (serial needs at least {:.1} s)\n",
            options.requests,
            if options.requests == 1 { "" } else { "s" },
            setup.latency_ms,
            (tasks as u64 * u64::from(options.requests) * setup.latency_ms) as f64 / 1000.0
        );
    }
    if options.workloads.contains(&Workload::Cpu) {
        out += &format!(
            "  cpu: {} tasks, each {cpu_rounds} rounds of hashing (~{:.0} ms here, calibrated just now)\n",
            options.tasks_for(Workload::Cpu),
            setup.cpu_task_ms
        );
    }
    out + "\n"
}

/// Every mode must compute the same task results: io against the known
/// answers, cpu against the first mode that ran.
fn check_results(
    earlier: &[Measurement],
    measured: &Measurement,
    plan: &Plan,
) -> Result<(), String> {
    let reference = earlier.iter().find(|m| m.workload == measured.workload);
    for record in &measured.records {
        let expected = match measured.workload {
            Workload::Io => workload::expected_io_result(record.task, plan.requests),
            Workload::Cpu => match reference {
                Some(reference) => reference.records[record.task].result,
                None => continue,
            },
        };
        if record.result != expected {
            return Err(format!(
                "{}/{} returned {:#x} for task {} where {:#x} was expected: the modes disagree, which is a bug",
                measured.workload, measured.mode, record.result, record.task, expected
            ));
        }
    }
    Ok(())
}

fn full_report(all: &[Measurement], setup: &report::Setup) -> String {
    let mut out = report::table(all);
    out += "\n";
    out += &report::sentences(all, setup);
    out += &report::cpus_sentence(all, setup);
    out += "\n";
    for workload in Workload::ALL {
        let of_workload: Vec<&Measurement> =
            all.iter().filter(|m| m.workload == workload).collect();
        if !of_workload.is_empty() {
            out += &timeline::render(&of_workload, TIMELINE_ROWS);
            out += "\n";
        }
    }
    out +=
        "# = the task has started and not finished: running, or waiting (for a reply or a CPU).\n";
    out
}

/// Where the coroutines run number `index` writes its runtime's trace
/// events: beside the trace file, removed once read.
fn trace_part_path(trace: &Path, index: usize) -> std::path::PathBuf {
    let mut name = trace.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".part{index}-{}", std::process::id()));
    trace.with_file_name(name)
}

/// Fails now, before minutes of measuring, if an output file cannot be
/// written (a missing directory, no permission, a directory's name).
fn check_writable(path: &Path, what: &str) -> Result<(), String> {
    let existed = path.exists();
    fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|error| {
            format!(
                "cannot write the {what} {}: {error}; give a path in a directory you can write to",
                path.display()
            )
        })?;
    if !existed {
        let _ = fs::remove_file(path);
    }
    Ok(())
}

/// Whether `--trace FILE` asks for the offline viewer (FILE ends in `.html`).
pub fn wants_html(path: &Path) -> bool {
    path.extension()
        .is_some_and(|ext| ext.eq_ignore_ascii_case("html"))
}

fn write_trace(path: &Path, all: &[Measurement], fragments: &[String]) -> Result<(), String> {
    let failed = |path: &Path, error: io::Error| {
        format!("could not write the trace to {}: {error}", path.display())
    };
    if !wants_html(path) {
        return fs::write(path, timeline::chrome_trace(all, fragments))
            .map_err(|e| failed(path, e));
    }
    // One viewer page per coroutines run (its runtime's every switch): the
    // first at PATH, the others beside it as PATH-2.html, PATH-3.html.
    if fragments.is_empty() {
        return Err(format!(
            "--trace {} asks for the runtime viewer, but no coroutines mode ran; add \
             coroutines to --modes, or give a .json file for every mode's timeline",
            path.display()
        ));
    }
    for (index, page) in fragments.iter().enumerate() {
        let target = match index {
            0 => path.to_path_buf(),
            n => {
                let stem = path.file_stem().unwrap_or_default().to_string_lossy();
                path.with_file_name(format!("{stem}-{}.html", n + 1))
            }
        };
        fs::write(&target, page).map_err(|e| failed(&target, e))?;
        if index > 0 {
            eprintln!("trace viewer written to {}", target.display());
        }
    }
    Ok(())
}
