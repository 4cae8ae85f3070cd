"""What onnxruntime really executes for networks of the device study, node by node, vs the device model's layers.

Issue 14 (CPU device-model fidelity): the onnxruntime model was 26–37 % too fast on the MBConv / FBNet / DARTS
networks of ``bench/device_study.py``.  This script builds a few of the study's networks exactly as the study does
(:func:`bench.device_study.torch_model`, :func:`accel.nn.export_module_onnx`, the study's session options:
``ORT_ENABLE_ALL``, sequential, 1 intra-op thread), runs them under onnxruntime's profiler
(``SessionOptions.enable_profiling``), and sums the per-node kernel times by node category; the device model's
per-layer latencies of the network onnxruntime executes (:func:`bench.device_study.ort_executed_network`, as the
study's ``analyze``) are summed by the same categories.  The optimised graph (``optimized_model_filepath``)
shows the nodes the NCHWc layout transformer inserted (``com.microsoft.nchwc`` domain: ``ReorderInput`` /
``ReorderOutput``, NCHWc ``Conv`` / pools).  The committed ``bench/results/ort_node_profile.json``::

    nice -n -15 python bench/ort_node_profile.py --nets 500,501,502,534,535,536,568,569,570,128,277 --runs 30 \
        --hw-before BEFORE.yaml --force    # BEFORE.yaml: git show e8a63e7:configs/cpu-host.yaml

Timing note: profiler durations are wall clock per node on a shared 2-core VM (noisy); the summary sums each
node's **median** over ``--runs`` calls (each node's minimum is in the per-network detail), the per-network total
is the median thread CPU time of the same graph in a session without the profiler.  The profiler inflates every
node (its own bookkeeping): the summary estimates that per node (profiled medians summed minus the unprofiled
call, over all nodes) and gives each category also less that much per node (``measured_less_profiler_us``; the
categories then sum to the unprofiled calls, and the executor's per-node cost is spread over them).  The model
side is the committed config (``--hw-before``: also another one, e.g. ``git show <commit>:configs/cpu-host.yaml``
before a change); nothing here is fitted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import device_study as ds  # noqa: E402  (the study's builders: one implementation)

DEFAULT_NETS = (500, 501, 502, 534, 535, 536, 568, 569, 570)


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            import onnx

            return onnx.helper.get_attribute_value(a)
    return default


def graph_nodes(path: Path) -> dict[str, dict]:
    """node name → {op_type, domain, kernel (R, S), group, weight_shape} of the optimised graph."""
    import onnx

    m = onnx.load(str(path))
    inits = {i.name: tuple(i.dims) for i in m.graph.initializer}
    out = {}
    for n in m.graph.node:
        w = inits.get(n.input[1]) if len(n.input) > 1 else None
        k = _attr(n, "kernel_shape")
        out[n.name] = {"op_type": n.op_type, "domain": n.domain or "ai.onnx", "kernel": list(k) if k else None,
                       "group": _attr(n, "group", 1), "weight_shape": list(w) if w else None,
                       "activation": (_attr(n, "activation") or b"").decode() if _attr(n, "activation") else None,
                       "inputs": list(n.input), "outputs": list(n.output)}
    return out


def node_category(info: dict) -> str:
    """The category of an executed onnxruntime node (layout reorders, convs by kind, the rest by op type)."""
    op = info["op_type"]
    if op in ("ReorderInput", "ReorderOutput"):
        return op
    if op in ("Conv", "FusedConv"):
        w = info.get("weight_shape") or []
        k = info.get("kernel") or (w[2:] if len(w) >= 4 else None)
        g = info.get("group") or 1
        if g > 1 and len(w) >= 2 and w[1] == 1:
            return "conv.depthwise"
        if k and list(k) == [1, 1]:
            return "conv.1x1"
        return "conv.kxk"
    if op in ("Gemm", "MatMul", "FusedGemm", "FusedMatMul"):
        return "gemm"
    if op in ("MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"):
        return "pool." + op
    return op


def layer_category(layer) -> str:
    from accel.device import op_class

    cls = op_class(layer)
    if cls == "conv":
        return "conv.1x1" if (layer.R, layer.S) == (1, 1) else "conv.kxk"
    if cls == "depthwise":
        return "conv.depthwise"
    if cls == "pool":
        return "pool"
    if cls == "eltwise":
        return f"eltwise.{layer.op}"
    return cls


def profile_network(i: int, sp: str, enc: str, runs: int, warmup: int, tmp: Path) -> dict:
    import onnxruntime as ort
    import torch

    from accel.nn import export_module_onnx

    model, shape = ds.torch_model(sp, enc)
    path = export_module_onnx(model, shape, tmp / f"n{i}.onnx")
    opt_path = tmp / f"n{i}.opt.onnx"
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0)).numpy()
    # the study's session (bench/device_study.py _ort_session) with the profiler on and the optimised graph saved
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.optimized_model_filepath = str(opt_path)
    so.enable_profiling = True
    so.profile_file_prefix = str(tmp / f"prof{i}")
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    feed = {sess.get_inputs()[0].name: x}
    for _ in range(warmup):
        sess.run(None, feed)
    cpu = []
    for _ in range(runs):
        c0 = time.thread_time()
        sess.run(None, feed)
        cpu.append(time.thread_time() - c0)
    prof = json.loads(Path(sess.end_profiling()).read_text())
    # the same graph without the profiler (its per-node bookkeeping inflates the call): the study's statistic
    so.enable_profiling = False
    so.optimized_model_filepath = ""
    plain = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    for _ in range(warmup):
        plain.run(None, feed)
    plain_cpu = []
    for _ in range(runs):
        c0 = time.thread_time()
        plain.run(None, feed)
        plain_cpu.append(time.thread_time() - c0)
    nodes = graph_nodes(opt_path)
    per_node = defaultdict(list)
    run_totals = []
    for ev in prof:
        if ev.get("cat") == "Node" and ev["name"].endswith("_kernel_time"):
            per_node[ev["name"][: -len("_kernel_time")]].append(ev["dur"])
        elif ev.get("cat") == "Session" and ev["name"] == "model_run":
            run_totals.append(ev["dur"])
    run_totals = run_totals[warmup:]
    node_rows = []
    for name, durs in per_node.items():
        d = durs[warmup:] if len(durs) > warmup else durs
        info = nodes.get(name, {"op_type": "?", "domain": "?"})
        node_rows.append({"node": name, "op_type": info["op_type"], "domain": info["domain"],
                          "category": node_category(info) if info["op_type"] != "?" else "?",
                          "kernel": info.get("kernel"), "group": info.get("group"),
                          "weight_shape": info.get("weight_shape"), "min_us": float(np.min(d)),
                          "median_us": float(np.median(d))})
    return {"net": i, "space": sp, "arch": enc, "input_shape": list(shape), "nodes": node_rows,
            "model_run_median_us": float(np.median(run_totals)) if run_totals else None,
            "thread_cpu_median_us": float(np.median(plain_cpu) * 1e6),
            "thread_cpu_min_us": float(np.min(plain_cpu) * 1e6),
            "thread_cpu_profiled_median_us": float(np.median(cpu) * 1e6),
            "graph_op_counts": _counts(nodes)}


def _counts(nodes: dict) -> dict:
    c = defaultdict(int)
    for v in nodes.values():
        c[f"{v['domain']}:{v['op_type']}"] += 1
    return dict(sorted(c.items()))


def model_breakdown(sp: str, enc: str, hw: str) -> dict:
    from accel.arch import load_arch
    from accel.device import DeviceModel

    dev = load_arch(hw).with_runtime("onnxruntime").with_threads(1)
    res = DeviceModel(dev).network(ds.ort_executed_network(sp, enc))
    cat = defaultdict(lambda: [0, 0.0])
    for r in res.layers:
        k = layer_category(r.layer)
        cat[k][0] += 1
        # the kernel (the profiler's kernel time): latency minus the operator overhead and the NCHWc reorders
        # charged to this layer (accel/device.py 2b), which are their own category
        cat[k][1] += (r.cost.latency_s - r.cost.overhead_s - r.cost.reorder_s) * 1e6
        cat["reorder"][0] += r.cost.reorders
        cat["reorder"][1] += r.cost.reorder_s * 1e6
    return {"total_us": res.latency_s * 1e6, "inference_overhead_us": res.inference_overhead_s * 1e6,
            "operator_overhead_us": sum(r.cost.overhead_s for r in res.layers) * 1e6,
            "by_category": {k: {"count": v[0], "us": v[1]} for k, v in sorted(cat.items())},
            "layers": [{"name": r.layer.name, "category": layer_category(r.layer), "shape": r.layer.describe(),
                        "us": r.cost.latency_s * 1e6, "reorder_us": r.cost.reorder_s * 1e6, "bound": r.cost.bound}
                       for r in res.layers]}


def summarise(profiles: list[dict], models: list[dict], before: list[dict] | None = None) -> dict:
    """Per category over all profiled networks: measured (sum of per-node minima) vs model, counts, share of the
    measured-minus-model gap."""
    meas = defaultdict(lambda: [0, 0.0])
    mod = defaultdict(lambda: [0, 0.0])
    for p, m in zip(profiles, models):
        for n in p["nodes"]:
            k = n["category"]
            k = "pool" if k.startswith("pool.") else k
            k = "eltwise.add" if k in ("Add", "Sum") else k
            k = "reorder" if k in ("ReorderInput", "ReorderOutput") else k
            meas[k][0] += 1
            meas[k][1] += n["median_us"]
        for k, v in m["by_category"].items():
            mod[k][0] += v["count"]
            mod[k][1] += v["us"]
    # outside the kernels: the executor's per-node and per-call cost (measured: the unprofiled call's thread CPU
    # time minus the kernels' median times; model: class overheads + inference overhead)
    call = sum(p["thread_cpu_median_us"] - sum(n["median_us"] for n in p["nodes"]) for p in profiles)
    key = "(outside kernels: per-node + per-call overhead)"
    meas[key] = [len(profiles), call]
    mod[key] = [len(profiles), sum(m["inference_overhead_us"] + m["operator_overhead_us"] for m in models)]
    old = defaultdict(lambda: [0, 0.0])
    for m in before or []:
        for k, v in m["by_category"].items():
            old[k][0] += v["count"]
            old[k][1] += v["us"]
        old[key][0] += 1
        old[key][1] += m["inference_overhead_us"] + m["operator_overhead_us"]
    # the profiler's own cost per node (it inflates every kernel time): the profiled kernels' medians summed minus
    # the unprofiled call, over every node; small nodes (reorders, ReLU, Concat) are overstated by about this much
    n_nodes = sum(len(p["nodes"]) for p in profiles)
    inflation = max(0.0, -call / n_nodes) if n_nodes else 0.0
    keys = sorted(set(meas) | set(mod))
    # missing = measured (less the profiler's per-node inflation) - model; share: of the measured networks' time
    corrected = {k: (meas[k][1] - meas[k][0] * inflation if k != key else meas[k][1] + n_nodes * inflation)
                 for k in keys}
    total = sum(p["thread_cpu_median_us"] for p in profiles)
    rows = []
    for k in keys:
        g = corrected[k] - mod[k][1]
        rows.append({"category": k, "measured_count": meas[k][0], "measured_us": meas[k][1],
                     "measured_less_profiler_us": corrected[k], "model_count": mod[k][0], "model_us": mod[k][1],
                     "missing_us": g, "share_of_measured": g / total if total else float("nan"),
                     **({"model_before_us": old[k][1]} if before else {})})
    rows.sort(key=lambda r: -abs(r["missing_us"]))
    return {"measured_total_us": total, "model_total_us": sum(mod[k][1] for k in keys),
            **({"model_before_total_us": sum(old[k][1] for k in keys)} if before else {}),
            "profiler_inflation_per_node_us": inflation, "nodes": n_nodes,
            "missing_total_us": total - sum(mod[k][1] for k in keys), "rows": rows}


def nodes_path(out_json: str | Path) -> Path:
    """The per-node table written next to the JSON: ``<stem>_nodes.csv.gz``."""
    p = Path(out_json)
    return p.with_name(p.stem + "_nodes.csv.gz")


def node_table(networks: list[dict]):
    """Every executed node of every profiled network (tidy: one row per node, profiler times in µs)."""
    import pandas as pd

    rows = [{"net": n["net"], "space": n["space"], **{k: v for k, v in node.items()}} for n in networks
            for node in n["nodes"]]
    df = pd.DataFrame(rows)
    for col in ("kernel", "weight_shape"):
        df[col] = df[col].map(lambda v: "x".join(map(str, v)) if isinstance(v, list) else "")
    return df


def split_output(out: dict, nodes_file: str) -> tuple[dict, object]:
    """(the JSON document: summary and per-network totals and category breakdowns, the per-node table): the
    per-node rows (~3,000 nodes) and the model's per-layer list (re-created by costing the network) would take
    a megabyte of JSON."""
    nets = [{**{k: v for k, v in n.items() if k != "nodes"},
             "model": {k: v for k, v in n["model"].items() if k != "layers"}} for n in out["networks"]]
    return {**out, "nodes_file": nodes_file, "networks": nets}, node_table(out["networks"])


def dump(out: dict) -> str:
    """The JSON document: indented, each network's detail on one compact line."""
    head = json.dumps({k: v for k, v in out.items() if k != "networks"}, indent=1)
    nets = ",\n".join("  " + json.dumps(n, separators=(",", ":")) for n in out["networks"])
    return head[:-2] + ',\n "networks": [\n' + nets + "\n ]\n}\n"


def main(argv=None) -> int:
    from accel.app.output import check_output, write_atomic, write_text

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--nets", default=",".join(map(str, DEFAULT_NETS)),
                   help="study network indices (500–533 MBConv, 534–567 FBNet, 568–601 DARTS)")
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--hw", default=str(ROOT / "configs" / "cpu-host.yaml"))
    p.add_argument("--hw-before", help="also cost the networks with this config (e.g. the config before a change)")
    p.add_argument("-o", default=str(ds.RESULTS / "ort_node_profile.json"))
    p.add_argument("--force", action="store_true")
    args = p.parse_args(argv)
    check_output(args.o, args.force)
    check_output(nodes_path(args.o), args.force)
    specs = ds.network_specs(500, 102, 0)
    idx = [int(s) for s in args.nets.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="ort-node-profile-"))
    profiles, models, before = [], [], []
    for i in idx:
        sp, enc = specs[i]
        profiles.append(profile_network(i, sp, enc, args.runs, args.warmup, tmp))
        models.append(model_breakdown(sp, enc, args.hw))
        if args.hw_before:
            before.append(model_breakdown(sp, enc, args.hw_before))
        print(f"net {i} ({sp}): thread CPU {profiles[-1]['thread_cpu_median_us']:.0f} us, "
              f"model {models[-1]['total_us']:.0f} us, ops {profiles[-1]['graph_op_counts']}", flush=True)
    import onnxruntime as ort

    out = {"hw": args.hw, "hw_before": args.hw_before, "onnxruntime": ort.__version__, "runs": args.runs,
           "warmup": args.warmup,
           "statistic": ("per node: median (and min) over runs of the profiler's kernel time, the summary sums "
                         "the medians; per network: median thread CPU "
                         "time of the unprofiled session; model: per-layer latency minus its operator overhead "
                         "and its NCHWc reorders (kernel), the reorders and the overheads as rows of their own"),
           "summary": summarise(profiles, models, before or None),
           "networks": [{**p, "model": m} for p, m in zip(profiles, models)]}
    doc, nodes = split_output(out, nodes_path(args.o).name)
    write_atomic(nodes_path(args.o), lambda t: nodes.to_csv(t, index=False, compression="gzip"))
    write_text(args.o, dump(doc))
    s = out["summary"]
    print(f"measured {s['measured_total_us']:.0f} us, model {s['model_total_us']:.0f} us, missing "
          f"{s['missing_total_us']:.0f} us over {len(idx)} networks")
    print(f"profiler inflation {s['profiler_inflation_per_node_us']:.2f} us per node ({s['nodes']} nodes)")
    print(f"{'category':48s} {'n meas':>6s} {'meas us':>8s} {'-prof':>8s} {'n mod':>6s} {'model us':>8s} "
          f"{'before':>8s} {'missing':>8s} of total")
    for r in s["rows"]:
        print(f"{r['category']:48s} {r['measured_count']:6d} {r['measured_us']:8.0f} "
              f"{r['measured_less_profiler_us']:8.0f} {r['model_count']:6d} "
              f"{r['model_us']:8.0f} {r.get('model_before_us', float('nan')):8.0f} {r['missing_us']:8.0f} "
              f"{100 * r['share_of_measured']:5.1f}%")
    return 0


if __name__ == "__main__":
    from accel.errors import AccelsimError

    try:
        raise SystemExit(main())
    except AccelsimError as e:  # one clear line (an existing output without --force, a bad config)
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
