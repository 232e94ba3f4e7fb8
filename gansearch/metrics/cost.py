"""The cost profiler: what a generator costs, measured on the model that runs.

``profile(model, example_input)`` runs the model and watches every operator it dispatches
(a ``TorchDispatchMode``), so functional convolutions, pruning masks and compacted layers are all
seen as they really execute; nothing is read from a config.

MACs follow the GAN-compression literature (torchprofile's rule, used by GAN Compression and by
Gong et al., seeds/001_*.txt Table 1): a convolution costs
``output elements x input channels per group x kernel elements``, and so does a *transposed*
convolution, i.e. it is counted at its **output** resolution. For a stride-2 transposed
convolution that is 4x the multiply-adds it really performs; it is the convention under which
the CycleGAN / pix2pix ResNet generator reads 56.8G MACs at 256x256. Pass
``transposed_conv="input"`` for the count at input resolution (what ``torch.utils.flop_counter``
and fvcore report; 49.6G for the same model). Matrix products (linear layers) count ``M x N x K``.
Normalization, activations, padding and resizing are not counted, as in most of the literature.
``norm_macs=True`` counts normalization as GAN Compression does (its profiler, torchprofile):
one MAC per output element of an instance, layer or group norm, and none for a batch norm, which
folds into the convolution before it at deployment. On the ResNet-9 teacher at 256x256 that
adds 0.03G to 56.8G (0.06%); the thinner the convolutions, the more the norms weigh: 0.9% on
GAN Compression's mobile ResNet layout at ngf 16 (docs/benchmarks.md, "MAC conventions").

Effective MACs scale each operator by the density (non-zero fraction) of its weight operand:
the work a sparse kernel would do under unstructured sparsity.

Peak activation memory is the input plus the largest total of tensor storages that operators
of the forward pass have created and that are still referenced, tracked exactly as tensors are
created and freed (no allocator rounding, the same on every device). Scratch memory inside a
kernel (cuDNN workspaces, for one) is not a tensor and is not counted.
"""

from __future__ import annotations

import math
import statistics
import time
import weakref
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.utils._python_dispatch import TorchDispatchMode

from gansearch.errors import ConfigError
from gansearch.metrics.storage import storage_bytes

aten = torch.ops.aten
_BATCH_NORMS = (aten.native_batch_norm, aten._native_batch_norm_legit,
                aten._native_batch_norm_legit_no_training)


@dataclass(frozen=True)
class LayerCost:
    name: str  # the module that ran the operator ("" for the model itself)
    op: str  # convolution, conv_transpose, matmul, norm (with norm_macs)
    macs: int
    effective_macs: float
    output_shape: tuple[int, ...]


@dataclass(frozen=True)
class TensorStorage:
    name: str  # state-dict name of the tensor
    encoding: str  # dense, bitmap, coo or huffman (see gansearch.metrics.storage)
    bytes: int
    numel: int
    nonzero: int
    dtype: str


@dataclass(frozen=True)
class Cost:
    """Everything the cost axis of a Pareto front is made of, for one model and one input size."""

    params: int  # parameters (masked weights counted once, at their full shape)
    nonzero_params: int
    macs: int  # per forward pass of example_input (its batch included)
    effective_macs: int  # MACs scaled by weight density
    weight_bytes: int  # parameters and persistent buffers as stored (dtype, sparse encoding)
    peak_activation_bytes: int  # input plus the most tensor bytes alive at once in a forward
    latency_ms: float | None  # median forward time on the model's device; None if not measured
    latency_runs: int
    device: str
    layers: tuple[LayerCost, ...] = ()
    tensors: tuple[TensorStorage, ...] = ()

    @property
    def sparsity(self) -> float:
        return 1.0 - self.nonzero_params / self.params if self.params else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The scalar figures, flat (for MLflow metrics and result tables)."""
        d = asdict(self)
        d.pop("layers")
        d.pop("tensors")
        d["sparsity"] = self.sparsity
        return d

    def summary(self) -> str:
        lat = "-" if self.latency_ms is None else f"{self.latency_ms:.3f} ms ({self.device})"
        rows = [
            ("parameters", f"{self.params:,} ({self.nonzero_params:,} non-zero, "
                           f"{self.sparsity:.1%} sparse)"),
            ("MACs", f"{human(self.macs)} (effective {human(self.effective_macs)})"),
            ("weight storage", human_bytes(self.weight_bytes)),
            ("peak activations", human_bytes(self.peak_activation_bytes)),
            ("latency (median)", lat),
        ]
        return "\n".join(f"{k:<18} {v}" for k, v in rows)


def profile(model: nn.Module, example_input: Tensor | Sequence[Tensor], *,
            latency_runs: int = 20, warmup: int = 3,
            transposed_conv: Literal["output", "input"] = "output", norm_macs: bool = False) -> Cost:
    """Measure ``model`` on ``example_input`` (a tensor, or a tuple of positional inputs).

    The model runs in eval mode under ``torch.no_grad`` (its mode is restored afterwards). Latency
    is the median of ``latency_runs`` timed forward passes after ``warmup`` untimed ones, with CUDA
    synchronized around each; ``latency_runs=0`` skips timing.
    """
    if transposed_conv not in ("output", "input"):
        raise ConfigError(f"transposed_conv must be 'output' or 'input', got {transposed_conv!r}")
    args = (example_input,) if isinstance(example_input, Tensor) else tuple(example_input)
    device = next((t.device for t in args if isinstance(t, Tensor)), torch.device("cpu"))
    tensors = stored_tensors(model)
    storages = [TensorStorage(name, *storage_bytes(t), t.numel(), _nonzero(t), str(t.dtype))
                for name, t in tensors.items()]
    params = {name: t for name, t in _effective_parameters(model)}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            watcher = _Watcher(model, args, transposed_conv, norm_macs)
            with watcher, _module_names(model, watcher.stack):
                model(*args)
            latencies = _time(model, args, latency_runs, warmup, device)
    finally:
        model.train(was_training)
    return Cost(
        params=sum(t.numel() for t in params.values()),
        nonzero_params=sum(_nonzero(t) for t in params.values()),
        macs=sum(layer.macs for layer in watcher.layers),
        effective_macs=round(sum(layer.effective_macs for layer in watcher.layers)),
        weight_bytes=sum(s.bytes for s in storages),
        peak_activation_bytes=watcher.peak,
        latency_ms=statistics.median(latencies) if latencies else None,
        latency_runs=len(latencies),
        device=str(device),
        layers=tuple(watcher.layers),
        tensors=tuple(storages),
    )


def stored_tensors(model: nn.Module) -> dict[str, Tensor]:
    """The tensors a deployed copy of ``model`` stores: parameters and persistent buffers, with
    pruning masks (``torch.nn.utils.prune``'s ``X_orig`` and ``X_mask``) folded into ``X``."""
    out: dict[str, Tensor] = dict(_effective_parameters(model))
    for mod_name, module in model.named_modules():
        masked = _masked_names(module)
        for name, buf in module._buffers.items():
            if buf is None or name in module._non_persistent_buffers_set:
                continue
            if name.endswith("_mask") and name[: -len("_mask")] in masked:
                continue
            out[_join(mod_name, name)] = buf.detach()
    return out


def _effective_parameters(model: nn.Module):
    for mod_name, module in model.named_modules():
        masked = _masked_names(module)
        for name, p in module._parameters.items():
            if p is None:
                continue
            if name.endswith("_orig") and name[: -len("_orig")] in masked:
                name = name[: -len("_orig")]
                p = getattr(module, name)
            yield _join(mod_name, name), p.detach()


def _masked_names(module: nn.Module) -> set[str]:
    return {n[: -len("_orig")] for n in module._parameters
            if n.endswith("_orig") and n[: -len("_orig")] + "_mask" in module._buffers}


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _nonzero(t: Tensor) -> int:
    return int(torch.count_nonzero(t.int_repr() if t.is_quantized else t))


class _Watcher(TorchDispatchMode):
    """Counts MACs per operator and tracks the bytes of live tensors the forward creates."""

    def __init__(self, model: nn.Module, args: tuple[Any, ...], transposed_conv: str,
                 norm_macs: bool = False) -> None:
        super().__init__()
        self.transposed_conv = transposed_conv
        self.norm_macs = norm_macs
        self.modules = dict(model.named_modules())
        self.stack: list[str] = [""]
        self.layers: list[LayerCost] = []
        # Storages not created by the forward: weights, buffers, inputs.
        self.external = {_storage_key(t) for t in [*model.parameters(), *model.buffers()]}
        inputs = [a for a in args if isinstance(a, Tensor)]
        self.external |= {_storage_key(t) for t in inputs}
        self.base = sum(t.untyped_storage().nbytes() for t in
                        {_storage_key(t): t for t in inputs}.values())
        self.live: dict[int, int] = {}  # storage key -> bytes
        self.refs: dict[int, int] = {}  # storage key -> Python tensors alive that use it
        self.current = 0
        self.peak = self.base

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        self._count(func, args, kwargs or {}, out)
        for t in _tensors(out):
            self._track(t)
        return out

    def _count(self, func, args, kwargs, out) -> None:
        packet = func.overloadpacket
        if packet is aten.convolution:
            x, w = args[0], args[1]
            transposed, groups = args[6], args[8]
            kernel = math.prod(w.shape[2:])
            if transposed:  # weight is (in, out / groups, *k)
                per_group_in = w.shape[0] // groups
                if self.transposed_conv == "output":
                    macs = out.numel() * per_group_in * kernel
                else:
                    macs = x.numel() * w.shape[1] * kernel
                op = "conv_transpose"
            else:  # weight is (out, in / groups, *k)
                macs, op = out.numel() * w.shape[1] * kernel, "convolution"
            weight = w
        elif packet in (aten.mm, aten.addmm, aten.bmm, aten.baddbmm):
            a, b = (args[1], args[2]) if packet in (aten.addmm, aten.baddbmm) else (args[0], args[1])
            macs, op, weight = out.numel() * a.shape[-1], "matmul", b
        elif self.norm_macs and self._counted_norm(packet):
            out = next(_tensors(out))  # (normalized, mean, inverse std)
            macs, op, weight = out.numel(), "norm", None
        else:
            return
        density = _nonzero(weight) / weight.numel() if weight is not None and weight.numel() else 1.0
        self.layers.append(LayerCost(self.stack[-1], op, int(macs), macs * density,
                                     tuple(out.shape)))

    def _counted_norm(self, packet) -> bool:
        """Layer and group norms always; the batch-norm kernel only where an instance norm runs
        it (InstanceNorm is computed as a batch norm over a reshaped input)."""
        if packet in (aten.native_layer_norm, aten.native_group_norm):
            return True
        return (packet in _BATCH_NORMS and
                isinstance(self.modules.get(self.stack[-1]), nn.modules.instancenorm._InstanceNorm))

    def _track(self, t: Tensor) -> None:
        key = _storage_key(t)
        if key in self.external:
            return
        if key not in self.live:
            self.live[key] = t.untyped_storage().nbytes()
            self.refs[key] = 0
            self.current += self.live[key]
            self.peak = max(self.peak, self.base + self.current)
        self.refs[key] += 1
        weakref.finalize(t, self._release, key)

    def _release(self, key: int) -> None:
        self.refs[key] -= 1
        if self.refs[key] == 0:
            self.current -= self.live.pop(key)
            del self.refs[key]


class _module_names:
    """Keeps the name of the innermost running module on ``stack`` (for per-layer costs)."""

    def __init__(self, model: nn.Module, stack: list[str]) -> None:
        self.model, self.stack, self.handles = model, stack, []

    def __enter__(self):
        def enter(name: str):
            return lambda module, args: self.stack.append(name)  # returns None: input kept

        def leave(module, args, output) -> None:  # must return None, or it replaces the output
            self.stack.pop()

        for name, module in self.model.named_modules():
            self.handles.append(module.register_forward_pre_hook(enter(name)))
            self.handles.append(module.register_forward_hook(leave))
        return self

    def __exit__(self, *exc):
        for h in self.handles:
            h.remove()


def _storage_key(t: Tensor) -> int:
    return t.untyped_storage().data_ptr()


def _tensors(out: Any):
    if isinstance(out, Tensor):
        yield out
    elif isinstance(out, (tuple, list)):
        for o in out:
            yield from _tensors(o)


def _time(model: nn.Module, args: tuple[Any, ...], runs: int, warmup: int,
          device: torch.device) -> list[float]:
    if runs <= 0:
        return []
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        model(*args)
    times = []
    for _ in range(runs):
        sync()
        start = time.perf_counter()
        model(*args)
        sync()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def human(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:.0f}"


def human_bytes(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n:.0f} B"
