# SPDX-License-Identifier: MIT
"""`sfaasd tenant`, `sfaasd token` and `sfaasd secret`, and every client
command with a tenant's token instead of the admin's password: a tenant
given only a token imports an image, deploys, invokes, reads logs and
manages its secrets, all in its own namespace, without naming it."""
import os
import re
import subprocess

import pytest

from sfaasd_testlib import BIN, HTTP_TIMEOUT


@pytest.fixture(scope="module")
def run(daemon, tmp_path_factory):
    d = tmp_path_factory.mktemp("cli-tenants")
    admin_pw = d / "admin"
    admin_pw.write_text(daemon.password + "\n")

    def run(*args, input=b"", user=None, password=admin_pw, check=0):
        argv = [BIN] + list(args) + ["--gateway", daemon.url]
        e = {k: v for k, v in os.environ.items()
             if k not in ("SFAASD_PASSWORD", "SFAASD_USER", "OPENFAAS_URL")}
        if user:
            e["SFAASD_USER"] = user
        if password is not None:
            argv += ["--password-file", str(password)]
        p = subprocess.run(argv, input=input, capture_output=True, timeout=HTTP_TIMEOUT, env=e)
        if check is not None:
            assert p.returncode == check, "%s -> %d\nstdout: %r\nstderr: %r" % (args, p.returncode, p.stdout,
                                                                               p.stderr)
        return p

    run.dir = d
    return run


def test_tenant_and_token_commands(run):
    p = run("tenant", "create", "acme")
    assert "created tenant acme" in p.stdout.decode()
    p = run("tenant", "create", "acme", check=1)
    assert "already exists" in p.stderr.decode()
    p = run("tenant", "list")
    lines = p.stdout.decode().splitlines()
    assert lines[0].split() == ["NAME", "TOKENS", "CREATED"]
    assert any(l.split()[:2] == ["acme", "0"] for l in lines[1:]), lines

    p = run("token", "create", "acme", "--name", "ci", "--expires", "30d")
    token = p.stdout.decode().strip()
    assert re.fullmatch(r"sfa_[A-Za-z0-9_-]{43}", token), token
    m = re.search(r"token ([0-9a-f]{12}) for tenant acme \(shown once; expires (\S+)\)", p.stderr.decode())
    assert m, p.stderr
    tid = m.group(1)
    p = run("token", "list", "acme")
    rows = [l.split() for l in p.stdout.decode().splitlines()]
    assert rows[0] == ["ID", "NAME", "CREATED", "EXPIRES", "STATE"]
    assert rows[1][0] == tid and rows[1][1] == "ci" and rows[1][4] == "active"
    # the token is never shown again
    assert token not in p.stdout.decode()
    assert token not in run("token", "list", "acme", "--json").stdout.decode()

    tokfile = run.dir / "acme-token"
    tokfile.write_text(token + "\n")
    p = run("tenant", "show", "acme", user="acme", password=tokfile)
    assert '"name": "acme"' in p.stdout.decode()
    # a tenant cannot list tenants nor make tokens
    p = run("tenant", "list", user="acme", password=tokfile, check=1)
    assert "HTTP 403" in p.stderr.decode()
    p = run("token", "create", "acme", user="acme", password=tokfile, check=1)
    assert "HTTP 403" in p.stderr.decode()

    p = run("token", "revoke", "acme", tid)
    assert "revoked token %s" % tid in p.stdout.decode()
    p = run("tenant", "show", "acme", user="acme", password=tokfile, check=1)
    assert "unauthorized" in p.stderr.decode()
    p = run("token", "list", "acme")
    assert p.stdout.decode().splitlines()[1].split()[4] == "revoked"
    p = run("token", "revoke", "acme", "0123456789ab", check=1)
    assert "HTTP 404" in p.stderr.decode()

    p = run("tenant", "rm", "acme")
    assert "removed tenant acme" in p.stdout.decode()
    p = run("tenant", "show", "acme", check=1)
    assert "HTTP 404" in p.stderr.decode()


def test_a_tenant_with_only_a_token(run, images):
    run("tenant", "create", "solo")
    token = run("token", "create", "solo").stdout.decode().strip()
    tok = run.dir / "solo-token"
    tok.write_text(token)

    def t(*args, **kw):
        kw.setdefault("password", tok)
        return run(*args, user="solo", **kw)

    p = t("image", "import", images.path("busybox-oci.tar"), "--name", "mine/bb:1")
    assert p.stdout.decode().startswith("imported sha256:")
    assert "mine/bb:1" in t("image", "list").stdout.decode()
    # -n with its own name works, another is refused
    t("image", "list", "-n", "solo")
    p = t("image", "list", "-n", "openfaas-fn", check=1)
    assert "HTTP 403" in p.stderr.decode()

    p = t("secret", "create", "api-key", "--from-literal", "s3cr3t")
    assert "created secret api-key" in p.stdout.decode()
    t("secret", "create", "api-key", "--from-literal", "again", check=1)
    t("secret", "create", "api-key", "--replace", input=b"from stdin")
    assert "api-key" in t("secret", "list").stdout.decode()

    p = t("deploy", "--name", "echo", "--image", "mine/bb:1", "--fprocess", "cat /var/openfaas/secrets/api-key",
          "--secret", "api-key")
    assert "Deployed." in p.stdout.decode()
    assert "echo" in t("list").stdout.decode()
    # Invocation needs no credentials (open), and names the namespace.
    p = t("invoke", "echo", "-n", "solo", password=None)
    assert p.stdout == b"from stdin"
    p = t("logs", "echo", "-n", "solo")
    assert p.returncode == 0
    # The admin's namespace is not the tenant's: nothing there.
    p = run("list")
    assert "echo" not in p.stdout.decode()

    t("rm", "echo")
    p = t("secret", "rm", "api-key")
    assert "removed secret api-key" in p.stdout.decode()
    p = t("secret", "list")
    assert "api-key" not in p.stdout.decode()


def test_routes_command():
    p = subprocess.run([BIN, "routes"], capture_output=True, text=True, check=True)
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["PATH", "METHODS", "READ", "WRITE"]
    rows = {l.split()[0]: l.split()[-2:] for l in lines[1:]}
    assert rows["/system/tenants"] == ["admin", "admin"]
    assert rows["/system/functions"] == ["tenant", "tenant"]
    assert rows["/healthz"] == ["public", "public"]
    assert all(r != ["unset", "unset"] for r in rows.values())


def test_invoke_auth_and_keys(run, daemon, images):
    run("tenant", "create", "closed")
    token = run("token", "create", "closed").stdout.decode().strip()
    tok = run.dir / "closed-token"
    tok.write_text(token)

    def t(*args, **kw):
        kw.setdefault("password", tok)
        return run(*args, user="closed", **kw)

    t("image", "import", images.path("busybox-oci.tar"))
    t("deploy", "--name", "echo", "--image", "busybox:latest", "--fprocess", "cat")
    p = t("tenant", "invoke-auth", "closed")
    assert "are open" in p.stdout.decode()
    p = t("tenant", "invoke-auth", "closed", "on")
    assert "need a credential" in p.stdout.decode()
    p = t("invoke", "echo", "-n", "closed", password=None, check=1)
    assert "HTTP 401" in p.stderr.decode()
    p = t("key", "create", "closed", "--function", "echo", "--name", "webhook")
    key = p.stdout.decode().strip()
    assert key.startswith("sfk_") and "function echo" in p.stderr.decode()
    p = t("invoke", "echo", "-n", "closed", "-H", "Authorization: Bearer " + key, password=None, input=b"ok")
    assert p.stdout == b"ok"
    rows = [l.split() for l in t("key", "list", "closed").stdout.decode().splitlines()]
    assert rows[1][1] == "webhook" and rows[1][4] == "active"
    t("key", "revoke", "closed", rows[1][0])
    t("invoke", "echo", "-n", "closed", "-H", "Authorization: Bearer " + key, password=None, check=1)
    t("tenant", "invoke-auth", "closed", "off")
    assert t("invoke", "echo", "-n", "closed", password=None, input=b"open").stdout == b"open"


def test_faas_cli_sequence_as_a_tenant(daemon, api, images):
    """faas-cli's requests (OPENFAAS-COMPAT.md 3.2) with `faas-cli login -u
    acme2 --password-stdin` credentials and no --namespace: everything lands
    in the tenant's own namespace; invoke names it (faas-cli appends
    openfaas-fn otherwise, as it does for every gateway)."""
    import requests
    from sfaasd_testlib import basic
    assert api.post("/system/tenants", json={"name": "acme2"}).status_code == 201
    token = api.post("/system/tenants/acme2/tokens", json={"name": "faas-cli"}).json()["token"]
    s = requests.Session()
    s.headers.update({"Authorization": basic(token, user="acme2"), "User-Agent": "faas-cli/0.17.6"})
    u = daemon.url

    def go(method, path, want, **kw):
        r = s.request(method, u + path, timeout=HTTP_TIMEOUT, **kw)
        assert r.status_code == want, (method, path, r.status_code, r.text)
        return r

    go("GET", "/system/functions", 200)                                         # login
    with open(images.path("busybox-oci.tar"), "rb") as f:                        # (sfaasd image import)
        go("POST", "/system/images", 200, data=f.read(), headers={"Content-Type": "application/x-tar"})
    dep = {"service": "figlet", "image": "busybox:latest", "envProcess": "cat", "labels": {}, "annotations": {}}
    go("PUT", "/system/functions", 404, json=dep)                               # deploy: update first
    go("POST", "/system/functions", 202, json=dep)                              # then create
    assert [f["namespace"] for f in go("GET", "/system/functions", 200).json()] == ["acme2"]
    st = go("GET", "/system/function/figlet", 200, params={"usage": "1"}).json()
    assert st["namespace"] == "acme2" and st["availableReplicas"] >= 1
    r = requests.post(u + "/function/figlet.acme2", data=b"hi", headers={"Content-Type": "text/plain"},
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.content == b"hi"
    go("POST", "/system/secrets", 200, json={"name": "api-key", "value": "s3cr3t"})
    go("POST", "/system/secrets", 409, json={"name": "api-key", "value": "again"})
    go("PUT", "/system/secrets", 200, json={"name": "api-key", "value": "again"})
    assert go("GET", "/system/secrets", 200).json() == [{"name": "api-key", "namespace": "acme2"}]
    go("GET", "/system/logs", 200, params={"name": "figlet", "follow": "false", "tail": "-1"})
    go("DELETE", "/system/secrets", 200, json={"name": "api-key"})
    go("DELETE", "/system/functions", 200, json={"functionName": "figlet"})
    assert go("GET", "/system/namespaces", 200).json() == ["acme2"]
    info = go("GET", "/system/info", 200).json()
    assert info["provider"]["provider"] == "sfaasd"
    # With -n of its own name, the same; with another, refused.
    go("GET", "/system/functions", 200, params={"namespace": "acme2"})
    go("GET", "/system/functions", 403, params={"namespace": "openfaas-fn"})
