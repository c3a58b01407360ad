# SPDX-License-Identifier: MIT
"""The fault test (issue 10): async calls with callbacks to a fast, a slow
and a dead-then-revived receiver, posted by clients that retry with the same
X-Call-Id, while the daemon is killed with SIGKILL at random moments and
restarted. At the end every acknowledged call is done or failed, every
callback was delivered at least once, and duplicate runs and deliveries are
counted and reported (at-least-once allows them; losing one is a failure).
The host keeps nothing of the killed runs: no process, no cgroup, no mount
(checked after a last clean stop).

Bounded: FAULT_ROUNDS kills (default 5), each after 0.3-1.5 s of load.
The figures go to the terminal and to the junit report (record_property).
"""
import errno
import os
import random
import select
import socket
import threading
import time

import requests

from sfaasd_testlib import (HTTP_TIMEOUT, SLOW, Api, cgroup_subtree_candidates, existing_dirs, wait_until)

ROUNDS = int(os.environ.get("FAULT_ROUNDS", "5"))
POSTERS = 4
WAIT = 120 * SLOW


class Receiver:
    """Records every callback by X-Call-Id. mode: 'fast' answers 200 at
    once, 'slow' after 0.3 s, 'dead' accepts and closes without an answer
    until revive()."""

    def __init__(self, mode):
        self.mode = mode
        self.got = {}
        self.cond = threading.Condition()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(256)
        self.url = "http://127.0.0.1:%d/cb" % self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def revive(self):
        self.mode = "fast"

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            if self.mode == "dead":
                return
            c.settimeout(30)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = c.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            hdrs = dict(l.split(b": ", 1) for l in head.split(b"\r\n")[1:] if b": " in l)
            n = int(hdrs.get(b"Content-Length", b"0"))
            while len(body) < n:
                chunk = c.recv(65536)
                if not chunk:
                    return
                body += chunk
            if self.mode == "slow":
                time.sleep(0.3)  # the slow receiver is slow: that is what it is for
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            cid = hdrs.get(b"X-Call-Id", b"").decode()
            with self.cond:
                self.got[cid] = self.got.get(cid, 0) + 1
                self.cond.notify_all()
        except OSError:
            pass
        finally:
            c.close()

    def close(self):
        self.sock.close()


def test_async_survives_sigkill_storm(make_daemon, images, record_property, capsys):
    rng = random.Random(int(os.environ.get("FAULT_SEED", "0")) or None)
    rcvs = [Receiver("fast"), Receiver("slow"), Receiver("dead")]
    d = make_daemon(config={"async_callback_allow_loopback": True, "async_concurrency": 4,
                            "async_max_running": 8, "async_callback_timeout": "2s",
                            "async_callback_retries": 40, "shutdown_grace": "5s"})
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    api.deploy("fcat", fprocess="cat", expect=202)
    api.deploy("fsh", fprocess="sh", expect=202)

    acked = {}          # call id -> receiver index
    lock = threading.Lock()
    state = {"url": d.url, "up": True, "stop": False, "posted": 0, "retried": 0, "refused": 0}
    up = threading.Condition(lock)

    def poster(k):
        n = 0
        while True:
            with lock:
                if state["stop"]:
                    return
            n += 1
            cid = "fault-%d-%d" % (k, n)
            which = rng.randrange(3)
            fn, body = ("fsh", b"sleep 0.%d; echo %s" % (rng.randrange(3), cid.encode())) \
                if rng.random() < 0.3 else ("fcat", cid.encode())
            # A client that did not see 202 posts again with the same id.
            while True:
                with up:
                    while not state["up"] and not state["stop"]:
                        up.wait()
                    if state["stop"]:
                        return
                    url = state["url"]
                try:
                    r = requests.post(url + "/async-function/" + fn, data=body, timeout=10,
                                      headers={"X-Call-Id": cid, "X-Callback-Url": rcvs[which].url})
                except requests.RequestException:
                    with lock:
                        state["retried"] += 1
                    continue
                if r.status_code == 202:
                    assert r.headers["X-Call-Id"] == cid
                    with lock:
                        acked[cid] = which
                        state["posted"] += 1
                    break
                if r.status_code in (429, 503):
                    with lock:
                        state["refused"] += 1
                    time.sleep(0.05)  # back off before the retry, as a client would
                    continue
                raise AssertionError("unexpected answer %d: %s" % (r.status_code, r.text))

    threads = [threading.Thread(target=poster, args=(k,), daemon=True) for k in range(POSTERS)]
    for t in threads:
        t.start()
    subtrees = set(cgroup_subtree_candidates(d))   # every run's cgroup subtree, in every hierarchy
    pinned = {}                                      # pidfds of every sandbox process seen at a kill
    try:
        for _ in range(ROUNDS):
            time.sleep(rng.uniform(0.3, 1.5))  # load runs for a random while before the kill
            with lock:
                state["up"] = False
            pinned.update(pin(procs_in(existing_dirs(sorted(subtrees)))))
            d.kill9()
            # Nothing of the killed daemon keeps its fds: a sandbox child
            # that was cloned but not yet running at the kill holds a copy
            # of every one of them (the data folder lock among them) until
            # it sees the launcher gone.
            lock_file = os.path.join(str(d.data_dir), "sfaasd.lock")
            deadline = time.monotonic() + 3
            while fd_holders(lock_file) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not fd_holders(lock_file), describe(fd_holders(lock_file))
            d.start()
            subtrees.update(cgroup_subtree_candidates(d))
            with up:
                state["url"] = d.url
                state["up"] = True
                up.notify_all()
    finally:
        with up:
            state["stop"] = True
            up.notify_all()
        for t in threads:
            t.join(60)

    rcvs[2].revive()
    # Every acknowledged call finishes, and its callback is delivered.
    for cid in list(acked):
        st = wait_until(lambda: (lambda s: s if s.get("state") in ("done", "failed") and
                                 s.get("callbackState") in ("delivered", "failed") else None)(
            api.get("/system/async/" + cid).json()), WAIT, "call %s to finish with its callback" % cid)
        assert st["state"] == "done", st
        assert st["callbackState"] == "delivered", st
    lost = [cid for cid, w in acked.items() if rcvs[w].got.get(cid, 0) == 0]
    dup_callbacks = sum(max(0, rcvs[w].got.get(cid, 0) - 1) for cid, w in acked.items())
    dup_runs = 0
    for cid in acked:
        dup_runs += max(0, api.get("/system/async/" + cid).json()["attempts"] - 1)
    figures = {"kills": ROUNDS, "acknowledged": len(acked), "lost": len(lost),
               "duplicate_runs": dup_runs, "duplicate_callbacks": dup_callbacks,
               "client_retries": state["retried"], "refused_429_503": state["refused"]}
    for k, v in figures.items():
        record_property(k, v)
    with capsys.disabled():
        print("\nfault test: " + ", ".join("%s %s" % kv for kv in figures.items()))
    assert not lost, "acknowledged calls whose callback never came: %s" % lost[:10]
    assert len(acked) > 20 * ROUNDS / 5, "too little load to mean anything: %s" % figures
    # The daemon is healthy after all that.
    assert requests.get(d.url + "/healthz", timeout=HTTP_TIMEOUT).status_code == 200
    for r in rcvs:
        r.close()
    # After a clean stop the host keeps nothing of any run: no process, no
    # cgroup directory, no mount under the data folder.
    assert d.stop() == 0
    assert existing_dirs(sorted(subtrees)) == [], "cgroups left: %s" % existing_dirs(sorted(subtrees))
    assert still_running(pinned) == [], "processes of killed runs still running"
    with open("/proc/self/mountinfo") as f:
        mounts = [l.split()[4] for l in f if d.data_dir in l.split()[4]]
    assert mounts == [], "mounts left under the data folder: %s" % mounts
    for fd in pinned.values():
        os.close(fd)


def fd_holders(path):
    """pids of the processes with path open."""
    want = os.path.realpath(path)
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir("/proc/%s/fd" % pid)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%s/fd/%s" % (pid, fd)) == want:
                    out.append(int(pid))
                    break
            except OSError:
                continue
    return out


def describe(pids):
    out = []
    for pid in pids:
        try:
            with open("/proc/%d/status" % pid) as f:
                st = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
            with open("/proc/%d/wchan" % pid) as f:
                wchan = f.read()
        except OSError:
            continue
        out.append("pid %d (%s) ppid %s state %s waiting in %s" % (pid, st["Name"].strip(), st["PPid"].strip(),
                                                                  st["State"].strip(), wchan))
    return "processes still hold the killed daemon's data folder lock: " + "; ".join(out)


def procs_in(dirs):
    pids = set()
    for top in dirs:
        for dirpath, _, files in os.walk(top):
            if "cgroup.procs" in files:
                try:
                    with open(os.path.join(dirpath, "cgroup.procs")) as f:
                        pids.update(int(x) for x in f.read().split())
                except (FileNotFoundError, ProcessLookupError):
                    pass
                except OSError as e:
                    # a cgroup removed between the walk and the read (ENODEV)
                    if e.errno != errno.ENODEV:
                        raise
    return pids


def pin(pids):
    fds = {}
    for p in pids:
        try:
            fds[p] = os.pidfd_open(p)
        except (ProcessLookupError, OSError):
            pass
    return fds


def still_running(pidfds):
    return [pid for pid, fd in pidfds.items() if not select.select([fd], [], [], 0)[0]]
