// SPDX-License-Identifier: MIT
// sfaasd web console: the shell. Plain DOM, no framework. Every piece of data
// reaches the page through textContent or attributes, never innerHTML (the CSP
// forbids inline script and style as well). All URLs are relative
// ("../system/...") so the console works behind a path prefix.
//
// Every view has a URL (hash routes, since the daemon serves /ui/ as flat
// files): reload and the back button keep the place.
//   #/login                       sign in
//   #/ns/NS/functions[?q=text]    the function list
//   #/ns/NS/new                   deploy a new function
//   #/ns/NS/fn/NAME[/TAB]         a function: overview, invoke, logs, charts, edit
//   #/ns/NS/images, #/ns/NS/secrets
//   #/host                        the host's charts (admin)
//   #/tenants, #/tenants/NS       tenants, one tenant's quotas, tokens, keys (admin)
//   #/ns/NS/settings              a tenant's own quotas, invoke setting and keys
//   #/audit[?tenant=&actor=&outcome=&q=]   the audit trail
// The other files (functions.js, deploy.js, ...) register their views in
// SF.views; this one routes between them.
"use strict";

(function () {
  const AUTH_KEY = "sfaasd.auth";        // base64("user:secret"), this tab only
  const USER_KEY = "sfaasd.user";
  const THEME_KEY = "sfaasd.theme";
  const DEFAULT_NS = "openfaas-fn";

  const $ = (id) => document.getElementById(id);

  // Create an element; children are nodes or strings (set as text).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) {
      if (c === undefined || c === null) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function show(node, on) { node.hidden = !on; }
  function say(msg) { $("status").textContent = ""; setTimeout(() => { $("status").textContent = msg; }, 30); }
  function showError(node, msg) {
    node.textContent = msg || "";
    show(node, !!msg);
  }

  // A field's own error: text under it, aria-invalid on it.
  function fieldError(input, node, msg) {
    showError(node, msg);
    if (msg) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  }

  // ---- formatting -----------------------------------------------------------

  function fmtBytes(n) {
    n = Number(n);
    if (!isFinite(n) || n < 0) return "?";
    const units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(n) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) + " " + units[i];
  }

  // Seconds to "3.1 ms", "250 µs", "1.20 s".
  function fmtSeconds(s) {
    if (s === null || s === undefined || !isFinite(s)) return "–";
    if (s < 0.001) return (s * 1e6).toFixed(0) + " µs";
    if (s < 1) return (s * 1e3).toFixed(s < 0.01 ? 2 : s < 0.1 ? 1 : 0) + " ms";
    return s.toFixed(2) + " s";
  }

  // RFC 3339 with up to nine fraction digits; Date wants at most three.
  function parseTime(s) {
    if (typeof s !== "string" || s.startsWith("0001-")) return null;
    const d = new Date(s.replace(/(\.\d{3})\d+/, "$1"));
    return isNaN(d.getTime()) ? null : d;
  }

  function fmtAgo(d) {
    const s = Math.round((Date.now() - d.getTime()) / 1000);
    if (s < -30) {
      // A time to come (a token's expiry).
      const f = -s;
      if (f < 3600) return "in " + Math.round(f / 60) + " min";
      if (f < 86400) return "in " + Math.round(f / 3600) + " h";
      return "in " + Math.round(f / 86400) + " days";
    }
    if (s < 5) return "just now";
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.round(s / 60) + " min ago";
    if (s < 86400) return Math.round(s / 3600) + " h ago";
    return Math.round(s / 86400) + " days ago";
  }

  // A <time> element: local date and time, and how long ago.
  function timeEl(s) {
    const d = parseTime(s);
    if (!d) return document.createTextNode("–");
    return el("time", { datetime: d.toISOString(), title: s }, d.toLocaleString() + " (" + fmtAgo(d) + ")");
  }

  // "KEY=value" lines <-> an object of strings.
  function parseKV(text, what) {
    const out = {};
    const lines = text.split("\n").map((l) => l.replace(/\r$/, "")).filter((l) => l.trim() !== "");
    for (const line of lines) {
      const i = line.indexOf("=");
      if (i <= 0 || !line.slice(0, i).trim())
        throw new Error(what + ": the line \"" + line.slice(0, 80) + "\" is not KEY=value.");
      out[line.slice(0, i).trim()] = line.slice(i + 1);
    }
    return out;
  }
  function formatKV(map) {
    return Object.keys(map || {}).sort().map((k) => k + "=" + map[k]).join("\n");
  }

  // ---- the API --------------------------------------------------------------

  class HttpError extends Error {
    constructor(status, message) { super(message); this.status = status; }
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

  function authHeaders(auth) {
    return {
      "Authorization": "Basic " + (auth || SF.session.auth),
      // Lets the daemon leave out WWW-Authenticate, so the browser does not
      // pop up its own password prompt over the form.
      "X-Requested-With": "XMLHttpRequest",
    };
  }

  // A call to the gateway's /system API with the session's credentials.
  // opts: {auth, signal, raw (return the Response)}.
  async function api(method, path, body, opts) {
    opts = opts || {};
    const headers = authHeaders(opts.auth);
    const init = { method, headers, cache: "no-store", credentials: "omit", redirect: "error", signal: opts.signal };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (e) {
      if (e.name === "AbortError") throw e;
      throw new HttpError(0, "Cannot reach the gateway (" + e.message + ").");
    }
    if (res.status === 401) {
      // At sign-in: wrong credentials. Later: they stopped working (a
      // revoked or expired token, a changed password); expired() says so.
      const err = new HttpError(401, opts.auth ? "Wrong user name, password or token."
        : "The gateway no longer accepts your credentials.");
      if (!opts.auth) expired();
      throw err;
    }
    if (!res.ok) throw new HttpError(res.status, await errorText(res));
    if (opts.raw) return res;
    const text = await res.text();
    if (!text) return null;
    try { return JSON.parse(text); } catch (e) { return text; }
  }

  const enc = encodeURIComponent;
  const nsq = (ns) => "namespace=" + enc(ns || SF.ns);

  // ---- session --------------------------------------------------------------

  function b64utf8(s) {
    const bytes = new TextEncoder().encode(s);
    let bin = "";
    for (const b of bytes) bin += String.fromCharCode(b);
    return btoa(bin);
  }

  // Who is signed in, and what they may see: GET /system/whoami answers
  // {user, admin, namespaces}. The admin sees every namespace; a tenant signs
  // in with its name and a token through the same form (Basic auth) and sees
  // its own namespace only, so the switcher and the host view disappear.
  async function identify(auth, user) {
    const me = await api("GET", "../system/whoami", undefined, { auth });
    let namespaces = (me && Array.isArray(me.namespaces) ? me.namespaces : [])
      .filter((n) => typeof n === "string").sort();
    if (namespaces.length === 0) namespaces = [DEFAULT_NS];
    return { auth, user: me && typeof me.user === "string" ? me.user : user, admin: !!(me && me.admin === true),
      namespaces };
  }

  let wanted = null; // the route asked for before signing in

  async function signIn(ev) {
    ev.preventDefault();
    const user = $("login-username").value.trim();
    const pass = $("login-password").value;
    const errNode = $("login-error");
    if (!user || !pass) {
      showError(errNode, user ? "Enter the password or token." : "Enter the user name.");
      (user ? $("login-password") : $("login-username")).focus();
      return;
    }
    const auth = b64utf8(user + ":" + pass);
    $("login-submit").disabled = true;
    try {
      // As faas-cli login: the credentials work when the list answers 200.
      await api("GET", "../system/functions", undefined, { auth });
      SF.session = await identify(auth, user);
      sessionStorage.setItem(AUTH_KEY, auth);
      sessionStorage.setItem(USER_KEY, user);
      $("login-password").value = "";
      showError(errNode, "");
      enterShell();
      const to = wanted && wanted !== "#/login" ? wanted : "#/";
      wanted = null;
      go(to, true);
    } catch (err) {
      showError(errNode, err.message);
      $("login-password").select();
      $("login-password").focus();
    } finally {
      $("login-submit").disabled = false;
    }
  }

  function signOut(message) {
    leaveView();
    SF.session = null;
    sessionStorage.removeItem(AUTH_KEY);
    sessionStorage.removeItem(USER_KEY);
    show($("nav"), false);
    show($("who"), false);
    show($("ns-box"), false);
    showError($("app-error"), "");
    showError($("login-error"), typeof message === "string" ? message : "");
    go("#/login", true);
    say("Signed out.");
  }

  // A 401 on a call made with the session's credentials.
  function expired() {
    if (SF.session) {
      wanted = location.hash;
      signOut("Signed out: the gateway no longer accepts your credentials (a token that was revoked or " +
        "expired, or a changed password). Sign in again.");
    }
  }

  function enterShell() {
    const s = SF.session;
    show($("nav"), true);
    show($("who"), true);
    $("who-name").textContent = s.user;
    $("who-name").setAttribute("title", "Signed in as " + s.user + (s.admin ? " (admin)" : ""));
    show(document.querySelector('[data-nav="host"]'), s.admin);
    show(document.querySelector('[data-nav="tenants"]'), s.admin);
    show(document.querySelector('[data-nav="settings"]'), !s.admin);
    // The switcher: every namespace for the admin; a tenant has one.
    const sel = $("namespace");
    sel.replaceChildren(...s.namespaces.map((n) => el("option", { value: n }, n)));
    show($("ns-box"), s.namespaces.length > 1);
  }

  // Read the namespaces again (after a tenant was created or removed).
  async function reidentify() {
    if (!SF.session) return;
    const s = await identify(SF.session.auth, SF.session.user);
    SF.session = s;
    enterShell();
    // The namespace shown may be the one just removed.
    if (!SF.ns || !s.namespaces.includes(SF.ns)) SF.ns = defaultNs();
    $("namespace").value = SF.ns;
  }

  async function restore() {
    const auth = sessionStorage.getItem(AUTH_KEY);
    const user = sessionStorage.getItem(USER_KEY) || "admin";
    if (!auth) return false;
    try {
      SF.session = await identify(auth, user);
    } catch (err) {
      sessionStorage.removeItem(AUTH_KEY);
      showError($("login-error"), err.status === 401 ? "Your session is no longer valid; sign in again."
        : err.message);
      return false;
    }
    enterShell();
    return true;
  }

  // ---- routing --------------------------------------------------------------

  let current = null;      // {view, params}
  let timers = [];         // intervals of the current view

  // Run fn every ms while the current view shows (and once the tab is
  // visible again); cleared when the view is left.
  function every(ms, fn) {
    const id = setInterval(() => { if (!document.hidden) fn(); }, ms);
    timers.push(id);
    return id;
  }

  function leaveView() {
    for (const id of timers) clearInterval(id);
    timers = [];
    if (current && current.view.leave) {
      try { current.view.leave(); } catch (e) { console.error(e); }
    }
    current = null;
  }

  function go(hash, replace) {
    if (replace) {
      history.replaceState(null, "", hash);
      route();
    } else if (location.hash === hash) {
      route();
    } else {
      location.hash = hash;
    }
  }

  function parseHash() {
    const h = location.hash.startsWith("#/") ? location.hash.slice(1) : "/";
    const q = h.indexOf("?");
    const path = q < 0 ? h : h.slice(0, q);
    let parts;
    try {
      parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    } catch (e) {
      parts = ["?"];
    }
    return { parts, query: new URLSearchParams(q < 0 ? "" : h.slice(q + 1)) };
  }

  const link = {
    functions: (ns) => "#/ns/" + enc(ns || SF.ns) + "/functions",
    fn: (name, tab, ns) => "#/ns/" + enc(ns || SF.ns) + "/fn/" + enc(name) + (tab && tab !== "overview" ? "/" + tab : ""),
    newFn: (ns) => "#/ns/" + enc(ns || SF.ns) + "/new",
    images: (ns) => "#/ns/" + enc(ns || SF.ns) + "/images",
    secrets: (ns) => "#/ns/" + enc(ns || SF.ns) + "/secrets",
    host: () => "#/host",
    tenants: () => "#/tenants",
    tenant: (ns) => "#/tenants/" + enc(ns),
    // A tenant's own quotas, invoke setting and keys.
    settings: (ns) => "#/ns/" + enc(ns || SF.ns) + "/settings",
    // The audit trail, with filters ({tenant, actor, outcome, q}).
    audit: (f) => {
      const q = new URLSearchParams();
      for (const k of ["tenant", "actor", "outcome", "q"]) if (f && f[k]) q.set(k, f[k]);
      const qs = q.toString();
      return "#/audit" + (qs ? "?" + qs : "");
    },
  };

  function defaultNs() {
    const list = SF.session.namespaces;
    return list.includes(DEFAULT_NS) ? DEFAULT_NS : list[0];
  }

  function missing(text) {
    return { view: SF.views.missing, params: { text } };
  }

  // Which view and parameters the hash asks for.
  function resolve() {
    const { parts, query } = parseHash();
    if (!SF.session) return { view: SF.views.login, params: {} };
    if (parts.length === 0 || parts[0] === "login") return { redirect: link.functions(defaultNs()) };
    if (parts[0] === "host" && parts.length === 1)
      return SF.session.admin ? { view: SF.views.host, params: {} } : missing("The host view is for the admin.");
    if (parts[0] === "audit" && parts.length === 1) return { view: SF.views.audit, params: { query } };
    if (parts[0] === "tenants" && parts.length <= 2) {
      if (!SF.session.admin) return missing("The tenants are the admin's to see.");
      if (parts.length === 1) return { view: SF.views.tenants, params: {} };
      return { view: SF.views.tenant, params: { tenant: parts[1] } };
    }
    if (parts[0] !== "ns" || parts.length < 3) return missing("There is no page at this address.");
    const ns = parts[1];
    if (!SF.session.namespaces.includes(ns)) return missing("There is no namespace \"" + ns + "\" (or it is not yours).");
    const rest = parts.slice(2);
    if (rest.length === 1 && rest[0] === "settings") return { view: SF.views.tenant, params: { ns, tenant: ns, self: true } };
    const simple = { functions: "functions", new: "deploy", images: "images", secrets: "secrets" };
    if (rest.length === 1 && simple[rest[0]])
      return { view: SF.views[simple[rest[0]]], params: { ns, query, mode: "new" } };
    if (rest[0] === "fn" && rest.length >= 2 && rest.length <= 3) {
      const tab = rest[2] || "overview";
      if (tab === "edit") return { view: SF.views.deploy, params: { ns, name: rest[1], mode: "edit" } };
      if (["overview", "invoke", "logs", "charts"].includes(tab))
        return { view: SF.views.function, params: { ns, name: rest[1], tab, query } };
    }
    return missing("There is no page at this address.");
  }

  const VIEW_IDS = ["view-login", "view-functions", "view-function", "view-deploy", "view-images",
    "view-secrets", "view-host", "view-tenants", "view-tenant", "view-audit", "view-missing"];

  let routing = Promise.resolve();

  function route() {
    routing = routing.then(routeNow, routeNow);
    return routing;
  }

  async function routeNow() {
    const r = resolve();
    if (r.redirect) {
      history.replaceState(null, "", r.redirect);
      return routeNow();
    }
    if (!SF.session && location.hash !== "#/login" && location.hash) wanted = location.hash;
    const sameView = current && current.view === r.view && r.view.update &&
      r.view.sameTarget && r.view.sameTarget(current.params, r.params);
    if (sameView) {
      // The same function, another tab: no reload of what is shown.
      current.params = r.params;
      await r.view.update(r.params);
      markNav(r);
      return;
    }
    leaveView();
    showError($("app-error"), "");
    if (r.params.ns) {
      SF.ns = r.params.ns;
      $("namespace").value = SF.ns;
    }
    for (const id of VIEW_IDS) show($(id), id === r.view.id);
    current = { view: r.view, params: r.params };
    markNav(r);
    try {
      await r.view.enter(r.params);
    } catch (err) {
      if (err && err.name === "AbortError") return;
      console.error(err);
      showError($("app-error"), err.message || String(err));
    }
    // Move focus to the new view's heading (screen readers announce it).
    const h = document.querySelector("#" + r.view.id + " h2");
    if (h && current && current.view === r.view && !r.view.keepFocus) h.focus({ preventScroll: false });
  }

  function markNav(r) {
    const ns = SF.ns || (SF.session && defaultNs());
    const section = r.view === SF.views.images ? "images" : r.view === SF.views.secrets ? "secrets"
      : r.view === SF.views.host ? "host" : r.view === SF.views.tenant && r.params.self ? "settings"
      : r.view === SF.views.tenants || r.view === SF.views.tenant ? "tenants"
      : r.view === SF.views.audit ? "audit" : "functions";
    for (const a of document.querySelectorAll("#nav a")) {
      const which = a.dataset.nav;
      if (ns && ["functions", "images", "secrets", "settings"].includes(which)) a.href = link[which](ns);
      if (which === section && r.view !== SF.views.missing) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    document.title = (r.view.title ? r.view.title(r.params) + " · " : "") + "sfaasd";
  }

  // ---- confirm dialog -------------------------------------------------------

  // Resolves true when the user confirms. The dialog is modal: focus stays
  // in it, Escape cancels, and focus returns to where it was.
  function confirmDialog(title, text, okLabel) {
    const d = $("confirm");
    const back = document.activeElement;
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = okLabel || "Delete";
    return new Promise((resolve) => {
      const done = (v) => {
        $("confirm-ok").removeEventListener("click", ok);
        $("confirm-cancel").removeEventListener("click", cancel);
        d.removeEventListener("close", closed);
        if (d.open) d.close();
        if (back && back.focus) back.focus();
        resolve(v);
      };
      const ok = () => done(true);
      const cancel = () => done(false);
      const closed = () => done(false);
      $("confirm-ok").addEventListener("click", ok);
      $("confirm-cancel").addEventListener("click", cancel);
      d.addEventListener("close", closed);
      d.showModal();
      $("confirm-cancel").focus();
    });
  }

  // ---- theme ----------------------------------------------------------------

  const THEMES = ["auto", "light", "dark"];
  function applyTheme(t) {
    if (t === "light" || t === "dark") document.documentElement.dataset.theme = t;
    else delete document.documentElement.dataset.theme;
    $("theme").textContent = "Theme: " + t;
    $("theme-state").textContent = t === "auto" ? "follows the system" : t;
    document.dispatchEvent(new CustomEvent("sf-theme"));
  }
  function cycleTheme() {
    const now = localStorage.getItem(THEME_KEY) || "auto";
    const next = THEMES[(THEMES.indexOf(now) + 1) % THEMES.length];
    if (next === "auto") localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, next);
    applyTheme(next);
    say("Theme " + next + ".");
  }
  // A CSS custom property of the page (for the charts' colours).
  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  // ---- views defined here ---------------------------------------------------

  const views = {
    login: {
      id: "view-login",
      title: () => "Sign in",
      enter() {
        showError($("app-error"), "");
        $("login-password").value = "";
      },
    },
    missing: {
      id: "view-missing",
      title: () => "Not found",
      enter(p) {
        $("missing-text").textContent = p.text;
        $("missing-home").href = SF.session ? link.functions(SF.ns || defaultNs()) : "#/login";
      },
    },
  };

  // ---- start ----------------------------------------------------------------

  window.SF = {
    $, el, show, say, showError, fieldError, fmtBytes, fmtSeconds, fmtAgo, parseTime, timeEl, parseKV, formatKV,
    api, HttpError, errorText, authHeaders, nsq, enc, link, go, every, confirm: confirmDialog, cssVar, reidentify,
    views, session: null, ns: null, DEFAULT_NS,
    // Views call this when what they show no longer exists (404).
    current: () => current,
  };

  document.addEventListener("DOMContentLoaded", async () => {
    applyTheme(localStorage.getItem(THEME_KEY) || "auto");
    $("theme").addEventListener("click", cycleTheme);
    $("login-form").addEventListener("submit", signIn);
    $("signout").addEventListener("click", () => signOut());
    $("namespace").addEventListener("change", () => {
      // The same kind of page in the other namespace.
      const ns = $("namespace").value;
      const r = current && current.view;
      const to = r === SF.views.images ? link.images(ns) : r === SF.views.secrets ? link.secrets(ns)
        : r === SF.views.host ? link.host() : r === SF.views.tenants ? link.tenants()
        : r === SF.views.tenant ? (current.params.self ? link.settings(ns) : link.tenant(ns)) : r === SF.views.audit ? link.audit({ tenant: ns })
        : link.functions(ns);
      go(to);
    });
    // The skip link targets #main, which is not a route.
    document.querySelector(".skip").addEventListener("click", (ev) => {
      ev.preventDefault();
      $("main").focus();
    });
    window.addEventListener("hashchange", () => { route(); });
    // A link to the page already shown reloads it (no hashchange fires).
    document.addEventListener("click", (ev) => {
      const a = ev.target.closest && ev.target.closest('a[href^="#/"]');
      if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
      if (a.getAttribute("href") === location.hash) {
        ev.preventDefault();
        leaveView();
        route();
      }
    });
    for (const v of Object.values(SF.views)) v.init && v.init();
    for (const t of Object.values(SF.tabs || {})) t.init && t.init();
    await restore();
    if (!SF.session && location.hash !== "#/login") wanted = location.hash || null;
    await route();
  });
})();
