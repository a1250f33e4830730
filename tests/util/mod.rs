//! Helpers shared by the integration tests: playing a scenario out in a
//! child process, and reading this process's memory map; and the labs'
//! median and percentiles (`examples/common/stats.rs`, the file the
//! examples and benches use). The labs' `getrusage` and `/proc` reader,
//! `examples/common/usage.rs`, is included by each test that needs it:
//! some include it through an example's module, and a file may be a
//! module only once per crate.

#[path = "../../examples/common/stats.rs"]
pub mod stats;

use std::path::PathBuf;
use std::process::{Command, Output};

/// Environment variable naming the test a child process plays.
const CHILD_ROLE: &str = "CORIO_TEST_CHILD_ROLE";

/// Whether this process was started by [`run_child`] to play `test_name`.
#[allow(dead_code)] // Not every test file plays children.
pub fn is_child(test_name: &str) -> bool {
    std::env::var(CHILD_ROLE).as_deref() == Ok(test_name)
}

/// Re-runs this test binary with only `test_name`, in the child role, and
/// returns how it ended and what it printed.
#[allow(dead_code)] // Not every test file plays children.
pub fn run_child(test_name: &str) -> Output {
    run_child_with(test_name, &[])
}

/// [`run_child`] with more environment variables (`RUST_BACKTRACE` is 0
/// unless `env` sets it).
#[allow(dead_code)] // Not every test file plays children.
pub fn run_child_with(test_name: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    let mut command = Command::new(exe);
    command
        .args(["--exact", test_name, "--nocapture", "--test-threads=1"])
        .env(CHILD_ROLE, test_name)
        .env("RUST_BACKTRACE", "0");
    for (key, value) in env {
        command.env(key, value);
    }
    command
        .output()
        .expect("the test binary can be started again as a child")
}

/// Plays `test_name` in a child process (see [`run_child_with`]), asserts
/// that it succeeded, and returns its stdout and stderr as text.
#[allow(dead_code)] // Not every test file plays children.
pub fn run_child_ok(test_name: &str, env: &[(&str, &str)]) -> (String, String) {
    let output = run_child_with(test_name, env);
    let out = String::from_utf8_lossy(&output.stdout).into_owned();
    let err = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "child {test_name} ended with {:?}\nstdout:\n{out}\nstderr:\n{err}",
        output.status
    );
    (out, err)
}

/// Runs `program` with `args` and a stdout whose reader has already
/// closed its end, so that the first write to it fails with `EPIPE`
/// (`program | head` once `head` has gone); returns how it ended and its
/// stderr.
#[allow(dead_code)] // Not every test file closes pipes.
pub fn run_with_closed_stdout(program: &std::path::Path, args: &[&str]) -> Output {
    let mut ends = [0; 2];
    // SAFETY: `pipe2` writes two descriptors into the two-element array.
    assert_eq!(
        unsafe { libc::pipe2(ends.as_mut_ptr(), libc::O_CLOEXEC) },
        0
    );
    // SAFETY: both descriptors were just made by `pipe2` and are owned here
    // alone; the read end is closed at once by dropping it.
    let (read_end, write_end) = unsafe {
        use std::os::fd::{FromRawFd, OwnedFd};
        (OwnedFd::from_raw_fd(ends[0]), OwnedFd::from_raw_fd(ends[1]))
    };
    drop(read_end);
    Command::new(program)
        .args(args)
        .stdout(write_end)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("the program can be started")
}

/// The text of a panic payload (`String` or `&str`; empty otherwise).
#[allow(dead_code)] // Not every test file looks at panics.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// CPU time used so far by the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
///
/// What a piece of work costs, for tests that compare costs: unlike wall
/// time it does not grow while the thread waits for a CPU, so a busy machine
/// cannot make a cheap step look expensive.
#[allow(dead_code)] // Not every test file compares costs.
pub fn thread_cpu_time() -> std::time::Duration {
    cpu_clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time used so far by all threads of this process
/// (`CLOCK_PROCESS_CPUTIME_ID`), for work that spans several threads.
#[allow(dead_code)] // Not every test file compares costs.
pub fn process_cpu_time() -> std::time::Duration {
    cpu_clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

#[allow(dead_code)] // Only through the two functions above.
fn cpu_clock(clock: libc::clockid_t) -> std::time::Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `now` is a valid, writable timespec; `clock` is one of the
    // CPU-time clocks every Linux has.
    let rc = unsafe { libc::clock_gettime(clock, &mut now) };
    assert_eq!(rc, 0, "clock_gettime: {}", std::io::Error::last_os_error());
    std::time::Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Number of memory mappings of this process (lines of /proc/self/maps).
#[allow(dead_code)] // Not every test file counts mappings.
pub fn map_count() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("/proc/self/maps is readable on Linux")
        .lines()
        .count()
}

/// The example `name` as `cargo test` builds it next to this test's
/// directory (`target/<profile>/examples/<name>`); built here if it is
/// missing or older than its sources, e.g. under `cargo test --test X`
/// alone, which does not rebuild examples.
#[allow(dead_code)] // Not every test file runs an example.
pub fn example_binary(name: &str) -> PathBuf {
    let test_exe = std::env::current_exe().expect("the test binary has a path");
    let profile_dir = test_exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test binaries live in target/<profile>/deps");
    let binary = profile_dir.join("examples").join(name);
    if !binary.exists() || older_than_sources(&binary, name) {
        // The target dir is the one this test was built in, however it was
        // chosen (CARGO_TARGET_DIR, --target-dir or the default): the
        // directory above the profile's, or the one above that when the
        // tests were built with `--target <triple>` (target/<triple>/<profile>).
        // Cargo marks its target dir with CACHEDIR.TAG.
        let above = profile_dir.parent().expect("target/<profile> has a parent");
        let (target_dir, triple) = if above.join("CACHEDIR.TAG").exists() {
            (above, None)
        } else {
            let target_dir = above.parent().expect("target/<triple> has a parent");
            (target_dir, above.file_name())
        };
        let mut build = Command::new(env!("CARGO"));
        build
            .args(["build", "--example", name, "--manifest-path"])
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
            .arg("--target-dir")
            .arg(target_dir);
        if let Some(triple) = triple {
            build.arg("--target").arg(triple);
        }
        if cfg!(not(debug_assertions)) {
            build.arg("--release");
        }
        let status = build.status().expect("running cargo to build the example");
        assert!(
            status.success(),
            "cargo build --example {name} failed: {status}"
        );
    }
    assert!(binary.exists(), "no {name} example at {}", binary.display());
    binary
}

/// Runs example `name` with `args` (built as [`example_binary`] builds it)
/// and returns its standard output.
///
/// # Panics
///
/// If it cannot be started or exits unsuccessfully; the message has the
/// command, the exit status and its standard error.
#[allow(dead_code)] // Not every test file runs an example.
pub fn run_example(name: &str, args: &[&str]) -> Vec<u8> {
    let output = Command::new(example_binary(name))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running the {name} example: {e}"));
    assert!(
        output.status.success(),
        "{name} {} failed ({}): {}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Whether a source of example `name` (its file or folder, the examples'
/// shared `common/` folder), of the library, or a manifest changed after
/// `binary` was built.
fn older_than_sources(binary: &std::path::Path, name: &str) -> bool {
    let built = std::fs::metadata(binary)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::SystemTime::UNIX_EPOCH);
    let package = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    // These helpers also serve the `peers/` member, whose examples use the
    // library and `examples/common/` of the corio package one level up.
    let corio = if package.join("src/lib.rs").exists() {
        package
    } else {
        package.parent().expect("peers/ sits inside corio's folder")
    };
    let mut pending = vec![
        package.join("examples").join(name),
        package.join("examples").join(format!("{name}.rs")),
        package.join("Cargo.toml"),
        corio.join("examples/common"),
        corio.join("src"),
        corio.join("Cargo.toml"),
    ];
    while let Some(path) = pending.pop() {
        let Ok(metadata) = std::fs::metadata(&path) else {
            continue;
        };
        if metadata.is_dir() {
            pending.extend(
                std::fs::read_dir(&path)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .map(|e| e.path()),
            );
        } else if metadata.modified().is_ok_and(|modified| modified > built) {
            return true;
        }
    }
    false
}
