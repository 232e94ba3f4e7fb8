"""Quantization-aware training: weights and activations rounded to b bits in the forward pass.

As in GAN Slimming (Wang et al., ECCV 2020, sec. 3.3; seeds/004_*.txt): uniform symmetric
quantization of every convolution's weight (range: its largest magnitude) and of its input
activation, with the straight-through estimator (Bengio et al. 2013) so the rounding passes
gradients unchanged. The model's first layer reads the raw input (image, latent or noise) and is
left unquantized on its input side, as the reference does.

Weights are quantized through a parametrization (``module.weight`` is computed from the
full-precision ``parametrizations.weight.original``, which the optimizer updates); activations
through a forward pre-hook, with the range a running maximum of |x| seen in training (a
generator's activations have no fixed range). :func:`detach_fake_quant` removes both and leaves
the weights on their b-bit grid.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrize

from gansearch.config import check_range

LAYERS = (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)
_RANGE = "act_range"  # the buffer holding an activation's running |x| maximum


def fake_quantize(x: Tensor, bits: int, max_abs: Tensor | float) -> Tensor:
    """Round ``x`` to 2^(bits-1) - 1 levels each side of zero over [-max_abs, max_abs]; values
    outside are clipped. The gradient passes the rounding unchanged (straight-through) and is
    zero where clipped."""
    levels = 2 ** (bits - 1) - 1
    max_abs = torch.as_tensor(max_abs, dtype=x.dtype, device=x.device).clamp_min(1e-8)
    scale = max_abs / levels
    clipped = torch.maximum(torch.minimum(x, max_abs), -max_abs)
    return clipped + (torch.round(clipped / scale) * scale - clipped).detach()


class WeightFakeQuant(nn.Module):
    """Parametrization: the weight on a per-tensor symmetric b-bit grid."""

    def __init__(self, bits: int) -> None:
        super().__init__()
        self.bits = bits

    def forward(self, weight: Tensor) -> Tensor:
        return fake_quantize(weight, self.bits, weight.detach().abs().max())


class ActivationFakeQuant:
    """Forward pre-hook: the layer's input on a b-bit grid over its running range."""

    def __init__(self, bits: int, momentum: float = 0.1) -> None:
        self.bits, self.momentum = bits, momentum

    def __call__(self, module: nn.Module, inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
        x = inputs[0]
        seen = getattr(module, _RANGE)
        if module.training:
            with torch.no_grad():
                current = x.detach().abs().max().to(seen.dtype)
                seen.copy_(current if seen.item() == 0 else
                           (1 - self.momentum) * seen + self.momentum * current)
        return (fake_quantize(x, self.bits, seen), *inputs[1:])


def attach_fake_quant(model: nn.Module, bits: int) -> nn.Module:
    """Quantize the weights and activations of every conv / linear layer of ``model`` to ``bits``
    in its forward pass, in place. Build optimizers after this call (the weights move)."""
    check_range("bits", bits, 2, 16)
    layers = [m for m in model.modules() if isinstance(m, LAYERS)]
    for i, layer in enumerate(layers):
        parametrize.register_parametrization(layer, "weight", WeightFakeQuant(bits))
        if i > 0:  # the first layer reads the raw input
            layer.register_buffer(_RANGE, torch.zeros((), device=layer.weight.device))
            layer.register_forward_pre_hook(ActivationFakeQuant(bits))
    return model


def detach_fake_quant(model: nn.Module) -> nn.Module:
    """Undo :func:`attach_fake_quant` in place; the weights stay quantized (their b-bit values)."""
    for layer in model.modules():
        if parametrize.is_parametrized(layer, "weight") and any(
                isinstance(p, WeightFakeQuant) for p in layer.parametrizations.weight):
            parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
        hooks = layer._forward_pre_hooks
        for key in [k for k, hook in hooks.items() if isinstance(hook, ActivationFakeQuant)]:
            del hooks[key]
            layer._buffers.pop(_RANGE, None)
    return model


def is_fake_quantized(model: nn.Module) -> bool:
    return any(parametrize.is_parametrized(m, "weight") for m in model.modules())
