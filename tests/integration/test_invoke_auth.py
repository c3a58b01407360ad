# SPDX-License-Identifier: MIT
"""Closing invocation (issue 12, point 5). Calls stay open by default (as
OpenFaaS CE); a tenant (or the admin) can require a credential on calls to
its functions, and a function can by annotation (com.sfaasd.invoke-auth).
Then a call needs the admin, a token of the tenant or an invoke key of it
(of that function, or of all of its functions); the credential never
reaches the function."""
import requests

from sfaasd_testlib import HTTP_TIMEOUT, basic

A, B = "inv-a", "inv-b"


def test_closed_invocation(daemon, api, images):
    with open(images.path("busybox-oci.tar"), "rb") as f:
        archive = f.read()
    tok = {}
    for ns in (A, B):
        assert api.post("/system/tenants", json={"name": ns}).status_code == 201
        assert api.post("/system/images", params={"namespace": ns}, data=archive,
                        headers={"Content-Type": "application/x-tar"}).status_code == 200
        api.deploy("env", image="busybox:latest", fprocess="env", namespace=ns, expect=202)
        api.deploy("other", image="busybox:latest", fprocess="env", namespace=ns, expect=202)
        tok[ns] = api.post("/system/tenants/%s/tokens" % ns, json={}).json()["token"]
    # An http-mode function that shows the headers it got.
    with open(images.path("httpfn-oci.tar"), "rb") as f:
        r = api.post("/system/images", params={"namespace": A, "name": "httpfn:test"}, data=f.read(),
                     headers={"Content-Type": "application/x-tar"})
    assert r.status_code == 200, r.text
    api.deploy("hdr", image="httpfn:test", namespace=A, expect=202)
    a = {"Authorization": basic(tok[A], user=A)}
    b = {"Authorization": "Bearer " + tok[B]}
    url = daemon.url + "/function/env." + A
    other = daemon.url + "/function/other." + A

    def call(u, headers=None, method="POST"):
        return requests.request(method, u, headers=headers or {}, data=b"", timeout=HTTP_TIMEOUT)

    hdr = daemon.url + "/function/hdr.%s/headers" % A

    def seen(r):
        """The Authorization header the http-mode function got, or None."""
        assert r.status_code == 200, r.text
        h = r.json()["headers"]
        items = h.items() if isinstance(h, dict) else h
        return next((v for k, v in items if k.lower() == "authorization"), None)

    # Open by default: anyone, and an Authorization header is the function's.
    assert seen(call(hdr, {"Authorization": "Bearer for-the-function"})) == "Bearer for-the-function"
    assert call(url).status_code == 200
    assert requests.get(daemon.url + "/system/tenants/%s/invoke" % A, headers=a,
                        timeout=HTTP_TIMEOUT).json() == {"namespace": A, "auth": False}

    # The tenant closes its own calls (B may not).
    r = requests.put(daemon.url + "/system/tenants/%s/invoke" % A, headers=b, json={"auth": True},
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 403
    r = requests.put(daemon.url + "/system/tenants/%s/invoke" % A, headers=a, json={"auth": True},
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json()["auth"] is True, r.text

    # Invoke keys, issued by the tenant: one for env only, one for all.
    k_env = requests.post(daemon.url + "/system/tenants/%s/keys" % A, headers=a,
                          json={"name": "env-only", "function": "env"}, timeout=HTTP_TIMEOUT).json()
    k_all = requests.post(daemon.url + "/system/tenants/%s/keys" % A, headers=a, json={"name": "all"},
                          timeout=HTTP_TIMEOUT).json()
    assert k_env["key"].startswith("sfk_") and k_env["function"] == "env" and k_all["function"] is None
    keys = requests.get(daemon.url + "/system/tenants/%s/keys" % A, headers=a, timeout=HTTP_TIMEOUT).json()
    assert sorted(k["id"] for k in keys) == sorted([k_env["id"], k_all["id"]])
    assert all("key" not in k for k in keys)

    cases = [
        ({}, 401),
        ({"Authorization": "Bearer sfa_nothing"}, 401),
        ({"Authorization": basic(daemon.password)}, 200),
        (a, 200),
        (b, 403),
        ({"Authorization": "Bearer " + k_env["key"]}, 200),
        ({"Authorization": basic(k_all["key"], user=A)}, 200),
    ]
    for headers, want in cases:
        r = call(url, headers)
        assert r.status_code == want, (headers, r.status_code, r.text)
        if want == 401:
            assert "WWW-Authenticate" in r.headers
        if headers.get("Authorization") == "Bearer " + k_env["key"]:
            want = 403   # a key of env only
        r = call(hdr, headers)
        assert r.status_code == want, (headers, r.status_code, r.text)
        if want == 200:
            # The gateway's credential is taken off the request.
            assert seen(r) is None, r.text
    # A key for env does not open other; the one for all does.
    assert call(other, {"Authorization": "Bearer " + k_env["key"]}).status_code == 403
    assert call(other, {"Authorization": "Bearer " + k_all["key"]}).status_code == 200
    # Async calls too.
    assert requests.post(daemon.url + "/async-function/env." + A, timeout=HTTP_TIMEOUT).status_code == 401
    r = requests.post(daemon.url + "/async-function/env." + A, headers={"Authorization": "Bearer " + k_all["key"]},
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 202, r.text
    # An invoke key is no tenant credential.
    r = requests.get(daemon.url + "/system/functions", headers={"Authorization": "Bearer " + k_all["key"]},
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 401
    # B's calls stay open.
    assert call(daemon.url + "/function/env." + B).status_code == 200

    # Revoked: refused at once.
    r = requests.delete(daemon.url + "/system/tenants/%s/keys/%s" % (A, k_env["id"]), headers=a,
                        timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    assert call(url, {"Authorization": "Bearer " + k_env["key"]}).status_code == 401

    # A function's annotation wins over the tenant's setting, both ways.
    api.deploy("public", image="busybox:latest", fprocess="env", namespace=A, expect=202,
               annotations={"com.sfaasd.invoke-auth": "false"})
    assert call(daemon.url + "/function/public." + A).status_code == 200
    api.deploy("guarded", image="busybox:latest", fprocess="env", namespace=B, expect=202,
               annotations={"com.sfaasd.invoke-auth": "true"})
    assert call(daemon.url + "/function/guarded." + B).status_code == 401
    assert call(daemon.url + "/function/guarded." + B, b).status_code == 200

    # The audit has the refused calls, for A.
    log = requests.get(daemon.url + "/system/audit", headers=a, timeout=HTTP_TIMEOUT).json()
    assert any(x["path"].startswith("/function/env." + A) and x["status"] == 401 for x in log)

    # Open again.
    r = requests.put(daemon.url + "/system/tenants/%s/invoke" % A, headers={"Authorization": basic(daemon.password)},
                     json={"auth": False}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json()["auth"] is False
    assert call(url).status_code == 200
