# SPDX-License-Identifier: MIT
"""The sandbox init (sandbox/init/) and how killed calls are described
(issue 10, findings 7 and 8).

Every sandbox runs sfaasd's own minimal init as pid 1, which forks the
function, forwards SIGTERM & co. to it and reaps orphans:

  - an http-mode server with no SIGTERM handler (httpfn SIGTERM_DEFAULT=1;
    as pid 1 the kernel dropped SIGTERM) stops at once on a scale to zero
    and on the daemon's SIGTERM, well within a 20 s grace period;
  - orphans of a function that never reaps leave no zombie (host side: the
    processes of the sandbox's pid namespace);
  - SIGTERM sent to the sandbox reaches a function's trap.

A killed call's answer says why: the timeout (504), the shutdown (503),
out of memory (500, from the cgroup's OOM kill count), a signal by name;
an exit code stays an exit code, 137 included.

Time bounds here are event bounds (the stop happened before the grace
period ran out), not performance figures.
"""
import os
import signal
import subprocess
import threading
import time

import pytest

from sfaasd_testlib import (BIN, HTTP_TIMEOUT, SLOW, Api, error_of, proc_stat, procs_with_argv, wait_until)

GRACE = "com.sfaasd.grace-period"
ZERO = "com.openfaas.scale.zero"
MIN = "com.openfaas.scale.min"
LONG_GRACE_S = 20


def import_httpfn(api, images):
    r = api.import_image(images.path("httpfn-oci.tar"))
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def httpfn(api, images):
    import_httpfn(api, images)


def instances(api, name):
    r = api.get("/system/function/" + name)
    assert r.status_code == 200, r.text
    return r.json()["sfaasd"]["instances"]


def wait_one_ready(api, name):
    return wait_until(lambda: [i for i in instances(api, name) if i["state"] == "ready"] or None,
                      30 * SLOW, "%s: a ready instance" % name)[0]


def pid_ns(pid):
    try:
        return os.readlink("/proc/%d/ns/pid" % pid)
    except OSError:
        return None


def ns_procs(ns):
    """(pid, state) of every host process in pid namespace ns."""
    out = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        pid = int(e)
        if pid_ns(pid) == ns:
            st = proc_stat(pid)
            if st:
                out.append((pid, st[0]))
    return out


def in_thread(fn):
    box = {}

    def run():
        try:
            box["r"] = fn()
        except Exception as e:  # checked by the caller
            box["e"] = e

    th = threading.Thread(target=run)
    th.start()
    return th, box


# ---- SIGTERM reaches a server without a handler ---------------------------------

def test_scale_to_zero_stops_handlerless_server_at_once(api, httpfn):
    api.deploy("noterm", image="httpfn:latest", env={"SIGTERM_DEFAULT": "1"},
               annotations={GRACE: "%ds" % LONG_GRACE_S}, expect=202)
    try:
        assert api.invoke("noterm", method="GET", path="/hello").status_code == 200
        inst = wait_one_ready(api, "noterm")
        t0 = time.monotonic()
        r = api.post("/system/scale-function/noterm", json={"serviceName": "noterm", "replicas": 0})
        assert r.status_code == 200, r.text
        # SIGTERM's default action ends it: gone long before the grace period
        wait_until(lambda: proc_stat(inst["pid"]) is None, LONG_GRACE_S / 2, "the instance to stop on SIGTERM")
        assert time.monotonic() - t0 < LONG_GRACE_S / 2
        wait_until(lambda: instances(api, "noterm") == [], 30 * SLOW, "no instance left")
    finally:
        api.remove("noterm")


def test_daemon_sigterm_stops_handlerless_instances_at_once(make_daemon, images):
    d = make_daemon(config={"http_grace": "%ds" % LONG_GRACE_S, "shutdown_grace": "%ds" % (2 * LONG_GRACE_S)})
    a = Api(d)
    import_httpfn(a, images)
    for n in ("nt1", "nt2"):
        a.deploy(n, image="httpfn:latest", env={"SIGTERM_DEFAULT": "1"}, labels={MIN: "1", ZERO: "false"},
                 expect=202)
    pids = [wait_one_ready(a, n)["pid"] for n in ("nt1", "nt2")]
    t0 = time.monotonic()
    d.signal(signal.SIGTERM)
    rc = d.wait(timeout=LONG_GRACE_S)  # raises when it is still running then
    took = time.monotonic() - t0
    assert rc == 0, d.log_tail()
    assert took < LONG_GRACE_S, "shutdown took %.1fs, the instances' whole grace period" % took
    assert all(proc_stat(p) is None for p in pids)
    assert "grace period" not in d.log(), d.log_tail()


# ---- orphans are reaped -----------------------------------------------------------

def test_orphans_reaped_while_function_runs(api, busybox):
    # The shell starts three short-lived orphans, then becomes `sleep`, which
    # never reaps anything: only pid 1 can. No zombie may stay in the sandbox.
    api.deploy("orphans", fprocess="sh -s orphans-marker", env={"exec_timeout": "60s"}, expect=202)
    try:
        body = b"(sleep 0 &); (sleep 0 &); (sleep 0 &); exec sleep 987700\n"
        th, box = in_thread(lambda: api.invoke("orphans", data=body))
        fn = wait_until(lambda: procs_with_argv(["sleep", "987700"]), 30 * SLOW, "the function to run")[0]
        ns = pid_ns(fn)
        init = proc_stat(fn)[1]
        assert pid_ns(init) == ns
        # Only the init and the function itself are left, none a zombie.
        wait_until(lambda: sorted(ns_procs(ns)) == sorted([(init, "S"), (fn, "S")]), 10 * SLOW,
                   "the orphans to be reaped (left: %r)" % (ns_procs(ns),))
        # A signal from outside: named by number and name.
        os.kill(fn, signal.SIGKILL)
        th.join(HTTP_TIMEOUT)
        r = box["r"]
        assert r.status_code == 500, r.text
        assert "was killed by signal 9 (SIGKILL)" in error_of(r), error_of(r)
    finally:
        api.remove("orphans")


# ---- SIGTERM to the sandbox reaches the function ---------------------------------

def test_sigterm_forwarded_to_function_trap(api, busybox):
    api.deploy("trapper", fprocess="sh -s trapper-marker", env={"exec_timeout": "60s"}, expect=202)
    try:
        body = b"trap 'echo got-term; exit 0' TERM\nsleep 987701 & wait\n"
        th, box = in_thread(lambda: api.invoke("trapper", data=body))
        # the trap is set before the sleep starts
        sl = wait_until(lambda: procs_with_argv(["sleep", "987701"]), 30 * SLOW, "the function's sleep")[0]
        shell = proc_stat(sl)[1]
        init = proc_stat(shell)[1]
        assert pid_ns(init) == pid_ns(sl)
        os.kill(init, signal.SIGTERM)  # as the daemon does when it stops an instance
        th.join(HTTP_TIMEOUT)
        r = box["r"]
        assert r.status_code == 200, r.text
        assert r.text == "got-term\n"
    finally:
        api.remove("trapper")


# ---- kill reasons ------------------------------------------------------------------

def test_exit_codes_stay_exit_codes(api, busybox):
    api.deploy("codes", fprocess="sh", expect=202)
    try:
        for code in (3, 137):
            r = api.invoke("codes", data=b"exit %d\n" % code)
            assert r.status_code == 500, r.text
            assert r.json()["exitCode"] == code
            assert error_of(r) == "function 'codes.openfaas-fn' exited with status %d" % code
        r = api.invoke("codes", data=b"kill -TERM $$\n")
        assert r.status_code == 500, r.text
        assert "exitCode" not in r.json()
        assert error_of(r) == "function 'codes.openfaas-fn' was killed by signal 15 (SIGTERM)"
    finally:
        api.remove("codes")


def test_timeout_named(api, busybox):
    api.deploy("slowpoke", fprocess="sleep 987702", env={"exec_timeout": "1s"}, expect=202)
    try:
        r = api.invoke("slowpoke")
        assert r.status_code == 504, r.text
        assert "timed out after 1000 ms" in error_of(r)
    finally:
        api.remove("slowpoke")


def test_exec_call_killed_by_shutdown_named(make_daemon, images):
    d = make_daemon(config={"shutdown_grace": "1s"})
    a = Api(d)
    assert a.import_image(images.path("busybox-oci.tar")).status_code == 200
    a.deploy("longcall", fprocess="sleep 987703", expect=202)
    th, box = in_thread(lambda: a.invoke("longcall"))
    wait_until(lambda: procs_with_argv(["sleep", "987703"]), 30 * SLOW, "the call to run")
    d.signal(signal.SIGTERM)
    th.join(HTTP_TIMEOUT)
    assert d.wait() == 0, d.log_tail()
    assert "e" not in box, box
    r = box["r"]
    assert r.status_code == 503, r.text
    assert "sfaasd is shutting down" in error_of(r) and "grace period of 1000 ms" in error_of(r), error_of(r)
    assert "signal" not in error_of(r)


def test_http_call_killed_by_shutdown_named(make_daemon, images):
    d = make_daemon(config={"shutdown_grace": "1s"})
    a = Api(d)
    import_httpfn(a, images)
    a.deploy("stubborn", image="httpfn:latest", env={"IGNORE_SIGTERM": "1"}, annotations={GRACE: "30s"},
             expect=202)
    th, box = in_thread(lambda: a.invoke("stubborn", method="GET", path="/sleep?ms=60000"))
    wait_until(lambda: any(i["inflight"] for i in instances(a, "stubborn")), 30 * SLOW, "the call in flight")
    d.signal(signal.SIGTERM)
    th.join(HTTP_TIMEOUT)
    assert d.wait() == 0, d.log_tail()
    assert "e" not in box, box
    r = box["r"]
    assert r.status_code == 503, r.text
    assert ("was killed after its grace period of 1000 ms (stopping: sfaasd is shutting down)"
            in error_of(r)), error_of(r)


def test_check_reports_the_init():
    # `sfaasd check` makes the init's sealed memfd as a launcher would
    p = subprocess.run([BIN, "check"], capture_output=True, text=True, timeout=60)
    line = [x for x in (p.stdout + p.stderr).splitlines() if "sandbox init" in x]
    assert line and line[0].startswith("ok"), p.stdout + p.stderr
    assert "sealed memfd" in line[0]


def test_http_call_killed_by_second_signal_named(make_daemon, images):
    d = make_daemon()  # shutdown grace 30 s: only the second signal kills
    a = Api(d)
    import_httpfn(a, images)
    a.deploy("stubborn2", image="httpfn:latest", env={"IGNORE_SIGTERM": "1"}, annotations={GRACE: "30s"},
             expect=202)
    th, box = in_thread(lambda: a.invoke("stubborn2", method="GET", path="/sleep?ms=60000"))
    wait_until(lambda: any(i["inflight"] for i in instances(a, "stubborn2")), 30 * SLOW, "the call in flight")
    d.signal(signal.SIGTERM)
    wait_until(lambda: "received" in d.log(), 30 * SLOW, "the daemon to log the first signal")
    assert th.is_alive(), box
    d.signal(signal.SIGTERM)
    th.join(HTTP_TIMEOUT)
    assert d.wait() == 0, d.log_tail()
    r = box["r"]
    assert r.status_code == 503, r.text
    assert "was killed (stopping: sfaasd is shutting down)" in error_of(r), error_of(r)
