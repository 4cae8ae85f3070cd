"""Accelerator design spaces: the versioned sweep-spec YAML and its expansion into validated design points.
The resumable sweep runner that evaluates them lives in :mod:`accel.app.sweep`.

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

Bounds (refused when the spec is loaded, before any expansion): a ``range`` has at most
:data:`MAX_RANGE_VALUES` (10^4) values, a positive ``step`` or a ``factor`` > 1, and ``start`` <= ``stop``; a
grid (product of every parameter's value count) and a random ``samples`` are at most :data:`MAX_POINTS`
(10^6) points; every number (``values``, ``range``, ``uniform``, constraints) must be finite; ``batch`` is at
most 2^31 and ``seed`` is 0 … 2^63 - 1.  Types are strict (:class:`accel.schema.Strict`: ``samples: "10"``
and ``batch: true`` are refused) and duplicate YAML keys are refused.
"""

from __future__ import annotations

from accel.errors import InputError
import hashlib
import itertools
import json
import math
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from accel.arch import Arch, ConfigError, area_mm2, load_arch, parse_arch
from accel.schema import (MAX_LOOP_BOUND, MAX_SEED, Strict, YamlError, fmt_loc, is_finite_tree, pydantic_errors,
                          read_yaml, show_value)


__all__ = [
    "SWEEP_SCHEMA_VERSION", "SweepSpec", "SweepSpecError", "SweepError", "Sweep", "DesignPoint", "load_sweep",
    "parse_sweep", "MAX_POINTS", "MAX_RANGE_VALUES",
]

SWEEP_SCHEMA_VERSION = 1
MAX_POINTS = 1_000_000
MAX_RANGE_VALUES = 10_000


class SweepSpecError(YamlError):
    """Invalid sweep spec; ``errors`` lists (yaml_path, message)."""

    what = "sweep spec"


class SweepError(InputError):
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
        if self.count() > MAX_RANGE_VALUES:
            by = f"step {self.step:g}" if self.step is not None else f"factor {self.factor!r}"
            raise ValueError(f"start {self.start:g}, stop {self.stop:g} and {by} give more than {MAX_RANGE_VALUES:,} "
                             f"values (the limit); use a larger {by.split()[0]} or a smaller stop")
        return self

    def count(self) -> float:
        """Number of values, computed without expanding (inf when it overflows a float)."""
        if self.step is not None:
            span = (self.stop - self.start) / self.step
        else:
            ratio = self.stop / self.start
            span = math.log(ratio) / math.log(self.factor) if math.isfinite(ratio) else math.inf
        if not math.isfinite(span):
            return math.inf
        return math.floor(span + 1e-9) + 1

    def values(self) -> list[float | int]:
        out: list[float] = []
        tol = 1e-9 * max(1.0, abs(self.stop))
        if self.step is not None:
            n = min(self.count(), MAX_RANGE_VALUES + 1)
            out = [self.start + i * self.step for i in range(int(n))]
            integral = float(self.start).is_integer() and float(self.step).is_integer()
        else:
            v = self.start
            while v <= self.stop + tol and len(out) <= MAX_RANGE_VALUES:
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

    def size(self) -> float:
        """Number of discrete values (grid mode), without expanding a range."""
        if self.values is not None:
            return len(self.values)
        if self.range is not None:
            return self.range.count()
        return math.inf

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
    seed: int = Field(0, ge=0, le=MAX_SEED)
    objective: Literal["edp", "latency", "energy"] = "edp"
    search_effort: Literal["fast", "thorough"] = Field(
        "fast", description="mapper budget per layer (mapper.search.BUDGETS); fast draws 6x fewer samples "
                            "than thorough, ~4.6x fewer evaluations in all (ResNet-50 on eyeriss), EDP within a few "
                            "% of thorough")
    batch: int = Field(1, ge=1, le=MAX_LOOP_BOUND)
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



# ---------------------------------------------------------------------------------------------
# Design points
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DesignPoint:
    """One accelerator of a sweep.  ``config`` is the validated config (JSON-able dict), None when the
    point was dropped before evaluation (``reason`` says why).  It is held as zlib-compressed JSON
    (``config_z``, ~0.5 KB instead of ~7 KB of dicts: a 100,000-point sweep keeps every point in its driver)
    and decoded on each access."""

    point: int
    params: dict[str, Any]  # "hw.<path>" → value
    config_z: bytes | None
    hw_digest: str = ""
    area_mm2: float = math.nan
    peak_macs_per_cycle: int = 0
    reason: str = ""

    @property
    def dropped(self) -> bool:
        return bool(self.reason)

    @property
    def config(self) -> dict | None:
        return None if self.config_z is None else json.loads(zlib.decompress(self.config_z))

    @staticmethod
    def pack(config_json: str) -> bytes:
        """``config_z`` of a config's JSON text (:meth:`accel.arch.Arch.config_json`)."""
        return zlib.compress(config_json.encode(), 1)

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
    _base_json: str | None = field(default=None, init=False, repr=False, compare=False)
    _base_dict: dict | None = field(default=None, init=False, repr=False, compare=False)

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
        if self._base_json is None:  # the base config, dumped once (a copy per point from its JSON)
            self._base_json = self.base.config_json()
            self._base_dict = json.loads(self._base_json)
        cfg = json.loads(self._base_json)
        base = self._base_dict
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
            out.append(DesignPoint(i, cols, None if reason else DesignPoint.pack(arch.config_json()), reason=reason,
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
    if spec.mode == "grid":  # before anything is expanded
        n = math.prod(p.size() for p in spec.parameters)
        if n > MAX_POINTS:
            raise SweepSpecError(source, [("parameters", f"the grid has {n:,} points (limit {MAX_POINTS:,}): the "
                                                         "product of every parameter's value count")])
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
        if par.uniform is not None:
            probes = [(f"parameters[{i}].uniform.low", par.uniform.low), (f"parameters[{i}].uniform.high", par.uniform.high)]
            if par.uniform.integer:
                probes = [(w, int(round(v))) for w, v in probes]
        else:
            kind = "values" if par.values is not None else "range"
            probes = [(f"parameters[{i}].{kind}[{j}]", v) for j, v in enumerate(par.domain())]
        bad = [(where, v) for where, v in probes if not is_finite_tree(v)]
        errs += [(where, f"{show_value(v)}: must be a finite number (NaN and ±inf are refused)") for where, v in bad]
        if bad or len(pl) != len(par.paths):  # a path did not resolve (reported above)
            continue
        mine_errs: list[tuple[str, str]] = []
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
                    mine_errs.append((where, f"{show_value(v)}: " + "; ".join(mine)))
        if par.range is not None and len(mine_errs) > 1:  # one line for a range, not one per value
            r = par.range
            where, msg = mine_errs[0]
            mine_errs = [(where, f"{msg} (and {len(mine_errs) - 1} more of the values of parameters[{i}].range, "
                                 f"start {r.start:g} to stop {r.stop:g})")]
        errs += mine_errs
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

