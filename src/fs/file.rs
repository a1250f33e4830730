//! [`File`] and [`OpenOptions`]: std's, with every call that touches the
//! disk run where it may block (`blocking::unblock`).

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use super::{FileTimes, Metadata, Permissions, on_path};
use crate::blocking::unblock;

/// The most bytes one `read` or `write` hands to a pool thread. A larger
/// buffer is served in part, as `read` and `write` may be; bigger copies
/// would only delay the caller's first byte. (tokio's bound, for the same
/// reason.)
const MAX_CHUNK: usize = 2 * 1024 * 1024;

/// An open file, as [`std::fs::File`]: `Read`, `Write` and `Seek` (also
/// for `&File`), with each call run on corio's blocking pool.
///
/// # Coroutines
///
/// Every operation that touches the file runs on the blocking pool and
/// suspends only the calling coroutine; a `read` or `write` copies its
/// bytes (at most 2 MiB a call) to or from the pool thread. See the
/// [module docs](crate::fs) for what that costs and when to batch. Outside
/// a runtime each call runs in place, as std's.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
/// use corio::fs::File;
///
/// let path = std::env::temp_dir().join(format!("corio-file-doc-{}", std::process::id()));
/// corio::run(|| -> std::io::Result<()> {
///     let mut file = File::create(&path)?;
///     file.write_all(b"hello world")?;
///     file.seek(SeekFrom::Start(6))?;
///     let mut file = File::open(&path)?;
///     let mut text = String::new();
///     file.read_to_string(&mut text)?;
///     assert_eq!(text, "hello world");
///     corio::fs::remove_file(&path)
/// })
/// .unwrap();
/// ```
pub struct File {
    /// std's file, shared with the pool job working on it: the job needs
    /// an owner that outlives the borrow it was called with. `&std::fs::File`
    /// is `Read + Write + Seek`, so nothing needs `&mut`.
    inner: Arc<std::fs::File>,
}

impl File {
    /// Opens `path` for reading, as [`std::fs::File::open`].
    ///
    /// # Coroutines
    ///
    /// Runs on the blocking pool, suspending only the caller.
    ///
    /// # Errors
    ///
    /// As std's: `NotFound` when `path` does not exist,
    /// `PermissionDenied` when it may not be read.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let err = corio::fs::File::open("/no/such/corio/file").unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// });
    /// ```
    pub fn open<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new().read(true).open(path)
    }

    /// Opens `path` for writing, creating or truncating it, as
    /// [`std::fs::File::create`].
    ///
    /// # Coroutines
    ///
    /// Runs on the blocking pool, suspending only the caller.
    ///
    /// # Errors
    ///
    /// As std's: `NotFound` when the parent directory is missing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    ///
    /// let path = std::env::temp_dir().join(format!("corio-create-doc-{}", std::process::id()));
    /// corio::run(|| -> std::io::Result<()> {
    ///     corio::fs::File::create(&path)?.write_all(b"x")?;
    ///     assert_eq!(corio::fs::read(&path)?, b"x");
    ///     corio::fs::remove_file(&path)
    /// })
    /// .unwrap();
    /// ```
    pub fn create<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
    }

    /// Creates `path` for reading and writing, failing if it exists, as
    /// [`std::fs::File::create_new`].
    ///
    /// # Coroutines
    ///
    /// Runs on the blocking pool, suspending only the caller.
    ///
    /// # Errors
    ///
    /// As std's: `AlreadyExists` when `path` exists.
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("corio-new-doc-{}", std::process::id()));
    /// corio::run(|| -> std::io::Result<()> {
    ///     corio::fs::File::create_new(&path)?;
    ///     let err = corio::fs::File::create_new(&path).unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    ///     corio::fs::remove_file(&path)
    /// })
    /// .unwrap();
    /// ```
    pub fn create_new<P: AsRef<Path>>(path: P) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
    }

    /// A blank [`OpenOptions`], as [`std::fs::File::options`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let file = corio::fs::File::options().read(true).open("/dev/null");
    ///     assert!(file.is_ok());
    /// });
    /// ```
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Runs `op` on the file where it may block.
    fn on_file<T, F>(&self, what: &str, op: F) -> io::Result<T>
    where
        F: FnOnce(&std::fs::File) -> io::Result<T> + Send + 'static,
        T: Send + 'static,
    {
        let file = Arc::clone(&self.inner);
        unblock(what, move || op(&file))
    }

    /// Flushes the file's data and metadata to the device, as
    /// [`std::fs::File::sync_all`].
    ///
    /// # Coroutines
    ///
    /// Runs on the blocking pool, suspending only the caller.
    ///
    /// # Errors
    ///
    /// As std's.
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("corio-sync-doc-{}", std::process::id()));
    /// corio::run(|| -> std::io::Result<()> {
    ///     corio::fs::File::create(&path)?.sync_all()?;
    ///     corio::fs::remove_file(&path)
    /// })
    /// .unwrap();
    /// ```
    pub fn sync_all(&self) -> io::Result<()> {
        self.on_file("corio::fs::File::sync_all", |f| f.sync_all())
    }

    /// Flushes the file's data (not all of its metadata) to the device, as
    /// [`std::fs::File::sync_data`].
    ///
    /// # Coroutines
    ///
    /// Runs on the blocking pool, suspending only the caller.
    ///
    /// # Errors
    ///
    /// As std's.
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("corio-syncd-doc-{}", std::process::id()));
    /// corio::run(|| -> std::io::Result<()> {
    ///     corio::fs::File::create(&path)?.sync_data()?;
    ///     corio::fs::remove_file(&path)
    /// })
    /// .unwrap();
    /// ```
    pub fn sync_data(&self) -> io::Result<()> {
        self.on_file("corio::fs::File::sync_data", |f| f.sync_data())
    }

    /// Truncates or extends the file to `size` bytes, as
    /// [`std::fs::File::set_len`].
    ///
    /// # Coroutines
    ///
    /// Runs on the blocking pool, suspending only the caller.
    ///
    /// # Errors
    ///
    /// As std's: `InvalidInput` when the file was not opened for writing.
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("corio-len-doc-{}", std::process::id()));
    /// corio::run(|| -> std::io::Result<()> {
    ///     let file = corio::fs::File::create(&path)?;
    ///     file.set_len(10)?;
    ///     assert_eq!(file.metadata()?.len(), 10);
    ///     corio::fs::remove_file(&path)
    /// })
    /// .unwrap();
    /// ```
    pub fn set_len(&self, size: u64) -> io::Result<()> {
        self.on_file("corio::fs::File::set_len", move |f| f.set_len(size))
    }

    /// The file's metadata, as [`std::fs::File::metadata`].
    ///
    /// # Coroutines
    ///
    /// Runs on the blocking pool, suspending only the caller.
    ///
    /// # Errors
    ///
    /// As std's.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let file = corio::fs::File::open("/dev/null").unwrap();
    ///     assert_eq!(file.metadata().unwrap().len(), 0);
    /// });
    /// ```
    pub fn metadata(&self) -> io::Result<Metadata> {
        self.on_file("corio::fs::File::metadata", |f| f.metadata())
    }

    /// A new `File` for the same open file (sharing its cursor), as
    /// [`std::fs::File::try_clone`].
    ///
    /// # Errors
    ///
    /// As std's: when the process is out of file descriptors.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let file = corio::fs::File::open("/dev/null").unwrap();
    ///     let clone = file.try_clone().unwrap();
    ///     assert!(clone.metadata().is_ok());
    /// });
    /// ```
    pub fn try_clone(&self) -> io::Result<File> {
        // A `dup` never waits for a device: no pool trip.
        Ok(File::from(self.inner.try_clone()?))
    }

    /// Sets the file's permissions, as [`std::fs::File::set_permissions`].
    ///
    /// # Coroutines
    ///
    /// Runs on the blocking pool, suspending only the caller.
    ///
    /// # Errors
    ///
    /// As std's.
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("corio-fperm-doc-{}", std::process::id()));
    /// corio::run(|| -> std::io::Result<()> {
    ///     let file = corio::fs::File::create(&path)?;
    ///     let mut perms = file.metadata()?.permissions();
    ///     perms.set_readonly(true);
    ///     file.set_permissions(perms)?;
    ///     assert!(file.metadata()?.permissions().readonly());
    ///     corio::fs::remove_file(&path)
    /// })
    /// .unwrap();
    /// ```
    pub fn set_permissions(&self, perm: Permissions) -> io::Result<()> {
        self.on_file("corio::fs::File::set_permissions", move |f| {
            f.set_permissions(perm)
        })
    }

    /// Sets the file's access and modification times, as
    /// [`std::fs::File::set_times`].
    ///
    /// # Coroutines
    ///
    /// Runs on the blocking pool, suspending only the caller.
    ///
    /// # Errors
    ///
    /// As std's.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use corio::fs::FileTimes;
    ///
    /// let path = std::env::temp_dir().join(format!("corio-times-doc-{}", std::process::id()));
    /// corio::run(|| -> std::io::Result<()> {
    ///     let file = corio::fs::File::create(&path)?;
    ///     let then = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    ///     file.set_times(FileTimes::new().set_modified(then))?;
    ///     assert_eq!(file.metadata()?.modified()?, then);
    ///     corio::fs::remove_file(&path)
    /// })
    /// .unwrap();
    /// ```
    pub fn set_times(&self, times: FileTimes) -> io::Result<()> {
        self.on_file("corio::fs::File::set_times", move |f| f.set_times(times))
    }

    /// Sets the file's modification time, as
    /// [`std::fs::File::set_modified`].
    ///
    /// # Coroutines
    ///
    /// Runs on the blocking pool, suspending only the caller.
    ///
    /// # Errors
    ///
    /// As std's.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    ///
    /// let path = std::env::temp_dir().join(format!("corio-mtime-doc-{}", std::process::id()));
    /// corio::run(|| -> std::io::Result<()> {
    ///     let file = corio::fs::File::create(&path)?;
    ///     let then = SystemTime::UNIX_EPOCH + Duration::from_secs(2_000_000);
    ///     file.set_modified(then)?;
    ///     assert_eq!(file.metadata()?.modified()?, then);
    ///     corio::fs::remove_file(&path)
    /// })
    /// .unwrap();
    /// ```
    pub fn set_modified(&self, time: SystemTime) -> io::Result<()> {
        self.on_file("corio::fs::File::set_modified", move |f| {
            f.set_modified(time)
        })
    }

    /// `read` for `File` and `&File`: at most [`MAX_CHUNK`] bytes through
    /// a buffer the pool thread owns.
    fn read_shared(&self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len().min(MAX_CHUNK);
        if len == 0 {
            return Ok(0);
        }
        let got = self.on_file("corio::fs::File::read", move |mut f| {
            let mut chunk = vec![0; len];
            let n = f.read(&mut chunk)?;
            chunk.truncate(n);
            Ok(chunk)
        })?;
        buf[..got.len()].copy_from_slice(&got);
        Ok(got.len())
    }

    /// `read_to_end` in one pool trip.
    fn read_to_end_shared(&self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let got = self.on_file("corio::fs::File::read_to_end", |mut f| {
            let mut all = Vec::new();
            f.read_to_end(&mut all)?;
            Ok(all)
        })?;
        buf.extend_from_slice(&got);
        Ok(got.len())
    }

    /// `read_to_string` in one pool trip; on invalid UTF-8 `buf` is left
    /// as it was, as std's.
    fn read_to_string_shared(&self, buf: &mut String) -> io::Result<usize> {
        let got = self.on_file("corio::fs::File::read_to_string", |mut f| {
            let mut all = String::new();
            f.read_to_string(&mut all)?;
            Ok(all)
        })?;
        buf.push_str(&got);
        Ok(got.len())
    }

    /// `write` for `File` and `&File`: at most [`MAX_CHUNK`] bytes, copied
    /// for the pool thread.
    fn write_shared(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let chunk = buf[..buf.len().min(MAX_CHUNK)].to_vec();
        self.on_file("corio::fs::File::write", move |mut f| f.write(&chunk))
    }

    /// `seek` for `File` and `&File`.
    fn seek_shared(&self, pos: SeekFrom) -> io::Result<u64> {
        self.on_file("corio::fs::File::seek", move |mut f| f.seek(pos))
    }
}

impl Read for File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_shared(buf)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.read_to_end_shared(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        self.read_to_string_shared(buf)
    }
}

impl Read for &File {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_shared(buf)
    }

    fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        self.read_to_end_shared(buf)
    }

    fn read_to_string(&mut self, buf: &mut String) -> io::Result<usize> {
        self.read_to_string_shared(buf)
    }
}

impl Write for File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_shared(buf)
    }

    /// As std's: a `File` keeps no buffer, so there is nothing to flush.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &File {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_shared(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.seek_shared(pos)
    }
}

impl Seek for &File {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.seek_shared(pos)
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl From<std::fs::File> for File {
    fn from(file: std::fs::File) -> File {
        File {
            inner: Arc::new(file),
        }
    }
}

impl From<OwnedFd> for File {
    fn from(fd: OwnedFd) -> File {
        File::from(std::fs::File::from(fd))
    }
}

impl FromRawFd for File {
    unsafe fn from_raw_fd(fd: RawFd) -> File {
        // SAFETY: the caller hands over an open descriptor it owns, the
        // contract of `FromRawFd` that std's `File` relies on too.
        File::from(unsafe { std::fs::File::from_raw_fd(fd) })
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

/// How to open a file, as [`std::fs::OpenOptions`]; its
/// [`open`](OpenOptions::open) runs on the blocking pool.
///
/// std's `OpenOptionsExt` (`mode`, `custom_flags`) works on it too.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use corio::fs::OpenOptions;
///
/// let path = std::env::temp_dir().join(format!("corio-opts-doc-{}", std::process::id()));
/// corio::run(|| -> std::io::Result<()> {
///     corio::fs::write(&path, "a")?;
///     let mut file = OpenOptions::new().append(true).open(&path)?;
///     file.write_all(b"b")?;
///     assert_eq!(corio::fs::read_to_string(&path)?, "ab");
///     corio::fs::remove_file(&path)
/// })
/// .unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// std's options; only `open` differs.
    inner: std::fs::OpenOptions,
}

impl Default for OpenOptions {
    fn default() -> OpenOptions {
        OpenOptions::new()
    }
}

impl OpenOptions {
    /// Options with every flag off, as [`std::fs::OpenOptions::new`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     // No access mode chosen: std's `InvalidInput`.
    ///     let err = corio::fs::OpenOptions::new().open("/dev/null").unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// });
    /// ```
    pub fn new() -> OpenOptions {
        OpenOptions {
            inner: std::fs::OpenOptions::new(),
        }
    }

    /// Opens for reading, as [`std::fs::OpenOptions::read`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| assert!(corio::fs::OpenOptions::new().read(true).open("/dev/null").is_ok()));
    /// ```
    pub fn read(&mut self, read: bool) -> &mut OpenOptions {
        self.inner.read(read);
        self
    }

    /// Opens for writing, as [`std::fs::OpenOptions::write`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| assert!(corio::fs::OpenOptions::new().write(true).open("/dev/null").is_ok()));
    /// ```
    pub fn write(&mut self, write: bool) -> &mut OpenOptions {
        self.inner.write(write);
        self
    }

    /// Opens for appending, as [`std::fs::OpenOptions::append`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| assert!(corio::fs::OpenOptions::new().append(true).open("/dev/null").is_ok()));
    /// ```
    pub fn append(&mut self, append: bool) -> &mut OpenOptions {
        self.inner.append(append);
        self
    }

    /// Truncates an existing file to 0 bytes, as
    /// [`std::fs::OpenOptions::truncate`].
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("corio-trunc-doc-{}", std::process::id()));
    /// corio::run(|| -> std::io::Result<()> {
    ///     corio::fs::write(&path, "old")?;
    ///     corio::fs::OpenOptions::new().write(true).truncate(true).open(&path)?;
    ///     assert_eq!(corio::fs::read(&path)?, b"");
    ///     corio::fs::remove_file(&path)
    /// })
    /// .unwrap();
    /// ```
    pub fn truncate(&mut self, truncate: bool) -> &mut OpenOptions {
        self.inner.truncate(truncate);
        self
    }

    /// Creates the file if it is missing, as
    /// [`std::fs::OpenOptions::create`].
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("corio-ocreate-doc-{}", std::process::id()));
    /// corio::run(|| -> std::io::Result<()> {
    ///     corio::fs::OpenOptions::new().write(true).create(true).open(&path)?;
    ///     assert!(corio::fs::exists(&path)?);
    ///     corio::fs::remove_file(&path)
    /// })
    /// .unwrap();
    /// ```
    pub fn create(&mut self, create: bool) -> &mut OpenOptions {
        self.inner.create(create);
        self
    }

    /// Creates the file, failing if it exists, as
    /// [`std::fs::OpenOptions::create_new`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let err = corio::fs::OpenOptions::new()
    ///         .write(true)
    ///         .create_new(true)
    ///         .open("/dev/null")
    ///         .unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    /// });
    /// ```
    pub fn create_new(&mut self, create_new: bool) -> &mut OpenOptions {
        self.inner.create_new(create_new);
        self
    }

    /// Opens `path` with these options, as [`std::fs::OpenOptions::open`].
    ///
    /// # Coroutines
    ///
    /// Runs on the blocking pool, suspending only the caller. Opening a
    /// FIFO waits there until its other end is opened; the runtime runs on.
    ///
    /// # Errors
    ///
    /// As std's: `NotFound`, `AlreadyExists`, `PermissionDenied`, and
    /// `InvalidInput` for a contradictory set of options (no access mode,
    /// `truncate` without `write`, ...).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let err = corio::fs::OpenOptions::new()
    ///         .read(true)
    ///         .open("/no/such/corio/file")
    ///         .unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    /// });
    /// ```
    pub fn open<P: AsRef<Path>>(&self, path: P) -> io::Result<File> {
        let options = self.inner.clone();
        let file = on_path("corio::fs::OpenOptions::open", path.as_ref(), move |path| {
            options.open(path)
        })?;
        Ok(File::from(file))
    }
}

impl std::os::unix::fs::OpenOptionsExt for OpenOptions {
    fn mode(&mut self, mode: u32) -> &mut OpenOptions {
        self.inner.mode(mode);
        self
    }

    fn custom_flags(&mut self, flags: i32) -> &mut OpenOptions {
        self.inner.custom_flags(flags);
        self
    }
}
