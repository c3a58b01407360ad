# SPDX-License-Identifier: MIT
"""Helpers for the integration tests: the daemon process manager, raw HTTP,
host-side process inspection and a root-user fixture image.

Everything here drives the real binary; nothing is mocked. Waiting is done on
events (a log line, a socket answer, a process appearing in /proc), each with
a generous deadline so the same suite runs against an ASan build.
"""
import base64
import ctypes
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import threading
import time
import weakref

import requests

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("SFAASD_BIN") or os.path.join(REPO, "sfaasd")
ASAN = os.environ.get("SFAASD_ASAN") == "1"
# Deadlines, not delays: only reached when something is wrong.
SLOW = 4 if ASAN else 1
START_TIMEOUT = 30 * SLOW
STOP_TIMEOUT = 60 * SLOW
HTTP_TIMEOUT = 60 * SLOW
DEFAULT_NS = "openfaas-fn"

ALL_DAEMONS = []


class DaemonError(Exception):
    pass


def wait_until(cond, timeout, what, interval=0.01):
    """Poll cond() until it returns a true value; the value is returned.
    Used only where the kernel offers no event to block on (a process
    appearing in /proc)."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


class Daemon:
    """One `sfaasd serve` process on 127.0.0.1 with its own data folder.

    It listens on port 0 and the port is read from its "listening on" log
    line, so there is no race for a free port. stderr goes to a log file
    (printed on test failure by conftest)."""

    def __init__(self, data_dir, config=None, name="sfaasd", log_dir=None):
        self.data_dir = str(data_dir)
        self.name = name
        self.config = config
        self.config_path = None
        self.log_dir = str(log_dir or data_dir)
        self.proc = None
        self.port = None
        self.runs = 0
        self.log_path = None
        self.exit_codes = []
        self.stopped_at = None
        ALL_DAEMONS.append(self)

    # ---- lifecycle -------------------------------------------------------
    def start(self, extra_args=()):
        if self.proc and self.proc.poll() is None:
            raise DaemonError("already running")
        os.makedirs(self.data_dir, exist_ok=True)
        os.makedirs(self.log_dir, exist_ok=True)
        args = [BIN, "serve", "--listen", "127.0.0.1:0", "--data", self.data_dir] + (["--log-level", "debug"] if os.environ.get("SFAASD_DEBUG") else [])
        if self.config is not None:
            self.config_path = os.path.join(self.log_dir, "%s-config.json" % self.name)
            with open(self.config_path, "w") as f:
                json.dump(self.config, f)
            args += ["--config", self.config_path]
        args += list(extra_args)
        self.runs += 1
        self.log_path = os.path.join(self.log_dir, "%s-run%d.log" % (self.name, self.runs))
        self._log = open(self.log_path, "wb")
        self._ready = threading.Event()
        self._listening = None
        self.stopped_at = None
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, cwd=REPO)
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if not self._ready.wait(START_TIMEOUT):
            self.kill9()
            raise DaemonError("sfaasd did not log 'listening on' within %ss:\n%s" % (START_TIMEOUT, self.log()))
        if self._listening is None:
            rc = self.proc.wait(STOP_TIMEOUT)
            raise DaemonError("sfaasd exited with %s before listening:\n%s" % (rc, self.log()))
        self.port = self._listening
        r = requests.get(self.url + "/healthz", timeout=HTTP_TIMEOUT)
        if r.status_code != 200:
            raise DaemonError("healthz answered %d after start" % r.status_code)
        return self

    def _read_log(self):
        pat = re.compile(rb"listening on http://[^\s:]+:(\d+)")
        for line in iter(self.proc.stdout.readline, b""):
            self._log.write(line)
            self._log.flush()
            if self._listening is None:
                m = pat.search(line)
                if m:
                    self._listening = int(m.group(1))
                    self._ready.set()
        self._log.flush()
        self._ready.set()  # EOF: the process ended

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=STOP_TIMEOUT):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._finish()
            raise DaemonError("sfaasd did not exit within %ss:\n%s" % (timeout, self.log()))
        self._finish()
        self.exit_codes.append(rc)
        return rc

    def _finish(self):
        self._reader.join(STOP_TIMEOUT)
        self._log.close()
        self.stopped_at = time.monotonic()

    def stop(self):
        """SIGTERM and wait; returns the exit code."""
        if not self.running():
            if self.proc is not None and not self._log.closed:
                return self.wait()
            return self.proc.returncode if self.proc else None
        self.signal(signal.SIGTERM)
        return self.wait()

    def kill9(self):
        if self.running():
            self.proc.kill()
        rc = self.proc.wait()
        self._finish()
        return rc

    def restart(self):
        rc = self.stop()
        assert rc == 0, "sfaasd exited %s on SIGTERM:\n%s" % (rc, self.log())
        return self.start()

    # ---- access ------------------------------------------------------------
    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def password_path(self):
        return os.path.join(self.data_dir, "secrets", "basic-auth-password")

    @property
    def password(self):
        with open(self.password_path) as f:
            return f.read().strip()

    def session(self, auth=True):
        s = requests.Session()
        if auth:
            s.auth = ("admin", self.password)
        s.base = self.url
        return s

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def log_tail(self, n=80):
        return "\n".join(self.log().splitlines()[-n:])


# ---- API helpers ---------------------------------------------------------------

class Api:
    """Thin wrapper: base URL + credentials; every call returns the response."""

    def __init__(self, daemon, auth=True):
        self.d = daemon
        self.s = requests.Session()
        if auth:
            self.s.auth = ("admin", daemon.password)

    def req(self, method, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return self.s.request(method, self.d.url + path, **kw)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, **kw):
        return self.req("POST", path, **kw)

    def put(self, path, **kw):
        return self.req("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.req("DELETE", path, **kw)

    def import_image(self, path, name=None):
        with open(path, "rb") as f:
            data = f.read()
        params = {"name": name} if name else None
        return self.post("/system/images", data=data, params=params,
                         headers={"Content-Type": "application/x-tar"})

    def deploy(self, service, image="busybox:latest", fprocess=None, env=None, method="POST",
               expect=None, **extra):
        body = {"service": service, "image": image}
        if fprocess is not None:
            body["envProcess"] = fprocess
        if env is not None:
            body["envVars"] = env
        body.update(extra)
        r = self.req(method, "/system/functions", json=body)
        if expect is not None:
            assert r.status_code == expect, "deploy %s: %d %s" % (service, r.status_code, r.text)
        return r

    def remove(self, name, namespace=None):
        body = {"functionName": name}
        if namespace:
            body["namespace"] = namespace
        return self.delete("/system/functions", json=body)

    def invoke(self, name, data=b"", method="POST", path="", **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        # Invocation never carries gateway credentials (as faas-cli).
        return requests.request(method, self.d.url + "/function/" + name + path, data=data, **kw)


def error_of(r):
    """The "error" string of a JSON error answer; fails the test otherwise."""
    assert r.headers.get("Content-Type", "").startswith("application/json"), \
        "error answer %d is not JSON: %r %r" % (r.status_code, r.headers.get("Content-Type"), r.text[:200])
    j = r.json()
    assert isinstance(j, dict) and isinstance(j.get("error"), str) and j["error"], \
        "no 'error' string in %r" % (j,)
    return j["error"]


def parse_env(text):
    env = {}
    for line in text.splitlines():
        k, sep, v = line.partition("=")
        if sep:
            env[k] = v
    return env


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


# ---- raw HTTP --------------------------------------------------------------------

class RawResponse:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<%d %s %r>" % (self.status, self.reason, self.body[:200])


_leftover = weakref.WeakKeyDictionary()  # bytes read past one response, per socket


def read_response(sock, timeout=HTTP_TIMEOUT):
    """Read one HTTP/1.1 response (Content-Length framed, or until close).
    Bytes of a following (pipelined) response are kept for the next call."""
    sock.settimeout(timeout)
    buf = _leftover.pop(sock, b"")
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before a response head; got %r" % buf[:200])
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3}) ?(.*)", lines[0])
    assert m, "bad status line %r" % lines[0]
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(rest) < n:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        if len(rest) > n:
            _leftover[sock] = rest[n:]
        rest = rest[:n]
    else:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    return RawResponse(int(m.group(1)), m.group(2), headers, rest)


def raw_request(port, data, timeout=HTTP_TIMEOUT):
    """Send bytes as they are, read the answer. A server that answers early
    and closes may reset the rest of our send; that is tolerated."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return read_response(s, timeout)


def basic(password, user="admin"):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


# ---- host-side process inspection ---------------------------------------------

def _pids():
    for e in os.listdir("/proc"):
        if e.isdigit():
            yield int(e)


def procs_with_argv(argv):
    """Pids whose /proc/PID/cmdline is exactly argv."""
    want = b"\0".join(a.encode() for a in argv) + b"\0"
    out = []
    for pid in _pids():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if f.read() == want:
                    out.append(pid)
        except OSError:
            pass
    return out


def proc_stat(pid):
    """(state, ppid) from /proc/PID/stat, or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def proc_uids(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return None


def zombie_children(ppid):
    out = []
    for pid in _pids():
        st = proc_stat(pid)
        if st and st[1] == ppid and st[0] == "Z":
            out.append(pid)
    return out


def children(ppid):
    out = []
    for pid in _pids():
        st = proc_stat(pid)
        if st and st[1] == ppid:
            out.append(pid)
    return out


# ---- fixture images ------------------------------------------------------------------

def build_fixture_images(out_dir):
    """Run tests/fixtures/mkimages.sh (idempotent) and add rootbox-oci.tar."""
    script = os.path.join(REPO, "tests", "fixtures", "mkimages.sh")
    if not os.path.exists(script):
        raise RuntimeError("tests/fixtures/mkimages.sh is missing")
    p = subprocess.run(["bash", script, out_dir], capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise RuntimeError("mkimages.sh failed (%d):\n%s%s" % (p.returncode, p.stdout, p.stderr))
    build_rootbox(os.path.join(out_dir, "rootbox-oci.tar"))  # deterministic, cheap
    return out_dir


ROOTBOX_APPLETS = ["sh", "id", "cat", "touch", "hostname", "ip", "sleep", "echo", "env", "ls", "head",
                   "yes", "true", "false", "stat", "sort", "mount", "ps", "rm", "mkdir", "wc", "grep", "test",
                   "tr", "kill"]


def build_rootbox(path):
    """A one-layer OCI archive with static busybox and no User (runs as 0
    inside): the busybox fixture runs as user app, and some isolation
    checks only mean something for root inside the sandbox."""
    busybox = shutil.which("busybox")
    if not busybox:
        raise RuntimeError("busybox is missing")
    with open(busybox, "rb") as f:
        bb = f.read()
    mtime = 1704067200
    lbuf = io.BytesIO()
    with tarfile.open(fileobj=lbuf, mode="w", format=tarfile.PAX_FORMAT) as t:
        def add_dir(name, mode=0o755):
            ti = tarfile.TarInfo(name)
            ti.type = tarfile.DIRTYPE
            ti.mode = mode
            ti.mtime = mtime
            t.addfile(ti)

        def add_file(name, data, mode=0o644):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = mode
            ti.mtime = mtime
            t.addfile(ti, io.BytesIO(data))

        for d in ("bin", "etc", "proc", "dev", "sys", "root", "var"):
            add_dir(d)
        add_dir("tmp", 0o1777)
        add_file("bin/busybox", bb, 0o755)
        for a in ROOTBOX_APPLETS:
            ti = tarfile.TarInfo("bin/" + a)
            ti.type = tarfile.SYMTYPE
            ti.linkname = "/bin/busybox"
            ti.mtime = mtime
            t.addfile(ti)
        add_file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        add_file("etc/group", b"root:x:0:\n")
    raw = lbuf.getvalue()
    layer = gzip.compress(raw, compresslevel=1, mtime=0)
    blobs = {}

    def blob(data, mt):
        h = hashlib.sha256(data).hexdigest()
        blobs[h] = data
        return {"mediaType": mt, "digest": "sha256:" + h, "size": len(data)}

    ldesc = blob(layer, "application/vnd.oci.image.layer.v1.tar+gzip")
    cfg = {"created": "2024-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
           "config": {"Cmd": ["/bin/cat"], "Env": ["PATH=/bin", "FIXTURE=rootbox"]},
           "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]}}
    cdesc = blob(json.dumps(cfg).encode(), "application/vnd.oci.image.config.v1+json")
    man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": cdesc, "layers": [ldesc]}
    mdesc = blob(json.dumps(man).encode(), "application/vnd.oci.image.manifest.v1+json")
    mdesc["annotations"] = {"org.opencontainers.image.ref.name": "rootbox:latest"}
    index = {"schemaVersion": 2, "manifests": [mdesc]}
    tmp = "%s.tmp.%d" % (path, os.getpid())  # concurrent test sessions share the folder
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as t:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            ti.mtime = mtime
            t.addfile(ti, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", json.dumps(index).encode())
        for h, data in blobs.items():
            add("blobs/sha256/" + h, data)
    os.replace(tmp, path)


# ---- gates: a function waits until the test lets it go --------------------------

# Script prefix for an `sh -s MARKER` function: blocks until the host
# creates /tmp/go inside that sandbox (see open_gate).
GATE = b"while [ ! -e /tmp/go ]; do sleep 0.02; done\n"


def open_gate(pid):
    """Create /tmp/go in the sandbox whose process is pid. The host reaches
    the sandbox's private /tmp through /proc/PID/root; the file is created
    with this thread's fsuid/fsgid set to the sandbox process's host ids,
    as host root is not mapped inside (EOVERFLOW)."""
    libc = ctypes.CDLL(None, use_errno=True)
    uid = proc_uids(pid)[1]
    gid = None
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Gid:"):
                gid = int(line.split()[2])
    dfd = os.open("/proc/%d/root/tmp" % pid, os.O_RDONLY | os.O_DIRECTORY)
    try:
        libc.setfsgid(gid)
        libc.setfsuid(uid)
        try:
            fd = os.open("go", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=dfd)
        finally:
            libc.setfsuid(0)
            libc.setfsgid(0)
        os.close(fd)
    finally:
        os.close(dfd)


# ---- cgroups -------------------------------------------------------------------

def cgroup_subtree_candidates(daemon):
    """The daemon's cgroup subtree "sfaasd-<data folder id>-<pid>" in every
    hierarchy, as its current run logged them ("cgroups: v1 DIR, DIR" or
    "cgroups: v2 DIR"; README "Cgroups"), plus the "-daemon" leaf a v2
    daemon may have moved itself into. [] when it logged "cgroups: none"."""
    m = re.search(r"cgroups: (v1|v2|none)(?: (.*))?$", daemon.log(), re.M)
    assert m, "the daemon logged no 'cgroups:' line:\n" + daemon.log_tail()
    if m.group(1) == "none":
        return []
    dirs = m.group(2).split(", ")
    name = "sfaasd-%s-%d" % (data_dir_id(daemon.data_dir), daemon.pid)
    assert all(os.path.basename(d) == name for d in dirs), (dirs, name)
    return sorted(set(dirs + [d + "-daemon" for d in dirs]))


def data_dir_id(data_dir):
    """The data folder's identity (core/daemon/datadir.h: DATA/sfaasd.id)."""
    with open(os.path.join(data_dir, "sfaasd.id")) as f:
        return f.read().split()[0]


def existing_dirs(paths):
    return [p for p in paths if os.path.isdir(p)]


def _subdirs(d):
    try:
        return [os.path.join(d, e) for e in os.listdir(d) if os.path.isdir(os.path.join(d, e))]
    except FileNotFoundError:  # removed while we looked
        return []


def is_spare_leaf(path):
    """A v1 leaf an ended sandbox left for the next one (sandbox/cgroup_spare.c):
    empty, named "spare-N"; not a sandbox."""
    return os.path.basename(path).startswith("spare-")


def leaf_cgroups(subtrees):
    """Sandbox leaves below the subtrees: SUBTREE/NAMESPACE/FUNCTION/LEAF
    (the namespace and function group directories are excluded; they stay
    while the function exists; so are the spare leaves, which hold no
    sandbox)."""
    out = []
    for st in subtrees:
        for ns in _subdirs(st):
            for fn in _subdirs(ns):
                out += [d for d in _subdirs(fn) if not is_spare_leaf(d)]
    return out


def function_cgroups(subtrees, namespace, name):
    """The function's group directory SUBTREE/NAMESPACE/NAME in every
    hierarchy where it exists."""
    return [p for p in (os.path.join(st, namespace, name) for st in subtrees) if os.path.isdir(p)]


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))
