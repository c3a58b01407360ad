# SPDX-License-Identifier: MIT
"""Browser tests of the web console: Debian's chromium, headless, driven by
chromedriver through python3-selenium, against the real daemon (one for the
session, with the fixture images of tests/integration).

  daemon    session: one `sfaasd serve` (sfaasd_testlib.Daemon)
  api       session: authenticated sfaasd_testlib.Api on it
  busybox   session: busybox:latest imported into openfaas-fn
  console_for  function: makes a Console on a daemon of the test's own
  ui        function: a Console (below) on a signed-in tab at 1280x900; after
            the test the browser's log must hold no JavaScript error, CSP
            violation or console.error (failed HTTP answers are expected in
            some tests and are not errors)

A failing test leaves a screenshot, the page's HTML and the browser log in
tests/browser/artifacts/ (SFAASD_BROWSER_ARTIFACTS overrides), listed at the
end of the run.
"""
import json
import os
import re
import shutil
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from sfaasd_testlib import ALL_DAEMONS, REPO, Api, Daemon, build_fixture_images  # noqa: E402

ARTIFACTS = os.environ.get("SFAASD_BROWSER_ARTIFACTS") or os.path.join(HERE, "artifacts")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 20  # seconds: a deadline, not a delay
FIXTURES = os.path.join(REPO, "tests", "fixtures", "out")

try:
    from selenium import webdriver
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError as e:  # reported by the browser fixture, with the fix
    webdriver = None
    SELENIUM_ERROR = str(e)

_saved = []


def _need_browser():
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if webdriver is None:
        missing.append("python3-selenium (%s)" % SELENIUM_ERROR)
    if missing:
        pytest.fail("the browser tests need Debian's chromium, chromium-driver and python3-selenium; missing: %s. "
                    "Install them with `make deps` (or apt-get install chromium chromium-driver python3-selenium)."
                    % ", ".join(missing), pytrace=False)


@pytest.fixture(scope="session")
def daemon(tmp_path_factory):
    base = tmp_path_factory.mktemp("console")
    d = Daemon(base / "data", config={"async_callback_allow_loopback": True}, name="console",
               log_dir=base / "logs")
    d.start()
    yield d
    rc = d.stop()
    assert rc == 0, "sfaasd exited %s on SIGTERM:\n%s" % (rc, d.log_tail())


@pytest.fixture(scope="session")
def api(daemon):
    return Api(daemon)


@pytest.fixture(scope="session")
def images():
    build_fixture_images(FIXTURES)
    return FIXTURES


@pytest.fixture(scope="session")
def busybox(api, images):
    r = api.import_image(os.path.join(images, "busybox-oci.tar"))
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="session")
def browser():
    _need_browser()
    profile = tempfile.mkdtemp(prefix="sfaasd-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    # Without the background-networking flags chromium tries to reach
    # Google's services at start and logs the refusals.
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--disable-default-apps", "--disable-extensions", "--disable-dev-shm-usage", "--lang=en-US",
              "--user-data-dir=" + profile):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    drv.set_window_size(1280, 900)
    yield drv
    drv.quit()
    shutil.rmtree(profile, ignore_errors=True)


class Console:
    """The console in one tab: navigation, waiting, the browser log."""

    def __init__(self, driver, daemon):
        self.d = driver
        self.daemon = daemon
        self.base = daemon.url + "/ui/"
        self.log = []

    # ---- finding -------------------------------------------------------------
    def q(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def qa(self, css):
        return self.d.find_elements(By.CSS_SELECTOR, css)

    def t(self, testid):
        return self.q('[data-testid="%s"]' % testid)

    def ta(self, testid):
        return self.qa('[data-testid="%s"]' % testid)

    def visible(self, testid):
        els = self.ta(testid)
        return bool(els) and els[0].is_displayed()

    def wait(self, cond, what, timeout=WAIT):
        """Wait for cond() to be true (re-read on every try); returns its value."""
        def ok(_):
            try:
                return cond()
            except StaleElementReferenceException:
                return False
        try:
            return WebDriverWait(self.d, timeout, poll_frequency=0.05).until(ok)
        except TimeoutException:
            raise AssertionError("timed out after %ss waiting for %s (at %s)" % (timeout, what, self.d.current_url))

    def wait_visible(self, testid):
        self.wait(lambda: self.visible(testid), testid + " to show")
        return self.t(testid)

    def wait_text(self, testid, pattern):
        rx = re.compile(pattern)
        self.wait(lambda: self.visible(testid) and rx.search(self.t(testid).text), "%s to say %r" % (testid, pattern))
        return self.t(testid).text

    # ---- acting --------------------------------------------------------------
    def open(self, hash_="#/"):
        self.d.get(self.base + hash_)

    def go(self, hash_):
        """Follow an in-app link (no page load), as a click would."""
        self.d.execute_script("location.hash = arguments[0]", hash_)

    def fill(self, testid, text):
        e = self.t(testid)
        e.clear()
        e.send_keys(text)
        return e

    def select(self, testid, text=None, value=None):
        s = Select(self.t(testid))
        if value is not None:
            s.select_by_value(value)
        else:
            s.select_by_visible_text(text)

    def click(self, testid):
        e = self.t(testid)
        self.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", e)
        e.click()

    def sign_in(self, password=None):
        self.open("#/login")
        self.wait_visible("login-form")
        self.fill("login-username", "admin")
        self.fill("login-password", password or self.daemon.password)
        self.click("login-submit")
        self.wait_visible("function-list")

    def hash(self):
        return self.d.execute_script("return location.hash")

    def scroll_width(self):
        return self.d.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")

    # ---- the browser log -----------------------------------------------------
    def read_log(self):
        self.log += self.d.get_log("browser")
        return self.log

    def errors(self):
        """Entries that are faults of the page: JavaScript errors, CSP
        violations, console.error. A 4xx/5xx the console asked for (source
        "network") is an answer it handles, not a fault."""
        return [e for e in self.read_log() if e["level"] == "SEVERE" and e.get("source") != "network"]


@pytest.fixture
def ui(browser, daemon, request):
    c = Console(browser, daemon)
    request.node._console = c
    browser.set_window_size(1280, 900)
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "light"}]})
    browser.get_log("browser")  # what earlier tests left
    c.open("#/")
    c.wait(lambda: c.visible("login-form") or c.visible("function-list"), "the console to start")
    if c.visible("login-form"):
        c.sign_in()
    yield c
    errs = c.errors()
    assert not errs, "the console logged errors:\n" + "\n".join("%s %s: %s" % (e["level"], e.get("source"), e["message"])
                                                             for e in errs)


@pytest.fixture
def console_for(browser, request):
    """A Console on another daemon than the session's (its failure
    artifacts are kept as the ui fixture's are)."""
    def make(daemon):
        c = Console(browser, daemon)
        request.node._console = c
        browser.get_log("browser")
        return c
    return make


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    c = getattr(item, "_console", None)
    if not rep.failed or c is None:
        return
    os.makedirs(ARTIFACTS, exist_ok=True)
    stem = os.path.join(ARTIFACTS, re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid) + "-" + rep.when)
    try:
        c.d.save_screenshot(stem + ".png")
        with open(stem + ".html", "w") as f:
            f.write(c.d.page_source)
        with open(stem + ".log", "w") as f:
            json.dump(c.read_log(), f, indent=1)
        _saved.append(stem + ".png")
        rep.sections.append(("browser artifacts", "%s.png, .html, .log (at %s)" % (stem, c.d.current_url)))
    except Exception as e:  # the browser itself may be gone
        rep.sections.append(("browser artifacts", "could not save: %s" % e))
    d = c.daemon
    if d.log_path:
        rep.sections.append(("sfaasd log", d.log_tail(60)))


def pytest_terminal_summary(terminalreporter):
    if _saved:
        terminalreporter.write_line("browser test artifacts (screenshots, HTML, logs) in %s:" % ARTIFACTS)
        for p in _saved:
            terminalreporter.write_line("  " + p)


def pytest_sessionfinish(session, exitstatus):
    for d in ALL_DAEMONS:
        if d.running():
            d.proc.kill()
