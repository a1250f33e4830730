//! Turns a coroutine stack overflow into a message naming the coroutine,
//! instead of a bare segfault.
//!
//! A coroutine that runs past the bottom of its stack touches the guard page
//! below it (see `crate::stack`) and the kernel raises SIGSEGV. [`install`]
//! puts a handler in place that recognises such a fault, prints
//!
//! ```text
//! corio: coroutine 'worker-3' (task 17) overflowed its 256 KiB stack. Give it a larger stack with corio::task::Builder::stack_size or corio::runtime::Builder::stack_size (the default is 256 KiB).
//! ```
//!
//! and aborts. Every other SIGSEGV/SIGBUS goes to the handler that was there
//! before (std's, which reports overflows of native threads), or kills the
//! process the usual way.
//!
//! # Implementation notes
//!
//! **Process-wide handler, chained.** [`install`] runs `sigaction` once per
//! process (`std::sync::Once`) for SIGSEGV and SIGBUS with `SA_SIGINFO |
//! SA_ONSTACK`. The previous action is read first and kept in atomics, so the
//! handler can chain to it at any moment: a `SA_SIGINFO` handler gets
//! `(signum, info, context)`, a plain one gets `signum`; for `SIG_DFL` or
//! `SIG_IGN` the handler restores `SIG_DFL` and returns, so the faulting
//! instruction runs again and the process dies of the original signal.
//! Rust's std installs such a handler at startup for native thread
//! overflows; chaining to it keeps its "thread '…' has overflowed its stack"
//! message. A handler installed after ours must chain to us in turn.
//!
//! **Alternate signal stack per thread.** The handler cannot run on the
//! stack that just overflowed, hence `SA_ONSTACK`. [`install`] also checks
//! the calling thread with `sigaltstack`: std gives its own threads one; if
//! there is none, a 64 KiB stack (plus a guard page) is mapped, registered,
//! and freed by a thread-local destructor when the thread exits. The runtime
//! calls [`install`] on every thread that creates a runtime (`StackPool::new`
//! does too), which is the only thread its coroutines run on.
//!
//! **Registry of arenas.** Stack arenas ("chunks") are registered in a
//! fixed array of atomics (`register_arena`), so the handler can scan it
//! without locks or allocation. An entry is claimed with a compare-exchange
//! and its fields are published under a sequence counter (a seqlock: odd
//! while being written). The handler skips entries that are being written or
//! change under it, so it never combines the start of one chunk with the
//! length of another. A chunk is unregistered before it is unmapped.
//!
//! **Recognising an overflow.** The fault address (`si_addr`, only for
//! kernel-raised faults, `si_code > 0`) must lie in a registered chunk at an
//! offset within its slot below one page: the slot's guard page. The handler
//! then copies the slot's 64-byte header (`StackHeader`) with
//! a volatile read; a magic number tells a label from zeroed memory. The
//! message is assembled in a fixed buffer on the signal stack and written
//! with `write(2)`: no allocation, no locks, no `std::fmt`. Then `abort()`.
//!
//! **Limits.** A frame larger than a page can jump over the guard page;
//! Rust code cannot, because rustc emits stack probes that touch every page,
//! but C code called from a coroutine can. A fault raised while the handler
//! itself runs (a corrupted header) kills the process with SIGSEGV, as SIGSEGV
//! is blocked inside the handler. If the registry ([`REGISTRY_CAPACITY`]
//! chunks, about 1 TiB of stacks) is full, new chunks are not registered and
//! an overflow there is reported like any other segfault.

use std::cell::OnceCell;
use std::ptr;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering, fence};

use super::sys;
use super::{self as stack, StackHeader};

/// Chunks the registry can hold: 16384 × 64 MiB is 1 TiB of stacks, four
/// million at the default size. The array costs 640 KiB of zeroed `.bss`,
/// of which only the entries in use are ever touched.
pub const REGISTRY_CAPACITY: usize = 16 * 1024;

/// Size of the alternate signal stack [`install`] maps for a thread that has
/// none: far above `MINSIGSTKSZ` even with AVX-512 state in the signal frame.
const ALT_STACK_SIZE: usize = 64 * 1024;

/// Installs the overflow handler for this process and makes sure the calling
/// thread has an alternate signal stack. Cheap and idempotent.
///
/// Call it on every thread that runs coroutines, before they run
/// (`StackPool::new` does).
pub fn install() {
    static PROCESS: Once = Once::new();
    PROCESS.call_once(|| {
        // Cache it now; the handler must not be the first to ask.
        stack::page_size();
        install_handler(libc::SIGSEGV, &PREVIOUS_SIGSEGV);
        install_handler(libc::SIGBUS, &PREVIOUS_SIGBUS);
    });
    // `try_with` fails only while this thread's locals are being destroyed.
    let _ = THREAD_ALT_STACK.try_with(|cell| {
        cell.get_or_init(AltStack::ensure);
    });
}

/// The action a signal had before ours, for chaining.
struct PreviousAction {
    /// `sa_sigaction` (a handler address, `SIG_DFL` or `SIG_IGN`).
    handler: AtomicUsize,
    /// `sa_flags`; `SA_SIGINFO` says how to call `handler`.
    flags: AtomicI32,
}

/// SIGSEGV's action before [`install`]; `SIG_DFL` (0) until then.
static PREVIOUS_SIGSEGV: PreviousAction = PreviousAction {
    handler: AtomicUsize::new(libc::SIG_DFL),
    flags: AtomicI32::new(0),
};

/// SIGBUS's action before [`install`].
static PREVIOUS_SIGBUS: PreviousAction = PreviousAction {
    handler: AtomicUsize::new(libc::SIG_DFL),
    flags: AtomicI32::new(0),
};

/// Saves `signum`'s current action in `previous`, then installs ours.
fn install_handler(signum: libc::c_int, previous: &PreviousAction) {
    let (handler, flags) = match sys::signal_action(signum) {
        Ok(action) => action,
        Err(e) => {
            log::warn!(
                "corio: cannot read the action of signal {signum} ({e}); coroutine overflows will not be reported"
            );
            return;
        }
    };
    // Saved before ours is live, so the handler can always chain.
    previous.handler.store(handler, Ordering::Release);
    previous.flags.store(flags, Ordering::Release);
    // SAFETY: `handle_fault` is async-signal-safe (it only scans atomics,
    // copies a header, writes to stderr and aborts or chains).
    if let Err(e) = unsafe { sys::set_signal_handler(signum, handle_fault) } {
        log::warn!(
            "corio: cannot install the overflow handler for signal {signum} ({e}); coroutine overflows will be plain crashes"
        );
    }
}

/// One registered chunk, readable from a signal handler.
struct ArenaEntry {
    /// Set by the registering thread, which alone writes the fields below
    /// until it clears this on unregistration.
    claimed: AtomicBool,
    /// Seqlock counter: odd while `start`/`len`/`slot_size` are written.
    sequence: AtomicUsize,
    /// First byte of the chunk.
    start: AtomicUsize,
    /// Bytes in the chunk; 0 when the entry is empty.
    len: AtomicUsize,
    /// Bytes per slot (guard page + stack); never 0 when `len` is not.
    slot_size: AtomicUsize,
}

impl ArenaEntry {
    /// An unclaimed entry.
    const fn empty() -> ArenaEntry {
        ArenaEntry {
            claimed: AtomicBool::new(false),
            sequence: AtomicUsize::new(0),
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            slot_size: AtomicUsize::new(0),
        }
    }

    /// Writes the fields under the seqlock; only the claiming thread calls it.
    fn publish(&self, start: usize, len: usize, slot_size: usize) {
        let sequence = self.sequence.load(Ordering::Relaxed);
        self.sequence
            .store(sequence.wrapping_add(1), Ordering::Relaxed);
        fence(Ordering::Release);
        self.start.store(start, Ordering::Relaxed);
        self.len.store(len, Ordering::Relaxed);
        self.slot_size.store(slot_size, Ordering::Relaxed);
        self.sequence
            .store(sequence.wrapping_add(2), Ordering::Release);
    }

    /// A consistent `(start, len, slot_size)`, or `None` if the entry is
    /// empty or being written. Never waits: the writer may be the very code
    /// the signal interrupted.
    fn snapshot(&self) -> Option<(usize, usize, usize)> {
        let before = self.sequence.load(Ordering::Acquire);
        if before % 2 == 1 {
            return None;
        }
        let start = self.start.load(Ordering::Relaxed);
        let len = self.len.load(Ordering::Relaxed);
        let slot_size = self.slot_size.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        let unchanged = self.sequence.load(Ordering::Relaxed) == before;
        (unchanged && len != 0 && slot_size != 0).then_some((start, len, slot_size))
    }
}

/// Every registered chunk of every thread. A plain array of atomics: the
/// signal handler scans it without locks or allocation.
static REGISTRY: [ArenaEntry; REGISTRY_CAPACITY] =
    [const { ArenaEntry::empty() }; REGISTRY_CAPACITY];

/// One past the highest entry ever claimed, to keep the handler's scan short.
static REGISTRY_END: AtomicUsize = AtomicUsize::new(0);

/// No entry below this index is free, as far as the last claim and release
/// know: where a claim starts looking, so that registering the thousands
/// of chunks of a million stacks costs O(1) each, not a scan from 0.
static REGISTRY_FIRST_FREE: AtomicUsize = AtomicUsize::new(0);

/// A chunk's place in the registry; dropping it unregisters the chunk.
#[derive(Debug)]
pub(crate) struct ArenaRegistration {
    /// Index into [`REGISTRY`]; this value owns that entry's claim.
    index: usize,
}

/// Registers a stack arena of `len` bytes at `start`, cut into slots of
/// `slot_size` bytes whose first page is a guard page and whose last 64
/// bytes are a `StackHeader`. Returns `None` if the registry is full or the
/// arguments are empty.
///
/// # Safety
///
/// `[start, start + len)` must stay mapped and readable, except for guard
/// pages, until the returned registration is dropped: the signal handler
/// reads a slot's header when a fault hits that slot's first page.
pub(crate) unsafe fn register_arena(
    start: usize,
    len: usize,
    slot_size: usize,
) -> Option<ArenaRegistration> {
    if len == 0 || slot_size == 0 {
        return None;
    }
    let claim = |entry: &ArenaEntry| {
        entry
            .claimed
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    };
    // From the hint on, then (a race may have left a free entry below it)
    // from the start.
    let hint = REGISTRY_FIRST_FREE
        .load(Ordering::Relaxed)
        .min(REGISTRY_CAPACITY);
    let index = match REGISTRY[hint..].iter().position(claim) {
        Some(offset) => hint + offset,
        None => REGISTRY[..hint].iter().position(claim)?,
    };
    REGISTRY_FIRST_FREE.fetch_max(index + 1, Ordering::Relaxed);
    REGISTRY[index].publish(start, len, slot_size);
    REGISTRY_END.fetch_max(index + 1, Ordering::Release);
    Some(ArenaRegistration { index })
}

impl Drop for ArenaRegistration {
    fn drop(&mut self) {
        let entry = &REGISTRY[self.index];
        entry.publish(0, 0, 0);
        entry.claimed.store(false, Ordering::Release);
        REGISTRY_FIRST_FREE.fetch_min(self.index, Ordering::Relaxed);
    }
}

/// The slot whose guard page a fault hit.
#[derive(Clone, Copy)]
struct GuardHit {
    /// First byte of the slot (its guard page).
    slot_start: usize,
    /// Bytes per slot in that chunk.
    slot_size: usize,
}

/// The slot whose guard page contains `address`, if any registered chunk
/// has one there. Async-signal-safe.
fn find_guard_hit(address: usize) -> Option<GuardHit> {
    let end = REGISTRY_END.load(Ordering::Acquire).min(REGISTRY_CAPACITY);
    for entry in &REGISTRY[..end] {
        let Some((start, len, slot_size)) = entry.snapshot() else {
            continue;
        };
        let Some(offset) = address.checked_sub(start).filter(|&offset| offset < len) else {
            continue;
        };
        // Cached by now: the chunk was carved with it. (Not before a hit, so a
        // process without arenas never calls `sysconf` in a signal handler.)
        let page = stack::page_size();
        let within = offset % slot_size;
        // Chunks never overlap: a hit outside a guard page is not an overflow.
        return (within < page).then_some(GuardHit {
            slot_start: address - within,
            slot_size,
        });
    }
    None
}

/// Bytes of coroutine stack between `address` and the guard page below it,
/// if `address` lies in a registered stack slot (0 in the guard page
/// itself); `None` anywhere else: a thread's own stack, the spare stack of
/// `super::spare`, a stack in a chunk the full registry left out.
pub(crate) fn room_below(address: usize) -> Option<usize> {
    let end = REGISTRY_END.load(Ordering::Acquire).min(REGISTRY_CAPACITY);
    REGISTRY[..end].iter().find_map(|entry| {
        let (start, len, slot_size) = entry.snapshot()?;
        let offset = address.checked_sub(start).filter(|&offset| offset < len)?;
        Some((offset % slot_size).saturating_sub(stack::page_size()))
    })
}

/// Whether `address` is in the guard page of a registered stack slot: the
/// test the signal handler applies to a fault address.
pub fn is_corio_guard_page(address: usize) -> bool {
    find_guard_hit(address).is_some()
}

/// The SIGSEGV/SIGBUS handler: reports a coroutine overflow and aborts, or
/// chains to the previous action.
extern "C" fn handle_fault(
    signum: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    // SAFETY: the kernel passes a valid siginfo to a SA_SIGINFO handler.
    let (code, address) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    // si_code <= 0 means kill()/sigqueue(): si_addr is meaningless then.
    if code > 0 {
        if let Some(hit) = find_guard_hit(address) {
            report_overflow(hit);
        }
    }
    // SAFETY: forwards exactly what the kernel gave us.
    unsafe { chain(signum, info, context) };
}

/// Writes the overflow message for `hit` to stderr and aborts.
fn report_overflow(hit: GuardHit) -> ! {
    let address = StackHeader::address(hit.slot_start, hit.slot_size);
    // SAFETY: the header lies in a registered, hence still mapped, chunk;
    // every bit pattern is a valid `StackHeader`.
    let header = unsafe { ptr::read_volatile(address as *const StackHeader) };
    let mut message = Message::new();
    if header.magic == StackHeader::MAGIC {
        message.push(b"corio: coroutine ");
        if header.flags & StackHeader::NAMED != 0 {
            message.push(b"'");
            message.push(header.name_bytes());
            if header.flags & StackHeader::TRUNCATED != 0 {
                message.push(b"...");
            }
            message.push(b"' (task ");
        } else {
            message.push(b"<unnamed> (task ");
        }
        message.push_number(header.owner_id);
        message.push(b") overflowed its ");
        message.push_size(header.stack_size);
    } else {
        message.push(b"corio: a coroutine (its stack label is unreadable) overflowed its ");
        message.push_size(hit.slot_size.saturating_sub(stack::page_size()) as u64);
    }
    message.push(
        b" stack. Give it a larger stack with corio::task::Builder::stack_size \
          or corio::runtime::Builder::stack_size (the default is ",
    );
    message.push_size(stack::DEFAULT_STACK_SIZE as u64);
    message.push(b").\n");
    sys::write_stderr(message.as_bytes());
    sys::abort()
}

/// Passes a fault that is not a coroutine overflow to the previous action.
///
/// # Safety
///
/// Only from the signal handler, with the arguments the kernel passed it.
unsafe fn chain(signum: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    let previous = if signum == libc::SIGBUS {
        &PREVIOUS_SIGBUS
    } else {
        &PREVIOUS_SIGSEGV
    };
    let handler = previous.handler.load(Ordering::Acquire);
    let flags = previous.flags.load(Ordering::Acquire);
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // Return with the default action: the fault repeats and kills us.
        sys::reset_signal_to_default(signum);
    } else if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: with SA_SIGINFO, `sa_sigaction` is this kind of function.
        let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(handler) };
        handler(signum, info, context);
    } else {
        // SAFETY: without SA_SIGINFO, `sa_handler` takes the signal number.
        let handler: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
        handler(signum);
    }
}

/// A message assembled without allocating, for use in a signal handler.
struct Message {
    /// The bytes so far; what does not fit is dropped.
    bytes: [u8; 512],
    /// Bytes of `bytes` in use.
    len: usize,
}

impl Message {
    /// An empty message.
    fn new() -> Self {
        Message {
            bytes: [0; 512],
            len: 0,
        }
    }

    /// Appends `text`, as much as fits.
    fn push(&mut self, text: &[u8]) {
        let take = text.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + take].copy_from_slice(&text[..take]);
        self.len += take;
    }

    /// Appends `value` in decimal.
    fn push_number(&mut self, mut value: u64) {
        let mut digits = [0u8; 20];
        let mut first = digits.len();
        loop {
            first -= 1;
            digits[first] = b'0' + (value % 10) as u8;
            value /= 10;
            if value == 0 {
                break;
            }
        }
        self.push(&digits[first..]);
    }

    /// Appends a byte count as "256 KiB" (exact binary units).
    fn push_size(&mut self, bytes: u64) {
        let (value, unit) = stack::split_size(bytes);
        self.push_number(value);
        self.push(b" ");
        self.push(unit.as_bytes());
    }

    /// The bytes assembled so far.
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

thread_local! {
    /// This thread's alternate signal stack if [`install`] had to make one;
    /// `OnceCell` so the check runs once per thread. Dropped (unregistered,
    /// unmapped) when the thread exits.
    static THREAD_ALT_STACK: OnceCell<Option<AltStack>> = const { OnceCell::new() };
}

/// An alternate signal stack mapped by corio, with a guard page below it.
#[derive(Debug)]
struct AltStack {
    /// Start of the mapping (the guard page). Invariant: the mapping spans
    /// one page plus `ALT_STACK_SIZE` bytes, is ours, and from its second
    /// page on is this thread's signal stack (or no stack at all).
    mapping: usize,
}

impl AltStack {
    /// Gives this thread an alternate signal stack if it has none; `None`
    /// if it already had one (std's) or one could not be made.
    fn ensure() -> Option<AltStack> {
        sys::signal_stack().is_none().then_some(())?;
        let page = stack::page_size();
        let mapping = match sys::map(page + ALT_STACK_SIZE, true) {
            Ok(mapping) => mapping,
            Err(e) => {
                log::warn!(
                    "corio: cannot map a signal stack ({e}); a coroutine overflow on this thread will be a plain SIGSEGV"
                );
                return None;
            }
        };
        let alt_stack = AltStack { mapping };
        // SAFETY: the first page of our own fresh mapping, which holds
        // nothing. A failure leaves it accessible: no guard, still a stack.
        let _ = unsafe { sys::protect_none(mapping, page) };
        // SAFETY: the rest of the mapping is ours, kept until `drop`, which
        // disables the signal stack before it unmaps it.
        if let Err(e) = unsafe { sys::set_signal_stack(mapping + page, ALT_STACK_SIZE) } {
            log::warn!(
                "corio: cannot register a signal stack ({e}); a coroutine overflow on this thread will be a plain SIGSEGV"
            );
            return None; // `alt_stack` is dropped: unmapped, never registered.
        }
        Some(alt_stack)
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let page = stack::page_size();
        // Not running on the signal stack (we are in a thread-local
        // destructor), so it can be disabled.
        if sys::signal_stack() == Some(self.mapping + page) && sys::disable_signal_stack().is_err()
        {
            return; // Still registered: leak it rather than unmap it.
        }
        // SAFETY: the mapping is ours (the `mapping` invariant) and no longer
        // this thread's signal stack.
        let _ = unsafe { sys::unmap(self.mapping, page + ALT_STACK_SIZE) };
    }
}
