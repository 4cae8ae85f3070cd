"""Long NAS studies of issue #4 (pytest-benchmark; run explicitly, they take minutes on a CPU)::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m pytest bench/test_bench_nas_proxies.py --benchmark-enable -s

* zero-cost proxies on 500 random NAS-Bench-201 archs: Spearman ρ with the CIFAR-10 test accuracy
  (same as ``accelsim nas-proxies --archs 500 --batch 16 --seed 0``);
* the MLP predictor's held-out ρ for 100 / 500 / 1000 training archs (``accelsim nas-predictor``);
* evolution (500 evaluations) vs the enumerated best under latency bounds on eyeriss, 10 seeds each;
  profiling (BBSSP) and cdf (CHaNAS) for comparison.

Every figure goes to ``benchmark.extra_info`` (saved with ``--benchmark-autosave``) and is printed.
"""

from pathlib import Path

import numpy as np
import pytest

from accel.arch import load_arch
from nas import nb201
from nas.latency_table import SpaceHardware
from nas.predictor import predictor_study
from nas.profiling import NASProblem, run_search
from nas.registry import get_space
from nas.search import Objective

ROOT = Path(__file__).resolve().parent.parent
SPACE = get_space("nb201")


def _archs(n: int, seed: int) -> list:
    rng = np.random.Generator(np.random.PCG64(seed))
    return [nb201.index_to_arch(int(i)) for i in rng.choice(nb201.N_ARCHS, size=n, replace=False)]


def test_proxies_spearman_500(benchmark):
    pytest.importorskip("torch")
    from nas.proxies import proxy_study

    df = benchmark.pedantic(proxy_study, args=(SPACE, _archs(500, 0), SPACE.accuracy),
                            kwargs={"batch_size": 16, "seed": 0}, rounds=1, iterations=1)
    rho = df.attrs["spearman"]
    benchmark.extra_info.update({f"spearman_{k}": v for k, v in rho.items()})
    print("proxy Spearman rho vs NB201 CIFAR-10 accuracy (500 archs):", rho)
    assert rho["synflow"] > 0.5


@pytest.mark.parametrize("n_train", [100, 500, 1000])
def test_predictor_held_out(benchmark, n_train):
    df = benchmark.pedantic(predictor_study, args=(SPACE, SPACE.accuracy, n_train, 2000, 0), rounds=1, iterations=1)
    benchmark.extra_info.update({k: df.attrs[k] for k in ("spearman", "kendall", "rmse")})
    print(f"predictor n_train={n_train}: held-out Spearman {df.attrs['spearman']:.3f}")
    assert df.attrs["spearman"] > 0.6


@pytest.mark.parametrize("strategy", ["evolution", "profiling", "cdf"])
def test_constrained_search_gap(benchmark, strategy):
    hw = SpaceHardware(SPACE, load_arch(ROOT / "configs" / "eyeriss.yaml"))
    problem = NASProblem(SPACE.accuracy, hw)
    acc = nb201.accuracies("cifar10")  # by official index, as SPACE.enumerate()
    lat = np.array([hw(a)["latency_s"] for a in SPACE.enumerate()])

    def study():
        out = {}
        for bound_ms in (1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0):
            true = acc[lat <= bound_ms * 1e-3].max()
            objective = Objective(constraints={"latency_s": bound_ms * 1e-3})
            gaps = [true - run_search(SPACE, problem, strategy, 500, seed=s, objective=objective).attrs["best_score"]
                    for s in range(10)]
            out[bound_ms] = (float(np.mean(gaps)), float(np.max(gaps)), int(sum(g > 0.3 for g in gaps)))
        return out

    res = benchmark.pedantic(study, rounds=1, iterations=1)
    for b, (mean, mx, fails) in res.items():
        benchmark.extra_info[f"{b}ms"] = {"mean_gap": mean, "max_gap": mx, "seeds_over_0.3": fails}
        print(f"{strategy} {b} ms: mean gap {mean:.3f}, max {mx:.3f}, {fails}/10 seeds > 0.3")
