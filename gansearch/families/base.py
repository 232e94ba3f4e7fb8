"""The contract of a generator family: what gansearch needs to know about one kind of generator.

A family is one object, registered under its name (``gansearch.families.register``); the name
is the ``model:`` of a teacher config and of a checkpoint. Everything else in gansearch asks
the family and never tests a generator's class. Subclass :class:`Family`, set the class
attributes, implement the methods marked *required*, and override the others where the
defaults (written for an image-set generator) do not fit:

- building: ``build_generator(config)``, ``build_discriminator(config)`` (*required*), and
  ``configs(teacher_config, data)``, which completes a teacher config's ``generator:`` and
  ``discriminator:`` overrides from what the data says (channels, sizes) and checks that they
  fit together; ``default_discriminator(generator, data)`` makes one for an imported teacher
  that comes without;
- running: ``example_input(generator, batch, size)`` (*required*), the positional inputs of
  one forward pass (``size``: the image side, where the family takes images);
- data: ``data_sources`` (which ``data.source`` values it trains on), ``load(data_config)`` and
  ``held_out(data_config)`` (what quality is measured on), ``image_size(data)``;
- training: ``train_config`` (the ``train:`` section of a teacher config, with a ``loop()``
  giving the loop's settings) and ``batches(generator, data, batch_size, seed)``, the batches
  the one adversarial loop (``gansearch.train.adversarial``) trains on; ``objective(params)``
  is the family's own training loss; ``train(...)`` runs them (SinGAN overrides it, scale by
  scale);
- judging: ``metrics`` (the quality metrics that apply), ``generate(generator, data, n, seed)``
  (generated images and the real ones they are compared with), ``sample_grid`` and its
  ``sample_caption``;
- compressing: ``distill_taps(generator)`` (layers for L_F and layer pairs of equal size for
  L_T, Gong et al. eq. 4-6), ``keep_on_rebuild`` (buffers a rebuilt student inherits, as
  SinGAN's noise amplitudes), ``inputs`` (``noise``, ``latent`` or ``image``: which steps
  apply), ``fixed_inputs(generator, data, n, seed)`` (seeded inputs to compare outputs on).

Methods are called with a generator the family built (or a compressed copy of one).
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from gansearch.config import from_dict
from gansearch.data.config import DataConfig, load_data
from gansearch.errors import ConfigError, short
from gansearch.models.layers import init_weights
from gansearch.train.adversarial import Batch, LoopConfig, PlainLoss, adversarial_train


class Family(ABC):
    """Base of every generator family; see the module docstring for the contract."""

    name: ClassVar[str]
    generator_config: ClassVar[type]
    discriminator_config: ClassVar[type | None] = None
    train_config: ClassVar[type]
    data_sources: ClassVar[tuple[str, ...]] = ()
    metrics: ClassVar[tuple[str, ...]] = ("swd",)
    keep_on_rebuild: ClassVar[tuple[str, ...]] = ()  # buffers a scratch student inherits
    inputs: ClassVar[str] = "latent"  # what the generator takes: noise maps, latent vectors or images
    description: ClassVar[str] = ""

    # -- building ---------------------------------------------------------------------------

    @abstractmethod
    def build_generator(self, config: Any) -> nn.Module: ...

    @abstractmethod
    def build_discriminator(self, config: Any) -> nn.Module: ...

    def generator_from(self, config: Any, where: str = "generator") -> nn.Module:
        """A generator from its config, given as the dataclass or as a plain dict (YAML, a
        checkpoint)."""
        return self.build_generator(self._config(self.generator_config, config, where))

    def discriminator_from(self, config: Any, where: str = "discriminator") -> nn.Module:
        if self.discriminator_config is None:
            raise ConfigError(f"the {self.name} family has no discriminator of its own")
        return self.build_discriminator(self._config(self.discriminator_config, config, where))

    def configs(self, generator: dict[str, Any], discriminator: dict[str, Any], data: Any,
                params: Any) -> tuple[Any, Any]:
        """The generator and discriminator configs of a teacher: the config's overrides
        completed from the data (and the training parameters ``params``). Default: the
        overrides as they are."""
        return (from_dict(self.generator_config, generator, "generator"),
                from_dict(self.discriminator_config, discriminator, "discriminator"))

    def default_discriminator(self, generator: nn.Module, data: Any) -> nn.Module:
        """A fresh discriminator for ``generator`` on ``data``, for a teacher that came without
        one (imported): the family's own, sized to the data."""
        params = self.train_config()
        return self.build_discriminator(self.configs(_config_dict(generator.config), {}, data, params)[1])

    def specialize(self, config: Any) -> Family:
        """The family that serves generators of ``config`` (itself, except for families whose
        behaviour depends on the config, as a user module's on the input it takes)."""
        return self

    needs_code: ClassVar[bool] = False  # building runs code named in the config (a user module)

    @staticmethod
    def _config(cls: type, config: Any, where: str) -> Any:
        if isinstance(config, cls):
            return config
        if isinstance(config, dict):
            return from_dict(cls, config, where)
        raise ConfigError(f"{where}: expected a {cls.__name__} or a mapping, got {short(config)}")

    # -- running ----------------------------------------------------------------------------

    @abstractmethod
    def example_input(self, generator: nn.Module, batch: int = 1, size: int | None = None
                      ) -> tuple[Tensor, ...]: ...

    @staticmethod
    def like(generator: nn.Module) -> dict[str, Any]:
        """Device and floating dtype of ``generator``: its inputs must match them."""
        param = next((p for p in generator.parameters() if p.is_floating_point()), None)
        if param is None:
            param = next(t for t in generator.buffers() if t.is_floating_point())
        return {"device": param.device, "dtype": param.dtype}

    # -- data -------------------------------------------------------------------------------

    def check_data(self, data: DataConfig, where: str = "data.source") -> None:
        if data.source not in self.data_sources:
            raise ConfigError(f"{where} {data.source!r} does not fit the {self.name} family; use one "
                              f"of {', '.join(self.data_sources)}")

    def load(self, data: DataConfig) -> Any:
        """The training data ``data`` describes."""
        return load_data(data)

    def held_out(self, data: DataConfig) -> Any | None:
        """What quality is measured on, if not the training data itself (None, the default: a
        generator from noise is judged on the distribution it learned)."""
        return None

    def image_size(self, data: Any) -> int | None:
        """The side of the images the generator takes, where it takes images (else None)."""
        return None

    # -- training ---------------------------------------------------------------------------

    def objective(self, params: Any) -> Any:
        """The family's own training loss (no teacher)."""
        return PlainLoss(alpha_rec=0.0)

    def batches(self, generator: nn.Module, data: Any, batch_size: int, seed: int = 0
                ) -> Iterator[Batch]:
        """Endless batches of the generator's training data, in an order fixed by ``seed``."""
        raise ConfigError(f"the {self.name} family does not train on batches; its fine-tuning "
                          "steps are finetune and its own")

    def train(self, generator: nn.Module, discriminator: nn.Module, data: Any, params: Any, *,
              seed: int = 0, callbacks=(), fresh: bool = True) -> list[dict[str, Any]]:
        """Train ``generator`` against ``discriminator`` on ``data`` with the family's own
        objective (``fresh``: from its initial weights, as a teacher; else fine-tuning)."""
        batches = self.batches(generator, data, params.batch_size, seed)
        return adversarial_train(generator, discriminator, batches, self.objective(params), params.loop(),
                                 callbacks=callbacks)

    def finetune_params(self, params: Any, iterations: int, lr_factor: float = 1.0) -> Any:
        """The teacher's training parameters, for ``iterations`` of fine-tuning at
        ``lr_factor`` times its learning rates."""
        return replace(params, iterations=iterations, lr_g=params.lr_g * lr_factor,
                       lr_d=params.lr_d * lr_factor)

    def loop(self, params: Any, iterations: int) -> LoopConfig:
        """The loop's settings for distillation steps: the teacher's optimizer, ``iterations``."""
        return replace(params.loop(), iterations=iterations)

    # -- judging ----------------------------------------------------------------------------

    @abstractmethod
    def generate(self, generator: nn.Module, data: Any, n: int, seed: int) -> tuple[Tensor, Tensor]:
        """(generated, real) images in [-1, 1], float32 on the CPU, as quality compares them."""

    def sample_grid(self, generator: nn.Module, data: Any, seed: int = 0) -> tuple[Tensor, int]:
        """Images to look at, and the grid's columns."""
        fake, _ = self.generate(generator, data, 32, seed)
        return fake, 8

    def sample_caption(self, data: Any) -> str:
        """What the images of ``sample_grid`` are, written above them."""
        return "random samples"

    def check_metric(self, metric: str) -> None:
        if metric not in self.metrics:
            raise ConfigError(f"quality metric {metric!r} does not apply to the {self.name} family; "
                              f"use one of {', '.join(self.metrics)}")

    # -- compressing ------------------------------------------------------------------------

    def distill_taps(self, generator: nn.Module) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
        """Layers whose outputs L_F matches, and pairs of equal spatial size for L_T. Default:
        every activation module, and no pairs."""
        return activation_taps(generator), ()

    def fixed_inputs(self, generator: nn.Module, data: Any, n: int, seed: int) -> tuple[Tensor, ...]:
        """``n`` inputs of the generator fixed by ``seed`` (to compare outputs over time): by
        default drawn like ``example_input`` from a seeded generator."""
        rng = torch.get_rng_state()
        torch.manual_seed(seed)
        try:
            return self.example_input(generator, n, self.image_size(data) if data is not None else None)
        finally:
            torch.set_rng_state(rng)

    def scratch(self, generator: nn.Module, filters: int) -> nn.Module:
        """A randomly initialized generator like ``generator`` with ``filters`` filters
        (pruning from scratch); the family's config must have a ``filters`` setting."""
        config = generator.config
        names = {f.name for f in dataclasses.fields(config)} if dataclasses.is_dataclass(config) else set()
        if "filters" not in names:
            raise ConfigError(f"the {self.name} family's config has no 'filters' to shrink; pruning "
                              "from scratch needs one")
        changes = {"filters": filters}
        if getattr(config, "max_filters", filters) < filters:  # a cap below the width would hide it
            changes["max_filters"] = filters
        new = self.build_generator(replace(config, **changes))
        init_weights(new)
        kept = {k: v for k, v in generator.state_dict().items() if k in self.keep_on_rebuild}
        new.load_state_dict(kept, strict=False)
        return new


def _config_dict(config: Any) -> dict[str, Any]:
    from gansearch.config import to_dict

    return to_dict(config)


ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Hardswish, nn.ReLU6, nn.Mish)


def activation_taps(generator: nn.Module) -> tuple[str, ...]:
    """The names of the activation modules of ``generator`` (a module used twice counts once)."""
    seen, names = set(), []
    for name, module in generator.named_modules():
        if isinstance(module, ACTIVATIONS) and id(module) not in seen:
            seen.add(id(module))
            names.append(name)
    return tuple(names)


def square_images(batch: int, channels: int, size: int, like: dict[str, Any]) -> tuple[Tensor]:
    return (torch.randn(batch, channels, size, size, **like),)
