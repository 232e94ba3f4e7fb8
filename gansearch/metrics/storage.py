"""How a weight tensor is stored, and exactly how many bytes that takes.

Each tensor is written in the smallest of four encodings; its size is the size of the payload
``encode`` really produces (shape and dtype headers are a few bytes a tensor and not counted):
- ``dense``: every element, ``numel * itemsize`` bytes;
- ``bitmap``: a bit per element saying non-zero, then the non-zero values (Deep Compression's
  sparse storage, Han et al. 2016, in its simplest lossless form): ``ceil(numel / 8) + nnz *
  itemsize``; smallest from about 1/32 density up to about 97% (fp32);
- ``coo``: int32 flat indices and the non-zero values: ``nnz * (4 + itemsize)``; smallest for
  very sparse tensors;
- ``huffman``: canonical Huffman coding of the values (Deep Compression sec. 4): the number of
  distinct values (uint32), the distinct values, one code length a value (uint8), then the
  bitstream: ``4 + distinct * (itemsize + 1) + ceil(sum(count * code length) / 8)``; smallest
  when few values repeat a lot (k-means shared weights, int8 integers, zeros of pruning).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from gansearch.errors import ConfigError

ENCODINGS = ("dense", "bitmap", "coo", "huffman")

# Huffman coding pays only when values repeat. Trained fp32 weights are all distinct: a codebook
# entry a value outweighs dense storage. So Huffman is not tried for a tensor whose evenly spaced
# sample of HUFFMAN_SAMPLE values is more than half distinct (this spares sorting every such
# tensor; it can miss a gain of a few bits a value on large fp16 tensors, whose exponents
# repeat), nor for more than MAX_HUFFMAN_SYMBOLS distinct values (the code is built in Python).
HUFFMAN_SAMPLE = 4096
MAX_HUFFMAN_SYMBOLS = 2**16

_INT_OF_SIZE = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


@dataclass(frozen=True)
class Encoded:
    encoding: str
    shape: tuple[int, ...]
    dtype: torch.dtype
    payload: bytes


def encoded_sizes(t: Tensor) -> dict[str, int]:
    """Bytes each encoding would take for ``t``.

    ``huffman`` is left out where it would not be the smallest, told before building the code:
    values mostly distinct (see ``HUFFMAN_SAMPLE``), more than ``MAX_HUFFMAN_SYMBOLS`` of them,
    or a lower bound (codebook plus the Shannon entropy of the values) no smaller than another
    encoding. ``huffman_bytes`` always gives its exact size.
    """
    numel, itemsize = t.numel(), _itemsize(t)
    nnz = int(torch.count_nonzero(_values(t)))
    qparams = _qparams_bytes(t)
    sizes = {
        "dense": numel * itemsize + qparams,
        "bitmap": math.ceil(numel / 8) + nnz * itemsize + qparams,
        "coo": nnz * (4 + itemsize) + qparams,
    }
    if _mostly_distinct(t):
        return sizes
    counts = _symbol_counts(t)[1]
    smallest = min(sizes.values()) - qparams
    if len(counts) <= MAX_HUFFMAN_SYMBOLS and _huffman_lower_bound(counts, itemsize) < smallest:
        sizes["huffman"] = _huffman_size(counts, itemsize) + qparams
    return sizes


def storage_bytes(t: Tensor) -> tuple[str, int]:
    """The encoding ``t`` is stored in and its size in bytes (the smallest of them)."""
    sizes = encoded_sizes(t)
    best = min(sizes, key=lambda e: (sizes[e], ENCODINGS.index(e)))
    return best, sizes[best]


def huffman_bytes(t: Tensor) -> int:
    """Exact size of ``t`` in the ``huffman`` encoding, however many distinct values it has."""
    return _huffman_size(_symbol_counts(t)[1], _itemsize(t)) + _qparams_bytes(t)


def entropy_bits(t: Tensor) -> float:
    """Shannon entropy of the values of ``t``, in bits a value: the least any code of the values
    one by one can average (Shannon 1948); Huffman is within one bit of it."""
    counts = _symbol_counts(t)[1].astype(np.float64)
    if counts.size == 0:
        return 0.0
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def encode(t: Tensor, encoding: str | None = None) -> Encoded:
    """Serialize a (non-quantized) tensor in ``encoding`` (the smallest when None)."""
    if t.is_quantized:
        raise ConfigError("encode() takes plain tensors; store quantized ones by their int_repr()")
    encoding = encoding or storage_bytes(t)[0]
    flat = t.detach().cpu().contiguous().reshape(-1)
    raw = flat.view(torch.uint8).numpy() if flat.numel() else np.zeros(0, np.uint8)
    itemsize = t.element_size()
    if encoding == "dense":
        payload = raw.tobytes()
    elif encoding == "huffman":
        payload = _huffman_encode(t)
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
            raise ConfigError(f"unknown encoding {encoding!r}; known: {', '.join(ENCODINGS)}")
    return Encoded(encoding, tuple(t.shape), t.dtype, payload)


def decode(e: Encoded) -> Tensor:
    numel = math.prod(e.shape)
    itemsize = torch.empty(0, dtype=e.dtype).element_size()
    data = np.frombuffer(e.payload, dtype=np.uint8)
    if e.encoding == "dense":
        raw = data.copy()
    elif e.encoding == "huffman":
        raw = _huffman_decode(data, numel, itemsize)
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


# --- Huffman coding (Deep Compression sec. 4; canonical codes as in DEFLATE, RFC 1951 3.2.2) ---


def _symbol_counts(t: Tensor) -> tuple[np.ndarray, np.ndarray]:
    """The distinct bit patterns of the values of ``t`` (sorted, as integers of the same size:
    -0.0 and 0.0 differ, so decoding is exact to the bit) and how often each occurs."""
    v = _values(t).detach().reshape(-1)
    if v.dtype == torch.bool:
        v = v.view(torch.uint8)
    symbols, counts = torch.unique(v.view(_INT_OF_SIZE[v.element_size()]), return_counts=True)
    return symbols.cpu().numpy(), counts.cpu().numpy()


def _mostly_distinct(t: Tensor) -> bool:
    v = _values(t).detach().reshape(-1)
    sample = v[:: max(1, v.numel() // HUFFMAN_SAMPLE)][:HUFFMAN_SAMPLE]
    return len(torch.unique(sample)) > sample.numel() / 2


def _code_lengths(counts: np.ndarray) -> np.ndarray:
    """Huffman code length of each symbol (Huffman 1952), ties broken by symbol order so the
    code is deterministic. A lone symbol needs no bits at all. Lengths stay far below 255 (a
    length-L code needs about Fibonacci(L) values), so a byte holds each."""
    lengths = np.zeros(len(counts), dtype=np.int64)
    if len(counts) < 2:
        return lengths
    heap = [(int(c), i, [i]) for i, c in enumerate(counts)]
    heapq.heapify(heap)
    while len(heap) > 1:
        c1, i1, s1 = heapq.heappop(heap)
        c2, i2, s2 = heapq.heappop(heap)
        merged = s1 + s2 if len(s1) >= len(s2) else s2 + s1  # extend the longer list
        lengths[merged] += 1
        heapq.heappush(heap, (c1 + c2, min(i1, i2), merged))
    return lengths


def _huffman_size(counts: np.ndarray, itemsize: int) -> int:
    bits = int((counts * _code_lengths(counts)).sum())
    return 4 + len(counts) * (itemsize + 1) + math.ceil(bits / 8)


def _huffman_lower_bound(counts: np.ndarray, itemsize: int) -> float:
    """No prefix code of the values is shorter than their entropy (Shannon's source coding
    theorem); the codebook comes on top."""
    if counts.size < 2:
        return 4 + counts.size * (itemsize + 1)
    p = counts / counts.sum()
    bits = float(-(counts * np.log2(p)).sum())
    return 4 + len(counts) * (itemsize + 1) + bits / 8


def _canonical_codes(lengths: np.ndarray) -> np.ndarray:
    """Canonical Huffman codes: by (length, symbol), each code is the previous one plus one,
    shifted left when the length grows; the lengths alone define the code."""
    codes = np.zeros(len(lengths), dtype=np.int64)
    code, prev = 0, 0
    for i in np.lexsort((np.arange(len(lengths)), lengths)):
        code <<= int(lengths[i]) - prev
        codes[i], prev = code, int(lengths[i])
        code += 1
    return codes


def _huffman_encode(t: Tensor) -> bytes:
    symbols, counts = _symbol_counts(t)
    lengths = _code_lengths(counts)
    codes = _canonical_codes(lengths)
    flat = t.detach().cpu().contiguous().reshape(-1)
    index = np.searchsorted(symbols, flat.view(_INT_OF_SIZE[flat.element_size()]).numpy())
    # Every value's code, most significant bit first, concatenated.
    n_bits = lengths[index]
    starts = np.cumsum(n_bits) - n_bits
    owner = np.repeat(np.arange(len(index)), n_bits)
    shift = n_bits[owner] - 1 - (np.arange(int(n_bits.sum())) - starts[owner])
    bits = ((codes[index][owner] >> shift) & 1).astype(np.uint8)
    head = np.array([len(symbols)], dtype="<u4").tobytes()
    return head + symbols.tobytes() + lengths.astype(np.uint8).tobytes() + np.packbits(bits).tobytes()


def _huffman_decode(data: np.ndarray, numel: int, itemsize: int) -> np.ndarray:
    k = int(data[:4].view("<u4")[0])
    symbols = data[4: 4 + k * itemsize].reshape(k, itemsize)
    lengths = data[4 + k * itemsize: 4 + k * (itemsize + 1)].astype(np.int64)
    if k == 1:
        return np.tile(symbols[0], numel)
    codes = _canonical_codes(lengths)
    lookup = {(int(n), int(c)): i for i, (n, c) in enumerate(zip(lengths, codes, strict=True))}
    bits = np.unpackbits(data[4 + k * (itemsize + 1):]).tolist()
    index = np.empty(numel, dtype=np.int64)
    pos = 0
    for j in range(numel):  # read bits until they spell a code (the code is prefix-free)
        code, n = 0, 0
        while (n, code) not in lookup:
            code, n = (code << 1) | bits[pos], n + 1
            pos += 1
        index[j] = lookup[(n, code)]
    return symbols[index].reshape(-1)
