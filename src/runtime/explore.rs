//! [`explore`]: run a program under many schedules until one fails.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::panic::{self, AssertUnwindSafe, UnwindSafe};
use std::time::{Duration, Instant};

use super::Builder;
use crate::scheduler::{Schedule, panic_text};

/// How long an exploration runs before it shows its progress on a terminal.
const QUIET_FOR: Duration = Duration::from_secs(2);

/// How often the progress line is rewritten.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Runs `f` as the root of a fresh runtime once per seed `0..runs`, each
/// under [`Schedule::Random`] with that seed, and stops at the first run
/// whose root panics or deadlocks.
///
/// Returns `Ok(runs)` when every run passed (`Ok(0)` for `runs == 0`), or
/// the first [`Failure`]: its seed, its schedule and what went wrong. The
/// same seed replays the same interleaving, switch by switch, in this
/// process or another, as long as `f` does no I/O, uses no real timers and
/// hears from no other thread (see [`Schedule`]): rebuild the runtime with
/// `Builder::schedule(failure.schedule)`, or run the unchanged program with
/// `CORIO_SCHEDULE=random:SEED`.
///
/// A run fails when its root panics: a failed assertion in `f`, a panic
/// `f` took from a `join`, or the deadlock report (`block_on` panics when
/// every coroutine waits and nothing can wake one). A coroutine that
/// panics without taking the root down (its `join` gives `Err`, and `f`
/// handles it) does not fail the run; when it panicked before a root that
/// did, the failure's message names it too. Each failing run's panics are
/// also printed by the panic hook, as any panic is.
///
/// Each run's runtime sets its schedule in its builder, so `CORIO_SCHEDULE`
/// does not change what `explore` tries. When the exploration has lasted
/// more than 2 s and stderr is a terminal, one line there, rewritten as it
/// goes, shows the runs done, the failures and the seconds.
///
/// # Panics
///
/// If a runtime cannot be built (the OS refuses its poller).
///
/// # Examples
///
/// A check-then-act across a yield. The second withdrawal first signs in
/// (two yields), so FIFO never interleaves the two; a random schedule soon
/// does.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
///
/// let withdraw_twice = || {
///     let balance = Rc::new(Cell::new(100));
///     let withdraw = |balance: Rc<Cell<i32>>, sign_in: u32| {
///         move || {
///             (0..sign_in).for_each(|_| corio::yield_now());
///             if balance.get() >= 80 {
///                 corio::yield_now(); // the check and the act are apart
///                 balance.set(balance.get() - 80);
///             }
///         }
///     };
///     let a = corio::spawn(withdraw(balance.clone(), 0));
///     let b = corio::spawn(withdraw(balance.clone(), 2));
///     a.join().unwrap();
///     b.join().unwrap();
///     assert!(balance.get() >= 0, "overdrawn: {}", balance.get());
/// };
/// corio::run(withdraw_twice); // FIFO: fine
/// let failure = corio::runtime::explore(200, withdraw_twice).unwrap_err();
/// assert!(failure.message.contains("overdrawn: -60"));
/// println!("{failure}"); // says how to replay it: CORIO_SCHEDULE=random:SEED
/// ```
pub fn explore<F>(runs: u64, f: F) -> Result<u64, Failure>
where
    F: Fn() + UnwindSafe,
{
    explore_with(runs, |seed| Schedule::Random { seed }, f)
}

/// [`explore`] with another schedule per seed: `schedule(seed)` gives the
/// schedule of the run with that seed, for seeds `0..runs`; for example
/// `|seed| Schedule::Pct { seed, depth: 2 }`.
///
/// # Panics
///
/// If a runtime cannot be built: the OS refuses its poller, or `schedule`
/// returned [`Schedule::Pct`] with `depth` 0 (the message says why).
///
/// # Examples
///
/// ```
/// use corio::runtime::{Schedule, explore_with};
///
/// let passed = explore_with(50, |seed| Schedule::Pct { seed, depth: 3 }, || {
///     let a = corio::spawn(|| corio::yield_now());
///     a.join().unwrap();
/// });
/// assert_eq!(passed.unwrap(), 50);
/// ```
pub fn explore_with<S, F>(runs: u64, mut schedule: S, f: F) -> Result<u64, Failure>
where
    S: FnMut(u64) -> Schedule,
    F: Fn() + UnwindSafe,
{
    let mut progress = Progress::new(runs);
    for seed in 0..runs {
        let chosen = schedule(seed);
        if let Err(message) = run_once(chosen, &f) {
            progress.finish(seed + 1, 1);
            return Err(Failure {
                seed,
                schedule: chosen,
                message,
            });
        }
        progress.show(seed + 1);
    }
    progress.finish(runs, 0);
    Ok(runs)
}

/// Runs `f` once under `schedule` in a fresh runtime: its failure's
/// message, if it failed.
fn run_once<F: Fn()>(schedule: Schedule, f: &F) -> Result<(), String> {
    let mut rt = match Builder::new().schedule(schedule).build() {
        Ok(rt) => rt,
        Err(e) => panic!("corio::runtime::explore could not build a runtime for {schedule}: {e}"),
    };
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| rt.block_on(f)));
    let first_panic = rt.take_first_panic();
    // The runtime's parked coroutines are unwound here, before the next run.
    drop(rt);
    let Err(payload) = outcome else {
        return Ok(());
    };
    let root = panic_text(&*payload).to_owned();
    drop(payload);
    Err(match first_panic {
        Some(first) => format!("{root}\n(before it, {first})"),
        None => root,
    })
}

/// A run of [`explore`] whose root panicked or deadlocked.
///
/// `Display` gives the message and how to replay the run; `Debug` the
/// fields.
///
/// # Examples
///
/// ```
/// let failure = corio::runtime::explore(10, || {
///     let a = corio::spawn(|| panic!("no luck"));
///     a.join().unwrap(); // takes the root down with it
/// })
/// .unwrap_err();
/// assert_eq!(failure.seed, 0);
/// assert!(failure.message.contains("no luck"));
/// assert!(failure.to_string().contains("CORIO_SCHEDULE=random:0"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The seed of the failing run (its place in `0..runs`).
    pub seed: u64,
    /// The schedule it ran under; `Builder::schedule(schedule)` replays it.
    pub schedule: Schedule,
    /// The root's panic message (a deadlock's begins `corio deadlock`);
    /// when another coroutine panicked before it, a second line names that
    /// coroutine and gives its message.
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the run with seed {} failed: {}\nreplay it: set CORIO_SCHEDULE={} for the unchanged \
             program, or build its runtime with Builder::schedule({:?})",
            self.seed, self.message, self.schedule, self.schedule
        )
    }
}

impl std::error::Error for Failure {}

/// The progress line of a long exploration, on a terminal's stderr.
struct Progress {
    /// Runs asked for.
    runs: u64,
    /// When the exploration started.
    started: Instant,
    /// When the line was last written, if it was.
    shown: Option<Instant>,
    /// Whether stderr is a terminal (the line rewrites itself with `\r`).
    terminal: bool,
}

impl Progress {
    fn new(runs: u64) -> Progress {
        Progress {
            runs,
            started: Instant::now(),
            shown: None,
            terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Writes the line after `done` runs, if it is time to.
    fn show(&mut self, done: u64) {
        if !self.terminal {
            return;
        }
        let now = Instant::now();
        if now - self.started < QUIET_FOR || self.shown.is_some_and(|at| now - at < PROGRESS_EVERY)
        {
            return;
        }
        self.shown = Some(now);
        self.write(done, 0, "");
    }

    /// The last line, ended, if any was shown.
    fn finish(&mut self, done: u64, failures: u64) {
        if self.shown.is_some() {
            self.write(done, failures, "\n");
        }
    }

    fn write(&self, done: u64, failures: u64, end: &str) {
        let seconds = self.started.elapsed().as_secs_f64();
        // Nowhere to report a failed write to stderr; the line is a courtesy.
        let _ = write!(
            std::io::stderr().lock(),
            "\rcorio explore: {done} of {} runs, {failures} failures, {seconds:.1} s{end}",
            self.runs
        );
    }
}
