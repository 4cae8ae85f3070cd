"""Fixed-mapping evaluation: cost a given mapping as it is, without searching.

:func:`evaluate_mapping` checks that the mapping fits the layer and the accelerator and says exactly what
does not (a :class:`MappingError` naming the dimension, level or fan-out and the numbers), then returns the
kernel's :class:`~accel.cost.CostRecord`.  Rules: every dimension's factors (temporal at every level ×
spatial at every fan-out) must cover its bound — a product above the bound pads the loop nest (those
iterations are real cycles and accesses, as everywhere in accelsim) and is allowed; each fan-out's x and y
factors fit its size; each level keeps only operands the accelerator lets it keep, and every tile fits the
level's capacity.

:func:`mapping_from_dict` reads back a mapping accelsim printed (``accelsim map --format json``), so a mapping
found once can be re-evaluated (e.g. on a changed accelerator) without searching.
"""

from __future__ import annotations

import re

import numpy as np

from accel.arch import Arch
from accel.cost import CostRecord, Mapping, check_mapping, evaluate
from accel.errors import MappingError
from accel.layout import R_CAPACITY, REASONS, record_blocks
from accel.workload import DIM_INDEX, DIMS, OPERANDS, Layer


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
        if rec.reason == REASONS[R_CAPACITY]:  # the kernel stops at the first level that overflows: its tiles are set
            tiles = record_blocks(rec.raw, L)[4]
            lv = max(i for i in range(L) if tiles[i].any())
            cfg = arch.config.levels[lv]
            cap = (f"{cfg.size_bytes:g} B" if cfg.size_bytes is not None else
                   ", ".join(f"{k} {v:g} B" for k, v in (cfg.partitions_bytes or {}).items()))
            need = ", ".join(f"{OPERANDS[o]} {tiles[lv, o] / 8:g} B" for o in range(3) if tiles[lv, o])
            detail = f": level {names[lv]} holds {need}, capacity {cap}"
        raise MappingMismatch(f"mapping is invalid on {arch.name}: {rec.reason}{detail}")
    return rec


_LOOP = re.compile(r"([GNKCPQRS])([0-9]{1,10})")


def mapping_from_dict(arch: Arch, data: object, source: str = "mapping") -> Mapping:
    """Read back a mapping that accelsim printed (:meth:`accel.cost.Mapping.to_dict`, the ``mapping`` of
    ``accelsim map --format json``): ``{LEVEL: {"temporal": "P8 Q2" (outer -> inner) or "-", "keeps": [...],
    "spatial_above": {"x": {DIM: n}, "y": {DIM: n}}}, "mac_lanes": {DIM: n}}``.  Dims a level does not list
    iterate once.  Raises :class:`MappingMismatch` naming ``source`` and the key for anything else."""

    def fail(path: str, msg: str) -> MappingMismatch:
        return MappingMismatch(f"{source}: {path}: {msg}")

    def factors(v: object, path: str) -> dict[int, int]:
        if not isinstance(v, dict):
            raise fail(path, "must be a mapping {DIM: factor}")
        out = {}
        for d, f in v.items():
            if d not in DIM_INDEX:
                raise fail(f"{path}.{d}", f"unknown dim (one of {' '.join(DIMS)})")
            if isinstance(f, bool) or not isinstance(f, int) or not 1 <= f <= 2 ** 31:
                raise fail(f"{path}.{d}", f"factor must be an integer from 1 to 2^31, got {f!r}")
            out[DIM_INDEX[d]] = f
        return out

    if not isinstance(data, dict):
        raise fail("<root>", "a mapping must be a dict of levels")
    names = arch.level_names
    L = len(names)
    unknown = [k for k in data if k not in names and k != "mac_lanes"]
    if unknown:
        raise fail(str(unknown[0]), f"unknown level (levels of {arch.name}: {', '.join(names)})")
    T = np.ones((L, 8), dtype=np.int64)
    SX = np.ones((L + 1, 8), dtype=np.int64)
    SY = np.ones((L + 1, 8), dtype=np.int64)
    ORD = np.tile(np.arange(8, dtype=np.int64), (L, 1))
    KEEP = np.zeros((L, 3), dtype=np.int64)
    for lv, name in enumerate(names):
        entry = data.get(name)
        if not isinstance(entry, dict):
            raise fail(name, "missing (every level needs temporal and keeps)")
        extra = set(entry) - {"temporal", "keeps", "spatial_above"}
        if extra:
            raise fail(f"{name}.{sorted(extra)[0]}", "unknown key (temporal, keeps, spatial_above)")
        temporal = entry.get("temporal", "-")
        if not isinstance(temporal, str):
            raise fail(f"{name}.temporal", 'must be a string such as "P8 Q2" (outer -> inner) or "-"')
        loops = [] if temporal.strip() == "-" else temporal.split()
        seen = []
        for tok in loops:
            m = _LOOP.fullmatch(tok)
            if not m or int(m.group(2)) < 1 or DIM_INDEX[m.group(1)] in seen:
                raise fail(f"{name}.temporal", f"bad loop {tok!r} (DIM then factor, each dim once)")
            d = DIM_INDEX[m.group(1)]
            T[lv, d] = int(m.group(2))
            seen.append(d)
        ORD[lv] = seen + [d for d in range(8) if d not in seen]
        keeps = entry.get("keeps")
        if not isinstance(keeps, list) or any(k not in OPERANDS for k in keeps):
            raise fail(f"{name}.keeps", f"must be a list of {', '.join(OPERANDS)}")
        for k in keeps:
            KEEP[lv, OPERANDS.index(k)] = 1
        sp = entry.get("spatial_above")
        if sp is not None:
            if lv == 0 or not isinstance(sp, dict) or set(sp) - {"x", "y"}:
                raise fail(f"{name}.spatial_above", "must be {x: {DIM: n}, y: {DIM: n}} (not on the outermost level)")
            for d, f in factors(sp.get("x", {}), f"{name}.spatial_above.x").items():
                SX[lv, d] = f
            for d, f in factors(sp.get("y", {}), f"{name}.spatial_above.y").items():
                SY[lv, d] = f
    for d, f in factors(data.get("mac_lanes", {}), "mac_lanes").items():
        SX[L, d] = f
    return Mapping(T, SX, SY, ORD, KEEP)


__all__ = ["evaluate_mapping", "mapping_from_dict", "MappingMismatch"]
