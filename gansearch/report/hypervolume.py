"""Hypervolume: how much of objective space the front dominates, up to a reference point.

One number that grows whenever the front improves anywhere, so two sweeps (or one sweep over
time) can be compared. Exact, by slicing: sort the points along the last objective, and sum over
the slabs between consecutive values the (k-1)-dimensional hypervolume of the points already
passed times the slab's thickness. Cost grows like n^(k-1), fine for fronts of tens of points.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gansearch.errors import ConfigError
from gansearch.search.pareto import directions, minimized

NUDGE = 0.1  # the derived reference lies this fraction of each objective's range beyond its worst value


def reference_point(table, objectives: Any) -> dict[str, float]:
    """The worst value of each objective over ``table``'s rows, moved 10% of its range further
    (or 10% of its magnitude, or 1, when all rows agree), so that the worst trials still add
    volume."""
    dirs = directions(objectives)
    points = minimized(table, dirs)
    points = points[~np.isnan(points).any(axis=1)]
    if not len(points):
        raise ConfigError("no trial has every objective; cannot derive a hypervolume reference point")
    worst, best = points.max(axis=0), points.min(axis=0)
    span = worst - best
    span = np.where(span > 0, span, np.where(worst != 0, np.abs(worst), 1.0))
    ref = worst + NUDGE * span
    return {name: float(r if d == "min" else -r) for (name, d), r in zip(dirs.items(), ref, strict=True)}


def hypervolume(front, objectives: Any, reference: dict[str, float] | None = None,
                trials=None) -> float:
    """The hypervolume of ``front`` (a DataFrame) against ``reference`` (in the objectives' own
    units and directions); without one, the reference is derived from ``trials`` (default: the
    front itself) by :func:`reference_point`. Points not strictly better than the reference on
    every objective add nothing."""
    dirs = directions(objectives)
    if reference is None:
        reference = reference_point(front if trials is None else trials, dirs)
    missing = [name for name in dirs if name not in reference]
    if missing:
        raise ConfigError(f"reference point lacks {', '.join(missing)}; give a value for every objective")
    ref = np.array([reference[n] if d == "min" else -reference[n] for n, d in dirs.items()], dtype=float)
    points = minimized(front, dirs)
    points = points[~np.isnan(points).any(axis=1)]
    points = points[np.all(points < ref, axis=1)]
    return float(_volume(points, ref))


def _volume(points: np.ndarray, ref: np.ndarray) -> float:
    if not len(points):
        return 0.0
    if points.shape[1] == 1:
        return float(ref[0] - points[:, 0].min())
    order = np.argsort(points[:, -1], kind="stable")
    points = points[order]
    total = 0.0
    for i in range(len(points)):
        upper = points[i + 1, -1] if i + 1 < len(points) else ref[-1]
        thickness = upper - points[i, -1]
        if thickness > 0:
            total += thickness * _volume(points[:i + 1, :-1], ref[:-1])
    return total
