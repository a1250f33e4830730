// Cases of `tests/net_shared_state.rs`, written against std's names only:
// a `Stream` type (a TCP or Unix stream), `pair()` that connects two of
// them, and `thread` (`spawn`, `sleep`, `JoinHandle`). The file is included
// once per flavour: std's sockets on OS threads, corio's on coroutines (each
// case then runs inside `corio::run`), so every case is shown to hold on std
// before it is asked of corio.
//
// What they pin down: the blocking mode, the shutdowns and the timeouts
// belong to the socket, so a `try_clone` sees what the other handle set,
// even when the clone was made after the socket had been read from, and
// whichever of the two made the change.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Sleeps of 1 ms a `Rescuer` takes before it writes: far longer than
/// any read in these cases should wait, so it fires only for a read that
/// waits when it must not.
const RESCUE_AFTER_SLEEPS: u32 = 1000;

/// A thread (a coroutine on corio) that writes one byte to its end of a
/// pair after `RESCUE_AFTER_SLEEPS` sleeps of 1 ms, unless stopped first.
/// A read that wrongly waits is ended by that byte instead of hanging, and
/// `Rescuer::stop` says whether it had to be.
struct Rescuer {
    /// Set by `Rescuer::stop`; the thread ends at its next wake-up.
    stop: Arc<AtomicBool>,
    /// Yields whether the byte was written.
    handle: thread::JoinHandle<bool>,
}

impl Rescuer {
    fn start(peer: &Stream) -> Rescuer {
        let peer = peer.try_clone().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let handle = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                for _ in 0..RESCUE_AFTER_SLEEPS {
                    if stop.load(Ordering::Relaxed) {
                        return false;
                    }
                    thread::sleep(Duration::from_millis(1));
                }
                (&peer).write_all(b"!").unwrap();
                true
            })
        };
        Rescuer { stop, handle }
    }

    /// Stops the rescuer; whether it had written its byte.
    fn stop(self) -> bool {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap()
    }
}

/// What the read after a change gave: bytes, or the error's kind.
#[derive(Debug, PartialEq)]
enum Outcome {
    Read(usize),
    Failed(ErrorKind),
}

/// Connects a pair, reads through `a` and then through a clone of `a` made
/// only after that read (so each handle has been used, as a server's
/// connection has); then `prepare` acts on the handle that will read and
/// `change` on the other one (the clone when `on_clone`, else `a`), and
/// the first reads. Returns what that read gave and whether the rescuer had
/// to end it.
fn read_after_change(
    on_clone: bool,
    prepare: impl Fn(&Stream),
    change: impl Fn(&Stream),
) -> (Outcome, bool) {
    let (a, b) = pair();
    (&b).write_all(b"1").unwrap();
    assert_eq!((&a).read(&mut [0; 8]).unwrap(), 1);
    let clone = a.try_clone().unwrap();
    (&b).write_all(b"2").unwrap();
    assert_eq!((&clone).read(&mut [0; 8]).unwrap(), 1);
    let (changed, reader) = if on_clone { (&clone, &a) } else { (&a, &clone) };
    prepare(reader);
    change(changed);
    let rescuer = Rescuer::start(&b);
    let outcome = match (&*reader).read(&mut [0; 8]) {
        Ok(n) => Outcome::Read(n),
        Err(e) => Outcome::Failed(e.kind()),
    };
    (outcome, rescuer.stop())
}

/// `set_nonblocking(true)` on one handle: the other's next read says
/// `WouldBlock` at once instead of waiting.
pub fn nonblocking_set_on_one_handle_is_seen_by_the_other() {
    for on_clone in [true, false] {
        let seen = read_after_change(on_clone, |_| (), |s| s.set_nonblocking(true).unwrap());
        assert_eq!(seen, (Outcome::Failed(ErrorKind::WouldBlock), false), "set on the clone: {on_clone}");
    }
}

/// A read timeout set on one handle bounds the other's next read, which
/// times out with `WouldBlock` (std's kind on Unix).
pub fn a_read_timeout_set_on_one_handle_bounds_the_others_read() {
    for on_clone in [true, false] {
        let seen = read_after_change(on_clone, |_| (), |s| {
            s.set_read_timeout(Some(Duration::from_millis(20))).unwrap()
        });
        assert_eq!(seen, (Outcome::Failed(ErrorKind::WouldBlock), false), "set on the clone: {on_clone}");
    }
}

/// `shutdown(Read)` through one handle: the other's next read is
/// end-of-file at once. (The shutdown also sends the stream a readiness
/// edge, so a reader that missed it would still end, one wait later; the
/// corio-only stream case in `tests/net_shared_state.rs` counts that wait,
/// and the datagram case there has no edge to fall back on.)
pub fn a_read_shutdown_through_one_handle_ends_the_others_reads() {
    for on_clone in [true, false] {
        let seen = read_after_change(on_clone, |_| (), |s| s.shutdown(Shutdown::Read).unwrap());
        assert_eq!(seen, (Outcome::Read(0), false), "shut down on the clone: {on_clone}");
    }
}

/// A handle that changed its settings and put them back while its clone
/// lives still sees what the clone changes next.
pub fn a_handle_back_at_its_defaults_still_sees_its_clones_changes() {
    let restore = |s: &Stream| {
        s.set_nonblocking(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        s.set_nonblocking(false).unwrap();
        s.set_read_timeout(None).unwrap();
    };
    for on_clone in [true, false] {
        let seen = read_after_change(on_clone, restore, |s| s.set_nonblocking(true).unwrap());
        assert_eq!(seen, (Outcome::Failed(ErrorKind::WouldBlock), false), "set on the clone: {on_clone}");
    }
}

/// A socket whose clone has come and gone, given a read timeout that
/// works, then `None`: its reads wait without a limit again. The writer
/// sleeps 1 ms `LATE_WRITE_SLEEPS` times before it writes, so the read
/// waits at least that long, far past the old timeout.
pub fn a_timeout_set_then_cleared_waits_without_limit_again() {
    const LATE_WRITE_SLEEPS: u32 = 50;
    let (a, b) = pair();
    drop(a.try_clone().unwrap());
    a.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    assert_eq!((&a).read(&mut [0; 8]).unwrap_err().kind(), ErrorKind::WouldBlock);
    a.set_read_timeout(None).unwrap();
    assert_eq!(a.read_timeout().unwrap(), None);
    let writer = thread::spawn(move || {
        for _ in 0..LATE_WRITE_SLEEPS {
            thread::sleep(Duration::from_millis(1));
        }
        (&b).write_all(b"late").unwrap();
        b
    });
    let got = (&a).read(&mut [0; 8]).map_err(|e| e.kind());
    drop(writer.join().unwrap());
    assert_eq!(got, Ok(4));
}
