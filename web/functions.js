// SPDX-License-Identifier: MIT
// The function list and one function's page (its header, tabs and overview).
// The invoke, logs and charts tabs live in their own files and register in
// SF.tabs.
"use strict";

(function () {
  const { $, el, show, say, showError, api, enc, nsq, link, fmtSeconds, timeEl } = SF;

  // ready / starting / failing / idle, from FunctionStatus and sfaasd's
  // extension object (mode, instances, lastError).
  function fnStatus(f) {
    const ext = f && f.sfaasd && typeof f.sfaasd === "object" ? f.sfaasd : {};
    if (ext.mode !== "http")
      return { key: "ready", text: "ready", detail: "exec mode: a fresh sandbox for every call" };
    const inst = Array.isArray(ext.instances) ? ext.instances : [];
    const ready = inst.filter((i) => i.state === "ready").length;
    const starting = inst.filter((i) => i.state === "starting").length;
    if (ready) return { key: "ready", text: "ready", detail: ready + " warm instance" + (ready > 1 ? "s" : "") + " ready" };
    if (ext.lastError) return { key: "failing", text: "failing", detail: ext.lastError };
    if (starting) return { key: "starting", text: "starting", detail: starting + " instance(s) starting" };
    return { key: "idle", text: "idle", detail: "no warm instance: the next call starts one" };
  }

  function badge(st) {
    return el("span", { class: "badge " + st.key, title: st.detail, "data-status": st.key }, st.text);
  }

  function replicasText(f) {
    const ext = f && f.sfaasd ? f.sfaasd : {};
    if (ext.mode !== "http") return "exec";
    const inst = Array.isArray(ext.instances) ? ext.instances : [];
    return inst.filter((i) => i.state === "ready").length + "/" + (Number(f.replicas) || 0);
  }

  // Totals since the daemon started, per function; {} when unavailable.
  async function totals(ns, signal) {
    try {
      const t = await api("GET", "../system/history/functions?" + nsq(ns), undefined, { signal });
      return t && t.functions && typeof t.functions === "object" ? t.functions : {};
    } catch (err) {
      if (err.status === 401 || err.name === "AbortError") throw err;
      return {}; // an older daemon: the list still shows
    }
  }

  // ---- the list -------------------------------------------------------------

  const list = { fns: [], totals: {}, query: "" };

  function renderList() {
    const q = list.query.trim().toLowerCase();
    const shown = list.fns.filter((f) => !q || f.name.toLowerCase().includes(q) ||
      (typeof f.image === "string" && f.image.toLowerCase().includes(q)));
    const rows = shown.map((f) => {
      const t = list.totals[f.name] || {};
      const st = fnStatus(f);
      return el("tr", { "data-testid": "function-row", "data-name": f.name },
        el("td", { "data-label": "Name" },
          el("a", { href: link.fn(f.name), "data-testid": "function-open" }, f.name),
          el("div", { class: "muted small" }, typeof f.image === "string" ? f.image : "")),
        el("td", { "data-label": "Status" }, badge(st)),
        el("td", { class: "num", "data-label": "Replicas", "data-testid": "function-replicas" }, replicasText(f)),
        el("td", { class: "num", "data-label": "Invocations", "data-testid": "function-invocations" },
          String(Math.round(Number(f.invocationCount) || 0))),
        el("td", { class: "num", "data-label": "Errors", "data-testid": "function-errors" }, String(t.errors || 0)),
        el("td", { class: "num", "data-label": "p50", "data-testid": "function-p50" }, fmtSeconds(t.p50)));
    });
    $("function-rows").replaceChildren(...rows);
    const none = $("no-functions");
    none.textContent = list.fns.length === 0 ? "No functions in this namespace yet."
      : "No function matches “" + list.query.trim() + "”.";
    show(none, rows.length === 0);
  }

  async function loadList() {
    let fns, t;
    try {
      [fns, t] = await Promise.all([api("GET", "../system/functions?" + nsq()), totals(SF.ns)]);
    } catch (err) {
      if (err.status !== 401) showError($("functions-error"), "Cannot list the functions: " + err.message);
      return;
    }
    showError($("functions-error"), "");
    list.fns = (Array.isArray(fns) ? fns : []).filter((f) => f && typeof f.name === "string")
      .sort((a, b) => a.name.localeCompare(b.name));
    list.totals = t;
    renderList();
  }

  SF.views.functions = {
    id: "view-functions",
    title: () => "Functions",
    init() {
      $("functions-refresh").addEventListener("click", async () => {
        await loadList();
        say(list.fns.length + " functions.");
      });
      $("functions-search").addEventListener("input", () => {
        list.query = $("functions-search").value;
        renderList();
        // The search is part of the address, so reload and back keep it.
        const base = link.functions();
        history.replaceState(null, "", list.query ? base + "?q=" + enc(list.query) : base);
      });
    },
    async enter(p) {
      list.query = p.query.get("q") || "";
      $("functions-search").value = list.query;
      $("new-function").href = link.newFn();
      list.fns = [];
      $("function-rows").replaceChildren();
      await loadList();
      SF.every(10000, loadList);
    },
  };

  // ---- one function ---------------------------------------------------------

  SF.tabs = SF.tabs || {};
  const page = { ns: null, name: null, fn: null, tab: null, totals: null };

  function addProp(dl, term, value, testid) {
    if (value === undefined || value === null || value === "") return;
    dl.append(el("dt", {}, term), el("dd", { "data-testid": testid }, value instanceof Node ? value : String(value)));
  }

  function addMap(dl, term, map, testid) {
    if (!map || typeof map !== "object") return;
    const keys = Object.keys(map).sort();
    if (keys.length === 0) return;
    const ul = el("ul", { class: "kv" }, ...keys.map((k) => el("li", {}, el("code", {}, k), " = ", el("code", {}, String(map[k])))));
    dl.append(el("dt", {}, term), el("dd", { "data-testid": testid }, ul));
  }

  function renderHeader() {
    const f = page.fn;
    $("fn-name").textContent = page.name;
    const st = fnStatus(f);
    const b = $("fn-status");
    b.className = "badge " + st.key;
    b.textContent = st.text;
    b.title = st.detail;
    b.dataset.status = st.key;
    $("fn-edit").href = link.fn(page.name, "edit");
    for (const a of document.querySelectorAll("#view-function .tabs a")) {
      a.href = link.fn(page.name, a.dataset.tab);
      if (a.dataset.tab === page.tab) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }

  function renderOverview() {
    const f = page.fn || {};
    const t = page.totals || {};
    const dl = $("fn-props");
    dl.replaceChildren();
    const ext = f.sfaasd && typeof f.sfaasd === "object" ? f.sfaasd : null;
    const st = fnStatus(f);
    addProp(dl, "Status", st.text + ": " + st.detail, "prop-status");
    addProp(dl, "Image", f.image, "prop-image");
    addProp(dl, "Namespace", f.namespace || page.ns);
    addProp(dl, "Process", f.envProcess, "prop-process");
    if (ext) {
      addProp(dl, "Mode", ext.mode === "http" ? "http: warm instances on port " + ext.port
        : "exec: a fresh sandbox per call", "prop-mode");
      if (ext.mode === "http") addProp(dl, "Replicas", (f.availableReplicas ?? 0) + " ready of " + (f.replicas ?? 0));
      if (Array.isArray(ext.instances) && ext.instances.length)
        addProp(dl, "Instances", ext.instances.map((i) => i.id + " " + i.state +
          (i.inflight ? " (" + i.inflight + " in flight)" : "")).join(", "));
      if (ext.queued) addProp(dl, "Waiting calls", ext.queued);
      if (ext.lastError) addProp(dl, "Last error", ext.lastError, "prop-last-error");
    }
    addProp(dl, "Invocations", String(t.calls || 0) + " since the daemon started", "prop-invocations");
    addProp(dl, "Errors", String(t.errors || 0), "prop-errors");
    if (t.p50 !== null && t.p50 !== undefined) addProp(dl, "Latency", "p50 " + fmtSeconds(t.p50) + ", p99 " + fmtSeconds(t.p99));
    if (t.lastCall) addProp(dl, "Last call", timeEl(t.lastCall));
    if (SF.parseTime(f.createdAt)) addProp(dl, "Deployed", timeEl(f.createdAt), "prop-created");
    addProp(dl, "URL", el("code", {}, new URL("../function/" + page.name + "." + page.ns, location.href).href));
    addMap(dl, "Environment", f.envVars, "prop-env");
    addMap(dl, "Labels", f.labels, "prop-labels");
    addMap(dl, "Annotations", f.annotations, "prop-annotations");
    if (Array.isArray(f.secrets) && f.secrets.length) addProp(dl, "Secrets", f.secrets.join(", "), "prop-secrets");
    for (const [key, label] of [["limits", "Limits"], ["requests", "Requests"]]) {
      const m = f[key];
      if (m && typeof m === "object" && (m.memory || m.cpu))
        addProp(dl, label, [m.memory && "memory " + m.memory, m.cpu && "CPU " + m.cpu].filter(Boolean).join(", "),
          "prop-" + key);
    }
    if (f.readOnlyRootFilesystem) addProp(dl, "Root filesystem", "read-only", "prop-readonly");
    if (Array.isArray(f.constraints) && f.constraints.length) addProp(dl, "Constraints", f.constraints.join(", "));
  }

  // Reload the function and its totals; false when it is gone.
  async function refresh(signal) {
    let f, t;
    try {
      [f, t] = await Promise.all([
        api("GET", "../system/function/" + enc(page.name) + "?" + nsq(page.ns), undefined, { signal }),
        totals(page.ns, signal)]);
    } catch (err) {
      if (err.name === "AbortError" || err.status === 401) return false;
      if (err.status === 404) {
        showError($("fn-error"), "Function " + page.name + " no longer exists in namespace " + page.ns + ".");
        return false;
      }
      showError($("fn-error"), "Cannot read the function: " + err.message);
      return false;
    }
    if (!f || typeof f !== "object") return false;
    page.fn = f;
    page.totals = t[page.name] || { calls: 0, errors: 0 };
    showError($("fn-error"), "");
    renderHeader();
    if (page.tab === "overview") renderOverview();
    return true;
  }

  const ctx = {
    get ns() { return page.ns; },
    get name() { return page.name; },
    get fn() { return page.fn; },
    get totals() { return page.totals; },
    refresh: () => refresh(),
  };

  SF.tabs.overview = {
    enter() {
      renderOverview();
      this.timer = setInterval(() => { if (!document.hidden) refresh(); }, 5000);
    },
    leave() { clearInterval(this.timer); },
  };

  function showTab(tab) {
    const old = page.tab;
    if (old && SF.tabs[old] && SF.tabs[old].leave) SF.tabs[old].leave();
    page.tab = tab;
    for (const t of ["overview", "invoke", "logs", "charts"]) show($("panel-" + t), t === tab);
    renderHeader();
    if (SF.tabs[tab]) return SF.tabs[tab].enter(ctx);
  }

  async function deleteFunction() {
    const name = page.name, ns = page.ns;
    const ok = await SF.confirm("Delete " + name + "?",
      "Function " + name + " will be removed from namespace " + ns + ", with its logs and charts. Its image and secrets stay.",
      "Delete function");
    if (!ok) return;
    try {
      // Namespace in the body (faas-cli) and the query (OpenFaaS UI).
      await api("DELETE", "../system/functions?" + nsq(ns), { functionName: name, namespace: ns });
    } catch (err) {
      if (err.status !== 401) showError($("fn-error"), "Cannot delete " + name + ": " + err.message);
      return;
    }
    say("Deleted " + name + ".");
    SF.go(link.functions(ns));
  }

  SF.views.function = {
    id: "view-function",
    title: (p) => p.name + (p.tab !== "overview" ? " · " + p.tab : ""),
    sameTarget: (a, b) => a.ns === b.ns && a.name === b.name,
    init() {
      $("fn-delete").addEventListener("click", deleteFunction);
    },
    async enter(p) {
      page.ns = p.ns;
      page.name = p.name;
      page.fn = null;
      page.totals = null;
      page.tab = null;
      $("fn-props").replaceChildren();
      $("fn-name").textContent = p.name;
      $("fn-status").textContent = "";
      showError($("fn-error"), "");
      for (const t of ["overview", "invoke", "logs", "charts"]) show($("panel-" + t), false);
      if (!(await refresh())) {
        for (const a of document.querySelectorAll("#view-function .tabs a")) a.href = link.fn(p.name, a.dataset.tab);
        return;
      }
      await showTab(p.tab);
    },
    async update(p) {
      if (!page.fn) return;
      await showTab(p.tab);
      // Focus stays on the tab link the user chose; the panel is announced.
      say(p.tab[0].toUpperCase() + p.tab.slice(1) + " of " + p.name + ".");
    },
    leave() {
      if (page.tab && SF.tabs[page.tab] && SF.tabs[page.tab].leave) SF.tabs[page.tab].leave();
      page.tab = null;
    },
  };

  SF.fnStatus = fnStatus;
})();
