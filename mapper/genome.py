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
from accel.cost import (LayerArrays, Mapping, MappingArrays, Scratch, _energy_total, _evaluate_into, _latency,
                        empty_mapping, scratch)
from accel.layout import (O_ACCUM, O_COMPUTE, O_ENERGY, O_FOLD, O_LATENCY, O_MAC_E, O_NOC_E, O_REASON, O_VALID, O_XFER,
                          R_VALID, record_blocks, record_size)
from accel.workload import N_DIMS, N_OPERANDS

if TYPE_CHECKING:
    from accel.arch import Arch
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
    return _objective_of(out[O_LATENCY], out[O_ENERGY], objective)


@njit(nrt=False, inline=True)
def _objective_of(latency, energy, objective):
    """Objective of a valid mapping of ``latency`` cycles and ``energy`` pJ."""
    if objective == OBJ_LATENCY:
        return latency
    if objective == OBJ_ENERGY:
        return energy
    return latency * energy


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


# ---- memo: genomes costed once, priced for accelerators that differ only in their clock and bandwidths ----------
# A mapping's access counts, per-level traffic, transfer terms, busy cycles and access / NoC / MAC energies do not
# depend on the clock, the static power or the bandwidths; those enter its cost only through accel.cost._latency
# (bandwidth times, prologue / epilogue and onload cycles) and the static energy (static power × latency / clock,
# accel.cost._energy_total).  A sweep's design points that differ only in these search one mapspace, each with its
# own objective values (mapper.search.search_mapping_group): the memo keeps the bandwidth- and clock-free quantities
# of each genome costed, and prices it for every variant by the same functions the cost kernel prices it with — the
# same floating-point operations in the same order, so the same bits.
M_REASON = 0  # reason code (R_*)
M_BUSY = 1  # cycles: compute + accum + fold
M_ACCESS_E = 2  # pJ: the sum over levels and operands of the access energies, in _energy's order
M_NOC_E = 3  # pJ
M_MAC_E = 4  # pJ
M_NXFER = 5  # transfer terms
M_LEVEL_BITS = 6  # (L, 3) accel.cost._level_bits, then (3L, 5) the transfer terms (accel.cost.Scratch.xfer)
MEMO_MIN_SLOTS = 4096
MEMO_MAX_SLOTS = 1 << 17  # a full memo stops taking new genomes (evaluations stay correct, just uncached)


@register_jitable
def memo_width(n_levels):
    """Floats stored per genome for ``n_levels`` memory levels."""
    return M_LEVEL_BITS + 3 * n_levels + 15 * n_levels


class GenomeMemo(NamedTuple):
    """Open-addressing hash table (linear probing) of costed genomes; ``slots`` a power of two."""

    keys: np.ndarray  # (slots,) int64 hash of the genome in the slot, 0 = empty
    genomes: np.ndarray  # (slots, genome_len) int64
    vals: np.ndarray  # (slots, memo_width(L)) float64, see M_*
    used: np.ndarray  # (1,) int64 filled slots


def new_memo(glen: int, slots: int = MEMO_MIN_SLOTS) -> GenomeMemo:
    """An empty memo for genomes of ``glen`` genes (``genome_len(L)``)."""
    L = glen - G_ORDER - 1
    return GenomeMemo(np.zeros(slots, dtype=np.int64), np.empty((slots, glen), dtype=np.int64),
                      np.empty((slots, memo_width(L))), np.zeros(1, dtype=np.int64))


def memo_nbytes(memo: GenomeMemo) -> int:
    return memo.keys.nbytes + memo.genomes.nbytes + memo.vals.nbytes


@njit(nrt=False, inline=True)
def _genome_hash(g):
    """A non-zero int64 hash of genome ``g`` (FNV-1a over the genes, then a multiply-xorshift finaliser)."""
    h = np.int64(0x27D4EB2F165667C5)
    for x in g:
        h = (h ^ x) * np.int64(0x100000001B3)
    h ^= h >> np.int64(29)
    h *= np.int64(0x5851F42D4C957F2D)
    h ^= h >> np.int64(32)
    return h if h != 0 else np.int64(1)


@njit(nrt=False)
def _memo_slot(memo, g, h):
    """(slot, found): the slot holding genome ``g`` (hash ``h``), or the empty slot where it would go."""
    mask = memo.keys.shape[0] - 1
    i = h & mask
    while True:
        k = memo.keys[i]
        if k == 0:
            return i, False
        if k == h:
            same = True
            for j in range(g.shape[0]):
                if memo.genomes[i, j] != g[j]:
                    same = False
                    break
            if same:
                return i, True
        i = (i + 1) & mask


@njit(nrt=False)
def _memo_store(memo, slot, h, g, out, scr, L):
    """Store genome ``g`` and its bandwidth- and clock-free costs (record ``out``, scratch ``scr`` of the
    kernel's evaluation) in ``slot``."""
    memo.keys[slot] = h
    for j in range(g.shape[0]):
        memo.genomes[slot, j] = g[j]
    _store_features(memo.vals[slot], out, scr, L)
    memo.used[0] += 1


@njit(nrt=False, inline=True)
def _store_features(row, out, scr, L):
    """Write the bandwidth- and clock-free costs of the kernel's last evaluation (record ``out``, scratch ``scr``)
    into ``row`` (memo_width(L),) — the layout of M_*; only the reason code when the mapping is invalid."""
    rsn = out[O_REASON]
    row[M_REASON] = rsn
    if rsn != R_VALID:
        return
    acc_e = 0.0
    energy = record_blocks(out, L)[3]
    for lv in range(L):  # _energy's summation order
        for o in range(N_OPERANDS):
            acc_e += energy[lv, o]
    row[M_BUSY] = out[O_COMPUTE] + out[O_ACCUM] + out[O_FOLD]  # as _evaluate_into adds them
    row[M_ACCESS_E] = acc_e
    row[M_NOC_E] = out[O_NOC_E]
    row[M_MAC_E] = out[O_MAC_E]
    n = np.int64(out[O_XFER])
    row[M_NXFER] = n
    k = M_LEVEL_BITS
    for lv in range(L):
        for c in range(3):
            row[k] = scr.level_bits[lv, c]
            k += 1
    for r in range(n):
        for c in range(5):
            row[k] = scr.xfer[r, c]
            k += 1


@njit(nrt=False, inline=True)
def _load_stored(row, scr, L):
    """Copy the per-level bits and transfer terms of a stored ``row`` (M_* layout) into ``scr``; returns how many
    transfer terms."""
    k = M_LEVEL_BITS
    for lv in range(L):
        for c in range(3):
            scr.level_bits[lv, c] = row[k]
            k += 1
    n = np.int64(row[M_NXFER])
    for r in range(n):
        for c in range(5):
            scr.xfer[r, c] = row[k]
            k += 1
    return n


@njit(nrt=False, inline=True)
def _price_stored(row, arch, scr, n, bw_cycles, objective):
    """Objective of a valid stored mapping (``row``, loaded into ``scr`` by :func:`_load_stored`) on ``arch``
    (an ArchArrays, or a :class:`PriceArrays` of another clock and bandwidths): the latency
    (:func:`accel.cost._latency`) and the energy (:func:`accel.cost._energy_total`) as the kernel computes them."""
    lat = _latency(arch, scr.level_bits, scr.xfer, n, row[M_BUSY], bw_cycles)[0]
    e = _energy_total(arch, row[M_ACCESS_E], row[M_NOC_E], row[M_MAC_E], lat)[0]
    return _objective_of(lat, e, objective)


class PriceArrays(NamedTuple):
    """What :func:`accel.cost._latency` and :func:`accel.cost._energy_total` read of one accelerator: its priced
    fields (:data:`_PRICE_FIELDS`) and the port layout; built per variant inside :func:`_eval_genomes_memo_group`."""

    n_levels: int
    shared_port: np.ndarray  # (L,) int64
    read_bw: np.ndarray  # (L,) bits/cycle per instance
    write_bw: np.ndarray  # (L,)
    static_power_mw: float
    clock_hz: float


class PriceSet(NamedTuple):
    """The priced fields of k accelerators that differ only in them (:func:`price_set`), stacked by variant."""

    read_bw: np.ndarray  # (k, L) bits/cycle per instance
    write_bw: np.ndarray  # (k, L)
    static_power_mw: np.ndarray  # (k,) mW
    clock_hz: np.ndarray  # (k,) Hz


def price_set(archs: "list[ArchArrays]") -> PriceSet:
    """The :class:`PriceSet` of ``archs`` (ArchArrays of one accelerator but for the priced fields)."""
    return PriceSet(np.array([a.read_bw for a in archs], dtype=np.float64),
                    np.array([a.write_bw for a in archs], dtype=np.float64),
                    np.array([a.static_power_mw for a in archs], dtype=np.float64),
                    np.array([a.clock_hz for a in archs], dtype=np.float64))


@njit(nrt=False)
def _eval_genomes_memo_group(G, layer, arch, enc, objective, m, scr, out, row, result, reason, memo, max_used,
                             prices, cols):
    """:func:`_eval_genomes_serial` through ``memo`` (:class:`GenomeMemo`) for the variants ``cols`` (indices into
    ``prices``, a :class:`PriceSet`) of one accelerator at once: each genome of ``G`` (B, genome_len) is looked up (or
    costed by the kernel on ``arch``, any one of the variants, and stored while the memo holds fewer than ``max_used``
    genomes) once, then priced for every variant from its stored costs (:func:`_price_stored`) — the functions and
    operation order of the cost kernel, so ``result[i, c]`` (B, len(cols)) has the bits an evaluation on variant
    ``cols[c]`` gives.  ``row`` (memo_width(L),): where a genome's costs go when the memo is full."""
    L = arch.n_levels
    bw_cycles = record_blocks(out, L)[0]
    for i in range(G.shape[0]):
        g = G[i]
        h = _genome_hash(g)
        slot, found = _memo_slot(memo, g, h)
        if found:
            stored = memo.vals[slot]
        else:
            _decode(g, enc, m)
            _evaluate_into(layer, arch, m, out, scr)
            if memo.used[0] < max_used:
                _memo_store(memo, slot, h, g, out, scr, L)
                stored = memo.vals[slot]
            else:
                _store_features(row, out, scr, L)
                stored = row
        rsn = stored[M_REASON]
        reason[i] = rsn
        if rsn != R_VALID:
            for c in range(cols.shape[0]):
                result[i, c] = np.inf
            continue
        n = _load_stored(stored, scr, L)
        for c in range(cols.shape[0]):
            v = cols[c]
            pa = PriceArrays(L, arch.shared_port, prices.read_bw[v], prices.write_bw[v], prices.static_power_mw[v],
                             prices.clock_hz[v])
            result[i, c] = _price_stored(stored, pa, scr, n, bw_cycles, objective)


@njit(nrt=False)
def _memo_rehash(old, new):
    """Move every genome of memo ``old`` into the empty, larger memo ``new``."""
    for i in range(old.keys.shape[0]):
        h = old.keys[i]
        if h != 0:
            slot, _ = _memo_slot(new, old.genomes[i], h)
            new.keys[slot] = h
            for j in range(old.genomes.shape[1]):
                new.genomes[slot, j] = old.genomes[i, j]
            for j in range(old.vals.shape[1]):
                new.vals[slot, j] = old.vals[i, j]
    new.used[0] = old.used[0]


def _grown(memo: GenomeMemo, n_new: int) -> GenomeMemo:
    """``memo``, or a larger copy with room for ``n_new`` more genomes (kept at most 3/4 full, at most
    MEMO_MAX_SLOTS slots: a full memo takes no new genomes)."""
    need = (int(memo.used[0]) + n_new) * 4 // 3 + 1
    slots = memo.keys.shape[0]
    if need > slots and slots < MEMO_MAX_SLOTS:
        while slots < need and slots < MEMO_MAX_SLOTS:
            slots *= 2
        grown = new_memo(memo.genomes.shape[1], slots)
        _memo_rehash(memo, grown)
        memo = grown
    return memo


def eval_genomes_memo_group(G: np.ndarray, layer: LayerArrays, arch: ArchArrays, enc: MapspaceArrays, objective: int,
                            work: SerialWork, memo: GenomeMemo, prices: PriceSet,
                            cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, GenomeMemo]:
    """(objective (B, len(cols)), reason code (B,), the memo — a larger copy when it had to grow, :func:`_grown`) of every genome
    row of ``G`` on the variants ``cols`` of ``prices`` (:func:`_eval_genomes_memo_group`); ``arch``: the ArchArrays
    of any of them.  Validity does not depend on the priced fields, so one reason code per genome."""
    G = np.ascontiguousarray(G, dtype=np.int64)
    memo = _grown(memo, len(G))
    result = np.empty((len(G), len(cols)))
    reason = np.empty(len(G))
    _eval_genomes_memo_group(G, layer, arch, enc, objective, work.mapping, work.scratch, work.out,
                             np.empty(memo.vals.shape[1]), result, reason, memo, memo.keys.shape[0] * 3 // 4, prices,
                             np.ascontiguousarray(cols, dtype=np.int64))
    return result, reason, memo


# ArchArrays fields a memo entry does not depend on (priced on every evaluation)
_PRICE_FIELDS = ("clock_hz", "static_power_mw", "read_bw", "write_bw")


def _digest_arrays(h, tup, skip=()) -> None:
    for f, v in zip(tup._fields, tup):
        if f in skip:
            continue
        h.update(f.encode())
        if isinstance(v, np.ndarray):
            h.update(f"{v.dtype.str}{v.shape}".encode())
            h.update(np.ascontiguousarray(v).tobytes())
        else:
            h.update(repr(v).encode())


_DIGESTS: dict[int, tuple] = {}  # id(arch) → (the arch, kept alive while cached; its price_free_digest)


def price_free_digest(arch: Arch) -> bytes:
    """Digest of everything of ``arch`` a genome's stored costs and the mapspace depend on: its arrays but the priced
    fields (:data:`_PRICE_FIELDS`), its compiled constraints and its dataflow preset (the last 1,024 cached)."""
    import hashlib

    hit = _DIGESTS.get(id(arch))
    if hit is None or hit[0] is not arch:
        h = hashlib.blake2b(digest_size=20)
        _digest_arrays(h, arch.arrays, _PRICE_FIELDS)
        _digest_arrays(h, arch.constraints)
        h.update(repr(arch.config.dataflow).encode())
        hit = (arch, h.digest())
        if len(_DIGESTS) >= 1024:
            _DIGESTS.pop(next(iter(_DIGESTS)))
        _DIGESTS[id(arch)] = hit
    return hit[1]


