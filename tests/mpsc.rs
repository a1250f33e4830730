//! `corio::sync::mpsc` against `std::sync::mpsc`: every case is written once
//! against `use` aliases and run twice, on std's channels with OS threads
//! and on corio's with coroutines, and both must give the same answer.

mod util;

use std::time::Duration;

/// The cases, written against whichever `mpsc`, `spawn` and `sleep` they
/// get. Each returns what it observed.
macro_rules! cases {
    ($mpsc:path, $spawn:path, $sleep:path) => {
        use $mpsc as mpsc;

        /// Order, iteration to the end, sends to a dropped receiver.
        pub fn unbounded() -> (Vec<i32>, Vec<i32>, Option<i32>, i32) {
            let (tx, rx) = mpsc::channel();
            let tx2 = tx.clone();
            for n in 0..3 {
                tx.send(n).unwrap();
            }
            let now: Vec<i32> = rx.try_iter().collect();
            let producer = $spawn(move || {
                for n in 10..13 {
                    tx2.send(n).unwrap();
                }
            });
            drop(tx);
            let rest: Vec<i32> = (&rx).into_iter().collect();
            producer.join().unwrap();
            let after = rx.try_recv().ok();
            drop(rx);
            let (tx, rx) = mpsc::channel::<i32>();
            drop(rx);
            let returned = tx.send(99).unwrap_err().0;
            (now, rest, after, returned)
        }

        /// A full bounded channel: `try_send` refuses, `send` waits for a
        /// receive, then gets through.
        pub fn bounded() -> (String, bool, Vec<u32>) {
            let (tx, rx) = mpsc::sync_channel(1);
            tx.send(1u32).unwrap();
            let full = tx.try_send(2).unwrap_err().to_string();
            let producer = $spawn(move || tx.send(2).map_err(|e| e.0));
            $sleep(Duration::from_millis(20));
            let waited = !producer.is_finished();
            let got = vec![rx.recv().unwrap(), rx.recv().unwrap()];
            producer.join().unwrap().unwrap();
            (full, waited, got)
        }

        /// A rendezvous: a send waits until the receiver takes it;
        /// `try_send` gets through only to a waiting receiver.
        pub fn rendezvous() -> (String, bool, &'static str, String) {
            let (tx, rx) = mpsc::sync_channel::<&'static str>(0);
            let nobody_waits = tx.try_send("early").unwrap_err().to_string();
            let producer = $spawn(move || {
                tx.send("hello").unwrap();
                tx
            });
            $sleep(Duration::from_millis(20));
            let waited = !producer.is_finished();
            let got = rx.recv().unwrap();
            let tx = producer.join().unwrap();
            drop(rx);
            let gone = tx.try_send("late").unwrap_err().to_string();
            (nobody_waits, waited, got, gone)
        }

        /// A sender waiting for room gets its message back when the
        /// receiver goes, on a bounded and on a rendezvous channel.
        pub fn receiver_dropped_while_a_sender_waits() -> (u8, u8) {
            let mut back = Vec::new();
            for bound in [1, 0] {
                let (tx, rx) = mpsc::sync_channel::<u8>(bound);
                if bound == 1 {
                    tx.send(1).unwrap(); // now full
                }
                let producer = $spawn(move || tx.send(2).unwrap_err().0);
                $sleep(Duration::from_millis(20));
                drop(rx);
                back.push(producer.join().unwrap());
            }
            (back[0], back[1])
        }

        /// Dropping the receiver drops every buffered message at once, not
        /// when the last sender goes: the `Rc`'s count, right after
        /// `drop(rx)` with the sender still alive, on a bounded channel
        /// (std's `drop_unreceived`) and on an unbounded one.
        pub fn receiver_drop_drops_buffered_messages() -> (usize, usize, usize, usize) {
            use std::rc::Rc;
            let item = Rc::new(());
            let (tx, rx) = mpsc::sync_channel::<Rc<()>>(1);
            tx.send(item.clone()).unwrap();
            let held_bounded = Rc::strong_count(&item);
            drop(rx);
            let after_bounded = Rc::strong_count(&item);
            drop(tx);
            let (tx, rx) = mpsc::channel::<Rc<()>>();
            for _ in 0..3 {
                tx.send(item.clone()).unwrap();
            }
            let held_unbounded = Rc::strong_count(&item);
            drop(rx);
            let after_unbounded = Rc::strong_count(&item);
            drop(tx);
            (held_bounded, after_bounded, held_unbounded, after_unbounded)
        }

        /// `recv_timeout`: a timeout, a message in time, a disconnect, and
        /// `Duration::MAX` waiting like `recv`.
        pub fn recv_timeout() -> (String, Result<u8, String>, String, u8) {
            let (tx, rx) = mpsc::channel::<u8>();
            let timeout = rx
                .recv_timeout(Duration::from_millis(5))
                .unwrap_err()
                .to_string();
            let tx2 = tx.clone();
            let producer = $spawn(move || {
                $sleep(Duration::from_millis(5));
                tx2.send(7).unwrap();
            });
            let in_time = rx
                .recv_timeout(Duration::from_secs(10))
                .map_err(|e| e.to_string());
            producer.join().unwrap();
            let producer = $spawn(move || {
                $sleep(Duration::from_millis(5));
                tx.send(8).unwrap();
            });
            let forever = rx.recv_timeout(Duration::MAX).unwrap();
            producer.join().unwrap();
            let disconnected = rx
                .recv_timeout(Duration::from_secs(10))
                .unwrap_err()
                .to_string();
            (timeout, in_time, disconnected, forever)
        }

        /// Several consumers of one bounded channel and several producers:
        /// every message arrives once, each producer's in order.
        pub fn many_to_one_in_order() -> Vec<Vec<u32>> {
            let (tx, rx) = mpsc::sync_channel::<(usize, u32)>(2);
            let producers: Vec<_> = (0..3)
                .map(|p| {
                    let tx = tx.clone();
                    $spawn(move || {
                        for n in 0..50 {
                            tx.send((p, n)).unwrap();
                        }
                    })
                })
                .collect();
            drop(tx);
            let mut seen = vec![Vec::new(); 3];
            for (p, n) in rx {
                seen[p].push(n);
            }
            for p in producers {
                p.join().unwrap();
            }
            seen
        }
    };
}

mod on_std {
    use super::*;
    cases!(std::sync::mpsc, std::thread::spawn, std::thread::sleep);
}

mod on_corio {
    use super::*;
    cases!(corio::sync::mpsc, corio::spawn, corio::sleep);
}

#[test]
fn unbounded_channels_behave_as_std() {
    let on_std = on_std::unbounded();
    assert_eq!(on_std, (vec![0, 1, 2], vec![10, 11, 12], None, 99));
    assert_eq!(corio::run(on_corio::unbounded), on_std);
}

#[test]
fn bounded_channels_behave_as_std() {
    let on_std = on_std::bounded();
    assert_eq!(
        on_std,
        ("sending on a full channel".into(), true, vec![1, 2])
    );
    assert_eq!(corio::run(on_corio::bounded), on_std);
}

#[test]
fn rendezvous_channels_behave_as_std() {
    let on_std = on_std::rendezvous();
    assert_eq!(
        on_std,
        (
            "sending on a full channel".into(),
            true,
            "hello",
            "sending on a closed channel".into()
        )
    );
    assert_eq!(corio::run(on_corio::rendezvous), on_std);
}

#[test]
fn a_waiting_sender_gets_its_message_back_when_the_receiver_goes() {
    let on_std = on_std::receiver_dropped_while_a_sender_waits();
    assert_eq!(on_std, (2, 2));
    assert_eq!(
        corio::run(on_corio::receiver_dropped_while_a_sender_waits),
        on_std
    );
}

#[test]
fn dropping_the_receiver_drops_buffered_messages_at_once_as_std() {
    let on_std = on_std::receiver_drop_drops_buffered_messages();
    assert_eq!(on_std, (2, 1, 4, 1));
    assert_eq!(
        corio::run(on_corio::receiver_drop_drops_buffered_messages),
        on_std
    );
}

#[test]
fn recv_timeout_behaves_as_std() {
    let on_std = on_std::recv_timeout();
    assert_eq!(
        on_std,
        (
            "timed out waiting on channel".into(),
            Ok(7),
            "channel is empty and sending half is closed".into(),
            8
        )
    );
    assert_eq!(corio::run(on_corio::recv_timeout), on_std);
}

#[test]
fn many_producers_keep_their_order_through_a_bounded_channel() {
    let on_std = on_std::many_to_one_in_order();
    assert_eq!(on_std, vec![(0..50).collect::<Vec<_>>(); 3]);
    assert_eq!(corio::run(on_corio::many_to_one_in_order), on_std);
}

#[test]
fn a_sender_blocked_forever_is_named_in_the_deadlock_report() {
    let payload = std::panic::catch_unwind(|| {
        corio::run(|| {
            let (tx, rx) = corio::sync::mpsc::sync_channel::<u8>(0);
            let sender = corio::task::Builder::new()
                .name("stuck".into())
                .spawn(move || tx.send(1))
                .unwrap();
            let _keep = rx; // alive, but nobody receives
            sender.join().unwrap().unwrap();
        })
    })
    .unwrap_err();
    let text = util::panic_text(&*payload);
    assert!(
        text.contains("'stuck': sending on a full channel"),
        "{text}"
    );
}
