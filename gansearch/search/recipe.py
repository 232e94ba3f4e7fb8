"""Recipes: the ordered compression steps a trial applies to a copy of the teacher.

A recipe is written in YAML as a list of steps, each a one-key mapping from a step name to its
settings (``- prune_filters: {amount: 0.5}``; a bare ``- finetune`` takes the defaults). Each
setting is a knob the search can explore, addressed as ``STEP.SETTING`` (``prune_filters.amount``),
or ``STEP#N.SETTING`` for the N-th of several steps of one kind. Steps are thin: each calls the
compression core (``gansearch.compress``) or a training loop; nothing here knows about Ray.

A step that changes the generator's structure without training (pruning, pruning from scratch,
low rank, weight sharing, precision) does it in ``restructure(generator, example_input, family,
seed)``, which ``apply`` calls: the search can then learn a student's architecture and costs
before it trains (``gansearch.search.plans``). Steps whose outcome depends on training say so
with ``costs_known = False``.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from gansearch.compress import (
    factorize,
    make_permanent,
    prune_unstructured,
    quantize_int8,
    share_weights,
    to_dtype,
)
from gansearch.compress.structured import CRITERIA, prune_filters_reported
from gansearch.config import check_choice, check_range, from_dict
from gansearch.errors import ConfigError, GansearchWarning, short
from gansearch.families import Family
from gansearch.models.layers import init_weights
from gansearch.search import teacher_steps


@dataclass
class Student:
    """What the steps of a recipe work on: the student and what it needs to train."""

    family: Family  # of the teacher (gansearch.families): what the steps ask about the generator
    generator: nn.Module
    discriminator: nn.Module
    teacher: nn.Module  # frozen, never modified
    data: Any  # SinGAN: the (1, C, H, W) image; others: a Dataset
    train_params: Any  # the teacher's training hyperparameters (a *TrainConfig)
    device: torch.device
    seed: int = 0
    callbacks: list[Any] = field(default_factory=list)  # progress and reporting during training
    held_out: Any = None  # what quality is measured on (ResNet: the test pairs); None: data

    def __post_init__(self) -> None:
        if self.held_out is None:
            self.held_out = self.data

    @property
    def model(self) -> str:
        return self.family.name

    def example_input(self) -> tuple[Any, ...]:
        return self.family.example_input(self.generator, 1, self.family.image_size(self.data))


@dataclass(frozen=True)
class PruneFilters:
    """Structured pruning: remove ``amount`` of every layer's filters (gansearch.compress)."""

    name: ClassVar[str] = "prune_filters"
    amount: float = 0.5
    criterion: str = "l1"

    def __post_init__(self) -> None:
        check_range("prune_filters.amount", self.amount, 0.0, 1.0, high_open=True)
        check_choice("prune_filters.criterion", self.criterion, CRITERIA)

    def restructure(self, generator, example, family, seed):
        pruned, report = prune_filters_reported(generator, example, self.amount, self.criterion)
        if report.shortfall():
            warnings.warn(report.shortfall(), GansearchWarning, stacklevel=2)
        return pruned

    def apply(self, s: Student) -> None:
        s.generator = self.restructure(s.generator, s.example_input(), s.family, s.seed)


@dataclass(frozen=True)
class PruneUnstructured:
    """Magnitude pruning with masks kept through later fine-tuning."""

    name: ClassVar[str] = "prune_unstructured"
    sparsity: float = 0.5
    scope: Literal["global", "layer"] = "global"
    norm: Literal["l1", "l0"] = "l1"

    def __post_init__(self) -> None:
        check_range("prune_unstructured.sparsity", self.sparsity, 0.0, 1.0, high_open=True)

    def restructure(self, generator, example, family, seed):
        return prune_unstructured(generator, self.sparsity, scope=self.scope, norm=self.norm, seed=seed)

    def apply(self, s: Student) -> None:
        s.generator = self.restructure(s.generator, s.example_input(), s.family, s.seed)


@dataclass(frozen=True)
class Scratch:
    """Pruning from scratch: a randomly initialized generator with ``filters`` filters."""

    name: ClassVar[str] = "scratch"
    filters: int = 16

    def __post_init__(self) -> None:
        check_range("scratch.filters", self.filters, 1)

    def restructure(self, generator, example, family, seed):
        torch.manual_seed(seed)
        return family.scratch(generator, self.filters).to(example[0].device)

    def apply(self, s: Student) -> None:
        s.generator = self.restructure(s.generator, s.example_input(), s.family, s.seed)
        init_weights(s.discriminator)  # the critic restarts with the generator


@dataclass(frozen=True)
class Finetune:
    """Train the student with its family's loop (SinGAN: ``iterations`` per scale)."""

    name: ClassVar[str] = "finetune"
    iterations: int = 100
    lr_factor: float = 1.0  # multiplies the teacher's learning rates
    mixed_precision: bool = False  # bfloat16 autocast (weights stay float32): faster on GPUs

    def __post_init__(self) -> None:
        check_range("finetune.iterations", self.iterations, 1)
        check_range("finetune.lr_factor", self.lr_factor, 0.0, low_open=True)

    def apply(self, s: Student) -> None:
        params = s.family.finetune_params(s.train_params, self.iterations, self.lr_factor)
        s.generator.to(s.device)
        s.discriminator.to(s.device)
        # bfloat16 keeps float32's range, so no loss scaling is needed (unlike float16).
        with torch.autocast(s.device.type, dtype=torch.bfloat16, enabled=self.mixed_precision):
            s.family.train(s.generator, s.discriminator, s.data, params, seed=s.seed, callbacks=s.callbacks,
                           fresh=False)
        s.generator.eval()


@dataclass(frozen=True)
class LowRank:
    """SVD factorization of every convolution that gets smaller at ``rank_ratio``."""

    name: ClassVar[str] = "lowrank"
    rank_ratio: float = 0.5

    def __post_init__(self) -> None:
        check_range("lowrank.rank_ratio", self.rank_ratio, 0.0, 1.0, low_open=True)

    def restructure(self, generator, example, family, seed):
        return factorize(generator, self.rank_ratio)

    def apply(self, s: Student) -> None:
        s.generator = self.restructure(s.generator, s.example_input(), s.family, s.seed)


@dataclass(frozen=True)
class ShareWeights:
    """k-means weight sharing with a 2^bits codebook per layer (coded size by Huffman)."""

    name: ClassVar[str] = "share_weights"
    bits: int = 4

    def __post_init__(self) -> None:
        check_range("share_weights.bits", self.bits, 1, 8)

    def restructure(self, generator, example, family, seed):
        return share_weights(generator, self.bits)

    def apply(self, s: Student) -> None:
        s.generator = self.restructure(s.generator, s.example_input(), s.family, s.seed)


@dataclass(frozen=True)
class Precision:
    """Store and run the generator in ``dtype``: float16 after structured pruning is SinGAN
    method 4; int8 stores per-channel int8 weights, computed de-quantized."""

    name: ClassVar[str] = "precision"
    dtype: Literal["float32", "float16", "bfloat16", "int8"] = "float16"

    def restructure(self, generator, example, family, seed):
        make_permanent(generator)
        return quantize_int8(generator) if self.dtype == "int8" else to_dtype(generator, self.dtype)

    def apply(self, s: Student) -> None:
        s.generator = self.restructure(s.generator, s.example_input(), s.family, s.seed)


STEPS: dict[str, type] = {cls.name: cls for cls in (PruneFilters, PruneUnstructured, Scratch,
                                                     Finetune, *teacher_steps.STEPS, LowRank,
                                                     ShareWeights, Precision)}
# Steps whose result training would undo: they come after every finetune.
_FINAL = ("precision", "share_weights")
_TRAINING = ("finetune", "distill", "prune_distill", "slim", "regan")


@dataclass(frozen=True)
class Recipe:
    steps: tuple[tuple[str, Any], ...]  # (address, step config), in order

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(a for a, _ in self.steps)

    def knobs(self) -> dict[str, Any]:
        """Every setting of every step, by its address (``STEP.SETTING``)."""
        return {f"{a}.{f.name}": getattr(step, f.name)
                for a, step in self.steps for f in dataclasses.fields(step)}

    def with_knobs(self, values: Mapping[str, Any]) -> Recipe:
        """This recipe with ``values`` (``STEP.SETTING`` -> value) set; errors name the key."""
        known = self.knobs()
        values = {k: _plain_scalar(v) for k, v in values.items()}
        unknown = sorted((k for k in values if k not in known), key=str)
        if unknown:
            raise ConfigError(f"unknown recipe setting(s) {', '.join(map(short, unknown[:5]))}; "
                              f"known: {', '.join(sorted(known))}")
        steps = []
        for address, step in self.steps:
            mine = {k.split(".", 1)[1]: v for k, v in values.items() if k.split(".", 1)[0] == address}
            data = {**dataclasses.asdict(step), **mine}
            steps.append((address, _build(type(step), data, address)))
        return Recipe(tuple(steps))

    def check_family(self, family: Family, where: str = "recipe") -> None:
        """Refuse, before anything runs, a step that cannot compress this family's generator."""
        for _, step in self.steps:
            fits = getattr(step, "fits", None)
            if fits is not None:
                try:
                    fits(family)
                except ConfigError as exc:
                    raise ConfigError(f"{where}: {exc}") from None

    def apply(self, s: Student, on_step: Callable[[int, str], None] | None = None,
              start: int = 0) -> None:
        """Run the steps from index ``start``; ``on_step(i, address)`` after each one."""
        for i, (address, step) in enumerate(self.steps[start:], start):
            step.apply(s)
            if on_step is not None:
                on_step(i, address)


def parse_recipe(data: Any, where: str = "recipe") -> Recipe:
    if not isinstance(data, (list, tuple)) or not data:
        raise ConfigError(f"{where}: expected a non-empty list of steps, e.g. "
                          f"- prune_filters: {{amount: 0.5}}; steps are {', '.join(STEPS)}")
    steps: list[tuple[str, Any]] = []
    counts: dict[str, int] = {}
    for i, entry in enumerate(data):
        if isinstance(entry, str):
            entry = {entry: {}}
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ConfigError(f"{where}[{i}]: a step is one 'name: {{settings}}' mapping, got {short(entry)}")
        (name, settings), = entry.items()
        if name not in STEPS:
            raise ConfigError(f"{where}[{i}]: unknown step {short(name)}; steps are {', '.join(STEPS)}")
        counts[name] = counts.get(name, 0) + 1
        steps.append((name, _build(STEPS[name], settings or {}, f"{where}[{i}].{name}")))
    # Address repeated steps by occurrence: finetune#1, finetune#2.
    seen: dict[str, int] = {}
    addressed = []
    for name, step in steps:
        seen[name] = seen.get(name, 0) + 1
        addressed.append((f"{name}#{seen[name]}" if counts[name] > 1 else name, step))
    for i, (address, _) in enumerate(addressed[:-1]):
        if address.split("#")[0] in _FINAL:
            later = [a for a, _ in addressed[i + 1:] if a.split("#")[0] in _TRAINING]
            if later:
                raise ConfigError(f"{where}: {address} must come after every training step "
                                  f"({', '.join(later)} follows it)")
    return Recipe(tuple(addressed))


def _build(cls: type, data: Any, where: str) -> Any:
    return from_dict(cls, data, where)


def copy_for_student(module: nn.Module) -> nn.Module:
    """A trainable copy of a teacher module."""
    twin = copy.deepcopy(module)
    twin.requires_grad_(True)
    return twin


def _plain_scalar(value: Any) -> Any:
    # Search algorithms hand out numpy scalars; configs take Python ones.
    return value.item() if hasattr(value, "item") and not isinstance(value, (list, dict)) else value
