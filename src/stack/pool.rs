//! The pool: free stacks per size, reused by the next spawn, and the
//! [`PooledStack`] a coroutine runs on.

use std::fmt;
use std::io;
use std::ptr;
use std::rc::Rc;

use corosensei::stack::{Stack, StackPointer};

use super::arena::{Chunk, GUARD_BATCH, install_guard, install_guards_batched};
use super::header::{NAME_CAPACITY, StackHeader};
use super::{
    GuardKind, HumanSize, WARM_STACKS_PER_SIZE, guard_kind, overflow, page_size, sys,
    validate_stack_size,
};

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
    /// Slots of `arena` below this index already have their guard page
    /// (installed in a batch ahead of carving).
    guarded_to: usize,
}

impl SizeClass {
    /// Carves the next slot, mapping a new chunk when the newest is full.
    /// On error nothing is consumed; the message is completed by the pool.
    fn carve(&mut self) -> Result<PooledStack, (&'static str, io::Error)> {
        let page = page_size();
        let chunk = match &self.arena {
            Some(chunk) if self.next_slot < chunk.slots() => Rc::clone(chunk),
            _ => {
                let chunk =
                    Rc::new(Chunk::map(self.size + page).map_err(|e| ("map a stack arena", e))?);
                self.arena = Some(Rc::clone(&chunk));
                self.next_slot = 0;
                self.guarded_to = 0;
                chunk
            }
        };
        let slot = chunk.slot_start(self.next_slot);
        if self.next_slot >= self.guarded_to {
            let batch: Vec<usize> = (self.next_slot
                ..chunk.slots().min(self.next_slot + GUARD_BATCH))
                .map(|index| chunk.slot_start(index))
                .collect();
            self.guarded_to = self.next_slot + install_guards_batched(&batch, page);
        }
        if self.next_slot >= self.guarded_to {
            install_guard(slot, page)?;
        }
        self.next_slot += 1;
        Ok(PooledStack {
            slot,
            size: self.size,
            base: StackPointer::new(StackHeader::address(slot, chunk.slot_size()))
                .expect("a mapped slot is never at address 0"),
            chunk,
        })
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
                    guarded_to: 0,
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

    /// Where its usable memory is, for [`StackSpan::used`].
    pub(crate) fn span(&self) -> StackSpan {
        StackSpan {
            low: self.slot + page_size(),
            base: self.base.get(),
        }
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
        let result = unsafe { sys::release_pages(self.slot + page, self.size) };
        debug_assert!(
            result.is_ok(),
            "MADV_DONTNEED on a free stack failed: {result:?}"
        );
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

/// Where a stack's usable memory is: from `low`, right above its guard
/// page, up to `base`, its header, from where it grows down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StackSpan {
    /// Lowest usable address (page-aligned).
    pub(crate) low: usize,
    /// Highest usable address, where the stack begins.
    pub(crate) base: usize,
}

impl StackSpan {
    /// Usable bytes.
    pub(crate) fn len(&self) -> usize {
        self.base - self.low
    }

    /// The stack's high-water mark, in bytes from its base: how deep it has
    /// been written since its memory was last given back to the OS.
    ///
    /// Found without touching a page that is not in memory: `mincore`
    /// names the resident pages, and the lowest resident page is scanned
    /// for its lowest non-zero byte (fresh pages read as zero). Exact to
    /// the byte for a stack carved fresh, give or take zero bytes the
    /// coroutine wrote at the very bottom; a stack reused from the pool
    /// without being released shows the deepest use of any task that had
    /// it since, an upper bound. 0 if the kernel cannot say.
    ///
    /// The stack must be alive (its `PooledStack` not dropped) while this
    /// runs; it may be the running coroutine's own.
    pub(crate) fn used(&self) -> usize {
        let page = page_size();
        let Some(resident) = sys::resident_pages(self.low, self.len()) else {
            return 0;
        };
        for (index, _) in resident.iter().enumerate().filter(|(_, r)| **r) {
            let start = self.low + index * page;
            let end = (start + page).min(self.base);
            for address in start..end {
                // SAFETY: `[low, base)` is mapped read-write while the stack
                // lives (the caller's promise), and this page is resident,
                // so the read neither faults nor allocates. A byte read is
                // never torn; the stack's owner is this thread.
                let byte = unsafe { std::ptr::read_volatile(address as *const u8) };
                if byte != 0 {
                    return self.base - address;
                }
            }
        }
        0
    }
}
