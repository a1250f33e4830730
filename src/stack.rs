//! Pooled, guard-paged coroutine stacks carved from large arena mappings.
//!
//! Every coroutine runs on a stack of its own. Mapping a fresh guarded stack
//! per spawn (`mmap` + guard + `munmap`, about 8.6 µs with corosensei's
//! `DefaultStack`) would cost more than a short coroutine itself, so each
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
//! map entries. Support is probed once per process ([`guard_kind`]). On an
//! older kernel (`EINVAL`) the guard is made with `mprotect(PROT_NONE)`,
//! which splits the chunk: two map entries per stack, so about 32k live
//! stacks under the default `vm.max_map_count`; beyond that
//! [`StackPool::take`] returns an error naming that limit.
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
//! of its name. The overflow handler (`crate::overflow`) reads it when a
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
//! **Memory of idle stacks.** The first [`WARM_STACKS_PER_SIZE`] free stacks
//! of each size keep their pages, so reusing them costs nothing. A stack
//! given back beyond that gets `madvise(MADV_DONTNEED)` on everything above
//! its guard page, so a burst of 100k coroutines does not keep their memory
//! after it ends (the address space stays reserved; guards survive
//! `MADV_DONTNEED`). Chunks are `MADV_NOHUGEPAGE` so that touching one stack
//! page never faults in a 2 MiB transparent huge page.

use std::fmt;
use std::io;
use std::ptr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use corosensei::stack::{Stack, StackPointer};

use crate::overflow::{self, ArenaRegistration};

/// Stack size a coroutine gets unless it asks for another: 256 KiB.
///
/// Enough for std formatting, buffered I/O and moderate recursion with a wide
/// margin. Chunks are `MAP_NORESERVE`, so only touched pages cost memory: a
/// parked coroutine that touched one or two pages costs 4–8 KiB of RSS, and
/// 256 KiB of address space per stack lets 100,000 coroutines fit in 26 GB of
/// the 128 TiB user address space.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Smallest stack size accepted: 16 KiB.
///
/// Below this a coroutine barely survives a `println!`; corosensei's own
/// minimum (4 KiB) plus the 64-byte header fit easily.
pub const MIN_STACK_SIZE: usize = 16 * 1024;

/// Largest stack size accepted: 1 GiB.
///
/// A coroutine that needs more should be an OS thread; the cap also keeps
/// chunk sizes (at least [`MIN_SLOTS_PER_CHUNK`] slots) well inside the
/// address space.
pub const MAX_STACK_SIZE: usize = 1024 * 1024 * 1024;

/// Free stacks of one size that keep their memory when given back.
///
/// Beyond this many, a stack given back is `MADV_DONTNEED`ed (one system
/// call) before it joins the free list.
pub const WARM_STACKS_PER_SIZE: usize = 256;

/// Address space a chunk aims for: 64 MiB (252 default-size slots).
pub const ARENA_CHUNK_BYTES: usize = 64 * 1024 * 1024;

/// Fewest slots in a chunk, for stack sizes where 64 MiB holds fewer.
pub const MIN_SLOTS_PER_CHUNK: usize = 4;

/// Bytes at the top of each slot holding the [`StackHeader`].
pub(crate) const HEADER_SIZE: usize = 64;

/// Bytes of the owner's name kept in the header.
pub(crate) const NAME_CAPACITY: usize = 40;

/// `madvise` advice that makes a range a guard region (Linux 6.13+,
/// `include/uapi/asm-generic/mman-common.h`). Not in the libc crate yet.
/// Touching a guard region raises SIGSEGV; guards survive `MADV_DONTNEED`
/// and, unlike `mprotect`, do not split the mapping.
const MADV_GUARD_INSTALL: libc::c_int = 102;

const _: () = assert!(MIN_STACK_SIZE >= corosensei::stack::MIN_STACK_SIZE + HEADER_SIZE);
const _: () = assert!(size_of::<StackHeader>() == HEADER_SIZE);
const _: () = assert!(HEADER_SIZE % corosensei::stack::STACK_ALIGNMENT == 0);

/// The system page size in bytes, read once with `sysconf` and cached.
///
/// # Panics
///
/// If `sysconf(_SC_PAGESIZE)` does not return a power of two (it always does
/// on Linux).
pub fn page_size() -> usize {
    /// 0 until the first call; the page size never changes afterwards.
    static PAGE_SIZE: AtomicUsize = AtomicUsize::new(0);
    let cached = PAGE_SIZE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let size = usize::try_from(size)
        .ok()
        .filter(|size| size.is_power_of_two())
        .expect("sysconf(_SC_PAGESIZE) returns a power of two on Linux");
    PAGE_SIZE.store(size, Ordering::Relaxed);
    size
}

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

/// Tries `MADV_GUARD_INSTALL` on a scratch mapping.
fn probe_guard_kind() -> GuardKind {
    let page = page_size();
    // SAFETY: a fresh anonymous mapping at an address the kernel picks
    // aliases no Rust object.
    let scratch = unsafe {
        libc::mmap(
            ptr::null_mut(),
            2 * page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if scratch == libc::MAP_FAILED {
        log::warn!(
            "corio: could not map a probe page ({}); using mprotect guard pages",
            io::Error::last_os_error()
        );
        return GuardKind::Mprotect;
    }
    // SAFETY: the first page of the scratch mapping above is ours alone.
    let result = unsafe { libc::madvise(scratch, page, MADV_GUARD_INSTALL) };
    let error = io::Error::last_os_error();
    // SAFETY: unmaps exactly the scratch mapping; nothing refers to it.
    unsafe { libc::munmap(scratch, 2 * page) };
    if result == 0 {
        return GuardKind::Madvise;
    }
    if error.raw_os_error() == Some(libc::EINVAL) {
        log::debug!(
            "corio: MADV_GUARD_INSTALL needs Linux 6.13+; using mprotect guard pages (about 32k live stacks under the default vm.max_map_count)"
        );
    } else {
        log::warn!("corio: MADV_GUARD_INSTALL probe failed ({error}); using mprotect guard pages");
    }
    GuardKind::Mprotect
}

/// Label at the top of every slot, read by the overflow handler.
///
/// Written with plain stores by [`StackPool::take`]; read with a volatile
/// copy by the signal handler. Every field is an integer, so any bit pattern
/// (a zeroed page after `MADV_DONTNEED`) is a valid value; `magic` tells a
/// real label from such memory.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug)]
pub(crate) struct StackHeader {
    /// [`StackHeader::MAGIC`] once the slot has been labelled.
    pub(crate) magic: u32,
    /// Bytes of `name` in use (≤ [`NAME_CAPACITY`]).
    pub(crate) name_len: u8,
    /// [`StackHeader::NAMED`] and [`StackHeader::TRUNCATED`] bits.
    pub(crate) flags: u8,
    /// Padding, always zero.
    reserved: [u8; 2],
    /// Id of the task running on this stack.
    pub(crate) owner_id: u64,
    /// The requested stack size (the slot minus its guard page).
    pub(crate) stack_size: u64,
    /// The task's name, cut at a UTF-8 boundary to fit.
    pub(crate) name: [u8; NAME_CAPACITY],
}

impl StackHeader {
    /// "cori" in ASCII.
    pub(crate) const MAGIC: u32 = u32::from_be_bytes(*b"cori");
    /// The task has a name (possibly empty).
    pub(crate) const NAMED: u8 = 1;
    /// The name was longer than [`NAME_CAPACITY`] and was cut.
    pub(crate) const TRUNCATED: u8 = 2;

    /// Address of the header of the slot that starts at `slot_start`.
    pub(crate) fn address(slot_start: usize, slot_size: usize) -> usize {
        slot_start + slot_size - HEADER_SIZE
    }

    /// The stored name bytes (empty if the header is not a valid label).
    pub(crate) fn name_bytes(&self) -> &[u8] {
        &self.name[..usize::from(self.name_len).min(NAME_CAPACITY)]
    }
}

/// One arena mapping, cut into equal slots.
struct Chunk {
    /// First byte of the mapping. Invariant: `[start, start + slots *
    /// slot_size)` is a private anonymous read-write mapping owned by this
    /// chunk until it is dropped.
    start: usize,
    /// Bytes per slot: one guard page plus the stack size.
    slot_size: usize,
    /// Number of slots the mapping holds.
    slots: usize,
    /// Entry in the overflow handler's registry; `None` if it was full.
    /// Dropped before the mapping goes, so the handler never reads an
    /// unmapped header.
    registration: Option<ArenaRegistration>,
}

impl Chunk {
    /// Maps a chunk for slots of `slot_size` bytes: about
    /// [`ARENA_CHUNK_BYTES`], or a single slot if the kernel refuses that.
    fn map(slot_size: usize) -> io::Result<Chunk> {
        let slots = (ARENA_CHUNK_BYTES / slot_size).max(MIN_SLOTS_PER_CHUNK);
        match Chunk::map_slots(slot_size, slots) {
            Err(error) if error.raw_os_error() == Some(libc::ENOMEM) => {
                Chunk::map_slots(slot_size, 1)
            }
            result => result,
        }
    }

    /// Maps `slots` slots and registers them with the overflow handler.
    fn map_slots(slot_size: usize, slots: usize) -> io::Result<Chunk> {
        let len = slot_size * slots;
        // SAFETY: a fresh anonymous mapping at an address the kernel picks
        // aliases no Rust object.
        let start = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // Best effort: fails only on kernels without transparent huge pages.
        // SAFETY: advice on our own fresh mapping; it changes no contents.
        unsafe { libc::madvise(start, len, libc::MADV_NOHUGEPAGE) };
        // SAFETY: the chunk unregisters (drops `registration`) before it
        // unmaps; slots are laid out as the registry expects.
        let registration = unsafe { overflow::register_arena(start as usize, len, slot_size) };
        if registration.is_none() {
            log::warn!(
                "corio: the stack-overflow registry is full; an overflow on stacks in this new arena will be a plain SIGSEGV"
            );
        }
        Ok(Chunk {
            start: start as usize,
            slot_size,
            slots,
            registration,
        })
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // Unregister first: the handler must never read an unmapped header.
        drop(self.registration.take());
        // SAFETY: per the `start` invariant the mapping is ours; the last
        // `PooledStack` using it is gone (each holds an `Rc<Chunk>`).
        let result = unsafe { libc::munmap(self.start as *mut _, self.slots * self.slot_size) };
        debug_assert_eq!(result, 0, "munmap of a stack arena failed");
    }
}

impl fmt::Debug for Chunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chunk")
            .field("start", &format_args!("{:#x}", self.start))
            .field("slot_size", &self.slot_size)
            .field("slots", &self.slots)
            .field("registered", &self.registration.is_some())
            .finish()
    }
}

/// Free stacks and the carving position for one stack size.
#[derive(Debug)]
struct SizeClass {
    /// Stack size of this class (page multiple, validated).
    size: usize,
    /// Stacks given back, reused last-in first-out (warmest first).
    free: Vec<PooledStack>,
    /// Newest chunk for this size; new slots are carved from it.
    arena: Option<Rc<Chunk>>,
    /// Index of the next uncarved slot of `arena`.
    next_slot: usize,
}

impl SizeClass {
    /// Carves the next slot, mapping a new chunk when the newest is full.
    /// On error nothing is consumed; the message is completed by the pool.
    fn carve(&mut self) -> Result<PooledStack, (&'static str, io::Error)> {
        let page = page_size();
        let chunk = match &self.arena {
            Some(chunk) if self.next_slot < chunk.slots => Rc::clone(chunk),
            _ => {
                let chunk =
                    Rc::new(Chunk::map(self.size + page).map_err(|e| ("map a stack arena", e))?);
                self.arena = Some(Rc::clone(&chunk));
                self.next_slot = 0;
                chunk
            }
        };
        let slot = chunk.start + self.next_slot * chunk.slot_size;
        install_guard(slot, page)?;
        self.next_slot += 1;
        Ok(PooledStack {
            slot,
            size: self.size,
            base: StackPointer::new(StackHeader::address(slot, chunk.slot_size))
                .expect("a mapped slot is never at address 0"),
            chunk,
        })
    }
}

/// Makes the page at `slot` a guard page, the way [`guard_kind`] says.
fn install_guard(slot: usize, page: usize) -> Result<(), (&'static str, io::Error)> {
    let (what, result) = match guard_kind() {
        // SAFETY: the page is inside a live chunk and not yet handed out, so
        // no Rust reference points into it.
        GuardKind::Madvise => (
            "install a guard page with madvise(MADV_GUARD_INSTALL)",
            unsafe { libc::madvise(slot as *mut _, page, MADV_GUARD_INSTALL) },
        ),
        // SAFETY: as above.
        GuardKind::Mprotect => ("install a guard page with mprotect", unsafe {
            libc::mprotect(slot as *mut _, page, libc::PROT_NONE)
        }),
    };
    if result == 0 {
        Ok(())
    } else {
        Err((what, io::Error::last_os_error()))
    }
}

/// A runtime's supply of guard-paged coroutine stacks, reused across spawns.
///
/// One per runtime and thread: it is `!Send`, like the coroutines that run on
/// its stacks. Creating one calls [`overflow::install`], so an overflow on
/// any of its stacks is reported by name instead of a bare segfault.
///
/// # Examples
///
/// ```
/// use corio::stack::StackPool;
///
/// let mut pool = StackPool::new();
/// let stack = pool.take(64 * 1024, 7, Some("worker")).unwrap();
/// let low = stack.limit_address();
/// pool.give_back(stack);
/// // The same stack comes back.
/// assert_eq!(pool.take(64 * 1024, 8, None).unwrap().limit_address(), low);
/// ```
///
/// A pool stays on the thread that made it:
///
/// ```compile_fail
/// fn assert_send<T: Send>() {}
/// assert_send::<corio::stack::StackPool>();
/// ```
#[derive(Debug)]
pub struct StackPool {
    /// Free stacks and chunks per stack size; a handful at most, so a
    /// linear search beats a map.
    classes: Vec<SizeClass>,
    /// Slots carved by this pool so far; minus `pooled()` this is the
    /// number of stacks in use (or dropped without being given back).
    carved: usize,
}

impl Default for StackPool {
    fn default() -> Self {
        StackPool::new()
    }
}

impl StackPool {
    /// Creates an empty pool; no memory is mapped until the first take.
    pub fn new() -> Self {
        overflow::install();
        StackPool {
            classes: Vec::new(),
            carved: 0,
        }
    }

    /// Takes a stack of `size` bytes from the pool, or carves a new one,
    /// and labels it with its owner for the overflow report.
    ///
    /// `size` is rounded up to whole pages; the coroutine can use all of it
    /// but the 64-byte header at the top.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `size` is out of range (see
    /// [`validate_stack_size`]); the OS's error if it refuses memory or a
    /// guard page, with a message saying how many stacks are in use and what
    /// limit to check.
    pub fn take(
        &mut self,
        size: usize,
        owner_id: u64,
        owner_name: Option<&str>,
    ) -> io::Result<PooledStack> {
        let size = validate_stack_size(size)?;
        let class = self.class_mut(size);
        let mut stack = match class.free.pop() {
            Some(stack) => stack,
            None => match class.carve() {
                Ok(stack) => {
                    self.carved += 1;
                    stack
                }
                Err((what, error)) => return Err(self.refusal(what, error, size)),
            },
        };
        stack.label(owner_id, owner_name);
        Ok(stack)
    }

    /// Returns a stack whose coroutine has finished (from
    /// `Coroutine::into_stack`), to be reused by a later [`take`].
    ///
    /// Beyond [`WARM_STACKS_PER_SIZE`] free stacks of its size, the stack's
    /// memory is released to the OS first (one `madvise` call).
    ///
    /// [`take`]: StackPool::take
    pub fn give_back(&mut self, stack: PooledStack) {
        let class = self.class_mut(stack.size);
        if class.free.len() >= WARM_STACKS_PER_SIZE {
            stack.release_memory();
        }
        class.free.push(stack);
    }

    /// Number of free stacks held, all sizes together.
    pub fn pooled(&self) -> usize {
        self.classes.iter().map(|class| class.free.len()).sum()
    }

    /// Number of stacks this pool has carved (in use, free or dropped).
    pub fn carved(&self) -> usize {
        self.carved
    }

    /// The size class for `size`, created on first use.
    fn class_mut(&mut self, size: usize) -> &mut SizeClass {
        let index = match self.classes.iter().position(|class| class.size == size) {
            Some(index) => index,
            None => {
                self.classes.push(SizeClass {
                    size,
                    free: Vec::new(),
                    arena: None,
                    next_slot: 0,
                });
                self.classes.len() - 1
            }
        };
        &mut self.classes[index]
    }

    /// Turns the OS refusing memory into an error that says what to check.
    fn refusal(&self, what: &str, error: io::Error, size: usize) -> io::Error {
        let in_use = self.carved.saturating_sub(self.pooled());
        let map_count = std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .map(|text| text.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned());
        let guards = match guard_kind() {
            GuardKind::Madvise => "guard pages do not split mappings here",
            GuardKind::Mprotect => {
                "guard pages use the mprotect fallback (MADV_GUARD_INSTALL needs Linux 6.13+), so every stack costs 2 mappings"
            }
        };
        io::Error::new(
            error.kind(),
            format!(
                "corio could not {what} for a new {} coroutine stack: {error}. \
                 {in_use} stacks from this runtime are in use. Check vm.max_map_count \
                 (now {map_count}; {guards}), memory limits (ulimit -v, cgroup) \
                 and whether a smaller stack size would do",
                HumanSize(size)
            ),
        )
    }
}

/// A guard-paged stack from a [`StackPool`], usable with
/// `corosensei::Coroutine::with_stack`.
///
/// Give it back with [`StackPool::give_back`] when its coroutine finishes.
/// Dropping it instead is safe but keeps its slot out of use until its whole
/// chunk is unmapped.
pub struct PooledStack {
    /// Lowest address of the slot, where the guard page is. Invariant: the
    /// slot `[slot, slot + page + size)` lies inside `chunk`'s mapping, its
    /// first page is a guard page, and no other `PooledStack` covers it.
    slot: usize,
    /// Requested stack size: page multiple between the size limits.
    size: usize,
    /// Address of the slot's header, which is also the stack's base (its
    /// highest usable address). Computed once at carve time: corosensei asks
    /// for it on every resume, and reaching it through `chunk` would add a
    /// dependent load to every switch. Kept as a `StackPointer` (non-zero)
    /// so that handing it over needs no zero check either.
    base: StackPointer,
    /// Keeps the mapping alive while this stack exists (held for its
    /// `Drop`, never read).
    #[allow(dead_code)]
    chunk: Rc<Chunk>,
}

impl PooledStack {
    /// The stack size asked for (guard page excluded, header included).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Lowest address of the stack, its guard page included (the
    /// `corosensei::stack::Stack::limit`).
    pub fn limit_address(&self) -> usize {
        self.slot
    }

    /// Task id written by the last [`StackPool::take`].
    pub fn owner_id(&self) -> u64 {
        self.header().owner_id
    }

    /// Task name written by the last [`StackPool::take`] (at most 40 bytes,
    /// cut at a character boundary); `None` for an unnamed task.
    pub fn owner_name(&self) -> Option<&str> {
        let header = self.header();
        if header.flags & StackHeader::NAMED == 0 {
            return None;
        }
        std::str::from_utf8(header.name_bytes()).ok()
    }

    /// The header in the top bytes of the slot.
    fn header(&self) -> &StackHeader {
        let address = self.base.get();
        // SAFETY: per the `slot` invariant the header lies in our mapped,
        // exclusively owned slot, 16-aligned; any bit pattern is valid.
        unsafe { &*(address as *const StackHeader) }
    }

    /// Writes the owner's id, the size and the name into the header.
    fn label(&mut self, owner_id: u64, owner_name: Option<&str>) {
        let name = owner_name.unwrap_or("");
        let mut len = name.len().min(NAME_CAPACITY);
        while !name.is_char_boundary(len) {
            len -= 1;
        }
        let mut bytes = [0; NAME_CAPACITY];
        bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
        let named = if owner_name.is_some() {
            StackHeader::NAMED
        } else {
            0
        };
        let truncated = if len < name.len() {
            StackHeader::TRUNCATED
        } else {
            0
        };
        let header = StackHeader {
            magic: StackHeader::MAGIC,
            name_len: len as u8,
            flags: named | truncated,
            reserved: [0; 2],
            owner_id,
            stack_size: self.size as u64,
            name: bytes,
        };
        let address = self.base.get();
        // SAFETY: as in `header`; `&mut self` means no coroutine runs on
        // this stack, and the header is above `base()` anyway.
        unsafe { ptr::write(address as *mut StackHeader, header) };
    }

    /// Hands the pages above the guard back to the OS; they read as zero
    /// when next touched.
    fn release_memory(&self) {
        let page = page_size();
        // SAFETY: the range is this stack's slot minus the guard (the `slot`
        // invariant), and no coroutine runs on a stack being given back.
        let result =
            unsafe { libc::madvise((self.slot + page) as *mut _, self.size, libc::MADV_DONTNEED) };
        debug_assert_eq!(result, 0, "MADV_DONTNEED on a free stack failed");
    }
}

impl fmt::Debug for PooledStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledStack")
            .field("limit", &format_args!("{:#x}", self.slot))
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

// SAFETY: `limit()` is the slot's guard page (the `slot` invariant) and
// `base()` is the header address: page-aligned slot + page + size - 64, so
// both are 16-aligned, with `size - 64 >= MIN_STACK_SIZE - 64` usable bytes
// (more than corosensei's minimum) between guard and base. The `Rc<Chunk>`
// keeps that memory mapped for as long as this value lives.
unsafe impl Stack for PooledStack {
    #[inline]
    fn base(&self) -> StackPointer {
        self.base
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        StackPointer::new(self.slot).expect("a mapped slot is never at address 0")
    }
}
