"""Training, pruning and fine-tuning a SinGAN pyramid, scale by scale.

The SinGAN compression paper (seeds/000_*.txt sec. 3-4.1) compresses generators only, at every
scale, in the training-pruning-fine-tuning pipeline of Liu et al. 2019: each scale warms up,
its generator is pruned, and it fine-tunes for the rest of the scale's 2000 iterations before
the next scale starts on top of the compressed ones (which can "regain" what a coarser scale
lost, sec. 3.2). Structured pruning needs little warm-up (100 + 1900: the light architecture
matters, not the inherited weights); unstructured pruning needs more (1000 + 1000). Method 4
then lowers each fine-tuned scale to half precision. Discriminators are never pruned.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Literal

import torch
from torch import Tensor

from gansearch.compress.precision import resolve_dtype, to_dtype
from gansearch.compress.structured import CRITERIA, prune_filters
from gansearch.compress.unstructured import NORMS, SCOPES, make_permanent, prune_unstructured
from gansearch.config import check_choice, check_range
from gansearch.errors import ConfigError
from gansearch.families.singan import SinGANTrainConfig, train_singan
from gansearch.metrics.cost import stored_tensors
from gansearch.models.singan import SinGANDiscriminator, SinGANGenerator

# (warm-up, fine-tune) iterations per scale, seeds/000_*.txt sec. 4.1.
DEFAULT_SPLITS = {"structured": (100, 1900), "unstructured": (1000, 1000)}


@dataclass(frozen=True)
class SinGANPruneConfig:
    method: Literal["structured", "unstructured"] = "structured"
    amount: float = 0.5  # structured: fraction of each layer's filters removed
    criterion: str = "l1"  # structured: l1 (Li et al.), fpgm (Gong et al.), norm_scale
    sparsity: float = 0.5  # unstructured: fraction of weights masked (50% / 90% in the paper)
    scope: str = "global"  # unstructured: global (the paper's choice) or layer
    norm: str = "l1"  # unstructured: l1 or l0
    warmup: int | None = None  # iterations per scale before pruning; None: the paper's split
    finetune: int | None = None  # iterations per scale after pruning; None: the paper's split
    scale_iterations: float = 1.0  # multiplies warm-up and fine-tune, for small runs
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"  # float16: method 4

    def __post_init__(self) -> None:
        check_choice("prune.method", self.method, DEFAULT_SPLITS)
        check_range("prune.amount", self.amount, 0.0, 1.0, high_open=True)
        check_choice("prune.criterion", self.criterion, CRITERIA)
        check_range("prune.sparsity", self.sparsity, 0.0, 1.0, high_open=True)
        check_choice("prune.scope", self.scope, SCOPES)
        check_choice("prune.norm", self.norm, NORMS)
        check_range("prune.scale_iterations", self.scale_iterations, 0.0, low_open=True)
        check_choice("prune.dtype", self.dtype, ("float32", "float16", "bfloat16"))
        for name in ("warmup", "finetune"):
            if getattr(self, name) is not None:
                check_range(f"prune.{name}", getattr(self, name), 0)

    def split(self) -> tuple[int, int]:
        """(warm-up, fine-tune) iterations per scale, scaled."""
        warm, fine = DEFAULT_SPLITS[self.method]
        warm = warm if self.warmup is None else self.warmup
        fine = fine if self.finetune is None else self.finetune
        return max(0, round(warm * self.scale_iterations)), max(1, round(fine * self.scale_iterations))


def train_prune_finetune(image: Tensor, generator: SinGANGenerator,
                         discriminator: SinGANDiscriminator, train: SinGANTrainConfig,
                         prune: SinGANPruneConfig, *, pretrained: bool = False, callbacks=()
                         ) -> tuple[SinGANGenerator, list[dict[str, Any]]]:
    """Warm up, prune and fine-tune every scale of ``generator`` on ``image``, coarsest first.

    ``train.iterations`` is replaced by warm-up + fine-tune; the learning rate follows one
    schedule across the prune point. ``pretrained`` compresses a trained pyramid (a teacher):
    its weights and reconstruction noise are kept instead of initialized. Returns the compressed
    generator (structured pruning replaces scale generators by smaller ones) and the loss history.
    """
    if image.dim() != 4 or image.shape[0] != 1:
        raise ConfigError(f"image must be one (1, C, H, W) tensor, got shape {tuple(image.shape)}")
    warm, fine = prune.split()
    params = _with_iterations(train, warm + fine)
    image = image.to(generator.noise_amps.device)
    if not pretrained:
        generator.z_rec.copy_(torch.randn_like(generator.z_rec))
    history: list[dict[str, Any]] = []
    for k in range(generator.config.num_scales):
        if not pretrained:
            _init_from_coarser(generator, discriminator, k)
        if warm:
            history += train_singan(image, generator, discriminator, params, callbacks=callbacks,
                                    scales=[k], steps=range(0, warm))
        _prune_scale(generator, k, prune)
        history += train_singan(image, generator, discriminator, params, callbacks=callbacks,
                                scales=[k], steps=range(warm, warm + fine))
        if prune.method == "unstructured":
            make_permanent(generator.scales[k])
        if prune.dtype != "float32":
            _round_weights(generator.scales[k], resolve_dtype(prune.dtype))
    if prune.dtype != "float32":
        to_dtype(generator, prune.dtype)
    generator.eval()
    return generator, history


def _prune_scale(generator: SinGANGenerator, k: int, prune: SinGANPruneConfig) -> None:
    g = generator.scales[k]
    if prune.method == "unstructured":
        prune_unstructured(g, prune.sparsity, scope=prune.scope, norm=prune.norm)
        return
    h, w = generator.config.sizes[k]
    c = generator.config.channels
    example = (torch.zeros(1, c, h, w, device=generator.noise_amps.device),) * 2  # (noise, prev)
    generator.scales[k] = prune_filters(g, example, prune.amount, prune.criterion)


def _init_from_coarser(G: SinGANGenerator, D: SinGANDiscriminator, k: int) -> None:
    # As the reference, a scale starts from the coarser one's weights when the shapes match
    # (after pruning the coarser scale they no longer do, and the scale keeps its own init).
    if k == 0:
        return
    for nets in (G.scales, D.scales):
        prev, cur = stored_tensors(nets[k - 1]), nets[k].state_dict()  # masks folded in
        if prev.keys() == cur.keys() and all(prev[n].shape == cur[n].shape for n in cur):
            nets[k].load_state_dict(prev)


def _round_weights(module: torch.nn.Module, dtype: torch.dtype) -> None:
    # Method 4 lowers a scale's precision once it is fine-tuned; finer scales then train on
    # what the lowered scale really produces. Rounding in place keeps the pyramid in float32
    # while training; the whole generator is cast at the end.
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            if t.is_floating_point():
                t.copy_(t.to(dtype).to(t.dtype))


def _with_iterations(train: SinGANTrainConfig, iterations: int) -> SinGANTrainConfig:
    return replace(train, iterations=iterations)
