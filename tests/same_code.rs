//! The worker of `examples/same_code`, compiled here both ways (std's names
//! and corio's), must give the same outcome: the port is the `use` line.
//! (The example's command line is tested in `same_code_cli.rs`, a test
//! binary of its own, so that no other test's thread is counted here.)

// The worker counts OS threads through the labs' `/proc` reader.
#[path = "../examples/common/usage.rs"]
mod usage;

mod on_std {
    #![allow(dead_code)]
    use std::os::unix::net as unix_net;
    use std::{fs, io, net, process, sync::Condvar, sync::Mutex, sync::mpsc, thread};
    include!("../examples/same_code/worker.rs");
}

mod on_corio {
    #![allow(dead_code)]
    // The worker shares its table through an `Arc`, which std's threads
    // need; corio's `Mutex` is not `Sync`, and on one thread an `Arc` of it
    // is only an `Rc` with atomic counts.
    #![allow(clippy::arc_with_non_send_sync)]
    use corio::os::unix::net as unix_net;
    use corio::{fs, io, net, process, sync::Condvar, sync::Mutex, sync::mpsc, thread};
    include!("../examples/same_code/worker.rs");
}

#[test]
fn the_same_worker_gives_the_same_outcome_on_threads_and_on_coroutines() {
    let (clients, lines) = (12, 40);
    let on_std = on_std::run(clients, lines);
    let on_corio = corio::run(move || on_corio::run(clients, lines));
    assert_eq!(on_std.lines_per_client, vec![lines; clients]);
    assert_eq!(on_corio.lines_per_client, on_std.lines_per_client);
    assert_eq!(on_corio.checksum, on_std.checksum);
    // Every producer's receipt reached the archivist over the Unix socket,
    // counting what `cat` printed back: each line of its file once.
    let file_bytes: usize = (0..clients)
        .flat_map(|client| (0..lines).map(move |n| format!("client {client} says {n}\n").len()))
        .sum();
    assert_eq!(on_std.archived_bytes, file_bytes as u64);
    assert_eq!(on_corio.archived_bytes, on_std.archived_bytes);
    // Coroutines: the whole fan-in ran on the test's own OS thread, so the
    // process never had more threads than the harness gave it (its main
    // thread and this test's), corio's stall watchdog (one more thread,
    // which runs no task) and the blocking-pool threads that ran the
    // `fs` calls. On std, the consumer and the server are OS threads alive
    // at every sample (the producers, the handlers and the archivist may
    // have finished between two samples, so they are not counted on).
    assert_eq!(on_std.peak_pool_threads, 0, "{on_std:?}");
    assert!(on_corio.peak_pool_threads >= 1, "{on_corio:?}");
    assert!(
        on_corio.peak_os_threads <= 3 + on_corio.peak_pool_threads,
        "{on_corio:?}"
    );
    assert!(on_std.peak_os_threads >= 4, "{on_std:?}");
}
