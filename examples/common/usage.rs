//! What a process costs, from Linux interfaces, shared through `#[path]` by
//! the labs (`examples/`), the benches and the tests: `getrusage` for this
//! process, its threads and children ([`rusage`]), the `cpu` line of
//! `/proc/stat` for the machine ([`CpuTicks`]), and the `Key: value` lines
//! of `/proc/<pid>/status` and `/proc/self/smaps_rollup` ([`proc_field`]),
//! and this process's threads by name ([`threads_named`]).

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
    duration(usage.ru_utime) + duration(usage.ru_stime)
}

/// The system part of [`cpu_time`]: time the kernel spent on the process's
/// behalf (its system calls, and the network and page-fault work done in
/// them).
pub fn system_time(usage: &libc::rusage) -> Duration {
    duration(usage.ru_stime)
}

fn duration(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
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

/// Threads of this process whose name begins with `prefix`, read from
/// `/proc/self/task/<tid>/comm` (where a name is cut to 15 bytes, so pass
/// a prefix no longer than that). A thread that ends while the directory
/// is read is not counted.
///
/// # Errors
///
/// `/proc/self/task` cannot be read.
pub fn threads_named(prefix: &str) -> io::Result<usize> {
    let mut count = 0;
    for task in std::fs::read_dir("/proc/self/task")? {
        if let Ok(name) = std::fs::read_to_string(task?.path().join("comm")) {
            count += usize::from(name.starts_with(prefix));
        }
    }
    Ok(count)
}

/// The whole number a one-number file holds: `/proc/sys/...` settings,
/// cgroup files such as `pids.max`. `max` (a cgroup's "no limit") is
/// `u64::MAX`.
///
/// # Errors
///
/// The file cannot be read or holds something else.
pub fn proc_number(file: &str) -> io::Result<u64> {
    let text = std::fs::read_to_string(file)?;
    let text = text.trim();
    if text == "max" {
        return Ok(u64::MAX);
    }
    text.parse()
        .map_err(|_| io::Error::other(format!("{file} holds {text:?}, not a whole number")))
}

/// One counter of `/proc/net/netstat` (or `/proc/net/snmp`), which come in
/// pairs of lines: `TcpExt: name name ...` then `TcpExt: value value ...`.
/// `group` is the prefix without its colon (`TcpExt`), `name` the
/// counter's (`ListenOverflows`). The counters belong to this process's
/// network namespace: every program in it adds to them.
///
/// # Errors
///
/// The file cannot be read or has no such counter.
pub fn netstat_counter(file: &str, group: &str, name: &str) -> io::Result<u64> {
    let text = std::fs::read_to_string(file)?;
    let prefix = format!("{group}:");
    let mut lines = text.lines().filter(|line| line.starts_with(&prefix));
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        let found = names
            .split_whitespace()
            .zip(values.split_whitespace())
            .find(|(key, _)| *key == name)
            .and_then(|(_, value)| value.parse().ok());
        if let Some(value) = found {
            return Ok(value);
        }
    }
    Err(io::Error::other(format!(
        "{file} has no {group} counter {name}"
    )))
}

/// A resource limit (`RLIMIT_NOFILE`, `RLIMIT_NPROC`, ...): `(soft, hard)`,
/// `u64::MAX` for unlimited.
///
/// # Panics
///
/// If `getrlimit` fails, which it cannot for a valid resource.
pub fn rlimit(resource: libc::__rlimit_resource_t) -> (u64, u64) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    let rc = unsafe { libc::getrlimit(resource, &mut limit) };
    assert_eq!(
        rc,
        0,
        "getrlimit({resource}) failed: {}",
        io::Error::last_os_error()
    );
    let value = |v: libc::rlim_t| {
        if v == libc::RLIM_INFINITY {
            u64::MAX
        } else {
            v
        }
    };
    (value(limit.rlim_cur), value(limit.rlim_max))
}

/// Raises a resource's soft limit to its hard limit (what an unprivileged
/// process may always do) and returns the soft limit now in force.
pub fn raise_soft_limit(resource: libc::__rlimit_resource_t) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(resource, &mut limit) } == 0 && limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `limit` is a valid rlimit whose soft value does not exceed
        // its hard value.
        unsafe { libc::setrlimit(resource, &limit) };
    }
    rlimit(resource).0
}
