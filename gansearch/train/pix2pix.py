"""Training the ResNet generator on a paired translation set, as pix2pix does (Isola et al.
2017): conditional PatchGAN loss plus lambda * L1 to the target, lambda = 100, Adam 2e-4."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from gansearch.config import check_range
from gansearch.models.resnet import PatchGANDiscriminator, ResnetGenerator
from gansearch.train.loop import TrainState, fire, gan_loss, infinite, record


@dataclass(frozen=True)
class Pix2PixTrainConfig:
    iterations: int = 5000
    batch_size: int = 4
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    lambda_l1: float = 100.0
    loss: Literal["vanilla", "lsgan"] = "vanilla"

    def __post_init__(self) -> None:
        check_range("train.iterations", self.iterations, 1)
        check_range("train.batch_size", self.batch_size, 1)
        check_range("train.lr_g", self.lr_g, 0, low_open=True)
        check_range("train.lr_d", self.lr_d, 0, low_open=True)
        check_range("train.lambda_l1", self.lambda_l1, 0)


def train_pix2pix(data: Dataset, generator: ResnetGenerator, discriminator: PatchGANDiscriminator,
                  params: Pix2PixTrainConfig, *, seed: int = 0, callbacks=()
                  ) -> list[dict[str, Any]]:
    """``data`` yields (source, target) pairs; D sees them concatenated on channels."""
    device = next(generator.parameters()).device
    loader = DataLoader(data, batch_size=min(params.batch_size, len(data)), shuffle=True,
                        drop_last=True, generator=torch.Generator().manual_seed(seed))
    opt_g = torch.optim.Adam(generator.parameters(), lr=params.lr_g, betas=(params.beta1, 0.999))
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=params.lr_d,
                             betas=(params.beta1, 0.999))
    generator.train()
    discriminator.train()
    state = TrainState(generator, discriminator, opt_g, opt_d, params.iterations)
    history: list[dict[str, Any]] = []
    fire(callbacks, "on_train_begin", state)
    batches = infinite(loader)
    for it in range(params.iterations):
        source, target = (t.to(device) for t in next(batches))
        fake = generator(source)
        loss_d = 0.5 * (
            gan_loss(discriminator(torch.cat([source, target], 1)), True, params.loss)
            + gan_loss(discriminator(torch.cat([source, fake.detach()], 1)), False, params.loss)
        )
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        adv = gan_loss(discriminator(torch.cat([source, fake], 1)), True, params.loss)
        l1 = F.l1_loss(fake, target)
        opt_g.zero_grad(set_to_none=True)
        (adv + params.lambda_l1 * l1).backward()
        opt_g.step()
        state.step = it + 1
        record(state, history, d=loss_d, g_adv=adv, l1=l1)
        fire(callbacks, "on_step_end", state)
    fire(callbacks, "on_train_end", state)
    generator.eval()
    return history
