# SPDX-License-Identifier: MIT
"""Exec-mode invocation: body/stdin, stdout/response, Http_* env, errors,
timeouts (checked from the host side), output cap, sandbox isolation."""
import concurrent.futures
import os
import re
import socket
import threading
import time

import pytest
import requests

from sfaasd_testlib import (GATE, DEFAULT_NS, Api, cgroup_subtree_candidates, existing_dirs, fd_count, leaf_cgroups,
                            open_gate, HTTP_TIMEOUT, SLOW, error_of, parse_env, proc_uids, procs_with_argv,
                            wait_until, zombie_children)

OUTPUT_CAP = 1 << 20
DAEMON_CONFIG = {"max_output_bytes": OUTPUT_CAP, "function_timeout": "60s"}


@pytest.fixture(scope="module")
def fns(api, busybox, rootbox):
    """The functions this module invokes."""
    specs = {
        "cat": dict(fprocess="cat"),
        "env": dict(fprocess="echo-env", env={"MY_VAR": "hello world", "EMPTY": ""}),
        "envover": dict(fprocess="echo-env", env={"FIXTURE": "overridden"}),
        "imgcmd": dict(),                                   # image Cmd: /bin/cat
        "shell": dict(fprocess="sh"),                       # script on stdin
        "ids": dict(fprocess="whoami-ids"),
        "rootsh": dict(image="rootbox:latest", fprocess="sh"),
        "false": dict(fprocess="false"),
        "yes": dict(fprocess="yes"),
        "sleeper": dict(fprocess="sleep 987654", env={"exec_timeout": "1s"}),
        "sleeptree": dict(fprocess="sh -s sleeptree-marker", env={"exec_timeout": "1s"}),
    }
    for name, spec in specs.items():
        api.deploy(name, expect=202, **spec)
    return specs


def sh(api, script, name="shell", **kw):
    return api.invoke(name, data=script.encode(), **kw)


# ---- body and output ---------------------------------------------------------------

def test_cat_round_trip_text(api, fns):
    r = api.invoke("cat", data=b"hello, function\n")
    assert r.status_code == 200, r.text
    assert r.content == b"hello, function\n"


def test_cat_round_trip_binary(api, fns):
    body = bytes(range(256)) * 257 + b"\x00\xff\x00"
    r = api.invoke("cat", data=body, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 200
    assert r.content == body
    assert r.headers["Content-Type"] == "application/octet-stream"


def test_empty_body_empty_output(api, fns):
    r = api.invoke("cat", data=b"")
    assert r.status_code == 200
    assert r.content == b""


def test_image_cmd_used_without_fprocess(api, fns):
    r = api.invoke("imgcmd", data=b"from the image Cmd")
    assert r.status_code == 200, r.text
    assert r.content == b"from the image Cmd"


def test_image_user_and_workdir(api, fns):
    r = api.invoke("ids")
    assert r.status_code == 200, r.text
    # busybox fixture: User app (1000:1000), WorkingDir /home/app
    assert r.text.strip() == "uid=1000 gid=1000 cwd=/home/app"


def test_call_id(api, fns):
    r = api.invoke("cat", data=b"x")
    assert len(r.headers.get("X-Call-Id", "")) >= 32
    r = api.invoke("env", headers={"X-Call-Id": "my-call-123"})
    assert r.headers["X-Call-Id"] == "my-call-123"
    assert parse_env(r.text)["Http_X_Call_Id"] == "my-call-123"


# ---- environment --------------------------------------------------------------------

def test_env_vars(api, fns):
    r = api.invoke("env", data=b"abc", headers={"X-Custom": "custom value", "x-lower-case": "lc",
                                                  "Content-Type": "text/plain", "User-Agent": "itest/1"})
    assert r.status_code == 200, r.text
    env = parse_env(r.text)
    assert env["Http_Method"] == "POST"
    assert env["Http_Path"] == "/"
    assert "Http_Query" not in env
    assert env["Http_X_Custom"] == "custom value"
    assert env["Http_X_Lower_Case"] == "lc"
    assert env["Http_Content_Type"] == "text/plain"
    assert env["Http_User_Agent"] == "itest/1"
    # the function's envVars
    assert env["MY_VAR"] == "hello world"
    assert env["EMPTY"] == ""
    assert env["fprocess"] == "echo-env"
    # the image's Env
    assert env["FIXTURE"] == "busybox"
    assert env["PATH"] == "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"


def test_env_vars_override_image_env(api, fns):
    env = parse_env(api.invoke("envover").text)
    assert env["FIXTURE"] == "overridden"


def test_gateway_credentials_not_passed_to_function(api, daemon, fns):
    r = requests.post(daemon.url + "/function/env", auth=("admin", daemon.password), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    env = parse_env(r.text)
    assert "Http_Authorization" not in env
    assert daemon.password not in r.text


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_methods(api, fns, method):
    r = api.invoke("env", method=method, data=b"")
    assert r.status_code == 200, r.text
    assert parse_env(r.text)["Http_Method"] == method


def test_head(api, fns):
    r = api.invoke("env", method="HEAD")
    assert r.status_code == 200
    assert r.content == b""
    assert int(r.headers["Content-Length"]) > 0  # the length of the GET answer


def test_path_and_query(api, fns):
    r = api.invoke("env", method="GET", path="/a/b/c?x=1&y=two%20words&flag")
    assert r.status_code == 200, r.text
    env = parse_env(r.text)
    assert env["Http_Method"] == "GET"
    assert env["Http_Path"] == "/a/b/c"
    assert env["Http_Query"] == "x=1&y=two%20words&flag"

    env = parse_env(api.invoke("env", path="/").text)
    assert env["Http_Path"] == "/"
    assert "Http_Query" not in env

    env = parse_env(api.invoke("env." + DEFAULT_NS, path="/sub/path?q=1").text)
    assert env["Http_Path"] == "/sub/path"
    assert env["Http_Query"] == "q=1"


def test_trace_is_405(api, fns):
    r = api.invoke("cat", method="TRACE")
    assert r.status_code == 405
    error_of(r)
    assert "GET" in r.headers.get("Allow", "")


# ---- failures -----------------------------------------------------------------------

def test_nonzero_exit_is_500_json(api, fns):
    r = sh(api, "echo partial-out; echo 'something broke' >&2; exit 3")
    assert r.status_code == 500, r.text
    j = r.json()
    assert j["exitCode"] == 3
    assert "something broke" in j["stderr"]
    assert isinstance(j["error"], str) and "3" in j["error"]

    r = api.invoke("false")
    assert r.status_code == 500
    assert r.json()["exitCode"] == 1


def test_memory_limit_kills(api, fns):
    api.deploy("hog", fprocess="sh", limits={"memory": "16Mi"}, expect=202)
    script = "x=$(head -c 32000000 /dev/zero | tr '\\0' a); echo survived ${#x}"
    # control: the same script fits in the default limit
    r = sh(api, script)
    assert r.status_code == 200, r.text[:300]
    assert r.text == "survived 32000000\n"
    # a 32 MB shell variable cannot fit in 16 MiB; the answer names the
    # cause (the cgroup's OOM kill count), not just "signal 9"
    r = sh(api, script, name="hog")
    assert r.status_code == 500, r.text[:300]
    assert "ran out of memory (limit 16 MiB) and was killed" in error_of(r), error_of(r)
    assert "exitCode" not in r.json()


def _sandbox_gone_after(api, daemon, fn, argvs, body=b""):
    """Invoke fn (exec_timeout 1s) in a thread; see its processes appear on
    the host, then expect 504 and all of them gone, no zombies left."""
    result = {}

    def call():
        t0 = time.monotonic()
        result["r"] = api.invoke(fn, data=body)
        result["t"] = time.monotonic() - t0

    th = threading.Thread(target=call)
    th.start()
    try:
        pids = {}
        for argv in argvs:
            pids[tuple(argv)] = wait_until(lambda: procs_with_argv(argv), 30 * SLOW,
                                           "sandbox process %r on the host" % (argv,))
        for argv, ps in pids.items():
            for pid in ps:
                try:
                    uids = proc_uids(pid)
                except OSError:
                    continue  # already killed
                # a sandboxed process never runs as host root
                assert uids and all(u != 0 for u in uids), (argv, pid, uids)
    finally:
        th.join(HTTP_TIMEOUT)
    r = result["r"]
    assert r.status_code == 504, r.text
    assert "timed out" in error_of(r)
    assert result["t"] >= 0.9, "answered before the 1s exec_timeout"
    for argv in argvs:
        assert procs_with_argv(argv) == [], "sandbox process %r survived the timeout" % (argv,)
    assert zombie_children(daemon.pid) == []


def test_timeout_504_and_sandbox_killed(api, daemon, fns):
    _sandbox_gone_after(api, daemon, "sleeper", [["sleep", "987654"]])


def test_timeout_kills_whole_process_tree(api, daemon, fns):
    # sh (pid 1) forks two sleeps: one in the background, one it waits on
    _sandbox_gone_after(api, daemon, "sleeptree",
                        [["sh", "-s", "sleeptree-marker"], ["sleep", "987655"], ["sleep", "987656"]],
                        body=b"sleep 987655 &\nsleep 987656\nwait\n")


def test_output_exactly_at_cap_ok(api, fns):
    body = os.urandom(OUTPUT_CAP)
    r = api.invoke("cat", data=body)
    assert r.status_code == 200, r.text[:200]
    assert r.content == body


def test_output_over_cap_500(api, fns):
    r = api.invoke("cat", data=os.urandom(OUTPUT_CAP + 1))
    assert r.status_code == 500
    assert "more than" in error_of(r)


def test_endless_output_killed(api, daemon, fns):
    r = api.invoke("yes")
    assert r.status_code == 500
    assert "more than" in error_of(r)
    assert procs_with_argv(["yes"]) == []
    assert zombie_children(daemon.pid) == []


def test_function_ignoring_stdin(api, fns):
    # a large body the function never reads: no hang, no error
    r = api.invoke("ids", data=os.urandom(4 << 20))
    assert r.status_code == 200, r.text
    assert r.text.startswith("uid=1000")


# ---- isolation smoke checks, through the function --------------------------------------

def test_uid_inside(api, fns):
    assert sh(api, "id -u", name="rootsh").text == "0\n"
    assert sh(api, "id -u").text == "1000\n"


def test_hostname_is_not_the_hosts(api, fns):
    r = sh(api, "hostname")
    assert r.status_code == 200, r.text
    name = r.text.strip()
    assert name and name != socket.gethostname()


def test_pid1_is_the_sandbox_init(api, fns):
    # pid 1 is sfaasd's sandbox init (sandbox/init/), the function its child
    r = sh(api, "cat /proc/1/cmdline; echo; echo $$ $PPID", name="rootsh")
    assert r.status_code == 200, r.text
    cmdline, pids = r.text.split("\n")[:2]
    argv = cmdline.split("\0")
    # "sfaasd-init+call": a sandbox parked ahead of the call (core/runtime/stock.h)
    assert argv[0] in ("sfaasd-init", "sfaasd-init+call") and argv[-3:] == ["--", "sh", ""], repr(r.text)
    assert pids == "2 1"
    # nothing else runs in the pid namespace
    r = sh(api, "ls /proc | grep -E '^[0-9]+$' | wc -l", name="rootsh")
    assert r.status_code == 200, r.text
    assert int(r.text) <= 5  # init, sh, ls, grep, wc


def test_network_only_loopback(api, fns):
    r = sh(api, "cat /proc/net/dev")
    assert r.status_code == 200, r.text
    ifaces = [line.split(":")[0].strip() for line in r.text.splitlines()[2:] if ":" in line]
    assert ifaces == ["lo"], r.text


def test_ip_link_only_loopback(api, fns):
    r = sh(api, "ip -o link", name="rootsh")
    assert r.status_code == 200, r.text
    names = [line.split(":")[1].strip() for line in r.text.splitlines() if line.strip()]
    assert names == ["lo"], r.text


def test_root_filesystem_read_only(api, daemon, busybox, fns):
    # root inside: permissions do not stop it, only a read-only mount does
    r = sh(api, "touch /probe-rootfs-write", name="rootsh")
    assert r.status_code == 500, r.text
    assert "Read-only file system" in r.json().get("stderr", ""), r.text
    r = sh(api, "echo x > /etc/passwd", name="rootsh")
    assert r.status_code == 500, r.text
    # user app owns /home/app in the image, yet cannot write there
    r = sh(api, "touch /home/app/probe")
    assert r.status_code == 500, r.text
    assert "Read-only file system" in r.json().get("stderr", ""), r.text
    # nothing reached the image on the host
    images_dir = os.path.join(daemon.data_dir, "images")
    for hexid in os.listdir(images_dir):
        root = os.path.join(images_dir, hexid, "rootfs")
        assert not os.path.exists(os.path.join(root, "probe-rootfs-write"))
        assert not os.path.exists(os.path.join(root, "home", "app", "probe"))


def test_tmp_writable_and_private(api, fns):
    r = sh(api, "echo tmp-ok > /tmp/marker && cat /tmp/marker")
    assert r.status_code == 200, r.text
    assert r.text == "tmp-ok\n"
    # the next call starts from a fresh /tmp
    r = sh(api, "test -e /tmp/marker && echo present || echo absent")
    assert r.text == "absent\n"


def test_host_filesystem_not_visible(api, daemon, fns):
    r = sh(api, "ls / ; test -e %s && echo LEAK || echo no-data-dir" % daemon.data_dir, name="rootsh")
    assert r.status_code == 200, r.text
    assert "no-data-dir" in r.text
    assert "LEAK" not in r.text


# ---- concurrency ------------------------------------------------------------------------

def test_concurrent_invocations(api, daemon, fns):
    n = 8

    def one(i):
        s = requests.Session()
        if i % 2:
            body = ("request-%d-" % i).encode() * 5000
            r = s.post(daemon.url + "/function/cat", data=body, timeout=HTTP_TIMEOUT)
            return i, r.status_code, r.content == body, r.text[:100]
        r = s.get(daemon.url + "/function/env/p%d?i=%d" % (i, i), timeout=HTTP_TIMEOUT)
        env = parse_env(r.text)
        return i, r.status_code, (env.get("Http_Path"), env.get("Http_Query")) == ("/p%d" % i, "i=%d" % i), r.text[:100]

    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        results = list(ex.map(one, range(n * 2)))
    bad = [res for res in results if res[1] != 200 or not res[2]]
    assert not bad, bad
    assert zombie_children(daemon.pid) == []


def test_failure_with_binary_stderr_keeps_exit_code(api, fns):
    """stderr is not necessarily UTF-8; the 500 answer must still carry the
    exit code and be valid JSON."""
    r = sh(api, "printf 'bad \\377\\376 bytes' >&2; exit 2")
    assert r.status_code == 500, r.text
    j = r.json()
    assert j.get("exitCode") == 2, j
    assert "status 2" in j["error"], j


def test_success_headers(api, fns):
    r = api.invoke("cat", data=b"x")
    assert r.status_code == 200
    assert float(r.headers["X-Duration-Seconds"]) > 0


def test_client_disconnect_mid_invocation(api, daemon, fns):
    """A caller that goes away does not hurt the daemon; the sandbox ends at
    the latest with its timeout and is reaped."""
    api.deploy("gone-caller", fprocess="sleep 987662", env={"exec_timeout": "2s"}, expect=202)
    s = socket.create_connection(("127.0.0.1", daemon.port))
    s.sendall(b"POST /function/gone-caller HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    wait_until(lambda: procs_with_argv(["sleep", "987662"]), 30 * SLOW, "the sandbox to start")
    s.close()
    wait_until(lambda: not procs_with_argv(["sleep", "987662"]), 30 * SLOW, "the sandbox to end")
    r = api.invoke("cat", data=b"after disconnect")
    assert r.content == b"after disconnect"
    wait_until(lambda: zombie_children(daemon.pid) == [], 30 * SLOW, "no zombie children")


def test_delete_and_update_while_in_flight(api, fns):
    """An invocation runs with the spec it started with; removing or
    updating the function meanwhile does not break it."""
    api.deploy("inflight", fprocess="sh -s inflight-x", env={"GEN": "old"}, expect=202)
    result = {}
    th = threading.Thread(target=lambda: result.update(
        r=api.invoke("inflight", data=GATE + b"echo gen=$GEN\n")))
    th.start()
    try:
        pids = wait_until(lambda: procs_with_argv(["sh", "-s", "inflight-x"]), 30 * SLOW, "the invocation to start")
        r = api.deploy("inflight", fprocess="sh -s inflight-x", env={"GEN": "new"}, method="PUT")
        assert r.status_code == 200
        assert api.remove("inflight").status_code == 200
        assert th.is_alive(), "the gated invocation ended early: %r" % result
        open_gate(pids[0])
    finally:
        th.join(HTTP_TIMEOUT)
    assert result["r"].status_code == 200, result["r"].text
    assert result["r"].text == "gen=old\n"
    assert api.invoke("inflight").status_code == 404


def test_no_fd_or_cgroup_leak(api, daemon, fns):
    """Many invocations, ending every way there is, leave the daemon with
    the descriptors it had and no sandbox cgroup behind."""
    # Sandboxes parked ahead of calls (core/runtime/stock.h) are no leak:
    # each holds PARKED_FDS of the daemon's fds (pidfd, netns, exit status,
    # start report, call socket) and one cgroup leaf until it is used.
    PARKED_FDS = 5

    def parked():
        text = requests.get(daemon.url + "/metrics", auth=("admin", daemon.password), timeout=HTTP_TIMEOUT).text
        return int(float(re.search(r'^sfaasd_exec_stock_sandboxes\{state="parked"\} (\S+)$', text, re.M).group(1)))

    def settle(want):
        wait_until(lambda: fd_count(daemon.pid) <= want + PARKED_FDS * (parked() - parked_base), 30 * SLOW,
                   "daemon fds back to %d and %d per parked sandbox (now %d)" % (want, PARKED_FDS,
                                                                               fd_count(daemon.pid)))

    assert api.invoke("cat", data=b"warm").status_code == 200
    api.s.close()  # the keep-alive connection would count
    parked_base = parked()
    base = fd_count(daemon.pid)
    for _ in range(5):
        assert requests.post(daemon.url + "/function/cat", data=b"x", timeout=HTTP_TIMEOUT).status_code == 200
        assert requests.post(daemon.url + "/function/false", timeout=HTTP_TIMEOUT).status_code == 500
        assert requests.post(daemon.url + "/function/yes", timeout=HTTP_TIMEOUT).status_code == 500
        assert requests.post(daemon.url + "/function/nosuch", timeout=HTTP_TIMEOUT).status_code == 404
    assert requests.post(daemon.url + "/function/sleeper", timeout=HTTP_TIMEOUT).status_code == 504
    settle(base)
    subtrees = existing_dirs(cgroup_subtree_candidates(daemon))
    if subtrees:  # the daemon uses cgroups on this host
        wait_until(lambda: leaf_cgroups(subtrees) == [] if not parked() else
                   len(leaf_cgroups([s for s in subtrees if "/memory/" in s] or subtrees[:1])) == parked(),
                   30 * SLOW, "sandbox cgroups to be removed (but for parked sandboxes')")


def test_chunked_request_body(api, daemon, fns):
    parts = [b"chunk-%d|" % i * 100 for i in range(20)]
    r = requests.post(daemon.url + "/function/cat", data=iter(parts), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.content == b"".join(parts)


def test_stderr_not_in_success_body(api, fns):
    r = sh(api, "echo out; echo err >&2")
    assert r.status_code == 200
    assert r.content == b"out\n"


def test_default_content_type(api, daemon, fns):
    r = requests.post(daemon.url + "/function/cat", data=b"x", headers={"Content-Type": None},
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/plain"
    r = api.invoke("cat", data=b"{}", headers={"Content-Type": "application/json"})
    assert r.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("length", [900, 4000])
def test_long_content_type_gets_an_answer(make_daemon, images, length):
    """A Content-Type well within the header limits is echoed on the
    answer (or refused with a 4xx naming it); the connection is never just
    dropped, and the daemon survives. (Own daemon: a crash here must not
    take the module's daemon down.)"""
    daemon = make_daemon()
    api = Api(daemon)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    api.deploy("cat", fprocess="cat", expect=202)
    ct = "text/plain; note=" + "a" * length
    answer = None
    try:
        answer = api.invoke("cat", data=b"hello", headers={"Content-Type": ct})
    except requests.ConnectionError as e:
        answer = e
    # the daemon survives it, whatever the answer was
    try:
        for _ in range(3):
            assert api.invoke("cat", data=b"after").content == b"after"
    except requests.ConnectionError as e:
        pytest.fail("sfaasd stopped serving after a long Content-Type (%r); log:\n%s" % (e, daemon.log_tail(5)))
    assert daemon.running(), "sfaasd died:\n" + daemon.log_tail(5)
    assert not isinstance(answer, Exception), "no HTTP answer at all: %r" % answer
    if answer.status_code == 200:
        assert answer.content == b"hello"
        assert answer.headers["Content-Type"] == ct
    else:
        assert 400 <= answer.status_code < 500, answer.status_code
        assert "content-type" in error_of(answer).lower()


def test_headers_cannot_spoof_request_metadata(api, fns):
    """Headers named Method, Path or Query would become Http_Method,
    Http_Path, Http_Query: the real request line must win (as in the
    classic watchdog, where the request's own values come last)."""
    r = api.invoke("env", method="GET", path="/public?x=1",
                   headers={"Path": "/admin", "Method": "DELETE", "Query": "evil=1"})
    assert r.status_code == 200, r.text
    env = parse_env(r.text)
    assert env["Http_Path"] == "/public"
    assert env["Http_Method"] == "GET"
    assert env["Http_Query"] == "x=1"


def test_stderr_flood_does_not_block(api, fns):
    """stderr beyond its cap is dropped, not left unread: a function that
    writes a lot to stderr still finishes and answers."""
    r = sh(api, "head -c 20000000 /dev/zero >&2; echo done")
    assert r.status_code == 200, r.text[:200]
    assert r.text == "done\n"
