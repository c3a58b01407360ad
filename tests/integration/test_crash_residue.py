# SPDX-License-Identifier: MIT
"""What a killed run leaves on the host, and the next start removing it
(issue 10, finding 4; README "Cgroups and what a killed daemon leaves").

A daemon killed with SIGKILL frees nothing: its cgroup subtree (a few dozen
directories over the v1 hierarchies), its lock file in /run/sfaasd and the
folders of an import in progress stay. The next daemon on the same data
folder holds the folder's lock, recognises every subtree carrying the
folder's identity as a dead predecessor's, kills what is left in it and
removes it, and removes the import's folders; another daemon running at
the same time on another folder keeps everything. A `sfaasd run` killed
with SIGKILL leaves its subtree and an abandoned lock file, which the next
launcher removes; a live one is left alone.

The daemon itself makes no mount visible on the host (rootfs, /proc, /dev,
/tmp and secrets are mounted inside each sandbox's own mount namespace or
are detached trees held by fds) and no named network namespace (each
instance's is held by its processes and the daemon's fds only); the tests
check that too, before and after the crash, so a change that adds one
fails here.

Each leftover is checked to exist after the kill, so none of these tests
passes by checking for something that was never there.
"""
import gzip
import hashlib
import io
import json
import errno
import os
import re
import select
import signal
import subprocess
import tarfile
import threading

import pytest
import requests

from sfaasd_testlib import (BIN, HTTP_TIMEOUT, SLOW, Api, cgroup_subtree_candidates, children, data_dir_id,
                            existing_dirs, procs_with_argv, wait_until)

DEADLINE = 30 * SLOW
LOCK_DIR = "/run/sfaasd"   # SANDBOX_LOCK_DIR (sandbox/sandbox.h)
MIN = "com.openfaas.scale.min"


# ---- host views ------------------------------------------------------------------------

def mountinfo():
    """(mount point, fs type, root) of every mount in our namespace; an
    nsfs bind mount of a namespace has root "net:[INODE]" and the like."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            point = fields[4].encode().decode("unicode_escape")
            out.append((point, right.split()[0], fields[3]))
    return out


def netns_mounts(ino):
    return [m for m in mountinfo() if m[1] == "nsfs" and m[2] == "net:[%d]" % ino]


def mounts_under(*dirs):
    return [m for m in mountinfo() for d in dirs if m[0] == d or m[0].startswith(d.rstrip("/") + "/")]


def cgroup_mounts():
    return [m[0] for m in mountinfo() if m[1] in ("cgroup", "cgroup2")]


def cgroup_dirs_named(name, own_paths):
    """Every directory `name` or `name-daemon` below any of own_paths
    (cgroup paths as in /proc/PID/cgroup), in every mounted hierarchy."""
    found = []
    for m in cgroup_mounts():
        for own in own_paths:
            for n in (name, name + "-daemon"):
                p = os.path.normpath(m + "/" + own + "/" + n)
                if os.path.isdir(p):
                    found.append(p)
    return sorted(set(found))


def own_cgroup_paths(pid):
    paths = set()
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            p = line.rstrip("\n").split(":", 2)[2]
            paths.add(p)
            paths.add(os.path.dirname(p))
    return paths


def procs_in(dirs):
    pids = set()
    for top in dirs:
        for dirpath, _, files in os.walk(top):
            if "cgroup.procs" in files:
                try:
                    with open(os.path.join(dirpath, "cgroup.procs")) as f:
                        pids.update(int(x) for x in f.read().split())
                except FileNotFoundError:
                    pass
                except OSError as e:
                    # a cgroup removed between the walk and the read (ENODEV)
                    if e.errno != errno.ENODEV:
                        raise
    return pids


def pin(pids):
    """pidfds, so that a check after the crash cannot mistake a new process
    with a reused pid for one of the dead run's."""
    fds = {}
    for p in pids:
        try:
            fds[p] = os.pidfd_open(p)
        except ProcessLookupError:
            pass
    return fds


def still_running(pidfds):
    """The pinned processes that have not exited (a pidfd polls readable
    once its process has)."""
    alive = []
    for pid, fd in pidfds.items():
        r, _, _ = select.select([fd], [], [], 0)
        if not r:
            alive.append(pid)
    return alive


def netns_holders(ino):
    """Processes whose network namespace, or an fd of which, is net:[ino]."""
    want = "net:[%d]" % ino
    holders = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/ns/net" % e) == want:
                holders.append(int(e))
                continue
            for fd in os.listdir("/proc/%s/fd" % e):
                if os.readlink("/proc/%s/fd/%s" % (e, fd)) == want:
                    holders.append(int(e))
                    break
        except OSError:
            pass
    return holders


def import_residue(data_dir):
    """Folders and files an import in progress keeps in the data folder."""
    out = []
    images = os.path.join(data_dir, "images")
    for e in os.listdir(images):
        if e.startswith((".tmp-", ".unpack-", ".rm-")):
            out.append(os.path.join(images, e))
    sha = os.path.join(data_dir, "blobs", "sha256")
    if os.path.isdir(sha):
        out += [os.path.join(sha, e) for e in os.listdir(sha) if e.startswith(".tmp-")]
    out += [os.path.join(data_dir, "tmp", e) for e in os.listdir(os.path.join(data_dir, "tmp"))]
    return out


def subtree_name(d):
    return "sfaasd-%s-%d" % (data_dir_id(d.data_dir), d.pid)


# ---- an image that takes a while to unpack ----------------------------------------------

def build_many_files_image(path, n_files):
    """A one-layer OCI archive of n_files small files: unpacking it takes
    long enough (about a second here) to kill the daemon in the middle."""
    lbuf = io.BytesIO()
    with tarfile.open(fileobj=lbuf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for d in range(n_files // 500 + 1):
            ti = tarfile.TarInfo("d%03d" % d)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            t.addfile(ti)
        for i in range(n_files):
            data = b"%d\n" % i
            ti = tarfile.TarInfo("d%03d/f%06d" % (i // 500, i))
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
    raw = lbuf.getvalue()
    layer = gzip.compress(raw, compresslevel=1, mtime=0)
    blobs = {}

    def blob(data, mt):
        h = hashlib.sha256(data).hexdigest()
        blobs[h] = data
        return {"mediaType": mt, "digest": "sha256:" + h, "size": len(data)}

    ldesc = blob(layer, "application/vnd.oci.image.layer.v1.tar+gzip")
    cfg = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/true"]},
           "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]}}
    cdesc = blob(json.dumps(cfg).encode(), "application/vnd.oci.image.config.v1+json")
    man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": cdesc, "layers": [ldesc]}
    mdesc = blob(json.dumps(man).encode(), "application/vnd.oci.image.manifest.v1+json")
    mdesc["annotations"] = {"org.opencontainers.image.ref.name": "manyfiles:latest"}
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            t.addfile(ti, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", json.dumps({"schemaVersion": 2, "manifests": [mdesc]}).encode())
        for h, data in blobs.items():
            add("blobs/sha256/" + h, data)
    return path


# ---- helpers on the daemon -----------------------------------------------------------------

def status(api, name):
    r = api.get("/system/function/" + name)
    assert r.status_code == 200, r.text
    return r.json()


def wait_instance(api, name):
    """The pid of the function's one ready instance."""
    def ready():
        st = status(api, name)
        inst = [i for i in st["sfaasd"]["instances"] if i["state"] == "ready"]
        return inst[0]["pid"] if len(inst) == 1 and st["availableReplicas"] == 1 else None
    return wait_until(ready, DEADLINE, "a ready instance of %s" % name)


def start_call(api, name, body):
    result = {}

    def run():
        try:
            result["r"] = api.invoke(name, data=body)
        except Exception as e:  # the daemon is killed under it: expected
            result["e"] = e

    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th, result


# ---- tests -------------------------------------------------------------------------------

def test_kill9_with_work_in_flight_then_restart_leaves_host_clean(make_daemon, images, tmp_path):
    # A bystander on another data folder, with a warm instance, running
    # through the whole story: the victim's restart must not touch it.
    other = make_daemon(name="bystander")
    oa = Api(other)
    assert oa.import_image(images.path("httpfn-oci.tar")).status_code == 200
    oa.deploy("keep", image="httpfn:latest", labels={MIN: "1"}, expect=202)
    other_pid = wait_instance(oa, "keep")
    other_dirs = existing_dirs(cgroup_subtree_candidates(other))
    if not other_dirs:
        pytest.skip("the daemon made no cgroup subtree on this host (no delegated cgroups)")
    other_lock = os.path.join(LOCK_DIR, subtree_name(other) + ".lock")
    assert os.path.exists(other_lock)
    other_pidfd = pin([other_pid])

    d = make_daemon(name="victim")
    a = Api(d)
    assert a.import_image(images.path("busybox-oci.tar")).status_code == 200
    assert a.import_image(images.path("httpfn-oci.tar")).status_code == 200
    a.deploy("warm", image="httpfn:latest", labels={MIN: "1"}, expect=202)
    a.deploy("slow", fprocess="sh -s residue-marker", expect=202)
    inst_pid = wait_instance(a, "warm")
    assert a.invoke("warm", path="/hello").status_code == 200
    inst_netns = os.stat("/proc/%d/ns/net" % inst_pid).st_ino

    # a long exec-mode call, running
    marker = "93%06d" % (os.getpid() % 1000000)
    call, _ = start_call(a, "slow", b"sleep %s\n" % marker.encode())
    wait_until(lambda: procs_with_argv(["sleep", marker]), DEADLINE, "the exec call's sandbox")

    # an import in the middle of its unpacking
    big = build_many_files_image(str(tmp_path / "manyfiles-oci.tar"), 10000)

    def post_big():
        try:
            with open(big, "rb") as f:
                requests.post(d.url + "/system/images", data=f.read(), auth=("admin", d.password),
                              timeout=HTTP_TIMEOUT)
        except requests.RequestException:
            pass  # killed under it

    imp = threading.Thread(target=post_big, daemon=True)
    imp.start()
    wait_until(lambda: [e for e in os.listdir(os.path.join(d.data_dir, "images")) if e.startswith(".unpack-")],
               DEADLINE, "the import to be unpacking", interval=0.002)

    # what the run has made on the host, before the crash
    name = subtree_name(d)
    own = own_cgroup_paths(d.pid)
    dead_dirs = cgroup_dirs_named(name, own)
    assert dead_dirs and sorted(existing_dirs(cgroup_subtree_candidates(d))) == dead_dirs
    lock = os.path.join(LOCK_DIR, name + ".lock")
    assert os.path.exists(lock)
    # its processes: the daemon, the sandboxes in its subtree, and its
    # children (the netns pool's helper, the unpacker, the sandboxes' pid 1s)
    run_pids = {d.pid} | procs_in(dead_dirs) | set(children(d.pid)) | set(procs_with_argv(["sleep", marker]))
    assert inst_pid in run_pids
    pinned = pin(run_pids)
    assert mounts_under(d.data_dir, LOCK_DIR) == [], "the daemon made mounts on the host"
    # The instance's network namespace is held by the run's processes and
    # fds only (no bind mount, nobody else): once they are gone, so is it.
    # (Checked here rather than after the restart: a freed namespace's
    # inode number is soon given to a new one.)
    assert netns_mounts(inst_netns) == []
    assert set(netns_holders(inst_netns)) <= run_pids, "the instance's netns is held outside the run"

    d.kill9()
    call.join(HTTP_TIMEOUT)
    imp.join(HTTP_TIMEOUT)

    # the leftovers are there (nothing was alive to remove them)
    assert cgroup_dirs_named(name, own) == dead_dirs, "the killed daemon's subtree vanished by itself"
    assert os.path.exists(lock)
    assert import_residue(d.data_dir), "no import folder left to clean: the test proves nothing"

    d.start()
    log = d.log()
    m = re.search(r"cleaned up after a killed run: (\d+) cgroup subtree\(s\) \((\d+) directories, "
                  r"(\d+) process\(es\) killed, (\d+) lock file\(s\)\), (\d+) partial import\(s\)", log)
    assert m, "no cleanup line in the log:\n" + d.log_tail()
    assert int(m.group(1)) >= 1 and int(m.group(2)) >= len(dead_dirs) and int(m.group(5)) >= 1, m.group(0)

    # no cgroup directory of the dead daemon, in any hierarchy (v1 and v2)
    assert cgroup_dirs_named(name, own | own_cgroup_paths(d.pid)) == []
    assert not os.path.exists(lock)
    # no process of the dead run
    assert still_running(pinned) == [], "processes of the killed run still running"
    assert procs_with_argv(["sleep", marker]) == []
    # no mount under the data folder or the lock folder
    assert mounts_under(d.data_dir, LOCK_DIR) == []
    # no stray temporary folders
    assert import_residue(d.data_dir) == []

    # the bystander kept everything
    assert existing_dirs(cgroup_subtree_candidates(other)) == other_dirs
    assert still_running(other_pidfd) == [other_pid]
    assert other_pid in procs_in(other_dirs)
    assert os.path.exists(other_lock)
    assert wait_instance(oa, "keep") == other_pid
    assert oa.invoke("keep", path="/hello").status_code == 200

    # and the restarted daemon works
    a = Api(d)
    r = a.invoke("slow", data=b"echo back")
    assert r.status_code == 200, r.text
    assert r.text == "back\n"
    assert wait_instance(a, "warm") != inst_pid
    for fd in list(pinned.values()) + list(other_pidfd.values()):
        os.close(fd)


def _run_sandbox(data_dir, image_id, marker, started):
    """`sfaasd run` of busybox `sleep <marker>` from the daemon's image store;
    returns the process, its sandbox's pid and its subtree name once it
    runs. The process is appended to started first (for the cleanup)."""
    p = subprocess.Popen([BIN, "run", "--image", image_id, "--data", data_dir, "--", "sleep", marker],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    started.append(p)
    sleeper = wait_until(lambda: procs_with_argv(["sleep", marker]), DEADLINE, "the run's sandbox")
    assert len(sleeper) == 1, sleeper
    with open("/proc/%d/cgroup" % sleeper[0]) as f:
        names = set(re.findall(r"/(sfaasd-run-%d-[0-9a-f]{8})/" % p.pid, f.read()))
    assert len(names) == 1, names
    return p, sleeper[0], names.pop()


def test_killed_run_leftovers_removed_and_live_run_kept(make_daemon, images):
    d = make_daemon()
    a = Api(d)
    r = a.import_image(images.path("busybox-oci.tar"))
    assert r.status_code == 200, r.text
    image = r.json()["id"]
    own = own_cgroup_paths(os.getpid())
    # sleep's argument: a number unique to this test run
    live_marker, dead_marker = ("%d%06d" % (n, os.getpid() % 1000000) for n in (91, 92))
    started = []
    try:
        live, live_sleeper, live_name = _run_sandbox(d.data_dir, image, live_marker, started)
        dead, dead_sleeper, dead_name = _run_sandbox(d.data_dir, image, dead_marker, started)
        live_pin = pin([live_sleeper])
        dead_dirs = cgroup_dirs_named(dead_name, own)
        if not dead_dirs:
            pytest.skip("`sfaasd run` made no cgroup subtree on this host")
        assert cgroup_dirs_named(live_name, own)
        dead.kill()
        dead.wait(HTTP_TIMEOUT)
        wait_until(lambda: procs_with_argv(["sleep", dead_marker]) == [], DEADLINE,
                   "the killed run's sandbox to die with it")
        # left behind: its subtree and its lock file, no longer held
        assert cgroup_dirs_named(dead_name, own) == dead_dirs
        assert os.path.exists(os.path.join(LOCK_DIR, dead_name + ".lock"))

        # any launcher's start removes them; a daemon's here
        d.restart()
        assert cgroup_dirs_named(dead_name, own) == []
        assert not os.path.exists(os.path.join(LOCK_DIR, dead_name + ".lock"))
        assert re.search(r"cleaned up after a killed run: [1-9]\d* cgroup subtree", d.log()), d.log_tail()
        # the live run is untouched
        assert still_running(live_pin) == [live_sleeper]
        assert cgroup_dirs_named(live_name, own)
        assert os.path.exists(os.path.join(LOCK_DIR, live_name + ".lock"))

        # and a run that ends normally removes its own
        live.send_signal(signal.SIGTERM)
        assert live.wait(HTTP_TIMEOUT) == 128 + signal.SIGTERM
        assert cgroup_dirs_named(live_name, own) == []
        assert not os.path.exists(os.path.join(LOCK_DIR, live_name + ".lock"))
        os.close(live_pin[live_sleeper])
    finally:
        for p in started:
            if p.poll() is None:
                p.terminate()
                p.wait(HTTP_TIMEOUT)


def test_second_daemon_on_the_same_folder_is_refused(make_daemon):
    d = make_daemon()
    p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--data", d.data_dir], capture_output=True,
                       text=True, timeout=HTTP_TIMEOUT, stdin=subprocess.DEVNULL)
    assert p.returncode != 0
    assert "is in use by another sfaasd (pid %d)" % d.pid in p.stderr, p.stderr
    # and it touched nothing of the first one's
    assert existing_dirs(cgroup_subtree_candidates(d)) or not cgroup_subtree_candidates(d)
    assert requests.get(d.url + "/healthz", timeout=HTTP_TIMEOUT).status_code == 200
