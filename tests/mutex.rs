//! `corio::sync::{Mutex, Condvar}` against std's: each case is written once
//! against `use` aliases and run on std's threads and on corio's coroutines,
//! and both must give the same answer.

mod util;

use std::time::Duration;

macro_rules! cases {
    ($sync:path, $thread:path) => {
        use std::sync::Arc;
        use $sync as sync;
        use $thread as thread;

        /// Workers that hold the lock across a sleep: no update is lost.
        pub fn counter() -> u32 {
            let counter = Arc::new(sync::Mutex::new(0u32));
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    let counter = counter.clone();
                    thread::spawn(move || {
                        for _ in 0..5 {
                            let mut n = counter.lock().unwrap();
                            let seen = *n;
                            thread::sleep(Duration::from_millis(1));
                            *n = seen + 1;
                        }
                    })
                })
                .collect();
            for w in workers {
                w.join().unwrap();
            }
            let n = *counter.lock().unwrap();
            n
        }

        /// A panic while holding the lock poisons it; the data stays there.
        pub fn poisoning() -> (bool, bool, u32, bool, bool) {
            let m = Arc::new(sync::Mutex::new(1u32));
            let m2 = m.clone();
            let _ = thread::spawn(move || {
                let mut g = m2.lock().unwrap();
                *g = 2;
                panic!("while holding the lock");
            })
            .join();
            let poisoned = m.is_poisoned();
            let err = m.lock().is_err();
            let value = *m.lock().unwrap_or_else(|e| e.into_inner());
            m.clear_poison();
            let cleared = !m.is_poisoned() && m.lock().is_ok();
            let try_held = {
                let _held = m.lock().unwrap();
                matches!(m.try_lock(), Err(std::sync::TryLockError::WouldBlock))
            };
            (poisoned, err, value, cleared, try_held)
        }

        /// A ready flag signalled through a condvar.
        pub fn condvar_signal() -> (bool, bool) {
            let pair = Arc::new((sync::Mutex::new(false), sync::Condvar::new()));
            let p = pair.clone();
            let setter = thread::spawn(move || {
                thread::sleep(Duration::from_millis(5));
                *p.0.lock().unwrap() = true;
                p.1.notify_one();
            });
            let (lock, cvar) = &*pair;
            let ready = *cvar.wait_while(lock.lock().unwrap(), |r| !*r).unwrap();
            setter.join().unwrap();
            let (guard, result) = cvar
                .wait_timeout(lock.lock().unwrap(), Duration::from_millis(5))
                .unwrap();
            drop(guard);
            (ready, result.timed_out())
        }

        /// notify_all wakes every waiter.
        pub fn notify_all() -> usize {
            let state = Arc::new((sync::Mutex::new((0usize, false)), sync::Condvar::new()));
            let waiters: Vec<_> = (0..5)
                .map(|_| {
                    let s = state.clone();
                    thread::spawn(move || {
                        let mut g = s.0.lock().unwrap();
                        g.0 += 1;
                        let g = s.1.wait_while(g, |(_, go)| !*go).unwrap();
                        drop(g);
                    })
                })
                .collect();
            loop {
                let g = state.0.lock().unwrap();
                if g.0 == 5 {
                    break;
                }
                drop(g);
                thread::sleep(Duration::from_millis(1));
            }
            state.0.lock().unwrap().1 = true;
            state.1.notify_all();
            let n = waiters.len();
            for w in waiters {
                w.join().unwrap();
            }
            n
        }
    };
}

mod on_std {
    use super::*;
    cases!(std::sync, std::thread);
}

mod on_corio {
    use super::*;
    cases!(corio::sync, corio::thread);
}

#[test]
fn a_mutex_held_across_a_wait_loses_no_update_as_on_std() {
    assert_eq!(on_std::counter(), 20);
    assert_eq!(corio::run(on_corio::counter), 20);
}

#[test]
fn poisoning_behaves_as_std() {
    let on_std = on_std::poisoning();
    assert_eq!(on_std, (true, true, 2, true, true));
    assert_eq!(corio::run(on_corio::poisoning), on_std);
}

#[test]
fn condvars_behave_as_std() {
    let on_std = on_std::condvar_signal();
    assert_eq!(on_std, (true, true));
    assert_eq!(corio::run(on_corio::condvar_signal), on_std);
    assert_eq!(on_std::notify_all(), 5);
    assert_eq!(corio::run(on_corio::notify_all), 5);
}

#[test]
fn waiters_get_the_lock_in_the_order_they_asked_for_it() {
    use std::rc::Rc;
    let order = corio::run(|| {
        let m = Rc::new(corio::sync::Mutex::new(Vec::new()));
        let held = m.lock().unwrap();
        let waiters: Vec<_> = (0..5)
            .map(|i| {
                let m = m.clone();
                corio::spawn(move || m.lock().unwrap().push(i))
            })
            .collect();
        corio::yield_now(); // all five wait, 0 first
        drop(held);
        waiters.into_iter().for_each(|w| w.join().unwrap());
        m.lock().unwrap().clone()
    });
    assert_eq!(order, [0, 1, 2, 3, 4]);
}

#[test]
fn the_deadlock_report_names_the_task_holding_the_mutex() {
    let payload = std::panic::catch_unwind(|| {
        corio::run(|| {
            let m = std::rc::Rc::new(corio::sync::Mutex::new(()));
            let m2 = m.clone();
            let _held = m.lock().unwrap();
            corio::thread::Builder::new()
                .name("blocked".into())
                .spawn(move || drop(m2.lock()))
                .unwrap()
                .join()
                .unwrap();
        })
    })
    .unwrap_err();
    let text = util::panic_text(&*payload);
    assert!(
        text.contains("'blocked': locking a Mutex held by task 1"),
        "{text}"
    );
}

macro_rules! barrier_case {
    ($sync:path, $thread:path) => {
        /// Two rounds of 4 at a barrier: nobody passes before all arrive,
        /// one leader per round.
        pub fn barrier_rounds() -> (usize, bool) {
            use std::sync::Arc;
            use $sync as sync;
            use $thread as thread;
            let barrier = Arc::new(sync::Barrier::new(4));
            let arrived = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    let (barrier, arrived) = (barrier.clone(), arrived.clone());
                    thread::spawn(move || {
                        let mut leaders = 0;
                        let mut all_arrived = true;
                        for round in 1..=2 {
                            arrived.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            thread::sleep(Duration::from_millis(1));
                            if barrier.wait().is_leader() {
                                leaders += 1;
                            }
                            all_arrived &=
                                arrived.load(std::sync::atomic::Ordering::SeqCst) >= 4 * round;
                            barrier.wait();
                        }
                        (leaders, all_arrived)
                    })
                })
                .collect();
            let results: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
            (
                results.iter().map(|r| r.0).sum(),
                results.iter().all(|r| r.1),
            )
        }
    };
}

mod barrier_on_std {
    use super::*;
    barrier_case!(std::sync, std::thread);
}

mod barrier_on_corio {
    #![allow(clippy::arc_with_non_send_sync)]
    use super::*;
    barrier_case!(corio::sync, corio::thread);
}

#[test]
fn barriers_behave_as_std() {
    let on_std = barrier_on_std::barrier_rounds();
    assert_eq!(on_std, (2, true));
    assert_eq!(corio::run(barrier_on_corio::barrier_rounds), on_std);
}

#[test]
fn a_semaphore_bounds_concurrency_and_serves_waiters_in_order() {
    use std::cell::{Cell, RefCell};
    use std::rc::Rc;
    let (most, order, newcomer_refused) = corio::run(|| {
        let slots = Rc::new(corio::sync::Semaphore::new(2));
        let (now, most) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
        let order = Rc::new(RefCell::new(Vec::new()));
        let workers: Vec<_> = (0..6)
            .map(|i| {
                let (slots, now, most, order) =
                    (slots.clone(), now.clone(), most.clone(), order.clone());
                corio::spawn(move || {
                    let _permit = slots.acquire();
                    order.borrow_mut().push(i);
                    now.set(now.get() + 1);
                    most.set(most.get().max(now.get()));
                    corio::sleep(Duration::from_millis(1));
                    now.set(now.get() - 1);
                })
            })
            .collect();
        corio::yield_now(); // 0 and 1 hold permits, 2..6 wait in order
        let newcomer_refused = slots.try_acquire().is_none();
        workers.into_iter().for_each(|w| w.join().unwrap());
        (most.get(), order.take(), newcomer_refused)
    });
    assert_eq!(most, 2);
    assert_eq!(order, [0, 1, 2, 3, 4, 5]);
    assert!(newcomer_refused);
}

macro_rules! rwlock_case {
    ($sync:path, $thread:path) => {
        /// Readers share the lock (several at once), writers exclude them
        /// and each other; a panicking writer poisons it.
        pub fn rwlock() -> (bool, u32, bool, bool) {
            use std::sync::Arc;
            use std::sync::atomic::{AtomicUsize, Ordering};
            use $sync as sync;
            use $thread as thread;
            let lock = Arc::new(sync::RwLock::new(0u32));
            let (inside, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
            // Each reader stays until a second one has been inside with it,
            // which a lock that shut readers out would never allow (then
            // the hang guard ends the wait). Not a sleep that the others
            // must overlap: on a busy machine they may start too late.
            let hang_guard = std::time::Instant::now() + Duration::from_secs(10);
            let readers: Vec<_> = (0..4)
                .map(|_| {
                    let (lock, inside, most) = (lock.clone(), inside.clone(), most.clone());
                    thread::spawn(move || {
                        let _r = lock.read().unwrap();
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        while most.load(Ordering::SeqCst) < 2
                            && std::time::Instant::now() < hang_guard
                        {
                            thread::sleep(Duration::from_millis(1));
                        }
                        inside.fetch_sub(1, Ordering::SeqCst);
                    })
                })
                .collect();
            for r in readers {
                r.join().unwrap();
            }
            let writers: Vec<_> = (0..4)
                .map(|_| {
                    let lock = lock.clone();
                    thread::spawn(move || {
                        for _ in 0..5 {
                            let mut w = lock.write().unwrap();
                            let seen = *w;
                            thread::sleep(Duration::from_millis(1));
                            *w = seen + 1;
                        }
                    })
                })
                .collect();
            for w in writers {
                w.join().unwrap();
            }
            let total = *lock.read().unwrap();
            let l = lock.clone();
            let _ = thread::spawn(move || {
                let _w = l.write().unwrap();
                panic!("writer fails");
            })
            .join();
            (
                most.load(Ordering::SeqCst) > 1,
                total,
                lock.is_poisoned(),
                lock.read().is_err(),
            )
        }
    };
}

mod rwlock_on_std {
    use super::*;
    rwlock_case!(std::sync, std::thread);
}

mod rwlock_on_corio {
    #![allow(clippy::arc_with_non_send_sync)]
    use super::*;
    rwlock_case!(corio::sync, corio::thread);
}

#[test]
fn rwlocks_behave_as_std() {
    let on_std = rwlock_on_std::rwlock();
    assert_eq!(on_std, (true, 20, true, true));
    assert_eq!(corio::run(rwlock_on_corio::rwlock), on_std);
}
