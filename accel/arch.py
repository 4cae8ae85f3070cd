"""Accelerator description: YAML schema (validated once, at the boundary) → frozen config → numpy arrays.

A config (``version: 1``) describes

* ``pe_array``: rows × cols PEs, ``macs_per_pe`` MAC lanes per PE, MAC energy at reference bitwidths, the
  energy of a non-MAC op, cycles a PE spends accumulating a partial sum received from a neighbour (Eyeriss
  accumulates forwarded psums with its own adder: 1 cycle), and for systolic arrays the per-fold fill/drain.
* ``levels``: the memory hierarchy from DRAM (first) down to the per-PE register files (last).  Each level
  has a capacity (``size_bytes`` shared by the operands it keeps, or ``partitions_bytes`` per operand), an
  access word width, the operands it ``keeps`` (others bypass it), read/write bandwidth per instance in
  bits/cycle, read/write energy per word access (pJ), and optionally area.  ``per_pe: true`` marks levels
  replicated in every PE (the PE array fan-out sits above the first of them); ``fanout: {x, y}`` adds a
  spatial fan-out above any other level (e.g. Simba's PEs inside a chiplet).
* ``noc``: multicast of one read to many consumers, spatial reduction of partial sums, energy per bit moved
  across the array.
* ``bitwidths`` per operand (weights, inputs, outputs, psums): capacity in values = bits / operand bits,
  traffic in bits, access energy ∝ bits / word_bits, MAC energy ∝ (weight bits × input bits).
* ``dataflow``: a preset (row/weight/output/input stationary or unconstrained) or explicit mapping
  constraints: which dims may unroll on each array axis, dims that must unroll fully, dims the innermost
  level may iterate (stationarity) and dims it must iterate completely.
* ``clock_mhz``, ``static_power_mw``.

:func:`load_arch` validates with pydantic (:class:`accel.schema.Strict`: ``extra="forbid"``, strict types,
finite floats, duplicate YAML keys refused) and reports *all* problems with their YAML paths as one
:class:`ConfigError`.  Every number has a documented range (the table in :mod:`accel.schema`): at most 2^24
MAC lanes in all (rows × cols × macs_per_pe × every fan-out), sizes ≤ 1 PiB, bandwidths ≤ 2^40 bits/cycle,
energies ≤ 10^6 pJ, 10^-3 ≤ clock_mhz ≤ 10^6.  Only the outermost level (DRAM) may be unbounded: it omits
``size_bytes`` (or writes ``null``); ``.inf`` is not a size.  :func:`compile_arch` turns the frozen :class:`Arch` into
:class:`ArchArrays`, a NamedTuple of numpy arrays and scalars that the numba kernels take.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from accel.schema import (MAX_AREA_MM2, MAX_BANDWIDTH_BITS, MAX_CLOCK_MHZ, MAX_CYCLES_TERM, MAX_ENERGY_PJ,
                          MAX_OPERAND_BITS, MAX_PES, MAX_POWER_MW, MAX_SIZE_BYTES, MAX_WORD_BITS, MIN_CLOCK_MHZ, Name, Strict,
                          YamlError, pydantic_errors, read_yaml)

from accel.workload import DIM_INDEX, DIMS, N_DIMS, OPERANDS

SCHEMA_VERSION = 1


def _config_dir() -> Path:
    """The shipped configs: ``accel/configs`` in an installed wheel (setup.py copies the repo-root
    ``configs/`` there), else the repo-root ``configs/`` (source checkout, editable install)."""
    here = Path(__file__).resolve().parent
    packaged, root = here / "configs", here.parent / "configs"
    return root if not packaged.is_dir() and root.is_dir() else packaged


CONFIG_DIR = _config_dir()

Operand = Literal["weights", "inputs", "outputs"]
Dim = Literal["G", "N", "K", "C", "P", "Q", "R", "S"]


class ConfigError(YamlError):
    """Invalid accelerator config; ``errors`` lists (yaml_path, message)."""

    what = "accelerator config"




class Bitwidths(Strict):
    weights: int = Field(16, ge=1, le=MAX_OPERAND_BITS)
    inputs: int = Field(16, ge=1, le=MAX_OPERAND_BITS)
    outputs: int = Field(16, ge=1, le=MAX_OPERAND_BITS)
    psums: int = Field(16, ge=1, le=MAX_OPERAND_BITS, description="width of partial sums held below DRAM")


class Systolic(Strict):
    """Systolic timing: each fold (one pass of the stationary tile) adds rows_coef·rows + cols_coef·cols +
    constant cycles of fill/skew/drain (full array dims: a partial fold is padded), plus ``layer_constant``
    once per layer.  SCALE-Sim v2: ws/is (2, 1, -2), os (1, 1, -2), layer_constant -1 (accel/systolic.py)."""

    rows_coef: int = Field(0, ge=-MAX_CYCLES_TERM, le=MAX_CYCLES_TERM)
    cols_coef: int = Field(0, ge=-MAX_CYCLES_TERM, le=MAX_CYCLES_TERM)
    constant: int = Field(0, ge=-MAX_CYCLES_TERM, le=MAX_CYCLES_TERM)
    layer_constant: int = Field(0, ge=-MAX_CYCLES_TERM, le=MAX_CYCLES_TERM)


class PEArray(Strict):
    rows: int = Field(ge=1, le=MAX_PES)
    cols: int = Field(ge=1, le=MAX_PES)
    macs_per_pe: int = Field(1, ge=1, le=MAX_PES)
    mac_energy_pj: float = Field(gt=0, le=MAX_ENERGY_PJ, description="one MAC at reference_bits × reference_bits")
    reference_bits: int = Field(16, ge=1, le=MAX_OPERAND_BITS)
    op_energy_pj: float | None = Field(None, gt=0, le=MAX_ENERGY_PJ, description="one pooling/element-wise op; "
                                       "default: the MAC energy scaled to an adder (output bits / 16 of the MAC)")
    psum_accumulate_cycles: int = Field(0, ge=0, le=MAX_CYCLES_TERM)
    systolic: Systolic | None = None
    area_mm2: float | None = Field(None, ge=0, le=MAX_AREA_MM2, description="per PE")


class Fanout(Strict):
    x: int = Field(1, ge=1, le=MAX_PES)
    y: int = Field(1, ge=1, le=MAX_PES)


class Level(Strict):
    name: Name
    size_bytes: float | None = Field(None, gt=0, le=MAX_SIZE_BYTES,
                                     description="omitted / null: unbounded (only the outermost level, DRAM)")
    partitions_bytes: dict[Operand, float] | None = None
    word_bits: int = Field(ge=1, le=MAX_WORD_BITS)
    keeps: list[Operand]
    bypass_optional: list[Operand] = Field(default_factory=list)
    read_bandwidth_bits: float | None = Field(None, gt=0, le=MAX_BANDWIDTH_BITS,
                                              description="per instance per cycle; omitted / null: unbounded")
    write_bandwidth_bits: float | None = Field(None, gt=0, le=MAX_BANDWIDTH_BITS)
    shared_port: bool = False
    read_energy_pj: float = Field(ge=0, le=MAX_ENERGY_PJ, description="per word_bits access")
    write_energy_pj: float = Field(ge=0, le=MAX_ENERGY_PJ)
    per_pe: bool = False
    fanout: Fanout | None = None
    area_mm2: float | None = Field(None, ge=0, le=MAX_AREA_MM2, description="per instance")

    @field_validator("partitions_bytes")
    @classmethod
    def _positive_parts(cls, v):
        if v is not None:
            for k, b in v.items():
                if not 0 < b <= MAX_SIZE_BYTES:
                    raise ValueError(f"partition for {k} must be > 0 and <= {MAX_SIZE_BYTES:.0f} bytes (1 PiB), "
                                     f"got {b}")
        return v

    @model_validator(mode="after")
    def _check(self):
        if self.size_bytes is not None and self.partitions_bytes is not None:
            raise ValueError("give either size_bytes or partitions_bytes, not both")
        if self.partitions_bytes is not None:
            missing = [o for o in self.keeps if o not in self.partitions_bytes]
            if missing:
                raise ValueError(f"partitions_bytes lacks kept operand(s) {missing}")
        if len(set(self.keeps)) != len(self.keeps):
            raise ValueError("keeps lists an operand twice")
        extra = [o for o in self.bypass_optional if o not in self.keeps]
        if extra:
            raise ValueError(f"bypass_optional {extra} must be operands this level keeps")
        return self


class NoC(Strict):
    multicast: bool = True
    spatial_reduction: bool = True
    energy_pj_per_bit: float = Field(0.0, ge=0, le=MAX_ENERGY_PJ)


PRESETS = ("row_stationary", "weight_stationary", "output_stationary", "input_stationary", "unconstrained")


class Dataflow(Strict):
    preset: Literal["row_stationary", "weight_stationary", "output_stationary", "input_stationary",
                    "unconstrained"] = "unconstrained"
    spatial_x: list[Dim] | None = None
    spatial_y: list[Dim] | None = None
    spatial_full: list[Dim] | None = None
    innermost_only: list[Dim] | None = None
    innermost_full: list[Dim] | None = None


class ArchConfig(Strict):
    version: int
    name: Name
    description: str = ""
    sources: list[str] = Field(default_factory=list)
    clock_mhz: float = Field(ge=MIN_CLOCK_MHZ, le=MAX_CLOCK_MHZ)
    static_power_mw: float = Field(0.0, ge=0, le=MAX_POWER_MW)
    bitwidths: Bitwidths = Bitwidths()
    pe_array: PEArray
    noc: NoC = NoC()
    im2col: bool = Field(False, description="cost convs as their im2col GEMM (SCALE-Sim's view)")
    dataflow: Dataflow = Dataflow()
    levels: list[Level] = Field(min_length=1)

    @field_validator("version")
    @classmethod
    def _version(cls, v):
        if v != SCHEMA_VERSION:
            raise ValueError(f"unsupported schema version {v}; this accelsim reads version {SCHEMA_VERSION}")
        return v


# Dataflow presets as mapping constraints (spatial dims per array axis; innermost-level loop rules).
#   row_stationary   (Eyeriss, Chen et al. ISCA 2016): each PE runs a 1-D convolution of one filter row
#                    (S, Q at the spad), filter rows R unroll fully down the array's rows together with
#                    channels / output rows, output rows P across columns.
#   weight_stationary (TPU, NVDLA): reduction dims C,R,S on rows, K on columns; the PE-level loops
#                    only walk dims irrelevant to weights (N, P, Q) so each weight stays put.
#   output_stationary (ShiDianNao): output pixels P×Q on the array; PE-level loops walk C, R, S.
#   input_stationary: reduction dims on rows, output pixels on columns; PE-level loops walk K.
_PRESET_RULES: dict[str, dict[str, list[str]]] = {
    "row_stationary": dict(spatial_x=["P", "Q"], spatial_y=["R", "C", "K", "N", "P"], spatial_full=["R"],
                           innermost_only=list(DIMS), innermost_full=["S"]),
    "weight_stationary": dict(spatial_x=["K"], spatial_y=["C", "R", "S"], spatial_full=[],
                              innermost_only=["N", "P", "Q"], innermost_full=[]),
    "output_stationary": dict(spatial_x=["Q", "K"], spatial_y=["P", "N"], spatial_full=[],
                              innermost_only=["C", "R", "S"], innermost_full=[]),
    "input_stationary": dict(spatial_x=["N", "P", "Q"], spatial_y=["C", "R", "S"], spatial_full=[],
                             innermost_only=["K"], innermost_full=[]),
    "unconstrained": dict(spatial_x=list(DIMS), spatial_y=list(DIMS), spatial_full=[],
                          innermost_only=list(DIMS), innermost_full=[]),
}


def _semantic_errors(cfg: ArchConfig) -> list[tuple[str, str]]:
    """Cross-field checks pydantic cannot express per field; all are collected."""
    errs: list[tuple[str, str]] = []
    lv = cfg.levels
    if lv[0].size_bytes is not None or lv[0].partitions_bytes is not None:
        errs.append(("levels[0]", "the first (outermost) level is backing store (DRAM) and must be unbounded"))
    if set(lv[0].keeps) != set(OPERANDS):
        errs.append(("levels[0].keeps", "the outermost level must keep weights, inputs and outputs"))
    if not lv[-1].per_pe and len(lv) > 1:
        errs.append((f"levels[{len(lv) - 1}]", "the innermost level must be per_pe"))
    seen_pe = False
    for i, level in enumerate(lv):
        if level.per_pe:
            seen_pe = True
        elif seen_pe:
            errs.append((f"levels[{i}]", "a shared level cannot sit below a per_pe level"))
        if i > 0 and level.size_bytes is None and level.partitions_bytes is None:
            errs.append((f"levels[{i}].size_bytes", "only the outermost level may be unbounded"))
        if level.per_pe and level.fanout is not None:
            errs.append((f"levels[{i}].fanout", "per_pe levels take their fan-out from pe_array"))
        # smallest word the level must hold: one value of each kept operand
        for o in level.keeps:
            bits = _operand_bits(cfg.bitwidths, o, outer=(i == 0))
            if level.partitions_bytes is not None and level.partitions_bytes.get(o, 0) * 8 < bits:
                errs.append((f"levels[{i}].partitions_bytes.{o}",
                             f"{level.partitions_bytes[o]} B cannot hold one {bits}-bit {o} value"))
        if level.size_bytes is not None:
            need = sum(_operand_bits(cfg.bitwidths, o, outer=False) for o in level.keeps)
            if level.size_bytes * 8 < need:
                errs.append((f"levels[{i}].size_bytes",
                             f"{level.size_bytes} B cannot hold one value of each kept operand ({need} bits)"))
    if len({level.name for level in lv}) != len(lv):
        errs.append(("levels", "level names must be unique"))
    pa = cfg.pe_array
    lanes = pa.rows * pa.cols * pa.macs_per_pe * math.prod(x.fanout.x * x.fanout.y for x in lv[1:] if x.fanout)
    if lanes > MAX_PES:
        errs.append(("pe_array", f"{lanes:,} MAC lanes (rows x cols x macs_per_pe x every fan-out) exceed the "
                                 f"limit of {MAX_PES:,} (2^24)"))
    if cfg.pe_array.systolic is not None and cfg.pe_array.psum_accumulate_cycles:
        errs.append(("pe_array", "a systolic array accumulates in the MAC: psum_accumulate_cycles must be 0"))
    return errs


def _raw_capacity_errors(data: dict) -> list[tuple[str, str]]:
    """"Level too small to hold one value" on the raw mapping, so these are reported even when other
    fields fail validation (pydantic stops before cross-field checks)."""
    errs: list[tuple[str, str]] = []
    bw = data.get("bitwidths") if isinstance(data.get("bitwidths"), dict) else {}

    def bits(o: str) -> float:
        v = bw.get("psums" if o == "outputs" else o, 16)
        return v if _is_number(v) and 0 < v <= MAX_OPERAND_BITS else 16

    levels = data.get("levels") if isinstance(data.get("levels"), list) else []
    for i, lv in enumerate(levels):
        if not isinstance(lv, dict):
            continue
        parts = lv.get("partitions_bytes")
        if isinstance(parts, dict):
            for o, b in parts.items():
                if o in OPERANDS and _is_number(b) and 0 < b * 8 < bits(o):
                    errs.append((f"levels[{i}].partitions_bytes.{o}", f"{b} B cannot hold one {bits(o):g}-bit {o} value"))
        size = lv.get("size_bytes")
        keeps = lv.get("keeps") if isinstance(lv.get("keeps"), list) else []
        need = sum(bits(o) for o in keeps if o in OPERANDS)
        if _is_number(size) and 0 < size * 8 < need:
            errs.append((f"levels[{i}].size_bytes", f"{size} B cannot hold one value of each kept operand ({need:g} bits)"))
    return errs


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _operand_bits(b: Bitwidths, operand: str, outer: bool) -> int:
    if operand == "weights":
        return b.weights
    if operand == "inputs":
        return b.inputs
    return b.outputs if outer else b.psums


def parse_arch(data: object, source: str = "<config>") -> "Arch":
    """Validate a parsed YAML mapping; raise :class:`ConfigError` listing every problem with its path."""
    if not isinstance(data, dict):
        raise ConfigError(source, [("<root>", "the config must be a YAML mapping")])
    try:
        cfg = ArchConfig.model_validate(data)
    except ValidationError as e:
        errs = pydantic_errors(e)
        seen = {p for p, _ in errs}
        errs += [e for e in _raw_capacity_errors(data) if e[0] not in seen]
        raise ConfigError(source, errs) from None
    errs = _semantic_errors(cfg)
    if errs:
        raise ConfigError(source, errs)
    return Arch(cfg, source)


def load_arch(path: str | Path) -> "Arch":
    """Load and validate an accelerator YAML (``yaml.safe_load``); a bare name looks in ``configs/``."""
    p = Path(path)
    if not p.exists() and not p.suffix:
        p = CONFIG_DIR / f"{path}.yaml"
    data = read_yaml(p, ConfigError)
    return parse_arch(data, str(p))


class ArchArrays(NamedTuple):
    """Compiled accelerator for the numba kernels (L memory levels, index 0 = DRAM).

    Fan-out arrays have L+1 entries: entry l (1 ≤ l ≤ L-1) is the spatial fan-out between level l-1 and
    level l; entry L is the MAC lanes inside a PE (``macs_per_pe`` along x); entry 0 is unused (1).
    """

    n_levels: int
    size_bits: np.ndarray  # (L,) float64, shared capacity per instance; inf = unbounded; 0 = partitioned
    part_bits: np.ndarray  # (L, 3) float64 per-operand capacity per instance (0 when shared)
    keeps: np.ndarray  # (L, 3) int64 1 if the level may keep the operand
    bypass_ok: np.ndarray  # (L, 3) int64 1 if the mapper may choose to bypass it
    read_bw: np.ndarray  # (L,) bits/cycle per instance (inf = unbounded)
    write_bw: np.ndarray  # (L,)
    shared_port: np.ndarray  # (L,) int64
    read_e_bit: np.ndarray  # (L,) pJ per bit read
    write_e_bit: np.ndarray  # (L,) pJ per bit written
    fanout_x: np.ndarray  # (L+1,) int64
    fanout_y: np.ndarray  # (L+1,) int64
    op_bits: np.ndarray  # (L, 3) float64 bits of each operand as stored at each level
    noc_e_bit: float
    multicast: int
    spatial_reduction: int
    mac_energy_pj: float  # at the configured bitwidths
    op_energy_pj: float
    psum_acc_cycles: float
    fold_rows_coef: float
    fold_cols_coef: float
    fold_const: float
    layer_const: float
    systolic: int
    static_power_mw: float
    clock_hz: float
    im2col: int
    allow_x: np.ndarray  # (8,) int64
    allow_y: np.ndarray  # (8,) int64
    spatial_full: np.ndarray  # (8,) int64
    innermost_only: np.ndarray  # (8,) int64
    innermost_full: np.ndarray  # (8,) int64
    pe_level: int  # index of the level whose fan-out is the PE array


class Arch:
    """A validated accelerator: the frozen pydantic config plus its compiled arrays (built once)."""

    def __init__(self, config: ArchConfig, source: str = "<config>"):
        self.config = config
        self.source = source
        self.arrays = compile_arch(config)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def level_names(self) -> list[str]:
        return [level.name for level in self.config.levels]

    @property
    def num_pes(self) -> int:
        return self.config.pe_array.rows * self.config.pe_array.cols

    @property
    def peak_macs_per_cycle(self) -> int:
        a = self.arrays
        return int(np.prod(a.fanout_x) * np.prod(a.fanout_y))

    def digest(self) -> str:
        """Stable hash of the validated config (for caches and run metadata)."""
        blob = json.dumps(self.config.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def summary(self) -> str:
        c = self.config
        glb = [lv for lv in c.levels[1:] if not lv.per_pe]
        glb_s = ", ".join(f"{lv.name} {lv.size_bytes / 1024:g} KiB" if lv.size_bytes else
                          f"{lv.name} {sum(lv.partitions_bytes.values()) / 1024:g} KiB (partitioned)" for lv in glb)
        return (f"{c.pe_array.rows}x{c.pe_array.cols} PEs x{c.pe_array.macs_per_pe} MAC, "
                f"{self.peak_macs_per_cycle} MAC/cycle @ {c.clock_mhz:g} MHz, {glb_s or 'no shared buffer'}, "
                f"{c.dataflow.preset}, {c.bitwidths.weights}/{c.bitwidths.inputs}-bit W/I")

    def with_config(self, **changes) -> "Arch":
        """A new Arch with top-level config fields replaced (re-validated)."""
        data = self.config.model_dump(mode="python")
        data.update(changes)
        return parse_arch(data, self.source)


def _dimmask(dims) -> np.ndarray:
    m = np.zeros(N_DIMS, dtype=np.int64)
    for d in dims:
        m[DIM_INDEX[d]] = 1
    return m


def compile_arch(cfg: ArchConfig) -> ArchArrays:
    """Frozen config → :class:`ArchArrays` (plain numpy, no strings)."""
    lv = cfg.levels
    L = len(lv)
    b = cfg.bitwidths
    size_bits = np.zeros(L)
    part_bits = np.zeros((L, 3))
    keeps = np.zeros((L, 3), dtype=np.int64)
    bypass_ok = np.zeros((L, 3), dtype=np.int64)
    op_bits = np.zeros((L, 3))
    rbw = np.full(L, np.inf)
    wbw = np.full(L, np.inf)
    shared = np.zeros(L, dtype=np.int64)
    re = np.zeros(L)
    we = np.zeros(L)
    fx = np.ones(L + 1, dtype=np.int64)
    fy = np.ones(L + 1, dtype=np.int64)
    pe_level = L  # no per-PE level: the PE array sits above the MACs directly
    for i, level in enumerate(lv):
        if level.size_bytes is None and level.partitions_bytes is None:
            size_bits[i] = np.inf
        elif level.size_bytes is not None:
            size_bits[i] = level.size_bytes * 8
        for j, o in enumerate(OPERANDS):
            op_bits[i, j] = _operand_bits(b, o, outer=(i == 0))
            if o in level.keeps:
                keeps[i, j] = 1
                if level.partitions_bytes is not None:
                    part_bits[i, j] = level.partitions_bytes[o] * 8
            if o in level.bypass_optional:
                bypass_ok[i, j] = 1
        if level.read_bandwidth_bits is not None:
            rbw[i] = level.read_bandwidth_bits
        if level.write_bandwidth_bits is not None:
            wbw[i] = level.write_bandwidth_bits
        shared[i] = int(level.shared_port)
        re[i] = level.read_energy_pj / level.word_bits
        we[i] = level.write_energy_pj / level.word_bits
        if level.fanout is not None and i > 0:
            fx[i], fy[i] = level.fanout.x, level.fanout.y
        if level.per_pe and pe_level == L:
            pe_level = i
    pa = cfg.pe_array
    if pe_level < L:
        fx[pe_level] *= pa.cols
        fy[pe_level] *= pa.rows
        fx[L] = pa.macs_per_pe
    else:  # no PE-local storage: every MAC of the array hangs off the innermost level
        fx[L] = pa.cols * pa.macs_per_pe
        fy[L] = pa.rows
    # MAC energy: a multiplier's energy grows with the product of its operand widths (array multiplier).
    mac_e = pa.mac_energy_pj * (b.weights * b.inputs) / (pa.reference_bits ** 2)
    # Non-MAC op: an adder/comparator at output precision, linear in width; default: 1/16 of a reference
    # MAC per 16 bits (adders are ~an order of magnitude cheaper than multipliers, Horowitz ISSCC 2014).
    op_e = pa.op_energy_pj if pa.op_energy_pj is not None else pa.mac_energy_pj * b.outputs / (16 * pa.reference_bits)
    rules = dict(_PRESET_RULES[cfg.dataflow.preset])
    for key in ("spatial_x", "spatial_y", "spatial_full", "innermost_only", "innermost_full"):
        v = getattr(cfg.dataflow, key)
        if v is not None:
            rules[key] = v
    sy = pa.systolic
    return ArchArrays(
        n_levels=L, size_bits=size_bits, part_bits=part_bits, keeps=keeps, bypass_ok=bypass_ok,
        read_bw=rbw, write_bw=wbw, shared_port=shared, read_e_bit=re, write_e_bit=we,
        fanout_x=fx, fanout_y=fy, op_bits=op_bits, noc_e_bit=float(cfg.noc.energy_pj_per_bit),
        multicast=int(cfg.noc.multicast), spatial_reduction=int(cfg.noc.spatial_reduction),
        mac_energy_pj=float(mac_e), op_energy_pj=float(op_e), psum_acc_cycles=float(pa.psum_accumulate_cycles),
        fold_rows_coef=float(sy.rows_coef if sy else 0), fold_cols_coef=float(sy.cols_coef if sy else 0),
        fold_const=float(sy.constant if sy else 0), layer_const=float(sy.layer_constant if sy else 0), systolic=int(sy is not None),
        static_power_mw=float(cfg.static_power_mw), clock_hz=float(cfg.clock_mhz) * 1e6, im2col=int(cfg.im2col),
        allow_x=_dimmask(rules["spatial_x"]), allow_y=_dimmask(rules["spatial_y"]),
        spatial_full=_dimmask(rules["spatial_full"]), innermost_only=_dimmask(rules["innermost_only"]),
        innermost_full=_dimmask(rules["innermost_full"]), pe_level=int(pe_level),
    )


def list_configs(directory: Path | None = None) -> list[Path]:
    """Shipped accelerator YAMLs (sorted); none found (a broken install) is a :class:`ConfigError`."""
    directory = CONFIG_DIR if directory is None else Path(directory)
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise ConfigError(str(directory), [("<dir>", "no accelerator configs (*.yaml) found: the shipped configs "
                                                     "are missing from this installation")])
    return paths


def area_mm2(arch: Arch) -> float:
    """Total area: PE array (per-PE area × PEs) + each level's area × its instance count; NaN if unknown."""
    c = arch.config
    a = arch.arrays
    total = 0.0
    if c.pe_array.area_mm2 is None:
        return math.nan
    total += c.pe_array.area_mm2 * arch.num_pes
    inst = 1
    for i, level in enumerate(c.levels):
        inst *= int(a.fanout_x[i] * a.fanout_y[i])
        if i == 0:
            continue
        if level.area_mm2 is None:
            return math.nan
        total += level.area_mm2 * inst
    return total
