"""The layers a compressed generator is made of, and how a checkpoint rebuilds them.

The compression core (``gansearch.compress``) decides what to cut, factorize or quantize and
computes the new weights; this module only knows the forms those results take, so that a
checkpoint can rebuild a compressed model from its family's config without the core:

- structured pruning leaves the original layers with fewer channels (``shrink_to`` resizes a
  freshly built model to the shapes of a pruned state dict);
- low-rank factorization replaces a convolution by a ``LowRankConv`` pair;
- int8 storage keeps a layer's weight as ``weight_int8`` with per-channel ``weight_scale`` and
  de-quantizes it in the layer's forward (``make_int8``: ``Int8Conv2d`` and its kin).

``describe`` records the last two as plain data; ``rebuild`` replays them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from gansearch.errors import GansearchError

PRODUCERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)  # layers whose outputs are channels
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.InstanceNorm2d)


# -- channels: slicing and resizing -----------------------------------------------------------


def channel_dims(module: nn.Module) -> tuple[int, int]:
    """(output-channel dim, input-channel dim) of the layer's weight."""
    return (1, 0) if isinstance(module, nn.ConvTranspose2d) else (0, 1)


def slice_layer(module: nn.Module, out_keep: list[int] | None, in_keep: list[int] | None) -> None:
    """Keep only the output channels ``out_keep`` and input channels ``in_keep`` (None: all).

    A grouped convolution keeps its groups apart: each group keeps its own channels, the
    groups left must all keep the same numbers of inputs and outputs, and a group that loses
    every channel goes (a depthwise convolution loses its groups with its channels).
    """
    groups = getattr(module, "groups", 1)
    out_dim, in_dim = channel_dims(module)
    n_out, n_in = _sizes(module)
    out_keep = list(range(n_out)) if out_keep is None else out_keep
    in_keep = list(range(n_in)) if in_keep is None else in_keep
    kept = [(g, [j for j in out_keep if j * groups // n_out == g],
             [i for i in in_keep if i * groups // n_in == g]) for g in range(groups)]
    kept = [(g, outs, ins) for g, outs, ins in kept if outs or ins]
    if len({(len(outs), len(ins)) for _, outs, ins in kept}) != 1 or not all(o and i for _, o, i in kept):
        raise GansearchError(f"cannot slice {type(module).__name__} unevenly across its {groups} "
                             f"groups; this is a bug in the dependency trace, please report it")
    for name in ("weight", "weight_orig", "weight_mask"):
        t = own_tensor(module, name)
        if t is not None:
            set_tensor(module, name, _slice_weight(t, kept, out_dim == 0, n_out // groups, n_in // groups))
    bias = own_tensor(module, "bias")
    if bias is not None:
        set_tensor(module, "bias", bias[out_keep])
    refresh_masked(module)
    if groups > 1:
        module.groups = len(kept)
    _set_sizes(module, len(out_keep), len(in_keep))


def _slice_weight(t: Tensor, kept: list[tuple[int, list[int], list[int]]], outputs_first: bool,
                  out_per_group: int, in_per_group: int) -> Tensor:
    """The weight of the kept channels, group by group. Its first dimension holds every output
    channel (a transposed convolution: every input), its second the group's own channels of
    the other side."""
    pieces = []
    for g, outs, ins in kept:
        rows, cols = (outs, [i - g * in_per_group for i in ins]) if outputs_first else \
                     (ins, [j - g * out_per_group for j in outs])
        piece = t.index_select(0, torch.tensor(rows, device=t.device))
        pieces.append(piece.index_select(1, torch.tensor(cols, device=t.device)))
    return torch.cat(pieces, 0)


def _sizes(module: nn.Module) -> tuple[int, int]:
    """(output channels, input channels) of a producer layer."""
    if isinstance(module, nn.Linear):
        return module.out_features, module.in_features
    return module.out_channels, module.in_channels


def slice_norm(module: nn.Module, keep: list[int], fresh: bool = False) -> None:
    """Keep the entries ``keep`` of a norm layer (``fresh``: that many, values unset)."""
    for name in ("weight", "bias", "running_mean", "running_var"):
        t = own_tensor(module, name)
        if t is not None:
            set_tensor(module, name, t.new_empty(len(keep)) if fresh else t[keep])
    module.num_features = len(keep)


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
            out_dim, in_dim = channel_dims(module)
            groups = getattr(module, "groups", 1)
            if 1 < groups == module.in_channels:  # depthwise: its groups went with its channels
                multiplier = module.out_channels // groups
                groups = module.groups = w.shape[0] // multiplier if out_dim == 0 else w.shape[0]
            _resize_layer(module, w.shape[out_dim] * (groups if out_dim == 1 else 1),
                          w.shape[in_dim] * (groups if in_dim == 1 else 1))
        elif isinstance(module, NORMS):
            t = next((state_dict[prefix + k] for k in ("weight", "running_mean")
                      if prefix + k in state_dict), None)
            if t is not None:
                slice_norm(module, list(range(t.shape[0])), fresh=True)
    return model


def _resize_layer(module: nn.Module, out_channels: int, in_channels: int) -> None:
    out_dim, in_dim = channel_dims(module)
    groups = getattr(module, "groups", 1)
    for name in ("weight", "weight_orig", "weight_mask"):
        t = own_tensor(module, name)
        if t is not None:
            shape = list(t.shape)
            shape[out_dim], shape[in_dim] = out_channels, in_channels
            shape[1] //= groups  # the second dimension holds one group's channels
            set_tensor(module, name, t.new_empty(shape))
    bias = own_tensor(module, "bias")
    if bias is not None:
        set_tensor(module, "bias", bias.new_empty(out_channels))
    refresh_masked(module)
    _set_sizes(module, out_channels, in_channels)


def _set_sizes(module: nn.Module, out_channels: int, in_channels: int) -> None:
    if isinstance(module, nn.Linear):
        module.out_features, module.in_features = out_channels, in_channels
    else:
        module.out_channels, module.in_channels = out_channels, in_channels


def own_tensor(module: nn.Module, name: str) -> Tensor | None:
    """The module's own parameter or buffer ``name`` (not a submodule's), or None."""
    if module._parameters.get(name) is not None:
        return module._parameters[name]
    return module._buffers.get(name)


def set_tensor(module: nn.Module, name: str, value: Tensor) -> None:
    """Replace parameter or buffer ``name`` by a copy of ``value`` (a parameter stays one)."""
    old = module._parameters.get(name)
    if old is not None:
        module._parameters[name] = nn.Parameter(value.detach().clone(), requires_grad=old.requires_grad)
    else:
        module._buffers[name] = value.detach().clone()


def refresh_masked(model: nn.Module) -> None:
    """Recompute ``weight = weight_orig * weight_mask`` of layers under a pruning mask.

    torch.nn.utils.prune keeps that product as a plain attribute, updated before each forward;
    updating it now makes the module consistent before its next call (and deep-copyable).
    """
    for module in model.modules():
        if "weight_orig" in module._parameters and "weight_mask" in module._buffers:
            with torch.no_grad():
                module.weight = module.weight_orig * module.weight_mask


# -- low rank ---------------------------------------------------------------------------------


class LowRankConv(nn.Sequential):
    """The two layers a factorized convolution became (run in sequence)."""

    @classmethod
    def like(cls, layer: nn.Conv2d | nn.ConvTranspose2d, rank: int) -> LowRankConv:
        """The pair that factorizes ``layer`` at ``rank``, its weights not yet set.

        Conv2d: a rank-r conv with the layer's geometry, then a 1x1 conv to the outputs.
        ConvTranspose2d: a 1x1 conv to rank r, then a transposed conv with the layer's geometry.
        """
        cin, cout, kernel = layer.in_channels, layer.out_channels, layer.kernel_size
        factory = {"device": layer.weight.device if hasattr(layer, "weight") else None,
                   "dtype": next((p.dtype for p in layer.parameters() if p.is_floating_point()), None)}
        has_bias = layer.bias is not None
        if isinstance(layer, nn.ConvTranspose2d):
            first = nn.Conv2d(cin, rank, 1, bias=False, **factory)
            second = nn.ConvTranspose2d(rank, cout, kernel, layer.stride, layer.padding,
                                        layer.output_padding, dilation=layer.dilation, bias=has_bias,
                                        **factory)
        else:
            first = nn.Conv2d(cin, rank, kernel, layer.stride, layer.padding, layer.dilation,
                              bias=False, padding_mode=layer.padding_mode, **factory)
            second = nn.Conv2d(rank, cout, 1, bias=has_bias, **factory)
        return cls(first, second)


# -- int8 weights ------------------------------------------------------------------------------


def is_int8(layer: nn.Module) -> bool:
    """Whether ``layer`` holds its weight as int8 (see ``make_int8``)."""
    return "weight_int8" in layer._parameters


def channel_axis(layer: nn.Module) -> int:
    """The output-channel axis of a weight: Conv2d and Linear (out, in, ...); ConvTranspose2d
    (in, out / groups, ...)."""
    return 1 if isinstance(layer, nn.ConvTranspose2d) else 0


def make_int8(layer: nn.Module, q: Tensor | None = None, scale: Tensor | None = None) -> nn.Module:
    """Store ``layer``'s weight as int8 ``q`` with one ``scale`` per output channel, in place;
    without values (a checkpoint being rebuilt), zeros of the weight's shape. The layer keeps
    its bias and settings and becomes its int8 form (``Int8Conv2d``, ...), whose forward
    de-quantizes the weight: it scripts, traces and exports like any layer."""
    w = layer.weight.detach()
    if q is None:
        q = torch.zeros(w.shape, dtype=torch.int8, device=w.device)
        scale = torch.ones(w.shape[channel_axis(layer)], dtype=w.dtype, device=w.device)
    int8_class = next(c for base, c in _INT8_FORMS.items() if isinstance(layer, base))
    del layer.weight
    layer.weight_int8 = nn.Parameter(q.to(torch.int8), requires_grad=False)
    layer.register_buffer("weight_scale", scale.reshape(-1))
    layer.__class__ = int8_class
    return layer


def dequantized_weight(layer: nn.Module) -> Tensor:
    """``q * scale`` of an int8 layer, in the dtype of its scales."""
    shape = [1] * layer.weight_int8.dim()
    shape[channel_axis(layer)] = -1
    return layer.weight_int8.to(layer.weight_scale.dtype) * layer.weight_scale.reshape(shape)


def drop_int8(layer: nn.Module) -> Tensor:
    """Undo ``make_int8``: the layer gets its class back without int8 storage; returns the
    de-quantized weight (the caller sets it as ``weight``)."""
    weight = dequantized_weight(layer)
    layer.__class__ = type(layer).__mro__[1]  # Int8Conv2d -> Conv2d
    del layer.weight_int8, layer.weight_scale
    return weight


class Int8Conv2d(nn.Conv2d):
    """A Conv2d whose weight is stored as int8 with per-output-channel scales."""

    def forward(self, input: Tensor) -> Tensor:
        w = self.weight_int8.to(self.weight_scale.dtype) * self.weight_scale.reshape(-1, 1, 1, 1)
        return self._conv_forward(input, w, self.bias)


class Int8ConvTranspose2d(nn.ConvTranspose2d):
    """A ConvTranspose2d whose weight is stored as int8 with per-output-channel scales."""

    def forward(self, input: Tensor, output_size: list[int] | None = None) -> Tensor:
        output_padding = self._output_padding(input, output_size, self.stride, self.padding,
                                              self.kernel_size, 2, self.dilation)
        w = self.weight_int8.to(self.weight_scale.dtype) * self.weight_scale.reshape(1, -1, 1, 1)
        return nn.functional.conv_transpose2d(input, w, self.bias, self.stride, self.padding,
                                              output_padding, self.groups, self.dilation)


class Int8Linear(nn.Linear):
    """A Linear layer whose weight is stored as int8 with per-output-feature scales."""

    def forward(self, input: Tensor) -> Tensor:
        w = self.weight_int8.to(self.weight_scale.dtype) * self.weight_scale.reshape(-1, 1)
        return nn.functional.linear(input, w, self.bias)


_INT8_FORMS = {nn.Conv2d: Int8Conv2d, nn.ConvTranspose2d: Int8ConvTranspose2d, nn.Linear: Int8Linear}


# -- a checkpoint's record of them ---------------------------------------------------------------


def describe(model: nn.Module) -> dict[str, Any]:
    """``{"lowrank": {layer: rank}, "int8": [layer, ...]}`` for what ``model`` has of either."""
    lowrank = {name: m[0].out_channels for name, m in model.named_modules() if isinstance(m, LowRankConv)}
    int8 = [name for name, m in model.named_modules() if is_int8(m)]
    return {"lowrank": lowrank, "int8": int8}


def rebuild(model: nn.Module, description: Mapping[str, Any] | None,
            state_dict: Mapping[str, Tensor]) -> nn.Module:
    """Shape ``model`` (built from the original config) like the one ``description`` and
    ``state_dict`` came from; then ``load_state_dict(state_dict, assign=True)`` fits."""
    description = description or {}
    shrink_to(model, state_dict)
    for name, rank in (description.get("lowrank") or {}).items():
        parent, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent), child, LowRankConv.like(model.get_submodule(name), int(rank)))
    shrink_to(model, state_dict)  # the factors' shapes, now that they exist
    for name in description.get("int8") or []:
        make_int8(model.get_submodule(name))
    return model
