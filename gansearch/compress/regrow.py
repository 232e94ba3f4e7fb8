"""Re-GAN: prune and regrow connections during training (Saxena et al., CVPR 2023, seeds/003_*.txt).

A training-loop callback (``gansearch.train.loop.Callback``) that runs Algorithm 1 of the paper
inside any of our loops: dense warm-up, then phases of ``update_interval`` (g) iterations that
alternate between

- **sparse**: every prunable layer of the chosen network(s) loses its ``sparsity`` (rho) fraction
  of smallest-magnitude weights (unstructured, the same ratio in every layer), through the masks of
  ``gansearch.compress.unstructured``, which keep pruned weights at zero through optimizer steps;
- **grown**: every mask goes back to one, the regrown weights start at exactly zero, and the
  learning rate of the chosen network(s) is x0.1 until the next sparse phase.

At the end of a run it hands back the dense network and its sparse counterpart (the dense one
pruned at rho per layer, masks made permanent), the training FLOPs actually spent against dense
training of the same length (measured with ``gansearch.profile`` at every phase), and the
stability measure of the paper (sec. 4.5: MSE between samples of fixed latent codes at
consecutive checkpoints). A SinGAN loop calls the callback once per scale; every scale is a run
of its own, with its own result.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gansearch.compress.unstructured import make_permanent, prunable_layers, prune_unstructured
from gansearch.config import check_choice, check_range
from gansearch.errors import ConfigError, GansearchError
from gansearch.metrics.cost import profile
from gansearch.train.loop import TrainState

NETWORKS = ("G", "D", "both")
PhaseKind = Literal["warmup", "sparse", "grown"]
Probe = Callable[[TrainState], tuple[Tensor, ...]]

# Optimizer state that remembers a weight's past direction (Adam's first moment, SGD's momentum).
# It is cleared for regrown weights; second moments (a scale estimate) are kept: see _regrow.
FIRST_MOMENTS = ("exp_avg", "momentum_buffer")
FLOPS_PER_MAC = 2
TRAIN_PASS_COST = 3  # forward + backward ~ 3 forwards (backward: gradients of inputs and weights)


@dataclass(frozen=True)
class ReganConfig:
    """The knobs of Re-GAN; defaults are the paper's."""

    sparsity: float = 0.1  # rho; sec. 3.3: 10% in all experiments but StyleGAN2 on FFHQ (30%)
    update_interval: int = 100  # g, iterations per phase; sec. 4.5: g = 100 works well on G only
    network: Literal["G", "D", "both"] = "G"  # sec. 1 and 4.5: pruning G only works best
    # Dense iterations before the first pruning; None: 20% of the run. Algorithm 1 leaves the
    # warm-up length open (Delta_W); the authors' examples warm up for 20-25% of the run.
    warmup: int | None = None
    grow_lr_factor: float = 0.1  # sec. 3.3 and 4.1: lr x0.1 while grown

    def __post_init__(self) -> None:
        check_range("regan.sparsity", self.sparsity, 0, 1, low_open=True, high_open=True)
        check_range("regan.update_interval", self.update_interval, 1)
        check_choice("regan.network", self.network, NETWORKS)
        if self.warmup is not None:
            check_range("regan.warmup", self.warmup, 0)
        check_range("regan.grow_lr_factor", self.grow_lr_factor, 0, 1, low_open=True)

    def warmup_for(self, total_steps: int) -> int:
        return round(0.2 * total_steps) if self.warmup is None else self.warmup


def phase_at(step: int, warmup: int, update_interval: int) -> PhaseKind:
    """The phase of the iteration that comes after ``step`` iterations are done.

    Saxena et al., Re-GAN, Algorithm 1 and sec. 3.3: warm-up first, then the update interval g
    is "the number of training iterations between the pruning and growing phase and vice
    versa", starting with pruning.
    """
    if step < warmup:
        return "warmup"
    return "sparse" if (step - warmup) // update_interval % 2 == 0 else "grown"


@dataclass(frozen=True)
class Phase:
    """One phase of a run, as it happened."""

    kind: PhaseKind
    start: int  # iterations done when it began
    end: int  # iterations done when it ended
    lr_factor: float  # on the pruned networks' learning rate
    density: dict[str, float]  # "G" / "D": non-zero fraction of the prunable weights, at its end
    effective_macs: dict[str, float]  # "G" / "D": one forward pass, per sample, at its end
    dense_macs: dict[str, int]  # the same with every weight counted
    training_flops: float  # spent in this phase, per training sample

    @property
    def iterations(self) -> int:
        return self.end - self.start


@dataclass
class ReganResult:
    """What one run (one DCGAN training, one SinGAN scale) hands back."""

    scale: int | None
    dense: dict[str, nn.Module]  # the pruned network(s) as trained, every connection back
    sparse: dict[str, nn.Module]  # the same pruned at rho per layer, masks made permanent
    phases: list[Phase] = field(default_factory=list)
    stability: list[dict[str, float]] = field(default_factory=list)

    @property
    def training_flops(self) -> float:
        """FLOPs spent training G and D, per training sample (see ``ReganCallback``)."""
        return sum(p.training_flops for p in self.phases)

    @property
    def dense_training_flops(self) -> float:
        """What dense training of the same length costs, on the same terms."""
        return sum(_training_flops(p.dense_macs, p.iterations) for p in self.phases)

    @property
    def flops_ratio(self) -> float:
        dense = self.dense_training_flops
        return self.training_flops / dense if dense else 1.0


class ReganCallback:
    """Re-GAN (Saxena et al., Algorithm 1) as a callback of any gansearch training loop.

    ``probe(state)`` gives the fixed generator inputs (latent codes) of a run: the stability
    samples come from them, and the profiler measures G on them and D on G's output. By default
    ``latent_probe()`` (for generators with ``config.latent_dim``, as DCGAN's); SinGAN scales take
    ``singan_probe(pyramid)``. ``stability_every`` iterations (0: never) the samples are compared
    with the previous ones (MSE) and logged to ``self.stability`` and the run's result.

    Training FLOPs: every iteration costs 3x the effective MACs of one forward pass of G and of D
    (2 FLOPs a MAC), measured with ``gansearch.profile`` on the actual networks at the end of each
    phase (within a sparse phase the density is fixed; a grown phase is dense as soon as its
    regrown weights have moved from zero). They are per training sample and per forward/backward
    of each network: a run's total is this times the batch size times the passes the loop makes
    in an iteration, the same factor for dense training, so the ratio holds.

    After each run the networks are left plain (no masks) with their learning rate restored,
    and ``self.results`` has one more :class:`ReganResult`.
    """

    def __init__(self, config: ReganConfig, *, probe: Probe | None = None,
                 stability_every: int = 100) -> None:
        check_range("regan stability_every", stability_every, 0)
        self.config = config
        self.probe = probe or latent_probe()
        self.stability_every = stability_every
        self.results: list[ReganResult] = []
        self.stability: list[dict[str, float]] = []  # every run's, in order
        self.phase: PhaseKind | None = None  # the current phase

    # -- the Callback protocol ----------------------------------------------------------------
    def on_train_begin(self, state: TrainState) -> None:
        # Everything per run is reset here: a SinGAN loop calls this once per scale.
        self._warmup = self.config.warmup_for(state.total_steps)
        self._nets = _chosen(state, self.config.network)
        self._inputs = tuple(t.detach() for t in self.probe(state))
        self._result = ReganResult(state.scale, {}, {})
        self._saved_lr: list[tuple[dict, float, float]] = []
        self._last_sample = self._sample(state)
        self.phase, self._phase_start = None, state.step
        self._enter(phase_at(state.step, self._warmup, self.config.update_interval), state)

    def on_step_end(self, state: TrainState) -> None:
        if self.stability_every and state.step % self.stability_every == 0:
            self._log_stability(state)
        kind = phase_at(state.step, self._warmup, self.config.update_interval)
        if kind != self.phase:
            self._close(state)
            self._leave()
            self._enter(kind, state)

    def on_train_end(self, state: TrainState) -> None:
        self._close(state)
        if self.phase == "sparse" and state.step == self._phase_start:
            # The run ended where a sparse phase begins: no iteration trained with that pruning,
            # so it is undone and the trained weights come out whole.
            for _, net, _ in self._nets:
                _unprune(net)
        self._leave()  # plain networks, learning rates as they were
        for name, net, _ in self._nets:
            self._result.dense[name] = copy.deepcopy(net)
            sparse = prune_unstructured(copy.deepcopy(net), self.config.sparsity, scope="layer")
            self._result.sparse[name] = make_permanent(sparse)
        self.results.append(self._result)
        self.phase = None

    @property
    def result(self) -> ReganResult:
        """The last finished run's result."""
        if not self.results:
            raise GansearchError("no Re-GAN run has finished yet; pass the callback to a training loop")
        return self.results[-1]

    # -- phases -------------------------------------------------------------------------------
    def _enter(self, kind: PhaseKind, state: TrainState) -> None:
        if kind == "sparse":  # Algorithm 1: theta <- top-k(theta, k); m <- 1[theta != 0]
            for _, net, _ in self._nets:
                prune_unstructured(net, self.config.sparsity, scope="layer")
        elif kind == "grown":  # Algorithm 1: alpha <- 0.1 alpha; m <- 1 (masks lifted by _leave)
            self._scale_lr(self.config.grow_lr_factor)
        self.phase, self._phase_start = kind, state.step

    def _leave(self) -> None:
        for _, net, opt in self._nets:
            _regrow(net, opt)  # out of a sparse phase; a no-op on a plain network
        for group, before, set_to in self._saved_lr:
            # Back to the lr before the drop, unless the loop changed it meanwhile (SinGAN's own
            # decay): then undo only our factor.
            group["lr"] = before if group["lr"] == set_to else group["lr"] / self.config.grow_lr_factor
        self._saved_lr = []

    def _scale_lr(self, factor: float) -> None:
        for _, _, opt in self._nets:
            for group in opt.param_groups:
                before = group["lr"]
                group["lr"] = before * factor
                self._saved_lr.append((group, before, group["lr"]))

    def _close(self, state: TrainState) -> None:
        """Record the phase that ends now, its cost measured on the networks as they are."""
        if state.step == self._phase_start:
            return  # no iteration ran in it
        density, effective, dense = {}, {}, {}
        batch = self._inputs[0].shape[0]
        fake = self._sample(state)
        for name, net, inputs in (("G", state.generator, self._inputs),
                                  ("D", state.discriminator, (fake,))):
            cost = profile(net, inputs, latency_runs=0)
            effective[name] = cost.effective_macs / batch
            dense[name] = round(cost.macs / batch)
            density[name] = _density(net)
        lr_factor = self.config.grow_lr_factor if self.phase == "grown" else 1.0
        iterations = state.step - self._phase_start
        self._result.phases.append(Phase(self.phase, self._phase_start, state.step, lr_factor,
                                         density, effective, dense,
                                         _training_flops(effective, iterations)))

    # -- stability ----------------------------------------------------------------------------
    def _sample(self, state: TrainState) -> Tensor:
        net = state.generator
        was_training = net.training
        net.eval()  # no BatchNorm statistics updated by a measurement
        try:
            with torch.no_grad():
                return net(*self._inputs).detach().clone()
        finally:
            net.train(was_training)

    def _log_stability(self, state: TrainState) -> None:
        """Saxena et al., Re-GAN sec. 4.5 (after Miyato et al.): MSE between samples of the same
        latent codes at consecutive checkpoints."""
        sample = self._sample(state)
        entry = {"step": state.step, "mse": float(F.mse_loss(sample, self._last_sample))}
        if state.scale is not None:
            entry["scale"] = state.scale
        self._last_sample = sample
        self._result.stability.append(entry)
        self.stability.append(entry)


def latent_probe(n: int = 16, seed: int = 0) -> Probe:
    """Fixed latent codes (n, latent_dim) for generators with ``config.latent_dim`` (DCGAN)."""
    check_range("probe n", n, 1)

    def probe(state: TrainState) -> tuple[Tensor, ...]:
        latent_dim = getattr(getattr(state.generator, "config", None), "latent_dim", None)
        if latent_dim is None:
            raise ConfigError(f"{type(state.generator).__name__} has no config.latent_dim; pass "
                              "ReganCallback(probe=...) giving its fixed inputs")
        device = next(state.generator.parameters()).device
        z = torch.randn(n, latent_dim, generator=torch.Generator().manual_seed(seed))
        return (z.to(device),)

    return probe


def singan_probe(pyramid: nn.Module, n: int = 1, seed: int = 0) -> Probe:
    """Fixed inputs of the scale being trained in a SinGAN ``pyramid`` (a SinGANGenerator):
    fixed noise at that scale and the coarser scales' output for fixed noise, upsampled."""
    from gansearch.models.singan import upsample

    check_range("probe n", n, 1)

    def probe(state: TrainState) -> tuple[Tensor, ...]:
        k = state.scale
        if k is None:
            raise ConfigError("singan_probe needs a SinGAN loop (state.scale is None); "
                              "use latent_probe() for image-set loops")
        rng = torch.Generator(device=pyramid.noise_amps.device).manual_seed(seed)
        noise = pyramid.noise(n, up_to=k, generator=rng)
        with torch.no_grad():
            prev = upsample(pyramid(*noise[:k]), noise[k].shape[-2:]) if k else torch.zeros_like(noise[k])
        return pyramid.noise_amps[k] * noise[k], prev

    return probe


def _chosen(state: TrainState, network: str) -> list[tuple[str, nn.Module, torch.optim.Optimizer]]:
    nets = [("G", state.generator, state.opt_g), ("D", state.discriminator, state.opt_d)]
    return [net for net in nets if network in (net[0], "both")]


def _regrow(net: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Lift every mask of ``net``; the weights it held come back at exactly zero.

    ``make_permanent`` keeps each weight's Parameter object (the optimizer's state stays
    attached), and writes the masked weights into it, so a regrown weight is 0 (Saxena et al.,
    Re-GAN sec. 3.3: "initialized weights with 0"). Its first moment is cleared too: it still
    holds the direction the weight moved in before it was pruned (decayed, not gone, with
    Adam's beta1 = 0.5 and a short g), which would push the weight off zero on the first step
    by a gradient it no longer has. The second moment is kept: it only scales steps, and
    zeroing it would make the first step of every regrown weight about
    (1 - beta1) / sqrt(1 - beta2) = 16x the learning rate, whatever its gradient.
    """
    masked = [(m.weight_orig, m.weight_mask == 0) for _, m in prunable_layers(net)
              if hasattr(m, "weight_mask") and hasattr(m, "weight_orig")]
    make_permanent(net)
    for param, regrown in masked:
        for key in FIRST_MOMENTS:
            buf = optimizer.state.get(param, {}).get(key)
            if isinstance(buf, Tensor) and buf.shape == param.shape:
                buf.masked_fill_(regrown, 0)


def _unprune(net: nn.Module) -> None:
    """Lift every mask of ``net`` and keep the weights under it as they are."""
    for _, m in prunable_layers(net):
        if hasattr(m, "weight_mask"):
            m.weight_mask.fill_(1)
    make_permanent(net)


def _density(net: nn.Module) -> float:
    weights = [m.weight_orig * m.weight_mask if hasattr(m, "weight_mask") else m.weight
               for _, m in prunable_layers(net)]
    total = sum(w.numel() for w in weights)
    return sum(int(torch.count_nonzero(w)) for w in weights) / total if total else 1.0


def _training_flops(forward_macs: dict[str, float], iterations: int) -> float:
    return FLOPS_PER_MAC * TRAIN_PASS_COST * sum(forward_macs.values()) * iterations
