//! What does a switch cost? corio against its floor and its peers, in one run.
//!
//! ```text
//! cargo run --release --example switch_costs            # the table
//! cargo run --release --example switch_costs -- --json  # one JSON object per row
//! cargo run --release --example switch_costs -- --quick # short loops (tests)
//! cargo run --release --example switch_costs -- --only thread   # rows whose name contains "thread"
//! cargo run --release --example switch_costs -- --only raw_switch,corio_yield,spawn_join  # any of these
//! cargo run --release --example switch_costs -- --cpus 1 --only pingpong  # everything on one CPU
//! cargo run --release --example switch_costs -- --help  # every row, one line each
//! ```
//!
//! Families of rows, each compared with its corio row (`rows.rs` lists them):
//!
//! - handoffs: A hands control to B and B hands it back (one round trip), from
//!   a bare corosensei coroutine (the floor) through corio, OS threads and
//!   processes (over the same pipe and the same futex, so that thread and
//!   process differ only in being a thread or a process), tokio and may;
//! - creation: spawn a unit that does nothing and wait for it;
//! - memory: RSS growth per unit parked on a channel (10,000 coroutines, 1,000
//!   threads), and beside it the page tables RSS leaves out;
//! - kernel context switches per 1,000 handoffs (`getrusage`).
//!
//! Every time is the median of several rounds of a calibrated loop; the table
//! shows the spread of the rounds next to it. `docs/switch-costs.md` explains
//! why the numbers differ. The process rows and the memory rows re-run this
//! executable with a hidden first argument (`--switch-costs-child`), so each
//! child is a plain `execve` and each memory figure comes from a fresh process.

#[path = "../../../examples/common/affinity.rs"]
mod affinity;
mod create;
mod handoff;
mod measure;
mod os;
mod parked;
#[path = "../../../examples/common/pipe.rs"]
mod pipe;
mod report;
mod rows;
mod same_mechanism;
#[path = "../../../examples/common/stats.rs"]
mod stats;
#[path = "../../../examples/common/values.rs"]
mod values;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser};
use measure::Plan;
use report::Row;

/// The options; `--help` adds the list of rows.
#[derive(Parser)]
#[command(
    name = "switch_costs",
    about = "What a switch costs: coroutine, thread and process hand-offs, creation, \
             parked memory and kernel context switches, side by side"
)]
struct Args {
    /// One JSON object per row ({"name", "value", "unit"}), nothing else.
    #[arg(long)]
    json: bool,
    /// Short loops (for tests; numbers are rough).
    #[arg(long)]
    quick: bool,
    /// Run everything, children too, on the first N CPUs this process may
    /// use [default: all CPUs]
    #[arg(
        long,
        value_name = "N",
        value_parser = values::within::<usize>(1, 1024)
    )]
    cpus: Option<usize>,
    /// Only rows whose name contains any of these comma-separated pieces,
    /// e.g. --only thread or --only raw_switch,corio_yield [default: every row]
    #[arg(
        long,
        value_name = "PIECE,...",
        value_delimiter = ',',
        value_parser = clap::builder::NonEmptyStringValueParser::new()
    )]
    only: Vec<String>,
}

/// The hidden child modes (see `os::child_command`).
fn run_child(args: &[String]) -> ExitCode {
    let outcome = match os::run_common_child(args) {
        Ok(true) => Ok(()),
        Ok(false) => rows::run_parked_child(args)
            .unwrap_or_else(|| Err(format!("unknown child mode {args:?}"))),
        Err(error) => Err(error.to_string()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            eprintln!("switch_costs child {args:?}: {problem}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    pipe::exit_quietly_on_broken_pipe();
    if let Some(args) = os::child_args() {
        return run_child(&args);
    }
    // may reads its configuration when it first starts; do it before anything can.
    handoff::configure_may();

    let rows_help = rows::ROWS
        .iter()
        .map(|(name, _, what)| format!("  {name:25} {what}"))
        .collect::<Vec<_>>()
        .join("\n");
    let matches = Args::command()
        .after_help(format!("rows:\n{rows_help}"))
        .get_matches();
    let args = Args::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    let plan = if args.quick {
        Plan::quick()
    } else {
        Plan::full()
    };

    let pinned = match args.cpus.map(affinity::pin_to_first_cpus).transpose() {
        Ok(pinned) => pinned,
        Err(e) => {
            eprintln!("switch_costs: {e}");
            return ExitCode::from(2);
        }
    };
    let selected: Vec<_> = rows::ROWS
        .iter()
        .filter(|(name, _, _)| {
            args.only.is_empty() || args.only.iter().any(|piece| name.contains(piece.as_str()))
        })
        .collect();
    let rows: Vec<Row> = rows::measure(&selected, &plan);
    if args.json {
        report::print_json(&rows);
    } else {
        report::print_table(&header(&plan, pinned.as_deref()), &rows);
    }
    ExitCode::SUCCESS
}

/// What the table says before the numbers: the machine, the settings, and the
/// definitions a reader needs to read the rows honestly.
fn header(plan: &Plan, pinned: Option<&[usize]>) -> Vec<String> {
    let profile = if cfg!(debug_assertions) {
        "debug (numbers are not representative; use --release)"
    } else {
        "release"
    };
    let thread_stack = match std::env::var("RUST_MIN_STACK") {
        Ok(bytes) => format!("{bytes} bytes (RUST_MIN_STACK)"),
        Err(_) => "2 MiB (std default)".to_string(),
    };
    let cpus = match pinned {
        Some(list) => format!(
            "pinned to CPU {} (--cpus {}; children and threads inherit it)",
            list.iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(","),
            list.len()
        ),
        None => format!("{} CPUs, not pinned", available_cpus()),
    };
    vec![
        format!("corio switch costs: {profile} build, {}, {cpus}", cpu_model()),
        format!(
            "stacks: corio default {} KiB per coroutine; std::thread {thread_stack}",
            corio::runtime::DEFAULT_STACK_SIZE / 1024
        ),
        format!(
            "ns rows: median of {} rounds, each a loop calibrated to ~{} ms; spread = fastest..slowest round",
            plan.rounds,
            plan.round_time.as_millis()
        ),
        "round trip A→B→A: raw_switch = 1 resume + 1 suspend of one bare corosensei coroutine (2 stack switches);".into(),
        "  raw_switch_pair = two bare coroutines under a driver loop, driver→A→driver→B→driver (4 stack switches);".into(),
        "  corio_yield = two coroutines calling yield_now: A→scheduler→B→scheduler→A, which corio runs as 2 stack".into(),
        "  switches plus the scheduler's bookkeeping (yield_now resumes the tasks queued ahead from A's own stack)".into(),
        "  *_called = the same, each switch made inside a function call that is not inlined (as in most real code):".into(),
        "  the CPU then mispredicts the returns on both sides of every switch".into(),
        format!(
            "memory: RSS growth / unit, {} coroutines vs {} threads parked on a channel, each in a fresh child; RSS misses each",
            plan.parked_coroutines, plan.parked_threads
        ),
        "        thread's kernel stack (16 KiB on x86_64) and task_struct, and page tables (the *_pte_bytes rows)".into(),
        format!(
            "ctx: getrusage(RUSAGE_THREAD) voluntary + involuntary of every thread involved, {} round trips a round",
            plan.counted_round_trips
        ),
    ]
}

/// `model name` from /proc/cpuinfo, or "unknown CPU".
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string())
}

/// CPUs this process may run on.
fn available_cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |cpus| cpus.get())
}
