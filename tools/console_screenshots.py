#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Take the README's screenshots of the web console: a daemon of its own
in a temporary folder, a few functions and tenants, Debian's chromium
headless through chromedriver (as tests/browser does).

  /usr/bin/python3 tools/console_screenshots.py [OUT_DIR]    (default docs/screenshots)

Writes functions.png (the list after some calls) and tenant.png (a
tenant's quotas and use, and a token just issued, shown once). The
charts' picture needs an hour of history and is not made here.
"""
import base64
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
os.environ.setdefault("SFAASD_BIN", os.path.join(REPO, "sfaasd"))

import requests  # noqa: E402
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from sfaasd_testlib import Api, Daemon, build_fixture_images  # noqa: E402

WIDTH = 1180


def demo(d, api):
    fx = os.path.join(REPO, "tests", "fixtures", "out")
    build_fixture_images(fx)
    bb = api.import_image(os.path.join(fx, "busybox-oci.tar")).json()
    api.import_image(os.path.join(fx, "httpfn-oci.tar"))
    api.deploy("api", image="httpfn:latest", expect=202)
    api.deploy("echo", fprocess="cat", expect=202)
    api.deploy("report", fprocess="sh -s", expect=202)
    api.deploy("resize", fprocess="cat", expect=202)
    s = requests.Session()
    for i in range(40):
        s.post(d.url + "/function/api", data=b"x", timeout=30)
        s.post(d.url + "/function/echo", data=b"hello", timeout=30)
        if i % 2 == 0:
            s.post(d.url + "/function/resize", data=b"img" * 1000, timeout=30)
        if i % 3 == 0:
            s.post(d.url + "/function/report", data=b"exit 3" if i % 9 == 0 else b"echo ok", timeout=30)
    api.post("/system/tenants", json={"name": "acme", "quotas": {"functions": 20, "memory": "2Gi", "cpu": "2",
                                                                  "invokeRate": 100}})
    api.post("/system/tenants", json={"name": "globex"})
    api.deploy("thumbnail", image=bb["id"], fprocess="cat", namespace="acme", expect=202)
    api.deploy("checkout", image=bb["id"], fprocess="cat", namespace="acme", expect=202)
    api.post("/system/tenants/acme/tokens", json={"name": "ci", "expiresIn": "90d"})
    old = api.post("/system/tenants/acme/tokens", json={"name": "old-laptop"}).json()
    api.delete("/system/tenants/acme/tokens/" + old["id"])
    api.post("/system/tenants/acme/keys", json={"name": "partner", "function": "checkout"})


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "docs", "screenshots"))
    base = tempfile.mkdtemp(prefix="sfaasd-shots-")
    d = Daemon(os.path.join(base, "data"), name="screenshots")
    d.start()
    profile = tempfile.mkdtemp(prefix="sfaasd-chromium-")
    drv = None
    try:
        api = Api(d)
        demo(d, api)
        opts = webdriver.ChromeOptions()
        opts.binary_location = "/usr/bin/chromium"
        for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--lang=en-US",
                  "--hide-scrollbars", "--user-data-dir=" + profile):
            opts.add_argument(a)
        drv = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
        wait = WebDriverWait(drv, 20)
        drv.execute_cdp_cmd("Emulation.setEmulatedMedia",
                            {"features": [{"name": "prefers-color-scheme", "value": "light"}]})
        drv.set_window_size(WIDTH, 1400)
        drv.get(d.url + "/ui/#/login")
        wait.until(lambda _: drv.find_element(By.ID, "login-password").is_displayed())
        drv.find_element(By.ID, "login-password").send_keys(d.password + Keys.ENTER)
        wait.until(lambda _: len(drv.find_elements(By.CSS_SELECTOR, '[data-testid="function-row"]')) == 4)

        def shot(name, height):
            """The top of the page, WIDTH x height CSS pixels."""
            drv.execute_script("document.activeElement.blur(); window.scrollTo(0, 0)")
            png = drv.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": WIDTH, "height": height, "scale": 1}})["data"]
            path = os.path.join(out, name)
            with open(path, "wb") as f:
                f.write(base64.b64decode(png))
            print(path)

        wait.until(lambda _: "40" in drv.find_element(By.ID, "function-rows").text)
        shot("functions.png", 470)

        drv.execute_script("location.hash = '#/tenants/acme'")
        wait.until(lambda _: drv.find_elements(By.CSS_SELECTOR, '[data-testid="token-row"]'))
        drv.find_element(By.ID, "token-name").send_keys("deploy-bot")
        drv.find_element(By.CSS_SELECTOR, '[data-testid="token-issue"]').click()
        wait.until(lambda _: drv.find_elements(By.ID, "token-once-value"))
        wait.until(lambda _: len(drv.find_elements(By.CSS_SELECTOR, '[data-testid="token-row"]')) == 3)
        shot("tenant.png", 1290)
    finally:
        if drv:
            drv.quit()
        d.stop()


if __name__ == "__main__":
    main()
