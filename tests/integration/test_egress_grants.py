# SPDX-License-Identifier: MIT
"""Egress grants and the tenant's ceiling (core/model/egress_grant.h).

A function's grant is the annotation com.sfaasd.egress; the tenant's
ceiling (GET/PUT /system/tenants/NS/egress) is the most it may name, and
only the admin sets it. A deploy asking more is 400 naming the entry.
"""
import requests

from sfaasd_testlib import HTTP_TIMEOUT, basic, error_of

NS = "egt"
ANN = "com.sfaasd.egress"


def tenant_api(daemon, api):
    r = api.post("/system/tenants", json={"name": NS})
    assert r.status_code in (201, 409), r.text
    r = api.post("/system/tenants/%s/tokens" % NS, json={"name": "t"})
    assert r.status_code == 201, r.text
    s = requests.Session()
    s.headers["Authorization"] = "Bearer " + r.json()["token"]
    return s


def deploy(session, url, name, grant, ns=NS):
    return session.post(url + "/system/functions", timeout=HTTP_TIMEOUT,
                        json={"service": name, "image": "busybox:latest", "namespace": ns, "envProcess": "cat",
                              "annotations": {ANN: grant}})


def test_ceiling_is_the_admins(daemon, api, images):
    t = tenant_api(daemon, api)
    url = daemon.url
    # The tenant reads its (empty) ceiling and cannot set it.
    r = t.get(url + "/system/tenants/%s/egress" % NS, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    assert r.json() == {"namespace": NS, "ceiling": []}
    r = t.put(url + "/system/tenants/%s/egress" % NS, json={"ceiling": "*:*"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 403, r.text
    # Bad ceilings.
    for bad in ("api.example.com", "a.b:99999", "*.com*:443", "10.0.0.0/33:1", "[::1:443", "x.y:443 secret=s",
                "1.2.3:80", "-a.b:80", "a..b:80", ", ,"):
        r = api.put("/system/tenants/%s/egress" % NS, json={"ceiling": bad})
        assert r.status_code == 400, (bad, r.text)
    r = api.put("/system/tenants/%s/egress" % NS,
                json={"ceiling": ["api.example.com:443", "*.payments.example:443", "10.1.0.0/16:*",
                                  "[2001:db8::/32]:443"]})
    assert r.status_code == 200, r.text
    assert r.json()["ceiling"] == ["api.example.com:443", "*.payments.example:443", "10.1.0.0/16:*",
                                   "[2001:db8::/32]:443"]
    assert t.get(url + "/system/tenants/%s/egress" % NS, timeout=HTTP_TIMEOUT).json()["ceiling"][0] == \
        "api.example.com:443"
    r = api.put("/system/tenants/nobody-here/egress", json={"ceiling": ""})
    assert r.status_code == 404, r.text
    # The change is in the audit trail.
    r = api.get("/system/audit", params={"namespace": NS})
    assert r.status_code == 200
    assert any("egress ceiling" in (e.get("detail") or "") for e in r.json()), r.text

    # Deploys within the ceiling pass ...
    r = t.post(url + "/system/images", params={"namespace": NS},
               data=open(images.path("busybox-oci.tar"), "rb").read(), headers={"Content-Type": "application/x-tar"},
               timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    r = t.post(url + "/system/secrets", json={"name": "tok", "namespace": NS, "value": "v"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    for i, ok in enumerate(("api.example.com:443", "API.Example.com:443, x.payments.example:443",
               "*.payments.example:443", "10.1.2.3:5432", "10.1.2.0/24:80", "[2001:db8:1::5]:443",
               "api.example.com:443 secret=tok header=X-Api-Key", "10.1.2.3:5432 forward=5432", "")):
        r = deploy(t, url, "ok%d" % i, ok)
        assert r.status_code in (200, 202), (ok, r.text)
    # ... and beyond it are 400 naming the entry.
    for far, entry in (("api.example.com:80", "api.example.com:80"),
                       ("api.example.com:443, evil.example:443", "evil.example:443"),
                       ("a.b.payments.example:443", "a.b.payments.example:443"),
                       ("*.example.com:443", "*.example.com:443"),
                       ("10.2.0.1:5432", "10.2.0.1:5432"),
                       ("10.0.0.0/8:5432", "10.0.0.0/8:5432"),
                       ("0.0.0.0/0:*", "0.0.0.0/0:*"),
                       ("api.example.com:*", "api.example.com:*")):
        r = deploy(t, url, "far", far)
        assert r.status_code == 400, (far, r.text)
        assert entry in error_of(r) and "ceiling" in error_of(r), r.text
    # Malformed grants are 400 too.
    for bad in ("api.example.com", "*.payments.example:443 secret=tok", "api.example.com:443 bogus=1",
                "api.example.com:443 header=X-A", "10.1.0.0/16:80 forward=80", "api.example.com:*  forward=1",
                "api.example.com:443 secret=nosuch"):
        r = deploy(t, url, "bad", bad)
        assert r.status_code == 400, (bad, r.text)
    # A tenant cannot deploy into another namespace's ceiling either: the
    # default namespace has none.
    r = requests.post(url + "/system/functions", auth=("admin", daemon.password), timeout=HTTP_TIMEOUT,
                      json={"service": "far", "image": "busybox:latest", "envProcess": "cat",
                            "annotations": {ANN: "api.example.com:443"}})
    assert r.status_code == 400 and "openfaas-fn" in error_of(r), r.text
    # Labels count as well.
    r = t.post(url + "/system/functions", timeout=HTTP_TIMEOUT,
               json={"service": "lab", "image": "busybox:latest", "namespace": NS, "envProcess": "cat",
                     "labels": {ANN: "evil.example:443"}})
    assert r.status_code == 400, r.text

