//! `corio::thread::scope` against `std::thread::scope` (each case written
//! once against a `thread` alias, run on both), and what std has no
//! counterpart for: a scope whose coroutine is unwound while its children
//! still borrow from it, and a root closure that borrows from `block_on`'s
//! caller.

mod util;

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

macro_rules! cases {
    ($thread:path) => {
        use std::sync::Mutex as StdMutex;
        use $thread as thread;

        /// Children borrow the caller's data, mutably too; all have ended
        /// when `scope` returns, joined or not.
        pub fn children_borrow_and_all_end_before_scope_returns() -> (Vec<u32>, u32, usize) {
            let mut squares = vec![0u32; 8];
            let mut total = 0u32;
            let seen = StdMutex::new(0usize);
            let from_scope = thread::scope(|s| {
                for (i, slot) in squares.iter_mut().enumerate() {
                    let seen = &seen;
                    s.spawn(move || {
                        thread::sleep(Duration::from_millis(1 + (i as u64 % 3)));
                        *slot = (i * i) as u32;
                        *seen.lock().unwrap() += 1;
                    });
                }
                let h = s.spawn(|| {
                    thread::yield_now();
                    total = 100;
                    7u32
                });
                h.join().unwrap()
            });
            (squares, total + from_scope, seen.into_inner().unwrap())
        }

        /// A child may spawn more children on the same scope.
        pub fn a_child_spawns_on_the_same_scope() -> usize {
            let count = StdMutex::new(0usize);
            thread::scope(|s| {
                s.spawn(|| {
                    for _ in 0..3 {
                        s.spawn(|| {
                            thread::sleep(Duration::from_millis(2));
                            *count.lock().unwrap() += 1;
                        });
                    }
                });
            });
            count.into_inner().unwrap()
        }

        /// An unjoined child's panic makes `scope` panic once all ended; a
        /// joined one's does not.
        pub fn panics() -> (bool, bool, usize) {
            let ended = StdMutex::new(0usize);
            let unjoined = panic::catch_unwind(AssertUnwindSafe(|| {
                thread::scope(|s| {
                    s.spawn(|| panic!("child panics"));
                    s.spawn(|| {
                        thread::sleep(Duration::from_millis(5));
                        *ended.lock().unwrap() += 1;
                    });
                })
            }))
            .is_err();
            let joined = panic::catch_unwind(AssertUnwindSafe(|| {
                thread::scope(|s| {
                    let h = s.spawn(|| panic!("child panics, joined"));
                    assert!(h.join().is_err());
                })
            }))
            .is_err();
            (unjoined, joined, ended.into_inner().unwrap())
        }

        /// `f` panicking: the children still end first, then the panic goes
        /// on with `f`'s payload.
        pub fn a_panic_in_f_waits_for_the_children() -> (String, usize) {
            let ended = StdMutex::new(0usize);
            let payload = panic::catch_unwind(AssertUnwindSafe(|| {
                thread::scope(|s| {
                    for _ in 0..3 {
                        s.spawn(|| {
                            thread::sleep(Duration::from_millis(3));
                            *ended.lock().unwrap() += 1;
                        });
                    }
                    panic!("f fails");
                })
            }))
            .unwrap_err();
            (util::panic_text(&*payload), ended.into_inner().unwrap())
        }

        /// Names and sizes through `Builder::spawn_scoped`, and `is_finished`.
        pub fn builder_spawn_scoped() -> (Option<String>, u64, bool) {
            let data = [1u64, 2, 3];
            thread::scope(|s| {
                let h = thread::Builder::new()
                    .name("scoped".into())
                    .stack_size(128 * 1024)
                    .spawn_scoped(s, || data.iter().sum::<u64>())
                    .unwrap();
                let name = h.thread().name().map(str::to_owned);
                while !h.is_finished() {
                    thread::sleep(Duration::from_millis(1));
                }
                (name, h.join().unwrap(), true)
            })
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
fn borrowing_children_behave_as_std() {
    let on_std = on_std::children_borrow_and_all_end_before_scope_returns();
    assert_eq!(on_std.0, [0, 1, 4, 9, 16, 25, 36, 49]);
    assert_eq!(on_std.1, 107);
    assert_eq!(on_std.2, 8);
    assert_eq!(
        corio::run(on_corio::children_borrow_and_all_end_before_scope_returns),
        on_std
    );
}

#[test]
fn nested_spawns_behave_as_std() {
    assert_eq!(on_std::a_child_spawns_on_the_same_scope(), 3);
    assert_eq!(corio::run(on_corio::a_child_spawns_on_the_same_scope), 3);
}

#[test]
fn panics_behave_as_std() {
    let on_std = on_std::panics();
    assert_eq!(on_std, (true, false, 1));
    assert_eq!(corio::run(on_corio::panics), on_std);
    let on_std = on_std::a_panic_in_f_waits_for_the_children();
    assert_eq!(on_std, ("f fails".to_string(), 3));
    assert_eq!(
        corio::run(on_corio::a_panic_in_f_waits_for_the_children),
        on_std
    );
}

#[test]
fn builder_spawn_scoped_behaves_as_std() {
    let on_std = on_std::builder_spawn_scoped();
    assert_eq!(on_std, (Some("scoped".to_string()), 6, true));
    assert_eq!(corio::run(on_corio::builder_spawn_scoped), on_std);
}

#[test]
fn an_unjoined_child_panic_is_reported_in_std_words() {
    let payload = panic::catch_unwind(|| {
        corio::run(|| corio::thread::scope(|s| s.spawn(|| panic!("lost")).is_finished()))
    })
    .unwrap_err();
    assert_eq!(util::panic_text(&*payload), "a scoped coroutine panicked");
}

#[test]
fn scoped_children_run_concurrently_on_one_thread() {
    // Ten children each sleeping 50 ms end in about 50 ms, not 500: the
    // count of switches shows they interleaved, not the clock.
    let mut rt = corio::Runtime::new().unwrap();
    let order = RefCell::new(Vec::new());
    rt.block_on(|| {
        corio::thread::scope(|s| {
            for i in 0..10 {
                let order = &order;
                s.spawn(move || {
                    order.borrow_mut().push(i);
                    corio::sleep(Duration::from_millis(50));
                    order.borrow_mut().push(100 + i);
                });
            }
        })
    });
    let order = order.into_inner();
    // Every child started before any woke.
    assert_eq!(&order[..10], &(0..10).collect::<Vec<_>>()[..]);
    assert!(order[10..].iter().all(|&v| v >= 100));
}

/// Records when it is dropped, reading the borrowed log to do so: if it ran
/// after the scope's frame was gone, it would read freed memory.
struct Witness<'a> {
    log: &'a RefCell<Vec<String>>,
    name: &'static str,
}

impl Drop for Witness<'_> {
    fn drop(&mut self) {
        self.log.borrow_mut().push(format!("{} dropped", self.name));
    }
}

/// The scope's own frame: what it drops last.
struct FrameEnd(Rc<RefCell<Vec<String>>>);

impl Drop for FrameEnd {
    fn drop(&mut self) {
        self.0.borrow_mut().push("frame gone".into());
    }
}

#[test]
fn a_dropped_runtime_unwinds_the_children_before_the_scope_frame() {
    let outer = Rc::new(RefCell::new(Vec::new()));
    {
        let mut rt = corio::Runtime::new().unwrap();
        let outer2 = Rc::clone(&outer);
        rt.block_on(move || {
            corio::spawn(move || {
                // Everything below lives on this coroutine's stack.
                let log = RefCell::new(Vec::new());
                let _end = FrameEnd(Rc::clone(&outer2));
                corio::thread::scope(|s| {
                    for name in ["a", "b"] {
                        let log = &log;
                        s.spawn(move || {
                            let _w = Witness { log, name };
                            corio::thread::park(); // forever
                        });
                    }
                    // One that never starts: its closure is dropped.
                    let log = &log;
                    let w = Witness {
                        log,
                        name: "unstarted",
                    };
                    s.spawn(move || drop(w));
                });
                // Not reached: the runtime is dropped while the scope waits.
                outer2.borrow_mut().push("scope returned".into());
                outer2.borrow_mut().extend(log.into_inner());
            });
            corio::yield_now(); // the spawner runs, opens the scope, parks
            corio::yield_now(); // "a" and "b" run and park
        });
        assert!(outer.borrow().is_empty());
        // The spawner, parked in the scope, is unwound here.
    }
    let outer = outer.borrow();
    assert_eq!(*outer, ["frame gone"], "the scope never returned");
}

#[test]
fn the_children_destructors_run_while_what_they_borrow_lives() {
    // As above, but the witnesses write to a log on the scope's stack and
    // copy it out when that stack frame goes: each child's destructor must
    // be in the copy.
    let copied = Rc::new(RefCell::new(Vec::new()));
    struct CopyOut<'a>(&'a RefCell<Vec<String>>, Rc<RefCell<Vec<String>>>);
    impl Drop for CopyOut<'_> {
        fn drop(&mut self) {
            self.1.borrow_mut().extend(self.0.borrow().iter().cloned());
        }
    }
    {
        let mut rt = corio::Runtime::new().unwrap();
        let copied2 = Rc::clone(&copied);
        rt.block_on(move || {
            corio::spawn(move || {
                let log = RefCell::new(Vec::new());
                let _copy = CopyOut(&log, copied2);
                corio::thread::scope(|s| {
                    for name in ["a", "b"] {
                        let log = &log;
                        s.spawn(move || {
                            let _w = Witness { log, name };
                            corio::sleep(Duration::MAX);
                        });
                    }
                });
            });
            corio::yield_now();
            corio::yield_now();
        });
    }
    let mut copied = copied.borrow().clone();
    copied.sort();
    assert_eq!(copied, ["a dropped", "b dropped"]);
}

#[test]
fn a_deadlocked_scope_in_the_root_unwinds_its_children_before_block_on_panics() {
    let log = RefCell::new(Vec::new());
    let mut rt = corio::Runtime::new().unwrap();
    let payload = panic::catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(|| {
            corio::thread::scope(|s| {
                let log = &log;
                s.spawn(move || {
                    let _w = Witness { log, name: "child" };
                    corio::thread::park(); // only the root could unpark it: deadlock
                });
            });
        })
    }))
    .unwrap_err();
    let text = util::panic_text(&*payload);
    assert!(text.contains("deadlock"), "{text}");
    assert!(
        text.contains("waiting for 1 coroutine of its thread::scope to end"),
        "{text}"
    );
    assert!(text.contains("parked (thread::park)"), "{text}");
    assert_eq!(*log.borrow(), ["child dropped"]);
    // The runtime is still usable, and has nothing left of the scope.
    assert_eq!(rt.block_on(|| 5), 5);
}

#[test]
fn a_scope_opened_where_nothing_can_wait_unwinds_its_children_at_once() {
    // A destructor that runs while the runtime is dropped opens a scope: its
    // children can never run, so the scope unwinds them and returns.
    let log = Rc::new(RefCell::new(Vec::new()));
    struct OpensScope(Rc<RefCell<Vec<String>>>);
    impl Drop for OpensScope {
        fn drop(&mut self) {
            let inner = RefCell::new(Vec::new());
            let ran = std::cell::Cell::new(false);
            corio::thread::scope(|s| {
                let inner = &inner;
                let w = Witness {
                    log: inner,
                    name: "unstarted child",
                };
                s.spawn(|| {
                    ran.set(true);
                    drop(w);
                });
            });
            self.0.borrow_mut().extend(inner.into_inner());
            self.0
                .borrow_mut()
                .push(format!("child ran: {}", ran.get()));
        }
    }
    {
        let mut rt = corio::Runtime::new().unwrap();
        let log2 = Rc::clone(&log);
        rt.block_on(move || {
            corio::spawn(move || {
                let _o = OpensScope(log2);
                corio::thread::park();
            });
            corio::yield_now();
        });
    }
    assert_eq!(
        *log.borrow(),
        ["unstarted child dropped", "child ran: false"]
    );
}

#[test]
fn the_root_closure_borrows_from_the_caller() {
    let mut rt = corio::Runtime::new().unwrap();
    let mut words = vec![String::from("a")];
    let text = String::from("borrowed text");
    let first_word: &str = rt.block_on(|| {
        words.push(String::from("b"));
        let h = corio::spawn(|| 2);
        corio::yield_now();
        assert_eq!(h.join().unwrap(), 2);
        &text[..8]
    });
    assert_eq!(first_word, "borrowed");
    assert_eq!(words, ["a", "b"]);
    // corio::run too.
    let mut n = 0;
    corio::run(|| n += 1);
    assert_eq!(n, 1);
}

#[test]
fn a_deadlocked_root_that_borrows_is_unwound_before_the_panic_leaves() {
    let log = RefCell::new(Vec::new());
    let mut rt = corio::Runtime::new().unwrap();
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(|| {
            let _w = Witness {
                log: &log,
                name: "root local",
            };
            corio::thread::park(); // nobody unparks: deadlock
        })
    }));
    assert!(result.is_err());
    assert_eq!(*log.borrow(), ["root local dropped"]);
}
