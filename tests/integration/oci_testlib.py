# SPDX-License-Identifier: MIT
"""Helpers for the OCI runtime tests (sfaasd oci / sfaasd-runc).

  Runtime       the binary under its runtime name (a sfaasd-runc symlink, so
                the argv[0] dispatch is what every test goes through), with
                a private --root
  busybox_rootfs   the busybox fixture image unpacked once (umoci), shared
                read-only by every bundle: sfaasd-runc never writes to a
                bundle's rootfs (its writes stay in memory)
  make_bundle   a bundle folder: config.json from umoci's, changed by the
                test, its root.path pointing at the shared rootfs
  ConsoleServer a --console-socket receiver that reads the pty master
"""
import array
import copy
import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time

from sfaasd_testlib import BIN, wait_until

RUNC_NAME = "sfaasd-runc"


class Runtime:
    def __init__(self, tmp, root=None):
        self.dir = tmp / "rt-bin"
        self.dir.mkdir(exist_ok=True)
        self.path = str(self.dir / RUNC_NAME)
        if not os.path.exists(self.path):
            os.symlink(BIN, self.path)
        self.root = str(root or (tmp / "rt-root"))

    def __call__(self, *args, check=False, timeout=60, input=None, glob=()):
        """Run it; stdout and stderr go to files, not pipes: a container
        that create or run -d leaves behind inherits them (as an engine's
        fifos) and would hold a pipe open past the command's exit."""
        cmd = [self.path, "--root", self.root, *glob, *args]
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.run(cmd, stdout=out, stderr=err, timeout=timeout,
                               input=input.encode() if input is not None else None,
                               stdin=None if input is not None else subprocess.DEVNULL)
            out.seek(0)
            err.seek(0)
            p.stdout = out.read().decode(errors="replace")
            p.stderr = err.read().decode(errors="replace")
        if check:
            assert p.returncode == 0, "%s: rc %d\nstdout: %s\nstderr: %s" % (" ".join(args), p.returncode,
                                                                              p.stdout, p.stderr)
        return p

    def state(self, cid):
        p = self("state", cid)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout)

    def status(self, cid):
        p = self("state", cid)
        return json.loads(p.stdout)["status"] if p.returncode == 0 else None

    def wait_status(self, cid, want, timeout=20):
        return wait_until(lambda: self.status(cid) == want, timeout, "container %s to be %s" % (cid, want))


def unpack_busybox(image_tar, dest):
    """The fixture image as an OCI bundle (umoci), once: (rootfs, config)."""
    layout = dest / "layout"
    subprocess.run(["skopeo", "copy", "-q", "oci-archive:%s" % image_tar, "oci:%s:latest" % layout], check=True)
    subprocess.run(["umoci", "unpack", "--image", "%s:latest" % layout, str(dest / "bundle")], check=True,
                   capture_output=True)
    with open(dest / "bundle" / "config.json") as f:
        config = json.load(f)
    return dest / "bundle" / "rootfs", config


def make_bundle(tmp, rootfs, base_config, name, args, mutate=None):
    """A bundle folder with its own config.json; root.path is the shared
    rootfs (absolute). Defaults: root user, cwd /, a pid namespace etc.
    from umoci's config. mutate(config) edits it further."""
    d = tmp / ("bundle-" + name)
    d.mkdir()
    c = copy.deepcopy(base_config)
    c["root"] = {"path": str(rootfs), "readonly": False}
    c["process"]["args"] = list(args)
    c["process"]["cwd"] = "/"
    c["process"]["user"] = {"uid": 0, "gid": 0}
    c["process"]["terminal"] = False
    c["hostname"] = "oci-test"
    if mutate:
        mutate(c)
    with open(d / "config.json", "w") as f:
        json.dump(c, f)
    return d


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


class ConsoleServer:
    """Listens on a unix socket, takes the pty master sent with SCM_RIGHTS
    (as conmon and containerd do) and collects what it reads from it."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.output = b""
        self.name = None
        self.master = None
        self.got_master = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _ = self.sock.accept()
        fds = array.array("i")
        msg, anc, _, _ = conn.recvmsg(1024, socket.CMSG_LEN(4))
        for level, typ, data in anc:
            if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                fds.frombytes(data[:4])
        conn.close()
        self.name = msg.decode(errors="replace")
        if not fds:
            self.got_master.set()
            return
        self.master = fds[0]
        self.got_master.set()
        while True:
            r, _, _ = select.select([self.master], [], [], 30)
            if not r:
                break
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.output += chunk

    def write(self, data):
        assert self.got_master.wait(20), "no terminal received"
        os.write(self.master, data)

    def wait(self, timeout=30):
        self.thread.join(timeout)
        return self.output.decode(errors="replace")

    def close(self):
        self.sock.close()


def have(tool):
    return shutil.which(tool) is not None


def wait_gone(pid, timeout=20):
    return wait_until(lambda: not alive(pid), timeout, "pid %d to end" % pid)


def uid_map_of(pid):
    with open("/proc/%d/uid_map" % pid) as f:
        return f.read().split()


def cgroup_dirs(path):
    """The directories of a cgroup path in every hierarchy we can see."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            mnt = pre.split()[4]
            typ = post.split()[0]
            if typ in ("cgroup", "cgroup2") and os.path.isdir(mnt + path):
                out.append(mnt + path)
    return out


def now():
    return time.monotonic()
