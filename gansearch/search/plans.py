"""What a trial will make of the teacher, known before it trains: the student's fingerprint and
its costs.

The structural steps of a recipe (pruning, pruning from scratch, low rank, weight sharing,
precision: the steps with ``restructure``) are applied to a copy of the teacher, without
training. What comes out fixes the student's architecture, so the cost objectives (parameters,
MACs, weight bytes, activation memory) are measured on it exactly as the trial will measure
them, and it identifies the student: two knob settings that give the same untrained structure
(two pruning amounts that round to the same filter counts) and the same training settings make
the same trial, which the search runs once. Profiles are cached by architecture, so a
continuous knob costs one profile per distinct architecture.

Cost that depends on training (GAN Slimming's channel cut, Re-GAN's sparse weights, a
prune-distill that may stop early) is not known in advance: ``costs`` is then None.
"""

from __future__ import annotations

import copy
import hashlib
import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from gansearch.metrics.cost import profile, stored_tensors
from gansearch.models.compressed import describe
from gansearch.search.recipe import Recipe

KNOWN_COSTS = ("params", "nonzero_params", "macs", "effective_macs", "weight_bytes", "peak_activation_bytes")


@dataclass(frozen=True)
class Plan:
    fingerprint: str  # the same for every knob setting that makes the same student
    costs: dict[str, float] | None  # every KNOWN_COSTS figure, or None when training decides them


class StudentPlans:
    """Plans of the students a recipe makes from one teacher (``plan(knobs)``), cached."""

    def __init__(self, recipe: Recipe, family, teacher: nn.Module, example_input: tuple,
                 seed: int = 0) -> None:
        self.recipe, self.family, self.seed = recipe, family, seed
        self.teacher = copy.deepcopy(teacher).cpu().eval()
        self.example = tuple(t.cpu() for t in example_input)
        self._plans: dict[tuple, Plan] = {}
        self._costs: dict[str, dict[str, float]] = {}

    def plan(self, knobs: dict[str, Any], where: list[str] | None = None) -> Plan:
        """The plan of ``knobs``; ``where[0]`` names the step being built (for error messages)."""
        key = tuple(sorted((k, _canonical(v)) for k, v in knobs.items()))
        if key not in self._plans:
            self._plans[key] = self._plan(knobs, where if where is not None else [""])
        return self._plans[key]

    def costs_known(self, knobs: dict[str, Any] | None = None) -> bool:
        recipe = self.recipe.with_knobs(knobs or {})
        return all(getattr(step, "costs_known", True) for _, step in recipe.steps)

    def _plan(self, knobs: dict[str, Any], where: list[str]) -> Plan:
        recipe = self.recipe.with_knobs(knobs)
        generator = copy.deepcopy(self.teacher)
        training = []
        with torch.no_grad():
            for address, step in recipe.steps:
                restructure = getattr(step, "restructure", None)
                where[0] = f"step {address}"
                if restructure is not None:
                    generator = restructure(generator, self._example(generator), self.family, self.seed)
                if restructure is None or not getattr(step, "costs_known", True):
                    training.append((address, sorted(_canonical(v) for v in vars(step).items())))
        architecture, weights = signature(generator)
        fingerprint = hashlib.sha256(repr((weights, training)).encode()).hexdigest()[:16]
        known = all(getattr(step, "costs_known", True) for _, step in recipe.steps)
        costs = self._measure(architecture, generator) if known else None
        return Plan(fingerprint, costs)

    def _example(self, generator: nn.Module) -> tuple:
        dtype = next((p.dtype for p in generator.parameters() if p.is_floating_point()), torch.float32)
        return tuple(t.to(dtype) for t in self.example)

    def _measure(self, architecture: str, generator: nn.Module) -> dict[str, float]:
        if architecture not in self._costs:
            figures = profile(generator, self._example(generator), latency_runs=0).as_dict()
            self._costs[architecture] = {k: float(figures[k]) for k in KNOWN_COSTS
                                         if figures.get(k) is not None}
        return self._costs[architecture]


def signature(generator: nn.Module) -> tuple[str, str]:
    """(architecture, weights): hashes of the stored tensors' names, shapes, dtypes and non-zero
    counts (what the costs depend on), and of the tensors' values too (which student it is)."""
    shapes, values = hashlib.sha256(), hashlib.sha256()
    structure = repr(describe(generator)).encode()
    shapes.update(structure)
    values.update(structure)
    for name, tensor in sorted(stored_tensors(generator).items()):
        t = tensor.detach().cpu()
        head = f"{name}:{tuple(t.shape)}:{t.dtype}:{int(torch.count_nonzero(t))}".encode()
        shapes.update(head)
        values.update(head)
        values.update(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return shapes.hexdigest(), values.hexdigest()


def _canonical(value: Any) -> Any:
    """Knob values as they key a cache: floats rounded below any difference a step can make."""
    if isinstance(value, tuple):
        return tuple(_canonical(v) for v in value)
    if hasattr(value, "item") and not isinstance(value, (list, dict)):
        value = value.item()
    if isinstance(value, float) and math.isfinite(value):
        return round(value, 12)
    return value
