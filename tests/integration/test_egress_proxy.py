# SPDX-License-Identifier: MIT
"""The egress proxy (core/runtime/egress_proxy.h) against destinations in a
network namespace this test makes (ip netns add + a veth pair), never
outside the machine. Names resolve through a file of pinned answers the
test controls (config egress_resolve_file), so no DNS server is asked.

The functions are busybox exec functions running a script from stdin; they
use busybox wget (which honours http_proxy) and nc (raw CONNECT).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time

import pytest
import requests

from sfaasd_testlib import HTTP_TIMEOUT, wait_until

TAG = "%x" % (os.getpid() & 0xfff)
NETNS = "sfeg-" + TAG
VETH_H, VETH_N = "sfegh" + TAG, "sfegn" + TAG
SUBNET = 100 + (os.getpid() % 100)
HOST_IP = "10.231.%d.1" % SUBNET
DEST_IP = "10.231.%d.2" % SUBNET
NS = "egp"
PROXY = "127.0.0.1:3128"

SERVER = textwrap.dedent(r'''
    import http.server, socketserver, sys, threading
    ip = sys.argv[1]
    class Echo(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = ("%s %s\n" % (self.command, self.path) + "".join("%s: %s\n" % kv for kv in self.headers.items())).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        do_POST = do_GET
        def log_message(self, *a):
            pass
    class Tcp(socketserver.BaseRequestHandler):
        def handle(self):
            while True:
                d = self.request.recv(65536)
                if not d:
                    return
                self.request.sendall(d)
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    for port in (8080, 9090):
        s = http.server.ThreadingHTTPServer((ip, port), Echo)
        threading.Thread(target=s.serve_forever, daemon=True).start()
    class Seen(http.server.BaseHTTPRequestHandler):
        # The TLS destination: it logs what it received (for the test) and
        # never reflects a header back.
        def do_GET(self):
            with open(sys.argv[4], "a") as f:
                f.write("%s %s\n" % (self.command, self.path) + "".join("%s: %s\n" % kv for kv in self.headers.items()) + "--\n")
            body = b"tls-ok " + self.path.encode() + b"\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def log_message(self, *a):
            pass
    import ssl
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    ts = http.server.ThreadingHTTPServer((ip, 8444), Seen)
    ts.socket = ctx.wrap_socket(ts.socket, server_side=True)
    threading.Thread(target=ts.serve_forever, daemon=True).start()
    t = socketserver.ThreadingTCPServer((ip, 8443), Tcp)
    print("ready", flush=True)
    t.serve_forever()
''')


def sh(*args):
    subprocess.run(args, check=True, capture_output=True)


@pytest.fixture(scope="module")
def dest(tmp_path_factory):
    """The destination's namespace, its veth and its servers."""
    d = tmp_path_factory.mktemp("egress")
    subprocess.run(["ip", "netns", "del", NETNS], capture_output=True)
    sh("ip", "netns", "add", NETNS)
    try:
        sh("ip", "link", "add", VETH_H, "type", "veth", "peer", "name", VETH_N)
        sh("ip", "link", "set", VETH_N, "netns", NETNS)
        sh("ip", "addr", "add", HOST_IP + "/24", "dev", VETH_H)
        sh("ip", "link", "set", VETH_H, "up")
        sh("ip", "-n", NETNS, "addr", "add", DEST_IP + "/24", "dev", VETH_N)
        sh("ip", "-n", NETNS, "link", "set", VETH_N, "up")
        sh("ip", "-n", NETNS, "link", "set", "lo", "up")
        (d / "server.py").write_text(SERVER)
        ossl = lambda *a: subprocess.run(["openssl"] + list(a), check=True, capture_output=True, cwd=str(d))
        ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
             "-out", "ca.pem", "-days", "2", "-subj", "/CN=egress-test-ca")
        ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "srv.key",
             "-out", "srv.csr", "-subj", "/CN=api.test")
        (d / "ext").write_text("subjectAltName=DNS:api.test\n")
        ossl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
             "srv.pem", "-days", "2", "-extfile", "ext")
        seen = d / "seen.log"
        seen.write_text("")
        proc = subprocess.Popen(["ip", "netns", "exec", NETNS, sys.executable, str(d / "server.py"), DEST_IP,
                                 str(d / "srv.pem"), str(d / "srv.key"), str(seen)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready", proc.stderr.read()
        resolve = d / "resolve.json"
        yield {"dir": d, "resolve": resolve, "ca": str(d / "ca.pem"), "seen": seen}
        proc.kill()
        proc.wait()
    finally:
        subprocess.run(["ip", "link", "del", VETH_H], capture_output=True)
        subprocess.run(["ip", "netns", "del", NETNS], capture_output=True)


def pin(dest, answers):
    tmp = str(dest["resolve"]) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(answers, f)
    os.rename(tmp, str(dest["resolve"]))


ANSWERS = {"dest.test": [DEST_IP], "a.wild.test": [DEST_IP], "a.b.wild.test": [DEST_IP],
           "other.test": [DEST_IP], "rebind.test": [DEST_IP], "mixed.test": [DEST_IP, "127.0.0.1"],
           "meta.test": ["169.254.169.254"], "self.test": [HOST_IP], "api.test": [DEST_IP],
           "bad.test": [DEST_IP]}
SECRET = "s3cr3t-VALUE-9f1e"
CONNECT_TIMEOUT = 3     # egress_connect_timeout of the test daemon, seconds


@pytest.fixture(scope="module")
def eg(dest, make_daemon_module, images):
    pin(dest, ANSWERS)
    d = make_daemon_module({"egress_resolve_file": str(dest["resolve"]), "egress_allow": DEST_IP + "/32",
                            "egress_ca_file": dest["ca"], "egress_max_open": 4,
                            "egress_connect_timeout": "%ds" % CONNECT_TIMEOUT})
    s = requests.Session()
    s.auth = ("admin", d.password)

    def call(method, path, **kw):
        kw.setdefault("timeout", HTTP_TIMEOUT)
        return s.request(method, d.url + path, **kw)

    r = call("POST", "/system/tenants", json={"name": NS})
    assert r.status_code == 201, r.text
    r = call("PUT", "/system/tenants/%s/egress" % NS,
             json={"ceiling": ["dest.test:*", "*.wild.test:8080", "rebind.test:8080", "mixed.test:8080",
                               "meta.test:*", "self.test:*", "0.0.0.0/0:*", "[::/0]:*", "api.test:8444",
                               "bad.test:8444"]})
    assert r.status_code == 200, r.text
    with open(images.path("busybox-oci.tar"), "rb") as f:
        r = call("POST", "/system/images", params={"namespace": NS}, data=f.read(),
                 headers={"Content-Type": "application/x-tar"})
    assert r.status_code == 200, r.text

    def deploy(name, grant=None, **ann):
        a = dict(ann)
        if grant is not None:
            a["com.sfaasd.egress"] = grant
        r = call("POST", "/system/functions", json={"service": name, "image": "busybox:latest", "namespace": NS,
                                                    "envProcess": "sh", "annotations": a})
        assert r.status_code == 202, r.text

    def run(name, script):
        r = call("POST", "/function/%s.%s" % (name, NS), data=script.encode())
        return r.status_code, r.text

    r = call("POST", "/system/secrets", json={"name": "apikey", "namespace": NS, "value": SECRET})
    assert r.status_code == 200, r.text
    deploy("none")
    deploy("inj", "api.test:8444 secret=apikey, bad.test:8444 secret=apikey, dest.test:8080")
    deploy("injh", "api.test:8444 secret=apikey header=X-Api-Key")
    deploy("fwd", "dest.test:8443 forward=5432, %s:8080 forward=8081, meta.test:80 forward=6000" % DEST_IP)
    deploy("web", "dest.test:8080, *.wild.test:8080, rebind.test:8080, mixed.test:8080, meta.test:8080, "
                  "self.test:8080, %s/32:8443" % DEST_IP)
    deploy("any", "0.0.0.0/0:*, [::/0]:*")
    deploy("capped", "dest.test:8080", **{"com.sfaasd.egress-max-connections": "2"})
    deploy("bytes", "dest.test:8080", **{"com.sfaasd.egress-max-bytes": "2000"})

    class E:
        pass
    e = E()
    e.daemon, e.call, e.run, e.dest = d, call, run, dest
    return e


@pytest.fixture(scope="module")
def make_daemon_module(tmp_path_factory):
    from sfaasd_testlib import Daemon
    made = []

    def make(config):
        t = tmp_path_factory.mktemp("eg-daemon")
        dm = Daemon(t / "data", config=config, name="egress", log_dir=t / "logs")
        made.append(dm)
        dm.start()
        return dm
    yield make
    for dm in made:
        rc = dm.stop()
        assert rc == 0, "sfaasd exited %s on SIGTERM:\n%s" % (rc, dm.log_tail())


def wget(url):
    return "wget -q -O - %s 2>&1; echo rc=$?\n" % url


def test_no_grant_no_network(eg):
    code, out = eg.run("none", "env | grep -i proxy; echo ---; nc -w 2 %s 8080 </dev/null 2>&1; echo rc=$?\n"
                       "nc -w 2 127.0.0.1 3128 </dev/null 2>&1; echo rc2=$?\n" % DEST_IP)
    assert code == 200, out
    assert out.startswith("---"), out          # no proxy variables
    assert "rc=0" not in out and "rc2=0" not in out, out


def test_proxy_env_and_allowed_name(eg):
    code, out = eg.run("web", "env | grep -i _proxy | sort\n" + wget("http://dest.test:8080/hello?x=1"))
    assert code == 200, out
    assert "HTTP_PROXY=http://127.0.0.1:3128" in out and "https_proxy=http://127.0.0.1:3128" in out, out
    assert "NO_PROXY=localhost,127.0.0.1,::1" in out, out
    assert "GET /hello?x=1" in out and "Host: dest.test:8080" in out and "rc=0" in out, out


def test_denied_names_ports_wildcards(eg):
    code, out = eg.run("web", wget("http://other.test:8080/") + wget("http://dest.test:9090/") +
                       wget("http://a.wild.test:8080/w") + wget("http://a.b.wild.test:8080/") +
                       wget("http://%s:8080/" % DEST_IP))
    assert code == 200, out
    rcs = re.findall(r"rc=(\d+)", out)
    assert rcs == ["1", "1", "0", "1", "1"], out
    assert "GET /w" in out and "403" in out, out


def test_connect_passes_bytes_and_ignores_host(eg):
    script = ("printf 'CONNECT %s:8443 HTTP/1.1\\r\\nHost: other.test:8443\\r\\n\\r\\nping-through\\n' | "
              "nc -w 2 127.0.0.1 3128; echo; echo ---\n" % DEST_IP +
              # a Host header naming a granted host does not open another target
              "printf 'CONNECT other.test:8080 HTTP/1.1\\r\\nHost: dest.test:8080\\r\\n\\r\\n' | nc -w 2 127.0.0.1 3128\n")
    code, out = eg.run("web", script)
    assert code == 200, out
    first, second = out.split("---")
    assert "200 Connection established" in first and "ping-through" in first, out
    assert "403" in second and "not granted" in second, out


def test_plain_http_host_header_never_decides(eg):
    script = ("printf 'GET http://dest.test:8080/h HTTP/1.1\\r\\nHost: evil.example\\r\\nX-A: 1\\r\\n\\r\\n' | "
              "nc -w 2 127.0.0.1 3128; echo ---\n"
              "printf 'GET /h HTTP/1.1\\r\\nHost: dest.test:8080\\r\\n\\r\\n' | nc -w 2 127.0.0.1 3128\n")
    code, out = eg.run("web", script)
    assert code == 200, out
    first, second = out.split("---")
    assert "Host: dest.test:8080" in first and "evil.example" not in first and "X-A: 1" in first, out
    assert "400" in second and "never in a Host header" in second, out


def test_literals_in_refused_ranges(eg):
    script = "".join("printf 'CONNECT %s HTTP/1.1\\r\\n\\r\\n' | nc -w 2 127.0.0.1 3128; echo; echo ---\n" % t
                     for t in ("127.0.0.1:8443", "169.254.169.254:80", "%s:8443" % HOST_IP, "[::1]:8443",
                               "[::ffff:127.0.0.1]:8443", "0.0.0.0:8443", "%s:8443" % DEST_IP))
    code, out = eg.run("any", script)
    assert code == 200, out
    parts = out.split("---")
    for p, why in zip(parts, ("loopback", "metadata", "this host", "loopback", "loopback", "unspecified")):
        assert "403" in p and why in p, (why, out)
    assert "200 Connection established" in parts[6], out


def test_names_resolving_to_refused_addresses(eg):
    code, out = eg.run("web", wget("http://meta.test:8080/") + wget("http://self.test:8080/") +
                       wget("http://mixed.test:8080/"))
    assert code == 200, out
    assert re.findall(r"rc=(\d+)", out) == ["1", "1", "1"], out


def test_rebinding(eg):
    code, out = eg.run("web", wget("http://rebind.test:8080/one"))
    assert "GET /one" in out, out
    pin(eg.dest, dict(ANSWERS, **{"rebind.test": ["127.0.0.1"]}))
    try:
        code, out = eg.run("web", wget("http://rebind.test:8080/two"))
        assert "rc=1" in out and "GET /two" not in out, out
    finally:
        pin(eg.dest, ANSWERS)


def test_connection_cap(eg):
    code, out = eg.run("capped", wget("http://dest.test:8080/1") + wget("http://dest.test:8080/2") +
                       "printf 'GET http://dest.test:8080/3 HTTP/1.1\\r\\n\\r\\n' | nc -w 2 127.0.0.1 3128\n")
    assert code == 200, out
    assert "GET /1" in out and "GET /2" in out and "429" in out and "GET /3" not in out, out


def test_byte_cap(eg):
    code, out = eg.run("bytes", "printf 'POST http://dest.test:8080/big HTTP/1.1\\r\\nContent-Length: 5000\\r\\n\\r\\n' "
                                ">/tmp/h; head -c 5000 /dev/zero >>/tmp/h; nc -w 2 127.0.0.1 3128 </tmp/h | head -c 100;"
                                " echo; echo done\n")
    assert code == 200, out
    assert "200 OK" not in out, out
    r = eg.call("GET", "/system/logs", params={"name": "bytes", "namespace": NS})
    assert "verdict=cap" in r.text, r.text


def test_tunnel_moves_a_transfer_unchanged(eg):
    """1 MiB of random bytes through a CONNECT tunnel to the echo server and
    back (past its first 64 KiB the tunnel is spliced, not copied): the
    same bytes return, and the end passes on as a half-close."""
    script = ("head -c 1048576 /dev/urandom >/tmp/r\n"
              "(printf 'CONNECT %s:8443 HTTP/1.1\\r\\n\\r\\n'; sleep 1; cat /tmp/r) | "
              "nc -w 5 127.0.0.1 3128 >/tmp/o; echo rc=$?\n"
              "head -c 39 /tmp/o; echo; tail -c +40 /tmp/o | md5sum; md5sum </tmp/r; wc -c </tmp/o\n" % DEST_IP)
    code, out = eg.run("web", script)
    assert code == 200, out
    assert "200 Connection established" in out, out
    sums = re.findall(r"^([0-9a-f]{32})", out, re.M)
    assert len(sums) == 2 and sums[0] == sums[1], out
    assert re.search(r"^%d$" % (1048576 + 39), out, re.M), out
    r = eg.call("GET", "/system/logs", params={"name": "web", "namespace": NS})
    assert re.search(r"egress CONNECT dest=%s port=8443 .*up=1048576 down=1048576 " % re.escape(DEST_IP), r.text), r.text


def test_byte_cap_in_a_tunnel(eg):
    """The cap holds in a CONNECT tunnel, spliced past its first 64 KiB: of
    400000 bytes sent to the echo server once the tunnel is up (its echo
    counts too), the proxy takes in one byte beyond the cap of 200000, which
    goes nowhere, and closes."""
    r = eg.call("POST", "/system/functions",
                json={"service": "bigcap", "image": "busybox:latest", "namespace": NS, "envProcess": "sh",
                      "annotations": {"com.sfaasd.egress": "dest.test:8443",
                                      "com.sfaasd.egress-max-bytes": "200000"}})
    assert r.status_code == 202, r.text
    code, out = eg.run("bigcap", "(printf 'CONNECT dest.test:8443 HTTP/1.1\\r\\n\\r\\n'; sleep 1; "
                                 "head -c 400000 /dev/zero; sleep 1) | nc -w 3 127.0.0.1 3128 | wc -c; echo done\n")
    assert code == 200 and "done" in out, out
    r = eg.call("GET", "/system/logs", params={"name": "bigcap", "namespace": NS})
    caps = [l for l in r.text.splitlines() if "egress CONNECT" in l and "verdict=cap" in l]
    assert caps, r.text
    up, down = (int(re.search(k + r"=(\d+)", caps[-1]).group(1)) for k in ("up", "down"))
    assert up + down == 200001 and down < 200000, caps[-1]
    received = int(re.findall(r"^(\d+)$", out, re.M)[0])
    assert received <= down + 39, (received, caps[-1])


def test_accounting(eg):
    r = eg.call("GET", "/system/logs", params={"name": "web", "namespace": NS})
    assert r.status_code == 200
    lines = [json.loads(l)["text"] for l in r.text.splitlines() if l.strip()]
    allowed = [l for l in lines if "egress" in l and "verdict=allowed" in l]
    denied = [l for l in lines if "egress" in l and "verdict=denied" in l]
    assert allowed and denied, lines
    a = allowed[0]
    assert "address=%s" % DEST_IP in a and "port=8080" in a and re.search(r"down=[1-9]", a) and "call=" in a, a
    r = eg.call("GET", "/metrics")
    assert re.search(r'sfaasd_egress_connections_total\{verdict="allowed"\} [1-9]', r.text), r.text
    assert re.search(r'sfaasd_egress_connections_total\{verdict="denied"\} [1-9]', r.text), r.text
    assert re.search(r'sfaasd_egress_bytes_total\{direction="down"\} [1-9]', r.text), r.text
    r = eg.call("GET", "/system/audit", params={"namespace": NS})
    assert any(e.get("actor") == "function" and "egress" in e.get("detail", "") for e in r.json()), r.text


def host_root(dest):
    """A root with the host's curl and Python, hard-linked (cheap, same
    file system as /tmp here; a bind mount would be noexec)."""
    root = dest["dir"] / "root"
    if not (root / "usr").exists():
        for d in ("proc", "dev", "tmp", "etc", "usr/bin", "usr/lib"):
            (root / d).mkdir(parents=True, exist_ok=True)
        for b in ("curl", "python3", "python3.11", "env", "sh", "dash"):
            if os.path.exists("/usr/bin/" + b):
                subprocess.run(["cp", "-aL", "--link", "/usr/bin/" + b, str(root / "usr/bin" / b)], check=True)
        for d in ("x86_64-linux-gnu", "python3", "python3.11"):
            if os.path.exists("/usr/lib/" + d):
                subprocess.run(["cp", "-a", "--link", "/usr/lib/" + d, str(root / "usr/lib")], check=True)
        if os.path.isdir("/usr/lib64"):
            subprocess.run(["cp", "-a", "--link", "/usr/lib64", str(root / "usr")], check=True)
        for d in ("bin", "lib", "lib64", "sbin"):
            os.symlink("usr/" + d, root / d)
    return ["--rootfs", str(root)]


def run_egress(dest, grant, *cmd, env=()):
    from sfaasd_testlib import BIN
    return subprocess.run([BIN, "run"] + host_root(dest) + ["--timeout", "20s", "--egress", grant,
                           "--egress-allow", DEST_IP + "/32", "--egress-resolve", str(dest["resolve"])] +
                          [a for kv in env for a in ("--env", kv)] + ["--"] + list(cmd),
                          capture_output=True, text=True, timeout=60)


def test_run_egress_with_real_clients(dest):
    """`sfaasd run --egress` on the host's own root (read-only): curl and
    Python requests honour the proxy variables; other hosts are refused."""
    pin(dest, ANSWERS)
    p = run_egress(dest, "dest.test:8080", "curl", "-sS", "http://dest.test:8080/curl")
    assert p.returncode == 0 and "GET /curl" in p.stdout, (p.stdout, p.stderr)
    assert "verdict=allowed" in p.stderr, p.stderr
    p = run_egress(dest, "dest.test:8080", "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                   "http://other.test:8080/")
    assert p.stdout == "403" and "verdict=denied" in p.stderr, (p.stdout, p.stderr)
    script = ("import requests, sys\n"
              "r = requests.get('http://dest.test:8080/py', timeout=10)\n"
              "print(r.status_code, r.text.splitlines()[0])\n"
              "try:\n"
              "    requests.get('http://%s:8080/', timeout=10).raise_for_status()\n"
              "except Exception as e:\n"
              "    print('refused', type(e).__name__)\n" % HOST_IP)
    p = run_egress(dest, "dest.test:8080", "/usr/bin/python3", "-c", script)
    assert p.returncode == 0 and "200 GET /py" in p.stdout and "refused" in p.stdout, (p.stdout, p.stderr)
    # Without a grant the same command has no network at all.
    from sfaasd_testlib import BIN
    p = subprocess.run([BIN, "run"] + host_root(dest) + ["--timeout", "20s", "--", "curl", "-sS", "--max-time", "3",
                        "http://%s:8080/" % DEST_IP], capture_output=True, text=True, timeout=60)
    assert p.returncode != 0, (p.stdout, p.stderr)


GO_SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "goclient", "main.go")


@pytest.fixture(scope="module")
def goclient(tmp_path_factory):
    """tests/integration/goclient built static (CGO_ENABLED=0: no libc, no
    loader, it runs in any root), with a Go cache and path of its own."""
    go = shutil.which("go")
    if not go:
        pytest.skip("go not installed (Debian package golang-go; make deps-test)")
    d = tmp_path_factory.mktemp("goclient")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(d), "GOCACHE": str(d / "cache"),
           "GOPATH": str(d / "path"), "GOFLAGS": "-trimpath", "GO111MODULE": "off", "GOENV": "off",
           "CGO_ENABLED": "0", "GOOS": "linux"}
    out = d / "goclient"
    p = subprocess.run([go, "build", "-ldflags=-s -w", "-o", str(out), GO_SRC], env=env, capture_output=True,
                       text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return out


def go_results(out):
    """The client's lines: {url: (status or "error", rest)}."""
    res = {}
    for line in out.splitlines():
        url, _, rest = line.partition(" ")
        kind, _, more = rest.partition(" ")
        res[url] = (kind, more)
    return res


GO_GRANT = "dest.test:8080, api.test:8444"
GO_URLS = ["http://dest.test:8080/go-plain", "https://api.test:8444/go-tls", "http://other.test:8080/go-other",
           "https://other.test:8444/go-other-tls", "http://%s:8080/go-host" % HOST_IP]


def check_go_results(out, seen):
    r = go_results(out)
    assert set(r) == set(GO_URLS), out
    # The granted host, over plain HTTP (absolute-form through the proxy) and
    # over HTTPS (CONNECT, TLS end to end, verified against the test's CA).
    assert r[GO_URLS[0]] == ("status", "200 GET /go-plain"), out
    assert r[GO_URLS[1]] == ("status", "200 tls-ok /go-tls"), out
    assert "GET /go-tls" in seen.read_text(), seen.read_text()
    # Another name, by either way, and an address of this host: refused.
    assert r[GO_URLS[2]][0] == "status" and r[GO_URLS[2]][1].startswith("403 "), out
    assert r[GO_URLS[3]][0] == "error" and "Forbidden" in r[GO_URLS[3]][1], out
    assert r[GO_URLS[4]][0] == "status" and r[GO_URLS[4]][1].startswith("403 "), out


def test_run_egress_with_go_net_http(dest, goclient):
    """Go's net/http (ProxyFromEnvironment) in `sfaasd run --egress`: the
    granted host by plain HTTP and by HTTPS through CONNECT, nothing else."""
    pin(dest, ANSWERS)
    args = host_root(dest)
    root = args[1]
    shutil.copyfile(str(goclient), os.path.join(root, "usr/bin/goclient"))
    os.chmod(os.path.join(root, "usr/bin/goclient"), 0o755)
    shutil.copyfile(dest["ca"], os.path.join(root, "etc/egress-ca.pem"))
    dest["seen"].write_text("")
    p = run_egress(dest, GO_GRANT, "/usr/bin/goclient", *GO_URLS, env=["SSL_CERT_FILE=/etc/egress-ca.pem"])
    assert p.returncode == 0, (p.stdout, p.stderr)
    check_go_results(p.stdout, dest["seen"])
    assert re.search(r"egress CONNECT dest=api.test port=8444 .*verdict=allowed", p.stderr), p.stderr
    assert re.search(r"dest=other.test port=8444 .*verdict=denied", p.stderr), p.stderr


def oci_archive(path, files, tag):
    """A one-layer OCI archive of files {name: (bytes, mode)}, tagged tag."""
    import hashlib
    import io
    import tarfile

    def tar_bytes(entries):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
            for name, data, mode in entries:
                ti = tarfile.TarInfo(name)
                ti.mode, ti.mtime = mode, 1704067200
                if data is None:
                    ti.type = tarfile.DIRTYPE
                    t.addfile(ti)
                else:
                    ti.size = len(data)
                    t.addfile(ti, io.BytesIO(data))
        return buf.getvalue()
    dirs = sorted({"/".join(n.split("/")[:i]) for n in files for i in range(1, n.count("/") + 1)})
    layer = tar_bytes([(d, None, 0o755) for d in dirs] + [(n, data, mode) for n, (data, mode) in sorted(files.items())])
    blobs = {}

    def blob(data, mt):
        h = hashlib.sha256(data).hexdigest()
        blobs[h] = data
        return {"mediaType": mt, "digest": "sha256:" + h, "size": len(data)}
    ld = blob(layer, "application/vnd.oci.image.layer.v1.tar")
    cfg = {"architecture": "amd64", "os": "linux", "config": {"Entrypoint": ["/goclient"]},
           "rootfs": {"type": "layers", "diff_ids": [ld["digest"]]}}
    man = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": blob(json.dumps(cfg).encode(), "application/vnd.oci.image.config.v1+json"),
                           "layers": [ld]}).encode(), "application/vnd.oci.image.manifest.v1+json")
    man["annotations"] = {"org.opencontainers.image.ref.name": tag}
    entries = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}', 0o644),
               ("index.json", json.dumps({"schemaVersion": 2, "manifests": [man]}).encode(), 0o644)]
    entries += [("blobs/sha256/" + h, data, 0o644) for h, data in blobs.items()]
    with open(path, "wb") as f:
        f.write(tar_bytes(entries))


def test_function_with_go_net_http(eg, goclient):
    """The same client as a deployed function (an image of the static binary
    and the test's CA where Go looks for roots) granted one API."""
    archive = goclient.parent / "goclient-oci.tar"
    oci_archive(str(archive), {"goclient": (goclient.read_bytes(), 0o755),
                               "etc/ssl/certs/ca-certificates.crt": (open(eg.dest["ca"], "rb").read(), 0o644)},
                "goclient:latest")
    r = eg.call("POST", "/system/images", params={"namespace": NS}, data=archive.read_bytes(),
                headers={"Content-Type": "application/x-tar"})
    assert r.status_code == 200, r.text
    r = eg.call("POST", "/system/functions", json={"service": "gofn", "image": "goclient:latest", "namespace": NS,
                                                   "annotations": {"com.sfaasd.egress": GO_GRANT}})
    assert r.status_code == 202, r.text
    eg.dest["seen"].write_text("")
    code, out = eg.run("gofn", "\n".join(GO_URLS) + "\n")
    assert code == 200, out
    check_go_results(out, eg.dest["seen"])
    r = eg.call("GET", "/system/logs", params={"name": "gofn", "namespace": NS})
    assert re.search(r"egress CONNECT dest=api.test port=8444 .*verdict=allowed", r.text), r.text


def raw(target, extra=""):
    return ("printf 'GET %s HTTP/1.1\\r\\n%s\\r\\n' | nc -w 3 127.0.0.1 3128; echo; echo ---\n"
            % (target, extra))


def test_credential_injection(eg):
    seen = eg.dest["seen"]
    seen.write_text("")
    script = (raw("http://api.test/inject?a=1") +
              raw("http://dest.test:8080/plain", "Authorization: Bearer fake\\r\\n") +
              raw("http://bad.test/wrong-name") +
              "env; cat /proc/self/environ; ls -R /var/openfaas 2>&1; grep -rs %s / --exclude-dir=proc "
              "--exclude-dir=sys 2>/dev/null | head -3; echo end\n" % SECRET[:6])
    code, out = eg.run("inj", script)
    assert code == 200, out
    parts = out.split("---")
    # To the granted host: over TLS the proxy made, with the secret.
    assert "200 OK" in parts[0] and "tls-ok /inject?a=1" in parts[0], out
    log = seen.read_text()
    assert "GET /inject?a=1" in log and "Authorization: Bearer " + SECRET in log, log
    assert "Host: api.test:8444" in log, log
    # To another host: nothing, and the function's own Authorization is dropped.
    assert "GET /plain" in parts[1] and "Authorization" not in parts[1] and SECRET not in parts[1], out
    # A name whose certificate does not match: refused before any byte.
    assert "502" in parts[2] and "certificate" in parts[2], out
    assert "/wrong-name" not in log, log
    # The function holds nothing of it: environment, files, answers.
    assert SECRET not in out and SECRET[:6] not in out.replace(SECRET[:6] + " /", ""), out
    # Another header name, as the grant says.
    seen.write_text("")
    code, out = eg.run("injh", raw("http://api.test/h"))
    assert "tls-ok /h" in out, out
    assert "X-Api-Key: " + SECRET in seen.read_text(), seen.read_text()
    r = eg.call("GET", "/system/logs", params={"name": "inj", "namespace": NS})
    assert "secret 'apikey' injected over verified TLS" in r.text and SECRET not in r.text, r.text


def test_port_forwards(eg):
    script = ("printf 'hello-fwd\\n' | nc -w 2 127.0.0.1 5432; echo ---\n"
              "printf 'GET /via-forward HTTP/1.0\\r\\n\\r\\n' | nc -w 2 127.0.0.1 8081; echo ---\n"
              "printf 'x' | nc -w 2 127.0.0.1 6000; echo rc=$?; echo ---\n"
              "env | grep -c PROXY\n")
    code, out = eg.run("fwd", script)
    assert code == 200, out
    parts = out.split("---")
    assert "hello-fwd" in parts[0], out
    assert "GET /via-forward" in parts[1] and "Host" not in parts[1].split("GET /via-forward")[0], out
    assert "HTTP" not in parts[2], out          # a refused forward just closes
    r = eg.call("GET", "/system/logs", params={"name": "fwd", "namespace": NS})
    assert "dest=meta.test" in r.text and "verdict=denied" in r.text, r.text


def http_function(eg, images, name, grant):
    """An http-mode function (the httpfn image) granted grant, called once
    (its warm instance runs); its answer."""
    with open(images.path("httpfn-oci.tar"), "rb") as f:
        r = eg.call("POST", "/system/images", params={"namespace": NS}, data=f.read(),
                    headers={"Content-Type": "application/x-tar"})
    assert r.status_code == 200, r.text
    r = eg.call("POST", "/system/functions", json={"service": name, "image": "httpfn:latest", "namespace": NS,
                                                   "annotations": {"com.sfaasd.egress": grant}})
    assert r.status_code == 202, r.text
    return eg.call("GET", "/function/%s.%s/hello" % (name, NS))


def test_http_mode_instance_has_its_proxy(eg, images):
    """An http-mode function's warm instance is born in a namespace where its
    proxy listens (core/runtime/pool.c): reached from inside that namespace
    (nsenter), it serves the grant; the instance's own port still answers."""
    from sfaasd_testlib import procs_with_argv
    r = http_function(eg, images, "hfn", "dest.test:8080")
    assert r.status_code == 200 and r.text == "hello\n", r.text
    pids = procs_with_argv(["/httpfn"])
    assert pids, "no httpfn process"
    req = ("import socket\n"
           "s = socket.create_connection(('127.0.0.1', 3128))\n"
           "s.sendall(b'GET http://dest.test:8080/from-http-mode HTTP/1.1\\r\\n\\r\\n')\n"
           "print(s.makefile('rb').read().decode())\n")
    answers = [subprocess.run(["nsenter", "-t", str(p), "-n", sys.executable, "-c", req], capture_output=True,
                              text=True, timeout=30) for p in pids]
    assert any("GET /from-http-mode" in a.stdout for a in answers), [(a.stdout, a.stderr) for a in answers]
    r = eg.call("GET", "/system/logs", params={"name": "hfn", "namespace": NS})
    assert "dest=dest.test" in r.text and "verdict=allowed" in r.text, r.text


def test_host_address_added_later_is_refused(eg, images):
    """A warm instance's proxy has decided before (the host's addresses are
    cached); an address the host gets afterwards is refused at the next
    decision all the same."""
    from sfaasd_testlib import procs_with_argv
    new_ip = "10.231.%d.5" % SUBNET
    r = http_function(eg, images, "hany", "0.0.0.0/0:*")
    assert r.status_code == 200, r.text

    def connect(pid, ip):
        req = ("import socket\n"
               "s = socket.create_connection(('127.0.0.1', 3128))\n"
               "s.sendall(b'CONNECT %s:8443 HTTP/1.1\\r\\n\\r\\n')\n"
               "print(s.recv(4096).decode())\n" % ip)
        return subprocess.run(["nsenter", "-t", str(pid), "-n", sys.executable, "-c", req], capture_output=True,
                              text=True, timeout=30).stdout
    mine = [p for p in procs_with_argv(["/httpfn"]) if "200 Connection established" in connect(p, DEST_IP)]
    assert mine, "no instance whose proxy grants %s" % DEST_IP
    sh("ip", "addr", "add", new_ip + "/32", "dev", VETH_H)
    try:
        for p in mine:
            out = connect(p, new_ip)
            assert "403" in out and "an address of this host" in out, out
    finally:
        subprocess.run(["ip", "addr", "del", new_ip + "/32", "dev", VETH_H], capture_output=True)


def test_granted_function_finds_nothing_else_open(eg):
    """From a granted function: no route, no other address, no raw socket,
    no other port on its loopback than its proxy."""
    script = ("nc -w 1 %s 8080 </dev/null 2>&1; echo direct=$?\n"
              "nc -w 1 %s 22 </dev/null 2>&1; echo host=$?\n"
              "ping -c 1 -W 1 %s 2>&1; echo ping=$?\n"
              "ip route 2>&1; echo route=$?\n"
              "for p in 22 80 443 8080 3129 5432; do nc -w 1 127.0.0.1 $p </dev/null 2>&1; echo lo$p=$?; done\n"
              % (DEST_IP, HOST_IP, DEST_IP))
    code, out = eg.run("web", script)
    assert code == 200, out
    for k in ("direct", "host", "ping") + tuple("lo%d" % p for p in (22, 80, 443, 8080, 3129, 5432)):
        assert re.search(r"\b%s=[1-9]" % k, out), (k, out)
    assert "via" not in out and "dev" not in out.split("route=")[0].split("ping=")[-1], out


def test_open_connections_cap(eg):
    """At most egress_max_open (4 here) connections open at once: the fifth
    is closed at once; they are the daemon's file descriptors."""
    script = ("i=0; while [ $i -lt 4 ]; do (sleep 3 | nc 127.0.0.1 3128 >/dev/null) & i=$((i+1)); done; sleep 1\n"
              "printf 'GET http://dest.test:8080/fifth HTTP/1.1\\r\\n\\r\\n' | nc -w 2 127.0.0.1 3128; echo rc=$?\n"
              "wait; printf 'GET http://dest.test:8080/after HTTP/1.1\\r\\n\\r\\n' | nc -w 2 127.0.0.1 3128\n")
    code, out = eg.run("web", script)
    assert code == 200, out
    assert "GET /fifth" not in out and "GET /after" in out, out


REFUSING_IP = "10.231.%d.3" % SUBNET   # in the destination's namespace, nothing listens: a reset
STUCK_IP = "10.231.%d.4" % SUBNET      # a listener whose accept queue is full: SYNs go unanswered

STUCK = textwrap.dedent(r"""
    import socket, sys, time
    s = socket.socket()
    s.bind((sys.argv[1], 8080))
    s.listen(0)
    # The one connection a backlog of 0 queues; it is never accepted, so
    # the kernel drops every later SYN (a destination that never answers).
    f = socket.create_connection((sys.argv[1], 8080))
    print("ready", flush=True)
    time.sleep(3600)
""")


def raw_wait(target):
    """raw() with time for the proxy's connect timeout to pass."""
    return raw(target).replace("nc -w 3", "nc -w %d" % (CONNECT_TIMEOUT * 3))


@pytest.fixture(scope="module")
def dead(eg):
    """Two more addresses of the destination: one refuses, one never
    answers; a function granted names of *.wild.test and their range."""
    for ip in (REFUSING_IP, STUCK_IP):
        sh("ip", "-n", NETNS, "addr", "add", ip + "/24", "dev", VETH_N)
    (eg.dest["dir"] / "stuck.py").write_text(STUCK)
    proc = subprocess.Popen(["ip", "netns", "exec", NETNS, sys.executable, str(eg.dest["dir"] / "stuck.py"), STUCK_IP],
                            stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline().strip() == b"ready"
        r = eg.call("POST", "/system/functions",
                    json={"service": "multi", "image": "busybox:latest", "namespace": NS, "envProcess": "sh",
                          "annotations": {"com.sfaasd.egress": "*.wild.test:8080, 10.231.%d.0/24:8080" % SUBNET}})
        assert r.status_code == 202, r.text
        pin(eg.dest, dict(ANSWERS, **{"first-refuses.wild.test": [REFUSING_IP, DEST_IP],
                                      "first-stuck.wild.test": [STUCK_IP, DEST_IP],
                                      "stuck.wild.test": [STUCK_IP]}))
        yield
    finally:
        pin(eg.dest, ANSWERS)
        proc.kill()
        proc.wait()
        for ip in (REFUSING_IP, STUCK_IP):
            subprocess.run(["ip", "-n", NETNS, "addr", "del", ip + "/24", "dev", VETH_N], capture_output=True)


def test_each_checked_address_is_tried(eg, dead):
    """A name's checked addresses are tried in order until one connects: one
    that refuses, one that never answers (in its share of the connect
    timeout), then the destination."""
    code, out = eg.run("multi", raw_wait("http://first-refuses.wild.test:8080/one") +
                       raw_wait("http://first-stuck.wild.test:8080/two"))
    assert code == 200, out
    parts = out.split("---")
    assert "GET /one" in parts[0] and "GET /two" in parts[1], out
    r = eg.call("GET", "/system/logs", params={"name": "multi", "namespace": NS})
    lines = [json.loads(l)["text"] for l in r.text.splitlines() if "egress" in l]
    for name in ("first-refuses.wild.test", "first-stuck.wild.test"):
        mine = [l for l in lines if "dest=%s" % name in l]
        assert mine and "verdict=allowed" in mine[-1] and "address=%s " % DEST_IP in mine[-1], lines


def test_connect_timeout(eg, dead):
    """A destination that never answers: 504 once egress_connect_timeout
    passed, for a plain request and for CONNECT."""
    t0 = time.monotonic()
    code, out = eg.run("multi", raw_wait("http://stuck.wild.test:8080/never") +
                       "printf 'CONNECT %s:8080 HTTP/1.1\\r\\n\\r\\n' | nc -w 10 127.0.0.1 3128; echo; echo ---\n"
                       % STUCK_IP)
    took = time.monotonic() - t0
    assert code == 200, out
    parts = out.split("---")
    for p in parts[:2]:
        assert "504 Gateway Timeout" in p and "timed out" in p and STUCK_IP in p, out
    assert 2 * CONNECT_TIMEOUT <= took < 2 * CONNECT_TIMEOUT + 8, (took, out)
    r = eg.call("GET", "/system/logs", params={"name": "multi", "namespace": NS})
    assert "dest=stuck.wild.test" in r.text and "timed out" in r.text, r.text
