# SPDX-License-Identifier: MIT
"""The client subcommands end to end against a real daemon."""
import json
import os
import re
import socket
import subprocess

import pytest

from sfaasd_testlib import BIN, HTTP_TIMEOUT, parse_env


@pytest.fixture(scope="module")
def cli(daemon, tmp_path_factory):
    pwfile = tmp_path_factory.mktemp("cli") / "password"
    pwfile.write_text(daemon.password + "\n")
    os.chmod(pwfile, 0o600)

    def run(*args, input=b"", stdin=None, password=True, gateway=True, env=None, check=None):
        argv = [BIN] + list(args)
        if gateway:
            argv += ["--gateway", daemon.url]
        if password is True:
            argv += ["--password-file", str(pwfile)]
        elif password:
            argv += ["--password-file", str(password)]
        e = {k: v for k, v in os.environ.items() if k not in ("SFAASD_PASSWORD", "OPENFAAS_URL")}
        e.update(env or {})
        if stdin is not None:
            p = subprocess.run(argv, stdin=stdin, capture_output=True, timeout=HTTP_TIMEOUT, env=e)
        else:
            p = subprocess.run(argv, input=input, capture_output=True, timeout=HTTP_TIMEOUT, env=e)
        if check is not None:
            assert p.returncode == check, "%s -> %d\nstdout: %r\nstderr: %r" % (args, p.returncode, p.stdout,
                                                                               p.stderr)
        return p

    run.pwfile = pwfile
    return run


def one_line_error(p):
    err = p.stderr.decode()
    assert err.endswith("\n") and err.count("\n") == 1, "expected one line on stderr, got %r" % err
    assert err.startswith("sfaasd: "), err
    return err


def test_image_import_and_list(cli, images):
    p = cli("image", "import", images.path("busybox-oci.tar"), "--name", "cli/busybox:v1", check=0)
    out = p.stdout.decode()
    m = re.match(r"^imported (sha256:[0-9a-f]{64}) (\S+)\n$", out)
    assert m, out
    tags = m.group(2).split(",")
    assert "busybox:latest" in tags and "cli/busybox:v1" in tags
    p = cli("image", "list", check=0)
    out = p.stdout.decode()
    assert out.splitlines()[0].split() == ["ID", "SIZE", "CREATED", "TAGS"]
    assert m.group(1)[7:19] in out
    assert "cli/busybox:v1" in out
    p = cli("image", "list", "--json", check=0)
    ids = [i["id"] for i in json.loads(p.stdout)]
    assert m.group(1) in ids


def test_image_import_bad_archive(cli, tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not an archive" * 100)
    p = cli("image", "import", str(bad), check=1)
    err = one_line_error(p)
    assert "400" in err and "image import failed" in err
    p = cli("image", "import", str(tmp_path / "missing.tar"), check=1)
    assert "missing.tar" in one_line_error(p)


def test_deploy_list_invoke_rm(cli, images, daemon):
    cli("image", "import", images.path("busybox-oci.tar"), "--name", "cli/busybox:v1", check=0)
    p = cli("deploy", "--name", "clifn", "--image", "cli/busybox:v1", "--fprocess", "echo-env",
            "--env", "GREETING=hello there", "--env", "N=1", "--label", "team=qa", check=0)
    out = p.stdout.decode().splitlines()
    assert out[0].startswith("Deployed. 202"), out
    assert out[1] == "URL: %s/function/clifn" % daemon.url

    p = cli("list", check=0)
    rows = [line.split() for line in p.stdout.decode().splitlines()]
    assert rows[0] == ["NAME", "INVOCATIONS", "REPLICAS"]
    assert ["clifn", "0", "1"] in rows
    p = cli("list", "-v", check=0)
    assert any(r[:2] == ["clifn", "cli/busybox:v1"] for r in (line.split() for line in p.stdout.decode().splitlines()))
    p = cli("list", "--json", check=0)
    fn = {f["name"]: f for f in json.loads(p.stdout)}["clifn"]
    assert fn["envVars"] == {"GREETING": "hello there", "N": "1"}
    assert fn["labels"] == {"team": "qa", "faas_function": "clifn"}

    p = cli("invoke", "clifn", input=b"body", password=False, check=0)
    env = parse_env(p.stdout.decode())
    assert env["GREETING"] == "hello there"
    assert env["Http_Method"] == "POST"
    assert env["Http_Content_Type"] == "text/plain"
    assert "Http_Authorization" not in env
    p = cli("list", check=0)
    assert ["clifn", "1", "1"] in [line.split() for line in p.stdout.decode().splitlines()]

    # redeploy: update path (PUT answers 200)
    p = cli("deploy", "--name", "clifn", "--image", "cli/busybox:v1", "--fprocess", "cat", check=0)
    assert p.stdout.decode().startswith("Deployed. 200")
    data = bytes(range(256)) * 64
    p = cli("invoke", "clifn", input=data, password=False, check=0)
    assert p.stdout == data

    p = cli("rm", "clifn", check=0)
    assert p.stdout.decode() == "Removed clifn.\n"
    p = cli("rm", "clifn", check=1)
    assert "no such function" in one_line_error(p)
    p = cli("invoke", "clifn", input=b"x", password=False, check=1)
    err = one_line_error(p)
    assert "404" in err


def test_invoke_options(cli, images):
    cli("image", "import", images.path("busybox-oci.tar"), check=0)
    cli("deploy", "--name", "cliopts", "--image", "busybox:latest", "--fprocess", "echo-env", check=0)
    p = cli("invoke", "cliopts.openfaas-fn", "-m", "PUT", "-H", "X-Test: yes", "--query", "a=1",
            "--query", "b=two", "--content-type", "application/json", input=b"{}", password=False, check=0)
    env = parse_env(p.stdout.decode())
    assert env["Http_Method"] == "PUT"
    assert env["Http_X_Test"] == "yes"
    assert env["Http_Query"] == "a=1&b=two"
    assert env["Http_Content_Type"] == "application/json"
    assert env["Http_Path"] == "/"


def test_invoke_stdin_from_file(cli, images, tmp_path):
    cli("image", "import", images.path("busybox-oci.tar"), check=0)
    cli("deploy", "--name", "clicat", "--image", "busybox:latest", "--fprocess", "cat", check=0)
    f = tmp_path / "body.bin"
    data = os.urandom(300000)
    f.write_bytes(data)
    with open(f, "rb") as fh:
        p = cli("invoke", "clicat", stdin=fh, password=False, check=0)
    assert p.stdout == data


def test_invoke_failing_function(cli, images):
    cli("image", "import", images.path("busybox-oci.tar"), check=0)
    cli("deploy", "--name", "clifail", "--image", "busybox:latest", "--fprocess", "false", check=0)
    p = cli("invoke", "clifail", password=False)
    assert p.returncode != 0
    err = one_line_error(p)
    assert "500" in err
    assert p.stdout == b""


def test_password_from_env(cli, daemon):
    p = cli("list", password=False, env={"SFAASD_PASSWORD": daemon.password}, check=0)
    assert p.stdout.decode().startswith("NAME")


def test_wrong_password(cli, tmp_path):
    bad = tmp_path / "bad-password"
    bad.write_text("definitely-wrong\n")
    for args in (("list",), ("deploy", "--name", "x", "--image", "busybox:latest"), ("rm", "x"),
                 ("image", "list")):
        p = cli(*args, password=bad)
        assert p.returncode == 1, (args, p.returncode, p.stderr)
        err = one_line_error(p)
        assert "unauthorized" in err
        assert "definitely-wrong" not in err
    p = cli("list", password=False, env={"SFAASD_PASSWORD": "wrong-too"})
    assert p.returncode == 1
    assert "unauthorized" in one_line_error(p)


def test_no_password_at_all(cli):
    p = cli("list", password=False)
    assert p.returncode != 0
    one_line_error(p)


def test_password_file_missing(cli, tmp_path):
    p = cli("list", password=tmp_path / "nope")
    assert p.returncode == 1
    assert "nope" in one_line_error(p)


def test_gateway_unreachable(cli):
    # a bound but not listening socket: connections to it are refused
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = "http://127.0.0.1:%d" % s.getsockname()[1]
        for args in (("list",), ("invoke", "x"), ("image", "list"), ("rm", "x"),
                     ("deploy", "--name", "x", "--image", "busybox:latest")):
            p = cli(*args, "--gateway", url, gateway=False)
            assert p.returncode == 1, (args, p.returncode, p.stderr)
            err = one_line_error(p)
            assert "cannot reach gateway" in err and url in err, err
        p = cli("list", gateway=False, env={"OPENFAAS_URL": url})
        assert p.returncode == 1
        assert url in one_line_error(p)


def test_usage_errors(cli):
    p = cli("deploy", "--image", "busybox:latest")
    assert p.returncode == 2
    assert "--name" in one_line_error(p)
    p = cli("invoke", "bad!name", password=False)
    assert p.returncode == 2
    one_line_error(p)
    p = cli("list", "--gateway", "ftp://nowhere", gateway=False)
    assert p.returncode == 2
    one_line_error(p)


def test_list_unknown_namespace(cli):
    p = cli("list", "-n", "tenant-nope")
    assert p.returncode == 1
    err = one_line_error(p)
    assert "400" in err and "tenant-nope" in err


def test_invoke_client_timeout(cli, images):
    cli("image", "import", images.path("busybox-oci.tar"), check=0)
    cli("deploy", "--name", "clislow", "--image", "busybox:latest", "--fprocess", "sleep 987667",
        "--env", "exec_timeout=3s", check=0)
    p = cli("invoke", "clislow", "--timeout", "1s", password=False)
    assert p.returncode == 1
    err = one_line_error(p)
    assert "did not answer" in err


def test_image_names_per_namespace(cli, api, images):
    """-n on every image command; a deploy in a namespace that lacks the
    name says which namespace it searched and how to import it there."""
    r = api.post("/system/namespace/", json={"name": "cli-ns2", "labels": {"openfaas": "1"}})
    assert r.status_code in (201, 409), r.text
    cli("image", "import", images.path("layers-oci.tar"), "--name", "cli/layers:v1", check=0)
    p = cli("deploy", "--name", "clins", "--image", "cli/layers:v1", "--fprocess", "cat", "-n", "cli-ns2",
            check=1)
    err = one_line_error(p)
    assert "'cli/layers:v1' is not in the image store of namespace 'cli-ns2'" in err, err
    assert "sfaasd image import -n cli-ns2 FILE" in err and "POST /system/images?namespace=cli-ns2" in err, err
    assert "cli/layers:v1" not in cli("image", "list", "-n", "cli-ns2", check=0).stdout.decode()
    p = cli("image", "import", images.path("layers-oci.tar"), "--name", "cli/layers:v1", "-n", "cli-ns2", check=0)
    assert p.stdout.decode().startswith("imported sha256:")
    assert "cli/layers:v1" in cli("image", "list", "-n", "cli-ns2", check=0).stdout.decode()
    ids = [i["id"] for i in json.loads(cli("image", "list", "--json", "--namespace", "cli-ns2", check=0).stdout)]
    assert len(ids) == 1
    cli("deploy", "--name", "clins", "--image", "cli/layers:v1", "--fprocess", "cat", "-n", "cli-ns2", check=0)
    cli("rm", "clins", "-n", "cli-ns2", check=0)
    p = cli("image", "rm", "cli/layers:v1", "-n", "cli-ns2", check=0)
    assert "untagged cli/layers:v1" in p.stdout.decode()
    cli("image", "prune", "-n", "cli-ns2", check=0)
    p = cli("image", "list", "-n", "no-such-ns", check=1)
    assert "no-such-ns" in one_line_error(p)
