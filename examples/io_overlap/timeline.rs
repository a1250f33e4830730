//! A text timeline: for the first few tasks of every mode, one row per task
//! with `#` from the moment it started until it finished (running, or
//! waiting for a reply or for its turn on a CPU).
//!
//! All modes of a workload share one time scale, so serial's staircase and
//! the concurrent modes' stacked bars can be compared by eye.

use crate::runner::Measurement;

/// Columns of a timeline bar.
pub const BAR_WIDTH: usize = 60;

/// The timeline of `measured` (all of one workload), `rows` tasks per mode.
pub fn render(measured: &[&Measurement], rows: usize) -> String {
    let Some(first) = measured.first() else {
        return String::new();
    };
    let rows = rows.min(first.tasks);
    // The window ends when the last shown task of the slowest mode ends.
    let window_ns = measured
        .iter()
        .flat_map(|m| {
            m.records
                .iter()
                .take(rows)
                .map(|r| r.end_ns.saturating_sub(m.start_ns))
        })
        .max()
        .unwrap_or(0)
        .max(1);
    let column_ns = window_ns as f64 / BAR_WIDTH as f64;
    let mut out = format!(
        "{} timeline: tasks 0-{} of each mode, 0 to {:.0} ms, one column = {}\n",
        first.workload,
        rows - 1,
        window_ns as f64 / 1e6,
        duration_label(column_ns)
    );
    for m in measured {
        for (row, record) in m.records.iter().take(rows).enumerate() {
            let label = if row == 0 { m.mode.name() } else { "" };
            let start = record.start_ns.saturating_sub(m.start_ns);
            let end = record.end_ns.saturating_sub(m.start_ns);
            out += &format!(
                "{label:<11}{:>3} |{}|\n",
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
