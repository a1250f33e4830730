//! `Builder::virtual_time`: the clock jumps to the next timer when nothing
//! else can happen, and runs at real speed while anything real is pending.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::rc::Rc;
use std::time::Duration;

use corio::sync::mpsc;
use corio::time::Instant;

fn virtual_runtime() -> corio::Runtime {
    corio::Runtime::builder()
        .virtual_time(true)
        .build()
        .expect("a runtime")
}

#[test]
fn an_hour_of_sleeps_passes_at_once_in_order() {
    let mut rt = virtual_runtime();
    let real = std::time::Instant::now();
    let (order, elapsed) = rt.block_on(|| {
        let start = Instant::now();
        let order = Rc::new(RefCell::new(Vec::new()));
        let sleepers: Vec<_> = [50u64, 10, 3600, 30, 20]
            .into_iter()
            .map(|minutes| {
                let order = Rc::clone(&order);
                corio::spawn(move || {
                    corio::sleep(Duration::from_secs(minutes * 60));
                    order.borrow_mut().push((minutes, start.elapsed()));
                })
            })
            .collect();
        for sleeper in sleepers {
            sleeper.join().unwrap();
        }
        let order = order.borrow().clone();
        (order, start.elapsed())
    });
    let minutes: Vec<u64> = order.iter().map(|(m, _)| *m).collect();
    assert_eq!(minutes, [10, 20, 30, 50, 3600]);
    for (m, woke) in &order {
        let asked = Duration::from_secs(m * 60);
        // Woken at its deadline on the virtual clock, not much later.
        assert!(
            *woke >= asked && *woke < asked + Duration::from_secs(5),
            "{m}: {woke:?}"
        );
    }
    assert!(elapsed >= Duration::from_secs(3600 * 60));
    assert!(
        real.elapsed() < Duration::from_secs(60),
        "{:?}",
        real.elapsed()
    );
}

#[test]
fn timeouts_run_on_the_virtual_clock() {
    let mut rt = virtual_runtime();
    let real = std::time::Instant::now();
    rt.block_on(|| {
        let (tx, rx) = mpsc::channel::<u32>();
        let start = Instant::now();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(600)),
            Err(mpsc::RecvTimeoutError::Timeout)
        );
        assert!(start.elapsed() >= Duration::from_secs(600));
        corio::thread::park_timeout(Duration::from_secs(600));
        assert!(start.elapsed() >= Duration::from_secs(1200));
        drop(tx);
    });
    assert!(real.elapsed() < Duration::from_secs(60));
}

#[test]
fn the_clock_never_jumps_past_a_pending_socket_read() {
    // A std thread answers after 50 ms of real time; meanwhile a coroutine
    // sleeps 10 virtual seconds. The sleeper must wake after the reply:
    // while the reader waits on its socket, the clock runs at real speed.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 1];
        stream.read_exact(&mut request).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        stream.write_all(b"!").unwrap();
    });
    let mut rt = virtual_runtime();
    let order = rt.block_on(move || {
        let order = Rc::new(RefCell::new(Vec::new()));
        let sleeper = {
            let order = Rc::clone(&order);
            corio::spawn(move || {
                corio::sleep(Duration::from_secs(10));
                order.borrow_mut().push("sleeper");
            })
        };
        let reader = {
            let order = Rc::clone(&order);
            corio::spawn(move || {
                let mut stream = corio::net::TcpStream::connect(addr).unwrap();
                stream.write_all(b"?").unwrap();
                let mut reply = [0u8; 1];
                stream.read_exact(&mut reply).unwrap();
                order.borrow_mut().push("reply");
            })
        };
        reader.join().unwrap();
        sleeper.join().unwrap();
        order.take()
    });
    server.join().unwrap();
    assert_eq!(order, ["reply", "sleeper"]);
}

#[test]
fn a_blocking_job_holds_the_clock_back() {
    let mut rt = virtual_runtime();
    rt.block_on(|| {
        let start = Instant::now();
        let timer = corio::spawn(move || {
            corio::sleep(Duration::from_secs(3600));
            start.elapsed()
        });
        corio::yield_now(); // the timer is set
        // 100 ms of real work on the pool: the hour must not pass meanwhile.
        corio::spawn_blocking(|| std::thread::sleep(Duration::from_millis(100))).unwrap();
        let during = start.elapsed();
        assert!(during >= Duration::from_millis(100), "{during:?}");
        assert!(
            during < Duration::from_secs(3600),
            "jumped past the job: {during:?}"
        );
        assert!(timer.join().unwrap() >= Duration::from_secs(3600));
    });
}

#[test]
fn a_real_time_runtime_keeps_the_real_clock() {
    corio::run(|| {
        let corio_now = Instant::now();
        let std_now = std::time::Instant::now();
        let apart = std_now.saturating_duration_since(corio_now.into());
        assert!(apart < Duration::from_secs(1), "{apart:?}");
        let real = std::time::Instant::now();
        corio::sleep(Duration::from_millis(20));
        assert!(real.elapsed() >= Duration::from_millis(20));
    });
}

#[test]
fn a_thousand_coroutines_sleep_an_hour_in_a_moment() {
    let mut rt = virtual_runtime();
    let real = std::time::Instant::now();
    let elapsed = rt.block_on(|| {
        let start = Instant::now();
        let sleepers: Vec<_> = (0..1000)
            .map(|_| corio::spawn(|| corio::sleep(Duration::from_secs(3600))))
            .collect();
        for sleeper in sleepers {
            sleeper.join().unwrap();
        }
        start.elapsed()
    });
    let real = real.elapsed();
    assert!(elapsed >= Duration::from_secs(3600), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3600 + 60), "{elapsed:?}");
    // Well under a second on a quiet machine; the bound is for a busy one.
    assert!(real < Duration::from_secs(10), "{real:?}");
}

#[test]
fn join_timeout_runs_on_the_virtual_clock() {
    let mut rt = virtual_runtime();
    let real = std::time::Instant::now();
    rt.block_on(|| {
        let start = Instant::now();
        let slow = corio::spawn(|| {
            corio::sleep(Duration::from_secs(7200));
            7
        });
        let slow = slow.join_timeout(Duration::from_secs(3600)).unwrap_err();
        let waited = start.elapsed();
        assert!(waited >= Duration::from_secs(3600) && waited < Duration::from_secs(7200));
        assert_eq!(
            slow.join_timeout(Duration::from_secs(7200))
                .unwrap()
                .unwrap(),
            7
        );
        assert!(start.elapsed() >= Duration::from_secs(7200));
    });
    assert!(real.elapsed() < Duration::from_secs(60));
}

/// Each jump of the virtual clock asks whether another thread could still
/// wake a task first. That answer is kept as a count of the tasks parked
/// on such a thing (a blocking job, a task of another runtime), updated as
/// they park and are woken, so a jump costs the same with thirty thousand
/// other tasks parked on channels as with none. It once looked at every
/// task's slot: the jumps below took about 190 times longer with the
/// receivers parked in a release build, 400 times in a debug one.
#[test]
fn many_parked_tasks_do_not_slow_the_clock_s_jumps() {
    let alone = jumps_took(0);
    let beside_many = jumps_took(30_000);
    // Real time, compared within one run; the slack is for a busy machine.
    assert!(
        beside_many <= alone * 5 + Duration::from_millis(200),
        "30,000 jumps took {beside_many:?} beside 30,000 parked tasks, {alone:?} alone"
    );
}

/// Real time that 30,000 jumps of a virtual clock take (sleeps of 1 ms by
/// a task alone in the run queue) while `parked` other tasks wait on a
/// channel receive, which does not hold the clock back.
fn jumps_took(parked: usize) -> Duration {
    const JUMPS: u32 = 30_000;
    let mut rt = virtual_runtime();
    rt.block_on(|| {
        let (tx, rx) = corio::sync::mpsc::channel::<()>();
        let rx = std::rc::Rc::new(rx);
        let receivers: Vec<_> = (0..parked)
            .map(|_| {
                let rx = std::rc::Rc::clone(&rx);
                corio::spawn(move || rx.recv().is_err())
            })
            .collect();
        corio::yield_now(); // every receiver parks
        let real = std::time::Instant::now();
        let start = Instant::now();
        for _ in 0..JUMPS {
            corio::sleep(Duration::from_millis(1));
        }
        let (real, elapsed) = (real.elapsed(), start.elapsed());
        assert!(elapsed >= Duration::from_secs(30), "{elapsed:?}");
        drop(tx);
        for receiver in receivers {
            assert!(receiver.join().unwrap(), "woken by the hang-up");
        }
        real
    })
}
