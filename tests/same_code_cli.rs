//! The `same_code` example's command line: `--json` reports both bindings
//! and that they agree, `--help` is clap's. (The worker itself is tested
//! in-process in `same_code.rs`.)

mod util;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::Value;

/// The example binary (see `util::example_binary`), built once.
fn example_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| util::example_binary("same_code"))
}

fn run_example(args: &[&str]) -> Output {
    Command::new(example_binary())
        .args(args)
        .output()
        .expect("the example binary can be started")
}

#[test]
fn json_reports_both_bindings_and_that_they_agree() {
    let output = run_example(&["--json", "3", "5"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "same_code --json 3 5 ended with {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(report["identical"], true, "{report}");
    assert_eq!(
        (report["clients"].as_u64(), report["lines"].as_u64()),
        (Some(3), Some(5))
    );
    let runs = report["runs"].as_array().expect("a list of runs");
    assert_eq!(runs.len(), 2, "{report}");
    for run in runs {
        assert_eq!(run["lines"], 15, "{run}");
        assert_eq!(run["archived_bytes"], runs[0]["archived_bytes"], "{run}");
        assert!(run["os_threads_seen"].as_u64() >= Some(1), "{run}");
    }
    assert_eq!(
        runs[0]["pool_threads_seen"], 0,
        "std has no blocking pool: {report}"
    );
}

#[test]
fn help_lists_the_arguments_and_json() {
    let output = run_example(&["--help"]);
    assert!(output.status.success(), "{:?}", output.status);
    let help = String::from_utf8_lossy(&output.stdout);
    for word in ["CLIENTS", "LINES", "--json"] {
        assert!(
            help.contains(word),
            "--help does not mention {word}:\n{help}"
        );
    }
}

/// `same_code | head -1` once `head` has gone: the example still runs both
/// bindings (their disagreement would be a failure) and ends quietly.
#[test]
fn a_table_into_a_closed_pipe_exits_quietly() {
    let output = util::run_with_closed_stdout(example_binary(), &["2", "3"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{:?}\nstderr:\n{stderr}",
        output.status
    );
    assert!(stderr.is_empty(), "stderr:\n{stderr}");
}
