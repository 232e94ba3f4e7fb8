"""Inception-v3 features as the FID literature computes them, and where the weights come from.

Two weight files fit the network:
- ``fid`` (default): ``pt_inception-2015-12-05-6726825d.pth``, pytorch-fid's port of the
  TensorFlow graph that FID (Heusel et al. 2017) and KID were defined on. Its blocks differ a
  little from torchvision's: average pools that ignore padding, a max pool in the last block
  and 1008 classes. Use it for numbers comparable with papers.
- ``torchvision``: ``inception_v3_google-0cc3c7bd.pth``, torchvision's IMAGENET1K_V1, the
  network SinGAN's SIFID code used.

The weights are read, in this order, from ``InceptionConfig.path``, from the file named by the
environment variable ``GANSEARCH_INCEPTION_WEIGHTS``, or from the torch hub cache
(``$TORCH_HOME/hub/checkpoints``, where torchvision and pytorch-fid keep them too). Only with
``InceptionConfig(download=True)`` is a missing file fetched into that cache; otherwise a
missing file is a ``ResourceMissingError`` saying which file to put where. A file given by path
is used as what it is: its classifier size says which of the two networks it belongs to.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.models.inception import (
    BasicConv2d,
    Inception3,
    InceptionA,
    InceptionAux,
    InceptionB,
    InceptionC,
    InceptionD,
    InceptionE,
)

from gansearch.config import check_choice
from gansearch.errors import ConfigError, ResourceMissingError
from gansearch.metrics.batching import batches, image_set, resolve_device

Variant = Literal["fid", "torchvision"]
WEIGHTS_ENV = "GANSEARCH_INCEPTION_WEIGHTS"
INPUT_SIZE = 299  # the resolution Inception-v3 was trained at; FID resizes every image to it
FEATURES = 2048  # pool3, the final average pool


@dataclass(frozen=True)
class WeightsFile:
    name: str
    url: str
    classes: int


WEIGHTS_FILES: dict[str, WeightsFile] = {
    "fid": WeightsFile(
        "pt_inception-2015-12-05-6726825d.pth",
        "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
        "pt_inception-2015-12-05-6726825d.pth",
        1008,
    ),
    "torchvision": WeightsFile(
        "inception_v3_google-0cc3c7bd.pth",
        "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth",
        1000,
    ),
}


@dataclass(frozen=True)
class InceptionConfig:
    weights: Variant = "fid"  # which file to look for in the cache (or download)
    path: str | None = None  # a local weights file; wins over the env variable and the cache
    download: bool = False  # fetch a missing file into the torch hub cache

    def __post_init__(self) -> None:
        check_choice("inception.weights", self.weights, WEIGHTS_FILES)


class Inception(Inception3):
    """Inception-v3 as a feature extractor, randomly initialized; ``load_inception`` loads weights.

    ``forward`` gives the 2048-d pool3 features of images in [-1, 1], resized to 299x299;
    ``early_features`` the 192-channel map SIFID uses; ``class_logits`` the classifier on pool3.
    """

    def __init__(self, variant: Variant = "fid") -> None:
        check_choice("inception variant", variant, WEIGHTS_FILES)
        fid = variant == "fid"
        blocks = [BasicConv2d, _TFInceptionA if fid else InceptionA, InceptionB,
                  _TFInceptionC if fid else InceptionC, InceptionD, _TFInceptionE if fid else InceptionE,
                  InceptionAux]
        super().__init__(num_classes=WEIGHTS_FILES[variant].classes, aux_logits=False,
                         init_weights=False, inception_blocks=blocks)
        if fid:
            self.Mixed_7c.pool = _max_pool  # the TF graph's last block max-pools (a quirk kept for FID)
        self.variant = variant
        self.eval().requires_grad_(False)

    def early_features(self, x: Tensor) -> Tensor:
        """(B, 192, h, w) at the image's own resolution: the last convolution before the second
        max pool, one feature vector per position (SinGAN, Shaham et al. 2019, sec. 4.2)."""
        x = _three_channels(x)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        return self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(self.maxpool1(x)))

    def forward(self, x: Tensor) -> Tensor:
        """(B, 2048) pool3 features of (B, C, H, W) images in [-1, 1]."""
        # Bilinear to 299 without antialiasing and no other normalization: both networks take
        # [-1, 1] input, as pytorch-fid and the TF FID code feed them.
        x = F.interpolate(_three_channels(x), size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear",
                          align_corners=False)
        x = self.maxpool2(self.early_features(x))
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                      self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b,
                      self.Mixed_7c):
            x = block(x)
        return self.avgpool(x).flatten(1)

    def class_logits(self, pool3: Tensor) -> Tensor:
        """Logits of the Inception Score: pool3 @ W without the fc layer's bias, as the original
        TF code (Salimans et al. 2016) and torch-fidelity compute them."""
        return pool3 @ self.fc.weight.T


def inception_features(images: Tensor, inception: Inception | None = None, *, batch_size: int = 50,
                       device: str | torch.device | None = None) -> Tensor:
    """(N, 2048) float64 pool3 features of ``images`` (N, C, H, W) in [-1, 1], on the CPU.

    ``inception`` defaults to ``load_inception()``; ``device`` to the network's device (the
    network is moved there).
    """
    images = image_set(images)
    net = inception if inception is not None else load_inception()
    device = resolve_device(device, next(net.parameters()).device)
    net = net.eval().to(device)
    with torch.inference_mode():
        return torch.cat([net(b).double().cpu() for b in batches(images, batch_size, device)])


def load_inception(config: InceptionConfig | None = None,
                   device: str | torch.device | None = None) -> Inception:
    """The pretrained network from the weights file ``config`` leads to (see the module doc)."""
    path = weights_path(config)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as exc:
        raise ResourceMissingError(f"{path}: not a readable weights file ({exc}); replace it with "
                                   f"{_file_names()}") from None
    if not isinstance(state, dict) or getattr(state.get("fc.weight"), "ndim", 0) != 2:
        raise ConfigError(f"{path}: not an Inception-v3 state dict; use {_file_names()}")
    classes = state["fc.weight"].shape[0]
    variant = next((v for v, f in WEIGHTS_FILES.items() if f.classes == classes), None)
    if variant is None:
        raise ConfigError(f"{path}: an Inception-v3 with {classes} classes fits neither known "
                          f"weights file; use {_file_names()}")
    # torchvision's file also holds the auxiliary classifier, which feature extraction never runs.
    for key in [k for k in state if k.startswith("AuxLogits.")]:
        del state[key]
    net = Inception(variant)
    missing, unexpected = net.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ConfigError(f"{path}: does not fit Inception-v3 ({len(missing)} missing keys, e.g. "
                          f"{missing[:2]}, {len(unexpected)} unexpected, e.g. {unexpected[:2]}); "
                          f"use {_file_names()}")
    return net.to(device) if device is not None else net


def weights_path(config: InceptionConfig | None = None) -> Path:
    """The local weights file: ``config.path``, else $GANSEARCH_INCEPTION_WEIGHTS, else the torch
    hub cache, downloaded there first only when ``config.download``."""
    config = config or InceptionConfig()
    named_by = "inception.path" if config.path else WEIGHTS_ENV
    given = config.path or os.environ.get(WEIGHTS_ENV)
    if given:
        path = Path(given).expanduser()
        if not path.is_file():
            raise ResourceMissingError(f"{path}: no such Inception weights file (named by {named_by}); "
                                       f"put {_file_names()} there or fix the path")
        return path
    file = WEIGHTS_FILES[config.weights]
    cached = weights_cache_dir() / file.name
    if cached.is_file():
        return cached
    if not config.download:
        raise ResourceMissingError(
            f"Inception weights not found: put {file.name} (from {file.url}) in {cached.parent}, "
            f"or set {WEIGHTS_ENV} to its path, or allow the download with InceptionConfig(download=True)"
        )
    cached.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(file.url, str(cached))
    except (OSError, RuntimeError) as exc:  # URLError is an OSError
        raise ResourceMissingError(f"could not download {file.url} ({exc}); put {file.name} in "
                                   f"{cached.parent} or set {WEIGHTS_ENV} to its path") from None
    return cached


def weights_cache_dir() -> Path:
    """Where downloaded weights live: ``$TORCH_HOME/hub/checkpoints`` (``~/.cache/torch/...``)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def _file_names() -> str:
    return " or ".join(f.name for f in WEIGHTS_FILES.values())


def _three_channels(x: Tensor) -> Tensor:
    return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x


# The TF graph's average pools leave the padding out of the average (count_include_pad=False);
# torchvision's count it. These blocks reuse torchvision's layers and change only the pooling.
def _tf_avg_pool(x: Tensor) -> Tensor:
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _max_pool(x: Tensor) -> Tensor:
    return F.max_pool2d(x, kernel_size=3, stride=1, padding=1)


class _TFInceptionA(InceptionA):
    def _forward(self, x: Tensor) -> list[Tensor]:
        return [
            self.branch1x1(x),
            self.branch5x5_2(self.branch5x5_1(x)),
            self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x))),
            self.branch_pool(_tf_avg_pool(x)),
        ]


class _TFInceptionC(InceptionC):
    def _forward(self, x: Tensor) -> list[Tensor]:
        seven = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        double = x
        for conv in (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4,
                     self.branch7x7dbl_5):
            double = conv(double)
        return [self.branch1x1(x), seven, double, self.branch_pool(_tf_avg_pool(x))]


class _TFInceptionE(InceptionE):
    pool = staticmethod(_tf_avg_pool)  # Mixed_7c swaps in _max_pool

    def _forward(self, x: Tensor) -> list[Tensor]:
        three = self.branch3x3_1(x)
        double = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        return [
            self.branch1x1(x),
            torch.cat([self.branch3x3_2a(three), self.branch3x3_2b(three)], 1),
            torch.cat([self.branch3x3dbl_3a(double), self.branch3x3dbl_3b(double)], 1),
            self.branch_pool(self.pool(x)),
        ]
