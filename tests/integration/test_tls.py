# SPDX-License-Identifier: MIT
"""TLS on the server and in the clients (issue 13, point 1).

- the server: TLS 1.2 and 1.3 with ALPN http/1.1; TLS 1.0 and 1.1 refused,
  and TLS 1.2 without forward secrecy or AEAD refused; HTTP/1.1 keep-alive
  over it; the same limits (431, 408, the first-byte deadline covering a
  handshake that never comes); bodies in and out (exec and http mode, big
  ones both ways);
- a self-signed pair made on first start, its fingerprint logged, the same
  pair reused at the next start; plain HTTP stays on loopback;
- SIGHUP under load: every request of clients hammering the server over
  kept-alive connections is answered, connections made before keep the old
  certificate, new ones get the new one;
- the CLI over https: --cacert, --tls-fingerprint, a wrong pin and an
  untrusted certificate refused;
- async callbacks over https: verified with the system's CA store (here
  SSL_CERT_FILE, which OpenSSL reads for it), refused when unverifiable.

Certificates for the test are made with the openssl command.
"""
import http.client
import http.server
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest
import requests

from sfaasd_testlib import BIN, HTTP_TIMEOUT, SLOW, Api, Daemon, wait_until

WAIT = 60 * SLOW


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


def make_ca(d):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "2", "-subj", "/CN=sfaasd test CA", cwd=d)


def make_leaf(d, name, cn="localhost", san="DNS:localhost,IP:127.0.0.1"):
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", name + ".key",
            "-out", name + ".csr", "-subj", "/CN=" + cn, cwd=d)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth\n" % san)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext", cwd=d)
    return os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")


def fingerprint(pem):
    out = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-fingerprint", "-sha256"], capture_output=True,
                         text=True, check=True).stdout
    return out.strip().split("=", 1)[1]


def tls_port(d):
    m = re.search(r"listening on https://[^\s:]+:(\d+)/", d.log())
    assert m, d.log_tail()
    return int(m.group(1))


def client_ctx(cafile=None, **kw):
    ctx = ssl.create_default_context(cafile=cafile)
    for k, v in kw.items():
        setattr(ctx, k, v)
    return ctx


def tls_connect(port, ctx, host="localhost"):
    s = socket.create_connection(("127.0.0.1", port), timeout=HTTP_TIMEOUT)
    return ctx.wrap_socket(s, server_hostname=host)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("certs"))
    make_ca(d)
    a = make_leaf(d, "a")
    b = make_leaf(d, "b")
    return {"dir": d, "ca": os.path.join(d, "ca.pem"), "a": a, "b": b}


@pytest.fixture(scope="module")
def tlsd(tmp_path_factory, certs):
    """A daemon with plain HTTP on loopback and HTTPS, the pair in a folder
    of its own (the reload test swaps it)."""
    base = tmp_path_factory.mktemp("tlsd")
    pair = base / "pair"
    pair.mkdir()
    shutil.copy(certs["a"][0], pair / "cert.pem")
    shutil.copy(certs["a"][1], pair / "key.pem")
    d = Daemon(base / "data", config={"tls_listen": "127.0.0.1:0", "tls_cert": str(pair / "cert.pem"),
                                       "tls_key": str(pair / "key.pem"), "header_timeout": "2s",
                                       "first_byte_timeout": "2s", "max_header_bytes": 4096,
                                       "async_callback_allow_loopback": True},
               name="tlsd", log_dir=base / "logs")
    d.start()
    d.tls_port = tls_port(d)
    d.pair = pair
    yield d
    d.stop()


def test_handshake_versions_and_alpn(tlsd, certs):
    for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        ctx = client_ctx(certs["ca"], minimum_version=version, maximum_version=version)
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        with tls_connect(tlsd.tls_port, ctx) as s:
            assert s.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
            assert s.selected_alpn_protocol() == "http/1.1"
            cipher = s.cipher()[0]
            assert "GCM" in cipher or "CHACHA20" in cipher, cipher
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_old_versions_refused(tlsd, version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # that is the point
        ctx.minimum_version = getattr(ssl.TLSVersion, version)
        ctx.maximum_version = getattr(ssl.TLSVersion, version)
    with pytest.raises(ssl.SSLError) as e:
        tls_connect(tlsd.tls_port, ctx)
    assert "VERSION" in str(e.value).upper() or "ALERT" in str(e.value).upper(), e.value


@pytest.mark.parametrize("ciphers", ["AES128-SHA:AES256-SHA", "AES128-GCM-SHA256", "ECDHE-RSA-AES128-SHA",
                                     "ECDHE-ECDSA-AES128-SHA256"])
def test_weak_tls12_ciphers_refused(tlsd, ciphers):
    # No forward secrecy (RSA key exchange) or no AEAD (CBC): no handshake.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(ciphers)
    with pytest.raises(ssl.SSLError):
        tls_connect(tlsd.tls_port, ctx)


def test_keep_alive_bodies_and_limits_over_tls(tlsd, certs, images):
    api = Api(tlsd)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    assert api.import_image(images.path("httpfn-oci.tar")).status_code == 200
    api.deploy("tcat", fprocess="cat", expect=202)
    api.deploy("thttp", image="httpfn:latest", expect=202)
    ctx = client_ctx(certs["ca"])
    conn = http.client.HTTPSConnection("localhost", tlsd.tls_port, context=ctx, timeout=HTTP_TIMEOUT)
    big = os.urandom(3 << 20)
    for _ in range(3):  # one connection throughout
        conn.request("GET", "/healthz")
        r = conn.getresponse()
        assert r.status == 200 and r.read() == b""
        conn.request("POST", "/function/tcat", body=big)
        r = conn.getresponse()
        assert r.status == 200 and r.read() == big
        conn.request("POST", "/function/thttp/echo", body=big)
        r = conn.getresponse()
        assert r.status == 200 and r.read() == big
    sock = conn.sock
    conn.request("GET", "/healthz")
    conn.getresponse().read()
    assert conn.sock is sock  # kept alive
    conn.close()
    # 431: a head over max_header_bytes (4096 here)
    with tls_connect(tlsd.tls_port, ctx) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 431")
    # 408: a head that never ends (header_timeout 2 s)
    with tls_connect(tlsd.tls_port, ctx) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        assert s.recv(4096).startswith(b"HTTP/1.1 408")
        assert time.monotonic() - t0 < 2 + 10 * SLOW
    # A handshake that never comes: closed at first_byte_timeout (2 s).
    raw = socket.create_connection(("127.0.0.1", tlsd.tls_port), timeout=HTTP_TIMEOUT)
    raw.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
    t0 = time.monotonic()
    assert raw.recv(4096) == b""
    assert 1.5 <= time.monotonic() - t0 < 2 + 10 * SLOW
    raw.close()
    # Plain HTTP is still served on loopback.
    assert requests.get(tlsd.url + "/healthz", timeout=HTTP_TIMEOUT).status_code == 200


def test_reload_under_load_drops_nothing(tlsd, certs):
    ctx = client_ctx(certs["ca"])
    old_fp = fingerprint(certs["a"][0])
    new_fp = fingerprint(certs["b"][0])
    stop = threading.Event()
    errors, done = [], [0]

    def hammer():
        try:
            c = http.client.HTTPSConnection("localhost", tlsd.tls_port, context=ctx, timeout=HTTP_TIMEOUT)
            while not stop.is_set():
                c.request("GET", "/healthz")
                r = c.getresponse()
                r.read()
                if r.status != 200:
                    errors.append(r.status)
                done[0] += 1
            c.close()
        except Exception as e:  # any failure is what this test is about
            errors.append(repr(e))

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    # A connection made before the reload, kept open across it.
    before = tls_connect(tlsd.tls_port, ctx)
    assert ssl.DER_cert_to_PEM_cert(before.getpeercert(True)) and \
        fingerprint_of_der(before.getpeercert(True)) == old_fp
    wait_until(lambda: done[0] > 50, WAIT, "requests before the reload")
    shutil.copy(certs["b"][0], tlsd.pair / "cert.pem.new")
    shutil.copy(certs["b"][1], tlsd.pair / "key.pem.new")
    os.rename(tlsd.pair / "key.pem.new", tlsd.pair / "key.pem")
    os.rename(tlsd.pair / "cert.pem.new", tlsd.pair / "cert.pem")
    n0 = done[0]
    tlsd.signal(signal.SIGHUP)
    wait_until(lambda: "TLS: reloaded" in tlsd.log(), WAIT, "the reload")
    wait_until(lambda: done[0] > n0 + 50, WAIT, "requests after the reload")
    stop.set()
    for t in threads:
        t.join()
    assert not errors, errors[:5]
    assert new_fp in tlsd.log()
    # The old connection still works, with its old session.
    before.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert before.recv(4096).startswith(b"HTTP/1.1 200")
    before.close()
    with tls_connect(tlsd.tls_port, ctx) as s:
        assert fingerprint_of_der(s.getpeercert(True)) == new_fp
    # A broken pair on the next SIGHUP keeps the one in use.
    with open(tlsd.pair / "key.pem", "w") as f:
        f.write("not a key\n")
    tlsd.signal(signal.SIGHUP)
    wait_until(lambda: "keeping the pair in use" in tlsd.log(), WAIT, "the failed reload")
    with tls_connect(tlsd.tls_port, ctx) as s:
        assert fingerprint_of_der(s.getpeercert(True)) == new_fp
    shutil.copy(certs["b"][1], tlsd.pair / "key.pem")


def fingerprint_of_der(der):
    import hashlib
    h = hashlib.sha256(der).hexdigest().upper()
    return ":".join(h[i:i + 2] for i in range(0, 64, 2))


def test_self_signed_pair_made_once(make_daemon, tmp_path):
    pair = tmp_path / "tls"
    cfg = {"tls_listen": "127.0.0.1:0", "tls_cert": str(pair / "cert.pem"), "tls_key": str(pair / "key.pem"),
           "tls_self_signed": True}
    d = make_daemon(cfg)
    m = re.search(r"SHA-256 fingerprint ([0-9A-F:]{95})", d.log())
    assert m and "made a self-signed certificate" in d.log(), d.log_tail()
    fp = m.group(1)
    assert fp == fingerprint(str(pair / "cert.pem"))
    assert os.stat(pair / "key.pem").st_mode & 0o777 == 0o600
    # Verified against itself as the trust anchor, by name and by address.
    for host in ("localhost", "127.0.0.1"):
        with tls_connect(tls_port(d), client_ctx(str(pair / "cert.pem")), host=host) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
    d.stop()
    d.start()
    # The certificate's line follows the "listening on" lines that start()
    # waits for: read on until it is there (slow under ASan).
    wait_until(lambda: fp in d.log(), WAIT, "the kept certificate's fingerprint in the log")
    assert "made a self-signed certificate" not in d.log()


def test_cli_over_https(tlsd, certs, tmp_path):
    env = dict(os.environ, SFAASD_PASSWORD=tlsd.password)
    env.pop("SFAASD_CACERT", None)
    env.pop("SFAASD_TLS_FINGERPRINT", None)
    gw = "https://localhost:%d" % tlsd.tls_port
    fp = fingerprint(str(tlsd.pair / "cert.pem"))

    def run(*args, **kw):
        return subprocess.run([BIN] + list(args), env=kw.get("env", env), capture_output=True, text=True,
                              input=kw.get("input", ""), timeout=HTTP_TIMEOUT)

    r = run("list", "-g", gw, "--cacert", certs["ca"])
    assert r.returncode == 0 and "NAME" in r.stdout, r.stderr
    r = run("list", "-g", "https://127.0.0.1:%d" % tlsd.tls_port, "--tls-fingerprint", fp)
    assert r.returncode == 0, r.stderr
    r = run("list", "-g", gw, "--tls-fingerprint", fp.lower().replace(":", ""))
    assert r.returncode == 0, r.stderr
    r = run("list", "-g", gw)  # the test CA is not the system's
    assert r.returncode == 1 and "cannot verify the certificate" in r.stderr, r.stderr
    wrong = "00" + fp[2:]
    r = run("list", "-g", gw, "--tls-fingerprint", wrong)
    assert r.returncode == 1 and "not the one pinned" in r.stderr, r.stderr
    r = run("list", "-g", "https://127.0.0.2:%d" % tlsd.tls_port, "--cacert", certs["ca"])
    assert r.returncode == 1, r.stderr  # no such address in the certificate (a name mismatch)
    r = run("invoke", "tcat", "-g", gw, env=dict(env, SFAASD_CACERT=certs["ca"]), input="hi")
    assert r.returncode == 0 and r.stdout == "hi", r.stderr


class TLSReceiver:
    def __init__(self, cert, key):
        self.hits = []
        rcv = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                rcv.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.srv.socket = ctx.wrap_socket(self.srv.socket, server_side=True)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = "https://localhost:%d" % self.srv.server_address[1]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def test_async_callback_over_https(make_daemon, images, certs, monkeypatch):
    rcv = TLSReceiver(*certs["a"])
    try:
        for trusted in (True, False):
            if trusted:
                monkeypatch.setenv("SSL_CERT_FILE", certs["ca"])  # OpenSSL's system store, for this daemon
            else:
                monkeypatch.delenv("SSL_CERT_FILE", raising=False)
            d = make_daemon({"async_callback_allow_loopback": True, "async_callback_retries": 1})
            api = Api(d)
            assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
            api.deploy("acat", fprocess="cat", expect=202)
            r = requests.post(d.url + "/async-function/acat", data=b"x",
                              headers={"X-Callback-Url": rcv.url + "/cb-%s" % trusted}, timeout=HTTP_TIMEOUT)
            assert r.status_code == 202, r.text
            cid = r.headers["X-Call-Id"]
            st = wait_until(lambda: (lambda s: s if s["callbackState"] in ("delivered", "failed") else None)(
                api.get("/system/async/" + cid).json()), WAIT, "the callback")
            if trusted:
                assert st["callbackState"] == "delivered" and st["callbackStatus"] == 200, st
            else:
                assert st["callbackState"] == "failed" and "cannot verify the certificate" in st["callbackError"], st
            d.stop()
        assert rcv.hits == ["/cb-True"]
    finally:
        rcv.close()
