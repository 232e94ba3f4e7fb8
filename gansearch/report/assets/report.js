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
    return (v) => a + ((v - lo) / (hi - lo)) * (b - a);
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
    xl.textContent = cost;
    const yl = el("text", { x: 15, y: H / 2, transform: `rotate(-90 15 ${H / 2})`, "text-anchor": "middle" }, axis);
    yl.textContent = `${q} (${data.quality_direction === "min" ? "lower" : "higher"} is better)`;
    for (const [v, where] of [[Math.min(...xs), "start"], [Math.max(...xs), "end"]]) {
      const t = el("text", { x: x(v), y: H - M.bottom + 16, "text-anchor": where }, axis);
      t.textContent = fmt(v);
    }
    for (const v of [Math.min(...ys), Math.max(...ys)]) {
      const t = el("text", { x: M.left - 4, y: y(v), "text-anchor": "end" }, axis);
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
    // Front members drawn last so that they sit on top.
    const ordered = points.filter((t) => !t.front).concat(points.filter((t) => t.front));
    for (const t of ordered) {
      const c = el("circle", { class: t.front ? "trial front" : "trial", cx: x(t.values[cost]),
        cy: y(t.values[q]), r: t.front ? 6 : 4.5, "data-trial": t.trial_id }, svg);
      c.addEventListener("mouseenter", () => showTooltip(t, c));
      c.addEventListener("mouseleave", hideTooltip);
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
    `${[data.quality].concat(data.costs).join(", ")}; hypervolume ${fmt(data.hypervolume)}`;
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
  const select = document.getElementById("cost-axis");
  for (const c of data.costs) {
    const o = document.createElement("option"); o.value = c; o.textContent = c; select.appendChild(o);
  }
  select.addEventListener("change", () => draw(select.value));
  draw(data.costs[0]);
  buildTable();

  // report.html?hover=TRIAL_ID shows that trial's tooltip: a link to one trial, and a handle for tests.
  const hover = new URLSearchParams(window.location.search).get("hover");
  if (hover) {
    const circle = document.querySelector(`circle.trial[data-trial="${CSS.escape(hover)}"]`);
    if (circle) circle.dispatchEvent(new MouseEvent("mouseenter"));
    else console.warn("no trial " + hover + " on the chart");
  }
})();
