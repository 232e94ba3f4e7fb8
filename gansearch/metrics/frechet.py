"""Frechet distances between Gaussians fitted to Inception features: FID for image sets, SIFID
for single images.

FID (Heusel et al. 2017) fits one Gaussian to the pool3 features of each set. SIFID (SinGAN,
Shaham et al. 2019, sec. 4.2; the SIFID of seeds/000_*.txt sec. 4.2) fits one to the early
feature map of a single image, each spatial position a sample, and compares a generated image
with the real one it was trained on.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from gansearch.errors import ConfigError
from gansearch.metrics.batching import batches, image_set, resolve_device
from gansearch.metrics.inception import Inception, inception_features, load_inception


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Squared Frechet distance between N(mu1, sigma1) and N(mu2, sigma2), in float64."""
    # Heusel et al. 2017, eq. 6 (Dowson and Landau 1982):
    # d^2 = |mu1 - mu2|^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ConfigError(f"frechet_distance needs means (d,) and covariances (d, d) of one d; got "
                          f"{mu1.shape}, {sigma1.shape}, {mu2.shape}, {sigma2.shape}")
    _finite("frechet_distance", mu1, sigma1, mu2, sigma2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2))


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """tr sqrt(sigma1 sigma2) of two covariances, by symmetric eigendecompositions: sigma1 sigma2
    is similar to the PSD matrix sqrt(sigma1) sigma2 sqrt(sigma1), so the trace is the sum of the
    square roots of its eigenvalues (no general matrix square root, no complex rounding)."""
    values, vectors = np.linalg.eigh(sigma1)
    root = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    inner = np.linalg.eigvalsh(root @ sigma2 @ root)
    return float(np.sqrt(np.clip(inner, 0, None)).sum())


def frechet_from_features(x: Tensor | np.ndarray, y: Tensor | np.ndarray) -> float:
    """Squared Frechet distance between Gaussians fitted to the features ``x`` (N1, d) and ``y``
    (N2, d), one sample per row.

    When a set has no more samples than dimensions (a sweep judges a trial on a few hundred
    images of 2048 features), tr sqrt(S1 S2) is exactly the sum of the singular values of
    A B^T / sqrt((N1 - 1)(N2 - 1)) for the centred features A and B, an N1 x N2 problem instead
    of a d x d one; otherwise the eigendecomposition route of ``trace_sqrt_product``.
    """
    a, b = (np.asarray(v.cpu() if isinstance(v, Tensor) else v, np.float64) for v in (x, y))
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ConfigError(f"frechet distance: expected features (N, d) of one d with N >= 2, got "
                          f"{a.shape} and {b.shape}")
    _finite("frechet distance", a, b)
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    a, b = a - mu1, b - mu2
    n1, n2 = len(a) - 1, len(b) - 1
    if min(len(a), len(b)) <= a.shape[1]:
        cross = np.linalg.svd(a @ b.T / np.sqrt(n1 * n2), compute_uv=False).sum()
    else:
        cross = trace_sqrt_product(a.T @ a / n1, b.T @ b / n2)
    diff = mu1 - mu2
    return float(diff @ diff + (a * a).sum() / n1 + (b * b).sum() / n2 - 2 * cross)


def _finite(where: str, *arrays: np.ndarray) -> None:
    if not all(np.isfinite(a).all() for a in arrays):
        raise ConfigError(f"{where}: the features are not all finite (NaN or infinite); a diverged "
                          "generator's output cannot be measured")


def feature_statistics(features: Tensor | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (float64) of ``features`` (N, D), one sample per row."""
    x = np.asarray(features.cpu() if isinstance(features, Tensor) else features, np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ConfigError(f"feature statistics need at least 2 samples of shape (N, D), got {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def fid(real: Tensor, fake: Tensor, inception: Inception | None = None, *, batch_size: int = 50,
        device: str | torch.device | None = None) -> float:
    """Frechet Inception Distance between two image sets (N, C, H, W) in [-1, 1].

    ``inception`` defaults to ``load_inception()``. Sets of fewer than 2048 images give a rank-
    deficient covariance and an FID biased upwards: compare FIDs only at equal set sizes.
    """
    net = inception if inception is not None else load_inception()
    return frechet_from_features(*(inception_features(x, net, batch_size=batch_size, device=device)
                                   for x in (real, fake)))


def sifid(real: Tensor, fake: Tensor, inception: Inception | None = None, *, batch_size: int = 8,
          device: str | torch.device | None = None) -> float:
    """Mean Single Image FID of generated images against the real image they imitate.

    ``real`` is one image (C, H, W) / (1, C, H, W) compared with every image of ``fake``, or N
    images paired one to one with the N of ``fake``. Images keep their own size (no resize).
    """
    real, fake = image_set(real, "real"), image_set(fake, "fake")
    if real.shape[0] not in (1, fake.shape[0]):
        raise ConfigError(f"sifid: give one real image or one per fake image; got {real.shape[0]} real "
                          f"and {fake.shape[0]} fake")
    for name, images in (("real", real), ("fake", fake)):
        h, w = (_early_map_side(n) for n in images.shape[-2:])
        if h < 1 or w < 1 or h * w < 2:
            size = "x".join(map(str, images.shape[-2:]))
            raise ConfigError(f"sifid: the {name} images ({size}) are too small for Inception's early "
                              f"feature map; SIFID needs {SIFID_MIN_SIZE[0]}x{SIFID_MIN_SIZE[1]} pixels "
                              "or more, use swd for smaller images")
    net = inception if inception is not None else load_inception()
    device = resolve_device(device, next(net.parameters()).device)
    net = net.eval().to(device)
    real_maps = [_positions(m) for m in _feature_maps(net, real, batch_size, device)]
    # Each map's positions are its samples; a small map has fewer of them than its 192 channels,
    # which frechet_from_features computes exactly.
    distances = [frechet_from_features(real_maps[i if len(real_maps) > 1 else 0], _positions(m))
                 for i, m in enumerate(_feature_maps(net, fake, batch_size, device))]
    return float(np.mean(distances))


def _early_map_side(n: int) -> int:
    # Inception.early_features: 3x3 stride 2, 3x3, 3x3 padded, 3x3 max-pool stride 2, 1x1, 3x3.
    n = (n - 3) // 2 + 1 - 2
    return (n - 3) // 2 + 1 - 2


# The smallest image with the two positions (samples) a covariance needs: one side giving a
# map of one position, the other of two.
SIFID_MIN_SIZE = tuple(next(n for n in range(1, 100) if _early_map_side(n) >= k) for k in (1, 2))


def _feature_maps(net: Inception, images: Tensor, batch_size: int, device: torch.device) -> list[Tensor]:
    with torch.inference_mode():
        return [m.double().cpu() for b in batches(images, batch_size, device) for m in net.early_features(b)]


def _positions(feature_map: Tensor) -> Tensor:
    channels, h, w = feature_map.shape
    return feature_map.reshape(channels, h * w).T  # SinGAN: a sample per position
