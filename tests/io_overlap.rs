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
const JSON_KEYS: [&str; 14] = [
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
        service: service::start(Duration::from_millis(latency_ms))
            .expect("the slow service starts"),
        cpu_rounds: 0,
        cores: 2,
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
        service: "127.0.0.1:0".parse().unwrap(),
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
    let measured = |mode, records: Vec<TaskRecord>| runner::Measurement {
        workload: Workload::Io,
        mode,
        tasks: records.len(),
        wall_ns: records.iter().map(|r| r.end_ns).max().unwrap(),
        os_threads: 1,
        processes: 0,
        peak_rss_kib: 1,
        context_switches: 1,
        corio_switches: None,
        start_ns: 0,
        records,
        others: Default::default(),
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
        service: "127.0.0.1:9".parse().unwrap(),
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
        corio_switches: Some(12),
        start_ns: 100,
        records: vec![TaskRecord {
            task: 0,
            result: 42,
            start_ns: 101,
            end_ns: 104,
        }],
        others: Default::default(),
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
