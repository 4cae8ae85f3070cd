"""Hardware cost of many NAS-Bench-201 networks on one accelerator, fast.

Every NB201 network is the same macro skeleton plus 15 copies of one cell, and every costed layer of a
cell at a given stage has one of four shapes (conv 1×1, conv 3×3, avg pool 3×3, add; see
:func:`nas.nb201.cell_signature`).  So the multiset of layer shapes of *any* arch is

    counts(arch) = skeleton + n_conv1x1·u_1x1 + n_conv3x3·u_3x3 + n_pool·u_pool + n_add·u_add

(zero for the cells whose output is a constant under ``prune``: their networks have no layers, see
:func:`nas.nb201.build_network`), where the five count vectors over the unique layer shapes are read off five
networks built with
:func:`nas.nb201.build_network` (so they cannot drift from it).  :func:`nb201_hwcost` maps each unique
shape once with :meth:`mapper.network.NetworkEvaluator.layer` (≈21 shapes for CIFAR), then computes
every arch's totals as one matrix product ``(archs × 5) @ (5 × shapes) @ (shapes × metrics)``.

Totals equal :func:`mapper.network.evaluate_network` on the same network (layers run one after another:
latency and energy add up, plus a processor runtime's per-call cost once; EDP = total energy × total latency), up
to float summation order.
"""

from __future__ import annotations

import functools
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from accel.arch import Arch as HwArch
from accel.arch import load_arch
from accel.workload import Layer
from nas import nb201

__all__ = ["NB201CostStructure", "cost_structure", "nb201_hwcost", "signatures"]

# The skeleton (a cell with signature 0 and a live input→output path: a skip from input to output, so it also has
# layers under ``prune``), then cells whose effective signature is a unit vector (1, 0, 0, 0) ... (0, 0, 0, 1):
# conv1x1, conv3x3, pool, add.
_BASIS_CELLS: tuple[str, ...] = (
    "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
    "|nor_conv_1x1~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|",
    "|nor_conv_3x3~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|",
    "|avg_pool_3x3~0|+|none~0|none~1|+|none~0|skip_connect~1|none~2|",
    "|skip_connect~0|+|none~0|none~1|+|skip_connect~0|skip_connect~1|none~2|",
)
_KINDS = ("skeleton", "conv1x1", "conv3x3", "avgpool3x3", "add")


@functools.cache
def _signatures_by_code(prune: bool) -> np.ndarray:
    """(15625, 4) int64 cell signatures indexed by code; vectorised :func:`nb201.effective_edges`."""
    digits = np.array([[nb201.OP_INDEX[o] for o in a] for a in nb201._CODE_ARCHS], dtype=np.int64)
    live = digits != 0  # columns: e01, e02, e12, e03, e13, e23
    if prune:
        e01, e02, e12, e03, e13, e23 = (live[:, k] for k in range(6))
        f1 = e01
        f2 = e02 | (f1 & e12)
        b2 = e23
        b1 = e13 | (e12 & b2)
        fwd = [np.ones_like(f1), f1, f2]
        bwd = {1: b1, 2: b2, 3: np.ones_like(b1)}
        eff = np.stack([live[:, k] & fwd[i] & bwd[j] for k, (i, j) in enumerate(nb201.EDGES)], axis=1)
    else:
        eff = live
    sig = np.zeros((nb201.N_ARCHS, 4), dtype=np.int64)
    sig[:, 0] = (eff & (digits == 2)).sum(1)
    sig[:, 1] = (eff & (digits == 3)).sum(1)
    sig[:, 2] = (eff & (digits == 4)).sum(1)
    indeg = np.stack([eff[:, [k for k, (_, j) in enumerate(nb201.EDGES) if j == d]].sum(1) for d in (1, 2, 3)], 1)
    sig[:, 3] = np.clip(indeg - 1, 0, None).sum(1)
    sig.setflags(write=False)
    return sig


@functools.cache
def _constant_by_code(prune: bool) -> np.ndarray:
    """(15625,) bool by code: with ``prune``, the cells with no live input→output path, whose networks have no
    layers (:func:`nas.nb201.output_is_constant`); all False without ``prune``."""
    if not prune:
        out = np.zeros(nb201.N_ARCHS, dtype=bool)
    else:
        out = np.array([nb201.output_is_constant(a) for a in nb201._CODE_ARCHS], dtype=bool)
    out.setflags(write=False)
    return out


def signatures(indices: Iterable[int] | None = None, prune: bool = False) -> np.ndarray:
    """Cell signatures (#conv1x1, #conv3x3, #pool, #add) by official index (all archs if None); ``prune``:
    dead cell edges removed (:mod:`nas.nb201` module docstring; default False: every non-``none`` edge)."""
    idx = np.arange(nb201.N_ARCHS) if indices is None else np.asarray(list(indices), dtype=np.int64)
    return _signatures_by_code(prune)[nb201.codes_of_indices(idx)]


class NB201CostStructure:
    """Unique layer shapes of a dataset/batch and the (5 × shapes) count basis (see module docstring)."""

    def __init__(self, dataset: str = "cifar10", batch: int = 1, prune: bool = False):
        self.dataset = nb201.canonical_dataset(dataset)
        self.batch = batch
        self.prune = prune
        counters: list[Counter] = []
        reps: dict[tuple, Layer] = {}
        macs: list[int] = []
        for cell in _BASIS_CELLS:
            net = nb201.build_network(cell, self.dataset, batch, prune=prune)
            c: Counter = Counter()
            for layer in net.layers:
                k = layer.shape_key()
                c[k] += 1
                reps.setdefault(k, layer)
            counters.append(c)
            macs.append(net.macs)
        if nb201.output_is_constant(_BASIS_CELLS[0]):  # pragma: no cover - guards the basis table above
            raise AssertionError(f"skeleton cell {_BASIS_CELLS[0]} has no live path")
        for cell, want in zip(_BASIS_CELLS, np.eye(5, dtype=np.int64)[:, 1:]):
            got = nb201.cell_signature(cell, prune)
            if tuple(got) != tuple(want):  # pragma: no cover - guards the basis table above
                raise AssertionError(f"basis cell {cell} has signature {got}")
        self.keys: list[tuple] = list(reps)
        self.layers: list[Layer] = [reps[k] for k in self.keys]
        col = {k: i for i, k in enumerate(self.keys)}
        B = np.zeros((5, len(self.keys)), dtype=np.int64)
        for k, n in counters[0].items():
            B[0, col[k]] = n
        for r in range(1, 5):
            for k in set(counters[r]) | set(counters[0]):
                d = counters[r][k] - counters[0][k]
                if d < 0:  # pragma: no cover
                    raise AssertionError("a basis cell removed skeleton layers")
                B[r, col[k]] = d
        self.basis = B
        self.layer_macs = np.array([layer.macs for layer in self.layers], dtype=np.int64)

    @property
    def n_shapes(self) -> int:
        return len(self.keys)

    def design(self, indices: np.ndarray) -> np.ndarray:
        """(n, 5) rows [1, n_conv1x1, n_conv3x3, n_pool, n_add] of the given official indices; all zero for a
        cell whose output is constant under ``prune`` (its network has no layers, :func:`nas.nb201.build_network`)."""
        sig = signatures(indices, self.prune)
        d = np.concatenate([np.ones((len(sig), 1), dtype=np.int64), sig], axis=1)
        idx = np.arange(nb201.N_ARCHS) if indices is None else np.asarray(indices, dtype=np.int64)
        d[_constant_by_code(self.prune)[nb201.codes_of_indices(idx)]] = 0
        return d

    def counts(self, indices: np.ndarray) -> np.ndarray:
        """(n, shapes) layer-shape counts of each arch's network."""
        return self.design(indices) @ self.basis


@functools.lru_cache(maxsize=32)
def cost_structure(dataset: str = "cifar10", batch: int = 1, prune: bool = False) -> NB201CostStructure:
    """Cached :class:`NB201CostStructure` (arch-independent: depends only on dataset, batch, prune)."""
    return NB201CostStructure(dataset, batch, prune)


def _evaluator(hw, objective: str, seed: int, evaluator):
    from mapper.network import NetworkEvaluator

    if evaluator is not None:
        return evaluator
    arch = hw if isinstance(hw, HwArch) else load_arch(hw)
    return NetworkEvaluator(arch, objective=objective, seed=seed, parallel=False)


def _collect(results, total: int, progress) -> list:
    out = []
    for r in results:
        out.append(r)
        if progress:
            progress(len(out), total)
    return out


def nb201_hwcost(hw: HwArch | str | Path | None = None, archs: Iterable[nb201.ArchLike] | None = None,
                 dataset: str = "cifar10", batch: int = 1, objective: str = "edp", seed: int = 0,
                 evaluator=None, workers: int | None = None, prune: bool = False,
                 progress=None) -> pd.DataFrame:
    """Latency / energy / EDP / MACs of NAS-Bench-201 archs on one accelerator.

    ``hw``: an :class:`accel.arch.Arch` or a config path (ignored when ``evaluator`` is given).
    ``archs``: archs (tuples, strings or official indices); all 15,625 when None, in official order.
    ``evaluator``: a :class:`mapper.network.NetworkEvaluator` to reuse (its mapping cache carries over
    between calls); by default a fresh one mapping each unique layer shape once for ``objective``.
    ``prune``: cost cells with their dead edges removed (``--prune-dead``; :mod:`nas.nb201` module docstring);
    default False: every non-``none`` edge is costed, as eager frameworks execute them.
    ``progress(done, total)``: called after each unique layer shape is mapped.
    ``workers``: threads mapping unique shapes concurrently (numba kernels release the GIL; a fresh
    evaluator uses the serial kernels so threads do not nest).  Default: CPU count.  Results do not
    depend on it: each shape's mapping search is seeded independently.

    Returns one row per arch: ``index, arch, latency_cycles, latency_s, energy_pj, edp (pJ·s), macs``;
    ``df.attrs`` holds hw name and digest, dataset, batch, objective, seed, prune_dead, unique_layer_shapes,
    mapping_s and sum_s (wall time of the two phases).
    """
    import os

    from accel._version import __version__

    if evaluator is None and hw is None:
        raise ValueError("nb201_hwcost: give hw (Arch or config path) or an evaluator")
    t0 = time.perf_counter()
    ev = _evaluator(hw, objective, seed, evaluator)
    st = cost_structure(dataset, batch, prune)
    if archs is None:
        idx = np.arange(nb201.N_ARCHS, dtype=np.int64)
    else:
        idx = np.array([nb201.arch_to_index(a) for a in archs], dtype=np.int64)

    cache = getattr(ev, "_cache", {})
    todo = [layer for layer in st.layers if layer.shape_key() not in cache]
    nworkers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    if nworkers > 1 and not ev.parallel:
        with ThreadPoolExecutor(nworkers) as pool:
            results = _collect(pool.map(ev.layer, st.layers), len(st.layers), progress)
    else:
        results = _collect(map(ev.layer, st.layers), len(st.layers), progress)
    per_shape = np.array([[r.cost.latency_cycles, r.cost.latency_s, r.cost.energy_pj] for r in results])
    t1 = time.perf_counter()

    design = st.design(idx).astype(np.float64)  # (n, 5)
    basis = st.basis.astype(np.float64)  # (5, U)
    tot = design @ (basis @ per_shape)  # (n, 3)
    if getattr(ev.arch, "is_device", False):  # a processor's runtime: its per-call cost once per network
        from accel.device import DeviceModel

        call_s = DeviceModel(ev.arch).inference_overhead_s
        tot[:, 0] += call_s * ev.arch.clock_hz
        tot[:, 1] += call_s
    macs = st.design(idx) @ (st.basis @ st.layer_macs)
    arch_strings = nb201.arch_strings()[idx]
    df = pd.DataFrame({
        "index": idx, "arch": arch_strings, "latency_cycles": tot[:, 0], "latency_s": tot[:, 1],
        "energy_pj": tot[:, 2], "edp": tot[:, 2] * tot[:, 1], "macs": macs,
    })
    t2 = time.perf_counter()
    df.attrs.update({
        "hw": ev.arch.name, "hw_digest": ev.arch.digest(), "dataset": st.dataset, "batch": batch,
        "objective": ev.objective, "seed": ev.seed, "prune_dead": bool(prune), "unique_layer_shapes": st.n_shapes,
        "newly_mapped_shapes": len(todo), "mapping_s": t1 - t0, "sum_s": t2 - t1,
        "accelsim_version": __version__,
    })
    return df
