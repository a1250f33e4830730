//! `select!`: wait for the first of several channel receives, and
//! optionally a timeout.

/// Waits for the first of several [`Receiver`](crate::sync::mpsc::Receiver)s
/// to have a message (or be disconnected), and runs that branch; with
/// `default(timeout)`, runs the default branch if none has one in time.
///
/// ```text
/// corio::select! {
///     recv(rx_a) -> msg => { /* msg: Result<A, RecvError> */ },
///     recv(rx_b) -> msg => { /* ... */ },
///     default(Duration::from_millis(50)) => { /* nothing came in time */ },
/// }
/// ```
///
/// The syntax is crossbeam-channel's. Branches are tried in the order they
/// are written; every branch's value has the same type, as a `match`'s
/// arms. Each receiver expression is evaluated several times: pass a
/// receiver or a reference to one.
///
/// # Coroutines
///
/// Only the calling coroutine waits. Where no coroutine can wait (a
/// destructor while the runtime shuts down, a `log` backend), the default
/// branch runs at once, or, without one, the first branch gets a
/// disconnect (`Err(RecvError)`).
///
/// # Panics
///
/// If it has to wait outside a corio runtime.
///
/// # Examples
///
/// Result or timeout:
///
/// ```
/// use std::time::Duration;
///
/// corio::run(|| {
///     let (tx, rx) = corio::sync::mpsc::channel::<u32>();
///     corio::spawn(move || {
///         corio::sleep(Duration::from_millis(50));
///         let _ = tx.send(1); // too late
///     });
///     let got = corio::select! {
///         recv(rx) -> msg => msg.ok(),
///         default(Duration::from_millis(5)) => None,
///     };
///     assert_eq!(got, None);
/// });
/// ```
///
/// The first of two sources:
///
/// ```
/// use std::time::Duration;
///
/// corio::run(|| {
///     let (fast_tx, fast) = corio::sync::mpsc::channel();
///     let (slow_tx, slow) = corio::sync::mpsc::channel();
///     corio::spawn(move || {
///         corio::sleep(Duration::from_millis(20));
///         let _ = slow_tx.send("slow");
///     });
///     corio::spawn(move || fast_tx.send("fast").unwrap());
///     let first = corio::select! {
///         recv(slow) -> msg => msg.unwrap(),
///         recv(fast) -> msg => msg.unwrap(),
///     };
///     assert_eq!(first, "fast");
/// });
/// ```
///
/// A worker serving jobs until told to stop:
///
/// ```
/// corio::run(|| {
///     let (jobs_tx, jobs) = corio::sync::mpsc::channel::<u32>();
///     let (stop_tx, stop) = corio::sync::mpsc::channel::<()>();
///     let worker = corio::spawn(move || {
///         let mut done = 0;
///         loop {
///             corio::select! {
///                 recv(jobs) -> job => done += job.unwrap_or(0),
///                 recv(stop) -> _ => break,
///             }
///         }
///         done
///     });
///     for job in 1..=3 {
///         jobs_tx.send(job).unwrap();
///     }
///     corio::yield_now(); // the worker takes the jobs
///     stop_tx.send(()).unwrap();
///     assert_eq!(worker.join().unwrap(), 6);
/// });
/// ```
#[macro_export]
macro_rules! select {
    (
        recv($rx0:expr) -> $msg0:pat => $body0:expr
        $(, recv($rx:expr) -> $msg:pat => $body:expr)*
        , default($timeout:expr) => $default:expr $(,)?
    ) => {{
        let __corio_deadline = $crate::sync::mpsc::__select_deadline($timeout);
        // Which branch is ready (`usize::MAX`: the default); the bodies run
        // after the loop, as an if/else chain, so that a `break` or
        // `continue` in one is the caller's.
        let __corio_branch = loop {
            let mut __corio_index = 0usize;
            if ($rx0).__select_ready() {
                break __corio_index;
            }
            $(
                __corio_index += 1;
                if ($rx).__select_ready() {
                    break __corio_index;
                }
            )*
            let _ = __corio_index;
            if $crate::sync::mpsc::__select_passed(__corio_deadline) {
                break usize::MAX;
            }
            let __corio_registered = [
                ($rx0).__select_register()
                $(, ($rx).__select_register())*
            ];
            let __corio_waited = __corio_registered.iter().all(::core::option::Option::is_some)
                && $crate::sync::mpsc::__select_wait(__corio_deadline);
            ::core::mem::drop(__corio_registered);
            if !__corio_waited {
                break usize::MAX;
            }
        };
        $crate::__corio_select_branches!(
            __corio_branch, 0usize;
            [($rx0, $msg0, $body0) $(($rx, $msg, $body))*]
            else $default
        )
    }};
    (
        recv($rx0:expr) -> $msg0:pat => $body0:expr
        $(, recv($rx:expr) -> $msg:pat => $body:expr)* $(,)?
    ) => {{
        // Which branch is ready, and whether the first gets a disconnect
        // because nothing can wait here; the bodies run after the loop.
        let (__corio_branch, __corio_cannot_wait) = loop {
            let mut __corio_index = 0usize;
            if ($rx0).__select_ready() {
                break (__corio_index, false);
            }
            $(
                __corio_index += 1;
                if ($rx).__select_ready() {
                    break (__corio_index, false);
                }
            )*
            let _ = __corio_index;
            let __corio_registered = [
                ($rx0).__select_register()
                $(, ($rx).__select_register())*
            ];
            let __corio_waited = __corio_registered.iter().all(::core::option::Option::is_some)
                && $crate::sync::mpsc::__select_wait(::core::option::Option::None);
            ::core::mem::drop(__corio_registered);
            if !__corio_waited {
                break (0, true);
            }
        };
        if __corio_branch == 0 {
            let $msg0 = if __corio_cannot_wait {
                ($rx0).__select_disconnected()
            } else {
                ($rx0).__select_take()
            };
            $body0
        } else {
            $crate::__corio_select_branches!(
                __corio_branch, 1usize;
                [$(($rx, $msg, $body))*]
                else unreachable!("select!: a ready branch was found")
            )
        }
    }};
}

/// `select!`'s branches as an if/else chain on the ready branch's index;
/// not an API of its own.
#[doc(hidden)]
#[macro_export]
macro_rules! __corio_select_branches {
    ($branch:ident, $index:expr; [] else $otherwise:expr) => {
        $otherwise
    };
    ($branch:ident, $index:expr; [($rx:expr, $msg:pat, $body:expr) $($rest:tt)*] else $otherwise:expr) => {
        if $branch == $index {
            let $msg = ($rx).__select_take();
            $body
        } else {
            $crate::__corio_select_branches!($branch, $index + 1; [$($rest)*] else $otherwise)
        }
    };
}
