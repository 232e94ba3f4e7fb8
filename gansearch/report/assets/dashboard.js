// The sweeps of one storage folder: a table, and every sweep's front drawn against cost as a
// share of its own teacher's (log axis), one chart per quality metric. It loads nothing.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const W = 720, H = 380, M = { left: 70, right: 150, top: 15, bottom: 45 };
  const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];

  function el(name, attrs, parent, text) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function num(v) {
    if (v === null || v === undefined) return "";
    return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(2) : v.toPrecision(4);
  }

  function percent(share) {
    const p = 100 * share;
    return (p >= 10 ? p.toFixed(0) : p >= 1 ? p.toFixed(1) : p.toPrecision(2)) + "%";
  }

  function cell(row, text, html) {
    const td = document.createElement("td");
    if (html) td.appendChild(html); else td.textContent = text;
    row.appendChild(td);
  }

  function table() {
    const head = document.querySelector("#sweeps thead"), body = document.querySelector("#sweeps tbody");
    const columns = ["sweep", "state", "trials", "quality", "teacher", "best on front", "front",
      "hypervolume share", ...data.costs.map((c) => `smallest ${c} / teacher`)];
    const tr = document.createElement("tr");
    for (const c of columns) { const th = document.createElement("th"); th.textContent = c; tr.appendChild(th); }
    head.appendChild(tr);
    data.sweeps.forEach((s, i) => {
      const row = document.createElement("tr");
      row.dataset.sweep = s.name;
      row.className = "state-" + s.state;
      let name = document.createTextNode(s.name);
      if (s.report) { name = document.createElement("a"); name.href = s.report; name.textContent = s.name; }
      const key = document.createElement("span");
      key.className = "swatch"; key.style.background = COLORS[i % COLORS.length];
      const both = document.createElement("span"); both.append(key, name);
      cell(row, "", both);
      cell(row, s.state);
      cell(row, s.counts);
      cell(row, s.quality ? `${s.quality} (${s.direction === "min" ? "lower" : "higher"} is better)` : "");
      cell(row, num(s.teacher));
      cell(row, num(s.best));
      cell(row, s.front_size === undefined ? "" : String(s.front_size));
      cell(row, s.hypervolume_share == null ? "" : percent(s.hypervolume_share));
      for (const c of data.costs) cell(row, s.smallest && s.smallest[c] != null ? percent(s.smallest[c]) : "");
      body.appendChild(row);
    });
  }

  function logTicks(lo, hi) {
    const ticks = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
      for (const m of [1, 2, 5]) {
        const v = m * 10 ** e;
        if (v >= lo && v <= hi) ticks.push(v);
      }
    }
    return ticks;
  }

  function linearTicks(lo, hi) {
    const step0 = (hi - lo) / 5 || 1;
    const mag = 10 ** Math.floor(Math.log10(step0));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => (hi - lo) / s <= 6) || step0;
    const ticks = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) ticks.push(+v.toPrecision(12));
    return ticks;
  }

  function chart(quality, cost, parent) {
    const sweeps = data.sweeps.map((s, i) => ({ s, color: COLORS[i % COLORS.length] }))
      .filter(({ s }) => s.quality === quality);
    const points = sweeps.flatMap(({ s }) => s.front.filter((p) => p.share[cost] > 0));
    const wrap = document.createElement("div");
    wrap.className = "dashboard-chart";
    wrap.dataset.quality = quality;
    parent.appendChild(wrap);
    if (!points.length) { wrap.textContent = `${quality}: no finished trial with ${cost} yet`; return; }
    const ys = [...points.map((p) => p.quality), ...sweeps.map(({ s }) => s.teacher).filter((v) => v != null)];
    let [xlo, xhi] = [Math.min(...points.map((p) => p.share[cost]), 1), 1];
    xlo /= 1.3; xhi *= 1.3;
    let [ylo, yhi] = [Math.min(...ys), Math.max(...ys)];
    const pad = (yhi - ylo) * 0.08 || Math.abs(yhi) * 0.1 || 1; ylo -= pad; yhi += pad;
    const x = (v) => M.left + (Math.log(v / xlo) / Math.log(xhi / xlo)) * (W - M.left - M.right);
    const y = (v) => H - M.bottom - ((v - ylo) / (yhi - ylo)) * (H - M.top - M.bottom);
    const svg = el("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}` }, wrap);
    const axis = el("g", { class: "axis" }, svg);
    for (const t of logTicks(xlo, xhi)) {
      el("line", { class: "grid", x1: x(t), x2: x(t), y1: M.top, y2: H - M.bottom }, axis);
      el("text", { class: "tick", x: x(t), y: H - M.bottom + 15, "text-anchor": "middle" }, axis, percent(t));
    }
    for (const t of linearTicks(ylo, yhi)) {
      el("line", { class: "grid", x1: M.left, x2: W - M.right, y1: y(t), y2: y(t) }, axis);
      el("text", { class: "tick", x: M.left - 6, y: y(t) + 4, "text-anchor": "end" }, axis, num(t));
    }
    el("text", { x: (M.left + W - M.right) / 2, y: H - 8, "text-anchor": "middle" }, axis,
      `${cost} as a share of the sweep's teacher (log scale)`);
    const dir = sweeps[0].s.direction === "min" ? "lower" : "higher";
    el("text", { x: 14, y: H / 2, transform: `rotate(-90 14 ${H / 2})`, "text-anchor": "middle" }, axis,
      `${quality} (${dir} is better)`);
    sweeps.forEach(({ s, color }, i) => {
      const front = s.front.filter((p) => p.share[cost] > 0).sort((a, b) => a.share[cost] - b.share[cost]);
      if (front.length > 1) {
        el("polyline", { class: "front-line", fill: "none", stroke: color, "stroke-width": 1.5,
          points: front.map((p) => `${x(p.share[cost])},${y(p.quality)}`).join(" ") }, svg);
      }
      for (const p of front) {
        const c = el("circle", { class: "sweep-front", cx: x(p.share[cost]), cy: y(p.quality), r: 4.5,
          fill: color, "data-sweep": s.name, "data-trial": p.trial_id }, svg);
        el("title", {}, c, `${s.name} ${p.trial_id}: ${quality} ${num(p.quality)}, ${cost} ${percent(p.share[cost])} of the teacher's`);
      }
      if (s.teacher != null) {
        const tx = x(1), ty = y(s.teacher);
        el("rect", { class: "teacher", x: tx - 5, y: ty - 5, width: 10, height: 10, fill: color,
          transform: `rotate(45 ${tx} ${ty})`, "data-sweep": s.name }, svg);
      }
      el("rect", { x: W - M.right + 10, y: M.top + 18 * i, width: 10, height: 10, fill: color }, svg);
      el("text", { x: W - M.right + 25, y: M.top + 18 * i + 9, class: "legend-name" }, svg, s.name);
    });
    el("text", { x: W - M.right + 10, y: M.top + 18 * sweeps.length + 14, class: "legend-name" }, svg,
      "\u25C6 teacher (100%)");
  }

  function charts(cost) {
    const parent = document.getElementById("charts");
    parent.textContent = "";
    const qualities = [...new Set(data.sweeps.map((s) => s.quality).filter(Boolean))];
    for (const q of qualities) chart(q, cost, parent);
  }

  document.getElementById("storage").textContent = data.storage;
  let updated = `Updated ${data.updated}.`;
  if (data.reload_s) updated += ` A sweep is running: this page reloads every ${data.reload_s} s.`;
  document.getElementById("updated").textContent = updated;
  table();
  gansearchPage.axisSelect(data.costs, charts);
  document.getElementById("fronts").hidden = !data.costs.length;
  gansearchPage.reloadEvery(data.reload_s);
})();
