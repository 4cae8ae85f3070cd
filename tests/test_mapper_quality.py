"""Mapper quality against the exhaustive optimum of its own mapspace (issue 13).

tests/data/mapper_optimum.json holds, for a corpus of small (layer, arch, objective) cases, the optimum over
every mapping of the reference mapspace, computed by bench/mapper_optimum.py.  Checked here:

* the data is current: every case's encoded mapspace and a fingerprint of the cost model on it (a fixed
  sample of genomes plus the optimum) match, and the cheapest cases' optimum is recomputed exhaustively —
  a change of the cost model or the mapspace that moves any of these fails with the command that
  regenerates the data;
* the exhaustive enumeration's loop-order classes are lossless (orders that visit the same non-trivial
  loops in the same sequence cost the same, and on a small case the full enumeration finds the same optimum);
* the default search, on every case and 5 seeds: worst gap <= 1 %, mean <= 0.2 %;
* budgets are monotone: for every case and seed, fast >= default >= thorough >= a 4x larger custom budget
  (``--effort default`` is the command's own budget, one of these).
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from accel.app.options import EFFORTS, effort_budget
from mapper.genome import G_ORDER, decode_genome, random_genomes
from mapper.search import (BUDGETS, SearchBudget, _Evaluator, _order_reps, exhaustive_optimum, search_mapping)
from tests.conftest import ROOT, data_path

_spec = importlib.util.spec_from_file_location("mapper_optimum", ROOT / "bench" / "mapper_optimum.py")
mo = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mo)

DOC = json.loads(data_path("mapper_optimum.json").read_text())
CASES = DOC["cases"]
SEEDS = range(5)
REGENERATE = f"stale tests/data/mapper_optimum.json: regenerate it with `{DOC['command']}`"
LARGER = SearchBudget(samples=4 * BUDGETS["thorough"].samples, rounds=BUDGETS["thorough"].rounds,
                      restarts=2 * BUDGETS["thorough"].restarts, exhaustive_limit=BUDGETS["thorough"].exhaustive_limit)


def test_corpus_is_the_scripts_and_large_enough():
    assert DOC["script"] == "bench/mapper_optimum.py"
    assert [{k: c[k] for k in ("id", "arch", "layer", "spec", "objective")} for c in CASES] == mo.corpus(), REGENERATE
    assert len(CASES) >= 30
    assert {c["arch"] for c in CASES} >= {"configs/eyeriss.yaml", "configs/simba-like.yaml", "configs/tpu-v1.yaml"}
    assert {c["objective"] for c in CASES} == {"edp", "latency", "energy"}
    assert all(c["optimum"] is not None and c["optimum"] > 0 for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_data_is_current(case):
    ms = mo.reference_mapspace(case)
    assert mo.mapspace_digest(ms) == case["mapspace_digest"], f"{case['id']}: mapspace changed; {REGENERATE}"
    assert mo.cost_fingerprint(ms, case["objective"], case["genome"]) == case["cost_fingerprint"], \
        f"{case['id']}: cost model changed; {REGENERATE}"


CHEAP = sorted(CASES, key=lambda c: c["evaluated"])[:4]


@pytest.mark.parametrize("case", CHEAP, ids=[c["id"] for c in CHEAP])
def test_optimum_recomputed(case):
    ms = mo.reference_mapspace(case)
    best, g, n = exhaustive_optimum(ms, case["objective"])
    assert n == case["evaluated"] and best == pytest.approx(case["optimum"], rel=1e-12), REGENERATE
    stored = _Evaluator(ms, case["objective"], parallel=False)(np.array([case["genome"]], dtype=np.int64))[0]
    assert stored == pytest.approx(best, rel=1e-12), REGENERATE  # ties may pick another genome of equal cost


def test_order_classes_are_lossless():
    """Every loop order costs the same as its class representative (random genomes of several cases),
    and the full enumeration (every order) of a small case finds the class enumeration's optimum."""
    rng = np.random.default_rng(1)
    for case in CASES[::4]:
        ms = mo.reference_mapspace(case)
        ev = _Evaluator(ms, case["objective"], parallel=False)
        L = ms.arch.arrays.n_levels
        G = random_genomes(ms, rng.integers(0, len(ms.spatial_x), 300), rng)
        R = G.copy()
        reps = np.zeros(int(ms.n_orders.max()), dtype=np.int64)
        for i, g in enumerate(G):
            T = np.ascontiguousarray(decode_genome(ms, g).temporal)
            for lv in range(L):
                n = _order_reps(T, ms.orders, ms.n_orders, lv, reps)
                cls = [o for o in reps[:n] if _same_class(T, ms.orders, lv, o, g[G_ORDER + lv])]
                assert len(cls) == 1
                R[i, G_ORDER + lv] = cls[0]
        assert (R != G).any()
        np.testing.assert_array_equal(ev(R), ev(G))
    case = next(c for c in CASES if c["id"] == "eyeriss/dw3x3/edp")
    ms = mo.reference_mapspace(case)
    assert ms.size() > 100 * case["evaluated"]
    per_s = np.prod(ms.nsplits, axis=1) * int(np.prod(ms.n_orders)) * len(ms.keeps)
    ev = _Evaluator(ms, case["objective"], parallel=False)
    best = np.inf
    for s in range(len(ms.spatial_x)):  # every genome: mixed radix over splits, orders, keeps
        idx = np.arange(per_s[s])
        G = np.zeros((len(idx), ms.genome_len), dtype=np.int64)
        G[:, 0] = s
        for j, r in enumerate([*ms.nsplits[s], *ms.n_orders, len(ms.keeps)]):
            G[:, 1 + j] = idx % r
            idx = idx // r
        best = min(best, float(ev(G).min()))
    assert best == case["optimum"]


def _same_class(T, orders, lv, a, b) -> bool:
    seq = [[int(d) for d in orders[lv, o] if T[lv, d] > 1] for o in (a, b)]
    return seq[0] == seq[1]


@pytest.fixture(scope="module")
def objectives():
    """{budget name: {case id: [objective per seed]}} for fast, thorough and LARGER."""
    out = {}
    for name, b in (("fast", BUDGETS["fast"]), ("thorough", BUDGETS["thorough"]), ("larger", LARGER)):
        cases = CASES if name != "larger" else CASES[::6]
        out[name] = {c["id"]: [mo.objective_value(search_mapping(*mo.case_inputs(c), c["objective"], seed=s,
                                                                 budget=b).cost, c["objective"]) for s in SEEDS]
                     for c in cases}
    return out


def test_default_search_is_within_1_percent_of_the_optimum(objectives):
    default = effort_budget("default", "thorough")
    gaps = np.array([[v / c["optimum"] - 1 for v in objectives[default][c["id"]]] for c in CASES])
    assert gaps.min() >= -1e-12, "the search beat the exhaustive optimum: the reference mapspace misses mappings"
    worst = int(np.argmax(gaps.max(axis=1)))
    assert gaps.max() <= 0.01, f"worst gap {gaps.max():.2%} on {CASES[worst]['id']}"
    assert gaps.mean() <= 0.002, f"mean gap {gaps.mean():.3%}"


def test_budgets_are_monotone(objectives):
    assert set(EFFORTS) == {"fast", "default", "thorough"}
    ladder = [objectives[effort_budget(e, "thorough")] for e in ("fast", "default", "thorough")] + \
        [objectives["larger"]]
    for smaller, larger in zip(ladder, ladder[1:]):
        for cid, vals in larger.items():
            assert all(b <= a for a, b in zip(smaller[cid], vals)), cid
    fast = objectives["fast"]
    thorough = objectives["thorough"]
    assert any(t < f for cid in fast for f, t in zip(fast[cid], thorough[cid]))  # the budgets do differ
