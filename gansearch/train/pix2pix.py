"""Training the ResNet generator on a paired translation set, as pix2pix does (Isola et al.
2017): conditional PatchGAN loss plus lambda * L1 to the target, lambda = 100, Adam 2e-4."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from gansearch.config import check_range
from gansearch.models.resnet import PatchGANDiscriminator, ResnetGenerator
from gansearch.train.loop import (
    AdversarialTrainConfig,
    batches_forever,
    fire,
    gan_loss,
    record,
    start_adversarial,
)


@dataclass(frozen=True)
class Pix2PixTrainConfig(AdversarialTrainConfig):
    batch_size: int = 4
    lambda_l1: float = 100.0  # weight of the L1 loss to the target

    def __post_init__(self) -> None:
        super().__post_init__()
        check_range("train.lambda_l1", self.lambda_l1, 0)


def train_pix2pix(data: Dataset, generator: ResnetGenerator, discriminator: PatchGANDiscriminator,
                  params: Pix2PixTrainConfig, *, seed: int = 0, callbacks=()
                  ) -> list[dict[str, Any]]:
    """``data`` yields (source, target) pairs; D sees them concatenated on channels."""
    device = next(generator.parameters()).device
    batches = batches_forever(data, params.batch_size, seed)
    state = start_adversarial(generator, discriminator, params)
    history: list[dict[str, Any]] = []
    fire(callbacks, "on_train_begin", state)
    for it in range(params.iterations):
        source, target = (t.to(device) for t in next(batches))
        fake = generator(source)
        loss_d = 0.5 * (
            gan_loss(discriminator(torch.cat([source, target], 1)), True, params.loss)
            + gan_loss(discriminator(torch.cat([source, fake.detach()], 1)), False, params.loss)
        )
        state.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        state.opt_d.step()
        adv = gan_loss(discriminator(torch.cat([source, fake], 1)), True, params.loss)
        l1 = F.l1_loss(fake, target)
        state.opt_g.zero_grad(set_to_none=True)
        (adv + params.lambda_l1 * l1).backward()
        state.opt_g.step()
        state.step = it + 1
        record(state, history, d=loss_d, g_adv=adv, l1=l1)
        fire(callbacks, "on_step_end", state)
    fire(callbacks, "on_train_end", state)
    generator.eval()
    return history
