# SPDX-License-Identifier: MIT
"""/system/secrets as faas-cli drives it (OPENFAAS-COMPAT.md §2.3, §2.4, §3.2),
secrets mounted read-only at /var/openfaas/secrets/NAME, and no cleartext on
disk (store/secrets.h, core/model/secret_files.h)."""
import base64
import os
import sqlite3
import stat

import pytest

from sfaasd_testlib import DEFAULT_NS, Api, error_of

SECRETS = "/system/secrets"
LITERAL = "s3cr3t-literal-7f1c9a"          # never expected anywhere on disk
FILE_VALUE = b"from-file-\x00\x01\xfe-4d2e77\n"  # bytes, sent as rawValue
UPDATED = "updated-value-91b3e0"


def names(r):
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    j = r.json()
    assert isinstance(j, list)
    for e in j:
        assert set(e) == {"name", "namespace"}, e   # values never returned
    return j


def put_secret(api, body):
    """faas-cli secret create --replace: POST, on 409 PUT."""
    r = api.post(SECRETS, json=body)
    if r.status_code == 409:
        r = api.put(SECRETS, json=body)
    assert r.status_code == 200, r.text


def test_create_list_replace_remove(api):
    # faas-cli secret create api-key --from-literal ...
    r = api.post(SECRETS, json={"name": "api-key", "value": LITERAL})
    assert r.status_code == 200, r.text
    # --from-file: rawValue, standard base64
    r = api.post(SECRETS, json={"name": "blob.bin", "rawValue": base64.b64encode(FILE_VALUE).decode()})
    assert r.status_code == 200, r.text
    # duplicate create: 409; faas-cli --replace then PUTs
    r = api.post(SECRETS, json={"name": "api-key", "value": "other"})
    assert r.status_code == 409, r.text
    assert "already exists" in error_of(r)
    r = api.put(SECRETS, json={"name": "api-key", "value": LITERAL})
    assert r.status_code == 200, r.text
    # list: array of {name, namespace}, sorted
    assert names(api.get(SECRETS)) == [{"name": "api-key", "namespace": DEFAULT_NS},
                                       {"name": "blob.bin", "namespace": DEFAULT_NS}]
    assert names(api.get(SECRETS, params={"namespace": DEFAULT_NS})) == names(api.get(SECRETS))
    # update of an absent one: 404 ("unable to find secret")
    r = api.put(SECRETS, json={"name": "nope", "value": "x"})
    assert r.status_code == 404, r.text
    assert "unable to find secret" in error_of(r)
    # remove: 200 (never 204), then 404
    api.post(SECRETS, json={"name": "tmp-one", "value": "x"})
    r = api.delete(SECRETS, json={"name": "tmp-one", "namespace": DEFAULT_NS})
    assert r.status_code == 200, r.text
    r = api.delete(SECRETS, json={"name": "tmp-one"})
    assert r.status_code == 404, r.text
    assert "tmp-one" not in [e["name"] for e in names(api.get(SECRETS))]


def test_namespace_body_then_query(api):
    # body first
    r = api.post(SECRETS, json={"name": "ns-b", "namespace": "no-such-ns", "value": "x"})
    assert r.status_code == 400 and "no-such-ns" in error_of(r)
    # body wins over query
    r = api.post(SECRETS, params={"namespace": "no-such-ns"},
                 json={"name": "ns-b", "namespace": DEFAULT_NS, "value": "x"})
    assert r.status_code == 200, r.text
    # query when the body has none (faasd's DELETE reads only the query)
    r = api.delete(SECRETS, params={"namespace": "no-such-ns"}, json={"name": "ns-b"})
    assert r.status_code == 400 and "no-such-ns" in error_of(r)
    r = api.delete(SECRETS, params={"namespace": DEFAULT_NS}, json={"name": "ns-b"})
    assert r.status_code == 200, r.text
    r = api.get(SECRETS, params={"namespace": "no-such-ns"})
    assert r.status_code == 400


@pytest.mark.parametrize("body,field,code", [
    ({"value": "x"}, "name", 400),
    ({"name": 5, "value": "x"}, "name", 400),
    ({"name": "../etc", "value": "x"}, "name", 400),
    ({"name": ".hidden", "value": "x"}, "name", 400),
    ({"name": "a/b", "value": "x"}, "name", 400),
    ({"name": "ok", "value": 5}, "value", 400),
    ({"name": "ok", "rawValue": 5}, "rawValue", 400),
    ({"name": "ok", "rawValue": "not base64!"}, "rawValue", 400),
    ({"name": "ok", "rawValue": "YWJj="}, "rawValue", 400),
    ({"name": "ok", "value": "x", "namespace": 7}, "namespace", 400),
])
def test_bad_bodies(api, body, field, code):
    r = api.post(SECRETS, json=body)
    assert r.status_code == code, r.text
    assert field in error_of(r)


def test_bad_json_and_size(api):
    r = api.post(SECRETS, data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = api.post(SECRETS, data=b"[]", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    r = api.post(SECRETS, json={"name": "big", "value": "x" * (512 * 1024 + 1)})
    assert r.status_code == 413, r.text
    r = api.post(SECRETS, json={"name": "big", "rawValue": base64.b64encode(b"x" * (512 * 1024 + 1)).decode()})
    assert r.status_code == 413, r.text
    r = api.post(SECRETS, json={"name": "big", "value": "x" * (512 * 1024)})
    assert r.status_code == 200, r.text
    assert api.delete(SECRETS, json={"name": "big"}).status_code == 200
    # rawValue wins over value; an empty rawValue falls back to value
    assert api.post(SECRETS, json={"name": "both", "value": "v", "rawValue": "cnc="}).status_code == 200
    assert api.post(SECRETS, json={"name": "emptyraw", "value": "v", "rawValue": ""}).status_code == 200


def test_unauthenticated(daemon):
    anon = Api(daemon, auth=False)
    assert anon.get(SECRETS).status_code == 401
    assert anon.post(SECRETS, json={"name": "x", "value": "y"}).status_code == 401


def test_deploy_and_mount(api, busybox, daemon):
    put_secret(api, {"name": "api-key", "value": LITERAL})
    put_secret(api, {"name": "blob.bin", "rawValue": base64.b64encode(FILE_VALUE).decode()})
    # a missing secret: 400 naming it, on POST and on PUT
    r = api.deploy("sec-fn", fprocess="sh", secrets=["api-key", "missing-one"])
    assert r.status_code == 400 and error_of(r) == "unable to find secret: missing-one", r.text
    api.deploy("sec-fn", fprocess="sh", secrets=["api-key", "blob.bin", "api-key"], expect=202)
    r = api.deploy("sec-fn", fprocess="sh", secrets=["missing-one"], method="PUT")
    assert r.status_code == 400 and error_of(r) == "unable to find secret: missing-one", r.text

    r = api.invoke("sec-fn.%s" % DEFAULT_NS, data=b"cat /var/openfaas/secrets/api-key")
    assert r.status_code == 200, r.text
    assert r.text == LITERAL
    r = api.invoke("sec-fn", data=b"cat /var/openfaas/secrets/blob.bin")
    assert r.status_code == 200 and r.content == FILE_VALUE
    # read-only, 0444, the function (user app, not root) reads but cannot write
    script = (b"id -u; stat -c '%a %s' /var/openfaas/secrets/api-key; ls /var/openfaas/secrets;"
              b"echo x > /var/openfaas/secrets/api-key && echo WROTE;"
              b"rm /var/openfaas/secrets/api-key && echo REMOVED;"
              b"touch /var/openfaas/secrets/new && echo CREATED;"
              b"mount -o remount,rw /var/openfaas/secrets 2>/dev/null && echo REMOUNTED;"
              b"cat /var/openfaas/secrets/api-key; ls /var | sort")
    r = api.invoke("sec-fn", data=script)
    assert r.status_code == 200, r.text
    lines = r.text.splitlines()
    assert lines[0] != "0"
    assert lines[1] == "444 %d" % len(LITERAL)
    assert lines[2:4] == ["api-key", "blob.bin"]
    for bad in ("WROTE", "REMOVED", "CREATED", "REMOUNTED"):
        assert bad not in r.text
    assert LITERAL in r.text
    # update: the next invocation sees the new value
    assert api.put(SECRETS, json={"name": "api-key", "value": UPDATED}).status_code == 200
    r = api.invoke("sec-fn", data=b"cat /var/openfaas/secrets/api-key")
    assert r.status_code == 200 and r.text == UPDATED
    # a function without secrets has no secrets folder
    api.deploy("nosec-fn", fprocess="sh", expect=202)
    r = api.invoke("nosec-fn", data=b"ls /var/openfaas 2>&1 || echo ABSENT")
    assert "ABSENT" in r.text
    # a secret removed after the deploy: the invocation fails, naming it
    assert api.delete(SECRETS, json={"name": "blob.bin"}).status_code == 200
    r = api.invoke("sec-fn", data=b"true")
    assert r.status_code == 500 and "unable to find secret: blob.bin" in r.text


def test_secrets_on_an_image_without_var(api, images):
    """An image with no /var (FROM scratch, distroless; here httpfn: a static
    server, busybox, /etc, /home, /tmp) gets its secrets at
    /var/openfaas/secrets as on any other image, in exec mode and in a warm
    http-mode instance; the rest of its root looks as before and stays
    read-only."""
    r = api.import_image(images.path("httpfn-oci.tar"))
    assert r.status_code == 200, r.text
    put_secret(api, {"name": "novar-key", "value": LITERAL})
    api.deploy("novar-exec", image="httpfn:latest", secrets=["novar-key"], expect=202,
               annotations={"com.sfaasd.mode": "exec"}, fprocess="/bin/busybox sh")
    r = api.invoke("novar-exec", data=b"cat /var/openfaas/secrets/novar-key; echo; ls / | sort | tr '\\n' ' '; "
                                       b"echo; touch /x 2>/dev/null && echo WROTE-ROOT; ls /var")
    assert r.status_code == 200, r.text
    lines = r.text.splitlines()
    assert lines[0] == LITERAL, r.text
    assert lines[1].split() == sorted(["bin", "dev", "etc", "home", "httpfn", "proc", "sys", "tmp", "var"]), r.text
    assert "WROTE-ROOT" not in r.text
    assert lines[2] == "openfaas", r.text
    # http mode: the instance starts (it failed with 'bind mount' before) and answers
    api.deploy("novar-http", image="httpfn:latest", secrets=["novar-key"], expect=202)
    r = api.invoke("novar-http", path="/hello")
    assert r.status_code == 200 and r.text == "hello\n", r.text
    for n in ("novar-exec", "novar-http"):
        assert api.remove(n).status_code == 200


def test_no_cleartext_on_disk(api, daemon):
    """After everything above (module order), no value is in any file of
    the data folder, raw or base64; the key file is 0600."""
    key = os.path.join(daemon.data_dir, "secrets", "store.key")
    st = os.stat(key)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_size == 32
    needles = [LITERAL.encode(), UPDATED.encode(), FILE_VALUE, base64.b64encode(FILE_VALUE),
               base64.b64encode(LITERAL.encode())]
    n = 0
    for root, dirs, files in os.walk(daemon.data_dir):
        for f in files:
            p = os.path.join(root, f)
            if not os.path.isfile(p) or os.path.islink(p):
                continue
            with open(p, "rb") as fh:
                data = fh.read()
            n += 1
            for needle in needles:
                assert needle not in data, "cleartext %r found in %s" % (needle, p)
    assert n > 0
    # the table holds only nonce + ciphertext
    db = sqlite3.connect("file:%s?mode=ro" % os.path.join(daemon.data_dir, "sfaasd.db"), uri=True)
    try:
        rows = db.execute("SELECT name, length(nonce), length(ciphertext) FROM secrets ORDER BY name").fetchall()
    finally:
        db.close()
    assert ("api-key", 12, len(UPDATED) + 16) in rows


def test_tenants_isolated_and_key_survives_restart(make_daemon, images):
    """A second namespace (made in SQLite while stopped: there is no
    namespace API yet): same secret name, different values, each function
    sees its own; a restart reads the same key back."""
    d = make_daemon()
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    assert api.post(SECRETS, json={"name": "db", "value": "value-default"}).status_code == 200
    d.stop()
    db = sqlite3.connect(os.path.join(d.data_dir, "sfaasd.db"))
    db.execute("INSERT INTO namespaces(name, labels, annotations, uid_slot, created_at) "
               "VALUES ('tenant-b', '{\"openfaas\":\"1\"}', '{}', 1, 0)")
    db.commit()
    db.close()
    d.start()
    api = Api(d)
    # images may be per namespace: make busybox:latest known in tenant-b too
    with open(images.path("busybox-oci.tar"), "rb") as f:
        r = api.post("/system/images", data=f.read(), params={"namespace": "tenant-b"},
                     headers={"Content-Type": "application/x-tar"})
    assert r.status_code == 200, r.text
    assert api.post(SECRETS, json={"name": "db", "namespace": "tenant-b", "value": "value-b"}).status_code == 200
    assert api.post(SECRETS, json={"name": "only-b", "namespace": "tenant-b", "value": "b"}).status_code == 200
    assert names(api.get(SECRETS)) == [{"name": "db", "namespace": DEFAULT_NS}]
    assert names(api.get(SECRETS, params={"namespace": "tenant-b"})) == [
        {"name": "db", "namespace": "tenant-b"}, {"name": "only-b", "namespace": "tenant-b"}]
    # a default-namespace function cannot name tenant-b's secret
    r = api.deploy("f", fprocess="sh", secrets=["only-b"])
    assert r.status_code == 400 and error_of(r) == "unable to find secret: only-b"
    api.deploy("f", fprocess="sh", secrets=["db"], expect=202)
    api.deploy("f", fprocess="sh", secrets=["db"], namespace="tenant-b", expect=202)
    assert api.invoke("f", data=b"cat /var/openfaas/secrets/db").text == "value-default"
    assert api.invoke("f.tenant-b", data=b"cat /var/openfaas/secrets/db").text == "value-b"
    # removing from one tenant leaves the other
    assert api.delete(SECRETS, json={"name": "db", "namespace": "tenant-b"}).status_code == 200
    assert api.invoke("f", data=b"cat /var/openfaas/secrets/db").text == "value-default"
