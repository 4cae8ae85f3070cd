"""A slow, literal reference for the access counts of :func:`accel.cost.evaluate`.

Nothing here uses the kernel's footprint / fill / distinct formulas.  The walker builds the mapped loop nest
explicitly, enumerates the data coordinates every buffer instance holds as Python sets, walks the temporal
iterations in order and counts a fill whenever the set an instance needs differs from the one it holds.

Loop nest (outer → inner)::

    level 0 temporal │ fan-out 1 spatial (x, y) │ level 1 temporal │ … │ level L-1 temporal │ fan-out L (MACs)

Only loops with a factor > 1 are materialised (a factor-1 loop has a single iteration).  A dim's index is
the mixed-radix number of its loops, outer loops more significant; the nest runs over the padded bounds and
padded points are real points.

For an operand ``o`` the keepers are level 0, every level ``l > 0`` with ``keep[l][o] == 1``, and the MACs as
a virtual level ``L``.  For each consecutive pair (parent ``a``, child ``b``):

* a child instance = one combination of the spatial indices of fan-outs 1..b; its parent instance = the
  spatial indices of fan-outs 1..a;
* a "step" = one iteration of the temporal loops of levels 0..b-1 (walked in nest order);
* at a step, a child needs the set of coordinates touched by its sub-nest (temporal loops of levels b..L-1
  and fan-outs b+1..L); for ``b == L`` that is the single coordinate of the point;
* if the needed set differs from the held set, the child fills (loads the new set).

Conventions (``arch.config.conventions``, :class:`accel.arch.Conventions`):

* ``mac_operand_reuse: false`` — the MACs (``b == L``) never reuse a held coordinate: every step is a fill.
* ``psum_drain_read: false`` — a drain writes the parent and reads nothing from the child.
* ``padded_accesses: skip`` — fill decisions are those of the padded nest, but a set is charged only for the
  coordinates touched by points whose indices in the dims ``o`` depends on are all within the layer's bounds
  (``count``: every coordinate of the padded nest).
* ``halo_reuse: true`` — for a read operand, when the needed set and the held set differ in exactly one
  coordinate position with overlapping ranges there (:func:`_slide`: a sliding window moved along one input
  axis), the fill is the explicit set difference (charged part of the needed set) minus (the charged part of
  the held set), provided the child's previous slide (since its last whole fill or unchanged step) went the
  same way; a slide in another direction or along another axis, an unchanged step, and every other change
  reset the direction, and the latter two fill the whole charged needed set (Timeloop's AAHR delta with its
  reset on a change of stride direction).  ``false``: every change fills the whole charged needed set.
* ``padded_accesses: skip`` on a convolution whose nest pads a window dim (P, Q, R or S): the inputs get no halo
  and no sliding-window coincidence reuse — a fill at every step where a loop relevant to them moved.
* ``access_granularity`` (energy only, :func:`access_energy`): a ``bit`` level is charged count · operand bits /
  word_bits accesses; a ``word`` level ⌈count · operand bits / (instances · word_bits)⌉ · instances accesses per
  operand and direction (reads; writes), its instances being the walker's own child instances of the level
  (the product of the spatial loops above it), counted exactly with fractions.
* ``transfer_overlap``: for a child level ``b < L`` that is ``serial_onload``, ``onload_cycles`` adds, per
  pair, the parent's traffic for that pair per parent instance (reads; for outputs also writes) in bits over
  the parent's read (write) bandwidth.

Counting rules (``b < L`` for every child-side count; the MACs have no access counters):

weights / inputs
    child writes += |fill|; parent reads += |∪ fills of the filling children of one parent instance|
    with multicast, else Σ |fill| (fill: the new set, or its difference with the held set, see halo_reuse).
outputs
    a fill first drains the held tile (if any; every tile held at the end is drained too): child reads +=
    |old|; parent writes += |∪ drained tiles of the parent's children at that step| with spatial reduction,
    else Σ |old| plus read-modify-write parent reads Σ |old| − |∪ old|.  Then the part of the new tile that
    this parent instance has produced before (at an earlier step) is read back down: parent reads +=
    |∪ (new ∩ produced)| with spatial reduction, else Σ |new ∩ produced|; child writes += |new ∩ produced|.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np


@dataclass(frozen=True)
class Loop:
    kind: str  # "T" temporal, "S" spatial
    where: int  # level (temporal) or fan-out index (spatial)
    dim: int
    factor: int
    weight: int = 1  # value of one step of this loop in its dim's index (product of inner factors of the dim)


def build_nest(T, SX, SY, ORD, L: int) -> list[Loop]:
    """The loops with factor > 1, outer → inner, with their mixed-radix weights."""
    raw: list[tuple[str, int, int, int]] = []
    for lv in range(L):
        if lv > 0:
            for d in range(8):
                if SX[lv][d] > 1:
                    raw.append(("S", lv, d, int(SX[lv][d])))
            for d in range(8):
                if SY[lv][d] > 1:
                    raw.append(("S", lv, d, int(SY[lv][d])))
        for d in ORD[lv]:
            d = int(d)
            if T[lv][d] > 1:
                raw.append(("T", lv, d, int(T[lv][d])))
    for d in range(8):
        if SX[L][d] > 1:
            raw.append(("S", L, d, int(SX[L][d])))
    for d in range(8):
        if SY[L][d] > 1:
            raw.append(("S", L, d, int(SY[L][d])))
    loops = []
    for i, (kind, where, d, f) in enumerate(raw):
        w = 1
        for kind2, where2, d2, f2 in raw[i + 1:]:
            if d2 == d:
                w *= f2
        loops.append(Loop(kind, where, d, f, w))
    return loops


def _offsets(loops: list[Loop]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Every index combination of ``loops`` (nest order, innermost fastest) → (indices, 8-dim offset)."""
    out = []
    for idx in itertools.product(*(range(lp.factor) for lp in loops)):
        v = [0] * 8
        for i, lp in zip(idx, loops):
            v[lp.dim] += i * lp.weight
        out.append((idx, tuple(v)))
    return out


def _add(a, b):
    return tuple(x + y for x, y in zip(a, b))


def _slide(new: frozenset, old: frozenset):
    """(position, sign) if the coordinate sets ``new`` and ``old`` (tuples of one length) have equal projections
    on every coordinate position but exactly one, where their ranges [min, max] overlap (a window slid along
    one axis, ``sign`` +1 towards larger coordinates); else None.  Timeloop's AAHR difference is taken only
    then (point-set-aahr.cpp ``Subtract``)."""
    n = len(next(iter(new)))
    moved = [k for k in range(n) if {c[k] for c in new} != {c[k] for c in old}]
    if len(moved) != 1:
        return None
    k = moved[0]
    lo_n, hi_n = min(c[k] for c in new), max(c[k] for c in new)
    lo_o, hi_o = min(c[k] for c in old), max(c[k] for c in old)
    if hi_n < lo_o or hi_o < lo_n:
        return None
    return k, (1 if lo_n > lo_o else -1)


def coordinate_fn(layer, o: int):
    """Point (8 dim indices) → the data coordinate of operand ``o`` it touches."""
    rel = layer.relevance[o]
    if o == 1 and layer.window:
        sh, sw = layer.stride
        dh, dw = layer.dilation
        lead = [d for d in range(4) if rel[d]]
        return lambda v: tuple(v[d] for d in lead) + (v[4] * sh + v[6] * dh, v[5] * sw + v[7] * dw)
    dims = [d for d in range(8) if rel[d]]
    return lambda v: tuple(v[d] for d in dims)


@dataclass
class WalkResult:
    reads: np.ndarray  # (L, 3)
    writes: np.ndarray  # (L, 3)
    compute_cycles: int
    padded_points: int
    fills: dict  # (operand, parent, child) -> fills per child instance (max over instances)
    # (operand, parent, child) -> number of (step, child) where a loop of a dim relevant to the operand moved
    # but the child's tile set stayed the same (sliding-window coincidences: e.g. (q, s) -> (q+1, s-1))
    coincidences: dict
    # (operand, parent, child) -> dims whose index values, over all children of one parent instance at one step,
    # do not form a contiguous range (a bypassed level's temporal loop sits between two fan-outs of the pair)
    strided: dict
    onload_cycles: float  # serialized transfers of serial_onload levels (see module docstring)
    instances: list  # (L,) instances of each level: the product of the spatial loops of fan-outs 1..lv
    energy: np.ndarray  # (L, 3) access energy in pJ (access_energy)


def walk(layer, arch, T, SX, SY, ORD, KEEP) -> WalkResult:
    """Count accesses by simulating the mapped loop nest (see module docstring)."""
    a_arr = arch.arrays
    L = a_arr.n_levels
    multicast = bool(a_arr.multicast)
    spatial_red = bool(a_arr.spatial_reduction)
    conv = arch.config.conventions
    mac_reuse = conv.mac_operand_reuse
    drain_read = conv.psum_drain_read
    names = arch.level_names
    serial = {lv for lv in range(1, L) if (conv.transfer_overlap if isinstance(conv.transfer_overlap, str)
                                           else conv.transfer_overlap.get(names[lv])) == "serial_onload"}
    onload = 0.0
    skip = conv.padded_accesses == "skip"
    halo = conv.halo_reuse
    bounds = list(layer.dims)
    T = np.asarray(T).tolist()
    SX = np.asarray(SX).tolist()
    SY = np.asarray(SY).tolist()
    ORD = np.asarray(ORD).tolist()
    KEEP = np.asarray(KEEP).tolist()
    loops = build_nest(T, SX, SY, ORD, L)
    reads = np.zeros((L, 3))
    writes = np.zeros((L, 3))
    fills_log = {}
    coincidences = {}
    strided = {}
    compute = math.prod(lp.factor for lp in loops if lp.kind == "T")
    padded = math.prod(lp.factor for lp in loops)
    for o in range(3):
        if not any(layer.relevance[o]):
            continue
        coord = coordinate_fn(layer, o)
        rel_dims = [d for d in range(8) if layer.relevance[o][d]]

        def charged(pts, need):
            """The coordinates of ``need`` that are charged (padded_accesses)."""
            if not skip:
                return need
            return frozenset(coord(p) for p in pts if all(p[d] < bounds[d] for d in rel_dims))
        # padded_accesses: skip on a padded sliding window: no halo / coincidence reuse for the inputs
        window_refetch = skip and o == 1 and layer.window and any(
            math.prod(lp.factor for lp in loops if lp.dim == d) > bounds[d] for d in range(4, 8))
        keepers = [0] + [lv for lv in range(1, L) if KEEP[lv][o] == 1] + [L]
        for a, b in zip(keepers, keepers[1:]):
            outer = [lp for lp in loops if lp.kind == "T" and lp.where < b]
            child_loops = [lp for lp in loops if lp.kind == "S" and lp.where <= b]
            inner = [lp for lp in loops if (lp.kind == "T" and lp.where >= b) or (lp.kind == "S" and lp.where > b)]
            n_parent_digits = sum(1 for lp in child_loops if lp.where <= a)
            inner_off = [v for _, v in _offsets(inner)]
            children = [(idx, v, idx[:n_parent_digits]) for idx, v in _offsets(child_loops)]
            held: dict = {idx: None for idx, _, _ in children}
            held_c: dict = {idx: None for idx, _, _ in children}  # the charged part of the held set
            grad: dict = {idx: None for idx, _, _ in children}  # direction of the last halo slide (halo_reuse)
            produced: dict = {}  # parent instance -> set of output coordinates produced so far
            nfills: dict = {idx: 0 for idx, _, _ in children}
            child_counts = b < L
            vals = [set() for _ in range(8)]
            for idx, cv, parent in children:
                if all(i == 0 for i in parent):
                    for off in inner_off:
                        for d in range(8):
                            vals[d].add(cv[d] + off[d])
            strided[(o, a, b)] = {d for d in range(8) if max(vals[d]) - min(vals[d]) + 1 != len(vals[d])}
            relevant = [i for i, lp in enumerate(outer) if layer.relevance[o][lp.dim]]
            n_coinc = 0
            prev = None

            traffic: dict = {}  # parent instance -> [values read from, values written into] the parent

            def charge(parent, r, w):
                t = traffic.setdefault(parent, [0, 0])
                t[0] += r
                t[1] += w
                reads[a, o] += r
                writes[a, o] += w

            def drain(old_by_parent):
                for parent, olds in old_by_parent.items():
                    tot = sum(len(s) for s in olds)
                    uni = len(set().union(*olds))
                    if child_counts and drain_read:
                        reads[b, o] += tot
                    if spatial_red:
                        charge(parent, 0, uni)
                    else:
                        charge(parent, tot - uni, tot)

            for sidx, step in _offsets(outer):
                moved = prev is not None and any(sidx[i] != prev[i] for i in relevant)
                prev = sidx
                new_by_parent: dict = {}
                old_by_parent: dict = {}
                for idx, cv, parent in children:
                    base = _add(step, cv)
                    pts = [_add(base, off) for off in inner_off]
                    need = frozenset(coord(p) for p in pts)
                    if need == held[idx] and (b < L or mac_reuse) and not (window_refetch and moved):
                        n_coinc += moved
                        grad[idx] = None
                        continue
                    nfills[idx] += 1
                    if held[idx] is not None:
                        old_by_parent.setdefault(parent, []).append(held_c[idx])
                    need_c = charged(pts, need)
                    slide = _slide(need, held[idx]) if o < 2 and halo and not window_refetch and held[idx] is not None \
                        else None
                    if slide is not None and grad[idx] in (None, slide):
                        new_by_parent.setdefault(parent, []).append(need_c - held_c[idx])  # the new rows / cols
                        grad[idx] = slide
                    else:
                        new_by_parent.setdefault(parent, []).append(need_c)
                        grad[idx] = None
                    held[idx] = need
                    held_c[idx] = need_c
                if o < 2:
                    for parent, news in new_by_parent.items():
                        tot = sum(len(s) for s in news)
                        if child_counts:
                            writes[b, o] += tot
                        charge(parent, len(set().union(*news)) if multicast else tot, 0)
                else:
                    drain(old_by_parent)
                    for parent, news in new_by_parent.items():
                        seen = produced.setdefault(parent, set())
                        back = [s & seen for s in news]
                        tot = sum(len(s) for s in back)
                        if child_counts:
                            writes[b, o] += tot
                        charge(parent, len(set().union(*back)) if spatial_red else tot, 0)
                        for s in news:
                            seen |= s
            if o == 2:
                final: dict = {}
                for idx, _, parent in children:
                    if held[idx] is not None:
                        final.setdefault(parent, []).append(held_c[idx])
                drain(final)
            if b in serial:
                bits = a_arr.op_bits[a, o]
                n_parents = math.prod(lp.factor for lp in child_loops if lp.where <= a)
                onload += sum(r * bits / a_arr.read_bw[a] + w * bits / a_arr.write_bw[a]
                              for r, w in traffic.values()) / n_parents
            fills_log[(o, a, b)] = max(nfills.values())
            coincidences[(o, a, b)] = n_coinc
    instances = [math.prod(lp.factor for lp in loops if lp.kind == "S" and lp.where <= lv) for lv in range(L)]
    return WalkResult(reads=reads, writes=writes, compute_cycles=compute, padded_points=padded, fills=fills_log,
                      coincidences=coincidences, strided=strided, onload_cycles=onload, instances=instances,
                      energy=access_energy(arch, reads, writes, instances))


def access_energy(arch, reads, writes, instances) -> np.ndarray:
    """(L, 3) pJ: each level × operand's reads and writes (values, totals over the level's ``instances``) at the
    config's ``read_energy_pj`` / ``write_energy_pj`` per ``word_bits`` access — prorated per bit, or, on a
    ``conventions.access_granularity: word`` level, ⌈per-instance bits / word_bits⌉ whole accesses per
    instance (exact rational arithmetic)."""
    cfg = arch.config
    g = cfg.conventions.access_granularity
    out = np.zeros((len(cfg.levels), 3))
    for lv, level in enumerate(cfg.levels):
        word = (g if isinstance(g, str) else g.get(level.name, "bit")) == "word"
        for o in range(3):
            bits = int(arch.arrays.op_bits[lv, o])
            for count, e_word in ((reads[lv, o], level.read_energy_pj), (writes[lv, o], level.write_energy_pj)):
                n = int(round(count))
                if word:
                    accesses = math.ceil(Fraction(n * bits, instances[lv] * level.word_bits)) * instances[lv]
                else:
                    accesses = Fraction(n * bits, level.word_bits)
                out[lv, o] += float(accesses) * e_word
    return out
