# SPDX-License-Identifier: MIT
"""The daemon as a systemd service sees it, without systemd: the sd_notify
protocol (READY=1 once listening, WATCHDOG=1 pings, STOPPING=1 on SIGTERM)
over a socket this test binds as $NOTIFY_SOCKET, journald-native lines when
stderr is the stream $JOURNAL_STREAM names, and the log lines an operator
filters on (failed logins, denied requests, out-of-memory kills), each once
and at its priority."""
import os
import re
import select
import signal
import socket
import subprocess
import time
import types

import pytest
import requests

from sfaasd_testlib import BIN, HTTP_TIMEOUT, REPO, START_TIMEOUT, STOP_TIMEOUT, Api

TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z ")


class Proc:
    """`sfaasd serve` with a chosen environment and stderr on a pipe of ours
    (so the test knows the pipe's device and inode for $JOURNAL_STREAM)."""

    def __init__(self, data_dir, env=None, journal=False, config=None, umask=None):
        self.r, w = os.pipe()
        st = os.fstat(w)
        e = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "JOURNAL_STREAM")}
        if journal:
            e["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        e.update(env or {})
        args = [BIN, "serve", "--listen", "127.0.0.1:0", "--data", str(data_dir)]
        if config:
            args += ["--config", config]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=w, stderr=w, env=e, cwd=REPO,
                                     preexec_fn=(lambda: os.umask(umask)) if umask is not None else None)
        os.close(w)
        self.buf = b""
        self.lines = []
        self.port = None

    def read_until(self, pattern, timeout=START_TIMEOUT):
        """Read stderr lines until one matches; returns the match."""
        pat = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for line in self.lines[seen:]:
                m = pat.search(line)
                if m:
                    return m
            seen = len(self.lines)
            left = deadline - time.monotonic()
            assert left > 0, "no line matching %r in:\n%s" % (pattern, "\n".join(self.lines))
            ready, _, _ = select.select([self.r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.r, 65536)
            if not chunk:
                assert False, "stderr closed; no line matching %r in:\n%s" % (pattern, "\n".join(self.lines))
            self.buf += chunk
            *done, self.buf = self.buf.split(b"\n")
            self.lines += [d.decode("utf-8", "replace") for d in done]

    def drain(self):
        """The rest of stderr, after the process ended."""
        while True:
            chunk = os.read(self.r, 65536)
            if not chunk:
                break
            self.buf += chunk
        if self.buf:
            self.lines += self.buf.decode("utf-8", "replace").split("\n")
            self.buf = b""
        self.lines = [x for x in self.lines if x]
        os.close(self.r)
        return self.lines

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(STOP_TIMEOUT)
        self.drain()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def notify_socket(abstract, tmp_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = "sfaasd-test-notify-%d-%d" % (os.getpid(), time.monotonic_ns())
        s.bind("\0" + name)
        return s, "@" + name
    path = str(tmp_path / "notify.sock")
    s.bind(path)
    return s, path


def recv_state(s, timeout):
    s.settimeout(timeout)
    data = s.recv(4096).decode()
    return dict(kv.split("=", 1) for kv in data.split("\n") if kv)


@pytest.mark.parametrize("abstract", [True, False], ids=["abstract", "path"])
def test_notify_ready_watchdog_stopping(tmp_path, abstract):
    s, addr = notify_socket(abstract, tmp_path)
    p = Proc(tmp_path / "data", env={"NOTIFY_SOCKET": addr, "WATCHDOG_USEC": "200000"})
    try:
        first = recv_state(s, START_TIMEOUT)
        # READY=1 is the first message and is sent only once the listener
        # accepts: a connect right after it succeeds.
        assert first.get("READY") == "1", first
        m = re.match(r"listening on 127\.0\.0\.1:(\d+)$", first.get("STATUS", ""))
        assert m, first
        port = int(m.group(1))
        socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT).close()
        assert requests.get("http://127.0.0.1:%d/healthz" % port, timeout=HTTP_TIMEOUT).status_code == 200
        # WATCHDOG_USEC=200 ms: pings every 100 ms from the loop.
        pings = 0
        deadline = time.monotonic() + 10
        while pings < 3:
            assert time.monotonic() < deadline, "fewer than 3 WATCHDOG=1 in 10 s"
            if recv_state(s, 10).get("WATCHDOG") == "1":
                pings += 1
        p.proc.send_signal(signal.SIGTERM)
        while True:
            st = recv_state(s, STOP_TIMEOUT)
            if "STOPPING" in st:
                assert st["STOPPING"] == "1"
                break
            assert st == {"WATCHDOG": "1"}, st
        assert p.proc.wait(STOP_TIMEOUT) == 0
        p.drain()
        # The socket's variables are not passed on (no child speaks for us).
    finally:
        p.kill()
        s.close()


def test_no_watchdog_for_another_pid(tmp_path):
    """WATCHDOG_PID names the process the watchdog is for; another pid's
    watchdog is not ours to ping."""
    s, addr = notify_socket(True, tmp_path)
    p = Proc(tmp_path / "data", env={"NOTIFY_SOCKET": addr, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1"})
    try:
        assert recv_state(s, START_TIMEOUT).get("READY") == "1"
        s.settimeout(0.5)
        with pytest.raises(socket.timeout):
            s.recv(4096)
        assert p.stop() == 0
    finally:
        p.kill()
        s.close()


def _auth_events(p, port):
    url = "http://127.0.0.1:%d" % port
    assert requests.get(url + "/system/functions", timeout=HTTP_TIMEOUT).status_code == 401
    assert requests.get(url + "/system/functions", auth=("admin", "wrong"),
                        timeout=HTTP_TIMEOUT).status_code == 401
    # A user name with a newline and an escape stays on one line, defanged.
    assert requests.get(url + "/system/info", auth=("mallory\n\x1b[31m", "x"),
                        timeout=HTTP_TIMEOUT).status_code == 401
    p.read_until(r"failed login as 'mallory\?\?\[31m'")


def test_journal_lines(tmp_path):
    """Under journald: "<N>" priority prefixes, no timestamp of our own."""
    p = Proc(tmp_path / "data", journal=True)
    try:
        port = int(p.read_until(r"listening on http://127\.0\.0\.1:(\d+)/").group(1))
        _auth_events(p, port)
        assert p.stop() == 0
    finally:
        p.kill()
    lines = p.lines
    for line in lines:
        assert re.match(r"^<[0-7]>", line), "line without a priority: %r" % line
        assert not TS.match(line[3:]), "own timestamp under journald: %r" % line
    assert any(re.match(r"^<6>sfaasd \S+ listening on http://127\.0\.0\.1:\d+/", x) for x in lines), lines
    denied = [x for x in lines if "denied GET /system/functions" in x]
    assert len(denied) == 1 and re.match(r"<5>denied GET /system/functions from 127\.0\.0\.1:\d+: no credentials$",
                                         denied[0]), lines
    failed = [x for x in lines if "failed login" in x]
    assert len(failed) == 2, lines
    assert re.match(r"<4>failed login as 'admin' from 127\.0\.0\.1:\d+: GET /system/functions "
                    r"\(wrong admin password\)$", failed[0]), lines
    assert re.match(r"<4>failed login as 'mallory\?\?\[31m' from 127\.0\.0\.1:\d+: GET /system/info "
                    r"\(not a token\)$", failed[1]), lines


def test_terminal_lines_keep_timestamps(tmp_path):
    """$JOURNAL_STREAM inherited but stderr elsewhere (a redirect, a pipe):
    the usual "TIMESTAMP LEVEL: message" lines."""
    p = Proc(tmp_path / "data", env={"JOURNAL_STREAM": "1:1"})
    try:
        port = int(p.read_until(r"listening on http://127\.0\.0\.1:(\d+)/").group(1))
        _auth_events(p, port)
        assert p.stop() == 0
    finally:
        p.kill()
    for line in p.lines:
        assert TS.match(line), "no timestamp: %r" % line
    assert sum("warning: failed login as 'admin' from 127.0.0.1" in x for x in p.lines) == 1, p.lines
    assert sum("notice: denied GET /system/functions" in x for x in p.lines) == 1, p.lines


def test_oom_kill_logged_once(tmp_path, images):
    """A call that meets the OOM killer: one warning line naming the call,
    and the answer says "out of memory" instead of guessing."""
    p = Proc(tmp_path / "data", journal=True)
    try:
        port = int(p.read_until(r"listening on http://127\.0\.0\.1:(\d+)/").group(1))

        d = types.SimpleNamespace(url="http://127.0.0.1:%d" % port,
                                  password=open(tmp_path / "data" / "secrets" / "basic-auth-password").read().strip())
        api = Api(d)
        assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
        # a 32 MB shell variable under a 16 MiB limit (as test_invoke.py)
        api.deploy("hog", fprocess="sh", limits={"memory": "16Mi"}, expect=202)
        r = api.invoke("hog", data=b"x=$(head -c 32000000 /dev/zero | tr '\\0' a); echo survived ${#x}")
        assert r.status_code == 500, r.text
        assert "out of memory" in r.json()["error"], r.text
        call = r.headers["X-Call-Id"]
        p.read_until(r"call %s ran out of memory" % call)
        assert p.stop() == 0
    finally:
        p.kill()
    oom = [x for x in p.lines if "ran out of memory" in x]
    assert len(oom) == 1 and oom[0].startswith("<4>function 'hog.openfaas-fn': call %s" % call), p.lines


def test_service_umask_not_passed_to_functions(tmp_path, images):
    """The unit's UMask=0077 is the daemon's: a function still starts with
    0022 and can traverse the folders the launcher made for its mounts (the
    secrets' folder, owned by nobody it knows)."""
    p = Proc(tmp_path / "data", umask=0o077)
    try:
        port = int(p.read_until(r"listening on http://127\.0\.0\.1:(\d+)/").group(1))
        d = types.SimpleNamespace(url="http://127.0.0.1:%d" % port,
                                  password=open(tmp_path / "data" / "secrets" / "basic-auth-password").read().strip())
        api = Api(d)
        assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
        assert api.post("/system/secrets", json={"name": "k", "value": "v1"}).status_code == 200
        api.deploy("um", fprocess="sh", secrets=["k"], expect=202)
        r = api.invoke("um", data=b"umask; stat -c %a /var/openfaas/secrets; cat /var/openfaas/secrets/k")
        assert r.status_code == 200, r.text
        assert r.text == "0022\n755\nv1", r.text
        assert oct(os.stat(tmp_path / "data").st_mode & 0o777) == "0o700"
        assert p.stop() == 0
    finally:
        p.kill()


def test_not_root_says_run_as_root(tmp_path):
    """`check` and `serve` as another user name the cause, not the kernel."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to another user")
    data = tmp_path / "nobody-data"
    for args in (["check", "--data", str(data)], ["serve", "--listen", "127.0.0.1:0", "--data", str(data)]):
        r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BIN] + args,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=STOP_TIMEOUT,
                           cwd="/")
        out = r.stdout + r.stderr
        assert r.returncode == 1, (args, r.returncode, out)
        assert "run as root" in out, (args, out)
