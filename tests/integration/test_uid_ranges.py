# SPDX-License-Identifier: MIT
"""Tenants' uid ranges (issue 12, point 6): given once and never again (a
removed tenant's range is not the next one's), from a window chosen at the
first start and kept; a daemon refuses to start when its window overlaps
/etc/subuid, /etc/subgid, a user or group, or another running sfaasd's."""
import os

import pytest

from sfaasd_testlib import DaemonError

RANGE = 65536
BASE = 1 << 30


def uid_base(api, ns):
    r = api.get("/system/tenants/" + ns)
    assert r.status_code == 200, r.text
    return r.json()["uidBase"]


def window_of(d):
    for line in d.log().splitlines():
        if "tenants' uid ranges: " in line:
            a, b = line.split("tenants' uid ranges: ")[1].split(" ")[0].split("-")
            return int(a), int(b)
    raise AssertionError("no uid window logged:\n" + d.log_tail())


def files(tmp_path, subuid="", passwd="root:x:0:0:root:/root:/bin/sh\n"):
    p = {}
    for name, text in (("subuid", subuid), ("subgid", ""), ("passwd", passwd), ("group", "root:x:0:\n")):
        f = tmp_path / name
        f.write_text(text)
        p[name + "_file"] = str(f)
    return p


def test_ranges_are_never_reused(make_daemon, tmp_path):
    from sfaasd_testlib import Api
    d = make_daemon(config=files(tmp_path))
    api = Api(d)
    start, end = window_of(d)
    assert start % RANGE == 0 and end - start + 1 == 1024 * RANGE
    default = uid_base(api, "openfaas-fn")
    assert default == start
    assert api.post("/system/tenants", json={"name": "first"}).status_code == 201
    first = uid_base(api, "first")
    assert first == start + RANGE
    assert api.delete("/system/tenants/first").status_code == 200
    assert api.post("/system/tenants", json={"name": "second"}).status_code == 201
    assert api.post("/system/tenants", json={"name": "first"}).status_code == 201
    # Neither the new tenant nor the one made again under the old name gets
    # the removed tenant's range.
    assert uid_base(api, "second") == start + 2 * RANGE
    assert uid_base(api, "first") == start + 3 * RANGE
    # A restart keeps the window and the counter.
    d.restart()
    assert window_of(d) == (start, end)
    assert api.post("/system/tenants", json={"name": "third"}).status_code == 201
    assert uid_base(api, "third") == start + 4 * RANGE
    assert uid_base(api, "first") == start + 3 * RANGE


def test_daemons_never_share_a_window(make_daemon, tmp_path):
    # Three, so that the third's search moves past more than one taken
    # window: each window's check must read every claim again (a check that
    # went on from where the last one stopped once gave it the second's).
    a = make_daemon(config=files(tmp_path))
    b = make_daemon(config=files(tmp_path))
    third = make_daemon(config=files(tmp_path))
    wins = [window_of(a), window_of(b), window_of(third)]
    for i, wi in enumerate(wins):
        for wj in wins[i + 1:]:
            assert wi[1] < wj[0] or wj[1] < wi[0], wins
    # Asking for the other's window is refused while it runs.
    c = make_daemon(config=dict(files(tmp_path), uid_base=wins[0][0]), start=False)
    with pytest.raises(DaemonError) as e:
        c.start()
    assert "another running sfaasd" in str(e.value)
    # Once it is gone, the window is free.
    a.stop()
    c.start()
    assert window_of(c)[0] == wins[0][0]


def test_refused_over_subuid_and_users(make_daemon, tmp_path):
    cfg = files(tmp_path, subuid="builder:%d:65536\n" % (BASE + 5 * RANGE))
    d = make_daemon(config=dict(cfg, uid_base=BASE), start=False)
    with pytest.raises(DaemonError) as e:
        d.start()
    assert "overlaps 'builder'" in str(e.value) and "subuid" in str(e.value)
    cfg = files(tmp_path, passwd="root:x:0:0::/:/bin/sh\nweird:x:%d:0::/:/bin/sh\n" % (BASE + 7))
    d = make_daemon(config=dict(cfg, uid_base=BASE), start=False)
    with pytest.raises(DaemonError) as e:
        d.start()
    assert "holds user 'weird'" in str(e.value)
    # Without uid_base, the first free window past both.
    cfg = files(tmp_path, subuid="builder:%d:65536\n" % (BASE + 5 * RANGE))
    d = make_daemon(config=cfg)
    start, end = window_of(d)
    assert start >= BASE + 1024 * RANGE


def test_config_cannot_move_a_folders_window(make_daemon, tmp_path):
    d = make_daemon(config=files(tmp_path))
    start, _ = window_of(d)
    d.stop()
    d.config = dict(files(tmp_path), uid_base=start + 2048 * RANGE)
    with pytest.raises(DaemonError) as e:
        d.start()
    assert "not this data folder's" in str(e.value)
    d.config = files(tmp_path)
    d.start()
    assert window_of(d)[0] == start
