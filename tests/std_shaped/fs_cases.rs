// Cases of `tests/fs.rs`, written against the names of `std::fs` only.
// The file is included twice: once with `use std::fs;` and once with
// `use corio::fs;` (each case then runs inside `corio::run`), so every
// case is shown to hold on std before it is asked of corio.

use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

/// A fresh, empty directory for one case of one flavour.
fn scratch(case: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "corio-fs-test-{}-{}-{case}",
        FLAVOUR,
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub fn missing_file_is_not_found() {
    let dir = scratch("missing");
    let missing = dir.join("missing");
    assert_eq!(fs::File::open(&missing).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(fs::read(&missing).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(fs::read_to_string(&missing).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(fs::metadata(&missing).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(fs::remove_file(&missing).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(fs::read_dir(&missing).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(fs::copy(&missing, dir.join("b")).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(fs::rename(&missing, dir.join("b")).unwrap_err().kind(), ErrorKind::NotFound);
    assert!(!fs::exists(&missing).unwrap());
    fs::remove_dir_all(&dir).unwrap();
}

pub fn create_new_refuses_an_existing_file() {
    let dir = scratch("create_new");
    let path = dir.join("f");
    fs::File::create_new(&path).unwrap();
    assert_eq!(fs::File::create_new(&path).unwrap_err().kind(), ErrorKind::AlreadyExists);
    assert_eq!(fs::create_dir(&dir).unwrap_err().kind(), ErrorKind::AlreadyExists);
    fs::remove_dir_all(&dir).unwrap();
}

pub fn open_options_without_access_mode_is_invalid_input() {
    let dir = scratch("options");
    let err = fs::OpenOptions::new().open(dir.join("f")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    fs::remove_dir_all(&dir).unwrap();
}

pub fn invalid_utf8_is_invalid_data() {
    let dir = scratch("utf8");
    let path = dir.join("bad");
    fs::write(&path, [0xff, 0xfe, b'a']).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap_err().kind(), ErrorKind::InvalidData);
    let mut text = String::from("kept");
    let err = fs::File::open(&path).unwrap().read_to_string(&mut text).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    assert_eq!(text, "kept");
    fs::remove_dir_all(&dir).unwrap();
}

pub fn write_seek_read_and_set_len() {
    let dir = scratch("rw");
    let path = dir.join("f");
    let mut file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    file.write_all(b"hello, world").unwrap();
    assert_eq!(file.seek(SeekFrom::Start(7)).unwrap(), 7);
    let mut word = [0; 5];
    file.read_exact(&mut word).unwrap();
    assert_eq!(&word, b"world");
    assert_eq!(file.read(&mut word).unwrap(), 0, "end of file");
    file.set_len(5).unwrap();
    assert_eq!(file.metadata().unwrap().len(), 5);
    file.sync_all().unwrap();
    // `&File` reads too, sharing the cursor.
    let reopened = fs::File::open(&path).unwrap();
    let mut all = Vec::new();
    (&reopened).read_to_end(&mut all).unwrap();
    assert_eq!(all, b"hello");
    assert_eq!((&reopened).stream_position().unwrap(), 5);
    fs::remove_dir_all(&dir).unwrap();
}

pub fn append_and_truncate() {
    let dir = scratch("append");
    let path = dir.join("f");
    fs::write(&path, "a").unwrap();
    fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"b").unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "ab");
    fs::OpenOptions::new().write(true).truncate(true).open(&path).unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"");
    fs::remove_dir_all(&dir).unwrap();
}

pub fn read_dir_lists_every_entry_once() {
    // More entries than one batch, so that batching is crossed.
    let dir = scratch("read_dir");
    let mut expected: Vec<String> = (0..150).map(|i| format!("file-{i:03}")).collect();
    for name in &expected {
        fs::write(dir.join(name), name).unwrap();
    }
    fs::create_dir(dir.join("sub")).unwrap();
    expected.push("sub".to_string());
    let mut seen = Vec::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let entry = entry.unwrap();
        assert_eq!(entry.path(), dir.join(entry.file_name()));
        let name = entry.file_name().into_string().unwrap();
        let is_dir = name == "sub";
        assert_eq!(entry.file_type().unwrap().is_dir(), is_dir);
        assert_eq!(entry.metadata().unwrap().is_dir(), is_dir);
        seen.push(name);
    }
    seen.sort();
    expected.sort();
    assert_eq!(seen, expected);
    fs::remove_dir_all(&dir).unwrap();
    assert!(!fs::exists(&dir).unwrap());
}

pub fn dir_builder_and_remove_dir() {
    let dir = scratch("builder");
    let deep = dir.join("a/b/c");
    assert_eq!(fs::DirBuilder::new().create(&deep).unwrap_err().kind(), ErrorKind::NotFound);
    fs::DirBuilder::new().recursive(true).create(&deep).unwrap();
    assert!(fs::metadata(&deep).unwrap().is_dir());
    assert_eq!(fs::remove_dir(dir.join("a")).unwrap_err().kind(), ErrorKind::DirectoryNotEmpty);
    fs::remove_dir(&deep).unwrap();
    fs::create_dir_all(&deep).unwrap();
    fs::remove_dir_all(&dir).unwrap();
}

pub fn links_copies_and_renames() {
    let dir = scratch("links");
    let original = dir.join("original");
    fs::write(&original, "data").unwrap();
    assert_eq!(fs::copy(&original, dir.join("copy")).unwrap(), 4);
    fs::hard_link(&original, dir.join("hard")).unwrap();
    assert_eq!(fs::read(dir.join("hard")).unwrap(), b"data");
    std::os::unix::fs::symlink(&original, dir.join("soft")).unwrap();
    assert_eq!(fs::read_link(dir.join("soft")).unwrap(), original);
    assert!(fs::symlink_metadata(dir.join("soft")).unwrap().file_type().is_symlink());
    assert!(fs::metadata(dir.join("soft")).unwrap().is_file());
    assert_eq!(fs::canonicalize(dir.join("soft")).unwrap(), fs::canonicalize(&original).unwrap());
    assert_eq!(fs::read_link(&original).unwrap_err().kind(), ErrorKind::InvalidInput);
    fs::rename(dir.join("copy"), dir.join("moved")).unwrap();
    assert!(!fs::exists(dir.join("copy")).unwrap());
    assert_eq!(fs::read_to_string(dir.join("moved")).unwrap(), "data");
    let mut perms = fs::metadata(&original).unwrap().permissions();
    perms.set_readonly(true);
    fs::set_permissions(&original, perms).unwrap();
    assert!(fs::metadata(&original).unwrap().permissions().readonly());
    fs::remove_dir_all(&dir).unwrap();
}
