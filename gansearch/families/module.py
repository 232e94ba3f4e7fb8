"""The user's own generator: any ``nn.Module`` that a function or class of theirs builds.

Its config names the callable (``package.module:factory``, or ``path/to/file.py:factory`` for a
file that is not installed), keyword arguments for it, and the input the generator takes:
``latent:100`` (a batch of 100-long vectors; ``latent:100x1x1`` for (N, 100, 1, 1)) makes it a
generator of images from noise, judged like DCGAN on an image set; ``image:3x256x256`` makes it
an image translator, trained and judged like pix2pix on paired images. The discriminator is
the PatchGAN (conditional on the source image for translators), sized to the data.

The code stays the user's: a checkpoint records only the reference and the weights. Building
the generator runs that code, so a checkpoint of this family loads only when the caller trusts
it (``load_checkpoint(..., trust_code=True)``; ``trust_code: true`` for a sweep's teacher,
``--trust-code`` on the command line), as a file may name any callable on the machine.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gansearch.config import from_dict
from gansearch.errors import ConfigError, first_line, short
from gansearch.families.base import Family
from gansearch.families.dcgan import DCGANTrainConfig, LatentImages
from gansearch.families.translation import Pix2PixTrainConfig, Translation, patchgan_layers
from gansearch.models.resnet import PatchGANConfig, PatchGANDiscriminator
from gansearch.train.adversarial import Batch

_INPUT = re.compile(r"(latent|image):([0-9]+(?:x[0-9]+)*)")
_FACTORY = re.compile(r"(?P<where>[^:]+):(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)")


@dataclass(frozen=True)
class ModuleConfig:
    factory: str  # package.module:callable or path/to/file.py:callable
    input: str  # latent:N, latent:NxHxW or image:CxHxW
    kwargs: dict[str, Any] = field(default_factory=dict)  # passed to the callable

    def __post_init__(self) -> None:
        if not _FACTORY.fullmatch(self.factory):
            raise ConfigError(f"module.factory {short(self.factory)} must be package.module:callable or "
                              "path/to/file.py:callable")
        match = _INPUT.fullmatch(self.input)
        if not match or 0 in self.shape:
            raise ConfigError(f"module.input {short(self.input)} must be latent:N, latent:NxHxW or "
                              "image:CxHxW, e.g. latent:100 or image:3x256x256")
        if self.kind == "image" and len(self.shape) != 3:
            raise ConfigError(f"module.input {self.input}: an image input is image:CxHxW")

    @property
    def kind(self) -> str:
        return self.input.split(":")[0]

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape of one input, without the batch."""
        return tuple(int(v) for v in self.input.split(":")[1].split("x"))

    @property
    def input_channels(self) -> int:
        return self.shape[0]


def resolve(reference: str) -> Any:
    """The callable ``reference`` names: ``package.module:name`` or ``file.py:name``."""
    match = _FACTORY.fullmatch(reference)
    if not match:
        raise ConfigError(f"{short(reference)} is not package.module:callable or file.py:callable")
    where, name = match["where"], match["name"]
    try:
        if where.endswith(".py"):
            path = Path(where).expanduser().resolve()
            if not path.is_file():
                raise ConfigError(f"{reference}: no such file {path}")
            key = f"gansearch_user_{abs(hash(str(path)))}"
            module = sys.modules.get(key)
            if module is None:
                spec = importlib.util.spec_from_file_location(key, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[key] = module
                spec.loader.exec_module(module)
        else:
            module = importlib.import_module(where)
        target = module
        for part in name.split("."):
            target = getattr(target, part)
    except ConfigError:
        raise
    except Exception as exc:  # an import runs the user's code: any error it raises is theirs
        raise ConfigError(f"{reference}: cannot load it ({type(exc).__name__}: {first_line(exc)})") from None
    if not callable(target):
        raise ConfigError(f"{reference} is not callable; name a function or class returning an nn.Module")
    return target


class UserGenerator(nn.Module):
    """The user's module (``net``) with the config that rebuilds it."""

    def __init__(self, config: ModuleConfig) -> None:
        super().__init__()
        self.config = config
        try:
            net = resolve(config.factory)(**config.kwargs)
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError(f"{config.factory}(**{short(config.kwargs)}) failed: {type(exc).__name__}: "
                              f"{first_line(exc)}") from None
        if not isinstance(net, nn.Module):
            raise ConfigError(f"{config.factory} returned a {type(net).__name__}, not an nn.Module")
        self.net = net

    def forward(self, *inputs: Tensor) -> Tensor:
        return self.net(*inputs)


class UserModule(Family):
    """The registered family: it serves a generator through the latent or the image variant,
    by the input its config names (``specialize``)."""

    name = "module"
    description = "your own nn.Module, built by a function or class you name"
    generator_config = ModuleConfig
    discriminator_config = PatchGANConfig
    needs_code = True

    def build_generator(self, config: ModuleConfig) -> UserGenerator:
        return UserGenerator(config)

    def build_discriminator(self, config: PatchGANConfig) -> PatchGANDiscriminator:
        return PatchGANDiscriminator(config)

    def specialize(self, config):
        config = config if isinstance(config, ModuleConfig) else from_dict(ModuleConfig, config, "generator")
        return LatentModule() if config.kind == "latent" else ImageModule()

    def example_input(self, generator, batch=1, size=None):
        return self.specialize(generator.config).example_input(generator, batch, size)

    def generate(self, generator, data, n, seed):
        return self.specialize(generator.config).generate(generator, data, n, seed)


class LatentModule(UserModule, LatentImages):
    train_config = DCGANTrainConfig

    def configs(self, generator, discriminator, data, params):
        image = data[0][0]
        dcfg = from_dict(PatchGANConfig, {"input_channels": image.shape[0],
                                          "n_layers": patchgan_layers(image.shape[-1]), **discriminator},
                         "discriminator")
        return from_dict(ModuleConfig, generator, "generator"), dcfg

    def specialize(self, config):
        return self

    def latent_dim(self, generator):
        return math.prod(generator.config.shape)

    def example_input(self, generator, batch=1, size=None):
        return (torch.randn(batch, *generator.config.shape, **self.like(generator)),)

    def batches(self, generator, data, batch_size, seed=0):
        shape = generator.config.shape
        for batch in LatentImages.batches(self, generator, data, batch_size, seed):
            yield Batch((batch.inputs[0].reshape(-1, *shape),), real=batch.real)

    def generate(self, generator, data, n, seed):
        return LatentImages.generate(self, _Shaped(generator), data, n, seed)


class _Shaped(nn.Module):
    """Feeds flat latent vectors to a generator that takes them in its own shape."""

    def __init__(self, generator: UserGenerator) -> None:
        super().__init__()
        self.generator, self.config = generator, generator.config

    def forward(self, z: Tensor) -> Tensor:
        return self.generator(z.reshape(-1, *self.config.shape))


class ImageModule(UserModule, Translation):
    train_config = Pix2PixTrainConfig

    def configs(self, generator, discriminator, data, params):
        source, target = data[0]
        gcfg = from_dict(ModuleConfig, generator, "generator")
        if tuple(source.shape) != gcfg.shape:
            raise ConfigError(f"the data's source images are {'x'.join(map(str, source.shape))}, but the "
                              f"module takes {gcfg.input}; give data of that shape or change --input")
        dcfg = from_dict(PatchGANConfig, {"input_channels": source.shape[0] + target.shape[0],
                                          "n_layers": patchgan_layers(source.shape[-1]), **discriminator},
                         "discriminator")
        return gcfg, dcfg

    def specialize(self, config):
        return self

    def example_input(self, generator, batch=1, size=None):
        c, h, w = generator.config.shape
        return (torch.randn(batch, c, size or h, size or w, **self.like(generator)),)

    def generate(self, generator, data, n, seed):
        return Translation.generate(self, generator, data, n, seed)

