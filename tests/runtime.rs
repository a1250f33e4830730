//! The runtime: teardown, misuse, configuration, panic reports.

mod util;

use std::cell::Cell;
use std::io::ErrorKind;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

/// Counts its drops.
struct Counted(Rc<Cell<u32>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn dropping_a_runtime_runs_the_destructors_of_parked_coroutines() {
    let drops = Rc::new(Cell::new(0));
    let mut rt = corio::Runtime::new().unwrap();
    let d = drops.clone();
    rt.block_on(move || {
        // 3 parked on a channel that never gets a message, 2 queued but never
        // started, 1 sleeping far in the future.
        let (tx, rx) = corio::sync::channel::<()>();
        let rx = Rc::new(rx);
        for _ in 0..3 {
            let guard = Counted(d.clone());
            let rx = rx.clone();
            corio::spawn(move || {
                let _guard = guard;
                let _ = rx.recv();
            });
        }
        corio::yield_now();
        let sleeper = Counted(d.clone());
        corio::spawn(move || {
            let _g = sleeper;
            corio::sleep(std::time::Duration::from_secs(3600));
        });
        corio::yield_now();
        for _ in 0..2 {
            let guard = Counted(d.clone());
            corio::spawn(move || drop(guard));
        }
        std::mem::forget(tx); // the receivers stay blocked
    });
    assert_eq!(drops.get(), 0, "nothing dropped while the runtime lives");
    drop(rt);
    assert_eq!(
        drops.get(),
        6,
        "every parked or queued coroutine was unwound"
    );
}

#[test]
fn calls_outside_a_runtime_panic_with_a_clear_message() {
    type Call = Box<dyn Fn()>;
    let cases: [(&str, Call); 4] = [
        ("corio::yield_now", Box::new(corio::yield_now)),
        ("corio::spawn", Box::new(|| drop(corio::spawn(|| ())))),
        (
            "corio::stats",
            Box::new(|| {
                let _ = corio::stats();
            }),
        ),
        (
            "corio::sleep",
            Box::new(|| corio::sleep(std::time::Duration::from_millis(1))),
        ),
    ];
    for (name, call) in cases {
        let msg = util::panic_text(&*catch_unwind(AssertUnwindSafe(call)).unwrap_err());
        assert!(msg.contains(name), "{name}: {msg}");
        assert!(msg.contains("needs a corio runtime"), "{name}: {msg}");
    }
}

#[test]
fn join_outside_a_runtime_panics_clearly() {
    let mut rt = corio::Runtime::new().unwrap();
    let h = rt.block_on(|| corio::spawn(|| 1));
    let msg = util::panic_text(&*catch_unwind(AssertUnwindSafe(|| h.join())).unwrap_err());
    assert!(msg.contains("JoinHandle::join"), "{msg}");
}

#[test]
fn nested_block_on_is_refused() {
    let msg = util::panic_text(
        &*catch_unwind(|| {
            corio::run(|| {
                let mut inner = corio::Runtime::new().unwrap();
                inner.block_on(|| ());
            })
        })
        .unwrap_err(),
    );
    assert!(msg.contains("inside a corio runtime"), "{msg}");
}

#[test]
fn builder_validates_stack_size() {
    for bad in [0, 1, 4096, usize::MAX / 2] {
        let err = corio::Runtime::builder()
            .stack_size(bad)
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad}");
        let msg = err.to_string();
        assert!(
            msg.contains("KiB") && msg.contains("GiB"),
            "gives the range: {msg}"
        );
    }
    assert!(
        corio::Runtime::builder()
            .stack_size(64 * 1024)
            .build()
            .is_ok()
    );
    let err = corio::Runtime::builder()
        .event_interval(0)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn task_builder_validates_stack_size_and_uses_the_name() {
    corio::run(|| {
        let err = corio::task::Builder::new()
            .stack_size(0)
            .spawn(|| ())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let h = corio::task::Builder::new()
            .name("big".into())
            .stack_size(8 << 20)
            .spawn(|| {
                // Use a good part of an 8 MiB stack.
                let buf = [7u8; 4 << 20];
                std::hint::black_box(&buf)[12345]
            })
            .unwrap();
        assert_eq!(h.join().unwrap(), 7);
    });
}

#[test]
fn deadlock_is_reported_instead_of_hanging() {
    let msg = util::panic_text(
        &*catch_unwind(|| {
            corio::run(|| {
                let child = corio::task::Builder::new()
                    .name("waiter".into())
                    .spawn(corio::thread::park)
                    .unwrap();
                // Only the root could unpark the child, and it joins it.
                // (A channel receive would not do: while its senders live,
                // one may be on another thread; see the next test.)
                child.join().unwrap()
            })
        })
        .unwrap_err(),
    );
    assert!(msg.contains("deadlock"), "{msg}");
    assert!(msg.contains("2 coroutine(s) are blocked"), "{msg}");
    assert!(
        msg.contains("'waiter': parked (thread::park) until unparked"),
        "{msg}"
    );
    assert!(msg.contains("'root'"), "{msg}");
}

#[test]
fn the_root_can_return_anything() {
    let v: Vec<String> = corio::run(|| (0..3).map(|i| i.to_string()).collect());
    assert_eq!(v, ["0", "1", "2"]);
}

#[test]
fn a_runtime_dropped_inside_a_coroutine_runs_its_destructors_outside_any_coroutine() {
    // Destructors run by a runtime's teardown are not the coroutine that
    // happens to drop it: asking them for "the current task" must say so
    // rather than answer with the dropping coroutine's id (or let yield_now
    // run the torn-down runtime's scheduler on that coroutine's behalf).
    struct AskWhoRuns(Rc<Cell<Option<bool>>>);
    impl Drop for AskWhoRuns {
        fn drop(&mut self) {
            let answer = catch_unwind(corio::task::current_id);
            self.0.set(Some(answer.is_ok()));
        }
    }
    let answered = Rc::new(Cell::new(None));
    let mut inner = corio::Runtime::new().unwrap();
    inner.block_on({
        let guard = AskWhoRuns(answered.clone());
        // Queued, never started: the root returns first.
        move || drop(corio::spawn(move || drop(guard)))
    });
    let (before, after) = corio::run(move || {
        let before = corio::task::current_id();
        drop(inner);
        (before, corio::task::current_id())
    });
    assert_eq!(
        answered.get(),
        Some(false),
        "current_id inside the inner runtime's teardown should have panicked"
    );
    assert_eq!(
        before, after,
        "the dropping coroutine is itself again afterwards"
    );
}

#[test]
fn a_coroutine_panic_is_reported_with_the_coroutine_named() {
    const NAME: &str = "a_coroutine_panic_is_reported_with_the_coroutine_named";
    if util::is_child(NAME) {
        corio::run(|| {
            let h = corio::task::Builder::new()
                .name("worker".into())
                .spawn(|| -> () { panic!("boom in the worker") })
                .unwrap();
            assert!(h.join().is_err());
        });
        return;
    }
    let (_, err) = util::run_child_ok(NAME, &[]);
    let named = err
        .lines()
        .position(|l| l == "corio: panic in coroutine task 2 'worker':")
        .unwrap_or_else(|| panic!("no line naming the coroutine in:\n{err}"));
    // Then std's own report, at the user's line, with the message.
    let report = &err.lines().skip(named + 1).collect::<Vec<_>>().join("\n");
    assert!(report.contains("panicked at tests/runtime.rs"), "{err}");
    assert!(report.contains("boom in the worker"), "{err}");
}

#[test]
fn the_users_panic_hook_stays_in_place_and_sees_every_panic() {
    const NAME: &str = "the_users_panic_hook_stays_in_place_and_sees_every_panic";
    if util::is_child(NAME) {
        std::panic::set_hook(Box::new(|info| {
            eprintln!(
                "user hook saw: {}",
                info.payload().downcast_ref::<&str>().unwrap()
            );
        }));
        corio::run(|| {
            let h = corio::spawn(|| -> () { panic!("inside") });
            assert!(h.join().is_err());
        });
        let _ = catch_unwind(|| -> () { panic!("outside") });
        return;
    }
    let (_, err) = util::run_child_ok(NAME, &[]);
    let lines: Vec<&str> = err.lines().collect();
    let inside = lines.iter().position(|l| *l == "user hook saw: inside");
    let outside = lines.iter().position(|l| *l == "user hook saw: outside");
    assert!(inside.is_some() && outside.is_some(), "{err}");
    assert_eq!(
        lines[inside.unwrap() - 1],
        "corio: panic in coroutine task 2:",
        "{err}"
    );
    assert!(
        !lines[outside.unwrap() - 1].starts_with("corio:"),
        "a panic outside any coroutine is not attributed to one: {err}"
    );
}

#[test]
fn misuse_panics_point_at_the_callers_line() {
    const NAME: &str = "misuse_panics_point_at_the_callers_line";
    if util::is_child(NAME) {
        type Call = Box<dyn Fn()>;
        let (tx, rx) = corio::sync::channel::<u8>();
        let mut rt = corio::Runtime::new().unwrap();
        let parked = rt.block_on(|| corio::spawn(|| ()));
        let parked = std::cell::Cell::new(Some(parked));
        let calls: Vec<Call> = vec![
            Box::new(|| corio::yield_now()),
            Box::new(|| drop(corio::spawn(|| ()))),
            Box::new(|| {
                let _ = corio::stats();
            }),
            Box::new(|| corio::sleep(std::time::Duration::from_millis(1))),
            Box::new(|| {
                let _ = corio::task::current_id();
            }),
            Box::new(move || {
                let _ = rx.recv();
            }),
            Box::new(move || drop(parked.take().unwrap().join())),
            Box::new(|| drop(corio::net::TcpListener::bind("127.0.0.1:0"))),
            Box::new(|| drop(corio::net::TcpStream::connect("127.0.0.1:9"))),
            Box::new(|| drop(corio::net::UdpSocket::bind("127.0.0.1:0"))),
            Box::new(|| {
                corio::run(|| {
                    let mut inner = corio::Runtime::new().unwrap();
                    inner.block_on(|| ());
                })
            }),
        ];
        for call in &calls {
            assert!(catch_unwind(AssertUnwindSafe(call)).is_err());
        }
        drop(tx);
        println!("calls: {}", calls.len());
        return;
    }
    let (out, err) = util::run_child_ok(NAME, &[]);
    let calls: usize = out
        .split("calls: ")
        .nth(1)
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    let sites: Vec<&str> = err.lines().filter(|l| l.contains("panicked at")).collect();
    assert_eq!(sites.len(), calls, "{err}");
    for site in sites {
        assert!(
            site.contains("panicked at tests/runtime.rs:"),
            "{site}\n{err}"
        );
    }
}
