//! The same worker code on OS threads and on coroutines, in one process.
//!
//! ```text
//! cargo run --release --example same_code              # 20 clients x 200 lines
//! cargo run --release --example same_code -- 100 50    # clients, lines each
//! ```
//!
//! `worker.rs` is written once against the names `thread`, `net`, `mpsc`,
//! `Mutex` and `Condvar`. This file includes it twice: once where those
//! names are `std`'s, once where they are `corio`'s. That `use` line is the
//! whole port (plus running the coroutine version inside `corio::run`).
//! Both runs must give the same outcome; the table shows what each cost:
//! wall time, the most OS threads the process was seen to have (sampled
//! while the consumer runs, so a lower bound on the peak), and kernel context
//! switches (`getrusage`, the whole process).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;

#[path = "../common/usage.rs"]
mod usage;
#[path = "../common/values.rs"]
mod values;

/// The worker on std: OS threads, blocking sockets, std's channels and locks.
mod on_std {
    #![allow(dead_code)]
    use std::{net, sync::Condvar, sync::Mutex, sync::mpsc, thread};
    include!("worker.rs");
}

/// The same worker on corio: coroutines on one OS thread.
mod on_corio {
    #![allow(dead_code)]
    // The worker shares its table through an `Arc`, which std's threads
    // need; corio's `Mutex` is not `Sync`, and on one thread an `Arc` of it
    // is only an `Rc` with atomic counts.
    #![allow(clippy::arc_with_non_send_sync)]
    use corio::{net, sync::Condvar, sync::Mutex, sync::mpsc, thread};
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
}

fn main() -> ExitCode {
    let Args { clients, lines } = Args::parse();
    let (std_outcome, std_time, std_switches) = measured(|| on_std::run(clients, lines));
    let (corio_outcome, corio_time, corio_switches) =
        measured(|| corio::run(move || on_corio::run(clients, lines)));
    let same = std_outcome.lines_per_client == corio_outcome.lines_per_client
        && std_outcome.checksum == corio_outcome.checksum;
    println!("same_code: {clients} clients x {lines} lines, one worker module, two bindings");
    println!(
        "  {:<22} {:>10} {:>15} {:>18}",
        "binding", "wall ms", "OS threads seen", "context switches"
    );
    for (name, peak_threads, time, switches) in [
        (
            "std::thread etc.",
            std_outcome.peak_os_threads,
            std_time,
            std_switches,
        ),
        (
            "corio::thread etc.",
            corio_outcome.peak_os_threads,
            corio_time,
            corio_switches,
        ),
    ] {
        println!(
            "  {:<22} {:>10.1} {:>15} {:>18}",
            name,
            time.as_secs_f64() * 1e3,
            peak_threads,
            switches
        );
    }
    println!(
        "  outcome: {} lines, checksum {}, identical on both: {same}",
        corio_outcome.lines_per_client.iter().sum::<usize>(),
        corio_outcome.checksum
    );
    if same {
        ExitCode::SUCCESS
    } else {
        eprintln!("the two bindings disagree: std {std_outcome:?}, corio {corio_outcome:?}");
        ExitCode::FAILURE
    }
}
