"""Precomputed hardware cost of every (searchable layer × operator × bitwidth × accelerator design).

Layers run one after another in accelsim (:mod:`mapper.network`), so a network's latency and energy are
sums over its layers.  For the FBNet space that makes the cost of any (architecture, bitwidths, design)
separable::

    latency(ops, bits, d) = fixed_latency[d] + Σ_l latency[l, ops[l], bits[l, ops[l]], d]

(the same for energy; EDP = energy × latency of the totals).  :func:`build_cost_table` maps every unique
layer shape once per (design, precision variant) with the accelsim mapper — exactly the call
:func:`nas.joint.precision.evaluate_with_bitwidths` makes — so a training step of the joint search reads
its hardware cost from arrays, and the table's total for the derived design equals the full evaluation of
the exported network.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from accel.arch import Arch
from accel.workload import Layer
from nas.joint.precision import BitPair, PrecisionEvaluator, PrecisionLaw
from nas.joint.space import OPS, FBNetSpace

__all__ = ["CostTable", "build_cost_table"]

Progress = Callable[[int, int], None]


@dataclass
class CostTable:
    """Hardware cost arrays (float64).  L searchable layers, O operators, B bitwidth choices, D designs.

    ``latency_s[l, o, b, d]`` / ``energy_pj[l, o, b, d]``: the layers of operator o at layer l, all at
    bitwidth choice b, on design d; ``fixed_latency_s[d]`` / ``fixed_energy_pj[d]``: stem, head, pool and
    classifier at the accelerator's own precision.
    """

    latency_s: np.ndarray
    energy_pj: np.ndarray
    fixed_latency_s: np.ndarray
    fixed_energy_pj: np.ndarray
    bits: tuple[BitPair, ...]
    design_labels: list[str]
    meta: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return self.latency_s.shape  # type: ignore[return-value]

    def totals(self, ops: Sequence[int], bits: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(latency_s, energy_pj), each (D,), of one network (``ops[l]``, ``bits[l]`` choice indices) on
        every design."""
        L = self.latency_s.shape[0]
        li = np.arange(L)
        o = np.asarray(ops, dtype=np.int64)
        b = np.asarray(bits, dtype=np.int64)
        lat = self.fixed_latency_s + self.latency_s[li, o, b].sum(axis=0)
        en = self.fixed_energy_pj + self.energy_pj[li, o, b].sum(axis=0)
        return lat, en

    def valid_designs(self) -> np.ndarray:
        """(D,) bool: designs on which every (layer, op, bits) choice and the fixed layers could be mapped."""
        ok = np.isfinite(self.latency_s).all(axis=(0, 1, 2)) & np.isfinite(self.energy_pj).all(axis=(0, 1, 2))
        return ok & np.isfinite(self.fixed_latency_s) & np.isfinite(self.fixed_energy_pj)

    def uniform_expectation(self, d: int) -> tuple[float, float]:
        """(latency_s, energy_pj) on design d averaged over operators and bitwidths uniformly: the scale
        the search normalises hardware cost by."""
        lat = self.fixed_latency_s[d] + self.latency_s[:, :, :, d].mean(axis=(1, 2)).sum()
        en = self.fixed_energy_pj[d] + self.energy_pj[:, :, :, d].mean(axis=(1, 2)).sum()
        return float(lat), float(en)

    def to_frame(self) -> pd.DataFrame:
        """Tidy table: one row per (layer, op, w_bits, a_bits, design) with latency_s and energy_pj."""
        L, O, B, D = self.shape
        idx = np.indices((L, O, B, D)).reshape(4, -1)
        df = pd.DataFrame({
            "layer": idx[0], "op": np.array([o.name for o in OPS])[idx[1]],
            "w_bits": np.array([b[0] for b in self.bits])[idx[2]], "a_bits": np.array([b[1] for b in self.bits])[idx[2]],
            "design": idx[3], "latency_s": self.latency_s.reshape(-1), "energy_pj": self.energy_pj.reshape(-1),
        })
        df.attrs.update({k: v for k, v in self.meta.items() if isinstance(v, (str, int, float, bool))})
        df.attrs["design_labels"] = list(self.design_labels)
        return df


def _map_one(layer: Layer, arch: Arch, objective: str, seed: int, parallel: bool,
             effort: str = "thorough") -> tuple[float, float, str]:
    """(latency_s, energy_pj, "") of ``layer`` on ``arch`` with the mapper's best mapping (the same call as
    :meth:`mapper.network.NetworkEvaluator.layer`); (nan, nan, reason) when no mapping is valid."""
    from mapper.mapspace import NoValidMapping
    from mapper.search import BUDGETS, search_mapping

    try:
        res = search_mapping(layer, arch, objective=objective, seed=seed, parallel=parallel, budget=BUDGETS[effort])
    except NoValidMapping as e:
        return math.nan, math.nan, str(e)
    return float(res.cost.latency_s), float(res.cost.energy_pj), ""


def build_cost_table(space: FBNetSpace, bits: Sequence[BitPair], archs: Sequence[Arch], labels: Sequence[str],
                     law: PrecisionLaw = PrecisionLaw(), objective: str = "edp", seed: int = 0, batch: int = 1,
                     executor: Executor | None = None, progress: Progress | None = None,
                     effort: str = "thorough") -> CostTable:
    """Map every unique (design, precision variant, layer shape) once and fill a :class:`CostTable`.

    ``archs[d]`` / ``labels[d]``: the designs (columns).  ``executor``: mapping searches run there (serial
    numba kernels, which release the GIL, so a thread pool scales); None runs them here with the parallel
    kernels.  ``progress(done, total)`` is called after each mapping search.  A layer that cannot be
    mapped on a design at some precision makes its entries NaN (``meta["unmappable"]`` lists them;
    :meth:`CostTable.valid_designs` tells which designs run everything).  Raises
    :class:`nas.joint.precision.BitwidthsError` if a precision exceeds a design's reference precision.
    ``effort``: the mapper's search budget (:data:`mapper.search.BUDGETS`).
    """
    t0 = time.perf_counter()
    bits = tuple((int(w), int(a)) for w, a in bits)
    slots = space.slots
    L, O, B, D = len(slots), len(OPS), len(bits), len(archs)
    block = [[space.block_layers(slot, op, batch) for op in OPS] for slot in slots]
    fixed = space.fixed_layers(batch)
    evs = [PrecisionEvaluator(a, law, objective, seed) for a in archs]

    # unique work: (design, variant key, shape key) -> (layer, variant arch)
    work: dict[tuple, tuple[Layer, Arch]] = {}

    def key(d: int, layer: Layer, bp: BitPair | None) -> tuple:
        if bp is None:
            vk = None
        else:
            vk = (bp[0], bp[1], True) if layer.is_mac else (bp[1], bp[1], False)
        k = (d, vk, layer.shape_key())
        if k not in work:
            work[k] = (layer, evs[d].variant(bp, layer.is_mac))
        return k

    lat_keys = np.empty((L, O, B, D), dtype=object)
    for d in range(D):
        for l in range(L):
            for o in range(O):
                for b, bp in enumerate(bits):
                    lat_keys[l, o, b, d] = [key(d, layer, bp) for layer in block[l][o]]
    fixed_keys = [[key(d, layer, None) for layer in fixed] for d in range(D)]

    total = len(work)
    results: dict[tuple, tuple[float, float, str]] = {}
    if executor is None:
        for i, (k, (layer, arch)) in enumerate(work.items()):
            results[k] = _map_one(layer, arch, objective, seed, True, effort)
            if progress:
                progress(i + 1, total)
    else:
        futs = {executor.submit(_map_one, layer, arch, objective, seed, False, effort): k for k, (layer, arch) in work.items()}
        from concurrent.futures import as_completed

        for i, f in enumerate(as_completed(futs)):
            results[futs[f]] = f.result()
            if progress:
                progress(i + 1, total)

    lat = np.zeros((L, O, B, D))
    en = np.zeros((L, O, B, D))
    for idx in np.ndindex(L, O, B, D):
        for k in lat_keys[idx]:
            lat[idx] += results[k][0]
            en[idx] += results[k][1]
    flat = np.array([sum(results[k][0] for k in ks) for ks in fixed_keys])
    fen = np.array([sum(results[k][1] for k in ks) for ks in fixed_keys])
    unmappable = [f"{labels[k[0]]}: {r[2]}" for k, r in results.items() if r[2]]
    meta = {"mapping_searches": total, "build_s": time.perf_counter() - t0, "objective": objective, "seed": seed,
            "batch": batch, "law": law.name, "space": space.describe(), "unmappable": unmappable}
    return CostTable(lat, en, flat, fen, bits, list(labels), meta)
