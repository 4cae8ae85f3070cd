"""Speed benchmarks of the NAS front end (pytest-benchmark).

Run explicitly (the file name keeps it out of the default collection)::

    .venv/bin/python -m pytest bench/bench_nas.py --benchmark-enable -p no:cacheprovider

Targets: hardware cost of all 15,625 NAS-Bench-201 archs on eyeriss in <= 2 s warm on 2 cores (issue
"NAS front end"), tightened to <= 1 s warm in-process (issue 13), with dead cell edges pruned and kept
(``prune``: whether edges that cannot reach the cell output are removed before costing).  "Warm" = numba kernels already compiled/loaded and the arch-independent structure
(the 21 unique CIFAR layer shapes and the per-arch count basis, ``nas.hwcost.cost_structure``)
cached; each timed round uses a *fresh* ``NetworkEvaluator``, so it maps all 21 unique layer shapes
from scratch and then does the vectorised per-arch sum.  The cold variant (structure rebuilt as well)
and the sum alone (mapping cached) are reported separately.
"""

from pathlib import Path

import pytest

from accel.arch import load_arch
from mapper.network import NetworkEvaluator
from nas.hwcost import cost_structure, nb201_hwcost
from nas.nb201 import NB201Space
from nas.search import NB201Problem, random_search, regularized_evolution

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def eyeriss():
    return load_arch(ROOT / "configs" / "eyeriss.yaml")


def _record(benchmark, df):
    benchmark.extra_info.update({k: df.attrs[k] for k in ("unique_layer_shapes", "mapping_s", "sum_s")})
    benchmark.extra_info["archs"] = len(df)


@pytest.mark.parametrize("prune", [False, True], ids=["dead-edges-kept", "dead-edges-pruned"])
def test_hwcost_all_nb201_warm(benchmark, eyeriss, prune):
    nb201_hwcost(eyeriss, prune=prune)  # JIT / table / structure warm-up
    df = benchmark.pedantic(lambda: nb201_hwcost(eyeriss, prune=prune), rounds=5, iterations=1)
    _record(benchmark, df)
    assert len(df) == 15625
    assert benchmark.stats.stats.median <= 1.0


def test_hwcost_all_nb201_structure_cold(benchmark, eyeriss):
    nb201_hwcost(eyeriss)

    def cold():
        cost_structure.cache_clear()
        return nb201_hwcost(eyeriss)

    _record(benchmark, benchmark.pedantic(cold, rounds=3, iterations=1))


def test_hwcost_all_nb201_sum_only(benchmark, eyeriss):
    ev = NetworkEvaluator(eyeriss, parallel=False)
    nb201_hwcost(evaluator=ev)  # maps once; rounds only look up the cache and sum
    _record(benchmark, benchmark(nb201_hwcost, evaluator=ev))


def test_search_500_queries(benchmark):
    sp, oracle = NB201Space(), NB201Problem("cifar10")
    df = benchmark(regularized_evolution, sp, oracle, 500, seed=0)
    benchmark.extra_info["best_accuracy"] = float(df["best_score"].iloc[-1])
    benchmark.extra_info["random_best_accuracy"] = float(random_search(sp, oracle, 500, seed=0)["best_score"].iloc[-1])
