"""int8 activations and weights on PyTorch's own int8 kernels (static post-training quantization).

``quantize_int8`` (``precision``) stores weights as int8 and computes in floating point: it
saves memory, not time. Here the whole convolution runs in int8, as the survey's "lowering
numeric precision" (seeds/002_*.txt, eq. 9) intends for deployment: weights quantized per output
channel, activations per tensor with ranges calibrated on example inputs, through torchao's
PT2E flow (``torch.export`` -> ``prepare_pt2e`` with the X86 quantizer -> calibration ->
``convert_pt2e``), then lowered to oneDNN's int8 convolutions. Layers the quantizer has no int8
form for (transposed convolutions, instance norms) stay in floating point between quantized
ones. The result is an exported graph module: it runs, saves with ``torch.export`` and exports
to ONNX, but it is no longer the model's own class and cannot be trained further, so it comes
last, at deployment.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

from gansearch.errors import ConfigError, GansearchError, ResourceMissingError, first_line


def quantize_static(model: nn.Module, calibration: Iterable[Tensor | Sequence[Tensor]], *,
                    example_input: Tensor | Sequence[Tensor] | None = None,
                    reduce_range: bool | None = None, lower: bool = True) -> nn.Module:
    """An int8 copy of ``model`` (CPU), calibrated on the inputs in ``calibration``.

    ``calibration`` yields the model's positional inputs (a tensor or a tuple), a few batches
    like those it will see. The int8 kernels are specialized to the shapes of ``example_input``
    (default: the first calibration batch), so give the shape it will run at (batch 1, say).
    ``reduce_range`` quantizes activations to 7 bits, which avoids overflow in the int8
    kernels of CPUs without VNNI instructions (the default there). ``lower=False`` keeps the
    reference form (quantize / de-quantize around floating-point operators, any batch size),
    which computes what the int8 kernels compute, slowly. The input model is untouched.
    """
    pt2e = _torchao()
    batches = [(b,) if isinstance(b, Tensor) else tuple(b) for b in calibration]
    if not batches:
        raise ConfigError("quantize_static needs at least one calibration batch of inputs")
    if any(t.device.type != "cpu" for b in batches for t in b if isinstance(t, Tensor)):
        raise ConfigError("quantize_static makes a CPU int8 model; give CPU calibration inputs")
    if reduce_range is None:
        reduce_range = not getattr(torch.cpu, "_is_vnni_supported", lambda: False)()
    model = copy.deepcopy(model).cpu().eval()
    with torch.no_grad():
        batch_dim = tuple({0: torch.export.Dim.DYNAMIC} if isinstance(t, Tensor) and t.dim() else None
                          for t in batches[0])  # any batch size, as the model took
        graph = torch.export.export(model, batches[0], dynamic_shapes=batch_dim).module()
        quantizer = pt2e.X86InductorQuantizer().set_global(
            pt2e.get_default_x86_inductor_quantization_config(reduce_range=reduce_range))
        prepared = pt2e.prepare_pt2e(graph, quantizer)
        for batch in batches:
            prepared(*batch)
        quantized = pt2e.convert_pt2e(prepared)
        if not lower:
            return quantized
        example = batches[0] if example_input is None else (
            (example_input,) if isinstance(example_input, Tensor) else tuple(example_input))
        try:
            lowered = pt2e.lower_pt2e_quantized_to_x86(quantized, example)
            lowered(*example)
        except RuntimeError as exc:
            raise GansearchError(f"the int8 CPU kernels cannot run this model ({first_line(exc)}); "
                                 f"use lower=False and run the result through ONNX Runtime "
                                 f"(gansearch.compress.runtime), or weight-only quantize_int8") from exc
        return lowered


class _PT2E:
    """The torchao entry points, imported on first use (torchao is an optional dependency)."""

    def __init__(self) -> None:
        quantize = importlib.import_module("torchao.quantization.pt2e.quantize_pt2e")
        x86 = importlib.import_module("torchao.quantization.pt2e.quantizer.x86_inductor_quantizer")
        lowering = importlib.import_module("torchao.quantization.pt2e.lowering")
        self.prepare_pt2e, self.convert_pt2e = quantize.prepare_pt2e, quantize.convert_pt2e
        self.X86InductorQuantizer = x86.X86InductorQuantizer
        self.get_default_x86_inductor_quantization_config = x86.get_default_x86_inductor_quantization_config
        self.lower_pt2e_quantized_to_x86 = lowering.lower_pt2e_quantized_to_x86


def _torchao() -> _PT2E:
    try:
        return _PT2E()
    except ImportError as exc:
        raise ResourceMissingError(f"static int8 needs torchao ({exc}); install it with "
                                   f"pip install 'gansearch[int8]' or pip install torchao") from exc
