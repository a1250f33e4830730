//! The six ways to break the cooperative contract, each with its fix. Every
//! case runs its call in a coroutine of its own, named after what it does,
//! and measures the ticker across the call (a [`Window`]).

use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::ValueEnum;

/// Rounds of the `cpu` case's loop between two yields, in its fixed version.
pub const ROUNDS_PER_YIELD: u64 = 100;

/// One way to break the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Case {
    /// `std::thread::sleep` in a coroutine.
    Sleep,
    /// A `std::sync::Mutex` held across a corio sleep, taken by another coroutine.
    Lock,
    /// `std::sync::mpsc` `recv`, the sender on a std thread.
    Channel,
    /// A spin on an `AtomicBool` that a std thread sets.
    Spin,
    /// `std::io::stdin().read_line` (needs a terminal, or input on stdin).
    Stdin,
    /// A loop of computing without a yield.
    Cpu,
}

impl Case {
    /// The cases that need no terminal, in the order they run.
    pub const WITHOUT_TERMINAL: [Case; 5] = [
        Case::Sleep,
        Case::Lock,
        Case::Channel,
        Case::Spin,
        Case::Cpu,
    ];

    /// The name `--case` takes.
    pub fn name(self) -> &'static str {
        match self {
            Case::Sleep => "sleep",
            Case::Lock => "lock",
            Case::Channel => "channel",
            Case::Spin => "spin",
            Case::Stdin => "stdin",
            Case::Cpu => "cpu",
        }
    }

    /// The name of the coroutine that makes the call.
    pub fn coroutine(self) -> &'static str {
        match self {
            Case::Sleep => "sleeper",
            Case::Lock => "taker",
            Case::Channel => "receiver",
            Case::Spin => "spinner",
            Case::Stdin => "reader",
            Case::Cpu => "cruncher",
        }
    }

    /// The call the coroutine makes, broken or fixed, for a call of `ms`.
    pub fn call(self, fix: bool, ms: u64) -> String {
        match (self, fix) {
            (Case::Sleep, false) => format!("std::thread::sleep({ms} ms)"),
            (Case::Sleep, true) => format!("corio::thread::sleep({ms} ms)"),
            (Case::Lock, false) => format!(
                "std::sync::Mutex::lock on a lock that coroutine 'holder' keeps across a \
                 corio sleep of {ms} ms"
            ),
            (Case::Lock, true) => format!(
                "corio::sync::Mutex::lock on a lock that coroutine 'holder' keeps across a \
                 corio sleep of {ms} ms"
            ),
            (Case::Channel, false) => {
                format!("std::sync::mpsc recv; a std thread sends after {ms} ms")
            }
            (Case::Channel, true) => {
                format!("corio::sync::mpsc recv; a std thread sends after {ms} ms")
            }
            (Case::Spin, false) => {
                format!("a spin on an AtomicBool that a std thread sets after {ms} ms")
            }
            (Case::Spin, true) => format!(
                "a spin on an AtomicBool that a std thread sets after {ms} ms, with \
                 corio::yield_now() in the spin"
            ),
            (Case::Cpu, false) => format!("{ms} ms of computing without a yield"),
            (Case::Cpu, true) => format!(
                "{ms} ms of computing with corio::yield_now() every {ROUNDS_PER_YIELD} rounds"
            ),
            (Case::Stdin, false) => "std::io::stdin().read_line".to_owned(),
            (Case::Stdin, true) => "corio::io::stdin().read_line".to_owned(),
        }
    }
}

/// The ticker's ticks across one call.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// Ticks during the call.
    pub ticks: u64,
    /// How long the call took.
    pub elapsed: Duration,
}

/// Where a call starts: the ticker's count and the time, to make a
/// [`Window`] from later (also from another thread, when the call never
/// returns).
#[derive(Clone, Copy, Debug)]
pub struct Start {
    /// The ticker's count at the start.
    ticks: u64,
    /// When the call started.
    at: Instant,
}

impl Start {
    /// The start of a call now.
    pub fn now(ticks: &AtomicU64) -> Start {
        Start {
            ticks: ticks.load(Ordering::Relaxed),
            at: Instant::now(),
        }
    }

    /// The window from this start until now.
    pub fn window(self, ticks: &AtomicU64) -> Window {
        Window {
            ticks: ticks.load(Ordering::Relaxed) - self.ticks,
            elapsed: self.at.elapsed(),
        }
    }
}

/// Runs `case` (its fix if `fix`) with a call of `ms`, and returns the
/// ticker's window across the call. `started` is told when the call is
/// about to start (the example arms its deadlock and patience guards
/// there).
pub fn play(
    case: Case,
    fix: bool,
    ms: u64,
    ticks: &Arc<AtomicU64>,
    started: impl FnOnce(Start) + 'static,
) -> Window {
    let length = Duration::from_millis(ms);
    if case == Case::Lock {
        return lock(fix, length, ticks, started);
    }
    let ticks = Arc::clone(ticks);
    spawn_named(case.coroutine(), move || {
        let call: Box<dyn FnOnce()> = match case {
            Case::Sleep if fix => Box::new(move || corio::thread::sleep(length)),
            Case::Sleep => Box::new(move || std::thread::sleep(length)),
            Case::Channel => channel(fix, length),
            Case::Spin => spin(fix, length),
            Case::Cpu => Box::new(move || cpu(fix, length)),
            Case::Stdin => Box::new(move || stdin(fix)),
            Case::Lock => unreachable!("played above"),
        };
        let start = Start::now(&ticks);
        started(start);
        call();
        start.window(&ticks)
    })
}

/// `lock`: coroutine 'holder' takes the lock and keeps it across a corio
/// sleep; coroutine 'taker' then takes it. With std's `Mutex`, the taker
/// blocks the thread in `futex`, and the holder, which alone can unlock,
/// never runs again: a deadlock. corio's `Mutex` suspends the taker.
fn lock(
    fix: bool,
    length: Duration,
    ticks: &Arc<AtomicU64>,
    started: impl FnOnce(Start) + 'static,
) -> Window {
    if fix {
        contend(
            corio::sync::Mutex::new(()),
            |lock, length| {
                let _guard = lock.lock().expect("no one panics holding it");
                corio::thread::sleep(length);
            },
            |lock| drop(lock.lock().expect("no one panics holding it")),
            length,
            ticks,
            started,
        )
    } else {
        contend(
            std::sync::Mutex::new(()),
            |lock, length| {
                let _guard = lock.lock().expect("no one panics holding it");
                corio::thread::sleep(length);
            },
            |lock| drop(lock.lock().expect("no one panics holding it")),
            length,
            ticks,
            started,
        )
    }
}

/// Coroutine 'holder' runs `hold` (it locks `lock` and keeps it for
/// `length`), then coroutine 'taker' runs `take` on the same lock, across
/// which the ticker is measured.
fn contend<L: 'static>(
    lock: L,
    hold: fn(&L, Duration),
    take: fn(&L),
    length: Duration,
    ticks: &Arc<AtomicU64>,
    started: impl FnOnce(Start) + 'static,
) -> Window {
    let lock = Rc::new(lock);
    let held = Rc::clone(&lock);
    let holder = corio::task::Builder::new()
        .name("holder".into())
        .spawn(move || hold(&held, length))
        .expect("a stack for the holder");
    // FIFO: the holder runs, and locks, before this coroutine goes on.
    corio::yield_now();
    let ticks = Arc::clone(ticks);
    let window = spawn_named("taker", move || {
        let start = Start::now(&ticks);
        started(start);
        take(&lock);
        start.window(&ticks)
    });
    holder.join().expect("the holder returns");
    window
}

/// `channel`: a receive whose message a std thread sends after `length`.
fn channel(fix: bool, length: Duration) -> Box<dyn FnOnce()> {
    if fix {
        let (tx, rx) = corio::sync::mpsc::channel();
        later(length, move || tx.send(()).expect("the receiver waits"));
        Box::new(move || rx.recv().expect("the sender sends"))
    } else {
        let (tx, rx) = std::sync::mpsc::channel();
        later(length, move || tx.send(()).expect("the receiver waits"));
        Box::new(move || rx.recv().expect("the sender sends"))
    }
}

/// `spin`: a spin until a std thread sets a flag after `length`.
fn spin(fix: bool, length: Duration) -> Box<dyn FnOnce()> {
    let flag = Arc::new(AtomicBool::new(false));
    let setter = Arc::clone(&flag);
    later(length, move || setter.store(true, Ordering::Release));
    Box::new(move || {
        while !flag.load(Ordering::Acquire) {
            if fix {
                corio::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    })
}

/// `cpu`: `length` of computing; the fix yields every [`ROUNDS_PER_YIELD`]
/// rounds.
fn cpu(fix: bool, length: Duration) {
    let start = Instant::now();
    let mut state = 1u64;
    let mut rounds = 0u64;
    while start.elapsed() < length {
        // A step of xorshift: work the optimiser cannot remove.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state = std::hint::black_box(state);
        rounds += 1;
        if fix && rounds % ROUNDS_PER_YIELD == 0 {
            corio::yield_now();
        }
    }
}

/// `stdin`: one line from standard input.
fn stdin(fix: bool) {
    let mut line = String::new();
    let read = if fix {
        corio::io::stdin().read_line(&mut line)
    } else {
        std::io::stdin().read_line(&mut line)
    };
    if let Err(e) = read {
        eprintln!("stalls: reading stdin: {e}");
    }
}

/// Runs `f` on a std thread after `length`.
fn later(length: Duration, f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        std::thread::sleep(length);
        f();
    });
}

/// Spawns `f` as a coroutine named `name` and joins it.
fn spawn_named<T: 'static>(name: &str, f: impl FnOnce() -> T + 'static) -> T {
    corio::task::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .expect("a stack for the coroutine")
        .join()
        .expect("the coroutine returns")
}
