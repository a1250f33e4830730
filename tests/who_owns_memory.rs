//! `examples/who_owns_memory` shows by experiment who owns memory; these
//! checks hold its figures to what they claim: a forked child copies pages
//! only when it writes them and then sees its own bytes, threads and
//! coroutines see each other's heap writes, and each has a stack of its own.

mod util;

use serde_json::Value;

#[test]
fn the_experiments_show_copy_on_write_a_shared_heap_and_a_stack_each() {
    let stdout = util::run_example("who_owns_memory", &["--json"]);
    let report: Value = serde_json::from_slice(&stdout).expect("one JSON object");
    let number = |path: &str| {
        report
            .pointer(path)
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("{path} is not a number in {report}"))
    };

    let pages = number("/fork/pages");
    assert!(
        number("/fork/child_faults_reading") < pages / 4,
        "reading shared pages should not copy them: {report}"
    );
    assert!(
        number("/fork/child_faults_writing") >= pages,
        "each written page must be copied: {report}"
    );
    assert!(number("/fork/child_private_dirty_growth_bytes") >= pages * 4096);
    assert_eq!(number("/fork/child_saw_after_write"), u64::from(b'C'));
    assert_eq!(
        number("/fork/parent_saw_after_child_wrote"),
        u64::from(b'P')
    );

    assert_eq!(
        number("/threads/seen_by_main_thread"),
        number("/threads/written_by_other_thread")
    );
    assert_eq!(
        number("/coroutines/seen_by_root"),
        number("/coroutines/written_by_other_coroutine")
    );
    assert_eq!(
        report.pointer("/coroutines/locals_kept_across_switches"),
        Some(&Value::Bool(true))
    );
    // Distinct stacks: no two locals closer than a stack.
    assert!(
        number("/threads/min_stack_distance_bytes") >= 16 * 1024,
        "{report}"
    );
    assert!(
        number("/coroutines/min_stack_distance_bytes") >= number("/coroutines/stack_size_bytes"),
        "{report}"
    );
}
