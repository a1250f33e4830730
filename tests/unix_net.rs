//! `corio::os::unix::net` against `std::os::unix::net`.
//!
//! The `cases!` are written once against `use` aliases and run twice, on
//! std's sockets with OS threads and on corio's with coroutines, and both
//! must give the same answer. The other tests put a 1 ms ticker coroutine
//! beside a call that waits and assert that it kept ticking (it would
//! stand still were the OS thread blocked).

#[path = "util/ticker.rs"]
mod ticker;
#[path = "util/net.rs"]
mod util;

use std::cell::Cell;
use std::io::{ErrorKind, Read, Write};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use corio::os::unix::net::{UnixDatagram, UnixListener, UnixStream};

/// A fresh, empty directory for one test's socket files, short enough for
/// `sun_path`; removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("corio-unix-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the temp directory is writable");
        TempDir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The cases, written against whichever `net` module and `spawn` they get.
/// Each returns what it observed, never a time.
macro_rules! cases {
    ($net:path, $spawn:path) => {
        use super::TempDir;
        use std::io::{ErrorKind, Read, Write};
        use std::net::Shutdown;
        use std::time::Duration;
        use $net as net;

        /// Bind a path, connect, accept, talk both ways; the addresses.
        pub fn stream_through_a_path() -> (String, Vec<u8>, bool, bool, bool) {
            let dir = TempDir::new("path");
            let path = dir.path("sock");
            let listener = net::UnixListener::bind(&path).unwrap();
            let server = $spawn(move || {
                let (mut peer, from) = listener.accept().unwrap();
                let mut got = [0; 5];
                peer.read_exact(&mut got).unwrap();
                peer.write_all(b"world").unwrap();
                (got, from.is_unnamed())
            });
            let mut client = net::UnixStream::connect(&path).unwrap();
            client.write_all(b"hello").unwrap();
            let mut reply = Vec::new();
            client.read_to_end(&mut reply).unwrap();
            let (got, from_unnamed) = server.join().unwrap();
            let peer_is_path = client.peer_addr().unwrap().as_pathname() == Some(path.as_path());
            let local_unnamed = client.local_addr().unwrap().is_unnamed();
            (
                String::from_utf8_lossy(&got).into_owned(),
                reply,
                from_unnamed,
                peer_is_path,
                local_unnamed,
            )
        }

        /// Bad addresses: a taken path, a path too long for `sun_path`, a
        /// path with nothing there, a socket file nobody listens on.
        pub fn bad_addresses() -> Vec<ErrorKind> {
            let dir = TempDir::new("bad");
            let path = dir.path("sock");
            let listener = net::UnixListener::bind(&path).unwrap();
            let mut kinds = vec![net::UnixListener::bind(&path).unwrap_err().kind()];
            let long = dir.path(&"x".repeat(200));
            kinds.push(net::UnixListener::bind(&long).unwrap_err().kind());
            kinds.push(net::UnixStream::connect(&long).unwrap_err().kind());
            kinds.push(net::UnixDatagram::bind(&long).unwrap_err().kind());
            kinds.push(
                net::UnixStream::connect(dir.path("none"))
                    .unwrap_err()
                    .kind(),
            );
            drop(listener); // the socket file stays, as with std
            kinds.push(net::UnixStream::connect(&path).unwrap_err().kind());
            kinds.push(net::UnixDatagram::bind(&path).unwrap_err().kind());
            kinds
        }

        /// An abstract name through std's `SocketAddrExt`.
        pub fn abstract_name(tag: &str) -> (Vec<u8>, Option<Vec<u8>>, ErrorKind) {
            use std::os::linux::net::SocketAddrExt;
            let name = format!("corio-test-{tag}-{}", std::process::id());
            let addr = net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
            let listener = net::UnixListener::bind_addr(&addr).unwrap();
            let taken = net::UnixListener::bind_addr(&addr).unwrap_err().kind();
            let client = $spawn(move || {
                let mut client = net::UnixStream::connect_addr(&addr).unwrap();
                let mut got = Vec::new();
                client.read_to_end(&mut got).unwrap();
                got
            });
            let (mut peer, _) = listener.accept().unwrap();
            let bound = peer
                .local_addr()
                .unwrap()
                .as_abstract_name()
                .map(<[u8]>::to_vec);
            peer.write_all(b"abstract").unwrap();
            drop(peer);
            (client.join().unwrap(), bound, taken)
        }

        /// Timeouts: zero refused, shared with a clone, a read past one is
        /// `WouldBlock`; non-blocking mode; shutdown gives end-of-file.
        pub fn stream_options() -> (
            ErrorKind,
            Option<Duration>,
            ErrorKind,
            ErrorKind,
            usize,
            bool,
        ) {
            let (mut a, b) = net::UnixStream::pair().unwrap();
            let zero = a.set_read_timeout(Some(Duration::ZERO)).unwrap_err().kind();
            a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
            let shared = a.try_clone().unwrap().read_timeout().unwrap();
            let timed_out = a.read(&mut [0; 4]).unwrap_err().kind();
            a.set_read_timeout(None).unwrap();
            a.set_nonblocking(true).unwrap();
            let would_block = a.read(&mut [0; 4]).unwrap_err().kind();
            a.set_nonblocking(false).unwrap();
            b.shutdown(Shutdown::Write).unwrap();
            let eof = a.read(&mut [0; 4]).unwrap();
            let no_error = a.take_error().unwrap().is_none();
            (zero, shared, timed_out, would_block, eof, no_error)
        }

        /// Timeouts as set and read back, through a clone too; a read
        /// within its timeout, then one past it; a zero write timeout.
        pub fn stream_timeouts_and_clones() -> (
            [Option<Duration>; 3],
            Vec<u8>,
            ErrorKind,
            ErrorKind,
        ) {
            let (a, b) = net::UnixStream::pair().unwrap();
            let initial = a.read_timeout().unwrap();
            a.set_read_timeout(Some(Duration::from_millis(1000))).unwrap();
            a.set_write_timeout(Some(Duration::from_millis(1500))).unwrap();
            let clone = a.try_clone().unwrap();
            let timeouts = [initial, clone.read_timeout().unwrap(), clone.write_timeout().unwrap()];
            let mut writer = b.try_clone().unwrap();
            writer.write_all(b"hello").unwrap();
            let mut got = vec![0; 5];
            (&clone).read_exact(&mut got).unwrap();
            a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
            let past = (&clone).read(&mut [0; 1]).unwrap_err().kind();
            let zero = a.set_write_timeout(Some(Duration::ZERO)).unwrap_err().kind();
            (timeouts, got, past, zero)
        }

        /// Listener: `incoming`, non-blocking accept, a clone's address.
        pub fn listener_options() -> (usize, ErrorKind, bool) {
            let dir = TempDir::new("listener");
            let path = dir.path("sock");
            let listener = net::UnixListener::bind(&path).unwrap();
            let clients: Vec<_> = (0..3)
                .map(|_| net::UnixStream::connect(&path).unwrap())
                .collect();
            let accepted = listener.incoming().take(3).filter(|s| s.is_ok()).count();
            listener.set_nonblocking(true).unwrap();
            let nobody = listener.accept().unwrap_err().kind();
            let clone_addr = listener.try_clone().unwrap().local_addr().unwrap();
            drop(clients);
            (
                accepted,
                nobody,
                clone_addr.as_pathname() == Some(path.as_path()),
            )
        }

        /// Datagrams: bound and unbound, `send_to`/`recv_from`, connect,
        /// truncation, errors, a read timeout, shutdown.
        pub fn datagrams() -> (Vec<u8>, bool, usize, Vec<ErrorKind>, usize) {
            let dir = TempDir::new("dgram");
            let server_path = dir.path("server");
            let server = net::UnixDatagram::bind(&server_path).unwrap();
            let client_path = dir.path("client");
            let client = net::UnixDatagram::bind(&client_path).unwrap();
            client.send_to(b"ping", &server_path).unwrap();
            let mut buf = [0; 16];
            let (n, from) = server.recv_from(&mut buf).unwrap();
            let mut got = buf[..n].to_vec();
            let from_client = from.as_pathname() == Some(client_path.as_path());
            server.send_to(b"a long reply", &client_path).unwrap();
            let mut small = [0; 4];
            let truncated = client.recv(&mut small).unwrap();
            client.connect(&server_path).unwrap();
            client.send(b"!").unwrap();
            let n = server.recv(&mut buf).unwrap();
            got.extend_from_slice(&buf[..n]);

            let mut kinds = Vec::new();
            let unbound = net::UnixDatagram::unbound().unwrap();
            kinds.push(unbound.peer_addr().unwrap_err().kind());
            kinds.push(unbound.send(b"x").unwrap_err().kind());
            kinds.push(unbound.send_to(b"x", dir.path("none")).unwrap_err().kind());
            kinds.push(net::UnixDatagram::bind(&server_path).unwrap_err().kind());
            server
                .set_read_timeout(Some(Duration::from_millis(20)))
                .unwrap();
            kinds.push(server.recv(&mut buf).unwrap_err().kind());
            kinds.push(
                server
                    .set_write_timeout(Some(Duration::ZERO))
                    .unwrap_err()
                    .kind(),
            );
            server.shutdown(Shutdown::Read).unwrap();
            let after_shutdown = server.recv(&mut buf).unwrap();
            (got, from_client, truncated, kinds, after_shutdown)
        }

        /// Datagram pairs keep each datagram whole and in order.
        pub fn datagram_pair() -> Vec<Vec<u8>> {
            let (a, b) = net::UnixDatagram::pair().unwrap();
            let sender = $spawn(move || {
                for word in ["one", "two", "three"] {
                    a.send(word.as_bytes()).unwrap();
                }
                a
            });
            let mut got = Vec::new();
            let mut buf = [0; 16];
            for _ in 0..3 {
                let n = b.recv(&mut buf).unwrap();
                got.push(buf[..n].to_vec());
            }
            drop(sender.join().unwrap());
            got
        }
    };
}

mod on_std {
    cases!(std::os::unix::net, std::thread::spawn);
}

mod on_corio {
    cases!(corio::os::unix::net, corio::spawn);
}

#[test]
fn a_stream_through_a_path_behaves_as_std() {
    let on_std = on_std::stream_through_a_path();
    assert_eq!(
        on_std,
        ("hello".into(), b"world".to_vec(), true, true, true)
    );
    assert_eq!(corio::run(on_corio::stream_through_a_path), on_std);
}

#[test]
fn bad_addresses_give_std_error_kinds() {
    use ErrorKind::*;
    let on_std = on_std::bad_addresses();
    assert_eq!(
        on_std,
        [
            AddrInUse,
            InvalidInput,
            InvalidInput,
            InvalidInput,
            NotFound,
            ConnectionRefused,
            AddrInUse
        ]
    );
    assert_eq!(corio::run(on_corio::bad_addresses), on_std);
}

#[test]
fn bad_address_messages_name_the_path_and_what_to_do() {
    corio::run(|| {
        let dir = TempDir::new("messages");
        let path = dir.path("sock");
        let _listener = UnixListener::bind(&path).unwrap();
        let taken = UnixListener::bind(&path).unwrap_err().to_string();
        assert!(taken.contains(&*path.to_string_lossy()), "{taken}");
        assert!(taken.contains("remove it"), "{taken}");
        let long = UnixListener::bind(dir.path(&"y".repeat(200)))
            .unwrap_err()
            .to_string();
        assert!(long.contains("sun_path"), "{long}");
        assert!(long.contains("shorter path"), "{long}");
    });
}

#[test]
fn an_abstract_name_through_std_socket_addr_ext_behaves_as_std() {
    let on_std = on_std::abstract_name("std");
    assert_eq!(on_std.0, b"abstract");
    assert_eq!(on_std.2, ErrorKind::AddrInUse);
    let on_corio = corio::run(|| on_corio::abstract_name("corio"));
    assert_eq!(on_corio.0, on_std.0);
    assert_eq!(on_corio.2, on_std.2);
    let name = format!("corio-test-corio-{}", std::process::id());
    assert_eq!(on_corio.1.as_deref(), Some(name.as_bytes()));
}

#[test]
fn stream_options_behave_as_std() {
    let on_std = on_std::stream_options();
    assert_eq!(
        on_std,
        (
            ErrorKind::InvalidInput,
            Some(Duration::from_millis(20)),
            ErrorKind::WouldBlock,
            ErrorKind::WouldBlock,
            0,
            true
        )
    );
    assert_eq!(corio::run(on_corio::stream_options), on_std);
}

#[test]
fn stream_timeouts_and_clones_behave_as_std() {
    let on_std = on_std::stream_timeouts_and_clones();
    assert_eq!(
        on_std,
        (
            [
                None,
                Some(Duration::from_millis(1000)),
                Some(Duration::from_millis(1500))
            ],
            b"hello".to_vec(),
            ErrorKind::WouldBlock,
            ErrorKind::InvalidInput
        )
    );
    assert_eq!(corio::run(on_corio::stream_timeouts_and_clones), on_std);
}

#[test]
fn listener_options_behave_as_std() {
    let on_std = on_std::listener_options();
    assert_eq!(on_std, (3, ErrorKind::WouldBlock, true));
    assert_eq!(corio::run(on_corio::listener_options), on_std);
}

#[test]
fn datagrams_behave_as_std() {
    use ErrorKind::*;
    let on_std = on_std::datagrams();
    assert_eq!(
        on_std,
        (
            b"ping!".to_vec(),
            true,
            4,
            vec![
                NotConnected,
                NotConnected,
                NotFound,
                AddrInUse,
                WouldBlock,
                InvalidInput
            ],
            0
        )
    );
    assert_eq!(corio::run(on_corio::datagrams), on_std);
}

#[test]
fn datagram_pairs_behave_as_std() {
    let on_std = on_std::datagram_pair();
    assert_eq!(on_std, [&b"one"[..], b"two", b"three"]);
    assert_eq!(corio::run(on_corio::datagram_pair), on_std);
}

const ECHO_BYTES: usize = 2 * 1024 * 1024;

/// 2 MB echoed over a `UnixStream`. The echo server starts reading only
/// once the ticker has ticked [`ticker::TICKS`] times since the client
/// began to send; two megabytes are far more than the socket buffers hold,
/// so the sender must still be suspended in `write_all` then: counted.
#[test]
fn two_megabytes_echo_over_a_unix_stream_while_a_ticker_ticks() {
    corio::run(|| {
        let dir = TempDir::new("echo");
        let path = dir.path("echo");
        let listener = UnixListener::bind(&path).unwrap();
        let ticker = ticker::Ticker::start();
        let before = ticker.now();
        let sending = Rc::new(Cell::new(true));
        let (ticks, still_sending) = (Arc::clone(&ticker.ticks), Rc::clone(&sending));
        let server = corio::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            ticker::wait_for_ticks(&ticks, before);
            let ticked_while_sending = still_sending.get();
            let mut buf = vec![0; 64 * 1024];
            let mut echoed = 0;
            loop {
                let n = (&stream).read(&mut buf).unwrap();
                if n == 0 {
                    break (echoed, ticked_while_sending);
                }
                (&stream).write_all(&buf[..n]).unwrap();
                echoed += n;
            }
        });
        let client = UnixStream::connect(&path).unwrap();
        let writer = client.try_clone().unwrap();
        let sent = util::pattern(3, ECHO_BYTES);
        let expected = sent.clone();
        let sender = corio::spawn(move || {
            (&writer).write_all(&sent).unwrap();
            sending.set(false);
            writer.shutdown(std::net::Shutdown::Write).unwrap();
        });
        let mut echoed = Vec::with_capacity(ECHO_BYTES);
        (&client).read_to_end(&mut echoed).unwrap();
        let during = ticker.now() - before;
        sender.join().unwrap();
        let (server_echoed, ticked_while_sending) = server.join().unwrap();
        ticker.stop();
        assert_eq!(server_echoed, ECHO_BYTES);
        assert!(echoed == expected, "the echo differs from what was sent");
        assert!(
            ticked_while_sending,
            "the client sent 2 MB before the ticker had ticked {} times: the \
             socket buffers cannot hold that, so the writes did not wait",
            ticker::TICKS
        );
        ticker::assert_ticked("UnixStream::write_all of 2 MB", 0, during);
    });
}

/// A read from one end of a `UnixStream::pair` waits until the other end
/// writes, which it does only once the ticker has ticked
/// [`ticker::TICKS`] times: the read suspended only its coroutine.
#[test]
fn a_stream_pair_read_waits_while_a_ticker_ticks() {
    corio::run(|| {
        let (mut a, b) = UnixStream::pair().unwrap();
        let ticker = ticker::Ticker::start();
        let before = ticker.now();
        let ticks = Arc::clone(&ticker.ticks);
        let writer = corio::spawn(move || {
            ticker::wait_for_ticks(&ticks, before);
            (&b).write_all(b"late").unwrap();
            b
        });
        let mut got = [0; 4];
        a.read_exact(&mut got).unwrap();
        let after = ticker.now();
        drop(writer.join().unwrap());
        ticker.stop();
        assert_eq!(&got, b"late");
        ticker::assert_ticked("UnixStream::read of a pair", before, after);
    });
}

/// As above, for a datagram from the other end of a `UnixDatagram::pair`.
#[test]
fn a_datagram_pair_recv_waits_while_a_ticker_ticks() {
    corio::run(|| {
        let (a, b) = UnixDatagram::pair().unwrap();
        let ticker = ticker::Ticker::start();
        let before = ticker.now();
        let ticks = Arc::clone(&ticker.ticks);
        let sender = corio::spawn(move || {
            ticker::wait_for_ticks(&ticks, before);
            b.send(b"late datagram").unwrap()
        });
        let mut buf = [0; 32];
        let n = a.recv(&mut buf).unwrap();
        let after = ticker.now();
        assert_eq!(sender.join().unwrap(), 13);
        ticker.stop();
        assert_eq!(&buf[..n], b"late datagram");
        ticker::assert_ticked("UnixDatagram::recv of a pair", before, after);
    });
}

#[test]
fn a_datagram_read_timeout_gives_would_block_while_a_ticker_ticks() {
    corio::run(|| {
        let (a, _b) = UnixDatagram::pair().unwrap();
        a.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
        let ticker = util::Ticker::start();
        let before = ticker.ticks();
        let err = a.recv(&mut [0; 8]).unwrap_err();
        let during = ticker.ticks() - before;
        ticker.stop();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
        assert!(err.to_string().contains("timed out"), "{err}");
        assert!(during >= 1, "the ticker never ran during the receive");
        // Still usable afterwards.
        _b.send(b"now").unwrap();
        assert_eq!(a.recv(&mut [0; 8]).unwrap(), 3);
    });
}

#[test]
fn a_connect_to_a_full_backlog_waits_for_room_while_others_run() {
    corio::run(|| {
        let dir = TempDir::new("backlog");
        let path = dir.path("sock");
        // A std listener with the smallest backlog, so connects beyond it
        // would block a thread; made a corio one to accept from.
        let std_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        // SAFETY: listen(2) takes two integers; the fd is borrowed from a
        // live listener.
        let rc = unsafe { libc::listen(std::os::fd::AsRawFd::as_raw_fd(&std_listener), 0) };
        assert_eq!(rc, 0);
        let listener = UnixListener::from_std(std_listener).unwrap();
        // Were a connect to the full backlog to block the thread, the
        // accepts below would never run and this test would hang.
        let clients: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                corio::spawn(move || UnixStream::connect(&path))
            })
            .collect();
        corio::sleep(Duration::from_millis(10)); // every client tries
        let accepted: Vec<_> = (0..4).map(|_| listener.accept().unwrap()).collect();
        let connected = clients
            .into_iter()
            .map(|c| c.join().unwrap())
            .filter(Result::is_ok)
            .count();
        assert_eq!((accepted.len(), connected), (4, 4));
    });
}

#[test]
fn a_shutdown_wakes_the_coroutines_waiting_on_the_shut_half() {
    corio::run(|| {
        let (a, _b) = UnixStream::pair().unwrap();
        let (d, _e) = UnixDatagram::pair().unwrap();
        let reader = a.try_clone().unwrap();
        let stream_reader = corio::spawn(move || (&reader).read(&mut [0; 8]));
        let receiver = d.try_clone().unwrap();
        let datagram_reader = corio::spawn(move || receiver.recv_from(&mut [0; 8]));
        corio::yield_now(); // both are waiting now
        a.shutdown(std::net::Shutdown::Read).unwrap();
        d.shutdown(std::net::Shutdown::Read).unwrap();
        // As a std thread blocked in read(2) or recv(2) gets 0 bytes.
        assert_eq!(stream_reader.join().unwrap().unwrap(), 0);
        let (n, from) = datagram_reader.join().unwrap().unwrap();
        assert_eq!((n, from.is_unnamed()), (0, true));
    });
}
