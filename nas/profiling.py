"""Search-space profiling and division strategies, exhaustive search, and the strategy dispatcher.

Strategies here share the call shape of :func:`nas.search.random_search` /
:func:`nas.search.regularized_evolution` — ``(space, evaluate, budget, seed, objective, prefilter)`` →
query history DataFrame (one row per accuracy query, running ``best_score`` / ``best_arch``) — so
:func:`run_search` can dispatch on a name and the CLI can print any of them the same way.

* :func:`evolution_search` — regularized evolution (:func:`nas.search.regularized_evolution`) over a
  :class:`NoveltySpace`: multi-edit mutations and no repeated proposals.
* :func:`exhaustive_search` — every arch of a finite space (archs the cheap ``prefilter`` shows to break
  a constraint are skipped, not queried): the ground truth for a constrained search.
* :func:`bbssp_search` — black-box search-space profiling (Zeng et al., ASP-DAC 2020): for each
  candidate sub-space (``space.subspaces()``) draw ``base_per_subspace`` base networks (SSBNs), measure
  their hardware cost (all of them) and their accuracy (the constraint-satisfying ones), score each
  sub-space with a cost function trading accuracy against latency, keep the ``keep`` lowest-cost
  sub-spaces, and run evolution over their union with the rest of the budget.  Cost of a sub-space S
  (lower is better)::

      cost(S) = − mean of the top ⌈top_fraction·k⌉ scores of its k feasible base networks
                + infeasible_penalty · (1 − feasible fraction)

  where score is the :class:`nas.search.Objective` score (accuracy − Σ w·ln(metric/ref): the latency
  weight sets the accuracy/latency trade-off), the top fraction keeps degenerate base networks (e.g.
  cells cut off by ``none`` edges) from hiding what a sub-space can reach, and the penalty (accuracy
  points) charges sub-spaces whose networks mostly break the constraints (cost ∞ when none satisfies
  them).
* :func:`cdf_search` — CHaNAS latency-CDF space division (Zhang et al., §3.6): sample
  ``samples_per_subspace`` networks of every sub-space, costing hardware only (the latency LUT, no
  accuracy queries), and build the CDF ``F_S(t)`` of the latencies of the constraint-satisfying ones
  on [0, T] (T = the latency bound).  The paper keeps the sub-space with the *lowest* CDF ("the lower
  CDF of latency is more likely to achieve higher performance"), i.e. the smallest area
  ``∫_0^T F_S(t) dt / T = 1 − E[lat | lat ≤ T] / T`` — the sub-space whose satisfying networks use the
  latency budget most (the FLOPs-CDF rule of MCUNet's TinyNAS, Lin et al. NeurIPS 2020, applied to
  latency) — among sub-spaces where at least ``min_feasible_fraction`` of the samples satisfy the
  constraints.  Evolution then searches the chosen sub-space with the whole accuracy budget.

:class:`NASProblem` joins an accuracy signal and :class:`nas.latency_table.SpaceHardware`;
:func:`make_accuracy` builds the signals (``table``, ``proxy:NAME``, ``predictor``); :func:`pareto_front`
gives the multi-objective view (plotted by :func:`accel.app.plots.plot_pareto`).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from nas.search import Objective, _Runner, random_search, regularized_evolution

__all__ = ["NASProblem", "NoveltySpace", "UnionSpace", "evolution_search", "exhaustive_search", "bbssp_search",
           "cdf_search", "run_search",
           "STRATEGIES", "make_accuracy", "pareto_front", "best_archs", "merge_histories"]

Evaluate = Callable[[Any], Mapping[str, float]]


class NASProblem:
    """``evaluate(arch) -> {"accuracy": …, <hardware metrics>}`` with ``hardware(arch)`` usable alone as
    the cheap search prefilter.  ``accuracy``: arch → accuracy signal (higher is better)."""

    def __init__(self, accuracy: Callable[[Any], float], hardware: Callable[[Any], Mapping[str, float]] | None = None):
        self.accuracy = accuracy
        self.hardware_fn = hardware

    def hardware(self, arch) -> dict[str, float]:
        return dict(self.hardware_fn(arch)) if self.hardware_fn is not None else {}

    def __call__(self, arch) -> dict[str, float]:
        return {"accuracy": float(self.accuracy(arch)), **self.hardware(arch)}


class NoveltySpace:
    """A space wrapper for evolution: every mutation applies 1 + Geometric(``extra_mutation_prob``) edits
    (one edit, then another with probability p, ...), and ``sample``/``mutate`` redraw (up to ``max_tries``
    times) an arch this wrapper already proposed, so the accuracy budget is not spent on repeats.

    On NAS-Bench-201 under a latency bound this closes the gaps single-edit, revisiting evolution leaves
    where the best feasible cell is two coupled edits away (e.g. swapping which edge carries the 3×3
    conv), see ``tests/test_nas_cli.py`` and the issue #4 report.
    """

    def __init__(self, space, extra_mutation_prob: float = 0.5, max_tries: int = 50):
        if not 0.0 <= extra_mutation_prob < 1.0:
            raise ValueError("extra_mutation_prob must be in [0, 1)")
        self.space, self.p, self.max_tries = space, extra_mutation_prob, max(1, max_tries)
        self.name = getattr(space, "name", type(space).__name__)
        self.seen: set = set()

    def _fresh(self, make: Callable[[], Any]):
        arch = make()
        for _ in range(self.max_tries - 1):
            if arch not in self.seen:
                break
            arch = make()
        self.seen.add(arch)
        return arch

    def _edit(self, arch, rng: np.random.Generator):
        arch = self.space.mutate(arch, rng)
        while self.p and rng.random() < self.p:
            arch = self.space.mutate(arch, rng)
        return arch

    def sample(self, rng: np.random.Generator):
        return self._fresh(lambda: self.space.sample(rng))

    def mutate(self, arch, rng: np.random.Generator):
        return self._fresh(lambda: self._edit(arch, rng))

    def crossover(self, a, b, rng: np.random.Generator):
        return self.space.crossover(a, b, rng)

    def encode(self, arch) -> str:
        return self.space.encode(arch)

    def contains(self, arch) -> bool:
        return self.space.contains(arch)


class UnionSpace:
    """The union of several sub-spaces of one space: ``sample`` picks a sub-space uniformly, ``mutate`` and
    ``crossover`` stay inside a sub-space that contains the parent(s)."""

    def __init__(self, spaces: Mapping[str, Any]):
        if not spaces:
            raise ValueError("UnionSpace needs at least one sub-space")
        self.spaces = dict(spaces)
        self._list = list(self.spaces.values())
        self.name = "+".join(self.spaces)

    def _owners(self, arch) -> list:
        return [s for s in self._list if s.contains(arch)]

    def contains(self, arch) -> bool:
        return bool(self._owners(arch))

    def sample(self, rng: np.random.Generator):
        return self._list[int(rng.integers(len(self._list)))].sample(rng)

    def mutate(self, arch, rng: np.random.Generator):
        owners = self._owners(arch) or self._list
        return owners[int(rng.integers(len(owners)))].mutate(arch, rng)

    def crossover(self, a, b, rng: np.random.Generator):
        both = [s for s in self._owners(a) if s.contains(b)]
        if both:
            return both[int(rng.integers(len(both)))].crossover(a, b, rng)
        return a

    def encode(self, arch) -> str:
        return self._list[0].encode(arch)


# ---------------------------------------------------------------------------------------------
# History helpers
# ---------------------------------------------------------------------------------------------
def merge_histories(frames: list[pd.DataFrame], strategy: str, seed: int, params: dict,
                    objective: Objective) -> pd.DataFrame:
    """Concatenate query histories in order, renumber ``query`` and recompute the running best."""
    frames = [f for f in frames if len(f)]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if len(df):
        df["query"] = np.arange(len(df))
        score = np.where(df["feasible"].to_numpy(dtype=bool), df["score"].to_numpy(dtype=float), -np.inf)
        best = np.maximum.accumulate(score)
        improved = score > np.concatenate([[-np.inf], best[:-1]])  # first arch reaching a new best, as _Runner
        idx = np.maximum.accumulate(np.where(improved, np.arange(len(df)), 0))
        has = np.isfinite(best)
        df["best_score"] = np.where(has, best, np.nan)
        df["best_arch"] = [df["arch"].iat[i] if h else None for i, h in zip(idx, has)]
    attrs: dict[str, Any] = {}
    for f in frames:
        attrs.update(f.attrs)
    feas = df[df["feasible"]] if len(df) else df
    best_row = feas.loc[feas["score"].idxmax()] if len(feas) else None
    attrs.update({"strategy": strategy, "seed": seed, "params": params, "objective": objective.describe(),
                  "budget": int(params.get("budget", len(df))),
                  "best_arch": best_row["arch"] if best_row is not None else None,
                  "best_score": float(best_row["score"]) if best_row is not None else None,
                  "unique_archs": int(df["arch"].nunique()) if len(df) else 0,
                  "rejected_by_prefilter": int(sum(f.attrs.get("rejected_by_prefilter", 0) for f in frames))})
    df.attrs = attrs
    return df


def _rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


# ---------------------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------------------
def exhaustive_search(space, evaluate: Evaluate, budget: int | None = None, seed: int = 0,
                      objective: Objective | None = None, prefilter: Evaluate | None = None,
                      progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """Query every arch of a finite space (``budget`` is ignored).  Archs whose ``prefilter`` metrics break
    a constraint are skipped (``attrs['rejected_by_prefilter']``)."""
    objective = objective or Objective()
    archs = space.enumerate()
    run = _Runner(space, evaluate, objective, max(1, len(archs)))
    for n, arch in enumerate(archs, start=1):
        if prefilter is not None and objective.constraints and objective.violation(prefilter(arch)) > 0:
            run.rejected += 1
        else:
            run.query(arch, "exhaustive")
        if progress and (n % 1000 == 0 or n == len(archs)):
            progress(n, len(archs))
    df = run.frame("exhaustive", seed, {"archs": len(archs)})
    df.attrs["budget"] = len(archs)
    return df


def evolution_search(space, evaluate: Evaluate, budget: int, seed: int = 0, objective: Objective | None = None,
                     prefilter: Evaluate | None = None, population_size: int = 50, sample_size: int = 10,
                     crossover_prob: float = 0.2, novelty: bool = True, extra_mutation_prob: float = 0.5
                     ) -> pd.DataFrame:
    """:func:`nas.search.regularized_evolution` over :class:`NoveltySpace` (``novelty=True``: multi-edit
    mutations, no repeated proposals) or over ``space`` itself.  The population shrinks to the budget."""
    pop = max(2, min(population_size, budget))
    ss = max(1, min(sample_size, pop))
    sp = NoveltySpace(space, extra_mutation_prob) if novelty else space
    df = regularized_evolution(sp, evaluate, budget, seed=seed, objective=objective, population_size=pop,
                               sample_size=ss, crossover_prob=crossover_prob, prefilter=prefilter)
    df.attrs["params"] = {**df.attrs["params"], "novelty": novelty,
                          "extra_mutation_prob": extra_mutation_prob if novelty else 0.0}
    return df


def bbssp_search(space, evaluate: Evaluate, budget: int, seed: int = 0, objective: Objective | None = None,
                 prefilter: Evaluate | None = None, base_per_subspace: int = 8, keep: int = 2,
                 top_fraction: float = 0.5, infeasible_penalty: float = 2.0, population_size: int = 50,
                 sample_size: int = 10,
                 crossover_prob: float = 0.2) -> pd.DataFrame:
    """BBSSP profiling then evolution over the kept sub-spaces (module docstring).

    ``prefilter``: cheap hardware metrics (needed to skip accuracy queries of base networks that break a
    constraint; without it every base network is queried).  At most half the budget goes to base
    networks (``base_per_subspace`` shrinks if needed).  ``df.attrs['profile']``: one record per sub-space
    (name, base networks, feasible, top mean score, cost, kept), lowest cost first.
    """
    objective = objective or Objective()
    subs = space.subspaces()
    if not subs:
        raise ValueError(f"space {space.name} defines no sub-spaces")
    rng = _rng(seed)
    m = max(1, min(base_per_subspace, (budget // 2) // len(subs)))
    run = _Runner(space, evaluate, objective, budget)
    profile = []
    for name, sub in subs.items():
        scores, feasible = [], 0
        for _ in range(m):
            arch = sub.sample(rng)
            if prefilter is not None and objective.constraints and objective.violation(prefilter(arch)) > 0:
                continue
            if run.done:
                break
            member = run.query(arch, f"base:{name}")
            if member.violation == 0.0:
                feasible += 1
                scores.append(member.score)
        frac = feasible / m
        top = sorted(scores, reverse=True)[:max(1, math.ceil(top_fraction * len(scores)))]
        cost = (-float(np.mean(top)) + infeasible_penalty * (1.0 - frac)) if scores else math.inf
        profile.append({"subspace": name, "base_networks": m, "feasible": feasible,
                        "top_mean_score": float(np.mean(top)) if scores else math.nan, "cost": cost})
    profile.sort(key=lambda r: (r["cost"], r["subspace"]))
    kept = [r["subspace"] for r in profile[:keep] if math.isfinite(r["cost"])] or [profile[0]["subspace"]]
    for r in profile:
        r["kept"] = r["subspace"] in kept
    phase1 = run.frame("bbssp", seed, {})
    rest = budget - len(phase1)
    frames = [phase1]
    if rest > 0:
        frames.append(evolution_search(UnionSpace({k: subs[k] for k in kept}), evaluate, rest, seed=seed + 1,
                                       objective=objective, prefilter=prefilter, population_size=population_size,
                                       sample_size=sample_size, crossover_prob=crossover_prob))
    params = {"budget": budget, "base_per_subspace": m, "keep": keep, "top_fraction": top_fraction,
              "infeasible_penalty": infeasible_penalty,
              "population_size": population_size, "sample_size": sample_size, "crossover_prob": crossover_prob}
    df = merge_histories(frames, "profiling", seed, params, objective)
    df.attrs["profile"] = profile
    df.attrs["kept_subspaces"] = kept
    return df


def cdf_division(space, hardware: Evaluate, objective: Objective, samples_per_subspace: int = 100, seed: int = 0,
                 min_feasible_fraction: float = 0.1) -> pd.DataFrame:
    """CHaNAS latency-CDF division (module docstring): one row per sub-space with ``samples``,
    ``feasible_fraction``, ``mean_feasible_latency_s``, ``cdf_area`` (∫_0^T F / T over the satisfying
    latencies; lower is better), ``eligible`` and ``chosen``; best first."""
    bound = objective.constraints.get("latency_s")
    if not bound:
        raise ValueError("latency-CDF division needs a latency constraint (latency_s)")
    rng = _rng(seed)
    rows = []
    for name, sub in space.subspaces().items():
        lats, ok = [], []
        for _ in range(samples_per_subspace):
            m = hardware(sub.sample(rng))
            lats.append(float(m["latency_s"]))
            ok.append(objective.violation(m) == 0.0)
        lat = np.array(lats)
        good = lat[np.array(ok, dtype=bool)]
        frac = len(good) / len(lat)
        rows.append({"subspace": name, "samples": len(lat), "feasible_fraction": frac,
                     "mean_feasible_latency_s": float(good.mean()) if len(good) else math.nan,
                     "cdf_area": float(1.0 - good.mean() / bound) if len(good) else math.inf,
                     "eligible": frac >= min_feasible_fraction and len(good) > 0})
    df = pd.DataFrame(rows)
    df["_key"] = np.where(df["eligible"], df["cdf_area"], np.inf)
    df = df.sort_values(["_key", "feasible_fraction", "subspace"], ascending=[True, False, True], kind="stable")
    df = df.drop(columns="_key").reset_index(drop=True)
    df["chosen"] = False
    df.loc[0, "chosen"] = True
    df.attrs.update({"latency_bound_s": bound, "samples_per_subspace": samples_per_subspace, "seed": seed,
                     "min_feasible_fraction": min_feasible_fraction})
    return df


def cdf_search(space, evaluate: Evaluate, budget: int, seed: int = 0, objective: Objective | None = None,
               prefilter: Evaluate | None = None, samples_per_subspace: int = 100,
               min_feasible_fraction: float = 0.1, population_size: int = 50, sample_size: int = 10,
               crossover_prob: float = 0.2) -> pd.DataFrame:
    """CHaNAS: :func:`cdf_division` with the ``prefilter`` (hardware) metrics, then regularized evolution
    in the chosen sub-space with the whole budget.  ``df.attrs['division']``: the division table records."""
    objective = objective or Objective()
    if prefilter is None:
        raise ValueError("the cdf strategy needs hardware metrics (prefilter)")
    div = cdf_division(space, prefilter, objective, samples_per_subspace, seed, min_feasible_fraction)
    chosen = str(div.loc[0, "subspace"])
    sub = space.subspaces()[chosen]
    evo = evolution_search(sub, evaluate, budget, seed=seed + 1, objective=objective, prefilter=prefilter,
                           population_size=population_size, sample_size=sample_size, crossover_prob=crossover_prob)
    params = {"budget": budget, "samples_per_subspace": samples_per_subspace,
              "min_feasible_fraction": min_feasible_fraction, "population_size": population_size,
              "sample_size": sample_size, "crossover_prob": crossover_prob}
    df = merge_histories([evo], "cdf", seed, params, objective)
    df.attrs["division"] = div.to_dict("records")
    df.attrs["chosen_subspace"] = chosen
    df.attrs["hardware_samples"] = int(div["samples"].sum())
    return df


STRATEGIES: dict[str, Callable[..., pd.DataFrame]] = {
    "evolution": evolution_search, "random": random_search, "exhaustive": exhaustive_search,
    "profiling": bbssp_search, "cdf": cdf_search,
}


def run_search(space, problem: NASProblem, strategy: str, budget: int, seed: int = 0,
               objective: Objective | None = None, prefilter: bool = True,
               params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Run ``strategy`` (``evolution``, ``random``, ``exhaustive``, ``profiling``, ``cdf``) on ``space``.

    ``prefilter``: skip accuracy queries of archs whose hardware metrics break a constraint.
    ``params``: strategy-specific keyword arguments (e.g. ``population_size``, ``base_per_subspace``).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r} (known: {', '.join(STRATEGIES)})")
    if strategy == "exhaustive" and not getattr(space, "finite", False):
        raise ValueError(f"space {space.name} has {space.size:.3g} archs: exhaustive search needs a finite space")
    if budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget}")
    pre = problem.hardware if (prefilter and problem.hardware_fn is not None) else None
    return STRATEGIES[strategy](space, problem, budget, seed=seed, objective=objective or Objective(),
                                prefilter=pre, **dict(params or {}))


# ---------------------------------------------------------------------------------------------
# Accuracy signals
# ---------------------------------------------------------------------------------------------
def make_accuracy(space, signal: str, seed: int = 0, predictor_samples: int = 200, proxy_batch: int = 64
                  ) -> tuple[Callable[[Any], float], dict]:
    """An accuracy signal for ``space``: ``table`` (the NAS-Bench-201 table), ``proxy:NAME`` (a zero-cost
    proxy, :mod:`nas.proxies`), or ``predictor`` (an MLP trained on ``predictor_samples`` random archs'
    table accuracies, :mod:`nas.predictor`).  Returns (arch → value, info dict for the report)."""
    kind, _, arg = signal.partition(":")
    has_table = callable(getattr(space, "accuracy", None))
    if kind == "table":
        if not has_table:
            raise ValueError(f"space {space.name} has no accuracy table; use --accuracy proxy:NAME")
        return space.accuracy, {"signal": "table", "dataset": getattr(space, "dataset", None)}
    if kind == "proxy":
        from nas.proxies import PROXIES, ProxyScorer

        if arg not in PROXIES:
            raise ValueError(f"unknown proxy {arg!r} (known: {', '.join(PROXIES)})")
        return ProxyScorer(space, arg, batch_size=proxy_batch, seed=seed), {"signal": signal}
    if kind == "predictor":
        if not has_table:
            raise ValueError(f"space {space.name} has no accuracy table to train a predictor on")
        from nas.predictor import fit_space_predictor

        pred, info = fit_space_predictor(space, space.accuracy, n_train=predictor_samples, seed=seed)
        return pred, {"signal": "predictor", **info}
    raise ValueError(f"unknown accuracy signal {signal!r} (table, proxy:NAME, predictor)")


# ---------------------------------------------------------------------------------------------
# Multi-objective view
# ---------------------------------------------------------------------------------------------
def _unique_feasible(df: pd.DataFrame) -> pd.DataFrame:
    if not len(df):
        return df
    feas = df[df["feasible"]] if "feasible" in df else df
    return feas.drop_duplicates("arch")


def pareto_front(df: pd.DataFrame, accuracy: str = "accuracy", cost: str = "latency_s") -> pd.DataFrame:
    """Feasible, distinct archs not dominated in (max ``accuracy``, min ``cost``)
    (:func:`accel.pareto.pareto_mask`), by increasing cost."""
    from accel.pareto import pareto_mask

    u = _unique_feasible(df).sort_values([cost, accuracy], ascending=[True, False], kind="stable")
    return u[pareto_mask(u[cost].to_numpy(float), u[accuracy].to_numpy(float), maximize_y=True)]


def best_archs(df: pd.DataFrame, top: int = 5) -> pd.DataFrame:
    """The ``top`` distinct feasible archs by objective score, best first."""
    return _unique_feasible(df).sort_values("score", ascending=False, kind="stable").head(top)
