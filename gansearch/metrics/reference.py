"""PSNR and SSIM of images against paired references: the teacher's output for the same input,
or the ground truth of a translation pair.

Images and references are (N, C, H, W) in [-1, 1], so the data range (max - min of the scale)
is 2, not 1 or 255. Both metrics are computed per image and averaged over the set.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from gansearch.errors import ConfigError
from gansearch.metrics.batching import batches, image_set, resolve_device

DATA_RANGE = 2.0  # [-1, 1]
# Wang et al. 2004, sec. III-C: an 11x11 circular-symmetric Gaussian window, sigma 1.5,
# K1 = 0.01 and K2 = 0.03.
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def psnr(images: Tensor, reference: Tensor, *, data_range: float = DATA_RANGE, batch_size: int = 64,
         device: str | torch.device | None = None) -> float:
    """Mean PSNR in dB, 10 log10(data_range^2 / MSE) per image; ``inf`` where an image equals its
    reference (and so for the mean)."""
    images, reference = _paired(images, reference)
    device = resolve_device(device, images.device)
    values = []
    for x, y in zip(batches(images, batch_size, device), batches(reference, batch_size, device), strict=True):
        mse = (x.double() - y.double()).pow(2).flatten(1).mean(1)
        values += [math.inf if m == 0 else 10 * math.log10(data_range**2 / m) for m in mse.tolist()]
    return sum(values) / len(values)


def ssim(images: Tensor, reference: Tensor, *, data_range: float = DATA_RANGE, batch_size: int = 64,
         device: str | torch.device | None = None) -> float:
    """Mean SSIM (Wang et al. 2004, eq. 13) over the window positions inside the image and over
    channels, then over images; 1 for identical images. Matches ``skimage.metrics.
    structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)``."""
    images, reference = _paired(images, reference)
    if min(images.shape[-2:]) < SSIM_WINDOW:
        raise ConfigError(f"ssim: images must be at least {SSIM_WINDOW} pixels a side (the Gaussian window), "
                          f"got {tuple(images.shape[-2:])}")
    device = resolve_device(device, images.device)
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    values = []
    for x, y in zip(batches(images, batch_size, device), batches(reference, batch_size, device), strict=True):
        x, y = x.double(), y.double()
        mu_x, mu_y = _local_mean(x), _local_mean(y)
        var_x = _local_mean(x * x) - mu_x**2
        var_y = _local_mean(y * y) - mu_y**2
        cov = _local_mean(x * y) - mu_x * mu_y
        ssim_map = (2 * mu_x * mu_y + c1) * (2 * cov + c2) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
        values += ssim_map.flatten(1).mean(1).tolist()
    return sum(values) / len(values)


def _local_mean(x: Tensor) -> Tensor:
    """Gaussian-weighted mean at every position where the window fits inside the image."""
    offsets = torch.arange(SSIM_WINDOW, dtype=x.dtype, device=x.device) - SSIM_WINDOW // 2
    g = torch.exp(-(offsets**2) / (2 * SSIM_SIGMA**2))
    g /= g.sum()
    channels = x.shape[1]
    x = F.conv2d(x, g.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)  # separable
    return F.conv2d(x, g.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)


def _paired(images: Tensor, reference: Tensor) -> tuple[Tensor, Tensor]:
    images, reference = image_set(images, "images"), image_set(reference, "reference")
    if images.shape != reference.shape:
        raise ConfigError(f"images and reference must pair one to one with the same shape, got "
                          f"{tuple(images.shape)} and {tuple(reference.shape)}")
    return images, reference
