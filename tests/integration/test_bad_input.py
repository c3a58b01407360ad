# SPDX-License-Identifier: MIT
"""Bad input gets the right 4xx with a JSON "error" naming the problem, and
the daemon keeps serving afterwards (healthz 200, a normal invoke works).
One daemon with small limits for the whole module."""
import gzip
import os
import select
import socket
import stat
import time

import pytest
import requests

from sfaasd_testlib import (HTTP_TIMEOUT, SLOW, basic, error_of, raw_request, read_response, wait_until)

DAEMON_CONFIG = {
    "max_header_bytes": 4096,
    "max_headers": 20,
    "max_url_bytes": 1024,
    "max_body_bytes": 65536,
    "max_upload_bytes": "8Mi",
    "max_connections": 16,
    "header_timeout": "2s",
    "max_unpacked_bytes": "64Mi",
    "max_image_entries": 2000,
}


@pytest.fixture(scope="module")
def echo(api, busybox):
    api.deploy("echo", fprocess="cat", expect=202)
    return "echo"


@pytest.fixture
def serving(api, daemon, echo):
    """Yields, then checks the daemon is still fully working."""
    yield
    assert daemon.running(), "sfaasd died:\n" + daemon.log_tail()
    r = requests.get(daemon.url + "/healthz", timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    body = b"still serving " + os.urandom(8).hex().encode()
    r = api.invoke(echo, data=body)
    assert r.status_code == 200, r.text
    assert r.content == body
    assert api.get("/system/functions").status_code == 200


def post_raw_json(api, method, body):
    return api.req(method, "/system/functions", data=body, headers={"Content-Type": "application/json"})


# ---- malformed and wrongly typed FunctionDeployment --------------------------------------

@pytest.mark.parametrize("body,needle", [
    (b"{", "malformed JSON"),
    (b"not json at all", "malformed JSON"),
    (b'{"service": }', "malformed JSON"),
    (b'{"service":"a","image":"busybox:latest"} trailing', "malformed JSON"),
    (b"[" * 60000, ""),
    (b'{"service":"dupkey","service":"dupkey2","image":"busybox:latest"}', "malformed JSON"),
    (b"[]", "JSON object"),
    (b'"a string"', ""),
    (b"", "empty"),
    (b'{"service":"bad\xff\xfe","image":"busybox:latest"}', ""),
])
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_malformed_json(api, serving, method, body, needle):
    r = post_raw_json(api, method, body)
    assert r.status_code == 400, (r.status_code, r.text)
    assert needle in error_of(r)


@pytest.mark.parametrize("patch,field", [
    ({"service": 5}, "service"),
    ({"service": None}, "service"),
    ({"service": ""}, "service"),
    ({"image": 7}, "image"),
    ({"image": ["busybox"]}, "image"),
    ({"envVars": [1]}, "envVars"),
    ({"envVars": {"A": 1}}, "envVars"),
    ({"envVars": "A=1"}, "envVars"),
    ({"labels": {"a": {"b": "c"}}}, "labels"),
    ({"labels": ["a"]}, "labels"),
    ({"annotations": 3}, "annotations"),
    ({"limits": {"memory": "lots"}}, "limits"),
    ({"limits": {"memory": 128}}, "limits"),
    ({"limits": {"memory": "1Ki"}}, "limits"),
    ({"limits": {"cpu": "fast"}}, "limits"),
    ({"limits": "128Mi"}, "limits"),
    ({"requests": {"memory": "-5"}}, "requests"),
    ({"constraints": "a"}, "constraints"),
    ({"secrets": [1]}, "secrets"),
    ({"envProcess": ["cat"]}, "envProcess"),
    ({"readOnlyRootFilesystem": "yes"}, "readOnlyRootFilesystem"),
    ({"namespace": 5}, "namespace"),
])
def test_wrongly_typed_fields(api, serving, patch, field):
    body = {"service": "typed", "image": "busybox:latest", "envProcess": "cat"}
    body.update(patch)
    for method in ("POST", "PUT"):
        r = api.req(method, "/system/functions", json=body)
        assert r.status_code == 400, (method, patch, r.status_code, r.text)
        assert field in error_of(r), (patch, r.text)
    assert api.get("/system/function/typed").status_code == 404


@pytest.mark.parametrize("body,field", [
    ({"image": "busybox:latest"}, "service"),
    ({"service": "noimage"}, "image"),
    ({}, "service"),
])
def test_missing_required_fields(api, serving, body, field):
    r = api.post("/system/functions", json=body)
    assert r.status_code == 400, r.text
    assert field in error_of(r)


@pytest.mark.parametrize("name", ["bad.name", "../etc", "-leading-dash", "has space", "a/b", "x" * 64,
                                  "emoji\u00e9", "semi;colon"])
def test_invalid_function_names(api, serving, name):
    r = api.post("/system/functions", json={"service": name, "image": "busybox:latest"})
    assert r.status_code == 400, r.text
    assert "name" in error_of(r)


def test_unknown_image(api, serving):
    for ref in ("nosuchimage:latest", "sha256:" + "0" * 64, "registry.example.com/x/y:1"):
        r = api.post("/system/functions", json={"service": "noimg", "image": ref})
        assert r.status_code == 400, r.text
        err = error_of(r)
        assert ref.split(":")[0] in err and "image" in err
    r = api.post("/system/functions", json={"service": "noimg", "image": "bad ref with spaces"})
    assert r.status_code == 400
    assert "image" in error_of(r)
    assert api.get("/system/function/noimg").status_code == 404


def test_unknown_namespace(api, serving):
    r = api.post("/system/functions", json={"service": "nons", "image": "busybox:latest", "namespace": "tenant-x"})
    assert r.status_code == 400, r.text
    assert "tenant-x" in error_of(r)
    r = api.post("/system/functions", params={"namespace": "tenant-y"},
                 json={"service": "nons", "image": "busybox:latest"})
    assert r.status_code == 400
    assert "tenant-y" in error_of(r)
    r = api.post("/system/functions", json={"service": "nons", "image": "busybox:latest", "namespace": "bad.ns!"})
    assert r.status_code == 400
    assert "namespace" in error_of(r)
    r = api.get("/system/functions", params={"namespace": "tenant-x"})
    assert r.status_code == 400
    assert "tenant-x" in error_of(r)


@pytest.mark.parametrize("body", [b"{}", b'{"functionName": 5}', b'{"functionName": ""}', b"{", b"",
                                  b'{"name": "echo"}'])
def test_delete_bad_body(api, serving, body):
    r = api.req("DELETE", "/system/functions", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    error_of(r)
    assert api.get("/system/function/echo").status_code == 200


# ---- HTTP limits -------------------------------------------------------------------------

def test_oversized_json_body_413(daemon, serving):
    head = ("POST /system/functions HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
            "Content-Type: application/json\r\nContent-Length: 70000\r\n\r\n" % basic(daemon.password))
    r = raw_request(daemon.port, head.encode())   # the body is never needed
    assert r.status == 413, r
    assert r.json()["error"] == "request body exceeds the limit of 65536 bytes (max_body_bytes)", r.json()


def test_oversized_chunked_body_413(daemon, serving):
    chunk = b"a" * 10000
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(7)) + b"0\r\n\r\n"
    req = ("POST /function/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").encode() + body
    r = raw_request(daemon.port, req)
    assert r.status == 413, r
    assert "limit" in r.json()["error"]


def test_oversized_invoke_body_413(daemon, api, serving):
    r = raw_request(daemon.port, b"POST /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 65537\r\n\r\n")
    assert r.status == 413, r
    # exactly at the limit is fine
    body = os.urandom(65536)
    r = api.invoke("echo", data=body)
    assert r.status_code == 200
    assert r.content == body


def test_oversized_upload_413(daemon, serving):
    head = ("POST /system/images HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
            "Content-Length: %d\r\n\r\n" % (basic(daemon.password), 9 << 20))
    r = raw_request(daemon.port, head.encode())
    assert r.status == 413, r
    error = r.json()["error"]
    assert "limit" in error


def test_upload_without_auth_is_401_before_body(daemon, serving):
    head = "POST /system/images HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (5 << 20)
    r = raw_request(daemon.port, head.encode())
    assert r.status == 401, r
    assert r.json() == {"error": "invalid credentials"}


def test_oversized_header_431(daemon, serving):
    req = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %s\r\n\r\n" % ("a" * 5000)
    r = raw_request(daemon.port, req.encode())
    assert r.status == 431, r
    # the limit by number and key (was "the limit of bytes")
    assert r.json()["error"] == "request headers exceed the limit of 4096 bytes (max_header_bytes)", r.json()


def test_too_many_headers_431(daemon, serving):
    req = "GET /healthz HTTP/1.1\r\nHost: x\r\n" + "".join("X-H%d: v\r\n" % i for i in range(30)) + "\r\n"
    r = raw_request(daemon.port, req.encode())
    assert r.status == 431, r
    assert "header" in r.json()["error"]


def test_headers_at_limits_ok(daemon, serving):
    req = "GET /healthz HTTP/1.1\r\nHost: x\r\n" + "".join("X-H%d: v\r\n" % i for i in range(19)) + "\r\n"
    assert raw_request(daemon.port, req.encode()).status == 200


def test_long_url_414(daemon, serving):
    req = "GET /function/echo?%s HTTP/1.1\r\nHost: x\r\n\r\n" % ("q" * 2000)
    r = raw_request(daemon.port, req.encode())
    assert r.status == 414, r
    error_text = r.json()["error"]
    assert "long" in error_text or "target" in error_text


@pytest.mark.parametrize("request_bytes", [
    b"HELLO\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    b"GET /function/echo%zz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /function/echo%00x HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET http://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /function/echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    # request smuggling shapes
    b"POST /function/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0\r\n\r\n",
    b"POST /function/echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\nTransfer-Encoding: x\r\n\r\n",
    b"get /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n",
])
def test_malformed_http_400(daemon, serving, request_bytes):
    r = raw_request(daemon.port, request_bytes)
    assert r.status == 400, r
    error_of_raw = r.json()["error"]
    assert error_of_raw


def test_trace_405(daemon, serving):
    for path in ("/function/echo", "/system/functions"):
        r = requests.request("TRACE", daemon.url + path, auth=("admin", daemon.password), timeout=HTTP_TIMEOUT)
        assert r.status_code == 405, (path, r.text)
        error_of(r)
        assert r.headers.get("Allow")


def test_header_timeout_408(daemon, serving):
    """A client that never finishes its head gets 408 after header_timeout
    (2s here) and is disconnected (slowloris)."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", daemon.port)) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        r = read_response(s, timeout=30 * SLOW)
        assert r.status == 408, r
        assert s.recv(1) == b""  # closed afterwards
    assert time.monotonic() - t0 >= 1.5


def test_trickling_head_still_times_out(daemon, serving):
    """The header deadline is absolute: a byte per event does not extend it."""
    with socket.create_connection(("127.0.0.1", daemon.port)) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        deadline = time.monotonic() + 30 * SLOW
        while time.monotonic() < deadline:
            # send one header byte whenever the server has said nothing for 0.5s
            readable, _, _ = select.select([s], [], [], 0.5)
            if readable:
                break
            try:
                s.sendall(b"X")
            except OSError:
                break
        r = read_response(s, timeout=5)
        assert r.status == 408, r


def _answering_connection(port, password):
    """A connection whose request is being answered (a log follower): idle
    ones and slow senders would be closed to make room (test_connections.py,
    test_slow_clients.py), these never are."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /system/logs?name=echo&follow=true HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n"
              % basic(password).encode())
    head = b""
    while b"\r\n\r\n" not in head:
        b = s.recv(4096)
        assert b, "closed before the answer's head: %r" % head
        head += b
    assert head.startswith(b"HTTP/1.1 200"), head
    return s


def test_connection_limit_429(daemon, serving):
    socks = []
    try:
        for _ in range(16):
            socks.append(_answering_connection(daemon.port, daemon.password))
        for _ in range(4):
            socks.append(socket.create_connection(("127.0.0.1", daemon.port)))
        # the table is full of answers in progress: the last ones are told so at once
        r = read_response(socks[-1], timeout=30 * SLOW)
        assert r.status == 429, r
        assert "connections" in r.json()["error"]
        assert r.headers.get("retry-after") == "1", r.headers
        # the followers are still served
        assert all(not select.select([s], [], [], 0)[0] or s.recv(1, socket.MSG_PEEK) for s in socks[:16])
    finally:
        for s in socks:
            s.close()
    # the daemon notices the closed connections and accepts new ones again
    wait_until(lambda: requests.get(daemon.url + "/healthz", timeout=HTTP_TIMEOUT).status_code == 200,
               30 * SLOW, "a connection slot to free up")


# ---- credentials ---------------------------------------------------------------------------

@pytest.mark.parametrize("auth_header", [
    None,
    "Basic",
    "Basic ",
    "Basic !!!!",
    "Basic YWRtaW4=",                # "admin", no colon
    "Basic YWRtaW46",                # "admin:" empty password
    "Bearer some.jwt.token",
    "Digest username=admin",
    "Basic " + "QUFB" * 500,         # long garbage
])
def test_wrong_credentials_401(daemon, serving, auth_header):
    headers = {"Authorization": auth_header} if auth_header is not None else {}
    r = requests.get(daemon.url + "/system/functions", headers=headers, timeout=HTTP_TIMEOUT)
    assert r.status_code == 401, r.text
    assert r.headers["WWW-Authenticate"] == 'Basic realm="Restricted"'
    assert r.json() == {"error": "invalid credentials"}


def test_password_prefix_and_suffix_rejected(daemon, serving):
    pw = daemon.password
    for bad in (pw[:-1], pw + "x", pw.upper() if pw.upper() != pw else pw + "A", " " + pw):
        r = requests.get(daemon.url + "/system/info", auth=("admin", bad), timeout=HTTP_TIMEOUT)
        assert r.status_code == 401, bad
    r = requests.get(daemon.url + "/system/info", auth=("Admin", pw), timeout=HTTP_TIMEOUT)
    assert r.status_code == 401


# ---- image archives -------------------------------------------------------------------------

def images_dir_entries(daemon):
    return sorted(e for e in os.listdir(os.path.join(daemon.data_dir, "images")))


def stored_ids(api):
    return sorted(i["id"].split(":", 1)[1] for i in api.get("/system/images").json())


def assert_no_import_leftovers(api, daemon):
    """A failed import leaves nothing behind: the folders under images/ are
    exactly the recorded images, and the upload spool is empty."""
    assert images_dir_entries(daemon) == stored_ids(api)
    tmp = os.path.join(daemon.data_dir, "tmp")
    if os.path.isdir(tmp):
        assert os.listdir(tmp) == []


def post_image(api, data, **params):
    return api.post("/system/images", data=data, params=params or None,
                    headers={"Content-Type": "application/x-tar"})


def test_image_empty_body(api, daemon, serving):
    r = post_image(api, b"")
    assert r.status_code == 400
    assert "archive" in error_of(r)


@pytest.mark.parametrize("kind", ["garbage", "text", "gzip-garbage", "truncated-oci", "truncated-docker",
                                  "truncated-gz", "tar-of-nothing", "half-header"])
def test_image_truncated_or_garbage_400(api, daemon, images, serving, kind):
    with open(images.path("busybox-oci.tar"), "rb") as f:
        oci = f.read()
    with open(images.path("busybox-docker.tar"), "rb") as f:
        dock = f.read()
    with open(images.path("busybox-docker.tar.gz"), "rb") as f:
        dgz = f.read()
    data = {
        "garbage": os.urandom(100000),
        "text": b"this is not an image\n" * 100,
        "gzip-garbage": gzip.compress(os.urandom(50000)),
        "truncated-oci": oci[:len(oci) // 2],
        "truncated-docker": dock[:len(dock) * 2 // 3],
        "truncated-gz": dgz[:len(dgz) // 2],
        "tar-of-nothing": b"\0" * 10240,
        "half-header": oci[:300],
    }[kind]
    before = stored_ids(api)
    r = post_image(api, data)
    assert r.status_code == 400, (kind, r.status_code, r.text)
    assert "image import failed" in error_of(r)
    assert stored_ids(api) == before
    assert_no_import_leftovers(api, daemon)


HOSTILE_REJECTED = [
    ("hostile-dotdot.tar", 400, "escapes the root"),
    ("hostile-hardlink.tar", 400, "hard link target"),
    ("hostile-hardlink-dotdot.tar", 400, "hard link target escapes"),
    ("hostile-uid.tar", 400, "0..65535"),
    ("hostile-digest.tar", 400, "digest mismatch"),
    ("hostile-size.tar", 400, "size mismatch"),
    ("hostile-diffid.tar", 400, "diff_id mismatch"),
    ("hostile-truncated.tar", 400, "truncated"),
    ("hostile-trailing.tar", 400, "after the end"),
    ("hostile-wh-empty.tar", 400, "whiteout"),
    ("hostile-wh-meta.tar", 400, "whiteout"),
    ("hostile-wh-dotdot.tar", 400, "whiteout"),
    ("hostile-outer-name.tar", 400, "unexpected archive entry"),
    ("hostile-outer-symlink.tar", 400, "outside the image"),
    ("hostile-config-workdir.tar", 400, "WorkingDir"),
    ("hostile-config-workdir-proc.tar", 400, "WorkingDir '/proc/self/fd/7' is inside /proc, /sys or /dev"),
    ("hostile-config-entry-proc.tar", 400, "Entrypoint program '/bin/../proc/self/exe' is inside /proc"),
    ("hostile-config-user.tar", 400, "User"),
    ("hostile-config-env.tar", 400, "Env"),
    ("hostile-config-nul.tar", 400, "config"),
    ("hostile-bomb.tar", 413, "unpacked size"),          # max_unpacked_bytes 64Mi here
    ("hostile-entries.tar", 413, "entries"),             # max_image_entries 2000 here
    ("hostile-longpath.tar", 413, "longer than"),
    ("hostile-deep.tar", 413, "deeper"),
]


@pytest.mark.parametrize("fixture,status,needle", HOSTILE_REJECTED, ids=[h[0] for h in HOSTILE_REJECTED])
def test_hostile_image_rejected(api, daemon, images, serving, fixture, status, needle):
    before = stored_ids(api)
    r = api.import_image(images.path(fixture))
    assert r.status_code == status, (r.status_code, r.text)
    err = error_of(r)
    assert needle in err, err
    assert stored_ids(api) == before
    assert_no_import_leftovers(api, daemon)
    # nothing escaped next to the data folder
    assert not os.path.exists(os.path.join(daemon.data_dir, "escape"))
    assert not os.path.exists(os.path.join(os.path.dirname(daemon.data_dir), "escape"))


@pytest.mark.parametrize("fixture,host_paths", [
    ("hostile-abspath.tar", ["/sfaasd-fixture-abs"]),
    ("hostile-symlink.tar", ["/tmp/sfaasd-fixture-escape", "/tmp/sfaasd-fixture-escape2"]),
    ("hostile-device.tar", []),
    ("hostile-setuid.tar", []),
])
def test_hostile_image_confined(api, daemon, images, serving, fixture, host_paths):
    """Archives the importer accepts after neutralising them: nothing may
    land outside the image's own root, no device node or setuid bit inside."""
    for p in host_paths:
        assert not os.path.exists(p), "stale %s from an earlier run: remove it" % p
    r = api.import_image(images.path(fixture))
    assert r.status_code in (200, 400), r.text
    for p in host_paths:
        assert not os.path.lexists(p), "%s escaped to the host" % p
    if r.status_code == 200:
        root = os.path.join(daemon.data_dir, "images", r.json()["id"].split(":", 1)[1], "rootfs")
        for dirpath, dirnames, filenames in os.walk(root):
            for n in filenames + dirnames:
                st = os.lstat(os.path.join(dirpath, n))
                assert not (st.st_mode & 0o6000), "setuid/setgid bit kept on %s" % n
                assert not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)), "device node %s" % n
    else:
        error_of(r)
    assert_no_import_leftovers(api, daemon)


@pytest.mark.parametrize("name", ["bad name", "x:", "a\nb", "UPPER case:tag", "q" * 600])
def test_image_invalid_name_param(api, images, serving, name):
    r = api.import_image(images.path("layers-oci.tar"), name=name)
    assert r.status_code == 400, r.text
    assert "name" in error_of(r)


def test_image_import_without_auth(daemon, images, serving):
    with open(images.path("layers-oci.tar"), "rb") as f:
        r = requests.post(daemon.url + "/system/images", data=f.read(), timeout=HTTP_TIMEOUT)
    assert r.status_code == 401


# ---- invocation with bad names ----------------------------------------------------------------

@pytest.mark.parametrize("path", ["/function/", "/function/no!such", "/function/.openfaas-fn",
                                  "/function/echo.", "/function/echo.bad!ns", "/function/" + "n" * 100])
def test_invoke_bad_names_404(daemon, serving, path):
    r = requests.post(daemon.url + path, data=b"x", timeout=HTTP_TIMEOUT)
    assert r.status_code == 404, (path, r.text)
    error_of(r)


def test_invoke_function_whose_command_is_missing(api, serving):
    api.deploy("nocmd", fprocess="/no/such/binary", expect=202)
    r = api.invoke("nocmd", data=b"x")
    assert r.status_code == 500, r.text
    assert "/no/such/binary" in error_of(r)


@pytest.mark.parametrize("path", ["/ui/..%2fsecrets%2fbasic-auth-password", "/ui/%2e%2e/secrets/basic-auth-password",
                                  "/ui/../../etc/passwd", "/ui/..", "/ui/secrets"])
def test_ui_path_traversal(daemon, serving, path):
    r = raw_request(daemon.port, ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path).encode())
    assert r.status in (400, 404), r
    assert daemon.password.encode() not in r.body
    assert b"root:" not in r.body
