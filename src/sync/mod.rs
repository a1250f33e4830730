//! Synchronisation between the coroutines of one runtime.
//!
//! [`mpsc`] is `std::sync::mpsc` for coroutines: [`mpsc::channel`],
//! [`mpsc::sync_channel`] (bounded, and rendezvous at bound 0), the same
//! method names and std's own error types, except that a blocking call
//! suspends only the calling coroutine. Between coroutines of one runtime
//! they take no locks; a [`mpsc::Sender`] or [`mpsc::SyncSender`] is also
//! `Send` (for `T: Send`), so that an OS thread can feed a runtime.
//!
//! [`Mutex`], [`RwLock`], [`Condvar`], [`Barrier`], [`Once`] and
//! [`OnceLock`] are `std::sync`'s, with std's poisoning and
//! error types (re-exported here), for coroutines: a wait suspends only the
//! calling coroutine, where std's would block the one OS thread and with it
//! every coroutine of the runtime. [`Semaphore`] bounds how many
//! coroutines do something at once, its permits guards.
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
//! | `barrier.rs` | [`Barrier`], [`BarrierWaitResult`] |
//! | `semaphore.rs` | [`Semaphore`], [`SemaphorePermit`] |
//! | `poison.rs` | the poison flag `Mutex` and `RwLock` share |
//! | `wait_queue.rs` | the FIFO of waiting coroutines the types here park in |

mod barrier;
mod condvar;
pub mod mpsc;
mod mutex;
mod once;
mod poison;
mod rwlock;
mod select;
mod semaphore;
pub(crate) mod wait_queue;

pub use barrier::{Barrier, BarrierWaitResult};
pub use condvar::{Condvar, WaitTimeoutResult};
pub use mpsc::{Receiver, RecvError, SendError, Sender, TryRecvError, channel};
pub use mutex::{Mutex, MutexGuard};
pub use once::{Once, OnceLock, OnceState};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{Semaphore, SemaphorePermit};
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
