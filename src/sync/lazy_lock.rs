//! `LazyLock`: a value made on first use, std's, for coroutines and
//! threads; built on this module's `OnceLock`.

use std::cell::UnsafeCell;
use std::fmt;
use std::ops::Deref;

use super::once::OnceLock;

/// A value made by its function on first access; `std::sync::LazyLock`
/// for coroutines as well as threads.
///
/// `new` is `const`, and it is `Sync` where std's is (`T: Send + Sync`,
/// `F: Send`), so it can be a `static` shared by several runtimes and
/// threads. The function runs once among all of them; a coroutine that
/// comes while another runs it suspends until it is done (a thread outside
/// any runtime blocks), so the function may itself suspend (read a socket,
/// sleep) without freezing the other coroutines.
///
/// As std's, if the function panics the `LazyLock` is poisoned, and every
/// later access panics too.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use corio::sync::LazyLock;
///
/// static RUNS: AtomicUsize = AtomicUsize::new(0);
/// static TABLE: LazyLock<Vec<u32>> = LazyLock::new(|| {
///     RUNS.fetch_add(1, Ordering::Relaxed);
///     (0..4).collect()
/// });
///
/// let thread = std::thread::spawn(|| TABLE.len());
/// let in_coroutine = corio::run(|| TABLE[3]);
/// assert_eq!((thread.join().unwrap(), in_coroutine), (4, 3));
/// assert_eq!(RUNS.load(Ordering::Relaxed), 1);
/// ```
pub struct LazyLock<T, F = fn() -> T> {
    /// The value, once made.
    once: OnceLock<T>,
    /// The function, until it runs. Invariant: taken only by the caller
    /// that runs `once`'s initialiser (one at a time, by `OnceLock`), or
    /// through `&mut self`.
    init: UnsafeCell<Option<F>>,
}

// SAFETY: shared, a `LazyLock` hands `&T` to every thread (`T: Sync`), and
// the one thread that runs the function takes `F` and makes the `T` there
// (`F: Send`, `T: Send`); `OnceLock` lets only one do so, as std's.
unsafe impl<T: Send + Sync, F: Send> Sync for LazyLock<T, F> {}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    /// A lazy value that `f` will make on first access; `const`, for a
    /// `static`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lazy = corio::sync::LazyLock::new(|| 6 * 7);
    /// assert_eq!(*lazy, 42);
    /// ```
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock {
            once: OnceLock::new(),
            init: UnsafeCell::new(Some(f)),
        }
    }

    /// Makes the value if nobody has yet, and returns it: the same as
    /// dereferencing, by name.
    ///
    /// # Panics
    ///
    /// If the function panics, and on every access after that (the
    /// `LazyLock` is poisoned); as [`OnceLock::get_or_init`] if it is
    /// called from inside its own function.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::sync::LazyLock;
    ///
    /// let lazy = LazyLock::new(|| 92);
    /// assert_eq!(LazyLock::force(&lazy), &92);
    /// assert_eq!(*lazy, 92);
    /// ```
    #[track_caller]
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.once.get_or_init(|| {
            // SAFETY: `OnceLock` runs this closure for one caller at a
            // time, and only until one returns (the `init` invariant).
            let init = unsafe { (*this.init.get()).take() };
            match init {
                Some(f) => f(),
                None => panic!("LazyLock instance has previously been poisoned"),
            }
        })
    }
}

impl<T, F: FnOnce() -> T> Deref for LazyLock<T, F> {
    type Target = T;

    /// See [`LazyLock::force`].
    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T: Default> Default for LazyLock<T> {
    /// A lazy value made by `T::default`.
    fn default() -> LazyLock<T> {
        LazyLock::new(T::default)
    }
}

impl<T: fmt::Debug, F> fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_tuple("LazyLock");
        match self.once.get() {
            Some(value) => d.field(value),
            None => d.field(&format_args!("<uninit>")),
        };
        d.finish()
    }
}
