//! The HTTP/1.1 part of `http_hello`, kept apart so that every server of
//! the load bench parses with the same code: find each complete request
//! (request line and headers up to `\r\n\r\n`, and a `Content-Length` body
//! if it has one), answer each with a fixed "hello" response, keep the
//! connection open unless the request says otherwise.
//!
//! Pipelining-safe: several requests in one read are all answered, in
//! order, with their responses written together; a request split over reads
//! waits for its end.
//!
//! [`serve`] is the connection loop of every blocking-style server (corio,
//! may, std threads); tokio's server in the load bench is the same loop
//! with `.await` after each `read` and `write_all`.

use std::io::{self, Read, Write};

/// The response to every request.
pub const HELLO: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";

/// The response to a request that cannot be parsed; the connection then
/// closes.
pub const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// The response to a request whose head is larger than [`MAX_HEAD`].
pub const TOO_LARGE: &[u8] =
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

/// The largest request head (request line and headers) accepted.
pub const MAX_HEAD: usize = 8 * 1024;

/// One complete request found at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Bytes it takes, head and body.
    pub len: usize,
    /// Whether the connection must close after its response
    /// (`Connection: close`, or HTTP/1.0 without `Connection: keep-alive`).
    pub close: bool,
}

/// Why a request cannot be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    /// Not HTTP/1.x, a malformed line or header, a bad `Content-Length`.
    Malformed,
    /// The head is larger than [`MAX_HEAD`].
    TooLarge,
}

impl Bad {
    /// The response that says so.
    pub fn response(self) -> &'static [u8] {
        match self {
            Bad::Malformed => BAD_REQUEST,
            Bad::TooLarge => TOO_LARGE,
        }
    }
}

/// The first complete request in `buf`: `Ok(None)` if it has not all
/// arrived yet.
pub fn parse(buf: &[u8]) -> Result<Option<Request>, Bad> {
    let Some(head_len) = find_head_end(buf) else {
        return if buf.len() > MAX_HEAD {
            Err(Bad::TooLarge)
        } else {
            Ok(None)
        };
    };
    if head_len > MAX_HEAD {
        return Err(Bad::TooLarge);
    }
    let head = std::str::from_utf8(&buf[..head_len - 4]).map_err(|_| Bad::Malformed)?;
    let mut lines = head.split("\r\n");
    let request_line = lines.next().ok_or(Bad::Malformed)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Bad::Malformed);
    };
    if method.is_empty() || !target.starts_with('/') && target != "*" {
        return Err(Bad::Malformed);
    }
    let http10 = match version {
        "HTTP/1.1" => false,
        "HTTP/1.0" => true,
        _ => return Err(Bad::Malformed),
    };
    let mut close = http10;
    let mut body = 0usize;
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(Bad::Malformed)?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            body = value.parse().map_err(|_| Bad::Malformed)?;
        } else if name.eq_ignore_ascii_case("connection") {
            if value.eq_ignore_ascii_case("close") {
                close = true;
            } else if value.eq_ignore_ascii_case("keep-alive") {
                close = false;
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked bodies are beyond a hello server: refuse, and close.
            return Err(Bad::Malformed);
        }
    }
    let len = head_len.checked_add(body).ok_or(Bad::Malformed)?;
    if buf.len() < len {
        return Ok(None);
    }
    Ok(Some(Request { len, close }))
}

/// The length of the head including its `\r\n\r\n`, if it is all in `buf`.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

/// What a connection does with the bytes it has read: answers every
/// complete request into `out` and says how many bytes they took and
/// whether to close afterwards.
pub fn answer_all(buf: &[u8], out: &mut Vec<u8>) -> (usize, bool) {
    let mut at = 0;
    loop {
        match parse(&buf[at..]) {
            Ok(Some(request)) => {
                out.extend_from_slice(HELLO);
                at += request.len;
                if request.close {
                    return (at, true);
                }
            }
            Ok(None) => return (at, false),
            Err(bad) => {
                out.extend_from_slice(bad.response());
                return (buf.len(), true);
            }
        }
    }
}

/// Serves one connection until the peer closes it or a request says so:
/// read what has arrived, answer every complete request in it with one
/// `write_all`, keep the rest for the next read.
pub fn serve(mut stream: impl Read + Write) -> io::Result<()> {
    let mut buf = vec![0u8; 2 * MAX_HEAD];
    let mut filled = 0;
    let mut out = Vec::with_capacity(4 * 1024);
    loop {
        let n = stream.read(&mut buf[filled..])?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
        let (used, close) = answer_all(&buf[..filled], &mut out);
        buf.copy_within(used..filled, 0);
        filled -= used;
        if !out.is_empty() {
            stream.write_all(&out)?;
            out.clear();
        }
        if close {
            return Ok(());
        }
        if filled == buf.len() {
            // A head this long was refused by `parse` already; a body that
            // does not fit is too large for a hello server.
            stream.write_all(TOO_LARGE)?;
            return Ok(());
        }
    }
}
