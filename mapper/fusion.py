"""Inter-layer on-chip reuse (layer fusion): which producer → consumer tensors stay in an on-chip level.

Without fusion (``fusion.policy: none``, the default — Timeloop and ZigZag cost one layer at a time) every
layer reads its inputs from DRAM and writes its output back.  With a policy, :func:`fuse_network` decides per
tensor (a producer's output and the edges to its consumers) whether it stays in the fusion level ``X``
(``fusion.level``, default the outermost level below DRAM; a single shared buffer).

Which edges are candidates (``fusion.policy``):

* ``elementwise``: edges into element-wise (activations, add, mul, …) and pooling layers — element-wise ops,
  activations and pooling fuse into their producer, and a residual ``add`` reads both operands (the skip
  tensor too) from ``X``.  The tensor is held whole, for all its candidate consumers or, failing that, for
  the one that runs right after its producer.
* ``depth_first``: every edge.  A tensor is held whole when it fits; otherwise, for one adjacent feature-map
  consumer (conv / pool / element-wise after conv / pool / element-wise), it is streamed in bands: producer
  and consumer both run in bands of ``tile_rows`` of their own output rows (each band a layer with
  ``P = tile_rows``, mapped on its own: every band fetches its weights again, and a window consumer re-reads
  its halo rows per band) and ``X`` holds a line buffer of
  ``min(H, tile_rows + (tile_rows − 1)·stride + (R − 1)·dilation + 1)`` producer rows (one band being written
  while the consumer reads its window of rows).  This is the depth-first (layer-fused) schedule of DeFiNES
  (L. Mei et al., "DeFiNES: Enabling Fast Exploration of the Depth-first Scheduling Space for DNN Accelerators
  through Analytical Modeling", HPCA 2023, doi:10.1109/HPCA56546.2023.10071098) and Stream (A. Symons et al.,
  "Stream: A Modeling Framework for Fine-grained Layer Fusion on Multi-core DNN Accelerators", ISPASS 2023,
  doi:10.1109/ISPASS57527.2023.00051) restricted to producer → consumer pairs, with the feature-map tiles
  cut along rows only and the overlap (halo) kept in the line buffer (DeFiNES's fully-cached overlap mode);
  a tensor whose consumers are not all adjacent in the schedule (a skip connection) must fit whole.
  Differences from DeFiNES: no column tiling, no stacks deeper than a pair, and weights are never kept on
  chip across bands (DeFiNES chooses per operand, layer and tile the memory level that holds it).

Capacity model (honest accounting).  A held tensor *reserves* its bits (whole tensor or line buffer, at the
output bitwidth, rounded up to 1/256 of the level) in ``X`` from its producer to its last fused consumer in
the schedule (the network's topological order; layers run one after another); every layer in that span is
mapped by the mapper with ``X``'s capacity reduced by everything reserved while it runs — the cached feature
maps occupy the buffer the layer's own tiles would otherwise use, as in DeFiNES, whose cost model picks for
every operand, layer and tile the memory level that can hold it given what the depth-first schedule keeps
there.  (The mapper still charges a consumer's tile of the held operand at ``X`` on top of the reservation,
although in place it is a view of the held tensor: capacity is over-, never under-counted.)  A
layer that then has no valid mapping makes the tensor go to DRAM.

Decision (greedy, in schedule order of the producers): a tensor is kept when doing so lowers the network's
DRAM traffic *and* does not worsen the evaluator's objective (EDP of the network totals, energy, or latency),
counting the re-mapped layers of its span — so fusion never increases DRAM traffic, and a reservation that
costs the layers more than it saves is refused.

Cost of a fused layer (a post-adjustment of its cost record, :func:`relocate`; the kernel itself is not
changed).  Let ``R0[o]``, ``W0[o]`` be the DRAM reads / writes of operand ``o`` the kernel counted (values),
``RX``, ``WX`` those of ``X``, ``φ[o]`` the share of operand ``o`` whose producers' tensors are held in ``X``
(by size; ``φ[out] = κ``, 1 when the layer's output is held — every consumer reads it from ``X`` — else 0).

* In place — ``X`` is the first level below DRAM that the mapping keeps ``o`` in: the held values already sit
  where the layer's ``X`` tiles hold them, so the DRAM ↔ ``X`` transfers of that share do not happen:

      R0'[o] = (1 − φ)·R0[o]    W0'[o] = (1 − φ)·W0[o]
      WX'[o] = (1 − φ)·WX[o]                       (weights, inputs: X's only writes are fills from DRAM)
      WX'[out] = WX[out] − κ·R0[out]               (partial sums no longer read back down from DRAM)
      RX'[out] = RX[out] − κ·W0[out]               (drain reads, with conventions.psum_drain_read only)

  (exact because ``X`` has one instance and no fan-out above it: a DRAM read-back is one ``X`` write, a
  drain one ``X`` read).
* Through ``X``'s port — the mapping bypasses ``X`` for ``o`` (or keeps it in a level above ``X``): the same
  values cross ``X``'s port instead of DRAM's:

      R0'[o] = (1 − φ)·R0[o]    RX'[o] = RX[o] + φ·R0[o]    W0'[o] = (1 − φ)·W0[o]    WX'[o] = WX[o] + φ·W0[o]

Then, for lv ∈ {DRAM, X}, with the kernel's formulas (:mod:`accel.cost`):

    E[lv, o] = (R'[lv, o]·e_read[lv] + W'[lv, o]·e_write[lv])·bits[lv, o]
    bw[lv]   = the overlapped bandwidth time: (read bits − S_r[lv], write bits − S_w[lv], each at least 0) over
               the bandwidth (shared port: their sum over the read bandwidth, else the slower side)
    latency' = max(compute + accumulate + fold, max_lv bw[lv]) + fill/drain + serial onload
    energy'  = Σ E + NoC + MAC + static_power·latency'

where ``S[lv]`` are the bits the kernel counts once outside the overlapped time (the first tile, the last
output tile and every ``serial_onload`` transfer; :func:`serial_bits`), and ``bw`` is the kernel's own
``_bandwidth_bound`` on the adjusted accesses — the overlapped time changes by exactly the bits moved
(down to 0).  The prologue / epilogue (fill/drain) cycles, the serial-onload cycles and the serial bits
``S`` stay those of the single-layer mapping (DRAM parent), also for the share that no longer crosses DRAM
(an upper bound: ``X`` is faster than DRAM in every shipped config, and a first tile already in ``X`` needs
no prologue.  Where moved bits were serial ones, the overlapped time is lower by at most their transfer
time while the unchanged prologue / onload still counts at least that time, so the latency is never below
the one with the serial terms re-timed; an element-wise layer whose first tile is its whole input keeps its
whole DRAM prologue).  Every record is the kernel's for its mapping on the full
``arch`` (:func:`relocate`), also for a layer that only runs beside a reservation.  ``fusion: none`` never
calls this module, so its numbers are the single-layer ones exactly.  ``tests/reference_fusion_walker.py``
checks the equations element by element against a literal walk of a producer → consumer pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from accel.arch import Arch, fusion_level
from accel.cost import (CostRecord, Mapping, _access_energy_pj, _bandwidth_bound, _evaluate_into, compile_layer,
                        lower_im2col, mapping_arrays, record_from_raw, scratch)
from accel.errors import MappingError
from accel.layout import (O_ACCUM, O_ACTIVE_MACS, O_ACTIVE_PES, O_COMPUTE, O_ENERGY, O_FILL, O_FOLD, O_LATENCY,
                          O_MAC_E, O_NOC_E, O_ONLOAD, O_PAD_RATIO, O_POINTS, O_REASON, O_SPATIAL_UTIL, O_STATIC_E,
                          O_VALID, OP_INPUTS, OP_OUTPUTS, OP_WEIGHTS, REASONS, record_blocks, record_size)
from accel.workload import ELTWISE_OPS, OPERANDS, POOL_OPS, Layer, Network

__all__ = ["POLICIES", "FusionEdge", "LayerFusion", "FusionReport", "relocate", "serial_bits", "banded",
           "sum_records", "dram_bits", "fuse_network", "edge_slots", "RESERVE_GRANULES"]

POLICIES = ("none", "elementwise", "depth_first")
RESERVE_GRANULES = 256  # reservations are rounded up to 1/256 of the fusion level (fewer distinct re-mappings)
_FMAP_OPS = frozenset({"conv"}) | POOL_OPS | ELTWISE_OPS  # feature-map layers: rows = P


@dataclass(frozen=True)
class FusionEdge:
    """One producer → consumer edge and what the fusion pass decided for it."""

    producer: str
    consumer: str
    operand: str | None  # the consumer's operand slot the tensor fills (None: unknown)
    tensor_bits: float  # the producer's output tensor at the output bitwidth
    on_chip: bool
    mode: str  # "whole", "band" (line buffer), or "dram"
    reserved_bits: float  # what the tensor reserves in the fusion level (0 when in DRAM)
    reason: str  # why (kept / not a candidate / does not fit / not worth it / ...)


@dataclass
class LayerFusion:
    """What fusion changed for one layer."""

    reserved_bits: float = 0.0  # capacity of the fusion level reserved by held tensors while the layer runs
    band_rows: int | None = None  # executed in bands of this many output rows (depth_first streaming)
    from_chip: dict[int, float] = field(default_factory=dict)  # operand → fraction φ read from the fusion level
    output_on_chip: bool = False  # κ
    dram_bits_unfused: float = 0.0
    dram_bits: float = 0.0

    @property
    def dram_bits_saved(self) -> float:
        return self.dram_bits_unfused - self.dram_bits

    def to_json(self) -> dict:
        return {"reserved_bits": self.reserved_bits, "band_rows": self.band_rows,
                "from_chip": {OPERANDS[o]: f for o, f in sorted(self.from_chip.items())},
                "output_on_chip": self.output_on_chip, "dram_bits_unfused": self.dram_bits_unfused,
                "dram_bits": self.dram_bits, "dram_bits_saved": self.dram_bits_saved}


@dataclass
class FusionReport:
    policy: str
    level: str
    tile_rows: int | None
    edges: list[FusionEdge]
    layers: dict[str, LayerFusion]

    @property
    def dram_bits_unfused(self) -> float:
        return sum(f.dram_bits_unfused for f in self.layers.values())

    @property
    def dram_bits(self) -> float:
        return sum(f.dram_bits for f in self.layers.values())

    @property
    def dram_bits_saved(self) -> float:
        return self.dram_bits_unfused - self.dram_bits

    @property
    def edges_on_chip(self) -> int:
        return sum(e.on_chip for e in self.edges)

    def to_json(self) -> dict:
        return {"policy": self.policy, "level": self.level, "tile_rows": self.tile_rows,
                "edges_on_chip": self.edges_on_chip, "edges": len(self.edges),
                "dram_bits_unfused": self.dram_bits_unfused, "dram_bits": self.dram_bits,
                "dram_bits_saved": self.dram_bits_saved,
                "edge_decisions": [{"producer": e.producer, "consumer": e.consumer, "operand": e.operand,
                                    "tensor_bits": e.tensor_bits, "on_chip": e.on_chip, "mode": e.mode,
                                    "reserved_bits": e.reserved_bits, "reason": e.reason} for e in self.edges]}


# ---- the cost-record adjustment ---------------------------------------------------------------------------
def dram_bits(cost: CostRecord, arch: Arch) -> float:
    """Bits read from and written to DRAM (level 0) by one layer, all operands."""
    a = arch.arrays
    _, reads, writes, _, _ = record_blocks(cost.raw, a.n_levels)
    return float(((reads[0] + writes[0]) * a.op_bits[0]).sum())


def serial_bits(layer: Layer, arch: Arch, m: Mapping) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The kernel's raw record of ``layer`` under ``m`` on ``arch``, with what the record does not hold:
    ``(record, serial_bits (L, 2), instances (L + 1,))`` — ``serial_bits[lv]`` the read / write bits of level
    ``lv`` that the kernel leaves out of the overlapped bandwidth time (first tile, last output tile,
    ``serial_onload`` transfers; :func:`accel.cost._bandwidth_bound`).  :func:`accel.cost.evaluate` keeps its
    scratch to itself, so this runs its kernel the way it does (im2col lowering included)."""
    if arch.arrays.im2col:
        layer = lower_im2col(layer)
    L = arch.arrays.n_levels
    out = np.zeros(record_size(L))
    scr = scratch(L)
    _evaluate_into(compile_layer(layer), arch.arrays, mapping_arrays(m), out, scr)
    return out, scr.serial_bits.copy(), scr.inst.copy()


def relocate(layer: Layer, arch: Arch, m: Mapping, level: int, from_chip: dict[int, float],
             output_on_chip: bool) -> CostRecord:
    """The cost record of ``layer`` under mapping ``m`` when some of its operands come from (go to) the fusion
    level ``level`` instead of DRAM — the equations of the module docstring.  ``from_chip``: operand index → φ
    in [0, 1]; the mapping's keep matrix decides in place vs. through ``X``'s port per operand.  The record is
    the kernel's for ``m`` on the full ``arch`` (a mapping found with a reduced fusion level is costed on the
    real one: its leakage is the full buffer's), adjusted; with nothing moved it is the kernel's record."""
    a = arch.arrays
    L = a.n_levels
    X = level
    if not 0 < X < L:
        raise ValueError(f"fusion level {X} must be on chip (1 … {L - 1})")
    for o, phi in from_chip.items():
        if o == OP_OUTPUTS or not 0.0 <= phi <= 1.0:
            raise ValueError(f"from_chip: operand {o} fraction {phi} (weights / inputs, 0 … 1)")
    out, serial, inst = serial_bits(layer, arch, m)
    if out[O_VALID] != 1.0:
        raise MappingError(f"{layer.name}: the mapping is not valid on {arch.name}: {REASONS[int(out[O_REASON])]}")
    bw, reads, writes, energy, _ = record_blocks(out, L)
    keep = m.keep
    moves = list(from_chip.items()) + ([(OP_OUTPUTS, 1.0)] if output_on_chip else [])
    for o, phi in moves:
        r0, w0 = phi * reads[0, o], phi * writes[0, o]
        reads[0, o] -= r0
        writes[0, o] -= w0
        first = next((lv for lv in range(1, L) if keep[lv, o] == 1), L)
        if first == X:  # in place: the DRAM ↔ X transfers of these values do not happen at all
            if o != OP_OUTPUTS:
                writes[X, o] -= phi * writes[X, o]  # X's fills from DRAM (its only writes of a read-only operand)
            else:
                writes[X, o] -= r0  # partial sums read back down into X
                if a.psum_drain_read == 1:
                    reads[X, o] -= w0  # X read for every value drained up
        else:  # X is bypassed (or below another keeper): the values cross X's port instead of DRAM's
            reads[X, o] += r0
            writes[X, o] += w0
    for lv in (0, X):
        for o in range(3):
            energy[lv, o] = _access_energy_pj(reads[lv, o], writes[lv, o], a.op_bits[lv, o], a.read_e_bit[lv],
                                              a.write_e_bit[lv], a.block_bits[lv], inst[lv])
    # the kernel's overlapped bandwidth time, its serial bits unchanged (see the module docstring)
    worst = _bandwidth_bound(a, inst, reads, writes, serial, bw, out[O_COMPUTE] + out[O_ACCUM] + out[O_FOLD])
    latency = worst + out[O_FILL] + out[O_ONLOAD]
    static = a.static_power_mw * 1e-3 * latency / a.clock_hz * 1e12
    e = 0.0
    for lv in range(L):  # summed in the kernel's order: nothing moved → the kernel's record bit for bit
        for o in range(3):
            e += energy[lv, o]
    e += out[O_NOC_E] + out[O_MAC_E] + static
    out[O_LATENCY] = latency
    out[O_STATIC_E] = static
    out[O_ENERGY] = e
    return record_from_raw(out, arch)


_ADDITIVE = (O_LATENCY, O_COMPUTE, O_ACCUM, O_FOLD, O_FILL, O_ENERGY, O_MAC_E, O_STATIC_E, O_NOC_E, O_POINTS,
             O_ONLOAD)


def sum_records(parts: list[tuple[CostRecord, int]], arch: Arch) -> CostRecord:
    """The cost of running record ``c`` ``n`` times for every ``(c, n)`` of ``parts``, one after another
    (bands of a layer): cycles, energies, accesses and bandwidth times add; tile sizes and PE counts are the
    largest; spatial utilization and padding are point-weighted means."""
    L = arch.arrays.n_levels
    out = np.zeros_like(parts[0][0].raw)
    bw, reads, writes, energy, tiles = record_blocks(out, L)
    pts = 0.0
    for c, n in parts:
        r = c.raw
        b2, r2, w2, e2, t2 = record_blocks(r, L)
        for i in _ADDITIVE:
            out[i] += n * r[i]
        bw += n * b2
        reads += n * r2
        writes += n * w2
        energy += n * e2
        np.maximum(tiles, t2, out=tiles)
        for i in (O_ACTIVE_PES, O_ACTIVE_MACS):
            out[i] = max(out[i], r[i])
        out[O_SPATIAL_UTIL] += n * r[O_POINTS] * r[O_SPATIAL_UTIL]
        out[O_PAD_RATIO] += n * r[O_POINTS] * r[O_PAD_RATIO]
        pts += n * r[O_POINTS]
    out[O_SPATIAL_UTIL] /= pts
    out[O_PAD_RATIO] /= pts
    out[O_VALID] = 1.0
    return record_from_raw(out, arch)


def banded(layer: Layer, rows: int) -> list[tuple[Layer, int]]:
    """``layer`` as bands of ``rows`` output rows: (band layer, how many times it runs)."""
    if rows >= layer.P:
        return [(layer, 1)]
    full, rem = divmod(layer.P, rows)
    parts = [(replace(layer, P=rows), full)]
    if rem:
        parts.append((replace(layer, P=rem), 1))
    return parts


def relocate_banded(bands: list[tuple[Layer, Mapping, int]], arch: Arch, level: int,
                    from_chip: dict[int, float], output_on_chip: bool) -> CostRecord:
    """:func:`relocate` applied to every band (band layer, mapping, count), then :func:`sum_records` (latency
    is per band)."""
    parts = [(relocate(b, arch, m, level, from_chip, output_on_chip), n) for b, m, n in bands]
    return parts[0][0] if len(parts) == 1 and parts[0][1] == 1 else sum_records(parts, arch)


# ---- graph bookkeeping ---------------------------------------------------------------------------------------
def _out_elems(layer: Layer) -> int:
    return layer.operand_sizes()[OP_OUTPUTS]


def edge_slots(net: Network) -> dict[tuple[str, str], tuple[int | None, float]]:
    """(producer, consumer) → (the consumer's operand slot the producer's tensor fills, its share φ of that
    slot by size).  Single-operand layers: the inputs slot, shared by size among the producers (concat).  Two
    operand layers (binary element-wise, matmul): two producers fill inputs then weights in the order the
    graph recorded them; one producer is matched by size — when both slots match, the slot is unknown
    (None: the edge is never fused, so savings are never overstated); more than two: unknown."""
    g = net.graph
    out: dict[tuple[str, str], tuple[int | None, float]] = {}
    for v in g.nodes:
        layer: Layer = g.nodes[v]["layer"]
        preds = list(g.predecessors(v))
        if not preds:
            continue
        two = layer.op == "matmul" or layer.binary
        if not two:
            tot = sum(_out_elems(g.nodes[u]["layer"]) for u in preds)
            for u in preds:
                out[(u, v)] = (OP_INPUTS, _out_elems(g.nodes[u]["layer"]) / tot)
            continue
        sizes = layer.operand_sizes()
        if len(preds) == 2:
            out[(preds[0], v)] = (OP_INPUTS, 1.0)
            out[(preds[1], v)] = (OP_WEIGHTS, 1.0)
        elif len(preds) == 1:
            n = _out_elems(g.nodes[preds[0]]["layer"])
            match = [o for o in (OP_INPUTS, OP_WEIGHTS) if sizes[o] == n]
            out[(preds[0], v)] = (match[0], 1.0) if len(match) == 1 else (None, 0.0)
        else:
            for u in preds:
                out[(u, v)] = (None, 0.0)
    return out


def _candidate(policy: str, u: Layer, v: Layer) -> bool:
    if policy == "elementwise":
        return v.op in ELTWISE_OPS or v.op in POOL_OPS
    return policy == "depth_first"


def _band_ok(u: Layer, v: Layer, tile_rows: int) -> bool:
    return u.op in _FMAP_OPS and v.op in _FMAP_OPS and u.P > tile_rows


def _line_buffer_rows(u: Layer, v: Layer, tile_rows: int) -> int:
    t = min(tile_rows, v.P)
    need = (t - 1) * v.stride[0] + (v.R - 1) * v.dilation[0] + 1 if v.window else t
    return min(u.P, tile_rows + need)


# ---- the pass ------------------------------------------------------------------------------------------------
@dataclass
class _State:
    reserved: list[float]  # bits reserved at each schedule position
    band: dict[str, int]  # layer → band rows
    from_chip: dict[str, dict[int, float]]
    out_chip: dict[str, bool]


def fuse_network(net: Network, arch: Arch, layer_eval, objective: str):
    """Decide which tensors stay on chip and cost every layer accordingly.

    ``layer_eval(layer, reserved_bits) -> (Mapping, CostRecord)`` maps a layer with the fusion level's capacity
    reduced by ``reserved_bits`` (raises :class:`~accel.errors.MappingError` when nothing fits); its mapping
    is costed on the full ``arch`` by :func:`relocate`.  Returns
    ``([(layer, mapping, cost)], FusionReport)`` in schedule order."""
    f = arch.config.fusion
    X = fusion_level(arch.config)
    a = arch.arrays
    cap = float(a.size_bits[X])
    granule = cap / RESERVE_GRANULES
    out_bits = float(a.op_bits[0, OP_OUTPUTS])
    g = net.graph
    order = net.layers
    pos = {layer.name: i for i, layer in enumerate(order)}
    byname = {layer.name: layer for layer in order}
    slots = edge_slots(net)

    def quant(bits: float) -> float:
        return math.ceil(bits / granule - 1e-9) * granule if bits > 0 else 0.0

    def cost_of(layer: Layer, st: _State) -> tuple[Mapping, CostRecord]:
        res = quant(st.reserved[pos[layer.name]])
        if res >= cap:
            raise MappingError(f"{layer.name}: fused tensors fill {arch.level_names[X]}")
        rows = st.band.get(layer.name)
        parts = banded(layer, rows) if rows else [(layer, 1)]
        maps = [(b, layer_eval(b, res)[0], n) for b, n in parts]
        c = relocate_banded(maps, arch, X, st.from_chip.get(layer.name, {}), st.out_chip.get(layer.name, False))
        return maps[0][1], c

    st = _State([0.0] * len(order), {}, {}, {})
    base = {layer.name: cost_of(layer, st) for layer in order}
    current = dict(base)
    tot_e = sum(c.energy_pj for _, c in current.values())
    tot_t = sum(c.latency_s for _, c in current.values())

    def worse(de: float, dt: float) -> bool:
        if objective == "energy":
            return de > 1e-9 * abs(tot_e)
        if objective == "latency":
            return dt > 1e-12 * abs(tot_t)
        return (tot_e + de) * (tot_t + dt) > tot_e * tot_t * (1 + 1e-12)

    edges: list[FusionEdge] = []
    for u in order:
        cons = list(g.successors(u.name))
        if not cons:
            continue
        tbits = _out_elems(u) * out_bits
        cand = [v for v in cons if _candidate(f.policy, u, byname[v]) and slots[(u.name, v)][0] is not None]
        decided: dict[str, tuple[bool, str, float, str]] = {}
        for v in cons:
            if v not in cand:
                why = "slot unknown" if slots[(u.name, v)][0] is None else f"not a {f.policy} candidate"
                decided[v] = (False, "dram", 0.0, why)
        trials = []
        if cand:
            trials.append(("whole", cand, tbits))
            adj = [v for v in cand if pos[v] == pos[u.name] + 1]
            if adj and len(adj) < len(cand):  # a skip tensor too big to keep for all: its next layer alone
                trials.append(("whole", adj, tbits))
            if f.policy == "depth_first" and adj and _band_ok(u, byname[adj[0]], f.tile_rows):
                v = byname[adj[0]]
                lb = _line_buffer_rows(u, v, f.tile_rows) * (tbits / u.P)
                if lb < tbits:
                    trials.append(("band", adj, lb))
        reason = "no candidate"
        for mode, keep, bits in trials:
            trial = _State(list(st.reserved), dict(st.band), {k: dict(v) for k, v in st.from_chip.items()},
                           dict(st.out_chip))
            last = max(pos[v] for v in keep)
            for i in range(pos[u.name], last + 1):
                trial.reserved[i] += bits
            if mode == "band":
                trial.band[u.name] = f.tile_rows
                trial.band[keep[0]] = f.tile_rows
            for v in keep:
                o, phi = slots[(u.name, v)]
                fc = trial.from_chip.setdefault(v, {})
                fc[o] = min(1.0, fc.get(o, 0.0) + phi)
            if len(keep) == len(cons):
                trial.out_chip[u.name] = True
            touched = {order[i].name for i in range(pos[u.name], last + 1)}
            touched |= set(keep) | {u.name}
            try:
                new = {n: cost_of(byname[n], trial) for n in touched}
            except MappingError:
                reason = f"{mode}: no mapping fits the reduced {arch.level_names[X]}"
                continue
            dd = sum(dram_bits(new[n][1], arch) - dram_bits(current[n][1], arch) for n in touched)
            de = sum(new[n][1].energy_pj - current[n][1].energy_pj for n in touched)
            dt = sum(new[n][1].latency_s - current[n][1].latency_s for n in touched)
            if dd >= 0:
                reason = f"{mode}: saves no DRAM traffic"
                continue
            if worse(de, dt):
                reason = f"{mode}: worsens {objective} (reduced capacity costs more than it saves)"
                continue
            st = trial
            current.update(new)
            tot_e += de
            tot_t += dt
            for v in keep:
                decided[v] = (True, mode, bits, f"kept ({mode})")
            reason = "kept"
            break
        for v in cons:
            if v not in decided:
                decided[v] = (False, "dram", 0.0, reason)
            ok, mode, bits, why = decided[v]
            edges.append(FusionEdge(u.name, v, OPERANDS[slots[(u.name, v)][0]] if slots[(u.name, v)][0] is not None
                                    else None, tbits, ok, mode, bits, why))
    layers = {}
    for layer in order:
        n = layer.name
        layers[n] = LayerFusion(reserved_bits=st.reserved[pos[n]], band_rows=st.band.get(n),
                                from_chip=st.from_chip.get(n, {}), output_on_chip=st.out_chip.get(n, False),
                                dram_bits_unfused=dram_bits(base[n][1], arch), dram_bits=dram_bits(current[n][1], arch))
    report = FusionReport(f.policy, arch.level_names[X], f.tile_rows, edges, layers)
    return [(layer, *current[layer.name]) for layer in order], report
