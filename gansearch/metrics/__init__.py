"""Quality and cost measured on the model itself."""

from gansearch.metrics.cost import Cost, LayerCost, TensorStorage, profile, stored_tensors
from gansearch.metrics.frechet import feature_statistics, fid, frechet_distance, frechet_from_features, sifid
from gansearch.metrics.inception import (
    WEIGHTS_ENV,
    Inception,
    InceptionConfig,
    inception_features,
    load_inception,
    weights_path,
)
from gansearch.metrics.inception_score import inception_score, inception_score_from_probs
from gansearch.metrics.kid import kid, kid_from_features
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

__all__ = [
    "WEIGHTS_ENV",
    "Cost",
    "Inception",
    "InceptionConfig",
    "LayerCost",
    "TensorStorage",
    "decode",
    "encode",
    "encoded_sizes",
    "entropy_bits",
    "huffman_bytes",
    "feature_statistics",
    "fid",
    "frechet_distance",
    "frechet_from_features",
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
