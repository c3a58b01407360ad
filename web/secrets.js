// SPDX-License-Identifier: MIT
// Secrets of a namespace: create, replace, delete. Values go to the daemon
// and are never shown back (the API has no way to read them).
"use strict";

(function () {
  const { $, el, show, say, showError, api, nsq, link } = SF;
  const NAME_RE = /^[a-zA-Z0-9][-a-zA-Z0-9_.]{0,63}$/;

  // Standard base64 of a file's bytes (the API's rawValue).
  function fileBase64(file) {
    return new Promise((resolve, reject) => {
      const r = new FileReader();
      r.onload = () => {
        const s = String(r.result);
        resolve(s.slice(s.indexOf(",") + 1)); // after "data:...;base64,"
      };
      r.onerror = () => reject(r.error || new Error("cannot read the file"));
      r.readAsDataURL(file);
    });
  }

  async function value(textarea, fileInput) {
    const f = fileInput && fileInput.files[0];
    if (f) return { rawValue: await fileBase64(f) };
    return { value: textarea.value };
  }

  let users = {}; // secret -> [functions]

  async function load() {
    let secrets, fns;
    try {
      [secrets, fns] = await Promise.all([api("GET", "../system/secrets?" + nsq()),
        api("GET", "../system/functions?" + nsq())]);
    } catch (err) {
      if (err.status !== 401) showError($("secrets-error"), "Cannot list the secrets: " + err.message);
      return;
    }
    showError($("secrets-error"), "");
    users = {};
    for (const f of Array.isArray(fns) ? fns : [])
      for (const s of f && Array.isArray(f.secrets) ? f.secrets : []) (users[s] = users[s] || []).push(f.name);
    const names = (Array.isArray(secrets) ? secrets : []).map((s) => s && s.name).filter((n) => typeof n === "string").sort();
    $("secret-rows").replaceChildren(...names.map(row));
    show($("no-secrets"), names.length === 0);
  }

  function row(name) {
    const used = users[name] || [];
    const err = el("p", { class: "error small", role: "alert", "data-testid": "secret-row-error", hidden: true });
    const replace = el("button", { type: "button", "data-testid": "secret-replace", "aria-expanded": "false",
      "aria-label": "Replace the value of " + name }, "Replace value");
    const del = el("button", { type: "button", class: "danger", "data-testid": "secret-delete", "aria-label": "Delete " + name }, "Delete");
    const idv = "replace-" + name.replace(/[^a-zA-Z0-9_-]/g, "_");
    const ta = el("textarea", { id: idv, rows: "2", spellcheck: "false", autocomplete: "off", "data-testid": "secret-new-value" });
    const save = el("button", { type: "submit", class: "primary", "data-testid": "secret-save" }, "Save");
    const cancel = el("button", { type: "button" }, "Cancel");
    const form = el("form", { class: "replace", novalidate: true, hidden: true },
      el("label", { for: idv }, "New value for " + name), ta,
      el("div", { class: "actions" }, save, cancel));
    replace.addEventListener("click", () => {
      const open = form.hidden;
      form.hidden = !open;
      replace.setAttribute("aria-expanded", String(open));
      if (open) ta.focus();
    });
    cancel.addEventListener("click", () => {
      ta.value = "";
      form.hidden = true;
      replace.setAttribute("aria-expanded", "false");
      replace.focus();
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      showError(err, "");
      try {
        await api("PUT", "../system/secrets", { name, namespace: SF.ns, value: ta.value });
      } catch (e) {
        if (e.status !== 401) showError(err, "Cannot replace " + name + ": " + e.message);
        return;
      }
      ta.value = "";
      form.hidden = true;
      replace.setAttribute("aria-expanded", "false");
      $("secrets-note").textContent = "Replaced the value of " + name + "." +
        (used.length ? " Functions read it at their next start: " + used.join(", ") + "." : "");
      replace.focus();
    });
    del.addEventListener("click", async () => {
      showError(err, "");
      const ok = await SF.confirm("Delete secret " + name + "?", used.length
        ? "It is listed by " + used.join(", ") + ": their next deploy is refused until it exists again."
        : "The value is gone for good.", "Delete secret");
      if (!ok) return;
      try {
        await api("DELETE", "../system/secrets", { name, namespace: SF.ns });
      } catch (e) {
        if (e.status !== 401) showError(err, "Cannot delete " + name + ": " + e.message);
        return;
      }
      $("secrets-note").textContent = "Deleted " + name + ".";
      await load();
    });
    return el("tr", { "data-testid": "secret-row", "data-name": name },
      el("td", { "data-label": "Name" }, el("code", {}, name)),
      el("td", { "data-label": "Used by" }, used.length
        ? el("span", {}, ...used.flatMap((u, i) => [i ? ", " : "", el("a", { href: link.fn(u) }, u)]))
        : el("span", { class: "muted" }, "–")),
      el("td", { "data-label": "" }, el("div", { class: "actions tight" }, replace, del), form, err));
  }

  async function create(ev) {
    ev.preventDefault();
    const errNode = $("secret-error");
    showError(errNode, "");
    const name = $("secret-name").value.trim();
    if (!NAME_RE.test(name)) {
      SF.fieldError($("secret-name"), errNode, name ? "Use letters, digits, “-”, “_” and “.”, starting with a letter or digit."
        : "Enter a name for the secret.");
      $("secret-name").focus();
      return;
    }
    $("secret-name").removeAttribute("aria-invalid");
    let v;
    try {
      v = await value($("secret-value"), $("secret-file"));
    } catch (err) {
      showError(errNode, "Cannot read the file: " + err.message);
      return;
    }
    try {
      await api("POST", "../system/secrets", Object.assign({ name, namespace: SF.ns }, v));
    } catch (err) {
      if (err.status === 401) return;
      showError(errNode, err.status === 409 ? "A secret named " + name + " exists already: use Replace value in the list."
        : "Cannot create " + name + ": " + err.message);
      return;
    }
    $("secret-form").reset();
    $("secrets-note").textContent = "Created " + name + ".";
    say("Created secret " + name + ".");
    await load();
  }

  SF.views.secrets = {
    id: "view-secrets",
    title: () => "Secrets",
    init() {
      $("secret-form").addEventListener("submit", create);
    },
    async enter() {
      $("secret-form").reset();
      showError($("secret-error"), "");
      $("secrets-note").textContent = "";
      $("secret-rows").replaceChildren();
      await load();
    },
  };
})();
