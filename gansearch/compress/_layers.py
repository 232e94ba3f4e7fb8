"""The layers whose weights precision, weight sharing and low-rank factorization rewrite."""

from __future__ import annotations

from torch import nn
from torch.nn.utils import parametrize, prune

from gansearch.errors import ConfigError
from gansearch.models.compressed import is_int8

WEIGHTED_LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)


def weighted_layers(model: nn.Module, technique: str) -> list[tuple[str, nn.Module]]:
    """The Conv2d, ConvTranspose2d and Linear layers of ``model``, each with a plain ``weight``.

    Pruning masks (``torch.nn.utils.prune``) are made permanent first, so pruned weights are
    zeros of the weight itself. A layer already int8 cannot be rewritten again: int8 comes last.
    """
    layers = []
    for name, module in model.named_modules():
        if not isinstance(module, WEIGHTED_LAYERS):
            continue
        if is_int8(module):
            raise ConfigError(f"{technique}: layer {name!r} already holds int8 weights; apply "
                              f"{technique} before quantize_int8 (int8 is the last step)")
        if parametrize.is_parametrized(module, "weight"):
            raise ConfigError(f"{technique}: layer {name!r} has a parametrized weight; remove it "
                              "first (torch.nn.utils.parametrize.remove_parametrizations)")
        if "weight_orig" in module._parameters and "weight_mask" in module._buffers:
            prune.remove(module, "weight")
        layers.append((name, module))
    return layers
