//! `RwLock` for coroutines and threads: std's names, poisoning and error
//! types, `const fn new` and `Sync`, and waiting suspends only the calling
//! coroutine.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LockResult, MutexGuard, TryLockError, TryLockResult};

use super::poison::Poison;
use super::waiters::{Entry, Here, List, Me, Owner, Waker, Whom};
use crate::scheduler::{Blocker, Holder, lock_unpoisoned};

/// [`RwLock::state`]: a writer holds the lock, or it was handed to one
/// that has not run yet.
const WRITER: usize = 1;
/// [`RwLock::state`]: somebody waits; the fast paths stay out.
const QUEUED: usize = 2;
/// [`RwLock::state`]: one reader; the readers are counted above the two
/// flag bits.
const READER: usize = 4;

/// A reader-writer lock; `std::sync::RwLock` for coroutines as well as
/// threads: any number of readers, or one writer.
///
/// Writers are preferred: once a writer waits, new readers wait behind it,
/// so readers cannot starve it; a released lock goes straight to the
/// oldest waiting writer, or, if none waits, to every waiting reader. As in
/// std, a writer that panics poisons the lock.
///
/// `new` is `const`, and it is `Sync` where std's is (`T: Send + Sync`),
/// so it can live in a `static` shared by several runtimes and threads: a
/// coroutine that waits suspends only itself, a thread outside any runtime
/// blocks, as with std.
///
/// # How a wait cannot be missed
///
/// `state` counts the readers and holds `WRITER` and `QUEUED`. With
/// nobody waiting, a read lock is one compare-exchange (add a reader), a
/// write lock another (0 → `WRITER`), and their releases one atomic each.
/// A caller that must wait takes the lines' lock, sets `QUEUED` (which
/// keeps every fast path out, so that nobody overtakes the line), queues
/// itself, and sleeps. The release that leaves nobody holding the lock
/// sees `QUEUED`, takes the lines' lock and hands the lock over there
/// (`RwLock::settle`); a waiter knows it was served when its entry is
/// gone.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use corio::sync::RwLock;
///
/// corio::run(|| {
///     let table = Rc::new(RwLock::new(vec![1, 2]));
///     let t = table.clone();
///     let writer = corio::spawn(move || t.write().unwrap().push(3));
///     {
///         let read = table.read().unwrap();
///         let again = table.read().unwrap(); // readers share it
///         assert_eq!(read.len(), again.len());
///     }
///     writer.join().unwrap();
///     assert_eq!(*table.read().unwrap(), [1, 2, 3]);
/// });
/// ```
///
/// In a `static`:
///
/// ```
/// static CONFIG: corio::sync::RwLock<u32> = corio::sync::RwLock::new(1);
///
/// std::thread::spawn(|| *CONFIG.write().unwrap() = 2).join().unwrap();
/// corio::run(|| assert_eq!(*CONFIG.read().unwrap(), 2));
/// ```
pub struct RwLock<T: ?Sized> {
    /// Readers (in units of [`READER`]), [`WRITER`] and [`QUEUED`]; see
    /// "How a wait cannot be missed". While `QUEUED` is set, only the
    /// holders' releases and the lines' lock holder change it.
    state: AtomicUsize,
    /// The writer, for the "already holds it" panic and the deadlock
    /// report.
    writer: Owner,
    /// Set when a write guard is dropped during a panic.
    poisoned: Poison,
    /// Waiting writers and readers, each oldest first.
    lines: std::sync::Mutex<Lines>,
    /// The data. Invariant: `&mut` to it only inside a write guard, which
    /// exists only while no read guard does (`state`); `&` only inside
    /// guards.
    data: UnsafeCell<T>,
}

/// The two lines of an [`RwLock`], under one lock.
struct Lines {
    /// Writers waiting, oldest first.
    writers: List,
    /// Readers waiting, oldest first.
    readers: List,
}

impl Lines {
    /// Whether anybody waits.
    fn is_empty(&self) -> bool {
        self.writers.is_empty() && self.readers.is_empty()
    }
}

// SAFETY: a write guard sends `&mut T` to whichever thread holds it
// (`T: Send`), read guards share `&T` among threads (`T: Sync`); `state`
// keeps them apart, as std's `RwLock` does.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    /// A new, unlocked lock holding `value`; `const`, for a `static`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = corio::sync::RwLock::new(5);
    /// assert_eq!(*lock.read().unwrap(), 5);
    /// ```
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            state: AtomicUsize::new(0),
            writer: Owner::new(),
            poisoned: Poison::new(),
            lines: std::sync::Mutex::new(Lines {
                writers: List::new(),
                readers: List::new(),
            }),
            data: UnsafeCell::new(value),
        }
    }

    /// The value, consuming the lock.
    ///
    /// # Errors
    ///
    /// A [`PoisonError`](std::sync::PoisonError) holding the value if the lock is poisoned.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = corio::sync::RwLock::new(1);
    /// *lock.write().unwrap() += 1;
    /// assert_eq!(lock.into_inner().unwrap(), 2);
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        let poisoned = self.poisoned;
        poisoned.result(self.data.into_inner())
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Adds a reader if nobody writes and nobody waits (writers are
    /// preferred); never waits.
    #[inline]
    fn try_add_reader(&self) -> bool {
        let mut state = self.state.load(Ordering::Relaxed);
        while state & (WRITER | QUEUED) == 0 {
            match self.state.compare_exchange_weak(
                state,
                state + READER,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => state = now,
            }
        }
        false
    }

    /// Takes the write lock if nobody holds it or waits; never waits.
    #[inline]
    fn try_take_writer(&self) -> bool {
        let taken = self
            .state
            .compare_exchange(0, WRITER, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if taken {
            self.writer.set(Whom::current());
        }
        taken
    }

    /// Locks for reading, suspending the calling coroutine while a writer
    /// holds the lock or waits for it (a thread outside any runtime
    /// blocks).
    ///
    /// # Errors
    ///
    /// A [`PoisonError`](std::sync::PoisonError) holding the guard if a writer panicked.
    ///
    /// # Panics
    ///
    /// If it has to wait on a runtime's thread where no coroutine can (in
    /// the scheduler's own code, while the runtime shuts down) for a lock
    /// held on that same thread.
    ///
    /// # Examples
    ///
    /// See [`RwLock`].
    #[track_caller]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        if !self.try_add_reader() {
            self.wait("RwLock::read", false);
        }
        self.poison(RwLockReadGuard::new(self))
    }

    /// Locks for reading if no writer holds or waits for the lock.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`], or [`TryLockError::Poisoned`] with the
    /// guard.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = corio::sync::RwLock::new(0);
    /// let _r = lock.try_read().unwrap();
    /// assert!(lock.try_write().is_err()); // a reader holds it
    /// ```
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        if !self.try_add_reader() {
            return Err(TryLockError::WouldBlock);
        }
        self.poison(RwLockReadGuard::new(self))
            .map_err(TryLockError::Poisoned)
    }

    /// Locks for writing, suspending the calling coroutine while anybody
    /// holds the lock. Waiting writers get it in the order they asked.
    ///
    /// # Errors
    ///
    /// A [`PoisonError`](std::sync::PoisonError) holding the guard if a writer panicked.
    ///
    /// # Panics
    ///
    /// As [`read`](RwLock::read); also if the caller holds the write lock
    /// already.
    ///
    /// # Examples
    ///
    /// See [`RwLock`].
    #[track_caller]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        const WHAT: &str = "RwLock::write";
        if !self.try_take_writer() {
            if self.state.load(Ordering::Relaxed) & WRITER != 0
                && self.writer.whom() == Whom::current()
            {
                panic!(
                    "{WHAT}: this caller already holds the write lock; locking it again would wait forever"
                );
            }
            self.wait(WHAT, true);
        }
        self.poison(RwLockWriteGuard::new(self))
    }

    /// Locks for writing if nobody holds the lock.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`], or [`TryLockError::Poisoned`] with the
    /// guard.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = corio::sync::RwLock::new(0);
    /// *lock.try_write().unwrap() = 1;
    /// assert_eq!(*lock.read().unwrap(), 1);
    /// ```
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        if !self.try_take_writer() {
            return Err(TryLockError::WouldBlock);
        }
        self.poison(RwLockWriteGuard::new(self))
            .map_err(TryLockError::Poisoned)
    }

    /// Whether a writer panicked while it held the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!corio::sync::RwLock::new(()).is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.get()
    }

    /// Clears the poison, as std's `RwLock::clear_poison`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = corio::sync::RwLock::new(());
    /// lock.clear_poison();
    /// assert!(!lock.is_poisoned());
    /// ```
    pub fn clear_poison(&self) {
        self.poisoned.clear();
    }

    /// The value, through `&mut self`: no lock needed.
    ///
    /// # Errors
    ///
    /// A [`PoisonError`](std::sync::PoisonError) holding the reference if the lock is poisoned.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lock = corio::sync::RwLock::new(1);
    /// *lock.get_mut().unwrap() = 2;
    /// assert_eq!(*lock.read().unwrap(), 2);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        self.poisoned.result(self.data.get_mut())
    }

    /// The lines, locked. Nothing panics while they are held, so poisoning
    /// is ignored.
    fn lines(&self) -> MutexGuard<'_, Lines> {
        lock_unpoisoned(&self.lines)
    }

    /// Waits in line until served: a reader's share, or the write lock
    /// (`write`), is the caller's when this returns.
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn wait(&self, what: &str, write: bool) {
        let me = Me::current(what);
        let here = Here::now();
        let mut lines = self.lines();
        loop {
            let state = self.state.load(Ordering::Relaxed);
            let free = if write {
                state == 0
            } else {
                state & (WRITER | QUEUED) == 0
            };
            if free {
                let (next, ordering) = if write {
                    (WRITER, Ordering::Acquire)
                } else {
                    (state + READER, Ordering::Acquire)
                };
                if self
                    .state
                    .compare_exchange(state, next, ordering, Ordering::Relaxed)
                    .is_ok()
                {
                    if write {
                        self.writer.set(Whom::current());
                    }
                    return;
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
        let holder = if self.state.load(Ordering::Relaxed) & WRITER != 0 {
            self.writer.whom()
        } else {
            // Readers hold it: who they are is not kept.
            Whom::Nobody
        };
        let holder: Holder = here.holder_of(holder, &[&lines.writers]);
        let me = match me {
            Ok(me) => me,
            Err(_) if holder.elsewhere => Me::Thread,
            Err(cannot) => {
                let woken = self.settle(&mut lines);
                drop(lines);
                woken.into_iter().for_each(Waker::wake);
                panic!(
                    "{}; the lock is held, and nothing can release it here",
                    cannot.explain(what)
                );
            }
        };
        let line = if write {
            &mut lines.writers
        } else {
            &mut lines.readers
        };
        let entry = line.push(me.waker());
        drop(lines);
        let mut waiting = Waiting {
            lock: self,
            entry,
            write,
            served: false,
        };
        loop {
            let slept = me.sleep(what, Blocker::RwLock(holder), None);
            let lines = self.lines();
            let line = if write {
                &lines.writers
            } else {
                &lines.readers
            };
            if !line.contains(entry) {
                waiting.served = true;
                return;
            }
            drop(lines);
            if let Err(cannot) = slept {
                drop(waiting);
                panic!(
                    "{}; the lock is held, and nothing can release it here",
                    cannot.explain(what)
                );
            }
        }
    }

    /// `guard` as a `LockResult`, by the poison.
    fn poison<G>(&self, guard: G) -> LockResult<G> {
        self.poisoned.result(guard)
    }

    /// Releases a reader's share.
    fn read_unlock(&self) {
        let before = self.state.fetch_sub(READER, Ordering::AcqRel);
        if before == READER | QUEUED {
            // The last reader left, and somebody waits.
            self.settle_now();
        }
    }

    /// Releases the write lock.
    fn write_unlock(&self) {
        self.writer.clear();
        if self
            .state
            .compare_exchange(WRITER, 0, Ordering::Release, Ordering::Relaxed)
            .is_err()
        {
            // `QUEUED`: hand it over under the lines' lock.
            let mut lines = self.lines();
            self.state.fetch_and(!WRITER, Ordering::Release);
            let woken = self.settle(&mut lines);
            drop(lines);
            woken.into_iter().for_each(Waker::wake);
        }
    }

    /// [`RwLock::settle`] under the lines' lock, then the wake-ups.
    fn settle_now(&self) {
        let woken = self.settle(&mut self.lines());
        woken.into_iter().for_each(Waker::wake);
    }

    /// Brings `state` in step with the lines after a release or a waiter
    /// leaving: a free lock goes to the oldest writer, or to every waiting
    /// reader if no writer waits; readers queued behind a writer that left
    /// come in; `QUEUED` stays set exactly while somebody waits. Returns
    /// whom to wake, once the lines are unlocked.
    fn settle(&self, lines: &mut Lines) -> Vec<Waker> {
        if lines.is_empty() {
            self.state.fetch_and(!QUEUED, Ordering::Release);
            return Vec::new();
        }
        // Somebody waits, so `QUEUED` is set: no fast path gets in, and
        // only releases of current holders change `state` meanwhile.
        let state = self.state.load(Ordering::Acquire);
        if state & WRITER != 0 {
            return Vec::new(); // its release settles
        }
        if state / READER == 0
            && let Some(writer) = lines.writers.pop()
        {
            self.writer.set(writer.whom());
            let queued = if lines.is_empty() { 0 } else { QUEUED };
            self.state.store(WRITER | queued, Ordering::Release);
            return vec![writer];
        }
        if !lines.writers.is_empty() {
            return Vec::new(); // readers hold it; the last one settles
        }
        let readers: Vec<Waker> = std::iter::from_fn(|| lines.readers.pop()).collect();
        self.state
            .fetch_add(readers.len() * READER, Ordering::Release);
        self.state.fetch_and(!QUEUED, Ordering::Release);
        readers
    }
}

/// A place in an [`RwLock`]'s line. Dropped before it was served (an
/// unwind, a wait that cannot go on) it leaves the line; served but
/// dropped unused, it releases what it was handed.
struct Waiting<'a, T: ?Sized> {
    /// The lock waited for.
    lock: &'a RwLock<T>,
    /// The place in its line.
    entry: Entry,
    /// Whether it waits to write.
    write: bool,
    /// Set once the waiter has taken what it was handed.
    served: bool,
}

impl<T: ?Sized> Drop for Waiting<'_, T> {
    fn drop(&mut self) {
        if self.served {
            return;
        }
        let mut lines = self.lock.lines();
        let line = if self.write {
            &mut lines.writers
        } else {
            &mut lines.readers
        };
        if line.remove(self.entry) {
            let woken = self.lock.settle(&mut lines);
            drop(lines);
            woken.into_iter().for_each(Waker::wake);
        } else {
            drop(lines);
            if self.write {
                self.lock.write_unlock();
            } else {
                self.lock.read_unlock();
            }
        }
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Ok(guard) => d.field("data", &&*guard),
            Err(TryLockError::Poisoned(guard)) => d.field("data", &&**guard.get_ref()),
            Err(TryLockError::WouldBlock) => d.field("data", &format_args!("<locked>")),
        };
        d.field("poisoned", &self.poisoned.get())
            .finish_non_exhaustive()
    }
}

/// Shared access to a read-locked [`RwLock`]; dropping it releases it.
///
/// # Examples
///
/// ```
/// let lock = corio::sync::RwLock::new(3);
/// let guard = lock.read().unwrap();
/// assert_eq!(*guard, 3);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    /// The read-locked lock.
    lock: &'a RwLock<T>,
    /// Not `Send`, as std's guard.
    not_send: PhantomData<*const ()>,
}

// SAFETY: it only hands out `&T` (as std's `RwLockReadGuard`).
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockReadGuard<'a, T> {
    /// The guard of a reader's share just taken.
    fn new(lock: &'a RwLock<T>) -> RwLockReadGuard<'a, T> {
        RwLockReadGuard {
            lock,
            not_send: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: a read guard exists, so no write guard does (the `data`
        // invariant); shared references only.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.read_unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Exclusive access to a write-locked [`RwLock`]; dropping it releases it
/// (and poisons it if the coroutine is panicking).
///
/// # Examples
///
/// ```
/// let lock = corio::sync::RwLock::new(3);
/// *lock.write().unwrap() += 1;
/// assert_eq!(*lock.read().unwrap(), 4);
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    /// The write-locked lock.
    lock: &'a RwLock<T>,
    /// Not `Send`, as std's guard.
    not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only hands out `&T` (as std's
// `RwLockWriteGuard`).
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// The guard of a write lock just taken.
    fn new(lock: &'a RwLock<T>) -> RwLockWriteGuard<'a, T> {
        RwLockWriteGuard {
            lock,
            not_send: PhantomData,
        }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the only guard (the `data` invariant).
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the only guard, and `&mut self`.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.poisoned.on_guard_drop();
        self.lock.write_unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
