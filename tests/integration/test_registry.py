# SPDX-License-Identifier: MIT
"""Pull from registries (issue 14, points 1 and 2): Debian's docker-registry
on loopback (tests/integration/registry_fixtures.py), images pushed with
skopeo copy; POST /system/images/pull, 'sfaasd image pull', deploy by
reference. OCI and Docker schema 2 manifests, a multi-arch index, by tag and
by digest, anonymous, Basic (htpasswd) and the bearer-token flow, wrong
credentials, a manifest and a blob that do not match their digests, a
transfer that breaks or stalls (retried, then a clear error), a redirect to
a refused address, stored layers not fetched again, the concurrency cap.
"""
import base64
import json
import os
import shutil
import subprocess

import pytest

import requests

from registry_fixtures import (Registry, TamperProxy, TokenServer, basic_auth_lines, manifest_digest,
                               many_layers_archive, push, tls_pair)
from sfaasd_testlib import BIN, DEFAULT_NS, HTTP_TIMEOUT, Api, Daemon, basic, error_of

pytestmark = pytest.mark.skipif(not (os.path.exists("/usr/bin/docker-registry") and shutil.which("skopeo")),
                                reason="docker-registry and skopeo are needed (make deps)")

USER, PASSWORD = "puller", "s3cret-pull"


@pytest.fixture(scope="module")
def env(tmp_path_factory, images):
    base = tmp_path_factory.mktemp("registry")
    started = []

    def start(x):
        started.append(x)
        return x
    try:
        anon = start(Registry(base / "anon"))
        basic = start(Registry(base / "basic", auth=basic_auth_lines(base / "basic", USER, PASSWORD)))
        ts = start(TokenServer(base, USER, PASSWORD))
        token = start(Registry(base / "token", auth=ts.registry_auth()))
        proxy = start(TamperProxy(anon.host))
        auth_file = base / "auths.json"
        auth_file.write_text(json.dumps({"auths": {
            basic.host: {"auth": base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()},
            token.host: {"username": USER, "password": PASSWORD},
        }}))
        os.chmod(auth_file, 0o600)
        push(images.path("busybox-oci.tar"), anon.host + "/fn/busybox:oci")
        push(images.path("busybox-oci.tar"), anon.host + "/fn/busybox:v2s2", fmt="v2s2")
        push(images.path("crafted-nested.tar"), anon.host + "/fn/multi:latest", all_images=True)
        push(images.path("busybox-oci.tar"), basic.host + "/fn/busybox:v1", creds="%s:%s" % (USER, PASSWORD))
        push(images.path("busybox-oci.tar"), token.host + "/fn/busybox:v1", creds="%s:%s" % (USER, PASSWORD))
        many = str(base / "many.tar")
        many_id = many_layers_archive(many)
        push(many, anon.host + "/fn/many:latest")
        config = {"insecure_registries": [anon.host, basic.host, token.host, ts.host, proxy.host],
                  "registry_auth_file": str(auth_file), "registry_retry_delay": "50ms",
                  "registry_idle_timeout": "1s", "registry_concurrency": 2}
        d = Daemon(base / "data", config=config, name="test_registry", log_dir=base / "logs")
        d.start()
    except BaseException:
        for x in reversed(started):
            x.stop()
        raise

    class Env:
        pass
    e = Env()
    e.anon, e.basic, e.token, e.ts, e.proxy, e.daemon, e.api = anon, basic, token, ts, proxy, d, Api(d)
    e.many_id, e.auth_file, e.base = many_id, auth_file, base
    yield e
    rc = d.stop()
    for x in reversed(started):
        x.stop()
    assert rc == 0, d.log_tail()


def pull(e, ref, namespace=None):
    return e.api.post("/system/images/pull", json={"image": ref}, params={"namespace": namespace} if namespace else None,
                      timeout=120)


def archive_id(e, images, name):
    """The id the same image gets when imported from its archive."""
    r = e.api.import_image(images.path(name))
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_pull_by_tag_oci_and_deploy(env, images):
    r = pull(env, env.anon.host + "/fn/busybox:oci")
    assert r.status_code == 200, r.text
    img = r.json()
    assert img["id"] == archive_id(env, images, "busybox-oci.tar")
    assert env.anon.host + "/fn/busybox:oci" in img["tags"]
    env.api.deploy("reg-bb", image=env.anon.host + "/fn/busybox:oci", fprocess="cat", expect=202)
    r = env.api.invoke("reg-bb", data=b"pulled")
    assert r.status_code == 200 and r.text == "pulled", r.text
    assert env.api.remove("reg-bb").status_code == 200


def test_pull_docker_schema2_and_by_digest(env):
    digest, man = manifest_digest(env.anon.host, "fn/busybox", "v2s2")
    assert man["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json", man
    r = pull(env, env.anon.host + "/fn/busybox:v2s2")
    assert r.status_code == 200, r.text
    by_tag = r.json()["id"]
    r = pull(env, "%s/fn/busybox@%s" % (env.anon.host, digest))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == by_tag
    assert "%s/fn/busybox@%s" % (env.anon.host, digest) in r.json()["tags"]


def test_pull_multi_arch_index_picks_the_host(env):
    digest, index = manifest_digest(env.anon.host, "fn/multi", "latest")
    assert "manifests" in index, index
    r = pull(env, env.anon.host + "/fn/multi:latest")
    assert r.status_code == 200, r.text
    # the amd64 image of crafted-nested.tar has /arch = "amd64"
    root = os.path.join(env.daemon.data_dir, "images", r.json()["id"].split(":")[1], "rootfs")
    with open(os.path.join(root, "arch")) as f:
        assert f.read().strip() == "amd64"


def test_basic_auth(env):
    r = pull(env, env.basic.host + "/fn/busybox:v1")
    assert r.status_code == 200, r.text
    # the same registry without credentials for it: a fresh daemon
    d = Daemon(env.base / "noauth", config={"insecure_registries": [env.basic.host]}, name="noauth",
               log_dir=env.base / "logs")
    d.start()
    try:
        r = Api(d).post("/system/images/pull", json={"image": env.basic.host + "/fn/busybox:v1"}, timeout=60)
        assert r.status_code == 403, r.text
        assert "asks for credentials (401) and none are configured" in error_of(r)
    finally:
        assert d.stop() == 0


def test_wrong_credentials(env, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"auths": {env.basic.host: {"username": USER, "password": "wrong"},
                                         env.token.host: {"username": USER, "password": "wrong"}}}))
    d = Daemon(tmp_path / "data", config={"insecure_registries": [env.basic.host, env.token.host, env.ts.host],
                                          "registry_auth_file": str(bad)}, name="badauth", log_dir=tmp_path)
    d.start()
    try:
        a = Api(d)
        r = a.post("/system/images/pull", json={"image": env.basic.host + "/fn/busybox:v1"}, timeout=60)
        assert r.status_code == 403 and "refused the credentials (401)" in error_of(r), r.text
        r = a.post("/system/images/pull", json={"image": env.token.host + "/fn/busybox:v1"}, timeout=60)
        assert r.status_code == 403 and "the token service refused the credentials" in error_of(r), r.text
    finally:
        assert d.stop() == 0


def test_bearer_token_flow(env):
    before = len(env.ts.requests)
    r = pull(env, env.token.host + "/fn/busybox:v1")
    assert r.status_code == 200, r.text
    asked = env.ts.requests[before:]
    assert asked and all(q["authorized"] for q in asked), asked
    assert asked[0]["scope"] == "repository:fn/busybox:pull" and asked[0]["service"] == "sfaasd-test", asked


def test_not_found_and_bad_reference(env):
    r = pull(env, env.anon.host + "/fn/nope:v1")
    assert r.status_code == 404 and "manifest fn/nope:v1 not found (404)" in error_of(r), r.text
    r = pull(env, env.anon.host + "/Fn/UPPER:v1")
    assert r.status_code == 400, r.text
    # not listed in insecure_registries: https (test_https_registry_through_the_egress_policy)
    r = pull(env, "registry.invalid.example/fn/x:v1")
    assert r.status_code == 502, r.text
    assert "cannot resolve" in error_of(r), r.text


def test_manifest_digest_mismatch(env):
    digest, _ = manifest_digest(env.anon.host, "fn/busybox", "oci")
    env.proxy.reset("manifest-tamper")
    try:
        r = pull(env, "%s/fn/busybox@%s" % (env.proxy.host, digest))
    finally:
        env.proxy.reset()
    assert r.status_code == 422, r.text
    assert "manifest %s: digest mismatch" % digest in error_of(r), r.text
    # by tag: the content must hash to the digest the registry gives for it
    env.proxy.reset("manifest-tamper")
    try:
        r = pull(env, env.proxy.host + "/fn/busybox:oci")
    finally:
        env.proxy.reset()
    assert r.status_code == 422, r.text
    assert "manifest %s: digest mismatch" % digest in error_of(r), r.text


def test_blob_digest_mismatch(env, images):
    env.proxy.reset("blob-tamper")
    try:
        r = pull(env, env.proxy.host + "/fn/many:latest")
    finally:
        env.proxy.reset()
    assert r.status_code == 422, r.text
    assert "digest mismatch (content is sha256:" in error_of(r), r.text
    # nothing of it in the store
    assert env.many_id.split(":")[1] not in os.listdir(os.path.join(env.daemon.data_dir, "images"))


def test_dropped_transfer_is_retried(env):
    env.proxy.reset("drop-once")
    try:
        r = pull(env, env.proxy.host + "/fn/busybox:v2s2")
    finally:
        gets = env.proxy.blob_gets
        env.proxy.reset()
    assert r.status_code == 200, r.text
    assert gets >= 2 and "attempt 2 of 3" in env.daemon.log()


def test_dropped_every_time_is_a_clear_error(env):
    env.proxy.reset("drop-always")
    try:
        r = pull(env, env.proxy.host + "/fn/many:latest")
    finally:
        env.proxy.reset()
    assert r.status_code == 502, r.text
    assert "(after 3 attempts)" in error_of(r), r.text


def test_stalled_transfer_times_out_then_errors(env):
    env.proxy.reset("stall")
    try:
        r = pull(env, env.proxy.host + "/fn/many:latest")
    finally:
        env.proxy.reset()
    assert r.status_code == 502, r.text
    assert "sent nothing for 1.000 s" in error_of(r) and "(after 3 attempts)" in error_of(r), r.text


@pytest.mark.parametrize("location,why", [
    ("https://169.254.169.254/latest/meta-data/", "its address is not allowed"),
    ("https://127.0.0.1:1/blob", "its address is not allowed"),
    ("http://example.invalid/blob", "blob redirects are followed to https:// only"),
])
def test_redirect_to_a_refused_address(env, location, why):
    env.proxy.reset("redirect:" + location)
    try:
        r = pull(env, env.proxy.host + "/fn/many:latest")
    finally:
        env.proxy.reset()
    assert r.status_code == 403, r.text
    assert "redirect to '%s' refused: %s" % (location, why) in error_of(r), r.text


def test_stored_layers_are_not_fetched_and_the_cap_holds(env):
    env.proxy.reset("slow-blobs")
    try:
        r = pull(env, env.proxy.host + "/fn/many:latest")
        assert r.status_code == 200, r.text
        assert r.json()["id"] == env.many_id
        # 6 layers and a config, 2 at once (registry_concurrency)
        assert env.proxy.blob_gets == 7, env.proxy.blob_gets
        assert env.proxy.max_waiting == 2, env.proxy.max_waiting
        env.proxy.reset("slow-blobs")
        # the same image under another name: only the config is fetched
        r = pull(env, env.proxy.host + "/fn/many:latest")
        assert r.status_code == 200, r.text
        assert env.proxy.blob_gets == 1, env.proxy.blob_gets
        assert "6 layers already stored" in env.daemon.log()
    finally:
        env.proxy.reset()


def test_deploy_by_reference_faas_cli_style(env):
    """faas-cli deploy: PUT, 404, POST; the image is pulled by the deploy,
    with progress in the function's logs; faas-cli ready then succeeds."""
    ns = "reg-tenant"
    r = env.api.post("/system/namespace/", json={"name": ns, "labels": {"openfaas": "1"}})
    assert r.status_code in (201, 409), r.text
    body = {"service": "reg-fn", "image": env.anon.host + "/fn/busybox:oci", "envProcess": "cat", "namespace": ns}
    r = env.api.put("/system/functions", json=body, timeout=120)
    assert r.status_code == 404, r.text
    r = env.api.post("/system/functions", json=body, timeout=120)
    assert r.status_code == 202, r.text
    r = env.api.invoke("reg-fn." + ns, data=b"by ref")
    assert r.status_code == 200 and r.text == "by ref", r.text
    r = env.api.get("/system/logs", params={"name": "reg-fn", "namespace": ns, "follow": "false"})
    texts = [json.loads(l)["text"] for l in r.text.splitlines()]
    assert any(t.startswith("pulling image '%s'" % body["image"]) for t in texts), texts
    assert any(t.startswith("pulled %s" % body["image"]) for t in texts), texts
    # a failed pull is the deploy's answer
    r = env.api.post("/system/functions", json=dict(body, service="reg-bad", image=env.anon.host + "/fn/nope:v9"),
                     timeout=120)
    assert r.status_code == 400, r.text
    assert "cannot pull '%s/fn/nope:v9'" % env.anon.host in error_of(r) and "not found (404)" in error_of(r)
    assert env.api.remove("reg-fn", namespace=ns).status_code == 200


def test_cli_image_pull(env):
    p = subprocess.run([BIN, "image", "pull", env.anon.host + "/fn/busybox:oci", "-n", DEFAULT_NS, "--gateway",
                        env.daemon.url], capture_output=True, text=True, timeout=HTTP_TIMEOUT,
                       env=dict(os.environ, SFAASD_PASSWORD=env.daemon.password))
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("pulled sha256:") and env.anon.host + "/fn/busybox:oci" in p.stdout, p.stdout
    p = subprocess.run([BIN, "image", "pull", env.anon.host + "/fn/nope:v1", "--gateway", env.daemon.url],
                       capture_output=True, text=True, timeout=HTTP_TIMEOUT,
                       env=dict(os.environ, SFAASD_PASSWORD=env.daemon.password))
    assert p.returncode == 1 and "not found (404)" in p.stderr, p.stderr


def test_tenant_credentials_sealed(env, tmp_path):
    """Registry credentials per namespace (a Docker config.json), sealed like
    secrets: used by that namespace's pulls only, never shown back, never
    listed as a secret, no cleartext on disk."""
    d = Daemon(tmp_path / "data", config={"insecure_registries": [env.basic.host]}, name="tenantauth",
               log_dir=tmp_path)
    d.start()
    try:
        a = Api(d)
        for ns in ("t-a", "t-b"):
            r = a.post("/system/namespace/", json={"name": ns, "labels": {"openfaas": "1"}})
            assert r.status_code == 201, r.text
        auth = base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
        r = a.put("/system/registry-auth", params={"namespace": "t-a"},
                  json={"auths": {env.basic.host: {"auth": auth}}, "credsStore": "ignored"})
        assert r.status_code == 200, r.text
        r = a.get("/system/registry-auth", params={"namespace": "t-a"})
        assert r.json() == {"namespace": "t-a", "registries": [env.basic.host]}, r.text
        assert PASSWORD not in r.text and auth not in r.text
        assert a.get("/system/secrets", params={"namespace": "t-a"}).json() == []
        ref = env.basic.host + "/fn/busybox:v1"
        r = a.post("/system/images/pull", params={"namespace": "t-a"}, json={"image": ref}, timeout=120)
        assert r.status_code == 200, r.text
        r = a.post("/system/images/pull", params={"namespace": "t-b"}, json={"image": ref}, timeout=120)
        assert r.status_code == 403 and "asks for credentials" in error_of(r), r.text
        r = a.put("/system/registry-auth", params={"namespace": "t-b"}, json={"auths": {"x": {"user": "nope"}}})
        assert r.status_code == 400, r.text
        # sealed: neither the password nor its base64 anywhere in the data folder
        for root, _, files in os.walk(d.data_dir):
            for f in files:
                p = os.path.join(root, f)
                if os.path.islink(p) or not os.path.isfile(p) or "/images/" in p or "/blobs/" in p:
                    continue
                with open(p, "rb") as fh:
                    data = fh.read()
                assert PASSWORD.encode() not in data and auth.encode() not in data, p
        r = a.delete("/system/registry-auth", params={"namespace": "t-a"})
        assert r.status_code == 200, r.text
        r = a.post("/system/images/pull", params={"namespace": "t-a"}, json={"image": ref}, timeout=120)
        assert r.status_code == 403, r.text
    finally:
        assert d.stop() == 0


def test_registry_allowlist_per_namespace(env):
    r = env.api.post("/system/namespace/", json={"name": "t-allow", "labels": {"openfaas": "1"},
                                                 "annotations": {"com.sfaasd.registries": env.basic.host}})
    assert r.status_code in (201, 409), r.text
    r = pull(env, env.anon.host + "/fn/busybox:oci", namespace="t-allow")
    assert r.status_code == 403, r.text
    assert "registry %s is not allowed for namespace 't-allow'" % env.anon.host in error_of(r), r.text
    r = pull(env, env.basic.host + "/fn/busybox:v1", namespace="t-allow")
    assert r.status_code == 200, r.text


def test_registry_mirrors(env, tmp_path):
    """registry_mirrors: an edge box pulls through a local cache. The
    origin here does not exist; its first mirror refuses connections and is
    skipped, the second serves the pull; the image is named after the
    origin."""
    origin = "registry.invalid:5000"
    d = Daemon(tmp_path / "data", config={"insecure_registries": [env.anon.host, "127.0.0.1:1", origin],
                                          "registry_mirrors": {origin: ["127.0.0.1:1", env.anon.host]},
                                          "registry_retry_delay": "50ms"}, name="mirrors", log_dir=tmp_path)
    d.start()
    try:
        a = Api(d)
        r = a.post("/system/images/pull", json={"image": origin + "/fn/busybox:oci"}, timeout=120)
        assert r.status_code == 200, r.text
        assert origin + "/fn/busybox:oci" in r.json()["tags"], r.text
        assert "mirror 127.0.0.1:1:" in d.log() and "trying the next" in d.log()
        a.deploy("mirrored", image=origin + "/fn/busybox:oci", fprocess="cat", expect=202)
        assert a.invoke("mirrored", data=b"edge").text == "edge"
    finally:
        assert d.stop() == 0


def test_shutdown_ends_a_stalled_pull(env, tmp_path):
    """SIGTERM during a pull that waits on a stalled registry: the pull ends
    at once (not after its stalls and retries), answered, and the daemon
    exits cleanly."""
    import signal
    import threading
    import time
    d = Daemon(tmp_path / "data", config={"insecure_registries": [env.proxy.host], "registry_idle_timeout": "60s"},
               name="pullstop", log_dir=tmp_path)
    d.start()
    env.proxy.reset("stall")
    # Without the cancel: 3 attempts that each stall 8 s (the idle timeout
    # is 60 s), well over the 10 s allowed below.
    env.proxy.stall_s = 8
    out = {}
    try:
        def run():
            out["r"] = Api(d).post("/system/images/pull", json={"image": env.proxy.host + "/fn/many:latest"},
                                   timeout=120)
        t = threading.Thread(target=run)
        t.start()
        deadline = time.monotonic() + 30
        while env.proxy.blob_gets == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert env.proxy.blob_gets > 0
        time.sleep(0.3)   # the half blob has arrived; the rest stalls
        t0 = time.monotonic()
        d.signal(signal.SIGTERM)
        t.join(30)
        assert not t.is_alive()
        assert time.monotonic() - t0 < 10
        assert d.wait(30) == 0, d.log_tail()
        assert out["r"].status_code == 502 and "cancel" in error_of(out["r"]), out["r"].text
    finally:
        env.proxy.stall_s = 3.0
        if d.running():
            d.stop()
        env.proxy.reset()


def test_pull_progress_in_status(env):
    """An update whose new image is pulled: the function's status shows the
    pull and its last progress line while it runs, as does
    GET /system/images/pulls."""
    import threading
    import time
    env.api.deploy("reg-upd", image=env.anon.host + "/fn/busybox:oci", fprocess="cat", expect=202)
    # a fresh name for the same layers would skip them: a new tag on the proxy
    env.proxy.reset("slow-blobs")
    env.proxy.delay_s = 0.5
    out = {}
    try:
        # remove the stored layers' image so the pull fetches them again
        img = env.api.get("/system/images/" + env.proxy.host + "/fn/many:latest")
        if img.status_code == 200:
            env.api.delete("/system/images/" + img.json()["id"])
            env.api.post("/system/images/prune")

        def run():
            out["r"] = env.api.put("/system/functions", json={"service": "reg-upd", "envProcess": "cat",
                                                              "image": env.proxy.host + "/fn/many:latest"},
                                   timeout=120)
        t = threading.Thread(target=run)
        t.start()
        seen = None
        deadline = time.monotonic() + 30
        while t.is_alive() and time.monotonic() < deadline and not seen:
            st = env.api.get("/system/function/reg-upd").json()
            seen = st.get("sfaasd", {}).get("pull")
            if not seen:
                time.sleep(0.05)
        pulls = env.api.get("/system/images/pulls").json()
        t.join(60)
        assert seen and seen["image"] == env.proxy.host + "/fn/many:latest", seen
        assert seen["function"] == "reg-upd", seen
        if not seen["progress"]:
            # The pull ended between two looks, before the status showed a
            # line: every line also goes to the function's logs.
            logs = env.api.get("/system/logs", params={"name": "reg-upd", "namespace": "openfaas-fn"}).text
            assert "pulling " + env.proxy.host + "/fn/many:latest" in logs, logs[-2000:]
        else:
            assert seen["progress"].startswith("pulling "), seen
        assert any(p["image"] == seen["image"] for p in pulls) or not t.is_alive(), pulls
        assert out["r"].status_code == 200, out["r"].text
        assert "pull" not in env.api.get("/system/function/reg-upd").json().get("sfaasd", {})
    finally:
        env.proxy.delay_s = 0.3
        env.proxy.reset()
        env.api.remove("reg-upd")


def test_https_registry_through_the_egress_policy(env, images, tmp_path):
    """A registry not in insecure_registries is reached over https (the
    client's TLS) and through the outbound policy (core/http/egress.h):
    loopback is refused by default, naming the address and its class;
    registry_allow_loopback opens it; the certificate is verified against
    the system's store, and against registry_ca_file as well."""
    ca, cert, key = tls_pair(tmp_path / "pki")
    reg = Registry(tmp_path / "tlsreg", tls=(cert, key))
    try:
        ref = reg.host + "/fn/busybox:tls"
        push(images.path("busybox-oci.tar"), ref)
        cases = [
            ({}, 403, ["its address is not allowed", "127.0.0.1 is a loopback address", "registry_allow_loopback"]),
            ({"registry_allow_loopback": True}, 502, ["cannot verify the certificate of registry " + reg.host,
                                                       "registry_ca_file"]),
            ({"registry_allow_loopback": True, "registry_ca_file": ca}, 200, []),
        ]
        for i, (config, status, words) in enumerate(cases):
            d = Daemon(tmp_path / ("data%d" % i), config=config, name="tlsreg%d" % i, log_dir=tmp_path)
            d.start()
            try:
                a = Api(d)
                r = a.post("/system/images/pull", json={"image": ref}, timeout=120)
                assert r.status_code == status, (config, r.text)
                for w in words:
                    assert w in error_of(r), (w, r.text)
                if status == 200:
                    a.deploy("tls-bb", image=ref, fprocess="cat", expect=202)
                    assert a.invoke("tls-bb", data=b"over tls").text == "over tls"
                else:
                    assert d.stop() == 0
                    continue
            finally:
                if d.running():
                    assert d.stop() == 0
        # an http registry reached as https (not listed, loopback allowed):
        # the TLS handshake fails, said as such
        d = Daemon(tmp_path / "data-plain", config={"registry_allow_loopback": True}, name="tlsplain",
                   log_dir=tmp_path)
        d.start()
        try:
            r = Api(d).post("/system/images/pull", json={"image": env.anon.host + "/fn/busybox:oci"}, timeout=120)
            assert r.status_code == 502 and "TLS" in error_of(r), r.text
        finally:
            assert d.stop() == 0
    finally:
        reg.stop()


def test_tenant_pulls_into_its_own_namespace(env):
    """Images are per tenant: a tenant's token pulls into its own namespace
    only, the image and its names are that tenant's, within its imageBytes
    quota; its registry credentials are its own and no secret of it."""
    a = env.api
    toks = {}
    for ns in ("tp-a", "tp-b"):
        r = a.post("/system/tenants", json={"name": ns})
        assert r.status_code == 201, r.text
        toks[ns] = a.post("/system/tenants/%s/tokens" % ns, json={}).json()["token"]

    def as_t(ns, method, path, **kw):
        return requests.request(method, env.daemon.url + path, headers={"Authorization": basic(toks[ns], user=ns)},
                                timeout=120, **kw)

    ref = env.anon.host + "/fn/busybox:v2s2"
    # another tenant's namespace: refused before anything is fetched
    r = as_t("tp-a", "POST", "/system/images/pull", params={"namespace": "tp-b"}, json={"image": ref})
    assert r.status_code == 403, r.text
    r = as_t("tp-a", "POST", "/system/images/pull", json={"image": ref, "namespace": "tp-b"})
    assert r.status_code == 403, r.text
    assert as_t("tp-a", "GET", "/system/images/pulls", params={"namespace": "tp-b"}).status_code == 403
    # its own, without naming it
    r = as_t("tp-a", "POST", "/system/images/pull", json={"image": ref})
    assert r.status_code == 200, r.text
    assert ref in r.json()["tags"]
    assert as_t("tp-a", "GET", "/system/images/" + ref).status_code == 200
    assert as_t("tp-b", "GET", "/system/images/" + ref).status_code == 404
    assert all(ref not in i["tags"] for i in as_t("tp-b", "GET", "/system/images").json())
    audit = as_t("tp-a", "GET", "/system/audit").json()
    assert any(e["path"].startswith("/system/images/pull") and "pulled image sha256:" in e["detail"]
               for e in audit), audit
    # a deploy by reference from a tenant pulls into its namespace
    r = as_t("tp-b", "POST", "/system/functions", json={"service": "tp-fn", "image": env.anon.host + "/fn/busybox:oci",
                                                       "envProcess": "cat"})
    assert r.status_code == 202, r.text
    r = requests.post(env.daemon.url + "/function/tp-fn.tp-b", data=b"mine", timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.text == "mine", r.text
    assert as_t("tp-b", "GET", "/system/images/" + env.anon.host + "/fn/busybox:oci").status_code == 200
    # registry credentials: the tenant's own only
    auth = base64.b64encode(("%s:%s" % (USER, PASSWORD)).encode()).decode()
    r = as_t("tp-a", "PUT", "/system/registry-auth", json={"auths": {env.basic.host: {"auth": auth}}})
    assert r.status_code == 200, r.text
    assert as_t("tp-a", "GET", "/system/registry-auth").json() == {"namespace": "tp-a", "registries": [env.basic.host]}
    assert as_t("tp-b", "GET", "/system/registry-auth").json() == {"namespace": "tp-b", "registries": []}
    for method in ("GET", "PUT", "DELETE"):
        r = as_t("tp-b", method, "/system/registry-auth", params={"namespace": "tp-a"},
                 json={"auths": {env.basic.host: {"auth": auth}}})
        assert r.status_code == 403, (method, r.text)
    assert as_t("tp-a", "GET", "/system/registry-auth").json()["registries"] == [env.basic.host]
    # no secret of the tenant's: not listed, not counted in its secrets quota
    assert as_t("tp-a", "GET", "/system/secrets").json() == []
    assert a.get("/system/tenants/tp-a").json()["usage"]["secrets"] == 0
    # the imageBytes quota holds for pulls, the direct ones and a deploy's
    used = a.get("/system/tenants/tp-a").json()["usage"]["imageBytes"]
    assert used > 0
    other = env.anon.host + "/fn/multi:latest"
    try:
        assert a.put("/system/tenants/tp-a", json={"quotas": {"imageBytes": used}}).status_code == 200
        r = as_t("tp-a", "POST", "/system/images/pull", json={"image": other})
        assert r.status_code == 409 and "whole imageBytes quota" in error_of(r), r.text
        r = as_t("tp-a", "POST", "/system/functions", json={"service": "tp-q", "image": other, "envProcess": "cat"})
        assert r.status_code == 400 and "whole imageBytes quota" in error_of(r), r.text
        assert a.put("/system/tenants/tp-a", json={"quotas": {"imageBytes": used + 1}}).status_code == 200
        r = as_t("tp-a", "POST", "/system/images/pull", json={"image": other})
        assert r.status_code == 409 and "over its imageBytes quota" in error_of(r), r.text
        assert all(other not in i["tags"] for i in as_t("tp-a", "GET", "/system/images").json())
    finally:
        assert a.put("/system/tenants/tp-a", json={"quotas": {"imageBytes": None}}).status_code == 200
