"""Generator families: everything gansearch knows about one kind of generator, in one object.

``get(name)`` finds a family by the ``model:`` name of a teacher config or checkpoint; ``FAMILIES``
lists them. A new family is a subclass of :class:`Family` (its contract is in
``gansearch.families.base``) passed to ``register``: with its model in ``gansearch/models/``,
that is two files.
"""

from __future__ import annotations

from gansearch.errors import ConfigError, short
from gansearch.families.base import Family
from gansearch.families.dcgan import DCGAN
from gansearch.families.module import UserModule
from gansearch.families.resnet import Resnet
from gansearch.families.singan import SinGAN
from gansearch.families.unet import Unet

FAMILIES: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Make ``family`` known by its name (a name can be registered once)."""
    if not isinstance(family, Family):
        raise ConfigError(f"register() takes a Family instance, got {short(family)}")
    if family.name in FAMILIES and type(FAMILIES[family.name]) is not type(family):
        raise ConfigError(f"a family named {family.name!r} is registered already")
    FAMILIES[family.name] = family
    return family


def get(name: str, config=None) -> Family:
    """The family registered as ``name`` (serving generators of ``config``, if given)."""
    family = FAMILIES.get(name) if isinstance(name, str) else None
    if family is None:
        raise ConfigError(f"unknown model {short(name)}; known models are {', '.join(FAMILIES)}")
    return family if config is None else family.specialize(config)


def of(generator) -> Family:
    """The family of a generator that a family built (its config's type tells which)."""
    config = getattr(generator, "config", None)
    for family in FAMILIES.values():
        if isinstance(config, family.generator_config):
            return family.specialize(config)
    raise ConfigError(f"{type(generator).__name__} belongs to no registered family")


def build(name: str, role: str, config) -> object:
    """The ``role`` ("generator" or "discriminator") of family ``name`` from its config (the
    dataclass or a mapping)."""
    family = get(name)
    return family.generator_from(config) if role == "generator" else family.discriminator_from(config)


def example_input(generator, batch: int = 1, size: int | None = None) -> tuple:
    """Positional inputs for one forward pass of ``generator`` (of any registered family), on its
    device and in its floating dtype; ``size``: the image side of image-to-image generators
    (default 256, the papers' resolution)."""
    return of(generator).example_input(generator, batch, size)


for _family in (SinGAN(), DCGAN(), Resnet(), Unet(), UserModule()):
    register(_family)

__all__ = ["FAMILIES", "Family", "build", "example_input", "get", "of", "register"]
