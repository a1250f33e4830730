//! Who owns memory: processes, threads and coroutines, shown by experiment.
//!
//! ```text
//! cargo run --example who_owns_memory
//! cargo run --example who_owns_memory -- --json     # the figures, for scripts
//! ```
//!
//! The primer's claim: a process is the unit of resource allocation, with a
//! heap and stacks of its own; threads of one process share its heap and
//! each has its own stack; coroutines likewise share the heap and each has
//! its own stack. Three experiments check each half:
//!
//! 1. **A forked child process** gets a copy of the parent's heap. It reads
//!    a 64-page heap buffer (no page is copied: the pages are shared,
//!    copy-on-write) and then writes it (each write copies a page: one
//!    minor page fault each, and the child's `Private_Dirty` memory grows
//!    by 64 pages). The parent, at the same virtual address, still sees
//!    its own bytes.
//! 2. **Threads** share the heap: a value written through a pointer by
//!    another thread is seen by the main thread, with no copy and no fault.
//!    Each thread's local variable lives on a stack of its own; their
//!    addresses are printed and the distances between them measured.
//! 3. **Coroutines** on one thread share the heap the same way, and each
//!    also has its own stack (corio's, carved from one arena): a local
//!    variable keeps its value across switches while the others run.
//!
//! Linux only (`fork`, `/proc/self/smaps_rollup`, `getrusage`).

use std::cell::Cell;
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::os::fd::FromRawFd;
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::Parser;
use serde_json::json;

#[path = "common/pipe.rs"]
mod pipe;
#[path = "common/usage.rs"]
mod usage;

#[derive(Parser)]
#[command(about = "who owns memory: a forked process, threads and coroutines, by experiment")]
struct Args {
    /// Print the figures as one JSON object instead of sentences.
    #[arg(long)]
    json: bool,
}

/// Pages of the heap buffer the fork experiment copies.
const PAGES: usize = 64;
const PAGE: usize = 4096;
/// Threads and coroutines whose stacks are compared.
const UNITS: usize = 4;

fn main() -> ExitCode {
    pipe::exit_quietly_on_broken_pipe();
    let args = Args::parse();
    // The fork comes first, while this process has only its main thread:
    // the child may then run ordinary Rust code (allocate, format).
    let fork = match fork_experiment() {
        Ok(fork) => fork,
        Err(e) => {
            eprintln!("who_owns_memory: the fork experiment failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let threads = thread_experiment();
    let coroutines = coroutine_experiment();
    if args.json {
        println!(
            "{}",
            json!({
                "fork": {
                    "pages": PAGES,
                    "child_faults_reading": fork.faults_reading,
                    "child_faults_writing": fork.faults_writing,
                    "child_private_dirty_growth_bytes": fork.private_dirty_growth,
                    "child_saw_after_write": fork.child_saw,
                    "parent_saw_after_child_wrote": fork.parent_saw,
                },
                "threads": {
                    "written_by_other_thread": threads.written,
                    "seen_by_main_thread": threads.seen,
                    "stack_addresses": threads.stacks.iter().map(|a| format!("{a:#x}")).collect::<Vec<_>>(),
                    "min_stack_distance_bytes": min_distance(&threads.stacks),
                },
                "coroutines": {
                    "written_by_other_coroutine": coroutines.written,
                    "seen_by_root": coroutines.seen,
                    "locals_kept_across_switches": coroutines.locals_kept,
                    "stack_addresses": coroutines.stacks.iter().map(|a| format!("{a:#x}")).collect::<Vec<_>>(),
                    "min_stack_distance_bytes": min_distance(&coroutines.stacks),
                    "stack_size_bytes": corio::runtime::DEFAULT_STACK_SIZE,
                },
            })
        );
        return ExitCode::SUCCESS;
    }
    print_report(&fork, &threads, &coroutines);
    ExitCode::SUCCESS
}

/// What the fork experiment measured.
struct Fork {
    faults_reading: u64,
    faults_writing: u64,
    private_dirty_growth: u64,
    child_saw: u8,
    parent_saw: u8,
}

fn fork_experiment() -> io::Result<Fork> {
    if os_threads() != Some(1) {
        return Err(io::Error::other(
            "the process must have one thread at the fork (a forked child of a threaded \
             process may only make system calls)",
        ));
    }
    let mut heap = vec![b'P'; PAGES * PAGE];
    // Touch every page, so they are all present before the fork.
    black_box(&mut heap);
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded: two fresh descriptors, owned by nobody else.
    let (mut from_child, mut to_parent) = unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    // SAFETY: this process has one thread (checked above), so the child is
    // a complete copy in which ordinary code (allocation included) is safe;
    // the child leaves through `_exit` and never returns into `main`.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        drop(from_child);
        let report = child_side(&mut heap);
        let _ = to_parent.write_all(report.as_bytes());
        // SAFETY: ends the child without running the parent's exit handlers
        // or destructors a second time.
        unsafe { libc::_exit(0) };
    }
    drop(to_parent);
    let mut report = String::new();
    from_child.read_to_string(&mut report)?;
    let mut status = 0;
    // SAFETY: `status` is a live c_int and `pid` our own child.
    if unsafe { libc::waitpid(pid, &mut status, 0) } != pid || !libc::WIFEXITED(status) {
        return Err(io::Error::other(format!(
            "the child did not exit cleanly ({status})"
        )));
    }
    let numbers: Vec<u64> = report
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    let &[
        faults_reading,
        faults_writing,
        private_dirty_growth,
        child_saw,
    ] = numbers.as_slice()
    else {
        return Err(io::Error::other(format!("the child reported {report:?}")));
    };
    Ok(Fork {
        faults_reading,
        faults_writing,
        private_dirty_growth,
        child_saw: child_saw as u8,
        // The same virtual addresses, in the parent.
        parent_saw: black_box(&heap)[PAGE * (PAGES / 2)],
    })
}

/// In the child: read every page, then write every page, counting faults
/// and private memory. Returns `faults_reading faults_writing
/// private_dirty_growth byte_seen`.
fn child_side(heap: &mut [u8]) -> String {
    let dirty_before = private_dirty_bytes();
    let faults_0 = minor_faults();
    let mut sum = 0u64;
    for page in heap.chunks(PAGE) {
        sum += u64::from(black_box(page[0]));
    }
    black_box(sum);
    let faults_1 = minor_faults();
    for page in heap.chunks_mut(PAGE) {
        page[0] = b'C';
    }
    black_box(&mut *heap);
    let faults_2 = minor_faults();
    let dirty_after = private_dirty_bytes();
    format!(
        "{} {} {} {}",
        faults_1 - faults_0,
        faults_2 - faults_1,
        dirty_after.saturating_sub(dirty_before),
        heap[PAGE * (PAGES / 2)]
    )
}

/// What the thread experiment saw.
struct Threads {
    written: u64,
    seen: u64,
    stacks: Vec<usize>,
}

fn thread_experiment() -> Threads {
    // One heap value; another thread writes it through a shared reference.
    let shared = Box::new(AtomicU64::new(0));
    let written = 0x5eed;
    let stacks = std::thread::scope(|scope| {
        let writer = scope.spawn(|| shared.store(written, Ordering::Release));
        writer.join().expect("the writer thread does not panic");
        let handles: Vec<_> = (0..UNITS).map(|_| scope.spawn(local_address)).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a stack probe does not panic"))
            .collect()
    });
    Threads {
        written,
        seen: shared.load(Ordering::Acquire),
        stacks,
    }
}

/// What the coroutine experiment saw.
struct Coroutines {
    written: u64,
    seen: u64,
    locals_kept: bool,
    stacks: Vec<usize>,
}

fn coroutine_experiment() -> Coroutines {
    corio::run(|| {
        let shared = Rc::new(Cell::new(0u64));
        let written = 0xc0de;
        let writer = {
            let shared = Rc::clone(&shared);
            corio::spawn(move || shared.set(written))
        };
        writer.join().expect("the writer coroutine does not panic");
        // Each coroutine keeps a local of its own across switches while the
        // others run theirs, then reports its address.
        let probes: Vec<_> = (0..UNITS as u64)
            .map(|i| {
                corio::spawn(move || {
                    let mine = black_box(i * 1000);
                    for _ in 0..3 {
                        corio::yield_now();
                    }
                    (
                        black_box(mine) == i * 1000,
                        std::ptr::addr_of!(mine) as usize,
                    )
                })
            })
            .collect();
        let results: Vec<(bool, usize)> = probes
            .into_iter()
            .map(|p| p.join().expect("a stack probe does not panic"))
            .collect();
        Coroutines {
            written,
            seen: shared.get(),
            locals_kept: results.iter().all(|(kept, _)| *kept),
            stacks: results.iter().map(|(_, at)| *at).collect(),
        }
    })
}

/// The address of a local variable: a point on the caller's stack.
#[inline(never)]
fn local_address() -> usize {
    let local = black_box(0u64);
    std::ptr::addr_of!(local) as usize
}

/// The smallest distance between two of `addresses`.
fn min_distance(addresses: &[usize]) -> usize {
    let mut sorted = addresses.to_vec();
    sorted.sort_unstable();
    sorted.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(0)
}

fn print_report(fork: &Fork, threads: &Threads, coroutines: &Coroutines) {
    println!("1. A process owns its memory: fork copies it, page by page, on write.");
    println!(
        "   The child read all {PAGES} pages of a heap buffer: {} page faults (the pages are shared).",
        fork.faults_reading
    );
    println!(
        "   The child wrote one byte in each page: {} page faults, and its private memory grew by {} KiB\n   \
         ({} pages: the {PAGES} copies, and the few its own code touched meanwhile).",
        fork.faults_writing,
        fork.private_dirty_growth / 1024,
        fork.private_dirty_growth / PAGE as u64
    );
    println!(
        "   At the same address the child sees {:?}, the parent still {:?}: two heaps now.",
        fork.child_saw as char, fork.parent_saw as char
    );
    println!();
    println!("2. Threads share the heap and have stacks of their own.");
    println!(
        "   Another thread stored {:#x} in a heap value; the main thread reads {:#x} (same memory, nothing copied).",
        threads.written, threads.seen
    );
    println!(
        "   A local variable in each of {UNITS} threads: {}",
        addresses(&threads.stacks)
    );
    println!(
        "   nearest two are {} KiB apart: a stack each (std reserves 2 MiB per thread by default).",
        min_distance(&threads.stacks) / 1024
    );
    println!();
    println!("3. Coroutines share the heap and have stacks of their own, all on one thread.");
    println!(
        "   Another coroutine stored {:#x} in an Rc<Cell>; the root reads {:#x}.",
        coroutines.written, coroutines.seen
    );
    println!(
        "   A local variable in each of {UNITS} coroutines: {}",
        addresses(&coroutines.stacks)
    );
    println!(
        "   nearest two are {} KiB apart (corio's default stack is {} KiB plus a guard page), and each kept \
         its value across 3 switches to the others: {}.",
        min_distance(&coroutines.stacks) / 1024,
        corio::runtime::DEFAULT_STACK_SIZE / 1024,
        if coroutines.locals_kept { "yes" } else { "NO" }
    );
}

fn addresses(list: &[usize]) -> String {
    list.iter()
        .map(|a| format!("{a:#x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Minor page faults of this process so far (`getrusage`).
fn minor_faults() -> u64 {
    usage::rusage(libc::RUSAGE_SELF).ru_minflt as u64
}

/// `Private_Dirty` of this process, bytes (`/proc/self/smaps_rollup`).
fn private_dirty_bytes() -> u64 {
    usage::proc_field("/proc/self/smaps_rollup", "Private_Dirty").map_or(0, |kib| kib * 1024)
}

/// Threads of this process (`/proc/self/status`).
fn os_threads() -> Option<u64> {
    usage::proc_field("/proc/self/status", "Threads").ok()
}
