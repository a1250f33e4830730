//! How much stack does a panic need on a coroutine, with and without
//! backtraces? And how little may be left when a coroutine panics, for
//! `join` to get the panic back instead of the process aborting?
//!
//! ```text
//! cargo run --release --example panic_room              # a 32 KiB stack for the second question
//! cargo run --release --example panic_room -- --size 65536
//! cargo run --release --example panic_room -- --json    # one JSON object per RUST_BACKTRACE value
//! ```
//!
//! For each `RUST_BACKTRACE` value (`0`, `1`, `full`) the lab runs copies of
//! itself as child processes, so that a panic that runs out of stack (an
//! abort) ends only a child:
//!
//! - **in place**: a coroutine with a 1 MiB stack, nearly all of it free,
//!   panics twice and catches both. The panic hook then runs on the
//!   coroutine's own stack (corio moves it only when less than 64 KiB are
//!   left). The pages of the stack the panic touched below the point where
//!   it was raised are counted with `mincore`, so the figure is the
//!   deepest the panic went (hook, backtrace and unwinding together), to
//!   the page. Between the two panics the pages are handed back
//!   (`MADV_DONTNEED`), so the second figure is a later panic's, after the
//!   first loaded the debug info.
//! - **least room**: a coroutine with a `--size` stack recurses until a
//!   given number of bytes below its first frame are used, then panics;
//!   a bisection finds the most it may use with the panic still caught by
//!   `join`. The room is counted from the coroutine's first frame, which
//!   sits a little below the top of its stack, so the true room left is a
//!   little less than the figure.
//!
//! The first column is why a coroutine that panicked with less than that
//! left used to abort (the backtrace overflowed its stack); the last one is
//! what a panic still needs of the coroutine's own stack now that the
//! hook's work moves to a spare stack (`src/stack/spare.rs`).

use std::hint::black_box;
use std::process::{Command, ExitCode};

use clap::Parser;
use serde_json::json;

#[path = "common/pipe.rs"]
mod pipe;

/// Stack size of the coroutine that measures its panics in place.
const IN_PLACE_STACK: usize = 1024 * 1024;

/// Bytes below the measuring coroutine's first frame whose pages are
/// counted: far more than any panic was seen to use, far less than the
/// stack.
const WINDOW: usize = 512 * 1024;

/// Bisection steps stop when the bounds are this close, in bytes.
const PRECISION: usize = 64;

#[derive(Parser)]
#[command(about = "How much stack a panic needs on a coroutine, with and without backtraces")]
struct Args {
    /// Stack size, in bytes, of the coroutine that panics near its end
    /// (at least 32768, corio's smallest).
    #[arg(long, default_value_t = 32 * 1024)]
    size: usize,
    /// One JSON object per RUST_BACKTRACE value instead of the table.
    #[arg(long)]
    json: bool,
    /// Internal: the part a child process plays (`in-place` or `near-end`).
    #[arg(long, hide = true)]
    child: Option<String>,
    /// Internal: bytes the `near-end` child uses before it panics.
    #[arg(long, hide = true, default_value_t = 0)]
    used: usize,
}

fn main() -> ExitCode {
    pipe::exit_quietly_on_broken_pipe();
    let args = Args::parse();
    if let Err(error) = corio::stack::validate_stack_size(args.size) {
        eprintln!("panic_room: --size: {error}");
        return ExitCode::from(2);
    }
    match args.child.as_deref() {
        Some("in-place") => in_place_child(),
        Some("near-end") => near_end_child(args.size, args.used),
        Some(other) => {
            eprintln!("panic_room: unknown child part {other:?}");
            return ExitCode::from(2);
        }
        None => parent(&args),
    }
    ExitCode::SUCCESS
}

/// Runs the two measurements for each `RUST_BACKTRACE` value and prints them.
fn parent(args: &Args) {
    if !args.json {
        println!(
            "profile: {}; least room on a {} byte stack",
            if cfg!(debug_assertions) {
                "debug"
            } else {
                "release"
            },
            args.size
        );
        println!(
            "{:<15} {:>18} {:>18} {:>10} {:>24}",
            "RUST_BACKTRACE",
            "first panic (KiB)",
            "later panic (KiB)",
            "backtrace",
            "least room (bytes)"
        );
    }
    for backtrace in ["0", "1", "full"] {
        let (first, later, printed) = in_place(backtrace);
        let (caught, aborted) = least_room(backtrace, args.size);
        if args.json {
            println!(
                "{}",
                json!({
                    "rust_backtrace": backtrace,
                    "profile": if cfg!(debug_assertions) { "debug" } else { "release" },
                    "first_panic_bytes": first,
                    "later_panic_bytes": later,
                    "backtrace_printed": printed,
                    "stack_size": args.size,
                    "least_room_caught_bytes": caught,
                    "most_room_aborted_bytes": aborted,
                })
            );
        } else {
            println!(
                "{:<15} {:>18} {:>18} {:>10} {:>24}",
                backtrace,
                first / 1024,
                later / 1024,
                if printed { "printed" } else { "none" },
                format!("{caught} (aborts at {aborted})"),
            );
        }
    }
}

/// Runs this program again as `child`, with `RUST_BACKTRACE=backtrace`;
/// returns whether it exited 0, its stdout and its stderr.
fn run_child(backtrace: &str, child: &str, size: usize, used: usize) -> (bool, String, String) {
    let exe = std::env::current_exe().expect("the lab knows its own path");
    let output = Command::new(exe)
        .args(["--child", child, "--size", &size.to_string()])
        .args(["--used", &used.to_string()])
        .env("RUST_BACKTRACE", backtrace)
        .output()
        .expect("the lab can start a copy of itself");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The in-place measurement: bytes used by the first and a later panic, and
/// whether a backtrace was printed.
fn in_place(backtrace: &str) -> (usize, usize, bool) {
    let (ok, out, err) = run_child(backtrace, "in-place", IN_PLACE_STACK, 0);
    assert!(ok, "the in-place child failed:\n{out}\n{err}");
    let figure = |key: &str| -> usize {
        out.lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.trim().parse().ok())
            .unwrap_or_else(|| panic!("the in-place child printed no {key:?}:\n{out}"))
    };
    (
        figure("first:"),
        figure("later:"),
        err.contains("stack backtrace:"),
    )
}

/// The bisection: the least room (bytes below the coroutine's first frame)
/// with which a panic was caught, and the most with which it aborted.
fn least_room(backtrace: &str, size: usize) -> (usize, usize) {
    // Bytes used at the panic: `caught_at` worked, `aborted_at` did not.
    let mut caught_at = 0;
    let mut aborted_at = size;
    let (mut low, mut high) = (0, size);
    while high - low > PRECISION {
        let mid = (low + high) / 2;
        let (ok, out, _) = run_child(backtrace, "near-end", size, mid);
        let spent: Option<usize> = out
            .lines()
            .find_map(|line| line.strip_prefix("spent:"))
            .and_then(|rest| rest.trim().parse().ok());
        match (ok && out.contains("caught"), spent) {
            (true, Some(spent)) => {
                caught_at = caught_at.max(spent);
                low = mid;
            }
            (_, spent) => {
                aborted_at = aborted_at.min(spent.unwrap_or(mid));
                high = mid;
            }
        }
    }
    (size - caught_at, size - aborted_at)
}

/// Address of a fresh local: about where the stack pointer is.
#[inline(never)]
fn stack_here() -> usize {
    let marker = 0u8;
    black_box(&marker) as *const u8 as usize
}

/// Panics with `message`, from a frame of its own.
#[inline(never)]
fn raise(message: &str) -> ! {
    panic!("{message}");
}

/// Pages of `[start, start + len)` in memory, by `mincore`.
fn resident_pages(start: usize, len: usize) -> usize {
    let page = corio::stack::page_size();
    let mut vector = vec![0u8; len / page];
    // SAFETY: the range is page-aligned, mapped (part of this coroutine's
    // stack slot) and `vector` has one byte per page; mincore only reports.
    let rc = unsafe { libc::mincore(start as *mut libc::c_void, len, vector.as_mut_ptr()) };
    assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
    vector.iter().filter(|&&byte| byte & 1 == 1).count()
}

/// The `in-place` child: two caught panics on a roomy stack, each measured.
fn in_place_child() {
    corio::run(|| {
        let handle = corio::thread::Builder::new()
            .name("in-place".into())
            .stack_size(IN_PLACE_STACK)
            .spawn(|| {
                let page = corio::stack::page_size();
                // The whole pages below the one the panics start from.
                let end = stack_here() & !(page - 1);
                let start = end - WINDOW;
                for key in ["first:", "later:"] {
                    let before = resident_pages(start, WINDOW);
                    let result = std::panic::catch_unwind(|| raise("a panic, measured"));
                    assert!(result.is_err());
                    let touched = resident_pages(start, WINDOW) - before;
                    println!("{key} {}", touched * page);
                    // SAFETY: the range lies below this frame's stack
                    // pointer, in this coroutine's own slot: nothing lives
                    // there between calls, and the pages read as zero when
                    // next touched.
                    let rc = unsafe {
                        libc::madvise(start as *mut libc::c_void, WINDOW, libc::MADV_DONTNEED)
                    };
                    assert_eq!(rc, 0, "madvise: {}", std::io::Error::last_os_error());
                }
            })
            .expect("a 1 MiB stack");
        handle.join().expect("both panics were caught");
    });
}

/// Recurses until `used` bytes below `top` are in use, prints how many, and
/// panics.
#[inline(never)]
fn spend_then_panic(top: usize, used: usize) -> usize {
    let frame = [0u8; 128];
    let spent = top - black_box(&frame).as_ptr() as usize;
    if spent >= used {
        println!("spent: {spent}");
        raise("a panic near the end of the stack");
    }
    spend_then_panic(top, used) + usize::from(black_box(frame)[1])
}

/// The `near-end` child: a coroutine on a `size` stack uses `used` bytes
/// and panics; `join` must get the panic back.
fn near_end_child(size: usize, used: usize) {
    corio::run(move || {
        let handle = corio::thread::Builder::new()
            .name("near-end".into())
            .stack_size(size)
            .spawn(move || spend_then_panic(stack_here(), used))
            .expect("the size was validated");
        assert!(handle.join().is_err());
        println!("caught");
    });
}
