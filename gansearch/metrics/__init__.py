"""Quality and cost measured on the model itself.

The Inception-based metrics (FID, KID, SIFID, IS) load on first use: importing the package, as
every Ray worker does, then costs no torchvision import. Import them from here
(``from gansearch.metrics import kid``), not from their modules.
"""

from __future__ import annotations

import importlib

from gansearch.metrics.cost import Cost, LayerCost, TensorStorage, profile, stored_tensors
from gansearch.metrics.reference import psnr, ssim
from gansearch.metrics.storage import (
    decode,
    encode,
    encoded_sizes,
    entropy_bits,
    huffman_bytes,
    storage_bytes,
)
from gansearch.metrics.swd import laplacian_pyramid, swd, swd_levels

# The Inception-based metrics, loaded on first use (PEP 562).
_LAZY = {
    "feature_statistics": "frechet", "fid": "frechet", "frechet_distance": "frechet",
    "frechet_from_features": "frechet", "sifid": "frechet",
    "WEIGHTS_ENV": "inception", "Inception": "inception", "InceptionConfig": "inception",
    "inception_features": "inception", "load_inception": "inception", "weights_path": "inception",
    "inception_score": "inception_score", "inception_score_from_probs": "inception_score",
    "kid": "kid", "kid_from_features": "kid",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value  # the function, not its same-named module (kid, inception_score)
    return value


__all__ = [  # noqa: F822 (the Inception-based names come from __getattr__)
    "Cost",
    "Inception",
    "InceptionConfig",
    "LayerCost",
    "TensorStorage",
    "WEIGHTS_ENV",
    "decode",
    "encode",
    "encoded_sizes",
    "entropy_bits",
    "feature_statistics",
    "fid",
    "frechet_distance",
    "frechet_from_features",
    "huffman_bytes",
    "inception_features",
    "inception_score",
    "inception_score_from_probs",
    "kid",
    "kid_from_features",
    "laplacian_pyramid",
    "load_inception",
    "profile",
    "psnr",
    "sifid",
    "ssim",
    "storage_bytes",
    "stored_tensors",
    "swd",
    "swd_levels",
    "weights_path",
]
