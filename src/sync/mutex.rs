//! `Mutex` for coroutines and threads: std's names, poisoning and error
//! types, `const fn new` and `Sync`, but a coroutine that waits suspends
//! only itself (std's would block the one OS thread, and with it every
//! coroutine, possibly forever). Its `Condvar` is in `condvar.rs`.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{LockResult, TryLockError, TryLockResult};

use super::poison::Poison;
use super::waiters::{Entry, Here, Me, Owner, Waiters, Whom};
use crate::scheduler::{Blocker, CannotWait};

/// [`Mutex::state`]: a guard exists, or the lock was handed to a waiter
/// that has not run yet.
const LOCKED: u8 = 1;
/// [`Mutex::state`]: somebody may wait; an unlock must look at the list.
const QUEUED: u8 = 2;

/// A mutual-exclusion lock; `std::sync::Mutex` for coroutines as well as
/// threads.
///
/// `lock` suspends the calling coroutine while another holds the lock; the
/// others run meanwhile. Waiters get the lock in the order they asked for
/// it: an unlock hands it straight to the oldest waiter. As in std, a
/// coroutine that panics while it holds the lock poisons it, and later
/// `lock`s return a [`PoisonError`](std::sync::PoisonError) that still
/// gives access.
///
/// It is `Sync` where std's is (`T: Send`) and `new` is `const`, so it can
/// live in a `static` and be shared by the coroutines of several runtimes
/// and by plain threads: a coroutine that waits suspends only itself and
/// is woken through its runtime when a holder on another thread unlocks;
/// a thread outside any runtime blocks, as with std. It also is the
/// answer to a coroutine holding a lock across a wait (a socket read, a
/// sleep, a `yield_now`): std's `Mutex` would block the whole thread, and
/// every other coroutine with it.
///
/// # How a wait cannot be missed
///
/// `state` holds `LOCKED` and `QUEUED`. Taking a free lock is one
/// compare-exchange (0 → `LOCKED`), and so is releasing it when nobody
/// waits (`LOCKED` → 0): no system call, no list. A caller that finds it
/// held takes the list's lock, sets `QUEUED` (a compare-exchange, retried
/// from the top if the lock was released meanwhile), queues itself and
/// only then lets go of the list and sleeps. An unlock that starts after
/// `QUEUED` is set fails its compare-exchange, takes the list's lock (so
/// it waits for the waiter to be queued), pops the oldest waiter, keeps
/// `LOCKED` (clearing `QUEUED` if the list is now empty), records the new
/// owner, and wakes it after letting go of the list. The lock is never
/// free while somebody waits, so no newcomer can overtake the waiters. A
/// waiter knows it was served when its entry is gone from the list.
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
///
/// In a `static`, shared by a coroutine and a thread:
///
/// ```
/// use corio::sync::Mutex;
///
/// static HITS: Mutex<u64> = Mutex::new(0);
///
/// let thread = std::thread::spawn(|| *HITS.lock().unwrap() += 1);
/// corio::run(|| *HITS.lock().unwrap() += 1);
/// thread.join().unwrap();
/// assert_eq!(*HITS.lock().unwrap(), 2);
/// ```
pub struct Mutex<T: ?Sized> {
    /// [`LOCKED`] and [`QUEUED`]; see "How a wait cannot be missed".
    /// `QUEUED` is set and cleared only under the waiters' lock.
    state: AtomicU8,
    /// The holder, for the "already holds it" panic and the deadlock
    /// report; written by the holder as it locks, or by the unlock that
    /// hands the lock over, and cleared by every unlock.
    owner: Owner,
    /// Set when a guard is dropped during a panic. `pub(super)` for
    /// `Condvar` (condvar.rs), whose wait hands a guard back poisoned or not.
    pub(super) poisoned: Poison,
    /// Coroutines and threads waiting for the lock, oldest first.
    waiters: Waiters,
    /// The data. Invariant: a `&mut` to it exists only inside a guard, and
    /// at most one guard exists (`state` has `LOCKED` while it does).
    data: UnsafeCell<T>,
}

// SAFETY: the data is reached only through the one guard `state` lets
// exist at a time, so sharing the mutex sends the `T` to whichever thread
// holds the guard: `T: Send` is what that needs, as for std's `Mutex`.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A new, unlocked mutex holding `value`. `const`, so that a mutex
    /// can be a `static`.
    ///
    /// # Examples
    ///
    /// ```
    /// let m = corio::sync::Mutex::new(5);
    /// assert_eq!(*m.lock().unwrap(), 5);
    /// ```
    ///
    /// ```
    /// static M: corio::sync::Mutex<u64> = corio::sync::Mutex::new(0);
    /// *M.lock().unwrap() += 1;
    /// assert_eq!(*M.lock().unwrap(), 1);
    /// ```
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            state: AtomicU8::new(0),
            owner: Owner::new(),
            poisoned: Poison::new(),
            waiters: Waiters::new(),
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
    /// Locks the mutex, suspending the calling coroutine until it can (a
    /// thread outside any runtime blocks until it can, as with std).
    ///
    /// # Errors
    ///
    /// A [`PoisonError`](std::sync::PoisonError) holding the guard if a
    /// holder panicked while it held the lock.
    ///
    /// # Panics
    ///
    /// If the calling coroutine (or thread) already holds it (std leaves
    /// that unspecified: a deadlock or a panic); and if it has to wait on a
    /// runtime's thread where no coroutine can (in code the scheduler runs,
    /// such as a destructor while the runtime shuts down) for a holder on
    /// that same thread, since nothing can release it there. A holder on
    /// another thread is waited for by blocking the thread.
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
        if self
            .state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            self.owner.set(Whom::current());
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
        let me = Me::current(WHAT);
        let here = Here::now();
        // The owner is read without the list's lock: a holder that is the
        // caller wrote itself in on this very thread.
        if self.owner.whom() == Whom::current() {
            let who = match Whom::current() {
                Whom::Task(id) => id.to_string(),
                _ => "this thread".into(),
            };
            panic!("{WHAT}: {who} already holds this Mutex; locking it again would wait forever");
        }
        let mut list = self.waiters.lock();
        loop {
            let state = self.state.load(Ordering::Relaxed);
            if state == 0 {
                if self
                    .state
                    .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
                {
                    drop(list);
                    self.owner.set(Whom::current());
                    return self.guard();
                }
                continue;
            }
            if state & QUEUED == 0
                && self
                    .state
                    .compare_exchange(state, state | QUEUED, Ordering::Relaxed, Ordering::Relaxed)
                    .is_err()
            {
                continue;
            }
            break;
        }
        let holder = here.holder(self.owner.whom(), &list);
        let me = match me {
            Ok(me) => me,
            // Only another thread can hand it over: block this one.
            Err(_) if holder.elsewhere => Me::Thread,
            Err(cannot) => {
                drop(list);
                // `QUEUED` with nobody queued: the next unlock frees it.
                self.cannot_wait(WHAT, cannot)
            }
        };
        let entry = list.push(me.waker());
        drop(list);
        let mut waiting = Waiting {
            mutex: self,
            entry,
            served: false,
        };
        loop {
            let slept = me.sleep(WHAT, Blocker::Mutex(holder), None);
            if !self.waiters.lock().contains(entry) {
                // Handed over by an unlock, which wrote us in as owner.
                waiting.served = true;
                return self.guard();
            }
            if let Err(cannot) = slept {
                drop(waiting);
                self.cannot_wait(WHAT, cannot);
            }
        }
    }

    /// The panic of a `lock` that must wait where nothing can: nothing can
    /// release the lock there either.
    #[cold]
    #[track_caller]
    fn cannot_wait(&self, what: &str, cannot: CannotWait) -> ! {
        let holder = match self.owner.whom() {
            Whom::Task(id) => id.to_string(),
            _ => "code outside any coroutine".into(),
        };
        panic!(
            "{}; the lock is held by {holder}, and nothing can release it here",
            cannot.explain(what),
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
        if self
            .state
            .compare_exchange(0, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return Err(TryLockError::WouldBlock);
        }
        self.owner.set(Whom::current());
        self.guard().map_err(TryLockError::Poisoned)
    }

    /// Whether a holder panicked while it held the lock.
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

    /// A guard for a lock just taken, poisoned or not.
    #[inline]
    fn guard(&self) -> LockResult<MutexGuard<'_, T>> {
        self.poisoned.result(MutexGuard {
            mutex: self,
            not_send: PhantomData,
        })
    }

    /// Releases the lock: frees it, or hands it to the oldest waiter.
    #[inline]
    fn unlock(&self) {
        self.owner.clear();
        // Nobody waits (the common case): one compare-exchange, no call.
        if self
            .state
            .compare_exchange(LOCKED, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            self.unlock_contended();
        }
    }

    /// `unlock` with `QUEUED` set: hand the lock to the oldest waiter, or
    /// free it if nobody is queued after all.
    #[cold]
    #[inline(never)]
    fn unlock_contended(&self) {
        let mut list = self.waiters.lock();
        let Some(next) = list.pop() else {
            self.state.store(0, Ordering::Release);
            return;
        };
        let state = if list.is_empty() {
            LOCKED
        } else {
            LOCKED | QUEUED
        };
        self.state.store(state, Ordering::Relaxed);
        self.owner.set(next.whom());
        drop(list);
        next.wake();
    }
}

/// A place in a [`Mutex`]'s line. Dropped before it was served (its
/// coroutine unwound by a dropped runtime, or a wait that cannot go on), it
/// leaves the line; served but dropped unused, it passes the lock on.
struct Waiting<'a, T: ?Sized> {
    /// The mutex waited for.
    mutex: &'a Mutex<T>,
    /// The place in its line.
    entry: Entry,
    /// Set once the waiter has taken the lock it was handed.
    served: bool,
}

impl<T: ?Sized> Drop for Waiting<'_, T> {
    fn drop(&mut self) {
        if self.served {
            return;
        }
        let mut list = self.mutex.waiters.lock();
        if list.remove(self.entry) {
            if list.is_empty() {
                self.mutex.state.fetch_and(!QUEUED, Ordering::Relaxed);
            }
        } else {
            // Handed the lock, which nobody will use: pass it on.
            drop(list);
            self.mutex.unlock();
        }
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
///
/// As std's, a guard is not `Send`: it is released on the thread that
/// took it.
///
/// ```compile_fail
/// static M: corio::sync::Mutex<u32> = corio::sync::Mutex::new(0);
/// let guard = M.lock().unwrap();
/// std::thread::spawn(move || drop(guard));
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized> {
    /// The locked mutex. `pub(super)` for `Condvar` (condvar.rs), which
    /// unlocks it for a wait and locks it again after.
    pub(super) mutex: &'a Mutex<T>,
    /// Not `Send`, as std's guard: a lock is released where it was taken.
    not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only hands out `&T`, so sharing it across threads
// needs what sharing a `&T` needs (as std's `MutexGuard`).
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

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
