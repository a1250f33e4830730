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

use crate::scheduler::{Core, Resumer, Suspend, Switch};
use crate::task::TaskId;

/// The thread's "where am I", one struct so that a switch computes the
/// thread-local address once, not once per field.
struct Here {
    /// The runtime driving this thread, or null. See the module docs.
    runtime: Cell<*const Core>,
    /// The running coroutine's context, or null. See the module docs.
    ///
    /// Its lowest bit ([`HOSTED_BIT`]; a `TaskContext` is 8-aligned, so the
    /// bit is free) is set while the running coroutine was resumed by
    /// another coroutine that runs the scheduler's fast path on its own stack
    /// ([`Core::host_yield`]). Such a coroutine must switch back to its host
    /// rather than host others itself, so hosting is never nested. The bit
    /// rides in the pointer so that the hot path reads one word and the host
    /// writes none: the resumed coroutine learns who resumed it from the
    /// resume value ([`Resumer`]) and tags its own pointer.
    current: Cell<*const TaskContext<'static>>,
}

/// See [`Here::current`].
const HOSTED_BIT: usize = 1;
const _: () = assert!(align_of::<TaskContext<'static>>() > HOSTED_BIT);

thread_local! {
    /// See [`Here`] and the module docs.
    static HERE: Here = const {
        Here {
            runtime: Cell::new(ptr::null()),
            current: Cell::new(ptr::null()),
        }
    };
}

/// What a running coroutine knows about itself. Lives on the coroutine's own
/// stack, in the frame of its root function, for as long as the coroutine runs.
pub(crate) struct TaskContext<'a> {
    /// Used to switch back to the scheduler.
    pub(crate) yielder: &'a Yielder<Resumer, Switch>,
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

/// The current runtime, read again right after a switch back from a
/// coroutine, in place of the `&Core` the caller already holds (it is the
/// same one: a coroutine cannot leave its runtime, and a runtime it creates
/// and drops puts this one back).
///
/// Why: after a switch every register has been restored from the stack, so
/// a pointer kept across it is a load that waits for the switch to finish;
/// the thread-local area's address does not, and the loads through it can
/// start at once. Measured on the yield round trip: 0.1 ns of 4.8.
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

/// Marks `ctx` as the running coroutine, resumed by `resumer`. Called by a
/// coroutine's root function before it runs user code, and after each switch
/// back into it.
#[inline(always)]
pub(crate) fn set_current(ctx: *const TaskContext<'_>, resumer: Resumer) {
    let hosted = usize::from(resumer == Resumer::Host);
    HERE.with(|h| {
        h.current
            .set(ctx.cast::<TaskContext<'static>>().map_addr(|a| a | hosted))
    });
}

/// The running coroutine's context (untagged) and whether it is hosted.
///
/// # Panics
///
/// Panics with a message naming `what` outside a coroutine.
#[inline(always)]
fn running(what: &str) -> (*const TaskContext<'static>, bool) {
    let tagged = HERE.with(|h| h.current.get());
    if tagged.is_null() {
        not_in_coroutine(what);
    }
    (
        tagged.map_addr(|a| a & !HOSTED_BIT),
        tagged.addr() & HOSTED_BIT != 0,
    )
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
    let (ctx, _) = running(what);
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
    let (ctx, hosted) = running("corio::yield_now");
    if hosted {
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

/// Puts back the hosting coroutine's own context (not hosted: a host never
/// is) once the coroutines it resumed have switched back (see
/// `Core::host_yield`).
#[inline(always)]
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
    let (ctx, hosted) = running(what);
    if hosted {
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

/// Switches from the running coroutine to the scheduler, telling it why, and
/// returns when the scheduler resumes it. The caller re-checks whatever it
/// waited for: a wake-up means "look again", not "it happened".
///
/// # Panics
///
/// Panics with a message naming `what` outside a coroutine.
#[inline]
pub(crate) fn suspend(what: &str, reason: Suspend) {
    let (ctx, _) = running(what);
    with_core(what, |core| core.pending.set(Some(reason)));
    switch_out(ctx, Switch::Wait);
}

/// Switches out of the coroutine whose context is `ctx` (non-null, the
/// running one, untagged) and marks it running again when it is resumed.
#[inline(always)]
fn switch_out(ctx: *const TaskContext<'static>, switch: Switch) {
    // SAFETY: callers pass the untagged non-null current context, which
    // points at the running coroutine's context, on the stack we are running
    // on (module docs). It stays alive across the switch because this frame
    // is on that same stack.
    let resumer = unsafe { (*ctx).yielder.suspend(switch) };
    set_current(ctx, resumer);
}
