# SPDX-License-Identifier: MIT
"""The last hour in memory for the console's charts (core/runtime/history.h):
GET /system/function/NAME/history, /system/history/functions and
/system/history. Calls are counted where they end; errors are answers of
500 and above; the routes want the admin's Basic auth like every
/system/ route."""
import requests

from sfaasd_testlib import DEFAULT_NS, HTTP_TIMEOUT, error_of

SLOTS = 360
STEP = 10


def history(api, name, **params):
    r = api.get("/system/function/%s/history" % name, params=params)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    h = r.json()
    assert h["step"] == STEP and h["start"] % STEP == 0
    for key in ("calls", "errors", "p50", "p99", "instances", "inflight"):
        assert len(h[key]) == SLOTS, key
    return h


def test_calls_errors_and_latency_are_counted(api, busybox):
    api.deploy("hist-ok", fprocess="cat", expect=202)
    api.deploy("hist-fail", fprocess="false", expect=202)
    before = history(api, "hist-ok")
    assert sum(before["calls"]) == 0 and before["totals"]["calls"] == 0
    assert before["totals"]["p50"] is None and before["totals"]["lastCall"] is None
    for i in range(3):
        assert api.invoke("hist-ok", data=b"x").status_code == 200
    assert api.invoke("hist-fail", data=b"x").status_code == 500

    ok = history(api, "hist-ok")
    assert ok["name"] == "hist-ok" and ok["namespace"] == DEFAULT_NS
    # The three calls may straddle a slot boundary: count the last two slots.
    assert sum(ok["calls"][-2:]) == 3 and sum(ok["errors"]) == 0
    assert ok["totals"]["calls"] == 3 and ok["totals"]["errors"] == 0
    assert 0 < ok["totals"]["p50"] <= ok["totals"]["p99"] < HTTP_TIMEOUT
    assert any(p is not None and p > 0 for p in ok["p50"][-2:])
    assert ok["totals"]["lastCall"].endswith("Z")
    assert ok["totals"]["inflight"] == 0
    fail = history(api, "hist-fail")
    assert sum(fail["errors"]) == 1 and fail["totals"]["errors"] == 1

    r = api.get("/system/history/functions")
    assert r.status_code == 200, r.text
    totals = r.json()
    assert totals["namespace"] == DEFAULT_NS
    assert totals["functions"]["hist-ok"]["calls"] == 3
    assert totals["functions"]["hist-fail"]["errors"] == 1

    host = api.get("/system/history").json()
    assert sum(host["calls"]) >= 4 and sum(host["errors"]) >= 1
    assert host["memoryTotal"] > 0
    assert host["memoryUsed"][-1] > 0
    for key in ("calls", "errors", "sandboxes", "cpu", "memoryUsed"):
        assert len(host[key]) == SLOTS, key


def test_removed_function_loses_its_history(api, busybox):
    api.deploy("hist-gone", fprocess="cat", expect=202)
    assert api.invoke("hist-gone", data=b"x").status_code == 200
    assert history(api, "hist-gone")["totals"]["calls"] == 1
    assert api.remove("hist-gone").status_code == 200
    r = api.get("/system/function/hist-gone/history")
    assert r.status_code == 404 and "not found" in error_of(r)
    api.deploy("hist-gone", fprocess="cat", expect=202)
    assert history(api, "hist-gone")["totals"]["calls"] == 0


def test_namespaces_and_errors(api, daemon, busybox, images):
    r = api.post("/system/namespace/", json={"name": "hist-ns", "labels": {"openfaas": "1"}})
    assert r.status_code == 201, r.text
    # Image names are per namespace.
    with open(images.path("busybox-oci.tar"), "rb") as f:
        r = api.post("/system/images", data=f.read(), params={"namespace": "hist-ns"})
    assert r.status_code == 200, r.text
    api.deploy("hist-ok", fprocess="cat", namespace="hist-ns", expect=202)
    assert api.invoke("hist-ok.hist-ns", data=b"x").status_code == 200
    assert history(api, "hist-ok", namespace="hist-ns")["totals"]["calls"] == 1
    r = api.get("/system/history/functions", params={"namespace": "hist-ns"})
    assert list(r.json()["functions"]) == ["hist-ok"]

    assert api.get("/system/function/nope/history").status_code == 404
    assert api.get("/system/function/a.b/history").status_code == 400
    assert api.get("/system/history", params={"namespace": "no-such"}).status_code == 200
    assert api.get("/system/history/functions", params={"namespace": "no-such"}).status_code == 400
    assert api.post("/system/history").status_code == 405
    for path in ("/system/history", "/system/history/functions", "/system/function/hist-ok/history"):
        r = requests.get(daemon.url + path, timeout=HTTP_TIMEOUT)
        assert r.status_code == 401, path

