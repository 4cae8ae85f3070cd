"""Mapspace of one layer on one accelerator, encoded for fast numba search.

A mapping is chosen by a small integer *genome* (layout and decoding: :mod:`mapper.genome`):

    [spatial candidate s, split index for each of the 8 dims, loop-order index for each level, keep variant]

* Spatial candidates: per fan-out (the PE array, other fan-outs, the MAC lanes), which dims unroll on the
  x and y axes and by how much — including mixed unrolls (two dims on one axis, e.g. filter rows × output
  channels on Eyeriss' rows) and imperfect factors (``ceil`` splits that leave part of the array idle).
  They are enumerated exhaustively under the dataflow's axis rules and ranked by the compute-cycle lower
  bound they allow (Π ceil(bound / spatial)); the best ``max_spatial`` are kept.
* Temporal splits: for every dim, the ordered factorizations of what remains after spatial unrolling into
  one factor per memory level — every divisor chain of the remaining extent, plus chains of slightly padded
  extents (imperfect factorization: a prime 7 also tries 8 = 2·2·2).  Dataflow stationarity rules filter
  the innermost level's factors.
* Loop orders per level: orders that differ in which operand's irrelevant dims sit innermost (the only
  thing the reuse model sees); dims relevant to every operand go outermost.
* Keep variants: every subset of the operands a level may optionally bypass.
"""

from __future__ import annotations

from accel.errors import MappingError
import functools
import itertools
import math
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from accel.arch import Arch
from accel.cost import lower_im2col
from accel.workload import DIMS, N_DIMS, Layer
from mapper.genome import genome_len


def divisors(n: int) -> list[int]:
    small, large = [], []
    i = 1
    while i * i <= n:
        if n % i == 0:
            small.append(i)
            if i * i != n:
                large.append(n // i)
        i += 1
    return small + large[::-1]


@functools.lru_cache(maxsize=4096)
def ordered_factorizations(n: int, parts: int) -> tuple[tuple[int, ...], ...]:
    """All (f_0, …, f_{parts-1}) with Π f = n (f_0 outermost)."""
    if parts == 1:
        return ((n,),)
    out = []
    for f in divisors(n):
        for rest in ordered_factorizations(n // f, parts - 1):
            out.append((f,) + rest)
    return tuple(out)


def padded_extents(n: int, slack: float = 0.15) -> list[int]:
    """n and a few slightly larger, more composite extents (imperfect factorization)."""
    out = [n]
    for m in (2, 4, 8, 16, 32, 64):
        v = -(-n // m) * m
        if v != n and v <= n * (1 + slack) and v not in out:
            out.append(v)
    return out


class NoValidMapping(MappingError):
    """No mapping satisfies the constraints; the message says which constraint ruled them out."""


@dataclass
class MapSpace:
    layer: Layer  # as costed (im2col-lowered when the arch asks for it)
    arch: Arch
    spatial_x: np.ndarray  # (S, L+1, 8)
    spatial_y: np.ndarray  # (S, L+1, 8)
    splits: np.ndarray  # (S, 8, Kmax, L) temporal factors per split choice
    nsplits: np.ndarray  # (S, 8)
    orders: np.ndarray  # (O, 8)
    keeps: np.ndarray  # (V, L, 3)
    lower_bound: np.ndarray  # (S,) compute-cycle lower bound of each spatial candidate

    @property
    def genome_len(self) -> int:
        return genome_len(self.arch.arrays.n_levels)

    def size(self) -> int:
        """Number of distinct genomes (mappings) in this encoded mapspace."""
        L = self.arch.arrays.n_levels
        per_s = np.prod(self.nsplits.astype(float), axis=1) * float(len(self.orders)) ** L * len(self.keeps)
        return int(per_s.sum())


def _axis_candidates(bounds, allowed, cap, fixed=None, max_dims=2, limit=64):
    """Spatial factor vectors for one array axis of size ``cap``: up to ``max_dims`` dims, each with a
    divisor of its bound or a ceil split that fits (imperfect).  ``fixed`` forces dims' factors.
    Enumerated with plain ints (this runs once per layer and fan-out, in Python)."""
    bnd = [int(b) for b in bounds]
    base = [1] * N_DIMS
    if fixed:
        for d, f in fixed.items():
            base[d] = int(f)
    used = math.prod(base)
    if used > cap:
        return []
    free = [d for d in range(N_DIMS) if allowed[d] and bnd[d] > 1 and not (fixed and d in fixed)]

    def factor_opts(d, room):
        b = bnd[d]
        fs = {f for f in divisors(b) if f <= room}
        fs.add(min(b, room))
        # ceil splits that minimise folding: b split into k folds of ceil(b/k)
        for k in range(1, 9):
            v = -(-b // k)
            if v <= room:
                fs.add(v)
        fs.discard(1)
        return sorted(fs)

    opts = [tuple(base)]
    for nd in range(1, max_dims + 1):
        for combo in itertools.combinations(free, nd):
            def rec(i, room, vec):
                if i == len(combo):
                    opts.append(tuple(vec))
                    return
                d = combo[i]
                for f in factor_opts(d, room):
                    vec[d] = f
                    rec(i + 1, room // f, vec)
                vec[d] = base[d]
            rec(0, cap // used, list(base))
    if len(opts) > limit:
        # rank one axis on its own (fewest folds of the remaining extents), keep the best and the best of
        # each distinct used-lane count so that smaller unrolls stay available
        def key(v):
            return (math.prod(-(-b // f) for b, f in zip(bnd, v)), -math.prod(v))

        keyed = sorted(opts, key=key)
        kept = keyed[:limit // 2]
        seen = {math.prod(v) for v in kept}
        for v in keyed[limit // 2:]:
            n = math.prod(v)
            if n not in seen:
                seen.add(n)
                kept.append(v)
                if len(kept) >= limit:
                    break
        opts = kept
    return opts


def _axis_cached(memo, rem, allowed, cap, fixed):
    key = (rem, allowed, cap, tuple(sorted(fixed.items())) if fixed else ())
    if key not in memo:
        memo[key] = _axis_candidates(rem, allowed, cap, fixed)
    return memo[key]


class _Cand(NamedTuple):
    """A (partial) spatial assignment: per fan-out (x, y) factor tuples, the per-dim product and its
    (compute-cycle lower bound, active MACs) score."""

    fans: tuple  # ((f, vx, vy), ...)
    used: tuple  # (8,) Π spatial factors per dim
    lb: tuple  # (cycles lower bound, active MACs)


def _score(bounds, used):
    return (math.prod(-(-b // u) for b, u in zip(bounds, used)), math.prod(used))


def _spatial_candidates(layer: Layer, arch: Arch, max_spatial: int):
    """Beam search over the fan-outs (outermost first) of spatial assignments, scored by _score; pure
    Python ints (numpy only for the chosen ones)."""
    memo: dict = {}
    a = arch.arrays
    L = a.n_levels
    bounds = tuple(int(b) for b in layer.dims)
    ones = (1,) * N_DIMS
    beams = [_Cand((), ones, _score(bounds, ones))]
    all_dims = (1,) * N_DIMS
    for f in range(1, L + 1):
        fx, fy = int(a.fanout_x[f]), int(a.fanout_y[f])
        if fx * fy == 1:
            continue
        is_pe = f == a.pe_level and layer.is_mac  # dataflow rules constrain MAC layers only
        allow_x = tuple(int(v) for v in a.allow_x) if is_pe else all_dims
        allow_y = tuple(int(v) for v in a.allow_y) if is_pe else all_dims
        new = []
        seen = set()
        for cand in beams:
            rem = tuple(-(-b // u) for b, u in zip(bounds, cand.used))
            fixed_y = None
            if is_pe:
                fixed_y = {d: rem[d] for d in range(N_DIMS) if a.spatial_full[d] and 1 < rem[d] <= fy}
            ys = _axis_cached(memo, rem, allow_y, fy, fixed_y)
            xs = _axis_cached(memo, rem, allow_x, fx, None)
            for vy in ys:
                for vx in xs:
                    prod = tuple(x * y for x, y in zip(vx, vy))
                    if any(p > r for p, r in zip(prod, rem)):  # never unroll beyond the extent
                        continue
                    fans = cand.fans + ((f, vx, vy),)
                    if fans in seen:
                        continue
                    seen.add(fans)
                    used = tuple(u * p for u, p in zip(cand.used, prod))
                    new.append(_Cand(fans, used, _score(bounds, used)))
        if not new:
            continue
        new.sort(key=lambda c: c.lb)
        beams = _select(new, max_spatial if f == L else max(max_spatial, 24))
    chosen = _select(sorted(beams, key=lambda c: c.lb), max_spatial)
    out = []
    for c in chosen:
        sx = np.ones((L + 1, N_DIMS), dtype=np.int64)
        sy = np.ones((L + 1, N_DIMS), dtype=np.int64)
        for f, vx, vy in c.fans:
            sx[f], sy[f] = vx, vy
        out.append((sx, sy, c.lb))
    return out, np.array(bounds, dtype=np.int64)


def _select(ranked, k):
    """The k best by lower bound plus the best of every distinct active-MAC count (all when few).

    When fill/drain or bandwidth dominate (small layers) fewer active PEs can win, and a larger array must
    still be able to pick what a smaller one would: more PEs never make the best mapping worse.
    """
    if len(ranked) <= 6 * k:
        return ranked
    chosen = ranked[:k]
    have = {c.lb[1] for c in chosen}
    for c in ranked[k:]:
        if c.lb[1] not in have:
            have.add(c.lb[1])
            chosen.append(c)
            if len(chosen) >= 3 * k:  # big arrays have hundreds of distinct counts: keep the best few
                break
    return chosen


def _orders(layer: Layer) -> np.ndarray:
    """Loop orders that differ in what sits innermost: permutations of relevance groups."""
    rel = np.array(layer.relevance)
    groups: dict[tuple, list[int]] = {}
    for d in range(N_DIMS):
        groups.setdefault(tuple(rel[:, d].tolist()), []).append(d)
    full = tuple(int(x) for x in (rel.sum(axis=1) > 0))  # relevant to every present operand
    outer = groups.pop(full, [])
    rest = list(groups.values())
    orders = []
    for perm in itertools.permutations(rest):
        orders.append(outer + [d for g in perm for d in g])
    return np.array(orders, dtype=np.int64)


def _keep_variants(arch: Arch) -> np.ndarray:
    a = arch.arrays
    L = a.n_levels
    optional = [(lv, o) for lv in range(L) for o in range(3) if a.bypass_ok[lv, o]]
    out = []
    for bits in itertools.product((1, 0), repeat=len(optional)):
        k = a.keeps.copy()
        for (lv, o), b in zip(optional, bits):
            k[lv, o] = b
        out.append(k)
    return np.array(out, dtype=np.int64)


def _temporal_chains(rem: int, L: int, is_mac: bool, inner_ok: bool, inner_full: bool, full_spatial: bool,
                     max_splits: int) -> np.ndarray:
    """(K, L) temporal factor chains of one dim's remaining extent ``rem`` (outermost level first)."""
    chains = []
    for ext in padded_extents(rem):
        for ch in ordered_factorizations(ext, L):
            if is_mac:
                inner = ch[L - 1]
                if inner > 1 and not inner_ok:
                    continue
                if inner_full and inner < rem:
                    continue
                if full_spatial and max(ch) > 1:
                    continue
            chains.append(ch)
    if not chains:  # the rules leave nothing: keep the outermost-only chain, evaluation says why
        chains = [(rem,) + (1,) * (L - 1)]
    if len(chains) > max_splits:  # thin evenly (perfect factorizations come first in the list)
        idx = np.linspace(0, len(chains) - 1, max_splits).astype(int)
        chains = [chains[i] for i in idx]
    return np.array(chains, dtype=np.int64)


_CACHE: "OrderedDict[tuple, MapSpace]" = OrderedDict()
_CACHE_SIZE = 512


def _structure_key(layer: Layer, arch: Arch, max_spatial: int, max_splits: int) -> tuple:
    """Everything the encoded mapspace depends on: the layer's shape and the arch's fan-outs, dataflow
    rules and keep/bypass pattern — not sizes, bandwidths, bitwidths or energies, so design points of a
    sweep that differ only in those share one mapspace."""
    a = arch.arrays
    arrs = (a.fanout_x, a.fanout_y, a.allow_x, a.allow_y, a.spatial_full, a.innermost_only, a.innermost_full,
            a.keeps, a.bypass_ok)
    return (layer.shape_key(), a.n_levels, a.pe_level, a.im2col, max_spatial, max_splits) + \
        tuple(x.tobytes() for x in arrs)


def build_mapspace(layer: Layer, arch: Arch, max_spatial: int = 8, max_splits: int = 600) -> MapSpace:
    """Encode the mapspace of ``layer`` on ``arch`` (see module docstring); memoised on the structure
    (:func:`_structure_key`), the arrays are shared read-only."""
    key = _structure_key(layer, arch, max_spatial, max_splits)
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return replace(hit, arch=arch)
    ms = _build_mapspace(layer, arch, max_spatial, max_splits)
    _CACHE[key] = ms
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return ms


def _build_mapspace(layer: Layer, arch: Arch, max_spatial: int, max_splits: int) -> MapSpace:
    a = arch.arrays
    if a.im2col:
        layer = lower_im2col(layer)
    L = a.n_levels
    cands, bounds = _spatial_candidates(layer, arch, max_spatial)
    S = len(cands)
    split_lists = []
    memo: dict[tuple, np.ndarray] = {}
    for cand in cands:
        sx, sy = cand[0], cand[1]
        used = np.prod(sx, axis=0) * np.prod(sy, axis=0)
        per_dim = []
        for d in range(N_DIMS):
            rem = int(-(-bounds[d] // used[d]))
            full_spatial = bool(a.spatial_full[d] and used[d] < bounds[d] <= a.fanout_y[a.pe_level])
            key = (rem, d, full_spatial)
            if key not in memo:
                memo[key] = _temporal_chains(rem, L, bool(layer.is_mac), bool(a.innermost_only[d]),
                                             bool(a.innermost_full[d]), full_spatial, max_splits)
            per_dim.append(memo[key])
        split_lists.append(per_dim)
    kmax = max(len(c) for per in split_lists for c in per)
    splits = np.ones((S, N_DIMS, kmax, L), dtype=np.int64)
    nsplits = np.zeros((S, N_DIMS), dtype=np.int64)
    for s, per in enumerate(split_lists):
        for d, chains in enumerate(per):
            nsplits[s, d] = len(chains)
            splits[s, d, : len(chains)] = chains
    spx = np.stack([c[0] for c in cands])
    spy = np.stack([c[1] for c in cands])
    lb = np.array([float(c[2][0]) for c in cands])
    return MapSpace(layer=layer, arch=arch, spatial_x=spx, spatial_y=spy, splits=splits, nsplits=nsplits,
                    orders=_orders(layer), keeps=_keep_variants(arch), lower_bound=lb)


def describe_dims(layer: Layer) -> str:
    return " ".join(f"{d}={v}" for d, v in zip(DIMS, layer.dims))


def log10_size(ms: MapSpace) -> float:
    return math.log10(max(ms.size(), 1))
