//! The cooperative contract made visible: a coroutine that keeps its
//! runtime's OS thread (a blocking std call, a loop that never yields) is
//! reported on stderr while it does, naming the system call; a runtime
//! whose coroutines all wait on other threads for long reports a quiet
//! hang with the task dump. Reports go to stderr, so each case plays out in
//! a child process and the parent reads what it printed.

mod util;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corio::runtime::{Activity, Runtime, Stall};

/// A ticker coroutine: sleeps 1 ms at a time (corio's sleep) until `stop`,
/// counting its ticks.
fn ticker(stop: Arc<AtomicBool>, ticks: Arc<AtomicU64>) -> corio::JoinHandle<()> {
    corio::task::Builder::new()
        .name("ticker".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                corio::thread::sleep(Duration::from_millis(1));
                ticks.fetch_add(1, Ordering::Relaxed);
            }
        })
        .expect("a stack for the ticker")
}

/// Runs `breaker` as a coroutine named 'breaker' beside a ticker on a
/// runtime built by `builder`, then lets the ticker tick 20 more times and
/// prints `carried on` (the runtime went on after the stall).
fn play(builder: corio::runtime::Builder, breaker: impl FnOnce() + 'static) {
    let mut rt = builder.build().expect("a runtime");
    rt.block_on(|| {
        let stop = Arc::new(AtomicBool::new(false));
        let ticks = Arc::new(AtomicU64::new(0));
        let ticking = ticker(Arc::clone(&stop), Arc::clone(&ticks));
        corio::yield_now(); // the ticker starts
        corio::task::Builder::new()
            .name("breaker".into())
            .spawn(breaker)
            .expect("a stack")
            .join()
            .expect("the breaker returns");
        eprintln!("breaker returned");
        let after = ticks.load(Ordering::Relaxed);
        while ticks.load(Ordering::Relaxed) < after + 20 {
            corio::thread::sleep(Duration::from_millis(1));
        }
        stop.store(true, Ordering::Relaxed);
        ticking.join().unwrap();
        eprintln!("carried on");
    });
}

/// The report lines (starting `corio:`) a child printed on stderr.
fn reports(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.starts_with("corio:")).collect()
}

/// Plays `test` in a child and returns its stderr; the child must exit 0
/// and say `carried on`.
fn child_stderr(test: &str) -> String {
    let (_, stderr) = util::run_child_ok(test, &[]);
    assert!(stderr.contains("carried on"), "{stderr}");
    stderr
}

/// The line index of the first line of `stderr` containing `needle`.
fn line_of(stderr: &str, needle: &str) -> usize {
    stderr
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{stderr}"))
}

#[test]
fn a_std_sleep_is_reported_as_nanosleep_while_it_lasts() {
    if util::is_child("a_std_sleep_is_reported_as_nanosleep_while_it_lasts") {
        play(Runtime::builder(), || {
            std::thread::sleep(Duration::from_millis(600));
            eprintln!("std sleep over");
        });
        return;
    }
    let stderr = child_stderr("a_std_sleep_is_reported_as_nanosleep_while_it_lasts");
    let report = line_of(&stderr, "has held thread");
    let line = stderr.lines().nth(report).unwrap();
    assert!(line.starts_with("corio: coroutine "), "{line}");
    assert!(line.contains("'breaker'"), "{line}");
    assert!(line.contains("nanosleep"), "{line}");
    assert!(line.contains("use corio::thread::sleep"), "{line}");
    // Printed while the stall lasted, the end after it.
    assert!(report < line_of(&stderr, "std sleep over"), "{stderr}");
    let end = line_of(&stderr, "released thread");
    assert!(end > line_of(&stderr, "std sleep over"), "{stderr}");
    let ended = stderr.lines().nth(end).unwrap();
    let ms: u64 = ended
        .split("after ")
        .nth(1)
        .and_then(|rest| rest.split(" ms").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a length in ms: {ended}"));
    assert!((400..=60_000).contains(&ms), "{ended}");
    assert_eq!(reports(&stderr).len(), 2, "{stderr}");
}

#[test]
fn a_cpu_loop_is_reported_as_running() {
    if util::is_child("a_cpu_loop_is_reported_as_running") {
        play(Runtime::builder(), || {
            let start = Instant::now();
            let mut x = 0u64;
            while start.elapsed() < Duration::from_millis(600) {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        });
        return;
    }
    let stderr = child_stderr("a_cpu_loop_is_reported_as_running");
    let line = stderr
        .lines()
        .nth(line_of(&stderr, "has held thread"))
        .unwrap();
    assert!(line.contains(": running ("), "{line}");
    assert!(line.contains("corio::yield_now"), "{line}");
}

#[test]
fn a_std_channel_receive_is_reported_as_futex() {
    if util::is_child("a_std_channel_receive_is_reported_as_futex") {
        play(Runtime::builder(), || {
            let (tx, rx) = std::sync::mpsc::channel();
            let sender = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(600));
                tx.send(1).unwrap();
            });
            assert_eq!(rx.recv(), Ok(1));
            sender.join().unwrap();
        });
        return;
    }
    let stderr = child_stderr("a_std_channel_receive_is_reported_as_futex");
    let line = stderr
        .lines()
        .nth(line_of(&stderr, "has held thread"))
        .unwrap();
    assert!(line.contains("blocked in futex"), "{line}");
    assert!(line.contains("corio::sync"), "{line}");
}

#[test]
fn a_spin_that_never_ends_is_reported_while_it_lasts() {
    if util::is_child("a_spin_that_never_ends_is_reported_while_it_lasts") {
        corio::run(|| {
            let flag = Arc::new(AtomicBool::new(false));
            let setter = Arc::clone(&flag);
            // This coroutine would set the flag, but never runs: the spinner
            // keeps the thread.
            corio::spawn(move || setter.store(true, Ordering::Relaxed));
            while !flag.load(Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        });
        return;
    }
    let test = "a_spin_that_never_ends_is_reported_while_it_lasts";
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("CORIO_TEST_CHILD_ROLE", test)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("the test binary starts again");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    // The child spins forever: the report must come while it does. A
    // reader thread gives the wait a generous bound.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    let report = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("has held thread") => break line,
            Ok(line) => seen.push(line),
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "no stall report within 60 s; stderr so far:\n{}",
                    seen.join("\n")
                );
            }
        }
    };
    let still_running = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    let _ = child.wait();
    assert!(still_running, "the report came while the spin lasted");
    assert!(report.contains(": running"), "{report}");
}

#[test]
fn no_threshold_no_report() {
    if util::is_child("no_threshold_no_report") {
        play(Runtime::builder().stall_threshold(None), || {
            std::thread::sleep(Duration::from_millis(400));
        });
        return;
    }
    let stderr = child_stderr("no_threshold_no_report");
    assert!(reports(&stderr).is_empty(), "{stderr}");
}

#[test]
fn a_lower_threshold_reports_a_shorter_stall() {
    if util::is_child("a_lower_threshold_reports_a_shorter_stall") {
        // Stalls the default 100 ms would never report; five of them, so
        // that a watchdog thread kept off the CPU by a busy machine for one
        // of them still sees another.
        let builder = Runtime::builder().stall_threshold(Some(Duration::from_millis(10)));
        play(builder, || {
            for _ in 0..5 {
                std::thread::sleep(Duration::from_millis(60));
                corio::yield_now();
            }
        });
        return;
    }
    let stderr = child_stderr("a_lower_threshold_reports_a_shorter_stall");
    let line = stderr
        .lines()
        .nth(line_of(&stderr, "has held thread"))
        .unwrap();
    assert!(line.contains("'breaker'"), "{line}");
}

#[test]
fn on_stall_replaces_the_stderr_line_and_gets_the_details() {
    if util::is_child("on_stall_replaces_the_stderr_line_and_gets_the_details") {
        let seen: Arc<Mutex<Vec<Stall>>> = Arc::default();
        let log = Arc::clone(&seen);
        let builder = Runtime::builder()
            .stall_threshold(Some(Duration::from_millis(50)))
            .on_stall(move |stall| log.lock().unwrap().push(stall.clone()));
        play(builder, || std::thread::sleep(Duration::from_millis(400)));
        // The end is seen within a sampling period or so.
        let deadline = Instant::now() + Duration::from_secs(30);
        while seen.lock().unwrap().len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "{seen:?}");
        let (start, end) = (&seen[0], &seen[1]);
        assert!(!start.ended && end.ended);
        assert_eq!(start.name.as_deref(), Some("breaker"));
        assert_eq!(start.task, end.task);
        assert!(start.elapsed >= Duration::from_millis(50), "{start:?}");
        assert!(end.elapsed >= Duration::from_millis(300), "{end:?}");
        let Activity::Blocked { syscall, .. } = &start.activity else {
            panic!("a std sleep blocks in a system call: {start:?}");
        };
        assert!(syscall.contains("nanosleep"), "{syscall}");
        assert!(start.to_string().starts_with("corio: coroutine "));
        return;
    }
    let stderr = child_stderr("on_stall_replaces_the_stderr_line_and_gets_the_details");
    assert!(reports(&stderr).is_empty(), "{stderr}");
}

#[test]
fn a_panicking_callback_is_said_once_and_the_watchdog_carries_on() {
    let calls = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&calls);
    let mut rt = Runtime::builder()
        .stall_threshold(Some(Duration::from_millis(20)))
        .on_stall(move |_| {
            counted.fetch_add(1, Ordering::Relaxed);
            panic!("a callback that panics");
        })
        .build()
        .unwrap();
    // Stalls fifteen times the threshold long, so that a watchdog thread
    // the busy machine keeps off the CPU for a while still sees each.
    rt.block_on(|| {
        for _ in 0..2 {
            std::thread::sleep(Duration::from_millis(300));
            corio::yield_now();
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    while calls.load(Ordering::Relaxed) < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Two stalls, each a start and an end. The first call panicked; the
    // watchdog kept calling: for the end of that stall and for the next.
    // Only a watchdog starved of the CPU for most of a stall misses one.
    let calls = calls.load(Ordering::Relaxed);
    assert!(
        (3..=4).contains(&calls),
        "{calls} calls; two stalls, each a start and an end, make 4"
    );
}

#[test]
fn coroutines_that_keep_yielding_raise_no_report() {
    let stalls = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&stalls);
    let mut rt = Runtime::builder()
        .on_stall(move |_| {
            counted.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .unwrap();
    let switches = rt.block_on(|| {
        let tasks: Vec<_> = (0..200)
            .map(|_| corio::spawn(|| (0..2000).for_each(|_| corio::yield_now())))
            .collect();
        tasks.into_iter().for_each(|t| t.join().unwrap());
        corio::stats().switches
    });
    assert!(switches >= 400_000, "{switches}");
    assert_eq!(stalls.load(Ordering::Relaxed), 0);
}

#[test]
fn a_threshold_out_of_range_is_invalid_input() {
    for threshold in [
        Duration::ZERO,
        Duration::from_micros(999),
        Duration::from_secs(3601),
    ] {
        let err = Runtime::builder()
            .stall_threshold(Some(threshold))
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("between 1 ms and 1 hour"), "{err}");
    }
    for threshold in [Duration::from_millis(1), Duration::from_secs(3600)] {
        Runtime::builder()
            .stall_threshold(Some(threshold))
            .build()
            .unwrap();
    }
}

#[test]
fn a_quiet_hang_prints_the_dump_of_what_each_task_waits_for() {
    if util::is_child("a_quiet_hang_prints_the_dump_of_what_each_task_waits_for") {
        let mut rt = Runtime::builder()
            .stall_threshold(Some(Duration::from_millis(20)))
            .build()
            .unwrap();
        rt.block_on(|| {
            let (tx, rx) = corio::sync::mpsc::channel::<u32>();
            let lock = std::rc::Rc::new(corio::sync::Mutex::new(()));
            let held = std::rc::Rc::clone(&lock);
            let receiver = corio::task::Builder::new()
                .name("receiver".into())
                .spawn(move || {
                    let _guard = held.lock().unwrap();
                    rx.recv().unwrap()
                })
                .unwrap();
            corio::yield_now(); // it takes the lock and waits
            let locker = corio::task::Builder::new()
                .name("locker".into())
                .spawn(move || drop(lock.lock().unwrap()))
                .unwrap();
            corio::yield_now(); // it waits for the lock
            // Only this OS thread can wake anyone now, in 2 s.
            let sender = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(2000));
                tx.send(7).unwrap();
            });
            assert_eq!(receiver.join().unwrap(), 7);
            locker.join().unwrap();
            sender.join().unwrap();
        });
        eprintln!("carried on");
        return;
    }
    let stderr = child_stderr("a_quiet_hang_prints_the_dump_of_what_each_task_waits_for");
    let first = line_of(&stderr, "corio: nothing has run for");
    let dump: Vec<&str> = stderr.lines().skip(first + 1).take(3).collect();
    let dump = dump.join("\n");
    assert!(
        dump.contains("'receiver': receiving on an empty channel (recv)"),
        "{stderr}"
    );
    assert!(
        dump.contains("'locker': locking a Mutex held by task"),
        "{stderr}"
    );
    assert!(dump.contains("joining task"), "{stderr}");
    assert_eq!(
        stderr.matches("nothing has run for").count(),
        1,
        "one report per stretch:\n{stderr}"
    );
}

#[test]
fn a_stall_that_ends_as_the_program_exits_still_prints_its_end() {
    if util::is_child("a_stall_that_ends_as_the_program_exits_still_prints_its_end") {
        corio::run(|| std::thread::sleep(Duration::from_millis(600)));
        eprintln!("runtime gone");
        // Exit at once: the watchdog has no time to see the end itself.
        std::process::exit(0);
    }
    let (_, stderr) = util::run_child_ok(
        "a_stall_that_ends_as_the_program_exits_still_prints_its_end",
        &[],
    );
    let start = line_of(&stderr, "has held thread");
    let end = line_of(&stderr, "released thread");
    assert!(
        start < end && end < line_of(&stderr, "runtime gone"),
        "{stderr}"
    );
    assert_eq!(reports(&stderr).len(), 2, "{stderr}");
}

#[test]
fn a_stall_goes_into_the_trace_with_its_report() {
    let mut rt = Runtime::builder()
        .trace(1 << 12)
        .stall_threshold(Some(Duration::from_millis(20)))
        .on_stall(|_| {}) // keep the test's output clean
        .build()
        .unwrap();
    let breaker = rt.block_on(|| {
        let breaker = corio::task::Builder::new()
            .name("breaker".into())
            .spawn(|| std::thread::sleep(Duration::from_millis(400)))
            .unwrap();
        let id = breaker.thread().task_id().as_u64();
        breaker.join().unwrap();
        for _ in 0..10 {
            corio::yield_now(); // a coroutine that yields is no stall
        }
        id
    });
    let trace = rt.take_trace().unwrap();
    let stalls = trace.stalls();
    assert_eq!(stalls.len(), 1, "{stalls:?}");
    let stall = &stalls[0];
    assert_eq!(stall.task, breaker);
    assert!(stall.report.contains("'breaker'"), "{}", stall.report);
    assert!(stall.report.contains("nanosleep"), "{}", stall.report);
    // The trace holds the whole run slice: the stall is exactly it.
    let events = trace.events();
    let resume = events
        .iter()
        .find(|e| e.task == breaker && e.kind == corio::trace::EventKind::Resume)
        .unwrap();
    let finish = events
        .iter()
        .find(|e| e.task == breaker && e.kind == corio::trace::EventKind::Finish)
        .unwrap();
    assert_eq!(stall.at_ns, resume.at_ns);
    assert_eq!(stall.held_ns, finish.at_ns - resume.at_ns);
    assert!(stall.held_ns >= 400_000_000, "{stall:?}");
    let mut json = Vec::new();
    trace.write_chrome_json(&mut json).unwrap();
    let json = String::from_utf8(json).unwrap();
    assert!(json.contains("\"name\":\"stall\""), "{json}");
    assert!(json.contains("nanosleep"));
    let mut page = Vec::new();
    trace.write_html(&mut page).unwrap();
    let page = String::from_utf8(page).unwrap();
    assert!(page.contains("<b>1 stall</b>"));
    assert!(page.contains("&#39;breaker&#39;"), "the report, escaped");
    // A second take starts afresh.
    rt.block_on(corio::yield_now);
    assert!(rt.take_trace().unwrap().stalls().is_empty());
}
