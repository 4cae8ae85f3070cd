"""Sequence-length sweep of one Llama-2-7B decoder layer: prefill and decode on several accelerators (issue 16
proof; a bench script, not CI).

For every ``--hw`` config and every length S of ``--seqs``, maps and costs ``llama2_7b_layer`` (accel.zoo_transformer)
in both phases — prefill of S tokens (``llama2_7b_layer?phase=prefill&seq=S``) and one decode step with a KV
cache of S tokens (``...?phase=decode&context=S``) — and records per run: latency (cycles, s), latency per token,
energy, the three latency bounds

* ``compute_bound_cycles``  = MACs and ops / peak MAC units per cycle,
* ``weights_bound_cycles``  = bytes of every MAC layer's weights-slot operand (the weights, and the KV cache of the
  attention matmuls) / DRAM read bandwidth,
* ``compulsory_bound_cycles`` = bytes of every operand of every layer moved once / DRAM read bandwidth,

and the latency share of the layers that :func:`accel.app.report.layer_bound` calls ``compute``-bound.  Writes the
table (CSV, or Parquet by extension) with ``--table`` and a two-panel figure (latency per token vs S, both phases,
with the weights bound dashed; latency / compute bound vs S) with ``-o``; existing files are refused unless
``--force``.

Run (from the repository root, with ``PYTHONPATH=.``)::

    python bench/llm_seq_sweep.py --hw tpu-v1 --hw simba-like -o bench/results/llm_seq_sweep.png \\
        --table bench/results/llm_seq_sweep.csv
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import Executor, ThreadPoolExecutor

os.environ.setdefault("MPLBACKEND", "Agg")

DEFAULT_SEQS = (128, 256, 512, 1024, 2048, 4096)


def sweep(hws: list[str], seqs: list[int], effort: str = "thorough", executor: Executor | None = None,
          progress=None):
    """The sweep as a tidy DataFrame (one row per hw × phase × S); ``progress(done, total)`` after each run."""
    import pandas as pd

    from accel.app.report import layer_bound
    from accel.arch import load_arch
    from mapper.network import NetworkEvaluator
    from nas.registry import resolve_network

    rows = []
    total = len(hws) * len(seqs) * 2
    for hw in hws:
        arch = load_arch(hw)
        a = arch.arrays
        dram_bpc = float(a.read_bw[0]) / 8
        ev = NetworkEvaluator(arch, "latency", 0, effort=effort)
        for s in seqs:
            for phase in ("prefill", "decode"):
                spec = f"llama2_7b_layer?phase={phase}&" + (f"seq={s}" if phase == "prefill" else f"context={s}")
                net = resolve_network(spec, 1)
                t0, c0 = time.perf_counter(), time.process_time()
                res = ev.network(net, executor=executor)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                bits = a.op_bits[0]
                wbytes = sum(layer.operand_sizes()[0] * bits[0] / 8 for layer in net.layers if layer.is_mac)
                cbytes = sum(sum(n * bits[k] / 8 for k, n in enumerate(layer.operand_sizes())) for layer in net.layers)
                points = sum(layer.points for layer in net.layers)
                comp = sum(r.cost.latency_cycles for r in res.layers
                           if layer_bound(r.layer, r.cost, arch)["bound"] == "compute")
                tokens = s if phase == "prefill" else 1
                rows.append({
                    "hw": arch.name, "phase": phase, "seq": s, "tokens": tokens, "macs": res.macs,
                    "latency_cycles": res.latency_cycles, "latency_s": res.latency_s,
                    "latency_per_token_s": res.latency_s / tokens, "energy_pj": res.energy_pj,
                    "compute_bound_cycles": points / arch.peak_macs_per_cycle,
                    "weights_bound_cycles": wbytes / dram_bpc, "compulsory_bound_cycles": cbytes / dram_bpc,
                    "compute_bound_latency_share": comp / res.latency_cycles,
                    "map_wall_s": wall, "map_cpu_s": cpu})
                if progress:
                    progress(len(rows), total)
    df = pd.DataFrame(rows)
    df.attrs.update({"network": "llama2_7b_layer", "effort": effort, "objective": "latency"})
    return df


def plot(df, ax=None):
    """Two panels: latency per token vs S (prefill: S tokens, decode: one token, KV cache S) with each hw's
    weights bound per token dashed; latency / compute bound vs S.  Returns the Figure."""
    from accel.app.plots import new_figure

    if ax is None:
        fig, axes = new_figure(1, 2)
        ax0, ax1 = axes[0]
    else:
        ax0, ax1 = ax
        fig = ax0.figure
    for i, (hw, g) in enumerate(df.groupby("hw", sort=False)):
        col = f"C{i}"
        for phase, ls, mk in (("prefill", "-", "o"), ("decode", ":", "s")):
            p = g[g.phase == phase].sort_values("seq")
            ax0.plot(p.seq, p.latency_per_token_s * 1e3, ls=ls, marker=mk, color=col, label=f"{hw} {phase}")
            ax1.plot(p.seq, p.latency_cycles / p.compute_bound_cycles, ls=ls, marker=mk, color=col,
                     label=f"{hw} {phase}")
        d = g[g.phase == "decode"].sort_values("seq")
        clock = (d.latency_cycles / d.latency_s).iloc[0]
        ax0.plot(d.seq, d.weights_bound_cycles / clock * 1e3, ls="--", color=col, lw=0.8,
                 label=f"{hw} weights + KV cache / DRAM BW")
    ax0.set_xscale("log", base=2)
    ax0.set_yscale("log")
    ax0.set_xlabel("S (prefill tokens; decode KV-cache length)")
    ax0.set_ylabel("latency per token (ms)")
    ax0.set_title("Llama-2-7B layer: latency per token")
    ax0.legend(fontsize="x-small")
    ax0.grid(True, which="both", alpha=0.3)
    ax1.set_xscale("log", base=2)
    ax1.set_yscale("log")
    ax1.axhline(1, color="k", lw=0.8)
    ax1.set_xlabel("S")
    ax1.set_ylabel("latency / compute bound")
    ax1.set_title("distance from the compute roof (1 = compute-bound)")
    ax1.legend(fontsize="x-small")
    ax1.grid(True, which="both", alpha=0.3)
    return fig


def main(argv: list[str] | None = None) -> int:
    from accel.app.output import check_output, report_written, save_figure, write_frame

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hw", action="append", help="accelerator config (repeatable; default tpu-v1 and simba-like)")
    p.add_argument("--seqs", default=",".join(map(str, DEFAULT_SEQS)), help="comma-separated lengths S")
    p.add_argument("--effort", choices=("fast", "default", "thorough"), default="thorough")
    p.add_argument("-o", "--output", required=True, help="figure (.png, .pdf, .svg)")
    p.add_argument("--table", help="results table (.csv or .parquet)")
    p.add_argument("--force", action="store_true", help="replace existing outputs")
    args = p.parse_args(argv)
    try:
        seqs = [int(x) for x in args.seqs.split(",")]
    except ValueError:
        p.error(f"--seqs {args.seqs!r}: expected comma-separated integers")
    check_output(args.output, args.force)
    if args.table:
        check_output(args.table, args.force, "--table")
    effort = "thorough" if args.effort == "default" else args.effort
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        df = sweep(args.hw or ["tpu-v1", "simba-like"], seqs, effort, pool,
                   lambda d, n: print(f"\r{d}/{n} runs", end="", file=sys.stderr))
    print(file=sys.stderr)
    cols = ["hw", "phase", "seq", "latency_s", "latency_per_token_s", "compute_bound_cycles", "weights_bound_cycles",
            "latency_cycles", "compute_bound_latency_share"]
    print(df[cols].to_string(index=False))
    if args.table:
        write_frame(df, args.table, "parquet" if args.table.endswith(".parquet") else "csv")
        report_written(args.table)
    save_figure(plot(df), args.output)
    report_written(args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
