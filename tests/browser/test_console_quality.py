# SPDX-License-Identifier: MIT
"""What holds on every page: no JavaScript error or CSP violation, nothing
scrolls sideways at phone width (390 px), dark mode, and the basics a
keyboard or screen-reader user needs (a name for every control, headings,
focus moved to the new page, a modal dialog that gives focus back)."""
import pytest
import requests
from selenium.webdriver.common.keys import Keys

from sfaasd_testlib import HTTP_TIMEOUT

PAGES = [
    ("#/ns/openfaas-fn/functions", "function-list"),
    ("#/ns/openfaas-fn/new", "deploy-form"),
    ("#/ns/openfaas-fn/fn/q-fn", "panel-overview"),
    ("#/ns/openfaas-fn/fn/q-fn/invoke", "panel-invoke"),
    ("#/ns/openfaas-fn/fn/q-fn/logs", "panel-logs"),
    ("#/ns/openfaas-fn/fn/q-fn/charts", "panel-charts"),
    ("#/ns/openfaas-fn/fn/q-fn/edit", "deploy-form"),
    ("#/ns/openfaas-fn/images", "image-list"),
    ("#/ns/openfaas-fn/secrets", "secret-list"),
    ("#/host", "host-summary"),
    ("#/tenants", "tenant-list"),
    ("#/tenants/openfaas-fn", "quota-table"),
    ("#/audit", "audit-list"),
    ("#/ns/openfaas-fn/settings", "quota-table"),
]


@pytest.fixture(scope="module")
def qfn(api, busybox):
    """A function with a secret, long values and some log lines."""
    r = api.post("/system/secrets", json={"name": "q-secret", "value": "v"})
    assert r.status_code in (200, 409), r.text
    api.deploy("q-fn", fprocess="sh -s", secrets=["q-secret"], labels={"a-rather-long-label-name": "x" * 80},
               envVars={"LONG": "y" * 200}, expect=202)
    # A token and an invoke key with long names, for the tenant page.
    r = api.post("/system/tenants/openfaas-fn/tokens", json={"name": "q-" + "t" * 60})
    assert r.status_code == 201, r.text
    r = api.post("/system/tenants/openfaas-fn/keys", json={"name": "q-" + "k" * 60, "function": "q-fn"})
    assert r.status_code == 201, r.text
    for i in range(3):
        requests.post(api.d.url + "/function/q-fn", data=b"echo line-%d-%s >&2; echo ok" % (i, b"z" * 150),
                      timeout=HTTP_TIMEOUT)


def visit_all(ui, check):
    for hash_, testid in PAGES:
        ui.go(hash_)
        ui.wait_visible(testid)
        # Wait for the page's data where it has some.
        if "/logs" in hash_:
            ui.wait(lambda: len(ui.ta("log-line")) >= 3, "the log lines")
        if "/charts" in hash_:
            ui.wait(lambda: ui.t("chart-summary").get_attribute("data-calls") is not None, "the charts")
        if hash_.startswith("#/tenants/"):
            ui.wait(lambda: len(ui.ta("quota-row")) > 0 and len(ui.ta("token-row")) > 0, "the quotas and tokens")
        if hash_.endswith("/settings"):
            ui.wait(lambda: len(ui.ta("quota-row")) > 0 and len(ui.ta("key-row")) > 0, "the quotas and keys")
        if hash_ == "#/audit":
            ui.wait(lambda: ui.t("audit-chain").get_attribute("data-state"), "the audit trail read and checked")
        if hash_.endswith("/invoke"):
            ui.click("invoke-kind-text")
            ui.fill("invoke-body", "echo " + "w" * 300)
            ui.click("invoke-button")
            ui.wait_text("invoke-status", r"^\d")
        check(hash_)


def test_every_page_without_javascript_errors(ui, qfn):
    visit_all(ui, lambda h: None)
    # And nothing logged by any of them (the ui fixture asserts it too,
    # after each test; here it is the test).
    assert ui.errors() == []


def test_phone_width_no_sideways_scroll(ui, qfn):
    ui.d.set_window_size(390, 844)
    inner = ui.d.execute_script("return innerWidth")
    assert inner <= 390

    def check(h):
        sw, cw = ui.scroll_width()
        assert sw <= cw, "%s scrolls sideways at %d px: %d > %d" % (h, inner, sw, cw)
        # And no element pokes out to the right.
        wide = ui.d.execute_script("""
            const out = [];
            for (const e of document.querySelectorAll('body *')) {
              const r = e.getBoundingClientRect();
              if (r.width && r.right > document.documentElement.clientWidth + 1 && e.offsetParent !== null)
                out.push(e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(r.right));
            }
            return out.slice(0, 5);""")
        assert not wide, "%s: wider than the screen: %s" % (h, wide)

    visit_all(ui, check)


def background(ui):
    rgb = ui.d.execute_script("return getComputedStyle(document.body).backgroundColor")
    return [int(x) for x in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3]]


def test_dark_mode_follows_the_system_and_the_toggle(ui, qfn):
    ui.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "dark"}]})
    ui.go("#/ns/openfaas-fn/fn/q-fn/charts")
    ui.wait_visible("panel-charts")
    ui.wait(lambda: sum(background(ui)) < 120, "a dark page")
    assert ui.t("theme-toggle").text == "Theme: auto"
    ui.click("theme-toggle")  # auto -> light
    ui.wait(lambda: sum(background(ui)) > 600, "a light page, whatever the system says")
    ui.click("theme-toggle")  # light -> dark
    ui.wait(lambda: sum(background(ui)) < 120, "dark again")
    ui.d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": "light"}]})
    assert sum(background(ui)) < 120  # the choice holds
    ui.d.refresh()
    ui.wait(lambda: ui.t("theme-toggle").text == "Theme: dark", "the choice kept across a reload")
    # The tenant page's boxes and the audit trail's rows are dark too.
    ui.go("#/tenants/openfaas-fn")
    ui.wait(lambda: ui.ta("quota-input"), "the quotas")
    rgb = ui.d.execute_script("return getComputedStyle(arguments[0]).backgroundColor", ui.ta("quota-input")[0])
    assert sum(int(x) for x in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3]) < 120, rgb
    ui.go("#/audit")
    ui.wait(lambda: ui.ta("audit-row"), "the audit rows")
    rgb = ui.d.execute_script("return getComputedStyle(arguments[0]).color", ui.ta("audit-row")[0])
    assert sum(int(x) for x in rgb[rgb.index("(") + 1:rgb.index(")")].split(",")[:3]) > 500, rgb  # light text
    ui.click("theme-toggle")  # dark -> auto
    ui.wait(lambda: sum(background(ui)) > 600, "following the (light) system again")


UNNAMED = """
const out = [];
for (const e of document.querySelectorAll('input, select, textarea, button, a[href], canvas, [role]')) {
  if (e.offsetParent === null && e.tagName !== 'DIALOG') continue;   // not shown
  if (e.type === 'hidden') continue;
  let name = e.getAttribute('aria-label') || '';
  if (!name && e.labels && e.labels.length) name = [...e.labels].map(l => l.textContent).join(' ');
  if (!name && e.getAttribute('aria-labelledby'))
    name = e.getAttribute('aria-labelledby').split(' ').map(id => (document.getElementById(id) || {}).textContent || '').join(' ');
  if (!name && ['BUTTON', 'A'].includes(e.tagName)) name = e.textContent;
  if (!name && e.getAttribute('role') === 'status') name = 'status';
  if (!name && e.getAttribute('role') === 'alert') name = 'alert';
  if (!name.trim()) out.push(e.tagName + '#' + e.id + '[' + (e.getAttribute('data-testid') || '') + ']');
}
return out;"""


def test_every_control_has_a_name_and_focus_moves(ui, api, qfn):

    def check(h):
        unnamed = ui.d.execute_script(UNNAMED)
        assert not unnamed, "%s: controls without an accessible name: %s" % (h, unnamed)
        assert ui.d.execute_script("return [...document.querySelectorAll('img')].every(i => i.hasAttribute('alt'))")
        assert ui.d.execute_script("return document.documentElement.lang") == "en"

    visit_all(ui, check)
    # A new page moves focus to its heading (a screen reader reads it).
    ui.click("nav-secrets")
    ui.wait(lambda: ui.d.switch_to.active_element.get_attribute("id") == "secrets-title", "focus on the heading")
    # The skip link comes first in the tab order and jumps to the content.
    first = ui.d.execute_script("""return [...document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')]
        .find(e => e.tabIndex >= 0 && e.offsetParent !== null)""")
    assert first.get_attribute("data-testid") == "skip-link"
    first.send_keys(Keys.ENTER)
    assert ui.d.switch_to.active_element.get_attribute("id") == "main"
    # The dialog is modal, Escape cancels it, focus goes back to its opener.
    ui.go("#/ns/openfaas-fn/fn/q-fn")
    ui.wait_visible("panel-overview")
    ui.click("function-delete")
    ui.wait_visible("confirm-dialog")
    assert ui.d.switch_to.active_element.get_attribute("data-testid") == "confirm-cancel"
    ui.d.switch_to.active_element.send_keys(Keys.ESCAPE)
    ui.wait(lambda: not ui.visible("confirm-dialog"), "the dialog to close on Escape")
    assert ui.d.switch_to.active_element.get_attribute("data-testid") == "function-delete"
    assert api.get("/system/function/q-fn").status_code == 200
