//! Thread against process over the *same* mechanism, so that the difference
//! left is the one the textbook claim is about (a process switch also
//! changes the address space; a thread switch within one process does not):
//!
//! - a pipe: one 1-byte `write` and one 1-byte `read` per hop, between two
//!   threads (`thread_pipe_pingpong`) and between this process and an
//!   `execve`d child (`process_pipe_pingpong`, in `handoff.rs`);
//! - a futex: a word in memory both sides can see, set and woken with
//!   `futex(FUTEX_WAKE)`, waited on with `futex(FUTEX_WAIT)`, between two
//!   threads (`thread_futex_pingpong`) and between this process and a
//!   `fork`ed child on a `MAP_SHARED` page (`process_futex_pingpong`). Both
//!   use the shared (not `FUTEX_PRIVATE_FLAG`) futex operations, which a
//!   futex across processes needs, so the kernel does the same work in each.
//!
//! The condvar and channel rows of `handoff.rs` use std's primitives, which
//! spin a little before they sleep and use private futexes: good for what
//! a Rust program really pays, not for comparing with a process.

use std::fs::File;
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::os::fd::FromRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::handoff::{Measured, timed};
use crate::os::ContextSwitches;

/// Two OS threads bouncing one byte over two pipes, one `write` and one
/// `read` syscall per hop, as the echo child of `process_pipe_pingpong`.
pub fn thread_pipe_pingpong(round_trips: u64) -> Measured {
    let (mut from_main, mut to_partner) = pipe().expect("creating a pipe");
    let (mut from_partner, mut to_main) = pipe().expect("creating a pipe");
    let partner = std::thread::spawn(move || {
        let mut byte = [0u8; 1];
        // The first byte is the untimed warm-up.
        let mut before = None;
        while from_main.read(&mut byte).expect("reading the ping") == 1 {
            to_main
                .write_all(&byte)
                .expect("the main thread reads every pong");
            before.get_or_insert_with(ContextSwitches::of_this_thread);
        }
        ContextSwitches::of_this_thread().since(before.unwrap_or_default())
    });
    let mut byte = [0u8; 1];
    let mut round_trip = || {
        to_partner
            .write_all(&[black_box(7)])
            .expect("the partner reads until the pipe closes");
        from_partner
            .read_exact(&mut byte)
            .expect("the partner answers every byte");
        black_box(byte);
    };
    round_trip();
    let mut measured = timed(round_trips, round_trip);
    drop(to_partner);
    measured.context_switches =
        measured.context_switches + partner.join().expect("the partner thread does not panic");
    measured
}

/// Two OS threads taking turns on one futex word (see the module docs).
pub fn thread_futex_pingpong(round_trips: u64) -> Measured {
    let word = Arc::new(AtomicU32::new(PONG));
    let partner_word = Arc::clone(&word);
    let partner = std::thread::spawn(move || {
        let before = ContextSwitches::of_this_thread();
        partner_loop(&partner_word);
        ContextSwitches::of_this_thread().since(before)
    });
    let mut measured = timed_on_word(&word, round_trips);
    word.store(STOP, Ordering::Release);
    futex_wake(&word);
    measured.context_switches =
        measured.context_switches + partner.join().expect("the partner thread does not panic");
    measured
}

/// This process and a `fork`ed child taking turns on one futex word in a
/// shared page. The child only touches that page and makes raw system calls
/// (`futex`, `getrusage`, `_exit`), which is all a child forked from a
/// multi-threaded process may safely do; it leaves its context-switch counts
/// in the page so they are counted like the thread rows'.
pub fn process_futex_pingpong(round_trips: u64) -> Measured {
    let page = SharedPage::new().expect("mapping a shared page");
    let shared = page.shared();
    shared.word.store(PONG, Ordering::Release);
    // SAFETY: fork has no memory-safety preconditions. The child branch below
    // runs only async-signal-safe code: atomics on the shared page, raw
    // futex/getrusage syscalls, and `_exit`, which skips Rust's and libc's
    // exit handlers (they could take locks another thread held at the fork).
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let before = rusage_self();
        partner_loop(&shared.word);
        let after = rusage_self();
        shared
            .voluntary
            .store(after.0 - before.0, Ordering::Release);
        shared
            .involuntary
            .store(after.1 - before.1, Ordering::Release);
        // SAFETY: `_exit` ends the child without running any user-space
        // teardown, as a forked child of a threaded process must.
        unsafe { libc::_exit(0) };
    }
    assert!(
        pid > 0,
        "fork failed: {}; the process rows need a second process",
        io::Error::last_os_error()
    );
    let mut measured = timed_on_word(&shared.word, round_trips);
    shared.word.store(STOP, Ordering::Release);
    futex_wake(&shared.word);
    let mut status = 0;
    // SAFETY: `status` is a live `c_int`; `pid` is our own child.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        waited == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the futex child did not exit cleanly (status {status})"
    );
    measured.context_switches = measured.context_switches
        + ContextSwitches {
            voluntary: shared.voluntary.load(Ordering::Acquire),
            involuntary: shared.involuntary.load(Ordering::Acquire),
        };
    measured
}

/// The main side's turn is over, the partner's to take.
const PING: u32 = 1;
/// The partner answered; the main side's turn.
const PONG: u32 = 0;
/// The partner should leave.
const STOP: u32 = 2;

/// One warm-up round trip, then `round_trips` timed ones, on `word`.
fn timed_on_word(word: &AtomicU32, round_trips: u64) -> Measured {
    let round_trip = || {
        word.store(PING, Ordering::Release);
        futex_wake(word);
        while word.load(Ordering::Acquire) == PING {
            futex_wait(word, PING);
        }
    };
    round_trip();
    timed(round_trips, round_trip)
}

/// Answers every ping with a pong until told to stop.
fn partner_loop(word: &AtomicU32) {
    loop {
        let mut now = word.load(Ordering::Acquire);
        while now == PONG {
            futex_wait(word, PONG);
            now = word.load(Ordering::Acquire);
        }
        if now == STOP {
            return;
        }
        word.store(PONG, Ordering::Release);
        futex_wake(word);
    }
}

/// Sleeps until `word` is woken, if it still holds `expected`.
fn futex_wait(word: &AtomicU32, expected: u32) {
    // SAFETY: `word` is a live, aligned u32 for the whole call; FUTEX_WAIT
    // only reads it. A spurious return (EAGAIN, EINTR) is handled by the
    // caller's loop, which checks the word again.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            expected,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

/// Wakes one waiter of `word`.
fn futex_wake(word: &AtomicU32) {
    // SAFETY: `word` is a live, aligned u32; FUTEX_WAKE does not touch it.
    unsafe {
        libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, 1);
    }
}

/// This process's (voluntary, involuntary) context switches. Allocates
/// nothing (`getrusage(RUSAGE_SELF)` cannot fail), so the forked child may
/// call it.
fn rusage_self() -> (u64, u64) {
    // RUSAGE_SELF in the child is the child alone.
    let usage = crate::os::usage::rusage(libc::RUSAGE_SELF);
    (usage.ru_nvcsw as u64, usage.ru_nivcsw as u64)
}

/// A pipe as (read end, write end), both close-on-exec.
fn pipe() -> io::Result<(File, File)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both are fresh descriptors owned by nobody else.
    Ok(unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) })
}

/// What the forked child and the parent share.
#[repr(C)]
struct Shared {
    word: AtomicU32,
    voluntary: AtomicU64,
    involuntary: AtomicU64,
}

/// One anonymous `MAP_SHARED` page: unlike the rest of memory, a `fork`ed
/// child's writes to it are seen by the parent.
struct SharedPage {
    at: std::ptr::NonNull<Shared>,
}

impl SharedPage {
    fn new() -> io::Result<SharedPage> {
        // SAFETY: a fresh anonymous mapping; no existing memory is affected.
        let at = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if at == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(SharedPage {
            at: std::ptr::NonNull::new(at.cast()).expect("mmap does not return null on success"),
        })
    }

    fn shared(&self) -> &Shared {
        // SAFETY: the page is mapped, zero-filled (a valid `Shared`: atomics
        // of zero), page-aligned, and lives as long as `self`.
        unsafe { self.at.as_ref() }
    }
}

impl Drop for SharedPage {
    fn drop(&mut self) {
        // SAFETY: the page was mapped by `new` with this length and no
        // reference into it outlives `self`.
        unsafe { libc::munmap(self.at.as_ptr().cast(), 4096) };
    }
}
