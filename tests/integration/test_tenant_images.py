# SPDX-License-Identifier: MIT
"""Images per tenant (issue 12, point 3): blobs and rootfs are stored once,
but a tenant names and uses only the images it imported and those the admin
shared; another tenant's image, by tag, id or id prefix, answers exactly as
an image nobody has."""
import os

import pytest
import requests

from sfaasd_testlib import HTTP_TIMEOUT, basic

NOBODY = "sha256:" + "0" * 64


@pytest.fixture(scope="module")
def tenants(daemon, api):
    out = {}
    for ns in ("img-a", "img-b"):
        assert api.post("/system/tenants", json={"name": ns}).status_code == 201
        r = api.post("/system/tenants/%s/tokens" % ns, json={})
        assert r.status_code == 201, r.text
        s = requests.Session()
        s.headers["Authorization"] = basic(r.json()["token"], user=ns)
        out[ns] = s
    return out


def call(daemon, s, method, path, **kw):
    return s.request(method, daemon.url + path, timeout=HTTP_TIMEOUT, **kw)


def import_as(daemon, s, path, name=None):
    with open(path, "rb") as f:
        return call(daemon, s, "POST", "/system/images", data=f.read(), params={"name": name} if name else None,
                    headers={"Content-Type": "application/x-tar"})


def same_answer(r1, r2, a, b):
    """The two answers are the same, but for the reference asked about."""
    assert r1.status_code == r2.status_code, (r1.status_code, r1.text, r2.status_code, r2.text)
    assert r1.text.replace(a, "REF") == r2.text.replace(b, "REF"), (r1.text, r2.text)


def test_another_tenants_image_is_not_there(daemon, api, tenants, images):
    a, b = tenants["img-a"], tenants["img-b"]
    r = import_as(daemon, a, images.path("busybox-oci.tar"), name="a/box:1")
    assert r.status_code == 200, r.text
    img = r.json()
    iid = img["id"]
    assert img["existed"] is False and img["shared"] is False

    # B asks by id, by a 12-digit prefix, and by A's name: as for nothing.
    for ref, ghost in ((iid, NOBODY), (iid[:19], NOBODY[:19]), ("a/box:1", "ghost/box:1")):
        same_answer(call(daemon, b, "GET", "/system/images/" + ref),
                    call(daemon, b, "GET", "/system/images/" + ghost), ref, ghost)
        same_answer(call(daemon, b, "DELETE", "/system/images/" + ref),
                    call(daemon, b, "DELETE", "/system/images/" + ghost), ref, ghost)
        body = {"service": "steal", "image": ref, "envProcess": "cat"}
        r1 = call(daemon, b, "POST", "/system/functions", json=body)
        r2 = call(daemon, b, "POST", "/system/functions", json=dict(body, image=ghost))
        assert r1.status_code == 400, r1.text
        same_answer(r1, r2, ref, ghost)
    assert call(daemon, b, "GET", "/system/images").json() == []

    # B imports the same archive: not "existed" (A's copy is not B's to
    # know about), stored once on disk.
    r = import_as(daemon, b, images.path("busybox-oci.tar"))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == iid and r.json()["existed"] is False
    r = import_as(daemon, b, images.path("busybox-oci.tar"))
    assert r.json()["existed"] is True
    assert [i["id"] for i in call(daemon, b, "GET", "/system/images").json()] == [iid]
    # ... with B's names only
    assert call(daemon, b, "GET", "/system/images/" + iid).json()["tags"] == ["busybox:latest"]
    assert os.path.isdir(os.path.join(daemon.data_dir, "images", iid[7:]))
    # A lets go of it: B keeps it.
    r = call(daemon, a, "DELETE", "/system/images/" + iid)
    assert r.status_code == 200 and r.json()["removed"] is False, r.text
    assert call(daemon, a, "GET", "/system/images/" + iid).status_code == 404
    assert call(daemon, b, "GET", "/system/images/" + iid).status_code == 200
    r = call(daemon, b, "POST", "/system/functions", json={"service": "mine", "image": iid, "envProcess": "cat"})
    assert r.status_code == 202, r.text
    r = requests.post(daemon.url + "/function/mine.img-b", data=b"ok", timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.content == b"ok", r.text
    assert call(daemon, b, "DELETE", "/system/functions", json={"functionName": "mine"}).status_code == 200


def test_shared_base_image(daemon, api, tenants, images):
    a, b = tenants["img-a"], tenants["img-b"]
    r = api.import_image(images.path("rootbox-oci.tar"), name="base/root:1")
    assert r.status_code == 200, r.text
    iid = r.json()["id"]
    assert call(daemon, a, "GET", "/system/images/" + iid).status_code == 404
    # Only the admin shares.
    r = call(daemon, a, "PUT", "/system/shared-images/" + iid)
    assert r.status_code == 403, r.text
    r = api.put("/system/shared-images/base/root:1")
    assert r.status_code == 200, r.text
    assert r.json()["shared"] is True
    assert [i["id"] for i in api.get("/system/shared-images").json()] == [iid]
    # Every tenant sees it (without a name of its own) and deploys it by id.
    for s in (a, b):
        got = call(daemon, s, "GET", "/system/images/" + iid).json()
        assert got["shared"] is True and got["tags"] == []
        assert iid in [i["id"] for i in call(daemon, s, "GET", "/system/images").json()]
    r = call(daemon, a, "POST", "/system/functions", json={"service": "onbase", "image": iid, "envProcess": "cat"})
    assert r.status_code == 202, r.text
    # A tenant cannot delete the shared image from under the others.
    r = call(daemon, b, "DELETE", "/system/images/" + iid)
    assert r.status_code == 200 and r.json()["removed"] is False, r.text
    assert call(daemon, b, "GET", "/system/images/" + iid).status_code == 200
    # Unshared: A's function keeps its image (A owns it now), B loses it.
    r = api.delete("/system/shared-images/" + iid)
    assert r.status_code == 200 and r.json()["shared"] is False, r.text
    assert call(daemon, b, "GET", "/system/images/" + iid).status_code == 404
    assert call(daemon, a, "GET", "/system/images/" + iid).status_code == 200
    r = requests.post(daemon.url + "/function/onbase.img-a", data=b"still", timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.content == b"still", r.text
    r = call(daemon, a, "PUT", "/system/functions", json={"service": "onbase", "image": iid, "envProcess": "cat"})
    assert r.status_code == 200, r.text


def test_admin_deploy_gives_the_namespace_its_image(daemon, api, tenants, images):
    r = api.import_image(images.path("busybox-oci.tar"), name="adm/box:1")
    iid = r.json()["id"]
    api.deploy("given", image=iid, fprocess="cat", namespace="img-a", expect=202)
    a = tenants["img-a"]
    assert call(daemon, a, "GET", "/system/images/" + iid).status_code == 200
    r = call(daemon, a, "PUT", "/system/functions", json={"service": "given", "image": iid, "envProcess": "cat"})
    assert r.status_code == 200, r.text
