# SPDX-License-Identifier: MIT
"""sfaasd-runc under real engines: Debian's Podman (through conmon) and
Debian's containerd (ctr run with the io.containerd.runc.v2 shim and its
runtime binary option, the path a Kubernetes RuntimeClass handler takes).

Each engine runs privately: Podman with its own --root/--runroot, a
containerd of its own (root, state and socket in the test's folder), so
nothing here touches the machine's images or containers. An engine that is
not installed is skipped with a message saying so (make deps installs
both: DEB_TEST); one that is installed but cannot run is a failure.
"""
import os
import shutil
import signal
import subprocess
import time

import pytest

from oci_testlib import RUNC_NAME, Runtime
from sfaasd_testlib import wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sfaasd-runc needs root (user namespaces, cgroups)")


def _require(tool, package):
    if shutil.which(tool) is None:
        pytest.skip("%s is not installed (Debian package %s; `make deps` installs it)" % (tool, package))


# ---------------------------------------------------------------- Podman


class Podman:
    def __init__(self, tmp, runtime):
        self.base = [
            "podman", "--root", str(tmp / "storage"), "--runroot", str(tmp / "run"), "--cgroup-manager", "cgroupfs",
            "--events-backend", "file", "--runtime", runtime,
        ]
        self.cwd = str(tmp)  # Debian's conmon writes its "oom" file into its working folder

    def __call__(self, *args, timeout=120, check=False):
        p = subprocess.run(self.base + list(args), capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL, cwd=self.cwd)
        if check:
            assert p.returncode == 0, "podman %s: rc %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr)
        return p


@pytest.fixture(scope="module")
def podman(images, tmp_path_factory):
    _require("podman", "podman")
    tmp = tmp_path_factory.mktemp("podman")
    rt = Runtime(tmp)
    pm = Podman(tmp, rt.path)
    pm("load", "-i", images.path("busybox-oci.tar"), check=True)
    yield pm
    pm("rm", "--all", "--force", timeout=300)
    subprocess.run(pm.base + ["system", "reset", "--force"], capture_output=True, timeout=300)


def test_podman_run_rm_echo(podman):
    p = podman("run", "--rm", "busybox", "echo", "hi", check=True)
    assert p.stdout == "hi\n"


def test_podman_exit_codes(podman):
    assert podman("run", "--rm", "busybox", "false").returncode == 1
    assert podman("run", "--rm", "busybox", "sh", "-c", "exit 42").returncode == 42
    p = podman("run", "--rm", "busybox", "no-such-command")
    assert p.returncode == 127, p.stderr  # podman's "command not found", as with runc


def test_podman_detached_exec_logs_stop(podman):
    cid = podman("run", "-d", "--name", "det", "busybox", "sh", "-c", "echo started; sleep 60", check=True).stdout.strip()
    assert cid
    wait_until(lambda: "started" in podman("logs", "det").stdout, 20, "the container's log line")
    p = podman("exec", "det", "sh", "-c", "echo in-exec; exit 5")
    assert p.returncode == 5 and p.stdout == "in-exec\n"
    p = podman("exec", "det", "sh", "-c", "cat /proc/self/status | grep -E '^(NoNewPrivs|Seccomp):'", check=True)
    assert "NoNewPrivs:\t1" in p.stdout and "Seccomp:\t2" in p.stdout
    podman("stop", "-t", "10", "det", check=True)
    p = podman("inspect", "det", "--format", "{{.State.Status}} {{.State.ExitCode}}", check=True)
    assert p.stdout.split() == ["exited", "143"]  # SIGTERM reached sleep through the sandbox init
    podman("rm", "det", check=True)


def test_podman_kill_and_memory_limit(podman):
    podman("run", "-d", "--name", "kl", "busybox", "sleep", "60", check=True)
    podman("kill", "-s", "KILL", "kl", check=True)
    podman("wait", "kl", timeout=30)
    assert podman("inspect", "kl", "--format", "{{.State.ExitCode}}", check=True).stdout.strip() == "137"
    podman("rm", "kl", check=True)
    p = podman("run", "--rm", "--memory", "32m", "busybox", "sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1")
    assert p.returncode == 137, p.stderr


def test_podman_protections_and_refusals(podman):
    p = podman("run", "--rm", "busybox", "sh", "-c", "cat /proc/self/uid_map; ls /sys | wc -l", check=True)
    inside, host, count = p.stdout.split("\n")[0].split()
    assert inside == "0" and int(host) >= 1 << 31 and count == "65536"
    assert p.stdout.split("\n")[1] == "0"
    for args, message in ((["--privileged"], "refuses privileged containers"),
                          (["--cap-add", "SYS_ADMIN"], "CAP_SYS_ADMIN"),
                          (["--network", "host"], "host's network namespace"),
                          (["--pid", "host"], "host's pid namespace"),
                          (["--device", "/dev/fuse"], "device '/dev/fuse' refused")):
        p = podman("run", "--rm", *args, "busybox", "true")
        assert p.returncode != 0 and message in p.stderr, (args, p.stderr)


def test_podman_network_and_ports(podman):
    p = podman("run", "--rm", "busybox", "sh", "-c", "ip -o -4 addr | grep -c -v ' lo '", check=True)
    assert int(p.stdout) >= 1  # the engine's network namespace, joined
    podman("run", "-d", "--name", "web", "-p", "127.0.0.1:18480:8080", "busybox", "httpd", "-f", "-p", "8080", "-h",
           "/etc", check=True)
    try:
        import urllib.request
        body = wait_until(lambda: _get("http://127.0.0.1:18480/hostname"), 20, "the published port")
        assert body.strip()
    finally:
        podman("rm", "-f", "web")


def _get(url):
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def test_podman_interactive_terminal(podman, tmp_path):
    """podman run -it: a pty on podman's side, sfaasd-runc's pty inside."""
    import pty
    master, slave = pty.openpty()
    p = subprocess.Popen(podman.base + ["run", "--rm", "-it", "busybox", "sh", "-c",
                                        "test -t 0 && test -t 1 && echo IS-A-TTY; read x; echo got:$x"],
                         stdin=slave, stdout=slave, stderr=slave, cwd=podman.cwd)
    os.close(slave)
    out = b""
    deadline = time.monotonic() + 60
    sent = False
    while time.monotonic() < deadline:
        import select
        r, _, _ = select.select([master], [], [], 0.2)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        if b"IS-A-TTY" in out and not sent:
            os.write(master, b"typed\r")
            sent = True
        if p.poll() is not None and not r:
            break
    p.wait(timeout=30)
    os.close(master)
    text = out.decode(errors="replace")
    assert p.returncode == 0 and "IS-A-TTY" in text and "got:typed" in text, text


# ---------------------------------------------------------------- containerd


class Containerd:
    def __init__(self, tmp):
        self.dir = tmp
        self.sock = str(tmp / "containerd.sock")
        cfg = tmp / "config.toml"
        cfg.write_text('version = 2\nroot = "%s"\nstate = "%s"\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                       '[grpc]\n  address = "%s"\n' % (tmp / "root", tmp / "state", self.sock))
        self.log = open(tmp / "containerd.log", "wb")
        self.proc = subprocess.Popen(["containerd", "--config", str(cfg)], stdout=self.log, stderr=self.log)
        wait_until(lambda: self.proc.poll() is not None or self("version").returncode == 0, 30, "containerd to serve")
        assert self.proc.poll() is None, "containerd exited: %s" % (tmp / "containerd.log").read_text()[-2000:]

    def __call__(self, *args, timeout=120, check=False):
        p = subprocess.run(["ctr", "-a", self.sock, *args], capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        if check:
            assert p.returncode == 0, "ctr %s: rc %d\n%s%s" % (" ".join(args), p.returncode, p.stdout, p.stderr)
        return p

    def stop(self):
        for line in self("task", "ls", "-q").stdout.split():
            self("task", "kill", "-s", "KILL", line)
            self("task", "delete", "--force", line)
        for line in self("container", "ls", "-q").stdout.split():
            self("container", "delete", line)
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture(scope="module")
def ctr(images, tmp_path_factory):
    _require("containerd", "containerd")
    _require("ctr", "containerd")
    tmp = tmp_path_factory.mktemp("ctrd")
    c = Containerd(tmp)
    c.runc = Runtime(tmp).path
    c("image", "import", images.path("busybox-oci.tar"), check=True)
    assert "busybox:latest" in c("image", "ls", "-q", check=True).stdout
    yield c
    c.stop()


def test_ctr_run_rm_echo(ctr):
    p = ctr("run", "--rm", "--runtime", "io.containerd.runc.v2", "--runc-binary", ctr.runc, "busybox:latest",
            "echo1", "echo", "hi", check=True)
    assert p.stdout == "hi\n"


def test_ctr_exit_code_and_protections(ctr):
    p = ctr("run", "--rm", "--runc-binary", ctr.runc, "busybox:latest", "ex1", "sh", "-c", "exit 5")
    assert p.returncode == 5
    p = ctr("run", "--rm", "--runc-binary", ctr.runc, "busybox:latest", "prot1", "sh", "-c",
            "cat /proc/self/uid_map; grep -E '^(NoNewPrivs|Seccomp):' /proc/self/status", check=True)
    inside, host, count = p.stdout.split("\n")[0].split()
    assert inside == "0" and int(host) >= 1 << 31
    assert "NoNewPrivs:\t1" in p.stdout and "Seccomp:\t2" in p.stdout


def test_ctr_detached_exec_ps_kill(ctr):
    ctr("run", "-d", "--runc-binary", ctr.runc, "busybox:latest", "det1", "sleep", "60", check=True)
    try:
        wait_until(lambda: "RUNNING" in ctr("task", "ls").stdout, 20, "the task to run")
        p = ctr("task", "exec", "--exec-id", "e1", "det1", "sh", "-c", "echo in-exec; exit 3")
        assert p.returncode == 3 and "in-exec" in p.stdout
        pids = ctr("task", "ps", "det1", check=True).stdout.split("\n")[1:]
        assert len([l for l in pids if l.strip()]) >= 2  # the sandbox init and sleep
        ctr("task", "kill", "det1", check=True)
        wait_until(lambda: "STOPPED" in ctr("task", "ls").stdout, 20, "the task to stop")
    finally:
        ctr("task", "delete", "--force", "det1")
        ctr("container", "delete", "det1")


def test_ctr_privileged_refused(ctr):
    p = ctr("run", "--rm", "--privileged", "--runc-binary", ctr.runc, "busybox:latest", "priv1", "true")
    assert p.returncode != 0 and "refuses privileged containers" in p.stdout + p.stderr
    ctr("container", "delete", "priv1")
