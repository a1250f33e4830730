//! Whether a run fits this machine, checked before it starts.
//!
//! A newcomer's machine may have a soft open-file limit of 1,024, a
//! container with a few thousand pids, or little free memory. A run that
//! hits one of those mid-way would fail with `EMFILE`, `EAGAIN` from
//! `clone` or the OOM killer, far from the cause. So before each run the
//! parent asks [`check`], which compares what the run needs with every
//! limit that applies and, when one is too low, returns one sentence
//! naming it and saying how to raise it. The sweep stops there; the rest of
//! the report stands.
//!
//! The needs are estimates with margin, not measurements: a run that fits
//! them has room to spare; one that does not would have come too close.

use std::fs;

use crate::modes::{Mode, Plan};
use crate::usage;
use crate::workload::Workload;

/// Descriptors a process needs besides one per task: stdio, the runtime's
/// epoll, eventfd and timerfd, the service's listeners, pipes.
const SPARE_FILES: u64 = 128;

/// Kernel map entries a process has besides its threads' stacks.
const SPARE_MAPS: u64 = 2_000;

/// Memory to plan for per task, with margin: an OS thread costs a 16 KiB
/// kernel stack plus the pages its user stack touches; a coroutine about
/// 16 KiB of stack; a process a whole small program; every io task adds
/// two sockets' buffers.
fn memory_per_task_kib(mode: Mode) -> u64 {
    match mode {
        Mode::Serial => 0,
        Mode::Coroutines | Mode::Hybrid => 48,
        Mode::Threads | Mode::ProcessesThreads => 96,
        Mode::Processes => 4_096,
    }
}

/// `Ok` if `mode` can run `plan` here, or one sentence naming the limit
/// that is too low and how to raise it.
pub fn check(mode: Mode, plan: &Plan) -> Result<(), String> {
    let tasks = plan.tasks as u64;
    let at_once = if mode == Mode::Serial { 1 } else { tasks };
    if plan.workload == Workload::Io || mode == Mode::Processes {
        // Io: a socket per task in the mode's process and one in the
        // service's. Processes: a pipe per child in the runner.
        open_files(at_once + SPARE_FILES)?;
    }
    let threads = match mode {
        Mode::Serial | Mode::Coroutines => 0,
        Mode::Hybrid => plan.cores as u64,
        Mode::Threads | Mode::Processes | Mode::ProcessesThreads => tasks + plan.cores as u64,
    };
    if threads > 0 {
        kernel_threads(threads)?;
    }
    if matches!(mode, Mode::Threads | Mode::ProcessesThreads) {
        // Each thread's stack is a mapping plus a guard page.
        map_count(2 * tasks + SPARE_MAPS)?;
    }
    memory(at_once * memory_per_task_kib(mode))
}

fn open_files(needed: u64) -> Result<(), String> {
    let (soft, hard) = usage::rlimit(libc::RLIMIT_NOFILE);
    if needed <= soft {
        return Ok(());
    }
    Err(format!(
        "needs about {needed} open files per process and the open-file limit is {soft} \
         (hard limit {hard}; the example already raised the soft one to it). Raise the hard \
         limit: `ulimit -Hn {needed}` as root, `nofile` in /etc/security/limits.conf, \
         `LimitNOFILE=` for a systemd service, `--ulimit nofile={needed}` for docker"
    ))
}

fn kernel_threads(needed: u64) -> Result<(), String> {
    let running = machine_threads().unwrap_or(0);
    let threads_max = usage::proc_number("/proc/sys/kernel/threads-max").unwrap_or(u64::MAX);
    if running + needed > threads_max {
        let max = threads_max;
        return Err(format!(
            "needs {needed} more threads and the machine runs {running} of at most \
             {max} (kernel.threads-max). Raise it: `sysctl kernel.threads-max={}`",
            (running + needed) * 2
        ));
    }
    let (nproc, _) = usage::rlimit(libc::RLIMIT_NPROC);
    // Only count this user's threads when the machine's total could reach
    // the limit (the count reads every process's status file).
    if nproc != u64::MAX && running + needed > nproc {
        let mine = own_user_threads();
        if mine + needed > nproc {
            return Err(format!(
                "needs {needed} more threads and your user runs {mine} of at most {nproc} \
                 (RLIMIT_NPROC, which counts threads). Raise it: `ulimit -u {}`, or `nproc` \
                 in /etc/security/limits.conf",
                (mine + needed) * 2
            ));
        }
    }
    for (dir, current, max) in cgroup_pids() {
        if current + needed > max {
            return Err(format!(
                "needs {needed} more threads and the cgroup {dir} holds {current} of at most \
                 {max} (pids.max). Raise it: `docker run --pids-limit {}`, `TasksMax=` for \
                 systemd, or write a larger number to {dir}/pids.max",
                (current + needed) * 2
            ));
        }
    }
    Ok(())
}

fn map_count(needed: u64) -> Result<(), String> {
    let Ok(max) = usage::proc_number("/proc/sys/vm/max_map_count") else {
        return Ok(());
    };
    if needed <= max {
        return Ok(());
    }
    Err(format!(
        "needs about {needed} memory mappings in one process (a stack and a guard page per \
         thread) and vm.max_map_count is {max}. Raise it: `sysctl vm.max_map_count={}`",
        needed * 2
    ))
}

fn memory(needed_kib: u64) -> Result<(), String> {
    let mut available = Vec::new();
    if let Ok(kib) = usage::proc_field("/proc/meminfo", "MemAvailable") {
        available.push((
            kib,
            "the machine's available memory (MemAvailable)".to_string(),
        ));
    }
    if let Some((kib, dir)) = cgroup_memory_left() {
        available.push((kib, format!("what the cgroup {dir} has left (memory.max)")));
    }
    match available.into_iter().min_by_key(|(kib, _)| *kib) {
        Some((kib, what)) if needed_kib > kib => Err(format!(
            "needs about {} MiB and {what} is {} MiB. Close other programs or give the \
             container more memory",
            needed_kib / 1024,
            kib / 1024
        )),
        _ => Ok(()),
    }
}

/// Threads the whole machine runs: the total in `/proc/loadavg`'s
/// `running/total` field.
fn machine_threads() -> Option<u64> {
    let text = fs::read_to_string("/proc/loadavg").ok()?;
    text.split_whitespace()
        .nth(3)?
        .split('/')
        .nth(1)?
        .parse()
        .ok()
}

/// Threads of processes owned by this process's real user: what
/// `RLIMIT_NPROC` counts.
fn own_user_threads() -> u64 {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() }.to_string();
    let Ok(entries) = fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|entry| fs::read_to_string(entry.path().join("status")).ok())
        .filter(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().next())
                == Some(uid.as_str())
        })
        .filter_map(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Threads:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
        })
        .sum()
}

/// This process's cgroup directories, its own first, then each ancestor:
/// a limit anywhere up the tree applies. `controller` picks the cgroup v1
/// hierarchy (`pids`, `memory`); cgroup v2 has one tree for all.
fn cgroup_dirs(controller: &str) -> Vec<String> {
    let Ok(text) = fs::read_to_string("/proc/self/cgroup") else {
        return Vec::new();
    };
    let mut dirs = Vec::new();
    for line in text.lines() {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next(), fields.next(), fields.next());
        let (Some(controllers), Some(path)) = (controllers, path) else {
            continue;
        };
        let base = if controllers.is_empty() {
            "/sys/fs/cgroup".to_string()
        } else if controllers.split(',').any(|c| c == controller) {
            format!("/sys/fs/cgroup/{controller}")
        } else {
            continue;
        };
        let mut path = path.trim_end_matches('/').to_string();
        loop {
            dirs.push(format!("{base}{path}"));
            match path.rfind('/') {
                Some(cut) => path.truncate(cut),
                None => break,
            }
        }
    }
    dirs
}

/// `(dir, pids.current, pids.max)` for every cgroup up the tree that has a
/// limit.
fn cgroup_pids() -> Vec<(String, u64, u64)> {
    cgroup_dirs("pids")
        .into_iter()
        .filter_map(|dir| {
            let max = usage::proc_number(&format!("{dir}/pids.max")).ok()?;
            let current = usage::proc_number(&format!("{dir}/pids.current")).unwrap_or(0);
            (max != u64::MAX).then_some((dir, current, max))
        })
        .collect()
}

/// The least memory any cgroup up the tree has left, KiB, and where.
fn cgroup_memory_left() -> Option<(u64, String)> {
    cgroup_dirs("memory")
        .into_iter()
        .filter_map(|dir| {
            let (max, used) = ["memory.max", "memory.limit_in_bytes"]
                .iter()
                .zip(["memory.current", "memory.usage_in_bytes"])
                .find_map(|(max, used)| {
                    let max = usage::proc_number(&format!("{dir}/{max}")).ok()?;
                    Some((
                        max,
                        usage::proc_number(&format!("{dir}/{used}")).unwrap_or(0),
                    ))
                })?;
            // cgroup v1 writes "no limit" as a huge number.
            (max < 1 << 60).then(|| (max.saturating_sub(used) / 1024, dir))
        })
        .min_by_key(|(kib, _)| *kib)
}
