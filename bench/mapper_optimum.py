"""Exhaustive optimum of the mapper's own mapspace on a corpus of small (layer, arch, objective) cases
(issue 13: mapper quality; a bench script, its output is committed as tests/data/mapper_optimum.json).

For every case it builds the *reference* mapspace — :func:`mapper.mapspace.build_mapspace` with every
spatial candidate kept (``max_spatial=ALL_SPATIAL``; the per-axis option limit and the split-choice
thinning apply as in the search), the space the default search draws from (``MAX_SPATIAL``) is a subset
of it — and evaluates every mapping of it with the batched cost kernel
(:func:`mapper.search.exhaustive_optimum`: every spatial candidate × every split combination × every keep
variant × one loop order per class of orders that visit the same non-trivial loops in the same sequence;
the class reduction is lossless, see :func:`mapper.search._order_reps` and its test).

The JSON records, per case, the optimum objective and genome, the number of genomes evaluated, and two
digests that tell whether the data is still current (tests/test_mapper_quality.py recomputes both):
``mapspace_digest`` (the encoded reference mapspace) and ``cost_fingerprint`` (the objective of a fixed
seeded sample of genomes plus the optimum: any change of the cost model that moves a number of the corpus
changes it).  When the test says the data is stale, rerun::

    PYTHONPATH=. python bench/mapper_optimum.py -o tests/data/mapper_optimum.json --force

(about 1–3 minutes on 2 cores).  ``--cases ID,...`` recomputes a subset and prints it (no file).
``--gaps fast --gaps thorough`` instead runs the search (5 seeds) on the committed data's cases and prints
its gaps to the optimum (mean, worst, how often optimal).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from accel.arch import load_arch  # noqa: E402
from accel.errors import AccelsimError  # noqa: E402
from accel.workload import parse_layer_spec  # noqa: E402
from mapper.genome import random_genomes  # noqa: E402
from mapper.mapspace import ALL_SPATIAL, MapSpace, build_mapspace  # noqa: E402
from mapper.search import BUDGETS, _Evaluator, exhaustive_optimum  # noqa: E402

SCRIPT = "bench/mapper_optimum.py"
DATA = ROOT / "tests" / "data" / "mapper_optimum.json"

# Small layers (batch 1 unless said): a 3x3 conv, a 1x1 (pointwise) conv, a 3x3 depthwise conv, a
# fully connected layer (batch 2).  Small enough that the reference mapspace has at most a few 10^6
# order classes on every shipped config below.
LAYERS = {
    "conv3x3": "conv N=1 K=8 C=4 P=4 Q=4 R=3 S=3",
    "pw": "conv N=1 K=16 C=8 P=4 Q=4 R=1 S=1",
    "dw3x3": "conv N=1 K=8 C=8 P=4 Q=4 R=3 S=3 groups=8",
    "fc": "fc N=2 K=16 C=32",
}
# per shipped config the three layers of its cases (simba-like, tpu-v1 and nvdla-like take the 1x1 conv:
# their 3x3 reference spaces have 10^7–10^8 classes)
ARCH_LAYERS = {
    "eyeriss": ("conv3x3", "dw3x3", "fc"),
    "simba-like": ("pw", "dw3x3", "fc"),
    "tpu-v1": ("pw", "dw3x3", "fc"),
    "nvdla-like": ("pw", "dw3x3", "fc"),
}
OBJECTIVE_NAMES = ("edp", "latency", "energy")
FINGERPRINT_SAMPLES = 256


def corpus() -> list[dict]:
    """The cases: id, arch (config file), layer name and spec, objective."""
    return [{"id": f"{a}/{ln}/{obj}", "arch": f"configs/{a}.yaml", "layer": ln, "spec": LAYERS[ln], "objective": obj}
            for a, layers in ARCH_LAYERS.items() for ln in layers for obj in OBJECTIVE_NAMES]


def case_inputs(case: dict):
    """(layer, arch) of a case."""
    return parse_layer_spec(case["spec"], name=case["layer"]), load_arch(ROOT / case["arch"])


def reference_mapspace(case: dict) -> MapSpace:
    layer, arch = case_inputs(case)
    return build_mapspace(layer, arch, max_spatial=ALL_SPATIAL)


def mapspace_digest(ms: MapSpace) -> str:
    """sha256 (16 hex digits) of the encoded mapspace's arrays."""
    h = hashlib.sha256()
    for a in (ms.spatial_x, ms.spatial_y, ms.chains, ms.chain_start, ms.nsplits, ms.orders, ms.n_orders, ms.keeps):
        h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


def cost_fingerprint(ms: MapSpace, objective: str, optimum_genome) -> str:
    """sha256 (16 hex digits) of the objectives (10 significant digits) of FINGERPRINT_SAMPLES genomes
    drawn with seed 0 (spread over the spatial candidates) and of the optimum genome."""
    rng = np.random.Generator(np.random.PCG64(0))
    G = random_genomes(ms, np.arange(FINGERPRINT_SAMPLES) % len(ms.spatial_x), rng)
    if optimum_genome is not None:
        G = np.vstack([G, np.asarray(optimum_genome, dtype=np.int64)[None, :]])
    v = _Evaluator(ms, objective, parallel=False)(G)
    text = ",".join("inf" if not np.isfinite(x) else f"{x:.9e}" for x in v)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def solve(case: dict, parallel: bool = False) -> dict:
    """The case's record: exhaustive optimum, its genome, genomes evaluated, digests, seconds."""
    ms = reference_mapspace(case)
    t = time.perf_counter()
    best, g, n = exhaustive_optimum(ms, case["objective"], parallel=parallel)
    secs = time.perf_counter() - t
    genome = None if g is None else [int(x) for x in g]
    return {**case, "optimum": best if np.isfinite(best) else None, "genome": genome, "evaluated": n,
            "mapspace_size": ms.size(), "spatial_candidates": len(ms.spatial_x),
            "mapspace_digest": mapspace_digest(ms), "cost_fingerprint": cost_fingerprint(ms, case["objective"], g),
            "seconds": round(secs, 2)}


def objective_value(cost, objective: str) -> float:
    """The search objective of a :class:`accel.cost.CostRecord` (the kernel's: latency × energy for EDP)."""
    if objective == "latency":
        return cost.latency_cycles
    if objective == "energy":
        return cost.energy_pj
    return cost.latency_cycles * cost.energy_pj


def search_gaps(cases: list[dict], effort: str, seeds=range(5)) -> dict:
    """Relative gap (search / optimum - 1) of :func:`mapper.search.search_mapping` with the ``effort``
    budget (:data:`mapper.search.BUDGETS`) on every case (records with an ``optimum``) and seed:
    {case id: [gap per seed]}."""
    from mapper.search import search_mapping

    b = BUDGETS[effort]
    out = {}
    for c in cases:
        layer, arch = case_inputs(c)
        out[c["id"]] = [objective_value(search_mapping(layer, arch, c["objective"], seed=s, budget=b).cost,
                                        c["objective"]) / c["optimum"] - 1.0 for s in seeds]
    return out


def summarize(gaps: dict) -> str:
    allg = np.array([g for v in gaps.values() for g in v])
    per_case_opt = sum(1 for v in gaps.values() if max(v) <= 1e-9)
    return (f"mean {100 * allg.mean():.3f} %, worst {100 * allg.max():.3f} %, optimal in "
            f"{int((allg <= 1e-9).sum())}/{allg.size} runs ({per_case_opt}/{len(gaps)} cases for every seed)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", help="write the JSON here (refused if it exists, unless --force)")
    p.add_argument("--force", action="store_true", help="replace an existing --output")
    p.add_argument("--cases", help="comma-separated case ids (default: the whole corpus)")
    p.add_argument("--parallel", action="store_true", help="evaluate with the prange kernel (all cores)")
    p.add_argument("--gaps", metavar="EFFORT", action="append", choices=sorted(BUDGETS),
                   help="instead: the search's gap to the committed optimum over 5 seeds with this effort (repeatable)")
    args = p.parse_args(argv)
    if args.gaps:
        data = json.loads(DATA.read_text())["cases"]
        if args.cases:
            data = [c for c in data if c["id"] in args.cases.split(",")]
        for e in args.gaps:
            t = time.perf_counter()
            g = search_gaps(data, e)
            for k, v in g.items():
                if max(v) > 1e-9:
                    print(f"  {e:8s} {k:32s} " + " ".join(f"{100 * x:7.3f}" for x in v))
            print(f"{e}: {summarize(g)}  [{time.perf_counter() - t:.1f} s]", flush=True)
        return 0
    from accel.app.output import check_output, write_text

    if args.output:
        try:
            check_output(args.output, args.force)
        except AccelsimError as e:
            print(f"mapper_optimum: {e}", file=sys.stderr)
            return 2
    cases = corpus()
    if args.cases:
        want = args.cases.split(",")
        unknown = sorted(set(want) - {c["id"] for c in cases})
        if unknown:
            p.error(f"--cases: unknown case ids {unknown}")
        cases = [c for c in cases if c["id"] in want]
    t0 = time.perf_counter()
    c0 = time.process_time()
    out = []
    for c in cases:
        r = solve(c, args.parallel)
        out.append(r)
        print(f"{r['id']:32s} optimum {r['optimum']:.6e}  {r['evaluated']:>9,d} genomes  {r['seconds']:6.1f} s",
              flush=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"{len(out)} cases in {wall:.1f} s wall, {cpu:.1f} s CPU")
    if args.output:
        doc = {"script": SCRIPT,
               "command": f"PYTHONPATH=. python {SCRIPT} -o {args.output} --force" + (" --parallel" if args.parallel else ""),
               "reference_mapspace": "mapper.mapspace.build_mapspace(layer, arch, max_spatial=ALL_SPATIAL)",
               "enumeration": "mapper.search.exhaustive_optimum (every genome, one loop order per cost-equivalent class)",
               "fingerprint_samples": FINGERPRINT_SAMPLES,
               "seconds_wall": round(wall, 1), "seconds_cpu": round(cpu, 1),
               "cases": out}
        write_text(args.output, json.dumps(doc, indent=1) + "\n")
        print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
