//! A quiet end when the reader of stdout goes away (`example | head -3`),
//! shared through `#[path]` by the labs.
//!
//! Rust ignores `SIGPIPE`, so a write to a pipe nobody reads any more fails
//! with `EPIPE` instead of ending the process, and `println!` turns that
//! failure into a panic ("failed printing to stdout: Broken pipe") with a
//! backtrace. clap does better for `--help`: it ignores the failed write
//! and exits. [`exit_quietly_on_broken_pipe`] gives every `println!` of a
//! lab that behaviour, without touching each call.
//!
//! Restoring `SIGPIPE`'s default action was the other way, and was not
//! taken: it would also end the process on a write to a closed child pipe
//! or Unix socket, which the labs expect to see as an `io::Error`.

/// Makes the panic that `println!` raises when stdout's pipe is closed end
/// the process at once with status 0 and no message, as clap's `--help`
/// does; every other panic goes to the hook that was there before. Call it
/// first thing in `main`, before a runtime is built (corio's hook then
/// wraps this one).
pub fn exit_quietly_on_broken_pipe() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // std formats that panic's message, so its payload is a `String`.
        let message = info.payload().downcast_ref::<String>();
        if message.is_some_and(|message| {
            message.starts_with("failed printing to stdout") && message.contains("os error 32")
        }) {
            std::process::exit(0);
        }
        previous(info);
    }));
}
