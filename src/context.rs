//! The thread-local "where am I": the runtime that owns this thread right now,
//! and the coroutine that is running on it.
//!
//! Two pointers and a flag, plain `Cell`s in one `thread_local!` struct
//! ([`Here`]) with a `const` initialiser (no lazy-init check, no destructor),
//! because `yield_now` reads them on every switch.
//!
//! - [`Here::runtime`] points at the [`Core`] of the runtime whose `block_on` (or
//!   `Drop`) is running on this thread. It is set by [`enter_runtime`] and put
//!   back by the guard it returns, so it is valid exactly while that `Core` is
//!   borrowed by the `Runtime` method that set it.
//! - [`Here::current`] points at the [`TaskContext`] on the stack of the coroutine
//!   that is running. The coroutine itself sets it when it starts and again
//!   each time it is resumed ([`suspend`]); whoever resumed it clears it (the
//!   scheduler loop) or puts back its own (a hosting coroutine, see
//!   `Core::host_yield`) as soon as the coroutine switches back. So whenever
//!   it is non-null, the code reading it is running on that coroutine's stack
//!   and the context is alive.

use std::cell::Cell;
use std::ptr;

use corosensei::Yielder;

use crate::scheduler::{Core, Suspend, Switch};
use crate::task::TaskId;

/// The thread's "where am I", one struct so that a switch computes the
/// thread-local address once, not once per field.
struct Here {
    /// The runtime driving this thread, or null. See the module docs.
    runtime: Cell<*const Core>,
    /// The running coroutine's context, or null. See the module docs.
    current: Cell<*const TaskContext<'static>>,
    /// True while the running coroutine was resumed by another coroutine
    /// that is running the scheduler's fast path on its own stack
    /// ([`Core::host_yield`]). Such a coroutine must switch back to its host
    /// rather than host others itself, so hosting is never nested.
    hosted: Cell<bool>,
}

thread_local! {
    /// See [`Here`] and the module docs.
    static HERE: Here = const {
        Here {
            runtime: Cell::new(ptr::null()),
            current: Cell::new(ptr::null()),
            hosted: Cell::new(false),
        }
    };
}

/// What a running coroutine knows about itself. Lives on the coroutine's own
/// stack, in the frame of its root function, for as long as the coroutine runs.
pub(crate) struct TaskContext<'a> {
    /// Used to switch back to the scheduler.
    pub(crate) yielder: &'a Yielder<(), Switch>,
    /// This task's id, handed out to whoever will wake it (joins, channels).
    pub(crate) id: TaskId,
}

/// Puts the runtime back when dropped, also while unwinding.
pub(crate) struct RuntimeGuard {
    /// What [`Here::runtime`] held before; restored on drop.
    previous: *const Core,
}

impl Drop for RuntimeGuard {
    fn drop(&mut self) {
        HERE.with(|h| h.runtime.set(self.previous));
    }
}

/// Makes `core` the current runtime of this thread until the guard is dropped.
///
/// The caller keeps `core` borrowed for the guard's whole life, which is what
/// makes [`with_core`]'s dereference sound.
pub(crate) fn enter_runtime(core: &Core) -> RuntimeGuard {
    let previous = HERE.with(|h| h.runtime.replace(core));
    RuntimeGuard { previous }
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

/// Marks `ctx` as the running coroutine. Called once by a coroutine's root
/// function before it runs user code.
pub(crate) fn set_current(ctx: &TaskContext<'_>) {
    HERE.with(|h| h.current.set(ptr::from_ref(ctx).cast()));
}

/// Marks that no coroutine is running. Called by a coroutine's root function
/// right before it returns.
pub(crate) fn clear_current() {
    HERE.with(|h| h.current.set(ptr::null()));
}

/// The id of the running coroutine.
///
/// # Panics
///
/// Panics with a message naming `what` outside a coroutine.
pub(crate) fn current_id(what: &str) -> TaskId {
    let ctx = HERE.with(|h| h.current.get());
    if ctx.is_null() {
        not_in_coroutine(what);
    }
    // SAFETY: a non-null CURRENT points at the running coroutine's context,
    // which lives on the stack we are running on (module docs).
    unsafe { (*ctx).id }
}

/// `yield_now`: a coroutine resumed by the scheduler loop runs the loop's
/// fast path itself (`Core::host_yield`); a hosted one switches back to its
/// host.
///
/// # Panics
///
/// Panics outside a coroutine.
#[inline(always)]
pub(crate) fn yield_now() {
    let ctx = HERE.with(|h| h.current.get());
    if ctx.is_null() {
        not_in_coroutine("corio::yield_now");
    }
    if HERE.with(|h| h.hosted.get()) {
        switch_out(ctx, Switch::Yield);
    } else {
        let core = HERE.with(|h| h.runtime.get());
        if core.is_null() {
            no_runtime("corio::yield_now");
        }
        // SAFETY: as in `with_core`.
        unsafe { &*core }.host_yield(ctx);
    }
}

/// Puts back the hosting coroutine's own context once the coroutines it
/// resumed have switched back (see `Core::host_yield`).
#[inline]
pub(crate) fn restore_current(ctx: *const TaskContext<'static>) {
    HERE.with(|h| h.current.set(ctx));
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
    let ctx = HERE.with(|h| h.current.get());
    if ctx.is_null() {
        not_in_coroutine(what);
    }
    if HERE.with(|h| h.hosted.get()) {
        return false;
    }
    // SAFETY: a non-null CURRENT points at the running coroutine's context,
    // on the stack we are running on (module docs).
    let id = unsafe { (*ctx).id };
    with_core(what, |core| core.host_until_woken(ctx, id))
}

/// Marks that no coroutine is running: the scheduler loop calls it each
/// time a coroutine it resumed switches back.
#[inline]
pub(crate) fn clear_current_after_resume() {
    HERE.with(|h| h.current.set(ptr::null()));
}

/// Marks whether the coroutines about to be resumed are hosted (see [`Here::hosted`]).
#[inline]
pub(crate) fn set_hosted(hosted: bool) {
    HERE.with(|h| h.hosted.set(hosted));
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
    let ctx = HERE.with(|h| h.current.get());
    if ctx.is_null() {
        not_in_coroutine(what);
    }
    with_core(what, |core| core.pending.set(Some(reason)));
    switch_out(ctx, Switch::Wait);
}

/// Switches out of the coroutine whose context is `ctx` (non-null, the
/// running one) and marks it running again when it is resumed.
#[inline(always)]
fn switch_out(ctx: *const TaskContext<'static>, switch: Switch) {
    // SAFETY: callers pass the non-null CURRENT, which points at the running
    // coroutine's context, on the stack we are running on (module docs). It
    // stays alive across the switch because this frame is on that same stack.
    unsafe { (*ctx).yielder.suspend(switch) };
    HERE.with(|h| h.current.set(ctx));
}
