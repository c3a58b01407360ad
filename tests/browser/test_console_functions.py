# SPDX-License-Identifier: MIT
"""A function's life in the console: a secret, a deploy with it and limits,
invoke, the log line arriving live, the chart count moving, an edit that
keeps every setting, delete after asking. Plus the two bugs of issue 15 as
regressions: "New function" with a taken name replaced it silently, and a
second namespace was offered the first one's images."""
import json
import os

import requests

from sfaasd_testlib import HTTP_TIMEOUT

NS = "openfaas-fn"


def spec(api, name, ns=NS):
    r = api.get("/system/function/" + name, params={"namespace": ns})
    assert r.status_code == 200, r.text
    f = r.json()
    # What the daemon adds to the stored spec.
    for k in ("replicas", "availableReplicas", "invocationCount", "createdAt", "sfaasd", "usage"):
        f.pop(k, None)
    # faas_function: NAME is added to every answer's labels (not stored)
    assert f["labels"].pop("faas_function") == name, f["labels"]
    return f


def rows(ui):
    return [r.get_attribute("data-name") for r in ui.ta("function-row")]


def test_deploy_invoke_logs_charts_edit_delete(ui, api, busybox):
    # A secret, from the Secrets page.
    ui.click("nav-secrets")
    ui.wait_visible("secret-list")
    ui.fill("secret-name", "api-key")
    ui.fill("secret-value", "s3cr3t")
    ui.click("secret-create")
    ui.wait(lambda: any(r.get_attribute("data-name") == "api-key" for r in ui.ta("secret-row")), "the secret listed")
    assert ui.t("secret-value").get_attribute("value") == ""  # never kept in the page
    assert "s3cr3t" not in ui.d.page_source

    # Deploy with it, an env var, a label and a memory limit.
    ui.click("nav-functions")
    ui.wait_visible("function-list")
    ui.click("new-function")
    ui.wait_visible("deploy-form")
    ui.wait(lambda: "busybox:latest" in ui.t("deploy-image").text, "the image list")
    # Untouched empty fields are not marked wrong.
    assert not ui.qa('[aria-invalid="true"]')
    ui.fill("deploy-name", "greet")
    ui.select("deploy-image", "busybox:latest")
    ui.fill("deploy-fprocess", "sh -s")
    ui.fill("deploy-env", "GREETING=hello")
    ui.wait(lambda: ui.ta("deploy-secret"), "the secrets to choose from")
    ui.q('[data-testid="deploy-secret"][value="api-key"]').click()
    ui.fill("deploy-memory", "64Mi")
    ui.fill("deploy-labels", "team=web")
    ui.click("deploy-submit")
    ui.wait_visible("panel-overview")
    assert ui.hash() == "#/ns/openfaas-fn/fn/greet"
    f = spec(api, "greet")
    assert f["secrets"] == ["api-key"] and f["limits"] == {"memory": "64Mi"}
    assert f["envVars"] == {"GREETING": "hello"} and f["labels"] == {"team": "web"}
    assert f["envProcess"] == "sh -s" and f["image"] == "busybox:latest"
    assert "0 since" in ui.t("prop-invocations").text

    # Invoke: the secret is mounted, the answer is JSON, pretty-printed.
    ui.click("tab-invoke")
    ui.wait_visible("panel-invoke")
    ui.fill("invoke-content-type", "application/json")
    ui.fill("invoke-body", 'echo "called $GREETING" >&2\n'
                           'printf \'{"secret":"%s","n":[1,2]}\' "$(cat /var/openfaas/secrets/api-key)"')
    ui.click("invoke-button")
    ui.wait_text("invoke-status", r"^200")
    body = ui.t("invoke-response").text
    assert json.loads(body) == {"secret": "s3cr3t", "n": [1, 2]}
    assert '\n  "secret"' in body, body  # indented
    assert "in the function" in ui.t("invoke-time").text
    # The answer is in view (it used to be below the fold).
    assert ui.d.execute_script("const r = arguments[0].getBoundingClientRect(); return r.top < innerHeight && r.bottom > 0",
                               ui.t("invoke-result"))
    # The count is fresh, not the one from before the call.
    ui.click("tab-overview")
    ui.wait_text("prop-invocations", r"^1 since")

    # Logs, followed live: a call made elsewhere shows up.
    ui.click("tab-logs")
    ui.wait_text("logs-state", "Following")
    ui.wait(lambda: any("called hello" in e.text for e in ui.ta("log-line")), "the earlier call's line (tail)")
    r = requests.post(ui.daemon.url + "/function/greet", data=b'echo "live-marker-7" >&2', timeout=HTTP_TIMEOUT)
    assert r.status_code == 200, r.text
    ui.wait(lambda: any("live-marker-7" in e.text for e in ui.ta("log-line")), "the new line, live")
    # Filtered by text.
    ui.fill("logs-filter", "live-marker")
    ui.wait(lambda: len(ui.ta("log-line")) == 1, "one line left after filtering")

    # Charts: the count moves with a call.
    ui.click("tab-charts")
    ui.wait(lambda: ui.t("chart-summary").get_attribute("data-calls") is not None, "the charts")
    before = int(ui.t("chart-summary").get_attribute("data-calls"))
    assert before == 2
    assert ui.t("chart-calls").size["width"] > 100
    r = requests.post(ui.daemon.url + "/function/greet", data=b"echo hi", timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    ui.click("charts-refresh")
    ui.wait(lambda: ui.t("chart-summary").get_attribute("data-calls") == str(before + 1), "the chart count to move")
    assert "3 calls" in ui.t("chart-summary").text

    # Edit: change one variable; everything else stays.
    original = spec(api, "greet")
    ui.click("function-edit")
    ui.wait_visible("deploy-form")
    ui.wait(lambda: ui.t("deploy-env").get_attribute("value") == "GREETING=hello", "the form filled in")
    assert ui.t("deploy-name").get_attribute("readonly") is not None
    ui.fill("deploy-env", "GREETING=bonjour")
    ui.click("deploy-submit")
    ui.wait_visible("panel-overview")
    changed = spec(api, "greet")
    assert changed.pop("envVars") == {"GREETING": "bonjour"}
    original.pop("envVars")
    assert changed == original

    # Delete asks first; cancel keeps it.
    ui.click("function-delete")
    ui.wait_visible("confirm-dialog")
    ui.click("confirm-cancel")
    ui.wait(lambda: not ui.visible("confirm-dialog"), "the dialog to close")
    assert api.get("/system/function/greet").status_code == 200
    ui.click("function-delete")
    ui.wait_visible("confirm-dialog")
    ui.click("confirm-ok")
    ui.wait_visible("function-list")
    ui.wait(lambda: "greet" not in rows(ui), "greet gone from the list")
    assert api.get("/system/function/greet").status_code == 404


FULL = {
    "envProcess": "cat",
    "envVars": {"A": "1", "B": "two words"},
    "labels": {"team": "pay", "com.openfaas.scale.max": "3"},
    "annotations": {"com.sfaasd.mode": "exec", "com.sfaasd.timeout": "20s", "note": "keep me"},
    "limits": {"memory": "96Mi", "cpu": "250m"},
    "requests": {"memory": "32Mi"},
    "readOnlyRootFilesystem": True,
    "constraints": ["node=x"],
}


def test_edit_keeps_every_setting(ui, api, busybox):
    r = api.post("/system/secrets", json={"name": "db-pass", "value": "pw"})
    assert r.status_code in (200, 409), r.text
    api.deploy("full", secrets=["db-pass"], expect=202, **FULL)
    before = spec(api, "full")
    ui.go("#/ns/openfaas-fn/fn/full/edit")
    ui.wait_visible("deploy-form")
    ui.wait(lambda: ui.t("deploy-fprocess").get_attribute("value") == "cat", "the form filled in")
    # The settings with fields of their own show there, not in the boxes.
    assert ui.t("deploy-mode").get_attribute("value") == "exec"
    assert ui.t("deploy-max").get_attribute("value") == "3"
    assert ui.t("deploy-timeout").get_attribute("value") == "20s"
    assert "com.openfaas" not in ui.t("deploy-labels").get_attribute("value")
    assert ui.t("deploy-readonly").is_selected()
    assert ui.q('[data-testid="deploy-secret"][value="db-pass"]').is_selected()
    ui.fill("deploy-fprocess", "cat -")
    ui.click("deploy-submit")
    ui.wait_visible("panel-overview")
    after = spec(api, "full")
    assert after.pop("envProcess") == "cat -"
    before.pop("envProcess")
    assert after == before
    # Saving again with no change stores the same spec.
    ui.click("function-edit")
    ui.wait(lambda: ui.t("deploy-fprocess").get_attribute("value") == "cat -", "the form filled in")
    ui.click("deploy-submit")
    ui.wait_visible("panel-overview")
    assert spec(api, "full") == dict(before, envProcess="cat -")


def test_new_function_never_replaces_one(ui, api, busybox):
    """Issue 15: "New function" with an existing name silently replaced it,
    dropping its labels, annotations, secrets, limits and read-only flag."""
    api.deploy("taken", expect=202, **FULL)
    before = spec(api, "taken")
    ui.go("#/ns/openfaas-fn/new")
    ui.wait(lambda: "busybox:latest" in ui.t("deploy-image").text, "the deploy form")
    ui.fill("deploy-name", "taken")
    ui.fill("deploy-fprocess", "echo replaced")
    ui.click("deploy-submit")
    assert "exists already" in ui.wait_text("deploy-name-error", r"\w")
    assert ui.t("deploy-name").get_attribute("aria-invalid") == "true"
    # The same when the function appears after the form opened: the daemon
    # refuses the POST (409) and the console says so at the name.
    ui.fill("deploy-name", "late")
    api.deploy("late", expect=202, **FULL)
    late = spec(api, "late")
    ui.click("deploy-submit")
    assert "exists already" in ui.wait_text("deploy-name-error", r"\w")
    assert ui.hash() == "#/ns/openfaas-fn/new"
    assert spec(api, "taken") == before and spec(api, "late") == late


def test_second_namespace_offers_its_own_images(ui, api, busybox, images):
    """Issue 15: in a second namespace the deploy form offered the first
    namespace's images (it asked /system/images without the namespace)."""
    r = api.post("/system/namespace/", json={"name": "team-b", "labels": {"openfaas": "1"}})
    assert r.status_code in (201, 409), r.text
    with open(os.path.join(images, "rootbox-oci.tar"), "rb") as f:
        r = api.post("/system/images", data=f.read(), params={"namespace": "team-b", "name": "rootbox:latest"})
    assert r.status_code == 200, r.text
    ui.d.refresh()  # the namespace list is read at sign-in
    ui.wait_visible("function-list")
    ui.select("namespace-select", "team-b")
    ui.wait(lambda: ui.hash() == "#/ns/team-b/functions", "the switch to team-b")
    ui.wait_visible("no-functions")
    ui.click("new-function")
    ui.wait(lambda: "rootbox" in ui.t("deploy-image").text, "team-b's images")
    options = [o.text for o in ui.qa('[data-testid="deploy-image"] option')]
    assert options == ["rootbox:latest", "Another reference…"], options
    ui.fill("deploy-name", "rb")
    ui.fill("deploy-fprocess", "cat")
    ui.click("deploy-submit")
    ui.wait_visible("panel-overview")
    assert ui.hash() == "#/ns/team-b/fn/rb"
    assert spec(api, "rb", ns="team-b")["image"] == "rootbox:latest"
    # Back in the first namespace, its own images again.
    ui.select("namespace-select", NS)
    ui.wait(lambda: ui.hash() == "#/ns/openfaas-fn/functions", "the switch back")
    ui.click("new-function")
    ui.wait(lambda: "busybox:latest" in ui.t("deploy-image").text, "openfaas-fn's images")
    assert "rootbox" not in ui.t("deploy-image").text


def test_async_invoke_lists_the_call(ui, api, busybox):
    api.deploy("later", fprocess="cat", expect=202)
    ui.go("#/ns/openfaas-fn/fn/later/invoke")
    ui.wait_visible("panel-invoke")
    ui.click("invoke-async")
    ui.fill("invoke-body", "queued body")
    ui.click("invoke-button")
    ui.wait_text("invoke-status", r"^202")
    ui.wait(lambda: len(ui.ta("async-row")) == 1, "the call listed")
    ui.wait(lambda: ui.t("async-state").text == "done", "the call to run")
    assert ui.t("async-status").text == "200"
    call_id = ui.t("async-row").get_attribute("data-call-id")
    assert api.get("/system/async/" + call_id).json()["state"] == "done"
    # A body the browser must not show as text is offered as a download.
    ui.click("invoke-sync")
    ui.fill("invoke-content-type", "application/octet-stream")
    ui.fill("invoke-body", "\x01\x02binary")
    ui.click("invoke-button")
    ui.wait_visible("invoke-binary")
    assert ui.t("invoke-download").get_attribute("href").startswith("blob:")


def test_invoke_method_path_query_headers(ui, api, busybox):
    api.deploy("envfn", fprocess="env", expect=202)
    ui.go("#/ns/openfaas-fn/fn/envfn/invoke")
    ui.wait_visible("panel-invoke")
    ui.select("invoke-method", "GET")
    ui.fill("invoke-path", "sub/dir")
    ui.fill("invoke-query", "a=1&b=two")
    ui.fill("invoke-headers-in", "X-Test: yes\nX-Other: 2")
    ui.wait_text("invoke-url", r"GET /function/envfn\.openfaas-fn/sub/dir\?a=1&b=two")
    ui.click("invoke-button")
    ui.wait_text("invoke-status", r"^200")
    out = ui.t("invoke-response").text
    for want in ("Http_Method=GET", "Http_Path=/sub/dir", "Http_Query=a=1&b=two", "Http_X_Test=yes", "Http_X_Other=2"):
        assert want in out, (want, out)
    # A header the browser refuses is explained, not dropped silently.
    ui.fill("invoke-headers-in", "Host: evil")
    ui.click("invoke-button")
    assert "Host" in ui.wait_text("invoke-error", r"\w")
    # JSON that is not JSON is refused before sending.
    ui.fill("invoke-headers-in", "")
    ui.select("invoke-method", "POST")
    ui.click("invoke-kind-json")
    assert ui.t("invoke-content-type").get_attribute("value") == "application/json"
    ui.fill("invoke-body", "{not json")
    ui.click("invoke-button")
    assert "not valid JSON" in ui.wait_text("invoke-error", r"\w")


def test_egress_grant_and_scaling_from_the_form(ui, api, busybox):
    """Egress grants (issue 16) and the autoscaler's type and target (issue
    20) have fields: a grant within the tenant's ceiling is stored as the
    annotation, one beyond it is the daemon's 400, said at the form; an edit
    shows them again."""
    r = api.put("/system/tenants/%s/egress" % NS, json={"ceiling": "api.example.com:443"})
    assert r.status_code == 200, r.text
    ui.go("#/ns/openfaas-fn/new")
    ui.wait(lambda: "busybox:latest" in ui.t("deploy-image").text, "the deploy form")
    ui.fill("deploy-name", "egress-fn")
    ui.fill("deploy-fprocess", "cat")
    ui.fill("deploy-egress", "db.example.com:5432")
    ui.click("deploy-submit")
    msg = ui.wait_text("deploy-error", r"\w")
    assert "beyond the egress ceiling" in msg and "db.example.com:5432" in msg, msg
    assert api.get("/system/function/egress-fn", params={"namespace": NS}).status_code == 404
    ui.fill("deploy-egress", "api.example.com:443")
    from selenium.webdriver.support.ui import Select
    Select(ui.t("deploy-scale-type")).select_by_value("rps")
    ui.fill("deploy-scale-target", "20")
    ui.click("deploy-submit")
    ui.wait_visible("panel-overview")
    f = spec(api, "egress-fn")
    assert f["annotations"]["com.sfaasd.egress"] == "api.example.com:443", f
    assert f["labels"]["com.openfaas.scale.type"] == "rps" and f["labels"]["com.openfaas.scale.target"] == "20", f
    ui.click("function-edit")
    ui.wait(lambda: ui.t("deploy-egress").get_attribute("value") == "api.example.com:443", "the grant in its field")
    assert ui.t("deploy-scale-type").get_attribute("value") == "rps"
    assert ui.t("deploy-scale-target").get_attribute("value") == "20"
    assert "com.sfaasd.egress" not in ui.t("deploy-annotations").get_attribute("value")
