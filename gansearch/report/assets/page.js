// What both pages (report.html, index.html) do alike: the cost-axis choice, kept for the tab so
// a reload does not reset it, and reloading themselves while a sweep runs.
"use strict";
const gansearchPage = {
  // Fill the <select id="cost-axis"> with ``costs`` and draw the kept (or first) one now and on change.
  axisSelect(costs, draw) {
    const key = "gansearch-axis:" + window.location.pathname;
    const select = document.getElementById("cost-axis");
    for (const c of costs) {
      const o = document.createElement("option"); o.value = c; o.textContent = c; select.appendChild(o);
    }
    const kept = sessionStorage.getItem(key);
    if (kept && costs.includes(kept)) select.value = kept;
    select.addEventListener("change", () => { sessionStorage.setItem(key, select.value); draw(select.value); });
    if (costs.length) draw(select.value || costs[0]);
  },
  // Count this tab's loads of the page (body[data-loads]) and reload after ``seconds`` if given.
  reloadEvery(seconds) {
    const key = "gansearch-loads:" + window.location.pathname;
    const loads = Number(sessionStorage.getItem(key) || 0) + 1;
    sessionStorage.setItem(key, String(loads));
    document.body.dataset.loads = String(loads);
    if (seconds) setTimeout(() => window.location.reload(), 1000 * seconds);
  },
};
