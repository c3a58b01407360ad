# SPDX-License-Identifier: MIT
"""The audit trail (issue 12, point 7): every control-plane change and every
refused request is a record (who, which credential, from where, what, the
answer, when), readable by the admin (all) and by a tenant (its own), each
record hash-chained to the one before, and `sfaasd audit verify` finds a
changed or removed record. Tokens and the chain survive a restart."""
import os
import sqlite3
import subprocess

import requests

from sfaasd_testlib import BIN, HTTP_TIMEOUT, basic


def records(d, auth, **params):
    r = requests.get(d.url + "/system/audit", headers={"Authorization": auth}, params=params, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def verify(d):
    return subprocess.run([BIN, "audit", "verify", "--data", d.data_dir], capture_output=True, text=True,
                          timeout=HTTP_TIMEOUT)


def test_audit_trail(make_daemon, images):
    d = make_daemon()
    admin = basic(d.password)

    def adm(method, path, **kw):
        return requests.request(method, d.url + path, headers={"Authorization": admin}, timeout=HTTP_TIMEOUT, **kw)

    for ns in ("aud-a", "aud-b"):
        assert adm("POST", "/system/tenants", json={"name": ns}).status_code == 201
    ta = adm("POST", "/system/tenants/aud-a/tokens", json={"name": "ci"}).json()
    tb = adm("POST", "/system/tenants/aud-b/tokens", json={"name": "ci"}).json()
    a = basic(ta["token"], user="aud-a")
    b = basic(tb["token"], user="aud-b")

    # A change by tenant A, a refusal of A, one of nobody, one of a bad token.
    r = requests.post(d.url + "/system/secrets", headers={"Authorization": a}, json={"name": "k", "value": "v"},
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    r = requests.get(d.url + "/system/functions", headers={"Authorization": a}, params={"namespace": "aud-b"},
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 403
    assert requests.get(d.url + "/system/functions", timeout=HTTP_TIMEOUT).status_code == 401
    r = requests.get(d.url + "/system/functions", headers={"Authorization": basic("sfa_nope", user="aud-b")},
                     params={"namespace": "aud-b"}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 401
    # Reads are not recorded.
    assert requests.get(d.url + "/system/secrets", headers={"Authorization": a}, timeout=HTTP_TIMEOUT).status_code == 200

    log = records(d, admin)
    by = [(x["actor"], x["tenant"], x["method"], x["path"].split("?")[0], x["status"]) for x in log]
    assert ("admin", "aud-a", "POST", "/system/tenants", 201) in by
    assert ("admin", "aud-a", "POST", "/system/tenants/aud-a/tokens", 201) in by
    assert ("tenant", "aud-a", "POST", "/system/secrets", 200) in by
    assert ("tenant", "aud-a", "GET", "/system/functions", 403) in by
    assert ("anonymous", "", "GET", "/system/functions", 401) in by
    assert ("invalid", "aud-b", "GET", "/system/functions", 401) in by
    assert not any(x[2] == "GET" and x[4] == 200 for x in by)
    secret = next(x for x in log if x["path"] == "/system/secrets" and x["actor"] == "tenant")
    assert secret["credential"] == ta["id"] and secret["address"].startswith("127.0.0.1:")
    assert "v" not in secret["detail"]
    issued = next(x for x in log if x["path"] == "/system/tenants/aud-a/tokens")
    assert issued["credential"] == "password" and ta["id"] in issued["detail"]
    assert ta["token"] not in str(log)
    denied = next(x for x in log if x["status"] == 403)
    assert "aud-b" in denied["detail"]
    bad = next(x for x in log if x["actor"] == "invalid")
    assert "unknown token" in bad["detail"]
    # The chain: numbered from 1, each hash the next one's previous.
    assert [x["seq"] for x in log] == list(range(1, len(log) + 1))
    assert log[0]["prevHash"] == "0" * 64
    for prev, cur in zip(log, log[1:]):
        assert cur["prevHash"] == prev["hash"]

    # A tenant reads its own: what it did and what was done to it, not the
    # bad token's attempt on B nor B's token.
    mine = records(d, a)
    assert mine and all(x["tenant"] == "aud-a" for x in mine)
    assert any(x["status"] == 403 for x in mine)
    theirs = records(d, b)
    assert all(x["tenant"] == "aud-b" for x in theirs)
    assert not any(x["actor"] == "tenant" and x["tenant"] == "aud-a" for x in theirs)
    r = requests.get(d.url + "/system/audit", headers={"Authorization": a}, params={"namespace": "aud-b"},
                     timeout=HTTP_TIMEOUT)
    assert r.status_code == 403
    # paging
    assert [x["seq"] for x in records(d, admin, after=2, limit=2)] == [3, 4]

    # The CLI, beside the running daemon.
    p = subprocess.run([BIN, "audit", "--gateway", d.url, "-n", "aud-a"], capture_output=True, text=True,
                       env=dict(os.environ, SFAASD_PASSWORD=d.password), timeout=HTTP_TIMEOUT)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[0].split()[:3] == ["SEQ", "TIME", "ACTOR"]
    assert "POST /system/secrets" in p.stdout
    p = verify(d)
    assert p.returncode == 0, p.stderr
    assert "audit chain intact: %d records" % len(records(d, admin)) in p.stdout

    # A restart keeps tokens, records and the chain, which goes on.
    last = records(d, admin)[-1]
    d.restart()
    r = requests.get(d.url + "/system/whoami", headers={"Authorization": a}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.json()["user"] == "aud-a"
    assert adm("DELETE", "/system/tenants/aud-b/tokens/" + tb["id"]).status_code == 200
    assert requests.get(d.url + "/system/whoami", headers={"Authorization": b}, timeout=HTTP_TIMEOUT).status_code == 401
    after = records(d, admin, after=last["seq"])
    assert after[0]["prevHash"] == last["hash"]
    assert verify(d).returncode == 0
    d.stop()

    db = os.path.join(d.data_dir, "sfaasd.db")
    # Changed after the fact: found.
    con = sqlite3.connect(db)
    status5 = con.execute("SELECT status FROM audit WHERE seq = 5").fetchone()[0]
    con.execute("UPDATE audit SET status = ? WHERE seq = 5", (status5 + 1,))
    con.commit()
    con.close()
    p = verify(d)
    assert p.returncode == 1
    assert "audit record 5 breaks the chain" in p.stderr and "changed" in p.stderr
    # Put back: intact again. Then a record removed from the middle: found.
    con = sqlite3.connect(db)
    con.execute("UPDATE audit SET status = ? WHERE seq = 5", (status5,))
    con.commit()
    con.close()
    assert verify(d).returncode == 0
    con = sqlite3.connect(db)
    con.execute("DELETE FROM audit WHERE seq = 3")
    con.commit()
    con.close()
    p = verify(d)
    assert p.returncode == 1
    assert "audit record 4 breaks the chain" in p.stderr
