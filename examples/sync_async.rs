//! Sync against async, measured: A needs an answer from a slow service B,
//! and has work of its own to do.
//!
//! ```text
//! cargo run --example sync_async
//! cargo run --example sync_async -- --delay-ms 100 --work-ms 20 --json
//! ```
//!
//! The primer: *synchronous*, A calls B and waits for the result before it
//! goes on; *asynchronous*, A calls B and goes on without waiting, and B
//! notifies A when the result is there. Here B is one slow service (a TCP
//! server on loopback that answers after `--delay-ms`), asked the same
//! question four ways, while A has `--units` pieces of `--work-ms` of
//! computing to do:
//!
//! | style | how A asks | how A learns the answer |
//! |---|---|---|
//! | sync call | a blocking `read` on the socket | the call returns it |
//! | callback on a completion queue | hands the request to an I/O thread with a callback | between work units A runs the callbacks that have completed |
//! | channel | hands the request to an I/O thread with a channel | `recv` once its work is done |
//! | coroutine + join | spawns a corio coroutine that makes the blocking-looking call | `join` once its work is done |
//!
//! For each it prints the wall time, how long A computed, how long A sat
//! waiting, when B's answer arrived and when A had it in hand (all from the
//! start, median of `--rounds`). Sync pays the delay and the work one after
//! the other; the three async styles overlap them, so the wall time is the
//! longer of the two, and A waits only for whatever of B is left after its
//! own work.
//!
//! The coroutine style is cooperative: the call coroutine runs only when A
//! lets it, so A yields once right after spawning it (the question goes out
//! then) and between its units. Without that first yield the question
//! would leave only at A's first yield, one unit late.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

#[path = "common/pipe.rs"]
mod pipe;
#[path = "common/stats.rs"]
mod stats;

#[derive(Parser)]
#[command(about = "sync vs async: the same slow service called four ways while A has work to do")]
struct Args {
    /// How long the service takes to answer, ms.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    delay_ms: u64,
    /// A's work: this many units...
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    units: u64,
    /// ...of this many ms of computing each.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    work_ms: u64,
    /// Rounds per style; the figures are medians.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=100))]
    rounds: u64,
    /// Print the figures as JSON, one object per style.
    #[arg(long)]
    json: bool,
}

/// The four styles, in the order they run and print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Sync,
    Callback,
    Channel,
    Coroutine,
}

impl Style {
    const ALL: [Style; 4] = [
        Style::Sync,
        Style::Callback,
        Style::Channel,
        Style::Coroutine,
    ];

    fn name(self) -> &'static str {
        match self {
            Style::Sync => "sync call",
            Style::Callback => "async: callback on a completion queue",
            Style::Channel => "async: channel",
            Style::Coroutine => "async: coroutine + join",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Style::Sync => "sync",
            Style::Callback => "callback",
            Style::Channel => "channel",
            Style::Coroutine => "coroutine",
        }
    }
}

/// One round of one style, every time from A's start.
#[derive(Clone, Copy, Debug, Default)]
struct Round {
    wall: Duration,
    worked: Duration,
    waited: Duration,
    /// When B's answer had reached this process (read off the socket).
    arrived: Duration,
    /// When A had it in hand.
    learned: Duration,
}

impl Round {
    /// A round whose answer A has in hand now, which is also its end.
    fn in_hand(start: Instant, worked: Duration, waited: Duration, arrived: Duration) -> Round {
        let learned = start.elapsed();
        Round {
            wall: learned,
            worked,
            waited,
            arrived,
            learned,
        }
    }
}

fn main() -> ExitCode {
    pipe::exit_quietly_on_broken_pipe();
    let args = Args::parse();
    let service = match start_service(Duration::from_millis(args.delay_ms)) {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("sync_async: cannot start the slow service on loopback: {e}");
            return ExitCode::FAILURE;
        }
    };
    let work = Work {
        units: args.units,
        unit: Duration::from_millis(args.work_ms),
    };
    let mut results = Vec::new();
    for style in Style::ALL {
        let mut rounds = Vec::new();
        for round in 0..args.rounds {
            match run(style, service, work, round) {
                Ok(r) => rounds.push(r),
                Err(e) => {
                    eprintln!("sync_async: {}: {e}", style.name());
                    return ExitCode::FAILURE;
                }
            }
        }
        results.push((style, median_round(&rounds)));
    }
    if args.json {
        for (style, r) in &results {
            println!(
                "{}",
                json!({
                    "style": style.key(),
                    "wall_ms": ms(r.wall),
                    "a_worked_ms": ms(r.worked),
                    "a_waited_ms": ms(r.waited),
                    "answer_arrived_ms": ms(r.arrived),
                    "a_had_answer_ms": ms(r.learned),
                    "delay_ms": args.delay_ms,
                    "work_ms": args.units * args.work_ms,
                })
            );
        }
        return ExitCode::SUCCESS;
    }
    println!(
        "A asks a slow service B (answers after {} ms) and has {} × {} ms of its own computing; \
         median of {} rounds.\n",
        args.delay_ms, args.units, args.work_ms, args.rounds
    );
    println!(
        "{:<40} {:>8} {:>9} {:>9} {:>15} {:>15}",
        "style", "wall ms", "A worked", "A waited", "answer arrived", "A had answer"
    );
    for (style, r) in &results {
        println!(
            "{:<40} {:>8.1} {:>9.1} {:>9.1} {:>15.1} {:>15.1}",
            style.name(),
            ms(r.wall),
            ms(r.worked),
            ms(r.waited),
            ms(r.arrived),
            ms(r.learned)
        );
    }
    let sync = results[0].1;
    let best_async = results[1..]
        .iter()
        .map(|(_, r)| r.wall)
        .min()
        .unwrap_or_default();
    println!(
        "\nSync: A waited {:.1} ms doing nothing, then worked; the wall time is the sum. \
         Async: A worked while B was busy, and waited at most {:.1} ms; the wall time is the \
         longer of the two ({:.1} ms, {:.2}x faster). Where A *learns* the answer differs: \
         the callback as soon as A checks its queue between units, the channel and the join \
         only where A asks for it.",
        ms(sync.waited),
        results[1..]
            .iter()
            .map(|(_, r)| ms(r.waited))
            .fold(0.0, f64::max),
        ms(best_async),
        sync.wall.as_secs_f64() / best_async.as_secs_f64().max(1e-9)
    );
    ExitCode::SUCCESS
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A's own work: computing, not waiting.
#[derive(Clone, Copy)]
struct Work {
    units: u64,
    unit: Duration,
}

impl Work {
    /// Computes for one unit (a busy loop: the CPU is really in use).
    fn one_unit(&self) {
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < self.unit {
            for _ in 0..1000 {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
    }
}

/// The slow service: one thread per connection, each line answered after
/// `delay` with `answer <line>`.
fn start_service(delay: Duration) -> io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    std::thread::Builder::new()
        .name("slow service".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || -> io::Result<()> {
                    let mut reader = BufReader::new(stream.try_clone()?);
                    let mut line = String::new();
                    while reader.read_line(&mut line)? > 0 {
                        std::thread::sleep(delay);
                        (&stream).write_all(format!("answer {}", line).as_bytes())?;
                        line.clear();
                    }
                    Ok(())
                });
            }
        })?;
    Ok(addr)
}

/// Asks the service one question over any blocking-looking stream; returns
/// the answer and when it had arrived.
fn ask<S: io::Read + io::Write>(
    stream: S,
    question: u64,
    start: Instant,
) -> io::Result<(String, Duration)> {
    let mut reader = BufReader::new(stream);
    reader
        .get_mut()
        .write_all(format!("{question}\n").as_bytes())?;
    let mut answer = String::new();
    reader.read_line(&mut answer)?;
    if answer.trim() != format!("answer {question}") {
        return Err(io::Error::other(format!("the service answered {answer:?}")));
    }
    Ok((answer, start.elapsed()))
}

/// One round of `style`.
fn run(style: Style, service: SocketAddr, work: Work, question: u64) -> io::Result<Round> {
    match style {
        Style::Sync => {
            let start = Instant::now();
            let (_, arrived) = ask(std::net::TcpStream::connect(service)?, question, start)?;
            let learned = start.elapsed();
            let waited = learned;
            let work_start = Instant::now();
            for _ in 0..work.units {
                work.one_unit();
            }
            Ok(Round {
                wall: start.elapsed(),
                worked: work_start.elapsed(),
                waited,
                arrived,
                learned,
            })
        }
        Style::Callback => {
            // A completion queue: the I/O thread pushes a finished call's
            // callback; A runs whatever has completed between its units.
            type Callback = Box<dyn FnOnce(&mut Option<(Duration, Duration)>) + Send>;
            let (completions, queue) = mpsc::channel::<Callback>();
            let start = Instant::now();
            std::thread::spawn(move || {
                let outcome =
                    std::net::TcpStream::connect(service).and_then(|s| ask(s, question, start));
                let _ = completions.send(Box::new(move |done| {
                    let (_, arrived) = outcome.expect("the service answers");
                    // The callback's body: here A takes the answer in hand.
                    *done = Some((arrived, start.elapsed()));
                }));
            });
            // (arrived, learned) once the callback has run.
            let mut done = None;
            let mut worked = Duration::ZERO;
            for _ in 0..work.units {
                let t = Instant::now();
                work.one_unit();
                worked += t.elapsed();
                for callback in queue.try_iter() {
                    callback(&mut done);
                }
            }
            let wait_start = Instant::now();
            while done.is_none() {
                // Nothing left to do: now A does wait, for the completion.
                let callback = queue
                    .recv()
                    .map_err(|_| io::Error::other("the I/O thread died"))?;
                callback(&mut done);
            }
            let waited = wait_start.elapsed();
            let (arrived, learned) = done.expect("the loop ran until the callback did");
            Ok(Round {
                wall: start.elapsed(),
                worked,
                waited,
                arrived,
                learned,
            })
        }
        Style::Channel => {
            let (reply, answer) = mpsc::channel();
            let start = Instant::now();
            std::thread::spawn(move || {
                let _ = reply.send(
                    std::net::TcpStream::connect(service).and_then(|s| ask(s, question, start)),
                );
            });
            let work_start = Instant::now();
            for _ in 0..work.units {
                work.one_unit();
            }
            let worked = work_start.elapsed();
            let wait_start = Instant::now();
            let (_, arrived) = answer
                .recv()
                .map_err(|_| io::Error::other("the I/O thread died"))??;
            Ok(Round::in_hand(start, worked, wait_start.elapsed(), arrived))
        }
        Style::Coroutine => corio::run(move || -> io::Result<Round> {
            let start = Instant::now();
            let call = corio::spawn(move || {
                corio::net::TcpStream::connect(service).and_then(|s| ask(s, question, start))
            });
            // Cooperative: the call runs only when A lets it. Let it send
            // the question now, up to its first wait.
            corio::yield_now();
            let mut worked = Duration::ZERO;
            for _ in 0..work.units {
                let t = Instant::now();
                work.one_unit();
                worked += t.elapsed();
                // Lets the call coroutine send its question and the runtime
                // look at the sockets between units.
                corio::yield_now();
            }
            let wait_start = Instant::now();
            let (_, arrived) = call
                .join()
                .map_err(|_| io::Error::other("the call coroutine panicked"))??;
            Ok(Round::in_hand(start, worked, wait_start.elapsed(), arrived))
        }),
    }
}

/// The round whose wall time is nearest the median: a real round, so that
/// its figures (wall, waits, work) belong together.
fn median_round(rounds: &[Round]) -> Round {
    let walls: Vec<Duration> = rounds.iter().map(|r| r.wall).collect();
    let median = stats::median(&walls);
    *rounds
        .iter()
        .min_by_key(|r| r.wall.abs_diff(median))
        .expect("every style runs at least one round")
}
