"""Inception Score: how confidently and how diversely Inception classifies generated images.

Salimans et al. 2016, sec. 4: IS = exp(E_x KL(p(y|x) || p(y))), computed on splits of the set
and averaged. It ignores the real data, so it says little about a generator of photographs
that are not ImageNet classes; prefer FID/KID, and use IS only to compare with papers that print it.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.special import xlogy
from torch import Tensor

from gansearch.errors import ConfigError
from gansearch.metrics.batching import batches, image_set, resolve_device
from gansearch.metrics.inception import Inception, load_inception

SPLITS = 10  # as in Salimans et al.'s code


def inception_score(images: Tensor, inception: Inception | None = None, *, splits: int = SPLITS,
                    batch_size: int = 50, device: str | torch.device | None = None) -> float:
    """IS of images (N, C, H, W) in [-1, 1]; ``inception`` defaults to ``load_inception()``
    (with the FID weights the classifier has the TF graph's 1008 classes, as the original)."""
    images = image_set(images)
    net = inception if inception is not None else load_inception()
    device = resolve_device(device, next(net.parameters()).device)
    net = net.eval().to(device)
    with torch.inference_mode():
        probs = torch.cat([net.class_logits(net(b)).double().softmax(1).cpu()
                           for b in batches(images, batch_size, device)])
    return inception_score_from_probs(probs, splits=splits)


def inception_score_from_probs(probs: Tensor | np.ndarray, *, splits: int = SPLITS) -> float:
    """Mean IS over ``splits`` consecutive parts of class probabilities (N, K), rows summing to 1."""
    p = np.asarray(probs.cpu() if isinstance(probs, Tensor) else probs, np.float64)
    if p.ndim != 2 or (p < 0).any() or not np.allclose(p.sum(1), 1, atol=1e-4):
        raise ConfigError(f"inception_score: expected class probabilities (N, K) with rows summing to 1, "
                          f"got shape {p.shape}")
    if not 1 <= splits <= p.shape[0]:
        raise ConfigError(f"inception_score: splits must be between 1 and the {p.shape[0]} images, "
                          f"got {splits}")
    scores = []
    for part in np.array_split(p, splits):
        marginal = part.mean(0, keepdims=True)
        kl = (xlogy(part, part) - xlogy(part, marginal)).sum(1)  # 0 log 0 = 0
        scores.append(np.exp(kl.mean()))
    return float(np.mean(scores))
