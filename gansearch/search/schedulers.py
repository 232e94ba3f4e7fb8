"""Early stopping for multi-objective sweeps: asynchronous successive halving whose rungs rank by
non-dominated sorting (MO-ASHA, Schmucker et al. 2021).

Quality-only ASHA stops the heavily pruned students that make the cheap end of the front: they
score worst right after pruning, before fine-tuning repairs them. Here a trial that reaches a
rung (a number of reports, ``stage``) is placed among the trials that reached it before by its
quality there and its costs, known by then, and goes on only if it ranks in the best 1 /
``reduction_factor``: by the Pareto front it falls on (NSGA-II's non-dominated sorting), then,
within a front, by crowding distance (Deb et al. 2002), so a trial that dominates every earlier
one always ranks first. As in ASHA, while fewer than ``reduction_factor`` trials have reached a
rung, every one goes on.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from ray.tune.schedulers import FIFOScheduler, TrialScheduler


def nondominated_order(points: np.ndarray) -> np.ndarray:
    """Row indices of ``points`` (n, k), every objective minimized, best first: front by front
    (non-dominated sorting), and within a front by crowding distance, the most isolated first."""
    points = np.asarray(points, float)
    remaining = list(range(len(points)))
    order: list[int] = []
    while remaining:
        p = points[remaining]
        dominated = [(np.all(p <= p[i], axis=1) & np.any(p < p[i], axis=1)).any() for i in range(len(p))]
        front = [remaining[i] for i in range(len(p)) if not dominated[i]]
        crowding = _crowding(points[front])
        order += [front[i] for i in np.argsort(-crowding, kind="stable")]
        remaining = [i for i in remaining if i not in front]
    return np.array(order, dtype=int)


def _crowding(front: np.ndarray) -> np.ndarray:
    distance = np.zeros(len(front))
    for k in range(front.shape[1]):
        order = np.argsort(front[:, k], kind="stable")
        values = front[order, k]
        span = values[-1] - values[0]
        distance[order[[0, -1]]] = np.inf  # the ends of a front are kept first
        if span > 0 and len(front) > 2:
            distance[order[1:-1]] += (values[2:] - values[:-2]) / span
    return distance


class Rungs:
    """The rungs of MO-ASHA and what reached them, free of Ray (benchmarks replay it): rungs at
    ``grace_period * reduction_factor**k`` reports below ``max_t``; ``record`` says whether a
    trial goes on from a rung."""

    def __init__(self, grace_period: int = 1, reduction_factor: float = 2.0, max_t: int = 100) -> None:
        self.reduction_factor = reduction_factor
        self.recorded: dict[int, dict[str, np.ndarray]] = {}
        rung = grace_period
        while rung < max_t:
            self.recorded[int(rung)] = {}
            rung = math.ceil(rung * reduction_factor)

    def record(self, rung: int, trial_id: str, point: np.ndarray) -> bool:
        """Place ``trial_id`` at ``rung`` with ``point`` (every objective minimized): whether it
        goes on. A trial already placed there, or a report between rungs, goes on."""
        if rung not in self.recorded or trial_id in self.recorded[rung]:
            return True
        self.recorded[rung][trial_id] = np.asarray(point, float)
        return self.promoted(rung, trial_id)

    def promoted(self, rung: int, trial_id: str) -> bool:
        """Whether ``trial_id`` ranks in the best 1 / reduction_factor of the trials at ``rung``."""
        ids = list(self.recorded[rung])
        if len(ids) < self.reduction_factor:
            return True
        order = nondominated_order(np.array([self.recorded[rung][i] for i in ids]))
        position = int(np.flatnonzero(order == ids.index(trial_id))[0])
        return position < max(1, int(len(ids) / self.reduction_factor))


class MultiObjectiveASHA(FIFOScheduler):
    """MO-ASHA on Ray Tune: ``objectives`` maps the reported metrics to ``min`` or ``max``
    (quality and costs); rungs are at ``grace_period * reduction_factor**k`` reports (``stage``)
    below ``max_t``. ``known_costs(config)`` (optional) gives a trial's final costs before it
    trains (a dict, or None where training decides them): a trial is then ranked by what it
    will cost, not by what it costs at the rung (a precision step late in the recipe halves
    the bytes only at the end)."""

    def __init__(self, objectives: dict[str, str], *, time_attr: str = "stage", grace_period: int = 1,
                 reduction_factor: float = 2.0, max_t: int = 100,
                 known_costs: Callable[[dict], dict[str, float] | None] | None = None) -> None:
        super().__init__()
        self.objectives, self.time_attr = dict(objectives), time_attr
        self.known_costs = known_costs
        self.rungs = Rungs(grace_period, reduction_factor, max_t)

    def set_search_properties(self, metric, mode, **spec) -> bool:
        return True  # it ranks by its own objectives, not Tune's single metric

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        known = self.known_costs(dict(trial.config)) if self.known_costs is not None else None
        point = self.point({**result, **(known or {})})
        if point is None or self.rungs.record(result.get(self.time_attr), trial.trial_id, point):
            return TrialScheduler.CONTINUE
        return TrialScheduler.STOP

    def point(self, result: dict) -> np.ndarray | None:
        values = [result.get(name) for name in self.objectives]
        if any(v is None or not math.isfinite(float(v)) for v in values):
            return None
        signs = [1.0 if d == "min" else -1.0 for d in self.objectives.values()]
        return np.array([s * float(v) for s, v in zip(signs, values, strict=True)])

    def debug_string(self) -> str:
        return "MO-ASHA: " + ", ".join(f"{len(v)} at rung {r}" for r, v in self.rungs.recorded.items())
