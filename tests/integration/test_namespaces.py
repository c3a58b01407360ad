# SPDX-License-Identifier: MIT
"""Namespaces (tenants) and scale-function as faas-cli drives them
(OPENFAAS-COMPAT.md §2.1, §2.3, §2.4, §3.2; core/api/namespaces.c):
namespace create/get/update/remove, a function deployed into and invoked in
a new namespace, delete refused while functions remain, the default
namespace never deletable (403), labels/annotations validation, scale
200/404/400, and each tenant's sandboxes on their own host uid range."""
import pytest
import requests

from sfaasd_testlib import DEFAULT_NS, HTTP_TIMEOUT, error_of

NS = "/system/namespace/"
UID_BASE = 1073741824   # STORE_UID_BASE (store/db.h)
OPENFAAS = {"openfaas": "1"}


def ns_create(api, name, labels=None, annotations=None, expect=201):
    body = {"name": name, "labels": OPENFAAS if labels is None else labels}
    if annotations is not None:
        body["annotations"] = annotations
    r = api.post(NS, json=body)
    assert r.status_code == expect, "create %s: %d %s" % (name, r.status_code, r.text)
    return r


def ns_list(api):
    r = api.get("/system/namespaces")
    assert r.status_code == 200, r.text
    return r.json()


def test_namespace_lifecycle(api, busybox):
    # faas-cli namespace create team-a --label team=a --annotation owner=ops
    r = ns_create(api, "team-a", labels={"openfaas": "1", "team": "a"}, annotations={"owner": "ops"})
    assert r.content == b""
    # again: 409
    r = api.post(NS, json={"name": "team-a", "labels": OPENFAAS})
    assert r.status_code == 409, r.text
    assert "already exists" in error_of(r)
    # get: FunctionNamespace
    r = api.get(NS + "team-a")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == {"name": "team-a", "labels": {"openfaas": "1", "team": "a"},
                        "annotations": {"owner": "ops"}}
    # update: 202; null annotations are an empty map
    r = api.put(NS + "team-a", json={"name": "team-a", "labels": {"openfaas": "1", "team": "b"},
                                     "annotations": None})
    assert r.status_code == 202, r.text
    assert api.get(NS + "team-a").json() == {"name": "team-a", "labels": {"openfaas": "1", "team": "b"},
                                             "annotations": {}}
    # the list has it, sorted, beside the default
    names = ns_list(api)
    assert "team-a" in names and DEFAULT_NS in names and names == sorted(names)

    # a function deployed into it, invoked as NAME.NS
    api.deploy("hello", image=busybox["id"], fprocess="cat", namespace="team-a", expect=202)
    r = api.invoke("hello.team-a", data=b"hi from team-a")
    assert r.status_code == 200, r.text
    assert r.content == b"hi from team-a"
    # not visible in the default namespace
    assert api.invoke("hello", data=b"x").status_code == 404
    r = api.get("/system/functions", params={"namespace": "team-a"})
    assert [f["name"] for f in r.json()] == ["hello"]
    assert "hello" not in [f["name"] for f in api.get("/system/functions").json()]
    # a secret of the namespace goes with it
    r = api.post("/system/secrets", json={"name": "team-key", "namespace": "team-a", "value": "v"})
    assert r.status_code == 200, r.text

    # delete while it has functions: 409, saying why
    r = api.delete(NS + "team-a")
    assert r.status_code == 409, r.text
    assert "still has functions" in error_of(r)
    assert api.get(NS + "team-a").status_code == 200
    # remove the function, then the namespace
    r = api.remove("hello", namespace="team-a")
    assert r.status_code == 200, r.text
    r = api.delete(NS + "team-a")
    assert r.status_code == 202, r.text
    r = api.get(NS + "team-a")
    assert r.status_code == 404, r.text
    assert "team-a" in error_of(r)
    assert "team-a" not in ns_list(api)
    assert api.delete(NS + "team-a").status_code == 404
    r = api.put(NS + "team-a", json={"name": "team-a", "labels": OPENFAAS})
    assert r.status_code == 404, r.text
    # the namespace is gone for the rest of the API too
    r = api.get("/system/functions", params={"namespace": "team-a"})
    assert r.status_code == 400 and "team-a" in error_of(r)
    assert api.invoke("hello.team-a").status_code == 404
    # re-created, it starts empty: the secret went with the old one
    ns_create(api, "team-a")
    r = api.get("/system/secrets", params={"namespace": "team-a"})
    assert r.status_code == 200 and r.json() == [], r.text
    assert api.delete(NS + "team-a").status_code == 202


def test_openfaas_label_required(api):
    for labels in (None, {}, {"team": "x"}, {"openfaas": "0"}, {"openfaas": "true"}):
        body = {"name": "unlabelled"}
        if labels is not None:
            body["labels"] = labels
        r = api.post(NS, json=body)
        assert r.status_code == 400, (labels, r.text)
        assert 'openfaas: "1"' in error_of(r)
    # update needs it too, and changes nothing without it
    ns_create(api, "labelled", labels={"openfaas": "1", "keep": "me"})
    r = api.put(NS + "labelled", json={"name": "labelled", "labels": {"keep": "other"}})
    assert r.status_code == 400 and 'openfaas: "1"' in error_of(r)
    assert api.get(NS + "labelled").json()["labels"] == {"openfaas": "1", "keep": "me"}
    assert "unlabelled" not in ns_list(api)
    assert api.delete(NS + "labelled").status_code == 202


@pytest.mark.parametrize("field,value", [
    ("labels", {"openfaas": 1}),
    ("labels", "openfaas=1"),
    ("labels", ["openfaas"]),
    ("annotations", {"a": 1}),
    ("annotations", {"a": None}),
    ("annotations", "x"),
])
def test_labels_annotations_types(api, field, value):
    body = {"name": "typed", "labels": OPENFAAS, field: value}
    r = api.post(NS, json=body)
    assert r.status_code == 400, r.text
    assert field in error_of(r)
    assert "typed" not in ns_list(api)


@pytest.mark.parametrize("name", ["bad.name", "-lead", "_lead", "a/b", "a b", "x" * 64, "ünï", 5, ""])
def test_bad_names(api, name):
    r = api.post(NS, json={"name": name, "labels": OPENFAAS})
    assert r.status_code == 400, r.text
    error_of(r)
    if isinstance(name, str) and name:
        assert name not in ns_list(api)


def test_bad_requests(api):
    # not JSON, not an object
    for data in (b"{", b"[]", b""):
        r = api.post(NS, data=data, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (data, r.text)
    # a bad name in the path: the router's 400
    for m in ("GET", "PUT", "DELETE"):
        r = api.req(m, NS + "bad.name", json={"name": "bad.name", "labels": OPENFAAS})
        assert r.status_code == 400, (m, r.text)
    # GET, PUT, DELETE need the name in the path
    for m in ("GET", "PUT", "DELETE"):
        r = api.req(m, NS, json={"name": "pathless", "labels": OPENFAAS})
        assert r.status_code == 400, (m, r.text)
        assert "/system/namespace/NAME" in error_of(r)
    # body and path disagree
    ns_create(api, "agree")
    r = api.put(NS + "agree", json={"name": "other", "labels": OPENFAAS})
    assert r.status_code == 400 and "does not match" in error_of(r)
    # POST /system/namespace/NAME with no name in the body takes the path's
    r = api.post(NS + "from-path", json={"labels": OPENFAAS})
    assert r.status_code == 201, r.text
    assert api.get(NS + "from-path").json()["name"] == "from-path"
    for n in ("agree", "from-path"):
        assert api.delete(NS + n).status_code == 202
    # other methods: 405
    r = api.req("PATCH", NS + "agree", json={})
    assert r.status_code == 405, r.text


def test_auth_required(daemon):
    for m in ("GET", "POST", "PUT", "DELETE"):
        r = requests.request(m, daemon.url + NS + "anyone", json={"name": "anyone", "labels": OPENFAAS},
                             timeout=HTTP_TIMEOUT)
        assert r.status_code == 401, (m, r.text)
    r = requests.post(daemon.url + "/system/scale-function/x", json={"replicas": 1}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 401, r.text


def test_default_namespace_not_deletable(api):
    r = api.delete(NS + DEFAULT_NS)
    assert r.status_code == 403, r.text
    assert "default namespace" in error_of(r)
    assert api.get(NS + DEFAULT_NS).status_code == 200
    assert DEFAULT_NS in ns_list(api)
    # it can be updated like any other, keeping the label
    r = api.put(NS + DEFAULT_NS, json={"name": DEFAULT_NS, "labels": {"openfaas": "1", "tier": "default"}})
    assert r.status_code == 202, r.text
    assert api.get(NS + DEFAULT_NS).json()["labels"] == {"openfaas": "1", "tier": "default"}


def scale(api, name, body, **kw):
    return api.post("/system/scale-function/" + name, json=body, **kw)


def test_scale(api, busybox):
    api.deploy("scaled", fprocess="cat", expect=202)
    # ScaleServiceRequest: serviceName, replicas, namespace (optional)
    for body in ({"serviceName": "scaled", "replicas": 1},
                 {"serviceName": "scaled", "replicas": 5, "namespace": DEFAULT_NS},
                 {"serviceName": "scaled", "replicas": 0},
                 {"replicas": 2}):
        r = scale(api, "scaled", body)
        assert r.status_code == 200, (body, r.text)
        assert r.content == b""
    # exec mode: nothing recorded, always ready
    st = api.get("/system/function/scaled").json()
    assert st["replicas"] == 1 and st["availableReplicas"] == 1
    assert api.invoke("scaled", data=b"still here").content == b"still here"
    # unknown function: 404; also when it exists only in another namespace
    r = scale(api, "nope", {"serviceName": "nope", "replicas": 1})
    assert r.status_code == 404 and "nope" in error_of(r)
    ns_create(api, "scale-b")
    r = scale(api, "scaled", {"serviceName": "scaled", "replicas": 1, "namespace": "scale-b"})
    assert r.status_code == 404, r.text
    # namespace from the query when the body has none (gateway -> provider)
    r = scale(api, "scaled", {"serviceName": "scaled", "replicas": 1}, params={"namespace": "scale-b"})
    assert r.status_code == 404, r.text
    r = scale(api, "scaled", {"serviceName": "scaled", "replicas": 1}, params={"namespace": DEFAULT_NS})
    assert r.status_code == 200, r.text
    # bad bodies: 400
    for body in ({"serviceName": "scaled", "replicas": -1},
                 {"serviceName": "scaled", "replicas": 1.5},
                 {"serviceName": "scaled", "replicas": "1"},
                 {"serviceName": 7, "replicas": 1},
                 {"serviceName": "other", "replicas": 1},
                 {"serviceName": "scaled", "replicas": 1, "namespace": 3},
                 {"serviceName": "scaled", "replicas": 1, "namespace": "no-such-ns"},
                 {"serviceName": "scaled", "replicas": 1, "namespace": "bad.ns"}):
        r = scale(api, "scaled", body)
        assert r.status_code == 400, (body, r.text)
        error_of(r)
    r = api.post("/system/scale-function/scaled", data=b"{nope", headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert api.get("/system/scale-function/scaled").status_code == 405
    assert api.remove("scaled").status_code == 200
    assert api.delete(NS + "scale-b").status_code == 202


def uid_map(api, fn):
    r = api.invoke(fn)
    assert r.status_code == 200, r.text
    lines = r.text.split("\n")
    fields = lines[0].split()
    assert len(fields) == 3 and len([x for x in lines if x.strip()]) == 1, r.text
    inside, base, count = (int(x) for x in fields)
    assert inside == 0 and count == 65536, r.text
    return base


def test_tenant_uid_ranges(api, busybox):
    """Each tenant's sandboxes map 0..65535 onto the tenant's own host range."""
    ns_create(api, "iso-a")
    ns_create(api, "iso-b")
    bases = {}
    for ns in (DEFAULT_NS, "iso-a", "iso-b"):
        api.deploy("uidmap", image=busybox["id"], fprocess="cat /proc/self/uid_map", namespace=ns, expect=202)
        bases[ns] = uid_map(api, "uidmap." + ns)
    assert len(set(bases.values())) == 3, bases
    for ns, base in bases.items():
        assert base >= UID_BASE and (base - UID_BASE) % 65536 == 0, (ns, base)
    # stable across calls
    assert uid_map(api, "uidmap.iso-a") == bases["iso-a"]
    for ns in (DEFAULT_NS, "iso-a", "iso-b"):
        assert api.remove("uidmap", namespace=ns).status_code == 200
    for ns in ("iso-a", "iso-b"):
        assert api.delete(NS + ns).status_code == 202
