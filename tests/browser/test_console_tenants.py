# SPDX-License-Identifier: MIT
"""Tenants, the admin's page: create one, set its quotas (and see its use),
issue a token shown once, sign in with it as the tenant (its namespace
only), revoke it from another tab and see the tenant's next request fail
in words; invoke-auth and invoke keys; the audit trail with its filters
and chain check; deleting asks first and says why it cannot."""
import os
import sqlite3

import requests
from selenium.common.exceptions import ElementNotInteractableException
from selenium.webdriver.common.keys import Keys

from sfaasd_testlib import HTTP_TIMEOUT, Api, Daemon


def rows(ui, testid):
    return {r.get_attribute("data-name"): r for r in ui.ta(testid)}


def sign_in_as(ui, user, secret):
    if ui.visible("signout"):
        ui.click("signout")
    ui.wait_visible("login-form")
    ui.fill("login-username", user)
    ui.fill("login-password", secret + Keys.ENTER)
    ui.wait_visible("function-list")


def quota_input(ui, key):
    return ui.q('[data-testid="quota-input"][data-key="%s"]' % key)


def test_tenant_lifecycle_token_once_revoke_and_audit(ui, api, busybox):
    api.deploy("admins-own", fprocess="cat", expect=202)

    # The admin creates a tenant from the Tenants page; a bad name is
    # refused next to the field first.
    ui.click("nav-tenants")
    ui.wait_visible("tenant-list")
    assert ui.hash() == "#/tenants"
    ui.fill("tenant-new-name", "bad name")
    ui.click("tenant-create")
    assert "letters" in ui.wait_text("tenant-form-error", r"\w")
    assert ui.t("tenant-new-name").get_attribute("aria-invalid") == "true"
    ui.fill("tenant-new-name", "acme-web" + Keys.ENTER)
    ui.wait(lambda: ui.hash() == "#/tenants/acme-web", "the new tenant's page")
    ui.wait_visible("quota-table")
    assert ui.t("tenant-name").text == "acme-web"
    assert api.get("/system/tenants/acme-web").status_code == 200
    # Creating it again says so where it was asked.
    ui.click("nav-tenants")
    ui.wait(lambda: "acme-web" in rows(ui, "tenant-row"), "acme-web listed")
    ui.fill("tenant-new-name", "acme-web" + Keys.ENTER)
    assert "exists already" in ui.wait_text("tenant-form-error", r"\w")
    rows(ui, "tenant-row")["acme-web"].find_element("css selector", "a").click()
    ui.wait_visible("quota-table")

    # Quotas, with the current use beside them.
    api.deploy("acme-fn", image=busybox["id"], fprocess="cat", namespace="acme-web", expect=202)
    ui.d.refresh()
    ui.wait_visible("quota-table")
    fn_row = ui.q('[data-testid="quota-row"][data-key="functions"]')
    ui.wait(lambda: fn_row.find_element("css selector", '[data-testid="quota-use"]').text == "1", "1 function in use")
    quota_input(ui, "functions").clear()
    quota_input(ui, "functions").send_keys("x")
    ui.click("quota-save")
    assert "whole number" in ui.wait_text("quota-error", r"\w")
    assert quota_input(ui, "functions").get_attribute("aria-invalid") == "true"
    quota_input(ui, "functions").clear()
    quota_input(ui, "functions").send_keys("3")
    # A unit the daemon does not know: its answer, in words, at the form.
    quota_input(ui, "memory").clear()
    quota_input(ui, "memory").send_keys("5Xb")
    ui.click("quota-save")
    assert "'memory'" in ui.wait_text("quota-error", "memory")
    assert api.get("/system/tenants/acme-web").json()["quotas"]["functions"] != 3  # nothing half-saved
    quota_input(ui, "memory").clear()
    quota_input(ui, "memory").send_keys("256Mi")
    ui.click("quota-save")
    ui.wait_text("quota-note", "Saved")
    assert not ui.visible("quota-error")
    q = api.get("/system/tenants/acme-web").json()["quotas"]
    assert q["functions"] == 3 and q["memory"] == 256 << 20, q
    ui.d.refresh()
    ui.wait_visible("quota-table")
    ui.wait(lambda: quota_input(ui, "memory").get_attribute("value") == "256Mi", "the memory quota read back")
    assert quota_input(ui, "functions").get_attribute("value") == "3"

    # A token, shown once.
    ui.fill("token-name", "browser" + Keys.ENTER)  # the keyboard alone
    once = ui.wait_visible("token-once-value")
    token = once.get_attribute("value")
    # Focus is on it, selected, ready to copy.
    assert ui.d.switch_to.active_element.get_attribute("id") == "token-once-value"
    assert token.startswith("sfa_"), token
    ui.wait(lambda: "browser" in rows(ui, "token-row"), "the token listed")
    tok_row = rows(ui, "token-row")["browser"]
    assert "active" in tok_row.text and token not in tok_row.text
    ui.d.refresh()
    ui.wait(lambda: "browser" in rows(ui, "token-row"), "the token listed after a reload")
    assert not ui.visible("token-once") and token not in ui.d.page_source

    # The tenant signs in with it in this tab: its namespace, nothing else.
    admin_tab = None
    tenant_tab = ui.d.current_window_handle
    sign_in_as(ui, "acme-web", token)
    assert ui.t("signed-in-as").text == "acme-web"
    assert ui.hash() == "#/ns/acme-web/functions"
    ui.wait(lambda: list(rows(ui, "function-row")) == ["acme-fn"], "only the tenant's function")
    assert not ui.q('[data-nav="tenants"]').is_displayed()
    ui.go("#/tenants")
    assert "admin" in ui.wait_text("missing-text", r"\w")
    ui.go("#/tenants/acme-web")
    assert "admin" in ui.wait_text("missing-text", r"\w")
    ui.go("#/ns/openfaas-fn/fn/admins-own")
    assert "openfaas-fn" in ui.wait_text("missing-text", r"\w")
    # Its own quotas (read-only), invoke setting and keys; no tokens.
    ui.click("nav-settings")
    ui.wait_visible("quota-table")
    assert ui.hash() == "#/ns/acme-web/settings"
    fn_row = ui.q('[data-testid="quota-row"][data-key="functions"]')
    assert fn_row.find_element("css selector", '[data-testid="quota-limit"]').text == "3"
    assert not ui.ta("quota-input") and not ui.visible("quota-save")
    assert not ui.visible("token-list") and not ui.visible("tenant-delete")
    ui.fill("key-name", "own-key")
    ui.click("key-issue")
    assert ui.wait_visible("key-once-value").get_attribute("value").startswith("sfk_")
    ui.wait(lambda: "own-key" in rows(ui, "key-row"), "the tenant's own key listed")
    # Its own audit trail, without the tenant filter.
    ui.click("nav-audit")
    ui.wait_visible("audit-list")
    assert not ui.q("#audit-tenant-box").is_displayed()
    ui.go("#/ns/acme-web/functions")
    ui.wait(lambda: list(rows(ui, "function-row")) == ["acme-fn"], "the list again")

    # The admin, in another tab (its own session), revokes the token.
    try:
        ui.d.switch_to.new_window("tab")
        admin_tab = ui.d.current_window_handle
        ui.open("#/tenants/acme-web")
        ui.wait_visible("login-form")
        ui.fill("login-username", "admin")
        ui.fill("login-password", ui.daemon.password + Keys.ENTER)
        ui.wait_visible("token-list")
        ui.wait(lambda: "browser" in rows(ui, "token-row"), "the token listed")
        revoke = rows(ui, "token-row")["browser"].find_element("css selector", '[data-testid="token-revoke"]')
        revoke.click()
        ui.wait_visible("confirm-dialog")
        ui.click("confirm-cancel")  # asking first: cancel changes nothing
        ui.wait(lambda: not ui.visible("confirm-dialog"), "the dialog to close")
        assert api.get("/system/tenants/acme-web/tokens").json()[0]["active"] is True
        revoke.click()
        ui.wait_visible("confirm-dialog")
        ui.click("confirm-ok")
        ui.wait(lambda: "revoked" in rows(ui, "token-row")["browser"].text, "the token revoked")
        ui.read_log()
    finally:
        if admin_tab:
            ui.d.close()
        ui.d.switch_to.window(tenant_tab)

    # The tenant's next request fails, and the console says why. (The
    # list's own 10 s refresh may have made that request already.)
    try:
        ui.click("refresh")
    except ElementNotInteractableException:
        pass
    ui.wait_visible("login-form")
    msg = ui.wait_text("login-error", r"\w")
    assert "no longer accepts" in msg and "revoked" in msg, msg
    assert ui.hash() == "#/login"
    r = requests.get(ui.daemon.url + "/system/functions", auth=("acme-web", token), timeout=HTTP_TIMEOUT)
    assert r.status_code == 401

    # The admin reads what happened in the audit trail, filtered.
    sign_in_as(ui, "admin", ui.daemon.password)
    ui.go("#/audit?tenant=acme-web")
    ui.wait_visible("audit-list")
    ui.wait(lambda: len(ui.ta("audit-row")) >= 4, "the tenant's records")
    details = [e.text for e in ui.ta("audit-detail")]
    text = "\n".join(details)
    assert "created tenant 'acme-web'" in text, text
    assert "quotas" in text and "issued token" in text and "revoked token" in text, text
    # The refused request of the revoked token is there, by its outcome.
    ui.select("audit-outcome", value="refused")
    ui.wait(lambda: ui.ta("audit-row") and all(s.text in ("401", "403") for s in ui.ta("audit-status")),
            "only refusals")
    assert any("invalid" in w.text or "bad credentials" in w.text for w in ui.ta("audit-who"))
    assert "outcome=refused" in ui.hash() and "tenant=acme-web" in ui.hash()
    ui.d.refresh()  # the filters are kept in the address
    ui.wait(lambda: ui.t("audit-outcome").get_attribute("value") == "refused", "the filter kept")
    ui.wait(lambda: ui.ta("audit-row") and all(s.text in ("401", "403") for s in ui.ta("audit-status")),
            "only refusals after the reload")
    ui.select("audit-outcome", value="")
    ui.fill("audit-text", "revoked token")
    ui.wait(lambda: len(ui.ta("audit-row")) >= 1 and all("revoked" in d.text for d in ui.ta("audit-detail")),
            "the text filter")
    # One tenant's records are each checked against their hash; the whole
    # trail is checked as a chain.
    ui.wait(lambda: ui.t("audit-chain").get_attribute("data-state") == "intact", "the records checked")
    assert "matches its hash" in ui.t("audit-chain").text
    ui.select("audit-tenant", value="")
    ui.wait(lambda: "Chain intact" in ui.t("audit-chain").text, "the chain checked")
    assert ui.hash() == "#/audit?q=revoked+token"

    # Deleting asks first, and says why it cannot while functions remain.
    ui.go("#/tenants/acme-web")
    ui.wait_visible("quota-table")
    ui.click("tenant-delete")
    ui.wait_visible("confirm-dialog")
    ui.click("confirm-ok")
    assert "still has functions" in ui.wait_text("tenant-error", r"\w")
    assert api.get("/system/tenants/acme-web").status_code == 200
    assert api.remove("acme-fn", namespace="acme-web").status_code == 200
    ui.click("tenant-delete")
    ui.wait_visible("confirm-dialog")
    ui.click("confirm-ok")
    ui.wait(lambda: ui.hash() == "#/tenants", "back to the list")
    ui.wait(lambda: "openfaas-fn" in rows(ui, "tenant-row") and "acme-web" not in rows(ui, "tenant-row"),
            "acme-web gone from the list")
    assert api.get("/system/tenants/acme-web").status_code == 404
    # And from the namespace switcher.
    assert "acme-web" not in [o.get_attribute("value") for o in ui.qa("#namespace option")]


def test_invoke_auth_and_invoke_keys(ui, api, busybox):
    r = api.post("/system/tenants", json={"name": "keyed"})
    assert r.status_code == 201, r.text
    api.deploy("keyed-fn", image=busybox["id"], fprocess="cat", namespace="keyed", expect=202)
    ui.go("#/tenants/keyed")
    ui.wait_visible("key-list")
    url = ui.daemon.url + "/function/keyed-fn.keyed"
    assert requests.post(url, data=b"hi", timeout=HTTP_TIMEOUT).status_code == 200
    # Calls need a credential from now on.
    box = ui.t("tenant-invoke-auth")
    ui.wait(lambda: box.is_enabled(), "the setting read")
    assert not box.is_selected()
    ui.click("tenant-invoke-auth")
    ui.wait(lambda: api.get("/system/tenants/keyed/invoke").json()["auth"] is True, "calls closed")
    assert requests.post(url, data=b"hi", timeout=HTTP_TIMEOUT).status_code == 401
    # A key for that one function, shown once, works for calls.
    ui.wait(lambda: "keyed-fn" in [o.get_attribute("value") for o in ui.qa("#key-function option")], "the functions")
    ui.fill("key-name", "partner")
    ui.select("key-function", value="keyed-fn")
    ui.click("key-issue")
    key = ui.wait_visible("key-once-value").get_attribute("value")
    assert key.startswith("sfk_"), key
    ui.wait(lambda: "partner" in rows(ui, "key-row"), "the key listed")
    assert "keyed-fn" in rows(ui, "key-row")["partner"].text
    r = requests.post(url, data=b"hi", headers={"Authorization": "Bearer " + key}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 200 and r.content == b"hi"
    ui.click("key-once-hide")
    assert not ui.visible("key-once")
    # Revoked, it is refused.
    rows(ui, "key-row")["partner"].find_element("css selector", '[data-testid="key-revoke"]').click()
    ui.wait_visible("confirm-dialog")
    ui.click("confirm-ok")
    ui.wait(lambda: "revoked" in rows(ui, "key-row")["partner"].text, "the key revoked")
    # Focus does not fall off the page with the button's row.
    assert ui.d.switch_to.active_element.get_attribute("id") == "keys-title"
    r = requests.post(url, data=b"hi", headers={"Authorization": "Bearer " + key}, timeout=HTTP_TIMEOUT)
    assert r.status_code == 401
    # Open again.
    ui.click("tenant-invoke-auth")
    ui.wait(lambda: api.get("/system/tenants/keyed/invoke").json()["auth"] is False, "calls open")
    ui.d.refresh()
    ui.wait_visible("key-list")
    ui.wait(lambda: ui.t("tenant-invoke-auth").is_enabled() and not ui.t("tenant-invoke-auth").is_selected(),
            "the setting kept")
    api.remove("keyed-fn", namespace="keyed")
    assert api.delete("/system/tenants/keyed").status_code == 200


def test_switcher_follows_tenants_made_elsewhere(ui, api):
    """A tenant made with the CLI or the API while the console is open
    shows in the namespace switcher once the Tenants page is read."""
    assert api.post("/system/tenants", json={"name": "made-elsewhere"}).status_code == 201
    ui.click("nav-tenants")
    ui.wait(lambda: "made-elsewhere" in rows(ui, "tenant-row"), "the tenant listed")
    ui.wait(lambda: "made-elsewhere" in [o.get_attribute("value") for o in ui.qa("#namespace option")],
            "the switcher to offer it")
    ui.select("namespace-select", value="made-elsewhere")
    ui.wait(lambda: ui.hash() == "#/tenants", "the same page")
    assert api.delete("/system/tenants/made-elsewhere").status_code == 200
    ui.click("tenants-refresh")
    ui.wait(lambda: "made-elsewhere" not in [o.get_attribute("value") for o in ui.qa("#namespace option")],
            "the switcher to drop it")
    ui.click("nav-functions")
    ui.wait(lambda: ui.hash() == "#/ns/openfaas-fn/functions", "the default namespace's functions")


def test_tenant_page_of_nobody_says_so(ui):
    ui.go("#/tenants/nobody-here")
    assert "no tenant nobody-here" in ui.wait_text("tenant-error", r"\w")
    assert not ui.visible("tenant-body")


def test_audit_chain_check_finds_a_changed_or_removed_record(console_for, tmp_path):
    """The audit page checks what it reads: a record changed in the
    database after the fact, or one taken out of the middle, is named (a
    daemon of its own, since its trail is tampered with)."""
    d = Daemon(tmp_path / "data", name="tamper", log_dir=tmp_path / "logs")
    d.start()
    try:
        api = Api(d)
        assert api.post("/system/tenants", json={"name": "t1"}).status_code == 201
        tok = api.post("/system/tenants/t1/tokens", json={"name": "x"}).json()
        assert api.delete("/system/tenants/t1/tokens/" + tok["id"]).status_code == 200
        assert api.put("/system/tenants/t1", json={"quotas": {"functions": 5}}).status_code == 200

        def audit_page():
            c = console_for(d)
            c.open("#/login")
            c.wait_visible("login-form")
            c.sign_in()
            c.go("#/audit")
            c.wait(lambda: c.t("audit-chain").get_attribute("data-state"), "the chain checked")
            errs = c.errors()
            assert not errs, errs
            return c

        c = audit_page()
        assert c.t("audit-chain").get_attribute("data-state") == "intact", c.t("audit-chain").text
        assert "Chain intact: 4 records checked from the first" in c.t("audit-chain").text

        db = os.path.join(d.data_dir, "sfaasd.db")
        d.stop()
        con = sqlite3.connect(db)
        detail = con.execute("SELECT detail FROM audit WHERE seq = 2").fetchone()[0]
        con.execute("UPDATE audit SET detail = 'nothing happened' WHERE seq = 2")
        con.commit()
        con.close()
        d.start()
        c = audit_page()
        assert c.t("audit-chain").get_attribute("data-state") == "broken"
        assert "Record 2 does not match its hash" in c.t("audit-chain").text

        d.stop()
        con = sqlite3.connect(db)
        con.execute("UPDATE audit SET detail = ? WHERE seq = 2", (detail,))
        con.execute("DELETE FROM audit WHERE seq = 3")
        con.commit()
        con.close()
        d.start()
        c = audit_page()
        assert c.t("audit-chain").get_attribute("data-state") == "broken"
        assert "broken at record 4" in c.t("audit-chain").text
        # The rows still show: the page says what it found, it hides nothing.
        assert len(c.ta("audit-row")) >= 3
    finally:
        d.stop()
