"""Image sets for DCGAN-style training and paired sets for image translation.

Every set is a ``torch.utils.data.Dataset`` of float tensors in [-1, 1]:
- ``digits``: scikit-learn's 1,797 8x8 handwritten digits (bundled), upsampled;
- ``faces``: scikit-image's lfw_subset, 200 25x25 grey faces (bundled), resized;
- ``folder``: every image file under a folder of the user's, resized and centre-cropped;
- ``torchvision``: any torchvision data set by class name, read from a local root
  (downloaded only when asked to);
- ``edges2photos``: paired (edges, photo) crops cut from the bundled photographs, the
  edges-to-photo translation task of pix2pix in miniature. Train and test use different photos.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, Subset, TensorDataset

from gansearch.data.images import IMAGE_SUFFIXES, load_image, resize, to_tensor
from gansearch.errors import ConfigError, ResourceMissingError

# Colour photographs of the edges2photos set; the test split uses photographs train never sees.
PAIRED_TRAIN_PHOTOS = ("astronaut", "coffee", "rocket", "immunohistochemistry", "motorcycle_left",
                       "hubble_deep_field")
PAIRED_TEST_PHOTOS = ("chelsea", "motorcycle_right")


def digits(image_size: int = 16, channels: int = 1) -> TensorDataset:
    x = torch.from_numpy(digit_images() / 16.0)[:, None]  # (N,1,8,8)
    return TensorDataset(_fit(x * 2 - 1, image_size, channels))


def digit_images() -> np.ndarray:
    """scikit-learn's 1797 bundled 8x8 digits (values 0..16), as ``load_digits().images``.
    Read from the file scikit-learn ships, when it is where scikit-learn keeps it: importing
    scikit-learn takes seconds, paid again by every Ray worker that loads the data."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    shipped = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz" if (
        spec and spec.submodule_search_locations) else None
    if shipped is None or not shipped.is_file():
        from sklearn.datasets import load_digits

        return load_digits().images.astype(np.float32)
    table = np.loadtxt(shipped, delimiter=",", dtype=np.float32)  # 64 pixels, then the label
    return table[:, :-1].reshape(-1, 8, 8)


def faces(image_size: int = 32, channels: int = 1) -> TensorDataset:
    import skimage.data

    x = torch.from_numpy(skimage.data.lfw_subset().astype(np.float32))[:, None]  # (200,1,25,25)
    return TensorDataset(_fit(x * 2 - 1, image_size, channels))


def folder(path: str | Path, image_size: int = 64, channels: int = 3) -> TensorDataset:
    root = Path(path)
    if not root.is_dir():
        raise ResourceMissingError(f"{root}: no such folder; data.path must name a folder of images")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ResourceMissingError(
            f"{root}: no images found (looked for {', '.join(IMAGE_SUFFIXES)} files)"
        )
    return TensorDataset(torch.stack([_square(load_image(f, channels=channels), image_size)
                                      for f in files]))


def torchvision_set(name: str, root: str | Path, image_size: int = 32, channels: int = 3,
                    download: bool = False) -> Dataset:
    """A torchvision data set read from ``root``; ``download=True`` fetches it there first."""
    import torchvision.datasets as tvd
    from torchvision import transforms

    cls = getattr(tvd, name, None)
    if not (inspect.isclass(cls) and issubclass(cls, Dataset)):
        raise ConfigError(f"data.dataset: torchvision has no data set named {name!r} (e.g. MNIST, "
                          "CIFAR10, CelebA)")
    tf = transforms.Compose([
        transforms.Grayscale(channels) if channels == 1 else transforms.Lambda(_rgb),
        transforms.Resize(image_size),
        transforms.CenterCrop(image_size),
        transforms.ToTensor(),
        transforms.Normalize([0.5] * channels, [0.5] * channels),
    ])
    params = inspect.signature(cls).parameters
    split = {"train": True} if "train" in params else {"split": "train"} if "split" in params else {}
    try:
        ds = cls(root=str(root), download=download, transform=tf, **split)
    except RuntimeError as exc:
        raise ResourceMissingError(
            f"torchvision data set {name} not found under {root} ({exc}); copy it there, or set "
            "data.download: true on a machine that can reach the internet"
        ) from None
    return _ImagesOnly(ds)


def edges2photos(image_size: int = 64, count: int = 64, split: str = "train", seed: int = 0
                 ) -> TensorDataset:
    """``count`` pairs (edges, photo) of ``image_size`` squares: inputs are black-on-white Canny
    edge maps, targets the photo crops, both 3-channel like pix2pix's edges2shoes."""
    from skimage.feature import canny

    photos = {"train": PAIRED_TRAIN_PHOTOS, "test": PAIRED_TEST_PHOTOS}.get(split)
    if photos is None:
        raise ConfigError(f"data.split must be 'train' or 'test', got {split!r}")
    rng = np.random.default_rng(seed)
    sources = [load_image(name, channels=3) for name in photos]
    edges, targets = [], []
    for i in range(count):
        photo = sources[i % len(sources)]
        h, w = photo.shape[-2:]
        crop = int(rng.integers(min(h, w) // 3, min(h, w) // 2 + 1))  # a random square crop
        top, left = int(rng.integers(0, h - crop + 1)), int(rng.integers(0, w - crop + 1))
        target = resize(photo[:, top: top + crop, left: left + crop], size=(image_size, image_size))
        grey = ((target[0] * 0.299 + target[1] * 0.587 + target[2] * 0.114) + 1) / 2
        edge = canny(grey.numpy(), sigma=1.0)
        edges.append(to_tensor((~edge).astype(np.float32), 3))
        targets.append(target)
    return TensorDataset(torch.stack(edges), torch.stack(targets))


def take_fraction(ds: Dataset, fraction: float, seed: int = 0) -> Dataset:
    """A fixed random ``fraction`` of ``ds`` (for reduced-data training, e.g. 10%)."""
    if not 0 < fraction <= 1:
        raise ConfigError(f"data.fraction must be in (0, 1], got {fraction}")
    if fraction == 1:
        return ds
    n = max(1, round(len(ds) * fraction))
    idx = torch.randperm(len(ds), generator=torch.Generator().manual_seed(seed))[:n]
    return Subset(ds, idx.tolist())


class _ImagesOnly(Dataset):
    """Drops the labels of a labelled data set: GAN training needs images only."""

    def __init__(self, ds: Dataset) -> None:
        self.ds = ds

    def __len__(self) -> int:
        return len(self.ds)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> tuple[Tensor]:
        item = self.ds[i]
        return (item[0] if isinstance(item, (tuple, list)) else item,)


def _rgb(img):  # PIL image -> RGB (a named function so the transform pickles for workers)
    return img.convert("RGB")


def _fit(x: Tensor, image_size: int, channels: int) -> Tensor:
    x = resize(x, size=(image_size, image_size))
    return x.expand(-1, channels, -1, -1).contiguous() if channels != x.shape[1] else x


def _square(image: Tensor, size: int) -> Tensor:
    """Resize the short side to ``size``, then centre-crop to ``size`` x ``size``."""
    h, w = image.shape[-2:]
    image = resize(image, size / min(h, w))
    h, w = image.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return image[:, top: top + size, left: left + size]
