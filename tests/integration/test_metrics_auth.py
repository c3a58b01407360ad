# SPDX-License-Identifier: MIT
"""GET /metrics wants the same Basic auth as /system/* by default (it names
every tenant's functions and their traffic): 401 with the same challenge
without it or with a wrong password, the metrics with it. With
"metrics_auth": false the operator opens it (as the OpenFaaS gateway's
metrics port). /healthz and /function/* stay open either way."""
import requests

from sfaasd_testlib import HTTP_TIMEOUT, Api

CHALLENGE = 'Basic realm="Restricted"'


def get_metrics(d, auth=None):
    return requests.get(d.url + "/metrics", auth=auth, timeout=HTTP_TIMEOUT)


def assert_metrics(r):
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE process_open_fds gauge" in r.text


def test_open_when_the_operator_says_so(make_daemon):
    d = make_daemon(config={"metrics_auth": False})
    assert_metrics(get_metrics(d))
    assert_metrics(get_metrics(d, ("admin", "wrong")))  # credentials are not even looked at
    assert requests.get(d.url + "/system/functions", timeout=HTTP_TIMEOUT).status_code == 401


def test_metrics_auth_by_default(make_daemon, images):
    d = make_daemon()
    for auth in (None, ("admin", "wrong"), ("someone", d.password)):
        r = get_metrics(d, auth)
        assert r.status_code == 401, (auth, r.status_code)
        assert r.headers["WWW-Authenticate"] == CHALLENGE
        assert r.json() == {"error": "invalid credentials"}
        assert "process_open_fds" not in r.text
    assert_metrics(get_metrics(d, ("admin", d.password)))
    # the same as the /system/ routes answer
    r = requests.get(d.url + "/system/functions", timeout=HTTP_TIMEOUT)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == CHALLENGE
    # what stays open
    assert requests.get(d.url + "/healthz", timeout=HTTP_TIMEOUT).status_code == 200
    api = Api(d)
    assert api.import_image(images.path("busybox-oci.tar")).status_code == 200
    api.deploy("mcat", fprocess="cat", expect=202)
    assert api.invoke("mcat", data=b"open").text == "open"


def test_metrics_auth_must_be_a_bool(make_daemon):
    d = make_daemon(config={"metrics_auth": "yes"}, start=False)
    try:
        d.start()
    except Exception as e:  # DaemonError: it exits before listening
        assert "metrics_auth" in str(e)
    else:
        raise AssertionError("a string for metrics_auth was accepted")
