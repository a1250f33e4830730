//! Sleeps end close to their deadline, not at the next whole millisecond:
//! the runtime's poller waits on a timerfd (see `src/reactor.rs`).
//!
//! How close is the benchmark's to say (`cargo run --release --example
//! timers`); these tests count, and assert only what a busy machine cannot
//! undo. A poller that waited with `epoll_wait`'s millisecond timeout could
//! never end a short sleep within the millisecond: the kernel waits at
//! least the timeout it is given. Load can only make sleeps later, so the
//! tests ask that some of many sleeps end within it (most, for a sleep so
//! short that it may be due before the poller would wait).

use std::time::{Duration, Instant};

/// How many of `n` sleeps of `d` ended less than a millisecond after they
/// began (and, checked on the way, none ended before `d`).
fn sleeps_within_a_millisecond(n: usize, d: Duration) -> usize {
    corio::run(|| {
        (0..n)
            .filter(|_| {
                let start = Instant::now();
                corio::sleep(d);
                let took = start.elapsed();
                assert!(took >= d, "a sleep of {d:?} ended after {took:?}, early");
                took < Duration::from_millis(1)
            })
            .count()
    })
}

#[test]
fn a_200_microsecond_sleep_can_end_within_the_millisecond() {
    let n = 51;
    let within = sleeps_within_a_millisecond(n, Duration::from_micros(200));
    println!("{within} of {n} sleeps of 200 us ended within 1 ms");
    assert!(
        within > 0,
        "none of {n} sleeps of 200 us ended within 1 ms: rounded up to whole milliseconds?"
    );
}

#[test]
fn a_1_microsecond_sleep_does_not_wait_a_whole_millisecond() {
    // With a millisecond-timeout poller every one of these took >= 1 ms.
    let n = 51;
    // Most, not some: a deadline 1 us away may pass before the poller
    // would block, and then even such a poller returns at once.
    let within = sleeps_within_a_millisecond(n, Duration::from_micros(1));
    println!("{within} of {n} sleeps of 1 us ended within 1 ms");
    assert!(
        within > n / 2,
        "only {within} of {n} sleeps of 1 us ended within 1 ms: rounded up to whole milliseconds?"
    );
}

#[test]
fn a_cancelled_earlier_deadline_does_not_end_a_later_sleep_early() {
    // A receive with a 10 ms timeout sets the earlier deadline; the message
    // arrives first (after 200 us: a margin of 50x, which load cannot
    // erase), so that deadline is cancelled. The 20 ms sleep must still
    // last 20 ms.
    corio::run(|| {
        let (tx, rx) = corio::sync::channel::<u8>();
        let sleeper = corio::spawn(|| {
            let start = Instant::now();
            corio::sleep(Duration::from_millis(20));
            start.elapsed()
        });
        let sender = corio::spawn(move || {
            corio::sleep(Duration::from_micros(200));
            tx.send(1).unwrap();
        });
        assert_eq!(rx.recv_timeout(Duration::from_millis(10)), Ok(1));
        sender.join().unwrap();
        let slept = sleeper.join().unwrap();
        assert!(slept >= Duration::from_millis(20), "slept {slept:?}");
    });
}

#[test]
fn many_deadlines_fire_in_order_even_when_microseconds_apart() {
    // A run in which a sleeper began after the first deadline proves
    // nothing (a deadline already past returns at once, in spawn order), and
    // a stall of 50 ms on a busy machine could cause one: such a run is
    // played again rather than counted, up to five times.
    for _ in 0..5 {
        let (late, order) = deadlines_microseconds_apart();
        if late == 0 {
            assert_eq!(order, (0..50).collect::<Vec<_>>());
            return;
        }
    }
    panic!("in five runs, sleepers always started after the first deadline, 50 ms on");
}

/// Fifty sleepers with deadlines 10 us apart, from 50 ms on: how many began
/// too late, and the order they woke in.
fn deadlines_microseconds_apart() -> (usize, Vec<u64>) {
    corio::run(|| {
        let fired = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        // Room for all 50 to start sleeping before the first deadline, even
        // on a loaded machine or under a sanitizer.
        let start = Instant::now() + Duration::from_millis(50);
        // Spawned in reverse so that spawn order cannot explain the result.
        let sleepers: Vec<_> = (0..50u64)
            .rev()
            .map(|i| {
                let fired = fired.clone();
                corio::spawn(move || {
                    let late = Instant::now() >= start;
                    corio::sleep_until(start + Duration::from_micros(10 * i));
                    fired.borrow_mut().push(i);
                    late
                })
            })
            .collect();
        let late = sleepers
            .into_iter()
            .map(|s| s.join().unwrap())
            .filter(|&late| late)
            .count();
        (late, fired.take())
    })
}
