"""Multi-scale sliced Wasserstein distance (SWD) between the patch distributions of two image sets.

Karras et al. 2018 (ProGAN), appendix D: each image is split into a Laplacian pyramid down to
16x16; from every level 128 random 7x7 neighborhoods per image are taken as descriptors, each
set's descriptors are normalized per colour channel (with that set's own mean and standard
deviation, as the reference code does), and the sliced Wasserstein distance between the two
sets' descriptors is estimated with 512 random projections (Rabin et al. 2011). The distance of
each level is multiplied by 1e3; ``swd`` averages the levels.

No pretrained network is involved, so SWD runs offline; it is the default quality metric of
offline sweeps and of the quickstart. The number of levels follows the image size (a 25-pixel
image has one level), and the two sets may differ in size: one real image against many samples
is how SinGAN is judged. Random positions and projections come from ``seed`` alone.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gansearch.errors import ConfigError
from gansearch.metrics.batching import batches, image_set, resolve_device

NEIGHBORHOOD = 7  # descriptor side in pixels
DESCRIPTORS_PER_IMAGE = 128  # per image and level
PROJECTIONS = 512  # random directions, drawn in REPEATS groups to bound memory as the reference does
REPEATS = 4
SMALLEST_LEVEL = 16  # the pyramid stops before a level would be smaller than this
# cv2.pyrDown / pyrUp's 5x5 binomial filter.
_BINOMIAL = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16


def swd(real: Tensor, fake: Tensor, *, seed: int = 0, batch_size: int = 64,
        device: str | torch.device | None = None) -> float:
    """SWD x 1e3 averaged over pyramid levels; images (N, C, H, W) or (C, H, W) in [-1, 1]."""
    return float(np.mean(swd_levels(real, fake, seed=seed, batch_size=batch_size, device=device)))


def swd_levels(real: Tensor, fake: Tensor, *, seed: int = 0, batch_size: int = 64,
               device: str | torch.device | None = None) -> list[float]:
    """SWD x 1e3 per Laplacian-pyramid level, finest first."""
    real, fake = image_set(real, "real"), image_set(fake, "fake")
    if real.shape[1] != fake.shape[1]:
        raise ConfigError(f"swd: real and fake must have the same channels, got {real.shape[1]} and "
                          f"{fake.shape[1]}")
    device = resolve_device(device, real.device)
    levels = pyramid_levels(min(*real.shape[-2:], *fake.shape[-2:]))
    # Both sets give the same number of descriptors (sorted projections are compared pairwise).
    count = DESCRIPTORS_PER_IMAGE * max(real.shape[0], fake.shape[0])
    generator = torch.Generator().manual_seed(seed)  # on the CPU: the same draws on every device
    real_desc = _descriptors(real, levels, count, batch_size, device, generator)
    fake_desc = _descriptors(fake, levels, count, batch_size, device, generator)
    return [1e3 * sliced_wasserstein(_normalized(a), _normalized(b), generator)
            for a, b in zip(real_desc, fake_desc, strict=True)]


def pyramid_levels(side: int) -> int:
    """Levels of the pyramid for images whose shorter side is ``side`` (ProGAN: down to 16)."""
    if side < NEIGHBORHOOD:
        raise ConfigError(f"swd: images must be at least {NEIGHBORHOOD} pixels a side, got {side}")
    levels = 1
    while math.ceil(side / 2) >= SMALLEST_LEVEL:
        side, levels = math.ceil(side / 2), levels + 1
    return levels


def laplacian_pyramid(images: Tensor, levels: int) -> list[Tensor]:
    """Band-pass levels, finest first, and the low-pass remainder last (Burt and Adelson 1983)."""
    pyramid = []
    for _ in range(levels - 1):
        smaller = _pyr_down(images)
        pyramid.append(images - _pyr_up(smaller, images.shape[-2:]))
        images = smaller
    return [*pyramid, images]


def sliced_wasserstein(a: Tensor, b: Tensor, generator: torch.Generator) -> float:
    """Mean over random unit directions of the 1-D Wasserstein-1 distance between the projections
    of descriptor sets ``a`` and ``b`` (K, D) of equal size."""
    distances = []
    for _ in range(REPEATS):
        directions = torch.randn(a.shape[1], PROJECTIONS // REPEATS, generator=generator).to(a.device)
        directions /= directions.norm(dim=0, keepdim=True)
        # In 1-D, optimal transport pairs the sorted samples (sorted along rows: much faster).
        pa, pb = (_sorted_rows(directions.T @ x.T) for x in (a, b))
        distances.append((pa - pb).abs().mean())
    return float(torch.stack(distances).mean())


def _sorted_rows(x: Tensor) -> Tensor:
    # On the CPU numpy's vectorized sort is about ten times torch's; on a GPU torch's is fast.
    if x.device.type == "cpu":
        return torch.from_numpy(np.sort(x.detach().numpy(), axis=1))
    return x.sort(dim=1).values


def _descriptors(images: Tensor, levels: int, count: int, batch_size: int, device: torch.device,
                 generator: torch.Generator) -> list[Tensor]:
    """``count`` random neighborhoods (count, 7, 7, C) per level, spread evenly over the images."""
    n = images.shape[0]
    per_image = math.ceil(count / n)
    radius = NEIGHBORHOOD // 2
    # Positions are drawn for the whole set before batching, so batch_size does not change them.
    positions = []
    for h, w in _level_sizes(images.shape[-2:], levels):
        rows = torch.randint(radius, h - radius, (n, per_image), generator=generator)
        cols = torch.randint(radius, w - radius, (n, per_image), generator=generator)
        positions.append((rows, cols))
    keep = torch.randperm(n * per_image, generator=generator)[:count]
    found: list[list[Tensor]] = [[] for _ in range(levels)]
    start = 0
    for batch in batches(images, batch_size, device):
        stop = start + batch.shape[0]
        for level, (image, (rows, cols)) in enumerate(zip(laplacian_pyramid(batch, levels), positions,
                                                          strict=True)):
            found[level].append(_neighborhoods(image, rows[start:stop].to(device),
                                               cols[start:stop].to(device)))
        start = stop
    return [torch.cat(level)[keep.to(device)] for level in found]


def _neighborhoods(images: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
    """(B * K, 7, 7, C) neighborhoods of (B, C, H, W) ``images`` centred at (B, K) positions."""
    b, k = rows.shape
    offsets = torch.arange(-(NEIGHBORHOOD // 2), NEIGHBORHOOD // 2 + 1, device=images.device)
    ys = (rows[..., None] + offsets)[..., :, None]  # (B, K, 7, 1)
    xs = (cols[..., None] + offsets)[..., None, :]  # (B, K, 1, 7)
    which = torch.arange(b, device=images.device)[:, None, None, None]
    return images.permute(0, 2, 3, 1)[which, ys, xs].reshape(b * k, NEIGHBORHOOD, NEIGHBORHOOD, -1)


def _normalized(descriptors: Tensor) -> Tensor:
    """Flattened descriptors with zero mean and unit deviation per colour channel."""
    mean = descriptors.mean(dim=(0, 1, 2), keepdim=True)
    std = descriptors.std(dim=(0, 1, 2), keepdim=True, correction=0).clamp_min(1e-12)  # flat images
    return ((descriptors - mean) / std).reshape(descriptors.shape[0], -1)


def _level_sizes(size: torch.Size, levels: int) -> list[tuple[int, int]]:
    h, w = size
    sizes = [(h, w)]
    for _ in range(levels - 1):
        h, w = math.ceil(h / 2), math.ceil(w / 2)
        sizes.append((h, w))
    return sizes


def _blur(x: Tensor, gain: float) -> Tensor:
    kernel = (torch.outer(_BINOMIAL, _BINOMIAL) * gain).to(x)
    channels = x.shape[1]
    padded = F.pad(x, (2, 2, 2, 2), mode="reflect")  # scipy's "mirror", as the reference
    return F.conv2d(padded, kernel.expand(channels, 1, 5, 5), groups=channels)


def _pyr_down(x: Tensor) -> Tensor:
    return _blur(x, 1.0)[..., ::2, ::2]


def _pyr_up(x: Tensor, size: torch.Size) -> Tensor:
    b, c, h, w = x.shape
    spread = x.new_zeros(b, c, 2 * h, 2 * w)
    spread[..., ::2, ::2] = x
    return _blur(spread, 4.0)[..., :size[0], :size[1]]  # x4: three of four samples are zeros
