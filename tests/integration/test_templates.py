# SPDX-License-Identifier: MIT
"""The OpenFaaS templates' images (issue 14, point 4): readiness of
of-watchdog in http mode, com.openfaas.health.http.path, one replica at
deploy unless com.openfaas.scale.zero is "true".

httpfn-ofwd (tests/fixtures/mkimages.sh) behaves like of-watchdog in http
mode: /usr/bin/fwatchdog answers GET /_/health 200 at once and relays every
other request to its upstream (a child process on 127.0.0.1:8082), which
listens 150 ms later; a call in between gets 500 with X-OpenFaaS-Internal:
of-watchdog, as the real one answers.
"""
import time

import pytest

from sfaasd_testlib import SLOW, error_of
from test_http_mode import available, import_http_images, replicas, status, wait_status

ZERO = "com.openfaas.scale.zero"
HEALTH_PATH = "com.openfaas.health.http.path"
DEADLINE = 20 * SLOW
CYCLES = 200
DAEMON_CONFIG = {"http_ready_timeout": "5s"}


@pytest.fixture(scope="module")
def imgs(api, images):
    ids = import_http_images(api, images)
    r = api.import_image(images.path("httpfn-ofwd-oci.tar"))
    assert r.status_code == 200, r.text
    return ids


def scale(api, name, n):
    r = api.post("/system/scale-function/" + name, json={"serviceName": name, "replicas": n})
    assert r.status_code == 200, r.text


def test_one_replica_at_deploy(api, imgs):
    """faas-cli ready right after a deploy: OpenFaaS starts one replica,
    so does sfaasd, without a call."""
    api.deploy("tpl-one", image="httpfn:latest", expect=202)
    st = wait_status(api, "tpl-one", lambda s: available(s) == 1, "tpl-one: one ready replica, no call")
    assert replicas(st) == 1
    # after a daemon-side idle period it stays: the floor is one
    assert api.remove("tpl-one").status_code == 200


def test_scale_zero_opt_in_starts_none(api, imgs):
    api.deploy("tpl-zero", image="httpfn:latest", annotations={ZERO: "true"}, expect=202)
    st = status(api, "tpl-zero")
    assert replicas(st) == 0 and available(st) == 0, st
    r = api.invoke("tpl-zero", path="/hello")
    assert r.status_code == 200, r.text
    assert available(status(api, "tpl-zero")) == 1
    assert api.remove("tpl-zero").status_code == 200


def test_ofwatchdog_http_mode_no_cold_start_errors(api, imgs):
    """200 scale-from-zero cycles: every first call answers 200 (the
    instance counts as ready only once the upstream listens)."""
    name = "tpl-ofwd"
    api.deploy(name, image="httpfn-ofwd:latest", annotations={ZERO: "true"}, expect=202)
    failures = []
    t0 = time.monotonic()
    for i in range(CYCLES):
        r = api.invoke(name, path="/hello")
        if r.status_code != 200 or r.text != "hello\n":
            failures.append((i, r.status_code, r.headers.get("X-OpenFaaS-Internal"), r.text[:120]))
        scale(api, name, 0)
        wait_status(api, name, lambda s: not s["sfaasd"]["instances"], "%s: scaled to zero" % name,
                    timeout=DEADLINE)
    elapsed = time.monotonic() - t0
    assert not failures, "%d of %d cold calls failed, first: %r" % (len(failures), CYCLES, failures[:3])
    # each cycle waited for the upstream (150 ms), not just /_/health
    assert elapsed >= CYCLES * 0.15, elapsed
    assert api.remove(name).status_code == 200


def test_ofwatchdog_upstream_that_never_listens(api, imgs):
    """An upstream that never comes up: the start times out naming it,
    the call is not answered with the watchdog's 500 as a success."""
    name = "tpl-ofwd-dead"
    api.deploy(name, image="httpfn-ofwd:latest", annotations={ZERO: "true"},
               env={"upstream_url": "http://127.0.0.1:8099", "UPSTREAM_DELAY_MS": "3600000"}, expect=202)
    r = api.invoke(name, path="/hello", timeout=60 * SLOW)
    assert r.status_code == 503, r.text
    assert "upstream never listened" in error_of(r), r.text
    assert api.remove(name).status_code == 200


def test_health_path_annotation(api, imgs):
    """com.openfaas.health.http.path: readiness is that path answering
    200-399, for any image (here a server whose /_/health says 503 for its
    first 400 ms; without the annotation a TCP connect would do)."""
    name = "tpl-path"
    api.deploy(name, image="httpfn:latest", annotations={ZERO: "true", HEALTH_PATH: "/_/health"},
               env={"HEALTH_DELAY_MS": "400"}, expect=202)
    t0 = time.monotonic()
    r = api.invoke(name, path="/hello")
    took = time.monotonic() - t0
    assert r.status_code == 200, r.text
    assert took >= 0.4, took
    assert api.remove(name).status_code == 200
    # without it: ready at the TCP connect, well before /_/health says 200
    api.deploy(name + "2", image="httpfn:latest", annotations={ZERO: "true"}, env={"HEALTH_DELAY_MS": "2000"},
               expect=202)
    t0 = time.monotonic()
    assert api.invoke(name + "2", path="/hello").status_code == 200
    assert time.monotonic() - t0 < 2.0
    assert api.remove(name + "2").status_code == 200


@pytest.mark.parametrize("path", ["ready", "/a b", "/x\r\nHost: y", "/" + "p" * 200])
def test_health_path_refused(api, imgs, path):
    r = api.deploy("tpl-badpath", image="httpfn:latest", annotations={HEALTH_PATH: path})
    assert r.status_code == 400, r.text
    assert HEALTH_PATH in error_of(r)


def test_health_initial_delay(api, imgs):
    """com.openfaas.health.http.initialDelay: no readiness probe before it
    (the instance counts as starting that long); a bad value is refused."""
    name = "tpl-delay"
    api.deploy(name, image="httpfn:latest", annotations={ZERO: "true", "com.openfaas.health.http.initialDelay": "600ms"},
               expect=202)
    t0 = time.monotonic()
    r = api.invoke(name, path="/hello")
    assert r.status_code == 200, r.text
    assert time.monotonic() - t0 >= 0.6
    assert api.remove(name).status_code == 200
    r = api.deploy("tpl-delay-bad", image="httpfn:latest", annotations={"com.openfaas.health.http.initialDelay": "soon"})
    assert r.status_code == 400 and "initialDelay" in error_of(r), r.text
