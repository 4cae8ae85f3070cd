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
* ``constraints``: per-level and per-fan-out mapping constraints (Timeloop's mapspace constraints), a list of
  ``{target, type, ...}`` entries, at most one per (target, type):

  - ``type: temporal``, ``target: LEVEL`` — ``factors: {DIM: F}`` fixes the level's temporal factor of DIM
    (``F`` ≥ 1 exact, e.g. ``{K: 16, C: 1}``; ``0`` = the residual: this level takes all of DIM left after
    spatial unrolling and the exact factors of other levels, every unconstrained level iterates DIM once;
    ``"<=N"`` = at most N); a dim not listed is free, ``DIM: 1`` forbids the level to iterate it.
    ``permutation: "SRQ"`` (dims inner → outer, as Timeloop writes it) fixes the innermost loops of the level
    in that order (loops of factor 1 do not count); a partial permutation leaves the dims it omits free
    above it.
  - ``type: spatial``, ``target: LEVEL`` (the fan-out directly above that level's instances), ``pe_array``
    or ``macs`` (the MAC lanes inside a PE) — ``factors`` as above for the spatial factor (x × y, or one axis
    with ``axis: x | y``); ``x: [DIMS]`` / ``y: [DIMS]`` the dims that may unroll on each axis (Timeloop's
    ``split``).
  - ``type: bypass``, ``target: LEVEL`` — ``keep: [operands]`` the level must hold, ``bypass: [operands]`` it
    must not (operands it keeps by choice, ``bypass_optional``, or never keeps).

  Factor, permutation and spatial constraints constrain MAC layers (conv, FC, matmul), as the dataflow
  rules do; keep/bypass constrains every layer.  The mapspace (:mod:`mapper.mapspace`) enumerates only
  mappings that satisfy them, and names the constraint (``constraints[i]...``) when none does.
* ``clock_mhz``, ``static_power_mw``.
* ``conventions``: the modelling conventions on which the reference tools differ (issue 12).  Every default is
  Timeloop's (Parashar et al., ISPASS 2019; the Timeloop v0.4 model), so a config that says nothing is costed
  the way Timeloop costs it; a config describing a measured chip may choose otherwise.

  - ``mac_operand_reuse`` (bool, default false): false — every MAC reads each of its operands from the
    innermost level that keeps it and read-modify-writes its partial sum there (one access per MAC per operand,
    Timeloop's and ZigZag's convention: operand registers exist only where the config declares a register
    level).  true — the MAC holds an operand across the innermost loops that do not index it (accelsim before issue 12):
    only a change of the operand costs an access.
  - ``psum_drain_read`` (bool, default false): false — draining a partial-sum tile to the parent level costs a
    write of the parent but no read of the child (Timeloop).  true — the child is also read for every value it
    drains.
  - ``padded_accesses`` (``skip`` | ``count``, default ``skip``): tiling factors whose product exceeds a dim pad
    the loop nest; cycles always count the padded iterations.  ``skip`` — a value is charged (read, written,
    moved over the NoC) only where an iteration whose indices in the dims the operand depends on are all in
    bounds touches it, as in Timeloop, whose imperfect factorization runs smaller residual tiles.  ``count`` —
    padded tiles are charged whole (ZigZag pads the tensors).  Iterations padded only in a dim the operand does
    not depend on still move it.
  - ``transfer_overlap`` (``double_buffered`` | ``serial_onload``, or a map level name → one of them; levels
    not named are ``double_buffered``; default ``double_buffered`` everywhere): ``double_buffered`` — the
    transfers that fill (or drain) a level overlap compute: only their excess over compute stalls, plus the
    first tile's prologue and the last output tile's epilogue (Timeloop).  ``serial_onload`` — every transfer
    between the level and its parent is serialized with compute (no double buffering): the parent's per-
    instance traffic for the level over the parent's bandwidth is added to the latency (ZigZag's onloading of
    the top on-chip tile is the case of one fill).
  - ``halo_reuse`` (bool, default true): true — when consecutive temporal iterations above a level slide a
    convolution's input window along one axis of the input (rows or columns) and leave every other input
    coordinate unchanged, the level is filled with only the new rows (columns): Timeloop's delta between
    consecutive tiles, whose axis-aligned hyper-rectangle difference is taken only when the two tiles differ
    along one axis (a jump along both axes, or of any other input coordinate, refetches the whole tile).
    false — any change of the tile refetches it whole (ZigZag 3.9.1, accelsim before issue 12).
  - ``access_granularity`` (``bit`` | ``word``, or a map level name → one of them; levels not named are
    ``bit``; default ``bit`` everywhere — the one default that is not Timeloop's, so a config written in
    accelsim's units keeps its numbers; :mod:`accel.timeloop` sets ``word`` on every imported level): ``bit`` —
    access energy is prorated per bit (``read_energy_pj`` / ``word_bits`` per bit; ZigZag, accelsim).
    ``word`` — the level is accessed in whole ``word_bits`` words (Timeloop's vector of ``block-size``
    values): per operand and direction (reads; writes = fills + updates), the mean per-instance stream of bits
    is rounded up to whole words, ``⌈count · operand bits / (instances · word_bits)⌉ · instances`` accesses at
    ``read_energy_pj`` (``write_energy_pj``) each (Timeloop's ``ComputeVectorAccesses``, which rounds fills and
    updates separately: the two can differ by one word per instance of an output level).
* ``fusion`` (inter-layer on-chip reuse, :mod:`mapper.fusion`): ``policy: none`` (default — every layer reads its
  inputs from DRAM and writes its output back, as Timeloop and ZigZag cost single layers), ``elementwise``
  (element-wise, activation and pooling layers, and residual operands, read their producer's output from the
  on-chip ``level`` when it fits there) or ``depth_first`` (every edge; a tensor that does not fit whole is
  streamed in bands of ``tile_rows`` output rows, Stream / DeFiNES style); ``level``: the shared on-chip level
  that holds the intermediates (default: the outermost level below DRAM).  A held intermediate reserves its
  bits at that level and the layers alive meanwhile are mapped with the reduced capacity.

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
import re
from pathlib import Path
from typing import Literal, NamedTuple

import numpy as np
from pydantic import Field, ValidationError, field_validator, model_validator

from accel.schema import (MAX_AREA_MM2, MAX_BANDWIDTH_BITS, MAX_CLOCK_MHZ, MAX_CYCLES_TERM, MAX_ENERGY_PJ,
                          MAX_LOOP_BOUND, MAX_OPERAND_BITS, MAX_PES, MAX_POWER_MW, MAX_SIZE_BYTES, MAX_WORD_BITS,
                          MIN_CLOCK_MHZ, Name, Strict, YamlError, pydantic_errors, read_yaml)

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
    leakage_mw: float | None = Field(None, ge=0, le=MAX_POWER_MW, description="per PE (area/power block)")


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
    leakage_mw: float | None = Field(None, ge=0, le=MAX_POWER_MW, description="per instance (area/power block)")
    banks: int = Field(1, ge=1, le=MAX_PES, description="equal SRAM banks per instance (component model)")

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


_MAX_RULE = re.compile(r"<=\s*([0-9]{1,10})")
CONSTRAINT_FANOUTS = ("pe_array", "macs")  # spatial targets besides level names


def parse_factor(v: int | str) -> tuple[str, int]:
    """A constraint factor → ("exact", N ≥ 1) | ("residual", 0) | ("max", N ≥ 1); ValueError otherwise."""
    if isinstance(v, int) and not isinstance(v, bool):
        if not 0 <= v <= MAX_LOOP_BOUND:
            raise ValueError(f"factor must be 0 (residual) or 1 … {MAX_LOOP_BOUND}, got {v}")
        return ("residual", 0) if v == 0 else ("exact", v)
    m = _MAX_RULE.fullmatch(str(v).strip())
    if not m or not 1 <= int(m.group(1)) <= MAX_LOOP_BOUND:
        raise ValueError(f"factor must be an integer N (exact), 0 (residual) or '<=N' (at most N), got {v!r}")
    return "max", int(m.group(1))


class Constraint(Strict):
    """One mapping constraint (see the module docstring for the rules)."""

    target: str
    type: Literal["temporal", "spatial", "bypass"]
    factors: dict[Dim, int | str] = Field(default_factory=dict)
    permutation: str | None = Field(None, description="dims inner → outer, e.g. 'SRQ' (temporal only)")
    axis: Literal["x", "y"] | None = Field(None, description="spatial: factors apply to this axis only")
    x: list[Dim] | None = None
    y: list[Dim] | None = None
    keep: list[Operand] = Field(default_factory=list)
    bypass: list[Operand] = Field(default_factory=list)

    @field_validator("factors")
    @classmethod
    def _factors(cls, v):
        for d, f in v.items():
            try:
                parse_factor(f)
            except ValueError as e:
                raise ValueError(f"{d}: {e}") from None
        return v

    @field_validator("permutation")
    @classmethod
    def _perm(cls, v):
        if v is not None:
            bad = [c for c in v if c not in DIMS]
            if bad:
                raise ValueError(f"unknown dim(s) {bad} (dims: {''.join(DIMS)})")
            if len(set(v)) != len(v):
                raise ValueError("a dim appears twice")
        return v

    @model_validator(mode="after")
    def _fields_of_type(self):
        allowed = {"temporal": {"factors", "permutation"}, "spatial": {"factors", "axis", "x", "y"},
                   "bypass": {"keep", "bypass"}}[self.type]
        given = {k for k in ("factors", "permutation", "axis", "x", "y", "keep", "bypass")
                 if getattr(self, k) not in (None, [], {})}
        extra = sorted(given - allowed)
        if extra:
            raise ValueError(f"{extra} do not apply to a {self.type} constraint (it takes {sorted(allowed)})")
        both = set(self.keep) & set(self.bypass)
        if both:
            raise ValueError(f"{sorted(both)} both kept and bypassed")
        return self


TransferOverlap = Literal["double_buffered", "serial_onload"]
AccessGranularity = Literal["bit", "word"]


class Conventions(Strict):
    """Modelling conventions (see the module docstring; defaults: Timeloop's)."""

    mac_operand_reuse: bool = Field(False, description="MAC holds operands across loops that do not index them")
    psum_drain_read: bool = Field(False, description="charge a child read for every partial sum drained up")
    padded_accesses: Literal["skip", "count"] = Field("skip", description="charge the padding of ceil factors")
    transfer_overlap: TransferOverlap | dict[str, TransferOverlap] = Field(
        "double_buffered", description="per level (map level name -> mode) or for every level")
    halo_reuse: bool = Field(True, description="fill only the new input rows/cols of a sliding window")
    access_granularity: AccessGranularity | dict[str, AccessGranularity] = Field(
        "bit", description="per level (map level name -> mode) or for every level: bit (prorated) or word "
                           "(partial words charged whole, Timeloop)")

# ---- area / power / technology block (issue 15) ---------------------------------------------------------------
class Extra(Strict):
    """A named chip component outside the PE array and the memory levels (clock network, control logic, I/O
    controllers, ...): its area (``area_mm2``, or ``kgates`` NAND2 equivalents through the component model's
    logic area), its always-on power while the accelerator runs (``power_mw``: charged as static power × latency,
    e.g. a clock tree's C·V²·f) and where the numbers come from (``source``, required)."""

    name: Name
    area_mm2: float | None = Field(None, ge=0, le=MAX_AREA_MM2)
    kgates: float | None = Field(None, ge=0, le=1e9)
    power_mw: float = Field(0.0, ge=0, le=MAX_POWER_MW)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _one_area(self):
        if self.area_mm2 is not None and self.kgates is not None:
            raise ValueError("give either area_mm2 or kgates, not both")
        return self


class Technology(Strict):
    """Technology and the component model (``accel/components.py``): the node every derived number is scaled to.

    With this block, each on-chip component whose ``area_mm2`` / ``leakage_mw`` the config does not state is
    derived from the component model (per PE: ``macs_per_pe`` MACs with a ``reference_bits``² multiplier and a
    ``bitwidths.psums`` accumulator; per
    level instance: SRAM or register-file storage of its capacity and ``banks``), and reports name the
    provenance of each number (``config`` or ``component-model``).  ``leakage_scale`` multiplies the model's
    leakage (its data are CACTI itrs-hp devices; a low-power process leaks far less).  ``core_overhead``
    overrides the component data's fraction of area added for routing / power grid / whitespace.  ``extras``
    are named components outside the array and levels.  ``dram``: the off-chip interface (informational; the
    DRAM level's energies stay explicit, :func:`accel.components.dram_energy_pj_per_bit` gives the figure)."""

    node_nm: float = Field(ge=7, le=130)
    leakage_scale: float = Field(1.0, ge=0, le=1e3)
    core_overhead: float | None = Field(None, ge=0, le=100)
    dram: Literal["ddr3", "ddr4", "lpddr4", "gddr5", "hbm2", "hbm3"] | None = None
    extras: list[Extra] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list)


class ComponentRow(NamedTuple):
    """One row of :func:`area_power_breakdown`: a component, how many instances, per-instance and total area
    (mm²) and leakage / always-on power (mW), and where each came from (``config`` | ``component-model`` |
    ``unknown``)."""

    component: str
    kind: str  # pe | level | extra | overhead
    count: int
    area_mm2: float  # per instance
    leakage_mw: float  # per instance (extras: always-on power)
    area_from: str
    leakage_from: str
    detail: str

    @property
    def total_area_mm2(self) -> float:
        return self.area_mm2 * self.count

    @property
    def total_leakage_mw(self) -> float:
        return self.leakage_mw * self.count


def _component_rows(cfg: "ArchConfig", inst: list[int], n_pes: int) -> list[ComponentRow]:
    """Per-component area and leakage (see :class:`Technology`); ``inst[i]`` = instances of level i."""
    from accel import components as cm

    tech = cfg.technology
    node = tech.node_nm if tech else None
    lscale = tech.leakage_scale if tech else 1.0
    rows: list[ComponentRow] = []
    pa, b = cfg.pe_array, cfg.bitwidths
    mac_a = mac_l = math.nan
    detail = ""
    if tech is not None:  # the multiplier is built for reference_bits (narrower operands reuse it)
        rb = pa.reference_bits
        mac_um2 = cm.mac_area_um2(rb, rb, b.psums, node)
        util = cm.load_components().logic.placement_utilization.value
        mac_a = mac_um2 * pa.macs_per_pe / util * 1e-6
        gates = mac_um2 * pa.macs_per_pe / (cm.load_components().logic.nand2_area_um2.value * cm.area_scale(45, node))
        mac_l = cm.logic_leakage_mw(gates / 1e3, node, lscale)
        detail = (f"{pa.macs_per_pe} x {rb}x{rb}-bit MAC, {b.psums}-bit accumulator @ {node:g} nm (model: "
                  f"{cm.mac_energy_pj(rb, rb, b.psums, node):.3g} pJ per MAC; config: {pa.mac_energy_pj:g})")
    a, af = (pa.area_mm2, "config") if pa.area_mm2 is not None else (mac_a, "component-model" if tech else "unknown")
    lk, lf = (pa.leakage_mw, "config") if pa.leakage_mw is not None else (
        (mac_l, "component-model") if tech else (0.0, "unknown"))
    rows.append(ComponentRow("PE", "pe", n_pes, a, lk, af, lf, detail))
    for i, level in enumerate(cfg.levels):
        if i == 0:
            continue  # off-chip backing store
        parts = list(level.partitions_bytes.values()) if level.partitions_bytes is not None else [level.size_bytes]
        m_a = m_l = math.nan
        detail = ""
        if tech is not None:
            costs = [cm.storage_cost(c, node, level.banks, lscale) for c in parts]
            m_a = sum(c.area_mm2 for c in costs)
            m_l = sum(c.leakage_mw for c in costs)
            detail = " + ".join(f"{c.kind} {cap:g} B" for c, cap in zip(costs, parts)) + \
                f" (model: {max(c.read_pj(level.word_bits) for c in costs):.3g} pJ per {level.word_bits}-bit read; " \
                f"config: {level.read_energy_pj:g})"
        a, af = (level.area_mm2, "config") if level.area_mm2 is not None else (
            m_a, "component-model" if tech else "unknown")
        lk, lf = (level.leakage_mw, "config") if level.leakage_mw is not None else (
            (m_l, "component-model") if tech else (0.0, "unknown"))
        rows.append(ComponentRow(level.name, "level", inst[i], a, lk, af, lf, detail))
    if tech is not None:
        for x in tech.extras:
            if x.area_mm2 is not None:
                xa, xf = x.area_mm2, "config"
            elif x.kgates is not None:
                xa, xf = cm.logic_area_mm2(x.kgates, node), "component-model"
            else:
                xa, xf = 0.0, "config"
            rows.append(ComponentRow(x.name, "extra", 1, xa, x.power_mw, xf, "config", x.source))
        frac = tech.core_overhead if tech.core_overhead is not None else cm.core_overhead()
        src = "config" if tech.core_overhead is not None else "component-model"
        base = sum(r.total_area_mm2 for r in rows)
        rows.append(ComponentRow("core_overhead", "overhead", 1, base * frac, 0.0, src, "config",
                                 f"{frac:g} x the other components (routing, power grid, clock tree, whitespace)"))
    return rows


def _instances(cfg: "ArchConfig") -> tuple[list[int], int]:
    """Instances of each level (index 0 = DRAM, 1) and the number of PEs."""
    lv = cfg.levels
    pe_level = next((i for i, level in enumerate(lv) if level.per_pe), len(lv))
    n_pes = cfg.pe_array.rows * cfg.pe_array.cols
    inst, k = [], 1
    for i, level in enumerate(lv):
        if i > 0 and level.fanout is not None:
            k *= level.fanout.x * level.fanout.y
        if i == pe_level:
            k *= n_pes
        inst.append(k)
    outer = inst[pe_level] // n_pes if pe_level < len(lv) else k
    return inst, n_pes * outer


def _leakage_total_mw(cfg: "ArchConfig", rows: list[ComponentRow] | None = None) -> float:
    if rows is None:
        inst, n_pes = _instances(cfg)
        rows = _component_rows(cfg, inst, n_pes)
    return sum(r.total_leakage_mw for r in rows if math.isfinite(r.leakage_mw))
# ---- end of the area / power / technology block ----------------------------------------------------------------


# ---- fusion: inter-layer on-chip reuse (mapper/fusion.py) ---------------------------------------------
FusionPolicy = Literal["none", "elementwise", "depth_first"]


class Fusion(Strict):
    """Inter-layer on-chip reuse policy (see the module docstring and :mod:`mapper.fusion`)."""

    policy: FusionPolicy = Field("none", description="none (single-layer, Timeloop/ZigZag), elementwise, depth_first")
    level: Name | None = Field(None, description="shared on-chip level holding fused intermediates; "
                                                 "default: the outermost level below DRAM")
    tile_rows: int | None = Field(None, ge=1, le=MAX_LOOP_BOUND,
                                  description="depth_first only: output rows per band of a streamed tensor")


def fusion_level(cfg: "ArchConfig") -> int:
    """Index of the level that holds fused intermediates (``fusion.level``, default level 1)."""
    names = [level.name for level in cfg.levels]
    return names.index(cfg.fusion.level) if cfg.fusion.level is not None else 1


def _fusion_errors(cfg: "ArchConfig") -> list[tuple[str, str]]:
    """``fusion``: the level exists, is on chip, shared (``size_bytes``, one instance: no fan-out above it),
    and ``tile_rows`` is given exactly for ``depth_first``."""
    f = cfg.fusion
    errs: list[tuple[str, str]] = []
    if f.policy == "depth_first" and f.tile_rows is None:
        errs.append(("fusion.tile_rows", "policy depth_first needs tile_rows (output rows per band)"))
    if f.policy != "depth_first" and f.tile_rows is not None:
        errs.append(("fusion.tile_rows", f"tile_rows applies to policy depth_first only, not {f.policy}"))
    if f.policy == "none" and f.level is None:
        return errs
    names = [level.name for level in cfg.levels]
    if f.level is not None and f.level not in names:
        return errs + [("fusion.level", f"no level named {f.level!r} (levels: {', '.join(names)})")]
    if len(names) < 2:
        return errs + [("fusion", "fusion needs an on-chip level below DRAM")]
    i = fusion_level(cfg)
    lv = cfg.levels[i]
    where = "fusion.level" if f.level is not None else "fusion"
    if i == 0:
        errs.append((where, "DRAM cannot hold fused intermediates: name an on-chip level"))
    elif lv.size_bytes is None or lv.per_pe or any(x.fanout is not None for x in cfg.levels[1:i + 1]):
        errs.append((where, f"level {lv.name!r} must be a single shared buffer (size_bytes, not per_pe, no fan-out "
                            f"above it) to hold fused intermediates"))
    return errs
# ---- end fusion ----------------------------------------------------------------------------------------


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
    constraints: list[Constraint] = Field(default_factory=list)
    conventions: Conventions = Conventions()
    fusion: Fusion = Fusion()  # inter-layer on-chip reuse (mapper/fusion.py)
    technology: Technology | None = None  # area/power block

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
    return errs + _constraint_errors(cfg) + _convention_errors(cfg) + _fusion_errors(cfg)


def _fanout_rows(cfg: ArchConfig) -> dict[str, int]:
    """Spatial constraint targets → fan-out row (as in :class:`ArchArrays`: row f sits above level f, row L
    is the MAC lanes): levels with a declared ``fanout`` or the PE array above them, ``pe_array``, ``macs``."""
    lv = cfg.levels
    L = len(lv)
    pe_level = next((i for i, level in enumerate(lv) if level.per_pe), L)
    rows = {level.name: i for i, level in enumerate(lv) if i > 0 and (level.fanout is not None or i == pe_level)}
    rows.update(pe_array=pe_level, macs=L)
    return rows


def _constraint_errors(cfg: ArchConfig) -> list[tuple[str, str]]:
    """Targets exist, at most one entry per (target, type[, axis]), keep/bypass agree with the level."""
    errs: list[tuple[str, str]] = []
    names = {level.name: i for i, level in enumerate(cfg.levels)}
    rows = _fanout_rows(cfg)
    seen: dict[tuple, int] = {}
    for i, c in enumerate(cfg.constraints):
        p = f"constraints[{i}]"
        if c.type == "spatial":
            if c.target not in rows:
                errs.append((f"{p}.target", f"no fan-out {c.target!r}: a spatial constraint targets a level with a "
                                            f"fan-out above it or {' / '.join(CONSTRAINT_FANOUTS)} (known: "
                                            f"{sorted(rows)})"))
                continue
            key = ("spatial", rows[c.target], c.axis)
        else:
            if c.target not in names:
                errs.append((f"{p}.target", f"unknown level {c.target!r} (levels: {list(names)})"))
                continue
            key = (c.type, names[c.target])
        if key in seen:
            errs.append((p, f"a second {c.type} constraint for {c.target!r}"
                            f"{' axis ' + c.axis if c.axis else ''} (the first is constraints[{seen[key]}])"))
        seen[key] = i
        if c.type == "bypass":
            level = cfg.levels[names[c.target]]
            bad = [o for o in c.keep if o not in level.keeps]
            if bad:
                errs.append((f"{p}.keep", f"{c.target!r} cannot keep {bad} (it keeps {level.keeps})"))
            must = [o for o in c.bypass if o in level.keeps and o not in level.bypass_optional]
            if must:
                errs.append((f"{p}.bypass", f"{c.target!r} always keeps {must} (bypass_optional: "
                                            f"{level.bypass_optional})"))
    return errs


def _convention_errors(cfg: ArchConfig) -> list[tuple[str, str]]:
    """``conventions.transfer_overlap`` may name only levels below DRAM (DRAM has no parent to load from);
    ``conventions.access_granularity`` only levels."""
    t = cfg.conventions.transfer_overlap
    names = [level.name for level in cfg.levels]
    errs = []
    if not isinstance(t, str):
        errs += [(f"conventions.transfer_overlap.{k}", f"no level below the outermost is named {k!r} "
                  f"(levels: {', '.join(names[1:]) or 'none'})") for k in t if k not in names[1:]]
    g = cfg.conventions.access_granularity
    if not isinstance(g, str):
        errs += [(f"conventions.access_granularity.{k}", f"no level is named {k!r} (levels: {', '.join(names)})")
                 for k in g if k not in names]
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
    """Load and validate an accelerator YAML (``yaml.safe_load``); a bare name looks in ``configs/``.  A config
    with a ``kind:`` key is a CPU / GPU device config: the result is an :class:`accel.device.Device` (an already
    loaded Device is returned as it is)."""
    if getattr(path, "is_device", False):
        return path
    p = Path(path)
    if not p.exists() and not p.suffix:
        p = CONFIG_DIR / f"{path}.yaml"
    data = read_yaml(p, ConfigError)
    if isinstance(data, dict) and "kind" in data:  # a processor device config (accel/device.py): kind: cpu|gpu
        from accel.device import parse_device

        return parse_device(data, str(p))
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
    mac_operand_reuse: int  # 1: the MAC holds operands across loops that do not index them (conventions)
    psum_drain_read: int  # 1: a drained partial sum costs a child read
    padded_skip: int  # 1: padded values are not charged (padded_accesses: skip)
    serial_onload: np.ndarray  # (L,) int64 1: transfers between the level and its parent are not overlapped
    halo_reuse: int  # 1: a window sliding along one input axis fills only the new rows / cols (conventions)
    block_bits: np.ndarray  # (L,) bits of a whole-word access (conventions.access_granularity: word), 0: per bit


_DEFAULT_FUSION = Fusion()


class Arch:
    """A validated accelerator: the frozen pydantic config plus its compiled arrays (built once)."""

    def __init__(self, config: ArchConfig, source: str = "<config>"):
        self.config = config
        self.source = source
        self._json: str | None = None
        inst, n_pes = _instances(config)
        self._components = tuple(_component_rows(config, inst, n_pes))  # area / leakage rows, built once
        self.arrays = compile_arch(config, list(self._components))
        self.constraints = compile_constraints(config)

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

    def config_json(self) -> str:
        """The validated config as compact JSON (the same values as ``model_dump(mode="json")``: every number
        is finite, the schema refuses the rest), serialised once per Arch."""
        if self._json is None:
            self._json = self.config.model_dump_json()
        return self._json

    def config_dict(self) -> dict:
        """The validated config as a JSON-able dict (``model_dump(mode="json")``); a new copy on every call."""
        return json.loads(self.config_json())

    def digest(self) -> str:
        """Stable hash of the validated config (for caches and run metadata)."""
        # a default fusion block (policy none) is left out: configs keep the digests they had before it existed
        d = self.config_dict()
        if self.config.fusion == _DEFAULT_FUSION:
            del d["fusion"]
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

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


class MappingConstraints(NamedTuple):
    """Compiled ``constraints`` (L memory levels; fan-out rows as in :class:`ArchArrays`).  Factor arrays
    hold 0 where a dim is free.  Spatial arrays index axis 0 = x, 1 = y, 2 = the product x × y."""

    t_exact: np.ndarray  # (L, 8) int64 exact temporal factor
    t_max: np.ndarray  # (L, 8) int64 largest temporal factor
    t_resid: np.ndarray  # (L, 8) int64 1: this level takes the residual
    perm: tuple  # per level: dims inner → outer (indices) that must be the innermost loops
    s_exact: np.ndarray  # (L+1, 3, 8) int64
    s_max: np.ndarray  # (L+1, 3, 8) int64
    s_resid: np.ndarray  # (L+1, 3, 8) int64
    s_allow: np.ndarray  # (L+1, 2, 8) int64 1 if the dim may unroll on the axis
    keep_force: np.ndarray  # (L, 3) int64 -1 free, 1 must keep, 0 must bypass
    t_paths: dict  # dim index → YAML paths of the temporal factor rules on it
    s_paths: dict  # fan-out row → YAML paths of its spatial rules
    key: str  # canonical text (mapspace cache key)

    @property
    def any_mapping_rules(self) -> bool:
        """True if factor, permutation or spatial rules exist (they constrain MAC layers)."""
        return bool(self.t_paths or self.s_paths or any(self.perm))


def compile_constraints(cfg: ArchConfig) -> MappingConstraints:
    """``cfg.constraints`` (validated: targets exist) → :class:`MappingConstraints`."""
    L = len(cfg.levels)
    names = {level.name: i for i, level in enumerate(cfg.levels)}
    rows = _fanout_rows(cfg)
    t = {k: np.zeros((L, N_DIMS), dtype=np.int64) for k in ("exact", "max", "residual")}
    sp = {k: np.zeros((L + 1, 3, N_DIMS), dtype=np.int64) for k in ("exact", "max", "residual")}
    allow = np.ones((L + 1, 2, N_DIMS), dtype=np.int64)
    keep = np.full((L, 3), -1, dtype=np.int64)
    perm: list[tuple[int, ...]] = [()] * L
    t_paths: dict[int, list[str]] = {}
    s_paths: dict[int, list[str]] = {}
    for i, c in enumerate(cfg.constraints):
        p = f"constraints[{i}]"
        if c.type == "bypass":
            lv = names[c.target]
            for o in c.keep:
                keep[lv, OPERANDS.index(o)] = 1
            for o in c.bypass:
                keep[lv, OPERANDS.index(o)] = 0
            continue
        if c.type == "temporal":
            lv = names[c.target]
            for d, f in c.factors.items():
                kind, n = parse_factor(f)
                t[kind][lv, DIM_INDEX[d]] = 1 if kind == "residual" else n
                t_paths.setdefault(DIM_INDEX[d], []).append(f"{p}.factors.{d} ({c.target} temporal {d}={f})")
            if c.permutation:
                perm[lv] = tuple(DIM_INDEX[d] for d in c.permutation)
            continue
        row = rows[c.target]
        ax = {"x": 0, "y": 1, None: 2}[c.axis]
        for d, f in c.factors.items():
            kind, n = parse_factor(f)
            sp[kind][row, ax, DIM_INDEX[d]] = 1 if kind == "residual" else n
        for a, dims in ((0, c.x), (1, c.y)):
            if dims is not None:
                allow[row, a] &= _dimmask(dims)
        s_paths.setdefault(row, []).append(f"{p} ({c.target} spatial"
                                           f"{', axis ' + c.axis if c.axis else ''})")
    key = json.dumps([c.model_dump(mode="json") for c in cfg.constraints], sort_keys=True)
    return MappingConstraints(t["exact"], t["max"], t["residual"], tuple(perm), sp["exact"], sp["max"],
                              sp["residual"], allow, keep, t_paths, s_paths, key)


def _dimmask(dims) -> np.ndarray:
    m = np.zeros(N_DIMS, dtype=np.int64)
    for d in dims:
        m[DIM_INDEX[d]] = 1
    return m


def compile_arch(cfg: ArchConfig, components: list[ComponentRow] | None = None) -> ArchArrays:
    """Frozen config → :class:`ArchArrays` (plain numpy, no strings); ``components``: the config's
    :func:`_component_rows` when the caller has them (their leakage is the static power's)."""
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
    cv = cfg.conventions
    serial = np.zeros(L, dtype=np.int64)
    for i, level in enumerate(lv):
        mode = cv.transfer_overlap if isinstance(cv.transfer_overlap, str) else cv.transfer_overlap.get(level.name)
        serial[i] = int(i > 0 and mode == "serial_onload")
    gran = [cv.access_granularity if isinstance(cv.access_granularity, str)
            else cv.access_granularity.get(level.name, "bit") for level in lv]
    block_bits = np.array([float(level.word_bits) if g == "word" else 0.0 for level, g in zip(lv, gran)])
    return ArchArrays(
        n_levels=L, size_bits=size_bits, part_bits=part_bits, keeps=keeps, bypass_ok=bypass_ok,
        read_bw=rbw, write_bw=wbw, shared_port=shared, read_e_bit=re, write_e_bit=we,
        fanout_x=fx, fanout_y=fy, op_bits=op_bits, noc_e_bit=float(cfg.noc.energy_pj_per_bit),
        multicast=int(cfg.noc.multicast), spatial_reduction=int(cfg.noc.spatial_reduction),
        mac_energy_pj=float(mac_e), op_energy_pj=float(op_e), psum_acc_cycles=float(pa.psum_accumulate_cycles),
        fold_rows_coef=float(sy.rows_coef if sy else 0), fold_cols_coef=float(sy.cols_coef if sy else 0),
        fold_const=float(sy.constant if sy else 0), layer_const=float(sy.layer_constant if sy else 0), systolic=int(sy is not None),
        static_power_mw=float(cfg.static_power_mw) + _leakage_total_mw(cfg, components), clock_hz=float(cfg.clock_mhz) * 1e6, im2col=int(cfg.im2col),
        allow_x=_dimmask(rules["spatial_x"]), allow_y=_dimmask(rules["spatial_y"]),
        spatial_full=_dimmask(rules["spatial_full"]), innermost_only=_dimmask(rules["innermost_only"]),
        innermost_full=_dimmask(rules["innermost_full"]), pe_level=int(pe_level),
        mac_operand_reuse=int(cv.mac_operand_reuse), psum_drain_read=int(cv.psum_drain_read),
        padded_skip=int(cv.padded_accesses == "skip"), serial_onload=serial, halo_reuse=int(cv.halo_reuse),
        block_bits=block_bits,
    )


def list_configs(directory: Path | None = None) -> list[Path]:
    """Shipped accelerator YAMLs (sorted); none found (a broken install) is a :class:`ConfigError`."""
    directory = CONFIG_DIR if directory is None else Path(directory)
    paths = sorted(directory.glob("*.yaml"))
    if not paths:
        raise ConfigError(str(directory), [("<dir>", "no accelerator configs (*.yaml) found: the shipped configs "
                                                     "are missing from this installation")])
    return paths


def area_power_breakdown(arch: Arch) -> list[ComponentRow]:
    """Every on-chip component's area and leakage / always-on power with its provenance (:class:`ComponentRow`):
    the PE array, each level below DRAM, the ``technology.extras`` and the core overhead."""
    rows = getattr(arch, "_components", None)  # an Arch built them once; a Device-like duck does not
    if rows is not None:
        return list(rows)
    inst, n_pes = _instances(arch.config)
    return _component_rows(arch.config, inst, n_pes)


def area_mm2(arch: Arch) -> float:
    """Total area (mm²).  An accelerator: every on-chip component of :func:`area_power_breakdown`; NaN if one is
    unknown (no ``area_mm2`` in the config and no ``technology`` block to derive it).  A CPU / GPU device config
    (accel/device.py): its die area (NaN if the config gives none)."""
    if getattr(arch, "is_device", False):
        return math.nan if arch.config.area_mm2 is None else float(arch.config.area_mm2)
    return float(sum(r.total_area_mm2 for r in area_power_breakdown(arch)))


def static_power_mw(arch: Arch) -> float:
    """Power drawn whenever the accelerator runs (mW): ``static_power_mw`` + every component's leakage +
    the extras' always-on power (what the cost model charges × latency)."""
    return float(arch.arrays.static_power_mw)
