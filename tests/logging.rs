//! Scheduler events reach the `log` facade at trace level, and nothing is
//! formatted when logging is off. (Its own test binary: the logger is global.)

use std::sync::Mutex;

/// Keeps every record's message.
struct Recorder(Mutex<Vec<String>>);

impl log::Log for Recorder {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.target().starts_with("corio") {
            self.0.lock().unwrap().push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}

static RECORDER: Recorder = Recorder(Mutex::new(Vec::new()));

fn scenario() {
    corio::run(|| {
        let (tx, rx) = corio::sync::channel::<u8>();
        let h = corio::task::Builder::new()
            .name("receiver".into())
            .spawn(move || rx.recv().unwrap())
            .unwrap();
        corio::yield_now(); // the receiver parks on the empty channel
        tx.send(1).unwrap(); // and is woken
        assert_eq!(h.join().unwrap(), 1);
    });
}

#[test]
fn scheduler_events_are_logged_only_when_enabled() {
    log::set_logger(&RECORDER).unwrap();

    log::set_max_level(log::LevelFilter::Off);
    scenario();
    assert!(
        RECORDER.0.lock().unwrap().is_empty(),
        "nothing logged when off"
    );

    log::set_max_level(log::LevelFilter::Trace);
    scenario();
    let lines = RECORDER.0.lock().unwrap().clone();
    let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(count("spawn"), 2, "{lines:#?}");
    assert!(
        lines.iter().any(|l| l == "spawn task 2 'receiver'"),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l == "park task 2 'receiver'"),
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("wake task 2 'receiver'")),
        "{lines:#?}"
    );
    assert_eq!(count("finish"), 2, "{lines:#?}");
}
