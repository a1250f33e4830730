//! `explore`: a race FIFO hides is found, its seed replays it every time
//! (in process and through `CORIO_SCHEDULE` in a child), PCT finds it too,
//! a deadlock is a failure, and the message carries the panics.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use corio::runtime::{Builder, Schedule, explore, explore_with};
use corio::sync::Mutex;

/// Two transfers of 80 out of an account holding 100, each checking the
/// balance and then, after a yield, taking the money: a check-then-act
/// race. The second customer signs in first (two yields), so under FIFO
/// its check always comes after the first transfer took the money.
fn two_transfers() {
    let balance = Rc::new(Cell::new(100));
    let transfer = |sign_in_yields: u32| {
        let balance = Rc::clone(&balance);
        move || {
            for _ in 0..sign_in_yields {
                corio::yield_now();
            }
            if balance.get() >= 80 {
                corio::yield_now(); // the fraud check
                balance.set(balance.get() - 80);
            }
        }
    };
    let first = corio::spawn(transfer(0));
    let second = corio::spawn(transfer(2));
    first.join().unwrap();
    second.join().unwrap();
    assert!(balance.get() >= 0, "overdrawn: balance {}", balance.get());
}

#[test]
fn no_runs_is_ok_zero() {
    assert_eq!(explore(0, || panic!("never runs")), Ok(0));
}

#[test]
fn a_correct_program_passes_every_run() {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let outcome = explore(30, || {
        RUNS.fetch_add(1, Ordering::Relaxed);
        let task = corio::spawn(corio::yield_now);
        task.join().unwrap();
    });
    assert_eq!(outcome, Ok(30));
    assert_eq!(RUNS.load(Ordering::Relaxed), 30);
}

#[test]
fn fifo_hides_the_race_and_explore_finds_a_seed_that_replays_it() {
    // FIFO, every time: no overdraft.
    for _ in 0..3 {
        let mut rt = Builder::new().schedule(Schedule::Fifo).build().unwrap();
        rt.block_on(two_transfers);
    }
    let failure = explore(200, two_transfers).expect_err("200 random runs find the race");
    assert!(
        failure.message.contains("overdrawn: balance -60"),
        "{failure}"
    );
    assert_eq!(failure.schedule, Schedule::Random { seed: failure.seed });
    assert!(
        failure
            .to_string()
            .contains(&format!("CORIO_SCHEDULE=random:{}", failure.seed)),
        "{failure}"
    );
    // The seeds before it passed; the seed fails every time.
    for _ in 0..5 {
        let mut rt = Builder::new().schedule(failure.schedule).build().unwrap();
        let replay =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(two_transfers)));
        let payload = replay.expect_err("the failing seed fails again");
        assert!(util::panic_text(&*payload).contains("overdrawn"));
    }
    assert_eq!(
        explore_with(
            failure.seed,
            |seed| Schedule::Random { seed },
            two_transfers
        ),
        Ok(failure.seed)
    );
    // And through the environment, in a fresh process.
    let output = util::run_child_with(
        "child_runs_two_transfers",
        &[("CORIO_SCHEDULE", &failure.schedule.to_string())],
    );
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(err.contains("overdrawn: balance -60"), "{err}");
    let fifo = util::run_child_with("child_runs_two_transfers", &[("CORIO_SCHEDULE", "fifo")]);
    assert!(fifo.status.success());
}

/// The child side: the race under `corio::run`, scheduled by the
/// environment.
#[test]
fn child_runs_two_transfers() {
    if util::is_child("child_runs_two_transfers") {
        corio::run(two_transfers);
    }
}

#[test]
fn pct_depth_two_finds_the_race() {
    let failure = explore_with(1000, |seed| Schedule::Pct { seed, depth: 2 }, two_transfers)
        .expect_err("PCT with one change point finds the race");
    assert!(failure.message.contains("overdrawn"), "{failure}");
    assert!(failure.to_string().contains("CORIO_SCHEDULE=pct:"));
    // Depth 1 (priorities alone) runs each transfer to its end: never.
    assert_eq!(
        explore_with(200, |seed| Schedule::Pct { seed, depth: 1 }, two_transfers),
        Ok(200)
    );
}

#[test]
fn a_lock_order_deadlock_is_a_failure_that_says_deadlock() {
    let failure = explore(20, || {
        let a = Rc::new(Mutex::new(()));
        let b = Rc::new(Mutex::new(()));
        let (a2, b2) = (Rc::clone(&a), Rc::clone(&b));
        let one = corio::spawn(move || {
            let _a = a.lock().unwrap();
            corio::yield_now();
            let _b = b.lock().unwrap();
        });
        let two = corio::spawn(move || {
            let _b = b2.lock().unwrap();
            corio::yield_now();
            let _a = a2.lock().unwrap();
        });
        one.join().unwrap();
        two.join().unwrap();
    })
    .expect_err("both tasks take their first lock in some run");
    assert!(failure.message.contains("deadlock"), "{failure}");
    assert!(failure.message.contains("lock"), "{failure}");
}

#[test]
fn the_message_carries_the_first_coroutine_panic_before_the_roots() {
    let failure = explore(5, || {
        let worker = corio::thread::Builder::new()
            .name("worker".into())
            .spawn(|| panic!("the worker gave up"))
            .unwrap();
        let other = corio::spawn(|| panic!("a later panic"));
        let _ = worker.join();
        let _ = other.join();
        panic!("the root saw it fail");
    })
    .unwrap_err();
    assert_eq!(failure.seed, 0);
    assert!(
        failure.message.starts_with("the root saw it fail"),
        "{failure}"
    );
    let first = if failure.message.contains("the worker gave up") {
        "'worker': the worker gave up"
    } else {
        "a later panic"
    };
    assert!(failure.message.contains(first), "{failure}");
    assert!(
        !(failure.message.contains("gave up") && failure.message.contains("later")),
        "only the first: {failure}"
    );
}

#[test]
fn a_coroutine_panic_the_root_survives_is_no_failure() {
    let outcome = explore(10, || {
        let task = corio::spawn(|| panic!("handled"));
        assert!(task.join().is_err());
    });
    assert_eq!(outcome, Ok(10));
}
