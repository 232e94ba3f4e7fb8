"""Training a SinGAN pyramid on one image, scale by scale, earlier scales frozen.

Defaults are the reference implementation's (Shaham et al. 2019; seeds/000_*.txt sec. 4:
2000 iterations per scale, 3 generator and 3 discriminator steps per iteration).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from gansearch.config import check_range, from_dict
from gansearch.data.images import resize
from gansearch.models.layers import init_weights
from gansearch.models.singan import (
    SinGANConfig,
    SinGANDiscriminator,
    SinGANGenerator,
    pyramid_sizes,
    upsample,
)
from gansearch.train.loop import TrainState, fire, gradient_penalty, record


@dataclass(frozen=True)
class SinGANTrainConfig:
    iterations: int = 2000  # per scale
    lr_g: float = 5e-4
    lr_d: float = 5e-4
    beta1: float = 0.5
    g_steps: int = 3
    d_steps: int = 3
    alpha: float = 10.0  # weight of the reconstruction loss
    gp_weight: float = 0.1  # weight of the WGAN-GP gradient penalty
    noise_amp_init: float = 0.1  # amp_k = noise_amp_init * RMSE(upsampled reconstruction, x_k)
    lr_decay_at: float = 0.8  # lr x0.1 after this fraction of a scale's iterations (1600/2000)
    min_size: int = 25  # short side of the coarsest scale
    scale_factor: float = 0.75  # between consecutive scales (seeds/000 sec. 4)

    def __post_init__(self) -> None:
        check_range("train.iterations", self.iterations, 1)
        check_range("train.lr_g", self.lr_g, 0, low_open=True)
        check_range("train.lr_d", self.lr_d, 0, low_open=True)
        check_range("train.g_steps", self.g_steps, 1)
        check_range("train.d_steps", self.d_steps, 1)
        check_range("train.lr_decay_at", self.lr_decay_at, 0, 1)
        check_range("train.min_size", self.min_size, 8)
        check_range("train.scale_factor", self.scale_factor, 0, 1, low_open=True, high_open=True)


def build_singan(image: Tensor, params: SinGANTrainConfig, **arch: Any
                 ) -> tuple[SinGANGenerator, SinGANDiscriminator]:
    """An untrained pyramid for ``image`` (1, C, H, W); ``arch`` overrides SinGANConfig fields."""
    sizes = pyramid_sizes(*image.shape[-2:], min_size=params.min_size,
                          max_size=max(image.shape[-2:]), scale_factor=params.scale_factor)
    cfg = from_dict(SinGANConfig, {"sizes": sizes, "channels": image.shape[1], **arch}, "generator")
    generator, discriminator = SinGANGenerator(cfg), SinGANDiscriminator(cfg)
    init_weights(generator)
    init_weights(discriminator)
    return generator, discriminator


def train_singan(image: Tensor, generator: SinGANGenerator, discriminator: SinGANDiscriminator,
                 params: SinGANTrainConfig, *, callbacks=(), scales: Sequence[int] | None = None,
                 steps: range | None = None) -> list[dict[str, Any]]:
    """Train ``scales`` (all by default) of the pyramid on ``image`` (1, C, H, W) in [-1, 1].

    Each scale k learns with its coarser scales frozen; returns one dict of losses per iteration.
    ``steps`` (all of ``range(params.iterations)`` by default) runs part of a scale's schedule,
    so that a scale can be pruned between a warm-up and a fine-tune on one learning-rate schedule.
    """
    steps = range(params.iterations) if steps is None else steps
    device = generator.noise_amps.device
    image = image.to(device)
    reals = [resize(image, size=s) for s in generator.config.sizes]
    if scales is None:
        generator.z_rec.copy_(torch.randn_like(generator.z_rec))
    history: list[dict[str, Any]] = []
    for k in range(generator.config.num_scales) if scales is None else scales:
        if k > 0 and generator.config.filters_at(k) == generator.config.filters_at(k - 1) \
                and scales is None:
            # Start from the coarser scale's weights when the widths match (as the reference).
            generator.scales[k].load_state_dict(generator.scales[k - 1].state_dict())
            discriminator.scales[k].load_state_dict(discriminator.scales[k - 1].state_dict())
        _train_scale(k, reals, generator, discriminator, params, steps, callbacks, history)
    generator.eval()
    return history


def _train_scale(k, reals, G: SinGANGenerator, D: SinGANDiscriminator, p: SinGANTrainConfig,
                 steps: range, callbacks, history) -> None:
    real = reals[k]
    g, d = G.scales[k], D.scales[k]
    for net in (g, d):
        net.train()
        net.requires_grad_(True)
    for j, frozen in enumerate(G.scales):  # coarser scales frozen, in eval mode
        if j != k:
            frozen.eval()
            frozen.requires_grad_(False)
    milestone = max(1, int(p.lr_decay_at * p.iterations))
    decay = 0.1 if steps.start >= milestone else 1.0  # a run resumed past the milestone
    opt_g = torch.optim.Adam(g.parameters(), lr=p.lr_g * decay, betas=(p.beta1, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=p.lr_d * decay, betas=(p.beta1, 0.999))

    with torch.no_grad():
        prev_rec = _coarser(G, k, G.reconstruction_noise(k - 1) if k else None, real)
        G.noise_amps[k] = 1.0 if k == 0 else p.noise_amp_init * F.mse_loss(prev_rec, real).sqrt()
    amp = G.noise_amps[k]
    z_rec = G.z_rec if k == 0 else torch.zeros_like(real)

    state = TrainState(g, d, opt_g, opt_d, p.iterations, step=steps.start, scale=k)
    fire(callbacks, "on_train_begin", state)
    for it in steps:
        if it == milestone and it > steps.start:
            # x0.1 after the milestone, multiplied in (not set) so that a callback's own lr
            # changes (Re-GAN's x0.1 while grown) compose with it.
            for opt in (opt_g, opt_d):
                for group in opt.param_groups:
                    group["lr"] *= 0.1
        z = torch.randn_like(real)
        for _ in range(p.d_steps):
            with torch.no_grad():
                prev = _coarser(G, k, G.noise(1, up_to=k - 1) if k else None, real)
                fake = g(amp * z, prev)
            loss_real, loss_fake = -d(real).mean(), d(fake).mean()
            gp = gradient_penalty(d, real, fake)
            opt_d.zero_grad(set_to_none=True)
            (loss_real + loss_fake + p.gp_weight * gp).backward()
            opt_d.step()
        for _ in range(p.g_steps):
            adv = -d(g(amp * z, prev)).mean()
            rec = F.mse_loss(g(amp * z_rec, prev_rec), real)
            opt_g.zero_grad(set_to_none=True)
            (adv + p.alpha * rec).backward()
            opt_g.step()
        state.step = it + 1
        record(state, history, d_wasserstein=-(loss_real + loss_fake), gp=gp, g_adv=adv, rec=rec)
        fire(callbacks, "on_step_end", state)
    fire(callbacks, "on_train_end", state)
    g.eval()
    g.requires_grad_(False)


def _coarser(G: SinGANGenerator, k: int, noises, real: Tensor) -> Tensor:
    """The frozen scales' output for ``noises``, upsampled to scale k (zeros at k = 0)."""
    if k == 0:
        return torch.zeros_like(real)
    return upsample(G(*noises), real.shape[-2:])
