"""``accelsim xcheck``: the model against real TVM (MetaSchedule-tuned) and onnxruntime runs.

Only argparse/stdlib at import time (the handler imports numpy, pandas, tvm, onnxruntime)."""

from __future__ import annotations

import json
import sys


def add_parsers(sub) -> None:
    from accel.app.options import (add_allocator_option, add_effort_option, add_output_options, add_prune_option,
                                   path_arg, fraction_open, nonneg_int, positive_int, seed_int)

    x = sub.add_parser(
        "xcheck", help="cross-check model predictions against real compiled runs (TVM, onnxruntime)",
        description="Export networks to ONNX, compile with apache-tvm (MetaSchedule-tuned kernels from a tuning "
                    "database) and/or run with onnxruntime (1 thread), time them (interleaved, warm-up, "
                    "min over repeats, two passes), and compare with the model: Spearman rho, Kendall tau-b, "
                    "MAPE, MACs as a naive proxy, test-retest ceiling, BBSSP layer-adaptive correction.  Result: "
                    "the summary (table, json) or one row per network and backend (csv, parquet).")
    x.add_argument("--space", metavar="SPACE",
                   help="sample candidates from a NAS space (nb201, mbconv_cifar, darts, fbnet, mbconv, ...)")
    x.add_argument("--sample", type=nonneg_int, default=0, help="number of candidates to sample from --space")
    x.add_argument("--network", action="append", default=[], metavar="NET",
                   help="zoo name, SPACE:ENCODING (nb201:<arch>, mbconv_cifar:<blocks>, darts:DARTS_V2, ...) "
                        "or an .onnx file (repeatable)")
    x.add_argument("--hw", type=path_arg, required=True, help="hardware config YAML (e.g. configs/cpu-host.yaml)")
    x.add_argument("--backend", action="append", choices=("tvm", "ort", "tvm-gpu"),
                   help="tvm (tuned kernels), ort (onnxruntime CPU), tvm-gpu (CUDA; skipped without a GPU); "
                        "repeatable, default tvm")
    x.add_argument("--tuning-db", metavar="DIR", help="MetaSchedule tuning database (default bench/tvm_tuning_db)")
    x.add_argument("--trials", type=nonneg_int, default=0,
                   help="tune kernels missing from the database with N trials each first (default 0: no tuning)")
    x.add_argument("--search", choices=("evolutionary", "replay-trace"), default="evolutionary",
                   help="MetaSchedule search for --trials (default evolutionary)")
    x.add_argument("--intra-op-threads", "--threads", type=positive_int, default=1, deprecated=("--threads",),
                   help="intra-op threads of the measured runs (default 1)")
    x.add_argument("--repeats", type=positive_int, default=5, help="timed repeats per pass (>= 5, default 5)")
    x.add_argument("--number", type=positive_int, default=10, help="runs per repeat (>= 10, default 10)")
    x.add_argument("--warmup", type=nonneg_int, default=3, help="warm-up runs (>= 3, default 3)")
    x.add_argument("--seed", type=seed_int, default=0, help="sampling and split seed (default 0)")
    add_effort_option(x, "thorough")
    x.add_argument("--train-fraction", type=fraction_open, default=0.5,
                   help="fraction of networks the BBSSP correction is fitted on, in (0, 1) (rest: held out)")
    x.add_argument("--cache-dir", help="where exported ONNX files are kept")
    add_prune_option(x)
    add_allocator_option(x)
    x.add_argument("--plot", metavar="FILE", help="predicted-vs-measured scatter (.png, .pdf or .svg)")
    add_output_options(x, ("table", "json", "csv", "parquet"),
                       "the summary (table, json) or the per-network table (csv, parquet)")
    x.add_argument("--summary-json", metavar="FILE", help="also write the JSON result and its command line to FILE")
    x.set_defaults(func=cmd_xcheck, outputs={"output": ("-o", "file"), "plot": ("--plot", "figure"),
                                             "summary_json": ("--summary-json", "file")})


def _names(args) -> list[str]:
    from accel.app.cli import UserError
    from accel.errors import WorkloadInputError
    from nas.registry import parse_network_spec, sample_specs

    names = list(args.network)
    if args.space:
        if args.sample < 1:
            raise UserError("--space needs --sample N (N >= 1)")
        try:
            names += sample_specs(args.space, args.sample, args.seed)
        except WorkloadInputError as e:
            raise UserError(f"--space {args.space} --sample {args.sample}: {e}") from None
    elif args.sample:
        raise UserError("--sample needs --space SPACE (e.g. nb201, mbconv_cifar)")
    if not names:
        raise UserError("nothing to cross-check: give --space SPACE --sample N and/or --network NET")
    labels = []
    for n in names:
        try:
            spec = parse_network_spec(n)
        except WorkloadInputError as e:
            raise UserError(f"--network {n}: {e}") from None
        if spec.kind == "layer":
            raise UserError(f"--network {n}: a single layer cannot be cross-checked")
        labels.append(spec.label)
    if len(set(labels)) < 3:
        raise UserError(f"need at least 3 distinct networks to rank, got {len(set(labels))}")
    return list(dict.fromkeys(labels))


def cmd_xcheck(args) -> int:
    from accel.app.cli import UserError, _load_arch

    backends = tuple(dict.fromkeys(args.backend or ["tvm"]))
    if args.warmup < 3 or args.repeats < 5 or args.number < 10:
        raise UserError("measurement protocol: --warmup >= 3, --repeats >= 5, --number >= 10")
    arch = _load_arch(args.hw)
    names = _names(args)
    from accel.app import measure as M
    from accel.app.options import effort_budget
    from accel.app.xcheck import DEFAULT_DB, run_xcheck, to_json

    if "tvm-gpu" in backends and M.gpu_available():
        print(f"accelsim xcheck: skipping the GPU cross-check (tvm-gpu): {M.gpu_available()}", file=sys.stderr)
        backends = tuple(b for b in backends if b != "tvm-gpu")
        if not backends:
            return 0
    for b in backends:
        why = {"tvm": M.tvm_available, "ort": M.ort_available, "tvm-gpu": M.gpu_available}[b]()
        if why:
            raise UserError(f"--backend {b}: {why}")
    db = args.tuning_db or str(DEFAULT_DB)
    if "tvm" in backends and args.trials == 0:
        from pathlib import Path

        if not (Path(db) / "database_workload.json").is_file():
            raise UserError(f"--tuning-db {db}: no MetaSchedule tuning database there (database_workload.json); "
                            f"tune with --trials N")

    def progress(msg: str) -> None:
        print(f"[xcheck] {msg}", file=sys.stderr, flush=True)

    try:
        out = run_xcheck(names, arch, backends, db_dir=db, trials=args.trials, threads=args.intra_op_threads,
                         warmup=args.warmup, repeats=args.repeats, number=args.number, cache_dir=args.cache_dir,
                         train_fraction=args.train_fraction, seed=args.seed, search=args.search,
                         progress=progress, prune_dead=args.prune_dead,
                         effort=effort_budget(args.effort, "thorough"), allocator=args.allocator)
    except (M.MeasureError, ValueError, FileNotFoundError) as e:
        raise UserError(str(e)) from None
    js = to_json(out)
    from accel.app.output import emit_text, report_written, save_figure, write_frame, write_text

    if args.plot:
        import matplotlib

        matplotlib.use("Agg")  # plot_xcheck uses pyplot
        from accel.app.xcheck import plot_xcheck

        save_figure(plot_xcheck(out["networks"]), args.plot, "--plot", dpi=120)
        report_written(args.plot)
    if args.summary_json:
        write_text(args.summary_json, json.dumps({"command": _command(args, names, backends), "results": js}, indent=1))
        report_written(args.summary_json)
    if args.format in ("csv", "parquet"):
        if args.output:
            write_frame(out["networks"], args.output, args.format)
            report_written(args.output)
        else:
            emit_text(out["networks"].to_csv(index=False), None)
    elif args.format == "json":
        emit_text(json.dumps(js[0] if len(js) == 1 else js, indent=1), args.output)
    else:
        emit_text(_table_text(out, js), args.output)
    return 0


def _command(args, names: list[str], backends: tuple[str, ...]) -> str:
    """The command line that reproduces this run (networks spelled out)."""
    import shlex

    parts = ["accelsim", "xcheck", "--hw", args.hw]
    if args.space:
        parts += ["--space", args.space, "--sample", str(args.sample)]
    for n in args.network:
        parts += ["--network", n]
    for b in backends:
        parts += ["--backend", b]
    for opt in ("tuning_db", "intra_op_threads", "repeats", "number", "warmup", "seed", "train_fraction"):
        v = getattr(args, opt)
        if v is not None:
            parts += ["--" + opt.replace("_", "-"), str(v)]
    if args.prune_dead:
        parts.append("--prune-dead")
    parts += ["--allocator", args.allocator]
    return shlex.join(parts)


def _fmt(v, spec=".3f") -> str:
    return "n/a" if v is None else format(v, spec)


def _table_text(out: dict, js: list[dict]) -> str:
    lines: list[str] = []
    for r in js:
        lines.append(f"backend {r['backend']}: {len(r['networks'])} networks measured")
        lines.append(f"  {'network':<72} {'MMACs':>8} {'pred ms':>9} {'meas ms':>9} {'corr ms':>9}")
        for n in r["networks"]:
            lines.append(f"  {n['name'][:72]:<72} {n['macs'] / 1e6:8.1f} {n['predicted_ms']:9.3f} {n['measured_ms']:9.3f} "
                  f"{n['corrected_ms']:9.3f}{'  (train)' if n['train'] else ''}")
        lines.append(f"  model: Spearman {_fmt(r['spearman'])}  Kendall tau-b {_fmt(r['kendall'])}  MAPE {_fmt(r['mape_pct'], '.1f')} %")
        lines.append(f"  MACs:  Spearman {_fmt(r['macs_spearman'])}  Kendall tau-b {_fmt(r['macs_kendall'])}")
        lines.append(f"  test-retest Spearman (noise ceiling) {_fmt(r['test_retest_spearman'])}")
        c = r.get("correction")
        if c:
            b, a, m = c["heldout_before"], c["heldout_after"], c["heldout_macs"]
            lines.append(f"  BBSSP correction (fit on {c['train_networks']}, held-out {c['heldout_networks']}): "
                  f"rho {_fmt(b['spearman'])} -> {_fmt(a['spearman'])}, tau-b {_fmt(b['kendall'])} -> "
                  f"{_fmt(a['kendall'])}, MAPE {_fmt(b['mape_pct'], '.1f')} % -> {_fmt(a['mape_pct'], '.1f')} % "
                  f"(MACs held-out rho {_fmt(m['spearman'])})")
        p = r.get("per_layer")
        if p:
            lines.append(f"  per layer: {p['matched_kernel_calls']}/{p['kernel_calls']} kernel calls matched to layers "
                  f"({100 * p['matched_time_fraction']:.0f} % of kernel time), Spearman {_fmt(p['spearman'])}, "
                  f"MAPE {_fmt(p['mape_pct'], '.1f')} %")
        for x in r["refused"]:
            lines.append(f"  refused: {x['name']}: {x['reason']}")
    if out["numerics"]:
        worst = max(out["numerics"].values())
        lines.append(f"numerics: max |tvm - ort| / max(1, max|ort|) = {worst:.2e} over {len(out['numerics'])} networks")
    return "\n".join(lines)
