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
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from gansearch.compress.dependency import NORMS, PRODUCERS, ChannelGraph, Group, trace
from gansearch.config import check_choice, check_range
from gansearch.errors import ConfigError

CRITERIA = ("l1", "fpgm", "norm_scale")


def prune_filters(model: nn.Module, example_input: Tensor | Sequence[Tensor], amount: float,
                  criterion: str = "l1") -> nn.Module:
    """A copy of ``model`` with ``amount`` of the filters of every prunable group removed.

    ``amount`` is the fraction of each group's filters that goes (at least one always stays),
    so every layer keeps the same share and interior conv MACs fall by about (1 - amount)^2.
    The input model is untouched. An optimizer built on the old parameters must be rebuilt.
    """
    check_range("amount", amount, 0.0, 1.0, high_open=True)
    check_choice("criterion", criterion, CRITERIA)
    _refresh_masked(model)  # a masked weight computed with grad cannot be deep-copied
    pruned = copy.deepcopy(model)
    graph = trace(pruned, example_input)
    remove_channels(pruned, graph, choose_channels(pruned, graph, amount, criterion))
    return pruned


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
    if isinstance(module, nn.ConvTranspose2d):
        w = w.transpose(0, 1)  # stored (in, out, kh, kw)
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
        _slice_layer(modules[name], out_keep, in_keep)
    for name, ids in graph.norms.items():
        _slice_norm(modules[name], graph.kept(ids, removed))


def shrink_to(model: nn.Module, state_dict: Mapping[str, Tensor]) -> nn.Module:
    """Resize the layers of a freshly built ``model`` to the shapes in a pruned ``state_dict``.

    A structurally pruned model is its original architecture with fewer channels, so building
    the original and shrinking it to the saved shapes restores it; then load the state dict.
    """
    for name, module in model.named_modules():
        prefix = f"{name}." if name else ""
        if isinstance(module, PRODUCERS):
            w = next((state_dict[prefix + k] for k in ("weight", "weight_orig", "weight_int8")
                      if prefix + k in state_dict), None)
            if w is None:
                continue
            out_dim, in_dim = _dims(module)
            groups = getattr(module, "groups", 1)
            _resize_layer(module, w.shape[out_dim] * (groups if out_dim == 1 else 1),
                          w.shape[in_dim] * (groups if in_dim == 1 else 1))
        elif isinstance(module, NORMS):
            t = next((state_dict[prefix + k] for k in ("weight", "running_mean")
                      if prefix + k in state_dict), None)
            if t is not None:
                _slice_norm(module, list(range(t.shape[0])), fresh=True)
    return model


# -- slicing ---------------------------------------------------------------------------------


def _dims(module: nn.Module) -> tuple[int, int]:
    """(output-channel dim, input-channel dim) of the layer's weight."""
    return (1, 0) if isinstance(module, nn.ConvTranspose2d) else (0, 1)


def _slice_layer(module: nn.Module, out_keep: list[int] | None, in_keep: list[int] | None) -> None:
    out_dim, in_dim = _dims(module)
    for name in ("weight", "weight_orig", "weight_mask"):
        t = _own_tensor(module, name)
        if t is None:
            continue
        if out_keep is not None:
            t = t.index_select(out_dim, torch.tensor(out_keep, device=t.device))
        if in_keep is not None:
            t = t.index_select(in_dim, torch.tensor(in_keep, device=t.device))
        _set_tensor(module, name, t)
    bias = _own_tensor(module, "bias")
    if bias is not None and out_keep is not None:
        _set_tensor(module, "bias", bias[out_keep])
    _refresh_masked(module)
    w = _own_tensor(module, "weight_orig")
    w = w if w is not None else module.weight
    _set_sizes(module, w.shape[out_dim], w.shape[in_dim])


def _resize_layer(module: nn.Module, out_channels: int, in_channels: int) -> None:
    out_dim, in_dim = _dims(module)
    for name in ("weight", "weight_orig", "weight_mask"):
        t = _own_tensor(module, name)
        if t is not None:
            shape = list(t.shape)
            shape[out_dim], shape[in_dim] = out_channels, in_channels
            _set_tensor(module, name, t.new_empty(shape))
    bias = _own_tensor(module, "bias")
    if bias is not None:
        _set_tensor(module, "bias", bias.new_empty(out_channels))
    _refresh_masked(module)
    _set_sizes(module, out_channels, in_channels)


def _slice_norm(module: nn.Module, keep: list[int], fresh: bool = False) -> None:
    for name in ("weight", "bias", "running_mean", "running_var"):
        t = _own_tensor(module, name)
        if t is not None:
            _set_tensor(module, name, t.new_empty(len(keep)) if fresh else t[keep])
    module.num_features = len(keep)


def _set_sizes(module: nn.Module, out_channels: int, in_channels: int) -> None:
    if isinstance(module, nn.Linear):
        module.out_features, module.in_features = out_channels, in_channels
    else:
        module.out_channels, module.in_channels = out_channels, in_channels


def _own_tensor(module: nn.Module, name: str) -> Tensor | None:
    if module._parameters.get(name) is not None:
        return module._parameters[name]
    return module._buffers.get(name)


def _set_tensor(module: nn.Module, name: str, value: Tensor) -> None:
    old = module._parameters.get(name)
    if old is not None:
        module._parameters[name] = nn.Parameter(value.detach().clone(), requires_grad=old.requires_grad)
    else:
        module._buffers[name] = value.detach().clone()


def _refresh_masked(model: nn.Module) -> None:
    # torch.nn.utils.prune keeps weight = weight_orig * weight_mask as a plain attribute, updated
    # before each forward; update it now so the module is consistent before its next call.
    for module in model.modules():
        if "weight_orig" in module._parameters and "weight_mask" in module._buffers:
            with torch.no_grad():
                module.weight = module.weight_orig * module.weight_mask
