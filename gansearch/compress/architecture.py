"""The architecture of a compressed model beyond its config, and how to rebuild it.

A checkpoint stores the config of the model a student came from plus its tensors. Structured
pruning changes only shapes, which the tensors carry (``shrink_to``); low-rank factorization and
int8 quantization also change which modules exist. ``describe`` records those changes as plain
data; ``rebuild`` replays them on a freshly built model so its state dict loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import Tensor, nn

from gansearch.compress._layers import is_int8
from gansearch.compress.lowrank import LowRankConv, factorize_conv
from gansearch.compress.precision import quantize_int8
from gansearch.compress.structured import shrink_to


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
        setattr(model.get_submodule(parent), child, factorize_conv(model.get_submodule(name), int(rank)))
    shrink_to(model, state_dict)  # the factors' shapes, now that they exist
    for name in description.get("int8") or []:
        quantize_int8(model.get_submodule(name))
    return model
