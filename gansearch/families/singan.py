"""SinGAN (Shaham et al. 2019): a pyramid trained on one image, scale by scale.

Training follows the reference implementation (seeds/000_*.txt sec. 4: 2000 iterations per
scale, 3 critic and 3 generator steps per iteration, WGAN-GP, the learning rates x0.1 after 80%
of a scale's iterations): each scale runs the one adversarial loop with the coarser scales
frozen, its critic seeing the training image at that scale, and its generator also
reconstructing that image from fixed noise (weight ``alpha``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gansearch.config import check_range, from_dict
from gansearch.data.images import resize
from gansearch.errors import ConfigError
from gansearch.families.base import Family
from gansearch.models.layers import init_weights
from gansearch.models.singan import (
    ConvBlock,
    SinGANConfig,
    SinGANDiscriminator,
    SinGANGenerator,
    pyramid_sizes,
    upsample,
)
from gansearch.train.adversarial import Batch, LoopConfig, adversarial_train


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
        check_range("train.alpha", self.alpha, 0)
        check_range("train.noise_amp_init", self.noise_amp_init, 0)
        check_range("train.lr_decay_at", self.lr_decay_at, 0, 1)
        check_range("train.min_size", self.min_size, 8)
        check_range("train.scale_factor", self.scale_factor, 0, 1, low_open=True, high_open=True)

    def loop(self) -> LoopConfig:
        return LoopConfig(iterations=self.iterations, lr_g=self.lr_g, lr_d=self.lr_d, beta1=self.beta1,
                          loss="wgan-gp", gp_weight=self.gp_weight, d_steps=self.d_steps,
                          g_steps=self.g_steps, lr_decay_at=self.lr_decay_at)


def build_singan(image: Tensor, params: SinGANTrainConfig, **arch: Any
                 ) -> tuple[SinGANGenerator, SinGANDiscriminator]:
    """An untrained pyramid for ``image`` (1, C, H, W); ``arch`` overrides SinGANConfig fields."""
    cfg = SinGAN().configs(arch, {}, image, params)[0]
    generator, discriminator = SinGANGenerator(cfg), SinGANDiscriminator(cfg)
    init_weights(generator)
    init_weights(discriminator)
    return generator, discriminator


def train_singan(image: Tensor, generator: SinGANGenerator, discriminator: SinGANDiscriminator,
                 params: SinGANTrainConfig, *, callbacks=(), scales: Sequence[int] | None = None,
                 steps: range | None = None) -> list[dict[str, Any]]:
    """Train ``scales`` (all by default) of the pyramid on ``image`` (1, C, H, W) in [-1, 1].

    Each scale k learns with its coarser scales frozen; returns one dict of losses per iteration.
    Without ``scales`` this is a teacher's training from scratch: the reconstruction noise is
    drawn anew and a scale starts from its coarser neighbour's weights where the widths match
    (as the reference). ``steps`` (default: all of ``range(params.iterations)``) runs part of a
    scale's schedule, so that a scale can be pruned between a warm-up and a fine-tune on one
    learning-rate schedule.
    """
    device = generator.noise_amps.device
    image = image.to(device)
    reals = [resize(image, size=s) for s in generator.config.sizes]
    if scales is None:
        generator.z_rec.copy_(torch.randn_like(generator.z_rec))
    history: list[dict[str, Any]] = []
    for k in range(generator.config.num_scales) if scales is None else scales:
        if k > 0 and scales is None and generator.config.filters_at(k) == generator.config.filters_at(k - 1):
            generator.scales[k].load_state_dict(generator.scales[k - 1].state_dict())
            discriminator.scales[k].load_state_dict(discriminator.scales[k - 1].state_dict())
        history += _train_scale(k, reals, generator, discriminator, params, steps, callbacks)
    generator.eval()
    return history


def _train_scale(k: int, reals: list[Tensor], G: SinGANGenerator, D: SinGANDiscriminator,
                 p: SinGANTrainConfig, steps: range | None, callbacks) -> list[dict[str, Any]]:
    real = reals[k]
    for j, frozen in enumerate(G.scales):  # coarser scales frozen, in eval mode
        if j != k:
            frozen.eval()
            frozen.requires_grad_(False)
    with torch.no_grad():
        prev_rec = _coarser(G, k, G.reconstruction_noise(k - 1) if k else None, real)
        G.noise_amps[k] = 1.0 if k == 0 else p.noise_amp_init * F.mse_loss(prev_rec, real).sqrt()
    z_rec = G.z_rec if k == 0 else torch.zeros_like(real)
    objective = _Reconstruction(p.alpha, (G.noise_amps[k] * z_rec, prev_rec), real)
    history = adversarial_train(G.scales[k], D.scales[k], scale_batches(G, k, real, p.d_steps), objective,
                                p.loop(), steps=steps, scale=k, callbacks=callbacks)
    G.scales[k].requires_grad_(False)
    return history


class _Reconstruction:
    """SinGAN's generator loss besides the adversarial one: alpha * ||G_k(rec input) - x_k||^2,
    where the reconstruction input is fixed noise at the coarsest scale and none above."""

    alpha_gan = 1.0

    def __init__(self, alpha: float, inputs: tuple[Tensor, Tensor], real: Tensor) -> None:
        self.alpha, self.inputs, self.real = alpha, inputs, real

    def __call__(self, generator: nn.Module, inputs: Sequence[Tensor], target: Tensor | None):
        rec = F.mse_loss(generator(*self.inputs), self.real)
        return generator(*inputs), None, {"rec": self.alpha * rec}


def scale_batches(G: SinGANGenerator, k: int, real: Tensor, repeat: int = 1,
                  generator: torch.Generator | None = None) -> Iterator[Batch]:
    """Inputs of scale ``k``, as it sees them in training: (amp_k * z_k, the frozen coarser
    scales' upsampled output for fresh noise); the critic's real image is ``real``. The same
    z_k serves ``repeat`` batches in a row (the reference draws it once per iteration and the
    coarser noise anew for each critic step)."""
    while True:
        z = torch.randn(real.shape, generator=generator, device=real.device)
        for _ in range(repeat):
            with torch.no_grad():
                prev = _coarser(G, k, G.noise(1, up_to=k - 1, generator=generator) if k else None, real)
            yield Batch((G.noise_amps[k] * z, prev), real=real)


def _coarser(G: SinGANGenerator, k: int, noises, real: Tensor) -> Tensor:
    """The frozen scales' output for ``noises``, upsampled to scale k (zeros at k = 0)."""
    if k == 0:
        return torch.zeros_like(real)
    return upsample(G(*noises), real.shape[-2:])


class SinGAN(Family):
    name = "singan"
    description = "SinGAN pyramid trained on one image (Shaham et al. 2019)"
    generator_config = SinGANConfig
    discriminator_config = SinGANConfig
    train_config = SinGANTrainConfig
    data_sources = ("image",)
    metrics = ("swd", "sifid")
    keep_on_rebuild = ("noise_amps", "z_rec")  # they belong to the image, not the weights
    inputs = "noise"

    def build_generator(self, config: SinGANConfig) -> SinGANGenerator:
        return SinGANGenerator(config)

    def build_discriminator(self, config: SinGANConfig) -> SinGANDiscriminator:
        return SinGANDiscriminator(config)

    def configs(self, generator, discriminator, data, params):
        if discriminator:
            raise ConfigError("discriminator: SinGAN's discriminators share the generator's config; "
                              "set filters and blocks under generator:")
        sizes = pyramid_sizes(*data.shape[-2:], min_size=params.min_size, max_size=max(data.shape[-2:]),
                              scale_factor=params.scale_factor)
        config = from_dict(SinGANConfig, {"sizes": sizes, "channels": data.shape[1], **generator},
                           "generator")
        return config, config

    def default_discriminator(self, generator, data):
        return SinGANDiscriminator(generator.config)

    def example_input(self, generator, batch=1, size=None):
        return tuple(n.expand(batch, -1, -1, -1) for n in generator.noise(1))

    def fixed_inputs(self, generator, data, n, seed):
        rng = torch.Generator(device=generator.noise_amps.device).manual_seed(seed)
        return generator.noise(n, generator=rng)

    def load(self, data):
        return super().load(data)  # the (1, C, H, W) photograph

    def train(self, generator, discriminator, data, params, *, seed=0, callbacks=(), fresh=True):
        scales = None if fresh else range(generator.config.num_scales)
        return train_singan(data, generator, discriminator, params, callbacks=callbacks, scales=scales)

    def generate(self, generator, data, n, seed):
        gen = torch.Generator(device=generator.noise_amps.device).manual_seed(seed)
        with torch.no_grad():
            fake = generator.eval().sample(n, generator=gen)
        return fake.float().clamp(-1, 1).cpu(), data.float().cpu()

    def sample_grid(self, generator, data, seed=0):
        fake, real = self.generate(generator, data, 7, seed)
        return torch.cat([real, fake]), 4  # the real image first

    def sample_caption(self, data):
        return "first: the real photograph; then 7 random samples"

    def distill_taps(self, generator):
        """For one scale generator: every conv block, L_T between each block's convolution and
        its activation (every SinGAN convolution trims the border, so only those match)."""
        body = getattr(generator, "body", ())
        blocks = [f"body.{i}" for i, m in enumerate(body) if isinstance(m, ConvBlock)]
        if not blocks:
            raise ConfigError("SinGAN distills one scale at a time: pass a scale generator "
                              "(pyramid.scales[k])")
        return tuple(blocks), tuple((f"{b}.0", b) for b in blocks)
