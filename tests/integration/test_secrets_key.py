# SPDX-License-Identifier: MIT
"""The secrets key lives outside the data folder (issue 13, point 6;
core/daemon/keys.h).

- a first start makes the key beside the data folder (0600), never in it;
- a data folder copied alone decrypts nothing: a daemon on the copy refuses
  to start, and the copy's files hold no key;
- a key file named inside the data folder is refused;
- a systemd credential ($CREDENTIALS_DIRECTORY/secrets-key) wins;
- an older installation (DATA/secrets/store.key) is migrated on start, with
  a clear message: its key moved out, or its secrets re-sealed under the
  credential's key;
- `sfaasd secrets rotate-key`: refused while the daemon runs; re-seals
  everything under a new key (the old key opens nothing after); an
  interrupted rotation is finished by the next start.

Secrets are read back the way functions see them: a function that cats its
mounted secret.
"""
import os
import shutil
import stat
import subprocess

import pytest

from sfaasd_testlib import BIN, HTTP_TIMEOUT, Api, Daemon, DaemonError

SECRETS = "/system/secrets"


def key_of(d):
    return d.data_dir.rstrip("/") + ".secrets-key"


def with_secret(d, images, value="s3cret-value"):
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    assert api.post(SECRETS, json={"name": "k1", "value": value}).status_code == 200
    api.deploy("reader", fprocess="cat /var/openfaas/secrets/k1", secrets=["k1"], expect=202)
    return api


def read_secret(d):
    r = Api(d).invoke("reader")
    return r.status_code, r.text


def start_fails(d, needle):
    with pytest.raises(DaemonError) as e:
        d.start()
    assert needle in str(e.value), str(e.value)[-2000:]


def rotate(data, *extra):
    return subprocess.run([BIN, "secrets", "rotate-key", "--data", data] + list(extra), capture_output=True,
                          text=True, timeout=HTTP_TIMEOUT)


def test_key_beside_the_folder_and_a_copy_decrypts_nothing(make_daemon, images, tmp_path):
    d = make_daemon()
    with_secret(d, images)
    assert read_secret(d) == (200, "s3cret-value")
    key = key_of(d)
    st = os.stat(key)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_size == 32
    assert "made a new secrets key" in d.log()
    d.stop()
    # Nothing in the folder is the key.
    with open(key, "rb") as f:
        kb = f.read()
    for root, _, files in os.walk(d.data_dir):
        for name in files:
            p = os.path.join(root, name)
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as fh:
                    assert kb not in fh.read(), p
    # The folder copied alone: no key beside the copy, the start refuses.
    copy = str(tmp_path / "copy")
    shutil.copytree(d.data_dir, copy, symlinks=True, ignore=shutil.ignore_patterns("sfaasd.lock"))
    c = Daemon(copy, name="copy", log_dir=tmp_path / "logs")
    start_fails(c, "decrypts nothing")
    assert not os.path.exists(copy + ".secrets-key")
    # ... and with some other key it refuses too.
    with open(copy + ".secrets-key", "wb") as f:
        f.write(os.urandom(32))
    os.chmod(copy + ".secrets-key", 0o600)
    start_fails(c, "does not open the secrets")
    # With the right key, the copy works.
    shutil.copy(key, copy + ".secrets-key")
    c.start()
    assert read_secret(c) == (200, "s3cret-value")
    c.stop()


def test_key_inside_the_data_folder_refused(make_daemon, tmp_path):
    data = tmp_path / "d"
    d = make_daemon({"secrets_key_file": str(data / "keys" / "k")}, data_dir=data, start=False)
    start_fails(d, "is inside the data folder")


def test_systemd_credential_wins(make_daemon, images, tmp_path, monkeypatch):
    creds = tmp_path / "creds"
    creds.mkdir()
    with open(creds / "secrets-key", "wb") as f:
        f.write(os.urandom(32))
    os.chmod(creds / "secrets-key", 0o400)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    d = make_daemon()
    with_secret(d, images)
    assert "secrets key: systemd credential '%s/secrets-key'" % creds in d.log()
    assert not os.path.exists(key_of(d))
    assert read_secret(d) == (200, "s3cret-value")
    d.stop()
    # The credential is never written: rotation wants --out.
    r = rotate(d.data_dir)
    assert r.returncode == 1 and "give --out FILE" in r.stderr, r.stderr
    r = rotate(d.data_dir, "--out", str(tmp_path / "next.key"))
    assert r.returncode == 0, r.stderr
    shutil.copy(tmp_path / "next.key", creds / "secrets-key")
    d.start()
    assert read_secret(d) == (200, "s3cret-value")


def make_legacy(d):
    """Turn d's folder into an older installation's: the key in DATA/secrets/store.key."""
    d.stop()
    shutil.move(key_of(d), os.path.join(d.data_dir, "secrets", "store.key"))


def test_old_installation_migrates(make_daemon, images):
    d = make_daemon()
    with_secret(d, images)
    make_legacy(d)
    d.start()
    log = d.log()
    assert "moved the secrets key" in log and "out of the data folder" in log, log
    assert "removed the old secrets key from the data folder" in log
    assert not os.path.exists(os.path.join(d.data_dir, "secrets", "store.key"))
    assert os.path.exists(key_of(d))
    assert read_secret(d) == (200, "s3cret-value")


def test_old_installation_migrates_to_a_credential(make_daemon, images, tmp_path, monkeypatch):
    d = make_daemon()
    with_secret(d, images)
    make_legacy(d)
    creds = tmp_path / "creds"
    creds.mkdir()
    with open(creds / "secrets-key", "wb") as f:
        f.write(os.urandom(32))
    os.chmod(creds / "secrets-key", 0o400)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    d.start()
    assert "re-sealed 1 secret(s) from the data folder's old key" in d.log(), d.log_tail()
    assert not os.path.exists(os.path.join(d.data_dir, "secrets", "store.key"))
    assert read_secret(d) == (200, "s3cret-value")


def test_rotate_key(make_daemon, images, tmp_path):
    d = make_daemon()
    with_secret(d, images)
    r = rotate(d.data_dir)
    assert r.returncode == 1 and "stop the daemon first" in r.stderr, r.stderr
    d.stop()
    old = tmp_path / "old.key"
    shutil.copy(key_of(d), old)
    r = rotate(d.data_dir)
    assert r.returncode == 0 and "re-sealed 1 secret(s) under a new key" in r.stdout, r.stderr
    with open(key_of(d), "rb") as f, open(old, "rb") as g:
        assert f.read() != g.read()
    assert stat.S_IMODE(os.stat(key_of(d)).st_mode) == 0o600
    d.start()
    assert read_secret(d) == (200, "s3cret-value")
    d.stop()
    # The old key opens nothing now.
    new = tmp_path / "new.key"
    shutil.copy(key_of(d), new)
    shutil.copy(old, key_of(d))
    start_fails(d, "does not open the secrets")
    # An interrupted rotation: the secrets sealed under the new key, which
    # still waits as "<key>.new": the next start finishes it.
    shutil.copy(new, key_of(d) + ".new")
    os.chmod(key_of(d) + ".new", 0o600)
    d.start()
    assert "finished an interrupted key rotation" in d.log()
    assert not os.path.exists(key_of(d) + ".new")
    assert read_secret(d) == (200, "s3cret-value")
