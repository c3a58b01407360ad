# SPDX-License-Identifier: MIT
"""`sfaasd backup`: a consistent snapshot of the database and the secrets,
taken while the daemon runs and writes, from which a new data folder starts
with the same functions and secrets (the README's restore steps)."""
import json
import os
import shutil
import sqlite3
import subprocess
import threading

from sfaasd_testlib import BIN, HTTP_TIMEOUT, Api


def backup(data, dest):
    return subprocess.run([BIN, "backup", "--data", str(data), str(dest)], capture_output=True, text=True,
                          timeout=HTTP_TIMEOUT)


def test_backup_while_writing_then_restore(make_daemon, images, tmp_path):
    d = make_daemon()
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    assert api.post("/system/secrets", json={"name": "token", "value": "s3cret"}).status_code == 200
    api.deploy("keep", fprocess="sh", secrets=["token"], expect=202)

    # Deploys commit all along while backups are taken: each snapshot is
    # whole (its own quick_check, here a second one) and holds a prefix of
    # the deploys.
    stop = threading.Event()
    done = []

    def writer():
        i = 0
        while not stop.is_set():
            api.deploy("w%d" % i, fprocess="cat", expect=202)
            done.append(i)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        outs = []
        for k in range(3):
            dest = tmp_path / ("bk%d" % k)
            r = backup(d.data_dir, dest)
            assert r.returncode == 0, r.stderr
            assert "database (schema" in r.stdout
            outs.append(dest)
    finally:
        stop.set()
        t.join(HTTP_TIMEOUT)
    assert len(done) > 0

    for dest in outs:
        assert oct(os.stat(dest).st_mode & 0o777) == "0o700"
        manifest = json.loads((dest / "backup.json").read_text())
        assert manifest["data"] == os.path.realpath(d.data_dir)
        assert sorted(manifest["contains"]) == ["secrets/basic-auth-password", "secrets/basic-auth-user",
                                                "secrets/store.key", "sfaasd.db"]
        for f in manifest["contains"]:
            assert os.stat(dest / f).st_mode & 0o077 == 0, f
        db = sqlite3.connect("file:%s?mode=ro" % (dest / "sfaasd.db"), uri=True)
        assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA user_version").fetchone()[0] == manifest["schema"]
        names = {n for (n,) in db.execute("SELECT name FROM functions")}
        db.close()
        assert "keep" in names
        ws = sorted(int(n[1:]) for n in names if n.startswith("w"))
        assert ws == list(range(len(ws))), "not a prefix of the committed deploys: %r" % ws
        assert not os.path.exists(str(dest / "sfaasd.db-wal"))

    # Restore the last one as the README says: a new data folder with the
    # database, the secrets, and the image content copied as files.
    last = outs[-1]
    new = tmp_path / "restored"
    os.makedirs(new, mode=0o700)
    shutil.copy2(last / "sfaasd.db", new / "sfaasd.db")
    shutil.copytree(last / "secrets", new / "secrets")
    for sub in ("images", "blobs"):
        subprocess.run(["cp", "-a", os.path.join(d.data_dir, sub), str(new / sub)], check=True)
    d.stop()
    d2 = make_daemon(data_dir=new)
    api2 = Api(d2)
    assert d2.password == d.password
    r = api2.invoke("keep", data=b"cat /var/openfaas/secrets/token")
    assert r.status_code == 200 and r.text == "s3cret", r.text


def test_backup_refuses_and_leaves_nothing(tmp_path, make_daemon):
    d = make_daemon()
    dest = tmp_path / "exists"
    dest.mkdir()
    r = backup(d.data_dir, dest)
    assert r.returncode == 1 and "does not exist yet" in r.stderr, r.stderr
    assert list(dest.iterdir()) == []
    # No database there: nothing left behind.
    empty = tmp_path / "empty-data"
    (empty / "secrets").mkdir(parents=True)
    r = backup(empty, tmp_path / "bk")
    assert r.returncode == 1 and "no database" in r.stderr, r.stderr
    assert not (tmp_path / "bk").exists()
