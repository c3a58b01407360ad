# SPDX-License-Identifier: MIT
"""Signing in and out, and a URL for every view: reload and the back button
keep the place."""
from selenium.webdriver.common.keys import Keys


def test_sign_in_wrong_then_right_by_keyboard(ui):
    ui.click("signout")
    ui.wait_visible("login-form")
    # The keyboard alone: the user name is filled in, type and press Enter.
    ui.fill("login-password", "not-the-password" + Keys.ENTER)
    assert "Wrong" in ui.wait_text("login-error", r"\w")
    assert ui.visible("login-form") and not ui.visible("function-list")
    ui.fill("login-password", ui.daemon.password + Keys.ENTER)
    ui.wait_visible("function-list")
    assert ui.t("signed-in-as").text == "admin"
    assert ui.hash() == "#/ns/openfaas-fn/functions"
    assert ui.t("login-password").get_attribute("value") == ""


def test_url_per_view_reload_and_back(ui, api, busybox):
    api.deploy("nav-fn", fprocess="cat", expect=202)
    # The nav link of the page shown reloads it.
    ui.click("nav-functions")
    ui.wait(lambda: any(r.get_attribute("data-name") == "nav-fn" for r in ui.ta("function-row")), "nav-fn listed")
    ui.q('[data-name="nav-fn"] a').click()
    ui.wait_visible("panel-overview")
    assert ui.hash() == "#/ns/openfaas-fn/fn/nav-fn"
    ui.click("tab-charts")
    ui.wait_visible("panel-charts")
    assert ui.hash() == "#/ns/openfaas-fn/fn/nav-fn/charts"
    # A reload keeps the session (this tab) and the place.
    ui.d.refresh()
    ui.wait_visible("panel-charts")
    assert ui.t("function-name").text == "nav-fn"
    assert ui.t("tab-charts").get_attribute("aria-current") == "page"
    ui.d.execute_script("history.back()")
    ui.wait_visible("panel-overview")
    assert ui.hash() == "#/ns/openfaas-fn/fn/nav-fn"
    ui.d.execute_script("history.back()")
    ui.wait_visible("function-list")
    # The search is in the address too.
    ui.fill("function-search", "nav-")
    ui.wait(lambda: ui.hash() == "#/ns/openfaas-fn/functions?q=nav-", "the search in the URL")
    ui.d.refresh()
    ui.wait_visible("function-list")
    assert ui.t("function-search").get_attribute("value") == "nav-"
    ui.wait(lambda: [r.get_attribute("data-name") for r in ui.ta("function-row")] == ["nav-fn"], "the filtered list")
    # An address with nothing behind it says so.
    ui.go("#/ns/openfaas-fn/fn/nav-fn/nothing")
    assert "no page" in ui.wait_text("missing-text", r"\w")
    ui.go("#/ns/no-such-ns/functions")
    assert "no-such-ns" in ui.wait_text("missing-text", "no-such-ns")


def test_signed_out_link_returns_after_sign_in(ui, api, busybox):
    api.deploy("deep-fn", fprocess="cat", expect=202)
    ui.click("signout")
    ui.wait_visible("login-form")
    ui.open("#/ns/openfaas-fn/fn/deep-fn/invoke")
    ui.wait_visible("login-form")
    ui.fill("login-password", ui.daemon.password)
    ui.click("login-submit")
    ui.wait_visible("panel-invoke")
    assert ui.hash() == "#/ns/openfaas-fn/fn/deep-fn/invoke"


def test_tenant_signs_in_with_a_token(ui, api):
    """A tenant signs in with its name and a token (GET /system/whoami
    decides what it sees): its own namespace only, no switcher, no host view;
    the admin's default namespace is not its to open."""
    r = api.post("/system/tenants", json={"name": "webtenant"})
    assert r.status_code in (201, 409), r.text
    r = api.post("/system/tenants/webtenant/tokens", json={"name": "browser"})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    ui.click("signout")
    ui.wait_visible("login-form")
    ui.fill("login-username", "webtenant")
    ui.fill("login-password", token + Keys.ENTER)
    ui.wait_visible("function-list")
    assert ui.t("signed-in-as").text == "webtenant"
    assert ui.hash() == "#/ns/webtenant/functions"
    assert not ui.q("#ns-box").is_displayed()
    assert not ui.q('[data-nav="host"]').is_displayed()
    ui.go("#/ns/openfaas-fn/functions")
    assert "openfaas-fn" in ui.wait_text("missing-text", "openfaas-fn")
    ui.go("#/host")
    assert "admin" in ui.wait_text("missing-text", "admin")
    # Back to the admin for the tests that follow.
    ui.click("signout")
    ui.wait_visible("login-form")
    ui.fill("login-username", "admin")
    ui.fill("login-password", ui.daemon.password + Keys.ENTER)
    ui.wait_visible("function-list")
