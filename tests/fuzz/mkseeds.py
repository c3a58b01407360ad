#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Seed inputs for tests/fuzz/fuzz_image_import.c, from the fixture images.

usage: mkseeds.py FIXTURES_OUT SEEDDIR

Writes two kinds of seeds:
  - whole archives: the small fixtures (crafted-*, hostile-*, layers-oci)
    as they are, and two gzip-compressed;
  - "SFZL" inputs (see the harness): the image config's "config" object and
    the uncompressed layers of each OCI fixture, which the harness wraps
    into a valid layout with correct digests, so that mutations reach the
    JSON checks and the layer unpacker instead of the digest check.
The saved corpus (tests/fuzz/corpus/image_import/) is these seeds after a
libFuzzer run and -merge=1; `make test` replays it.
"""
import gzip
import json
import os
import subprocess
import sys
import tarfile

MAX = 200000
SEP = b"\n--sfz-layer--\n"


def decompress(b):
    if b[:2] == b"\x1f\x8b":
        return gzip.decompress(b)
    if b[:4] == b"\x28\xb5\x2f\xfd":
        return subprocess.run(["zstd", "-d", "-q", "-c"], input=b, check=True, stdout=subprocess.PIPE).stdout
    return b


def trim(tar_bytes):
    """Drop the zero padding after a tar's end marker (keep two blocks)."""
    end = len(tar_bytes.rstrip(b"\0"))
    end = (end + 511) // 512 * 512 + 1024
    return tar_bytes[:end]


def oci_seed(path):
    with tarfile.open(path) as t:
        files = {m.name.lstrip("./"): m for m in t.getmembers() if m.isfile()}

        def blob(digest):
            return t.extractfile(files["blobs/sha256/" + digest.split(":")[1]]).read()
        index = json.loads(t.extractfile(files["index.json"]).read())
        desc = index["manifests"][0]
        doc = json.loads(blob(desc["digest"]))
        while "manifests" in doc:  # nested index: the first manifest
            desc = doc["manifests"][-1]
            doc = json.loads(blob(desc["digest"]))
        cfg = json.loads(blob(doc["config"]["digest"]))
        out = b"SFZL" + json.dumps(cfg.get("config") or {}, separators=(",", ":")).encode()
        for l in doc["layers"]:
            out += SEP + trim(decompress(blob(l["digest"])))
        return out


def main():
    src, dst = sys.argv[1], sys.argv[2]
    os.makedirs(dst, exist_ok=True)
    for name in sorted(os.listdir(src)):
        p = os.path.join(src, name)
        if not name.endswith(".tar") or name.startswith("busybox") or name.startswith("rootbox"):
            continue
        data = open(p, "rb").read()
        if len(data) <= MAX:
            open(os.path.join(dst, name), "wb").write(data)
        if name in ("crafted-opaque.tar", "layers-oci.tar"):
            open(os.path.join(dst, name + ".gz"), "wb").write(gzip.compress(data, mtime=0))
        try:
            seed = oci_seed(p)
        except (KeyError, IndexError, TypeError, ValueError, EOFError, tarfile.TarError, OSError, subprocess.CalledProcessError):
            continue
        if len(seed) <= MAX:
            open(os.path.join(dst, "sfzl-" + name[:-4]), "wb").write(seed)


if __name__ == "__main__":
    main()
