//! Helpers shared by the net and reactor integration tests (included with
//! `#[path = "util/net.rs"] mod util;`).
#![allow(dead_code)] // each test file uses a different subset

use std::io;
use std::os::fd::AsRawFd;
use std::process::Command;

use corio::JoinHandle;
use corio::net::TcpListener;

/// Set in the environment of a child test process started by [`isolated`].
const CHILD_ENV: &str = "CORIO_TEST_CHILD";

/// Runs `body` in a fresh process that runs only the test `name` (this
/// test), for tests that change or observe process-wide state (the open
/// file limit, the thread count) and so must not share the process with
/// tests running in parallel.
///
/// In the parent, it re-runs the current test binary filtered to `name`
/// and asserts that the child ran exactly that test and passed.
pub fn isolated(name: &str, body: impl FnOnce()) {
    if std::env::var(CHILD_ENV).as_deref() == Ok(name) {
        body();
        return;
    }
    let exe = std::env::current_exe().expect("the test binary knows its own path");
    let out = Command::new(exe)
        .args([name, "--exact", "--test-threads=1", "--nocapture"])
        .env(CHILD_ENV, name)
        .output()
        .expect("the test binary can be started again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the isolated run of {name} failed:\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(
        stdout.contains("1 passed"),
        "the isolated run did not run {name}:\n{stdout}"
    );
}

/// `len` bytes that differ per `seed` and per position, so a byte echoed to
/// the wrong client or at the wrong offset is caught.
pub fn pattern(seed: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(31) ^ seed.wrapping_mul(131) ^ (i >> 8)) as u8)
        .collect()
}

/// Serves `connections` connections on `listener`, one coroutine each, each
/// echoing everything until its peer shuts down writing. The handle yields
/// the total number of bytes echoed.
pub fn serve_echo(listener: TcpListener, connections: usize) -> JoinHandle<io::Result<u64>> {
    corio::spawn(move || {
        let mut handlers = Vec::with_capacity(connections);
        for _ in 0..connections {
            let (stream, _) = listener.accept()?;
            handlers.push(corio::spawn(move || io::copy(&mut &stream, &mut &stream)));
        }
        let mut total = 0;
        for h in handlers {
            total += h.join().expect("an echo handler panicked")?;
        }
        Ok(total)
    })
}

/// Makes closing `stream` send a reset (RST) instead of a FIN, by setting
/// `SO_LINGER` to zero seconds.
pub fn set_linger_zero(stream: &std::net::TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the pointer and length describe `linger`, which lives across
    // the call; the fd is borrowed from a live stream.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(
        rc,
        0,
        "setsockopt(SO_LINGER): {}",
        io::Error::last_os_error()
    );
}

/// Entries in a `/proc/self` directory: open descriptors (`fd`) or threads
/// (`task`).
pub fn count_proc_entries(dir: &str) -> usize {
    std::fs::read_dir(format!("/proc/self/{dir}"))
        .expect("/proc is mounted")
        .count()
}

/// A coroutine that sleeps for `d` and then sets the flag it returns: a
/// clock to race against, which a busy machine slows exactly as it slows
/// the sleeps it is compared with. Spawned last, it begins its sleep last.
/// Detached: unwound with the runtime if it is still asleep then.
pub fn sentinel(d: std::time::Duration) -> std::rc::Rc<std::cell::Cell<bool>> {
    let woke = std::rc::Rc::new(std::cell::Cell::new(false));
    let flag = woke.clone();
    drop(corio::spawn(move || {
        corio::sleep(d);
        flag.set(true);
    }));
    woke
}

/// A coroutine beside a blocking call that sleeps 1 ms at a time and
/// counts its wake-ups: while the call suspends only its caller, the count
/// grows; were the OS thread blocked, it would stand still.
pub struct Ticker {
    /// Wake-ups so far.
    ticks: std::rc::Rc<std::cell::Cell<u64>>,
    /// Set by [`Ticker::stop`]; the ticker ends at its next wake-up.
    stop: std::rc::Rc<std::cell::Cell<bool>>,
    /// The ticker coroutine.
    handle: JoinHandle<()>,
}

impl Ticker {
    /// Spawns the ticker and lets it begin its first sleep, so that its
    /// first deadline comes before that of any wait the caller starts
    /// next: a wait of more than 1 ms then sees at least one tick.
    pub fn start() -> Ticker {
        let ticks = std::rc::Rc::new(std::cell::Cell::new(0));
        let stop = std::rc::Rc::new(std::cell::Cell::new(false));
        let handle = {
            let (ticks, stop) = (ticks.clone(), stop.clone());
            corio::spawn(move || {
                while !stop.get() {
                    corio::sleep(std::time::Duration::from_millis(1));
                    ticks.set(ticks.get() + 1);
                }
            })
        };
        corio::yield_now();
        Ticker {
            ticks,
            stop,
            handle,
        }
    }

    /// Wake-ups so far.
    pub fn ticks(&self) -> u64 {
        self.ticks.get()
    }

    /// Stops the ticker, waits for it to end and returns its final count.
    pub fn stop(self) -> u64 {
        self.stop.set(true);
        self.handle.join().expect("the ticker panicked");
        self.ticks.get()
    }
}
