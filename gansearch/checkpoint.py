"""Checkpoints: a generator (and its discriminator) with the configs that rebuild them.

Weights are stored as a deployed model has them: pruning masks folded in, pruned channels
gone, in their own dtype. The file holds only tensors and plain Python values, so it loads with
``weights_only=True`` and no code from the file ever runs; the generator is rebuilt by its
family (``gansearch.families``) from the config. A family whose config names code of the
user's (``module``) is only built when the caller trusts the file (``trust_code``). The file is
written to a temporary name and renamed into place, so an interrupted save leaves no
half-written checkpoint.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from gansearch import families
from gansearch.config import to_dict
from gansearch.errors import CheckpointError, ConfigError, first_line, short
from gansearch.metrics.cost import stored_tensors
from gansearch.models.compressed import describe, rebuild

FORMAT = "gansearch.checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    model: str  # family name, a key of gansearch.families.FAMILIES
    generator: nn.Module
    discriminator: nn.Module | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # training config, history, data

    @property
    def family(self) -> families.Family:
        return families.get(self.model, self.generator.config)


def save_checkpoint(path: str | Path, ckpt: Checkpoint) -> Path:
    path = Path(path)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model": ckpt.model,
        "generator_config": to_dict(ckpt.generator.config),
        "generator": stored_tensors(ckpt.generator),
        "generator_architecture": describe(ckpt.generator),
        "discriminator_config": None,
        "discriminator": None,
        "meta": ckpt.meta,
    }
    if ckpt.discriminator is not None:
        payload["discriminator_config"] = to_dict(ckpt.discriminator.config)
        payload["discriminator"] = stored_tensors(ckpt.discriminator)
        payload["discriminator_architecture"] = describe(ckpt.discriminator)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu", *,
                    trust_code: bool = False) -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint` (``weights_only=True``).

    ``trust_code``: build generators whose family runs code the file names (a user module);
    without it such a file is refused in one line.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file; train one with 'gansearch train' or "
                              "bring one in with 'gansearch import'")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols before refusing
            warnings.simplefilter("ignore", UserWarning)
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(f"{path}: not a loadable checkpoint (it holds Python objects other than "
                              f"tensors and plain values; refused, checkpoints load weights only)") from None
    except Exception as exc:  # unpickling errors come in many types; report them as one
        raise CheckpointError(
            f"{path}: not a loadable checkpoint ({type(exc).__name__}: {first_line(exc)})"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a gansearch checkpoint (no '{FORMAT}' header)")
    if payload.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {payload.get('version')} is not supported "
            f"(this gansearch reads version {VERSION})"
        )
    try:
        family = families.get(payload.get("model"))
    except ConfigError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    if family.needs_code and not trust_code:
        raise CheckpointError(
            f"{path}: its generator is built by calling {_factory(payload)}, code on this machine that the "
            "file names; load it only if you trust the file: --trust-code on the command line, "
            "trust_code: true under teacher: in a search space")
    try:
        generator = _restore(family, "generator", payload)
        discriminator = (
            _restore(family, "discriminator", payload) if payload.get("discriminator") is not None else None
        )
    except Exception as exc:  # shapes, keys and configs that do not fit come in many types
        raise CheckpointError(f"{path}: checkpoint does not match its model ({type(exc).__name__}: "
                              f"{first_line(exc)})") from None
    meta = payload.get("meta") or {}
    if not isinstance(meta, dict):
        raise CheckpointError(f"{path}: its meta is a {type(meta).__name__}, not a mapping")
    return Checkpoint(payload["model"], generator, discriminator, meta)


def _restore(family: families.Family, role: str, payload: dict[str, Any]) -> nn.Module:
    # A compressed model is its config's architecture with fewer channels, factorized or int8
    # layers: build the original, replay those changes, and take the stored tensors as they are
    # (assign=True keeps their dtype, e.g. a half-precision student).
    config = payload[f"{role}_config"]
    built = family.generator_from(config) if role == "generator" else family.discriminator_from(config)
    module = rebuild(built, payload.get(f"{role}_architecture"), payload[role])
    module.load_state_dict(payload[role], assign=True)
    return module.eval()


def _factory(payload: dict[str, Any]) -> str:
    config = payload.get("generator_config")
    return short(config.get("factory")) if isinstance(config, dict) else "a function"
