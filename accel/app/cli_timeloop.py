"""``accelsim timeloop``: evaluate a Timeloop v0.4 design (architecture, problem, mapping, ERT) in accelsim.

With ``--mapping`` the given Timeloop mapping is evaluated as it is (:func:`mapper.fixed.evaluate_mapping`);
otherwise accelsim's mapper searches (:func:`mapper.search.search_mapping`) under the architecture's and
``--constraints``' constraints (keep/bypass, temporal and spatial factors, permutations, splits).
Output: Timeloop-style summary stats (table) or the JSON document of :func:`accel.timeloop.timeloop_stats`.
"""

from __future__ import annotations

import argparse
import json


def add_parsers(sub) -> None:
    from accel.app.options import add_output_options, seed_int

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
                     help="search under these Timeloop mapspace constraints (temporal/spatial factors, permutations, "
                          "split, keep/bypass), on top of the architecture's own")
    t.add_argument("--ert", metavar="ERT.yaml", help="Accelergy energy reference table (energy per action)")
    t.add_argument("--objective", choices=("latency", "energy", "edp"), default="edp", help="mapper objective")
    t.add_argument("--seed", type=seed_int, default=0, help="mapper seed")
    t.add_argument("--export-config", metavar="OUT.yaml", help="also write the imported accelsim accelerator config")
    add_output_options(t, ("table", "json"), "the result")
    t.set_defaults(func=cmd_timeloop, outputs={"output": ("-o", "file"), "export_config": ("--export-config", "file")})


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
    """Outputs were checked before any work (accel.app.output.prepare_outputs); written atomically after."""
    from accel.app.output import emit_text, report_written, write_text

    text, config = _run(args)
    if args.export_config:
        import yaml

        write_text(args.export_config, yaml.safe_dump(config, sort_keys=False))
        report_written(args.export_config)
    emit_text(text, args.output)
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
        res = search_mapping(layer, arch, objective=args.objective, seed=args.seed)
        mapping, rec = res.mapping, res.cost
        how = f"accelsim mapper, objective {args.objective}, seed {args.seed}"
    stats = timeloop_stats(spec, mapping, rec)
    if args.format == "json":
        return json.dumps(stats, indent=2) + "\n", spec.config
    header = f"accelsim timeloop: {args.arch} / {layer.describe()} ({how})"
    return format_table(stats, header, mapping.loop_nest(arch)), spec.config
