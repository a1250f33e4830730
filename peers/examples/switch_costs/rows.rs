//! The rows of the table: each key, how it is measured, its kind and unit.

use std::process::Stdio;
use std::time::Duration;

use crate::handoff::{self, Measured};
use crate::measure::{self, Plan, Stats};
use crate::report::{Kind, Row, Unit};
use crate::{create, os, parked, same_mechanism};

/// How a row is measured, which also fixes its kind and unit.
pub enum Workload {
    /// ns per round trip: the median of calibrated rounds.
    Handoff(fn(u64) -> Measured),
    /// ns per spawn + join: the median of calibrated rounds.
    Creation(fn(u64) -> Duration),
    /// Bytes of RSS or page-table growth per parked unit, each round in a
    /// fresh child process.
    Parked(ParkedUnit, Growth),
    /// Kernel context switches per 1,000 round trips of a handoff workload.
    Switches(fn(u64) -> Measured),
}

/// Every row: its stable key, how it is measured, and one line of what it
/// measures (`--help` prints them), in the order rows are measured and printed.
#[rustfmt::skip] // One row per line reads as the table it is.
pub const ROWS: &[(&str, Workload, &str)] = &[
    ("raw_switch",              Workload::Handoff(handoff::raw_switch),
        "one bare corosensei coroutine resumed and suspended: 2 stack switches, the floor"),
    ("raw_switch_pair",         Workload::Handoff(handoff::raw_switch_pair),
        "two bare coroutines under a driver loop: 4 stack switches, a loop scheduler's floor"),
    ("corio_yield",             Workload::Handoff(handoff::corio_yield),
        "two corio coroutines alternating with yield_now"),
    ("raw_switch_called",       Workload::Handoff(handoff::raw_switch_called),
        "raw_switch with the suspend one non-inlined call down"),
    ("corio_yield_called",      Workload::Handoff(handoff::corio_yield_called),
        "corio_yield with yield_now one non-inlined call down"),
    ("corio_yield_random",      Workload::Handoff(handoff::corio_yield_random),
        "corio_yield under Schedule::Random: each yield through the loop's random pick"),
    ("corio_channel_pingpong",  Workload::Handoff(handoff::corio_channel_pingpong),
        "two coroutines bouncing a value over two corio channels"),
    ("thread_condvar_pingpong", Workload::Handoff(handoff::thread_condvar_pingpong),
        "two OS threads taking turns on a std Mutex + Condvar"),
    ("thread_channel_pingpong", Workload::Handoff(handoff::thread_channel_pingpong),
        "two OS threads bouncing a value over two std mpsc channels"),
    ("thread_pipe_pingpong",    Workload::Handoff(same_mechanism::thread_pipe_pingpong),
        "two OS threads bouncing a byte over two pipes (same mechanism as process_pipe)"),
    ("process_pipe_pingpong",   Workload::Handoff(handoff::process_pipe_pingpong),
        "this process and an exec'd child bouncing a byte over two pipes"),
    ("thread_futex_pingpong",   Workload::Handoff(same_mechanism::thread_futex_pingpong),
        "two OS threads taking turns on a shared futex word (same mechanism as process_futex)"),
    ("process_futex_pingpong",  Workload::Handoff(same_mechanism::process_futex_pingpong),
        "this process and a forked child taking turns on a futex word in a MAP_SHARED page"),
    ("tokio_yield",             Workload::Handoff(handoff::tokio_yield),
        "two tokio tasks alternating with yield_now on a current-thread runtime"),
    ("may_yield",               Workload::Handoff(handoff::may_yield),
        "two may coroutines alternating with yield_now on one worker"),
    ("corio_spawn_join",        Workload::Creation(create::corio_spawn_join),
        "spawn an empty corio coroutine and join it"),
    ("thread_spawn_join",       Workload::Creation(create::thread_spawn_join),
        "spawn an empty std thread and join it"),
    ("process_spawn_wait",      Workload::Creation(create::process_spawn_wait),
        "start this executable as a child that exits at once, and wait for it"),
    ("tokio_spawn_join",        Workload::Creation(create::tokio_spawn_join),
        "spawn an empty tokio task and await it (current-thread runtime)"),
    ("may_spawn_join",          Workload::Creation(create::may_spawn_join),
        "spawn an empty may coroutine and join it (one worker)"),
    ("corio_parked_bytes",      Workload::Parked(ParkedUnit::Coroutine, Growth::Resident),
        "RSS growth per coroutine parked on a channel, in a fresh child"),
    ("thread_parked_bytes",     Workload::Parked(ParkedUnit::Thread, Growth::Resident),
        "RSS growth per std thread parked on a channel, in a fresh child"),
    ("corio_parked_pte_bytes",  Workload::Parked(ParkedUnit::Coroutine, Growth::PageTables),
        "page-table growth (VmPTE, outside RSS) per parked coroutine"),
    ("thread_parked_pte_bytes", Workload::Parked(ParkedUnit::Thread, Growth::PageTables),
        "page-table growth (VmPTE, outside RSS) per parked thread"),
    // The thread row counts the condvar ping-pong, the handoff with the least
    // machinery between the two threads.
    ("corio_ctx_per_1k",        Workload::Switches(handoff::corio_yield),
        "kernel context switches per 1,000 corio_yield round trips"),
    ("thread_ctx_per_1k",       Workload::Switches(handoff::thread_condvar_pingpong),
        "kernel context switches per 1,000 thread_condvar_pingpong round trips"),
];

/// What the memory rows park; the name is also the child-mode argument.
#[derive(Debug, Clone, Copy)]
pub enum ParkedUnit {
    /// corio coroutines, default stack size.
    Coroutine,
    /// std threads, default stack size.
    Thread,
}

impl ParkedUnit {
    fn arg(self) -> &'static str {
        match self {
            ParkedUnit::Coroutine => "coroutine",
            ParkedUnit::Thread => "thread",
        }
    }

    fn from_arg(arg: &str) -> Option<Self> {
        [ParkedUnit::Coroutine, ParkedUnit::Thread]
            .into_iter()
            .find(|unit| unit.arg() == arg)
    }
}

/// Which growth a memory row reports.
#[derive(Debug, Clone, Copy)]
pub enum Growth {
    /// `VmRSS`: the required rows.
    Resident,
    /// `VmPTE`: informational, kernel memory that RSS leaves out.
    PageTables,
}

impl Workload {
    /// Runs `n` operations of a time row (handoff or creation) and returns
    /// their time; `None` for the other rows.
    fn time(&self, n: u64) -> Option<Duration> {
        match *self {
            Workload::Handoff(run) => Some(run(n).elapsed),
            Workload::Creation(run) => Some(run(n)),
            Workload::Parked(..) | Workload::Switches(_) => None,
        }
    }
}

/// Measures `rows`, and returns them in the same order.
///
/// The time rows (handoffs and creation) are measured together, their rounds
/// interleaved (see [`measure::ns_per_op`]); the others one after another.
pub fn measure(rows: &[&(&'static str, Workload, &'static str)], plan: &Plan) -> Vec<Row> {
    let timed: Vec<&Workload> = rows
        .iter()
        .map(|(_, workload, _)| workload)
        .filter(|workload| matches!(workload, Workload::Handoff(_) | Workload::Creation(_)))
        .collect();
    let mut timed_stats = measure::ns_per_op(plan, &timed, |workload, n| {
        workload.time(n).expect("only time rows were selected")
    })
    .into_iter();
    rows.iter()
        .map(|&&(name, ref workload, _)| {
            let (kind, unit, stats) = match *workload {
                Workload::Handoff(_) => (Kind::Handoff, Unit::Ns, timed_stats.next()),
                Workload::Creation(_) => (Kind::Creation, Unit::Ns, timed_stats.next()),
                Workload::Parked(parked, growth) => {
                    let kind = match growth {
                        Growth::Resident => Kind::Memory,
                        Growth::PageTables => Kind::PageTables,
                    };
                    (
                        kind,
                        Unit::Bytes,
                        Some(parked_in_children(parked, growth, plan)),
                    )
                }
                Workload::Switches(run) => (
                    Kind::KernelSwitches,
                    Unit::Count,
                    Some(switches_per_1k(plan, run)),
                ),
            };
            let stats = stats.expect("ns_per_op returns one result per time row, in row order");
            Row {
                name,
                kind,
                unit,
                stats,
            }
        })
        .collect()
}

/// Kernel context switches per 1,000 round trips, one value per round.
fn switches_per_1k(plan: &Plan, run: fn(u64) -> Measured) -> Stats {
    let round_trips = plan.counted_round_trips;
    // One uncounted run first, like the calibration pilots of the timed rows.
    run(round_trips);
    let per_1k = (0..plan.rounds)
        .map(|_| run(round_trips).context_switches.total() as f64 * 1000.0 / round_trips as f64)
        .collect();
    Stats::from_rounds(per_1k, round_trips)
}

/// Runs each memory round in a fresh child process, so that memory freed by
/// earlier rows (malloc free lists, glibc's cache of thread stacks) cannot be
/// reused and hide the growth.
fn parked_in_children(unit: ParkedUnit, growth: Growth, plan: &Plan) -> Stats {
    let units = match unit {
        ParkedUnit::Coroutine => plan.parked_coroutines,
        ParkedUnit::Thread => plan.parked_threads,
    };
    let units_arg = units.to_string();
    let per_unit = (0..plan.memory_rounds)
        .map(|_| {
            let output = os::child_command(&[CHILD_PARKED, unit.arg(), &units_arg])
                .stdout(Stdio::piped())
                .output()
                .expect("re-running this executable as a parked-memory child");
            assert!(
                output.status.success(),
                "the parked-memory child failed: {}",
                output.status
            );
            let text = String::from_utf8_lossy(&output.stdout);
            let bytes: Vec<f64> = text
                .split_whitespace()
                .filter_map(|word| word.parse().ok())
                .collect();
            match (growth, bytes.as_slice()) {
                (Growth::Resident, [resident, _]) => *resident,
                (Growth::PageTables, [_, page_tables]) => *page_tables,
                _ => panic!(
                    "the parked-memory child printed `{text}`, not `<rss bytes> <pte bytes>`"
                ),
            }
        })
        .collect();
    Stats::from_rounds(per_unit, units as u64)
}

/// Child mode: park `<coroutine|thread> <units>` and print bytes per unit:
/// `<rss growth> <page-table growth>`.
const CHILD_PARKED: &str = "parked";

/// Runs the parked-memory child mode if `args` ask for it; `None` if they
/// name another mode, `Some(Err)` if they are malformed.
pub fn run_parked_child(args: &[String]) -> Option<Result<(), String>> {
    let [mode, unit, units] = args else {
        return None;
    };
    if mode != CHILD_PARKED {
        return None;
    }
    let cost = match (ParkedUnit::from_arg(unit), units.parse::<usize>()) {
        (Some(ParkedUnit::Coroutine), Ok(units)) => parked::corio_parked(units),
        (Some(ParkedUnit::Thread), Ok(units)) => parked::thread_parked(units),
        _ => return Some(Err(format!("bad parked child arguments {args:?}"))),
    };
    println!("{} {}", cost.resident, cost.page_tables);
    Some(Ok(()))
}
