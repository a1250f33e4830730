//! Standard input and output for coroutines, and std::io's traits and
//! types.
//!
//! [`stdin`], [`stdout`] and [`stderr`] have std's shapes ([`Stdin::read_line`],
//! [`Stdin::lines`], [`Stdin::lock`], `BufRead` on [`StdinLock`]); everything
//! else is `std::io` re-exported (`Read`, `Write`, `BufRead`, `BufReader`,
//! `Error`, `ErrorKind`, `Result`, ...), so `use std::io::{self, BufRead}`
//! ports as `use corio::io::{self, BufRead}`.
//!
//! # Coroutines
//!
//! The descriptors 0, 1 and 2 are inherited: their open file description
//! is shared with the parent (a shell's terminal, say), so corio never sets
//! `O_NONBLOCK` on them, which would leak into the parent. Instead:
//!
//! - A read from stdin runs on corio's blocking pool (std's own locked,
//!   buffered `Stdin` there), suspending only the calling coroutine. A
//!   pending read holds one pool thread until a line or chunk arrives, as
//!   tokio's does. What it reads goes to a buffer shared by every corio
//!   reader of the process, so a read whose coroutine is cancelled loses
//!   nothing: the next reader gets those bytes.
//! - A write to stdout or stderr first asks `poll` whether the terminal or
//!   pipe can take bytes. If it can, the write runs in place through std's
//!   handle (std's buffering and lock, shared with `println!`), at most
//!   4 KiB at a time; if it cannot, the caller waits for room on the pool
//!   and then writes.
//!
//! ```no_run
//! use corio::io::{self, BufRead};
//!
//! corio::run(|| -> io::Result<()> {
//!     for line in io::stdin().lines() {
//!         println!("got {}", line?);
//!     }
//!     Ok(())
//! })
//! .unwrap();
//! ```

pub use std::io::*;

use std::io as stdio;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Mutex;

use crate::blocking::unblock;
use crate::scheduler::lock_unpoisoned;

/// Bytes a corio stdin reader took from fd 0 that no reader has consumed
/// yet, oldest first. Shared by the whole process, as std's stdin buffer
/// is; a std `Mutex` because it is held only for a copy, never across a
/// switch.
static PENDING: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Takes every pending byte.
fn take_pending() -> Vec<u8> {
    std::mem::take(&mut *lock_unpoisoned(&PENDING))
}

/// Gives back `rest`, bytes taken but not consumed, ahead of the others.
fn give_back(rest: &[u8]) {
    if rest.is_empty() {
        return;
    }
    let mut pending = lock_unpoisoned(&PENDING);
    pending.splice(0..0, rest.iter().copied());
}

/// Reads from fd 0, where it may block, into [`PENDING`]: one chunk of
/// std's buffer, or everything up to end of file when `to_end`. Returns
/// how many bytes came; 0 means end of file.
fn fill_pending(to_end: bool) -> stdio::Result<usize> {
    unblock("corio::io::Stdin::read", move || {
        // std's lock serializes pool threads reading stdin; the bytes are
        // appended under it, so they stay in order.
        let mut input = stdio::stdin().lock();
        let chunk = if to_end {
            let mut all = Vec::new();
            input.read_to_end(&mut all)?;
            all
        } else {
            let chunk = loop {
                match input.fill_buf() {
                    Ok(chunk) => break chunk.to_vec(),
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            input.consume(chunk.len());
            chunk
        };
        lock_unpoisoned(&PENDING).extend_from_slice(&chunk);
        Ok(chunk.len())
    })
}

/// The standard input of the process, as [`std::io::Stdin`]; made by
/// [`stdin`].
///
/// # Coroutines
///
/// A read suspends only the calling coroutine; the read itself waits on a
/// thread of the blocking pool, which it holds until input comes (see the
/// [module docs](self)).
///
/// # Examples
///
/// ```no_run
/// corio::run(|| {
///     let mut name = String::new();
///     corio::io::stdin().read_line(&mut name).unwrap();
///     println!("hello, {}", name.trim());
/// });
/// ```
#[derive(Debug)]
pub struct Stdin {
    /// std's handle, for `AsFd` (reads go through the pool instead).
    inner: stdio::Stdin,
}

/// The standard input of the process, as [`std::io::stdin`].
///
/// # Examples
///
/// ```no_run
/// use corio::io::Read;
///
/// corio::run(|| {
///     let mut all = String::new();
///     corio::io::stdin().read_to_string(&mut all).unwrap();
/// });
/// ```
pub fn stdin() -> Stdin {
    Stdin {
        inner: stdio::stdin(),
    }
}

impl Stdin {
    /// A buffered reader of stdin, as [`std::io::Stdin::lock`].
    ///
    /// Unlike std's, it does not exclude other readers: two coroutines
    /// reading stdin at once each get whole chunks, in order. Bytes it has
    /// buffered but not handed out go back for the next reader when it is
    /// dropped.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use corio::io::BufRead;
    ///
    /// corio::run(|| {
    ///     let count = corio::io::stdin().lock().lines().count();
    ///     println!("{count} lines");
    /// });
    /// ```
    pub fn lock(&self) -> StdinLock<'static> {
        StdinLock {
            buf: Vec::new(),
            pos: 0,
            _stdin: PhantomData,
        }
    }

    /// Reads one line, with its `\n`, onto the end of `buf`, as
    /// [`std::io::Stdin::read_line`]; `Ok(0)` at end of input.
    ///
    /// # Coroutines
    ///
    /// Suspends only the caller; the wait holds one blocking-pool thread.
    ///
    /// # Errors
    ///
    /// As std's: `InvalidData` when the line is not UTF-8 (`buf` is left
    /// as it was), or the read's own error.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// corio::run(|| {
    ///     let mut line = String::new();
    ///     while corio::io::stdin().read_line(&mut line).unwrap() > 0 {}
    ///     println!("read {} bytes", line.len());
    /// });
    /// ```
    pub fn read_line(&self, buf: &mut String) -> Result<usize> {
        self.lock().read_line(buf)
    }

    /// An iterator over the lines of stdin, without their line ends, as
    /// [`std::io::Stdin::lines`].
    ///
    /// # Examples
    ///
    /// ```no_run
    /// corio::run(|| {
    ///     for line in corio::io::stdin().lines() {
    ///         println!("{}", line.unwrap().to_uppercase());
    ///     }
    /// });
    /// ```
    pub fn lines(self) -> Lines<StdinLock<'static>> {
        self.lock().lines()
    }
}

impl Read for Stdin {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.lock().read(buf)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        self.lock().read_to_end(buf)
    }
}

impl Read for &Stdin {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.lock().read(buf)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        self.lock().read_to_end(buf)
    }
}

impl AsFd for Stdin {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for Stdin {
    fn as_raw_fd(&self) -> RawFd {
        0
    }
}

/// A buffered reader of stdin, as [`std::io::StdinLock`]; made by
/// [`Stdin::lock`].
///
/// # Examples
///
/// ```no_run
/// use corio::io::BufRead;
///
/// corio::run(|| {
///     let mut input = corio::io::stdin().lock();
///     let mut word = Vec::new();
///     input.read_until(b' ', &mut word).unwrap();
/// });
/// ```
#[derive(Debug)]
pub struct StdinLock<'a> {
    /// Bytes taken from the shared buffer for this reader.
    buf: Vec<u8>,
    /// How many of `buf` were consumed.
    pos: usize,
    /// std's lock borrows its `Stdin`; this one keeps the same shape.
    _stdin: PhantomData<&'a Stdin>,
}

impl BufRead for StdinLock<'_> {
    fn fill_buf(&mut self) -> Result<&[u8]> {
        while self.pos == self.buf.len() {
            self.buf = take_pending();
            self.pos = 0;
            if !self.buf.is_empty() {
                break;
            }
            // Nothing pending: read some. If another reader took what came
            // before this one looked, read again; 0 bytes is end of input.
            if fill_pending(false)? == 0 {
                self.buf = take_pending();
                break;
            }
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.buf.len());
    }
}

impl Read for StdinLock<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }

    /// Reads to the end of input in one pool trip.
    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> Result<usize> {
        let before = buf.len();
        buf.extend_from_slice(&self.buf[self.pos..]);
        self.pos = self.buf.len();
        fill_pending(true)?;
        buf.extend(take_pending());
        Ok(buf.len() - before)
    }
}

impl Drop for StdinLock<'_> {
    fn drop(&mut self) {
        give_back(&self.buf[self.pos..]);
    }
}

/// The most bytes one write hands to the kernel in place: a pipe that
/// `poll` calls writable takes this many without waiting.
const IN_PLACE_WRITE: usize = libc::PIPE_BUF;

/// Waits until `fd` can take bytes: at once if `poll` says so, else on the
/// blocking pool, suspending only the caller.
fn wait_writable(fd: RawFd, what: &str) -> Result<()> {
    if poll_writable(fd, 0)? {
        return Ok(());
    }
    unblock(what, move || poll_writable(fd, -1).map(drop))
}

/// Whether `fd` is writable (or has failed, which the write will report),
/// waiting at most `timeout_ms` (-1: for ever).
fn poll_writable(fd: RawFd, timeout_ms: i32) -> Result<bool> {
    let mut pollfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    loop {
        // SAFETY: `pollfd` is one valid, writable `pollfd` for the call's
        // duration; `poll` touches nothing else.
        let ready = unsafe { libc::poll(&mut pollfd, 1, timeout_ms) };
        match ready {
            -1 => {
                let e = Error::last_os_error();
                if e.kind() != ErrorKind::Interrupted {
                    return Err(e);
                }
            }
            0 => return Ok(false),
            _ => return Ok(true),
        }
    }
}

/// Defines a corio output stream over std's: the handle, its lock, and
/// their `Write` through [`wait_writable`].
macro_rules! output_stream {
    (
        $(#[$handle_doc:meta])* $handle:ident,
        $(#[$lock_doc:meta])* $lock:ident,
        $(#[$fn_doc:meta])* $func:ident, $fd:expr
    ) => {
        $(#[$handle_doc])*
        #[derive(Debug)]
        pub struct $handle {
            /// std's handle: its buffer and lock are shared with `print!`.
            inner: stdio::$handle,
        }

        $(#[$fn_doc])*
        pub fn $func() -> $handle {
            $handle { inner: stdio::$func() }
        }

        impl $handle {
            /// Locks the stream for a series of writes, as std's `lock`
            /// (the same reentrant lock that `print!` takes; a coroutine
            /// that holds it across a wait lets only its own thread's
            /// coroutines in).
            ///
            /// # Examples
            ///
            /// ```
            /// use corio::io::Write;
            ///
            /// corio::run(|| {
            #[doc = concat!("    let mut out = corio::io::", stringify!($func), "().lock();")]
            ///     writeln!(out, "one").unwrap();
            ///     writeln!(out, "two").unwrap();
            /// });
            /// ```
            pub fn lock(&self) -> $lock<'static> {
                $lock { inner: self.inner.lock() }
            }
        }

        impl Write for $handle {
            fn write(&mut self, buf: &[u8]) -> Result<usize> {
                wait_writable($fd, concat!("corio::io::", stringify!($handle), "::write"))?;
                self.inner.write(&buf[..buf.len().min(IN_PLACE_WRITE)])
            }

            fn flush(&mut self) -> Result<()> {
                wait_writable($fd, concat!("corio::io::", stringify!($handle), "::flush"))?;
                self.inner.flush()
            }
        }

        impl Write for &$handle {
            fn write(&mut self, buf: &[u8]) -> Result<usize> {
                wait_writable($fd, concat!("corio::io::", stringify!($handle), "::write"))?;
                (&self.inner).write(&buf[..buf.len().min(IN_PLACE_WRITE)])
            }

            fn flush(&mut self) -> Result<()> {
                wait_writable($fd, concat!("corio::io::", stringify!($handle), "::flush"))?;
                (&self.inner).flush()
            }
        }

        impl AsFd for $handle {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.inner.as_fd()
            }
        }

        impl AsRawFd for $handle {
            fn as_raw_fd(&self) -> RawFd {
                $fd
            }
        }

        $(#[$lock_doc])*
        #[derive(Debug)]
        pub struct $lock<'a> {
            /// std's lock.
            inner: stdio::$lock<'a>,
        }

        impl Write for $lock<'_> {
            fn write(&mut self, buf: &[u8]) -> Result<usize> {
                wait_writable($fd, concat!("corio::io::", stringify!($lock), "::write"))?;
                self.inner.write(&buf[..buf.len().min(IN_PLACE_WRITE)])
            }

            fn flush(&mut self) -> Result<()> {
                wait_writable($fd, concat!("corio::io::", stringify!($lock), "::flush"))?;
                self.inner.flush()
            }
        }
    };
}

output_stream!(
    /// The standard output of the process, as [`std::io::Stdout`]: std's
    /// line-buffered handle, shared with `println!`; made by [`stdout`].
    ///
    /// # Coroutines
    ///
    /// A write waits for room on the blocking pool, suspending only the
    /// caller, when the terminal or pipe is full (see the
    /// [module docs](self)); otherwise it runs in place.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::io::Write;
    ///
    /// corio::run(|| {
    ///     corio::io::stdout().write_all(b"hello\n").unwrap();
    /// });
    /// ```
    Stdout,
    /// A locked [`Stdout`], as [`std::io::StdoutLock`]; made by
    /// [`Stdout::lock`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::io::Write;
    ///
    /// corio::run(|| {
    ///     let mut out = corio::io::stdout().lock();
    ///     out.write_all(b"locked\n").unwrap();
    /// });
    /// ```
    StdoutLock,
    /// The standard output of the process, as [`std::io::stdout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::io::Write;
    ///
    /// corio::run(|| {
    ///     writeln!(corio::io::stdout(), "{}", 42).unwrap();
    /// });
    /// ```
    stdout, 1
);

output_stream!(
    /// The standard error of the process, as [`std::io::Stderr`]:
    /// unbuffered, shared with `eprintln!`; made by [`stderr`].
    ///
    /// # Coroutines
    ///
    /// A write waits for room on the blocking pool, suspending only the
    /// caller, when the terminal or pipe is full (see the
    /// [module docs](self)); otherwise it runs in place.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::io::Write;
    ///
    /// corio::run(|| {
    ///     corio::io::stderr().write_all(b"warning\n").unwrap();
    /// });
    /// ```
    Stderr,
    /// A locked [`Stderr`], as [`std::io::StderrLock`]; made by
    /// [`Stderr::lock`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::io::Write;
    ///
    /// corio::run(|| {
    ///     let mut err = corio::io::stderr().lock();
    ///     err.write_all(b"locked\n").unwrap();
    /// });
    /// ```
    StderrLock,
    /// The standard error of the process, as [`std::io::stderr`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::io::Write;
    ///
    /// corio::run(|| {
    ///     writeln!(corio::io::stderr(), "{}", 42).unwrap();
    /// });
    /// ```
    stderr, 2
);
