//! Pooled, guard-paged coroutine stacks carved from large arena mappings.
//!
//! Every coroutine runs on a stack of its own. Mapping a fresh guarded stack
//! per spawn (`mmap` + guard + `munmap`, as corosensei's `DefaultStack`
//! does; `examples/stack_bench.rs` measures it) would cost more than a short
//! coroutine itself, so each
//! runtime keeps a [`StackPool`]: a finished coroutine gives its stack back
//! (`Coroutine::into_stack` + [`StackPool::give_back`]) and the next spawn
//! takes it again ([`StackPool::take`]). On the warm path both are a `Vec`
//! pop/push and a 64-byte header store: no system call.
//!
//! # Examples
//!
//! ```
//! use corio::stack::{StackPool, DEFAULT_STACK_SIZE};
//! use corosensei::{Coroutine, CoroutineResult};
//!
//! let mut pool = StackPool::new();
//! let stack = pool.take(DEFAULT_STACK_SIZE, 1, Some("adder")).unwrap();
//! let mut coroutine = Coroutine::<u32, (), u32, _>::with_stack(stack, |_, x| x + 1);
//! assert!(matches!(coroutine.resume(41), CoroutineResult::Return(42)));
//! pool.give_back(coroutine.into_stack());
//! assert_eq!(pool.pooled(), 1);
//! ```
//!
//! # Files
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | sizes, their validation, how guard pages are made |
//! | `pool.rs` | [`StackPool`] and [`PooledStack`] |
//! | `arena.rs` | the chunk mappings slots are carved from |
//! | `header.rs` | the label at the top of every slot |
//! | `overflow.rs` | the SIGSEGV handler that names an overflowing coroutine |
//! | `spare.rs` | the spare stack the panic hook moves to when a coroutine has too little left |
//! | `sys.rs` | every `mmap` / `madvise` / `process_madvise` / `mprotect` / `sigaction` call, and `malloc_trim` |
//!
//! # Implementation notes
//!
//! **Arenas, not one mapping per stack.** Linux limits a process to
//! `vm.max_map_count` memory mappings (65530 by default). A stack mapped on
//! its own with an `mprotect(PROT_NONE)` guard page costs two of them, so at
//! most ~32k coroutines could be alive. Instead stacks are carved from
//! *chunks*: one `mmap` of about 64 MiB (or at least
//! [`MIN_SLOTS_PER_CHUNK`] slots for big stacks) with `MAP_NORESERVE`, so
//! only pages a coroutine touches cost memory. Slots are carved lazily with a
//! bump index into the newest chunk of their size.
//!
//! **Guard pages without splitting the mapping.** Each slot's lowest page
//! becomes a guard when the slot is carved, with
//! `madvise(MADV_GUARD_INSTALL)` (Linux 6.13+), which marks page-table
//! entries and leaves the mapping whole: 100,000 stacks cost a few hundred
//! map entries. Support is probed once per process ([`guard_kind`]). The
//! guards of 64 slots at a time are installed with one
//! `process_madvise(PIDFD_SELF, …)` call (Linux 6.14+) when the first of
//! them is carved, one `madvise` per slot where that call is refused
//! (`docs/results/guard_batch.md` gives what batching saves a million
//! cold spawns in `examples/spawn_scale`). On an older kernel (`EINVAL`)
//! the guard is made with `mprotect(PROT_NONE)`, which splits the chunk:
//! two map entries per stack, so about 32k live stacks under the default
//! `vm.max_map_count`; beyond that [`StackPool::take`] returns an error
//! naming that limit.
//!
//! **Slot layout** (low → high address; `size` is the requested stack size):
//!
//! ```text
//!   slot = one page + size bytes, page-aligned, slots back to back in a chunk
//!  ┌────────────┬──────────────────────────────────────┬──────────────────┐
//!  │ guard page │ usable stack, grows down ◄────────── │ StackHeader (64) │
//!  └────────────┴──────────────────────────────────────┴──────────────────┘
//!  ▲ limit()                                           ▲ base() (16-aligned)
//! ```
//!
//! The header holds the owner's task id, the stack size and up to 40 bytes
//! of its name. The overflow handler ([`overflow`]) reads it when a
//! fault hits the guard page below, so that it can say *which* coroutine
//! overflowed. It shares the stack's top page, which the coroutine touches
//! anyway, so labelling a stack costs no extra memory; the price is that a
//! coroutine can use `size - 64` bytes, not `size`.
//!
//! **Lifetime.** Every [`PooledStack`] holds an `Rc<Chunk>`, cloned once when
//! its slot is carved and never on take/give-back. A chunk is unmapped (and
//! unregistered from the overflow handler's registry) when its last stack is
//! dropped, whatever the order in which the pool and the coroutines that
//! still own stacks are dropped. A slot is never handed back to its chunk:
//! a stack dropped instead of given back keeps its slot (and its touched
//! pages) until the whole chunk goes.
//!
//! **Cold spawns: a stack is written once, right before it is used, and
//! new stacks are populated in batches.** A coroutine's first run writes
//! its stack's top page: the header, the first frame
//! (`Coroutine::with_stack`) and, as a rule, every frame until it first
//! parks (`tests/stack_many.rs` checks that it stays there; a debug
//! build's bigger frames need two pages). On a fresh slot that page is not
//! there yet, and faulting it in one trap at a time is most of what a
//! burst of cold spawns costs (`examples/spawn_scale` measures a million
//! against the bare page-fault floor). So:
//!
//! - A spawn takes its stack from the pool without touching it
//!   (`StackPool::take_for_task`), so that a spawn that cannot have one
//!   still fails there, and the scheduler labels it and makes the
//!   coroutine on it at the task's first run (`task::Run`). Written at the
//!   spawn, the page would have left the caches and the TLB by the time a
//!   burst of spawns gets to run, and the first run would pay to bring it
//!   back. A *warm* stack (a free one that still holds its memory) is
//!   labelled and used at the spawn, as it costs no fault and is likely
//!   still cached.
//! - At a first run on a stack whose top page nobody populated yet, once
//!   its size has had [`POPULATE_BATCH`] stacks carved, the top pages of
//!   that slot and of the next ones, [`POPULATE_BATCH`] in all, are
//!   faulted in with one `process_madvise(MADV_POPULATE_WRITE)` call
//!   (Linux 6.13+ takes any advice a process gives itself this way).
//!   Tasks first run in the order their slots were carved, so the next
//!   ones find their page in memory and, just zeroed, in the caches.
//!   Only the top page: the rest of a stack costs memory only if its
//!   coroutine goes that deep. A program with fewer stacks than one batch
//!   populates nothing ahead.
//!
//! Support is probed once per process ([`populate_kind`]); where the
//! kernel refuses, pages fault in on first touch, at the first run.
//!
//! **Memory of idle stacks: a hot set, batches, and unmapping after a
//! large drop.** A finished coroutine's stack goes on top of its size's
//! free list, and the next spawn takes the top one: the warmest.
//!
//! - The [`WARM_STACKS_PER_SIZE`] stacks given back last keep their pages
//!   (the hot set), so a program whose number of coroutines swings by up
//!   to that many reuses stacks without faulting their pages in again, and
//!   gives back and takes with no system call.
//! - When [`RELEASE_BATCH`] more free stacks than that hold memory, the
//!   oldest [`RELEASE_BATCH`] of them give it back with one
//!   `process_madvise(MADV_DONTNEED)` call (one `madvise` each on a kernel
//!   that refuses that). They stay in the list, below the warm ones, with
//!   their address space and guards (guards survive `MADV_DONTNEED`). So
//!   at most `WARM_STACKS_PER_SIZE + RELEASE_BATCH` free stacks of a size
//!   hold memory, and ten thousand coroutines ending cost a few dozen
//!   calls, not one each.
//! - After a large drop, whole chunks go: once [`TRIM_AFTER`] free stacks
//!   have been released (then each time that number doubles from what the
//!   last look left, so the looks cost O(1) per stack given back), every
//!   chunk whose stacks are all free and released is unmapped. That gives
//!   back what `MADV_DONTNEED` keeps: the page tables (about 512 bytes per
//!   default-size stack, one 4 KiB table per 2 MiB of stacks) and the
//!   chunk's map entry. A chunk with one stack still in use stays.
//! - [`StackPool::trim`] does all of that at once, whatever the counts;
//!   the runtime calls it at its first idle moment after a large drop
//!   (most tasks it had alive at once, if at least 4096, fell to a
//!   quarter), and also shrinks its task table and asks the C heap to
//!   give back its free pages (`malloc_trim`, where glibc has it).
//!
//! Chunks are `MADV_NOHUGEPAGE` so that touching one stack page never
//! faults in a 2 MiB transparent huge page.

mod arena;
mod header;
pub mod overflow;
mod pool;
mod spare;
mod sys;

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU8, Ordering};

use header::HEADER_SIZE;
pub(crate) use header::StackHeader;
pub use pool::{PoolStats, PooledStack, StackPool};
pub(crate) use pool::{StackSpan, prefetch, prefetch_lines};
pub(crate) use spare::with_panic_room;
pub use sys::page_size;
pub(crate) use sys::trim_heap;

/// Stack size a coroutine gets unless it asks for another: 256 KiB.
///
/// Enough for std formatting, buffered I/O and moderate recursion with a wide
/// margin. Chunks are `MAP_NORESERVE`, so only touched pages cost memory: a
/// parked coroutine that touched a page or two costs that much RSS (the
/// `corio_parked_bytes` row of `peers/examples/switch_costs` measures it), and
/// 256 KiB of address space per stack lets 100,000 coroutines fit in 26 GB of
/// the 128 TiB user address space.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Smallest stack size accepted: 32 KiB.
///
/// A panic must work on it, backtraces included. The panic hook's report
/// and backtrace run on a spare stack of the thread when the coroutine has
/// less than 64 KiB left (`RUST_BACKTRACE=1` or `full` makes them need more
/// than the rest of the panic); what stays on the coroutine's own stack is
/// the panic's entry and its unwinding, a few KiB. `tests/panic_room.rs`
/// checks a panic with 24 KiB of this size used; `docs/architecture.md`
/// and `docs/results/panic_room.md` give the measurements.
pub const MIN_STACK_SIZE: usize = 32 * 1024;

/// Largest stack size accepted: 1 GiB.
///
/// A coroutine that needs more should be an OS thread; the cap also keeps
/// chunk sizes (at least [`MIN_SLOTS_PER_CHUNK`] slots) well inside the
/// address space.
pub const MAX_STACK_SIZE: usize = 1024 * 1024 * 1024;

/// Free stacks of one size that always keep their memory: the hot set.
///
/// The stacks given back last are taken first, so a program whose number
/// of live coroutines swings by up to this many reuses stacks whose pages
/// are still there. Beyond it, stacks give their memory back in batches of
/// [`RELEASE_BATCH`].
///
/// # Examples
///
/// ```
/// use corio::stack::{DEFAULT_STACK_SIZE, StackPool, WARM_STACKS_PER_SIZE};
///
/// let mut pool = StackPool::new();
/// let stacks: Vec<_> = (0..WARM_STACKS_PER_SIZE)
///     .map(|id| pool.take(DEFAULT_STACK_SIZE, id as u64, None).unwrap())
///     .collect();
/// stacks.into_iter().for_each(|stack| pool.give_back(stack));
/// assert_eq!(pool.stats().release_calls, 0);
/// ```
pub const WARM_STACKS_PER_SIZE: usize = 256;

/// Free stacks whose memory goes back to the OS together, in one
/// `process_madvise(MADV_DONTNEED)` call (one `madvise` each on kernels
/// before 6.13): when this many more than [`WARM_STACKS_PER_SIZE`] free
/// stacks of a size hold memory, the oldest this many give it back.
///
/// # Examples
///
/// ```
/// use corio::stack::{DEFAULT_STACK_SIZE, RELEASE_BATCH, StackPool, WARM_STACKS_PER_SIZE};
///
/// let mut pool = StackPool::new();
/// let stacks: Vec<_> = (0..WARM_STACKS_PER_SIZE + RELEASE_BATCH)
///     .map(|id| pool.take(DEFAULT_STACK_SIZE, id as u64, None).unwrap())
///     .collect();
/// stacks.into_iter().for_each(|stack| pool.give_back(stack));
/// assert_eq!(pool.stats().released, RELEASE_BATCH as u64);
/// ```
pub const RELEASE_BATCH: usize = 256;

/// Released free stacks of a size at which the pool first looks for chunks
/// whose every stack is free, to unmap them; later looks come each time the
/// number of released stacks doubles from what the last look left.
///
/// # Examples
///
/// ```
/// // Four chunks of default-size stacks.
/// assert!(corio::stack::TRIM_AFTER >= 4 * 252);
/// ```
pub const TRIM_AFTER: usize = 1024;

/// New stacks whose top pages one `MADV_POPULATE_WRITE` call faults in,
/// once a size has had this many carved (a burst of cold spawns).
///
/// # Examples
///
/// ```
/// assert_eq!(corio::stack::POPULATE_BATCH, 64);
/// ```
pub const POPULATE_BATCH: usize = 64;

/// Address space a chunk aims for: 64 MiB (252 default-size slots).
pub const ARENA_CHUNK_BYTES: usize = 64 * 1024 * 1024;

/// Fewest slots in a chunk, for stack sizes where 64 MiB holds fewer.
pub const MIN_SLOTS_PER_CHUNK: usize = 4;

const _: () = assert!(MIN_STACK_SIZE >= corosensei::stack::MIN_STACK_SIZE + HEADER_SIZE);
const _: () = assert!(size_of::<StackHeader>() == HEADER_SIZE);
const _: () = assert!(HEADER_SIZE % corosensei::stack::STACK_ALIGNMENT == 0);

/// Checks a requested stack size and rounds it up to whole pages.
///
/// # Errors
///
/// [`io::ErrorKind::InvalidInput`] if `bytes` is 0, below [`MIN_STACK_SIZE`]
/// or above [`MAX_STACK_SIZE`]; the message names the value, the allowed
/// range and what to ask for instead.
///
/// # Examples
///
/// ```
/// use corio::stack::validate_stack_size;
///
/// assert_eq!(validate_stack_size(100_000).unwrap(), 102_400);
/// let err = validate_stack_size(1000).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// ```
pub fn validate_stack_size(bytes: usize) -> io::Result<usize> {
    if (MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&bytes) {
        let page = page_size();
        return Ok(bytes.div_ceil(page) * page);
    }
    // Cold path from here on: build a message that says what to do.
    let range = format!(
        "a coroutine stack must be between {} and {} (the default is {})",
        HumanSize(MIN_STACK_SIZE),
        HumanSize(MAX_STACK_SIZE),
        HumanSize(DEFAULT_STACK_SIZE)
    );
    let problem = if bytes == 0 {
        format!("stack size 0 is not valid: {range}; leave it unset to get the default")
    } else if bytes < MIN_STACK_SIZE {
        format!(
            "stack size {} is too small: {range}; ask for at least {}",
            HumanSize(bytes),
            HumanSize(MIN_STACK_SIZE)
        )
    } else {
        format!(
            "stack size {} is too large: {range}; ask for at most {}, or run the deep work on an OS thread",
            HumanSize(bytes),
            HumanSize(MAX_STACK_SIZE)
        )
    };
    Err(io::Error::new(io::ErrorKind::InvalidInput, problem))
}

/// Splits a byte count into the largest binary unit that divides it exactly,
/// e.g. `(256, "KiB")`; `(n, "bytes")` if none does. Allocation-free, so the
/// signal handler uses it too.
pub(crate) fn split_size(bytes: u64) -> (u64, &'static str) {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (unit, name) in UNITS {
        if bytes >= unit && bytes % unit == 0 {
            return (bytes / unit, name);
        }
    }
    (bytes, "bytes")
}

/// A byte count displayed as "256 KiB", "1 GiB" or "1000 bytes".
struct HumanSize(usize);

impl fmt::Display for HumanSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (value, unit) = split_size(self.0 as u64);
        write!(f, "{value} {unit}")
    }
}

/// How guard pages are made in this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GuardKind {
    /// `madvise(MADV_GUARD_INSTALL)`: no mapping split, so the number of
    /// live stacks is bounded by memory, not by `vm.max_map_count`.
    Madvise,
    /// `mprotect(PROT_NONE)` fallback for kernels before 6.13: each guard
    /// splits its chunk, about 32k live stacks under the default map count.
    Mprotect,
}

/// [`GuardKind`] of this process: 0 = not probed yet, 1 = madvise,
/// 2 = mprotect. Set once (first probe or [`force_guard_kind`] wins).
static GUARD_KIND: AtomicU8 = AtomicU8::new(0);

/// How this process makes guard pages; probes the kernel on first use.
///
/// The probe maps two scratch pages, tries `MADV_GUARD_INSTALL` on one and
/// unmaps them. `EINVAL` (kernel before 6.13) selects the
/// [`GuardKind::Mprotect`] fallback.
pub fn guard_kind() -> GuardKind {
    match GUARD_KIND.load(Ordering::Relaxed) {
        1 => GuardKind::Madvise,
        2 => GuardKind::Mprotect,
        _ => {
            let probed = probe_guard_kind();
            // A concurrent probe or `force_guard_kind` may have won the race.
            match force_guard_kind(probed) {
                Ok(()) => probed,
                Err(decided) => decided,
            }
        }
    }
}

/// Fixes how guard pages are made, before any stack is carved.
///
/// Meant for tests and experiments that measure the `mprotect` fallback on a
/// kernel that supports `MADV_GUARD_INSTALL`.
///
/// # Errors
///
/// The kind already in force, if guards were already chosen for this process
/// (by an earlier call, or by carving a stack).
pub fn force_guard_kind(kind: GuardKind) -> Result<(), GuardKind> {
    let code = match kind {
        GuardKind::Madvise => 1,
        GuardKind::Mprotect => 2,
    };
    match GUARD_KIND.compare_exchange(0, code, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => Ok(()),
        Err(1) => Err(GuardKind::Madvise),
        Err(_) => Err(GuardKind::Mprotect),
    }
}

/// How the top pages of freshly carved stacks get their memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PopulateKind {
    /// In batches, ahead of use: one `process_madvise(MADV_POPULATE_WRITE)`
    /// call faults in the top pages of [`POPULATE_BATCH`] new slots at a
    /// time (Linux 6.13+), so a burst of cold spawns pays one kernel entry
    /// per batch instead of one page fault per stack.
    Batched,
    /// One page fault at a time, when a stack's top page is first written
    /// (its header, as the stack is taken): the fallback on older kernels.
    OnTouch,
}

/// [`PopulateKind`] of this process: 0 = not probed yet, 1 = batched,
/// 2 = on touch. Set once (first probe or [`force_populate_kind`] wins).
static POPULATE_KIND: AtomicU8 = AtomicU8::new(0);

/// How this process populates new stacks; probes the kernel on first use.
///
/// The probe maps one scratch page, tries a batched `MADV_POPULATE_WRITE`
/// on it and unmaps it; a kernel that refuses selects
/// [`PopulateKind::OnTouch`].
///
/// # Examples
///
/// ```
/// use corio::stack::{PopulateKind, populate_kind};
///
/// let kind = populate_kind();
/// assert!(matches!(kind, PopulateKind::Batched | PopulateKind::OnTouch));
/// assert_eq!(populate_kind(), kind, "probed once per process");
/// ```
pub fn populate_kind() -> PopulateKind {
    match POPULATE_KIND.load(Ordering::Relaxed) {
        1 => PopulateKind::Batched,
        2 => PopulateKind::OnTouch,
        _ => {
            let probed = match sys::batched_populate_supported() {
                Ok(true) => PopulateKind::Batched,
                Ok(false) => PopulateKind::OnTouch,
                Err(error) => {
                    log::warn!(
                        "corio: the MADV_POPULATE_WRITE probe failed ({error}); new stacks fault in on first touch"
                    );
                    PopulateKind::OnTouch
                }
            };
            match force_populate_kind(probed) {
                Ok(()) => probed,
                Err(decided) => decided,
            }
        }
    }
}

/// Fixes how new stacks are populated, before the first probe.
///
/// Meant for tests and experiments that measure the on-touch fallback on a
/// kernel that supports batched population.
///
/// # Errors
///
/// The kind already in force, if it was already chosen for this process
/// (by an earlier call, or by the probe of [`populate_kind`]).
///
/// # Examples
///
/// ```
/// use corio::stack::{PopulateKind, force_populate_kind, populate_kind};
///
/// // Whichever call comes first decides, once per process.
/// match force_populate_kind(PopulateKind::OnTouch) {
///     Ok(()) => assert_eq!(populate_kind(), PopulateKind::OnTouch),
///     Err(decided) => assert_eq!(populate_kind(), decided),
/// }
/// ```
pub fn force_populate_kind(kind: PopulateKind) -> Result<(), PopulateKind> {
    let code = match kind {
        PopulateKind::Batched => 1,
        PopulateKind::OnTouch => 2,
    };
    match POPULATE_KIND.compare_exchange(0, code, Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => Ok(()),
        Err(1) => Err(PopulateKind::Batched),
        Err(_) => Err(PopulateKind::OnTouch),
    }
}

/// Tries `MADV_GUARD_INSTALL` on a scratch mapping.
fn probe_guard_kind() -> GuardKind {
    match sys::guard_regions_supported() {
        Ok(true) => GuardKind::Madvise,
        Ok(false) => {
            log::debug!(
                "corio: MADV_GUARD_INSTALL needs Linux 6.13+; using mprotect guard pages (about 32k live stacks under the default vm.max_map_count)"
            );
            GuardKind::Mprotect
        }
        Err(error) => {
            log::warn!(
                "corio: MADV_GUARD_INSTALL probe failed ({error}); using mprotect guard pages"
            );
            GuardKind::Mprotect
        }
    }
}
