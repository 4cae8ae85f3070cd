"""Layer-fusion study (issue 16, part 1): DRAM traffic, energy and latency with and without inter-layer on-chip
reuse, and the NB201 per-op costs before and after.  Not part of CI (minutes of mapping on a small box).

    PYTHONPATH=. python bench/fusion_study.py -o bench/results/fusion_study.json [--effort fast] [--force]

Networks: ResNet-50 (zoo, batch 1), one NAS-Bench-201 cell on CIFAR-10 stage-1 shapes (16×32×32) of the arch
``CELL`` (all four op kinds: 3×3 and 1×1 conv, 3×3 avg pool, add), and the whole NB201 network of that arch.
Accelerators: eyeriss and simba-like, each with ``fusion`` policy none, elementwise, and depth_first
(``tile_rows`` 8).  Per-op costs, before (none) and after (elementwise, depth_first): ``per_op`` — mean
latency / energy / DRAM traffic per layer of each op kind in the single cell; ``per_cell_op`` — in the whole
network, the summed cost of one op of that kind in every one of the 15 cells (the "per NB201 cell op" figure
of issue 16: what choosing that op on one cell edge costs the network).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict

from accel.arch import load_arch
from accel.workload import NetworkBuilder
from accel.zoo import get_network
from mapper.fusion import dram_bits
from mapper.network import NetworkEvaluator
from nas.nb201 import _cell, build_network, parse_arch

CELL = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|"
POLICIES = {"none": {"policy": "none"}, "elementwise": {"policy": "elementwise"},
            "depth_first": {"policy": "depth_first", "tile_rows": 8}}
HW = ("eyeriss", "simba-like")


def nb201_cell(arch: str = CELL, channels: int = 16, hw: int = 32):
    """One NB201 cell as a network (input 1×channels×hw×hw), built by the NB201 cell builder."""
    b = NetworkBuilder("nb201-cell")
    x = b.input(1, channels, hw, hw)
    _cell(b, x, parse_arch(arch), "cell", prune=True)
    return b.build()


def op_kind(layer) -> str:
    if layer.op == "conv":
        return f"conv{layer.R}x{layer.S}"
    return layer.op


def run(effort: str, progress=print) -> dict:
    nets = {"resnet50": get_network("resnet50"), "nb201-cell": nb201_cell(), "nb201-net": build_network(CELL)}
    out: dict = {"cell": CELL, "effort": effort, "results": [], "per_op": [], "per_cell_op": []}
    for hw in HW:
        base = load_arch(hw)
        for net_name, net in nets.items():
            for pol, block in POLICIES.items():
                arch = base.with_config(fusion=block)
                t0, c0 = time.perf_counter(), time.process_time()
                res = NetworkEvaluator(arch, "edp", effort=effort).network(net)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                fz = res.fusion
                dram = sum(dram_bits(r.cost, arch) for r in res.layers)
                row = {"hw": hw, "network": net_name, "policy": pol, "dram_mb": dram / 8e6,
                       "energy_mj": res.energy_pj * 1e-9, "latency_ms": res.latency_s * 1e3, "edp_pj_s": res.edp,
                       "edges_on_chip": fz.edges_on_chip if fz else 0, "edges": net.graph.number_of_edges(),
                       "dram_mb_saved": fz.dram_bits_saved / 8e6 if fz else 0.0, "wall_s": wall, "cpu_s": cpu}
                out["results"].append(row)
                progress(f"{hw:11s} {net_name:11s} {pol:12s} DRAM {row['dram_mb']:9.3f} MB  E {row['energy_mj']:8.3f} mJ  "
                         f"lat {row['latency_ms']:8.3f} ms  on-chip edges {row['edges_on_chip']}/{row['edges']}  "
                         f"(cpu {cpu:.1f} s)")
                if net_name == "nb201-net":  # one cell op = that op in all 15 cells (3 stages × 5)
                    acc = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
                    for r in res.layers:
                        if not r.layer.name.startswith("stage"):
                            continue
                        a = acc[op_kind(r.layer)]
                        a[0] += 1
                        a[1] += r.cost.latency_s
                        a[2] += r.cost.energy_pj
                        a[3] += dram_bits(r.cost, arch)
                    for kind, (n, lat, e, d) in sorted(acc.items()):
                        k = n / 15  # ops of this kind per cell
                        out["per_cell_op"].append({"hw": hw, "policy": pol, "op": kind, "per_cell": k,
                                                   "latency_ms": lat / k * 1e3, "energy_uj": e / k * 1e-6,
                                                   "dram_kb": d / k / 8e3})
                if net_name == "nb201-cell":
                    acc = defaultdict(lambda: [0, 0.0, 0.0, 0.0])
                    for r in res.layers:
                        a = acc[op_kind(r.layer)]
                        a[0] += 1
                        a[1] += r.cost.latency_s
                        a[2] += r.cost.energy_pj
                        a[3] += dram_bits(r.cost, arch)
                    for kind, (n, lat, e, d) in sorted(acc.items()):
                        out["per_op"].append({"hw": hw, "policy": pol, "op": kind, "layers": n,
                                              "latency_ms": lat / n * 1e3, "energy_uj": e / n * 1e-6,
                                              "dram_kb": d / n / 8e3})
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--effort", choices=("fast", "default", "thorough"), default="fast")
    args = ap.parse_args(argv)
    from accel.app.output import check_output, emit_text

    check_output(args.output, args.force)
    effort = "thorough" if args.effort == "default" else args.effort
    out = run(effort, progress=lambda s: print(s, file=sys.stderr, flush=True))
    print("per-op (NB201 cell, stage-1 shapes): op, policy -> latency ms / energy uJ / DRAM kB per layer",
          file=sys.stderr)
    for p in out["per_op"]:
        print(f"  {p['hw']:11s} {p['op']:9s} {p['policy']:12s} {p['latency_ms']:.4f} ms  {p['energy_uj']:.2f} uJ  "
              f"{p['dram_kb']:.1f} kB", file=sys.stderr)
    print("per cell op (whole NB201 network: one op in each of the 15 cells) -> latency ms / energy uJ / DRAM kB",
          file=sys.stderr)
    for p in out["per_cell_op"]:
        print(f"  {p['hw']:11s} {p['op']:9s} {p['policy']:12s} {p['latency_ms']:.4f} ms  {p['energy_uj']:.2f} uJ  "
              f"{p['dram_kb']:.1f} kB", file=sys.stderr)
    emit_text(json.dumps(out, indent=1), args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
