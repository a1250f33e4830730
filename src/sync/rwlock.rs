//! `RwLock` for coroutines: std's names, poisoning and error types, and
//! waiting suspends only the calling coroutine.

use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, TryLockError, TryLockResult};

use super::poison::Poison;
use super::wait_queue::WaitQueue;
use crate::scheduler::{self, Blocker, TaskId};

/// A reader-writer lock for coroutines; `std::sync::RwLock` for one
/// runtime: any number of readers, or one writer.
///
/// Writers are preferred: once a writer waits, new readers wait behind it,
/// so readers cannot starve it; a released lock goes straight to the
/// oldest waiting writer, or, if none waits, to every waiting reader. As in
/// std, a writer that panics poisons the lock.
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
pub struct RwLock<T: ?Sized> {
    /// Read guards alive.
    readers: Cell<usize>,
    /// Whether a write guard is alive (or the lock was handed to a waiting
    /// writer that has not run yet).
    writing: Cell<bool>,
    /// The writer, for the hand-over; `None` outside a coroutine.
    writer: Cell<Option<TaskId>>,
    /// Set when a write guard is dropped during a panic.
    poisoned: Poison,
    /// Writers waiting, oldest first.
    waiting_writers: WaitQueue,
    /// Readers waiting, oldest first.
    waiting_readers: WaitQueue,
    /// The data. Invariant: `&mut` to it only inside a write guard, which
    /// exists only while no read guard does; `&` only inside guards.
    data: UnsafeCell<T>,
}

impl<T> RwLock<T> {
    /// A new, unlocked lock holding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = corio::sync::RwLock::new(5);
    /// assert_eq!(*lock.read().unwrap(), 5);
    /// ```
    pub fn new(value: T) -> RwLock<T> {
        RwLock {
            readers: Cell::new(0),
            writing: Cell::new(false),
            writer: Cell::new(None),
            poisoned: Poison::default(),
            waiting_writers: WaitQueue::new(),
            waiting_readers: WaitQueue::new(),
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
    /// Whether a reader may come in now: nobody writes, and no writer waits
    /// (writers are preferred).
    fn readable(&self) -> bool {
        !self.writing.get() && self.waiting_writers.len() == 0
    }

    /// Locks for reading, suspending the calling coroutine while a writer
    /// holds the lock or waits for it.
    ///
    /// # Errors
    ///
    /// A [`PoisonError`](std::sync::PoisonError) holding the guard if a writer panicked.
    ///
    /// # Panics
    ///
    /// If it has to wait where no coroutine can (outside a runtime, in the
    /// scheduler's own code, while the runtime shuts down).
    ///
    /// # Examples
    ///
    /// See [`RwLock`].
    #[track_caller]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        const WHAT: &str = "RwLock::read";
        while !self.readable() {
            self.wait(WHAT, &self.waiting_readers);
            // Woken when the writers are done: come in if still free.
        }
        self.readers.set(self.readers.get() + 1);
        self.poison(RwLockReadGuard { lock: self })
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
        if !self.readable() {
            return Err(TryLockError::WouldBlock);
        }
        self.readers.set(self.readers.get() + 1);
        self.poison(RwLockReadGuard { lock: self })
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
    /// As [`read`](RwLock::read); also if the calling coroutine holds the
    /// write lock already.
    ///
    /// # Examples
    ///
    /// See [`RwLock`].
    #[track_caller]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        const WHAT: &str = "RwLock::write";
        if !self.writing.get() && self.readers.get() == 0 {
            self.writing.set(true);
            self.writer.set(scheduler::try_running_id());
            return self.poison(RwLockWriteGuard { lock: self });
        }
        let me = scheduler::try_running_id();
        if me.is_some() && self.writing.get() && self.writer.get() == me {
            panic!(
                "{WHAT}: this coroutine already holds the write lock; locking it again would wait forever"
            );
        }
        loop {
            self.wait(WHAT, &self.waiting_writers);
            // Handed over by a release: ours now.
            if self.writing.get() && self.writer.get() == me {
                return self.poison(RwLockWriteGuard { lock: self });
            }
            if !self.writing.get() && self.readers.get() == 0 {
                self.writing.set(true);
                self.writer.set(me);
                return self.poison(RwLockWriteGuard { lock: self });
            }
        }
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
        if self.writing.get() || self.readers.get() > 0 {
            return Err(TryLockError::WouldBlock);
        }
        self.writing.set(true);
        self.writer.set(scheduler::try_running_id());
        self.poison(RwLockWriteGuard { lock: self })
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

    /// Waits once in `queue`.
    #[track_caller]
    fn wait(&self, what: &str, queue: &WaitQueue) {
        if let Err(cannot) = queue.wait_once(what, Blocker::RwLock) {
            panic!(
                "{}; the lock is held, and nothing can release it here",
                cannot.explain(what)
            );
        }
    }

    /// `guard` as a `LockResult`, by the poison.
    fn poison<G>(&self, guard: G) -> LockResult<G> {
        self.poisoned.result(guard)
    }

    /// Nobody holds the lock any more: hand it to the oldest waiting
    /// writer, or let every waiting reader in.
    fn released(&self) {
        if let Some(next) = self.waiting_writers.notify_one_id() {
            self.writing.set(true);
            self.writer.set(Some(next));
        } else {
            self.waiting_readers.notify_all();
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
        let left = self.lock.readers.get() - 1;
        self.lock.readers.set(left);
        if left == 0 {
            self.lock.released();
        }
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
        self.lock.writing.set(false);
        self.lock.writer.set(None);
        self.lock.released();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
