"""Small data sets in the folder layouts of the reference pix2pix and CycleGAN code, made from
scikit-image's bundled photographs (nothing is downloaded)."""

from pathlib import Path

import numpy as np
import skimage.data
from PIL import Image

PHOTOS_A = ("astronaut", "coffee", "chelsea", "rocket")
PHOTOS_B = ("immunohistochemistry", "hubble_deep_field", "motorcycle_left", "coffee")


def _photo(name: str, side: int, offset: int = 0) -> np.ndarray:
    stereo = name == "motorcycle_left"
    image = skimage.data.stereo_motorcycle()[0] if stereo else getattr(skimage.data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, -1)
    h, w = image.shape[:2]
    s = min(h, w) - offset
    return np.asarray(Image.fromarray(image[offset: offset + s, offset: offset + s, :3]).resize((side, side)))


def aligned_folder(root: Path, side: int = 40, per_split: int = 3) -> Path:
    """pix2pix's layout: train/ and test/ of A|B images, A a grey version of the photo B."""
    for split, offset in (("train", 0), ("test", 7)):
        (root / split).mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(PHOTOS_A[:per_split]):
            b = _photo(name, side, offset + i)
            a = np.repeat(b.mean(-1, keepdims=True), 3, -1).astype(np.uint8)
            Image.fromarray(np.concatenate([a, b], 1)).save(root / split / f"{i}.png")
    return root


def unaligned_folder(root: Path, side: int = 40, per_split: int = 3) -> Path:
    """CycleGAN's layout: trainA/, trainB/, testA/, testB/ of unrelated photographs."""
    for split, offset in (("train", 0), ("test", 7)):
        for domain, names in (("A", PHOTOS_A), ("B", PHOTOS_B)):
            (root / f"{split}{domain}").mkdir(parents=True, exist_ok=True)
            for i, name in enumerate(names[:per_split]):
                Image.fromarray(_photo(name, side, offset + i)).save(root / f"{split}{domain}" / f"{i}.jpg")
    return root
