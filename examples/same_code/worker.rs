// The worker, written once. It names `thread`, `net`, `mpsc`, `Mutex`,
// `Condvar`, `fs`, `io`, `process` and `unix_net` without saying whose:
// the module that includes this file binds them to std's (OS threads) or
// to corio's (coroutines). Nothing else differs. See `main.rs`.
//
// A chat-like fan-in with its paperwork: a local TCP server, one handler
// per connection; `clients` producers each write their `lines` lines to a
// file of their own, read it back line by line and send it over TCP; the
// handlers push what they read into a bounded queue; one consumer counts
// the lines per client in a Mutex-protected table and, when every line is
// in, sets a done flag and signals a Condvar; the caller waits on that.
// Meanwhile each producer runs `cat` on its file as a child process,
// checks that it prints the file back, and files a receipt with an
// archivist over a Unix socket, which answers with one line.

/// What a run produced: lines per client (by client number), a checksum of
/// every byte, the bytes the archivist was told of, and the most OS threads
/// the process had while it ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Lines received from each client, in client order.
    pub lines_per_client: Vec<usize>,
    /// Sum of every received byte, so that a reordered or lost byte shows.
    pub checksum: u64,
    /// Bytes `cat` printed back, summed over the receipts the archivist
    /// took over the Unix socket.
    pub archived_bytes: u64,
    /// Most threads seen in /proc/self/status during the run.
    pub peak_os_threads: usize,
    /// Most of them seen at once that were corio's blocking-pool threads
    /// (where `fs` calls run on coroutines; none on std).
    pub peak_pool_threads: usize,
}

/// OS threads of this process now.
fn os_threads() -> usize {
    crate::usage::proc_field("/proc/self/status", "Threads").map_or(0, |threads| threads as usize)
}

/// corio's blocking-pool threads (named `corio-blocking-N`) alive now.
fn pool_threads() -> usize {
    crate::usage::threads_named("corio-blocking").unwrap_or(0)
}

/// What producer `client` sends: its lines, each ending in a newline.
fn script(client: usize, lines: usize) -> String {
    (0..lines)
        .map(|n| format!("client {client} says {n}\n"))
        .collect()
}

/// Runs the fan-in with `clients` producers of `lines` lines each.
pub fn run(clients: usize, lines: usize) -> Outcome {
    use io::{BufRead, BufReader, Write};
    use std::sync::Arc;

    // One directory per run and binding: the module path tells the two
    // inclusions of this file apart.
    let dir = std::env::temp_dir().join(format!(
        "corio-{}-{}",
        module_path!().replace("::", "-"),
        process::id()
    ));
    let _ = fs::remove_dir_all(&dir); // left by a run that was killed
    fs::create_dir_all(&dir).expect("make a scratch directory in the temp directory");
    let archive = dir.join("archive.sock");

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

    // The archivist: one receipt line in, one line back, per producer.
    let archivist = {
        let listener = unix_net::UnixListener::bind(&archive).expect("bind the archive socket");
        thread::spawn(move || {
            let mut archived = 0u64;
            for stream in listener.incoming().take(clients) {
                let mut stream = stream.expect("accept a producer");
                let mut receipt = String::new();
                BufReader::new(&mut stream)
                    .read_line(&mut receipt)
                    .expect("read a receipt");
                let (client, bytes) = receipt.trim().split_once(' ').expect("client bytes");
                archived += bytes.parse::<u64>().expect("a byte count");
                writeln!(stream, "filed {client}").expect("answer the producer");
            }
            archived
        })
    };

    // The producers.
    let producers: Vec<_> = (0..clients)
        .map(|client| {
            let (file, archive) = (dir.join(format!("client-{client}.txt")), archive.clone());
            thread::spawn(move || {
                let script = script(client, lines);
                fs::write(&file, &script).expect("write the script file");
                let mut stream = net::TcpStream::connect(addr).expect("connect to the server");
                writeln!(stream, "{client}").expect("send the hello line");
                let reader = BufReader::new(fs::File::open(&file).expect("open the script file"));
                for line in reader.lines() {
                    writeln!(stream, "{}", line.expect("read the script file")).expect("send a line");
                }
                drop(stream); // the handler sees the end

                let copy = process::Command::new("cat")
                    .arg(&file)
                    .output()
                    .expect("run cat");
                assert!(copy.status.success(), "cat failed: {:?}", copy.status);
                assert!(copy.stdout == script.as_bytes(), "cat printed the file back");

                let mut desk = unix_net::UnixStream::connect(&archive).expect("reach the archivist");
                writeln!(desk, "{client} {}", copy.stdout.len()).expect("file a receipt");
                let mut answer = String::new();
                BufReader::new(desk).read_line(&mut answer).expect("read the answer");
                assert_eq!(answer, format!("filed {client}\n"), "the archivist's answer");
            })
        })
        .collect();

    // The consumer: a Mutex-protected table and a Condvar-signalled flag.
    let table = Arc::new((Mutex::new((vec![0usize; clients], 0u64, false)), Condvar::new()));
    let consumer = {
        let table = table.clone();
        thread::spawn(move || {
            let (mut peak, mut peak_pool) = (os_threads(), pool_threads());
            for (seen, (client, line)) in received.iter().enumerate() {
                let (state, done) = &*table;
                let mut state = state.lock().expect("nobody panics holding the table");
                state.0[client] += 1;
                state.1 += line.bytes().map(u64::from).sum::<u64>();
                if seen % 64 == 0 {
                    peak = peak.max(os_threads());
                    peak_pool = peak_pool.max(pool_threads());
                }
                if seen + 1 == clients * lines {
                    state.2 = true;
                    done.notify_all();
                }
            }
            (peak, peak_pool)
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
    let archived_bytes = archivist.join().expect("the archivist does not panic");
    let (peak_os_threads, peak_pool_threads) =
        consumer.join().expect("the consumer does not panic");
    fs::remove_dir_all(&dir).expect("remove the scratch directory");
    Outcome {
        lines_per_client,
        checksum,
        archived_bytes,
        peak_os_threads,
        peak_pool_threads,
    }
}
