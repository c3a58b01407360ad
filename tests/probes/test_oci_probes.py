# SPDX-License-Identifier: MIT
"""The hostile probes through Podman with sfaasd-runc as the runtime: every
case that has a Podman form (oci_probes.py says which and why not) must be
contained, and the host-side oracles of test_probes.py (canary, mount
table, hostname, listeners) must hold after each. bench/oci runs the same
cases through crun for the comparison.

Skipped with a message when Podman is not installed (make deps installs
it); needs root.
"""
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

import oci_probes
from test_probes import REPO, SFAASD, Host, host_oracles

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="probes need root"),
    pytest.mark.skipif(shutil.which("podman") is None, reason="podman is not installed (Debian package podman)"),
]


@pytest.fixture(scope="module")
def oci_host():
    base = Path(tempfile.mkdtemp(prefix="sfaasd-oci-probes-", dir="/tmp"))
    os.chmod(base, 0o755)
    h = Host(base)
    bindir = base / "rt"
    bindir.mkdir()
    shutil.copy2(SFAASD, bindir / "sfaasd")
    os.symlink("sfaasd", bindir / "sfaasd-runc")
    # sfaasd run's caps for the probes: /tmp, /dev/shm and the rootfs's
    # writes 16 MB (the operator's config, passed as podman passes flags)
    cfg = base / "oci.json"
    cfg.write_text(json.dumps({"tmp_tmpfs": 16000000, "rootfs_tmpfs": 16000000}))
    h.oci_env = None
    h.pm = oci_probes.Podman(base, str(bindir / "sfaasd-runc"), runtime_flags=("config=%s" % cfg,))
    oci_probes.import_image(h.pm, h.rootfs)
    yield h
    h.pm.run("rm", "--all", "--force", timeout=300)
    h.pm.run("system", "reset", "--force", timeout=300)
    h.close()
    shutil.rmtree(base, ignore_errors=True)


class _Run:
    def __init__(self, rc, out, pid):
        self.rc, self.out, self.pid = rc, out, pid


def _params():
    return [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(reason=oci_probes.XFAIL[c.id], strict=True)]
                         if c.id in oci_probes.XFAIL else []) for c in oci_probes.cases()]


@pytest.mark.parametrize("case", _params())
def test_oci_probe(oci_host, case):
    if case.needs == "ip" and not oci_host.ip:
        pytest.skip("no non-loopback host address")
    if case.needs == "fcap" and not (oci_host.rootfs / "probe-fcap").exists():
        pytest.skip("setcap missing or file capabilities unsupported here")
    before = oci_host.snapshot()
    rc, outcome, detail, err = oci_probes.run_case(oci_host.pm, oci_host, case, env=oci_host.oci_env)
    assert oci_probes.judge(case, rc, outcome), "rc %d, %s: %s\nstderr: %s" % (rc, outcome, detail, err)
    # the host side, as after every sfaasd run (no cgroup or lock-file
    # checks: those name sfaasd run's own subtree)
    after = oci_host.snapshot()
    assert after["canary"] == before["canary"], "host canary file changed"
    assert after["hostname"] == before["hostname"], "host hostname changed"
    assert after["target"] == before["target"], "host directory behind the hostile symlinks changed"
    assert after["bindsrc"] == before["bindsrc"], "host directory behind the read-only bind changed"
    assert after["modules"] == before["modules"], "kernel modules changed during the run"
    assert oci_host.accepted() == [], "a host listener saw a connection from the container"
