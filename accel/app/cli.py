"""The ``accelsim`` command.  Exit codes: 0 ok, 1 error (invalid input, no valid mapping, an output that
must not be written), 2 usage error (argparse: unknown option, bad option value), 3 internal error (a
bug), 130 interrupted.  Grammar and output rules: :mod:`accel.app.options`, :mod:`accel.app.output`.
Heavy imports happen inside the subcommands so ``accelsim --help`` is fast."""

from __future__ import annotations

from accel.errors import InputError
import argparse
import contextlib
import importlib
import sys

OBJECTIVES = ("edp", "latency", "energy")
EXTENSIONS = ("accel.app.cli_nas", "accel.app.cli_study", "accel.app.cli_xcheck", "accel.app.cli_joint",
              "accel.app.cli_timeloop", "accel.app.table", "accel.app.calibrate",
              "accel.app.warmup")
FORMATS = ("table", "csv", "json", "parquet")


class UserError(InputError):
    """Invalid input: printed as one message, exit code 1."""


def _load_arch(path: str):
    from accel.arch import ConfigError, load_arch

    try:
        return load_arch(path)
    except ConfigError as e:
        raise UserError(str(e)) from None


def _parse_input_shapes(items: list[str] | None) -> dict[str, tuple[int, ...]] | None:
    if not items:
        return None
    out = {}
    for item in items:
        name, sep, dims = item.rpartition("=")
        try:
            shape = tuple(int(d) for d in dims.lower().split("x"))
        except ValueError:
            shape = ()
        if not sep or not name or not shape or min(shape) < 1:
            raise UserError(f"--input-shape {item!r}: expected NAME=1x3x224x224")
        out[name] = shape
    return out


def _load_network(spec: str, batch: int, input_shapes=None, fuse: bool = True, allow_unsupported: bool = False,
                  prune_dead: bool = False):
    from accel.errors import WorkloadInputError
    from nas.registry import resolve_network  # zoo name, .onnx file, SPACE:ENCODING or layer:<spec>

    try:
        net = resolve_network(spec, batch, input_shapes=input_shapes, fuse=fuse, allow_unsupported=allow_unsupported,
                              prune_dead=prune_dead)
    except WorkloadInputError as e:
        raise UserError(str(e)) from None
    report = getattr(net, "import_report", None) or {}
    if report.get("unsupported"):
        names = ", ".join(f"{u['op_type']} ({u['node']})" for u in report["unsupported"])
        print(f"accelsim: warning: costed as zero (unsupported): {names}", file=sys.stderr)
    if report:
        from accel.onnx_import import format_import_report

        print(format_import_report(report), file=sys.stderr)
    return net


def _with_zoo_options(args) -> str:
    """The network string with ``--phase/--seq/--context`` appended as zoo options (``gpt2?phase=decode&context=1024``,
    the form :func:`nas.registry.resolve_network` reads); refused for networks that are not zoo names."""
    opts = [(k, getattr(args, k)) for k in ("phase", "seq", "context") if getattr(args, k) is not None]
    if not opts:
        return args.network
    from accel.errors import WorkloadInputError
    from nas.registry import parse_network_spec

    given = " ".join(f"--{k}" for k, _ in opts)
    try:
        ns = parse_network_spec(args.network)
    except WorkloadInputError as e:
        raise UserError(str(e)) from None
    if ns.kind != "zoo":
        raise UserError(f"{given}: options of the zoo's transformer networks (bert_base, vit_b_16, gpt2, "
                        f"llama2_7b_layer), not of {args.network!r}")
    return ns.ref + ("&" if "?" in ns.ref else "?") + "&".join(f"{k}={v}" for k, v in opts)


@contextlib.contextmanager
def _gc_after_setup():
    """Garbage collection for a command that imports the model and loads its inputs, then runs a mapping search
    (eval, map); yields ``setup_done``.  The collector is off until ``setup_done()``, which freezes everything
    alive then (``gc.freeze``: the modules, the config, the network, all of which live to the end of the command)
    and turns the collector back on; leaving the context unfreezes them (the command may be one call of a longer
    process).  Without it, the collections during the imports and the search's full collections over those
    objects took ~0.13 s of a fresh ``accelsim eval resnet18 --hw eyeriss`` (timed with ``gc.callbacks``; with it
    ~0.01 s)."""
    import gc

    enabled = gc.isenabled()

    def setup_done() -> None:
        gc.freeze()
        if enabled:
            gc.enable()

    gc.disable()
    try:
        yield setup_done
    finally:
        gc.unfreeze()
        if enabled:
            gc.enable()


def cmd_eval(args) -> int:
    with _gc_after_setup() as setup_done:
        return _eval(args, setup_done)


def _eval(args, setup_done) -> int:
    from accel.app.options import effort_budget
    from accel.app.report import render_result
    from mapper.mapspace import NoValidMapping
    from mapper.network import NetworkEvaluator

    if args.bitwidths and args.effort == "fast":
        raise UserError("--effort fast: not available with --bitwidths (per-layer precisions are mapped with the "
                        "thorough budget)")
    arch = _load_arch(args.hw)
    args.network = _with_zoo_options(args)
    net = _load_network(args.network, args.batch, _parse_input_shapes(args.input_shape), not args.no_fuse,
                        args.allow_unsupported, args.prune_dead)
    import os
    from concurrent.futures import ThreadPoolExecutor

    setup_done()
    try:
        if args.bitwidths:  # per-layer precisions (accelsim joint's bitwidths.json)
            from nas.joint.precision import BitwidthsError, evaluate_with_bitwidths

            try:
                res = evaluate_with_bitwidths(net, arch, args.bitwidths, objective=args.objective, seed=args.seed)
            except BitwidthsError as e:
                raise UserError(str(e)) from None
        else:
            ev = NetworkEvaluator(arch, args.objective, args.seed, effort=effort_budget(args.effort, "thorough"))
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                res = ev.network(net, executor=pool)
    except NoValidMapping as e:
        raise UserError(str(e)) from None
    res.meta["prune_dead"] = bool(args.prune_dead)
    render_result(res, args.format, args.output)
    return 0


def cmd_map(args) -> int:
    with _gc_after_setup() as setup_done:
        return _map(args, setup_done)


def _map(args, setup_done) -> int:
    import json

    from accel.app.options import effort_budget
    from accel.app.output import emit_text
    from accel.workload import WorkloadError, parse_layer_spec
    from mapper.mapspace import NoValidMapping
    from mapper.search import BUDGETS, search_mapping

    arch = _load_arch(args.hw)
    try:
        layer = parse_layer_spec(args.layer)
    except WorkloadError as e:
        raise UserError(str(e)) from None
    setup_done()
    if args.mapping:  # evaluate the given mapping as it is (no search)
        from types import SimpleNamespace

        from accel.schema import YamlError, read_yaml
        from mapper.fixed import evaluate_mapping, mapping_from_dict

        data = read_yaml(args.mapping, YamlError)
        if isinstance(data, dict) and isinstance(data.get("mapping"), dict):  # a whole `map --format json` result
            data = data["mapping"]
        mapping = mapping_from_dict(arch, data, source=args.mapping)
        res = SimpleNamespace(mapping=mapping, cost=evaluate_mapping(layer, arch, mapping), evaluations=1,
                              exhaustive=False, mapspace_size=1.0)
        searched = f"evaluated the mapping of {args.mapping} as given (no search)"
    else:
        b = BUDGETS[effort_budget(args.effort, "thorough")]
        try:
            res = search_mapping(layer, arch, objective=args.objective, seed=args.seed, samples=b.samples,
                                 rounds=b.rounds, restarts=b.restarts, exhaustive_limit=b.exhaustive_limit)
        except NoValidMapping as e:
            raise UserError(str(e)) from None
        how = "exhaustive" if res.exhaustive else "sampled + local search"
        searched = f"searched {res.evaluations:,} mappings ({how}, mapspace {res.mapspace_size:.3g})"
    c = res.cost
    from accel.app.report import hardware_lines, hardware_report
    hw = hardware_report(arch, c.energy_pj, c.latency_s)
    if args.format == "json":
        emit_text(json.dumps({
            "layer": layer.describe(), "hw": arch.name, "objective": args.objective,
            "mapping": res.mapping.to_dict(arch), "latency_cycles": c.latency_cycles, "latency_s": c.latency_s,
            "energy_pj": c.energy_pj, "utilization": c.utilization, "active_pes": c.active_pes,
            "compute_cycles": c.compute_cycles, "stall_cycles": c.stall_cycles, "fill_drain_cycles": c.fill_drain_cycles,
            "serial_onload_cycles": c.serial_onload_cycles, "energy_breakdown_pj": c.energy_breakdown_pj, "reads": c.reads, "writes": c.writes,
            "evaluations": res.evaluations, "exhaustive": res.exhaustive, "hardware": hw}, indent=1), args.output)
        return 0
    lines = [f"layer: {layer.describe()}   ({layer.macs:,} MACs)",
             f"hw: {arch.name} ({arch.summary()})",
             f"objective: {args.objective}; {searched}",
             "", res.mapping.loop_nest(arch), "",
             f"latency: {c.latency_cycles:,.0f} cycles ({c.latency_s * 1e6:.2f} µs): compute {c.compute_cycles:,.0f}, "
             f"psum accumulate {c.accumulate_cycles:,.0f}, systolic folds {c.fold_overhead_cycles:,.0f}, "
             f"fill/drain {c.fill_drain_cycles:,.0f}"
             + (f", serial onload {c.serial_onload_cycles:,.0f}" if c.serial_onload_cycles else ""),
             "stalls: " + ", ".join(f"{k} {v:,.0f}" for k, v in c.stall_cycles.items()),
             f"utilization: {c.utilization:.3f} (spatial {c.spatial_utilization:.3f}, {c.active_pes} PEs active, "
             f"padding waste {100 * (c.padded_points_ratio - 1):.1f} %)",
             f"energy: {c.energy_pj / 1e6:.3f} µJ (MAC {c.mac_energy_pj / 1e6:.3f}, NoC {c.noc_energy_pj / 1e6:.3f}, "
             f"static {c.static_energy_pj / 1e6:.3f})"]
    for lv, ops in c.energy_breakdown_pj.items():
        acc = ", ".join(f"{o} {c.reads[lv][o]:,.0f}r/{c.writes[lv][o]:,.0f}w" for o in ops)
        lines.append(f"  {lv:>6}: {sum(ops.values()) / 1e6:9.3f} µJ   {acc}")
    lines += hardware_lines(hw)
    emit_text("\n".join(lines), args.output)
    return 0


def cmd_configs(args) -> int:
    from accel.arch import ConfigError, list_configs, load_arch

    for p in list_configs():
        try:
            a = load_arch(p)
            print(f"{p.stem:<22} {a.summary()}")
        except ConfigError as e:
            print(f"{p.stem:<22} INVALID: {e.errors[0][0]}: {e.errors[0][1]}")
    return 0


ZOO_NETWORKS = ("alexnet, vgg16, resnet18, resnet50, mobilenet_v2, mobilenet_v3_large, bert_base, vit_b_16, gpt2, "
                "llama2_7b_layer")
"""Shown in ``eval --help`` (kept equal to :func:`accel.zoo.list_networks` by tests/test_cli_grammar.py)."""


def _map_format(s: str) -> str:
    return "table" if s == "text" else s  # ``--format text``: the old name of map's table output


def build_parser() -> argparse.ArgumentParser:
    from accel.app.options import (Parser, add_effort_option, add_output_options, add_prune_option, int_in, path_arg,
                                   seed_int)

    p = Parser(prog="accelsim", description="Fast analytical DNN accelerator simulator.  Exit codes: 0 ok, "
                                            "1 error (bad input, output refused), 2 usage error, 3 internal error "
                                            "(a bug: please report it), 130 interrupted.")
    p.add_argument("--debug", action="store_true", help="print the Python traceback of an internal error")
    sub = p.add_subparsers(dest="cmd", required=True, metavar="COMMAND")
    e = sub.add_parser("eval", help="map and cost a network on an accelerator",
                       description="Map every layer of NETWORK on an accelerator and report per-layer latency, "
                                   "energy and utilization.")
    e.add_argument("network", help=f"zoo name ({ZOO_NETWORKS}), an .onnx file, or a NAS architecture "
                                   "SPACE:ENCODING (e.g. nb201:|nor_conv_3x3~0|+...)")
    e.add_argument("--hw", type=path_arg, required=True, help="accelerator YAML (or a shipped config name, see accelsim configs)")
    e.add_argument("--objective", choices=OBJECTIVES, default="edp", help="per-layer mapping objective (default edp)")
    e.add_argument("--batch", type=int_in(1, 65536), default=1, help="inference batch size (default 1)")
    add_output_options(e, FORMATS, "the per-layer results")
    e.add_argument("--seed", type=seed_int, default=0, help="mapper random seed (default 0)")
    add_effort_option(e, "thorough")
    add_prune_option(e)
    e.add_argument("--input-shape", action="append", metavar="NAME=1x3x224x224",
                   help="ONNX: fix a graph input's shape (repeatable)")
    e.add_argument("--phase", choices=("prefill", "decode"),
                   help="transformers: prefill (the whole prompt, default) or decode (one token with a KV cache)")
    e.add_argument("--seq", type=int_in(1, 1 << 20), metavar="S",
                   help="transformers, prefill: prompt length in tokens (default: bert_base 128, gpt2 1024, "
                        "llama2_7b_layer 4096)")
    e.add_argument("--context", type=int_in(1, 1 << 20), metavar="L",
                   help="transformers, decode: KV-cache length L, the new token included (default: the model's "
                        "context window)")
    e.add_argument("--no-fuse", action="store_true", help="ONNX: cost BatchNorm/activations as separate layers")
    e.add_argument("--allow-unsupported", action="store_true", help="ONNX: cost unsupported operators as zero")
    e.add_argument("--bitwidths", metavar="JSON",
                   help="per-layer weight/activation bitwidths (bitwidths.json written by accelsim joint)")
    e.set_defaults(func=cmd_eval, outputs={"output": ("-o", "file")})
    m = sub.add_parser("map", help="find the best mapping of one layer",
                       description='Layer syntax: "conv N=1 K=64 C=64 P=56 Q=56 R=3 S=3 [stride=2] [dilation=1] '
                                   '[groups=g]" (op first: conv, fc, matmul, maxpool, avgpool, add, mul, relu; '
                                   'K and C are per group unless groups= is given).')
    m.add_argument("--hw", type=path_arg, required=True, help="accelerator YAML (or a shipped config name)")
    m.add_argument("--layer", required=True, help='layer spec, e.g. "conv K=64 C=64 P=56 Q=56 R=3 S=3"')
    m.add_argument("--objective", choices=OBJECTIVES, default="edp", help="mapping objective (default edp)")
    m.add_argument("--seed", type=seed_int, default=0, help="mapper random seed (default 0)")
    m.add_argument("--mapping", type=path_arg, metavar="FILE",
                   help="evaluate this mapping without searching: the JSON (or YAML) that `accelsim map --format "
                        "json` prints (whole, or its \"mapping\" object)")
    add_effort_option(m, "thorough")
    add_output_options(m, None, "the mapping and its cost")
    m.add_argument("--format", choices=("table", "json"), type=_map_format, default=None,
                   help="table (loop nest and cost; 'text' is accepted) | json (default: from -o's extension, "
                        "else table)")
    m.set_defaults(func=cmd_map, outputs={"output": ("-o", "file")}, formats=("table", "json"))
    c = sub.add_parser("configs", help="list shipped accelerator configs",
                       description="List the shipped accelerator configs (configs/*.yaml), one line each.")
    c.set_defaults(func=cmd_configs)
    # Subcommands of the other areas register themselves; each module imports only argparse at import time.
    for name in EXTENSIONS:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name != name:
                raise
            continue
        mod.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``accelsim``.  Errors accelsim raises on purpose (:class:`accel.errors.AccelsimError`) print
    ``accelsim: error: MSG`` and exit 1; Ctrl-C exits 130; anything else is a bug: ``accelsim: internal
    error — please report: TYPE: MSG``, exit 3 (traceback only with ``accelsim --debug``)."""
    from accel.errors import AccelsimError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        from accel.app.output import prepare_outputs

        prepare_outputs(args)
        return args.func(args)
    except AccelsimError as e:
        print(f"accelsim: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("accelsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001 - the catch-all of the command line
        if args.debug:
            import traceback

            traceback.print_exc()
        print(f"accelsim: internal error — please report: {type(e).__name__}: {e}"
              + ("" if args.debug else " (rerun with accelsim --debug for the traceback)"), file=sys.stderr)
        return 3


if __name__ == "__main__":
    raise SystemExit(main())
