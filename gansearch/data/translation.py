"""Image-to-image translation data in the folder layouts of the reference pix2pix / CycleGAN code.

- ``aligned`` (pix2pix): ``ROOT/train/``, ``ROOT/val/``, ``ROOT/test/``, each image the source A
  and the target B side by side (A left); ``direction: BtoA`` swaps them.
- ``unaligned`` (CycleGAN): ``ROOT/trainA/``, ``ROOT/trainB/``, ``ROOT/testA/``, ``ROOT/testB/``:
  two image sets with no pairing; every A comes with a B drawn at random (in order for testing).

Preprocessing follows the reference's defaults (``--preprocess resize_and_crop``): for
training, resize to ``load_size`` (bicubic), take a random ``image_size`` crop (the same for A
and B of a pair) and flip it horizontally half of the time; for testing, resize to
``image_size``. Items are (source, target) tensors in [-1, 1]; ``paired`` says whether the
target is the source's ground truth.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from gansearch.data.images import IMAGE_SUFFIXES, to_tensor
from gansearch.errors import ConfigError, ResourceMissingError


def image_files(folder: Path, what: str) -> list[Path]:
    """The image files of ``folder`` (not its subfolders), sorted; one line if it has none."""
    if not folder.is_dir():
        raise ResourceMissingError(f"{folder}: no such folder; {what}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise ResourceMissingError(f"{folder}: no images in it ({', '.join(IMAGE_SUFFIXES)}); {what}")
    return files


class _Translation(Dataset):
    paired = True

    def __init__(self, image_size: int, load_size: int | None, channels: int, train: bool,
                 flip: bool) -> None:
        load_size = load_size or image_size * 286 // 256  # the reference's 286 for 256
        if load_size < image_size:
            raise ConfigError(f"data.load_size {load_size} must be at least data.image_size {image_size}")
        self.image_size, self.load_size, self.channels = image_size, load_size, channels
        self.train, self.flip = train, flip

    def _read(self, path: Path) -> np.ndarray:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as im:
                return np.asarray(im.convert("RGB"))
        except (UnidentifiedImageError, OSError) as exc:
            raise ConfigError(f"{path}: not a readable image ({exc})") from None

    def _prepare(self, *arrays: np.ndarray) -> list[Tensor]:
        """The same resize, crop and flip for every image of one item."""
        from PIL import Image

        side = self.load_size if self.train else self.image_size
        images = [to_tensor(np.asarray(Image.fromarray(a).resize((side, side), Image.BICUBIC)),
                            self.channels) for a in arrays]
        if self.train:
            top, left = (int(torch.randint(0, side - self.image_size + 1, ())) for _ in range(2))
            images = [x[:, top: top + self.image_size, left: left + self.image_size] for x in images]
            if self.flip and torch.rand(()) < 0.5:
                images = [x.flip(-1) for x in images]
        return images


class AlignedPairs(_Translation):
    """pix2pix's aligned layout: each file of ``root/split`` holds A and B side by side."""

    def __init__(self, root: str | Path, split: str, image_size: int, *, direction: str = "AtoB",
                 load_size: int | None = None, channels: int = 3, train: bool = True,
                 flip: bool = True) -> None:
        super().__init__(image_size, load_size, channels, train, flip)
        self.files = image_files(Path(root) / split, f"the aligned layout has {split}/ with A|B images")
        self.direction = direction

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        ab = self._read(self.files[i])
        half = ab.shape[1] // 2
        a, b = self._prepare(ab[:, :half], ab[:, half: 2 * half])
        return (a, b) if self.direction == "AtoB" else (b, a)


class UnalignedSets(_Translation):
    """CycleGAN's unaligned layout: ``root/<split>A`` and ``root/<split>B``, unpaired."""

    paired = False

    def __init__(self, root: str | Path, split: str, image_size: int, *, direction: str = "AtoB",
                 load_size: int | None = None, channels: int = 3, train: bool = True,
                 flip: bool = True) -> None:
        super().__init__(image_size, load_size, channels, train, flip)
        what = f"the unaligned layout has {split}A/ and {split}B/"
        a, b = image_files(Path(root) / f"{split}A", what), image_files(Path(root) / f"{split}B", what)
        self.sources, self.targets = (a, b) if direction == "AtoB" else (b, a)

    def __len__(self) -> int:
        return max(len(self.sources), len(self.targets))

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        j = int(torch.randint(0, len(self.targets), ())) if self.train else i % len(self.targets)
        source, target = self._prepare(self._read(self.sources[i % len(self.sources)]))[0], \
            self._prepare(self._read(self.targets[j]))[0]
        return source, target


def held_out_split(root: str | Path, source: str) -> str:
    """The split quality is measured on: ``test``, or ``val`` for aligned sets that have no test/."""
    root = Path(root)
    if source == "aligned" and not (root / "test").is_dir() and (root / "val").is_dir():
        return "val"
    return "test"
