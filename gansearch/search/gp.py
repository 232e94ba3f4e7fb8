"""A Gaussian-process model of one objective, small enough to read: what the cost-aware sampler
learns the quality metric with.

Matern 5/2 kernel with one length scale per input dimension (inputs scaled to [0, 1]), a signal
variance and a noise variance, fitted by maximizing the log marginal likelihood (Rasmussen and
Williams 2006, eq. 2.30) with L-BFGS-B and its exact gradient (eq. 5.9) from a few starts;
targets are standardized. Predictions are the posterior mean and standard deviation (eq.
2.25-2.26).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.optimize

JITTER = 1e-8
BOUNDS_LENGTH = (np.log(0.02), np.log(20.0))
BOUNDS_SIGNAL = (np.log(0.05), np.log(20.0))
BOUNDS_NOISE = (np.log(1e-6), np.log(0.5))


def matern52(a: np.ndarray, b: np.ndarray, lengths: np.ndarray, signal: float) -> np.ndarray:
    d = (a[:, None, :] - b[None, :, :]) / lengths
    r = np.sqrt(np.maximum((d * d).sum(-1), 0.0))
    s = np.sqrt(5.0) * r
    return signal * (1.0 + s + s * s / 3.0) * np.exp(-s)


class GaussianProcess:
    def __init__(self, seed: int = 0, restarts: int = 2, start: np.ndarray | None = None) -> None:
        self.rng = np.random.default_rng(seed)
        self.restarts, self.start = restarts, start

    def fit(self, x: np.ndarray, y: np.ndarray) -> GaussianProcess:
        """Fit to inputs ``x`` (n, d) and targets ``y`` (n,); ``start`` (the last fit's ``theta``)
        is tried first, so refits after one more point are quick."""
        self.x = np.asarray(x, float)
        y = np.asarray(y, float)
        self.mean, self.scale = y.mean(), y.std() or 1.0
        self.y = (y - self.mean) / self.scale
        dims = self.x.shape[1]
        bounds = [BOUNDS_LENGTH] * dims + [BOUNDS_SIGNAL, BOUNDS_NOISE]
        starts = [np.r_[np.full(dims, np.log(0.5)), 0.0, np.log(1e-3)]]
        if self.start is not None and len(self.start) == dims + 2:
            starts = [self.start]
        starts += [np.array([self.rng.uniform(lo, hi) for lo, hi in bounds])
                   for _ in range(self.restarts - 1)]
        best = min((scipy.optimize.minimize(self._nll, s, jac=True, method="L-BFGS-B", bounds=bounds,
                                            options={"maxiter": 60}) for s in starts), key=lambda r: r.fun)
        self.theta = best.x
        self._set(best.x)
        return self

    def predict(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the objective at ``x`` (in its own units)."""
        k = matern52(np.asarray(x, float), self.x, self.lengths, self.signal)
        mu = k @ self.alpha
        v = scipy.linalg.solve_triangular(self.chol, k.T, lower=True)
        var = np.maximum(self.signal - (v * v).sum(0), 1e-12)
        return self.mean + self.scale * mu, self.scale * np.sqrt(var)

    def _nll(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log marginal likelihood and its gradient in log length scales, log signal
        and log noise: 0.5 tr((K^-1 - a a^T) dK/dtheta)."""
        lengths, signal, noise = np.exp(theta[:-2]), np.exp(theta[-2]), np.exp(theta[-1])
        scaled = (self.x[:, None, :] - self.x[None, :, :]) / lengths  # (n, n, d)
        r = np.sqrt(np.maximum((scaled * scaled).sum(-1), 0.0))
        e = np.exp(-np.sqrt(5.0) * r)
        k = signal * (1.0 + np.sqrt(5.0) * r + 5.0 * r * r / 3.0) * e
        try:
            chol = np.linalg.cholesky(k + (noise + JITTER) * np.eye(len(self.x)))
        except np.linalg.LinAlgError:
            return 1e10, np.zeros_like(theta)
        alpha = scipy.linalg.cho_solve((chol, True), self.y)
        w = scipy.linalg.cho_solve((chol, True), np.eye(len(self.x))) - np.outer(alpha, alpha)
        # dk/dlog(l_d) = 5/3 s (1 + sqrt5 r) exp(-sqrt5 r) (dx_d / l_d)^2
        common = (5.0 / 3.0) * signal * (1.0 + np.sqrt(5.0) * r) * e
        grad_lengths = 0.5 * np.einsum("ij,ijd->d", w, common[:, :, None] * scaled * scaled)
        grad = np.r_[grad_lengths, 0.5 * (w * k).sum(), 0.5 * noise * np.trace(w)]
        return float(0.5 * self.y @ alpha + np.log(np.diag(chol)).sum()), grad

    def _factor(self, theta: np.ndarray):
        lengths, signal, noise = np.exp(theta[:-2]), np.exp(theta[-2]), np.exp(theta[-1])
        k = matern52(self.x, self.x, lengths, signal) + (noise + JITTER) * np.eye(len(self.x))
        chol = np.linalg.cholesky(k)
        alpha = scipy.linalg.cho_solve((chol, True), self.y)
        return chol, alpha

    def _set(self, theta: np.ndarray) -> None:
        self.lengths, self.signal = np.exp(theta[:-2]), float(np.exp(theta[-2]))
        self.chol, self.alpha = self._factor(theta)
