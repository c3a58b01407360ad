// SPDX-License-Identifier: MIT
// Tenants (the admin's): the list and a new tenant; one tenant's quotas
// with what it uses now, its tokens (issued, shown once, revoked), whether
// calls to its functions need a credential, its invoke keys, and removing
// it. The API is core/api/tenants.c. A tenant sees the same page for itself
// (#/ns/NS/settings): its quotas and use, read-only, its invoke setting
// and keys; tokens and removal stay the admin's.
"use strict";

(function () {
  const { $, el, show, say, showError, fieldError, api, enc, link, fmtBytes, timeEl } = SF;
  const NAME_RE = /^[a-zA-Z0-9][-a-zA-Z0-9_]{0,62}$/;
  const TOKEN_NAME_RE = /^[-a-zA-Z0-9_.]{1,64}$/;

  // The quotas the API knows (core/model/quota.c), in the order shown;
  // kind says how a value reads and is written; use is the key of "usage"
  // that counts against it, if any.
  const QUOTAS = [
    { key: "functions", label: "Functions", kind: "count", use: "functions" },
    { key: "instances", label: "Sandboxes running at once", kind: "count", use: "instances" },
    { key: "memory", label: "Memory of its sandboxes", kind: "size", use: "memory" },
    { key: "cpu", label: "CPU of its sandboxes", kind: "cpu", use: "cpu" },
    { key: "pids", label: "Processes", kind: "count" },
    { key: "imageBytes", label: "Image storage", kind: "size", use: "imageBytes" },
    { key: "secrets", label: "Secrets", kind: "count", use: "secrets" },
    { key: "asyncQueued", label: "Queued async calls", kind: "count", use: "asyncQueued" },
    { key: "invokeRate", label: "Calls per second", kind: "count" },
    { key: "invokeConcurrency", label: "Calls in flight", kind: "count", use: "invokeConcurrency" },
  ];

  // A quota's value as the box shows it: "2Gi" rather than 2147483648.
  function quotaText(q, v) {
    if (v === undefined || v === null) return "";
    if (q.kind === "size" && typeof v === "number" && v > 0) {
      for (const [unit, n] of [["Ti", 2 ** 40], ["Gi", 2 ** 30], ["Mi", 2 ** 20], ["Ki", 2 ** 10]])
        if (v % n === 0) return v / n + unit;
    }
    if (q.kind === "cpu" && typeof v === "string") {
      const m = /^(\d+)m$/.exec(v);
      if (m && Number(m[1]) % 1000 === 0) return String(Number(m[1]) / 1000);
    }
    return String(v);
  }

  function limitWords(q, v) {
    if (!v || v === "0") return "no limit";
    if (q.kind === "size") return fmtBytes(v);
    if (q.kind === "cpu") {
      const m = /^(\d+)m$/.exec(String(v));
      return m ? (Number(m[1]) / 1000) + " CPU" : String(v) + " CPU";
    }
    return String(v);
  }

  function useWords(q, u) {
    if (!q.use || u === undefined || u === null) return "–";
    if (q.kind === "size") return fmtBytes(u);
    if (q.kind === "cpu") return (Number(u) || 0).toFixed(1) + " s of CPU time so far";
    return String(u);
  }

  // ---- the list -------------------------------------------------------------

  async function loadList() {
    let list;
    try {
      list = await api("GET", "../system/tenants");
    } catch (err) {
      if (err.status !== 401) showError($("tenants-error"), "Cannot list the tenants: " + err.message);
      return;
    }
    showError($("tenants-error"), "");
    const rows = (Array.isArray(list) ? list : []).filter((t) => t && typeof t.name === "string")
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((t) => el("tr", { "data-testid": "tenant-row", "data-name": t.name },
        el("td", { "data-label": "Name" }, el("a", { href: link.tenant(t.name), "data-testid": "tenant-open" }, t.name),
          t.name === SF.DEFAULT_NS ? el("span", { class: "muted small" }, " (the default namespace)") : null),
        el("td", { "data-label": "Created" }, timeEl(t.createdAt)),
        el("td", { class: "num", "data-label": "Active tokens", "data-testid": "tenant-tokens" }, String(t.tokens ?? 0))));
    $("tenant-rows").replaceChildren(...rows);
    // A tenant made or removed elsewhere (the CLI, the API): the namespace
    // switcher follows.
    const names = rows.map((r) => r.dataset.name).sort();
    if (names.join("\n") !== [...SF.session.namespaces].sort().join("\n")) {
      try { await SF.reidentify(); } catch (e) { /* it catches up at the next sign-in */ }
    }
  }

  async function create(ev) {
    ev.preventDefault();
    const input = $("tenant-new-name"), errNode = $("tenant-form-error");
    const name = input.value.trim();
    fieldError(input, errNode, "");
    if (!NAME_RE.test(name) || name === "admin") {
      fieldError(input, errNode, !name ? "Enter a name for the tenant."
        : name === "admin" ? "The name admin is reserved."
          : "Use letters, digits, “-” and “_”, starting with a letter or digit (at most 63).");
      input.focus();
      return;
    }
    try {
      await api("POST", "../system/tenants", { name });
    } catch (err) {
      if (err.status === 401) return;
      fieldError(input, errNode, err.status === 409 ? "A tenant named " + name + " exists already."
        : "Cannot create " + name + ": " + err.message);
      input.focus();
      return;
    }
    $("tenant-form").reset();
    say("Created tenant " + name + ".");
    try { await SF.reidentify(); } catch (e) { /* the switcher catches up at the next sign-in */ }
    SF.go(link.tenant(name));
  }

  SF.views.tenants = {
    id: "view-tenants",
    title: () => "Tenants",
    init() {
      $("tenant-form").addEventListener("submit", create);
      $("tenants-refresh").addEventListener("click", loadList);
      $("tenant-new-name").addEventListener("input", () => fieldError($("tenant-new-name"), $("tenant-form-error"), ""));
    },
    async enter() {
      $("tenant-form").reset();
      fieldError($("tenant-new-name"), $("tenant-form-error"), "");
      $("tenants-note").textContent = "";
      $("tenant-rows").replaceChildren();
      await loadList();
    },
  };

  // ---- one tenant -----------------------------------------------------------

  const page = { ns: null, tenant: null, self: false };

  function tenantUrl(rest) {
    return "../system/tenants/" + enc(page.ns) + (rest || "");
  }

  function renderQuotas(t) {
    const quotas = t.quotas || {}, usage = t.usage || {};
    $("quota-rows").replaceChildren(...QUOTAS.map((q) => {
      const id = "quota-" + q.key;
      const limit = el("span", { class: "limit", "data-testid": "quota-limit" }, limitWords(q, quotas[q.key]));
      const use = el("span", { "data-testid": "quota-use" }, useWords(q, usage[q.use]));
      const head = [el("code", { class: "muted small" }, q.key),
        el("p", { class: "use" }, "In use: ", use)];
      if (page.self)
        return el("li", { "data-testid": "quota-row", "data-key": q.key },
          el("span", { class: "name" }, q.label), ...head, el("p", { class: "use" }, "Limit: ", limit));
      const input = el("input", { id, autocomplete: "off", spellcheck: "false", "data-testid": "quota-input",
        "data-key": q.key, "aria-describedby": "quota-help " + id + "-now", inputmode: q.kind === "count" ? "numeric" : null,
        value: quotaText(q, quotas[q.key]) });
      input.dataset.was = input.value;
      limit.id = id + "-now";
      return el("li", { "data-testid": "quota-row", "data-key": q.key },
        el("label", { for: id, class: "name" }, q.label), ...head, input,
        el("small", {}, "Limit now: ", limit));
    }));
  }

  function tokenState(t) {
    if (t.revokedAt) return el("span", { class: "badge failed" }, "revoked");
    if (!t.active) return el("span", { class: "badge" }, "expired");
    return el("span", { class: "badge ready" }, "active");
  }

  // A credential shown once: the text, a copy button, and what to do with it.
  function showOnce(box, what, value, hint) {
    const input = el("input", { readonly: true, value, id: box.id + "-value", spellcheck: "false",
      "data-testid": box.dataset.testid + "-value" });
    const copy = el("button", { type: "button", "data-testid": box.dataset.testid + "-copy" }, "Copy");
    const done = el("button", { type: "button", "data-testid": box.dataset.testid + "-hide" }, "I have copied it: hide");
    const state = el("span", { class: "muted small", role: "status" });
    copy.addEventListener("click", async () => {
      input.select();
      try {
        await navigator.clipboard.writeText(value);
        state.textContent = "Copied.";
      } catch (e) {
        state.textContent = "Selected: copy it with Ctrl+C.";
      }
    });
    done.addEventListener("click", () => { box.replaceChildren(); show(box, false); });
    box.replaceChildren(
      el("p", {}, el("strong", {}, "The new " + what + ", shown this once. "), "Copy it now: the daemon keeps only its hash."),
      el("label", { for: input.id }, what[0].toUpperCase() + what.slice(1)), input,
      el("small", {}, hint),
      el("div", { class: "actions" }, copy, done, state));
    show(box, true);
    input.focus();
    input.select();
  }

  function hideOnce() {
    for (const id of ["token-once", "key-once"]) { $(id).replaceChildren(); show($(id), false); }
  }

  function credentialRow(t, key) {
    const err = el("p", { class: "error small", role: "alert", hidden: true, "data-testid": "credential-error" });
    const what = key ? "invoke key" : "token";
    const revoke = t.active && !t.revokedAt
      ? el("button", { type: "button", class: "danger", "data-testid": key ? "key-revoke" : "token-revoke",
        "aria-label": "Revoke " + what + " " + t.name + " (" + t.id + ")" }, "Revoke") : null;
    if (revoke) revoke.addEventListener("click", async () => {
      showError(err, "");
      const ok = await SF.confirm("Revoke " + what + " " + t.name + "?", key
        ? "Calls made with it are refused from the next one on."
        : "Whoever signs in with it (here, faas-cli, curl) is refused from the next request on.", "Revoke");
      if (!ok) return;
      try {
        await api("DELETE", tenantUrl((key ? "/keys/" : "/tokens/") + enc(t.id)));
      } catch (e) {
        if (e.status !== 401) showError(err, "Cannot revoke " + t.name + ": " + e.message);
        return;
      }
      say("Revoked " + what + " " + t.name + ".");
      await (key ? loadKeys() : loadTokens());
      // The button is gone with the row it was in: focus goes to the list's heading.
      $(key ? "keys-title" : "tokens-title").focus();
    });
    const cells = [
      el("td", { "data-label": "Name" }, t.name),
      el("td", { "data-label": "Id" }, el("code", {}, t.id)),
    ];
    if (key) cells.push(el("td", { "data-label": "For" }, t.function ? el("a", { href: link.fn(t.function, null, page.ns) }, t.function)
      : el("span", { class: "muted" }, "every function")));
    cells.push(
      el("td", { "data-label": "Created" }, timeEl(t.createdAt)),
      el("td", { "data-label": "Expires" }, t.expiresAt ? timeEl(t.expiresAt) : el("span", { class: "muted" }, "never")),
      el("td", { "data-label": "State", "data-testid": "credential-state" }, tokenState(t),
        t.revokedAt ? el("div", { class: "muted small" }, timeEl(t.revokedAt)) : null),
      el("td", { "data-label": "" }, revoke, err));
    return el("tr", { "data-testid": key ? "key-row" : "token-row", "data-id": t.id, "data-name": t.name }, ...cells);
  }

  async function loadTokens() {
    let list;
    try {
      list = await api("GET", tenantUrl("/tokens"));
    } catch (err) {
      if (err.status !== 401) showError($("token-list-error"), "Cannot list the tokens: " + err.message);
      return;
    }
    showError($("token-list-error"), "");
    const rows = (Array.isArray(list) ? list : []).filter((t) => t && typeof t.id === "string")
      .map((t) => credentialRow(t, false));
    $("token-rows").replaceChildren(...rows);
    show($("no-tokens"), rows.length === 0);
  }

  async function loadKeys() {
    let list;
    try {
      list = await api("GET", tenantUrl("/keys"));
    } catch (err) {
      if (err.status !== 401) showError($("key-list-error"), "Cannot list the invoke keys: " + err.message);
      return;
    }
    showError($("key-list-error"), "");
    const rows = (Array.isArray(list) ? list : []).filter((t) => t && typeof t.id === "string")
      .map((t) => credentialRow(t, true));
    $("key-rows").replaceChildren(...rows);
    show($("no-keys"), rows.length === 0);
  }

  async function loadInvokeAuth() {
    try {
      const r = await api("GET", tenantUrl("/invoke"));
      $("tenant-invoke-auth").checked = !!(r && r.auth === true);
      showError($("invoke-auth-error"), "");
    } catch (err) {
      if (err.status !== 401) showError($("invoke-auth-error"), "Cannot read the setting: " + err.message);
    }
  }

  async function loadFunctions() {
    let fns = [];
    try {
      fns = await api("GET", "../system/functions?namespace=" + enc(page.ns));
    } catch (err) {
      if (err.status === 401) return;
    }
    const names = (Array.isArray(fns) ? fns : []).map((f) => f && f.name).filter((n) => typeof n === "string").sort();
    $("key-function").replaceChildren(el("option", { value: "" }, "every function of " + page.ns),
      ...names.map((n) => el("option", { value: n }, n)));
  }

  // The tenant's record; false when it is not there.
  async function loadTenant() {
    let t;
    try {
      t = await api("GET", tenantUrl());
    } catch (err) {
      if (err.status === 401) return false;
      showError($("tenant-error"), err.status === 404 ? "There is no tenant " + page.ns + "."
        : "Cannot read tenant " + page.ns + ": " + err.message);
      return false;
    }
    page.tenant = t;
    showError($("tenant-error"), "");
    $("tenant-summary").replaceChildren("Created ", timeEl(t.createdAt),
      typeof t.uidBase === "number" ? "; its sandboxes run as host uids " + t.uidBase + " to " + (t.uidBase + 65535) : "",
      "; " + (t.tokens ?? 0) + " active token" + (t.tokens === 1 ? "" : "s") + ".");
    renderQuotas(t);
    return true;
  }

  async function saveQuotas(ev) {
    ev.preventDefault();
    const errNode = $("quota-error");
    showError(errNode, "");
    $("quota-note").textContent = "";
    const changes = {};
    let first = null;
    for (const input of document.querySelectorAll('#quota-rows [data-testid="quota-input"]')) {
      input.removeAttribute("aria-invalid");
      const v = input.value.trim();
      if (v === input.dataset.was) continue;
      const q = QUOTAS.find((x) => x.key === input.dataset.key);
      // The shape only: the daemon judges the unit, and its answer names the quota.
      const ok = v === "" || (q.kind === "count" ? /^\d+$/.test(v) : q.kind === "size" ? /^\d+(\.\d+)?[A-Za-z]{0,2}$/.test(v)
        : /^\d+(\.\d+)?m?$/.test(v));
      if (!ok) {
        input.setAttribute("aria-invalid", "true");
        first = first || { input, q };
        continue;
      }
      changes[q.key] = v === "" ? null : q.kind === "count" ? Number(v) : v;
    }
    if (first) {
      showError(errNode, first.q.label + ": " + (first.q.kind === "count" ? "a whole number (0: no limit)."
        : first.q.kind === "size" ? "a size such as 512Mi or 2Gi (0: no limit)." : "CPUs such as 2 or 500m (0: no limit)."));
      first.input.focus();
      return;
    }
    if (Object.keys(changes).length === 0) {
      $("quota-note").textContent = "Nothing changed.";
      return;
    }
    $("quota-save").disabled = true;
    let t;
    try {
      t = await api("PUT", tenantUrl(), { quotas: changes });
    } catch (err) {
      if (err.status !== 401) showError(errNode, "Cannot save the quotas: " + err.message);
      return;
    } finally {
      $("quota-save").disabled = false;
    }
    if (t && typeof t === "object") {
      page.tenant = t;
      renderQuotas(t);
    } else {
      await loadTenant();
    }
    $("quota-note").textContent = "Saved: " + Object.keys(changes).join(", ") + ".";
    say("Quotas saved.");
  }

  async function issue(ev, key) {
    ev.preventDefault();
    const prefix = key ? "key" : "token";
    const errNode = $(prefix + "-error"), nameInput = $(prefix + "-name");
    fieldError(nameInput, errNode, "");
    const name = nameInput.value.trim();
    if (name && !TOKEN_NAME_RE.test(name)) {
      fieldError(nameInput, errNode, "A name is 1-64 letters, digits, “-”, “_” or “.”.");
      nameInput.focus();
      return;
    }
    const body = {};
    if (name) body.name = name;
    if ($(prefix + "-expires").value) body.expiresIn = $(prefix + "-expires").value;
    if (key && $("key-function").value) body.function = $("key-function").value;
    hideOnce();
    let r;
    try {
      r = await api("POST", tenantUrl(key ? "/keys" : "/tokens"), body);
    } catch (err) {
      if (err.status !== 401) showError(errNode, "Cannot issue the " + (key ? "invoke key" : "token") + ": " + err.message);
      return;
    }
    $(prefix + "-form").reset();
    const value = r && (key ? r.key : r.token);
    if (typeof value !== "string") {
      showError(errNode, "The gateway answered without the " + (key ? "key" : "token") + ".");
      return;
    }
    if (key)
      showOnce($("key-once"), "invoke key", value, "Send it as “Authorization: Bearer KEY” on calls to " +
        (r.function ? r.function : "the tenant's functions") + ". It works for calls only.");
    else
      showOnce($("token-once"), "token", value, "Sign in as user " + page.ns + " with this token: here, with “faas-cli login -u " +
        page.ns + "”, or as “Authorization: Bearer TOKEN”.");
    say("Issued " + (key ? "an invoke key" : "a token") + ", shown once.");
    await (key ? loadKeys() : loadTokens());
    if (!key) await loadTenant();
  }

  async function setInvokeAuth() {
    const box = $("tenant-invoke-auth");
    const on = box.checked;
    showError($("invoke-auth-error"), "");
    box.disabled = true;
    try {
      const r = await api("PUT", tenantUrl("/invoke"), { auth: on });
      box.checked = !!(r && r.auth === true);
      say(box.checked ? "Calls now need a credential." : "Calls are open.");
    } catch (err) {
      box.checked = !on;
      if (err.status !== 401) showError($("invoke-auth-error"), "Cannot change it: " + err.message);
    } finally {
      box.disabled = false;
    }
  }

  async function deleteTenant() {
    const ns = page.ns;
    showError($("tenant-error"), "");
    const ok = await SF.confirm("Delete tenant " + ns + "?",
      "Its namespace goes with its secrets, tokens and invoke keys; whoever signs in as " + ns +
      " is refused from then on. A tenant that still has functions is not deleted.", "Delete tenant");
    if (!ok) return;
    try {
      await api("DELETE", tenantUrl());
    } catch (err) {
      if (err.status === 401) return;
      showError($("tenant-error"), err.status === 409
        ? "Tenant " + ns + " still has functions: delete them first, then the tenant."
        : "Cannot delete " + ns + ": " + err.message);
      return;
    }
    say("Deleted tenant " + ns + ".");
    try { await SF.reidentify(); } catch (e) { /* as above */ }
    SF.go(link.tenants());
  }

  SF.views.tenant = {
    id: "view-tenant",
    title: (p) => (p.self ? "Quotas and keys" : "Tenant " + p.tenant),
    init() {
      $("quota-form").addEventListener("submit", saveQuotas);
      $("token-form").addEventListener("submit", (ev) => issue(ev, false));
      $("key-form").addEventListener("submit", (ev) => issue(ev, true));
      $("tenant-invoke-auth").addEventListener("change", setInvokeAuth);
      $("tenant-delete").addEventListener("click", deleteTenant);
    },
    async enter(p) {
      page.ns = p.tenant;
      page.tenant = null;
      page.self = !!p.self;
      $("view-tenant").classList.toggle("self", page.self);
      $("tenant-heading").textContent = page.self ? "Quotas and keys of" : "Tenant";
      show($("tenant-tokens"), !page.self);
      hideOnce();
      $("tenant-name").textContent = p.tenant;
      for (const e of document.querySelectorAll("#view-tenant .tenant-ref")) e.textContent = p.tenant;
      $("tenant-summary").textContent = "";
      for (const id of ["quota-rows", "token-rows", "key-rows"]) $(id).replaceChildren();
      for (const id of ["tenant-error", "quota-error", "token-error", "key-error", "token-list-error", "key-list-error",
        "invoke-auth-error"]) showError($(id), "");
      $("quota-note").textContent = "";
      $("token-form").reset();
      $("key-form").reset();
      const known = SF.session.namespaces.includes(p.tenant);
      $("tenant-functions").href = known ? link.functions(p.tenant) : link.tenants();
      $("tenant-audit").href = link.audit({ tenant: p.tenant });
      $("tenant-delete").disabled = p.tenant === SF.DEFAULT_NS;
      $("tenant-delete").title = p.tenant === SF.DEFAULT_NS ? "The default namespace cannot be deleted." : "";
      show($("tenant-body"), false);
      if (!(await loadTenant())) return;
      show($("tenant-body"), true);
      await Promise.all([page.self ? null : loadTokens(), loadKeys(), loadInvokeAuth(), loadFunctions()]);
    },
    leave() {
      // A token shown once does not stay on a page left behind.
      hideOnce();
    },
  };
})();
