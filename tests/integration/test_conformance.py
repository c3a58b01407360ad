# SPDX-License-Identifier: MIT
"""faas-cli conformance: the exact request sequences faas-cli sends
(docs/OPENFAAS-COMPAT.md section 3.2, payloads from Appendix A), replayed
over HTTP with faas-cli's headers, and every answer checked against what
faas-cli and the go-sdk accept (section 2.4): status codes, headers and the
JSON shapes field by field (section 2.3).

  login         GET /system/functions with Basic auth (401 without)
  deploy        PUT /system/functions, on 404 POST (Appendix A payload)
  list          GET /system/functions[?namespace=]
  describe      GET /system/function/NAME?namespace=NS&usage=1, then the list
  invoke        POST /function/NAME.openfaas-fn, /function/NAME, /function/NAME.NS
  invoke async  POST /async-function/NAME.NS with X-Callback-Url (loopback receiver)
  logs          GET /system/logs?name=&namespace=&follow=&tail=
  secret        create (POST, 409, --replace PUT), list, remove (200/202 only)
  namespace     POST /system/namespace/, GET /system/namespaces
  remove        DELETE /system/functions {"functionName", "namespace"?}
  version       GET /system/info with every object non-null
  ready         GET /healthz, then availableReplicas > 0

Functions are exec mode (envProcess = fprocess) on the busybox fixture
image, imported the sfaasd way first (faas-cli has no image step)."""
import base64
import datetime
import http.server
import json
import queue
import threading
import time

import pytest
import requests

from sfaasd_testlib import DEFAULT_NS, HTTP_TIMEOUT, RFC3339, SLOW

DAEMON_CONFIG = {"async_callback_allow_loopback": True}
WAIT = 60 * SLOW
TENANT = "tenant1"

# What faas-cli 0.16/0.17 sends (proxy package; invoke adds the platform).
UA_API = "faas-cli/0.17.1"
UA_INVOKE = "faas-cli/0.17.1 (openfaas; linux; amd64)"

FUNCTION_STATUS_KEYS = {
    "name", "image", "namespace", "envProcess", "envVars", "constraints", "secrets", "labels", "annotations",
    "limits", "requests", "readOnlyRootFilesystem", "invocationCount", "replicas", "availableReplicas",
    "createdAt", "usage",
}
LOG_FIELDS = {"name", "namespace", "instance", "timestamp", "text"}


class FaasCli:
    """The HTTP side of faas-cli: one client per gateway, Basic auth on
    /system/*, JSON bodies with Content-Type application/json, no
    credentials on /function/ and /async-function/."""

    def __init__(self, daemon, password=None):
        self.url = daemon.url
        pw = daemon.password if password is None else password
        self.auth = "Basic " + base64.b64encode(("admin:" + pw).encode()).decode()

    def system(self, method, path, body=None, params=None, auth=True, **kw):
        headers = {"User-Agent": UA_API}
        if auth:
            headers["Authorization"] = self.auth
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return requests.request(method, self.url + path, data=data, params=params, headers=headers,
                                allow_redirects=False, **kw)

    def invoke(self, target, data=b"", method="POST", headers=None, path="/function/", query=None):
        h = {"User-Agent": UA_INVOKE, "Content-Type": "text/plain"}
        h.update(headers or {})
        return requests.request(method, self.url + path + target, data=data, params=query, headers=h,
                                timeout=HTTP_TIMEOUT)

    def deploy(self, payload):
        """deploy/up with the default --update=true: PUT, on 404 POST.
        Returns the list of (method, status) it went through."""
        r = self.system("PUT", "/system/functions", payload)
        steps = [("PUT", r.status_code)]
        if r.status_code == 404:
            r = self.system("POST", "/system/functions", payload)
            steps.append(("POST", r.status_code))
        assert r.status_code in (200, 201, 202), (steps, r.text)
        return steps

    def remove(self, name, namespace=None):
        body = {"functionName": name}
        if namespace:
            body["namespace"] = namespace
        return self.system("DELETE", "/system/functions", body)

    def secret_create(self, name, value=None, raw=None, namespace=None, replace=False):
        body = {"name": name}
        if namespace:
            body["namespace"] = namespace
        if raw is not None:
            body["rawValue"] = base64.b64encode(raw).decode()
        else:
            body["value"] = value
        r = self.system("POST", "/system/secrets", body)
        steps = [("POST", r.status_code)]
        if r.status_code == 409 and replace:
            r = self.system("PUT", "/system/secrets", body)
            steps.append(("PUT", r.status_code))
        return r, steps


class Receiver:
    """Callback receiver on 127.0.0.1: every POST, its headers and body."""

    def __init__(self):
        self.got = queue.Queue()
        got = self.got

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                got.put({"path": self.path, "headers": dict(self.headers.items()), "body": body})
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


# ---- shapes -------------------------------------------------------------------

def rfc3339(ts):
    assert isinstance(ts, str) and RFC3339.match(ts), ts
    frac = ""
    if "." in ts:
        frac = ts[ts.index(".") + 1:].rstrip("Z")
        base = ts[:ts.index(".")]
    else:
        base = ts.rstrip("Z")
    t = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return t.timestamp() + (float("0." + frac) if frac else 0.0)


def check_string_map(v, what):
    assert isinstance(v, dict), (what, v)
    assert all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()), (what, v)


def check_function_status(f, *, name, namespace, image, in_list):
    """A FunctionStatus as faas-provider's types/function_status.go encodes it."""
    assert isinstance(f, dict), f
    # Go clients ignore unknown keys; the one extra allowed is sfaasd's own
    # extension object, so that a misspelt OpenFaaS key still fails here.
    assert set(f) <= FUNCTION_STATUS_KEYS | {"sfaasd"}, "unknown keys: %s" % (set(f) - FUNCTION_STATUS_KEYS)
    if "sfaasd" in f:
        assert isinstance(f["sfaasd"], dict) and isinstance(f["sfaasd"].get("mode"), str), f["sfaasd"]
    assert "service" not in f  # renamed "name" in the status
    assert f["name"] == name
    assert f["image"] == image
    assert f["namespace"] == namespace
    for k in ("envVars", "labels", "annotations"):
        if k in f and f[k] is not None:
            check_string_map(f[k], k)
    for k in ("secrets", "constraints"):
        if k in f:
            assert isinstance(f[k], list) and all(isinstance(x, str) for x in f[k]), (k, f[k])
    for k in ("limits", "requests"):
        if k in f:
            check_string_map(f[k], k)
            assert set(f[k]) <= {"memory", "cpu", "nvidia.com/gpu", "amd.com/gpu", "intel.com/gpu"}, f[k]
    if "readOnlyRootFilesystem" in f:
        assert isinstance(f["readOnlyRootFilesystem"], bool)
    # uint64 omitempty
    for k in ("replicas", "availableReplicas"):
        if k in f:
            assert isinstance(f[k], int) and not isinstance(f[k], bool) and f[k] >= 0, (k, f[k])
    # float64, filled on the list (the gateway's Prometheus query)
    if in_list:
        assert isinstance(f.get("invocationCount"), (int, float)), f
    elif "invocationCount" in f:
        assert isinstance(f["invocationCount"], (int, float))
    rfc3339(f["createdAt"])  # time.Time: always present
    if "usage" in f:
        u = f["usage"]
        assert set(u) == {"cpu", "totalMemoryBytes"}, u
        assert all(isinstance(u[k], (int, float)) and not isinstance(u[k], bool) and u[k] >= 0 for k in u), u
    return f


def check_json(r, status=200):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/json"), r.headers
    return r.json()


def appendix_a(service, namespace=None, **over):
    """faas-cli deploy --image busybox:latest --name SERVICE --fprocess ...
    --label a=b --env X=1 --secret api-key --memory-limit 64Mi"""
    p = {"service": service, "image": "busybox:latest", "envProcess": "cat",
         "envVars": {"X": "1"}, "secrets": ["api-key"], "labels": {"a": "b"}, "annotations": {},
         "limits": {"memory": "64Mi"}}
    if namespace:
        p["namespace"] = namespace
    p.update(over)
    return p


# ---- fixtures -----------------------------------------------------------------

@pytest.fixture(scope="module")
def cli(daemon):
    return FaasCli(daemon)


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def tenant(cli, images, busybox):
    """faas-cli namespace create tenant1 (go-sdk: POST /system/namespace/),
    then the image imported there (sfaasd: image names are per namespace)."""
    r = cli.system("POST", "/system/namespace/", {"name": TENANT, "labels": {"openfaas": "1"}, "annotations": {}})
    assert r.status_code == 201, r.text
    with open(images.path("busybox-oci.tar"), "rb") as f:
        r = requests.post(cli.url + "/system/images", data=f.read(), params={"namespace": TENANT},
                          headers={"Authorization": cli.auth, "Content-Type": "application/x-tar"},
                          timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    return TENANT


@pytest.fixture(scope="module")
def deployed(cli, busybox, tenant):
    """The Appendix A deploy in both namespaces, each with its secret."""
    t0 = time.time()
    for ns in (None, tenant):
        r, steps = cli.secret_create("api-key", value="s3cr3t" if ns is None else "tenant-s3cr3t", namespace=ns)
        assert r.status_code in (200, 201, 202), (steps, r.text)
        steps = cli.deploy(appendix_a("figlet", ns, envVars={"X": "1" if ns is None else "tenant"}))
        assert steps[0] == ("PUT", 404) and steps[1][0] == "POST", steps
    # reads the mounted secret, for the secret tests
    cli.deploy(appendix_a("showsecret", envProcess="cat /var/openfaas/secrets/api-key"))
    # writes its script's stderr, for the log tests
    cli.deploy(appendix_a("logger", envProcess="sh -s", secrets=[]))
    return {"t0": t0, "t1": time.time()}


# ---- login ---------------------------------------------------------------------

def test_login_check(cli, daemon):
    r = cli.system("GET", "/system/functions")
    assert isinstance(check_json(r), list)
    for bad in (FaasCli(daemon, password="wrong"), None):
        r = bad.system("GET", "/system/functions") if bad else cli.system("GET", "/system/functions", auth=False)
        assert r.status_code == 401, r.text
        assert r.headers["WWW-Authenticate"] == 'Basic realm="Restricted"'
        assert "invalid credentials" in r.text


# ---- deploy ----------------------------------------------------------------------

def test_deploy_put_then_post_then_update(cli, deployed):
    # a second deploy of the same function: the PUT succeeds (update path)
    steps = cli.deploy(appendix_a("figlet"))
    assert steps == [("PUT", 200)] or steps[0][1] in (200, 201, 202), steps
    # --replace: DELETE first, then POST
    assert cli.remove("figlet").status_code in (200, 201, 202)
    r = cli.system("POST", "/system/functions", appendix_a("figlet"))
    assert r.status_code in (200, 201, 202), r.text
    # an unknown secret: faas-cli ends with a 400 naming it (faasd: "unable to
    # find secret: X"), whether the PUT says so (sfaasd validates the body
    # first) or its 404 leads to the POST that does (faasd)
    r = cli.system("PUT", "/system/functions", appendix_a("nosecret", secrets=["no-such"]))
    assert r.status_code in (400, 404)
    if r.status_code == 404:
        r = cli.system("POST", "/system/functions", appendix_a("nosecret", secrets=["no-such"]))
    assert r.status_code == 400 and "unable to find secret: no-such" in r.text
    assert cli.system("GET", "/system/function/nosecret").status_code == 404


# ---- list and describe -------------------------------------------------------------

def test_list(cli, deployed):
    for params in (None, {"namespace": DEFAULT_NS}):
        fs = check_json(cli.system("GET", "/system/functions", params=params))
        assert isinstance(fs, list)
        byname = {f["name"]: f for f in fs}
        assert set(byname) >= {"figlet", "showsecret", "logger"}
        for f in fs:
            check_function_status(f, name=f["name"], namespace=DEFAULT_NS, image="busybox:latest", in_list=True)
            assert "usage" not in f  # only with usage=1
        f = byname["figlet"]
        assert f["envProcess"] == "cat"
        assert f["envVars"] == {"X": "1"}
        assert f["secrets"] == ["api-key"]
        assert f["labels"] == {"a": "b", "faas_function": "figlet"}
        assert f["annotations"] == {}
        assert f["limits"] == {"memory": "64Mi"}
        assert "requests" not in f and "constraints" not in f  # omitempty: not sent, not invented
        assert deployed["t0"] - 5 <= rfc3339(f["createdAt"]) <= time.time() + 5
    fs = check_json(cli.system("GET", "/system/functions", params={"namespace": TENANT}))
    assert [f["name"] for f in fs] == ["figlet"]
    check_function_status(fs[0], name="figlet", namespace=TENANT, image="busybox:latest", in_list=True)
    assert fs[0]["envVars"] == {"X": "tenant"}
    # an unknown namespace is a 400 (faasd: invalid namespace)
    assert cli.system("GET", "/system/functions", params={"namespace": "no-such-ns"}).status_code == 400


def test_describe_with_usage(cli, deployed):
    # faas-cli describe: the function with usage=1, then the list for invocationCount
    r = cli.system("GET", "/system/function/figlet", params={"namespace": DEFAULT_NS, "usage": "1"})
    f = check_function_status(check_json(r), name="figlet", namespace=DEFAULT_NS, image="busybox:latest",
                              in_list=False)
    assert "usage" in f
    # exec mode: invocable at once, so `faas-cli ready figlet` passes
    assert f.get("availableReplicas", 0) >= 1
    assert f.get("replicas", 0) >= 1
    before = check_json(cli.system("GET", "/system/functions", params={"namespace": DEFAULT_NS}))
    count = {x["name"]: x["invocationCount"] for x in before}["figlet"]
    assert cli.invoke("figlet.openfaas-fn", b"one").status_code == 200
    assert cli.invoke("figlet", b"two").status_code == 200
    after = check_json(cli.system("GET", "/system/functions", params={"namespace": DEFAULT_NS}))
    assert {x["name"]: x["invocationCount"] for x in after}["figlet"] == count + 2
    r = cli.system("GET", "/system/function/figlet", params={"namespace": DEFAULT_NS, "usage": "1"})
    assert check_json(r)["usage"]["cpu"] >= f["usage"]["cpu"]
    # faas-cli without -n may send an empty namespace: the default one
    r = cli.system("GET", "/system/function/figlet", params={"namespace": "", "usage": "1"})
    assert check_json(r)["namespace"] == DEFAULT_NS
    # the tenant's, and an unknown one (faas-cli: "no such function")
    r = cli.system("GET", "/system/function/figlet", params={"namespace": TENANT, "usage": "1"})
    check_function_status(check_json(r), name="figlet", namespace=TENANT, image="busybox:latest", in_list=False)
    assert cli.system("GET", "/system/function/nope", params={"namespace": DEFAULT_NS}).status_code == 404


# ---- invoke ------------------------------------------------------------------------

def test_invoke(cli, deployed):
    for target in ("figlet.openfaas-fn", "figlet"):
        r = cli.invoke(target, b"hi")
        assert r.status_code == 200, r.text
        assert r.content == b"hi"
        assert r.headers["Content-Type"].startswith("text/plain")
        assert r.headers.get("X-Call-Id")
        assert float(r.headers["X-Duration-Seconds"]) >= 0
    # methods faas-cli offers (-m), query (--query) and headers (-H)
    for m in ("GET", "PUT", "PATCH", "DELETE"):
        r = cli.invoke("figlet.openfaas-fn", b"m", method=m, query={"k": "v"}, headers={"X-Extra": "1"})
        assert r.status_code == 200, (m, r.text)
    # the caller's X-Call-Id is kept and echoed; the request's Content-Type comes back
    r = cli.invoke("figlet.openfaas-fn", b"{}", headers={"X-Call-Id": "cli-call-0001",
                                                         "Content-Type": "application/json"})
    assert r.status_code == 200 and r.headers["X-Call-Id"] == "cli-call-0001"
    assert r.headers["Content-Type"].startswith("application/json")
    # unknown function
    assert cli.invoke("nope.openfaas-fn", b"x").status_code == 404


def test_invoke_second_namespace(cli, deployed):
    # each namespace its own function and its own secret
    r = cli.invoke("figlet." + TENANT, b"tenant hi")
    assert r.status_code == 200 and r.content == b"tenant hi", r.text
    cli.deploy(appendix_a("env", TENANT, envProcess="sh -s", envVars={"X": "tenant"}))
    r = cli.invoke("env." + TENANT, b'echo "$X"; cat /var/openfaas/secrets/api-key')
    assert r.status_code == 200, r.text
    assert r.content == b"tenant\ntenant-s3cr3t"
    assert cli.invoke("env.openfaas-fn").status_code == 404
    assert cli.invoke("env").status_code == 404


def test_invoke_async_with_callback(cli, deployed, receiver):
    r = cli.invoke("figlet.openfaas-fn", b"async hi", path="/async-function/",
                   headers={"X-Callback-Url": receiver.url + "/done"})
    assert r.status_code == 202, r.text  # faas-cli: "Function submitted asynchronously."
    assert r.content == b""
    cid = r.headers["X-Call-Id"]
    assert cid
    cb = receiver.got.get(timeout=WAIT)
    assert cb["path"] == "/done"
    h = cb["headers"]
    assert h["X-Call-Id"] == cid
    assert float(h["X-Duration-Seconds"]) >= 0
    assert h["X-Function-Status"] == "200"
    assert h["X-Function-Name"] == "figlet.openfaas-fn"  # as addressed
    assert h["Content-Type"].startswith("text/plain")
    assert cb["body"] == b"async hi"
    # a second namespace, addressed by name.namespace; the caller's call id kept
    r = cli.invoke("figlet." + TENANT, b"tenant async", path="/async-function/",
                   headers={"X-Callback-Url": receiver.url + "/t", "X-Call-Id": "cli-async-0002"})
    assert r.status_code == 202
    assert r.headers["X-Call-Id"] == "cli-async-0002"
    cb = receiver.got.get(timeout=WAIT)
    assert cb["headers"]["X-Function-Name"] == "figlet." + TENANT
    assert cb["headers"]["X-Call-Id"] == r.headers["X-Call-Id"]
    assert cb["body"] == b"tenant async"
    # a bad callback URL is refused up front; an unknown function is 404
    r = cli.invoke("figlet", b"x", path="/async-function/", headers={"X-Callback-Url": "not a url"})
    assert r.status_code == 400
    assert cli.invoke("nope", b"x", path="/async-function/").status_code == 404


# ---- logs ----------------------------------------------------------------------------

def log_records(r, name, namespace):
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/x-ndjson"
    assert r.headers.get("Transfer-Encoding") == "chunked"
    recs = [json.loads(line) for line in r.text.splitlines() if line]
    for x in recs:
        assert set(x) == LOG_FIELDS, x
        assert x["name"] == name and x["namespace"] == namespace
        assert isinstance(x["instance"], str) and x["instance"]
        assert isinstance(x["text"], str)
        rfc3339(x["timestamp"])
    return recs


def test_logs_tail_and_history(cli, deployed):
    r = cli.invoke("logger", b"echo log-a >&2; echo log-b >&2; echo log-c >&2")
    assert r.status_code == 200, r.text
    call = r.headers["X-Call-Id"]
    # faas-cli logs logger --tail=false (follow=false, tail=-1: everything)
    q = {"name": "logger", "namespace": DEFAULT_NS, "follow": "false", "tail": "-1"}
    recs = log_records(cli.system("GET", "/system/logs", params=q), "logger", DEFAULT_NS)
    mine = [x["text"] for x in recs if x["instance"] == call]
    assert mine == ["log-a", "log-b", "log-c"]
    stamps = [rfc3339(x["timestamp"]) for x in recs]
    assert stamps == sorted(stamps)
    # --lines 2
    q["tail"] = "2"
    assert [x["text"] for x in log_records(cli.system("GET", "/system/logs", params=q), "logger",
                                           DEFAULT_NS)] == ["log-b", "log-c"]
    # go-sdk spells follow 1/0; without namespace: the default one
    q = {"name": "logger", "follow": "0", "tail": "1"}
    assert [x["text"] for x in log_records(cli.system("GET", "/system/logs", params=q), "logger",
                                           DEFAULT_NS)] == ["log-c"]
    # --since (RFC 3339) and a bad one (422)
    q = {"name": "logger", "follow": "false", "since": "2999-01-01T00:00:00Z"}
    assert log_records(cli.system("GET", "/system/logs", params=q), "logger", DEFAULT_NS) == []
    q["since"] = "not-a-time"
    assert cli.system("GET", "/system/logs", params=q).status_code == 422
    # faas-cli logs figlet -n tenant1: the tenant's function, the daemon's lines about it
    q = {"name": "figlet", "namespace": TENANT, "follow": "false", "tail": "-1"}
    recs = log_records(cli.system("GET", "/system/logs", params=q), "figlet", TENANT)
    assert any(x["text"].startswith("deployed with image") for x in recs), recs


def test_logs_follow(cli, deployed):
    # faas-cli logs logger (follow=true), --tail 1 of history, then a live line
    q = {"name": "logger", "namespace": DEFAULT_NS, "follow": "true", "tail": "1"}
    lines = queue.Queue()
    with cli.system("GET", "/system/logs", params=q, stream=True) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "application/x-ndjson"
        assert r.headers.get("Transfer-Encoding") == "chunked"

        # The reader stops by itself at the live line: closing the response
        # from this thread while another one blocks in its read would wait
        # for that read (the buffered reader's lock) until the timeout.
        def read():
            for line in r.iter_lines():
                if line:
                    lines.put(json.loads(line))
                    if lines.queue[-1]["text"] == "live-line":
                        return

        threading.Thread(target=read, daemon=True).start()
        first = lines.get(timeout=WAIT)  # the one line of history
        assert set(first) == LOG_FIELDS
        inv = cli.invoke("logger", b"echo live-line >&2")
        assert inv.status_code == 200
        while True:
            x = lines.get(timeout=WAIT)
            assert set(x) == LOG_FIELDS
            assert x["name"] == "logger" and x["namespace"] == DEFAULT_NS
            rfc3339(x["timestamp"])
            if x["text"] == "live-line":
                assert x["instance"] == inv.headers["X-Call-Id"]
                break


# ---- secrets -------------------------------------------------------------------------

def test_secret_create_replace_list_remove(cli, deployed):
    assert cli.invoke("showsecret").content == b"s3cr3t"
    # create again: 409 ("already exists"); with --replace faas-cli PUTs
    r, steps = cli.secret_create("api-key", value="new-value")
    assert steps == [("POST", 409)], steps
    r, steps = cli.secret_create("api-key", value="new-value", replace=True)
    assert steps[0] == ("POST", 409) and steps[1][0] == "PUT" and r.status_code in (200, 202), steps
    assert cli.invoke("showsecret").content == b"new-value"  # the next sandbox sees it
    # --from-file: rawValue
    r, steps = cli.secret_create("from-file", raw=b"\x00bytes\xff")
    assert r.status_code in (200, 201, 202), steps
    # secret update of an absent one: 404
    assert cli.system("PUT", "/system/secrets", {"name": "absent", "value": "x"}).status_code == 404
    # list: an array of {name, namespace}, never values
    for params in (None, {"namespace": DEFAULT_NS}):
        lst = check_json(cli.system("GET", "/system/secrets", params=params))
        assert isinstance(lst, list)
        for e in lst:
            assert set(e) == {"name", "namespace"}, e
            assert e["namespace"] == DEFAULT_NS
        assert {e["name"] for e in lst} >= {"api-key", "from-file"}
        assert "new-value" not in json.dumps(lst)
    lst = check_json(cli.system("GET", "/system/secrets", params={"namespace": TENANT}))
    assert lst == [{"name": "api-key", "namespace": TENANT}]
    # faas-cli secret remove: body {"name", "namespace"?}; success is 200 or 202 only
    r = cli.system("DELETE", "/system/secrets", {"name": "from-file"})
    assert r.status_code in (200, 202), r.status_code
    r = cli.system("DELETE", "/system/secrets", {"name": "from-file"})
    assert r.status_code == 404
    r = cli.system("DELETE", "/system/secrets", {"name": "api-key", "namespace": TENANT})
    assert r.status_code in (200, 202), r.status_code
    assert check_json(cli.system("GET", "/system/secrets", params={"namespace": TENANT})) == []


# ---- namespaces, scale, info, ready -----------------------------------------------------

def test_namespaces(cli, tenant):
    ns = check_json(cli.system("GET", "/system/namespaces"))
    assert isinstance(ns, list) and all(isinstance(x, str) for x in ns)
    assert DEFAULT_NS in ns and TENANT in ns
    r = cli.system("GET", "/system/namespace/" + TENANT)
    o = check_json(r)
    assert o["name"] == TENANT and o["labels"].get("openfaas") == "1"
    assert cli.system("POST", "/system/namespace/", {"name": TENANT, "labels": {"openfaas": "1"}}).status_code == 409


def test_scale(cli, deployed):
    body = {"serviceName": "figlet", "replicas": 1, "namespace": DEFAULT_NS}
    r = cli.system("POST", "/system/scale-function/figlet", body, params={"namespace": DEFAULT_NS})
    assert r.status_code in (200, 202), r.text
    body["serviceName"] = "nope"
    assert cli.system("POST", "/system/scale-function/nope", body).status_code == 404


def test_info(cli):
    r = cli.system("GET", "/system/info")
    o = check_json(r)
    # faas-cli version dereferences Provider.Name, Provider.Version.Release, Version.Release
    assert set(o) >= {"provider", "version", "arch"}
    p = o["provider"]
    assert isinstance(p, dict)
    assert isinstance(p["provider"], str) and p["provider"]
    assert isinstance(p["orchestration"], str) and p["orchestration"]
    assert isinstance(p["version"], dict)
    assert isinstance(p["version"]["release"], str) and p["version"]["release"]
    assert isinstance(p["version"]["sha"], str)
    v = o["version"]
    assert isinstance(v, dict)
    assert isinstance(v["release"], str) and v["release"]
    assert isinstance(v["sha"], str)
    if "commit_message" in v:
        assert isinstance(v["commit_message"], str)
    assert isinstance(o["arch"], str) and o["arch"]
    assert cli.system("GET", "/system/info", auth=False).status_code == 401


def test_ready(cli, deployed):
    # faas-cli ready: /healthz without credentials, then the function's availableReplicas
    r = requests.get(cli.url + "/healthz", headers={"User-Agent": UA_API}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    f = check_json(cli.system("GET", "/system/function/showsecret"))
    assert f["availableReplicas"] > 0


# ---- remove ----------------------------------------------------------------------------

def test_remove(cli, deployed):
    cli.deploy(appendix_a("shortlived", secrets=[]))
    r = cli.remove("shortlived")
    assert r.status_code in (200, 201, 202), r.text
    assert r.status_code != 204
    # again: 404 (faas-cli: "No existing function to remove")
    r = cli.remove("shortlived")
    assert r.status_code == 404
    assert cli.system("GET", "/system/function/shortlived").status_code == 404
    assert cli.invoke("shortlived").status_code == 404
    # in a namespace: {"functionName", "namespace"}
    cli.deploy(appendix_a("shortlived", TENANT, secrets=[]))
    assert cli.remove("shortlived", TENANT).status_code in (200, 201, 202)
    assert cli.remove("shortlived", TENANT).status_code == 404
