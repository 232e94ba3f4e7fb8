"""Iterative prune-distill (Gong et al., seeds/001_*.txt sec. 3.2-3.3, Fig. 1, sec. 4.1).

Each step removes ``step_ratio`` (f_step, 5% in the paper) of the ORIGINAL filters of every
layer, those closest to the layer's filter center (criterion ``fpgm``, eq. 1-3), and then lets
the student recover (distillation, or plain training for the ablation). Steps repeat until the
cumulative ratio reaches ``target_ratio`` (f) or the recovered student's quality stays more than
``tolerance`` below the teacher's; the student of the last step that recovered is returned.

Quality is a callable (higher is better; negate an error metric) measured on held-out data, and
recovery is a callable that trains the student in place: both plug in, so the loop knows
nothing of losses, data or metrics. ``distill_recovery`` and ``training_recovery`` build the two
recoveries of Table 2; ``paired_quality`` measures PSNR or SSIM on held-out pairs.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from gansearch.compress.dependency import trace
from gansearch.compress.distill import KDConfig, KDLoss
from gansearch.compress.structured import CRITERIA, group_scores, remove_channels
from gansearch.config import check_choice, check_range
from gansearch.errors import ConfigError
from gansearch.metrics.cost import profile
from gansearch.metrics.reference import psnr
from gansearch.train.adversarial import Batch, LoopConfig, PlainLoss, adversarial_train

Quality = Callable[[nn.Module], float]  # higher is better
Recover = Callable[[nn.Module], object]  # trains the student in place

REACHED_TARGET = "reached target"
NOT_RESTORED = "quality not restored"


@dataclass(frozen=True)
class PruneDistillConfig:
    step_ratio: float = 0.05  # f_step: share of the original filters removed per step
    target_ratio: float = 0.5  # f: cumulative share of the original filters to remove
    tolerance: float = 1.0  # stop when quality < teacher's - tolerance (quality units; inf: never)
    criterion: str = "fpgm"  # distance to the filter center (Gong et al. eq. 1-3)

    def __post_init__(self) -> None:
        check_range("prune_distill.step_ratio", self.step_ratio, 0.0, 1.0, low_open=True, high_open=True)
        check_range("prune_distill.target_ratio", self.target_ratio, 0.0, 1.0, low_open=True,
                    high_open=True)
        if self.target_ratio < self.step_ratio:
            raise ConfigError(f"prune_distill.target_ratio {self.target_ratio} is below the step ratio "
                              f"{self.step_ratio}; the target must take at least one step")
        if math.isnan(self.tolerance):
            raise ConfigError("prune_distill.tolerance must be a number (quality units), got nan")
        check_choice("prune_distill.criterion", self.criterion, CRITERIA)

    def schedule(self) -> list[float]:
        """Cumulative ratios after each step: f_step, 2 f_step, ... up to f."""
        steps = math.ceil(round(self.target_ratio / self.step_ratio, 9))
        return [min(self.target_ratio, round(k * self.step_ratio, 9)) for k in range(1, steps + 1)]


@dataclass(frozen=True)
class StepRecord:
    step: int
    ratio: float  # cumulative share of the original filters removed
    params: int  # measured on the pruned student
    macs: int
    quality: float  # after recovery
    restored: bool  # quality >= reference - tolerance


@dataclass
class PruneDistillResult:
    student: nn.Module  # the last student whose quality was restored (the teacher's copy if none)
    reference_quality: float  # the teacher's
    teacher_params: int
    teacher_macs: int
    steps: list[StepRecord] = field(default_factory=list)
    stop_reason: str = REACHED_TARGET  # REACHED_TARGET or NOT_RESTORED
    stopped_at: int | None = None  # the step whose quality was not restored

    @property
    def ratio(self) -> float:
        """Cumulative filter ratio removed from the returned student."""
        kept = [s.ratio for s in self.steps if s.restored]
        return kept[-1] if kept else 0.0


def prune_distill(teacher: nn.Module, example_input: Tensor | Sequence[Tensor], recover: Recover,
                  quality: Quality, config: PruneDistillConfig, *, reference: float | None = None,
                  on_step: Callable[[StepRecord], object] | None = None) -> PruneDistillResult:
    """Prune a copy of ``teacher`` step by step, recovering after each step (Gong et al. Fig. 1).

    ``reference`` is the quality to stay within ``tolerance`` of; by default ``quality(teacher)``
    (pass one where the metric compares against the teacher itself). The teacher is untouched.
    """
    teacher.eval()
    reference = quality(teacher) if reference is None else reference
    cost = profile(teacher, example_input, latency_runs=0)
    result = PruneDistillResult(copy.deepcopy(teacher), reference, cost.params, cost.macs)
    original = group_sizes(teacher, example_input)
    for k, ratio in enumerate(config.schedule(), 1):
        candidate = prune_to_ratio(result.student, example_input, ratio, original, config.criterion)
        recover(candidate)
        candidate.eval()
        score = quality(candidate)
        cost = profile(candidate, example_input, latency_runs=0)
        record = StepRecord(k, ratio, cost.params, cost.macs, score,
                            restored=score >= reference - config.tolerance)
        result.steps.append(record)
        if on_step is not None:
            on_step(record)
        if not record.restored:
            result.stop_reason, result.stopped_at = NOT_RESTORED, k
            return result
        result.student = candidate
    return result


def group_sizes(model: nn.Module, example_input: Tensor | Sequence[Tensor]) -> dict[tuple[str, ...], int]:
    """Channel classes of every prunable group, keyed by ``Group.key`` (names that structured
    pruning keeps)."""
    return {g.key: len(g.roots) for g in trace(model, example_input).groups}


def prune_to_ratio(model: nn.Module, example_input: Tensor | Sequence[Tensor], ratio: float,
                   original: dict[tuple[str, ...], int], criterion: str = "fpgm") -> nn.Module:
    """A copy of ``model`` with ``ratio`` of each group's ORIGINAL channel count removed.

    ``original`` comes from :func:`group_sizes` of the unpruned model, so a ratio is always a
    share of the original filters and steps add up (5%, 10%, ...) whatever was cut before.
    The least important channels by ``criterion`` go; at least one per group stays.
    """
    check_range("ratio", ratio, 0.0, 1.0, high_open=True)
    check_choice("criterion", criterion, CRITERIA)
    pruned = copy.deepcopy(model)
    graph = trace(pruned, example_input)
    removed: set[int] = set()
    for group in graph.groups:
        keep = max(1, round((1 - ratio) * original.get(group.key, len(group.roots))))
        surplus = len(group.roots) - keep
        if surplus > 0:
            order = torch.argsort(group_scores(pruned, group, criterion), stable=True)
            removed.update(group.roots[i] for i in order[:surplus].tolist())
    remove_channels(pruned, graph, removed)
    return pruned


# -- the recoveries of Table 2 ------------------------------------------------------------------


def distill_recovery(teacher: nn.Module, discriminator: nn.Module, batches: Iterator[Batch],
                     example_input: Tensor | Sequence[Tensor], kd: KDConfig,
                     finetune: LoopConfig) -> Recover:
    """Recover by distillation from ``teacher`` (kd.pairs=() is the L_F-only KD of [14]).

    ``discriminator`` and ``batches`` carry on from step to step; adapters are made anew for
    each step's student.
    """
    def recover(student: nn.Module) -> list:
        objective = KDLoss(teacher, student, example_input, kd)
        return adversarial_train(student, discriminator, batches, objective, finetune)

    return recover


def training_recovery(discriminator: nn.Module, batches: Iterator[Batch], plain: PlainLoss,
                      finetune: LoopConfig) -> Recover:
    """Recover by the generator's own training objective, no teacher ("Train" in Table 2)."""
    def recover(student: nn.Module) -> list:
        return adversarial_train(student, discriminator, batches, plain, finetune)

    return recover


# -- quality on held-out data -------------------------------------------------------------------


def paired_quality(inputs: Tensor | Sequence[Tensor], target: Tensor,
                   metric: Callable[[Tensor, Tensor], float] = psnr) -> Quality:
    """Quality = ``metric`` (PSNR in dB by default; SSIM also fits) of the model's output for
    held-out ``inputs`` against ``target``: the ground truth, or a teacher's output computed once
    (then pass the reference quality to :func:`prune_distill`, the teacher scores perfectly)."""
    args = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)

    def quality(model: nn.Module) -> float:
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                return metric(model(*args), target)
        finally:
            model.train(was_training)

    return quality
