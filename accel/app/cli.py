"""The ``accelsim`` command.  Exit codes: 0 ok, 1 invalid input (bad config, unknown network, no valid
mapping), 2 usage error.  Heavy imports happen inside the subcommands so ``accelsim --help`` is fast."""

from __future__ import annotations

from accel.errors import InputError
import argparse
import importlib
import sys
from pathlib import Path

OBJECTIVES = ("edp", "latency", "energy")
EXTENSIONS = ("accel.app.cli_nas", "accel.app.cli_study", "accel.app.cli_xcheck", "accel.app.cli_joint",
              "accel.app.cli_timeloop")
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


def _load_network(spec: str, batch: int, input_shapes=None, fuse: bool = True, allow_unsupported: bool = False):
    from accel.workload import WorkloadError
    from accel.zoo import get_network

    p = Path(spec)
    space, sep, encoding = spec.partition(":")
    if sep and not p.exists() and space.isidentifier():
        from nas.registry import network_from_spec  # SPACE:ENCODING, e.g. nb201:|nor_conv_3x3~0|+...

        try:
            return network_from_spec(spec, batch=batch)
        except (WorkloadError, ValueError, KeyError) as e:
            raise UserError(f"{spec}: {e}") from None
    if p.suffix.lower() == ".onnx" or p.exists():
        try:
            from accel.onnx_import import load_onnx_network  # noqa: PLC0415
        except ImportError:
            raise UserError(f"{spec}: ONNX import needs the 'onnx' extra (pip install 'accelsim[onnx]')") from None
        try:
            net = load_onnx_network(str(p), batch=batch, input_shapes=input_shapes, fuse=fuse,
                                    allow_unsupported=allow_unsupported)
        except WorkloadError as e:
            raise UserError(str(e)) from None
        report = getattr(net, "import_report", None) or {}
        if report.get("unsupported"):
            names = ", ".join(f"{u['op_type']} ({u['node']})" for u in report["unsupported"])
            print(f"accelsim: warning: costed as zero (unsupported): {names}", file=sys.stderr)
        if report:
            from accel.onnx_import import format_import_report

            print(format_import_report(report), file=sys.stderr)
        return net
    try:
        return get_network(spec, batch=batch)
    except WorkloadError as e:
        raise UserError(f"{e} (or pass an .onnx file)") from None


def cmd_eval(args) -> int:
    from mapper.network import evaluate_network
    from accel.app.report import write_result
    from mapper.mapspace import NoValidMapping

    if args.batch < 1:
        raise UserError("--batch must be >= 1")
    if args.format == "parquet" and not args.output:
        raise UserError("--format parquet needs -o FILE")
    arch = _load_arch(args.hw)
    net = _load_network(args.network, args.batch, _parse_input_shapes(args.input_shape), not args.no_fuse,
                        args.allow_unsupported)
    import os
    from concurrent.futures import ThreadPoolExecutor

    try:
        if args.bitwidths:  # per-layer precisions (accelsim joint's bitwidths.json)
            from nas.joint.precision import BitwidthsError, evaluate_with_bitwidths

            try:
                res = evaluate_with_bitwidths(net, arch, args.bitwidths, objective=args.objective, seed=args.seed)
            except BitwidthsError as e:
                raise UserError(str(e)) from None
        else:
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                res = evaluate_network(net, arch, objective=args.objective, seed=args.seed, executor=pool)
    except NoValidMapping as e:
        raise UserError(str(e)) from None
    text = write_result(res, args.format, args.output)
    if text is not None:
        print(text)
    elif args.output:
        print(f"wrote {args.output}", file=sys.stderr)
    return 0


def cmd_map(args) -> int:
    import json

    from accel.workload import WorkloadError, parse_layer_spec
    from mapper.mapspace import NoValidMapping
    from mapper.search import search_mapping

    arch = _load_arch(args.hw)
    try:
        layer = parse_layer_spec(args.layer)
    except WorkloadError as e:
        raise UserError(str(e)) from None
    try:
        res = search_mapping(layer, arch, objective=args.objective, seed=args.seed)
    except NoValidMapping as e:
        raise UserError(str(e)) from None
    c = res.cost
    if args.format == "json":
        print(json.dumps({
            "layer": layer.describe(), "hw": arch.name, "objective": args.objective,
            "mapping": res.mapping.to_dict(arch), "latency_cycles": c.latency_cycles, "latency_s": c.latency_s,
            "energy_pj": c.energy_pj, "utilization": c.utilization, "active_pes": c.active_pes,
            "compute_cycles": c.compute_cycles, "stall_cycles": c.stall_cycles, "fill_drain_cycles": c.fill_drain_cycles,
            "energy_breakdown_pj": c.energy_breakdown_pj, "reads": c.reads, "writes": c.writes,
            "evaluations": res.evaluations, "exhaustive": res.exhaustive}, indent=1))
        return 0
    print(f"layer: {layer.describe()}   ({layer.macs:,} MACs)")
    print(f"hw: {arch.name} ({arch.summary()})")
    print(f"objective: {args.objective}; searched {res.evaluations:,} mappings "
          f"({'exhaustive' if res.exhaustive else 'sampled + local search'}, mapspace {res.mapspace_size:.3g})")
    print()
    print(res.mapping.loop_nest(arch))
    print()
    print(f"latency: {c.latency_cycles:,.0f} cycles ({c.latency_s * 1e6:.2f} µs): compute {c.compute_cycles:,.0f}, "
          f"psum accumulate {c.accumulate_cycles:,.0f}, systolic folds {c.fold_overhead_cycles:,.0f}, "
          f"fill/drain {c.fill_drain_cycles:,.0f}")
    print("stalls: " + ", ".join(f"{k} {v:,.0f}" for k, v in c.stall_cycles.items()))
    print(f"utilization: {c.utilization:.3f} (spatial {c.spatial_utilization:.3f}, {c.active_pes} PEs active, "
          f"padding waste {100 * (c.padded_points_ratio - 1):.1f} %)")
    print(f"energy: {c.energy_pj / 1e6:.3f} µJ (MAC {c.mac_energy_pj / 1e6:.3f}, NoC {c.noc_energy_pj / 1e6:.3f}, "
          f"static {c.static_energy_pj / 1e6:.3f})")
    for lv, ops in c.energy_breakdown_pj.items():
        acc = ", ".join(f"{o} {c.reads[lv][o]:,.0f}r/{c.writes[lv][o]:,.0f}w" for o in ops)
        print(f"  {lv:>6}: {sum(ops.values()) / 1e6:9.3f} µJ   {acc}")
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="accelsim", description="Fast analytical DNN accelerator simulator.")
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("eval", help="map and cost a network on an accelerator")
    e.add_argument("network", help="zoo name (accelsim eval --list) or an .onnx file")
    e.add_argument("--hw", required=True, help="accelerator YAML (or a shipped config name)")
    e.add_argument("--objective", choices=OBJECTIVES, default="edp")
    e.add_argument("--batch", type=int, default=1)
    e.add_argument("--format", choices=FORMATS, default="table")
    e.add_argument("-o", "--output", help="write to FILE instead of stdout")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--input-shape", action="append", metavar="NAME=1x3x224x224",
                   help="ONNX: fix a graph input's shape (repeatable)")
    e.add_argument("--no-fuse", action="store_true", help="ONNX: cost BatchNorm/activations as separate layers")
    e.add_argument("--allow-unsupported", action="store_true", help="ONNX: cost unsupported operators as zero")
    e.add_argument("--bitwidths", metavar="JSON",
                   help="per-layer weight/activation bitwidths (bitwidths.json written by accelsim joint)")
    e.set_defaults(func=cmd_eval)
    m = sub.add_parser("map", help="find the best mapping of one layer",
                       description='Layer syntax: "conv N=1 K=64 C=64 P=56 Q=56 R=3 S=3 [stride=2] [dilation=1] '
                                   '[groups=g]" (op first: conv, fc, matmul, maxpool, avgpool, add, mul, relu; '
                                   'K and C are per group unless groups= is given).')
    m.add_argument("--hw", required=True)
    m.add_argument("--layer", required=True)
    m.add_argument("--objective", choices=OBJECTIVES, default="edp")
    m.add_argument("--format", choices=("text", "json"), default="text")
    m.add_argument("--seed", type=int, default=0)
    m.set_defaults(func=cmd_map)
    c = sub.add_parser("configs", help="list shipped accelerator configs")
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
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserError as e:
        print(f"accelsim: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
