// SPDX-License-Identifier: MIT
// The audit trail (GET /system/audit, core/api/audit.c): every control-plane
// change and every refused request, newest first, filtered by tenant (the
// API's filter), actor, outcome and text (here). The admin sees every
// record, a tenant its own.
//
// The API has no verification route (`sfaasd audit verify` walks the chain
// on the host), so the console checks the records it reads itself: each
// record's SHA-256 over its previous hash and its fields (store/audit.h has
// the encoding), and, when it reads the whole trail unfiltered, that each
// record's previous hash is the hash of the record before it.
"use strict";

(function () {
  const { $, el, show, showError, api, enc, link, timeEl } = SF;
  const PAGE = 1000;        // the API's largest page
  const MAX_PAGES = 100;    // read at most this many records (100,000)
  const SHOW = 500;         // rows in the table at most

  const state = { records: [], complete: true, tenant: "", chain: null, loading: 0 };

  // ---- the chain --------------------------------------------------------------

  // "2026-12-06T15:17:59.123456789Z" -> unix nanoseconds as a decimal string.
  function unixNs(t) {
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(t);
    if (!m) return null;
    const secs = Date.parse(m[1] + "Z");
    if (isNaN(secs)) return null;
    return (BigInt(secs / 1000) * 1000000000n + BigInt((m[2] || "").padEnd(9, "0"))).toString();
  }

  function hex(buf) {
    return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function recordHash(r) {
    const te = new TextEncoder();
    const parts = [te.encode(r.prevHash)];
    const ns = unixNs(r.time);
    if (ns === null) return null;
    for (const v of [String(r.seq), ns, r.actor, r.tenant, r.credential, r.address, r.method, r.path, String(r.status), r.detail]) {
      const b = te.encode(String(v));
      parts.push(te.encode(b.length + ":"), b);
    }
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let off = 0;
    for (const p of parts) { all.set(p, off); off += p.length; }
    return hex(await crypto.subtle.digest("SHA-256", all));
  }

  // {ok, text, bad}: what the check of the records read found.
  async function checkChain(records, whole) {
    if (!window.crypto || !crypto.subtle)
      return { ok: null, text: "The records' hashes are not checked here: the browser offers SHA-256 only over HTTPS or on " +
        "localhost. Run “sfaasd audit verify” on the host." };
    if (records.length === 0) return { ok: null, text: "No records to check." };
    let prev = null;
    for (const r of records) {
      if (whole) {
        const want = prev ? prev.hash : "0".repeat(64);
        if ((prev || r.seq === 1) && r.prevHash !== want)
          return { ok: false, bad: r.seq, text: "The chain is broken at record " + r.seq + ": its previous hash is not the hash of " +
            (prev ? "record " + prev.seq : "the start") + " (a record was removed or inserted). Run “sfaasd audit verify” on the host." };
        if (prev && r.seq !== prev.seq + 1)
          return { ok: false, bad: r.seq, text: "The chain is broken: record " + r.seq + " follows record " + prev.seq + "." };
      }
      const h = await recordHash(r);
      if (h !== r.hash)
        return { ok: false, bad: r.seq, text: "Record " + r.seq + " does not match its hash: it was changed after it was written. " +
          "Run “sfaasd audit verify” on the host." };
      prev = r;
    }
    const last = records[records.length - 1];
    if (whole)
      return { ok: true, text: "Chain intact: " + records.length + " records checked" +
        (records[0].seq === 1 ? " from the first" : " from record " + records[0].seq) + ", head " + last.seq + " " + last.hash.slice(0, 16) + "…" };
    return { ok: true, text: "Each of the " + records.length + " records matches its hash. The links between them are checked " +
      "when the whole trail is shown (every tenant)." };
  }

  // ---- reading --------------------------------------------------------------

  async function load() {
    const my = ++state.loading;
    const tenant = SF.session.admin ? state.tenant : "";
    const out = [];
    let after = 0, complete = true;
    showError($("audit-error"), "");
    $("audit-chain").textContent = "Reading the audit trail…";
    $("audit-chain").className = "chain";
    try {
      for (let i = 0; ; i++) {
        if (i === MAX_PAGES) { complete = false; break; }
        const page = await api("GET", "../system/audit?limit=" + PAGE + "&after=" + after +
          (tenant ? "&namespace=" + enc(tenant) : ""));
        if (my !== state.loading) return;
        const list = Array.isArray(page) ? page.filter((r) => r && typeof r.seq === "number") : [];
        out.push(...list);
        if (list.length < PAGE) break;
        after = list[list.length - 1].seq;
      }
    } catch (err) {
      if (my !== state.loading) return;
      $("audit-chain").textContent = "";
      if (err.status !== 401) showError($("audit-error"), "Cannot read the audit trail: " + err.message);
      return;
    }
    state.records = out;
    state.complete = complete;
    render();
    const chain = await checkChain(out, SF.session.admin && !tenant && complete);
    if (my !== state.loading) return;
    $("audit-chain").textContent = chain.text;
    $("audit-chain").className = "chain " + (chain.ok === true ? "ok" : chain.ok === false ? "bad" : "");
    $("audit-chain").dataset.state = chain.ok === true ? "intact" : chain.ok === false ? "broken" : "unchecked";
  }

  // ---- showing ----------------------------------------------------------------

  function filters() {
    return { tenant: SF.session.admin ? $("audit-tenant").value : "", actor: $("audit-actor").value,
      outcome: $("audit-outcome").value, q: $("audit-text").value };
  }

  function matches(r, f) {
    if (f.actor && r.actor !== f.actor) return false;
    if (f.outcome === "ok" && r.status >= 400) return false;
    if (f.outcome === "refused" && r.status !== 401 && r.status !== 403) return false;
    if (f.outcome === "failed" && r.status < 400) return false;
    const q = f.q.trim().toLowerCase();
    if (q && ![r.path, r.detail, r.credential, r.method, r.address, r.tenant].some((v) => String(v).toLowerCase().includes(q)))
      return false;
    return true;
  }

  const ACTORS = { admin: "admin", tenant: "tenant", anonymous: "anonymous", invalid: "bad credentials" };

  function render() {
    const f = filters();
    const shown = state.records.filter((r) => matches(r, f)).reverse();
    const rows = shown.slice(0, SHOW).map((r) => el("tr", { "data-testid": "audit-row", "data-seq": String(r.seq),
      class: r.status === 401 || r.status === 403 ? "refused" : null },
      el("td", { class: "num", "data-label": "#" }, String(r.seq)),
      el("td", { "data-label": "Time" }, timeEl(r.time)),
      el("td", { "data-label": "Who", "data-testid": "audit-who" }, ACTORS[r.actor] || r.actor,
        r.credential ? el("div", { class: "muted small" }, r.credential === "password" ? "password" : "token " + r.credential) : null,
        el("div", { class: "muted small" }, r.address)),
      el("td", { "data-label": "Tenant" }, r.tenant || el("span", { class: "muted" }, "–")),
      el("td", { "data-label": "Request", "data-testid": "audit-request" }, el("code", {}, r.method + " " + r.path)),
      el("td", { class: "num", "data-label": "Status", "data-testid": "audit-status" }, String(r.status)),
      el("td", { "data-label": "Detail", "data-testid": "audit-detail" }, r.detail || "")));
    $("audit-rows").replaceChildren(...rows);
    const total = state.records.length;
    $("audit-count").textContent = (total === 0 ? "No records." : shown.length === total
      ? total + " record" + (total === 1 ? "" : "s") + "."
      : shown.length + " of " + total + " records match.") +
      (shown.length > SHOW ? " The newest " + SHOW + " are shown; narrow the filters to see others." : "") +
      (state.complete ? "" : " Only the oldest " + PAGE * MAX_PAGES + " records were read.");
  }

  // The filters are in the address, so reload and back keep them.
  function filtersChanged(reload) {
    const f = filters();
    history.replaceState(null, "", link.audit(f));
    if (reload) {
      state.tenant = f.tenant;
      load();
    } else {
      render();
    }
  }

  SF.views.audit = {
    id: "view-audit",
    title: () => "Audit trail",
    init() {
      $("audit-refresh").addEventListener("click", () => load());
      $("audit-tenant").addEventListener("change", () => filtersChanged(true));
      $("audit-actor").addEventListener("change", () => filtersChanged(false));
      $("audit-outcome").addEventListener("change", () => filtersChanged(false));
      $("audit-text").addEventListener("input", () => filtersChanged(false));
      $("audit-filters").addEventListener("submit", (ev) => ev.preventDefault());
    },
    async enter(p) {
      const admin = SF.session.admin;
      const q = p.query;
      const tenants = SF.session.namespaces;
      const want = q.get("tenant") || "";
      const options = [el("option", { value: "" }, "every tenant"), ...tenants.map((n) => el("option", { value: n }, n))];
      if (want && !tenants.includes(want)) options.push(el("option", { value: want }, want));
      $("audit-tenant").replaceChildren(...options);
      $("audit-tenant").value = want;
      show($("audit-tenant-box"), admin);
      state.tenant = admin ? want : "";
      $("audit-actor").value = ACTORS[q.get("actor")] ? q.get("actor") : "";
      $("audit-outcome").value = ["ok", "refused", "failed"].includes(q.get("outcome")) ? q.get("outcome") : "";
      $("audit-text").value = q.get("q") || "";
      state.records = [];
      $("audit-rows").replaceChildren();
      $("audit-count").textContent = "";
      await load();
    },
  };
})();
