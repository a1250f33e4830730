//! `Once` and `OnceLock` for coroutines: an initialiser that suspends (a
//! socket read, a sleep) makes the other callers wait as coroutines, where
//! std's would block the one OS thread, and with it the initialiser too.

use std::cell::{Cell, OnceCell};
use std::fmt;

use super::wait_queue::WaitQueue;
use crate::scheduler::{self, Blocker, TaskId};

/// Where a one-time initialisation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not run yet (or, for a `OnceLock`, its initialiser panicked).
    Incomplete,
    /// Being run by this task (`None`: by code outside any coroutine).
    Running(Option<TaskId>),
    /// Done.
    Complete,
    /// A `Once`'s closure panicked.
    Poisoned,
}

/// The part `Once` and `OnceLock` share: the state and who waits for it.
struct Gate {
    /// See [`State`].
    state: Cell<State>,
    /// Coroutines waiting while another runs the initialiser.
    waiters: WaitQueue,
}

impl Gate {
    const fn new() -> Gate {
        Gate {
            state: Cell::new(State::Incomplete),
            waiters: WaitQueue::new(),
        }
    }

    /// Waits while another task runs the initialiser; returns the state
    /// once nobody does.
    #[track_caller]
    fn wait_while_running(&self, what: &str) -> State {
        loop {
            let State::Running(runner) = self.state.get() else {
                return self.state.get();
            };
            let me = scheduler::try_running_id();
            if me.is_some() && runner == me {
                panic!(
                    "{what}: called again from inside its own initialiser, which would wait forever"
                );
            }
            if let Err(cannot) = self.waiters.wait_once(what, Blocker::Once) {
                panic!(
                    "{}; another coroutine is running the initialiser, and cannot finish it here",
                    cannot.explain(what)
                );
            }
        }
    }

    /// Marks the initialiser running, for the calling task.
    fn start(&self) -> Running<'_> {
        self.state.set(State::Running(scheduler::try_running_id()));
        Running {
            gate: self,
            on_unwind: State::Incomplete,
        }
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
    fn complete(self) {
        self.gate.state.set(State::Complete);
        // The drop wakes the waiters.
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if let State::Running(_) = self.gate.state.get() {
            self.gate.state.set(self.on_unwind);
        }
        self.gate.waiters.notify_all();
    }
}

/// A one-time initialisation; `std::sync::Once` for coroutines.
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
        match self.gate.wait_while_running(WHAT) {
            State::Complete => {}
            State::Poisoned => panic!("{WHAT}: Once instance has previously been poisoned"),
            _ => {
                let mut running = self.gate.start();
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
        let state = self.gate.wait_while_running(WHAT);
        if state == State::Complete {
            return;
        }
        let mut running = self.gate.start();
        running.on_unwind = State::Poisoned;
        f(&OnceState {
            poisoned: state == State::Poisoned,
        });
        running.complete();
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
        self.gate.state.get() == State::Complete
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
            .field("state", &self.gate.state.get())
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

/// A value set once; `std::sync::OnceLock` for coroutines.
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
    /// The value, once set.
    value: OnceCell<T>,
}

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
            value: OnceCell::new(),
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
        self.value.get()
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
        self.value.get_mut()
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
        if let Some(value) = self.value.get() {
            return value;
        }
        self.gate.wait_while_running("OnceLock::get_or_init");
        if let Some(value) = self.value.get() {
            return value;
        }
        let running = self.gate.start();
        let value = f();
        let set = self.value.set(value);
        assert!(set.is_ok(), "only the running initialiser sets the value");
        running.complete();
        self.value.get().expect("just set")
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
        self.gate.state.set(State::Incomplete);
        self.value.take()
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> OnceLock<T> {
        OnceLock::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OnceLock").field(&self.value.get()).finish()
    }
}
