// The Pareto explorer: an SVG scatter of quality against a chosen cost, a tooltip per trial,
// and a sortable table. Everything it shows is in the #report-data JSON; it loads nothing.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const SVG = "http://www.w3.org/2000/svg";
  const W = 720, H = 420, M = { left: 80, right: 20, top: 20, bottom: 50 };

  function fmt(v) {
    if (v === null || v === undefined) return "";
    if (typeof v !== "number") return String(v);
    if (Number.isInteger(v) && Math.abs(v) < 1e6) return String(v);
    return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toPrecision(4);
  }

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    if (parent) parent.appendChild(node);
    return node;
  }

  function scale(lo, hi, a, b) {
    const span = hi - lo || Math.abs(hi) || 1;
    lo -= span * 0.05; hi += span * 0.05;
    const f = (v) => a + ((v - lo) / (hi - lo)) * (b - a);
    f.domain = [lo, hi];
    return f;
  }

  // Units of the measures gansearch records; a quality metric has none.
  const UNITS = { weight_bytes: "bytes", peak_activation_bytes: "bytes", macs: "MACs",
    effective_macs: "MACs", params: "parameters", latency_ms: "ms" };

  function human(v, unit) {
    if (unit === "ms") return v.toPrecision(3);
    const base = 1000;  // decimal, so that round ticks read round (20 kB, not 19.5 KiB)
    const names = unit === "bytes" ? ["B", "kB", "MB", "GB"] : ["", "K", "M", "G", "T"];
    let i = 0;
    while (Math.abs(v) >= base && i < names.length - 1) { v /= base; i += 1; }
    return (Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v * 10) / 10) : v.toPrecision(3)) + names[i];
  }

  // Four to seven round values between lo and hi (1, 2 or 5 times a power of ten apart).
  function ticks(lo, hi) {
    const raw = (hi - lo) / 6 || Math.abs(hi) || 1;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  }

  // Trials no other beats on both axes of the current view (quality and the chosen cost).
  function viewFront(points, q, cost) {
    const sign = data.quality_direction === "min" ? 1 : -1;
    return new Set(points.filter((t) => !points.some((o) => o !== t &&
      sign * o.values[q] <= sign * t.values[q] && o.values[cost] <= t.values[cost] &&
      (sign * o.values[q] < sign * t.values[q] || o.values[cost] < t.values[cost]))).map((t) => t.trial_id));
  }

  function showTooltip(trial, circle) {
    const tip = document.getElementById("tooltip");
    const rows = [["trial", trial.trial_id], ["status", trial.status]]
      .concat(Object.entries(trial.config)).concat(Object.entries(trial.values));
    tip.innerHTML = "";
    const dl = document.createElement("dl");
    for (const [k, v] of rows) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = fmt(v);
      dd.className = "value"; dd.dataset.key = k;
      dl.append(dt, dd);
    }
    tip.appendChild(dl);
    if (trial.thumbnail) {
      const img = document.createElement("img");
      img.src = trial.thumbnail; img.alt = "samples of " + trial.trial_id;
      tip.appendChild(img);
    }
    tip.dataset.trial = trial.trial_id;
    tip.hidden = false;
    tip.style.left = (Number(circle.getAttribute("cx")) + 20) + "px";
    tip.style.top = (Number(circle.getAttribute("cy")) + 40) + "px";
    document.querySelectorAll("circle.hovered").forEach((c) => c.classList.remove("hovered"));
    circle.classList.add("hovered");
  }

  function hideTooltip() {
    document.getElementById("tooltip").hidden = true;
  }

  function draw(cost) {
    const chart = document.getElementById("chart");
    chart.innerHTML = "";
    const q = data.quality;
    const points = data.trials.filter((t) => t.values[q] != null && t.values[cost] != null);
    const others = data.compare ? data.compare.front.filter((t) => t.values[q] != null && t.values[cost] != null) : [];
    const xs = points.concat(others).map((t) => t.values[cost]);
    const ys = points.concat(others).map((t) => t.values[q]);
    const teacherCost = data.teacher ? data.teacher.values[cost] : undefined;
    const teacherQuality = data.teacher ? data.teacher.values[q] : undefined;
    if (teacherCost != null) xs.push(teacherCost);
    if (teacherCost != null && teacherQuality != null) ys.push(teacherQuality);
    const svg = el("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, id: "scatter" }, chart);
    if (!xs.length) return;
    const x = scale(Math.min(...xs), Math.max(...xs), M.left, W - M.right);
    const y = scale(Math.min(...ys), Math.max(...ys), H - M.bottom, M.top);
    const axis = el("g", { class: "axis" }, svg);
    el("line", { x1: M.left, y1: H - M.bottom, x2: W - M.right, y2: H - M.bottom }, axis);
    el("line", { x1: M.left, y1: M.top, x2: M.left, y2: H - M.bottom }, axis);
    const xl = el("text", { x: (W + M.left) / 2, y: H - 10, "text-anchor": "middle" }, axis);
    xl.textContent = UNITS[cost] ? `${cost} (${UNITS[cost]}, lower is better)` : cost;
    const yl = el("text", { x: 15, y: H / 2, transform: `rotate(-90 15 ${H / 2})`, "text-anchor": "middle" }, axis);
    yl.textContent = `${q} (${data.quality_direction === "min" ? "lower" : "higher"} is better)`;
    for (const v of ticks(...x.domain)) {
      el("line", { class: "tick", x1: x(v), x2: x(v), y1: H - M.bottom, y2: H - M.bottom + 4 }, axis);
      const t = el("text", { class: "tick", x: x(v), y: H - M.bottom + 16, "text-anchor": "middle" }, axis);
      t.textContent = UNITS[cost] ? human(v, UNITS[cost]) : fmt(v);
    }
    for (const v of ticks(...y.domain)) {
      el("line", { class: "tick", x1: M.left - 4, x2: M.left, y1: y(v), y2: y(v) }, axis);
      el("line", { class: "grid", x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }, axis);
      const t = el("text", { class: "tick", x: M.left - 6, y: y(v) + 4, "text-anchor": "end" }, axis);
      t.textContent = fmt(v);
    }
    if (teacherCost != null && teacherQuality != null) {
      const s = 7, cx = x(teacherCost), cy = y(teacherQuality);
      el("rect", { class: "teacher", x: cx - s, y: cy - s, width: 2 * s, height: 2 * s,
        transform: `rotate(45 ${cx} ${cy})`, "data-teacher": "" }, svg);
    } else if (teacherCost != null) {
      el("line", { class: "teacher", x1: x(teacherCost), x2: x(teacherCost), y1: M.top, y2: H - M.bottom }, svg);
    }
    for (const t of others) {
      el("circle", { class: "compare", cx: x(t.values[cost]), cy: y(t.values[q]), r: 8, "data-trial": t.trial_id }, svg);
    }
    // Front members drawn last so that they sit on top; points of this view's own front get a
    // ring, and trials drawn on the same spot are counted beside it.
    const inView = viewFront(points.filter((t) => t.status === "finished"), q, cost);
    const ordered = points.filter((t) => !t.front).concat(points.filter((t) => t.front));
    const spots = new Map();
    for (const t of ordered) {
      const cx = x(t.values[cost]), cy = y(t.values[q]);
      const key = `${Math.round(cx / 3)},${Math.round(cy / 3)}`;
      spots.set(key, (spots.get(key) || []).concat([[cx, cy]]));
      if (inView.has(t.trial_id)) el("circle", { class: "view-front", cx, cy, r: 10, "data-trial": t.trial_id }, svg);
      const c = el("circle", { class: t.front ? "trial front" : "trial", cx, cy,
        r: t.front ? 6 : 4.5, "data-trial": t.trial_id }, svg);
      c.addEventListener("mouseenter", () => showTooltip(t, c));
      c.addEventListener("mouseleave", hideTooltip);
    }
    for (const same of spots.values()) {
      if (same.length < 2) continue;
      const [cx, cy] = same[0];
      el("text", { class: "overlap", x: cx + 9, y: cy - 7 }, svg).textContent = `×${same.length}`;
    }
  }

  function buildTable() {
    const columns = ["trial_id", "status", "front"].concat(data.knobs, [data.quality], data.costs,
      data.relative || []);
    const head = document.querySelector("#trials thead");
    const body = document.querySelector("#trials tbody");
    const tr = document.createElement("tr");
    let sortKey = null, ascending = true;
    const cell = (t, k) => (k === "front" ? (t.front ? "yes" : "") : k in t.values ? t.values[k]
      : k in t.config ? t.config[k] : t.relative && k in t.relative ? t.relative[k] : t[k]);
    function fill() {
      const rows = data.trials.slice();
      if (sortKey) {
        rows.sort((a, b) => {
          const u = cell(a, sortKey), v = cell(b, sortKey);
          if (u == null || u === "") return 1;
          if (v == null || v === "") return -1;
          const d = typeof u === "number" && typeof v === "number" ? u - v : String(u).localeCompare(String(v));
          return ascending ? d : -d;
        });
      }
      body.innerHTML = "";
      for (const t of rows) {
        const row = document.createElement("tr");
        row.dataset.trial = t.trial_id;
        if (t.front) row.className = "front";
        for (const k of columns) {
          const td = document.createElement("td"); td.textContent = fmt(cell(t, k)); row.appendChild(td);
        }
        body.appendChild(row);
      }
    }
    for (const k of columns) {
      const th = document.createElement("th");
      th.textContent = k;
      th.addEventListener("click", () => {
        ascending = sortKey === k ? !ascending : true;
        sortKey = k;
        tr.querySelectorAll("th").forEach((h) => (h.className = ""));
        th.className = ascending ? "sorted-asc" : "sorted-desc";
        fill();
      });
      tr.appendChild(th);
    }
    head.appendChild(tr);
    fill();
  }

  document.getElementById("sweep-name").textContent = data.name;
  const front = data.trials.filter((t) => t.front).length;
  let summary = `${data.counts}; ${front} on the Pareto front of ` +
    `${Object.keys(data.objectives).join(", ")}; hypervolume ${fmt(data.hypervolume)}`;
  if (data.hypervolume_share != null) summary += ` (${(100 * data.hypervolume_share).toFixed(1)}% of ` +
    "the box from the best value of each objective to 10% beyond the worst)";
  if (data.compare) summary += `; ${data.compare.name}: ${data.compare.front.length} on its front, ` +
    `hypervolume ${fmt(data.compare.hypervolume)} (same reference point)`;
  document.getElementById("summary").textContent = summary;
  if (data.compare) {
    document.getElementById("compare-name").textContent = data.compare.name;
    document.getElementById("compare-key").hidden = false;
  }
  document.getElementById("teacher-key").hidden = !data.teacher;
  if (data.teacher && data.teacher.values[data.quality] != null) {
    document.getElementById("teacher-text").textContent = "teacher, measured as every trial (" +
      Object.entries(data.teacher.values).map(([k, v]) => `${k} ${fmt(v)}`).join(", ") + ")";
  }
  // The teacher's samples beside the front's, largest first in the chosen cost.
  function samples(cost) {
    const strip = document.getElementById("sample-strip");
    strip.textContent = "";
    const figure = (id, image, caption) => {
      const f = document.createElement("figure");
      f.className = "sample"; f.dataset.trial = id;
      const img = document.createElement("img"); img.src = image; img.alt = caption;
      const c = document.createElement("figcaption"); c.textContent = caption;
      f.append(img, c); strip.appendChild(f);
    };
    const costText = (values) => (values[cost] == null ? "" :
      `, ${cost} ${UNITS[cost] ? human(values[cost], UNITS[cost]) : fmt(values[cost])}`);
    if (data.teacher && data.teacher.thumbnail) {
      const v = data.teacher.values;
      figure("teacher", data.teacher.thumbnail, `teacher: ${data.quality} ${fmt(v[data.quality])}${costText(v)}`);
    }
    data.trials.filter((t) => t.front && t.thumbnail)
      .sort((a, b) => (b.values[cost] ?? 0) - (a.values[cost] ?? 0))
      .forEach((t) => figure(t.trial_id, t.thumbnail,
        `${t.trial_id}: ${data.quality} ${fmt(t.values[data.quality])}${costText(t.values)}`));
    document.getElementById("samples").hidden = !strip.children.length;
  }

  gansearchPage.axisSelect(data.costs, (cost) => { draw(cost); samples(cost); });
  buildTable();

  // A live page (its sweep still runs) reloads itself until the sweep's final report replaces it.
  if (data.live) {
    const live = document.getElementById("live");
    live.hidden = false;
    live.textContent = `Live: the sweep is running. Updated ${data.live.updated}; this page reloads ` +
      `every ${data.live.reload_s} s until the sweep writes its final report.`;
  }
  gansearchPage.reloadEvery(data.live ? data.live.reload_s : null);

  // report.html?hover=TRIAL_ID shows that trial's tooltip: a link to one trial, and a handle for tests.
  const hover = new URLSearchParams(window.location.search).get("hover");
  if (hover) {
    const circle = document.querySelector(`circle.trial[data-trial="${CSS.escape(hover)}"]`);
    if (circle) circle.dispatchEvent(new MouseEvent("mouseenter"));
    else console.warn("no trial " + hover + " on the chart");
  }
})();
