//! What the operating system says a mode cost: a clock shared by every
//! process, a census of OS threads, peak memory and context switches.
//!
//! Everything here reads Linux interfaces (`/proc/self`, `getrusage`,
//! `clock_gettime`). The figures are taken inside the process that runs a
//! mode, around the mode itself, so start-up work of that process is not
//! charged to the mode.

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Nanoseconds on `CLOCK_MONOTONIC`.
///
/// Unlike `std::time::Instant`, the value is a plain number that means the
/// same thing in every process on the machine, so a child process can report
/// when its task ran and the timeline can place it next to the others.
pub fn monotonic_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec and CLOCK_MONOTONIC is
    // always available on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_MONOTONIC) cannot fail on Linux");
    now.tv_sec as u64 * 1_000_000_000 + now.tv_nsec as u64
}

/// How many OS threads this process has right now (`Threads` in
/// `/proc/self/status`): every thread the kernel schedules, including ones
/// a library started behind our back.
pub fn os_threads_now() -> io::Result<usize> {
    crate::usage::proc_field("/proc/self/status", "Threads").map(|threads| threads as usize)
}

/// The highest number of OS threads seen by [`ThreadPeak::sample`].
///
/// Sampling happens at moments when every task of a mode has been started
/// and as tasks end, which is where the peak of a thread-per-task mode
/// lies; a library thread started at any point before the last task ends
/// is caught as well.
///
/// As tasks end the census is taken at most once per
/// [`ThreadPeak::INTERVAL_NS`]: reading `/proc` costs tens of
/// microseconds, which for ten thousand coroutines on one thread would be
/// the harness's time, not the mode's.
#[derive(Debug, Default)]
pub struct ThreadPeak {
    /// An atomic because worker threads sample concurrently.
    peak: AtomicUsize,
    /// When [`ThreadPeak::sample_now_and_then`] last sampled
    /// ([`monotonic_ns`]); the thread that wins the exchange samples.
    last_ns: AtomicU64,
}

impl ThreadPeak {
    /// The least time between two samples of [`ThreadPeak::sample_now_and_then`].
    pub const INTERVAL_NS: u64 = 1_000_000;

    /// Counts the threads now and keeps the maximum.
    pub fn sample(&self) {
        // A failed read leaves the peak as it was; the census is reported,
        // never relied on for correctness.
        if let Ok(threads) = os_threads_now() {
            self.peak.fetch_max(threads, Ordering::Relaxed);
        }
    }

    /// [`ThreadPeak::sample`], unless another sample was taken less than
    /// [`ThreadPeak::INTERVAL_NS`] ago.
    pub fn sample_now_and_then(&self) {
        let now = monotonic_ns();
        let last = self.last_ns.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= Self::INTERVAL_NS
            && self
                .last_ns
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.sample();
        }
    }

    /// The highest count sampled so far.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }
}

/// This process's own peak resident memory, in KiB (`VmHWM`).
///
/// Why not `ru_maxrss`: on Linux `exec` copies the high-water mark of the
/// address space it replaces into the new process's `ru_maxrss`, and with
/// `posix_spawn` that address space is the parent's. A child would then
/// report at least its parent's peak. `VmHWM` belongs to the address space
/// itself, so it starts afresh at `exec`.
pub fn peak_rss_kib() -> io::Result<u64> {
    crate::usage::proc_field("/proc/self/status", "VmHWM")
}

/// Voluntary plus involuntary context switches of this process (all its
/// threads, live or ended) and of every child it has waited for.
///
/// A voluntary switch is a thread blocking (a read with no data, a sleep, a
/// join); an involuntary one is the kernel preempting a running thread.
pub fn context_switches() -> u64 {
    [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN]
        .into_iter()
        .map(|who| crate::usage::context_switches(&crate::usage::rusage(who)))
        .sum()
}

/// Raises this process's open-file limit to the hard limit, so that a run
/// with thousands of tasks (one socket each) is not stopped by the soft
/// default of 1024; returns the soft limit now in force. Children inherit
/// it. `limits` checks each run against what is left.
pub fn raise_open_file_limit() -> u64 {
    crate::usage::raise_soft_limit(libc::RLIMIT_NOFILE)
}

/// The kernel's count of connections dropped because a listener's accept
/// queue was full (`TcpExtListenOverflows` in `/proc/net/netstat`), for
/// this network namespace. The parent reads it around every mode: if it
/// moved, some client's SYN was dropped and retried a second or more
/// later, and the mode's wall time measured the harness, not the mode.
/// `None` where the counter cannot be read.
pub fn listen_overflows() -> Option<u64> {
    crate::usage::netstat_counter("/proc/net/netstat", "TcpExt", "ListenOverflows").ok()
}

/// CPU time the whole machine spent busy, all CPUs together, in
/// nanoseconds: the `cpu` line of `/proc/stat` minus idle and I/O wait.
/// Time stolen by a hypervisor counts as busy, since our threads could not
/// run then either.
fn machine_busy_ns() -> io::Result<u64> {
    use crate::usage::CpuTicks;
    let ticks = CpuTicks::now()?;
    Ok((ticks.busy + ticks.steal) * (1_000_000_000 / CpuTicks::per_second()))
}

/// User + system CPU time of this process (every thread) and of the
/// children it has waited for, in nanoseconds. Around a mode, in its
/// runner, this is what the mode cost the CPUs whatever else ran: unlike
/// wall time, other programs' load does not inflate it.
pub fn own_cpu_ns() -> u64 {
    own_cpu().0
}

/// [`own_cpu_ns`] and its system part (what the kernel spent on this
/// process's and its waited-for children's behalf), from the same
/// `getrusage` calls, so that the second never exceeds the first.
pub fn own_cpu() -> (u64, u64) {
    [libc::RUSAGE_SELF, libc::RUSAGE_CHILDREN]
        .into_iter()
        .map(|who| {
            let usage = crate::usage::rusage(who);
            let ns = |time: std::time::Duration| time.as_nanos() as u64;
            (
                ns(crate::usage::cpu_time(&usage)),
                ns(crate::usage::system_time(&usage)),
            )
        })
        .fold((0, 0), |(cpu, system), (c, s)| (cpu + c, system + s))
}

/// Measures how much CPU *other programs* used over an interval: the
/// machine's busy time minus this process's and its children's.
///
/// A figure taken while something else keeps a core busy is not this
/// program's alone (on 2 cores, one busy neighbour halves what threads can
/// gain), so the report warns when this is large.
#[derive(Clone, Copy, Debug)]
pub struct OtherLoad {
    machine_busy_ns: u64,
    own_ns: u64,
    at_ns: u64,
}

impl OtherLoad {
    /// Starts an interval now; `None` if `/proc/stat` cannot be read.
    pub fn start() -> Option<OtherLoad> {
        Some(OtherLoad {
            machine_busy_ns: machine_busy_ns().ok()?,
            own_ns: own_cpu_ns(),
            at_ns: monotonic_ns(),
        })
    }

    /// What other programs used since [`OtherLoad::start`]: their CPU time
    /// and how many cores they kept busy on average. `/proc/stat` counts in
    /// ticks of 10 ms, so short intervals are noisy; callers should only
    /// trust large values.
    pub fn since(&self) -> Others {
        let (Ok(machine_now), own_now) = (machine_busy_ns(), own_cpu_ns()) else {
            return Others::default();
        };
        let machine = machine_now.saturating_sub(self.machine_busy_ns);
        let own = own_now.saturating_sub(self.own_ns);
        let elapsed = monotonic_ns().saturating_sub(self.at_ns).max(1);
        let cpu_ns = machine.saturating_sub(own);
        Others {
            cpu_ns,
            cores: cpu_ns as f64 / elapsed as f64,
        }
    }
}

/// CPU used by other programs over an interval (see [`OtherLoad`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Others {
    /// Their CPU time, nanoseconds.
    pub cpu_ns: u64,
    /// Cores they kept busy on average.
    pub cores: f64,
}

impl Others {
    /// Whether other programs used enough CPU to distort a measurement:
    /// at least a quarter of a core on average, and more than the tick
    /// noise of `/proc/stat` (100 ms in all).
    pub fn disturbing(&self) -> bool {
        self.cores >= 0.25 && self.cpu_ns >= 100_000_000
    }
}
