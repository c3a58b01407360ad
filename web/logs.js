// SPDX-License-Identifier: MIT
// A function's Logs tab: GET /system/logs as the NDJSON stream it is (follow
// keeps it open and each record arrives as it is written), filtered by
// instance and text in the page, with a choice of how many earlier lines.
"use strict";

(function () {
  const { $, el, show, showError, api, enc, nsq } = SF;
  const KEEP = 5000;          // records kept in the page

  let ctx = null;
  let ctl = null;             // AbortController of the stream
  let records = [];
  let instances = new Set();
  let gen = 0;                // a stream started later wins

  function pad(n, w) { return String(n).padStart(w || 2, "0"); }

  function timeText(ts) {
    const d = SF.parseTime(ts);
    if (!d) return ts || "";
    return pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()) + "." + pad(d.getMilliseconds(), 3);
  }

  function matches(r) {
    const inst = $("logs-instance").value;
    const q = $("logs-filter").value.trim().toLowerCase();
    return (!inst || r.instance === inst) && (!q || String(r.text).toLowerCase().includes(q));
  }

  function lineEl(r) {
    return el("div", { class: "line" + (r.instance === "sfaasd" ? " daemon" : ""), "data-testid": "log-line" },
      el("time", { datetime: r.timestamp || "", title: r.timestamp || "" }, timeText(r.timestamp)),
      el("span", { class: "inst", title: r.instance || "" }, r.instance || ""),
      el("span", { class: "text" }, String(r.text ?? "")));
  }

  function atBottom() {
    const o = $("logs-out");
    return o.scrollTop + o.clientHeight >= o.scrollHeight - 24;
  }

  function rerender() {
    const out = $("logs-out");
    out.replaceChildren(...records.filter(matches).map(lineEl));
    out.scrollTop = out.scrollHeight;
    count();
  }

  function count() {
    const shown = $("logs-out").childElementCount;
    $("logs-out").dataset.count = String(shown);
  }

  function addInstance(i) {
    if (!i || instances.has(i)) return;
    instances.add(i);
    $("logs-instance").append(el("option", { value: i }, i === "sfaasd" ? "sfaasd (the daemon)" : i));
  }

  function add(batch) {
    const out = $("logs-out");
    const stick = atBottom();
    const frag = document.createDocumentFragment();
    for (const r of batch) {
      records.push(r);
      addInstance(r.instance);
      if (matches(r)) frag.append(lineEl(r));
    }
    out.append(frag);
    // Bounded: the oldest records go first.
    if (records.length > KEEP) {
      const drop = records.length - KEEP;
      const gone = records.splice(0, drop).filter(matches).length;
      for (let i = 0; i < gone && out.firstChild; i++) out.firstChild.remove();
    }
    if (stick) out.scrollTop = out.scrollHeight;
    count();
  }

  function state(text) { $("logs-state").textContent = text; }

  async function start() {
    stop();
    const my = ++gen;
    records = [];
    $("logs-out").replaceChildren();
    count();
    showError($("logs-error"), "");
    const follow = $("logs-follow").checked;
    const tail = Number($("logs-tail").value);
    let q = "name=" + enc(ctx.name) + "&" + nsq(ctx.ns) + "&follow=" + (follow ? "true" : "false");
    if (tail > 0) q += "&tail=" + tail;
    if (tail === 0) q += "&since=" + enc(new Date().toISOString());
    ctl = new AbortController();
    state(follow ? "Connecting…" : "Loading…");
    let res;
    try {
      res = await api("GET", "../system/logs?" + q, undefined, { raw: true, signal: ctl.signal });
    } catch (err) {
      if (err.name === "AbortError" || my !== gen) return;
      state("");
      if (err.status !== 401) showError($("logs-error"), "Cannot read the logs: " + err.message);
      return;
    }
    state(follow ? "Following: new lines appear as they are written." : "");
    $("logs-out").dataset.streaming = follow ? "true" : "false";
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || my !== gen) break;
        buf += dec.decode(value, { stream: true });
        const parts = buf.split("\n");
        buf = parts.pop();
        const batch = [];
        for (const line of parts) {
          if (!line.trim()) continue;
          try {
            const r = JSON.parse(line);
            if (r && typeof r === "object") batch.push(r);
          } catch (e) {
            batch.push({ instance: "", text: line, timestamp: "" });
          }
        }
        if (batch.length) add(batch);
      }
    } catch (err) {
      if (err.name === "AbortError" || my !== gen) return;
      showError($("logs-error"), "The log stream broke off: " + err.message + ". Choose Follow again to reconnect.");
    }
    if (my !== gen) return;
    $("logs-out").dataset.streaming = "false";
    const n = records.length;
    state(follow ? "The stream ended (the daemon stopped or the function went away). " + n + " lines."
      : n + (n === 1 ? " line." : " lines."));
  }

  function stop() {
    gen++;
    if (ctl) ctl.abort();
    ctl = null;
  }

  SF.tabs = SF.tabs || {};
  SF.tabs.logs = {
    init() {
      $("logs-follow").addEventListener("change", start);
      $("logs-tail").addEventListener("change", start);
      $("logs-instance").addEventListener("change", rerender);
      $("logs-filter").addEventListener("input", rerender);
      $("logs-clear").addEventListener("click", () => {
        records = [];
        $("logs-out").replaceChildren();
        count();
      });
    },
    enter(c) {
      if (!ctx || ctx.ns !== c.ns || ctx.name !== c.name || this.last !== c.ns + "/" + c.name) {
        instances = new Set();
        $("logs-instance").replaceChildren(el("option", { value: "" }, "all"));
        $("logs-filter").value = "";
      }
      ctx = c;
      this.last = c.ns + "/" + c.name;
      show($("logs-out"), true);
      start();
    },
    leave() {
      stop();
      state("");
    },
  };
})();
