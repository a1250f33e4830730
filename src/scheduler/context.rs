//! The thread-local "where am I": the runtime that owns this thread right now,
//! and the coroutine that is running on it.
//!
//! Plain `Cell`s in one `thread_local!` struct ([`Here`]) with a `const`
//! initialiser (no lazy-init check, no destructor), because `yield_now`
//! reads them on every switch.
//!
//! - [`Here::runtime`] points at the [`Core`] of the runtime whose `block_on`
//!   (or `Drop`) is running on this thread. It is set by [`enter_runtime`]
//!   and put back by the guard it returns, so it is valid exactly while that
//!   `Core` is borrowed by the `Runtime` method that set it.
//! - [`Here::current`] points at the [`Task`] whose coroutine is running, and
//!   is null whenever no coroutine runs. Whoever resumes a coroutine sets it
//!   right before the switch ([`enter_task`]) and clears it right after the
//!   switch back ([`leave_task`]), before any other code runs: the filing of
//!   the task, the scheduler's `log` calls (which run a user's backend),
//!   polling. A hosting coroutine puts its own task back ([`restore_current`])
//!   only when its pass over the others is over (see `hosting`), through a
//!   guard, so also when a panic unwinds the pass. So whenever it is
//!   non-null, the code reading it is that task's coroutine, and the task,
//!   which stays in one heap place while it runs, is alive. It is also then a
//!   task of the runtime [`Here::runtime`] names, which is therefore
//!   non-null: only a scheduler resumes coroutines, it runs inside
//!   [`enter_runtime`], and [`enter_runtime`] clears the current task until
//!   its guard restores both.
//! - [`Here::unwinding`] points at the task whose coroutine a dropped runtime
//!   is unwinding, so that its destructors can still ask who they are; set
//!   and cleared by [`unwinding`]. Nothing can suspend then: `current` is
//!   null.
//!
//! Code that runs in a runtime while `current` is null is the scheduler's
//! own: a log backend, a destructor the scheduler runs, the teardown. There
//! nothing can suspend, so waiting calls return at once with
//! [`CannotWait`] instead of switching (and instead of panicking, which
//! during an unwind would abort the process).

use std::cell::Cell;
use std::ptr;
use std::rc::{Rc, Weak};

use corosensei::Yielder;

use super::Core;
use super::suspend::{CannotWait, Suspend, Switch};
use super::task::{Task, TaskId, TaskShared};

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
    /// (`hosting`). Such a coroutine must switch back to its host rather than
    /// host others itself, so hosting is never nested. The bit rides in the
    /// pointer so that the hot path reads one word, and the resumer writes
    /// both in one store.
    current: Cell<*const Task>,
    /// The task a dropped runtime is unwinding, or null. See the module docs.
    unwinding: Cell<*const Task>,
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
            unwinding: Cell::new(ptr::null()),
        }
    };
}

/// Puts the runtime back when dropped, also while unwinding.
pub(crate) struct RuntimeGuard {
    /// What [`Here::runtime`] held before; restored on drop.
    previous: *const Core,
    /// What [`Here::current`] held before; restored on drop.
    previous_task: *const Task,
    /// What [`Here::unwinding`] held before; restored on drop.
    previous_unwinding: *const Task,
}

impl Drop for RuntimeGuard {
    fn drop(&mut self) {
        HERE.with(|h| {
            h.runtime.set(self.previous);
            h.current.set(self.previous_task);
            h.unwinding.set(self.previous_unwinding);
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
        previous_unwinding: h.unwinding.replace(ptr::null()),
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
/// thread; the panic points at the caller's caller (`#[track_caller]`).
#[track_caller]
pub(crate) fn with_core<R>(what: &str, f: impl FnOnce(&Core) -> R) -> R {
    let core = HERE.with(|h| h.runtime.get());
    if core.is_null() {
        no_runtime(what);
    }
    // SAFETY: `runtime` is non-null only between `enter_runtime` and the drop
    // of its guard, while the caller of `enter_runtime` keeps the `Core`
    // borrowed (module docs), and only this thread can read it.
    f(unsafe { &*core })
}

/// Like [`with_core`], but `None` outside a runtime instead of a panic.
#[inline]
pub(crate) fn try_with_core<R>(f: impl FnOnce(&Core) -> R) -> Option<R> {
    let core = HERE.with(|h| h.runtime.get());
    // SAFETY: as in `with_core`.
    (!core.is_null()).then(|| f(unsafe { &*core }))
}

/// The panic of a call that needs a runtime, reported at the user's line
/// (every function between is `#[track_caller]`).
#[cold]
#[inline(never)]
#[track_caller]
fn no_runtime(what: &str) -> ! {
    panic!(
        "{what} needs a corio runtime, but none is running on this thread; \
         call it from code running inside corio::run or Runtime::block_on"
    )
}

/// Why no coroutine can wait right now (`current` is null inside a
/// runtime): the runtime is shutting down, or the scheduler itself runs.
fn cannot_wait_here() -> CannotWait {
    let shutting_down = try_with_core(|core| core.shutting_down.get()).unwrap_or(false);
    if shutting_down {
        CannotWait::ShuttingDown
    } else {
        CannotWait::InScheduler
    }
}

/// Marks `task` as the one whose coroutine is about to run, `hosted` or
/// not. Called by whoever resumes it, right before the switch.
#[inline(always)]
pub(crate) fn enter_task(task: *const Task, hosted: bool) {
    let tag = usize::from(hosted);
    HERE.with(|h| h.current.set(task.map_addr(|a| a | tag)));
}

/// Marks that no coroutine is running: whoever resumed one calls it right
/// after the switch back, before anything else.
#[inline(always)]
pub(crate) fn leave_task() {
    HERE.with(|h| h.current.set(ptr::null()));
}

/// Runs `f` as scheduler code: with no coroutine current, whatever was
/// current before put back afterwards (also on unwind). For cold scheduler
/// work that may start while a host's own mark is still set, such as the
/// poll a host's first tick can fall due for.
pub(crate) fn as_scheduler<R>(f: impl FnOnce() -> R) -> R {
    /// Restores the mark `as_scheduler` cleared.
    struct Restore(*const Task);
    impl Drop for Restore {
        fn drop(&mut self) {
            HERE.with(|h| h.current.set(self.0));
        }
    }
    let _restore = Restore(HERE.with(|h| h.current.replace(ptr::null())));
    f()
}

/// Puts back the hosting coroutine's own task (not hosted: a host never is)
/// once its pass over the others is over (see `hosting`).
#[inline(always)]
pub(crate) fn restore_current(task: *const Task) {
    enter_task(task, false);
}

/// Marks `task` as the one a dropped runtime is unwinding, until the guard
/// is dropped (see [`Here::unwinding`]). Unwinds nest (a scope unwinds its
/// children while its own task unwinds): the guard puts back the outer one.
pub(crate) fn unwinding(task: *const Task) -> UnwindingGuard {
    UnwindingGuard(HERE.with(|h| h.unwinding.replace(task)))
}

/// Puts back the [`Here::unwinding`] that was there before, when dropped,
/// also while unwinding.
pub(crate) struct UnwindingGuard(*const Task);

impl Drop for UnwindingGuard {
    fn drop(&mut self) {
        HERE.with(|h| h.unwinding.set(self.0));
    }
}

/// The running coroutine's task (untagged) and whether it is hosted.
///
/// # Errors
///
/// [`CannotWait`] when no coroutine runs but a runtime does.
///
/// # Panics
///
/// Panics with a message naming `what` outside any runtime.
#[inline(always)]
#[track_caller]
fn running(what: &str) -> Result<(*const Task, bool), CannotWait> {
    let tagged = HERE.with(|h| h.current.get());
    if tagged.is_null() {
        return Err(not_running(what));
    }
    if tagged.addr() & HOSTED_BIT != 0 {
        // Known bit, known offset: folds into the loads that follow.
        Ok((tagged.wrapping_byte_sub(HOSTED_BIT), true))
    } else {
        Ok((tagged, false))
    }
}

/// No coroutine runs: why, or a panic if no runtime does either.
#[cold]
#[inline(never)]
#[track_caller]
fn not_running(what: &str) -> CannotWait {
    if !in_runtime() {
        no_runtime(what);
    }
    cannot_wait_here()
}

/// Called once by a coroutine's root function, before any user code: tells
/// the running task (already marked by its resumer) how to switch back.
pub(crate) fn start_task(yielder: &Yielder<(), Switch>) {
    let (task, _) = running("a corio coroutine's start")
        .expect("a coroutine starts only when its resumer marked it running");
    // SAFETY: `running` returned the running task (module docs); only its
    // `yielder` cell is touched, which nothing else borrows.
    unsafe { (*task).yielder.set(ptr::from_ref(yielder).cast()) };
}

/// The id of the running coroutine, or of the one whose unwinding (by a
/// dropped runtime) runs the calling destructor.
///
/// # Panics
///
/// Panics with a message naming `what` when no coroutine runs.
#[track_caller]
pub(crate) fn current_id(what: &str) -> TaskId {
    match running(what) {
        // SAFETY: a non-null current task is the running one, alive while it
        // runs (module docs); `id` is never written after the task is built.
        Ok((task, _)) => unsafe { (*task).id },
        Err(cannot) => match unwinding_task() {
            // SAFETY: `unwinding` is set only while the teardown owns the
            // task and unwinds it (module docs).
            Some(task) => unsafe { (*task).id },
            None => no_coroutine(what, cannot),
        },
    }
}

/// The serial of the running coroutine's task, 0 if none runs (for the
/// trace: who spawned, who woke).
pub(crate) fn running_serial() -> u64 {
    // SAFETY: the running task, alive while it runs (module docs).
    current_task().map_or(0, |task| unsafe { (*task).id.serial() })
}

/// The running coroutine's task, untagged; `None` if none runs. Unlike
/// [`running`], no runtime needs to be entered.
pub(super) fn current_task() -> Option<*const Task> {
    let tagged = HERE.with(|h| h.current.get());
    (!tagged.is_null()).then(|| tagged.map_addr(|a| a & !HOSTED_BIT))
}

/// Whether a coroutine is running (and so, inside `host_until_woken`, a
/// hosted task runs where it lies, at the front of the run queue).
#[inline(always)]
pub(crate) fn is_running() -> bool {
    HERE.with(|h| !h.current.get().is_null())
}

/// Whether a dropped runtime is unwinding a coroutine right now: the root
/// function of a coroutine asks, to tell a teardown from a panic.
pub(crate) fn unwinding_in_progress() -> bool {
    unwinding_task().is_some()
}

/// The task being unwound by a dropped runtime, if any.
fn unwinding_task() -> Option<*const Task> {
    let task = HERE.with(|h| h.unwinding.get());
    (!task.is_null()).then_some(task)
}

/// The panic of a call that needs a coroutine, at the user's line.
#[cold]
#[inline(never)]
#[track_caller]
fn no_coroutine(what: &str, why: CannotWait) -> ! {
    let context = match why {
        CannotWait::ShuttingDown => {
            "while its runtime was shutting down, from a destructor of a coroutine that \
             never started (it has no id to give)"
        }
        CannotWait::InScheduler => {
            "from the corio scheduler's own code (a log backend or a destructor the \
             scheduler ran), where no coroutine is running"
        }
    };
    panic!("{what} must be called from a corio coroutine, but it was called {context}")
}

/// "task 7 'worker'" for the running coroutine (or the one being unwound),
/// `None` outside a coroutine: for the panic report.
pub(crate) fn describe_current() -> Option<String> {
    let task = current_task().or_else(unwinding_task)?;
    // SAFETY: as in `current_id`: the running task or the one being unwound,
    // alive for as long as this call; only `describe` reads it.
    Some(unsafe { (*task).describe() })
}

/// `yield_now`: a coroutine resumed by the scheduler loop runs the loop's
/// fast path itself (`hosting`); a hosted one switches back to its host.
/// Where no coroutine runs (the scheduler's own code, the teardown), it
/// returns at once: there is nothing to yield.
///
/// # Panics
///
/// Panics outside a corio runtime.
///
/// Inlined into the caller in optimised builds (a call and its prologue cost
/// more than the rest of the hand-off). Not in unoptimised ones, where an
/// inlined copy grows every caller's frame several times over, so recursion
/// that yields would run out of stack far sooner than the same code built
/// optimised (`docs/architecture.md` gives the measurement).
#[cfg_attr(not(debug_assertions), inline(always))]
#[cfg_attr(debug_assertions, inline(never))]
#[track_caller]
pub(crate) fn yield_now() {
    let Ok((task, hosted)) = running("corio::yield_now") else {
        return;
    };
    if hosted {
        switch_out(task, Switch::Yield);
    } else {
        let core = HERE.with(|h| h.runtime.get());
        // SAFETY: a non-null current task implies a non-null runtime, valid
        // as in `with_core` (module docs: `enter_runtime` clears the task and
        // its guard restores both together).
        unsafe { &*core }.host_yield(task);
    }
}

/// Before a blocking wait whose waker already knows this coroutine's id: a
/// coroutine resumed by the scheduler loop runs the other tasks itself until
/// it is woken (`hosting`). Returns whether it was; `false` means the caller
/// must park as usual (and learns from [`suspend`] if it cannot).
///
/// # Panics
///
/// Panics with a message naming `what` outside any runtime.
#[inline]
#[track_caller]
pub(crate) fn host_until_woken(what: &str, reason: crate::trace::SuspendReason) -> bool {
    let Ok((task, hosted)) = running(what) else {
        return false;
    };
    if hosted {
        return false;
    }
    // SAFETY: as in `current_id`.
    let id = unsafe { (*task).id };
    let woken = with_core(what, |core| core.host_until_woken(task, id, reason));
    if woken {
        // SAFETY: as above; the task runs again (its pass is over).
        super::cancel::check(unsafe { (*task).counters() });
    }
    woken
}

/// Switches from the running coroutine to the scheduler, telling it why, and
/// returns when the scheduler resumes it. The caller re-checks whatever it
/// waited for: a wake-up means "look again", not "it happened".
///
/// # Errors
///
/// [`CannotWait`], at once and without switching, when no coroutine runs:
/// the runtime is shutting down, or the caller is the scheduler's own code.
///
/// # Panics
///
/// Panics with a message naming `what` outside any runtime.
// `always`, not a hint: with `#[inline]` the compiler stopped inlining it
// into `IoRegistration::wait` once `run_task` grew a branch for unstarted
// tasks, and a request of the HTTP bench at 1,000 connections took 27 more
// instructions (2,605.6 against 2,578.7; `scripts/per_request.sh corio
// 1000 instr`); inlined, 2,584.7. It has five callers.
#[inline(always)]
#[track_caller]
pub(crate) fn suspend(what: &str, reason: Suspend) -> Result<(), CannotWait> {
    let (task, _) = running(what)?;
    with_core(what, |core| core.pending.set(Some(reason)));
    // Where this stack is now, for the prefetch before the task's resume
    // (`Task::prefetch_resume`): a local's address, a few frames above the
    // switch.
    let here = 0u8;
    // SAFETY: `task` is the running task (`running`), alive meanwhile;
    // what this writes is a `Cell` only the task's own code writes.
    unsafe { (*task).note_parked_at(std::ptr::from_ref(std::hint::black_box(&here)) as usize) };
    switch_out(task, Switch::Wait);
    // SAFETY: `task` is the running task again (its resumer marked it).
    super::cancel::check(unsafe { (*task).counters() });
    Ok(())
}

/// `yield_now` through the loop: the running coroutine, resumed by the
/// loop, switches back to it with a yield (filed at the back of the run
/// queue), and the loop's pick chooses what runs next. For schedules other
/// than FIFO, whose order only the loop follows.
#[inline(never)]
pub(super) fn yield_to_loop(task: *const Task) {
    switch_out(task, Switch::Yield);
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

/// Runs `f` with the running coroutine's id and its runtime, read from the
/// thread-local at once, for a call that is about to wait.
///
/// # Errors
///
/// [`CannotWait`] when no coroutine runs but a runtime does.
///
/// # Panics
///
/// Panics with a message naming `what` outside any runtime.
#[inline]
#[track_caller]
pub(crate) fn with_running<R>(
    what: &str,
    f: impl FnOnce(TaskId, &Core) -> R,
) -> Result<R, CannotWait> {
    let (task, core) = HERE.with(|h| (h.current.get(), h.runtime.get()));
    if task.is_null() {
        return Err(not_running(what));
    }
    let task = task.map_addr(|a| a & !HOSTED_BIT);
    // SAFETY: a non-null current task is the running one, alive while it
    // runs, and implies a non-null runtime, valid as in `with_core` (module
    // docs); the borrow lasts only for `f`.
    Ok(unsafe { f((*task).id, &*core) })
}

/// A task's id, what it shares with its handles, and its runtime: what a
/// `thread::Thread` is made of.
pub(crate) type SharedTask = (TaskId, Rc<dyn TaskShared>, Weak<Core>);

/// The running coroutine's id, what it shares with its handles, and its
/// runtime (for `thread::current` and `thread::park`).
///
/// # Errors
///
/// [`CannotWait`] when no coroutine runs but a runtime does.
///
/// # Panics
///
/// Panics with a message naming `what` outside any runtime.
#[track_caller]
pub(crate) fn running_shared(what: &str) -> Result<SharedTask, CannotWait> {
    let (task, core) = HERE.with(|h| (h.current.get(), h.runtime.get()));
    if task.is_null() {
        return Err(not_running(what));
    }
    let task = task.map_addr(|a| a & !HOSTED_BIT);
    // SAFETY: as in `with_running`; `id` and `shared` are never written
    // after the task is built, so reading them while it runs is sound.
    unsafe { Ok(((*task).id, Rc::clone(&(*task).shared), (*core).weak())) }
}

/// As [`running_shared`], but also for the coroutine a dropped runtime is
/// unwinding (`thread::current` in a destructor), and a panic, as
/// [`current_id`]'s, where there is neither.
///
/// # Panics
///
/// Panics with a message naming `what` when no coroutine runs.
#[track_caller]
pub(crate) fn current_shared(what: &str) -> SharedTask {
    match running_shared(what) {
        Ok(found) => found,
        Err(cannot) => match unwinding_task() {
            // SAFETY: `unwinding` is set only while the teardown owns the
            // task and unwinds it, inside `enter_runtime` (module docs).
            Some(task) => unsafe {
                let core = HERE.with(|h| h.runtime.get());
                ((*task).id, Rc::clone(&(*task).shared), (*core).weak())
            },
            None => no_coroutine(what, cannot),
        },
    }
}

/// The id of the running coroutine, `None` where none runs (inside a
/// runtime or not); never panics.
#[inline]
pub(crate) fn try_running_id() -> Option<TaskId> {
    let task = HERE.with(|h| h.current.get());
    // SAFETY: as in `current_id`.
    (!task.is_null()).then(|| unsafe { (*task.map_addr(|a| a & !HOSTED_BIT)).id })
}

/// The id of the running coroutine, for a call that is about to wait.
///
/// # Errors
///
/// [`CannotWait`] when no coroutine runs but a runtime does.
///
/// # Panics
///
/// Panics with a message naming `what` outside any runtime.
#[inline]
#[track_caller]
pub(crate) fn running_id(what: &str) -> Result<TaskId, CannotWait> {
    let (task, _) = running(what)?;
    // SAFETY: as in `current_id`.
    Ok(unsafe { (*task).id })
}
