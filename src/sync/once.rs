//! `Once` and `OnceLock` for coroutines and threads: an initialiser that
//! suspends (a socket read, a sleep) makes the other callers wait as
//! coroutines, where std's would block the one OS thread, and with it the
//! initialiser too. Both are `Sync` with a `const fn new`, so they can be
//! `static`s shared by several runtimes and threads.

use std::cell::UnsafeCell;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};

use super::waiters::{Entry, Here, Me, Owner, Waiters, Whom};
use crate::scheduler::Blocker;

/// Where a one-time initialisation stands ([`Gate::state`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum State {
    /// Not run yet (or, for a `OnceLock`, its initialiser panicked).
    Incomplete = 0,
    /// Being run ([`Gate::runner`] says by whom).
    Running = 1,
    /// Done.
    Complete = 2,
    /// A `Once`'s closure panicked.
    Poisoned = 3,
}

impl State {
    /// The state stored as `byte`.
    fn from_byte(byte: u8) -> State {
        match byte {
            0 => State::Incomplete,
            1 => State::Running,
            2 => State::Complete,
            _ => State::Poisoned,
        }
    }
}

/// The part `Once` and `OnceLock` share: the state and who waits for it.
///
/// Every change of `state` away from `Running` and into it is made under
/// the waiters' lock, and a caller that finds it `Running` queues itself
/// under that same lock: the end of the initialiser, which wakes every
/// queued waiter, cannot slip between a waiter's look and its queueing.
/// `Complete` is stored with `Release` after the value is written, and
/// read with `Acquire` before the value is, so a caller that sees it sees
/// the value.
struct Gate {
    /// A [`State`], as a byte.
    state: AtomicU8,
    /// Who runs the initialiser while `state` is `Running`.
    runner: Owner,
    /// Coroutines and threads waiting while another runs the initialiser.
    waiters: Waiters,
}

/// What [`Gate::enter`] found.
enum Entered<'a> {
    /// Nothing to run: the state is `Complete`, or `Poisoned` and the
    /// caller does not run poisoned ones.
    Done(State),
    /// The caller runs the initialiser; `true` if it was poisoned.
    Run(Running<'a>, bool),
}

impl Gate {
    const fn new() -> Gate {
        Gate {
            state: AtomicU8::new(State::Incomplete as u8),
            runner: Owner::new(),
            waiters: Waiters::new(),
        }
    }

    /// The state now.
    fn state(&self) -> State {
        State::from_byte(self.state.load(Ordering::Acquire))
    }

    /// Waits while another runs the initialiser, then either reports the
    /// state or makes the caller the runner (of a poisoned one only if
    /// `run_poisoned`).
    #[track_caller]
    fn enter(&self, what: &str, run_poisoned: bool) -> Entered<'_> {
        loop {
            if self.state() == State::Complete {
                return Entered::Done(State::Complete);
            }
            let mut list = self.waiters.lock();
            let runner = match self.state() {
                State::Running => self.runner.whom(),
                State::Poisoned if !run_poisoned => return Entered::Done(State::Poisoned),
                State::Complete => return Entered::Done(State::Complete),
                was => {
                    self.state.store(State::Running as u8, Ordering::Relaxed);
                    self.runner.set(Whom::current());
                    let running = Running {
                        gate: self,
                        on_unwind: State::Incomplete,
                    };
                    return Entered::Run(running, was == State::Poisoned);
                }
            };
            if runner == Whom::current() {
                drop(list);
                panic!(
                    "{what}: called again from inside its own initialiser, which would wait forever"
                );
            }
            let holder = Here::now().holder(runner, &list);
            let me = match Me::current(what) {
                Ok(me) => me,
                // Only another thread can finish it: block this one.
                Err(_) if holder.elsewhere => Me::Thread,
                Err(cannot) => {
                    drop(list);
                    panic!(
                        "{}; another coroutine is running the initialiser, and cannot finish it here",
                        cannot.explain(what)
                    );
                }
            };
            let entry = list.push(me.waker());
            drop(list);
            let waiting = Waiting { gate: self, entry };
            loop {
                let slept = me.sleep(what, Blocker::Once(holder), None);
                if !self.waiters.lock().contains(entry) {
                    break; // the initialiser ended
                }
                if let Err(cannot) = slept {
                    drop(waiting);
                    panic!(
                        "{}; another coroutine is running the initialiser",
                        cannot.explain(what)
                    );
                }
            }
        }
    }
}

/// A place in a [`Gate`]'s line; dropped before the initialiser ended (an
/// unwind), it leaves the line.
struct Waiting<'a> {
    /// The gate waited at.
    gate: &'a Gate,
    /// The place in its line.
    entry: Entry,
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.gate.waiters.lock().remove(self.entry);
    }
}

/// The initialiser is running; dropped when it ends. If it unwinds, the
/// state becomes `on_unwind`; either way every waiter is woken.
struct Running<'a> {
    /// The gate being initialised.
    gate: &'a Gate,
    /// What a panic in the initialiser leaves behind.
    on_unwind: State,
}

impl Running<'_> {
    /// The initialiser returned.
    fn complete(mut self) {
        self.on_unwind = State::Complete;
        // The drop stores it and wakes the waiters.
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        {
            let _list = self.gate.waiters.lock();
            self.gate.runner.clear();
            self.gate
                .state
                .store(self.on_unwind as u8, Ordering::Release);
        }
        self.gate.waiters.wake_all();
    }
}

/// A one-time initialisation; `std::sync::Once` for coroutines as well as
/// threads. `new` is `const`: a `static Once` works, across runtimes and
/// threads (a thread outside any runtime that waits blocks, as with std).
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc, time::Duration};
/// use corio::sync::Once;
///
/// corio::run(|| {
///     let once = Rc::new(Once::new());
///     let runs = Rc::new(Cell::new(0));
///     let callers: Vec<_> = (0..3)
///         .map(|_| {
///             let (once, runs) = (once.clone(), runs.clone());
///             corio::spawn(move || {
///                 once.call_once(|| {
///                     corio::sleep(Duration::from_millis(2)); // the others wait
///                     runs.set(runs.get() + 1);
///                 });
///                 assert!(once.is_completed());
///             })
///         })
///         .collect();
///     callers.into_iter().for_each(|c| c.join().unwrap());
///     assert_eq!(runs.get(), 1);
/// });
/// ```
pub struct Once {
    /// The state and its waiters.
    gate: Gate,
}

impl Once {
    /// A `Once` that has not run.
    ///
    /// # Examples
    ///
    /// ```
    /// let once = corio::sync::Once::new();
    /// assert!(!once.is_completed());
    /// ```
    pub const fn new() -> Once {
        Once { gate: Gate::new() }
    }

    /// Runs `f` if no call has completed yet; otherwise returns at once.
    /// While another coroutine runs it, waits for that one to finish.
    ///
    /// # Panics
    ///
    /// If an earlier `f` panicked (the `Once` is poisoned), as std's; if
    /// called again from inside `f`; if it has to wait where no coroutine
    /// can.
    ///
    /// # Examples
    ///
    /// See [`Once`].
    #[track_caller]
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        const WHAT: &str = "Once::call_once";
        match self.gate.enter(WHAT, false) {
            Entered::Done(State::Poisoned) => {
                panic!("{WHAT}: Once instance has previously been poisoned")
            }
            Entered::Done(_) => {}
            Entered::Run(mut running, _) => {
                running.on_unwind = State::Poisoned;
                f();
                running.complete();
            }
        }
    }

    /// As [`call_once`](Once::call_once), but runs `f` even when poisoned,
    /// telling it so; a successful `f` clears the poison.
    ///
    /// # Panics
    ///
    /// As [`call_once`](Once::call_once), poison aside.
    ///
    /// # Examples
    ///
    /// ```
    /// let once = corio::sync::Once::new();
    /// once.call_once_force(|state| assert!(!state.is_poisoned()));
    /// assert!(once.is_completed());
    /// ```
    #[track_caller]
    pub fn call_once_force<F: FnOnce(&OnceState)>(&self, f: F) {
        const WHAT: &str = "Once::call_once_force";
        if let Entered::Run(mut running, poisoned) = self.gate.enter(WHAT, true) {
            running.on_unwind = State::Poisoned;
            f(&OnceState { poisoned });
            running.complete();
        }
    }

    /// Whether a call has completed.
    ///
    /// # Examples
    ///
    /// ```
    /// let once = corio::sync::Once::new();
    /// once.call_once(|| ());
    /// assert!(once.is_completed());
    /// ```
    pub fn is_completed(&self) -> bool {
        self.gate.state() == State::Complete
    }
}

impl Default for Once {
    fn default() -> Once {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("state", &self.gate.state())
            .finish_non_exhaustive()
    }
}

/// What [`Once::call_once_force`] tells its closure: whether an earlier
/// call panicked. std's `OnceState`, which std gives no way to make.
///
/// # Examples
///
/// See [`Once::call_once_force`].
#[derive(Debug)]
pub struct OnceState {
    /// Whether the `Once` was poisoned.
    poisoned: bool,
}

impl OnceState {
    /// Whether an earlier call's closure panicked.
    ///
    /// # Examples
    ///
    /// See [`Once::call_once_force`].
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }
}

/// A value set once; `std::sync::OnceLock` for coroutines as well as
/// threads. `new` is `const` and it is `Sync` where std's is
/// (`T: Send + Sync`), so it can be a `static` shared by several runtimes
/// and threads; its initialiser runs once among all of them.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use corio::sync::OnceLock;
///
/// corio::run(|| {
///     let config = Rc::new(OnceLock::new());
///     let c = config.clone();
///     let reader = corio::spawn(move || *c.get_or_init(|| 42));
///     assert_eq!(*config.get_or_init(|| 7), 7); // the root got there first
///     assert_eq!(reader.join().unwrap(), 7);
/// });
/// ```
pub struct OnceLock<T> {
    /// Who is setting it, and who waits.
    gate: Gate,
    /// The value, once set. Invariant: written only by the runner of the
    /// initialiser (while `gate` says `Running`, which only one caller can
    /// make it) or through `&mut self`; read through `&self` only once
    /// `gate` says `Complete`, after which it never changes.
    value: UnsafeCell<Option<T>>,
}

// SAFETY: shared, a `OnceLock` hands `&T` to every thread (`T: Sync`) and
// lets whichever thread runs the initialiser create the `T` that the
// others then use and the owner drops (`T: Send`), as std's does.
unsafe impl<T: Send + Sync> Sync for OnceLock<T> {}

impl<T> OnceLock<T> {
    /// An empty cell.
    ///
    /// # Examples
    ///
    /// ```
    /// let cell = corio::sync::OnceLock::<u8>::new();
    /// assert_eq!(cell.get(), None);
    /// ```
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            gate: Gate::new(),
            value: UnsafeCell::new(None),
        }
    }

    /// The value, if set.
    ///
    /// # Examples
    ///
    /// ```
    /// let cell = corio::sync::OnceLock::new();
    /// cell.set(3).unwrap();
    /// assert_eq!(cell.get(), Some(&3));
    /// ```
    pub fn get(&self) -> Option<&T> {
        if self.gate.state() != State::Complete {
            return None;
        }
        // SAFETY: `Complete` (read with `Acquire`): the value is written
        // and never changes again while `&self` lives (the `value`
        // invariant).
        unsafe { (*self.value.get()).as_ref() }
    }

    /// The value, if set, through `&mut self`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cell = corio::sync::OnceLock::new();
    /// cell.set(3).unwrap();
    /// *cell.get_mut().unwrap() += 1;
    /// assert_eq!(cell.get(), Some(&4));
    /// ```
    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.value.get_mut().as_mut()
    }

    /// Sets the value if it is not set yet (waiting for an initialiser
    /// another coroutine runs).
    ///
    /// # Errors
    ///
    /// The value, given back, if the cell was already set.
    ///
    /// # Examples
    ///
    /// ```
    /// let cell = corio::sync::OnceLock::new();
    /// assert_eq!(cell.set(1), Ok(()));
    /// assert_eq!(cell.set(2), Err(2));
    /// ```
    #[track_caller]
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| value.take().expect("taken once"));
        match value {
            None => Ok(()),
            Some(value) => Err(value),
        }
    }

    /// The value, set by `f` first if nobody has set it. While another
    /// coroutine runs its initialiser, waits for that one. If `f` panics,
    /// the cell stays empty and the next caller tries again (as std's).
    ///
    /// # Panics
    ///
    /// If called again from inside `f`, and if it has to wait where no
    /// coroutine can.
    ///
    /// # Examples
    ///
    /// See [`OnceLock`].
    #[track_caller]
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        if let Some(value) = self.get() {
            return value;
        }
        if let Entered::Run(running, _) = self.gate.enter("OnceLock::get_or_init", false) {
            let value = f();
            // SAFETY: this caller runs the initialiser, so it alone
            // touches the value until `complete` (the `value` invariant).
            unsafe { *self.value.get() = Some(value) };
            running.complete();
        }
        self.get()
            .expect("a OnceLock is complete once its initialiser returned")
    }

    /// The value, consuming the cell.
    ///
    /// # Examples
    ///
    /// ```
    /// let cell = corio::sync::OnceLock::new();
    /// cell.set(String::from("x")).unwrap();
    /// assert_eq!(cell.into_inner().as_deref(), Some("x"));
    /// ```
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }

    /// Takes the value out, leaving the cell empty.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cell = corio::sync::OnceLock::new();
    /// cell.set(1).unwrap();
    /// assert_eq!(cell.take(), Some(1));
    /// assert_eq!(cell.get(), None);
    /// ```
    pub fn take(&mut self) -> Option<T> {
        *self.gate.state.get_mut() = State::Incomplete as u8;
        self.value.get_mut().take()
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> OnceLock<T> {
        OnceLock::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OnceLock").field(&self.get()).finish()
    }
}
