//! Who waits for a lock that may live in a `static`, and who holds it: the
//! parts `Mutex`, `RwLock`, `Condvar`, `Once`, `OnceLock`, `Barrier` and
//! `Semaphore` share now that they are `Sync` (the last two keep their
//! [`List`] beside their own count, under one std lock).
//!
//! A waiter is a coroutine of any runtime or a plain OS thread. They queue
//! in a FIFO ([`Waiters`]) guarded by a std `Mutex` (whose `new` is
//! `const`), taken only on the slow paths, never across a switch or a
//! wake-up. A coroutine is woken through its runtime ([`SendWaker`]: direct
//! from its own runtime, through the runtime's inbox from anywhere else); a
//! thread through `Thread::unpark`.
//!
//! A waiter learns that it was served by finding its [`Entry`] gone from
//! the list (under the list's lock), never by the wake-up itself: a
//! wake-up may be stray, and a served waiter may find out late. Since every
//! serve pops the entry under the lock before it wakes, and every waiter
//! checks under the same lock after it wakes, no wake-up is lost: a thread's
//! `unpark` before its `park` makes the `park` return at once, and a
//! coroutine's wake-up job cannot run before the coroutine has switched out
//! (its runtime's thread is busy running it until then).
//!
//! [`Owner`] records who holds a lock, for the deadlock report and for the
//! "already holds it" panic; [`Here::holder`] turns it into the
//! [`Holder`] a parked coroutine shows the scheduler.

use std::sync::MutexGuard;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::thread::{self, Thread};
use std::time::Instant;

use super::linked::{Link, Linked};

use crate::scheduler::{
    self, Blocker, CannotWait, Holder, SendWaker, Suspend, TaskId, lock_unpoisoned,
};

/// How to wake one waiter.
pub(super) enum Waker {
    /// A coroutine, through its runtime.
    Task(SendWaker),
    /// An OS thread blocked in `park`, and its [`thread_token`].
    Thread(Thread, u64),
}

impl Waker {
    /// Wakes the waiter; call it with no lock held.
    pub(super) fn wake(self) {
        match self {
            Waker::Task(task) => task.wake(),
            Waker::Thread(thread, _) => thread.unpark(),
        }
    }

    /// The waiter's runtime, `None` for a thread.
    fn runtime(&self) -> Option<u32> {
        match self {
            Waker::Task(task) => Some(task.id().runtime()),
            Waker::Thread(..) => None,
        }
    }

    /// The waiter as the new holder of what it waited for.
    pub(super) fn whom(&self) -> Whom {
        match self {
            Waker::Task(task) => Whom::Task(task.id()),
            Waker::Thread(_, token) => Whom::Thread(*token),
        }
    }
}

/// One waiter in the list.
struct Queued {
    /// Who to wake.
    waker: Waker,
    /// Tells this waiter from a later one given the same key.
    ticket: u64,
}

/// A waiter's place in a [`List`], to find out whether it is still there.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    /// The node's key.
    key: Link,
    /// The node's ticket: the key alone may be reused.
    ticket: u64,
}

/// The waiters, oldest first: a [`Linked`] list, so that a waiter that
/// gives up (a timeout, an unwind) leaves without a search.
pub(super) struct List {
    /// Every waiter, by key.
    queued: Linked<Queued>,
    /// The next waiter's ticket.
    next_ticket: u64,
    /// Waiters that are threads, not coroutines.
    threads: usize,
    /// Waiting coroutines per runtime: `(runtime, count)`, counts above 0.
    /// A handful of runtimes at most, so a `Vec` searched in line.
    runtimes: Vec<(u32, usize)>,
}

impl List {
    /// No waiter.
    pub(super) const fn new() -> List {
        List {
            queued: Linked::new(),
            next_ticket: 0,
            threads: 0,
            runtimes: Vec::new(),
        }
    }

    /// Appends a waiter; returns its place.
    pub(super) fn push(&mut self, waker: Waker) -> Entry {
        self.count(waker.runtime(), true);
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        let key = self.queued.push_back(Queued { waker, ticket });
        Entry { key, ticket }
    }

    /// Removes the oldest waiter and returns how to wake it.
    pub(super) fn pop(&mut self) -> Option<Waker> {
        let queued = self.queued.pop_front()?;
        Some(self.counted_out(queued))
    }

    /// Removes `entry` if it is still queued; `false` if it was served.
    pub(super) fn remove(&mut self, entry: Entry) -> bool {
        let queued = self.contains(entry);
        if queued {
            let gone = self.queued.remove(entry.key);
            self.counted_out(gone);
        }
        queued
    }

    /// Whether `entry` is still queued (not served yet).
    pub(super) fn contains(&self, entry: Entry) -> bool {
        self.queued
            .get(entry.key)
            .is_some_and(|queued| queued.ticket == entry.ticket)
    }

    /// How many wait.
    pub(super) fn len(&self) -> usize {
        self.queued.len()
    }

    /// Whether nobody waits.
    pub(super) fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Whether a waiter is not a coroutine of runtime `runtime`: a thread,
    /// or a coroutine of another runtime.
    fn foreign_to(&self, runtime: u32) -> bool {
        self.threads > 0 || self.runtimes.iter().any(|&(r, _)| r != runtime)
    }

    /// A waiter just taken out of the list, no longer counted.
    fn counted_out(&mut self, queued: Queued) -> Waker {
        self.count(queued.waker.runtime(), false);
        queued.waker
    }

    /// Counts a waiter of `runtime` (`None`: a thread) in or out.
    fn count(&mut self, runtime: Option<u32>, add: bool) {
        let Some(runtime) = runtime else {
            self.threads = if add {
                self.threads + 1
            } else {
                self.threads - 1
            };
            return;
        };
        match self.runtimes.iter().position(|&(r, _)| r == runtime) {
            Some(i) if add => self.runtimes[i].1 += 1,
            Some(i) => {
                self.runtimes[i].1 -= 1;
                if self.runtimes[i].1 == 0 {
                    self.runtimes.swap_remove(i);
                }
            }
            None => self.runtimes.push((runtime, 1)),
        }
    }
}

/// Waiters of one lock, oldest first. See the module docs.
pub(super) struct Waiters {
    /// The list; locked only for list operations, never across a wake-up
    /// or a switch. A std lock: it is `Sync` and `const`, and it is held
    /// for a few instructions, so a coroutine never has to wait for it long.
    list: std::sync::Mutex<List>,
}

impl Waiters {
    /// Nobody waits.
    pub(super) const fn new() -> Waiters {
        Waiters {
            list: std::sync::Mutex::new(List::new()),
        }
    }

    /// The list, locked. Nothing panics while it is held, so poisoning is
    /// ignored.
    pub(super) fn lock(&self) -> MutexGuard<'_, List> {
        lock_unpoisoned(&self.list)
    }

    /// Removes and wakes every waiter, oldest first.
    pub(super) fn wake_all(&self) {
        let woken: Vec<Waker> = {
            let mut list = self.lock();
            std::iter::from_fn(|| list.pop()).collect()
        };
        woken.into_iter().for_each(Waker::wake);
    }
}

/// The caller of a wait: a coroutine, or a thread that blocks (outside any
/// runtime, as with std; or in a runtime's own code, when only another
/// thread can end the wait).
pub(super) enum Me {
    /// The running coroutine.
    Task(SendWaker),
    /// The calling OS thread.
    Thread,
}

impl Me {
    /// The caller: a coroutine, or a thread outside any runtime.
    ///
    /// # Errors
    ///
    /// [`CannotWait`] on a runtime's thread where no coroutine runs; the
    /// caller may then still block the thread as [`Me::Thread`] if only
    /// another thread holds what it waits for.
    #[track_caller]
    pub(super) fn current(what: &str) -> Result<Me, CannotWait> {
        if scheduler::in_runtime() {
            SendWaker::running(what).map(Me::Task)
        } else {
            Ok(Me::Thread)
        }
    }

    /// How to wake the caller, for its entry in a list.
    pub(super) fn waker(&self) -> Waker {
        match self {
            Me::Task(task) => Waker::Task(task.clone()),
            Me::Thread => Waker::Thread(thread::current(), thread_token()),
        }
    }

    /// Sleeps until woken, possibly for another reason, or until
    /// `deadline`: a coroutine suspends (`blocker` tells the scheduler
    /// what on), a thread parks. The caller then looks at its entry.
    ///
    /// # Errors
    ///
    /// [`CannotWait`] if the coroutine cannot suspend any more (its
    /// runtime is shutting down).
    #[track_caller]
    pub(super) fn sleep(
        &self,
        what: &str,
        blocker: Blocker,
        deadline: Option<Instant>,
    ) -> Result<(), CannotWait> {
        match self {
            Me::Task(_) => {
                let reason = match deadline {
                    Some(at) => Suspend::ParkUntil(blocker, at),
                    None => Suspend::Park(blocker),
                };
                scheduler::suspend(what, reason)
            }
            Me::Thread => {
                match deadline {
                    Some(at) => thread::park_timeout(at.saturating_duration_since(Instant::now())),
                    None => thread::park(),
                }
                Ok(())
            }
        }
    }
}

/// Who holds a lock (or runs a one-time initialiser), as [`Owner`] stores
/// it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Whom {
    /// Nobody, or a holder that has not written itself in yet.
    Nobody,
    /// A coroutine (its id without its slot key: `TaskId::unkeyed`).
    Task(TaskId),
    /// Code outside any coroutine, on the thread with this
    /// [`thread_token`].
    Thread(u64),
}

impl Whom {
    /// The caller: the running coroutine, or this thread.
    #[inline]
    pub(super) fn current() -> Whom {
        match scheduler::try_running_id() {
            Some(id) => Whom::Task(id),
            None => Whom::Thread(thread_token()),
        }
    }
}

/// Who holds a lock: written by the holder when it takes the lock, or by
/// the one that hands it over, under the waiters' lock. Two relaxed
/// atomics: a reader on another thread may see a torn pair, which names a
/// wrong holder but never one of the reader's own runtime (only that
/// runtime's thread, or a hand-over under the waiters' lock the reader
/// also holds, writes its id), so the deadlock judgement stays right.
pub(super) struct Owner {
    /// The holding coroutine's runtime, or 0 when the holder is not a
    /// coroutine (runtime ids start at 1).
    runtime: AtomicU32,
    /// The holding coroutine's serial, or the holding thread's token; 0
    /// for nobody.
    who: AtomicU64,
}

impl Owner {
    /// Nobody.
    pub(super) const fn new() -> Owner {
        Owner {
            runtime: AtomicU32::new(0),
            who: AtomicU64::new(0),
        }
    }

    /// Records `whom`.
    #[inline]
    pub(super) fn set(&self, whom: Whom) {
        let (runtime, who) = match whom {
            Whom::Nobody => (0, 0),
            Whom::Task(id) => (id.runtime(), id.serial()),
            Whom::Thread(token) => (0, token),
        };
        self.runtime.store(runtime, Ordering::Relaxed);
        self.who.store(who, Ordering::Relaxed);
    }

    /// Records nobody.
    #[inline]
    pub(super) fn clear(&self) {
        self.set(Whom::Nobody);
    }

    /// The holder.
    pub(super) fn whom(&self) -> Whom {
        let runtime = self.runtime.load(Ordering::Relaxed);
        let who = self.who.load(Ordering::Relaxed);
        match (runtime, who) {
            (_, 0) => Whom::Nobody,
            (0, token) => Whom::Thread(token),
            (runtime, serial) => Whom::Task(TaskId::unkeyed(runtime, serial)),
        }
    }
}

/// Where a waiter is: its runtime, if it runs one, and its thread.
#[derive(Debug, Clone, Copy)]
pub(super) struct Here {
    /// The runtime of this thread, if any.
    runtime: Option<u32>,
    /// This thread's [`thread_token`].
    token: u64,
}

impl Here {
    /// The calling thread.
    pub(super) fn now() -> Here {
        Here {
            runtime: scheduler::current_runtime(),
            token: thread_token(),
        }
    }

    /// Whether `whom` runs on this thread: a coroutine of this thread's
    /// runtime, or code outside any coroutine on this thread.
    pub(super) fn is_here(&self, whom: Whom) -> bool {
        match whom {
            Whom::Nobody => false,
            Whom::Task(id) => Some(id.runtime()) == self.runtime,
            Whom::Thread(token) => token == self.token,
        }
    }

    /// What a coroutine here that joins `list` behind `holder` shows the
    /// deadlock report. Only this thread can hand it the lock when the
    /// holder and every waiter ahead are here: the holders to come are
    /// served from those waiters, and newcomers queue behind it. Call it
    /// with `list` locked, before pushing the caller.
    pub(super) fn holder(&self, holder: Whom, list: &List) -> Holder {
        self.holder_of(holder, &[list])
    }

    /// As [`Here::holder`], with the waiters ahead in several `lists`.
    pub(super) fn holder_of(&self, holder: Whom, lists: &[&List]) -> Holder {
        let ahead_elsewhere = lists.iter().any(|list| match self.runtime {
            Some(runtime) => list.foreign_to(runtime),
            None => !list.is_empty(),
        });
        Holder {
            task: match holder {
                Whom::Task(id) if self.is_here(holder) => Some(id),
                _ => None,
            },
            elsewhere: !self.is_here(holder) || ahead_elsewhere,
        }
    }
}

/// A number for the calling OS thread, unique among live threads and never
/// 0: the address of one of its thread-locals.
#[inline]
pub(super) fn thread_token() -> u64 {
    thread_local! {
        static TOKEN: u8 = const { 0 };
    }
    TOKEN.with(|token| std::ptr::from_ref(token).addr() as u64)
}
