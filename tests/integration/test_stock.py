# SPDX-License-Identifier: MIT
"""The exec stock (issue 18, item 1): sandboxes made before they are needed.

An exec-mode call may be served by a sandbox parked ahead of it
(core/runtime/stock.h). Each test that means the stocked path asserts the
path was taken: sfaasd_exec_stock_hits_total (or _waits_total, a call
that waited for the sandbox being made) moved by one for its call (the
calls of a module run one after another).

- a stocked call returns the right output, status, stderr and exit code;
- consecutive stocked calls see nothing of earlier ones: a file in /tmp,
  an env var from a previous call's header, a background process, the
  previous call's marker anywhere in the processes' memory the kernel
  shows (/proc/*/cmdline, environ), and host-side: a parked sandbox holds
  no call's variables at all (its init's environ, read by host root);
- a call that finds nothing parked while a sandbox is being made takes
  that one, and sees nothing of earlier calls either;
- timeouts answer as they do for a fresh sandbox;
- the stock drops on redeploy (new env seen by the very next call) and on
  delete (its sandboxes and their cgroups gone), and for a function that
  opts out (com.sfaasd.exec-stock: 0) nothing is parked;
- admission caps hold with a stock: parked sandboxes count as sandboxes,
  never take the last slot, and give theirs up to a waiting call;
- a daemon that stops kills its parked sandboxes: no process, no cgroup.
"""
import concurrent.futures
import os
import re
import signal
import socket

import pytest

from sfaasd_testlib import (HTTP_TIMEOUT, SLOW, Api, cgroup_subtree_candidates, data_dir_id, existing_dirs,
                            function_cgroups, is_spare_leaf, leaf_cgroups, procs_with_argv, wait_until)

DEADLINE = 30 * SLOW
DAEMON_CONFIG = {"exec_stock_max": 2, "exec_stock_idle": "60s"}


def metric(api, name, labels=""):
    text = api.get("/metrics").text
    for line in text.splitlines():
        if line.startswith(name + labels + " "):
            return float(line.split()[-1])
    raise AssertionError("no %s%s in /metrics" % (name, labels))


def parked(api):
    return metric(api, "sfaasd_exec_stock_sandboxes", '{state="parked"}')


def hits(api):
    """Calls served by a parked sandbox: one parked when the call came (a
    hit), or the one being made then, which the call waited for (a wait:
    a sandbox seen parked host-side may not be handed to the daemon yet)."""
    return metric(api, "sfaasd_exec_stock_hits_total") + metric(api, "sfaasd_exec_stock_waits_total")


def stocked_call(api, name, data=b"", **kw):
    """A call that a parked sandbox serves: waits for one, asserts the hit."""
    wait_until(lambda: parked_of(api.d, name) >= 1, DEADLINE, "a parked sandbox of " + name)
    before = hits(api)
    r = api.invoke(name, data=data, **kw)
    assert hits(api) == before + 1, "the call was not served from the stock"
    return r


def subtree_procs(daemon):
    """{pid: cmdline bytes} of every process in the daemon's sandbox subtree."""
    name = "sfaasd-%s-%d/" % (data_dir_id(daemon.data_dir), daemon.pid)
    out = {}
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open("/proc/%s/cgroup" % e) as f:
                if name not in f.read():
                    continue
            with open("/proc/%s/cmdline" % e, "rb") as f:
                out[int(e)] = f.read()
        except OSError:
            pass
    return out


def sandbox_inits(daemon):
    """Sandboxes alive: processes of the subtree that are pid 1 of their
    pid namespace (a command forked by an init has its argv until it
    execs, so the command line alone would count it twice)."""
    n = 0
    for pid in subtree_procs(daemon):
        try:
            with open("/proc/%d/status" % pid) as f:
                nspid = [line.split()[1:] for line in f if line.startswith("NSpid:")][0]
            n += len(nspid) > 1 and nspid[-1] == "1"
        except (OSError, IndexError):
            pass
    return n


def parked_of(daemon, name, ns="openfaas-fn"):
    """Parked sandboxes of one function, host-side: leaves whose only
    process is a parked init (one handed its call has forked the command)."""
    subtrees = existing_dirs(cgroup_subtree_candidates(daemon))
    mem = [s for s in subtrees if "/memory/" in s] or [s for s in subtrees if not s.endswith("-daemon")][:1]
    n = 0
    for g in function_cgroups(mem, ns, name):
        for leaf in os.listdir(g):
            try:
                with open(os.path.join(g, leaf, "cgroup.procs")) as f:
                    procs = f.read().split()
                if len(procs) == 1:
                    with open("/proc/%s/cmdline" % procs[0], "rb") as f:
                        n += f.read().startswith(b"sfaasd-init+call")
            except OSError:
                pass
    return n


def fn_leaves(daemon, name, ns="openfaas-fn"):
    subtrees = existing_dirs(cgroup_subtree_candidates(daemon))
    return [leaf for g in function_cgroups(subtrees, ns, name) for leaf in os.listdir(g)
            if os.path.isdir(os.path.join(g, leaf)) and not is_spare_leaf(leaf)]


@pytest.fixture(scope="module")
def fn(api, busybox):
    api.deploy("stk", fprocess="sh", expect=202)
    # The first call is a miss; it sets the demand that fills the stock.
    r = api.invoke("stk", data=b"echo warm")
    assert r.status_code == 200, r.text
    return "stk"


def test_stocked_call_output_and_status(api, fn):
    r = stocked_call(api, fn, b"echo out; echo err >&2; cat /proc/self/status | grep -c NoNewPrivs")
    assert r.status_code == 200, r.text
    assert r.text == "out\n1\n"
    assert r.headers.get("X-Call-Id")
    r = stocked_call(api, fn, b"echo oops >&2; exit 3")
    assert r.status_code == 500
    body = r.json()
    assert body["exitCode"] == 3
    assert body["stderr"] == "oops\n"
    assert "exited with status 3" in body["error"]
    # Stdin is the body, the request line and headers are in the env.
    r = stocked_call(api, fn, b'echo "$Http_Method $Http_Path $Http_X_Thing"', path="/p/q",
                     headers={"X-Thing": "v1"})
    assert r.text == "POST /p/q v1\n"


def test_stocked_calls_see_nothing_of_earlier_ones(api, fn, daemon):
    marker = "mk%s" % os.urandom(6).hex()
    first = ('echo "$Http_X_Marker" > /tmp/left-$Http_X_Marker; '
             'sleep 600 %s-bg & '
             'M="$Http_X_Marker-in-memory"; export KEEP="$M"; echo wrote').replace("%s", marker)
    r = stocked_call(api, fn, first.encode(), headers={"X-Marker": marker})
    assert r.status_code == 200, r.text
    assert r.text == "wrote\n"
    # The first call's sandbox is gone with its background process.
    wait_until(lambda: not any(marker.encode() in c for c in subtree_procs(daemon).values()), DEADLINE,
               "the first call's background process gone")
    # Host-side: no parked sandbox holds anything of a call (its init's
    # environment is the function's, the call's variables come with it).
    wait_until(lambda: parked(api) >= 1, DEADLINE, "a parked sandbox")
    for pid in subtree_procs(daemon):
        with open("/proc/%d/environ" % pid, "rb") as f:
            env = f.read()
        assert marker.encode() not in env
        assert b"Http_" not in env, "a parked init holds call variables: %r" % env
    check = ('ls -a /tmp; env; echo ---; '
             'for p in /proc/[0-9]*; do cat $p/cmdline $p/environ 2>/dev/null; echo; done; echo ---; '
             'ps -o pid,args; ls /dev/shm')
    r = stocked_call(api, fn, check.encode())
    assert r.status_code == 200, r.text
    assert marker not in r.text, "a later call saw the earlier one:\n" + r.text
    assert "left-" not in r.text
    assert "sleep 600" not in r.text
    # Its own call is what it sees.
    assert "Http_Method=POST" in r.text


def test_stocked_timeout(api, busybox):
    api.deploy("stk-slow", fprocess="sleep 987653", env={"exec_timeout": "1s"}, expect=202)
    r = api.invoke("stk-slow")  # a miss: fills the stock
    assert r.status_code == 504
    r = stocked_call(api, "stk-slow")
    assert r.status_code == 504
    assert "timed out after 1000 ms" in r.json()["error"]
    assert api.remove("stk-slow").status_code == 200


def test_stocked_call_killed_when_its_caller_goes(api, busybox, daemon):
    api.deploy("stk-gone", fprocess="sleep 987655", env={"exec_timeout": "1s"}, expect=202)
    assert api.invoke("stk-gone").status_code == 504  # a miss: fills the stock
    wait_until(lambda: parked_of(daemon, "stk-gone") >= 1, DEADLINE, "a parked sandbox of stk-gone")
    api.deploy("stk-gone", fprocess="sleep 987655", env={"exec_timeout": "60s"}, method="PUT")
    wait_until(lambda: parked_of(daemon, "stk-gone") == 0, DEADLINE, "the old version's stock dropped")
    # One call to make the new version's stock, ended by its caller too.
    before = hits(api)
    for stocked in (False, True):
        if stocked:
            wait_until(lambda: parked_of(daemon, "stk-gone") >= 1, DEADLINE, "a parked sandbox of stk-gone")
        s = socket.create_connection(("127.0.0.1", daemon.port), timeout=HTTP_TIMEOUT)
        s.sendall(b"POST /function/stk-gone HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        wait_until(lambda: procs_with_argv(["sleep", "987655"]), DEADLINE, "the call's command running")
        s.close()
        wait_until(lambda: procs_with_argv(["sleep", "987655"]) == [], DEADLINE, "the command killed")
    assert hits(api) == before + 1
    assert api.remove("stk-gone").status_code == 200


def test_stock_dropped_on_redeploy_and_delete(api, busybox, daemon):
    api.deploy("stk-gen", fprocess="echo-env", env={"GEN": "old"}, expect=202)
    assert "GEN=old" in api.invoke("stk-gen").text
    wait_until(lambda: parked_of(daemon, "stk-gen") >= 1, DEADLINE, "a parked sandbox of stk-gen")
    old = set(fn_leaves(daemon, "stk-gen"))
    r = api.deploy("stk-gen", fprocess="echo-env", env={"GEN": "new"}, method="PUT")
    assert r.status_code == 200, r.text
    # At once: the very next call runs the new version, and the old
    # parked sandboxes are gone.
    r = api.invoke("stk-gen")
    assert "GEN=new" in r.text and "GEN=old" not in r.text
    assert not old & set(fn_leaves(daemon, "stk-gen"))
    r = stocked_call(api, "stk-gen")
    assert "GEN=new" in r.text
    wait_until(lambda: parked_of(daemon, "stk-gen") >= 1, DEADLINE, "parked again")
    assert api.remove("stk-gen").status_code == 200
    # The parked ones at once; the last call's own a moment later (the
    # answer does not wait for the kernel's teardown).
    assert parked_of(daemon, "stk-gen") == 0
    wait_until(lambda: fn_leaves(daemon, "stk-gen") == [], DEADLINE, "every sandbox of stk-gen gone")


def test_opt_out_parks_nothing(api, busybox, daemon):
    api.deploy("stk-none", fprocess="cat", annotations={"com.sfaasd.exec-stock": "0"}, expect=202)
    counted = (hits(api), metric(api, "sfaasd_exec_stock_misses_total"))
    for _ in range(3):
        assert api.invoke("stk-none", data=b"x").text == "x"
    # Not a stocked function: its calls count neither way, and once the
    # calls' own sandboxes are gone nothing of it is left.
    assert (hits(api), metric(api, "sfaasd_exec_stock_misses_total")) == counted
    wait_until(lambda: fn_leaves(daemon, "stk-none") == [], DEADLINE, "the calls' sandboxes gone")
    assert api.remove("stk-none").status_code == 200


def test_call_takes_the_sandbox_being_made(api, busybox, daemon):
    """A call that finds nothing parked while a sandbox of its function is
    being made waits for that one (sfaasd_exec_stock_waits_total) instead
    of spawning its own; it is a parked sandbox like the others and sees
    nothing of earlier calls. Three callers back to back outrun the refill
    (one spawn at a time), so such calls come; each call checks its own
    answer, and the counters add up: every call counted once, every
    sandbox made once."""
    api.deploy("stk-wait", fprocess="sh", expect=202)
    assert api.invoke("stk-wait", data=b"echo warm").text == "warm\n"  # a miss: sets the demand
    # Each call leaves a file, a background process (sleep 7<its number>)
    # and its marker in its environment; it lists what it sees of others'.
    script = (b'echo "$Http_X_Marker" > /tmp/left-$Http_X_Marker; sleep 7$Http_X_Num & '
              b'echo "$Http_X_Marker"; ls /tmp; env | grep -c Http_X_Marker; '
              b'ps -o args | grep "^sleep 7" | grep -v "^sleep 7$Http_X_Num$" | wc -l')
    seq = iter(range(1000000, 2000000))

    def one(marker):
        r = api.invoke("stk-wait", data=script, headers={"X-Marker": marker, "X-Num": str(next(seq))})
        assert r.status_code == 200, r.text
        # Its own marker and file, one marker variable, no process of
        # another call: nothing of the calls before it.
        assert r.text == "%s\nleft-%s\n1\n0\n" % (marker, marker), r.text
        return marker

    def stream(k, n):
        return [one("w%d-%d-%s" % (k, i, os.urandom(3).hex())) for i in range(n)]

    wait_until(lambda: metric(api, "sfaasd_exec_stock_sandboxes", '{state="filling"}') == 0, DEADLINE, "no fill")
    names = ("sfaasd_exec_stock_hits_total", "sfaasd_exec_stock_misses_total", "sfaasd_exec_stock_waits_total")
    before = [metric(api, n) for n in names]
    fills_before = metric(api, "sfaasd_exec_stock_fills_total", '{result="ok"}')
    starts_before = metric(api, "sfaasd_sandbox_starts_total", '{result="ok"}')
    calls = 0
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        for _ in range(20):
            calls += sum(len(f.result()) for f in [ex.submit(stream, k, 20) for k in range(3)])
            if metric(api, "sfaasd_exec_stock_waits_total") > before[2]:
                break
    wait_until(lambda: metric(api, "sfaasd_exec_stock_sandboxes", '{state="filling"}') == 0, DEADLINE, "no fill")
    hit, miss, waited = (metric(api, n) - b for n, b in zip(names, before))
    assert waited >= 1, "no call took a sandbox being made in %d calls" % calls
    assert hit + miss + waited == calls
    # Sandboxes made: the misses' own and the stock's; a waiting call made none.
    assert metric(api, "sfaasd_sandbox_starts_total", '{result="ok"}') - starts_before == \
        miss + metric(api, "sfaasd_exec_stock_fills_total", '{result="ok"}') - fills_before
    assert api.remove("stk-wait").status_code == 200


def test_admission_caps_hold_with_a_stock(make_daemon, images):
    d = make_daemon({"max_sandboxes": 2, "exec_stock_max": 2})
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    api.deploy("a", fprocess="cat", expect=202)
    api.deploy("b", fprocess="sh", expect=202)
    assert api.invoke("a", data=b"1").text == "1"
    # One slot of two may be parked: the last one stays free for a call.
    wait_until(lambda: parked(api) == 1, DEADLINE, "a parked sandbox of a")
    # The first call's own sandbox may still be ending (the answer does not
    # wait for the kernel's teardown of its namespaces): its slot goes with it.
    wait_until(lambda: metric(api, "sfaasd_sandbox_slots", '{state="used"}') == 1, DEADLINE, "one slot used")
    subtrees = existing_dirs(cgroup_subtree_candidates(d))
    mem = [s for s in subtrees if "/memory/" in s] or [s for s in subtrees if not s.endswith("-daemon")][:1]
    wait_until(lambda: len(leaf_cgroups(mem)) == 1, DEADLINE, "one sandbox leaf")
    # Two calls of b at once need both slots: the parked sandbox of a
    # gives its slot up, and never more than 2 sandboxes live (their inits,
    # parked or running, counted host-side; a cgroup directory may outlive
    # its processes for a moment).
    dropped = metric(api, "sfaasd_exec_stock_dropped_total")
    script = b"sleep 1; echo done"
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        futs = [ex.submit(api.invoke, "b", data=script) for _ in range(2)]
        most = 0
        while not all(f.done() for f in futs):
            most = max(most, sandbox_inits(d))
        rs = [f.result() for f in futs]
    assert [r.status_code for r in rs] == [200, 200], [r.text for r in rs]
    assert most <= 2
    assert metric(api, "sfaasd_exec_stock_dropped_total") >= dropped + 1
    assert metric(api, "sfaasd_sandbox_slots", '{state="used"}') <= 2


def test_shutdown_kills_parked(make_daemon, images):
    d = make_daemon({"exec_stock_max": 2})
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    api.deploy("c", fprocess="cat", expect=202)
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        rs = list(ex.map(lambda _: api.invoke("c", data=b"x"), range(2)))
    assert all(r.text == "x" for r in rs)
    # None being made either: a sandbox's child shows the daemon's own
    # command line until it execs the init. Wait until only parked inits
    # are in the subtree.
    procs = {}

    def only_parked():
        if parked(api) < 1 or metric(api, "sfaasd_exec_stock_sandboxes", '{state="filling"}') != 0:
            return False
        procs.clear()
        procs.update(subtree_procs(d))
        return bool(procs) and all(c.startswith(b"sfaasd-init+call") for c in procs.values())
    wait_until(only_parked, DEADLINE, "parked sandboxes, none being made, only parked inits in the subtree")
    subtrees = existing_dirs(cgroup_subtree_candidates(d))
    d.signal(signal.SIGTERM)
    assert d.wait() == 0
    for pid in procs:
        assert not os.path.exists("/proc/%d" % pid) or "Z" in open("/proc/%d/stat" % pid).read().split()[2]
    assert existing_dirs(subtrees) == []
    assert re.search(r"stopped", d.log())
