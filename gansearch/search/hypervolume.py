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


def hypervolume_share(front, trials, objectives: Any) -> float:
    """The front's hypervolume as a share of the box from the best value each objective reached
    (over ``trials``) to :func:`reference_point`: 1 would be one trial best at everything. A
    number that reads alike for any units, unlike the raw volume (MACs x bytes x quality)."""
    dirs = directions(objectives)
    reference = reference_point(trials, dirs)
    points = minimized(trials, dirs)
    points = points[~np.isnan(points).any(axis=1)]
    ref = np.array([reference[n] if d == "min" else -reference[n] for n, d in dirs.items()], dtype=float)
    box = float(np.prod(ref - points.min(axis=0)))
    return hypervolume(front, dirs, reference) / box if box > 0 else 0.0


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


def _covered(points: np.ndarray, ref: np.ndarray) -> float:
    """The volume of the union of the boxes [p, ref] (the hypervolume of ``points``), with quick
    paths for one and two dimensions."""
    points = points[np.all(points < ref, axis=1)]
    if not len(points):
        return 0.0
    if points.shape[1] == 1:
        return float(ref[0] - points[:, 0].min())
    if points.shape[1] == 2:  # a staircase: sweep along x, the lowest y so far sets each slab
        points = points[np.argsort(points[:, 0], kind="stable")]
        lowest = np.minimum.accumulate(points[:, 1])
        widths = np.diff(np.r_[points[:, 0], ref[0]])
        return float((widths * (ref[1] - lowest)).sum())
    return float(_volume(points, ref))


def expected_improvement(front: np.ndarray, reference: np.ndarray, costs: np.ndarray, mean: np.ndarray,
                         std: np.ndarray) -> np.ndarray:
    """Expected hypervolume improvement of new points whose costs are known and whose quality is
    Gaussian, over ``front``; every objective minimized, quality first.

    ``front`` (K, 1 + m) and ``reference`` (1 + m,) are (quality, costs...); ``costs`` (n, m) are
    the candidates' known costs and ``mean``/``std`` (n,) their predicted quality. With the costs
    fixed, the improvement of a point of quality Q is the integral from Q to the reference of
    A(t), the volume of cost space that the point adds over the front points of quality at most
    t; A is a step function that drops at each front quality. So the expectation is exact:
    sum over the steps of A_k * integral of P(Q <= t) dt, and with z = (t - mean) / std,
    integral P(Q <= t) dt = std * [z Phi(z) + phi(z)] between the step's ends.
    """
    from scipy.stats import norm

    ref_q, ref_c = float(reference[0]), np.asarray(reference[1:], float)
    front = front[np.argsort(front[:, 0], kind="stable")]
    front = front[front[:, 0] < ref_q]
    ends = np.r_[-np.inf, front[:, 0], ref_q]
    out = np.zeros(len(costs))
    for i, c in enumerate(np.asarray(costs, float)):
        box = ref_c - c
        if not (box > 0).all():
            continue  # a cost at or beyond the reference adds nothing, whatever its quality
        clipped = np.maximum(front[:, 1:], c)  # what each front point covers of the new box
        steps = [float(np.prod(box))] + [float(np.prod(box)) - _covered(clipped[:k], ref_c)
                                         for k in range(1, len(front) + 1)]
        sd = max(float(std[i]), 1e-12)
        z = (ends - mean[i]) / sd
        with np.errstate(invalid="ignore"):  # z = -inf at the open end: psi is 0 there
            psi = np.where(np.isneginf(z), 0.0, z * norm.cdf(z) + norm.pdf(z))
        out[i] = sd * float(np.dot(steps, np.diff(psi)))
    return out
