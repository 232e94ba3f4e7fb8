"""``gansearch report``: from a sweep folder to pareto.csv, plots, report.html and MLflow tags."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from gansearch.report.page import render_page, thumbnail
from gansearch.report.plots import plot_front
from gansearch.report.sweep import SweepResults, load_sweep, teacher_baseline, trial_counts
from gansearch.search.hypervolume import hypervolume, hypervolume_share, reference_point
from gansearch.search.pareto import pareto_front

PLOTTED_COSTS = ("macs", "weight_bytes", "latency_ms")  # plotted when measured, objectives or not
LIVE_RELOAD_S = 5  # how often a live report page reloads itself


@dataclass(frozen=True)
class Report:
    folder: Path
    front: pd.DataFrame
    hypervolume: float
    reference: dict[str, float]
    files: list[Path]  # written into the sweep folder
    teacher: dict[str, float]  # the teacher's quality and cost as the sweep measured them ({}: unknown)
    parent_run_id: str | None  # the MLflow run the files were logged to, if any
    counts: str = ""  # trials by outcome, failure reasons (see trial_counts)
    quality: str = ""  # the quality metric


def build_report(folder: str | Path, compare: str | Path | None = None, tracking_uri: str | None = None,
                 track: bool = True, live: bool = False) -> Report:
    """Write ``pareto.csv``, ``front_<cost>.png`` and ``report.html`` into the sweep ``folder``.

    Only finished trials compete for the front. The hypervolume's reference point is derived
    from the finished trials (of both sweeps with ``compare``, so the two numbers compare).
    With ``track``, the files go to the sweep's MLflow parent run (``tracking_uri``, default the
    folder's own mlflow.db when it has one) and its trial runs get ``pareto=true|false``.
    ``live``: the sweep is still running; only the page is written, and it reloads itself
    every ``LIVE_RELOAD_S`` seconds until the sweep's final report replaces it.
    """
    sweep = load_sweep(folder)
    front = pareto_front(sweep.finished, sweep.objectives)
    other = load_sweep(compare) if compare is not None else None
    other_front = pareto_front(other.finished, sweep.objectives) if other is not None else None
    everything = pd.concat([sweep.finished, other.finished]) if other is not None else sweep.finished
    reference = reference_point(everything, sweep.objectives) if len(front) else {}
    volume = hypervolume(front, sweep.objectives, reference) if len(front) else 0.0
    teacher = teacher_baseline(sweep)

    costs = [c for c in dict.fromkeys([*sweep.costs, *PLOTTED_COSTS])
             if c in sweep.table.columns and sweep.finished[c].notna().any()]
    files = []
    if not live:  # the sweep writes pareto.csv itself at its end; plots are for the final report
        files.append(sweep.folder / "pareto.csv")
        front.to_csv(files[0], index=False)
        compared = (other.name, other_front) if other is not None else None
        files += [plot_front(sweep, front, cost, sweep.folder / f"front_{cost}.png", teacher, compared)
                  for cost in costs]
    data = _page_data(sweep, front, volume, reference, teacher, costs)
    data["live"] = {"reload_s": LIVE_RELOAD_S, "updated": time.strftime("%H:%M:%S")} if live else None
    data["hypervolume_share"] = (hypervolume_share(front, sweep.finished, sweep.objectives)
                                 if len(front) else None)
    if other is not None:
        other_volume = hypervolume(other_front, sweep.objectives, reference) if len(other_front) else 0.0
        data["compare"] = {"name": other.name, "hypervolume": other_volume,
                           "front": [_trial(other, row, True, thumbnails=False)
                                     for _, row in other_front.iterrows()]}
    page = sweep.folder / "report.html"
    page.write_text(render_page(sweep.name, data), encoding="utf-8")
    files.append(page)

    parent = None
    if track and not live:
        from gansearch.search.tracking import local_store

        uri = tracking_uri or (local_store(sweep.folder) if (sweep.folder / "mlflow.db").is_file() else None)
        if uri is not None:
            parent = _track(uri, sweep, files, set(front["trial_id"]))
    return Report(sweep.folder, front, volume, reference, files, teacher, parent, trial_counts(sweep.table),
                  sweep.quality)


def _track(uri: str, sweep: SweepResults, files: list[Path], front_ids: set[str]) -> str | None:
    from gansearch.report.track import track_report

    return track_report(uri, sweep.name, files, front_ids)


def _page_data(sweep: SweepResults, front, volume: float, reference: dict[str, float],
               teacher: dict[str, float], costs: list[str]) -> dict:
    members = set(front["trial_id"])
    return {"name": sweep.name, "quality": sweep.quality,
            "quality_direction": sweep.objectives[sweep.quality], "costs": costs,
            "objectives": sweep.objectives, "knobs": sweep.knobs,
            "hypervolume": volume, "reference": reference, "excluded": front.attrs.get("excluded", 0),
            "counts": trial_counts(sweep.table).splitlines()[0],
            "teacher": {"values": teacher, "thumbnail": thumbnail(sweep.folder / "teacher_samples.png")}
            if teacher else None, "compare": None,
            "relative": relative_columns(sweep, teacher),
            "trials": [_trial(sweep, row, row["trial_id"] in members, teacher=teacher)
                       for _, row in sweep.table.iterrows()]}


def relative_columns(sweep: SweepResults, teacher: dict[str, float]) -> list[str]:
    """Names of the columns that put a student beside its teacher: the quality metric's change
    (``Δswd``) and each cost as a share of the teacher's (``macs / teacher``)."""
    columns = [f"Δ{sweep.quality}"] if sweep.quality in teacher else []
    costs = dict.fromkeys([*sweep.costs, *PLOTTED_COSTS])
    return columns + [f"{c} / teacher" for c in costs if teacher.get(c)]


def relative_to(values: dict, quality: str, teacher: dict[str, float]) -> dict[str, float | None]:
    out = {}
    for key, value in values.items():
        if value is None or key not in teacher:
            continue
        if key == quality:
            out[f"Δ{key}"] = value - teacher[key]
        elif teacher[key]:
            out[f"{key} / teacher"] = value / teacher[key]
    return out


def _trial(sweep: SweepResults, row, on_front: bool, thumbnails: bool = True,
           teacher: dict[str, float] | None = None) -> dict:
    # Costs that are not objectives (macs, weight_bytes) are shown too: the chart can plot them.
    measured = [*sweep.objectives,
                *(c for c in PLOTTED_COSTS if c in row.index and c not in sweep.objectives)]
    values = {k: row[k] for k in measured}
    if row.get("status") != "finished":
        values = {k: None for k in values}  # a stopped trial's last figures are not its result
    samples = sweep.folder / "students" / str(row["trial_id"]) / "samples.png"
    return {"trial_id": str(row["trial_id"]), "status": row.get("status"), "front": bool(on_front),
            "config": {k: row[k] for k in sweep.knobs}, "values": values,
            "relative": relative_to(values, sweep.quality, teacher or {}),
            "error": row.get("error") if isinstance(row.get("error"), str) else "",
            "thumbnail": thumbnail(samples) if thumbnails else None}
