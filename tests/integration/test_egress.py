# SPDX-License-Identifier: MIT
"""Where async callbacks may go (issue 13, point 5; core/http/egress.h).

The report: a callback refused loopback but reached a listener on the
host's own non-loopback address. Now every class of forbidden address is
refused on the address connected to (after DNS), before any byte is sent,
and callbackError names the class: loopback (v4, v6, IPv4-mapped, NAT64, a
name resolving to it), the host's own addresses, link-local, metadata,
private ranges, unspecified, multicast. The host's own address stays
refused under an allowlist range holding it and opens only to an entry
naming it. A redirect is never followed. The host's addresses are read
afresh for every callback: one added to an interface a moment ago counts
(checked in a network namespace this test makes, addresses added to its lo).

A receiver listens wherever a class can be reached from this machine
(loopback, the host's own address), so "refused" is told apart from "could
not connect": it must record no request at all.
"""
import http.server
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import threading

import pytest
import requests

from sfaasd_testlib import HTTP_TIMEOUT, SLOW, Api, wait_until

WAIT = 60 * SLOW
HERE = os.path.dirname(os.path.abspath(__file__))


class Receiver:
    """Records every request; /redirect answers 302 to /landed."""

    def __init__(self, host="127.0.0.1"):
        self.hits = []
        rcv = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                self.rfile.read(n)
                rcv.hits.append(self.path)
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/landed")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *a):
                pass

        family = socket.AF_INET6 if ":" in host else socket.AF_INET

        class S(http.server.ThreadingHTTPServer):
            address_family = family

        self.srv = S((host, 0), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        h = "[%s]" % host if ":" in host else host
        self.url = "http://%s:%d" % (h, self.srv.server_address[1])

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def host_address():
    """A non-loopback IPv4 address of this machine's interfaces, or None."""
    out = subprocess.run(["ip", "-j", "-4", "addr", "show"], capture_output=True, text=True).stdout
    for link in json.loads(out or "[]"):
        for a in link.get("addr_info", []):
            ip = a.get("local")
            if ip and not ip.startswith("127.") and "UP" in link.get("flags", []):
                return ip
    return None


def daemon_with_fn(make_daemon, images, config):
    d = make_daemon(config)
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    api.deploy("acat", fprocess="cat", expect=202)
    return d, api


def callback(api, url):
    """Submit a call with callback url; its final async status."""
    r = requests.post(api.d.url + "/async-function/acat", data=b"x", headers={"X-Callback-Url": url},
                      timeout=HTTP_TIMEOUT)
    assert r.status_code == 202, r.text
    cid = r.headers["X-Call-Id"]

    def final():
        st = api.get("/system/async/" + cid).json()
        return st if st["callbackState"] in ("delivered", "failed") else None

    return wait_until(final, WAIT, "the callback of %s to finish" % url, interval=0.05)


def test_each_forbidden_class_is_refused(make_daemon, images):
    d, api = daemon_with_fn(make_daemon, images, {})
    lo = Receiver("127.0.0.1")
    lo6 = Receiver("::1")
    own_ip = host_address()
    own = Receiver(own_ip) if own_ip else None
    port = lo.srv.server_address[1]
    cases = [
        (lo.url + "/", "loopback"),
        ("http://localhost:%d/" % port, "loopback"),
        (lo6.url + "/", "loopback"),
        ("http://[::ffff:127.0.0.1]:%d/" % port, "loopback"),
        ("http://[64:ff9b::7f00:1]:%d/" % port, "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://100.100.100.100/", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://169.254.1.1/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://10.0.0.1/", "private"),
        ("http://172.16.5.4/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://100.64.0.1/", "carrier-grade NAT"),
        ("http://[fd12::1]/", "unique local"),
        ("http://0.0.0.0:%d/" % port, "unspecified"),
        ("http://224.0.0.1/", "multicast"),
    ]
    if own:
        cases.append((own.url + "/", "an address of this host"))
    try:
        for url, words in cases:
            st = callback(api, url)
            assert st["callbackState"] == "failed", (url, st)
            assert words in st["callbackError"] and "not allowed for callbacks" in st["callbackError"], (url, st)
            assert st["callbackAttempts"] == 1, (url, st)  # a refused address stays refused: no retry
        assert lo.hits == [] and lo6.hits == [] and (own is None or own.hits == [])
    finally:
        for r in (lo, lo6, own):
            if r:
                r.close()
    if not own:
        pytest.skip("no non-loopback address on this machine: the host-address case was not run")


@pytest.mark.skipif(host_address() is None, reason="no non-loopback address on this machine")
def test_host_address_needs_an_exact_entry(make_daemon, images):
    own_ip = host_address()
    own = Receiver(own_ip)
    net = ipaddress.ip_network(own_ip + "/16", strict=False)
    try:
        # A range holding it opens neighbours, not the host itself.
        d, api = daemon_with_fn(make_daemon, images, {"egress_allow": str(net)})
        st = callback(api, own.url + "/range")
        assert st["callbackState"] == "failed" and "an address of this host" in st["callbackError"], st
        assert own.hits == []
        d.stop()
        # An entry naming it does.
        d, api = daemon_with_fn(make_daemon, images, {"egress_allow": own_ip + "/32"})
        st = callback(api, own.url + "/exact")
        assert st["callbackState"] == "delivered" and st["callbackStatus"] == 200, st
        assert own.hits == ["/exact"]
    finally:
        own.close()


def test_redirect_is_not_followed(make_daemon, images):
    d, api = daemon_with_fn(make_daemon, images, {"async_callback_allow_loopback": True})
    lo = Receiver("127.0.0.1")
    try:
        st = callback(api, lo.url + "/redirect")
        assert st["callbackState"] == "failed" and st["callbackStatus"] == 302, st
        assert "redirect: not followed" in st["callbackError"], st
        assert lo.hits == ["/redirect"]  # never /landed
    finally:
        lo.close()


NETNS_SCRIPT = r'''
import os, subprocess, sys, time
sys.path.insert(0, sys.argv[1])
import test_egress as t
from sfaasd_testlib import Daemon, Api
def ip(*a):
    subprocess.run(["ip"] + list(a), check=True)
ip("link", "set", "lo", "up")
# lo of this namespace: a dummy interface needs a kernel module not every
# host has; the addresses are the host's all the same.
ip("addr", "add", "203.0.113.9/32", "dev", "lo")
d = Daemon(sys.argv[2], name="netns", config={"async_callback_retries": 1})
d.start()
api = Api(d)
assert api.import_image(sys.argv[3]).status_code == 200
api.deploy("acat", fprocess="cat", expect=202)
first = t.Receiver("203.0.113.9")
st = t.callback(api, first.url + "/")
print("FIRST", st["callbackState"], st["callbackError"], first.hits, flush=True)
# An address added after the daemon started, on the same interface.
ip("addr", "add", "198.51.100.20/32", "dev", "lo")
later = t.Receiver("198.51.100.20")
st = t.callback(api, later.url + "/")
print("LATER", st["callbackState"], st["callbackError"], later.hits, flush=True)
# A public-looking address that is not ours is allowed: the callback tries
# to connect (and fails: no route in this namespace), it is not refused.
st = t.callback(api, "http://203.0.113.10:9/")
print("NEIGHBOUR", st["callbackState"], st["callbackError"], flush=True)
first.close(); later.close()
d.stop()
'''


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare")
def test_addresses_added_later_count(tmp_path, images):
    # A network namespace of our own: a dummy interface, the daemon, its receivers.
    script = tmp_path / "netns.py"
    script.write_text(NETNS_SCRIPT)
    env = dict(os.environ, SFAASD_BIN=os.environ.get("SFAASD_BIN") or os.path.join(HERE, "..", "..", "sfaasd"))
    p = subprocess.run(["unshare", "--net", "--", sys.executable, str(script), HERE, str(tmp_path / "data"),
                        images.path("busybox-oci.tar")], capture_output=True, text=True, timeout=300 * SLOW, env=env)
    out = p.stdout
    assert p.returncode == 0, out + p.stderr
    lines = {l.split(" ", 1)[0]: l for l in out.splitlines() if l.split(" ", 1)[0] in ("FIRST", "LATER", "NEIGHBOUR")}
    assert "failed" in lines["FIRST"] and "an address of this host" in lines["FIRST"] and "[]" in lines["FIRST"], out
    assert "failed" in lines["LATER"] and "an address of this host" in lines["LATER"] and "[]" in lines["LATER"], out
    assert "not allowed" not in lines["NEIGHBOUR"], out
