//! The same worker code on OS threads and on coroutines, in one process.
//!
//! ```text
//! cargo run --release --example same_code              # 20 clients x 200 lines
//! cargo run --release --example same_code -- 100 50    # clients, lines each
//! cargo run --release --example same_code -- --json    # one JSON object
//! ```
//!
//! `worker.rs` is written once against the names `thread`, `net`, `mpsc`,
//! `Mutex`, `Condvar`, `fs`, `io`, `process` and `unix_net`: a TCP fan-in
//! whose producers also write and read files, run `cat` as a child process
//! and talk to an archivist over a Unix socket. This file includes it
//! twice: once where those names are `std`'s, once where they are
//! `corio`'s. That `use` line is the whole port (plus running the
//! coroutine version inside `corio::run`). Both runs must give the same
//! outcome; the table shows what each cost: wall time, the most OS threads
//! the process was seen to have (sampled while the consumer runs, so a
//! lower bound on the peak) and how many of those were corio's
//! blocking-pool threads (where `corio::fs` calls run), and kernel context
//! switches (`getrusage`, the whole process).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

#[path = "../common/pipe.rs"]
mod pipe;
#[path = "../common/usage.rs"]
mod usage;
#[path = "../common/values.rs"]
mod values;

/// The worker on std: OS threads, blocking sockets, std's channels and locks.
mod on_std {
    #![allow(dead_code)]
    use std::os::unix::net as unix_net;
    use std::{fs, io, net, process, sync::Condvar, sync::Mutex, sync::mpsc, thread};
    include!("worker.rs");
}

/// The same worker on corio: coroutines on one OS thread.
mod on_corio {
    #![allow(dead_code)]
    // The worker shares its table through an `Arc`, which std's threads
    // need; corio's `Mutex` is not `Sync`, and on one thread an `Arc` of it
    // is only an `Rc` with atomic counts.
    #![allow(clippy::arc_with_non_send_sync)]
    use corio::os::unix::net as unix_net;
    use corio::{fs, io, net, process, sync::Condvar, sync::Mutex, sync::mpsc, thread};
    include!("worker.rs");
}

/// Voluntary + involuntary context switches of the whole process so far.
fn context_switches() -> i64 {
    usage::context_switches(&usage::rusage(libc::RUSAGE_SELF)) as i64
}

/// Runs `f`, returning its outcome, the wall time and the context switches.
fn measured<T>(f: impl FnOnce() -> T) -> (T, Duration, i64) {
    let switches = context_switches();
    let start = Instant::now();
    let outcome = f();
    (outcome, start.elapsed(), context_switches() - switches)
}

#[derive(Parser)]
#[command(about = "The same worker code on OS threads and on coroutines, in one process")]
struct Args {
    /// Producers, each on its own connection.
    #[arg(default_value_t = 20, value_parser = values::at_least_one::<usize>, requires = "lines")]
    clients: usize,
    /// Lines each producer sends.
    #[arg(default_value_t = 200, value_parser = values::at_least_one::<usize>)]
    lines: usize,
    /// Print one JSON object (both bindings' figures and whether they
    /// agree) instead of the table.
    #[arg(long)]
    json: bool,
}

/// One binding's run: its outcome and what it cost.
struct Run {
    /// The row's label.
    binding: &'static str,
    /// What the worker produced.
    outcome: on_std::Outcome,
    /// Wall time of the whole run.
    time: Duration,
    /// Context switches of the whole process during the run.
    switches: i64,
}

impl Run {
    /// The run as a JSON object.
    fn to_json(&self) -> serde_json::Value {
        json!({
            "binding": self.binding,
            "wall_ms": (self.time.as_secs_f64() * 1e4).round() / 10.0,
            "os_threads_seen": self.outcome.peak_os_threads,
            "pool_threads_seen": self.outcome.peak_pool_threads,
            "context_switches": self.switches,
            "lines": self.outcome.lines_per_client.iter().sum::<usize>(),
            "checksum": self.outcome.checksum,
            "archived_bytes": self.outcome.archived_bytes,
        })
    }
}

fn main() -> ExitCode {
    pipe::exit_quietly_on_broken_pipe();
    let Args {
        clients,
        lines,
        json,
    } = Args::parse();
    let (outcome, time, switches) = measured(|| on_std::run(clients, lines));
    let on_std = Run {
        binding: "std::thread etc.",
        outcome,
        time,
        switches,
    };
    let (outcome, time, switches) = measured(|| corio::run(move || on_corio::run(clients, lines)));
    // The two modules declare the same struct; carry corio's in std's.
    let on_corio::Outcome {
        lines_per_client,
        checksum,
        archived_bytes,
        peak_os_threads,
        peak_pool_threads,
    } = outcome;
    let on_corio = Run {
        binding: "corio::thread etc.",
        outcome: on_std::Outcome {
            lines_per_client,
            checksum,
            archived_bytes,
            peak_os_threads,
            peak_pool_threads,
        },
        time,
        switches,
    };
    let (a, b) = (&on_std.outcome, &on_corio.outcome);
    let same = a.lines_per_client == b.lines_per_client
        && a.checksum == b.checksum
        && a.archived_bytes == b.archived_bytes;
    if json {
        println!(
            "{}",
            json!({
                "clients": clients,
                "lines": lines,
                "identical": same,
                "runs": [on_std.to_json(), on_corio.to_json()],
            })
        );
    } else {
        print_table(clients, lines, [&on_std, &on_corio], same);
    }
    if same {
        ExitCode::SUCCESS
    } else {
        eprintln!("the two bindings disagree: std {a:?}, corio {b:?}");
        ExitCode::FAILURE
    }
}

/// The human-readable report.
fn print_table(clients: usize, lines: usize, runs: [&Run; 2], same: bool) {
    println!("same_code: {clients} clients x {lines} lines, one worker module, two bindings");
    println!(
        "  {:<20} {:>9} {:>16} {:>14} {:>17}",
        "binding", "wall ms", "OS threads seen", "of them pool", "context switches"
    );
    for run in runs {
        println!(
            "  {:<20} {:>9.1} {:>16} {:>14} {:>17}",
            run.binding,
            run.time.as_secs_f64() * 1e3,
            run.outcome.peak_os_threads,
            run.outcome.peak_pool_threads,
            run.switches
        );
    }
    let outcome = &runs[1].outcome;
    println!(
        "  outcome: {} lines, checksum {}, {} bytes archived, identical on both: {same}",
        outcome.lines_per_client.iter().sum::<usize>(),
        outcome.checksum,
        outcome.archived_bytes
    );
}
