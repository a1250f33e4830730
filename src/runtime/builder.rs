//! [`Builder`]: a runtime's settings, checked when it is built.

use std::io;

use super::{DEFAULT_EVENT_INTERVAL, Runtime, install_panic_hook};
use crate::scheduler::{Core, NotSend};
use crate::stack;

/// Configures and creates a [`Runtime`].
///
/// # Examples
///
/// ```
/// let mut rt = corio::Runtime::builder()
///     .stack_size(128 * 1024)
///     .event_interval(31)
///     .build()?;
/// rt.block_on(|| ());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    /// Default stack size of the runtime's coroutines, before validation.
    stack_size: usize,
    /// See [`DEFAULT_EVENT_INTERVAL`](super::DEFAULT_EVENT_INTERVAL).
    event_interval: u32,
    /// Events the trace ring keeps, if tracing is on.
    trace: Option<usize>,
}

impl Default for Builder {
    fn default() -> Builder {
        Builder {
            stack_size: stack::DEFAULT_STACK_SIZE,
            event_interval: DEFAULT_EVENT_INTERVAL,
            trace: None,
        }
    }
}

impl Builder {
    /// A builder with the defaults: [`DEFAULT_STACK_SIZE`](super::DEFAULT_STACK_SIZE) per coroutine and
    /// [`DEFAULT_EVENT_INTERVAL`](super::DEFAULT_EVENT_INTERVAL).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = corio::runtime::Builder::new().build()?;
    /// # drop(rt);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Sets the stack size, in bytes, of coroutines that do not choose their
    /// own with [`task::Builder::stack_size`](crate::task::Builder::stack_size).
    /// Rounded up to whole pages. Only the pages a coroutine touches cost
    /// memory; the size is a limit, not an allocation. The allowed range,
    /// checked by [`build`](Builder::build), is
    /// [`MIN_STACK_SIZE`](crate::stack::MIN_STACK_SIZE) to
    /// [`MAX_STACK_SIZE`](crate::stack::MAX_STACK_SIZE).
    ///
    /// A panic near the end of a coroutine's stack is caught by `join` like
    /// any other, with `RUST_BACKTRACE=1` or `full` too: when less than
    /// 64 KiB are left, the panic hook's report and backtrace run on a spare
    /// stack of the thread, and only the panic's entry and unwinding (a few
    /// KiB, `docs/results/panic_room.md`) need room on the coroutine's own.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = corio::Runtime::builder().stack_size(1 << 20).build()?;
    /// # drop(rt);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = bytes;
        self
    }

    /// Sets how many switches into coroutines may pass between two non-blocking
    /// polls for I/O and timers while the run queue stays busy (see
    /// [`DEFAULT_EVENT_INTERVAL`](super::DEFAULT_EVENT_INTERVAL)). Smaller serves sockets sooner under load;
    /// larger spends less time polling.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = corio::Runtime::builder().event_interval(1).build()?; // poll before every resume
    /// # drop(rt);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn event_interval(mut self, ticks: u32) -> Builder {
        self.event_interval = ticks;
        self
    }

    /// Records a timeline of the runtime's scheduling (see [`crate::trace`]):
    /// every spawn, resume, suspend with its reason, wake-up with its cause,
    /// poll and finish, into a ring that keeps the newest `capacity` events
    /// (24 bytes each; the oldest are dropped and counted). Take them with
    /// [`Runtime::take_trace`].
    ///
    /// Off by default; off, it costs one predictable branch per event site.
    /// On, about one time-stamp counter read and a 24-byte store per event,
    /// two events per switch (`cargo run --release --example trace_cost`
    /// measures it).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = corio::Runtime::builder().trace(1 << 16).build()?;
    /// rt.block_on(|| corio::spawn(|| corio::yield_now()).join().unwrap());
    /// let trace = rt.take_trace().unwrap();
    /// assert!(!trace.events().is_empty());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn trace(mut self, capacity: usize) -> Builder {
        self.trace = Some(capacity);
        self
    }

    /// Creates the runtime.
    ///
    /// # Errors
    ///
    /// - `ErrorKind::InvalidInput` if the stack size is out of range, the
    ///   event interval is 0 or the trace capacity is 0; the message gives
    ///   the allowed values.
    /// - The OS error if the poller cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    ///
    /// let err = corio::Runtime::builder().stack_size(0).build().unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidInput);
    /// println!("{err}"); // says which sizes are allowed
    /// ```
    pub fn build(self) -> io::Result<Runtime> {
        let stack_size = stack::validate_stack_size(self.stack_size)?;
        if self.event_interval == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "event_interval must be at least 1 (scheduler ticks between two \
                 non-blocking I/O polls); the default is 61",
            ));
        }
        if self.trace == Some(0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "trace capacity must be at least 1 event (the ring keeps the newest \
                 `capacity` events, 24 bytes each); leave `trace` out to turn tracing off",
            ));
        }
        let core = Core::new(stack_size, self.event_interval, self.trace)?;
        install_panic_hook();
        Ok(Runtime {
            core,
            _not_send: NotSend::default(),
        })
    }
}
