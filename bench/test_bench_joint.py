"""Benchmarks of the joint network × bitwidth × accelerator search, and its synthetic comparison study
(pytest-benchmark; run explicitly, benchmarks are disabled by default)::

    .venv/bin/python -m pytest bench/test_bench_joint.py --benchmark-enable

* ``test_cost_table_build``: the accelsim cost table of a small space (mapping searches per second).
* ``test_supernet_steps``: one weight step + one architecture step of the FBNet supernet (width 0.5, all
  7 stages at depth 1, 32×32, batch 64, one torch thread).
* ``test_joint_study_synthetic`` (slow, ~10–30 min on 2 cores): ``accelsim joint --compare`` on synthetic
  data at the size of the issue's closing note; the derived design and the two baselines (the same network
  on the reference accelerator; decoupled NAS-then-sweep) go to ``extra_info`` and ``summary.json``.
"""

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from accel.arch import load_arch  # noqa: E402
from nas.joint.costtable import build_cost_table  # noqa: E402
from nas.joint.engine import gumbel_softmax  # noqa: E402
from nas.joint.space import FBNetSpace  # noqa: E402
from nas.joint.supernet import FBNetSupernet  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
STUDY_HW = f"""version: 1
name: joint-study
description: Eyeriss-like row-stationary accelerators, 168 PEs in three shapes x two global buffers (size with its access energy).
base: {ROOT / 'configs' / 'eyeriss.yaml'}
parameters:
  - path: [pe_array.rows, pe_array.cols]
    values: [[12, 14], [6, 28], [24, 7]]
  - path: [levels.GLB.size_bytes, levels.GLB.read_energy_pj, levels.GLB.write_energy_pj]
    values: [[27648, 12.0, 12.0], [110592, 24.0, 24.0]]
"""
STUDY_ARGS = ["--space", "fbnet", "--data", "synthetic", "--epochs", "10", "--warmup-epochs", "4", "--finetune-epochs", "3",
              "--latency-weight", "1", "--energy-weight", "1", "--objective", "gen-gap", "--bits", "4,6,8,16",
              "--width-mult", "0.5", "--max-depth", "1", "--resolution", "32", "--train-samples", "3000",
              "--test-samples", "1000", "--batch-size", "32", "--compare", "--jobs", "2"]


def test_cost_table_build(benchmark):
    eyeriss = load_arch(ROOT / "configs" / "eyeriss.yaml")
    alt = eyeriss.with_config(pe_array={**eyeriss.config.pe_array.model_dump(), "rows": 6, "cols": 28})
    space = FBNetSpace.cifar(width_mult=0.25, max_depth=1, num_stages=3, resolution=16)

    def build():
        with ThreadPoolExecutor(2) as pool:
            return build_cost_table(space, ((4, 4), (8, 8)), [eyeriss, alt], ["eyeriss", "6x28"], executor=pool)

    build()  # numba warm-up
    table = benchmark.pedantic(build, rounds=2, iterations=1)
    benchmark.extra_info["mapping_searches"] = table.meta["mapping_searches"]
    if benchmark.stats:
        benchmark.extra_info["searches_per_s"] = table.meta["mapping_searches"] / benchmark.stats.stats.median


def test_supernet_steps(benchmark):
    torch.set_num_threads(1)
    space = FBNetSpace.cifar(width_mult=0.5, max_depth=1, resolution=32)
    bits = ((4, 4), (6, 6), (8, 8), (16, 16))
    net = FBNetSupernet(space, bits)
    g = torch.Generator().manual_seed(0)
    alpha = torch.zeros(space.n_slots, 9, requires_grad=True)
    beta = torch.zeros(space.n_slots, 9, len(bits), requires_grad=True)
    x = torch.randn(64, 3, 32, 32)
    y = torch.randint(0, 10, (64,))
    li = torch.arange(space.n_slots)

    def steps():
        with torch.no_grad():
            _, ops = gumbel_softmax(alpha, 1.0, g)
            yb, _ = gumbel_softmax(beta[li, ops], 1.0, g)
        torch.nn.functional.cross_entropy(net(x, ops.tolist(), list(yb)), y).backward()  # weight step (soft bits)
        ya, oa = gumbel_softmax(alpha, 1.0, g)
        yb2, bb = gumbel_softmax(beta[li, oa], 1.0, g)
        gates = 1.0 + ya[li, oa] - ya[li, oa].detach()
        bg = 1.0 + yb2[li, bb] - yb2[li, bb].detach()
        out = net(x, oa.tolist(), [(int(bb[i]), bg[i]) for i in range(space.n_slots)], gates)
        torch.nn.functional.cross_entropy(out, y).backward()  # architecture step (hard, straight-through)

    steps()
    benchmark.pedantic(steps, rounds=5, iterations=1)


@pytest.mark.slow
def test_joint_study_synthetic(benchmark, tmp_path):
    from accel.app.cli import main

    spec = tmp_path / "hw.yaml"
    spec.write_text(STUDY_HW)
    out = tmp_path / "run"
    rc = benchmark.pedantic(lambda: main(["joint", *STUDY_ARGS, "--sweep", str(spec), "-o", str(out)]),
                            rounds=1, iterations=1)
    assert rc == 0
    s = json.loads((out / "summary.json").read_text())
    rows = {"joint": s, **s["baselines"]}
    for name, r in rows.items():
        for k in ("accuracy", "latency_ms", "energy_mj", "edp"):
            benchmark.extra_info[f"{name}.{k}"] = r[k]
    assert np.isfinite([r["edp"] for r in rows.values()]).all()
