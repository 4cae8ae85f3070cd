"""Layouts the numba kernels share with Python: the flat cost record, invalid-mapping reason codes and the
dim / operand indices the kernels branch on.  This module is their one owner; nothing else spells a
record offset or a reason number.  (The genome layout is the mapper's: :mod:`mapper.genome`.)

Everything here is a plain module-level ``int`` (numba freezes those into compiled code as constants) or a
function decorated with ``register_jitable`` (pure Python when called from Python, compiled inline when
called from a kernel), so kernels and Python readers use the same names.

Cost record — one float64 vector per (layer, arch, mapping), ``record_size(L)`` long for L memory levels:

    [0, N_SCALARS)   scalar fields, O_* below (units in the comments)
    bw_cycles  (L,)   cycles each level needs to move its per-instance reads and writes that overlap compute
                      (all but the first tile, the last output tile and serial_onload transfers)
    reads      (L, 3) values read from each level, per operand (all instances)
    writes     (L, 3) values written into each level, per operand (all instances)
    energy     (L, 3) pJ of those reads and writes
    tile_bits  (L, 3) bits of each operand's tile held by one instance of the level

:func:`record_blocks` returns the five blocks as views (the 2-D ones shaped (L, 3)).
"""

from __future__ import annotations

from enum import IntEnum

from numba.extending import register_jitable

from accel.workload import DIMS, OPERANDS

# ---- dims and operands the kernels treat specially --------------------------------------------------
D_P = DIMS.index("P")  # output rows
D_Q = DIMS.index("Q")  # output columns
D_R = DIMS.index("R")  # filter rows
D_S = DIMS.index("S")  # filter columns
WINDOW_DIMS_START = D_P  # dims D_P.. are the sliding-window dims (P, Q, R, S); those before are not
OP_WEIGHTS = OPERANDS.index("weights")
OP_INPUTS = OPERANDS.index("inputs")
OP_OUTPUTS = OPERANDS.index("outputs")  # partial sums: the one operand that is read-modify-written
assert (D_P, D_Q, D_R, D_S) == (4, 5, 6, 7) and WINDOW_DIMS_START == len(DIMS) - 4
assert OP_OUTPUTS == len(OPERANDS) - 1  # operands before it are read-only

# ---- scalar fields of the cost record ----------------------------------------------------------------
O_LATENCY = 0  # cycles; inf when the mapping is invalid
O_COMPUTE = 1  # cycles: product of all temporal factors
O_ACCUM = 2  # cycles: psum accumulation with the PE's own adder
O_FOLD = 3  # cycles: systolic per-fold fill/drain
O_FILL = 4  # cycles: first-tile prologue and last-output-tile epilogue
O_ENERGY = 5  # pJ; inf when invalid
O_MAC_E = 6  # pJ
O_STATIC_E = 7  # pJ
O_NOC_E = 8  # pJ
O_SPATIAL_UTIL = 9  # fraction of MAC units with work
O_PAD_RATIO = 10  # padded / real iteration points
O_VALID = 11  # 1.0 valid, 0.0 invalid
O_REASON = 12  # reason code (R_* below)
O_ACTIVE_PES = 13  # count
O_FOLDS = 14  # count: iterations of every temporal loop above the innermost level
O_POINTS = 15  # real iteration points (MACs or ops)
O_ACTIVE_MACS = 16  # count
O_ONLOAD = 17  # cycles: transfers of serial_onload levels (conventions.transfer_overlap), not overlapped
O_XFER = 18  # count: transfer terms of the mapping (rows of accel.cost.Scratch.xfer written by the kernel)
N_SCALARS = 19
N_BLOCKS_L3 = 4  # reads, writes, energy, tile_bits: (L, 3) each


@register_jitable
def record_size(n_levels):
    """Length of the cost record for ``n_levels`` memory levels."""
    return N_SCALARS + n_levels + N_BLOCKS_L3 * 3 * n_levels


@register_jitable(inline="always")  # lowered in the caller: no reference counting in nrt=False kernels
def record_blocks(out, n_levels):
    """Views of the per-level blocks of record ``out``: (bw_cycles (L,), reads, writes, energy_pj,
    tile_bits (L, 3) each) — see the module docstring for units."""
    L = n_levels
    b = N_SCALARS
    bw = out[b:b + L]
    b += L
    reads = out[b:b + 3 * L].reshape((L, 3))
    b += 3 * L
    writes = out[b:b + 3 * L].reshape((L, 3))
    b += 3 * L
    energy = out[b:b + 3 * L].reshape((L, 3))
    b += 3 * L
    tile = out[b:b + 3 * L].reshape((L, 3))
    return bw, reads, writes, energy, tile


# ---- why a mapping is invalid (O_REASON) ---------------------------------------------------------------
R_VALID = 0
R_UNCOVERED = 1
R_SPATIAL_FIT = 2
R_CAPACITY = 3
R_AXIS = 4
R_STATIONARITY = 5
R_FULL_UNROLL = 6
R_KEEP = 7


class Reason(IntEnum):
    """Python-side names of the R_* codes."""

    VALID = R_VALID
    UNCOVERED = R_UNCOVERED
    SPATIAL_FIT = R_SPATIAL_FIT
    CAPACITY = R_CAPACITY
    AXIS = R_AXIS
    STATIONARITY = R_STATIONARITY
    FULL_UNROLL = R_FULL_UNROLL
    KEEP = R_KEEP


REASONS = {
    R_VALID: "valid",
    R_UNCOVERED: "tiling factors do not cover a layer dimension",
    R_SPATIAL_FIT: "spatial unrolling exceeds the array (fan-out) size",
    R_CAPACITY: "a tile exceeds a buffer's capacity",
    R_AXIS: "a dimension is unrolled on an array axis the dataflow does not allow",
    R_STATIONARITY: "the innermost level iterates a dimension the dataflow's stationarity forbids",
    R_FULL_UNROLL: "the dataflow requires a dimension to be fully unrolled / fully iterated at the innermost level",
    R_KEEP: "an operand is kept at a level that cannot hold it",
}
assert sorted(REASONS) == [r.value for r in Reason]
