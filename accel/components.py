"""Component model (Accelergy-like): area, energy per access and leakage of accelerator components from
published numbers, as functions of capacity, width, banks, operand bitwidths and technology node.

Every number lives in ``accel/data/components.yaml`` with its source (publication / datasheet and table or page,
or "assumed" with the reasoning); this module holds only the laws that turn those points into functions:

* **Technology scaling** (Stillmaker & Baas, Integration 2017): an area at 45 nm times the published area
  factor of the target node; an energy (and a leakage, as hwcomponents does) times f_to(Vdd) / f_45(Vdd), with
  the published per-node fits f(V) = aV² + bV + c.  Nodes between tabulated ones interpolate linearly in the
  table index (65, 45, 28, 16 and 7 nm are all supported; 28 nm lies between the 32 and 20 nm rows).
* **Multiplier**: energy and area ∝ w·a (the product of the operand widths) — the same law as the model's MAC
  energy scaling (:func:`accel.arch.compile_arch`: ``mac_energy_pj · (w·a) / reference_bits²``) and the Bit
  Fusion brick count of :mod:`accel.precision` (⌈w/β⌉⌈a/β⌉ bricks ∝ w·a for multiples of β).  The coefficient
  is the mean of Horowitz's 8- and 32-bit points per bit² (energy: 3.1 % apart, i.e. the law fits both within
  2 %; area: 8-bit 4.4 µm²/bit², 32-bit 3.4 µm²/bit², the mean fits both within 15 %).
* **Adder**: energy and area ∝ bits (mean per bit of Horowitz's 8- and 32-bit points).  A MAC is a w×a
  multiplier plus an accumulator adder at the partial-sum width.
* **SRAM**: energy per bit of an access ∝ capacity^β per bank (β and the constant from a least-squares fit of
  Horowitz's 8 KB / 32 KB / 1 MB points in log-log space: β ≈ 0.47); an access of ``word_bits`` reads one bank of
  ``capacity / banks`` bytes.  Area = bits × bitcell area of the node / array efficiency (a small-macro
  efficiency from CACTI below ``small_macro_bytes``).  Leakage per bit from CACTI's 45 nm points, scaled to the
  node like energy (CACTI's 28 nm points agree within a factor 1.5), times the config's ``leakage_scale``.
* **Register files** (storage up to ``register_file.max_bytes`` per instance): flip-flop arrays, area = bits ×
  DFF area / placement utilization; energy per bit from CACTI's smallest array; leakage as SRAM.
* **Logic** (control, named extras): NAND2 gate equivalents × NAND2 area / placement utilization.
* **Wires / NoC**: energy per bit per mm from Keckler et al. (40 nm, scaled as energy); a hop is a PE pitch
  (√ PE area).
* **DRAM**: energy per bit by interface (DDR3, DDR4, LPDDR4, GDDR5, HBM2, HBM3).

:func:`load_components` validates the data file through :func:`accel.schema.read_yaml` and a strict pydantic
model; a broken file is a :class:`ComponentDataError` naming the YAML path.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
from pydantic import Field, ValidationError

from accel.schema import Strict, YamlError, pydantic_errors, read_yaml

__all__ = [
    "DATA_FILE", "ComponentDataError", "ComponentData", "load_components", "area_scale", "energy_scale",
    "multiplier_energy_pj", "multiplier_area_um2", "adder_energy_pj", "adder_area_um2", "mac_energy_pj",
    "mac_area_um2", "StorageCost", "storage_cost", "sram_energy_pj_per_bit", "logic_area_mm2", "logic_leakage_mw",
    "wire_energy_pj_per_bit_mm", "noc_energy_pj_per_bit_hop", "dram_energy_pj_per_bit", "DRAM_INTERFACES", "core_overhead",
]

DATA_FILE = Path(__file__).resolve().parent / "data" / "components.yaml"
FORMAT = "accelsim-components/1"
DRAM_INTERFACES = ("ddr3", "ddr4", "lpddr4", "gddr5", "hbm2", "hbm3")


class ComponentDataError(YamlError):
    """Invalid component data file; ``errors`` lists (yaml_path, message)."""

    what = "component data file"


class Sourced(Strict):
    value: float = Field(ge=0)
    source: str = Field(min_length=1)
    node_nm: float | None = Field(None, gt=0)


class OpPoint(Strict):
    bits: int = Field(ge=1, le=64)
    energy_pj: float = Field(gt=0)
    area_um2: float = Field(gt=0)


class Operator(Strict):
    source: str = Field(min_length=1)
    node_nm: float = Field(gt=0)
    points: list[OpPoint] = Field(min_length=1)


class Scaling(Strict):
    source: str = Field(min_length=1)
    rule: str = Field(min_length=1)
    nodes_nm: list[float] = Field(min_length=2)
    area_from_45nm: list[float]
    energy_poly: list[list[float]]
    vdd_v: Sourced


class SramEnergyPoint(Strict):
    bytes: float = Field(gt=0)
    energy_pj: float = Field(gt=0)


class SramEnergy(Strict):
    source: str = Field(min_length=1)
    node_nm: float = Field(gt=0)
    word_bits: int = Field(ge=1)
    points: list[SramEnergyPoint] = Field(min_length=2)
    write_over_read: Sourced


class Bitcell(Strict):
    node_nm: float = Field(gt=0)
    value: float = Field(gt=0)
    source: str = Field(min_length=1)


class LeakPoint(Strict):
    node_nm: float = Field(gt=0)
    bytes: float = Field(gt=0)
    leakage_mw: float = Field(gt=0)


class Leakage(Strict):
    source: str = Field(min_length=1)
    points: list[LeakPoint] = Field(min_length=1)


class Sram(Strict):
    energy: SramEnergy
    bitcell_um2: list[Bitcell] = Field(min_length=1)
    array_efficiency: Sourced
    small_macro_bytes: Sourced
    small_macro_efficiency: Sourced
    leakage: Leakage


class RfEnergy(Strict):
    read: float = Field(gt=0)
    write: float = Field(gt=0)
    node_nm: float = Field(gt=0)
    source: str = Field(min_length=1)


class RegisterFile(Strict):
    max_bytes: Sourced
    dff_area_um2: Sourced
    energy_pj_per_bit: RfEnergy


class Logic(Strict):
    nand2_area_um2: Sourced
    placement_utilization: Sourced
    leakage_nw_per_gate: Sourced


class Wire(Strict):
    energy_pj: float = Field(gt=0)
    bits: int = Field(ge=1)
    length_mm: float = Field(gt=0)
    node_nm: float = Field(gt=0)
    source: str = Field(min_length=1)


class Dram(Strict):
    interface: str
    energy_pj_per_bit: float = Field(gt=0)
    source: str = Field(min_length=1)


class ComponentData(Strict):
    format: str
    sources: dict[str, str]
    scaling: Scaling
    multiplier: Operator
    adder: Operator
    sram: Sram
    register_file: RegisterFile
    logic: Logic
    wire: Wire
    dram: list[Dram]
    core_overhead: Sourced


def _semantic(d: ComponentData) -> list[tuple[str, str]]:
    errs = []
    if d.format != FORMAT:
        errs.append(("format", f"unsupported format {d.format!r}; this accelsim reads {FORMAT!r}"))
    s = d.scaling
    n = len(s.nodes_nm)
    if len(s.area_from_45nm) != n or len(s.energy_poly) != n or any(len(p) != 3 for p in s.energy_poly):
        errs.append(("scaling", f"area_from_45nm and energy_poly need one entry per node ({n}), energy_poly "
                                "entries three coefficients"))
    if list(s.nodes_nm) != sorted(s.nodes_nm, reverse=True) or 45 not in s.nodes_nm:
        errs.append(("scaling.nodes_nm", "nodes must be listed largest first and include 45"))
    names = [x.interface for x in d.dram]
    if sorted(names) != sorted(DRAM_INTERFACES):
        errs.append(("dram", f"interfaces must be exactly {list(DRAM_INTERFACES)}, got {names}"))
    return errs


@functools.lru_cache(maxsize=4)
def load_components(path: str | Path | None = None) -> ComponentData:
    """Read and validate the component data file (default: the packaged ``accel/data/components.yaml``)."""
    p = Path(path) if path is not None else DATA_FILE
    data = read_yaml(p, ComponentDataError)
    if not isinstance(data, dict):
        raise ComponentDataError(str(p), [("<root>", "the component data file must be a mapping")])
    try:
        d = ComponentData.model_validate(data)
    except ValidationError as e:
        raise ComponentDataError(str(p), pydantic_errors(e)) from None
    errs = _semantic(d)
    if errs:
        raise ComponentDataError(str(p), errs)
    return d


# ------------------------------------------------------------------------------------------------------------------
# technology scaling
# ------------------------------------------------------------------------------------------------------------------
def _node_index(node_nm: float, d: ComponentData) -> float:
    nodes = d.scaling.nodes_nm
    if not nodes[-1] <= node_nm <= nodes[0]:
        raise ValueError(f"technology node {node_nm:g} nm is outside the scaling table ({nodes[-1]:g} … {nodes[0]:g} nm)")
    for i in range(len(nodes) - 1):
        big, small = nodes[i], nodes[i + 1]
        if small <= node_nm <= big:
            return i + (big - node_nm) / (big - small)
    return float(len(nodes) - 1)


def _interp(values: list[float], x: float) -> float:
    lo = int(math.floor(x))
    hi = min(lo + 1, len(values) - 1)
    return values[lo] * (1 - (x - lo)) + values[hi] * (x - lo)


@functools.lru_cache(maxsize=4096)  # pure (the packaged data file); a sweep calls it per design point
def area_scale(from_nm: float, to_nm: float) -> float:
    """Factor that turns an area at ``from_nm`` into one at ``to_nm`` (Stillmaker & Baas 2017)."""
    d = load_components()
    a = d.scaling.area_from_45nm
    return _interp(a, _node_index(to_nm, d)) / _interp(a, _node_index(from_nm, d))


def _energy_fit(node_nm: float, vdd: float, d: ComponentData) -> float:
    x = _node_index(node_nm, d)
    vals = [p[0] * vdd ** 2 + p[1] * vdd + p[2] for p in d.scaling.energy_poly]
    return _interp(vals, x)


@functools.lru_cache(maxsize=4096)  # pure (the packaged data file); a sweep calls it per design point
def energy_scale(from_nm: float, to_nm: float, vdd_v: float | None = None) -> float:
    """Factor that turns an energy (or leakage) at ``from_nm`` into one at ``to_nm`` (Stillmaker & Baas 2017,
    both nodes at ``vdd_v``, default the data file's)."""
    d = load_components()
    v = d.scaling.vdd_v.value if vdd_v is None else vdd_v
    return _energy_fit(to_nm, v, d) / _energy_fit(from_nm, v, d)


# ------------------------------------------------------------------------------------------------------------------
# arithmetic
# ------------------------------------------------------------------------------------------------------------------
def _per_unit(op: Operator, attr: str, power: int) -> float:
    return float(np.mean([getattr(p, attr) / p.bits ** power for p in op.points]))


def multiplier_energy_pj(w_bits: int, a_bits: int, node_nm: float) -> float:
    """A w×a-bit integer multiply: k·w·a (Horowitz 45 nm), scaled to the node."""
    m = load_components().multiplier
    return _per_unit(m, "energy_pj", 2) * w_bits * a_bits * energy_scale(m.node_nm, node_nm)


def multiplier_area_um2(w_bits: int, a_bits: int, node_nm: float) -> float:
    m = load_components().multiplier
    return _per_unit(m, "area_um2", 2) * w_bits * a_bits * area_scale(m.node_nm, node_nm)


def adder_energy_pj(bits: int, node_nm: float) -> float:
    a = load_components().adder
    return _per_unit(a, "energy_pj", 1) * bits * energy_scale(a.node_nm, node_nm)


def adder_area_um2(bits: int, node_nm: float) -> float:
    a = load_components().adder
    return _per_unit(a, "area_um2", 1) * bits * area_scale(a.node_nm, node_nm)


@functools.lru_cache(maxsize=4096)  # pure (the packaged data file); a sweep calls it per design point
def mac_energy_pj(w_bits: int, a_bits: int, acc_bits: int, node_nm: float) -> float:
    """Multiply (w×a) plus accumulate (an adder at the partial-sum width)."""
    return multiplier_energy_pj(w_bits, a_bits, node_nm) + adder_energy_pj(acc_bits, node_nm)


@functools.lru_cache(maxsize=4096)  # pure (the packaged data file); a sweep calls it per design point
def mac_area_um2(w_bits: int, a_bits: int, acc_bits: int, node_nm: float) -> float:
    return multiplier_area_um2(w_bits, a_bits, node_nm) + adder_area_um2(acc_bits, node_nm)


# ------------------------------------------------------------------------------------------------------------------
# storage
# ------------------------------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _sram_fit() -> tuple[float, float]:
    """(log C0, beta): energy per bit = exp(C0) · bytes^beta at the data file's node (log-log least squares)."""
    e = load_components().sram.energy
    x = np.log([p.bytes for p in e.points])
    y = np.log([p.energy_pj / e.word_bits for p in e.points])
    beta, c0 = np.polyfit(x, y, 1)
    return float(c0), float(beta)


def sram_energy_pj_per_bit(bank_bytes: float, node_nm: float) -> float:
    """Read energy per bit of an SRAM bank of ``bank_bytes`` (Horowitz points, power-law fit)."""
    c0, beta = _sram_fit()
    e = load_components().sram.energy
    return math.exp(c0) * bank_bytes ** beta * energy_scale(e.node_nm, node_nm)


@functools.lru_cache(maxsize=4096)  # pure (the packaged data file); a sweep calls it per design point
def _bitcell_um2(node_nm: float) -> float:
    """Published 6T cell area at the node; between published nodes, scaled from the nearest larger one."""
    cells = sorted(load_components().sram.bitcell_um2, key=lambda c: c.node_nm)
    for c in cells:
        if math.isclose(c.node_nm, node_nm):
            return c.value
    larger = [c for c in cells if c.node_nm > node_nm] or cells[-1:]
    ref = min(larger, key=lambda c: c.node_nm)
    return ref.value * area_scale(ref.node_nm, node_nm)


@functools.lru_cache(maxsize=4096)  # pure (the packaged data file); a sweep calls it per design point
def _sram_leak_mw_per_bit_45() -> float:
    pts = [p for p in load_components().sram.leakage.points if p.node_nm == 45]
    return float(np.mean([p.leakage_mw / (p.bytes * 8) for p in pts]))


class StorageCost(NamedTuple):
    """One storage instance: kind ('sram' | 'register_file'), area, energy per bit read / written, leakage."""

    kind: str
    area_mm2: float
    read_pj_per_bit: float
    write_pj_per_bit: float
    leakage_mw: float

    def read_pj(self, word_bits: int) -> float:
        """Energy of one read of a ``word_bits``-wide word (energy per bit × width)."""
        return self.read_pj_per_bit * word_bits

    def write_pj(self, word_bits: int) -> float:
        return self.write_pj_per_bit * word_bits


@functools.lru_cache(maxsize=4096)  # pure (the packaged data file); a sweep calls it per design point
def storage_cost(capacity_bytes: float, node_nm: float, banks: int = 1, leakage_scale: float = 1.0) -> StorageCost:
    """Cost of one storage instance of ``capacity_bytes`` in ``banks`` equal banks at ``node_nm``: flip-flop
    register file up to ``register_file.max_bytes``, SRAM above (module docstring)."""
    d = load_components()
    bits = capacity_bytes * 8
    leak = bits * _sram_leak_mw_per_bit_45() * energy_scale(45, node_nm) * leakage_scale
    rf = d.register_file
    if capacity_bytes <= rf.max_bytes.value:
        util = d.logic.placement_utilization.value
        area = bits * rf.dff_area_um2.value * area_scale(rf.dff_area_um2.node_nm or 45, node_nm) / util * 1e-6
        es = energy_scale(rf.energy_pj_per_bit.node_nm, node_nm)
        return StorageCost("register_file", area, rf.energy_pj_per_bit.read * es, rf.energy_pj_per_bit.write * es,
                           leak)
    s = d.sram
    eff = s.small_macro_efficiency.value if capacity_bytes / banks < s.small_macro_bytes.value \
        else s.array_efficiency.value
    area = bits * _bitcell_um2(node_nm) / eff * 1e-6
    e_bit = sram_energy_pj_per_bit(capacity_bytes / banks, node_nm)
    return StorageCost("sram", area, e_bit, e_bit * s.energy.write_over_read.value, leak)


# ------------------------------------------------------------------------------------------------------------------
# logic, wires, DRAM, core overhead
# ------------------------------------------------------------------------------------------------------------------
def logic_area_mm2(kgates: float, node_nm: float) -> float:
    """``kgates`` thousand NAND2 equivalents, placed at the data file's utilization."""
    lg = load_components().logic
    return kgates * 1e3 * lg.nand2_area_um2.value * area_scale(lg.nand2_area_um2.node_nm or 45, node_nm) \
        / lg.placement_utilization.value * 1e-6


def logic_leakage_mw(kgates: float, node_nm: float, leakage_scale: float = 1.0) -> float:
    lg = load_components().logic
    return kgates * 1e3 * lg.leakage_nw_per_gate.value * 1e-6 * \
        energy_scale(lg.leakage_nw_per_gate.node_nm or 45, node_nm) * leakage_scale


def wire_energy_pj_per_bit_mm(node_nm: float) -> float:
    w = load_components().wire
    return w.energy_pj / (w.bits * w.length_mm) * energy_scale(w.node_nm, node_nm)


def noc_energy_pj_per_bit_hop(hop_mm: float, node_nm: float) -> float:
    """Energy to move one bit one hop of ``hop_mm`` (e.g. a PE pitch, √ PE area) of on-chip wire."""
    return wire_energy_pj_per_bit_mm(node_nm) * hop_mm


def dram_energy_pj_per_bit(interface: str) -> float:
    for x in load_components().dram:
        if x.interface == interface:
            return x.energy_pj_per_bit
    raise ValueError(f"unknown DRAM interface {interface!r} (known: {', '.join(DRAM_INTERFACES)})")


def core_overhead() -> float:
    """Fraction of the summed component area added for the core's routing, power grid and whitespace."""
    return load_components().core_overhead.value
