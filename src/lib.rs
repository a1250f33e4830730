//! # corio
//!
//! A hand-built, stackful coroutine runtime with explicit yield and a
//! [mio](https://docs.rs/mio) reactor, made to *show and measure* what
//! programmer-controlled switching buys against OS threads.
//!
//! A coroutine is an ordinary function with a stack of its own. It gives up
//! the CPU only where the code says so ([`yield_now`]) or where it would
//! otherwise block (joining another task, a socket read, a sleep). The API
//! mirrors `std::thread` and `std::net`, so the same code runs on threads or
//! on coroutines.
//!
//! ```
//! use std::{cell::RefCell, rc::Rc};
//!
//! let log = corio::run(|| {
//!     let log = Rc::new(RefCell::new(Vec::new()));
//!     let handles: Vec<_> = ["a", "b"]
//!         .into_iter()
//!         .map(|name| {
//!             let log = log.clone();
//!             corio::spawn(move || {
//!                 for step in 0..2 {
//!                     log.borrow_mut().push(format!("{name}{step}"));
//!                     corio::yield_now(); // let the other one run
//!                 }
//!             })
//!         })
//!         .collect();
//!     for h in handles {
//!         h.join().unwrap();
//!     }
//!     log.take()
//! });
//! assert_eq!(log, ["a0", "b0", "a1", "b1"]);
//! ```
//!
//! ## How it works
//!
//! Each OS thread that calls [`Runtime::block_on`] runs a scheduler loop on
//! its own stack. The loop pops a task from a FIFO run queue and resumes its
//! coroutine (a stack switch through
//! [`corosensei`](https://docs.rs/corosensei), a few nanoseconds, no
//! kernel). The coroutine runs until it suspends and says why: yield, wait
//! for a join or a socket, sleep. The loop files it accordingly and takes the
//! next one. When nothing is runnable it blocks in `epoll` until a socket is
//! ready or a timer is due. Stacks come from a pool of guard-paged arenas, so
//! a spawn costs no system call once the pool is warm.
//!
//! ## Modules
//!
//! | module | what is in it |
//! |---|---|
//! | [`runtime`] | [`Runtime`], its [`Builder`](runtime::Builder), [`run`], [`stats`], [`Handle`](runtime::Handle) and [`RemoteJoinHandle`](runtime::RemoteJoinHandle) for other threads, [`ThreadPerCore`](runtime::ThreadPerCore), the blocking pool's limits; the stall watchdog ([`Stall`](runtime::Stall), [`Activity`](runtime::Activity)), the task dump ([`tasks`](runtime::tasks), [`Dump`](runtime::Dump)) and [`TaskMetrics`](runtime::TaskMetrics); seeded schedules ([`Schedule`](runtime::Schedule)) and [`explore`](runtime::explore) to find and replay a failing interleaving |
//! | [`task`] | [`spawn`], [`JoinHandle`], [`task::Builder`], [`yield_now`], [`task::current_id`], [`TaskId`] |
//! | [`thread`] | `std::thread`'s names for the same, plus [`thread::current`], [`thread::park`], [`thread::sleep`], [`thread::scope`], [`Thread`](thread::Thread), [`ThreadId`](thread::ThreadId), [`thread::available_parallelism`] |
//! | [`sync`] | `std::sync` for coroutines: [`mpsc`](sync::mpsc) channels, [`Mutex`](sync::Mutex), [`Condvar`](sync::Condvar), [`RwLock`](sync::RwLock), [`Once`](sync::Once), [`OnceLock`](sync::OnceLock), [`LazyLock`](sync::LazyLock), [`Barrier`](sync::Barrier), [`Semaphore`](sync::Semaphore) (all of these `static`-ready and `Sync`), and [`select!`] over channels |
//! | [`net`] | [`TcpListener`](net::TcpListener), [`TcpStream`](net::TcpStream), [`UdpSocket`](net::UdpSocket), [`ToSocketAddrs`](net::ToSocketAddrs), shaped like `std::net`, and std's address types re-exported |
//! | [`os`] | [`os::unix::net`]: [`UnixListener`](os::unix::net::UnixListener), [`UnixStream`](os::unix::net::UnixStream), [`UnixDatagram`](os::unix::net::UnixDatagram), shaped like `std::os::unix::net`, with std's [`SocketAddr`](os::unix::net::SocketAddr) |
//! | [`fs`] | `std::fs` for coroutines: every free function, [`File`](fs::File), [`OpenOptions`](fs::OpenOptions), [`read_dir`](fs::read_dir) in batches, [`DirBuilder`](fs::DirBuilder); each call on the blocking pool |
//! | [`io`] | [`stdin`](io::stdin), [`stdout`](io::stdout), [`stderr`](io::stderr) that suspend only their caller, and std::io's traits and types |
//! | [`process`] | [`Command`](process::Command) (wraps std's), [`Child`](process::Child) with its pipes on the reactor and its exit watched through a pidfd |
//! | [`time`] | [`sleep`], [`sleep_until`] and [`Instant`](time::Instant): `std::time::Instant` on the runtime's clock, which [`virtual_time`](runtime::Builder::virtual_time) lets jump to the next timer |
//! | [`trace`] | the timeline of every spawn, switch, wake-up and poll ([`runtime::Builder::trace`]), as Chrome trace JSON for Perfetto or an offline HTML viewer ([`Trace::write_html`](trace::Trace::write_html)) |
//!
//! At the crate root: [`spawn`], [`yield_now`], [`sleep`], [`sleep_until`],
//! [`spawn_blocking`], [`run`], [`stats`] and [`Stats`]. `stack` (the stack
//! pool, guard-page arenas and the stack-overflow reporter) is public but
//! hidden, for tools and tests. The private modules, from the bottom up:
//! `reactor` and `timer` (the mio poller and deadlines: leaves), `scheduler`
//! (the core, closed: the loop, the hand-off, spawn and join, the inbox from
//! other threads), and on top of it `blocking` (the `spawn_blocking` pool),
//! `time` and `scope`; `fs`, `io` and `process` sit on `blocking`
//! (and `process` on the reactor, as `net` does). `docs/architecture.md` draws the layers;
//! `tests/layout.rs` keeps imports pointing down.
//!
//! `docs/` in the repository explains the concepts and the design with
//! measured numbers.

#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    clippy::undocumented_unsafe_blocks
)]
#![deny(unsafe_op_in_unsafe_fn)]

mod blocking;
pub mod fs;
pub mod io;
pub mod net;
pub mod os;
pub mod process;
mod reactor;
pub mod runtime;
mod scheduler;
mod scope;
#[doc(hidden)]
pub mod stack;
pub mod sync;
pub mod task;
pub mod thread;
pub mod time;
mod timer;
pub mod trace;

pub use blocking::spawn_blocking;
pub use runtime::{Runtime, run, stats};
pub use scheduler::Stats;
pub use task::{JoinHandle, TaskId, spawn, yield_now};
pub use time::{sleep, sleep_until};

/// The README's example, compiled and run as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;
