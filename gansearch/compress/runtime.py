"""Where a generator runs fastest: the runtimes its deployed latency is measured on.

The MACs of a student say how much work it is; what a user waits for depends on what runs it.
``measure_runtimes`` times one model under each runtime on one device and names the fastest:

- ``eager``: the PyTorch module as it is;
- ``channels_last``: the same with weights and inputs in NHWC memory layout, which oneDNN's CPU
  convolutions and tensor-core GPUs prefer;
- ``compile``: ``torch.compile`` (Inductor's generated kernels; compiling takes from seconds to
  minutes, once per model and shape);
- ``onnxruntime``: exported to ONNX and run by ONNX Runtime (its CUDA provider on a GPU).

Each runtime runs the model with BatchNorm folded into the convolution before it
(``fold_batchnorm``) where that is exact: in eval mode a BatchNorm is a per-channel affine map,
so ``conv -> bn`` equals one convolution with scaled weights and a shifted bias. A runtime that
cannot run a model (no ONNX Runtime installed, an operator it lacks) is reported with its
reason, never silently dropped.
"""

from __future__ import annotations

import copy
import importlib.util
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor, fx, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from gansearch.errors import ConfigError, first_line

RUNTIMES = ("eager", "channels_last", "compile", "onnxruntime")
DEFAULT_RUNTIMES = ("eager", "channels_last", "onnxruntime")  # compile only when asked: slow to build
_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


@dataclass(frozen=True)
class RuntimeTimes:
    """Median latency per runtime on one device; ``failed`` says why a runtime could not run."""

    device: str
    latency_ms: dict[str, float]
    failed: dict[str, str] = field(default_factory=dict)
    batchnorm_folded: int = 0

    @property
    def fastest(self) -> str:
        if not self.latency_ms:
            raise ConfigError(f"no runtime could run the model: {self.failed}")
        return min(self.latency_ms, key=self.latency_ms.__getitem__)

    def as_dict(self) -> dict:
        return {"device": self.device, "fastest": self.fastest if self.latency_ms else None,
                "latency_ms": self.latency_ms, "failed": self.failed,
                "batchnorm_folded": self.batchnorm_folded}


def fold_batchnorm(model: nn.Module) -> tuple[nn.Module, int]:
    """An eval-mode copy of ``model`` with every BatchNorm that directly follows a convolution
    folded into it, and how many were folded.

    The model is traced with ``torch.fx``; a pair is folded only where the convolution's output
    feeds nothing but the norm, the convolution runs once, and the norm uses running statistics.
    A model fx cannot trace is returned unchanged (a copy) with 0.
    """
    model = copy.deepcopy(model).eval()
    try:
        traced = fx.symbolic_trace(model)
    except Exception:  # noqa: BLE001 - fx cannot trace every model; it then runs unfolded
        return model, 0
    modules = dict(traced.named_modules())
    calls = {}
    for node in traced.graph.nodes:
        if node.op == "call_module":
            calls[node.target] = calls.get(node.target, 0) + 1
    folded = 0
    for node in list(traced.graph.nodes):
        bn = modules.get(node.target) if node.op == "call_module" else None
        if not isinstance(bn, _BATCH_NORMS) or not bn.track_running_stats or bn.running_mean is None:
            continue
        src = node.args[0]
        conv = modules.get(src.target) if isinstance(src, fx.Node) and src.op == "call_module" else None
        if not isinstance(conv, _CONVS) or len(src.users) != 1 or calls[src.target] != 1:
            continue
        fused = fuse_conv_bn_eval(conv, bn, transpose=isinstance(conv, nn.modules.conv._ConvTransposeNd))
        parent, _, name = src.target.rpartition(".")
        setattr(traced.get_submodule(parent) if parent else traced, name, fused)
        node.replace_all_uses_with(src)
        traced.graph.erase_node(node)
        folded += 1
    traced.graph.lint()
    traced.delete_all_unused_submodules()
    traced.recompile()
    return traced, folded


def prepare(model: nn.Module, example_input: Sequence[Tensor], runtime: str) -> Callable[..., Tensor]:
    """A callable that runs ``model`` (already on its device, eval mode) under ``runtime``."""
    if runtime == "eager":
        return model
    if runtime == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        return lambda *xs: model(*(_channels_last(x) for x in xs))
    if runtime == "compile":
        return torch.compile(model)
    if runtime == "onnxruntime":
        return _onnxruntime(model, example_input)
    raise ConfigError(f"unknown runtime {runtime!r}; known: {', '.join(RUNTIMES)}")


def measure_runtimes(model: nn.Module, example_input: Tensor | Sequence[Tensor], *,
                     runtimes: Sequence[str] = DEFAULT_RUNTIMES, runs: int = 20, warmup: int = 3,
                     fold: bool = True) -> RuntimeTimes:
    """Median latency of ``model`` on ``example_input``'s device under each of ``runtimes``
    (BatchNorm folded first when ``fold``). The runtimes take turns run by run, so a slow spell of
    a shared machine falls on all of them alike."""
    runtimes = check_runtimes(runtimes)
    args = (example_input,) if isinstance(example_input, Tensor) else tuple(example_input)
    device = next((t.device for t in args if isinstance(t, Tensor)), torch.device("cpu"))
    model, folded = fold_batchnorm(model) if fold else (copy.deepcopy(model).eval(), 0)
    ready, failed = {}, {}
    with torch.no_grad():
        for runtime in runtimes:
            try:
                run = prepare(copy.deepcopy(model), args, runtime)
                for _ in range(max(1, warmup)):
                    run(*args)
                ready[runtime] = run
            except Exception as exc:  # noqa: BLE001 - a runtime that fails is reported, not fatal
                failed[runtime] = f"{type(exc).__name__}: {first_line(exc)}"
        times = {r: [] for r in ready}
        for _ in range(runs):
            for runtime, run in ready.items():
                _sync(device)
                start = time.perf_counter()
                run(*args)
                _sync(device)
                times[runtime].append((time.perf_counter() - start) * 1000)
    return RuntimeTimes(str(device), {r: statistics.median(t) for r, t in times.items() if t},
                        failed, folded)


def check_runtimes(runtimes: Sequence[str] | str) -> tuple[str, ...]:
    """The runtimes named (a sequence, or one comma-separated string; ``all``: every one)."""
    names = [r.strip() for r in (runtimes.split(",") if isinstance(runtimes, str) else runtimes)]
    names = list(RUNTIMES) if names == ["all"] else [n for n in names if n]
    unknown = [n for n in names if n not in RUNTIMES]
    if unknown or not names:
        raise ConfigError(f"unknown runtime {unknown[0] if unknown else ''!r}; use some of "
                          f"{', '.join(RUNTIMES)} (comma-separated) or all")
    return tuple(dict.fromkeys(names))


def _channels_last(x):
    return x.contiguous(memory_format=torch.channels_last) if isinstance(x, Tensor) and x.dim() == 4 else x


def _onnxruntime(model: nn.Module, args: Sequence[Tensor]) -> Callable[..., Tensor]:
    if importlib.util.find_spec("onnxruntime") is None:
        raise ConfigError("onnxruntime is not installed (pip install onnxruntime onnx onnxscript)")
    import onnxruntime

    device = next((t.device for t in args if isinstance(t, Tensor)), torch.device("cpu"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, tuple(args), dynamo=True, verbose=False)
    providers = (["CUDAExecutionProvider"] if device.type == "cuda" else []) + ["CPUExecutionProvider"]
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    session = onnxruntime.InferenceSession(program.model_proto.SerializeToString(), options,
                                           providers=providers)
    names = [i.name for i in session.get_inputs()]

    def run(*xs: Tensor) -> Tensor:
        feed = {n: x.detach().cpu().numpy() for n, x in zip(names, xs, strict=False)}
        return torch.from_numpy(session.run(None, feed)[0]).to(device)

    return run


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
