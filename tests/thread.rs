//! `corio::thread` against `std::thread`: each case is written once against
//! a `thread` alias and run on std's threads and on corio's coroutines, and
//! both must give the same answer.

mod util;

use std::time::{Duration, Instant};

macro_rules! cases {
    ($thread:path) => {
        use $thread as thread;

        /// Names, ids and results through a `Builder`.
        pub fn builder_names_and_ids() -> (Option<String>, bool, u32, Option<String>) {
            let h = thread::Builder::new()
                .name("worker".into())
                .stack_size(256 * 1024)
                .spawn(|| {
                    let me = thread::current();
                    (me.name().map(str::to_owned), me.id())
                })
                .unwrap();
            let outside = h.thread().name().map(str::to_owned);
            let outside_id = h.thread().id();
            let (inside, inside_id) = h.join().unwrap();
            let unnamed = thread::spawn(|| 7u32);
            let unnamed_name = unnamed.thread().name().map(str::to_owned);
            (
                inside.filter(|n| Some(n) == outside.as_ref()),
                inside_id == outside_id,
                unnamed.join().unwrap(),
                unnamed_name,
            )
        }

        /// An unpark before the park is kept; several make one token.
        pub fn unpark_before_park_is_kept() -> bool {
            let me = thread::current();
            me.unpark();
            me.unpark();
            thread::park(); // takes the one token
            let start = Instant::now();
            thread::park_timeout(Duration::from_millis(20)); // none left
            start.elapsed() >= Duration::from_millis(20)
        }

        /// A parked thread is woken by another's unpark.
        pub fn unpark_wakes_a_parked_thread() -> u32 {
            let flag = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
            let f = flag.clone();
            let parked = thread::spawn(move || {
                while f.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                    thread::park();
                }
                f.load(std::sync::atomic::Ordering::SeqCst)
            });
            thread::sleep(Duration::from_millis(10));
            flag.store(42, std::sync::atomic::Ordering::SeqCst);
            parked.thread().unpark();
            parked.join().unwrap()
        }

        /// `ThreadId`s: `Copy`, `Eq`, `Hash` and `Debug`, one per thread,
        /// the same through `current()` and the handle; and
        /// `available_parallelism` at least one.
        pub fn thread_ids_and_parallelism() -> (usize, bool, bool, bool) {
            use std::collections::HashSet;
            let handles: Vec<_> = (0..4)
                .map(|_| thread::spawn(|| thread::current().id()))
                .collect();
            let mut ids: HashSet<thread::ThreadId> = HashSet::new();
            let mut same = true;
            for h in handles {
                let outside: thread::ThreadId = h.thread().id();
                let inside = h.join().unwrap();
                same &= inside == outside;
                ids.insert(inside);
            }
            let me = thread::current().id();
            let copied = me;
            let mine_apart = !ids.contains(&me) && copied == me && !format!("{me:?}").is_empty();
            let cpus = thread::available_parallelism()
                .map(|n| n.get() >= 1)
                .unwrap_or(false);
            (ids.len(), same, mine_apart, cpus)
        }

        /// Panics come back from `join`; `is_finished` follows the end.
        pub fn panics_and_is_finished() -> (String, bool) {
            let h = thread::spawn(|| -> () { panic!("worker failed") });
            while !h.is_finished() {
                thread::yield_now();
                thread::sleep(Duration::from_millis(1));
            }
            let payload = h.join().unwrap_err();
            let text = payload.downcast_ref::<&str>().copied().unwrap_or_default();
            (text.to_string(), true)
        }
    };
}

mod on_std {
    use super::*;
    cases!(std::thread);
}

mod on_corio {
    use super::*;
    cases!(corio::thread);
}

#[test]
fn builder_names_and_ids_behave_as_std() {
    let on_std = on_std::builder_names_and_ids();
    assert_eq!(on_std, (Some("worker".into()), true, 7, None));
    assert_eq!(corio::run(on_corio::builder_names_and_ids), on_std);
}

#[test]
fn thread_ids_and_available_parallelism_behave_as_std() {
    let on_std = on_std::thread_ids_and_parallelism();
    assert_eq!(on_std, (4, true, true, true));
    assert_eq!(corio::run(on_corio::thread_ids_and_parallelism), on_std);
}

#[test]
fn thread_ids_of_two_runtimes_differ_and_name_their_task() {
    let (a, a_task) = corio::run(|| (corio::thread::current().id(), corio::task::current_id()));
    let (b, b_task) = corio::run(|| (corio::thread::current().id(), corio::task::current_id()));
    assert_ne!(a, b, "two runtimes' root coroutines share a ThreadId");
    assert_eq!((a.task_id(), b.task_id()), (a_task, b_task));
    assert_eq!(corio::TaskId::from(a), a_task);
}

#[test]
fn park_tokens_behave_as_std() {
    assert!(on_std::unpark_before_park_is_kept());
    assert!(corio::run(on_corio::unpark_before_park_is_kept));
    assert_eq!(on_std::unpark_wakes_a_parked_thread(), 42);
    assert_eq!(corio::run(on_corio::unpark_wakes_a_parked_thread), 42);
}

#[test]
fn panics_and_is_finished_behave_as_std() {
    let on_std = on_std::panics_and_is_finished();
    assert_eq!(on_std, ("worker failed".into(), true));
    assert_eq!(corio::run(on_corio::panics_and_is_finished), on_std);
}

#[test]
fn a_coroutine_parked_forever_is_named_in_the_deadlock_report() {
    let payload = std::panic::catch_unwind(|| {
        corio::run(|| {
            corio::thread::Builder::new()
                .name("sleepy".into())
                .spawn(corio::thread::park)
                .unwrap()
                .join()
                .unwrap()
        })
    })
    .unwrap_err();
    let text = util::panic_text(&*payload);
    assert!(text.contains("'sleepy': parked (thread::park)"), "{text}");
}

#[test]
fn current_names_the_coroutine_a_dropped_runtime_unwinds() {
    struct Who(std::rc::Rc<std::cell::RefCell<Option<String>>>);
    impl Drop for Who {
        fn drop(&mut self) {
            *self.0.borrow_mut() = corio::thread::current().name().map(str::to_owned);
        }
    }
    let seen = std::rc::Rc::new(std::cell::RefCell::new(None));
    let mut rt = corio::Runtime::new().unwrap();
    let s = seen.clone();
    rt.block_on(move || {
        corio::thread::Builder::new()
            .name("unwound".into())
            .spawn(move || {
                let _who = Who(s);
                corio::thread::park(); // never unparked
            })
            .unwrap();
        corio::yield_now();
    });
    drop(rt);
    assert_eq!(seen.borrow().as_deref(), Some("unwound"));
}
