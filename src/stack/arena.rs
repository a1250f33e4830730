//! Arena chunks: one large mapping cut into equal stack slots, registered
//! with the overflow handler, and the guard page at the bottom of each slot.

use std::cell::Cell;
use std::fmt;
use std::io;

use super::overflow::{self, ArenaRegistration};
use super::sys;
use super::{ARENA_CHUNK_BYTES, GuardKind, MIN_SLOTS_PER_CHUNK, guard_kind};

/// One arena mapping, cut into equal slots.
pub(super) struct Chunk {
    /// First byte of the mapping. Invariant: `[start, start + slots *
    /// slot_size)` is a private anonymous read-write mapping owned by this
    /// chunk until it is dropped.
    start: usize,
    /// Bytes per slot: one guard page plus the stack size.
    slot_size: usize,
    /// Number of slots the mapping holds.
    slots: usize,
    /// Slots that begin below this address had their top page populated,
    /// or were passed over by population (`StackPool::prepare`); it only
    /// grows. An address, not an index, so that the check on every first
    /// run is a comparison, not a division by the slot size.
    populated_end: Cell<usize>,
    /// Entry in the overflow handler's registry; `None` if it was full.
    /// Dropped before the mapping goes, so the handler never reads an
    /// unmapped header.
    registration: Option<ArenaRegistration>,
}

impl Chunk {
    /// Maps a chunk for slots of `slot_size` bytes: about
    /// [`ARENA_CHUNK_BYTES`], or a single slot if the kernel refuses that.
    pub(super) fn map(slot_size: usize) -> io::Result<Chunk> {
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
        let start = sys::map(len, false)?;
        // SAFETY: the chunk unregisters (drops `registration`) before it
        // unmaps; slots are laid out as the registry expects.
        let registration = unsafe { overflow::register_arena(start, len, slot_size) };
        if registration.is_none() {
            log::warn!(
                "corio: the stack-overflow registry is full; an overflow on stacks in this new arena will be a plain SIGSEGV"
            );
        }
        Ok(Chunk {
            start,
            slot_size,
            slots,
            populated_end: Cell::new(start),
            registration,
        })
    }

    /// Number of slots.
    pub(super) fn slots(&self) -> usize {
        self.slots
    }

    /// Bytes per slot (guard page included).
    pub(super) fn slot_size(&self) -> usize {
        self.slot_size
    }

    /// Whether population has dealt with the slot that begins at `slot`
    /// (populated its top page, or passed it over).
    pub(super) fn populated(&self, slot: usize) -> bool {
        slot < self.populated_end.get()
    }

    /// Notes that population has dealt with every slot below `index`.
    pub(super) fn set_populated_to(&self, index: usize) {
        let end = self.start + index * self.slot_size;
        self.populated_end.set(self.populated_end.get().max(end));
    }

    /// Index of the slot whose bytes include `address`.
    ///
    /// # Panics
    ///
    /// If `address` is not inside this chunk's mapping.
    pub(super) fn slot_index(&self, address: usize) -> usize {
        let index = address
            .checked_sub(self.start)
            .map_or(usize::MAX, |offset| offset / self.slot_size);
        assert!(
            index < self.slots,
            "address {address:#x} is not in a chunk of {} slots from {:#x}",
            self.slots,
            self.start
        );
        index
    }

    /// First byte (the guard page) of slot `index`.
    ///
    /// # Panics
    ///
    /// If `index` is not below [`Chunk::slots`].
    pub(super) fn slot_start(&self, index: usize) -> usize {
        assert!(
            index < self.slots,
            "slot {index} of a {}-slot chunk",
            self.slots
        );
        self.start + index * self.slot_size
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        // Unregister first: the handler must never read an unmapped header.
        drop(self.registration.take());
        // SAFETY: per the `start` invariant the mapping is ours; the last
        // `PooledStack` using it is gone (each holds an `Rc<Chunk>`).
        let result = unsafe { sys::unmap(self.start, self.slots * self.slot_size) };
        debug_assert!(result.is_ok(), "munmap of a stack arena failed: {result:?}");
    }
}

impl fmt::Debug for Chunk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chunk")
            .field("start", &format_args!("{:#x}", self.start))
            .field("slot_size", &self.slot_size)
            .field("slots", &self.slots)
            .field(
                "populated_end",
                &format_args!("{:#x}", self.populated_end.get()),
            )
            .field("registered", &self.registration.is_some())
            .finish()
    }
}

/// Slots whose guard pages are installed together, in one system call,
/// when the first of them is carved: one `process_madvise` instead of 64
/// `madvise` calls, so that a burst of cold spawns pays one kernel entry
/// per 64 stacks (`docs/results/guard_batch.md` has what that saved, and
/// how it was measured). 64 slots of the default size span 16.3 MiB, so a
/// runtime with a few coroutines still touches few page tables.
pub(super) const GUARD_BATCH: usize = 64;

/// Whether batched guard installation works here; set to false for the
/// process at its first failure (a kernel before 6.14 knows no
/// `PIDFD_SELF`).
static BATCHED_GUARDS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Installs the guard pages of `slots` (first pages of slots of a live chunk,
/// none handed out yet) in one call where the kernel allows it. Returns how
/// many, from the first, are guarded; the caller guards the others one by
/// one with [`install_guard`] as it carves them.
pub(super) fn install_guards_batched(slots: &[usize], page: usize) -> usize {
    use std::sync::atomic::Ordering;
    if guard_kind() != GuardKind::Madvise || !BATCHED_GUARDS.load(Ordering::Relaxed) {
        return 0;
    }
    // SAFETY: the pages are inside a live chunk and not yet handed out, so
    // no Rust object lives in them.
    match unsafe { sys::install_guard_regions(slots, page) } {
        Ok(done) => done,
        Err(_) => {
            BATCHED_GUARDS.store(false, Ordering::Relaxed);
            0
        }
    }
}

/// Makes the page at `slot` (the first page of a slot of a live chunk, not
/// yet handed out) a guard page, the way [`guard_kind`] says.
pub(super) fn install_guard(slot: usize, page: usize) -> Result<(), (&'static str, io::Error)> {
    match guard_kind() {
        // SAFETY: the page is inside a live chunk and not yet handed out, so
        // no Rust object lives in it.
        GuardKind::Madvise => unsafe { sys::install_guard_region(slot, page) }
            .map_err(|e| ("install a guard page with madvise(MADV_GUARD_INSTALL)", e)),
        // SAFETY: as above.
        GuardKind::Mprotect => unsafe { sys::protect_none(slot, page) }
            .map_err(|e| ("install a guard page with mprotect", e)),
    }
}
