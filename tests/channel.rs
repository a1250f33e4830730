//! Several coroutines waiting on one `Receiver` (the obvious worker pool):
//! every waiter is kept, each send wakes the one that has waited longest,
//! and nothing is lost.

use std::cell::RefCell;
use std::rc::Rc;

#[test]
fn every_waiter_on_a_shared_receiver_is_served_in_fifo_order() {
    const WORKERS: usize = 8;
    let served = corio::run(|| {
        let (tx, rx) = corio::sync::channel::<usize>();
        let rx = Rc::new(rx);
        let served = Rc::new(RefCell::new(Vec::new()));
        let workers: Vec<_> = (0..WORKERS)
            .map(|worker| {
                let (rx, served) = (rx.clone(), served.clone());
                corio::spawn(move || {
                    let job = rx.recv().unwrap();
                    served.borrow_mut().push((worker, job));
                })
            })
            .collect();
        corio::yield_now(); // all eight wait, worker 0 first
        for job in 0..WORKERS {
            tx.send(job).unwrap();
        }
        for w in workers {
            w.join().unwrap();
        }
        served.take()
    });
    // One message each, oldest waiter first.
    let expected: Vec<_> = (0..WORKERS).map(|w| (w, w)).collect();
    assert_eq!(served, expected);
}

#[test]
fn a_worker_pool_on_one_receiver_gets_every_job_exactly_once() {
    const WORKERS: usize = 16;
    const JOBS: usize = 10_000;
    let mut done = corio::run(|| {
        let (jobs, rx) = corio::sync::channel::<usize>();
        let (results, collected) = corio::sync::channel::<usize>();
        let rx = Rc::new(rx);
        for _ in 0..WORKERS {
            let (rx, results) = (rx.clone(), results.clone());
            corio::spawn(move || {
                while let Ok(job) = rx.recv() {
                    results.send(job).unwrap();
                    if job % 3 == 0 {
                        corio::yield_now();
                    }
                }
            });
        }
        drop(results);
        let producer = corio::spawn(move || {
            for job in 0..JOBS {
                jobs.send(job).unwrap();
                if job % 100 == 0 {
                    corio::yield_now(); // let the pool drain and wait again
                }
            }
        });
        producer.join().unwrap();
        std::iter::from_fn(|| collected.recv().ok()).collect::<Vec<_>>()
    });
    done.sort_unstable();
    assert_eq!(done, (0..JOBS).collect::<Vec<_>>());
}

#[test]
fn dropping_the_last_sender_wakes_every_waiting_receiver() {
    let errors = corio::run(|| {
        let (tx, rx) = corio::sync::channel::<u8>();
        let rx = Rc::new(rx);
        let waiters: Vec<_> = (0..5)
            .map(|_| {
                let rx = rx.clone();
                corio::spawn(move || rx.recv().is_err())
            })
            .collect();
        corio::yield_now();
        drop(tx);
        waiters
            .into_iter()
            .map(|w| w.join().unwrap())
            .filter(|&disconnected| disconnected)
            .count()
    });
    assert_eq!(errors, 5);
}

#[test]
fn waiters_unwound_with_their_runtime_leave_the_receiver() {
    // The receiver outlives the runtime whose coroutines waited on it: the
    // teardown takes each waiter out of its queue, so no later send tries
    // to wake a task that is gone, and the queue is empty.
    let (tx, rx) = corio::sync::channel::<u8>();
    let rx = Rc::new(rx);
    let mut rt = corio::Runtime::new().unwrap();
    let r = rx.clone();
    rt.block_on(move || {
        for _ in 0..3 {
            let r = r.clone();
            corio::spawn(move || r.recv());
        }
        corio::yield_now();
        assert!(format!("{r:?}").contains("waiting: 3"), "{r:?}");
    });
    drop(rt);
    assert!(format!("{rx:?}").contains("waiting: 0"), "{rx:?}");
    tx.send(7).unwrap(); // wakes nobody, loses nothing
    assert_eq!(rx.try_recv(), Ok(7));
}
