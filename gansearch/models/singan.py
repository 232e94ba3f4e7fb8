"""SinGAN: a pyramid of fully convolutional (G_i, D_i) pairs trained on one image.

Shaham et al., ICCV 2019, as used by the SinGAN compression paper (seeds/000_*.txt sec. 2.1,
eq. 1 and sec. 4: 5 conv blocks, 32 filters doubled every 4th scale, scale factor 0.75).

Scales are indexed here from the coarsest (0) to the finest (N-1); the paper counts the other
way (x_N coarsest, x_0 finest). Each generator learns the residual that its scale adds to the
upsampled output of the coarser one:  x~_k = G_k(amp_k * z_k + up(x~_{k-1})) + up(x~_{k-1}).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gansearch.config import check_range
from gansearch.errors import ConfigError


@dataclass(frozen=True)
class SinGANConfig:
    sizes: tuple[tuple[int, int], ...]  # (height, width) of every scale, coarsest first
    channels: int = 3  # image channels
    filters: int = 32  # filters at the coarsest scale (SinGAN method 1 prunes this to 4/12/16)
    max_filters: int = 128  # cap after doubling, as in the reference code
    double_every: int = 4  # filters double every 4th scale (seeds/000 sec. 4)
    num_blocks: int = 5  # conv blocks per G and D: head, num_blocks - 2 body blocks, tail
    kernel_size: int = 3

    def __post_init__(self) -> None:
        if not self.sizes:
            raise ConfigError("SinGANConfig.sizes needs at least one scale")
        object.__setattr__(self, "sizes", tuple(tuple(int(v) for v in s) for s in self.sizes))
        check_range("singan.filters", self.filters, 1)
        check_range("singan.num_blocks", self.num_blocks, 2)
        check_range("singan.double_every", self.double_every, 1)
        if self.kernel_size % 2 != 1:
            raise ConfigError(f"singan.kernel_size must be odd, got {self.kernel_size}")

    @property
    def num_scales(self) -> int:
        return len(self.sizes)

    def filters_at(self, scale: int) -> int:
        """Filters of scale ``scale``: doubled every ``double_every`` scales, capped."""
        return min(self.filters * 2 ** (scale // self.double_every), self.max_filters)


def pyramid_sizes(height: int, width: int, *, min_size: int = 25, max_size: int = 250,
                  scale_factor: float = 0.75) -> tuple[tuple[int, int], ...]:
    """Sizes of the scales of a SinGAN pyramid for an image of ``height`` x ``width``.

    As the reference implementation does: the finest scale fits in ``max_size``, the number of
    scales is the one that brings the short side down to ``min_size`` with factor
    ``scale_factor``, and the factor is then adjusted so the coarsest scale is exactly
    ``min_size`` on its short side.
    """
    check_range("min_size", min_size, 1)
    check_range("scale_factor", scale_factor, 0, 1, low_open=True, high_open=True)
    fit = min(1.0, max_size / max(height, width))
    h, w = round(height * fit), round(width * fit)
    short = min(h, w)
    if short <= min_size:
        return ((h, w),)
    steps = math.ceil(math.log(min_size / short, scale_factor))
    factor = (min_size / short) ** (1.0 / steps)
    return tuple(
        (max(1, round(h * factor ** (steps - k))), max(1, round(w * factor ** (steps - k))))
        for k in range(steps + 1)
    )


class ConvBlock(nn.Sequential):
    """Conv - BatchNorm - LeakyReLU(0.2), no padding: each block trims the border by k // 2."""

    def __init__(self, cin: int, cout: int, kernel_size: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, kernel_size),
            nn.BatchNorm2d(cout),
            nn.LeakyReLU(0.2),
        )


def _conv_stack(cfg: SinGANConfig, scale: int, out_channels: int) -> nn.Sequential:
    nfc = cfg.filters_at(scale)
    blocks = [ConvBlock(cfg.channels, nfc, cfg.kernel_size)]
    blocks += [ConvBlock(nfc, nfc, cfg.kernel_size) for _ in range(cfg.num_blocks - 2)]
    blocks.append(nn.Conv2d(nfc, out_channels, cfg.kernel_size))
    return nn.Sequential(*blocks)


class ScaleGenerator(nn.Module):
    """G_k: maps noise plus the upsampled coarser image to that image plus a residual."""

    def __init__(self, cfg: SinGANConfig, scale: int) -> None:
        super().__init__()
        self.config = cfg  # the pyramid's (a scale is distilled and pruned on its own)
        # The stack shrinks the map by num_blocks * (k - 1) pixels; zero-pad the input by half
        # of that so the output has the size of the scale (the reference pads noise and image).
        self.pad = cfg.num_blocks * (cfg.kernel_size // 2)
        self.body = _conv_stack(cfg, scale, cfg.channels)
        self.body.append(nn.Tanh())

    def forward(self, noise: Tensor, prev: Tensor) -> Tensor:
        x = F.pad(noise + prev, (self.pad,) * 4)
        return self.body(x) + prev


class ScaleDiscriminator(nn.Module):
    """D_k: a Markovian (patch) critic with the same body as G_k and one output channel."""

    def __init__(self, cfg: SinGANConfig, scale: int) -> None:
        super().__init__()
        self.body = _conv_stack(cfg, scale, 1)

    def forward(self, image: Tensor) -> Tensor:
        return self.body(image)


class SinGANGenerator(nn.Module):
    """The pyramid of scale generators; ``forward(*noises)`` generates from one noise map per scale.

    The spatial size of each scale comes from its noise map, so larger or differently shaped
    noise generates images of another size, as SinGAN allows.
    """

    def __init__(self, cfg: SinGANConfig) -> None:
        super().__init__()
        self.config = cfg
        self.scales = nn.ModuleList(ScaleGenerator(cfg, k) for k in range(cfg.num_scales))
        # Per-scale noise amplitude: 1 at the coarsest scale, set during training elsewhere.
        self.register_buffer("noise_amps", torch.ones(cfg.num_scales))
        # Fixed noise of the coarsest scale for the reconstruction path (z_opt in the paper).
        h, w = cfg.sizes[0]
        self.register_buffer("z_rec", torch.zeros(1, cfg.channels, h, w))

    def forward(self, *noises: Tensor) -> Tensor:
        if not 1 <= len(noises) <= len(self.scales):
            raise ConfigError(f"expected 1..{len(self.scales)} noise maps, got {len(noises)}")
        out = torch.zeros_like(noises[0])
        for k, z in enumerate(noises):
            prev = out if k == 0 else upsample(out, z.shape[-2:])
            out = self.scales[k](self.noise_amps[k] * z, prev)
        return out

    def noise(self, n: int = 1, *, up_to: int | None = None, generator: torch.Generator | None = None,
              size_factor: tuple[float, float] = (1.0, 1.0)) -> tuple[Tensor, ...]:
        """Standard normal noise for scales ``0..up_to`` (all by default)."""
        last = len(self.scales) - 1 if up_to is None else up_to
        device = self.noise_amps.device
        return tuple(
            torch.randn(n, self.config.channels, round(h * size_factor[0]), round(w * size_factor[1]),
                        generator=generator, device=device).to(self.noise_amps.dtype)
            for h, w in self.config.sizes[: last + 1]
        )

    @torch.no_grad()
    def sample(self, n: int = 1, *, up_to: int | None = None,
               generator: torch.Generator | None = None) -> Tensor:
        """``n`` random images at scale ``up_to`` (the finest by default), in [-1, 1]-ish."""
        return self(*self.noise(n, up_to=up_to, generator=generator))

    def reconstruction_noise(self, up_to: int | None = None) -> tuple[Tensor, ...]:
        """The noise that reconstructs the training image: z_rec at the coarsest, zeros above."""
        last = len(self.scales) - 1 if up_to is None else up_to
        zeros = [self.z_rec.new_zeros(1, self.config.channels, h, w)
                 for h, w in self.config.sizes[1: last + 1]]
        return (self.z_rec, *zeros)


class SinGANDiscriminator(nn.Module):
    """The discriminators of every scale; each is used only while its scale trains."""

    def __init__(self, cfg: SinGANConfig) -> None:
        super().__init__()
        self.config = cfg
        self.scales = nn.ModuleList(ScaleDiscriminator(cfg, k) for k in range(cfg.num_scales))

    def forward(self, image: Tensor, scale: int = -1) -> Tensor:
        return self.scales[scale](image)


def upsample(image: Tensor, size: Sequence[int]) -> Tensor:
    """Bicubic resize to ``size`` (the reference resizes between scales with bicubic imresize)."""
    return F.interpolate(image, size=tuple(size), mode="bicubic", align_corners=False)
