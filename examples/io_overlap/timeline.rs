//! A text timeline: for the first few tasks of every mode, one row per task
//! with `#` from the moment it started until it finished (running, or
//! waiting for a reply or for its turn on a CPU).
//!
//! All modes of a workload share one time scale, so serial's staircase and
//! the concurrent modes' stacked bars can be compared by eye.
//!
//! [`chrome_trace`] writes the same timelines, every task of every mode,
//! for a trace viewer (`--trace`).

use serde_json::{Value, json};

use crate::runner::Measurement;

/// Columns of a timeline bar.
pub const BAR_WIDTH: usize = 60;

/// The time a timeline of the first `rows` tasks of each of `measured`
/// spans: it ends when the last shown task of the slowest mode ends (at
/// least 1 ns).
pub fn window_ns(measured: &[&Measurement], rows: usize) -> u64 {
    measured
        .iter()
        .flat_map(|m| {
            m.records
                .iter()
                .take(rows)
                .map(|r| r.end_ns.saturating_sub(m.start_ns))
        })
        .max()
        .unwrap_or(0)
        .max(1)
}

/// The timeline of `measured` (all of one workload), `rows` tasks per mode.
pub fn render(measured: &[&Measurement], rows: usize) -> String {
    let Some(first) = measured.first() else {
        return String::new();
    };
    let rows = rows.min(first.tasks);
    let window_ns = window_ns(measured, rows);
    let column_ns = window_ns as f64 / BAR_WIDTH as f64;
    let mut out = format!(
        "{} timeline: tasks 0-{} of each mode, 0 to {:.0} ms, one column = {}\n",
        first.workload,
        rows - 1,
        window_ns as f64 / 1e6,
        duration_label(column_ns)
    );
    // Every row's bar starts in the same column, whatever the modes shown.
    let label_width = measured
        .iter()
        .map(|m| m.mode.name().len())
        .max()
        .unwrap_or(0);
    for m in measured {
        for (row, record) in m.records.iter().take(rows).enumerate() {
            let label = if row == 0 { m.mode.name() } else { "" };
            let start = record.start_ns.saturating_sub(m.start_ns);
            let end = record.end_ns.saturating_sub(m.start_ns);
            out += &format!(
                "{label:<label_width$} {:>3} |{}|\n",
                record.task,
                bar(start, end, column_ns)
            );
        }
    }
    out
}

/// `#` for every column that [start, end] touches, `.` elsewhere. A task
/// shorter than a column still shows as one `#`.
pub fn bar(start_ns: u64, end_ns: u64, column_ns: f64) -> String {
    (0..BAR_WIDTH)
        .map(|column| {
            let column_start = column as f64 * column_ns;
            let column_end = column_start + column_ns;
            let touches = (start_ns as f64) < column_end && (end_ns as f64) >= column_start;
            if touches { '#' } else { '.' }
        })
        .collect()
}

fn duration_label(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.0} µs", ns / 1e3)
    }
}

/// The Chrome trace-event JSON of every task of every mode.
///
/// Each (workload, mode) is a trace "process" whose rows ("threads") are
/// its tasks; row 0 spans the whole mode. Every mode starts at time 0 so
/// they line up for comparison. Open the file in <https://ui.perfetto.dev>
/// or `chrome://tracing`.
///
/// `fragments` are the coroutines runs' runtime traces (every switch, wait
/// and wake-up, from `corio::trace`), each a run of `,\n{event}` to append.
/// They are spliced in as the text they are: parsing up to a million events
/// back into values would cost far more memory than the file, for the same
/// bytes. So the document is assembled as text, one event per line, each of
/// this function's own events written by serde_json.
pub fn chrome_trace(all: &[Measurement], fragments: &[String]) -> String {
    let micros = |ns: u64| ns as f64 / 1e3;
    let mut events: Vec<Value> = Vec::new();
    for (index, m) in all.iter().enumerate() {
        let pid = index + 1;
        let name = format!("{} / {}", m.workload, m.mode);
        let metadata = |name: &str, args: Value| json!({"name": name, "ph": "M", "pid": pid, "tid": 0, "ts": 0, "args": args});
        events.push(metadata("process_name", json!({"name": name})));
        events.push(metadata("process_sort_index", json!({"sort_index": pid})));
        events.push(metadata("thread_name", json!({"name": "whole mode"})));
        events.push(json!({
            "name": format!("{name}: {} tasks", m.tasks),
            "cat": m.workload.name(),
            "ph": "X",
            "ts": 0,
            "dur": micros(m.wall_ns),
            "pid": pid,
            "tid": 0,
            "args": {
                "os_threads": m.os_threads,
                "processes": m.processes,
                "peak_rss_kib": m.peak_rss_kib,
                "context_switches": m.context_switches,
            },
        }));
        for r in &m.records {
            let tid = r.task + 1;
            events.push(json!({
                "name": "thread_name", "ph": "M", "pid": pid, "tid": tid, "ts": 0,
                "args": {"name": format!("task {}", r.task)},
            }));
            events.push(json!({
                "name": format!("task {}", r.task),
                "cat": m.workload.name(),
                "ph": "X",
                "ts": micros(r.start_ns.saturating_sub(m.start_ns)),
                "dur": micros(r.end_ns.saturating_sub(r.start_ns)),
                "pid": pid,
                "tid": tid,
                "args": {"result": format!("{:#018x}", r.result)},
            }));
        }
    }
    let lines: Vec<String> = events.iter().map(Value::to_string).collect();
    let mut out = String::from("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
    out += &lines.join(",\n");
    for fragment in fragments {
        out += fragment;
    }
    out += "\n]}\n";
    out
}
