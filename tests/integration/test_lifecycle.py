# SPDX-License-Identifier: MIT
"""Daemon lifecycle: graceful restart, SIGTERM with a request in flight,
kill -9 durability, credentials. Each test has its own daemon(s)."""
import concurrent.futures
import os
import signal
import socket
import stat
import threading

import pytest
import requests

from sfaasd_testlib import (GATE, DEFAULT_NS, cgroup_subtree_candidates, existing_dirs, open_gate, HTTP_TIMEOUT, SLOW, Api, DaemonError, basic, error_of, parse_env,
                            leaf_cgroups, procs_with_argv, wait_until)


def setup_state(api, images):
    r = api.import_image(images.path("busybox-oci.tar"))
    assert r.status_code == 200, r.text
    img = r.json()
    r = api.import_image(images.path("layers-oci.tar"), name="example.com/team/layers:v2")
    assert r.status_code == 200, r.text
    api.deploy("keep-cat", fprocess="cat", expect=202)
    api.deploy("keep-env", fprocess="echo-env", env={"PERSIST": "yes"}, labels={"tier": "gold"},
               annotations={"note": "kept"}, limits={"memory": "64Mi"}, expect=202)
    api.deploy("keep-env", fprocess="echo-env", env={"PERSIST": "updated"}, labels={"tier": "gold"},
               annotations={"note": "kept"}, limits={"memory": "64Mi"}, method="PUT", expect=200)
    api.deploy("gone", fprocess="cat", expect=202)
    assert api.remove("gone").status_code == 200
    return img


def check_state(api, img):
    images = {i["id"]: i for i in api.get("/system/images").json()}
    assert img["id"] in images
    assert "busybox:latest" in images[img["id"]]["tags"]
    assert any("example.com/team/layers:v2" in i["tags"] for i in images.values()), images
    fns = {f["name"]: f for f in api.get("/system/functions").json()}
    assert set(fns) == {"keep-cat", "keep-env"}, fns
    g = api.get("/system/function/keep-env").json()
    assert g["envVars"] == {"PERSIST": "updated"}
    assert g["labels"] == {"tier": "gold", "faas_function": "keep-env"}
    assert g["annotations"] == {"note": "kept"}
    assert g["limits"] == {"memory": "64Mi"}
    assert g["namespace"] == DEFAULT_NS
    assert api.get("/system/function/gone").status_code == 404
    assert api.get("/system/namespaces").json() == [DEFAULT_NS]
    r = api.invoke("keep-cat", data=b"after restart")
    assert r.status_code == 200, r.text
    assert r.content == b"after restart"
    r = api.invoke("keep-env")
    assert r.status_code == 200, r.text
    assert parse_env(r.text)["PERSIST"] == "updated"


def test_graceful_restart_keeps_state(make_daemon, images):
    d = make_daemon()
    api = Api(d)
    img = setup_state(api, images)
    check_state(api, img)
    password = d.password
    created = {f["name"]: f["createdAt"] for f in api.get("/system/functions").json()}

    rc = d.stop()
    assert rc == 0, d.log_tail()
    d.start()
    assert d.password == password
    api = Api(d)
    check_state(api, img)
    assert {f["name"]: f["createdAt"] for f in api.get("/system/functions").json()} == created
    # a reimport after restart finds the image present
    r = api.import_image(images.path("busybox-docker.tar"))
    assert r.status_code == 200
    assert r.json()["existed"] is True
    assert r.json()["id"] == img["id"]


def test_sigterm_lets_inflight_request_finish(make_daemon, images):
    d = make_daemon()
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    api.deploy("slow", fprocess="sh -s inflight-marker", expect=202)
    th, result = _start_inflight(api, "slow", ["sh", "-s", "inflight-marker"], GATE + b"echo finished\n")
    try:
        d.signal(signal.SIGTERM)
        wait_until(lambda: "received" in d.log(), 30 * SLOW, "the daemon to log the signal")
        # the listener closes; the daemon waits for the in-flight request
        def refused():
            try:
                requests.get(d.url + "/healthz", timeout=HTTP_TIMEOUT)
                return False
            except requests.ConnectionError:
                return True
        wait_until(refused, 30 * SLOW, "the listener to close after SIGTERM")
        assert d.running(), "daemon exited with a request in flight:\n" + d.log_tail()
        assert th.is_alive()
        open_gate(procs_with_argv(["sh", "-s", "inflight-marker"])[0])
    finally:
        th.join(HTTP_TIMEOUT)
    assert "e" not in result, "in-flight request failed: %r" % result.get("e")
    r = result["r"]
    assert r.status_code == 200, r.text
    assert r.text == "finished\n"
    rc = d.wait()
    assert rc == 0, d.log_tail()
    assert procs_with_argv(["sh", "-s", "inflight-marker"]) == []


def test_kill9_keeps_acknowledged_state(make_daemon, images):
    d = make_daemon()
    api = Api(d)
    img = setup_state(api, images)
    # every answer above was an acknowledgement: nothing more to wait for
    assert d.kill9() == -signal.SIGKILL
    d.start()
    check_state(Api(d), img)
    # and the daemon is in a state where it can still change things
    api = Api(d)
    api.deploy("post-crash", fprocess="cat", expect=202)
    assert api.invoke("post-crash", data=b"z").content == b"z"


def test_kill9_during_import_leaves_no_half_image(make_daemon, images):
    d = make_daemon()
    api = Api(d)
    size = os.path.getsize(images.path("busybox-docker.tar"))
    # send the head and half of the archive, then kill the daemon
    with open(images.path("busybox-docker.tar"), "rb") as f:
        data = f.read()
    s = socket.create_connection(("127.0.0.1", d.port), timeout=HTTP_TIMEOUT)
    s.sendall(("POST /system/images HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
               "Content-Length: %d\r\n\r\n" % (basic(d.password), size)).encode() + data[:size // 2])
    d.kill9()
    s.close()
    d.start()
    api = Api(d)
    assert api.get("/system/images").json() == []
    # the import works after the crash
    r = api.import_image(images.path("busybox-docker.tar"))
    assert r.status_code == 200, r.text
    assert r.json()["existed"] is False


def test_credentials_file(make_daemon):
    d = make_daemon()
    st = os.stat(d.password_path)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert st.st_uid == os.getuid()
    pw = d.password
    assert len(pw) >= 16
    secrets_dir = os.path.dirname(d.password_path)
    assert stat.S_IMODE(os.stat(secrets_dir).st_mode) & 0o077 == 0
    assert open(os.path.join(secrets_dir, "basic-auth-user")).read().strip() == "admin"
    wait_until(lambda: "password: cat " in d.log(), 30 * SLOW, "the credentials hint in the log")
    assert pw not in d.log(), "the password must not be logged"

    assert d.stop() == 0
    d.start()
    assert d.password == pw
    assert stat.S_IMODE(os.stat(d.password_path).st_mode) == 0o600
    r = requests.get(d.url + "/system/functions", auth=("admin", pw), timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    r = requests.get(d.url + "/system/functions", auth=("admin", pw + "x"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 401


def test_password_file_edited_by_admin(make_daemon):
    """An operator may set the password (faasd-style file, trailing newline
    trimmed); it takes effect on restart."""
    d = make_daemon()
    assert d.stop() == 0
    with open(d.password_path, "w") as f:
        f.write("my-chosen-password\n")
    d.start()
    assert requests.get(d.url + "/system/info", auth=("admin", "my-chosen-password"),
                        timeout=HTTP_TIMEOUT).status_code == 200
    r = requests.get(d.url + "/system/info", auth=("admin", "my-chosen-password\n"), timeout=HTTP_TIMEOUT)
    assert r.status_code == 401


def test_distinct_daemons_distinct_passwords(make_daemon):
    a, b = make_daemon(), make_daemon()
    assert a.password != b.password
    assert requests.get(a.url + "/system/info", auth=("admin", b.password), timeout=HTTP_TIMEOUT).status_code == 401


def test_config_function_timeout(make_daemon, images):
    d = make_daemon(config={"function_timeout": "1s"})
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    api.deploy("cfgsleep", fprocess="sleep 987657", expect=202)
    r = api.invoke("cfgsleep")
    assert r.status_code == 504, r.text
    assert "timed out" in error_of(r)
    assert procs_with_argv(["sleep", "987657"]) == []
    # exec_timeout in envVars overrides the daemon's default (here: longer)
    api.deploy("cfgfast", fprocess="sh", env={"exec_timeout": "30s"}, expect=202)
    r = api.invoke("cfgfast", data=b"sleep 1.5; echo slept")
    assert r.status_code == 200, r.text
    assert r.text == "slept\n"


def test_bad_config_refused(make_daemon):
    for cfg in ({"no_such_key": 1}, {"max_body_bytes": "lots"}, {"function_timeout": 0}):
        d = make_daemon(config=cfg, start=False)
        with pytest.raises(DaemonError) as ei:
            d.start()
        assert "exited with 1" in str(ei.value), str(ei.value)
        assert "config" in d.log()


def _start_inflight(api, fn, argv, body=b""):
    """Invoke fn in a thread; return (thread, result dict) once argv runs."""
    result = {}

    def call():
        try:
            result["r"] = api.invoke(fn, data=body)
        except Exception as e:  # checked by the caller
            result["e"] = e

    th = threading.Thread(target=call)
    th.start()
    wait_until(lambda: procs_with_argv(argv), 30 * SLOW, "%r to start" % (argv,))
    return th, result


def test_shutdown_grace_kills_sandboxes(make_daemon, images):
    d = make_daemon(config={"shutdown_grace": "1s"})
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    api.deploy("forever", fprocess="sleep 987658", expect=202)
    th, result = _start_inflight(api, "forever", ["sleep", "987658"])
    d.signal(signal.SIGTERM)
    th.join(HTTP_TIMEOUT)
    rc = d.wait()
    assert rc == 0, d.log_tail()
    assert procs_with_argv(["sleep", "987658"]) == []
    # the caller got an answer, not a dropped connection, that names the
    # shutdown (it said "killed by signal 9 (out of memory or killed)")
    assert "e" not in result, result
    assert result["r"].status_code == 503, result["r"].text
    assert "sfaasd is shutting down and its grace period of 1000 ms is over" in error_of(result["r"])


def test_second_sigterm_kills_sandboxes_now(make_daemon, images):
    d = make_daemon()
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    api.deploy("forever2", fprocess="sleep 987659", expect=202)
    th, result = _start_inflight(api, "forever2", ["sleep", "987659"])
    d.signal(signal.SIGTERM)
    # the first signal leaves the sandbox alone (default grace: 30s) ...
    wait_until(lambda: "received" in d.log(), 30 * SLOW, "the daemon to log the first signal")
    assert procs_with_argv(["sleep", "987659"]), "first SIGTERM killed the sandbox"
    # ... the second one kills it at once
    d.signal(signal.SIGTERM)
    th.join(HTTP_TIMEOUT)
    rc = d.wait()
    assert rc == 0, d.log_tail()
    assert procs_with_argv(["sleep", "987659"]) == []
    assert "e" not in result, result
    assert result["r"].status_code == 503, result["r"].text
    assert "sfaasd is shutting down at once (a second signal)" in error_of(result["r"])


def test_sigterm_drops_unfinished_upload(make_daemon, images):
    """An upload still arriving is not acknowledged: SIGTERM drops it, the
    daemon exits 0 and the next start has no trace of it."""
    d = make_daemon()
    with open(images.path("busybox-oci.tar"), "rb") as f:
        data = f.read()
    s = socket.create_connection(("127.0.0.1", d.port), timeout=HTTP_TIMEOUT)
    try:
        s.sendall(("POST /system/images HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
                   "Content-Length: %d\r\n\r\n" % (basic(d.password), len(data))).encode() + data[:-1])
        # make sure the daemon has the request (an authenticated request
        # on another connection is answered after it was read)
        assert requests.get(d.url + "/system/images", auth=("admin", d.password),
                            timeout=HTTP_TIMEOUT).status_code == 200
        d.signal(signal.SIGTERM)
        rc = d.wait()
        assert rc == 0, d.log_tail()
        s.settimeout(HTTP_TIMEOUT)
        try:
            got = s.recv(65536)
        except ConnectionResetError:
            got = b""
        assert not got.startswith(b"HTTP/1.1 200"), got[:200]
    finally:
        s.close()
    d.start()
    api = Api(d)
    assert api.get("/system/images").json() == []
    assert os.listdir(os.path.join(d.data_dir, "images")) == []


def test_kill9_leaves_no_orphan_sandbox(make_daemon, images):
    """Sandboxes die with the daemon (nothing keeps running unaccounted for
    after a crash), and the restarted daemon serves normally."""
    d = make_daemon()
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    api.deploy("orphan", fprocess="sh -s orphan-marker", expect=202)
    th, result = _start_inflight(api, "orphan", ["sh", "-s", "orphan-marker"],
                                 b"sleep 987664 &\nsleep 987665\n")
    wait_until(lambda: procs_with_argv(["sleep", "987664"]) and procs_with_argv(["sleep", "987665"]),
               30 * SLOW, "the sandbox's children")
    d.kill9()
    th.join(HTTP_TIMEOUT)
    assert "e" in result, "a killed daemon cannot have answered: %r" % result
    for argv in (["sh", "-s", "orphan-marker"], ["sleep", "987664"], ["sleep", "987665"]):
        wait_until(lambda: procs_with_argv(argv) == [], 30 * SLOW, "%r to die with the daemon" % (argv,))
    d.start()
    r = Api(d).invoke("orphan", data=b"echo back")
    assert r.status_code == 200, r.text
    assert r.text == "back\n"


def test_parallel_imports_of_one_image(make_daemon, images):
    d = make_daemon()
    path = images.path("busybox-docker.tar")
    with open(path, "rb") as f:
        data = f.read()

    def one(_):
        return requests.post(d.url + "/system/images", data=data, auth=("admin", d.password),
                             timeout=HTTP_TIMEOUT)

    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        rs = list(ex.map(one, range(6)))
    assert all(r.status_code == 200 for r in rs), [(r.status_code, r.text) for r in rs]
    ids = {r.json()["id"] for r in rs}
    assert len(ids) == 1
    assert [r.json()["existed"] for r in rs].count(False) >= 1
    assert os.listdir(os.path.join(d.data_dir, "images")) == [ids.pop().split(":", 1)[1]]
    api = Api(d)
    assert len(api.get("/system/images").json()) == 1
    api.deploy("afterpar", fprocess="cat", expect=202)
    assert api.invoke("afterpar", data=b"ok").content == b"ok"


def test_parallel_deploys_of_one_name(make_daemon, images):
    d = make_daemon()
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200

    def one(i):
        return requests.post(d.url + "/system/functions", auth=("admin", d.password), timeout=HTTP_TIMEOUT,
                             json={"service": "race", "image": "busybox:latest", "envProcess": "echo-args %d" % i})

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(one, range(8)))
    codes = sorted(r.status_code for r in rs)
    assert codes == [202] + [409] * 7, codes
    winner = [i for i, r in enumerate(rs) if r.status_code == 202][0]
    assert api.invoke("race").text == "%d\n" % winner


def test_cgroup_subtree_removed_on_exit_and_empty_after_crash(make_daemon, images):
    d = make_daemon()
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    api.deploy("cg", fprocess="sh -s cg-marker", expect=202)
    assert api.invoke("cg", data=b"echo x").status_code == 200
    cands = cgroup_subtree_candidates(d)
    if not existing_dirs(cands):
        pytest.skip("the daemon made no cgroup subtree on this host (no delegated cgroups)")
    assert d.stop() == 0
    assert existing_dirs(cands) == [], "cgroup subtree left after a graceful exit"

    # crash with a sandbox running: nothing may stay alive in the subtree
    d.start()
    api = Api(d)
    cands = cgroup_subtree_candidates(d)
    th, result = _start_inflight(api, "cg", ["sh", "-s", "cg-marker"], b"sleep 987666\n")
    d.kill9()
    th.join(HTTP_TIMEOUT)
    wait_until(lambda: procs_with_argv(["sleep", "987666"]) == [], 30 * SLOW, "the sandbox to die with the daemon")
    d.start()

    def procs_in(dirs):
        pids = []
        for top in dirs:
            for dirpath, _, files in os.walk(top):
                if "cgroup.procs" in files:
                    with open(os.path.join(dirpath, "cgroup.procs")) as f:
                        pids += f.read().split()
        return pids

    # the restarted daemon (same data folder) removed the crashed one's
    # subtree before it started listening (README "Cgroups")
    assert procs_in(existing_dirs(cands)) == []
    assert existing_dirs(cands) == [], "the crashed daemon's cgroup subtree is still there"
    assert Api(d).invoke("cg", data=b"echo y").text == "y\n"


def test_cgroup_subtree_recreated_when_removed(make_daemon, images):
    """Someone removes the daemon's (empty) cgroup subtree while it runs: the
    next invocation makes it again instead of failing until a restart."""
    # An empty subtree: no exec stock, whose parked sandboxes live in it.
    d = make_daemon(config={"exec_stock_max": 0})
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    api.deploy("cgre", fprocess="cat", expect=202)
    assert api.invoke("cgre", data=b"one").text == "one"
    cands = existing_dirs(cgroup_subtree_candidates(d))
    if not cands:
        pytest.skip("the daemon made no cgroup subtree on this host (no delegated cgroups)")
    # The call's sandbox is answered for before the kernel has torn it down.
    wait_until(lambda: leaf_cgroups(cands) == [], 30 * SLOW, "the call's sandbox gone")
    for top in cands:
        for dirpath, dirs, _ in sorted(os.walk(top, topdown=False), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except FileNotFoundError:
                pass  # the daemon removed that sandbox's leaf itself, just after answering
    assert existing_dirs(cands) == []
    r = api.invoke("cgre", data=b"two")
    assert r.status_code == 200, r.text
    assert r.text == "two"
    assert existing_dirs(cands) != [], "the subtree was not made again"
    assert d.stop() == 0
    assert existing_dirs(cands) == [], "cgroup subtree left after a graceful exit"


def test_config_pids_limit(make_daemon, images):
    """function_pids caps the processes of one sandbox (fork bomb)."""
    d = make_daemon(config={"function_pids": 16})
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    api.deploy("forker", fprocess="sh", expect=202)
    script = "for i in $(seq %d); do sleep 987669 & done; echo started"
    r = api.invoke("forker", data=(script % 8).encode())
    assert r.status_code == 200, r.text
    assert r.text == "started\n"
    r = api.invoke("forker", data=(script % 40).encode())
    assert r.status_code == 500, r.text
    assert "fork" in r.json().get("stderr", ""), r.text
    wait_until(lambda: procs_with_argv(["sleep", "987669"]) == [], 30 * SLOW, "the sandbox's sleeps to be gone")
