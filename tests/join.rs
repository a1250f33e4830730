//! Join handles: results, panics, detaching.

mod util;

use std::cell::Cell;
use std::rc::Rc;

#[test]
fn child_panic_is_the_join_error_and_others_carry_on() {
    let (payload, others) = corio::run(|| {
        let code = std::hint::black_box(7);
        let bad = corio::spawn(move || -> u32 { panic!("child failed: {code}") });
        let good: Vec<_> = (0..5)
            .map(|i| {
                corio::spawn(move || {
                    corio::yield_now();
                    i * 2
                })
            })
            .collect();
        let payload = bad.join().unwrap_err();
        let others: Vec<u32> = good.into_iter().map(|h| h.join().unwrap()).collect();
        (*payload.downcast::<String>().unwrap(), others)
    });
    assert_eq!(payload, "child failed: 7");
    assert_eq!(others, [0, 2, 4, 6, 8]);
}

#[test]
fn static_str_payload_round_trips_like_std() {
    let payload = corio::run(|| corio::spawn(|| panic!("static")).join().unwrap_err());
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"static"));
}

#[test]
fn root_panic_propagates_out_of_block_on_with_its_payload() {
    let mut rt = corio::Runtime::new().unwrap();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(|| -> () { std::panic::panic_any(42u32) })
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<u32>(), Some(&42));
    // The runtime is still usable.
    assert_eq!(rt.block_on(|| corio::spawn(|| 5).join().unwrap()), 5);
}

#[test]
fn detached_tasks_still_run_to_completion() {
    let done = Rc::new(Cell::new(0));
    let d = done.clone();
    corio::run(move || {
        for _ in 0..10 {
            let d = d.clone();
            // The handle is dropped at once: detached.
            drop(corio::spawn(move || {
                corio::yield_now();
                corio::yield_now();
                d.set(d.get() + 1);
            }));
        }
        // Give them time to run: three rounds of yields.
        for _ in 0..3 {
            corio::yield_now();
        }
    });
    assert_eq!(done.get(), 10);
}

#[test]
fn is_finished_tracks_the_task() {
    corio::run(|| {
        let h = corio::spawn(corio::yield_now);
        assert!(!h.is_finished(), "queued, not started");
        corio::yield_now();
        assert!(!h.is_finished(), "started, parked in its yield");
        corio::yield_now();
        assert!(h.is_finished(), "returned");
        let p = corio::spawn(|| panic!("x"));
        corio::yield_now();
        assert!(p.is_finished(), "a panicked task is finished too");
        assert!(p.join().is_err());
        h.join().unwrap();
    });
}

#[test]
fn ids_are_unique_and_stable() {
    corio::run(|| {
        let a = corio::spawn(corio::task::current_id);
        let a_id = a.id();
        assert_eq!(a.join().unwrap(), a_id);
        // The slot of `a` is free now; a new task reuses it but not the id.
        let b = corio::spawn(|| ());
        assert_ne!(b.id(), a_id);
        assert!(b.id().as_u64() > a_id.as_u64());
    });
}

#[test]
fn join_on_a_task_that_already_ended_does_not_block() {
    let v = corio::run(|| {
        let h = corio::spawn(|| "done");
        corio::yield_now();
        assert!(h.is_finished());
        let before = corio::stats().switches;
        let v = h.join().unwrap();
        assert_eq!(corio::stats().switches, before, "no switch needed");
        v
    });
    assert_eq!(v, "done");
}

#[test]
fn joining_yourself_panics_at_once_instead_of_waiting_forever() {
    // A task that gets hold of its own handle and joins it: the join panics
    // in that task (its root catches it: its own join gives the payload).
    let completed = corio::run(|| {
        let own: Rc<std::cell::RefCell<Option<corio::JoinHandle<()>>>> = Rc::default();
        let slot = own.clone();
        let me = corio::task::Builder::new()
            .name("narcissus".into())
            .spawn(move || {
                let mine = slot.borrow_mut().take().expect("the root stored it");
                let _ = mine.join();
            })
            .unwrap();
        *own.borrow_mut() = Some(me);
        corio::yield_now(); // it runs, takes its handle and joins itself
        assert!(own.borrow().is_none(), "the task took its handle");
        corio::stats().completed
    });
    assert_eq!(
        completed, 1,
        "the task ended (by the panic) instead of waiting"
    );
    let message = corio::run(|| {
        let own: Rc<std::cell::RefCell<Option<corio::JoinHandle<()>>>> = Rc::default();
        let slot = own.clone();
        let (tx, rx) = corio::sync::channel::<String>();
        let me = corio::spawn(move || {
            let mine = slot.borrow_mut().take().unwrap();
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| mine.join()));
            let text = caught
                .map(|_| String::new())
                .unwrap_or_else(|p| util::panic_text(&*p));
            tx.send(text).unwrap();
        });
        let id = me.id();
        *own.borrow_mut() = Some(me);
        (rx.recv().unwrap(), id)
    });
    assert!(message.0.contains("JoinHandle::join"), "{}", message.0);
    assert!(
        message
            .0
            .contains(&format!("{} tried to join itself", message.1)),
        "{}",
        message.0
    );
}

#[test]
fn joining_a_task_of_another_runtime_panics_at_once_and_says_so() {
    let mut other = corio::Runtime::new().unwrap();
    let theirs = other.block_on(|| {
        let h = corio::spawn(|| corio::sleep(std::time::Duration::from_secs(3600)));
        corio::yield_now();
        h
    });
    let id = theirs.id();
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        corio::run(move || theirs.join().is_ok())
    }))
    .unwrap_err();
    let text = util::panic_text(&*payload);
    assert!(
        text.contains(&format!("{id} belongs to another corio runtime")),
        "{text}"
    );
    assert!(!text.contains("deadlock"), "{text}");
    drop(other);
}

#[test]
fn joining_a_finished_task_of_another_runtime_returns_its_value() {
    let mut other = corio::Runtime::new().unwrap();
    let theirs = other.block_on(|| {
        let h = corio::spawn(|| 42);
        corio::yield_now(); // it runs to the end
        assert!(h.is_finished());
        h
    });
    // Inside another runtime on the same thread, as outside any.
    assert_eq!(corio::run(move || theirs.join().unwrap()), 42);
    drop(other);
}

#[test]
fn join_timeout_gives_the_handle_back_and_others_run_meanwhile() {
    use std::time::Duration;
    let (ticks, value) = corio::run(|| {
        let (tx, rx) = corio::sync::mpsc::channel::<u32>();
        let waiter = corio::spawn(move || rx.recv().unwrap() + 1);
        let ticks = Rc::new(Cell::new(0u32));
        let counted = Rc::clone(&ticks);
        let stop = Rc::new(Cell::new(false));
        let stopped = Rc::clone(&stop);
        let ticker = corio::spawn(move || {
            while !stopped.get() {
                corio::sleep(Duration::from_millis(1));
                counted.set(counted.get() + 1);
            }
        });
        // Nothing was sent: it times out, and the handle comes back.
        let waiter = waiter
            .join_timeout(Duration::from_millis(20))
            .expect_err("the waiter cannot end before a send");
        assert!(!waiter.is_finished());
        let ticks_while_waiting = ticks.get();
        tx.send(41).unwrap();
        let value = waiter
            .join_timeout(Duration::MAX)
            .expect("Duration::MAX waits for the end");
        stop.set(true);
        ticker.join().unwrap();
        (ticks_while_waiting, value.unwrap())
    });
    assert_eq!(value, 42);
    assert!(
        ticks >= 2,
        "the 1 ms ticker ran while the root waited: {ticks}"
    );
}

#[test]
fn join_timeout_on_an_ended_task_returns_its_result_even_with_zero() {
    corio::run(|| {
        let done = corio::spawn(|| 5);
        let failed = corio::spawn(|| -> u32 { panic!("no") });
        corio::yield_now();
        let zero = std::time::Duration::ZERO;
        assert_eq!(done.join_timeout(zero).unwrap().unwrap(), 5);
        let payload = failed.join_timeout(zero).unwrap().unwrap_err();
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"no"));
        // Not ended and zero: the handle back at once, without a switch.
        let running = corio::spawn(|| 1);
        let before = corio::stats().switches;
        let running = running.join_timeout(zero).unwrap_err();
        assert_eq!(corio::stats().switches, before);
        assert_eq!(running.join().unwrap(), 1);
    });
}
