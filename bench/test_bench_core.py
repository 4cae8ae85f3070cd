"""Speed benchmarks of the foundation (pytest-benchmark; run with --benchmark-enable).

Targets (issue #2): >= 1e6 mapping evaluations/s per core; the N=1 C=K=64 P=Q=56 R=S=3 layer mapped on
eyeriss in <= 20 ms warm (issue 13: with the default search, see bench/mapper_optimum.py for its quality); ResNet-50 on eyeriss in <= 1 s warm; first call (JIT) <= 10 s.
Numba is warmed up outside the timed region; rates go to ``extra_info``.
"""

import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from accel.arch import load_arch
from mapper.network import NetworkEvaluator
from accel.workload import parse_layer_spec
from accel.zoo import get_network
from mapper.genome import random_genomes
from mapper.mapspace import build_mapspace
from mapper.search import BUDGETS, _Evaluator, search_mapping

ROOT = Path(__file__).resolve().parent.parent
LAYER = parse_layer_spec("conv N=1 K=64 C=64 P=56 Q=56 R=3 S=3", name="conv3x3_64")


@pytest.fixture(scope="module")
def eyeriss():
    return load_arch(ROOT / "configs" / "eyeriss.yaml")


def _random_genomes(ms, n, seed=0):
    rng = np.random.default_rng(seed)
    return random_genomes(ms, rng.integers(0, len(ms.spatial_x), n), rng)


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_mapping_evaluations_per_second(benchmark, eyeriss, parallel):
    ms = build_mapspace(LAYER, eyeriss)
    ev = _Evaluator(ms, "edp", parallel=parallel)
    G = _random_genomes(ms, 200_000)
    ev(G[:100])  # JIT warm-up outside the timed region
    benchmark(ev, G)
    if benchmark.stats:  # None when benchmarks are disabled
        rate = len(G) / benchmark.stats.stats.median
        cores = 1 if not parallel else os.cpu_count()
        benchmark.extra_info["evaluations_per_s"] = rate
        benchmark.extra_info["evaluations_per_s_per_core"] = rate / cores


@pytest.mark.parametrize("effort", ["fast", "thorough"])
def test_map_conv3x3_64_on_eyeriss(benchmark, eyeriss, effort):
    """Issue 13: the default search (thorough) <= 20 ms warm; the mapspace is built (and memoised) in the
    warm-up, as every later search of the same layer shape reuses it."""
    budget = BUDGETS[effort]
    search_mapping(LAYER, eyeriss, budget=budget)  # warm-up
    res = benchmark(search_mapping, LAYER, eyeriss, budget=budget)
    benchmark.extra_info["evaluations"] = res.evaluations
    benchmark.extra_info["latency_cycles"] = res.cost.latency_cycles
    benchmark.extra_info["edp"] = res.cost.latency_cycles * res.cost.energy_pj


@pytest.mark.parametrize("threads", [1, os.cpu_count()], ids=["1thread", "allcores"])
def test_resnet50_on_eyeriss(benchmark, eyeriss, threads):
    net = get_network("resnet50")
    NetworkEvaluator(eyeriss).network(net)  # warm-up (JIT), then a fresh evaluator (no mapping cache) per round
    with ThreadPoolExecutor(threads) as pool:
        res = benchmark.pedantic(lambda: NetworkEvaluator(eyeriss).network(net, pool), rounds=5, iterations=1)
    benchmark.extra_info["latency_s"] = res.latency_s
    benchmark.extra_info["unique_layer_shapes"] = res.meta["unique_layer_shapes"]


def test_first_call_with_cold_jit_cache(benchmark):
    """Fresh process, empty NUMBA_CACHE_DIR: import + compile + map one layer."""
    code = ("from accel.arch import load_arch; from accel.workload import parse_layer_spec; "
            "from mapper.search import search_mapping; "
            f"search_mapping(parse_layer_spec('conv K=64 C=64 P=56 Q=56 R=3 S=3'), load_arch('{ROOT}/configs/eyeriss.yaml'))")

    def cold():
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, NUMBA_CACHE_DIR=d)
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env=env)
            return time.perf_counter() - t

    benchmark.pedantic(cold, rounds=1, iterations=1)


def test_eval_resnet18_cold_start(benchmark):
    """Issue 13: `accelsim eval resnet18 --hw eyeriss` in fresh processes with an empty NUMBA_CACHE_DIR, with
    and without the prebuilt kernels, and warm (bench/cold_start.py; figures in bench/results/cold_start.json).
    CPU seconds are the figure on a shared machine; with the prebuilt kernels a cold start costs no compile."""
    from cold_start import measure  # bench/ is on sys.path (pytest prepends a test file's directory)

    figures = benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info.update({f"{k}_cpu_s": v["cpu_s"] for k, v in figures.items()})
    assert figures["cold_prebuilt"]["cpu_s"] <= 5.0, figures
