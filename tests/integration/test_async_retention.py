# SPDX-License-Identifier: MIT
"""Finished async calls are purged async_retention after they finished
(here 1 s): GET /system/async/{id} turns 404. A call whose callback is still
to be delivered is kept, whatever its age. The setting is validated and
shown by --print-config."""
import http.server
import json
import subprocess
import threading

import pytest
import requests

from sfaasd_testlib import BIN, HTTP_TIMEOUT, SLOW, wait_until

DAEMON_CONFIG = {"async_retention": "1s", "async_callback_allow_loopback": True}
WAIT = 30 * SLOW


@pytest.fixture(scope="module")
def failing_receiver():
    """Answers 500 to every callback: the daemon keeps retrying (1 s, 2 s,
    4 s, ... for about half a minute with the default 5 retries)."""
    seen = []

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            seen.append(self.headers.get("X-Call-Id"))
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    yield "http://127.0.0.1:%d/cb" % srv.server_address[1], seen
    srv.shutdown()
    srv.server_close()


def submit(api, name, data=b"", headers=None):
    r = requests.post(api.d.url + "/async-function/" + name, data=data, headers=headers or {}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 202, r.text
    return r.headers["X-Call-Id"]


def state(api, cid):
    r = api.get("/system/async/" + cid)
    assert r.status_code in (200, 404), r.text
    return r.json() if r.status_code == 200 else None


def test_finished_calls_purged_pending_callbacks_kept(api, busybox, failing_receiver):
    url, seen = failing_receiver
    api.deploy("rcat", fprocess="cat", expect=202)
    api.deploy("rfalse", fprocess="false", expect=202)
    done = submit(api, "rcat", b"x")
    failed = submit(api, "rfalse")
    retrying = submit(api, "rcat", b"y", {"X-Callback-Url": url})
    # each is readable once finished (the purge does not race the finish) ...
    assert wait_until(lambda: (lambda s: s and s["state"] == "done" and s)(state(api, done)), WAIT,
                      "the call to finish")["status"] == 200
    assert wait_until(lambda: (lambda s: s and s["state"] == "failed" and s)(state(api, failed)), WAIT,
                      "the failing call to finish")["status"] == 500
    # ... and gone a retention later
    wait_until(lambda: state(api, done) is None, WAIT, "the finished call to be purged")
    wait_until(lambda: state(api, failed) is None, WAIT, "the failed call to be purged")
    # finished as long ago, but its callback is still being retried: kept
    st = state(api, retrying)
    assert st is not None, "a call with a callback still to deliver was purged"
    assert st["state"] == "done" and st["callbackState"] in ("pending", "sending"), st
    assert retrying in seen


def test_setting_validated_and_printed(tmp_path):
    def print_config(cfg):
        p = tmp_path / "c.json"
        p.write_text(json.dumps(cfg))
        return subprocess.run([BIN, "serve", "--config", str(p), "--print-config"], capture_output=True,
                              text=True, timeout=HTTP_TIMEOUT)

    out = subprocess.run([BIN, "serve", "--print-config"], capture_output=True, text=True, timeout=HTTP_TIMEOUT)
    assert json.loads(out.stdout)["async_retention"] == "24h"  # by default
    out = print_config({"async_retention": "90m"})
    assert out.returncode == 0 and json.loads(out.stdout)["async_retention"] == "90m"
    out = print_config({"async_retention": 30})  # a bare number is seconds, as every duration
    assert json.loads(out.stdout)["async_retention"] == "30s"
    out = print_config({"async_retention": "1h30m"})  # printed in the largest exact unit
    assert json.loads(out.stdout)["async_retention"] == "90m"
    for bad in (0, "500ms", "nonsense", -1, "100000d", 2 ** 62):
        out = print_config({"async_retention": bad})
        assert out.returncode != 0 and "async_retention" in out.stderr, (bad, out.stderr)
