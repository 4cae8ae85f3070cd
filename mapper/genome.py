"""The mapper's genome: layout, decoding into a mapping, and batch evaluation through the cost kernel.

A genome is one int64 row that picks a mapping out of an encoded mapspace (:mod:`mapper.mapspace`):

    [G_SPATIAL]                  spatial candidate s (index into MapSpace.spatial_x / spatial_y)
    [G_SPLIT + d], d < 8         split choice of dim d (index into MapSpace.splits[s, d])
    [G_ORDER + lv], lv < L       loop order of level lv (index into MapSpace.orders)
    [genome_keep(L)]             keep / bypass variant (index into MapSpace.keeps)

so ``genome_len(L) = 1 + 8 + L + 1``.  This module is the one owner of those offsets.  The cost kernel
(:func:`accel.cost._evaluate_into`) only sees decoded mappings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba.extending import register_jitable

from accel._jit import jit_pair, njit, prange
from accel.cost import Mapping, _evaluate_into, empty_mapping, scratch
from accel.layout import O_ENERGY, O_LATENCY, O_REASON, O_VALID, record_size
from accel.workload import N_DIMS, N_OPERANDS

if TYPE_CHECKING:
    from mapper.mapspace import MapSpace

G_SPATIAL = 0
G_SPLIT = 1
G_ORDER = G_SPLIT + N_DIMS


@register_jitable
def genome_keep(n_levels):
    """Offset of the keep-variant gene for ``n_levels`` memory levels."""
    return G_ORDER + n_levels


@register_jitable
def genome_len(n_levels):
    """Genes in a genome for ``n_levels`` memory levels."""
    return G_ORDER + n_levels + 1


# ---- objectives ----------------------------------------------------------------------------------------
OBJ_LATENCY = 0
OBJ_ENERGY = 1
OBJ_EDP = 2
OBJECTIVES = {"latency": OBJ_LATENCY, "energy": OBJ_ENERGY, "edp": OBJ_EDP}


@njit(nrt=False)
def _objective(out, objective):
    """Objective of a cost record: latency (cycles), energy (pJ) or EDP (cycles × pJ); inf if invalid."""
    if out[O_VALID] == 0.0:
        return np.inf
    if objective == OBJ_LATENCY:
        return out[O_LATENCY]
    if objective == OBJ_ENERGY:
        return out[O_ENERGY]
    return out[O_LATENCY] * out[O_ENERGY]


# ---- decoding ------------------------------------------------------------------------------------------
class MapspaceArrays(NamedTuple):
    """The arrays of a MapSpace that genomes index (see :class:`mapper.mapspace.MapSpace` for shapes)."""

    spatial_x: np.ndarray  # (S, L+1, 8)
    spatial_y: np.ndarray  # (S, L+1, 8)
    splits: np.ndarray  # (S, 8, Kmax, L)
    orders: np.ndarray  # (O, 8)
    keeps: np.ndarray  # (V, L, 3)


def mapspace_arrays(ms: MapSpace) -> MapspaceArrays:
    return MapspaceArrays(ms.spatial_x, ms.spatial_y, ms.splits, ms.orders, ms.keeps)


@njit(nrt=False)
def _decode(g, enc, m):
    """Genome ``g`` → mapping arrays, written into ``m`` (MappingArrays of L levels)."""
    T, SX, SY, ORD, KEEP = m
    L = T.shape[0]
    s = g[G_SPATIAL]
    spx, spy, splits, orders, keeps = enc
    for f in range(L + 1):
        for d in range(N_DIMS):
            SX[f, d] = spx[s, f, d]
            SY[f, d] = spy[s, f, d]
    for d in range(N_DIMS):
        k = g[G_SPLIT + d]
        for lv in range(L):
            T[lv, d] = splits[s, d, k, lv]
    for lv in range(L):
        o = g[G_ORDER + lv]
        for j in range(N_DIMS):
            ORD[lv, j] = orders[o, j]
    v = g[genome_keep(L)]
    for lv in range(L):
        for o in range(N_OPERANDS):
            KEEP[lv, o] = keeps[v, lv, o]


def decode_genome(ms: MapSpace, g: np.ndarray) -> Mapping:
    """The mapping genome ``g`` stands for in ``ms``."""
    m = empty_mapping(ms.arch.arrays.n_levels)
    _decode(np.ascontiguousarray(g, dtype=np.int64), mapspace_arrays(ms), m)
    return Mapping(*m)


def random_genomes(ms: MapSpace, spatial: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform random genomes, one per entry of ``spatial`` (their spatial candidates); draws from ``rng``
    the split genes dim by dim, then the order genes level by level, then the keep genes."""
    L = ms.arch.arrays.n_levels
    G = np.empty((len(spatial), genome_len(L)), dtype=np.int64)
    G[:, G_SPATIAL] = spatial
    for d in range(N_DIMS):
        G[:, G_SPLIT + d] = (rng.random(len(G)) * ms.nsplits[G[:, G_SPATIAL], d]).astype(np.int64)
    for lv in range(L):
        G[:, G_ORDER + lv] = rng.integers(0, len(ms.orders), len(G))
    G[:, genome_keep(L)] = rng.integers(0, len(ms.keeps), len(G))
    return G


# ---- batch evaluation ----------------------------------------------------------------------------------
@njit(nrt=False)
def _eval_chunk(G, lo, hi, layer, arch, enc, objective, m, scr, buf, result, reason):
    """Rows lo … hi-1 of ``G``: decode into ``m``, cost into ``buf`` (scratch ``scr``), write the objective
    into ``result`` and the reason code into ``reason``.  Allocates nothing (no reference counting)."""
    for i in range(lo, hi):
        _decode(G[i], enc, m)
        _evaluate_into(layer, arch, m, buf, scr)
        result[i] = _objective(buf, objective)
        reason[i] = buf[O_REASON]


def _eval_genomes_impl(G, layer, arch, enc, objective, result, reason):
    """Objective (inf if invalid) and reason code of each genome row of ``G`` (B, genome_len), written into
    ``result`` and ``reason`` (B,).  ``layer`` LayerArrays, ``arch`` ArchArrays, ``enc`` MapspaceArrays."""
    L = arch.n_levels
    B = G.shape[0]
    chunk = 256  # work arrays are allocated once per chunk, not per genome
    for c in prange((B + chunk - 1) // chunk):
        _eval_chunk(G, c * chunk, min(B, (c + 1) * chunk), layer, arch, enc, objective, empty_mapping(L), scratch(L),
                    np.empty(record_size(L)), result, reason)


# Distinct function objects and cache entries (accel._jit.jit_pair); each compiles on first call only.
_eval_genomes_serial, _eval_genomes_parallel = jit_pair(_eval_genomes_impl)
