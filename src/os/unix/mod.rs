//! Unix-specific functionality, mirroring `std::os::unix`: Unix domain
//! sockets in [`net`].
//!
//! ```
//! use corio::os::unix::net::UnixDatagram;
//!
//! corio::run(|| {
//!     let (a, b) = UnixDatagram::pair()?;
//!     a.send(b"one datagram")?;
//!     let mut buf = [0; 32];
//!     let n = b.recv(&mut buf)?;
//!     assert_eq!(&buf[..n], b"one datagram");
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod net;
