// Cases of `tests/process.rs`, written against the names of
// `std::process` only. Included twice: with `use std::process::...` and
// with `use corio::process::...` (each case then runs in `corio::run`).

use std::io::{ErrorKind, Read, Write};
use std::os::unix::process::ExitStatusExt;

pub fn missing_program_is_not_found() {
    let err = Command::new("/no/such/corio/program").spawn().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = Command::new("no-such-corio-program-on-path").output().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = Command::new("/no/such/corio/program").status().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

pub fn a_directory_is_not_a_program() {
    let err = Command::new("/").spawn().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied);
}

pub fn output_captures_both_streams_and_the_code() {
    let out = Command::new("sh")
        .args(["-c", "echo out; echo err >&2; exit 3"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"out\n");
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.status.code(), Some(3));
    assert!(!out.status.success());
}

pub fn output_gives_the_child_a_null_stdin() {
    let out = Command::new("cat").output().unwrap();
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

pub fn status_inherits_and_reports() {
    assert!(Command::new("true").status().unwrap().success());
    assert_eq!(Command::new("false").status().unwrap().code(), Some(1));
}

pub fn env_and_current_dir_reach_the_child() {
    let out = Command::new("sh")
        .args(["-c", "echo $CORIO_CASE; pwd"])
        .env("CORIO_CASE", "set")
        .current_dir("/")
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"set\n/\n");
    let out = Command::new("/usr/bin/env").env_clear().output().unwrap();
    assert!(out.stdout.is_empty());
}

pub fn pipes_to_and_from_cat() {
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"round trip").unwrap();
    let mut echoed = String::new();
    child.stdout.take().unwrap().read_to_string(&mut echoed).unwrap();
    assert_eq!(echoed, "round trip");
    assert!(child.wait().unwrap().success());
}

pub fn wait_closes_stdin_first() {
    let mut child = Command::new("cat")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // cat ends only when its stdin closes: `wait` must close it.
    assert!(child.wait().unwrap().success());
    assert!(child.stdin.is_none());
}

pub fn try_wait_kill_and_wait_again() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    assert!(child.id() > 0);
    assert!(child.try_wait().unwrap().is_none());
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(child.wait().unwrap(), status, "a second wait gives the same status");
    assert_eq!(child.try_wait().unwrap(), Some(status));
    // Killing a reaped child is not an error.
    child.kill().unwrap();
}

pub fn wait_with_output_after_spawn() {
    let child = Command::new("sh")
        .args(["-c", "echo a; echo b >&2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!((out.stdout, out.stderr), (b"a\n".to_vec(), b"b\n".to_vec()));
    assert!(out.status.success());
}

pub fn a_child_stdout_feeds_another_child() {
    let mut first = Command::new("echo")
        .arg("piped along")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let second = Command::new("tr")
        .args(["a-z", "A-Z"])
        .stdin(Stdio::from(first.stdout.take().unwrap()))
        .output()
        .unwrap();
    assert_eq!(second.stdout, b"PIPED ALONG\n");
    assert!(first.wait().unwrap().success());
}

pub fn a_large_output_does_not_deadlock() {
    // More than a pipe holds on both streams at once.
    let out = Command::new("sh")
        .args(["-c", "head -c 300000 /dev/zero; head -c 300000 /dev/zero >&2"])
        .output()
        .unwrap();
    assert_eq!((out.stdout.len(), out.stderr.len()), (300_000, 300_000));
}
