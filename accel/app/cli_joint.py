"""``accelsim joint``: joint network × bitwidth × accelerator search (Auto-NBA) on the FBNet space.
Only argparse and the standard library are imported here; the handler imports the heavy modules.

::

    accelsim joint --space fbnet --data DIR|synthetic --sweep SPEC.yaml --epochs E --latency-weight W
                   [--energy-weight W] [--objective plain|gen-gap] [--bits 4,6,8,16] [--compare] -o run/ [--force]

``--data``: a directory with the CIFAR-10 or CIFAR-100 binary files, or ``synthetic``.  ``--sweep``:
a sweep spec (``accelsim sweep``'s format, :mod:`accel.designspace`); each of its discrete parameters is
one design dimension of the differentiable accelerator search.  What joint does with the rest of a spec
(:func:`joint_sweep`): a parameter sweeping the global ``bitwidths`` is left out (the search picks
per-layer precisions from ``--bits`` instead), with a warning; ``constraints.max_power_mw`` is applied by the
search (a penalty while searching, feasibility first when deriving); ``uniform`` parameters are refused.
Writes ``network.onnx``, ``bitwidths.json``, ``accelerator.yaml``, ``curves.png``, ``summary.json``,
``history.parquet`` and ``cost_table.parquet`` into the output directory (see :mod:`nas.joint.pipeline`),
which appears only when the run succeeds (built in a temp directory next to it, then renamed).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys

SPACES = ("fbnet",)


def add_parsers(sub) -> None:
    from accel.app.options import (float_in, jobs_int, fraction_open, int_in, nonneg_float, nonneg_int, positive_float,
                                   positive_int, seed_int)

    p = sub.add_parser("joint", help="joint network x bitwidth x accelerator search (Auto-NBA, FBNet space)",
                       description="Auto-NBA joint search of FBNet networks, per-layer bitwidths and accelerator "
                                   "designs on the accelsim cost model; writes network.onnx, bitwidths.json, "
                                   "accelerator.yaml, curves.png and summary.json into the -o directory.  "
                                   "--sweep: a sweep spec whose discrete parameters are the design dimensions "
                                   "(global-bitwidth parameters are ignored with a warning; max_power_mw applies to the searched network).")
    p.add_argument("--space", choices=SPACES, required=True, help="network search space")
    p.add_argument("--data", required=True, metavar="DIR|synthetic",
                   help="CIFAR-10/100 binary directory (data_batch_*.bin / train.bin) or 'synthetic'")
    p.add_argument("--sweep", "--hw-space", required=True, metavar="SPEC.yaml", deprecated=("--hw-space",),
                   help="accelerator design space (a sweep spec, e.g. configs/sweeps/demo.yaml)")
    p.add_argument("--epochs", type=int_in(1, 10_000), required=True, help="supernet epochs (warm-up + search)")
    p.add_argument("--latency-weight", type=nonneg_float, required=True,
                   help="weight of latency / reference latency (>= 0)")
    p.add_argument("--energy-weight", type=nonneg_float, default=0.0,
                   help="weight of energy / reference energy (>= 0, default 0)")
    p.add_argument("--objective", choices=("plain", "gen-gap"), default="plain",
                   help="supernet weight loss: cross-entropy, or CHaNAS L_train + lambda*|L_val - L_train|")
    p.add_argument("--gen-gap-lambda", type=nonneg_float, default=0.45,
                   help="lambda of the gen-gap objective (CHaNAS: 0.45)")
    p.add_argument("-o", "--output", required=True, metavar="DIR",
                   help="output directory (must not exist or be empty, unless --force replaces it)")
    p.add_argument("--force", action="store_true", help="replace an existing non-empty output directory")
    g = p.add_argument_group("search space size")
    g.add_argument("--bits", type=_bit_choices, default="4,6,8,16", help="bitwidth choices: N (weights = activations) or WxA, comma-separated")
    g.add_argument("--law", choices=("bitfusion", "none"), default="bitfusion",
                   help="PE throughput vs precision: Bit-Fusion bricks, or fixed-precision PEs")
    g.add_argument("--width-mult", type=float_in(0, 4, lo_open=True), default=1.0,
                   help="channel multiplier in (0, 4] (FBNet: 1.0)")
    g.add_argument("--max-depth", type=positive_int, default=None, help="at most this many searchable layers per stage")
    g.add_argument("--stages", type=int_in(1, 7), default=None, help="keep only the first N of FBNet's 7 stages")
    g.add_argument("--resolution", type=int_in(8, 1024), default=32, help="input resolution in pixels (images are resized)")
    t = p.add_argument_group("training")
    t.add_argument("--warmup-epochs", type=nonneg_int, default=None, help="weight-only epochs first (default epochs // 3)")
    t.add_argument("--finetune-epochs", type=nonneg_int, default=2, help="fine-tuning epochs of the derived network")
    t.add_argument("--batch-size", type=int_in(1, 65536), default=64, help="training batch size (default 64)")
    t.add_argument("--lr", type=positive_float, default=0.05, help="SGD learning rate of the weights")
    t.add_argument("--arch-lr", type=positive_float, default=0.02, help="Adam learning rate of operator/bitwidth logits")
    t.add_argument("--design-lr", type=positive_float, default=0.05, help="Adam learning rate of the design logits")
    t.add_argument("--train-samples", type=positive_int, default=None,
                   help="use at most N training images (synthetic: generate N; default 2000 synthetic, all CIFAR)")
    t.add_argument("--test-samples", type=positive_int, default=None,
                   help="use at most N test images (synthetic default 500)")
    t.add_argument("--val-fraction", type=fraction_open, default=0.2,
                   help="share of the training images used for validation, in (0, 1)")
    t.add_argument("--no-augment", action="store_true", help="no random crop / flip")
    t.add_argument("--seed", type=seed_int, default=0, help="data, search and training seed (default 0)")
    p.add_argument("--compare", action="store_true",
                   help="also evaluate the reference accelerator and the decoupled baseline (NAS, then sweep)")
    p.add_argument("--jobs", "--workers", type=jobs_int, default=None, deprecated=("--workers",),
                   help="threads for the mapping searches (default: CPU count)")
    p.add_argument("--torch-threads", type=positive_int, default=1, help="torch intra-op threads (default 1)")
    p.set_defaults(func=cmd_joint, outputs={"output": ("-o", "dir")})


def _bit_choices(text: str):
    """``--bits`` type: :func:`nas.joint.precision.parse_bit_choices`, its error as argparse's."""
    from nas.joint.precision import BitwidthsError, parse_bit_choices

    try:
        parse_bit_choices(text)
    except BitwidthsError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def joint_sweep(path: str):
    """The hardware design space of ``--sweep``: the spec's parameters that are accelerator design choices.
    A parameter setting the global ``bitwidths`` is left out (the joint search picks per-layer precisions
    from ``--bits``), with a warning; ``constraints.max_power_mw`` is applied by the search.  Other
    unsupported content (``uniform`` parameters) raises :class:`nas.joint.hwspace.HwSpaceError`."""
    from accel.designspace import SweepSpecError, load_sweep
    from nas.joint.hwspace import HwSpaceError, hw_space_from_sweep

    try:
        sw = load_sweep(path)
    except SweepSpecError as e:
        raise HwSpaceError(str(e)) from None
    spec = sw.spec
    keep = [i for i, par in enumerate(spec.parameters) if not any(q.split(".")[0] == "bitwidths" for q in par.paths)]
    for i, par in enumerate(spec.parameters):
        if i not in keep:
            print(f"accelsim: warning: {path}: parameters[{i}] ({', '.join(par.paths)}) left out: the joint search "
                  "picks per-layer bitwidths from --bits", file=sys.stderr)
    update: dict = {}
    if len(keep) != len(spec.parameters):
        update["parameters"] = [spec.parameters[i] for i in keep]
    if update:
        sw = dataclasses.replace(sw, spec=spec.model_copy(update=update), locs=[sw.locs[i] for i in keep])
    return hw_space_from_sweep(sw)


def _load_data(args):
    from nas.joint.data import load_cifar, make_synthetic

    if args.data == "synthetic":
        n = args.train_samples or 2000
        nt = args.test_samples or 500
        return make_synthetic(n, seed=1000 * (args.seed + 1)), make_synthetic(nt, seed=1000 * (args.seed + 1) + 1)
    train, test = load_cifar(args.data)
    import numpy as np

    rng = np.random.Generator(np.random.PCG64(args.seed))
    if args.train_samples and args.train_samples < len(train):
        train = train.subset(np.sort(rng.choice(len(train), args.train_samples, replace=False)))
    if args.test_samples and args.test_samples < len(test):
        test = test.subset(np.arange(args.test_samples))
    return train, test


def cmd_joint(args) -> int:
    from accel.app.cli import UserError
    from accel.app.output import atomic_directory

    if args.warmup_epochs is not None and args.warmup_epochs >= args.epochs:
        raise UserError(f"--warmup-epochs must be less than --epochs ({args.epochs}), got {args.warmup_epochs}")
    try:
        import torch
    except ImportError:
        raise UserError("accelsim joint needs torch (pip install torch==2.13.0)") from None
    from concurrent.futures import ThreadPoolExecutor

    from mapper.mapspace import NoValidMapping
    from nas.joint.data import DataError, split_train_val
    from nas.joint.hwspace import HwSpaceError
    from nas.joint.pipeline import run_joint
    from nas.joint.precision import BitwidthsError, PrecisionLaw, parse_bit_choices
    from nas.joint.search import JointConfig
    from nas.joint.space import FBNetSpace

    torch.set_num_threads(args.torch_threads)
    try:
        bits = parse_bit_choices(args.bits)
        hw = joint_sweep(args.sweep)
        train_all, test = _load_data(args)
        train, val = split_train_val(train_all, args.val_fraction, args.seed)
        space = FBNetSpace.cifar(width_mult=args.width_mult, max_depth=args.max_depth, num_stages=args.stages,
                           resolution=args.resolution, num_classes=train_all.num_classes)
        config = JointConfig(epochs=args.epochs, warmup_epochs=args.warmup_epochs, finetune_epochs=args.finetune_epochs,
                             batch_size=args.batch_size, lr=args.lr, arch_lr=args.arch_lr, design_lr=args.design_lr,
                             latency_weight=args.latency_weight, energy_weight=args.energy_weight,
                             objective=args.objective, gen_gap_lambda=args.gen_gap_lambda, augment=not args.no_augment,
                             seed=args.seed)
    except (BitwidthsError, HwSpaceError, DataError) as e:
        raise UserError(str(e)) from None
    except ValueError as e:
        raise UserError(f"invalid setting: {e}") from None
    print(f"accelsim joint: {space.describe()}; {hw.n_designs} accelerator design(s) from {hw.source} "
          f"({hw.dropped} dropped); bits {args.bits}; data {train.name} {len(train)}/{len(val)}/{len(test)} "
          "train/val/test", file=sys.stderr)

    def progress(msg: str, done: int, total: int) -> None:
        print(f"  {msg}", file=sys.stderr, flush=True)

    workers = args.jobs or os.cpu_count() or 1
    try:
        with atomic_directory(args.output, args.force) as tmp_dir, ThreadPoolExecutor(workers) as pool:
            summary = run_joint(tmp_dir, space, train, val, test, hw, config, bits, PrecisionLaw(args.law),
                                compare=args.compare, executor=pool, progress=progress)
    except (BitwidthsError, NoValidMapping) as e:
        raise UserError(str(e)) from None
    s = summary
    print(f"derived: accuracy {s['accuracy']:.4f}, latency {s['latency_ms']:.4f} ms, energy {s['energy_mj']:.5f} mJ, "
          f"EDP {s['edp']:.4g} pJ*s on design {s['accelerator']['design']} ({s['accelerator']['label']})")
    for name, b in s.get("baselines", {}).items():
        print(f"{name}: accuracy {b['accuracy']:.4f}, latency {b['latency_ms']:.4f} ms, energy {b['energy_mj']:.5f} mJ, "
              f"EDP {b['edp']:.4g} pJ*s")
    print(f"wrote {args.output}/ (network.onnx, bitwidths.json, accelerator.yaml, curves.png, summary.json) "
          f"in {s['wall_s']:.1f} s", file=sys.stderr)
    return 0
