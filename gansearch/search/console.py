"""What a sweep prints while it runs: one line per trial as it ends, instead of Tune's tables.

Each line starts with the sweep's progress (trials ended of those planned, and how many run),
then the trial's id (what ``gansearch export --trial`` takes), its knobs, its objectives and a
mark when it is on the front of the trials finished so far:

    [3/8, 2 running] 0a1b2c3d  amount=0.42 dtype=float16  swd 14.2  weight_bytes 41.0K  macs 1.2M  * front

A trial that fails or is stopped early gets its line too, with the reason. ``sweep --verbose``
shows Tune's own status tables instead.
"""

from __future__ import annotations

import sys
from typing import Any, TextIO

import numpy as np
from ray.tune import Callback

from gansearch.metrics.cost import human
from gansearch.search.pareto import pareto_mask
from gansearch.search.tracking import short_value


class TrialLines(Callback):
    """A Tune callback printing one line per ended trial (see the module docstring)."""

    def __init__(self, objectives: list[tuple[str, str]], knobs: list[str], planned: int | None,
                 out: TextIO | None = None) -> None:
        self.objectives = objectives  # (metric, "min" | "max"), quality first
        self.knobs = knobs
        self.planned = planned
        self.out = out
        self.finished: dict[str, list[float]] = {}  # trial id -> objectives, minimized
        self.ended: set[str] = set()

    def on_trial_result(self, iteration: int, trials: list, trial, result: dict, **info) -> None:
        if result.get("final") == 1 and trial.trial_id not in self.ended:
            self.ended.add(trial.trial_id)
            values = [result.get(m) for m, _ in self.objectives]
            if all(isinstance(v, (int, float)) for v in values):
                self.finished[trial.trial_id] = [v if d == "min" else -v
                                                 for v, (_, d) in zip(values, self.objectives, strict=True)]
            self._print(trials, trial, self._measured(result) + self._front_mark(trial.trial_id))
        elif result.get("infeasible") == 1 and trial.trial_id not in self.ended:
            self.ended.add(trial.trial_id)
            self._print(trials, trial, f"infeasible: {result.get('error', '')}")

    def on_trial_complete(self, iteration: int, trials: list, trial, **info) -> None:
        if trial.trial_id not in self.ended:  # ended without a final report: stopped early
            self.ended.add(trial.trial_id)
            last = trial.last_result or {}
            self._print(trials, trial, f"stopped early after step {last.get('recipe_step', '?')} "
                                       f"({self._measured(last)})")

    def on_trial_error(self, iteration: int, trials: list, trial, **info) -> None:
        self.ended.add(trial.trial_id)
        error = str(getattr(trial, "error_file", "") or "")
        self._print(trials, trial, "failed" + (f"; details in {error}" if error else ""))

    def _measured(self, result: dict[str, Any]) -> str:
        parts = []
        for metric, _ in self.objectives:
            value = result.get(metric)
            if isinstance(value, (int, float)):
                parts.append(f"{metric} {human(value) if abs(value) >= 1e4 else f'{value:.4g}'}")
        return "  ".join(parts)

    def _front_mark(self, trial_id: str) -> str:
        if trial_id not in self.finished:
            return ""
        ids = list(self.finished)
        on_front = pareto_mask(np.array([self.finished[i] for i in ids], dtype=float))
        return "  * front" if on_front[ids.index(trial_id)] else ""

    def _print(self, trials: list, trial, text: str) -> None:
        running = sum(t.status == "RUNNING" for t in trials)
        ended = len(self.ended)
        of = f"/{self.planned}" if self.planned else ""
        config = trial.config or {}
        knobs = " ".join(f"{k.rsplit('.', 1)[-1]}={short_value(config[k])}"
                         for k in self.knobs if k in config)
        out = self.out or sys.stdout
        print(f"[{ended}{of}, {running} running] {trial.trial_id}  {knobs}  {text}", file=out, flush=True)
