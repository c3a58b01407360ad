# SPDX-License-Identifier: MIT
"""A restart, graceful or kill -9, keeps every tenant's tokens (and their
revocations), quotas and their cgroup limits, invoke settings, uid range,
image ownership and the audit chain, which goes on where it was."""
import os
import subprocess

import requests

from sfaasd_testlib import BIN, HTTP_TIMEOUT, Api, basic


def test_tenants_survive_restarts(make_daemon, images):
    d = make_daemon()
    api = Api(d)
    assert api.post("/system/tenants", json={"name": "keep", "quotas": {"functions": 3, "pids": 77}}).status_code == 201
    tok = api.post("/system/tenants/keep/tokens", json={"name": "live"}).json()
    old = api.post("/system/tenants/keep/tokens", json={"name": "old"}).json()
    assert api.delete("/system/tenants/keep/tokens/" + old["id"]).status_code == 200
    h = {"Authorization": basic(tok["token"], user="keep")}
    with open(images.path("busybox-oci.tar"), "rb") as f:
        r = requests.post(d.url + "/system/images", headers=h, data=f.read(), timeout=HTTP_TIMEOUT)
    iid = r.json()["id"]
    assert requests.put(d.url + "/system/tenants/keep/invoke", headers=h, json={"auth": True},
                        timeout=HTTP_TIMEOUT).status_code == 200
    before = api.get("/system/tenants/keep").json()
    audit = api.get("/system/audit", params={"limit": 1000}).json()

    for how in ("restart", "kill9"):
        if how == "restart":
            d.restart()
        else:
            d.kill9()
            d.start()
        after = api.get("/system/tenants/keep").json()
        assert after["uidBase"] == before["uidBase"]
        assert after["quotas"] == before["quotas"] and after["quotas"]["pids"] == 77
        assert requests.get(d.url + "/system/whoami", headers=h, timeout=HTTP_TIMEOUT).status_code == 200
        assert requests.get(d.url + "/system/whoami", headers={"Authorization": basic(old["token"], user="keep")},
                            timeout=HTTP_TIMEOUT).status_code == 401
        assert requests.get(d.url + "/system/images/" + iid, headers=h, timeout=HTTP_TIMEOUT).status_code == 200
        assert requests.get(d.url + "/system/tenants/keep/invoke", headers=h,
                            timeout=HTTP_TIMEOUT).json()["auth"] is True
        # The level's limit is set again at start.
        level = [os.path.join(p, "keep") for p in _pids_subtrees(d) if os.path.isdir(os.path.join(p, "keep"))]
        assert level
        for lv in level:
            with open(os.path.join(lv, "pids.max")) as f:
                assert f.read().strip() == "77"
        now = api.get("/system/audit", params={"limit": 1000}).json()
        assert now[:len(audit)] == audit
        audit = now
        p = subprocess.run([BIN, "audit", "verify", "--data", d.data_dir], capture_output=True, text=True,
                           timeout=HTTP_TIMEOUT)
        assert p.returncode == 0, p.stderr
        # a new change continues the chain
        assert api.put("/system/tenants/keep", json={"quotas": {"functions": 4}}).status_code == 200
        before["quotas"]["functions"] = 4
        audit = api.get("/system/audit", params={"limit": 1000}).json()
        assert audit[-1]["prevHash"] == audit[-2]["hash"]


def _pids_subtrees(d):
    from sfaasd_testlib import cgroup_subtree_candidates
    return [p for p in cgroup_subtree_candidates(d) if "/pids/" in p or p.startswith("/sys/fs/cgroup/sfaasd")
            and os.path.exists(os.path.join(p, "pids.max"))]
