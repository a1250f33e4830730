//! Thread-per-core: several runtimes, one call, results in order; a failing
//! core stops the others; listeners that share a port.

mod util;

use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use corio::runtime::ThreadPerCore;

#[test]
fn each_core_runs_its_own_runtime_on_a_named_thread() {
    let got = ThreadPerCore::new(3)
        .run(|core| {
            let name = std::thread::current().name().map(str::to_owned);
            let child = corio::spawn(move || core * 10);
            corio::sleep(Duration::from_millis(1));
            (name, child.join().unwrap(), corio::stats().spawned)
        })
        .unwrap();
    assert_eq!(
        got,
        [
            (Some("corio-core-0".to_string()), 0, 2),
            (Some("corio-core-1".to_string()), 10, 2),
            (Some("corio-core-2".to_string()), 20, 2),
        ]
    );
}

#[test]
fn zero_threads_is_invalid_input() {
    let err = ThreadPerCore::new(0).run(|_| ()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.to_string().contains("at least 1"), "{err}");
}

#[test]
fn a_bad_builder_is_reported_as_an_error() {
    let err = ThreadPerCore::new(2)
        .builder(corio::runtime::Builder::new().stack_size(1))
        .run(|_| ())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn pinned_cores_each_run_on_one_cpu() {
    let allowed = ThreadPerCore::new(2)
        .pin(true)
        .run(|_| {
            let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
            status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .unwrap()
                .trim()
                .to_string()
        })
        .unwrap();
    for list in &allowed {
        assert!(
            !list.contains(',') && !list.contains('-'),
            "one CPU each: {allowed:?}"
        );
    }
}

/// Counts its drops: a stopped core's coroutines are unwound.
struct Unwound<'a>(&'a AtomicUsize);

impl Drop for Unwound<'_> {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_panic_on_one_core_stops_the_others_and_names_the_core() {
    let unwound = AtomicUsize::new(0);
    let all_parked = Barrier::new(3);
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ThreadPerCore::new(3).run(|core| {
            if core == 2 {
                all_parked.wait(); // the others are up; fail now
                panic!("core two gives up");
            }
            let _root_guard = Unwound(&unwound);
            // A coroutine that would sleep for a minute, and a root that
            // would too: both are unwound when the core is stopped. (Parked
            // forever, they would be a deadlock, reported as such.)
            let unwound = &unwound;
            corio::thread::scope(|s| {
                s.spawn(move || {
                    let _guard = Unwound(unwound);
                    corio::sleep(Duration::from_secs(60));
                });
                corio::yield_now();
                all_parked.wait();
                corio::sleep(Duration::from_secs(60));
            });
        })
    }))
    .unwrap_err();
    let text = util::panic_text(&*payload);
    assert!(text.contains("core 2"), "{text}");
    assert!(text.contains("corio-core-2"), "{text}");
    assert!(text.contains("core two gives up"), "{text}");
    assert!(text.contains("the other 2 were stopped"), "{text}");
    // Two cores, each a root and a scoped child.
    assert_eq!(unwound.load(Ordering::SeqCst), 4);
}

#[test]
fn listeners_bound_with_reuse_port_share_a_port_and_each_core_accepts() {
    const CONNECTIONS: usize = 64;
    let port: Mutex<Option<SocketAddr>> = Mutex::new(None);
    let bound = Barrier::new(3);
    let accepted = Arc::new(AtomicUsize::new(0));
    let per_core = std::thread::scope(|s| {
        s.spawn(|| {
            bound.wait();
            let addr = port.lock().unwrap().unwrap();
            for i in 0..CONNECTIONS {
                let mut c = std::net::TcpStream::connect(addr).unwrap();
                c.write_all(&[i as u8]).unwrap();
                let mut back = [0u8; 1];
                c.read_exact(&mut back).unwrap();
                assert_eq!(back[0], i as u8);
            }
        });
        ThreadPerCore::new(2)
            .run(|core| {
                let listener = if core == 0 {
                    let l = corio::net::TcpListener::bind_reuse_port("127.0.0.1:0").unwrap();
                    *port.lock().unwrap() = Some(l.local_addr().unwrap());
                    bound.wait();
                    l
                } else {
                    bound.wait();
                    let addr = port.lock().unwrap().unwrap();
                    corio::net::TcpListener::bind_reuse_port(addr).unwrap()
                };
                let mine = Rc::new(Cell::new(0usize));
                let counter = Rc::clone(&mine);
                let total = Arc::clone(&accepted);
                // Accepts forever; unwound when the runtime is dropped.
                corio::spawn(move || {
                    loop {
                        let (mut stream, _) = listener.accept().unwrap();
                        let mut b = [0u8; 1];
                        stream.read_exact(&mut b).unwrap();
                        stream.write_all(&b).unwrap();
                        counter.set(counter.get() + 1);
                        total.fetch_add(1, Ordering::SeqCst);
                    }
                });
                // Serve until every connection was answered, by either core.
                while accepted.load(Ordering::SeqCst) < CONNECTIONS {
                    corio::sleep(Duration::from_millis(1));
                }
                mine.get()
            })
            .unwrap()
    });
    assert_eq!(per_core.iter().sum::<usize>(), CONNECTIONS);
    // The kernel hashes each connection to one listener: with 64 of them,
    // both getting some fails with odds of 2^-63.
    assert!(per_core.iter().all(|&n| n > 0), "{per_core:?}");
}
