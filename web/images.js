// SPDX-License-Identifier: MIT
// Images of a namespace: list (tags, digest, size, age, used by), import by
// file upload with a progress bar through the upload and the unpack, delete
// and prune.
"use strict";

(function () {
  const { $, el, show, say, showError, api, enc, nsq, link, fmtBytes, timeEl } = SF;

  let xhr = null;

  function phase(name, text, value) {
    const st = $("import-status");
    const bar = $("import-progress");
    show(st, true);
    const seen = st.dataset.phases ? st.dataset.phases.split(",") : [];
    if (!seen.includes(name)) seen.push(name);
    st.dataset.phases = seen.join(",");
    st.dataset.phase = name;
    if (value === null) bar.removeAttribute("value"); // indeterminate
    else bar.value = value;
    $("import-phase").textContent = text;
  }

  async function load() {
    let imgs;
    try {
      imgs = await api("GET", "../system/images?" + nsq());
    } catch (err) {
      if (err.status !== 401) showError($("images-error"), "Cannot list the images: " + err.message);
      return;
    }
    showError($("images-error"), "");
    const list = (Array.isArray(imgs) ? imgs : []).filter((i) => i && typeof i.id === "string");
    list.sort((a, b) => String(b.created).localeCompare(String(a.created)));
    $("image-rows").replaceChildren(...list.map(row));
    show($("no-images"), list.length === 0);
  }

  function row(img) {
    const tags = Array.isArray(img.tags) && img.tags.length ? img.tags : ["(untagged)"];
    const users = Array.isArray(img.usedBy) ? img.usedBy : [];
    const err = el("p", { class: "error small", role: "alert", "data-testid": "image-error", hidden: true });
    const del = el("button", { type: "button", class: "danger small-button", "data-testid": "image-delete",
      "aria-label": "Delete " + tags.join(", ") }, "Delete");
    del.addEventListener("click", () => remove(img, tags, users, err));
    return el("tr", { "data-testid": "image-row", "data-id": img.id },
      el("td", { "data-label": "Tags" }, ...tags.map((t) => el("div", { "data-testid": "image-tag" }, el("code", {}, t)))),
      el("td", { "data-label": "Digest" }, el("code", { title: img.id, class: "digest" }, img.id.replace(/^sha256:/, "").slice(0, 12))),
      el("td", { class: "num", "data-label": "Size" }, fmtBytes(img.size)),
      el("td", { "data-label": "Imported" }, timeEl(img.created)),
      el("td", { "data-label": "Used by" }, users.length
        ? el("span", {}, ...users.flatMap((u, i) => [i ? ", " : "", el("a", { href: link.fn(u) }, u)])) : el("span", { class: "muted" }, "–")),
      el("td", { "data-label": "" }, del, err));
  }

  async function remove(img, tags, users, errNode) {
    showError(errNode, "");
    if (users.length) {
      showError(errNode, "Used by " + users.join(", ") + ": delete or change those functions first.");
      return;
    }
    const ok = await SF.confirm("Delete this image?",
      tags.join(", ") + " (" + fmtBytes(img.size) + ") will be removed from namespace " + SF.ns +
      "; its files go when no namespace uses it.", "Delete image");
    if (!ok) return;
    try {
      await api("DELETE", "../system/images/" + enc(img.id) + "?" + nsq());
    } catch (err) {
      if (err.status !== 401) showError(errNode, "Cannot delete: " + err.message);
      return;
    }
    $("images-note").textContent = "Deleted " + tags.join(", ") + ".";
    say("Deleted the image.");
    await load();
  }

  async function prune() {
    const ok = await SF.confirm("Prune unused images?",
      "Every image without a tag and without a function is removed, in every namespace, with the layers no image needs.",
      "Prune");
    if (!ok) return;
    let r;
    try {
      r = await api("POST", "../system/images/prune?" + nsq());
    } catch (err) {
      if (err.status !== 401) showError($("images-error"), "Cannot prune: " + err.message);
      return;
    }
    const n = r && Array.isArray(r.removed) ? r.removed.length : 0;
    $("images-note").textContent = "Pruned " + n + " image" + (n === 1 ? "" : "s") + ", " +
      fmtBytes((r && r.bytesFreed) || 0) + " freed.";
    await load();
  }

  function upload(ev) {
    ev.preventDefault();
    showError($("import-error"), "");
    const file = $("import-file").files[0];
    const name = $("import-name").value.trim();
    if (!file) {
      showError($("import-error"), "Choose an archive to import.");
      $("import-file").focus();
      return;
    }
    const st = $("import-status");
    st.dataset.phases = "";
    const url = "../system/images?" + nsq() + (name ? "&name=" + enc(name) : "");
    xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    for (const [k, v] of Object.entries(SF.authHeaders())) xhr.setRequestHeader(k, v);
    xhr.setRequestHeader("Content-Type", file.type || "application/x-tar");
    const total = fmtBytes(file.size);
    phase("upload", "Uploading " + file.name + ": 0 % of " + total, 0);
    // Upload progress is what the browser sends; the unpack that follows
    // has no progress the API reports, so it shows as an indeterminate bar.
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      const pct = Math.floor((e.loaded / e.total) * 100);
      phase("upload", "Uploading " + file.name + ": " + pct + " % of " + total, pct);
    });
    xhr.upload.addEventListener("load", () => {
      show($("import-cancel"), false);
      phase("unpack", "Uploaded. Verifying and unpacking the layers in the daemon… (no progress is reported for this step)", null);
    });
    xhr.addEventListener("load", async () => {
      const busy = xhr;
      xhr = null;
      $("import-submit").disabled = false;
      show($("import-cancel"), false);
      let j = null;
      try { j = JSON.parse(busy.responseText); } catch (e) { /* not JSON */ }
      if (busy.status === 401) {
        SF.api("GET", "../system/namespaces").catch(() => {}); // signs out with the message
        return;
      }
      if (busy.status !== 200) {
        phase("failed", "Import failed.", 0);
        showError($("import-error"), "Import failed (" + busy.status + "): " +
          (j && j.error ? j.error : busy.responseText.slice(0, 300) || busy.statusText));
        return;
      }
      const tags = j && Array.isArray(j.tags) ? j.tags.join(", ") : "";
      phase("done", (j && j.existed ? "Already present: " : "Imported: ") + (tags || (j && j.id) || "the image") +
        " (" + fmtBytes(j && j.size) + ").", 100);
      $("import-form").reset();
      say("Image imported.");
      await load();
    });
    xhr.addEventListener("error", () => {
      xhr = null;
      $("import-submit").disabled = false;
      show($("import-cancel"), false);
      phase("failed", "Import failed.", 0);
      showError($("import-error"), "The upload broke off (the connection closed). Is the archive larger than the daemon accepts?");
    });
    xhr.addEventListener("abort", () => {
      xhr = null;
      $("import-submit").disabled = false;
      show($("import-cancel"), false);
      phase("cancelled", "Upload cancelled.", 0);
    });
    $("import-submit").disabled = true;
    show($("import-cancel"), true);
    xhr.send(file);
  }

  SF.views.images = {
    id: "view-images",
    title: () => "Images",
    init() {
      $("import-form").addEventListener("submit", upload);
      $("import-cancel").addEventListener("click", () => { if (xhr) xhr.abort(); });
      $("images-refresh").addEventListener("click", load);
      $("images-prune").addEventListener("click", prune);
    },
    async enter() {
      $("images-note").textContent = "";
      showError($("import-error"), "");
      if (!xhr) show($("import-status"), false);
      $("image-rows").replaceChildren();
      await load();
    },
  };
})();
