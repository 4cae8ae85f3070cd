"""The mapper's genome: layout, decoding into a mapping, and batch evaluation through the cost kernel.

A genome is one int64 row that picks a mapping out of an encoded mapspace (:mod:`mapper.mapspace`):

    [G_SPATIAL]                  spatial candidate s (index into MapSpace.spatial_x / spatial_y)
    [G_SPLIT + d], d < 8         split choice k of dim d (chain MapSpace.chains[chain_start[s, d] + k])
    [G_ORDER + lv], lv < L       loop order of level lv (index into MapSpace.orders[lv], < n_orders[lv])
    [genome_keep(L)]             keep / bypass variant (index into MapSpace.keeps)

so ``genome_len(L) = 1 + 8 + L + 1``.  This module is the one owner of those offsets.  The cost kernel
(:func:`accel.cost._evaluate_into`) only sees decoded mappings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba.extending import register_jitable

from accel._jit import njit, njit_parallel, prange
from accel.arch import ArchArrays
from accel.cost import LayerArrays, Mapping, MappingArrays, Scratch, _evaluate_into, empty_mapping, scratch
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
    chains: np.ndarray  # (N, L)
    chain_start: np.ndarray  # (S, 8)
    orders: np.ndarray  # (L, O, 8)
    keeps: np.ndarray  # (V, L, 3)


def mapspace_arrays(ms: MapSpace) -> MapspaceArrays:
    return MapspaceArrays(ms.spatial_x, ms.spatial_y, ms.chains, ms.chain_start, ms.orders, ms.keeps)


@njit(nrt=False)
def _decode(g, enc, m):
    """Genome ``g`` → mapping arrays, written into ``m`` (MappingArrays of L levels)."""
    T, SX, SY, ORD, KEEP = m
    L = T.shape[0]
    s = g[G_SPATIAL]
    spx, spy, chains, chain_start, orders, keeps = enc
    for f in range(L + 1):
        for d in range(N_DIMS):
            SX[f, d] = spx[s, f, d]
            SY[f, d] = spy[s, f, d]
    for d in range(N_DIMS):
        c = chain_start[s, d] + g[G_SPLIT + d]
        for lv in range(L):
            T[lv, d] = chains[c, lv]
    for lv in range(L):
        o = g[G_ORDER + lv]
        for j in range(N_DIMS):
            ORD[lv, j] = orders[lv, o, j]
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
        G[:, G_ORDER + lv] = rng.integers(0, int(ms.n_orders[lv]), len(G))
    G[:, genome_keep(L)] = rng.integers(0, len(ms.keeps), len(G))
    return G


# ---- batch evaluation ----------------------------------------------------------------------------------
CHUNK = 256  # genomes per prange iteration of the parallel kernel (work arrays are allocated per chunk)


@njit(nrt=False)
def _eval_genomes_serial(G, lo, hi, layer, arch, enc, objective, m, scr, out, result, reason):
    """Rows lo … hi-1 of ``G`` (B, genome_len): decode into ``m`` (MappingArrays), cost into the record
    ``out`` (Scratch ``scr``), write the objective (inf if invalid) into ``result`` and the reason code into
    ``reason`` (B,).  ``layer`` LayerArrays, ``arch`` ArchArrays, ``enc`` MapspaceArrays.  Allocates
    nothing, so it runs without reference counting (accel._jit)."""
    for i in range(lo, hi):
        _decode(G[i], enc, m)
        _evaluate_into(layer, arch, m, out, scr)
        result[i] = _objective(out, objective)
        reason[i] = out[O_REASON]


@njit_parallel
def _eval_genomes_parallel(G, layer, arch, enc, objective, result, reason):
    """:func:`_eval_genomes_serial` over chunks of CHUNK rows in parallel (prange), each with its own work
    arrays: the same code per genome, so the same numbers."""
    L = arch.n_levels
    B = G.shape[0]
    for c in prange((B + CHUNK - 1) // CHUNK):
        _eval_genomes_serial(G, c * CHUNK, min(B, (c + 1) * CHUNK), layer, arch, enc, objective, empty_mapping(L),
                             scratch(L), np.empty(record_size(L)), result, reason)


class SerialWork(NamedTuple):
    """Work arrays of :func:`_eval_genomes_serial` for one arch (reused across batches)."""

    mapping: MappingArrays
    scratch: Scratch
    out: np.ndarray  # (record_size(L),)


def serial_work(n_levels: int) -> SerialWork:
    return SerialWork(empty_mapping(n_levels), scratch(n_levels), np.empty(record_size(n_levels)))


def eval_genomes(G: np.ndarray, layer: LayerArrays, arch: ArchArrays, enc: MapspaceArrays, objective: int,
                 work: SerialWork | None) -> tuple[np.ndarray, np.ndarray]:
    """(objective, reason code) of every genome row of ``G``: with the serial kernel in ``work`` (from
    :func:`serial_work`), or with the parallel kernel (``work=None``) — same numbers either way."""
    G = np.ascontiguousarray(G, dtype=np.int64)
    result = np.empty(len(G))
    reason = np.empty(len(G))
    if work is None:
        _eval_genomes_parallel(G, layer, arch, enc, objective, result, reason)
    else:
        _eval_genomes_serial(G, 0, len(G), layer, arch, enc, objective, work.mapping, work.scratch, work.out, result,
                             reason)
    return result, reason
