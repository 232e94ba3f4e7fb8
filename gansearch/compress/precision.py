"""Reduced numeric precision: fp16 / bf16 models, and int8 weights with per-channel scales.

SinGAN method 4 (seeds/000_*.txt sec. 3.4) casts the fine-tuned generator to half precision;
the survey (seeds/002_*.txt, "Lowering numeric precision", eq. 9) maps a weight to an integer by
``q = (w - zero_point) / scale``. ``quantize_int8`` uses the symmetric form (zero point 0) with
one scale per output channel, and computes with the de-quantized weight ``q * scale``: it saves
weight memory, not arithmetic, and runs on any device.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gansearch.compress._layers import weighted_layers
from gansearch.errors import ConfigError
from gansearch.models.compressed import channel_axis, drop_int8, is_int8, make_int8

DTYPES = {
    "float32": torch.float32, "fp32": torch.float32,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
}
PRECISIONS = ("float32", "float16", "bfloat16", "int8")
INT8_MAX = 127  # symmetric range [-127, 127]: zero is exact and +-max map to +-127


def resolve_dtype(dtype: str | torch.dtype) -> torch.dtype:
    """A floating dtype from its torch form or its name (float16, fp16, half, bf16, ...)."""
    if isinstance(dtype, torch.dtype) and dtype in DTYPES.values():
        return dtype
    if isinstance(dtype, str) and dtype.lower() in DTYPES:
        return DTYPES[dtype.lower()]
    raise ConfigError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")


def to_dtype(model: nn.Module, dtype: str | torch.dtype) -> nn.Module:
    """Cast every floating-point parameter and buffer of ``model`` to ``dtype``, in place.

    Norm layers are cast too (BatchNorm's scale, shift and running statistics), so the whole
    forward runs in ``dtype`` with no casts between layers, and inputs must be given in it
    (``x.to(dtype)``). Integer buffers (BatchNorm's batch count) and int8 weights keep their
    dtype. Returns ``model``.
    """
    return model.to(resolve_dtype(dtype))


def quantize_int8(model: nn.Module) -> nn.Module:
    """Store the weight of every Conv2d, ConvTranspose2d and Linear layer as int8, in place.

    Per output channel ``c``: ``scale_c = max |w_c| / 127`` and ``q = round(w / scale_c)``, so
    each weight is off by at most ``scale_c / 2``. The layer keeps its class and bias; its
    ``weight`` parameter becomes ``weight_int8`` (a frozen int8 parameter, still counted as a
    parameter) and ``weight_scale`` (a buffer in the weight's floating dtype), and ``weight``
    exists only during the layer's forward, de-quantized by a hook. ``state_dict`` holds the
    int8 weights and scales; load it into a model built the same way and passed through
    ``quantize_int8``. Pruning masks are made permanent first (pruned weights quantize to 0).
    Returns ``model``.
    """
    for _, layer in weighted_layers(model, "quantize_int8"):
        w = layer.weight.detach()
        scale = _channel_max(w, channel_axis(layer)) / INT8_MAX
        q = torch.round(w.float() / scale.float().clamp_min(torch.finfo(torch.float32).tiny))
        make_int8(layer, q.clamp(-INT8_MAX, INT8_MAX), scale)
    return model


def dequantize(model: nn.Module) -> nn.Module:
    """Undo ``quantize_int8`` in place: int8 layers get back a floating ``weight`` parameter
    equal to ``q * scale`` (to fine-tune it, or to export a plain model). Returns ``model``."""
    for layer in model.modules():
        if is_int8(layer):
            layer.weight = nn.Parameter(drop_int8(layer))
    return model


def reduce_precision(model: nn.Module, precision: str) -> nn.Module:
    """The ``dtype`` knob: ``float32`` (unchanged), ``float16`` / ``bfloat16`` (``to_dtype``) or
    ``int8`` (``quantize_int8``), in place. Returns ``model``."""
    if precision == "int8":
        return quantize_int8(model)
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    return to_dtype(model, precision)


def _channel_max(w: Tensor, axis: int) -> Tensor:
    """max |w| over every axis but ``axis``, kept broadcastable to ``w``."""
    others = [d for d in range(w.dim()) if d != axis]
    return w.abs().amax(dim=others, keepdim=True)
