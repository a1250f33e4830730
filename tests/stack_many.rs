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
    assert_eq!(pool.pooled(), STACKS);
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
