//! Memory per parked unit: resident-set (and page-table) growth while `units`
//! coroutines or threads sit blocked in a channel `recv`, divided by `units`.
//!
//! Each unit gets its own channel, so waking them is one `send` each. The RSS
//! figure includes everything a unit makes resident: the touched pages of its
//! stack, its task or thread bookkeeping, its channel and its handle. It does
//! not include kernel memory; page tables are reported beside it, kernel
//! stacks and `task_struct`s are not visible per process at all.

use std::sync::{Arc, Barrier, mpsc};
use std::time::Duration;

use crate::os;

/// Growth per parked unit, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct ParkedCost {
    /// Resident set size (`VmRSS`): user-space pages touched.
    pub resident: f64,
    /// Page tables (`VmPTE`): kernel memory mapping those pages.
    pub page_tables: f64,
}

/// Readings taken before the units exist and once they are all parked.
struct Snapshot {
    resident: u64,
    page_tables: u64,
}

impl Snapshot {
    fn now() -> Self {
        Self {
            resident: os::resident_bytes(),
            page_tables: os::page_table_bytes(),
        }
    }

    fn cost_per_unit_since(&self, before: &Snapshot, units: usize) -> ParkedCost {
        let per_unit = |after: u64, before: u64| after.saturating_sub(before) as f64 / units as f64;
        ParkedCost {
            resident: per_unit(self.resident, before.resident),
            page_tables: per_unit(self.page_tables, before.page_tables),
        }
    }
}

/// Growth per coroutine parked on a `corio::sync` channel, with the
/// runtime's default stack size.
pub fn corio_parked(units: usize) -> ParkedCost {
    corio::run(move || {
        let mut wakers = Vec::with_capacity(units);
        let mut parked = Vec::with_capacity(units);
        let before = Snapshot::now();
        for _ in 0..units {
            let (waker, wake_up) = corio::sync::channel::<()>();
            parked.push(corio::spawn(move || {
                wake_up
                    .recv()
                    .expect("the root sends before it drops the sender");
            }));
            wakers.push(waker);
        }
        // FIFO: every coroutine queued ahead of the root runs up to its `recv`
        // and parks before the root continues.
        corio::yield_now();
        let after = Snapshot::now();
        for waker in &wakers {
            waker.send(()).expect("every coroutine receives once");
        }
        for coroutine in parked {
            coroutine.join().expect("a parked coroutine does not panic");
        }
        after.cost_per_unit_since(&before, units)
    })
}

/// Growth per OS thread parked on a `std::sync::mpsc` channel, with std's
/// default thread stack size.
pub fn thread_parked(units: usize) -> ParkedCost {
    let all_started = Arc::new(Barrier::new(units + 1));
    let mut wakers = Vec::with_capacity(units);
    let mut threads = Vec::with_capacity(units);
    let before = Snapshot::now();
    for _ in 0..units {
        let (waker, wake_up) = mpsc::channel::<()>();
        let all_started = Arc::clone(&all_started);
        threads.push(std::thread::spawn(move || {
            all_started.wait();
            wake_up
                .recv()
                .expect("main sends before it drops the sender");
        }));
        wakers.push(waker);
    }
    all_started.wait();
    // Every thread is past the barrier; give the last ones time to reach `recv`
    // and block in the kernel (the few stack bytes it touches are included).
    std::thread::sleep(Duration::from_millis(20));
    let after = Snapshot::now();
    for waker in &wakers {
        waker.send(()).expect("every thread receives once");
    }
    for thread in threads {
        thread.join().expect("a parked thread does not panic");
    }
    after.cost_per_unit_since(&before, units)
}
