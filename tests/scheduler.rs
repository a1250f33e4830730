//! Scheduling order, stacks that survive switches, many coroutines, and the
//! switch counter.

use std::cell::RefCell;
use std::rc::Rc;

#[test]
fn three_tasks_yielding_run_round_robin() {
    let log = corio::run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let handles: Vec<_> = ['a', 'b', 'c']
            .into_iter()
            .map(|name| {
                let log = log.clone();
                corio::spawn(move || {
                    for round in 0..3 {
                        log.borrow_mut().push(format!("{name}{round}"));
                        corio::yield_now();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        log.take()
    });
    assert_eq!(
        log,
        ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"],
        "FIFO: each yield sends the task behind every other runnable task"
    );
}

#[test]
fn spawned_task_waits_until_the_spawner_yields() {
    let log = corio::run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = log.clone();
        let child = corio::spawn(move || l.borrow_mut().push("child"));
        log.borrow_mut().push("parent keeps running");
        corio::yield_now();
        log.borrow_mut().push("parent after yield");
        child.join().unwrap();
        log.take()
    });
    assert_eq!(log, ["parent keeps running", "child", "parent after yield"]);
}

#[test]
fn tasks_woken_while_a_yielder_hosts_others_queue_behind_it() {
    // a yields while b and c are queued; b spawns d. Order must be what a
    // plain FIFO gives: b, c, then a, then d.
    let log = corio::run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let (la, lb, lc) = (log.clone(), log.clone(), log.clone());
        let a = corio::spawn(move || {
            la.borrow_mut().push("a0");
            corio::yield_now();
            la.borrow_mut().push("a1");
        });
        let b = corio::spawn(move || {
            lb.borrow_mut().push("b0");
            let ld = lb.clone();
            corio::spawn(move || ld.borrow_mut().push("d0"));
        });
        let c = corio::spawn(move || lc.borrow_mut().push("c0"));
        for h in [a, b, c] {
            h.join().unwrap();
        }
        corio::yield_now();
        log.take()
    });
    assert_eq!(log, ["a0", "b0", "c0", "a1", "d0"]);
}

fn recurse(depth: u32, seen: &mut Vec<u32>) -> u64 {
    // A local per frame that must survive the switch in the middle.
    let local = [depth as u64; 16];
    if depth == 0 {
        corio::yield_now();
        return 0;
    }
    seen.push(depth);
    let below = recurse(depth - 1, seen);
    corio::yield_now();
    std::hint::black_box(&local);
    below + local.iter().sum::<u64>()
}

#[test]
fn yield_from_deep_recursion_keeps_locals() {
    let (a, b) = corio::run(|| {
        let a = corio::spawn(|| recurse(200, &mut Vec::new()));
        let b = corio::spawn(|| recurse(150, &mut Vec::new()));
        (a.join().unwrap(), b.join().unwrap())
    });
    let expect = |n: u64| (1..=n).map(|d| d * 16).sum::<u64>();
    assert_eq!(a, expect(200));
    assert_eq!(b, expect(150));
}

#[test]
fn hundred_thousand_coroutines_spawn_yield_and_join() {
    const N: u64 = 100_000;
    let (sum, stats) = corio::run(|| {
        let handles: Vec<_> = (0..N)
            .map(|i| {
                corio::spawn(move || {
                    corio::yield_now();
                    i
                })
            })
            .collect();
        let sum: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        (sum, corio::stats())
    });
    assert_eq!(sum, N * (N - 1) / 2);
    assert_eq!(stats.completed, N);
    assert_eq!(stats.spawned, N + 1);
}

#[test]
fn all_hundred_thousand_are_alive_at_once() {
    // Every coroutine parks on a channel before any is released, so 100,000
    // stacks are live together (the vm.max_map_count test).
    const N: usize = 100_000;
    let released = corio::run(|| {
        let (tx, rx) = corio::sync::channel::<()>();
        let (done_tx, done_rx) = corio::sync::channel::<usize>();
        let gates: Vec<_> = (0..N).map(|_| corio::sync::channel::<()>()).collect();
        let mut senders = Vec::with_capacity(N);
        for (i, (gate_tx, gate_rx)) in gates.into_iter().enumerate() {
            senders.push(gate_tx);
            let done = done_tx.clone();
            corio::spawn(move || {
                gate_rx.recv().unwrap();
                done.send(i).unwrap();
            });
        }
        drop((tx, rx, done_tx));
        corio::yield_now(); // everyone runs to its gate and parks
        let live = corio::stats().spawned - corio::stats().completed - 1;
        assert_eq!(live as usize, N, "all coroutines parked at once");
        for gate in &senders {
            gate.send(()).unwrap();
        }
        std::iter::from_fn(|| done_rx.recv().ok()).count()
    });
    assert_eq!(released, N);
}

#[test]
fn switches_count_every_switch_into_a_coroutine() {
    let mut rt = corio::Runtime::new().unwrap();
    let before = rt.stats();
    assert_eq!(before.switches, 0);
    rt.block_on(|| {
        let a = corio::spawn(|| {
            for _ in 0..10 {
                corio::yield_now();
            }
        });
        let b = corio::spawn(|| {
            for _ in 0..10 {
                corio::yield_now();
            }
        });
        a.join().unwrap();
        b.join().unwrap();
    });
    // Every time a coroutine is given the CPU, counted coroutine by
    // coroutine, however the hand-off was made:
    // - the root: started by the loop (1), resumed by it once a has
    //   returned and woken it (1);
    // - a: started by the root, which runs the queue itself while it waits
    //   in a.join() (1); a yields, so the root stops hosting and parks.
    //   Then resumed at each of b's 10 yields (10): 9 more yields, then it
    //   returns;
    // - b: started by the loop (1), and switched back into at the end of
    //   each of its 10 yields, when a has stopped (10).
    let stats = rt.stats();
    assert_eq!(stats.switches, 2 + 11 + 11, "{stats:?}");
    assert_eq!(stats.spawned, 3);
    assert_eq!(stats.completed, 3);
    assert_eq!(
        stats.polls, 0,
        "no I/O, no timers: the poller is never called"
    );
}

#[test]
fn two_coroutines_yielding_n_times_each_count_about_two_n_switches() {
    // The count must not depend on the hand-off mechanism: a loop that
    // switches A -> loop -> B -> loop -> A and one that hands over directly
    // give each coroutine the CPU equally often.
    const N: u64 = 1000;
    let switches = corio::run(|| {
        let before = corio::stats().switches;
        let other = corio::spawn(|| (0..N).for_each(|_| corio::yield_now()));
        (0..N).for_each(|_| corio::yield_now());
        other.join().unwrap();
        corio::stats().switches - before
    });
    // The other is switched in N + 1 times (start, then after each of the
    // root's N yields); the root N times (back from each hand-off), plus
    // at most one more for the join.
    assert!(
        (2 * N + 1..=2 * N + 2).contains(&switches),
        "{switches} switches for {N} yields each"
    );
}

#[test]
fn a_joiner_resumes_in_the_order_a_parked_joiner_would() {
    // x, c, y queued; the root joins c. A parked root would be woken when c
    // returns and queue behind y, so the order must be x, c, y, root.
    let log = corio::run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let (lx, lc, ly) = (log.clone(), log.clone(), log.clone());
        let x = corio::spawn(move || lx.borrow_mut().push("x"));
        let c = corio::spawn(move || lc.borrow_mut().push("c"));
        let y = corio::spawn(move || ly.borrow_mut().push("y"));
        c.join().unwrap();
        log.borrow_mut().push("root");
        x.join().unwrap();
        y.join().unwrap();
        log.take()
    });
    assert_eq!(log, ["x", "c", "y", "root"]);
}

#[test]
fn a_receiver_woken_by_a_send_runs_before_what_the_sender_spawned_next() {
    // With parking, the send queues the receiver; a task spawned after the
    // send queues behind it. A receiver that hosts must keep that order.
    let log = corio::run(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let (tx, rx) = corio::sync::channel::<u8>();
        let l = log.clone();
        let sender = corio::spawn(move || {
            tx.send(1).unwrap();
            let l2 = l.clone();
            corio::spawn(move || l2.borrow_mut().push("spawned after the send"));
            l.borrow_mut().push("sender done");
        });
        let got = rx.recv().unwrap();
        log.borrow_mut()
            .push(if got == 1 { "receiver got 1" } else { "wrong" });
        sender.join().unwrap();
        corio::yield_now();
        log.take()
    });
    assert_eq!(
        log,
        ["sender done", "receiver got 1", "spawned after the send"]
    );
}

/// The one-task yield pass: `r` yields with only `b` queued; `b` spawns `c`
/// and yields in that pass, so `b` must go behind `c`, as the loop would
/// file it. With `event_interval(1)` every tick polls, so the pass reads
/// the front again after its poll.
fn one_task_pass_order(interval: u32) -> Vec<&'static str> {
    let mut rt = corio::Runtime::builder()
        .event_interval(interval)
        .build()
        .unwrap();
    rt.block_on(|| {
        let log = Rc::new(RefCell::new(Vec::new()));
        let lb = log.clone();
        let b = corio::spawn(move || {
            lb.borrow_mut().push("b0");
            let lc = lb.clone();
            drop(corio::spawn(move || lc.borrow_mut().push("c0")));
            corio::yield_now();
            lb.borrow_mut().push("b1");
        });
        log.borrow_mut().push("r0");
        corio::yield_now();
        log.borrow_mut().push("r1");
        corio::yield_now();
        log.borrow_mut().push("r2");
        b.join().unwrap();
        log.take()
    })
}

#[test]
fn a_task_that_yields_in_a_one_task_pass_goes_behind_what_it_spawned() {
    let expected = ["r0", "b0", "r1", "c0", "b1", "r2"];
    assert_eq!(one_task_pass_order(61), expected);
    assert_eq!(one_task_pass_order(1), expected);
}
