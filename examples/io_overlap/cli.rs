//! Command-line options, parsed by clap. Every bad value is refused with a
//! one-line message that names the option, what it accepts and what it
//! got; `main` then prints the usage and exits with code 2.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser, Subcommand};

#[path = "../common/values.rs"]
mod values;

use crate::modes::Mode;
use crate::processes;
use crate::runner;
use crate::workload::Workload;

/// io tasks when `--tasks` is not given: enough waits for overlap to show
/// (about 100x in theory), few enough for serial to take about 3 s.
pub const DEFAULT_IO_TASKS: usize = 100;
/// cpu tasks when `--tasks` is not given: four per core on a 2-core machine.
pub const DEFAULT_CPU_TASKS: usize = 8;
/// The service's answer delay when `--latency-ms` is not given.
pub const DEFAULT_LATENCY_MS: u64 = 10;
/// Round trips per io task when `--requests` is not given.
pub const DEFAULT_REQUESTS: u32 = 3;
/// The io task counts the default run sweeps for threads and coroutines:
/// from where they tie to where threads fall behind, within the 20 s the
/// whole default run may take on 2 cores.
pub const DEFAULT_SWEEP: [usize; 4] = [10, 100, 1_000, 10_000];
/// How many times the sweep runs each step when `--sweep-rounds` is not
/// given: a run now and then on a shared machine takes a third longer
/// than the others, and the median of three is not moved by one such run.
pub const DEFAULT_SWEEP_ROUNDS: usize = 3;
/// The most tasks of a run, `--tasks` or a sweep step.
pub const MAX_TASKS: usize = 100_000;

/// What the user asked for.
#[derive(Clone, Debug, PartialEq, Parser)]
#[command(
    name = "io_overlap",
    about = "Runs the same tasks serially, as processes, threads, processes+threads (a\n\
             process per core, a thread per task), coroutines and hybrid (one corio\n\
             runtime per core), and compares wall time, OS threads, memory and switches.",
    override_usage = "io_overlap [options]",
    help_template = "usage: {usage}\n\n{about}\n\noptions:\n{options}",
    disable_help_subcommand = true
)]
pub struct Options {
    /// Which workload to run.
    // `::std::vec::Vec` keeps clap from reading one value per occurrence:
    // the parser turns the one value into the list.
    #[arg(
        long = "workload",
        value_name = "io|cpu|both",
        default_value = "both",
        value_parser = workloads
    )]
    pub workloads: ::std::vec::Vec<Workload>,
    /// Comma-separated subset of
    /// serial,processes,threads,processes+threads,coroutines,hybrid;
    /// reported in that order [default: all]
    #[arg(
        long,
        value_name = "LIST",
        default_value = "serial,processes,threads,processes+threads,coroutines,hybrid",
        hide_default_value = true,
        value_parser = modes
    )]
    pub modes: ::std::vec::Vec<Mode>,
    /// Run everything (this program, its children, the slow service) on the
    /// first N CPUs it may use; --cpus 1 shows concurrency without
    /// parallelism [default: all CPUs]
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = values::within::<usize>(1, 1024))]
    pub cpus: Option<usize>,
    /// Tasks per workload, 1..=100000 [default: 100 for io, 8 for cpu]
    #[arg(long, value_name = "N", allow_hyphen_values = true, value_parser = values::within::<usize>(1, 100_000))]
    pub tasks: Option<usize>,
    /// io: the service answers after MS ms, 0..=10000.
    #[arg(
        long,
        value_name = "MS",
        default_value_t = DEFAULT_LATENCY_MS,
        allow_hyphen_values = true,
        value_parser = values::within::<u64>(0, 10_000)
    )]
    pub latency_ms: u64,
    /// io: round trips per task, 1..=10000.
    #[arg(
        long,
        value_name = "R",
        default_value_t = DEFAULT_REQUESTS,
        allow_hyphen_values = true,
        value_parser = values::within::<u32>(1, 10_000)
    )]
    pub requests: u32,
    /// Print one JSON object per (workload, mode), nothing else.
    #[arg(long)]
    pub json: bool,
    /// Write every task's timeline as a Chrome trace-event JSON file (open
    /// it in https://ui.perfetto.dev); the coroutines mode adds every
    /// switch, wait and wake-up of its corio runtime (corio::trace). A FILE
    /// ending in .html gets corio's offline viewer of the coroutines run's
    /// runtime instead (one page per workload: FILE, FILE-2.html).
    #[arg(long, value_name = "FILE", value_parser = trace_file)]
    pub trace: Option<PathBuf>,
    /// After the table, run the io workload with threads and coroutines at
    /// each of these task counts (1..=100000) [default: 10,100,1000,10000
    /// when none of --tasks, --modes, --workload cpu is given]
    #[arg(long, value_name = "COUNTS", value_parser = sweep_counts)]
    pub sweep: Option<::std::vec::Vec<usize>>,
    /// Skip the task-count sweep.
    #[arg(long, conflicts_with = "sweep")]
    pub no_sweep: bool,
    /// Run each sweep step N times, 1..=9, threads and coroutines taking
    /// turns, and report each mode's median run (every run's wall time is
    /// in --json).
    #[arg(
        long,
        value_name = "N",
        default_value_t = DEFAULT_SWEEP_ROUNDS,
        allow_hyphen_values = true,
        value_parser = values::within::<usize>(1, 9)
    )]
    pub sweep_rounds: usize,
    /// Also write the report as one self-contained HTML page (inline SVG
    /// and CSS, nothing from the network): the table, a timeline per mode
    /// and the sweep as a chart.
    #[arg(long, value_name = "FILE", value_parser = html_file)]
    pub html: Option<PathBuf>,
    /// A hidden role of this same executable, for its own child processes.
    #[command(subcommand)]
    pub role: Option<Role>,
}

/// The hidden roles: this executable is also the runner of each mode and
/// the process of each task in the processes modes. Their arguments are
/// the internal `key=value` lists of `runner` and `processes`.
#[derive(Clone, Debug, PartialEq, Subcommand)]
pub enum Role {
    /// Run one mode and report it (see `runner::RUN_MODE_ARG`).
    #[command(long_flag = runner::RUN_MODE_ARG.trim_start_matches("--"), hide = true)]
    RunMode {
        /// The mode, then the plan.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run some tasks as a child process (see `processes::RUN_TASK_ARG`).
    #[command(long_flag = processes::RUN_TASK_ARG.trim_start_matches("--"), hide = true)]
    RunTask {
        /// The task ids, then the plan.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

impl Default for Options {
    fn default() -> Options {
        Options::try_parse_from(["io_overlap"]).expect("the defaults are valid options")
    }
}

impl Options {
    /// How many tasks `workload` runs.
    pub fn tasks_for(&self, workload: Workload) -> usize {
        self.tasks.unwrap_or(match workload {
            Workload::Io => DEFAULT_IO_TASKS,
            Workload::Cpu => DEFAULT_CPU_TASKS,
        })
    }

    /// The io task counts to sweep after the table (see `--sweep`); empty
    /// for no sweep.
    pub fn sweep_counts(&self) -> Vec<usize> {
        if self.no_sweep {
            return Vec::new();
        }
        match &self.sweep {
            Some(counts) => counts.clone(),
            None if self.tasks.is_none()
                && self.modes.len() == Mode::ALL.len()
                && self.workloads.contains(&Workload::Io) =>
            {
                DEFAULT_SWEEP.to_vec()
            }
            None => Vec::new(),
        }
    }

    /// The most io connections any run of these options makes at once:
    /// what the slow service must be sized for.
    pub fn most_connections(&self) -> usize {
        let table = if self.workloads.contains(&Workload::Io) {
            self.tasks_for(Workload::Io)
        } else {
            0
        };
        self.sweep_counts().into_iter().fold(table, usize::max)
    }

    /// How long the service waits before each answer.
    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms)
    }
}

/// The outcome of parsing the command line.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Run with these options.
    Run(Options),
    /// Play a hidden role (see [`Role`]).
    Role(Role),
    /// Print the usage and exit successfully.
    Help,
}

/// The usage text, printed by `--help` and after every argument error.
pub fn usage() -> String {
    Options::command().render_help().to_string()
}

/// Parses this process's command line.
///
/// # Errors
///
/// As [`parse`].
pub fn parse_command_line() -> Result<Command, String> {
    command(Options::try_parse())
}

/// Parses the arguments after the program name. Accepts `--option value`
/// and `--option=value`.
///
/// # Errors
///
/// A one-line message saying which argument is wrong and what is accepted.
#[allow(dead_code)] // For the tests; `main` parses its own command line.
pub fn parse<T: Into<OsString> + Clone>(args: &[T]) -> Result<Command, String> {
    let program = OsString::from("io_overlap");
    command(Options::try_parse_from(
        std::iter::once(program).chain(args.iter().cloned().map(Into::into)),
    ))
}

fn command(parsed: Result<Options, clap::Error>) -> Result<Command, String> {
    match parsed {
        Ok(Options {
            role: Some(role), ..
        }) => Ok(Command::Role(role)),
        Ok(options) => Ok(Command::Run(options)),
        Err(error) if error.kind() == ErrorKind::DisplayHelp => Ok(Command::Help),
        // clap's first line is the message; its own usage hint follows,
        // which `main` replaces with the whole usage.
        Err(error) => {
            let rendered = error.to_string();
            let first = rendered.lines().next().unwrap_or_default();
            Err(first.strip_prefix("error: ").unwrap_or(first).to_string())
        }
    }
}

fn workloads(text: &str) -> Result<Vec<Workload>, String> {
    match text {
        "both" => Ok(Workload::ALL.to_vec()),
        _ => Workload::from_name(text)
            .map(|workload| vec![workload])
            .ok_or_else(|| "expects io, cpu or both".to_string()),
    }
}

fn modes(text: &str) -> Result<Vec<Mode>, String> {
    let mut modes = Vec::new();
    for name in text.split(',') {
        let mode = Mode::from_name(name).ok_or_else(|| {
            format!("unknown mode {name:?}; choose from serial,processes,threads,processes+threads,coroutines,hybrid")
        })?;
        if modes.contains(&mode) {
            return Err(format!("{name} is listed twice"));
        }
        modes.push(mode);
    }
    modes.sort();
    Ok(modes)
}

fn sweep_counts(text: &str) -> Result<Vec<usize>, String> {
    let within = values::within::<usize>(1, MAX_TASKS as u64);
    let mut counts = text
        .split(',')
        .map(|item| within(item).map_err(|error| format!("{item:?} {error}")))
        .collect::<Result<Vec<usize>, String>>()?;
    counts.sort_unstable();
    counts.dedup();
    Ok(counts)
}

fn html_file(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() {
        return Err("needs a file name".to_string());
    }
    Ok(PathBuf::from(text))
}

fn trace_file(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() {
        return Err("needs a file name".to_string());
    }
    Ok(PathBuf::from(text))
}
