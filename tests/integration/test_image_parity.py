# SPDX-License-Identifier: MIT
"""Parity with umoci: every good OCI image unpacks through sfaasd
(POST /system/images, which calls image_import) to the same tree as
`umoci unpack` of the same layout, entry by entry.

Compared for every path: type; mode minus the bits sfaasd strips (setuid,
setgid, and sticky on anything but a directory); owner uid and gid; size
and sha256 of regular files; symlink targets; hard-link grouping (which
paths share an inode). Directory times are not compared (umoci and sfaasd
both set them from the tar, but the launcher's own directories are new).

Expected differences, listed by each test and nothing else allowed:
  - device nodes and sockets: umoci creates them, sfaasd drops them (FIFOs
    are kept by both and compared like any entry);
  - /proc, /dev, /sys, /tmp, /etc: sfaasd makes them real directories
    (empty when the image has none) for the launcher's mounts.

Runs as root (umoci unpack then keeps the image's owners, as sfaasd does).
crafted-nested.tar is an index inside an index, which umoci 0.4 refuses
("tag is ambiguous"): umoci gets a copy of the layout whose index.json
names the amd64 manifest directly, the one sfaasd picks.
"""
import hashlib
import json
import os
import shutil
import stat
import subprocess

import pytest

LAUNCHER_DIRS = {"proc", "dev", "sys", "tmp", "etc"}
DROPPED_TYPES = {"chr", "blk", "sock"}
UMOCI = shutil.which("umoci")

# fixture archive -> tag in its index.json (ref.name)
IMAGES = [
    ("busybox-oci.tar", "busybox:latest"),
    ("layers-oci.tar", "layers:latest"),
    ("crafted-opaque.tar", "opaque:latest"),
    ("crafted-nested.tar", None),
    ("crafted-hardlinks.tar", "hardlinks:latest"),
    ("hostile-device.tar", "latest"),
    # layers ending without the padding after the last entry (umoci insert)
    ("umoci-insert-oci.tar", "umoci-insert:latest"),
    ("crafted-nopad.tar", "nopad:latest"),
]

pytestmark = [
    pytest.mark.skipif(UMOCI is None, reason="umoci is not installed"),
    pytest.mark.skipif(os.geteuid() != 0, reason="owners are only comparable as root"),
]


def _kind(m):
    for test, name in ((stat.S_ISDIR, "dir"), (stat.S_ISREG, "file"), (stat.S_ISLNK, "symlink"),
                       (stat.S_ISCHR, "chr"), (stat.S_ISBLK, "blk"), (stat.S_ISFIFO, "fifo"),
                       (stat.S_ISSOCK, "sock")):
        if test(m):
            return name
    return "unknown"


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            h.update(chunk)
    return h.hexdigest()


def tree(root):
    """{relative path: attributes} for every entry under root ("." is root)."""
    entries, inodes = {}, {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in [None] + dirnames + filenames:
            p = dirpath if name is None else os.path.join(dirpath, name)
            if name is None and dirpath != root:
                continue
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            kind = _kind(st.st_mode)
            mode = stat.S_IMODE(st.st_mode) & ~(stat.S_ISUID | stat.S_ISGID)
            if kind != "dir":
                mode &= ~stat.S_ISVTX
            e = {"type": kind, "uid": st.st_uid, "gid": st.st_gid}
            if kind != "symlink":
                e["mode"] = "%04o" % mode
            if kind == "file":
                e["size"] = st.st_size
                e["sha256"] = _sha256(p)
                if st.st_nlink > 1:
                    inodes.setdefault(st.st_ino, []).append(rel)
            elif kind == "symlink":
                e["target"] = os.readlink(p)
            entries[rel] = e
    # Hard-link grouping: every member names its group's first path.
    for paths in inodes.values():
        group = sorted(paths)
        for rel in group:
            entries[rel]["links"] = group
    return entries


def compare(sf, um):
    """(unexpected, expected) differences as lists of strings."""
    unexpected, expected = [], []
    for rel in sorted(set(sf) | set(um)):
        a, b = sf.get(rel), um.get(rel)
        if a == b:
            continue
        top = rel.split("/")[0]
        if a is None and b["type"] in DROPPED_TYPES:
            expected.append("%s: %s dropped by sfaasd" % (rel, b["type"]))
        elif b is None and rel in LAUNCHER_DIRS and a["type"] == "dir":
            expected.append("%s: directory made by sfaasd for the launcher" % rel)
        elif a is None or b is None:
            unexpected.append("%s: only in %s (%s)" % (rel, "umoci" if a is None else "sfaasd",
                                                       b if a is None else a))
        else:
            fields = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            what = "%s: %s" % (rel, ", ".join("%s sfaasd=%r umoci=%r" % (k, a.get(k), b.get(k))
                                              for k in fields))
            if top in LAUNCHER_DIRS and "/" not in rel and b["type"] != "dir":
                expected.append(what + " (replaced by a real directory)")
            else:
                unexpected.append(what)
    return unexpected, expected


def _direct_index(layout):
    """Point index.json at the amd64 manifest of a nested index."""
    def blob(d):
        with open(os.path.join(layout, "blobs", "sha256", d["digest"].split(":")[1])) as f:
            return json.load(f)
    with open(os.path.join(layout, "index.json")) as f:
        desc = json.load(f)["manifests"][0]
    doc = blob(desc)
    while "manifests" in doc:
        desc = next(m for m in doc["manifests"]
                    if m.get("platform", {}).get("architecture", "amd64") == "amd64")
        doc = blob(desc)
    desc = dict(desc, annotations={"org.opencontainers.image.ref.name": "amd64"})
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [desc]}, f)
    return "amd64"


def umoci_tree(archive, tag, tmp):
    layout = os.path.join(tmp, "layout")
    os.makedirs(layout)
    subprocess.run(["tar", "-xf", archive, "-C", layout], check=True)
    if tag is None:
        tag = _direct_index(layout)
    bundle = os.path.join(tmp, "bundle")
    p = subprocess.run([UMOCI, "unpack", "--image", "%s:%s" % (layout, tag), bundle],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, "umoci unpack failed: %s%s" % (p.stdout, p.stderr)
    return tree(os.path.join(bundle, "rootfs"))


@pytest.mark.parametrize("archive,tag", IMAGES, ids=[a for a, _ in IMAGES])
def test_unpack_matches_umoci(archive, tag, api, daemon, images, tmp_path):
    r = api.import_image(images.path(archive))
    assert r.status_code == 200, r.text
    hexid = r.json()["id"].split(":")[1]
    rootfs = os.path.join(daemon.data_dir, "images", hexid, "rootfs")
    assert os.path.isdir(rootfs), rootfs
    sf = tree(rootfs)
    um = umoci_tree(images.path(archive), tag, str(tmp_path))
    unexpected, expected = compare(sf, um)
    print("%s: %d entries; expected differences:%s" % (archive, len(um), "".join("\n  " + e for e in expected)
                                                       or " none"))
    assert not unexpected, "%s differs from umoci unpack:\n  %s" % (archive, "\n  ".join(unexpected))
    assert len(sf) > 3
    if archive == "hostile-device.tar":
        assert [e for e in expected if "dropped" in e] == [
            "dev/mem: chr dropped by sfaasd", "dev/sda: blk dropped by sfaasd"]
        assert sf["fifo"] == um["fifo"] and sf["fifo"]["type"] == "fifo", (sf.get("fifo"), um.get("fifo"))
    if archive == "crafted-hardlinks.tar":
        assert sf["hl/a"]["links"] == ["hl/a", "hl/d", "hl/sub/c"]
        assert "hl/b" not in sf and "links" not in sf["hl/y"]
