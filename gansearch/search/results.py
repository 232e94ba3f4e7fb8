"""The results table: one row per trial (``results.csv``), written whole at the end of a sweep
and, while it runs, rewritten as each trial ends (``LiveResults``), so that a sweep can be
watched: its report page is rebuilt from the table, and ``gansearch report`` works mid-sweep.
Trials still running or waiting have the status ``running`` or ``pending``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray.tune import Callback

from gansearch.errors import GansearchWarning, first_line
from gansearch.search.spec import SweepSpec


def results_table(grid, spec: SweepSpec, interrupted: set[str] = frozenset()):
    """One row per trial: its knobs, its last reported metrics, its status (finished, stopped
    early by the scheduler, error, or ``interrupted`` with the sweep) and error."""
    rows = []
    for result in grid:
        metrics = result.metrics or {}
        status = "interrupted" if metrics.get("trial_id", "") in interrupted else None
        rows.append(trial_row(metrics, result.error, Path(result.path).parent.parent, spec, status))
    return rows_table(rows)


def rows_table(rows: list[dict[str, Any]]):
    import pandas as pd

    table = pd.DataFrame(rows)
    if len(table):
        table["final"] = table["final"].fillna(0).astype(int)
    return table


def trial_row(metrics: dict[str, Any], error: BaseException | None, folder: Path, spec: SweepSpec,
              status: str | None = None) -> dict[str, Any]:
    """A trial's row of ``results.csv`` from its last reported ``metrics`` (and ``error``);
    ``status`` overrides the one the metrics say (``interrupted``, ``running``, ``pending``)."""
    metrics = dict(metrics)
    config = metrics.pop("config", {}) or {}
    row: dict[str, Any] = {"trial_id": metrics.get("trial_id", ""), **config}
    for key in ("final", "recipe_step", "step_name", *[o.metric for o in spec.objectives],
                "params", "macs", "weight_bytes", "peak_activation_bytes", "sparsity",
                "latency_ms", "time_total_s",
                "core_seconds", "trial_seconds", "torch_threads"):
        row[key] = metrics.get(key)
    row["status"] = status or ("error" if error else "finished" if metrics.get("final") == 1
                               else "infeasible" if metrics.get("infeasible") == 1 else "stopped")
    row["error"] = _reason(error) if error else str(metrics.get("error") or "")
    row["repeat_of"] = str(metrics.get("repeat_of") or "")
    finished = row["final"] == 1
    row["student_file"] = str(folder / "students" / row["trial_id"] / "student.pt") if finished else ""
    return row


def _reason(error: BaseException) -> str:
    """The trial's own exception, not Ray's wrapper around it."""
    cause = getattr(error, "cause", None) or error
    lines = [line for line in str(cause).splitlines() if line.strip()]
    return f"{type(cause).__name__}: {lines[-1] if lines else ''}"[:300]


def write_csv(table, path: Path) -> None:
    # Whole or not at all: a sweep killed while writing leaves the previous file, never half of one.
    partial = path.with_suffix(".csv.partial")
    table.to_csv(partial, index=False)
    partial.replace(path)


class LiveResults(Callback):
    """Rewrites ``results.csv`` from Tune's trials each time one ends, then calls ``on_update``
    with the sweep folder (the command line rebuilds the report page there). A failing
    ``on_update`` is told as a warning, once: the sweep's results are not at stake."""

    def __init__(self, spec: SweepSpec, folder: Path,
                 on_update: Callable[[Path], None] | None = None) -> None:
        self.spec = spec
        self.folder = folder
        self.on_update = on_update
        self.warned = False

    def on_trial_result(self, iteration: int, trials: list, trial, result: dict, **info) -> None:
        if result.get("final") == 1 or result.get("infeasible") == 1:
            self.write(trials, ended=trial, result=result)

    def on_trial_complete(self, iteration: int, trials: list, trial, **info) -> None:
        self.write(trials, ended=trial)

    def on_trial_error(self, iteration: int, trials: list, trial, **info) -> None:
        self.write(trials, ended=trial, failed=True)

    def write(self, trials: list, ended=None, failed: bool = False, result: dict | None = None) -> None:
        """``ended``: the trial the callback is about, which Tune may still list as running, and
        its ``result`` when Tune has not yet made it the trial's last one."""
        rows = []
        for t in trials:
            this = t is ended
            error = _error(t) if (this and failed) or t.status == "ERROR" else None
            status = None if this else _live_status(t)
            last = result if this and result is not None else (t.last_result or {})
            rows.append(trial_row({**last, "trial_id": t.trial_id, "config": t.config},
                                  error, self.folder, self.spec, status))
        write_csv(rows_table(rows), self.folder / "results.csv")
        if self.on_update is None:
            return
        try:
            self.on_update(self.folder)
        except Exception as exc:  # noqa: BLE001 - told, and the sweep goes on
            if not self.warned:
                self.warned = True
                warnings.warn(f"the live report could not be written ({type(exc).__name__}: "
                              f"{first_line(exc)}); 'gansearch report' writes it after the sweep",
                              GansearchWarning, stacklevel=1)


def _live_status(trial) -> str | None:
    # None: what its last result says (finished, infeasible, stopped early, or error).
    return {"RUNNING": "running", "PAUSED": "running", "PENDING": "pending"}.get(trial.status)


def _error(trial) -> BaseException:
    error = trial.get_pickled_error() or trial.get_error()
    return error if isinstance(error, BaseException) else RuntimeError("the trial failed")
