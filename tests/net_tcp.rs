//! TCP: echo under load, std-compatible errors, timeouts, half-close, and
//! running out of file descriptors.

#[path = "util/net.rs"]
mod util;

use std::cell::{Cell, RefCell};
use std::io::{self, BufRead, BufReader, BufWriter, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corio::net::{TcpListener, TcpStream};

const CLIENTS: usize = 200;
const PAYLOAD: usize = 64 * 1024;

/// One client: a writer coroutine sends `pattern(seed)` through a clone of
/// the stream while this coroutine reads the echo; every byte is checked.
fn echo_client(addr: SocketAddr, seed: usize) -> io::Result<()> {
    let stream = TcpStream::connect(addr)?;
    let writer = stream.try_clone()?;
    let sender = corio::spawn(move || -> io::Result<()> {
        (&writer).write_all(&util::pattern(seed, PAYLOAD))?;
        writer.shutdown(Shutdown::Write)
    });
    let mut echoed = Vec::with_capacity(PAYLOAD);
    (&stream).read_to_end(&mut echoed)?;
    sender.join().expect("the writer coroutine panicked")?;
    assert!(
        echoed == util::pattern(seed, PAYLOAD),
        "client {seed}: the echo differs from what was sent ({} bytes back)",
        echoed.len()
    );
    Ok(())
}

#[test]
fn echo_200_coroutine_clients_64k_each() {
    let total = corio::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = util::serve_echo(listener, CLIENTS);
        let clients: Vec<_> = (0..CLIENTS)
            .map(|seed| corio::spawn(move || echo_client(addr, seed)))
            .collect();
        for c in clients {
            c.join().unwrap().unwrap();
        }
        server.join().unwrap().unwrap()
    });
    assert_eq!(total, (CLIENTS * PAYLOAD) as u64);
}

#[test]
fn echo_std_thread_clients_against_a_corio_server() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        corio::run(move || {
            let listener = TcpListener::from_std(std_listener).unwrap();
            util::serve_echo(listener, CLIENTS).join().unwrap().unwrap()
        })
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|seed| {
            std::thread::spawn(move || {
                let mut stream = std::net::TcpStream::connect(addr).unwrap();
                let data = util::pattern(seed, PAYLOAD);
                let mut echo = vec![0; 4096];
                // Lock-step chunks, so neither side's buffers can fill up.
                for chunk in data.chunks(4096) {
                    stream.write_all(chunk).unwrap();
                    stream.read_exact(&mut echo[..chunk.len()]).unwrap();
                    assert_eq!(&echo[..chunk.len()], chunk, "client {seed}: bad echo");
                }
                stream.shutdown(Shutdown::Write).unwrap();
                assert_eq!(stream.read(&mut echo).unwrap(), 0, "echo sent extra bytes");
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(server.join().unwrap(), (CLIENTS * PAYLOAD) as u64);
}

#[test]
fn bufreader_lines_over_a_corio_socket() {
    const LINES: usize = 2000;
    corio::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let writer = corio::spawn(move || {
            let mut out = BufWriter::new(&server);
            for i in 0..LINES {
                writeln!(out, "line {i} {}", "x".repeat(i % 50)).unwrap();
            }
            out.flush().unwrap();
            // Dropping `server` closes it: the reader sees end-of-file.
        });
        let mut count = 0;
        for (i, line) in BufReader::new(&client).lines().enumerate() {
            assert_eq!(line.unwrap(), format!("line {i} {}", "x".repeat(i % 50)));
            count += 1;
        }
        writer.join().unwrap();
        assert_eq!(count, LINES);
    });
}

#[test]
fn connect_to_a_closed_port_is_refused_and_the_next_address_is_tried() {
    corio::run(|| {
        let gone = TcpListener::bind("127.0.0.1:0").unwrap();
        let dead = gone.local_addr().unwrap();
        drop(gone);
        let err = TcpStream::connect(dead).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");

        // Like std, connect tries each address until one works.
        let live = TcpListener::bind("127.0.0.1:0").unwrap();
        let addrs = [dead, live.local_addr().unwrap()];
        let stream = TcpStream::connect(&addrs[..]).unwrap();
        assert_eq!(stream.peer_addr().unwrap(), addrs[1]);
    });
}

#[test]
fn peer_reset_gives_connection_reset_to_a_parked_reader() {
    corio::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let reader = corio::spawn(move || (&server).read(&mut [0; 16]));
        corio::yield_now(); // the reader parks: nothing was sent
        util::set_linger_zero(&client);
        drop(client); // sends RST
        let err = reader.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    });
}

/// A write to a connection the peer closed fails with std's error, and a
/// read after the peer's orderly close gives end of file, as std's do: on
/// std and on corio. Run in its own process with `SIGPIPE`'s default
/// action (death) restored, so a write that raised it would kill the test.
#[test]
fn writes_after_the_peer_is_gone_fail_as_std_without_sigpipe() {
    util::isolated(
        "writes_after_the_peer_is_gone_fail_as_std_without_sigpipe",
        peer_gone_body,
    );
}

/// Runs in its own process: it changes `SIGPIPE`'s disposition.
fn peer_gone_body() {
    fn check<L, S>(bind: impl Fn() -> L, accept: impl Fn(&L) -> S, addr: impl Fn(&L) -> SocketAddr)
    where
        for<'a> &'a S: Read + Write,
    {
        let listener = bind();
        let client = std::net::TcpStream::connect(addr(&listener)).unwrap();
        let server = accept(&listener);
        drop(client); // FIN: the server reads end of file
        assert_eq!((&server).read(&mut [0; 16]).unwrap(), 0);
        // The first write may be accepted (the peer then resets); a later
        // one fails, with what std gives.
        let err = (0..100)
            .find_map(|_| (&server).write(b"hello").err())
            .expect("a write to a closed connection fails");
        assert!(
            matches!(
                err.kind(),
                ErrorKind::BrokenPipe | ErrorKind::ConnectionReset
            ),
            "{err}"
        );
    }
    // SAFETY: no other thread of this process handles signals; SIG_DFL is
    // a valid disposition for SIGPIPE.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    check(
        || std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
        |l| l.accept().unwrap().0,
        |l| l.local_addr().unwrap(),
    );
    corio::run(|| {
        check(
            || TcpListener::bind("127.0.0.1:0").unwrap(),
            |l| l.accept().unwrap().0,
            |l| l.local_addr().unwrap(),
        )
    });
}

#[test]
fn read_timeout_gives_would_block_as_std_promptly_and_others_keep_running() {
    corio::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let zero = client.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
        assert_eq!(zero.kind(), ErrorKind::InvalidInput);

        // Others keep running: the ticker gets the CPU while the root waits
        // in `read` (were the thread blocked in read(2), it would run only
        // afterwards).
        let ticks = Rc::new(Cell::new(0u32));
        let ticker = {
            let ticks = ticks.clone();
            corio::spawn(move || {
                for _ in 0..5 {
                    ticks.set(ticks.get() + 1);
                    corio::yield_now();
                }
            })
        };
        // Promptly, measured against the runtime's own clock rather than
        // in seconds: a sleep of ten times the timeout, begun after the
        // read, must still be asleep when the read times out. Load delays
        // both alike; a timeout that fired late (or never) loses the race.
        let timeout = Duration::from_millis(100);
        let sentinel_woke = util::sentinel(10 * timeout);
        client.set_read_timeout(Some(timeout)).unwrap();
        let start = Instant::now();
        let err = client.read(&mut [0; 8]).unwrap_err();
        let waited = start.elapsed();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
        assert!(waited >= timeout, "timed out early, after {waited:?}");
        assert!(
            !sentinel_woke.get(),
            "timed out late, after a sleep of 10x the timeout ({waited:?})"
        );
        assert_eq!(ticks.get(), 5, "the thread was blocked during the read");
        ticker.join().unwrap();

        // The stream is still usable after a timeout.
        server.write_all(b"late").unwrap();
        let mut buf = [0; 4];
        client.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"late");
    });
}

#[test]
fn a_read_timeout_gives_would_block_while_a_ticker_ticks() {
    corio::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, _) = listener.accept().unwrap();
        client
            .set_read_timeout(Some(Duration::from_millis(30)))
            .unwrap();
        let ticker = util::Ticker::start();
        let before = ticker.ticks();
        let err = client.read(&mut [0; 8]).unwrap_err();
        let during = ticker.ticks() - before;
        ticker.stop();
        assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
        assert!(err.to_string().contains("timed out"), "{err}");
        // The ticker's first 1 ms deadline precedes the read's 30 ms one,
        // so it ticks before the read returns unless the thread blocked.
        assert!(during >= 1, "the ticker never ran during the read");
    });
}

#[test]
fn connect_timeout_times_out_when_the_accept_queue_is_full() {
    corio::run(|| {
        // A std listener with the smallest backlog: its queue holds one
        // connection, and further SYNs are dropped, so connects hang.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        // SAFETY: listen(2) takes two integers; the fd is borrowed from a
        // live listener.
        assert_eq!(unsafe { libc::listen(listener.as_raw_fd(), 0) }, 0);
        let addr = listener.local_addr().unwrap();
        let timeout = Duration::from_millis(100);
        let mut queued = Vec::new();
        let err = loop {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => queued.push(stream),
                Err(e) => break e,
            }
            assert!(queued.len() < 16, "the accept queue never filled up");
        };
        assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
        assert!(err.to_string().contains("within 100ms"), "{err}");
    });
}

#[test]
fn half_close_then_read_to_end_on_both_sides() {
    corio::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let request = util::pattern(7, 100_000);
        let sent = request.clone();
        let writer = corio::spawn(move || {
            client.write_all(&sent).unwrap();
            client.shutdown(Shutdown::Write).unwrap();
            // Reading still works after shutting down writing.
            let mut reply = String::new();
            client.read_to_string(&mut reply).unwrap();
            reply
        });
        let mut got = Vec::new();
        server.read_to_end(&mut got).unwrap();
        assert!(
            got == request,
            "got {} of {} bytes",
            got.len(),
            request.len()
        );
        server.write_all(b"got it").unwrap();
        drop(server);
        assert_eq!(writer.join().unwrap(), "got it");
    });
}

#[test]
fn clones_share_timeouts_and_serve_reader_and_writer_coroutines() {
    corio::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let clone = client.try_clone().unwrap();
        assert_ne!(clone.as_raw_fd(), client.as_raw_fd());
        client
            .set_write_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        assert_eq!(clone.write_timeout().unwrap(), Some(Duration::from_secs(3)));

        // The reader parks on the clone's token, the writer on the
        // original's; both must be served.
        let log = Rc::new(RefCell::new(Vec::new()));
        let reader = {
            let log = log.clone();
            corio::spawn(move || {
                let mut buf = [0; 5];
                (&clone).read_exact(&mut buf).unwrap();
                log.borrow_mut()
                    .push(String::from_utf8_lossy(&buf).into_owned());
            })
        };
        corio::yield_now();
        (&client).write_all(b"hello").unwrap();
        let mut buf = [0; 5];
        (&server).read_exact(&mut buf).unwrap();
        (&server).write_all(&buf).unwrap();
        reader.join().unwrap();
        assert_eq!(*log.borrow(), ["hello"]);
    });
}

#[test]
fn vectored_io_moves_every_slice() {
    corio::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let parts = [io::IoSlice::new(b"abc"), io::IoSlice::new(b"defg")];
        assert_eq!(client.write_vectored(&parts).unwrap(), 7);
        let (mut a, mut b) = ([0; 2], [0; 5]);
        let mut bufs = [io::IoSliceMut::new(&mut a), io::IoSliceMut::new(&mut b)];
        // One small loopback write arrives as one segment.
        assert_eq!(server.read_vectored(&mut bufs).unwrap(), 7);
        assert_eq!((&a, &b), (b"ab", b"cdefg"));
    });
}

#[test]
fn accept_reports_emfile_and_serving_resumes_once_descriptors_free_up() {
    util::isolated(
        "accept_reports_emfile_and_serving_resumes_once_descriptors_free_up",
        emfile_body,
    );
}

/// Runs in its own process: it lowers the open-file limit.
fn emfile_body() {
    corio::run(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let limit = util::count_proc_entries("fd") as u64 + 16;
        let lowered = libc::rlimit {
            rlim_cur: limit,
            rlim_max: limit,
        };
        // SAFETY: the pointer is to a live, initialised rlimit.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }, 0);

        // The server: on an accept error, note it, pause, keep accepting.
        let errors = Rc::new(RefCell::new(Vec::new()));
        let server = {
            let errors = errors.clone();
            corio::spawn(move || {
                for _ in 0..2 {
                    let stream = loop {
                        match listener.accept() {
                            Ok((stream, _)) => break stream,
                            Err(e) => {
                                errors.borrow_mut().push(e);
                                corio::sleep(Duration::from_millis(5));
                            }
                        }
                    };
                    corio::spawn(move || io::copy(&mut &stream, &mut &stream));
                }
            })
        };

        // Use up every descriptor but one, which the client takes.
        let mut fillers = Vec::new();
        let exhausted = loop {
            match std::fs::File::open("/dev/null") {
                Ok(f) => fillers.push(f),
                Err(e) => break e,
            }
        };
        assert_eq!(exhausted.raw_os_error(), Some(libc::EMFILE));
        fillers.pop();
        let mut first = TcpStream::connect(addr).unwrap();
        first
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        while errors.borrow().len() < 2 {
            corio::sleep(Duration::from_millis(1));
        }
        for e in errors.borrow().iter() {
            assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
        }

        // Free the descriptors: the queued connection is accepted and served.
        drop(fillers);
        first.write_all(b"ping").unwrap();
        let mut buf = [0; 4];
        first.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");

        // And the server keeps serving new connections.
        let mut second = TcpStream::connect(addr).unwrap();
        second
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        second.write_all(b"pong").unwrap();
        second.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong");
        server.join().unwrap();
    });
}

#[test]
fn bind_tries_each_address_until_one_binds() {
    corio::run(|| {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let busy = taken.local_addr().unwrap();
        let err = TcpListener::bind(busy).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
        let free: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let listener = TcpListener::bind(&[busy, free][..]).unwrap();
        assert_ne!(listener.local_addr().unwrap(), busy);
        let none: &[SocketAddr] = &[];
        let err = TcpListener::bind(none).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    });
}

#[test]
fn echo_over_ipv6_loopback() {
    corio::run(|| {
        let listener = match TcpListener::bind("[::1]:0") {
            Ok(l) => l,
            Err(e) => {
                eprintln!("skipping: no IPv6 loopback here ({e})");
                return;
            }
        };
        let addr = listener.local_addr().unwrap();
        assert!(addr.is_ipv6());
        let server = util::serve_echo(listener, 1);
        echo_client(addr, 42).unwrap();
        assert_eq!(server.join().unwrap().unwrap(), PAYLOAD as u64);
    });
}

#[test]
#[allow(deprecated)]
fn only_v6_reads_and_refuses_as_std_does() {
    // std and corio on the same kind of socket give the same answers.
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std_v4 = std_listener.only_v6().map_err(|e| e.kind());
    let std_set = std_listener.set_only_v6(true).map_err(|e| e.kind());
    let std_v6 = std::net::TcpListener::bind("[::1]:0").map(|l| {
        (
            l.only_v6().map_err(|e| e.kind()),
            l.set_only_v6(true).map_err(|e| e.kind()),
        )
    });
    corio::run(move || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        assert_eq!(listener.only_v6().map_err(|e| e.kind()), std_v4);
        assert_eq!(listener.set_only_v6(true).map_err(|e| e.kind()), std_set);
        if let Ok(std_v6) = std_v6 {
            let listener = TcpListener::bind("[::1]:0").unwrap();
            let corio_v6 = (
                listener.only_v6().map_err(|e| e.kind()),
                listener.set_only_v6(true).map_err(|e| e.kind()),
            );
            assert_eq!(corio_v6, std_v6);
        }
        // The duplicate descriptor it used is closed again: the socket works.
        let addr = listener.local_addr().unwrap();
        let _client = TcpStream::connect(addr).unwrap();
        listener.accept().unwrap();
    });
}

#[test]
fn addresses_resolve_as_std_resolves_them_host_names_on_the_blocking_pool() {
    use std::net::{Ipv4Addr, SocketAddrV4};
    let v4 = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8080);
    let list = [SocketAddr::V4(v4), "[::1]:9".parse().unwrap()];
    fn by_std(a: impl std::net::ToSocketAddrs) -> Result<Vec<SocketAddr>, String> {
        a.to_socket_addrs()
            .map(|i| i.collect())
            .map_err(|e| format!("{:?}: {e}", e.kind()))
    }
    // Every form std accepts, in one list for both traits.
    macro_rules! each_form {
        ($resolve:ident) => {
            [
                $resolve(v4),
                $resolve(SocketAddr::V4(v4)),
                $resolve((Ipv4Addr::LOCALHOST, 80)),
                $resolve("127.0.0.1:80"),
                $resolve(String::from("[::1]:443")),
                $resolve(("127.0.0.1", 7)),
                $resolve((String::from("::1"), 7)),
                $resolve(&list[..]),
                $resolve("localhost:80"),
                $resolve(("localhost", 80)),
                $resolve("nonsense"),
                $resolve("localhost:notaport"),
            ]
        };
    }
    let expected = each_form!(by_std);
    let got = corio::run(move || {
        fn by_corio(a: impl corio::net::ToSocketAddrs) -> Result<Vec<SocketAddr>, String> {
            a.to_socket_addrs()
                .map(|i| i.collect())
                .map_err(|e| format!("{:?}: {e}", e.kind()))
        }
        each_form!(by_corio)
    });
    assert_eq!(got, expected);
    // And a connection by host name.
    corio::run(|| {
        let listener = TcpListener::bind("localhost:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = corio::spawn(move || listener.accept().map(|_| ()));
        let stream = TcpStream::connect(("localhost", port)).unwrap();
        assert!(stream.peer_addr().unwrap().ip().is_loopback());
        server.join().unwrap().unwrap();
    });
    // The names were looked up on a pool thread, which stays a while idle.
    let pool_threads = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("corio-blocking"))
        .count();
    assert!(pool_threads > 0, "no blocking-pool thread did the lookups");
}
