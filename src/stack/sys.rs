//! The one place where corio's stacks talk to the kernel: `mmap`, `munmap`,
//! `madvise` / `process_madvise`, `mprotect`, `sysconf`, `sigaction`,
//! `sigaltstack`, the `write`/`abort` the overflow handler ends with, and
//! glibc's `malloc_trim`.
//!
//! Each call is a small function with the `unsafe` fenced inside it (or, when
//! the caller must promise something about the memory, an `unsafe fn` whose
//! `# Safety` says what). Everything else in `stack/` is safe code over
//! addresses these hand out.

use std::io;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// `madvise` advice that makes a range a guard region (Linux 6.13+,
/// `include/uapi/asm-generic/mman-common.h`). Not in the libc crate yet.
/// Touching a guard region raises SIGSEGV; guards survive `MADV_DONTNEED`
/// and, unlike `mprotect`, do not split the mapping.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// The system page size in bytes, read once with `sysconf` and cached.
///
/// # Panics
///
/// If `sysconf(_SC_PAGESIZE)` does not return a power of two (it always does
/// on Linux).
///
/// # Examples
///
/// ```
/// assert!(corio::stack::page_size().is_power_of_two());
/// ```
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

/// `0` as success, anything else as the OS error.
fn check(result: libc::c_int) -> io::Result<()> {
    if result == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Maps `len` bytes of fresh private anonymous read-write memory at an
/// address the kernel picks and returns that address. `reserve: false`
/// adds `MAP_NORESERVE` (only touched pages count against memory limits).
/// Stack regions are also `MADV_NOHUGEPAGE` (best effort), so that touching
/// one stack page never faults in a 2 MiB transparent huge page.
pub(crate) fn map(len: usize, reserve: bool) -> io::Result<usize> {
    let mut flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK;
    if !reserve {
        flags |= libc::MAP_NORESERVE;
    }
    // SAFETY: a fresh anonymous mapping at an address the kernel picks
    // aliases no Rust object.
    let start = unsafe {
        libc::mmap(
            ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            flags,
            -1,
            0,
        )
    };
    if start == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // Fails only on kernels without transparent huge pages.
    // SAFETY: advice on our own fresh mapping; it changes no contents.
    unsafe { libc::madvise(start, len, libc::MADV_NOHUGEPAGE) };
    Ok(start as usize)
}

/// Unmaps `[start, start + len)`.
///
/// # Safety
///
/// The range was returned by [`map`] (or is a whole part of it), is owned
/// by the caller, and no reference points into it any more.
pub(crate) unsafe fn unmap(start: usize, len: usize) -> io::Result<()> {
    // SAFETY: the caller's promise.
    check(unsafe { libc::munmap(start as *mut libc::c_void, len) })
}

/// Makes `[start, start + len)` a guard region with `MADV_GUARD_INSTALL`.
/// `EINVAL` means the kernel is older than 6.13.
///
/// # Safety
///
/// The range is page-aligned, inside a mapping the caller owns, and holds
/// no Rust object (its contents are lost).
pub(crate) unsafe fn install_guard_region(start: usize, len: usize) -> io::Result<()> {
    // SAFETY: the caller's promise.
    check(unsafe { libc::madvise(start as *mut libc::c_void, len, MADV_GUARD_INSTALL) })
}

/// `pidfd` for "this process" (`PIDFD_SELF_THREAD_GROUP`, Linux 6.14+),
/// which `process_madvise` accepts without a real pidfd; a fork's child
/// means itself by it, where a pidfd opened before the fork would name the
/// parent.
const PIDFD_SELF: libc::c_int = -10001;

/// Most ranges one `process_madvise` call takes (`UIO_MAXIOV`).
pub(crate) const MAX_RANGES: usize = 1024;

/// Gives `advice` for each `len`-byte range starting at `starts`, in one
/// `process_madvise(PIDFD_SELF, …)` call (Linux 6.14+ for `PIDFD_SELF`;
/// 6.13+ lets a process give itself any advice this way). Returns how many
/// ranges, from the first, the kernel advised; fewer than all (also 0, and
/// an error such as `EBADF` or `EINVAL` from an older kernel) leaves the
/// rest to the caller.
///
/// # Safety
///
/// Every range is page-aligned, inside a mapping the caller owns, and, for
/// advice that changes contents (`MADV_GUARD_INSTALL`, `MADV_DONTNEED`),
/// holds no Rust object.
unsafe fn advise_ranges(starts: &[usize], len: usize, advice: libc::c_int) -> io::Result<usize> {
    let starts = &starts[..starts.len().min(MAX_RANGES)];
    let iov: Vec<libc::iovec> = starts
        .iter()
        .map(|&start| libc::iovec {
            iov_base: start as *mut libc::c_void,
            iov_len: len,
        })
        .collect();
    // SAFETY: `iov` is a valid array of `iov.len()` iovecs that outlives the
    // call; the ranges are the caller's promise; no flags.
    let advised = unsafe {
        libc::syscall(
            libc::SYS_process_madvise,
            PIDFD_SELF,
            iov.as_ptr(),
            iov.len(),
            advice,
            0,
        )
    };
    if advised < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(advised).unwrap_or(0) / len)
}

/// Makes each page-long range starting at `starts` a guard region in one
/// `process_madvise(MADV_GUARD_INSTALL)` call (see [`advise_ranges`]).
///
/// # Safety
///
/// As [`install_guard_region`], for every range.
pub(crate) unsafe fn install_guard_regions(starts: &[usize], page: usize) -> io::Result<usize> {
    // SAFETY: the caller's promise.
    unsafe { advise_ranges(starts, page, MADV_GUARD_INSTALL) }
}

/// Faults in, writable and zeroed, each `len`-byte range starting at
/// `starts`, in one `process_madvise(MADV_POPULATE_WRITE)` call (see
/// [`advise_ranges`]; `MADV_POPULATE_WRITE` itself is Linux 5.14+). The
/// kernel does for the whole batch what one page fault per page would do,
/// without a trap per page.
///
/// Writing nothing a program can see, it needs no promise from the caller
/// beyond the ranges being mapped read-write (an unmapped range is an
/// error, `ENOMEM`).
pub(crate) fn populate_regions(starts: &[usize], len: usize) -> io::Result<usize> {
    // SAFETY: population leaves the contents of present pages as they are
    // and makes absent ones zero, which is what a read would see.
    unsafe { advise_ranges(starts, len, libc::MADV_POPULATE_WRITE) }
}

/// Gives back the pages of each `len`-byte range starting at `starts` with
/// one `process_madvise(MADV_DONTNEED)` call (see [`advise_ranges`]).
///
/// # Safety
///
/// As [`release_pages`], for every range.
pub(crate) unsafe fn release_regions(starts: &[usize], len: usize) -> io::Result<usize> {
    // SAFETY: the caller's promise.
    unsafe { advise_ranges(starts, len, libc::MADV_DONTNEED) }
}

/// Makes `[start, start + len)` inaccessible with `mprotect(PROT_NONE)`
/// (splits the mapping).
///
/// # Safety
///
/// As [`install_guard_region`].
pub(crate) unsafe fn protect_none(start: usize, len: usize) -> io::Result<()> {
    // SAFETY: the caller's promise.
    check(unsafe { libc::mprotect(start as *mut libc::c_void, len, libc::PROT_NONE) })
}

/// Gives the pages of `[start, start + len)` back to the OS with
/// `MADV_DONTNEED`; they read as zero when next touched.
///
/// # Safety
///
/// As [`install_guard_region`]: whatever the range held is lost.
pub(crate) unsafe fn release_pages(start: usize, len: usize) -> io::Result<()> {
    // SAFETY: the caller's promise.
    check(unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) })
}

/// Which pages of `[start, start + len)` are resident (`mincore`): one
/// entry per page, `true` if the page is in memory. `None` if the kernel
/// refuses (the range is not mapped).
///
/// `start` must be page-aligned; `len` is rounded up to whole pages.
pub(crate) fn resident_pages(start: usize, len: usize) -> Option<Vec<bool>> {
    let page = page_size();
    let pages = len.div_ceil(page);
    let mut vec = vec![0u8; pages];
    // SAFETY: mincore only reads the page tables of the range and writes
    // one byte per page into `vec`, which has exactly that many.
    let rc = unsafe { libc::mincore(start as *mut libc::c_void, pages * page, vec.as_mut_ptr()) };
    (rc == 0).then(|| vec.iter().map(|byte| byte & 1 == 1).collect())
}

/// Whether `MADV_GUARD_INSTALL` works here: tried on a scratch mapping.
/// `Ok(false)` for `EINVAL` (a kernel before 6.13), `Err` for anything else.
pub(crate) fn guard_regions_supported() -> io::Result<bool> {
    let page = page_size();
    let scratch = map(2 * page, false)?;
    // SAFETY: the first page of our own fresh scratch mapping.
    let result = unsafe { install_guard_region(scratch, page) };
    // SAFETY: the whole scratch mapping; nothing refers to it.
    let _ = unsafe { unmap(scratch, 2 * page) };
    match result {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether batched `MADV_POPULATE_WRITE` works here: tried on one page of
/// a scratch mapping. `Ok(false)` for the errors of a kernel that lacks it
/// (`EINVAL`, `EBADF`, `ENOSYS`, `EPERM`), `Err` for anything else.
pub(crate) fn batched_populate_supported() -> io::Result<bool> {
    let page = page_size();
    let scratch = map(page, false)?;
    let result = populate_regions(&[scratch], page);
    // SAFETY: the whole scratch mapping; nothing refers to it.
    let _ = unsafe { unmap(scratch, page) };
    match result {
        Ok(1) => Ok(true),
        Ok(_) => Ok(false),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EINVAL | libc::EBADF | libc::ENOSYS | libc::EPERM)
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Returns the free memory at the top and inside the C heap to the OS
/// (glibc's `malloc_trim(0)`); does nothing where the C library has no
/// such call. Returns whether any memory went back.
pub(crate) fn trim_heap() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: malloc_trim takes the allocator's own locks and touches
        // only free memory.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

/// A signal's action as `sigaction` reports it: the handler address (or
/// `SIG_DFL` / `SIG_IGN`) and the flags.
pub(crate) fn signal_action(signum: libc::c_int) -> io::Result<(usize, libc::c_int)> {
    // SAFETY: all-zero is a valid `sigaction` (SIG_DFL, empty mask).
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: a query: a null new action changes nothing.
    check(unsafe { libc::sigaction(signum, ptr::null(), &mut old) })?;
    Ok((old.sa_sigaction, old.sa_flags))
}

/// The type of a `SA_SIGINFO` signal handler.
pub(crate) type SigInfoHandler =
    extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void);

/// Installs `handler` for `signum` with `SA_SIGINFO | SA_ONSTACK` and an
/// empty mask (the signal itself is blocked while it runs).
///
/// # Safety
///
/// `handler` must be async-signal-safe.
pub(crate) unsafe fn set_signal_handler(
    signum: libc::c_int,
    handler: SigInfoHandler,
) -> io::Result<()> {
    // SAFETY: all-zero is a valid `sigaction`.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    action.sa_sigaction = handler as usize;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
    // SAFETY: `action` is fully initialised and `handler` has the SA_SIGINFO
    // signature; the caller promises it is async-signal-safe.
    check(unsafe { libc::sigaction(signum, &action, ptr::null_mut()) })
}

/// Puts `signum` back to its default action. Async-signal-safe.
pub(crate) fn reset_signal_to_default(signum: libc::c_int) {
    // SAFETY: all-zero is SIG_DFL with an empty mask.
    let default: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: sigaction is async-signal-safe; `default` is valid.
    unsafe { libc::sigaction(signum, &default, ptr::null_mut()) };
}

/// This thread's alternate signal stack: its start, or `None` if it has
/// none (or it is disabled).
pub(crate) fn signal_stack() -> Option<usize> {
    // SAFETY: all-zero is a valid `stack_t`.
    let mut current: libc::stack_t = unsafe { std::mem::zeroed() };
    // SAFETY: a query: a null new stack changes nothing.
    unsafe { libc::sigaltstack(ptr::null(), &mut current) };
    (current.ss_flags & libc::SS_DISABLE == 0).then_some(current.ss_sp as usize)
}

/// Makes `[start, start + len)` this thread's alternate signal stack.
///
/// # Safety
///
/// The range is memory the caller owns, keeps mapped until it disables the
/// signal stack again, and uses for nothing else.
pub(crate) unsafe fn set_signal_stack(start: usize, len: usize) -> io::Result<()> {
    let new = libc::stack_t {
        ss_sp: start as *mut libc::c_void,
        ss_flags: 0,
        ss_size: len,
    };
    // SAFETY: the caller's promise about the memory; `new` is valid.
    check(unsafe { libc::sigaltstack(&new, ptr::null_mut()) })
}

/// Disables this thread's alternate signal stack. Must not run on it.
pub(crate) fn disable_signal_stack() -> io::Result<()> {
    let disable = libc::stack_t {
        ss_sp: ptr::null_mut(),
        ss_flags: libc::SS_DISABLE,
        ss_size: 0,
    };
    // SAFETY: `disable` is valid; the kernel refuses (EPERM) if we run on
    // the signal stack, and then nothing changes.
    check(unsafe { libc::sigaltstack(&disable, ptr::null_mut()) })
}

/// Writes all of `bytes` to file descriptor 2, retrying short writes and
/// `EINTR`, giving up on any other error. Async-signal-safe.
pub(crate) fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is valid for reads of its length.
        let written =
            unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len()) };
        if written > 0 {
            bytes = &bytes[written as usize..];
        } else if written == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
        }
    }
}

/// Ends the process with SIGABRT. Async-signal-safe.
pub(crate) fn abort() -> ! {
    // SAFETY: abort has no preconditions and never returns.
    unsafe { libc::abort() }
}
