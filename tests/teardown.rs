//! Dropping a runtime with coroutines still parked: every one is unwound, at
//! a cost linear in their number, and nothing a destructor does there (wait,
//! flush, join, sleep, panic outside an unwind) aborts the process.

mod util;

use std::cell::{Cell, RefCell};
use std::io::{BufWriter, Write};
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use corio::net::{TcpListener, TcpStream};

/// Parked coroutines unwound so far: each holds one [`Unwound`] on its stack.
static UNWOUND: AtomicUsize = AtomicUsize::new(0);

/// Counts its drop in [`UNWOUND`].
struct Unwound;

impl Drop for Unwound {
    fn drop(&mut self) {
        UNWOUND.fetch_add(1, Ordering::Relaxed);
    }
}

/// Drops a runtime holding `n` coroutines parked on one channel. Returns
/// how many of them were unwound and the CPU time the drop took on this
/// thread (not wall time: a busy machine stretches that, not this).
fn teardown(n: usize) -> (usize, Duration) {
    let mut rt = corio::Runtime::new().unwrap();
    rt.block_on(move || {
        let (tx, rx) = corio::sync::channel::<()>();
        let rx = Rc::new(rx);
        for _ in 0..n {
            let rx = rx.clone();
            corio::spawn(move || {
                let _unwound = Unwound;
                let _ = rx.recv();
            });
        }
        corio::yield_now(); // every one parks in recv
        std::mem::forget(tx);
    });
    let unwound = UNWOUND.load(Ordering::Relaxed);
    let start = util::thread_cpu_time();
    drop(rt);
    let cpu = util::thread_cpu_time() - start;
    (UNWOUND.load(Ordering::Relaxed) - unwound, cpu)
}

#[test]
fn teardown_unwinds_every_parked_coroutine_in_cpu_time_linear_in_their_number() {
    // Forty times the coroutines: linear work costs about 40x (less, with
    // the fixed costs of a runtime), while the old teardown, which searched
    // the task table from its start for every task, cost ~70x for 10x the
    // coroutines, so well over 1000x here. CPU time, not wall time: a thread
    // that waits for a CPU on a busy machine does not run up CPU time, so
    // load cannot push the ratio towards the bound.
    let (small, large) = (1_000, 40_000);
    let best = |n| {
        (0..2)
            .map(|_| {
                let (unwound, cpu) = teardown(n);
                assert_eq!(unwound, n, "{n} parked coroutines, {unwound} unwound");
                cpu
            })
            .min()
            .expect("two rounds")
    };
    let (small_cpu, large_cpu) = (best(small), best(large));
    let ratio = large_cpu.as_secs_f64() / small_cpu.as_secs_f64().max(1e-9);
    println!(
        "teardown CPU time: {small_cpu:?} for {small}, {large_cpu:?} for {large}: {ratio:.1}x"
    );
    assert!(
        ratio < 200.0,
        "40x the coroutines took {ratio:.1}x the CPU time ({small_cpu:?} for {small}, \
         {large_cpu:?} for {large})"
    );
}

/// Drops `log` entries in order: what each destructor saw.
type Log = Rc<RefCell<Vec<String>>>;

/// Runs `check` when dropped, and logs what it returned under `label`.
struct OnDrop<F: FnMut() -> String> {
    label: &'static str,
    log: Log,
    check: F,
}

impl<F: FnMut() -> String> Drop for OnDrop<F> {
    fn drop(&mut self) {
        let seen = (self.check)();
        self.log
            .borrow_mut()
            .push(format!("{}: {seen}", self.label));
    }
}

fn on_drop<F: FnMut() -> String>(label: &'static str, log: &Log, check: F) -> OnDrop<F> {
    OnDrop {
        label,
        log: log.clone(),
        check,
    }
}

/// A connected pair whose client side has a full send buffer: the server
/// never reads. Returns the client and keeps the server alive in `keep`.
fn full_client(keep: &mut Vec<TcpStream>) -> TcpStream {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    keep.push(server);
    client
}

#[test]
fn destructors_that_would_wait_during_teardown_return_at_once() {
    const NAME: &str = "destructors_that_would_wait_during_teardown_return_at_once";
    if util::is_child(NAME) {
        let log: Log = Rc::default();
        let mut rt = corio::Runtime::new().unwrap();
        let l = log.clone();
        let ids = rt.block_on(move || {
            let log = l;
            let mut keep = Vec::new();
            let (tx, rx) = corio::sync::channel::<u8>();
            let forever = corio::spawn(|| corio::sleep(Duration::from_secs(3600)));
            let forever_id = forever.id();
            let full = full_client(&mut keep);
            let writer = full.try_clone().unwrap();
            // Far more than the kernel can take once the filler is done.
            let buffered = BufWriter::with_capacity(8 << 20, full.try_clone().unwrap());
            let rx = Rc::new(rx);
            let r = rx.clone();
            let waiter = corio::spawn({
                let log = log.clone();
                move || {
                    let mut buffered = buffered;
                    buffered.write_all(&vec![1u8; 4 << 20]).unwrap(); // stays buffered
                    let _yield = on_drop("yield_now", &log, || {
                        corio::yield_now();
                        "returned".into()
                    });
                    let _sleep = on_drop("sleep", &log, || {
                        corio::sleep(Duration::from_secs(3600));
                        "returned".into()
                    });
                    let mut forever = Some(forever);
                    let _join =
                        on_drop("join", &log, move || match forever.take().unwrap().join() {
                            Ok(()) => "Ok".into(),
                            Err(e) => format!("Err({})", util::panic_text(&*e)),
                        });
                    let _recv = on_drop("recv", &log, move || format!("{:?}", r.recv()));
                    let _flush = on_drop("flush", &log, move || match buffered.flush() {
                        Ok(()) => "Ok".into(),
                        Err(e) => format!("Err({:?}: {e})", e.kind()),
                    });
                    let _who =
                        on_drop("current_id", &log, || corio::task::current_id().to_string());
                    let _ = rx.recv(); // parks: nobody sends
                }
            });
            // Fills the send buffer, then parks in a write that cannot end.
            let filler = corio::spawn(move || {
                let mut writer = writer;
                let chunk = vec![7u8; 64 * 1024];
                loop {
                    writer.write_all(&chunk).unwrap();
                }
            });
            corio::yield_now();
            corio::sleep(Duration::from_millis(50)); // the filler fills
            std::mem::forget(tx);
            std::mem::forget(keep);
            (waiter.id(), forever_id, filler)
        });
        let (waiter_id, forever_id, filler) = ids;
        drop(rt);
        for line in log.borrow().iter() {
            println!("{line}");
        }
        println!("waiter {waiter_id} forever {forever_id}");
        // The filler was unwound, not finished.
        let filled = filler.join().unwrap_err();
        println!("filler: {}", util::panic_text(&*filled));
        return;
    }
    let (out, _) = util::run_child_ok(NAME, &[]);
    // The harness prints "test NAME ... " before the child's first line.
    let line = |label: &str| {
        let key = format!("{label}: ");
        out.lines()
            .find_map(|l| l.find(&key).map(|at| l[at..].to_string()))
            .unwrap_or_else(|| panic!("no {label} line in:\n{out}"))
    };
    let waiter = out
        .lines()
        .find_map(|l| l.strip_prefix("waiter "))
        .and_then(|l| l.split(" forever").next())
        .unwrap_or_else(|| panic!("no waiter line in:\n{out}"));
    assert_eq!(line("current_id"), format!("current_id: {waiter}"));
    assert!(
        line("flush").contains("Err(Other") && line("flush").contains("shutting down"),
        "{out}"
    );
    assert_eq!(line("recv"), "recv: Err(RecvError)");
    assert!(
        line("join").contains("shutting down") || line("join").contains("dropped"),
        "{out}"
    );
    assert_eq!(line("sleep"), "sleep: returned");
    assert_eq!(line("yield_now"), "yield_now: returned");
    assert!(line("filler").contains("runtime was dropped"), "{out}");
}

#[test]
fn join_of_a_task_its_dropped_runtime_unwound_says_so() {
    let mut rt = corio::Runtime::new().unwrap();
    let parked = rt.block_on(|| {
        let h = corio::spawn(|| corio::sleep(Duration::from_secs(3600)));
        corio::yield_now();
        h
    });
    assert!(!parked.is_finished());
    drop(rt);
    assert!(parked.is_finished());
    let payload = parked.join().unwrap_err();
    let message = payload.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(message.contains("runtime was dropped"), "{message:?}");
}

/// Panics when dropped.
struct PanicsOnDrop;

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        panic!("a destructor that panics");
    }
}

#[test]
fn a_panicking_destructor_outside_an_unwind_is_reported_and_the_rest_go_on() {
    // Not during an unwind, a destructor that panics does not abort in std
    // either: the closure of a task that never ran, and the result of a
    // detached task nobody takes.
    let dropped = Rc::new(Cell::new(0));
    let mut rt = corio::Runtime::new().unwrap();
    let d = dropped.clone();
    rt.block_on(move || {
        struct Counted(Rc<Cell<u32>>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.set(self.0.get() + 1);
            }
        }
        let before = Counted(d.clone());
        corio::spawn(move || drop(before)); // runs: counted
        corio::yield_now();
        let poison = PanicsOnDrop;
        drop(corio::spawn(move || drop(poison))); // never runs
        let after = Counted(d.clone());
        drop(corio::spawn(move || {
            let _after = after;
            corio::sleep(Duration::from_secs(3600));
        }));
        drop(corio::spawn(|| PanicsOnDrop)); // a detached result
        corio::yield_now(); // both run; the result is dropped, panicking
    });
    drop(rt); // must not panic
    assert_eq!(
        dropped.get(),
        2,
        "the task after the panicking one was unwound too"
    );
}
