//! Sleeps end close to their deadline, not at the next whole millisecond:
//! the runtime's poller waits on a timerfd (see `src/reactor.rs`).
//!
//! The bounds are generous sanity checks for a loaded machine (the
//! benchmark is `cargo run --release --example timers`): what they catch is
//! the millisecond quantisation an `epoll_wait` timeout would add.

mod util;

use std::time::{Duration, Instant};

/// The median of how late `n` sleeps of `d` end.
fn median_lateness(n: usize, d: Duration) -> Duration {
    corio::run(|| {
        let late: Vec<Duration> = (0..n)
            .map(|_| {
                let start = Instant::now();
                corio::sleep(d);
                let took = start.elapsed();
                assert!(took >= d, "a sleep of {d:?} ended after {took:?}, early");
                took - d
            })
            .collect();
        util::stats::median(&late)
    })
}

#[test]
fn a_200_microsecond_sleep_overshoots_by_less_than_a_millisecond() {
    let late = median_lateness(51, Duration::from_micros(200));
    assert!(late < Duration::from_millis(1), "median overshoot {late:?}");
}

#[test]
fn a_1_microsecond_sleep_does_not_wait_a_whole_millisecond() {
    // With a millisecond-timeout poller every one of these took >= 1 ms.
    let late = median_lateness(51, Duration::from_micros(1));
    assert!(
        late < Duration::from_micros(900),
        "median overshoot {late:?}"
    );
}

#[test]
fn a_cancelled_earlier_deadline_does_not_end_a_later_sleep_early() {
    // A receive with a 1 ms timeout arms the timerfd for 1 ms from now; the
    // message arrives first, so that deadline is cancelled while the timerfd
    // stays armed for it. The 20 ms sleep must still last 20 ms.
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
        assert_eq!(rx.recv_timeout(Duration::from_millis(1)), Ok(1));
        sender.join().unwrap();
        let slept = sleeper.join().unwrap();
        assert!(slept >= Duration::from_millis(20), "slept {slept:?}");
    });
}

#[test]
fn many_deadlines_fire_in_order_even_when_microseconds_apart() {
    let order = corio::run(|| {
        let fired = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        // Room for all 50 to start sleeping before the first deadline, even
        // on a loaded machine or under a sanitizer: a deadline already past
        // returns at once, in spawn order, which would prove nothing.
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
        assert_eq!(late, 0, "sleepers started after the first deadline");
        fired.take()
    });
    assert_eq!(order, (0..50).collect::<Vec<_>>());
}
