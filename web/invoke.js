// SPDX-License-Identifier: MIT
// A function's Invoke tab: method, path, query, headers, a text, JSON or file
// body, sync or async; the answer's status, headers, body (JSON pretty-printed,
// binary offered as a download) and time; the async calls made from this tab
// with their state and callback result.
"use strict";

(function () {
  const { $, el, show, say, showError, api, enc, fmtBytes, fmtSeconds } = SF;
  const SHOW_MAX = 256 * 1024;    // characters of a body shown
  const ASYNC_KEEP = 20;          // calls remembered per function
  // Headers fetch() refuses to set (the browser drops them silently).
  const FORBIDDEN = /^(accept-charset|accept-encoding|access-control-request-.*|connection|content-length|cookie|cookie2|date|dnt|expect|host|keep-alive|origin|referer|te|trailer|transfer-encoding|upgrade|via|proxy-.*|sec-.*)$/i;
  const DEFAULT_TYPES = { text: "text/plain", json: "application/json", file: "application/octet-stream" };

  let ctx = null;
  let active = false;
  let downloadUrl = null;
  let pollTimer = null;

  const kind = () => document.querySelector('input[name="invoke-kind"]:checked').value;
  const mode = () => document.querySelector('input[name="invoke-mode"]:checked').value;

  function target(async) {
    let path = $("invoke-path").value.trim();
    if (path && !path.startsWith("/")) path = "/" + path;
    const q = $("invoke-query").value.trim().replace(/^\?/, "");
    return "../" + (async ? "async-function/" : "function/") + enc(ctx.name) + "." + enc(ctx.ns) + path + (q ? "?" + q : "");
  }

  function updateForm() {
    const m = $("invoke-method").value;
    const k = kind();
    const noBody = m === "GET";
    show($("invoke-text-box"), k !== "file");
    show($("invoke-file-box"), k === "file");
    $("invoke-body").disabled = noBody;
    $("invoke-file").disabled = noBody;
    $("invoke-content-type").disabled = noBody;
    show($("invoke-callback-box"), mode() === "async");
    $("invoke-url").textContent = ctx ? m + " " + new URL(target(mode() === "async"), location.href).pathname +
      (($("invoke-query").value.trim()) ? "?" + $("invoke-query").value.trim().replace(/^\?/, "") : "") : "";
  }

  function onKind() {
    const k = kind();
    const ct = $("invoke-content-type");
    // Follow the body kind unless the user typed a type of their own.
    if (!ct.value || Object.values(DEFAULT_TYPES).includes(ct.value)) {
      const f = $("invoke-file").files[0];
      ct.value = k === "file" && f && f.type ? f.type : DEFAULT_TYPES[k];
    }
    updateForm();
  }

  function parseHeaders(text) {
    const h = [];
    for (const raw of text.split("\n")) {
      const line = raw.replace(/\r$/, "");
      if (!line.trim()) continue;
      const i = line.indexOf(":");
      const name = i > 0 ? line.slice(0, i).trim() : "";
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
        throw new Error("Headers: the line \"" + line.slice(0, 80) + "\" is not Name: value.");
      if (FORBIDDEN.test(name)) throw new Error("Headers: the browser does not let a page set " + name + ".");
      h.push([name, line.slice(i + 1).trim()]);
    }
    return h;
  }

  function resetResponse() {
    $("invoke-status").textContent = "Waiting…";
    $("invoke-time").textContent = "";
    $("invoke-headers").replaceChildren();
    $("invoke-header-count").textContent = "0";
    $("invoke-response").textContent = "";
    show($("invoke-response"), true);
    show($("invoke-binary"), false);
    $("response").classList.remove("failed");
    if (downloadUrl) { URL.revokeObjectURL(downloadUrl); downloadUrl = null; }
  }

  const TEXTISH = /^(text\/|application\/(json|.*\+json|xml|.*\+xml|javascript|x-www-form-urlencoded|x-ndjson|yaml|x-yaml))/i;

  // Show a body: JSON pretty-printed, text as text, anything else (or text
  // that does not decode as UTF-8) as a download.
  function showBody(bytes, ctype) {
    const pre = $("invoke-response");
    let text = null;
    const looksText = !ctype || TEXTISH.test(ctype);
    if (looksText || bytes.length === 0) {
      try { text = new TextDecoder("utf-8", { fatal: true }).decode(bytes); } catch (e) { text = null; }
    }
    if (text !== null && !/[\0]/.test(text.slice(0, 4096))) {
      if (/json/i.test(ctype || "") && text.trim()) {
        try { text = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* shown as it is */ }
      }
      pre.textContent = text.length > SHOW_MAX
        ? text.slice(0, SHOW_MAX) + "\n… (" + (text.length - SHOW_MAX) + " more characters not shown)" : text;
      if (bytes.length === 0) pre.textContent = "";
      pre.dataset.kind = bytes.length === 0 ? "empty" : /json/i.test(ctype || "") ? "json" : "text";
      return;
    }
    show(pre, false);
    pre.dataset.kind = "binary";
    const blob = new Blob([bytes], { type: ctype || "application/octet-stream" });
    downloadUrl = URL.createObjectURL(blob);
    const a = $("invoke-download");
    a.href = downloadUrl;
    const ext = /png/.test(ctype) ? ".png" : /jpe?g/.test(ctype) ? ".jpg" : /gif/.test(ctype) ? ".gif"
      : /pdf/.test(ctype) ? ".pdf" : /zip/.test(ctype) ? ".zip" : /gzip/.test(ctype) ? ".gz" : ".bin";
    a.setAttribute("download", ctx.name + "-response" + ext);
    $("invoke-binary-text").textContent = "A binary body of " + fmtBytes(bytes.length) + " (" + (ctype || "no type") + ").";
    show($("invoke-binary"), true);
  }

  async function invoke(ev) {
    ev.preventDefault();
    const errNode = $("invoke-error");
    showError(errNode, "");
    const method = $("invoke-method").value;
    const async = mode() === "async";
    let headers;
    try {
      headers = parseHeaders($("invoke-headers-in").value);
    } catch (err) {
      showError(errNode, err.message);
      $("invoke-headers-in").focus();
      return;
    }
    if (async && method !== "POST") {
      showError(errNode, "Queued (async) calls are POST only, as in OpenFaaS.");
      $("invoke-method").focus();
      return;
    }
    // Gateway credentials are never sent to functions (as faas-cli).
    const init = { method, headers: new Headers(), cache: "no-store", credentials: "omit", redirect: "manual" };
    for (const [k, v] of headers) init.headers.append(k, v);
    if (method !== "GET") {
      const k = kind();
      if (k === "file") {
        const f = $("invoke-file").files[0];
        if (!f) {
          showError(errNode, "Choose a file to send, or another kind of body.");
          $("invoke-file").focus();
          return;
        }
        init.body = f;
      } else {
        init.body = $("invoke-body").value;
        if (k === "json" && init.body.trim()) {
          try { JSON.parse(init.body); } catch (err) {
            showError(errNode, "The body is not valid JSON: " + err.message);
            $("invoke-body").focus();
            return;
          }
        }
      }
      const ct = $("invoke-content-type").value.trim();
      if (ct && !init.headers.has("Content-Type")) init.headers.set("Content-Type", ct);
    }
    if (async) {
      const cb = $("invoke-callback").value.trim();
      if (cb && !/^http:\/\/./i.test(cb)) {
        showError(errNode, "The callback URL must start with http:// (the daemon sends callbacks in plain HTTP).");
        $("invoke-callback").focus();
        return;
      }
      if (cb) init.headers.set("X-Callback-Url", cb);
    }
    const button = $("invoke-button");
    button.disabled = true;
    resetResponse();
    show($("response"), true);
    const t0 = performance.now();
    try {
      const res = await fetch(target(async), init);
      const bytes = new Uint8Array(await res.arrayBuffer());
      const ms = performance.now() - t0;
      $("invoke-status").textContent = res.type === "opaqueredirect" ? "Redirect (not followed)"
        : res.status + (res.statusText ? " " + res.statusText : "");
      const dur = Number(res.headers.get("X-Duration-Seconds"));
      $("invoke-time").textContent = (ms < 1000 ? ms.toFixed(0) + " ms" : (ms / 1000).toFixed(2) + " s") + " in all" +
        (isFinite(dur) && res.headers.has("X-Duration-Seconds") ? ", " + fmtSeconds(dur) + " in the function" : "");
      const dl = $("invoke-headers");
      let n = 0;
      res.headers.forEach((v, k) => { dl.append(el("dt", {}, k), el("dd", {}, v)); n++; });
      $("invoke-header-count").textContent = String(n);
      showBody(bytes, res.headers.get("Content-Type"));
      if (!res.ok && res.type !== "opaqueredirect") $("response").classList.add("failed");
      if (async && res.status === 202 && res.headers.get("X-Call-Id")) {
        remember(res.headers.get("X-Call-Id"), $("invoke-callback").value.trim());
        pollAsync();
      }
      say("Invocation finished with status " + res.status + ".");
    } catch (err) {
      $("invoke-status").textContent = "Failed: " + err.message;
      $("response").classList.add("failed");
    } finally {
      button.disabled = false;
    }
    // The answer is below the form: bring it into view.
    $("response").scrollIntoView({ block: "start", behavior: "auto" });
    $("response-title").focus({ preventScroll: true });
    ctx.refresh(); // invocation counts, status
  }

  // ---- async calls made from this tab ---------------------------------------

  const storeKey = () => "sfaasd.async." + ctx.ns + "." + ctx.name;
  const calls = new Map(); // id -> last status object (or {error})

  function remembered() {
    try {
      const v = JSON.parse(sessionStorage.getItem(storeKey()) || "[]");
      return Array.isArray(v) ? v.filter((c) => c && typeof c.id === "string") : [];
    } catch (e) {
      return [];
    }
  }

  function remember(id, callback) {
    const list = remembered().filter((c) => c.id !== id);
    list.unshift({ id, callback: !!callback, at: Date.now() });
    sessionStorage.setItem(storeKey(), JSON.stringify(list.slice(0, ASYNC_KEEP)));
    renderAsync();
  }

  function final(s) {
    if (!s) return false;
    if (s.gone) return true;
    const doneCall = s.state === "done" || s.state === "failed";
    const doneCb = !s.callbackUrl || s.callbackState === "delivered" || s.callbackState === "failed";
    return doneCall && doneCb;
  }

  function callbackText(s) {
    if (!s || !s.callbackUrl) return "–";
    let t = s.callbackState || "?";
    if (s.callbackStatus) t += " (" + s.callbackStatus + ")";
    if (s.callbackAttempts > 1) t += ", " + s.callbackAttempts + " tries";
    if (s.callbackError) t += ": " + s.callbackError;
    return t;
  }

  function renderAsync() {
    const list = remembered();
    const rows = list.map((c) => {
      const s = calls.get(c.id);
      const state = !s ? "…" : s.gone ? "expired" : s.state || "?";
      return el("tr", { "data-testid": "async-row", "data-call-id": c.id },
        el("td", { "data-label": "Call" }, el("code", { title: c.id }, c.id.slice(0, 8) + "…")),
        el("td", { "data-label": "State" }, el("span", { class: "badge " + state, "data-testid": "async-state" }, state)),
        el("td", { class: "num", "data-label": "Status", "data-testid": "async-status" }, s && s.status ? String(s.status) : "–"),
        el("td", { class: "num", "data-label": "Time" }, s && s.durationSeconds ? fmtSeconds(s.durationSeconds) : "–"),
        el("td", { "data-label": "Callback", "data-testid": "async-callback" }, callbackText(s)));
    });
    $("async-rows").replaceChildren(...rows);
    show($("async-none"), rows.length === 0);
  }

  async function pollAsync() {
    if (!active) return;
    const list = remembered().filter((c) => !final(calls.get(c.id)));
    let failed = null;
    await Promise.all(list.map(async (c) => {
      try {
        calls.set(c.id, await api("GET", "../system/async/" + enc(c.id)));
      } catch (err) {
        if (err.status === 404) calls.set(c.id, { gone: true });
        else failed = err;
      }
    }));
    showError($("async-error"), failed && failed.status !== 401 ? "Cannot read the queued calls: " + failed.message : "");
    renderAsync();
    clearTimeout(pollTimer);
    if (active && remembered().some((c) => !final(calls.get(c.id))))
      pollTimer = setTimeout(pollAsync, 1000);
  }

  SF.tabs = SF.tabs || {};
  SF.tabs.invoke = {
    init() {
      $("invoke-form").addEventListener("submit", invoke);
      $("invoke-method").addEventListener("change", updateForm);
      for (const r of document.querySelectorAll('input[name="invoke-kind"]')) r.addEventListener("change", onKind);
      for (const r of document.querySelectorAll('input[name="invoke-mode"]')) r.addEventListener("change", updateForm);
      $("invoke-file").addEventListener("change", onKind);
      $("invoke-path").addEventListener("input", updateForm);
      $("invoke-query").addEventListener("input", updateForm);
      $("async-refresh").addEventListener("click", () => {
        calls.clear();
        pollAsync();
      });
    },
    enter(c) {
      const changed = !ctx || ctx.ns !== c.ns || ctx.name !== c.name || this.last !== c.ns + "/" + c.name;
      ctx = c;
      active = true;
      this.last = c.ns + "/" + c.name;
      if (changed) {
        // Another function: a fresh form (a path or body of the last one
        // would be wrong here).
        $("invoke-form").reset();
        calls.clear();
        show($("response"), false);
        showError($("invoke-error"), "");
      }
      updateForm();
      renderAsync();
      pollAsync();
    },
    leave() {
      active = false;
      clearTimeout(pollTimer);
    },
  };
})();
