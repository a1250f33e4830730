//! Finding an interleaving bug: a check-then-act race that FIFO never
//! shows, found by `corio::runtime::explore`, replayed from its seed, and
//! written as an HTML timeline of the failing run.
//!
//! Alice and Bob share an account holding 100. Each moves 80 out of it:
//! sign in, check the balance, wait for a fraud check (a `yield_now`),
//! then take the money. The check and the take are apart, so if both
//! checks come before either take, the account is overdrawn. Bob's app
//! signs in with four round trips, Alice's with none, so in FIFO order
//! Alice has always taken her 80 before Bob checks: the test passes every
//! time. `explore` runs the same code under seeded random schedules until
//! one fails, the seed replays that schedule switch by switch, and the
//! replay's trace shows where the two checks met.
//!
//! ```text
//! cargo run --example explore                  # writes explore.html
//! cargo run --example explore -- --runs 1000 --out /tmp/race.html
//! CORIO_SCHEDULE=random:SEED cargo run --example explore -- --replay-env
//! ```

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, BufWriter};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::rc::Rc;

use clap::Parser;
use corio::runtime::{Builder, Schedule, explore};
use corio::thread;

#[derive(Parser)]
#[command(about = "find a check-then-act race with seeded schedules, replay it, and trace it")]
struct Args {
    /// Seeds to try (0, 1, ...) before giving up.
    #[arg(long, default_value_t = 200)]
    runs: u64,
    /// Where the failing run's timeline goes (an offline HTML page).
    #[arg(long, default_value = "explore.html")]
    out: PathBuf,
    /// Only run the transfers once under `corio::run`, which takes its
    /// schedule from `CORIO_SCHEDULE`, and say how it went.
    #[arg(long)]
    replay_env: bool,
}

thread_local! {
    /// What the current run did, step by step, for the replay's account.
    static STEPS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Notes one step of the current run.
fn step(text: String) {
    STEPS.with(|steps| steps.borrow_mut().push(text));
}

/// The program under test: two transfers of 80 from one balance of 100.
/// Panics if the balance goes below zero.
fn two_transfers() {
    STEPS.with(|steps| steps.borrow_mut().clear());
    let balance = Rc::new(RefCell::new(100i64));
    let transfer = |who: &'static str, sign_in_round_trips: u32| {
        let balance = Rc::clone(&balance);
        thread::Builder::new()
            .name(who.into())
            .spawn(move || {
                for _ in 0..sign_in_round_trips {
                    thread::yield_now();
                }
                let seen = *balance.borrow();
                step(format!("{who:5} checks the balance: {seen}"));
                if seen >= 80 {
                    thread::yield_now(); // the fraud check
                    let left = *balance.borrow() - 80;
                    *balance.borrow_mut() = left;
                    step(format!("{who:5} takes 80, leaving {left}"));
                }
            })
            .expect("a coroutine")
    };
    let alice = transfer("alice", 0);
    let bob = transfer("bob", 4);
    alice.join().expect("alice's transfer ran");
    bob.join().expect("bob's transfer ran");
    let left = *balance.borrow();
    assert!(left >= 0, "the account is overdrawn: balance {left}");
}

/// Runs the transfers in `rt`; whether they failed, and the steps taken.
fn run_in(rt: &mut corio::Runtime) -> (bool, Vec<String>) {
    // The failure is expected here; its panic message is on stderr.
    let failed = panic::catch_unwind(AssertUnwindSafe(|| rt.block_on(two_transfers))).is_err();
    (failed, STEPS.with(|steps| steps.take()))
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    if args.replay_env {
        let schedule = std::env::var("CORIO_SCHEDULE").unwrap_or_else(|_| "fifo".into());
        let outcome = panic::catch_unwind(|| corio::run(two_transfers));
        let said = if outcome.is_ok() { "passed" } else { "FAILED" };
        println!("CORIO_SCHEDULE={schedule}: {said}");
        for line in STEPS.with(|steps| steps.take()) {
            println!("  {line}");
        }
        return Ok(());
    }
    // Check the output path before the work.
    let out = File::create(&args.out)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", args.out.display())))?;

    println!("FIFO, the default schedule, three times:");
    for _ in 0..3 {
        let (failed, steps) = run_in(&mut Builder::new().schedule(Schedule::Fifo).build()?);
        let said = if failed { "FAILED" } else { "passed" };
        println!("  {said}: {}", steps.join("; "));
    }

    println!(
        "\nexplore({}, two_transfers): seeded random schedules",
        args.runs
    );
    let failure = match explore(args.runs, two_transfers) {
        Ok(runs) => {
            println!("  all {runs} runs passed; try more with --runs");
            return Ok(());
        }
        Err(failure) => failure,
    };
    println!(
        "  {} seed(s) passed before seed {} failed:",
        failure.seed, failure.seed
    );
    for line in failure.to_string().lines() {
        println!("  | {line}");
    }

    println!("\nreplaying {} three times:", failure.schedule);
    for _ in 0..3 {
        let (failed, steps) = run_in(&mut Builder::new().schedule(failure.schedule).build()?);
        let said = if failed { "FAILED" } else { "passed" };
        println!("  {said}: {}", steps.join("; "));
    }

    // Once more with the timeline on, for the picture.
    let mut rt = Builder::new()
        .schedule(failure.schedule)
        .trace(1 << 16)
        .build()?;
    let (_, steps) = run_in(&mut rt);
    println!("\nthe failing interleaving, step by step:");
    for line in &steps {
        println!("  {line}");
    }
    let trace = rt.take_trace().expect("tracing is on");
    trace.write_html(BufWriter::new(out))?;
    println!(
        "\ntimeline of the failing run ({} events): {}",
        trace.events().len(),
        args.out.display()
    );
    Ok(())
}
