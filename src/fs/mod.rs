//! Files and directories: `std::fs` for coroutines.
//!
//! Every stable free function of `std::fs`, and [`File`], [`OpenOptions`],
//! [`ReadDir`], [`DirEntry`] and [`DirBuilder`], with std's names,
//! signatures, errors and documented behaviour. The value types
//! ([`Metadata`], [`Permissions`], [`FileType`], [`FileTimes`]) are std's
//! own.
//!
//! # Coroutines
//!
//! A regular file is always "ready" to epoll, so a reactor cannot tell
//! when a read would wait for the disk. Each call therefore runs on
//! corio's blocking pool ([`spawn_blocking`](crate::spawn_blocking)) and
//! suspends only the calling coroutine; every other coroutine of the
//! runtime keeps running meanwhile. That hand-off costs far more than a
//! small read from the page cache (measured against std in the same run by
//! `cargo run --release --example fs_cost`, see `docs/results/fs_cost.md`),
//! so prefer few large calls ([`read`], [`write()`], `read_to_end`) to many
//! small ones, or wrap a [`File`] in a [`BufReader`](std::io::BufReader).
//! [`ReadDir`] fetches entries in batches, not one pool trip per entry.
//!
//! Outside a runtime each call runs in place, exactly as std's.
//!
//! ```
//! use corio::fs;
//!
//! let dir = std::env::temp_dir().join(format!("corio-fs-doc-{}", std::process::id()));
//! corio::run(|| -> std::io::Result<()> {
//!     fs::create_dir_all(&dir)?;
//!     fs::write(dir.join("hello.txt"), "hello")?;
//!     assert_eq!(fs::read_to_string(dir.join("hello.txt"))?, "hello");
//!     let names: Vec<_> = fs::read_dir(&dir)?
//!         .map(|entry| entry.map(|e| e.file_name()))
//!         .collect::<Result<_, _>>()?;
//!     assert_eq!(names, ["hello.txt"]);
//!     fs::remove_dir_all(&dir)
//! })
//! .unwrap();
//! ```

use std::io;
use std::path::{Path, PathBuf};

use crate::blocking::unblock;

mod dir;
mod file;

pub use dir::{DirBuilder, DirEntry, ReadDir};
pub use file::{File, OpenOptions};
pub use std::fs::{FileTimes, FileType, Metadata, Permissions};

/// Runs `f` on the path `path`, where it may block (see the module docs).
fn on_path<T, F>(what: &str, path: &Path, f: F) -> io::Result<T>
where
    F: FnOnce(PathBuf) -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let path = path.to_path_buf();
    unblock(what, move || f(path))
}

/// Runs `f` on the paths `from` and `to`, where it may block.
fn on_paths<T, F>(what: &str, from: &Path, to: &Path, f: F) -> io::Result<T>
where
    F: FnOnce(PathBuf, PathBuf) -> io::Result<T> + Send + 'static,
    T: Send + 'static,
{
    let (from, to) = (from.to_path_buf(), to.to_path_buf());
    unblock(what, move || f(from, to))
}

/// The absolute, symlink-free form of `path`, as [`std::fs::canonicalize`].
///
/// # Coroutines
///
/// Runs on the blocking pool, suspending only the caller (module docs).
///
/// # Errors
///
/// As std's: `NotFound` when `path` does not exist, among others.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let here = corio::fs::canonicalize(".").unwrap();
///     assert!(here.is_absolute());
/// });
/// ```
pub fn canonicalize<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    on_path(
        "corio::fs::canonicalize",
        path.as_ref(),
        std::fs::canonicalize,
    )
}

/// Copies the contents and permissions of `from` to `to`, returning the
/// bytes copied, as [`std::fs::copy`].
///
/// # Coroutines
///
/// Runs on the blocking pool, suspending only the caller (module docs).
///
/// # Errors
///
/// As std's: `NotFound` when `from` is missing, among others.
///
/// # Examples
///
/// ```
/// use corio::fs;
///
/// let dir = std::env::temp_dir().join(format!("corio-copy-doc-{}", std::process::id()));
/// corio::run(|| -> std::io::Result<()> {
///     fs::create_dir_all(&dir)?;
///     fs::write(dir.join("a"), "abc")?;
///     assert_eq!(fs::copy(dir.join("a"), dir.join("b"))?, 3);
///     fs::remove_dir_all(&dir)
/// })
/// .unwrap();
/// ```
pub fn copy<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<u64> {
    on_paths("corio::fs::copy", from.as_ref(), to.as_ref(), std::fs::copy)
}

/// Creates the directory `path`, as [`std::fs::create_dir`].
///
/// # Coroutines
///
/// Runs on the blocking pool, suspending only the caller (module docs).
///
/// # Errors
///
/// As std's: `AlreadyExists` when `path` exists, `NotFound` when its parent
/// does not.
///
/// # Examples
///
/// ```
/// use corio::fs;
///
/// let dir = std::env::temp_dir().join(format!("corio-mkdir-doc-{}", std::process::id()));
/// corio::run(|| -> std::io::Result<()> {
///     fs::create_dir(&dir)?;
///     let again = fs::create_dir(&dir).unwrap_err();
///     assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
///     fs::remove_dir(&dir)
/// })
/// .unwrap();
/// ```
pub fn create_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    on_path("corio::fs::create_dir", path.as_ref(), std::fs::create_dir)
}

/// Creates the directory `path` and every missing parent, as
/// [`std::fs::create_dir_all`].
///
/// # Coroutines
///
/// Runs on the blocking pool, suspending only the caller (module docs).
///
/// # Errors
///
/// As std's; an existing directory is not an error.
///
/// # Examples
///
/// ```
/// use corio::fs;
///
/// let dir = std::env::temp_dir().join(format!("corio-mkdirs-doc-{}", std::process::id()));
/// corio::run(|| -> std::io::Result<()> {
///     fs::create_dir_all(dir.join("a/b/c"))?;
///     assert!(fs::metadata(dir.join("a/b/c"))?.is_dir());
///     fs::remove_dir_all(&dir)
/// })
/// .unwrap();
/// ```
pub fn create_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    on_path(
        "corio::fs::create_dir_all",
        path.as_ref(),
        std::fs::create_dir_all,
    )
}

/// Whether `path` names an existing entity, as [`std::fs::exists`]: unlike
/// [`Path::exists`], an error other than "not found" is returned, not
/// taken for `false`.
///
/// # Coroutines
///
/// Runs on the blocking pool, suspending only the caller (module docs).
///
/// # Errors
///
/// As std's: when the existence cannot be decided (a permission error on a
/// parent, for one).
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     assert!(corio::fs::exists("/").unwrap());
///     assert!(!corio::fs::exists("/no/such/corio/path").unwrap());
/// });
/// ```
pub fn exists<P: AsRef<Path>>(path: P) -> io::Result<bool> {
    on_path("corio::fs::exists", path.as_ref(), std::fs::exists)
}

/// Makes `link` a new hard link to `original`, as [`std::fs::hard_link`].
///
/// # Coroutines
///
/// Runs on the blocking pool, suspending only the caller (module docs).
///
/// # Errors
///
/// As std's: `NotFound` when `original` is missing, `AlreadyExists` when
/// `link` exists.
///
/// # Examples
///
/// ```
/// use corio::fs;
///
/// let dir = std::env::temp_dir().join(format!("corio-link-doc-{}", std::process::id()));
/// corio::run(|| -> std::io::Result<()> {
///     fs::create_dir_all(&dir)?;
///     fs::write(dir.join("a"), "x")?;
///     fs::hard_link(dir.join("a"), dir.join("b"))?;
///     assert_eq!(fs::read(dir.join("b"))?, b"x");
///     fs::remove_dir_all(&dir)
/// })
/// .unwrap();
/// ```
pub fn hard_link<P: AsRef<Path>, Q: AsRef<Path>>(original: P, link: Q) -> io::Result<()> {
    on_paths(
        "corio::fs::hard_link",
        original.as_ref(),
        link.as_ref(),
        std::fs::hard_link,
    )
}

/// The metadata of `path`, following symlinks, as [`std::fs::metadata`].
///
/// # Coroutines
///
/// Runs on the blocking pool, suspending only the caller (module docs).
///
/// # Errors
///
/// As std's: `NotFound` when `path` does not exist.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     assert!(corio::fs::metadata("/").unwrap().is_dir());
/// });
/// ```
pub fn metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    on_path("corio::fs::metadata", path.as_ref(), std::fs::metadata)
}

/// The whole contents of the file `path`, as [`std::fs::read`].
///
/// # Coroutines
///
/// Runs on the blocking pool in one trip, suspending only the caller
/// (module docs).
///
/// # Errors
///
/// As std's: `NotFound` when `path` does not exist.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let err = corio::fs::read("/no/such/corio/file").unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// });
/// ```
pub fn read<P: AsRef<Path>>(path: P) -> io::Result<Vec<u8>> {
    on_path("corio::fs::read", path.as_ref(), std::fs::read)
}

/// The entries of the directory `path`, as [`std::fs::read_dir`]; the
/// iterator fetches them from the blocking pool in batches.
///
/// # Coroutines
///
/// Opening the directory and each batch of entries run on the blocking
/// pool, suspending only the caller (module docs).
///
/// # Errors
///
/// As std's: `NotFound` when `path` does not exist, `NotADirectory` when
/// it is a file.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let entries = corio::fs::read_dir("/").unwrap().count();
///     assert!(entries > 0);
/// });
/// ```
pub fn read_dir<P: AsRef<Path>>(path: P) -> io::Result<ReadDir> {
    let inner = on_path("corio::fs::read_dir", path.as_ref(), std::fs::read_dir)?;
    Ok(ReadDir::new(inner))
}

/// The target of the symbolic link `path`, as [`std::fs::read_link`].
///
/// # Coroutines
///
/// Runs on the blocking pool, suspending only the caller (module docs).
///
/// # Errors
///
/// As std's: `NotFound` when `path` is missing, `InvalidInput` when it is
/// not a symbolic link.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let err = corio::fs::read_link("/").unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// });
/// ```
pub fn read_link<P: AsRef<Path>>(path: P) -> io::Result<PathBuf> {
    on_path("corio::fs::read_link", path.as_ref(), std::fs::read_link)
}

/// The whole contents of the file `path` as a `String`, as
/// [`std::fs::read_to_string`].
///
/// # Coroutines
///
/// Runs on the blocking pool in one trip, suspending only the caller
/// (module docs).
///
/// # Errors
///
/// As std's: `NotFound` when `path` does not exist, `InvalidData` when the
/// contents are not UTF-8.
///
/// # Examples
///
/// ```
/// use corio::fs;
///
/// let file = std::env::temp_dir().join(format!("corio-rts-doc-{}", std::process::id()));
/// corio::run(|| -> std::io::Result<()> {
///     fs::write(&file, "text")?;
///     assert_eq!(fs::read_to_string(&file)?, "text");
///     fs::remove_file(&file)
/// })
/// .unwrap();
/// ```
pub fn read_to_string<P: AsRef<Path>>(path: P) -> io::Result<String> {
    on_path(
        "corio::fs::read_to_string",
        path.as_ref(),
        std::fs::read_to_string,
    )
}

/// Removes the empty directory `path`, as [`std::fs::remove_dir`].
///
/// # Coroutines
///
/// Runs on the blocking pool, suspending only the caller (module docs).
///
/// # Errors
///
/// As std's: `NotFound` when `path` is missing, `DirectoryNotEmpty` when it
/// has entries.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let err = corio::fs::remove_dir("/no/such/corio/dir").unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// });
/// ```
pub fn remove_dir<P: AsRef<Path>>(path: P) -> io::Result<()> {
    on_path("corio::fs::remove_dir", path.as_ref(), std::fs::remove_dir)
}

/// Removes the directory `path` and everything in it, as
/// [`std::fs::remove_dir_all`].
///
/// # Coroutines
///
/// Runs on the blocking pool in one trip, suspending only the caller
/// (module docs).
///
/// # Errors
///
/// As std's: `NotFound` when `path` is missing.
///
/// # Examples
///
/// ```
/// use corio::fs;
///
/// let dir = std::env::temp_dir().join(format!("corio-rmall-doc-{}", std::process::id()));
/// corio::run(|| -> std::io::Result<()> {
///     fs::create_dir_all(dir.join("x/y"))?;
///     fs::remove_dir_all(&dir)?;
///     assert!(!fs::exists(&dir)?);
///     Ok(())
/// })
/// .unwrap();
/// ```
pub fn remove_dir_all<P: AsRef<Path>>(path: P) -> io::Result<()> {
    on_path(
        "corio::fs::remove_dir_all",
        path.as_ref(),
        std::fs::remove_dir_all,
    )
}

/// Removes the file `path`, as [`std::fs::remove_file`].
///
/// # Coroutines
///
/// Runs on the blocking pool, suspending only the caller (module docs).
///
/// # Errors
///
/// As std's: `NotFound` when `path` is missing.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let err = corio::fs::remove_file("/no/such/corio/file").unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// });
/// ```
pub fn remove_file<P: AsRef<Path>>(path: P) -> io::Result<()> {
    on_path(
        "corio::fs::remove_file",
        path.as_ref(),
        std::fs::remove_file,
    )
}

/// Renames `from` to `to`, replacing `to` if it exists, as
/// [`std::fs::rename`].
///
/// # Coroutines
///
/// Runs on the blocking pool, suspending only the caller (module docs).
///
/// # Errors
///
/// As std's: `NotFound` when `from` is missing.
///
/// # Examples
///
/// ```
/// use corio::fs;
///
/// let dir = std::env::temp_dir().join(format!("corio-mv-doc-{}", std::process::id()));
/// corio::run(|| -> std::io::Result<()> {
///     fs::create_dir_all(&dir)?;
///     fs::write(dir.join("a"), "x")?;
///     fs::rename(dir.join("a"), dir.join("b"))?;
///     assert!(!fs::exists(dir.join("a"))? && fs::exists(dir.join("b"))?);
///     fs::remove_dir_all(&dir)
/// })
/// .unwrap();
/// ```
pub fn rename<P: AsRef<Path>, Q: AsRef<Path>>(from: P, to: Q) -> io::Result<()> {
    on_paths(
        "corio::fs::rename",
        from.as_ref(),
        to.as_ref(),
        std::fs::rename,
    )
}

/// Sets the permissions of `path`, as [`std::fs::set_permissions`].
///
/// # Coroutines
///
/// Runs on the blocking pool, suspending only the caller (module docs).
///
/// # Errors
///
/// As std's: `NotFound` when `path` is missing.
///
/// # Examples
///
/// ```
/// use corio::fs;
///
/// let file = std::env::temp_dir().join(format!("corio-perm-doc-{}", std::process::id()));
/// corio::run(|| -> std::io::Result<()> {
///     fs::write(&file, "x")?;
///     let mut perms = fs::metadata(&file)?.permissions();
///     perms.set_readonly(true);
///     fs::set_permissions(&file, perms)?;
///     assert!(fs::metadata(&file)?.permissions().readonly());
///     fs::remove_file(&file)
/// })
/// .unwrap();
/// ```
pub fn set_permissions<P: AsRef<Path>>(path: P, perm: Permissions) -> io::Result<()> {
    on_path("corio::fs::set_permissions", path.as_ref(), move |path| {
        std::fs::set_permissions(path, perm)
    })
}

/// The metadata of `path` itself, not following a final symlink, as
/// [`std::fs::symlink_metadata`].
///
/// # Coroutines
///
/// Runs on the blocking pool, suspending only the caller (module docs).
///
/// # Errors
///
/// As std's: `NotFound` when `path` is missing.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let meta = corio::fs::symlink_metadata("/").unwrap();
///     assert!(!meta.file_type().is_symlink());
/// });
/// ```
pub fn symlink_metadata<P: AsRef<Path>>(path: P) -> io::Result<Metadata> {
    on_path(
        "corio::fs::symlink_metadata",
        path.as_ref(),
        std::fs::symlink_metadata,
    )
}

/// Writes `contents` as the whole contents of the file `path`, creating
/// or truncating it, as [`std::fs::write`].
///
/// # Coroutines
///
/// Runs on the blocking pool in one trip, suspending only the caller
/// (module docs); `contents` is copied for the pool thread.
///
/// # Errors
///
/// As std's: `NotFound` when the parent directory is missing.
///
/// # Examples
///
/// ```
/// corio::run(|| {
///     let err = corio::fs::write("/no/such/corio/dir/file", "x").unwrap_err();
///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// });
/// ```
pub fn write<P: AsRef<Path>, C: AsRef<[u8]>>(path: P, contents: C) -> io::Result<()> {
    let contents = contents.as_ref().to_vec();
    on_path("corio::fs::write", path.as_ref(), move |path| {
        std::fs::write(path, contents)
    })
}
