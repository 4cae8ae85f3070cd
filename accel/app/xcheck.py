"""``accelsim xcheck``: the analytical model against real compiled runs (TVM with MetaSchedule-tuned kernels,
onnxruntime), per network and per layer, with the BBSSP layer-adaptive correction.

Flow (measurement protocol and tuning: :mod:`accel.app.measure`):

1. Candidates: any network string of :func:`nas.registry.resolve_network` but ``layer:`` — NAS-Bench-201 cells
   (``nb201:<arch>``), small CIFAR MBConv networks (``mbconv_cifar:...``), any other space's
   ``SPACE:ENCODING`` (``darts:DARTS_V2``), zoo networks (``resnet18`` ...) or ONNX files; ``--space S --sample
   N --seed K`` draws with :func:`nas.registry.sample_specs` (torch models: :mod:`accel.app.xcheck_models`).
2. Each is exported to ONNX (torch 2.13, offline TorchScript exporter, BatchNorm folded) and the *same* ONNX
   file feeds every party: accelsim's ONNX importer (the model's layers), TVM's Relax ONNX frontend, and
   onnxruntime — so the model predicts exactly the graph that runs.
3. Model: every network is mapped and costed on the hardware config (``configs/cpu-host.yaml``) with the PE
   array narrowed to the number of measurement threads (one core: 1 PE of ``macs_per_pe`` SIMD lanes), as
   the runs use one intra-op thread.
4. TVM: kernels tuned CHaNAS-style (union of tasks over the candidate set, each tuned once, database kept in
   the repo); a network with a kernel missing from the database gets no TVM latency (refused, listed).
5. Statistics: Spearman ρ and Kendall τ-b (ties are common: many NB201 cells share MACs) of predicted vs
   measured latency, MAPE, the same for MACs as a naive proxy, and the test-retest ρ of two measurement passes.
6. Per-layer: measured per-kernel latencies are mapped back to accelsim layers (:func:`kernel_layer_table`),
   and the BBSSP layer-adaptive correction (Zeng et al., ASP-DAC 2020: per-layer-type correction of the
   latency LUT against measured networks; :func:`nas.latency_table.fit_type_correction`, the one correction:
   a non-negative factor per layer type, no intercept) is fitted on a training subset and evaluated on
   held-out networks, and the few-shot protocol (:func:`nas.latency_table.held_out_error`: fit on K = 10
   networks, or half when fewer than 20, test on the rest, 20 random splits) reports the held-out MAPE's mean
   and spread.

Dead NB201 edges (``prune_dead``, ``--prune-dead``): they choose the torch model that is exported (every
non-``none`` edge by default, as the NAS-Bench-201 networks are trained and run eagerly).  The ONNX exporter
drops nodes whose outputs nothing uses, so in practice the exported graph has no dead branches either way
(``nb201:|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|`` exports to the 7.78 M-MAC
skeleton with and without the option); the model costs the exported graph, so model and runtimes always
see the same network.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from nas.latency_table import fit_type_correction, held_out_error, layer_type, split_train, type_totals

DEFAULT_DB = Path(__file__).resolve().parents[2] / "bench" / "tvm_tuning_db"


def _slug(name: str) -> str:
    h = hashlib.sha1(name.encode()).hexdigest()[:12]
    head = "".join(c if c.isalnum() else "_" for c in name)[:40]
    return f"{head}-{h}"


def export_network(name: str, cache_dir: str | os.PathLike, prune_dead: bool = False) -> Path:
    """ONNX file of network ``name`` — any string of :func:`nas.registry.parse_network_spec` but ``layer:``
    (an existing ``.onnx`` path is returned as is; zoo names and ``SPACE:ENCODING`` networks are exported
    into ``cache_dir`` once, keyed by their canonical string and ``prune_dead``, and reused)."""
    from accel.errors import WorkloadInputError
    from nas.registry import parse_network_spec

    spec = parse_network_spec(name)
    if spec.kind == "onnx":
        return Path(spec.ref)
    if spec.kind == "layer":
        raise WorkloadInputError(f"{name!r}: a single layer cannot be cross-checked (no torch model)")
    cache = Path(cache_dir)
    cache.mkdir(parents=True, exist_ok=True)
    out = cache / f"{_slug(spec.label + (' prune_dead' if prune_dead else ''))}.onnx"
    if out.exists():
        return out
    tmp = out.with_suffix(".tmp.onnx")
    from accel.app.xcheck_models import export_spec_onnx

    export_spec_onnx(spec, tmp, prune_dead=prune_dead)
    tmp.replace(out)
    return out


# ---------------------------------------------------------------------------------------------------------
# the model side
# ---------------------------------------------------------------------------------------------------------
def narrow_arch(arch, threads: int):
    """``arch`` with its PE array reduced to ``threads`` PEs (1 × threads) when it has more: the real runs use
    ``threads`` cores, so the model must too.  A CPU device config (accel/device.py) runs ``threads`` threads."""
    if getattr(arch, "is_device", False):  # processor device: its thread count, not a PE array
        return arch.with_threads(min(threads, arch.config.cores)) if arch.kind == "cpu" else arch
    pe = dict(arch.config.pe_array.model_dump(mode="python"))
    if pe["rows"] * pe["cols"] <= threads:
        return arch
    pe["rows"], pe["cols"] = 1, int(threads)
    return arch.with_config(pe_array=pe)


def predict_networks(onnx_paths: dict[str, Path], arch, progress=None, effort: str = "thorough") -> dict:
    """Map and cost every network (accelsim ONNX import of the file that also runs) → {name: NetworkResult}.
    One :class:`~mapper.network.NetworkEvaluator` (objective latency) is shared, so each distinct layer shape
    is mapped once across the whole candidate set; ``effort``: the mapper's budget (:data:`mapper.search.BUDGETS`)."""
    from mapper.network import NetworkEvaluator
    from nas.registry import resolve_network

    ev = NetworkEvaluator(arch, objective="latency", seed=0, effort=effort)
    out = {}
    for i, (name, path) in enumerate(onnx_paths.items()):
        net = resolve_network(str(path), 1)
        net.name = name
        out[name] = ev.network(net)
        if progress:
            progress(f"model {i + 1}/{len(onnx_paths)}: {name}")
    return out


# ---------------------------------------------------------------------------------------------------------
# per-kernel → per-layer
# ---------------------------------------------------------------------------------------------------------
def _kernel_key(k: dict) -> tuple | None:
    """Shape key of a TVM kernel call comparable with :func:`_layer_key` (None: a kernel with no layer, e.g. a
    stand-alone ReLU or reshape that accelsim fuses into its producer or treats as free)."""
    name, shapes = k["kernel"], k["arg_shapes"]
    if not shapes:
        return None
    out = shapes[-1]
    if "conv2d" in name and len(shapes) >= 3 and len(shapes[0]) == 4 and len(shapes[1]) == 4:
        n, cin, _, _ = shapes[0]
        kk, cpg, r, s = shapes[1]
        g = max(1, cin // cpg)
        return ("conv", g, kk // g, cpg, out[2], out[3], r, s)
    if "matmul" in name or "dense" in name:
        return ("fc", out[-1], shapes[0][-1])
    if "pool" in name or name.startswith("mean") or "_mean" in name:
        return ("pool", int(np.prod(out)))
    return None


def _layer_key(layer) -> tuple:
    if layer.op == "conv" and not (layer.R == 1 and layer.S == 1 and layer.P == 1 and layer.Q == 1 and layer.G == 1):
        return ("conv", layer.G, layer.K, layer.C, layer.P, layer.Q, layer.R, layer.S)
    if layer.op in ("fc", "matmul", "conv"):
        return ("fc", layer.K, layer.C)
    if layer.op in ("maxpool", "avgpool"):
        return ("pool", layer.N * layer.G * layer.K * layer.P * layer.Q)
    return ("eltwise", layer.N * layer.G * layer.K * layer.P * layer.Q)


def kernel_layer_table(name: str, kernels: list[dict], result) -> list[dict]:
    """Match measured kernel calls (execution order) to the accelsim layers of the same network by shape key
    (first unmatched layer with that key, in topological order).  One row per kernel call: ``kernel``,
    ``layer`` (None when unmatched), ``layer_type``, ``measured_s``, ``predicted_s``.  Element-wise kernels
    are fused into their producer by TVM, so their time is inside the matched conv's kernel; stand-alone
    element-wise kernels stay unmatched (``layer`` None) and count only in network totals."""
    free: dict[tuple, list] = {}
    for r in result.layers:
        free.setdefault(_layer_key(r.layer), []).append(r)
    rows = []
    for k in kernels:
        key = _kernel_key(k)
        hit = free.get(key, []) if key else []
        r = hit.pop(0) if hit else None
        rows.append({"network": name, "kernel": k["kernel"], "call": k["index"],
                     "layer": r.layer.name if r else None,
                     "layer_type": layer_type(r.layer) if r else None,
                     "measured_s": k["latency_s"], "predicted_s": r.cost.latency_s if r else np.nan})
    return rows


def type_latency_s(result) -> dict[str, float]:
    """Predicted latency (s) of one network summed per :func:`nas.latency_table.layer_type` — a row of the
    BBSSP correction's table-latency matrix (:func:`nas.latency_table.fit_type_correction`)."""
    return type_totals((r.layer, r.cost.latency_s) for r in result.layers)


# ---------------------------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------------------------
def rank_stats(pred: np.ndarray, meas: np.ndarray) -> dict:
    """Spearman ρ, Kendall τ-b (tie-corrected) and MAPE (%) of ``pred`` against ``meas`` (same units)."""
    from scipy.stats import kendalltau, spearmanr

    pred, meas = np.asarray(pred, float), np.asarray(meas, float)
    if len(pred) < 3:
        return {"spearman": None, "kendall": None, "mape_pct": None}
    rho = spearmanr(pred, meas).statistic
    tau = kendalltau(pred, meas, variant="b").statistic
    mape = float(np.mean(np.abs(pred - meas) / meas) * 100)
    f = lambda v: None if v is None or not np.isfinite(v) else float(v)  # noqa: E731
    return {"spearman": f(rho), "kendall": f(tau), "mape_pct": mape}


# ---------------------------------------------------------------------------------------------------------
# the whole cross-check
# ---------------------------------------------------------------------------------------------------------
def run_xcheck(names: list[str], arch, backends: tuple[str, ...] = ("tvm",), db_dir: str | os.PathLike = DEFAULT_DB,
               trials: int = 0, threads: int = 1, warmup: int = 3, repeats: int = 5, number: int = 10,
               cache_dir: str | os.PathLike | None = None, train_fraction: float = 0.5, seed: int = 0,
               per_layer: bool = True, search: str = "evolutionary", progress=None, executor=None,
               prune_dead: bool = False, effort: str = "thorough", allocator: str = "system") -> dict:
    """Cross-check ``names`` (see :func:`export_network`) on ``arch`` against real runs.

    ``backends``: "tvm" (MetaSchedule-tuned kernels from ``db_dir``; with ``trials`` > 0 the missing kernels of
    the union of tasks are tuned first with that many trials each, MetaSchedule ``search`` strategy, and stored
    there), "ort" (onnxruntime CPU), "tvm-gpu" (CUDA, TVM's default GPU schedules; needs a GPU).
    Measurement: :mod:`accel.app.measure` protocol (``warmup``/``repeats``/``number``, ``threads`` intra-op
    threads, all candidates of all backends interleaved, two passes).  ``prune_dead``: export NB201 cells
    without their dead edges (module docstring; default False).  ``executor`` is accepted for interface
    uniformity and unused: measurements must share one process and the model step shares one mapping cache.
    ``effort``: the mapper's search budget per layer shape (:data:`mapper.search.BUDGETS`).
    ``allocator`` (:data:`accel.app.options.ALLOCATORS`): how this process's C allocator treats freed memory while it
    measures (:func:`accel.app.measure.set_allocator`; ``retain`` stays in effect for the rest of the process), as
    ``accelsim calibrate --allocator`` measured the device config; recorded in ``df.attrs["allocator"]``.

    Returns ``{"networks": DataFrame (one row per network × backend), "layers": DataFrame (per kernel call,
    TVM), "summary": {backend: stats}, "refused": {backend: {network: reason}}, "numerics": {network:
    max relative |tvm − ort|}, "tuning": info}``.
    """
    import tempfile

    import pandas as pd

    from accel.app import measure as M

    del executor
    for b in backends:
        if b not in ("tvm", "ort", "tvm-gpu"):
            raise ValueError(f"unknown backend {b!r} (known: tvm, ort, tvm-gpu)")
        why = {"tvm": M.tvm_available, "ort": M.ort_available, "tvm-gpu": M.gpu_available}[b]()
        if why:
            raise M.MeasureError(why)
    if len(names) < 3:
        raise ValueError(f"a cross-check needs at least 3 networks to rank, got {len(names)}")
    allocator_src = M.set_allocator(allocator)
    say = progress or (lambda msg: None)
    cache = Path(cache_dir) if cache_dir else Path(tempfile.gettempdir()) / "accelsim-xcheck-onnx"
    paths = {}
    for i, n in enumerate(names):
        paths[n] = export_network(n, cache, prune_dead)
        say(f"export {i + 1}/{len(names)}: {n}")
    # CPU runs use `threads` cores, so the model gets that many PEs; a GPU run uses the whole device
    model_arch = arch if "tvm-gpu" in backends else narrow_arch(arch, threads)
    results = predict_networks(paths, model_arch, say, effort)

    rng = np.random.default_rng(seed)
    inputs = {}
    for n, p in paths.items():
        import onnx

        g = onnx.load(str(p), load_external_data=False).graph
        inits = {t.name for t in g.initializer}
        inp = next(i for i in g.input if i.name not in inits)
        shape = tuple(d.dim_value if d.dim_value > 0 else 1 for d in inp.type.tensor_type.shape.dim)
        inputs[n] = rng.standard_normal(shape).astype(np.float32)

    runners, refused, tuning, numerics = [], {b: {} for b in backends}, {}, {}
    tvm_runner_of, ort_runner_of, gpu_runners = {}, {}, []
    if "tvm" in backends:
        M.set_tvm_threads(threads)
        target = M.cpu_target(threads)
        mods = {n: M.relax_module(p, target) for n, p in paths.items()}
        if trials > 0:
            tasks, _ = M.union_tasks(mods, target)
            tuning = M.tune_union(tasks, target, db_dir, trials, progress=say, search=search)
        db = M.open_database(db_dir)
        for n, mod in mods.items():
            miss = M.missing_kernels(mod, target, db)
            if miss:
                refused["tvm"][n] = f"{len(miss)} kernel(s) not in the tuning database {db_dir}: " + ", ".join(miss[:4])
                continue
            vm, dev = M.compile_tvm(mod, target, db)
            tvm_runner_of[n] = M.tvm_runner(n, vm, dev, inputs[n])
            say(f"tvm build: {n}")
    if "tvm-gpu" in backends:
        # CUDA (sm_90 tag fits H100/H200): TVM's default GPU schedules; reported as backend "tvm-gpu"
        gtarget = M.gpu_target()
        for n, p in paths.items():
            mod = M.gpu_default_schedule(M.relax_module(p, gtarget), gtarget)
            vm, dev = M.compile_tvm(mod, gtarget)
            r = M.tvm_runner(n, vm, dev, inputs[n])
            r.backend = "tvm-gpu"
            gpu_runners.append(r)
            say(f"tvm-gpu build: {n}")
    if "ort" in backends or "tvm" in backends:  # ort is also the numerical reference for TVM
        for n, p in paths.items():
            ort_runner_of[n] = M.ort_runner(n, M.ort_session(p, threads), inputs[n])
    for n, r in tvm_runner_of.items():
        a, b = r.output(), ort_runner_of[n].output()
        numerics[n] = float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))
    runners = (list(tvm_runner_of.values()) + ([r for r in ort_runner_of.values()] if "ort" in backends else [])
               + gpu_runners)
    passes = []
    for k in range(2):  # two full passes: the test-retest ceiling
        passes.append(M.measure_interleaved(runners, warmup, repeats, number,
                                            progress=lambda m, k=k: say(f"measure pass {k + 1}/2 {m}")))
    rows = []
    for i, r in enumerate(runners):
        res = results[r.name]
        rows.append({"network": r.name, "backend": r.backend, "macs": res.macs,
                     "predicted_s": res.latency_s, "measured_s": float(min(passes[0][i], passes[1][i])),
                     "measured_pass1_s": float(passes[0][i]), "measured_pass2_s": float(passes[1][i]),
                     "max_rel_err_vs_ort": numerics.get(r.name) if r.backend == "tvm" else None})
    df = pd.DataFrame(rows)
    layer_rows = []
    if per_layer:
        for n, r in tvm_runner_of.items():
            layer_rows += kernel_layer_table(n, M.kernel_times(r, runs=number), results[n])
    layers = pd.DataFrame(layer_rows)

    feats = {n: type_latency_s(results[n]) for n in names}
    types = sorted({t for f in feats.values() for t in f})
    summary = {}
    df["corrected_s"] = np.nan
    df["train"] = False
    for b in backends:
        sub = df[df.backend == b]
        if len(sub) < 3:
            summary[b] = {"networks": len(sub), "note": "fewer than 3 measured networks"}
            continue
        nm = list(sub.network)
        pred, meas, macs = sub.predicted_s.to_numpy(), sub.measured_s.to_numpy(), sub.macs.to_numpy(float)
        s = {"networks": len(sub), **rank_stats(pred, meas)}
        m = rank_stats(macs, meas)
        s.update({"macs_spearman": m["spearman"], "macs_kendall": m["kendall"]})
        s["test_retest_spearman"] = rank_stats(sub.measured_pass1_s, sub.measured_pass2_s)["spearman"]
        train = split_train(len(nm), train_fraction, seed, min_each=2)
        X = np.array([[feats[n].get(t, 0.0) for t in types] for n in nm])
        fit = fit_type_correction(X[train], types, meas[train])
        corr = fit.predict_matrix(X, types)
        df.loc[sub.index, "corrected_s"] = corr
        df.loc[sub.index, "train"] = train
        held = ~train
        before, after = rank_stats(pred[held], meas[held]), rank_stats(corr[held], meas[held])
        s["correction"] = {"train_networks": int(train.sum()), "heldout_networks": int(held.sum()),
                           "coef": dict(fit.factors),
                           "heldout_before": before, "heldout_after": after,
                           # MACs are not a latency: only their ranks are comparable (no MAPE)
                           "heldout_macs": {k: v for k, v in rank_stats(macs[held], meas[held]).items()
                                            if k != "mape_pct"}}
        if len(nm) >= 3:  # the few-shot protocol: fit on K, test on the rest, many random splits
            k = min(10, len(nm) // 2) if len(nm) < 20 else 10
            s["correction"]["few_shot"] = held_out_error(X, types, meas, k=k, splits=20, seed=seed).to_dict()
        if b == "tvm" and len(layers):
            mt = layers.dropna(subset=["layer"])
            s["per_layer"] = {"matched_kernel_calls": int(len(mt)), "kernel_calls": int(len(layers)),
                              "matched_time_fraction": float(mt.measured_s.sum() / layers.measured_s.sum()),
                              **rank_stats(mt.predicted_s, mt.measured_s)}
        summary[b] = s
    df.attrs.update({"hw": arch.name, "hw_digest": arch.digest(), "threads": threads, "warmup": warmup,
                     "repeats": repeats, "number": number, "seed": seed, "tuning_db": str(db_dir),
                     "prune_dead": bool(prune_dead), "allocator": allocator, "allocator_setting": allocator_src})
    return {"networks": df, "layers": layers, "summary": summary, "refused": refused, "numerics": numerics,
            "tuning": tuning}


def to_json(out: dict) -> list[dict]:
    """The ``--format json`` contract: one object per backend ``{"backend", "networks": [{"name", "macs",
    "predicted_ms", "measured_ms"}], "spearman", "kendall", "macs_spearman", "macs_kendall",
    "test_retest_spearman"}`` plus ``mape_pct``, ``correction`` (held-out before/after), ``refused``, ``prune_dead``,
    ``allocator``."""
    df, res = out["networks"], []
    for b, s in out["summary"].items():
        sub = df[df.backend == b]
        nets = [{"name": r.network, "macs": int(r.macs), "predicted_ms": r.predicted_s * 1e3,
                 "measured_ms": r.measured_s * 1e3, "corrected_ms": r.corrected_s * 1e3, "train": bool(r.train)}
                for r in sub.itertuples()]
        res.append({"backend": b, "networks": nets, **{k: s.get(k) for k in (
            "spearman", "kendall", "mape_pct", "macs_spearman", "macs_kendall", "test_retest_spearman")},
            "correction": s.get("correction"), "per_layer": s.get("per_layer"),
            "refused": [{"name": n, "reason": why} for n, why in out["refused"].get(b, {}).items()],
            "prune_dead": bool(df.attrs.get("prune_dead", False)), "allocator": df.attrs.get("allocator", "system")})
    return res


def plot_xcheck(df, ax=None):
    """Measured vs predicted latency (ms, log-log) per backend, with MACs (scaled to the measured median) as the
    naive proxy.  Returns the Figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.5))
    else:
        fig = ax.figure
    for b, sub in df.groupby("backend"):
        ax.scatter(sub.predicted_s * 1e3, sub.measured_s * 1e3, s=14, label=f"{b}: model")
        if sub.corrected_s.notna().any():
            ax.scatter(sub.corrected_s * 1e3, sub.measured_s * 1e3, s=14, marker="x", label=f"{b}: corrected")
    lo = float(np.nanmin(df[["predicted_s", "measured_s"]].to_numpy())) * 1e3
    hi = float(np.nanmax(df[["predicted_s", "measured_s", "corrected_s"]].to_numpy())) * 1e3
    ax.plot([lo, hi], [lo, hi], lw=0.8, color="0.5")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("predicted latency (ms)")
    ax.set_ylabel("measured latency (ms)")
    ax.legend(fontsize=7)
    return fig
