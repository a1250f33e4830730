//! A stream socket's `recv` and `send` as plain system calls.
//!
//! std's `TcpStream::read` and `write` call the C library's `recv` and
//! `send`. Those are POSIX cancellation points: in a process with more than
//! one thread, glibc brackets each with `__pthread_enable_asynccancel` and
//! `__pthread_disable_asynccancel`, two locked read-modify-writes of the
//! thread's cancellation word. A corio process has a second thread (the
//! stall watchdog), so it paid them on every read and write, where a
//! single-threaded runtime such as tokio's current-thread one does not.
//! corio never cancels a thread with `pthread_cancel`, so it asks the
//! kernel directly, through `syscall(2)`, which is no cancellation point.
//! The flags are std's, so the results and errors are the same: `recv`
//! with none, `send` with `MSG_NOSIGNAL` (a write to a closed connection
//! gives `EPIPE`, not a `SIGPIPE`).

use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// `recv(fd, buf, 0)`, as std's `TcpStream::read` (module docs).
///
/// # Errors
///
/// The kernel's, as `io::Error::last_os_error`.
pub(crate) fn recv(fd: &impl AsRawFd, buf: &mut [u8]) -> io::Result<usize> {
    let fd: RawFd = fd.as_raw_fd();
    // SAFETY: `buf` is a live, writable buffer of `buf.len()` bytes for the
    // whole call; null address pointers are what `recv` passes to
    // `recvfrom`; `fd` is borrowed from a socket that stays open meanwhile.
    let n = unsafe {
        libc::syscall(
            libc::SYS_recvfrom,
            libc::c_long::from(fd),
            buf.as_mut_ptr(),
            buf.len(),
            0 as libc::c_long,
            std::ptr::null_mut::<libc::sockaddr>(),
            std::ptr::null_mut::<libc::socklen_t>(),
        )
    };
    byte_count(n)
}

/// `send(fd, buf, MSG_NOSIGNAL)`, as std's `TcpStream::write` (module
/// docs).
///
/// # Errors
///
/// The kernel's, as `io::Error::last_os_error`; `EPIPE` (`BrokenPipe`)
/// once the connection cannot send.
pub(crate) fn send(fd: &impl AsRawFd, buf: &[u8]) -> io::Result<usize> {
    let fd: RawFd = fd.as_raw_fd();
    // SAFETY: `buf` is a live buffer of `buf.len()` bytes for the whole
    // call, only read; a null address is what `send` passes to `sendto`;
    // `fd` is borrowed from a socket that stays open meanwhile.
    let n = unsafe {
        libc::syscall(
            libc::SYS_sendto,
            libc::c_long::from(fd),
            buf.as_ptr(),
            buf.len(),
            libc::c_long::from(libc::MSG_NOSIGNAL),
            std::ptr::null::<libc::sockaddr>(),
            0 as libc::c_long,
        )
    };
    byte_count(n)
}

/// A byte count from `syscall(2)`, or the error it left in `errno`.
///
/// Every argument above is passed as a whole `long`, which is what
/// `syscall(2)` reads each variadic argument as.
fn byte_count(n: libc::c_long) -> io::Result<usize> {
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}
