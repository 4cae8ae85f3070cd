"""``accelsim nas`` and the NAS studies (``nas-proxies``, ``nas-predictor``, ``nas-latency``).

Only argparse / stdlib at import time: numpy, pandas, torch and the NAS modules load inside the handlers.

``accelsim nas --space nb201 --hw configs/eyeriss.yaml --strategy evolution --budget 500
--max-latency-ms 5 [--accuracy table|proxy:synflow|predictor] [--seed 0] [--format table|json|csv|parquet]
[-o FILE] [--plot pareto.png]`` searches a space for accurate archs that meet the constraints on the
accelerator.  Its result is the summary (``table``, or ``json``: ``{"space", "hw", "strategy",
"evaluated", "best": [{"arch", "accuracy", "latency_ms", "energy_mj"}, ...], ...}``, best first) or the
query history, one row per evaluated arch (``csv``, ``parquet``); the studies likewise (summary, or one
row per arch / network).  The format follows :func:`accel.app.output.resolve_format`.
"""

from __future__ import annotations

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
    from accel.app.output import jsonable

    return jsonable(obj)


def _emit(args, df, summary_json, summary_text) -> None:
    """The command's result in ``args.format``: the per-row table ``df`` (csv, parquet) or the summary
    (json, table) — to ``-o`` (atomically) or stdout."""
    from accel.app.output import emit_text, report_written, write_frame

    if args.format in ("csv", "parquet"):
        if args.output:
            write_frame(df, args.output, args.format)
            report_written(args.output)
        else:
            emit_text(df.to_csv(index=False), None)
    elif args.format == "json":
        emit_text(json.dumps(_jsonable(summary_json()), indent=1), args.output)
    else:
        emit_text(summary_text(), args.output)


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
    from accel.app.options import effort_budget
    from nas.latency_table import SpaceHardware
    from nas.profiling import NASProblem, best_archs, make_accuracy, pareto_front, run_search
    from nas.search import Objective

    UserError = _err()
    if args.tournament > args.population:
        raise UserError(f"--tournament {args.tournament} exceeds --population {args.population} (the tournament "
                        "samples from the population)")
    space = _space(args.space)
    if args.accuracy == "predictor" and space.finite and args.predictor_samples > space.size:
        raise UserError(f"--predictor-samples {args.predictor_samples} exceeds the {space.size:,} archs of {space.name}")
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
    with ThreadPoolExecutor(args.jobs) as pool:
        hardware = SpaceHardware(space, arch, batch=args.batch, objective=args.objective, seed=args.seed,
                                 executor=pool if args.jobs > 1 else None,
                                 effort=effort_budget(args.effort, "thorough"), prune_dead=args.prune_dead)
        if args.max_area_mm2 is not None:
            if hardware.area_mm2 is None:
                raise UserError(f"--max-area-mm2: config {arch.name} defines no area (pe_array.area_mm2 and every "
                                "level's area_mm2 are needed, or a technology: block to derive them)")
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
            params.update(population_size=args.population, sample_size=args.tournament,
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
                     "constraints": dict(constraints), "unique_layer_shapes": hardware.unique_layer_shapes,
                     "prune_dead": bool(args.prune_dead)})
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
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from accel.app.output import report_written, save_figure
        from accel.app.plots import plot_pareto

        fig = plot_pareto(df.drop_duplicates("arch"), "latency_s", "accuracy", maximize_y=True, label="evaluated",
                          feasible="feasible" if "feasible" in df else None, bound_x=constraints.get("latency_s"),
                          bound_label="latency bound")
        fig.axes[0].set_title(f"{space.name} on {arch.name}: {args.strategy}, {len(df)} evaluated")
        save_figure(fig, args.plot, "--plot", dpi=120)
        report_written(args.plot, "plotted")

    def summary() -> dict:
        out = {"space": space.name, "hw": arch.name, "strategy": args.strategy, "evaluated": int(len(df)),
               "best": best, "accuracy_signal": acc_info, "constraints": constraints, "seed": args.seed,
               "unique_archs": int(df["arch"].nunique()), "trajectory": trajectory,
               "prune_dead": bool(args.prune_dead)}
        for k in ("profile", "kept_subspaces", "division", "chosen_subspace", "hardware_samples",
                  "rejected_by_prefilter"):
            if k in df.attrs:
                out[k] = df.attrs[k]
        return out

    _emit(args, df, summary, lambda: _nas_text(df, space, arch, args, best, trajectory, acc_info, constraints))
    if not best:
        print("accelsim: warning: no evaluated architecture satisfies the constraints", file=sys.stderr)
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
    names = list(PROXIES) if args.proxies is None else [n.strip() for n in args.proxies.split(",")]
    if not any(names):
        raise UserError(f"--proxies: empty list (give one or more of {', '.join(PROXIES)}, comma-separated)")
    bad = [n for n in names if n not in PROXIES]
    if bad:
        raise UserError(f"--proxies: unknown {bad} (known: {', '.join(PROXIES)})")
    if len(set(names)) != len(names):
        raise UserError(f"--proxies: a proxy is listed twice ({args.proxies})")
    if space.finite and args.archs > space.size:
        raise UserError(f"--archs {args.archs} exceeds the {space.size:,} archs of {space.name}")
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
    archs = _sample_archs(space, args.archs, args.seed)
    df = proxy_study(space, archs, space.accuracy, names, args.batch, args.seed,
                     progress=None if args.quiet else _progress("proxies"))
    rho = df.attrs["spearman"]
    _emit(args, df,
          lambda: {"space": space.name, "archs": len(df), "batch": args.batch, "seed": args.seed,
                   "dataset": getattr(space, "dataset", None), "spearman": rho,
                   "seconds_per_arch": float(df["seconds"].mean())},
          lambda: f"{len(df)} {space.name} archs ({getattr(space, 'dataset', '')} accuracy), synthetic batch of "
                  f"{args.batch}, seed {args.seed}, {df['seconds'].mean():.2f} s/arch\n"
                  + _table([[p, f"{rho[p]:+.3f}"] for p in names], ["proxy", "spearman_rho"]))
    return 0


def cmd_nas_predictor(args) -> int:
    from nas.predictor import MLPPredictor, predictor_study

    UserError = _err()
    space = _space(args.space)
    if not callable(getattr(space, "accuracy", None)):
        raise UserError(f"space {space.name} has no accuracy table to train on (use nb201*)")
    if space.finite and args.train + args.test > space.size:
        raise UserError(f"--train + --test exceeds the {space.size} archs of {space.name}")
    df = predictor_study(space, space.accuracy, args.train, args.test, args.seed, MLPPredictor(seed=args.seed))
    a = df.attrs
    _emit(args, df, lambda: {k: a[k] for k in ("space", "n_train", "n_test", "seed", "spearman", "kendall", "rmse")},
          lambda: f"MLP predictor on {space.name}: trained on {a['n_train']} archs, held-out {a['n_test']}: "
                  f"Spearman {a['spearman']:.3f}, Kendall {a['kendall']:.3f}, RMSE {a['rmse']:.2f} points")
    return 0


def cmd_nas_latency(args) -> int:
    from accel.app.cli import _load_arch
    from accel.app.options import effort_budget
    from nas.latency_table import LayerTable, correction_study, held_out_error, type_matrix
    from nas.registry import space_network

    UserError = _err()
    space = _space(args.space)
    if space.finite and args.networks > space.size:
        raise UserError(f"--networks {args.networks} exceeds the {space.size:,} archs of {space.name}")
    k = args.few_shot if args.few_shot is not None else min(10, args.networks // 2)
    if k >= args.networks:
        raise UserError(f"--few-shot {args.few_shot} must be below --networks {args.networks} (fit on K, test on the "
                        "rest)")
    table_hw = _load_arch(args.hw)
    measured_hw = _load_arch(args.measured_hw)
    archs = _sample_archs(space, args.networks, args.seed)
    nets = [space_network(space, a, args.batch, args.prune_dead) for a in archs]
    # --prune-dead: an NB201 cell with no input->output path has a constant output and its network no layers
    # (nas.nb201.build_network); its latency is 0 in every model, so it has no relative error: left out
    n_constant = sum(1 for n in nets if not n.layers)
    archs, nets = [a for a, n in zip(archs, nets) if n.layers], [n for n in nets if n.layers]
    if k >= len(nets):
        raise UserError(f"--few-shot {k} needs more than {k} networks with layers; {n_constant} of the "
                        f"{args.networks} sampled have a constant output under --prune-dead (no layers)")
    effort = effort_budget(args.effort, "thorough")
    table = LayerTable.from_model(table_hw, args.objective, args.seed, effort)
    measured = LayerTable.from_model(measured_hw, args.objective, args.seed, effort)
    y = [measured.network(n)["latency_s"] for n in nets]
    bad = [u for t in (table, measured) for u in t.unmappable]
    if bad:
        raise UserError(f"layer shape {bad[0]!r} cannot be mapped on one of the accelerators")
    try:
        corr, df = correction_study(nets, y, table, args.train_fraction, args.seed)
        T, types = type_matrix(nets, table)
        few = held_out_error(T, types, y, k=k, splits=args.splits, seed=args.seed).to_dict()
    except ValueError as e:
        raise UserError(str(e)) from None
    df.insert(0, "arch", [space.encode(a) for a in archs])
    df.attrs.update({"space": space.name, "table_hw": table_hw.name, "measured_hw": measured_hw.name,
                     "prune_dead": bool(args.prune_dead), "few_shot": few,
                     "constant_networks_left_out": n_constant})
    a = df.attrs
    fb, fa = few["mape_before_pct"], few["mape_after_pct"]

    def text() -> str:
        return "\n".join([
            f"{space.name}: layer table from {table_hw.name}, whole-network latency 'measured' on "
            f"{measured_hw.name}; fit on {a['n_train']} networks, held-out {a['n_test']}",
            f"held-out error: mean |rel err| {a['mape_before'] * 100:.2f} % -> {a['mape_after'] * 100:.2f} %, "
            f"max {a['max_err_before'] * 100:.2f} % -> {a['max_err_after'] * 100:.2f} %",
            f"few-shot: fit on {few['k']}, test on the other {few['n'] - few['k']}, {few['splits']} random splits: "
            f"MAPE {fb['mean']:.2f} ± {fb['std']:.2f} % -> {fa['mean']:.2f} ± {fa['std']:.2f} % "
            f"(range {fa['min']:.2f}-{fa['max']:.2f} %)",
            _table([[t, f"{f:.4f}"] for t, f in a["factors"].items()], ["layer type", "factor"])])

    _emit(args, df, lambda: {k: a[k] for k in ("space", "table_hw", "measured_hw", "n_train", "n_test", "mape_before",
                                               "mape_after", "max_err_before", "max_err_after", "factors",
                                               "few_shot", "prune_dead")}, text)
    return 0


# ---------------------------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------------------------
def add_parsers(sub) -> None:
    """Register ``nas``, ``nas-proxies``, ``nas-predictor`` and ``nas-latency`` on argparse subparsers."""
    from accel.app.options import (MAX_BUDGET, add_effort_option, add_output_options, add_prune_option, fraction_open, int_in, jobs_int, nonneg_float,
                                   nonneg_int, path_arg, positive_float, positive_int, probability, seed_int)

    formats = ("table", "json", "csv", "parquet")
    spaces = "nb201 (nb201_cifar100, nb201_imagenet16), darts (nb301), mbconv (ofa, chanas), fbnet"
    n = sub.add_parser("nas", help="hardware-aware neural architecture search on an accelerator",
                       description=f"Search a space ({spaces}) for accurate architectures that meet latency / "
                                   "energy / area constraints on an accelerator.  Every arch is also a valid "
                                   "NETWORK for 'accelsim eval' as SPACE:ENCODING.  Result: the summary "
                                   "(table, json) or the query history, one row per evaluation (csv, parquet).")
    n.add_argument("--space", default="nb201", help=f"search space: {spaces} (default nb201)")
    n.add_argument("--hw", type=path_arg, required=True, help="accelerator YAML (or a shipped config name)")
    n.add_argument("--strategy", choices=STRATEGIES, default="evolution",
                   help="evolution (regularized), random, exhaustive (finite spaces), profiling (BBSSP), "
                        "cdf (CHaNAS latency-CDF division)")
    n.add_argument("--budget", type=int_in(1, MAX_BUDGET), default=500,
                   help=f"accuracy evaluations (1..{MAX_BUDGET:,}, default 500)")
    n.add_argument("--max-latency-ms", type=positive_float, help="latency bound (ms, > 0)")
    n.add_argument("--max-energy-mj", type=positive_float, help="energy bound per inference (mJ, > 0)")
    n.add_argument("--max-area-mm2", type=positive_float,
                   help="accelerator area bound (mm², > 0; the config must define areas)")
    n.add_argument("--latency-weight", type=nonneg_float, default=0.0,
                   help="soft trade-off: accuracy points given up per e-fold of latency (>= 0, default 0)")
    n.add_argument("--accuracy", default="table", metavar="table|proxy:NAME|predictor",
                   help="accuracy signal: the NAS-Bench-201 table, a zero-cost proxy (synflow, naswot, grad_norm, "
                        "snip) or an MLP predictor trained on --predictor-samples table queries")
    n.add_argument("--predictor-samples", type=positive_int, default=200,
                   help="table queries the predictor is trained on (default 200)")
    n.add_argument("--proxy-batch", type=int_in(1, 4096), default=32, help="synthetic batch size for proxies")
    n.add_argument("--seed", type=seed_int, default=0, help="search seed (default 0)")
    n.add_argument("--batch", type=int_in(1, 65536), default=1, help="inference batch for hardware cost")
    n.add_argument("--objective", choices=("edp", "latency", "energy"), default="edp", help="mapping objective")
    add_effort_option(n, "thorough")
    add_prune_option(n)
    n.add_argument("--population", type=int_in(1, MAX_BUDGET), default=50, help="evolution population (default 50)")
    n.add_argument("--tournament", type=positive_int, default=10,
                   help="tournament size, at most --population (default 10)")
    n.add_argument("--crossover", type=probability, default=0.2, help="crossover probability in [0, 1]")
    n.add_argument("--plain-evolution", action="store_true",
                   help="evolution: single-edit mutations and repeated proposals allowed (default: multi-edit "
                        "mutations, no repeats)")
    n.add_argument("--base-per-subspace", type=positive_int, default=8, help="profiling: base networks per sub-space")
    n.add_argument("--keep", type=positive_int, default=2, help="profiling: sub-spaces kept")
    n.add_argument("--cdf-samples", type=positive_int, default=100, help="cdf: hardware samples per sub-space")
    n.add_argument("--min-feasible", type=probability, default=0.1,
                   help="cdf: minimum feasible fraction of a sub-space, in [0, 1]")
    n.add_argument("--top", type=positive_int, default=5, help="best architectures to print")
    n.add_argument("--pareto", action="store_true", help="print the accuracy/latency Pareto front instead")
    n.add_argument("--jobs", type=jobs_int, default=1, help="threads mapping new layer shapes (default 1)")
    add_output_options(n, formats, "the summary (table, json) or the query history (csv, parquet)")
    n.add_argument("--plot", metavar="FILE", help="accuracy-vs-latency plot with the Pareto front (.png/.pdf/.svg)")
    n.set_defaults(func=cmd_nas, outputs={"output": ("-o", "file"), "plot": ("--plot", "figure")})

    p = sub.add_parser("nas-proxies", help="Spearman rho of zero-cost proxies with NAS-Bench-201 accuracy",
                       description="Result: the summary (table, json) or one row per arch (csv, parquet).")
    p.add_argument("--space", default="nb201", help="search space with an accuracy table (nb201*)")
    p.add_argument("--archs", type=int_in(3, None), default=500, help="random archs (>= 3, default 500)")
    p.add_argument("--proxies", help="comma-separated subset of synflow,naswot,grad_norm,snip")
    p.add_argument("--batch", type=int_in(2, 4096), default=32, help="synthetic batch size (>= 2, default 32)")
    p.add_argument("--seed", type=seed_int, default=0, help="sampling seed (default 0)")
    p.add_argument("--torch-threads", "--threads", type=nonneg_int, default=0, deprecated=("--threads",),
                   help="torch CPU threads (default 0: torch's choice)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    add_output_options(p, formats, "the summary (table, json) or per-arch values (csv, parquet)")
    p.set_defaults(func=cmd_nas_proxies, outputs={"output": ("-o", "file")})

    q = sub.add_parser("nas-predictor", help="held-out Spearman rho of the MLP accuracy predictor",
                       description="Result: the summary (table, json) or one row per held-out arch (csv, parquet).")
    q.add_argument("--space", default="nb201", help="search space with an accuracy table (nb201*)")
    q.add_argument("--train", type=int_in(2, None), default=500, help="training archs (>= 2, default 500)")
    q.add_argument("--test", type=int_in(2, None), default=2000, help="held-out archs (>= 2, default 2000)")
    q.add_argument("--seed", type=seed_int, default=0, help="sampling and training seed (default 0)")
    add_output_options(q, formats, "the summary (table, json) or per-arch predictions (csv, parquet)")
    q.set_defaults(func=cmd_nas_predictor, outputs={"output": ("-o", "file")})

    t = sub.add_parser("nas-latency", help="BBSSP layer-adaptive latency correction: error before/after",
                       description="Build a layer latency table on --hw, take whole-network latencies from "
                                   "--measured-hw as the 'measurement', fit per-layer-type factors on part of the "
                                   "networks and report the error on the held-out rest.  Result: the summary "
                                   "(table, json) or one row per network (csv, parquet).")
    t.add_argument("--space", default="nb201", help="search space the networks are sampled from (default nb201)")
    t.add_argument("--hw", type=path_arg, required=True, help="accelerator the table is built on")
    t.add_argument("--measured-hw", type=path_arg, required=True, help="accelerator standing in for the measured device")
    t.add_argument("--networks", type=int_in(4, None), default=100, help="networks sampled (>= 4, default 100)")
    t.add_argument("--train-fraction", type=fraction_open, default=0.5,
                   help="share of the networks the factors are fitted on, in (0, 1)")
    t.add_argument("--batch", type=int_in(1, 65536), default=1, help="inference batch size (default 1)")
    t.add_argument("--objective", choices=("edp", "latency", "energy"), default="edp", help="mapping objective")
    t.add_argument("--seed", type=seed_int, default=0, help="sampling and mapper seed (default 0)")
    add_effort_option(t, "thorough")
    add_prune_option(t)
    t.add_argument("--few-shot", type=positive_int, default=None, metavar="K",
                   help="few-shot protocol: fit on K networks, test on the rest (default: 10, or half of --networks "
                        "when fewer than 20)")
    t.add_argument("--splits", type=int_in(1, 10_000), default=20,
                   help="random K-network splits of the few-shot protocol (default 20)")
    add_output_options(t, formats, "the summary (table, json) or per-network errors (csv, parquet)")
    t.set_defaults(func=cmd_nas_latency, outputs={"output": ("-o", "file")})
