"""MLP accuracy predictor: fits known functions, generalises on NAS-Bench-201, deterministic."""

from __future__ import annotations

import numpy as np
import pytest

from nas.predictor import MLPPredictor, fit_space_predictor, predictor_study
from nas.registry import get_space


def test_fits_a_nonlinear_function():
    rng = np.random.Generator(np.random.PCG64(0))
    X = rng.integers(0, 2, (300, 12)).astype(float)
    y = 3 * X[:, 0] - 2 * X[:, 1] * X[:, 2] + X[:, 3:].sum(1) + 0.05 * rng.normal(size=300)
    m = MLPPredictor(hidden=(32, 32), seed=1).fit(X[:200], y[:200])
    pred = m.predict(X[200:])
    assert np.corrcoef(pred, y[200:])[0, 1] > 0.95
    assert np.sqrt(np.mean((pred - y[200:]) ** 2)) < 0.5 * y.std()


def test_deterministic_and_validates():
    X = np.eye(6)
    y = np.arange(6.0)
    a = MLPPredictor(iterations=20, seed=3).fit(X, y).predict(X)
    b = MLPPredictor(iterations=20, seed=3).fit(X, y).predict(X)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, MLPPredictor(iterations=20, seed=4).fit(X, y).predict(X))
    with pytest.raises(ValueError):
        MLPPredictor().fit(X, y[:3])
    with pytest.raises(RuntimeError):
        MLPPredictor().predict(X)
    with pytest.raises(ValueError):
        MLPPredictor(hidden=(0,))


def test_nb201_held_out_rank_correlation():
    sp = get_space("nb201")
    df = predictor_study(sp, sp.accuracy, n_train=150, n_test=400, seed=0, model=MLPPredictor(iterations=200, seed=0))
    assert len(df) == 400 == df["arch"].nunique()
    assert not set(df["arch"]) & set(df.attrs["train_archs"])  # rows are held-out archs only
    # random guessing gives 0; 150 table queries already rank held-out cells well
    assert df.attrs["spearman"] > 0.6
    assert df.attrs["n_train"] == 150 and df.attrs["rmse"] < 15


def test_space_predictor_callable():
    sp = get_space("nb201")
    pred, info = fit_space_predictor(sp, sp.accuracy, n_train=60, seed=1, model=MLPPredictor(iterations=50, seed=1))
    a = sp.sample(np.random.Generator(np.random.PCG64(9)))
    assert info["train_archs"] == 60
    assert pred(a) == pred(a) and np.isfinite(pred(a))
