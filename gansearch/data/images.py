"""Single images: scikit-image's bundled photographs and textures, or any image file.

Images come back as float tensors of shape (C, H, W) in [-1, 1], the range the generators'
tanh outputs live in.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gansearch.errors import ConfigError, ResourceMissingError

# Photographs and textures that ship inside the scikit-image wheel (no download needed).
BUNDLED_IMAGES: tuple[str, ...] = (
    "astronaut", "brick", "camera", "cat", "chelsea", "coffee", "coins", "colorwheel", "grass",
    "gravel", "hubble_deep_field", "immunohistochemistry", "moon", "motorcycle_left",
    "motorcycle_right", "rocket",
)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def load_image(source: str | Path, *, channels: int = 3, max_size: int | None = None) -> Tensor:
    """Load a bundled image by name (see ``BUNDLED_IMAGES``) or an image file by path.

    ``max_size`` shrinks the image (antialiased) so its long side is at most that many pixels.
    """
    array = _bundled(str(source)) if str(source) in BUNDLED_IMAGES else _read_file(Path(source))
    image = to_tensor(array, channels)
    if max_size is not None and max(image.shape[-2:]) > max_size:
        image = resize(image, max_size / max(image.shape[-2:]))
    return image


def to_tensor(array: np.ndarray, channels: int) -> Tensor:
    """uint8/float/bool array (H, W[, C]) -> float tensor (channels, H, W) in [-1, 1]."""
    a = np.asarray(array)
    if a.dtype == np.uint8:
        a = a.astype(np.float32) / 255.0
    a = a.astype(np.float32)
    if a.ndim == 2:
        a = a[..., None]
    a = a[..., :3]  # drop alpha
    t = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)
    if channels == 1 and t.shape[0] == 3:
        t = (0.299 * t[0] + 0.587 * t[1] + 0.114 * t[2])[None]  # ITU-R 601 luma
    elif channels == 3 and t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    elif t.shape[0] != channels:
        raise ConfigError(f"cannot convert a {t.shape[0]}-channel image to {channels} channels")
    return (t * 2 - 1).contiguous()


def resize(image: Tensor, factor: float | None = None, size: tuple[int, int] | None = None) -> Tensor:
    """Antialiased bicubic resize of a (C, H, W) or (B, C, H, W) image, clamped to [-1, 1]."""
    batched = image.dim() == 4
    x = image if batched else image[None]
    if size is None:
        size = (max(1, round(x.shape[-2] * factor)), max(1, round(x.shape[-1] * factor)))
    x = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True).clamp(-1, 1)
    return x if batched else x[0]


def _bundled(name: str) -> np.ndarray:
    import skimage.data

    if name.startswith("motorcycle_"):  # the two views of scikit-image's stereo pair
        left, right, _ = skimage.data.stereo_motorcycle()
        return left if name == "motorcycle_left" else right
    return getattr(skimage.data, name)()


def _read_file(path: Path) -> np.ndarray:
    if not path.is_file():
        raise ResourceMissingError(
            f"{path}: no such image file; give a file path or one of the bundled images "
            f"({', '.join(BUNDLED_IMAGES)})"
        )
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError) as exc:
        raise ConfigError(f"{path}: not a readable image ({exc})") from None
