//! `Mutex` for coroutines: std's names, poisoning and error types, but
//! waiting suspends only the calling coroutine (std's would block the one OS
//! thread, and with it every coroutine, forever). Its `Condvar` is in
//! `condvar.rs`.

use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, TryLockError, TryLockResult};

use super::poison::Poison;
use super::wait_queue::WaitQueue;
use crate::scheduler::{self, Blocker, CannotWait, TaskId};

/// A mutual-exclusion lock for coroutines; `std::sync::Mutex` for one
/// runtime.
///
/// `lock` suspends the calling coroutine while another holds the lock; the
/// others run meanwhile. Waiters get the lock in the order they asked for
/// it: an unlock hands it straight to the oldest waiter. As in std, a
/// coroutine that panics while it holds the lock poisons it, and later
/// `lock`s return a [`PoisonError`](std::sync::PoisonError) that still
/// gives access.
///
/// A `Mutex` is not `Sync`: it serves the coroutines of one runtime, which
/// share it through an `Rc`. It also is the answer to a coroutine holding a
/// lock across a wait (a socket read, a sleep): std's `Mutex` would block
/// the whole thread, and every other coroutine with it.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use corio::sync::Mutex;
///
/// let total = corio::run(|| {
///     let counter = Rc::new(Mutex::new(0));
///     let workers: Vec<_> = (0..4)
///         .map(|_| {
///             let counter = counter.clone();
///             corio::spawn(move || {
///                 for _ in 0..10 {
///                     let mut n = counter.lock().unwrap();
///                     corio::yield_now(); // others run; they wait for the lock
///                     *n += 1;
///                 }
///             })
///         })
///         .collect();
///     workers.into_iter().for_each(|w| w.join().unwrap());
///     let total = *counter.lock().unwrap();
///     total
/// });
/// assert_eq!(total, 40);
/// ```
pub struct Mutex<T: ?Sized> {
    /// Whether a guard exists (or the lock was handed to a waiter that has
    /// not run yet).
    locked: Cell<bool>,
    /// The holder, for the hand-over and the deadlock report; `None` when
    /// the holder is not a coroutine (the lock was taken outside one).
    owner: Cell<Option<TaskId>>,
    /// Set when a guard is dropped during a panic. `pub(super)` for
    /// `Condvar` (condvar.rs), whose wait hands a guard back poisoned or not.
    pub(super) poisoned: Poison,
    /// Coroutines waiting for the lock, oldest first.
    waiters: WaitQueue,
    /// The data. Invariant: a `&mut` to it exists only inside a guard, and
    /// at most one guard exists (`locked`).
    data: UnsafeCell<T>,
}

impl<T> Mutex<T> {
    /// A new, unlocked mutex holding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = corio::sync::Mutex::new(5);
    /// assert_eq!(*m.lock().unwrap(), 5);
    /// ```
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            locked: Cell::new(false),
            owner: Cell::new(None),
            poisoned: Poison::default(),
            waiters: WaitQueue::default(),
            data: UnsafeCell::new(value),
        }
    }

    /// The value, consuming the mutex.
    ///
    /// # Errors
    ///
    /// A [`PoisonError`](std::sync::PoisonError) holding the value if the
    /// mutex is poisoned.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = corio::sync::Mutex::new(vec![1]);
    /// m.lock().unwrap().push(2);
    /// assert_eq!(m.into_inner().unwrap(), [1, 2]);
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poisoned;
        poisoned.result(self.data.into_inner())
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, suspending the calling coroutine until it can.
    ///
    /// # Errors
    ///
    /// A [`PoisonError`](std::sync::PoisonError) holding the guard if a
    /// coroutine panicked while it held the lock.
    ///
    /// # Panics
    ///
    /// If the lock is held and it has to wait outside a coroutine (outside a
    /// runtime, or in code the scheduler runs, such as a destructor while
    /// the runtime shuts down), since nothing can release it there; and if
    /// the calling coroutine already holds it (std leaves that unspecified:
    /// a deadlock or a panic).
    ///
    /// # Examples
    ///
    /// ```
    /// let m = corio::sync::Mutex::new(1);
    /// *m.lock().unwrap() += 1;
    /// assert_eq!(*m.lock().unwrap(), 2);
    /// ```
    #[inline]
    #[track_caller]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        if !self.locked.get() {
            self.take(scheduler::try_running_id());
            return self.guard();
        }
        self.lock_contended()
    }

    /// `lock` when the mutex is held: wait in line for it. Out of line, so
    /// that the uncontended `lock` stays small (`mutex/corio_uncontended`
    /// in `peers/benches/sync.rs`).
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn lock_contended(&self) -> LockResult<MutexGuard<'_, T>> {
        const WHAT: &str = "Mutex::lock";
        let id = match scheduler::running_id(WHAT) {
            Ok(id) => id,
            Err(cannot) => self.cannot_wait(WHAT, cannot),
        };
        if self.owner.get() == Some(id) {
            panic!("{WHAT}: {id} already holds this Mutex; locking it again would wait forever");
        }
        loop {
            let blocker = Blocker::Mutex(self.owner.get());
            if let Err(cannot) = self.waiters.wait_once(WHAT, blocker) {
                self.cannot_wait(WHAT, cannot);
            }
            // Handed over by an unlock: ours now.
            if self.locked.get() && self.owner.get() == Some(id) {
                return self.guard();
            }
            if !self.locked.get() {
                self.take(Some(id));
                return self.guard();
            }
        }
    }

    /// The panic of a `lock` that must wait where nothing can: nothing can
    /// release the lock there either.
    #[cold]
    #[track_caller]
    fn cannot_wait(&self, what: &str, cannot: CannotWait) -> ! {
        panic!(
            "{}; the lock is held by {}, and nothing can release it here",
            cannot.explain(what),
            holder(self.owner.get())
        )
    }

    /// Locks the mutex if nobody holds it; never waits.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if it is held,
    /// [`TryLockError::Poisoned`] (with the guard) if it is poisoned.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::TryLockError;
    ///
    /// let m = corio::sync::Mutex::new(());
    /// let held = m.lock().unwrap();
    /// assert!(matches!(m.try_lock(), Err(TryLockError::WouldBlock)));
    /// drop(held);
    /// assert!(m.try_lock().is_ok());
    /// ```
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        if self.locked.get() {
            return Err(TryLockError::WouldBlock);
        }
        self.take(scheduler::try_running_id());
        self.guard().map_err(TryLockError::Poisoned)
    }

    /// Whether a coroutine panicked while it held the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = corio::sync::Mutex::new(0);
    /// assert!(!m.is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.get()
    }

    /// Clears the poison, as std's `Mutex::clear_poison`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// corio::run(|| {
    ///     let m = Rc::new(corio::sync::Mutex::new(0));
    ///     let m2 = m.clone();
    ///     let _ = corio::spawn(move || {
    ///         let _guard = m2.lock().unwrap();
    ///         panic!("while holding it");
    ///     })
    ///     .join();
    ///     assert!(m.is_poisoned());
    ///     m.clear_poison();
    ///     assert!(!m.is_poisoned());
    /// });
    /// ```
    pub fn clear_poison(&self) {
        self.poisoned.clear();
    }

    /// The value, through `&mut self`: no lock needed.
    ///
    /// # Errors
    ///
    /// A [`PoisonError`](std::sync::PoisonError) holding the reference if
    /// the mutex is poisoned.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut m = corio::sync::Mutex::new(1);
    /// *m.get_mut().unwrap() = 2;
    /// assert_eq!(*m.lock().unwrap(), 2);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        self.poisoned.result(self.data.get_mut())
    }

    /// Marks the lock taken by `owner`.
    #[inline]
    fn take(&self, owner: Option<TaskId>) {
        self.locked.set(true);
        self.owner.set(owner);
    }

    /// A guard for a lock just taken, poisoned or not.
    #[inline]
    fn guard(&self) -> LockResult<MutexGuard<'_, T>> {
        self.poisoned.result(MutexGuard { mutex: self })
    }

    /// Releases the lock: hands it to the oldest waiter, or frees it.
    #[inline]
    fn unlock(&self) {
        // Nobody waits (the common case): one load, no call.
        let next = if self.waiters.len() == 0 {
            None
        } else {
            self.waiters.notify_one_id()
        };
        match next {
            Some(next) => self.owner.set(Some(next)),
            None => {
                self.locked.set(false);
                self.owner.set(None);
            }
        }
    }
}

/// "task 3", or "code outside any coroutine".
fn holder(owner: Option<TaskId>) -> String {
    match owner {
        Some(id) => id.to_string(),
        None => "code outside any coroutine".into(),
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(guard) => d.field("data", &&*guard),
            Err(TryLockError::Poisoned(guard)) => d.field("data", &&**guard.get_ref()),
            Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.poisoned.get())
            .finish_non_exhaustive()
    }
}

/// Access to a locked [`Mutex`]'s data; dropping it unlocks the mutex (and
/// poisons it if the coroutine is panicking).
///
/// # Examples
///
/// ```
/// let m = corio::sync::Mutex::new(String::from("a"));
/// {
///     let mut guard = m.lock().unwrap();
///     guard.push('b');
/// } // unlocked here
/// assert_eq!(*m.lock().unwrap(), "ab");
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    /// The locked mutex. `pub(super)` for `Condvar` (condvar.rs), which
    /// unlocks it for a wait and locks it again after.
    pub(super) mutex: &'a Mutex<T>,
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard is the only one (the `data` invariant), and it
        // hands out references tied to its own borrow.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only
        // reference through the guard.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.poisoned.on_guard_drop();
        self.mutex.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
