"""``accelsim timeloop``: evaluate a Timeloop v0.4 design (architecture, problem, mapping, ERT) in accelsim.

With ``--mapping`` the given Timeloop mapping is evaluated as it is (:func:`mapper.fixed.evaluate_mapping`);
otherwise accelsim's mapper searches (:func:`mapper.search.search_mapping`), honouring the architecture's
and ``--constraints``' dataspace keep/bypass constraints.  Output: Timeloop-style summary stats (table) or
the JSON document of :func:`accel.timeloop.timeloop_stats`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path


def add_parsers(sub) -> None:
    t = sub.add_parser(
        "timeloop", help="evaluate a Timeloop v0.4 design (arch, problem, mapping, ERT) in accelsim",
        description="Read Timeloop v0.4 specs (!Component/!Container/!Parallel trees or parsed-processed-input.yaml), "
                    "a CNN-layer or conv1d problem, Accelergy's ERT and optionally a Timeloop mapping; evaluate that "
                    "mapping as given (--mapping) or run accelsim's mapper.  ARCH and PROBLEM may be the same "
                    "parsed-processed-input.yaml.  Counts in --format json are per utilized instance, as in "
                    "Timeloop's stats; energies are totals.")
    t.add_argument("arch", metavar="ARCH.yaml", help="Timeloop architecture (or parsed-processed-input.yaml)")
    t.add_argument("problem", metavar="PROBLEM.yaml", help="Timeloop problem (or parsed-processed-input.yaml)")
    how = t.add_mutually_exclusive_group()
    how.add_argument("--mapping", metavar="MAP.yaml", help="evaluate this Timeloop mapping (no search)")
    how.add_argument("--constraints", metavar="C.yaml",
                     help="search under these Timeloop constraints (dataspace keep/bypass only, for now)")
    t.add_argument("--ert", metavar="ERT.yaml", help="Accelergy energy reference table (energy per action)")
    t.add_argument("--objective", choices=("latency", "energy", "edp"), default="edp", help="mapper objective")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--format", choices=("table", "json"), default="table")
    t.add_argument("--export-config", metavar="OUT.yaml", help="also write the imported accelsim accelerator config")
    t.add_argument("-o", "--output", metavar="FILE", help="write the result to FILE instead of stdout")
    t.add_argument("--force", action="store_true", help="overwrite existing output files")
    t.set_defaults(func=cmd_timeloop)


def _check_writable(path: str, option: str, force: bool) -> None:
    from accel.app.cli import UserError

    p = Path(path)
    if p.is_dir():
        raise UserError(f"{option} {path}: is a directory")
    if p.exists() and not force:
        raise UserError(f"{option} {path}: exists; rerun with --force to overwrite it")
    if not p.parent.is_dir():
        raise UserError(f"{option} {path}: the directory {p.parent} does not exist")


def write_text_atomic_local(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same directory and an atomic rename (readers see
    the old file or the whole new one).  Local helper until a shared accel.app.output exists."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def format_table(stats: dict, header: str, loop_nest: str) -> str:
    """Timeloop-style summary stats and per-level counts."""
    lines = [header, "", "Mapping (accelsim loop nest, outer -> inner)", "-" * 44, loop_nest, "",
             "Summary Stats", "-------------",
             f"Utilization: {stats['utilization'] * 100:.2f}%", f"Cycles: {stats['cycles']:.0f}",
             f"Energy: {stats['energy_uj']:.2f} uJ", "", f"Computes = {stats['computes']:.0f}", "fJ/Compute"]
    width = max(len(k) for k in stats["fj_per_compute"]) + 2
    lines += [f"    {k:<{width}}= {v:.2f}" for k, v in stats["fj_per_compute"].items()]
    lines += ["", "Accesses (per utilized instance; energy: total over instances)",
              f"    {'level':<24} {'dataspace':<10} {'reads':>14} {'fills':>14} {'updates':>14} {'energy_pj':>14}"]
    for level, spaces in stats["levels"].items():
        for ds, v in spaces.items():
            lines.append(f"    {level:<24} {ds:<10} {v['reads']:>14.0f} {v['fills']:>14.0f} {v['updates']:>14.0f} "
                         f"{v['energy_pj']:>14.2f}")
    return "\n".join(lines) + "\n"


def cmd_timeloop(args: argparse.Namespace) -> int:
    from accel.app.cli import UserError
    from accel.errors import AccelsimError

    for path, option in ((args.output, "-o"), (args.export_config, "--export-config")):
        if path:
            _check_writable(path, option, args.force)
    if args.output and args.export_config and Path(args.output).resolve() == Path(args.export_config).resolve():
        raise UserError("-o and --export-config name the same file")
    try:
        text, config = _run(args)
    except AccelsimError as e:
        raise UserError(str(e)) from None
    try:
        if args.export_config:
            import yaml

            write_text_atomic_local(args.export_config, yaml.safe_dump(config, sort_keys=False))
            print(f"wrote {args.export_config}", file=sys.stderr)
        if args.output:
            write_text_atomic_local(args.output, text)
            print(f"wrote {args.output}", file=sys.stderr)
        else:
            sys.stdout.write(text)
    except OSError as e:
        raise UserError(f"cannot write output: {e.strerror or e}") from None
    return 0


def _run(args: argparse.Namespace) -> tuple[str, dict]:
    from accel.timeloop import apply_constraints, build, timeloop_stats

    spec = build(args.arch, args.problem, args.ert, args.mapping)
    layer, arch = spec.problem.layer, spec.arch
    if args.mapping:
        from mapper.fixed import evaluate_mapping

        mapping = spec.mapping
        rec = evaluate_mapping(layer, arch, mapping)
        how = f"fixed mapping {args.mapping}"
    else:
        from mapper.search import search_mapping

        if args.constraints:
            spec = apply_constraints(spec, args.constraints)
            arch = spec.arch
        if spec.unenforced_constraints:
            print("accelsim timeloop: note: the mapper does not enforce the architecture's factor/permutation "
                  f"constraints yet: {', '.join(spec.unenforced_constraints)}", file=sys.stderr)
        res = search_mapping(layer, arch, objective=args.objective, seed=args.seed)
        mapping, rec = res.mapping, res.cost
        how = f"accelsim mapper, objective {args.objective}, seed {args.seed}"
    stats = timeloop_stats(spec, mapping, rec)
    if args.format == "json":
        return json.dumps(stats, indent=2) + "\n", spec.config
    header = f"accelsim timeloop: {args.arch} / {layer.describe()} ({how})"
    return format_table(stats, header, mapping.loop_nest(arch)), spec.config
