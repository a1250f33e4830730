//! What a task is: its id, the boxed [`Task`] that carries its coroutine,
//! and the slot that says where it is while it is not running.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;

use corosensei::{Coroutine, Yielder};

use super::metrics::TaskCounters;
use super::suspend::{Blocker, Switch};
use crate::stack::{PooledStack, StackSpan};
use crate::timer::TimerKey;

/// Identifies a task within its runtime.
///
/// It carries the task's slot in the runtime's task table, the runtime it
/// belongs to, *and* a serial number that is never reused, so an id kept
/// after its task ended can never reach a later task that happens to get the
/// same slot, and an id of one runtime never names a task of another.
///
/// # Examples
///
/// ```
/// let (a, b) = corio::run(|| {
///     let a = corio::spawn(|| ());
///     let b = corio::spawn(|| ());
///     (a.id(), b.id())
/// });
/// assert_ne!(a, b);
/// println!("{a} and {b}"); // "task 2 and task 3"
/// ```
///
/// Two ids are equal when they name the same task: the same runtime and
/// serial (the slot follows from those).
#[derive(Clone, Copy, Debug)]
pub struct TaskId {
    /// Key of the task's slot in `Core::tasks`; reused after the task ends.
    key: u32,
    /// Which runtime of this process the task belongs to (`Core::runtime`);
    /// it fits in the padding beside `key`, so the id stays 16 bytes.
    runtime: u32,
    /// Unique within the runtime; what tells two users of one key apart.
    serial: u64,
}

impl TaskId {
    /// The id of the task with `serial` in slot `key` of runtime `runtime`.
    pub(crate) fn new(key: usize, runtime: u32, serial: u64) -> TaskId {
        let key = u32::try_from(key).expect("fewer than 2^32 live tasks");
        TaskId {
            key,
            runtime,
            serial,
        }
    }

    /// The id of task `serial` of runtime `runtime`, as a report from
    /// another thread knows it, without its slot: equal to the task's own
    /// id; a look-up of its slot finds nothing (a wake-up is ignored).
    pub(crate) fn unkeyed(runtime: u32, serial: u64) -> TaskId {
        TaskId {
            key: u32::MAX,
            runtime,
            serial,
        }
    }

    /// Key of the task's slot.
    pub(crate) fn key(self) -> usize {
        self.key as usize
    }

    /// The runtime the task belongs to.
    pub(crate) fn runtime(self) -> u32 {
        self.runtime
    }

    /// The serial that tells this task from other users of its slot.
    pub(crate) fn serial(self) -> u64 {
        self.serial
    }

    /// The task's serial number: unique among the tasks a runtime has ever
    /// run, counting from 1 in spawn order.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let a = corio::spawn(|| ());
    ///     let b = corio::spawn(|| ());
    ///     assert_eq!(b.id().as_u64(), a.id().as_u64() + 1);
    /// });
    /// ```
    pub fn as_u64(self) -> u64 {
        self.serial
    }
}

impl PartialEq for TaskId {
    #[inline]
    fn eq(&self, other: &TaskId) -> bool {
        self.serial == other.serial && self.runtime == other.runtime
    }
}

impl Eq for TaskId {}

impl std::hash::Hash for TaskId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.runtime.hash(state);
        self.serial.hash(state);
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "task {}", self.serial)
    }
}

/// How far below a parked task's recorded stack position its resume starts
/// reading: the switch's own frames and saved registers lie there.
const RESUME_BELOW: usize = 256;

/// How many cache lines of a parked task's stack [`Task::prefetch_resume`]
/// asks for: 1.5 KiB, which covers the wait path's frames and those of a
/// request handler above them (the HTTP server of `peers/benches/http.rs`
/// parks about 950 bytes below its stack's top). 16, 24 and 32 lines
/// measured alike there; each line is one more instruction per park.
const RESUME_LINES: usize = 24;

/// How far below `base` the address `sp` is, for a stack of `len` bytes
/// that begins at `base`: 0 (nothing known) for an address that is not on
/// it.
fn parked_depth(base: usize, len: u32, sp: usize) -> u32 {
    match base.checked_sub(sp).map(u32::try_from) {
        Some(Ok(depth)) if depth <= len => depth,
        _ => 0,
    }
}

/// The stack addresses [`Task::prefetch_resume`] asks for, one per cache
/// line from the first: from [`RESUME_BELOW`] under the parked position
/// `depth` bytes below `base`, [`RESUME_LINES`] lines up, never past
/// `base`; none when `depth` is 0.
fn resume_lines(base: usize, depth: u32) -> std::ops::Range<usize> {
    if depth == 0 {
        return base..base;
    }
    let from = (base - depth as usize).saturating_sub(RESUME_BELOW);
    from..(from + 64 * RESUME_LINES).min(base)
}

/// The coroutine type every task runs in.
pub(crate) type TaskCoroutine = Coroutine<(), Switch, (), PooledStack>;

/// A task's root function before its coroutine is made: what
/// `Coroutine::with_stack` runs at the first resume.
pub(crate) type TaskBody = Box<dyn FnOnce(&Yielder<(), Switch>, ())>;

/// A task's coroutine, or what becomes one at the task's first run.
///
/// On a new stack, or one whose memory was given back, the coroutine is
/// made at the first run (`Core::start`), not at the spawn, because making
/// it writes the stack's top page (the header, the first frame): written
/// at the spawn, that page has left the caches and the TLB by the time a
/// burst of spawns gets to run, and the first run pays to bring it back
/// (`examples/spawn_scale`'s cold spawn, against the page-fault floor).
/// The stack itself is taken at the spawn, untouched, so that a spawn that
/// cannot have one fails with the pool's error, as std's `Builder::spawn`
/// fails when no thread can be made. On a warm stack (a free one that
/// still holds its memory) the coroutine is made at the spawn: there is
/// no fault to move, and no box to pay for.
pub(crate) enum Run {
    /// Spawned, never run: its stack and its root function, both `Some`
    /// until the first run takes them (or a teardown drops the function).
    Unstarted(Option<PooledStack>, Option<TaskBody>),
    /// Made at the spawn on a warm stack, or at the first run.
    Started(TaskCoroutine),
}

impl Run {
    /// Whether the task's code has begun to run (a coroutine made but not
    /// yet resumed has not).
    pub(crate) fn started(&self) -> bool {
        match self {
            Run::Unstarted(..) => false,
            Run::Started(coroutine) => coroutine.started(),
        }
    }
}

/// A spawned coroutine and what the scheduler needs to know about it.
///
/// It is also what the running coroutine knows about itself: the
/// thread-local current task points here (see `context`), and the code the
/// coroutine runs reads `id`, `name` and `yielder` through that pointer while
/// its resumer holds `coroutine` mutably borrowed. So a task never moves
/// while it runs (it is resumed from a raw pointer to its heap place), and
/// nothing but its resumer touches `coroutine`.
///
/// `repr(C)`, with `coroutine` first: the task's address is then its
/// coroutine's, and its started coroutine's, so the yield path reaches it
/// with no address arithmetic and keeps one pointer live across the
/// switch, not two (`scripts/instructions.sh` counts the difference).
#[repr(C)]
pub(crate) struct Task {
    /// The coroutine, made at the spawn or at the first run (see [`Run`]);
    /// its root function catches panics, so resuming it never unwinds into
    /// the scheduler.
    pub(crate) coroutine: Run,
    /// Key in `Core::tasks` plus the serial that makes stale ids harmless.
    pub(crate) id: TaskId,
    /// The coroutine's way back to its resumer, lent by corosensei to its
    /// root function and stored here by it before any user code runs; null
    /// before the first resume. It lives at the base of the coroutine's
    /// stack, so it is valid whenever the coroutine runs.
    pub(crate) yielder: Cell<*const Yielder<(), Switch>>,
    /// What the task shares with the handles to it (its join slot): its
    /// name and park token. A view without the result type, so that a
    /// `Thread` handle (`corio::thread::current`) can reach them.
    pub(crate) shared: Rc<dyn TaskShared>,
    /// The task's counters, in its join slot (inside `shared`'s allocation,
    /// which `shared` keeps alive as long as the task): reached without a
    /// virtual call at every switch.
    pub(crate) counters: *const TaskCounters,
    /// Where its stack begins (its highest usable address; it grows down).
    stack_base: usize,
    /// Its stack's usable bytes: at most `MAX_STACK_SIZE`, 1 GiB, so 32
    /// bits hold it, and this field and the next share 8 bytes.
    stack_len: u32,
    /// How far below `stack_base` the coroutine's stack pointer about was
    /// when it last switched out to wait (0 before it first did): the frames
    /// it resumes into lie just above ([`Task::prefetch_resume`]).
    parked_depth: Cell<u32>,
}

const _: () = assert!(crate::stack::MAX_STACK_SIZE <= u32::MAX as usize);

impl Task {
    /// A new task, not yet started: `coroutine`, made or unstarted, on the
    /// stack at `span`.
    pub(crate) fn new(
        id: TaskId,
        (coroutine, span): (Run, StackSpan),
        shared: Rc<dyn TaskShared>,
        counters: *const TaskCounters,
    ) -> Task {
        Task {
            id,
            coroutine,
            yielder: Cell::new(std::ptr::null()),
            shared,
            counters,
            stack_base: span.base,
            stack_len: u32::try_from(span.len()).expect("a stack is at most MAX_STACK_SIZE"),
            parked_depth: Cell::new(0),
        }
    }

    /// Where its stack is, for the task dump's high-water mark.
    pub(crate) fn stack(&self) -> StackSpan {
        StackSpan {
            low: self.stack_base - self.stack_len as usize,
            base: self.stack_base,
        }
    }

    /// Notes that the running coroutine of this task is about to switch
    /// out to wait, with its stack pointer about at `sp` (an address on its
    /// stack), for [`Task::prefetch_resume`].
    #[inline(always)]
    pub(crate) fn note_parked_at(&self, sp: usize) {
        self.parked_depth
            .set(parked_depth(self.stack_base, self.stack_len, sp));
    }

    /// The task's counters.
    #[inline(always)]
    pub(crate) fn counters(&self) -> &TaskCounters {
        // SAFETY: `counters` points into the allocation `shared` keeps alive
        // for as long as this task lives (see the field).
        unsafe { &*self.counters }
    }

    /// Asks the CPU for what resuming this parked task will read: its
    /// counters, and the stack lines from a little below where it switched
    /// out (the switch's saved registers) up through the frames of the wait
    /// it returns from and of the code that called it. A prefetch never
    /// faults, so a line past the stack's top or an old address is
    /// harmless; it only costs the fetch.
    #[inline(always)]
    pub(crate) fn prefetch_resume(&self) {
        crate::stack::prefetch(self.counters as usize);
        crate::stack::prefetch_lines(resume_lines(self.stack_base, self.parked_depth.get()));
    }

    /// "task 7 'worker'", or "task 7" for an unnamed task.
    pub(crate) fn describe(&self) -> String {
        describe(self.id, self.shared.name())
    }
}

/// What a task shares with its handles, as the scheduler and `Thread` see
/// it: implemented by the join slot, whatever the task's result type.
pub(crate) trait TaskShared {
    /// The name given with `task::Builder::name`, for logs and reports.
    fn name(&self) -> Option<&str>;
    /// The task's park token (`thread::park`, `Thread::unpark`).
    fn parker(&self) -> &Parker;
}

/// A task's park token, as std's threads have: `unpark` makes it
/// available, `park` consumes it or waits for it.
#[derive(Debug, Default)]
pub(crate) struct Parker {
    /// Whether an `unpark` has come that no `park` has consumed yet.
    pub(crate) token: Cell<bool>,
    /// Whether the task waits in `park` now, so that `unpark` wakes it.
    pub(crate) waiting: Cell<bool>,
}

/// "task 7 'worker'", or "task 7" without a name.
pub(crate) fn describe(id: TaskId, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("{id} '{name}'"),
        None => id.to_string(),
    }
}

/// What a slab slot holds. A task that is queued or running is not in its
/// slot (the queue or the loop owns it); the slot stays to reserve the key and
/// to say, through `serial`, which task the key currently belongs to.
pub(crate) struct Slot {
    /// The serial of the task that owns this key; a wake-up whose id carries
    /// another serial is stale and ignored.
    pub(crate) serial: u64,
    /// Where the task is.
    pub(crate) state: SlotState,
}

/// See [`Slot`].
pub(crate) enum SlotState {
    /// In the run queue or running.
    Scheduled,
    /// Parked, waiting for a wake-up. Inline, not boxed: parking is on the
    /// hot path of every blocking wait and should not allocate.
    Parked(Parked),
}

/// A parked task and every registration that can wake it, so that whichever
/// fires first can cancel the others.
pub(crate) struct Parked {
    /// The task itself.
    pub(crate) task: Box<Task>,
    /// What it waits on (for the deadlock report).
    pub(crate) on: ParkedOn,
    /// Its timer, if it has a deadline.
    pub(crate) timer: Option<ParkedTimer>,
}

/// A [`TimerKey`] kept as two 8-byte halves. The key is a `u128`, aligned
/// to 16 bytes, which padded every entry of the task table from 80 bytes
/// to 96; a slab entry is part of what each live task costs.
#[derive(Clone, Copy)]
pub(crate) struct ParkedTimer([u64; 2]);

impl ParkedTimer {
    /// Keeps `key`.
    pub(crate) fn new(key: TimerKey) -> ParkedTimer {
        ParkedTimer([(key >> 64) as u64, key as u64])
    }

    /// The key kept.
    pub(crate) fn key(self) -> TimerKey {
        (u128::from(self.0[0]) << 64) | u128::from(self.0[1])
    }
}

/// What a parked task waits on.
pub(crate) enum ParkedOn {
    /// Someone holding its id (join, channel, park).
    Blocker(Blocker),
    /// A socket's readiness.
    Io(usize, mio::Interest),
    /// Only a timer.
    Sleep,
}

impl ParkedOn {
    /// Whether another thread will surely wake the task ([`Blocker::other_threads`]
    /// says `Some(true)`: a blocking job, a task of another runtime).
    pub(crate) fn surely_woken_elsewhere(&self) -> bool {
        matches!(self, ParkedOn::Blocker(blocker) if blocker.other_threads() == Some(true))
    }
}
#[cfg(test)]
mod tests {
    use super::{RESUME_BELOW, RESUME_LINES, Slot, Task, parked_depth, resume_lines};

    #[test]
    fn a_parked_position_is_kept_only_when_it_is_on_the_stack() {
        let base = 0x10_0000;
        assert_eq!(parked_depth(base, 0x4000, base - 0x230), 0x230);
        assert_eq!(parked_depth(base, 0x4000, base - 0x4000), 0x4000);
        // Below the stack, above it, or too far for 32 bits: unknown.
        assert_eq!(parked_depth(base, 0x4000, base - 0x4001), 0);
        assert_eq!(parked_depth(base, 0x4000, base + 8), 0);
        assert_eq!(parked_depth(usize::MAX, u32::MAX, 0), 0);
    }

    #[test]
    fn the_prefetched_lines_cover_the_frames_above_the_parked_position() {
        let base = 0x10_0000;
        // Deep in the stack: from a little below the position, RESUME_LINES up.
        let deep = resume_lines(base, 0x1000);
        assert_eq!(deep.start, base - 0x1000 - RESUME_BELOW);
        assert_eq!(deep.step_by(64).count(), RESUME_LINES);
        // Near the top: up to the base and no further.
        let shallow = resume_lines(base, 0x100);
        assert_eq!(shallow, base - 0x100 - RESUME_BELOW..base);
        // Never parked: nothing.
        assert!(resume_lines(base, 0).is_empty());
    }

    /// What each live task costs on the heap besides its join slot: its
    /// box and its task-table entry. A field added here shows up in
    /// `examples/spawn_scale`'s heap per coroutine; glibc hands out
    /// 16-byte size classes with an 8-byte header, so 104 is the largest
    /// box of the 112-byte class.
    #[test]
    fn a_task_fits_its_heap_budget() {
        assert!(
            size_of::<Task>() <= 104,
            "Task is {} bytes",
            size_of::<Task>()
        );
        assert_eq!(size_of::<Slot>(), 80, "a task-table entry");
        assert_eq!(size_of::<Option<Slot>>(), 80, "a slab entry adds nothing");
    }
}
