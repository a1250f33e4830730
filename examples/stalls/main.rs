//! Breaking the cooperative contract, and what corio says about it.
//!
//! ```text
//! cargo run --example stalls                       # every case, each broken then fixed
//! cargo run --example stalls -- --case lock        # one case, broken
//! cargo run --example stalls -- --case lock --fix  # the same case, fixed
//! cargo run --example stalls -- --case stdin       # at a terminal; type a line
//! cargo run --example stalls -- --json             # one JSON object per run
//! ```
//!
//! A coroutine keeps its runtime's OS thread until it yields or waits on
//! something corio knows. A blocking std call, or a loop that never yields,
//! breaks that contract: nothing else of the runtime runs until it returns.
//! Each case makes one such call in a coroutine beside a *ticker*, a
//! coroutine that sleeps 1 ms (corio's sleep) in a loop and counts its
//! ticks, so that the freeze can be counted: the example prints how many
//! times the ticker ticked during the call, and about how many it makes in
//! that time when nothing holds the thread.
//!
//! | case | the broken call | the fix (`--fix`) |
//! |---|---|---|
//! | `sleep` | `std::thread::sleep` | `corio::thread::sleep` |
//! | `lock` | a `std::sync::Mutex` one coroutine keeps across a corio sleep, taken by another | `corio::sync::Mutex` |
//! | `channel` | `std::sync::mpsc` `recv`, the sender on a std thread | `corio::sync::mpsc` |
//! | `spin` | a spin on an `AtomicBool` that a std thread sets | `corio::yield_now()` in the spin |
//! | `cpu` | a loop of computing without a yield | `corio::yield_now()` every 100 rounds |
//! | `stdin` | `std::io::stdin().read_line` | `corio::io::stdin().read_line` |
//!
//! corio's stall watchdog sees a coroutine that has kept its thread past
//! 100 ms (the default `runtime::Builder::stall_threshold`) and prints one
//! line on stderr *while the call lasts*: the coroutine, what its thread is
//! doing (`blocked in clock_nanosleep`, `futex`, `read on fd 0`, or
//! `running`) and the likely fix; and one line when the stall ends. Those
//! lines are the runtime's own: this example writes its figures on stdout
//! and never prints a report itself (`2>/dev/null` hides corio's).
//!
//! The fixed `spin` and `cpu` let the ticker run, but it may tick less
//! often than beside a coroutine that sleeps: a yield hands the thread to
//! the coroutines already runnable, while sleepers and sockets are looked
//! at every 61 switches (`runtime::DEFAULT_EVENT_INTERVAL`), and a thread
//! that computes gets only its share of a busy machine's CPUs (a debug
//! build on a loaded machine shows both). A loop alone in the run queue
//! should yield every few microseconds of work (here every 100 rounds), not
//! every few milliseconds.
//!
//! The broken `lock` is a deadlock: the taker blocks the thread in `futex`
//! waiting for a lock that only the holder can release, and the holder
//! cannot run while the taker keeps the thread. It would hang forever;
//! after 1 s the example says so and ends the process (exit status 0).
//! `stdin` waits for a line from you (at most 30 s, then it ends the same
//! way).
//!
//! Without `--case`, every case runs, each in a process of its own (so that
//! the deadlock ends only its own), broken then fixed (`--fix`: fixed
//! only); `stdin` comes last, and only when stdin is a terminal.
//!
//! `--json` prints one object per run, with the reports counted through
//! `runtime::Builder::on_stall`. That callback takes the place of corio's
//! stderr line, so with `--json` corio prints no report.

mod cases;
#[path = "../common/values.rs"]
mod values;

use std::cell::RefCell;
use std::io::{self, IsTerminal, Write};
use std::process::{Command, ExitCode};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use cases::{Case, Start, Window};
use clap::Parser;
use serde_json::json;

/// How long the ticker runs before it is measured (its first ticks come
/// late: the runtime is just starting).
const SETTLE: Duration = Duration::from_millis(10);
/// How long the ticker runs alone then, to measure its free rate.
const WARM_UP: Duration = Duration::from_millis(100);
/// How long the ticker runs after the call: it shows the runtime going on,
/// and lets the watchdog's end-of-stall line come before the figures.
const TAIL: Duration = Duration::from_millis(20);
/// How long the broken `lock` stays deadlocked before the example ends it.
const DEADLOCK_SHOWN: Duration = Duration::from_secs(1);
/// How long `stdin` waits for a line.
const STDIN_PATIENCE: Duration = Duration::from_secs(30);

#[derive(Parser)]
#[command(
    about = "Each way to break the cooperative contract beside a 1 ms ticker: the \
             freeze, corio's stall report (stderr) and the fix"
)]
struct Args {
    /// One case (broken; with --fix, fixed). Without it: every case that
    /// needs no terminal, each broken then fixed, in a process of its own;
    /// stdin last, when stdin is a terminal.
    #[arg(long, value_enum)]
    case: Option<Case>,
    /// Run the fixed version (corio's sleep, Mutex, mpsc or stdin; a yield
    /// in the loop).
    #[arg(long)]
    fix: bool,
    /// How long the call lasts, ms (the stall threshold is 100 ms).
    #[arg(long, default_value_t = 200, value_parser = values::within::<u64>(1, 10_000))]
    ms: u64,
    /// One JSON object per run; stall reports are counted through
    /// `on_stall`, which takes the place of corio's stderr line.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Some(case) = args.case else {
        return every_case(&args);
    };
    match run(case, &args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stalls: cannot build a runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Every case that needs no terminal, each broken then fixed (or fixed
/// only), each in a child process running this program with `--case`.
fn every_case(args: &Args) -> ExitCode {
    let mut cases = Case::WITHOUT_TERMINAL.to_vec();
    if io::stdin().is_terminal() {
        cases.push(Case::Stdin);
    }
    let versions: &[bool] = if args.fix { &[true] } else { &[false, true] };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("stalls: cannot find this program to run each case: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (i, case) in cases.iter().enumerate() {
        for &fix in versions {
            if i > 0 && !fix && !args.json {
                println!();
            }
            let _ = io::stdout().flush();
            let mut child = Command::new(&exe);
            child.args(["--case", case.name(), "--ms", &args.ms.to_string()]);
            if fix {
                child.arg("--fix");
            }
            if args.json {
                child.arg("--json");
            }
            match child.status() {
                Ok(status) if status.success() => {}
                Ok(status) => {
                    eprintln!("stalls: case {} ended with {status}", case.name());
                    return ExitCode::FAILURE;
                }
                Err(e) => {
                    eprintln!("stalls: cannot run case {}: {e}", case.name());
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    if !cases.contains(&Case::Stdin) {
        let how = "stdin is not a terminal; at a terminal, run `cargo run --example stalls -- \
                   --case stdin` (then with --fix) and type a line";
        if args.json {
            println!("{}", json!({ "case": "stdin", "skipped": how }));
        } else {
            println!("\nstdin: skipped: {how}");
        }
    }
    ExitCode::SUCCESS
}

/// What one run prints: the case, its version, the ticker's free rate and
/// the stall reports counted (with `--json`).
#[derive(Clone)]
struct Run {
    /// The case.
    case: Case,
    /// Whether this is its fixed version.
    fix: bool,
    /// How long the call lasts (`--ms`).
    ms: u64,
    /// Whether to print JSON (`--json`).
    json: bool,
    /// The ticker's ticks during the warm-up, before the call.
    warm: Window,
    /// The activity of every stall that began, as `on_stall` saw it (with
    /// `--json` only; otherwise corio prints its reports itself).
    stalls: Arc<Mutex<Vec<String>>>,
}

/// Runs one case, broken or fixed, beside the ticker.
fn run(case: Case, args: &Args) -> io::Result<()> {
    let stalls = Arc::new(Mutex::new(Vec::new()));
    let mut builder = corio::Runtime::builder();
    if args.json {
        let seen = Arc::clone(&stalls);
        builder = builder.on_stall(move |stall| {
            if !stall.ended {
                let mut seen = seen.lock().unwrap_or_else(PoisonError::into_inner);
                seen.push(stall.activity.to_string());
            }
        });
    }
    let mut rt = builder.build()?;
    let (fix, ms, json) = (args.fix, args.ms, args.json);
    rt.block_on(move || {
        let ticks = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = ticker(Arc::clone(&ticks), Arc::clone(&stop));
        corio::thread::sleep(SETTLE);
        let warm_start = Start::now(&ticks);
        corio::thread::sleep(WARM_UP);
        let run = Run {
            case,
            fix,
            ms,
            json,
            warm: warm_start.window(&ticks),
            stalls,
        };
        run.intro();
        // A guard the call's start arms and its end drops.
        let guard: Rc<RefCell<Option<Guard>>> = Rc::default();
        let armed = Rc::clone(&guard);
        let (for_guard, shared_ticks) = (run.clone(), Arc::clone(&ticks));
        let window = cases::play(case, fix, ms, &ticks, move |start| {
            let limit = match case {
                Case::Lock if !fix => Some((DEADLOCK_SHOWN, Ending::Deadlock)),
                Case::Stdin => Some((STDIN_PATIENCE, Ending::NoLine)),
                _ => None,
            };
            if let Some((after, ending)) = limit {
                *armed.borrow_mut() =
                    Some(Guard::arm(for_guard, shared_ticks, start, after, ending));
            }
        });
        drop(guard.take());
        corio::thread::sleep(TAIL);
        stop.store(true, Ordering::Relaxed);
        ticker.join().expect("the ticker returns");
        run.result(window, None);
    });
    Ok(())
}

/// The ticker: sleeps 1 ms at a time (corio's sleep) until `stop`,
/// counting its ticks.
fn ticker(ticks: Arc<AtomicU64>, stop: Arc<AtomicBool>) -> corio::JoinHandle<()> {
    corio::task::Builder::new()
        .name("ticker".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                corio::thread::sleep(Duration::from_millis(1));
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
        .expect("a stack for the ticker")
}

/// Why the example ended a call that would not end by itself.
#[derive(Clone, Copy)]
enum Ending {
    /// The broken `lock`'s deadlock.
    Deadlock,
    /// No line came on stdin.
    NoLine,
}

/// A std thread that ends the process if a call outlasts its limit: the
/// one way out of a deadlocked runtime thread. Dropping it disarms it.
struct Guard(Arc<AtomicBool>);

impl Guard {
    fn arm(
        run: Run,
        ticks: Arc<AtomicU64>,
        start: Start,
        after: Duration,
        ending: Ending,
    ) -> Guard {
        let done = Arc::new(AtomicBool::new(false));
        let disarmed = Arc::clone(&done);
        std::thread::spawn(move || {
            let deadline = Instant::now() + after;
            while Instant::now() < deadline {
                if disarmed.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            run.result(start.window(&ticks), Some(ending));
            let _ = io::stdout().flush();
            std::process::exit(0);
        });
        Guard(done)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl Run {
    /// "broken" or "fixed".
    fn version(&self) -> &'static str {
        if self.fix { "fixed" } else { "broken" }
    }

    /// Ticks a free ticker makes in `elapsed`, at the warm-up's rate.
    fn expected(&self, elapsed: Duration) -> u64 {
        let rate = self.warm.ticks as f64 / self.warm.elapsed.as_secs_f64().max(1e-9);
        (rate * elapsed.as_secs_f64()).round() as u64
    }

    /// The line before the call.
    fn intro(&self) {
        if self.case == Case::Stdin {
            let prompt = format!(
                "type a line and press Enter (within {} s)",
                STDIN_PATIENCE.as_secs()
            );
            // With --json, stdout holds JSON only.
            if self.json {
                eprintln!("{prompt}");
            } else {
                println!("{prompt}");
            }
        }
        if self.json {
            return;
        }
        println!(
            "{}, {}: coroutine '{}' calls {}; the 1 ms ticker beside it ticked {} times in \
             the {} ms before",
            self.case.name(),
            self.version(),
            self.case.coroutine(),
            self.case.call(self.fix, self.ms),
            self.warm.ticks,
            self.warm.elapsed.as_millis(),
        );
    }

    /// The figures after the call (or when the example ends it).
    fn result(&self, window: Window, ending: Option<Ending>) {
        let expected = self.expected(window.elapsed);
        if self.json {
            let stalls = self.stalls.lock().unwrap_or_else(PoisonError::into_inner);
            let line = json!({
                "case": self.case.name(),
                "fixed": self.fix,
                "call": self.case.call(self.fix, self.ms),
                "call_ms": (window.elapsed.as_secs_f64() * 1e4).round() / 10.0,
                "ticks": window.ticks,
                "expected_ticks": expected,
                "stall_reports": stalls.len(),
                "activities": *stalls,
                "ended_by_example": ending.map(|e| match e {
                    Ending::Deadlock => "deadlock",
                    Ending::NoLine => "no line on stdin",
                }),
            });
            println!("{line}");
            return;
        }
        let name = format!("{}, {}", self.case.name(), self.version());
        let counted = format!(
            "the ticker ticked {} times in the {} ms of the call (about {expected} when \
             nothing holds the thread)",
            window.ticks,
            window.elapsed.as_millis()
        );
        match ending {
            Some(Ending::Deadlock) => println!(
                "{name}: {counted}: a deadlock. 'taker' waits in futex for a lock that only \
                 'holder' can release, and 'holder' cannot run while 'taker' keeps the \
                 thread. It would hang forever; the example ends the process here."
            ),
            Some(Ending::NoLine) => println!(
                "{name}: {counted}; no line came in {} s, the example ends here.",
                STDIN_PATIENCE.as_secs()
            ),
            None if expected == 0 => println!("{name}: {counted}: too short to tell"),
            None if window.ticks == 0 => {
                println!(
                    "{name}: {counted}: frozen, '{}' kept the thread",
                    self.case.coroutine()
                )
            }
            None => println!("{name}: {counted}: it kept running"),
        }
        if !self.fix {
            println!("  the fix (--fix): {}", self.case.call(true, self.ms));
        }
    }
}
