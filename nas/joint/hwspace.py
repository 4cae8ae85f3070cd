"""The accelerator design space of a joint search: a sweep spec (:mod:`accel.app.sweep`) read as independent
categorical design dimensions.

Each ``parameters[i]`` entry of the sweep spec is one design dimension (a PE-array shape, a buffer size, a
dataflow preset, a spatial-unrolling rule ``dataflow.spatial_x`` …, or several zipped paths); its
``values`` / ``range`` are the dimension's choices.  The differentiable accelerator search engine
(:mod:`nas.joint.engine`) keeps one categorical distribution per dimension.  The design points of the
sweep (grid or random draws) that survive its validation (invalid combinations, duplicates and area
budgets are dropped by :meth:`accel.app.sweep.Sweep.points`) are the designs the engine may sample.

What a joint search cannot take from a sweep spec: ``uniform`` (continuous) parameters and parameters that
set global ``bitwidths`` (the search picks per-layer precisions).  These raise :class:`HwSpaceError`.  The
area budget (``max_area_mm2``) drops designs here; the power budget (``max_power_mw``, which depends on the
network being searched) is kept as :attr:`HwSpace.max_power_mw` and applied by the search
(:func:`nas.joint.search.joint_search`: a penalty while searching, feasibility first when deriving).
Temporal tiling and loop order are not design dimensions here: for every sampled design the mapper
(:func:`mapper.search.search_mapping`) picks each layer's tiling, as a compiler would.
"""

from __future__ import annotations

from accel.errors import InputError
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from accel.arch import Arch, parse_arch

__all__ = ["HwSpaceError", "DesignDim", "HwSpace", "load_hw_space", "hw_space_from_sweep"]


class HwSpaceError(InputError):
    """A hardware design space the joint search cannot use."""


@dataclass(frozen=True)
class DesignDim:
    """One design dimension: the config paths it sets and its choices."""

    paths: tuple[str, ...]
    values: tuple[Any, ...]

    @property
    def name(self) -> str:
        return ",".join(self.paths)

    def label(self, j: int) -> str:
        v = self.values[j]
        return "x".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)


@dataclass
class HwSpace:
    """Valid designs of a sweep spec, each with its per-dimension choice indices.

    ``index[p, k]`` is the choice of dimension k in design p; ``archs[p]`` its accelerator; ``reference``
    the sweep's base accelerator (the "reference accelerator" of comparisons; it need not be a design).
    """

    source: str
    dims: list[DesignDim]
    index: np.ndarray  # (P, K) int64
    archs: list[Arch]
    params: list[dict[str, Any]]  # "hw.<path>" -> value, per design
    reference: Arch
    objective: str = "edp"
    seed: int = 0
    batch: int = 1
    dropped: int = 0
    max_power_mw: float | None = None  # the sweep's power budget (applied by the search)

    @property
    def n_designs(self) -> int:
        return len(self.archs)

    def label(self, p: int) -> str:
        return " ".join(f"{d.name}={d.label(int(j))}" for d, j in zip(self.dims, self.index[p])) or self.archs[p].name

    def design_of(self, choice: list[int] | tuple[int, ...] | np.ndarray) -> int | None:
        """Design id with the given per-dimension choices (None if that combination is not valid)."""
        hit = np.flatnonzero((self.index == np.asarray(choice, dtype=np.int64)[None, :]).all(axis=1))
        return int(hit[0]) if len(hit) else None


def hw_space_from_sweep(sw) -> HwSpace:
    """:class:`HwSpace` of a validated :class:`accel.app.sweep.Sweep`."""
    spec = sw.spec
    errs = []
    for i, par in enumerate(spec.parameters):
        if par.uniform is not None:
            errs.append(f"parameters[{i}]: continuous (uniform) parameters cannot be design choices; use values or range")
        for p in par.paths:
            if p.split(".")[0] == "bitwidths":
                errs.append(f"parameters[{i}].path: {p}: the joint search picks per-layer bitwidths; "
                            "do not sweep the accelerator's global bitwidths")
    if errs:
        raise HwSpaceError(f"{sw.source}: " + "; ".join(errs))
    dims = [DesignDim(tuple(par.paths), tuple(par.domain())) for par in spec.parameters]
    assignments = sw.assignments()
    rows, archs, params = [], [], []
    dropped = 0
    for pt in sw.points():
        if pt.dropped:
            dropped += 1
            continue
        values = assignments[pt.point]
        row = []
        for d, v in zip(dims, values):
            row.append(next(j for j, x in enumerate(d.values) if x == v))
        rows.append(row)
        archs.append(parse_arch(pt.config, f"{sw.source} point {pt.point}"))
        params.append(dict(pt.params))
    if not archs:
        raise HwSpaceError(f"{sw.source}: no valid design point ({dropped} dropped)")
    index = np.array(rows, dtype=np.int64).reshape(len(archs), len(dims))
    return HwSpace(sw.source, dims, index, archs, params, sw.base, spec.objective, spec.seed, spec.batch, dropped,
                   spec.constraints.max_power_mw)


def load_hw_space(path: str | Path) -> HwSpace:
    """Load a sweep-spec YAML (:func:`accel.app.sweep.load_sweep`) as a joint-search design space.
    Raises :class:`HwSpaceError` (spec errors are listed with their YAML paths)."""
    from accel.designspace import SweepSpecError, load_sweep

    try:
        sw = load_sweep(path)
    except SweepSpecError as e:
        raise HwSpaceError(str(e)) from None
    return hw_space_from_sweep(sw)
