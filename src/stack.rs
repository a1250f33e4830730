//! TEMPORARY stand-in for the arena stack pool (same API); replaced by the real module.
use corosensei::stack::{DefaultStack, Stack, StackPointer};
use std::io;

pub(crate) const DEFAULT_STACK_SIZE: usize = 256 * 1024;
pub(crate) const MIN_STACK_SIZE: usize = 16 * 1024;
pub(crate) const MAX_STACK_SIZE: usize = 1 << 30;

pub(crate) fn validate_stack_size(bytes: usize) -> io::Result<usize> {
    if !(MIN_STACK_SIZE..=MAX_STACK_SIZE).contains(&bytes) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("stack size {bytes} is outside the allowed range 16 KiB..=1 GiB"),
        ));
    }
    Ok(bytes.next_multiple_of(4096))
}

pub(crate) struct StackPool {
    free: Vec<(usize, Vec<PooledStack>)>,
}

impl StackPool {
    pub(crate) fn new() -> Self {
        StackPool { free: Vec::new() }
    }
    pub(crate) fn take(
        &mut self,
        size: usize,
        _id: u64,
        _name: Option<&str>,
    ) -> io::Result<PooledStack> {
        if let Some((_, list)) = self.free.iter_mut().find(|(s, _)| *s == size) {
            if let Some(s) = list.pop() {
                return Ok(s);
            }
        }
        Ok(PooledStack {
            inner: DefaultStack::new(size)?,
            size,
        })
    }
    pub(crate) fn give_back(&mut self, stack: PooledStack) {
        match self.free.iter_mut().find(|(s, _)| *s == stack.size) {
            Some((_, list)) => list.push(stack),
            None => self.free.push((stack.size, vec![stack])),
        }
    }
}

pub(crate) struct PooledStack {
    inner: DefaultStack,
    size: usize,
}

// SAFETY: delegates to DefaultStack, which has a guard page.
unsafe impl Stack for PooledStack {
    fn base(&self) -> StackPointer {
        self.inner.base()
    }
    fn limit(&self) -> StackPointer {
        self.inner.limit()
    }
}
