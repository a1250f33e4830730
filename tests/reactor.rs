//! The reactor, timers and channels: who gets woken, in what order, and
//! what happens when nobody can be.

#[path = "util/net.rs"]
mod util;

use std::cell::{Cell, RefCell};
use std::io::{ErrorKind, Read, Write};
use std::panic;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corio::Runtime;
use corio::net::{TcpListener, TcpStream};
use corio::sync::{TryRecvError, channel};

#[test]
fn sleeps_fire_in_deadline_order_and_overlap() {
    let millis = [50u64, 10, 40, 20, 30];
    let sum = Duration::from_millis(millis.iter().sum());
    let (log, elapsed, sum_elapsed) = corio::run(move || {
        let log = Rc::new(RefCell::new(Vec::new()));
        let start = Instant::now();
        let sleepers: Vec<_> = millis
            .iter()
            .map(|&ms| {
                let log = log.clone();
                corio::spawn(move || {
                    log.borrow_mut().push(format!("start {ms}"));
                    corio::sleep(Duration::from_millis(ms));
                    log.borrow_mut().push(format!("end {ms}"));
                })
            })
            .collect();
        let sum_elapsed = util::sentinel(sum);
        for s in sleepers {
            s.join().unwrap();
        }
        (
            Rc::try_unwrap(log).unwrap().into_inner(),
            start.elapsed(),
            sum_elapsed.get(),
        )
    });
    // All five began before any ended (they overlap), and they ended
    // shortest first.
    let expected: Vec<String> = millis
        .iter()
        .map(|ms| format!("start {ms}"))
        .chain([10, 20, 30, 40, 50].iter().map(|ms| format!("end {ms}")))
        .collect();
    assert_eq!(log, expected);
    assert!(elapsed >= Duration::from_millis(50), "{elapsed:?}");
    // Together they took less than a sleep of their sum, begun after them.
    assert!(
        !sum_elapsed,
        "the sleeps ran one after another: {elapsed:?}"
    );
}

#[test]
fn equal_deadlines_fire_in_the_order_they_were_set() {
    let order = corio::run(|| {
        let order = Rc::new(RefCell::new(Vec::new()));
        let deadline = Instant::now() + Duration::from_millis(20);
        let sleepers: Vec<_> = (0..10)
            .map(|i| {
                let order = order.clone();
                corio::spawn(move || {
                    corio::sleep_until(deadline);
                    order.borrow_mut().push(i);
                })
            })
            .collect();
        for s in sleepers {
            s.join().unwrap();
        }
        order.take()
    });
    assert_eq!(order, (0..10).collect::<Vec<_>>());
}

#[test]
fn a_thousand_sleepers_of_100ms_all_wake_before_one_sleeper_of_1s() {
    let (woke, elapsed, second_elapsed) = corio::run(|| {
        let woke = Rc::new(Cell::new(0));
        let start = Instant::now();
        let sleepers: Vec<_> = (0..1000)
            .map(|_| {
                let woke = woke.clone();
                corio::spawn(move || {
                    corio::sleep(Duration::from_millis(100));
                    woke.set(woke.get() + 1);
                })
            })
            .collect();
        let second_elapsed = util::sentinel(Duration::from_secs(1));
        for s in sleepers {
            s.join().unwrap();
        }
        (woke.get(), start.elapsed(), second_elapsed.get())
    });
    assert_eq!(woke, 1000);
    assert!(elapsed >= Duration::from_millis(100), "{elapsed:?}");
    // They overlap: all of them took about one sleep, less than a sleep of
    // ten times as long that began after them.
    assert!(!second_elapsed, "not overlapped: {elapsed:?}");
}

#[test]
fn five_hundred_parked_readers_use_no_extra_os_threads() {
    util::isolated(
        "five_hundred_parked_readers_use_no_extra_os_threads",
        parked_readers_body,
    );
}

/// Runs in its own process, so no other test's threads come and go.
fn parked_readers_body() {
    const READERS: usize = 500;
    let (threads_before, threads_while, got) = corio::run(|| {
        // Counted inside the runtime: its stall watchdog thread (one per
        // process, it runs no task) is there from the start.
        let threads_before = util::count_proc_entries("task");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut clients = Vec::new();
        let mut readers = Vec::new();
        for _ in 0..READERS {
            clients.push(TcpStream::connect(addr).unwrap());
            let (server, _) = listener.accept().unwrap();
            readers.push(corio::spawn(move || {
                let mut byte = [0];
                (&server).read_exact(&mut byte).map(|()| byte[0])
            }));
        }
        corio::yield_now(); // every reader runs and parks
        let threads_while = util::count_proc_entries("task");
        for (i, client) in clients.iter().enumerate() {
            (&*client).write_all(&[i as u8]).unwrap();
        }
        let got: Vec<u8> = readers
            .into_iter()
            .map(|r| r.join().unwrap().unwrap())
            .collect();
        (threads_before, threads_while, got)
    });
    assert_eq!(
        threads_while, threads_before,
        "parking on reads started OS threads"
    );
    assert_eq!(got, (0..READERS).map(|i| i as u8).collect::<Vec<_>>());
}

#[test]
fn channel_keeps_each_producers_order_across_100k_messages() {
    const PRODUCERS: usize = 4;
    const MESSAGES: usize = 100_000;
    let seen = corio::run(|| {
        let (tx, rx) = channel();
        for p in 0..PRODUCERS {
            let tx = tx.clone();
            corio::spawn(move || {
                for seq in 0..MESSAGES / PRODUCERS {
                    tx.send((p, seq)).unwrap();
                    if seq % (7 + p) == 0 {
                        corio::yield_now(); // interleave the producers
                    }
                }
            });
        }
        drop(tx);
        let mut next = [0usize; PRODUCERS];
        let mut interleaved = false;
        let mut last = None;
        while let Ok((p, seq)) = rx.recv() {
            assert_eq!(seq, next[p], "producer {p}: message out of order");
            next[p] += 1;
            interleaved |= last.is_some_and(|l| l != p);
            last = Some(p);
        }
        assert!(interleaved, "the producers never interleaved: a weak test");
        next
    });
    assert_eq!(seen, [MESSAGES / PRODUCERS; PRODUCERS]);
}

#[test]
fn closed_channel_send_returns_the_value_and_recv_drains_then_errors() {
    corio::run(|| {
        // Receiver gone: the value comes back.
        let (tx, rx) = channel();
        drop(rx);
        assert_eq!(tx.send(String::from("kept")).unwrap_err().0, "kept");

        // Senders gone: what was sent is still received, then Err. The
        // receiver is parked when the last sender leaves and must wake.
        let (tx, rx) = channel();
        let receiver = corio::spawn(move || {
            let mut got = Vec::new();
            while let Ok(v) = rx.recv() {
                got.push(v);
            }
            assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
            got
        });
        corio::yield_now(); // the receiver parks on the empty channel
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        drop(tx);
        assert_eq!(receiver.join().unwrap(), [1, 2]);
    });
}

#[test]
fn deadlock_is_reported_with_who_is_blocked_on_what() {
    let payload = panic::catch_unwind(|| {
        corio::run(|| {
            let child = corio::spawn(corio::thread::park);
            // The root waits for the child, which waits for an unpark only
            // the root could give: nobody can ever move. (A channel receive
            // would not do: its senders may be on other threads.)
            let _ = child.join();
        })
    })
    .unwrap_err();
    let message = payload
        .downcast_ref::<String>()
        .expect("the deadlock panic carries a formatted message");
    assert!(message.contains("corio deadlock"), "{message}");
    assert!(message.contains("2 coroutine(s) are blocked"), "{message}");
    assert!(
        message.contains("(the root passed to block_on): joining task 2"),
        "{message}"
    );
    assert!(
        message.contains("task 2: parked (thread::park) until unparked"),
        "{message}"
    );
}

/// A connected loopback pair (client, server); call inside a runtime.
fn connected_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// A coroutine that waits for one byte on `server`, then sets `flag` and
/// returns the runtime's switch count at that moment.
fn spawn_flagging_reader(server: TcpStream, flag: Rc<Cell<bool>>) -> corio::JoinHandle<u64> {
    corio::spawn(move || {
        (&server).read_exact(&mut [0]).unwrap();
        flag.set(true);
        corio::stats().switches
    })
}

#[test]
fn io_is_served_within_bounded_ticks_while_others_only_yield() {
    const YIELDERS: u64 = 8;
    const INTERVAL: u32 = 61;
    let mut rt = Runtime::builder().event_interval(INTERVAL).build().unwrap();
    let (written_at, served_at) = rt.block_on(|| {
        let (client, server) = connected_pair();
        let stop = Rc::new(Cell::new(false));
        let reader = spawn_flagging_reader(server, stop.clone());
        corio::yield_now(); // the reader parks
        for _ in 0..YIELDERS {
            let stop = stop.clone();
            // Never block; give up after a while so that starvation fails
            // the assertion below instead of hanging the test.
            corio::spawn(move || {
                for _ in 0..200_000 {
                    if stop.get() {
                        return;
                    }
                    corio::yield_now();
                }
            });
        }
        corio::yield_now(); // the yielders start spinning
        let written_at = corio::stats().switches;
        (&client).write_all(b"!").unwrap();
        (written_at, reader.join().unwrap())
    });
    let waited = served_at - written_at;
    let bound = 2 * u64::from(INTERVAL) * YIELDERS;
    assert!(
        waited <= bound,
        "the ready reader waited {waited} switches (bound {bound})"
    );
}

#[test]
fn io_is_served_while_a_lone_coroutine_spins_on_yield_now() {
    // With nothing else runnable, each yield returns at once without a
    // resume; those yields must still count as ticks, or the reader below
    // would never be polled awake while the root spins.
    const INTERVAL: u32 = 16;
    let mut rt = Runtime::builder().event_interval(INTERVAL).build().unwrap();
    let spins = rt.block_on(|| {
        let (client, server) = connected_pair();
        let done = Rc::new(Cell::new(false));
        let reader = spawn_flagging_reader(server, done.clone());
        corio::yield_now(); // the reader parks: the root is alone now
        (&client).write_all(b"!").unwrap();
        let mut spins = 0u64;
        while !done.get() && spins < 1_000_000 {
            corio::yield_now();
            spins += 1;
        }
        reader.join().unwrap();
        spins
    });
    assert!(
        spins <= 2 * u64::from(INTERVAL) + 1,
        "the reader was served after {spins} lone yields (interval {INTERVAL})"
    );
}

#[test]
fn a_socket_used_from_another_runtime_gives_a_clear_error() {
    let mut first = Runtime::new().unwrap();
    let (listener, mut client) = first.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        (listener, client)
    });
    let mut second = Runtime::new().unwrap();
    let err = second.block_on(move || client.read(&mut [0; 8]).unwrap_err());
    assert_eq!(err.kind(), ErrorKind::Other);
    assert!(
        err.to_string().contains("created by another corio runtime"),
        "{err}"
    );
    drop(listener);
}

#[test]
fn two_acceptors_on_one_listener_both_get_a_connection() {
    // Regression: the reactor kept one waiter per direction, so the first
    // acceptor was forgotten and a false deadlock was reported.
    corio::run(|| {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let acceptors: Vec<_> = (0..2)
            .map(|_| {
                let listener = Rc::clone(&listener);
                corio::spawn(move || listener.accept().map(|(s, _)| s.peer_addr().unwrap()))
            })
            .collect();
        corio::yield_now(); // both park in accept
        let a = TcpStream::connect(addr).unwrap();
        corio::sleep(Duration::from_millis(10));
        let b = TcpStream::connect(addr).unwrap();
        let mut peers: Vec<_> = acceptors
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect();
        peers.sort();
        let mut expected = vec![a.local_addr().unwrap(), b.local_addr().unwrap()];
        expected.sort();
        assert_eq!(peers, expected);
    });
}

#[test]
fn two_readers_of_one_stream_are_both_served() {
    corio::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let server = Rc::new(listener.accept().unwrap().0);
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let server = Rc::clone(&server);
                corio::spawn(move || {
                    let mut byte = [0];
                    (&*server).read_exact(&mut byte).unwrap();
                    byte[0]
                })
            })
            .collect();
        corio::yield_now(); // both park on the same token
        (&client).write_all(b"a").unwrap();
        corio::sleep(Duration::from_millis(10));
        (&client).write_all(b"b").unwrap();
        let mut got: Vec<u8> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        got.sort();
        assert_eq!(got, b"ab");
    });
}

/// `readers` coroutines wait on one UDP socket; `datagrams` arrive one at a
/// time, each after every reader has parked again. Returns the switches
/// the runtime made while they arrived.
fn shared_socket_switches(readers: usize, datagrams: usize) -> u64 {
    let mut rt = Runtime::new().unwrap();
    rt.block_on(|| {
        let socket = Rc::new(corio::net::UdpSocket::bind("127.0.0.1:0").unwrap());
        let addr = socket.local_addr().unwrap();
        let got = Rc::new(Cell::new(0));
        let all: Vec<_> = (0..readers)
            .map(|_| {
                let (socket, got) = (socket.clone(), got.clone());
                corio::spawn(move || {
                    let mut buf = [0; 16];
                    // Each reader takes datagrams until the "stop" one.
                    loop {
                        let n = socket.recv(&mut buf).unwrap();
                        got.set(got.get() + 1);
                        if &buf[..n] == b"stop" {
                            return;
                        }
                    }
                })
            })
            .collect();
        corio::yield_now(); // every reader has parked
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = corio::stats().switches;
        for i in 0..datagrams {
            sender.send_to(b"ping", addr).unwrap();
            // Until somebody took it: the poll wakes a reader.
            while got.get() == i {
                corio::sleep(Duration::from_micros(20));
            }
        }
        assert_eq!(got.get(), datagrams);
        let switches = corio::stats().switches - before;
        // One at a time: a burst could overflow the receive buffer.
        for _ in 0..readers {
            let before = got.get();
            sender.send_to(b"stop", addr).unwrap();
            while got.get() == before {
                corio::sleep(Duration::from_micros(20));
            }
        }
        for r in all {
            r.join().unwrap();
        }
        switches
    })
}

#[test]
fn a_datagram_wakes_one_of_many_readers_not_all_of_them() {
    // With 200 readers, waking all of them for each of 50 datagrams would
    // cost 10,000 switches; one (and the one it passes readiness on to)
    // costs a few per datagram.
    let few = shared_socket_switches(1, 50);
    let many = shared_socket_switches(200, 50);
    assert!(
        many < few + 50 * 4,
        "50 datagrams cost {many} switches with 200 readers, {few} with 1"
    );
}

/// Readers of one socket are served in the order they began to wait, and
/// one that leaves the line (cancelled, at its front or in its middle) is
/// skipped: each
/// datagram goes to the next reader still waiting.
#[test]
fn readers_of_one_socket_are_served_in_order_and_a_cancelled_one_is_skipped() {
    corio::run(|| {
        let socket = Rc::new(corio::net::UdpSocket::bind("127.0.0.1:0").unwrap());
        let addr = socket.local_addr().unwrap();
        let readers: Vec<_> = (0..4u8)
            .map(|reader| {
                let socket = Rc::clone(&socket);
                corio::spawn(move || {
                    let mut buf = [0; 8];
                    let n = socket.recv(&mut buf).unwrap();
                    (reader, buf[..n].to_vec())
                })
            })
            .collect();
        corio::yield_now(); // all four wait, 0 first
        readers[0].cancel(); // the front leaves
        readers[2].cancel(); // and one from the middle
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        for datagram in [b"a", b"b"] {
            sender.send_to(datagram, addr).unwrap();
        }
        let got: Vec<_> = readers.into_iter().map(|r| r.join().ok()).collect();
        assert_eq!(
            got,
            [
                None,
                Some((1, b"a".to_vec())),
                None,
                Some((3, b"b".to_vec()))
            ]
        );
    });
}

/// A socket closed while a `try_clone` keeps its connection open is taken
/// out of epoll: the connection's later events must not reach the next
/// socket, which gets the closed one's token, and wake its reader for
/// nothing. (A socket closed with no clone alive leaves epoll by being
/// closed.)
#[test]
fn a_socket_closed_while_its_clone_lives_sends_no_events_to_its_tokens_next_owner() {
    corio::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut peer = std::net::TcpStream::connect(addr).unwrap();
        let (first, _) = listener.accept().unwrap();
        let clone = first.try_clone().unwrap();
        drop(first); // the clone keeps the connection open
        // Registered next, so it takes the token `first` had.
        let idle_peer = std::net::TcpStream::connect(addr).unwrap();
        let (idle, _) = listener.accept().unwrap();
        let reader = corio::spawn(move || (&idle).read(&mut [0; 8]).unwrap());
        corio::yield_now(); // the reader waits: nothing comes on its socket
        let mut byte = [0];
        for _ in 0..20 {
            peer.write_all(b"x").unwrap();
            // Sleep, so the runtime polls and sees the connection's edge.
            corio::sleep(Duration::from_millis(1));
            (&clone).read_exact(&mut byte).unwrap();
        }
        let switches = reader.metrics().switches;
        drop(idle_peer); // the reader reads end of file
        assert_eq!(reader.join().unwrap(), 0);
        assert_eq!(
            switches, 1,
            "the idle reader was switched in {switches} times: the closed socket's events reached it"
        );
    });
}

#[test]
fn several_acceptors_share_the_connections_and_all_are_served() {
    const ACCEPTORS: usize = 8;
    const CONNECTIONS: usize = 64;
    let mut rt = Runtime::new().unwrap();
    let per_acceptor = rt.block_on(|| {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let served = Rc::new(Cell::new(0));
        let acceptors: Vec<_> = (0..ACCEPTORS)
            .map(|_| {
                let (listener, served) = (listener.clone(), served.clone());
                corio::spawn(move || {
                    let mut mine = 0;
                    while served.get() < CONNECTIONS {
                        let (mut s, _) = listener.accept().unwrap();
                        let mut byte = [0];
                        s.read_exact(&mut byte).unwrap();
                        if byte[0] == b'q' {
                            break;
                        }
                        s.write_all(&byte).unwrap();
                        served.set(served.get() + 1);
                        mine += 1;
                    }
                    mine
                })
            })
            .collect();
        for i in 0..CONNECTIONS {
            let mut c = TcpStream::connect(addr).unwrap();
            c.write_all(&[i as u8]).unwrap();
            let mut back = [0];
            c.read_exact(&mut back).unwrap();
            assert_eq!(back[0], i as u8);
        }
        // Wake the acceptors still waiting: one quitting connection each.
        let quitters: Vec<_> = (0..ACCEPTORS)
            .map(|_| {
                let mut c = TcpStream::connect(addr).unwrap();
                c.write_all(b"q").unwrap();
                c
            })
            .collect();
        let per: Vec<usize> = acceptors.into_iter().map(|a| a.join().unwrap()).collect();
        drop(quitters);
        per
    });
    assert_eq!(per_acceptor.iter().sum::<usize>(), CONNECTIONS);
}

#[test]
fn data_and_hang_up_reported_in_one_event_still_end_in_end_of_file() {
    // The writer sends and closes before the reader runs: one readable
    // event carries both. The reader drains the data with a short read,
    // and its next read must still see end of file, not wait forever.
    corio::run(|| {
        let (mut a, mut b) = connected_pair();
        a.write_all(b"last words").unwrap();
        drop(a);
        corio::sleep(Duration::from_millis(2)); // the event is polled
        let mut buf = [0; 64];
        assert_eq!(b.read(&mut buf).unwrap(), 10);
        assert_eq!(b.read(&mut buf).unwrap(), 0, "end of file");
    });
}
