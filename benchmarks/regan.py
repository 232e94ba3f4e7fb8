"""Dense DCGAN training against Re-GAN prune-and-regrow on digits, with all and 10% of the data.

For each data setting: dense training, then Re-GAN (pruning G only, as the paper recommends)
for every pair of pruning ratio rho and update interval g, all runs of the same length and seed.
Quality is a stand-in for FID that runs offline: the Frechet distance between the hidden-layer
features of a small MLP digit classifier (trained here with scikit-learn on the full 8x8 digits
set) for generated images and for the full set; lower is better. Re-GAN hands back a dense
generator and its rho-sparse counterpart: both are scored. Training FLOPs are measured by the
Re-GAN callback with ``gansearch.profile`` (3x the forward MACs of G and D per sample, at their
density in each phase, times the batch size); dense training is the same run with a warm-up as
long as the run, so both are measured the same way.

    python -m benchmarks.regan                                   # about two minutes on one CPU thread
    python -m benchmarks.regan --iterations 5000 --filters 64 --rhos 0.1 0.3 --intervals 100 500
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.machine import describe
from gansearch.compress.regrow import ReganCallback, ReganConfig, ReganResult
from gansearch.data import digits, take_fraction
from gansearch.families.dcgan import DCGAN, DCGANTrainConfig
from gansearch.metrics import frechet_distance, swd
from gansearch.models import DCGANConfig, DCGANDiscriminator, DCGANGenerator


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--image-size", type=int, default=16)
    ap.add_argument("--filters", type=int, default=16, help="DCGAN ngf / ndf")
    ap.add_argument("--latent", type=int, default=32)
    ap.add_argument("--rhos", type=float, nargs="+", default=[0.1, 0.3],
                    help="pruning ratios (the paper's two: 0.1, and 0.3 for StyleGAN2 on FFHQ)")
    ap.add_argument("--intervals", type=int, nargs="+", default=[50, 100], help="update intervals g")
    ap.add_argument("--fractions", type=float, nargs="+", default=[1.0, 0.1], help="of the digits set")
    ap.add_argument("--network", default="G", choices=["G", "D", "both"])
    ap.add_argument("--samples", type=int, default=1000, help="generated images scored per model")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1,
                    help="CPU threads (one keeps times steady on a shared machine)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)

    scorer = FeatureDistance(args.seed)
    print(f"DCGAN ngf=ndf={args.filters}, latent {args.latent}, {args.image_size}x{args.image_size} digits, "
          f"{args.iterations} iterations of batch {args.batch}, Re-GAN on {args.network}, "
          f"warm-up 20%, seed {args.seed}")
    print(describe(args.device))
    print(f"quality: FD-digits = Frechet distance on the features of an MLP digit classifier "
          f"(scikit-learn, {scorer.accuracy:.1%} held-out accuracy) to the full set, lower is better")
    print("quality: SWD = sliced Wasserstein distance (x1e3) of the dense generator's samples to the "
          "set it trained on, lower is better")
    header = (f"{'data':>5} {'training':<21} {'FD dense':>8} {'FD sparse':>9} {'SWD':>6} "
              f"{'train GFLOPs':>12} {'vs dense':>8} {'wall s':>7} {'CPU s':>7} {'stability':>9}")
    print(header)
    print("-" * len(header))
    full = digits(args.image_size)
    train(full, ReganConfig(warmup=0, update_interval=2), args, iterations=6)  # untimed: first-call costs
    for fraction in args.fractions:
        data = take_fraction(full, fraction, args.seed)
        runs = [("dense", ReganConfig(warmup=args.iterations))]
        runs += [(f"Re-GAN rho={rho:g} g={g}", ReganConfig(sparsity=rho, update_interval=g,
                                                         network=args.network))
                 for rho in args.rhos for g in args.intervals]
        dense_flops = None
        for name, config in runs:
            generator, result, wall, cpu = train(data, config, args)
            flops = result.training_flops * args.batch
            dense_flops = dense_flops or flops
            fd_dense = scorer(result.dense.get("G", generator), args)
            fd_sparse = "-" if name == "dense" or "G" not in result.sparse else \
                f"{scorer(result.sparse['G'], args):.2f}"
            late = [e["mse"] for e in result.stability[len(result.stability) // 2:]]
            sw = sliced(result.dense.get("G", generator), data, args)
            print(f"{fraction:>5.0%} {name:<21} {fd_dense:>8.2f} {fd_sparse:>9} {sw:>6.1f} "
                  f"{flops / 1e9:>12.2f} {flops / dense_flops:>8.3f} {wall:>7.1f} {cpu:>7.1f} "
                  f"{np.mean(late):>9.2e}")
    print("stability: mean MSE between samples of fixed latent codes at consecutive checkpoints "
          "(every 25 iterations), second half of the run (Re-GAN sec. 4.5); lower is steadier")
    print("times: masks run on dense kernels, so Re-GAN is not faster here; its FLOPs are what "
          "sparse kernels would do. Wall time on a shared machine is noisy; CPU s is the process's")


def train(data, config: ReganConfig, args, iterations: int | None = None
          ) -> tuple[DCGANGenerator, ReganResult, float, float]:
    torch.manual_seed(args.seed)
    cfg = DCGANConfig(image_size=args.image_size, latent_dim=args.latent, filters=args.filters)
    g = DCGANGenerator(cfg).to(args.device)
    d = DCGANDiscriminator(cfg).to(args.device)
    regan = ReganCallback(config, stability_every=25)
    start, start_cpu = time.perf_counter(), time.process_time()
    params = DCGANTrainConfig(iterations=iterations or args.iterations, batch_size=args.batch)
    DCGAN().train(g, d, data, params, seed=args.seed, callbacks=[regan])
    return g, regan.result, time.perf_counter() - start, time.process_time() - start_cpu


def sliced(generator, data, args) -> float:
    """SWD between 256 samples and up to 256 images of the training data."""
    z = torch.randn(256, args.latent, generator=torch.Generator().manual_seed(args.seed + 2))
    with torch.no_grad():
        fake = generator.eval()(z.to(args.device)).cpu()
    real = torch.stack([data[i][0] for i in range(min(256, len(data)))])
    return swd(real, fake, seed=args.seed)


class FeatureDistance:
    """Frechet distance between classifier features of generated images and of the digits set."""

    def __init__(self, seed: int) -> None:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier

        x, y = load_digits(return_X_y=True)
        x = x / 8.0 - 1.0  # [0, 16] -> [-1, 1], the range the generators produce
        x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=seed)
        self.mlp = MLPClassifier((64,), max_iter=500, random_state=seed).fit(x_train, y_train)
        self.accuracy = self.mlp.score(x_test, y_test)
        self.real_mu, self.real_cov = _moments(self._features(x))

    def __call__(self, generator, args) -> float:
        generator = generator.eval()
        z = torch.randn(args.samples, args.latent, generator=torch.Generator().manual_seed(args.seed + 1))
        with torch.no_grad():
            images = generator(z.to(args.device)).cpu()
        x = F.adaptive_avg_pool2d(images[:, :1], 8).flatten(1).numpy()  # back to the 8x8 of the set
        mu, cov = _moments(self._features(x))
        return frechet_distance(mu, cov, self.real_mu, self.real_cov)

    def _features(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x @ self.mlp.coefs_[0] + self.mlp.intercepts_[0], 0)  # the ReLU hidden layer


def _moments(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # A small ridge keeps the covariance invertible when a collapsed generator leaves hidden
    # units dead (the matrix square root is then unstable).
    return features.mean(0), np.cov(features, rowvar=False) + 1e-6 * np.eye(features.shape[1])


if __name__ == "__main__":
    main()
