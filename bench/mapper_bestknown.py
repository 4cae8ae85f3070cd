"""Mapper quality on realistic sweep points (issue 13; a bench script, not CI).

``bench/mapper_optimum.py`` measures the search against the *exhaustive* optimum, which only small layers
allow (its corpus: 4x4 outputs, <= 32 channels).  This script asks the question a sweep user has: on the
layers and accelerators of a real design-space exploration, how far is the search from the best mapping
anyone can find?  There is no exhaustive optimum there (10^8 - 10^9 mappings per case), so the reference is
the *best known* mapping: the best over the default (thorough) search with ``--ref-seeds`` seeds and a
search with ``--ref-scale`` times the thorough budget.  A gap to the best known is a lower bound on the gap
to the optimum.

Cases: ``--cases`` (layer, design point) pairs drawn with ``--seed`` from the 100,000 points of
``configs/sweeps/scale-100k.yaml`` (the issue's scale target) and the MAC and pooling / element-wise layer
shapes of the 20 NAS-Bench-201 cells of ``nb201-sample:20:0`` (what that sweep maps).  Objective EDP.
Measured: for every effort, the gap of seeds 0 … ``--seeds``-1 to the best known — mean, median, 90th
percentile, worst, the share of runs more than 1 % above it — and the evaluations per search.

    PYTHONPATH=. python bench/mapper_bestknown.py -o bench/results/mapper_bestknown.json

(about 2-4 minutes on 2 idle cores with the defaults).  An existing ``-o`` file is kept unless ``--force``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from accel.app.sweep import parse_workloads  # noqa: E402
from accel.arch import parse_arch  # noqa: E402
from accel.designspace import load_sweep  # noqa: E402
from accel.errors import AccelsimError  # noqa: E402
from mapper.search import BUDGETS, THOROUGH, NoValidMapping, SearchBudget, search_mapping  # noqa: E402

SCRIPT = "bench/mapper_bestknown.py"
SPEC = ROOT / "configs" / "sweeps" / "scale-100k.yaml"
WORKLOAD = "nb201-sample:20:0"


def _layers() -> list:
    """Unique layer shapes (first occurrence) of the sweep's NB201 cells."""
    from accel.app.sweep import _network

    seen: dict = {}
    for w in parse_workloads([WORKLOAD]):
        for layer in _network(w.kind, w.ref, 1).layers:
            seen.setdefault(layer.shape_key(), layer)
    return list(seen.values())


def _edp(r) -> float:
    return float(r.cost.latency_cycles * r.cost.energy_pj)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", help="write the JSON here (refused if it exists, unless --force)")
    p.add_argument("--force", action="store_true", help="replace an existing --output")
    p.add_argument("--cases", type=int, default=120, help="(layer, design point) cases (default 120)")
    p.add_argument("--seed", type=int, default=0, help="seed of the case draw (default 0)")
    p.add_argument("--seeds", type=int, default=3, help="search seeds measured per effort (default 3)")
    p.add_argument("--ref-seeds", type=int, default=4, help="thorough seeds in the best-known reference (default 4)")
    p.add_argument("--ref-scale", type=int, default=4,
                   help="budget multiple of the extra reference search (default 4: 4x the thorough budget)")
    args = p.parse_args(argv)
    if args.output:
        from accel.app.output import check_output

        try:
            check_output(args.output, args.force)
        except AccelsimError as e:
            print(f"mapper_bestknown: {e}", file=sys.stderr)
            return 2
    sweep = load_sweep(SPEC)
    assignments = sweep.assignments()
    layers = _layers()
    rng = np.random.Generator(np.random.PCG64(args.seed))
    picks = [(int(rng.integers(len(assignments))), int(rng.integers(len(layers)))) for _ in range(args.cases)]
    big = SearchBudget(THOROUGH.samples * args.ref_scale, THOROUGH.rounds, THOROUGH.restarts * args.ref_scale,
                       THOROUGH.exhaustive_limit)
    t0, c0 = time.perf_counter(), time.process_time()
    runs: dict[str, list[tuple[int, float, int]]] = {e: [] for e in BUDGETS}
    best: list[float] = []
    skipped = 0
    for i, (pi, li) in enumerate(picks):
        cfg, _ = sweep._config(assignments[pi])
        try:
            arch = parse_arch(cfg, f"{SPEC.name} point {pi}")
        except AccelsimError:
            skipped += 1
            continue
        layer = layers[li]
        try:
            ref = [_edp(search_mapping(layer, arch, seed=s, budget=THOROUGH, explain=False))
                   for s in range(args.ref_seeds)]
            ref.append(_edp(search_mapping(layer, arch, seed=0, budget=big, explain=False)))
            mine = {e: [search_mapping(layer, arch, seed=s, budget=b, explain=False) for s in range(args.seeds)]
                    for e, b in BUDGETS.items()}
        except NoValidMapping:
            skipped += 1
            continue
        k = len(best)
        best.append(min(ref + [_edp(r) for rs in mine.values() for r in rs]))
        for e, rs in mine.items():
            runs[e].extend((k, _edp(r), r.evaluations) for r in rs)
        if (i + 1) % 20 == 0:
            print(f"{i + 1}/{len(picks)} cases  [{time.perf_counter() - t0:.0f} s]", flush=True)
    summary = {}
    for e, rs in runs.items():
        gap = np.array([v / best[k] - 1.0 for k, v, _ in rs]) * 100
        summary[e] = {"runs": len(rs), "mean_gap_pct": float(gap.mean()), "median_gap_pct": float(np.median(gap)),
                      "p90_gap_pct": float(np.percentile(gap, 90)), "worst_gap_pct": float(gap.max()),
                      "share_above_1pct": float((gap > 1.0).mean()),
                      "share_within_0_1pct": float((gap <= 0.1).mean()),
                      "evaluations_mean": float(np.mean([n for _, _, n in rs]))}
        s = summary[e]
        print(f"{e:9s} {s['runs']} runs: gap to best known mean {s['mean_gap_pct']:.3f} %, median "
              f"{s['median_gap_pct']:.3f} %, p90 {s['p90_gap_pct']:.2f} %, worst {s['worst_gap_pct']:.2f} %, "
              f"{100 * s['share_above_1pct']:.1f} % of runs > 1 %; {s['evaluations_mean']:,.0f} evaluations/search")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"{len(best)} cases ({skipped} without a valid mapping or config skipped) in {wall:.0f} s wall, "
          f"{cpu:.0f} s CPU; load average {os.getloadavg()[0]:.2f}")
    if args.output:
        from accel.app.output import write_text

        doc = {"script": SCRIPT, "command": f"PYTHONPATH=. python {SCRIPT} " + " ".join(argv or sys.argv[1:]),
               "spec": str(SPEC.relative_to(ROOT)), "workload": WORKLOAD, "objective": "edp",
               "cases": len(best), "skipped": skipped, "case_seed": args.seed, "search_seeds": args.seeds,
               "reference": f"best of thorough seeds 0..{args.ref_seeds - 1}, one {args.ref_scale}x-thorough search "
                            "(seed 0) and every measured run",
               "summary": summary, "wall_s": wall, "cpu_s": cpu, "load_average": os.getloadavg()[0]}
        write_text(args.output, json.dumps(doc, indent=1))
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
