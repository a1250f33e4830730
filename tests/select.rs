//! `corio::select!`: the first ready branch wins, in the order written; a
//! timeout runs the default; a notification the select does not use is
//! passed on, so no message sits unnoticed.

mod util;

use std::rc::Rc;
use std::time::Duration;

#[test]
fn a_notification_the_select_does_not_use_reaches_another_waiter() {
    // `shared` has two waiters: the select (first) and a plain recv. Both
    // channels get a message at once; the select takes `own` (written
    // first), so `shared`'s notification must move on to the plain recv.
    let (select_got, recv_got) = corio::run(|| {
        let (own_tx, own) = corio::sync::mpsc::channel::<&str>();
        let (shared_tx, shared) = corio::sync::mpsc::channel::<&str>();
        let shared = Rc::new(shared);
        let s = shared.clone();
        let selector = corio::spawn(move || {
            corio::select! {
                recv(own) -> msg => msg.unwrap(),
                recv(s) -> msg => msg.unwrap(),
            }
        });
        corio::yield_now(); // the select waits on both
        let s = shared.clone();
        let receiver = corio::spawn(move || s.recv().unwrap());
        corio::yield_now(); // the plain recv waits behind it
        shared_tx.send("shared").unwrap(); // notifies the select, the oldest
        own_tx.send("own").unwrap();
        (selector.join().unwrap(), receiver.join().unwrap())
    });
    assert_eq!((select_got, recv_got), ("own", "shared"));
}

#[test]
fn a_select_with_a_timeout_runs_the_default_and_leaves_no_waiter_behind() {
    let waiting_after = corio::run(|| {
        let (_tx, rx) = corio::sync::mpsc::channel::<u8>();
        let timed_out = corio::select! {
            recv(rx) -> _ => false,
            default(Duration::from_millis(5)) => true,
        };
        assert!(timed_out);
        format!("{rx:?}")
    });
    assert!(waiting_after.contains("waiting: 0"), "{waiting_after}");
}

#[test]
fn disconnected_channels_are_ready_branches() {
    let got = corio::run(|| {
        let (tx, rx) = corio::sync::mpsc::channel::<u8>();
        drop(tx);
        let (_keep, other) = corio::sync::mpsc::channel::<u8>();
        corio::select! {
            recv(other) -> msg => msg.map(|_| "other"),
            recv(rx) -> msg => msg.map(|_| "rx"),
        }
    });
    assert!(
        got.is_err(),
        "the disconnected channel was selected: {got:?}"
    );
}
