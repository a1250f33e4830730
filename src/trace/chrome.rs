//! The Chrome trace-event JSON export, for Perfetto and `chrome://tracing`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, Write};

use super::json::write_json_escaped;
use super::{EventKind, Trace, WakeCause};

impl Trace {
    /// Writes the whole trace as a Chrome trace-event JSON document (the
    /// format Perfetto and `chrome://tracing` open). Streams: nothing is
    /// allocated per event, so wrap a file in a `BufWriter`.
    ///
    /// # Errors
    ///
    /// What `out` returns.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = corio::Runtime::builder().trace(1024).build()?;
    /// rt.block_on(|| corio::spawn(|| ()).join().unwrap());
    /// let path = std::env::temp_dir().join("corio-doc-trace.json");
    /// let file = std::io::BufWriter::new(std::fs::File::create(&path)?);
    /// rt.take_trace().unwrap().write_chrome_json(file)?;
    /// # std::fs::remove_file(path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_chrome_json<W: Write>(&self, mut out: W) -> io::Result<()> {
        out.write_all(b"{\"traceEvents\":[\n")?;
        out.write_all(
            b"{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1,\"tid\":0,\"ts\":0,\
              \"args\":{\"name\":\"corio runtime\"}}",
        )?;
        self.write_chrome_events(&mut out, 1, 0)?;
        write!(
            out,
            "\n],\"displayTimeUnit\":\"ns\",\"otherData\":{{\"dropped_events\":{}}}}}\n",
            self.dropped
        )?;
        out.flush()
    }

    /// Writes the events as Chrome trace events of process `pid`, each as
    /// `,\n{...}`: for a caller that merges this runtime's timeline into a
    /// `traceEvents` array of its own, after at least one event. Tracks
    /// (`tid`): 0 for the scheduler, the task's id for each coroutine.
    /// `shift_ns` is added to every timestamp, to line the runtime's zero
    /// (when it was built) up with the zero of the caller's timeline.
    ///
    /// # Errors
    ///
    /// What `out` returns.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rt = corio::Runtime::builder().trace(1024).build()?;
    /// rt.block_on(|| corio::yield_now());
    /// let mut json = b"{\"traceEvents\":[{\"ph\":\"M\",\"name\":\"process_name\",\
    ///     \"pid\":7,\"tid\":0,\"ts\":0,\"args\":{\"name\":\"mine\"}}".to_vec();
    /// rt.take_trace().unwrap().write_chrome_events(&mut json, 7, 0)?;
    /// json.extend_from_slice(b"]}");
    /// assert!(json.ends_with(b"}]}"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_chrome_events<W: Write>(
        &self,
        out: &mut W,
        pid: u32,
        shift_ns: u64,
    ) -> io::Result<()> {
        /// Chrome's `ts` is in microseconds.
        struct Micros(u64);
        impl fmt::Display for Micros {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
            }
        }
        write!(
            out,
            ",\n{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":{pid},\"tid\":0,\"ts\":0,\
             \"args\":{{\"name\":\"scheduler (polls)\"}}}}"
        )?;
        // Per task: when its current run began, and the flow waiting to
        // land on its next run. Grows per task, not per event.
        let mut open: HashMap<u64, u64> = HashMap::new();
        let mut flows: HashMap<u64, u64> = HashMap::new();
        let mut named: HashSet<u64> = HashSet::new();
        let mut next_flow = 1u64;
        for e in &self.events {
            let at_ns = e.at_ns + shift_ns;
            let (ts, tid) = (Micros(at_ns), e.task);
            if tid != 0 && named.insert(tid) {
                write!(
                    out,
                    ",\n{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":{pid},\"tid\":{tid},\
                     \"ts\":0,\"args\":{{\"name\":\"task {tid}"
                )?;
                if let Some(name) = self.task_name(tid) {
                    out.write_all(b" '")?;
                    write_json_escaped(out, name)?;
                    out.write_all(b"'")?;
                }
                out.write_all(b"\"}}")?;
            }
            match e.kind {
                EventKind::Spawn { parent } => write!(
                    out,
                    ",\n{{\"ph\":\"i\",\"s\":\"t\",\"name\":\"spawn\",\"pid\":{pid},\
                     \"tid\":{tid},\"ts\":{ts},\"args\":{{\"parent\":{parent}}}}}"
                )?,
                EventKind::Resume => {
                    open.insert(tid, at_ns);
                    if let Some(id) = flows.remove(&tid) {
                        write!(
                            out,
                            ",\n{{\"ph\":\"f\",\"bp\":\"e\",\"cat\":\"wake\",\"name\":\"wake\",\
                             \"id\":{id},\"pid\":{pid},\"tid\":{tid},\"ts\":{ts}}}"
                        )?;
                    }
                }
                EventKind::Suspend(reason) => {
                    if let Some(start) = open.remove(&tid) {
                        write!(
                            out,
                            ",\n{{\"ph\":\"X\",\"name\":\"run → {reason}\",\"cat\":\"run\",\
                             \"pid\":{pid},\"tid\":{tid},\"ts\":{},\"dur\":{},\
                             \"args\":{{\"then\":\"{}\"}}}}",
                            Micros(start),
                            Micros(at_ns - start),
                            reason.word()
                        )?;
                    }
                }
                EventKind::Finish => {
                    if let Some(start) = open.remove(&tid) {
                        write!(
                            out,
                            ",\n{{\"ph\":\"X\",\"name\":\"run → finish\",\"cat\":\"run\",\
                             \"pid\":{pid},\"tid\":{tid},\"ts\":{},\"dur\":{}}}",
                            Micros(start),
                            Micros(at_ns - start)
                        )?;
                    }
                    write!(
                        out,
                        ",\n{{\"ph\":\"i\",\"s\":\"t\",\"name\":\"finish\",\"pid\":{pid},\
                         \"tid\":{tid},\"ts\":{ts}}}"
                    )?;
                }
                EventKind::Wake(cause) => {
                    let (from, what) = match cause {
                        WakeCause::Task(waker) => (waker, "task"),
                        WakeCause::Io => (0, "io"),
                        WakeCause::Timer => (0, "timer"),
                        WakeCause::OtherThread => (0, "other thread"),
                        WakeCause::Scheduler => (0, "scheduler"),
                    };
                    let id = next_flow;
                    next_flow += 1;
                    flows.insert(tid, id);
                    write!(
                        out,
                        ",\n{{\"ph\":\"i\",\"s\":\"t\",\"name\":\"woken ({what})\",\
                         \"pid\":{pid},\"tid\":{tid},\"ts\":{ts},\"args\":{{\"by\":{from}}}}}\
                         ,\n{{\"ph\":\"s\",\"cat\":\"wake\",\"name\":\"wake\",\"id\":{id},\
                         \"pid\":{pid},\"tid\":{from},\"ts\":{ts}}}"
                    )?;
                }
                EventKind::Poll { events, waited_ns } => {
                    let start = at_ns.saturating_sub(waited_ns);
                    write!(
                        out,
                        ",\n{{\"ph\":\"X\",\"name\":\"poll: {events} events\",\"cat\":\"poll\",\
                         \"pid\":{pid},\"tid\":0,\"ts\":{},\"dur\":{},\
                         \"args\":{{\"events\":{events}}}}}",
                        Micros(start),
                        Micros(waited_ns)
                    )?;
                }
            }
        }
        // Stalls: a slice inside the run slice that held the thread, so
        // that it nests under it on the task's track.
        for stall in &self.stalls {
            write!(
                out,
                ",\n{{\"ph\":\"X\",\"name\":\"stall\",\"cat\":\"stall\",\"pid\":{pid},\
                 \"tid\":{},\"ts\":{},\"dur\":{},\"args\":{{\"report\":\"",
                stall.task,
                Micros(stall.at_ns + shift_ns),
                Micros(stall.held_ns)
            )?;
            write_json_escaped(out, &stall.report)?;
            out.write_all(b"\"}}")?;
        }
        Ok(())
    }
}
