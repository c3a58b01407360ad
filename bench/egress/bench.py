#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Egress proxy vs a direct route (issue 16, "Speed").

The benchmark makes its own destination: a network namespace with a veth
to the host and a small server (download N bytes, upload N bytes, one-byte
echo). The same client program (Python, the host's interpreter hard-linked
into a throwaway root) then runs
  proxy   in a sandbox of `sfaasd run --egress`: no route at all, only the
          proxy listening in its namespace; the client CONNECTs through it
          (the proxy then goes host -> veth -> destination);
  direct  in a second namespace the benchmark makes, with its own veth
          straight to the destination's (a route, no proxy), via
          `ip netns exec`: the same transfer without the proxy.
Rounds alternate the two. Reported: download and upload throughput
(MB/s, median of rounds) and connection setup (connect until a one-byte
echo came back, median of SETUP_N), and the proxy's cost against direct.
Needs root. Knobs: ROUNDS (5), BYTES (256 MiB), SETUP_N (300), and
SFAASD_BIN_BASE: a second build (say, main's) whose proxy runs as the mode
"proxy_base" in the same rounds, so that before and after are measured
side by side.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROUNDS = int(os.environ.get("ROUNDS", "5"))
BYTES = int(os.environ.get("BYTES", str(256 << 20)))
SETUP_N = int(os.environ.get("SETUP_N", "300"))
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("SFAASD_BIN", os.path.join(REPO, "sfaasd"))
BIN_BASE = os.environ.get("SFAASD_BIN_BASE", "")
TAG = "%x" % (os.getpid() & 0xfff)
DST, CLI = "sfebd-" + TAG, "sfebc-" + TAG
NET = 200 + os.getpid() % 50
H_IP, D_IP = "10.232.%d.1" % NET, "10.232.%d.2" % NET          # host <-> destination
C_IP, D2_IP = "10.233.%d.1" % NET, "10.233.%d.2" % NET         # client ns <-> destination

SERVER = r'''
import socket, struct, sys, threading
buf = bytearray(1 << 20)
def serve(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        op = c.recv(1)
        if not op:
            return
        if op == b"E":
            c.sendall(b"e")
        elif op in (b"D", b"U"):
            n = struct.unpack("!Q", c.recv(8, socket.MSG_WAITALL))[0]
            if op == b"D":
                mv = memoryview(buf)
                while n > 0:
                    k = min(n, len(buf)); c.sendall(mv[:k]); n -= k
            else:
                while n > 0:
                    k = c.recv_into(buf, min(n, len(buf)))
                    if k <= 0:
                        return
                    n -= k
                c.sendall(b"k")
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000)); s.listen(128)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
'''

CLIENT = r'''
import json, socket, struct, sys, time
mode, dst, nbytes, setup_n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def conn():
    if mode == "proxy":
        s = socket.create_connection(("127.0.0.1", 3128))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"CONNECT %s:9000 HTTP/1.1\r\n\r\n" % dst.encode())
        head = b""
        while not head.endswith(b"\r\n\r\n"):   # the server says nothing before "E"
            head += s.recv(4096)
        assert head.startswith(b"HTTP/1.1 200"), head
    else:
        s = socket.create_connection((dst, 9000))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s
setup = []
for _ in range(setup_n):
    t0 = time.perf_counter_ns(); s = conn(); s.sendall(b"E"); assert s.recv(1) == b"e"
    setup.append(time.perf_counter_ns() - t0); s.close()
buf = bytearray(1 << 20)
s = conn(); t0 = time.perf_counter_ns(); s.sendall(b"D" + struct.pack("!Q", nbytes)); n = nbytes
while n > 0:
    k = s.recv_into(buf, min(n, len(buf))); assert k > 0; n -= k
down = time.perf_counter_ns() - t0; s.close()
s = conn(); t0 = time.perf_counter_ns(); s.sendall(b"U" + struct.pack("!Q", nbytes)); n = nbytes; mv = memoryview(buf)
while n > 0:
    k = min(n, len(buf)); s.sendall(mv[:k]); n -= k
assert s.recv(1) == b"k"; up = time.perf_counter_ns() - t0; s.close()
print(json.dumps({"setup_ns": setup, "down_ns": down, "up_ns": up}))
'''


def sh(*a):
    subprocess.run(a, check=True, capture_output=True)


def make_root(d):
    root = os.path.join(d, "root")
    for x in ("proc", "dev", "tmp", "etc", "usr/bin", "usr/lib"):
        os.makedirs(os.path.join(root, x), exist_ok=True)
    subprocess.run(["cp", "-aL", "--link", "/usr/bin/python3", os.path.join(root, "usr/bin/python3")], check=True)
    for x in ("x86_64-linux-gnu", "python3.11"):
        if os.path.exists("/usr/lib/" + x):
            subprocess.run(["cp", "-a", "--link", "/usr/lib/" + x, os.path.join(root, "usr/lib")], check=True)
    if os.path.isdir("/usr/lib64"):
        subprocess.run(["cp", "-a", "--link", "/usr/lib64", os.path.join(root, "usr")], check=True)
    for x in ("bin", "lib", "lib64"):
        os.symlink("usr/" + x, os.path.join(root, x))
    with open(os.path.join(root, "client.py"), "w") as f:
        f.write(CLIENT)
    return root


def main():
    d = tempfile.mkdtemp(prefix="sfaasd-egress-bench.")
    srv = None
    try:
        for ns in (DST, CLI):
            sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", "sfebh" + TAG, "type", "veth", "peer", "name", "sfebd" + TAG)
        sh("ip", "link", "set", "sfebd" + TAG, "netns", DST)
        sh("ip", "addr", "add", H_IP + "/24", "dev", "sfebh" + TAG)
        sh("ip", "link", "set", "sfebh" + TAG, "up")
        sh("ip", "-n", DST, "addr", "add", D_IP + "/24", "dev", "sfebd" + TAG)
        sh("ip", "-n", DST, "link", "set", "sfebd" + TAG, "up")
        sh("ip", "-n", DST, "link", "set", "lo", "up")
        # The direct route: a client namespace with its own veth to the destination.
        sh("ip", "link", "add", "sfebc" + TAG, "netns", CLI, "type", "veth", "peer", "name", "sfebe" + TAG,
           "netns", DST)
        sh("ip", "-n", CLI, "addr", "add", C_IP + "/24", "dev", "sfebc" + TAG)
        sh("ip", "-n", CLI, "link", "set", "sfebc" + TAG, "up")
        sh("ip", "-n", CLI, "link", "set", "lo", "up")
        sh("ip", "-n", DST, "addr", "add", D2_IP + "/24", "dev", "sfebe" + TAG)
        sh("ip", "-n", DST, "link", "set", "sfebe" + TAG, "up")
        with open(os.path.join(d, "server.py"), "w") as f:
            f.write(SERVER)
        srv = subprocess.Popen(["ip", "netns", "exec", DST, sys.executable, os.path.join(d, "server.py")],
                               stdout=subprocess.PIPE)
        assert srv.stdout.readline().strip() == b"ready"
        root = make_root(d)
        modes = ["proxy", "direct"] + (["proxy_base"] if BIN_BASE else [])
        res = {m: [] for m in modes}
        for rnd in range(ROUNDS):
            # Each mode goes first in turn.
            for mode in modes[rnd % len(modes):] + modes[:rnd % len(modes)]:
                if mode in ("proxy", "proxy_base"):
                    cmd = [BIN if mode == "proxy" else BIN_BASE, "run", "--rootfs", root, "--memory", "256Mi",
                           "--egress", "%s/32:9000" % D_IP, "--egress-allow", D_IP + "/32", "--", "/usr/bin/python3",
                           "/client.py", "proxy", D_IP, str(BYTES), str(SETUP_N)]
                else:
                    cmd = ["ip", "netns", "exec", CLI, "/usr/bin/python3", os.path.join(root, "client.py"),
                           "direct", D2_IP, str(BYTES), str(SETUP_N)]
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
                if p.returncode != 0:
                    raise SystemExit("%s failed: %s %s" % (mode, p.stdout, p.stderr[-2000:]))
                res[mode].append(json.loads(p.stdout.strip().splitlines()[-1]))
        out = {}
        for mode, runs in res.items():
            setup = [x for r in runs for x in r["setup_ns"]]
            out[mode] = {
                "down_MBps": statistics.median(BYTES / (r["down_ns"] / 1e9) / 1e6 for r in runs),
                "up_MBps": statistics.median(BYTES / (r["up_ns"] / 1e9) / 1e6 for r in runs),
                "setup_us_median": statistics.median(setup) / 1e3,
                "setup_us_p90": sorted(setup)[int(len(setup) * 0.9)] / 1e3,
            }
        q = out["direct"]
        for mode in [m for m in modes if m != "direct"]:
            p = out[mode]
            out[mode + "_vs_direct"] = {
                "down_throughput": p["down_MBps"] / q["down_MBps"],
                "up_throughput": p["up_MBps"] / q["up_MBps"],
                "setup_added_us": p["setup_us_median"] - q["setup_us_median"],
            }
        out["params"] = {"rounds": ROUNDS, "bytes": BYTES, "setup_n": SETUP_N, "bin": BIN, "bin_base": BIN_BASE,
                         "loadavg": open("/proc/loadavg").read().split()[:3]}
        print(json.dumps(out, indent=2))
    finally:
        if srv:
            srv.kill()
            srv.wait()
        subprocess.run(["ip", "link", "del", "sfebh" + TAG], capture_output=True)
        for ns in (DST, CLI):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
