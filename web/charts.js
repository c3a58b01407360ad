// SPDX-License-Identifier: MIT
// Charts of the last hour (GET /system/function/NAME/history and, for the
// admin, GET /system/history): one sample per 10 s, drawn with Chart.js as
// Debian packages it (libjs-chart.js, embedded in the binary at build time).
// Every chart has a text summary and a table of its last minutes for screen
// readers.
"use strict";

(function () {
  const { $, el, showError, api, enc, nsq, fmtSeconds, fmtBytes } = SF;
  const TABLE_SLOTS = 12;     // the table under a chart: its last two minutes

  function colours() {
    return {
      a: SF.cssVar("--accent") || "#1f6f5c",
      b: SF.cssVar("--accent2") || "#2563eb",
      bad: SF.cssVar("--danger") || "#b42318",
      fg: SF.cssVar("--muted") || "#5c6670",
      grid: SF.cssVar("--line") || "#d5dade",
    };
  }

  function hhmm(ms) {
    const d = new Date(ms);
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }

  // One chart: a figure with its canvas, caption and data table.
  class LineChart {
    constructor(box, id, title, series, fmt) {
      this.series = series;   // [{key, label, colour: "a" | "b" | "bad"}]
      this.fmt = fmt || ((v) => String(v));
      this.title = title;
      this.canvas = el("canvas", { role: "img", "aria-label": title, "data-testid": "chart-" + id });
      this.caption = el("figcaption", {}, title);
      this.table = el("table", { class: "list mini" });
      const details = el("details", {}, el("summary", {}, "Last two minutes as a table"), this.table);
      this.fig = el("figure", { class: "chart", "data-testid": "figure-" + id }, this.caption,
        el("div", { class: "canvas-box" }, this.canvas), details);
      box.append(this.fig);
      this.chart = null;
    }

    draw(h) {
      this.h = h;
      const c = colours();
      const start = h.start * 1000, step = h.step * 1000;
      const datasets = this.series.map((s) => ({
        label: s.label,
        data: h[s.key].map((v, i) => ({ x: start + i * step, y: v === null ? null : s.scale ? v * s.scale : v })),
        borderColor: c[s.colour],
        backgroundColor: c[s.colour],
        borderWidth: 1.5,
        pointRadius: 0,
        pointHitRadius: 6,
        spanGaps: false,
        stepped: s.stepped ? "middle" : false,
      }));
      if (typeof Chart === "undefined") {
        showError(this.errorNode(), "The charting library did not load; the table below has the numbers.");
      } else if (!this.chart) {
        this.chart = new Chart(this.canvas, {
          type: "line",
          data: { datasets },
          options: {
            animation: false,
            responsive: true,
            maintainAspectRatio: false,
            parsing: false,
            normalized: true,
            interaction: { mode: "nearest", axis: "x", intersect: false },
            scales: {
              x: {
                type: "linear", min: start, max: start + (h[this.series[0].key].length - 1) * step,
                ticks: { color: c.fg, stepSize: 10 * 60 * 1000, callback: (v) => hhmm(v), maxRotation: 0 },
                grid: { color: c.grid },
              },
              y: { beginAtZero: true, ticks: { color: c.fg, precision: this.series[0].integer ? 0 : undefined,
                callback: (v) => this.fmt(v, true) }, grid: { color: c.grid } },
            },
            plugins: {
              legend: { labels: { color: c.fg, boxWidth: 12 } },
              tooltip: { callbacks: { title: (items) => items.length ? hhmm(items[0].parsed.x) : "",
                label: (item) => item.dataset.label + ": " + this.fmt(item.parsed.y) } },
            },
          },
        });
      } else {
        this.chart.data.datasets.forEach((d, i) => { d.data = datasets[i].data; });
        this.chart.options.scales.x.min = start;
        this.chart.options.scales.x.max = start + (h[this.series[0].key].length - 1) * step;
        this.chart.update("none");
      }
      this.describe(h);
    }

    errorNode() {
      if (!this.err) {
        this.err = el("p", { class: "error", role: "alert" });
        this.fig.prepend(this.err);
      }
      return this.err;
    }

    // The accessible name says what the chart shows; the table has numbers.
    describe(h) {
      const parts = this.series.map((s) => {
        const vals = h[s.key].filter((v) => v !== null);
        const agg = s.sum ? vals.reduce((a, b) => a + b, 0) : vals.length ? Math.max(...vals) : null;
        return s.label + (s.sum ? " " : " at most ") + (agg === null ? "none" : this.fmt(s.scale ? agg * s.scale : agg));
      });
      this.canvas.setAttribute("aria-label", this.title + ", last hour: " + parts.join(", ") + ".");
      const n = h[this.series[0].key].length;
      const rows = [];
      for (let i = Math.max(0, n - TABLE_SLOTS); i < n; i++)
        rows.push(el("tr", {}, el("th", { scope: "row" }, hhmm((h.start + i * h.step) * 1000) +
          ":" + String(new Date((h.start + i * h.step) * 1000).getSeconds()).padStart(2, "0")),
          ...this.series.map((s) => el("td", { class: "num" },
            h[s.key][i] === null ? "–" : this.fmt(s.scale ? h[s.key][i] * s.scale : h[s.key][i])))));
      this.table.replaceChildren(
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Time"),
          ...this.series.map((s) => el("th", { scope: "col", class: "num" }, s.label)))),
        el("tbody", {}, ...rows));
    }

    restyle() {
      if (this.chart) {
        this.chart.destroy();
        this.chart = null;
      }
      if (this.h) this.draw(this.h);
    }

    destroy() {
      if (this.chart) this.chart.destroy();
      this.chart = null;
      this.fig.remove();
    }
  }

  const sum = (a) => a.reduce((x, y) => x + (y || 0), 0);
  const max = (a) => a.reduce((x, y) => (y !== null && y > x ? y : x), 0);
  const ms = (v, short) => (v === null || v === undefined ? "–" : short ? (v < 10 ? v.toFixed(1) : v.toFixed(0)) + " ms"
    : fmtSeconds(v / 1000));

  // ---- a function's charts --------------------------------------------------

  const fnCharts = { ctx: null, charts: [], timer: null, active: false };

  function makeFnCharts() {
    const box = $("fn-charts");
    box.replaceChildren();
    fnCharts.charts = [
      new LineChart(box, "calls", "Calls per 10 seconds", [
        { key: "calls", label: "calls", colour: "a", sum: true, integer: true },
        { key: "errors", label: "errors", colour: "bad", sum: true }], (v) => String(Math.round(v))),
      new LineChart(box, "latency", "Latency", [
        { key: "p50", label: "p50", colour: "a", scale: 1000 },
        { key: "p99", label: "p99", colour: "b", scale: 1000 }], ms),
      new LineChart(box, "instances", "Sandboxes", [
        { key: "instances", label: "warm instances", colour: "a", integer: true, stepped: true },
        { key: "inflight", label: "calls in flight (exec mode: one sandbox each)", colour: "b", stepped: true }],
      (v) => String(Math.round(v))),
    ];
  }

  async function loadFn() {
    const c = fnCharts.ctx;
    if (!c || !fnCharts.active) return;
    let h;
    try {
      h = await api("GET", "../system/function/" + enc(c.name) + "/history?" + nsq(c.ns));
    } catch (err) {
      if (err.status !== 401) showError($("fn-charts-error"), "Cannot read the history: " + err.message);
      return;
    }
    if (!fnCharts.active || fnCharts.ctx !== c) return;
    showError($("fn-charts-error"), "");
    for (const ch of fnCharts.charts) ch.draw(h);
    const calls = sum(h.calls), errors = sum(h.errors);
    const p50s = h.p50.filter((v) => v !== null);
    const s = $("fn-chart-summary");
    s.dataset.calls = String(calls);
    s.dataset.errors = String(errors);
    s.textContent = "Last hour: " + calls + " call" + (calls === 1 ? "" : "s") + ", " + errors + " error" +
      (errors === 1 ? "" : "s") + (p50s.length ? ", slowest p99 " + fmtSeconds(max(h.p99)) : "") +
      (c.fn && c.fn.sfaasd && c.fn.sfaasd.mode === "http"
        ? ", at most " + max(h.instances) + " warm instance" + (max(h.instances) === 1 ? "" : "s")
        : ", at most " + max(h.inflight) + " sandbox" + (max(h.inflight) === 1 ? "" : "es") + " at once") +
      ". Since the start: " + h.totals.calls + " calls, p50 " + fmtSeconds(h.totals.p50) + ".";
  }

  SF.tabs = SF.tabs || {};
  SF.tabs.charts = {
    init() {
      $("fn-charts-refresh").addEventListener("click", loadFn);
      document.addEventListener("sf-theme", () => { for (const ch of fnCharts.charts) ch.restyle(); });
    },
    async enter(c) {
      fnCharts.ctx = c;
      fnCharts.active = true;
      makeFnCharts();
      $("fn-chart-summary").textContent = "Loading…";
      await loadFn();
      clearInterval(fnCharts.timer);
      fnCharts.timer = setInterval(() => { if (!document.hidden) loadFn(); }, 10000);
    },
    leave() {
      fnCharts.active = false;
      clearInterval(fnCharts.timer);
      for (const ch of fnCharts.charts) ch.destroy();
      fnCharts.charts = [];
    },
  };

  // ---- the host (admin) -----------------------------------------------------

  const host = { charts: [], active: false };

  async function loadHost() {
    let h;
    try {
      h = await api("GET", "../system/history");
    } catch (err) {
      if (err.status !== 401) showError($("host-error"), "Cannot read the host's history: " + err.message);
      return;
    }
    if (!host.active) return;
    showError($("host-error"), "");
    // Memory in GiB for the axis.
    h.memoryGiB = h.memoryUsed.map((v) => (v === null ? null : v / 1073741824));
    for (const ch of host.charts) ch.draw(h);
    const last = (a) => { for (let i = a.length - 1; i >= 0; i--) if (a[i] !== null) return a[i]; return null; };
    const s = $("host-summary");
    s.dataset.calls = String(sum(h.calls));
    s.textContent = "Now: " + (last(h.sandboxes) ?? 0) + " sandboxes running, CPU " +
      (last(h.cpu) === null ? "–" : last(h.cpu).toFixed(0) + " %") + ", memory " +
      (last(h.memoryUsed) === null ? "–" : fmtBytes(last(h.memoryUsed))) + " of " +
      (h.memoryTotal ? fmtBytes(h.memoryTotal) : "?") + ". Last hour: " + sum(h.calls) + " calls, " + sum(h.errors) + " errors.";
  }

  SF.views.host = {
    id: "view-host",
    title: () => "Host",
    init() {
      $("host-refresh").addEventListener("click", loadHost);
      document.addEventListener("sf-theme", () => { for (const ch of host.charts) ch.restyle(); });
    },
    async enter() {
      host.active = true;
      const box = $("host-charts");
      box.replaceChildren();
      const gib = (v) => (v === null ? "–" : v.toFixed(v < 10 ? 2 : 1) + " GiB");
      host.charts = [
        new LineChart(box, "host-calls", "Calls per 10 seconds, all functions", [
          { key: "calls", label: "calls", colour: "a", sum: true, integer: true },
          { key: "errors", label: "errors", colour: "bad", sum: true }], (v) => String(Math.round(v))),
        new LineChart(box, "host-sandboxes", "Sandboxes running", [
          { key: "sandboxes", label: "sandboxes", colour: "a", integer: true, stepped: true }], (v) => String(Math.round(v))),
        new LineChart(box, "host-cpu", "CPU busy (all cores)", [
          { key: "cpu", label: "CPU", colour: "b" }], (v) => (v === null ? "–" : v.toFixed(0) + " %")),
        new LineChart(box, "host-memory", "Memory used", [
          { key: "memoryGiB", label: "used", colour: "a" }], gib),
      ];
      $("host-summary").textContent = "Loading…";
      await loadHost();
      SF.every(10000, loadHost);
    },
    leave() {
      host.active = false;
      for (const ch of host.charts) ch.destroy();
      host.charts = [];
    },
  };
})();
