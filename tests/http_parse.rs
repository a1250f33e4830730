//! The HTTP parsing that `examples/http_hello` and the load bench's servers
//! share: complete requests are found one by one, pipelined ones in order,
//! split ones wait for their end, bad ones get an error response.

#[path = "../examples/http_hello/http.rs"]
#[allow(dead_code)]
mod http;

use http::{Bad, Request, answer_all, parse};

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";

#[test]
fn a_complete_request_is_found_with_its_length() {
    assert_eq!(
        parse(GET),
        Ok(Some(Request {
            len: GET.len(),
            close: false
        }))
    );
}

#[test]
fn a_request_split_over_reads_waits_for_its_end() {
    for cut in 0..GET.len() {
        assert_eq!(parse(&GET[..cut]), Ok(None), "cut at {cut}");
    }
}

#[test]
fn pipelined_requests_are_all_answered_in_order_and_a_partial_one_is_kept() {
    let mut bytes = GET.repeat(3);
    bytes.extend_from_slice(&GET[..10]);
    let mut out = Vec::new();
    let (used, close) = answer_all(&bytes, &mut out);
    assert_eq!(used, 3 * GET.len());
    assert!(!close);
    assert_eq!(out, http::HELLO.repeat(3));
}

#[test]
fn a_body_with_content_length_is_part_of_the_request() {
    let post = b"POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    assert_eq!(parse(&post[..post.len() - 1]), Ok(None));
    assert_eq!(parse(post).unwrap().unwrap().len, post.len());
}

#[test]
fn connection_close_and_http_1_0_close_after_the_response() {
    let close = b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
    assert!(parse(close).unwrap().unwrap().close);
    let old = b"GET / HTTP/1.0\r\n\r\n";
    assert!(parse(old).unwrap().unwrap().close);
    let old_keep = b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n";
    assert!(!parse(old_keep).unwrap().unwrap().close);
    let mut out = Vec::new();
    let mut both = close.to_vec();
    both.extend_from_slice(GET);
    // Nothing after a closing request is answered.
    assert_eq!(answer_all(&both, &mut out), (close.len(), true));
    assert_eq!(out, http::HELLO);
}

#[test]
fn malformed_and_oversized_requests_are_refused() {
    assert_eq!(parse(b"GARBAGE\r\n\r\n"), Err(Bad::Malformed));
    assert_eq!(parse(b"GET / HTTP/2.0\r\n\r\n"), Err(Bad::Malformed));
    assert_eq!(
        parse(b"GET / HTTP/1.1\r\nno colon\r\n\r\n"),
        Err(Bad::Malformed)
    );
    assert_eq!(
        parse(b"GET / HTTP/1.1\r\nContent-Length: lots\r\n\r\n"),
        Err(Bad::Malformed)
    );
    assert_eq!(
        parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
        Err(Bad::Malformed)
    );
    let huge = vec![b'a'; http::MAX_HEAD + 1];
    assert_eq!(parse(&huge), Err(Bad::TooLarge));
    let mut out = Vec::new();
    assert!(answer_all(b"BAD\r\n\r\n", &mut out).1);
    assert_eq!(out, http::BAD_REQUEST);
}

/// A connection whose reads hand out scripted chunks, one per `read`, and
/// whose writes are collected one `write` call at a time.
struct Scripted {
    reads: std::collections::VecDeque<Vec<u8>>,
    writes: Vec<Vec<u8>>,
}

impl std::io::Read for Scripted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let Some(mut chunk) = self.reads.pop_front() else {
            return Ok(0);
        };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        if n < chunk.len() {
            self.reads.push_front(chunk.split_off(n));
        }
        Ok(n)
    }
}

impl std::io::Write for Scripted {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writes.push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_connection_loop_answers_each_read_with_one_write_and_keeps_split_requests() {
    let split_at = 10;
    let mut second_and_third = GET[split_at..].to_vec();
    second_and_third.extend_from_slice(GET);
    let mut stream = Scripted {
        // One and a bit requests, then the rest of the second and a third,
        // then end of file.
        reads: [[GET, &GET[..split_at]].concat(), second_and_third].into(),
        writes: Vec::new(),
    };
    http::serve(&mut stream).unwrap();
    assert_eq!(
        stream.writes,
        vec![http::HELLO.to_vec(), http::HELLO.repeat(2)],
        "one write per read that completed requests, in order"
    );
}

#[test]
fn the_connection_loop_stops_after_a_request_that_closes_and_after_a_bad_one() {
    let close = b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
    let mut stream = Scripted {
        reads: [[close.as_slice(), GET].concat(), GET.to_vec()].into(),
        writes: Vec::new(),
    };
    http::serve(&mut stream).unwrap();
    assert_eq!(stream.writes, vec![http::HELLO.to_vec()]);
    assert_eq!(
        stream.reads.len(),
        1,
        "the read after the close never happened"
    );

    let mut stream = Scripted {
        reads: [b"NONSENSE\r\n\r\n".to_vec(), GET.to_vec()].into(),
        writes: Vec::new(),
    };
    http::serve(&mut stream).unwrap();
    assert_eq!(stream.writes, vec![http::BAD_REQUEST.to_vec()]);
}
