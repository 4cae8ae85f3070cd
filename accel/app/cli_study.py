"""``accelsim sweep | codesign | rankcorr | plot``: accelerator sweeps, semi-decoupled co-design,
ranking-correlation studies and plots.  Only argparse and the standard library are imported here; the
handlers import the heavy modules.

::

    accelsim sweep SPEC.yaml --workload W [--workload ...] -o results.parquet [--force] [--jobs N]
                   [--scheduler tcp://HOST:PORT | --dask-local] [--per-layer] [--batch-size B] [--effort E]
                   [--plot out.png]
    accelsim codesign --space nb201 --hw configs/eyeriss.yaml --sweep SPEC.yaml --keep 20 --objective edp
                   [--max-latency-ms X ...] [--min-accuracy A ...] [--format table|json] [-o FILE] [--study]
                   [--plot out.png]
    accelsim rankcorr --space nb201 --sample 1000 --hw a.yaml --hw b.yaml ... [--metric latency|energy|edp]
                   [--from-sweep results.parquet] [--top K] [--format table|json] [-o FILE] [--plot heatmap.png]
                   [--scatter-plot scatter.png [--pair A B]]
    accelsim plot {breakdown,roofline} NETWORK --hw CONFIG -o out.png [--batch N] [--objective edp]
    accelsim plot pareto RESULTS.parquet -o out.png [--x latency_s] [--y energy_pj]

Workloads: zoo names, ``.onnx`` files, ``nb201:<arch string|index>``, ``nb201-sample:N:SEED`` (see
:mod:`accel.app.sweep`).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
import time

SPACES = ("nb201",)


class ProgressBar:
    """Plain-text progress bar with ETA on stderr (redrawn in place on a terminal, a line per 10 % else).
    Called as ``progress(done, total)``; the rate is measured from the first call, so resumed work does
    not distort the ETA."""

    def __init__(self, label: str, unit: str = "points", stream=None, width: int = 28):
        self.label, self.unit, self.width = label, unit, width
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.t0: float | None = None
        self.d0 = 0
        self.last_decile = -1

    @staticmethod
    def _fmt(s: float) -> str:
        s = int(round(s))
        return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else (f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s")

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if self.t0 is None:
            self.t0, self.d0 = now, done
        frac = done / total if total else 1.0
        fill = int(self.width * frac)
        el = now - self.t0
        rate = (done - self.d0) / el if el > 0 and done > self.d0 else 0.0
        eta = self._fmt((total - done) / rate) if rate > 0 else ("0s" if done >= total else "?")
        line = (f"{self.label} [{'#' * fill}{'.' * (self.width - fill)}] {done}/{total} {self.unit} "
                f"{100 * frac:3.0f}%  elapsed {self._fmt(el)}  ETA {eta}")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if done >= total else ""))
            self.stream.flush()
        else:
            dec = int(10 * frac)
            if dec != self.last_decile or done >= total:
                self.last_decile = dec
                self.stream.write(line + "\n")
                self.stream.flush()


def _user_error(msg: str):
    from accel.app.cli import UserError

    return UserError(msg)


@contextlib.contextmanager
def _executor(args):
    """The Executor the flags ask for: SerialExecutor (--jobs 1), a local process pool (default), a Dask
    LocalCluster (--dask-local) or an existing Dask scheduler (--scheduler)."""
    jobs = args.jobs
    if jobs is not None and jobs < 1:
        raise _user_error("--jobs must be >= 1")
    if args.scheduler or args.dask_local:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise _user_error("--scheduler / --dask-local need Dask: pip install 'accelsim[dask]'") from None
        with contextlib.ExitStack() as stack:
            if args.dask_local:
                cluster = stack.enter_context(LocalCluster(n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1,
                                                           processes=True, dashboard_address=None))
                client = stack.enter_context(Client(cluster))
            else:
                try:
                    client = stack.enter_context(Client(args.scheduler, timeout="20s"))
                except (OSError, TimeoutError, ValueError) as e:
                    raise _user_error(f"--scheduler {args.scheduler}: cannot connect ({e})") from None
            yield client.get_executor()
        return
    if jobs == 1:
        from accel.app.sweep import SerialExecutor

        yield SerialExecutor()
        return
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as ex:
        yield ex


def _spec_error(e) -> Exception:
    return _user_error(str(e))


def _save(fig, path: str, option: str) -> None:
    from accel.app.output import report_written, save_figure

    save_figure(fig, path, option)
    report_written(path)


def _read_parquet(path: str, what: str):
    """A results table (sweep or nas ``-o`` Parquet) named on the command line."""
    import pandas as pd

    if not os.path.isfile(path):
        raise _user_error(f"{what} {path}: no such file")
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as e:
        raise _user_error(f"{what} {path}: not a readable Parquet table ({e})") from None


def _load_sweep(path: str, effort: str):
    """The sweep spec at ``path``; ``--effort`` other than default overrides its ``search_effort``."""
    from accel.app.options import effort_budget
    from accel.designspace import SweepSpecError, load_sweep

    try:
        sw = load_sweep(path)
    except SweepSpecError as e:
        raise _spec_error(e) from None
    key = effort_budget(effort, sw.spec.search_effort)
    if key != sw.spec.search_effort:
        sw = dataclasses.replace(sw, spec=sw.spec.model_copy(update={"search_effort": key}))
    return sw


# ---------------------------------------------------------------------------------------------
# sweep
# ---------------------------------------------------------------------------------------------
def cmd_sweep(args) -> int:
    from accel.app.sweep import run_sweep
    from accel.designspace import SweepError, SweepSpecError

    sw = _load_sweep(args.spec, args.effort)
    t0 = time.perf_counter()
    try:
        with _executor(args) as ex:
            # a local process pool is shut down once every batch is computed: its workers' memory (search memos)
            # goes back to the OS before the final table is assembled
            from concurrent.futures import ProcessPoolExecutor

            release = (lambda: ex.shutdown(wait=True)) if isinstance(ex, ProcessPoolExecutor) else None
            df = run_sweep(sw, args.workload, args.output, executor=ex, progress=ProgressBar("sweep"),
                           batch_size=args.batch_size, per_layer=args.per_layer, force=args.force,
                           prune_dead=args.prune_dead, on_computed=release)
    except (SweepError, SweepSpecError) as e:
        raise _user_error(str(e)) from None
    el = time.perf_counter() - t0
    n_pts = df.attrs.get("n_points", 0)
    ok = df[df["status"] == "ok"]
    dropped = df[df["status"] != "ok"].drop_duplicates("point")
    print(f"wrote {args.output}: {n_pts} design points x {len(df.attrs.get('workloads', []))} workloads, "
          f"{len(df)} rows, {ok['point'].nunique()} points with results, {len(dropped)} with a dropped row; "
          f"{el:.1f} s", file=sys.stderr)
    if len(dropped):
        kinds = r"^(invalid config|duplicate|area unknown|area|power|no valid mapping)"
        reasons = dropped["reason"].str.extract(kinds)[0].fillna("other").value_counts()
        for r, n in reasons.items():
            print(f"  dropped: {n} x {r}", file=sys.stderr)
    if args.plot and len(ok) and "layer" not in df.columns:
        from accel.app.plots import plot_pareto

        tot = ok.groupby("point")[["latency_s", "energy_pj"]].sum()
        nw = ok.groupby("point")["workload"].count()
        tot = tot[nw == nw.max()]
        fig = plot_pareto(tot, "latency_s", "energy_pj", label="design points",
                          xlabel="latency summed over workloads (s)", ylabel="energy summed over workloads (pJ)")
        fig.axes[0].set_title(f"{sw.name}: latency vs energy")
        _save(fig, args.plot, "--plot")
    return 0


# ---------------------------------------------------------------------------------------------
# codesign
# ---------------------------------------------------------------------------------------------
def cmd_codesign(args) -> int:
    import json

    from accel.arch import ConfigError, load_arch
    from accel.app.codesign import Constraint, run_codesign
    from accel.app.output import emit_text

    try:
        study_ks = sorted({int(x) for x in args.keep_study.split(",") if x.strip()})
    except ValueError:
        raise _user_error(f"--keep-study: expected comma-separated integers, got {args.keep_study!r}") from None
    if not study_ks or any(k < 1 for k in study_ks):
        raise _user_error("--keep-study: give integers >= 1, comma-separated")
    try:
        ref = load_arch(args.hw)
    except ConfigError as e:
        raise _user_error(str(e)) from None
    sw = _load_sweep(args.sweep, args.effort)
    accs = args.min_accuracy or [None]
    lats = args.max_latency_ms or [None]
    cons = None
    if args.min_accuracy or args.max_latency_ms:
        cons = [Constraint(a, None if lat is None else lat * 1e-3) for a in accs for lat in lats]
    with _executor(args) as ex:
        res = run_codesign(sw, ref, objective=args.objective, keep=args.keep, constraints=cons,
                           keep_mode=args.keep_mode, dataset=args.dataset, nas_budget=args.nas_budget,
                           nas_seed=args.seed, keep_study=study_ks, executor=ex,
                           progress=ProgressBar("codesign", "accelerators"), prune_dead=args.prune_dead)
    if args.format == "json":
        text = json.dumps(res.to_json(study=args.study), indent=1)
    else:
        text = res.table()
        if not args.study:
            text = text.split("\ngap (%) vs keep")[0].rstrip()
    if args.plot:
        import numpy as np

        from accel.app.plots import new_figure, plot_gap_vs_keep, plot_pareto

        table = res.reference
        kept = np.unique(np.concatenate([r["kept"] for r in res.results]))
        fig, axes = new_figure(1, 2)
        plot_pareto(table, "latency_s", "accuracy", maximize_y=True, ax=axes[0, 0], label="NB201 archs",
                    xlabel=f"latency on {ref.name} (s)", ylabel="accuracy (%)",
                    highlight=table.set_index("index").loc[kept].reset_index(), highlight_label="kept (stage 1)")
        plot_gap_vs_keep(res.study["keep"], [str(c) for c in res.constraints], ax=axes[0, 1])
        _save(fig, args.plot, "--plot")
    emit_text(text, args.output)
    return 0


# ---------------------------------------------------------------------------------------------
# rankcorr
# ---------------------------------------------------------------------------------------------
def cmd_rankcorr(args) -> int:
    import json

    from accel.arch import ConfigError, load_arch
    from accel.app.output import emit_text
    from accel.app.options import effort_budget
    from accel.app.rankcorr import nb201_table, rank_correlations, sweep_table

    if args.pair and not args.scatter_plot:
        raise _user_error("--pair chooses the columns of --scatter-plot: give --scatter-plot FILE too")
    if args.from_sweep:
        if args.hw:
            raise _user_error("give either --hw configs or --from-sweep, not both")
        if args.prune_dead:
            raise _user_error("--prune-dead applies to the tables costed from --hw configs; a sweep's results were "
                              "costed by the sweep (its own --prune-dead, recorded in its metadata)")
        results = _read_parquet(args.from_sweep, "--from-sweep")
        try:
            table = sweep_table(results, args.metric)
        except ValueError as e:
            raise _user_error(f"--from-sweep {args.from_sweep}: {e}") from None
    else:
        if not args.hw or len(args.hw) < 2:
            raise _user_error("give at least two --hw configs (or --from-sweep results.parquet)")
        from nas import nb201

        if not 2 <= args.sample <= nb201.N_ARCHS:
            raise _user_error(f"--sample must be in [2, {nb201.N_ARCHS}]")
        try:
            archs = [load_arch(h) for h in args.hw]
        except ConfigError as e:
            raise _user_error(str(e)) from None
        table = nb201_table(archs, sample=args.sample, seed=args.seed, metric=args.metric, dataset=args.dataset,
                            effort=effort_budget(args.effort, "thorough"), prune_dead=args.prune_dead)
    try:
        rc = rank_correlations(table, top_k=args.top, metric=args.metric)
    except ValueError as e:
        raise _user_error(str(e)) from None
    cols = list(table.columns)
    a, b = args.pair or cols[:2]
    if args.scatter_plot:
        for c in (a, b):
            if c not in cols:
                raise _user_error(f"--pair: no column {c!r} (columns: {', '.join(map(str, cols))})")
    if args.plot:
        from accel.app.plots import plot_rank_heatmap

        _save(plot_rank_heatmap(rc.spearman, title=f"Spearman ρ of {args.metric} (n = {rc.n})"), args.plot, "--plot")
    if args.scatter_plot:
        from accel.app.plots import plot_rank_scatter

        _save(plot_rank_scatter(table[a], table[b], top_k=rc.top_k), args.scatter_plot, "--scatter-plot")
    doc = {**rc.to_json(), "prune_dead": bool(table.attrs.get("prune_dead", False))}
    emit_text(json.dumps(doc, indent=1) if args.format == "json" else rc.table(), args.output)
    return 0


# ---------------------------------------------------------------------------------------------
# plot
# ---------------------------------------------------------------------------------------------
def cmd_plot(args) -> int:
    if args.kind == "pareto":
        import numpy as np

        from accel.app.plots import plot_pareto

        df = _read_parquet(args.target, "plot pareto")
        color = args.color
        if color is None and "area_mm2" in df.columns and np.isfinite(df["area_mm2"].to_numpy(dtype=float)).any():
            color = "area_mm2"  # latency x energy front coloured by area (issue 15)
        color = None if color == "none" else color
        for c in (args.x, args.y, *([color] if color else [])):
            if c not in df.columns:
                raise _user_error(f"{args.target}: no column {c!r}")
        if "status" in df.columns:
            df = df[df["status"] == "ok"]
        if "point" in df.columns and "workload" in df.columns:
            g = df.groupby("point")
            df = g[[args.x, args.y]].sum()
            if color:  # a property of the design point (area) is not summed over workloads
                df[color] = g[color].first() if color in ("area_mm2", "peak_macs_per_cycle") else g[color].sum()
        if not len(df):
            raise _user_error(f"{args.target}: no rows to plot")
        _save(plot_pareto(df, args.x, args.y, color=color), args.output, "-o")
        return 0
    from accel.app.cli import _load_arch, _load_network
    from accel.app.options import effort_budget
    from accel.app.plots import plot_energy_breakdown, plot_roofline
    from mapper.mapspace import NoValidMapping
    from mapper.network import NetworkEvaluator

    if not args.hw:
        raise _user_error(f"plot {args.kind} needs --hw CONFIG")
    arch = _load_arch(args.hw)
    net = _load_network(args.target, args.batch, prune_dead=args.prune_dead)
    try:
        res = NetworkEvaluator(arch, args.objective, args.seed, effort=effort_budget(args.effort, "thorough")).network(net)
    except NoValidMapping as e:
        raise _user_error(str(e)) from None
    fn = plot_energy_breakdown if args.kind == "breakdown" else plot_roofline
    _save(fn(res), args.output, "-o")
    return 0


# ---------------------------------------------------------------------------------------------
# parsers
# ---------------------------------------------------------------------------------------------
def _add_executor_flags(p: argparse.ArgumentParser) -> None:
    from accel.app.options import MAX_JOBS, jobs_int

    p.add_argument("--jobs", type=jobs_int, default=None,
                   help=f"local worker processes, at most {MAX_JOBS} (default: all CPUs; 1 = in-process)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--scheduler", metavar="ADDR", help="use an existing Dask cluster (tcp://HOST:PORT)")
    g.add_argument("--dask-local", action="store_true", help="start a Dask LocalCluster with --jobs workers")


def _dataset(name: str) -> str:
    """``--dataset`` type: a NAS-Bench-201 dataset name (:func:`nas.nb201.canonical_dataset`)."""
    from nas.nb201 import NB201Error, canonical_dataset

    try:
        canonical_dataset(name)
    except NB201Error as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return name


def _add_plot_option(p: argparse.ArgumentParser, what: str, option: str = "--plot") -> None:
    p.add_argument(option, metavar="FILE", help=f"{what} (.png, .pdf or .svg; refused if it exists, unless --force)")


def add_parsers(sub) -> None:
    """Register sweep, codesign, rankcorr and plot on the ``accelsim`` subparsers object."""
    from accel.app.options import (MAX_BUDGET, add_effort_option, add_output_options, add_prune_option, float_in,
                                   int_in, path_arg, positive_float, positive_int, seed_int)

    s = sub.add_parser("sweep", help="evaluate every design point of a sweep spec on workloads (resumable)",
                       description="Workloads: zoo names, .onnx files, nb201:<arch string|index>, "
                                   "nb201-sample:N:SEED (N distinct NAS-Bench-201 CIFAR-10 archs). "
                                   "Rerun the same command after an interruption to resume.")
    s.add_argument("spec", help="sweep spec YAML (see configs/sweeps/demo.yaml)")
    s.add_argument("--workload", action="append", required=True, help="workload (repeatable)")
    s.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="results Parquet file (an interrupted sweep to FILE resumes; any other existing file is "
                        "refused unless --force)")
    s.add_argument("--force", action="store_true", help="overwrite existing output files")
    _add_executor_flags(s)
    s.add_argument("--per-layer", action="store_true", help="one row per layer instead of per workload")
    s.add_argument("--batch-size", type=positive_int, default=8, help="design points per task (default 8)")
    add_effort_option(s, "the spec's search_effort")
    add_prune_option(s)
    _add_plot_option(s, "latency vs energy Pareto front across the sweep")
    s.set_defaults(func=cmd_sweep, outputs={"output": ("-o", "sweep"), "plot": ("--plot", "figure")},
                   formats=("parquet",), default_format="parquet")

    c = sub.add_parser("codesign", help="semi-decoupled network/accelerator co-design vs the joint optimum",
                       description="Stage 1: NAS on the reference accelerator --hw keeps --keep architectures; "
                                   "stage 2: the sweep's accelerators are searched for them.  Compared with the "
                                   "joint optimum over every (architecture, accelerator) pair.")
    c.add_argument("--space", choices=SPACES, default="nb201", help="network search space (nb201)")
    c.add_argument("--hw", "--ref-hw", type=path_arg, required=True, deprecated=("--ref-hw",),
                   help="reference accelerator for stage 1 (YAML or shipped name)")
    c.add_argument("--sweep", required=True, help="sweep spec YAML of the accelerators to co-design")
    c.add_argument("--keep", type=int_in(1, 15625), default=20, help="architectures kept from stage 1 (default 20)")
    c.add_argument("--keep-mode", choices=("topk", "pareto"), default="topk",
                   help="keep the top --keep by the objective, or the Pareto front (default topk)")
    c.add_argument("--objective", choices=("edp", "latency", "energy", "accuracy"), default="edp",
                   help="what stage 2 minimises (accuracy: maximises) (default edp)")
    c.add_argument("--max-latency-ms", type=positive_float, nargs="+", metavar="X",
                   help="latency bound(s) on the accelerator (ms)")
    c.add_argument("--min-accuracy", type=float_in(0, 100), nargs="+", metavar="A",
                   help="accuracy bound(s) in %% (default, with no bound given: the 50th/90th/99th percentiles)")
    c.add_argument("--dataset", type=_dataset, default="cifar10", help="cifar10 | cifar100 | imagenet16-120 accuracies")
    c.add_argument("--nas-budget", type=int_in(1, MAX_BUDGET), default=1000, help="stage-1 NAS queries (default 1000)")
    c.add_argument("--seed", "--nas-seed", type=seed_int, default=0, deprecated=("--nas-seed",),
                   help="stage-1 NAS seed (default 0)")
    c.add_argument("--keep-study", default="1,2,5,10,20,50,100", help="keep values for the study (comma-separated)")
    c.add_argument("--study", action="store_true", help="also report gap vs --keep and vs distance from the reference")
    add_output_options(c, ("table", "json"), "the co-design result")
    add_effort_option(c, "the sweep spec's search_effort")
    add_prune_option(c)
    _add_plot_option(c, "accuracy-vs-latency Pareto front on the reference + gap vs keep")
    _add_executor_flags(c)
    c.set_defaults(func=cmd_codesign, outputs={"output": ("-o", "file"), "plot": ("--plot", "figure")})

    r = sub.add_parser("rankcorr", help="rank correlation of architectures across accelerators",
                       description="Spearman rho, Kendall tau-b and top-k overlap of NB201 architectures ranked "
                                   "on each --hw accelerator (or of the workloads of a sweep's results).")
    r.add_argument("--space", choices=SPACES, default="nb201", help="network search space (nb201)")
    r.add_argument("--sample", type=int_in(2, 15625), default=1000, help="NB201 archs sampled (2..15625, default 1000)")
    r.add_argument("--seed", type=seed_int, default=0, help="sampling seed (default 0)")
    r.add_argument("--hw", type=path_arg, action="append", help="accelerator config (repeatable, at least two)")
    r.add_argument("--metric", choices=("latency", "energy", "edp"), default="latency",
                   help="what is ranked (default latency)")
    r.add_argument("--from-sweep", metavar="RESULTS", help="use a sweep results table instead (workloads x points)")
    r.add_argument("--top", "--top-k", type=positive_int, default=50, deprecated=("--top-k",),
                   help="k of the top-k overlap (default 50)")
    r.add_argument("--dataset", type=_dataset, default="cifar10", help="cifar10 | cifar100 | imagenet16-120 (NB201 tables)")
    add_output_options(r, ("table", "json"), "the correlation matrices")
    add_effort_option(r, "thorough")
    add_prune_option(r)
    _add_plot_option(r, "Spearman heatmap")
    _add_plot_option(r, "rank scatter of a pair of columns", "--scatter-plot")
    r.add_argument("--pair", nargs=2, metavar=("A", "B"), help="columns of the rank scatter (default: first two)")
    r.set_defaults(func=cmd_rankcorr, outputs={"output": ("-o", "file"), "plot": ("--plot", "figure"),
                                               "scatter_plot": ("--scatter-plot", "figure")})

    p = sub.add_parser("plot", help="plots: per-layer energy breakdown, roofline, Pareto front of a results table",
                       description="breakdown / roofline: NETWORK mapped on --hw; pareto: a results Parquet file "
                                   "(sweep or nas -o).  The file format follows -o's extension (.png, .pdf, .svg).")
    p.add_argument("kind", choices=("breakdown", "roofline", "pareto"), help="what to plot")
    p.add_argument("target", help="NETWORK (breakdown, roofline) or a results Parquet file (pareto)")
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="plot file: .png, .pdf or .svg (the file written is exactly FILE)")
    p.add_argument("--force", action="store_true", help="overwrite an existing plot file")
    p.add_argument("--hw", type=path_arg, help="accelerator config (breakdown, roofline)")
    p.add_argument("--batch", type=int_in(1, 65536), default=1, help="inference batch size (default 1)")
    p.add_argument("--objective", choices=("edp", "latency", "energy"), default="edp",
                   help="per-layer mapping objective (default edp)")
    p.add_argument("--seed", type=seed_int, default=0, help="mapper random seed (default 0)")
    add_effort_option(p, "thorough")
    add_prune_option(p)
    p.add_argument("--x", default="latency_s", help="pareto: x column (minimised)")
    p.add_argument("--y", default="energy_pj", help="pareto: y column (minimised)")
    p.add_argument("--color", default=None, metavar="COLUMN",
                   help="pareto: colour points by a third minimised column and mark its 3-D front (default: area_mm2 "
                        "when the table has areas; 'none' for no colour)")
    p.set_defaults(func=cmd_plot, outputs={"output": ("-o", "figure")})
