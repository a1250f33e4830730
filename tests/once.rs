//! `corio::sync::{Once, OnceLock}` against std's: the same body on std's
//! threads and on corio's coroutines, the same answers.

use std::time::Duration;

macro_rules! cases {
    ($sync:path, $thread:path) => {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use $sync as sync;
        use $thread as thread;

        /// Several callers, one run; the others wait for it to finish.
        pub fn once_runs_once() -> (usize, bool) {
            let once = Arc::new(sync::Once::new());
            let runs = Arc::new(AtomicUsize::new(0));
            let callers: Vec<_> = (0..4)
                .map(|_| {
                    let (once, runs) = (once.clone(), runs.clone());
                    thread::spawn(move || {
                        once.call_once(|| {
                            thread::sleep(Duration::from_millis(5));
                            runs.fetch_add(1, Ordering::SeqCst);
                        });
                        // Whoever returns sees the run finished.
                        runs.load(Ordering::SeqCst) == 1
                    })
                })
                .collect();
            let all_saw_it: bool = callers.into_iter().all(|c| c.join().unwrap());
            (
                runs.load(Ordering::SeqCst),
                all_saw_it && once.is_completed(),
            )
        }

        /// A panicking closure poisons a Once; call_once_force sees it.
        pub fn once_poisoning() -> (bool, bool, bool, bool) {
            let once = Arc::new(sync::Once::new());
            let o = once.clone();
            let first = thread::spawn(move || o.call_once(|| panic!("init failed"))).join();
            let o = once.clone();
            let again = thread::spawn(move || o.call_once(|| ())).join();
            let mut saw_poison = false;
            once.call_once_force(|state| saw_poison = state.is_poisoned());
            (
                first.is_err(),
                again.is_err(),
                saw_poison,
                once.is_completed(),
            )
        }

        /// OnceLock: set, get, get_or_init once, a panicking init retried.
        pub fn once_lock() -> (Option<u32>, Result<(), u32>, u32, usize, Option<u32>) {
            let cell = sync::OnceLock::new();
            let before = cell.get().copied();
            let set = cell.set(5u32);
            let set_again = cell.set(6).err().unwrap_or(0);
            let lazy = Arc::new(sync::OnceLock::new());
            let inits = Arc::new(AtomicUsize::new(0));
            let readers: Vec<_> = (0..3)
                .map(|_| {
                    let (lazy, inits) = (lazy.clone(), inits.clone());
                    thread::spawn(move || {
                        *lazy.get_or_init(|| {
                            thread::sleep(Duration::from_millis(5));
                            inits.fetch_add(1, Ordering::SeqCst);
                            9u32
                        })
                    })
                })
                .collect();
            for r in readers {
                assert_eq!(r.join().unwrap(), 9);
            }
            let retried = Arc::new(sync::OnceLock::new());
            let r = retried.clone();
            let _ = thread::spawn(move || {
                r.get_or_init(|| -> u32 { panic!("first try fails") });
            })
            .join();
            let second = *retried.get_or_init(|| 11);
            (
                before,
                set,
                set_again,
                inits.load(Ordering::SeqCst),
                Some(second),
            )
        }
    };
}

mod on_std {
    use super::*;
    cases!(std::sync, std::thread);
}

mod on_corio {
    #![allow(clippy::arc_with_non_send_sync)]
    use super::*;
    cases!(corio::sync, corio::thread);
}

#[test]
fn once_behaves_as_std() {
    let on_std = on_std::once_runs_once();
    assert_eq!(on_std, (1, true));
    assert_eq!(corio::run(on_corio::once_runs_once), on_std);
    let on_std = on_std::once_poisoning();
    assert_eq!(on_std, (true, true, true, true));
    assert_eq!(corio::run(on_corio::once_poisoning), on_std);
}

#[test]
fn once_lock_behaves_as_std() {
    let on_std = on_std::once_lock();
    assert_eq!(on_std, (None, Ok(()), 6, 1, Some(11)));
    assert_eq!(corio::run(on_corio::once_lock), on_std);
}
