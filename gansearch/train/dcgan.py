"""Training a DCGAN on an image set (Radford et al. 2016 defaults: Adam 2e-4, beta1 0.5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import Dataset

from gansearch.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gansearch.train.loop import (
    AdversarialTrainConfig,
    batches_forever,
    fire,
    gan_loss,
    record,
    start_adversarial,
)


@dataclass(frozen=True)
class DCGANTrainConfig(AdversarialTrainConfig):
    """Radford et al. 2016: batches of 64, Adam 2e-4 with beta1 0.5."""


def train_dcgan(data: Dataset, generator: DCGANGenerator, discriminator: DCGANDiscriminator,
                params: DCGANTrainConfig, *, seed: int = 0, callbacks=()) -> list[dict[str, Any]]:
    device = next(generator.parameters()).device
    batches = batches_forever(data, params.batch_size, seed)
    state = start_adversarial(generator, discriminator, params)
    history: list[dict[str, Any]] = []
    fire(callbacks, "on_train_begin", state)
    for it in range(params.iterations):
        real = next(batches)[0].to(device)
        z = torch.randn(real.shape[0], generator.config.latent_dim, device=device)
        fake = generator(z)
        loss_d = gan_loss(discriminator(real), True, params.loss) + \
            gan_loss(discriminator(fake.detach()), False, params.loss)
        state.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        state.opt_d.step()
        loss_g = gan_loss(discriminator(fake), True, params.loss)
        state.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        state.opt_g.step()
        state.step = it + 1
        record(state, history, d=loss_d, g=loss_g)
        fire(callbacks, "on_step_end", state)
    fire(callbacks, "on_train_end", state)
    generator.eval()
    return history
