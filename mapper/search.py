"""Mapping search: exhaustive where the encoded mapspace is small, otherwise seeded random sampling
followed by a guided local search (steepest descent over one-gene moves, and moves to the other spatial
candidates where those stall), both evaluating batches of genomes with the same numba kernel.

Exhaustive enumeration (:func:`exhaustive_optimum`) visits one loop order per class of orders that cost
the same (:func:`_order_reps`).  Quality: bench/mapper_optimum.py computes the exhaustive optimum of a
corpus of small cases (data in tests/data/mapper_optimum.json, checked by tests/test_mapper_quality.py);
the default budget is within 0.1 % of it on every case and seed.  Budgets are nested (:func:`_nested_search`):
for a seed a larger budget never returns a worse mapping.

Deterministic: the same (layer, arch, objective, seed, budget) always returns the same mapping — random
draws come from numpy's PCG64 seeded per call, and parallel evaluation only fills disjoint slots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from accel._jit import njit
from accel.arch import Arch
from accel.cost import (CostRecord, Mapping, _evaluate_into, compile_layer, evaluate, evaluate_compiled,
                        mapping_arrays, record_from_raw, scratch)
from accel.layout import REASONS, R_VALID, record_size
from accel.workload import N_DIMS, Layer
from mapper.genome import (G_ORDER, G_SPATIAL, G_SPLIT, OBJECTIVES, decode_genome, eval_genomes,
                           eval_genomes_memo_group, genome_keep, mapspace_arrays, new_memo,
                           price_free_digest, price_set, random_genomes, serial_work)
from mapper.mapspace import MAX_SPATIAL, MapSpace, NoValidMapping, build_mapspace

genome_to_mapping = decode_genome  # the name this module has always exported


@njit(nrt=False)
def _order_reps(T, orders, n_orders, lv, reps):
    """Indices of one loop order per class of level ``lv``'s orders that visit the non-trivial loops (factor
    > 1 in ``T`` (L, 8)) in the same sequence, written into ``reps``; returns how many.

    Lossless: the cost model reads a level's loop order only through the walk of :func:`accel.cost._fills`,
    which skips loops whose factor is 1, so orders of one class cost the same (checked on random genomes
    by tests/test_mapper_quality.py)."""
    n = 0
    for o in range(n_orders[lv]):
        dup = False
        for p in range(o):
            i = 0
            j = 0
            same = True
            while True:
                while i < N_DIMS and T[lv, orders[lv, o, i]] == 1:
                    i += 1
                while j < N_DIMS and T[lv, orders[lv, p, j]] == 1:
                    j += 1
                if i == N_DIMS or j == N_DIMS:
                    same = i == N_DIMS and j == N_DIMS
                    break
                if orders[lv, o, i] != orders[lv, p, j]:
                    same = False
                    break
                i += 1
                j += 1
            if same:
                dup = True
                break
        if not dup:
            reps[n] = o
            n += 1
    return n


@njit(nrt=False)
def _enumerate_classes(s, nsplits, chains, chain_start, orders, n_orders, n_keeps, L, combo, n_combos, G, T, reps, nrep, pos):
    """Genomes of spatial candidate ``s`` from split combination ``combo`` (mixed radix over the dims) on,
    one per loop-order class of every level (:func:`_order_reps`) × every keep variant, written into G
    until the next combination would not fit.  Returns (rows written, next combination)."""
    m = 0
    cap = G.shape[0]
    while combo < n_combos:
        idx = combo
        for d in range(N_DIMS):
            r = nsplits[s, d]
            c = chain_start[s, d] + idx % r
            idx //= r
            for lv in range(L):
                T[lv, d] = chains[c, lv]
        count = n_keeps
        for lv in range(L):
            nrep[lv] = _order_reps(T, orders, n_orders, lv, reps[lv])
            count *= nrep[lv]
        if m + count > cap:
            break
        for lv in range(L):
            pos[lv] = 0
        for i in range(count // n_keeps):
            for v in range(n_keeps):
                row = m + i * n_keeps + v
                G[row, G_SPATIAL] = s
                idx = combo
                for d in range(N_DIMS):
                    r = nsplits[s, d]
                    G[row, G_SPLIT + d] = idx % r
                    idx //= r
                for lv in range(L):
                    G[row, G_ORDER + lv] = reps[lv, pos[lv]]
                G[row, G_ORDER + L] = v
            for lv in range(L):  # next order-class combination (mixed radix, level 0 fastest)
                pos[lv] += 1
                if pos[lv] < nrep[lv]:
                    break
                pos[lv] = 0
        m += count
        combo += 1
    return m, combo


def exhaustive_optimum(ms: MapSpace, objective: str, parallel: bool = False, chunk: int = 1 << 16,
                       evaluator: "_Evaluator | None" = None) -> tuple[float, np.ndarray | None, int]:
    """(optimum objective, its genome, genomes evaluated) over every mapping of ``ms``: every spatial
    candidate × split combination × keep variant, and one loop order per class of orders that cost the
    same (:func:`_order_reps`).  The genome is None (and the objective inf) when no mapping is valid; ties
    go to the first genome in enumeration order."""
    best_v, best_g, n = _exhaustive(ms, evaluator or _Evaluator(ms, objective, parallel), chunk)
    return float(best_v[0]), best_g[0], n


def _exhaustive(ms: MapSpace, ev: "_Evaluator | _GroupEvaluator", chunk: int = 1 << 16
                ) -> tuple[np.ndarray, list, int]:
    """:func:`exhaustive_optimum` for each of the ``ev.k`` variants of ``ev``: (optima (k,), their genomes,
    genomes evaluated)."""
    L = ms.arch.arrays.n_levels
    n_keeps = len(ms.keeps)
    per_combo_max = int(np.prod(ms.n_orders)) * n_keeps
    G = np.empty((max(chunk, per_combo_max), ms.genome_len), dtype=np.int64)
    T = np.ones((L, N_DIMS), dtype=np.int64)
    reps = np.zeros((L, int(ms.n_orders.max())), dtype=np.int64)
    nrep = np.zeros(L, dtype=np.int64)
    pos = np.zeros(L, dtype=np.int64)
    cols = np.arange(ev.k)
    best_v, best_g, n = np.full(ev.k, np.inf), [None] * ev.k, 0
    for s in range(len(ms.spatial_x)):
        n_combos = int(np.prod(ms.nsplits[s].astype(np.int64)))
        combo = 0
        while combo < n_combos:
            m, combo = _enumerate_classes(s, ms.nsplits, ms.chains, ms.chain_start, ms.orders, ms.n_orders, n_keeps, L, combo,
                                          n_combos, G, T, reps, nrep, pos)
            v = ev.price(G[:m], cols)
            n += m
            i = np.argmin(v, axis=0)
            vi = v[i, cols]
            for c in np.flatnonzero(vi < best_v):
                best_v[c], best_g[c] = vi[c], G[i[c]].copy()
    return best_v, best_g, n


SCAN_LIMIT = 160  # dims with at most this many split choices are scanned completely in each round


@njit
def _neighbours(best, nsplits, n_orders, n_keeps, L, rng_u, G):
    """One-gene moves around ``best`` (coordinate descent): every split choice of a dim with at most
    SCAN_LIMIT choices (else ±1, ±2 and random jumps), every order of every level (``n_orders`` (L,) per
    level), every keep variant.
    Returns the number of rows written into G."""
    m = 0
    s = best[G_SPATIAL]
    keep = genome_keep(L)
    glen = best.shape[0]
    for d in range(N_DIMS):
        r = nsplits[s, d]
        if r <= 1:
            continue
        cur = best[G_SPLIT + d]
        if r <= SCAN_LIMIT:
            for v in range(r):
                if v != cur:
                    for j in range(glen):
                        G[m, j] = best[j]
                    G[m, G_SPLIT + d] = v
                    m += 1
            continue
        for delta in (-2, -1, 1, 2):
            v = cur + delta
            if 0 <= v < r:
                for j in range(glen):
                    G[m, j] = best[j]
                G[m, G_SPLIT + d] = v
                m += 1
        for t in range(12):
            v = int(rng_u[(d * 12 + t) % rng_u.shape[0]] * r)
            if v != cur:
                for j in range(glen):
                    G[m, j] = best[j]
                G[m, G_SPLIT + d] = v
                m += 1
    for lv in range(L):
        for o in range(n_orders[lv]):
            if o != best[G_ORDER + lv]:
                for j in range(glen):
                    G[m, j] = best[j]
                G[m, G_ORDER + lv] = o
                m += 1
    for v in range(n_keeps):
        if v != best[keep]:
            for j in range(glen):
                G[m, j] = best[j]
            G[m, keep] = v
            m += 1
    return m


@njit(nrt=False)
def _spatial_moves(best, nsplits, chains, chain_start, L, G):
    """Moves of ``best`` to every other spatial candidate s', each dim keeping as much of its temporal
    chain as s' allows: the split choice of s' whose factors at the levels below DRAM are closest to the
    current ones (least Σ |a − b| / max(a, b); DRAM takes what is left).  Returns the number of rows written."""
    s = best[G_SPATIAL]
    glen = best.shape[0]
    m = 0
    for t in range(nsplits.shape[0]):
        if t == s:
            continue
        for j in range(glen):
            G[m, j] = best[j]
        G[m, G_SPATIAL] = t
        for d in range(N_DIMS):
            cur = best[G_SPLIT + d]
            if chain_start[t, d] == chain_start[s, d]:  # the same chains (same extent left): keep the choice
                G[m, G_SPLIT + d] = cur
                continue
            kbest = 0
            dbest = np.inf
            for k in range(nsplits[t, d]):
                dist = 0.0
                for lv in range(1, L):
                    a = chains[chain_start[t, d] + k, lv]
                    b = chains[chain_start[s, d] + cur, lv]
                    dist += abs(a - b) / max(a, b)
                if dist < dbest:
                    dbest = dist
                    kbest = k
            G[m, G_SPLIT + d] = kbest
        m += 1
    return m


FOCUS = 8  # the spatial candidates with the best compute-cycle lower bound get half of the random samples


def _sample_spatial(S: int, samples: int) -> np.ndarray:
    """Spatial candidate of each random sample: half of ``samples`` spread evenly over the FOCUS candidates
    with the best lower bound (the mapspace lists them first), the rest evenly over all (at least one each)."""
    if S <= FOCUS:
        return np.repeat(np.arange(S), max(1, samples // S))
    return np.concatenate([np.repeat(np.arange(FOCUS), max(1, samples // (2 * FOCUS))),
                           np.repeat(np.arange(S), max(1, samples // (2 * S)))])


@dataclass(frozen=True)
class SearchBudget:
    """How hard :func:`search_mapping` looks.  ``THOROUGH`` is the default search; ``FAST`` (about 5x fewer
    evaluations) is for sweeps over many design points (its quality cost: ``python bench/mapper_optimum.py
    --gaps fast``).  ``samples`` random genomes, then descents of up to ``rounds`` rounds from the best genome
    of each spatial candidate, best candidates first: at least ``restarts`` of them, more while the descents
    have cost fewer than ``samples`` evaluations.  Mapspaces of at most ``exhaustive_limit`` genomes are
    enumerated instead."""

    samples: int = 6000
    rounds: int = 60
    restarts: int = 4
    exhaustive_limit: int = 20_000


THOROUGH = SearchBudget()
FAST = SearchBudget(samples=1000, rounds=10, restarts=2, exhaustive_limit=3_000)
BUDGETS = {"thorough": THOROUGH, "fast": FAST}


@dataclass
class SearchResult:
    mapping: Mapping
    cost: CostRecord
    objective: str
    evaluations: int
    valid_evaluations: int
    exhaustive: bool
    mapspace_size: int


class _Evaluator:
    """Evaluates genomes of one mapspace on its accelerator (serial or parallel kernel); counts evaluations."""

    def __init__(self, ms: MapSpace, objective: str, parallel: bool):
        self.args = (compile_layer(ms.layer), ms.arch.arrays, mapspace_arrays(ms), OBJECTIVES[objective])
        self.work = None if parallel else serial_work(ms.arch.arrays.n_levels)
        self.count = 0
        self.valid = 0
        self.reasons = np.zeros(len(REASONS), dtype=np.int64)

    k = 1  # variants (see _GroupEvaluator)

    def price(self, G: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """(B, 1): the objective of every genome row of ``G`` (``cols`` is always [0])."""
        return self(G)[:, None]

    def __call__(self, G: np.ndarray) -> np.ndarray:
        res, reason = eval_genomes(G, *self.args, self.work)
        self.count += len(G)
        ok = np.isfinite(res)
        self.valid += int(ok.sum())
        self.reasons += np.bincount(reason.astype(np.int64), minlength=len(REASONS))[: len(REASONS)]
        return res


GROUP_MEMO_SLOTS = 1 << 15  # a group search's memo to start with (~25 MB for 4 levels): sweeps' groups of ~100 points
# cost ~10,000-50,000 distinct genomes per layer, so it grows (rehashes) once or twice instead of four times


class _GroupEvaluator:
    """Evaluates genomes of one mapspace on k accelerators that differ only in their clock, static power and
    bandwidths (:func:`mapper.genome.eval_genomes_memo_group`, through a memo of its own): ``price(G, cols)`` is
    (B, len(cols)), column c the objective on ``archs[cols[c]]`` — the bits :class:`_Evaluator` gives there.
    Counts evaluations per variant."""

    def __init__(self, ms: MapSpace, archs: list[Arch], objective: str):
        self.args = (compile_layer(ms.layer), archs[0].arrays, mapspace_arrays(ms), OBJECTIVES[objective])
        self.work = serial_work(ms.arch.arrays.n_levels)
        self.prices = price_set([a.arrays for a in archs])
        self.memo = new_memo(ms.genome_len, GROUP_MEMO_SLOTS)
        self.k = len(archs)
        self.count = np.zeros(self.k, dtype=np.int64)
        self.valid = np.zeros(self.k, dtype=np.int64)
        self.reasons = np.zeros((self.k, len(REASONS)), dtype=np.int64)

    def price(self, G: np.ndarray, cols: np.ndarray) -> np.ndarray:
        res, reason, self.memo = eval_genomes_memo_group(G, *self.args, self.work, self.memo, self.prices, cols)
        self.count[cols] += len(G)
        self.valid[cols] += np.isfinite(res).sum(axis=0)
        self.reasons[cols] += np.bincount(reason.astype(np.int64), minlength=len(REASONS))[: len(REASONS)]
        return res


def search_mapping(layer: Layer, arch: Arch, objective: str = "edp", seed: int = 0, samples: int = 6000,
                   rounds: int = 60, restarts: int = 4, exhaustive_limit: int = 20_000, parallel: bool = False,
                   mapspace: MapSpace | None = None, max_spatial: int = MAX_SPATIAL, explain: bool = True,
                   budget: SearchBudget | None = None) -> SearchResult:
    """Best mapping of ``layer`` on ``arch`` for ``objective`` (latency | energy | edp).

    ``budget`` (a :class:`SearchBudget`, e.g. ``BUDGETS["fast"]``) replaces ``samples``, ``rounds``,
    ``restarts`` and ``exhaustive_limit``.  Mapspaces with at most ``exhaustive_limit`` genomes are enumerated
    completely (guaranteed optimum of the encoded space); larger ones draw ``samples`` random genomes (half
    over the FOCUS spatial candidates with the best compute-cycle bound, half over all; ``max_spatial``
    bounds how many candidates are kept, see :mod:`mapper.mapspace`) and run steepest-descent local search
    (see :class:`SearchBudget`), first from the result of the largest budget of :data:`BUDGETS` nested in
    this one.
    Raises :class:`NoValidMapping` naming the constraint that ruled everything out: the mapspace names the
    ``constraints`` entry nothing can satisfy structurally; when every constrained mapping is invalid
    (e.g. a forced tile overflows a buffer), ``explain`` re-searches (small budget) without each entry in
    turn and names those whose removal lets a valid mapping through.

    ``parallel=True`` evaluates each batch with the ``prange`` kernel (same code as the serial one); it
    costs ~4 s more JIT on first use, so networks instead map their layers concurrently on threads
    (the kernels release the GIL) with the serial kernel — see :class:`mapper.network.NetworkEvaluator`.

    Accelerators that differ only in their clock, static power and bandwidths (a sweep's) search together, faster,
    with the same results: :func:`search_mapping_group`.
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}, got {objective!r}")
    if budget is not None:
        samples, rounds, restarts, exhaustive_limit = budget.samples, budget.rounds, budget.restarts, \
            budget.exhaustive_limit
    ms = mapspace or build_mapspace(layer, arch, max_spatial=max_spatial)
    ev = _Evaluator(ms, objective, parallel)
    size = ms.size()
    exhaustive = size <= exhaustive_limit
    if exhaustive:
        vs, gs, _ = _exhaustive(ms, ev)
    else:
        vs, gs = _nested_search(ms, ev, seed, SearchBudget(samples, rounds, restarts, exhaustive_limit))
    best_v, best_g = vs[0], gs[0]
    if best_g is None or not np.isfinite(best_v):
        why = _why_none(layer, arch, ev.reasons)
        raise NoValidMapping(why + (_culprits(layer, arch, objective) if explain else ""))
    mapping = genome_to_mapping(ms, best_g)
    rec = evaluate(layer, arch, mapping)
    return SearchResult(mapping=mapping, cost=rec, objective=objective, evaluations=ev.count,
                        valid_evaluations=ev.valid, exhaustive=exhaustive, mapspace_size=size)


def _same_but_prices(a: Arch, b: Arch) -> bool:
    """Whether ``a`` and ``b`` differ at most in the priced fields (:data:`mapper.genome._PRICE_FIELDS`)."""
    if a.arrays is b.arrays:
        return True
    return price_free_digest(a) == price_free_digest(b)


def search_mapping_group(layer: Layer, archs: list[Arch], objective: str = "edp", seed: int = 0,
                         budget: SearchBudget = THOROUGH, max_spatial: int = MAX_SPATIAL) -> list[SearchResult]:
    """``[search_mapping(layer, a, objective, seed, budget=budget, max_spatial=max_spatial) for a in archs]`` —
    the same mappings, costs and evaluation counts — for accelerators that differ only in their clock, static
    power and bandwidths (:data:`mapper.genome._PRICE_FIELDS`; anything else is refused with ValueError).  They
    share the mapspace, and their searches share every step they have in common (:func:`_local_search`): each
    genome is costed once by the kernel and priced for every accelerator from its stored costs
    (:func:`mapper.genome.eval_genomes_memo_group`).  What sweeps over clocks and bandwidths run.
    Raises :class:`NoValidMapping` as :func:`search_mapping` does (validity does not depend on the priced fields)."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}, got {objective!r}")
    if not archs:
        return []
    for a in archs[1:]:
        if not _same_but_prices(a, archs[0]):
            raise ValueError(f"search_mapping_group: {a.name} differs from {archs[0].name} in more than its clock, "
                             "static power and bandwidths")
    ms = build_mapspace(layer, archs[0], max_spatial=max_spatial)
    ev = _GroupEvaluator(ms, archs, objective)
    size = ms.size()
    exhaustive = size <= budget.exhaustive_limit
    if exhaustive:
        best_v, best_g, _ = _exhaustive(ms, ev)
    else:
        best_v, best_g = _nested_search(ms, ev, seed, budget)
    if best_g[0] is None or not np.isfinite(best_v[0]):
        why = _why_none(layer, archs[0], ev.reasons[0])
        raise NoValidMapping(why + _culprits(layer, archs[0], objective))
    out = []
    mappings: dict[bytes, Mapping] = {}  # variants often share their best genome
    for c, a in enumerate(archs):
        mapping = mappings.get(best_g[c].tobytes())
        if mapping is None:
            mapping = mappings[best_g[c].tobytes()] = genome_to_mapping(ms, best_g[c])
        out.append(SearchResult(mapping=mapping, cost=evaluate_compiled(ev.args[0], a, mapping), objective=objective,
                                evaluations=int(ev.count[c]), valid_evaluations=int(ev.valid[c]),
                                exhaustive=exhaustive, mapspace_size=size))
    return out


def _nested_in(b: SearchBudget) -> SearchBudget | None:
    """The largest of :data:`BUDGETS` strictly inside ``b`` (every field <=, one <), or None."""
    inside = [x for x in BUDGETS.values() if x != b and x.samples <= b.samples and x.rounds <= b.rounds
              and x.restarts <= b.restarts and x.exhaustive_limit <= b.exhaustive_limit]
    return max(inside, key=lambda x: (x.samples, x.rounds, x.restarts), default=None)


def _nested_search(ms: MapSpace, ev: "_Evaluator | _GroupEvaluator", seed: int, b: SearchBudget
                   ) -> tuple[np.ndarray, list]:
    """:func:`_local_search` with budget ``b``, its first start the result of the search with the largest
    budget of :data:`BUDGETS` nested in ``b`` (recursively): for a seed, a larger budget never returns a
    worse mapping (the descent from that start never gets worse, and the best of the starts is kept)."""
    inner = _nested_in(b)
    first = [None] * ev.k if inner is None else _nested_search(ms, ev, seed, inner)[1]
    return _local_search(ms, ev, seed, b.samples, b.rounds, b.restarts, first)


def _fork(rng: np.random.Generator) -> np.random.Generator:
    """An independent generator in ``rng``'s current state (the same draws from here on)."""
    bg = np.random.PCG64()
    bg.state = rng.bit_generator.state
    return np.random.Generator(bg)


class _Descent:
    """The state of the search of the variants ``cols`` that have made the same moves so far (so share their
    current genome and generator): descent ``n`` (the variants' n-th start; ``cur`` None: not begun), round ``r``
    of it (``rounds``: ended), evaluations ``spent`` since the random samples, objective ``cur_v`` (len(cols),)."""

    __slots__ = ("cols", "rng", "n", "spent", "cur", "cur_v", "r")

    def __init__(self, cols, rng, n, spent, cur, cur_v, r):
        self.cols, self.rng, self.n, self.spent, self.cur, self.cur_v, self.r = cols, rng, n, spent, cur, cur_v, r


def _local_search(ms: MapSpace, ev: "_Evaluator | _GroupEvaluator", seed: int, samples: int, rounds: int,
                  restarts: int, first: list) -> tuple[np.ndarray, list]:
    """Random sampling then steepest descent (see :func:`search_mapping`) for each of the ``ev.k`` variants of
    ``ev``; ``first[c]``: a genome variant c descends from before its sampled starts (the nested smaller search's
    result, so the result is never worse), or None.  Returns (best objective (k,), best genomes).

    Each variant's search is the one it would run alone: the same samples (one seed), then descents from its own
    starts whose moves depend on its own objective values.  Variants whose searches have made the same moves so
    far are one :class:`_Descent` — their candidates are generated and evaluated once, for all of them — which
    splits wherever their next start or best move differs (with a copy of the generator's state, so each part
    draws what it would alone)."""
    L = ms.arch.arrays.n_levels
    glen = ms.genome_len
    S = len(ms.spatial_x)
    n_orders, n_keeps = ms.n_orders, len(ms.keeps)
    rng = np.random.Generator(np.random.PCG64(seed))
    G = random_genomes(ms, _sample_spatial(S, samples), rng)
    V = ev.price(G, np.arange(ev.k))
    # each variant's starts: its `first`, then the best valid sample of each spatial candidate, best first
    starts: list[list] = []
    VT = np.ascontiguousarray(V.T)
    orders = np.argsort(VT, axis=1, kind="stable")  # (k, n)
    n = len(G)
    pos = np.full((ev.k, S), n)  # each spatial candidate's first position in each variant's order
    rank = np.broadcast_to(np.arange(n), (ev.k, n))
    valid = np.isfinite(np.take_along_axis(VT, orders, axis=1))
    np.minimum.at(pos, (np.repeat(np.arange(ev.k), n)[valid.ravel()], G[orders[valid], G_SPATIAL]), rank[valid])
    pos.sort(axis=1)
    for c in range(ev.k):
        p = pos[c]
        starts.append(([] if first[c] is None else [first[c]]) + orders[c, p[p < n]].tolist())
    n_first = [int(f is not None) for f in first]
    stack = [_Descent(np.arange(ev.k), rng, 0, 0, None, None, 0)]
    nb = np.empty((N_DIMS * max(SCAN_LIMIT, 16) + int(n_orders.sum()) + n_keeps + 8, glen), dtype=np.int64)
    sp = np.empty((max(S - 1, 1), glen), dtype=np.int64)
    best_v, best_g = np.full(ev.k, np.inf), [None] * ev.k
    while stack:
        d = stack.pop()
        while True:
            if d.cur is None:  # the variants' next descents: at least `restarts` (plus `first`), more while
                parts: dict = {}  # they have cost fewer than `samples` evaluations
                for c in d.cols.tolist():
                    st = starts[c]
                    if d.n >= len(st) or (d.n >= restarts + n_first[c] and d.spent >= samples):
                        continue  # this variant's search is over
                    g = st[d.n]
                    parts.setdefault(g if isinstance(g, int) else g.tobytes(), (g, []))[1].append(c)
                if not parts:
                    break
                todo = list(parts.values())
                for g, cs in todo[1:]:
                    stack.append(_Descent(np.array(cs), _fork(d.rng), d.n, d.spent, G[g].copy() if isinstance(g, int)
                                          else g, None, 0))
                g, cs = todo[0]
                d.cols, d.cur, d.cur_v, d.r = np.array(cs), G[g].copy() if isinstance(g, int) else g, None, 0
            if d.cur_v is None:  # a descent begins
                d.cur_v = ev.price(d.cur[None, :], d.cols)[0]
                d.spent += 1
            if d.r >= rounds:  # the descent ended: keep the better of it and the variants' best so far
                better = d.cur_v < best_v[d.cols]
                for c, v in zip(d.cols[better].tolist(), d.cur_v[better].tolist()):
                    best_v[c], best_g[c] = v, d.cur
                d.n, d.cur = d.n + 1, None
                continue
            m = _neighbours(d.cur, ms.nsplits, n_orders, n_keeps, L, d.rng.random(96), nb)
            if m:
                vals = ev.price(nb[:m], d.cols)
                d.spent += m
            else:
                vals = np.full((1, len(d.cols)), np.inf)
            j = np.argmin(vals, axis=0)
            vj = vals[j, np.arange(len(d.cols))]
            acc = vj < d.cur_v
            if acc.all() and (j == j[0]).all():  # every variant takes the same move
                d.cur, d.cur_v, d.r = nb[j[0]].copy(), vj, d.r + 1
                continue
            moves = [(d.cols[sel], nb[jj].copy(), vj[sel], d.spent, d.r + 1)
                     for jj in np.unique(j[acc]) for sel in [acc & (j == jj)]]
            rej = ~acc
            if rej.any():
                cr, cv = d.cols[rej], d.cur_v[rej]
                if S < 2:  # a local optimum of the one-gene moves and no other spatial candidate: ended
                    moves.append((cr, d.cur, cv, d.spent, rounds))
                else:  # try the other spatial candidates
                    m = _spatial_moves(d.cur, ms.nsplits, ms.chains, ms.chain_start, L, sp)
                    vals = ev.price(sp[:m], cr)
                    j = np.argmin(vals, axis=0)
                    vj = vals[j, np.arange(len(cr))]
                    acc = vj < cv
                    moves += [(cr[sel], sp[jj].copy(), vj[sel], d.spent + m, d.r + 1)
                              for jj in np.unique(j[acc]) for sel in [acc & (j == jj)]]
                    if not acc.all():
                        moves.append((cr[~acc], d.cur, cv[~acc], d.spent + m, rounds))
            for cols, cur, cur_v, spent, r in moves[1:]:
                stack.append(_Descent(cols, _fork(d.rng), d.n, spent, cur, cur_v, r))
            d.cols, d.cur, d.cur_v, d.spent, d.r = moves[0]
    return best_v, best_g


def _why_none(layer: Layer, arch: Arch, reasons: np.ndarray) -> str:
    counts = {REASONS[i]: int(c) for i, c in enumerate(reasons) if c and i != R_VALID}
    if not counts:
        return f"no valid mapping for {layer.name} ({layer.describe()}) on {arch.name}"
    worst = max(counts, key=counts.get)
    detail = "; ".join(f"{k}: {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
    return (f"no valid mapping for layer {layer.name!r} ({layer.describe()}) on {arch.name}: "
            f"most candidates failed because {worst} ({detail})")


def _culprits(layer: Layer, arch: Arch, objective: str) -> str:
    """Which ``constraints`` entries rule out every valid mapping: those without which a small search finds
    one (at most 12 entries are tried); empty when the arch has none that apply."""
    entries = arch.config.constraints
    if not entries:
        return ""
    dumped = [c.model_dump(mode="python", exclude_none=True) for c in entries]
    culprits = []
    for i in range(min(len(entries), 12)):
        try:
            search_mapping(layer, arch.with_config(constraints=dumped[:i] + dumped[i + 1:]), objective=objective,
                           samples=300, rounds=3, restarts=1, exhaustive_limit=2000, explain=False)
        except NoValidMapping:
            continue
        culprits.append(f"constraints[{i}] ({entries[i].target} {entries[i].type})")
    if culprits:
        return f"; ruled out by {', '.join(culprits)} (without any one of these a valid mapping exists)"
    return f"; under constraints[0…{len(entries) - 1}] (no single one is the cause)"


def raw_record(ms: MapSpace, g: np.ndarray) -> np.ndarray:
    """Full cost vector of one genome (for tests and benchmarks)."""
    L = ms.arch.arrays.n_levels
    out = np.zeros(record_size(L))
    _evaluate_into(compile_layer(ms.layer), ms.arch.arrays, mapping_arrays(decode_genome(ms, g)), out, scratch(L))
    return out


__all__ = ["search_mapping", "search_mapping_group", "SearchResult", "NoValidMapping", "genome_to_mapping", "record_from_raw"]
