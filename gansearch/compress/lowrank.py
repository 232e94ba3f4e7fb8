"""Low-rank factorization of convolutions: one k x k convolution becomes two thinner ones.

The survey (seeds/002_*.txt, "Low-rank factorization", and its open areas) lists low-rank
factorization as barely explored for GANs. Following Jaderberg et al. 2014 and Zhang et al.
2016 (channel decomposition), the kernel reshaped into a matrix is cut to rank ``r`` by its SVD,
``W = U S V^T ~ (U_r S_r^1/2)(S_r^1/2 V_r^T)``, the best rank-r approximation in Frobenius norm
(Eckart-Young), and each factor becomes a layer:

- Conv2d(Cin -> Cout, k x k): W as (Cout, Cin k k) -> Conv2d(Cin -> r, k x k, same stride,
  padding, dilation) then Conv2d(r -> Cout, 1 x 1, with the bias);
- ConvTranspose2d(Cin -> Cout, k x k): W is stored (Cin, Cout, k, k), as (Cin, Cout k k) ->
  Conv2d(Cin -> r, 1 x 1) then ConvTranspose2d(r -> Cout, k x k, same stride, padding,
  output_padding, dilation, with the bias). The 1 x 1 mixing of input channels commutes with the
  transposed convolution, which is linear in each input channel.
"""

from __future__ import annotations

import math
import numbers

import torch
from torch import nn

from gansearch.compress._layers import weighted_layers
from gansearch.errors import ConfigError
from gansearch.models.compressed import LowRankConv


def factorize(model: nn.Module, rank_ratio: float) -> nn.Module:
    """Replace every convolution of ``model`` by its rank-``r`` factorization, in place, where
    ``r = max(1, round(rank_ratio * full rank))``. Layers that would not get fewer parameters
    that way, grouped convolutions and already factorized layers are left as they are (so a
    ratio of 1.0 changes nothing). Pruning masks are made permanent first; the factors of a
    sparse kernel are dense. Returns ``model``."""
    if isinstance(rank_ratio, bool) or not isinstance(rank_ratio, numbers.Real) or not 0 < rank_ratio <= 1:
        raise ConfigError(f"factorize: rank_ratio must be in (0, 1] (a fraction of each layer's "
                          f"full rank), got {rank_ratio!r}")
    for name, layer in weighted_layers(model, "factorize"):
        if not isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)) or layer.groups != 1:
            continue
        if name and isinstance(model.get_submodule(name.rpartition(".")[0]), LowRankConv):
            continue
        rank = max(1, round(rank_ratio * full_rank(layer)))
        if factorized_params(layer, rank) < layer.weight.numel():
            parent, _, child = name.rpartition(".")
            setattr(model.get_submodule(parent), child, factorize_conv(layer, rank))
    return model


def full_rank(layer: nn.Conv2d | nn.ConvTranspose2d) -> int:
    """Rank of the layer's kernel as a matrix: min(Cout, Cin k k), or min(Cin, Cout k k)."""
    rows, cols = _matrix_shape(layer)
    return min(rows, cols)


def factorized_params(layer: nn.Conv2d | nn.ConvTranspose2d, rank: int) -> int:
    """Weights of the two factors at ``rank`` (the bias is the same either way)."""
    rows, cols = _matrix_shape(layer)
    return rank * (rows + cols)


def factorize_conv(layer: nn.Conv2d | nn.ConvTranspose2d, rank: int) -> LowRankConv:
    """The two-layer rank-``rank`` factorization of one convolution (groups 1), whatever it
    saves; at full rank it computes the same function up to float rounding."""
    if layer.groups != 1:
        raise ConfigError(f"factorize_conv: grouped convolutions (groups={layer.groups}) are not "
                          "factorized; pass a layer with groups=1")
    if not 1 <= rank <= full_rank(layer):
        raise ConfigError(f"factorize_conv: rank must be in 1..{full_rank(layer)}, got {rank}")
    w = layer.weight.detach()
    rows, cols = _matrix_shape(layer)
    u, s, vh = torch.linalg.svd(w.double().reshape(rows, cols), full_matrices=False)
    root = s[:rank].sqrt()
    left = (u[:, :rank] * root).to(w.dtype)  # (rows, r)
    right = (root[:, None] * vh[:rank]).to(w.dtype)  # (r, cols)
    pair = LowRankConv.like(layer, rank)
    first, second = pair
    # ConvTranspose2d: rows are Cin, cols Cout k k; Conv2d: rows Cout, cols Cin k k.
    first_weight, second_weight = (left.T, right) if isinstance(layer, nn.ConvTranspose2d) else (right, left)
    with torch.no_grad():
        first.weight.copy_(first_weight.reshape(first.weight.shape))
        second.weight.copy_(second_weight.reshape(second.weight.shape))
        if layer.bias is not None:
            second.bias.copy_(layer.bias)
    return pair


def _matrix_shape(layer: nn.Conv2d | nn.ConvTranspose2d) -> tuple[int, int]:
    k = math.prod(layer.kernel_size)
    if isinstance(layer, nn.ConvTranspose2d):
        return layer.in_channels, layer.out_channels * k
    return layer.out_channels, layer.in_channels * k
