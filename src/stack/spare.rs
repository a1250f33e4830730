//! A spare stack for the panic hook, when a coroutine panics with too little
//! of its own stack left for the hook's work.
//!
//! std runs the panic hook on the panicking thread's stack, which for a
//! coroutine is its own pooled stack. With `RUST_BACKTRACE=1` or `full`,
//! std's hook walks the stack and symbolises it there, and that needs more
//! room than the rest of a panic: a coroutine that panicked with less than
//! that left ran into its guard page inside the hook, and the overflow
//! handler aborted the whole process, although `join` would have caught the
//! panic.
//!
//! [`with_panic_room`] wraps the body of corio's panic hook. When it is
//! called on a coroutine stack with less than [`HOOK_ROOM`] left, it runs
//! the body on a separate stack of [`SPARE_STACK_SIZE`] bytes
//! (`corosensei::on_stack`); otherwise, and everywhere else (a thread's own
//! stack, the spare stack itself), in place. The unwinding that follows the
//! hook runs on the coroutine's stack again, where the hook left it all the
//! room it found.
//!
//! **The numbers.** Measured by `examples/panic_room.rs`
//! (`docs/results/panic_room.md`, `panic_room_debug.md`), as pages of a
//! roomy coroutine stack touched below the point of the panic, hook and
//! unwinding together: with `RUST_BACKTRACE=1` or `full`, the first panic
//! of a process (the one that loads and parses the debug info) reached
//! 20 KiB in a release build and 24 KiB in a debug one, later panics 8 and
//! 12 KiB, against 4 KiB with backtraces off. Counted in whole pages, so
//! the deepest was under 28 KiB. [`HOOK_ROOM`] is 64 KiB, over twice that,
//! so a panic on a default 256 KiB stack with most of it free still reports
//! in place. [`SPARE_STACK_SIZE`] is 256 KiB, nine times as much, for a
//! user's hook chained behind corio's and for a std whose backtrace code
//! grows; its pages are touched only as deep as a hook goes. What a panic
//! still needs of the coroutine's own stack (its entry and the unwinding)
//! the same lab finds by bisection: about 5 KiB in release, 7 KiB in debug.
//!
//! **One spare stack per thread, made on first need.** A thread whose
//! coroutines never panic short of room never maps one. The stack is kept
//! for the next panic and unmapped when the thread exits. While a hook runs
//! on it, it is out of its slot: a second hook that needs one meanwhile (a
//! hook that suspends its coroutine, and another coroutine that panics
//! short of room) maps its own and drops it afterwards. A panic raised on
//! the spare stack itself finds no coroutine stack under it and runs in
//! place; a panic inside a panic hook is std's "panicked while processing
//! panic", an abort, with or without corio.
//!
//! **Limits.** A hook installed with `std::panic::set_hook` after the first
//! runtime was built replaces corio's and runs in place. A coroutine stack
//! in a chunk that the overflow registry had no room for (past about 1 TiB
//! of stacks) is not recognised, and its panics run the hook in place.

use std::cell::RefCell;
use std::hint::black_box;

use corosensei::stack::DefaultStack;

use super::overflow;

/// Stack room below which the panic hook moves to the spare stack: 64 KiB,
/// over twice the under 28 KiB that a panic with `RUST_BACKTRACE=full` was
/// measured to use (see the module's notes).
pub(crate) const HOOK_ROOM: usize = 64 * 1024;

/// Size of a thread's spare stack for the panic hook: 256 KiB, nine times
/// what std's hook was measured to use (see the module's notes).
pub(crate) const SPARE_STACK_SIZE: usize = 256 * 1024;

thread_local! {
    /// This thread's spare stack, once a panic needed it; `None` while a
    /// hook runs on it.
    static SPARE: RefCell<Option<DefaultStack>> = const { RefCell::new(None) };
}

/// Runs `hook` (the work of a panic hook) where it has room: in place, or on
/// this thread's spare stack when called on a coroutine stack with less than
/// [`HOOK_ROOM`] left. A panic in `hook` propagates to the caller.
pub(crate) fn with_panic_room<R>(hook: impl FnOnce() -> R) -> R {
    let marker = 0u8;
    let here = black_box(&marker) as *const u8 as usize;
    match overflow::room_below(here) {
        Some(room) if room < HOOK_ROOM => {}
        _ => return hook(),
    }
    // `try_with` fails only while this thread's locals are being destroyed;
    // then, as when the stack cannot be mapped, the hook runs in place.
    let spare = SPARE
        .try_with(|spare| spare.borrow_mut().take())
        .ok()
        .flatten();
    let mut stack = match spare {
        Some(stack) => stack,
        None => match DefaultStack::new(SPARE_STACK_SIZE) {
            Ok(stack) => stack,
            Err(_) => return hook(),
        },
    };
    let result = corosensei::on_stack(&mut stack, hook);
    // Keep it for the next panic, unless a hook that ran meanwhile on a
    // stack of its own already put that one back.
    let _ = SPARE.try_with(move |spare| {
        spare.borrow_mut().get_or_insert(stack);
    });
    result
}
