"""The few-shot BBSSP layer-adaptive latency correction (nas.latency_table): recovery of known per-class factors,
the held-out protocol (fit on K, test on the rest, many random splits), and the few-network case."""

from __future__ import annotations

import numpy as np
import pytest

from nas.latency_table import (FEW_SHOT_PRIOR_WEIGHT, PRIOR_WEIGHT_GRID, CorrectionError, choose_prior_weight,
                               fit_type_correction, held_out_error)

TYPES = ["conv3x3", "conv1x1", "avgpool", "add", "fc"]
TRUTH = np.array([1.7, 0.6, 3.0, 2.2, 1.0])


def _synthetic(n: int, seed: int = 0, noise: float = 0.0):
    """n networks: per-class model latencies (s) drawn independently, measured = Σ_t α_t T[n, t] × (1 + ε)."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(0.1, 1.0, (n, len(TYPES))) * np.array([2e-3, 1.5e-3, 1e-3, 8e-4, 6e-4])
    y = T @ TRUTH * (1 + noise * rng.standard_normal(n))
    return T, y


def test_recovers_known_factors_exactly_and_under_noise():
    T, y = _synthetic(10)
    corr = fit_type_correction(T, TYPES, y)
    assert corr.prior_weight == 0.0
    assert [corr.factors[t] for t in TYPES] == pytest.approx(TRUTH, rel=1e-6)
    assert corr.predict_matrix(T, TYPES) == pytest.approx(y, rel=1e-9)
    T, y = _synthetic(200, seed=1, noise=0.02)  # 2 % measurement noise: every factor within 10 %
    got = np.array([fit_type_correction(T, TYPES, y).factors[t] for t in TYPES])
    assert np.max(np.abs(got / TRUTH - 1)) < 0.10


def test_factors_are_non_negative():
    T, y = _synthetic(12, seed=2)
    y = y - 0.9 * T[:, 1] * TRUTH[1]  # conv1x1 "costs less than nothing": NNLS clips its factor at 0
    corr = fit_type_correction(T, TYPES, y)
    assert min(corr.factors.values()) >= 0.0


def test_held_out_error_mean_and_spread():
    T, y = _synthetic(40, seed=3, noise=0.01)
    h = held_out_error(T, TYPES, y, k=10, splits=20, seed=0)
    d = h.to_dict()
    assert (d["k"], d["n"], d["splits"]) == (10, 40, 20) and h.mape_after_pct.shape == (20,)
    before, after = d["mape_before_pct"], d["mape_after_pct"]
    assert before["mean"] > 30  # the uncorrected table is far off (factors 0.6 .. 3)
    assert after["mean"] < 3 and after["std"] > 0 and after["min"] <= after["mean"] <= after["max"]
    again = held_out_error(T, TYPES, y, k=10, splits=20, seed=0)
    assert np.array_equal(again.mape_after_pct, h.mape_after_pct)  # seeded
    other = held_out_error(T, TYPES, y, k=10, splits=20, seed=1)
    assert not np.array_equal(other.mape_after_pct, h.mape_after_pct)
    T0, y0 = _synthetic(30, seed=4)
    assert held_out_error(T0, TYPES, y0, k=10, splits=5).to_dict()["mape_after_pct"]["max"] < 1e-6


def test_fewer_networks_than_classes():
    T, y = _synthetic(3, seed=5)  # 3 networks, 5 classes: underdetermined
    with pytest.raises(CorrectionError, match="3 training network.*5 layer types.*prior_weight"):
        fit_type_correction(T, TYPES, y, prior_weight=0)
    corr = fit_type_correction(T, TYPES, y)  # documented default: pulled toward the uncorrected model, λ by CV
    assert corr.prior_weight == choose_prior_weight(T, TYPES, y) and corr.prior_weight in PRIOR_WEIGHT_GRID
    assert corr.prior_weight > 0  # leave-one-out fits of 2 networks cannot determine 5 factors: no plain NNLS
    assert fit_type_correction(T[:2], TYPES, y[:2]).prior_weight == FEW_SHOT_PRIOR_WEIGHT  # too few to validate
    f = np.array([corr.factors[t] for t in TYPES])
    assert np.all(np.isfinite(f)) and np.all(f >= 0)
    assert np.mean(np.abs(corr.predict_matrix(T, TYPES) / y - 1)) < np.mean(np.abs(T.sum(1) / y - 1))
    T2, y2 = _synthetic(20, seed=6)
    h = held_out_error(T2, TYPES, y2, k=3, splits=4)  # few-shot below the class count works
    assert h.to_dict()["mape_after_pct"]["mean"] < h.to_dict()["mape_before_pct"]["mean"]
    with pytest.raises(CorrectionError, match="prior_weight must be"):
        fit_type_correction(T, TYPES, y, prior_weight=-1.0)


def test_bad_input_is_one_clear_error():
    T, y = _synthetic(8)
    with pytest.raises(CorrectionError, match=r"k must be an integer in \[1, 7\]"):
        held_out_error(T, TYPES, y, k=8)
    with pytest.raises(CorrectionError, match="splits"):
        held_out_error(T, TYPES, y, k=4, splits=0)
    with pytest.raises(CorrectionError, match="positive and finite"):
        fit_type_correction(T, TYPES, np.r_[y[:-1], 0.0])
    with pytest.raises(CorrectionError, match="one measured latency per network"):
        fit_type_correction(T, TYPES, y[:-1])
    with pytest.raises(CorrectionError, match="unmappable"):
        fit_type_correction(np.where(T > T.mean(), np.inf, T), TYPES, y)


def test_one_implementation_for_xcheck_and_nas_latency():
    import accel.app.xcheck as xc
    import nas.latency_table as lt

    assert xc.fit_type_correction is lt.fit_type_correction and xc.held_out_error is lt.held_out_error
    assert xc.type_totals is lt.type_totals


def test_cross_validated_prior_weight():
    """λ follows the data: exact factors far from 1 → plain NNLS (λ = 0, exact recovery); a table that is right
    up to 8 % noise → mostly a strong pull toward 1, which beats the unregularised fit on the held-out networks
    (mean over 20 draws of 10 training and 30 test networks: ~6.5 % vs ~8.7 % MAPE)."""
    T, y = _synthetic(12, seed=7)
    assert choose_prior_weight(T, TYPES, y) == 0.0
    cv, plain, lams = [], [], []
    for seed in range(20):
        rng = np.random.default_rng(100 + seed)
        T = rng.uniform(0.1, 1.0, (40, len(TYPES))) * 1e-3
        y = T.sum(axis=1) * (1 + 0.08 * rng.standard_normal(40))  # the table is unbiased
        train, test = slice(0, 10), slice(10, 40)
        lams.append(choose_prior_weight(T[train], TYPES, y[train]))

        def held_out(c):
            return np.mean(np.abs(c.predict_matrix(T[test], TYPES) / y[test] - 1))

        cv.append(held_out(fit_type_correction(T[train], TYPES, y[train])))
        plain.append(held_out(fit_type_correction(T[train], TYPES, y[train], prior_weight=0.0)))
    assert np.median(lams) >= 1.0
    assert np.mean(cv) < 0.85 * np.mean(plain)
    with pytest.raises(CorrectionError, match="measured latencies must be positive"):
        choose_prior_weight(T[:10], TYPES, -y[:10])


def test_fixed_types_are_an_unscaled_offset():
    """``fixed`` types keep α = 1 and are not fitted: y = per-call cost + Σ α_t T recovers the planted factors
    exactly, in the fit and in the held-out protocol; an unknown fixed type is refused."""
    T, y = _synthetic(12, seed=6)
    call = np.full(len(y), 3e-4)
    Tc, yc = np.c_[T, call], y + call
    corr = fit_type_correction(Tc, [*TYPES, "inference_call"], yc, fixed=["inference_call"])
    assert corr.factors["inference_call"] == 1.0
    assert [corr.factors[t] for t in TYPES] == pytest.approx(TRUTH, rel=1e-6)
    h = held_out_error(np.c_[_synthetic(30, seed=7)[0], np.full(30, 3e-4)], [*TYPES, "inference_call"],
                       _synthetic(30, seed=7)[1] + 3e-4, k=10, splits=3, fixed=["inference_call"])
    assert h.mape_after_pct.max() < 1e-6
    with pytest.raises(CorrectionError, match="fixed types 'call'"):
        fit_type_correction(Tc, [*TYPES, "inference_call"], yc, fixed=["call"])


def test_a_column_shared_by_every_network_cannot_become_an_intercept():
    """A type every network runs at the same size (a classifier) is confounded with an intercept; measurements with
    a constant extra cost used to drive its factor to hundreds.  The bounds keep every factor within FACTOR_RANGE
    of the global factor, so a held-out tiny network is not blown up."""
    from nas.latency_table import FACTOR_RANGE, _bounded_factors

    rng = np.random.default_rng(8)
    n = 10
    T = np.c_[rng.uniform(2e-4, 2e-3, n), rng.uniform(1e-4, 1e-3, n), np.full(n, 2e-6)]  # conv, add, fc (tiny)
    y = T[:, 0] * 1.1 + T[:, 1] * 1.3 + T[:, 2] + 4e-4 * (1 + 0.05 * rng.standard_normal(n))  # + unmodelled 400 µs
    types = ["conv3x3", "add", "fc"]
    unbounded = __import__("scipy.optimize", fromlist=["nnls"]).nnls(T / y[:, None], np.ones(n))[0]
    assert unbounded[2] > 50  # the old fit: the classifier carries the 400 µs
    corr = fit_type_correction(T, types, y, prior_weight=0.0)
    r = (T / y[:, None]).sum(axis=1)
    g = float(r.sum() / (r @ r))
    assert g * FACTOR_RANGE[0] - 1e-9 <= min(corr.factors.values())
    assert max(corr.factors.values()) <= g * FACTOR_RANGE[1] + 1e-9
    tiny = np.array([[1e-5, 1e-5, 2e-6]])  # a held-out network of almost nothing but the classifier
    assert corr.predict_matrix(tiny, types)[0] < 8.5 * g * tiny.sum()
    assert _bounded_factors(T, y, 0.0).shape == (3,)
