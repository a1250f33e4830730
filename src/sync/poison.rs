//! The poison flag `Mutex` and `RwLock` share, as std's locks have: set when
//! a guard is dropped during a panic, reported through std's `PoisonError`.

use std::cell::Cell;
use std::sync::{LockResult, PoisonError};

/// Whether a holder panicked. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct Poison {
    /// Set by a guard dropped while its coroutine panicked.
    poisoned: Cell<bool>,
}

impl Poison {
    /// Whether a holder panicked.
    pub(crate) fn get(&self) -> bool {
        self.poisoned.get()
    }

    /// Clears it (`clear_poison`).
    pub(crate) fn clear(&self) {
        self.poisoned.set(false);
    }

    /// Called by a guard's drop: poisons if the coroutine is panicking.
    #[inline]
    pub(crate) fn on_guard_drop(&self) {
        if std::thread::panicking() {
            self.poisoned.set(true);
        }
    }

    /// `value` as a `LockResult`: an error that still holds it if poisoned.
    #[inline]
    pub(crate) fn result<G>(&self, value: G) -> LockResult<G> {
        if self.poisoned.get() {
            Err(PoisonError::new(value))
        } else {
            Ok(value)
        }
    }
}
