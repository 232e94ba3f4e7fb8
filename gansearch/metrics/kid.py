"""Kernel Inception Distance: an unbiased MMD between Inception features of two image sets.

Binkowski et al. 2018 (Demystifying MMD GANs), sec. 4: the squared MMD with the cubic
polynomial kernel k(x, y) = (x.y / d + 1)^3, estimated without bias on random subsets of both
sets and averaged over the subsets. Unlike FID it is unbiased, so it can be compared across set
sizes, and small sets give usable numbers.
"""

from __future__ import annotations

import torch
from torch import Tensor

from gansearch.errors import ConfigError
from gansearch.metrics.batching import resolve_device
from gansearch.metrics.inception import Inception, inception_features, load_inception


def kid(real: Tensor, fake: Tensor, inception: Inception | None = None, *, subsets: int = 100,
        subset_size: int = 1000, seed: int = 0, batch_size: int = 50,
        device: str | torch.device | None = None) -> float:
    """KID between two image sets (N, C, H, W) in [-1, 1]; ``inception`` defaults to
    ``load_inception()``. The same seed draws the same subsets."""
    net = inception if inception is not None else load_inception()
    device = resolve_device(device, next(net.parameters()).device)
    real_features, fake_features = (inception_features(x, net, batch_size=batch_size, device=device)
                                    for x in (real, fake))
    return kid_from_features(real_features, fake_features, subsets=subsets, subset_size=subset_size,
                             seed=seed, device=device)


def kid_from_features(real: Tensor, fake: Tensor, *, subsets: int = 100, subset_size: int = 1000,
                      seed: int = 0, device: str | torch.device | None = None) -> float:
    """Mean unbiased MMD^2 over ``subsets`` random subsets of ``min(subset_size, N_real, N_fake)``
    features (N, D) drawn without replacement from each set, as the reference code does."""
    if real.dim() != 2 or fake.dim() != 2 or real.shape[1] != fake.shape[1]:
        raise ConfigError(f"kid: expected features (N, D) of one D, got {tuple(real.shape)} and "
                          f"{tuple(fake.shape)}")
    size = min(subset_size, real.shape[0], fake.shape[0])
    if size < 2 or subsets < 1:
        raise ConfigError(f"kid: needs subsets >= 1 and at least 2 samples a set, got subsets={subsets}, "
                          f"{real.shape[0]} real and {fake.shape[0]} fake")
    device = torch.device(device) if device is not None else real.device
    real, fake = real.to(device, torch.float64), fake.to(device, torch.float64)
    generator = torch.Generator().manual_seed(seed)  # on the CPU: the same subsets on every device
    estimates = []
    for _ in range(subsets):
        x = real[torch.randperm(real.shape[0], generator=generator)[:size].to(device)]
        y = fake[torch.randperm(fake.shape[0], generator=generator)[:size].to(device)]
        estimates.append(unbiased_mmd2(x, y))
    return float(torch.stack(estimates).mean())


def polynomial_kernel(x: Tensor, y: Tensor) -> Tensor:
    # Binkowski et al. 2018, sec. 4: k(x, y) = (x.y / d + 1)^3
    return (x @ y.T / x.shape[1] + 1) ** 3


def unbiased_mmd2(x: Tensor, y: Tensor) -> Tensor:
    """Unbiased MMD^2 of two equal-size samples (Gretton et al. 2012, eq. 3): the same-set kernel
    sums leave out the diagonal, k(x_i, x_i)."""
    m = x.shape[0]
    k_xx, k_yy, k_xy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    off_diagonal = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (m * (m - 1))
    return off_diagonal - 2 * k_xy.mean()
