//! What a runtime's OS thread is doing while one coroutine keeps it, read
//! from `/proc/self/task/TID/{stat,syscall}` and `/proc/self/fd/N`, and the
//! hint a stall report gives for it.

use std::fmt;
use std::fs;

/// What the OS thread of a stalled runtime was doing when the watchdog
/// looked (a field of [`Stall`](super::Stall)).
///
/// # Examples
///
/// ```
/// use corio::runtime::Activity;
///
/// let activity = Activity::Running;
/// assert_eq!(activity.to_string(), "running");
/// assert!(activity.hint().contains("corio::yield_now"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Activity {
    /// On the CPU (or ready for it) in user code: a loop that never yields.
    Running,
    /// Blocked in a system call.
    #[non_exhaustive]
    Blocked {
        /// The system call's name (`clock_nanosleep`, `futex`, `read`,
        /// `wait4`, …), or `syscall N` for one this table does not name.
        syscall: String,
        /// For a call on a file descriptor: the descriptor and what it is
        /// (`fd 0: a terminal (/dev/pts/1)`, `fd 7: a pipe`, `fd 3: a
        /// socket`, `fd 5: the file /tmp/x`).
        on: Option<String>,
    },
    /// Not known: `/proc` could not be read (no procfs, or not allowed),
    /// or the thread was neither running nor in a system call.
    Unknown,
}

impl Activity {
    /// What to do about it: the std call that likely did this, and corio's
    /// replacement.
    ///
    /// # Examples
    ///
    /// ```
    /// # use corio::runtime::Activity;
    /// assert_eq!(Activity::Unknown.hint(), "");
    /// ```
    pub fn hint(&self) -> &'static str {
        match self {
            Activity::Running => {
                "a loop that never yields? call corio::yield_now() every so often, or move \
                 the work to corio::spawn_blocking"
            }
            Activity::Blocked { syscall, .. } => hint_for(syscall),
            Activity::Unknown => "",
        }
    }
}

impl fmt::Display for Activity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activity::Running => f.write_str("running"),
            Activity::Blocked { syscall, on: None } => write!(f, "blocked in {syscall}"),
            Activity::Blocked {
                syscall,
                on: Some(on),
            } => write!(f, "blocked in {syscall} on {on}"),
            Activity::Unknown => f.write_str("doing something /proc does not say"),
        }
    }
}

/// The hint for a thread blocked in `syscall`.
fn hint_for(syscall: &str) -> &'static str {
    match syscall {
        "nanosleep" | "clock_nanosleep" => "std::thread::sleep? use corio::thread::sleep",
        "futex" => {
            "a std lock, std channel, std::thread::park or a std thread's join? use \
             corio::sync (Mutex, RwLock, mpsc) and corio::thread"
        }
        "read" | "readv" | "pread64" | "preadv" | "recvfrom" | "recvmsg" | "recvmmsg" => {
            "a blocking read (std::net, std::io::stdin, a pipe)? use corio's mirror \
             (corio::net) or corio::spawn_blocking"
        }
        "write" | "writev" | "pwrite64" | "pwritev" | "sendto" | "sendmsg" | "sendmmsg" => {
            "a blocking write? use corio's mirror (corio::net) or corio::spawn_blocking"
        }
        "accept" | "accept4" | "connect" => "a std::net socket? use corio::net",
        "wait4" | "waitid" => {
            "a std child wait (Command::output, Command::status, Child::wait)? run it \
             with corio::spawn_blocking"
        }
        "poll" | "ppoll" | "select" | "pselect6" | "epoll_wait" | "epoll_pwait"
        | "epoll_pwait2" => {
            "another event loop or a blocking poll inside a coroutine? use corio::net, or \
             corio::spawn_blocking"
        }
        "flock" | "fcntl" | "fsync" | "fdatasync" | "openat" | "open" | "sync_file_range" => {
            "blocking file I/O? use corio::spawn_blocking"
        }
        _ => "a blocking std call? use corio's mirror or corio::spawn_blocking",
    }
}

/// What thread `tid` of this process is doing.
pub(crate) fn read(tid: i32) -> Activity {
    let Ok(stat) = fs::read_to_string(format!("/proc/self/task/{tid}/stat")) else {
        return Activity::Unknown;
    };
    // The state follows the command name in parentheses, which may itself
    // hold spaces and parentheses: take the last ')'.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next());
    if state == Some("R") {
        return Activity::Running;
    }
    let Ok(syscall) = fs::read_to_string(format!("/proc/self/task/{tid}/syscall")) else {
        return Activity::Unknown;
    };
    parse_syscall(&syscall, describe_fd)
}

/// A `/proc/…/syscall` line as an [`Activity`]: `running`, `-1 …` (blocked
/// outside a system call), or `NR ARG0 … SP PC` (hex arguments).
fn parse_syscall(line: &str, describe_fd: impl Fn(i32) -> String) -> Activity {
    let mut fields = line.split_whitespace();
    let Some(first) = fields.next() else {
        return Activity::Unknown;
    };
    if first == "running" {
        return Activity::Running;
    }
    let Ok(nr) = first.parse::<libc::c_long>() else {
        return Activity::Unknown;
    };
    if nr < 0 {
        return Activity::Unknown;
    }
    let syscall = syscall_name(nr).map_or_else(|| format!("syscall {nr}"), str::to_owned);
    let arg0 = fields
        .next()
        .and_then(|arg| i64::from_str_radix(arg.trim_start_matches("0x"), 16).ok());
    let on = match (takes_fd(&syscall), arg0) {
        (true, Some(fd)) => i32::try_from(fd).ok().map(describe_fd),
        _ => None,
    };
    Activity::Blocked { syscall, on }
}

/// Whether the call's first argument is the file descriptor it waits on.
fn takes_fd(syscall: &str) -> bool {
    matches!(
        syscall,
        "read"
            | "readv"
            | "pread64"
            | "preadv"
            | "write"
            | "writev"
            | "pwrite64"
            | "pwritev"
            | "recvfrom"
            | "recvmsg"
            | "recvmmsg"
            | "sendto"
            | "sendmsg"
            | "sendmmsg"
            | "accept"
            | "accept4"
            | "connect"
            | "flock"
            | "fsync"
            | "fdatasync"
            | "epoll_wait"
            | "epoll_pwait"
            | "epoll_pwait2"
    )
}

/// `fd 7: a pipe`, from `/proc/self/fd/7`.
fn describe_fd(fd: i32) -> String {
    match fs::read_link(format!("/proc/self/fd/{fd}")) {
        Ok(target) => format!("fd {fd}: {}", fd_kind(&target.to_string_lossy())),
        Err(_) => format!("fd {fd}"),
    }
}

/// What a `/proc/self/fd/N` link says the descriptor is.
fn fd_kind(target: &str) -> String {
    if target.starts_with("pipe:") {
        "a pipe".to_owned()
    } else if target.starts_with("socket:") {
        "a socket".to_owned()
    } else if target.starts_with("/dev/pts/") || target.starts_with("/dev/tty") {
        format!("a terminal ({target})")
    } else if let Some(kind) = target.strip_prefix("anon_inode:") {
        format!("an {}", kind.trim_matches(|c| c == '[' || c == ']'))
    } else {
        format!("the file {target}")
    }
}

/// The name of system call `nr` on this architecture, for the calls a
/// blocked coroutine is likely to be in.
fn syscall_name(nr: libc::c_long) -> Option<&'static str> {
    /// The calls both architectures have.
    const COMMON: &[(libc::c_long, &str)] = &[
        (libc::SYS_read, "read"),
        (libc::SYS_write, "write"),
        (libc::SYS_readv, "readv"),
        (libc::SYS_writev, "writev"),
        (libc::SYS_pread64, "pread64"),
        (libc::SYS_pwrite64, "pwrite64"),
        (libc::SYS_preadv, "preadv"),
        (libc::SYS_pwritev, "pwritev"),
        (libc::SYS_recvfrom, "recvfrom"),
        (libc::SYS_recvmsg, "recvmsg"),
        (libc::SYS_recvmmsg, "recvmmsg"),
        (libc::SYS_sendto, "sendto"),
        (libc::SYS_sendmsg, "sendmsg"),
        (libc::SYS_sendmmsg, "sendmmsg"),
        (libc::SYS_accept, "accept"),
        (libc::SYS_accept4, "accept4"),
        (libc::SYS_connect, "connect"),
        (libc::SYS_clock_nanosleep, "clock_nanosleep"),
        (libc::SYS_nanosleep, "nanosleep"),
        (libc::SYS_futex, "futex"),
        (libc::SYS_wait4, "wait4"),
        (libc::SYS_waitid, "waitid"),
        (libc::SYS_ppoll, "ppoll"),
        (libc::SYS_pselect6, "pselect6"),
        (libc::SYS_epoll_pwait, "epoll_pwait"),
        (libc::SYS_flock, "flock"),
        (libc::SYS_fcntl, "fcntl"),
        (libc::SYS_fsync, "fsync"),
        (libc::SYS_fdatasync, "fdatasync"),
        (libc::SYS_openat, "openat"),
        (libc::SYS_sync_file_range, "sync_file_range"),
        (libc::SYS_rt_sigtimedwait, "rt_sigtimedwait"),
        (libc::SYS_rt_sigsuspend, "rt_sigsuspend"),
        (libc::SYS_sched_yield, "sched_yield"),
        (libc::SYS_msgrcv, "msgrcv"),
        (libc::SYS_semtimedop, "semtimedop"),
        (libc::SYS_ioctl, "ioctl"),
        (libc::SYS_splice, "splice"),
        (libc::SYS_sendfile, "sendfile"),
    ];
    /// Calls only x86-64 has (aarch64 has just the newer forms).
    #[cfg(target_arch = "x86_64")]
    const ARCH: &[(libc::c_long, &str)] = &[
        (libc::SYS_poll, "poll"),
        (libc::SYS_select, "select"),
        (libc::SYS_epoll_wait, "epoll_wait"),
        (libc::SYS_pause, "pause"),
        (libc::SYS_open, "open"),
    ];
    #[cfg(not(target_arch = "x86_64"))]
    const ARCH: &[(libc::c_long, &str)] = &[];
    COMMON
        .iter()
        .chain(ARCH)
        .find(|(number, _)| *number == nr)
        .map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syscall_line_names_the_call_and_its_descriptor() {
        let nr = libc::SYS_read;
        let line = format!("{nr} 0x7 0x7ffd 0x1000 0x0 0x0 0x0 0x7ffc 0x7f00");
        let activity = parse_syscall(&line, |fd| format!("fd {fd}: a pipe"));
        assert_eq!(
            activity,
            Activity::Blocked {
                syscall: "read".into(),
                on: Some("fd 7: a pipe".into())
            }
        );
        assert!(
            activity
                .to_string()
                .contains("blocked in read on fd 7: a pipe")
        );
        assert!(activity.hint().contains("corio::spawn_blocking"));
    }

    #[test]
    fn sleep_futex_and_wait_get_their_hints() {
        let of = |nr: libc::c_long| parse_syscall(&format!("{nr} 0x0 0x0"), |_| String::new());
        assert!(
            of(libc::SYS_clock_nanosleep)
                .hint()
                .contains("corio::thread::sleep")
        );
        assert!(of(libc::SYS_futex).hint().contains("corio::sync"));
        assert!(of(libc::SYS_wait4).hint().contains("spawn_blocking"));
        let Activity::Blocked { on, .. } = of(libc::SYS_futex) else {
            panic!("futex is a blocked call");
        };
        assert_eq!(on, None, "futex's first argument is no descriptor");
    }

    #[test]
    fn running_unknown_and_odd_lines() {
        assert_eq!(
            parse_syscall("running", |_| String::new()),
            Activity::Running
        );
        assert_eq!(
            parse_syscall("-1 0x7ffd 0x7f00", |_| String::new()),
            Activity::Unknown
        );
        assert_eq!(parse_syscall("", |_| String::new()), Activity::Unknown);
        let odd = parse_syscall("9999 0x0", |_| String::new());
        assert_eq!(odd.to_string(), "blocked in syscall 9999");
    }

    #[test]
    fn descriptor_kinds() {
        assert_eq!(fd_kind("pipe:[1234]"), "a pipe");
        assert_eq!(fd_kind("socket:[99]"), "a socket");
        assert_eq!(fd_kind("/dev/pts/3"), "a terminal (/dev/pts/3)");
        assert_eq!(fd_kind("anon_inode:[eventfd]"), "an eventfd");
        assert_eq!(fd_kind("/tmp/data"), "the file /tmp/x".replace("x", "data"));
    }

    #[test]
    fn this_thread_reads_as_running() {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        // The reading thread itself is on the CPU while it reads.
        assert_eq!(read(tid), Activity::Running);
    }
}
