//! The offline viewer (`Trace::write_html`): the page is balanced HTML with
//! no network reference, its embedded JSON parses with serde_json and
//! decodes to exactly `Trace::events()`, a hostile task name cannot break
//! out of the JSON element, dropped events are shown, and a million events
//! make a compact page.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::Duration;

use corio::trace::{Event, EventKind, SuspendReason, Trace, WakeCause};

/// Tasks that sleep, join, lock, use a channel and a loopback socket.
fn traced_run(capacity: usize, name: &str) -> Trace {
    let mut rt = corio::Runtime::builder().trace(capacity).build().unwrap();
    let name = name.to_string();
    rt.block_on(move || {
        let napper = corio::thread::Builder::new()
            .name(name)
            .spawn(|| corio::sleep(Duration::from_micros(100)))
            .unwrap();
        napper.join().unwrap();
        let lock = std::rc::Rc::new(corio::sync::Mutex::new(0));
        let (tx, rx) = corio::sync::channel::<u32>();
        let mut tasks = Vec::new();
        for i in 0..3 {
            let (lock, tx) = (lock.clone(), tx.clone());
            tasks.push(corio::spawn(move || {
                let guard = lock.lock().unwrap();
                corio::yield_now();
                drop(guard);
                tx.send(i).unwrap();
            }));
        }
        drop(tx);
        assert_eq!(rx.iter().sum::<u32>(), 3);
        let listener = corio::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = corio::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0; 2];
            s.read_exact(&mut buf).unwrap();
        });
        let mut c = corio::net::TcpStream::connect(addr).unwrap();
        corio::sleep(Duration::from_micros(200));
        c.write_all(b"hi").unwrap();
        server.join().unwrap();
        for t in tasks {
            t.join().unwrap();
        }
    });
    rt.take_trace().unwrap()
}

fn page_of(trace: &Trace) -> String {
    let mut page = Vec::new();
    trace.write_html(&mut page).unwrap();
    String::from_utf8(page).expect("the page is UTF-8")
}

/// The text of the `<script type="application/json">` element.
fn embedded_json(page: &str) -> serde_json::Value {
    let open = "<script type=\"application/json\" id=\"corio-trace\">";
    let start = page.find(open).expect("the JSON element") + open.len();
    let end = start + page[start..].find("</script>").expect("its end");
    serde_json::from_str(&page[start..end]).expect("the embedded JSON parses")
}

/// Checks that every element opened is closed, in order; the text of
/// `<script>` and `<style>` is skipped as the HTML parser does.
fn assert_balanced(page: &str) {
    let lower = page.to_ascii_lowercase();
    let mut open: Vec<String> = Vec::new();
    let mut at = 0;
    while let Some(lt) = lower[at..].find('<') {
        let tag_start = at + lt;
        let gt = tag_start + lower[tag_start..].find('>').expect("a tag that ends");
        let tag = &lower[tag_start + 1..gt];
        at = gt + 1;
        if tag.starts_with('!') {
            continue;
        }
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        if ["meta", "br", "hr", "img", "input", "link"].contains(&name.as_str()) {
            continue;
        }
        if tag.starts_with('/') {
            assert_eq!(
                open.pop().as_deref(),
                Some(name.as_str()),
                "at byte {tag_start}"
            );
        } else if name == "script" || name == "style" {
            let close = format!("</{name}");
            at += lower[at..]
                .find(&close)
                .expect("a raw-text element that ends");
            open.push(name);
        } else {
            open.push(name);
        }
    }
    assert!(open.is_empty(), "never closed: {open:?}");
}

/// The events the page's JSON describes, decoded as the viewer does, and
/// the names of its tasks.
fn decode(doc: &serde_json::Value) -> (Vec<Event>, HashMap<u64, Option<String>>) {
    let column = |key: &str| -> Vec<i64> {
        doc[key]
            .as_array()
            .unwrap_or_else(|| panic!("a {key} column"))
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect()
    };
    let tasks: Vec<(u64, Option<String>)> = doc["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t[0].as_u64().unwrap(), t[1].as_str().map(str::to_string)))
        .collect();
    let kinds: Vec<&str> = doc["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    let (dt, task, kind, arg, waited) = (
        column("dt"),
        column("task"),
        column("kind"),
        column("arg"),
        column("waited"),
    );
    assert!(
        [task.len(), kind.len(), arg.len()]
            .iter()
            .all(|&l| l == dt.len())
    );
    let mut at = doc["t0"].as_i64().unwrap();
    let mut polls = waited.iter();
    let mut events = Vec::new();
    for i in 0..dt.len() {
        at += dt[i];
        let id = |row: i64| tasks[row as usize].0;
        let (a, token) = (arg[i], arg[i] as usize);
        let kind = match kinds[kind[i] as usize] {
            "spawn" => EventKind::Spawn { parent: id(a) },
            "resume" => EventKind::Resume,
            "yield" => EventKind::Suspend(SuspendReason::Yield),
            "read" => EventKind::Suspend(SuspendReason::Io {
                token,
                writable: false,
            }),
            "write" => EventKind::Suspend(SuspendReason::Io {
                token,
                writable: true,
            }),
            "sleep" => EventKind::Suspend(SuspendReason::Sleep),
            "join" => EventKind::Suspend(SuspendReason::Join),
            "channel" => EventKind::Suspend(SuspendReason::Channel),
            "lock" => EventKind::Suspend(SuspendReason::Lock),
            "other thread" => EventKind::Suspend(SuspendReason::OtherThread),
            "park" => EventKind::Suspend(SuspendReason::Park),
            "woken by task" => EventKind::Wake(WakeCause::Task(id(a))),
            "woken by io" => EventKind::Wake(WakeCause::Io),
            "woken by timer" => EventKind::Wake(WakeCause::Timer),
            "woken by other thread" => EventKind::Wake(WakeCause::OtherThread),
            "woken by scheduler" => EventKind::Wake(WakeCause::Scheduler),
            "poll" => EventKind::Poll {
                events: a as u32,
                waited_ns: *polls.next().expect("a waited entry per poll") as u64,
            },
            "finish" => EventKind::Finish,
            other => panic!("unknown kind {other}"),
        };
        events.push(Event {
            at_ns: at as u64,
            task: id(task[i]),
            kind,
        });
    }
    assert!(polls.next().is_none(), "a waited entry without its poll");
    (events, tasks.into_iter().collect())
}

#[test]
fn the_page_is_balanced_html_and_its_json_parses() {
    let trace = traced_run(1 << 16, "napper");
    let page = page_of(&trace);
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert_balanced(&page);
    let doc = embedded_json(&page);
    assert_eq!(doc["format"], "corio-trace/1");
    assert_eq!(doc["dropped"], 0);
    assert!(page.contains("<canvas id=\"timeline\">"));
    assert!(!page.contains("id=\"dropped\""), "nothing was dropped");
}

#[test]
fn the_page_names_nothing_on_the_network() {
    let page = page_of(&traced_run(1 << 16, "napper")).to_ascii_lowercase();
    for needle in [
        "http://",
        "https://",
        "<script src",
        "@import",
        "url(",
        "<link",
        "<iframe",
        "<img",
        "fetch(",
        "xmlhttprequest",
        "//cdn",
    ] {
        assert!(!page.contains(needle), "the page contains {needle:?}");
    }
}

#[test]
fn the_embedded_data_decodes_to_the_same_events_and_names() {
    let trace = traced_run(1 << 16, "napper");
    let (events, names) = decode(&embedded_json(&page_of(&trace)));
    assert_eq!(events.len(), trace.events().len());
    for (i, (got, want)) in events.iter().zip(trace.events()).enumerate() {
        assert_eq!(got, want, "event {i}");
    }
    // Every kind the workload makes went through the page.
    let has = |k: EventKind| events.iter().any(|e| e.kind == k);
    assert!(has(EventKind::Suspend(SuspendReason::Sleep)));
    assert!(has(EventKind::Suspend(SuspendReason::Lock)));
    assert!(has(EventKind::Suspend(SuspendReason::Channel)));
    assert!(has(EventKind::Wake(WakeCause::Timer)));
    assert!(events.iter().any(|e| matches!(
        e.kind,
        EventKind::Suspend(SuspendReason::Io { token, .. }) if token > 0
    )));
    // Every task of the trace has its row, named as in the trace.
    for e in trace.events() {
        let name = names.get(&e.task).expect("a row per task");
        assert_eq!(name.as_deref(), trace.task_name(e.task), "task {}", e.task);
    }
    assert_eq!(
        names
            .values()
            .filter(|n| n.as_deref() == Some("napper"))
            .count(),
        1
    );
    assert_eq!(names.get(&0), Some(&None), "row 0 is the scheduler");
}

#[test]
fn a_hostile_task_name_stays_inside_the_json() {
    let hostile = "</script><script>alert(\"x\")</SCRIPT> <!-- 'q' & \\ \u{2028}";
    let trace = traced_run(1 << 16, hostile);
    let page = page_of(&trace);
    // The two elements' own ends, and none from the name.
    assert_eq!(page.to_ascii_lowercase().matches("</script").count(), 2);
    assert!(!page.contains("<!--"));
    assert_balanced(&page);
    let (_, names) = decode(&embedded_json(&page));
    assert_eq!(
        names
            .values()
            .filter(|n| n.as_deref() == Some(hostile))
            .count(),
        1
    );
}

#[test]
fn dropped_events_are_shown_in_the_page() {
    let trace = traced_run(16, "napper");
    assert!(trace.dropped() > 0);
    let page = page_of(&trace);
    let line = page
        .lines()
        .find(|l| l.contains("id=\"dropped\""))
        .expect("a line saying events were dropped");
    let count = trace.dropped().to_string();
    let shown = line.replace(',', "");
    assert!(
        shown.contains(&format!("{count} older events were dropped")),
        "{line}"
    );
    assert_eq!(embedded_json(&page)["dropped"], trace.dropped());
}

#[test]
fn the_summary_counts_what_the_trace_holds() {
    let trace = traced_run(1 << 16, "napper");
    let page = page_of(&trace);
    let resumes = trace
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::Resume)
        .count();
    let sleeps = trace
        .events()
        .iter()
        .filter(|e| e.kind == EventKind::Suspend(SuspendReason::Sleep))
        .count();
    assert!(
        page.contains(&format!("<b>{resumes}</b> switches")),
        "{resumes}"
    );
    assert!(page.contains(&format!("sleep</span> {sleeps}")), "{sleeps}");
}

#[test]
fn an_empty_trace_makes_a_valid_page() {
    let mut rt = corio::Runtime::builder().trace(64).build().unwrap();
    rt.block_on(|| ());
    rt.take_trace().unwrap();
    let empty = rt.take_trace().unwrap();
    assert!(empty.events().is_empty());
    let page = page_of(&empty);
    assert_balanced(&page);
    let (events, _) = decode(&embedded_json(&page));
    assert!(events.is_empty());
}

#[test]
fn a_write_error_is_returned() {
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "disk full",
            ))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let err = traced_run(1 << 16, "napper").write_html(Full).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::StorageFull);
}

#[test]
fn a_million_events_make_a_compact_page() {
    let mut rt = corio::Runtime::builder().trace(1_000_000).build().unwrap();
    rt.block_on(|| {
        let other = corio::spawn(|| {
            for _ in 0..260_000 {
                corio::yield_now();
            }
        });
        for _ in 0..260_000 {
            corio::yield_now();
        }
        other.join().unwrap();
    });
    let trace = rt.take_trace().unwrap();
    assert_eq!(trace.events().len(), 1_000_000);
    let page = page_of(&trace);
    // A few bytes per number, four numbers per event, and the page's own
    // ~15 kB: an object per event would be several times this.
    let per_event = page.len() as f64 / 1e6;
    assert!(per_event < 16.0, "{per_event:.1} bytes per event");
    let doc = embedded_json(&page);
    assert_eq!(doc["kind"].as_array().unwrap().len(), 1_000_000);
}
