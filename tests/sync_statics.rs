//! Locks that live in `static`s: `corio::sync`'s `Mutex`, `RwLock`,
//! `Condvar`, `Once`, `OnceLock`, `LazyLock`, `Barrier` and `Semaphore`
//! shared by the coroutines of several runtimes (one per OS thread) and by
//! plain std threads. A
//! coroutine that waits for a holder on another thread must suspend only
//! itself: a 1 ms ticker coroutine beside it keeps ticking, and its count
//! is what the tests assert.

#[path = "util/ticker.rs"]
mod ticker;
mod util;

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use corio::sync::{Barrier, Condvar, LazyLock, Mutex, Once, OnceLock, RwLock, Semaphore};
use ticker::Ticker;

#[test]
fn two_runtimes_and_a_thread_share_a_static_mutex_with_an_exact_count() {
    static COUNTER: Mutex<u64> = Mutex::new(0);
    const COROUTINES: u64 = 4;
    const ROUNDS: u64 = 200;
    const THREAD_ROUNDS: u64 = 500;

    let runtime = || {
        std::thread::spawn(|| {
            corio::run(|| {
                let workers: Vec<_> = (0..COROUTINES)
                    .map(|_| {
                        corio::spawn(|| {
                            for _ in 0..ROUNDS {
                                let mut n = COUNTER.lock().unwrap();
                                let seen = *n;
                                corio::yield_now(); // held across a switch
                                *n = seen + 1;
                            }
                        })
                    })
                    .collect();
                workers.into_iter().for_each(|w| w.join().unwrap());
            })
        })
    };
    let (a, b) = (runtime(), runtime());
    let plain = std::thread::spawn(|| {
        for _ in 0..THREAD_ROUNDS {
            let mut n = COUNTER.lock().unwrap();
            let seen = *n;
            std::thread::yield_now();
            *n = seen + 1;
        }
    });
    for thread in [a, b, plain] {
        thread.join().unwrap();
    }
    assert_eq!(
        *COUNTER.lock().unwrap(),
        2 * COROUTINES * ROUNDS + THREAD_ROUNDS
    );
}

#[test]
fn a_coroutine_waiting_for_a_static_mutex_held_by_a_thread_lets_the_ticker_tick() {
    static HELD: Mutex<u32> = Mutex::new(0);
    let (taken_tx, taken) = std_mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut guard = HELD.lock().unwrap();
        taken_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        *guard = 1;
    });
    taken.recv().unwrap(); // the thread holds it now
    let (during, seen) = corio::run(|| {
        let ticker = Ticker::start();
        let before = ticker.now();
        let seen = *HELD.lock().unwrap(); // suspends this coroutine only
        let during = ticker.now() - before;
        ticker.stop();
        (during, seen)
    });
    holder.join().unwrap();
    assert_eq!(seen, 1, "the lock was had only after the thread's write");
    assert!(
        during >= 20,
        "the ticker ticked {during} times during the wait"
    );
}

#[test]
fn a_lone_coroutine_waiting_for_a_thread_is_no_deadlock() {
    // No ticker, no timer: the runtime has nothing to run, and only the
    // other thread can end either wait. That is no deadlock.
    static HELD: Mutex<()> = Mutex::new(());
    static READY: Mutex<bool> = Mutex::new(false);
    static READY_CHANGED: Condvar = Condvar::new();
    let (taken_tx, taken) = std_mpsc::channel();
    let other = std::thread::spawn(move || {
        let guard = HELD.lock().unwrap();
        taken_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        drop(guard);
        std::thread::sleep(Duration::from_millis(50));
        *READY.lock().unwrap() = true;
        READY_CHANGED.notify_one();
    });
    taken.recv().unwrap();
    let ready = corio::run(|| {
        drop(HELD.lock().unwrap());
        let ready = READY_CHANGED
            .wait_while(READY.lock().unwrap(), |ready| !*ready)
            .unwrap();
        *ready
    });
    other.join().unwrap();
    assert!(ready);
}

#[test]
fn a_std_thread_notifies_a_coroutine_waiting_on_a_static_condvar() {
    static READY: Mutex<bool> = Mutex::new(false);
    static READY_CHANGED: Condvar = Condvar::new();
    let notifier = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(100));
        *READY.lock().unwrap() = true;
        READY_CHANGED.notify_one();
    });
    let (during, ready) = corio::run(|| {
        let ticker = Ticker::start();
        let before = ticker.now();
        let ready = *READY_CHANGED
            .wait_while(READY.lock().unwrap(), |ready| !*ready)
            .unwrap();
        let during = ticker.now() - before;
        ticker.stop();
        (during, ready)
    });
    notifier.join().unwrap();
    assert!(ready);
    assert!(
        during >= 10,
        "the ticker ticked {during} times during the wait"
    );
}

#[test]
fn a_static_once_lock_lazy_lock_and_once_initialise_once_across_threads_and_runtimes() {
    static CONFIG: OnceLock<String> = OnceLock::new();
    static CONFIG_RUNS: AtomicUsize = AtomicUsize::new(0);
    static TABLE: LazyLock<Vec<u64>> = LazyLock::new(|| {
        TABLE_RUNS.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(20)); // the others come meanwhile
        (0..100).collect()
    });
    static TABLE_RUNS: AtomicUsize = AtomicUsize::new(0);
    static SETUP: Once = Once::new();
    static SETUP_RUNS: AtomicUsize = AtomicUsize::new(0);

    /// What one caller sees.
    fn use_them() -> (String, u64) {
        let config = CONFIG.get_or_init(|| {
            CONFIG_RUNS.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            "config".to_string()
        });
        SETUP.call_once(|| {
            SETUP_RUNS.fetch_add(1, Ordering::SeqCst);
        });
        assert!(SETUP.is_completed());
        (config.clone(), TABLE.iter().sum())
    }

    let start = std::sync::Arc::new(std::sync::Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                if i < 2 {
                    // A runtime whose three coroutines all ask.
                    corio::run(|| {
                        let callers: Vec<_> = (0..3).map(|_| corio::spawn(use_them)).collect();
                        callers
                            .into_iter()
                            .map(|c| c.join().unwrap())
                            .collect::<Vec<_>>()
                    })
                } else {
                    vec![use_them()]
                }
            })
        })
        .collect();
    let seen: Vec<(String, u64)> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    assert_eq!(seen.len(), 8);
    assert!(seen.iter().all(|s| *s == ("config".to_string(), 4950)));
    assert_eq!(CONFIG_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(TABLE_RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(SETUP_RUNS.load(Ordering::SeqCst), 1);
}

#[test]
fn rwlock_readers_share_across_threads_and_a_coroutine_writer_waits_for_them() {
    static TABLE: RwLock<Vec<u32>> = RwLock::new(Vec::new());
    static WRITTEN: AtomicBool = AtomicBool::new(false);
    let (reading_tx, reading) = std_mpsc::channel();
    let reader = std::thread::spawn(move || {
        let table = TABLE.read().unwrap();
        reading_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_millis(150));
        // The writer waits for this reader.
        assert!(!WRITTEN.load(Ordering::SeqCst));
        assert!(table.is_empty());
    });
    reading.recv().unwrap();
    let (shared, during) = corio::run(|| {
        // Another reader comes in while the thread reads.
        let shared = TABLE.try_read().is_ok();
        let ticker = Ticker::start();
        let before = ticker.now();
        let mut table = TABLE.write().unwrap(); // suspends until the thread is done
        let during = ticker.now() - before;
        table.push(7);
        WRITTEN.store(true, Ordering::SeqCst);
        drop(table);
        ticker.stop();
        (shared, during)
    });
    reader.join().unwrap();
    assert!(shared, "a reader on another thread shares the lock");
    assert!(
        during >= 10,
        "the ticker ticked {during} times during the wait"
    );
    let seen = std::thread::spawn(|| TABLE.read().unwrap().clone())
        .join()
        .unwrap();
    assert_eq!(seen, [7]);
}

#[test]
fn acquire_timeout_gives_none_after_the_timeout_and_a_permit_given_back_in_time() {
    let (timed_out, during, in_time, no_limit) = corio::run(|| {
        // Leaked, so that a permit may move into another coroutine.
        let slots: &'static Semaphore = Box::leak(Box::new(Semaphore::new(1)));
        let held = slots.acquire();
        let ticker = Ticker::start();
        let before = ticker.now();
        let timed_out = slots.acquire_timeout(Duration::from_millis(50)).is_none();
        let during = ticker.now() - before;

        // Given back in time: the waiter gets it.
        let giver = corio::spawn(move || {
            corio::sleep(Duration::from_millis(10));
            drop(held);
        });
        let in_time = slots.acquire_timeout(Duration::from_secs(30));
        let got_in_time = in_time.is_some();
        giver.join().unwrap();

        // `Duration::MAX` waits without a limit, and does not panic.
        let again = corio::spawn(move || {
            corio::sleep(Duration::from_millis(5));
            drop(in_time);
        });
        let no_limit = slots.acquire_timeout(Duration::MAX).is_some();
        again.join().unwrap();
        ticker.stop();
        (timed_out, during, got_in_time, no_limit)
    });
    assert!(timed_out);
    assert!(
        during >= 10,
        "the ticker ticked {during} times during the wait"
    );
    assert!(in_time);
    assert!(no_limit);
}

#[test]
fn a_same_runtime_deadlock_on_a_static_mutex_is_still_reported() {
    static M: Mutex<()> = Mutex::new(());
    let payload = std::panic::catch_unwind(|| {
        corio::run(|| {
            let _held = M.lock().unwrap();
            corio::thread::Builder::new()
                .name("blocked".into())
                .spawn(|| drop(M.lock()))
                .unwrap()
                .join()
                .unwrap();
        })
    })
    .unwrap_err();
    let text = util::panic_text(&*payload);
    assert!(text.contains("corio deadlock"), "{text}");
    assert!(
        text.contains("'blocked': locking a Mutex held by task 1"),
        "{text}"
    );
    // The unwound waiter left the line, and the holder's guard let go.
    assert!(!matches!(
        M.try_lock(),
        Err(std::sync::TryLockError::WouldBlock)
    ));
}

#[test]
fn same_runtime_contention_wakes_directly_without_the_inbox() {
    static SHARED: Mutex<u64> = Mutex::new(0);
    let (polls, total) = corio::run(|| {
        let before = corio::stats().polls;
        for _ in 0..1000 {
            *SHARED.lock().unwrap() += 1; // uncontended
        }
        let workers: Vec<_> = (0..4)
            .map(|_| {
                corio::spawn(|| {
                    for _ in 0..50 {
                        let mut n = SHARED.lock().unwrap();
                        corio::yield_now(); // the others queue for it
                        *n += 1;
                    }
                })
            })
            .collect();
        workers.into_iter().for_each(|w| w.join().unwrap());
        (corio::stats().polls - before, *SHARED.lock().unwrap())
    });
    assert_eq!(total, 1000 + 4 * 50);
    // A wake-up through the inbox would have made the runtime poll for
    // its waker; coroutines of one runtime wake each other directly.
    assert_eq!(polls, 0);
}

#[test]
fn the_static_locks_are_send_and_sync_and_an_rc_mutex_still_works() {
    fn sync<T: Sync + Send>() {}
    sync::<Mutex<u64>>();
    sync::<RwLock<u64>>();
    sync::<Condvar>();
    sync::<Once>();
    sync::<OnceLock<u64>>();
    sync::<LazyLock<u64>>();
    sync::<Barrier>();
    sync::<Semaphore>();
    // `Rc` is not `Send`: a mutex of one still works within one runtime.
    let local = corio::run(|| {
        let m = Rc::new(Mutex::new(Rc::new(5)));
        let mut guard = m.lock().unwrap();
        *guard = Rc::new(**guard + 1);
        **guard
    });
    assert_eq!(local, 6);
}

#[test]
fn a_static_barrier_gathers_two_runtimes_and_a_thread_round_after_round() {
    // Four parties: two coroutines of one runtime, one of another, and a
    // plain thread. Each round, nobody passes before all four arrived, and
    // exactly one is the leader.
    const PARTIES: usize = 4;
    const ROUNDS: usize = 5;
    static GATE: Barrier = Barrier::new(PARTIES);
    static ARRIVED: AtomicUsize = AtomicUsize::new(0);
    static LEADERS: AtomicUsize = AtomicUsize::new(0);
    static EARLY: AtomicBool = AtomicBool::new(false);
    fn party() {
        for round in 1..=ROUNDS {
            ARRIVED.fetch_add(1, Ordering::SeqCst);
            if GATE.wait().is_leader() {
                LEADERS.fetch_add(1, Ordering::SeqCst);
            }
            if ARRIVED.load(Ordering::SeqCst) < PARTIES * round {
                EARLY.store(true, Ordering::SeqCst);
            }
            // A second wait, so that no party starts the next round's
            // count before all have checked this one's.
            GATE.wait();
        }
    }
    let two = std::thread::spawn(|| {
        corio::run(|| {
            let other = corio::spawn(party);
            party();
            other.join().unwrap();
        })
    });
    let one = std::thread::spawn(|| corio::run(party));
    let thread = std::thread::spawn(party);
    for handle in [two, one, thread] {
        handle.join().unwrap();
    }
    assert!(!EARLY.load(Ordering::SeqCst), "a party passed early");
    assert_eq!(LEADERS.load(Ordering::SeqCst), ROUNDS);
}

#[test]
fn a_coroutine_at_a_barrier_a_thread_has_not_reached_lets_the_ticker_tick() {
    let gate = std::sync::Arc::new(Barrier::new(2));
    let late = std::sync::Arc::clone(&gate);
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        late.wait().is_leader()
    });
    let (during, leader) = corio::run(move || {
        let ticker = Ticker::start();
        let before = ticker.now();
        let leader = gate.wait().is_leader(); // suspends this coroutine only
        let during = ticker.now() - before;
        ticker.stop();
        (during, leader)
    });
    let thread_leader = thread.join().unwrap();
    assert!(!leader && thread_leader, "the thread arrived last");
    assert!(
        during >= 20,
        "the ticker ticked {during} times during the wait"
    );
}

#[test]
fn a_static_semaphore_bounds_two_runtimes_and_a_thread_and_hands_permits_on() {
    const PERMITS: usize = 2;
    const EACH: usize = 20;
    static SLOTS: Semaphore = Semaphore::new(PERMITS);
    static INSIDE: AtomicUsize = AtomicUsize::new(0);
    static MOST: AtomicUsize = AtomicUsize::new(0);
    static DONE: AtomicUsize = AtomicUsize::new(0);
    fn work(pause: fn()) {
        for _ in 0..EACH {
            let _permit = SLOTS.acquire();
            let now = INSIDE.fetch_add(1, Ordering::SeqCst) + 1;
            MOST.fetch_max(now, Ordering::SeqCst);
            pause();
            INSIDE.fetch_sub(1, Ordering::SeqCst);
            DONE.fetch_add(1, Ordering::SeqCst);
        }
    }
    let coroutine_pause = || corio::sleep(Duration::from_millis(1));
    let thread_pause = || std::thread::sleep(Duration::from_millis(1));
    let runtimes: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                corio::run(move || {
                    let others: Vec<_> = (0..2)
                        .map(|_| corio::spawn(move || work(coroutine_pause)))
                        .collect();
                    work(coroutine_pause);
                    others.into_iter().for_each(|o| o.join().unwrap());
                })
            })
        })
        .collect();
    let thread = std::thread::spawn(move || work(thread_pause));
    runtimes.into_iter().for_each(|r| r.join().unwrap());
    thread.join().unwrap();
    assert_eq!(DONE.load(Ordering::SeqCst), 7 * EACH);
    assert_eq!(
        MOST.load(Ordering::SeqCst),
        PERMITS,
        "never more inside than permits"
    );
    assert_eq!(SLOTS.available_permits(), PERMITS);
}

#[test]
fn a_thread_outside_any_runtime_waits_for_a_permit_with_a_timeout() {
    static SLOTS: Semaphore = Semaphore::new(1);
    let held = SLOTS.acquire(); // a thread, outside any runtime
    assert!(SLOTS.try_acquire().is_none());
    assert!(SLOTS.acquire_timeout(Duration::from_millis(20)).is_none());
    let (asked_tx, asked) = std_mpsc::channel();
    let waiter = std::thread::spawn(move || {
        asked_tx.send(()).unwrap();
        SLOTS.acquire_timeout(Duration::from_secs(60)).is_some()
    });
    asked.recv().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    drop(held); // handed to the waiter
    assert!(waiter.join().unwrap());
    assert_eq!(SLOTS.available_permits(), 1);
}

#[test]
fn a_lone_coroutine_at_a_barrier_or_a_semaphore_a_thread_will_reach_is_no_deadlock() {
    // No ticker, no timer: the runtime has nothing to run, and only the
    // other thread can end either wait. That is no deadlock.
    static GATE: Barrier = Barrier::new(2);
    static SLOTS: Semaphore = Semaphore::new(0);
    let other = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(50));
        GATE.wait();
        std::thread::sleep(Duration::from_millis(50));
        SLOTS.add_permits(1);
    });
    corio::run(|| {
        GATE.wait();
        drop(SLOTS.acquire());
    });
    other.join().unwrap();
    assert_eq!(SLOTS.available_permits(), 1);
}
