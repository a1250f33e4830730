//! The stall watchdog: one OS thread per process that samples the pulse of
//! every runtime built with a stall threshold, and reports a coroutine that
//! has kept its runtime's thread past it.
//!
//! # How it looks
//!
//! Every runtime's scheduler keeps its tick countdown in its pulse
//! (`scheduler/pulse.rs`): it moves at every switch, and a runtime blocked
//! in its poller says so. The watchdog reads every pulse each quarter of
//! the smallest threshold (every 5 ms while a reported stall lasts, to time
//! its end). A busy runtime whose countdown has not moved for a threshold
//! has one coroutine holding its thread: the watchdog reads what that
//! thread is doing from `/proc` ([`Activity`]) and reports a [`Stall`].
//! Because it samples, a reported length can be short by up to one sampling
//! period (a quarter of the threshold).
//!
//! # Where reports go
//!
//! To `runtime::Builder::on_stall`'s callback if the runtime has one (every
//! stall, its start and its end; a panic in it is caught and said once on
//! stderr), else to stderr; to `log::warn!` as well. stderr and `log` are
//! rate-limited process-wide: the first [`BURST`] stalls are reported, then
//! one per [`QUIET_PERIOD`], and the next report says how many it left out;
//! a stall's end is printed when its start was. A runtime dropped while
//! one of its stalls is still reported as lasting prints the end itself
//! (its thread is dropping it, so the stall is over): a program that exits
//! right after a stall does not lose that line. With tracing on, every
//! stall also goes into the runtime's trace (`trace::StallNote`), through a
//! log the recorder takes with its events.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use crate::scheduler::lock_unpoisoned as lock;
use std::time::{Duration, Instant};

use super::activity::{self, Activity};
use crate::scheduler::{Beat, TaskId, sample_watched};
use crate::trace::{LoggedStall, STALL_LOG_CAPACITY, StallLog};

/// Stall reports printed before the rate limit starts.
pub const BURST: u32 = 10;
/// After the first [`BURST`] reports, at most one per this period.
pub const QUIET_PERIOD: Duration = Duration::from_secs(10);
/// Sampling period while a reported stall lasts, to time its end.
const END_PERIOD: Duration = Duration::from_millis(5);

/// A stall callback (`runtime::Builder::on_stall`).
pub(crate) type OnStall = Arc<dyn Fn(&Stall) + Send + Sync + 'static>;

/// A coroutine that kept its runtime's OS thread past the stall threshold:
/// while it lasted, nothing else of its runtime ran.
///
/// The watchdog makes one when the stall passes the threshold (`ended:
/// false`) and one when it ends (`ended: true`, with its whole length).
/// `Display`s as the line corio prints on stderr.
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use corio::runtime::Runtime;
///
/// let mut rt = Runtime::builder()
///     .stall_threshold(Some(Duration::from_millis(50)))
///     .on_stall(|stall| {
///         if !stall.ended {
///             eprintln!("{} held the thread for {:?}: {}", stall.task, stall.elapsed, stall.activity);
///         }
///     })
///     .build()
///     .unwrap();
/// rt.block_on(|| std::thread::sleep(Duration::from_millis(200)));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Stall {
    /// The coroutine holding the thread.
    pub task: TaskId,
    /// Its name (`task::Builder::name`), if it has one.
    pub name: Option<String>,
    /// The runtime's OS thread: its name, or `tid N` for an unnamed one.
    pub thread: String,
    /// How long it has held the thread (at its end: in all), as sampled.
    pub elapsed: Duration,
    /// What the thread was doing when the watchdog looked.
    pub activity: Activity,
    /// Whether this is the end of the stall.
    pub ended: bool,
}

impl fmt::Display for Stall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match &self.name {
            Some(name) => format!("coroutine {} '{name}'", self.task.as_u64()),
            None => format!("coroutine {}", self.task.as_u64()),
        };
        let elapsed = millis(self.elapsed);
        if self.ended {
            return write!(
                f,
                "corio: {who} released thread {} after {elapsed} ({})",
                self.thread, self.activity
            );
        }
        write!(
            f,
            "corio: {who} has held thread {} for {elapsed}: {}",
            self.thread, self.activity
        )?;
        match self.activity.hint() {
            "" => Ok(()),
            hint => write!(f, " ({hint})"),
        }
    }
}

/// `d` in whole milliseconds.
fn millis(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// One runtime the watchdog watches.
struct Watch {
    /// Its threshold.
    threshold: Duration,
    /// Its callback, if it has one.
    on_stall: Option<OnStall>,
    /// Where its stalls go for the trace, when tracing is on.
    log: Option<StallLog>,
    /// The stall reported and still lasting. Kept here, not in the
    /// watchdog's own state, so that a runtime dropped before the watchdog
    /// saw the end (a program that exits right after a stall) reports the
    /// end itself.
    lasting: Option<Lasting>,
}

/// A reported stall that has not ended yet.
#[derive(Clone)]
struct Lasting {
    /// The report at its start (its `elapsed` updated at each sample).
    stall: Stall,
    /// When the watchdog first saw the beat the stall holds.
    since: Instant,
    /// Whether its start was printed (so its end is).
    printed: bool,
}

/// The runtimes being watched, by runtime id, and whether the thread runs.
struct Watches {
    /// By runtime id (few: a `Vec` keeps the static `const`).
    by_runtime: Vec<(u32, Watch)>,
    /// Whether the watchdog thread has been started.
    started: bool,
}

impl Watches {
    /// The watch of `runtime`, if it is still watched.
    fn of(&mut self, runtime: u32) -> Option<&mut Watch> {
        self.by_runtime
            .iter_mut()
            .find(|(id, _)| *id == runtime)
            .map(|(_, watch)| watch)
    }
}

/// The watch list and the condition the idle watchdog waits on.
static WATCHES: Mutex<Watches> = Mutex::new(Watches {
    by_runtime: Vec::new(),
    started: false,
});
/// Signalled when a runtime is added to an empty watch list.
static ADDED: Condvar = Condvar::new();
/// Held from the moment a stall becomes [`Lasting`] until its start line is
/// out, and while its end line is written: a stall's end never comes out
/// before its start, whichever thread (the watchdog, or the thread
/// dropping the runtime) writes it. Never taken while [`WATCHES`] is held.
static REPORTING: Mutex<()> = Mutex::new(());

/// Watches runtime `runtime` until the guard is dropped; starts the
/// watchdog thread with the first runtime. `log`, when tracing is on,
/// receives the runtime's stalls for its trace.
pub(crate) fn watch(
    runtime: u32,
    threshold: Duration,
    on_stall: Option<OnStall>,
    log: Option<StallLog>,
) -> WatchGuard {
    let mut watches = lock(&WATCHES);
    watches.by_runtime.push((
        runtime,
        Watch {
            threshold,
            on_stall,
            log,
            lasting: None,
        },
    ));
    if !watches.started {
        let spawned = std::thread::Builder::new()
            .name("corio-watchdog".into())
            .spawn(run);
        match spawned {
            Ok(_) => watches.started = true,
            Err(e) => {
                // No thread, no reports: say so once, and carry on.
                let _ = writeln!(
                    std::io::stderr(),
                    "corio: could not start the stall watchdog thread ({e}); stalls will \
                     not be reported"
                );
                watches.started = true;
            }
        }
    }
    ADDED.notify_one();
    WatchGuard(runtime)
}

/// Keeps a runtime watched; dropping it stops that, and ends a stall still
/// reported as lasting: the runtime's thread is dropping it, so the stall
/// is over, and its end line must not be lost when the process exits next.
#[derive(Debug)]
pub(crate) struct WatchGuard(u32);

impl Drop for WatchGuard {
    fn drop(&mut self) {
        let (watch, now) = {
            let mut watches = lock(&WATCHES);
            let at = watches.by_runtime.iter().position(|(id, _)| *id == self.0);
            (
                at.map(|at| watches.by_runtime.swap_remove(at).1),
                Instant::now(),
            )
        };
        if let Some(Watch {
            lasting: Some(lasting),
            on_stall,
            log,
            ..
        }) = watch
        {
            let _reporting = lock(&REPORTING);
            end(
                lasting,
                now,
                on_stall.as_ref(),
                log.as_ref(),
                &mut Limiter::default(),
            );
        }
    }
}

/// What the watchdog knows of one runtime between samples.
#[derive(Default)]
struct Track {
    /// The last beat read, and since when it has been the same.
    last: Option<(Beat, Instant)>,
    /// Whether a stall of this runtime is [`Lasting`] (a copy of
    /// `Watch::lasting.is_some()`, to spare a lock per sample).
    lasting: bool,
}

/// What one sample found of one runtime.
struct Sample {
    /// The runtime.
    runtime: u32,
    /// Its beat.
    beat: Beat,
    /// Its thread's kernel id.
    tid: i32,
    /// Its thread's name, if it has one.
    thread: Option<Arc<str>>,
}

/// What the watchdog copies of a [`Watch`] each round, to work unlocked.
struct Copied {
    runtime: u32,
    threshold: Duration,
    on_stall: Option<OnStall>,
    log: Option<StallLog>,
}

/// The watchdog thread. In the steady state a round allocates nothing: the
/// lists are kept and cleared, and text is made only for a report.
fn run() {
    let mut tracks: HashMap<u32, Track> = HashMap::new();
    let mut limiter = Limiter::default();
    let mut watches: Vec<Copied> = Vec::new();
    let mut samples: Vec<Sample> = Vec::new();
    loop {
        let period = {
            let mut guard = lock(&WATCHES);
            while guard.by_runtime.is_empty() {
                guard = ADDED.wait(guard).unwrap_or_else(PoisonError::into_inner);
            }
            watches.clear();
            watches.extend(guard.by_runtime.iter().map(|(id, w)| Copied {
                runtime: *id,
                threshold: w.threshold,
                on_stall: w.on_stall.clone(),
                log: w.log.clone(),
            }));
            let smallest = watches.iter().map(|w| w.threshold).min();
            let mut period = smallest.unwrap_or(Duration::from_millis(100)) / 4;
            if tracks.values().any(|t| t.lasting) {
                period = period.min(END_PERIOD);
            }
            period
        };
        let now = Instant::now();
        samples.clear();
        sample_watched(|pulse| {
            if watches.iter().any(|w| w.runtime == pulse.runtime()) {
                samples.push(Sample {
                    runtime: pulse.runtime(),
                    beat: pulse.beat(),
                    tid: pulse.tid(),
                    thread: pulse.thread_name(),
                });
            }
        });
        tracks.retain(|runtime, _| watches.iter().any(|w| w.runtime == *runtime));
        for sample in &samples {
            let Some(watch) = watches.iter().find(|w| w.runtime == sample.runtime) else {
                continue;
            };
            let track = tracks.entry(sample.runtime).or_default();
            let same = track.last.is_some_and(|(beat, _)| beat == sample.beat);
            if !same || !sample.beat.busy {
                if std::mem::take(&mut track.lasting) {
                    let _reporting = lock(&REPORTING);
                    let lasting = lock(&WATCHES)
                        .of(sample.runtime)
                        .and_then(|w| w.lasting.take());
                    // None: the runtime was dropped, and its dropping
                    // thread reported the end.
                    if let Some(lasting) = lasting {
                        end(
                            lasting,
                            now,
                            watch.on_stall.as_ref(),
                            watch.log.as_ref(),
                            &mut limiter,
                        );
                    }
                }
                track.last = Some((sample.beat, now));
                continue;
            }
            let since = track.last.map_or(now, |(_, since)| since);
            let elapsed = now - since;
            if track.lasting {
                let mut watches = lock(&WATCHES);
                if let Some(lasting) = watches.of(sample.runtime).and_then(|w| w.lasting.as_mut()) {
                    lasting.stall.elapsed = elapsed;
                }
                drop(watches);
                note_held(watch.log.as_ref(), sample.beat.running, since, elapsed);
            } else if elapsed >= watch.threshold {
                let stall = stall_of(sample, elapsed);
                let _reporting = lock(&REPORTING);
                let show = limiter.admit(Instant::now());
                {
                    let mut watches = lock(&WATCHES);
                    let Some(w) = watches.of(sample.runtime) else {
                        continue;
                    };
                    w.lasting = Some(Lasting {
                        stall: stall.clone(),
                        since,
                        printed: show,
                    });
                }
                track.lasting = true;
                let line = report(&stall, watch.on_stall.as_ref(), &mut limiter, show);
                if let Some(log) = &watch.log {
                    let mut log = lock(log);
                    if log.len() < STALL_LOG_CAPACITY {
                        log.push(LoggedStall {
                            task: sample.beat.running,
                            began: since,
                            held: elapsed,
                            report: line,
                        });
                    }
                }
            }
        }
        std::thread::sleep(period);
    }
}

/// Reports the end of `lasting`, seen over at `now` (the first sample that
/// found its beat moved, or the runtime's drop).
fn end(
    lasting: Lasting,
    now: Instant,
    on_stall: Option<&OnStall>,
    log: Option<&StallLog>,
    limiter: &mut Limiter,
) {
    let held = lasting.stall.elapsed.max(now - lasting.since);
    let end = Stall {
        ended: true,
        elapsed: held,
        ..lasting.stall
    };
    note_held(log, end.task.serial(), lasting.since, held);
    report(&end, on_stall, limiter, lasting.printed);
}

/// Updates the length of the logged stall of `task` that began `since`.
fn note_held(log: Option<&StallLog>, task: u64, since: Instant, held: Duration) {
    if let Some(log) = log
        && let Some(note) = lock(log)
            .iter_mut()
            .rev()
            .find(|note| note.task == task && note.began == since)
    {
        note.held = held;
    }
}

/// The stall a sample shows, with what its thread is doing.
fn stall_of(sample: &Sample, elapsed: Duration) -> Stall {
    let serial = sample.beat.running;
    let mut name = None;
    sample_watched(|pulse| {
        if pulse.runtime() == sample.runtime {
            name = pulse.task_name(serial).map(|n| n.to_string());
        }
    });
    Stall {
        task: TaskId::unkeyed(sample.runtime, serial),
        name,
        thread: sample
            .thread
            .as_ref()
            .map_or_else(|| format!("tid {}", sample.tid), |n| format!("'{n}'")),
        elapsed,
        activity: activity::read(sample.tid),
        ended: false,
    }
}

/// Reports `stall` to the callback or, if `show` (the rate limit let it
/// through; for an end: its start was shown), to stderr; to `log` as well
/// if `show`. Returns the line.
fn report(stall: &Stall, on_stall: Option<&OnStall>, limiter: &mut Limiter, show: bool) -> String {
    let line = stall.to_string();
    let left_out = if show && !stall.ended {
        limiter.take_left_out()
    } else {
        0
    };
    let line = if left_out > 0 {
        format!("{line} [{left_out} earlier stall report(s) left out by the rate limit]")
    } else {
        line
    };
    match on_stall {
        Some(callback) => call_back(callback, stall),
        None if show => {
            let _ = writeln!(std::io::stderr().lock(), "{line}");
        }
        None => {}
    }
    if show {
        log::warn!("{line}");
    }
    line
}

/// Calls the user's callback; a panic in it is caught and said once.
fn call_back(callback: &OnStall, stall: &Stall) {
    if panic::catch_unwind(AssertUnwindSafe(|| callback(stall))).is_err() {
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            let _ = writeln!(
                std::io::stderr().lock(),
                "corio: the on_stall callback panicked; the panic was caught and the \
                 watchdog carries on (it keeps calling the callback for later stalls)"
            );
        });
    }
}

/// The process-wide rate limit of printed stall reports (module docs).
#[derive(Default)]
struct Limiter {
    /// Reports printed so far.
    printed: u32,
    /// When the last one was printed.
    last: Option<Instant>,
    /// Stalls left out since the last printed report.
    left_out: u64,
    /// `left_out` as of the last admitted report, to be said in it.
    to_say: u64,
}

impl Limiter {
    /// Whether a new stall's report is printed at `now`.
    fn admit(&mut self, now: Instant) -> bool {
        let admitted = self.printed < BURST
            || self
                .last
                .is_none_or(|last| now.duration_since(last) >= QUIET_PERIOD);
        if admitted {
            self.printed = self.printed.saturating_add(1);
            self.last = Some(now);
            self.to_say = std::mem::take(&mut self.left_out);
        } else {
            self.left_out += 1;
        }
        admitted
    }

    /// How many reports the last admitted one left out.
    fn take_left_out(&mut self) -> u64 {
        std::mem::take(&mut self.to_say)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_lets_a_burst_through_then_one_per_period() {
        let mut limiter = Limiter::default();
        let start = Instant::now();
        for _ in 0..BURST {
            assert!(limiter.admit(start));
        }
        assert!(!limiter.admit(start + Duration::from_secs(1)));
        assert!(!limiter.admit(start + Duration::from_secs(2)));
        assert!(limiter.admit(start + QUIET_PERIOD));
        assert_eq!(limiter.take_left_out(), 2);
        assert_eq!(limiter.take_left_out(), 0);
    }

    #[test]
    fn a_stall_reads_as_the_documented_line() {
        let stall = Stall {
            task: TaskId::unkeyed(1, 7),
            name: Some("sleeper".into()),
            thread: "'main'".into(),
            elapsed: Duration::from_millis(104),
            activity: Activity::Blocked {
                syscall: "clock_nanosleep".into(),
                on: None,
            },
            ended: false,
        };
        assert_eq!(
            stall.to_string(),
            "corio: coroutine 7 'sleeper' has held thread 'main' for 104 ms: blocked in \
             clock_nanosleep (std::thread::sleep? use corio::thread::sleep)"
        );
        let end = Stall {
            ended: true,
            elapsed: Duration::from_millis(205),
            ..stall
        };
        assert_eq!(
            end.to_string(),
            "corio: coroutine 7 'sleeper' released thread 'main' after 205 ms (blocked in \
             clock_nanosleep)"
        );
    }
}
