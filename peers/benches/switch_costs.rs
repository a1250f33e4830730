//! Criterion benches for the handoff and creation rows of the `switch_costs`
//! example, corio and its peers side by side, with confidence intervals.
//!
//! ```text
//! cargo bench --bench switch_costs                 # everything, a few minutes
//! cargo bench --bench switch_costs -- handoff/     # one group
//! cargo bench --bench switch_costs -- corio_yield  # one row
//! ```
//!
//! The workloads are the example's own modules (included with `#[path]`), so
//! a bench and the table row of the same name time exactly the same code.
//! Each bench uses `iter_custom`: set-up (threads, child processes, runtimes)
//! happens outside the timed span, and the workload reports only the time of
//! its `iters` operations. The process benches re-run this bench binary as a
//! helper child, hence the custom `main`.

#[path = "../examples/switch_costs/create.rs"]
mod create;
#[path = "../examples/switch_costs/handoff.rs"]
mod handoff;
#[path = "../examples/switch_costs/os.rs"]
#[allow(dead_code)]
mod os;

use std::time::Duration;

use criterion::Criterion;

/// Modest times per bench so that the whole `cargo bench` takes minutes.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

/// Runs `n` round trips and reports their time (the example's handoff rows).
type HandoffRun = fn(u64) -> handoff::Measured;

/// Runs `n` spawn + join pairs and reports their time (the example's creation rows).
type CreationRun = fn(u64) -> Duration;

/// One round trip A→B→A per iteration.
fn handoffs(c: &mut Criterion) {
    let rows: [(&str, HandoffRun); 12] = [
        ("raw_switch", handoff::raw_switch),
        ("raw_switch_pair", handoff::raw_switch_pair),
        ("corio_yield", handoff::corio_yield),
        ("raw_switch_called", handoff::raw_switch_called),
        ("corio_yield_called", handoff::corio_yield_called),
        ("corio_yield_random", handoff::corio_yield_random),
        ("corio_channel_pingpong", handoff::corio_channel_pingpong),
        ("thread_condvar_pingpong", handoff::thread_condvar_pingpong),
        ("thread_channel_pingpong", handoff::thread_channel_pingpong),
        ("process_pipe_pingpong", handoff::process_pipe_pingpong),
        ("tokio_yield", handoff::tokio_yield),
        ("may_yield", handoff::may_yield),
    ];
    let mut group = c.benchmark_group("handoff");
    for (name, run) in rows {
        group.bench_function(name, |b| b.iter_custom(|iters| run(iters).elapsed));
    }
    group.finish();
}

/// One spawn + join of an empty unit per iteration.
fn creation(c: &mut Criterion) {
    let rows: [(&str, CreationRun); 5] = [
        ("corio_spawn_join", create::corio_spawn_join),
        ("thread_spawn_join", create::thread_spawn_join),
        ("process_spawn_wait", create::process_spawn_wait),
        ("tokio_spawn_join", create::tokio_spawn_join),
        ("may_spawn_join", create::may_spawn_join),
    ];
    let mut group = c.benchmark_group("creation");
    for (name, run) in rows {
        group.bench_function(name, |b| b.iter_custom(run));
    }
    group.finish();
}

fn main() {
    if let Some(args) = os::child_args() {
        match os::run_common_child(&args) {
            Ok(true) => return,
            Ok(false) => panic!("unknown switch_costs child mode {args:?}"),
            Err(error) => panic!("switch_costs child {args:?} failed: {error}"),
        }
    }
    // may reads its configuration when it first starts; do it before anything can.
    handoff::configure_may();
    let mut criterion = config().configure_from_args();
    handoffs(&mut criterion);
    creation(&mut criterion);
    criterion.final_summary();
}
