//! `corio::io`: stdin and stdout of a child process (this test binary,
//! started again in a child role) that wait without stopping its runtime,
//! and stdin's buffer shared by every reader.

#[path = "util/ticker.rs"]
mod ticker;
mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use ticker::{HANG_GUARD, HOLD, TICKS, Ticker};

/// Environment variable naming the role a child plays (as `util`'s).
const ROLE: &str = "CORIO_TEST_CHILD_ROLE";

/// Starts this test binary again, playing `test_name`, with piped stdio.
fn start_child(test_name: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            test_name,
            "--nocapture",
            "--test-threads=1",
            "--quiet",
        ])
        .env(ROLE, test_name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// In the child: a coroutine that writes `ticked` to stderr once the
/// ticker has ticked [`TICKS`] times past `from`.
fn announce_ticks(ticker: &Ticker, from: u32) -> corio::JoinHandle<()> {
    let ticks = std::sync::Arc::clone(&ticker.ticks);
    corio::spawn(move || {
        while ticks.load(std::sync::atomic::Ordering::SeqCst) < from + TICKS {
            corio::sleep(Duration::from_millis(1));
        }
        writeln!(corio::io::stderr(), "ticked").unwrap();
    })
}

/// In the parent: the lines of `stream`, read by a thread, on a channel.
fn lines_of(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for the line `want` on `lines`; false after the hang guard.
fn wait_for(lines: &mpsc::Receiver<String>, want: &str, seen: &mut Vec<String>) -> bool {
    let deadline = std::time::Instant::now() + HANG_GUARD;
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) if line == want => return true,
            Ok(line) => seen.push(line),
            Err(_) => return false,
        }
    }
    false
}

#[test]
fn stdin_read_line_fed_after_300_ms_while_the_ticker_ticks() {
    const NAME: &str = "stdin_read_line_fed_after_300_ms_while_the_ticker_ticks";
    if util::is_child(NAME) {
        corio::run(|| {
            let ticker = Ticker::start();
            let before = ticker.now();
            let announcer = announce_ticks(&ticker, before);
            let mut line = String::new();
            corio::io::stdin().read_line(&mut line).unwrap();
            let after = ticker.now();
            announcer.join().unwrap();
            ticker.stop();
            println!("line {line:?}");
            println!("ticks {}", after - before);
        });
        return;
    }
    let mut child = start_child(NAME);
    let stderr = lines_of(child.stderr.take().unwrap());
    let mut noise = Vec::new();
    let ticked = wait_for(&stderr, "ticked", &mut noise);
    std::thread::sleep(HOLD);
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        ticked,
        "the child never ticked while reading stdin; its stderr: {noise:?}"
    );
    assert!(out.contains("line \"hello\\n\""), "child's stdout: {out}");
    let ticks: u32 = out
        .lines()
        .find_map(|l| l.strip_prefix("ticks "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no tick count in the child's stdout: {out}"));
    assert!(ticks >= TICKS, "{ticks} ticks while read_line waited");
}

#[test]
fn stdin_lines_and_a_lock_that_gives_back_what_it_did_not_use() {
    const NAME: &str = "stdin_lines_and_a_lock_that_gives_back_what_it_did_not_use";
    if util::is_child(NAME) {
        corio::run(|| {
            let mut first = String::new();
            // The lock reads the whole chunk; the rest goes back on drop.
            corio::io::stdin().read_line(&mut first).unwrap();
            let mut second = [0u8; 2];
            corio::io::stdin().read_exact(&mut second).unwrap();
            let rest: Vec<String> = corio::io::stdin().lines().map(|l| l.unwrap()).collect();
            println!("first {first:?}");
            println!("second {:?}", String::from_utf8_lossy(&second));
            println!("rest {rest:?}");
        });
        return;
    }
    let mut child = start_child(NAME);
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"one\nt\nthree\nfour")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("first \"one\\n\""), "{text}");
    assert!(text.contains("second \"t\\n\""), "{text}");
    assert!(text.contains("rest [\"three\", \"four\"]"), "{text}");
}

#[test]
fn stdout_into_a_full_pipe_waits_while_the_ticker_ticks() {
    const NAME: &str = "stdout_into_a_full_pipe_waits_while_the_ticker_ticks";
    const LEN: usize = 256 * 1024; // four times what a pipe holds
    if util::is_child(NAME) {
        corio::run(|| {
            let ticker = Ticker::start();
            let before = ticker.now();
            let announcer = announce_ticks(&ticker, before);
            let mut out = corio::io::stdout();
            out.write_all(&vec![b'x'; LEN]).unwrap();
            out.write_all(b"\n").unwrap();
            out.flush().unwrap();
            let after = ticker.now();
            announcer.join().unwrap();
            ticker.stop();
            writeln!(corio::io::stderr(), "ticks {}", after - before).unwrap();
        });
        return;
    }
    let mut child = start_child(NAME);
    let stderr = lines_of(child.stderr.take().unwrap());
    let mut noise = Vec::new();
    // The parent reads nothing until the child has ticked: the pipe fills.
    let ticked = wait_for(&stderr, "ticked", &mut noise);
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    assert!(child.wait().unwrap().success());
    let rest: Vec<String> = stderr.iter().collect();
    assert!(
        ticked,
        "the child never ticked while writing; its stderr: {noise:?}"
    );
    assert!(stdout.iter().filter(|&&b| b == b'x').count() == LEN);
    let ticks: u32 = rest
        .iter()
        .find_map(|l| l.strip_prefix("ticks "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no tick count in the child's stderr: {rest:?}"));
    assert!(ticks >= TICKS, "{ticks} ticks while the write waited");
}
