//! Synchronisation between the coroutines of one runtime.
//!
//! [`channel()`] is shaped like `std::sync::mpsc::channel`: same method names,
//! same errors, except that a blocking `recv` suspends only the calling
//! coroutine. Its ends are not `Send`: they link coroutines of one runtime,
//! on one thread, with no atomics or locks.

mod channel;
mod wait_queue;

pub use channel::{Receiver, Sender, channel};
pub use std::sync::mpsc::{RecvError, SendError, TryRecvError};
