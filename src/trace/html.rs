//! The offline viewer: one HTML page that draws a [`Trace`] on a canvas.
//!
//! The page is self-contained: inline CSS (`viewer.css`), the events as
//! JSON in a `<script type="application/json">` element, and an inline
//! script (`viewer.js`) that draws them. It names nothing on the network,
//! so it opens from a file with no connection.
//!
//! The JSON is written by hand (the library has no serde) in columns, not
//! an object per event, so that a million events stay a file a browser
//! parses in a blink:
//!
//! ```text
//! {"format":"corio-trace/1",
//!  "dropped":0,                       the ring's overwritten events
//!  "kinds":["spawn","resume",...],    what a `kind` number means
//!  "tasks":[[0,null],[1,"main"],...], [task id, name or null]; row 0 is the scheduler
//!  "t0":1234,                         the first event's at_ns
//!  "dt":[0,40,...],                   at_ns minus the previous event's
//!  "task":[1,1,...],                  the event's row in "tasks"
//!  "kind":[0,1,...],                  index into "kinds"
//!  "arg":[0,0,...],                   spawn: the parent's row; read/write: the
//!                                     socket's token; woken by a task: the
//!                                     waker's row; poll: the event count
//!  "waited":[...],                    one per poll, in order: ns it blocked
//!  "stalls":[[row,at,held,"report"]]} each stall (`Trace::stalls`): its task's
//!                                     row, its start (ns after t0), its
//!                                     length in ns, the report line
//! ```
//!
//! Everything a person reads that comes from the trace (task names) is in
//! that JSON, escaped so that no `</script>` or `<!--` can appear in it, and
//! the script puts names on the canvas or in `textContent`, never into
//! markup. The summary at the top is plain HTML written here, so it reads
//! the same with scripts off.

use std::collections::HashMap;
use std::io::{self, BufWriter, Write};

use super::json::write_json_escaped_for_html;
use super::{EventKind, SuspendReason, Trace, WakeCause};

/// The page's style, inlined.
const CSS: &str = include_str!("viewer.css");
/// The page's script, inlined; it reads the JSON element by its id.
const SCRIPT: &str = include_str!("viewer.js");

/// The names of the `kind` numbers, in order. `viewer.js` relies on the
/// ranges: 2..=10 are suspends, 11..=15 wake-ups.
const KINDS: [&str; 18] = [
    "spawn",
    "resume",
    "yield",
    "read",
    "write",
    "sleep",
    "join",
    "channel",
    "lock",
    "other thread",
    "park",
    "woken by task",
    "woken by io",
    "woken by timer",
    "woken by other thread",
    "woken by scheduler",
    "poll",
    "finish",
];

/// The `kind` number of a suspend: 2 plus its place in this list.
const SUSPENDS: usize = 2;
/// The `kind` number of the first wake-up cause.
const WAKES: usize = 11;
const POLL: usize = 16;
const FINISH: usize = 17;

/// The `kind` number of `kind` and its `arg` (`rows` maps a task id to its
/// row).
fn code(kind: EventKind, rows: &HashMap<u64, u32>) -> (usize, u64) {
    let row = |id: u64| u64::from(rows[&id]);
    match kind {
        EventKind::Spawn { parent } => (0, row(parent)),
        EventKind::Resume => (1, 0),
        EventKind::Suspend(reason) => match reason {
            SuspendReason::Yield => (SUSPENDS, 0),
            SuspendReason::Io {
                token,
                writable: false,
            } => (SUSPENDS + 1, token as u64),
            SuspendReason::Io {
                token,
                writable: true,
            } => (SUSPENDS + 2, token as u64),
            SuspendReason::Sleep => (SUSPENDS + 3, 0),
            SuspendReason::Join => (SUSPENDS + 4, 0),
            SuspendReason::Channel => (SUSPENDS + 5, 0),
            SuspendReason::Lock => (SUSPENDS + 6, 0),
            SuspendReason::OtherThread => (SUSPENDS + 7, 0),
            SuspendReason::Park => (SUSPENDS + 8, 0),
        },
        EventKind::Wake(cause) => match cause {
            WakeCause::Task(by) => (WAKES, row(by)),
            WakeCause::Io => (WAKES + 1, 0),
            WakeCause::Timer => (WAKES + 2, 0),
            WakeCause::OtherThread => (WAKES + 3, 0),
            WakeCause::Scheduler => (WAKES + 4, 0),
        },
        EventKind::Poll { events, .. } => (POLL, u64::from(events)),
        EventKind::Finish => (FINISH, 0),
    }
}

/// What one pass over the events learns before anything is written: the
/// rows (every task id that appears, as an event's task, a parent or a
/// waker) and the counts of the summary.
struct Overview {
    /// Task ids in order of first appearance; the scheduler (0) first.
    ids: Vec<u64>,
    /// Task id to its index in `ids`.
    rows: HashMap<u64, u32>,
    /// Events per `kind` number.
    per_kind: [u64; KINDS.len()],
    span_ns: u64,
}

impl Overview {
    fn of(trace: &Trace) -> Overview {
        let mut overview = Overview {
            ids: Vec::new(),
            rows: HashMap::new(),
            per_kind: [0; KINDS.len()],
            span_ns: 0,
        };
        overview.row(0);
        for e in &trace.events {
            overview.row(e.task);
            match e.kind {
                EventKind::Spawn { parent } => overview.row(parent),
                EventKind::Wake(WakeCause::Task(by)) => overview.row(by),
                _ => {}
            }
            let (kind, _) = code(e.kind, &overview.rows);
            overview.per_kind[kind] += 1;
        }
        if let (Some(first), Some(last)) = (trace.events.first(), trace.events.last()) {
            overview.span_ns = last.at_ns.saturating_sub(first.at_ns);
        }
        overview
    }

    fn row(&mut self, id: u64) {
        if !self.rows.contains_key(&id) {
            self.rows.insert(id, self.ids.len() as u32);
            self.ids.push(id);
        }
    }
}

/// `ns` for a person: "830 ns", "12.4 µs", "3.21 ms", "1.500 s".
fn human_ns(ns: u64) -> String {
    let ns_f = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.1} µs", ns_f / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.2} ms", ns_f / 1e6)
    } else {
        format!("{:.3} s", ns_f / 1e9)
    }
}

/// `n` with thousands separated: "1,000,000".
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

impl Trace {
    /// Writes the trace as one self-contained HTML page: an offline
    /// timeline viewer that any browser opens from a file, with no
    /// connection and nothing to install.
    ///
    /// What the page shows:
    /// - a summary: events, time span, tasks, switches (resumes), waits by
    ///   reason, wake-ups by cause, polls, and, when the ring was full, how
    ///   many older events were dropped;
    /// - one row per task, labelled as in the trace (`task 7 'worker'`),
    ///   the scheduler's polls in a row of their own on top;
    /// - every run slice (from a resume to the suspend that ended it),
    ///   coloured by why it stopped, and a thin line for the wait after it;
    /// - on hover, what a slice or wait is: how long it ran, why it
    ///   stopped (`read #3`), how long it waited, and who woke it;
    /// - wake-up arrows from the waker (a task's row, or the scheduler's
    ///   row for a socket, a timer or another thread) to the run it caused;
    /// - the wheel zooms around the pointer, a drag pans (in time and
    ///   across rows), a double-click shows the whole trace again.
    ///
    /// The events are embedded as JSON in columns (the layout is in the
    /// source of `src/trace/html.rs`), a dozen bytes or so per event, so a
    /// ring of a million events makes a page of a few megabytes. The
    /// script builds a per-row index once, draws only the rows and the
    /// time range in view, merges the slices that fall inside one pixel
    /// into one mark, and draws the arrows only once few enough are in view.
    /// [`write_chrome_json`](Trace::write_chrome_json) writes the same
    /// events for Perfetto.
    ///
    /// Streams: the page is written as it is built, with allocation per
    /// task, not per event.
    ///
    /// # Errors
    ///
    /// What `out` returns.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = corio::Runtime::builder().trace(1 << 16).build()?;
    /// rt.block_on(|| {
    ///     let worker = corio::thread::Builder::new()
    ///         .name("worker".into())
    ///         .spawn(|| corio::sleep(std::time::Duration::from_millis(1)))?;
    ///     corio::yield_now();
    ///     worker.join().unwrap();
    ///     Ok::<_, std::io::Error>(())
    /// })?;
    /// let trace = rt.take_trace().expect("tracing is on");
    /// let path = std::env::temp_dir().join("corio-doc-timeline.html");
    /// trace.write_html(std::fs::File::create(&path)?)?;
    /// // Open it in a browser: file:///tmp/corio-doc-timeline.html
    /// let page = std::fs::read_to_string(&path)?;
    /// assert!(page.starts_with("<!DOCTYPE html>"));
    /// assert!(page.contains("worker"));
    /// # std::fs::remove_file(path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_html<W: Write>(&self, out: W) -> io::Result<()> {
        let mut out = BufWriter::new(out);
        let overview = Overview::of(self);
        out.write_all(
            b"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
              <meta name=\"viewport\" content=\"width=device-width\">\n\
              <title>corio trace</title>\n<style>\n",
        )?;
        out.write_all(CSS.as_bytes())?;
        out.write_all(b"</style>\n</head>\n<body>\n")?;
        self.write_summary(&mut out, &overview)?;
        out.write_all(
            b"<div id=\"view\"><canvas id=\"timeline\"></canvas>\
              <div id=\"tip\" hidden></div></div>\n\
              <p id=\"status\">The timeline needs JavaScript; the summary above \
              does not.</p>\n",
        )?;
        out.write_all(b"<script type=\"application/json\" id=\"corio-trace\">\n")?;
        self.write_data(&mut out, &overview)?;
        out.write_all(b"\n</script>\n<script>\n")?;
        out.write_all(SCRIPT.as_bytes())?;
        out.write_all(b"</script>\n</body>\n</html>\n")?;
        out.flush()
    }

    /// The header: counts a person reads first, as plain HTML.
    fn write_summary<W: Write>(&self, out: &mut W, overview: &Overview) -> io::Result<()> {
        let count = |kind: usize| overview.per_kind[kind];
        let switches = grouped(count(1));
        writeln!(
            out,
            "<header>\n<h1>corio trace</h1>\n<p id=\"summary\"><b>{}</b> events over \
             <b>{}</b> &middot; <b>{}</b> tasks &middot; <b>{switches}</b> switches \
             &middot; <b>{}</b> polls</p>",
            grouped(self.events.len() as u64),
            human_ns(overview.span_ns),
            grouped(overview.ids.len() as u64 - 1),
            grouped(count(POLL)),
        )?;
        for (id, title, range) in [
            ("waits", "waits by reason", SUSPENDS..WAKES),
            ("wakes", "wake-ups by cause", WAKES..POLL),
        ] {
            write!(out, "<p id=\"{id}\">{title}:")?;
            let mut any = false;
            for kind in range {
                if count(kind) > 0 {
                    let name = KINDS[kind].trim_start_matches("woken by ");
                    write!(
                        out,
                        " <span class=\"k{kind}\">{name}</span> {}",
                        grouped(count(kind))
                    )?;
                    any = true;
                }
            }
            writeln!(out, "{}</p>", if any { "" } else { " none" })?;
        }
        if !self.stalls.is_empty() {
            writeln!(
                out,
                "<div id=\"stalls\"><p><b>{} {}</b>: a coroutine kept its runtime's \
                 thread past the stall threshold, and nothing else of the runtime ran \
                 (red frames on the timeline):</p>\n<ul>",
                grouped(self.stalls.len() as u64),
                if self.stalls.len() == 1 {
                    "stall"
                } else {
                    "stalls"
                }
            )?;
            let t0 = self.events.first().map_or(0, |e| e.at_ns);
            for stall in &self.stalls {
                write!(
                    out,
                    "<li>at {}, held {}: <code>",
                    human_ns(stall.at_ns.saturating_sub(t0)),
                    human_ns(stall.held_ns)
                )?;
                write_html_escaped(out, &stall.report)?;
                writeln!(out, "</code></li>")?;
            }
            writeln!(out, "</ul></div>")?;
        }
        if self.dropped > 0 {
            writeln!(
                out,
                "<p id=\"dropped\">The ring was full: {} older events were dropped \
                 before the trace was taken, so the timeline starts late and some \
                 runs have no beginning. A larger <code>Builder::trace</code> \
                 capacity keeps them.</p>",
                grouped(self.dropped)
            )?;
        }
        out.write_all(
            b"<p id=\"help\">wheel: zoom &middot; drag: pan &middot; double-click: \
              the whole trace &middot; hover: what a slice or a wait is</p>\n</header>\n",
        )
    }

    /// The events as columnar JSON (see the module docs).
    fn write_data<W: Write>(&self, out: &mut W, overview: &Overview) -> io::Result<()> {
        write!(
            out,
            "{{\"format\":\"corio-trace/1\",\"dropped\":{},\"kinds\":[",
            self.dropped
        )?;
        for (i, kind) in KINDS.iter().enumerate() {
            let comma = if i == 0 { "" } else { "," };
            write!(out, "{comma}\"{kind}\"")?;
        }
        out.write_all(b"],\n\"tasks\":[")?;
        for (i, &id) in overview.ids.iter().enumerate() {
            let comma = if i == 0 { "" } else { "," };
            write!(out, "{comma}[{id},")?;
            match self.task_name(id) {
                Some(name) => {
                    out.write_all(b"\"")?;
                    write_json_escaped_for_html(out, name)?;
                    out.write_all(b"\"]")?;
                }
                None => out.write_all(b"null]")?,
            }
        }
        let t0 = self.events.first().map_or(0, |e| e.at_ns);
        write!(out, "],\n\"t0\":{t0},\n\"dt\":")?;
        let mut previous = t0;
        write_column(out, self, |e| {
            let dt = i128::from(e.at_ns) - i128::from(previous);
            previous = e.at_ns;
            Some(dt)
        })?;
        out.write_all(b",\n\"task\":")?;
        write_column(out, self, |e| Some(i128::from(overview.rows[&e.task])))?;
        out.write_all(b",\n\"kind\":")?;
        write_column(out, self, |e| Some(code(e.kind, &overview.rows).0 as i128))?;
        out.write_all(b",\n\"arg\":")?;
        write_column(out, self, |e| {
            Some(i128::from(code(e.kind, &overview.rows).1))
        })?;
        out.write_all(b",\n\"waited\":")?;
        write_column(out, self, |e| match e.kind {
            EventKind::Poll { waited_ns, .. } => Some(i128::from(waited_ns)),
            _ => None,
        })?;
        out.write_all(b",\n\"stalls\":[")?;
        for (i, stall) in self.stalls.iter().enumerate() {
            // A stall of a task with no event left in the ring has no row.
            let Some(row) = overview.rows.get(&stall.task) else {
                continue;
            };
            let comma = if i == 0 { "" } else { "," };
            let at = i128::from(stall.at_ns) - i128::from(t0);
            write!(out, "{comma}[{row},{at},{},\"", stall.held_ns)?;
            write_json_escaped_for_html(out, &stall.report)?;
            out.write_all(b"\"]")?;
        }
        out.write_all(b"]}")
    }
}

/// Writes `text` as HTML text: `&`, `<`, `>` and quotes as entities.
fn write_html_escaped<W: Write>(out: &mut W, text: &str) -> io::Result<()> {
    let mut rest = text;
    while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
        out.write_all(&rest.as_bytes()[..at])?;
        let entity: &[u8] = match rest.as_bytes()[at] {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' => b"&quot;",
            _ => b"&#39;",
        };
        out.write_all(entity)?;
        rest = &rest[at + 1..];
    }
    out.write_all(rest.as_bytes())
}

/// Writes `[a,b,…]` of the values `value` gives for the events (skipping
/// `None`).
fn write_column<W: Write>(
    out: &mut W,
    trace: &Trace,
    mut value: impl FnMut(&super::Event) -> Option<i128>,
) -> io::Result<()> {
    out.write_all(b"[")?;
    let mut first = true;
    for e in &trace.events {
        if let Some(v) = value(e) {
            if !first {
                out.write_all(b",")?;
            }
            first = false;
            write!(out, "{v}")?;
        }
    }
    out.write_all(b"]")
}
