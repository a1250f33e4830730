//! The thread-local "where am I": the runtime that owns this thread right now,
//! and the coroutine that is running on it.
//!
//! Two pointers (one with a flag in its lowest bit), plain `Cell`s in one
//! `thread_local!` struct ([`Here`]) with a `const` initialiser (no lazy-init
//! check, no destructor), because `yield_now` reads them on every switch.
//!
//! - [`Here::runtime`] points at the [`Core`] of the runtime whose `block_on` (or
//!   `Drop`) is running on this thread. It is set by [`enter_runtime`] and put
//!   back by the guard it returns, so it is valid exactly while that `Core` is
//!   borrowed by the `Runtime` method that set it.
//! - [`Here::current`] points at the [`Task`] whose coroutine is running.
//!   Whoever resumes a coroutine sets it right before the switch
//!   ([`enter_task`]) and, once the coroutine switches back, clears it (the
//!   scheduler loop) or puts back its own (a hosting coroutine, see
//!   `Core::host_yield`). So whenever it is non-null, the code reading it is
//!   that task's coroutine, and the task, which stays in one heap place
//!   while it runs, is alive. It is also then a task of the runtime
//!   [`Here::runtime`] names, which is therefore non-null: only a
//!   scheduler resumes coroutines, it runs inside [`enter_runtime`], and
//!   [`enter_runtime`] clears the current task until its guard restores
//!   both.

use std::cell::Cell;
use std::ptr;

use corosensei::Yielder;

use crate::scheduler::{Core, Suspend, Switch, Task};
use crate::task::TaskId;

/// The thread's "where am I", one struct so that a switch computes the
/// thread-local address once, not once per field.
struct Here {
    /// The runtime driving this thread, or null. See the module docs.
    runtime: Cell<*const Core>,
    /// The running coroutine's task, or null. See the module docs.
    ///
    /// Its lowest bit ([`HOSTED_BIT`]; a `Task` is 8-aligned, so the bit is
    /// free) is set while the running coroutine was resumed by another
    /// coroutine that runs the scheduler's fast path on its own stack
    /// ([`Core::host_yield`]). Such a coroutine must switch back to its host
    /// rather than host others itself, so hosting is never nested. The bit
    /// rides in the pointer so that the hot path reads one word, and the
    /// resumer writes both in one store.
    current: Cell<*const Task>,
}

/// See [`Here::current`].
const HOSTED_BIT: usize = 1;
const _: () = assert!(align_of::<Task>() > HOSTED_BIT);

thread_local! {
    /// See [`Here`] and the module docs.
    static HERE: Here = const {
        Here {
            runtime: Cell::new(ptr::null()),
            current: Cell::new(ptr::null()),
        }
    };
}

/// Puts the runtime back when dropped, also while unwinding.
pub(crate) struct RuntimeGuard {
    /// What [`Here::runtime`] held before; restored on drop.
    previous: *const Core,
    /// What [`Here::current`] held before; restored on drop.
    previous_task: *const Task,
}

impl Drop for RuntimeGuard {
    fn drop(&mut self) {
        HERE.with(|h| {
            h.runtime.set(self.previous);
            h.current.set(self.previous_task);
        });
    }
}

/// Makes `core` the current runtime of this thread, with no coroutine
/// running, until the guard is dropped.
///
/// The caller keeps `core` borrowed for the guard's whole life, which is what
/// makes [`with_core`]'s dereference sound. Clearing the current task keeps
/// the invariant that a non-null current task was resumed by the current
/// runtime (see the module docs): a coroutine of one runtime that drops
/// another runs that one's teardown, and destructors there are not that
/// coroutine.
pub(crate) fn enter_runtime(core: &Core) -> RuntimeGuard {
    HERE.with(|h| RuntimeGuard {
        previous: h.runtime.replace(core),
        previous_task: h.current.replace(ptr::null()),
    })
}

/// Whether a runtime is driving this thread right now.
pub(crate) fn in_runtime() -> bool {
    HERE.with(|h| !h.runtime.get().is_null())
}

/// Runs `f` with the current runtime.
///
/// # Panics
///
/// Panics with a message naming `what` when no corio runtime drives this
/// thread.
pub(crate) fn with_core<R>(what: &str, f: impl FnOnce(&Core) -> R) -> R {
    let core = HERE.with(|h| h.runtime.get());
    if core.is_null() {
        no_runtime(what);
    }
    // SAFETY: RUNTIME is non-null only between `enter_runtime` and the drop of
    // its guard, while the caller of `enter_runtime` keeps the `Core` borrowed
    // (module docs), and only this thread can read it.
    f(unsafe { &*core })
}

/// The current runtime, read again right after a switch back from a
/// coroutine, in place of the `&Core` the caller already holds (it is the
/// same one: a coroutine cannot leave its runtime, and a runtime it creates
/// and drops puts this one back).
///
/// Why: after a switch every register has been restored from the stack, so
/// a pointer kept across it is a load that waits for the switch to finish;
/// the thread-local area's address does not, and the loads through it can
/// start at once. Measured on the yield round trip: 0.05-0.1 ns of 4-4.8.
#[inline(always)]
pub(crate) fn core_after_switch(expected: &Core) -> &Core {
    let core = HERE.with(|h| h.runtime.get());
    debug_assert!(
        ptr::eq(core, expected),
        "a coroutine changed the runtime under its host"
    );
    // SAFETY: as in `with_core`; it is non-null because it is `expected`'s
    // own runtime, and `expected`'s lifetime bounds the result.
    unsafe { &*core }
}

/// Like [`with_core`], but `None` outside a runtime instead of a panic.
pub(crate) fn try_with_core<R>(f: impl FnOnce(&Core) -> R) -> Option<R> {
    let core = HERE.with(|h| h.runtime.get());
    // SAFETY: as in `with_core`.
    (!core.is_null()).then(|| f(unsafe { &*core }))
}

#[cold]
#[inline(never)]
fn no_runtime(what: &str) -> ! {
    panic!(
        "{what} needs a corio runtime, but none is running on this thread; \
         call it from code running inside corio::run or Runtime::block_on"
    )
}

#[cold]
#[inline(never)]
fn not_in_coroutine(what: &str) -> ! {
    if in_runtime() {
        panic!(
            "{what} must be called from a corio coroutine, but it was called from \
             the scheduler's own stack (for example from a destructor the runtime \
             ran); move the call into a coroutine"
        )
    }
    no_runtime(what)
}

/// Marks `task` as the one whose coroutine is about to run, `hosted` or
/// not. Called by whoever resumes it, right before the switch.
#[inline(always)]
pub(crate) fn enter_task(task: *const Task, hosted: bool) {
    let tag = usize::from(hosted);
    HERE.with(|h| h.current.set(task.map_addr(|a| a | tag)));
}

/// Marks that no coroutine is running: the scheduler loop calls it each
/// time a coroutine it resumed switches back.
#[inline(always)]
pub(crate) fn leave_task() {
    HERE.with(|h| h.current.set(ptr::null()));
}

/// Puts back the hosting coroutine's own task (not hosted: a host never is)
/// once the coroutines it resumed have switched back (see
/// `Core::host_yield`).
#[inline(always)]
pub(crate) fn restore_current(task: *const Task) {
    enter_task(task, false);
}

/// The running coroutine's task (untagged) and whether it is hosted.
///
/// # Panics
///
/// Panics with a message naming `what` outside a coroutine.
#[inline(always)]
fn running(what: &str) -> (*const Task, bool) {
    let tagged = HERE.with(|h| h.current.get());
    if tagged.is_null() {
        not_in_coroutine(what);
    }
    if tagged.addr() & HOSTED_BIT != 0 {
        // Known bit, known offset: folds into the loads that follow.
        (tagged.wrapping_byte_sub(HOSTED_BIT), true)
    } else {
        (tagged, false)
    }
}

/// Called once by a coroutine's root function, before any user code: tells
/// the running task (already marked by its resumer) how to switch back.
pub(crate) fn start_task(yielder: &Yielder<(), Switch>) {
    let (task, _) = running("a corio coroutine's start");
    // SAFETY: `running` returned the running task (module docs); only its
    // `yielder` cell is touched, which nothing else borrows.
    unsafe { (*task).yielder.set(ptr::from_ref(yielder).cast()) };
}

/// The id of the running coroutine.
///
/// # Panics
///
/// Panics with a message naming `what` outside a coroutine.
pub(crate) fn current_id(what: &str) -> TaskId {
    let (task, _) = running(what);
    // SAFETY: a non-null current task is the running one, alive while it
    // runs (module docs); `id` is never written after the task is built.
    unsafe { (*task).id }
}

/// `yield_now`: a coroutine resumed by the scheduler loop runs the loop's
/// fast path itself (`Core::host_yield`); a hosted one switches back to its
/// host.
///
/// # Panics
///
/// Panics outside a coroutine.
///
/// Inlined into the caller in optimised builds (a call and its prologue cost
/// more than the rest of the hand-off). Not in unoptimised ones, where an
/// inlined copy grows its caller's frame by about 1.5 KiB (a small recursive
/// function that yields at every level: 232 -> 1,768 bytes per frame), so
/// recursion would run out of stack far sooner than in the same code built
/// optimised.
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
pub(crate) fn yield_now() {
    let (task, hosted) = running("corio::yield_now");
    if hosted {
        switch_out(task, Switch::Yield);
    } else {
        let core = HERE.with(|h| h.runtime.get());
        debug_assert!(!core.is_null(), "a running task has a runtime");
        // SAFETY: a non-null current task implies a non-null runtime (module
        // docs), valid as in `with_core`.
        unsafe { &*core }.host_yield(task);
    }
}

/// Before a blocking wait whose waker already knows this coroutine's id: a
/// coroutine resumed by the scheduler loop runs the other tasks itself until
/// it is woken (`Core::host_until_woken`). Returns whether it was; `false`
/// means the caller must park as usual.
///
/// # Panics
///
/// Panics with a message naming `what` outside a coroutine.
#[inline]
pub(crate) fn host_until_woken(what: &str) -> bool {
    let (task, hosted) = running(what);
    if hosted {
        return false;
    }
    // SAFETY: as in `current_id`.
    let id = unsafe { (*task).id };
    with_core(what, |core| core.host_until_woken(task, id))
}

/// Switches from the running coroutine to the scheduler, telling it why, and
/// returns when the scheduler resumes it. The caller re-checks whatever it
/// waited for: a wake-up means "look again", not "it happened".
///
/// # Panics
///
/// Panics with a message naming `what` outside a coroutine.
#[inline]
pub(crate) fn suspend(what: &str, reason: Suspend) {
    let (task, _) = running(what);
    with_core(what, |core| core.pending.set(Some(reason)));
    switch_out(task, Switch::Wait);
}

/// Switches out of the running coroutine, whose task is `task` (untagged),
/// and returns when it is resumed (its resumer marks it running again).
#[inline(always)]
fn switch_out(task: *const Task, switch: Switch) {
    // SAFETY: callers pass the running task (module docs), whose `yielder`
    // was set by `start_task` before any user code ran; the `Yielder` lives
    // at the base of this coroutine's stack, the stack we are running on.
    unsafe { (*(*task).yielder.get()).suspend(switch) };
}
