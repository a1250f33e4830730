//! When the run queue is empty or a poll falls due: block in the reactor
//! until I/O or the nearest timer, take ready I/O and due timers without
//! blocking while the queue is busy, and run the jobs other threads posted.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::context;
use super::metrics::bump;
use super::task::{Parked, ParkedOn, SlotState};
use super::{Core, Wake};
use crate::trace::{self, EventKind, WakeCause};

/// Fewest tasks alive at once that make their drop to a quarter a large
/// drop, worth a trim ([`Core::trim_after_drop`]): below it the memory at
/// stake is a few MiB, and a runtime that idles between small bursts
/// should not pay a heap walk each time.
const TRIM_PEAK: usize = 4096;

impl Core {
    /// While the run queue is busy: take whatever I/O and timers are ready,
    /// without waiting. Costs nothing when there is nothing to watch. Runs
    /// as scheduler code (no coroutine current: a wake-up's log line runs a
    /// user's backend), whoever's tick fell due.
    #[cold]
    #[inline(never)]
    pub(super) fn poll_ready_events(&self) {
        self.ticks.reload();
        let has_timers = !self.timers.borrow().is_empty();
        // A job another thread posted since the last poll: its waker's
        // token is waiting in the poller.
        let has_io = self.reactor.has_waiters() || self.remote.has_pending();
        if !has_timers && !has_io {
            return;
        }
        context::as_scheduler(|| {
            if has_io {
                self.poll(Some(Duration::ZERO));
            }
            if has_timers {
                self.fire_timers(self.now());
            }
        });
    }

    /// The run queue is empty: block in the reactor until an event or the
    /// nearest deadline. Returns `false` when nothing at all can wake a task.
    pub(super) fn wait_for_events(&self) -> bool {
        self.trim_after_drop();
        let next_deadline = self.timers.borrow().next_deadline();
        let has_io = self.reactor.has_waiters();
        if next_deadline.is_none() && !has_io {
            return self.wait_for_other_threads();
        }
        self.stuck_since.set(None);
        match next_deadline {
            None => self.poll(None),
            Some(at) => {
                let now = self.now();
                if at > now {
                    if self.virtual_time && !has_io && self.may_jump() {
                        // Nothing but this timer can happen before it:
                        // a virtual clock goes there at once.
                        self.jump_to(at);
                    } else {
                        // The timerfd ends the wait to the microsecond;
                        // should arming fail, a millisecond timeout still
                        // does.
                        match self.reactor.arm(at, now) {
                            Ok(()) => self.poll(None),
                            Err(_) => self.poll(Some(at - now)),
                        }
                    }
                }
                self.fire_timers(self.now());
            }
        }
        true
    }

    /// Gives memory back after a large drop, at the runtime's first idle
    /// moment after it: when at most a quarter of the most tasks alive at
    /// once since the last trim are left, and that most was at least
    /// [`TRIM_PEAK`]. The task table shrinks down to its highest live
    /// key (a slab cannot move its entries), the run queue's ring comes
    /// down to what it holds, the stack pool releases every
    /// free stack beyond its hot set and unmaps chunks left with no stack
    /// in use ([`StackPool::trim`](crate::stack::StackPool::trim)), and the
    /// C heap gives its free pages back (`malloc_trim`, where glibc has
    /// it), among them those of the freed tasks. Costs one comparison
    /// otherwise; a busy runtime that never idles keeps the memory until
    /// it does.
    fn trim_after_drop(&self) {
        let peak = self.live_peak.get();
        let live = self.tasks.borrow().len();
        if peak < TRIM_PEAK || live > peak / 4 {
            return;
        }
        self.live_peak.set(live);
        self.tasks.borrow_mut().shrink_to_fit();
        self.run_queue.shrink();
        self.stacks.borrow_mut().trim();
        crate::stack::trim_heap();
    }

    /// Whether a virtual clock may jump to the next timer: no other thread
    /// has posted work, none holds a `Handle`, and no task waits for one (a
    /// blocking job, a task of another runtime). A channel receive does not
    /// hold the clock back: the runtime cannot tell whether a `Sender` went
    /// to another thread until it sends (`Builder::virtual_time` says so).
    ///
    /// O(1) whatever the number of tasks: a parked task that another thread
    /// will surely wake is counted as it parks (`Core::park`), not looked
    /// for here.
    #[cold]
    fn may_jump(&self) -> bool {
        if self.remote.has_pending() || self.remote.handles.load(Ordering::Acquire) > 0 {
            return false;
        }
        // A channel receive or a `Handle` only *may* be woken from another
        // thread (`Some(false)`) and does not hold the clock back; the live
        // handles were refused above.
        self.parked_for_other_threads.get() == 0
    }

    /// No timer, no socket: only another thread can wake a task now, if any
    /// can. Waits for one; `false` (a deadlock) when none can.
    #[cold]
    fn wait_for_other_threads(&self) -> bool {
        if self.remote.has_jobs() {
            self.drain_inbox();
            return true;
        }
        match self.other_threads_may_wake() {
            None => false,
            Some(_) => {
                self.wait_patiently();
                true
            }
        }
    }

    /// Whether a task may be woken by another thread: `Some(true)` if one
    /// surely will be (a blocking job, a task of another runtime),
    /// `Some(false)` if one may be (a channel receive, a live `Handle`),
    /// `None` if nothing outside this runtime can wake any task.
    pub(super) fn other_threads_may_wake(&self) -> Option<bool> {
        debug_assert_eq!(
            self.parked_for_other_threads.get(),
            self.tasks
                .borrow()
                .iter()
                .filter(|(_, slot)| match &slot.state {
                    SlotState::Parked(parked) => parked.on.surely_woken_elsewhere(),
                    SlotState::Scheduled => false,
                })
                .count(),
            "the count of tasks parked for other threads went astray"
        );
        if self.parked_for_other_threads.get() > 0 {
            return Some(true);
        }
        let mut may = (self.remote.handles.load(Ordering::Acquire) > 0).then_some(false);
        for (_, slot) in self.tasks.borrow().iter() {
            if let SlotState::Parked(Parked {
                on: ParkedOn::Blocker(blocker),
                ..
            }) = &slot.state
            {
                match blocker.other_threads() {
                    Some(true) => return Some(true),
                    Some(false) => may = Some(false),
                    None => {}
                }
            }
        }
        may
    }

    /// One `epoll_wait`, then wake every task whose socket became ready.
    pub(super) fn poll(&self, timeout: Option<Duration>) {
        bump(&self.stats.polls, 1);
        let mut woken = self.poll_woken.take();
        let began = self.trace.is_some().then(trace::clock);
        // A blocking poll is no stall: the watchdog must not see one.
        let blocking = timeout != Some(Duration::ZERO);
        let was_busy = self.ticks.pulse.beat().busy;
        if blocking {
            self.ticks.pulse.set_busy(false);
        }
        let events = self.reactor.poll(timeout, &mut woken);
        if blocking {
            self.ticks.pulse.set_busy(was_busy);
        }
        bump(&self.stats.events, events as u64);
        if let Some(began) = began {
            // In clock ticks until the trace is taken (`Recorder::take`).
            self.trace(0, || EventKind::Poll {
                events: u32::try_from(events).unwrap_or(u32::MAX),
                waited_ns: trace::clock().wrapping_sub(began),
            });
        }
        let _cause = Waking::begin(self, WakeCause::Io);
        // Borrows of the reactor are released: now wake, in event order.
        for id in woken.drain(..) {
            self.wake(id, Wake::Notified);
        }
        self.poll_woken.set(woken);
        if self.reactor.take_woken() {
            self.drain_inbox();
        }
    }

    /// Wakes every task whose deadline is at or before `now`, earliest first,
    /// ties in the order the timers were set (their `Wake::TimedOut` names
    /// the timer as the cause).
    pub(super) fn fire_timers(&self, now: Instant) {
        loop {
            let due = self.timers.borrow_mut().pop_due(now);
            match due {
                Some(id) => self.wake(id, Wake::TimedOut),
                None => break,
            }
        }
    }
}

/// Names what wakes tasks for the trace while it lives (the poll, the
/// inbox); puts the previous cause back when dropped.
pub(super) struct Waking<'a> {
    core: &'a Core,
    previous: Option<WakeCause>,
}

impl<'a> Waking<'a> {
    pub(super) fn begin(core: &'a Core, cause: WakeCause) -> Waking<'a> {
        Waking {
            core,
            previous: core.waking.replace(Some(cause)),
        }
    }
}

impl Drop for Waking<'_> {
    fn drop(&mut self) {
        self.core.waking.set(self.previous);
    }
}
