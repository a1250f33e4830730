//! UDP: round trips between coroutines, connected sockets, timeouts, peeks,
//! and std's error kinds.

#[path = "util/net.rs"]
mod util;

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use corio::net::UdpSocket;

#[test]
fn udp_round_trip_100_clients_against_one_echo_coroutine() {
    const CLIENTS: usize = 100;
    const ROUNDS: usize = 20;
    let echoed = corio::run(|| {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = server.local_addr().unwrap();
        let echo = corio::spawn(move || {
            let mut buf = [0; 1500];
            for _ in 0..CLIENTS * ROUNDS {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                server.send_to(&buf[..n], from).unwrap();
            }
            CLIENTS * ROUNDS
        });
        let clients: Vec<_> = (0..CLIENTS)
            .map(|seed| {
                corio::spawn(move || {
                    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
                    socket.connect(addr).unwrap();
                    socket
                        .set_read_timeout(Some(Duration::from_secs(5)))
                        .unwrap();
                    let mut buf = [0; 1500];
                    for round in 0..ROUNDS {
                        let msg = util::pattern(seed * ROUNDS + round, 64 + round);
                        assert_eq!(socket.send(&msg).unwrap(), msg.len());
                        let n = socket.recv(&mut buf).unwrap();
                        assert_eq!(&buf[..n], &msg[..], "client {seed} round {round}");
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
        echo.join().unwrap()
    });
    assert_eq!(echoed, 100 * 20);
}

#[test]
fn one_coroutine_receives_on_a_clone_while_another_sends() {
    corio::run(|| {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.connect(b.local_addr().unwrap()).unwrap();
        let receiver = a.try_clone().unwrap();
        let got = corio::spawn(move || {
            let mut buf = [0; 16];
            let n = receiver.recv(&mut buf).unwrap();
            buf[..n].to_vec()
        });
        corio::yield_now(); // the receiver parks on the clone
        let mut buf = [0; 16];
        a.send(b"ask").unwrap();
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"ask"[..], a.local_addr().unwrap()));
        b.send_to(b"answer", from).unwrap();
        assert_eq!(got.join().unwrap(), b"answer");
    });
}

#[test]
fn recv_timeout_gives_would_block_as_std_promptly() {
    corio::run(|| {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let timeout = Duration::from_millis(50);
        // Promptly, against the runtime's own clock rather than in seconds:
        // a sleep of ten times the timeout, begun after the receive, must
        // still be asleep when it times out. Load delays both alike.
        let sentinel_woke = util::sentinel(10 * timeout);
        socket.set_read_timeout(Some(timeout)).unwrap();
        let start = Instant::now();
        let err = socket.recv_from(&mut [0; 8]).unwrap_err();
        let waited = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
        assert!(waited >= timeout, "timed out early, after {waited:?}");
        assert!(
            !sentinel_woke.get(),
            "timed out late, after a sleep of 10x the timeout ({waited:?})"
        );
        let zero = socket.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
        assert_eq!(zero.kind(), ErrorKind::InvalidInput);
    });
}

#[test]
fn peek_from_waits_and_leaves_the_datagram_queued() {
    corio::run(|| {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b_addr = b.local_addr().unwrap();
        let peeker = corio::spawn(move || {
            let mut buf = [0; 8];
            let peeked = b.peek_from(&mut buf).unwrap(); // parks first
            let taken = b.recv_from(&mut buf).unwrap();
            (peeked, taken, buf)
        });
        corio::yield_now(); // the peeker parks
        a.send_to(b"datagram", b_addr).unwrap();
        let (peeked, taken, buf) = peeker.join().unwrap();
        assert_eq!(peeked, (8, a.local_addr().unwrap()));
        assert_eq!(peeked, taken);
        assert_eq!(&buf, b"datagram");
    });
}

#[test]
fn send_to_an_address_list_that_resolves_to_nothing_is_invalid_input() {
    corio::run(|| {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let none: &[std::net::SocketAddr] = &[];
        let err = socket.send_to(b"x", none).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert!(err.to_string().contains("no socket addresses"), "{err}");
    });
}

#[test]
fn send_to_a_closed_port_then_recv_gives_connection_refused_like_std() {
    corio::run(|| {
        let closed = UdpSocket::bind("127.0.0.1:0").unwrap();
        let dead = closed.local_addr().unwrap();
        drop(closed);
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.connect(dead).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        socket.send(b"anyone?").unwrap();
        // The ICMP "port unreachable" comes back as an error on the socket.
        let err = socket.recv(&mut [0; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    });
}

#[test]
fn ipv6_loopback_and_from_std() {
    corio::run(|| {
        let std_socket = match std::net::UdpSocket::bind("[::1]:0") {
            Ok(s) => s,
            Err(e) => {
                eprintln!("skipping: no IPv6 loopback here ({e})");
                return;
            }
        };
        let a = UdpSocket::from_std(std_socket).unwrap();
        let b = UdpSocket::bind("[::1]:0").unwrap();
        a.send_to(b"v6", b.local_addr().unwrap()).unwrap();
        let mut buf = [0; 4];
        let (n, from) = b.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"v6"[..], a.local_addr().unwrap()));
    });
}
