//! The label at the top of every stack slot: whose stack it is, for the
//! overflow report.

/// Bytes at the top of each slot holding the [`StackHeader`].
pub(crate) const HEADER_SIZE: usize = 64;

/// Bytes of the owner's name kept in the header.
pub(crate) const NAME_CAPACITY: usize = 40;

const _: () = assert!(size_of::<StackHeader>() == HEADER_SIZE);
const _: () = assert!(HEADER_SIZE % corosensei::stack::STACK_ALIGNMENT == 0);

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
    pub(crate) reserved: [u8; 2],
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
