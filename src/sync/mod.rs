//! Synchronisation between coroutines, of one runtime or of several, and
//! plain threads.
//!
//! [`mpsc`] is `std::sync::mpsc` for coroutines: [`mpsc::channel`],
//! [`mpsc::sync_channel`] (bounded, and rendezvous at bound 0), the same
//! method names and std's own error types, except that a blocking call
//! suspends only the calling coroutine. Between coroutines of one runtime
//! they take no locks; a [`mpsc::Sender`] or [`mpsc::SyncSender`] is also
//! `Send` (for `T: Send`), so that an OS thread can feed a runtime.
//!
//! [`Mutex`], [`RwLock`], [`Condvar`], [`Barrier`], [`Once`],
//! [`OnceLock`] and [`LazyLock`] are `std::sync`'s, with std's poisoning
//! and error types (re-exported here), for coroutines: a wait suspends only
//! the calling coroutine, where std's would block the one OS thread and
//! with it every coroutine of the runtime. [`Semaphore`] bounds how many
//! coroutines do something at once, its permits guards.
//!
//! `Mutex`, `RwLock`, `Condvar`, `Once`, `OnceLock`, `LazyLock`,
//! `Barrier` and `Semaphore` have a `const fn new` and are `Send` and
//! `Sync` where std's are, so they can
//! live in a `static` and be shared by the coroutines of several runtimes
//! (one per thread) and by plain threads. A coroutine that waits for a
//! holder on another thread suspends only itself and is woken through its
//! runtime's inbox; a thread outside any runtime that waits blocks, as
//! with std. Taking a free `Mutex` is one compare-exchange and releasing
//! it, when nobody waits, another: no system call.
//!
//! ```
//! use corio::sync::{LazyLock, Mutex};
//!
//! static LOG: Mutex<Vec<&str>> = Mutex::new(Vec::new());
//! static GREETING: LazyLock<String> = LazyLock::new(|| "hello".to_uppercase());
//!
//! let thread = std::thread::spawn(|| LOG.lock().unwrap().push("thread"));
//! corio::run(|| LOG.lock().unwrap().push(GREETING.as_str()));
//! thread.join().unwrap();
//! let mut log = LOG.lock().unwrap().clone();
//! log.sort();
//! assert_eq!(log, ["HELLO", "thread"]);
//! ```
//!
//! `corio::sync::channel` and the types it returns are re-exported here
//! too, for code written before `mpsc` was a module of its own.
//!
//! ```
//! use corio::sync::mpsc;
//!
//! let (tx, rx) = mpsc::channel();
//! tx.send("hello").unwrap();
//! assert_eq!(rx.try_recv(), Ok("hello"));
//! ```
//!
//! | file | what |
//! |---|---|
//! | `mpsc.rs` | [`mpsc`]: channels, bounded and unbounded |
//! | `select.rs` | [`select!`](crate::select): the first of several receives |
//! | `mutex.rs` | [`Mutex`], [`MutexGuard`] |
//! | `condvar.rs` | [`Condvar`], [`WaitTimeoutResult`] |
//! | `rwlock.rs` | [`RwLock`] and its guards |
//! | `once.rs` | [`Once`], [`OnceLock`], [`OnceState`] |
//! | `lazy_lock.rs` | [`LazyLock`] |
//! | `barrier.rs` | [`Barrier`], [`BarrierWaitResult`] |
//! | `semaphore.rs` | [`Semaphore`], [`SemaphorePermit`] |
//! | `poison.rs` | the poison flag `Mutex` and `RwLock` share |
//! | `wait_queue.rs` | the FIFO of one runtime's waiting coroutines (channels, `scope`) |
//! | `waiters.rs` | the FIFO of coroutines and threads that the `Sync` locks, `Barrier` and `Semaphore` park in, and who holds a lock |
//! | `linked.rs` | the doubly linked list in a `Slab` under both FIFOs: removal from the middle without a search |

mod barrier;
mod condvar;
mod lazy_lock;
mod linked;
pub mod mpsc;
mod mutex;
mod once;
mod poison;
mod rwlock;
mod select;
mod semaphore;
pub(crate) mod wait_queue;
mod waiters;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use lazy_lock::LazyLock;
pub use mpsc::{Receiver, RecvError, SendError, Sender, TryRecvError, channel};
pub use mutex::{Mutex, MutexGuard};
pub use once::{Once, OnceLock, OnceState};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
