"""GET /system/logs and `sfaasd logs`: a function's stderr and the daemon's
lines about it, as NDJSON records (OpenFaaS logs.Message), with tail, since,
instance and follow (docs/OPENFAAS-COMPAT.md section 2.3, Logs)."""
import json
import os
import queue
import subprocess
import threading

import pytest
import requests

from sfaasd_testlib import BIN, HTTP_TIMEOUT, SLOW, wait_until

DAEMON_CONFIG = {"log_bytes": 4096}

FIELDS = {"name", "namespace", "instance", "timestamp", "text"}


@pytest.fixture(scope="module")
def noisy(api, busybox):
    api.deploy("noisy", fprocess="sh -s", expect=202)
    return "noisy"


def records(r):
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/x-ndjson"
    out = [json.loads(line) for line in r.text.splitlines() if line]
    for rec in out:
        assert set(rec) == FIELDS, rec
    return out


def logs(api, **params):
    params.setdefault("follow", "false")
    return api.get("/system/logs", params=params, timeout=HTTP_TIMEOUT)


def test_stderr_lines_and_daemon_lines(api, noisy):
    r = api.invoke(noisy, data=b"echo to-stdout; echo first-err >&2; echo second-err >&2")
    assert r.status_code == 200 and r.text == "to-stdout\n"
    call = r.headers["X-Call-Id"]
    recs = records(logs(api, name=noisy))
    texts = [(x["instance"], x["text"]) for x in recs]
    assert (call, "first-err") in texts and (call, "second-err") in texts
    assert texts.index((call, "first-err")) < texts.index((call, "second-err"))
    # stdout is the response body, not a log line
    assert not any(t == "to-stdout" for _, t in texts)
    # the daemon's line about the deploy
    assert any(i == "sfaasd" and t.startswith("deployed with image") for i, t in texts)
    for x in recs:
        assert x["name"] == noisy and x["namespace"] == "openfaas-fn"
        assert x["timestamp"].endswith("Z") and len(x["timestamp"]) == 30  # RFC 3339, ns, UTC


def test_failed_call_is_logged_by_the_daemon(api, noisy):
    r = api.invoke(noisy, data=b"echo about-to-fail >&2; exit 3")
    assert r.status_code == 500
    call = r.headers["X-Call-Id"]
    recs = records(logs(api, name=noisy, instance="sfaasd"))
    assert any(call in x["text"] and "exited with status 3" in x["text"] for x in recs), recs
    assert all(x["instance"] == "sfaasd" for x in recs)


def test_instance_tail_since(api, noisy):
    r = api.invoke(noisy, data=b"echo a >&2; echo b >&2; echo c >&2")
    call = r.headers["X-Call-Id"]
    mine = records(logs(api, name=noisy, instance=call))
    assert [x["text"] for x in mine] == ["a", "b", "c"]
    last = records(logs(api, name=noisy, instance=call, tail=2))
    assert [x["text"] for x in last] == ["b", "c"]
    assert records(logs(api, name=noisy, instance=call, tail=0)) == mine  # <= 0: all
    since = mine[1]["timestamp"]
    assert [x["text"] for x in records(logs(api, name=noisy, instance=call, since=since))] == ["b", "c"]
    assert records(logs(api, name=noisy, since="2999-01-01T00:00:00Z")) == []
    # an offset is honoured: 1 hour east of UTC in the far future is still the future
    assert records(logs(api, name=noisy, since="2999-01-01T01:00:00+01:00")) == []


def test_follow_streams_new_lines(api, noisy):
    got = queue.Queue()
    with requests.get(api.d.url + "/system/logs", params={"name": noisy, "follow": "1", "tail": "1"},
                      auth=("admin", api.d.password), stream=True, timeout=HTTP_TIMEOUT) as r:
        assert r.status_code == 200
        assert r.headers.get("Transfer-Encoding") == "chunked"

        def reader():
            # Returns by itself after the live line: closing a response while
            # another thread is blocked reading it waits for the read timeout.
            for line in r.iter_lines():
                if line:
                    rec = json.loads(line)
                    got.put(rec)
                    if rec["text"] == "live-line":
                        return
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        got.get(timeout=HTTP_TIMEOUT * SLOW)  # the one line of history (tail=1)
        inv = api.invoke(noisy, data=b"echo live-line >&2")
        assert inv.status_code == 200
        while True:
            rec = got.get(timeout=HTTP_TIMEOUT * SLOW)
            if rec["text"] == "live-line":
                assert rec["instance"] == inv.headers["X-Call-Id"]
                break
        t.join(HTTP_TIMEOUT * SLOW)
    # the daemon notices the follower left and keeps serving
    assert api.get("/healthz").status_code == 200


def test_bad_queries(api, noisy):
    assert logs(api).status_code == 400  # no name
    assert logs(api, name=noisy, follow="maybe").status_code == 422
    assert logs(api, name=noisy, tail="x").status_code == 422
    assert logs(api, name=noisy, since="yesterday").status_code == 422
    r = logs(api, name="no-such-fn")
    assert r.status_code == 404 and "error" in r.json()
    assert logs(api, name=noisy, namespace="nope").status_code == 400
    assert requests.get(api.d.url + "/system/logs", params={"name": noisy}).status_code == 401


def test_size_cap(api, noisy, daemon):
    # 4 KiB per generation: a flood leaves at most two generations on disk
    r = api.invoke(noisy, data=b"i=0; while [ $i -lt 400 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxx >&2; i=$((i+1)); done")
    assert r.status_code == 200
    d = os.path.join(daemon.data_dir, "logs", "openfaas-fn")
    sizes = {f: os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.startswith("noisy.")}
    assert set(sizes) <= {"noisy.ndjson", "noisy.ndjson.1"}, sizes
    assert all(s <= 4096 + 1024 for s in sizes.values()), sizes
    texts = [x["text"] for x in records(logs(api, name=noisy))]
    assert "line-399-xxxxxxxxxxxxxxxxxxxx" in texts  # the newest survive


def test_cli_logs(api, noisy, daemon):
    r = api.invoke(noisy, data=b"echo from-cli-test >&2")
    call = r.headers["X-Call-Id"]
    env = dict(os.environ, SFAASD_PASSWORD=daemon.password)
    out = subprocess.run([BIN, "logs", noisy, "--tail", "1", "-g", daemon.url], env=env, capture_output=True,
                         text=True, timeout=HTTP_TIMEOUT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("%s (%s) from-cli-test" % (noisy, call)), out.stdout
    out = subprocess.run([BIN, "logs", noisy, "--tail", "1", "--json", "-g", daemon.url], env=env,
                         capture_output=True, text=True, timeout=HTTP_TIMEOUT)
    assert json.loads(out.stdout)["text"] == "from-cli-test"
    out = subprocess.run([BIN, "logs", "no-such-fn", "-g", daemon.url], env=env, capture_output=True, text=True,
                         timeout=HTTP_TIMEOUT)
    assert out.returncode == 1 and out.stderr.count("\n") == 1 and "404" in out.stderr


def test_logs_go_with_the_function(api, busybox):
    api.deploy("shortlived", fprocess="sh -s", expect=202)
    assert api.invoke("shortlived", data=b"echo bye >&2").status_code == 200
    assert records(logs(api, name="shortlived"))
    assert api.remove("shortlived").status_code == 200
    assert logs(api, name="shortlived").status_code == 404
