"""GAN Slimming: distillation, channel pruning and quantization in one end-to-end objective.

Wang et al., "GAN Slimming: All-in-One GAN Compression by a Unified Optimization Framework",
ECCV 2020 (seeds/004_*.txt). The student starts as a copy of the teacher and minimizes

    L_distill + L_GAN + rho * sum |gamma|

with gamma the scale factors of its norm layers and its weights and activations quantized to b
bits in the forward pass (``gansearch.compress.fake_quant``, straight-through estimator). The L1
term is handled as the paper does, by a proximal step: the scales train by SGD with momentum on
their own, and after every step they are soft-thresholded by rho * lr, which sets small scales
to exactly zero. A channel whose scale is (near) zero contributes only a constant, so the
trained student is cut there into a dense smaller model by the structured-pruning core.

Distillation is :class:`gansearch.compress.distill.KDLoss` (Gong et al.'s terms; the paper's own
choice is output distillation, ``KDConfig(alpha_feature=0, pairs=())``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from gansearch.compress.dependency import NORMS, trace
from gansearch.compress.distill import KDConfig, KDLoss
from gansearch.compress.fake_quant import attach_fake_quant, detach_fake_quant
from gansearch.compress.structured import norm_scales, remove_channels
from gansearch.config import check_range
from gansearch.errors import ConfigError
from gansearch.metrics.cost import Cost, profile
from gansearch.train.adversarial import Batch, LoopConfig, adversarial_train


@dataclass(frozen=True)
class SlimmingConfig:
    sparsity: float = 1e-2  # rho, weight of the L1 norm of the norm-layer scales
    lr_scale: float = 0.1  # SGD learning rate of the scales (the reference's 0.1)
    momentum: float = 0.5  # SGD momentum of the scales (the reference's 0.5)
    bits: int | None = 8  # weights and activations; None: no quantization (the paper's GS-32)
    threshold: float = 0.0  # channels whose every |gamma| is <= threshold are cut
    kd: KDConfig = field(default_factory=KDConfig)

    def __post_init__(self) -> None:
        check_range("slimming.sparsity", self.sparsity, 0.0)
        check_range("slimming.lr_scale", self.lr_scale, 0.0, low_open=True)
        check_range("slimming.momentum", self.momentum, 0.0, 1.0, high_open=True)
        if self.bits is not None:
            check_range("slimming.bits", self.bits, 2, 16)
        check_range("slimming.threshold", self.threshold, 0.0)


@dataclass
class SlimmingResult:
    student: nn.Module  # the cut, compact model (weights on the b-bit grid if bits were set)
    dense_cost: Cost  # the student before the cut (the teacher's size)
    cost: Cost  # the cut student
    scales: dict[str, Tensor]  # norm layer -> its final |gamma|, before the cut
    channels_removed: int
    history: list[dict[str, Any]]


class ProximalScales:
    """Training callback: SGD on the norm scales, then soft-thresholding by rho * lr, the
    proximal operator of rho * |gamma| (GAN Slimming sec. 3.2)."""

    def __init__(self, scales: list[nn.Parameter], sparsity: float, lr: float, momentum: float) -> None:
        self.scales, self.sparsity = scales, sparsity
        self.optimizer = torch.optim.SGD(scales, lr=lr, momentum=momentum)

    def on_step_end(self, state) -> None:
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        shrink = self.sparsity * self.optimizer.param_groups[0]["lr"]
        with torch.no_grad():
            for gamma in self.scales:
                gamma.copy_(gamma.sign() * (gamma.abs() - shrink).clamp_min(0))


def slim(teacher: nn.Module, discriminator: nn.Module, batches: Iterator[Batch],
         example_input: Tensor | Sequence[Tensor], config: SlimmingConfig, finetune: LoopConfig,
         *, callbacks=()) -> SlimmingResult:
    """Train a copy of ``teacher`` with GAN Slimming's objective and cut it at the threshold.

    ``teacher`` needs affine norm layers (BatchNorm: DCGAN, SinGAN, the ResNet generator with
    norm "batch"). ``discriminator`` trains in place. The teacher is untouched.
    """
    student = copy.deepcopy(teacher)
    norms = {name: m for name, m in student.named_modules()
             if isinstance(m, NORMS) and getattr(m, "weight", None) is not None}
    if not norms:
        raise ConfigError(f"GAN Slimming needs norm layers with a scale; {type(teacher).__name__} has "
                          "none (build the ResNet generator with norm: batch)")
    if config.bits is not None:
        attach_fake_quant(student, config.bits)
    objective = KDLoss(teacher, student, example_input, config.kd)
    scales = [m.weight for m in norms.values()]
    ids = {id(p) for p in scales}
    weights = [p for p in [*student.parameters(), *objective.parameters()] if id(p) not in ids]
    prox = ProximalScales(scales, config.sparsity, config.lr_scale, config.momentum)
    history = adversarial_train(student, discriminator, batches, objective, finetune,
                                   generator_params=weights, callbacks=[prox, *callbacks])
    if config.bits is not None:
        detach_fake_quant(student)
    dense_cost = profile(student, example_input, latency_runs=0)
    final_scales = {name: m.weight.detach().abs().clone() for name, m in norms.items()}
    cut, removed = cut_by_scale(student, example_input, config.threshold)
    return SlimmingResult(cut, dense_cost, profile(cut, example_input, latency_runs=0), final_scales,
                          removed, history)


def cut_by_scale(model: nn.Module, example_input: Tensor | Sequence[Tensor], threshold: float
                 ) -> tuple[nn.Module, int]:
    """A compact copy of ``model`` without the channels whose norm scales are all <= threshold.

    Channels are removed as the dependency trace ties them (a residual trunk goes only where
    every norm layer on it is below the threshold); channels with no norm layer stay, and so
    does the strongest channel of a group that would otherwise lose all. Returns the copy and
    the number of channel classes removed.
    """
    check_range("threshold", threshold, 0.0)
    model = copy.deepcopy(model)
    graph = trace(model, example_input)
    modules = dict(model.named_modules())
    removed: set[int] = set()
    for group in graph.groups:
        if group.blocks:
            continue  # a grouped convolution's groups must lose channels evenly; a threshold does not
        peak = [max((float(norm_scales(modules[n])[c]) for n, c in cls), default=float("inf"))
                for cls in group.norms]
        weak = [i for i, p in enumerate(peak) if p <= threshold]
        if len(weak) == len(peak):
            weak.remove(max(weak, key=lambda i: peak[i]))
        removed.update(group.roots[i] for i in weak)
    remove_channels(model, graph, removed)
    return model, len(removed)
