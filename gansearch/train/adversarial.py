"""The one adversarial training loop: teachers, fine-tuning and distillation all run it.

What differs between a DCGAN, a pix2pix translator, a SinGAN scale or a distilled student is
carried by two things the loop is given:

- the batches, each a :class:`Batch`: the generator's inputs, a ground truth if the data is
  paired, what the discriminator calls real, and the condition a conditional discriminator sees
  (pix2pix's source image); the family of the generator makes them;
- the objective, called as ``objective(generator, inputs, target) -> (output, teacher_output,
  terms)``: :class:`PlainLoss` is a family's own training objective (adversarial loss plus,
  for paired data, the reconstruction to the ground truth), ``KDLoss`` in
  ``gansearch.compress.distill`` distills from a teacher (Gong et al. eq. 8), and a family may
  add its own (SinGAN's reconstruction of the training image). ``terms`` are added to
  ``objective.alpha_gan`` times the adversarial loss.

Each iteration takes ``d_steps`` discriminator steps, each on a fresh batch, then ``g_steps``
generator steps on the last one (SinGAN takes 3 and 3; the others 1 and 1). Losses are
non-saturating BCE (``vanilla``), least squares (``lsgan``) or WGAN-GP.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn

from gansearch.config import check_choice, check_range
from gansearch.errors import ConfigError
from gansearch.train.loop import TrainState, fire, gan_loss, gradient_penalty, record

LOSSES = ("vanilla", "lsgan", "wgan-gp")
REC_NORMS = ("l2", "l1")


@dataclass(frozen=True)
class Batch:
    """One step's data. ``target``: ground truth (paired data); ``real``: what the discriminator
    calls real (None: the teacher's output); ``condition``: concatenated on channels before every
    image the discriminator sees (pix2pix's source image)."""

    inputs: tuple[Tensor, ...]
    target: Tensor | None = None
    real: Tensor | None = None
    condition: Tensor | None = None

    def to(self, device: torch.device) -> Batch:
        return Batch(tuple(t.to(device) for t in self.inputs),
                     *(None if t is None else t.to(device) for t in (self.target, self.real, self.condition)))


@dataclass(frozen=True)
class LoopConfig:
    """How the loop trains: Adam on both networks (DCGAN's lr 2e-4 and beta1 0.5 by default)."""

    iterations: int = 200
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    loss: Literal["vanilla", "lsgan", "wgan-gp"] = "vanilla"  # wgan-gp: SinGAN's critic
    gp_weight: float = 0.1  # wgan-gp only
    d_steps: int = 1  # discriminator steps per iteration, each on a fresh batch
    g_steps: int = 1  # generator steps per iteration, on the last batch
    lr_decay_at: float | None = None  # both learning rates x0.1 after this fraction of iterations

    def __post_init__(self) -> None:
        check_range("iterations", self.iterations, 1)
        check_range("lr_g", self.lr_g, 0, low_open=True)
        check_range("lr_d", self.lr_d, 0, low_open=True)
        check_range("beta1", self.beta1, 0, 1, high_open=True)
        check_choice("loss", self.loss, LOSSES)
        check_range("gp_weight", self.gp_weight, 0)
        check_range("d_steps", self.d_steps, 1)
        check_range("g_steps", self.g_steps, 1)
        if self.lr_decay_at is not None:
            check_range("lr_decay_at", self.lr_decay_at, 0, 1)

    @property
    def milestone(self) -> int | None:
        return None if self.lr_decay_at is None else max(1, int(self.lr_decay_at * self.iterations))


def reconstruction_loss(output: Tensor, target: Tensor, norm: str = "l2") -> Tensor:
    """L_rec (Gong et al. eq. 7): to the ground truth (paired) or the teacher's output (unpaired)."""
    return torch.nn.functional.mse_loss(output, target) if norm == "l2" else \
        torch.nn.functional.l1_loss(output, target)


@dataclass(frozen=True)
class PlainLoss:
    """A generator's own objective, no teacher: a3 L_GAN + a2 L_rec to the ground truth (when
    the batch has one; pix2pix: L1 with weight 100)."""

    alpha_rec: float = 100.0  # pix2pix's lambda
    alpha_gan: float = 1.0
    rec_norm: Literal["l2", "l1"] = "l1"  # pix2pix's L1

    def __post_init__(self) -> None:
        check_range("plain.alpha_rec", self.alpha_rec, 0)
        check_range("plain.alpha_gan", self.alpha_gan, 0)
        check_choice("plain.rec_norm", self.rec_norm, REC_NORMS)

    def __call__(self, generator: nn.Module, inputs: Sequence[Tensor], target: Tensor | None
                 ) -> tuple[Tensor, None, dict[str, Tensor]]:
        out = generator(*inputs)
        terms = {} if target is None or self.alpha_rec == 0 else {
            "rec": self.alpha_rec * reconstruction_loss(out, target, self.rec_norm)}
        return out, None, terms


def adversarial_train(generator: nn.Module, discriminator: nn.Module, batches: Iterator[Batch],
                      objective, config: LoopConfig, *, steps: range | None = None,
                      scale: int | None = None, generator_params: Iterable[nn.Parameter] | None = None,
                      callbacks=()) -> list[dict[str, Any]]:
    """Train ``generator`` and ``discriminator`` in place; returns one dict of losses per iteration.

    ``steps`` (default: all of ``range(config.iterations)``) runs part of the schedule, so that a
    model can be changed (pruned) between two parts of one learning-rate schedule.
    ``generator_params`` (default: the generator's and the objective's, e.g. distillation
    adapters) are what the generator's Adam updates. ``scale`` labels the losses (SinGAN).
    """
    steps = range(config.iterations) if steps is None else steps
    device = next(generator.parameters()).device
    generator.requires_grad_(True)  # a trained SinGAN scale, or a teacher's copy, may come frozen
    discriminator.requires_grad_(True)
    params = list(generator_params) if generator_params is not None else \
        [*generator.parameters(), *(objective.parameters() if isinstance(objective, nn.Module) else ())]
    milestone = config.milestone
    decay = 0.1 if milestone is not None and steps.start >= milestone else 1.0  # resumed past it
    betas = (config.beta1, 0.999)
    opt_g = torch.optim.Adam(params, lr=config.lr_g * decay, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr_d * decay, betas=betas)
    generator.train()
    discriminator.train()
    state = TrainState(generator, discriminator, opt_g, opt_d, config.iterations, step=steps.start,
                       scale=scale)
    history: list[dict[str, Any]] = []
    fire(callbacks, "on_train_begin", state)
    for it in steps:
        if it == milestone and it > steps.start:
            # x0.1, multiplied in (not set), so that a callback's own lr changes (Re-GAN's x0.1
            # while grown) compose with it.
            for opt in (opt_g, opt_d):
                for group in opt.param_groups:
                    group["lr"] *= 0.1
        for j in range(config.d_steps):
            batch = next(batches).to(device)
            last = j == config.d_steps - 1
            with torch.set_grad_enabled(last):  # the last D step's output also trains G
                fake, teacher_out, terms = objective(generator, batch.inputs, batch.target)
            real = batch.real if batch.real is not None else teacher_out
            if real is None:
                raise ConfigError("training without a teacher needs real images for the discriminator; "
                                  "give the batches real images, or distill")
            critic = _critic(discriminator, batch.condition)
            loss_d, gp = _discriminator_loss(critic, real, fake.detach(), config)
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
        for j in range(config.g_steps):
            if j > 0:  # the first step reuses the last D step's output: G has not changed since
                fake, teacher_out, terms = objective(generator, batch.inputs, batch.target)
            adv = _generator_adversarial(critic, fake, config.loss)
            total = objective.alpha_gan * adv + sum(terms.values())
            opt_g.zero_grad(set_to_none=True)
            total.backward()
            opt_g.step()
        state.step = it + 1
        record(state, history, d=loss_d, **({"gp": gp} if gp is not None else {}), g_adv=adv, **terms)
        fire(callbacks, "on_step_end", state)
    fire(callbacks, "on_train_end", state)
    generator.eval()
    return history


def _critic(discriminator: nn.Module, condition: Tensor | None):
    if condition is None:
        return discriminator
    return lambda image: discriminator(torch.cat([condition, image], 1))


def _discriminator_loss(critic, real: Tensor, fake: Tensor, config: LoopConfig
                        ) -> tuple[Tensor, Tensor | None]:
    if config.loss == "wgan-gp":
        gp = gradient_penalty(critic, real, fake)
        return critic(fake).mean() - critic(real).mean() + config.gp_weight * gp, gp
    loss = 0.5 * (gan_loss(critic(real), True, config.loss) + gan_loss(critic(fake), False, config.loss))
    return loss, None


def _generator_adversarial(critic, fake: Tensor, loss: str) -> Tensor:
    return -critic(fake).mean() if loss == "wgan-gp" else gan_loss(critic(fake), True, loss)
