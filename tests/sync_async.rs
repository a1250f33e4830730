//! `examples/sync_async` calls one slow service four ways while A has work
//! of its own. What must hold whatever the machine: the sync caller waits
//! at least the service's delay; every async caller gets its work done
//! while the service is busy, so it waits less than the sync caller did;
//! and no answer arrives before the service's delay.

mod util;

use serde_json::Value;

#[test]
fn sync_waits_for_the_service_and_async_overlaps_it_with_work() {
    let delay_ms = 30.0;
    let stdout = util::run_example(
        "sync_async",
        &[
            "--json",
            "--delay-ms",
            "30",
            "--units",
            "3",
            "--work-ms",
            "20",
            "--rounds",
            "1",
        ],
    );
    let rows: Vec<Value> = String::from_utf8_lossy(&stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let styles: Vec<&str> = rows.iter().map(|r| r["style"].as_str().unwrap()).collect();
    assert_eq!(styles, ["sync", "callback", "channel", "coroutine"]);
    let f = |row: &Value, key: &str| {
        row[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key} in {row}"))
    };

    let sync = &rows[0];
    assert!(f(sync, "a_waited_ms") >= delay_ms, "{sync}");
    assert!(f(sync, "wall_ms") >= f(sync, "a_waited_ms") + f(sync, "a_worked_ms") - 1.0);
    for row in &rows {
        assert!(f(row, "answer_arrived_ms") >= delay_ms, "{row}");
        assert!(
            f(row, "a_had_answer_ms") >= f(row, "answer_arrived_ms"),
            "{row}"
        );
        assert!(f(row, "a_worked_ms") >= 60.0, "A did all its work: {row}");
    }
    for row in &rows[1..] {
        assert!(
            f(row, "a_waited_ms") < f(sync, "a_waited_ms"),
            "an async caller with 60 ms of work waits less than the sync caller: {row} vs {sync}"
        );
    }
}
