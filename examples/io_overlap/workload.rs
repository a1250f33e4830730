//! The two workloads, written once and run unchanged by every mode.
//!
//! * **io**: a task opens one TCP connection to the slow service and makes a
//!   few request/response round trips. [`io_task`] is generic over
//!   `Read + Write`: serial, processes and threads hand it a
//!   `std::net::TcpStream`, coroutines and hybrid a `corio::net::TcpStream`.
//! * **cpu**: a task hashes a counter for a fixed number of rounds.
//!   [`cpu_task`] calls a `yield_point` between slices of work: a no-op on
//!   OS threads (the kernel preempts them anyway), `corio::yield_now` on
//!   coroutines, so coroutines take turns and their timelines overlap even
//!   though only one of them runs at any instant.

use std::fmt;
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

/// Which kind of work every task of a run does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Round trips to the slow service: tasks spend their time waiting.
    Io,
    /// Pure computation: tasks spend their time on a CPU.
    Cpu,
}

impl Workload {
    /// Both workloads, in the order a run reports them.
    pub const ALL: [Workload; 2] = [Workload::Io, Workload::Cpu];

    /// The name used on the command line and in `--json`.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Io => "io",
            Workload::Cpu => "cpu",
        }
    }

    /// The inverse of [`Workload::name`].
    pub fn from_name(name: &str) -> Option<Workload> {
        Workload::ALL
            .into_iter()
            .find(|workload| workload.name() == name)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Size of a request and of a reply on the wire: one little-endian `u64`.
pub const MESSAGE_LEN: usize = 8;

/// What the service answers to `request`. Deterministic, so every mode must
/// end up with the same task results.
pub fn service_reply(request: u64) -> u64 {
    mix(request ^ 0x5EED_5EED_5EED_5EED)
}

/// The request a task sends on its `round`-th round trip.
fn request_for(task: usize, round: u32) -> u64 {
    ((task as u64) << 32) | u64::from(round)
}

/// Folds one reply into a task's running result; order matters, so a lost
/// or reordered reply changes the result.
fn fold(result: u64, reply: u64) -> u64 {
    result.rotate_left(7) ^ reply
}

/// One io task: `requests` round trips on `stream`, one at a time.
///
/// This is the worker code the issue asks to write once: nothing in it knows
/// whether `stream` is a `std::net::TcpStream` (the thread blocks in `read`)
/// or a `corio::net::TcpStream` (the coroutine suspends in `read` and its
/// thread runs another coroutine meanwhile).
///
/// # Errors
///
/// Any error from the stream, or `UnexpectedEof` if the service hangs up.
pub fn io_task<S: Read + Write>(mut stream: S, task: usize, requests: u32) -> io::Result<u64> {
    let mut result = task as u64;
    let mut reply = [0u8; MESSAGE_LEN];
    for round in 0..requests {
        stream.write_all(&request_for(task, round).to_le_bytes())?;
        stream.read_exact(&mut reply)?;
        result = fold(result, u64::from_le_bytes(reply));
    }
    Ok(result)
}

/// Makes closing `stream` reset the connection (`SO_LINGER` with a zero
/// timeout) instead of running the FIN handshake, which would leave the
/// client's side in `TIME_WAIT` for a minute. Every mode's tasks do this,
/// after their last reply, when nothing is left to send or receive.
///
/// Without it, ten thousand tasks leave ten thousand loopback ports in
/// `TIME_WAIT`, which the kernel lets a new `connect` reuse only once they
/// are a second old: the next mode, started at once, then pays a long
/// search for a free port on every connect, and measured the harness (the
/// coroutines after the threads at 10,000 tasks: 900 ms of CPU time
/// instead of 360; `docs/io-overlap.md`).
///
/// # Errors
///
/// The `setsockopt` error.
pub fn abort_on_close(stream: &impl std::os::fd::AsRawFd) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `linger` is a live, correctly sized `struct linger` for the
    // whole call, and the descriptor belongs to `stream`, open meanwhile.
    let result = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::from_ref(&linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    if result == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// What [`io_task`] returns when the service answers every request.
pub fn expected_io_result(task: usize, requests: u32) -> u64 {
    (0..requests).fold(task as u64, |result, round| {
        fold(result, service_reply(request_for(task, round)))
    })
}

/// How many slices a cpu task is cut into; `yield_point` runs between them.
pub const CPU_SLICES: u64 = 32;

/// One cpu task: `rounds` rounds of hashing, calling `yield_point` between
/// [`CPU_SLICES`] equal slices.
pub fn cpu_task(task: usize, rounds: u64, mut yield_point: impl FnMut()) -> u64 {
    let slice = (rounds / CPU_SLICES).max(1);
    let mut state = task as u64;
    let mut done = 0;
    while done < rounds {
        let this_slice = slice.min(rounds - done);
        state = hash_rounds(state, this_slice);
        done += this_slice;
        if done < rounds {
            yield_point();
        }
    }
    state
}

/// The computation itself: a chain of hashes the optimiser cannot skip.
fn hash_rounds(mut state: u64, rounds: u64) -> u64 {
    for _ in 0..rounds {
        state = mix(black_box(state));
    }
    state
}

/// splitmix64's finaliser: cheap, and every output bit depends on every
/// input bit.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// How many hashing rounds take about `target` on this machine, in the build
/// being run (a debug build is many times slower than a release build).
///
/// Times growing batches until one takes at least a tenth of `target`, then
/// scales; the best of three such measurements guards against a preempted
/// measurement.
pub fn calibrate_cpu_rounds(target: Duration) -> u64 {
    let min_sample = target / 10;
    let mut best_rate = 0.0_f64;
    for _ in 0..3 {
        let mut batch = 1_000u64;
        loop {
            let started = Instant::now();
            black_box(hash_rounds(black_box(batch), batch));
            let elapsed = started.elapsed();
            if elapsed >= min_sample {
                best_rate = best_rate.max(batch as f64 / elapsed.as_secs_f64());
                break;
            }
            batch *= 2;
        }
    }
    ((best_rate * target.as_secs_f64()) as u64).max(CPU_SLICES)
}
