//! `corio::fs`: std's contract, case by case on std and on corio, and a
//! FIFO open that waits for its writer without stopping the runtime.

#[path = "util/ticker.rs"]
mod ticker;

use std::ffi::CString;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use ticker::{Ticker, assert_ticked, gate};

mod on_std {
    const FLAVOUR: &str = "std";
    use std::fs;
    include!("std_shaped/fs_cases.rs");
}

mod on_corio {
    const FLAVOUR: &str = "corio";
    use corio::fs;
    include!("std_shaped/fs_cases.rs");
}

include!("std_shaped/both.rs");

both!(
    missing_file_is_not_found,
    create_new_refuses_an_existing_file,
    open_options_without_access_mode_is_invalid_input,
    invalid_utf8_is_invalid_data,
    write_seek_read_and_set_len,
    append_and_truncate,
    read_dir_lists_every_entry_once,
    dir_builder_and_remove_dir,
    links_copies_and_renames,
);

/// Outside a runtime the calls run in place, as std's.
#[test]
fn outside_a_runtime_calls_run_in_place() {
    let path = std::env::temp_dir().join(format!("corio-fs-outside-{}", std::process::id()));
    corio::fs::write(&path, "plain").unwrap();
    let mut text = String::new();
    corio::fs::File::open(&path)
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "plain");
    assert!(corio::fs::read_dir(std::env::temp_dir()).unwrap().count() > 0);
    corio::fs::remove_file(&path).unwrap();
}

/// Opening a FIFO for reading waits until a writer opens it; with corio
/// that wait is on the pool, and the ticker keeps ticking.
#[test]
fn fifo_open_waits_for_its_writer_while_the_ticker_ticks() {
    let dir = std::env::temp_dir().join(format!("corio-fifo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = dir.join("fifo");
    let c_path = CString::new(fifo.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c_path` is a valid NUL-terminated path for the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);

    let (text, before, after, gated) = corio::run(|| {
        let ticker = Ticker::start();
        let before = ticker.now();
        let ticks = Arc::clone(&ticker.ticks);
        let writer_path = fifo.clone();
        let writer = std::thread::spawn(move || {
            let gated = gate(&ticks, before);
            std::fs::write(&writer_path, "through the fifo").unwrap();
            gated
        });
        let mut file = corio::fs::File::open(&fifo).unwrap();
        let after = ticker.now();
        let mut text = String::new();
        file.read_to_string(&mut text).unwrap();
        ticker.stop();
        (text, before, after, writer.join().unwrap())
    });
    assert!(
        gated,
        "the writer never saw the ticker tick: the runtime was blocked"
    );
    assert_ticked("corio::fs::File::open of a FIFO", before, after);
    assert_eq!(text, "through the fifo");
    std::fs::remove_dir_all(&dir).unwrap();
}
