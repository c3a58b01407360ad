# SPDX-License-Identifier: MIT
"""The content-addressed blob store seen through the HTTP API and the data
folder: images that share a layer store it once under
DATA/blobs/sha256/<hex>; a stored blob that no longer matches its name is
detected by the next import that uses it; DELETE and prune remove the blobs
and rootfs nothing refers to any more.

What the code does with a corrupt stored blob (store/image_blobs.c): the
import that brings that blob again re-hashes the stored copy, finds the
mismatch, logs a warning and REPLACES it with the verified bytes it has
just received; the import succeeds and unpacks from the good copy. An
import of an image that is already unpacked does not read its blobs (they
are not used), so nothing is checked then.

The images are made here (OCI archives written with tarfile), with a random
token in every layer so that no other test's blobs can be mistaken for
these. The module has its own daemon and data folder, so the store's exact
content is known at each step.
"""
import gzip
import hashlib
import io
import json
import os
import tarfile
import uuid

import pytest

MTIME = 1704067200
TOKEN = uuid.uuid4().hex


def _tar(files):
    """An uncompressed layer tar: {name: bytes}, directories implied."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        dirs = sorted({os.path.dirname(n) for n in files if os.path.dirname(n)})
        for d in dirs:
            ti = tarfile.TarInfo(d)
            ti.type = tarfile.DIRTYPE
            ti.mode = 0o755
            ti.mtime = MTIME
            t.addfile(ti)
        for name, data in sorted(files.items()):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            ti.mtime = MTIME
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


class Image:
    """An OCI archive of layers [(raw tar, gzip?)] and what it holds."""

    def __init__(self, path, layers, tag=None):
        self.path = path
        self.blobs = {}
        descs, diff_ids = [], []
        self.layer_hex = []
        for raw, gz in layers:
            data = gzip.compress(raw, compresslevel=6, mtime=0) if gz else raw
            mt = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gz else "")
            d = self._blob(data, mt)
            descs.append(d)
            self.layer_hex.append(d["digest"][7:])
            diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        cfg = {"created": "2024-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
               "config": {"Cmd": ["/bin/true"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        c = self._blob(json.dumps(cfg).encode(), "application/vnd.oci.image.config.v1+json")
        self.config_hex = c["digest"][7:]
        self.id = c["digest"]
        man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
               "config": c, "layers": descs}
        m = self._blob(json.dumps(man).encode(), "application/vnd.oci.image.manifest.v1+json")
        self.manifest_hex = m["digest"][7:]
        if tag:
            m["annotations"] = {"org.opencontainers.image.ref.name": tag}
        index = {"schemaVersion": 2, "manifests": [m]}
        with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
            def add(name, data):
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                ti.mode = 0o644
                ti.mtime = MTIME
                t.addfile(ti, io.BytesIO(data))
            add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
            add("index.json", json.dumps(index).encode())
            for h, data in self.blobs.items():
                add("blobs/sha256/" + h, data)

    def _blob(self, data, mt):
        h = hashlib.sha256(data).hexdigest()
        self.blobs[h] = data
        return {"mediaType": mt, "digest": "sha256:" + h, "size": len(data)}

    @property
    def hexes(self):
        return set(self.blobs)


@pytest.fixture(scope="module")
def imgs(tmp_path_factory):
    d = tmp_path_factory.mktemp("blobimgs")
    base = _tar({"base/shared.txt": ("shared base layer " + TOKEN + "\n").encode() * 64,
                 "base/bin.dat": hashlib.sha512(TOKEN.encode()).digest() * 512})
    x = Image(str(d / "x.tar"), [(base, True), (_tar({"x/only.txt": b"x " + TOKEN.encode()}), False)],
              tag="blobs/x:1")
    y = Image(str(d / "y.tar"), [(base, True), (_tar({"y/only.txt": b"y " + TOKEN.encode()}), True)],
              tag="blobs/y:1")
    z = Image(str(d / "z.tar"), [(base, True), (_tar({"z/only.txt": b"z " + TOKEN.encode()}), False)])
    assert x.layer_hex[0] == y.layer_hex[0] == z.layer_hex[0]
    return {"x": x, "y": y, "z": z, "shared": x.layer_hex[0], "base_raw": base}


def _store(daemon):
    return os.path.join(str(daemon.data_dir), "blobs", "sha256")


def _stored(daemon):
    """The blob names in the store (leftover .tmp- copies would show too)."""
    return set(os.listdir(_store(daemon)))


def _image_dirs(daemon):
    d = os.path.join(str(daemon.data_dir), "images")
    return {n for n in os.listdir(d) if not n.startswith(".")}


def _sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_blob(daemon, hexname, data):
    p = os.path.join(_store(daemon), hexname)
    st = os.lstat(p)
    assert (st.st_mode & 0o7777) == 0o444 and os.path.isfile(p), oct(st.st_mode)
    assert _sha256_file(p) == hexname
    with open(p, "rb") as f:
        assert f.read() == data


def _import(api, img):
    r = api.import_image(img.path)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == img.id
    return r.json()


def _rootfs(daemon, img):
    return os.path.join(str(daemon.data_dir), "images", img.id[7:], "rootfs")


def test_shared_layer_stored_once(api, daemon, imgs):
    x, y = imgs["x"], imgs["y"]
    assert _stored(daemon) == set()
    _import(api, x)
    assert _stored(daemon) == x.hexes
    shared = os.path.join(_store(daemon), imgs["shared"])
    before = os.stat(shared)

    _import(api, y)
    # One copy of the shared layer; each image's own config, manifest and
    # top layer once each.
    assert _stored(daemon) == x.hexes | y.hexes
    assert len(x.hexes | y.hexes) == len(x.hexes) + len(y.hexes) - 1
    after = os.stat(shared)
    # Re-hashed, not rewritten: the same file.
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    for img in (x, y):
        for h, data in img.blobs.items():
            _check_blob(daemon, h, data)
        with open(os.path.join(str(daemon.data_dir), "images", img.id[7:], "blobs.json")) as f:
            refs = json.load(f)
        assert refs["config"] == img.id
        assert refs["layers"] == ["sha256:" + h for h in img.layer_hex]
        # Both rootfs hold the shared layer's files.
        with open(os.path.join(_rootfs(daemon, img), "base", "shared.txt"), "rb") as f:
            assert TOKEN.encode() in f.read()
    assert os.path.isfile(os.path.join(_rootfs(daemon, x), "x", "only.txt"))
    assert os.path.isfile(os.path.join(_rootfs(daemon, y), "y", "only.txt"))
    assert not os.path.exists(os.path.join(_rootfs(daemon, x), "y"))


@pytest.mark.parametrize("damage", ["flipped", "truncated"])
def test_corrupt_stored_blob_is_replaced_by_the_next_import(api, daemon, imgs, damage):
    x, y = imgs["x"], imgs["y"]
    shared = os.path.join(_store(daemon), imgs["shared"])
    # X out (its own blobs collected at once), Y keeps the shared layer.
    r = api.delete("/system/images/" + x.id)
    assert r.status_code == 200, r.text
    assert r.json()["removed"] is True
    assert x.id[7:] not in _image_dirs(daemon)
    assert _stored(daemon) == y.hexes

    good = x.blobs[imgs["shared"]]
    os.chmod(shared, 0o644)
    with open(shared, "r+b") as f:
        if damage == "flipped":  # same size: only the hash tells
            f.write(bytes(b ^ 0xFF for b in good[:64]))
        else:
            f.truncate(len(good) // 2)
    os.chmod(shared, 0o444)
    assert _sha256_file(shared) != imgs["shared"]
    log_before = len(daemon.log())

    _import(api, x)
    # Detected, replaced by the verified upload, and unpacked from it.
    _check_blob(daemon, imgs["shared"], good)
    assert _stored(daemon) == x.hexes | y.hexes
    msg = "blob sha256:%s in the store does not match its digest or size: replacing it" % imgs["shared"]
    assert msg in daemon.log()[log_before:]
    with open(os.path.join(_rootfs(daemon, x), "base", "bin.dat"), "rb") as f:
        assert f.read() == hashlib.sha512(TOKEN.encode()).digest() * 512


def test_delete_and_prune_remove_unreferenced_blobs_and_rootfs(api, daemon, imgs):
    x, y, z = imgs["x"], imgs["y"], imgs["z"]
    # Z has no name at all: nothing refers to it but its id, so prune takes it.
    _import(api, z)
    assert z.id[7:] in _image_dirs(daemon)
    assert _stored(daemon) == x.hexes | y.hexes | z.hexes
    r = api.post("/system/images/prune")
    assert r.status_code == 200, r.text
    assert r.json()["removed"] == [z.id]
    assert r.json()["bytesFreed"] > 0 and r.json()["blobsRemoved"] == len(z.hexes) - 1
    assert z.id[7:] not in _image_dirs(daemon)
    # The shared layer stays: X and Y list it.
    assert _stored(daemon) == x.hexes | y.hexes

    r = api.delete("/system/images/blobs/x:1")
    assert r.status_code == 200 and r.json()["removed"] is True, r.text
    assert _stored(daemon) == y.hexes
    assert _image_dirs(daemon) == {y.id[7:]}

    r = api.delete("/system/images/blobs/y:1")
    assert r.status_code == 200 and r.json()["removed"] is True, r.text
    assert _stored(daemon) == set()
    assert _image_dirs(daemon) == set()
    # Nothing left to collect, nothing half-removed.
    r = api.post("/system/images/prune")
    assert r.status_code == 200 and r.json()["removed"] == [] and r.json()["bytesFreed"] == 0, r.text
    assert not [n for n in os.listdir(os.path.join(str(daemon.data_dir), "images")) if n.startswith(".")]
