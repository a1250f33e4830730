#!/usr/bin/env python3
"""A fixed-count HTTP keep-alive client for per-request measurements.

Opens CONNECTIONS keep-alive connections to ADDR and sends GET requests
over them, one outstanding per connection (as wrk does), in two phases:
WARMUP requests, then MEASURED requests. Between the phases, and after
the second, every connection is idle (its last response read), and the
client runs the shell commands given with --before and --after, so a
profiler attached to the server sees exactly MEASURED requests and the
connection set-up is outside the window.

    request_client.py --addr 127.0.0.1:8080 --connections 1000 \
        --warmup 20000 --requests 100000 \
        --before 'echo start' --after 'echo stop'

It prints one JSON line: the connection count, the measured requests and
the seconds they took. Every response must be the bench server's
fixed "hello" response (its length is checked); anything else is an error.
"""

import argparse
import json
import selectors
import socket
import subprocess
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
# examples/http_hello/http.rs, `HELLO`.
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"
    b"Hello, world!"
)


def run_phase(selector, conns, count):
    """Sends `count` requests over `conns`, at most one outstanding each,
    and returns when every response has been read."""
    started = 0
    pending = {}
    for sock in conns:
        if started == count:
            break
        sock.sendall(REQUEST)
        started += 1
        pending[sock] = 0
        selector.register(sock, selectors.EVENT_READ)
    while pending:
        for key, _ in selector.select():
            sock = key.fileobj
            data = sock.recv(65536)
            if not data:
                sys.exit("request_client: the server closed a connection")
            pending[sock] += len(data)
            if pending[sock] > len(RESPONSE):
                sys.exit("request_client: a response longer than the hello response")
            if pending[sock] < len(RESPONSE):
                continue
            if started < count:
                sock.sendall(REQUEST)
                started += 1
                pending[sock] = 0
            else:
                del pending[sock]
                selector.unregister(sock)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--addr", required=True, help="HOST:PORT of the server")
    parser.add_argument("--connections", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10000)
    parser.add_argument("--requests", type=int, default=100000)
    parser.add_argument("--before", default="", help="shell command run before the measured phase")
    parser.add_argument("--after", default="", help="shell command run after it")
    args = parser.parse_args()
    host, port = args.addr.rsplit(":", 1)
    conns = []
    for _ in range(args.connections):
        sock = socket.create_connection((host, int(port)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conns.append(sock)
    for sock in conns:
        sock.setblocking(False)
    selector = selectors.DefaultSelector()
    # Every connection serves at least one warm-up request, so the server
    # has accepted and started all of them before the measured phase.
    run_phase(selector, conns, max(args.warmup, args.connections))
    if args.before:
        subprocess.run(args.before, shell=True, check=True)
    start = time.monotonic()
    run_phase(selector, conns, args.requests)
    seconds = time.monotonic() - start
    if args.after:
        subprocess.run(args.after, shell=True, check=True)
    for sock in conns:
        sock.close()
    print(json.dumps({"connections": args.connections, "requests": args.requests, "seconds": seconds}))


if __name__ == "__main__":
    main()
