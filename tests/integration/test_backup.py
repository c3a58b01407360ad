# SPDX-License-Identifier: MIT
"""`sfaasd backup`: a consistent snapshot of the database, the credentials
and the secrets key (which lives outside the data folder), taken while the
daemon runs and writes, from which a new data folder starts with the same
functions and secrets (the README's restore steps)."""
import json
import os
import shutil
import sqlite3
import subprocess
import threading

from sfaasd_testlib import BIN, HTTP_TIMEOUT, Api


def backup(data, dest, *more):
    return subprocess.run([BIN, "backup", "--data", str(data)] + list(more) + [str(dest)], capture_output=True,
                          text=True, timeout=HTTP_TIMEOUT)


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
        assert sorted(manifest["contains"]) == ["secrets.key", "secrets/basic-auth-password",
                                                "secrets/basic-auth-user", "sfaasd.db"]
        # the key beside the data folder (the default), never in it
        assert manifest["secretsKeyFrom"] == os.path.realpath(d.data_dir) + ".secrets-key"
        with open(manifest["secretsKeyFrom"], "rb") as f:
            assert (dest / "secrets.key").read_bytes() == f.read()
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
    # database, the credentials, the key where the daemon looks for it, and
    # the image content copied as files.
    last = outs[-1]
    new = tmp_path / "restored"
    os.makedirs(new, mode=0o700)
    shutil.copy2(last / "sfaasd.db", new / "sfaasd.db")
    shutil.copytree(last / "secrets", new / "secrets")
    shutil.copy2(last / "secrets.key", str(new) + ".secrets-key")
    for sub in ("images", "blobs"):
        subprocess.run(["cp", "-a", os.path.join(d.data_dir, sub), str(new / sub)], check=True)
    d.stop()
    d2 = make_daemon(data_dir=new)
    api2 = Api(d2)
    assert d2.password == d.password
    r = api2.invoke("keep", data=b"cat /var/openfaas/secrets/token")
    assert r.status_code == 200 and r.text == "s3cret", r.text


def test_backup_takes_the_key_the_config_names(make_daemon, tmp_path):
    """secrets_key_file in the config (the package's /etc/sfaasd/secrets.key):
    the backup reads the config to find the key."""
    key = tmp_path / "keys" / "secrets.key"
    d = make_daemon(config={"secrets_key_file": str(key)})
    assert Api(d).post("/system/secrets", json={"name": "t", "value": "v"}).status_code == 200
    r = backup(d.data_dir, tmp_path / "bk", "--config", d.config_path)
    assert r.returncode == 0, r.stderr
    assert "the secrets key from '%s'" % key in r.stdout, r.stdout
    manifest = json.loads((tmp_path / "bk" / "backup.json").read_text())
    assert manifest["secretsKeyFrom"] == str(key) and "secrets.key" in manifest["contains"]
    assert (tmp_path / "bk" / "secrets.key").read_bytes() == key.read_bytes()
    assert os.stat(tmp_path / "bk" / "secrets.key").st_mode & 0o077 == 0
    # Without the config, the default place (beside the folder) has no key:
    # the backup says so instead of failing.
    r = backup(d.data_dir, tmp_path / "bk2")
    assert r.returncode == 0 and "no secrets key outside the data folder" in r.stdout, r.stdout + r.stderr
    assert "secrets.key" not in json.loads((tmp_path / "bk2" / "backup.json").read_text())["contains"]


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
