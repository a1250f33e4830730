//! Child processes: `std::process` for coroutines.
//!
//! [`Command`] wraps std's and dereferences to it, so every std builder
//! method and std's sealed `os::unix::process::CommandExt` (`pre_exec`,
//! `uid`, `arg0`, `process_group`, ...) work on it; its `Debug` is std's.
//! [`Child`]'s pipes ([`ChildStdin`], [`ChildStdout`], [`ChildStderr`]) are
//! on the reactor, and waiting for a child suspends only the caller.
//! [`Output`], [`ExitStatus`], [`ExitCode`], [`Stdio`], [`exit`], [`abort`]
//! and [`id`] are std's own.
//!
//! # Coroutines
//!
//! - Spawning runs in place: std starts the child with `posix_spawn`
//!   where it can (else `fork` and `exec`), and the calling thread waits
//!   only until the child has called `exec`.
//! - The parent's pipe ends are made non-blocking and registered with the
//!   runtime's reactor, so a read or write that would wait suspends only
//!   its coroutine. `O_NONBLOCK` is set on those ends alone (the child's
//!   ends are other open file descriptions and stay blocking), and is
//!   cleared again when an end is turned into a [`Stdio`] for another
//!   child.
//! - [`Child::wait`] parks the caller on the child's pidfd (Linux 5.3 and
//!   later). Where the kernel refuses `pidfd_open`, a blocking-pool thread
//!   waits for the exit instead (`waitid` with `WNOWAIT`, so std still
//!   reaps the child) and the caller is suspended meanwhile.
//!
//! Outside a runtime everything runs in place, as std's.
//!
//! ```
//! use corio::process::Command;
//!
//! corio::run(|| {
//!     let out = Command::new("sh").arg("-c").arg("echo hi").output().unwrap();
//!     assert!(out.status.success());
//!     assert_eq!(out.stdout, b"hi\n");
//! });
//! ```

use std::ffi::OsStr;
use std::fmt;
use std::io::{self, Read, Write};
use std::ops::{Deref, DerefMut};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use mio::Interest;
use mio::unix::pipe::{Receiver, Sender};

use crate::task;

mod exit;
mod pipe;

use exit::ExitWatch;
use pipe::Pipe;

pub use std::process::{ExitCode, ExitStatus, Output, Stdio, Termination, abort, exit, id};

/// A process builder, as [`std::process::Command`], whose [`spawn`],
/// [`output`] and [`status`] suspend only the calling coroutine.
///
/// It dereferences to std's `Command`, so std's getters (`get_program`,
/// `get_args`, `get_envs`, `get_current_dir`) and std's `CommandExt`
/// methods work on it. The builder methods are corio's own and return
/// `&mut corio::process::Command`, so a chain ends in corio's `spawn`;
/// a `CommandExt` method returns std's `Command`, so call it on its own
/// line (`cmd.uid(0);`) and spawn from `cmd`.
///
/// [`spawn`]: Command::spawn
/// [`output`]: Command::output
/// [`status`]: Command::status
///
/// # Examples
///
/// ```
/// use std::os::unix::process::CommandExt;
/// use corio::process::Command;
///
/// corio::run(|| {
///     let mut cmd = Command::new("sh");
///     cmd.arg("-c").arg("echo $0");
///     cmd.arg0("renamed"); // std's CommandExt, through DerefMut
///     let out = cmd.output().unwrap();
///     assert_eq!(out.stdout, b"renamed\n");
/// });
/// ```
pub struct Command {
    /// std's builder, which holds everything but the stdio defaults.
    inner: std::process::Command,
    /// Whether stdin, stdout and stderr were set through this wrapper.
    /// std's defaults differ between `spawn`/`status` (inherit) and
    /// `output` (stdin null, the others piped), and std has no getter for
    /// them, so the ones never set are set for each call.
    stdio_set: [bool; 3],
}

impl Command {
    /// A builder for running `program`, as [`std::process::Command::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// let cmd = corio::process::Command::new("ls");
    /// assert_eq!(cmd.get_program(), "ls");
    /// ```
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command {
            inner: std::process::Command::new(program),
            stdio_set: [false; 3],
        }
    }

    /// Adds an argument, as [`std::process::Command::arg`].
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = corio::process::Command::new("echo");
    /// cmd.arg("a").arg("b");
    /// assert_eq!(cmd.get_args().count(), 2);
    /// ```
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.inner.arg(arg);
        self
    }

    /// Adds arguments, as [`std::process::Command::args`].
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = corio::process::Command::new("echo");
    /// cmd.args(["a", "b", "c"]);
    /// assert_eq!(cmd.get_args().count(), 3);
    /// ```
    pub fn args<I, S>(&mut self, args: I) -> &mut Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable for the child, as
    /// [`std::process::Command::env`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let out = corio::process::Command::new("sh")
    ///         .args(["-c", "echo $GREETING"])
    ///         .env("GREETING", "hi")
    ///         .output()
    ///         .unwrap();
    ///     assert_eq!(out.stdout, b"hi\n");
    /// });
    /// ```
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, val: V) -> &mut Command {
        self.inner.env(key, val);
        self
    }

    /// Sets several environment variables, as
    /// [`std::process::Command::envs`].
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = corio::process::Command::new("env");
    /// cmd.envs([("A", "1"), ("B", "2")]);
    /// assert_eq!(cmd.get_envs().count(), 2);
    /// ```
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.envs(vars);
        self
    }

    /// Removes an environment variable from the child's, as
    /// [`std::process::Command::env_remove`].
    ///
    /// # Examples
    ///
    /// ```
    /// let mut cmd = corio::process::Command::new("env");
    /// cmd.env_remove("PATH");
    /// assert_eq!(cmd.get_envs().next().unwrap().1, None);
    /// ```
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.inner.env_remove(key);
        self
    }

    /// Clears the child's environment, as
    /// [`std::process::Command::env_clear`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let out = corio::process::Command::new("/usr/bin/env").env_clear().output().unwrap();
    ///     assert!(out.stdout.is_empty());
    /// });
    /// ```
    pub fn env_clear(&mut self) -> &mut Command {
        self.inner.env_clear();
        self
    }

    /// Sets the child's working directory, as
    /// [`std::process::Command::current_dir`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let out = corio::process::Command::new("pwd").current_dir("/").output().unwrap();
    ///     assert_eq!(out.stdout, b"/\n");
    /// });
    /// ```
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// Sets the child's stdin, as [`std::process::Command::stdin`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::process::{Command, Stdio};
    ///
    /// corio::run(|| {
    ///     let out = Command::new("cat").stdin(Stdio::null()).output().unwrap();
    ///     assert!(out.stdout.is_empty());
    /// });
    /// ```
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stdin(cfg);
        self.stdio_set[0] = true;
        self
    }

    /// Sets the child's stdout, as [`std::process::Command::stdout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::process::{Command, Stdio};
    ///
    /// corio::run(|| {
    ///     let out = Command::new("echo").stdout(Stdio::null()).output().unwrap();
    ///     assert!(out.stdout.is_empty());
    /// });
    /// ```
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stdout(cfg);
        self.stdio_set[1] = true;
        self
    }

    /// Sets the child's stderr, as [`std::process::Command::stderr`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::process::{Command, Stdio};
    ///
    /// corio::run(|| {
    ///     let out = Command::new("sh")
    ///         .args(["-c", "echo oops >&2"])
    ///         .stderr(Stdio::null())
    ///         .output()
    ///         .unwrap();
    ///     assert!(out.stderr.is_empty());
    /// });
    /// ```
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stderr(cfg);
        self.stdio_set[2] = true;
        self
    }

    /// Spawns with `defaults` for the streams never set, and wraps the
    /// child.
    fn spawn_with(&mut self, defaults: [fn() -> Stdio; 3]) -> io::Result<Child> {
        if !self.stdio_set[0] {
            self.inner.stdin(defaults[0]());
        }
        if !self.stdio_set[1] {
            self.inner.stdout(defaults[1]());
        }
        if !self.stdio_set[2] {
            self.inner.stderr(defaults[2]());
        }
        Child::from_std(self.inner.spawn()?)
    }

    /// Starts the program as a child process, as
    /// [`std::process::Command::spawn`]; stdin, stdout and stderr are
    /// inherited unless set.
    ///
    /// # Coroutines
    ///
    /// Runs in place (see the [module docs](self)); the child's pipes are
    /// registered with the calling runtime's reactor.
    ///
    /// # Errors
    ///
    /// As std's: `NotFound` when the program does not exist,
    /// `PermissionDenied` when it may not be run.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let err = corio::process::Command::new("/no/such/corio/program").spawn().unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// });
    /// ```
    pub fn spawn(&mut self) -> io::Result<Child> {
        self.spawn_with([Stdio::inherit, Stdio::inherit, Stdio::inherit])
    }

    /// Runs the program to its end and collects its output, as
    /// [`std::process::Command::output`]: stdout and stderr are captured
    /// and stdin is null, unless set.
    ///
    /// # Coroutines
    ///
    /// Suspends only the caller while the child runs and its pipes are
    /// drained.
    ///
    /// # Errors
    ///
    /// As std's: `NotFound` when the program does not exist. A program that
    /// fails is not an error: see `status` in the [`Output`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let out = corio::process::Command::new("sh").args(["-c", "exit 3"]).output().unwrap();
    ///     assert_eq!(out.status.code(), Some(3));
    /// });
    /// ```
    pub fn output(&mut self) -> io::Result<Output> {
        self.spawn_with([Stdio::null, Stdio::piped, Stdio::piped])?
            .wait_with_output()
    }

    /// Runs the program to its end and returns its exit status, as
    /// [`std::process::Command::status`]; stdin, stdout and stderr are
    /// inherited unless set.
    ///
    /// # Coroutines
    ///
    /// Suspends only the caller while the child runs.
    ///
    /// # Errors
    ///
    /// As std's: `NotFound` when the program does not exist.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let status = corio::process::Command::new("true").status().unwrap();
    ///     assert!(status.success());
    /// });
    /// ```
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn_with([Stdio::inherit, Stdio::inherit, Stdio::inherit])?
            .wait()
    }
}

impl Deref for Command {
    type Target = std::process::Command;

    fn deref(&self) -> &std::process::Command {
        &self.inner
    }
}

impl DerefMut for Command {
    fn deref_mut(&mut self) -> &mut std::process::Command {
        &mut self.inner
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl From<std::process::Command> for Command {
    /// Wraps std's builder; streams it had set count as set.
    ///
    /// std has no getter for them, so all three are taken as unset: a
    /// stream std's builder had set stays set unless `output` needs it
    /// piped. Set them again through this wrapper to be sure.
    fn from(inner: std::process::Command) -> Command {
        Command {
            inner,
            stdio_set: [false; 3],
        }
    }
}

/// A running or exited child process, as [`std::process::Child`].
///
/// Dropping it neither kills nor waits for the child, as std's.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use corio::process::{Command, Stdio};
///
/// corio::run(|| -> std::io::Result<()> {
///     let mut child = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
///     child.stdin.take().unwrap().write_all(b"meow")?; // dropped: cat sees the end
///     let mut echoed = String::new();
///     child.stdout.take().unwrap().read_to_string(&mut echoed)?;
///     assert_eq!(echoed, "meow");
///     assert!(child.wait()?.success());
///     Ok(())
/// })
/// .unwrap();
/// ```
pub struct Child {
    /// std's child with its pipes taken out (they are below); it keeps
    /// the pid and the reaped status.
    inner: std::process::Child,
    /// How `wait` waits without blocking the runtime.
    exit: ExitWatch,
    /// The child's stdin, if piped, as std's `Child::stdin`.
    pub stdin: Option<ChildStdin>,
    /// The child's stdout, if piped, as std's `Child::stdout`.
    pub stdout: Option<ChildStdout>,
    /// The child's stderr, if piped, as std's `Child::stderr`.
    pub stderr: Option<ChildStderr>,
}

impl Child {
    /// Wraps std's child: its pipes go on the reactor, its exit is watched.
    fn from_std(mut inner: std::process::Child) -> io::Result<Child> {
        const WHAT: &str = "corio::process::Command::spawn";
        let stdin = inner.stdin.take().map(|p| Pipe::new(WHAT, Sender::from(p)));
        let stdout = inner
            .stdout
            .take()
            .map(|p| Pipe::new(WHAT, Receiver::from(p)));
        let stderr = inner
            .stderr
            .take()
            .map(|p| Pipe::new(WHAT, Receiver::from(p)));
        Ok(Child {
            exit: ExitWatch::new(inner.id()),
            inner,
            stdin: stdin.transpose()?.map(|pipe| ChildStdin { pipe }),
            stdout: stdout.transpose()?.map(|pipe| ChildStdout { pipe }),
            stderr: stderr.transpose()?.map(|pipe| ChildStderr { pipe }),
        })
    }

    /// Sends `SIGKILL` to the child, as [`std::process::Child::kill`];
    /// `Ok` if it has already exited.
    ///
    /// # Errors
    ///
    /// As std's.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::process::ExitStatusExt;
    ///
    /// corio::run(|| {
    ///     let mut child = corio::process::Command::new("sleep").arg("10").spawn().unwrap();
    ///     child.kill().unwrap();
    ///     assert_eq!(child.wait().unwrap().signal(), Some(9));
    /// });
    /// ```
    pub fn kill(&mut self) -> io::Result<()> {
        self.inner.kill()
    }

    /// The child's process id, as [`std::process::Child::id`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let mut child = corio::process::Command::new("true").spawn().unwrap();
    ///     assert!(child.id() > 0);
    ///     child.wait().unwrap();
    /// });
    /// ```
    pub fn id(&self) -> u32 {
        self.inner.id()
    }

    /// Waits for the child to exit and returns its status, closing its
    /// stdin first, as [`std::process::Child::wait`]; later calls return
    /// the same status.
    ///
    /// # Coroutines
    ///
    /// Suspends only the caller: on the child's pidfd, or on a pool thread
    /// where the kernel has no pidfd (see the [module docs](self)).
    ///
    /// # Errors
    ///
    /// As std's.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let mut child = corio::process::Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
    ///     assert_eq!(child.wait().unwrap().code(), Some(7));
    ///     assert_eq!(child.wait().unwrap().code(), Some(7));
    /// });
    /// ```
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        self.exit.wait(&mut self.inner)
    }

    /// The child's status if it has exited, `None` if not, without
    /// waiting, as [`std::process::Child::try_wait`].
    ///
    /// # Errors
    ///
    /// As std's.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let mut child = corio::process::Command::new("sleep").arg("10").spawn().unwrap();
    ///     assert!(child.try_wait().unwrap().is_none());
    ///     child.kill().unwrap();
    ///     child.wait().unwrap();
    ///     assert!(child.try_wait().unwrap().is_some());
    /// });
    /// ```
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.inner.try_wait()
    }

    /// Closes stdin, reads stdout and stderr to their ends and waits for
    /// the child, as [`std::process::Child::wait_with_output`].
    ///
    /// # Coroutines
    ///
    /// Suspends only the caller; stderr is drained by a coroutine of its
    /// own meanwhile (outside a runtime: a thread), so a child that fills
    /// one pipe while the other is read cannot deadlock.
    ///
    /// # Errors
    ///
    /// As std's.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::process::{Command, Stdio};
    ///
    /// corio::run(|| {
    ///     let child = Command::new("sh")
    ///         .args(["-c", "echo out; echo err >&2"])
    ///         .stdout(Stdio::piped())
    ///         .stderr(Stdio::piped())
    ///         .spawn()
    ///         .unwrap();
    ///     let out = child.wait_with_output().unwrap();
    ///     assert_eq!((&out.stdout[..], &out.stderr[..]), (&b"out\n"[..], &b"err\n"[..]));
    /// });
    /// ```
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let stdout = self.stdout.take();
        let stderr = self.stderr.take();
        let (stdout, stderr) = match (stdout, stderr) {
            (Some(out), Some(err)) => read_both(out, err)?,
            (out, err) => (read_all(out)?, read_all(err)?),
        };
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

/// Everything `stream` has until its end; empty for `None`.
fn read_all<R: Read>(stream: Option<R>) -> io::Result<Vec<u8>> {
    let mut all = Vec::new();
    if let Some(mut stream) = stream {
        stream.read_to_end(&mut all)?;
    }
    Ok(all)
}

/// Drains `out` and `err` at once: `err` on a coroutine (a thread outside
/// a runtime) while this one reads `out`.
fn read_both(out: ChildStdout, err: ChildStderr) -> io::Result<(Vec<u8>, Vec<u8>)> {
    let joined = if err.pipe.is_registered() {
        let drain = task::spawn(move || read_all(Some(err)));
        let out = read_all(Some(out));
        (out, drain.join())
    } else {
        // Outside a runtime the pipe is a plain blocking fd: a thread reads it.
        let err = std::fs::File::from(OwnedFd::from(err));
        let drain = std::thread::spawn(move || read_all(Some(err)));
        let out = read_all(Some(out));
        (out, drain.join())
    };
    match joined {
        (out, Ok(err)) => Ok((out?, err?)),
        (_, Err(_)) => Err(io::Error::other(
            "corio::process::Child::wait_with_output: the reader of the child's stderr panicked",
        )),
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child")
            .field("pid", &self.inner.id())
            .field("wait", &self.exit.kind())
            .field("stdin", &self.stdin)
            .field("stdout", &self.stdout)
            .field("stderr", &self.stderr)
            .finish()
    }
}

/// Defines the shared parts of a child pipe type: `AsFd`, `AsRawFd`,
/// `Debug`, and the conversions to `OwnedFd` and `Stdio`.
macro_rules! child_pipe {
    ($name:ident) => {
        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.pipe.end().as_fd()
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.pipe.end().as_raw_fd()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("fd", &self.as_raw_fd())
                    .finish_non_exhaustive()
            }
        }

        impl From<$name> for OwnedFd {
            /// The pipe end, blocking again and off the reactor.
            ///
            /// # Panics
            ///
            /// If clearing `O_NONBLOCK` fails, which `fcntl` does only for
            /// a closed descriptor: this end is open.
            fn from(pipe: $name) -> OwnedFd {
                pipe.pipe
                    .into_blocking()
                    .expect("fcntl(F_SETFL) fails only on a closed fd, and this pipe is open")
            }
        }

        impl From<$name> for Stdio {
            /// The pipe end as another child's stdio (std's
            /// `From<ChildStdout> for Stdio` and kin), blocking again.
            fn from(pipe: $name) -> Stdio {
                Stdio::from(OwnedFd::from(pipe))
            }
        }
    };
}

/// The writing end of a child's stdin, as [`std::process::ChildStdin`].
///
/// # Coroutines
///
/// A write that finds the pipe full suspends only the caller until the
/// child reads.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use corio::process::{Command, Stdio};
///
/// corio::run(|| {
///     let mut child = Command::new("wc").arg("-c").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
///     child.stdin.take().unwrap().write_all(b"12345").unwrap();
///     let out = child.wait_with_output().unwrap();
///     assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), "5");
/// });
/// ```
pub struct ChildStdin {
    /// The parent's end of the pipe.
    pipe: Pipe<Sender>,
}

child_pipe!(ChildStdin);

impl Write for ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pipe.io(
            "corio::process::ChildStdin::write",
            Interest::WRITABLE,
            |end| {
                let mut end = end;
                end.write(buf)
            },
        )
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The reading end of a child's stdout, as [`std::process::ChildStdout`].
///
/// # Coroutines
///
/// A read that finds the pipe empty suspends only the caller until the
/// child writes or exits.
///
/// # Examples
///
/// ```
/// use std::io::Read;
/// use corio::process::{Command, Stdio};
///
/// corio::run(|| {
///     let mut child = Command::new("echo").arg("hi").stdout(Stdio::piped()).spawn().unwrap();
///     let mut text = String::new();
///     child.stdout.take().unwrap().read_to_string(&mut text).unwrap();
///     assert_eq!(text, "hi\n");
///     child.wait().unwrap();
/// });
/// ```
pub struct ChildStdout {
    /// The parent's end of the pipe.
    pipe: Pipe<Receiver>,
}

child_pipe!(ChildStdout);

impl Read for ChildStdout {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.pipe.io(
            "corio::process::ChildStdout::read",
            Interest::READABLE,
            |end| {
                let mut end = end;
                end.read(buf)
            },
        )
    }
}

/// The reading end of a child's stderr, as [`std::process::ChildStderr`].
///
/// # Coroutines
///
/// A read that finds the pipe empty suspends only the caller until the
/// child writes or exits.
///
/// # Examples
///
/// ```
/// use std::io::Read;
/// use corio::process::{Command, Stdio};
///
/// corio::run(|| {
///     let mut child = Command::new("sh").args(["-c", "echo no >&2"]).stderr(Stdio::piped()).spawn().unwrap();
///     let mut text = String::new();
///     child.stderr.take().unwrap().read_to_string(&mut text).unwrap();
///     assert_eq!(text, "no\n");
///     child.wait().unwrap();
/// });
/// ```
pub struct ChildStderr {
    /// The parent's end of the pipe.
    pipe: Pipe<Receiver>,
}

child_pipe!(ChildStderr);

impl Read for ChildStderr {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.pipe.io(
            "corio::process::ChildStderr::read",
            Interest::READABLE,
            |end| {
                let mut end = end;
                end.read(buf)
            },
        )
    }
}
