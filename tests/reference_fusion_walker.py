"""A slow, literal reference for two chained layers whose intermediate tensor stays on chip (mapper.fusion).

Producer ``u`` → consumer ``v``: ``u``'s output tensor T lives in the fusion level ``X`` (a reserved region),
not in DRAM.  Nothing here uses :func:`mapper.fusion.relocate`'s equations.  Each layer's mapped loop nest is
walked as :mod:`tests.reference_walker` walks it (every pair below the top is that walker's count); the top
pair — DRAM and the first level below it that keeps the operand — is re-walked here element by element, and
every value crossing it is charged to the memory that holds that element (its *home*):

* the producer's output elements have home ``X``; so have the consumer's elements of the operand slot T
  fills (zero-padding included: the single-layer model charges padded input pixels as reads, so they are read
  where the tensor is); everything else (weights, other operands) has home DRAM;
* a value crossing the top pair is charged to its home's port instead of DRAM's — except when the pair's
  child *is* ``X``: then the value is already where the child holds it, and neither the parent side nor the
  child side of that transfer (fill write, partial-sum read-back write, drain read) happens at all.

The walk also checks the chain itself: the elements the consumer reads (padding excluded, mapped from its
operand coordinates to the producer's (g, n, k, p, q)) are exactly the elements the producer drained, so
no consumer value comes from anywhere but T.  Energies, bandwidth times, latency and static energy are then
recomputed from the literal counts with the per-access costs of the config (level energies per bit × the
operand's bits at that level), as the kernel does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

try:  # tests/ as a package or as a rootdir-relative directory
    from tests.reference_walker import _add, _offsets, build_nest, coordinate_fn, walk
except ImportError:  # pragma: no cover
    from reference_walker import _add, _offsets, build_nest, coordinate_fn, walk


@dataclass
class TopPair:
    """Accesses of one operand across the top pair, split by the home of each element."""

    reads: dict  # home level -> values read from that home (parent side)
    writes: dict  # home level -> values written into that home (parent side)
    child_reads: dict  # home level -> child-level reads of elements with that home (psum drain reads)
    child_writes: dict  # home level -> child-level writes (fills, psum read-backs)
    child: int  # the child level of the pair (L: the MACs)
    touched: set  # in-bounds coordinates read (inputs / weights) or drained (outputs)


def walk_top_pair(layer, arch, m, o: int, home) -> TopPair:
    """Re-walk the pair (DRAM, first keeper of ``o`` below it) of ``layer`` under mapping ``m`` with the
    counting rules of :mod:`tests.reference_walker` (multicast / spatial reduction, padded_accesses,
    mac_operand_reuse), charging each coordinate to ``home(coord)``."""
    a_arr = arch.arrays
    L = a_arr.n_levels
    conv = arch.config.conventions
    multicast, spatial_red = bool(a_arr.multicast), bool(a_arr.spatial_reduction)
    skip = conv.padded_accesses == "skip"
    bounds = list(layer.dims)
    T, SX, SY, ORD, KEEP = (np.asarray(x).tolist() for x in (m.temporal, m.spatial_x, m.spatial_y, m.order, m.keep))
    loops = build_nest(T, SX, SY, ORD, L)
    coord = coordinate_fn(layer, o)
    rel_dims = [d for d in range(8) if layer.relevance[o][d]]
    b = next((lv for lv in range(1, L) if KEEP[lv][o] == 1), L)
    outer = [lp for lp in loops if lp.kind == "T" and lp.where < b]
    child_loops = [lp for lp in loops if lp.kind == "S" and lp.where <= b]
    inner = [lp for lp in loops if (lp.kind == "T" and lp.where >= b) or (lp.kind == "S" and lp.where > b)]
    inner_off = [v for _, v in _offsets(inner)]
    children = [(idx, v) for idx, v in _offsets(child_loops)]
    reads: dict = {}
    writes: dict = {}
    creads: dict = {}
    cwrites: dict = {}
    touched: set = set()
    drain_read = conv.psum_drain_read and b < L

    def charge(coords, what):
        for c in coords:
            what[home(c)] = what.get(home(c), 0) + 1

    def charged(pts):
        return frozenset(coord(p) for p in pts if not skip or all(p[d] < bounds[d] for d in rel_dims))

    held: dict = {idx: None for idx, _ in children}
    held_c: dict = {idx: None for idx, _ in children}
    produced: set = set()  # one parent instance: DRAM
    for _, step in _offsets(outer):
        news, olds = [], []
        for idx, cv in children:
            pts = [_add(_add(step, cv), off) for off in inner_off]
            need = frozenset(coord(p) for p in pts)
            if need == held[idx] and (b < L or conv.mac_operand_reuse):
                continue
            if held[idx] is not None:
                olds.append(held_c[idx])
            held[idx], held_c[idx] = need, charged(pts)
            news.append(held_c[idx])
            touched.update(coord(p) for p in pts if all(p[d] < bounds[d] for d in range(8)))
        if o < 2:
            for s in news:
                if b < L:
                    charge(s, cwrites)
            if multicast:
                charge(set().union(*news) if news else set(), reads)
            else:
                for s in news:
                    charge(s, reads)
        else:
            _drain(olds, spatial_red, charge, reads, writes, creads if drain_read else None)
            backs = [s & produced for s in news]
            for s in backs:
                if b < L:
                    charge(s, cwrites)
            if spatial_red:
                charge(set().union(*backs) if backs else set(), reads)
            else:
                for s in backs:
                    charge(s, reads)
            for s in news:
                produced |= s
    if o == 2:
        _drain([held_c[idx] for idx, _ in children if held_c[idx] is not None], spatial_red, charge, reads, writes,
               creads if drain_read else None)
    return TopPair(reads, writes, creads, cwrites, b, touched)


def _drain(olds, spatial_red, charge, reads, writes, child_reads):
    if not olds:
        return
    if child_reads is not None:
        for s in olds:
            charge(s, child_reads)
    uni = set().union(*olds)
    if spatial_red:
        charge(uni, writes)
    else:
        for s in olds:
            charge(s, writes)
        # read-modify-write reads: Σ|old| − |∪ old| of them, each of an element drained more than once
        counts: dict = {}
        for s in olds:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        for c, k in counts.items():
            for _ in range(k - 1):
                charge((c,), reads)


@dataclass
class PairResult:
    reads: list  # [producer (L, 3), consumer (L, 3)] values
    writes: list
    energy_pj: list  # per layer
    latency_cycles: list
    dram_bits: float  # both layers, all operands


def producer_coord_of(u, v, o: int):
    """Consumer operand-``o`` coordinate → the producer's output coordinate (None for zero padding)."""
    if o == 1 and v.window:
        pt, pl = v.padding[0], v.padding[1]

        def f(c):
            *lead, h, w = c
            h, w = h - pt, w - pl
            return tuple(lead) + (h, w) if 0 <= h < u.P and 0 <= w < u.Q else None
        return f
    return lambda c: c


def walk_pair(u, v, o: int, arch, mu, mv, level: int, held: bool = True) -> PairResult:
    """Literal costs of ``u`` → ``v`` (T fills ``v``'s operand ``o``) with T held in ``level`` (``held``) or,
    for comparison, in DRAM.  Both layers: walker counts below the top pair, home-split counts across it."""
    a = arch.arrays
    L = a.n_levels
    where = level if held else 0
    res_r, res_w, energies, lats = [], [], [], []
    dram = 0.0
    drained = None
    for layer, m, op in ((u, mu, 2), (v, mv, o)):
        w = walk(layer, arch, m.temporal, m.spatial_x, m.spatial_y, m.order, m.keep)
        reads, writes = w.reads.copy(), w.writes.copy()
        tp = walk_top_pair(layer, arch, m, op, lambda c: where)
        assert sum(tp.reads.values()) == w.reads[0, op] and sum(tp.writes.values()) == w.writes[0, op], \
            "the top-pair re-walk disagrees with the reference walker"
        if tp.child < L and op < 2:  # a read-only operand is written at the child only by top-pair fills
            assert sum(tp.child_writes.values()) == w.writes[tp.child, op]
        reads[0, op] = writes[0, op] = 0.0
        for h, n in tp.reads.items():  # DRAM-homed values stay at DRAM, X-homed ones ...
            if h != tp.child:  # ... cross X's port when X is not the pair's child (bypassed)
                reads[h, op] += n
        for h, n in tp.writes.items():
            if h != tp.child:
                writes[h, op] += n
        # ... and when X is the child, the element is already where the child holds it: X → X moves nothing
        for h, n in tp.child_writes.items():
            if h == tp.child:
                writes[h, op] -= n
        for h, n in tp.child_reads.items():
            if h == tp.child:
                reads[h, op] -= n
        if layer is u:
            drained = tp.touched
        else:
            f = producer_coord_of(u, v, o)
            need = {f(c) for c in tp.touched} - {None}
            assert need <= drained, "the consumer reads elements the producer never wrote"
        energy = np.zeros((L, 3))
        for lv in range(L):
            for q in range(3):
                energy[lv, q] = (reads[lv, q] * a.read_e_bit[lv] + writes[lv, q] * a.write_e_bit[lv]) * a.op_bits[lv, q]
        rec = _evaluate(layer, arch, m)
        bw = rec.raw_bw.copy()
        for lv in (0, level):
            r = float((reads[lv] * a.op_bits[lv]).sum())
            wb = float((writes[lv] * a.op_bits[lv]).sum())
            bw[lv] = (r + wb) / a.read_bw[lv] if a.shared_port[lv] else max(r / a.read_bw[lv], wb / a.write_bw[lv])
        lat = max(rec.busy, float(bw.max())) + rec.fill + w.onload_cycles
        static = a.static_power_mw * 1e-3 * lat / a.clock_hz * 1e12
        energies.append(float(energy.sum()) + rec.noc + rec.mac + static)
        lats.append(lat)
        res_r.append(reads)
        res_w.append(writes)
        dram += float(((reads[0] + writes[0]) * a.op_bits[0]).sum())
    return PairResult(res_r, res_w, energies, lats, dram)


@dataclass
class _Scalars:
    raw_bw: np.ndarray
    busy: float
    fill: float
    noc: float
    mac: float


def _evaluate(layer, arch, m) -> _Scalars:
    """The terms that fusion does not change (compute, fill/drain, NoC, MAC energy) and the per-level
    bandwidth times of the levels other than DRAM and X, taken from the single-layer model (the walker does
    not time those; tests/test_cost_reference.py checks the counts behind them)."""
    from accel.cost import evaluate

    c = evaluate(layer, arch, m)
    names = arch.level_names
    return _Scalars(np.array([c.bandwidth_cycles[n] for n in names]),
                    c.compute_cycles + c.accumulate_cycles + c.fold_overhead_cycles, c.fill_drain_cycles,
                    c.noc_energy_pj, c.mac_energy_pj)


def isclose(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)
