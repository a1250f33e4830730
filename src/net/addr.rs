//! [`ToSocketAddrs`]: std's trait of the same name, for the same types,
//! differing only in where a host name is resolved (the trait's
//! `# Coroutines` section, the one place that says it).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::vec;

/// Something that names one or more socket addresses: what `bind`,
/// `connect` and `send_to` take. Implemented for exactly the types std's
/// [`std::net::ToSocketAddrs`] is (`SocketAddr` and its V4/V6 forms, an IP
/// and a port, `(&str, u16)`, `(String, u16)`, `"host:port"` strings,
/// `&[SocketAddr]`, and references to these), so calls written for std
/// compile unchanged. It is sealed: other types cannot implement it.
///
/// # Coroutines
///
/// An address given as numbers (a [`SocketAddr`], or text or a host that
/// parses as an IP address) is used as it is, with no lookup and no
/// runtime needed. A host name (such as `"localhost:80"`) is resolved with
/// std's resolver (`getaddrinfo`, which may wait seconds for a name
/// server) on a thread of corio's blocking pool
/// ([`spawn_blocking`](crate::spawn_blocking)), while only the calling
/// coroutine waits and the runtime's thread runs the others. Where no
/// coroutine can wait (a destructor run while the runtime shuts down, a
/// `log` backend the scheduler calls) the name is resolved right there,
/// blocking the thread.
///
/// # Examples
///
/// ```
/// use corio::net::ToSocketAddrs;
///
/// corio::run(|| {
///     let numeric: Vec<_> = "127.0.0.1:80".to_socket_addrs().unwrap().collect();
///     assert_eq!(numeric, ["127.0.0.1:80".parse().unwrap()]);
///     // A name: resolved on the blocking pool, the runtime keeps running.
///     let named: Vec<_> = ("localhost", 80).to_socket_addrs().unwrap().collect();
///     assert!(named.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
/// });
/// ```
pub trait ToSocketAddrs: sealed::Sealed {
    /// The addresses, resolving a host name on the blocking pool.
    ///
    /// # Errors
    ///
    /// As std's: `InvalidInput` for text that is no `host:port`, and what
    /// the resolver reports for a name it cannot resolve.
    ///
    /// # Panics
    ///
    /// Panics for a host name on a thread no corio runtime drives, as
    /// [`spawn_blocking`](crate::spawn_blocking) does, which the lookup goes
    /// through; numeric addresses never panic.
    fn to_socket_addrs(&self) -> io::Result<vec::IntoIter<SocketAddr>> {
        match self.__resolve() {
            Resolve::Done(addrs) => Ok(addrs.into_iter()),
            Resolve::Name(name) => lookup(name),
            Resolve::Failed(e) => Err(e),
        }
    }

    /// What to do: use these, or look this name up.
    #[doc(hidden)]
    fn __resolve(&self) -> Resolve;
}

/// How an address resolves; see [`ToSocketAddrs::__resolve`].
#[doc(hidden)]
#[derive(Debug)]
pub enum Resolve {
    /// Numeric: these addresses.
    Done(Vec<SocketAddr>),
    /// A host name and port, in a form std's resolver takes (`(host, port)`).
    Name((String, u16)),
    /// Text that names no address, and std's error for it.
    Failed(io::Error),
}

/// Resolves a host name on the blocking pool.
fn lookup(name: (String, u16)) -> io::Result<vec::IntoIter<SocketAddr>> {
    let resolved = crate::spawn_blocking(move || {
        std::net::ToSocketAddrs::to_socket_addrs(&(name.0.as_str(), name.1))
            .map(|addrs| addrs.collect::<Vec<_>>())
    });
    match resolved {
        Ok(addrs) => Ok(addrs?.into_iter()),
        Err(payload) => Err(io::Error::other(format!(
            "corio::net: resolving a host name panicked: {}",
            crate::scheduler::panic_text(&*payload)
        ))),
    }
}

mod sealed {
    /// Keeps [`super::ToSocketAddrs`] to the types corio implements it for.
    pub trait Sealed {}
}

/// Implements the trait for a type whose addresses need no lookup.
macro_rules! numeric {
    ($($ty:ty => |$v:ident| $addrs:expr;)*) => {$(
        impl sealed::Sealed for $ty {}
        impl ToSocketAddrs for $ty {
            fn __resolve(&self) -> Resolve {
                let $v = self;
                Resolve::Done($addrs)
            }
        }
    )*};
}

numeric! {
    SocketAddr => |a| vec![*a];
    SocketAddrV4 => |a| vec![SocketAddr::V4(*a)];
    SocketAddrV6 => |a| vec![SocketAddr::V6(*a)];
    (IpAddr, u16) => |a| vec![SocketAddr::new(a.0, a.1)];
    (Ipv4Addr, u16) => |a| vec![SocketAddr::new(IpAddr::V4(a.0), a.1)];
    (Ipv6Addr, u16) => |a| vec![SocketAddr::new(IpAddr::V6(a.0), a.1)];
    &[SocketAddr] => |a| a.to_vec();
}

/// A `(host, port)`: numeric if the host is an IP address, else a name.
fn host_port(host: &str, port: u16) -> Resolve {
    match host.parse::<IpAddr>() {
        Ok(ip) => Resolve::Done(vec![SocketAddr::new(ip, port)]),
        Err(_) => Resolve::Name((host.to_owned(), port)),
    }
}

/// A `"host:port"` text: numeric if it parses as a socket address, else a
/// name and a port, or std's error for text with no port.
fn host_colon_port(text: &str) -> Resolve {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Resolve::Done(vec![addr]);
    }
    match text.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>())) {
        Some((host, Ok(port))) => host_port(host, port),
        // std's own words ("invalid socket address", "invalid port
        // value"): std fails such text before any lookup.
        _ => Resolve::Failed(match std::net::ToSocketAddrs::to_socket_addrs(text) {
            Err(e) => e,
            Ok(_) => io::Error::new(io::ErrorKind::InvalidInput, "invalid socket address"),
        }),
    }
}

impl sealed::Sealed for (&str, u16) {}
impl ToSocketAddrs for (&str, u16) {
    fn __resolve(&self) -> Resolve {
        host_port(self.0, self.1)
    }
}

impl sealed::Sealed for (String, u16) {}
impl ToSocketAddrs for (String, u16) {
    fn __resolve(&self) -> Resolve {
        host_port(&self.0, self.1)
    }
}

impl sealed::Sealed for str {}
impl ToSocketAddrs for str {
    fn __resolve(&self) -> Resolve {
        host_colon_port(self)
    }
}

impl sealed::Sealed for String {}
impl ToSocketAddrs for String {
    fn __resolve(&self) -> Resolve {
        host_colon_port(self)
    }
}

impl<T: ToSocketAddrs + ?Sized> sealed::Sealed for &T {}
impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn __resolve(&self) -> Resolve {
        (**self).__resolve()
    }
}
