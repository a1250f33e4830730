// The worker, written once. It names `thread`, `net`, `mpsc`, `Mutex` and
// `Condvar` without saying whose: the module that includes this file binds
// them to std's (OS threads) or to corio's (coroutines). Nothing else
// differs. See `main.rs`.
//
// A chat-like fan-in: a local TCP server, one handler per connection;
// `clients` producers each connect and send `lines` lines; the handlers
// push what they read into a bounded queue; one consumer counts the lines
// per client in a Mutex-protected table and, when every line is in, sets a
// done flag and signals a Condvar; the caller waits on that and returns the
// table.

/// What a run produced: lines per client (by client number), a checksum of
/// every byte, and the most OS threads the process had while it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Lines received from each client, in client order.
    pub lines_per_client: Vec<usize>,
    /// Sum of every received byte, so that a reordered or lost byte shows.
    pub checksum: u64,
    /// Most threads seen in /proc/self/status during the run.
    pub peak_os_threads: usize,
}

/// OS threads of this process now.
fn os_threads() -> usize {
    crate::usage::proc_field("/proc/self/status", "Threads").map_or(0, |threads| threads as usize)
}

/// Runs the fan-in with `clients` producers of `lines` lines each.
pub fn run(clients: usize, lines: usize) -> Outcome {
    use std::io::{BufRead, BufReader, Write};
    use std::sync::Arc;

    let listener = net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let addr = listener.local_addr().expect("a bound listener has an address");
    let (queue, received) = mpsc::sync_channel::<(usize, String)>(16);

    // The server: one handler per connection, each pushing into the queue.
    let server = thread::spawn(move || {
        let mut handlers = Vec::new();
        for _ in 0..clients {
            let (stream, _) = listener.accept().expect("accept a client");
            let queue = queue.clone();
            handlers.push(thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                let mut hello = String::new();
                reader.read_line(&mut hello).expect("read the hello line");
                let client: usize = hello.trim().parse().expect("a client number");
                for line in reader.lines() {
                    queue.send((client, line.expect("read a line"))).expect("the consumer waits");
                }
            }));
        }
        for h in handlers {
            h.join().expect("a handler does not panic");
        }
    });

    // The producers.
    let producers: Vec<_> = (0..clients)
        .map(|client| {
            thread::spawn(move || {
                let mut stream = net::TcpStream::connect(addr).expect("connect to the server");
                writeln!(stream, "{client}").expect("send the hello line");
                for n in 0..lines {
                    writeln!(stream, "client {client} says {n}").expect("send a line");
                }
            })
        })
        .collect();

    // The consumer: a Mutex-protected table and a Condvar-signalled flag.
    let table = Arc::new((Mutex::new((vec![0usize; clients], 0u64, false)), Condvar::new()));
    let consumer = {
        let table = table.clone();
        thread::spawn(move || {
            let mut peak = os_threads();
            for (seen, (client, line)) in received.iter().enumerate() {
                let (state, done) = &*table;
                let mut state = state.lock().expect("nobody panics holding the table");
                state.0[client] += 1;
                state.1 += line.bytes().map(u64::from).sum::<u64>();
                if seen % 64 == 0 {
                    peak = peak.max(os_threads());
                }
                if seen + 1 == clients * lines {
                    state.2 = true;
                    done.notify_all();
                }
            }
            peak
        })
    };

    let (state, done) = &*table;
    let finished = done
        .wait_while(state.lock().expect("nobody panics holding the table"), |s| !s.2)
        .expect("nobody panics holding the table");
    let (lines_per_client, checksum) = (finished.0.clone(), finished.1);
    drop(finished);
    for p in producers {
        p.join().expect("a producer does not panic");
    }
    server.join().expect("the server does not panic");
    let peak_os_threads = consumer.join().expect("the consumer does not panic");
    Outcome {
        lines_per_client,
        checksum,
        peak_os_threads,
    }
}
