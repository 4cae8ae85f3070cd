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


# ---- memo: genomes already costed on an accelerator that differs only in its clock and bandwidths --------------
# A mapping's access counts, per-level traffic, transfer terms, busy cycles and access / NoC / MAC energies do not
# depend on the clock or the bandwidths; those enter its cost only through accel.cost._latency (bandwidth times,
# prologue / epilogue and onload cycles) and the static energy (static power × latency / clock,
# accel.cost._energy_total).  A sweep's design points that differ only in these each run their own search (the
# objective values differ), but they evaluate mostly the same genomes: the memo keeps the bandwidth- and clock-free
# quantities of each genome, and a genome met again is priced for the current accelerator by the same functions the
# cost kernel prices it with — the same floating-point operations in the same order, so the same bits.
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
    v = memo.vals
    rsn = out[O_REASON]
    v[slot, M_REASON] = rsn
    if rsn != R_VALID:
        memo.used[0] += 1
        return
    acc_e = 0.0
    energy = record_blocks(out, L)[3]
    for lv in range(L):  # _energy's summation order
        for o in range(N_OPERANDS):
            acc_e += energy[lv, o]
    v[slot, M_BUSY] = out[O_COMPUTE] + out[O_ACCUM] + out[O_FOLD]  # as _evaluate_into adds them
    v[slot, M_ACCESS_E] = acc_e
    v[slot, M_NOC_E] = out[O_NOC_E]
    v[slot, M_MAC_E] = out[O_MAC_E]
    n = np.int64(out[O_XFER])
    v[slot, M_NXFER] = n
    k = M_LEVEL_BITS
    for lv in range(L):
        for c in range(3):
            v[slot, k] = scr.level_bits[lv, c]
            k += 1
    for r in range(n):
        for c in range(5):
            v[slot, k] = scr.xfer[r, c]
            k += 1
    memo.used[0] += 1


@njit(nrt=False)
def _eval_genomes_memo(G, lo, hi, layer, arch, enc, objective, m, scr, out, result, reason, memo, max_used):
    """:func:`_eval_genomes_serial` through ``memo`` (:class:`GenomeMemo`): a genome found there is priced for
    ``arch``'s bandwidths, clock and static power from its stored costs (:func:`accel.cost._latency`,
    :func:`accel.cost._energy_total`); one not found is costed by the kernel and stored while the memo holds fewer
    than ``max_used`` genomes.  Same objective bits either way."""
    L = arch.n_levels
    for i in range(lo, hi):
        g = G[i]
        h = _genome_hash(g)
        slot, found = _memo_slot(memo, g, h)
        if not found:
            _decode(g, enc, m)
            _evaluate_into(layer, arch, m, out, scr)
            reason[i] = out[O_REASON]
            result[i] = _objective(out, objective)
            if memo.used[0] < max_used:
                _memo_store(memo, slot, h, g, out, scr, L)
            continue
        v = memo.vals
        rsn = v[slot, M_REASON]
        reason[i] = rsn
        if rsn != R_VALID:
            result[i] = np.inf
            continue
        k = M_LEVEL_BITS
        for lv in range(L):
            for c in range(3):
                scr.level_bits[lv, c] = v[slot, k]
                k += 1
        n = np.int64(v[slot, M_NXFER])
        for r in range(n):
            for c in range(5):
                scr.xfer[r, c] = v[slot, k]
                k += 1
        lat = _latency(arch, scr.level_bits, scr.xfer, n, v[slot, M_BUSY], record_blocks(out, L)[0])[0]
        e = _energy_total(arch, v[slot, M_ACCESS_E], v[slot, M_NOC_E], v[slot, M_MAC_E], lat)[0]
        result[i] = _objective_of(lat, e, objective)


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


def eval_genomes_memo(G: np.ndarray, layer: LayerArrays, arch: ArchArrays, enc: MapspaceArrays, objective: int,
                      work: SerialWork, memo: GenomeMemo, may_grow=None) -> tuple[np.ndarray, np.ndarray, GenomeMemo]:
    """:func:`eval_genomes` (serial) through ``memo``; returns (objective, reason code, the memo — a larger copy
    when it had to grow and ``may_grow(memo, slots)`` allows it, at most MEMO_MAX_SLOTS slots, kept at most 3/4
    full; a memo that may not grow takes no new genomes once 3/4 full)."""
    G = np.ascontiguousarray(G, dtype=np.int64)
    need = (int(memo.used[0]) + len(G)) * 4 // 3 + 1
    slots = memo.keys.shape[0]
    if need > slots and slots < MEMO_MAX_SLOTS:
        while slots < need and slots < MEMO_MAX_SLOTS:
            slots *= 2
        if may_grow is None or may_grow(memo, slots):
            grown = new_memo(memo.genomes.shape[1], slots)
            _memo_rehash(memo, grown)
            memo = grown
    result = np.empty(len(G))
    reason = np.empty(len(G))
    _eval_genomes_memo(G, 0, len(G), layer, arch, enc, objective, work.mapping, work.scratch, work.out, result,
                       reason, memo, memo.keys.shape[0] * 3 // 4)
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


class MemoPool:
    """Memos (:class:`GenomeMemo`) by the digest of everything a genome's stored costs depend on — the layer, the
    mapspace the genome indexes and every accelerator field but the clock, the static power and the bandwidths
    (priced on each evaluation) —, least recently used dropped beyond ``max_bytes``.  Owned by whoever evaluates
    many accelerators that differ only in these (a sweep worker); passed to
    :func:`mapper.search.search_mapping` through :class:`mapper.network.NetworkEvaluator`."""

    def __init__(self, max_bytes: int = 256 << 20):
        """``max_bytes``: the memos kept (least recently used dropped first)."""
        self.max_bytes = max_bytes
        self._memos: dict[bytes, GenomeMemo] = {}
        self._bytes = 0
        self._arch_digests: dict[int, tuple[Arch, bytes]] = {}  # id → (the arch, kept alive; its digest)
        self.hits = 0  # lookups of a memo that existed (for tests and benchmarks)
        self._group: dict[bytes, bytes] = {}  # memo key → digest of its accelerator (less the priced fields)

    def key(self, layer: LayerArrays, arch: Arch, enc: MapspaceArrays | None, built_with: object = None) -> bytes:
        """The memo key of genomes of ``layer`` on ``arch`` in the mapspace ``enc``; ``enc`` None: the mapspace
        :func:`mapper.mapspace.build_mapspace` builds for them with the options ``built_with`` — a deterministic
        function of the layer, the accelerator's arrays, its compiled constraints and its dataflow preset, none of
        which reads the clock or the bandwidths, so these stand for it."""
        import hashlib

        hit = self._arch_digests.get(id(arch))
        if hit is None or hit[0] is not arch:
            h = hashlib.blake2b(digest_size=20)
            _digest_arrays(h, arch.arrays, _PRICE_FIELDS)
            _digest_arrays(h, arch.constraints)
            h.update(repr(arch.config.dataflow).encode())
            hit = (arch, h.digest())
            if len(self._arch_digests) >= 64:
                self._arch_digests.pop(next(iter(self._arch_digests)))
            self._arch_digests[id(arch)] = hit
        h = hashlib.blake2b(hit[1], digest_size=20)
        _digest_arrays(h, layer)
        if enc is None:
            h.update(b"built " + repr(built_with).encode())
        else:
            _digest_arrays(h, enc)
        key = h.digest()
        if len(self._group) > 65536:
            self._group = {k: g for k, g in self._group.items() if k in self._memos}
        self._group[key] = hit[1]  # the accelerator (less its prices) the memo belongs to
        return key

    def get(self, key: bytes, glen: int) -> GenomeMemo:
        """The memo of ``key`` (a new, small one if none)."""
        memo = self._memos.pop(key, None)
        if memo is None:
            memo = new_memo(glen)
            self._bytes += memo_nbytes(memo)
        else:
            self.hits += 1
        self._memos[key] = memo
        return memo

    def put(self, key: bytes, memo: GenomeMemo) -> None:
        """Store ``memo`` (grown by :func:`eval_genomes_memo`) under ``key``, then drop the least recently used
        memos of *other* accelerators while the pool holds more than ``max_bytes``.  The memos of the current
        accelerator's layers are all needed by its next variant, so they are never dropped for one another (that
        would thrash: every layer's memo gone before the next point needs it); once they alone fill the budget,
        :meth:`may_grow` stops their growth instead (a full memo takes no new genomes)."""
        old = self._memos.pop(key, None)
        if old is not None:
            self._bytes -= memo_nbytes(old)
        self._memos[key] = memo
        self._bytes += memo_nbytes(memo)
        group = self._group.get(key)
        for k in list(self._memos):
            if self._bytes <= self.max_bytes:
                break
            if self._group.get(k) != group:
                self._bytes -= memo_nbytes(self._memos.pop(k))
                self._group.pop(k, None)

    def may_grow(self, key: bytes, memo: GenomeMemo, slots: int) -> bool:
        """Whether ``memo`` (stored under ``key``) may grow to ``slots`` slots: room is made by dropping other
        accelerators' memos (least recently used first); the memos of its own accelerator are kept."""
        extra = (slots - memo.keys.shape[0]) * (memo_nbytes(memo) // memo.keys.shape[0])
        group = self._group.get(key)
        for k in list(self._memos):
            if self._bytes + extra <= self.max_bytes:
                break
            if self._group.get(k) != group:
                self._bytes -= memo_nbytes(self._memos.pop(k))
                self._group.pop(k, None)
        return self._bytes + extra <= self.max_bytes
