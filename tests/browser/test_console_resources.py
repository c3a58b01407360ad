# SPDX-License-Identifier: MIT
"""Images (import by upload with its progress, delete, prune), secrets
(create, replace, delete; values never shown back) and the host's charts."""
import os

import requests

from sfaasd_testlib import HTTP_TIMEOUT


def image_tags(ui):
    return [e.text for e in ui.ta("image-tag")]


def test_import_image_with_progress_then_delete_and_prune(ui, api, images, busybox):
    ui.click("nav-images")
    ui.wait_visible("image-list")
    path = os.path.join(images, "httpfn-oci.tar")
    ui.t("import-file").send_keys(path)
    ui.fill("import-name", "uploaded:1")
    ui.click("import-submit")
    status = ui.wait_visible("import-status")
    ui.wait(lambda: status.get_attribute("data-phase") in ("done", "failed"), "the import to end")
    assert ui.t("import-error").is_displayed() is False, ui.t("import-error").text
    # The bar went through the upload and then the unpack (no progress of
    # its own: indeterminate) before it was done.
    assert status.get_attribute("data-phases") == "upload,unpack,done"
    assert ui.t("import-progress").get_attribute("value") == "100"
    assert "uploaded:1" in ui.t("import-phase").text
    ui.wait(lambda: "uploaded:1" in image_tags(ui), "the image listed")
    listed = api.get("/system/images").json()
    assert any("uploaded:1" in i["tags"] for i in listed)

    # An image a function uses cannot go; the reason shows at its row.
    api.deploy("uses-busybox", fprocess="cat", expect=202)
    ui.click("images-refresh")
    ui.wait(lambda: "busybox:latest" in image_tags(ui), "busybox listed")
    row = [r for r in ui.ta("image-row") if "busybox:latest" in r.text][0]
    row.find_element("css selector", '[data-testid="image-delete"]').click()
    ui.wait(lambda: "Used by" in row.find_element("css selector", '[data-testid="image-error"]').text, "why not")

    # The unused one goes after a confirmation.
    for r in ui.ta("image-row"):
        if "uploaded:1" in r.text:
            r.find_element("css selector", '[data-testid="image-delete"]').click()
    ui.wait_visible("confirm-dialog")
    ui.click("confirm-ok")
    ui.wait(lambda: "uploaded:1" not in image_tags(ui), "the image gone")
    assert not any("uploaded:1" in i["tags"] for i in api.get("/system/images").json())

    ui.click("images-prune")
    ui.wait_visible("confirm-dialog")
    ui.click("confirm-ok")
    assert "Pruned" in ui.wait_text("images-note", "Pruned")
    assert "busybox:latest" in image_tags(ui)


def test_import_failure_is_said_at_the_form(ui, images, tmp_path):
    bad = tmp_path / "not-an-image.tar"
    bad.write_bytes(b"this is not a tar archive" * 100)
    ui.click("nav-images")
    ui.wait_visible("image-list")
    ui.t("import-file").send_keys(str(bad))
    ui.click("import-submit")
    assert "Import failed (400)" in ui.wait_text("import-error", r"\w")
    assert ui.t("import-status").get_attribute("data-phase") == "failed"


def test_secrets_create_replace_delete(ui, api, busybox):
    ui.click("nav-secrets")
    ui.wait_visible("secret-list")
    ui.fill("secret-name", "token")
    ui.fill("secret-value", "first-value")
    ui.click("secret-create")
    ui.wait(lambda: any(r.get_attribute("data-name") == "token" for r in ui.ta("secret-row")), "token listed")
    # Creating it again is refused in words, at the form.
    ui.fill("secret-name", "token")
    ui.fill("secret-value", "again")
    ui.click("secret-create")
    assert "exists already" in ui.wait_text("secret-error", r"\w")

    # Replace: the function sees the new value.
    api.deploy("reader", fprocess="cat /var/openfaas/secrets/token", secrets=["token"], expect=202)
    ui.d.refresh()
    ui.wait(lambda: any(r.get_attribute("data-name") == "token" for r in ui.ta("secret-row")), "token listed")
    row = [r for r in ui.ta("secret-row") if r.get_attribute("data-name") == "token"][0]
    assert "reader" in row.text  # used by
    row.find_element("css selector", '[data-testid="secret-replace"]').click()
    box = row.find_element("css selector", '[data-testid="secret-new-value"]')
    box.send_keys("second-value")
    row.find_element("css selector", '[data-testid="secret-save"]').click()
    assert "Replaced" in ui.wait_text("secrets-note", "Replaced")
    r = requests.post(ui.daemon.url + "/function/reader", data=b"", timeout=HTTP_TIMEOUT)
    assert r.text == "second-value", r.text
    assert "first-value" not in ui.d.page_source and "second-value" not in ui.d.page_source

    # Delete, after a confirmation that names its user.
    assert api.remove("reader").status_code == 200
    row = [r for r in ui.ta("secret-row") if r.get_attribute("data-name") == "token"][0]
    row.find_element("css selector", '[data-testid="secret-delete"]').click()
    ui.wait_visible("confirm-dialog")
    ui.click("confirm-ok")
    ui.wait(lambda: all(r.get_attribute("data-name") != "token" for r in ui.ta("secret-row")), "token gone")
    assert all(s["name"] != "token" for s in api.get("/system/secrets").json())


def test_host_charts(ui, api, busybox):
    api.deploy("hostcount", fprocess="cat", expect=202)
    ui.click("nav-host")
    ui.wait_text("host-summary", "sandboxes running")
    before = int(ui.t("host-summary").get_attribute("data-calls"))
    r = requests.post(ui.daemon.url + "/function/hostcount", data=b"x", timeout=HTTP_TIMEOUT)
    assert r.status_code == 200
    ui.click("host-refresh")
    ui.wait(lambda: int(ui.t("host-summary").get_attribute("data-calls")) == before + 1, "the host count to move")
    for chart in ("host-calls", "host-sandboxes", "host-cpu", "host-memory"):
        assert ui.t("chart-" + chart).size["height"] > 50, chart
    assert "of" in ui.t("host-summary").text  # memory used of total
