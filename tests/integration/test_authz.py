# SPDX-License-Identifier: MIT
"""The authorization matrix, generated from the route table.

`sfaasd routes --json` lists every route with its methods and its policy for
reading and for writing (core/api/router.c). For every route, every method
and every caller (anonymous, the admin, tenant A, tenant B, A's token sent
as user B, a revoked token, an expired token, a malformed header), the answer
must be the one the policy gives (core/api/access.c):

  public, invoke (open), metrics (default config)   never 401 or 403
  credential    401 without a valid credential; else allowed
  tenant        401 without; the admin everywhere; a tenant in its own
                namespace only: naming the other one is 403, with the same
                answer as naming a namespace that does not exist
  admin         401 without; 403 for a tenant

"Allowed" means the handler ran: neither 401 nor 403. The requests are made
so that an allowed one changes nothing that the next one needs (a deploy
without an image is 400, a delete of a namespace with functions 409, ...).
A route of the table without a request builder here fails the test: a new
route cannot be added without deciding, and testing, who may call it.
"""
import base64
import json
import subprocess
import time

import pytest
import requests

from sfaasd_testlib import BIN, HTTP_TIMEOUT, wait_until

A, B = "alpha", "beta"
# The matrix sends wrong credentials on purpose, thousands of times from one
# address: the failed-login throttle (test_throttle.py) is set out of reach.
DAEMON_CONFIG = {"auth_throttle_after": 1000000}

GHOST = "ghost-ns"   # a namespace nobody has
FN = {A: "fa", B: "fb"}
SECRET = {A: "sa", B: "sb"}


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()}


def route_table():
    out = subprocess.run([BIN, "routes", "--json"], capture_output=True, text=True, check=True).stdout
    return json.loads(out)


# ---- one request per (route pattern, method, namespace named) ----------------

def build(pattern, method, ns, world):
    """(path, requests kwargs) for one call of the route naming namespace ns
    (None: a route that names no namespace)."""
    fn = FN.get(ns, "nofn")
    q = {"namespace": ns}
    if pattern == "/":
        return "/", {}
    if pattern == "/healthz":
        return "/healthz", {}
    if pattern == "/ui/{file}":
        return "/ui/app.js", {}
    if pattern == "/metrics":
        return "/metrics", {}
    if pattern == "/system/functions":
        if method == "GET":
            return "/system/functions", {"params": q}
        if method == "DELETE":
            return "/system/functions", {"json": {"functionName": "nothing-here", "namespace": ns}}
        return "/system/functions", {"json": {"service": "matrix", "namespace": ns}}   # no image: 400
    if pattern == "/system/function/{name}":
        return "/system/function/" + fn, {"params": q}
    if pattern == "/system/function/{name}/history":
        return "/system/function/%s/history" % fn, {"params": q}
    if pattern == "/system/namespaces":
        return "/system/namespaces", {}
    if pattern == "/system/namespace/{ns}":
        if method == "POST":
            return "/system/namespace/", {"json": {"name": ns}}                       # no label: 400
        if method == "PUT":
            return "/system/namespace/" + ns, {"json": {"name": ns}}                  # no label: 400
        return "/system/namespace/" + ns, {}                                          # DELETE: 409 (functions)
    if pattern in ("/system/info", "/system/whoami", "/system/history", "/system/tenants"):
        if method == "POST":
            return pattern, {"json": {"name": "bad name"}}                            # 400
        return pattern, {}
    if pattern == "/system/history/functions":
        return "/system/history/functions", {"params": q}
    if pattern == "/system/images":
        if method == "POST":
            return "/system/images", {"params": q, "data": b"not an archive",
                                      "headers": {"Content-Type": "application/x-tar"}}
        return "/system/images", {"params": q}
    if pattern == "/system/images/{ref}":
        return "/system/images/busybox:latest", {"params": q}                          # DELETE: 409 (in use)
    if pattern == "/system/images/prune":
        return "/system/images/prune", {}
    if pattern == "/system/images/pull":
        return "/system/images/pull", {"params": q, "json": {"image": ""}}           # 400: no reference
    if pattern == "/system/images/pulls":
        return "/system/images/pulls", {"params": q}
    if pattern == "/system/registry-auth":
        if method in ("GET", "HEAD", "DELETE"):
            return "/system/registry-auth", {"params": q}                             # DELETE: none to forget
        return "/system/registry-auth", {"params": q, "json": {"auths": "none"}}     # 400
    if pattern == "/system/audit":
        return "/system/audit", {"params": q}
    if pattern == "/system/shared-images":
        return "/system/shared-images", {}
    if pattern == "/system/shared-images/{ref}":
        return "/system/shared-images/nothing:1", {"params": q}                      # 404
    if pattern == "/system/scale-function/{name}":
        return "/system/scale-function/" + fn, {"json": {"serviceName": fn, "replicas": 0, "namespace": ns}}
    if pattern == "/system/secrets":
        if method == "GET":
            return "/system/secrets", {"params": q}
        if method == "POST":
            return "/system/secrets", {"json": {"name": SECRET.get(ns, "s"), "namespace": ns, "value": "x"}}
        return "/system/secrets", {"json": {"name": "nothing-here", "namespace": ns, "value": "x"}}
    if pattern == "/system/logs":
        return "/system/logs", {"params": {"name": fn, "namespace": ns}}
    if pattern == "/function/{name}.{ns}/{rest}":
        return "/function/%s.%s/x" % (fn, ns), {"data": b"hi"}
    if pattern == "/async-function/{name}.{ns}/{rest}":
        return "/async-function/%s.%s" % (fn, ns), {"data": b"hi"}
    if pattern == "/system/async/{id}":
        return "/system/async/" + world["calls"].get(ns, "0123456789abcdef"), {}
    if pattern == "/system/tenants/{ns}":
        if method == "PUT":
            return "/system/tenants/" + ns, {"json": {"quotas": {"nonsense": 1}}}      # 400
        return "/system/tenants/" + ns, {}                                            # DELETE: 409 (functions)
    if pattern == "/system/tenants/{ns}/invoke":
        return "/system/tenants/%s/invoke" % ns, {"json": {"auth": "maybe"}}           # PUT: 400
    if pattern == "/system/tenants/{ns}/egress":
        return "/system/tenants/%s/egress" % ns, {"json": {"ceiling": 7}}                # PUT: 400
    if pattern == "/system/tenants/{ns}/keys":
        return "/system/tenants/%s/keys" % ns, {"json": {"name": "bad name!"}}        # POST: 400
    if pattern == "/system/tenants/{ns}/keys/{id}":
        return "/system/tenants/%s/keys/000000000000" % ns, {}                        # 404
    if pattern == "/system/tenants/{ns}/tokens":
        return "/system/tenants/%s/tokens" % ns, {"json": {"name": "bad name!"}}      # POST: 400
    if pattern == "/system/tenants/{ns}/tokens/{id}":
        return "/system/tenants/%s/tokens/000000000000" % ns, {}                      # 404
    raise KeyError(pattern)


# Routes whose request names no namespace at all.
NO_NAMESPACE = {"/", "/healthz", "/ui/{file}", "/metrics", "/system/namespaces", "/system/info",
                "/system/whoami", "/system/history", "/system/tenants", "/system/images/prune",
                "/system/shared-images"}
# Routes where the namespace is found from an id, not named: another
# tenant's object is "not found", exactly as one that does not exist.
BY_ID = {"/system/async/{id}"}


# ---- the world ----------------------------------------------------------------

@pytest.fixture(scope="module")
def world(daemon, api, images):
    w = {"calls": {}}
    for ns in (A, B):
        r = api.post("/system/tenants", json={"name": ns})
        assert r.status_code == 201, r.text
        with open(images.path("busybox-oci.tar"), "rb") as f:
            r = api.post("/system/images", params={"namespace": ns}, data=f.read(),
                         headers={"Content-Type": "application/x-tar"})
        assert r.status_code == 200, r.text
        r = api.post("/system/functions", json={"service": FN[ns], "image": "busybox:latest", "namespace": ns,
                                               "envProcess": "cat"})
        assert r.status_code == 202, r.text
        r = api.post("/system/secrets", json={"name": SECRET[ns], "namespace": ns, "value": "secret-" + ns})
        assert r.status_code == 200, r.text
        r = requests.post(daemon.url + "/async-function/%s.%s" % (FN[ns], ns), data=b"x", timeout=HTTP_TIMEOUT)
        assert r.status_code == 202, r.text
        w["calls"][ns] = r.headers["X-Call-Id"]
        r = api.post("/system/tenants/%s/tokens" % ns, json={"name": "main"})
        assert r.status_code == 201, r.text
        w["token_" + ns] = r.json()["token"]
    # A revoked token, used once before (so it sits in the cache), then revoked.
    r = api.post("/system/tenants/%s/tokens" % A, json={"name": "old"})
    assert r.status_code == 201, r.text
    revoked = r.json()
    assert requests.get(daemon.url + "/system/whoami", headers=basic(A, revoked["token"]),
                        timeout=HTTP_TIMEOUT).status_code == 200
    assert api.delete("/system/tenants/%s/tokens/%s" % (A, revoked["id"])).status_code == 200
    # An expired token: one second to live.
    r = api.post("/system/tenants/%s/tokens" % A, json={"name": "short", "expiresIn": "1s"})
    assert r.status_code == 201, r.text
    expired = r.json()["token"]
    assert requests.get(daemon.url + "/system/whoami", headers=basic(A, expired),
                        timeout=HTTP_TIMEOUT).status_code == 200
    wait_until(lambda: requests.get(daemon.url + "/system/whoami", headers=basic(A, expired),
                                    timeout=HTTP_TIMEOUT).status_code == 401, 10, "the token to expire",
               interval=0.1)
    # An invoke key of A: good for calls only.
    r = api.post("/system/tenants/%s/keys" % A, json={"name": "calls"})
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    w["callers"] = {
        "invoke-key": {"Authorization": "Bearer " + key},
        "anonymous": {},
        "admin": basic("admin", daemon.password),
        "tenant-" + A: basic(A, w["token_" + A]),
        "tenant-" + B: {"Authorization": "Bearer " + w["token_" + B]},   # Bearer works too
        "wrong-user": basic(B, w["token_" + A]),
        "revoked": basic(A, revoked["token"]),
        "expired": {"Authorization": "Bearer " + expired},
        "garbage": {"Authorization": "Basic !!!"},
        "admin-wrong-password": basic("admin", "nope"),
    }
    return w


def send(daemon, method, path, kw, headers):
    kw = dict(kw)
    h = dict(kw.pop("headers", {}))
    h.update(headers)
    return requests.request(method, daemon.url + path, headers=h, timeout=HTTP_TIMEOUT, **kw)


def expectation(policy, caller, own):
    """"ok", 401 or 403 for a caller ("admin", "tenant", "bad", "anonymous")
    and whether the request names the caller's own namespace."""
    if policy in ("public", "invoke"):
        return "ok"
    if policy == "metrics":
        # metrics_auth is on by default (this daemon leaves it so): the
        # admin's route. Open with metrics_auth false: test_metrics_auth.py.
        policy = "admin"
    if caller in ("anonymous", "bad"):
        return 401
    if caller == "admin":
        return "ok"
    if policy == "admin":
        return 403
    if policy == "credential":
        return "ok"
    assert policy == "tenant", policy
    return "ok" if own else 403


def kind(name):
    if name == "admin":
        return "admin"
    if name.startswith("tenant-"):
        return "tenant"
    return "anonymous" if name == "anonymous" else "bad"


def test_every_route_has_a_builder():
    for r in route_table():
        for m in r["methods"].split(", "):
            build(r["pattern"], m, A, {"calls": {}})   # raises KeyError for a route without one
        assert r["read"] != "unset" and r["write"] != "unset", r


def test_matrix(daemon, world):
    failures = []
    checked = 0
    for route in route_table():
        pattern = route["pattern"]
        for method in route["methods"].split(", "):
            policy = route["read"] if method in ("GET", "HEAD") else route["write"]
            for cname, headers in world["callers"].items():
                ck = kind(cname)
                own_ns = cname[len("tenant-"):] if ck == "tenant" else A
                targets = [None] if pattern in NO_NAMESPACE else [A, B]
                for ns in targets:
                    own = ns is None or ns == own_ns
                    want = expectation(policy, ck, own)
                    path, kw = build(pattern, method, ns, world)
                    r = send(daemon, method, path, kw, headers)
                    checked += 1
                    got = r.status_code
                    where = "%s %s as %s (ns %s): %d %s" % (method, path, cname, ns, got, r.text[:200])
                    if pattern in BY_ID and ck == "tenant" and not own:
                        # Another tenant's call answers as no call at all.
                        if got != 404:
                            failures.append("want 404: " + where)
                        continue
                    if want == "ok":
                        if got in (401, 403) or got >= 500:
                            failures.append("want allowed: " + where)
                    elif got != want:
                        failures.append("want %d: %s" % (want, where))
                    elif got == 401 and "WWW-Authenticate" not in r.headers:
                        failures.append("401 without a Basic challenge: " + where)
                    elif got == 403 and method != "HEAD":
                        if not r.headers.get("Content-Type", "").startswith("application/json") or \
                           "error" not in r.json():
                            failures.append("403 without a JSON error: " + where)
                        elif ns is not None and pattern not in BY_ID:
                            # Naming a namespace that does not exist gives the same answer.
                            gpath, gkw = build(pattern, method, GHOST, world)
                            g = send(daemon, method, gpath, gkw, headers)
                            if g.status_code != 403 or g.text.replace(GHOST, ns) != r.text:
                                failures.append("403 differs for a namespace that does not exist: %s vs %d %s"
                                                % (where, g.status_code, g.text[:200]))
    print("checked", checked)
    assert checked > 500, checked
    assert not failures, "%d of %d checks failed:\n%s" % (len(failures), checked, "\n".join(failures[:60]))


def test_tenant_sees_only_its_own(daemon, world):
    h = world["callers"]["tenant-" + A]

    def get(path, **kw):
        r = requests.get(daemon.url + path, headers=h, timeout=HTTP_TIMEOUT, **kw)
        assert r.status_code == 200, "%s: %d %s" % (path, r.status_code, r.text)
        return r.json()

    assert get("/system/namespaces") == [A]
    assert get("/system/whoami") == {"user": A, "admin": False, "namespaces": [A],
                                     "credential": get("/system/whoami")["credential"]}
    # No namespace named: the tenant's own, not openfaas-fn.
    assert [f["name"] for f in get("/system/functions")] == [FN[A]]
    assert [s["name"] for s in get("/system/secrets")] == [SECRET[A]]
    assert get("/system/tenants/" + A)["name"] == A
    # An async call of B, asked by id: not found; A's own: found.
    r = requests.get(daemon.url + "/system/async/" + world["calls"][B], headers=h, timeout=HTTP_TIMEOUT)
    assert r.status_code == 404, r.text
    assert get("/system/async/" + world["calls"][A])["namespace"] == A
    # The admin sees everything.
    adm = world["callers"]["admin"]
    names = requests.get(daemon.url + "/system/namespaces", headers=adm, timeout=HTTP_TIMEOUT).json()
    assert A in names and B in names and "openfaas-fn" in names
    assert requests.get(daemon.url + "/system/whoami", headers=adm, timeout=HTTP_TIMEOUT).json()["admin"] is True


def test_tenant_writes_stay_home(daemon, world):
    """A deploy and a secret from tenant A without a namespace land in A; a
    body naming B is refused before anything happens."""
    h = world["callers"]["tenant-" + A]
    r = requests.post(daemon.url + "/system/secrets", headers=h, json={"name": "home", "value": "1"},
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    adm = world["callers"]["admin"]
    listed = requests.get(daemon.url + "/system/secrets", params={"namespace": A}, headers=adm,
                          timeout=HTTP_TIMEOUT).json()
    assert {"name": "home", "namespace": A} in listed
    r = requests.post(daemon.url + "/system/secrets", headers=h,
                      json={"name": "away", "namespace": B, "value": "1"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 403, r.text
    listed = requests.get(daemon.url + "/system/secrets", params={"namespace": B}, headers=adm,
                          timeout=HTTP_TIMEOUT).json()
    assert all(s["name"] != "away" for s in listed)
    # A query naming A and a body naming B: refused too.
    r = requests.delete(daemon.url + "/system/secrets", params={"namespace": A}, headers=h,
                        json={"name": SECRET[B], "namespace": B}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 403, r.text
    # Tenants cannot make tenants or tokens, not even their own.
    r = requests.post(daemon.url + "/system/tenants/%s/tokens" % A, headers=h, json={}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 403, r.text
