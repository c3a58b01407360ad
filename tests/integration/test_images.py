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


DEFAULT_NS = "openfaas-fn"


def _image(api, tag):
    for i in api.get("/system/images").json():
        if tag in i["tags"]:
            return i
    return None


def test_list_fields_and_get(api, images):
    r = api.import_image(images.path("busybox-oci.tar"), name="fields/box:1")
    assert r.status_code == 200, r.text
    img = _image(api, "fields/box:1")
    assert img is not None
    assert img["digest"] == img["id"] and img["id"].startswith("sha256:")
    assert img["name"] in ("busybox", "fields/box")  # the first tag's name
    assert img["size"] > 0 and img["created"].endswith("Z")
    assert isinstance(img["usedBy"], list)
    r = api.get("/system/images/fields/box:1")
    assert r.status_code == 200 and r.json()["id"] == img["id"]
    r = api.get("/system/images/" + img["id"][:19])  # "sha256:" + 12 hex
    assert r.status_code == 200 and r.json()["id"] == img["id"]
    assert api.get("/system/images/nope:1").status_code == 404
    assert api.get("/system/images/bad%20ref").status_code in (400, 404)
    assert api.get("/system/images", params={"namespace": "no-such-ns"}).status_code in (400, 404)


def test_delete_refuses_an_image_in_use_then_removes_it(api, images, daemon):
    r = api.import_image(images.path("layers-oci.tar"), name="inuse/img:1")
    assert r.status_code == 200, r.text
    img_id = r.json()["id"]
    api.deploy("imgdel1", image="inuse/img:1", expect=202)
    api.deploy("imgdel2", image="inuse/img:1", expect=202)
    assert sorted(_image(api, "inuse/img:1")["usedBy"]) == ["imgdel1." + DEFAULT_NS, "imgdel2." + DEFAULT_NS]
    r = api.delete("/system/images/inuse/img:1")
    assert r.status_code == 409, r.text
    assert "imgdel1." + DEFAULT_NS in error_of(r) and "imgdel2." + DEFAULT_NS in error_of(r)
    assert sorted(r.json()["usedBy"]) == ["imgdel1." + DEFAULT_NS, "imgdel2." + DEFAULT_NS]
    assert api.remove("imgdel1").status_code == 200
    assert api.remove("imgdel2").status_code == 200
    hexid = img_id.split(":")[1]
    folder = os.path.join(str(daemon.data_dir), "images", hexid)
    assert os.path.isdir(folder)
    r = api.delete("/system/images/inuse/img:1")
    assert r.status_code == 200, r.text
    assert r.json()["untagged"] == ["inuse/img:1"]
    assert api.get("/system/images/inuse/img:1").status_code == 404
    # By id: every name the namespace has for it goes, then the image.
    others = api.get("/system/images/" + img_id).json()["tags"]
    r = api.delete("/system/images/" + img_id)
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(body["untagged"]) == sorted(others)
    assert body["removed"] is True and body["bytesFreed"] > 0, body
    assert not os.path.exists(folder)
    assert api.get("/system/images/" + img_id).status_code == 404


def test_delete_a_tag_keeps_an_image_with_other_names(api, images):
    a = api.import_image(images.path("busybox-oci.tar"), name="two/a:1").json()["id"]
    b = api.import_image(images.path("busybox-oci.tar"), name="two/b:1").json()["id"]
    assert a == b
    r = api.delete("/system/images/two/a:1")
    assert r.status_code == 200 and r.json()["removed"] is False
    assert api.get("/system/images/two/b:1").status_code == 200


def test_prune_removes_unreferenced_images(api, images, daemon, cli):
    r = api.import_image(images.path("crafted-opaque.tar"))
    assert r.status_code == 200, r.text
    img = r.json()
    # Untag it everywhere: by id, every name of the namespace.
    r = api.delete("/system/images/" + img["id"])
    assert r.status_code == 200, r.text
    # Whether the delete removed it or left it for prune, prune leaves
    # nothing unreferenced behind and never touches a used image.
    used = api.import_image(images.path("busybox-oci.tar"), name="prune/used:1").json()["id"]
    api.deploy("prunekeep", image="prune/used:1", expect=202)
    api.delete("/system/images/" + used)  # refused: in use
    p = cli("image", "prune", check=0)
    assert b"freed" in p.stdout
    folder = os.path.join(str(daemon.data_dir), "images", img["id"].split(":")[1])
    assert not os.path.exists(folder)
    r = api.post("/system/images/prune")
    assert r.status_code == 200 and r.json()["removed"] == [] and r.json()["bytesFreed"] == 0
    for i in api.get("/system/images").json():
        assert i["tags"] or i["usedBy"], i
    assert api.get("/system/images/" + used).status_code == 200
    assert api.remove("prunekeep").status_code == 200


def test_prune_collects_a_folder_without_a_row(api, images, daemon):
    """A crash between the folder's publish and its row: prune removes it."""
    hexid = "ab" * 32
    folder = os.path.join(str(daemon.data_dir), "images", hexid)
    os.makedirs(os.path.join(folder, "rootfs"))
    with open(os.path.join(folder, ".complete"), "w") as f:
        f.write("4096\n")
    r = api.post("/system/images/prune")
    assert r.status_code == 200, r.text
    assert "sha256:" + hexid in r.json()["removed"] and r.json()["bytesFreed"] >= 4096
    assert not os.path.exists(folder)


def test_cli_image_rm(cli, api, images):
    api.import_image(images.path("busybox-oci.tar"), name="clirm/box:1")
    p = cli("image", "rm", "clirm/box:1", check=0)
    assert b"untagged clirm/box:1" in p.stdout
    p = cli("image", "rm", "clirm/box:1", check=1)
    assert b"404" in p.stderr or b"not found" in p.stderr
    p = cli("image", "rm", "bad ref", check=2)


def test_deploy_resolves_names_in_the_namespace(api, images):
    api.import_image(images.path("busybox-oci.tar"), name="nsres/box:1")
    r = api.post("/system/functions", params={"namespace": DEFAULT_NS},
                 json={"service": "nsres", "image": "nsres/box:1"})
    assert r.status_code in (200, 202), r.text
    assert api.remove("nsres").status_code == 200
