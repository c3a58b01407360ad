# SPDX-License-Identifier: MIT
"""A real registry for the pull tests (issue 14): Debian's docker-registry
(the reference distribution server) on a loopback port, anonymous, with
htpasswd Basic auth, or with token auth and a small token server; a
tampering proxy in front of it for the failure cases; images pushed with
skopeo copy.

Everything listens on 127.0.0.1 only and stops with its fixture.
"""
import base64
import hashlib
import http.server
import io
import json
import os
import socket
import subprocess
import tarfile
import threading
import time
import urllib.request
import uuid

REGISTRY_BIN = "/usr/bin/docker-registry"
SKOPEO = "/usr/bin/skopeo"
HTPASSWD = "/usr/bin/htpasswd"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Registry:
    """docker-registry serve on 127.0.0.1:PORT with its own storage."""

    def __init__(self, workdir, auth=None, tls=None):
        """tls: (certificate, key) PEM files: https instead of http."""
        self.dir = str(workdir)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        cfg = ["version: 0.1", "log:", "  level: error", "  accesslog:", "    disabled: true",
               "storage:", "  filesystem:", "    rootdirectory: %s/data" % self.dir, "  delete:", "    enabled: true",
               "http:", "  addr: %s" % self.host]
        if tls:
            cfg += ["  tls:", "    certificate: %s" % tls[0], "    key: %s" % tls[1]]
        cfg += auth or []
        scheme = "https" if tls else "http"
        ctx = None
        if tls:
            import ssl
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        self.config = os.path.join(self.dir, "config.yml")
        with open(self.config, "w") as f:
            f.write("\n".join(cfg) + "\n")
        self.log = open(os.path.join(self.dir, "registry.log"), "w")
        self.proc = subprocess.Popen([REGISTRY_BIN, "serve", self.config], stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen("%s://%s/v2/" % (scheme, self.host), timeout=2, context=ctx)
                break
            except urllib.error.HTTPError:
                break  # 401: up, with auth
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("docker-registry did not start: %s" % open(self.log.name).read())
                time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def tls_pair(workdir):
    """A test CA and a certificate for 127.0.0.1 signed by it (the openssl
    command): (ca.pem, cert.pem, key.pem)."""
    d = str(workdir)
    os.makedirs(d, exist_ok=True)

    def openssl(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "2", "-subj", "/CN=sfaasd registry test CA")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "reg.key",
            "-out", "reg.csr", "-subj", "/CN=127.0.0.1")
    with open(os.path.join(d, "reg.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "reg.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "reg.pem", "-days", "2", "-extfile", "reg.ext")
    return tuple(os.path.join(d, n) for n in ("ca.pem", "reg.pem", "reg.key"))


def basic_auth_lines(workdir, user, password):
    os.makedirs(str(workdir), exist_ok=True)
    path = os.path.join(str(workdir), "htpasswd")
    out = subprocess.run([HTPASSWD, "-Bbn", user, password], check=True, capture_output=True).stdout
    with open(path, "wb") as f:
        f.write(out)
    return ["auth:", "  htpasswd:", "    realm: sfaasd-test", "    path: %s" % path]


def push(archive, dest, creds=None, fmt=None, all_images=False, src="oci-archive"):
    """skopeo copy ARCHIVE docker://DEST (plain http)."""
    argv = [SKOPEO, "copy", "--quiet", "--dest-tls-verify=false"]
    if creds:
        argv += ["--dest-creds", creds]
    if fmt:
        argv += ["--format", fmt]
    if all_images:
        argv += ["--all"]
    argv += ["%s:%s" % (src, archive), "docker://" + dest]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, "skopeo copy %s -> %s: %s%s" % (archive, dest, p.stdout, p.stderr)


def manifest_digest(host, repo, ref, creds=None):
    """The digest the registry gives for repo:ref (skopeo inspect --raw, hashed)."""
    argv = [SKOPEO, "inspect", "--raw", "--tls-verify=false"]
    if creds:
        argv += ["--creds", creds]
    argv += ["docker://%s/%s:%s" % (host, repo, ref)]
    raw = subprocess.run(argv, check=True, capture_output=True, timeout=60).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest(), json.loads(raw)


# ---- a token server for the bearer flow ------------------------------------

def _b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


class TokenServer:
    """Issues registry tokens (JWT, RS256, the cert in x5c) for user/password
    over Basic auth; the registry trusts the cert (rootcertbundle). Counts
    the token requests it answered."""

    def __init__(self, workdir, user, password, service="sfaasd-test", issuer="sfaasd-test-issuer"):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID
        import datetime

        self.user, self.password, self.service, self.issuer = user, password, service, issuer
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sfaasd test token issuer")])
        now = datetime.datetime.now(datetime.timezone.utc)
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(self.key, hashes.SHA256()))
        self.cert_der = cert.public_bytes(serialization.Encoding.DER)
        self.cert_path = os.path.join(str(workdir), "token-cert.pem")
        with open(self.cert_path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        self.requests = []
        ts = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                from urllib.parse import parse_qs, urlparse
                q = parse_qs(urlparse(self.path).query)
                auth = self.headers.get("Authorization", "")
                ok = auth == "Basic " + base64.b64encode(("%s:%s" % (ts.user, ts.password)).encode()).decode()
                ts.requests.append({"scope": q.get("scope", [""])[0], "service": q.get("service", [""])[0],
                                    "authorized": ok})
                if not ok:
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"errors":[{"code":"UNAUTHORIZED"}]}')
                    return
                access = []
                for scope in q.get("scope", []):
                    parts = scope.split(":")
                    if len(parts) == 3:
                        access.append({"type": parts[0], "name": parts[1], "actions": parts[2].split(",")})
                body = json.dumps({"token": ts.token(access), "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def token(self, access):
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(self.cert_der).decode()]}
        claims = {"iss": self.issuer, "sub": self.user, "aud": self.service, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": uuid.uuid4().hex, "access": access}
        signing = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        sig = self.key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return signing + "." + _b64url(sig)

    def registry_auth(self):
        return ["auth:", "  token:", "    realm: http://%s/token" % self.host, "    service: %s" % self.service,
                "    issuer: %s" % self.issuer, "    rootcertbundle: %s" % self.cert_path]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- a proxy that misbehaves on purpose --------------------------------------

class TamperProxy:
    """Forwards to a registry; self.mode says how to misbehave:
      None                 pass through
      "manifest-tamper"    a manifest answers other bytes (its Docker-Content-Digest kept)
      "blob-tamper"        every layer blob has one byte changed
      "drop-once"          the first GET of each blob breaks mid-body, later ones pass
      "drop-always"        every blob GET breaks mid-body
      "stall"              every blob GET sends half, then stalls for stall_s
      "redirect:URL"       every blob GET answers 307 Location: URL
      "slow-blobs"         each blob waits delay_s before its answer (concurrency count)
    Counts blob GETs (blob_gets) and the most at once (max_inflight; with
    slow-blobs, max_waiting: requests waiting together for their answer)."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.mode = None
        self.stall_s = 3.0
        self.delay_s = 0.3
        self.blob_gets = 0
        self.seen = set()
        self.inflight = 0
        self.max_inflight = 0
        self.waiting = 0
        self.max_waiting = 0
        self.lock = threading.Lock()
        px = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                px.handle(self)

            def do_HEAD(self):
                px.handle(self)

        self.port = free_port()
        self.host = "127.0.0.1:%d" % self.port
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _fetch(self, h):
        req = urllib.request.Request("http://%s%s" % (self.upstream, h.path), method=h.command)
        for k in ("Accept", "Authorization"):
            if h.headers.get_all(k):
                req.add_header(k, ", ".join(h.headers.get_all(k)))
        try:
            r = urllib.request.urlopen(req, timeout=30)
            return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def handle(self, h):
        is_blob = "/blobs/sha256:" in h.path and h.command == "GET"
        mode = self.mode or ""
        if is_blob:
            with self.lock:
                self.blob_gets += 1
                self.inflight += 1
                self.max_inflight = max(self.max_inflight, self.inflight)
                first = h.path not in self.seen
                self.seen.add(h.path)
        try:
            if is_blob and mode.startswith("redirect:"):
                h.send_response(307)
                h.send_header("Location", mode[len("redirect:"):])
                h.send_header("Content-Length", "0")
                h.end_headers()
                return
            status, headers, body = self._fetch(h)
            if is_blob and mode == "slow-blobs":
                # Counted while the request waits, before a byte of the answer
                # goes out: a client that got its answer may send the next one
                # before this handler has returned.
                with self.lock:
                    self.waiting += 1
                    self.max_waiting = max(self.max_waiting, self.waiting)
                time.sleep(self.delay_s)
                with self.lock:
                    self.waiting -= 1
            if status == 200 and "/manifests/" in h.path and mode == "manifest-tamper":
                body = body.replace(b'"schemaVersion":2', b'"schemaVersion": 2', 1)
                if b'"schemaVersion": 2' not in body:
                    body = body + b" "
            if status == 200 and is_blob and mode == "blob-tamper" and len(body) > 600:
                body = body[:500] + bytes([body[500] ^ 0xff]) + body[501:]
            cut = status == 200 and is_blob and len(body) > 1 and (
                mode == "drop-always" or (mode == "drop-once" and first) or mode == "stall")
            h.send_response(status)
            for k, v in headers.items():
                if k.lower() not in ("content-length", "connection", "transfer-encoding", "date"):
                    h.send_header(k, v)
            h.send_header("Content-Length", str(len(body)))
            if cut:
                h.send_header("Connection", "close")
            h.end_headers()
            if h.command == "HEAD":
                return
            if cut:
                h.wfile.write(body[:len(body) // 2])
                h.wfile.flush()
                if mode == "stall":
                    time.sleep(self.stall_s)
                h.close_connection = True
                try:
                    h.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            h.wfile.write(body)
        finally:
            if is_blob:
                with self.lock:
                    self.inflight -= 1

    def reset(self, mode=None):
        # Handlers of an earlier case may still sleep (a stall outlives the
        # client's idle timeout): wait for them, they would count.
        deadline = time.monotonic() + 20
        while self.inflight and time.monotonic() < deadline:
            time.sleep(0.05)
        with self.lock:
            self.mode = mode
            self.blob_gets = 0
            self.seen = set()
            self.max_inflight = 0
            self.max_waiting = 0

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- images ------------------------------------------------------------------

def many_layers_archive(path, n=6, size=64 << 10):
    """An OCI archive of n layers (one file of size random bytes each), tag many:latest."""
    mtime = 1704067200
    blobs, descs, ids = {}, [], []

    def blob(data, mt):
        h = hashlib.sha256(data).hexdigest()
        blobs[h] = data
        return {"mediaType": mt, "digest": "sha256:" + h, "size": len(data)}

    for i in range(n):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
            ti = tarfile.TarInfo("layer%d.bin" % i)
            data = os.urandom(size)
            ti.size = len(data)
            ti.mtime = mtime
            t.addfile(ti, io.BytesIO(data))
        raw = buf.getvalue()
        ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
        descs.append(blob(raw, "application/vnd.oci.image.layer.v1.tar"))
    cfg = {"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/layer0.bin"]},
           "rootfs": {"type": "layers", "diff_ids": ids}}
    cd = blob(json.dumps(cfg).encode(), "application/vnd.oci.image.config.v1+json")
    md = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                          "config": cd, "layers": descs}).encode(), "application/vnd.oci.image.manifest.v1+json")
    md["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = mtime
            t.addfile(ti, io.BytesIO(data))
        add("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        add("index.json", json.dumps({"schemaVersion": 2, "manifests": [md]}).encode())
        for h, data in blobs.items():
            add("blobs/sha256/" + h, data)
    return "sha256:" + hashlib.sha256(json.dumps(cfg).encode()).hexdigest()
