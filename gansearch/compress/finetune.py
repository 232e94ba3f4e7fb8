"""Fine-tuning a compressed generator against a discriminator, by distillation or plain training.

One loop serves every GAN family: what differs is carried by the :class:`Batch` (the
generator's inputs, a ground truth if the data is paired, real images if there are any, and the
condition a conditional discriminator sees) and by the objective:

- :class:`gansearch.compress.distill.KDLoss`, distillation from a teacher (Gong et al. eq. 8);
- :class:`PlainLoss`, the family's own training objective without a teacher (the "Train"
  column of Gong et al. Table 2): adversarial loss plus, for paired data, the reconstruction
  loss to the ground truth (pix2pix: L1 with weight 100).

The discriminator is trained in place, as in GAN training; pass a copy of the teacher's to keep
the teacher's own.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from gansearch.compress.distill import REC_NORMS, KDLoss, reconstruction_loss
from gansearch.config import check_choice, check_range
from gansearch.errors import ConfigError
from gansearch.train.loop import TrainState, batches_forever, fire, gan_loss, gradient_penalty, record

LOSSES = ("vanilla", "lsgan", "wgan-gp")


@dataclass(frozen=True)
class Batch:
    """One step's data. ``target``: ground truth (paired data); ``real``: what the discriminator
    calls real (None: the teacher's output); ``condition``: concatenated on channels before every
    image the discriminator sees (pix2pix's source image)."""

    inputs: tuple[Tensor, ...]
    target: Tensor | None = None
    real: Tensor | None = None
    condition: Tensor | None = None


@dataclass(frozen=True)
class FinetuneConfig:
    iterations: int = 200
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    loss: Literal["vanilla", "lsgan", "wgan-gp"] = "vanilla"  # wgan-gp: SinGAN's critic
    gp_weight: float = 0.1  # wgan-gp only

    def __post_init__(self) -> None:
        check_range("finetune.iterations", self.iterations, 1)
        check_range("finetune.lr_g", self.lr_g, 0, low_open=True)
        check_range("finetune.lr_d", self.lr_d, 0, low_open=True)
        check_range("finetune.beta1", self.beta1, 0, 1, high_open=True)
        check_choice("finetune.loss", self.loss, LOSSES)
        check_range("finetune.gp_weight", self.gp_weight, 0)


@dataclass(frozen=True)
class PlainLoss:
    """The generator's own objective, no teacher: a3 L_GAN + a2 L_rec to the ground truth."""

    alpha_rec: float = 100.0  # pix2pix's lambda
    alpha_gan: float = 1.0
    rec_norm: Literal["l2", "l1"] = "l1"  # pix2pix's L1

    def __post_init__(self) -> None:
        check_range("plain.alpha_rec", self.alpha_rec, 0)
        check_range("plain.alpha_gan", self.alpha_gan, 0)
        check_choice("plain.rec_norm", self.rec_norm, REC_NORMS)

    def __call__(self, student: nn.Module, inputs: Sequence[Tensor], target: Tensor | None
                 ) -> tuple[Tensor, None, dict[str, Tensor]]:
        out = student(*inputs)
        terms = {} if target is None else {
            "rec": self.alpha_rec * reconstruction_loss(out, target, self.rec_norm)}
        return out, None, terms


def adversarial_finetune(student: nn.Module, discriminator: nn.Module, batches: Iterator[Batch],
                         objective: KDLoss | PlainLoss, config: FinetuneConfig, *,
                         generator_params: Iterable[nn.Parameter] | None = None,
                         callbacks=()) -> list[dict[str, Any]]:
    """Train ``student`` (and ``discriminator``) for ``config.iterations`` steps.

    Each step updates the discriminator on real against the student's output, then the student
    on the objective's terms plus ``alpha_gan`` times the adversarial loss. Adam on both;
    ``generator_params`` (default: the student's and the objective's, i.e. KD adapters) are the
    ones the generator's Adam updates, so a caller can optimize some (GAN Slimming's norm
    scales) its own way in a callback. Returns one dict of losses per step.
    """
    device = next(student.parameters()).device
    student.requires_grad_(True)  # a trained SinGAN scale comes frozen
    params = list(generator_params) if generator_params is not None else \
        [*student.parameters(), *(objective.parameters() if isinstance(objective, nn.Module) else ())]
    betas = (config.beta1, 0.999)
    opt_g = torch.optim.Adam(params, lr=config.lr_g, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr_d, betas=betas)
    student.train()
    discriminator.train()
    discriminator.requires_grad_(True)
    state = TrainState(student, discriminator, opt_g, opt_d, config.iterations)
    history: list[dict[str, Any]] = []
    fire(callbacks, "on_train_begin", state)
    for it in range(config.iterations):
        batch = _to(next(batches), device)
        fake, teacher_out, terms = objective(student, batch.inputs, batch.target)
        real = batch.real if batch.real is not None else teacher_out
        if real is None:
            raise ConfigError("plain training needs real images for the discriminator; give the "
                              "batches real images (e.g. latent_batches(..., data=...)) or distill")
        critic = _critic(discriminator, batch.condition)
        loss_d = _discriminator_loss(critic, real, fake.detach(), config)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        adv = _generator_adversarial(critic, fake, config.loss)
        total = objective.alpha_gan * adv + sum(terms.values())
        opt_g.zero_grad(set_to_none=True)
        total.backward()
        opt_g.step()
        state.step = it + 1
        record(state, history, d=loss_d, g_adv=adv, **terms)
        fire(callbacks, "on_step_end", state)
    fire(callbacks, "on_train_end", state)
    student.eval()
    return history


def _critic(discriminator: nn.Module, condition: Tensor | None):
    if condition is None:
        return discriminator
    return lambda image: discriminator(torch.cat([condition, image], 1))


def _discriminator_loss(critic, real: Tensor, fake: Tensor, config: FinetuneConfig) -> Tensor:
    if config.loss == "wgan-gp":
        return critic(fake).mean() - critic(real).mean() + \
            config.gp_weight * gradient_penalty(critic, real, fake)
    return 0.5 * (gan_loss(critic(real), True, config.loss) + gan_loss(critic(fake), False, config.loss))


def _generator_adversarial(critic, fake: Tensor, loss: str) -> Tensor:
    return -critic(fake).mean() if loss == "wgan-gp" else gan_loss(critic(fake), True, loss)


def _to(batch: Batch, device: torch.device) -> Batch:
    return Batch(tuple(t.to(device) for t in batch.inputs),
                 *(None if t is None else t.to(device) for t in (batch.target, batch.real, batch.condition)))


# -- where batches come from ---------------------------------------------------------------------


def paired_batches(data: Dataset, batch_size: int, seed: int = 0) -> Iterator[Batch]:
    """(source, target) pairs, as pix2pix: the target is the ground truth and D's real image, the
    source its condition."""
    for source, target in batches_forever(data, batch_size, seed):
        yield Batch((source,), target=target, real=target, condition=source)


def latent_batches(latent_dim: int, batch_size: int, seed: int = 0, data: Dataset | None = None
                   ) -> Iterator[Batch]:
    """Latent vectors for a DCGAN generator. Unpaired: L_rec is to the teacher's output for the
    same latent; D's real images come from ``data`` if given, else from the teacher."""
    check_range("batch_size", batch_size, 1)
    rng = torch.Generator().manual_seed(seed)
    reals = batches_forever(data, batch_size, seed) if data is not None else None
    while True:
        real = next(reals)[0] if reals is not None else None
        n = real.shape[0] if real is not None else batch_size
        yield Batch((torch.randn(n, latent_dim, generator=rng),), real=real)


def singan_scale_batches(pyramid: nn.Module, scale: int, image: Tensor, seed: int = 0
                         ) -> Iterator[Batch]:
    """Inputs of scale ``scale`` of a trained SinGAN pyramid: (amp_k * z_k, the coarser scales'
    upsampled output for random noise), as the scale sees them in training; D's real image is
    the training image at that scale."""
    from gansearch.data.images import resize
    from gansearch.models.singan import upsample

    if not 0 <= scale < len(pyramid.scales):
        raise ConfigError(f"scale must be in 0..{len(pyramid.scales) - 1}, got {scale}")
    device = pyramid.noise_amps.device
    real = resize(image.to(device), size=pyramid.config.sizes[scale])
    rng = torch.Generator(device=device).manual_seed(seed)
    frozen = copy.deepcopy(pyramid).eval()  # the coarser scales, as they were trained
    while True:
        with torch.no_grad():
            if scale == 0:
                prev = torch.zeros_like(real)
            else:
                prev = upsample(frozen(*frozen.noise(1, up_to=scale - 1, generator=rng)),
                                real.shape[-2:])
        z = torch.randn(real.shape, generator=rng, device=device)
        yield Batch((frozen.noise_amps[scale] * z, prev), real=real)
