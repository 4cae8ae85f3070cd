"""Analytical cost kernels: (layer, arch arrays, mapping) → latency, energy, accesses, utilization.

The model (Timeloop-style, tile granularity) for a mapping with L memory levels (0 = DRAM) is a loop nest

    level 0 temporal loops │ fan-out 1 spatial │ level 1 temporal │ … │ level L-1 temporal │ fan-out L (MAC lanes)

* The tile an instance of level ``b`` holds for operand ``o`` is the footprint of every loop at or inside
  level b's temporal loops.  For a convolution input the footprint of ``p`` output rows and ``r`` filter rows
  is the number of distinct ``i*stride + j*dilation`` (see :func:`_distinct`), so sliding-window reuse inside a
  tile and across spatially unrolled rows (Eyeriss' diagonal ifmap reuse) is exact.
* Sliding windows across temporal steps (``conventions.halo_reuse``, Timeloop's tile delta): when a step of the
  loops above a level slides a convolution's input window along one axis, the level is filled with only the
  new rows (columns); a step that leaves the input where it was (a sliding-window coincidence) is free
  (:func:`_window_input_fills`).
* Between consecutive levels ``a < b`` that keep ``o`` (levels that bypass ``o`` are skipped; the MACs are a
  virtual last level with a 1-element tile), child b is refilled once per iteration of the temporal loops
  above it, except that loops irrelevant to ``o`` sitting *inside* the innermost relevant loop reuse the
  resident tile (stationarity).  fills = product of the factors of all temporal loops from the outermost down
  to and including the innermost relevant one.
* A parent read serves every child that needs the same data when the NoC multicasts: parent reads =
  fills × union-footprint of the children × parent instances.  Partial sums flow the other way: each fill
  of an output tile is drained back to the parent (reduced across spatial reduction dims by the NoC), and
  every fill but the first visit of a tile reads the partial sum back down.
* Latency = max(compute, every level's overlapped bandwidth time) + fill/drain (+ the serialized transfers of
  levels whose ``conventions.transfer_overlap`` is ``serial_onload``; the prologue / epilogue and serialized
  traffic is not also counted in the overlapped time), where compute = product of all temporal
  factors (+ psum accumulation cycles for arrays that accumulate forwarded psums with the PE's own adder,
  + per-fold fill/drain for systolic arrays); a level's time = its per-instance read (and write) bits over its
  bandwidth — double buffering overlaps transfers with compute, so only the excess is a stall.  The first
  tile of every level must arrive before compute can start and the last output tile drains after it ends.
* Conventions where the reference tools differ are the config's (:class:`accel.arch.Conventions`, defaults
  Timeloop's): whether the MAC holds operands across loops that do not index them, whether a drained psum
  costs a child read, and per-level transfer overlap.
* Energy = Σ accesses × bits × pJ/bit per level and operand + NoC bits × pJ/bit + MACs (or ops) × energy
  per MAC (op) + static power × latency; on a level whose ``conventions.access_granularity`` is ``word`` the
  accesses are whole words per instance (Timeloop's vector accesses, :func:`_access_energy_pj`).

Dims that do not divide the tiles are padded up: the loop nest runs over the padded bounds (those cycles are
real work on the array) while MAC energy counts only the real MACs; ``padded_points_ratio`` reports the waste.
Accesses of padded values follow ``conventions.padded_accesses`` (default ``skip``: only in-bounds values are
charged, as in Timeloop's residual tiles; ``count``: padded tiles are charged whole, as ZigZag).

Sources.  The tile / fill / refill and multicast model follows Timeloop (A. Parashar et al., "Timeloop: A
Systematic Approach to DNN Accelerator Evaluation", ISPASS 2019); the row-stationary rules, diagonal ifmap
reuse and PE psum accumulation follow Eyeriss (Y.-H. Chen et al., ISCA 2016; JSSC 2017); the systolic
per-fold fill/drain follows SCALE-Sim (A. Samajdar et al., ISPASS 2020; see :mod:`accel.systolic`).  The
kernel is :func:`_evaluate_into`, split into one ``@njit`` helper per step of the model above; the record it
fills and its reason codes are laid out in :mod:`accel.layout`.  Genomes and their batch evaluation are the
mapper's (:mod:`mapper.genome`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
from numba.extending import register_jitable

from accel._jit import njit
from accel.arch import Arch
from accel.layout import (D_P, D_Q, D_R, D_S, O_ACCUM, O_ACTIVE_MACS, O_ACTIVE_PES, O_COMPUTE, O_ENERGY,
                          O_FILL, O_FOLD, O_FOLDS, O_LATENCY, O_MAC_E, O_NOC_E, O_ONLOAD, O_PAD_RATIO, O_POINTS,
                          O_REASON, O_SPATIAL_UTIL, O_STATIC_E, O_VALID, O_XFER, OP_INPUTS, OP_OUTPUTS, R_AXIS,
                          R_CAPACITY, R_FULL_UNROLL, R_KEEP, R_SPATIAL_FIT, R_STATIONARITY, R_UNCOVERED, R_VALID, REASONS,
                          WINDOW_DIMS_START, record_blocks, record_size)
from accel.workload import DIMS, N_DIMS, N_OPERANDS, OPERANDS, Layer, distinct_taps

__all__ = ["LayerArrays", "MappingArrays", "Scratch", "Mapping", "CostRecord", "REASONS", "compile_layer",
           "lower_im2col", "mapping_arrays", "scratch", "empty_mapping", "evaluate", "record_from_raw", "check_mapping",
           "math_lower_bound_cycles", "out_size"]


def out_size(n_levels: int) -> int:
    """Length of the cost record (:func:`accel.layout.record_size`)."""
    return record_size(n_levels)


class LayerArrays(NamedTuple):
    """A layer compiled for the kernels (one argument, like :class:`accel.arch.ArchArrays`)."""

    bounds: np.ndarray  # (8,) int64 extent of each dim (DIMS order)
    rel: np.ndarray  # (3, 8) int64: 1 if operand slot o is indexed by dim d
    present: np.ndarray  # (3,) int64: 1 if the operand exists
    stride_h: int
    stride_w: int
    dil_h: int
    dil_w: int
    window: int  # 1 if the inputs are a sliding window over (P, R) × (Q, S)
    is_mac: int  # 1 for MAC layers, 0 for pooling / element-wise ops


class MappingArrays(NamedTuple):
    """A mapping as the kernels read it (int64, C order; L memory levels, fan-out f sits above level f)."""

    temporal: np.ndarray  # (L, 8) temporal factor of each dim at each level
    spatial_x: np.ndarray  # (L+1, 8) spatial factor on fan-out f's x axis (row 0 unused, row L = MAC lanes)
    spatial_y: np.ndarray  # (L+1, 8)
    order: np.ndarray  # (L, 8) loop order of each level, outer → inner, as dim indices
    keep: np.ndarray  # (L, 3) 1 if the level holds the operand, 0 if it bypasses it


class Scratch(NamedTuple):
    """Work arrays of :func:`_evaluate_into`, overwritten by every call (batch kernels allocate one per
    chunk of genomes)."""

    x_in: np.ndarray  # (L+1, 8) int64, see _inner_extents
    inst: np.ndarray  # (L+1,) float64, see _inner_extents
    x_u: np.ndarray  # (8,) int64, see _pair_union
    serial_bits: np.ndarray  # (L, 2) float64 read / write bits of each level not overlapped with compute
    halo_loops: np.ndarray  # (8L, 4) float64, see _window_input_fills
    halo_sweep: np.ndarray  # (2, 5, 3) float64, see _window_input_fills
    xfer: np.ndarray  # (3L, 5) float64 the transfer terms of _accesses (XFER_* rows; see _transfer_cycles)
    level_bits: np.ndarray  # (L, 3) float64 per level: overlapped read bits, write bits, instances (_level_bits)


@register_jitable
def scratch(n_levels):
    """Scratch for ``n_levels`` memory levels (Python or kernels)."""
    return Scratch(np.empty((n_levels + 1, N_DIMS), dtype=np.int64), np.empty(n_levels + 1),
                   np.empty(N_DIMS, dtype=np.int64), np.empty((n_levels, 2)), np.empty((N_DIMS * n_levels, 4)),
                   np.empty((2, 5, 3)), np.empty((3 * n_levels, 5)), np.empty((n_levels, 3)))


@register_jitable
def empty_mapping(n_levels):
    """Uninitialised MappingArrays for ``n_levels`` memory levels (Python or kernels)."""
    return MappingArrays(np.empty((n_levels, N_DIMS), dtype=np.int64), np.empty((n_levels + 1, N_DIMS), dtype=np.int64),
                         np.empty((n_levels + 1, N_DIMS), dtype=np.int64), np.empty((n_levels, N_DIMS), dtype=np.int64),
                         np.empty((n_levels, 3), dtype=np.int64))


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
# Shapes below: L memory levels (0 = DRAM); T = temporal (L, 8), SX / SY = spatial_x / spatial_y (L+1, 8),
# ORD = order (L, 8), KEEP = keep (L, 3) of a MappingArrays.  Fan-out f (1 ≤ f ≤ L) sits between level f-1
# and level f; fan-out L is the MAC lanes inside a PE.
# Every kernel runs without reference counting (nrt=False; only the strided-window helpers _strided_window_union and _strided_window_skip allocate) and the
# helpers that take NamedTuples are inlined into their callers (inline=True) — see accel._jit.njit.
_distinct = njit(distinct_taps)  # one definition, shared with Layer.operand_sizes


@njit(nrt=False)
def _spread_indices(d, a, b, x_in, T, SX, SY, vals):
    """Indices of dim ``d`` that the children of one level-``a`` instance cover at one temporal step
    (pair a → b): the child extent x_in[b, d], spread by every fan-out a+1..b whose place value includes
    the (fixed) temporal loops of the bypassed levels in between.  Writes into ``vals``; returns the count."""
    n = x_in[b, d]
    for i in range(n):
        vals[i] = i
    return _spread_by_fanouts(d, a, b, T, SX, SY, vals, n, n)


@njit(nrt=False)
def _spread_by_fanouts(d, a, b, T, SX, SY, vals, n, place):
    """Replicate the ``n`` indices in ``vals`` once per spatial position of every fan-out a+1..b of dim ``d``
    (innermost first), each copy offset by the fan-out's place value (``place``: the extent below it, times the
    temporal loops of the bypassed levels in between).  Writes into ``vals``; returns the new count."""
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
def _axis_sets(axis, a, b, x_in, T, SX, SY):
    """(output indices, count, tap indices, count) that the children of one level-``a`` instance cover on
    window axis ``axis`` (0: P×R, 1: Q×S) at one temporal step, relative to the step's base
    (:func:`_spread_indices`; arrays allocated here)."""
    d_out = D_P + axis  # P or Q
    d_tap = D_R + axis  # R or S
    size_o = x_in[b, d_out]
    size_t = x_in[b, d_tap]
    for f in range(a + 1, b + 1):
        size_o *= SX[f, d_out] * SY[f, d_out]
        size_t *= SX[f, d_tap] * SY[f, d_tap]
    po = np.empty(size_o, dtype=np.int64)
    pt = np.empty(size_t, dtype=np.int64)
    no = _spread_indices(d_out, a, b, x_in, T, SX, SY, po)
    nt = _spread_indices(d_tap, a, b, x_in, T, SX, SY, pt)
    return po, no, pt, nt


@njit
def _marked_taps(po, no, pt, nt, stride, dil):
    """Distinct ``po[i]*stride + pt[j]*dilation`` over i < no, j < nt, counted by marking."""
    if no == 0 or nt == 0:
        return 0
    top = 0
    for i in range(no):
        for j in range(nt):
            top = max(top, po[i] * stride + pt[j] * dil)
    mark = np.zeros(top + 1, dtype=np.uint8)
    count = 0
    for i in range(no):
        for j in range(nt):
            v = po[i] * stride + pt[j] * dil
            if mark[v] == 0:
                mark[v] = 1
                count += 1
    return count


@njit
def _strided_window_union(a, b, x_in, T, SX, SY, layer):
    """Distinct input rows × cols (values, float) the children of one level-``a`` instance read at one
    temporal step when their output/filter indices are non-contiguous (a bypassed level's temporal loop
    sits between two fan-outs of the pair): i*stride + j*dilation over the actual index sets, counted
    exactly by marking."""
    total = 1.0
    for axis in range(2):
        stride = layer.stride_h if axis == 0 else layer.stride_w
        dil = layer.dil_h if axis == 0 else layer.dil_w
        po, no, pt, nt = _axis_sets(axis, a, b, x_in, T, SX, SY)
        total *= _marked_taps(po, no, pt, nt, stride, dil)
    return total


@njit
def _in_bounds_histogram(vals, n, padded, bound):
    """The index sets ``base + vals[:n]`` of all steps partition [0, padded); returns (sorted vals,
    hist) where hist[k] = number of bases whose set has exactly k indices below ``bound``."""
    srt = vals[:n].copy()  # insertion sort: integers, so the same result as np.sort, whose generic quicksort
    for i in range(1, n):  # overloads cost ~7 % of the kernel's compile time (a few dozen values here)
        x = srt[i]
        j = i - 1
        while j >= 0 and srt[j] > x:
            srt[j + 1] = srt[j]
            j -= 1
        srt[j + 1] = x
    covered = np.zeros(padded, dtype=np.uint8)
    hist = np.zeros(n + 1, dtype=np.int64)
    for base in range(padded):
        if covered[base] == 1:
            continue
        for i in range(n):
            covered[base + srt[i]] = 1
        k = 0
        while k < n and base + srt[k] < bound:
            k += 1
        hist[k] += 1
    return srt, hist


@njit
def _strided_window_skip(a, b, x_in, T, SX, SY, layer):
    """``padded_accesses: skip`` for a strided union (:func:`_strided_window_union`): Σ over the steps'
    bases of the distinct input rows × cols touched by in-bounds output/filter indices, over (number of
    bases × the unclipped union) — the fraction of the union the steps are charged for."""
    ratio = 1.0
    for axis in range(2):
        d_out = D_P + axis
        d_tap = D_R + axis
        stride = layer.stride_h if axis == 0 else layer.stride_w
        dil = layer.dil_h if axis == 0 else layer.dil_w
        po, no, pt, nt = _axis_sets(axis, a, b, x_in, T, SX, SY)
        so, ho = _in_bounds_histogram(po, no, x_in[0, d_out], layer.bounds[d_out])
        st, ht = _in_bounds_histogram(pt, nt, x_in[0, d_tap], layer.bounds[d_tap])
        s = 0.0
        n_o = 0.0
        n_t = 0.0
        for ko in range(no + 1):
            n_o += ho[ko]
        for kt in range(nt + 1):
            n_t += ht[kt]
        for ko in range(no + 1):
            if ho[ko] == 0:
                continue
            for kt in range(nt + 1):
                if ht[kt] > 0:
                    s += ho[ko] * ht[kt] * _marked_taps(so, ko, st, kt, stride, dil)
        ratio *= s / (n_o * n_t * _marked_taps(so, no, st, nt, stride, dil))
    return ratio


@njit(nrt=False, inline=True)
def _clipped_window_sum(x_o, n_o, b_o, x_t, n_t, b_t, stride, dil):
    """Σ over the n_o × n_t contiguous (output, tap) index tiles of extents x_o, x_t that partition
    [0, n_o·x_o) × [0, n_t·x_t) of the distinct input rows their in-bounds indices (< b_o, < b_t) touch:
    full tiles, one partial tile per dim (the remainder), the rest padding."""
    qo = min(b_o // x_o, n_o)
    ro = b_o - qo * x_o
    qt = min(b_t // x_t, n_t)
    rt = b_t - qt * x_t
    s = float(qo * qt * _distinct(x_o, x_t, stride, dil))
    if ro > 0:
        s += qt * _distinct(ro, x_t, stride, dil)
    if rt > 0:
        s += qo * _distinct(x_o, rt, stride, dil)
    if ro > 0 and rt > 0:
        s += _distinct(ro, rt, stride, dil)
    return s


@njit(nrt=False, inline=True)
def _skip_ratio(o, layer, padded):
    """``padded_accesses: skip``: the fraction of the values of any tiling of the padded extents ``padded``
    (8,) that in-bounds iterations touch, over the dims ``o`` depends on except a convolution input's window
    dims: Π bounds / padded (each in-bounds index lies in exactly one tile of a tiling)."""
    win = o == OP_INPUTS and layer.window == 1
    r = 1.0
    for d in range(N_DIMS):
        if layer.rel[o, d] == 1 and not (win and d >= WINDOW_DIMS_START):
            r *= layer.bounds[d] / padded[d]
    return r


@njit(nrt=False, inline=True)
def _window_skip_ratio(x, layer, padded):
    """The window-axis factor of :func:`_skip_ratio` for a convolution's inputs held in contiguous tiles of
    extents ``x`` (8,): per axis :func:`_clipped_window_sum` over the unclipped sum."""
    r = 1.0
    for axis in range(2):
        d_o = D_P + axis
        d_t = D_R + axis
        if padded[d_o] == layer.bounds[d_o] and padded[d_t] == layer.bounds[d_t]:
            continue
        stride = layer.stride_h if axis == 0 else layer.stride_w
        dil = layer.dil_h if axis == 0 else layer.dil_w
        n_o = padded[d_o] // x[d_o]
        n_t = padded[d_t] // x[d_t]
        r *= _clipped_window_sum(x[d_o], n_o, layer.bounds[d_o], x[d_t], n_t, layer.bounds[d_t], stride,
                                 dil) / (n_o * n_t * _distinct(x[d_o], x[d_t], stride, dil))
    return r


@njit(nrt=False)
def _strided(a, b, T, SX, SY):
    """True if, for a window dim (P, Q, R, S), a temporal loop of a level strictly between a and b sits
    inside a fan-out in (a, b] that unrolls it (the children's indices are then non-contiguous)."""
    for d in range(WINDOW_DIMS_START, N_DIMS):
        for f in range(a + 1, b + 1):
            if SX[f, d] * SY[f, d] > 1:
                for lv in range(f, b):
                    if T[lv, d] > 1:
                        return True
    return False


@njit(nrt=False, inline=True)
def _in_taps(v, x_o, x_t, stride, dil):
    """True if row ``v`` = p·stride + r·dilation for some p < x_o, r < x_t (one window axis)."""
    for r in range(x_t):
        u = v - r * dil
        if u >= 0 and u % stride == 0 and u // stride < x_o:
            return True
    return False


@njit(nrt=False, inline=True)
def _window_overlap(x_o, x_t, stride, dil, t):
    """|D ∩ (D + t)| (rows) for D = {p·stride + r·dilation : p < x_o, r < x_t}, the rows of one window axis of
    a tile, and a translation of ``t`` rows: the rows two consecutive tiles share (the halo).  Contiguous D
    (|D| = its span): max(0, span − |t|); else counted row by row (:func:`_in_taps`)."""
    n = _distinct(x_o, x_t, stride, dil)
    at = abs(t)
    span = (x_o - 1) * stride + (x_t - 1) * dil + 1
    if at >= span:
        return 0
    if n == span:
        return span - at
    c = 0
    for v in range(at, span):
        if _in_taps(v, x_o, x_t, stride, dil) and _in_taps(v - at, x_o, x_t, stride, dil):
            c += 1
    return c


@njit(nrt=False)
def _child_bases(d, a, b, x_in, T, SX, SY, vals):
    """Base indices of dim ``d`` of the children of one level-``a`` instance (pair a → b), relative to the
    first child: the spatial indices of fan-outs a+1..b times their place values (:func:`_spread_indices`
    with a one-index child).  Writes into ``vals``; returns the count."""
    vals[0] = 0
    return _spread_by_fanouts(d, a, b, T, SX, SY, vals, np.int64(1), x_in[b, d])  # int64, not Literal[int]


@njit
def _halo_union_rows(axis, t, a, b, x_in, T, SX, SY, layer):
    """Rows (cols for ``axis`` 1) of one window axis that the children of one level-``a`` instance receive
    together when every child's tile slides by ``t`` rows: |∪_c (c + D + t) \\ (c + D)| over the children's
    base rows c = p_c·stride + r_c·dilation (:func:`_child_bases`), D the tile's rows — counted by marking
    (the multicast union of the halo deltas; arrays allocated here)."""
    d_o = D_P + axis
    d_t = D_R + axis
    stride = layer.stride_h if axis == 0 else layer.stride_w
    dil = layer.dil_h if axis == 0 else layer.dil_w
    n_o = 1
    n_t = 1
    for f in range(a + 1, b + 1):
        n_o *= SX[f, d_o] * SY[f, d_o]
        n_t *= SX[f, d_t] * SY[f, d_t]
    bo = np.empty(n_o, dtype=np.int64)
    bt = np.empty(n_t, dtype=np.int64)
    n_o = _child_bases(d_o, a, b, x_in, T, SX, SY, bo)
    n_t = _child_bases(d_t, a, b, x_in, T, SX, SY, bt)
    x_o = x_in[b, d_o]
    x_t = x_in[b, d_t]
    span = (x_o - 1) * stride + (x_t - 1) * dil + 1
    top = 0
    for i in range(n_o):
        for j in range(n_t):
            top = max(top, bo[i] * stride + bt[j] * dil)
    shift = max(0, -t)
    mark = np.zeros(top + span + abs(t) + 1, dtype=np.uint8)
    count = 0
    for v in range(span):
        if not _in_taps(v, x_o, x_t, stride, dil):
            continue
        if v + t >= 0 and v + t < span and _in_taps(v + t, x_o, x_t, stride, dil):
            continue  # row v + t of the new tile was held
        for i in range(n_o):
            for j in range(n_t):
                k = bo[i] * stride + bt[j] * dil + v + t + shift
                if mark[k] == 0:
                    mark[k] = 1
                    count += 1
    return count


@njit(nrt=False)
def _axis_union_rows(axis, a, b, x_in, x_u, T, SX, SY, layer, strided):
    """Rows (cols for ``axis`` 1) of one window axis the children of one level-``a`` instance hold together
    (the union's factor along that axis: :func:`_distinct` of the union extents ``x_u``, or counted exactly
    when the children's indices are non-contiguous, :func:`_strided_window_union`)."""
    stride = layer.stride_h if axis == 0 else layer.stride_w
    dil = layer.dil_h if axis == 0 else layer.dil_w
    if not strided:
        return float(_distinct(x_u[D_P + axis], x_u[D_R + axis], stride, dil))
    return _strided_axis_union(axis, a, b, x_in, T, SX, SY, stride, dil)


@njit
def _strided_axis_union(axis, a, b, x_in, T, SX, SY, stride, dil):
    """One axis of :func:`_strided_window_union`."""
    po, no, pt, nt = _axis_sets(axis, a, b, x_in, T, SX, SY)
    return float(_marked_taps(po, no, pt, nt, stride, dil))


H_EQUAL = -1  # a temporal step leaves the input tile unchanged (halo_loops kind)
H_JUMP = -2  # a temporal step moves the tile otherwise than a slide along one window axis: whole refill


@njit(nrt=False)
def _window_input_fills(a, b, layer, arch, m, x_in, x_u, every, strided, tile, union, loops, sweep):
    """(child values, union values): the input values one child instance of the pair a → b receives over the
    layer, and the values the children of one parent instance receive together (the multicast union), for a
    convolution's sliding-window inputs — tiles counted whole (padding included; the caller applies the
    ``padded_accesses`` ratios).  ``loops`` (8L, 4) and ``sweep`` (2, 5, 3) are scratch.

    Step j (temporal loop j above b, factor f_j, innermost first) moves the tile by t_j: +1 step of loop j
    (its place value x_in[lv, d] / f_j) in its dim, every inner loop reset by −(f − 1) steps.  A step is
    free when t_j leaves the input where it was (an irrelevant loop, or a sliding-window coincidence
    p·stride + r·dilation unchanged).  With ``conventions.halo_reuse`` a step that slides the window along a
    single axis (rows or columns, overlapping ranges, no other input coordinate changed) fills only the new
    rows (|tile| − |halo|, :func:`_window_overlap`; union: :func:`_halo_union_rows` × the union of the other
    axis × the union of the non-window dims), provided the previous slide went the same way — Timeloop's
    tile delta, an axis-aligned hyper-rectangle difference taken only along one axis, whose residual state
    is dropped when the slide changes direction (Parashar et al., ISPASS 2019; NVlabs/timeloop
    point-set-aahr.cpp ``Subtract`` and ``operator-``).  Every other step refetches the whole tile.  Without
    halo reuse, total = tile · (1 + Σ_j N_j·(f_j − 1)·[t_j ≠ 0]) with N_j the iterations outside loop j.
    With it, the slide direction is a state (none, ±rows, ±cols): the sweep of loops j..innermost maps an
    entry state to (exit state, values), built from the innermost loop outward (a loop repeats [step j,
    sweep of the inner loops] f_j − 1 times, stopping early at a fixed point of the state).  The first tile
    is a fill.  ``every``: the MAC without operand registers refills at every step."""
    T, ORD = m.temporal, m.order
    total = 1.0
    for lv in range(b):
        for d in range(N_DIMS):
            total *= T[lv, d]
    if every == 1:
        return total * tile, total * union
    child = tile
    uni = union
    inner = 1.0
    r_p = 0
    r_q = 0
    r_r = 0
    r_s = 0
    moved_nw = False  # an inner loop resets a non-window input coordinate
    nw_u = 1.0
    for d in range(WINDOW_DIMS_START):
        if layer.rel[OP_INPUTS, d] == 1:
            nw_u *= x_u[d]
    x = x_in[b]
    n = 0
    slides = False
    for lv in range(b - 1, -1, -1):
        for j in range(N_DIMS - 1, -1, -1):
            d = ORD[lv, j]
            f = T[lv, d]
            if f == 1:
                continue
            w = x_in[lv, d] // f  # place value of one step of this loop in dim d
            occ = total / (inner * f) * (f - 1)
            nw = d < WINDOW_DIMS_START and layer.rel[OP_INPUTS, d] == 1
            kind = H_JUMP
            h_child = tile
            h_union = union
            if not (moved_nw or nw):
                th = (r_p + (w if d == D_P else 0)) * layer.stride_h + (r_r + (w if d == D_R else 0)) * layer.dil_h
                tw = (r_q + (w if d == D_Q else 0)) * layer.stride_w + (r_s + (w if d == D_S else 0)) * layer.dil_w
                if th == 0 and tw == 0:
                    kind = H_EQUAL  # the same input tile: stationary (or a sliding-window coincidence)
                elif arch.halo_reuse == 1 and (th == 0 or tw == 0):
                    axis = 0 if tw == 0 else 1
                    t = th if tw == 0 else tw
                    s_ax = layer.stride_h if axis == 0 else layer.stride_w
                    d_ax = layer.dil_h if axis == 0 else layer.dil_w
                    x_o = x[D_P + axis]
                    x_t = x[D_R + axis]
                    if abs(t) < (x_o - 1) * s_ax + (x_t - 1) * d_ax + 1:  # the row ranges overlap: a slide
                        kind = 2 * axis + (1 if t > 0 else 0)
                        slides = True
                        rows = float(_distinct(x_o, x_t, s_ax, d_ax))
                        new_rows = rows - _window_overlap(x_o, x_t, s_ax, d_ax, t)
                        h_child = tile / rows * new_rows
                        if x_u[D_P + axis] > x_o or x_u[D_R + axis] > x_t:
                            u_rows = _halo_union_rows(axis, t, a, b, x_in, T, m.spatial_x, m.spatial_y, layer)
                        else:
                            u_rows = new_rows
                        h_union = nw_u * u_rows * _axis_union_rows(1 - axis, a, b, x_in, x_u, T, m.spatial_x,
                                                                     m.spatial_y, layer, strided)
            if kind != H_EQUAL:
                child += occ * tile
                uni += occ * union
            loops[n, 0] = f
            loops[n, 1] = kind
            loops[n, 2] = h_child
            loops[n, 3] = h_union
            n += 1
            if d == D_P:
                r_p -= (f - 1) * w
            elif d == D_Q:
                r_q -= (f - 1) * w
            elif d == D_R:
                r_r -= (f - 1) * w
            elif d == D_S:
                r_s -= (f - 1) * w
            elif nw:
                moved_nw = True
            inner *= f
    if not slides:
        return child, uni
    cur = 0  # sweep[cur, s] = (exit state, child values, union values) of the loops swept so far
    for st in range(5):
        sweep[cur, st, 0] = st
        sweep[cur, st, 1] = 0.0
        sweep[cur, st, 2] = 0.0
    for i in range(n):
        f = int(loops[i, 0])
        kind = int(loops[i, 1])
        nxt = 1 - cur
        for st0 in range(5):
            st = int(sweep[cur, st0, 0])
            c = sweep[cur, st0, 1]
            u = sweep[cur, st0, 2]
            k = 1
            while k < f:
                if kind == H_EQUAL:
                    dc = 0.0
                    du = 0.0
                    st2 = 0
                elif kind == H_JUMP or (st != 0 and st != kind + 1):
                    dc = tile
                    du = union
                    st2 = 0
                else:
                    dc = loops[i, 2]
                    du = loops[i, 3]
                    st2 = kind + 1
                st3 = int(sweep[cur, st2, 0])
                dc += sweep[cur, st2, 1]
                du += sweep[cur, st2, 2]
                c += dc
                u += du
                k += 1
                if st3 == st:  # a fixed point: every remaining repetition is the same
                    c += (f - k) * dc
                    u += (f - k) * du
                    break
                st = st3
            sweep[nxt, st0, 0] = st
            sweep[nxt, st0, 1] = c
            sweep[nxt, st0, 2] = u
        cur = nxt
    return tile + sweep[cur, 0, 1], union + sweep[cur, 0, 2]


@njit(nrt=False, inline=True)
def _footprint(o, x, layer):
    """Values of operand ``o`` touched by a sub-nest whose per-dim extents are ``x`` (8,) — the tile size
    of Timeloop's model (Parashar et al., ISPASS 2019, sec. IV): Π of the extents of the dims relevant to
    ``o``.  For a convolution's inputs the rows (cols) are the distinct ``p*stride + r*dilation`` of P×R
    (Q×S) (:func:`accel.workload.distinct_taps`), so sliding-window overlap inside a tile is exact."""
    rel = layer.rel
    if layer.present[o] == 0:
        return 0.0
    if o == OP_INPUTS and layer.window == 1:
        # inputs: G·N·(C or K)·H·W with H, W from the sliding window
        v = float(_distinct(x[D_P], x[D_R], layer.stride_h, layer.dil_h)) * \
            float(_distinct(x[D_P + 1], x[D_R + 1], layer.stride_w, layer.dil_w))
        for d in range(WINDOW_DIMS_START):
            if rel[o, d] == 1:
                v *= x[d]
        return v
    v = 1.0
    for d in range(N_DIMS):
        if rel[o, d] == 1:
            v *= x[d]
    return v


@njit(nrt=False, inline=True)
def _coverage(layer, arch, m):
    """(reason, padded iteration points).  Every dim must be covered,
    Π_lv T[lv, d] · Π_f SX[f, d]·SY[f, d] ≥ bounds[d] (else R_UNCOVERED; the product is the padded extent
    the loop nest really runs), and every fan-out must fit its array, Π_d SX[f, d] ≤ fanout_x[f] and
    Π_d SY[f, d] ≤ fanout_y[f] (else R_SPATIAL_FIT)."""
    L = arch.n_levels
    T, SX, SY = m.temporal, m.spatial_x, m.spatial_y
    padded = 1.0
    for d in range(N_DIMS):
        c = 1
        for lv in range(L):
            c *= T[lv, d]
        for f in range(1, L + 1):
            c *= SX[f, d] * SY[f, d]
        if c < layer.bounds[d]:
            return R_UNCOVERED, padded
        padded *= c
    for f in range(1, L + 1):
        ux = 1
        uy = 1
        for d in range(N_DIMS):
            ux *= SX[f, d]
            uy *= SY[f, d]
        if ux > arch.fanout_x[f] or uy > arch.fanout_y[f]:
            return R_SPATIAL_FIT, padded
    return R_VALID, padded


@njit(nrt=False, inline=True)
def _dataflow_rules(layer, arch, m):
    """Reason code of the first dataflow rule the mapping breaks (R_VALID if none).

    MAC layers only (pooling and element-wise layers run as plain vector ops, one op per MAC unit per
    cycle, with any unrolling), per dim: unrolling on the PE array's x / y axis must be allowed (R_AXIS);
    the innermost level may iterate only the dims its stationarity allows (R_STATIONARITY; e.g. Eyeriss'
    row-stationary PE iterates a filter row — Chen et al., ISCA 2016, JSSC 2017); ``spatial_full`` dims
    that fit the array's rows are fully unrolled and ``innermost_full`` dims fully iterated at the
    innermost level (R_FULL_UNROLL).  For every layer, a level may keep only the operands it can hold
    (R_KEEP)."""
    L = arch.n_levels
    T, SX, SY, KEEP = m.temporal, m.spatial_x, m.spatial_y, m.keep
    pe = arch.pe_level
    inner = L - 1
    for d in range(N_DIMS if layer.is_mac == 1 else 0):
        if pe <= L:
            if SX[pe, d] > 1 and arch.allow_x[d] == 0:
                return R_AXIS
            if SY[pe, d] > 1 and arch.allow_y[d] == 0:
                return R_AXIS
        if T[inner, d] > 1 and arch.innermost_only[d] == 0:
            return R_STATIONARITY
        if arch.spatial_full[d] == 1 and layer.bounds[d] <= arch.fanout_y[pe]:
            for lv in range(L):
                if T[lv, d] > 1:
                    return R_FULL_UNROLL
        if arch.innermost_full[d] == 1:
            if T[inner, d] < layer.bounds[d]:
                return R_FULL_UNROLL
    for lv in range(L):
        for o in range(N_OPERANDS):
            if KEEP[lv, o] == 1 and arch.keeps[lv, o] == 0:
                return R_KEEP
    return R_VALID


@njit(nrt=False, inline=True)
def _inner_extents(L, m, x_in, inst):
    """Fill ``x_in`` (L+1, 8) and ``inst`` (L+1,).

    x_in[lv, d] = Π of the factors of dim d at or inside level lv's temporal loops (the extent of lv's tile;
    row L-1 includes fan-out L, the MAC lanes a PE's registers feed; row L = 1, the MAC itself):
    x_in[lv, d] = x_in[lv+1, d] · T[lv, d] · SX[lv+1, d]·SY[lv+1, d].
    inst[f] = instances below fan-out f = Π_{f' ≤ f} Π_d SX[f', d]·SY[f', d] (inst[0] = 1)."""
    T, SX, SY = m.temporal, m.spatial_x, m.spatial_y
    for d in range(N_DIMS):
        x_in[L, d] = 1
    for lv in range(L - 1, -1, -1):
        for d in range(N_DIMS):
            x_in[lv, d] = x_in[lv + 1, d] * T[lv, d] * (SX[lv + 1, d] * SY[lv + 1, d] if lv + 1 <= L else 1)
    inst[0] = 1.0
    for f in range(1, L + 1):
        u = 1.0
        for d in range(N_DIMS):
            u *= SX[f, d] * SY[f, d]
        inst[f] = inst[f - 1] * u


@njit(nrt=False, inline=True)
def _capacity(layer, arch, m, x_in, tile_bits):
    """R_CAPACITY if a tile does not fit, else R_VALID; writes ``tile_bits`` (L, 3), bits per instance.

    Level lv (1 ≤ lv < L; DRAM is unbounded) holds, per kept operand, footprint(x_in[lv]) × op_bits bits;
    each must fit its partition (``part_bits`` > 0) or together they must fit ``size_bits``."""
    L = arch.n_levels
    for lv in range(1, L):
        used = 0.0
        for o in range(N_OPERANDS):
            if m.keep[lv, o] == 1 and layer.present[o] == 1:
                tb = _footprint(o, x_in[lv], layer) * arch.op_bits[lv, o]
                tile_bits[lv, o] = tb
                if arch.part_bits[lv, o] > 0:
                    if tb > arch.part_bits[lv, o]:
                        return R_CAPACITY
                else:
                    used += tb
        if used > arch.size_bits[lv]:
            return R_CAPACITY
    return R_VALID


@njit(nrt=False, inline=True)
def _compute_cycles(T, L):
    """(compute, folds): compute = Π of all temporal factors (cycles with every MAC lane busy each
    cycle); folds = Π of the temporal factors above the innermost level (how often the PE array is
    reloaded — the folds of SCALE-Sim, Samajdar et al., ISPASS 2020)."""
    compute = 1.0
    folds = 1.0
    for lv in range(L):
        for d in range(N_DIMS):
            compute *= T[lv, d]
            if lv < L - 1:
                folds *= T[lv, d]
    return compute, folds


@njit(nrt=False, inline=True)
def _fills(o, b, rel, T, ORD, every):
    """(fills, distinct) of child level ``b`` for operand ``o`` (per instance).

    Timeloop's refill rule (Parashar et al., ISPASS 2019): walking the temporal loops above b from the
    outermost down, fills = Π of the factors of every loop down to and including the innermost loop
    relevant to ``o`` — irrelevant loops inside it reuse the resident tile (stationarity).  With ``every``
    (the MAC without operand registers, ``conventions.mac_operand_reuse: false``) no tile is reused: fills
    = Π of all factors above b.  distinct = Π of the relevant factors alone: fills − distinct of an
    output's fills revisit a tile (psum read-back)."""
    fills = 1.0
    distinct = 1.0
    found = every == 1
    for lv in range(b - 1, -1, -1):
        for j in range(N_DIMS - 1, -1, -1):
            d = ORD[lv, j]
            f = T[lv, d]
            if f == 1:
                continue
            if rel[o, d] == 1:
                found = True
                distinct *= f
            if found:
                fills *= f
    return fills, distinct


@njit(nrt=False, inline=True)
def _pair_union(o, a, b, layer, m, x_in, x_u):
    """(union, between, strided) for operand ``o`` and the pair parent ``a`` → child ``b``.

    between = Π_d of the spatial factors of fan-outs a+1..b (children per parent instance); union =
    values the children of one parent instance hold together (multicast / spatial-reduction footprint):
    footprint of x_u = x_in[b] × those factors (written into ``x_u``); for a convolution's inputs whose
    children see non-contiguous output/filter indices (:func:`_strided`) the rows × cols are counted
    exactly (:func:`_strided_window_union`) — Eyeriss' diagonal ifmap reuse across PE rows (Chen et al.,
    ISCA 2016); ``strided`` tells that case."""
    T, SX, SY = m.temporal, m.spatial_x, m.spatial_y
    between = 1.0
    for d in range(N_DIMS):
        sp = 1
        for f in range(a + 1, b + 1):
            sp *= SX[f, d] * SY[f, d]
        x_u[d] = x_in[b, d] * sp
        between *= sp
    union = _footprint(o, x_u, layer)
    strided = o == OP_INPUTS and layer.window == 1 and b - a > 1 and _strided(a, b, T, SX, SY)
    if strided:
        union = _strided_window_union(a, b, x_in, T, SX, SY, layer)
        for d in range(WINDOW_DIMS_START):
            if layer.rel[o, d] == 1:
                union *= x_u[d]
    return union, between, strided


@njit(nrt=False, inline=True)
def _count(v, skip):
    """An access count: with ``padded_accesses: skip`` a product of float ratios whose exact value is an
    integer (a sum of in-bounds tile sizes), so it is rounded; else ``v`` (already exact)."""
    return np.rint(v) if skip == 1 else v  # = np.round(v) (both llvm.rint), without np.round's generic overloads


@njit(nrt=False, inline=True)
def _pair_accesses(o, a, b, layer, arch, m, scr, reads, writes, skip_ratio, window_padded, n_xfer):
    """Accesses of operand ``o`` between parent level ``a`` and child ``b`` (the next level below a that
    keeps o; b = L is the MACs, a 1-value tile).  Adds into ``reads`` / ``writes`` (L, 3), values, and into
    ``scr.serial_bits`` (L, 2) the parent's bits that do not overlap compute (a serial_onload child's
    traffic; else the first tile / last output tile).  ``scr`` is the :class:`Scratch` (x_in, inst, x_u).
    A convolution's inputs count their fills by :func:`_window_input_fills` (halo and coincidence reuse).

    Timeloop's tile / fill model (Parashar et al., ISPASS 2019): child_total = fills · tile · inst[b]
    values are delivered to all children.  Read-only operands: the parent reads fills · union · inst[a]
    with multicast (one read serves every child that needs the value), child_total without.  Outputs flow
    up: each fill is drained to the parent (reduced across the children by the NoC with spatial
    reduction, else one read-modify-write per child), and every fill but the first visit of a tile
    (fills − distinct) reads the partial sum back down.

    Conventions (:class:`accel.arch.Conventions`): without ``mac_operand_reuse`` the MACs (b = L) refill
    every operand at every temporal step (:func:`_fills` with ``every``); without ``psum_drain_read`` a
    drain writes the parent but reads nothing from the child; with ``padded_accesses: skip`` on a padded
    nest (``skip_ratio`` ≥ 0: :func:`_skip_ratio` of ``o``; ``window_padded``: a window dim is padded) tiles
    and unions are charged only their in-bounds part (:func:`_window_skip_ratio`,
    :func:`_strided_window_skip`; every tile is visited equally often, so the ratio of the sums is exact)
    while prologue and psum-accumulation cycles count the padded tiles.  A padded sliding window under ``skip``
    gets no halo or coincidence reuse (:func:`_window_input_fills` is for unpadded windows): the in-bounds
    part of a window depends on where it is, so its tiles are refetched whole at every move of a relevant
    loop — an upper bound of the exact count, exact under the ratio above.

    Returns (noc_bits, kind, psum_drains): bits crossing a fan-out of more than one instance; the kind of
    transfer term written to row ``n_xfer`` of ``scr.xfer`` (XFER_NONE: none) — for a double-buffered child,
    the bits the parent delivers as the first tile (prologue; epilogue for outputs) at its read (write)
    bandwidth; for a ``serial_onload`` child, all the pair's parent traffic per parent instance at the
    parent's bandwidth (reads; for outputs also writes), priced in cycles by :func:`_transfer_cycles`; and for
    outputs at or below the PE array, fills · tile psum drains per PE (else -1), counted with the MAC holding
    its psum (a latency, independent of the access convention)."""
    L = arch.n_levels
    x_in, inst, x_u, serial_bits = scr.x_in, scr.inst, scr.x_u, scr.serial_bits
    every = 1 if b == L and arch.mac_operand_reuse == 0 else 0
    fills, distinct = _fills(o, b, layer.rel, m.temporal, m.order, every)
    tile_full = _footprint(o, x_in[b], layer) if b < L else 1.0
    union_full, between, strided = _pair_union(o, a, b, layer, m, x_in, x_u)
    tile_ratio = 1.0
    union_ratio = 1.0
    if skip_ratio >= 0.0:  # padded_accesses: skip on a padded nest: charge the in-bounds part of the tiles
        tile_ratio = skip_ratio
        union_ratio = skip_ratio
        if window_padded == 1:
            tile_ratio *= _window_skip_ratio(x_in[b], layer, x_in[0])
            if strided:
                union_ratio *= _strided_window_skip(a, b, x_in, m.temporal, m.spatial_x, m.spatial_y, layer)
            else:
                union_ratio *= _window_skip_ratio(x_u, layer, x_in[0])
    tile = tile_full * tile_ratio
    union = union_full * union_ratio
    skip = 1 if skip_ratio >= 0.0 else 0
    if o == OP_INPUTS and layer.window == 1 and window_padded == 0:  # sliding windows: coincidences, halo
        child_vals, union_vals = _window_input_fills(a, b, layer, arch, m, x_in, x_u, every, strided, tile_full,
                                                     union_full, scr.halo_loops, scr.halo_sweep)
        child_total = _count(child_vals * tile_ratio * inst[b], skip)
        union_total = _count(union_vals * union_ratio * inst[a], skip)
    else:
        child_total = _count(fills * tile * inst[b], skip)  # values delivered to (or drained from) all children
        union_total = _count(fills * union * inst[a], skip)  # the children's union, all parent instances
    psum_drains = -1.0
    if o != OP_OUTPUTS:
        parent_reads = union_total if arch.multicast == 1 else child_total
        parent_writes = 0.0
        reads[a, o] += parent_reads
        if b < L:
            writes[b, o] += child_total
    else:
        if arch.spatial_reduction == 1:
            parent_writes = union_total
            extra_rmw = 0.0
        else:
            parent_writes = child_total
            extra_rmw = child_total - union_total
        back = _count((fills - distinct) * (union if arch.spatial_reduction == 1 else tile * between) * inst[a], skip)
        parent_reads = back + extra_rmw
        writes[a, o] += parent_writes
        reads[a, o] += parent_reads
        if b < L:
            if arch.psum_drain_read == 1:
                reads[b, o] += child_total  # drain reads
            writes[b, o] += _count((fills - distinct) * tile * inst[b], skip)  # psums read back down
        if b >= arch.pe_level:  # the PE's adder works per psum drain whatever the MAC's operand convention
            psum_drains = (_fills(o, b, layer.rel, m.temporal, m.order, 0)[0] if every == 1 else fills) * tile_full
    noc_bits = 0.0
    for f in range(a + 1, b + 1):
        if arch.fanout_x[f] * arch.fanout_y[f] > 1:
            noc_bits = child_total * arch.op_bits[min(b, L - 1), o]
    kind = XFER_NONE
    if b < L:
        bits = arch.op_bits[a, o]
        xf = scr.xfer
        xf[n_xfer, 1] = a
        if arch.serial_onload[b] == 1:
            # no double buffering: every transfer of the pair waits for the parent's port (per instance)
            if o != OP_OUTPUTS:
                kind = XFER_ONLOAD_IN
                xf[n_xfer, 2] = parent_reads * bits / inst[a]
            else:
                kind = XFER_ONLOAD_OUT
                xf[n_xfer, 2] = parent_writes * bits
                xf[n_xfer, 3] = parent_reads * bits
                xf[n_xfer, 4] = inst[a]
            serial_bits[a, 0] += parent_reads * bits  # serialized: not also overlapped with compute
            serial_bits[a, 1] += parent_writes * bits
        elif arch.systolic == 0 or layer.is_mac == 0:  # (systolic arrays: the per-fold model has the fill)
            kind = XFER_FILL_READ if o != OP_OUTPUTS else XFER_FILL_WRITE
            xf[n_xfer, 2] = union_full * bits  # cycles count padded values
            # the first tile arrives before compute starts, the last output tile drains after it ends
            serial_bits[a, 1 if o == OP_OUTPUTS else 0] += min(union * inst[a], parent_writes if o == OP_OUTPUTS
                                                               else parent_reads) * bits
        xf[n_xfer, 0] = kind
    return noc_bits, kind, psum_drains


@njit(nrt=False)
def _accesses(layer, arch, m, scr, reads, writes, padded):
    """Reads and writes of every level and operand (into ``reads`` / ``writes``), summed over the
    (parent, child) pairs of the levels that keep each operand (bypassing levels are skipped) — see
    :func:`_pair_accesses`.  Returns (noc_bits, n_xfer: the transfer terms written to ``scr.xfer``, in pair
    order, psum_drains_per_pe)."""
    L = arch.n_levels
    noc_bits = 0.0
    n_xfer = 0
    psum_drains_per_pe = 0.0
    x_in = scr.x_in
    scr.serial_bits[:] = 0.0
    for o in range(N_OPERANDS):
        if layer.present[o] == 0:
            continue
        skip_ratio = _skip_ratio(o, layer, x_in[0]) if padded == 1 and arch.padded_skip == 1 else -1.0
        window_padded = 0
        if skip_ratio >= 0.0 and o == OP_INPUTS and layer.window == 1:
            for d in range(WINDOW_DIMS_START, N_DIMS):
                if x_in[0, d] > layer.bounds[d]:
                    window_padded = 1
        a = np.int64(0)  # int64, not Literal[int](0): callees compile once
        for b in range(1, L + 1):
            if b < L and m.keep[b, o] == 0:
                continue
            noc, kind, drains = _pair_accesses(o, a, b, layer, arch, m, scr, reads, writes, skip_ratio,
                                               window_padded, n_xfer)
            if drains >= 0.0:
                psum_drains_per_pe = drains
            noc_bits += noc
            if kind != XFER_NONE:
                n_xfer += 1
            a = b
    return noc_bits, n_xfer, psum_drains_per_pe


# transfer terms (rows of Scratch.xfer: kind, parent level, v1, v2, v3), priced by _transfer_cycles
XFER_NONE = 0.0
XFER_FILL_READ = 1.0  # prologue: v1 bits at the parent's read bandwidth
XFER_FILL_WRITE = 2.0  # epilogue (outputs): v1 bits at the parent's write bandwidth
XFER_ONLOAD_IN = 3.0  # serial onload of a read-only operand: v1 bits per parent instance at its read bandwidth
XFER_ONLOAD_OUT = 4.0  # serial onload of outputs: (v1 / write bandwidth + v2 / read bandwidth) / v3 instances


@njit(nrt=False, inline=True)
def _transfer_cycles(arch, xfer, n):
    """(fill_cycles, onload_cycles) of the first ``n`` transfer terms of ``xfer`` (3L, 5), summed in their
    order: the only place the bandwidths enter besides :func:`_bandwidth_cycles`."""
    fill = 0.0
    onload = 0.0
    for k in range(n):
        kind = xfer[k, 0]
        a = np.int64(xfer[k, 1])
        if kind == XFER_FILL_READ:
            fill += xfer[k, 2] / arch.read_bw[a]
        elif kind == XFER_FILL_WRITE:
            fill += xfer[k, 2] / arch.write_bw[a]
        elif kind == XFER_ONLOAD_IN:
            onload += xfer[k, 2] / arch.read_bw[a]
        else:
            onload += (xfer[k, 2] / arch.write_bw[a] + xfer[k, 3] / arch.read_bw[a]) / xfer[k, 4]
    return fill, onload


@njit(nrt=False, inline=True)
def _array_overheads(layer, arch, m, folds, psum_drains_per_pe):
    """(accum, fold) cycles on top of the compute cycles.

    accum: arrays whose PEs add forwarded partial sums with their own adder (Eyeriss' row-stationary
    vertical psum accumulation, Chen et al., JSSC 2017) spend psum_acc_cycles per psum drain of a PE when
    reduction dims are unrolled across the PE array.  fold: systolic arrays pay per fold
    fold_rows_coef·rows + fold_cols_coef·cols + fold_const (+ layer_const once) of fill and drain —
    SCALE-Sim's 2R + C − 2 (ws / is) or R + C − 2 (os) per fold, −1 per layer (Samajdar et al., ISPASS
    2020; :mod:`accel.systolic`)."""
    L = arch.n_levels
    pe = arch.pe_level
    SX, SY = m.spatial_x, m.spatial_y
    red_spatial = 1.0
    if pe <= L:
        for d in range(N_DIMS):
            if layer.rel[OP_OUTPUTS, d] == 0:
                red_spatial *= SX[pe, d] * SY[pe, d]
    accum = 0.0
    if arch.psum_acc_cycles > 0 and red_spatial > 1 and layer.present[OP_OUTPUTS] == 1:
        accum = arch.psum_acc_cycles * psum_drains_per_pe
    fold = 0.0
    if arch.systolic == 1 and layer.is_mac == 1:
        fold = folds * (arch.fold_rows_coef * arch.fanout_y[pe] + arch.fold_cols_coef * arch.fanout_x[pe]
                        + arch.fold_const) + arch.layer_const
    return accum, fold


@njit
def _bandwidth_bound(arch, inst, reads, writes, serial_bits, bw_cycles, busy):
    """max(busy, every level's overlapped bandwidth time); writes ``bw_cycles`` (L,).  A level's time is its
    per-instance read (and write) bits over its bandwidth (shared port: (r + w) / read_bw, else
    max(r / read_bw, w / write_bw)); double buffering overlaps transfers with compute, so only the excess
    over ``busy`` stalls (Timeloop, Parashar et al., ISPASS 2019).  The bits in ``serial_bits`` (L, 2: read,
    write) are not overlapped — the first tile and the last output tile (prologue / epilogue) and every
    transfer to a ``serial_onload`` child — and the caller adds their time to the latency, so they are left
    out here (counted once; ZigZag's stall term likewise excludes what it onloads and offloads)."""
    lb = np.empty((arch.n_levels, 3))
    _level_bits(arch, inst, reads, writes, serial_bits, lb)
    return _bandwidth_cycles(arch, lb, bw_cycles, busy)


@njit(nrt=False, inline=True)
def _level_bits(arch, inst, reads, writes, serial_bits, lb):
    """Per level the bits :func:`_bandwidth_bound` divides by its bandwidths, into ``lb`` (L, 3): read bits and
    write bits of all operands less the serialized ones, and the instances."""
    for lv in range(arch.n_levels):
        r = 0.0
        w = 0.0
        for o in range(N_OPERANDS):
            r += reads[lv, o] * arch.op_bits[lv, o]
            w += writes[lv, o] * arch.op_bits[lv, o]
        lb[lv, 0] = max(0.0, r - serial_bits[lv, 0])
        lb[lv, 1] = max(0.0, w - serial_bits[lv, 1])
        lb[lv, 2] = inst[lv]


@njit(nrt=False, inline=True)
def _bandwidth_cycles(arch, lb, bw_cycles, busy):
    """max(busy, every level's bandwidth time) from :func:`_level_bits`' ``lb``; writes ``bw_cycles`` (L,)."""
    worst = busy
    for lv in range(arch.n_levels):
        r = lb[lv, 0]
        w = lb[lv, 1]
        ninst = lb[lv, 2]
        if arch.shared_port[lv] == 1:
            cyc = (r + w) / ninst / arch.read_bw[lv]
        else:
            cyc = max(r / ninst / arch.read_bw[lv], w / ninst / arch.write_bw[lv])
        bw_cycles[lv] = cyc
        if cyc > worst:
            worst = cyc
    return worst


@njit(nrt=False, inline=True)
def _latency(arch, lb, xfer, n_xfer, busy, bw_cycles):
    """(latency, fill_cycles, onload_cycles): max(busy, bandwidth times) + fill + onload, from the bandwidth-free
    quantities of a mapping (:func:`_level_bits`' ``lb``, the transfer terms, busy cycles); writes ``bw_cycles``."""
    worst = _bandwidth_cycles(arch, lb, bw_cycles, busy)
    fill, onload = _transfer_cycles(arch, xfer, n_xfer)
    return worst + fill + onload, fill, onload


@njit(nrt=False, inline=True)
def _access_energy_pj(reads, writes, bits, read_e_bit, write_e_bit, block_bits, inst):
    """Energy (pJ) of one level × operand: ``reads`` / ``writes`` values (totals over ``inst`` instances) of
    ``bits`` bits, at ``read_e_bit`` / ``write_e_bit`` pJ per bit (the level's ``read_energy_pj`` /
    ``write_energy_pj`` per ``word_bits``-bit access).

    ``block_bits`` 0 (``conventions.access_granularity: bit``): (reads · read_e_bit + writes · write_e_bit) ·
    bits, prorated per bit.  Otherwise (``word``: ``block_bits`` = the level's ``word_bits``) each direction's
    mean per-instance stream is rounded up to whole words: accesses = ⌈n · bits / (inst · block_bits)⌉ · inst
    for n = reads, writes (writes = fills + updates), each costing block_bits · e_bit — Timeloop's vector
    accesses, ``ceil(scalar accesses per instance / block_size)`` per dataspace and action over the whole run,
    each charged one vector-access energy (NVlabs/timeloop src/model/buffer.cpp,
    ``BufferLevel::ComputeVectorAccesses``: ``total_naive_accesses = (iter->second % block_size == 0) ?
    iter->second / block_size : iter->second / block_size + 1``; Timeloop rounds fills and updates separately).
    A relative 1e-9 is taken off before rounding up, so float noise in a whole number of words (e.g.
    2.0000000000000004) does not charge one more word."""
    if block_bits == 0.0:
        return (reads * read_e_bit + writes * write_e_bit) * bits
    e = 0.0
    if reads > 0.0:
        e += math.ceil(reads * bits / (inst * block_bits) * (1.0 - 1e-9)) * inst * block_bits * read_e_bit
    if writes > 0.0:
        e += math.ceil(writes * bits / (inst * block_bits) * (1.0 - 1e-9)) * inst * block_bits * write_e_bit
    return e


@njit(nrt=False, inline=True)
def _energy(layer, arch, reads, writes, energy, noc_bits, real_points, latency, inst):
    """(total, noc, mac, static) energy in pJ; writes ``energy`` (L, 3).  Per level and operand
    :func:`_access_energy_pj` (accesses · op_bits · pJ/bit, rounded up to whole words per instance where
    ``conventions.access_granularity`` is ``word``); NoC bits · noc_e_bit; real MACs (or ops) · energy per MAC
    (op); static power (mW) × latency (cycles / clock_hz)."""
    e = 0.0
    for lv in range(arch.n_levels):
        for o in range(N_OPERANDS):
            el = _access_energy_pj(reads[lv, o], writes[lv, o], arch.op_bits[lv, o], arch.read_e_bit[lv],
                                   arch.write_e_bit[lv], arch.block_bits[lv], inst[lv])
            energy[lv, o] = el
            e += el
    noc_e = noc_bits * arch.noc_e_bit
    mac_e = real_points * (arch.mac_energy_pj if layer.is_mac == 1 else arch.op_energy_pj)
    e, static_e = _energy_total(arch, e, noc_e, mac_e, latency)
    return e, noc_e, mac_e, static_e


@njit(nrt=False, inline=True)
def _energy_total(arch, access_e, noc_e, mac_e, latency):
    """(total, static) energy in pJ from the access, NoC and MAC energies (pJ) and the latency (cycles):
    static = static power (mW) × latency / clock_hz.  The one place the clock enters a mapping's energy
    (:func:`mapper.genome._price_stored` replays it for another clock, bit for bit)."""
    static_e = arch.static_power_mw * 1e-3 * latency / arch.clock_hz * 1e12
    e = access_e
    e += noc_e + mac_e + static_e
    return e, static_e


@njit(nrt=False)
def _evaluate_into(layer, arch, m, out, scr):
    """Cost of one mapping: fills the record ``out`` (:mod:`accel.layout`) and returns the latency in
    cycles, or inf (with the reason code at O_REASON) if the mapping is invalid.

    ``layer`` LayerArrays, ``arch`` ArchArrays, ``m`` MappingArrays, ``scr`` Scratch (see each).  Units:
    cycles, pJ, bits; access counts in values.  Latency = max(compute + accum + fold, every level's
    bandwidth time) + fill/drain; energy = accesses + NoC + MACs + static (see the module docstring).
    """
    L = arch.n_levels
    bw_cycles, reads, writes, energy, tile_bits = record_blocks(out, L)
    out[:] = 0.0
    out[O_LATENCY] = np.inf
    out[O_ENERGY] = np.inf
    real_points = 1.0
    for d in range(N_DIMS):
        real_points *= layer.bounds[d]
    out[O_POINTS] = real_points
    reason, padded = _coverage(layer, arch, m)
    if reason == R_VALID:
        reason = _dataflow_rules(layer, arch, m)
    if reason == R_VALID:
        _inner_extents(L, m, scr.x_in, scr.inst)
        reason = _capacity(layer, arch, m, scr.x_in, tile_bits)
    if reason != R_VALID:
        out[O_REASON] = reason
        return np.inf
    compute, folds = _compute_cycles(m.temporal, L)
    noc_bits, n_xfer, psum_drains_per_pe = _accesses(layer, arch, m, scr, reads, writes, 1 if padded > real_points else 0)
    accum, fold = _array_overheads(layer, arch, m, folds, psum_drains_per_pe)
    _level_bits(arch, scr.inst, reads, writes, scr.serial_bits, scr.level_bits)
    latency, fill_cycles, onload_cycles = _latency(arch, scr.level_bits, scr.xfer, n_xfer, compute + accum + fold,
                                                   bw_cycles)
    out[O_XFER] = n_xfer
    e, noc_e, mac_e, static_e = _energy(layer, arch, reads, writes, energy, noc_bits, real_points, latency,
                                         scr.inst)
    inst = scr.inst
    total_macs = 1.0
    for f in range(1, L + 1):
        total_macs *= arch.fanout_x[f] * arch.fanout_y[f]
    pe = arch.pe_level
    out[O_LATENCY] = latency
    out[O_COMPUTE] = compute
    out[O_ACCUM] = accum
    out[O_FOLD] = fold
    out[O_FILL] = fill_cycles
    out[O_ONLOAD] = onload_cycles
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


# ---- public API --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mapping:
    """A mapping of one layer onto an accelerator (numpy arrays; see :class:`MappingArrays` for shapes)."""

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
                     "keeps": [OPERANDS[o] for o in range(N_OPERANDS) if self.keep[lv, o]]}
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


def mapping_arrays(m: Mapping) -> MappingArrays:
    return MappingArrays(*(np.ascontiguousarray(v, dtype=np.int64)
                           for v in (m.temporal, m.spatial_x, m.spatial_y, m.order, m.keep)))


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
    serial_onload_cycles: float  # transfers of serial_onload levels (conventions.transfer_overlap)
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
    expect = {"temporal": (L, N_DIMS), "spatial_x": (L + 1, N_DIMS), "spatial_y": (L + 1, N_DIMS), "order": (L, N_DIMS),
              "keep": (L, N_OPERANDS)}
    for k, shape in expect.items():
        v = np.asarray(getattr(m, k))
        if v.shape != shape:
            raise ValueError(f"mapping.{k} has shape {v.shape}, expected {shape} for {arch.name}")
    if (np.asarray(m.temporal) < 1).any() or (np.asarray(m.spatial_x) < 1).any() or (np.asarray(m.spatial_y) < 1).any():
        raise ValueError("mapping factors must be >= 1")
    for lv in range(L):
        if sorted(np.asarray(m.order[lv]).tolist()) != list(range(N_DIMS)):
            raise ValueError(f"mapping.order[{lv}] is not a permutation of the 8 dims")


def evaluate(layer: Layer, arch: Arch, m: Mapping) -> CostRecord:
    """Cost of ``layer`` on ``arch`` under mapping ``m`` (checked, then the numba kernel)."""
    check_mapping(layer, arch, m)
    if arch.arrays.im2col:
        layer = lower_im2col(layer)
    return evaluate_compiled(compile_layer(layer), arch, m)


def evaluate_compiled(layer: LayerArrays, arch: Arch, m: Mapping) -> CostRecord:
    """:func:`evaluate` of a compiled layer (:func:`compile_layer`, im2col-lowered where ``arch`` asks for it) under a
    mapping known to fit it (one decoded from its mapspace): no checks."""
    L = arch.arrays.n_levels
    out = np.zeros(record_size(L))
    _evaluate_into(layer, arch.arrays, mapping_arrays(m), out, scratch(L))
    return record_from_raw(out, arch)


def record_from_raw(out: np.ndarray, arch: Arch) -> CostRecord:
    a = arch.arrays
    L = a.n_levels
    names = arch.level_names
    bw, reads, writes, energy, tile_bits = record_blocks(out, L)

    def per(block):
        return {names[lv]: dict(zip(OPERANDS, row)) for lv, row in enumerate(block.tolist())}

    valid = bool(out[O_VALID])
    busy = out[O_COMPUTE] + out[O_ACCUM] + out[O_FOLD]
    peak = float(math.prod(a.fanout_x.tolist()) * math.prod(a.fanout_y.tolist()))
    lat = float(out[O_LATENCY])
    return CostRecord(
        valid=valid, reason=REASONS[int(out[O_REASON])], latency_cycles=lat, latency_s=lat / a.clock_hz,
        compute_cycles=float(out[O_COMPUTE]), accumulate_cycles=float(out[O_ACCUM]),
        fold_overhead_cycles=float(out[O_FOLD]), fill_drain_cycles=float(out[O_FILL]),
        serial_onload_cycles=float(out[O_ONLOAD]),
        stall_cycles={names[lv]: float(max(0.0, bw[lv] - busy)) for lv in range(L)} if valid else {},
        bandwidth_cycles={names[lv]: float(bw[lv]) for lv in range(L)},
        energy_pj=float(out[O_ENERGY]), mac_energy_pj=float(out[O_MAC_E]), noc_energy_pj=float(out[O_NOC_E]),
        static_energy_pj=float(out[O_STATIC_E]), energy_breakdown_pj=per(energy), reads=per(reads), writes=per(writes),
        tile_bits=per(tile_bits), spatial_utilization=float(out[O_SPATIAL_UTIL]),
        utilization=float(out[O_POINTS] / (lat * peak)) if valid and lat > 0 else 0.0,
        active_pes=int(out[O_ACTIVE_PES]), active_macs=int(out[O_ACTIVE_MACS]),
        padded_points_ratio=float(out[O_PAD_RATIO]), points=float(out[O_POINTS]), raw=out.copy())


def math_lower_bound_cycles(layer: Layer, arch: Arch) -> float:
    """MACs / peak MACs per cycle: no mapping can beat it."""
    return math.ceil(layer.points / arch.peak_macs_per_cycle)
