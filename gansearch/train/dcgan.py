"""Training a DCGAN on an image set (Radford et al. 2016 defaults: Adam 2e-4, beta1 0.5)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch.utils.data import DataLoader, Dataset

from gansearch.config import check_range
from gansearch.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gansearch.train.loop import TrainState, fire, gan_loss, infinite, record


@dataclass(frozen=True)
class DCGANTrainConfig:
    iterations: int = 5000
    batch_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    loss: Literal["vanilla", "lsgan"] = "vanilla"  # vanilla = non-saturating BCE

    def __post_init__(self) -> None:
        check_range("train.iterations", self.iterations, 1)
        check_range("train.batch_size", self.batch_size, 1)
        check_range("train.lr_g", self.lr_g, 0, low_open=True)
        check_range("train.lr_d", self.lr_d, 0, low_open=True)


def train_dcgan(data: Dataset, generator: DCGANGenerator, discriminator: DCGANDiscriminator,
                params: DCGANTrainConfig, *, seed: int = 0, callbacks=()) -> list[dict[str, Any]]:
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
        real = next(batches)[0].to(device)
        z = torch.randn(real.shape[0], generator.config.latent_dim, device=device)
        fake = generator(z)
        loss_d = gan_loss(discriminator(real), True, params.loss) + \
            gan_loss(discriminator(fake.detach()), False, params.loss)
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        loss_g = gan_loss(discriminator(fake), True, params.loss)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        state.step = it + 1
        record(state, history, d=loss_d, g=loss_g)
        fire(callbacks, "on_step_end", state)
    fire(callbacks, "on_train_end", state)
    generator.eval()
    return history
