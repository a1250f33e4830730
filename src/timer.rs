//! Deadlines of sleeping coroutines and of timed-out waits.
//!
//! A leaf: it knows nothing of the scheduler. What a timer wakes is a `T`
//! of the caller's choosing (the scheduler uses its `TaskId`).
//!
//! A `BTreeMap` keyed by `(Instant, sequence)`: the sequence number makes every
//! key unique and makes timers with equal deadlines fire in the order they
//! were set. The earliest deadline is the map's first key, so "how long may
//! the poller block" is `first_key_value`, and firing is `pop_first` until the
//! first key lies in the future. Cancelling (a socket became ready before its
//! timeout) removes the key, so nothing stale piles up.

use std::collections::BTreeMap;
use std::time::Instant;

/// Identifies one armed timer, for cancelling it.
pub(crate) type TimerKey = (Instant, u64);

/// The armed timers of one runtime.
pub(crate) struct Timers<T> {
    /// Deadline and sequence number → the task to wake.
    entries: BTreeMap<TimerKey, T>,
    /// Sequence number for the next timer; breaks ties between equal deadlines.
    next_seq: u64,
}

impl<T> Default for Timers<T> {
    fn default() -> Timers<T> {
        Timers {
            entries: BTreeMap::new(),
            next_seq: 0,
        }
    }
}

impl<T> Timers<T> {
    /// Arms a timer that wakes `task` at `at`.
    pub(crate) fn insert(&mut self, at: Instant, task: T) -> TimerKey {
        let key = (at, self.next_seq);
        self.next_seq += 1;
        self.entries.insert(key, task);
        key
    }

    /// Disarms a timer; a timer that already fired is ignored.
    pub(crate) fn cancel(&mut self, key: TimerKey) {
        self.entries.remove(&key);
    }

    /// The earliest deadline, if any timer is armed.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.entries.first_key_value().map(|((at, _), _)| *at)
    }

    /// Removes and returns the earliest timer that is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<T> {
        let entry = self.entries.first_entry()?;
        if entry.key().0 > now {
            return None;
        }
        Some(entry.remove())
    }

    /// Whether no timer is armed.
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Disarms every timer at once (a runtime being torn down): linear, where
    /// cancelling them one by one would cost a search each.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}
