# SPDX-License-Identifier: MIT
"""Quotas and ceilings (issue 12, point 4): each limit hit, with its
documented answer, and the kernel's limits on the tenant's cgroup level.

  functions, secrets, imageBytes       409 naming the quota
  asyncQueued, invokeRate,
  invokeConcurrency, instances         429 (Retry-After on the first three)
  a function asking above a ceiling    400 naming the key and the ceiling
  memory, cpu, pids                    the tenant's cgroup level's limits
"""
import os
import subprocess
import threading

import pytest
import requests

from sfaasd_testlib import (BIN, GATE, HTTP_TIMEOUT, SLOW, basic, cgroup_subtree_candidates, open_gate,
                            procs_with_argv, wait_until)

NS = "quota-t"


@pytest.fixture(scope="module")
def tenant(daemon, api, busybox):
    r = api.post("/system/tenants", json={"name": NS})
    assert r.status_code == 201, r.text
    with open(os.path.join(os.path.dirname(__file__), "..", "fixtures", "out", "busybox-oci.tar"), "rb") as f:
        r = api.post("/system/images", params={"namespace": NS}, data=f.read(),
                     headers={"Content-Type": "application/x-tar"})
    assert r.status_code == 200, r.text
    tok = api.post("/system/tenants/%s/tokens" % NS, json={}).json()["token"]
    s = requests.Session()
    s.headers["Authorization"] = basic(tok, user=NS)
    s.base = daemon.url
    return s


def quota(api, **q):
    r = api.put("/system/tenants/" + NS, json={"quotas": q})
    assert r.status_code == 200, r.text
    return r.json()


def t(s, method, path, **kw):
    return s.request(method, s.base + path, timeout=HTTP_TIMEOUT, **kw)


def test_functions_quota(api, tenant):
    quota(api, functions=1)
    try:
        r = t(tenant, "POST", "/system/functions", json={"service": "q1", "image": "busybox:latest",
                                                        "envProcess": "cat"})
        assert r.status_code == 202, r.text
        r = t(tenant, "POST", "/system/functions", json={"service": "q2", "image": "busybox:latest",
                                                        "envProcess": "cat"})
        assert r.status_code == 409, r.text
        assert "functions quota" in r.json()["error"]
        # An update of the one it has is no new function.
        r = t(tenant, "PUT", "/system/functions", json={"service": "q1", "image": "busybox:latest",
                                                       "envProcess": "cat"})
        assert r.status_code == 200, r.text
        got = t(tenant, "GET", "/system/tenants/" + NS).json()
        assert got["quotas"]["functions"] == 1 and got["usage"]["functions"] == 1
    finally:
        quota(api, functions=None)
        t(tenant, "DELETE", "/system/functions", json={"functionName": "q1"})


def test_secrets_quota(api, tenant):
    quota(api, secrets=1)
    try:
        assert t(tenant, "POST", "/system/secrets", json={"name": "s1", "value": "x"}).status_code == 200
        r = t(tenant, "POST", "/system/secrets", json={"name": "s2", "value": "x"})
        assert r.status_code == 409 and "secrets quota" in r.json()["error"], r.text
        # replacing the one it has is fine
        assert t(tenant, "PUT", "/system/secrets", json={"name": "s1", "value": "y"}).status_code == 200
    finally:
        quota(api, secrets=None)
        t(tenant, "DELETE", "/system/secrets", json={"name": "s1"})


def test_image_bytes_quota(api, tenant, images):
    used = t(tenant, "GET", "/system/tenants/" + NS).json()["usage"]["imageBytes"]
    assert used > 0
    quota(api, imageBytes=used + 1000)
    try:
        with open(images.path("rootbox-oci.tar"), "rb") as f:
            data = f.read()
        r = t(tenant, "POST", "/system/images", data=data, headers={"Content-Type": "application/x-tar"})
        assert r.status_code == 409 and "imageBytes quota" in r.json()["error"], r.text
        assert all("rootbox:latest" not in i["tags"] for i in t(tenant, "GET", "/system/images").json())
        quota(api, imageBytes=used)
        r = t(tenant, "POST", "/system/images", data=data, headers={"Content-Type": "application/x-tar"})
        assert r.status_code == 409 and "whole imageBytes quota" in r.json()["error"], r.text
    finally:
        quota(api, imageBytes=None)


def test_invoke_rate(api, daemon, tenant):
    t(tenant, "POST", "/system/functions", json={"service": "rate", "image": "busybox:latest", "envProcess": "cat"})
    quota(api, invokeRate=3)
    try:
        codes = [requests.post(daemon.url + "/function/rate." + NS, data=b"x", timeout=HTTP_TIMEOUT)
                 for _ in range(8)]
        limited = [r for r in codes if r.status_code == 429]
        assert limited, [r.status_code for r in codes]
        assert limited[0].headers["Retry-After"] == "1"
        assert "invokeRate" in limited[0].json()["error"]
        assert sum(r.status_code == 200 for r in codes) >= 3
        # Another tenant's calls are not counted against it.
        assert requests.post(daemon.url + "/function/nothing", timeout=HTTP_TIMEOUT).status_code == 404
    finally:
        quota(api, invokeRate=None)


def gated_call(daemon, name, marker, result, path="/function/"):
    def run():
        result["r"] = requests.post(daemon.url + path + name + "." + NS, data=GATE + b"echo done\n",
                                    timeout=HTTP_TIMEOUT)
    th = threading.Thread(target=run)
    th.start()
    pids = wait_until(lambda: procs_with_argv(["sh", "-s", marker]), 30 * SLOW, "the gated call to start")
    return th, pids[0]


@pytest.mark.parametrize("key,message", [("invokeConcurrency", "invokeConcurrency"), ("instances", "instances")])
def test_concurrency_and_instances(api, daemon, tenant, key, message):
    marker = "gate-" + key
    t(tenant, "POST", "/system/functions", json={"service": "slow-" + key.lower(), "image": "busybox:latest",
                                               "envProcess": "sh -s " + marker})
    quota(api, **{key: 1})
    result = {}
    th, pid = gated_call(daemon, "slow-" + key.lower(), marker, result)
    try:
        r = requests.post(daemon.url + "/function/slow-%s.%s" % (key.lower(), NS), data=b"", timeout=HTTP_TIMEOUT)
        assert r.status_code == 429, r.text
        assert message in r.json()["error"]
        if key == "invokeConcurrency":
            assert r.headers["Retry-After"] == "1"
        usage = t(tenant, "GET", "/system/tenants/" + NS).json()["usage"]
        assert usage["instances"] == 1
    finally:
        open_gate(pid)
        th.join(HTTP_TIMEOUT)
        quota(api, **{key: None})
    assert result["r"].status_code == 200 and result["r"].text == "done\n"
    # freed: the next call runs
    r = requests.post(daemon.url + "/function/slow-%s.%s" % (key.lower(), NS), data=b"echo again\n",
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text


def test_default_replicas_yield_to_the_instances_quota(api, daemon, tenant, images):
    """OpenFaaS's one replica at deploy (issue 14) inside the instances
    quota, a hard bound: the first http function's replica takes the one
    instance; the second's is not started and not retried; an exec call
    refused for the quota makes the idle replica give way, so its retry
    runs; a call brings the first function back."""
    with open(images.path("httpfn-oci.tar"), "rb") as f:
        r = t(tenant, "POST", "/system/images", data=f.read(), headers={"Content-Type": "application/x-tar"})
    assert r.status_code == 200, r.text
    quota(api, instances=1)

    def available(name):
        r = t(tenant, "GET", "/system/function/" + name)
        return r.status_code == 200 and r.json().get("availableReplicas", 0)

    try:
        r = t(tenant, "POST", "/system/functions", json={"service": "rep1", "image": "httpfn:latest"})
        assert r.status_code == 202, r.text
        wait_until(lambda: available("rep1") == 1, 30 * SLOW, "rep1's replica")
        r = t(tenant, "POST", "/system/functions", json={"service": "rep2", "image": "httpfn:latest"})
        assert r.status_code == 202, r.text
        wait_until(lambda: "'rep2.%s': no default replica kept warm" % NS in daemon.log(), 30 * SLOW,
                   "rep2's replica to be given up")
        assert available("rep2") == 0
        r = t(tenant, "POST", "/system/functions", json={"service": "rep-ex", "image": "busybox:latest",
                                                        "envProcess": "cat"})
        assert r.status_code == 202, r.text
        r = requests.post(daemon.url + "/function/rep-ex." + NS, data=b"x", timeout=HTTP_TIMEOUT)
        assert r.status_code == 429 and "instances" in r.json()["error"], r.text
        wait_until(lambda: requests.post(daemon.url + "/function/rep-ex." + NS, data=b"retry",
                                         timeout=HTTP_TIMEOUT).text == "retry", 30 * SLOW,
                   "the retry to find room")
        assert "stopping idle instance rep1-1, its default replica" in daemon.log()
        # Not restarted on its own (it would take the room again) ...
        assert available("rep1") == 0
        assert daemon.log().count("no default replica kept warm") == 1
        # ... but a call starts it, as from zero.
        r = requests.get(daemon.url + "/function/rep1." + NS + "/hello", timeout=HTTP_TIMEOUT)
        assert r.status_code == 200 and r.text == "hello\n", r.text
    finally:
        quota(api, instances=None)
        for name in ("rep1", "rep2", "rep-ex"):
            t(tenant, "DELETE", "/system/functions", json={"functionName": name})


def test_async_queued(api, daemon, tenant):
    marker = "gate-async"
    t(tenant, "POST", "/system/functions", json={"service": "queued", "image": "busybox:latest",
                                               "envProcess": "sh -s " + marker})
    quota(api, asyncQueued=1)
    try:
        r = requests.post(daemon.url + "/async-function/queued." + NS, data=GATE + b"echo done\n",
                          timeout=HTTP_TIMEOUT)
        assert r.status_code == 202, r.text
        call = r.headers["X-Call-Id"]
        pid = wait_until(lambda: procs_with_argv(["sh", "-s", marker]), 30 * SLOW, "the async call to run")[0]
        r = requests.post(daemon.url + "/async-function/queued." + NS, data=b"", timeout=HTTP_TIMEOUT)
        assert r.status_code == 429, r.text
        assert "asyncQueued" in r.json()["error"] and r.headers["Retry-After"]
        open_gate(pid)
        wait_until(lambda: t(tenant, "GET", "/system/async/" + call).json()["state"] == "done", 30 * SLOW,
                   "the async call to finish", interval=0.05)
        r = requests.post(daemon.url + "/async-function/queued." + NS, data=b"", timeout=HTTP_TIMEOUT)
        assert r.status_code == 202, r.text
    finally:
        quota(api, asyncQueued=None)


@pytest.mark.parametrize("body,key,ceiling", [
    ({"limits": {"memory": "64Gi"}}, "limits.memory", "function_max_memory"),
    ({"requests": {"cpu": "64"}}, "requests.cpu", "function_max_cpu"),
    ({"envVars": {"exec_timeout": "1000h"}}, "envVars.exec_timeout", "function_max_timeout"),
    ({"annotations": {"com.sfaasd.timeout": "2h"}}, "com.sfaasd.timeout", "function_max_timeout"),
    ({"labels": {"com.openfaas.scale.max": "100000"}}, "com.openfaas.scale.max", "function_max_scale"),
])
def test_ceilings(api, tenant, body, key, ceiling):
    spec = {"service": "greedy", "image": "busybox:latest", "envProcess": "cat"}
    spec.update(body)
    for caller in (tenant, None):   # the admin is held to them as well
        r = t(tenant, "POST", "/system/functions", json=spec) if caller else \
            api.post("/system/functions", json=dict(spec, namespace=NS))
        assert r.status_code == 400, r.text
        err = r.json()["error"]
        assert key in err and ceiling in err and "above the ceiling" in err, err


def test_quota_values_refused(api):
    for bad in ({"nonsense": 1}, {"memory": "lots"}, {"functions": -1}, {"cpu": "x"}):
        r = api.put("/system/tenants/" + NS, json={"quotas": bad})
        assert r.status_code == 400, (bad, r.text)
    assert api.put("/system/tenants/nobody-here", json={"quotas": {}}).status_code == 404


def test_cgroup_level_limits(api, daemon, tenant):
    """memory, cpu and pids are the limits of the tenant's cgroup level,
    which every sandbox of it sits under: the kernel holds them."""
    subtrees = cgroup_subtree_candidates(daemon)
    if not subtrees:
        pytest.skip("the daemon runs without cgroups")
    quota(api, memory="256Mi", pids=40, cpu="500m")
    try:
        levels = [os.path.join(st, NS) for st in subtrees if os.path.isdir(os.path.join(st, NS))]
        assert levels, subtrees

        def read(f):
            for lv in levels:
                p = os.path.join(lv, f)
                if os.path.exists(p):
                    with open(p) as fh:
                        return fh.read().strip()
            return None
        if read("memory.max") is not None:                                    # v2
            assert read("memory.max") == str(256 << 20)
            assert read("pids.max") == "40"
            assert read("cpu.max") == "50000 100000"
        else:                                                                 # v1
            assert read("memory.limit_in_bytes") == str(256 << 20)
            assert read("pids.max") == "40"
            assert read("cpu.cfs_quota_us") == "50000"
        quota(api, memory=0, pids=0, cpu=0)
        if read("memory.max") is not None:
            assert read("memory.max") == "max" and read("pids.max") == "max"
        else:
            assert int(read("memory.limit_in_bytes")) > (1 << 60) and read("pids.max") == "max"
            assert read("cpu.cfs_quota_us") == "-1"
    finally:
        quota(api, memory=None, pids=None, cpu=None)


def test_quota_cli(api, daemon, tenant):
    env = dict(os.environ, SFAASD_PASSWORD=daemon.password)
    p = subprocess.run([BIN, "tenant", "quota", NS, "functions=7", "memory=1Gi", "--gateway", daemon.url],
                       capture_output=True, text=True, env=env, timeout=HTTP_TIMEOUT)
    assert p.returncode == 0, p.stderr
    rows = {l.split()[0]: l.split()[1:] for l in p.stdout.splitlines()[1:]}
    assert rows["functions"][0] == "7" and rows["memory"][0] == str(1 << 30)
    p = subprocess.run([BIN, "tenant", "quota", NS, "functions=default", "memory=default", "--gateway", daemon.url],
                       capture_output=True, text=True, env=env, timeout=HTTP_TIMEOUT)
    assert p.returncode == 0, p.stderr
    rows = {l.split()[0]: l.split()[1:] for l in p.stdout.splitlines()[1:]}
    assert rows["functions"][0] == "1000" and rows["memory"][0] == "none"
