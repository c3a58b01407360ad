# SPDX-License-Identifier: MIT
"""The OpenFaaS gateway API plus /system/images, against one daemon."""
import json
import platform
import re
import socket

import pytest
import requests

from sfaasd_testlib import DEFAULT_NS, HTTP_TIMEOUT, RFC3339, SLOW, Api, error_of, parse_env, read_response

# Wrong credentials are sent here in a row on purpose (every route must say
# 401); the throttle that would answer 429 past five is test_throttle.py's.
DAEMON_CONFIG = {"auth_throttle_after": 1000}

SHA256_ID = re.compile(r"^sha256:[0-9a-f]{64}$")


# ---- images -------------------------------------------------------------------

def test_import_oci_then_docker_same_id(api, images):
    r = api.import_image(images.path("busybox-oci.tar"))
    assert r.status_code == 200, r.text
    oci = r.json()
    assert SHA256_ID.match(oci["id"]), oci
    assert "busybox:latest" in oci["tags"]
    assert isinstance(oci["size"], int) and oci["size"] > 1_000_000  # the static busybox alone is >1 MB
    assert oci["existed"] is False
    assert RFC3339.match(oci["createdAt"]), oci["createdAt"]

    r = api.import_image(images.path("busybox-docker.tar"))
    assert r.status_code == 200, r.text
    dock = r.json()
    assert dock["id"] == oci["id"], "docker-save and OCI archives of one image must give one id"
    assert dock["existed"] is True
    assert "busybox:latest" in dock["tags"]

    r = api.import_image(images.path("busybox-docker.tar.gz"))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == oci["id"]
    assert r.json()["existed"] is True


def test_import_with_name_adds_tag(api, images, busybox):
    r = api.import_image(images.path("busybox-oci.tar"), name="ghcr.io/openfaas/figlet:latest")
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["id"] == busybox["id"]
    assert j["existed"] is True
    assert "ghcr.io/openfaas/figlet:latest" in j["tags"]
    assert "busybox:latest" in j["tags"]


def test_list_images(api, busybox):
    r = api.get("/system/images")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    imgs = r.json()
    assert isinstance(imgs, list)
    mine = [i for i in imgs if i["id"] == busybox["id"]]
    assert len(mine) == 1, imgs
    assert "busybox:latest" in mine[0]["tags"]
    assert mine[0]["size"] == busybox["size"]


def test_import_layers_image(api, images):
    r = api.import_image(images.path("layers-oci.tar"))
    assert r.status_code == 200, r.text
    j = r.json()
    assert SHA256_ID.match(j["id"])
    assert "layers:latest" in j["tags"]


# ---- functions CRUD ---------------------------------------------------------------

def test_deploy_list_get(api, busybox):
    api.deploy("crud1", fprocess="echo-env", env={"A": "1"}, labels={"l": "v"}, expect=202)

    r = api.get("/system/functions")
    assert r.status_code == 200
    fns = {f["name"]: f for f in r.json()}
    assert "crud1" in fns, fns
    f = fns["crud1"]
    assert f["image"] == "busybox:latest"
    assert f["namespace"] == DEFAULT_NS
    assert f["envProcess"] == "echo-env"
    assert f["envVars"] == {"A": "1"}
    # faas_function: NAME is added to every answer, as OpenFaaS providers do
    assert f["labels"] == {"l": "v", "faas_function": "crud1"}
    assert isinstance(f["replicas"], int) and f["replicas"] >= 1
    assert isinstance(f["invocationCount"], (int, float))
    assert RFC3339.match(f["createdAt"]), f["createdAt"]

    r = api.get("/system/function/crud1")
    assert r.status_code == 200
    g = r.json()
    assert g["name"] == "crud1"
    assert g["image"] == "busybox:latest"
    assert g["namespace"] == DEFAULT_NS
    assert g["availableReplicas"] >= 1
    assert g["replicas"] >= 1
    assert g["envVars"] == {"A": "1"}
    assert RFC3339.match(g["createdAt"])


def test_deploy_twice_with_post_conflicts(api, busybox):
    api.deploy("dup1", fprocess="cat", expect=202)
    r = api.deploy("dup1", fprocess="cat")
    assert r.status_code == 409, r.text
    assert "dup1" in error_of(r)


def test_get_unknown_function_404(api):
    r = api.get("/system/function/nosuchfn")
    assert r.status_code == 404
    assert "nosuchfn" in error_of(r)


def test_update_changes_env_seen_by_invocation(api, busybox):
    api.deploy("upd1", fprocess="echo-env", env={"STAGE": "one"}, expect=202)
    r = api.invoke("upd1")
    assert r.status_code == 200, r.text
    assert parse_env(r.text)["STAGE"] == "one"

    r = api.deploy("upd1", fprocess="echo-env", env={"STAGE": "two", "EXTRA": "x"}, method="PUT")
    assert r.status_code == 200, r.text
    assert api.get("/system/function/upd1").json()["envVars"] == {"STAGE": "two", "EXTRA": "x"}
    env = parse_env(api.invoke("upd1").text)
    assert env["STAGE"] == "two"
    assert env["EXTRA"] == "x"

    # An update may change the command too.
    r = api.deploy("upd1", fprocess="cat", method="PUT")
    assert r.status_code == 200
    assert api.invoke("upd1", data=b"now cat").content == b"now cat"


def test_put_unknown_404(api, busybox):
    r = api.deploy("neverdeployed", fprocess="cat", method="PUT")
    assert r.status_code == 404, r.text
    assert "neverdeployed" in error_of(r)
    # and PUT did not create it
    assert api.get("/system/function/neverdeployed").status_code == 404


def test_delete_then_delete_again(api, busybox):
    api.deploy("del1", fprocess="cat", expect=202)
    assert api.invoke("del1", data=b"x").status_code == 200
    r = api.remove("del1")
    assert r.status_code == 200, r.text
    assert api.get("/system/function/del1").status_code == 404
    assert "del1" not in [f["name"] for f in api.get("/system/functions").json()]
    r = api.invoke("del1", data=b"x")
    assert r.status_code == 404
    error_of(r)
    r = api.remove("del1")
    assert r.status_code == 404, r.text
    assert "del1" in error_of(r)


def test_deploy_after_delete(api, busybox):
    api.deploy("redeploy1", fprocess="cat", expect=202)
    assert api.remove("redeploy1").status_code == 200
    api.deploy("redeploy1", fprocess="echo-args second", expect=202)
    assert api.invoke("redeploy1").text == "second\n"


# ---- namespace resolution: body, then query, then default -------------------------------

def test_namespace_from_body_beats_query(api, busybox):
    # body names the real namespace, query a missing one: body wins
    r = api.post("/system/functions", params={"namespace": "missing-ns"},
                 json={"service": "nsbody", "image": "busybox:latest", "envProcess": "cat",
                       "namespace": DEFAULT_NS})
    assert r.status_code == 202, r.text
    # body names a missing namespace, query the real one: body still wins
    r = api.post("/system/functions", params={"namespace": DEFAULT_NS},
                 json={"service": "nsbody2", "image": "busybox:latest", "namespace": "missing-ns"})
    assert r.status_code == 400, r.text
    assert "missing-ns" in error_of(r)


def test_namespace_from_query_then_default(api, busybox):
    r = api.post("/system/functions", params={"namespace": "missing-ns"},
                 json={"service": "nsq", "image": "busybox:latest"})
    assert r.status_code == 400, r.text
    assert "missing-ns" in error_of(r)
    r = api.post("/system/functions", params={"namespace": DEFAULT_NS},
                 json={"service": "nsq", "image": "busybox:latest", "envProcess": "cat"})
    assert r.status_code == 202, r.text
    r = api.post("/system/functions", json={"service": "nsdef", "image": "busybox:latest",
                                            "envProcess": "cat", "namespace": ""})
    assert r.status_code == 202, r.text
    assert api.get("/system/function/nsdef").json()["namespace"] == DEFAULT_NS
    assert api.get("/system/function/nsq", params={"namespace": DEFAULT_NS}).status_code == 200
    r = api.get("/system/function/nsq", params={"namespace": "missing-ns"})
    assert r.status_code == 400
    r = api.get("/system/functions", params={"namespace": "missing-ns"})
    assert r.status_code == 400
    error_of(r)
    names = [f["name"] for f in api.get("/system/functions", params={"namespace": DEFAULT_NS}).json()]
    assert "nsq" in names and "nsdef" in names


def test_delete_namespace_from_query(api, busybox):
    api.deploy("nsdel", fprocess="cat", expect=202)
    r = api.delete("/system/functions", params={"namespace": "missing-ns"}, json={"functionName": "nsdel"})
    assert r.status_code == 400
    r = api.delete("/system/functions", params={"namespace": DEFAULT_NS}, json={"functionName": "nsdel"})
    assert r.status_code == 200, r.text
    assert api.get("/system/function/nsdel").status_code == 404


def test_invoke_name_dot_namespace(api, busybox):
    api.deploy("dotted", fprocess="cat", expect=202)
    r = api.invoke("dotted." + DEFAULT_NS, data=b"via ns")
    assert r.status_code == 200, r.text
    assert r.content == b"via ns"
    r = api.invoke("dotted.otherns", data=b"x")
    assert r.status_code == 404
    error_of(r)


# ---- accepted payload shapes ------------------------------------------------------

def test_labels_annotations_null_accepted(api, busybox):
    r = api.post("/system/functions", json={"service": "nullmaps", "image": "busybox:latest",
                                            "envProcess": "cat", "labels": None, "annotations": None,
                                            "envVars": None, "limits": None, "secrets": None})
    assert r.status_code == 202, r.text
    g = api.get("/system/function/nullmaps").json()
    assert g.get("labels") == {"faas_function": "nullmaps"}
    assert g.get("annotations") in (None, {})
    assert api.invoke("nullmaps", data=b"ok").content == b"ok"


def test_unknown_keys_ignored(api, busybox):
    r = api.post("/system/functions", json={"service": "unknownkeys", "image": "busybox:latest",
                                            "envProcess": "cat", "network": "func_functions",
                                            "registryAuth": "dXNlcjpwYXNz", "futureField": {"deep": [1, 2]},
                                            "readOnlyRootFilesystem": True})
    assert r.status_code == 202, r.text
    g = api.get("/system/function/unknownkeys").json()
    assert "futureField" not in g
    assert api.invoke("unknownkeys", data=b"ok").content == b"ok"


def test_faas_cli_appendix_a_payload(api, images, busybox):
    # The image ref faas-cli sends must resolve: tag the fixture with it.
    r = api.import_image(images.path("busybox-oci.tar"), name="ghcr.io/openfaas/figlet:latest")
    assert r.status_code == 200
    payload = {"service": "figlet", "image": "ghcr.io/openfaas/figlet:latest", "envProcess": "echo-env",
               "envVars": {"X": "1"}, "labels": {"a": "b"}, "annotations": {},
               "limits": {"memory": "64Mi"}}
    # faas-cli deploy: PUT first, POST on 404
    r = api.put("/system/functions", json=payload, headers={"User-Agent": "faas-cli/0.17.0"})
    assert r.status_code == 404, r.text
    r = api.post("/system/functions", json=payload, headers={"User-Agent": "faas-cli/0.17.0"})
    assert r.status_code in (200, 201, 202), r.text
    g = api.get("/system/function/figlet", params={"namespace": DEFAULT_NS, "usage": "1"}).json()
    assert g["name"] == "figlet"
    assert g["image"] == "ghcr.io/openfaas/figlet:latest"
    assert g["envProcess"] == "echo-env"
    assert g["envVars"] == {"X": "1"}
    assert g["labels"] == {"a": "b", "faas_function": "figlet"}
    assert g["limits"]["memory"] == "64Mi"
    assert g["availableReplicas"] >= 1
    # faas-cli invoke goes to NAME.NAMESPACE with text/plain
    r = api.invoke("figlet." + DEFAULT_NS, data=b"hi", headers={"Content-Type": "text/plain"})
    assert r.status_code == 200, r.text
    assert parse_env(r.text)["X"] == "1"
    # and the redeploy is a PUT that now succeeds
    r = api.put("/system/functions", json=payload)
    assert r.status_code == 200, r.text


def test_faas_cli_payload_with_missing_secret_rejected(api, busybox):
    payload = {"service": "withsecret", "image": "busybox:latest", "envProcess": "cat",
               "secrets": ["api-key"], "labels": {}, "annotations": {}}
    r = api.post("/system/functions", json=payload)
    assert r.status_code == 400, r.text
    assert "api-key" in error_of(r)
    assert api.get("/system/function/withsecret").status_code == 404


def test_invocation_count_in_list(api, busybox):
    api.deploy("counted", fprocess="cat", expect=202)

    def count():
        return {f["name"]: f for f in api.get("/system/functions").json()}["counted"]["invocationCount"]

    before = count()
    for _ in range(3):
        assert api.invoke("counted", data=b"x").status_code == 200
    assert count() == before + 3


# ---- system endpoints ---------------------------------------------------------------

def test_info(api):
    r = api.get("/system/info")
    assert r.status_code == 200
    j = r.json()
    assert isinstance(j["provider"], dict)
    assert isinstance(j["provider"]["provider"], str) and j["provider"]["provider"]
    assert isinstance(j["provider"]["orchestration"], str)
    assert isinstance(j["provider"]["version"], dict)
    assert j["provider"]["version"]["release"]
    assert isinstance(j["version"], dict)
    assert j["version"]["release"]
    assert "sha" in j["version"]
    assert j["arch"] == platform.machine()


def test_namespaces(api):
    r = api.get("/system/namespaces")
    assert r.status_code == 200
    assert r.json() == [DEFAULT_NS]


def test_healthz_without_auth(daemon):
    r = requests.get(daemon.url + "/healthz", timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    r = requests.head(daemon.url + "/healthz", timeout=HTTP_TIMEOUT)
    assert r.status_code == 200


def test_root_redirects_to_ui(daemon):
    r = requests.get(daemon.url + "/", allow_redirects=False, timeout=HTTP_TIMEOUT)
    assert r.status_code == 307
    assert r.headers["Location"] == "/ui/"
    r = requests.get(daemon.url + "/ui/", timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert "<html" in r.text.lower()


@pytest.mark.parametrize("method,path", [
    ("GET", "/system/functions"), ("POST", "/system/functions"), ("PUT", "/system/functions"),
    ("DELETE", "/system/functions"), ("GET", "/system/function/crud1"), ("GET", "/system/namespaces"),
    ("GET", "/system/info"), ("GET", "/system/images"), ("POST", "/system/images"),
])
def test_system_routes_need_auth(daemon, method, path):
    for auth in (None, ("admin", "wrong-password"), ("root", daemon.password)):
        r = requests.request(method, daemon.url + path, auth=auth, data=b"{}", timeout=HTTP_TIMEOUT)
        assert r.status_code == 401, (auth, r.status_code, r.text)
        assert r.headers.get("WWW-Authenticate") == 'Basic realm="Restricted"'
        assert r.json() == {"error": "invalid credentials"}


def test_wrong_auth_did_not_deploy(daemon, api, busybox):
    r = requests.post(daemon.url + "/system/functions", auth=("admin", "nope"),
                      json={"service": "sneaky", "image": "busybox:latest"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 401
    assert api.get("/system/function/sneaky").status_code == 404


def test_invoke_needs_no_auth_and_unknown_is_404(api, busybox):
    r = api.invoke("nosuchfunction", data=b"x")
    assert r.status_code == 404
    assert "nosuchfunction" in error_of(r)


def test_async_function_unknown_is_404(daemon):
    # Asynchronous invocation itself: test_async.py.
    r = requests.post(daemon.url + "/async-function/nosuchfunction", data=b"x", timeout=HTTP_TIMEOUT)
    assert r.status_code == 404
    assert "nosuchfunction" in error_of(r)


def test_unknown_route_404(api):
    r = api.get("/system/nothing-here")
    assert r.status_code == 404
    error_of(r)


# ---- HTTP connection handling ----------------------------------------------------------------

PIPE_TIMEOUT = 10 * SLOW  # answers come in milliseconds; the idle timeout is 60s


def test_pipelined_requests_answered_in_order(daemon, api, busybox):
    api.deploy("pipe", fprocess="cat", expect=202)
    reqs = (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /function/pipe HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nfirst"
            b"GET /system/namespaces HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /function/pipe HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\nsecond")
    with socket.create_connection(("127.0.0.1", daemon.port)) as s:
        s.sendall(reqs)
        got = [read_response(s, PIPE_TIMEOUT) for _ in range(4)]
    assert [(r.status, r.body) for r in got[:2]] == [(200, b""), (200, b"first")], got
    assert got[2].status == 401, got
    assert (got[3].status, got[3].body) == (200, b"second"), got


@pytest.mark.parametrize("trial", range(5))
def test_pipelined_request_after_invocation(daemon, api, busybox, trial):
    """A request pipelined behind an invocation is answered too."""
    api.deploy("pipe2", fprocess="cat", expect=202 if trial == 0 else None)
    with socket.create_connection(("127.0.0.1", daemon.port)) as s:
        s.sendall(b"POST /function/pipe2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
                  b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        r1 = read_response(s, PIPE_TIMEOUT)
        assert (r1.status, r1.body) == (200, b"abc"), r1
        r2 = read_response(s, PIPE_TIMEOUT)
        assert r2.status == 200, r2


def test_keep_alive_many_requests_one_connection(daemon, api, busybox):
    s = requests.Session()
    for i in range(20):
        r = s.get(daemon.url + "/healthz", timeout=HTTP_TIMEOUT)
        assert r.status_code == 200
        assert r.headers.get("Connection", "").lower() != "close"


def test_image_reference_forms(api, busybox):
    """Docker Hub spellings of one image all resolve; so does the id."""
    short = busybox["id"][:7 + 12]
    for i, ref in enumerate(["busybox", "busybox:latest", "docker.io/library/busybox:latest",
                             "library/busybox", "index.docker.io/library/busybox", busybox["id"], short]):
        r = api.deploy("ref%d" % i, image=ref, fprocess="cat")
        assert r.status_code == 202, (ref, r.text)
        r = api.invoke("ref%d" % i, data=ref.encode())
        assert r.status_code == 200, (ref, r.text)
        assert r.text == ref
    r = api.deploy("refbad", image="sha256:" + "f" * 12)
    assert r.status_code == 400


def test_ui_requests_get_no_browser_challenge(daemon):
    """The web UI signs in with its own form: its calls (X-Requested-With)
    get 401 without WWW-Authenticate, so no browser prompt pops up."""
    r = requests.get(daemon.url + "/system/functions", headers={"X-Requested-With": "XMLHttpRequest"},
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 401
    assert "WWW-Authenticate" not in r.headers
    assert r.json() == {"error": "invalid credentials"}


def test_fresh_daemon_lists_are_empty_arrays(make_daemon):
    d = make_daemon()
    api = Api(d)
    for path in ("/system/functions", "/system/images"):
        r = api.get(path)
        assert r.status_code == 200
        assert r.text.strip() == "[]", (path, r.text)


@pytest.mark.parametrize("limits", [{"memory": "128M", "cpu": "100m"}, {"cpu": "0.5"}, {"memory": "1Gi"},
                                    {"memory": "64Mi", "cpu": "1"}])
def test_resource_quantities_accepted(api, busybox, limits):
    name = "lim" + "".join(c for c in json.dumps(limits) if c.isalnum())[:40].lower()
    r = api.deploy(name, fprocess="cat", limits=limits, requests=limits)
    assert r.status_code == 202, r.text
    assert api.get("/system/function/" + name).json()["limits"] == limits
    assert api.invoke(name, data=b"ok").content == b"ok"
