"""Analytical cost kernels: (layer, arch arrays, mapping) → latency, energy, accesses, utilization.

The model (Timeloop-style, tile granularity) for a mapping with L memory levels (0 = DRAM) is a loop nest

    level 0 temporal loops │ fan-out 1 spatial │ level 1 temporal │ … │ level L-1 temporal │ fan-out L (MAC lanes)

* The tile an instance of level ``b`` holds for operand ``o`` is the footprint of every loop at or inside
  level b's temporal loops.  For a convolution input the footprint of ``p`` output rows and ``r`` filter rows
  is the number of distinct ``i*stride + j*dilation`` (see :func:`_distinct`), so sliding-window reuse inside a
  tile and across spatially unrolled rows (Eyeriss' diagonal ifmap reuse) is exact.
* Between consecutive levels ``a < b`` that keep ``o`` (levels that bypass ``o`` are skipped; the MACs are a
  virtual last level with a 1-element tile), child b is refilled once per iteration of the temporal loops
  above it, except that loops irrelevant to ``o`` sitting *inside* the innermost relevant loop reuse the
  resident tile (stationarity).  fills = product of the factors of all temporal loops from the outermost down
  to and including the innermost relevant one.
* A parent read serves every child that needs the same data when the NoC multicasts: parent reads =
  fills × union-footprint of the children × parent instances.  Partial sums flow the other way: each fill
  of an output tile is drained back to the parent (reduced across spatial reduction dims by the NoC), and
  every fill but the first visit of a tile reads the partial sum back down.
* Latency = max(compute, every level's bandwidth time) + fill/drain, where compute = product of all temporal
  factors (+ psum accumulation cycles for arrays that accumulate forwarded psums with the PE's own adder,
  + per-fold fill/drain for systolic arrays); a level's time = its per-instance read (and write) bits over its
  bandwidth — double buffering overlaps transfers with compute, so only the excess is a stall.  The first
  tile of every level must arrive before compute can start and the last output tile drains after it ends.
* Energy = Σ accesses × bits × pJ/bit per level and operand + NoC bits × pJ/bit + MACs (or ops) × energy
  per MAC (op) + static power × latency.

Dims that do not divide the tiles are padded up: the loop nest runs over the padded bounds (those cycles and
accesses are real work on the array) while MAC energy counts only the real MACs; ``padded_points_ratio``
reports the waste.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from accel._jit import jit_pair, njit, prange
from accel.arch import Arch, ArchArrays
from accel.workload import DIMS, N_DIMS, OPERANDS, Layer, distinct_taps

# ---- output record layout (flat float64 vector) --------------------------------------------------
O_LATENCY = 0
O_COMPUTE = 1
O_ACCUM = 2
O_FOLD = 3
O_FILL = 4
O_ENERGY = 5
O_MAC_E = 6
O_STATIC_E = 7
O_NOC_E = 8
O_SPATIAL_UTIL = 9
O_PAD_RATIO = 10
O_VALID = 11
O_REASON = 12
O_ACTIVE_PES = 13
O_FOLDS = 14
O_POINTS = 15
O_ACTIVE_MACS = 16
O_BASE = 17  # then bw_cycles[L], reads[L,3], writes[L,3], energy[L,3], tile_bits[L,3]

# invalid-mapping reason codes (O_REASON)
REASONS = {
    0: "valid",
    1: "tiling factors do not cover a layer dimension",
    2: "spatial unrolling exceeds the array (fan-out) size",
    3: "a tile exceeds a buffer's capacity",
    4: "a dimension is unrolled on an array axis the dataflow does not allow",
    5: "the innermost level iterates a dimension the dataflow's stationarity forbids",
    6: "the dataflow requires a dimension to be fully unrolled / fully iterated at the innermost level",
    7: "an operand is kept at a level that cannot hold it",
}


def out_size(n_levels: int) -> int:
    return O_BASE + n_levels + 4 * 3 * n_levels


def scratch(n_levels: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scratch arrays for :func:`_evaluate_into` (x_in, inst, x_u)."""
    return (np.empty((n_levels + 1, 8), dtype=np.int64), np.empty(n_levels + 1), np.empty(8, dtype=np.int64))


class LayerArrays(NamedTuple):
    """A layer compiled for the kernels."""

    bounds: np.ndarray  # (8,) int64
    rel: np.ndarray  # (3, 8) int64 relevance of operand slot to dim
    present: np.ndarray  # (3,) int64 operand exists
    stride_h: int
    stride_w: int
    dil_h: int
    dil_w: int
    window: int
    is_mac: int


def lower_im2col(layer: Layer) -> Layer:
    """A conv as the GEMM SCALE-Sim runs: rows = output pixels (N·P·Q), reduction = C·R·S, columns = K.

    The input operand becomes the im2col matrix (no sliding-window reuse), as on a systolic array fed by
    an im2col unit.  Non-conv layers are returned unchanged.
    """
    from dataclasses import replace

    if layer.op != "conv":
        return layer
    return replace(layer, op="matmul", N=1, C=layer.C * layer.R * layer.S, P=layer.N * layer.P * layer.Q, Q=1,
                   R=1, S=1, stride=(1, 1), dilation=(1, 1), padding=(0, 0, 0, 0))


def compile_layer(layer: Layer) -> LayerArrays:
    rel = np.array(layer.relevance, dtype=np.int64)
    return LayerArrays(
        bounds=np.array(layer.dims, dtype=np.int64), rel=rel, present=(rel.sum(axis=1) > 0).astype(np.int64),
        stride_h=int(layer.stride[0]), stride_w=int(layer.stride[1]), dil_h=int(layer.dilation[0]),
        dil_w=int(layer.dilation[1]), window=int(layer.window), is_mac=int(layer.is_mac))


# ---- kernels ---------------------------------------------------------------------------------------
_distinct = njit(distinct_taps)  # one definition, shared with Layer.operand_sizes


@njit
def _spread_indices(d, a, b, x_in, T, SX, SY, vals):
    """Indices of dim ``d`` that the children of one level-``a`` instance cover at one temporal step
    (pair a → b): the child extent x_in[b, d], spread by every fan-out a+1..b whose place value includes
    the (fixed) temporal loops of the bypassed levels in between.  Writes into ``vals``; returns the count."""
    n = x_in[b, d]
    for i in range(n):
        vals[i] = i
    place = n
    for f in range(b, a, -1):
        sp = SX[f, d] * SY[f, d]
        if sp > 1:
            for s_ in range(1, sp):
                for i in range(n):
                    vals[s_ * n + i] = vals[i] + s_ * place
            n *= sp
        place *= sp
        if f - 1 > a:
            place *= T[f - 1, d]
    return n


@njit
def _strided_window_union(a, b, x_in, T, SX, SY, sh, sw, dh, dw):
    """Distinct input rows × cols the children of one level-``a`` instance read at one temporal step when
    their output/filter indices are non-contiguous (a bypassed level's temporal loop sits between two
    fan-outs of the pair): i*stride + j*dilation over the actual index sets, counted exactly by marking."""
    total = 1.0
    for axis in range(2):
        d_out = 4 + axis  # P or Q
        d_tap = 6 + axis  # R or S
        stride = sh if axis == 0 else sw
        dil = dh if axis == 0 else dw
        size_o = x_in[b, d_out]
        size_t = x_in[b, d_tap]
        for f in range(a + 1, b + 1):
            size_o *= SX[f, d_out] * SY[f, d_out]
            size_t *= SX[f, d_tap] * SY[f, d_tap]
        po = np.empty(size_o, dtype=np.int64)
        pt = np.empty(size_t, dtype=np.int64)
        no = _spread_indices(d_out, a, b, x_in, T, SX, SY, po)
        nt = _spread_indices(d_tap, a, b, x_in, T, SX, SY, pt)
        mark = np.zeros(po[no - 1] * stride + pt[nt - 1] * dil + 1, dtype=np.uint8)
        count = 0
        for i in range(no):
            for j in range(nt):
                v = po[i] * stride + pt[j] * dil
                if mark[v] == 0:
                    mark[v] = 1
                    count += 1
        total *= count
    return total


@njit
def _strided(a, b, T, SX, SY):
    """True if, for a window dim (P, Q, R, S), a temporal loop of a level strictly between a and b sits
    inside a fan-out in (a, b] that unrolls it (the children's indices are then non-contiguous)."""
    for d in range(4, 8):
        for f in range(a + 1, b + 1):
            if SX[f, d] * SY[f, d] > 1:
                for lv in range(f, b):
                    if T[lv, d] > 1:
                        return True
    return False


@njit
def _footprint(o, x, rel, present, window, sh, sw, dh, dw):
    """Elements of operand ``o`` touched by a sub-nest whose per-dim extents are ``x`` (8,)."""
    if present[o] == 0:
        return 0.0
    if o == 1 and window == 1:
        # inputs: G·N·(C or K)·H·W with H, W from the sliding window
        v = float(_distinct(x[4], x[6], sh, dh)) * float(_distinct(x[5], x[7], sw, dw))
        for d in range(4):
            if rel[o, d] == 1:
                v *= x[d]
        return v
    v = 1.0
    for d in range(8):
        if rel[o, d] == 1:
            v *= x[d]
    return v


@njit
def _evaluate_into(bounds, rel, present, sh, sw, dh, dw, window, is_mac, arch, T, SX, SY, ORD, KEEP, out,
                   x_in, inst, x_u):
    """Cost of one mapping; fills ``out`` (see O_* layout) and returns latency (cycles) or inf if invalid.

    Shapes: T (L, 8) temporal factors; SX, SY (L+1, 8) spatial factors per fan-out (row 0 unused);
    ORD (L, 8) loop order per level, outer → inner, as dim indices; KEEP (L, 3) 1 if the level holds the
    operand.  Scratch (overwritten, so batch kernels allocate once per chunk): x_in (L+1, 8) int64,
    inst (L+1,) float64, x_u (8,) int64.  Units: cycles, pJ, bits; access counts in values.
    """
    L = arch.n_levels
    out[:] = 0.0
    nb = O_BASE
    o_bw = nb
    o_rd = nb + L
    o_wr = o_rd + 3 * L
    o_en = o_wr + 3 * L
    o_tile = o_en + 3 * L
    inf = np.inf
    out[O_LATENCY] = inf
    out[O_ENERGY] = inf
    real_points = 1.0
    for d in range(8):
        real_points *= bounds[d]
    out[O_POINTS] = real_points
    # ---- coverage of every dim and spatial fit ----
    padded = 1.0
    for d in range(8):
        c = 1
        for lv in range(L):
            c *= T[lv, d]
        for f in range(1, L + 1):
            c *= SX[f, d] * SY[f, d]
        if c < bounds[d]:
            out[O_REASON] = 1
            return inf
        padded *= c
    for f in range(1, L + 1):
        ux = 1
        uy = 1
        for d in range(8):
            ux *= SX[f, d]
            uy *= SY[f, d]
        if ux > arch.fanout_x[f] or uy > arch.fanout_y[f]:
            out[O_REASON] = 2
            return inf
    # ---- dataflow constraints (at the PE-array fan-out and the innermost level) ----
    pe = arch.pe_level
    inner = L - 1
    # Dataflow rules and systolic timing describe how MACs flow through the array; pooling and element-wise
    # layers run as plain vector ops (one op per MAC unit per cycle) with any unrolling.
    for d in range(8 if is_mac == 1 else 0):
        if pe <= L:
            if SX[pe, d] > 1 and arch.allow_x[d] == 0:
                out[O_REASON] = 4
                return inf
            if SY[pe, d] > 1 and arch.allow_y[d] == 0:
                out[O_REASON] = 4
                return inf
        if T[inner, d] > 1 and arch.innermost_only[d] == 0:
            out[O_REASON] = 5
            return inf
        if arch.spatial_full[d] == 1 and bounds[d] <= arch.fanout_y[pe]:
            for lv in range(L):
                if T[lv, d] > 1:
                    out[O_REASON] = 6
                    return inf
        if arch.innermost_full[d] == 1:
            if T[inner, d] < bounds[d]:
                out[O_REASON] = 6
                return inf
    for lv in range(L):
        for o in range(3):
            if KEEP[lv, o] == 1 and arch.keeps[lv, o] == 0:
                out[O_REASON] = 7
                return inf
    # ---- per-level inner extents: x_in[lv, d] = factors at/inside level lv's temporal loops ----
    for d in range(8):  # row L: the MACs (tile 1)
        x_in[L, d] = 1
    for lv in range(L - 1, -1, -1):
        for d in range(8):
            x_in[lv, d] = x_in[lv + 1, d] * T[lv, d] * (SX[lv + 1, d] * SY[lv + 1, d] if lv + 1 <= L else 1)
    # x_in[L-1] includes fan-out L (MAC lanes) since a PE's registers feed all its lanes; x_in[L] = 1.
    # instances used below each fan-out: inst[lv] = Π spatial factors of fan-outs 1..lv
    inst[0] = 1.0
    for f in range(1, L + 1):
        u = 1.0
        for d in range(8):
            u *= SX[f, d] * SY[f, d]
        inst[f] = inst[f - 1] * u
    # ---- capacity ----
    for lv in range(1, L):
        used = 0.0
        for o in range(3):
            if KEEP[lv, o] == 1 and present[o] == 1:
                tb = _footprint(o, x_in[lv], rel, present, window, sh, sw, dh, dw) * arch.op_bits[lv, o]
                out[o_tile + lv * 3 + o] = tb
                if arch.part_bits[lv, o] > 0:
                    if tb > arch.part_bits[lv, o]:
                        out[O_REASON] = 3
                        return inf
                else:
                    used += tb
        if used > arch.size_bits[lv]:
            out[O_REASON] = 3
            return inf
    # ---- compute cycles ----
    compute = 1.0
    folds = 1.0
    for lv in range(L):
        for d in range(8):
            compute *= T[lv, d]
            if lv < L - 1:
                folds *= T[lv, d]
    # ---- accesses ----
    noc_bits = 0.0
    fill_cycles = 0.0
    psum_drains_per_pe = 0.0
    for o in range(3):
        if present[o] == 0:
            continue
        a = 0
        for b in range(1, L + 1):
            if b < L and KEEP[b, o] == 0:
                continue
            # --- pair (a, b): fills of child b per instance ---
            fills = 1.0
            distinct = 1.0
            found = False
            for lv in range(b - 1, -1, -1):
                for j in range(7, -1, -1):
                    d = ORD[lv, j]
                    f = T[lv, d]
                    if f == 1:
                        continue
                    if rel[o, d] == 1:
                        found = True
                        distinct *= f
                    if found:
                        fills *= f
            if b < L:
                tile = _footprint(o, x_in[b], rel, present, window, sh, sw, dh, dw)
            else:
                tile = 1.0
            between = 1.0
            for d in range(8):
                sp = 1
                for f in range(a + 1, b + 1):
                    sp *= SX[f, d] * SY[f, d]
                x_u[d] = x_in[b, d] * sp
                between *= sp
            union = _footprint(o, x_u, rel, present, window, sh, sw, dh, dw)
            if o == 1 and window == 1 and b - a > 1 and _strided(a, b, T, SX, SY):
                union = _strided_window_union(a, b, x_in, T, SX, SY, sh, sw, dh, dw)
                for d in range(4):
                    if rel[o, d] == 1:
                        union *= x_u[d]
            child_total = fills * tile * inst[b]  # values delivered to (or drained from) all children
            if o < 2:
                parent_reads = fills * union * inst[a] if arch.multicast == 1 else child_total
                out[o_rd + a * 3 + o] += parent_reads
                if b < L:
                    out[o_wr + b * 3 + o] += child_total
            else:
                if arch.spatial_reduction == 1:
                    upd = fills * union * inst[a]
                    extra_rmw = 0.0
                else:
                    upd = child_total
                    extra_rmw = child_total - fills * union * inst[a]
                back = (fills - distinct) * (union if arch.spatial_reduction == 1 else tile * between) * inst[a]
                out[o_wr + a * 3 + o] += upd
                out[o_rd + a * 3 + o] += back + extra_rmw
                if b < L:
                    out[o_rd + b * 3 + o] += child_total  # drain reads
                    out[o_wr + b * 3 + o] += (fills - distinct) * tile * inst[b]  # psums read back down
                if b >= pe:
                    psum_drains_per_pe = fills * tile
            # NoC: values crossing a fan-out of more than one instance
            crosses = False
            for f in range(a + 1, b + 1):
                if arch.fanout_x[f] * arch.fanout_y[f] > 1:
                    crosses = True
            if crosses:
                noc_bits += child_total * arch.op_bits[min(b, L - 1), o]
            # prologue: the first tile of every child arrives before compute starts (epilogue for outputs)
            if b < L:
                rbw = arch.read_bw[a] if o < 2 else arch.write_bw[a]
                fill_cycles += union * arch.op_bits[a, o] / rbw
            a = b
    # ---- latency ----
    red_spatial = 1.0
    if pe <= L:
        for d in range(8):
            if rel[2, d] == 0:
                red_spatial *= SX[pe, d] * SY[pe, d]
    accum = 0.0
    if arch.psum_acc_cycles > 0 and red_spatial > 1 and present[2] == 1:
        accum = arch.psum_acc_cycles * psum_drains_per_pe
    fold = 0.0
    if arch.systolic == 1 and is_mac == 1:
        fold = folds * (arch.fold_rows_coef * arch.fanout_y[pe] + arch.fold_cols_coef * arch.fanout_x[pe]
                        + arch.fold_const) + arch.layer_const
        fill_cycles = 0.0  # the per-fold model already contains the array's fill and drain
    busy = compute + accum + fold
    worst = busy
    for lv in range(L):
        r = 0.0
        w = 0.0
        for o in range(3):
            r += out[o_rd + lv * 3 + o] * arch.op_bits[lv, o]
            w += out[o_wr + lv * 3 + o] * arch.op_bits[lv, o]
        ninst = inst[lv]
        if arch.shared_port[lv] == 1:
            cyc = (r + w) / ninst / arch.read_bw[lv]
        else:
            cyc = max(r / ninst / arch.read_bw[lv], w / ninst / arch.write_bw[lv])
        out[o_bw + lv] = cyc
        if cyc > worst:
            worst = cyc
    latency = worst + fill_cycles
    # ---- energy ----
    e = 0.0
    for lv in range(L):
        for o in range(3):
            el = (out[o_rd + lv * 3 + o] * arch.read_e_bit[lv] + out[o_wr + lv * 3 + o] * arch.write_e_bit[lv]) \
                * arch.op_bits[lv, o]
            out[o_en + lv * 3 + o] = el
            e += el
    noc_e = noc_bits * arch.noc_e_bit
    mac_e = real_points * (arch.mac_energy_pj if is_mac == 1 else arch.op_energy_pj)
    static_e = arch.static_power_mw * 1e-3 * latency / arch.clock_hz * 1e12
    e += noc_e + mac_e + static_e
    total_macs = 1.0
    for f in range(1, L + 1):
        total_macs *= arch.fanout_x[f] * arch.fanout_y[f]
    out[O_LATENCY] = latency
    out[O_COMPUTE] = compute
    out[O_ACCUM] = accum
    out[O_FOLD] = fold
    out[O_FILL] = fill_cycles
    out[O_ENERGY] = e
    out[O_MAC_E] = mac_e
    out[O_STATIC_E] = static_e
    out[O_NOC_E] = noc_e
    out[O_SPATIAL_UTIL] = inst[L] / total_macs
    out[O_PAD_RATIO] = padded / real_points
    out[O_VALID] = 1.0
    out[O_ACTIVE_PES] = inst[pe] if pe <= L else inst[L]
    out[O_ACTIVE_MACS] = inst[L]
    out[O_FOLDS] = folds
    return latency


@njit
def _objective(out, objective):
    """0 latency, 1 energy, 2 EDP (cycles × pJ)."""
    if out[O_VALID] == 0.0:
        return np.inf
    if objective == 0:
        return out[O_LATENCY]
    if objective == 1:
        return out[O_ENERGY]
    return out[O_LATENCY] * out[O_ENERGY]


# The mapper's batch evaluation lives here, next to the kernel it calls: numba's on-disk cache only
# notices edits to the file that defines a cached function, so a caller in another module could keep a
# stale copy of _evaluate_into.  Genomes are the mapper's encoding (mapper.mapspace).
@njit
def _decode(g, spx, spy, splits, orders, keeps, L, T, SX, SY, ORD, KEEP):
    """Genome → mapping arrays (written into T, SX, SY, ORD, KEEP)."""
    s = g[0]
    for f in range(L + 1):
        for d in range(8):
            SX[f, d] = spx[s, f, d]
            SY[f, d] = spy[s, f, d]
    for d in range(8):
        k = g[1 + d]
        for lv in range(L):
            T[lv, d] = splits[s, d, k, lv]
    for lv in range(L):
        o = g[9 + lv]
        for j in range(8):
            ORD[lv, j] = orders[o, j]
    v = g[9 + L]
    for lv in range(L):
        for o in range(3):
            KEEP[lv, o] = keeps[v, lv, o]


def _eval_genomes_impl(G, bounds, rel, present, sh, sw, dh, dw, window, is_mac, arch, spx, spy, splits, orders,
                       keeps, objective, result, reason):
    """Objective (inf if invalid) and reason code for each genome row of G."""
    L = arch.n_levels
    n = O_BASE + 13 * L
    B = G.shape[0]
    chunk = 256  # scratch is allocated once per chunk, not per genome
    for c in prange((B + chunk - 1) // chunk):
        T = np.empty((L, 8), dtype=np.int64)
        SX = np.empty((L + 1, 8), dtype=np.int64)
        SY = np.empty((L + 1, 8), dtype=np.int64)
        ORD = np.empty((L, 8), dtype=np.int64)
        KEEP = np.empty((L, 3), dtype=np.int64)
        buf = np.empty(n)
        x_in = np.empty((L + 1, 8), dtype=np.int64)
        inst = np.empty(L + 1)
        x_u = np.empty(8, dtype=np.int64)
        for i in range(c * chunk, min(B, (c + 1) * chunk)):
            _decode(G[i], spx, spy, splits, orders, keeps, L, T, SX, SY, ORD, KEEP)
            _evaluate_into(bounds, rel, present, sh, sw, dh, dw, window, is_mac, arch, T, SX, SY, ORD, KEEP, buf,
                           x_in, inst, x_u)
            result[i] = _objective(buf, objective)
            reason[i] = buf[O_REASON]


_eval_genomes_serial, _eval_genomes_parallel = jit_pair(_eval_genomes_impl)

OBJECTIVES = {"latency": 0, "energy": 1, "edp": 2}


# ---- public API --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mapping:
    """A mapping of one layer onto an accelerator (numpy arrays; see :func:`_evaluate_into` for shapes)."""

    temporal: np.ndarray  # (L, 8)
    spatial_x: np.ndarray  # (L+1, 8)
    spatial_y: np.ndarray  # (L+1, 8)
    order: np.ndarray  # (L, 8) dim indices, outer → inner
    keep: np.ndarray  # (L, 3)

    def to_dict(self, arch: Arch) -> dict:
        names = arch.level_names
        out = {}
        for lv, name in enumerate(names):
            loops = [f"{DIMS[d]}{int(self.temporal[lv, d])}" for d in self.order[lv] if self.temporal[lv, d] > 1]
            entry = {"temporal": " ".join(loops) or "-",
                     "keeps": [OPERANDS[o] for o in range(3) if self.keep[lv, o]]}
            sx = {DIMS[d]: int(self.spatial_x[lv, d]) for d in range(N_DIMS) if self.spatial_x[lv, d] > 1}
            sy = {DIMS[d]: int(self.spatial_y[lv, d]) for d in range(N_DIMS) if self.spatial_y[lv, d] > 1}
            if lv > 0 and (sx or sy):
                entry["spatial_above"] = {"x": sx, "y": sy}
            out[name] = entry
        L = len(names)
        lanes = {DIMS[d]: int(self.spatial_x[L, d] * self.spatial_y[L, d]) for d in range(N_DIMS)
                 if self.spatial_x[L, d] * self.spatial_y[L, d] > 1}
        if lanes:
            out["mac_lanes"] = lanes
        return out

    def loop_nest(self, arch: Arch) -> str:
        """The mapping as an indented loop nest (outer → inner), Timeloop style."""
        lines = []
        indent = 0
        L = arch.arrays.n_levels
        for lv, name in enumerate(arch.level_names):
            kept = ",".join(o[0].upper() for o in OPERANDS if self.keep[lv, OPERANDS.index(o)])
            if lv > 0:
                sp = [f"{DIMS[d]}{int(self.spatial_y[lv, d])}(y)" for d in range(N_DIMS) if self.spatial_y[lv, d] > 1]
                sp += [f"{DIMS[d]}{int(self.spatial_x[lv, d])}(x)" for d in range(N_DIMS) if self.spatial_x[lv, d] > 1]
                for s in sp:
                    lines.append("  " * indent + f"parallel-for {s}")
                    indent += 1
            lines.append("  " * indent + f"[{name}] keeps {kept or '-'}")
            for d in self.order[lv]:
                if self.temporal[lv, d] > 1:
                    lines.append("  " * indent + f"for {DIMS[d]} in [0:{int(self.temporal[lv, d])})")
                    indent += 1
        sp = [f"{DIMS[d]}{int(self.spatial_x[L, d])}" for d in range(N_DIMS) if self.spatial_x[L, d] > 1]
        for s in sp:
            lines.append("  " * indent + f"parallel-for {s} (MAC lanes)")
            indent += 1
        lines.append("  " * indent + "MAC")
        return "\n".join(lines)


def mapping_arrays(m: Mapping) -> tuple[np.ndarray, ...]:
    return (np.ascontiguousarray(m.temporal, dtype=np.int64), np.ascontiguousarray(m.spatial_x, dtype=np.int64),
            np.ascontiguousarray(m.spatial_y, dtype=np.int64), np.ascontiguousarray(m.order, dtype=np.int64),
            np.ascontiguousarray(m.keep, dtype=np.int64))


@dataclass
class CostRecord:
    """Full cost of one (layer, arch, mapping).  Units in names; accesses in values (not words)."""

    valid: bool
    reason: str
    latency_cycles: float
    latency_s: float
    compute_cycles: float
    accumulate_cycles: float
    fold_overhead_cycles: float
    fill_drain_cycles: float
    stall_cycles: dict[str, float]
    bandwidth_cycles: dict[str, float]
    energy_pj: float
    mac_energy_pj: float
    noc_energy_pj: float
    static_energy_pj: float
    energy_breakdown_pj: dict[str, dict[str, float]]
    reads: dict[str, dict[str, float]]
    writes: dict[str, dict[str, float]]
    tile_bits: dict[str, dict[str, float]]
    spatial_utilization: float
    utilization: float
    active_pes: int
    active_macs: int
    padded_points_ratio: float
    points: float
    raw: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]


def check_mapping(layer: Layer, arch: Arch, m: Mapping) -> None:
    L = arch.arrays.n_levels
    expect = {"temporal": (L, 8), "spatial_x": (L + 1, 8), "spatial_y": (L + 1, 8), "order": (L, 8), "keep": (L, 3)}
    for k, shape in expect.items():
        v = np.asarray(getattr(m, k))
        if v.shape != shape:
            raise ValueError(f"mapping.{k} has shape {v.shape}, expected {shape} for {arch.name}")
    if (np.asarray(m.temporal) < 1).any() or (np.asarray(m.spatial_x) < 1).any() or (np.asarray(m.spatial_y) < 1).any():
        raise ValueError("mapping factors must be >= 1")
    for lv in range(L):
        if sorted(np.asarray(m.order[lv]).tolist()) != list(range(8)):
            raise ValueError(f"mapping.order[{lv}] is not a permutation of the 8 dims")


def evaluate(layer: Layer, arch: Arch, m: Mapping) -> CostRecord:
    """Cost of ``layer`` on ``arch`` under mapping ``m`` (checked, then the numba kernel)."""
    check_mapping(layer, arch, m)
    if arch.arrays.im2col:
        layer = lower_im2col(layer)
    la = compile_layer(layer)
    a = arch.arrays
    L = a.n_levels
    out = np.zeros(out_size(L))
    _evaluate_into(la.bounds, la.rel, la.present, la.stride_h, la.stride_w, la.dil_h, la.dil_w, la.window,
                   la.is_mac, a, *mapping_arrays(m), out, *scratch(L))
    return record_from_raw(out, arch)


def record_from_raw(out: np.ndarray, arch: Arch) -> CostRecord:
    a = arch.arrays
    L = a.n_levels
    names = arch.level_names
    o_bw, o_rd = O_BASE, O_BASE + L
    o_wr, o_en, o_tile = o_rd + 3 * L, o_rd + 6 * L, o_rd + 9 * L

    def per(off):
        return {names[lv]: {OPERANDS[o]: float(out[off + lv * 3 + o]) for o in range(3)} for lv in range(L)}

    valid = bool(out[O_VALID])
    busy = out[O_COMPUTE] + out[O_ACCUM] + out[O_FOLD]
    peak = float(np.prod(a.fanout_x) * np.prod(a.fanout_y))
    lat = float(out[O_LATENCY])
    return CostRecord(
        valid=valid, reason=REASONS[int(out[O_REASON])], latency_cycles=lat, latency_s=lat / a.clock_hz,
        compute_cycles=float(out[O_COMPUTE]), accumulate_cycles=float(out[O_ACCUM]),
        fold_overhead_cycles=float(out[O_FOLD]), fill_drain_cycles=float(out[O_FILL]),
        stall_cycles={names[lv]: float(max(0.0, out[o_bw + lv] - busy)) for lv in range(L)} if valid else {},
        bandwidth_cycles={names[lv]: float(out[o_bw + lv]) for lv in range(L)},
        energy_pj=float(out[O_ENERGY]), mac_energy_pj=float(out[O_MAC_E]), noc_energy_pj=float(out[O_NOC_E]),
        static_energy_pj=float(out[O_STATIC_E]), energy_breakdown_pj=per(o_en), reads=per(o_rd), writes=per(o_wr),
        tile_bits=per(o_tile), spatial_utilization=float(out[O_SPATIAL_UTIL]),
        utilization=float(out[O_POINTS] / (lat * peak)) if valid and lat > 0 else 0.0,
        active_pes=int(out[O_ACTIVE_PES]), active_macs=int(out[O_ACTIVE_MACS]),
        padded_points_ratio=float(out[O_PAD_RATIO]), points=float(out[O_POINTS]), raw=out.copy())


def math_lower_bound_cycles(layer: Layer, arch: Arch) -> float:
    """MACs / peak MACs per cycle: no mapping can beat it."""
    return math.ceil(layer.points / arch.peak_macs_per_cycle)
