//! What a socket shares with its `try_clone`s (blocking mode, shutdowns,
//! read and write timeouts), case by case on std and on corio, for TCP and
//! Unix streams.
//!
//! corio keeps a flag beside each socket that lets a read skip the shared
//! state while the socket has no clone and all of it is at its defaults;
//! these cases fail if that flag is ever true when it must not be: a read
//! would wait where std's answers at once (a rescuer thread ends such a
//! wait and the case reports it; a bound on the datagram case), or would
//! ignore a clone's change.

mod tcp_on_std {
    use std::net::{TcpListener, TcpStream as Stream};
    use std::thread;

    fn pair() -> (Stream, Stream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = Stream::connect(listener.local_addr().unwrap()).unwrap();
        (listener.accept().unwrap().0, client)
    }

    include!("std_shaped/stream_clone_cases.rs");
}

mod tcp_on_corio {
    use corio::net::{TcpListener, TcpStream as Stream};
    use corio::thread;

    fn pair() -> (Stream, Stream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = Stream::connect(listener.local_addr().unwrap()).unwrap();
        (listener.accept().unwrap().0, client)
    }

    include!("std_shaped/stream_clone_cases.rs");
}

mod unix_on_std {
    use std::os::unix::net::UnixStream as Stream;
    use std::thread;

    fn pair() -> (Stream, Stream) {
        Stream::pair().unwrap()
    }

    include!("std_shaped/stream_clone_cases.rs");
}

mod unix_on_corio {
    use corio::os::unix::net::UnixStream as Stream;
    use corio::thread;

    fn pair() -> (Stream, Stream) {
        Stream::pair().unwrap()
    }

    include!("std_shaped/stream_clone_cases.rs");
}

/// One `#[test]` per case and flavour: on std's sockets and threads, and
/// on corio's inside a runtime.
macro_rules! every_flavour {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[test]
            fn tcp_std() {
                super::tcp_on_std::$case();
            }

            #[test]
            fn tcp_corio() {
                corio::run(super::tcp_on_corio::$case);
            }

            #[test]
            fn unix_std() {
                super::unix_on_std::$case();
            }

            #[test]
            fn unix_corio() {
                corio::run(super::unix_on_corio::$case);
            }
        }
    )*};
}

every_flavour!(
    nonblocking_set_on_one_handle_is_seen_by_the_other,
    a_read_timeout_set_on_one_handle_bounds_the_others_read,
    a_read_shutdown_through_one_handle_ends_the_others_reads,
    a_handle_back_at_its_defaults_still_sees_its_clones_changes,
    a_timeout_set_then_cleared_waits_without_limit_again,
);

/// The datagram case, written against whichever `net` it gets:
/// `shutdown(Read)` through one handle of a Unix datagram socket, then a
/// receive through the other gives 0 bytes at once, as std's blocking
/// receive does (the kernel tells corio's non-blocking one `EAGAIN`, which
/// corio turns into 0 bytes only if it sees the shutdown). Returns what
/// the receive gave, for the change made on the clone and then on the
/// original. A receive that misses the shutdown waits for good (the shut
/// half accepts no datagram that could end it), hence the test's bound.
macro_rules! datagram_case {
    ($net:path) => {
        pub fn read_shutdown_through_one_handle() -> Vec<Result<usize, std::io::ErrorKind>> {
            use $net as net;
            let mut seen = Vec::new();
            for on_clone in [true, false] {
                let (a, b) = net::UnixDatagram::pair().unwrap();
                b.send(b"1").unwrap();
                assert_eq!(a.recv(&mut [0; 8]).unwrap(), 1);
                let clone = a.try_clone().unwrap();
                b.send(b"2").unwrap();
                assert_eq!(clone.recv(&mut [0; 8]).unwrap(), 1);
                let (changed, reader) = if on_clone { (&clone, &a) } else { (&a, &clone) };
                changed.shutdown(std::net::Shutdown::Read).unwrap();
                seen.push(reader.recv(&mut [0; 8]).map_err(|e| e.kind()));
            }
            seen
        }
    };
}

mod datagram_on_std {
    datagram_case!(std::os::unix::net);
}

mod datagram_on_corio {
    datagram_case!(corio::os::unix::net);
}

/// Runs `case` on a thread of its own and waits for its answer at most a
/// minute: a generous bound for what should take microseconds, so that a
/// receive that waits for good fails the test instead of hanging it.
fn within_a_minute<T: Send + 'static>(case: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(case()));
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("the receive did not return: it missed the shutdown made through the other handle")
}

#[test]
fn a_datagram_read_shutdown_through_one_handle_ends_the_others_receives() {
    let on_std = within_a_minute(datagram_on_std::read_shutdown_through_one_handle);
    assert_eq!(on_std, [Ok(0), Ok(0)]);
    let on_corio =
        within_a_minute(|| corio::run(datagram_on_corio::read_shutdown_through_one_handle));
    assert_eq!(on_corio, on_std);
}

/// The stream case's counterpart of the datagram one. A TCP stream's
/// `shutdown(Read)` also sends its epoll entry a readiness edge, so a read
/// that missed the shared state would still end with 0 bytes, one wait
/// later; the std-shaped case cannot tell. Here the reader's own switch
/// count can: its read readiness is known to be clear (a short read
/// drained the socket, and no edge has come since), the shutdown is made
/// through the other handle in the same slice, and the read must return
/// end-of-file in that slice, without waiting for the edge.
#[test]
fn a_stream_read_after_a_clones_shutdown_does_not_wait_for_the_edge() {
    use std::io::{Read, Write};
    corio::run(|| {
        for on_clone in [true, false] {
            let listener = corio::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let peer = corio::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (a, _) = listener.accept().unwrap();
            (&peer).write_all(b"1").unwrap();
            // Lets the reactor take the byte's readiness edge now, so that
            // none is pending once the short read below has cleared the
            // read readiness.
            corio::sleep(std::time::Duration::from_millis(20));
            assert_eq!((&a).read(&mut [0; 8]).unwrap(), 1);
            let clone = a.try_clone().unwrap();
            let (changed, reader) = if on_clone { (clone, a) } else { (a, clone) };
            let read = corio::spawn(move || {
                changed.shutdown(std::net::Shutdown::Read).unwrap();
                let n = (&reader).read(&mut [0; 8]).unwrap();
                (n, changed, reader)
            });
            let metrics = loop {
                if read.is_finished() {
                    break read.metrics();
                }
                corio::yield_now();
            };
            let (n, ..) = read.join().unwrap();
            assert_eq!(n, 0, "shut down on the clone: {on_clone}");
            assert_eq!(
                metrics.switches, 1,
                "the read after a shutdown through the other handle waited (shut down on the clone: {on_clone})"
            );
        }
    });
}
