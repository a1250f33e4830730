//! Handoff workloads: A hands control to B and B hands it back, `round_trips` times.
//!
//! Every function sets its peers up, lets one round trip go by untimed (so
//! every party is started and waiting), then times exactly `round_trips` round
//! trips and tears down. Set-up and tear-down are never inside the timed span.
//! Each also counts the kernel context switches of every thread that took part
//! in the timed span (`getrusage(RUSAGE_THREAD)` on each of them).

use std::hint::black_box;
use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use corosensei::{Coroutine, Yielder};

use crate::os::{self, ContextSwitches};

/// What one timed run of `round_trips` round trips cost.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Wall time of the timed span.
    pub elapsed: Duration,
    /// Kernel context switches during the timed span, summed over the threads
    /// that took part (for `process_pipe_pingpong`: the parent only).
    pub context_switches: ContextSwitches,
}

/// Runs `round_trips` round trips while timing and counting on this thread.
pub fn timed(round_trips: u64, mut round_trip: impl FnMut()) -> Measured {
    let before = ContextSwitches::of_this_thread();
    let start = Instant::now();
    for _ in 0..round_trips {
        round_trip();
    }
    let elapsed = start.elapsed();
    Measured {
        elapsed,
        context_switches: ContextSwitches::of_this_thread().since(before),
    }
}

/// The floor: one bare corosensei coroutine driven by a loop. A round trip is
/// one `resume` plus one `suspend`, two stack switches, no scheduler at all.
pub fn raw_switch(round_trips: u64) -> Measured {
    let mut coroutine = Coroutine::new(move |yielder: &Yielder<(), ()>, ()| {
        for _ in 0..=round_trips {
            yielder.suspend(());
        }
    });
    // Warm-up: start the coroutine and reach its first suspend.
    coroutine.resume(());
    let measured = timed(round_trips, || {
        black_box(coroutine.resume(()));
    });
    assert!(
        coroutine.resume(()).as_return().is_some(),
        "the coroutine ran to its end"
    );
    measured
}

/// The floor of a loop-based scheduler: two bare coroutines alternating under
/// a trivial driver loop. A round trip is driver→A→driver→B→driver: four
/// stack switches, what A→scheduler→B→scheduler→A costs when every coroutine
/// switches back to the loop.
pub fn raw_switch_pair(round_trips: u64) -> Measured {
    let body = move |yielder: &Yielder<(), ()>, ()| {
        for _ in 0..=round_trips {
            yielder.suspend(());
        }
    };
    let mut a = Coroutine::new(body);
    let mut b = Coroutine::new(body);
    a.resume(());
    b.resume(());
    let measured = timed(round_trips, || {
        black_box(a.resume(()));
        black_box(b.resume(()));
    });
    assert!(a.resume(()).as_return().is_some() && b.resume(()).as_return().is_some());
    measured
}

/// Two corio coroutines alternating with `yield_now`: A→scheduler→B→scheduler→A.
///
/// corio runs this as two stack switches: A, resumed by the loop, runs the
/// loop's fast path itself and resumes B from its own stack ("hosting"), and
/// B's `yield_now` switches straight back to A.
pub fn corio_yield(round_trips: u64) -> Measured {
    corio::run(move || {
        // One more yield than the timed loop asks for: the warm-up round trip.
        let partner = corio::spawn(move || {
            for _ in 0..=round_trips {
                corio::yield_now();
            }
        });
        corio::yield_now();
        let measured = timed(round_trips, corio::yield_now);
        partner
            .join()
            .expect("the partner coroutine does not panic");
        measured
    })
}

/// `corio_yield` in a runtime built with `Schedule::Random`: every yield
/// switches to the scheduler loop, which draws the next task and resumes
/// it. The loop picks the timed coroutine or its partner with equal odds,
/// so a timed yield runs the partner once on average, as FIFO's strict
/// alternation does every time; each turn is two stack switches and a
/// draw, where FIFO's hand-off takes one switch. What a seeded schedule
/// costs.
pub fn corio_yield_random(round_trips: u64) -> Measured {
    let schedule = corio::runtime::Schedule::Random { seed: 1 };
    let mut rt = corio::runtime::Builder::new()
        .schedule(schedule)
        .build()
        .expect("a runtime can be built");
    rt.block_on(move || {
        // The partner yields until the timed loop is over: with random
        // picks, how many of its yields fall in the span is not fixed, so
        // it stops on a flag rather than after a count.
        let done = std::rc::Rc::new(std::cell::Cell::new(false));
        let stop = std::rc::Rc::clone(&done);
        let partner = corio::spawn(move || {
            while !stop.get() {
                corio::yield_now();
            }
        });
        corio::yield_now();
        let measured = timed(round_trips, corio::yield_now);
        done.set(true);
        partner
            .join()
            .expect("the partner coroutine does not panic");
        measured
    })
}

/// `raw_switch` with the suspend made inside a function the loop calls but
/// the compiler does not inline, as in most real code: every switch then
/// lands in a frame whose return the CPU's return-address predictor did not
/// see coming (it predicts returns from its own record of calls, and a stack
/// switch swaps the stack under it), so the `ret`s on both sides go astray.
pub fn raw_switch_called(round_trips: u64) -> Measured {
    #[inline(never)]
    fn suspend_in_a_call(yielder: &Yielder<(), ()>) {
        yielder.suspend(());
    }
    let mut coroutine = Coroutine::new(move |yielder: &Yielder<(), ()>, ()| {
        for _ in 0..=round_trips {
            suspend_in_a_call(yielder);
        }
    });
    coroutine.resume(());
    let measured = timed(round_trips, || {
        black_box(coroutine.resume(()));
    });
    assert!(coroutine.resume(()).as_return().is_some());
    measured
}

/// `corio_yield` with both coroutines calling `yield_now` inside a function
/// that is not inlined: what the return-address predictor costs corio (see
/// `raw_switch_called`).
///
/// This spells out `corio_yield`'s body again on purpose. Folded into one
/// function generic over the yield (tried), the partner's loop calls
/// `yield_now` through `Fn::call`, the compiler keeps that call out of line,
/// and `corio_yield` itself turns into this row: 25 ns instead of 3.9. The
/// whole point of the two rows is that one inlines and the other does not.
pub fn corio_yield_called(round_trips: u64) -> Measured {
    #[inline(never)]
    fn yield_in_a_call() {
        corio::yield_now();
    }
    corio::run(move || {
        let partner = corio::spawn(move || {
            for _ in 0..=round_trips {
                yield_in_a_call();
            }
        });
        yield_in_a_call();
        let measured = timed(round_trips, yield_in_a_call);
        partner
            .join()
            .expect("the partner coroutine does not panic");
        measured
    })
}

/// Two corio coroutines bouncing a value over two `corio::sync` channels.
/// Each `recv` on an empty channel parks its coroutine, so a round trip goes
/// through the scheduler loop: A→loop→B→loop→A.
pub fn corio_channel_pingpong(round_trips: u64) -> Measured {
    corio::run(move || {
        let (ping_tx, ping_rx) = corio::sync::channel::<u64>();
        let (pong_tx, pong_rx) = corio::sync::channel::<u64>();
        let partner = corio::spawn(move || {
            while let Ok(value) = ping_rx.recv() {
                pong_tx.send(value).expect("the root waits for every pong");
            }
        });
        let round_trip = || {
            ping_tx
                .send(black_box(1))
                .expect("the partner echoes until ping_tx is dropped");
            black_box(pong_rx.recv().expect("the partner echoes every ping"));
        };
        round_trip();
        let measured = timed(round_trips, round_trip);
        drop(ping_tx);
        partner
            .join()
            .expect("the partner coroutine does not panic");
        measured
    })
}

/// Two OS threads taking turns on one `Mutex<u64>` + `Condvar`: the main thread
/// makes the counter odd, the partner makes it even.
pub fn thread_condvar_pingpong(round_trips: u64) -> Measured {
    let baton = Arc::new((Mutex::new(0u64), Condvar::new()));
    let partner_baton = Arc::clone(&baton);
    let partner = std::thread::spawn(move || {
        let (counter, turn_changed) = &*partner_baton;
        let mut count = counter
            .lock()
            .expect("no thread panics while holding the baton");
        let mut before = ContextSwitches::default();
        for round in 0..=round_trips {
            count = turn_changed
                .wait_while(count, |count| *count % 2 == 0)
                .expect("no thread panics while holding the baton");
            *count += 1;
            turn_changed.notify_one();
            if round == 0 {
                // The untimed warm-up round trip is over.
                before = ContextSwitches::of_this_thread();
            }
        }
        drop(count);
        ContextSwitches::of_this_thread().since(before)
    });
    let (counter, turn_changed) = &*baton;
    let round_trip = || {
        let mut count = counter
            .lock()
            .expect("no thread panics while holding the baton");
        *count += 1;
        turn_changed.notify_one();
        let count = turn_changed
            .wait_while(count, |count| *count % 2 == 1)
            .expect("no thread panics while holding the baton");
        black_box(*count);
    };
    round_trip();
    let mut measured = timed(round_trips, round_trip);
    measured.context_switches =
        measured.context_switches + partner.join().expect("the partner thread does not panic");
    measured
}

/// Two OS threads bouncing a value over two `std::sync::mpsc` channels.
pub fn thread_channel_pingpong(round_trips: u64) -> Measured {
    let (ping_tx, ping_rx) = mpsc::channel::<u64>();
    let (pong_tx, pong_rx) = mpsc::channel::<u64>();
    let partner = std::thread::spawn(move || {
        // The first ping is the untimed warm-up.
        let mut before = None;
        while let Ok(value) = ping_rx.recv() {
            pong_tx
                .send(value)
                .expect("the main thread waits for every pong");
            before.get_or_insert_with(ContextSwitches::of_this_thread);
        }
        ContextSwitches::of_this_thread().since(before.unwrap_or_default())
    });
    let round_trip = || {
        ping_tx
            .send(black_box(1))
            .expect("the partner echoes until ping_tx is dropped");
        black_box(pong_rx.recv().expect("the partner echoes every ping"));
    };
    round_trip();
    let mut measured = timed(round_trips, round_trip);
    drop(ping_tx);
    measured.context_switches =
        measured.context_switches + partner.join().expect("the partner thread does not panic");
    measured
}

/// This process and a child process (this executable re-run as an echo child)
/// bouncing one byte over two pipes. Counts the parent's context switches only.
pub fn process_pipe_pingpong(round_trips: u64) -> Measured {
    let mut child = os::child_command(&[os::CHILD_ECHO])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("re-running this executable as an echo child");
    let mut to_child = child.stdin.take().expect("stdin was piped");
    let mut from_child = child.stdout.take().expect("stdout was piped");
    let mut byte = [0u8; 1];
    let mut round_trip = || {
        to_child
            .write_all(&[black_box(7)])
            .expect("the echo child reads until its stdin closes");
        from_child
            .read_exact(&mut byte)
            .expect("the echo child answers every byte");
        black_box(byte);
    };
    round_trip();
    let measured = timed(round_trips, round_trip);
    drop(to_child);
    let status = child.wait().expect("waiting for the echo child");
    assert!(status.success(), "the echo child failed: {status}");
    measured
}

/// Two tokio tasks alternating with `tokio::task::yield_now` on a
/// current-thread runtime (no I/O or time driver: tokio's lightest setup).
pub fn tokio_yield(round_trips: u64) -> Measured {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("building a tokio current-thread runtime");
    runtime.block_on(async move {
        let partner = tokio::spawn(async move {
            for _ in 0..=round_trips {
                tokio::task::yield_now().await;
            }
        });
        let driver = tokio::spawn(async move {
            tokio::task::yield_now().await;
            let before = ContextSwitches::of_this_thread();
            let start = Instant::now();
            for _ in 0..round_trips {
                tokio::task::yield_now().await;
            }
            let elapsed = start.elapsed();
            Measured {
                elapsed,
                context_switches: ContextSwitches::of_this_thread().since(before),
            }
        });
        let measured = driver.await.expect("the tokio driver task does not panic");
        partner
            .await
            .expect("the tokio partner task does not panic");
        measured
    })
}

/// Configures may for one worker thread, before may's scheduler first starts.
///
/// may reads its configuration once, when the first coroutine is spawned;
/// calling this first thing in `main` (and again here, harmlessly) keeps it
/// from starting with one worker per CPU.
pub fn configure_may() {
    may::config().set_workers(1);
}

/// Two may coroutines alternating with `may::coroutine::yield_now` on one worker.
pub fn may_yield(round_trips: u64) -> Measured {
    configure_may();
    // SAFETY: may's `spawn` is unsafe because a coroutine that touches
    // thread-locals may see another thread's after it migrates, and because a
    // stack overflow is not caught. With one worker nothing migrates, and these
    // bodies use a few hundred bytes of may's default stack.
    let partner = unsafe {
        may::coroutine::spawn(move || {
            for _ in 0..=round_trips {
                may::coroutine::yield_now();
            }
        })
    };
    // SAFETY: as for `partner` above.
    let driver = unsafe {
        may::coroutine::spawn(move || {
            may::coroutine::yield_now();
            let before = ContextSwitches::of_this_thread();
            let start = Instant::now();
            for _ in 0..round_trips {
                may::coroutine::yield_now();
            }
            let elapsed = start.elapsed();
            Measured {
                elapsed,
                context_switches: ContextSwitches::of_this_thread().since(before),
            }
        })
    };
    let measured = driver
        .join()
        .expect("the may driver coroutine does not panic");
    partner
        .join()
        .expect("the may partner coroutine does not panic");
    measured
}
