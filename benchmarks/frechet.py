"""How long a Frechet distance of 2048-d Inception features takes, before and after.

Before: the general matrix square root of the product of the two 2048 x 2048 covariances
(``scipy.linalg.sqrtm``, what pytorch-fid and gansearch used). After: ``frechet_from_features``,
which, when a set has no more samples than dimensions (a sweep judges a trial on a few hundred
images), takes the singular values of the small N1 x N2 cross matrix of the centred features,
and otherwise two symmetric eigendecompositions. Both give the same value; the table says how
close. Features are Gaussian with a random 2048-d covariance, as Inception features have.

    python -m benchmarks.frechet                    # 200, 1,000, 10,000 samples a set
    python -m benchmarks.frechet --sizes 200 1000   # quicker
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import scipy.linalg

from benchmarks.machine import describe
from gansearch.metrics.frechet import feature_statistics, frechet_from_features


def sqrtm_frechet(x: np.ndarray, y: np.ndarray) -> float:
    (mu1, s1), (mu2, s2) = feature_statistics(x), feature_statistics(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        covmean = scipy.linalg.sqrtm(s1 @ s2)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[200, 1000, 10_000], help="samples per set")
    ap.add_argument("--dims", type=int, default=2048, help="feature dimensions (Inception pool3: 2048)")
    args = ap.parse_args(argv)
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(args.dims, args.dims)) / np.sqrt(args.dims)
    print(describe("cpu"))
    print(f"{'samples a set':>13} | {'sqrtm (s)':>9} | {'gansearch (s)':>13} | {'route':>14} | "
          f"{'relative difference':>19}")
    for n in args.sizes:
        x = rng.normal(size=(n, args.dims)) @ basis
        y = 0.8 * rng.normal(size=(n, args.dims)) @ basis + 0.1
        start = time.perf_counter()
        before = sqrtm_frechet(x, y)
        old = time.perf_counter() - start
        start = time.perf_counter()
        after = frechet_from_features(x, y)
        new = time.perf_counter() - start
        route = "cross matrix" if n <= args.dims else "eigendecomp."
        gap = abs(after - before) / abs(before)
        print(f"{n:>13,} | {old:>9.2f} | {new:>13.3f} | {route:>14} | {gap:>19.1e}")


if __name__ == "__main__":
    main()
