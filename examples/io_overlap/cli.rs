//! Command-line options. Every bad value is refused with a one-line message
//! that names the option, what it accepts and what it got; `main` then
//! prints the usage and exits with code 2.

use std::path::PathBuf;
use std::time::Duration;

use crate::modes::Mode;
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

/// The usage text, printed by `--help` and after every argument error.
pub const USAGE: &str = "\
usage: io_overlap [options]

Runs the same tasks serially, as processes, threads, processes+threads (a
process per core, a thread per task), coroutines and hybrid (one corio
runtime per core), and compares wall time, OS threads, memory and switches.

options:
  --workload io|cpu|both  which workload to run (default: both)
  --modes LIST            comma-separated subset of serial,processes,threads,
                          processes+threads,coroutines,hybrid (default: all)
  --cpus N                run everything (this program, its children, the slow
                          service) on the first N CPUs it may use; --cpus 1 shows
                          concurrency without parallelism (default: all CPUs)
  --tasks N               tasks per workload, 1..=100000
                          (default: 100 for io, 8 for cpu)
  --latency-ms MS         io: the service answers after MS ms, 0..=10000 (default: 10)
  --requests R            io: round trips per task, 1..=10000 (default: 3)
  --json                  print one JSON object per (workload, mode), nothing else
  --trace FILE            write every task's timeline as a Chrome trace-event JSON
                          file (open it in https://ui.perfetto.dev or chrome://tracing);
                          the coroutines mode adds every switch, wait and wake-up of
                          its corio runtime (corio::trace)
  -h, --help              print this help";

/// What the user asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Workloads to run, in report order.
    pub workloads: Vec<Workload>,
    /// Modes to run, in report order (always serial first if present).
    pub modes: Vec<Mode>,
    /// `--tasks`, or `None` for the per-workload defaults.
    pub tasks: Option<usize>,
    /// How long the service waits before each answer.
    pub latency: Duration,
    /// Round trips per io task.
    pub requests: u32,
    /// Machine-readable output only.
    pub json: bool,
    /// Where to write the Chrome trace, if anywhere.
    pub trace: Option<PathBuf>,
    /// `--cpus`: pin the run to this many CPUs.
    pub cpus: Option<usize>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            workloads: Workload::ALL.to_vec(),
            modes: Mode::ALL.to_vec(),
            tasks: None,
            latency: Duration::from_millis(DEFAULT_LATENCY_MS),
            requests: DEFAULT_REQUESTS,
            json: false,
            trace: None,
            cpus: None,
        }
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
}

/// The outcome of parsing the command line.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Run with these options.
    Run(Options),
    /// Print the usage and exit successfully.
    Help,
}

/// Parses the arguments after the program name. Accepts `--option value`
/// and `--option=value`.
///
/// # Errors
///
/// A one-line message saying which argument is wrong and what is accepted.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut options = Options::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let (flag, inline_value) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let takes_value = !matches!(flag, "--json" | "-h" | "--help");
        if !takes_value && inline_value.is_some() {
            return Err(format!("{flag} takes no value, got {arg:?}"));
        }
        let mut value = || {
            inline_value
                .clone()
                .or_else(|| args.next().cloned())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag {
            "-h" | "--help" => return Ok(Command::Help),
            "--json" => options.json = true,
            "--tasks" => options.tasks = Some(number(flag, &value()?, 1, 100_000)? as usize),
            "--latency-ms" => {
                options.latency = Duration::from_millis(number(flag, &value()?, 0, 10_000)?)
            }
            "--requests" => options.requests = number(flag, &value()?, 1, 10_000)? as u32,
            "--cpus" => options.cpus = Some(number(flag, &value()?, 1, 1024)? as usize),
            "--workload" => options.workloads = workloads(&value()?)?,
            "--modes" => options.modes = modes(&value()?)?,
            "--trace" => {
                let path = value()?;
                if path.is_empty() {
                    return Err("--trace needs a file name".to_string());
                }
                options.trace = Some(PathBuf::from(path));
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    Ok(Command::Run(options))
}

fn number(flag: &str, text: &str, min: u64, max: u64) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(format!(
            "{flag} expects a whole number from {min} to {max}, got {text:?}"
        )),
    }
}

fn workloads(text: &str) -> Result<Vec<Workload>, String> {
    match text {
        "both" => Ok(Workload::ALL.to_vec()),
        _ => Workload::from_name(text)
            .map(|workload| vec![workload])
            .ok_or_else(|| format!("--workload expects io, cpu or both, got {text:?}")),
    }
}

fn modes(text: &str) -> Result<Vec<Mode>, String> {
    let mut modes = Vec::new();
    for name in text.split(',') {
        let mode = Mode::from_name(name).ok_or_else(|| {
            format!("--modes: unknown mode {name:?}; choose from serial,processes,threads,processes+threads,coroutines,hybrid")
        })?;
        if modes.contains(&mode) {
            return Err(format!("--modes: {name} is listed twice"));
        }
        modes.push(mode);
    }
    modes.sort();
    Ok(modes)
}
