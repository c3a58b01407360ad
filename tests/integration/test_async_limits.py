# SPDX-License-Identifier: MIT
"""The async queue under pressure (issue 10): many more due callbacks than
senders with a slow receiver never stop the loop (libuv 1.44 re-runs a timer
armed at 0 ms from its own callback for ever), receivers that never answer
hold neither imports nor other receivers, at most two callbacks are in flight
per receiver, a retried X-Call-Id gets the call it names, the queue is capped
in calls and bytes, and the database gives the space of a drained queue back.
"""
import os
import socket
import threading
import time

import pytest
import requests

from sfaasd_testlib import HTTP_TIMEOUT, SLOW, Api, error_of, wait_until

WAIT = 60 * SLOW


class SlowReceiver:
    """A callback receiver on 127.0.0.1 that answers every POST 200 after
    `delay` seconds and records how many requests it held at once."""

    def __init__(self, delay):
        self.delay = delay
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.now = 0
        self.peak = 0
        self.ids = []
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = "http://127.0.0.1:%d/cb" % self.sock.getsockname()[1]
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            c.settimeout(WAIT)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = c.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            headers = dict(l.split(b": ", 1) for l in head.split(b"\r\n")[1:] if b": " in l)
            n = int(headers.get(b"Content-Length", b"0"))
            while len(body) < n:
                chunk = c.recv(65536)
                if not chunk:
                    return
                body += chunk
            time.sleep(self.delay)  # the receiver is slow: that is what is tested
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            with self.cond:
                self.ids.append(headers.get(b"X-Call-Id", b"").decode())
                self.cond.notify_all()
        finally:
            with self.lock:
                self.now -= 1
            c.close()

    def wait_count(self, n, timeout=WAIT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(set(self.ids)) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("%d of %d callbacks after %ss" % (len(set(self.ids)), n, timeout))
                self.cond.wait(left)

    def close(self):
        self.stopped = True
        self.sock.close()


class BlackHole:
    """Accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = "http://127.0.0.1:%d/cb" % self.sock.getsockname()[1]
        self.conns = []
        self.cond = threading.Condition()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            with self.cond:
                self.conns.append(c)
                self.cond.notify_all()

    def wait_conns(self, n, timeout=WAIT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.conns) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("%d of %d connections" % (len(self.conns), n))
                self.cond.wait(left)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def submit(d, name, data=b"", headers=None):
    return requests.post(d.url + "/async-function/" + name, data=data, headers=headers or {},
                         timeout=HTTP_TIMEOUT)


def healthz_seconds(d):
    t = time.monotonic()
    r = requests.get(d.url + "/healthz", timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    return time.monotonic() - t


def state(api, cid):
    r = api.get("/system/async/" + cid)
    assert r.status_code == 200, r.text
    return r.json()


def daemon_with_cat(make_daemon, images, config):
    d = make_daemon(config=config)
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    api.deploy("acat", fprocess="cat", expect=202)
    return d, api


def test_many_due_callbacks_slow_receiver_loop_stays_live(make_daemon, images):
    # 40 callbacks due at once, 16 senders, 2 per receiver, each answered in
    # 0.2 s: the old scheduler re-armed a 0 ms timer while every sender was
    # busy and the daemon stopped answering anything.
    rcv = SlowReceiver(0.2)
    try:
        d, api = daemon_with_cat(make_daemon, images, {"async_callback_allow_loopback": True,
                                                       "async_concurrency": 4})
        ids = []
        for i in range(40):
            r = submit(d, "acat", b"x%d" % i, {"X-Callback-Url": rcv.url})
            assert r.status_code == 202, r.text
            ids.append(r.headers["X-Call-Id"])
        # While the backlog drains the loop answers: /healthz well inside a
        # second (it is a few ms; a wedged loop never answers).
        seen = 0
        while len(set(rcv.ids)) < 10:
            assert healthz_seconds(d) < 2 * SLOW
            seen += 1
        assert seen > 0
        assert rcv.peak <= 2, "at most two callbacks in flight per receiver, saw %d" % rcv.peak
        # SIGTERM with callbacks in flight: exits (interrupted callbacks stay
        # pending), and the restarted daemon answers at once and delivers the rest.
        d.stop()
        wait_until(lambda: rcv.now == 0, WAIT, "the receiver to let go of the interrupted callbacks")
        rcv.peak = 0
        d.start()
        assert healthz_seconds(d) < 2 * SLOW
        rcv.wait_count(40)
        assert rcv.peak <= 2, "at most two callbacks in flight per receiver, saw %d" % rcv.peak
        for cid in ids:
            wait_until(lambda: state(api, cid)["callbackState"] == "delivered", WAIT, "callback of " + cid)
    finally:
        rcv.close()


def test_dead_receivers_do_not_hold_imports(make_daemon, images):
    # Eight receivers that accept and never answer (two callbacks each: all
    # sixteen senders busy), a callback timeout far
    # longer than an import: the import finishes while every callback is
    # still waiting (callbacks had taken libuv's 4 pool threads before).
    holes = [BlackHole() for _ in range(8)]
    try:
        d, api = daemon_with_cat(make_daemon, images, {"async_callback_allow_loopback": True,
                                                       "async_concurrency": 8,
                                                       "async_callback_timeout": "120s"})
        for h in holes:
            for _ in range(2):
                assert submit(d, "acat", b"x", {"X-Callback-Url": h.url}).status_code == 202
        for h in holes:
            h.wait_conns(2)
        r = api.import_image(images.path("busybox-oci.tar"), name="again:latest")
        assert r.status_code == 200, r.text
        # ...and calls keep being served.
        assert requests.post(d.url + "/function/acat", data=b"hi", timeout=HTTP_TIMEOUT).content == b"hi"
        for h in holes:
            assert len(h.conns) == 2, "a third callback to one receiver was sent"
        # SIGTERM interrupts the sixteen waiting callbacks instead of waiting
        # two minutes for them.
        t = time.monotonic()
        d.stop()
        assert time.monotonic() - t < 60 * SLOW
        assert "interrupted by the shutdown" in d.log()
    finally:
        for h in holes:
            h.close()


def test_retried_call_id_returns_the_existing_call(make_daemon, images):
    rcv = SlowReceiver(0)
    try:
        d, api = daemon_with_cat(make_daemon, images, {"async_callback_allow_loopback": True})
        api.deploy("acat2", fprocess="cat", expect=202)
        h = {"X-Call-Id": "retry-me-1", "X-Callback-Url": rcv.url}
        r1 = submit(d, "acat", b"once", h)
        r2 = submit(d, "acat", b"once", h)
        assert r1.status_code == r2.status_code == 202
        assert r1.headers["X-Call-Id"] == r2.headers["X-Call-Id"] == "retry-me-1"
        rcv.wait_count(1)
        st = wait_until(lambda: (lambda s: s if s["callbackState"] == "delivered" else None)(state(api, "retry-me-1")),
                        WAIT, "the call to finish")
        assert st["attempts"] == 1
        # A third retry after it finished still names the same call.
        r3 = submit(d, "acat", b"once", h)
        assert r3.headers["X-Call-Id"] == "retry-me-1"
        # The same id for another function is another call, with a new id.
        r4 = submit(d, "acat2", b"other", h)
        assert r4.status_code == 202 and r4.headers["X-Call-Id"] != "retry-me-1"
        rcv.wait_count(2)
        assert rcv.ids.count("retry-me-1") == 1
    finally:
        rcv.close()


def test_queue_caps_calls_and_bytes(make_daemon, images):
    d, api = daemon_with_cat(make_daemon, images, {"async_function_queue_max": 3,
                                                   "async_queue_max_bytes": "4Ki",
                                                   "async_concurrency": 1})
    api.deploy("asleep", fprocess="sh", expect=202)
    # the first holds the function's only slot; three wait behind it
    ok = [submit(d, "asleep", b"sleep 30") for _ in range(3)]
    assert [r.status_code for r in ok] == [202, 202, 202]
    r = submit(d, "asleep", b"sleep 30")
    assert r.status_code == 429, r.text
    assert r.headers.get("Retry-After")
    assert "async_function_queue_max 3" in error_of(r)
    # another function still has room, until the bytes cap. Its first call
    # holds that function's slot, so the bodies behind it stay queued (a
    # call that ran at once would give its bytes back before the next post).
    api.deploy("ahold", fprocess="sh", expect=202)
    assert submit(d, "ahold", b"sleep 30").status_code == 202
    assert submit(d, "ahold", b"#" + b"a" * 2000).status_code == 202
    r = submit(d, "ahold", b"#" + b"b" * 3000)
    assert r.status_code == 429
    assert "async_queue_max_bytes" in error_of(r)


def test_drained_queue_gives_disk_space_back(make_daemon, images):
    d, api = daemon_with_cat(make_daemon, images, {"async_concurrency": 1, "async_result_bytes": "1Ki"})
    api.deploy("ash", fprocess="sh", expect=202)
    db = os.path.join(d.data_dir, "sfaasd.db")
    # 1 MiB scripts that take 0.1 s each, one at a time: the queue grows to
    # about 40 MiB before it drains.
    blob = b"sleep 0.1\n#" + b"x" * (1 << 20) + b"\n"
    ids = []
    for _ in range(40):
        r = submit(d, "ash", blob)
        assert r.status_code == 202, r.text
        ids.append(r.headers["X-Call-Id"])

    def size():
        return sum(os.path.getsize(db + s) for s in ("", "-wal") if os.path.exists(db + s))
    peak = size()
    assert peak > 20 << 20
    for cid in ids:
        wait_until(lambda: state(api, cid)["state"] == "done", WAIT, "call " + cid)
    # Bodies are dropped when a call finishes; the freed pages go back to
    # the file system soon after the queue drains.
    wait_until(lambda: size() < 8 << 20, WAIT, "the database to shrink (was %d bytes)" % peak)
