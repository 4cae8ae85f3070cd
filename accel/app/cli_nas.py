"""``accelsim nas`` and the NAS studies (``nas-proxies``, ``nas-predictor``, ``nas-latency``).

Only argparse / stdlib at import time: numpy, pandas, torch and the NAS modules load inside the handlers.

``accelsim nas --space nb201 --hw configs/eyeriss.yaml --strategy evolution --budget 500
--max-latency-ms 5 [--accuracy table|proxy:synflow|predictor] [--seed 0] [-o result.parquet]
[--format table|json] [--plot pareto.png]`` searches a space for accurate archs that meet the
constraints on the accelerator; ``--format json`` prints ``{"space", "hw", "strategy", "evaluated",
"best": [{"arch", "accuracy", "latency_ms", "energy_mj"}, ...], ...}``, best first.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

STRATEGIES = ("evolution", "random", "exhaustive", "profiling", "cdf")


def _err():
    from accel.app.cli import UserError

    return UserError


def _space(name: str):
    from nas.registry import get_space

    try:
        return get_space(name)
    except ValueError as e:
        raise _err()(str(e)) from None


def _jsonable(obj):
    """attrs → JSON-safe values (for Parquet metadata and --format json)."""
    return json.loads(json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _write_frame(df, path: str) -> None:
    from pathlib import Path

    df = df.copy()
    df.attrs = _jsonable(dict(df.attrs))
    if Path(path).suffix.lower() == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)


def _fmt(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if math.isfinite(v) else str(v)


def _table(rows: list[list[str]], head: list[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# accelsim nas
# ---------------------------------------------------------------------------------------------
def cmd_nas(args) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from accel.app.cli import _load_arch
    from nas.latency_table import SpaceHardware
    from nas.profiling import NASProblem, best_archs, make_accuracy, pareto_front, run_search
    from nas.search import Objective

    UserError = _err()
    if args.budget < 1:
        raise UserError("--budget must be >= 1")
    if args.batch < 1:
        raise UserError("--batch must be >= 1")
    for opt in ("max_latency_ms", "max_energy_mj", "max_area_mm2"):
        v = getattr(args, opt)
        if v is not None and not v > 0:
            raise UserError(f"--{opt.replace('_', '-')} must be > 0, got {v}")
    space = _space(args.space)
    if args.strategy == "exhaustive" and not space.finite:
        raise UserError(f"--strategy exhaustive: space {space.name} has {space.size:.3g} archs (finite spaces: nb201)")
    if args.strategy == "cdf" and args.max_latency_ms is None:
        raise UserError("--strategy cdf divides the space by the latency CDF under a bound: give --max-latency-ms")
    arch = _load_arch(args.hw)
    constraints = {}
    if args.max_latency_ms is not None:
        constraints["latency_s"] = args.max_latency_ms * 1e-3
    if args.max_energy_mj is not None:
        constraints["energy_pj"] = args.max_energy_mj * 1e9
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        hardware = SpaceHardware(space, arch, batch=args.batch, objective=args.objective, seed=args.seed,
                                 executor=pool if args.jobs > 1 else None)
        if args.max_area_mm2 is not None:
            if hardware.area_mm2 is None:
                raise UserError(f"--max-area-mm2: config {arch.name} defines no area (pe_array.area_mm2 and every "
                                "level's area_mm2 are needed)")
            constraints["area_mm2"] = args.max_area_mm2
        try:
            accuracy, acc_info = make_accuracy(space, args.accuracy, seed=args.seed,
                                               predictor_samples=args.predictor_samples, proxy_batch=args.proxy_batch)
        except ValueError as e:
            raise UserError(f"--accuracy {args.accuracy}: {e}") from None
        weights = {"latency_s": args.latency_weight} if args.latency_weight else {}
        objective = Objective(weights=weights, refs={"latency_s": 1e-3}, constraints=constraints)
        params: dict = {}
        if args.strategy in ("evolution", "profiling", "cdf"):
            params.update(population_size=args.population, sample_size=min(args.tournament, args.population),
                          crossover_prob=args.crossover)
        if args.strategy == "evolution":
            params["novelty"] = not args.plain_evolution
        if args.strategy == "profiling":
            params.update(base_per_subspace=args.base_per_subspace, keep=args.keep)
        if args.strategy == "cdf":
            params.update(samples_per_subspace=args.cdf_samples, min_feasible_fraction=args.min_feasible)
        try:
            df = run_search(space, NASProblem(accuracy, hardware), args.strategy, args.budget, seed=args.seed,
                            objective=objective, params=params)
        except ValueError as e:
            raise UserError(str(e)) from None
    if hardware.table.unmappable:
        print(f"accelsim: warning: {len(hardware.table.unmappable)} layer shape(s) cannot be mapped on {arch.name} "
              f"(e.g. {hardware.table.unmappable[0]}); archs containing them have infinite latency",
              file=sys.stderr)
    df.attrs.update({"space": space.name, "hw": arch.name, "hw_digest": arch.digest(), "accuracy_signal": acc_info,
                     "constraints": dict(constraints), "unique_layer_shapes": hardware.unique_layer_shapes})
    top = pareto_front(df).iloc[::-1] if args.pareto else best_archs(df, args.top)
    table_acc = getattr(space, "accuracy", None) if args.accuracy != "table" else None
    best = []
    for _, r in top.iterrows():
        entry = {"arch": r["arch"], "accuracy": float(r["accuracy"]), "latency_ms": float(r["latency_s"]) * 1e3,
                 "energy_mj": float(r["energy_pj"]) * 1e-9}
        if table_acc is not None:
            entry["table_accuracy"] = float(table_acc(space.decode(r["arch"])))
        best.append(entry)
    improved = df[df["best_score"].ne(df["best_score"].shift()) & df["best_score"].notna()]
    trajectory = [{"evaluated": int(q) + 1, "best_score": float(s), "arch": a}
                  for q, s, a in zip(improved["query"], improved["best_score"], improved["best_arch"])]
    if args.output:
        _write_frame(df, args.output)
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from accel.app.plots import plot_pareto

        fig = plot_pareto(df.drop_duplicates("arch"), "latency_s", "accuracy", maximize_y=True, label="evaluated",
                          feasible="feasible" if "feasible" in df else None, bound_x=constraints.get("latency_s"),
                          bound_label="latency bound")
        fig.axes[0].set_title(f"{space.name} on {arch.name}: {args.strategy}, {len(df)} evaluated")
        fig.savefig(args.plot, dpi=120, bbox_inches="tight")
    if args.format == "json":
        out = {"space": space.name, "hw": arch.name, "strategy": args.strategy, "evaluated": int(len(df)),
               "best": best, "accuracy_signal": acc_info, "constraints": constraints, "seed": args.seed,
               "unique_archs": int(df["arch"].nunique()), "trajectory": trajectory}
        for k in ("profile", "kept_subspaces", "division", "chosen_subspace", "hardware_samples",
                  "rejected_by_prefilter"):
            if k in df.attrs:
                out[k] = df.attrs[k]
        print(json.dumps(_jsonable(out), indent=1))
    else:
        print(_nas_text(df, space, arch, args, best, trajectory, acc_info, constraints))
    if not best:
        print("accelsim: warning: no evaluated architecture satisfies the constraints", file=sys.stderr)
    for what, path in (("wrote", args.output), ("plotted", args.plot)):
        if path:
            print(f"{what} {path}", file=sys.stderr)
    return 0


def _nas_text(df, space, arch, args, best, trajectory, acc_info, constraints) -> str:
    cons = ", ".join(f"{k} <= {v:g}" for k, v in constraints.items()) or "none"
    lines = [f"space {space.name} ({space.size:,} archs) on {arch.name}; strategy {args.strategy}, "
             f"{len(df):,} evaluated, {df['arch'].nunique():,} distinct (seed {args.seed})",
             f"accuracy signal: {args.accuracy}; constraints: {cons}"]
    if "profile" in df.attrs:
        lines += ["", "BBSSP sub-space profile (lowest cost first):",
                  _table([[r["subspace"], f"{r['feasible']}/{r['base_networks']}", _fmt(r["top_mean_score"], 2),
                           _fmt(r["cost"], 2), "kept" if r["kept"] else ""] for r in df.attrs["profile"]],
                         ["sub-space", "feasible", "top mean score", "cost", ""])]
    if "division" in df.attrs:
        lines += ["", "CHaNAS latency-CDF division (best first):",
                  _table([[r["subspace"], f"{r['feasible_fraction']:.2f}",
                           _fmt(r["mean_feasible_latency_s"] * 1e3, 3), _fmt(r["cdf_area"], 3),
                           "chosen" if r["chosen"] else ("" if r["eligible"] else "too few feasible")]
                          for r in df.attrs["division"]],
                         ["sub-space", "feasible", "mean feasible ms", "CDF area", ""])]
    head = ["#", "accuracy", "latency_ms", "energy_mj"]
    if best and "table_accuracy" in best[0]:
        head.append("table_acc")
    rows = []
    for i, b in enumerate(best, start=1):
        row = [str(i), f"{b['accuracy']:.6g}", _fmt(b["latency_ms"]), _fmt(b["energy_mj"], 4)]
        if "table_accuracy" in b:
            row.append(_fmt(b["table_accuracy"], 2))
        rows.append(row + [b["arch"]])
    lines += ["", "Pareto front (accuracy vs latency):" if args.pareto else "best architectures:",
              _table(rows, head + ["arch"]) if rows else "  (none satisfies the constraints)"]
    if trajectory:
        lines += ["", "trajectory (evaluations: best score):",
                  "  " + ", ".join(f"{t['evaluated']}: {t['best_score']:.4g}" for t in trajectory)]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Studies
# ---------------------------------------------------------------------------------------------
def _sample_archs(space, n: int, seed: int) -> list:
    from nas.registry import sample_architectures  # the one --sample N --seed S sampler

    return sample_architectures(space, n, seed)


def _progress(label: str):
    def report(done: int, total: int) -> None:
        if done == total or done % max(1, total // 20) == 0:
            print(f"{label}: {done}/{total}", file=sys.stderr, flush=True)
    return report


def cmd_nas_proxies(args) -> int:
    from nas.proxies import PROXIES, proxy_study

    UserError = _err()
    space = _space(args.space)
    if not callable(getattr(space, "accuracy", None)):
        raise UserError(f"space {space.name} has no accuracy table to correlate proxies with (use nb201*)")
    names = args.proxies.split(",") if args.proxies else list(PROXIES)
    bad = [n for n in names if n not in PROXIES]
    if bad:
        raise UserError(f"--proxies: unknown {bad} (known: {', '.join(PROXIES)})")
    if args.archs < 3 or args.batch < 2:
        raise UserError("--archs must be >= 3 and --batch >= 2")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    archs = _sample_archs(space, args.archs, args.seed)
    df = proxy_study(space, archs, space.accuracy, names, args.batch, args.seed,
                     progress=None if args.quiet else _progress("proxies"))
    rho = df.attrs["spearman"]
    if args.output:
        _write_frame(df, args.output)
    if args.format == "json":
        print(json.dumps({"space": space.name, "archs": len(df), "batch": args.batch, "seed": args.seed,
                          "dataset": getattr(space, "dataset", None), "spearman": rho,
                          "seconds_per_arch": float(df["seconds"].mean())}, indent=1))
    else:
        print(f"{len(df)} {space.name} archs ({getattr(space, 'dataset', '')} accuracy), synthetic batch of "
              f"{args.batch}, seed {args.seed}, {df['seconds'].mean():.2f} s/arch")
        print(_table([[p, f"{rho[p]:+.3f}"] for p in names], ["proxy", "spearman_rho"]))
    return 0


def cmd_nas_predictor(args) -> int:
    from nas.predictor import MLPPredictor, predictor_study

    UserError = _err()
    space = _space(args.space)
    if not callable(getattr(space, "accuracy", None)):
        raise UserError(f"space {space.name} has no accuracy table to train on (use nb201*)")
    if args.train < 2 or args.test < 2:
        raise UserError("--train and --test must be >= 2")
    if space.finite and args.train + args.test > space.size:
        raise UserError(f"--train + --test exceeds the {space.size} archs of {space.name}")
    df = predictor_study(space, space.accuracy, args.train, args.test, args.seed, MLPPredictor(seed=args.seed))
    if args.output:
        _write_frame(df, args.output)
    a = df.attrs
    if args.format == "json":
        print(json.dumps({k: a[k] for k in ("space", "n_train", "n_test", "seed", "spearman", "kendall", "rmse")},
                         indent=1))
    else:
        print(f"MLP predictor on {space.name}: trained on {a['n_train']} archs, held-out {a['n_test']}: "
              f"Spearman {a['spearman']:.3f}, Kendall {a['kendall']:.3f}, RMSE {a['rmse']:.2f} points")
    return 0


def cmd_nas_latency(args) -> int:
    from accel.app.cli import _load_arch
    from nas.latency_table import LayerTable, correction_study

    UserError = _err()
    space = _space(args.space)
    if args.networks < 4:
        raise UserError("--networks must be >= 4")
    table_hw = _load_arch(args.hw)
    measured_hw = _load_arch(args.measured_hw)
    archs = _sample_archs(space, args.networks, args.seed)
    nets = [space.build_network(a, batch=args.batch) for a in archs]
    table = LayerTable.from_model(table_hw, args.objective, args.seed)
    measured = LayerTable.from_model(measured_hw, args.objective, args.seed)
    y = [measured.network(n)["latency_s"] for n in nets]
    bad = [u for t in (table, measured) for u in t.unmappable]
    if bad:
        raise UserError(f"layer shape {bad[0]!r} cannot be mapped on one of the accelerators")
    try:
        corr, df = correction_study(nets, y, table, args.train_fraction, args.seed)
    except ValueError as e:
        raise UserError(str(e)) from None
    df.insert(0, "arch", [space.encode(a) for a in archs])
    df.attrs.update({"space": space.name, "table_hw": table_hw.name, "measured_hw": measured_hw.name})
    if args.output:
        _write_frame(df, args.output)
    a = df.attrs
    if args.format == "json":
        print(json.dumps(_jsonable({k: a[k] for k in ("space", "table_hw", "measured_hw", "n_train", "n_test",
                                                       "mape_before", "mape_after", "max_err_before",
                                                       "max_err_after", "factors")}), indent=1))
    else:
        print(f"{space.name}: layer table from {table_hw.name}, whole-network latency 'measured' on "
              f"{measured_hw.name}; fit on {a['n_train']} networks, held-out {a['n_test']}")
        print(f"held-out error: mean |rel err| {a['mape_before'] * 100:.2f} % -> {a['mape_after'] * 100:.2f} %, "
              f"max {a['max_err_before'] * 100:.2f} % -> {a['max_err_after'] * 100:.2f} %")
        print(_table([[t, f"{f:.4f}"] for t, f in a["factors"].items()], ["layer type", "factor"]))
    return 0


# ---------------------------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------------------------
def add_parsers(sub) -> None:
    """Register ``nas``, ``nas-proxies``, ``nas-predictor`` and ``nas-latency`` on argparse subparsers."""
    spaces = "nb201 (nb201_cifar100, nb201_imagenet16), darts (nb301), mbconv (ofa, chanas), fbnet"
    n = sub.add_parser("nas", help="hardware-aware neural architecture search on an accelerator",
                       description=f"Search a space ({spaces}) for accurate architectures that meet latency / "
                                   "energy / area constraints on an accelerator.  Every arch is also a valid "
                                   "NETWORK for 'accelsim eval' as SPACE:ENCODING.")
    n.add_argument("--space", default="nb201", help=f"search space: {spaces} (default nb201)")
    n.add_argument("--hw", required=True, help="accelerator YAML (or a shipped config name)")
    n.add_argument("--strategy", choices=STRATEGIES, default="evolution",
                   help="evolution (regularized), random, exhaustive (finite spaces), profiling (BBSSP), "
                        "cdf (CHaNAS latency-CDF division)")
    n.add_argument("--budget", type=int, default=500, help="accuracy evaluations (default 500)")
    n.add_argument("--max-latency-ms", type=float, help="latency bound (ms)")
    n.add_argument("--max-energy-mj", type=float, help="energy bound per inference (mJ)")
    n.add_argument("--max-area-mm2", type=float, help="accelerator area bound (mm²; the config must define areas)")
    n.add_argument("--latency-weight", type=float, default=0.0,
                   help="soft trade-off: accuracy points given up per e-fold of latency (default 0)")
    n.add_argument("--accuracy", default="table", metavar="table|proxy:NAME|predictor",
                   help="accuracy signal: the NAS-Bench-201 table, a zero-cost proxy (synflow, naswot, grad_norm, "
                        "snip) or an MLP predictor trained on --predictor-samples table queries")
    n.add_argument("--predictor-samples", type=int, default=200)
    n.add_argument("--proxy-batch", type=int, default=32, help="synthetic batch size for proxies")
    n.add_argument("--seed", type=int, default=0)
    n.add_argument("--batch", type=int, default=1, help="inference batch for hardware cost")
    n.add_argument("--objective", choices=("edp", "latency", "energy"), default="edp", help="mapping objective")
    n.add_argument("--population", type=int, default=50)
    n.add_argument("--tournament", type=int, default=10)
    n.add_argument("--crossover", type=float, default=0.2, help="crossover probability")
    n.add_argument("--plain-evolution", action="store_true",
                   help="evolution: single-edit mutations and repeated proposals allowed (default: multi-edit "
                        "mutations, no repeats)")
    n.add_argument("--base-per-subspace", type=int, default=8, help="profiling: base networks per sub-space")
    n.add_argument("--keep", type=int, default=2, help="profiling: sub-spaces kept")
    n.add_argument("--cdf-samples", type=int, default=100, help="cdf: hardware samples per sub-space")
    n.add_argument("--min-feasible", type=float, default=0.1, help="cdf: minimum feasible fraction of a sub-space")
    n.add_argument("--top", type=int, default=5, help="best architectures to print")
    n.add_argument("--pareto", action="store_true", help="print the accuracy/latency Pareto front instead")
    n.add_argument("--jobs", type=int, default=1, help="threads mapping new layer shapes")
    n.add_argument("--format", choices=("table", "json"), default="table")
    n.add_argument("-o", "--output", help="write the query history (Parquet, or CSV by extension)")
    n.add_argument("--plot", help="write an accuracy-vs-latency plot with the Pareto front (PNG)")
    n.set_defaults(func=cmd_nas)

    p = sub.add_parser("nas-proxies", help="Spearman rho of zero-cost proxies with NAS-Bench-201 accuracy")
    p.add_argument("--space", default="nb201")
    p.add_argument("--archs", type=int, default=500, help="random archs (default 500)")
    p.add_argument("--proxies", help="comma-separated subset of synflow,naswot,grad_norm,snip")
    p.add_argument("--batch", type=int, default=32, help="synthetic batch size")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("-o", "--output", help="write per-arch values (Parquet, or CSV by extension)")
    p.set_defaults(func=cmd_nas_proxies)

    q = sub.add_parser("nas-predictor", help="held-out Spearman rho of the MLP accuracy predictor")
    q.add_argument("--space", default="nb201")
    q.add_argument("--train", type=int, default=500)
    q.add_argument("--test", type=int, default=2000)
    q.add_argument("--seed", type=int, default=0)
    q.add_argument("--format", choices=("table", "json"), default="table")
    q.add_argument("-o", "--output")
    q.set_defaults(func=cmd_nas_predictor)

    t = sub.add_parser("nas-latency", help="BBSSP layer-adaptive latency correction: error before/after",
                       description="Build a layer latency table on --hw, take whole-network latencies from "
                                   "--measured-hw as the 'measurement', fit per-layer-type factors on part of the "
                                   "networks and report the error on the held-out rest.")
    t.add_argument("--space", default="nb201")
    t.add_argument("--hw", required=True, help="accelerator the table is built on")
    t.add_argument("--measured-hw", required=True, help="accelerator standing in for the measured device")
    t.add_argument("--networks", type=int, default=100)
    t.add_argument("--train-fraction", type=float, default=0.5)
    t.add_argument("--batch", type=int, default=1)
    t.add_argument("--objective", choices=("edp", "latency", "energy"), default="edp")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--format", choices=("table", "json"), default="table")
    t.add_argument("-o", "--output")
    t.set_defaults(func=cmd_nas_latency)
