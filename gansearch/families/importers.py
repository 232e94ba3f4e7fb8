"""``gansearch import``: generators trained elsewhere, as gansearch teacher checkpoints.

Formats (``IMPORTERS``):

- ``pix2pix``: a state dict written by the reference pix2pix / CycleGAN code
  (``latest_net_G.pth``) of ``resnet_9blocks``, ``resnet_6blocks``, ``unet_128`` or ``unet_256``,
  batch or instance norm, with or without dropout. The architecture is read from the tensors'
  names and shapes (flags override and are checked against them); the InstanceNorm running
  statistics that older checkpoints carry are dropped, as the reference loader drops them.
  ``latest_net_D.pth`` (its PatchGAN) may come along.
- ``dcgan``: the generator of the PyTorch examples' DCGAN (``netG_epoch_N.pth``; its ``main.``
  layers are gansearch's DCGAN ``net.`` layers).
- ``module``: any ``nn.Module`` of the user's, named by ``package.module:factory`` (or
  ``file.py:factory``) with keyword arguments, and the input it takes.

Every file loads with ``weights_only=True``; the state dict must fit the architecture exactly
(``load_state_dict(strict=True)``), else one line lists the missing and unexpected keys.
"""

from __future__ import annotations

import hashlib
import pickle
import re
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gansearch.config import from_dict, to_dict
from gansearch.errors import CheckpointError, ConfigError, first_line, short
from gansearch.families.module import ModuleConfig, UserGenerator
from gansearch.models.dcgan import DCGANConfig, DCGANGenerator
from gansearch.models.resnet import PatchGANConfig, PatchGANDiscriminator, ResnetConfig, ResnetGenerator
from gansearch.models.unet import UnetConfig, UnetGenerator

# The reference code's --netG choices: (family, what they fix).
PIX2PIX_GENERATORS = {
    "resnet_9blocks": ("resnet", {"n_blocks": 9}),
    "resnet_6blocks": ("resnet", {"n_blocks": 6}),
    "unet_128": ("unet", {"num_downs": 7}),
    "unet_256": ("unet", {"num_downs": 8}),
}


@dataclass
class Imported:
    """What an importer made: the family, its modules, and notes for the user."""

    model: str
    generator: nn.Module
    discriminator: nn.Module | None = None
    notes: list[str] = field(default_factory=list)
    source: dict[str, Any] = field(default_factory=dict)  # what was imported, for the record


# -- reading -----------------------------------------------------------------------------------


def read_state_dict(path: str | Path, what: str = "weights") -> dict[str, Tensor]:
    """A state dict (names to tensors) from ``path``, loaded with ``weights_only=True``; a file
    whose state dict sits under one key (``state_dict``, ``model``, ``generator``, ``netG``) is
    opened, and a ``module.`` prefix (DataParallel) removed."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such {what} file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(f"{path}: holds Python objects other than tensors (a pickled model?); save "
                              "model.state_dict() instead: code in a file is never run") from None
    except Exception as exc:
        raise CheckpointError(f"{path}: not a loadable {what} file ({type(exc).__name__}: "
                              f"{first_line(exc)})") from None
    if isinstance(data, Mapping) and not _is_state_dict(data):
        inner = [k for k in ("state_dict", "model", "generator", "netG", "G") if _is_state_dict(data.get(k))]
        if inner:
            data = data[inner[0]]
    if not _is_state_dict(data):
        raise CheckpointError(f"{path}: not a state dict (a mapping of parameter names to tensors); found "
                              f"{type(data).__name__}")
    if all(k.startswith("module.") for k in data):
        data = {k[len("module."):]: v for k, v in data.items()}
    return dict(data)


def _is_state_dict(data: Any) -> bool:
    return isinstance(data, Mapping) and bool(data) and all(
        isinstance(k, str) and isinstance(v, Tensor) for k, v in data.items())


def fingerprint(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def load_exactly(module: nn.Module, state: Mapping[str, Tensor], path: Path, what: str) -> nn.Module:
    """``module.load_state_dict(state, strict=True)``, its complaints in one line."""
    ours = module.state_dict()
    missing = [k for k in ours if k not in state]
    unexpected = [k for k in state if k not in ours]
    shapes = [f"{k} {tuple(state[k].shape)} (expected {tuple(ours[k].shape)})"
              for k in ours if k in state and state[k].shape != ours[k].shape]
    if missing or unexpected or shapes:
        parts = [f"{len(missing)} missing ({_few(missing)})" if missing else "",
                 f"{len(unexpected)} unexpected ({_few(unexpected)})" if unexpected else "",
                 f"shapes differ: {_few(shapes)}" if shapes else ""]
        raise CheckpointError(f"{path}: does not fit {what}: " + "; ".join(p for p in parts if p))
    module.load_state_dict(state, strict=True)
    return module.eval()


def _few(items: list[str], n: int = 3) -> str:
    return ", ".join(items[:n]) + (f", ... {len(items) - n} more" if len(items) > n else "")


# -- pix2pix / CycleGAN ------------------------------------------------------------------------


def import_pix2pix(weights: str | Path, *, generator: str | None = None, ngf: int | None = None,
                   norm: str | None = None, dropout: bool | None = None,
                   discriminator: str | Path | None = None, **_: Any) -> Imported:
    path = Path(weights)
    state = read_state_dict(path)
    unet = any(k.startswith("model.model.") for k in state)
    layout = _unet_layout(state) if unet else _resnet_layout(state)
    if generator is not None:
        if generator not in PIX2PIX_GENERATORS:
            raise ConfigError(f"--generator {short(generator)}: use one of {', '.join(PIX2PIX_GENERATORS)}")
        family, fixed = PIX2PIX_GENERATORS[generator]
        if family != ("unet" if unet else "resnet") or any(layout[k] != v for k, v in fixed.items()):
            raise CheckpointError(f"{path}: holds a {_describe(layout, unet)} generator, not {generator}; "
                                  "drop --generator to read it from the file")
    notes = []
    for name, value, found in (("ngf", ngf, layout["filters"]), ("norm", norm, layout["norm"])):
        if value is not None and value != found:
            raise CheckpointError(f"{path}: its tensors say {name} {found}, not {value}")
    if unet:
        layout["dropout"] = bool(dropout)  # dropout has no tensors: the file cannot say
        notes.append(f"U-Net dropout {'on' if dropout else 'off'} for fine-tuning (the file cannot say; "
                     f"{'--no-dropout' if dropout else '--dropout'} for the other; no effect on outputs)")
    elif dropout is not None and dropout != layout["dropout"]:
        raise CheckpointError(f"{path}: its tensors say dropout {layout['dropout']}, not {dropout}")
    cls, cfg_cls, model = (UnetGenerator, UnetConfig, "unet") if unet else \
        (ResnetGenerator, ResnetConfig, "resnet")
    config = from_dict(cfg_cls, layout, "generator")
    net = cls(config)
    state = _drop_instance_stats(net, state)
    load_exactly(net, state, path, f"a {_describe(layout, unet)} generator")
    imported = Imported(model, net, notes=notes, source={"format": "pix2pix", "weights": str(path.resolve()),
                                                            "sha256": fingerprint(path)})
    if discriminator is not None:
        imported.discriminator = _patchgan(Path(discriminator))
        imported.source["discriminator"] = str(Path(discriminator).resolve())
    return imported


def _resnet_layout(state: Mapping[str, Tensor]) -> dict[str, Any]:
    first = _get(state, "model.1.weight", "a pix2pix/CycleGAN ResNet or U-Net generator")
    blocks = sorted({int(m.group(1)) for k in state if (m := re.match(r"model\.(\d+)\.conv_block\.", k))})
    convs = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(r"model\.(\d+)\.weight", k))
                   and state[k].dim() == 4)
    downs = [i for i in convs if 1 < i < (blocks[0] if blocks else convs[-1])]
    last = state[f"model.{convs[-1]}.weight"]
    return {"input_channels": first.shape[1], "output_channels": last.shape[0], "filters": first.shape[0],
            "n_blocks": len(blocks), "n_downsampling": len(downs),
            "norm": "batch" if "model.2.weight" in state else "instance",
            # With dropout the second conv of a block moves from index 5 to 6 (norms at 6 are 1-D).
            "dropout": any(k.endswith("conv_block.6.weight") and v.dim() == 4 for k, v in state.items())}


def _unet_layout(state: Mapping[str, Tensor]) -> dict[str, Any]:
    first = _get(state, "model.model.0.weight", "a pix2pix U-Net generator")
    # Each level nests in the one above as its .model: the deepest key names them all, below
    # the generator's own .model.
    depth = max(k.split(".").count("model") for k in state) - 1
    outer_up = _get(state, "model.model.3.weight", "a pix2pix U-Net generator")
    return {"input_channels": first.shape[1], "output_channels": outer_up.shape[1], "filters": first.shape[0],
            "num_downs": depth, "norm": "batch" if "model.model.1.model.2.weight" in state else "instance"}


def _describe(layout: dict[str, Any], unet: bool) -> str:
    kind = f"U-Net with {layout['num_downs']} downsamplings" if unet else \
        f"ResNet with {layout['n_blocks']} blocks"
    return f"{kind}, ngf {layout['filters']}, {layout['norm']} norm"


def _get(state: Mapping[str, Tensor], key: str, what: str) -> Tensor:
    if key not in state:
        raise CheckpointError(f"no tensor {key}: not {what} (its first keys: {_few(list(state))})")
    return state[key]


def _drop_instance_stats(net: nn.Module, state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Without the running statistics that InstanceNorm layers of PyTorch 0.3 saved (as the
    reference code's loader, which deletes them)."""
    norms = {name for name, m in net.named_modules() if isinstance(m, nn.InstanceNorm2d)
             and not m.track_running_stats}
    stale = ("running_mean", "running_var", "num_batches_tracked")
    return {k: v for k, v in state.items()
            if not (k.rsplit(".", 1)[0] in norms and k.rsplit(".", 1)[-1] in stale)}


def _patchgan(path: Path) -> PatchGANDiscriminator:
    state = read_state_dict(path, "discriminator")
    first = _get(state, "model.0.weight", "a pix2pix PatchGAN (NLayerDiscriminator)")
    convs = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(r"model\.(\d+)\.weight", k))
                   and state[k].dim() == 4)
    norm = "batch" if "model.3.weight" in state and state["model.3.weight"].dim() == 1 else "instance"
    config = PatchGANConfig(input_channels=first.shape[1], filters=first.shape[0], n_layers=len(convs) - 2,
                            norm=norm)
    net = PatchGANDiscriminator(config)
    return load_exactly(net, _drop_instance_stats(net, state), path, "a PatchGAN discriminator")


# -- the PyTorch examples' DCGAN ---------------------------------------------------------------------


def import_dcgan(weights: str | Path, **_: Any) -> Imported:
    path = Path(weights)
    state = read_state_dict(path)
    if any(k.startswith("main.") for k in state):
        state = {"net." + k[len("main."):]: v for k, v in state.items()}
    convs = sorted((int(m.group(1)), k) for k in state if (m := re.fullmatch(r"net\.(\d+)\.weight", k))
                   and state[k].dim() == 4)
    if len(convs) < 2:
        raise CheckpointError(f"{path}: not a DCGAN generator (no main.N.weight transposed convolutions; "
                              f"its first keys: {_few(list(state))})")
    first, last = state[convs[0][1]], state[convs[-1][1]]
    ups = len(convs) - 1
    config = DCGANConfig(image_size=4 * 2**ups, channels=last.shape[1], latent_dim=first.shape[0],
                         filters=first.shape[1] // 2 ** (ups - 1))
    side = config.image_size
    net = load_exactly(DCGANGenerator(config), state, path,
                       f"a {side}x{side} DCGAN generator (nz {config.latent_dim}, ngf {config.filters})")
    return Imported("dcgan", net, source={"format": "dcgan", "weights": str(path.resolve()),
                                          "sha256": fingerprint(path)})


# -- the user's own module ---------------------------------------------------------------------------


def import_module(weights: str | Path, *, module: str | None = None, kwargs: dict[str, Any] | None = None,
                  input: str | None = None, **_: Any) -> Imported:  # noqa: A002 - the CLI's --input
    if not module or not input:
        raise ConfigError("import module needs --module package.module:factory and --input (latent:N or "
                          "image:CxHxW)")
    path = Path(weights)
    state = read_state_dict(path)
    config = ModuleConfig(factory=module, input=input, kwargs=dict(kwargs or {}))
    generator = UserGenerator(config)
    load_exactly(generator, {f"net.{k}": v for k, v in state.items()}, path, f"the module {module} builds")
    with torch.no_grad():  # it must run on the input it says it takes
        try:
            generator(*_probe(config))
        except Exception as exc:
            raise ConfigError(f"{module} does not run on --input {input} ({type(exc).__name__}: "
                              f"{first_line(exc)})") from None
    return Imported("module", generator, source={"format": "module", "weights": str(path.resolve()),
                                                 "sha256": fingerprint(path)})


def _probe(config: ModuleConfig) -> tuple[Tensor]:
    return (torch.randn(2, *config.shape),)


IMPORTERS: dict[str, Callable[..., Imported]] = {"pix2pix": import_pix2pix, "dcgan": import_dcgan,
                                                 "module": import_module}


def import_generator(fmt: str, weights: str | Path, **options: Any) -> Imported:
    if fmt not in IMPORTERS:
        raise ConfigError(f"unknown format {short(fmt)}; formats are {', '.join(IMPORTERS)}")
    return IMPORTERS[fmt](weights, **options)


def teacher_meta(imported: Imported, data: dict[str, Any] | None, train: dict[str, Any] | None
                 ) -> dict[str, Any]:
    """What a teacher checkpoint records of an import: a teacher config without training."""
    return {"config": {"model": imported.model, "data": data, "train": train or {},
                       "generator": to_dict(imported.generator.config)},
            "imported": imported.source}
