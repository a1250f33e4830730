//! A `log` backend is user code that the scheduler calls from its own
//! events (spawn, park, wake, finish): it may call into corio, and the
//! scheduler's invariants must hold across it. Each scenario plays out in a
//! child process, since the logger is global.

mod util;

use std::cell::RefCell;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use corio::net::{TcpListener, TcpStream};

/// What the logger does with each corio record.
static MODE: AtomicU32 = AtomicU32::new(0);
/// Call `yield_now`, `current_id` and a socket write.
const REENTER: u32 = 1;
/// Panic once, at the park of the task named 'victim'.
const PANIC_AT_VICTIM_PARK: u32 = 2;
/// Armed until the panic happened.
static ARMED: AtomicBool = AtomicBool::new(true);

thread_local! {
    /// A socket whose send buffer is full, for the logger to write to.
    static FULL: RefCell<Option<TcpStream>> = const { RefCell::new(None) };
    /// What the logger saw: (`current_id` answered, write outcome).
    static SEEN: RefCell<Vec<(bool, String)>> = const { RefCell::new(Vec::new()) };
}

struct Reentrant;

impl log::Log for Reentrant {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        if !record.target().starts_with("corio") {
            return;
        }
        match MODE.load(Ordering::Relaxed) {
            REENTER => {
                // Not caught: it never panics inside a runtime, and a
                // runtime dropped while this coroutine waits in it unwinds
                // through here, which must not be stopped.
                corio::yield_now();
                let id = catch_unwind(corio::task::current_id).is_ok();
                let wrote = FULL.with(|full| match full.borrow().as_ref() {
                    Some(mut stream) => match stream.write(&[0; 4096]) {
                        Ok(n) => format!("wrote {n}"),
                        Err(e) => format!("{:?}", e.kind()),
                    },
                    None => "no socket".into(),
                });
                SEEN.with(|seen| seen.borrow_mut().push((id, wrote)));
            }
            PANIC_AT_VICTIM_PARK => {
                let message = record.args().to_string();
                if message.starts_with("park")
                    && message.contains("'victim'")
                    && ARMED.swap(false, Ordering::Relaxed)
                {
                    panic!("the logger panics inside a hosted pass");
                }
            }
            _ => {}
        }
    }

    fn flush(&self) {}
}

static LOGGER: Reentrant = Reentrant;

fn install(mode: u32) {
    MODE.store(mode, Ordering::Relaxed);
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
}

/// A client socket whose send buffer is full (the server never reads), with
/// a short write timeout so that a write made as a coroutine gives up.
fn full_socket(keep: &mut Vec<TcpStream>) -> TcpStream {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    keep.push(server);
    client
        .set_write_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    // Until nothing more goes in for a while: the kernel may still grow the
    // receiver's window after the first refusal.
    let chunk = vec![1u8; 64 * 1024];
    let mut last_progress = std::time::Instant::now();
    while last_progress.elapsed() < Duration::from_millis(50) {
        if client.write(&chunk).is_ok() {
            last_progress = std::time::Instant::now();
        }
    }
    client
}

#[test]
fn a_logger_that_calls_into_corio_from_scheduler_events_is_harmless() {
    const NAME: &str = "a_logger_that_calls_into_corio_from_scheduler_events_is_harmless";
    if util::is_child(NAME) {
        install(0);
        let results = corio::run(|| {
            let mut keep = Vec::new();
            let full = full_socket(&mut keep);
            FULL.with(|f| *f.borrow_mut() = Some(full));
            MODE.store(REENTER, Ordering::Relaxed);
            // Ping-pong yields (hosted passes), a channel (a hosting recv), a
            // join, a sleep: every scheduler event, logged.
            let (tx, rx) = corio::sync::channel::<u32>();
            let counter = Rc::new(RefCell::new(0u32));
            let workers: Vec<_> = (0..3)
                .map(|i| {
                    let (tx, counter) = (tx.clone(), counter.clone());
                    corio::spawn(move || {
                        for _ in 0..5 {
                            *counter.borrow_mut() += 1;
                            corio::yield_now();
                        }
                        corio::sleep(Duration::from_millis(1));
                        tx.send(i).unwrap();
                        i * 10
                    })
                })
                .collect();
            drop(tx);
            let mut got: Vec<u32> = std::iter::from_fn(|| rx.recv().ok()).collect();
            got.sort_unstable();
            let joined: Vec<u32> = workers.into_iter().map(|w| w.join().unwrap()).collect();
            MODE.store(0, Ordering::Relaxed);
            let counted = *counter.borrow();
            std::mem::forget(keep);
            (got, joined, counted)
        });
        let seen = SEEN.with(|s| s.take());
        let answered = seen.iter().filter(|(id, _)| *id).count();
        let refused = seen.len() - answered;
        let wrote: Vec<&String> = seen.iter().map(|(_, w)| w).collect();
        println!("results {results:?}");
        println!(
            "records {} answered {answered} refused {refused}",
            seen.len()
        );
        let mut kinds: Vec<&str> = wrote.iter().map(|w| w.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        println!("write outcomes {kinds:?}");
        println!(
            "writes timed-out {} could-not-wait {}",
            wrote.iter().filter(|w| w.as_str() == "WouldBlock").count(),
            wrote.iter().filter(|w| w.as_str() == "Other").count()
        );
        return;
    }
    let (out, _) = util::run_child_ok(NAME, &[]);
    assert!(
        out.contains("results ([0, 1, 2], [0, 10, 20], 15)"),
        "{out}"
    );
    let numbers = |key: &str| -> u64 {
        out.split(&format!("{key} "))
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {out}"))
    };
    assert!(numbers("records") >= 20, "{out}");
    // Records from a coroutine (a spawn, a wake by a send) can ask who is
    // running; records from the scheduler itself (park, finish, a wake by a
    // timer) get a clean refusal.
    assert!(numbers("answered") > 0, "{out}");
    assert!(numbers("refused") > 0, "{out}");
    // A write to a full socket: as a coroutine it waits for its timeout
    // (then `WouldBlock`, as std's sockets on Unix); in
    // the scheduler's own code it cannot wait and says so at once.
    assert!(numbers("timed-out") > 0, "{out}");
    assert!(numbers("could-not-wait") > 0, "{out}");
}

#[test]
fn a_panic_inside_a_hosted_pass_leaves_the_host_whole() {
    const NAME: &str = "a_panic_inside_a_hosted_pass_leaves_the_host_whole";
    if util::is_child(NAME) {
        install(PANIC_AT_VICTIM_PARK);
        let outcome = corio::run(|| {
            let me = corio::task::current_id();
            let (tx, rx) = corio::sync::channel::<u8>();
            let (release, held) = corio::sync::channel::<()>();
            // Queued ahead of the root; parks (and so is logged) while the
            // root hosts it from inside recv.
            let victim = corio::task::Builder::new()
                .name("victim".into())
                .spawn(move || held.recv().is_ok())
                .unwrap();
            let first = catch_unwind(AssertUnwindSafe(|| rx.recv()));
            let caught = first.is_err();
            // The host is itself again, and wake-ups reach it as a parked
            // task: a later send wakes it, a later yield hosts as usual.
            let same = corio::task::current_id() == me;
            let sender = corio::spawn(move || tx.send(5).unwrap());
            let second = rx.recv();
            corio::yield_now();
            release.send(()).unwrap();
            (
                caught,
                same,
                second,
                victim.join().unwrap(),
                sender.join().is_ok(),
            )
        });
        println!("outcome {outcome:?}");
        return;
    }
    let (out, err) = util::run_child_ok(NAME, &[]);
    assert!(
        out.contains("outcome (true, true, Ok(5), true, true)"),
        "{out}\n{err}"
    );
    assert!(
        err.contains("the logger panics inside a hosted pass"),
        "{err}"
    );
}
