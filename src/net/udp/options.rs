//! Options of a [`UdpSocket`]: its timeouts (kept by corio) and the socket
//! options the kernel keeps (`setsockopt`/`getsockopt`), multicast included.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use super::UdpSocket;

impl UdpSocket {
    /// Limits how long one receive may wait; `None` waits as long as it
    /// takes. A receive that runs out of time returns
    /// `ErrorKind::WouldBlock`. Shared with this socket's clones.
    ///
    /// # Errors
    ///
    /// `ErrorKind::InvalidInput` for `Some(Duration::ZERO)`, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     socket.set_read_timeout(Some(Duration::from_millis(10)))?;
    ///     let err = socket.recv(&mut [0; 8]).unwrap_err(); // nobody sends
    ///     assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_read_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.inner
            .set_read_timeout("UdpSocket::set_read_timeout", dur)
    }

    /// The read timeout; see [`set_read_timeout`](UdpSocket::set_read_timeout).
    ///
    /// # Errors
    ///
    /// Never fails; the `Result` mirrors std.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     assert_eq!(socket.read_timeout()?, None);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.read_timeout())
    }

    /// Limits how long one send may wait for room in the socket's buffer;
    /// `None` waits as long as it takes. Shared with this socket's clones.
    ///
    /// # Errors
    ///
    /// `ErrorKind::InvalidInput` for `Some(Duration::ZERO)`, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     socket.set_write_timeout(Some(Duration::from_secs(1)))?;
    ///     assert_eq!(socket.write_timeout()?, Some(Duration::from_secs(1)));
    ///     let err = socket.set_write_timeout(Some(Duration::ZERO)).unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_write_timeout(&self, dur: Option<Duration>) -> io::Result<()> {
        self.inner
            .set_write_timeout("UdpSocket::set_write_timeout", dur)
    }

    /// The write timeout; see [`set_write_timeout`](UdpSocket::set_write_timeout).
    ///
    /// # Errors
    ///
    /// Never fails; the `Result` mirrors std.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     assert_eq!(socket.write_timeout()?, None);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.write_timeout())
    }

    /// Allows (`true`) or forbids sending to broadcast addresses
    /// (`SO_BROADCAST`).
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports; practically never.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     socket.set_broadcast(true)?;
    ///     assert!(socket.broadcast()?);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.inner.source().set_broadcast(on)
    }

    /// Whether sending to broadcast addresses is allowed; see
    /// [`set_broadcast`](UdpSocket::set_broadcast).
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports; practically never.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     assert!(!socket.broadcast()?);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.inner.source().broadcast()
    }

    /// Sets the IP time-to-live of outgoing datagrams.
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports (for example `InvalidInput` for a TTL
    /// above 255).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     socket.set_ttl(7)?;
    ///     assert_eq!(socket.ttl()?, 7);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.source().set_ttl(ttl)
    }

    /// The IP time-to-live; see [`set_ttl`](UdpSocket::set_ttl).
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports; practically never.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     assert!(socket.ttl()? > 0);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.source().ttl()
    }

    /// Takes the pending socket error (`SO_ERROR`), clearing it.
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports; practically never.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     assert!(socket.take_error()?.is_none());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.source().take_error()
    }

    /// Whether multicast datagrams this socket sends to an IPv4 group are
    /// looped back to the local host (`IP_MULTICAST_LOOP`).
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports, for example on an IPv6 socket.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     socket.set_multicast_loop_v4(false)?;
    ///     assert!(!socket.multicast_loop_v4()?);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.inner.source().set_multicast_loop_v4(on)
    }

    /// See [`set_multicast_loop_v4`](UdpSocket::set_multicast_loop_v4).
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports, for example on an IPv6 socket.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     assert!(socket.multicast_loop_v4()?); // the OS default
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.inner.source().multicast_loop_v4()
    }

    /// Sets the time-to-live of IPv4 multicast datagrams
    /// (`IP_MULTICAST_TTL`); 1, the default, keeps them on the local
    /// network.
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports, for example on an IPv6 socket.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     socket.set_multicast_ttl_v4(4)?;
    ///     assert_eq!(socket.multicast_ttl_v4()?, 4);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.inner.source().set_multicast_ttl_v4(ttl)
    }

    /// See [`set_multicast_ttl_v4`](UdpSocket::set_multicast_ttl_v4).
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports, for example on an IPv6 socket.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0")?;
    ///     assert_eq!(socket.multicast_ttl_v4()?, 1);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.inner.source().multicast_ttl_v4()
    }

    /// Whether multicast datagrams this socket sends to an IPv6 group are
    /// looped back to the local host (`IPV6_MULTICAST_LOOP`).
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports, for example on an IPv4 socket.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let Ok(socket) = corio::net::UdpSocket::bind("[::1]:0") else {
    ///         return Ok(()); // no IPv6 here
    ///     };
    ///     socket.set_multicast_loop_v6(false)?;
    ///     assert!(!socket.multicast_loop_v6()?);
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.inner.source().set_multicast_loop_v6(on)
    }

    /// See [`set_multicast_loop_v6`](UdpSocket::set_multicast_loop_v6).
    ///
    /// # Errors
    ///
    /// What `getsockopt(2)` reports, for example on an IPv4 socket.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let Ok(socket) = corio::net::UdpSocket::bind("[::1]:0") else {
    ///         return Ok(()); // no IPv6 here
    ///     };
    ///     assert!(socket.multicast_loop_v6()?); // the OS default
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.inner.source().multicast_loop_v6()
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with
    /// address `interface` (`0.0.0.0`: let the OS choose).
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports, for example `InvalidInput` if
    /// `multiaddr` is not a multicast address.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    ///
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("0.0.0.0:0")?;
    ///     let group = Ipv4Addr::new(224, 0, 0, 123);
    ///     socket.join_multicast_v4(&group, &Ipv4Addr::LOCALHOST)?;
    ///     socket.leave_multicast_v4(&group, &Ipv4Addr::LOCALHOST)?;
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.source().join_multicast_v4(multiaddr, interface)
    }

    /// Leaves an IPv4 multicast group joined with
    /// [`join_multicast_v4`](UdpSocket::join_multicast_v4).
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports, for example `AddrNotAvailable` for a
    /// group the socket has not joined.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    ///
    /// corio::run(|| {
    ///     let socket = corio::net::UdpSocket::bind("0.0.0.0:0")?;
    ///     let never_joined = Ipv4Addr::new(224, 0, 0, 124);
    ///     assert!(socket.leave_multicast_v4(&never_joined, &Ipv4Addr::LOCALHOST).is_err());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.inner.source().leave_multicast_v4(multiaddr, interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on the interface with
    /// index `interface` (0: let the OS choose).
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports, for example `ENODEV` when the OS has
    /// no interface to choose (no IPv6 route).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv6Addr;
    ///
    /// corio::run(|| {
    ///     let Ok(socket) = corio::net::UdpSocket::bind("[::]:0") else {
    ///         return Ok(()); // no IPv6 here
    ///     };
    ///     let group: Ipv6Addr = "ff02::123".parse().unwrap();
    ///     match socket.join_multicast_v6(&group, 0) {
    ///         Ok(()) => socket.leave_multicast_v6(&group, 0)?,
    ///         Err(e) => println!("no IPv6 multicast route here: {e}"),
    ///     }
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.source().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group joined with
    /// [`join_multicast_v6`](UdpSocket::join_multicast_v6).
    ///
    /// # Errors
    ///
    /// What `setsockopt(2)` reports, for example `AddrNotAvailable` for a
    /// group the socket has not joined.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(|| {
    ///     let Ok(socket) = corio::net::UdpSocket::bind("[::]:0") else {
    ///         return Ok(()); // no IPv6 here
    ///     };
    ///     let never_joined = "ff02::124".parse().unwrap();
    ///     assert!(socket.leave_multicast_v6(&never_joined, 0).is_err());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.inner.source().leave_multicast_v6(multiaddr, interface)
    }
}
