"""The ``data:`` section of a training config, and the one function that loads it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from torch import Tensor
from torch.utils.data import Dataset

from gansearch.config import check_range, check_seed
from gansearch.data import sets, translation
from gansearch.data.images import load_image
from gansearch.errors import ConfigError

Source = Literal["image", "digits", "faces", "folder", "torchvision", "edges2photos", "aligned", "unaligned"]


@dataclass(frozen=True)
class DataConfig:
    source: Source
    name: str | None = None  # image: bundled name or file path; torchvision: class (MNIST, ...)
    path: str | None = None  # folder: the folder; torchvision: the data set root; aligned/unaligned: ROOT
    image_size: int = 32  # side of the square images of sets (aligned/unaligned: the crop size)
    channels: int | None = None  # default: 3 for photos and folders, 1 for digits and faces
    max_size: int = 250  # image: long side of the finest SinGAN scale
    count: int = 64  # edges2photos: number of pairs
    split: Literal["train", "val", "test"] = "train"  # edges2photos, aligned, unaligned: which part
    direction: Literal["AtoB", "BtoA"] = "AtoB"  # aligned/unaligned: which side is the source
    load_size: int | None = None  # aligned/unaligned: resize before the random crop (default 286/256 x)
    flip: bool = True  # aligned/unaligned: random horizontal flips while training
    fraction: float = 1.0  # keep this fraction of a set (reduced-data training)
    download: bool = False  # torchvision: download into path if absent
    seed: int = 0  # crops and fractions

    def __post_init__(self) -> None:
        check_range("data.image_size", self.image_size, 4)
        check_seed("data.seed", self.seed)
        check_range("data.max_size", self.max_size, 8)
        check_range("data.count", self.count, 1)
        check_range("data.fraction", self.fraction, 0, 1, low_open=True)
        if self.channels is not None and self.channels not in (1, 3):
            raise ConfigError(f"data.channels must be 1 or 3, got {self.channels}")
        if self.load_size is not None:
            check_range("data.load_size", self.load_size, self.image_size)
        needs = {"image": "name", "torchvision": "name", "folder": "path", "aligned": "path",
                 "unaligned": "path"}.get(self.source)
        if needs and getattr(self, needs) is None:
            raise ConfigError(f"data.{needs} is required when data.source is {self.source!r}")
        if self.source == "torchvision" and self.path is None:
            raise ConfigError("data.path is required for torchvision: the folder that holds the set")

    @property
    def resolved_channels(self) -> int:
        if self.channels is not None:
            return self.channels
        return 1 if self.source in ("digits", "faces") else 3


def load_data(cfg: DataConfig) -> Tensor | Dataset:
    """A (1, C, H, W) image for ``image``; a Dataset for every other source."""
    c = cfg.resolved_channels
    if cfg.source == "image":
        return load_image(cfg.name, channels=c, max_size=cfg.max_size)[None]
    if cfg.source == "digits":
        ds = sets.digits(cfg.image_size, c)
    elif cfg.source == "faces":
        ds = sets.faces(cfg.image_size, c)
    elif cfg.source == "folder":
        ds = sets.folder(cfg.path, cfg.image_size, c)
    elif cfg.source == "torchvision":
        ds = sets.torchvision_set(cfg.name, cfg.path, cfg.image_size, c, cfg.download)
    elif cfg.source in ("aligned", "unaligned"):
        kind = translation.AlignedPairs if cfg.source == "aligned" else translation.UnalignedSets
        ds = kind(cfg.path, cfg.split, cfg.image_size, direction=cfg.direction, load_size=cfg.load_size,
                  channels=c, train=cfg.split == "train", flip=cfg.flip)
    else:
        ds = sets.edges2photos(cfg.image_size, cfg.count, cfg.split, cfg.seed)
    return sets.take_fraction(ds, cfg.fraction, cfg.seed)
