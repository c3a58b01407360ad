# SPDX-License-Identifier: MIT
"""Hostile probes through the exec stock (issue 18, item 1).

The probe cases of test_probes.py run there through `sfaasd run`, a fresh
sandbox each. Here the same cases run in a daemon's exec-mode function
whose calls are served by sandboxes parked ahead of them
(core/runtime/stock.h): every case must get the same answer from the
kernel through that path, and each call is checked to have been served
from the stock (sfaasd_exec_stock_hits_total or _waits_total moves by
one), not assumed.

The image is busybox plus the static probe, imported into the daemon as a
one-layer OCI archive (the unpacker drops device nodes and setuid bits, so
cases about those rootfs entries stay with test_probes.py, as do cases that
need `sfaasd run` options, a terminal, host listeners or a held sandbox).
The function is `sh`; each call's body is `exec /probe CASE ARGS`, so the
probe is the command the parked sandbox starts, with pid 2 and stdio 0..2.

Needs root, busybox and gcc; skips otherwise.
"""
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

from sfaasd_testlib import SLOW, Api, Daemon, existing_dirs, cgroup_subtree_candidates, function_cgroups, wait_until  # noqa: E402
from test_probes import CASES, XFAIL  # noqa: E402

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="probes need root (user namespaces, idmapped mounts, cgroups)")

DEADLINE = 30 * SLOW
# Cases whose expectation is tied to `sfaasd run`'s caps (a 16M tmpfs and
# file size); the known limitations of test_probes.py (XFAIL) stay there.
NOT_HERE = {"tmp_fill", "shm_fill", "rlimits", "fsize"} | set(XFAIL)


def stock_cases():
    out = []
    for c in CASES:
        if (c.opts or c.tty or c.hold or c.check or c.needs or c.rc != 0 or not c.result or c.probe == "open_path"
                or any("{" in a for a in c.args) or c.id in NOT_HERE):
            continue
        out.append(pytest.param(c, id=c.id))
    return out


def oci_image(path, probe):
    """busybox, /probe, no User (root inside, as test_probes' runs)."""
    busybox = shutil.which("busybox")
    mtime = 1704067200
    lbuf = io.BytesIO()
    with tarfile.open(fileobj=lbuf, mode="w", format=tarfile.PAX_FORMAT) as t:
        def add(name, data=None, mode=0o755, kind=tarfile.REGTYPE, link=""):
            ti = tarfile.TarInfo(name)
            ti.type = kind
            ti.mode = mode
            ti.mtime = mtime
            ti.linkname = link
            ti.size = len(data) if data is not None else 0
            t.addfile(ti, io.BytesIO(data) if data is not None else None)

        for d in ("bin", "etc", "proc", "dev", "sys", "work"):
            add(d, kind=tarfile.DIRTYPE)
        add("tmp", kind=tarfile.DIRTYPE, mode=0o1777)
        add("bin/busybox", Path(busybox).read_bytes())
        for a in ("sh", "cat", "ls", "echo", "true"):
            add("bin/" + a, kind=tarfile.SYMTYPE, link="/bin/busybox")
        add("probe", Path(probe).read_bytes())
        add("etc/passwd", b"root:x:0:0:root:/:/bin/sh\nfn:x:1000:1000:fn:/work:/bin/sh\n", 0o644)
        add("etc/group", b"root:x:0:\nfn:x:1000:\n", 0o644)
    raw = lbuf.getvalue()
    blobs = {}

    def blob(data, mt):
        h = hashlib.sha256(data).hexdigest()
        blobs[h] = data
        return {"mediaType": mt, "digest": "sha256:" + h, "size": len(data)}

    layer = blob(gzip.compress(raw, compresslevel=1, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip")
    cfg = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
           "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]}}
    cdesc = blob(json.dumps(cfg).encode(), "application/vnd.oci.image.config.v1+json")
    man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": cdesc,
           "layers": [layer]}
    mdesc = blob(json.dumps(man).encode(), "application/vnd.oci.image.manifest.v1+json")
    mdesc["annotations"] = {"org.opencontainers.image.ref.name": "probe:latest"}
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        def put(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = mtime
            t.addfile(ti, io.BytesIO(data))
        put("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        put("index.json", json.dumps({"schemaVersion": 2, "manifests": [mdesc]}).encode())
        for h, data in blobs.items():
            put("blobs/sha256/" + h, data)


def hits(api):
    """Calls served by a parked sandbox: parked when the call came, or
    being made then and waited for (seen parked host-side, not yet handed
    to the daemon)."""
    got = {}
    for line in api.get("/metrics").text.splitlines():
        for k in ("sfaasd_exec_stock_hits_total", "sfaasd_exec_stock_waits_total"):
            if line.startswith(k + " "):
                got[k] = float(line.split()[-1])
    assert len(got) == 2, "no sfaasd_exec_stock_hits_total or _waits_total"
    return sum(got.values())


def parked(daemon, name="probe", ns="openfaas-fn"):
    """Leaves of the function whose only process is a parked init."""
    subtrees = existing_dirs(cgroup_subtree_candidates(daemon))
    mem = [s for s in subtrees if "/memory/" in s] or [s for s in subtrees if not s.endswith("-daemon")][:1]
    n = 0
    for g in function_cgroups(mem, ns, name):
        for leaf in os.listdir(g):
            try:
                procs = Path(g, leaf, "cgroup.procs").read_text().split()
                if len(procs) == 1:
                    n += Path("/proc/%s/cmdline" % procs[0]).read_bytes().startswith(b"sfaasd-init+call")
            except OSError:
                pass
    return n


@pytest.fixture(scope="module")
def stocked(tmp_path_factory):
    if not shutil.which("busybox") or not shutil.which("gcc"):
        pytest.skip("busybox and gcc are needed")
    base = tmp_path_factory.mktemp("stock-probes")
    probe = base / "probe"
    subprocess.run(["gcc", "-static", "-O2", "-o", str(probe), str(HERE / "probe.c")], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    oci_image(base / "probe-oci.tar", probe)
    d = Daemon(base / "data", config={"exec_stock_max": 2}, name="stock-probes", log_dir=base / "logs")
    d.start()
    api = Api(d)
    r = api.import_image(str(base / "probe-oci.tar"))
    assert r.status_code == 200, r.text
    api.deploy("probe", image="probe:latest", fprocess="sh", expect=202)
    assert api.invoke("probe", data=b"exec /probe --list").status_code == 200  # a miss: fills the stock
    yield d, api
    assert d.stop() == 0


@pytest.mark.parametrize("case", stock_cases())
def test_probe_through_stock(stocked, case):
    d, api = stocked
    name = case.probe or case.id
    wait_until(lambda: parked(d) >= 1, DEADLINE, "a parked sandbox")
    before = hits(api)
    r = api.invoke("probe", data=("exec /probe %s %s" % (name, " ".join(case.args))).encode())
    assert hits(api) == before + 1, "not served from the stock"
    assert r.status_code == 200, r.text
    m = re.search(r"^RESULT (\S+) (\S+) ?(.*)$", r.text, re.M)
    assert m, r.text
    assert m.group(1) == name
    assert m.group(2) == "contained", r.text
    assert re.fullmatch(case.expect, m.group(3)), "detail %r does not match %r" % (m.group(3), case.expect)
