# SPDX-License-Identifier: MIT
"""Admission control for sandboxes (issue 13, point 3).

- exec calls of one function run at most com.sfaasd.max-inflight at once;
  the rest wait in a queue of com.sfaasd.queue-max, past which 429 with
  Retry-After (async calls wait whatever the queue holds);
- at most max_sandboxes sandboxes at once, exec calls and warm instances
  together; waiters are served in order, and a warm instance idle above its
  floor gives its slot up to a waiting call;
- the daemon's cgroup subtree carries the limits of all sandboxes together
  (sandboxes_memory, sandboxes_pids): a fork bomb in several sandboxes at
  once stops at the subtree's pids.max, whatever each sandbox may have;
- a caller that disconnects from an exec call (or only closes its sending
  side) takes its sandbox with it at once; a queued one leaves the queue.

Everything is checked host-side: sandbox leaves in the daemon's cgroup
subtree, processes, the subtree's own counters; and after each test nothing
is left (no leaf cgroup, no process of the function, the daemon's fds back).
"""
import concurrent.futures
import json
import os
import socket
import time

import pytest
import requests

from sfaasd_testlib import (HTTP_TIMEOUT, SLOW, Api, cgroup_subtree_candidates, data_dir_id, existing_dirs,
                            fd_count, leaf_cgroups, read_response, wait_until)

DEADLINE = 30 * SLOW


def sandboxes(daemon):
    """Sandbox leaves alive, counted in one hierarchy (memory, or v2's)."""
    subtrees = existing_dirs(cgroup_subtree_candidates(daemon))
    mem = [s for s in subtrees if "/memory/" in s] or [s for s in subtrees if not s.endswith("-daemon")][:1]
    return len(leaf_cgroups(mem))


def metric(api, name, labels=""):
    text = api.get("/metrics").text
    for line in text.splitlines():
        if line.startswith(name + labels + " ") or (not labels and line.startswith(name + " ")):
            return float(line.split()[-1])
    raise AssertionError("no %s%s in /metrics" % (name, labels))


def procs_in_subtree(daemon):
    """Processes whose cgroup is below the daemon's sandbox subtree."""
    name = "sfaasd-%s-%d/" % (data_dir_id(daemon.data_dir), daemon.pid)
    n = 0
    for e in os.listdir("/proc"):
        if e.isdigit():
            try:
                with open("/proc/%s/cgroup" % e) as f:
                    if name in f.read():
                        n += 1
            except OSError:
                pass
    return n


def host_mounts_naming(path):
    with open("/proc/self/mountinfo") as f:
        return sum(1 for line in f if path in line)


def assert_nothing_left(daemon, fds_before, mounts_before=0):
    wait_until(lambda: sandboxes(daemon) == 0, DEADLINE, "every sandbox leaf gone")
    wait_until(lambda: procs_in_subtree(daemon) == 0, DEADLINE, "no process left in the sandboxes' cgroups")
    wait_until(lambda: fd_count(daemon.pid) <= fds_before + 2, DEADLINE, "the daemon's fds back")
    # Sandboxes mount in their own mount namespaces: the host's table never
    # names the data folder.
    assert host_mounts_naming(daemon.data_dir) == mounts_before


def start_daemon(make_daemon, images, config):
    # One sandbox per call, counted by its cgroup leaf: without the exec
    # stock, whose parked sandboxes would be leaves too. Admission with a
    # stock: tests/integration/test_stock.py.
    config = dict(config, exec_stock_max=0)
    d = make_daemon(config)
    api = Api(d)
    r = api.import_image(images.path("busybox-oci.tar"))
    assert r.status_code == 200, r.text
    return d, api


def raw_call(port, name, body=b"x"):
    s = socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT)
    s.sendall(b"POST /function/%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (name.encode(), len(body))
              + body)
    return s


def test_per_function_limit_queue_and_429(make_daemon, images):
    d, api = start_daemon(make_daemon, images, {})
    fds = fd_count(d.pid)
    api.deploy("slow", fprocess="sleep 3", annotations={"com.sfaasd.max-inflight": "2",
                                                         "com.sfaasd.queue-max": "2"}, expect=202)
    peak = [0]

    def watch(stop):
        while not stop.is_set():
            peak[0] = max(peak[0], sandboxes(d))
            time.sleep(0.02)

    import threading
    stop = threading.Event()
    t = threading.Thread(target=watch, args=(stop,))
    t.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            futs = []
            for i in range(6):
                futs.append(ex.submit(api.invoke, "slow", data=b"x"))
                time.sleep(0.1)  # in order: 2 run, 2 wait, 2 are refused
            rs = [f.result() for f in futs]
    finally:
        stop.set()
        t.join()
    codes = sorted(r.status_code for r in rs)
    assert codes == [200, 200, 200, 200, 429, 429], [(r.status_code, r.text) for r in rs]
    refused = [r for r in rs if r.status_code == 429]
    assert all(r.headers.get("Retry-After") == "1" for r in refused)
    assert all("is busy" in r.json()["error"] for r in refused), refused[0].text
    assert peak[0] <= 2, "saw %d sandboxes of a function limited to 2" % peak[0]
    assert metric(api, "sfaasd_admission_refused_total") == 2
    assert_nothing_left(d, fds)


def test_daemon_wide_cap_across_functions(make_daemon, images):
    d, api = start_daemon(make_daemon, images, {"max_sandboxes": 3})
    assert "at most 3 at once" in d.log()
    for n in ("a", "b"):
        api.deploy(n, fprocess="sleep 2", annotations={"com.sfaasd.max-inflight": "3"}, expect=202)
    fds = fd_count(d.pid)
    assert metric(api, "sfaasd_sandbox_slots", '{state="max"}') == 3
    peak = [0]
    import threading
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            peak[0] = max(peak[0], sandboxes(d))
            time.sleep(0.02)

    t = threading.Thread(target=watch)
    t.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(5) as ex:
            futs = [ex.submit(api.invoke, n, data=b"x") for n in ("a", "a", "a", "b", "b")]
            rs = [f.result() for f in futs]
    finally:
        stop.set()
        t.join()
    assert [r.status_code for r in rs] == [200] * 5, [(r.status_code, r.text) for r in rs]
    assert peak[0] <= 3, "saw %d sandboxes with max_sandboxes 3" % peak[0]
    assert_nothing_left(d, fds)


def test_idle_warm_instance_gives_its_slot_to_a_waiting_call(make_daemon, images):
    d, api = start_daemon(make_daemon, images, {"max_sandboxes": 1})
    r = api.import_image(images.path("httpfn-oci.tar"))
    assert r.status_code == 200, r.text
    # min 0 (scale to zero asked): its one instance is above its floor, so
    # it may give its slot up; a function at its minimum keeps its instance
    api.deploy("warm", image="httpfn:latest", labels={"com.openfaas.scale.zero": "true"}, expect=202)
    api.deploy("ex", fprocess="cat", expect=202)
    r = api.invoke("warm", path="/hello")
    assert r.status_code == 200 and r.text == "hello\n"
    # The one slot is the idle warm instance's (scale to zero is 5 min away):
    # an exec call waits, the instance is stopped for it, the call runs.
    r = api.invoke("ex", data=b"after")
    assert r.status_code == 200 and r.content == b"after", r.text
    assert "stopping idle instance" in d.log()
    # And the other way round: the warm function starts again once the slot is free.
    r = api.invoke("warm", path="/hello")
    assert r.status_code == 200 and r.text == "hello\n"


def test_sandboxes_together_held_by_the_subtree_limits(make_daemon, images):
    d, api = start_daemon(make_daemon, images, {"max_sandboxes": 3, "sandboxes_pids": 100,
                                                "sandboxes_memory": "300Mi", "function_pids": 64})
    fds = fd_count(d.pid)
    subtrees = [s for s in existing_dirs(cgroup_subtree_candidates(d)) if not s.endswith("-daemon")]
    pids_dir = [s for s in subtrees if "/pids/" in s] or subtrees[:1]
    mem_dir = [s for s in subtrees if "/memory/" in s] or subtrees[:1]
    with open(os.path.join(pids_dir[0], "pids.max")) as f:
        assert f.read().strip() == "100"
    mem_file = "memory.limit_in_bytes" if "/memory/" in mem_dir[0] else "memory.max"
    with open(os.path.join(mem_dir[0], mem_file)) as f:
        assert int(f.read()) == 300 << 20
    # Three sandboxes that each try to hold 60 processes (each may have 64):
    # together they stop at the subtree's 100.
    api.deploy("bomb", fprocess="sh", annotations={"com.sfaasd.max-inflight": "3"}, expect=202)
    script = b"for i in $(seq 60); do sleep 3 & done; wait; echo done"
    peak = [0]
    import threading
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            try:
                with open(os.path.join(pids_dir[0], "pids.current")) as f:
                    peak[0] = max(peak[0], int(f.read()))
            except OSError:
                pass
            time.sleep(0.01)

    t = threading.Thread(target=watch)
    t.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(3) as ex:
            rs = [f.result() for f in [ex.submit(api.invoke, "bomb", data=script) for _ in range(3)]]
    finally:
        stop.set()
        t.join()
    # They wanted about 3 x 61, each within its own 64: only the subtree's
    # 100 can refuse a fork, and it did (the shell says so on stderr); the
    # sum never went past it.
    assert 0 < peak[0] <= 100, peak[0]
    assert any(r.status_code == 500 and "can't fork" in r.text for r in rs), [(r.status_code, r.text[:200]) for r in rs]
    print("\nthree fork-heavy sandboxes: peak %d pids under the subtree's 100; statuses %s" %
          (peak[0], [r.status_code for r in rs]))
    assert_nothing_left(d, fds)


def test_disconnect_kills_the_exec_sandbox(make_daemon, images):
    d, api = start_daemon(make_daemon, images, {})
    fds = fd_count(d.pid)
    api.deploy("long", fprocess="sleep 60", expect=202)
    for how in ("close", "shut_wr"):
        s = raw_call(d.port, "long")
        wait_until(lambda: sandboxes(d) == 1, DEADLINE, "the call's sandbox")
        # the oracle of assert_nothing_left sees a live one (the sandbox's
        # group exists a moment before its process has joined it)
        wait_until(lambda: procs_in_subtree(d) >= 1, DEADLINE, "the sandbox's process in its cgroup")
        t0 = time.monotonic()
        if how == "close":
            s.close()
        else:
            s.shutdown(socket.SHUT_WR)  # the end of its stream: gone too
        wait_until(lambda: sandboxes(d) == 0, 10 * SLOW, "the sandbox killed (%s)" % how)
        took = time.monotonic() - t0
        assert took < 5 * SLOW, "sandbox lived %.1fs after the caller went (%s)" % (took, how)
        if how == "shut_wr":
            s.close()
    logs = api.get("/system/logs", params={"name": "long"}).text
    assert logs.count("was killed: the caller went away") == 2, logs
    assert_nothing_left(d, fds)


def test_many_short_client_timeouts_leave_nothing(make_daemon, images):
    # The report's curl -m 0.5 case: 30 callers that give up after 0.5 s.
    d, api = start_daemon(make_daemon, images, {})
    fds = fd_count(d.pid)
    api.deploy("long", fprocess="sleep 60", annotations={"com.sfaasd.max-inflight": "40"}, expect=202)

    def call(_):
        try:
            api.invoke("long", data=b"x", timeout=0.5)
        except requests.exceptions.RequestException:
            pass

    with concurrent.futures.ThreadPoolExecutor(30) as ex:
        list(ex.map(call, range(30)))
    wait_until(lambda: sandboxes(d) == 0, 10 * SLOW, "every sandbox killed")
    assert_nothing_left(d, fds)


def test_queued_call_leaves_the_queue_when_its_caller_goes(make_daemon, images):
    d, api = start_daemon(make_daemon, images, {})
    api.deploy("one", fprocess="sleep 8", annotations={"com.sfaasd.max-inflight": "1"}, expect=202)
    first = raw_call(d.port, "one")
    wait_until(lambda: sandboxes(d) == 1, DEADLINE, "the first call's sandbox")
    second = raw_call(d.port, "one")
    wait_until(lambda: metric(api, "sfaasd_exec_queued_calls") == 1, DEADLINE, "the second call queued")
    second.close()
    wait_until(lambda: metric(api, "sfaasd_exec_queued_calls") == 0, DEADLINE, "the second call gone")
    r = read_response(first)
    assert r.status == 200, r
    first.close()
    # Only the first ran.
    wait_until(lambda: sandboxes(d) == 0, DEADLINE, "the first call's sandbox gone")
    assert metric(api, "gateway_function_invocation_total",
                  '{function_name="one.openfaas-fn",code="200"}') == 1


def test_async_calls_wait_whatever_the_queue(make_daemon, images):
    d, api = start_daemon(make_daemon, images, {"async_concurrency": 3})
    api.deploy("q", fprocess="sh", annotations={"com.sfaasd.max-inflight": "1", "com.sfaasd.queue-max": "0"},
               expect=202)
    ids = []
    for i in range(3):
        r = requests.post(d.url + "/async-function/q", data=b"sleep 1; echo %d" % i, timeout=HTTP_TIMEOUT)
        assert r.status_code == 202, r.text
        ids.append(r.headers["X-Call-Id"])

    def done():
        states = [api.get("/system/async/" + i).json() for i in ids]
        return all(s["state"] in ("done", "failed") for s in states) and states

    states = wait_until(done, 60 * SLOW, "the async calls to finish", interval=0.2)
    assert all(s["state"] == "done" and s["status"] == 200 for s in states), json.dumps(states)
    # A sync call meanwhile finds no room in a queue of 0: 429 (the async ones never do).

