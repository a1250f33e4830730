//! The pool: free stacks per size, reused by the next spawn, and the
//! [`PooledStack`] a coroutine runs on.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;
use std::ptr;
use std::rc::Rc;

use corosensei::stack::{Stack, StackPointer};

use super::arena::{Chunk, GUARD_BATCH, install_guard, install_guards_batched};
use super::header::{HEADER_SIZE, NAME_CAPACITY, StackHeader};
use super::{
    GuardKind, HumanSize, POPULATE_BATCH, PopulateKind, RELEASE_BATCH, TRIM_AFTER,
    WARM_STACKS_PER_SIZE, guard_kind, overflow, page_size, populate_kind, sys, validate_stack_size,
};

/// Free stacks and the carving position for one stack size.
#[derive(Debug)]
struct SizeClass {
    /// Stack size of this class (page multiple, validated).
    size: usize,
    /// Stacks given back, reused last-in first-out (warmest first). The
    /// bottom `released_to` have had their pages given back to the OS; the
    /// ones above still hold what their coroutines touched.
    free: Vec<PooledStack>,
    /// How many free stacks, from the bottom of `free`, hold no memory.
    /// Invariant: `released_to <= free.len()`.
    released_to: usize,
    /// `released_to` at which the next trim looks for chunks whose every
    /// stack is free; doubles from what a trim leaves, so that the scans
    /// cost O(1) per stack given back however many there are.
    trim_at: usize,
    /// Newest chunk for this size; new slots are carved from it.
    arena: Option<Rc<Chunk>>,
    /// Index of the next uncarved slot of `arena`.
    next_slot: usize,
    /// Slots of `arena` below this index already have their guard page
    /// (installed in a batch ahead of carving).
    guarded_to: usize,
    /// Slots carved for this size, all chunks together; population in
    /// batches starts once a burst has carved [`POPULATE_BATCH`].
    carved: usize,
    /// Free stacks dropped because their chunks were unmapped.
    unmapped: usize,
}

impl SizeClass {
    /// An empty class for stacks of `size` bytes.
    fn new(size: usize) -> SizeClass {
        SizeClass {
            size,
            free: Vec::new(),
            released_to: 0,
            trim_at: TRIM_AFTER,
            arena: None,
            next_slot: 0,
            guarded_to: 0,
            carved: 0,
            unmapped: 0,
        }
    }

    /// Carves the next slot, mapping a new chunk when the newest is full.
    /// On error nothing is consumed; the message is completed by the pool.
    fn carve(&mut self, stats: &mut PoolStats) -> Result<PooledStack, (&'static str, io::Error)> {
        let page = page_size();
        let chunk = match &self.arena {
            Some(chunk) if self.next_slot < chunk.slots() => Rc::clone(chunk),
            _ => {
                let chunk =
                    Rc::new(Chunk::map(self.size + page).map_err(|e| ("map a stack arena", e))?);
                stats.chunks_mapped += 1;
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
        self.carved += 1;
        Ok(PooledStack {
            base: StackPointer::new(StackHeader::address(slot, chunk.slot_size()))
                .expect("a mapped slot is never at address 0"),
            chunk,
        })
    }

    /// Faults in the top page ([`POPULATE_PAGES`]) of slot `index` of
    /// `chunk`, which no earlier call dealt with, and of the slots after
    /// it, [`POPULATE_BATCH`] in all, in one system call. Called at a
    /// coroutine's first run ([`StackPool::prepare`]): coroutines first run
    /// in the order their slots were carved, so the next ones to run find
    /// their page in memory and still in the caches. Only once
    /// this class is in a burst of cold spawns (it has carved
    /// [`POPULATE_BATCH`] stacks) and where the kernel populates in
    /// batches; otherwise those slots are passed over and fault their top
    /// page in when it is first written.
    fn populate_from(&self, chunk: &Chunk, index: usize, stats: &mut PoolStats) {
        let end = chunk.slots().min(index + POPULATE_BATCH);
        chunk.set_populated_to(end);
        if self.carved < POPULATE_BATCH || populate_kind() != PopulateKind::Batched {
            return;
        }
        let span = POPULATE_PAGES * page_size();
        let tops: Vec<usize> = (index..end)
            .map(|slot| chunk.slot_start(slot) + chunk.slot_size() - span)
            .collect();
        stats.populate_calls += 1;
        match sys::populate_regions(&tops, span) {
            Ok(done) => stats.populated += done as u64,
            // Out of memory now, or an odd refusal: the pages fault in on
            // touch, where a real shortage shows as it always has.
            Err(error) => log::debug!("corio: MADV_POPULATE_WRITE of new stacks failed: {error}"),
        }
    }

    /// Takes the warmest free stack, and says whether it still holds the
    /// memory its last coroutine touched (it was not released).
    fn pop_free(&mut self) -> Option<(PooledStack, bool)> {
        let stack = self.free.pop()?;
        let warm = self.free.len() >= self.released_to;
        self.released_to = self.released_to.min(self.free.len());
        Some((stack, warm))
    }

    /// Files a free stack on top, then keeps the memory of idle stacks in
    /// bounds (see the module docs, "Memory of idle stacks"): beyond
    /// [`WARM_STACKS_PER_SIZE`] + [`RELEASE_BATCH`] stacks that hold
    /// memory, the oldest [`RELEASE_BATCH`] of them give it back, and once
    /// enough have, chunks whose every stack is free are unmapped.
    fn push_free(&mut self, stack: PooledStack, stats: &mut PoolStats) {
        self.free.push(stack);
        if self.free.len() - self.released_to < WARM_STACKS_PER_SIZE + RELEASE_BATCH {
            return;
        }
        let batch = self.released_to..self.released_to + RELEASE_BATCH;
        release_stacks(&self.free[batch], stats);
        self.released_to += RELEASE_BATCH;
        if self.released_to >= self.trim_at {
            self.unmap_idle_chunks(stats);
        }
    }

    /// [`StackPool::trim`] for this size.
    fn trim(&mut self, stats: &mut PoolStats) {
        let warm_from = self.free.len().saturating_sub(WARM_STACKS_PER_SIZE);
        while self.released_to < warm_from {
            let end = warm_from.min(self.released_to + RELEASE_BATCH);
            release_stacks(&self.free[self.released_to..end], stats);
            self.released_to = end;
        }
        self.unmap_idle_chunks(stats);
    }

    /// Drops the released free stacks of every chunk none of whose stacks
    /// is in use or warm, so that the chunk is unmapped (its page tables
    /// and its map entry go back too, which `MADV_DONTNEED` keeps). One
    /// pass over the released stacks.
    fn unmap_idle_chunks(&mut self, stats: &mut PoolStats) {
        // Free stacks of each chunk among the released ones, keyed by the
        // chunk's address.
        let mut released: HashMap<*const Chunk, usize> = HashMap::new();
        for stack in &self.free[..self.released_to] {
            *released.entry(Rc::as_ptr(&stack.chunk)).or_default() += 1;
        }
        let newest = self.arena.as_ref().map(Rc::as_ptr);
        let idle: HashSet<*const Chunk> = self.free[..self.released_to]
            .iter()
            .map(|stack| &stack.chunk)
            .filter(|chunk| {
                // Every `Rc` of the chunk is one of these stacks, or the
                // class's own if it is the newest.
                let ours = usize::from(newest == Some(Rc::as_ptr(chunk)));
                released[&Rc::as_ptr(chunk)] + ours == Rc::strong_count(chunk)
            })
            .map(Rc::as_ptr)
            .collect();
        if !idle.is_empty() {
            if newest.is_some_and(|newest| idle.contains(&newest)) {
                self.arena = None;
            }
            let mut index = 0;
            let mut kept_released = 0;
            let released_to = self.released_to;
            self.free.retain(|stack| {
                let keep = index >= released_to || !idle.contains(&Rc::as_ptr(&stack.chunk));
                if keep && index < released_to {
                    kept_released += 1;
                }
                index += 1;
                keep
            });
            self.unmapped += released_to - kept_released;
            self.released_to = kept_released;
            stats.chunks_unmapped += idle.len() as u64;
            if self.free.capacity() > 4 * self.free.len() {
                self.free.shrink_to(2 * self.free.len());
            }
        }
        self.trim_at = (2 * self.released_to).max(TRIM_AFTER);
    }
}

/// Pages at the top of each new stack that batched population faults in:
/// what a coroutine's first run until it parks was measured to touch,
/// header included (`tests/stack_many.rs` checks it): under a page in a
/// release build, over one in a debug build, whose frames are bigger.
const POPULATE_PAGES: usize = if cfg!(debug_assertions) { 2 } else { 1 };

/// Gives the pages of `stacks` back to the OS: one `process_madvise` call
/// for all of them where the kernel allows it, one `madvise` per stack
/// otherwise (and for any the batch left over).
fn release_stacks(stacks: &[PooledStack], stats: &mut PoolStats) {
    use std::sync::atomic::{AtomicBool, Ordering};
    /// Whether batched release works here; false for the process after its
    /// first refusal (a kernel before 6.13 takes only a few kinds of
    /// advice from `process_madvise`, before 6.14 no `PIDFD_SELF`).
    static BATCHED_RELEASE: AtomicBool = AtomicBool::new(true);
    let Some(first) = stacks.first() else {
        return;
    };
    let page = page_size();
    let mut done = 0;
    if BATCHED_RELEASE.load(Ordering::Relaxed) {
        let starts: Vec<usize> = stacks
            .iter()
            .map(|stack| stack.limit_address() + page)
            .collect();
        stats.release_calls += 1;
        // SAFETY: each range is a free stack's slot minus its guard (the
        // `base` invariant); no coroutine runs on a free stack.
        match unsafe { sys::release_regions(&starts, first.size()) } {
            Ok(advised) => done = advised,
            Err(_) => BATCHED_RELEASE.store(false, Ordering::Relaxed),
        }
    }
    for stack in &stacks[done..] {
        stats.release_calls += 1;
        stack.release_memory();
    }
    stats.released += stacks.len() as u64;
}

/// What a [`StackPool`] has done so far, for tests and experiments: counts
/// of stacks and of the system calls that manage their memory.
///
/// # Examples
///
/// ```
/// use corio::stack::{DEFAULT_STACK_SIZE, StackPool};
///
/// let mut pool = StackPool::new();
/// let stack = pool.take(DEFAULT_STACK_SIZE, 1, None).unwrap();
/// pool.give_back(stack);
/// let stats = pool.stats();
/// assert_eq!((stats.carved, stats.pooled, stats.chunks_mapped), (1, 1, 1));
/// assert_eq!(stats.release_calls, 0, "one warm stack keeps its memory");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Slots carved so far (in use, free or dropped), as [`StackPool::carved`].
    pub carved: usize,
    /// Free stacks held now, as [`StackPool::pooled`].
    pub pooled: usize,
    /// Free stacks now holding no memory (given back to the OS).
    pub pooled_released: usize,
    /// Chunk mappings made.
    pub chunks_mapped: u64,
    /// Chunks unmapped because every stack carved from them was free and
    /// released (a large drop).
    pub chunks_unmapped: u64,
    /// System calls (`process_madvise` or `madvise`) that gave free stacks'
    /// pages back.
    pub release_calls: u64,
    /// Free stacks whose pages were given back, counted once per release.
    pub released: u64,
    /// `process_madvise(MADV_POPULATE_WRITE)` calls made for new stacks.
    pub populate_calls: u64,
    /// New stacks whose top page (two in a debug build) those calls
    /// faulted in.
    pub populated: u64,
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
    /// Counters; `carved`, `pooled` and `pooled_released` are filled in by
    /// [`StackPool::stats`].
    stats: PoolStats,
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
            stats: PoolStats::default(),
        }
    }

    /// Takes a stack of `size` bytes from the pool, or carves a new one,
    /// and labels it with its owner for the overflow report.
    ///
    /// `size` is rounded up to whole pages; the coroutine can use all of it
    /// but the 64-byte header at the top. The warmest free stack comes
    /// first; a new one is carved only when none of its size is free.
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
        let (mut stack, ready) = self.take_for_task(size, owner_id, owner_name)?;
        if !ready {
            self.prepare(&mut stack, owner_id, owner_name);
        }
        Ok(stack)
    }

    /// A stack for a task about to be spawned, and whether it is ready:
    /// a *warm* stack (a free one that still holds the memory its last
    /// coroutine touched) comes labelled, as from [`StackPool::take`]; any
    /// other (a new one, or one whose memory was given back) comes with its
    /// memory untouched, for [`StackPool::prepare`] at the task's first
    /// run.
    ///
    /// The scheduler takes a task's stack at its spawn, so that a spawn
    /// that cannot have one fails there. A warm stack's top page is in
    /// memory and likely in the caches: the coroutine is made on it at
    /// once. On any other the coroutine waits for the task's first run: a
    /// burst of spawns then writes each stack's top page once, right before
    /// the coroutine runs on it, instead of at the spawn and again, long
    /// after it left the caches, at the first run.
    ///
    /// # Errors
    ///
    /// As [`StackPool::take`].
    pub(crate) fn take_for_task(
        &mut self,
        size: usize,
        owner_id: u64,
        owner_name: Option<&str>,
    ) -> io::Result<(PooledStack, bool)> {
        let size = validate_stack_size(size)?;
        let index = self.class_index(size);
        let class = &mut self.classes[index];
        match class.pop_free() {
            Some((mut stack, true)) => {
                stack.label(owner_id, owner_name);
                Ok((stack, true))
            }
            Some((stack, false)) => Ok((stack, false)),
            None => match class.carve(&mut self.stats) {
                Ok(stack) => Ok((stack, false)),
                Err((what, error)) => Err(self.refusal(what, error, size)),
            },
        }
    }

    /// Readies a stack that [`StackPool::take_for_task`] gave unready for its
    /// coroutine's first run: faults its top page in, together with those
    /// of the next fresh slots, in a burst of cold spawns (see
    /// `SizeClass::populate_from`), and labels it with its owner.
    pub(crate) fn prepare(
        &mut self,
        stack: &mut PooledStack,
        owner_id: u64,
        owner_name: Option<&str>,
    ) {
        if !stack.chunk.populated(stack.limit_address()) {
            let index = stack.chunk.slot_index(stack.limit_address());
            let class = self.class_index(stack.size());
            self.classes[class].populate_from(&stack.chunk, index, &mut self.stats);
        }
        stack.label(owner_id, owner_name);
    }

    /// Returns a stack whose coroutine has finished (from
    /// `Coroutine::into_stack`), to be reused by a later [`take`].
    ///
    /// No system call as a rule. The [`WARM_STACKS_PER_SIZE`] stacks of a
    /// size given back last keep their memory; when [`RELEASE_BATCH`] more
    /// than that hold memory, the oldest [`RELEASE_BATCH`] give it back in
    /// one call, and after a large drop whole chunks are unmapped (the
    /// module docs, "Memory of idle stacks", give the policy).
    ///
    /// [`take`]: StackPool::take
    pub fn give_back(&mut self, stack: PooledStack) {
        let index = self.class_index(stack.size());
        self.classes[index].push_free(stack, &mut self.stats);
    }

    /// Gives back now the memory that [`give_back`] would give back over
    /// time: every free stack beyond the [`WARM_STACKS_PER_SIZE`] given
    /// back last releases its pages (in batches of [`RELEASE_BATCH`]), and
    /// every chunk none of whose stacks is in use or warm is unmapped.
    /// The runtime calls it at its first idle moment after a large drop.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::stack::{DEFAULT_STACK_SIZE, StackPool, WARM_STACKS_PER_SIZE};
    ///
    /// let mut pool = StackPool::new();
    /// let stacks: Vec<_> = (0..2000)
    ///     .map(|id| pool.take(DEFAULT_STACK_SIZE, id, None).unwrap())
    ///     .collect();
    /// stacks.into_iter().for_each(|stack| pool.give_back(stack));
    /// pool.trim();
    /// let stats = pool.stats();
    /// assert_eq!(stats.pooled - stats.pooled_released, WARM_STACKS_PER_SIZE);
    /// assert!(stats.chunks_unmapped > 0);
    /// ```
    ///
    /// [`give_back`]: StackPool::give_back
    pub fn trim(&mut self) {
        for class in &mut self.classes {
            class.trim(&mut self.stats);
        }
    }

    /// Number of free stacks held, all sizes together.
    pub fn pooled(&self) -> usize {
        self.classes.iter().map(|class| class.free.len()).sum()
    }

    /// Number of stacks this pool has carved (in use, free, dropped, or
    /// unmapped with their chunk after a large drop).
    pub fn carved(&self) -> usize {
        self.classes.iter().map(|class| class.carved).sum()
    }

    /// What the pool has done so far (see [`PoolStats`]).
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            carved: self.carved(),
            pooled: self.pooled(),
            pooled_released: self.classes.iter().map(|class| class.released_to).sum(),
            ..self.stats
        }
    }

    /// Index of the size class for `size`, created on first use.
    fn class_index(&mut self, size: usize) -> usize {
        match self.classes.iter().position(|class| class.size == size) {
            Some(index) => index,
            None => {
                self.classes.push(SizeClass::new(size));
                self.classes.len() - 1
            }
        }
    }

    /// Turns the OS refusing memory into an error that says what to check.
    fn refusal(&self, what: &str, error: io::Error, size: usize) -> io::Error {
        let unmapped: usize = self.classes.iter().map(|class| class.unmapped).sum();
        let in_use = self.carved().saturating_sub(self.pooled() + unmapped);
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
    /// Address of the slot's header, which is also the stack's base (its
    /// highest usable address). Invariant: the slot, from `base +
    /// HEADER_SIZE - chunk.slot_size()` (its guard page) up to `base +
    /// HEADER_SIZE`, lies inside `chunk`'s mapping, its first page is a
    /// guard page, and no other `PooledStack` covers it. Computed once at
    /// carve time: corosensei asks for it on every resume, and reaching it
    /// through `chunk` would add a dependent load to every switch. Kept as
    /// a `StackPointer` (non-zero) so that handing it over needs no zero
    /// check either. The slot's start and the size are derived from it and
    /// the chunk's slot size, off the switch path, so that a task carries
    /// 16 bytes of stack rather than 32.
    base: StackPointer,
    /// Keeps the mapping alive while this stack exists; its slot size gives
    /// the slot's start and the stack size.
    chunk: Rc<Chunk>,
}

impl PooledStack {
    /// The stack size asked for (guard page excluded, header included).
    pub fn size(&self) -> usize {
        self.chunk.slot_size() - page_size()
    }

    /// Lowest address of the stack, its guard page included (the
    /// `corosensei::stack::Stack::limit`).
    pub fn limit_address(&self) -> usize {
        self.base.get() + HEADER_SIZE - self.chunk.slot_size()
    }

    /// Where its usable memory is, for [`StackSpan::used`].
    pub(crate) fn span(&self) -> StackSpan {
        StackSpan {
            low: self.limit_address() + page_size(),
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
        // SAFETY: per the `base` invariant the header lies in our mapped,
        // exclusively owned slot, 16-aligned; any bit pattern is valid.
        unsafe { &*(address as *const StackHeader) }
    }

    /// Writes the owner's id, the size and the name into the header.
    #[inline]
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
            stack_size: self.size() as u64,
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
        // SAFETY: the range is this stack's slot minus the guard (the `base`
        // invariant), and no coroutine runs on a stack being given back.
        let result = unsafe { sys::release_pages(self.limit_address() + page, self.size()) };
        debug_assert!(
            result.is_ok(),
            "MADV_DONTNEED on a free stack failed: {result:?}"
        );
    }
}

impl fmt::Debug for PooledStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledStack")
            .field("limit", &format_args!("{:#x}", self.limit_address()))
            .field("size", &self.size())
            .finish_non_exhaustive()
    }
}

// SAFETY: `limit()` is the slot's guard page (the `base` invariant) and
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
        StackPointer::new(self.limit_address()).expect("a mapped slot is never at address 0")
    }
}

/// Asks the CPU to bring the cache line at `address` into its caches: a
/// hint, which never faults (an unmapped address is ignored) and changes
/// nothing a program can see. Nothing on architectures other than x86-64.
#[inline(always)]
pub(crate) fn prefetch(address: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` (SSE, which every x86-64 CPU has) reads no
    // memory into the program and never faults, whatever the address.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(address as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// [`prefetch`] for every cache line from `lines.start` (64 bytes apart)
/// up to `lines.end`.
#[inline(always)]
pub(crate) fn prefetch_lines(lines: std::ops::Range<usize>) {
    for line in lines.step_by(64) {
        prefetch(line);
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
