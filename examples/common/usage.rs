//! What a process costs, from Linux interfaces, shared through `#[path]` by
//! the labs (`examples/`), the benches and the tests: `getrusage` for this
//! process, its threads and children ([`rusage`]), the `cpu` line of
//! `/proc/stat` for the machine ([`CpuTicks`]), and the `Key: value` lines
//! of `/proc/<pid>/status` and `/proc/self/smaps_rollup` ([`proc_field`]).

// Each including crate uses a subset of this file.
#![allow(dead_code)]

use std::io;
use std::time::Duration;

/// `getrusage(who)`: `RUSAGE_SELF`, `RUSAGE_THREAD` or `RUSAGE_CHILDREN`.
///
/// # Panics
///
/// If the call fails, which it cannot for those three on Linux.
pub fn rusage(who: libc::c_int) -> libc::rusage {
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is valid and writable, and getrusage only writes it.
    let rc = unsafe { libc::getrusage(who, &mut usage) };
    assert_eq!(
        rc,
        0,
        "getrusage({who}) failed: {}",
        io::Error::last_os_error()
    );
    usage
}

/// Voluntary + involuntary context switches of a `getrusage` result.
pub fn context_switches(usage: &libc::rusage) -> u64 {
    (usage.ru_nvcsw + usage.ru_nivcsw) as u64
}

/// User + system CPU time of a `getrusage` result.
pub fn cpu_time(usage: &libc::rusage) -> Duration {
    [usage.ru_utime, usage.ru_stime]
        .iter()
        .map(|t| Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64))
        .sum()
}

/// The machine's CPU time, all CPUs together, in clock ticks
/// ([`CpuTicks::per_second`]), from the `cpu` line of `/proc/stat`.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuTicks {
    /// user + nice + system + irq + softirq (guest time is inside user).
    pub busy: u64,
    /// idle + iowait.
    pub idle: u64,
    /// Time the hypervisor gave to other guests.
    pub steal: u64,
}

impl CpuTicks {
    /// The counters now.
    ///
    /// # Errors
    ///
    /// `/proc/stat` cannot be read or has no `cpu` line.
    pub fn now() -> io::Result<CpuTicks> {
        let stat = std::fs::read_to_string("/proc/stat")?;
        let ticks: Vec<u64> = stat
            .lines()
            .find_map(|line| line.strip_prefix("cpu "))
            .ok_or_else(|| io::Error::other("/proc/stat has no cpu line"))?
            .split_whitespace()
            .map(|field| field.parse().unwrap_or(0))
            .collect();
        let sum = |fields: &[usize]| fields.iter().filter_map(|&i| ticks.get(i)).sum();
        // user nice system idle iowait irq softirq steal guest guest_nice
        Ok(CpuTicks {
            busy: sum(&[0, 1, 2, 5, 6]),
            idle: sum(&[3, 4]),
            steal: sum(&[7]),
        })
    }

    /// What was spent between `before` and `self`.
    pub fn since(self, before: CpuTicks) -> CpuTicks {
        CpuTicks {
            busy: self.busy.saturating_sub(before.busy),
            idle: self.idle.saturating_sub(before.idle),
            steal: self.steal.saturating_sub(before.steal),
        }
    }

    /// All of it: busy, idle and stolen.
    pub fn total(&self) -> u64 {
        self.busy + self.idle + self.steal
    }

    /// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
    pub fn per_second() -> u64 {
        // SAFETY: sysconf has no preconditions.
        unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64
    }
}

/// The number on the `field:` line of a `/proc` file made of `Key: value`
/// lines: `/proc/self/status` or `/proc/<pid>/status` (`VmHWM`, `VmRSS`,
/// `VmPTE` in KiB, `Threads` a count) or `/proc/self/smaps_rollup`
/// (`Private_Dirty` in KiB). A trailing ` kB` is dropped, not converted.
///
/// # Errors
///
/// The file cannot be read, or has no such line with a whole number.
pub fn proc_field(file: &str, field: &str) -> io::Result<u64> {
    let text = std::fs::read_to_string(file)?;
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("{file} has no `{field}: <number>` line")))
}
