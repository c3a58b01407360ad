#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The byte path alone: bench/egress/relay_proto.c (a prototype, not part
of sfaasd) as a splice(2) relay and as a sockmap relay, against the direct
route, with bench.py's server and client. Everything but the destination
runs in the host's namespace: the relays listen on 127.0.0.1 and connect
over the destination's veth, the direct client goes over the same veth.
No sandbox and no sfaasd: what any user-space relay (splice) or the
kernel's sockmap redirect costs on this machine. Needs root and cc.
Knobs: ROUNDS (5), BYTES (64 MiB), SETUP_N (500), MODES.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (its SERVER and CLIENT)

ROUNDS = int(os.environ.get("ROUNDS", "5"))
BYTES = int(os.environ.get("BYTES", str(64 << 20)))
SETUP_N = int(os.environ.get("SETUP_N", "500"))
MODES = os.environ.get("MODES", "splice,sockmap,direct").split(",")
TAG = "%x" % (os.getpid() & 0xfff)
DST, VH, VD = "sfebr-" + TAG, "sfebrh" + TAG, "sfebrd" + TAG
NET = 10 + os.getpid() % 200
H_IP, D_IP = "10.234.%d.1" % NET, "10.234.%d.2" % NET
PORTS = {"splice": 3301, "sockmap": 3302}


def sh(*a):
    subprocess.run(a, check=True, capture_output=True)


def main():
    d = tempfile.mkdtemp(prefix="sfaasd-relay-bench.")
    procs = []
    try:
        relay = os.path.join(d, "relay_proto")
        sh("cc", "-O2", "-pthread", "-o", relay, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                               "relay_proto.c"))
        sh("ip", "netns", "add", DST)
        sh("ip", "link", "add", VH, "type", "veth", "peer", "name", VD)
        sh("ip", "link", "set", VD, "netns", DST)
        sh("ip", "addr", "add", H_IP + "/24", "dev", VH)
        sh("ip", "link", "set", VH, "up")
        sh("ip", "-n", DST, "addr", "add", D_IP + "/24", "dev", VD)
        sh("ip", "-n", DST, "link", "set", VD, "up")
        sh("ip", "-n", DST, "link", "set", "lo", "up")
        with open(os.path.join(d, "server.py"), "w") as f:
            f.write(bench.SERVER)
        srv = subprocess.Popen(["ip", "netns", "exec", DST, sys.executable, os.path.join(d, "server.py")],
                               stdout=subprocess.PIPE)
        procs.append(srv)
        assert srv.stdout.readline().strip() == b"ready"
        for m in MODES:
            with open(os.path.join(d, "client_%s.py" % m), "w") as f:
                f.write(bench.CLIENT.replace("3128", str(PORTS.get(m, 3128))))
            if m in PORTS:
                r = subprocess.Popen([relay, m, str(PORTS[m]), D_IP, "9000"], stdout=subprocess.PIPE)
                procs.append(r)
                assert r.stdout.readline().strip() == b"ready", m
        res = {m: [] for m in MODES}
        for rnd in range(ROUNDS):
            for m in MODES[rnd % len(MODES):] + MODES[:rnd % len(MODES)]:
                p = subprocess.run([sys.executable, os.path.join(d, "client_%s.py" % m),
                                    "direct" if m == "direct" else "proxy", D_IP, str(BYTES), str(SETUP_N)],
                                   capture_output=True, text=True, timeout=600)
                if p.returncode != 0:
                    raise SystemExit("%s failed: %s" % (m, p.stderr[-2000:]))
                res[m].append(json.loads(p.stdout.strip().splitlines()[-1]))
        out = {}
        for m, runs in res.items():
            setup = [x for r in runs for x in r["setup_ns"]]
            out[m] = {"down_MBps": round(statistics.median(BYTES / (r["down_ns"] / 1e9) / 1e6 for r in runs)),
                      "up_MBps": round(statistics.median(BYTES / (r["up_ns"] / 1e9) / 1e6 for r in runs)),
                      "setup_us_median": round(statistics.median(setup) / 1e3, 1),
                      "setup_us_p90": round(sorted(setup)[int(len(setup) * 0.9)] / 1e3, 1)}
        out["params"] = {"rounds": ROUNDS, "bytes": BYTES, "setup_n": SETUP_N,
                         "loadavg": open("/proc/loadavg").read().split()[:3]}
        print(json.dumps(out, indent=2))
    finally:
        for p in procs:
            p.kill()
            p.wait()
        subprocess.run(["ip", "link", "del", VH], capture_output=True)
        subprocess.run(["ip", "netns", "del", DST], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
