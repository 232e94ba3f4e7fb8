"""Structured filter pruning that physically removes channels.

Zeroing filters leaves the MACs where they were; here the removed filters, their biases, the
norm-layer entries that scale them and the input channels of every layer that reads them are
cut out of the tensors, so the result is a smaller dense model with the same input and output
shapes. Which channels must go together (a ResNet trunk tied by its skips, a U-Net concat) comes
from ``gansearch.compress.dependency.trace``.

Criteria, each scoring the filters of a layer (higher = more important, kept):
- ``l1``: the filter's L1 norm (Li et al. 2017, "Pruning Filters for Efficient ConvNets", sec.
  3.1), method 3 of the SinGAN compression paper (seeds/000_*.txt sec. 3.3);
- ``fpgm``: squared distance to the layer's filter center, the geometric median (Gong et al.,
  seeds/001_*.txt sec. 3.2, eq. 1-3; He et al. 2019, FPGM): filters near the center are
  representable by the others and go first;
- ``norm_scale``: |gamma| of the norm layer after the filter (network slimming, Liu et al. 2017;
  the channel sparsity of GAN Slimming, seeds/004_*.txt).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gansearch.compress.dependency import MODEL_INPUT, MODEL_OUTPUT, ChannelGraph, Group, trace
from gansearch.config import check_choice, check_range
from gansearch.errors import ConfigError
from gansearch.models.compressed import PRODUCERS, refresh_masked, slice_layer, slice_norm

CRITERIA = ("l1", "fpgm", "norm_scale")
SHORTFALL = 0.05  # a pruning that removes this much less than asked is worth a warning


def prune_filters(model: nn.Module, example_input: Tensor | Sequence[Tensor], amount: float,
                  criterion: str = "l1") -> nn.Module:
    """A copy of ``model`` with ``amount`` of the filters of every prunable group removed.

    ``amount`` is the fraction of each group's filters that goes (at least one always stays),
    so every layer keeps the same share and interior conv MACs fall by about (1 - amount)^2.
    The input model is untouched. An optimizer built on the old parameters must be rebuilt.
    :func:`prune_filters_reported` also says what was pruned and what was left alone.
    """
    return prune_filters_reported(model, example_input, amount, criterion)[0]


def prune_filters_reported(model: nn.Module, example_input: Tensor | Sequence[Tensor],
                           amount: float, criterion: str = "l1") -> tuple[nn.Module, PruningReport]:
    """:func:`prune_filters`, and the :class:`PruningReport` of what it did."""
    check_range("amount", amount, 0.0, 1.0, high_open=True)
    check_choice("criterion", criterion, CRITERIA)
    refresh_masked(model)  # a masked weight computed with grad cannot be deep-copied
    pruned = copy.deepcopy(model)
    graph = trace(pruned, example_input)
    before = _shapes(pruned)
    remove_channels(pruned, graph, choose_channels(pruned, graph, amount, criterion))
    return pruned, PruningReport.of(amount, graph, before, _shapes(pruned))


@dataclass(frozen=True)
class PruningReport:
    """What a structured pruning removed, layer by layer, and what it left alone and why."""

    amount: float  # the share of filters asked for
    filters: dict[str, tuple[int, int]]  # producer layer -> (filters before, after)
    shrunk: tuple[str, ...]  # layers whose weights lost filters or input channels
    left_alone: dict[str, str]  # producer layers (comma-separated) with channels kept -> why
    fixed: int = 0  # filters the model's inputs and outputs fix (an image's 3 channels)

    @classmethod
    def of(cls, amount: float, graph: ChannelGraph, before: dict[str, tuple[int, int]],
           after: dict[str, tuple[int, int]]) -> PruningReport:
        left = {", ".join(producers): why for producers, why in graph.frozen.items()}
        traced = set(graph.layers) | {n for producers in graph.frozen for n in producers}
        left.update({name: "not called in the forward pass" for name in before if name not in traced})
        return cls(amount, {n: (before[n][0], after[n][0]) for n in before},
                   tuple(n for n in before if after[n][1] < before[n][1]), left, graph.interface)

    @property
    def achieved(self) -> float:
        """The share of filters removed, of those the model's inputs and outputs do not fix."""
        total = sum(b for b, _ in self.filters.values()) - self.fixed
        removed = sum(b - a for b, a in self.filters.values())
        return removed / total if total > 0 else 0.0

    def shortfall(self) -> str | None:
        """A one-line warning when the pruning removed clearly less than asked because it left
        channels alone (not because small layers round, nor for the model's own inputs and
        outputs), else None."""
        blocked = {k: v for k, v in self.left_alone.items() if v not in (MODEL_INPUT, MODEL_OUTPUT)}
        if self.achieved >= self.amount - SHORTFALL or not blocked:
            return None
        reasons = "; ".join(f"{layers}: {why}" for layers, why in list(blocked.items())[:3])
        more = f" (and {len(blocked) - 3} more)" if len(blocked) > 3 else ""
        return (f"prune_filters removed {self.achieved:.0%} of the filters, not the "
                f"{self.amount:.0%} asked ({len(self.shrunk)} of {len(self.filters)} layers "
                f"pruned); left alone: {reasons}{more}")

    def __str__(self) -> str:
        lines = [f"pruned {self.achieved:.1%} of {sum(b for b, _ in self.filters.values()) - self.fixed} "
                 f"prunable filters (asked {self.amount:.1%}); {len(self.shrunk)} of "
                 f"{len(self.filters)} layers pruned"]
        lines += [f"  {name}: {b} -> {a} filters" for name, (b, a) in self.filters.items()]
        lines += [f"  left alone: {layers}: {why}" for layers, why in self.left_alone.items()]
        return "\n".join(lines)


def _shapes(model: nn.Module) -> dict[str, tuple[int, int]]:
    """(filters, weight size) of every producer layer, by name."""
    shapes = {}
    for name, m in model.named_modules():
        w = getattr(m, "weight", None) if isinstance(m, PRODUCERS) else None
        if isinstance(w, Tensor):
            filters = w.shape[1] * m.groups if isinstance(m, nn.ConvTranspose2d) else w.shape[0]
            shapes[name] = (filters, w.numel())
    return shapes


def choose_channels(model: nn.Module, graph: ChannelGraph, amount: float, criterion: str) -> set[int]:
    """The channel classes (union-find roots) to remove: the ``amount`` least important of each
    group, never all of one."""
    removed: set[int] = set()
    for group in graph.groups:
        n = len(group.roots)
        k = min(n - 1, round(amount * n))
        if k <= 0:
            continue
        order = torch.argsort(group_scores(model, group, criterion), stable=True)
        removed.update(group.roots[i] for i in order[:k].tolist())
    return removed


def group_scores(model: nn.Module, group: Group, criterion: str) -> Tensor:
    """One importance score per channel class of ``group``.

    When several layers share a class (a residual trunk), each layer's scores are divided by
    their mean before they are summed, so no layer dominates by the scale of its weights.
    """
    modules = dict(model.named_modules())
    members = group.norms if criterion == "norm_scale" else group.classes
    per_layer: dict[str, Tensor] = {}
    for name in {n for cls in members for n, _ in cls}:
        module = modules[name]
        per_layer[name] = (norm_scales(module) if criterion == "norm_scale"
                           else filter_scores(module, criterion))
    if not per_layer:
        raise ConfigError(f"criterion 'norm_scale' needs an affine norm layer after "
                          f"{', '.join(group.producers)}; use 'l1' or 'fpgm' for this model")
    scale = {name: s.mean().clamp_min(1e-12) for name, s in per_layer.items()}
    return torch.stack([sum(per_layer[n][c] / scale[n] for n, c in cls) for cls in members])


def filter_scores(module: nn.Module, criterion: str) -> Tensor:
    filters = filter_matrix(module)
    if criterion == "l1":
        return filters.abs().sum(dim=1)
    if criterion == "fpgm":
        center = geometric_median(filters)
        return (filters - center).pow(2).sum(dim=1)  # Gong et al. eq. 2
    raise ConfigError(f"unknown criterion {criterion!r}; known: {', '.join(CRITERIA)}")


def norm_scales(module: nn.Module) -> Tensor:
    if getattr(module, "weight", None) is None:
        raise ConfigError(f"criterion 'norm_scale' needs affine norm layers; {type(module).__name__} "
                          f"has no scale (use 'l1' or 'fpgm')")
    return module.weight.detach().abs().float()


def filter_matrix(module: nn.Module) -> Tensor:
    """The filters of a layer as rows: (out_channels, everything else)."""
    w = module.weight.detach().float()
    if isinstance(module, nn.ConvTranspose2d):  # stored (in, out / groups, kh, kw)
        g = module.groups
        w = w.reshape(g, w.shape[0] // g, *w.shape[1:]).transpose(1, 2)
        w = w.reshape(-1, *w.shape[2:])  # (out, in / groups, kh, kw)
    return w.reshape(w.shape[0], -1)


def geometric_median(points: Tensor, iterations: int = 100, eps: float = 1e-8) -> Tensor:
    """argmin_x sum_j ||x - p_j||_2 (Gong et al. eq. 1), by Weiszfeld's iteration from the mean."""
    x = points.mean(dim=0)
    for _ in range(iterations):
        d = (points - x).norm(dim=1).clamp_min(eps)
        w = 1.0 / d
        nxt = (w[:, None] * points).sum(dim=0) / w.sum()
        if (nxt - x).norm() <= eps * (1 + x.norm()):
            return nxt
        x = nxt
    return x


def remove_channels(model: nn.Module, graph: ChannelGraph, removed: set[int]) -> None:
    """Cut the channel classes ``removed`` (union-find roots) out of every layer, in place."""
    modules = dict(model.named_modules())
    for name, layer in graph.layers.items():
        out_keep = graph.kept(layer.out_ids, removed) if layer.out_ids is not None else None
        in_keep = graph.kept(layer.in_ids, removed) if layer.in_ids is not None else None
        slice_layer(modules[name], out_keep, in_keep)
    for name, ids in graph.norms.items():
        slice_norm(modules[name], graph.kept(ids, removed))
