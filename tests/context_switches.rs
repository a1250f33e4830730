//! What a hand-off costs the kernel: coroutines switch in user space, threads
//! through the scheduler. Counted with `getrusage(RUSAGE_THREAD)`, not timed.

#[path = "../examples/common/usage.rs"]
mod usage;

use std::sync::{Arc, Condvar, Mutex};

/// Voluntary + involuntary context switches of the calling thread so far.
fn thread_context_switches() -> u64 {
    usage::context_switches(&usage::rusage(libc::RUSAGE_THREAD))
}

/// Pins the calling thread to CPU 0, so two pinned threads can only take
/// turns: a hand-off between them must go through the kernel's scheduler.
fn pin_to_cpu0() {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; CPU_SET and
    // sched_setaffinity only touch that set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(0, &mut set);
        let rc = libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        assert_eq!(
            rc,
            0,
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[test]
fn coroutine_handoffs_cause_almost_no_context_switches() {
    const YIELDS: u64 = 400_000;
    let (switches, kernel) = corio::run(|| {
        let before_switches = corio::stats().switches;
        let before = thread_context_switches();
        let other = corio::spawn(|| {
            for _ in 0..YIELDS / 2 {
                corio::yield_now();
            }
        });
        for _ in 0..YIELDS / 2 {
            corio::yield_now();
        }
        other.join().unwrap();
        (
            corio::stats().switches - before_switches,
            thread_context_switches() - before,
        )
    });
    println!("{YIELDS} yields: {switches} coroutine switches, {kernel} kernel context switches");
    // Every yield of the root hands the CPU to the other coroutine.
    assert!(switches >= YIELDS / 2, "{switches} coroutine switches");
    // The kernel only sees the occasional preemption of the whole thread,
    // nowhere near one per hand-off. A busy machine preempts more often,
    // but at most once per time slice (a millisecond or so): in step with
    // the CPU time of the yields, some hundreds of them per slice even in a
    // debug build, not with their number. A fixed count would not hold.
    assert!(
        kernel < YIELDS / 100,
        "{YIELDS} yields caused {kernel} kernel context switches"
    );
}

#[test]
fn thread_handoffs_cause_at_least_one_context_switch_each() {
    const ROUND_TRIPS: u64 = 2_000;
    // Whose turn it is: false = ping, true = pong.
    let turn = Arc::new((Mutex::new(false), Condvar::new()));
    let play = |me: bool, turn: Arc<(Mutex<bool>, Condvar)>| {
        move || {
            pin_to_cpu0();
            let before = thread_context_switches();
            let (lock, cvar) = &*turn;
            for _ in 0..ROUND_TRIPS {
                let mut t = lock.lock().unwrap();
                while *t != me {
                    t = cvar.wait(t).unwrap();
                }
                *t = !me;
                cvar.notify_one();
            }
            thread_context_switches() - before
        }
    };
    let ping = std::thread::spawn(play(false, turn.clone()));
    let pong = std::thread::spawn(play(true, turn));
    let total = ping.join().unwrap() + pong.join().unwrap();
    let handoffs = 2 * ROUND_TRIPS;
    assert!(
        total >= handoffs - 2,
        "{handoffs} thread hand-offs caused only {total} context switches"
    );
}
