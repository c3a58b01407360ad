# SPDX-License-Identifier: MIT
"""FunctionStatus "usage" (GET /system/function/NAME?usage=1 and the list
with ?usage=1): every sandbox of a function runs in the cgroup group
SUBTREE/NAMESPACE/FUNCTION, and the kernel's sums there are reported as
{"cpu": cumulative CPU seconds, "totalMemoryBytes": bytes charged now}.
Without usage=1 the key is absent (omitempty, as OpenFaaS). The group goes
with the function."""
import threading

import pytest

from sfaasd_testlib import (DEFAULT_NS, GATE, HTTP_TIMEOUT, SLOW, cgroup_subtree_candidates, existing_dirs,
                            function_cgroups, open_gate, procs_with_argv, wait_until)

# A loop in sh itself (no fork): about 0.3 s of CPU here.
BURN = b"i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo burnt\n"


@pytest.fixture(scope="module")
def fns(api, busybox):
    api.deploy("burn", fprocess="sh -s", expect=202)
    api.deploy("idle", fprocess="cat", expect=202)
    api.deploy("hold", fprocess="sh -s usage-hold", expect=202)


def subtrees(daemon):
    st = existing_dirs(cgroup_subtree_candidates(daemon))
    if not st:
        pytest.skip("the daemon made no cgroup subtree on this host")
    return st


def usage(api, name, **params):
    r = api.get("/system/function/" + name, params=dict(params, usage="1"))
    assert r.status_code == 200, r.text
    u = r.json()["usage"]
    assert set(u) == {"cpu", "totalMemoryBytes"}, u
    assert isinstance(u["cpu"], (int, float)) and u["cpu"] >= 0
    assert isinstance(u["totalMemoryBytes"], int) and u["totalMemoryBytes"] >= 0
    return u


def test_absent_without_usage_and_zero_before_any_call(api, fns):
    for q in ({}, {"usage": "0"}, {"usage": "false"}):
        r = api.get("/system/function/idle", params=q)
        assert r.status_code == 200
        assert "usage" not in r.json(), q
    r = api.get("/system/functions")
    assert all("usage" not in f for f in r.json())
    # no sandbox of it ran yet: zeros, still present
    assert usage(api, "idle") == {"cpu": 0, "totalMemoryBytes": 0}
    r = api.get("/system/function/idle", params={"usage": "true"})
    assert "usage" in r.json()


def test_cpu_is_the_functions_own(api, daemon, fns):
    subtrees(daemon)
    before = usage(api, "burn")["cpu"]
    r = api.invoke("burn", data=BURN)
    assert r.status_code == 200 and r.text == "burnt\n", r.text
    after = usage(api, "burn")["cpu"]
    assert after - before >= 0.05, (before, after)
    # a second call adds its time again: cumulative, sandboxes that ended included
    assert api.invoke("burn", data=BURN).status_code == 200
    again = usage(api, "burn")["cpu"]
    assert again - after >= 0.05, (after, again)
    # another function's calls are not counted here, nor this one's there
    idle0 = usage(api, "idle")["cpu"]
    for _ in range(3):
        assert api.invoke("idle", data=b"x").status_code == 200
    assert usage(api, "burn")["cpu"] == again
    assert usage(api, "idle")["cpu"] - idle0 < 0.05
    # the list carries the same numbers with ?usage=1
    lst = {f["name"]: f for f in api.get("/system/functions", params={"usage": "1"}).json()}
    assert lst["burn"]["usage"]["cpu"] == again
    assert set(lst["idle"]["usage"]) == {"cpu", "totalMemoryBytes"}


def test_memory_of_a_running_sandbox(api, daemon, fns):
    subtrees(daemon)
    argv = ["sh", "-s", "usage-hold"]
    result = {}

    def call():
        result["r"] = api.invoke("hold", data=b"dd if=/dev/zero of=/tmp/f bs=1048576 count=8 2>/dev/null\n" +
                                 GATE + b"echo released\n")

    th = threading.Thread(target=call)
    th.start()
    try:
        pid = wait_until(lambda: procs_with_argv(argv), 30 * SLOW, "the held sandbox")[0]
        # 8 MiB on the sandbox's tmpfs are charged to the function's group
        held = wait_until(lambda: (lambda u: u if u["totalMemoryBytes"] >= 8 << 20 else None)(usage(api, "hold")),
                          30 * SLOW, "the function's memory to reach 8 MiB")
        open_gate(pid)
    finally:
        th.join(HTTP_TIMEOUT)
    assert result["r"].status_code == 200 and result["r"].text == "released\n", result
    # the tmpfs went with the sandbox
    assert usage(api, "hold")["totalMemoryBytes"] < held["totalMemoryBytes"]


def test_group_per_function_and_namespace_removed_with_the_function(api, daemon, busybox, images):
    st = subtrees(daemon)
    r = api.post("/system/namespace/", json={"name": "usage-ns", "labels": {"openfaas": "1"}})
    assert r.status_code == 201, r.text
    with open(images.path("busybox-oci.tar"), "rb") as f:
        r = api.post("/system/images", data=f.read(), params={"namespace": "usage-ns"},
                     headers={"Content-Type": "application/x-tar"})
    assert r.status_code == 200, r.text
    api.deploy("gone", fprocess="sh -s", expect=202)
    api.deploy("gone", fprocess="sh -s", namespace="usage-ns", expect=202)
    assert api.invoke("gone", data=BURN).status_code == 200
    assert api.invoke("gone.usage-ns", data=b"echo hi\n").status_code == 200
    assert function_cgroups(st, DEFAULT_NS, "gone")
    assert function_cgroups(st, "usage-ns", "gone")
    default_cpu = usage(api, "gone")["cpu"]
    tenant_cpu = usage(api, "gone", namespace="usage-ns")["cpu"]
    assert default_cpu >= 0.05 and tenant_cpu < default_cpu
    # removal takes the function's group (in every hierarchy), not the other tenant's
    assert api.remove("gone").status_code == 200
    assert function_cgroups(st, DEFAULT_NS, "gone") == []
    assert function_cgroups(st, "usage-ns", "gone")
    # deployed again: counted from zero
    api.deploy("gone", fprocess="sh -s", expect=202)
    assert usage(api, "gone") == {"cpu": 0, "totalMemoryBytes": 0}
    assert api.remove("gone").status_code == 200
    assert api.remove("gone", namespace="usage-ns").status_code == 200
    assert function_cgroups(st, "usage-ns", "gone") == []
