"""Quality and cost measured on the model itself."""

from gansearch.metrics.cost import Cost, LayerCost, TensorStorage, profile, stored_tensors
from gansearch.metrics.storage import (
    decode,
    encode,
    encoded_sizes,
    entropy_bits,
    huffman_bytes,
    storage_bytes,
)

__all__ = [
    "Cost",
    "LayerCost",
    "TensorStorage",
    "decode",
    "encode",
    "encoded_sizes",
    "entropy_bits",
    "huffman_bytes",
    "profile",
    "storage_bytes",
    "stored_tensors",
]
