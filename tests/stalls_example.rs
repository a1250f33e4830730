//! Tests of the stalls example (examples/stalls/): each broken case makes
//! the runtime print its stall report on stderr, naming the system call or
//! `running`, while the ticker beside it stands still; each fixed case
//! raises no report and the ticker keeps ticking. Counts, never seconds.
//!
//! The example is run as a binary (built here if `cargo test` did not
//! build it), one run at a time so that the runs do not take CPU from each
//! other's ticker.

mod util;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::Value;

/// Fewest ticks of the 1 ms ticker during a fixed 200 ms call: a tenth of
/// what a free ticker makes, so that a machine with both cores busy passes
/// and a coroutine that keeps the thread (0 ticks) fails.
const FEW_TICKS: u64 = 20;

/// The example binary (see `util::example_binary`), looked up once.
fn example_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| util::example_binary("stalls"))
}

/// What one run printed.
struct Printed {
    /// The example's own lines.
    stdout: String,
    /// corio's reports (and nothing else, unless something failed).
    stderr: String,
}

impl Printed {
    /// The runtime's report lines (they start `corio:`).
    fn reports(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("corio:"))
            .collect()
    }

    /// The one line saying that a stall is going on.
    fn stall_line(&self) -> &str {
        let lines: Vec<&str> = self
            .reports()
            .into_iter()
            .filter(|l| l.contains("has held thread"))
            .collect();
        assert_eq!(lines.len(), 1, "one stall report in:\n{}", self.stderr);
        lines[0]
    }

    /// The ticks during the call, from `... the ticker ticked N times ...`.
    fn ticks(&self) -> u64 {
        self.stdout
            .split("the ticker ticked ")
            .nth(1)
            .and_then(|rest| rest.split(" times").next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a tick count in:\n{}", self.stdout))
    }
}

/// Runs the example with `args`, stdin fed `input` after `delay` (or
/// empty), one run at a time; it must exit 0.
fn run_with_input(args: &[&str], input: Option<(Duration, &'static str)>) -> Printed {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let mut child = Command::new(example_binary())
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the stalls example starts");
    if let Some((delay, text)) = input {
        let mut stdin = child.stdin.take().expect("a piped stdin");
        std::thread::spawn(move || {
            std::thread::sleep(delay);
            let _ = stdin.write_all(text.as_bytes());
        });
    }
    let output = child.wait_with_output().expect("the stalls example ends");
    let printed = Printed {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        output.status.success(),
        "stalls {} ended with {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        output.status,
        printed.stdout,
        printed.stderr
    );
    printed
}

fn run(args: &[&str]) -> Printed {
    run_with_input(args, None)
}

/// A fixed case: no report, and the ticker ticked on through the call.
fn assert_fixed(case: &str) {
    let fixed = run(&["--case", case, "--fix"]);
    assert!(fixed.reports().is_empty(), "{}", fixed.stderr);
    assert!(fixed.ticks() >= FEW_TICKS, "{}", fixed.stdout);
    assert!(fixed.stdout.contains("it kept running"), "{}", fixed.stdout);
}

#[test]
fn a_std_sleep_is_reported_as_nanosleep_and_the_ticker_stands_still() {
    let broken = run(&["--case", "sleep"]);
    let line = broken.stall_line();
    assert!(line.contains("'sleeper'"), "{line}");
    assert!(line.contains("nanosleep"), "{line}");
    assert!(line.contains("use corio::thread::sleep"), "{line}");
    assert_eq!(broken.ticks(), 0, "{}", broken.stdout);
    assert!(
        broken.stderr.contains("'sleeper' released thread"),
        "{}",
        broken.stderr
    );
    assert!(
        broken
            .stdout
            .contains("the fix (--fix): corio::thread::sleep"),
        "{}",
        broken.stdout
    );
}

#[test]
fn corio_sleep_raises_no_report() {
    assert_fixed("sleep");
}

#[test]
fn a_cpu_loop_is_reported_as_running() {
    let broken = run(&["--case", "cpu"]);
    let line = broken.stall_line();
    assert!(line.contains("'cruncher'"), "{line}");
    assert!(line.contains(": running ("), "{line}");
    assert!(line.contains("corio::yield_now"), "{line}");
    assert_eq!(broken.ticks(), 0, "{}", broken.stdout);
}

#[test]
fn a_cpu_loop_that_yields_raises_no_report() {
    assert_fixed("cpu");
}

#[test]
fn the_std_lock_deadlock_is_reported_as_futex_and_ends_by_itself() {
    let broken = run(&["--case", "lock"]);
    let line = broken.stall_line();
    assert!(line.contains("'taker'"), "{line}");
    assert!(line.contains("blocked in futex"), "{line}");
    assert!(line.contains("corio::sync"), "{line}");
    assert!(broken.stdout.contains("a deadlock"), "{}", broken.stdout);
    assert_eq!(broken.ticks(), 0, "{}", broken.stdout);
    assert_fixed("lock");
}

#[test]
fn a_std_read_of_stdin_is_reported_with_its_descriptor() {
    let broken = run_with_input(
        &["--case", "stdin"],
        Some((Duration::from_millis(400), "a line\n")),
    );
    let line = broken.stall_line();
    assert!(line.contains("'reader'"), "{line}");
    assert!(line.contains("blocked in read on fd 0: a pipe"), "{line}");
    assert_eq!(broken.ticks(), 0, "{}", broken.stdout);
    let fixed = run_with_input(
        &["--case", "stdin", "--fix"],
        Some((Duration::from_millis(400), "a line\n")),
    );
    assert!(fixed.reports().is_empty(), "{}", fixed.stderr);
    assert!(fixed.ticks() >= FEW_TICKS, "{}", fixed.stdout);
}

#[test]
fn json_counts_the_reports_through_on_stall() {
    let broken = run(&["--case", "channel", "--json"]);
    assert!(
        broken.reports().is_empty(),
        "on_stall takes the place of the stderr line:\n{}",
        broken.stderr
    );
    let run: Value = serde_json::from_str(broken.stdout.trim()).expect("one JSON object");
    assert_eq!(run["case"], "channel");
    assert_eq!(run["fixed"], false);
    assert_eq!(run["ticks"], 0);
    assert_eq!(run["stall_reports"], 1);
    assert_eq!(run["activities"][0], "blocked in futex");
    assert!(run["expected_ticks"].as_u64().unwrap() > 0, "{run}");
}

#[test]
fn every_case_runs_in_turn_and_says_how_to_run_stdin() {
    let all = run(&["--fix", "--json"]);
    let runs: Vec<Value> = all
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON object per line"))
        .collect();
    let cases: Vec<&str> = runs.iter().filter_map(|r| r["case"].as_str()).collect();
    assert_eq!(cases, ["sleep", "lock", "channel", "spin", "cpu", "stdin"]);
    for run in &runs[..5] {
        assert_eq!(run["fixed"], true, "{run}");
        assert_eq!(run["stall_reports"], 0, "{run}");
        assert!(run["ticks"].as_u64().unwrap() >= FEW_TICKS, "{run}");
    }
    let skipped = runs[5]["skipped"].as_str().expect("stdin is skipped");
    assert!(skipped.contains("--case stdin"), "{skipped}");
    assert!(all.reports().is_empty(), "{}", all.stderr);
}
