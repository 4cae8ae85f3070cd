"""Sweep throughput (pytest-benchmark; run explicitly)::

    .venv/bin/python -m pytest bench/test_bench_sweep.py --benchmark-enable -p no:cacheprovider -s

Target (issue "accelerator sweeps at scale"): 1,000 accelerator configs x 100 NAS-Bench-201 archs in
<= 60 s on 2 cores, warm.  "Warm" = numba kernels compiled and cached on disk and the two worker
processes of the pool already started (a one-point sweep runs on the same pool first); the timed call is
the whole :func:`accel.app.sweep.run_sweep`: expansion, batching, mapping the 21 unique NB201 CIFAR layer
shapes once per design point, the per-arch sums, Parquet parts and the final table.

``test_sweep_40x100`` is the quick variant for regression tracking; ``extra_info`` has the per-config
time and the extrapolation to 1,000 configs.  ``test_sweep_1000x100`` is the full target (minutes).

``test_sweep_scale_250x20`` (issue 13: 100,000 points x 20 NB201 cells in <= 10 min on 2 cores): two of the 800
groups of 125 consecutive points of ``configs/sweeps/scale-100k.yaml`` (one from each half of the grid; a group
differs only in the GLB and DRAM bandwidths and the clock, and shares each layer's mapping search —
:func:`mapper.search.search_mapping_group` — when it runs as one batch, as the full sweep's ``--batch-size 125`` runs it) x
``nb201-sample:20:0``; ``extra_info`` has the CPU seconds per point and the 100,000-point extrapolation on an idle
machine.  ``bench/sweep_scale.py`` runs the CLI on the whole spec (or a slice) with peak
memory and a kill + resume check.
"""

import dataclasses
import os
import resource
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from accel.app.sweep import run_sweep
from accel.designspace import load_sweep, parse_sweep

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ["nb201-sample:100:0"]


def _spec(n: int) -> dict:
    """A grid of n (40 or 1000) design points around eyeriss."""
    shapes = [[12, 14], [8, 8], [16, 16], [24, 14], [12, 28]]
    params = [
        {"path": ["pe_array.rows", "pe_array.cols"], "values": shapes},
        {"path": "levels.GLB.size_bytes", "values": [27648, 55296, 110592, 221184, 442368]},
        {"path": "levels.spad.partitions_bytes.weights", "values": [224, 448, 896, 1792]},
        {"path": ["levels.DRAM.read_bandwidth_bits", "levels.DRAM.write_bandwidth_bits"], "values": [32, 64, 128, 256, 512]},
        {"path": ["bitwidths.weights", "bitwidths.inputs"], "values": [[16, 16], [8, 8]]},
    ]
    if n == 40:
        params[0]["values"] = shapes[:1]
        params[1]["values"] = params[1]["values"][:4]
        params[3]["values"] = params[3]["values"][:5]
        params[2]["values"] = params[2]["values"][:1]
    return {"version": 1, "name": f"bench{n}", "base": str(ROOT / "configs" / "eyeriss.yaml"), "parameters": params}


def _run(benchmark, n: int, tmp_path):
    sw = parse_sweep(_spec(n), f"bench{n}", ROOT)
    assert len(sw.points()) == n
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_utime
    with ProcessPoolExecutor(2) as ex:
        warm = parse_sweep({**_spec(40), "parameters": []}, "warm", ROOT)
        run_sweep(warm, WORKLOADS, tmp_path / "warm.parquet", executor=ex, batch_size=1)
        k = iter(range(100))
        df = benchmark.pedantic(lambda: run_sweep(sw, WORKLOADS, tmp_path / f"r{next(k)}.parquet", executor=ex,
                                                  batch_size=max(1, n // 40)), rounds=1, iterations=1)
    # CPU seconds of this process and the (reaped) pool workers, warm-up point included
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu0
    assert len(df) == n * 100 and not df.duplicated(["point", "workload"]).any()
    s = benchmark.stats.stats.median
    benchmark.extra_info.update({"configs": n, "archs": 100, "s_per_config": s / n,
                                 "extrapolated_1000_configs_s": 1000 * s / n, "target_1000_configs_s": 60,
                                 "ok_rows": int((df.status == "ok").sum()), "cpu_s_per_config": cpu / (n + 1),
                                 "load_avg_1min": os.getloadavg()[0]})
    print(f"\n{n} configs x 100 NB201 archs: {s:.1f} s wall ({1000 * s / n:.0f} s per 1,000 configs; target 60 s); "
          f"{cpu / (n + 1):.2f} CPU s per config; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def test_sweep_scale_250x20(benchmark, tmp_path):
    sw = load_sweep(ROOT / "configs" / "sweeps" / "scale-100k.yaml")
    grid = sw.assignments()
    pick = [grid[g * 125 + k] for g in (200, 600) for k in range(125)]  # two groups of 125 points
    sw = dataclasses.replace(sw)
    sw.assignments = lambda: pick  # type: ignore[method-assign]
    wl = ["nb201-sample:20:0"]
    import psutil

    def cpu() -> float:  # this process and its live pool workers (their startup and the warm-up counted before)
        procs = [psutil.Process(), *psutil.Process().children(recursive=True)]
        return sum(t.user + t.system for t in (p.cpu_times() for p in procs))

    with ProcessPoolExecutor(2) as ex:
        two = [{"path": "levels.DRAM.read_bandwidth_bits", "values": [32, 64]}]
        warm = parse_sweep({**_spec(40), "parameters": two}, "warm", ROOT)  # two batches: both workers started, warm
        run_sweep(warm, wl, tmp_path / "warm.parquet", executor=ex, batch_size=1)
        c0 = cpu()
        df = benchmark.pedantic(lambda: run_sweep(sw, wl, tmp_path / "scale.parquet", executor=ex, batch_size=125),
                                rounds=1, iterations=1)
        c = cpu() - c0
    assert len(df) == 250 * 20 and (df.status == "ok").all()
    cpu_pt = c / 250
    benchmark.extra_info.update({"points": 250, "cells": 20, "points_per_s": 250 / benchmark.stats.stats.median,
                                 "cpu_s_per_point": cpu_pt, "extrapolated_100k_idle_2_cores_s": cpu_pt * 100_000 / 2,
                                 "target_100k_s": 600, "load_avg_1min": os.getloadavg()[0]})
    print(f"\n250 points x 20 NB201 cells: {benchmark.stats.stats.median:.1f} s wall, {cpu_pt * 1e3:.1f} ms CPU per "
          f"point -> ~{cpu_pt * 100_000 / 2:.0f} s for 100,000 points on 2 idle cores (target 600 s)")


def test_sweep_40x100(benchmark, tmp_path):
    _run(benchmark, 40, tmp_path)


@pytest.mark.slow
def test_sweep_1000x100(benchmark, tmp_path):
    _run(benchmark, 1000, tmp_path)
