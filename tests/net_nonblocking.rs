//! `set_nonblocking` on corio's sockets against std's: the same body on
//! both, the same answers.

use std::io::{ErrorKind, Read, Write};

macro_rules! cases {
    ($net:path) => {
        use $net as net;

        /// What each step gave, as error kinds or byte counts.
        pub fn nonblocking_mode() -> Vec<String> {
            let mut seen = Vec::new();
            let show = |r: std::io::Result<usize>| match r {
                Ok(n) => format!("ok {n}"),
                Err(e) => format!("{:?}", e.kind()),
            };
            let listener = net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.set_nonblocking(true).unwrap();
            seen.push(show(listener.accept().map(|_| 0)));
            let clone = listener.try_clone().unwrap();
            seen.push(show(clone.accept().map(|_| 0))); // the clone shares the mode
            let mut client = net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            // The connection arrives; a non-blocking accept may still be
            // early, so retry a bounded number of times.
            let mut server = None;
            for _ in 0..1000 {
                match listener.accept() {
                    Ok((s, _)) => {
                        server = Some(s);
                        break;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(std::time::Duration::from_millis(1))
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            let mut server = server.expect("the connection is accepted");
            server.set_nonblocking(true).unwrap();
            let mut buf = [0; 8];
            seen.push(show(server.read(&mut buf)));
            client.write_all(b"hi").unwrap();
            let mut got = show(server.read(&mut buf));
            for _ in 0..1000 {
                if got != "WouldBlock" {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(1));
                got = show(server.read(&mut buf));
            }
            seen.push(got);
            server.set_nonblocking(false).unwrap();
            client.write_all(b"!").unwrap();
            seen.push(show(server.read(&mut buf))); // blocking again: waits for it
            let udp = net::UdpSocket::bind("127.0.0.1:0").unwrap();
            udp.set_nonblocking(true).unwrap();
            seen.push(show(udp.recv_from(&mut buf).map(|(n, _)| n)));
            seen
        }
    };
}

mod on_std {
    use super::*;
    cases!(std::net);
}

mod on_corio {
    use super::*;
    cases!(corio::net);
}

#[test]
fn set_nonblocking_behaves_as_std() {
    let on_std = on_std::nonblocking_mode();
    assert_eq!(
        on_std,
        [
            "WouldBlock",
            "WouldBlock",
            "WouldBlock",
            "ok 2",
            "ok 1",
            "WouldBlock"
        ]
    );
    assert_eq!(corio::run(on_corio::nonblocking_mode), on_std);
}
