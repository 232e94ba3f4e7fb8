"""k-means weight sharing: each layer's weights take one of 2**bits shared values.

Deep Compression (Han et al., ICLR 2016) sec. 3: the weights of a layer are clustered by k-means
(minimizing the within-cluster sum of squares, eq. 1) with centroids initialized linearly over
[min, max] (sec. 3.2: it keeps the rare large weights, which matter most), and every weight is
replaced by its centroid. Zeros left by pruning are not clustered and stay zero, so sparsity is
kept. The weights stay floating tensors holding at most 2**bits non-zero values; the profiler
stores such a tensor as a codebook plus a Huffman code (``gansearch.metrics.storage``, Deep
Compression sec. 4), which is where the saving shows up.
"""

from __future__ import annotations

import numbers

import torch
from torch import Tensor, nn

from gansearch.compress._layers import weighted_layers
from gansearch.errors import ConfigError

MAX_BITS = 8  # 256 shared values: beyond that, int8 quantization is as small and simpler


def share_weights(model: nn.Module, bits: int, *, iterations: int = 30) -> nn.Module:
    """Replace the weights of every Conv2d, ConvTranspose2d and Linear layer by the nearest of
    ``2**bits`` per-layer k-means centroids, in place (biases and norm layers keep theirs: they
    are few). Pruning masks are made permanent first. Deterministic. Returns ``model``."""
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or not 1 <= bits <= MAX_BITS:
        raise ConfigError(f"share_weights: bits must be an integer in 1..{MAX_BITS} "
                          f"(2 to {2**MAX_BITS} shared values a layer), got {bits!r}")
    if isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral) or iterations < 1:
        raise ConfigError(f"share_weights: iterations must be a positive integer, got {iterations!r}")
    for _, layer in weighted_layers(model, "share_weights"):
        with torch.no_grad():
            flat = layer.weight.view(-1)
            nonzero = flat != 0
            if nonzero.any():
                centroids, assignment = kmeans_1d(flat[nonzero].float(), 2**bits, iterations)
                flat[nonzero] = centroids[assignment].to(flat.dtype)
    return model


def kmeans_1d(values: Tensor, k: int, iterations: int) -> tuple[Tensor, Tensor]:
    """Lloyd's k-means of a 1-D tensor: ``(centroids, index of each value's centroid)``.

    Centroids start evenly spaced over [min, max] (Deep Compression sec. 3.2) and stay sorted,
    so the nearest one is found by binary search among the midpoints between them. A centroid
    left without values keeps its place. Stops when no value changes cluster.
    """
    centroids = torch.linspace(float(values.min()), float(values.max()), k,
                               dtype=values.dtype, device=values.device)
    assignment = _nearest(values, centroids)
    for _ in range(iterations):
        counts = torch.bincount(assignment, minlength=k)
        sums = torch.zeros(k, dtype=values.dtype, device=values.device).index_add_(0, assignment, values)
        centroids = torch.where(counts > 0, sums / counts.clamp_min(1), centroids).sort().values
        updated = _nearest(values, centroids)
        if torch.equal(updated, assignment):
            break
        assignment = updated
    return centroids, assignment


def _nearest(values: Tensor, sorted_centroids: Tensor) -> Tensor:
    midpoints = (sorted_centroids[1:] + sorted_centroids[:-1]) / 2
    return torch.bucketize(values, midpoints)
