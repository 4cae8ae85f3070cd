"""Mapspace of one layer on one accelerator, encoded for fast numba search.

A mapping is chosen by a small integer *genome*:

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

import functools
import itertools
import math
from dataclasses import dataclass

import numpy as np

from accel.arch import Arch
from accel.cost import compile_layer, lower_im2col
from accel.workload import DIMS, N_DIMS, Layer


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


class NoValidMapping(ValueError):
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
        return 1 + N_DIMS + self.arch.arrays.n_levels + 1

    def size(self) -> int:
        """Number of distinct genomes (mappings) in this encoded mapspace."""
        L = self.arch.arrays.n_levels
        per_s = np.prod(self.nsplits.astype(float), axis=1) * float(len(self.orders)) ** L * len(self.keeps)
        return int(per_s.sum())


def _axis_candidates(bounds, allowed, cap, fixed=None, max_dims=2, limit=64):
    """Spatial factor vectors for one array axis of size ``cap``: up to ``max_dims`` dims, each with a
    divisor of its bound or the largest factor that fits (imperfect).  ``fixed`` forces dims' factors."""
    opts = []
    base = np.ones(N_DIMS, dtype=np.int64)
    if fixed:
        for d, f in fixed.items():
            base[d] = f
    used = int(np.prod(base))
    if used > cap:
        return []
    free = [d for d in range(N_DIMS) if allowed[d] and bounds[d] > 1 and not (fixed and d in fixed)]

    def factor_opts(d, room):
        b = bounds[d]
        fs = {f for f in divisors(b) if f <= room}
        fs.add(min(b, room))
        # ceil splits that minimise folding: b split into k folds of ceil(b/k)
        for k in range(1, 9):
            v = -(-b // k)
            if v <= room:
                fs.add(v)
        return sorted(fs)

    opts.append(base.copy())
    for nd in range(1, max_dims + 1):
        for combo in itertools.combinations(free, nd):
            def rec(i, room, vec):
                if i == len(combo):
                    opts.append(vec.copy())
                    return
                d = combo[i]
                for f in factor_opts(d, room):
                    if f == 1:
                        continue
                    vec[d] = f
                    rec(i + 1, room // f, vec)
                    vec[d] = base[d]
            rec(0, cap // used, base.copy())
    if len(opts) > limit:
        # rank one axis on its own (fewest folds of the remaining extents), keep the best and the best of
        # each distinct used-lane count so that smaller unrolls stay available
        keyed = sorted(opts, key=lambda v: (float(np.prod(-(-bounds // v))), -float(np.prod(v))))
        kept = keyed[:limit // 2]
        seen = {int(np.prod(v)) for v in kept}
        for v in keyed[limit // 2:]:
            n = int(np.prod(v))
            if n not in seen:
                seen.add(n)
                kept.append(v)
                if len(kept) >= limit:
                    break
        opts = kept
    return opts


def _spatial_candidates(layer: Layer, arch: Arch, max_spatial: int):
    a = arch.arrays
    L = a.n_levels
    bounds = np.array(layer.dims, dtype=np.int64)
    beams = [(np.ones((L + 1, N_DIMS), dtype=np.int64), np.ones((L + 1, N_DIMS), dtype=np.int64))]
    all_dims = np.ones(N_DIMS, dtype=np.int64)
    # outermost fan-out first; each keeps a beam of the best partial assignments
    for f in range(1, L + 1):
        fx, fy = int(a.fanout_x[f]), int(a.fanout_y[f])
        if fx * fy == 1:
            continue
        is_pe = f == a.pe_level and layer.is_mac  # dataflow rules constrain MAC layers only
        allow_x = a.allow_x if is_pe else all_dims
        allow_y = a.allow_y if is_pe else all_dims
        new = []
        for cand in beams:
            sx, sy = cand[0], cand[1]
            used = np.prod(sx, axis=0) * np.prod(sy, axis=0)
            rem = -(-bounds // used)
            fixed_y = None
            if is_pe:
                full = [d for d in range(N_DIMS) if a.spatial_full[d] and 1 < rem[d] <= fy]
                fixed_y = {d: int(rem[d]) for d in full}
            ys = _axis_candidates(rem, allow_y, fy, fixed_y)
            xs = _axis_candidates(rem, allow_x, fx)
            for vy in ys:
                for vx in xs:
                    if np.any(vx * vy > rem):  # never unroll beyond the extent
                        continue
                    nsx, nsy = sx.copy(), sy.copy()
                    nsx[f], nsy[f] = vx, vy
                    new.append((nsx, nsy))
        if not new:
            continue
        new = [_with_lb(bounds, c) for c in new]
        scored = _diverse(sorted(new, key=lambda c: c[2]), bounds, len(new))
        beams = _select(scored, bounds, max_spatial if f == L else max(max_spatial, 24))
    return _select(sorted(beams, key=lambda c: _lb(bounds, c)), bounds, max_spatial), bounds


def _select(ranked, bounds, k):
    """The k best by lower bound plus the best of every distinct active-MAC count (all when few).

    When fill/drain or bandwidth dominate (small layers) fewer active PEs can win, and a larger array must
    still be able to pick what a smaller one would: more PEs never make the best mapping worse.
    """
    if len(ranked) <= 6 * k:
        return ranked
    chosen = ranked[:k]
    have = {_lb(bounds, c)[1] for c in chosen}
    for c in ranked[k:]:
        active = _lb(bounds, c)[1]
        if active not in have:
            have.add(active)
            chosen.append(c)
            if len(chosen) >= 3 * k:  # big arrays have hundreds of distinct counts: keep the best few
                break
    return chosen


def _lb(bounds, cand):
    """(compute-cycle lower bound, active MACs) of a spatial candidate (memoised on the candidate)."""
    if len(cand) == 3:
        return cand[2]
    sx, sy = cand
    s = sx.prod(axis=0) * sy.prod(axis=0)
    return (float((-(-bounds // s)).prod()), float(s.prod()))


def _with_lb(bounds, cand):
    return (cand[0], cand[1], _lb(bounds, cand))


def _diverse(scored, bounds, k):
    """Top-k by lower bound, skipping candidates whose per-dim unroll duplicates an earlier one."""
    out, seen = [], set()
    for c in scored:
        key = c[0].tobytes() + c[1].tobytes()
        if key in seen:
            continue
        seen.add(key)
        out.append(c)
        if len(out) >= k:
            break
    return out


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


def build_mapspace(layer: Layer, arch: Arch, max_spatial: int = 8, max_splits: int = 600) -> MapSpace:
    """Encode the mapspace of ``layer`` on ``arch`` (see module docstring)."""
    a = arch.arrays
    if a.im2col:
        layer = lower_im2col(layer)
    L = a.n_levels
    cands, bounds = _spatial_candidates(layer, arch, max_spatial)
    S = len(cands)
    split_lists = []
    for cand in cands:
        sx, sy = cand[0], cand[1]
        used = np.prod(sx, axis=0) * np.prod(sy, axis=0)
        per_dim = []
        for d in range(N_DIMS):
            rem = int(-(-bounds[d] // used[d]))
            chains = []
            for ext in padded_extents(rem):
                for ch in ordered_factorizations(ext, L):
                    inner = ch[L - 1]
                    if layer.is_mac:
                        if inner > 1 and not a.innermost_only[d]:
                            continue
                        if a.innermost_full[d] and inner < rem:
                            continue
                        if a.spatial_full[d] and used[d] < bounds[d] <= a.fanout_y[a.pe_level] and max(ch) > 1:
                            continue
                    chains.append(ch)
            if not chains:  # the rules leave nothing: keep the outermost-only chain, evaluation says why
                chains = [(rem,) + (1,) * (L - 1)]
            if len(chains) > max_splits:
                # keep perfect chains first, then thin the rest evenly
                idx = np.linspace(0, len(chains) - 1, max_splits).astype(int)
                chains = [chains[i] for i in idx]
            per_dim.append(chains)
        split_lists.append(per_dim)
    kmax = max(len(c) for per in split_lists for c in per)
    splits = np.ones((S, N_DIMS, kmax, L), dtype=np.int64)
    nsplits = np.zeros((S, N_DIMS), dtype=np.int64)
    for s, per in enumerate(split_lists):
        for d, chains in enumerate(per):
            nsplits[s, d] = len(chains)
            splits[s, d, : len(chains)] = np.array(chains, dtype=np.int64)
    spx = np.stack([c[0] for c in cands])
    spy = np.stack([c[1] for c in cands])
    lb = np.array([_lb(bounds, c)[0] for c in cands])
    return MapSpace(layer=layer, arch=arch, spatial_x=spx, spatial_y=spy, splits=splits, nsplits=nsplits,
                    orders=_orders(layer), keeps=_keep_variants(arch), lower_bound=lb)


def describe_dims(layer: Layer) -> str:
    return " ".join(f"{d}={v}" for d, v in zip(DIMS, layer.dims))


def log10_size(ms: MapSpace) -> float:
    return math.log10(max(ms.size(), 1))
