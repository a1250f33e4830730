//! Coroutines and OS threads in one process: `Handle`, `spawn_blocking`,
//! `Send` senders, and what the deadlock report makes of other threads.

mod util;

use std::panic;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use corio::runtime::Handle;

#[test]
fn blocking_jobs_run_side_by_side_while_a_ticker_keeps_ticking() {
    // Counted, not timed: every job waits on its pool thread until all
    // eight have started (one after another, the first would wait for the
    // rest forever) and until the runtime's 1 ms ticker has ticked ten more
    // times (a runtime blocked by the jobs never would). A busy machine only
    // makes that take longer; the hang guard is far beyond it.
    const JOBS: usize = 8;
    const TICKS: u32 = 10;
    let hang_guard = Instant::now() + Duration::from_secs(30);
    let started = Arc::new(AtomicUsize::new(0));
    let ticks = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let (ticks_in_all, results) = corio::run(|| {
        let done = std::rc::Rc::new(std::cell::Cell::new(false));
        let ticker_done = std::rc::Rc::clone(&done);
        let ticker_ticks = Arc::clone(&ticks);
        let ticker = corio::spawn(move || {
            while !ticker_done.get() {
                corio::sleep(Duration::from_millis(1));
                ticker_ticks.fetch_add(1, Ordering::SeqCst);
            }
        });
        let jobs: Vec<_> = (0..JOBS as u64)
            .map(|i| {
                let (started, ticks) = (Arc::clone(&started), Arc::clone(&ticks));
                corio::spawn(move || {
                    corio::spawn_blocking(move || {
                        let ticks_at_start = ticks.load(Ordering::SeqCst);
                        started.fetch_add(1, Ordering::SeqCst);
                        let met = || {
                            started.load(Ordering::SeqCst) == JOBS
                                && ticks.load(Ordering::SeqCst) >= ticks_at_start + TICKS
                        };
                        while !met() && Instant::now() < hang_guard {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        (i * 10, met())
                    })
                    .unwrap()
                })
            })
            .collect();
        let results: Vec<(u64, bool)> = jobs.into_iter().map(|j| j.join().unwrap()).collect();
        done.set(true);
        ticker.join().unwrap();
        (results.iter().all(|&(_, met)| met), results)
    });
    let values: Vec<u64> = results.iter().map(|&(value, _)| value).collect();
    assert_eq!(values, [0, 10, 20, 30, 40, 50, 60, 70]);
    assert!(
        ticks_in_all,
        "within 30 s, not every job saw all {JOBS} jobs started and {TICKS} ticks while it \
         ran: {} started, {} ticks in all, {results:?}",
        started.load(Ordering::SeqCst),
        ticks.load(Ordering::SeqCst)
    );
}

#[test]
fn a_panicking_blocking_job_comes_back_as_err() {
    let payload =
        corio::run(|| corio::spawn_blocking(|| -> u8 { panic!("in the pool") })).unwrap_err();
    assert_eq!(util::panic_text(&*payload), "in the pool");
}

#[test]
fn blocking_jobs_run_on_named_pool_threads() {
    let name = corio::run(|| {
        corio::spawn_blocking(|| std::thread::current().name().map(str::to_owned)).unwrap()
    });
    assert!(
        name.as_deref()
            .is_some_and(|n| n.starts_with("corio-blocking-")),
        "{name:?}"
    );
}

#[test]
fn handle_spawn_from_four_threads_joined_from_std_threads() {
    let mut rt = corio::Runtime::new().unwrap();
    let handle = rt.handle();
    let ran = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let handle = handle.clone();
            let ran = Arc::clone(&ran);
            std::thread::spawn(move || {
                let tasks: Vec<_> = (0..25u64)
                    .map(|i| {
                        let ran = Arc::clone(&ran);
                        handle
                            .spawn(move || {
                                corio::yield_now();
                                ran.fetch_add(1, Ordering::SeqCst);
                                t * 100 + i
                            })
                            .unwrap()
                    })
                    .collect();
                tasks
                    .into_iter()
                    .map(|task| task.join().unwrap())
                    .sum::<u64>()
            })
        })
        .collect();
    drop(handle);
    // The runtime runs the tasks while its root waits for the threads (in
    // the blocking pool, so that the runtime itself stays free).
    let sums = rt.block_on(move || {
        corio::spawn_blocking(move || {
            threads
                .into_iter()
                .map(|t| t.join().unwrap())
                .collect::<Vec<_>>()
        })
        .unwrap()
    });
    let expected: Vec<u64> = (0..4u64)
        .map(|t| (0..25).map(|i| t * 100 + i).sum())
        .collect();
    assert_eq!(sums, expected);
    assert_eq!(ran.load(Ordering::SeqCst), 100);
}

#[test]
fn a_remote_task_is_joined_from_a_coroutine_of_another_runtime() {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (handle_tx, handle_rx) = std::sync::mpsc::channel();
    // Runtime A lives on its own thread (a runtime never moves) and serves
    // until told to stop.
    let thread_a = std::thread::spawn(move || {
        let mut a = corio::Runtime::new().unwrap();
        handle_tx.send(a.handle()).unwrap();
        a.block_on(|| corio::spawn_blocking(move || rx.recv()).unwrap())
            .unwrap();
    });
    let handle_a: Handle = handle_rx.recv().unwrap();
    let got = corio::run(move || {
        let task = handle_a
            .spawn(|| corio::thread::current().name().map(str::to_owned))
            .unwrap();
        let on_a = corio::task::current_id();
        (task.join().unwrap(), on_a)
    });
    assert_eq!(got.0, None); // an unnamed task of runtime A
    tx.send(()).unwrap();
    thread_a.join().unwrap();
}

#[test]
fn a_handle_of_a_dropped_runtime_says_so() {
    let rt = corio::Runtime::new().unwrap();
    let handle = rt.handle();
    let never_ran = handle.spawn(|| 1).unwrap();
    drop(rt);
    assert!(!handle.is_alive());
    let err = handle.spawn(|| 2).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotConnected);
    assert!(err.to_string().contains("has been dropped"), "{err}");
    let payload = never_ran.join().unwrap_err();
    assert!(
        util::panic_text(&*payload).contains("runtime was dropped first"),
        "{}",
        util::panic_text(&*payload)
    );
}

#[test]
fn handle_current_inside_a_coroutine_spawns_on_its_runtime() {
    corio::run(|| {
        let handle = Handle::current();
        let here = corio::task::current_id();
        let task = handle.spawn(corio::task::current_id).unwrap();
        let there = task.join().unwrap();
        assert_ne!(here, there);
        assert_eq!(here.as_u64() + 1, there.as_u64());
    });
}

#[test]
fn a_real_deadlock_is_still_reported_after_blocking_jobs_and_handles_are_gone() {
    let payload = panic::catch_unwind(|| {
        corio::run(|| {
            assert_eq!(corio::spawn_blocking(|| 5).unwrap(), 5);
            drop(Handle::current());
            corio::thread::park(); // nothing anywhere can unpark it
        })
    })
    .unwrap_err();
    let text = util::panic_text(&*payload);
    assert!(text.contains("corio deadlock"), "{text}");
    assert!(text.contains("parked (thread::park)"), "{text}");
}

thread_local! {
    /// The root coroutine of `a_live_handle_keeps_...`, for a task spawned
    /// on the same runtime (its closure must be `Send`, a `Thread` is not).
    static ROOT: std::cell::RefCell<Option<corio::thread::Thread>> =
        const { std::cell::RefCell::new(None) };
    static WOKEN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[test]
fn a_live_handle_keeps_a_blocked_runtime_waiting_for_a_spawn() {
    let mut rt = corio::Runtime::new().unwrap();
    let handle = rt.handle();
    let helper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        handle
            .spawn(|| {
                WOKEN.with(|w| w.set(true));
                ROOT.with(|r| r.borrow().as_ref().unwrap().unpark());
            })
            .unwrap()
    });
    rt.block_on(|| {
        ROOT.with(|r| *r.borrow_mut() = Some(corio::thread::current()));
        // No socket, no timer, no blocking job: only the live handle on the
        // helper thread can wake the root, so this is no deadlock.
        while !WOKEN.with(|w| w.get()) {
            corio::thread::park();
        }
    });
    helper.join().unwrap().join().unwrap();
}

#[test]
fn senders_are_send_and_sync_the_receiver_is_not() {
    fn send_sync<X: Send + Sync>() {}
    send_sync::<corio::sync::mpsc::Sender<u32>>();
    send_sync::<corio::sync::mpsc::SyncSender<String>>();
    send_sync::<Handle>();
    send_sync::<corio::runtime::RemoteJoinHandle<u8>>();
}

#[test]
fn four_threads_send_25k_messages_each_into_one_runtime_in_order() {
    const PER_THREAD: u32 = 25_000;
    let (counts, total) = corio::run(|| {
        let (tx, rx) = corio::sync::mpsc::channel::<(u32, u32)>();
        let threads: Vec<_> = (0..4u32)
            .map(|t| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for i in 0..PER_THREAD {
                        tx.send((t, i)).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        // A coroutine ticking meanwhile shows the runtime is not blocked.
        let mut next = [0u32; 4];
        let mut total = 0u32;
        for (t, i) in &rx {
            assert_eq!(i, next[t as usize], "sender {t} out of order");
            next[t as usize] += 1;
            total += 1;
        }
        for t in threads {
            t.join().unwrap();
        }
        (next, total)
    });
    assert_eq!(counts, [PER_THREAD; 4]);
    assert_eq!(total, 4 * PER_THREAD);
}

#[test]
fn a_sync_sender_on_a_std_thread_waits_for_room() {
    corio::run(|| {
        let (tx, rx) = corio::sync::mpsc::sync_channel::<u32>(2);
        let producer = std::thread::spawn(move || {
            for i in 0..100 {
                tx.send(i).unwrap(); // blocks this OS thread while 2 are queued
            }
            // A full channel from afar is `Full`, a gone receiver `Disconnected`.
            tx
        });
        let mut got = Vec::new();
        for _ in 0..100 {
            corio::sleep(Duration::from_micros(200));
            got.push(rx.recv().unwrap());
        }
        assert_eq!(got, (0..100).collect::<Vec<_>>());
        let tx = corio::spawn_blocking(move || producer.join().unwrap()).unwrap();
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        let tx = corio::spawn_blocking(move || {
            let full = tx.try_send(3);
            (tx, full)
        })
        .unwrap();
        assert_eq!(tx.1, Err(corio::sync::mpsc::TrySendError::Full(3)));
        drop(rx);
        let gone = corio::spawn_blocking(move || (tx.0.send(4), tx.0.try_send(5))).unwrap();
        assert_eq!(gone.0, Err(corio::sync::mpsc::SendError(4)));
        assert_eq!(
            gone.1,
            Err(corio::sync::mpsc::TrySendError::Disconnected(5))
        );
    });
}

#[test]
fn the_last_sender_dropped_on_another_thread_ends_the_receivers_wait() {
    let got = corio::run(|| {
        let (tx, rx) = corio::sync::mpsc::channel::<u8>();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            tx.send(1).unwrap();
            drop(tx);
        });
        let got: Vec<u8> = rx.iter().collect(); // ends when tx is dropped afar
        t.join().unwrap();
        got
    });
    assert_eq!(got, [1]);
}

#[test]
fn a_rendezvous_send_from_afar_returns_once_the_receiver_took_it() {
    corio::run(|| {
        let (tx, rx) = corio::sync::mpsc::sync_channel::<&'static str>(0);
        let t = std::thread::spawn(move || {
            tx.send("hand to hand").unwrap();
            tx.send("again").unwrap();
        });
        assert_eq!(rx.recv().unwrap(), "hand to hand");
        assert_eq!(rx.recv().unwrap(), "again");
        corio::spawn_blocking(move || t.join().unwrap()).unwrap();
    });
}

/// Warnings logged by corio, captured for the test below.
static WARNINGS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let thread = std::thread::current();
            let on = thread.name().unwrap_or("?");
            WARNINGS
                .lock()
                .unwrap()
                .push(format!("[{on}] {}", record.args()));
        }
    }
    fn flush(&self) {}
}

#[test]
fn a_sender_on_a_sleeping_thread_is_no_deadlock_and_a_long_wait_is_logged() {
    let _ = log::set_logger(&Capture);
    log::set_max_level(log::LevelFilter::Warn);
    let got = corio::run(|| {
        let (tx, rx) = corio::sync::mpsc::channel::<u32>();
        let (_tx_b, rx_b) = corio::sync::mpsc::channel::<u32>();
        // The only sender sleeps on a std thread for longer than the
        // runtime's 2 s of patience: no deadlock panic, a warning instead.
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(2_500));
            tx.send(42).unwrap();
        });
        let got = corio::select! {
            recv(rx) -> v => v.unwrap(),
            recv(rx_b) -> v => v.unwrap() + 1000,
        };
        corio::spawn_blocking(move || t.join().unwrap()).unwrap();
        got
    });
    assert_eq!(got, 42);
    let warnings = WARNINGS.lock().unwrap();
    let warning = warnings
        .iter()
        .find(|w| {
            w.contains("only another OS thread can wake one now")
                && w.starts_with("[a_sender_on_a_sleeping_thread")
        })
        .unwrap_or_else(|| panic!("no stuck warning in {warnings:?}"));
    assert!(
        warning.contains("task 1 'root': selecting on empty channels"),
        "{warning}"
    );
}
