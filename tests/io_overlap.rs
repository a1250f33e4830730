//! Tests of the io_overlap example (examples/io_overlap/): the shape of what
//! it reports, never its seconds.
//!
//! The example's modules are compiled into this test with `#[path]`, so the
//! building blocks are tested in-process; the command line is tested by
//! running the example binary (built here if `cargo test` did not build it).

// The test uses only part of each module.
#![allow(dead_code)]

#[path = "../examples/io_overlap/cli.rs"]
mod cli;
#[path = "../examples/io_overlap/html.rs"]
mod html;
#[path = "../examples/io_overlap/limits.rs"]
mod limits;
#[path = "../examples/io_overlap/measure.rs"]
mod measure;
#[path = "../examples/io_overlap/modes.rs"]
mod modes;
#[path = "../examples/io_overlap/processes.rs"]
mod processes;
#[path = "../examples/io_overlap/progress.rs"]
mod progress;
#[path = "../examples/io_overlap/report.rs"]
mod report;
#[path = "../examples/io_overlap/runner.rs"]
mod runner;
#[path = "../examples/io_overlap/service.rs"]
mod service;
#[path = "../examples/io_overlap/sweep.rs"]
mod sweep;
#[path = "../examples/io_overlap/timeline.rs"]
mod timeline;
#[path = "../examples/common/usage.rs"]
mod usage;
#[path = "../examples/io_overlap/workload.rs"]
mod workload;

mod util;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use modes::{Mode, Plan, TaskRecord};
use progress::Progress;
use serde_json::Value;
use workload::Workload;

/// The JSON keys of a `--json` line.
const JSON_KEYS: [&str; 22] = [
    "workload",
    "mode",
    "tasks",
    "wall_ms",
    "speedup",
    "os_threads",
    "processes",
    "peak_rss_kib",
    "context_switches",
    "corio_switches",
    "profile",
    "cores",
    "pinned",
    "busy_warning",
    "sweep",
    "ideal_ms",
    "start_ms",
    "cpu_ms",
    "system_ms",
    "listen_overflows",
    "harness_warning",
    "rounds_wall_ms",
];

/// The example binary (see `util::example_binary`), looked up once.
fn example_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| util::example_binary("io_overlap"))
}

fn run_example(args: &[&str]) -> Output {
    Command::new(example_binary())
        .args(args)
        .output()
        .expect("the example binary can be started")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn io_plan(tasks: usize, requests: u32, latency_ms: u64) -> Plan {
    Plan {
        workload: Workload::Io,
        tasks,
        requests,
        service: service::start(Duration::from_millis(latency_ms), tasks)
            .expect("the slow service starts")
            .addresses,
        cpu_rounds: 0,
        cores: 2,
    }
}

/// A table row of the io workload in `mode`: `tasks` tasks in `wall_ns`,
/// no task records, and 1 or nothing in every other figure; a test sets
/// the fields it looks at.
fn io_measurement(mode: Mode, tasks: usize, wall_ns: u64) -> runner::Measurement {
    runner::Measurement {
        workload: Workload::Io,
        mode,
        tasks,
        wall_ns,
        os_threads: 1,
        processes: 0,
        peak_rss_kib: 1,
        context_switches: 1,
        cpu_ns: 1,
        system_ns: 1,
        corio_switches: None,
        start_ns: 0,
        records: Vec::new(),
        others: Default::default(),
        listen_overflows: None,
        sweep: false,
        rounds_wall_ns: Vec::new(),
    }
}

fn results(records: &[TaskRecord]) -> Vec<u64> {
    records.iter().map(|r| r.result).collect()
}

/// Runs every mode in this process and returns each mode's results.
fn results_of_every_mode(plan: &Plan) -> Vec<(Mode, Vec<u64>)> {
    Mode::ALL
        .into_iter()
        .map(|mode| {
            let progress = Progress::new(String::new(), plan.tasks, false);
            let run = modes::run_mode(mode, plan, example_binary(), progress)
                .unwrap_or_else(|error| panic!("{mode} failed: {error}"));
            let ids: Vec<usize> = run.records.iter().map(|r| r.task).collect();
            assert_eq!(
                ids,
                (0..plan.tasks).collect::<Vec<_>>(),
                "{mode}: one record per task, in order"
            );
            assert!(
                run.records
                    .iter()
                    .all(|r| r.start_ns <= r.end_ns && r.start_ns >= run.start_ns)
            );
            let processes = match mode {
                Mode::Processes => plan.tasks,
                Mode::ProcessesThreads => plan.cores.min(plan.tasks),
                _ => 0,
            };
            assert_eq!(run.processes, processes, "{mode}: child processes");
            assert_eq!(
                run.corio_switches.is_some(),
                matches!(mode, Mode::Coroutines | Mode::Hybrid),
                "{mode}: corio's switch count exactly where corio ran"
            );
            if let Some(switches) = run.corio_switches {
                // Every task is switched in at least once.
                assert!(switches >= plan.tasks as u64, "{mode}: {switches} switches");
            }
            (mode, results(&run.records))
        })
        .collect()
}

#[test]
fn every_mode_returns_the_same_io_results() {
    let plan = io_plan(6, 2, 2);
    let expected: Vec<u64> = (0..plan.tasks)
        .map(|task| workload::expected_io_result(task, plan.requests))
        .collect();
    for (mode, results) in results_of_every_mode(&plan) {
        assert_eq!(results, expected, "{mode} returned different io results");
    }
}

#[test]
fn every_mode_returns_the_same_cpu_results() {
    let plan = Plan {
        workload: Workload::Cpu,
        tasks: 5,
        requests: 0,
        service: vec!["127.0.0.1:0".parse().unwrap()],
        cpu_rounds: 5_000,
        cores: 2,
    };
    let all = results_of_every_mode(&plan);
    let (_, serial) = &all[0];
    // Distinct tasks must compute distinct values, or the comparison is void.
    let mut distinct = serial.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), plan.tasks);
    for (mode, results) in &all {
        assert_eq!(
            results, serial,
            "{mode} returned different cpu results than serial"
        );
    }
}

#[test]
fn io_worker_runs_unchanged_over_any_read_write_stream() {
    // An in-memory stream that answers like the service: proof that the
    // worker depends on nothing but Read + Write.
    struct Echo {
        reply: Vec<u8>,
    }
    impl std::io::Read for Echo {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.reply.len());
            buf[..n].copy_from_slice(&self.reply[..n]);
            self.reply.drain(..n);
            Ok(n)
        }
    }
    impl std::io::Write for Echo {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let request = u64::from_le_bytes(buf.try_into().expect("requests are written whole"));
            self.reply
                .extend(workload::service_reply(request).to_le_bytes());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let result = workload::io_task(Echo { reply: Vec::new() }, 7, 4).unwrap();
    assert_eq!(result, workload::expected_io_result(7, 4));
    assert_ne!(result, workload::expected_io_result(7, 3));
}

/// Parses `--json` stdout into one object per line, checking every key.
fn json_lines(stdout: &str) -> Vec<Value> {
    let mut expected_keys = JSON_KEYS.to_vec();
    expected_keys.sort_unstable();
    stdout
        .lines()
        .map(|line| {
            let object: Value = serde_json::from_str(line)
                .unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
            let mut keys: Vec<&str> = object
                .as_object()
                .unwrap_or_else(|| panic!("not a JSON object: {line}"))
                .keys()
                .map(String::as_str)
                .collect();
            keys.sort_unstable();
            assert_eq!(keys, expected_keys, "keys of {line}");
            object
        })
        .collect()
}

fn field(object: &Value, key: &str) -> f64 {
    object[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number"))
}

#[test]
fn coroutine_io_mode_uses_exactly_one_os_thread() {
    let tasks = 12;
    let output = run_example(&[
        "--json",
        "--workload",
        "io",
        "--modes",
        "threads,coroutines,hybrid",
        "--tasks",
        "12",
        "--requests",
        "2",
        "--latency-ms",
        "20",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lines = json_lines(&text(&output.stdout));
    let by_mode = |mode: &str| {
        lines
            .iter()
            .find(|line| line["mode"].as_str() == Some(mode))
            .unwrap()
    };
    assert_eq!(field(by_mode("coroutines"), "os_threads"), 1.0);
    assert_eq!(
        field(by_mode("threads"), "os_threads"),
        tasks as f64 + 1.0,
        "main thread + one per task"
    );
    let cores = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(tasks);
    assert_eq!(
        field(by_mode("hybrid"), "os_threads"),
        cores as f64 + 1.0,
        "main thread (waiting) + one runtime thread per core (ThreadPerCore)"
    );
}

#[test]
fn json_output_is_one_object_per_workload_and_mode() {
    let output = run_example(&[
        "--json",
        "--tasks",
        "3",
        "--requests",
        "1",
        "--latency-ms",
        "1",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lines = json_lines(&text(&output.stdout));
    let pairs: Vec<(String, String)> = lines
        .iter()
        .map(|line| {
            let name = |key| line[key].as_str().unwrap().to_string();
            (name("workload"), name("mode"))
        })
        .collect();
    let expected: Vec<(String, String)> = ["io", "cpu"]
        .iter()
        .flat_map(|w| {
            Mode::ALL
                .iter()
                .map(move |m| (w.to_string(), m.name().to_string()))
        })
        .collect();
    assert_eq!(pairs, expected);
    for line in &lines {
        assert_eq!(field(line, "tasks"), 3.0);
        assert!(field(line, "wall_ms") > 0.0);
        assert!(field(line, "speedup") > 0.0);
        assert!(field(line, "os_threads") >= 1.0);
        assert!(field(line, "peak_rss_kib") > 0.0);
        field(line, "context_switches");
        let (cpu, system) = (field(line, "cpu_ms"), field(line, "system_ms"));
        assert!(
            (0.0..=cpu).contains(&system),
            "the kernel's part of the CPU time: {line}"
        );
        let processes = field(line, "processes");
        let cores = field(line, "cores");
        let expected = match line["mode"].as_str() {
            Some("processes") => 3.0,
            Some("processes+threads") => cores.min(3.0),
            _ => 0.0,
        };
        assert_eq!(processes, expected);
        let with_corio = matches!(line["mode"].as_str(), Some("coroutines" | "hybrid"));
        assert_eq!(line["corio_switches"] != Value::Null, with_corio);
        assert_eq!(
            line["profile"].as_str(),
            Some(if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            }),
            "the example is built in the test's profile"
        );
        assert_eq!(line["pinned"], Value::Bool(false));
    }
}

#[test]
fn one_cpu_pins_every_mode_and_says_what_it_changes() {
    let output = run_example(&[
        "--cpus",
        "1",
        "--workload",
        "cpu",
        "--modes",
        "serial,threads,processes+threads",
        "--tasks",
        "2",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("1 CPU core (pinned by --cpus)"), "{stdout}");
    assert!(
        stdout.contains("One CPU (--cpus 1): nothing runs in parallel"),
        "{stdout}"
    );

    let output = run_example(&[
        "--json",
        "--cpus",
        "1",
        "--workload",
        "cpu",
        "--modes",
        "processes+threads",
        "--tasks",
        "3",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lines = json_lines(&text(&output.stdout));
    assert_eq!(field(&lines[0], "cores"), 1.0);
    assert_eq!(lines[0]["pinned"], Value::Bool(true));
    // One core: one process, holding all three task threads.
    assert_eq!(field(&lines[0], "processes"), 1.0);
    assert!(field(&lines[0], "os_threads") >= 4.0);

    let output = run_example(&["--cpus", "100000"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "out of range is a usage error"
    );
}

#[test]
fn json_speedup_is_null_without_serial() {
    let output = run_example(&[
        "--json",
        "--workload",
        "cpu",
        "--modes",
        "coroutines",
        "--tasks",
        "1",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lines = json_lines(&text(&output.stdout));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["speedup"], Value::Null);
}

#[test]
fn bad_arguments_exit_2_with_a_message_and_the_usage() {
    let cases: [(&[&str], &str); 10] = [
        (&["--tasks", "0"], "--tasks"),
        (&["--tasks", "many"], "--tasks"),
        (&["--tasks"], "a value is required for '--tasks"),
        (&["--latency-ms", "-5"], "--latency-ms"),
        (&["--requests", "0"], "--requests"),
        (&["--modes", "threads,fibers"], "fibers"),
        (&["--modes", "serial,serial"], "twice"),
        (&["--workload", "disk"], "--workload"),
        (&["--json=yes"], "--json"),
        (&["--frobnicate"], "--frobnicate"),
    ];
    for (args, mentions) in cases {
        let output = run_example(args);
        let stderr = text(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?} should exit 2; stderr: {stderr}"
        );
        let first_line = stderr.lines().next().unwrap_or_default();
        assert!(
            first_line.contains(mentions),
            "{args:?}: first line {first_line:?} should mention {mentions:?}"
        );
        assert!(
            stderr.contains("usage: io_overlap"),
            "{args:?}: the usage follows the error"
        );
        assert!(output.stdout.is_empty(), "{args:?}: nothing on stdout");
    }
}

/// `io_overlap --help | head -3`: stdout's reader is gone before the
/// help is written. The example ends quietly with success, as clap's own
/// `--help` does, instead of panicking on `EPIPE`.
#[test]
fn help_into_a_closed_pipe_exits_quietly() {
    let output = util::run_with_closed_stdout(example_binary(), &["--help"]);
    assert!(output.status.success(), "{:?}", output.status);
    let stderr = text(&output.stderr);
    assert!(stderr.is_empty(), "stderr:\n{stderr}");
}

#[test]
fn help_prints_the_usage_and_succeeds() {
    let output = run_example(&["--help"]);
    assert!(output.status.success());
    assert!(text(&output.stdout).contains("--workload <io|cpu|both>"));
}

#[test]
fn human_output_has_table_sentences_and_timeline() {
    let output = run_example(&[
        "--workload",
        "io",
        "--tasks",
        "4",
        "--requests",
        "1",
        "--latency-ms",
        "5",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    for mode in Mode::ALL {
        assert!(
            stdout
                .lines()
                .any(|line| line.starts_with(&format!("io       {mode}"))),
            "table row for {mode}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("Coroutines overlap"),
        "sentences:\n{stdout}"
    );
    assert!(stdout.contains("io timeline"), "timeline:\n{stdout}");
    let widest = stdout
        .lines()
        .map(|line| line.chars().count())
        .max()
        .unwrap();
    assert!(
        widest <= 100,
        "fits a 100-column terminal, widest line is {widest}"
    );
    assert!(
        text(&output.stderr).contains("io/coroutines"),
        "progress names the mode on stderr"
    );
}

#[test]
fn trace_file_is_chrome_trace_json_with_every_task() {
    let path = std::env::temp_dir().join(format!("io_overlap_trace_{}.json", std::process::id()));
    let output = run_example(&[
        "--json",
        "--workload",
        "io",
        "--modes",
        "serial,coroutines",
        "--tasks",
        "3",
        "--requests",
        "1",
        "--latency-ms",
        "1",
        "--trace",
        path.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout).lines().count(),
        2,
        "--json keeps stdout to the JSON lines"
    );
    let trace: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).expect("the trace is JSON");
    fs::remove_file(&path).unwrap();
    let events = trace["traceEvents"]
        .as_array()
        .expect("a traceEvents array");
    for e in events {
        for key in ["ph", "ts", "pid", "tid", "name"] {
            assert!(e.get(key).is_some(), "{key} missing in {e}");
        }
    }
    let pid = |e: &serde_json::Value| e["pid"].as_u64().unwrap();
    let spans: Vec<_> = events.iter().filter(|e| e["ph"] == "X").collect();
    let (task_spans, runtime_spans): (Vec<&serde_json::Value>, Vec<&serde_json::Value>) =
        spans.iter().partition(|e| pid(e) < 1000);
    assert_eq!(
        task_spans.len(),
        2 * (3 + 1),
        "per mode: one span per task plus the whole mode"
    );
    for span in spans {
        assert!(span["ts"].as_f64().unwrap() >= 0.0 && span["dur"].as_f64().unwrap() >= 0.0);
    }
    // The coroutines mode's runtime: every task's run until it waited to
    // read its reply, each task on its own track, and the polls.
    let reads = runtime_spans
        .iter()
        .filter(|e| e["name"].as_str().unwrap().starts_with("run → read #"))
        .count();
    assert!(
        reads >= 3,
        "one wait for a reply per task at least: {reads}"
    );
    assert!(runtime_spans.iter().any(|e| e["cat"] == "poll"));
    let woken_by_io = events
        .iter()
        .filter(|e| pid(e) >= 1000 && e["name"] == "woken (io)")
        .count();
    assert!(woken_by_io >= 3, "each reply wakes its task: {woken_by_io}");
}

#[test]
fn command_line_parsing() {
    let parse = |args: &[&str]| cli::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let cli::Command::Run(defaults) = parse(&[]).unwrap() else {
        panic!("no args means run")
    };
    assert_eq!(defaults, cli::Options::default());
    assert_eq!(defaults.tasks_for(Workload::Io), cli::DEFAULT_IO_TASKS);
    assert_eq!(defaults.tasks_for(Workload::Cpu), cli::DEFAULT_CPU_TASKS);
    let cli::Command::Run(options) = parse(&[
        "--tasks=7",
        "--modes",
        "hybrid,serial",
        "--workload",
        "cpu",
        "--json",
    ])
    .unwrap() else {
        panic!("valid arguments")
    };
    assert_eq!(options.tasks_for(Workload::Io), 7);
    assert_eq!(
        options.modes,
        [Mode::Serial, Mode::Hybrid],
        "modes are reported in canonical order"
    );
    assert_eq!(options.workloads, [Workload::Cpu]);
    assert!(options.json);
    assert_eq!(parse(&["-h"]), Ok(cli::Command::Help));
    assert!(
        parse(&["--latency-ms", "10001"])
            .unwrap_err()
            .contains("0 to 10000")
    );
}

#[test]
fn timeline_shows_staggering_and_overlap() {
    let column = 1_000.0;
    assert_eq!(
        timeline::bar(0, 0, column).matches('#').count(),
        1,
        "a short task still shows"
    );
    let whole = timeline::bar(0, (timeline::BAR_WIDTH as u64 - 1) * 1_000, column);
    assert!(!whole.contains('.'));
    let record = |task, start_ns, end_ns| TaskRecord {
        task,
        result: 0,
        start_ns,
        end_ns,
    };
    let measured = |mode, records: Vec<TaskRecord>| {
        let (tasks, wall_ns) = (records.len(), records.iter().map(|r| r.end_ns).max());
        runner::Measurement {
            records,
            ..io_measurement(mode, tasks, wall_ns.unwrap())
        }
    };
    let serial = measured(
        Mode::Serial,
        (0..3)
            .map(|i| record(i, i as u64 * 100, i as u64 * 100 + 100))
            .collect(),
    );
    let threads = measured(Mode::Threads, (0..3).map(|i| record(i, 0, 100)).collect());
    let rendered = timeline::render(&[&serial, &threads], 3);
    let rows: Vec<&str> = rendered.lines().skip(1).collect();
    let first_hash = |row: &str| row.find('#').unwrap();
    assert!(
        first_hash(rows[0]) < first_hash(rows[1]) && first_hash(rows[1]) < first_hash(rows[2]),
        "serial staggers:\n{rendered}"
    );
    assert!(
        rows[3..]
            .iter()
            .all(|row| first_hash(row) == first_hash(rows[3])),
        "threads overlap:\n{rendered}"
    );
}

#[test]
fn reports_survive_the_trip_between_processes() {
    let child = processes::ChildReport {
        records: vec![
            TaskRecord {
                task: 3,
                result: u64::MAX,
                start_ns: 10,
                end_ns: 20,
            },
            TaskRecord {
                task: 5,
                result: 7,
                start_ns: 11,
                end_ns: 21,
            },
        ],
        peak_rss_kib: 2048,
        os_threads: 3,
    };
    assert_eq!(processes::ChildReport::parse(&child.to_text()), Some(child));
    assert_eq!(processes::ChildReport::parse("task 1 2 3"), None);
    assert_eq!(
        processes::ChildReport::parse("task 1 2 3 4\n"),
        None,
        "no child line"
    );
    assert_eq!(
        processes::ChildReport::parse("child 1 1\n"),
        None,
        "no task"
    );

    let plan = Plan {
        workload: Workload::Cpu,
        tasks: 1,
        requests: 1,
        service: vec![
            "127.0.0.1:9".parse().unwrap(),
            "127.0.0.1:10".parse().unwrap(),
        ],
        cpu_rounds: 5,
        cores: 2,
    };
    assert_eq!(Plan::from_args(&plan.to_args()), Ok(plan.clone()));
    let measured = runner::Measurement {
        workload: Workload::Cpu,
        mode: Mode::Hybrid,
        tasks: 1,
        wall_ns: 5,
        os_threads: 2,
        processes: 0,
        peak_rss_kib: 3000,
        context_switches: 9,
        cpu_ns: 77,
        system_ns: 31,
        corio_switches: Some(12),
        start_ns: 100,
        records: vec![TaskRecord {
            task: 0,
            result: 42,
            start_ns: 101,
            end_ns: 104,
        }],
        others: Default::default(),
        listen_overflows: None,
        sweep: false,
        rounds_wall_ns: Vec::new(),
    };
    assert_eq!(
        runner::parse_report(Mode::Hybrid, &plan, &runner::format_report(&measured)),
        Some(measured.clone())
    );
    let threads = runner::Measurement {
        mode: Mode::Threads,
        corio_switches: None,
        ..measured
    };
    assert_eq!(
        runner::parse_report(Mode::Threads, &plan, &runner::format_report(&threads)),
        Some(threads)
    );
}

#[test]
fn hybrid_deals_tasks_round_robin() {
    assert_eq!(modes::deal(5, 2), [vec![0, 2, 4], vec![1, 3]]);
    assert_eq!(modes::deal(1, 4), [vec![0]], "never an idle runtime");
}

/// Runs the example under `ulimit -n files` (soft and hard), as on a
/// machine whose open-file limit the example cannot raise further.
fn run_example_with_open_files(files: u32, args: &[&str]) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
        .arg(example_binary())
        .args(args)
        .output()
        .expect("sh can run the example binary")
}

#[test]
fn sweep_rows_carry_the_table_keys_and_mark_themselves() {
    let output = run_example(&[
        "--json",
        "--workload",
        "io",
        "--modes",
        "threads",
        "--tasks",
        "2",
        "--sweep",
        "5,3",
        "--requests",
        "1",
        "--latency-ms",
        "2",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let lines = json_lines(&text(&output.stdout));
    let rows: Vec<(bool, String, f64)> = lines
        .iter()
        .map(|line| {
            (
                line["sweep"].as_bool().expect("sweep is a boolean"),
                line["mode"].as_str().unwrap().to_string(),
                field(line, "tasks"),
            )
        })
        .collect();
    let row = |sweep, mode: &str, tasks| (sweep, mode.to_string(), tasks);
    assert_eq!(
        rows,
        [
            row(false, "threads", 2.0),
            row(true, "threads", 3.0),
            row(true, "coroutines", 3.0),
            row(true, "threads", 5.0),
            row(true, "coroutines", 5.0),
        ],
        "the table's row, then the sweep's in ascending task counts"
    );
    for line in &lines {
        assert_eq!(field(line, "ideal_ms"), 2.0, "one wait of 2 ms");
        assert!(field(line, "wall_ms") >= 2.0, "no run beats its one wait");
        assert!(field(line, "start_ms") <= field(line, "wall_ms"));
        let overflows = field(line, "listen_overflows");
        assert_eq!(
            line["harness_warning"].is_null(),
            overflows == 0.0,
            "a warning exactly when the kernel dropped connections: {line}"
        );
        if line["sweep"] == Value::Bool(true) {
            assert_eq!(
                line["speedup"],
                Value::Null,
                "serial never runs in the sweep"
            );
            let threads = if line["mode"] == "threads" {
                field(line, "tasks") + 1.0
            } else {
                1.0
            };
            assert_eq!(field(line, "os_threads"), threads, "{line}");
            let mut rounds: Vec<f64> = line["rounds_wall_ms"]
                .as_array()
                .expect("a sweep row lists its runs")
                .iter()
                .map(|ms| ms.as_f64().unwrap())
                .collect();
            assert_eq!(rounds.len(), 3, "three runs per step by default: {line}");
            rounds.sort_by(f64::total_cmp);
            assert_eq!(field(line, "wall_ms"), rounds[1], "the median run: {line}");
        } else {
            assert_eq!(line["rounds_wall_ms"], Value::Null, "{line}");
        }
    }
}

#[test]
fn a_sweep_step_reports_its_median_run_with_every_runs_wall_time() {
    let run = |wall_ns| runner::Measurement {
        cpu_ns: wall_ns,
        system_ns: wall_ns / 2,
        ..io_measurement(Mode::Threads, 1, wall_ns)
    };
    let picked = sweep::median(vec![run(300), run(100), run(200)]);
    assert_eq!(
        (picked.wall_ns, picked.cpu_ns),
        (200, 200),
        "the median run, whole"
    );
    assert!(picked.sweep);
    assert_eq!(
        picked.rounds_wall_ns,
        [300, 100, 200],
        "in the order they ran"
    );
    let even = sweep::median(vec![run(4), run(1), run(3), run(2)]);
    assert_eq!(even.wall_ns, 2, "the lower middle one");
    assert_eq!(sweep::median(vec![run(7)]).rounds_wall_ns, [7]);
}

#[test]
fn the_sweep_says_what_bounds_the_coroutines_at_its_largest_step() {
    let setup = report::Setup {
        cores: 2,
        pinned: false,
        requests: 3,
        latency_ms: 10,
        cpu_task_ms: 0.0,
    };
    let ms = 1_000_000;
    let step = |mode, tasks, wall_ms: u64, cpu_ms: u64, system_ms: u64| runner::Measurement {
        context_switches: 4321,
        cpu_ns: cpu_ms * ms,
        system_ns: system_ms * ms,
        sweep: true,
        ..io_measurement(mode, tasks, wall_ms * ms)
    };
    let sweep = |coroutines_wall, coroutines_cpu| {
        vec![
            step(Mode::Threads, 10, 32, 3, 2),
            step(Mode::Coroutines, 10, 31, 2, 1),
            step(Mode::Threads, 10_000, 2000, 2600, 2100),
            step(
                Mode::Coroutines,
                10_000,
                coroutines_wall,
                coroutines_cpu,
                900,
            ),
        ]
    };
    // Busy for nearly all of its wall time, far past the 30 ms ideal.
    let bound = report::sweep_sentences(&sweep(1000, 980), &setup).unwrap();
    assert!(
        bound.starts_with("At 10000 tasks threads took 2.0x the coroutines' wall time"),
        "{bound}"
    );
    assert!(
        bound.contains(
            "on a CPU for 98 % of their wall time, 92 % of that in the kernel, where the TCP \
             work of 10000 connections is done: at this count that work bounds them, not the \
             30 ms of waiting"
        ),
        "{bound}"
    );
    assert!(
        bound.contains("on 2 cores shared with the slow service")
            && bound.contains("4321 kernel switches"),
        "{bound}"
    );
    // Too little CPU time for the kernel's tick-sampled split to mean much.
    let short = vec![
        step(Mode::Threads, 100, 200, 150, 100),
        step(Mode::Coroutines, 100, 100, 90, 60),
    ];
    let short = report::sweep_sentences(&short, &setup).unwrap();
    assert!(
        short.contains(
            "on a CPU for 90 % of their wall time, running 100 connections: at this count \
             that work bounds them"
        ) && !short.contains("in the kernel"),
        "{short}"
    );
    // On a CPU for a fifth of the time: the waits bound them.
    let waiting = report::sweep_sentences(&sweep(1000, 200), &setup).unwrap();
    assert!(
        waiting.ends_with(
            "The coroutines' one thread was on a CPU for 20 % of their wall time; the rest it \
             waited for the slow service."
        ),
        "{waiting}"
    );
    // Busy, but close to the ideal: nothing to explain beyond the waits.
    let near_ideal = step(Mode::Coroutines, 10, 40, 38, 30);
    let near = report::sweep_sentences(&[step(Mode::Threads, 10, 50, 3, 2), near_ideal], &setup);
    assert!(
        near.unwrap()
            .contains("the rest it waited for the slow service")
    );
    // Only one mode ran: nothing to compare.
    assert_eq!(
        report::sweep_sentences(&[step(Mode::Threads, 10, 32, 3, 2)], &setup),
        None
    );
}

#[test]
fn the_default_sweep_runs_only_for_the_default_shape() {
    let parse = |args: &[&str]| match cli::parse(args) {
        Ok(cli::Command::Run(options)) => options.sweep_counts(),
        other => panic!("{args:?} gave {other:?}"),
    };
    assert_eq!(parse(&[]), cli::DEFAULT_SWEEP);
    assert_eq!(parse(&["--json", "--cpus", "1"]), cli::DEFAULT_SWEEP);
    assert_eq!(parse(&["--tasks", "5"]), Vec::<usize>::new());
    assert_eq!(parse(&["--modes", "threads"]), Vec::<usize>::new());
    assert_eq!(parse(&["--workload", "cpu"]), Vec::<usize>::new());
    assert_eq!(parse(&["--no-sweep"]), Vec::<usize>::new());
    assert_eq!(parse(&["--tasks", "5", "--sweep", "30,2,30"]), [2, 30]);
    assert!(
        cli::parse(&["--sweep", "10,0"])
            .unwrap_err()
            .contains("\"0\"")
    );
    assert!(cli::parse(&["--sweep", "10", "--no-sweep"]).is_err());
    let cli::Command::Run(options) = cli::parse(&["--tasks", "7", "--sweep", "3,40"]).unwrap()
    else {
        panic!("valid arguments")
    };
    assert_eq!(
        options.most_connections(),
        40,
        "the service is sized for the sweep"
    );
    let rounds = |args: &[&str]| match cli::parse(args) {
        Ok(cli::Command::Run(options)) => Ok(options.sweep_rounds),
        Ok(other) => panic!("{args:?} gave {other:?}"),
        Err(error) => Err(error),
    };
    assert_eq!(rounds(&[]), Ok(cli::DEFAULT_SWEEP_ROUNDS));
    assert_eq!(rounds(&["--sweep-rounds", "1"]), Ok(1));
    for bad in ["0", "10", "x"] {
        let error = rounds(&["--sweep-rounds", bad]).unwrap_err();
        assert!(error.contains("--sweep-rounds"), "{bad}: {error}");
    }
}

#[test]
fn a_sweep_step_over_the_open_file_limit_stops_the_sweep_with_one_line() {
    let output = run_example_with_open_files(
        200,
        &[
            "--workload",
            "io",
            "--modes",
            "coroutines",
            "--tasks",
            "2",
            "--sweep",
            "3,1000,2000",
            "--requests",
            "1",
            "--latency-ms",
            "1",
        ],
    );
    let stdout = text(&output.stdout);
    assert!(
        output.status.success(),
        "{}\n{stdout}",
        text(&output.stderr)
    );
    let stopped: Vec<&str> = stdout
        .lines()
        .filter(|line| line.contains("sweep stopped"))
        .collect();
    assert_eq!(stopped.len(), 1, "one line says why:\n{stdout}");
    assert!(stopped[0].contains("at 1000 tasks"), "{}", stopped[0]);
    let paragraph = &stdout[stdout.find("The sweep stopped").unwrap()..];
    assert!(
        paragraph.contains("open-file limit is 200") && paragraph.contains("ulimit -Hn"),
        "names the limit and how to raise it:\n{paragraph}"
    );
    assert!(
        stdout.contains("     3 coroutines"),
        "the step that fitted is reported:\n{stdout}"
    );
    assert!(!stdout.contains("  1000 coroutines"));
}

#[test]
fn a_run_that_does_not_fit_is_refused_before_it_starts() {
    let plan = Plan {
        workload: Workload::Io,
        tasks: 1 << 40,
        requests: 1,
        service: vec!["127.0.0.1:9".parse().unwrap()],
        cpu_rounds: 0,
        cores: 2,
    };
    for mode in [Mode::Coroutines, Mode::Threads] {
        let why = limits::check(mode, &plan).unwrap_err();
        assert!(why.contains("open files"), "{mode}: {why}");
    }
    let small = Plan { tasks: 4, ..plan };
    for mode in Mode::ALL {
        assert_eq!(limits::check(mode, &small), Ok(()), "{mode}");
    }
}

#[test]
fn the_service_has_room_for_twice_the_connections_in_its_queues() {
    assert_eq!(service::listeners_for(1, 4096), 1);
    assert_eq!(service::listeners_for(2048, 4096), 1);
    assert_eq!(service::listeners_for(10_000, 4096), 5);
    assert_eq!(service::listeners_for(10_000, 128), 64, "capped");
    let sizing = service::start(Duration::from_millis(1), 10_000).expect("the service starts");
    let listeners = sizing.addresses.len();
    assert_eq!(listeners, service::listeners_for(10_000, sizing.backlog));
    assert!(
        listeners * sizing.backlog >= 20_000 || listeners == 64,
        "{sizing:?}"
    );
    let mut ports: Vec<u16> = sizing.addresses.iter().map(|a| a.port()).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), listeners, "a port per listener: {sizing:?}");
    assert!(sizing.addresses.iter().all(|a| a.ip().is_loopback()));
    // Tasks take the listeners in turn, and every listener answers.
    let plan = Plan {
        workload: Workload::Io,
        tasks: 2 * listeners,
        requests: 1,
        service: sizing.addresses.clone(),
        cpu_rounds: 0,
        cores: 2,
    };
    for task in 0..plan.tasks {
        let address = plan.service_for(task);
        assert_eq!(address, sizing.addresses[task % listeners]);
        let stream = std::net::TcpStream::connect(address).unwrap();
        assert_eq!(
            workload::io_task(stream, task, 1).unwrap(),
            workload::expected_io_result(task, 1)
        );
    }
}

/// The kernel walks the ephemeral ports for a free one *per destination*;
/// past about 14,000 connections open to one address and port (half of
/// Linux's default range, which `connect` tries first) each `connect`
/// walks thousands of taken ports. Round robin over the listeners keeps
/// every destination far below that at any task count the CLI accepts.
#[test]
fn no_listener_holds_enough_connections_to_slow_the_kernel_s_port_search() {
    for backlog in [128, 1024, 4096, 65_535] {
        for tasks in [1, 1_000, 10_000, 19_000, 50_000, 100_000] {
            let listeners = service::listeners_for(tasks, backlog);
            let busiest = tasks.div_ceil(listeners);
            assert!(
                busiest <= 4_000,
                "{tasks} tasks, backlog {backlog}: {busiest} connections on one listener"
            );
        }
    }
}

#[test]
fn netstat_counters_are_read_by_group_and_name() {
    let path = std::env::temp_dir().join(format!("io_overlap_netstat_{}", std::process::id()));
    fs::write(
        &path,
        "TcpExt: SyncookiesSent ListenOverflows ListenDrops\nTcpExt: 0 17 19\n\
         IpExt: InNoRoutes ListenOverflows\nIpExt: 1 99\n",
    )
    .unwrap();
    let file = path.to_str().unwrap();
    assert_eq!(
        usage::netstat_counter(file, "TcpExt", "ListenOverflows").unwrap(),
        17
    );
    assert_eq!(
        usage::netstat_counter(file, "IpExt", "ListenOverflows").unwrap(),
        99
    );
    assert!(usage::netstat_counter(file, "TcpExt", "Nope").is_err());
    fs::remove_file(&path).unwrap();
    // The real file has the counter the example watches.
    assert!(measure::listen_overflows().is_some());
}

#[test]
fn html_to_an_unwritable_path_is_a_usage_error_before_any_work() {
    let output = run_example(&["--html", "/nonexistent-dir/page.html"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("--html") && first.contains("/nonexistent-dir/page.html"),
        "{first}"
    );
    assert!(stderr.contains("usage: io_overlap"));
    assert!(output.stdout.is_empty());
    assert!(!stderr.contains("tasks done"), "no mode ran: {stderr}");
}

/// Checks that every element of an HTML page is closed in order (void
/// elements and `/>` aside), and returns the names of the elements opened.
fn balanced_elements(page: &str) -> Vec<String> {
    const VOID: [&str; 6] = ["meta", "br", "hr", "img", "input", "link"];
    let mut open: Vec<String> = Vec::new();
    let mut seen = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find('<') {
        let end = rest[at..].find('>').expect("every tag is closed by >") + at;
        let tag = &rest[at + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('!') {
            continue;
        }
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(!name.is_empty(), "a tag without a name: <{tag}>");
        if closing {
            assert_eq!(
                open.pop().as_deref(),
                Some(name.as_str()),
                "</{name}> closes something else"
            );
        } else {
            if !tag.ends_with('/') && !VOID.contains(&name.as_str()) {
                open.push(name.clone());
            }
            seen.push(name);
        }
    }
    assert!(open.is_empty(), "never closed: {open:?}");
    seen
}

/// What would make a page reach the network.
fn network_references(page: &str) -> Vec<String> {
    let lower = page.to_ascii_lowercase();
    let mut found = Vec::new();
    for attribute in ["src=", "href="] {
        for quote in ["\"", "'", ""] {
            for scheme in ["http://", "https://", "//"] {
                let needle = format!("{attribute}{quote}{scheme}");
                if lower.contains(&needle) {
                    found.push(needle);
                }
            }
        }
    }
    for needle in [
        "<script src",
        "@import",
        "url(http",
        "url(//",
        "url(\"http",
        "url('http",
    ] {
        if lower.contains(needle) {
            found.push(needle.to_string());
        }
    }
    found
}

#[test]
fn the_page_checkers_catch_what_they_look_for() {
    balanced_elements(
        "<html><body><svg><line x1=\"0\"/></svg><table><tr></tr></table></body></html>",
    );
    let unbalanced = std::panic::catch_unwind(|| balanced_elements("<svg><table></svg></table>"));
    assert!(unbalanced.is_err());
    assert!(network_references("<a href=\"#x\">x</a><p>see https://example.org</p>").is_empty());
    assert_eq!(network_references("<img src=\"https://x/y.png\">").len(), 1);
    assert_eq!(
        network_references("<style>@import url(http://x)</style>").len(),
        2
    );
}

#[test]
fn html_page_is_self_contained_with_table_timelines_and_sweep_chart() {
    let path = std::env::temp_dir().join(format!("io_overlap_page_{}.html", std::process::id()));
    let output = run_example(&[
        "--workload",
        "io",
        "--modes",
        "serial,processes+threads,coroutines",
        "--tasks",
        "3",
        "--requests",
        "1",
        "--latency-ms",
        "1",
        "--sweep",
        "2,4",
        "--html",
        path.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let page = fs::read_to_string(&path).expect("the page was written");
    fs::remove_file(&path).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"));
    let elements = balanced_elements(&page);
    let count = |name: &str| elements.iter().filter(|e| *e == name).count();
    // One timeline per mode, three sweep charts; the table and the sweep's.
    assert_eq!(count("svg"), 3 + 3, "svg elements");
    assert_eq!(count("table"), 2, "table elements");
    assert_eq!(count("rect"), 3 * 3, "a bar per task per mode");
    assert!(!page.contains("<script"), "no script at all");
    assert_eq!(network_references(&page), Vec::<String>::new());
    for mode in ["serial", "processes+threads", "coroutines"] {
        assert!(
            page.contains(&format!("<td class=\"name\">{mode}</td>")),
            "{mode} row"
        );
    }
    assert!(page.contains("tasks (log scale)"));
    assert!(
        page.contains("process 1, own thread"),
        "where each task ran"
    );
}

#[test]
fn timeline_bars_line_up_whatever_the_mode_names() {
    let record = |task| TaskRecord {
        task,
        result: 0,
        start_ns: 0,
        end_ns: 100,
    };
    let measured = |mode| runner::Measurement {
        records: vec![record(0), record(1)],
        ..io_measurement(mode, 2, 100)
    };
    let all: Vec<runner::Measurement> = Mode::ALL.into_iter().map(measured).collect();
    let refs: Vec<&runner::Measurement> = all.iter().collect();
    let rendered = timeline::render(&refs, 2);
    let bars: Vec<usize> = rendered
        .lines()
        .skip(1)
        .map(|line| line.find('|').expect("a bar"))
        .collect();
    assert_eq!(bars.len(), 2 * Mode::ALL.len());
    assert!(bars.iter().all(|&at| at == bars[0]), "{rendered}");
}

#[test]
fn trace_to_an_html_file_writes_the_offline_viewer_of_the_coroutines_run() {
    let dir = std::env::temp_dir().join(format!("io_overlap_trace_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("run.html");
    let output = run_example(&[
        "--workload",
        "io",
        "--modes",
        "coroutines",
        "--tasks",
        "20",
        "--no-sweep",
        "--trace",
        page.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let html = std::fs::read_to_string(&page).expect("the page is written");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        html.starts_with("<!DOCTYPE html"),
        "{}",
        &html[..100.min(html.len())]
    );
    assert!(html.contains("<canvas"), "the viewer draws on a canvas");
    assert!(html.contains("application/json"), "the events are embedded");
    for network in ["http://", "https://", "<script src", "@import"] {
        assert!(!html.contains(network), "{network} in the page");
    }
}
