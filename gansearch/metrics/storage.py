"""How a weight tensor is stored, and exactly how many bytes that takes.

Each tensor is written in the smallest of three encodings; its size is the size of the payload
``encode`` really produces (shape and dtype headers are a few bytes a tensor and not counted):
- ``dense``: every element, ``numel * itemsize`` bytes;
- ``bitmap``: a bit per element saying non-zero, then the non-zero values (Deep Compression's
  sparse storage, Han et al. 2016, in its simplest lossless form): ``ceil(numel / 8) + nnz *
  itemsize``; smallest from about 1/32 density up to about 97% (fp32);
- ``coo``: int32 flat indices and the non-zero values: ``nnz * (4 + itemsize)``; smallest for
  very sparse tensors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

ENCODINGS = ("dense", "bitmap", "coo")


@dataclass(frozen=True)
class Encoded:
    encoding: str
    shape: tuple[int, ...]
    dtype: torch.dtype
    payload: bytes


def encoded_sizes(t: Tensor) -> dict[str, int]:
    """Bytes each encoding would take for ``t``."""
    numel, itemsize = t.numel(), _itemsize(t)
    nnz = int(torch.count_nonzero(_values(t)))
    return {
        "dense": numel * itemsize + _qparams_bytes(t),
        "bitmap": math.ceil(numel / 8) + nnz * itemsize + _qparams_bytes(t),
        "coo": nnz * (4 + itemsize) + _qparams_bytes(t),
    }


def storage_bytes(t: Tensor) -> tuple[str, int]:
    """The encoding ``t`` is stored in and its size in bytes (the smallest of the three)."""
    sizes = encoded_sizes(t)
    best = min(ENCODINGS, key=lambda e: (sizes[e], ENCODINGS.index(e)))
    return best, sizes[best]


def encode(t: Tensor, encoding: str | None = None) -> Encoded:
    """Serialize a (non-quantized) tensor in ``encoding`` (the smallest when None)."""
    if t.is_quantized:
        raise TypeError("encode() takes plain tensors; store quantized ones by their int_repr()")
    encoding = encoding or storage_bytes(t)[0]
    flat = t.detach().cpu().contiguous().reshape(-1)
    raw = flat.view(torch.uint8).numpy() if flat.numel() else np.zeros(0, np.uint8)
    itemsize = t.element_size()
    if encoding == "dense":
        payload = raw.tobytes()
    else:
        nz = torch.nonzero(flat).reshape(-1).numpy()
        values = raw.reshape(-1, itemsize)[nz].tobytes() if itemsize else b""
        if encoding == "bitmap":
            bits = np.zeros(flat.numel(), dtype=bool)
            bits[nz] = True
            payload = np.packbits(bits).tobytes() + values
        elif encoding == "coo":
            payload = nz.astype("<i4").tobytes() + values
        else:
            raise ValueError(f"unknown encoding {encoding!r}; known: {', '.join(ENCODINGS)}")
    return Encoded(encoding, tuple(t.shape), t.dtype, payload)


def decode(e: Encoded) -> Tensor:
    numel = math.prod(e.shape)
    itemsize = torch.empty(0, dtype=e.dtype).element_size()
    data = np.frombuffer(e.payload, dtype=np.uint8)
    if e.encoding == "dense":
        raw = data.copy()
    else:
        if e.encoding == "bitmap":
            head = math.ceil(numel / 8)
            nz = np.nonzero(np.unpackbits(data[:head], count=numel))[0]
        else:
            head = (len(data) // (4 + itemsize)) * 4
            nz = data[:head].view("<i4").astype(np.int64)
        raw = np.zeros((numel, itemsize), dtype=np.uint8)
        raw[nz] = data[head:].reshape(-1, itemsize)
    return torch.from_numpy(raw.reshape(-1)).view(e.dtype).reshape(e.shape)


def _values(t: Tensor) -> Tensor:
    return t.int_repr() if t.is_quantized else t


def _itemsize(t: Tensor) -> int:
    return _values(t).element_size()


def _qparams_bytes(t: Tensor) -> int:
    """Scales (fp32) and zero points (int32) a quantized tensor carries besides its integers."""
    if not t.is_quantized:
        return 0
    if t.qscheme() in (torch.per_channel_affine, torch.per_channel_symmetric):
        return t.q_per_channel_scales().numel() * 8
    return 8
