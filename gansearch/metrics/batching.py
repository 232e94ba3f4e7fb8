"""Image sets as the quality metrics take them, and the batches they are measured in.

Images are float tensors in [-1, 1] (the range of the generators' tanh outputs and of
``gansearch.data``), shaped (N, C, H, W), or (C, H, W) for one image, with 1 or 3 channels.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from gansearch.errors import ConfigError

# Generators end in tanh; a little slack lets interpolated or half-precision outputs through.
RANGE_SLACK = 0.01


def image_set(images: Tensor, name: str = "images") -> Tensor:
    """``images`` as a checked (N, C, H, W) float tensor in [-1, 1]."""
    if not isinstance(images, Tensor):
        raise ConfigError(f"{name}: expected a torch.Tensor of images, got {type(images).__name__}")
    if images.dim() == 3:
        images = images[None]
    if images.dim() != 4 or images.shape[1] not in (1, 3) or images.shape[0] == 0:
        raise ConfigError(f"{name}: expected shape (N, C, H, W) or (C, H, W) with C = 1 or 3 and "
                          f"N >= 1, got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise ConfigError(f"{name}: expected float images in [-1, 1], got dtype {images.dtype}; "
                          "convert with x.float() / 127.5 - 1")
    if not torch.isfinite(images).all():
        raise ConfigError(f"{name}: some values are NaN or infinite (a diverged generator?); they cannot be "
                          "measured")
    low, high = images.min().item(), images.max().item()
    if low < -1 - RANGE_SLACK or high > 1 + RANGE_SLACK:
        raise ConfigError(f"{name}: values must lie in [-1, 1] (the generators' tanh range), got "
                          f"[{low:.3g}, {high:.3g}]; rescale (x * 2 - 1 for [0, 1]) or clamp")
    return images


def batches(images: Tensor, batch_size: int, device: torch.device) -> Iterator[Tensor]:
    """Consecutive float32 batches of ``images`` on ``device``."""
    if batch_size < 1:
        raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
    for start in range(0, images.shape[0], batch_size):
        yield images[start:start + batch_size].to(device, torch.float32)


def resolve_device(device: str | torch.device | None, default: torch.device) -> torch.device:
    return default if device is None else torch.device(device)
