//! Waiting for a child to exit without blocking the runtime: a pidfd on
//! the reactor where the kernel has one, a wait on the blocking pool where
//! it does not.
//!
//! A pidfd (`pidfd_open`, Linux 5.3) becomes readable when its process
//! exits, so the waiting coroutine parks on the reactor like a socket read
//! and no thread is spent. Where `pidfd_open` fails (an older kernel, or a
//! seccomp filter that refuses it), a pool thread waits in
//! `waitid(P_PID, pid, WEXITED | WNOWAIT)`, which sees the exit without
//! reaping the child, so std's `Child` still reaps it and caches the
//! status. Either way the status itself always comes from std's
//! `Child::try_wait`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::pipe::Registered;
use crate::blocking::unblock;
use crate::scheduler;

/// How a [`Child`](super::Child) waits for its exit.
pub(super) enum ExitWatch {
    /// Outside a runtime: std's blocking `wait`, in place.
    InPlace,
    /// The child's pidfd on the reactor (`registered` names `pidfd`'s fd).
    Pidfd {
        /// Deregisters before `pidfd` closes (field order).
        registered: Registered,
        /// The pidfd itself, held only to keep it open.
        _pidfd: OwnedFd,
    },
    /// No pidfd: a pool thread waits without reaping.
    Pool,
}

impl ExitWatch {
    /// How to watch the child `pid` from here.
    pub(super) fn new(pid: u32) -> ExitWatch {
        if !scheduler::in_runtime() {
            return ExitWatch::InPlace;
        }
        let Ok(pidfd) = pidfd_open(pid) else {
            return ExitWatch::Pool;
        };
        match Registered::new("corio::process::Child::wait", pidfd.as_raw_fd()) {
            Ok(registered) => ExitWatch::Pidfd {
                registered,
                _pidfd: pidfd,
            },
            Err(_) => ExitWatch::Pool,
        }
    }

    /// Which way this watch waits, for `Debug`.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            ExitWatch::InPlace => "in place",
            ExitWatch::Pidfd { .. } => "pidfd",
            ExitWatch::Pool => "blocking pool",
        }
    }

    /// Waits until `child` has exited and returns its status, reaped by
    /// std's `Child`.
    pub(super) fn wait(
        &self,
        child: &mut std::process::Child,
    ) -> io::Result<std::process::ExitStatus> {
        const WHAT: &str = "corio::process::Child::wait";
        let pid = child.id();
        match self {
            ExitWatch::InPlace => child.wait(),
            ExitWatch::Pidfd { registered, .. } => {
                // The pidfd turns readable at the exit; `try_wait` reaps.
                registered.io(WHAT, mio::Interest::READABLE, || {
                    match child.try_wait()? {
                        Some(status) => Ok(status),
                        None => Err(io::ErrorKind::WouldBlock.into()),
                    }
                })
            }
            ExitWatch::Pool => loop {
                if let Some(status) = child.try_wait()? {
                    return Ok(status);
                }
                unblock(WHAT, move || wait_exited(pid))?;
            },
        }
    }
}

/// A pidfd for the process `pid` (close-on-exec).
fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    // SAFETY: `pidfd_open(pid, 0)` takes two integers and touches no
    // memory of ours; it returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).expect("the kernel returns descriptors that fit an int");
    // SAFETY: `fd` was just returned by the kernel, is open, and nothing
    // else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Blocks until the child `pid` has exited, without reaping it.
fn wait_exited(pid: u32) -> io::Result<()> {
    let pid = libc::id_t::from(pid);
    loop {
        // SAFETY: an all-zero `siginfo_t` is a valid value (plain integers
        // and padding).
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid, writable `siginfo_t` for the call.
        let done =
            unsafe { libc::waitid(libc::P_PID, pid, &mut info, libc::WEXITED | libc::WNOWAIT) };
        if done == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}
