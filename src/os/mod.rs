//! OS-specific functionality, mirroring `std::os`: so far, Unix domain
//! sockets ([`unix::net`]) that suspend only the calling coroutine.
//!
//! ```
//! use std::io::{Read, Write};
//! use corio::os::unix::net::UnixStream; // was: use std::os::unix::net::UnixStream;
//!
//! corio::run(|| {
//!     let (mut a, mut b) = UnixStream::pair()?;
//!     a.write_all(b"hi")?;
//!     let mut got = [0; 2];
//!     b.read_exact(&mut got)?;
//!     assert_eq!(&got, b"hi");
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod unix;
