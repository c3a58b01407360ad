# SPDX-License-Identifier: MIT
"""The image store end to end: OCI layout directories, the progress bar,
listing, deleting and pruning images, per-namespace names."""
import json
import os
import pty
import subprocess

import pytest

from sfaasd_testlib import BIN, HTTP_TIMEOUT, error_of


@pytest.fixture(scope="module")
def cli(daemon, tmp_path_factory):
    pwfile = tmp_path_factory.mktemp("cli") / "password"
    pwfile.write_text(daemon.password + "\n")
    os.chmod(pwfile, 0o600)

    def run(*args, check=None):
        argv = [BIN] + list(args) + ["--gateway", daemon.url, "--password-file", str(pwfile)]
        e = {k: v for k, v in os.environ.items() if k not in ("SFAASD_PASSWORD", "OPENFAAS_URL")}
        p = subprocess.run(argv, capture_output=True, timeout=HTTP_TIMEOUT, env=e)
        if check is not None:
            assert p.returncode == check, "%s -> %d\nstdout: %r\nstderr: %r" % (args, p.returncode, p.stdout,
                                                                               p.stderr)
        return p

    run.argv = lambda *args: [BIN] + list(args) + ["--gateway", daemon.url, "--password-file", str(pwfile)]
    return run


@pytest.fixture(scope="module")
def layout_dir(images, tmp_path_factory):
    """busybox-oci.tar unpacked: an OCI image layout directory."""
    d = tmp_path_factory.mktemp("layout")
    subprocess.run(["tar", "-xf", images.path("busybox-oci.tar"), "-C", str(d)], check=True)
    assert (d / "oci-layout").is_file() and (d / "index.json").is_file()
    return d


def test_import_layout_directory(cli, api, layout_dir):
    p = cli("image", "import", str(layout_dir), "--name", "dir/busybox:v1", check=0)
    out = p.stdout.decode()
    assert out.startswith("imported sha256:") and "dir/busybox:v1" in out
    # No progress bar when stderr is not a terminal.
    assert p.stderr == b""
    # The same image as the tar import of the same layout.
    imgs = api.get("/system/images").json()
    ids = [i["id"] for i in imgs if "dir/busybox:v1" in i["tags"]]
    assert len(ids) == 1


def test_import_layout_directory_same_id_as_tar(cli, api, images, layout_dir):
    a = api.import_image(images.path("busybox-oci.tar")).json()["id"]
    p = cli("image", "import", str(layout_dir), check=0)
    assert a in p.stdout.decode()


def test_import_layout_directory_refuses_symlinks_and_non_layouts(cli, layout_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "index.json").write_text("{}")
    p = cli("image", "import", str(bad), check=1)
    assert b"not an OCI image layout" in p.stderr
    (bad / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (bad / "blobs").mkdir()
    os.symlink("/etc/passwd", bad / "blobs" / "x")
    p = cli("image", "import", str(bad), check=1)
    assert b"symlink" in p.stderr
    os.unlink(bad / "blobs" / "x")
    os.mkfifo(bad / "blobs" / "fifo")
    p = cli("image", "import", str(bad), check=1)
    assert b"not a regular file" in p.stderr


def test_import_progress_bar_on_a_terminal(cli, images):
    """stderr a pty: the bar is drawn and ends at 100%."""
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen(cli.argv("image", "import", images.path("busybox-oci.tar")),
                             stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        slave = -1
        out, _ = p.communicate(timeout=HTTP_TIMEOUT)
        assert p.returncode == 0
        err = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            err += chunk
    finally:
        os.close(master)
        if slave >= 0:
            os.close(slave)
    assert b"uploading [" in err and b"100%" in err, err
    assert out.startswith(b"imported sha256:")
