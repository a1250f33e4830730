//! Many live stacks: 100,000 fit under the default `vm.max_map_count`, and
//! with the `mprotect` fallback the limit is reported clearly.

mod util;

use std::io::ErrorKind;

use corio::stack::{self, DEFAULT_STACK_SIZE, GuardKind, StackPool};
use corosensei::stack::Stack;

#[test]
fn hundred_thousand_live_stacks_fit_in_few_mappings() {
    if stack::guard_kind() == GuardKind::Mprotect {
        eprintln!("skipped: this kernel has no MADV_GUARD_INSTALL (Linux 6.13+)");
        return;
    }
    const STACKS: usize = 100_000;
    let before = util::map_count();
    let mut pool = StackPool::new();
    let stacks: Vec<_> = (0..STACKS)
        .map(|task| {
            pool.take(DEFAULT_STACK_SIZE, task as u64, Some("many"))
                .unwrap()
        })
        .collect();
    for stack in &stacks {
        // SAFETY: the bytes below base are this stack's own, unused memory.
        unsafe { std::ptr::write_volatile((stack.base().get() - 16) as *mut u64, 1) };
    }
    let during = util::map_count();
    eprintln!("/proc/self/maps: {before} lines before, {during} with {STACKS} live stacks");
    assert!(
        during - before < 1_000,
        "{STACKS} stacks added {} mappings",
        during - before
    );

    stacks.into_iter().for_each(|stack| pool.give_back(stack));
    // A drop this large unmaps the chunks whose stacks are all free as it
    // goes; the hot set and the last chunks' stacks stay pooled.
    assert!(pool.pooled() < STACKS / 10, "{:?}", pool.stats());
    drop(pool);
    assert!(
        util::map_count() <= before + 10,
        "dropping the pool unmaps its arenas"
    );
}

#[test]
fn mprotect_fallback_reports_the_map_count_limit() {
    const NAME: &str = "mprotect_fallback_reports_the_map_count_limit";
    if util::is_child(NAME) {
        stack::force_guard_kind(GuardKind::Mprotect).expect("nothing carved a stack yet");
        let mut pool = StackPool::new();
        let mut stacks = Vec::new();
        let error = loop {
            match pool.take(stack::MIN_STACK_SIZE, stacks.len() as u64, None) {
                Ok(stack) => stacks.push(stack),
                Err(error) => break error,
            }
        };
        let live = stacks.len();
        assert!(
            (20_000..40_000).contains(&live),
            "{live} stacks before the limit"
        );
        assert_eq!(error.kind(), ErrorKind::OutOfMemory, "{error}");
        let message = error.to_string();
        assert!(message.contains("vm.max_map_count"), "{message}");
        assert!(message.contains(&format!("{live} stacks")), "{message}");
        assert!(message.contains("mprotect"), "{message}");
        eprintln!("fallback limit: {live} stacks; error: {message}");
        return;
    }
    let output = util::run_child(NAME);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed: {stderr}");
    assert!(
        stderr.contains("fallback limit:"),
        "the child ran the scenario: {stderr}"
    );
    println!("{}", stderr.trim());
}

/// Resident memory of this process (`VmRSS`), in bytes.
fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: usize = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line");
    kib * 1024
}

/// `count` coroutines, each run to its first wait: a receive on one
/// channel, which ends when the returned sender is dropped.
fn parked_on_a_channel(count: usize) -> (corio::sync::Sender<()>, Vec<corio::JoinHandle<()>>) {
    let spawned = spawned_to_wait_on_a_channel(count);
    corio::yield_now();
    spawned
}

/// [`parked_on_a_channel`] before any of them has run.
fn spawned_to_wait_on_a_channel(
    count: usize,
) -> (corio::sync::Sender<()>, Vec<corio::JoinHandle<()>>) {
    let (tx, rx) = corio::sync::channel::<()>();
    let rx = std::rc::Rc::new(rx);
    let spawned = (0..count)
        .map(|_| {
            let rx = rx.clone();
            corio::spawn(move || {
                let _ = rx.recv();
            })
        })
        .collect();
    (tx, spawned)
}

#[test]
fn memory_comes_back_after_a_large_drop() {
    // In a child process of its own, so that RSS and the map count are
    // this scenario's alone.
    const NAME: &str = "memory_comes_back_after_a_large_drop";
    if !util::is_child(NAME) {
        let (_, stderr) = util::run_child_ok(NAME, &[]);
        assert!(stderr.contains("after the drop:"), "{stderr}");
        println!("{}", stderr.trim());
        return;
    }
    const TASKS: usize = 30_000;
    let mut rt = corio::Runtime::builder()
        .stall_threshold(None)
        .build()
        .unwrap();
    let (rss_before, maps_before) = (rss_bytes(), util::map_count());
    let (peak, left, maps_left) = rt.block_on(|| {
        let (tx, all) = parked_on_a_channel(TASKS);
        let peak = rss_bytes();
        drop(tx);
        all.into_iter().for_each(|task| task.join().unwrap());
        // The first idle moment after the drop trims.
        corio::sleep(std::time::Duration::from_millis(1));
        (peak, rss_bytes(), util::map_count())
    });
    eprintln!(
        "after the drop: RSS {} KiB before, {} KiB with {TASKS} parked, {} KiB after; \
         maps {maps_before} before, {maps_left} after",
        rss_before / 1024,
        peak / 1024,
        left / 1024
    );
    let grown = peak - rss_before;
    // Every parked coroutine holds at least its stack's top page.
    assert!(
        grown >= TASKS * stack::page_size(),
        "{grown} bytes for {TASKS}"
    );
    // The hot set (256 stacks of a page or two), the batch in the making
    // and what the heap cannot give back stay: well under a tenth.
    assert!(
        left.saturating_sub(rss_before) < grown / 10,
        "{} of {grown} bytes stayed",
        left.saturating_sub(rss_before)
    );
    assert!(
        maps_left <= maps_before + 6,
        "{maps_before} maps before, {maps_left} after"
    );
}

#[test]
fn a_first_run_to_its_first_wait_stays_on_the_top_page() {
    corio::run(|| {
        let (tx, waiting) = parked_on_a_channel(3);
        let ids: Vec<_> = waiting.iter().map(|task| task.id()).collect();
        let dump = corio::runtime::tasks();
        let parked: Vec<_> = dump.iter().filter(|task| ids.contains(&task.id)).collect();
        assert_eq!(parked.len(), 3);
        // Unoptimised frames are bigger: a debug build populates two pages.
        let populated = if cfg!(debug_assertions) { 2 } else { 1 } * stack::page_size();
        for task in parked {
            // The header and the first frames stay on the pages the spawn
            // wrote (and, in a burst, populated): the first resume faults
            // no page of its own.
            assert!(
                task.stack_used > 0 && task.stack_used <= populated - 64,
                "{} used {} bytes of stack",
                task.id,
                task.stack_used
            );
        }
        drop(tx);
        waiting.into_iter().for_each(|task| task.join().unwrap());
    });
}

#[test]
fn a_burst_of_spawns_leaves_every_new_stack_untouched_until_its_task_runs() {
    // More than a population batch, in a fresh runtime: every stack is new.
    const TASKS: usize = 3 * stack::POPULATE_BATCH;
    corio::run(|| {
        let (tx, waiting) = spawned_to_wait_on_a_channel(TASKS);
        let ids: Vec<_> = waiting.iter().map(|task| task.id()).collect();
        let stack_use = || -> Vec<usize> {
            let dump = corio::runtime::tasks();
            let mine: Vec<_> = dump.iter().filter(|task| ids.contains(&task.id)).collect();
            assert_eq!(mine.len(), TASKS);
            mine.iter().map(|task| task.stack_used).collect()
        };
        // Queued, never run: no byte of any stack written yet (the label
        // and the first frame are written at the first run, where they
        // are used at once, not at the spawn, long before).
        assert!(
            stack_use().iter().all(|&used| used == 0),
            "stack use before any ran: {:?}",
            stack_use()
        );
        corio::yield_now();
        // Each ran to its first wait: its stack holds its frames now.
        assert!(
            stack_use().iter().all(|&used| used > 0),
            "stack use once all ran: {:?}",
            stack_use()
        );
        drop(tx);
        waiting.into_iter().for_each(|task| task.join().unwrap());
    });
}
