"""Fixed-mapping evaluation: cost a given mapping as it is, without searching.

:func:`evaluate_mapping` checks that the mapping fits the layer and the accelerator and says exactly what
does not (a :class:`MappingError` naming the dimension, level or fan-out and the numbers), then returns the
kernel's :class:`~accel.cost.CostRecord`.  Rules: every dimension's factors (temporal at every level ×
spatial at every fan-out) must cover its bound — a product above the bound pads the loop nest (those
iterations are real cycles and accesses, as everywhere in accelsim) and is allowed; each fan-out's x and y
factors fit its size; each level keeps only operands the accelerator lets it keep, and every tile fits the
level's capacity.
"""

from __future__ import annotations

import numpy as np

from accel.arch import Arch
from accel.cost import REASONS, CostRecord, Mapping, O_BASE, check_mapping, evaluate
from accel.errors import MappingError
from accel.workload import DIMS, OPERANDS, Layer


class MappingMismatch(MappingError):
    """A given mapping does not fit the layer or the accelerator."""


def evaluate_mapping(layer: Layer, arch: Arch, mapping: Mapping) -> CostRecord:
    """Cost of ``layer`` on ``arch`` under exactly ``mapping`` (no search).  Raises :class:`MappingMismatch`
    with the reason when the mapping does not fit (see module docstring)."""
    try:
        check_mapping(layer, arch, mapping)
    except ValueError as e:
        raise MappingMismatch(f"mapping for {arch.name}: {e}") from None
    a = arch.arrays
    L = a.n_levels
    names = arch.level_names
    T, SX, SY = (np.asarray(x, dtype=np.int64) for x in (mapping.temporal, mapping.spatial_x, mapping.spatial_y))
    for d, name in enumerate(DIMS):
        total = int(T[:, d].prod() * SX[1:, d].prod() * SY[1:, d].prod())
        if total < layer.dims[d]:
            raise MappingMismatch(f"mapping covers {name}={total}, but layer {layer.name!r} has {name}="
                                  f"{layer.dims[d]} (factors over all levels must multiply to at least the bound)")
    for f in range(1, L + 1):
        ux, uy = int(SX[f].prod()), int(SY[f].prod())
        where = f"the fan-out above {names[f]}" if f < L else "the MAC lanes"
        if ux > a.fanout_x[f] or uy > a.fanout_y[f]:
            raise MappingMismatch(f"spatial factors x={ux}, y={uy} exceed {where} ({int(a.fanout_x[f])} x "
                                  f"{int(a.fanout_y[f])})")
    keep = np.asarray(mapping.keep)
    for lv in range(L):
        for o in range(3):
            if keep[lv, o] and not a.keeps[lv, o]:
                raise MappingMismatch(f"the mapping keeps {OPERANDS[o]} at {names[lv]}, which cannot hold them")
        if lv == 0 and not keep[0].all():
            raise MappingMismatch(f"the outermost level {names[0]} must keep every operand")
    rec = evaluate(layer, arch, mapping)
    if not rec.valid:
        detail = ""
        if rec.reason == REASONS[3]:  # the kernel stops at the first level that overflows: its tiles are set
            o_tile = O_BASE + 10 * L
            tiles = rec.raw[o_tile:o_tile + 3 * L].reshape(L, 3)
            lv = max(i for i in range(L) if tiles[i].any())
            cfg = arch.config.levels[lv]
            cap = (f"{cfg.size_bytes:g} B" if cfg.size_bytes is not None else
                   ", ".join(f"{k} {v:g} B" for k, v in (cfg.partitions_bytes or {}).items()))
            need = ", ".join(f"{OPERANDS[o]} {tiles[lv, o] / 8:g} B" for o in range(3) if tiles[lv, o])
            detail = f": level {names[lv]} holds {need}, capacity {cap}"
        raise MappingMismatch(f"mapping is invalid on {arch.name}: {rec.reason}{detail}")
    return rec


__all__ = ["evaluate_mapping", "MappingMismatch"]
