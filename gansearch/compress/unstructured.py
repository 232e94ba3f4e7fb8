"""Unstructured magnitude pruning, with masks that stay applied through fine-tuning.

Method 2 of the SinGAN compression paper (seeds/000_*.txt sec. 3.2 and 4.1): the weights of the
smallest magnitude are pruned, globally across the generator at once (its default) or layer by
layer, at 50% / 90% sparsity, then the generator is fine-tuned. The paper found the L1 and L0
norms gave the same results and kept L1; both are here (the L0 "magnitude" of a weight only says
whether it is zero, so L0 prunes weights that are already zero first and chooses at random, with
a fixed seed, among the rest).

Masks are ``torch.nn.utils.prune`` masks: the layer keeps ``weight_orig`` and a ``weight_mask``
buffer, and its weight is recomputed as their product before every forward, so a pruned weight
is zero after any number of optimizer steps, whatever the optimizer does to ``weight_orig``.
The profiler folds the masks in (``gansearch.metrics.cost.stored_tensors``);
``make_permanent`` bakes them into plain weights.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import prune

from gansearch.config import check_choice, check_range

PRUNABLE = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
SCOPES = ("global", "layer")
NORMS = ("l1", "l0")


def prunable_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The conv and linear layers whose weights get pruned (not norm layers, not biases)."""
    return [(name, m) for name, m in model.named_modules()
            if isinstance(m, PRUNABLE) and not getattr(m, "parametrizations", None)]


def prune_unstructured(model: nn.Module, sparsity: float, scope: str = "global", norm: str = "l1",
                       seed: int = 0) -> nn.Module:
    """Mask the ``sparsity`` fraction of smallest-magnitude weights of ``model``, in place.

    ``scope="global"`` ranks all weights of the model together (layers end up with different
    sparsities); ``"layer"`` prunes every layer to ``sparsity``. Weights pruned before stay
    pruned, so calling this again with a higher sparsity prunes iteratively (see
    ``sparsity_schedule``). Returns ``model``.
    """
    check_range("sparsity", sparsity, 0.0, 1.0, high_open=True)
    check_choice("scope", scope, SCOPES)
    check_choice("norm", norm, NORMS)
    layers = [m for _, m in prunable_layers(model)]
    if not layers:
        return model
    generator = torch.Generator().manual_seed(seed)
    scores = [_scores(m.weight.detach(), norm, generator) for m in layers]
    if scope == "global":
        masks = _split(_lowest_masked(torch.cat([s.flatten() for s in scores]), sparsity), scores)
    else:
        masks = [_lowest_masked(s.flatten(), sparsity).view_as(s) for s in scores]
    for module, mask in zip(layers, masks, strict=True):
        mask = mask.to(module.weight.device)
        if prune.is_pruned(module) and hasattr(module, "weight_mask"):
            module.weight_mask.mul_(mask.to(module.weight_mask.dtype))  # pruned stays pruned
            module.weight = module.weight_orig * module.weight_mask
        else:
            prune.custom_from_mask(module, "weight", mask)
    return model


def make_permanent(model: nn.Module) -> nn.Module:
    """Replace every mask by the weights it produces (zeros included); returns ``model``."""
    for _, module in model.named_modules():
        if isinstance(getattr(module, "weight_mask", None), Tensor) and hasattr(module, "weight_orig"):
            prune.remove(module, "weight")
    return model


def sparsity_schedule(target: float, steps: int) -> list[float]:
    """Sparsity after each of ``steps`` prune/fine-tune rounds reaching ``target``.

    The cubic schedule of Zhu & Gupta 2017 ("To prune, or not to prune", eq. 1): prune fast while
    many redundant weights remain, slowly near the target.
    """
    check_range("sparsity", target, 0.0, 1.0, high_open=True)
    check_range("steps", steps, 1)
    return [target * (1 - (1 - (i + 1) / steps) ** 3) for i in range(steps)]


def _scores(weight: Tensor, norm: str, generator: torch.Generator) -> Tensor:
    w = weight.float().cpu()
    if norm == "l1":
        return w.abs()
    # L0: zero or not; a random fraction below 1 orders the non-zero weights among themselves.
    return (w != 0).float() + torch.rand(w.shape, generator=generator) * 0.5


def _lowest_masked(scores: Tensor, sparsity: float) -> Tensor:
    """A 0/1 mask with the ``round(sparsity * n)`` lowest scores at 0."""
    mask = torch.ones_like(scores)
    k = round(sparsity * scores.numel())
    if k:
        mask[torch.argsort(scores, stable=True)[:k]] = 0
    return mask


def _split(flat: Tensor, like: list[Tensor]) -> list[Tensor]:
    sizes = [t.numel() for t in like]
    return [part.view_as(t) for part, t in zip(flat.split(sizes), like, strict=True)]
