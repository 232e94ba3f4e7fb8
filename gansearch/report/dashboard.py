"""``index.html`` of a storage folder: every sweep in it on one page, to watch and compare.

One row per sweep (state, trials by outcome, front size, hypervolume share, the teacher's
quality, the best quality and the smallest costs on its front, a link to its report), and one
chart per quality metric with every sweep's front drawn against cost as a share of its own
teacher's, so sweeps of different teachers compare. While a sweep runs the page reloads itself;
``gansearch sweep`` rewrites it as trials end, ``gansearch dashboard`` on demand. It reads
results and never trains.
"""

from __future__ import annotations

import time
from pathlib import Path

from gansearch.errors import ConfigError, GansearchError, first_line
from gansearch.report.page import render_page
from gansearch.report.sweep import load_sweep, teacher_baseline, trial_counts
from gansearch.search.hypervolume import hypervolume_share
from gansearch.search.pareto import pareto_front

RELOAD_S = 10  # how often the page reloads while a sweep runs
COSTS = ("macs", "weight_bytes", "params", "latency_ms")


def write_dashboard(storage: str | Path) -> Path:
    """Write ``STORAGE/index.html`` over the sweep folders in ``storage``; returns its path."""
    storage = Path(storage).expanduser()
    if not storage.is_dir():
        raise ConfigError(f"{storage}: no such folder; give the storage folder of your sweeps "
                          "(runs/sweeps by default, or the sweep's --storage)")
    sweeps = [_sweep(folder) for folder in sorted(storage.iterdir())
              if folder.is_dir() and not folder.name.startswith(".") and (folder / "spec.yaml").is_file()]
    costs = [c for c in COSTS if any(c in s.get("front_costs", ()) for s in sweeps)]
    running = any(s["state"] == "running" for s in sweeps)
    data = {"storage": str(storage.resolve()), "updated": time.strftime("%Y-%m-%d %H:%M:%S"),
            "sweeps": sweeps, "costs": costs, "reload_s": RELOAD_S if running else None}
    page = storage / "index.html"
    partial = storage / "index.html.partial"
    partial.write_text(render_page(f"sweeps in {storage.name}", data, page="dashboard"), encoding="utf-8")
    partial.replace(page)
    return page


def _sweep(folder: Path) -> dict:
    """One sweep's row and front; a folder that cannot be read is listed with the reason."""
    if not (folder / "results.csv").is_file():
        return {"name": folder.name, "state": "starting", "counts": "no trial ended yet"}
    try:
        sweep = load_sweep(folder)
    except GansearchError as exc:
        return {"name": folder.name, "state": "unreadable", "counts": first_line(exc)}
    table = sweep.table
    statuses = set(table["status"]) if len(table) else set()
    state = ("running" if statuses & {"running", "pending"} else
             "interrupted" if "interrupted" in statuses else "finished")
    front = pareto_front(sweep.finished, sweep.objectives) if len(sweep.finished) else sweep.finished
    teacher = teacher_baseline(sweep)
    quality = sweep.quality
    costs = [c for c in COSTS if c in front.columns and front[c].notna().any() and teacher.get(c)]
    points = []
    for _, row in front.iterrows():
        shares = {c: float(row[c]) / teacher[c] for c in costs if teacher.get(c)}
        points.append({"trial_id": str(row["trial_id"]), "quality": float(row[quality]), "share": shares})
    best = None
    if len(front):
        best = float(front[quality].min() if sweep.objectives[quality] == "min" else front[quality].max())
    return {
        "name": sweep.name, "state": state, "counts": trial_counts(table).splitlines()[0],
        "quality": quality, "direction": sweep.objectives[quality], "objectives": list(sweep.objectives),
        "front_size": len(front), "best": best, "teacher": teacher.get(quality),
        "hypervolume_share": (hypervolume_share(front, sweep.finished, sweep.objectives)
                              if len(front) else None),
        "smallest": {c: min(p["share"][c] for p in points) for c in costs
                     if points and c in points[0]["share"]},
        "front": points, "front_costs": costs,
        "report": f"{folder.name}/report.html" if (folder / "report.html").is_file() else None,
    }
