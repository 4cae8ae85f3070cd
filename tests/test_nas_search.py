"""nas.search: determinism, budgets, constraints, and search quality on the NAS-Bench-201 oracle."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from nas import nb201
from nas.hwcost import cost_structure
from nas.nb201 import NB201Space
from nas.search import NB201Problem, Objective, random_search, regularized_evolution, run_nb201_search

SPACE = NB201Space()
ORACLE = NB201Problem("cifar10")
BEST = 94.3733  # index 6111


@pytest.fixture(scope="module")
def fake_hw() -> pd.DataFrame:
    """A cheap stand-in for nb201_hwcost (no mapping): latency ∝ MACs + 0.1 ms, energy ∝ MACs."""
    st = cost_structure("cifar10")
    idx = np.arange(15625)
    macs = st.counts(idx) @ st.layer_macs
    lat = 1e-4 + macs * 2e-11
    en = macs * 3.0
    df = pd.DataFrame({"index": idx, "arch": nb201.arch_strings(), "latency_cycles": lat * 2e8,
                       "latency_s": lat, "energy_pj": en, "edp": en * lat, "macs": macs})
    df.attrs["hw"] = "fake"
    return df


def _best(df: pd.DataFrame) -> float:
    return float(df["best_score"].iloc[-1])


def test_deterministic_for_a_seed():
    for fn in (random_search, regularized_evolution):
        a = fn(SPACE, ORACLE, 120, seed=5)
        b = fn(SPACE, ORACLE, 120, seed=5)
        pd.testing.assert_frame_equal(a, b)
        assert list(a["arch"]) != list(fn(SPACE, ORACLE, 120, seed=6)["arch"])


def test_history_layout_and_budget():
    df = regularized_evolution(SPACE, ORACLE, 150, seed=0, population_size=20, sample_size=5, crossover_prob=0.5)
    assert len(df) == 150 and list(df["query"]) == list(range(150))
    assert set(df["origin"]) == {"init", "mutation", "crossover"}
    assert (df["origin"][:20] == "init").all()
    assert df["best_score"].is_monotonic_increasing
    assert df["best_score"].iloc[-1] == df["score"].max()
    for s, i, acc in zip(df["arch"], df["index"], df["accuracy"]):
        assert nb201.arch_to_index(s) == i and acc == nb201.nb201_accuracy(i)
    assert df.attrs["strategy"] == "evolution" and df.attrs["budget"] == 150 and df.attrs["seed"] == 0
    assert df.attrs["params"] == {"population_size": 20, "sample_size": 5, "crossover_prob": 0.5}
    assert df.attrs["best_score"] == df["score"].max()
    assert nb201.nb201_accuracy(df.attrs["best_arch"]) == df.attrs["best_score"]


def test_evolution_beats_random_on_the_oracle():
    seeds = range(5)
    evo = [_best(regularized_evolution(SPACE, ORACLE, 200, seed=s)) for s in seeds]
    rnd = [_best(random_search(SPACE, ORACLE, 200, seed=s)) for s in seeds]
    assert np.mean(evo) > np.mean(rnd)
    # and it finds a >= 93.5 % cell within 500 queries for every seed
    for s in seeds:
        df = regularized_evolution(SPACE, ORACLE, 500, seed=s)
        assert (df["accuracy"] >= 93.5).any()
        assert _best(df) >= 94.0


def test_objective_score_and_violation():
    ob = Objective(weights={"latency_s": 2.0}, refs={"latency_s": 0.5}, constraints={"energy_pj": 10.0})
    m = {"accuracy": 90.0, "latency_s": 0.5 * math.e, "energy_pj": 15.0}
    assert ob.score(m) == pytest.approx(88.0)
    assert ob.violation(m) == pytest.approx(0.5)
    assert ob.violation({**m, "energy_pj": 10.0}) == 0.0


def test_constrained_search_respects_bounds(fake_hw):
    lim = float(fake_hw["latency_s"].quantile(0.25))
    feasible = fake_hw["latency_s"].to_numpy() <= lim
    true_best = nb201.accuracies()[feasible].max()
    problem = NB201Problem("cifar10", fake_hw)
    ob = Objective(constraints={"latency_s": lim})
    for fn in (random_search, regularized_evolution):
        # with the hardware prefilter every queried arch is feasible
        df = fn(SPACE, problem, 150, seed=1, objective=ob, prefilter=problem.hardware)
        assert df["feasible"].all() and (df["latency_s"] <= lim).all()
        assert df.attrs["rejected_by_prefilter"] > 0
        assert _best(df) <= true_best
        # without it infeasible archs are queried, but the reported best is feasible
        df = fn(SPACE, problem, 150, seed=1, objective=ob)
        assert not df["feasible"].all()
        best = df.attrs["best_arch"]
        assert fake_hw.loc[nb201.arch_to_index(best), "latency_s"] <= lim


def test_evolution_ranks_feasible_first():
    # a toy space where the most accurate archs are infeasible
    class Bits:
        name = "bits"

        def sample(self, rng):
            return tuple(int(b) for b in rng.integers(0, 2, 12))

        def mutate(self, a, rng):
            i = int(rng.integers(12))
            return a[:i] + (1 - a[i],) + a[i + 1:]

        def crossover(self, a, b, rng):
            return tuple(x if t else y for x, y, t in zip(a, b, rng.random(12) < 0.5))

        def encode(self, a):
            return "".join(map(str, a))

    def evaluate(a):  # accuracy = ones in the first half; cost = ones overall
        return {"accuracy": float(sum(a[:6])), "cost": float(sum(a))}

    ob = Objective(constraints={"cost": 6.0})
    df = regularized_evolution(Bits(), evaluate, 400, seed=0, population_size=20, sample_size=5, objective=ob)
    assert _best(df) == 6.0
    assert df.attrs["best_arch"] == "111111000000"
    assert df.attrs["space"] == "bits"


def test_run_nb201_search(fake_hw):
    df = run_nb201_search(hw_table=fake_hw, strategy="evolution", budget=100, seed=2,
                          max_latency_s=float(fake_hw["latency_s"].median()), latency_weight=0.5)
    assert len(df) == 100 and df["feasible"].all()
    assert df.attrs["dataset"] == "cifar10" and df.attrs["hw"] == "fake"
    assert df.attrs["objective"]["weights"] == {"latency_s": 0.5}
    assert df.attrs["objective"]["refs"]["latency_s"] == pytest.approx(fake_hw["latency_s"].median())
    for c in ("accuracy", "latency_s", "energy_pj", "edp", "macs", "score"):
        assert c in df.columns
    r = run_nb201_search(strategy="random", budget=50, seed=2, dataset="cifar100")
    assert len(r) == 50 and r.attrs["dataset"] == "cifar100"
    assert (r["accuracy"] == nb201.accuracies("cifar100")[r["index"].to_numpy()]).all()
    with pytest.raises(ValueError):
        run_nb201_search(strategy="evolution", budget=10, max_latency_s=1.0)  # no hardware
    with pytest.raises(ValueError):
        run_nb201_search(strategy="bayes", budget=10)


def test_argument_checks():
    with pytest.raises(ValueError):
        random_search(SPACE, ORACLE, 0)
    with pytest.raises(ValueError):
        regularized_evolution(SPACE, ORACLE, 10, population_size=5, sample_size=6)
    with pytest.raises(ValueError):
        regularized_evolution(SPACE, ORACLE, 10, crossover_prob=1.5)
