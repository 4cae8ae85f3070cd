"""Accelerator design-space sweeps: a versioned YAML spec, its expansion into design points, and a
resumable, batched evaluation of every design point on a list of workloads.

Sweep spec (``version: 1``; pydantic, ``extra="forbid"``; every error is reported with its YAML path)::

    version: 1
    name: eyeriss-demo
    base: ../eyeriss.yaml          # accelerator YAML, relative to the spec file, or a shipped config name
    mode: grid                     # grid: Cartesian product of all parameters | random: `samples` draws
    samples: 300                   # random mode only
    seed: 0                        # random draws and the mapper's seed
    objective: edp                 # mapping objective per layer: edp | latency | energy
    search_effort: fast            # mapper budget per layer: fast (default) | thorough
    batch: 1                       # workload batch size
    parameters:
      - path: [pe_array.rows, pe_array.cols]      # several paths: values are tuples (zipped) ...
        values: [[12, 14], [16, 16], [8, 8]]
      - path: levels.GLB.size_bytes               # levels are addressed by name
        range: {start: 55296, stop: 221184, factor: 2}   # geometric; or `step:` (arithmetic), stop inclusive
      - path: [levels.DRAM.read_bandwidth_bits, levels.DRAM.write_bandwidth_bits]
        values: [32, 64, 128]                     # ... or scalars that set every path
      - path: clock_mhz
        uniform: {low: 100, high: 400, log: true} # continuous draw, random mode only (`integer: true` rounds)
    constraints:
      max_area_mm2: 12.0           # accel.arch.area_mm2; the config must carry area figures
      max_power_mw: 300            # average power (energy / latency) on every workload
      scale_area_with_capacity: true   # a level's area_mm2 scales with its capacity (SRAM area ~ capacity)

A parameter ``path`` is a dotted path into the accelerator config (any field: ``pe_array.rows``,
``bitwidths.weights``, ``dataflow.preset``, ``levels.spad.partitions_bytes.weights``, ``clock_mhz``, ...);
paths must exist in the base config.  Each value is probed alone on the base config when the spec is
loaded, so a value of the wrong type or out of range is a spec error (``parameters[i].values[j]``), while a
*combination* that makes an invalid accelerator (e.g. a spad too small for 8-bit weights) is a dropped
design point with the config errors as its reason.  Other drop reasons: a duplicate of an earlier point
(random mode), an area or power budget exceeded, an unknown area.  Dropped points stay in the results
table with ``status == "dropped"``, their ``reason`` and NaN metrics.

Workloads (strings): a zoo name (``resnet50``), an ``.onnx`` file, ``nb201:<arch string>`` or
``nb201:<official index>`` (one NAS-Bench-201 CIFAR-10 network), ``nb201-sample:N:SEED`` (N distinct
NB201 archs drawn uniformly with ``numpy.random.Generator(PCG64(SEED))``; each becomes one workload
``nb201:<arch string>``), ``layer:<spec>`` (one layer in the ``accelsim map --layer`` syntax, e.g.
``"layer:conv K=64 C=64 P=56 Q=56 R=3 S=3"``; the spec's batch multiplies its N).  NB201 workloads are costed with :func:`nas.hwcost.nb201_hwcost` on the design
point's :class:`~accel.evaluate.NetworkEvaluator`: the ~21 unique layer shapes are mapped once per design
point and every arch's totals follow from a matrix product, so 100 archs cost about as much as one.

Results (:func:`run_sweep`): a tidy table, one row per design point × workload (per layer with
``per_layer=True``), with units in the column names (``latency_cycles, latency_s, energy_pj, edp_pj_s,
power_mw, area_mm2``), the swept values as ``hw.<path>`` columns, ``hw_digest`` (hash of the point's
validated config) and run metadata in ``df.attrs`` (accelsim version, spec hash, seed, objective,
workloads).  Work is sent to a :class:`concurrent.futures.Executor` in batches of design points; every
finished batch is written at once as ``<out>.parts/part-NNNNNN.parquet`` (temp file + atomic rename) next
to a ``manifest.json``, so a sweep killed at any moment resumes where it stopped, and the final table
(concatenated in batch order, then sorted by point) is identical to an uninterrupted run.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import os
import shutil
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

import numpy as np
import pandas as pd
import yaml
from pydantic import Field, ValidationError, model_validator

from accel import __version__
from accel.arch import Arch, ConfigError, area_mm2, load_arch, parse_arch
from accel.schema import Strict, YamlError, read_yaml, fmt_loc, pydantic_errors

__all__ = [
    "SWEEP_SCHEMA_VERSION", "SweepSpec", "SweepSpecError", "SweepError", "Sweep", "DesignPoint", "Workload",
    "load_sweep", "parse_sweep", "parse_workloads", "run_sweep", "SerialExecutor", "nb201_params",
    "pareto_mask", "MAX_POINTS",
]

SWEEP_SCHEMA_VERSION = 1
MAX_POINTS = 1_000_000
Progress = Callable[[int, int], None]


class SweepSpecError(YamlError):
    """Invalid sweep spec; ``errors`` lists (yaml_path, message)."""

    what = "sweep spec"


class SweepError(ValueError):
    """Invalid sweep input other than the spec (workloads, output location)."""


# ---------------------------------------------------------------------------------------------
# Spec schema
# ---------------------------------------------------------------------------------------------


class RangeSpec(Strict):
    """Values from ``start`` to ``stop`` (inclusive when hit) by ``step`` (arithmetic) or ``factor``
    (geometric).  Integral start/step/factor give integers."""

    start: float
    stop: float
    step: float | None = Field(None, gt=0)
    factor: float | None = Field(None, gt=1)

    @model_validator(mode="after")
    def _check(self):
        if (self.step is None) == (self.factor is None):
            raise ValueError("give exactly one of step (arithmetic) or factor (geometric)")
        if self.stop < self.start:
            raise ValueError(f"stop ({self.stop}) is below start ({self.start})")
        if self.factor is not None and self.start <= 0:
            raise ValueError("a geometric range needs start > 0")
        if len(self.values()) > 10_000:
            raise ValueError("range has more than 10,000 values")
        return self

    def values(self) -> list[float | int]:
        out: list[float] = []
        tol = 1e-9 * max(1.0, abs(self.stop))
        if self.step is not None:
            n = int(math.floor((self.stop - self.start) / self.step + 1e-9)) + 1
            out = [self.start + i * self.step for i in range(min(n, 10_001))]
            integral = float(self.start).is_integer() and float(self.step).is_integer()
        else:
            v = self.start
            while v <= self.stop + tol and len(out) <= 10_000:
                out.append(v)
                v *= self.factor
            integral = float(self.start).is_integer() and float(self.factor).is_integer()
        return [int(round(v)) for v in out] if integral else out


class UniformSpec(Strict):
    """Continuous draw in [low, high] (random mode only), log-uniform with ``log: true``."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    @model_validator(mode="after")
    def _check(self):
        if self.high <= self.low:
            raise ValueError(f"high ({self.high}) must exceed low ({self.low})")
        if self.log and self.low <= 0:
            raise ValueError("a log-uniform draw needs low > 0")
        return self


class Parameter(Strict):
    path: str | list[str] = Field(description="dotted config path(s); levels by name, e.g. levels.GLB.size_bytes")
    values: list[Any] | None = None
    range: RangeSpec | None = None
    uniform: UniformSpec | None = None

    @model_validator(mode="after")
    def _check(self):
        given = [k for k in ("values", "range", "uniform") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of values, range, uniform (got {given or 'none'})")
        if isinstance(self.path, list) and not self.path:
            raise ValueError("path list is empty")
        if self.values is not None and not self.values:
            raise ValueError("values is empty")
        if self.values is not None and isinstance(self.path, list):
            for j, v in enumerate(self.values):
                if isinstance(v, list) and len(v) != len(self.path):
                    raise ValueError(f"values[{j}] has {len(v)} entries for {len(self.path)} paths")
        return self

    @property
    def paths(self) -> list[str]:
        return list(self.path) if isinstance(self.path, list) else [self.path]

    def domain(self) -> list[Any]:
        """Discrete values (grid mode; random mode picks one uniformly)."""
        if self.values is not None:
            return list(self.values)
        if self.range is not None:
            return self.range.values()
        raise ValueError("a uniform parameter has no discrete domain")


class Constraints(Strict):
    max_area_mm2: float | None = Field(None, gt=0)
    max_power_mw: float | None = Field(None, gt=0)
    scale_area_with_capacity: bool = True


class SweepSpec(Strict):
    version: int
    name: str
    description: str = ""
    base: str = Field(description="accelerator YAML (relative to the spec file) or shipped config name")
    mode: Literal["grid", "random"] = "grid"
    samples: int | None = Field(None, ge=1, le=MAX_POINTS)
    seed: int = 0
    objective: Literal["edp", "latency", "energy"] = "edp"
    search_effort: Literal["fast", "thorough"] = Field(
        "fast", description="mapper budget per layer (mapper.search.BUDGETS); fast is ~4x cheaper, EDP within a "
                            "few % of thorough")
    batch: int = Field(1, ge=1)
    parameters: list[Parameter] = Field(default_factory=list)
    constraints: Constraints = Constraints()

    @model_validator(mode="before")
    @classmethod
    def _version_first(cls, data):
        if isinstance(data, dict) and "version" in data and data["version"] != SWEEP_SCHEMA_VERSION:
            raise ValueError(f"unsupported sweep schema version {data['version']!r}; "
                             f"this accelsim reads version {SWEEP_SCHEMA_VERSION}")
        return data

    @model_validator(mode="after")
    def _check(self):
        if self.mode == "random" and self.samples is None:
            raise ValueError("mode: random needs samples: N")
        if self.mode == "grid" and self.samples is not None:
            raise ValueError("samples is only used with mode: random")
        if self.mode == "grid":
            for i, p in enumerate(self.parameters):
                if p.uniform is not None:
                    raise ValueError(f"parameters[{i}]: uniform draws need mode: random")
        return self


# ---------------------------------------------------------------------------------------------
# Config paths
# ---------------------------------------------------------------------------------------------
_fmt_loc = fmt_loc


def _resolve(cfg: dict, path: str) -> tuple[list, str]:
    """Dotted path → (location as keys/indices, canonical path like ``levels[1].size_bytes``).
    ``levels.<name>`` selects a level by name.  Raises ValueError naming what is missing."""
    loc: list = []
    cur: Any = cfg
    parts = path.split(".")
    for k, part in enumerate(parts):
        where = _fmt_loc(loc) if loc else "the config"
        if isinstance(cur, list):
            names = [x.get("name") for x in cur if isinstance(x, dict)]
            if part in names:
                idx = names.index(part)
            elif part.isdigit() and int(part) < len(cur):
                idx = int(part)
            else:
                raise ValueError(f"no entry {part!r} in {where} (known: {', '.join(map(str, names))})")
            loc.append(idx)
            cur = cur[idx]
        elif isinstance(cur, dict):
            if part not in cur:
                raise ValueError(f"{where} has no field {part!r} (known: {', '.join(sorted(cur))})")
            loc.append(part)
            cur = cur[part]
        else:
            raise ValueError(f"{_fmt_loc(loc)} is {cur!r} in the base config, not a mapping: cannot set "
                             f"{'.'.join(parts[k:])} below it")
    if isinstance(cur, (dict, list)):
        raise ValueError(f"{_fmt_loc(loc)} is a {'mapping' if isinstance(cur, dict) else 'list'}; "
                         "a parameter must set a single value")
    return loc, _fmt_loc(loc)


def _set(cfg: dict, loc: list, value: Any) -> None:
    cur: Any = cfg
    for k in loc[:-1]:
        cur = cur[k]
    cur[loc[-1]] = value


def _capacity_bytes(level: dict) -> float | None:
    if level.get("size_bytes") is not None:
        return float(level["size_bytes"])
    if level.get("partitions_bytes"):
        return float(sum(level["partitions_bytes"].values()))
    return None


def _missing_area(cfg: dict) -> list[str]:
    miss = []
    if cfg["pe_array"].get("area_mm2") is None:
        miss.append("pe_array.area_mm2")
    for i, lv in enumerate(cfg["levels"][1:], start=1):
        if lv.get("area_mm2") is None:
            miss.append(f"levels[{i}].area_mm2 ({lv['name']})")
    return miss


def pareto_mask(x: np.ndarray, y: np.ndarray, maximize_x: bool = False, maximize_y: bool = False) -> np.ndarray:
    """Boolean mask (n,) of the non-dominated points of (x, y) (both minimised unless told otherwise).

    A point is dominated when another is at least as good in both and strictly better in one; duplicates
    of a non-dominated point are all kept.  NaNs are never on the front.  O(n log n).
    """
    x = np.asarray(x, dtype=float) * (-1.0 if maximize_x else 1.0)
    y = np.asarray(y, dtype=float) * (-1.0 if maximize_y else 1.0)
    ok = np.isfinite(x) & np.isfinite(y)
    mask = np.zeros(len(x), dtype=bool)
    idx = np.flatnonzero(ok)
    order = idx[np.lexsort((y[idx], x[idx]))]  # by x, then y
    best_y = np.inf
    prev = None
    for i in order:
        if y[i] < best_y:
            mask[i] = True
            best_y = y[i]
            prev = (x[i], y[i])
        elif prev is not None and x[i] == prev[0] and y[i] == prev[1]:
            mask[i] = True
    return mask


# ---------------------------------------------------------------------------------------------
# Design points
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DesignPoint:
    """One accelerator of a sweep.  ``config`` is the validated config (JSON-able dict), None when the
    point was dropped before evaluation (``reason`` says why)."""

    point: int
    params: dict[str, Any]  # "hw.<path>" → value
    config: dict | None
    hw_digest: str = ""
    area_mm2: float = math.nan
    peak_macs_per_cycle: int = 0
    reason: str = ""

    @property
    def dropped(self) -> bool:
        return bool(self.reason)

    def label(self, sweep_name: str) -> str:
        vals = " ".join(f"{k[3:]}={v}" for k, v in self.params.items())
        return f"{sweep_name}#{self.point}" + (f" ({vals})" if vals else "")


@dataclass
class Sweep:
    """A validated sweep spec bound to its base accelerator."""

    spec: SweepSpec
    source: str
    base: Arch
    locs: list[list[tuple[list, str]]] = field(repr=False)  # per parameter: (config location, canonical path)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def columns(self) -> list[str]:
        """``hw.<path>`` column of every swept path, in spec order."""
        return [f"hw.{p}" for par in self.spec.parameters for p in par.paths]

    def digest(self) -> str:
        """Hash of the spec and the base config (what the results depend on)."""
        blob = json.dumps({"spec": self.spec.model_dump(mode="json"), "base": self.base.config.model_dump(mode="json")},
                          sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    # -- expansion ------------------------------------------------------------------------------
    def assignments(self) -> list[tuple]:
        """One tuple of parameter values (one entry per parameter; tuples for multi-path) per point."""
        params = self.spec.parameters
        if self.spec.mode == "grid":
            doms = [p.domain() for p in params]
            n = math.prod(len(d) for d in doms)
            if n > MAX_POINTS:
                raise SweepSpecError(self.source, [("parameters", f"the grid has {n:,} points (limit {MAX_POINTS:,})")])
            return list(itertools.product(*doms))
        rng = np.random.Generator(np.random.PCG64(self.spec.seed))
        out = []
        for _ in range(int(self.spec.samples or 0)):
            row = []
            for p in params:
                if p.uniform is not None:
                    u = p.uniform
                    v = (math.exp(rng.uniform(math.log(u.low), math.log(u.high))) if u.log
                         else float(rng.uniform(u.low, u.high)))
                    row.append(int(round(v)) if u.integer else v)
                else:
                    dom = p.domain()
                    row.append(dom[int(rng.integers(len(dom)))])
            out.append(tuple(row))
        return out

    def _config(self, values: tuple) -> tuple[dict, dict[str, Any]]:
        cfg = self.base.config.model_dump(mode="json")
        base = self.base.config.model_dump(mode="json")
        cols: dict[str, Any] = {}
        set_area: set[int] = set()
        for par, locs, v in zip(self.spec.parameters, self.locs, values):
            vs = v if (isinstance(v, (list, tuple)) and len(locs) > 1) else [v] * len(locs)
            for (loc, _), p, x in zip(locs, par.paths, vs):
                _set(cfg, loc, x)
                cols[f"hw.{p}"] = x
                if loc[0] == "levels" and loc[-1] == "area_mm2":
                    set_area.add(loc[1])
        if self.spec.constraints.scale_area_with_capacity:
            for i, (lv, lv0) in enumerate(zip(cfg["levels"], base["levels"])):
                c, c0 = _capacity_bytes(lv), _capacity_bytes(lv0)
                if i not in set_area and lv0.get("area_mm2") is not None and c and c0 and c != c0:
                    lv["area_mm2"] = lv0["area_mm2"] * c / c0
        return cfg, cols

    def points(self) -> list[DesignPoint]:
        """Expand the spec (deterministic; point ids are positions in grid/draw order)."""
        cons = self.spec.constraints
        seen: dict[str, int] = {}
        out: list[DesignPoint] = []
        for i, values in enumerate(self.assignments()):
            cfg, cols = self._config(values)
            try:
                arch = parse_arch(cfg, f"{self.source} point {i}")
            except ConfigError as e:
                msg = "; ".join(f"{p}: {m}" for p, m in e.errors)
                out.append(DesignPoint(i, cols, None, reason=f"invalid config: {msg}"))
                continue
            digest = arch.digest()
            area = area_mm2(arch)
            common = dict(hw_digest=digest, area_mm2=area, peak_macs_per_cycle=arch.peak_macs_per_cycle)
            reason = ""
            if digest in seen:
                reason = f"duplicate of point {seen[digest]}"
            elif cons.max_area_mm2 is not None:
                if math.isnan(area):
                    reason = "area unknown: the config lacks " + ", ".join(_missing_area(cfg))
                elif area > cons.max_area_mm2:
                    reason = f"area {area:.4g} mm2 exceeds the budget of {cons.max_area_mm2:g} mm2"
            seen.setdefault(digest, i)
            out.append(DesignPoint(i, cols, None if reason else arch.config.model_dump(mode="json"), reason=reason,
                                   **common))
        return out


_pydantic_errors = pydantic_errors


def parse_sweep(data: object, source: str = "<sweep>", base_dir: str | Path = ".") -> Sweep:
    """Validate a parsed sweep YAML mapping; raise :class:`SweepSpecError` listing every problem."""
    if not isinstance(data, dict):
        raise SweepSpecError(source, [("<root>", "the sweep spec must be a YAML mapping")])
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as e:
        raise SweepSpecError(source, _pydantic_errors(e)) from None
    base_path = Path(base_dir) / spec.base
    try:
        base = load_arch(base_path if base_path.exists() else spec.base)
    except ConfigError as e:
        raise SweepSpecError(source, [("base", f"{spec.base}: " + "; ".join(f"{p}: {m}" for p, m in e.errors))]) from None
    cfg = base.config.model_dump(mode="json")
    errs: list[tuple[str, str]] = []
    locs: list[list[tuple[list, str]]] = []
    seen_paths: dict[str, str] = {}
    for i, par in enumerate(spec.parameters):
        pl = []
        for j, p in enumerate(par.paths):
            where = f"parameters[{i}].path" + (f"[{j}]" if isinstance(par.path, list) else "")
            try:
                loc, canon = _resolve(cfg, p)
            except ValueError as e:
                errs.append((where, f"{p}: {e}"))
                continue
            if canon in seen_paths:
                errs.append((where, f"{p} is also set by {seen_paths[canon]}"))
            seen_paths[canon] = where
            pl.append((loc, canon))
        locs.append(pl)
    # probe each value alone on the base config: type / range errors on the parameter's own path are
    # spec errors (every point would fail); errors elsewhere are combinations (dropped points)
    for i, (par, pl) in enumerate(zip(spec.parameters, locs)):
        if len(pl) != len(par.paths):  # a path did not resolve (reported above)
            continue
        if par.uniform is not None:
            probes = [(f"parameters[{i}].uniform.low", par.uniform.low), (f"parameters[{i}].uniform.high", par.uniform.high)]
            if par.uniform.integer:
                probes = [(w, int(round(v))) for w, v in probes]
        else:
            kind = "values" if par.values is not None else "range"
            probes = [(f"parameters[{i}].{kind}[{j}]", v) for j, v in enumerate(par.domain())]
        for where, v in probes:
            if len(pl) > 1 and not isinstance(v, (list, tuple)):
                v = [v] * len(pl)
            trial = base.config.model_dump(mode="json")
            for (loc, _), x in zip(pl, v if len(pl) > 1 else [v]):
                _set(trial, loc, x)
            try:
                parse_arch(trial)
            except ConfigError as e:
                own = {c for _, c in pl}
                mine = [f"{p}: {m}" for p, m in e.errors if p in own]
                if mine:
                    errs.append((where, f"{v!r}: " + "; ".join(mine)))
    c = spec.constraints
    if c.max_area_mm2 is not None and math.isnan(area_mm2(base)):
        if not any(canon.endswith("area_mm2") for pl in locs for _, canon in pl):
            errs.append(("constraints.max_area_mm2",
                         f"the base config {base.name!r} has no area figures (missing: {', '.join(_missing_area(cfg))}); "
                         "add them to the config or drop the area constraint"))
    if errs:
        raise SweepSpecError(source, errs)
    return Sweep(spec, source, base, locs)


def load_sweep(path: str | Path) -> Sweep:
    """Load and validate a sweep spec YAML (``yaml.safe_load``)."""
    p = Path(path)
    data = read_yaml(p, SweepSpecError)
    return parse_sweep(data, str(p), p.parent)


# ---------------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Workload:
    """A workload of a sweep: ``label`` is its name in the results table."""

    label: str
    kind: Literal["zoo", "onnx", "nb201", "layer"]
    ref: str | int  # zoo name, .onnx path, NB201 official index, or layer spec


def parse_workloads(specs: Sequence[str]) -> list[Workload]:
    """Resolve workload strings (see the module docstring); duplicates are kept once, in first-seen order.
    Raises :class:`SweepError` naming the bad string."""
    from accel.zoo import list_networks

    out: list[Workload] = []
    seen: set[str] = set()

    def add(w: Workload) -> None:
        if w.label not in seen:
            seen.add(w.label)
            out.append(w)

    if not specs:
        raise SweepError("no workloads given")
    for s in specs:
        s = str(s).strip()
        head, sep, rest = s.partition(":")
        if head in ("nb201", "nb201-sample") and sep:
            from nas import nb201

            if head == "nb201":
                try:
                    idx = nb201.arch_to_index(int(rest) if rest.strip().isdigit() else rest)
                except nb201.NB201Error as e:
                    raise SweepError(f"workload {s!r}: {e}") from None
                add(Workload(f"nb201:{nb201.arch_str(idx)}", "nb201", idx))
                continue
            n_s, sep2, seed_s = rest.partition(":")
            try:
                n, seed = int(n_s), int(seed_s)
            except ValueError:
                raise SweepError(f"workload {s!r}: expected nb201-sample:N:SEED with integers N and SEED") from None
            if not sep2 or not 1 <= n <= nb201.N_ARCHS or seed < 0:
                raise SweepError(f"workload {s!r}: expected nb201-sample:N:SEED with 1 <= N <= {nb201.N_ARCHS}, SEED >= 0")
            rng = np.random.Generator(np.random.PCG64(seed))
            for idx in rng.choice(nb201.N_ARCHS, size=n, replace=False):
                add(Workload(f"nb201:{nb201.arch_str(int(idx))}", "nb201", int(idx)))
            continue
        if head == "layer" and sep:
            from accel.workload import WorkloadError, parse_layer_spec

            try:
                parse_layer_spec(rest)
            except WorkloadError as e:
                raise SweepError(f"workload {s!r}: {e}") from None
            add(Workload(f"layer:{' '.join(rest.split())}", "layer", " ".join(rest.split())))
            continue
        p = Path(s)
        if p.suffix.lower() == ".onnx":
            if not p.is_file():
                raise SweepError(f"workload {s!r}: no such ONNX file")
            add(Workload(s, "onnx", str(p.resolve())))
            continue
        key = s.lower().replace("-", "_")
        if key not in list_networks():
            raise SweepError(f"unknown workload {s!r}: expected a zoo network ({', '.join(list_networks())}), "
                             "an .onnx file, nb201:<arch string|index>, nb201-sample:N:SEED or layer:<spec>")
        add(Workload(key, "zoo", key))
    return out


@functools.lru_cache(maxsize=64)
def _network(kind: str, ref: str | int, batch: int):
    """A workload's Network (cached per process; ONNX import is lazy: it needs the 'onnx' extra)."""
    if kind == "zoo":
        from accel.zoo import get_network

        return get_network(str(ref), batch=batch)
    if kind == "onnx":
        from accel.onnx_import import load_onnx_network

        return load_onnx_network(str(ref), batch=batch)
    if kind == "layer":
        import networkx as nx

        from accel.workload import Network, parse_layer_spec

        layer = parse_layer_spec(str(ref), name="layer")
        g = nx.DiGraph()
        g.add_node(layer.name, layer=layer)
        return Network(f"layer:{ref}", g, (layer.N, layer.C * layer.G, *layer.input_hw)).with_batch(batch)
    from nas import nb201

    return nb201.build_network(int(ref), "cifar10", batch)


def _weight_count_layer(layer) -> int:
    """Parameters (weights) of a conv / fc layer; MatMul's second operand is an activation, not a weight."""
    return int(layer.operand_sizes()[0]) if layer.op in ("conv", "fc") else 0


def _weight_count(net) -> int:
    return sum(_weight_count_layer(layer) for layer in net.layers)


def _derive(r: dict) -> dict:
    """EDP (pJ·s) and average power (mW; pJ/s = 1e-12 W = 1e-9 mW) from energy_pj and latency_s."""
    r["edp_pj_s"] = r["energy_pj"] * r["latency_s"]
    r["power_mw"] = r["energy_pj"] / r["latency_s"] * 1e-9 if r["latency_s"] > 0 else math.nan
    return r


@functools.lru_cache(maxsize=8)
def _nb201_shape_weights(dataset: str, batch: int) -> np.ndarray:
    from nas.hwcost import cost_structure

    st = cost_structure(dataset, batch)
    return np.array([_weight_count_layer(lay) for lay in st.layers], dtype=np.int64)


def nb201_params(indices: Sequence[int], batch: int = 1, dataset: str = "cifar10") -> np.ndarray:
    """Weight count (conv + fc) of NB201 networks by official index, from the unique layer shapes and
    their per-arch counts (:class:`nas.hwcost.NB201CostStructure`); shape (n,) int64."""
    from nas.hwcost import cost_structure

    idx = np.asarray(indices, dtype=np.int64)
    return cost_structure(dataset, batch).counts(idx) @ _nb201_shape_weights(dataset, batch)


# ---------------------------------------------------------------------------------------------
# Evaluation of a batch of design points (runs in the executor's workers)
# ---------------------------------------------------------------------------------------------
_METRICS = ("macs", "params", "latency_cycles", "latency_s", "energy_pj", "edp_pj_s", "power_mw")


@dataclass(frozen=True)
class _Task:
    batch_id: int
    points: tuple[DesignPoint, ...]
    workloads: tuple[Workload, ...]
    objective: str
    seed: int
    net_batch: int
    per_layer: bool
    max_power_mw: float | None
    effort: str


def _point_rows(p: DesignPoint, task: _Task) -> list[dict]:
    """Rows of one design point (one per workload, or per layer)."""
    from accel.evaluate import NetworkEvaluator
    from mapper.mapspace import NoValidMapping

    base = {"point": p.point, **p.params, "hw_digest": p.hw_digest, "area_mm2": p.area_mm2,
            "peak_macs_per_cycle": p.peak_macs_per_cycle}
    wl = task.workloads

    def row(w: Workload, reason: str = "", **vals) -> dict:
        r = {**base, "workload": w.label, "nb201_index": w.ref if w.kind == "nb201" else None,
             "status": "dropped" if reason else "ok", "reason": reason}
        r.update({m: vals.get(m, math.nan) for m in _METRICS})
        return r

    if p.dropped:
        return [row(w, p.reason) for w in wl]
    arch = parse_arch(p.config, p.label("sweep"))
    ev = NetworkEvaluator(arch, objective=task.objective, seed=task.seed, parallel=False, effort=task.effort)
    rows: list[dict] = []
    nb = [w for w in wl if w.kind == "nb201"]
    nb_tot: dict[str, dict] = {}
    nb_fail = ""
    if nb and not task.per_layer:
        from nas.hwcost import nb201_hwcost

        idx = [int(w.ref) for w in nb]
        try:
            df = nb201_hwcost(evaluator=ev, archs=idx, batch=task.net_batch, workers=1)
        except NoValidMapping as e:
            nb_fail = f"no valid mapping: {e}"
        else:
            cols = zip(df["macs"].tolist(), nb201_params(idx, task.net_batch).tolist(), df["latency_cycles"].tolist(),
                       df["latency_s"].tolist(), df["energy_pj"].tolist())
            for w, (macs, prm, cyc, sec, pj) in zip(nb, cols):
                nb_tot[w.label] = dict(macs=int(macs), params=int(prm), latency_cycles=float(cyc), latency_s=float(sec),
                                       energy_pj=float(pj))
    for w in wl:
        if w.kind == "nb201" and not task.per_layer:
            if nb_fail:
                rows.append(row(w, nb_fail))
                continue
            vals = nb_tot[w.label]
        else:
            net = _network(w.kind, w.ref, task.net_batch)
            try:
                res = ev.network(net)
            except NoValidMapping as e:
                rows.append(row(w, f"no valid mapping: {e}"))
                continue
            if task.per_layer:
                lf = res.to_frame().drop(columns=["network", "hw"])
                for lr, rec in zip(res.layers, lf.to_dict("records")):
                    r = row(w, params=_weight_count_layer(lr.layer), **{m: rec.pop(m) for m in
                                                                      ("macs", "latency_cycles", "latency_s", "energy_pj")})
                    r.update({"layer": rec.pop("layer"), "op": rec.pop("op"), "shape": lr.layer.describe()})
                    r.update(rec)
                    _derive(r)
                    rows.append(r)
                continue
            vals = dict(macs=int(res.macs), params=_weight_count(net), latency_cycles=float(res.latency_cycles),
                        latency_s=float(res.latency_s), energy_pj=float(res.energy_pj))
        rows.append(_derive(row(w, **vals)))
    cap = task.max_power_mw
    if cap is not None:  # average power per workload (per-layer rows are summed first) must fit the budget
        tot: dict[str, list[float]] = {}
        for r in rows:
            if r["status"] == "ok":
                t = tot.setdefault(r["workload"], [0.0, 0.0])
                t[0] += r["energy_pj"]
                t[1] += r["latency_s"]
        power = {k: e / s * 1e-9 for k, (e, s) in tot.items() if s > 0}
        over = {k: v for k, v in power.items() if v > cap}
        if over:
            k = max(over, key=over.get)
            msg = f"power {over[k]:.4g} mW on {k} exceeds the budget of {cap:g} mW"
            for r in rows:
                if r["status"] == "ok":
                    r["status"], r["reason"] = "dropped", msg
    return rows


def _run_batch(task: _Task) -> pd.DataFrame:
    """Evaluate one batch of design points (executor task; module-level so it pickles)."""
    rows: list[dict] = []
    for p in task.points:
        rows.extend(_point_rows(p, task))
    df = pd.DataFrame(rows)
    df["nb201_index"] = df["nb201_index"].astype("Int64")
    for c in ("point", "peak_macs_per_cycle"):
        df[c] = df[c].astype(np.int64)
    for c in ("status", "reason", "workload", "hw_digest"):
        df[c] = df[c].astype(str)
    return df


# ---------------------------------------------------------------------------------------------
# Driver: batches, executor, incremental parts, resume
# ---------------------------------------------------------------------------------------------
class SerialExecutor(Executor):
    """Runs each task in the calling process when it is submitted (no parallelism; for ``--jobs 1``,
    debugging and tests)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        f: Future = Future()
        try:
            f.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the caller through the future
            f.set_exception(e)
        return f


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write via a temp file in the same directory, fsync, then rename over ``path`` (atomic on POSIX)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    write(tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _parts_dir(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


def run_sweep(spec: Sweep | str | Path, workloads: Sequence[str], out_path: str | Path, executor: Executor | None = None,
              progress: Progress | None = None, batch_size: int = 8, per_layer: bool = False) -> pd.DataFrame:
    """Evaluate every design point of ``spec`` on ``workloads``; write the tidy table to ``out_path`` (Parquet).

    ``executor``: any :class:`concurrent.futures.Executor` (a process pool, ``dask.distributed``'s
    ``client.get_executor()``, :class:`SerialExecutor`); None = a local process pool over all CPUs, created
    and shut down here.  Tasks are batches of ``batch_size`` design points; the driver (this process)
    writes each finished batch to ``<out_path>.parts/`` at once (atomic rename), so workers need no
    shared file system.  ``progress(done_points, total_points)`` is called once at the start (with the
    points already done by an interrupted earlier run) and after every batch.

    Rerunning the same sweep (same spec, base config, workloads, batch size, per_layer, accelsim version)
    skips finished batches; a different sweep over existing parts is refused (:class:`SweepError`).
    When every batch is done, the parts are concatenated in batch order, sorted by point (stable) and
    written to ``out_path``; the parts directory is then removed.  Returns the table (``df.attrs``:
    run metadata).
    """
    sweep = spec if isinstance(spec, Sweep) else load_sweep(spec)
    if batch_size < 1:
        raise SweepError(f"batch_size must be >= 1, got {batch_size}")
    wls = parse_workloads(list(workloads))
    out = Path(out_path)
    if not out.parent.is_dir():
        raise SweepError(f"output directory {out.parent} does not exist")
    points = sweep.points()
    ident = {"accelsim_version": __version__, "sweep": sweep.name, "spec_hash": sweep.digest(),
             "workloads": [w.label for w in wls], "batch_size": batch_size, "per_layer": per_layer,
             "n_points": len(points), "seed": sweep.spec.seed, "objective": sweep.spec.objective,
             "workload_batch": sweep.spec.batch}
    run_id = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]
    attrs = {**ident, "run_id": run_id, "base_hw": sweep.base.name, "base_hw_digest": sweep.base.digest(),
             "parameters": sweep.columns, "constraints": sweep.spec.constraints.model_dump(mode="json"),
             "dropped_points": sum(p.dropped for p in points)}
    parts = _parts_dir(out)
    total = len(points)
    if out.exists() and not parts.exists():
        try:
            prev = pd.read_parquet(out)
        except Exception:  # noqa: BLE001 - not our table: recompute and overwrite
            prev = None
        if prev is not None and prev.attrs.get("run_id") == run_id:
            if progress:
                progress(total, total)
            return prev
    parts.mkdir(exist_ok=True)
    manifest = parts / "manifest.json"
    if manifest.exists():
        try:
            old = json.loads(manifest.read_text())
        except (OSError, ValueError):
            old = {}
        if old.get("run_id") != run_id:
            raise SweepError(f"{parts} holds partial results of a different sweep (run {old.get('run_id')}, "
                             f"this is {run_id}); delete it or choose another output path")
    else:
        _write_atomic(manifest, lambda t: t.write_text(json.dumps({**ident, "run_id": run_id}, indent=1)))
    for stray in parts.glob(".*.tmp-*"):
        stray.unlink(missing_ok=True)
    n_batches = -(-total // batch_size) if total else 0
    part = [parts / f"part-{b:06d}.parquet" for b in range(n_batches)]
    todo = [b for b in range(n_batches) if not part[b].exists()]
    done_pts = total - sum(min(batch_size, total - b * batch_size) for b in todo)
    if progress:
        progress(done_pts, total)
    tasks = iter(_Task(b, tuple(points[b * batch_size:(b + 1) * batch_size]), tuple(wls), sweep.spec.objective,
                       sweep.spec.seed, sweep.spec.batch, per_layer, sweep.spec.constraints.max_power_mw,
                       sweep.spec.search_effort) for b in todo)
    own = executor is None and bool(todo)
    if own:
        from concurrent.futures import ProcessPoolExecutor

        executor = ProcessPoolExecutor(max_workers=max(1, min(os.cpu_count() or 1, len(todo))))
    window = 2 * (os.cpu_count() or 1) + 2
    inflight: dict[Future, _Task] = {}

    def finish(f: Future) -> None:
        nonlocal done_pts
        t = inflight.pop(f)
        df = f.result()
        _write_atomic(part[t.batch_id], lambda tmp: df.to_parquet(tmp, index=False))
        done_pts += len(t.points)
        if progress:
            progress(done_pts, total)

    try:
        exhausted = not todo
        while True:
            while not exhausted and len(inflight) < window:
                t = next(tasks, None)
                if t is None:
                    exhausted = True
                    break
                f = executor.submit(_run_batch, t)  # type: ignore[union-attr]
                inflight[f] = t
                if f.done():  # a synchronous executor: write at once
                    finish(f)
            if not inflight:
                break
            ready, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            for f in sorted(ready, key=lambda f: inflight[f].batch_id):
                finish(f)
    finally:
        for f in inflight:
            f.cancel()
        if own:
            executor.shutdown(wait=True, cancel_futures=True)  # type: ignore[union-attr]
    frames = [pd.read_parquet(p) for p in part]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(df):
        df = df.sort_values("point", kind="stable").reset_index(drop=True)
    df.attrs = attrs
    _write_atomic(out, lambda tmp: df.to_parquet(tmp, index=False))
    shutil.rmtree(parts, ignore_errors=True)
    return df
