"""Frechet distances between Gaussians fitted to Inception features: FID for image sets, SIFID
for single images.

FID (Heusel et al. 2017) fits one Gaussian to the pool3 features of each set. SIFID (SinGAN,
Shaham et al. 2019, sec. 4.2; the SIFID of seeds/000_*.txt sec. 4.2) fits one to the early
feature map of a single image, each spatial position a sample, and compares a generated image
with the real one it was trained on.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
import torch
from torch import Tensor

from gansearch.errors import ConfigError, GansearchError
from gansearch.metrics.batching import batches, image_set, resolve_device
from gansearch.metrics.inception import Inception, inception_features, load_inception

# sqrtm of a near-singular product can come back non-finite; a tiny ridge makes it well-posed.
SINGULAR_EPS = 1e-6
# Imaginary parts this small are rounding noise of sqrtm; larger ones mean broken covariances.
IMAGINARY_TOLERANCE = 1e-3


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
    with warnings.catch_warnings():  # a singular product is expected and handled below
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():
            ridge = np.eye(d) * SINGULAR_EPS
            covmean = scipy.linalg.sqrtm((sigma1 + ridge) @ (sigma2 + ridge))
    if np.iscomplexobj(covmean):
        imaginary = np.abs(covmean.imag).max()
        if imaginary > IMAGINARY_TOLERANCE * max(1.0, np.abs(covmean.real).max()):
            raise GansearchError(f"frechet_distance: sqrt(sigma1 sigma2) has an imaginary part of "
                                 f"{imaginary:.3g}; the covariances are not positive semi-definite "
                                 "(too few samples, or non-finite features)")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


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
    stats = [feature_statistics(inception_features(x, net, batch_size=batch_size, device=device))
             for x in (real, fake)]
    return frechet_distance(*stats[0], *stats[1])


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
                              f"feature map; SIFID needs about 32 pixels a side or more, use swd for "
                              f"smaller images")
    net = inception if inception is not None else load_inception()
    device = resolve_device(device, next(net.parameters()).device)
    net = net.eval().to(device)
    real_stats = [_map_statistics(m) for m in _feature_maps(net, real, batch_size, device)]
    distances = [frechet_distance(*real_stats[i if len(real_stats) > 1 else 0], *_map_statistics(m))
                 for i, m in enumerate(_feature_maps(net, fake, batch_size, device))]
    return float(np.mean(distances))


def _early_map_side(n: int) -> int:
    # Inception.early_features: 3x3 stride 2, 3x3, 3x3 padded, 3x3 max-pool stride 2, 1x1, 3x3.
    n = (n - 3) // 2 + 1 - 2
    return (n - 3) // 2 + 1 - 2


def _feature_maps(net: Inception, images: Tensor, batch_size: int, device: torch.device) -> list[Tensor]:
    with torch.inference_mode():
        return [m.double().cpu() for b in batches(images, batch_size, device) for m in net.early_features(b)]


def _map_statistics(feature_map: Tensor) -> tuple[np.ndarray, np.ndarray]:
    channels, h, w = feature_map.shape
    return feature_statistics(feature_map.reshape(channels, h * w).T)  # SinGAN: a sample per position
