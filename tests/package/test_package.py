# SPDX-License-Identifier: MIT
"""The Debian package, end to end, in a throwaway root (`make test-package`).

The root is a fresh bookworm made by mmdebstrap (apt, systemd, mount, man-db) from
the host's apt sources: apt resolves the package's Depends from the archive
as on a new machine. Commands (apt, the maintainer scripts, the daemon) run
in it as in a container: a mount namespace of their own pivoted (pivot_root)
to the root, not chroot(2), because the kernel refuses user namespaces to a
chrooted process and the daemon and `sfaasd check` make them. Nothing
here needs a running systemd (this project's machines have none): the root
gets a /run/systemd/system folder, so the postinst and prerm take their
"systemd is running" branch, and a policy-rc.d that records every start,
restart and stop deb-systemd-invoke asks for and refuses it (exit 101,
the policy-rc.d protocol), so nothing is started behind the test's back.
The test then does what systemd would: it runs the unit's ExecStartPre,
ExecStart and ExecReload in the root, under tests/service/as-unit.sh (the
unit's sandboxing applied without systemd), with a $NOTIFY_SOCKET of its
own. The new service runs with the packaged config as it is (HTTPS on
0.0.0.0:8443 with a self-signed pair made at its first start, plain HTTP on
127.0.0.1:8080, the secrets key in /etc/sfaasd), in a network namespace of
its own, so those fixed ports meet nothing else on this machine.

The steps, in order (each test builds on the one before):
  0.1.0  built from SFAASD_PREV_COMMIT's sources with this debian/ folder
         (0.1.0 predates the package), schema 5
  install 0.1.0: enabled, started, data folder 0700, conffile; its daemon
         gets an image, a function and a secret
  upgrade to this package while the 0.1.0 daemon runs: a backup of the
         database (schema 5) and the secrets first, restart asked for; the
         conffile is replaced; the new unit's check and daemon start with
         the packaged defaults, migrate to this schema, move the secrets key
         out of the data folder into /etc/sfaasd, make the self-signed pair
         in /etc/sfaasd/tls, answer on https://127.0.0.1:8443 with it and on
         http://127.0.0.1:8080, and serve the same function and secret; the
         unit's reload (SIGHUP) makes it serve a new pair
  remove: stop asked for, data, key, pair and config kept
  purge: data, backups, config, key, pair and the unit's enablement gone
and, on the package itself: a stripped binary with its -dbgsym package, the
Depends naming every library the binary loads, versions that agree, lintian.

Runs in a mount namespace of its own (the Makefile uses unshare): the
mounts made here vanish with it.
"""
import contextlib
import ctypes
import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import time

import pytest
import requests

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEB = os.environ.get("SFAASD_DEB")
PREV_COMMIT = os.environ.get("SFAASD_PREV_COMMIT", "46d8a61")
UNITEXEC = os.environ.get("SFAASD_UNITEXEC", os.path.join(REPO, "build", "tests", "unitexec"))
BUSYBOX = os.path.join(REPO, "tests", "fixtures", "out", "busybox-oci.tar")
HTTPFN = os.path.join(REPO, "tests", "fixtures", "out", "httpfn-oci.tar")  # http mode (tests/fixtures/httpfn.c)
TIMEOUT = 120
UNIT = "/lib/systemd/system/sfaasd.service"


def run(cmd, check=True, **kw):
    kw.setdefault("timeout", 600)
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise AssertionError("%s exited %d:\n%s%s" % (cmd, r.returncode, r.stdout[-4000:], r.stderr[-4000:]))
    return r


def deb_version(path):
    return run(["dpkg-deb", "-f", path, "Version"]).stdout.strip()


# ---- the packages -----------------------------------------------------------------

@pytest.fixture(scope="module")
def work():
    d = tempfile.mkdtemp(prefix="sfaasd-pkgtest-", dir="/var/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def new_deb():
    assert DEB and os.path.exists(DEB), "SFAASD_DEB: build it with make deb"
    return DEB


@pytest.fixture(scope="module")
def prev_deb(work):
    """0.1.0: SFAASD_PREV_COMMIT's sources, this tree's debian/ (its
    maintainer scripts, rules and control), a changelog saying 0.1.0 and only
    the docs that commit has."""
    if run(["git", "-C", REPO, "cat-file", "-e", PREV_COMMIT + "^{commit}"], check=False).returncode != 0:
        pytest.fail("commit %s is not in this clone: the upgrade test builds the previous version from it "
                    "(git fetch --unshallow)" % PREV_COMMIT)
    src = os.path.join(work, "prev", "sfaasd-0.1.0")
    os.makedirs(src)
    archive = subprocess.Popen(["git", "-C", REPO, "archive", PREV_COMMIT], stdout=subprocess.PIPE)
    run(["tar", "-x", "-C", src], stdin=archive.stdout)
    assert archive.wait() == 0
    shutil.copytree(os.path.join(REPO, "debian"), os.path.join(src, "debian"))
    with open(os.path.join(src, "debian", "changelog"), "w") as f:
        f.write("sfaasd (0.1.0) bookworm; urgency=medium\n\n"
                "  * The previous version, for the upgrade test.\n\n"
                " -- sfaasd maintainers <maintainers@users.noreply.r-seed-be1ba529.example>  "
                "Sat, 05 Dec 2026 12:00:00 +0000\n")
    with open(os.path.join(src, "debian", "sfaasd.docs"), "w") as f:
        f.write("README.md\n")
    sha = run(["git", "-C", REPO, "rev-parse", "--short=12", PREV_COMMIT]).stdout.strip()
    env = dict(os.environ, GIT_SHA=sha)
    run(["dpkg-buildpackage", "-b", "-us", "-uc", "-j2"], cwd=src, env=env)
    path = os.path.join(work, "prev", "sfaasd_0.1.0_%s.deb" % run(["dpkg", "--print-architecture"]).stdout.strip())
    assert os.path.exists(path)
    return path


# ---- the throwaway root ------------------------------------------------------------

def host_sources():
    for p in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"):
        if os.path.exists(p) and os.path.getsize(p) > 0:
            return p
    pytest.fail("no apt sources on this host to build the test root from")


_libc = ctypes.CDLL(None, use_errno=True)
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine)
CLONE_NEWNS, CLONE_NEWNET, MNT_DETACH = 0x00020000, 0x40000000, 2


def _check(ok, what):
    if not ok:
        e = ctypes.get_errno()
        raise OSError(e, "%s: %s" % (what, os.strerror(e)))


class NetNS:
    """A network namespace with only loopback, up, held by an fd (no name
    in /run/netns): the packaged config's fixed ports (8080, 8443) meet
    nothing else of this machine there. entered() moves this thread in and
    back: sockets stay in the namespace they were made in."""

    def __init__(self):
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _check(_libc.unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET)")
            self.fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            run(["ip", "link", "set", "lo", "up"])
        finally:
            _check(_libc.setns(own, CLONE_NEWNET) == 0, "setns back")
            os.close(own)

    @contextlib.contextmanager
    def entered(self):
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            _check(_libc.setns(self.fd, CLONE_NEWNET) == 0, "setns")
            yield
        finally:
            _check(_libc.setns(own, CLONE_NEWNET) == 0, "setns back")
            os.close(own)

    def close(self):
        os.close(self.fd)


def _enter(path, netns=None):
    """preexec_fn: a mount namespace of the child's own, rooted at path (a
    mount point), the old root detached; in netns (a NetNS) when given."""
    check = _check

    def enter():
        if netns is not None:
            check(_libc.setns(netns.fd, CLONE_NEWNET) == 0, "setns")
        check(_libc.unshare(CLONE_NEWNS) == 0, "unshare")
        os.chdir(path)
        check(_libc.syscall(_SYS_PIVOT_ROOT, b".", b".") == 0, "pivot_root")
        check(_libc.umount2(b".", MNT_DETACH) == 0, "umount2")
        os.chdir("/")
    return enter


class Root:
    def __init__(self, path):
        self.path = path
        self.policy_log = os.path.join(path, "var/log/policy-rc.d.log")

    def p(self, rel):
        return os.path.join(self.path, rel.lstrip("/"))

    def env(self, **more):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C.UTF-8"}
        env.update(more)
        return env

    def run(self, *cmd, check=True, **kw):
        """cmd inside the root (a container, see the module's text)."""
        return run(list(cmd), check=check, env=self.env(**kw.pop("env", {})), preexec_fn=_enter(self.path), **kw)

    def popen(self, cmd, env, netns=None, **kw):
        return subprocess.Popen(cmd, env=self.env(**env), preexec_fn=_enter(self.path, netns), **kw)

    def apt_install(self, deb):
        name = os.path.basename(deb)
        shutil.copy(deb, self.p("/tmp/" + name))
        return self.run("apt-get", "install", "-y", "--no-install-recommends", "/tmp/" + name)

    def policy_requests(self):
        try:
            with open(self.policy_log) as f:
                return [line.split() for line in f.read().splitlines()]
        except FileNotFoundError:
            return []


@pytest.fixture(scope="module")
def root(work):
    path = os.path.join(work, "root")
    run(["mmdebstrap", "--quiet", "--variant=apt", "--include=systemd,mount,man-db", "--skip=cleanup/apt/lists",
         "bookworm", path, host_sources()], timeout=900)
    r = Root(path)
    assert _SYS_PIVOT_ROOT, "pivot_root's number on %s: add it" % os.uname().machine
    # A mount point, to pivot into; below it the API file systems.
    run(["mount", "--bind", path, path])
    run(["mount", "-t", "proc", "proc", r.p("/proc")])
    run(["mount", "--rbind", "/sys", r.p("/sys")])
    run(["mount", "--rbind", "/dev", r.p("/dev")])
    run(["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", r.p("/run")])
    # "systemd is running" for the maintainer scripts; every service action
    # recorded and refused.
    os.makedirs(r.p("/run/systemd/system"))
    with open(r.p("/usr/sbin/policy-rc.d"), "w") as f:
        f.write("#!/bin/sh\necho \"$@\" >> /var/log/policy-rc.d.log\nexit 101\n")
    os.chmod(r.p("/usr/sbin/policy-rc.d"), 0o755)
    # the unit's sandboxing, applied the way tests/service/as-unit.sh does
    shutil.copy(os.path.join(REPO, "tests", "service", "as-unit.sh"), r.p("/tmp/as-unit.sh"))
    shutil.copy(UNITEXEC, r.p("/tmp/unitexec"))
    yield r
    # Nothing of ours outlives the test, whatever failed.
    for svc in SERVICES:
        if svc.proc.poll() is None:
            svc.proc.kill()
            svc.proc.wait(TIMEOUT)
    run(["umount", "-R", path], check=False)


# ---- the daemon, started as its unit says -----------------------------------------------

def unit_lines(root, key):
    with open(root.p(UNIT)) as f:
        return [line.split("=", 1)[1] for line in f.read().splitlines() if line.startswith(key + "=")]


SERVICES = []


class Service:
    """ExecStart of the installed unit in the root, with a notify socket of
    ours. hardened=True runs it under tests/service/as-unit.sh with the
    installed unit file. With netns (a NetNS) it runs there with the config
    as installed; without, in this machine's network, on a free loopback
    port (--listen 127.0.0.1:0)."""

    def __init__(self, root, hardened, netns=None):
        self.netns = netns
        with self.net():  # an abstract socket's name is per network namespace
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        name = "sfaasd-pkgtest-%d-%d" % (os.getpid(), time.monotonic_ns())
        self.sock.bind("\0" + name)
        argv = unit_lines(root, "ExecStart")[-1].split()
        if netns is None:
            argv += ["--listen", "127.0.0.1:0"]
        env = {"NOTIFY_SOCKET": "@" + name}
        if hardened:
            env.update(SFAASD_UNIT_BIN=argv[0], SFAASD_UNIT_FILE=UNIT, SFAASD_UNITEXEC="/tmp/unitexec")
            argv = ["/bin/bash", "/tmp/as-unit.sh"] + argv[1:]
        self.proc = root.popen(argv, env, netns=netns, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
        SERVICES.append(self)
        self.out = b""
        m = self.wait_line(rb"listening on http://127\.0\.0\.1:(\d+)/")
        self.url = "http://127.0.0.1:%d" % int(m.group(1))
        with open(root.p("/var/lib/sfaasd/secrets/basic-auth-password")) as f:
            self.auth = ("admin", f.read().strip())

    def net(self):
        """Where the service's sockets are: `with svc.net(): requests...`."""
        return self.netns.entered() if self.netns else contextlib.nullcontext()

    def wait_line(self, pattern, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.out):
            left = deadline - time.monotonic()
            assert left > 0, "no %r from sfaasd in %ss:\n%s" % (pattern, timeout, self.out.decode(errors="replace"))
            if select.select([self.proc.stdout], [], [], left)[0]:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                assert chunk, "sfaasd exited (%s):\n%s" % (self.proc.wait(), self.out.decode(errors="replace"))
                self.out += chunk
        return re.search(pattern, self.out)

    def notified(self, timeout=TIMEOUT):
        self.sock.settimeout(timeout)
        return dict(kv.split("=", 1) for kv in self.sock.recv(4096).decode().split("\n") if kv)

    def api(self, method, path, **kw):
        with self.net():
            return requests.request(method, self.url + path, auth=self.auth, timeout=TIMEOUT, **kw)

    def call(self, name, body, url=None, **kw):
        with self.net():
            return requests.post((url or self.url) + "/function/" + name, data=body, timeout=TIMEOUT, **kw)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(TIMEOUT)
        self.out += self.proc.stdout.read()
        self.sock.close()
        return rc


def current_schema():
    """The schema this tree migrates to: the last "N -> M" migration."""
    with open(os.path.join(REPO, "store", "db.c")) as f:
        return max(int(m) for m in re.findall(r"/\* \d+ -> (\d+):", f.read()))


def der_fingerprint(der):
    return ":".join("%02X" % b for b in hashlib.sha256(der).digest())


def served_cert(netns, port=8443, cafile=None):
    """The leaf the HTTPS listener presents to 127.0.0.1 (verified against
    cafile when given: name, dates, signature), as DER."""
    if cafile:
        ctx = ssl.create_default_context(cafile=cafile)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    with netns.entered():
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                return s.getpeercert(True)


def schema_of(db):
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        assert c.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        return c.execute("PRAGMA user_version").fetchone()[0]
    finally:
        c.close()


# ---- the steps -------------------------------------------------------------------------

state = {}


def test_versions_agree(new_deb):
    with open(os.path.join(REPO, "Makefile")) as f:
        make_version = re.search(r"^VERSION\s*:=\s*(\S+)", f.read(), re.M).group(1)
    with open(os.path.join(REPO, "debian", "changelog")) as f:
        changelog = re.match(r"sfaasd \(([^)]+)\)", f.readline()).group(1)
    with open(os.path.join(REPO, "docs", "sfaasd.8")) as f:
        man = re.search(r'^\.TH SFAASD 8 "[^"]*" "sfaasd (\S+)"', f.read(), re.M).group(1)
    assert make_version == changelog == man == deb_version(new_deb)


def test_install_previous(root, prev_deb):
    out = root.apt_install(prev_deb).stdout
    assert "admin user 'admin'" in out
    st = root.run("dpkg-query", "-W", "-f=${Version} ${db:Status-Abbrev} ${Conffiles}", "sfaasd").stdout
    assert st.startswith("0.1.0 ii ") and "/etc/sfaasd/config.json" in st, st
    assert ["sfaasd.service", "start"] in root.policy_requests()
    assert root.run("systemctl", "--root=/", "is-enabled", "sfaasd.service").stdout.strip() == "enabled"
    assert os.path.islink(root.p("/etc/systemd/system/multi-user.target.wants/sfaasd.service"))
    assert oct(os.stat(root.p("/var/lib/sfaasd")).st_mode & 0o7777) == "0o700"


def test_previous_daemon_gets_data(root):
    svc = Service(root, hardened=False)  # 0.1.0's unit is Type=exec, without the hardening
    state["old"] = svc
    with open(BUSYBOX, "rb") as f:
        assert svc.api("POST", "/system/images", data=f.read()).status_code == 200
    assert svc.api("POST", "/system/secrets", json={"name": "token", "value": "kept"}).status_code == 200
    r = svc.api("POST", "/system/functions", json={"service": "echo", "image": "busybox:latest",
                                                    "envProcess": "sh", "secrets": ["token"]})
    assert r.status_code == 202, r.text
    r = requests.post(svc.url + "/function/echo", data=b"cat /var/openfaas/secrets/token", timeout=TIMEOUT)
    assert r.status_code == 200 and r.text == "kept", r.text
    assert schema_of(root.p("/var/lib/sfaasd/sfaasd.db")) == 5


def test_upgrade_backs_up_then_restarts(root, new_deb):
    old = state["old"]
    assert old.proc.poll() is None, "the 0.1.0 daemon runs during the upgrade"
    before = len(root.policy_requests())
    out = root.apt_install(new_deb).stdout
    m = re.search(r"saved in (/var/backups/sfaasd/\S+-from-0\.1\.0) before the upgrade", out)
    assert m, out
    backup = root.p(m.group(1))
    assert oct(os.stat(backup).st_mode & 0o777) == "0o700"
    assert schema_of(os.path.join(backup, "sfaasd.db")) == 5, "the backup is of the old schema"
    with open(os.path.join(backup, "backup.json")) as f:
        manifest = json.load(f)
    assert manifest["schema"] == 5 and "secrets/store.key" in manifest["contains"]
    assert ["sfaasd.service", "restart"] in root.policy_requests()[before:]
    st = root.run("dpkg-query", "-W", "-f=${Version} ${db:Status-Abbrev}", "sfaasd").stdout
    assert st == "0.2.0 ii ", st
    with open(root.p("/etc/sfaasd/config.json")) as f, open(os.path.join(REPO, "packaging", "config.json")) as g:
        assert json.load(f) == json.load(g), "the unchanged conffile follows the package"
    assert old.stop() == 0  # what systemd's restart does first


def test_new_service_starts_hardened_and_migrated(root):
    pre = unit_lines(root, "ExecStartPre")
    assert pre and pre[0].split()[1] == "check"
    argv = pre[0].split()
    r = root.run("/bin/bash", "/tmp/as-unit.sh", *argv[1:], check=False,
                 env=dict(SFAASD_UNIT_BIN=argv[0], SFAASD_UNIT_FILE=UNIT, SFAASD_UNITEXEC="/tmp/unitexec"))
    assert r.returncode == 0, "ExecStartPre refused the start:\n" + r.stdout + r.stderr
    assert "ready: 0 required feature(s) missing" in r.stdout, r.stdout
    assert oct(os.stat(root.p("/etc/sfaasd/tls")).st_mode & 0o7777) == "0o700", "made by the postinst"
    assert os.listdir(root.p("/etc/sfaasd/tls")) == []
    state["netns"] = netns = NetNS()
    svc = Service(root, hardened=True, netns=netns)
    state["new"] = svc
    ready = svc.notified()
    assert ready.get("READY") == "1", ready
    assert ready.get("STATUS") == "listening on 127.0.0.1:8080, 0.0.0.0:8443 (HTTPS)", ready
    assert svc.url == "http://127.0.0.1:8080"
    assert schema_of(root.p("/var/lib/sfaasd/sfaasd.db")) == current_schema()

    # The key left the data folder for the config's secrets_key_file, and the
    # pair was made where the config says: both in /etc/sfaasd, which the
    # unit leaves writable (its config.json stays read-only).
    svc.wait_line(rb"web UI: ")  # the last of the start's lines
    out = svc.out.decode(errors="replace")
    assert "moved the secrets key" in out and "'/etc/sfaasd/secrets.key'" in out, out
    assert not os.path.exists(root.p("/var/lib/sfaasd/secrets/store.key"))
    assert oct(os.stat(root.p("/etc/sfaasd/secrets.key")).st_mode & 0o777) == "0o600"
    assert oct(os.stat(root.p("/etc/sfaasd/tls/key.pem")).st_mode & 0o777) == "0o600"
    with open("/proc/%d/mountinfo" % svc.proc.pid) as f:
        mounts = {line.split()[4]: line.split()[5].split(",")[0] for line in f}
    assert mounts.get("/etc/sfaasd") == "rw" and mounts.get("/etc/sfaasd/config.json") == "ro", mounts
    assert mounts.get("/run/sfaasd") == "rw" and mounts.get("/run") == "ro", mounts
    assert any(n.startswith("uids-") for n in os.listdir(root.p("/run/sfaasd"))), "the uid range claim"
    assert mounts.get("/usr") in (None, "ro") and mounts.get("/") == "ro", mounts

    # HTTPS on 8443 with the self-signed pair: trusted as its own CA for
    # 127.0.0.1, the fingerprint the daemon logged.
    cert = root.p("/etc/sfaasd/tls/cert.pem")
    with open(cert) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    assert served_cert(netns, cafile=cert) == der
    assert "SHA-256 fingerprint %s" % der_fingerprint(der) in out, out
    with svc.net():
        r = requests.get("https://127.0.0.1:8443/system/functions", auth=svc.auth, verify=cert, timeout=TIMEOUT)
        assert r.status_code == 200 and [f["name"] for f in r.json()] == ["echo"], r.text
        # the packaged metrics_auth: /metrics is the admin's
        assert requests.get(svc.url + "/metrics", timeout=TIMEOUT).status_code == 401
        assert requests.get(svc.url + "/metrics", auth=svc.auth, timeout=TIMEOUT).status_code == 200
    # plain HTTP on 127.0.0.1:8080, the same function and its secret
    fns = [f["name"] for f in svc.api("GET", "/system/functions").json()]
    assert fns == ["echo"]
    r = svc.call("echo", b"cat /var/openfaas/secrets/token")
    assert r.status_code == 200 and r.text == "kept", r.text
    r = svc.call("echo", b"cat /var/openfaas/secrets/token", url="https://127.0.0.1:8443", verify=cert)
    assert r.status_code == 200 and r.text == "kept", r.text
    # an http-mode instance too: the daemon reaches it in its network
    # namespace with the unit's capabilities (no CAP_SYS_PTRACE)
    with open(HTTPFN, "rb") as f:
        assert svc.api("POST", "/system/images", data=f.read()).status_code == 200
    r = svc.api("POST", "/system/functions", json={"service": "web", "image": "httpfn:latest"})
    assert r.status_code == 202, r.text
    with svc.net():
        r = requests.get("https://127.0.0.1:8443/function/web/hello", verify=cert, timeout=TIMEOUT)
    assert r.status_code == 200 and r.text == "hello\n", r.text

    # A backup as the README says takes the key from where it is now.
    r = root.run("sfaasd", "backup", "--config", "/etc/sfaasd/config.json", "--data", "/var/lib/sfaasd",
                 "/var/tmp/bk-after")
    with open(root.p("/var/tmp/bk-after/backup.json")) as f:
        manifest = json.load(f)
    assert manifest["secretsKeyFrom"] == "/etc/sfaasd/secrets.key" and "secrets.key" in manifest["contains"]
    shutil.rmtree(root.p("/var/tmp/bk-after"))


def test_reload_serves_a_new_pair(root, work):
    """The unit's ExecReload (SIGHUP) makes the running daemon serve a
    renewed pair on new connections; nothing restarts."""
    svc, netns = state["new"], state["netns"]
    tls = root.p("/etc/sfaasd/tls")
    new_key, new_cert = os.path.join(work, "new-key.pem"), os.path.join(work, "new-cert.pem")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", new_key, "-out", new_cert, "-days", "30", "-subj", "/CN=renewed",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"])
    # in place as a renewal tool would put them: each file renamed over the old
    for src, name, mode in ((new_key, "key.pem", 0o600), (new_cert, "cert.pem", 0o644)):
        shutil.copy(src, os.path.join(tls, name + ".tmp"))
        os.chmod(os.path.join(tls, name + ".tmp"), mode)
        os.rename(os.path.join(tls, name + ".tmp"), os.path.join(tls, name))
    with open(new_cert) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    assert served_cert(netns) != der, "the old pair until the reload"

    reload = unit_lines(root, "ExecReload")
    assert reload, "the unit has an ExecReload"
    argv = [a.replace("$MAINPID", str(svc.proc.pid)) for a in reload[-1].split()]
    root.run(*argv)
    svc.wait_line(rb"TLS: reloaded '/etc/sfaasd/tls/cert\.pem', SHA-256 fingerprint " +
                  der_fingerprint(der).encode())
    assert served_cert(netns, cafile=new_cert) == der
    assert svc.proc.poll() is None
    r = svc.call("echo", b"cat /var/openfaas/secrets/token", url="https://127.0.0.1:8443", verify=new_cert)
    assert r.status_code == 200 and r.text == "kept", r.text
    assert svc.stop() == 0
    netns.close()


def test_unit_score_and_verify(root):
    r = root.run("systemd-analyze", "security", "--offline=true", "--no-pager", UNIT)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", r.stdout)
    assert m, r.stdout
    print("systemd-analyze security: %s" % m.group(1))
    # 4.6 when the unit was written; the folder /etc/sfaasd made writable
    # for the packaged defaults (the key, the TLS pair) did not change it.
    assert float(m.group(1)) <= 4.6, r.stdout
    r = root.run("systemd-analyze", "verify", UNIT, check=False)
    problems = [line for line in (r.stdout + r.stderr).splitlines() if "sfaasd" in line]
    assert not problems, problems


def test_binary_stripped_with_dbgsym_and_depends_complete(root, new_deb):
    binary = root.p("/usr/bin/sfaasd")
    sections = run(["readelf", "-S", "-W", binary]).stdout
    assert ".debug_info" not in sections and ".symtab" not in sections
    build_id = re.search(r"Build ID: ([0-9a-f]+)", run(["readelf", "-n", binary]).stdout).group(1)
    dbgsym = os.path.join(os.path.dirname(new_deb), "sfaasd-dbgsym_%s_%s.deb" % (
        deb_version(new_deb), run(["dpkg", "--print-architecture"]).stdout.strip()))
    listing = run(["dpkg-deb", "-c", dbgsym]).stdout
    assert "usr/lib/debug/.build-id/%s/%s.debug" % (build_id[:2], build_id[2:]) in listing
    depends = run(["dpkg-deb", "-f", new_deb, "Depends"]).stdout
    names = {d.strip().split()[0] for d in depends.split(",")}
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]", run(["readelf", "-d", binary]).stdout))
    assert needed, "no NEEDED entries"
    found = set()
    for line in root.run("ldd", "/usr/bin/sfaasd").stdout.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if not m or m.group(1) not in needed:
            continue  # the loader, or a library of a library
        found.add(m.group(1))
        lib = os.path.realpath(root.p(m.group(2)))[len(root.path):]
        owner = root.run("dpkg", "-S", lib, check=False).stdout.split(":")[0]
        if not owner:  # usr-merge: dpkg knows /lib paths
            owner = root.run("dpkg", "-S", lib.replace("/usr/lib/", "/lib/", 1)).stdout.split(":")[0]
        assert owner in names, "%s (from %s) is not in Depends: %s" % (lib, owner, depends)
    assert found == needed, "not resolved in the root: %s" % (needed - found)


def test_remove_keeps_data(root):
    before = len(root.policy_requests())
    root.run("apt-get", "remove", "-y", "sfaasd")
    assert ["sfaasd.service", "stop"] in root.policy_requests()[before:]
    assert not os.path.exists(root.p("/usr/bin/sfaasd"))
    assert os.path.exists(root.p("/var/lib/sfaasd/sfaasd.db"))
    assert os.path.exists(root.p("/var/lib/sfaasd/secrets/basic-auth-password"))
    assert os.path.exists(root.p("/etc/sfaasd/config.json"))
    assert os.path.exists(root.p("/etc/sfaasd/secrets.key"))
    assert sorted(os.listdir(root.p("/etc/sfaasd/tls"))) == ["cert.pem", "key.pem"]
    assert os.listdir(root.p("/var/backups/sfaasd"))


def test_purge_removes_everything(root):
    root.run("dpkg", "--purge", "sfaasd")
    for p in ("/var/lib/sfaasd", "/var/backups/sfaasd", "/etc/sfaasd",
              "/etc/systemd/system/multi-user.target.wants/sfaasd.service"):
        assert not os.path.lexists(root.p(p)), p
    assert root.run("dpkg-query", "-W", "sfaasd", check=False).returncode != 0 or \
        root.run("dpkg-query", "-W", "-f=${db:Status-Abbrev}", "sfaasd").stdout.startswith("pn")


def test_lintian(new_deb):
    name = "sfaasd_%s_%s.changes" % (deb_version(new_deb), run(["dpkg", "--print-architecture"]).stdout.strip())
    built = os.path.join(REPO, "build-deb")
    # lintian runs as nobody, which may not enter the clone (a mktemp -d
    # folder is 0700): it reads a copy of what the .changes names, from a
    # folder of its own, and starts there.
    d = tempfile.mkdtemp(prefix="sfaasd-lintian-", dir="/var/tmp")
    try:
        os.chmod(d, 0o755)
        for f in os.listdir(built):
            if os.path.isfile(os.path.join(built, f)):
                shutil.copy(os.path.join(built, f), d)
                os.chmod(os.path.join(d, f), 0o644)
        r = run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp", "lintian",
                 "--fail-on", "error,warning", name], check=False, cwd=d)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    tags = [line for line in r.stdout.splitlines() if re.match(r"^[EW]: ", line)]
    assert r.returncode == 0 and not tags, r.stdout + r.stderr
