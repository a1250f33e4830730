//! `corio::process`: std's contract, case by case on std and on corio, and
//! waits that suspend only their caller while a 1 ms ticker keeps ticking.

#[path = "util/ticker.rs"]
mod ticker;

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use corio::process::{Command, Stdio};
use ticker::{Ticker, assert_ticked, gate};

mod on_std {
    use std::process::{Command, Stdio};
    include!("std_shaped/process_cases.rs");
}

mod on_corio {
    use corio::process::{Command, Stdio};
    include!("std_shaped/process_cases.rs");
}

include!("std_shaped/both.rs");

both!(
    missing_program_is_not_found,
    a_directory_is_not_a_program,
    output_captures_both_streams_and_the_code,
    output_gives_the_child_a_null_stdin,
    status_inherits_and_reports,
    env_and_current_dir_reach_the_child,
    pipes_to_and_from_cat,
    wait_closes_stdin_first,
    try_wait_kill_and_wait_again,
    wait_with_output_after_spawn,
    a_child_stdout_feeds_another_child,
    a_large_output_does_not_deadlock,
);

/// Outside a runtime the same calls run in place, as std's.
#[test]
fn outside_a_runtime_calls_run_in_place() {
    on_corio::pipes_to_and_from_cat();
    on_corio::wait_with_output_after_spawn();
    on_corio::try_wait_kill_and_wait_again();
}

/// `Command::output()` of a shell that runs 300 ms (and until the ticker
/// has ticked, see `util/ticker.rs`) suspends only the caller.
#[test]
fn output_of_a_300_ms_shell_while_the_ticker_ticks() {
    let flag = std::env::temp_dir().join(format!("corio-shell-gate-{}", std::process::id()));
    let _ = std::fs::remove_file(&flag);
    let (out, before, after, gated) = corio::run(|| {
        let ticker = Ticker::start();
        let before = ticker.now();
        let ticks = Arc::clone(&ticker.ticks);
        let flag_path = flag.clone();
        let opener = std::thread::spawn(move || {
            let gated = gate(&ticks, before);
            std::fs::write(&flag_path, "").unwrap();
            gated
        });
        let script = format!(
            "sleep 0.3; while [ ! -e '{}' ]; do sleep 0.01; done; echo done",
            flag.display()
        );
        let out = Command::new("sh").args(["-c", &script]).output().unwrap();
        let after = ticker.now();
        ticker.stop();
        (out, before, after, opener.join().unwrap())
    });
    std::fs::remove_file(&flag).unwrap();
    assert!(
        gated,
        "the gate never saw the ticker tick: the runtime was blocked"
    );
    assert_ticked("corio::process::Command::output", before, after);
    assert_eq!(out.stdout, b"done\n");
    assert!(out.status.success());
}

/// 1 MB into `cat` from one coroutine while another drains its stdout:
/// each waits on its own pipe, so neither deadlocks. The reader starts
/// draining only once the ticker has ticked [`ticker::TICKS`] times since
/// the writer began; the megabyte is 16 times what the pipes hold, so the
/// writer must still be suspended in `write_all` then, and the reader must
/// run while the writer is still writing: both are counted. If a write
/// blocked the thread, neither the ticker nor the reader could run; a
/// guard thread then kills `cat` after 30 s, and the write fails instead
/// of hanging the test.
#[test]
fn one_megabyte_through_cat_while_the_ticker_ticks() {
    const LEN: usize = 1 << 20;
    let data: Vec<u8> = (0..LEN).map(|i| (i * 7 % 251) as u8).collect();
    let expected = data.clone();
    let (echoed, status, reads_while_writing, ticked_while_writing, ticks) =
        corio::run(move || {
            let ticker = Ticker::start();
            let mut child = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let pid = child.id() as i32;
            let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let guard_finished = Arc::clone(&finished);
            let guard = std::thread::spawn(move || {
                let start = std::time::Instant::now();
                while !guard_finished.load(Ordering::SeqCst) {
                    if start.elapsed() > ticker::HANG_GUARD {
                        // SAFETY: `kill` on the child's pid, not yet reaped
                        // (the runtime waits for it after `finished`).
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            });
            let writing = std::rc::Rc::new(std::cell::Cell::new(true));
            let before = ticker.now();
            let mut stdin = child.stdin.take().unwrap();
            let writer_flag = std::rc::Rc::clone(&writing);
            let writer = corio::spawn(move || {
                stdin
                    .write_all(&data)
                    .expect("write into cat (killed by the hang guard?)");
                writer_flag.set(false);
                // `stdin` drops here: cat sees the end.
            });
            let mut stdout = child.stdout.take().unwrap();
            let ticks = Arc::clone(&ticker.ticks);
            let reader = corio::spawn(move || {
                ticker::wait_for_ticks(&ticks, before);
                let ticked_while_writing = writing.get();
                let (mut echoed, mut reads_while_writing) = (Vec::new(), 0);
                let mut buf = vec![0; 64 * 1024];
                loop {
                    let n = stdout.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    reads_while_writing += usize::from(writing.get());
                    echoed.extend_from_slice(&buf[..n]);
                }
                (echoed, reads_while_writing, ticked_while_writing)
            });
            writer.join().unwrap();
            let (echoed, reads_while_writing, ticked_while_writing) = reader.join().unwrap();
            let status = child.wait().unwrap();
            finished.store(true, Ordering::SeqCst);
            guard.join().unwrap();
            let ticks = ticker.now() - before;
            ticker.stop();
            (
                echoed,
                status,
                reads_while_writing,
                ticked_while_writing,
                ticks,
            )
        });
    assert!(status.success(), "cat ended with {status:?}");
    assert_eq!(echoed.len(), LEN);
    assert!(
        echoed == expected,
        "cat echoed other bytes than were written"
    );
    assert!(
        ticked_while_writing,
        "the writer finished before the ticker had ticked {} times: cat's pipes \
         cannot hold a megabyte, so the writes did not wait",
        ticker::TICKS
    );
    assert!(ticks >= ticker::TICKS, "{ticks} ticks across the transfer");
    assert!(
        reads_while_writing >= 1,
        "the reader never ran while the writer was writing"
    );
    eprintln!("{reads_while_writing} reads while writing, {ticks} ticks");
}

/// `kill` + `wait`: the wait suspends only the caller until a coroutine,
/// after the ticker has ticked, kills the child.
#[test]
fn kill_and_wait_while_the_ticker_ticks() {
    let (status, before, after) = corio::run(|| {
        let ticker = Ticker::start();
        let child = Command::new("sleep").arg("30").spawn().unwrap();
        let child = std::rc::Rc::new(std::cell::RefCell::new(child));
        let before = ticker.now();
        let ticks = Arc::clone(&ticker.ticks);
        let pid = child.borrow().id();
        // A std thread gated on the ticks sends the signal: the waiting
        // coroutine holds the `Child` borrowed.
        let killer = std::thread::spawn(move || {
            let gated = gate(&ticks, before);
            // SAFETY: `kill` on the child's pid, still unreaped (the test
            // waits for it only after this).
            assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
            gated
        });
        let status = child.borrow_mut().wait().unwrap();
        let after = ticker.now();
        assert!(
            killer.join().unwrap(),
            "the killer never saw the ticker tick"
        );
        ticker.stop();
        // `kill` on the reaped child is still `Ok`, as std's.
        child.borrow_mut().kill().unwrap();
        (status, before, after)
    });
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_ticked("corio::process::Child::wait", before, after);
}
