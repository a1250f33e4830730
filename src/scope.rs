//! `std::thread::scope` for coroutines: children that may borrow from the
//! stack of the coroutine that opened the scope, all of them ended before
//! the scope returns.
//!
//! The borrow is sound because the scope never lets its own frame go while
//! a child is alive. On the normal path it waits (suspending its coroutine)
//! until every child has ended. Where it cannot wait (its coroutine is being
//! unwound by a dropped runtime or by `block_on` after a deadlock, or the
//! scope was opened where no coroutine can suspend), it unwinds every child
//! that has not ended itself, right there, before its frame goes: a child's
//! destructors run while what they borrow is still alive.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::thread as std_thread;

use slab::Slab;

use crate::scheduler::{self, Blocker, TaskId};
use crate::stack;
use crate::sync::wait_queue::WaitQueue;
use crate::task::{self, JoinHandle};
use crate::thread::Thread;

/// Creates a scope for spawning coroutines that may borrow from the caller,
/// as [`std::thread::scope`] does for threads.
///
/// `f` gets a [`Scope`] to spawn with. When `f` returns, `scope` waits until
/// every coroutine spawned in the scope has ended, joined or not, and then
/// returns what `f` returned.
///
/// # Coroutines
///
/// The children are coroutines of the calling runtime; while `scope` waits
/// for them, only the calling coroutine is suspended. Unlike std's, the
/// closures need not be `Send`: they never leave this OS thread.
///
/// If the calling coroutine cannot wait for its children (the runtime is
/// dropped while the scope waits, or `block_on` gives up on a deadlock),
/// the children that have not ended are unwound on the spot, before the
/// scope's frame is left, so nothing they borrow is gone while they run
/// their destructors.
///
/// # Panics
///
/// If `f` panics, `scope` first waits for the children, then continues the
/// panic. If a child panicked and nobody joined it, `scope` panics once all
/// have ended, as std's does (unless the caller is already unwinding, where
/// a second panic would abort the process).
///
/// # Examples
///
/// ```
/// use corio::thread;
///
/// corio::run(|| {
///     let mut a = vec![1, 2, 3];
///     let mut x = 0;
///
///     thread::scope(|s| {
///         s.spawn(|| {
///             println!("hello from the first scoped coroutine");
///             // We can borrow `a` here.
///             dbg!(&a);
///         });
///         s.spawn(|| {
///             println!("hello from the second scoped coroutine");
///             // We can even mutably borrow `x` here,
///             // because no other coroutine is using it.
///             x += a[0] + a[2];
///         });
///         println!("hello from the main coroutine");
///     });
///
///     // After the scope, we can modify and access our variables again:
///     a.push(4);
///     assert_eq!(x, a.len());
/// });
/// ```
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        data: ScopeData {
            running: Cell::new(0),
            a_child_panicked: Cell::new(false),
            children: RefCell::new(Slab::new()),
            done: WaitQueue::new(),
        },
        scope: PhantomData,
        env: PhantomData,
    };
    // Whatever leaves this frame, no child outlives it.
    let _guard = UnwindChildren(&scope.data);
    let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    scope.data.wait_for_children();
    match result {
        Err(payload) => panic::resume_unwind(payload),
        Ok(_) if scope.data.a_child_panicked.get() && !std_thread::panicking() => {
            panic!("a scoped coroutine panicked")
        }
        Ok(value) => value,
    }
}

/// A scope to spawn coroutines that may borrow, made by [`scope`]; mirrors
/// [`std::thread::Scope`].
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let words = ["one", "two", "three"];
///     let total: usize = corio::thread::scope(|s| {
///         let handles: Vec<_> = words.iter().map(|w| s.spawn(move || w.len())).collect();
///         handles.into_iter().map(|h| h.join().unwrap()).sum()
///     });
///     assert_eq!(total, 11);
/// });
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    /// What the children and the waiting owner share.
    data: ScopeData,
    /// Invariance over `'scope`, as std's, so that a handle cannot be
    /// shortened or lengthened.
    scope: PhantomData<&'scope mut &'scope ()>,
    /// Invariance over `'env`, as std's.
    env: PhantomData<&'env mut &'env ()>,
}

/// The state of one scope, on its owner's stack.
struct ScopeData {
    /// Children that have not ended yet.
    running: Cell<usize>,
    /// Whether a child panicked with nobody to join it.
    a_child_panicked: Cell<bool>,
    /// The ids of the children that have not ended, for unwinding them;
    /// `None` for a moment while one is being spawned.
    children: RefCell<Slab<Option<TaskId>>>,
    /// Where the owner waits for `running` to reach 0.
    done: WaitQueue,
}

impl ScopeData {
    /// Suspends the calling coroutine until no child is running; where it
    /// cannot wait, unwinds the children instead.
    fn wait_for_children(&self) {
        const WHAT: &str = "thread::scope";
        while self.running.get() > 0 {
            let blocker = Blocker::Scope(self.running.get());
            if self.done.wait_once(WHAT, blocker).is_err() {
                self.unwind_children();
                return;
            }
        }
    }

    /// Unwinds every child that has not ended, now, on this stack.
    fn unwind_children(&self) {
        loop {
            // One at a time, and the table is not borrowed while a child
            // unwinds: its end takes its own entry out.
            let next = {
                let mut children = self.children.borrow_mut();
                let key = children.iter().next().map(|(key, _)| key);
                key.map(|key| children.remove(key))
            };
            let Some(id) = next else { break };
            let Some(id) = id else { continue };
            scheduler::try_with_core(|core| {
                if let Some(task) = core.take_any(id) {
                    core.unwind(task);
                }
            });
        }
        self.running.set(0);
    }

    /// Called by a child where it ends.
    fn child_ended(&self, key: usize, id: TaskId, unhandled_panic: bool) {
        {
            let mut children = self.children.borrow_mut();
            // The owner may have taken the entry out already (it unwinds the
            // children); then the key may even be another child's.
            if children.get(key) == Some(&Some(id)) {
                children.remove(key);
            }
        }
        if unhandled_panic {
            self.a_child_panicked.set(true);
        }
        let running = self.running.get().saturating_sub(1);
        self.running.set(running);
        if running == 0 {
            self.done.notify_all();
        }
    }
}

/// Unwinds the children that are still alive when the scope's frame is left
/// by a panic (the owner's coroutine being unwound while it waits).
struct UnwindChildren<'a>(&'a ScopeData);

impl Drop for UnwindChildren<'_> {
    fn drop(&mut self) {
        if !self.0.children.borrow().is_empty() {
            self.0.unwind_children();
        }
    }
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Spawns a coroutine in the scope: it may borrow anything that outlives
    /// the scope, and it has ended before [`scope`] returns. Mirrors
    /// [`std::thread::Scope::spawn`]; the closure need not be `Send`.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio runtime, or if the OS refuses a
    /// stack (use [`Builder::spawn_scoped`](crate::task::Builder::spawn_scoped)
    /// to get that as an error).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let mut counts = [0usize; 3];
    ///     corio::thread::scope(|s| {
    ///         for (i, c) in counts.iter_mut().enumerate() {
    ///             s.spawn(move || *c = i * 10);
    ///         }
    ///     });
    ///     assert_eq!(counts, [0, 10, 20]);
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + 'scope,
        T: 'scope,
    {
        match self.spawn_with(f, None, None) {
            Ok(handle) => handle,
            Err(e) => panic!("corio::thread::Scope::spawn could not create a coroutine: {e}"),
        }
    }

    /// `spawn` with a name and a stack size (already checked).
    #[track_caller]
    pub(crate) fn spawn_with<F, T>(
        &'scope self,
        f: F,
        name: Option<String>,
        stack_size: Option<usize>,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + 'scope,
        T: 'scope,
    {
        let data = &self.data;
        let key = data.children.borrow_mut().insert(None);
        let spawned = scheduler::with_core("corio::thread::Scope::spawn", |core| {
            let ended = move |id, unhandled_panic| data.child_ended(key, id, unhandled_panic);
            // SAFETY: the child ends before `'scope` does: `scope` waits for
            // every child it counts in `running`, and where it cannot wait,
            // or its frame is left by a panic, it unwinds every child listed
            // in `children` (this one is, from the line below) before it
            // returns. Its handle cannot outlive `'scope`, and takes the
            // result with it when dropped (`ScopedJoinHandle`'s `Drop`).
            unsafe { scheduler::spawn_unchecked_on(core, f, name, stack_size, ended) }
        });
        match spawned {
            Ok(inner) => {
                data.children.borrow_mut()[key] = Some(inner.id());
                data.running.set(data.running.get() + 1);
                Ok(ScopedJoinHandle {
                    inner: Some(JoinHandle::new(inner)),
                    data,
                })
            }
            Err(e) => {
                data.children.borrow_mut().remove(key);
                Err(e)
            }
        }
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("running", &self.data.running.get())
            .field("a_child_panicked", &self.data.a_child_panicked.get())
            .finish_non_exhaustive()
    }
}

/// An owned permission to join a scoped coroutine; mirrors
/// [`std::thread::ScopedJoinHandle`]. Dropping it does not detach the
/// coroutine from its scope: [`scope`] still waits for it.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let text = String::from("borrowed");
///     corio::thread::scope(|s| {
///         let h = s.spawn(|| text.len());
///         assert_eq!(h.join().unwrap(), 8);
///     });
/// });
/// ```
pub struct ScopedJoinHandle<'scope, T> {
    /// The task's own handle; taken only by `join`, which consumes `self`.
    inner: Option<JoinHandle<T>>,
    /// Its scope, told of a panic nobody joined.
    data: &'scope ScopeData,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Suspends the calling coroutine until the scoped coroutine ends, and
    /// returns its result, as [`JoinHandle::join`]: `Err(payload)` if it
    /// panicked (and then `scope` does not panic for it).
    ///
    /// # Panics
    ///
    /// As [`JoinHandle::join`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     corio::thread::scope(|s| {
    ///         let h = s.spawn(|| -> u8 { panic!("handled") });
    ///         assert!(h.join().is_err()); // joined: scope itself does not panic
    ///     });
    /// });
    /// ```
    #[track_caller]
    pub fn join(mut self) -> std_thread::Result<T> {
        self.inner.take().expect(LIVE).join()
    }

    /// Whether the coroutine has ended. Never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     corio::thread::scope(|s| {
    ///         let h = s.spawn(|| ());
    ///         assert!(!h.is_finished());
    ///         corio::yield_now();
    ///         assert!(h.is_finished());
    ///     });
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.inner().is_finished()
    }

    /// The coroutine's [`Thread`] handle: name, id and `unpark`.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     corio::thread::scope(|s| {
    ///         let h = s.spawn(|| corio::thread::park());
    ///         corio::yield_now(); // it parks
    ///         h.thread().unpark();
    ///         h.join().unwrap();
    ///     });
    /// });
    /// ```
    pub fn thread(&self) -> &Thread {
        // SAFETY: the result is taken before `'scope` ends (see `Drop` and
        // `join`), so a `Thread` kept longer reads nothing that borrows.
        unsafe { self.inner().thread_unchecked() }
    }

    /// The task's handle, there until `join` consumes `self`.
    fn inner(&self) -> &JoinHandle<T> {
        self.inner.as_ref().expect(LIVE)
    }
}

/// Why a `ScopedJoinHandle` always has its inner handle.
const LIVE: &str = "a ScopedJoinHandle holds its JoinHandle until join consumes it";

impl<T> Drop for ScopedJoinHandle<'_, T> {
    fn drop(&mut self) {
        // Not joined: take the result now (it may borrow, see
        // `scheduler::spawn_unchecked_on`), and tell the scope if it was a panic.
        if let Some(inner) = &self.inner {
            if inner.discard_result() {
                self.data.a_child_panicked.set(true);
            }
        }
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("id", &self.inner().id())
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl task::Builder {
    /// Spawns a named or sized coroutine in `scope`, as
    /// [`std::thread::Builder::spawn_scoped`].
    ///
    /// # Errors
    ///
    /// As [`Builder::spawn`](crate::task::Builder::spawn): `InvalidInput` for
    /// a stack size out of range, or the OS error if no stack could be mapped.
    ///
    /// # Panics
    ///
    /// Panics if called outside a corio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let data = vec![5, 6, 7];
    ///     corio::thread::scope(|s| {
    ///         let h = corio::thread::Builder::new()
    ///             .name("summer".into())
    ///             .spawn_scoped(s, || data.iter().sum::<i32>())
    ///             .unwrap();
    ///         assert_eq!(h.thread().name(), Some("summer"));
    ///         assert_eq!(h.join().unwrap(), 18);
    ///     });
    /// });
    /// ```
    #[track_caller]
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        f: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + 'scope,
        T: 'scope,
    {
        let (name, stack_size) = self.into_parts();
        let size = stack_size.map(stack::validate_stack_size).transpose()?;
        scope.spawn_with(f, name, size)
    }
}
