"""State dicts laid out as the reference pix2pix/CycleGAN code and the PyTorch examples' DCGAN
save them, written from the layouts as facts (names, shapes, what each layer does), with an
independent functional forward pass for each, so an import can be checked against the
function the original model computes without running the original code.

Facts (junyanz/pytorch-CycleGAN-and-pix2pix, models/networks.py; pytorch/examples dcgan):
- ResnetGenerator: model.0 reflection pad 3, model.1 conv 7x7 in->ngf, model.2 norm, model.3
  ReLU; two stride-2 3x3 convs (model.4, model.7) with norm and ReLU after each; n_blocks
  blocks at model.10.. each ``conv_block`` = [pad 1, conv 3x3, norm, ReLU, (dropout), pad 1,
  conv 3x3, norm] plus the identity; two stride-2 transposed 3x3 convs (padding 1, output
  padding 1) with norm and ReLU; pad 3, conv 7x7 ngf->out (always with bias), tanh. Convs carry
  a bias only with instance norm (affine=False: no norm tensors); batch norm has weight, bias,
  running_mean, running_var, num_batches_tracked.
- UnetGenerator: nested ``model`` blocks; the outermost is [conv 4x4/2 in->ngf, inner block,
  ReLU, transposed conv 4x4/2 2ngf->out (bias), tanh]; a middle block [LeakyReLU 0.2, conv
  outer->inner, norm, inner block, ReLU, transposed conv 2 inner->outer, norm, (dropout)]; the
  innermost [LeakyReLU 0.2, conv, ReLU, transposed conv inner->outer, norm]; every block but
  the outermost returns cat(input, its output). Widths from the outside: (out, ngf, input in),
  (ngf, 2ngf), (2ngf, 4ngf), (4ngf, 8ngf), then (8ngf, 8ngf) down to the innermost.
- examples DCGAN Generator: ``main`` = [convT nz->8ngf 4/1/0, BN, ReLU, convT 8ngf->4ngf 4/2/1, BN,
  ReLU, convT ->2ngf, BN, ReLU, convT ->ngf, BN, ReLU, convT ngf->nc 4/2/1, tanh], no biases.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

NORM_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def _conv(state, key, shape, bias):
    state[f"{key}.weight"] = torch.randn(shape) * 0.05
    if bias:
        state[f"{key}.bias"] = torch.randn(shape[0]) * 0.05


def _norm(state, key, channels, norm, stale=False):
    if norm == "batch":
        state[f"{key}.weight"] = 1 + 0.1 * torch.randn(channels)
        state[f"{key}.bias"] = 0.1 * torch.randn(channels)
        state[f"{key}.running_mean"] = 0.1 * torch.randn(channels)
        state[f"{key}.running_var"] = 1 + 0.1 * torch.rand(channels)
        state[f"{key}.num_batches_tracked"] = torch.tensor(7)
    elif stale:  # InstanceNorm of PyTorch 0.3 saved running statistics
        state[f"{key}.running_mean"] = torch.zeros(channels)
        state[f"{key}.running_var"] = torch.ones(channels)


# -- ResNet -----------------------------------------------------------------------------------


def resnet_state(n_blocks=9, ngf=64, norm="instance", dropout=False, in_nc=3, out_nc=3, stale=False):
    torch.manual_seed(0)
    bias = norm == "instance"
    s: dict[str, torch.Tensor] = {}
    _conv(s, "model.1", (ngf, in_nc, 7, 7), bias)
    _norm(s, "model.2", ngf, norm, stale)
    _conv(s, "model.4", (2 * ngf, ngf, 3, 3), bias)
    _norm(s, "model.5", 2 * ngf, norm, stale)
    _conv(s, "model.7", (4 * ngf, 2 * ngf, 3, 3), bias)
    _norm(s, "model.8", 4 * ngf, norm, stale)
    c = 4 * ngf
    second = 6 if dropout else 5
    for b in range(n_blocks):
        p = f"model.{10 + b}.conv_block"
        _conv(s, f"{p}.1", (c, c, 3, 3), bias)
        _norm(s, f"{p}.2", c, norm, stale)
        _conv(s, f"{p}.{second}", (c, c, 3, 3), bias)
        _norm(s, f"{p}.{second + 1}", c, norm, stale)
    up = 10 + n_blocks
    s[f"model.{up}.weight"] = torch.randn(c, c // 2, 3, 3) * 0.05  # transposed: (in, out, k, k)
    if bias:
        s[f"model.{up}.bias"] = torch.randn(c // 2) * 0.05
    _norm(s, f"model.{up + 1}", c // 2, norm, stale)
    s[f"model.{up + 3}.weight"] = torch.randn(c // 2, ngf, 3, 3) * 0.05
    if bias:
        s[f"model.{up + 3}.bias"] = torch.randn(ngf) * 0.05
    _norm(s, f"model.{up + 4}", ngf, norm, stale)
    s[f"model.{up + 7}.weight"] = torch.randn(out_nc, ngf, 7, 7) * 0.05
    s[f"model.{up + 7}.bias"] = torch.randn(out_nc) * 0.05
    return s


def _apply_norm(s, key, x, norm):
    if norm == "batch":
        return F.batch_norm(x, s[f"{key}.running_mean"], s[f"{key}.running_var"], s[f"{key}.weight"],
                            s[f"{key}.bias"], training=False, eps=1e-5)
    return F.instance_norm(x, eps=1e-5)


def resnet_forward(s, x, n_blocks, norm, dropout=False):
    """The reference ResNet generator's eval-mode function, from its state dict alone."""
    def conv(key, x, **kw):
        return F.conv2d(x, s[f"{key}.weight"], s.get(f"{key}.bias"), **kw)

    x = F.relu(_apply_norm(s, "model.2", conv("model.1", F.pad(x, (3,) * 4, mode="reflect")), norm))
    x = F.relu(_apply_norm(s, "model.5", conv("model.4", x, stride=2, padding=1), norm))
    x = F.relu(_apply_norm(s, "model.8", conv("model.7", x, stride=2, padding=1), norm))
    second = 6 if dropout else 5
    for b in range(n_blocks):
        p = f"model.{10 + b}.conv_block"
        y = F.relu(_apply_norm(s, f"{p}.2", conv(f"{p}.1", F.pad(x, (1,) * 4, mode="reflect")), norm))
        y = conv(f"{p}.{second}", F.pad(y, (1,) * 4, mode="reflect"))
        y = _apply_norm(s, f"{p}.{second + 1}", y, norm)
        x = x + y
    up = 10 + n_blocks
    for key, nkey in ((f"model.{up}", f"model.{up + 1}"), (f"model.{up + 3}", f"model.{up + 4}")):
        x = F.conv_transpose2d(x, s[f"{key}.weight"], s.get(f"{key}.bias"), stride=2, padding=1,
                               output_padding=1)
        x = F.relu(_apply_norm(s, nkey, x, norm))
    return torch.tanh(conv(f"model.{up + 7}", F.pad(x, (3,) * 4, mode="reflect")))


# -- U-Net ----------------------------------------------------------------------------------------


def _unet_levels(num_downs, ngf, in_nc, out_nc):
    """(outer, inner, input) channels of every level, outermost first."""
    levels = [(out_nc, ngf, in_nc), (ngf, 2 * ngf, ngf), (2 * ngf, 4 * ngf, 2 * ngf),
              (4 * ngf, 8 * ngf, 4 * ngf)]
    levels += [(8 * ngf, 8 * ngf, 8 * ngf)] * (num_downs - 4)
    return levels


def _unet_prefixes(num_downs):
    prefixes, p = [], "model.model"
    for level in range(num_downs):
        prefixes.append(p)
        p = f"{p}.{1 if level == 0 else 3}.model"
    return prefixes


def unet_state(num_downs=8, ngf=64, norm="batch", in_nc=3, out_nc=3, stale=False):
    torch.manual_seed(0)
    bias = norm == "instance"
    s: dict[str, torch.Tensor] = {}
    levels, prefixes = _unet_levels(num_downs, ngf, in_nc, out_nc), _unet_prefixes(num_downs)
    for i, ((outer, inner, inp), p) in enumerate(zip(levels, prefixes, strict=True)):
        if i == 0:
            _conv(s, f"{p}.0", (inner, inp, 4, 4), bias)
            s[f"{p}.3.weight"] = torch.randn(2 * inner, outer, 4, 4) * 0.05
            s[f"{p}.3.bias"] = torch.randn(outer) * 0.05
        elif i == num_downs - 1:
            _conv(s, f"{p}.1", (inner, inp, 4, 4), bias)
            s[f"{p}.3.weight"] = torch.randn(inner, outer, 4, 4) * 0.05
            if bias:
                s[f"{p}.3.bias"] = torch.randn(outer) * 0.05
            _norm(s, f"{p}.4", outer, norm, stale)
        else:
            _conv(s, f"{p}.1", (inner, inp, 4, 4), bias)
            _norm(s, f"{p}.2", inner, norm, stale)
            s[f"{p}.5.weight"] = torch.randn(2 * inner, outer, 4, 4) * 0.05
            if bias:
                s[f"{p}.5.bias"] = torch.randn(outer) * 0.05
            _norm(s, f"{p}.6", outer, norm, stale)
    return s


def unet_forward(s, x, num_downs, norm):
    """The reference U-Net's eval-mode function, from its state dict alone."""
    prefixes = _unet_prefixes(num_downs)

    def level(i, x):
        p = prefixes[i]
        if i == 0:
            y = F.conv2d(x, s[f"{p}.0.weight"], s.get(f"{p}.0.bias"), stride=2, padding=1)
            y = F.relu(level(1, y))
            y = F.conv_transpose2d(y, s[f"{p}.3.weight"], s[f"{p}.3.bias"], stride=2, padding=1)
            return torch.tanh(y)
        y = F.conv2d(F.leaky_relu(x, 0.2), s[f"{p}.1.weight"], s.get(f"{p}.1.bias"), stride=2, padding=1)
        if i == num_downs - 1:
            y = F.conv_transpose2d(F.relu(y), s[f"{p}.3.weight"], s.get(f"{p}.3.bias"), stride=2, padding=1)
            y = _apply_norm(s, f"{p}.4", y, norm)
        else:
            y = level(i + 1, _apply_norm(s, f"{p}.2", y, norm))
            y = F.conv_transpose2d(F.relu(y), s[f"{p}.5.weight"], s.get(f"{p}.5.bias"), stride=2, padding=1)
            y = _apply_norm(s, f"{p}.6", y, norm)
        return torch.cat([x, y], 1)

    return level(0, x)


# -- the examples' DCGAN --------------------------------------------------------------------------


def examples_dcgan_state(nz=100, ngf=64, nc=3):
    torch.manual_seed(0)
    widths = [nz, 8 * ngf, 4 * ngf, 2 * ngf, ngf, nc]
    s: dict[str, torch.Tensor] = {}
    for i, (cin, cout) in enumerate(zip(widths, widths[1:], strict=False)):
        s[f"main.{3 * i}.weight"] = torch.randn(cin, cout, 4, 4) * 0.05
        if i < 4:
            _norm(s, f"main.{3 * i + 1}", cout, "batch")
    return s


def examples_dcgan_forward(s, z):
    x = z.view(z.shape[0], -1, 1, 1)
    for i in range(5):
        first = i == 0
        x = F.conv_transpose2d(x, s[f"main.{3 * i}.weight"], stride=1 if first else 2,
                               padding=0 if first else 1)
        if i < 4:
            x = F.relu(_apply_norm(s, f"main.{3 * i + 1}", x, "batch"))
    return torch.tanh(x)
