# SPDX-License-Identifier: MIT
"""Deadlines and fairness for requests being received (issue 13, point 2).

A request's head must arrive within header_timeout, head and in-memory body
within request_timeout, its body at body_min_rate on average after a
body_timeout allowance; each is a 408. A table full of slow senders must
not lock other clients out: a newcomer takes the place of the slowest
sender (408 to it). A table full of requests being answered still says 429.

The floods come from several loopback addresses (127.0.0.2 ...), each under
the per-client cap; the attacker reopens every connection the server closes,
as a real one would. While it runs, a well-behaved client keeps calling and
must be answered 200 every time; its latencies are printed next to those of
a quiet daemon (no timing is asserted beyond generous deadlines). Nothing may
be left behind: the daemon's fds return to where they were.
"""
import base64
import socket
import threading
import time

import pytest
import requests

from sfaasd_testlib import HTTP_TIMEOUT, SLOW, Api, fd_count, read_response, wait_until

DAEMON_CONFIG = {
    "max_connections": 100,
    "header_timeout": "4s",
    "body_timeout": "4s",
    "body_min_rate": 1024,
    "request_timeout": "60s",
}
SOURCES = ["127.0.0.%d" % i for i in range(2, 8)]  # 6 attacker addresses, 50 connections each


def connect(port, source="127.0.0.1"):
    return socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT, source_address=(source, 0))


class Flood:
    """n connections that send a request's start and then one byte every
    `every` seconds, reopened when the server closes them. kind "body": the
    head of a POST with a 100-byte body, then the body; "head": a head, one
    header byte at a time (slowloris)."""

    def __init__(self, port, n, kind, every=2.0):
        self.port, self.n, self.kind, self.every = port, n, kind, every
        self.socks = []
        self.stop = threading.Event()
        self.ended = []          # (status or None, seconds alive, error text)
        self.opened = 0
        self.refused = 0          # 429 at connect (table full of young ones)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self, i):
        src = SOURCES[i % len(SOURCES)]
        try:
            s = connect(self.port, src)
        except OSError:
            return None
        s.setblocking(False)
        start = (b"POST /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
                 if self.kind == "body" else b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try:
            s.send(start)
        except OSError:
            s.close()
            return None
        self.opened += 1
        return [s, time.monotonic(), b""]

    def _ended(self, entry):
        s, t0, got = entry
        status, err = None, ""
        if got.startswith(b"HTTP/1.1 "):
            status = int(got[9:12])
            err = got.partition(b"\r\n\r\n")[2].decode("latin-1", "replace")
        if status == 429:
            self.refused += 1
        self.ended.append((status, time.monotonic() - t0, err))
        s.close()

    def _run(self):
        self.socks = [e for e in (self._open(i) for i in range(self.n)) if e]
        next_byte = time.monotonic() + self.every
        while not self.stop.is_set():
            for k, e in enumerate(self.socks):
                if e is None:
                    continue
                try:
                    while True:
                        b = e[0].recv(4096)
                        if not b:
                            raise ConnectionError
                        e[2] += b
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                self._ended(e)
                self.socks[k] = self._open(k)
            if time.monotonic() >= next_byte:
                next_byte += self.every
                for e in self.socks:
                    if e is not None:
                        try:
                            e[0].send(b"a" if self.kind == "body" else b"X")
                        except OSError:
                            pass
            self.stop.wait(0.05)
        for e in self.socks:
            if e is not None:
                e[0].close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        self.thread.join(30)


def served_while(api, daemon, seconds):
    """A well-behaved client: new connections, healthz and an exec call, for
    `seconds`. Returns [(what, status, latency)]."""
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        r = requests.get(daemon.url + "/healthz", timeout=HTTP_TIMEOUT)
        out.append(("healthz", r.status_code, time.monotonic() - t0))
        t0 = time.monotonic()
        r = api.invoke("echo", data=b"fair")
        out.append(("invoke", r.status_code, time.monotonic() - t0))
        assert r.status_code != 200 or r.content == b"fair"
        time.sleep(0.05)
    return out


def summary(samples):
    lat = sorted(x[2] for x in samples)
    return "n=%d p50=%.1fms max=%.1fms" % (len(lat), lat[len(lat) // 2] * 1e3, lat[-1] * 1e3)


@pytest.fixture(scope="module")
def echo(api, busybox):
    api.deploy("echo", fprocess="cat", expect=202)
    return "echo"


@pytest.mark.parametrize("kind", ["body", "head"])
def test_flood_of_slow_senders_leaves_others_served(api, daemon, echo, kind):
    baseline = served_while(api, daemon, 1.0)
    assert all(s == 200 for _, s, _ in baseline), baseline
    fds = fd_count(daemon.pid)
    with Flood(daemon.port, 300, kind) as flood:
        wait_until(lambda: flood.opened >= 100, 30 * SLOW, "the flood to fill the table")
        during = served_while(api, daemon, 10.0)
    print("\n%s flood: quiet %s; during %s; slow connections opened %d, ended %d (429 at connect: %d)" % (
        kind, summary(baseline), summary(during), flood.opened, len(flood.ended), flood.refused))
    bad = [x for x in during if x[1] != 200]
    assert not bad, "the well-behaved client was refused: %s" % bad[:10]
    # Generous: a flooded daemon still answers within seconds, not the tens
    # of seconds a slow sender could hold a slot for.
    assert max(x[2] for x in during) < 5 * SLOW, summary(during)
    # The slow senders were cut: evicted for newcomers or past their deadline, with 408.
    cut = [e for e in flood.ended if e[0] == 408]
    assert cut, flood.ended[:10]
    assert all("not received in time" in e[2] for e in cut), cut[:5]
    # Nothing left behind once they are gone (each closed connection's fd).
    wait_until(lambda: fd_count(daemon.pid) <= fds + 2, 30 * SLOW, "the daemon's fds back to %d" % fds)


def test_body_below_minimum_rate_is_408(daemon, echo):
    # body_timeout 4 s, then 1024 B/s: a byte every 0.5 s falls behind at once.
    s = connect(daemon.port)
    s.sendall(b"POST /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    t0 = time.monotonic()
    r = None
    try:
        while time.monotonic() - t0 < 30 * SLOW:
            s.sendall(b"a")
            s.settimeout(0.5)
            try:
                r = read_response(s, timeout=0.5)
                break
            except socket.timeout:
                pass
    finally:
        took = time.monotonic() - t0
        s.close()
    assert r is not None and r.status == 408, r
    assert "slower than the minimum rate" in r.json()["error"], r
    assert 3.5 <= took < 4 + 10 * SLOW, took


def test_body_at_the_minimum_rate_is_read(make_daemon, images):
    # 2 KiB/s against a minimum of 1 KiB/s and body_timeout 1 s: 8 KiB in
    # about 4 s is accepted whole (the rate is an average, not a deadline).
    d = make_daemon({"body_timeout": "1s", "body_min_rate": 1024, "idle_timeout": "5s"})
    api = Api(d)
    r = api.import_image(images.path("busybox-oci.tar"))
    assert r.status_code == 200, r.text
    api.deploy("echo", fprocess="cat", expect=202)
    s = connect(d.port)
    body = b"b" * 8192
    s.sendall(b"POST /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
    for i in range(0, len(body), 512):
        s.sendall(body[i:i + 512])
        time.sleep(0.25)
    r = read_response(s)
    s.close()
    assert r.status == 200 and r.body == body, r


def test_request_timeout_bounds_head_and_body(make_daemon):
    # A body that keeps the rate but never ends: request_timeout (3 s) cuts it.
    d = make_daemon({"request_timeout": "3s", "body_timeout": "30s", "body_min_rate": 1})
    s = connect(d.port)
    s.sendall(b"POST /system/functions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
    t0 = time.monotonic()
    r = None
    try:
        while time.monotonic() - t0 < 30 * SLOW:
            s.sendall(b"{" * 100)
            try:
                r = read_response(s, timeout=0.3)
                break
            except socket.timeout:
                pass
    finally:
        took = time.monotonic() - t0
        s.close()
    assert r is not None and r.status == 408, r
    assert "request timeout" in r.json()["error"], r
    assert 2.5 <= took < 3 + 10 * SLOW, took


def test_slow_sender_gives_way_to_newcomer(make_daemon):
    d = make_daemon({"max_connections": 4, "body_timeout": "60s", "header_timeout": "60s"})
    slow = []
    for _ in range(4):
        s = connect(d.port)
        # The 100 Continue says the head was read: the connection is
        # receiving its body, not idle (an idle one would be closed
        # silently instead, test_connections.py).
        s.sendall(b"POST /system/functions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 100")
        s.sendall(b"{")
        slow.append(s)
    try:
        r = requests.get(d.url + "/healthz", timeout=HTTP_TIMEOUT)
        assert r.status_code == 200, r.text
        # One of them was answered 408 and closed.
        answers = []
        for s in slow:
            s.settimeout(0.2)
            try:
                answers.append(read_response(s, timeout=0.5))
            except (socket.timeout, ConnectionError):
                pass
        assert any(a.status == 408 and "too slow while the server is full" in a.json()["error"]
                   for a in answers), answers
    finally:
        for s in slow:
            s.close()


def test_table_full_of_answers_in_progress_is_429(make_daemon, images):
    # Log followers are requests being answered: never evicted for a newcomer.
    d = make_daemon({"max_connections": 4})
    api = Api(d)
    r = api.import_image(images.path("busybox-oci.tar"))
    assert r.status_code == 200, r.text
    api.deploy("x", fprocess="cat", expect=202)
    cred = base64.b64encode(("admin:%s" % d.password).encode()).decode()
    held = []
    try:
        for _ in range(4):
            s = connect(d.port)
            s.sendall(b"GET /system/logs?name=x&follow=true HTTP/1.1\r\nHost: x\r\nAuthorization: Basic %s\r\n\r\n"
                      % cred.encode())
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(4096)
            assert head.startswith(b"HTTP/1.1 200"), head
            held.append(s)
        s = connect(d.port)
        r = read_response(s)
        s.close()
        assert r.status == 429, r
        assert r.headers.get("retry-after") == "1", r.headers
    finally:
        for s in held:
            s.close()
    wait_until(lambda: requests.get(d.url + "/healthz", timeout=HTTP_TIMEOUT).status_code == 200,
               30 * SLOW, "a slot to free up")
