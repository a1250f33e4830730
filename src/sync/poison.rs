//! The poison flag `Mutex` and `RwLock` share, as std's locks have: set when
//! a guard is dropped during a panic, reported through std's `PoisonError`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LockResult, PoisonError};

/// Whether a holder panicked. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Poison {
    /// Set by a guard dropped while its holder panicked. Relaxed: it is
    /// written and read under the lock it belongs to, whose own atomics
    /// order it.
    poisoned: AtomicBool,
}

impl Poison {
    /// Not poisoned.
    pub(crate) const fn new() -> Poison {
        Poison {
            poisoned: AtomicBool::new(false),
        }
    }

    /// Whether a holder panicked.
    pub(crate) fn get(&self) -> bool {
        self.poisoned.load(Ordering::Relaxed)
    }

    /// Clears it (`clear_poison`).
    pub(crate) fn clear(&self) {
        self.poisoned.store(false, Ordering::Relaxed);
    }

    /// Called by a guard's drop: poisons if the holder is panicking.
    #[inline]
    pub(crate) fn on_guard_drop(&self) {
        if std::thread::panicking() {
            self.poisoned.store(true, Ordering::Relaxed);
        }
    }

    /// `value` as a `LockResult`: an error that still holds it if poisoned.
    #[inline]
    pub(crate) fn result<G>(&self, value: G) -> LockResult<G> {
        if self.get() {
            Err(PoisonError::new(value))
        } else {
            Ok(value)
        }
    }
}
