//! How long does dropping a runtime take when coroutines are still parked in
//! it? Every one is unwound (its destructors run on its own stack), so the
//! answer should grow linearly with their number.
//!
//! ```text
//! cargo run --release --example teardown                          # 100,000 and 1,000,000
//! cargo run --release --example teardown -- --counts 1000,10000   # other sizes
//! cargo run --release --example teardown -- --json                # one JSON object per size
//! ```
//!
//! Each size runs in a fresh runtime: N coroutines park on one channel that
//! never gets a message (each holding a value with a destructor), the root
//! returns, and the runtime is dropped. The drop is timed, and the destructor
//! count is checked. The ratio column divides each size's time per coroutine
//! by the first size's: near 1.0 is linear.
//!
//! A million parked coroutines need about 5 GiB of RSS and a million stacks
//! of address space; spawning them is most of the run time.

use std::cell::Cell;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::json;

/// One size's measurement.
struct Measured {
    /// Coroutines parked when the runtime was dropped.
    parked: usize,
    /// Time to spawn them and let each park.
    spawn: Duration,
    /// Time to drop the runtime.
    teardown: Duration,
}

/// Counts its drops.
struct Counted(Rc<Cell<usize>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

fn measure(parked: usize) -> Result<Measured, String> {
    let dropped = Rc::new(Cell::new(0));
    let mut rt = corio::Runtime::new().map_err(|e| format!("no runtime: {e}"))?;
    let d = dropped.clone();
    let spawn = rt.block_on(move || {
        let start = Instant::now();
        let (tx, rx) = corio::sync::channel::<()>();
        let rx = Rc::new(rx);
        for _ in 0..parked {
            let (rx, guard) = (rx.clone(), Counted(d.clone()));
            corio::spawn(move || {
                let _guard = guard;
                let _ = rx.recv();
            });
        }
        corio::yield_now(); // every one runs and parks
        std::mem::forget(tx); // so that none is ever woken
        start.elapsed()
    });
    let start = Instant::now();
    drop(rt);
    let teardown = start.elapsed();
    if dropped.get() != parked {
        return Err(format!(
            "{} of {parked} destructors ran during the teardown",
            dropped.get()
        ));
    }
    Ok(Measured {
        parked,
        spawn,
        teardown,
    })
}

#[path = "common/pipe.rs"]
mod pipe;
#[path = "common/values.rs"]
mod values;

#[derive(Parser)]
#[command(about = "How long dropping a runtime takes with N coroutines parked in it")]
struct Args {
    /// Sizes to measure, comma-separated.
    #[arg(
        long,
        value_name = "N,N,...",
        default_value = "100000,1000000",
        value_parser = values::list_of_at_least_one::<usize>
    )]
    counts: ::std::vec::Vec<usize>,
    /// One JSON object per size instead of the table.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    pipe::exit_quietly_on_broken_pipe();
    let Args { counts, json } = Args::parse();
    if !json {
        println!("teardown: dropping a runtime with N coroutines parked on a channel");
        println!(
            "  {:>10}  {:>12}  {:>12}  {:>14}  {:>6}",
            "parked", "spawn", "teardown", "ns / coroutine", "ratio"
        );
    }
    let mut first_per: Option<f64> = None;
    for n in counts {
        let m = match measure(n) {
            Ok(m) => m,
            Err(problem) => {
                eprintln!("teardown of {n}: {problem}");
                return ExitCode::FAILURE;
            }
        };
        let per = m.teardown.as_nanos() as f64 / m.parked as f64;
        let ratio = per / *first_per.get_or_insert(per);
        if json {
            let row = json!({
                "parked": m.parked,
                "spawn_s": m.spawn.as_secs_f64(),
                "teardown_s": m.teardown.as_secs_f64(),
                "teardown_ns_per_coroutine": per,
                "ratio_to_first": ratio,
            });
            println!("{row}");
        } else {
            println!(
                "  {:>10}  {:>10.3} s  {:>10.3} s  {:>14.0}  {:>5.2}x",
                m.parked,
                m.spawn.as_secs_f64(),
                m.teardown.as_secs_f64(),
                per,
                ratio
            );
        }
    }
    ExitCode::SUCCESS
}
