//! Huge durations mean "no deadline", as in std: `Duration::MAX` as a sleep,
//! a read or write timeout, or a connect timeout never panics.
//!
//! The socket cases run the same body on std's sockets and threads too.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

#[test]
fn sleep_of_duration_max_sleeps_forever_instead_of_panicking() {
    let mut rt = corio::Runtime::new().unwrap();
    let sleeper = rt.block_on(|| {
        let sleeper = corio::spawn(|| corio::sleep(Duration::MAX));
        for _ in 0..3 {
            corio::yield_now();
        }
        corio::sleep(Duration::from_millis(5)); // let a timer poll happen
        assert!(!sleeper.is_finished(), "still asleep, not panicked");
        sleeper
    });
    drop(rt);
    let payload = sleeper.join().unwrap_err();
    let message = util::panic_text(&*payload);
    assert!(message.contains("runtime was dropped"), "{message}");
}

#[test]
fn a_coroutine_asleep_forever_is_named_in_the_deadlock_report() {
    let message = util::panic_text(
        &*catch_unwind(|| {
            corio::run(|| {
                let sleeper = corio::task::Builder::new()
                    .name("dreamer".into())
                    .spawn(|| corio::sleep(Duration::MAX))
                    .unwrap();
                sleeper.join().unwrap();
            })
        })
        .unwrap_err(),
    );
    assert!(message.contains("deadlock"), "{message}");
    assert!(message.contains("'dreamer': sleeping forever"), "{message}");
}

#[test]
fn sleep_until_far_future_instants_and_huge_durations_do_not_overflow() {
    corio::run(|| {
        // Large, but an `Instant` holds it: a timer that is never due.
        let h = corio::spawn(|| corio::sleep(Duration::from_secs(u64::MAX / 4)));
        corio::yield_now();
        assert!(!h.is_finished());
    });
}

/// The socket cases, written against whichever `net` and `spawn` they get.
macro_rules! socket_cases {
    ($net:ident, $spawn:path) => {
        /// A read with a `Duration::MAX` timeout: data already there is
        /// read at once; data that comes later is waited for. Also returns
        /// what `read_timeout` reports afterwards.
        pub fn read_with_max_timeout() -> (Vec<u8>, Option<Duration>) {
            let listener = $net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let mut client = $net::TcpStream::connect(addr).unwrap();
            let (mut server, _) = listener.accept().unwrap();
            server.set_read_timeout(Some(Duration::MAX)).unwrap();
            server.set_write_timeout(Some(Duration::MAX)).unwrap();
            let reported = server.read_timeout().unwrap();
            client.write_all(b"now").unwrap();
            let mut got = vec![0; 3];
            server.read_exact(&mut got).unwrap();
            let writer = $spawn(move || {
                client.write_all(b" later").unwrap();
                client
            });
            let mut later = vec![0; 6];
            server.read_exact(&mut later).unwrap();
            server.write_all(b"!").unwrap();
            drop(writer);
            got.extend(later);
            (got, reported)
        }

        /// `connect_timeout` with `Duration::MAX` to a closed port.
        pub fn connect_max_to_a_closed_port() -> ErrorKind {
            let listener = $net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            drop(listener);
            $net::TcpStream::connect_timeout(&addr, Duration::MAX)
                .unwrap_err()
                .kind()
        }

        /// A UDP receive with a `Duration::MAX` timeout and a datagram there.
        pub fn udp_recv_with_max_timeout() -> Vec<u8> {
            let a = $net::UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = $net::UdpSocket::bind("127.0.0.1:0").unwrap();
            b.set_read_timeout(Some(Duration::MAX)).unwrap();
            a.send_to(b"dgram", b.local_addr().unwrap()).unwrap();
            let mut buf = [0; 16];
            let (n, _) = b.recv_from(&mut buf).unwrap();
            buf[..n].to_vec()
        }
    };
}

mod on_corio {
    use super::*;
    use corio::net;
    socket_cases!(net, corio::spawn);
}

mod on_std {
    use super::*;
    use std::net;
    socket_cases!(net, std::thread::spawn);
}

#[test]
fn duration_max_socket_timeouts_mean_no_limit_as_on_std() {
    let on_std = (
        on_std::read_with_max_timeout(),
        on_std::connect_max_to_a_closed_port(),
        on_std::udp_recv_with_max_timeout(),
    );
    let on_corio = corio::run(|| {
        (
            on_corio::read_with_max_timeout(),
            on_corio::connect_max_to_a_closed_port(),
            on_corio::udp_recv_with_max_timeout(),
        )
    });
    assert_eq!(on_std.0.0, b"now later");
    assert_eq!(on_std.1, ErrorKind::ConnectionRefused);
    assert_eq!(on_std.2, b"dgram");
    assert_eq!(on_corio, on_std);
}

#[test]
fn a_sleep_that_cannot_overflow_still_sleeps() {
    // The fix must not turn long sleeps into no sleep at all.
    let result = catch_unwind(AssertUnwindSafe(|| {
        corio::run(|| {
            let start = std::time::Instant::now();
            corio::sleep(Duration::from_millis(20));
            start.elapsed()
        })
    }));
    assert!(result.unwrap() >= Duration::from_millis(20));
}
