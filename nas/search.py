"""Search strategies over any space object with ``sample(rng)``, ``mutate(arch, rng)``,
``crossover(a, b, rng)`` and ``encode(arch) -> str`` (e.g. :class:`nas.nb201.NB201Space`).

A search queries ``evaluate(arch) -> {metric: value}`` (an accuracy oracle, possibly joined with
hardware costs) and ranks candidates with an :class:`Objective`:

* score = ``metrics[accuracy] − Σ_m weights[m] · ln(metrics[m] / refs[m])`` (higher is better): with
  accuracy in percent, ``weights["latency_s"] = 1`` trades one accuracy point per e-fold of latency,
  a log-linear form of MnasNet's soft constraint ``acc · (lat/T)^w``;
* hard constraints ``metrics[m] ≤ bound``.  Feasible candidates always rank above infeasible ones;
  infeasible ones rank by total relative violation ``Σ max(0, m/bound − 1)`` (Deb's rule), so the
  search is pulled toward the feasible region.

Both strategies are deterministic for a seed (all randomness comes from one
``numpy.random.Generator(PCG64(seed))`` handed to the space) and return the query history as a tidy
DataFrame: one row per query, in query order, with the metrics, ``score``, ``feasible``, ``violation``
and the running ``best_score`` / ``best_arch`` (best feasible so far).  Every evaluation counts against
``budget``, repeats included (the oracle is cached, the count is not), as in the NAS-Bench-201 protocol.
"""

from __future__ import annotations

import collections
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Hashable, Mapping, Protocol

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Objective", "Space", "random_search", "regularized_evolution", "NB201Problem", "run_nb201_search",
           "STRATEGIES"]


class Space(Protocol):
    def sample(self, rng: np.random.Generator) -> Hashable: ...
    def mutate(self, arch: Any, rng: np.random.Generator) -> Hashable: ...
    def crossover(self, a: Any, b: Any, rng: np.random.Generator) -> Hashable: ...
    def encode(self, arch: Any) -> str: ...


Evaluate = Callable[[Any], Mapping[str, float]]


@dataclass(frozen=True)
class Objective:
    """Accuracy traded against hardware cost, with hard upper bounds (see module docstring)."""

    accuracy: str = "accuracy"
    weights: Mapping[str, float] = field(default_factory=dict)
    refs: Mapping[str, float] = field(default_factory=dict)
    constraints: Mapping[str, float] = field(default_factory=dict)  # metric → max allowed value

    def score(self, m: Mapping[str, float]) -> float:
        s = float(m[self.accuracy])
        for k, w in self.weights.items():
            if w:
                s -= w * math.log(float(m[k]) / float(self.refs.get(k, 1.0)))
        return s

    def violation(self, m: Mapping[str, float]) -> float:
        return float(sum(max(0.0, float(m[k]) / float(b) - 1.0) for k, b in self.constraints.items()))

    def describe(self) -> dict:
        return {"accuracy": self.accuracy, "weights": dict(self.weights), "refs": dict(self.refs),
                "constraints": dict(self.constraints)}


@dataclass
class _Member:
    arch: Any
    score: float
    violation: float

    @property
    def key(self) -> tuple[int, float]:
        return (1, self.score) if self.violation == 0.0 else (0, -self.violation)


class _Runner:
    """Budgeted, cached evaluation and history bookkeeping shared by the strategies."""

    def __init__(self, space: Space, evaluate: Evaluate, objective: Objective, budget: int,
                 prefilter: Evaluate | None = None, max_rejects: int = 1000):
        if budget < 1:
            raise ValueError(f"budget must be >= 1, got {budget}")
        self.space, self.evaluate, self.objective, self.budget = space, evaluate, objective, budget
        self.prefilter, self.max_rejects = prefilter, max_rejects
        self.rejected = 0
        self.cache: dict[Any, dict] = {}
        self.rows: list[dict] = []
        self.best: _Member | None = None

    @property
    def done(self) -> bool:
        return len(self.rows) >= self.budget

    def propose(self, make: Callable[[], Any]) -> Any:
        """``make()`` until the prefilter's metrics satisfy the constraints (at most ``max_rejects``
        redraws; then the last candidate is queried anyway and recorded as infeasible)."""
        arch = make()
        if self.prefilter is None or not self.objective.constraints:
            return arch
        for _ in range(self.max_rejects):
            if self.objective.violation(self.prefilter(arch)) == 0.0:
                break
            self.rejected += 1
            arch = make()
        return arch

    def query(self, arch: Any, origin: str) -> _Member:
        m = self.cache.get(arch)
        if m is None:
            m = dict(self.evaluate(arch))
            self.cache[arch] = m
        member = _Member(arch, self.objective.score(m), self.objective.violation(m))
        if member.violation == 0.0 and (self.best is None or member.score > self.best.score):
            self.best = member
        row = {"query": len(self.rows), "origin": origin, "arch": self.space.encode(arch), **m,
               "score": member.score, "feasible": member.violation == 0.0, "violation": member.violation,
               "best_score": self.best.score if self.best else np.nan,
               "best_arch": self.space.encode(self.best.arch) if self.best else None}
        self.rows.append(row)
        return member

    def frame(self, strategy: str, seed: int, params: dict) -> pd.DataFrame:
        import pandas as pd  # not at import: `import nas` stays free of pandas (accelsim eval)

        df = pd.DataFrame(self.rows)
        df.attrs.update({
            "strategy": strategy, "seed": seed, "budget": self.budget, "params": params,
            "objective": self.objective.describe(), "space": getattr(self.space, "name", type(self.space).__name__),
            "best_arch": self.space.encode(self.best.arch) if self.best else None,
            "best_score": self.best.score if self.best else None,
            "unique_archs": len(self.cache), "rejected_by_prefilter": self.rejected,
        })
        return df


def _rng(seed: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


def random_search(space: Space, evaluate: Evaluate, budget: int, seed: int = 0,
                  objective: Objective | None = None, prefilter: Evaluate | None = None) -> pd.DataFrame:
    """Uniform random sampling (with replacement) for ``budget`` queries (with a ``prefilter``:
    rejection sampling of the feasible region)."""
    rng = _rng(seed)
    run = _Runner(space, evaluate, objective or Objective(), budget, prefilter)
    while not run.done:
        run.query(run.propose(lambda: space.sample(rng)), "random")
    return run.frame("random", seed, {})


def regularized_evolution(space: Space, evaluate: Evaluate, budget: int, seed: int = 0,
                          objective: Objective | None = None, population_size: int = 50, sample_size: int = 10,
                          crossover_prob: float = 0.2, prefilter: Evaluate | None = None) -> pd.DataFrame:
    """Regularized (aging) evolution, Real et al. AAAI 2019, with optional crossover.

    The population starts with ``population_size`` random archs.  Each cycle draws ``sample_size``
    members uniformly without replacement and takes the best (tournament); with probability
    ``crossover_prob`` a second tournament picks another parent and the child is
    ``mutate(crossover(p1, p2))``, else ``mutate(p1)``.  The child joins the population and the
    *oldest* member dies.  Ranking follows the objective (feasible first, then score).
    """
    if population_size < 1 or not 1 <= sample_size <= population_size:
        raise ValueError("need population_size >= 1 and 1 <= sample_size <= population_size")
    if not 0.0 <= crossover_prob <= 1.0:
        raise ValueError("crossover_prob must be in [0, 1]")
    rng = _rng(seed)
    run = _Runner(space, evaluate, objective or Objective(), budget, prefilter)
    pop: collections.deque[_Member] = collections.deque()
    while len(pop) < population_size and not run.done:
        pop.append(run.query(run.propose(lambda: space.sample(rng)), "init"))

    def tournament() -> _Member:
        picks = rng.choice(len(pop), size=sample_size, replace=False)
        return max((pop[int(i)] for i in picks), key=lambda m: m.key)  # ties: first drawn

    while not run.done:
        p1 = tournament()
        if crossover_prob > 0 and rng.random() < crossover_prob:
            p2 = tournament()
            child = run.propose(lambda: space.mutate(space.crossover(p1.arch, p2.arch, rng), rng))
            origin = "crossover"
        else:
            child, origin = run.propose(lambda: space.mutate(p1.arch, rng)), "mutation"
        pop.append(run.query(child, origin))
        pop.popleft()
    params = {"population_size": population_size, "sample_size": sample_size, "crossover_prob": crossover_prob}
    return run.frame("evolution", seed, params)


STRATEGIES: dict[str, Callable[..., pd.DataFrame]] = {"random": random_search, "evolution": regularized_evolution}


# ---------------------------------------------------------------------------------------------
# NAS-Bench-201: oracle accuracy + accelerator cost
# ---------------------------------------------------------------------------------------------
class NB201Problem:
    """``evaluate`` for NB201 archs: table accuracy (%) joined with an :func:`nas.hwcost.nb201_hwcost`
    table (latency_cycles, latency_s, energy_pj, edp, macs), looked up by official index."""

    HW_COLUMNS = ("latency_cycles", "latency_s", "energy_pj", "edp", "macs")

    def __init__(self, dataset: str = "cifar10", hw: pd.DataFrame | None = None):
        from nas import nb201

        self.dataset = nb201.canonical_dataset(dataset)
        self._acc = nb201.accuracies(self.dataset)
        self.hw = hw
        self._hw: dict[str, np.ndarray] = {}
        if hw is not None:
            idx = hw["index"].to_numpy(dtype=np.int64)
            for c in self.HW_COLUMNS:
                arr = np.full(nb201.N_ARCHS, np.nan)
                arr[idx] = hw[c].to_numpy(dtype=float)
                self._hw[c] = arr

    def __call__(self, arch) -> dict[str, float]:
        from nas import nb201

        i = nb201.arch_to_index(arch)
        return {"index": i, "accuracy": float(self._acc[i]), **self._hw_of(i)}

    def hardware(self, arch) -> dict[str, float]:
        """Hardware metrics only: cheap (a table lookup), usable as a search ``prefilter``."""
        from nas import nb201

        return self._hw_of(nb201.arch_to_index(arch))

    def _hw_of(self, i: int) -> dict[str, float]:
        out = {}
        for c, arr in self._hw.items():
            v = arr[i]
            if np.isnan(v):
                from nas import nb201

                raise KeyError(f"arch {nb201.arch_str(i)} (index {i}) is not in the hardware cost table")
            out[c] = float(v)
        return out


def run_nb201_search(hw: Any = None, strategy: str = "evolution", budget: int = 500, seed: int = 0,
                     dataset: str = "cifar10", max_latency_s: float | None = None,
                     max_energy_pj: float | None = None, latency_weight: float = 0.0, energy_weight: float = 0.0,
                     population_size: int = 50, sample_size: int = 10, crossover_prob: float = 0.2,
                     batch: int = 1, mapping_objective: str = "edp", hw_table: pd.DataFrame | None = None,
                     prefilter: bool = True) -> pd.DataFrame:
    """Hardware-aware search on NAS-Bench-201: one call for the CLI.

    ``hw``: accelerator (Arch or config path); when given (or ``hw_table``, a precomputed
    :func:`nas.hwcost.nb201_hwcost` frame), all 15,625 archs are costed once up front and latency /
    energy join the metrics; weights are relative to the space's median latency / energy.
    ``prefilter``: reject candidates whose (cheap, tabulated) hardware cost breaks a constraint before
    querying the accuracy oracle, so the budget counts accuracy queries of feasible archs only.
    Returns the history DataFrame (``df.attrs``: strategy, seed, objective, best_arch, best_score,
    dataset, hw).
    """
    from nas.nb201 import NB201Space

    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {sorted(STRATEGIES)}, got {strategy!r}")
    table = hw_table
    if table is None and hw is not None:
        from nas.hwcost import nb201_hwcost

        table = nb201_hwcost(hw, dataset=dataset, batch=batch, objective=mapping_objective)
    if table is None and (max_latency_s or max_energy_pj or latency_weight or energy_weight):
        raise ValueError("latency/energy constraints or weights need an accelerator (hw) or hw_table")
    constraints = {}
    if max_latency_s is not None:
        constraints["latency_s"] = max_latency_s
    if max_energy_pj is not None:
        constraints["energy_pj"] = max_energy_pj
    weights = {k: w for k, w in (("latency_s", latency_weight), ("energy_pj", energy_weight)) if w}
    refs = {k: float(table[k].median()) for k in weights} if table is not None else {}
    objective = Objective(weights=weights, refs=refs, constraints=constraints)
    problem = NB201Problem(dataset, table)
    kw: dict[str, Any] = {"prefilter": problem.hardware if (prefilter and table is not None) else None}
    if strategy == "evolution":
        kw.update(population_size=population_size, sample_size=sample_size, crossover_prob=crossover_prob)
    df = STRATEGIES[strategy](NB201Space(), problem, budget, seed=seed, objective=objective, **kw)
    df.attrs["dataset"] = problem.dataset
    if table is not None:
        df.attrs["hw"] = table.attrs.get("hw")
        df.attrs["hw_digest"] = table.attrs.get("hw_digest")
    return df
