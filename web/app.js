// SPDX-License-Identifier: MIT
// sfaasd web UI. Plain DOM, no framework. Every piece of data reaches the page
// through textContent or attributes, never innerHTML. All URLs are relative
// ("../system/...") so the UI works behind a path prefix.
"use strict";

(function () {
  const AUTH_KEY = "sfaasd.auth";       // base64("user:password"), this tab only
  const USER_KEY = "sfaasd.user";
  const NS_KEY = "sfaasd.namespace";
  const DEFAULT_NS = "openfaas-fn";
  const NAME_RE = /^[-a-zA-Z0-9_]+$/;
  const SHOW_MAX = 256 * 1024;          // characters of a response body shown
  const HEADERS_OF_INTEREST = ["content-type", "content-length", "x-duration-seconds", "x-call-id",
    "x-openfaas-internal", "x-start-time", "retry-after"];

  const $ = (id) => document.getElementById(id);
  const state = { auth: null, ns: null, functions: [], selected: null };

  // ---- small helpers ------------------------------------------------------

  // Create an element; children are nodes or strings (set as text).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  function show(node, on) { node.hidden = !on; }

  function say(msg) { $("status").textContent = msg; }

  function showError(node, msg) {
    node.textContent = msg || "";
    show(node, !!msg);
  }

  function b64utf8(s) {
    const bytes = new TextEncoder().encode(s);
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin);
  }

  // The error text of a failed response: {"error": "..."} or the first line.
  async function errorText(res) {
    let text = "";
    try { text = await res.text(); } catch (e) { /* ignore */ }
    try {
      const j = JSON.parse(text);
      if (j && typeof j.error === "string" && j.error) return j.error;
      if (j && typeof j.message === "string" && j.message) return j.message;
    } catch (e) { /* not JSON */ }
    const line = text.split("\n").map((l) => l.trim()).find((l) => l) || "";
    return line.slice(0, 300) || ("HTTP " + res.status + (res.statusText ? " " + res.statusText : ""));
  }

  class HttpError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // A call to the gateway's /system API with the stored Basic credentials.
  async function api(method, path, body, auth) {
    const headers = {
      "Authorization": "Basic " + (auth || state.auth),
      // Lets the daemon leave out WWW-Authenticate, so the browser does not
      // pop up its own password prompt over ours.
      "X-Requested-With": "XMLHttpRequest",
    };
    const init = { method, headers, cache: "no-store", credentials: "omit", redirect: "error" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      throw new HttpError(0, "Cannot reach the gateway: " + e.message);
    }
    if (res.status === 401) throw new HttpError(401, "Wrong username or password.");
    if (!res.ok) throw new HttpError(res.status, await errorText(res));
    const text = await res.text();
    if (!text) return null;
    try { return JSON.parse(text); } catch (e) { return text; }
  }

  // A failure while signed in: a 401 means the password no longer works.
  function fail(err) {
    if (err instanceof HttpError && err.status === 401 && state.auth) {
      signOut("Your session is no longer valid; sign in again.");
      return;
    }
    showError($("app-error"), err.message);
  }

  const nsQuery = () => "namespace=" + encodeURIComponent(state.ns);

  // ---- sign in / out ------------------------------------------------------

  async function signIn(ev) {
    ev.preventDefault();
    const user = $("login-username").value.trim();
    const pass = $("login-password").value;
    const errNode = $("login-error");
    if (!user || !pass) {
      showError(errNode, "Enter the username and the password.");
      (user ? $("login-password") : $("login-username")).focus();
      return;
    }
    const auth = b64utf8(user + ":" + pass);
    $("login-submit").disabled = true;
    try {
      // The check faas-cli login makes: the function list answers 200.
      await api("GET", "../system/functions", undefined, auth);
      state.auth = auth;
      sessionStorage.setItem(AUTH_KEY, auth);
      sessionStorage.setItem(USER_KEY, user);
      $("login-password").value = "";
      showError(errNode, "");
      await enterApp();
    } catch (err) {
      showError(errNode, err.message);
      $("login-password").select();
      $("login-password").focus();
    } finally {
      $("login-submit").disabled = false;
    }
  }

  function signOut(message) {
    state.auth = null;
    state.selected = null;
    state.functions = [];
    sessionStorage.removeItem(AUTH_KEY);
    sessionStorage.removeItem(USER_KEY);
    $("function-rows").replaceChildren();
    $("namespace").replaceChildren();
    show($("app-view"), false);
    show($("who"), false);
    showError($("app-error"), "");
    show($("login-view"), true);
    showError($("login-error"), typeof message === "string" ? message : "");
    $("login-password").focus();
    say("Signed out.");
  }

  async function enterApp() {
    show($("login-view"), false);
    show($("app-view"), true);
    show($("who"), true);
    $("who-name").textContent = "Signed in as " + (sessionStorage.getItem(USER_KEY) || "admin");
    showPane(null);
    await loadNamespaces();
    if (state.auth) $("namespace").focus();
  }

  // ---- namespaces and functions ------------------------------------------

  async function loadNamespaces() {
    let list = [];
    try {
      list = await api("GET", "../system/namespaces");
    } catch (err) {
      fail(err);
      if (!state.auth) return; // signed out by a 401
    }
    if (!Array.isArray(list) || list.length === 0) list = [DEFAULT_NS];
    list = list.filter((n) => typeof n === "string").sort();
    const saved = sessionStorage.getItem(NS_KEY);
    state.ns = list.includes(saved) ? saved : list.includes(DEFAULT_NS) ? DEFAULT_NS : list[0];
    $("namespace").replaceChildren(...list.map((n) => el("option", { value: n }, n)));
    $("namespace").value = state.ns;
    await loadFunctions();
  }

  async function loadFunctions() {
    let list;
    try {
      list = await api("GET", "../system/functions?" + nsQuery());
    } catch (err) {
      fail(err);
      return;
    }
    showError($("app-error"), "");
    state.functions = (Array.isArray(list) ? list : []).filter((f) => f && typeof f.name === "string");
    state.functions.sort((a, b) => a.name.localeCompare(b.name));
    renderFunctions();
    if (state.selected && !state.functions.some((f) => f.name === state.selected)) {
      state.selected = null;
      showPane(null);
    }
    say(state.functions.length + " functions in " + state.ns + ".");
  }

  function renderFunctions() {
    const rows = state.functions.map((f) => {
      const current = f.name === state.selected;
      const btn = el("button", { type: "button", class: "link", "data-testid": "function-open",
        onclick: () => selectFunction(f.name) }, f.name);
      if (current) btn.setAttribute("aria-current", "true");
      const tr = el("tr", { "data-testid": "function-row", "data-name": f.name, class: current ? "current" : "" },
        el("td", {}, btn, el("div", { class: "muted small" }, typeof f.image === "string" ? f.image : "")),
        el("td", { class: "num" }, String(Math.round(Number(f.invocationCount) || 0))),
        el("td", { class: "num" }, String(Number(f.replicas) || 0)));
      return tr;
    });
    $("function-rows").replaceChildren(...rows);
    show($("no-functions"), rows.length === 0);
  }

  // Which pane of the content area shows: "details", "deploy" or none.
  function showPane(which) {
    show($("details"), which === "details");
    show($("deploy"), which === "deploy");
    show($("placeholder"), !which);
  }

  function addProp(dl, term, value) {
    if (value === undefined || value === null || value === "") return;
    dl.append(el("dt", {}, term), el("dd", {}, String(value)));
  }

  function addMap(dl, term, map) {
    if (!map || typeof map !== "object") return;
    const keys = Object.keys(map).sort();
    if (keys.length === 0) return;
    const ul = el("ul", { class: "kv" }, ...keys.map((k) => el("li", {}, el("code", {}, k), " = ", el("code", {}, String(map[k])))));
    dl.append(el("dt", {}, term), el("dd", {}, ul));
  }

  async function selectFunction(name) {
    state.selected = name;
    renderFunctions();
    let f;
    try {
      f = await api("GET", "../system/function/" + encodeURIComponent(name) + "?" + nsQuery());
    } catch (err) {
      fail(err);
      return;
    }
    if (!f || typeof f !== "object") f = state.functions.find((x) => x.name === name) || { name };
    showError($("app-error"), "");
    $("details-title").textContent = name;
    const dl = $("details-list");
    dl.replaceChildren();
    addProp(dl, "Image", f.image);
    addProp(dl, "Namespace", f.namespace || state.ns);
    addProp(dl, "Process", f.envProcess);
    addProp(dl, "Replicas", (f.availableReplicas ?? "?") + " ready of " + (f.replicas ?? "?"));
    // sfaasd's own object: the mode and, in http mode, the warm instances.
    const ext = f.sfaasd && typeof f.sfaasd === "object" ? f.sfaasd : null;
    if (ext) {
      addProp(dl, "Mode", ext.mode === "http" ? "http (warm instances, port " + ext.port + ")"
                                              : "exec (a fresh sandbox per call)");
      if (Array.isArray(ext.instances) && ext.instances.length)
        addProp(dl, "Instances", ext.instances.map((i) => i.id + " " + i.state +
                (i.inflight ? " (" + i.inflight + " in flight)" : "")).join(", "));
      if (ext.lastError) addProp(dl, "Last error", ext.lastError);
    }
    const listed = state.functions.find((x) => x.name === name);
    if (listed) addProp(dl, "Invocations", Math.round(Number(listed.invocationCount) || 0));
    if (f.createdAt && !String(f.createdAt).startsWith("0001-")) addProp(dl, "Created", f.createdAt);
    addProp(dl, "URL", new URL("../function/" + name + "." + state.ns, location.href).href);
    addMap(dl, "Environment", f.envVars);
    addMap(dl, "Labels", f.labels);
    addMap(dl, "Annotations", f.annotations);
    if (Array.isArray(f.secrets) && f.secrets.length) addProp(dl, "Secrets", f.secrets.join(", "));
    if (f.limits && typeof f.limits === "object") {
      addProp(dl, "Memory limit", f.limits.memory);
      addProp(dl, "CPU limit", f.limits.cpu);
    }
    if (f.readOnlyRootFilesystem) addProp(dl, "Root filesystem", "read-only");
    show($("response"), false);
    showPane("details");
    $("details-title").setAttribute("tabindex", "-1");
    $("details-title").focus();
  }

  async function deleteFunction() {
    const name = state.selected;
    if (!name || !confirm("Delete function " + name + " from namespace " + state.ns + "?")) return;
    try {
      // Namespace in the body (faas-cli) and the query (OpenFaaS UI).
      await api("DELETE", "../system/functions?" + nsQuery(), { functionName: name, namespace: state.ns });
    } catch (err) {
      fail(err);
      return;
    }
    state.selected = null;
    showPane(null);
    say("Deleted " + name + ".");
    await loadFunctions();
    $("namespace").focus();
  }

  // ---- invoke -------------------------------------------------------------

  function updateInvokeForm() {
    const m = $("invoke-method").value;
    const noBody = m === "GET";
    $("invoke-body").disabled = noBody;
    $("invoke-content-type").disabled = noBody;
  }

  async function invoke(ev) {
    ev.preventDefault();
    const name = state.selected;
    if (!name) return;
    const method = $("invoke-method").value;
    // Gateway credentials are never sent to functions (as faas-cli).
    const init = { method, headers: {}, cache: "no-store", credentials: "omit", redirect: "manual" };
    if (method !== "GET") {
      init.headers["Content-Type"] = $("invoke-content-type").value;
      init.body = $("invoke-body").value;
    }
    const url = "../function/" + encodeURIComponent(name) + "." + encodeURIComponent(state.ns);
    const button = $("invoke-button");
    button.disabled = true;
    $("invoke-status").textContent = "Waiting…";
    $("invoke-time").textContent = "";
    $("invoke-headers").replaceChildren();
    $("invoke-response").textContent = "";
    $("response").classList.remove("failed");
    show($("response"), true);
    const t0 = performance.now();
    try {
      const res = await fetch(url, init);
      const text = await res.text();
      const ms = performance.now() - t0;
      $("invoke-status").textContent = res.type === "opaqueredirect" ? "Redirect (not followed)"
        : res.status + (res.statusText ? " " + res.statusText : "");
      $("invoke-time").textContent = ms < 1000 ? ms.toFixed(0) + " ms" : (ms / 1000).toFixed(2) + " s";
      const dl = $("invoke-headers");
      for (const h of HEADERS_OF_INTEREST) {
        const v = res.headers.get(h);
        if (v !== null) dl.append(el("dt", {}, h), el("dd", {}, v));
      }
      $("invoke-response").textContent = text.length > SHOW_MAX
        ? text.slice(0, SHOW_MAX) + "\n… (" + (text.length - SHOW_MAX) + " more characters not shown)" : text;
      if (!res.ok) $("response").classList.add("failed");
      say("Invocation finished with status " + res.status + ".");
    } catch (err) {
      $("invoke-status").textContent = "Failed: " + err.message;
      $("response").classList.add("failed");
    } finally {
      button.disabled = false;
    }
    loadFunctions(); // invocation counts
  }

  // ---- deploy -------------------------------------------------------------

  async function openDeploy() {
    state.selected = null;
    renderFunctions();
    $("deploy-form").reset();
    showError($("deploy-error"), "");
    showPane("deploy");
    const sel = $("deploy-image");
    let tags = [];
    try {
      const images = await api("GET", "../system/images");
      if (Array.isArray(images))
        for (const img of images)
          if (img && Array.isArray(img.tags)) tags.push(...img.tags.filter((t) => typeof t === "string"));
    } catch (err) {
      if (err.status === 401) { fail(err); return; }
      // No image list (an older gateway): typing a reference still works.
    }
    tags = [...new Set(tags)].sort();
    sel.replaceChildren(...tags.map((t) => el("option", { value: t }, t)),
      el("option", { value: "" }, tags.length ? "Other image reference…" : "Image reference…"));
    sel.value = tags.length ? tags[0] : "";
    updateImageRef();
    $("deploy-name").focus();
  }

  function updateImageRef() {
    const other = $("deploy-image").value === "";
    show($("deploy-image-ref"), other);
    show($("deploy-image-ref-label"), other);
  }

  function parseEnv(text) {
    const env = {};
    const lines = text.split("\n").map((l) => l.replace(/\r$/, "")).filter((l) => l.trim() !== "");
    for (const line of lines) {
      const i = line.indexOf("=");
      if (i <= 0) throw new Error("Environment line \"" + line + "\" is not KEY=value.");
      env[line.slice(0, i).trim()] = line.slice(i + 1);
    }
    return env;
  }

  async function deploy(ev) {
    ev.preventDefault();
    const errNode = $("deploy-error");
    const name = $("deploy-name").value.trim();
    const image = ($("deploy-image").value || $("deploy-image-ref").value).trim();
    const fprocess = $("deploy-fprocess").value.trim();
    let envVars;
    if (!NAME_RE.test(name)) {
      showError(errNode, "The name must be letters, digits, \"-\" and \"_\".");
      $("deploy-name").focus();
      return;
    }
    if (!image) {
      showError(errNode, "Choose an image.");
      ($("deploy-image").value ? $("deploy-image") : $("deploy-image-ref")).focus();
      return;
    }
    try {
      envVars = parseEnv($("deploy-env").value);
    } catch (err) {
      showError(errNode, err.message);
      $("deploy-env").focus();
      return;
    }
    const body = { service: name, image, namespace: state.ns, labels: {}, annotations: {} };
    if (fprocess) body.envProcess = fprocess;
    if (Object.keys(envVars).length) body.envVars = envVars;
    $("deploy-submit").disabled = true;
    try {
      // Update if it exists, else create: what faas-cli deploy does.
      try {
        await api("PUT", "../system/functions", body);
      } catch (err) {
        if (err.status !== 404) throw err;
        await api("POST", "../system/functions", body);
      }
    } catch (err) {
      if (err.status === 401) fail(err);
      else showError(errNode, err.message);
      $("deploy-submit").disabled = false;
      return;
    }
    $("deploy-submit").disabled = false;
    say("Deployed " + name + ".");
    await loadFunctions();
    await selectFunction(name);
  }

  // ---- wiring -------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", signIn);
    $("signout").addEventListener("click", () => signOut());
    $("namespace").addEventListener("change", () => {
      state.ns = $("namespace").value;
      sessionStorage.setItem(NS_KEY, state.ns);
      state.selected = null;
      showPane(null);
      loadFunctions();
    });
    $("refresh").addEventListener("click", () => loadFunctions());
    $("new-function").addEventListener("click", openDeploy);
    $("deploy-form").addEventListener("submit", deploy);
    $("deploy-cancel").addEventListener("click", () => { showPane(null); $("new-function").focus(); });
    $("deploy-image").addEventListener("change", updateImageRef);
    $("delete").addEventListener("click", deleteFunction);
    $("invoke-form").addEventListener("submit", invoke);
    $("invoke-method").addEventListener("change", updateInvokeForm);
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && !$("deploy").hidden) { showPane(null); $("new-function").focus(); }
    });
    updateInvokeForm();

    state.auth = sessionStorage.getItem(AUTH_KEY);
    if (state.auth) {
      enterApp();
    } else {
      show($("login-view"), true);
      $("login-password").focus();
    }
  });
})();
