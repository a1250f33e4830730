//! Operating-system probes: kernel context-switch counters, resident memory,
//! and the hidden child-process modes the process rows run in.
//!
//! Shared (via `#[path]`) by the `switch_costs` example, `benches/switch_costs.rs`
//! and `tests/switch_costs.rs` (all three in `peers/`), so all three measure
//! exactly the same thing.
//! `getrusage` and `/proc/self/status` are read through the labs' one
//! wrapper, `examples/common/usage.rs`, which this file brings along.

#[path = "../../../examples/common/usage.rs"]
pub mod usage;

use std::io::{self, Read, Write};
use std::ops::Add;
use std::process::{Command, Stdio};

/// Kernel context switches of one thread, as `getrusage(RUSAGE_THREAD)` counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContextSwitches {
    /// The thread blocked (futex wait, pipe read, ...) and gave up its CPU.
    pub voluntary: u64,
    /// The kernel preempted the thread (time slice over, a higher-priority task woke).
    pub involuntary: u64,
}

impl ContextSwitches {
    /// The calling thread's counters since it started.
    pub fn of_this_thread() -> Self {
        // RUSAGE_THREAD needs Linux 2.6.26 or newer.
        let usage = usage::rusage(libc::RUSAGE_THREAD);
        Self {
            voluntary: usage.ru_nvcsw as u64,
            involuntary: usage.ru_nivcsw as u64,
        }
    }

    /// The switches that happened between `earlier` and `self`.
    pub fn since(self, earlier: Self) -> Self {
        Self {
            voluntary: self.voluntary.saturating_sub(earlier.voluntary),
            involuntary: self.involuntary.saturating_sub(earlier.involuntary),
        }
    }

    /// Voluntary plus involuntary.
    pub fn total(self) -> u64 {
        self.voluntary + self.involuntary
    }
}

impl Add for ContextSwitches {
    type Output = Self;

    fn add(self, other: Self) -> Self {
        Self {
            voluntary: self.voluntary + other.voluntary,
            involuntary: self.involuntary + other.involuntary,
        }
    }
}

/// Resident set size of this process in bytes (`VmRSS` in `/proc/self/status`).
///
/// RSS counts the user-space pages a process has touched. It does not count
/// kernel memory spent on the process: the kernel stack of each thread, its
/// `task_struct`, page tables (see [`page_table_bytes`]).
pub fn resident_bytes() -> u64 {
    status_bytes("VmRSS")
}

/// Bytes of page tables this process uses (`VmPTE` in `/proc/self/status`):
/// kernel memory that RSS leaves out.
pub fn page_table_bytes() -> u64 {
    status_bytes("VmPTE")
}

/// A `<field>: <n> kB` line of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> u64 {
    let kib = usage::proc_field("/proc/self/status", field)
        .unwrap_or_else(|error| panic!("{error}; is this Linux, with /proc mounted?"));
    kib * 1024
}

/// The hidden first argument that turns a switch-cost binary into a helper child.
pub const CHILD_ARG: &str = "--switch-costs-child";

/// Child mode: echo every byte from stdin to stdout until stdin closes.
pub const CHILD_ECHO: &str = "echo";

/// Child mode: exit at once with status 0.
pub const CHILD_EXIT: &str = "exit";

/// The arguments after [`CHILD_ARG`] if this process was started as a helper child.
///
/// Read straight from the command line, not through clap: the bench must
/// recognise its child role before criterion parses the command line with
/// its own parser (`Criterion::configure_from_args`, which knows no options
/// of ours and takes no argument list), and the example checks the same way
/// so that both binaries share this one path.
pub fn child_args() -> Option<Vec<String>> {
    let mut args = std::env::args().skip(1);
    if args.next()? == CHILD_ARG {
        Some(args.collect())
    } else {
        None
    }
}

/// Runs the child modes every switch-cost binary knows ([`CHILD_ECHO`],
/// [`CHILD_EXIT`]). Returns `false` for a mode it does not know.
pub fn run_common_child(args: &[String]) -> io::Result<bool> {
    match args.first().map(String::as_str) {
        Some(CHILD_ECHO) => echo_stdin_to_stdout().map(|()| true),
        Some(CHILD_EXIT) => Ok(true),
        _ => Ok(false),
    }
}

/// One byte at a time, one `read` and one `write` syscall per byte.
fn echo_stdin_to_stdout() -> io::Result<()> {
    let mut stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    let mut byte = [0u8; 1];
    loop {
        if stdin.read(&mut byte)? == 0 {
            return Ok(());
        }
        stdout.write_all(&byte)?;
        // Stdout is line-buffered; a lone byte stays in the buffer without this.
        stdout.flush()?;
    }
}

/// A command that re-runs this very executable as a helper child in `mode`.
///
/// This is how the process rows get a second process without `fork` tricks: the
/// child is a fresh `execve` of the same binary, as any real worker process would be.
pub fn child_command(mode: &[&str]) -> Command {
    let exe = std::env::current_exe().expect("the running executable has a path in /proc/self/exe");
    let mut command = Command::new(exe);
    command
        .arg(CHILD_ARG)
        .args(mode)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    command
}
