//! `JoinHandle::cancel`: the task unwinds at its next suspension point,
//! running its destructors, leaves whatever it waited in, and its join
//! gives `Err` with a `Cancelled` payload; nothing is printed.

mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use corio::JoinHandle;
use corio::sync::{Mutex, mpsc};
use corio::thread::Cancelled;

/// Counts its drops into a shared cell: proof that a destructor ran.
struct Dropped(Rc<Cell<u32>>);

impl Drop for Dropped {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

fn is_cancelled<T: std::fmt::Debug>(result: std::thread::Result<T>) -> bool {
    match result {
        Ok(value) => panic!("expected a cancellation, got Ok({value:?})"),
        Err(payload) => payload.downcast_ref::<Cancelled>().is_some(),
    }
}

#[test]
fn a_sleeping_task_unwinds_at_once_and_runs_its_destructors() {
    corio::run(|| {
        let drops = Rc::new(Cell::new(0));
        let after = Rc::new(Cell::new(false));
        let sleeper = {
            let guard = Dropped(Rc::clone(&drops));
            let after = Rc::clone(&after);
            corio::spawn(move || {
                let _guard = guard;
                corio::thread::sleep(Duration::from_secs(3600));
                after.set(true);
            })
        };
        corio::yield_now(); // it starts and sleeps
        assert!(!sleeper.is_finished());
        sleeper.cancel();
        assert!(
            sleeper.is_finished(),
            "a waiting task unwinds before cancel returns"
        );
        assert_eq!(drops.get(), 1);
        assert!(!after.get(), "nothing after the suspension point ran");
        assert!(is_cancelled(sleeper.join()));
    });
}

#[test]
fn a_cancelled_receiver_leaves_the_queue_of_waiters() {
    corio::run(|| {
        let (tx, rx) = mpsc::channel::<u32>();
        let rx = Rc::new(rx);
        let first = {
            let rx = Rc::clone(&rx);
            corio::spawn(move || rx.recv().unwrap())
        };
        let second = {
            let rx = Rc::clone(&rx);
            corio::spawn(move || rx.recv().unwrap())
        };
        corio::yield_now(); // both wait, `first` first in the queue
        first.cancel();
        tx.send(7).unwrap();
        // The message goes to `second`, not to the cancelled waiter.
        assert_eq!(second.join().unwrap(), 7);
        assert!(is_cancelled(first.join()));
    });
}

#[test]
fn a_task_that_never_ran_has_its_closure_dropped() {
    corio::run(|| {
        let drops = Rc::new(Cell::new(0));
        let ran = Rc::new(Cell::new(false));
        let task = {
            let guard = Dropped(Rc::clone(&drops));
            let ran = Rc::clone(&ran);
            corio::spawn(move || {
                let _guard = guard;
                ran.set(true);
            })
        };
        task.cancel(); // still queued, never started
        assert!(task.is_finished());
        assert_eq!(drops.get(), 1);
        assert!(!ran.get());
        assert!(is_cancelled(task.join()));
        assert_eq!(
            corio::stats().spawned,
            corio::stats().completed + 1,
            "only the root is live"
        );
    });
}

#[test]
fn a_queued_task_unwinds_at_its_yield() {
    corio::run(|| {
        let yields = Rc::new(Cell::new(0u32));
        let spinner = {
            let yields = Rc::clone(&yields);
            corio::spawn(move || {
                loop {
                    corio::yield_now();
                    yields.set(yields.get() + 1);
                }
            })
        };
        for _ in 0..5 {
            corio::yield_now();
        }
        spinner.cancel();
        let seen = yields.get();
        for _ in 0..5 {
            corio::yield_now();
        }
        assert_eq!(yields.get(), seen, "the cancelled task never ran again");
        assert!(is_cancelled(spinner.join()));
    });
}

#[test]
fn a_task_can_cancel_itself() {
    corio::run(|| {
        let me: Rc<RefCell<Option<JoinHandle<()>>>> = Rc::default();
        let after = Rc::new(Cell::new(false));
        let task = {
            let me = Rc::clone(&me);
            let after = Rc::clone(&after);
            corio::spawn(move || {
                corio::yield_now(); // the handle is stored meanwhile
                me.borrow().as_ref().expect("the handle").cancel();
                after.set(true);
            })
        };
        *me.borrow_mut() = Some(task);
        while !me.borrow().as_ref().unwrap().is_finished() {
            corio::yield_now();
        }
        assert!(!after.get());
        let task = me.borrow_mut().take().unwrap();
        assert!(is_cancelled(task.join()));
    });
}

#[test]
fn cancelling_a_finished_task_keeps_its_result() {
    corio::run(|| {
        let task = corio::spawn(|| 42);
        corio::yield_now();
        assert!(task.is_finished());
        task.cancel();
        assert_eq!(task.join().unwrap(), 42);
    });
}

#[test]
fn a_lock_held_by_a_cancelled_task_is_released_and_poisoned() {
    corio::run(|| {
        let lock = Rc::new(Mutex::new(0));
        let holder = {
            let lock = Rc::clone(&lock);
            corio::spawn(move || {
                let mut n = lock.lock().unwrap();
                *n += 1;
                corio::thread::sleep(Duration::from_secs(3600));
            })
        };
        corio::yield_now(); // it holds the lock and sleeps
        let waiter = {
            let lock = Rc::clone(&lock);
            corio::spawn(move || match lock.lock() {
                Ok(n) => (*n, false),
                Err(poisoned) => (*poisoned.into_inner(), true),
            })
        };
        corio::yield_now(); // the waiter queues on the lock
        holder.cancel();
        assert_eq!(
            waiter.join().unwrap(),
            (1, true),
            "released, poisoned, value kept"
        );
        assert!(lock.is_poisoned());
        assert!(is_cancelled(holder.join()));
    });
}

#[test]
fn a_task_waiting_for_a_blocking_job_unwinds_while_the_job_finishes_detached() {
    corio::run(|| {
        let job_done = Arc::new(AtomicBool::new(false));
        let waiter = {
            let job_done = Arc::clone(&job_done);
            corio::spawn(move || {
                corio::spawn_blocking(move || {
                    std::thread::sleep(Duration::from_millis(100));
                    job_done.store(true, Ordering::SeqCst);
                    7
                })
                .unwrap()
            })
        };
        corio::yield_now(); // it waits for the job
        waiter.cancel();
        assert!(waiter.is_finished());
        assert!(is_cancelled(waiter.join()));
        assert!(!job_done.load(Ordering::SeqCst), "the job still runs");
        // The job ends on its own, and its wake-up finds nobody: no harm.
        for _ in 0..10_000 {
            if job_done.load(Ordering::SeqCst) {
                break;
            }
            corio::thread::sleep(Duration::from_millis(1));
        }
        assert!(job_done.load(Ordering::SeqCst));
        corio::thread::sleep(Duration::from_millis(5));
    });
}

#[test]
fn a_waiting_host_cancelled_by_a_task_it_runs_unwinds_when_the_run_ends() {
    corio::run(|| {
        let host_handle: Rc<RefCell<Option<JoinHandle<()>>>> = Rc::default();
        let after_join = Rc::new(Cell::new(false));
        let host = {
            let host_handle = Rc::clone(&host_handle);
            let after_join = Rc::clone(&after_join);
            corio::spawn(move || {
                // Joining, this task runs the child in place (it hosts).
                let child = corio::spawn(move || {
                    host_handle
                        .borrow()
                        .as_ref()
                        .expect("the host's handle")
                        .cancel();
                    corio::yield_now();
                });
                let _ = child.join();
                after_join.set(true);
            })
        };
        *host_handle.borrow_mut() = Some(host);
        loop {
            let done = host_handle.borrow().as_ref().unwrap().is_finished();
            if done {
                break;
            }
            corio::yield_now();
        }
        assert!(!after_join.get(), "the host's join never returned to it");
        let host = host_handle.borrow_mut().take().unwrap();
        assert!(is_cancelled(host.join()));
    });
}

#[test]
fn a_yielding_host_cancelled_by_a_task_it_runs_unwinds_before_its_yield_returns() {
    corio::run(|| {
        let handle: Rc<RefCell<Option<JoinHandle<()>>>> = Rc::default();
        let after_yield = Rc::new(Cell::new(false));
        // The root sleeps (parks), so the scheduler's loop resumes `a`;
        // `a` yields and runs `b` in place (it hosts), and `b` cancels `a`.
        let a = {
            let after_yield = Rc::clone(&after_yield);
            corio::spawn(move || {
                corio::yield_now();
                after_yield.set(true);
            })
        };
        *handle.borrow_mut() = Some(a);
        let b = {
            let handle = Rc::clone(&handle);
            corio::spawn(move || handle.borrow().as_ref().unwrap().cancel())
        };
        corio::thread::sleep(Duration::from_millis(20));
        let a = handle.borrow_mut().take().unwrap();
        assert!(a.is_finished());
        assert!(!after_yield.get(), "the yield never returned to it");
        assert!(is_cancelled(a.join()));
        b.join().unwrap();
    });
}

#[test]
fn a_task_cancelled_after_block_on_returned_unwinds_outside_the_runtime() {
    let drops = Rc::new(Cell::new(0));
    let mut rt = corio::Runtime::new().unwrap();
    let sleeper = {
        let guard = Dropped(Rc::clone(&drops));
        rt.block_on(move || {
            let sleeper = corio::spawn(move || {
                let _guard = guard;
                corio::thread::sleep(Duration::from_secs(3600));
            });
            corio::yield_now();
            sleeper
        })
    };
    assert_eq!(drops.get(), 0);
    sleeper.cancel();
    assert_eq!(drops.get(), 1);
    assert!(is_cancelled(sleeper.join()));
    drop(rt);
}

#[test]
fn a_cancellation_prints_nothing() {
    if util::is_child("a_cancellation_prints_nothing") {
        corio::run(|| {
            let sleeper = corio::spawn(|| corio::thread::sleep(Duration::from_secs(3600)));
            let spinner = corio::spawn(|| {
                loop {
                    corio::yield_now();
                }
            });
            corio::yield_now();
            sleeper.cancel();
            spinner.cancel();
            let _ = (sleeper.join(), spinner.join());
        });
        return;
    }
    let (_, stderr) = util::run_child_ok("a_cancellation_prints_nothing", &[]);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("corio:"), "{stderr}");
}
