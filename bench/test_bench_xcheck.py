"""The full CPU cross-check (issue #6 closing figures): 20 NAS-Bench-201 cells + 5 MBConv networks on this host,
against MetaSchedule-tuned TVM and onnxruntime, written to ``bench/results/xcheck_cpu.json``.

Run explicitly (minutes; needs the ``xcheck`` extra and the committed tuning database)::

    .venv/bin/python -m pytest bench/test_bench_xcheck.py --benchmark-enable -p no:cacheprovider -s

which runs exactly::

    accelsim xcheck --space nb201 --sample 20 --network mbconv_cifar:... (5, sample_specs("mbconv_cifar", 5, 0)) \\
        --hw configs/cpu-host.yaml --backend tvm --backend ort --summary-json bench/results/xcheck_cpu.json

TVM reports latencies only for networks whose kernels are all in ``bench/tvm_tuning_db`` (the others are
listed as refused in the JSON); tune more with ``--trials N``.
"""

from pathlib import Path

import pytest

from accel.app.cli import main
from nas.registry import sample_specs

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "results" / "xcheck_cpu.json"


def xcheck_argv() -> list[str]:
    argv = ["xcheck", "--space", "nb201", "--sample", "20", "--hw", str(ROOT / "configs" / "cpu-host.yaml"),
            "--backend", "tvm", "--backend", "ort", "--summary-json", str(OUT)]
    for n in sample_specs("mbconv_cifar", 5, 0):
        argv += ["--network", n]
    return argv


def test_xcheck_cpu_full(benchmark):
    pytest.importorskip("tvm")
    pytest.importorskip("onnxruntime")
    rc = benchmark.pedantic(main, args=(xcheck_argv(),), rounds=1, iterations=1)
    assert rc == 0 and OUT.exists()
