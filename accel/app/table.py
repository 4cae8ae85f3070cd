"""``accelsim table``: the hardware cost of every architecture of a search space (or of a sample), as one tidy
table — the HW-NAS-Bench-style table that studies build on.

``accelsim table SPACE --hw CONFIG [--sample N --seed S] [--batch B] [--prune-dead] [--effort E] -o FILE
[--force]``.  One row per architecture: ``arch`` (the space's canonical encoding; a valid ``SPACE:ENCODING``
network string after the space name), ``index`` (NAS-Bench-201 official index; other spaces: the row's draw
order), ``macs``, ``params`` (conv + fc weights), ``latency_cycles``, ``latency_s``, ``energy_pj`` (NaN where
the device model gives no energy) and ``edp_pj_s`` (energy × latency).  Metadata (hw name and digest, space,
dataset, batch, prune_dead, sample, seed, objective, effort, accelsim version) in ``df.attrs`` and in the
Parquet file's metadata.  Parquet by default, CSV or JSON records by ``-o``'s extension; written atomically,
an existing file only with ``--force``.

How rows are costed — the same numbers as ``accelsim eval`` on each network, only faster:

* NAS-Bench-201 (``nb201``, ``nb201_cifar100``, ``nb201_imagenet16``; finite: all 15,625 cells without
  ``--sample``): :func:`nas.hwcost.nb201_hwcost` maps the ~21 unique layer shapes once and sums every arch's
  network with one matrix product.
* Other spaces (``darts``, ``fbnet``, ``mbconv``, ``mbconv_cifar``: too large to enumerate, so ``--sample`` is
  required): each sampled arch's network is built (:func:`nas.registry.space_network`), the unique layer
  shapes of all of them are mapped once, concurrently on the executor, and each network is summed
  (:meth:`mapper.network.NetworkEvaluator.network`).

Samples come from :func:`nas.registry.sample_architectures` (the one ``--sample N --seed S`` sampler); NB201
rows are in official index order, other spaces' in draw order.  ``--prune-dead``: see
:mod:`nas.registry` (dead NB201 cell edges; default: costed, as frameworks execute them).
"""

from __future__ import annotations

import math
import sys
from concurrent.futures import Executor
from typing import Callable

Progress = Callable[[int, int], None]

COLUMNS = ("arch", "index", "macs", "params", "latency_cycles", "latency_s", "energy_pj", "edp_pj_s")
"""The table's columns, in order."""


def _nan_if_none(v) -> float:
    return math.nan if v is None else float(v)


def cost_table(space, hw, *, sample: int | None = None, seed: int = 0, batch: int = 1, prune_dead: bool = False,
               objective: str = "edp", effort: str = "thorough", mapping_seed: int = 0,
               executor: Executor | None = None, progress: Progress | None = None):
    """The cost table of ``space`` (a registered name / alias or a space object) on ``hw`` (an
    :class:`accel.arch.Arch` or config path); see the module docstring for rows, columns and metadata.

    ``sample``: that many distinct archs (``seed``: the sampler's seed); None: every arch of a finite space
    (other spaces raise :class:`~nas.registry.SpecError`).  ``objective`` / ``effort`` / ``mapping_seed``: the
    mapper's per-layer objective, budget (:data:`mapper.search.BUDGETS`) and seed.  ``executor``: threads
    mapping unique layer shapes concurrently (the numba kernels release the GIL); None: serially.
    ``progress(done, total)``: after each unique layer shape is mapped.  A layer shape that cannot be mapped
    raises :class:`mapper.mapspace.NoValidMapping` naming it."""
    import numpy as np
    import pandas as pd

    from accel._version import __version__
    from accel.arch import Arch, load_arch
    from accel.app.sweep import _weight_count, nb201_params
    from mapper.network import NetworkEvaluator
    from nas import nb201
    from nas.registry import SpecError, get_space, sample_architectures, space_network

    sp = get_space(space) if isinstance(space, str) else space
    arch = hw if isinstance(hw, Arch) else load_arch(hw)
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise SpecError(f"batch must be an integer >= 1, got {batch!r}")
    if sample is None and not sp.finite:
        raise SpecError(f"the {sp.name} space holds {sp.size:.3g} archs, too many to enumerate: give a sample size "
                        "(--sample N [--seed S])")
    archs = sp.enumerate() if sample is None else sample_architectures(sp, sample, seed)
    ev = NetworkEvaluator(arch, objective=objective, seed=mapping_seed, parallel=False, effort=effort)

    def map_all(layers) -> int:
        """Map every unique layer shape once (the evaluator caches by shape), concurrently on ``executor``."""
        todo = list({la.shape_key(): la for la in layers}.values())
        results = executor.map(ev.layer, todo) if executor is not None else map(ev.layer, todo)
        for i, _ in enumerate(results, start=1):
            if progress:
                progress(i, len(todo))
        return len(todo)

    is_nb201 = isinstance(sp, nb201.NB201Space) and len(getattr(sp, "ops", nb201.OPS)) == nb201.N_OPS
    if is_nb201:
        from nas.hwcost import cost_structure, nb201_hwcost

        dataset = getattr(sp, "dataset", "cifar10")
        st = cost_structure(dataset, int(batch), bool(prune_dead))
        map_all(st.layers)
        idx = np.sort(np.array([nb201.arch_to_index(a) for a in archs], dtype=np.int64))
        hw_df = nb201_hwcost(evaluator=ev, archs=idx, dataset=dataset, batch=int(batch), prune=bool(prune_dead))
        df = pd.DataFrame({
            "arch": hw_df["arch"].to_numpy(dtype=object), "index": idx,
            "macs": hw_df["macs"].to_numpy(dtype=np.int64),
            "params": nb201_params(idx, int(batch), dataset, bool(prune_dead)).astype(np.int64),
            "latency_cycles": hw_df["latency_cycles"].to_numpy(dtype=float),
            "latency_s": hw_df["latency_s"].to_numpy(dtype=float),
            "energy_pj": hw_df["energy_pj"].to_numpy(dtype=float),
        })
        shapes = int(hw_df.attrs["unique_layer_shapes"])
    else:
        dataset = getattr(sp, "dataset", None)
        nets = [space_network(sp, a, int(batch), prune_dead) for a in archs]
        shapes = map_all(la for net in nets for la in net.layers)
        rows = []
        for a, net in zip(archs, nets):
            res = ev.network(net)
            rows.append({"arch": sp.encode(a), "macs": int(res.macs), "params": int(_weight_count(net)),
                         "latency_cycles": _nan_if_none(res.latency_cycles), "latency_s": float(res.latency_s),
                         "energy_pj": _nan_if_none(res.energy_pj)})
        df = pd.DataFrame(rows, columns=[c for c in COLUMNS if c not in ("index", "edp_pj_s")])
        df.insert(1, "index", np.arange(len(df), dtype=np.int64))
    df["edp_pj_s"] = df["energy_pj"] * df["latency_s"]
    df = df[list(COLUMNS)]
    df.attrs.update({
        "hw": arch.name, "hw_digest": arch.digest(), "space": sp.name, "dataset": dataset, "batch": int(batch),
        "prune_dead": bool(prune_dead), "sample": None if sample is None else int(sample),
        "seed": int(seed) if sample is not None else None, "objective": objective, "effort": effort,
        "mapping_seed": int(mapping_seed), "n_archs": len(df), "unique_layer_shapes": int(shapes),
        "accelsim_version": __version__,
    })
    return df


# ---------------------------------------------------------------------------------------------
# accelsim table
# ---------------------------------------------------------------------------------------------
def cmd_table(args) -> int:
    import time
    from concurrent.futures import ThreadPoolExecutor

    from accel.app.cli import UserError, _load_arch
    from accel.app.options import effort_budget
    from accel.app.output import report_written, write_frame
    from accel.errors import WorkloadInputError

    if args.seed is not None and args.sample is None:
        raise UserError("--seed chooses the sample: give --sample N too")
    arch = _load_arch(args.hw)
    progress = None
    if not args.quiet:
        from accel.app.cli_study import ProgressBar

        progress = ProgressBar("table", "layer shapes")
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        with ThreadPoolExecutor(args.jobs) as pool:
            df = cost_table(args.space, arch, sample=args.sample, seed=args.seed or 0, batch=args.batch,
                            prune_dead=args.prune_dead, objective=args.objective,
                            effort=effort_budget(args.effort, "thorough"), mapping_seed=args.mapping_seed,
                            executor=pool if args.jobs > 1 else None, progress=progress)
    except WorkloadInputError as e:
        raise UserError(str(e)) from None
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    write_frame(df, args.output, args.format)
    report_written(args.output)
    if not args.quiet:
        print(f"table: {len(df):,} archs of {df.attrs['space']} on {df.attrs['hw']}, {df.attrs['unique_layer_shapes']} "
              f"unique layer shapes; {wall:.1f} s wall, {cpu:.1f} s CPU", file=sys.stderr)
    return 0


def add_parsers(sub) -> None:
    """Register ``accelsim table`` (an entry of :data:`accel.app.cli.EXTENSIONS`)."""
    from accel.app.options import (add_effort_option, add_output_options, add_prune_option, int_in, jobs_int,
                                   path_arg, positive_int, seed_int)

    t = sub.add_parser("table", help="cost of every architecture of a space (or a sample) as one tidy table",
                       description="One row per architecture of SPACE on --hw: arch, index, macs, params, "
                                   "latency_cycles, latency_s, energy_pj (NaN where the device model has no energy), "
                                   "edp_pj_s; metadata in the Parquet file.  NAS-Bench-201 spaces are finite (all "
                                   "15,625 cells without --sample); darts, fbnet, mbconv and mbconv_cifar need "
                                   "--sample N.")
    t.add_argument("space", help="search space: nb201 (nb201_cifar100, nb201_imagenet16), darts (nb301), fbnet, "
                                 "mbconv (ofa, chanas), mbconv_cifar")
    t.add_argument("--hw", type=path_arg, required=True, help="hardware config YAML (or a shipped config name)")
    t.add_argument("--sample", type=positive_int, default=None,
                   help="cost N distinct archs drawn uniformly (required for spaces that cannot be enumerated)")
    t.add_argument("--seed", type=seed_int, default=None, help="sampling seed for --sample (default 0)")
    t.add_argument("--batch", type=int_in(1, 65536), default=1, help="inference batch size (default 1)")
    add_prune_option(t)
    t.add_argument("--objective", choices=("edp", "latency", "energy"), default="edp",
                   help="per-layer mapping objective (default edp)")
    t.add_argument("--mapping-seed", type=seed_int, default=0, help="mapper random seed (default 0)")
    add_effort_option(t, "thorough")
    t.add_argument("--jobs", type=jobs_int, default=1, help="threads mapping unique layer shapes (default 1)")
    t.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")
    add_output_options(t, ("parquet", "csv", "json"), "the table", required=True, default_format="parquet")
    t.set_defaults(func=cmd_table, outputs={"output": ("-o", "file")})
