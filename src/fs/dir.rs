//! [`ReadDir`], [`DirEntry`] and [`DirBuilder`]: directory listing in
//! batches, so that a walk costs one pool trip per [`BATCH`] entries.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{FileType, Metadata, on_path};
use crate::blocking::unblock;

/// Entries fetched per pool trip. One trip costs a few microseconds, a
/// `getdents64` of this many entries about as much: larger batches would
/// only delay the first entry of a huge directory.
const BATCH: usize = 64;

/// An iterator over a directory's entries, as [`std::fs::ReadDir`]; made
/// by [`read_dir`](super::read_dir).
///
/// # Coroutines
///
/// Entries come from the blocking pool 64 at a time, with
/// each entry's file type, so that `next` and [`DirEntry::file_type`]
/// usually cost no pool trip at all; a batch suspends only the caller.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     for entry in corio::fs::read_dir("/").unwrap() {
///         let entry = entry.unwrap();
///         assert!(entry.path().starts_with("/"));
///     }
/// });
/// ```
pub struct ReadDir {
    /// std's iterator; `None` while a pool thread holds it or once it is
    /// exhausted (`done`).
    inner: Option<std::fs::ReadDir>,
    /// Entries fetched but not yet handed out.
    batch: VecDeque<io::Result<DirEntry>>,
    /// std's iterator ended (or was lost with an unwound caller).
    done: bool,
}

impl ReadDir {
    /// Wraps std's iterator.
    pub(super) fn new(inner: std::fs::ReadDir) -> ReadDir {
        ReadDir {
            inner: Some(inner),
            batch: VecDeque::new(),
            done: false,
        }
    }

    /// Fetches the next batch on the blocking pool.
    fn refill(&mut self) {
        let Some(mut inner) = self.inner.take() else {
            self.done = true;
            return;
        };
        let fetched = unblock("corio::fs::ReadDir::next", move || {
            let mut batch = Vec::with_capacity(BATCH);
            let mut ended = true;
            for entry in inner.by_ref() {
                batch.push(entry.map(DirEntry::fetched));
                if batch.len() == BATCH {
                    ended = false;
                    break;
                }
            }
            Ok((inner, batch, ended))
        });
        match fetched {
            Ok((inner, batch, ended)) => {
                self.batch.extend(batch);
                self.done = ended;
                if !ended {
                    self.inner = Some(inner);
                }
            }
            Err(e) => {
                self.batch.push_back(Err(e));
                self.done = true;
            }
        }
    }
}

impl Iterator for ReadDir {
    type Item = io::Result<DirEntry>;

    fn next(&mut self) -> Option<io::Result<DirEntry>> {
        if self.batch.is_empty() && !self.done {
            self.refill();
        }
        self.batch.pop_front()
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadDir")
            .field("inner", &self.inner)
            .field("buffered", &self.batch.len())
            .field("done", &self.done)
            .finish()
    }
}

/// One entry of a directory, as [`std::fs::DirEntry`].
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let entry = corio::fs::read_dir("/").unwrap().next().unwrap().unwrap();
///     assert_eq!(entry.path(), std::path::Path::new("/").join(entry.file_name()));
/// });
/// ```
pub struct DirEntry {
    /// std's entry, shared with a pool job that asks for its metadata.
    inner: Arc<std::fs::DirEntry>,
    /// The entry's type, asked for while the batch was fetched (`None` if
    /// that failed; then [`DirEntry::file_type`] asks again, for the error).
    file_type: Option<FileType>,
}

impl DirEntry {
    /// Wraps std's entry, asking its file type on the pool thread (free
    /// where the file system fills `d_type`, one `lstat` otherwise).
    fn fetched(inner: std::fs::DirEntry) -> DirEntry {
        DirEntry {
            file_type: inner.file_type().ok(),
            inner: Arc::new(inner),
        }
    }

    /// The entry's full path: the directory given to `read_dir` joined with
    /// the entry's name, as [`std::fs::DirEntry::path`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let entry = corio::fs::read_dir("/").unwrap().next().unwrap().unwrap();
    ///     assert!(entry.path().is_absolute());
    /// });
    /// ```
    pub fn path(&self) -> PathBuf {
        self.inner.path()
    }

    /// The entry's name, without its directory, as
    /// [`std::fs::DirEntry::file_name`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let entry = corio::fs::read_dir("/").unwrap().next().unwrap().unwrap();
    ///     assert!(!entry.file_name().is_empty());
    /// });
    /// ```
    pub fn file_name(&self) -> OsString {
        self.inner.file_name()
    }

    /// The entry's metadata, not following a symlink, as
    /// [`std::fs::DirEntry::metadata`].
    ///
    /// # Coroutines
    ///
    /// Runs on the blocking pool, suspending only the caller.
    ///
    /// # Errors
    ///
    /// As std's: `NotFound` when the entry was removed meanwhile.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let entry = corio::fs::read_dir("/").unwrap().next().unwrap().unwrap();
    ///     assert!(entry.metadata().is_ok());
    /// });
    /// ```
    pub fn metadata(&self) -> io::Result<Metadata> {
        let entry = Arc::clone(&self.inner);
        unblock("corio::fs::DirEntry::metadata", move || entry.metadata())
    }

    /// The entry's type, not following a symlink, as
    /// [`std::fs::DirEntry::file_type`].
    ///
    /// # Coroutines
    ///
    /// Known from the batch the entry came in; only when that failed is it
    /// asked again, on the blocking pool.
    ///
    /// # Errors
    ///
    /// As std's.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let dirs = corio::fs::read_dir("/")
    ///         .unwrap()
    ///         .filter(|e| e.as_ref().unwrap().file_type().unwrap().is_dir())
    ///         .count();
    ///     assert!(dirs > 0);
    /// });
    /// ```
    pub fn file_type(&self) -> io::Result<FileType> {
        if let Some(file_type) = self.file_type {
            return Ok(file_type);
        }
        let entry = Arc::clone(&self.inner);
        unblock("corio::fs::DirEntry::file_type", move || entry.file_type())
    }
}

impl fmt::Debug for DirEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// How to create a directory, as [`std::fs::DirBuilder`]; std's
/// `DirBuilderExt` (`mode`) works on it too.
///
/// # Examples
///
/// ```
/// let dir = std::env::temp_dir().join(format!("corio-builder-doc-{}", std::process::id()));
/// corio::run(|| -> std::io::Result<()> {
///     corio::fs::DirBuilder::new().recursive(true).create(dir.join("a/b"))?;
///     assert!(corio::fs::metadata(dir.join("a/b"))?.is_dir());
///     corio::fs::remove_dir_all(&dir)
/// })
/// .unwrap();
/// ```
#[derive(Debug, Default)]
pub struct DirBuilder {
    /// Whether missing parents are created too.
    recursive: bool,
    /// The mode bits (`DirBuilderExt::mode`); std's default is `0o777`.
    mode: Option<u32>,
}

impl DirBuilder {
    /// A builder for a single directory with the default mode, as
    /// [`std::fs::DirBuilder::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let err = corio::fs::DirBuilder::new().create("/no/such/corio/a/b").unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// });
    /// ```
    pub fn new() -> DirBuilder {
        DirBuilder::default()
    }

    /// Whether to create missing parents too, as
    /// [`std::fs::DirBuilder::recursive`].
    ///
    /// # Examples
    ///
    /// ```
    /// let dir = std::env::temp_dir().join(format!("corio-rec-doc-{}", std::process::id()));
    /// corio::run(|| -> std::io::Result<()> {
    ///     corio::fs::DirBuilder::new().recursive(true).create(dir.join("x/y"))?;
    ///     corio::fs::remove_dir_all(&dir)
    /// })
    /// .unwrap();
    /// ```
    pub fn recursive(&mut self, recursive: bool) -> &mut DirBuilder {
        self.recursive = recursive;
        self
    }

    /// Creates `path`, as [`std::fs::DirBuilder::create`].
    ///
    /// # Coroutines
    ///
    /// Runs on the blocking pool, suspending only the caller.
    ///
    /// # Errors
    ///
    /// As std's: `AlreadyExists` when `path` exists and the builder is not
    /// recursive, `NotFound` when a parent is missing and it is not.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let err = corio::fs::DirBuilder::new().create("/").unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    /// });
    /// ```
    pub fn create<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        let (recursive, mode) = (self.recursive, self.mode);
        on_path(
            "corio::fs::DirBuilder::create",
            path.as_ref(),
            move |path| {
                let mut builder = std::fs::DirBuilder::new();
                builder.recursive(recursive);
                if let Some(mode) = mode {
                    std::os::unix::fs::DirBuilderExt::mode(&mut builder, mode);
                }
                builder.create(path)
            },
        )
    }
}

impl std::os::unix::fs::DirBuilderExt for DirBuilder {
    fn mode(&mut self, mode: u32) -> &mut DirBuilder {
        self.mode = Some(mode);
        self
    }
}
