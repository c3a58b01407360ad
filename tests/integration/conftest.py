# SPDX-License-Identifier: MIT
"""Shared fixtures for the integration tests (see sfaasd_testlib.py).

  images        session: fixture archives built by tests/fixtures/mkimages.sh
                into tests/fixtures/out/ (plus rootbox-oci.tar)
  make_daemon   function: factory for fresh daemons (stopped at the end,
                exit code 0 asserted)
  daemon        module: one daemon per test module, config from the module's
                DAEMON_CONFIG (if any)
  api           module: authenticated Api on `daemon`
  busybox       module: busybox:latest imported into `daemon`; its JSON answer

On a failing test the stderr of every daemon involved is attached to the report.
"""
import os
import signal
import time

import pytest

from sfaasd_testlib import (ALL_DAEMONS, BIN, REPO, Api, Daemon, build_fixture_images)

FIXTURE_OUT = os.path.join(REPO, "tests", "fixtures", "out")


@pytest.fixture(scope="session", autouse=True)
def sfaasd_binary():
    if not os.access(BIN, os.X_OK):
        pytest.fail("sfaasd binary %r not found: build it (make sfaasd) or set SFAASD_BIN" % BIN)
    return BIN


@pytest.fixture(scope="session")
def images():
    build_fixture_images(FIXTURE_OUT)

    class Images:
        dir = FIXTURE_OUT

        @staticmethod
        def path(name):
            p = os.path.join(FIXTURE_OUT, name)
            assert os.path.exists(p), "fixture %s was not built" % name
            return p

    return Images()


def _stop_checked(d):
    if d.proc is None:
        return
    was_running = d.running()
    rc = d.stop()
    if was_running:
        assert rc == 0, "sfaasd exited %s on SIGTERM (graceful shutdown expected):\n%s" % (rc, d.log_tail())


@pytest.fixture
def make_daemon(tmp_path):
    made = []

    def make(config=None, name="sfaasd", data_dir=None, start=True):
        d = Daemon(data_dir or tmp_path / ("data-%d" % len(made)), config=config,
                   name="%s-%d" % (name, len(made)), log_dir=tmp_path / "logs")
        made.append(d)
        if start:
            d.start()
        return d

    yield make
    errors = []
    for d in made:
        try:
            _stop_checked(d)
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.fixture(scope="module")
def daemon(request, tmp_path_factory):
    config = getattr(request.module, "DAEMON_CONFIG", None)
    base = tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2])
    d = Daemon(base / "data", config=config, name=request.module.__name__.rpartition(".")[2],
               log_dir=base / "logs")
    d.start()
    yield d
    _stop_checked(d)


@pytest.fixture(scope="module")
def api(daemon):
    return Api(daemon)


@pytest.fixture(scope="module")
def busybox(api, images):
    r = api.import_image(images.path("busybox-oci.tar"))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def rootbox(api, images):
    r = api.import_image(images.path("rootbox-oci.tar"), name="rootbox:latest")
    assert r.status_code == 200, r.text
    return r.json()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item._sfaasd_t0 = time.monotonic()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    t0 = getattr(item, "_sfaasd_t0", 0)
    for d in ALL_DAEMONS:
        if d.log_path and (d.running() or (d.stopped_at or 0) >= t0):
            rep.sections.append(("sfaasd log %s (%s)" % (d.name, d.log_path), d.log_tail(120)))


def pytest_sessionfinish(session, exitstatus):
    # Never leave a daemon behind, whatever happened.
    for d in ALL_DAEMONS:
        if d.running():
            d.signal(signal.SIGKILL)
