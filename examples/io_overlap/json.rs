//! Machine-readable output: `--json` lines and the `--trace` file.
//!
//! Both are written by hand: the shapes are flat and fixed, and the example
//! should not need a serialisation crate to print nine numbers.

use std::fmt::Write as _;

use crate::report;
use crate::runner::Measurement;

/// One `--json` line: exactly the keys `workload`, `mode`, `tasks`,
/// `wall_ms`, `speedup` (`null` when serial did not run), `os_threads`,
/// `processes`, `peak_rss_kib`, `context_switches` (the kernel's),
/// `corio_switches` (`null` for modes without a corio runtime), `profile`
/// (`"debug"` or `"release"`), `cores`, `pinned` (by `--cpus`) and
/// `busy_warning` (`null`, or why the machine's other load makes this row
/// less trustworthy).
pub fn line(all: &[Measurement], m: &Measurement, setup: &report::Setup) -> String {
    let speedup = report::speedup(all, m).map_or("null".to_string(), |x| format!("{x:.3}"));
    let corio = m
        .corio_switches
        .map_or("null".to_string(), |n| n.to_string());
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let busy = if m.others.disturbing() {
        format!(
            "\"other programs used {:.1} cores on average while this mode ran\"",
            m.others.cores
        )
    } else {
        "null".to_string()
    };
    format!(
        "{{\"workload\":\"{}\",\"mode\":\"{}\",\"tasks\":{},\"wall_ms\":{:.3},\"speedup\":{speedup},\
         \"os_threads\":{},\"processes\":{},\"peak_rss_kib\":{},\"context_switches\":{},\
         \"corio_switches\":{corio},\"profile\":\"{profile}\",\"cores\":{},\"pinned\":{},\
         \"busy_warning\":{busy}}}",
        m.workload,
        m.mode,
        m.tasks,
        m.wall_ms(),
        m.os_threads,
        m.processes,
        m.peak_rss_kib,
        m.context_switches,
        setup.cores,
        setup.pinned
    )
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
pub fn chrome_trace(all: &[Measurement], fragments: &[String]) -> String {
    let mut events = Vec::new();
    for (index, m) in all.iter().enumerate() {
        let pid = index + 1;
        let name = format!("{} / {}", m.workload, m.mode);
        events.push(format!(
            "{{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{pid},\"tid\":0,\"ts\":0,\"args\":{{\"name\":\"{name}\"}}}}"
        ));
        events.push(format!(
            "{{\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":{pid},\"tid\":0,\"ts\":0,\"args\":{{\"sort_index\":{pid}}}}}"
        ));
        events.push(format!(
            "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{pid},\"tid\":0,\"ts\":0,\"args\":{{\"name\":\"whole mode\"}}}}"
        ));
        events.push(format!(
            "{{\"name\":\"{name}: {} tasks\",\"cat\":\"{}\",\"ph\":\"X\",\"ts\":0,\"dur\":{:.3},\"pid\":{pid},\"tid\":0,\
             \"args\":{{\"os_threads\":{},\"processes\":{},\"peak_rss_kib\":{},\"context_switches\":{}}}}}",
            m.tasks,
            m.workload,
            m.wall_ns as f64 / 1e3,
            m.os_threads,
            m.processes,
            m.peak_rss_kib,
            m.context_switches
        ));
        for r in &m.records {
            let tid = r.task + 1;
            events.push(format!(
                "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{pid},\"tid\":{tid},\"ts\":0,\"args\":{{\"name\":\"task {}\"}}}}",
                r.task
            ));
            events.push(format!(
                "{{\"name\":\"task {}\",\"cat\":\"{}\",\"ph\":\"X\",\"ts\":{:.3},\"dur\":{:.3},\"pid\":{pid},\"tid\":{tid},\
                 \"args\":{{\"result\":\"{:#018x}\"}}}}",
                r.task,
                m.workload,
                r.start_ns.saturating_sub(m.start_ns) as f64 / 1e3,
                r.end_ns.saturating_sub(r.start_ns) as f64 / 1e3,
                r.result
            ));
        }
    }
    let mut out = String::from("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
    for (i, event) in events.iter().enumerate() {
        let separator = if i + 1 < events.len() { ",\n" } else { "\n" };
        let _ = write!(out, "{event}{separator}");
    }
    for fragment in fragments {
        out.pop(); // the newline after the last event
        out += fragment;
        out += "\n";
    }
    out += "]}\n";
    out
}
