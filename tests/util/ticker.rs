//! A 1 ms ticker coroutine and the gate that pairs with it, for the tests
//! of calls that must suspend only their caller (included with
//! `#[path = "util/ticker.rs"] mod ticker;`).
//!
//! Counted, not timed: the other side of the call under test (a FIFO's
//! writer, a shell, a child's stdin) is released by [`gate`] only once the
//! ticker has ticked [`TICKS`] more times since the call began, and at
//! least [`HOLD`] later. A call that blocked the runtime's thread would
//! stop the ticker, the gate would give up at its hang guard, and the
//! ticks counted across the call would fall short. A busy machine only
//! makes the test take longer.

#![allow(dead_code)] // Each test file uses a part.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Ticks the ticker must make while the call under test waits.
pub const TICKS: u32 = 10;

/// How long the other side holds back at least (the Bar's 300 ms).
pub const HOLD: Duration = Duration::from_millis(300);

/// How long the gate waits for ticks before it gives up and lets the test
/// fail on its count instead of hanging.
pub const HANG_GUARD: Duration = Duration::from_secs(30);

/// A coroutine that sleeps 1 ms and counts, until stopped.
pub struct Ticker {
    /// Ticks so far, readable from any thread.
    pub ticks: Arc<AtomicU32>,
    /// Set to stop the ticker.
    stop: Rc<Cell<bool>>,
    /// The ticker coroutine.
    handle: corio::JoinHandle<()>,
}

impl Ticker {
    /// Starts ticking on the current runtime.
    pub fn start() -> Ticker {
        let ticks = Arc::new(AtomicU32::new(0));
        let stop = Rc::new(Cell::new(false));
        let (count, stopped) = (Arc::clone(&ticks), Rc::clone(&stop));
        let handle = corio::spawn(move || {
            while !stopped.get() {
                corio::sleep(Duration::from_millis(1));
                count.fetch_add(1, Ordering::SeqCst);
            }
        });
        Ticker {
            ticks,
            stop,
            handle,
        }
    }

    /// Ticks so far.
    pub fn now(&self) -> u32 {
        self.ticks.load(Ordering::SeqCst)
    }

    /// Stops the ticker and waits for it.
    pub fn stop(self) {
        self.stop.set(true);
        self.handle.join().unwrap();
    }
}

/// Blocks a std thread until `ticks` has reached `from + TICKS` and
/// [`HOLD`] has passed, or until the hang guard; returns whether the ticks
/// came.
pub fn gate(ticks: &AtomicU32, from: u32) -> bool {
    let start = Instant::now();
    loop {
        let ticked = ticks.load(Ordering::SeqCst) >= from + TICKS;
        if ticked && start.elapsed() >= HOLD {
            return true;
        }
        if start.elapsed() >= HANG_GUARD {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Suspends the calling coroutine (1 ms sleeps) until `ticks` has reached
/// `from + TICKS`: the coroutine-side [`gate`], for another side that runs
/// in the same runtime. No hang guard: were the runtime's thread blocked,
/// this coroutine would not run either.
pub fn wait_for_ticks(ticks: &AtomicU32, from: u32) {
    while ticks.load(Ordering::SeqCst) < from + TICKS {
        corio::sleep(Duration::from_millis(1));
    }
}

/// Asserts that at least [`TICKS`] ticks happened while `what` waited.
pub fn assert_ticked(what: &str, before: u32, after: u32) {
    assert!(
        after - before >= TICKS,
        "{what} blocked the runtime: the 1 ms ticker ticked {} times while it waited \
         (at least {TICKS} expected; the other side waits for them)",
        after - before
    );
}
