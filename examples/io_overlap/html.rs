//! The report as one self-contained HTML page (`--html FILE`): the table,
//! a timeline per mode and the sweep as charts, drawn as inline SVG with
//! inline CSS. No script, no font, no image from anywhere: the page opens
//! from a file with no connection, and the same figures as the text report
//! are in it, as text a person can copy.

use std::fmt::Write;

use crate::modes::{Mode, deal};
use crate::report::{self, Setup};
use crate::runner::Measurement;
use crate::sweep::{self, Sweep};
use crate::workload::Workload;

/// Tasks per mode drawn in a timeline.
const TIMELINE_TASKS: usize = 8;

/// The page's width for the timelines, px.
const WIDTH: f64 = 1100.0;

/// Colours of the OS threads or processes a timeline's tasks ran on, one
/// per executor, cycled; and of the sweep's two modes.
const PALETTE: [&str; 8] = [
    "#3b6fb6", "#e07b39", "#4e9a52", "#b8495d", "#7d5ba6", "#8c6d3f", "#2f9ea0", "#c6a431",
];

/// The whole page.
pub fn page(all: &[Measurement], sweep: &Sweep, setup: &Setup) -> String {
    let mut out = String::new();
    out += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
            <title>io_overlap: threads, processes and coroutines side by side</title>\n";
    out += STYLE;
    out += "</head>\n<body>\n<h1>io_overlap</h1>\n";
    let _ = writeln!(
        out,
        "<p class=\"setup\">The same tasks run serially, as processes, as threads, as processes \
         with threads, as corio coroutines and hybrid (one corio runtime per core). This run: \
         {} CPU core{}{}, {} build.{}</p>",
        setup.cores,
        if setup.cores == 1 { "" } else { "s" },
        if setup.pinned {
            " (pinned by --cpus)"
        } else {
            ""
        },
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        io_setup(all, setup)
    );
    if !all.is_empty() {
        out += "<h2>Every mode</h2>\n";
        out += &table(all);
        let sentences = report::sentences(all, setup);
        for paragraph in sentences.split("\n\n").filter(|p| !p.trim().is_empty()) {
            let _ = writeln!(out, "<p>{}</p>", escape(&paragraph.replace('\n', " ")));
        }
        for workload in Workload::ALL {
            let of_workload: Vec<&Measurement> =
                all.iter().filter(|m| m.workload == workload).collect();
            if !of_workload.is_empty() {
                out += &timelines(&of_workload);
            }
        }
    }
    if !sweep.runs.is_empty() || sweep.stopped.is_some() {
        out += &sweep_section(sweep, setup);
    }
    out += "</body>\n</html>\n";
    out
}

const STYLE: &str = "<style>
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 24px 32px;
       color: #222; background: #fff; max-width: 1180px; }
h1 { margin: 0 0 4px; font-size: 26px; }
h2 { margin: 28px 0 8px; font-size: 20px; border-bottom: 1px solid #ddd; }
h3 { margin: 18px 0 4px; font-size: 15px; }
p { line-height: 1.45; margin: 6px 0; }
p.setup { color: #444; }
p.note { color: #555; font-size: 13px; }
p.warning { color: #8a4b00; background: #fff4e0; padding: 6px 10px; border-radius: 4px; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f4f4f4; font-weight: 600; }
td.name, th.name { text-align: left; }
tr.corio td { background: #f1f6fd; }
svg { display: block; margin: 4px 0 10px; }
svg text { font-family: system-ui, sans-serif; font-size: 11px; fill: #333; }
svg .axis { stroke: #999; stroke-width: 1; }
svg .grid { stroke: #eee; stroke-width: 1; }
svg .ideal { stroke: #999; stroke-width: 1.5; stroke-dasharray: 5 4; fill: none; }
.charts { display: flex; gap: 24px; flex-wrap: wrap; }
</style>
";

/// The io setup sentence, if io ran.
fn io_setup(all: &[Measurement], setup: &Setup) -> String {
    if !all.iter().any(|m| m.workload == Workload::Io) {
        return String::new();
    }
    format!(
        " io: every task makes {} round trip{} over loopback TCP to a service that answers \
         after {} ms.",
        setup.requests,
        if setup.requests == 1 { "" } else { "s" },
        setup.latency_ms
    )
}

/// The table of every (workload, mode), and its warnings.
fn table(all: &[Measurement]) -> String {
    let mut out = String::from(
        "<table>\n<tr><th class=\"name\">workload</th><th class=\"name\">mode</th>\
         <th>tasks</th><th>wall ms</th><th>speedup</th><th>OS threads</th><th>processes</th>\
         <th>peak RSS MiB</th><th>kernel switches</th><th>corio switches</th></tr>\n",
    );
    for m in all {
        let speedup = report::speedup(all, m).map_or("-".to_string(), |x| format!("{x:.1}x"));
        let corio = m.corio_switches.map_or("-".to_string(), |n| n.to_string());
        let _ = writeln!(
            out,
            "<tr{}><td class=\"name\">{}</td><td class=\"name\">{}</td><td>{}</td>\
             <td>{:.1}</td><td>{speedup}</td><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td>\
             <td>{corio}</td></tr>",
            corio_class(m.mode),
            m.workload,
            m.mode,
            m.tasks,
            m.wall_ms(),
            m.os_threads,
            m.processes,
            m.peak_rss_kib as f64 / 1024.0,
            m.context_switches
        );
    }
    out += "</table>\n";
    out + &warnings(all)
}

fn corio_class(mode: Mode) -> &'static str {
    if matches!(mode, Mode::Coroutines | Mode::Hybrid) {
        " class=\"corio\""
    } else {
        ""
    }
}

/// The runs' warnings, one paragraph per cause: other programs' load,
/// connections the kernel dropped.
fn warnings(runs: &[Measurement]) -> String {
    let mut out = String::new();
    let name = |m: &Measurement| format!("{}/{} at {} tasks", m.workload, m.mode, m.tasks);
    let busy: Vec<String> = runs
        .iter()
        .filter(|m| m.others.disturbing())
        .map(|m| format!("{} {:.1}", name(m), m.others.cores))
        .collect();
    if !busy.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"warning\">Other programs kept CPUs busy while some runs ran (cores they \
             used on average: {}). Those wall times carry their load; rerun on an idle machine \
             for clean figures.</p>",
            busy.join(", ")
        );
    }
    for m in runs {
        if let Some(warning) = report::harness_warning(m) {
            let _ = writeln!(
                out,
                "<p class=\"warning\">{}: {}.</p>",
                name(m),
                escape(&warning)
            );
        }
    }
    out
}

/// Where task `task` of a run ran: the executor's index (for its colour)
/// and its name.
fn executor(m: &Measurement, task: usize, cores: usize) -> (usize, String) {
    match m.mode {
        Mode::Serial => (0, "main thread".to_string()),
        Mode::Coroutines => (0, "OS thread 1 (all tasks)".to_string()),
        Mode::Threads => (task, format!("OS thread {} (its own)", task + 1)),
        Mode::Processes => (task, format!("process {} (its own)", task + 1)),
        Mode::ProcessesThreads => {
            let process = task % deal(m.tasks, cores).len();
            (process, format!("process {}, own thread", process + 1))
        }
        Mode::Hybrid => {
            let runtime = task % deal(m.tasks, cores).len();
            (
                runtime,
                format!("OS thread {} (runtime {})", runtime + 1, runtime + 1),
            )
        }
    }
}

/// One workload's timelines: a chart per mode, every chart on the same
/// time scale, the first [`TIMELINE_TASKS`] tasks of each.
fn timelines(measured: &[&Measurement]) -> String {
    let workload = measured[0].workload;
    let rows = TIMELINE_TASKS.min(measured[0].tasks);
    let window_ns = crate::timeline::window_ns(measured, rows) as f64;
    let what = match workload {
        Workload::Io => {
            "A bar runs from the task's start to its end: it connects, then sends a request and \
             waits for the answer, three times. Almost all of a bar is waiting; where bars \
             overlap, tasks waited at the same time."
        }
        Workload::Cpu => {
            "A bar runs from the task's start to its end: computing, or waiting for a CPU. Bars \
             that overlap on one OS thread took turns; on several, they ran at once."
        }
    };
    let mut out = format!(
        "<h2>{workload} timeline</h2>\n<p class=\"note\">Tasks 0 to {} of every mode, 0 to \
         {:.0} ms, on one time scale. {what} The colour is the OS thread or process the task \
         ran on, named on the right.</p>\n",
        rows - 1,
        window_ns / 1e6
    );
    let cores = measured
        .iter()
        .find(|m| m.mode == Mode::ProcessesThreads)
        .map_or(2, |m| m.processes.max(1));
    let label_w = 70.0;
    let name_w = 190.0;
    let plot_w = WIDTH - label_w - name_w - 10.0;
    let row_h = 16.0;
    for m in measured {
        let cores = if m.mode == Mode::Hybrid {
            (m.os_threads.saturating_sub(1)).max(1)
        } else {
            cores
        };
        let height = rows as f64 * row_h + 24.0;
        let _ = writeln!(
            out,
            "<h3>{} &middot; {:.1} ms, {} OS thread{}, {} process{}</h3>",
            m.mode,
            m.wall_ms(),
            m.os_threads,
            if m.os_threads == 1 { "" } else { "s" },
            m.processes,
            if m.processes == 1 { "" } else { "es" }
        );
        let _ = writeln!(
            out,
            "<svg width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" \
             role=\"img\" aria-label=\"{} {} timeline\">",
            workload, m.mode
        );
        // Grid and time axis.
        for tick in ticks(window_ns / 1e6) {
            let x = label_w + tick / (window_ns / 1e6) * plot_w;
            let _ = writeln!(
                out,
                "<line class=\"grid\" x1=\"{x:.1}\" y1=\"0\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
                 <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{} ms</text>",
                rows as f64 * row_h,
                rows as f64 * row_h + 14.0,
                trim_number(tick)
            );
        }
        for (row, record) in m.records.iter().take(rows).enumerate() {
            let y = row as f64 * row_h;
            let start = record.start_ns.saturating_sub(m.start_ns) as f64;
            let end = record.end_ns.saturating_sub(m.start_ns) as f64;
            let x0 = label_w + start / window_ns * plot_w;
            let width = ((end - start) / window_ns * plot_w).max(1.5);
            let (index, name) = executor(m, record.task, cores);
            let colour = PALETTE[index % PALETTE.len()];
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">task {}</text>\
                 <rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{:.1}\" \
                 fill=\"{colour}\" rx=\"2\"><title>task {}: {:.1} to {:.1} ms on {}</title></rect>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
                label_w - 8.0,
                y + row_h - 4.0,
                record.task,
                y + 2.0,
                row_h - 4.0,
                record.task,
                start / 1e6,
                end / 1e6,
                escape(&name),
                label_w + plot_w + 8.0,
                y + row_h - 4.0,
                escape(&name)
            );
        }
        out += "</svg>\n";
    }
    out
}

/// The sweep: its table and two charts over the task count (log axis):
/// wall time (with the ideal), CPU time and peak memory per task.
fn sweep_section(sweep: &Sweep, setup: &Setup) -> String {
    let ideal = setup.io_ideal_ms();
    let rounds = sweep.runs.first().map_or(1, |m| m.rounds_wall_ns.len());
    let rounds_note = if rounds > 1 {
        format!(
            " Each step ran {rounds} times, the two modes taking turns; a row is its mode's \
             median run, and the last column gives every run's wall time in the order they ran."
        )
    } else {
        String::new()
    };
    let mut out = format!(
        "<h2>The sweep: more and more io tasks</h2>\n<p class=\"note\">The io workload at \
         growing task counts, threads against coroutines, each run in a fresh process.{} The \
         ideal is {ideal:.0} ms: one task's {} waits of {} ms, every task's overlapped. \
         \"started\" is when the last task began; CPU ms is the user and system time of the \
         mode's processes, which other programs' load does not inflate.</p>\n",
        rounds_note, setup.requests, setup.latency_ms
    );
    out += "<table>\n<tr><th>tasks</th><th class=\"name\">mode</th><th>wall ms</th>\
            <th>x ideal</th><th>started ms</th><th>CPU ms</th><th>OS threads</th>\
            <th>KiB per task</th><th>kernel switches</th><th>every run, wall ms</th></tr>\n";
    for m in &sweep.runs {
        let every: Vec<String> = m
            .rounds_wall_ns
            .iter()
            .map(|&ns| format!("{:.1}", ns as f64 / 1e6))
            .collect();
        let _ = writeln!(
            out,
            "<tr{}><td>{}</td><td class=\"name\">{}</td><td>{:.1}</td><td>{:.1}x</td>\
             <td>{:.1}</td><td>{:.1}</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td></tr>",
            corio_class(m.mode),
            m.tasks,
            m.mode,
            m.wall_ms(),
            m.wall_ms() / ideal.max(f64::MIN_POSITIVE),
            m.start_ms(),
            m.cpu_ns as f64 / 1e6,
            m.os_threads,
            report::kib_per_task(m),
            m.context_switches,
            every.join(" / ")
        );
    }
    out += "</table>\n";
    out += &warnings(&sweep.runs);
    if let Some(sentences) = report::sweep_sentences(&sweep.runs, setup) {
        let _ = writeln!(out, "<p>{}</p>", escape(&sentences));
    }
    if let Some(why) = &sweep.stopped {
        let _ = writeln!(out, "<p class=\"warning\">{}</p>", escape(why));
    }
    if sweep.runs.is_empty() {
        return out;
    }
    out += "<div class=\"charts\">\n";
    out += &chart(
        "wall time, ms (log scale)",
        &sweep.runs,
        |m| m.wall_ms(),
        true,
        Some(ideal),
    );
    out += &chart(
        "CPU time of the mode, ms (log scale)",
        &sweep.runs,
        |m| m.cpu_ns as f64 / 1e6,
        true,
        None,
    );
    out += &chart(
        "peak memory per task, KiB (log scale)",
        &sweep.runs,
        report::kib_per_task,
        true,
        None,
    );
    out += "</div>\n";
    out
}

/// One sweep chart: tasks on a log x axis, `value` on y, a line per mode,
/// and a dashed horizontal line at `ideal`.
fn chart(
    title: &str,
    runs: &[Measurement],
    value: impl Fn(&Measurement) -> f64,
    log_y: bool,
    ideal: Option<f64>,
) -> String {
    let (w, h) = (540.0, 320.0);
    let (left, right, top, bottom) = (60.0, 110.0, 28.0, 40.0);
    let (plot_w, plot_h) = (w - left - right, h - top - bottom);
    let tasks: Vec<f64> = runs.iter().map(|m| m.tasks as f64).collect();
    let mut values: Vec<f64> = runs.iter().map(&value).collect();
    values.extend(ideal);
    let x_lo = decade_below(tasks.iter().copied().fold(f64::INFINITY, f64::min));
    let x_hi = decade_above(tasks.iter().copied().fold(0.0, f64::max)).max(x_lo * 10.0);
    let y_max = values
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    let y_min = values
        .iter()
        .copied()
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let (y_lo, y_hi) = if log_y {
        (
            decade_below(y_min),
            decade_above(y_max).max(decade_below(y_min) * 10.0),
        )
    } else {
        (0.0, y_max * 1.1)
    };
    let x_at = |t: f64| left + (t.log10() - x_lo.log10()) / (x_hi.log10() - x_lo.log10()) * plot_w;
    let y_at = |v: f64| {
        let fraction = if log_y {
            (v.max(y_lo).log10() - y_lo.log10()) / (y_hi.log10() - y_lo.log10())
        } else {
            v / y_hi
        };
        top + plot_h - fraction * plot_h
    };
    let mut out = format!(
        "<svg width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\" \
         aria-label=\"{title}\">\n<text x=\"{left}\" y=\"16\" font-weight=\"600\">{title}</text>\n"
    );
    // X axis: a tick per decade.
    let mut decade = x_lo;
    while decade <= x_hi * 1.0001 {
        let x = x_at(decade);
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{top}\" x2=\"{x:.1}\" y2=\"{:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            top + plot_h,
            top + plot_h + 16.0,
            trim_number(decade)
        );
        decade *= 10.0;
    }
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">tasks (log scale)</text>",
        left + plot_w / 2.0,
        h - 6.0
    );
    // Y axis: decades on a log scale, five steps on a linear one.
    let y_ticks: Vec<f64> = if log_y {
        let mut ticks = Vec::new();
        let mut tick = y_lo;
        while tick <= y_hi * 1.0001 {
            ticks.push(tick);
            tick *= 10.0;
        }
        ticks
    } else {
        (0..=5).map(|i| y_hi * f64::from(i) / 5.0).collect()
    };
    for tick in y_ticks {
        let y = y_at(tick);
        let _ = writeln!(
            out,
            "<line class=\"grid\" x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            left + plot_w,
            left - 6.0,
            y + 4.0,
            trim_number(tick)
        );
    }
    let _ = writeln!(
        out,
        "<line class=\"axis\" x1=\"{left}\" y1=\"{top}\" x2=\"{left}\" y2=\"{:.1}\"/>\
         <line class=\"axis\" x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>",
        top + plot_h,
        top + plot_h,
        left + plot_w,
        top + plot_h
    );
    if let Some(ideal) = ideal {
        let y = y_at(ideal);
        let _ = writeln!(
            out,
            "<line class=\"ideal\" x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">ideal {} ms</text>",
            left + plot_w,
            left + plot_w + 6.0,
            y + 4.0,
            trim_number(ideal)
        );
    }
    for (index, mode) in sweep::MODES.into_iter().enumerate() {
        let colour = PALETTE[index];
        let points: Vec<(f64, f64, &Measurement)> = runs
            .iter()
            .filter(|m| m.mode == mode)
            .map(|m| (x_at(m.tasks as f64), y_at(value(m)), m))
            .collect();
        let Some(&(last_x, last_y, _)) = points.last() else {
            continue;
        };
        let path: Vec<String> = points
            .iter()
            .map(|(x, y, _)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = writeln!(
            out,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2.5\"/>",
            path.join(" ")
        );
        for (x, y, m) in &points {
            let _ = writeln!(
                out,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{colour}\">\
                 <title>{mode}, {} tasks: {:.1}</title></circle>",
                m.tasks,
                value(m)
            );
        }
        let _ = writeln!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{colour}\" font-weight=\"600\" \
             style=\"fill: {colour}\">{mode}</text>",
            last_x + 8.0,
            last_y + 4.0
        );
    }
    out += "</svg>\n";
    out
}

/// The power of ten at or below `v` (at least 1e-3).
fn decade_below(v: f64) -> f64 {
    10f64.powf(v.max(1e-3).log10().floor())
}

/// The power of ten at or above `v`.
fn decade_above(v: f64) -> f64 {
    10f64.powf(v.max(1e-3).log10().ceil())
}

/// About five round ticks from 0 to `max`.
fn ticks(max: f64) -> Vec<f64> {
    if max <= 0.0 {
        return vec![0.0];
    }
    let rough = max / 5.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|f| f * magnitude)
        .find(|step| *step >= rough)
        .unwrap_or(rough);
    (0..)
        .map(|i| f64::from(i) * step)
        .take_while(|tick| *tick <= max)
        .collect()
}

/// A number as a tick label: no trailing zeros, thousands as `1,000`.
fn trim_number(v: f64) -> String {
    if v >= 1.0 && v.fract() == 0.0 {
        let digits = format!("{v:.0}");
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else {
        let text = format!("{v:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Text made safe for HTML.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
