# SPDX-License-Identifier: MIT
"""sfaasd-runc (sfaasd oci): the runc command-line contract checked command
by command on real bundles, the protections it keeps on top of any spec,
and the specs it refuses.

Every container here runs under the real launcher (user namespace, cgroups,
seccomp), from the busybox fixture image unpacked by umoci, with a private
--root. Needs root; skipped with a clear message otherwise.
"""
import json
import os
import signal
import subprocess
import time

import pytest

from oci_testlib import (ConsoleServer, Runtime, alive, cgroup_dirs, make_bundle, uid_map_of, unpack_busybox,
                         wait_gone)
from sfaasd_testlib import wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="sfaasd-runc needs root (user namespaces, cgroups)")


@pytest.fixture(scope="module")
def base(images, tmp_path_factory):
    d = tmp_path_factory.mktemp("oci-image")
    rootfs, config = unpack_busybox(images.path("busybox-oci.tar"), d)
    return rootfs, config


@pytest.fixture
def rt(tmp_path):
    r = Runtime(tmp_path)
    yield r
    # nothing of a test may outlive it
    p = r("list", "--format", "json")
    for st in json.loads(p.stdout or "[]"):
        r("delete", "--force", st["id"])


@pytest.fixture
def bundle(tmp_path, base):
    rootfs, config = base

    def make(name, args, mutate=None):
        return make_bundle(tmp_path, rootfs, config, name, args, mutate)

    return make


def test_version_and_features(rt):
    p = rt("--version", check=True)
    assert p.stdout.startswith("sfaasd-runc version ")
    assert "spec: 1.0.2" in p.stdout
    f = json.loads(rt("features", check=True).stdout)
    assert f["ociVersionMax"] == "1.0.2"
    assert "createContainer" not in f["hooks"] and "poststop" in f["hooks"]
    assert "CAP_SYS_ADMIN" not in f["linux"]["capabilities"]
    assert f["linux"]["seccomp"]["enabled"] is True
    # the same binary, called sfaasd, is the oci subcommand
    p = subprocess.run([os.path.realpath(rt.path), "oci", "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("sfaasd-runc version ")


def test_lifecycle_created_running_stopped(rt, bundle, tmp_path):
    b = bundle("life", ["sleep", "60"])
    pidfile = tmp_path / "pid"
    rt("create", "--bundle", str(b), "--pid-file", str(pidfile), "c1", check=True)
    st = rt.state("c1")
    pid = int(pidfile.read_text())
    assert st["status"] == "created" and st["pid"] == pid and st["id"] == "c1"
    assert st["bundle"] == str(b) and st["ociVersion"] == "1.0.2" and st["created"].endswith("Z")
    assert alive(pid)
    # created: the init waits at the gate, nothing of the image runs yet
    assert open("/proc/%d/task/%d/children" % (pid, pid)).read().strip() == ""
    rt("start", "c1", check=True)
    assert rt.state("c1")["status"] == "running"
    wait_until(lambda: open("/proc/%d/task/%d/children" % (pid, pid)).read().strip(), 10, "the process to start")
    p = rt("start", "c1")
    assert p.returncode == 1 and "cannot start an already running container" in p.stderr
    p = rt("delete", "c1")
    assert p.returncode == 1 and "cannot delete container c1 that is not stopped: running" in p.stderr
    assert alive(pid)
    rt("kill", "c1", "TERM", check=True)
    rt.wait_status("c1", "stopped")
    st = rt.state("c1")
    assert st["pid"] == 0
    p = rt("kill", "c1", "KILL")
    assert p.returncode == 1 and "container not running" in p.stderr
    p = rt("start", "c1")
    assert p.returncode == 1 and "stopped" in p.stderr
    rt("delete", "c1", check=True)
    p = rt("state", "c1")
    assert p.returncode == 1 and "container does not exist" in p.stderr
    p = rt("delete", "c1")
    assert p.returncode == 1 and "container does not exist" in p.stderr
    rt("delete", "--force", "c1", check=True)  # as runc: nothing to do is fine with --force


def test_created_container_stops_on_term_without_running(rt, bundle, tmp_path):
    marker = "/tmp/never"
    b = bundle("gate", ["sh", "-c", "echo ran > %s; sleep 60" % marker])
    rt("create", "--bundle", str(b), "--pid-file", str(tmp_path / "pid"), "g1", check=True)
    pid = int((tmp_path / "pid").read_text())
    rt("kill", "g1", "TERM", check=True)
    wait_gone(pid)
    assert rt.state("g1")["status"] == "stopped"
    rt("delete", "g1", check=True)


def test_delete_force_kills_a_running_container(rt, bundle, tmp_path):
    b = bundle("force", ["sleep", "60"])
    rt("create", "--bundle", str(b), "--pid-file", str(tmp_path / "pid"), "f1", check=True)
    rt("start", "f1", check=True)
    pid = int((tmp_path / "pid").read_text())
    cg = json.loads(open(os.path.join(rt.root, "f1", "state.json")).read())["cgroup_path"]
    assert cgroup_dirs(cg), "no cgroup at the spec's path %s" % cg
    rt("delete", "--force", "f1", check=True)
    wait_gone(pid)
    assert not os.path.exists(os.path.join(rt.root, "f1"))
    assert cgroup_dirs(cg) == [], "the container's cgroup was left"


@pytest.mark.parametrize("sig,script,want", [
    ("USR1", "trap 'exit 7' USR1; while :; do sleep 0.05; done", 7),   # forwarded by the init
    ("TERM", "sleep 60", 128 + 15),                                    # no handler: killed by it
    ("KILL", "trap '' TERM; sleep 60", 128 + 9),
    ("HUP", "trap 'exit 9' HUP; while :; do sleep 0.05; done", 9),
])
def test_kill_signals_reach_the_process(rt, bundle, sig, script, want):
    b = bundle("sig-" + sig, ["sh", "-c", script])
    p = subprocess.Popen([rt.path, "--root", rt.root, "run", "--bundle", str(b), "s1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        rt.wait_status("s1", "running")
        time.sleep(0.2)  # let the shell install its trap (no event to wait on inside the container)
        rt("kill", "s1", sig, check=True)
        out, err = p.communicate(timeout=20)
    finally:
        if p.poll() is None:
            p.kill()  # the container goes with it (no --detach: parent-death signal)
            p.wait()
    assert p.returncode == want, err
    assert rt("state", "s1").returncode == 1  # run removes it (no --keep)


def test_kill_all_and_unknown_signal(rt, bundle):
    b = bundle("all", ["sh", "-c", "sleep 60 & sleep 60 & wait"])
    rt("run", "--detach", "--bundle", str(b), "a1", check=True)
    p = rt("kill", "a1", "NOSUCHSIG")
    assert p.returncode == 1 and "unknown signal" in p.stderr
    ps = json.loads(rt("ps", "--format", "json", "a1", check=True).stdout)
    assert len(ps) >= 4  # init, sh, two sleeps
    rt("kill", "--all", "a1", "KILL", check=True)
    for pid in ps:
        wait_gone(pid)
    rt("delete", "a1", check=True)


def test_run_exit_codes_and_missing_command(rt, bundle):
    assert rt("run", "--bundle", str(bundle("ex3", ["sh", "-c", "exit 3"])), "e1").returncode == 3
    assert rt("run", "--bundle", str(bundle("ex0", ["true"])), "e2").returncode == 0
    p = rt("run", "--bundle", str(bundle("nocmd", ["no-such-command"])), "e3")
    assert p.returncode == 1 and "No such file or directory" in p.stderr
    assert not os.path.exists(os.path.join(rt.root, "e3"))


def test_exec_into_a_running_container(rt, bundle, tmp_path):
    b = bundle("exec", ["sleep", "60"])
    rt("run", "--detach", "--bundle", str(b), "--pid-file", str(tmp_path / "pid"), "x1", check=True)
    init = int((tmp_path / "pid").read_text())
    p = rt("exec", "x1", "sh", "-c", "echo in-exec; exit 5")
    assert p.returncode == 5 and p.stdout == "in-exec\n"
    proc = {"args": ["sh", "-c", "echo $GREETING; id -u; cat /proc/self/status | grep -E 'NoNewPrivs|Seccomp:'"],
            "env": ["GREETING=hello", "PATH=/bin:/usr/bin"], "cwd": "/tmp", "user": {"uid": 1000, "gid": 1000}}
    (tmp_path / "process.json").write_text(json.dumps(proc))
    p = rt("exec", "--process", str(tmp_path / "process.json"), "x1", check=True)
    lines = p.stdout.split("\n")
    assert lines[0] == "hello" and lines[1] == "1000"
    assert "NoNewPrivs:\t1" in p.stdout and "Seccomp:\t2" in p.stdout
    # detached, with a pid file: in the container's namespaces and cgroup
    p = rt("exec", "--detach", "--pid-file", str(tmp_path / "xpid"), "x1", "sleep", "30", check=True)
    xpid = int((tmp_path / "xpid").read_text())
    for ns in ("pid", "mnt", "net", "user", "ipc", "uts", "cgroup"):
        assert os.readlink("/proc/%d/ns/%s" % (xpid, ns)) == os.readlink("/proc/%d/ns/%s" % (init, ns)), ns
    assert open("/proc/%d/cgroup" % xpid).read() == open("/proc/%d/cgroup" % init).read()
    assert uid_map_of(xpid) == uid_map_of(init)
    os.kill(xpid, signal.SIGKILL)
    p = rt("exec", "x1", "no-such-command")
    assert p.returncode == 1 and "No such file or directory" in p.stderr
    rt("delete", "--force", "x1", check=True)
    p = rt("exec", "x1", "true")
    assert p.returncode == 1 and "does not exist" in p.stderr


@pytest.mark.parametrize("cid", ["../escape", "a/b", ".", "..", "x" * 1100, "sp ace"])
def test_bad_ids_refused(rt, bundle, tmp_path, cid):
    b = bundle("ids", ["true"])
    p = rt("create", "--bundle", str(b), cid)
    assert p.returncode == 1 and "invalid container id" in p.stderr
    assert not os.path.exists(tmp_path / "escape")


def test_duplicate_id_and_log_json(rt, bundle, tmp_path):
    b = bundle("dup", ["sleep", "60"])
    rt("create", "--bundle", str(b), "d1", check=True)
    log = tmp_path / "log.json"
    p = rt("create", "--bundle", str(b), "d1", glob=("--log", str(log), "--log-format", "json"))
    assert p.returncode == 1 and "container with id exists: d1" in p.stderr
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["level"] == "error" and "container with id exists" in entry["msg"] and entry["time"]
    rt("delete", "--force", "d1", check=True)


def test_protections_on_top_of_the_spec(rt, bundle, tmp_path):
    """A spec that asks for nothing special still gets the sandbox: its own
    user namespace with host root unmapped, no_new_privs, seccomp, /proc
    masks, no /sys, only the capabilities the spec grants (inside)."""
    script = ("cat /proc/self/uid_map; grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status; "
              "ls /sys | wc -l; cat /proc/kcore 2>&1 | head -c 20 | wc -c; cat /proc/sys/user/max_user_namespaces; "
              "echo probe > /proc/sys/kernel/hostname 2>&1; echo rc=$?; unshare -U true 2>&1; echo unshare=$?")
    b = bundle("prot", ["sh", "-c", script])
    p = rt("run", "--bundle", str(b), "p1")
    out = p.stdout
    uid_map = out.split("\n")[0].split()
    assert uid_map[0] == "0" and int(uid_map[1]) >= 1 << 31 and uid_map[2] == "65536", out
    assert "NoNewPrivs:\t1" in out and "Seccomp:\t2" in out
    capbnd = int(out.split("CapBnd:\t")[1].split()[0], 16)
    assert capbnd & ~0x800005fb == 0, "capabilities beyond the allowed set: %#x" % capbnd
    lines = out.split("\n")
    assert "0" in lines  # /sys is empty
    assert "max_user_namespaces" not in out and "\n0\n" in out
    assert "rc=0" not in out
    assert "unshare=0" not in out


def test_spec_seccomp_profile_narrows_never_widens(rt, bundle):
    """The spec's profile is stacked on the built-in filter: it can refuse
    mkdir, but its ALLOW default cannot let unshare or mount through."""
    def mutate(c):
        c["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}],
        }
    script = ("mkdir /tmp/d 2>&1; echo mkdir=$?; unshare -U true 2>&1; echo unshare=$?; "
              "grep Seccomp_filters /proc/self/status")
    p = rt("run", "--bundle", str(bundle("sc", ["sh", "-c", script], mutate)), "sc1")
    assert "mkdir=1" in p.stdout and "Permission denied" in p.stdout, p.stdout
    assert "unshare=0" not in p.stdout
    assert "Seccomp_filters:\t2" in p.stdout


def test_limits_and_cgroup_path(rt, bundle):
    def mutate(c):
        c["linux"]["cgroupsPath"] = "/sfaasd-oci-test/lim1"
        c["linux"]["resources"] = {"memory": {"limit": 32 << 20}, "pids": {"limit": 20},
                                   "cpu": {"quota": 50000, "period": 100000}}
    b = bundle("lim", ["sh", "-c", "sleep 60"], mutate)
    rt("run", "--detach", "--bundle", str(b), "l1", check=True)
    dirs = cgroup_dirs("/sfaasd-oci-test/lim1")
    assert dirs
    for d in dirs:
        if os.path.exists(d + "/memory.limit_in_bytes"):
            assert int(open(d + "/memory.limit_in_bytes").read()) == 32 << 20
        if os.path.exists(d + "/memory.max"):
            assert int(open(d + "/memory.max").read()) == 32 << 20
        if os.path.exists(d + "/pids.max"):
            assert open(d + "/pids.max").read().strip() == "20"
        if os.path.exists(d + "/cpu.cfs_quota_us"):
            assert int(open(d + "/cpu.cfs_quota_us").read()) == 50000
    p = rt("exec", "l1", "sh", "-c", "dd if=/dev/zero of=/dev/null bs=48M count=1")
    assert p.returncode == 128 + 9, p.stderr  # the memory limit holds for exec too
    rt("delete", "--force", "l1", check=True)
    assert cgroup_dirs("/sfaasd-oci-test/lim1") == []
    for d in cgroup_dirs("/sfaasd-oci-test"):
        os.rmdir(d)


def test_rootfs_writes_stay_in_memory(rt, bundle, base):
    rootfs, _ = base
    before = sorted(os.listdir(rootfs))
    p = rt("run", "--bundle", str(bundle("w", ["sh", "-c", "echo x > /etc/written && cat /etc/written"])), "w1")
    assert p.returncode == 0 and p.stdout == "x\n"
    assert sorted(os.listdir(rootfs)) == before and not os.path.exists(rootfs / "etc" / "written")

    def ro(c):
        c["root"]["readonly"] = True
    p = rt("run", "--bundle", str(bundle("ro", ["sh", "-c", "echo x > /etc/written"], ro)), "w2")
    assert p.returncode != 0 and "Read-only file system" in p.stderr + p.stdout


def test_bind_mounts_keep_host_ownership(rt, bundle, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "hostfile").write_text("from host\n")
    open_dir = tmp_path / "open"
    open_dir.mkdir(mode=0o777)
    os.chmod(open_dir, 0o777)

    def mutate(c):
        c["mounts"] += [{"destination": "/vol", "type": "bind", "source": str(vol), "options": ["rbind", "rw"]},
                        {"destination": "/open", "type": "bind", "source": str(open_dir), "options": ["bind"]},
                        {"destination": "/ro", "type": "bind", "source": str(vol), "options": ["bind", "ro"]}]
    script = ("cat /vol/hostfile; echo x > /vol/new 2>/dev/null; echo vol=$?; echo y > /open/new; echo open=$?; "
              "echo z > /ro/new 2>/dev/null; echo ro=$?; stat -c %u /vol/hostfile")
    p = rt("run", "--bundle", str(bundle("bind", ["sh", "-c", script], mutate)), "b1")
    assert "from host" in p.stdout and "vol=1" in p.stdout and "open=0" in p.stdout and "ro=1" in p.stdout
    assert p.stdout.rstrip().endswith("65534"), p.stdout  # host root is nobody inside
    st = os.stat(open_dir / "new")
    assert st.st_uid >= 1 << 31, "a file the container made is owned by host uid %d" % st.st_uid
    assert not os.path.exists(vol / "new")


def _caps(*names):
    return {"bounding": list(names), "effective": list(names), "permitted": list(names)}


REFUSED = {
    "privileged": (lambda c: c["process"].update(capabilities=_caps("CAP_SYS_ADMIN", "CAP_CHOWN")),
                   "refuses privileged containers"),
    "cap_net_admin_effective": (lambda c: c["process"].update(capabilities={"effective": ["CAP_NET_ADMIN"]}),
                                "CAP_NET_ADMIN"),
    "host_network": (lambda c: c["linux"].update(namespaces=[n for n in c["linux"]["namespaces"]
                                                              if n["type"] != "network"]),
                     "host's network namespace"),
    "host_pid": (lambda c: c["linux"].update(namespaces=[n for n in c["linux"]["namespaces"] if n["type"] != "pid"]),
                 "host's pid namespace"),
    "join_pid_ns": (lambda c: c["linux"]["namespaces"].append({"type": "user", "path": "/proc/1/ns/user"}),
                    "joining an existing user namespace"),
    "join_host_netns": (lambda c: c["linux"].update(namespaces=[n for n in c["linux"]["namespaces"]
                                                                 if n["type"] != "network"]
                                                     + [{"type": "network", "path": "/proc/self/ns/net"}]),
                        "host's network namespace"),
    "uid_mappings": (lambda c: c["linux"].update(uidMappings=[{"containerID": 0, "hostID": 0, "size": 65536}]),
                     "uidMappings"),
    "device": (lambda c: c["linux"].update(devices=[{"path": "/dev/fuse", "type": "c", "major": 10,
                                                     "minor": 229}]), "device '/dev/fuse' refused"),
    "sysfs_elsewhere": (lambda c: c["mounts"].append({"destination": "/mnt", "type": "sysfs", "source": "sysfs"}),
                        "mount of type 'sysfs' at '/mnt' refused"),
    "bind_under_proc": (lambda c: c["mounts"].append({"destination": "/proc/sys/kernel", "type": "bind",
                                                      "source": "/tmp", "options": ["bind"]}),
                        "below /proc or /dev"),
    "bind_dir_under_dev": (lambda c: c["mounts"].append({"destination": "/dev/mine", "type": "bind",
                                                         "source": "/tmp", "options": ["bind"]}),
                           "below /proc or /dev"),
    "mask_not_made": (lambda c: c["linux"].update(maskedPaths=["/etc/shadow"]), "does not make that mask"),
    "host_sysctl": (lambda c: c["linux"].update(sysctl={"kernel.core_pattern": "|/tmp/x"}),
                    "sysctl 'kernel.core_pattern' refused"),
    "hook_inside": (lambda c: c.update(hooks={"createContainer": [{"path": "/bin/true"}]}),
                    "createContainer hooks refused"),
    "seccomp_agent": (lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_ACT_NOTIFY"}),
                      "SCMP_ACT_NOTIFY refused"),
    "uid_out_of_range": (lambda c: c["process"].update(user={"uid": 70000, "gid": 0}), "below 65536"),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_weakening_specs_refused(rt, bundle, name):
    mutate, message = REFUSED[name]
    uids_before = set(os.listdir("/run/sfaasd-runc.uids")) if os.path.isdir("/run/sfaasd-runc.uids") else set()
    p = rt("create", "--bundle", str(bundle(name, ["true"], mutate)), "r1")
    assert p.returncode == 1, p.stderr
    assert message in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(rt.root, "r1")), "a refused create left its state"
    uids_after = set(os.listdir("/run/sfaasd-runc.uids")) if os.path.isdir("/run/sfaasd-runc.uids") else set()
    assert not (uids_after - uids_before), "a refused create kept a uid range"


def test_narrowed_fields_run(rt, bundle, tmp_path):
    """Fields sfaasd narrows rather than refuses: the container runs, with
    sfaasd's answer (drops NET_RAW, MKNOD, AUDIT_WRITE; own ipc/uts; no /sys;
    RLIMIT_CORE 0)."""
    def mutate(c):
        c["process"]["capabilities"] = _caps("CAP_CHOWN", "CAP_NET_RAW", "CAP_MKNOD", "CAP_AUDIT_WRITE")
        c["process"]["rlimits"] = [{"type": "RLIMIT_CORE", "hard": 1 << 20, "soft": 1 << 20},
                                   {"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]
        c["mounts"].append({"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]})
        term = tmp_path / "termination-log"
        term.write_text("")
        # what Kubernetes binds into every container
        c["mounts"].append({"destination": "/dev/termination-log", "type": "bind", "source": str(term),
                            "options": ["rbind", "rw"]})
        c["linux"]["namespaces"].append({"type": "ipc", "path": "/proc/%d/ns/ipc" % os.getpid()})
    script = "grep CapEff /proc/self/status; ulimit -c; ulimit -n; ls /sys | wc -l; readlink /proc/self/ns/ipc"
    p = rt("run", "--bundle", str(bundle("narrow", ["sh", "-c", script], mutate)), "n1")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.split("\n")
    assert int(lines[0].split()[1], 16) == 1  # CAP_CHOWN only
    assert lines[1:4] == ["0", "256", "0"]
    assert lines[4] != os.readlink("/proc/self/ns/ipc")


def test_terminal_through_console_socket(rt, bundle, tmp_path):
    def mutate(c):
        c["process"]["terminal"] = True
        c["process"]["consoleSize"] = {"height": 33, "width": 101}
    srv = ConsoleServer(tmp_path / "console.sock")
    b = bundle("tty", ["sh", "-c", "test -t 0 && test -t 1 && echo IS-A-TTY; stty size; read line; echo got:$line"],
               mutate)
    p = subprocess.Popen([rt.path, "--root", rt.root, "run", "--console-socket", srv.path, "--bundle", str(b), "t1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    srv.write(b"typed\n")
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    text = srv.wait()
    srv.close()
    assert "IS-A-TTY" in text and "33 101" in text and "got:typed" in text, text
    assert srv.name.startswith("/dev/pts/")


def test_hooks_run_on_the_host_with_the_state(rt, bundle, tmp_path):
    out = tmp_path / "hooks"
    out.mkdir()

    def hook(name):
        return {"path": "/bin/sh", "args": ["sh", "-c", "cat > %s/%s" % (out, name)]}

    def mutate(c):
        c["hooks"] = {"prestart": [hook("prestart")], "createRuntime": [hook("createRuntime")],
                      "poststart": [hook("poststart")], "poststop": [hook("poststop")]}
    b = bundle("hooks", ["sleep", "60"], mutate)
    rt("create", "--bundle", str(b), "h1", check=True)
    for name in ("prestart", "createRuntime"):
        st = json.loads((out / name).read_text())
        assert st["id"] == "h1" and st["status"] == "created" and st["pid"] > 0
    rt("start", "h1", check=True)
    assert json.loads((out / "poststart").read_text())["status"] == "running"
    rt("delete", "--force", "h1", check=True)
    assert json.loads((out / "poststop").read_text())["status"] == "stopped"


def test_uid_ranges_never_shared_with_a_daemon(rt, bundle, tmp_path, make_daemon):
    """A container's ids and a daemon's tenants' window never overlap,
    whichever of the two came first (sandbox/sandbox.h, "Host uid windows")."""
    from sfaasd_testlib import DaemonError
    base = 3 << 30          # far from the daemons' windows of the other tests
    window = 1024 * 65536   # a daemon's default window
    conf = tmp_path / "oci.json"

    def with_slots(n):
        conf.write_text(json.dumps({"uid_base": base, "uid_slots": n}))
        return ("--config", str(conf))

    # A container first: a daemon asking for the window that holds it is refused.
    b = bundle("uids", ["sleep", "60"])
    rt("run", "--detach", "--bundle", str(b), "u1", check=True, glob=with_slots(1))
    assert int(uid_map_of(rt.state("u1")["pid"])[1]) == base
    d = make_daemon(config={"uid_base": base}, start=False)
    with pytest.raises(DaemonError) as e:
        d.start()
    assert "sfaasd-runc container" in str(e.value)
    # Gone, the ids are free for the daemon.
    rt("delete", "--force", "u1", check=True)
    d.start()
    # A daemon first: no container gets ids inside its window.
    p = rt("run", "--detach", "--bundle", str(b), "u2", glob=with_slots(2))
    assert p.returncode != 0 and "inside a running sfaasd's window" in p.stderr, p.stderr
    rt("run", "--detach", "--bundle", str(b), "u3", check=True, glob=with_slots(1025))
    assert int(uid_map_of(rt.state("u3")["pid"])[1]) == base + window
    rt("delete", "--force", "u3", check=True)
    d.stop()
