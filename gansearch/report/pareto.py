"""The Pareto front: the trials no other trial beats on every objective at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """Which rows of ``points`` (n, k), all objectives to minimize, no other row dominates
    (at least as good on every objective and better on one)."""
    n = len(points)
    keep = np.ones(n, dtype=bool)
    for i in range(n):
        no_worse = np.all(points <= points[i], axis=1)
        better = np.any(points < points[i], axis=1)
        keep[i] = not np.any(no_worse & better)
    return keep


def pareto_front(table, objectives: Sequence[Any]):
    """The rows of ``table`` (a DataFrame) on the front of ``objectives`` (each with ``metric``
    and ``direction``), sorted by the first objective. Rows missing an objective are left out."""
    names = [o.metric for o in objectives]
    rows = table.dropna(subset=names)
    if rows.empty:
        return rows
    signs = np.array([1.0 if o.direction == "min" else -1.0 for o in objectives])
    points = rows[names].to_numpy(dtype=float) * signs
    front = rows[pareto_mask(points)]
    return front.sort_values(names[0], ascending=objectives[0].direction == "min")
