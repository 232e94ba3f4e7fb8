"""Latency measured fairly across models that run on one machine."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor


def interleaved_latency(models: dict[str, tuple[Callable[..., Tensor], tuple[Tensor, ...]]], runs: int,
                        warmup: int = 2) -> dict[str, float]:
    """Median forward time in ms of each (model, inputs), the models taking turns run by run, so
    that a slow spell of the machine falls on all of them alike. Each model has its own inputs
    (a float16 model takes half-precision ones); a model is a module or any callable (a model
    prepared for a runtime, ``gansearch.compress.runtime.prepare``)."""
    times: dict[str, list[float]] = {name: [] for name in models}
    cuda = any(x.is_cuda for _, inputs in models.values() for x in inputs)
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    with torch.no_grad():
        for m, inputs in models.values():
            if isinstance(m, torch.nn.Module) and not isinstance(m, torch.fx.GraphModule):
                m.eval()  # an exported graph (torch.export, int8 lowering) has its mode fixed
            for _ in range(warmup):
                m(*inputs)
        for _ in range(max(1, runs)):
            for name, (m, inputs) in models.items():
                sync()
                start = time.perf_counter()
                m(*inputs)
                sync()
                times[name].append((time.perf_counter() - start) * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}
