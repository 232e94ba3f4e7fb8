"""The exhaustive table of a search space: every distinct student trained and measured once.

Every search in the benchmark is judged against it: its Pareto front is the best any search of
the space can find, and the samplers can be replayed on it (``benchmarks.search_replay``).

- Levels: a continuous knob is taken on the cost-aware sampler's grid (``samplers.GRID``
  levels), every other knob on its values. Every combination of levels is planned
  (``gansearch.search.plans``): combinations with one fingerprint make one student.
- The sweep: one real ``run_sweep`` of algorithm ``grid`` over, per knob, the levels that change
  the student with the other knobs fixed (pruning amounts that round to other filter counts).
  The sweep trains each distinct student once and answers a repeat from its record.
- What is kept per student: the knobs of its first trial, its final objectives, and the quality
  and costs it reported at every stage (what early stopping sees), from MLflow's metric history.

Files, in the table's folder: ``students.csv`` (one row per student), ``configs.csv`` (every
combination of levels and its student's fingerprint), ``table.json`` (objectives, stages, the
space's distributions and how the table was made).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gansearch.search.hypervolume import NUDGE, hypervolume
from gansearch.search.pareto import minimized, pareto_front


@dataclass
class Table:
    """The students of a space (``students``, indexed by fingerprint) and which combination of
    levels makes which (``configs``)."""

    objectives: dict[str, str]  # metric -> min | max, quality first
    stages: int  # reports per full trial: one per recipe step, then the final measurement
    distributions: dict[str, Any]  # knob -> optuna distribution
    students: pd.DataFrame
    configs: pd.DataFrame
    about: dict[str, Any]

    @property
    def knobs(self) -> list[str]:
        return list(self.distributions)

    @property
    def exhaustive_trial_epochs(self) -> int:
        return len(self.students) * self.stages

    def save(self, folder: Path) -> None:
        from optuna.distributions import distribution_to_json

        folder.mkdir(parents=True, exist_ok=True)
        self.students.to_csv(folder / "students.csv")
        self.configs.to_csv(folder / "configs.csv", index=False)
        (folder / "table.json").write_text(json.dumps({
            "objectives": self.objectives, "stages": self.stages,
            "distributions": {k: distribution_to_json(d) for k, d in self.distributions.items()},
            "about": self.about}, indent=1))

    @classmethod
    def load(cls, folder: Path) -> Table:
        from optuna.distributions import json_to_distribution

        meta = json.loads((folder / "table.json").read_text())
        students = pd.read_csv(folder / "students.csv", index_col="fingerprint", dtype={"fingerprint": str})
        configs = pd.read_csv(folder / "configs.csv", dtype={"fingerprint": str})
        return cls(meta["objectives"], meta["stages"],
                   {k: json_to_distribution(v) for k, v in meta["distributions"].items()},
                   students, configs, meta["about"])


class Lookup:
    """A table in the shape the cost-aware sampler asks of a sweep's plans (``costs``,
    ``fingerprint``, ``feasible``): any proposal is snapped to the nearest level of each knob."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.levels = {k: _levels(d) for k, d in table.distributions.items()}
        self.log = {k: bool(getattr(d, "log", False)) for k, d in table.distributions.items()}
        knobs = table.knobs
        self._fingerprints = {tuple(_canonical(row[k]) for k in knobs): row["fingerprint"]
                              for row in table.configs.to_dict("records")}
        costs = list(table.objectives)[1:]
        self._costs = {fp: [float(row[c]) for c in costs] for fp, row in table.students.iterrows()}

    def snap(self, params: dict[str, Any]) -> tuple:
        out = []
        for knob in self.table.knobs:
            levels, value = self.levels[knob], params[knob]
            if isinstance(levels[0], str) or value in levels:
                out.append(_canonical(value))
                continue
            scale = np.log if self.log[knob] else (lambda x: x)
            distance = [abs(scale(float(v)) - scale(float(value))) for v in levels]
            out.append(_canonical(levels[int(np.argmin(distance))]))
        return tuple(out)

    def fingerprint(self, params: dict[str, Any]) -> str:
        return self._fingerprints[self.snap(params)]

    def costs(self, params: dict[str, Any]) -> list[float]:
        return self._costs[self.fingerprint(params)]

    def feasible(self, params: dict[str, Any]) -> bool:
        return True


@dataclass(frozen=True)
class Scale:
    """The objectives mapped so that the exhaustive front's best value is 0 and its worst 1;
    hypervolumes are shares of the exhaustive front's, with the reference point at 1 + NUDGE on
    every axis (``gansearch.search.hypervolume``)."""

    objectives: dict[str, str]
    ideal: np.ndarray
    nadir: np.ndarray
    reference: float

    @classmethod
    def of(cls, table: Table) -> Scale:
        front = pareto_front(table.students, table.objectives)
        points = minimized(front, table.objectives)
        scale = cls(table.objectives, points.min(axis=0), points.max(axis=0), 1.0)
        return cls(table.objectives, scale.ideal, scale.nadir, scale.volume(points))

    def volume(self, points: np.ndarray) -> float:
        """Hypervolume of ``points`` (already minimized: ``pareto.minimized``), as a share of
        the exhaustive front's."""
        if not len(points):
            return 0.0
        span = np.where(self.nadir > self.ideal, self.nadir - self.ideal, 1.0)
        normal = pd.DataFrame((np.asarray(points, float) - self.ideal) / span, columns=list(self.objectives))
        minimize = dict.fromkeys(self.objectives, "min")
        return hypervolume(pareto_front(normal, minimize), minimize,
                           reference=dict.fromkeys(self.objectives, 1 + NUDGE)) / self.reference


def build(spec, teacher: Path, storage: Path, tracking_uri: str, log, sweep_log: Path) -> Table:
    """Run every distinct student of ``spec``'s space once (a real grid sweep; its console
    output goes to ``sweep_log``) and tabulate it."""
    from optuna.distributions import CategoricalDistribution
    from ray.tune.search.optuna import OptunaSearch

    from gansearch.search.sweep import SweepOptions, run_sweep
    from gansearch.search.trial import plans_for

    started = time.perf_counter()
    distributions = OptunaSearch.convert_search_space({k: d.to_tune(False) for k, d in spec.space.items()})
    levels = {k: _levels(d) for k, d in distributions.items()}
    plans = plans_for(spec, teacher)
    combos = [dict(zip(levels, values, strict=True)) for values in itertools.product(*levels.values())]
    fingerprints = [plans.plan(c).fingerprint for c in combos]
    planned = time.perf_counter() - started
    distinct = len(set(fingerprints))
    first = dict(zip(levels, (v[0] for v in levels.values()), strict=True))
    # Numeric knobs keep the levels that change the student; a category is kept whole (two
    # criteria may pick the same filters at one amount and not at another).
    kept = {k: v if isinstance(distributions[k], CategoricalDistribution) else _changing(plans, first, k, v)
            for k, v in levels.items()}
    grid = spec.raw | {"space": {k: {"grid": v} for k, v in kept.items()},
                       "search": {**spec.raw.get("search", {}), "algorithm": "grid", "num_samples": 1}}
    from gansearch.search.spec import parse_spec

    sweep_spec = parse_spec({**grid, "name": f"{spec.name}-exhaustive"}, base=spec.base)
    runs = int(np.prod([len(v) for v in kept.values()]))
    log(f"exhaustive: {len(combos)} combinations of levels make {distinct} distinct students (planned in "
        f"{planned:.0f} s); the grid sweep runs {runs} trials")
    swept = time.perf_counter()
    with open(sweep_log, "w") as out, contextlib.redirect_stdout(out):
        result = run_sweep(sweep_spec, SweepOptions(storage=str(storage), tracking_uri=tracking_uri,
                                                    verbose=0))
    swept = time.perf_counter() - swept
    table = result.table
    bad = table[table["status"] != "finished"]
    if len(bad):
        raise SystemExit(f"exhaustive sweep: {len(bad)} trials did not finish "
                         f"(first: {bad['error'].iloc[0]})")
    metrics = [o.metric for o in spec.objectives]
    history = stage_history(tracking_uri, sweep_spec.name, metrics)
    students = _students(table, history, plans, list(distributions), metrics)
    configs = pd.DataFrame(combos).assign(fingerprint=fingerprints)
    missing = set(fingerprints) - set(students.index)
    if missing:
        raise SystemExit(f"exhaustive sweep: {len(missing)} students were not run (the knobs' levels are not "
                         "separable); list their values as grid levels in the space")
    objectives = {o.metric: o.direction for o in spec.objectives}
    stages = len(spec.recipe.steps) + 1
    about = {"space": spec.name, "students": distinct, "combinations": len(combos), "trials": len(table),
             "sweep_seconds": round(swept, 1), "plan_seconds": round(planned, 1),
             "repeats": int((table["repeat_of"].fillna("") != "").sum()) if "repeat_of" in table else 0,
             "categorical": [k for k, d in distributions.items() if isinstance(d, CategoricalDistribution)]}
    return Table(objectives, stages, distributions, students.loc[sorted(set(fingerprints))], configs, about)


def stage_history(uri: str, experiment: str, metrics: list[str]) -> dict[str, dict[str, list[float]]]:
    """trial id -> metric -> its values at every report, in order (MLflow's metric history)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id], "tags.`gansearch.role` = 'trial'", max_results=50_000)
    out = {}
    for run in runs:
        out[run.data.tags["gansearch.trial_id"]] = {
            m: [h.value for h in sorted(client.get_metric_history(run.info.run_id, m),
                                        key=lambda h: (h.timestamp, h.step))] for m in metrics}
    return out


def _students(table: pd.DataFrame, history: dict, plans, knobs: list[str], metrics: list[str]
              ) -> pd.DataFrame:
    """One row per student: its first trial's knobs, final objectives and every stage's values."""
    rows = []
    first_runs = table[table["repeat_of"].fillna("") == ""] if "repeat_of" in table else table
    for row in first_runs.to_dict("records"):
        fp = plans.plan({k: row[k] for k in knobs}).fingerprint
        stages = history[row["trial_id"]]
        record = {"fingerprint": fp, **{k: row[k] for k in knobs}, **{m: row[m] for m in metrics}}
        for m in metrics:
            record.update({f"{m}@{i + 1}": v for i, v in enumerate(stages[m])})
        rows.append(record)
    return pd.DataFrame(rows).drop_duplicates("fingerprint").set_index("fingerprint")


def _changing(plans, first: dict, knob: str, values: list) -> list:
    """The levels of ``knob`` that change the student, the other knobs at their first level."""
    kept, seen = [], set()
    for v in values:
        fp = plans.plan({**first, knob: v}).fingerprint
        if fp not in seen:
            seen.add(fp)
            kept.append(v)
    return kept


def _levels(distribution) -> list:
    from gansearch.search.samplers import levels

    return [_canonical(v) for v in levels(distribution)]  # the levels the cost-aware sampler proposes


def _canonical(value):
    if isinstance(value, (np.floating, float)):
        return round(float(value), 12)
    if isinstance(value, np.integer):
        return int(value)
    return value
