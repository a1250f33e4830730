//! Deadlines of sleeping coroutines and of timed-out waits.
//!
//! A leaf: it knows nothing of the scheduler. What a timer wakes is a `T`
//! of the caller's choosing (the scheduler uses its `TaskId`).
//!
//! # Why a B-tree
//!
//! A `BTreeMap` keyed by one `u128`: the deadline in nanoseconds since the
//! structure's epoch in the high 64 bits, a sequence number in the low 64.
//! The sequence number makes every key unique and makes timers with equal
//! deadlines fire in the order they were set. The earliest deadline is the
//! map's first key, so "how long may the poller block" is
//! `first_key_value`, and firing is `pop_first` until the first key lies in
//! the future. Cancelling (a socket became ready before its timeout) removes
//! the key, so nothing stale piles up and the map's size is always the
//! number of armed timers.
//!
//! The alternatives were raced with a million pending deadlines spread
//! over 100 ms, each step firing the earliest and arming a new one
//! (`cargo run --release --example timers -- --structures`; the figures,
//! with the commit and machine, are in `docs/results/timer_structures.md`).
//! The same map keyed by `(Instant, u64)` is slower (24-byte keys, fewer
//! per node). A `BinaryHeap` keyed the same way runs that race about as
//! fast as this map, but the race cancels nothing, and corio cancels a
//! timer whenever a socket becomes ready before its timeout: a heap can
//! only leave a tombstone, so its size would follow the timeouts ever
//! set rather than those still armed. A hashed timing wheel inserts in
//! O(1), but keeps neither the exact order of equal deadlines nor
//! nanosecond deadlines without sorting its slots; the tree keeps both.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Identifies one armed timer, for cancelling it.
pub(crate) type TimerKey = u128;

/// The armed timers of one runtime.
pub(crate) struct Timers<T> {
    /// `deadline_ns << 64 | sequence` → the task to wake.
    entries: BTreeMap<TimerKey, T>,
    /// What deadlines are counted from; any instant before it counts as it.
    epoch: Instant,
    /// Sequence number for the next timer; breaks ties between equal deadlines.
    next_seq: u64,
}

impl<T> Default for Timers<T> {
    fn default() -> Timers<T> {
        Timers {
            entries: BTreeMap::new(),
            epoch: Instant::now(),
            next_seq: 0,
        }
    }
}

impl<T> Timers<T> {
    /// Nanoseconds from the epoch to `at`: 0 before it, `u64::MAX` (584
    /// years on) beyond what 64 bits hold.
    fn ticks(&self, at: Instant) -> u64 {
        let since = at.saturating_duration_since(self.epoch);
        u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Arms a timer that wakes `task` at `at`.
    pub(crate) fn insert(&mut self, at: Instant, task: T) -> TimerKey {
        let key = (u128::from(self.ticks(at)) << 64) | u128::from(self.next_seq);
        self.next_seq += 1;
        self.entries.insert(key, task);
        key
    }

    /// The deadline of the timer `key` (as its key holds it, to the
    /// nanosecond from the epoch).
    pub(crate) fn deadline(&self, key: TimerKey) -> Instant {
        self.epoch + Duration::from_nanos((key >> 64) as u64)
    }

    /// Disarms a timer; a timer that already fired is ignored.
    pub(crate) fn cancel(&mut self, key: TimerKey) {
        self.entries.remove(&key);
    }

    /// The earliest deadline, if any timer is armed.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let (&key, _) = self.entries.first_key_value()?;
        let nanos = u64::try_from(key >> 64).expect("the high half of a u128 fits a u64");
        // `Instant` holds 584 years on from any epoch on Linux (its seconds
        // are an i64); were it not so, the poller would wait the longest
        // it can, which is as good as never.
        let far = Duration::from_secs(u64::from(u32::MAX));
        let after = Duration::from_nanos(nanos);
        Some(self.epoch.checked_add(after).unwrap_or(self.epoch + far))
    }

    /// Removes and returns the earliest timer that is due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<T> {
        let now = u128::from(self.ticks(now));
        let entry = self.entries.first_entry()?;
        if (*entry.key() >> 64) > now {
            return None;
        }
        Some(entry.remove())
    }

    /// How many timers are armed.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
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

#[cfg(test)]
mod tests {
    use super::Timers;
    use std::time::{Duration, Instant};

    #[test]
    fn equal_deadlines_fire_in_the_order_they_were_set() {
        let mut timers = Timers::default();
        let at = Instant::now() + Duration::from_micros(5);
        for i in 0..100 {
            timers.insert(at, i);
        }
        let later = at + Duration::from_micros(1);
        let fired: Vec<i32> = std::iter::from_fn(|| timers.pop_due(later)).collect();
        assert_eq!(fired, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn earlier_deadlines_fire_first_and_future_ones_wait() {
        let mut timers = Timers::default();
        let now = Instant::now();
        timers.insert(now + Duration::from_nanos(300), 'c');
        timers.insert(now + Duration::from_nanos(100), 'a');
        timers.insert(now + Duration::from_nanos(200), 'b');
        let late = timers.insert(now + Duration::from_secs(1), 'z');
        assert_eq!(timers.len(), 4);
        let due = now + Duration::from_nanos(300);
        let fired: Vec<char> = std::iter::from_fn(|| timers.pop_due(due)).collect();
        assert_eq!(fired, ['a', 'b', 'c']);
        let next = timers.next_deadline().expect("one is armed");
        assert_eq!(next, now + Duration::from_secs(1));
        timers.cancel(late);
        assert!(timers.is_empty());
    }

    #[test]
    fn past_and_far_future_deadlines_are_clamped_not_lost() {
        let mut timers = Timers::default();
        let epoch = timers.epoch;
        // Before the epoch: due at once.
        if let Some(past) = epoch.checked_sub(Duration::from_secs(1)) {
            timers.insert(past, 1);
            assert_eq!(timers.pop_due(epoch), Some(1));
        }
        // 600 years on: armed, never due within a run.
        if let Some(far) = epoch.checked_add(Duration::from_secs(600 * 365 * 86_400)) {
            timers.insert(far, 2);
            assert_eq!(timers.pop_due(epoch + Duration::from_secs(3600)), None);
            assert!(timers.next_deadline().expect("armed") > epoch + Duration::from_secs(3600));
        }
    }
}
