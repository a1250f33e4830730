//! The timeline (`runtime::Builder::trace`): its counts agree with `Stats`
//! exactly, the ring drops the oldest events and counts them, and the Chrome
//! trace JSON it writes is well formed, streamed without an allocation per
//! event.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use corio::trace::{EventKind, SuspendReason, Trace, WakeCause};

/// Counts allocations, so that a test can say how many a piece of code made.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A workload that touches every kind of switch: yields (hosted and not),
/// joins, a channel, a mutex, sleeps, and a loopback socket.
fn mixed_workload() {
    let napper = corio::spawn(|| corio::sleep(Duration::from_micros(100)));
    napper.join().unwrap(); // a join that waits
    let (tx, rx) = corio::sync::channel::<u32>();
    let lock = std::rc::Rc::new(corio::sync::Mutex::new(0));
    let mut tasks = Vec::new();
    for i in 0..4 {
        let tx = tx.clone();
        let lock = lock.clone();
        tasks.push(corio::spawn(move || {
            for _ in 0..3 {
                corio::yield_now();
            }
            let guard = lock.lock().unwrap();
            corio::yield_now(); // the others queue on the lock
            drop(guard);
            corio::sleep(Duration::from_micros(50 * (i + 1)));
            tx.send(i as u32).unwrap();
        }));
    }
    drop(tx);
    let sum: u32 = rx.iter().sum(); // waits: the senders sleep first
    assert_eq!(sum, 6);
    let listener = corio::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = corio::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0; 5];
        s.read_exact(&mut buf).unwrap();
        s.write_all(&buf).unwrap();
    });
    let mut c = corio::net::TcpStream::connect(addr).unwrap();
    corio::sleep(Duration::from_micros(200));
    c.write_all(b"hello").unwrap();
    let mut back = [0; 5];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello");
    for t in tasks {
        t.join().unwrap();
    }
    server.join().unwrap();
}

fn traced_run(capacity: usize) -> (Trace, corio::Stats) {
    let mut rt = corio::Runtime::builder().trace(capacity).build().unwrap();
    rt.block_on(mixed_workload);
    let stats = rt.stats();
    (rt.take_trace().unwrap(), stats)
}

fn count(trace: &Trace, f: impl Fn(&EventKind) -> bool) -> u64 {
    trace.events().iter().filter(|e| f(&e.kind)).count() as u64
}

#[test]
fn trace_counts_match_stats_exactly() {
    let (trace, stats) = traced_run(1 << 20);
    assert_eq!(trace.dropped(), 0);
    assert_eq!(count(&trace, |k| *k == EventKind::Resume), stats.switches);
    assert_eq!(
        count(&trace, |k| matches!(k, EventKind::Spawn { .. })),
        stats.spawned
    );
    assert_eq!(count(&trace, |k| *k == EventKind::Finish), stats.completed);
    assert_eq!(
        count(&trace, |k| matches!(k, EventKind::Poll { .. })),
        stats.polls
    );
    let polled: u64 = trace
        .events()
        .iter()
        .map(|e| match e.kind {
            EventKind::Poll { events, .. } => u64::from(events),
            _ => 0,
        })
        .sum();
    assert_eq!(polled, stats.events);
    // Six spawned plus the root.
    assert_eq!(stats.spawned, 7);
}

#[test]
fn every_reason_and_cause_of_the_workload_is_named() {
    let (trace, _) = traced_run(1 << 20);
    let has = |f: &dyn Fn(&EventKind) -> bool| count(&trace, f) > 0;
    assert!(has(&|k| *k == EventKind::Suspend(SuspendReason::Yield)));
    assert!(has(&|k| *k == EventKind::Suspend(SuspendReason::Sleep)));
    assert!(has(&|k| *k == EventKind::Suspend(SuspendReason::Join)));
    assert!(has(&|k| *k == EventKind::Suspend(SuspendReason::Lock)));
    assert!(has(&|k| *k == EventKind::Suspend(SuspendReason::Channel)));
    assert!(has(&|k| matches!(
        k,
        EventKind::Suspend(SuspendReason::Io {
            writable: false,
            ..
        })
    )));
    assert!(has(&|k| *k == EventKind::Wake(WakeCause::Timer)));
    assert!(has(&|k| *k == EventKind::Wake(WakeCause::Io)));
    assert!(has(&|k| matches!(k, EventKind::Wake(WakeCause::Task(_)))));
    // Time moves forward.
    let times: Vec<u64> = trace.events().iter().map(|e| e.at_ns).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "timestamps out of order"
    );
    // A spawned task's parent is the task that spawned it: the root, 1.
    let parents: HashSet<u64> = trace
        .events()
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Spawn { parent } if e.task != 1 => Some(parent),
            _ => None,
        })
        .collect();
    assert_eq!(parents, HashSet::from([1]));
}

#[test]
fn a_full_ring_keeps_the_newest_events_and_counts_the_dropped() {
    let (all, _) = traced_run(1 << 20);
    let total = all.events().len() as u64;
    let (kept, _) = traced_run(16);
    assert_eq!(kept.events().len(), 16);
    // Runs differ slightly (how polls fall), so compare loosely, but the
    // sum must be what was recorded.
    assert!(
        kept.dropped() + 16 > total / 2,
        "dropped {} of ~{total}",
        kept.dropped()
    );
    // The newest survive: the last is the root's finish.
    let last = kept.events().last().unwrap();
    assert_eq!((last.task, last.kind), (1, EventKind::Finish));
}

#[test]
fn taking_the_trace_empties_the_ring_and_recording_goes_on() {
    let mut rt = corio::Runtime::builder().trace(1024).build().unwrap();
    rt.block_on(|| corio::yield_now());
    let first = rt.take_trace().unwrap();
    assert!(!first.events().is_empty());
    assert!(rt.take_trace().unwrap().events().is_empty());
    rt.block_on(|| ());
    let second = rt.take_trace().unwrap();
    assert_eq!(second.events().len(), 3, "{:?}", second.events()); // spawn, resume, finish
    assert!(second.events()[0].at_ns >= first.events().last().unwrap().at_ns);
}

#[test]
fn the_chrome_json_parses_and_every_event_has_the_required_fields() {
    let (trace, _) = traced_run(1 << 20);
    let mut json = Vec::new();
    trace.write_chrome_json(&mut json).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
    let events = doc["traceEvents"].as_array().expect("a traceEvents array");
    assert!(events.len() > 20);
    for e in events {
        for field in ["ph", "ts", "pid", "tid", "name"] {
            assert!(e.get(field).is_some(), "{field} missing in {e}");
        }
        assert!(e["ts"].is_number(), "{e}");
    }
    let phase = |ph: &'static str| events.iter().filter(move |e| e["ph"] == ph);
    // Runs are complete slices with a duration, named by how they ended.
    assert!(phase("X").any(|e| e["name"] == "run → yield"));
    assert!(phase("X").all(|e| e["dur"].as_f64().unwrap() >= 0.0));
    // Every flow that lands has a start with the same id.
    let starts: HashSet<u64> = phase("s").map(|e| e["id"].as_u64().unwrap()).collect();
    let ends: Vec<u64> = phase("f").map(|e| e["id"].as_u64().unwrap()).collect();
    assert!(!ends.is_empty());
    assert!(ends.iter().all(|id| starts.contains(id)));
    // One named track per task.
    let named = phase("M").filter(|e| e["name"] == "thread_name").count();
    assert_eq!(named, 1 + 7, "the scheduler's track and seven tasks'");
}

#[test]
fn writing_a_million_events_does_not_allocate_per_event() {
    let mut rt = corio::Runtime::builder()
        .trace(1_000_000)
        .stall_threshold(None)
        .build()
        .unwrap();
    rt.block_on(|| {
        let other = corio::spawn(|| {
            for _ in 0..300_000 {
                corio::yield_now();
            }
        });
        for _ in 0..300_000 {
            corio::yield_now();
        }
        other.join().unwrap();
    });
    let trace = rt.take_trace().unwrap();
    assert_eq!(trace.events().len(), 1_000_000);
    assert!(trace.dropped() > 0);
    let mut out = std::io::BufWriter::new(std::io::sink());
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    trace.write_chrome_json(&mut out).unwrap();
    let made = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert!(made < 100, "{made} allocations for 1,000,000 events");
}

#[test]
fn a_zero_capacity_is_refused_with_a_reason() {
    let err = corio::Runtime::builder().trace(0).build().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("at least 1"), "{err}");
}

#[test]
fn without_tracing_there_is_no_trace() {
    let mut rt = corio::Runtime::new().unwrap();
    rt.block_on(|| corio::yield_now());
    assert!(rt.take_trace().is_none());
}

#[test]
fn named_tasks_name_their_tracks_with_the_name_escaped() {
    let mut rt = corio::Runtime::builder().trace(1024).build().unwrap();
    let odd = "say \"hi\"\\ to\n\u{1}you";
    let (plain, named, live) = rt.block_on(|| {
        let named = corio::thread::Builder::new()
            .name(odd.to_string())
            .spawn(corio::yield_now)
            .unwrap();
        let plain = corio::spawn(corio::yield_now);
        let ids = (
            plain.thread().task_id().as_u64(),
            named.thread().task_id().as_u64(),
        );
        named.join().unwrap();
        plain.join().unwrap();
        // Still parked when the traces are taken (unwound with the runtime).
        let live = corio::thread::Builder::new()
            .name("live".to_string())
            .spawn(corio::thread::park)
            .unwrap();
        corio::yield_now();
        (ids.0, ids.1, live.thread().task_id().as_u64())
    });
    let first = rt.take_trace().unwrap();
    assert_eq!(first.task_name(named), Some(odd));
    assert_eq!(first.task_name(plain), None);
    assert_eq!(first.task_name(live), Some("live"));

    let mut json = Vec::new();
    first.write_chrome_json(&mut json).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
    let track = |tid: u64| {
        doc["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "thread_name" && e["tid"] == tid)
            .map(|e| e["args"]["name"].as_str().unwrap().to_string())
            .unwrap()
    };
    assert_eq!(track(named), format!("task {named} '{odd}'"));
    assert_eq!(track(plain), format!("task {plain}"));

    // A finished task's name goes with the trace that saw it finish; a
    // live one's stays for the next.
    let second = rt.take_trace().unwrap();
    assert_eq!(second.task_name(named), None);
    assert_eq!(second.task_name(live), Some("live"));
}
