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
    A subclass that computes its output its own way (a weight-standardized convolution) is
    refused: what it does with ``weight`` is unknown, so no rewrite of the weight can be exact.
    """
    layers = []
    for name, module in model.named_modules():
        if not isinstance(module, WEIGHTED_LAYERS):
            continue
        if is_int8(module):
            raise ConfigError(f"{technique}: layer {name!r} already holds int8 weights; apply "
                              f"{technique} before quantize_int8 (int8 is the last step)")
        own = _own_forward(module)
        if own:
            raise ConfigError(f"{technique}: layer {name!r} is a {type(module).__name__}, a subclass of "
                              f"{own} with its own forward, which {technique} cannot rewrite exactly; "
                              f"leave {technique} out of the recipe for this generator")
        if parametrize.is_parametrized(module, "weight"):
            raise ConfigError(f"{technique}: layer {name!r} has a parametrized weight; remove it "
                              "first (torch.nn.utils.parametrize.remove_parametrizations)")
        if "weight_orig" in module._parameters and "weight_mask" in module._buffers:
            prune.remove(module, "weight")
        layers.append((name, module))
    return layers


def _own_forward(module: nn.Module) -> str | None:
    """The torch class ``module`` subclasses, if the subclass overrides how it computes its output."""
    base = next(b for b in WEIGHTED_LAYERS if isinstance(module, b))
    if type(module) is base:
        return None
    methods = ("forward", "_conv_forward")
    return base.__name__ if any(getattr(type(module), m, None) is not getattr(base, m, None)
                                for m in methods) else None
