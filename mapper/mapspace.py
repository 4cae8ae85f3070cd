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
* Mapping constraints (the config's ``constraints:``, compiled in :class:`accel.arch.MappingConstraints`)
  prune each part rather than filter results, so the search budget is spent inside the constrained space:
  spatial rules narrow each fan-out's axis options (and the last fan-out keeps only candidates whose
  remaining extents the temporal rules can tile), temporal rules filter the factor chains, a permutation
  fixes a level's innermost loops (per-level loop orders), bypass rules drop keep variants.  When nothing
  is left, :class:`NoValidMapping` names the ``constraints[i]`` entry that emptied the space.
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


MAX_SPATIAL = 128
"""Default ``max_spatial``: spatial candidates kept beyond the best by compute-cycle lower bound.  At 8 the
mapper missed optima 1–38 % better on small layers whose best unrolling uses fewer PEs (bench/mapper_optimum.py);
candidates that leave a dim the same extent share its temporal chains, so more candidates cost little memory."""

ALL_SPATIAL = 1 << 30
"""``max_spatial`` that keeps every spatial candidate the beam enumerates (the reference mapspace of
bench/mapper_optimum.py)."""


class NoValidMapping(MappingError):
    """No mapping satisfies the constraints; the message says which constraint ruled them out."""


@dataclass
class MapSpace:
    layer: Layer  # as costed (im2col-lowered when the arch asks for it)
    arch: Arch
    spatial_x: np.ndarray  # (S, L+1, 8)
    spatial_y: np.ndarray  # (S, L+1, 8)
    chains: np.ndarray  # (N, L) temporal factor chains (outermost level first) of every split choice
    chain_start: np.ndarray  # (S, 8) split choice k of dim d under candidate s is chains[chain_start[s, d] + k]
    nsplits: np.ndarray  # (S, 8) split choices per candidate and dim
    orders: np.ndarray  # (L, O, 8) loop orders of each level (outer → inner); level lv uses the first n_orders[lv]
    n_orders: np.ndarray  # (L,)
    keeps: np.ndarray  # (V, L, 3)
    lower_bound: np.ndarray  # (S,) compute-cycle lower bound of each spatial candidate

    @property
    def genome_len(self) -> int:
        return genome_len(self.arch.arrays.n_levels)

    def size(self) -> int:
        """Number of distinct genomes (mappings) in this encoded mapspace."""
        per_s = np.prod(self.nsplits.astype(float), axis=1) * float(np.prod(self.n_orders.astype(float))) * \
            len(self.keeps)
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


def _fanout_rules(cons, f: int, rem: tuple, allow_x: tuple, allow_y: tuple, fixed_y: dict | None):
    """Fan-out ``f``'s spatial constraints for a candidate leaving ``rem`` of each dim: (allow_x, allow_y,
    fixed_x, fixed_y, checks, both) — axis masks, factors forced on one axis, (axis, dim, kind, n) rules that
    filter (x, y) pairs (axis 2 = the product), and (dim, n) exact products of dims allowed on both axes
    (also enumerated wholly on x and wholly on y, so that trimming an axis' options never loses them).
    Residual factors become the remaining extent."""
    allow = [list(allow_x), list(allow_y)]
    fixed = [{}, dict(fixed_y or {})]
    checks: list[tuple] = []
    both: list[tuple[int, int]] = []  # exact products of dims allowed on both axes
    for ax in range(3):
        for d in range(N_DIMS):
            n = int(cons.s_exact[f, ax, d]) or (rem[d] if cons.s_resid[f, ax, d] else 0)
            m = int(cons.s_max[f, ax, d])
            if m:
                checks.append((ax, d, "max", m))
            if not n:
                continue
            if ax < 2:
                fixed[ax][d] = n
                continue
            if n == 1:  # the product is 1: neither axis unrolls d
                allow[0][d] = allow[1][d] = 0
                continue
            on = [a for a in (0, 1) if allow[a][d] and cons.s_allow[f, a, d]]
            if len(on) == 1:
                fixed[on[0]][d] = n
            elif on:
                both.append((d, n))
            checks.append((2, d, "exact", n))
    for a in (0, 1):
        # a dim the constraint keeps off an axis stays off it, even where a dataflow rule fixes it there
        checks += [(a, d, "max", 1) for d in range(N_DIMS) if not cons.s_allow[f, a, d]]
        allow[a] = [int(v and w) for v, w in zip(allow[a], cons.s_allow[f, a])]
        for d, n in fixed[a].items():
            if n == 1:
                allow[a][d] = 0
        fixed[a] = {d: n for d, n in fixed[a].items() if n > 1}
    return tuple(allow[0]), tuple(allow[1]), fixed[0] or None, fixed[1] or None, tuple(checks), tuple(both)


def _pair_ok(vx, vy, checks) -> bool:
    for ax, d, kind, n in checks:
        v = vx[d] if ax == 0 else vy[d] if ax == 1 else vx[d] * vy[d]
        if (kind == "max" and v > n) or (kind == "exact" and v != n):
            return False
    return True


def _spatial_candidates(layer: Layer, arch: Arch, max_spatial: int, infeasible):
    """Beam search over the fan-outs (outermost first) of spatial assignments, scored by _score; pure
    Python ints (numpy only for the chosen ones).  Spatial constraints prune each fan-out's options; the
    last fan-out's candidates are filtered by ``infeasible(used)`` (None when the temporal constraints can
    still be met, else why not) before the final selection."""
    memo: dict = {}
    a = arch.arrays
    cons = arch.constraints
    L = a.n_levels
    bounds = tuple(int(b) for b in layer.dims)
    ones = (1,) * N_DIMS
    beams = [_Cand((), ones, _score(bounds, ones))]
    all_dims = (1,) * N_DIMS
    constrained = layer.is_mac and cons.any_mapping_rules
    rows = [f for f in range(1, L + 1) if int(a.fanout_x[f]) * int(a.fanout_y[f]) > 1]
    for f in rows:
        fx, fy = int(a.fanout_x[f]), int(a.fanout_y[f])
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
            ax_, ay_, fixed_x, checks, both = allow_x, allow_y, None, (), ()
            if constrained and f in cons.s_paths:
                ax_, ay_, fixed_x, fixed_y, checks, both = _fanout_rules(cons, f, rem, allow_x, allow_y, fixed_y)
            ys = _axis_cached(memo, rem, ay_, fy, fixed_y)
            xs = _axis_cached(memo, rem, ax_, fx, fixed_x)
            for d, n in both:
                xs = xs + [v for v in _axis_cached(memo, rem, ax_, fx, {**(fixed_x or {}), d: n}) if v not in xs]
                ys = ys + [v for v in _axis_cached(memo, rem, ay_, fy, {**(fixed_y or {}), d: n}) if v not in ys]
            for vy in ys:
                for vx in xs:
                    prod = tuple(x * y for x, y in zip(vx, vy))
                    if any(p > r for p, r in zip(prod, rem)):  # never unroll beyond the extent
                        continue
                    if checks and not _pair_ok(vx, vy, checks):
                        continue
                    fans = cand.fans + ((f, vx, vy),)
                    if fans in seen:
                        continue
                    seen.add(fans)
                    used = tuple(u * p for u, p in zip(cand.used, prod))
                    new.append(_Cand(fans, used, _score(bounds, used)))
        if constrained and f in cons.s_paths and not new:
            note = "" if not is_pe or arch.config.dataflow.preset == "unconstrained" else \
                f" (with the {arch.config.dataflow.preset} dataflow rules)"
            raise NoValidMapping(_unsat(layer, arch, cons.s_paths[f], f"no spatial unrolling satisfies it{note}"))
        if constrained and f == rows[-1]:
            new = _feasible_only(new, infeasible, layer, arch)
        if not new:
            continue
        new.sort(key=lambda c: c.lb)
        beams = _select(new, max_spatial if f == L else max(max_spatial, 24))
    if constrained and not rows:
        beams = _feasible_only(beams, infeasible, layer, arch)
    chosen = _select(sorted(beams, key=lambda c: c.lb), max_spatial)
    out = []
    for c in chosen:
        sx = np.ones((L + 1, N_DIMS), dtype=np.int64)
        sy = np.ones((L + 1, N_DIMS), dtype=np.int64)
        for f, vx, vy in c.fans:
            sx[f], sy[f] = vx, vy
        out.append((sx, sy, c.lb))
    return out, np.array(bounds, dtype=np.int64)


def _feasible_only(cands: list, infeasible, layer: Layer, arch: Arch) -> list:
    """The candidates whose remaining extents the temporal constraints can tile; none → NoValidMapping."""
    why = None
    out = []
    for c in cands:
        w = infeasible(c.used)
        if w is None:
            out.append(c)
        else:
            why = w
    if cands and not out:
        raise NoValidMapping(_unsat(layer, arch, *why))
    return out


def _unsat(layer: Layer, arch: Arch, paths, why: str) -> str:
    return (f"no mapping of layer {layer.name!r} ({layer.describe()}) on {arch.name} satisfies "
            f"{'; '.join(paths)}: {why}")


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


def _level_orders(layer: Layer, arch: Arch) -> tuple[np.ndarray, np.ndarray]:
    """(L, O, 8) orders per level and (L,) their counts: the relevance-group orders, and at a level with a
    ``permutation`` constraint (MAC layers) those orders with the permutation's dims moved innermost in the
    given order (inner → outer), the others keeping their relative order above them."""
    base = _orders(layer)
    cons = arch.constraints
    L = arch.arrays.n_levels
    per = []
    for lv in range(L):
        p = cons.perm[lv] if layer.is_mac else ()
        if not p:
            per.append(base)
            continue
        inner = list(reversed(p))  # outer → inner
        seen: dict[tuple, None] = {}
        for o in base:
            seen[tuple(int(d) for d in o if d not in p) + tuple(inner)] = None
        per.append(np.array(list(seen), dtype=np.int64))
    omax = max(len(o) for o in per)
    out = np.zeros((L, omax, N_DIMS), dtype=np.int64)
    for lv, o in enumerate(per):
        out[lv, : len(o)] = o
        out[lv, len(o):] = o[0]
    return out, np.array([len(o) for o in per], dtype=np.int64)


def _keep_variants(arch: Arch) -> np.ndarray:
    """Every keep/bypass choice of the levels' optional operands, minus those a bypass constraint forbids
    (validated at load: at least one remains)."""
    a = arch.arrays
    force = arch.constraints.keep_force
    L = a.n_levels
    optional = [(lv, o) for lv in range(L) for o in range(3) if a.bypass_ok[lv, o]]
    out = []
    for bits in itertools.product((1, 0), repeat=len(optional)):
        k = a.keeps.copy()
        for (lv, o), b in zip(optional, bits):
            k[lv, o] = b
        if np.all((force < 0) | (k == force)):
            out.append(k)
    return np.array(out, dtype=np.int64)


class DimRules(NamedTuple):
    """Temporal constraints on one dim, per level (outermost first): exact factor, largest factor (0 =
    free) and residual flags."""

    exact: tuple
    most: tuple
    resid: tuple


def _chain_ok(ch: tuple, r: DimRules) -> bool:
    has_resid = any(r.resid)
    for lv, f in enumerate(ch):
        if r.exact[lv] and f != r.exact[lv]:
            return False
        if r.most[lv] and f > r.most[lv]:
            return False
        if has_resid and f > 1 and not r.exact[lv] and not r.resid[lv]:
            return False
    return True


def _temporal_chains(rem: int, L: int, is_mac: bool, inner_ok: bool, inner_full: bool, full_spatial: bool,
                     max_splits: int, rules: DimRules | None = None) -> np.ndarray:
    """(K, L) temporal factor chains of one dim's remaining extent ``rem`` (outermost level first).  With
    ``rules`` (the dim's temporal constraints) only chains that satisfy them, possibly none (K = 0); exact
    factors that do not divide ``rem`` pad it to the next multiple of their product (imperfect factorization),
    never beyond: exact factors whose product exceeds ``rem`` leave no chain."""
    chains = []
    extents = padded_extents(rem)
    if rules is not None:
        fixed = math.prod(f for f in rules.exact if f)
        ext = -(-rem // fixed) * fixed
        if fixed <= rem and ext not in extents:
            extents.append(ext)
    for ext in extents:
        for ch in ordered_factorizations(ext, L):
            if is_mac:
                inner = ch[L - 1]
                if inner > 1 and not inner_ok:
                    continue
                if inner_full and inner < rem:
                    continue
                if full_spatial and max(ch) > 1:
                    continue
            if rules is not None and not _chain_ok(ch, rules):
                continue
            chains.append(ch)
    if not chains:
        if rules is not None:
            return np.zeros((0, L), dtype=np.int64)
        chains = [(rem,) + (1,) * (L - 1)]  # the dataflow rules leave nothing: evaluation says why
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
    return (layer.shape_key(), a.n_levels, a.pe_level, a.im2col, max_spatial, max_splits, arch.constraints.key) + \
        tuple(x.tobytes() for x in arrs)


def build_mapspace(layer: Layer, arch: Arch, max_spatial: int = MAX_SPATIAL, max_splits: int = 600) -> MapSpace:
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
    cons = arch.constraints
    if a.im2col:
        layer = lower_im2col(layer)
    L = a.n_levels
    bounds = tuple(int(b) for b in layer.dims)
    constrained = layer.is_mac and cons.any_mapping_rules
    rules = [DimRules(tuple(int(v) for v in cons.t_exact[:, d]), tuple(int(v) for v in cons.t_max[:, d]),
                      tuple(int(v) for v in cons.t_resid[:, d])) if constrained and d in cons.t_paths else None
             for d in range(N_DIMS)]
    memo: dict[tuple, np.ndarray] = {}

    def chains(d: int, rem: int, used_d: int) -> np.ndarray:
        full_spatial = bool(a.spatial_full[d] and used_d < bounds[d] <= a.fanout_y[a.pe_level])
        key = (rem, d, full_spatial)
        if key not in memo:
            memo[key] = _temporal_chains(rem, L, bool(layer.is_mac), bool(a.innermost_only[d]),
                                         bool(a.innermost_full[d]), full_spatial, max_splits, rules[d])
        return memo[key]

    def infeasible(used: tuple):
        for d in range(N_DIMS):
            rem = -(-bounds[d] // used[d])
            if rules[d] is not None and not len(chains(d, rem, used[d])):
                alone = _temporal_chains(rem, L, False, True, False, False, max_splits, rules[d])
                rules_note = "" if not len(alone) else f" (with the {arch.config.dataflow.preset} dataflow rules)"
                return cons.t_paths[d], f"{DIMS[d]} has {rem} left to iterate after spatial unrolling{rules_note}"
        return None

    cands, bounds_arr = _spatial_candidates(layer, arch, max_spatial, infeasible)
    S = len(cands)
    split_lists = []
    for cand in cands:
        sx, sy = cand[0], cand[1]
        used = np.prod(sx, axis=0) * np.prod(sy, axis=0)
        split_lists.append([chains(d, int(-(-bounds[d] // used[d])), int(used[d])) for d in range(N_DIMS)])
    # candidates that leave a dim the same extent share its chains (the memo returns one array): stored once
    blocks: list[np.ndarray] = []
    offset: dict[int, int] = {}
    n = 0
    chain_start = np.zeros((S, N_DIMS), dtype=np.int64)
    nsplits = np.zeros((S, N_DIMS), dtype=np.int64)
    for s, per in enumerate(split_lists):
        for d, ch in enumerate(per):
            if id(ch) not in offset:
                offset[id(ch)] = n
                blocks.append(ch)
                n += len(ch)
            chain_start[s, d] = offset[id(ch)]
            nsplits[s, d] = len(ch)
    chains_arr = np.concatenate(blocks).astype(np.int64) if n else np.ones((0, L), dtype=np.int64)
    spx = np.stack([c[0] for c in cands])
    spy = np.stack([c[1] for c in cands])
    lb = np.array([float(c[2][0]) for c in cands])
    orders, n_orders = _level_orders(layer, arch)
    return MapSpace(layer=layer, arch=arch, spatial_x=spx, spatial_y=spy, chains=chains_arr, chain_start=chain_start,
                    nsplits=nsplits,
                    orders=orders, n_orders=n_orders, keeps=_keep_variants(arch), lower_bound=lb)


def describe_dims(layer: Layer) -> str:
    return " ".join(f"{d}={v}" for d, v in zip(DIMS, layer.dims))


def log10_size(ms: MapSpace) -> float:
    return math.log10(max(ms.size(), 1))
