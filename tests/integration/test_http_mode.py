# SPDX-License-Identifier: MIT
"""Warm http-mode functions (issue 5; docs/OPENFAAS-COMPAT.md 2.5 and 4):
mode and port selection, pools (scale from zero, concurrent first calls,
scale.min/max, max-inflight, the bounded queue and 429, scale-function, idle
scale to zero), readiness (/_/health for watchdog images, TCP connect for the
others), crash replacement, SIGTERM + grace period, the streaming proxy
(path, headers, hop-by-hop, large bodies both ways, SSE), timeouts, upstream
errors, min instances after a daemon restart, instance logs and isolation.

The function is tests/fixtures/httpfn.c (images httpfn, httpfn-wd,
httpfn-noport from mkimages.sh). Its /whoami, /headers and X-Instance-Id
response header name the *process* (a random id chosen at its start), which
tells apart instances from the caller's side; the daemon's own instance ids
come from GET /system/function/NAME ("sfaasd" object).

State is awaited by polling the API with deadlines (wait_until); the only
time windows are the ones a test measures (a grace period, an idle time) or
an absence it checks (an instance that must *not* stop).
"""
import concurrent.futures
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest
import requests

from sfaasd_testlib import (ASAN, DEFAULT_NS, HTTP_TIMEOUT, SLOW, Api, error_of, proc_stat, proc_uids,
                            wait_until)

DEADLINE = 20 * SLOW          # for state to be reached; only hit on failure
UID_BASE = 1073741824         # STORE_UID_BASE (store/db.h); see test_namespaces.py
MIB = 1 << 20
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

MIN = "com.openfaas.scale.min"
MAX = "com.openfaas.scale.max"
ZERO = "com.openfaas.scale.zero"
ZERO_DURATION = "com.openfaas.scale.zero-duration"
MODE = "com.sfaasd.mode"
PORT = "com.sfaasd.port"
MAX_INFLIGHT = "com.sfaasd.max-inflight"
QUEUE_MAX = "com.sfaasd.queue-max"
GRACE = "com.sfaasd.grace-period"
TIMEOUT = "com.sfaasd.timeout"


# ---- fixtures and helpers ---------------------------------------------------------

def import_http_images(api, images):
    ids = {}
    for f in ("httpfn-oci.tar", "httpfn-wd-oci.tar", "httpfn-noport-oci.tar"):
        r = api.import_image(images.path(f))
        assert r.status_code == 200, r.text
        ids[f] = r.json()["id"]
    r = api.import_image(images.path("httpfn-docker.tar"), name="httpfn-docker:latest")
    assert r.status_code == 200, r.text
    ids["httpfn-docker.tar"] = r.json()["id"]
    return ids


@pytest.fixture(scope="module")
def httpimgs(api, images):
    return import_http_images(api, images)


@pytest.fixture
def fn(api, httpimgs):
    """deploy(name, ...) for http-mode functions; all removed at the end."""
    made = []

    def deploy(name, image="httpfn:latest", labels=None, annotations=None, env=None, namespace=None,
               expect=202):
        extra = {}
        if labels is not None:
            extra["labels"] = labels
        if annotations is not None:
            extra["annotations"] = annotations
        if namespace is not None:
            extra["namespace"] = namespace
        api.deploy(name, image=image, env=env, expect=expect, **extra)
        made.append((name, namespace))
        return name

    yield deploy
    for name, ns in made:
        api.remove(name, namespace=ns)


def status(api, name, namespace=None):
    r = api.get("/system/function/" + name, params={"namespace": namespace} if namespace else None)
    assert r.status_code == 200, r.text
    st = r.json()
    x = st.get("sfaasd")
    assert isinstance(x, dict), "no 'sfaasd' extension object in %r" % st
    assert x.get("mode") in ("http", "exec"), st
    assert isinstance(x.get("instances"), list), st
    for i in x["instances"]:
        assert isinstance(i.get("id"), str) and i["id"], i
        assert type(i.get("pid")) is int and i["pid"] > 0, i
        assert i.get("state") in ("starting", "ready", "stopping"), i
        assert type(i.get("inflight")) is int and i["inflight"] >= 0, i
        assert type(i.get("restarts")) is int and i["restarts"] >= 0, i
    return st


def replicas(st):
    return st.get("replicas", 0)        # uint64 omitempty in OpenFaaS: absent means 0


def available(st):
    return st.get("availableReplicas", 0)


def insts(st, state=None):
    return [i for i in st["sfaasd"]["instances"] if state is None or i["state"] == state]


def live(st):
    """Instances not on their way out."""
    return [i for i in st["sfaasd"]["instances"] if i["state"] != "stopping"]


def wait_status(api, name, cond, what, timeout=DEADLINE, namespace=None):
    last = {}

    def check():
        st = status(api, name, namespace)
        last["st"] = st
        return st if cond(st) else None

    try:
        return wait_until(check, timeout, what, interval=0.02)
    except AssertionError as e:
        raise AssertionError("%s; last status: %s" % (e, json.dumps(last.get("st"))))


def wait_ready(api, name, n=1, namespace=None):
    """Exactly n ready instances and nothing starting or stopping."""
    return wait_status(api, name, lambda st: available(st) == n and replicas(st) == n
                       and len(insts(st)) == n and len(insts(st, "ready")) == n,
                       "%s: %d ready instance(s)" % (name, n), namespace=namespace)


def gone(pid):
    return proc_stat(pid) is None


def wait_gone(pid, what, timeout=DEADLINE):
    wait_until(lambda: gone(pid), timeout, what, interval=0.005)


def call(api, name, path="/", method="GET", **kw):
    return api.invoke(name, method=method, path=path, **kw)


def whoami(api, name, **kw):
    r = call(api, name, "/whoami", **kw)
    assert r.status_code == 200, r.text
    iid, pid = r.text.split()
    return iid


def vmrss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for %d" % pid)


class RssSampler:
    """Peak VmRSS of a process while the `with` block runs."""

    def __init__(self, pid):
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, vmrss(self.pid))
            self._stop.wait(0.01)

    def __enter__(self):
        self.base = vmrss(self.pid)
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, vmrss(self.pid))


def in_thread(fn, *args, **kw):
    """Run fn in a thread; returns a future whose result is (value, monotonic end time)."""
    ex = concurrent.futures.ThreadPoolExecutor(max_workers=1)

    def run():
        v = fn(*args, **kw)
        return v, time.monotonic()

    f = ex.submit(run)
    ex.shutdown(wait=False)
    return f


def hdr(d, name):
    """Case-insensitive lookup in the headers object of httpfn's /headers."""
    for k, v in d.items():
        if k.lower() == name.lower():
            return v
    return None


# ---- mode and port ----------------------------------------------------------------------

def test_mode_from_image_config_and_annotations(api, fn, busybox):
    # httpfn exposes 8080/tcp: http mode, port 8080; the deploy starts one
    # replica, as OpenFaaS does (issue 14: it started none before the first
    # call, and faas-cli ready failed); scale to zero is opt-in
    fn("m-exposed")
    st = status(api, "m-exposed")
    assert st["sfaasd"]["mode"] == "http" and st["sfaasd"]["port"] == 8080, st
    wait_ready(api, "m-exposed", 1)
    fn("m-exposed-zero", annotations={ZERO: "true"})
    st = status(api, "m-exposed-zero")
    assert replicas(st) == 0 and available(st) == 0 and insts(st) == [], st
    # no ExposedPorts: exec mode, no instances
    fn("m-noport", image="httpfn-noport:latest")
    st = status(api, "m-noport")
    assert st["sfaasd"]["mode"] == "exec" and insts(st) == [], st
    # the busybox fixture has no ExposedPorts either, and still runs per call
    api.deploy("m-busybox", fprocess="cat", expect=202)
    try:
        st = status(api, "m-busybox")
        assert st["sfaasd"]["mode"] == "exec" and insts(st) == [], st
        assert api.invoke("m-busybox", data=b"exec still").content == b"exec still"
    finally:
        api.remove("m-busybox")
    # the annotation wins both ways; the port defaults to 8080
    fn("m-forced-http", image="httpfn-noport:latest", annotations={MODE: "http"})
    st = status(api, "m-forced-http")
    assert st["sfaasd"]["mode"] == "http" and st["sfaasd"]["port"] == 8080, st
    r = call(api, "m-forced-http", "/hello")
    assert r.status_code == 200 and r.text == "hello\n", r.text
    fn("m-forced-exec", annotations={MODE: "exec"})
    st = status(api, "m-forced-exec")
    assert st["sfaasd"]["mode"] == "exec" and insts(st) == [], st
    # com.sfaasd.port: the function listens where it is told (env `port`)
    fn("m-port", annotations={PORT: "9090"}, env={"port": "9090"})
    st = status(api, "m-port")
    assert st["sfaasd"]["mode"] == "http" and st["sfaasd"]["port"] == 9090, st
    r = call(api, "m-port", "/hello")
    assert r.status_code == 200 and r.text == "hello\n", r.text
    # the docker-save form of the image carries the same ExposedPorts
    fn("m-docker", image="httpfn-docker:latest")
    st = status(api, "m-docker")
    assert st["sfaasd"]["mode"] == "http" and st["sfaasd"]["port"] == 8080, st
    assert call(api, "m-docker", "/hello").text == "hello\n"


# ---- scale from zero ----------------------------------------------------------------------

def test_scale_from_zero_first_call(api, fn):
    fn("sfz", labels={ZERO: "true"})
    st = status(api, "sfz")
    assert replicas(st) == 0 and insts(st) == [], st
    r = call(api, "sfz", "/hello")
    assert r.status_code == 200, r.text
    assert r.text == "hello\n"
    assert r.headers["Content-Type"] == "text/plain"
    st = wait_ready(api, "sfz", 1)
    inst = insts(st)[0]
    assert inst["inflight"] == 0 and inst["restarts"] == 0, inst
    assert not gone(inst["pid"]), "instance pid %d is not a live process" % inst["pid"]
    # the next call goes to the same warm instance
    first = whoami(api, "sfz")
    assert whoami(api, "sfz") == first
    assert insts(status(api, "sfz"))[0]["id"] == inst["id"]


@pytest.mark.parametrize("n", [20, 200])
def test_concurrent_first_calls_share_one_start(api, fn, n):
    # 200: the burst of first calls to a scaled-to-zero function,
    # every one answered 200 with the default queue bound. A target no
    # burst reaches keeps the autoscaler out of it.
    fn("burst", labels={ZERO: "true", "com.openfaas.scale.target": "1000"})
    barrier = threading.Barrier(n)

    def one():
        barrier.wait()
        return call(api, "burst", "/whoami")

    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        rs = list(ex.map(lambda _: one(), range(n)))
    assert [r.status_code for r in rs] == [200] * n, [(r.status_code, r.text[:100]) for r in rs]
    served_by = {r.text.split()[0] for r in rs}
    assert len(served_by) == 1, "first calls served by %d processes: %s" % (len(served_by), served_by)
    st = status(api, "burst")
    assert len(insts(st)) == 1 and replicas(st) == 1, st


def test_scale_min_started_at_deploy(api, fn):
    fn("warm2", labels={MIN: "2"})
    st = wait_ready(api, "warm2", 2)          # no call made
    pids = {i["pid"] for i in insts(st)}
    ids = {i["id"] for i in insts(st)}
    assert len(pids) == 2 and len(ids) == 2, st


# ---- readiness ------------------------------------------------------------------------------

def test_watchdog_image_ready_by_health(api, fn):
    # httpfn-wd is /usr/bin/fwatchdog: its /_/health answers 503 for 300 ms
    # after start. The first call must wait for 200, so it sees 200 itself.
    fn("wd", image="httpfn-wd:latest", labels={ZERO: "true"})
    t0 = time.monotonic()
    r = call(api, "wd", "/_/health")
    took = time.monotonic() - t0
    assert r.status_code == 200 and r.text == "OK", (r.status_code, r.text)
    assert took >= 0.3, "answered %.3fs after the call, before the instance could be healthy" % took
    st = wait_ready(api, "wd", 1)
    assert st["sfaasd"]["mode"] == "http"


def test_other_images_ready_by_tcp_connect(api, fn):
    # not a watchdog: readiness is a TCP connect, so a health that stays 503
    # for 60 s does not hold the first call back
    fn("tcpready", env={"HEALTH_DELAY_MS": "60000"}, labels={ZERO: "true"})
    t0 = time.monotonic()
    r = call(api, "tcpready", "/_/health")
    assert r.status_code == 503 and r.text == "starting\n", (r.status_code, r.text)
    assert time.monotonic() - t0 < 30
    assert call(api, "tcpready", "/hello").status_code == 200
    wait_ready(api, "tcpready", 1)


@pytest.mark.parametrize("delay_ms", [40, 400])
def test_slow_listener_still_gets_the_first_call(api, fn, delay_ms):
    # The instance listens only after delay_ms: past the launcher's fast
    # probing (its first 30 ms) the first call still waits for it and
    # succeeds, instead of the instance staying "starting" for ever.
    name = "slowlisten%d" % delay_ms
    fn(name, env={"LISTEN_DELAY_MS": str(delay_ms)}, labels={ZERO: "true"})
    t0 = time.monotonic()
    r = call(api, name, "/hello")
    assert r.status_code == 200, (r.status_code, r.text)
    assert time.monotonic() - t0 >= delay_ms / 1000.0
    wait_ready(api, name, 1)


# ---- max-inflight, scale.max, the queue ------------------------------------------------------

def test_max_inflight_starts_more_instances(api, fn):
    fn("fanout", labels={MAX: "3"}, annotations={MAX_INFLIGHT: "1"})
    barrier = threading.Barrier(3)

    def one():
        barrier.wait()
        return call(api, "fanout", "/sleep?ms=1000")

    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        futures = [ex.submit(one) for _ in range(3)]
        # The status shows the three while they serve; once the calls end,
        # the autoscaler may trim to what the load asked for (scale.c), so
        # it is read during the calls, not after them.
        wait_status(api, "fanout", lambda st: len([i for i in live(st) if i["inflight"] == 1]) == 3,
                    "fanout: 3 live instances with a call each")
        rs = [f.result(HTTP_TIMEOUT) for f in futures]
    assert [r.status_code for r in rs] == [200] * 3, [r.text for r in rs]
    assert all(r.text == "slept\n" for r in rs)
    served_by = {r.headers.get("X-Instance-Id") for r in rs}
    assert None not in served_by, "X-Instance-Id of the function's answer was not passed through"
    assert len(served_by) == 3, "3 calls with max-inflight 1 ran on %d instance(s)" % len(served_by)


def _queue_429(api, name, slow_ms, extra):
    """With one instance at max-inflight 1 busy on a slow call and a queue
    of 2, three more calls: two wait and succeed, one is refused with 429 at
    once. The three are fired together, so which one gets the 429 is not
    fixed, but the outcome is."""
    a = in_thread(call, api, name, "/sleep?ms=%d" % slow_ms)
    wait_status(api, name, lambda st: any(i["inflight"] == 1 for i in insts(st)),
                "%s: the slow call in flight" % name)
    barrier = threading.Barrier(extra)

    def one():
        barrier.wait()
        r = call(api, name, "/hello")
        return r, time.monotonic()

    with concurrent.futures.ThreadPoolExecutor(extra) as ex:
        rs = list(ex.map(lambda _: one(), range(extra)))
    ra, a_done = a.result(HTTP_TIMEOUT)
    assert ra.status_code == 200 and ra.text == "slept\n", ra.text
    codes = sorted(r.status_code for r, _ in rs)
    return rs, codes, a_done


def test_queue_full_is_429(api, fn):
    fn("queued", labels={MAX: "1"}, annotations={MAX_INFLIGHT: "1", QUEUE_MAX: "2"})
    rs, codes, a_done = _queue_429(api, "queued", 2000, 3)
    assert codes == [200, 200, 429], [(r.status_code, r.text[:100]) for r, _ in rs]
    for r, done in rs:
        if r.status_code == 429:
            error_of(r)
            assert done < a_done, "the 429 waited for the slow call instead of being answered at once"
        else:
            assert r.text == "hello\n"
    st = status(api, "queued")
    assert len(insts(st)) == 1, "scale.max 1 exceeded: %s" % st


# ---- scale-function ---------------------------------------------------------------------------

def scale(api, name, n, namespace=None):
    body = {"serviceName": name, "replicas": n}
    if namespace:
        body["namespace"] = namespace
    r = api.post("/system/scale-function/" + name, json=body)
    assert r.status_code == 200, r.text
    return r


def test_scale_function_api(api, fn):
    fn("scaler", labels={MAX: "4"})
    scale(api, "scaler", 3)
    st = wait_ready(api, "scaler", 3)
    three = {i["pid"] for i in insts(st)}
    # down to 1: two stop (SIGTERM; httpfn exits at once), one stays
    scale(api, "scaler", 1)
    st = wait_ready(api, "scaler", 1)
    kept = insts(st)[0]["pid"]
    assert kept in three
    for pid in three - {kept}:
        wait_gone(pid, "stopped instance pid %d to exit" % pid)
    # more than scale.max: clamped
    scale(api, "scaler", 10)
    st = wait_ready(api, "scaler", 4)
    # 0 stops all; the next call scales from zero again
    pids = {i["pid"] for i in insts(st)}
    scale(api, "scaler", 0)
    wait_status(api, "scaler", lambda st: replicas(st) == 0 and available(st) == 0 and insts(st) == [],
                "scaler: no instances")
    for pid in pids:
        wait_gone(pid, "instance pid %d to exit after scale to 0" % pid)
    assert call(api, "scaler", "/hello").status_code == 200
    wait_ready(api, "scaler", 1)


# ---- idle scale to zero -------------------------------------------------------------------------

def test_idle_scale_to_zero(api, fn):
    fn("idle-keep", labels={ZERO_DURATION: "1s", ZERO: "false"})
    fn("idle-min", labels={ZERO_DURATION: "1s", MIN: "1", MAX: "2", "com.sfaasd.scale.down-window": "1s"},
       annotations={MAX_INFLIGHT: "1"})
    fn("idle-zero", labels={ZERO_DURATION: "1s", ZERO: "true"})
    # idle-keep and idle-min are used before idle-zero, so by the time
    # idle-zero has been idle for 1 s, they have been idle longer
    assert call(api, "idle-keep", "/hello").status_code == 200
    wait_ready(api, "idle-min", 1)
    barrier = threading.Barrier(2)

    def one():
        barrier.wait()
        return call(api, "idle-min", "/sleep?ms=300")

    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        rs = list(ex.map(lambda _: one(), range(2)))
    assert [r.status_code for r in rs] == [200, 200]
    assert len({r.headers.get("X-Instance-Id") for r in rs}) == 2, "idle-min did not grow to 2 instances"
    assert call(api, "idle-zero", "/hello").status_code == 200
    t_last = time.monotonic()
    st = wait_ready(api, "idle-zero", 1)
    pid = insts(st)[0]["pid"]
    wait_status(api, "idle-zero", lambda st: replicas(st) == 0 and insts(st) == [], "idle-zero to scale to 0")
    idle = time.monotonic() - t_last
    assert idle >= 0.9, "stopped after %.2fs idle, zero-duration is 1s" % idle
    wait_gone(pid, "the idle instance to exit")
    # idle-min shrinks to its floor, not to zero
    wait_status(api, "idle-min", lambda st: len(live(st)) == 1 and available(st) == 1, "idle-min down to 1")
    # an absence check: during one more idle period nothing else stops
    end = time.monotonic() + 1.5
    while time.monotonic() < end:
        st = status(api, "idle-keep")
        assert available(st) == 1, "scale.zero=false instance stopped: %s" % st
        st = status(api, "idle-min")
        assert available(st) == 1 and len(live(st)) == 1, "idle-min left its floor: %s" % st
        time.sleep(0.05)


# ---- crashes --------------------------------------------------------------------------------------

def test_kill9_replaced_when_min(api, fn):
    fn("phoenix", labels={MIN: "1"})
    st = wait_ready(api, "phoenix", 1)
    old = insts(st)[0]
    # a call in flight on the instance that dies: 502 with JSON, at once
    a = in_thread(call, api, "phoenix", "/sleep?ms=10000")
    wait_status(api, "phoenix", lambda st: any(i["inflight"] == 1 for i in insts(st)), "the call in flight")
    t0 = time.monotonic()
    os.kill(old["pid"], signal.SIGKILL)
    r, done = a.result(HTTP_TIMEOUT)
    assert r.status_code == 502, (r.status_code, r.text)
    error_of(r)
    assert done - t0 < 5, "the in-flight call was not failed when its instance died"
    # replaced (with backoff) without any call
    st = wait_status(api, "phoenix", lambda st: len(insts(st, "ready")) == 1 and available(st) == 1
                     and insts(st, "ready")[0]["id"] != old["id"], "a replacement instance")
    new = insts(st, "ready")[0]
    assert new["pid"] != old["pid"], (old, new)
    assert new["restarts"] >= 1, "the replacement does not count the restart: %s" % new
    wait_gone(old["pid"], "the killed instance to be reaped")
    assert call(api, "phoenix", "/hello").status_code == 200


def test_crash_mid_call_is_502_then_scale_from_zero(api, fn):
    fn("crasher", labels={ZERO: "true"})
    iid = whoami(api, "crasher")
    st = wait_ready(api, "crasher", 1)
    pid = insts(st)[0]["pid"]
    r = call(api, "crasher", "/crash")          # exits 3 without answering
    assert r.status_code == 502, (r.status_code, r.text)
    error_of(r)
    wait_gone(pid, "the crashed instance to be reaped")
    # min 0: removed, not replaced
    wait_status(api, "crasher", lambda st: replicas(st) == 0 and insts(st) == [], "crasher: no instances")
    assert whoami(api, "crasher") != iid       # a new process


# ---- stopping: SIGTERM, grace period, SIGKILL -------------------------------------------------

def test_scale_down_grace_period(api, fn):
    fn("stubborn", env={"IGNORE_SIGTERM": "1"}, annotations={GRACE: "500ms"})
    fn("polite", annotations={GRACE: "8s"})
    assert call(api, "stubborn", "/hello").status_code == 200
    assert call(api, "polite", "/hello").status_code == 200
    p_stubborn = insts(wait_ready(api, "stubborn", 1))[0]["pid"]
    p_polite = insts(wait_ready(api, "polite", 1))[0]["pid"]
    t0 = time.monotonic()
    scale(api, "stubborn", 0)
    scale(api, "polite", 0)
    wait_gone(p_polite, "the instance that honours SIGTERM to exit")
    t_polite = time.monotonic() - t0
    wait_gone(p_stubborn, "the instance that ignores SIGTERM to be killed")
    t_stubborn = time.monotonic() - t0
    assert t_polite < 4, "SIGTERM'd instance took %.2fs (grace 8s: was it sent SIGTERM?)" % t_polite
    assert t_stubborn >= 0.45, "killed after %.2fs, before its 500ms grace period" % t_stubborn
    assert t_stubborn < 0.5 + 4 * SLOW, "killed only after %.2fs, grace period 500ms" % t_stubborn
    for name in ("stubborn", "polite"):
        wait_status(api, name, lambda st: replicas(st) == 0 and insts(st) == [], "%s: no instances" % name)


# ---- the proxy: path, method, headers ------------------------------------------------------------

def test_path_query_and_methods(api, fn):
    fn("px")
    r = call(api, "px", "/headers?x=1&y=two%20words")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    j = r.json()
    assert j["path"] == "/headers" and j["query"] == "x=1&y=two%20words" and j["method"] == "GET", j
    for m in ("POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        r = call(api, "px", "/headers", method=m, data=b"body")
        assert r.status_code == 200, (m, r.text)
        assert r.json()["method"] == m
    r = call(api, "px", "/headers", method="HEAD")
    assert r.status_code == 200 and r.content == b""
    # the root of the function and NAME.NAMESPACE
    assert call(api, "px", "").text == "hello\n"
    j = call(api, "px." + DEFAULT_NS, "/headers?q=ns").json()
    assert j["path"] == "/headers" and j["query"] == "q=ns", j
    # unknown function
    r = call(api, "no-such-fn", "/hello")
    assert r.status_code == 404, r.text


def test_proxy_headers(api, daemon, fn):
    fn("hx")
    before = time.time_ns()
    r = call(api, "hx", "/headers")
    after = time.time_ns()
    assert r.status_code == 200, r.text
    h = r.json()["headers"]
    # X-Call-Id: made (UUID), the same on both sides
    cid = r.headers.get("X-Call-Id", "")
    assert UUID.match(cid), cid
    assert hdr(h, "X-Call-Id") == cid
    # X-Start-Time: Unix ns, to the function and on the response
    for v in (hdr(h, "X-Start-Time"), r.headers.get("X-Start-Time")):
        assert v is not None and v.isdigit(), (v, h)
        assert before - 10**9 <= int(v) <= after + 10**9, (before, v, after)
    # X-Forwarded-For / -Host added when absent
    assert hdr(h, "X-Forwarded-For") == "127.0.0.1", h
    assert hdr(h, "X-Forwarded-Host") == "127.0.0.1:%d" % daemon.port, h
    # X-Duration-Seconds on the response
    d = float(r.headers["X-Duration-Seconds"])
    assert 0 <= d < 60
    # the function's own headers come through
    assert r.headers.get("X-Instance-Id")

    # the caller's X-Call-Id and X-Forwarded-* are kept
    r = call(api, "hx", "/headers", headers={"X-Call-Id": "my-call-42", "X-Forwarded-For": "203.0.113.9",
                                             "X-Forwarded-Host": "example.test"})
    h = r.json()["headers"]
    assert r.headers["X-Call-Id"] == "my-call-42" and hdr(h, "X-Call-Id") == "my-call-42"
    assert hdr(h, "X-Forwarded-For") == "203.0.113.9", h
    assert hdr(h, "X-Forwarded-Host") == "example.test", h

    # hop-by-hop headers, and the names listed in Connection, stay behind
    r = call(api, "hx", "/headers", headers={
        "Connection": "keep-alive, X-Hop-Secret",
        "X-Hop-Secret": "must-not-pass",
        "Keep-Alive": "timeout=5",
        "Proxy-Authorization": "Basic bm90OmZvcndhcmRlZA==",
        "TE": "trailers",
        "Trailer": "X-Checksum",
        "Upgrade": "example/1",
        "X-End-To-End": "passes",
    })
    assert r.status_code == 200, r.text
    h = r.json()["headers"]
    assert hdr(h, "X-End-To-End") == "passes", h
    for name in ("X-Hop-Secret", "Keep-Alive", "Proxy-Authorization", "TE", "Trailer", "Upgrade"):
        assert hdr(h, name) is None, "%s forwarded: %s" % (name, h)
    assert "x-hop-secret" not in (hdr(h, "Connection") or "").lower(), h
    assert "must-not-pass" not in json.dumps(h)


def test_function_status_passed_through(api, fn):
    fn("codes")
    for code in (500, 404, 503, 201):
        r = call(api, "codes", "/status?code=%d" % code)
        assert r.status_code == code, (code, r.status_code, r.text)
        # the function's answer, not a gateway error
        assert r.text == "status %d\n" % code, r.text
        assert r.headers["Content-Type"] == "text/plain"
    r = call(api, "codes", "/status?code=204")
    assert r.status_code == 204 and r.content == b""
    r = call(api, "codes", "/not-a-route")
    assert r.status_code == 404 and r.text == "not found\n"


# ---- streaming -----------------------------------------------------------------------------------

def _echo_raw(port, name, total, chunked, block=MIB):
    """POST total bytes to /function/NAME/echo from a sender thread while
    this thread reads the echo: a streaming chain (client -> daemon ->
    function -> daemon -> client) with back-pressure deadlocks a client that
    reads only after sending everything (as requests does) once the body is
    larger than the socket buffers. Returns (status, content-type, received
    length, sha256 sent, sha256 received)."""
    base = os.urandom(block)
    sent = hashlib.sha256()
    s = socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT)
    head = ("POST /function/%s/echo HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/x-hm-test\r\n"
            "Connection: close\r\n" % (name, port))
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else "Content-Length: %d\r\n\r\n" % total
    err = []

    def send():
        try:
            s.sendall(head.encode())
            left, i = total, 0
            while left > 0:
                b = struct.pack("<Q", i) + base[8:]   # every block distinct: order and loss show
                b = b[:left]
                sent.update(b)
                s.sendall(b"%x\r\n%s\r\n" % (len(b), b) if chunked else b)
                left -= len(b)
                i += 1
            if chunked:
                s.sendall(b"0\r\n\r\n")
        except OSError as e:
            err.append(e)

    th = threading.Thread(target=send, daemon=True)
    th.start()
    try:
        resp = http.client.HTTPResponse(s, method="POST")
        resp.begin()
        got = hashlib.sha256()
        n = 0
        while True:
            b = resp.read(MIB)
            if not b:
                break
            got.update(b)
            n += len(b)
        th.join(HTTP_TIMEOUT)
    finally:
        s.close()
    assert not err, "sending failed: %r" % err
    return resp.status, resp.getheader("Content-Type"), n, sent.hexdigest(), got.hexdigest()


@pytest.mark.parametrize("chunked", [True, False], ids=["chunked", "content-length"])
def test_upload_64mib_streamed_both_ways(api, daemon, fn, chunked):
    name = "echo-" + ("chunked" if chunked else "cl")
    fn(name)
    assert call(api, name, "/hello").status_code == 200     # warm: the start is not measured
    total = 64 * MIB
    with RssSampler(daemon.pid) as rss:
        st, ctype, n, h_sent, h_got = _echo_raw(daemon.port, name, total, chunked)
    assert st == 200
    assert ctype == "application/x-hm-test"
    assert n == total and h_got == h_sent, "echo differs: %d of %d bytes" % (n, total)
    if not ASAN:   # ASan's quarantine holds freed buffers: RSS then tracks bytes moved, not held
        grew = rss.peak - rss.base
        assert grew < 16 * MIB, "daemon RSS grew by %.1f MiB during a 64 MiB echo" % (grew / MIB)


def test_download_100mib_streamed(api, daemon, fn):
    fn("bigdl")
    assert call(api, "bigdl", "/hello").status_code == 200
    total = 100 * MIB
    with RssSampler(daemon.pid) as rss:
        r = requests.get(daemon.url + "/function/bigdl/big?bytes=%d" % total, stream=True, timeout=HTTP_TIMEOUT)
        assert r.status_code == 200
        n = 0
        first = None
        for b in r.iter_content(MIB):
            if first is None:
                first = b[:26]
            n += len(b)
    assert n == total
    assert first == b"abcdefghijklmnopqrstuvwxyz"
    if not ASAN:
        grew = rss.peak - rss.base
        assert grew < 16 * MIB, "daemon RSS grew by %.1f MiB during a 100 MiB download" % (grew / MIB)


def test_sse_events_arrive_as_produced(api, daemon, fn):
    fn("sse")
    assert call(api, "sse", "/hello").status_code == 200
    s = socket.create_connection(("127.0.0.1", daemon.port), timeout=HTTP_TIMEOUT)
    try:
        t0 = time.monotonic()
        s.sendall(b"GET /function/sse/sse?n=5&ms=200 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  b"Accept: text/event-stream\r\nConnection: close\r\n\r\n")
        resp = http.client.HTTPResponse(s, method="GET")
        resp.begin()
        assert resp.status == 200
        assert resp.getheader("Content-Type", "").startswith("text/event-stream")
        data, times = b"", []
        while True:
            b = resp.read1(4096)
            if not b:
                break
            data += b
            while data.count(b"\n\n") > len(times):
                times.append(time.monotonic() - t0)
        total = time.monotonic() - t0
    finally:
        s.close()
    assert data == b"".join(b"data: %d\n\n" % i for i in range(5)), data
    assert len(times) == 5
    # the events are 200 ms apart at the function: the first must not wait for the last
    assert times[0] < total - 0.4, "first event at %.3fs, stream ended at %.3fs: buffered" % (times[0], total)
    assert times[4] - times[0] >= 0.6, times


# ---- timeouts -------------------------------------------------------------------------------------

def test_timeout_504_keeps_instance(api, fn):
    fn("slowpoke", annotations={TIMEOUT: "500ms"})
    iid = whoami(api, "slowpoke")
    inst = insts(wait_ready(api, "slowpoke", 1))[0]
    t0 = time.monotonic()
    r = call(api, "slowpoke", "/sleep?ms=3000")
    took = time.monotonic() - t0
    assert r.status_code == 504, (r.status_code, r.text)
    error_of(r)
    assert 0.45 <= took < 2.5, "504 after %.2fs with a 500ms timeout" % took
    # the pool keeps the instance
    st = wait_status(api, "slowpoke", lambda st: [i["id"] for i in insts(st, "ready")] == [inst["id"]]
                     and insts(st, "ready")[0]["inflight"] == 0, "the same instance ready again")
    assert insts(st)[0]["pid"] == inst["pid"]
    r = call(api, "slowpoke", "/whoami")
    assert r.status_code == 200 and r.text.split()[0] == iid


# ---- logs -----------------------------------------------------------------------------------------

def test_instance_logs(api, fn):
    fn("chatty")
    assert call(api, "chatty", "/hello").status_code == 200
    assert call(api, "chatty", "/count").status_code == 200
    inst = insts(wait_ready(api, "chatty", 1))[0]

    def lines():
        r = api.get("/system/logs", params={"name": "chatty", "follow": "false"})
        assert r.status_code == 200, r.text
        recs = [json.loads(x) for x in r.text.splitlines() if x]
        got = [(x["instance"], x["text"]) for x in recs]
        want_out = (inst["id"], "GET /hello 200") in got and (inst["id"], "GET /count 200") in got
        want_err = any(i == inst["id"] and t.startswith("httpfn: instance ") for i, t in got)
        return got if want_out and want_err else None

    try:
        wait_until(lines, DEADLINE, "the instance's stdout and stderr lines in /system/logs", interval=0.05)
    except AssertionError:
        r = api.get("/system/logs", params={"name": "chatty", "follow": "false"})
        raise AssertionError("instance %s lines missing; logs:\n%s" % (inst["id"], r.text[-3000:]))
    r = api.get("/system/logs", params={"name": "chatty", "follow": "false", "instance": inst["id"]})
    recs = [json.loads(x) for x in r.text.splitlines() if x]
    assert recs and all(x["instance"] == inst["id"] and x["name"] == "chatty" for x in recs), recs


# ---- isolation -------------------------------------------------------------------------------------

def netns(pid):
    return os.readlink("/proc/%d/ns/net" % pid)


def ifaces(pid):
    with open("/proc/%d/net/dev" % pid) as f:
        return [line.split(":")[0].strip() for line in f.read().splitlines()[2:] if ":" in line]


def connect_from_netns(pid, port):
    """GET /whoami on 127.0.0.1:port from inside process pid's network
    namespace: the answer, or the connect error's name."""
    code = ("import socket,sys\n"
            "try:\n"
            "  s=socket.create_connection(('127.0.0.1',%d),timeout=5)\n"
            "except OSError as e:\n"
            "  print('ERR',type(e).__name__); sys.exit(0)\n"
            "s.sendall(b'GET /whoami HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')\n"
            "d=b''\n"
            "while True:\n"
            "  b=s.recv(65536)\n"
            "  if not b: break\n"
            "  d+=b\n"
            "print('OK',d.split(b'\\r\\n\\r\\n',1)[1].decode())\n" % port)
    p = subprocess.run(["nsenter", "-t", str(pid), "-n", "/usr/bin/python3", "-c", code],
                       capture_output=True, text=True, timeout=HTTP_TIMEOUT)
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


def test_isolation_netns_uid_and_namespaces(api, daemon, fn, httpimgs):
    img = httpimgs["httpfn-oci.tar"]
    for ns in ("hm-iso-a", "hm-iso-b"):
        r = api.post("/system/namespace/", json={"name": ns, "labels": {"openfaas": "1"}})
        assert r.status_code == 201, r.text
    try:
        # a listens on 9090, b on 8080
        fn("iso", image=img, namespace="hm-iso-a", annotations={PORT: "9090"}, env={"port": "9090"})
        fn("iso", image=img, namespace="hm-iso-b")
        ida = whoami(api, "iso.hm-iso-a")
        idb = whoami(api, "iso.hm-iso-b")
        assert ida != idb
        pa = insts(wait_ready(api, "iso", 1, namespace="hm-iso-a"))[0]["pid"]
        pb = insts(wait_ready(api, "iso", 1, namespace="hm-iso-b"))[0]["pid"]
        # own network namespaces, loopback only
        host = netns(daemon.pid)
        assert len({netns(pa), netns(pb), host}) == 3, (netns(pa), netns(pb), host)
        assert ifaces(pa) == ["lo"] and ifaces(pb) == ["lo"], (ifaces(pa), ifaces(pb))
        # mapped non-root uids (image user 1000), one range per tenant
        ua, ub = proc_uids(pa), proc_uids(pb)
        for u in (ua, ub):
            assert all(x >= UID_BASE and (x - UID_BASE) % 65536 == 1000 for x in u), u
        assert ua[0] != ub[0], (ua, ub)
        # from b's network namespace, a's port does not exist; b's own does
        assert connect_from_netns(pb, 9090) == "ERR ConnectionRefusedError"
        out = connect_from_netns(pb, 8080)
        assert out.startswith("OK " + idb), out
        assert connect_from_netns(pa, 8080) == "ERR ConnectionRefusedError"
    finally:
        for ns in ("hm-iso-a", "hm-iso-b"):
            api.remove("iso", namespace=ns)
            api.delete("/system/namespace/" + ns)


# ---- daemon restart, config defaults --------------------------------------------------------------

def test_min_instances_after_restart_and_kill9(make_daemon, images):
    d = make_daemon()
    a = Api(d)
    import_http_images(a, images)
    a.deploy("keeper", image="httpfn:latest", labels={MIN: "1"}, expect=202)
    p1 = insts(wait_ready(a, "keeper", 1))[0]["pid"]
    d.restart()
    a = Api(d)
    wait_gone(p1, "the old daemon's instance to stop")
    p2 = insts(wait_ready(a, "keeper", 1))[0]["pid"]       # no call made
    assert p2 != p1
    d.kill9()
    wait_gone(p2, "the instance of the killed daemon to die with it")
    d.start()
    a = Api(d)
    p3 = insts(wait_ready(a, "keeper", 1))[0]["pid"]
    assert p3 not in (p1, p2)
    assert call(a, "keeper", "/hello").status_code == 200


def test_config_defaults(make_daemon, images):
    # The daemon-wide defaults the annotations override. Named as the other
    # duration keys of the config are (function_timeout, shutdown_grace):
    # no unit suffix, a Go duration string (a bare number means seconds).
    d = make_daemon(config={"http_timeout": "500ms", "http_idle": "1s", "http_queue_max": 1,
                            "http_grace": "400ms"})
    a = Api(d)
    import_http_images(a, images)
    a.deploy("c-timeout", image="httpfn:latest", labels={ZERO: "true"}, expect=202)
    a.deploy("c-queue", image="httpfn:latest", labels={MAX: "1"},
             annotations={MAX_INFLIGHT: "1", TIMEOUT: "30s"}, expect=202)
    a.deploy("c-grace", image="httpfn:latest", labels={ZERO: "false"}, env={"IGNORE_SIGTERM": "1"}, expect=202)
    # http_timeout_ms
    t0 = time.monotonic()
    r = call(a, "c-timeout", "/sleep?ms=3000")
    assert r.status_code == 504, (r.status_code, r.text)
    assert time.monotonic() - t0 < 2.5
    # http_idle_ms
    wait_status(a, "c-timeout", lambda st: replicas(st) == 0 and insts(st) == [], "c-timeout idle to 0")
    # http_queue_max: one waits, one is refused
    rs, codes, _ = _queue_429(a, "c-queue", 1500, 2)
    assert codes == [200, 429], [(r.status_code, r.text[:100]) for r, _ in rs]
    # http_grace_ms
    assert call(a, "c-grace", "/hello").status_code == 200
    pid = insts(wait_ready(a, "c-grace", 1))[0]["pid"]
    t0 = time.monotonic()
    scale(a, "c-grace", 0)
    wait_gone(pid, "c-grace killed after its grace period")
    took = time.monotonic() - t0
    assert 0.35 <= took < 0.4 + 4 * SLOW, "killed %.2fs after the scale-down, grace 400ms" % took


def test_ready_timeout_fails_the_start(make_daemon, images):
    # An instance that does not listen within http_ready_timeout is stopped
    # and counted as a failed start: the waiting call gets a 503 naming it
    # (not a 504 after the call's whole timeout), lastError says why, and
    # the next call starts afresh.
    d = make_daemon(config={"http_ready_timeout": "1s"})
    a = Api(d)
    import_http_images(a, images)
    a.deploy("never-ready", image="httpfn:latest", env={"LISTEN_DELAY_MS": "60000"}, labels={ZERO: "true"},
             expect=202)
    t0 = time.monotonic()
    r = call(a, "never-ready", "/hello")
    took = time.monotonic() - t0
    assert r.status_code == 503, (r.status_code, r.text)
    assert "not ready within 1000 ms" in error_of(r)
    assert 0.9 <= took < 1 + 4 * SLOW
    st = a.get("/system/function/never-ready").json()
    assert "not ready within" in st["sfaasd"]["lastError"]
    wait_status(a, "never-ready", lambda st: insts(st) == [], "the unready instance is gone")


# ---- clients that misbehave, and HTTP edge cases through the proxy ---------------------------

def _raw(daemon, data, until_close=True, timeout=HTTP_TIMEOUT):
    s = socket.create_connection(("127.0.0.1", daemon.port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        while until_close:
            b = s.recv(65536)
            if not b:
                break
            out += b
        return out
    finally:
        s.close()


def test_abandoned_clients_leave_the_instance_serving(api, daemon, fn):
    # Uploads dropped mid-body, downloads and event streams dropped
    # mid-answer: the instance stays the same ready one, nothing in flight
    # is left behind, and the daemon's open files come back to where they were.
    # One instance at most: 30 abandoned calls at once are load enough for
    # the autoscaler to add instances (seen under ASan: 1 -> 5, then back to
    # 1 after its window, keeping a newer one).
    fn("abandon", labels={MIN: "1", MAX: "1"})
    pid = insts(wait_ready(api, "abandon", 1))[0]["pid"]
    fds_before = len(os.listdir("/proc/%d/fd" % daemon.pid))
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", daemon.port))
        s.sendall(b"POST /function/abandon/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n"
                  + b"a" * 100000)
        s.close()
    for _ in range(10):
        s = socket.create_connection(("127.0.0.1", daemon.port))
        s.sendall(b"GET /function/abandon/big?bytes=50000000 HTTP/1.1\r\nHost: x\r\n\r\n")
        s.recv(1000)
        s.close()
    for i in range(10):
        s = socket.create_connection(("127.0.0.1", daemon.port))
        s.sendall(b"GET /function/abandon/sse?n=50&ms=20 HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        s.recv(100)
        s.close()
    wait_status(api, "abandon", lambda st: [i["inflight"] for i in insts(st)] == [0],
                "no call left in flight")
    st = status(api, "abandon")
    assert [i["pid"] for i in insts(st, "ready")] == [pid]
    assert call(api, "abandon", "/hello").text == "hello\n"
    wait_until(lambda: len(os.listdir("/proc/%d/fd" % daemon.pid)) <= fds_before + 2, DEADLINE,
               "the daemon's fds back near %d" % fds_before)


def test_pipelined_calls_answered_in_order(api, daemon, fn):
    fn("pipeline")
    out = _raw(daemon, b"GET /function/pipeline/hello HTTP/1.1\r\nHost: x\r\n\r\n"
                       b"POST /function/pipeline/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nworld"
                       b"GET /function/pipeline/status?code=201 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    heads = re.findall(rb"HTTP/1\.1 (\d{3})", out)
    assert heads == [b"200", b"200", b"201"], out[:400]
    assert out.index(b"hello\n") < out.index(b"world") < out.rindex(b"HTTP/1.1 201")


def test_http10_client_of_a_chunked_answer(api, daemon, fn):
    # An HTTP/1.0 client cannot take chunked coding: the body ends at the close.
    fn("h10")
    out = _raw(daemon, b"GET /function/h10/sse?n=3&ms=10 HTTP/1.0\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"transfer-encoding" not in head.lower() and b"connection: close" in head.lower(), head
    assert body == b"data: 0\n\ndata: 1\n\ndata: 2\n\n", body


def test_head_keeps_the_length_and_sends_no_body(api, daemon, fn):
    fn("headfn")
    out = _raw(daemon, b"HEAD /function/headfn/big?bytes=1000 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"content-length: 1000" in head.lower(), head
    assert body == b""


def test_bad_chunk_from_the_client_is_400(api, daemon, fn):
    fn("badchunk")
    out = _raw(daemon, b"POST /function/badchunk/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"zz\r\nabc\r\n0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400"), out[:200]
    assert call(api, "badchunk", "/hello").status_code == 200


def test_bad_chunk_to_an_exec_mode_call_is_400(api, daemon, busybox):
    # The same bad chunk on an exec-mode call, whose body is read into memory.
    api.deploy("execchunk", fprocess="cat", annotations={MODE: "exec"}, expect=202)
    try:
        out = _raw(daemon, b"POST /function/execchunk HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"3\r\nabc\r\nzz\r\n")
        assert out.startswith(b"HTTP/1.1 400"), out[:200]
        r = api.invoke("execchunk", data=b"still here")
        assert r.status_code == 200 and r.content == b"still here", r.text
    finally:
        api.remove("execchunk")


def test_bodies_ended_early_leave_nothing_behind(api, daemon, fn):
    # The ways a proxied call's body can end before it is whole, with no
    # answer begun (/hello answers after the body): the client leaves, the
    # call's timeout, a bad chunk after good ones. Each ends the call; under
    # ASan the daemon's exit (checked by the fixture) finds nothing leaked.
    fn("midbody", labels={MIN: "1"}, annotations={TIMEOUT: "1s"})
    pid = insts(wait_ready(api, "midbody", 1))[0]["pid"]
    head = b"POST /function/midbody/hello HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"
    for _ in range(5):
        s = socket.create_connection(("127.0.0.1", daemon.port))
        s.sendall(head + b"a" * 1000)
        s.close()
    out = _raw(daemon, head + b"a" * 1000)
    assert out.startswith(b"HTTP/1.1 504"), out[:200]
    out = _raw(daemon, b"POST /function/midbody/hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"5\r\nhello\r\nzz\r\n")
    assert out.startswith(b"HTTP/1.1 400"), out[:200]
    wait_status(api, "midbody", lambda st: [i["inflight"] for i in insts(st)] == [0], "no call left in flight")
    assert [i["pid"] for i in insts(status(api, "midbody"), "ready")] == [pid]
    assert call(api, "midbody", "/hello").text == "hello\n"
