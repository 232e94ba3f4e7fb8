"""What every GAN training loop shares: its state, callbacks, losses and the device.

Compression techniques that act during training (Re-GAN's prune-and-regrow, pruning masks kept
through fine-tuning) plug into any loop as callbacks; a loop calls ``on_train_begin``,
``on_step_end`` after every optimizer step of an iteration, and ``on_train_end``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gansearch.config import check_device
from gansearch.errors import ConfigError, GansearchError


@dataclass
class TrainState:
    generator: nn.Module  # the module being trained now (for SinGAN: the current scale's G)
    discriminator: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    total_steps: int
    step: int = 0  # iterations done (1-based inside on_step_end)
    scale: int | None = None  # SinGAN: the scale being trained
    losses: dict[str, float] = field(default_factory=dict)  # the last iteration's losses


class Callback(Protocol):
    def on_train_begin(self, state: TrainState) -> None: ...
    def on_step_end(self, state: TrainState) -> None: ...
    def on_train_end(self, state: TrainState) -> None: ...


class DivergedError(GansearchError):
    """A loss became NaN or infinite; the run cannot produce a usable model."""


def fire(callbacks, event: str, state: TrainState) -> None:
    for cb in callbacks:
        method = getattr(cb, event, None)
        if method is not None:
            method(state)


def record(state: TrainState, history: list[dict[str, Any]], **losses: Tensor) -> None:
    """Store one iteration's losses; stop the run if any of them is not finite."""
    state.losses = {k: float(v.detach()) for k, v in losses.items()}
    bad = [k for k, v in state.losses.items() if not math.isfinite(v)]
    if bad:
        where = f" at scale {state.scale}" if state.scale is not None else ""
        raise DivergedError(f"training diverged{where}, step {state.step}: {', '.join(bad)} "
                            "is not finite; lower the learning rate or check the data")
    history.append({"step": state.step, **({"scale": state.scale} if state.scale is not None
                                             else {}), **state.losses})


class ProgressBar:
    """A tqdm bar over the iterations of a run (hidden when stderr is not a terminal)."""

    def __init__(self, desc: str = "train", total: int | None = None) -> None:
        self.desc, self.total, self.bar = desc, total, None

    def on_train_begin(self, state: TrainState) -> None:
        from tqdm.auto import tqdm

        if self.bar is None:
            self.bar = tqdm(total=self.total or state.total_steps, desc=self.desc, disable=None,
                            dynamic_ncols=True)

    def on_step_end(self, state: TrainState) -> None:
        self.bar.update(1)
        shown = {k: f"{v:.3g}" for k, v in state.losses.items()}
        if state.scale is not None:
            shown = {"scale": state.scale, **shown}
        self.bar.set_postfix(shown, refresh=False)

    def on_train_end(self, state: TrainState) -> None:
        if self.total is None or self.bar.n >= self.total:
            self.bar.close()


def resolve_device(name: str) -> torch.device:
    """The torch device for ``name`` (auto, cpu, cuda, cuda:N), refused unless this machine has it."""
    check_device("device", name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not count:
            raise ConfigError(f"device {name!r} asked for, but CUDA is not available here; "
                              "use device: cpu or auto")
        if (device.index or 0) >= count:
            raise ConfigError(f"device {name!r} asked for, but this machine has {count} CUDA "
                              f"device(s): use cuda:0 .. cuda:{count - 1}")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {name!r} asked for, but MPS is not available here; use cpu or auto")
    return device


def gradient_penalty(critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E[(||grad D(x^)||_2 - 1)^2] on random interpolates."""
    eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def gan_loss(logits: Tensor, real: bool, kind: str = "vanilla") -> Tensor:
    """Non-saturating BCE on logits (``vanilla``) or least squares (``lsgan``, Mao et al. 2017)."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    if kind == "lsgan":
        return F.mse_loss(logits, target)
    return F.binary_cross_entropy_with_logits(logits, target)


def batches_forever(data, batch_size: int, seed: int):
    """Shuffled batches, epoch after epoch, in an order fixed by ``seed``."""
    from torch.utils.data import DataLoader

    loader = DataLoader(data, batch_size=min(batch_size, len(data)), shuffle=True, drop_last=True,
                        generator=torch.Generator().manual_seed(seed))
    while True:
        yield from loader
