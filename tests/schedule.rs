//! Schedules: FIFO's documented round robin, seeded random and PCT picks
//! that repeat per seed and differ across seeds, and `CORIO_SCHEDULE`.

mod util;

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::ErrorKind;
use std::rc::Rc;

use corio::runtime::{Builder, Schedule};

/// Tasks each program below spawns.
const TASKS: u32 = 4;
/// Steps each task takes, one yield apart.
const STEPS: u32 = 5;

/// The task ids in the order their steps ran: `TASKS` tasks, spawned in
/// order, each noting its id then yielding, `STEPS` times.
fn steps_in_order() -> Vec<u32> {
    let log = Rc::new(RefCell::new(Vec::new()));
    let tasks: Vec<_> = (0..TASKS)
        .map(|id| {
            let log = Rc::clone(&log);
            corio::spawn(move || {
                for _ in 0..STEPS {
                    log.borrow_mut().push(id);
                    corio::yield_now();
                }
            })
        })
        .collect();
    for task in tasks {
        task.join().unwrap();
    }
    log.take()
}

/// [`steps_in_order`] in a fresh runtime under `schedule`.
fn order_under(schedule: Schedule) -> Vec<u32> {
    let mut rt = Builder::new().schedule(schedule).build().unwrap();
    rt.block_on(steps_in_order)
}

/// Every task ran every one of its steps.
fn assert_complete(order: &[u32]) {
    for id in 0..TASKS {
        let steps = order.iter().filter(|&&t| t == id).count();
        assert_eq!(steps, STEPS as usize, "task {id} in {order:?}");
    }
}

#[test]
fn fifo_runs_tasks_in_round_robin() {
    let expected: Vec<u32> = (0..STEPS).flat_map(|_| 0..TASKS).collect();
    assert_eq!(order_under(Schedule::Fifo), expected);
    // FIFO is also what a builder without a schedule gives.
    if std::env::var_os("CORIO_SCHEDULE").is_none() {
        assert_eq!(corio::run(steps_in_order), expected);
    }
}

#[test]
fn a_random_seed_gives_the_same_schedule_twice() {
    for seed in [0, 1, 42, u64::MAX] {
        let first = order_under(Schedule::Random { seed });
        assert_complete(&first);
        assert_eq!(order_under(Schedule::Random { seed }), first, "seed {seed}");
    }
}

#[test]
fn twenty_random_seeds_give_at_least_five_schedules() {
    let fifo = order_under(Schedule::Fifo);
    let schedules: HashSet<Vec<u32>> = (0..20)
        .map(|seed| {
            let order = order_under(Schedule::Random { seed });
            assert_complete(&order);
            order
        })
        .collect();
    assert!(schedules.len() >= 5, "{} schedules", schedules.len());
    assert!(
        schedules.iter().any(|order| *order != fifo),
        "random picks differ from FIFO"
    );
    assert_ne!(
        order_under(Schedule::Random { seed: 1 }),
        order_under(Schedule::Random { seed: 2 })
    );
}

#[test]
fn pct_is_deterministic_per_seed_and_varies_across_seeds() {
    let mut seen = HashSet::new();
    for seed in 0..20 {
        let schedule = Schedule::Pct { seed, depth: 3 };
        let first = order_under(schedule);
        assert_complete(&first);
        assert_eq!(order_under(schedule), first, "{schedule}");
        seen.insert(first);
    }
    assert!(seen.len() >= 3, "{} PCT schedules", seen.len());
}

#[test]
fn pct_depth_one_runs_each_task_to_its_end_by_priority() {
    // No change point: the highest-priority task keeps winning every pick
    // until it ends, so the steps come in runs of STEPS.
    let order = order_under(Schedule::Pct { seed: 5, depth: 1 });
    assert_complete(&order);
    for chunk in order.chunks(STEPS as usize) {
        assert!(chunk.iter().all(|&t| t == chunk[0]), "{order:?}");
    }
}

#[test]
fn pct_depth_zero_is_invalid_input() {
    let err = Builder::new()
        .schedule(Schedule::Pct { seed: 1, depth: 0 })
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("depth"), "{err}");
}

#[test]
fn a_random_schedule_still_serves_joins_channels_and_sleeps() {
    for seed in 0..10 {
        let mut rt = Builder::new()
            .schedule(Schedule::Random { seed })
            .build()
            .unwrap();
        let total = rt.block_on(|| {
            let (tx, rx) = corio::sync::mpsc::channel();
            let senders: Vec<_> = (0..5u64)
                .map(|n| {
                    let tx = tx.clone();
                    corio::spawn(move || {
                        corio::sleep(std::time::Duration::from_millis(1));
                        tx.send(n).unwrap();
                    })
                })
                .collect();
            drop(tx);
            let total: u64 = rx.iter().sum();
            senders.into_iter().for_each(|s| s.join().unwrap());
            total
        });
        assert_eq!(total, 10, "seed {seed}");
    }
}

/// The child side of the environment tests: prints the order that
/// `corio::run` (whose builder sets no schedule) gives.
#[test]
fn child_prints_its_order() {
    if !util::is_child("child_prints_its_order") {
        return;
    }
    println!("order {:?}", corio::run(steps_in_order));
}

#[test]
fn corio_schedule_in_a_child_reproduces_the_in_process_schedule() {
    for (text, schedule) in [
        ("random:7", Schedule::Random { seed: 7 }),
        ("PCT:3:2", Schedule::Pct { seed: 3, depth: 2 }),
        ("fifo", Schedule::Fifo),
    ] {
        let (out, _) = util::run_child_ok("child_prints_its_order", &[("CORIO_SCHEDULE", text)]);
        // The harness prints the test's name on the same line.
        let line = out
            .lines()
            .find_map(|l| l.find("order [").map(|at| &l[at..]))
            .unwrap_or(&out);
        assert_eq!(
            line,
            format!("order {:?}", order_under(schedule)),
            "CORIO_SCHEDULE={text}"
        );
    }
}

/// The child side of the bad-value test: a builder without a schedule
/// fails, one with a schedule ignores the variable.
#[test]
fn child_builds_with_a_bad_corio_schedule() {
    if !util::is_child("child_builds_with_a_bad_corio_schedule") {
        return;
    }
    let err = Builder::new().build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    println!("build: {err}");
    let set = order_under(Schedule::Fifo);
    assert_eq!(set.len(), (TASKS * STEPS) as usize);
    corio::run(|| ());
}

#[test]
fn a_bad_corio_schedule_is_a_clear_error_never_fifo() {
    let output = util::run_child_with(
        "child_builds_with_a_bad_corio_schedule",
        &[("CORIO_SCHEDULE", "random:soon")],
    );
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "corio::run must panic");
    for text in [&*out, &*err] {
        assert!(text.contains("CORIO_SCHEDULE=\"random:soon\""), "{text}");
        assert!(text.contains("random:SEED"), "{text}");
        assert!(text.contains("pct:SEED:DEPTH"), "{text}");
    }
}
