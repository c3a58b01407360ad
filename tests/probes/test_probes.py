# SPDX-License-Identifier: MIT
"""Hostile probes: run tests/probes/probe.c inside `sfaasd run` and check
both sides.

Inside: the probe performs one attack and prints
    RESULT <case> <contained|ESCAPED|error> <detail>
exiting 0 only when the kernel answered as a contained sandbox must. Each
test asserts the exit status, the outcome and the exact detail (the errno the
policy promises: EPERM for known-dangerous calls, ENOSYS for unknown ones,
SIGSYS for the wrong ABI, ...).

Outside (host-side oracles, after every run): a canary file outside the
rootfs keeps its content and mtime; the host mount table is identical; the
hostname is unchanged; a TCP listener on 0.0.0.0 and an abstract unix
socket saw no connection; no process of the sandbox's uid range or with the
probe's command line is left; no cgroup directory of the run is left. The
resource bombs also read the sandbox's own cgroup counters (pids.events max,
memory oom_kill, cpu quota) while the sandbox is held open (PROBE_HOLD=1:
the probe waits for EOF on stdin after printing its result).

Every run carries hard caps (--memory 64M --pids 64 --timeout 10s
--tmpfs-size 16M) so a failing test cannot hurt the machine.

Beyond the per-case table (test_probe): hostile rootfs layouts (/proc,
/dev, /tmp as symlinks out of the image, missing /tmp), launch failures
that must leave nothing behind, a host directory passed as stdin
(CVE-2024-21626 shape), closed stdio, two concurrent tenants, stale and
foreign cgroup subtrees of killed runs, --workdir with ".." while other
sandboxes start, and SIGTERM/SIGKILL of `sfaasd run` itself.

Concurrency with other users of the machine: the suite runs a private copy
of the sfaasd binary, uses its own uid base (derived from its pid) and a
nonce in every probe command line, and only counts host mount-table changes
that name its own directories; so `make test` and `make asan` may run side
by side.

Needs root (user namespaces with idmapped mounts, cgroups); skips otherwise.
"""
import dataclasses
import os
import pty
import re
import select
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
import tty
from pathlib import Path
from typing import Callable, Optional

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SFAASD = os.environ.get("SFAASD_BIN") or str(REPO / "sfaasd")

DEFAULT_UID_BASE = 1 << 30
# This session's own uid base, so that a leftover process of ours is told
# apart by its host uid alone from other sandboxes on the machine, including
# a concurrent run of this very suite (make test and make asan at once).
UID_BASE = 0x50000000 + (os.getpid() % 8192) * 65536
# Appended to every probe command line: leftovers are found by it, never by
# another run's probes.
NONCE = f"nonce-{os.getpid()}-{os.urandom(4).hex()}"
CAPS = ["--memory", "64M", "--pids", "64", "--timeout", "10s", "--tmpfs-size", "16M"]
TMPFS_BYTES = 16_000_000  # "16M" is decimal for sfaasd (16Mi would be 16777216)
RUN_TIMEOUT = 60
LOCK_DIR = "/run/sfaasd"  # SANDBOX_LOCK_DIR (sandbox/sandbox.h)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="probes need root (user namespaces, idmapped mounts, cgroups)")


# ---------------------------------------------------------------- host side


def read_mountinfo() -> list:
    with open("/proc/self/mountinfo") as f:
        return sorted(f.read().splitlines())


def cgroup_layout():
    """(mode, {ctrl: own dir}) the way sandbox/cgroup.c finds them: v2 when
    our v2 cgroup offers memory and pids, else the v1 hierarchies."""
    v2_mnt, v1 = None, {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, post = line.split(" - ", 1)
            fields, post = pre.split(), post.split()
            typ, opts = post[0], post[2]
            if typ == "cgroup2" and v2_mnt is None:
                v2_mnt = fields[4]
            elif typ == "cgroup":
                for c in ("memory", "pids", "cpu"):
                    if c in opts.split(",") and c not in v1:
                        v1[c] = fields[4]
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            hid, ctrls, path = line.rstrip("\n").split(":", 2)
            path = "" if path == "/" else path
            if hid == "0" and ctrls == "":
                own["v2"] = path
            for c in ctrls.split(","):
                own[c] = path
    if v2_mnt and "v2" in own:
        d = v2_mnt + own["v2"]
        try:
            avail = Path(d, "cgroup.controllers").read_text().split()
        except OSError:
            avail = []
        if "memory" in avail and "pids" in avail:
            return "v2", {c: d for c in ("memory", "pids", "cpu")}
    return "v1", {c: v1[c] + own.get(c, "") for c in v1}


def run_subtree_names(pid: int, d: str) -> list:
    """The subtree names `sfaasd run` (pid) makes below d:
    "sfaasd-run-<pid>-<8 hex>" and its "-daemon" leaf (sandbox/sandbox.h),
    (the binary under test makes no other; old "sfaasd-<pid>" names of dead
    runs may linger on a host and would match a new pid). Exact names only: a prefix glob
    ("sfaasd-run-321*") would also match other runs' "sfaasd-run-32146-..."
    once pids wrap around."""
    pat = re.compile(rf"^sfaasd-run-{pid}-[0-9a-f]{{8}}(-daemon)?$")
    try:
        return sorted(e for e in os.listdir(d) if pat.match(e))
    except FileNotFoundError:
        return []


def run_cgroup_dirs(pid: int) -> list:
    """Every cgroup directory `sfaasd run` (pid) may have made."""
    _, own = cgroup_layout()
    found = []
    for d in set(own.values()):
        found += [str(Path(d, name)) for name in run_subtree_names(pid, d) if Path(d, name).is_dir()]
    return found


def run_lock_files(pid: int) -> list:
    """The lock files of `sfaasd run` (pid) in /run/sfaasd."""
    pat = re.compile(rf"^sfaasd-run-{pid}-[0-9a-f]{{8}}\.lock$")
    try:
        return sorted(e for e in os.listdir(LOCK_DIR) if pat.match(e))
    except FileNotFoundError:
        return []


def cgroup_leaves(pid: int) -> dict:
    """{ctrl: leaf directory} of the sandbox of `sfaasd run` (pid), while it runs."""
    mode, own = cgroup_layout()
    leaves = {}
    for ctrl, d in own.items():
        for name in run_subtree_names(pid, d):
            sub = Path(d, name)
            cands = [p for p in sub.rglob("*") if p.is_dir() and not any(q.is_dir() for q in p.iterdir())]
            if cands:
                leaves[ctrl] = cands[0]
    return leaves


def cg_key(path: Path, key: str) -> Optional[int]:
    try:
        for line in path.read_text().splitlines():
            k, _, v = line.partition(" ")
            if k == key:
                return int(v)
    except OSError:
        return None
    return None


def leftover_processes(uid_base: Optional[int], tokens: tuple) -> list:
    """Processes whose host uid is in the sandbox's range (uid_base None: not
    checked, the default range may hold other sandboxes of this machine) or
    whose command line is the probe's."""
    left = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes()
            st = (p / "status").read_text()
        except OSError:
            continue
        uids = [int(x) for x in re.search(r"^Uid:\s+(.*)$", st, re.M).group(1).split()]
        in_range = uid_base is not None and any(uid_base <= u < uid_base + 65536 for u in uids)
        argv = cmd.split(b"\0")
        is_probe = NONCE.encode() in argv and argv[0].startswith(b"/probe")
        if in_range or is_probe:
            left.append(f"pid {p.name} uids {uids} cmd {cmd!r}")
    return left


def primary_ip() -> Optional[str]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
        ip = s.getsockname()[0]
        return None if ip.startswith("127.") else ip
    except OSError:
        return None
    finally:
        s.close()


class Host:
    """Everything host-side the suite sets up once: probe, rootfs, canary,
    listeners."""

    def __init__(self, base: Path):
        self.base = base
        self.hostdir = base / "host"
        self.hostdir.mkdir()
        self.canary = self.hostdir / "canary"
        self.canary.write_text(f"canary {os.urandom(8).hex()}\n")
        self.target = base / "host-target"  # where hostile rootfs symlinks point
        self.target.mkdir()
        (self.target / "keep").write_text("keep\n")
        self.probe = base / "probe"
        subprocess.run(["gcc", "-static", "-O2", "-o", str(self.probe), str(HERE / "probe.c")], check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # Source of a read-only --bind: a file, an executable, a device node.
        self.bindsrc = base / "bindsrc"
        self.bindsrc.mkdir()
        (self.bindsrc / "canary").write_text("bound canary\n")
        shutil.copy(self.probe, self.bindsrc / "exe")
        os.mknod(self.bindsrc / "mem", 0o666 | stat.S_IFCHR, os.makedev(1, 1))
        self.rootfs = base / "rootfs"
        subprocess.run([str(HERE / "rootfs.sh"), str(self.rootfs), str(self.probe), str(self.canary)], check=True)
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("0.0.0.0", 0))
        self.tcp.listen(16)
        self.tcp.setblocking(False)
        self.port = self.tcp.getsockname()[1]
        self.abstract = f"sfaasd-probe-{os.getpid()}"
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.abstract)
        self.unix.listen(16)
        self.unix.setblocking(False)
        self.hostname = socket.gethostname()
        self.ip = primary_ip()
        self.secret_env = "SFAASD_PROBE_SECRET"

    def close(self):
        self.tcp.close()
        self.unix.close()

    def subst(self, s: str) -> str:
        return s.format(bindsrc=self.bindsrc, port=self.port, canary=self.canary, abstract=self.abstract, hostname=self.hostname,
                        ip=self.ip, base=self.base, uid_base=UID_BASE, default_uid_base=DEFAULT_UID_BASE,
                        secret=self.secret_env, target=self.target)

    def snapshot(self) -> dict:
        st = self.canary.stat()
        return {
            "canary": (self.canary.read_bytes(), st.st_mtime_ns, st.st_mode, st.st_uid),
            "mounts": read_mountinfo(),
            "hostname": socket.gethostname(),
            "target": sorted(os.listdir(self.target)),
            "modules": Path("/proc/modules").read_text() if os.path.exists("/proc/modules") else "",
            "bindsrc": sorted((p.name, p.stat().st_mtime_ns, p.stat().st_mode) for p in self.bindsrc.iterdir()),
        }

    def accepted(self) -> list:
        got = []
        for s in (self.tcp, self.unix):
            while True:
                try:
                    c, addr = s.accept()
                except (BlockingIOError, InterruptedError):
                    break
                got.append(f"{s.family.name} from {addr!r}")
                c.close()
        return got


@pytest.fixture(scope="module")
def host():
    global SFAASD
    if not os.path.exists(SFAASD):
        pytest.fail(f"sfaasd binary not found at {SFAASD} (set SFAASD_BIN or run make)")
    base = Path(tempfile.mkdtemp(prefix="sfaasd-probes-", dir="/tmp"))
    os.chmod(base, 0o755)
    # Run a private copy: a concurrent `make` relinking ./sfaasd must not
    # turn into 170 spurious failures halfway through.
    shutil.copy2(SFAASD, base / "sfaasd")
    SFAASD = str(base / "sfaasd")
    h = Host(base)
    yield h
    h.close()
    shutil.rmtree(base, ignore_errors=True)


# ---------------------------------------------------------------- running


@dataclasses.dataclass
class Run:
    rc: int
    out: str
    err: str
    elapsed: float
    pid: int
    result: Optional[tuple] = None  # (case, outcome, detail)
    held: dict = dataclasses.field(default_factory=dict)  # cgroup readings taken while held


def readline_timeout(f, timeout: float) -> bytes:
    """One line from a pipe, or what came before the timeout/EOF."""
    buf = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in buf:
        r, _, _ = select.select([f], [], [], max(0.0, deadline - time.monotonic()))
        if not r:
            break
        chunk = os.read(f.fileno(), 1)
        if not chunk:
            break
        buf += chunk
    return buf


def parse_result(out: str) -> Optional[tuple]:
    for line in out.splitlines():
        if line.startswith("RESULT "):
            parts = line.rstrip("\r").split(" ", 3)
            return (parts[1], parts[2], parts[3] if len(parts) > 3 else "")
    return None


def read_held(pid: int) -> dict:
    """Cgroup figures of the running sandbox."""
    mode, _ = cgroup_layout()
    leaves = cgroup_leaves(pid)
    got = {"mode": mode, "leaves": {k: str(v) for k, v in leaves.items()}}
    procs = []
    leaf = leaves.get("memory") or leaves.get("pids")
    if leaf:
        for line in (leaf / "cgroup.procs").read_text().split():
            try:
                st = os.stat(f"/proc/{line}/exe")
                procs.append((int(line), os.readlink(f"/proc/{line}/exe"), (st.st_dev, st.st_ino)))
            except OSError:
                pass
    got["procs"] = procs
    if mode == "v1":
        if "memory" in leaves:
            m = leaves["memory"]
            got["oom_kill"] = cg_key(m / "memory.oom_control", "oom_kill")
            got["memory_limit"] = int((m / "memory.limit_in_bytes").read_text())
            got["memory_peak"] = int((m / "memory.max_usage_in_bytes").read_text())
        if "pids" in leaves:
            got["pids_max_events"] = cg_key(leaves["pids"] / "pids.events", "max")
            got["pids_max"] = (leaves["pids"] / "pids.max").read_text().strip()
        if "cpu" in leaves:
            got["cpu_quota"] = int((leaves["cpu"] / "cpu.cfs_quota_us").read_text())
            got["cpu_period"] = int((leaves["cpu"] / "cpu.cfs_period_us").read_text())
    else:
        leaf = leaves.get("memory")
        if leaf:
            got["oom_kill"] = cg_key(leaf / "memory.events", "oom_kill")
            got["memory_limit"] = int((leaf / "memory.max").read_text())
            peak = leaf / "memory.peak"
            got["memory_peak"] = int(peak.read_text()) if peak.exists() else None
            got["pids_max_events"] = cg_key(leaf / "pids.events", "max")
            got["pids_max"] = (leaf / "pids.max").read_text().strip()
            if (leaf / "cpu.max").exists():
                q, p = (leaf / "cpu.max").read_text().split()
                got["cpu_quota"], got["cpu_period"] = (-1 if q == "max" else int(q)), int(p)
    return got


def sfaasd_run(host: Host, probe_argv: list, opts: list = (), hold: bool = False, tty_stdio: bool = False,
               rootfs: Optional[Path] = None, extra_env: Optional[dict] = None, stdin=None) -> Run:
    cmd = [SFAASD, "run", "--rootfs", str(rootfs or host.rootfs), *CAPS, *opts]
    if hold:
        cmd += ["--env", "PROBE_HOLD=1"]
    cmd += ["--", *probe_argv]
    if probe_argv and probe_argv[0].startswith("/probe"):
        cmd.append(NONCE)  # ignored by the probe (cases read only their own arguments)
    env = dict(os.environ)
    env[host.secret_env] = "host-secret-value"
    env.update(extra_env or {})
    t0 = time.monotonic()
    if tty_stdio:
        return _run_tty(cmd, env, t0)
    if stdin is None:
        stdin = subprocess.PIPE if hold else subprocess.DEVNULL
    p = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    held = {}
    first = b""
    try:
        if hold:
            # Wait for the RESULT line (the probe then waits on stdin), read
            # the live cgroup, then let it go.
            deadline = time.monotonic() + RUN_TIMEOUT
            while b"\n" not in first and time.monotonic() < deadline:
                r, _, _ = select.select([p.stdout], [], [], max(0.0, deadline - time.monotonic()))
                if not r:
                    break
                chunk = os.read(p.stdout.fileno(), 4096)
                if not chunk:
                    break
                first += chunk
            if p.poll() is None:
                held = read_held(p.pid)
            p.stdin.close()
            p.stdin = None  # so communicate() does not flush it
        out, err = p.communicate(timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        pytest.fail(f"sfaasd run did not finish in {RUN_TIMEOUT}s: {cmd}")
    out = (first + out).decode(errors="replace")
    run = Run(p.returncode, out, err.decode(errors="replace"), time.monotonic() - t0, p.pid, held=held)
    run.result = parse_result(out)
    return run


def _run_tty(cmd, env, t0) -> Run:
    """sfaasd with a pseudo-terminal on stdin, stdout and stderr. After the run,
    the terminal's input queue must be empty (nothing injected)."""
    master, slave = pty.openpty()
    tty.setraw(slave)  # no canonical mode: injected bytes would be readable at once
    p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env)
    out = b""
    try:
        while True:
            r, _, _ = select.select([master], [], [], 0.05)
            if r:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                out += chunk
            elif p.poll() is not None:
                break
            if time.monotonic() - t0 > RUN_TIMEOUT:
                p.kill()
                pytest.fail("sfaasd run (tty) did not finish")
        p.wait()
        os.set_blocking(slave, False)
        try:
            injected = os.read(slave, 4096)
        except BlockingIOError:
            injected = b""
    finally:
        os.close(slave)
        os.close(master)
    text = out.decode(errors="replace").replace("\r\n", "\n")
    run = Run(p.returncode, text, "", time.monotonic() - t0, p.pid)
    run.result = parse_result(text)
    run.held = {"injected": injected}
    return run


def host_oracles(host: Host, before: dict, run: Run, tokens: tuple, uid_base: Optional[int]):
    """What must hold on the host after every run."""
    after = host.snapshot()
    assert after["canary"] == before["canary"], "host canary file changed"
    # Other work on the machine (benchmarks starting runc/runsc, say) may
    # mount and unmount on the host while we run; a leak of ours names our
    # directories (rootfs, bind source, canary: all under host.base).
    added = sorted(m for m in set(after["mounts"]) - set(before["mounts"]) if str(host.base) in m)
    removed = sorted(m for m in set(before["mounts"]) - set(after["mounts"]) if str(host.base) in m)
    assert not added and not removed, f"host mount table changed: +{added} -{removed}"
    new_kinds = sorted(m for m in set(after["mounts"]) - set(before["mounts"])
                       if re.search(r" - (proc|sysfs|cgroup2?|devpts|mqueue) ", m))
    assert not new_kinds, f"new proc/sysfs/cgroup mounts on the host: {new_kinds}"
    assert after["hostname"] == before["hostname"], "host hostname changed"
    assert after["modules"] == before["modules"], "kernel modules were loaded or unloaded during the run"
    assert after["target"] == before["target"], "host directory behind the hostile symlinks changed"
    assert after["bindsrc"] == before["bindsrc"], "host directory behind the read-only bind changed"
    assert host.accepted() == [], "a host listener saw a connection from the sandbox"
    left = leftover_processes(uid_base, tokens)
    assert not left, f"processes left after the run: {left}"
    dirs = run_cgroup_dirs(run.pid)
    assert not dirs, f"cgroup directories left after the run: {dirs}"
    locks = run_lock_files(run.pid)
    assert not locks, f"lock files left in {LOCK_DIR} after the run: {locks}"


# ---------------------------------------------------------------- cases


@dataclasses.dataclass
class Case:
    id: str
    args: tuple = ()             # probe arguments after the case name ({port} etc. substituted)
    expect: str = "EPERM"        # regex the RESULT detail must fully match
    opts: tuple = ()             # extra sfaasd run options
    rc: int = 0                  # expected exit status of sfaasd run
    probe: Optional[str] = None  # probe case name when it differs from id
    hold: bool = False
    tty: bool = False
    result: bool = True          # a RESULT line is expected
    uid_base: int = UID_BASE     # --uid-base (None: the default)
    check: Optional[Callable] = None  # extra oracle: check(host, run)
    needs: Optional[str] = None  # "ip", "fcap": skip when the host lacks it


def check_fork_bomb(host, run):
    h = run.held
    assert h.get("leaves"), f"sandbox cgroup not found while it ran: {h}"
    assert h["pids_max"] == "64", h
    assert (h.get("pids_max_events") or 0) >= 1, f"pids.events max did not count the refused forks: {h}"


def check_mem_bomb(host, run):
    h = run.held
    assert h.get("leaves"), f"sandbox cgroup not found while it ran: {h}"
    assert h["memory_limit"] <= 64_000_000, h
    assert (h.get("oom_kill") or 0) >= 1, f"memory cgroup did not record an OOM kill: {h}"
    if h.get("memory_peak"):
        assert h["memory_peak"] <= h["memory_limit"] + (1 << 20), h
    mib = int(re.search(r"after (\d+) MiB", run.result[2]).group(1))
    assert mib <= 64, f"child touched {mib} MiB under a 64M limit"


def check_cpu_quota(host, run):
    h = run.held
    assert h.get("leaves"), f"sandbox cgroup not found while it ran: {h}"
    assert h.get("cpu_quota") == 50000 and h.get("cpu_period") == 100000, h


def check_timeout(host, run):
    assert "SPINNING" in run.out, "the spinner never started"
    assert run.elapsed < 2 + 5, f"timeout 2s took {run.elapsed:.1f}s to kill"
    assert "timed out" in run.err, run.err


def check_no_injection(host, run):
    assert run.held.get("injected") == b"", f"bytes injected into the caller's terminal: {run.held['injected']!r}"


def check_init_exe(host, run):
    # Host side, while the sandbox runs: pid 1 inside runs a sealed memfd
    # (sandbox/init/), never the sfaasd binary (CVE-2019-5736 class).
    procs = run.held.get("procs")
    assert procs, f"no process found in the sandbox's cgroup: {run.held}"
    me = os.stat(SFAASD)
    for pid, exe, ident in procs:
        assert ident != (me.st_dev, me.st_ino), f"pid {pid} runs the sfaasd binary ({exe})"
    exes = sorted(exe for _, exe, _ in procs)
    assert any(e.startswith("/memfd:sfaasd-init") for e in exes), exes
    assert "/probe" in exes, exes


def check_uid_base_refused(host, run):
    assert "uid-base" in run.err or "uid_base" in run.err, run.err


CASES = [
    # --- privileged syscalls (seccomp: known-dangerous -> EPERM)
    Case("mount"), Case("mount_proc"), Case("umount_proc"), Case("umount_mask"),
    Case("remount_root_rw"), Case("remount_procsys_rw"), Case("pivot_root"), Case("chroot"),
    Case("ptrace_traceme"), Case("ptrace_attach"), Case("process_vm_readv"), Case("pidfd_getfd"),
    Case("bpf"), Case("perf_event_open"), Case("keyctl"), Case("add_key"), Case("request_key"),
    Case("io_uring_setup"), Case("userfaultfd"),
    Case("init_module"), Case("finit_module"), Case("delete_module"), Case("kexec_load"), Case("kexec_file_load"),
    Case("unshare_user"), Case("unshare_ns"), Case("unshare_net"),
    Case("clone_newuser"), Case("clone_hibits"),
    Case("clone_ns_flags", expect=r"NEWNS:EPERM,NEWCGROUP:EPERM,NEWUTS:EPERM,NEWIPC:EPERM,NEWUSER:EPERM,"
                                  r"NEWPID:EPERM,NEWNET:EPERM,NEWTIME:EPERM"),
    Case("clone3_newuser", expect="ENOSYS"),  # clone3 is ENOSYS so libc falls back to clone
    Case("setns", expect=r"user:EPERM,mnt:EPERM,net:EPERM,pid:EPERM,uts:EPERM,ipc:EPERM,cgroup:EPERM"),
    Case("open_by_handle_at"), Case("name_to_handle_at"), Case("reboot"), Case("swapon"), Case("acct"),
    Case("sethostname", expect="ENOSYS|EPERM"), Case("setdomainname", expect="ENOSYS|EPERM"),
    Case("settimeofday"), Case("clock_settime"), Case("adjtimex"),
    Case("mknod_chardev"),  # mknod is allowed by seccomp; the kernel refuses devices in a user namespace
    Case("fsopen"), Case("open_tree"), Case("move_mount"), Case("mount_setattr"), Case("fspick"),
    Case("syslog"), Case("iopl"), Case("ioperm"), Case("quotactl"),
    Case("unknown_syscall", expect="ENOSYS"),
    # --- ABI and argument tricks
    # killed-SEGV: a kernel without IA32 emulation has no int 0x80 entry at all
    Case("int80_getpid", expect="killed-SYS|killed-SEGV"), Case("int80_mount", expect="killed-SYS|killed-SEGV"),
    Case("x32_getpid", expect="killed-SYS"),
    Case("nr_hibits", expect="EPERM"),
    Case("int80_self", rc=128 + 31, result=False),  # the function killed by SIGSYS: 128+31
    Case("exit_code", args=("42",), rc=42, result=False),
    Case("tiocsti_hibits", expect="fd0:EPERM,fd1:EPERM,fd2:EPERM"),
    Case("personality_rie"), Case("personality_norandom"), Case("personality_hibits"),
    Case("sock_netlink_audit", expect="EAFNOSUPPORT"), Case("sock_netlink_hibits", expect="EAFNOSUPPORT"),
    Case("sock_packet", expect="EAFNOSUPPORT"), Case("sock_packet_hibits", expect="EAFNOSUPPORT"),
    Case("sock_vsock", expect="EAFNOSUPPORT"), Case("sock_alg", expect="EAFNOSUPPORT"),
    Case("tcp_ulp"), Case("tcp_ulp_hibits"),  # kernel TLS refused (EPERM) on an established socket
    # --- procfs, sysfs, devices
    Case("proc_kcore", expect="ENOENT|EACCES|empty"), Case("proc_keys", expect="ENOENT|EACCES|empty"),
    Case("proc_timer_list", expect="ENOENT|EACCES|empty"), Case("proc_sched_debug", expect="ENOENT|EACCES|empty"),
    Case("proc_kmsg", expect="ENOENT|EACCES|empty"), Case("proc_kallsyms", expect="ENOENT|EACCES|empty|readable-but-zeroed"),
    Case("proc_kernel_addrs", expect="zeroed-or-unreadable"),
    Case("proc_sysrq", expect="ENOENT|EROFS|EACCES|masked-by-dev-null"),
    Case("proc_sys_hostname", expect="EROFS|EACCES"), Case("proc_core_pattern", expect="EROFS|EACCES"),
    Case("proc_max_userns_raise", expect="EROFS|EACCES"),
    Case("proc_self_exe_write", expect="ETXTBSY|EROFS|EACCES"),
    Case("sys_absent", expect="ENOENT|sys-empty-dir"),
    Case("dev_list", expect="only null,zero,full,random,urandom,fd,std\\*,shm"),
    Case("dev_absent", expect="ENOENT"), Case("dev_null_works", expect="ok"),
    Case("dev_create", expect="EROFS"), Case("rootfs_readonly", expect="EROFS"),
    Case("devshm_noexec", expect="EACCES"),
    Case("rootfs_devnode", probe="open_path", args=("/evilmem",), expect="EACCES"),  # nodev
    Case("rootfs_hostlink", probe="open_path", args=("/hostlink",), expect="ENOENT"),
    # --- setuid and capability leftovers
    Case("capget", expect="eff=0,prm=0,inh=0"), Case("status_caps", expect="all-five-zero"),
    Case("status_nnp_seccomp", expect=r"NoNewPrivs=1,Seccomp=2,filters=\d+"),
    Case("securebits", expect=r"EPERM,bits=0x[0-9a-f]+"),
    Case("ambient_raise"), Case("capset_raise"),
    Case("setuid_root", opts=("--user", "1000:1000"),
         expect="setuid:EPERM,setresuid:EPERM,setgid:EPERM,setgroups:EPERM"),
    Case("root_no_setuid"),
    Case("suid_exec", opts=("--user", "1000:1000"), expect=r"no-elevation uid=1000|execve:EACCES|execve:EPERM"),
    Case("fcap_exec", opts=("--user", "1000:1000"), expect=r"no-elevation uid=1000|execve:EACCES|execve:EPERM",
         needs="fcap"),
    Case("fcap_exec_root", probe="fcap_exec", expect=r"no-elevation uid=0|execve:EACCES|execve:EPERM", needs="fcap"),
    Case("dac_override", expect="EACCES"), Case("chown_nocap"),
    Case("setfcap", expect="security.capability:EPERM,trusted:EPERM"),
    Case("rootfs_owner", expect="0:0"),
    # --- fd and cwd leaks
    Case("fd_scan", expect="only-0-1-2"), Case("cwd_dotdot", expect="stays-in-root"),
    Case("cwd_inside", expect="cwd=/"), Case("proc_root_links", expect="root=/ cwd=/"),
    Case("host_path", args=("{canary}",), expect="ENOENT"),
    Case("workdir_symlink", probe="cwd_inside", opts=("--workdir", "/escape"), expect="cwd=/"),
    Case("workdir_dotdot", probe="cwd_inside", opts=("--workdir", "/../../../work"), expect="cwd=/work"),
    # --- terminal injection (caller's stdio is a pseudo-terminal)
    Case("isatty", tty=True, expect="no-tty", check=check_no_injection),
    Case("tiocsti", tty=True, expect="fd0:EPERM,fd1:EPERM,fd2:EPERM", check=check_no_injection),
    Case("tiocsti_hibits_tty", probe="tiocsti_hibits", tty=True, expect="fd0:EPERM,fd1:EPERM,fd2:EPERM",
         check=check_no_injection),
    Case("tioclinux", tty=True, expect="EPERM", check=check_no_injection),
    Case("new_session", expect="sid=pid=2"),  # pid 1 is the sandbox init
    # --- network
    Case("net_ifaces", expect=r"lo-only\(1\)"),
    Case("connect_loopback", args=("{port}",), expect="ECONNREFUSED"),
    Case("connect_host_ip", args=("{ip}", "{port}"), expect="ENETUNREACH", needs="ip"),
    Case("connect_metadata", expect="ENETUNREACH"),
    Case("abstract_unix", args=("{abstract}",), expect="ECONNREFUSED"),
    Case("proc_net_tcp", args=("{port}",), expect="not-visible"),
    Case("sock_raw"), Case("net_admin"), Case("netlink_newlink"),
    # --- resource bombs (hard caps on every run; counters read while held)
    Case("fork_bomb", args=("64",), expect=r"forks=\d+,EAGAIN", hold=True, check=check_fork_bomb),
    Case("mem_bomb", expect=r"oom-killed after \d+ MiB", hold=True, check=check_mem_bomb),
    Case("tmp_fill", args=(str(TMPFS_BYTES),), expect=r"ENOSPC after \d+ bytes"),
    Case("shm_fill", args=(str(TMPFS_BYTES),), expect=r"ENOSPC after \d+ bytes"),
    Case("tmp_inodes", args=("4096",), expect=r"ENOSPC after \d+ files"),
    Case("fd_bomb", expect=r"EMFILE after \d+ fds \(nofile 1024\)"),
    Case("rlimits", expect=rf"core=0,nofile=1024,fsize={TMPFS_BYTES},raise:EPERM"),
    Case("fsize", expect=rf"EFBIG at {TMPFS_BYTES}"),
    Case("cpu_quota", args=("500",), opts=("--cpu", "0.5"), expect=r"cpu_ms=\d+ wall_ms=\d+ allowed=\d+",
         hold=True, check=check_cpu_quota),
    Case("cpu_spin", opts=("--timeout", "2s"), rc=128 + 9, result=False, check=check_timeout),
    Case("cpu_spin_forks", opts=("--timeout", "2s"), rc=128 + 9, result=False, check=check_timeout),
    Case("orphan", expect="detached-grandchild-left"),
    Case("zombies", expect="reaped=3"),
    Case("core_dump", expect="no-core"),
    # kernel buffers are memory too: 32 processes x RLIMIT_NOFILE of full
    # socket queues / pipes must stay within the memory cgroup
    Case("sock_buf_bomb", args=("64000000",), expect=r"held=\d+ MiB by \d+ workers \(\d+ killed\), limit 61 MiB"),
    Case("pipe_buf_bomb", args=("64000000",), expect=r"held=\d+ MiB by \d+ workers \(\d+ killed\), limit 61 MiB"),
    Case("oom_score_adj", expect="EACCES|EPERM"),
    Case("nice_raise", expect="EACCES|EPERM"),
    Case("rt_sched"), Case("ioprio_rt"),
    Case("mlock_limit", expect="ENOMEM|EPERM|EAGAIN"),
    # --- read-only bind of a host directory (secrets): no write, no device, no exec
    Case("bind_ro", args=("/secrets/b",), opts=("--bind", "{bindsrc}:/secrets/b"), expect="EROFS,exec:EACCES"),
    # --- information leaks
    Case("hostname", args=("{hostname}",), expect="sandbox"),
    Case("uid_map", args=("{uid_base}",), expect=f"0 {UID_BASE} 65536(;setgroups=allow)?"),
    Case("uid_map_default", probe="uid_map", args=("{default_uid_base}",), uid_base=None,
         expect=f"0 {DEFAULT_UID_BASE} 65536(;setgroups=allow)?"),
    Case("cgroup_ns", expect="all-root"),
    Case("mountinfo_no_host_path", args=("{base}",), expect="absent"),
    Case("env_leak", args=("{secret}",), expect="absent"),
    Case("pid_ns", expect=r"pid=2,ppid=1,visible=2"),
    Case("launcher_not_inside", expect="exe=/probe", hold=True, check=check_init_exe),
    Case("init_pid1", expect="exe:EACCES,mem:EACCES,fd:EACCES,kill9:survived,usr1:forwarded"),
    Case("proc_cpuinfo", expect="readable"),
    # --- namespace lockdown
    Case("max_userns", expect="max_user_namespaces=0"),
]

# Known, accepted deviations: strict, so the test fails loudly once fixed.
XFAIL = {
    "mountinfo_no_host_path": "the rootfs is a bind of a host directory, so /proc/self/mountinfo shows its host "
                              "path as the mount root (needs a fresh superblock per rootfs to hide)",
}


def _params():
    out = []
    for c in CASES:
        marks = []
        if c.id in XFAIL:
            marks.append(pytest.mark.xfail(reason=XFAIL[c.id], strict=True))
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


def test_probe_list_covered(host):
    """Every case the probe knows is exercised here."""
    listed = subprocess.run([str(host.probe), "--list"], check=True, stdout=subprocess.PIPE, text=True).stdout.split()
    used = {c.probe or c.id for c in CASES} | {"stdio_dir", "tenant_a", "tenant_b", "kill_all"}  # used by the tests below
    assert sorted(set(listed) - used) == []


@pytest.mark.parametrize("case", _params())
def test_probe(host, case: Case):
    if case.needs == "ip" and not host.ip:
        pytest.skip("no non-loopback host address")
    if case.needs == "fcap" and not (host.rootfs / "probe-fcap").exists():
        pytest.skip("setcap missing or file capabilities unsupported here")
    name = case.probe or case.id
    argv = ["/probe", name, *(host.subst(a) for a in case.args)]
    opts = [host.subst(o) for o in case.opts]
    if case.uid_base is not None:
        opts += ["--uid-base", str(case.uid_base)]
    before = host.snapshot()
    run = sfaasd_run(host, argv, opts, hold=case.hold, tty_stdio=case.tty)
    try:
        assert run.rc == case.rc, f"sfaasd run exit {run.rc} (want {case.rc})\nstdout: {run.out}\nstderr: {run.err}"
        if case.result:
            assert run.result, f"no RESULT line\nstdout: {run.out}\nstderr: {run.err}"
            rcase, outcome, detail = run.result
            assert rcase == name
            assert outcome == "contained", f"{outcome}: {detail}"
            assert re.fullmatch(case.expect, detail), f"detail {detail!r} does not match {case.expect!r}"
        if case.check:
            case.check(host, run)
    finally:
        host_oracles(host, before, run, (name,), case.uid_base)


# ---------------------------------------------------------------- hostile rootfs layouts and options


def _hostile_rootfs(host: Host, name: str, mutate) -> Path:
    d = host.base / f"rootfs-{name}"
    if not d.exists():
        subprocess.run(["cp", "-a", str(host.rootfs), str(d)], check=True)
        mutate(d)
    return d


def _replace_with_link(d: Path, entry: str, target: str):
    p = d / entry
    if p.is_dir() and not p.is_symlink():
        p.rmdir()
    else:
        p.unlink()
    p.symlink_to(target)


HOSTILE = {
    # /proc, /dev, /tmp as symlinks out of the image: the launcher must
    # refuse (125) or mount inside the root; never on the host target.
    "proc_symlink_abs": (lambda h, d: _replace_with_link(d, "proc", str(h.target)), "proc_timer_list"),
    "dev_symlink_abs": (lambda h, d: _replace_with_link(d, "dev", str(h.target)), "dev_list"),
    "tmp_symlink_rel": (lambda h, d: _replace_with_link(d, "tmp", "../../../../.." + str(h.target)), "tmp_inodes"),
    "dev_null_symlink": (lambda h, d: (d / "dev" / "null").symlink_to(str(h.target / "keep")), "dev_list"),
    "tmp_missing": (lambda h, d: (d / "tmp").rmdir(), "tmp_inodes"),
}


@pytest.mark.parametrize("variant", sorted(HOSTILE))
def test_hostile_rootfs(host, variant):
    mutate, probe_case = HOSTILE[variant]
    rootfs = _hostile_rootfs(host, variant, lambda d: mutate(host, d))
    args = ["4096"] if probe_case == "tmp_inodes" else []
    before = host.snapshot()
    run = sfaasd_run(host, ["/probe", probe_case, *args], ["--uid-base", str(UID_BASE)], rootfs=rootfs)
    try:
        assert run.rc in (0, 125), f"exit {run.rc}\nstdout: {run.out}\nstderr: {run.err}"
        if run.rc == 0:
            assert run.result and run.result[1] == "contained", run.out
        else:
            assert run.err.strip(), "launcher failed without saying why"
    finally:
        host_oracles(host, before, run, (probe_case,), UID_BASE)
    assert (host.target / "keep").read_text() == "keep\n"


def test_uid_base_zero_refused(host):
    """Host root is never mapped: --uid-base 0 is refused before anything runs."""
    before = host.snapshot()
    run = sfaasd_run(host, ["/probe", "uid_map", "0"], ["--uid-base", "0"])
    try:
        assert run.rc in (2, 125), f"exit {run.rc}: {run.out} {run.err}"
        assert run.result is None, "the probe ran with uid base 0"
        check_uid_base_refused(host, run)
    finally:
        host_oracles(host, before, run, ("uid_map",), UID_BASE)


LAUNCH_FAILURES = {
    "no_such_command": (["/nonexistent"], []),
    "not_executable": (["/etc/passwd"], []),
    "directory_as_command": (["/tmp"], []),
    "command_not_in_path": (["no-such-tool"], []),
    "workdir_missing": (["/probe", "cwd_inside"], ["--workdir", "/nonexistent"]),
    "workdir_is_file": (["/probe", "cwd_inside"], ["--workdir", "/probe"]),
    "bind_source_missing": (["/probe", "cwd_inside"], ["--bind", "{base}/no-such-source:/secrets/b"]),
}


@pytest.mark.parametrize("variant", sorted(LAUNCH_FAILURES))
def test_launch_failure_leaves_nothing(host, variant):
    """A start that fails is reported as 125 with a reason, and leaves no
    process, mount or cgroup behind."""
    argv, opts = LAUNCH_FAILURES[variant]
    before = host.snapshot()
    run = sfaasd_run(host, argv, [host.subst(o) for o in opts] + ["--uid-base", str(UID_BASE)])
    try:
        assert run.rc == 125, f"exit {run.rc}\nstdout: {run.out}\nstderr: {run.err}"
        assert run.result is None
        assert run.err.strip(), "launcher failed without saying why"
    finally:
        host_oracles(host, before, run, ("cwd_inside",), UID_BASE)


def test_stdio_directory(host):
    """CVE-2024-21626 shape through stdio: a caller whose stdin is a host
    directory (`sfaasd run ... < /some/dir`) must not hand the sandbox a way
    out of its root. The launcher must refuse such an fd (125) or the probe
    must find no way through it."""
    before = host.snapshot()
    dfd = os.open(host.hostdir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        run = sfaasd_run(host, ["/probe", "stdio_dir", host.canary.name], ["--uid-base", str(UID_BASE)], stdin=dfd)
    finally:
        os.close(dfd)
    try:
        assert run.rc in (0, 125), f"exit {run.rc}\nstdout: {run.out}\nstderr: {run.err}"
        if run.rc == 0:
            assert run.result and run.result[1] == "contained", f"{run.result}"
    finally:
        host_oracles(host, before, run, ("stdio_dir",), UID_BASE)


def test_closed_stdio(host):
    """With the caller's stdin, stdout and stderr closed, the sandbox gets
    /dev/null on 0..2 and nothing else (the launcher's own fds then take the
    low numbers in sfaasd). Nothing can be printed, so a shell inside checks
    and answers with its exit status."""
    before = host.snapshot()
    script = ("for f in 0 1 2; do [ \"$(readlink /proc/$$/fd/$f)\" = /dev/null ] || exit 11; done; "
              "/probe fd_scan >/dev/null || exit 12; exit 0")
    cmd = [SFAASD, "run", "--rootfs", str(host.rootfs), *CAPS, "--uid-base", str(UID_BASE), "--",
           "/bin/sh", "-c", script]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         preexec_fn=lambda: [os.close(i) for i in (0, 1, 2)])
    rc = p.wait(timeout=RUN_TIMEOUT)
    run = Run(rc, "", "", time.monotonic() - t0, p.pid)
    try:
        assert rc == 0, f"exit {rc} (11: an fd of 0..2 is not /dev/null, 12: fd_scan found a leaked fd)"
    finally:
        host_oracles(host, before, run, ("fd_scan",), UID_BASE)


def test_two_tenants(host):
    """Two sandboxes at once, with different uid bases: while tenant A holds
    an abstract socket, a SysV shm segment and a file in /tmp, tenant B sees
    none of them."""
    before = host.snapshot()
    base_a = UID_BASE
    cmd_a = [SFAASD, "run", "--rootfs", str(host.rootfs), *CAPS, "--uid-base", str(base_a), "--env",
             "PROBE_HOLD=1", "--", "/probe", "tenant_a", NONCE]
    t0 = time.monotonic()
    a = subprocess.Popen(cmd_a, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = readline_timeout(a.stdout, RUN_TIMEOUT).decode()
        assert "traces-left" in line, f"tenant A did not start: {line!r}"
        b = sfaasd_run(host, ["/probe", "tenant_b"], ["--uid-base", str(UID_BASE + 65536)])
        assert b.rc == 0 and b.result and b.result[1] == "contained", f"{b.rc} {b.out} {b.err}"
        assert re.fullmatch("abstract:ECONNREFUSED,shm:ENOENT,tmp:ENOENT", b.result[2]), b.result
        # Same host uid as A this time: kill(-1, SIGKILL) from B must not reach A.
        k = sfaasd_run(host, ["/probe", "kill_all"], ["--uid-base", str(base_a)])
        assert k.rc == 0 and k.result and k.result[1] == "contained", f"{k.rc} {k.out} {k.err}"
        assert a.poll() is None, "tenant A died while tenant B (same host uid) ran kill(-1, SIGKILL)"
    finally:
        a.stdin.close()
        a.stdin = None  # so communicate() does not flush it
        out, err = a.communicate(timeout=RUN_TIMEOUT)
    run_a = Run(a.returncode, out.decode(), err.decode(), time.monotonic() - t0, a.pid)
    assert run_a.rc == 0, run_a.err
    host_oracles(host, before, run_a, ("tenant_a",), base_a)
    assert not leftover_processes(UID_BASE + 65536, ())


def test_stale_cgroup_subtree(host):
    """Older versions named a run's subtree `sfaasd-<pid>`, and one that was
    SIGKILLed left it behind. A run that gets the same pid must still start
    (the names are "sfaasd-run-<pid>-<random>" now and never repeat), and
    it leaves the old subtree alone: only a daemon sweeps the old names, by
    their old rule (sandbox/sandbox.h). The stale subtree is made here
    deterministically: the shell's pid is sfaasd's after exec."""
    _, own = cgroup_layout()
    dirs = " ".join(f"'{d}'/sfaasd-$$" for d in sorted(set(own.values())))
    cmd = (f"mkdir {dirs} && exec '{SFAASD}' run --rootfs '{host.rootfs}' {' '.join(CAPS)} "
           f"--uid-base {UID_BASE} -- /probe fd_scan {NONCE}")
    before = host.snapshot()
    t0 = time.monotonic()
    p = subprocess.Popen(["/bin/sh", "-c", cmd], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    out, err = p.communicate(timeout=RUN_TIMEOUT)
    run = Run(p.returncode, out.decode(), err.decode(), time.monotonic() - t0, p.pid)
    try:
        assert run.rc == 0, f"exit {run.rc} with a stale empty cgroup subtree of the same pid: {run.err.strip()}"
        assert parse_result(run.out)[1] == "contained"
        old = [str(Path(d, f"sfaasd-{p.pid}")) for d in sorted(set(own.values()))]
        assert run_cgroup_dirs(p.pid) == [], "the run's own subtree left"
        assert all(os.path.isdir(d) for d in old), "the old subtree was removed by a run"
    finally:
        for d in run_cgroup_dirs(p.pid) + [str(Path(d, f"sfaasd-{p.pid}")) for d in set(own.values())]:
            try:
                os.rmdir(d)
            except OSError:
                pass
        host_oracles(host, before, run, ("fd_scan",), UID_BASE)


def test_sweep_spares_other_pid_namespace(host):
    """A launcher's start sweeps the subtrees of dead launchers
    (sandbox/cgroup_sweep.c). Launcher A runs in its own pid namespace (a
    container, say) and names its subtree with a pid of that namespace; on
    hybrid v1 hosts the pids and cpu hierarchies are shared from "/", so
    launcher B on the host sees "sfaasd-run-<A's pid>-...", finds no such
    pid in its own namespace, and must still not kill A's running sandbox:
    A's lock file is held, whatever the pids say."""
    if not shutil.which("unshare"):
        pytest.skip("unshare(1) missing")
    with open("/proc/sys/kernel/pid_max") as f:
        pid_max = int(f.read())
    last = pid_max // 2
    while os.path.exists(f"/proc/{last + 1}") and last < pid_max - 2:
        last += 7
    before = host.snapshot()
    inner = (f"echo {last} > /proc/sys/kernel/ns_last_pid && '{SFAASD}' run --rootfs '{host.rootfs}' "
             f"{' '.join(CAPS)} --uid-base {UID_BASE} --env PROBE_HOLD=1 -- /probe fd_scan {NONCE}")
    t0 = time.monotonic()
    a = subprocess.Popen(["unshare", "--mount", "--pid", "--fork", "--mount-proc", "sh", "-c", inner],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = readline_timeout(a.stdout, RUN_TIMEOUT).decode()
        assert "contained" in line, f"launcher A did not start: {line!r}"
        b = sfaasd_run(host, ["/probe", "fd_scan"], ["--uid-base", str(UID_BASE + 65536)])
        assert b.rc == 0, f"launcher B: {b.rc} {b.err}"
    finally:
        a.stdin.close()
        a.stdin = None  # so communicate() does not flush it
        out, err = a.communicate(timeout=RUN_TIMEOUT)
    run_a = Run(a.returncode, out.decode(), err.decode(), time.monotonic() - t0, a.pid)
    try:
        assert run_a.rc == 0, (f"launcher B's start killed launcher A's sandbox (A exit {run_a.rc}): "
                               f"A's subtree sfaasd-run-{last + 1}-... was taken for a dead launcher's")
    finally:
        for d in run_cgroup_dirs(last + 1):
            try:
                os.rmdir(d)
            except OSError:
                pass
        host_oracles(host, before, run_a, ("fd_scan",), UID_BASE)


def test_workdir_dotdot_under_concurrent_spawns(host):
    """openat2(RESOLVE_IN_ROOT) answers EAGAIN when any mount or rename
    happens on the system during a lookup that walks "..", and callers must
    retry (openat2(2)). Every spawn mounts, so on a busy host a --workdir (or
    an image path) with ".." in it must not fail at random: 80 starts with
    --workdir /escape (-> /../../../..) while other sandboxes start."""
    import threading
    stop = threading.Event()

    def churn():
        while not stop.is_set():
            subprocess.run([SFAASD, "run", "--rootfs", str(host.rootfs), *CAPS, "--uid-base", str(UID_BASE),
                            "--", "/probe", "_exit_true", NONCE], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    before = host.snapshot()
    threads = [threading.Thread(target=churn) for _ in range(2)]
    for t in threads:
        t.start()
    failures = []
    try:
        for _ in range(80):
            run = sfaasd_run(host, ["/probe", "cwd_inside"], ["--workdir", "/escape", "--uid-base", str(UID_BASE)])
            if run.rc != 0:
                failures.append(run.err.strip())
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not failures, f"{len(failures)}/80 starts failed: {sorted(set(failures))}"
    host_oracles(host, before, run, ("cwd_inside",), UID_BASE)


def test_sigterm_to_run_kills_sandbox(host):
    """A signal to `sfaasd run` takes the whole sandbox down with it."""
    before = host.snapshot()
    cmd = [SFAASD, "run", "--rootfs", str(host.rootfs), *CAPS, "--uid-base", str(UID_BASE), "--",
           "/probe", "cpu_spin_forks", NONCE]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert b"SPINNING" in readline_timeout(p.stdout, RUN_TIMEOUT)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=RUN_TIMEOUT)
    run = Run(p.returncode, out.decode(), err.decode(), time.monotonic() - t0, p.pid)
    try:
        assert p.returncode == 128 + signal.SIGTERM, f"exit {p.returncode}: {err!r}"
    finally:
        host_oracles(host, before, run, ("cpu_spin_forks",), UID_BASE)


def test_sigkill_to_run_kills_sandbox(host):
    """Even SIGKILL of `sfaasd run` (no cleanup possible) must not leave the
    sandbox running: the child has PR_SET_PDEATHSIG. Its processes are taken
    from the sandbox's cgroup and watched through pidfds. Its cgroup
    subtree and lock file stay behind (nobody is alive to remove them), and
    the next launcher's start removes them: here the next `sfaasd run`."""
    cmd = [SFAASD, "run", "--rootfs", str(host.rootfs), *CAPS, "--uid-base", str(UID_BASE), "--",
           "/probe", "cpu_spin_forks", NONCE]
    before = host.snapshot()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert b"SPINNING" in readline_timeout(p.stdout, RUN_TIMEOUT)
        leaves = cgroup_leaves(p.pid)
        procs_file = Path(leaves.get("pids") or leaves["memory"], "cgroup.procs")
        pids = [int(x) for x in procs_file.read_text().split()]
        assert len(pids) >= 5, f"expected pid 1 and 4 spinners in the sandbox cgroup, got {pids}"
        pidfds = []
        for pid in pids:
            try:
                pidfds.append(os.pidfd_open(pid))
            except ProcessLookupError:
                pass
    finally:
        p.kill()
        p.wait()
    try:
        deadline = time.monotonic() + 10
        alive = list(pidfds)
        while alive and time.monotonic() < deadline:
            r, _, _ = select.select(alive, [], [], max(0.0, deadline - time.monotonic()))
            alive = [fd for fd in alive if fd not in r]
        assert not alive, f"{len(alive)} sandbox processes survived SIGKILL of sfaasd run"
        left = run_cgroup_dirs(p.pid)
        assert left and run_lock_files(p.pid), "no leftovers after SIGKILL: nothing to check the sweep with"
        nxt = sfaasd_run(host, ["/probe", "fd_scan"], ["--uid-base", str(UID_BASE)])
        assert nxt.rc == 0, nxt.err
        assert run_cgroup_dirs(p.pid) == [], "the next run did not remove a killed run's subtree"
        assert run_lock_files(p.pid) == [], "the next run did not remove a killed run's lock file"
    finally:
        for fd in pidfds:
            os.close(fd)
        for d in sorted(run_cgroup_dirs(p.pid), key=len, reverse=True):
            for sub in sorted(Path(d).rglob("*"), key=lambda q: len(str(q)), reverse=True):
                if sub.is_dir():
                    try:
                        sub.rmdir()
                    except OSError:
                        pass
            try:
                os.rmdir(d)
            except OSError:
                pass
    after = host.snapshot()
    assert after["canary"] == before["canary"]
    assert not [m for m in set(after["mounts"]) ^ set(before["mounts"]) if str(host.base) in m]
