"""The Pareto front: the trials no other trial beats on every objective at once (the sweep
writes it; reports draw it)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from gansearch.errors import ConfigError


def directions(objectives: Any) -> dict[str, str]:
    """``objectives`` as ``{column: "min" | "max"}``: a mapping of that form already, or a
    sequence of objects with ``metric`` and ``direction`` (the search spec's objectives)."""
    pairs = objectives.items() if isinstance(objectives, Mapping) else \
        [(o.metric, o.direction) for o in objectives]
    out = dict(pairs)
    for name, direction in out.items():
        if direction not in ("min", "max"):
            raise ConfigError(f"objective {name!r}: direction must be 'min' or 'max', got {direction!r}")
    if not out:
        raise ConfigError("no objectives given; name at least one column with 'min' or 'max'")
    return out


def minimized(table, objectives: Any) -> np.ndarray:
    """The objective columns of ``table`` as an (n, k) array in which smaller is better."""
    dirs = directions(objectives)
    missing = [name for name in dirs if name not in table.columns]
    if missing:
        raise ConfigError(f"objective column(s) {', '.join(missing)} not in the results; columns are "
                          f"{', '.join(map(str, table.columns))}")
    signs = np.array([1.0 if d == "min" else -1.0 for d in dirs.values()])
    return table[list(dirs)].to_numpy(dtype=float) * signs


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


def pareto_front(table, objectives: Any):
    """The non-dominated rows of ``table`` (a DataFrame), sorted by the first objective.

    ``objectives`` maps column names to ``"min"`` or ``"max"`` (or is a sequence of objects with
    ``metric`` and ``direction``). Rows with a missing objective cannot be compared: they are left
    out and counted in ``front.attrs["excluded"]``. Rows with exactly the same objective values
    are one point: the first of them in ``table``'s order is kept, and the others counted in
    ``front.attrs["duplicates"]``.
    """
    dirs = directions(objectives)
    names = list(dirs)
    points = minimized(table, dirs)
    complete = ~np.isnan(points).any(axis=1)
    rows, points = table[complete], points[complete]
    front = rows[pareto_mask(points)] if len(rows) else rows
    unique = front.drop_duplicates(subset=names, keep="first")
    unique = unique.sort_values(names[0], ascending=dirs[names[0]] == "min", kind="stable")
    unique.attrs = {"excluded": int((~complete).sum()), "duplicates": len(front) - len(unique)}
    return unique
