"""A learned accuracy predictor: an MLP on a space's fixed-length encoding (numpy, no torch needed).

CHaNAS (§3.6) trains a multilayer-perceptron accuracy predictor on (architecture, accuracy) pairs and
queries it inside evolutionary search; this is that predictor for any space with ``to_vector``.

Model: an ensemble of ``ensemble`` MLPs (``hidden`` ReLU layers, He-initialised, scalar output) fitted
to standardised targets by full-batch Adam (``iterations`` steps of size ``lr``) on mean squared error
+ L2 ``weight_decay``, each member from its own seeded initialisation; the prediction is the ensemble
mean.
Everything is drawn from ``numpy.random.Generator(PCG64(seed))``: fits are deterministic.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

__all__ = ["MLPPredictor", "fit_space_predictor", "predictor_study"]


class MLPPredictor:
    """Ensemble MLP regressor (module docstring).  ``fit(X (n, d), y (n,))``, ``predict(X) -> (n,)``."""

    def __init__(self, hidden: Sequence[int] = (64, 64), weight_decay: float = 1e-3, iterations: int = 300,
                 lr: float = 1e-2, ensemble: int = 3, seed: int = 0):
        if iterations < 1 or ensemble < 1 or weight_decay < 0 or lr <= 0 or any(h < 1 for h in hidden):
            raise ValueError("iterations, ensemble and hidden sizes must be >= 1, weight_decay >= 0, lr > 0")
        self.hidden, self.weight_decay, self.iterations, self.lr = tuple(hidden), weight_decay, iterations, lr
        self.ensemble, self.seed = ensemble, seed
        self.members: list[list[tuple[np.ndarray, np.ndarray]]] = []
        self.y_mean = 0.0
        self.y_std = 1.0

    def _shapes(self, d: int) -> list[tuple[int, int]]:
        sizes = [d, *self.hidden, 1]
        return list(zip(sizes[:-1], sizes[1:]))

    @staticmethod
    def _unpack(theta: np.ndarray, shapes) -> list[tuple[np.ndarray, np.ndarray]]:
        out, o = [], 0
        for a, b in shapes:
            W = theta[o:o + a * b].reshape(a, b)
            o += a * b
            out.append((W, theta[o:o + b]))
            o += b
        return out

    @staticmethod
    def _forward(params, X: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        acts = [X]
        h = X
        for i, (W, b) in enumerate(params):
            h = h @ W + b
            if i < len(params) - 1:
                h = np.maximum(h, 0.0)
            acts.append(h)
        return h[:, 0], acts

    def _loss(self, theta: np.ndarray, shapes, X: np.ndarray, z: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean squared error + weight_decay · Σ‖W‖², and its gradient (back-propagation)."""
        params = self._unpack(theta, shapes)
        out, acts = self._forward(params, X)
        err = out - z
        loss = float(np.mean(err ** 2)) + self.weight_decay * sum(float((W ** 2).sum()) for W, _ in params)
        g = (2.0 / len(z)) * err[:, None]
        grads = []
        for i in range(len(params) - 1, -1, -1):
            W, _ = params[i]
            grads.append((acts[i].T @ g + 2.0 * self.weight_decay * W, g.sum(0)))
            if i:
                g = (g @ W.T) * (acts[i] > 0)
        grads.reverse()
        return loss, np.concatenate([np.concatenate([gW.ravel(), gb]) for gW, gb in grads])

    def fit(self, X: np.ndarray, y: np.ndarray) -> "MLPPredictor":
        """Full-batch Adam (β = 0.9, 0.999) from ``ensemble`` He initialisations drawn from PCG64(seed)."""
        X = np.asarray(X, dtype=float)
        y = np.asarray(y, dtype=float)
        if X.ndim != 2 or len(X) != len(y) or len(y) < 2:
            raise ValueError(f"need X (n, d) and y (n,) with n >= 2, got {X.shape} and {y.shape}")
        self.y_mean, self.y_std = float(y.mean()), float(y.std() or 1.0)
        z = (y - self.y_mean) / self.y_std
        rng = np.random.Generator(np.random.PCG64(self.seed))
        shapes = self._shapes(X.shape[1])
        self.members = []
        for _ in range(self.ensemble):
            theta = np.concatenate([np.concatenate([rng.normal(0.0, np.sqrt(2.0 / a), a * b), np.zeros(b)])
                                    for a, b in shapes])
            m = np.zeros_like(theta)
            v = np.zeros_like(theta)
            for t in range(1, self.iterations + 1):
                _, g = self._loss(theta, shapes, X, z)
                m = 0.9 * m + 0.1 * g
                v = 0.999 * v + 0.001 * g * g
                theta = theta - self.lr * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8)
            self.members.append(self._unpack(theta, shapes))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        if not self.members:
            raise RuntimeError("predictor is not fitted")
        X = np.atleast_2d(np.asarray(X, dtype=float))
        z = np.mean([self._forward(p, X)[0] for p in self.members], axis=0)
        return z * self.y_std + self.y_mean


class _SpacePredictor:
    """arch → predicted accuracy through ``space.to_vector`` (cached per arch)."""

    def __init__(self, space, model: MLPPredictor):
        self.space, self.model = space, model
        self._cache: dict[Any, float] = {}

    def __call__(self, arch) -> float:
        v = self._cache.get(arch)
        if v is None:
            v = self._cache[arch] = float(self.model.predict(self.space.to_vector(arch)[None, :])[0])
        return v


def _sample_distinct(space, n: int, rng: np.random.Generator, exclude: set | None = None) -> list:
    seen = set(exclude or ())
    out = []
    tries = 0
    while len(out) < n:
        a = space.sample(rng)
        tries += 1
        if a not in seen:
            seen.add(a)
            out.append(a)
        elif tries > 100 * n:
            raise ValueError(f"could not draw {n} distinct archs from space {space.name}")
    return out


def fit_space_predictor(space, oracle: Callable[[Any], float], n_train: int = 200, seed: int = 0,
                        model: MLPPredictor | None = None) -> tuple[Callable[[Any], float], dict]:
    """Train on ``n_train`` distinct random archs labelled by ``oracle``; returns (arch → prediction,
    info with ``train_archs``, the oracle queries spent)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    archs = _sample_distinct(space, n_train, rng)
    X = np.stack([space.to_vector(a) for a in archs])
    y = np.array([oracle(a) for a in archs])
    mdl = (model or MLPPredictor(seed=seed)).fit(X, y)
    return _SpacePredictor(space, mdl), {"train_archs": n_train}


def predictor_study(space, oracle: Callable[[Any], float], n_train: int = 500, n_test: int = 1000, seed: int = 0,
                    model: MLPPredictor | None = None) -> pd.DataFrame:
    """Fit on ``n_train`` random archs, predict ``n_test`` other ones: one row per test arch (``arch``,
    ``accuracy``, ``predicted``); ``df.attrs``: spearman, kendall, rmse on the held-out archs, and the
    training archs' encodings (``train_archs``)."""
    from scipy.stats import kendalltau, spearmanr

    rng = np.random.Generator(np.random.PCG64(seed))
    train = _sample_distinct(space, n_train, rng)
    test = _sample_distinct(space, n_test, rng, exclude=set(train))
    mdl = (model or MLPPredictor(seed=seed)).fit(np.stack([space.to_vector(a) for a in train]),
                                                 np.array([oracle(a) for a in train]))
    y = np.array([oracle(a) for a in test])
    p = mdl.predict(np.stack([space.to_vector(a) for a in test]))
    df = pd.DataFrame({"arch": [space.encode(a) for a in test], "accuracy": y, "predicted": p})
    df.attrs.update({"space": space.name, "n_train": n_train, "n_test": n_test, "seed": seed,
                     "train_archs": [space.encode(a) for a in train],
                     "spearman": float(spearmanr(p, y).statistic), "kendall": float(kendalltau(p, y).statistic),
                     "rmse": float(np.sqrt(np.mean((p - y) ** 2)))})
    return df
