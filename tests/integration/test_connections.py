# SPDX-License-Identifier: MIT
"""A full connection table must not lock clients out (issue 10, finding 3).

Idle connections (never sent a byte, or kept alive between requests) are
closed to make room for newcomers, the longest idle first; a new connection
has first_byte_timeout to begin its first request; one client address has at
most max_connections_per_client connections and is told 429 past it. A table
full of busy connections still answers 429 (test_bad_input.py). Bodies that
stop coming end exec and proxied calls with 408, leaving nothing behind
(under ASan the daemon's exit, checked by the fixture, finds nothing leaked).

Only loopback traffic; a second client address is 127.0.0.2.
"""
import select
import socket
import time

import requests

from sfaasd_testlib import HTTP_TIMEOUT, SLOW, error_of, read_response, wait_until

DAEMON_CONFIG = {
    "max_connections": 50,
    # The flood below comes from one address: the eviction is what is
    # tested here, not the per-client cap or the first-byte deadline.
    "max_connections_per_client": 200,
    "first_byte_timeout": "60s",
    "idle_timeout": "2s",
}
DEADLINE = 20 * SLOW


def connect(port, source="127.0.0.1"):
    return socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT, source_address=(source, 0))


def closed_by_peer(s, timeout=HTTP_TIMEOUT):
    """Wait for the server to close s (what it sent before is read and dropped)."""
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def still_open(s):
    """Nothing to read and no end of stream: the server keeps it."""
    readable, _, _ = select.select([s], [], [], 0)
    return not readable


def get(s, path="/healthz"):
    s.sendall(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    return read_response(s)


def busy(port, source="127.0.0.1"):
    """A connection with a request in flight: its head is in (the 100
    Continue came back), its body is awaited. Sending b"hello" finishes it
    (404: no such function) and the server closes it."""
    s = connect(port, source)
    s.sendall(b"POST /function/nosuchfn HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
              b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        b = s.recv(4096)
        assert b, "closed before 100 Continue: %r" % head
        head += b
    assert head.startswith(b"HTTP/1.1 100"), head
    return s


def test_idle_connections_make_room(daemon):
    # 60 connections that send nothing, against a table of 50: newcomers are
    # served at once and the longest idle connections are the ones closed.
    socks = [connect(daemon.port) for _ in range(60)]
    try:
        t0 = time.monotonic()
        r = requests.get(daemon.url + "/healthz", timeout=HTTP_TIMEOUT)
        took = time.monotonic() - t0
        assert r.status_code == 200, r.text
        assert took < 10 * SLOW, "healthz took %.2fs (the idle ones hold their slots for 60s)" % took
        # The 10 over the limit and the healthz connection made room: the
        # 11 oldest are closed (the first-byte deadline is 60 s here).
        assert closed_by_peer(socks[10])
        closed = [i for i, s in enumerate(socks) if not still_open(s)]
        assert closed == list(range(11)), closed
        # The others are ordinary connections.
        assert get(socks[-1]).status == 200
        assert get(socks[11]).status == 200
    finally:
        for s in socks:
            s.close()


def test_keep_alive_connections_make_room_too(daemon):
    # Kept-alive connections between requests are idle as well.
    socks = [connect(daemon.port) for _ in range(50)]
    try:
        for s in socks:
            assert get(s).status == 200
        newcomer = connect(daemon.port)
        assert get(newcomer).status == 200
        assert closed_by_peer(socks[0])
        assert [i for i, s in enumerate(socks) if not still_open(s)] == [0]
        newcomer.close()
    finally:
        for s in socks:
            s.close()


def test_first_byte_deadline_closes_a_silent_connection(make_daemon):
    d = make_daemon({"first_byte_timeout": "1s"})
    kept = connect(d.port)
    try:
        assert get(kept).status == 200
        silent = connect(d.port)
        t0 = time.monotonic()
        assert closed_by_peer(silent, 10 * SLOW)
        took = time.monotonic() - t0
        assert 0.9 <= took < 1 + 10 * SLOW, "closed after %.2fs with a 1s deadline" % took
        silent.close()
        # A kept-alive connection has the idle timeout (60 s by default).
        assert still_open(kept)
        assert get(kept).status == 200
    finally:
        kept.close()


def test_per_client_cap(make_daemon):
    d = make_daemon({"max_connections_per_client": 4})
    idle = [connect(d.port) for _ in range(2)]
    held = [busy(d.port) for _ in range(2)]
    try:
        # The fifth from 127.0.0.1 is told so and closed; its idle ones
        # are not evicted for it.
        over = connect(d.port)
        r = read_response(over)
        assert r.status == 429, r
        assert r.headers.get("retry-after") == "1", r.headers
        assert "too many connections from this address" in r.json()["error"]
        assert closed_by_peer(over)
        over.close()
        r = requests.get(d.url + "/healthz", timeout=HTTP_TIMEOUT)
        assert r.status_code == 429 and error_of(r)
        assert all(still_open(s) for s in idle)
        # Another address is served.
        other = connect(d.port, "127.0.0.2")
        assert get(other).status == 200
        other.close()
        # A call ends, its connection closes: room again for 127.0.0.1.
        held[0].sendall(b"hello")
        assert read_response(held[0]).status == 404
        assert closed_by_peer(held[0])
        again = connect(d.port)
        assert get(again).status == 200
        again.close()
    finally:
        for s in idle + held:
            s.close()


# ---- bodies that stop coming ------------------------------------------------------------

def _ready(api, name):
    r = api.get("/system/function/" + name)
    return r.status_code == 200 and r.json().get("availableReplicas", 0) >= 1


def test_body_that_stops_coming_is_408(api, daemon, images, busybox):
    r = api.import_image(images.path("httpfn-oci.tar"))
    assert r.status_code == 200, r.text
    api.deploy("stall-exec", fprocess="cat", annotations={"com.sfaasd.mode": "exec"}, expect=202)
    api.deploy("stall-http", image="httpfn:latest", labels={"com.openfaas.scale.min": "1"}, expect=202)
    wait_until(lambda: _ready(api, "stall-http"), DEADLINE, "stall-http ready")
    try:
        for name, path in (("stall-exec", ""), ("stall-http", "/hello"), ("stall-http", "/echo")):
            s = connect(daemon.port)
            s.sendall(b"POST /function/%s%s HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
                      % (name.encode(), path.encode()) + b"a" * 10)
            t0 = time.monotonic()
            if path == "/echo":
                # The answer has begun (echo streams back): cut, no 408.
                head = s.recv(65536)
                assert head.startswith(b"HTTP/1.1 200"), head
                assert closed_by_peer(s)
            else:
                r = read_response(s)
                assert r.status == 408, (name, r)
                assert "not received in time" in r.json()["error"]
            took = time.monotonic() - t0
            assert 1.5 <= took < 2 + 15 * SLOW, "%s%s ended after %.2fs (idle_timeout 2s)" % (name, path, took)
            s.close()
        wait_until(lambda: all(i["inflight"] == 0 for i in api.get("/system/function/stall-http")
                               .json()["sfaasd"]["instances"]), DEADLINE, "no call left in flight")
        r = api.invoke("stall-exec", data=b"still")
        assert r.status_code == 200 and r.content == b"still"
        r = api.invoke("stall-http", path="/hello", data=b"")
        assert r.status_code == 200 and r.text == "hello\n"
    finally:
        api.remove("stall-exec")
        api.remove("stall-http")
