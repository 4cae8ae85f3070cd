"""Semi-decoupled network/accelerator co-design on NAS-Bench-201 (Lu, Yan, Shi, Ren, arXiv 2203.13921, 2022).

Problem: choose an architecture ``a`` (NB201, real CIFAR accuracies from :mod:`nas.nb201`) and an
accelerator ``h`` (the design points of a sweep spec, :mod:`accel.app.sweep`) that optimise an objective —
minimise EDP (pJ·s), latency (s) or energy (pJ) of ``a`` on ``h``, or maximise accuracy — subject to a
constraint (accuracy ≥ A %, latency ≤ X ms on ``h``).

* **Semi-decoupled** (the paper's approach).  Stage 1: NAS on the *reference* accelerator only
  (:func:`nas.search.regularized_evolution` over :class:`nas.nb201.NB201Space`, costs from
  :func:`nas.hwcost.nb201_hwcost` on the reference, constraint applied on the reference); keep the best
  ``keep`` distinct feasible archs it queried (``keep_mode="topk"``), or the Pareto front (accuracy vs the
  reference's cost) found by random search, thinned evenly to at most ``keep`` archs (``"pareto"``).
  Stage 2: evaluate every swept accelerator on the kept archs only and return the best pair.  The paper's
  premise: architecture rankings by latency / energy are nearly the same on every accelerator, so the
  optimum's architecture is already among the reference's best.
* **Joint baseline**: every arch (all 15,625) × every accelerator, feasible only because the model maps the
  ~21 unique NB201 layer shapes once per accelerator and sums (:func:`nas.hwcost.nb201_hwcost`).

Per constraint the driver reports both optima, the semi-decoupled result's optimality gap
(``100·(semi − joint)/joint`` for costs, ``100·(joint − semi)/joint`` for accuracy; 0 = optimum found) and
the evaluation counts: joint = 15,625 × accelerators; semi = stage-1 queries (distinct archs the NAS
evaluated on the reference; the reference's cost table is computed for all archs once only so that the
search can look costs up) + |kept archs (union over constraints)| × accelerators.  The study
(:attr:`CodesignResult.study`) repeats the selection for several ``keep`` values and for groups of
accelerators binned by their distance from the reference (mean |log2| ratio of the swept numeric
parameters, plus 1 per differing categorical one), with the Spearman ρ between each accelerator's and the
reference's cost over all archs.  The sweep's area budget (``max_area_mm2``, :func:`accel.arch.area_mm2`: from the
configs or the component model) drops accelerators in both stages; its power budget (``max_power_mw``, average
power) makes (arch, accelerator) pairs above it infeasible in stage 2 and in the joint baseline, and ranks stage 1
with the latency bound, each bound scored on its own, feasibility first (:func:`hw_violations`).

The arrays path (:func:`semi_decoupled`) runs the same selection on given cost tables with an exhaustive
stage 1; it is the small synthetic case the tests check against brute force.
"""

from __future__ import annotations

import math
from concurrent.futures import Executor, Future, wait, FIRST_COMPLETED
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

__all__ = ["OBJECTIVES", "Constraint", "Choice", "best_choice", "gap_pct", "hw_violations", "select_topk", "select_pareto",
           "semi_decoupled", "CodesignResult", "run_codesign", "default_constraints", "param_distance"]

# objective name → (metric column, maximise?)
OBJECTIVES: dict[str, tuple[str, bool]] = {"edp": ("edp", False), "latency": ("latency_s", False),
                                           "energy": ("energy_pj", False), "accuracy": ("accuracy", True)}
_UNITS = {"edp": "pJ·s", "latency": "s", "energy": "pJ", "accuracy": "%"}


@dataclass(frozen=True)
class Constraint:
    """accuracy ≥ ``min_accuracy`` (%) and latency ≤ ``max_latency_s`` on the accelerator (None: no bound)."""

    min_accuracy: float | None = None
    max_latency_s: float | None = None

    def to_json(self) -> dict:
        return {"min_accuracy_pct": self.min_accuracy,
                "max_latency_ms": None if self.max_latency_s is None else self.max_latency_s * 1e3}

    def __str__(self) -> str:
        parts = []
        if self.min_accuracy is not None:
            parts.append(f"acc>={self.min_accuracy:.2f}%")
        if self.max_latency_s is not None:
            parts.append(f"lat<={self.max_latency_s * 1e3:g}ms")
        return ", ".join(parts) or "unconstrained"

    def feasible(self, accuracy: np.ndarray, latency_s: np.ndarray) -> np.ndarray:
        ok = np.ones(np.broadcast_shapes(np.shape(accuracy), np.shape(latency_s)), dtype=bool)
        if self.min_accuracy is not None:
            ok &= np.asarray(accuracy) >= self.min_accuracy
        if self.max_latency_s is not None:
            ok &= np.asarray(latency_s) <= self.max_latency_s
        return ok


@dataclass(frozen=True)
class Choice:
    """A chosen pair: ``arch`` (official NB201 index, or column in the arrays path), ``hw`` (row), value."""

    arch: int
    hw: int
    objective: float
    latency_s: float
    accuracy: float


def best_choice(values: np.ndarray, latency_s: np.ndarray, accuracy: np.ndarray, constraint: Constraint,
                maximize: bool, archs: np.ndarray | None = None, hws: np.ndarray | None = None) -> Choice | None:
    """Best feasible (hw, arch) of the tables ``values``/``latency_s`` (n_hw, n_arch) with per-arch
    ``accuracy`` (n_arch,).  ``archs`` / ``hws`` label the columns / rows (default: positions).  Ties on
    the objective go to the lower latency, then the higher accuracy, then the lower hw label, then the
    lower arch label (so that equal-cost NB201 archs resolve the same way on every subset).  None when
    nothing is feasible."""
    v = np.asarray(values, dtype=float)
    lat = np.asarray(latency_s, dtype=float)
    acc = np.asarray(accuracy, dtype=float)
    ok = constraint.feasible(acc[None, :], lat) & np.isfinite(v)
    if not ok.any():
        return None
    r, c = np.nonzero(ok)
    al = np.asarray(archs, dtype=np.int64)[c] if archs is not None else c
    hl = np.asarray(hws, dtype=np.int64)[r] if hws is not None else r
    key = -v[r, c] if maximize else v[r, c]
    i = np.lexsort((al, hl, -acc[c], lat[r, c], key))[0]
    return Choice(int(al[i]), int(hl[i]), float(v[r[i], c[i]]), float(lat[r[i], c[i]]), float(acc[c[i]]))


def _better(a: Choice | None, b: Choice | None, maximize: bool) -> Choice | None:
    """The better of two choices (same tie rules as :func:`best_choice`)."""
    if a is None or b is None:
        return a or b
    ka = (-a.objective if maximize else a.objective, a.latency_s, -a.accuracy, a.hw, a.arch)
    kb = (-b.objective if maximize else b.objective, b.latency_s, -b.accuracy, b.hw, b.arch)
    return a if ka <= kb else b


def gap_pct(semi: Choice | None, joint: Choice | None, maximize: bool) -> float | None:
    """Optimality gap of the semi-decoupled choice in % of the joint optimum (0: optimum found); None when
    either found nothing feasible."""
    if semi is None or joint is None:
        return None
    if joint.objective == 0:
        return 0.0 if semi.objective == 0 else math.inf
    d = (joint.objective - semi.objective) if maximize else (semi.objective - joint.objective)
    return 100.0 * d / abs(joint.objective)


def _first_of_group(ranked: np.ndarray, groups: np.ndarray | None) -> np.ndarray:
    """``ranked`` with only the first (best) member of each group left, order kept."""
    if groups is None or not len(ranked):
        return ranked
    _, first = np.unique(np.asarray(groups)[ranked], return_index=True)
    return ranked[np.sort(first)]


def hw_violations(latency_s: np.ndarray, constraint: Constraint, power_mw: np.ndarray | None = None,
                  max_power_mw: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The hardware-dependent bounds scored each on its own (issue 15): per candidate, the number of bounds it
    breaks (latency ≤ ``max_latency_s``, average power ≤ ``max_power_mw``) and its largest relative violation
    ``max_k(m_k / bound_k − 1)``.  Ranking by (count, largest) puts every candidate that meets all bounds first and
    never lets a small excess on one bound buy a large excess on another (a sum of violations would)."""
    lat = np.asarray(latency_s, float)
    viols = []
    if constraint.max_latency_s is not None:
        viols.append(np.maximum(0.0, lat / constraint.max_latency_s - 1.0))
    if max_power_mw is not None and power_mw is not None:
        viols.append(np.maximum(0.0, np.asarray(power_mw, float) / max_power_mw - 1.0))
    if not viols:
        return np.zeros(len(lat), dtype=np.int64), np.zeros(len(lat))
    v = np.vstack(viols)
    return (v > 0).sum(axis=0).astype(np.int64), v.max(axis=0)


def select_topk(ref_values: np.ndarray, ref_latency_s: np.ndarray, accuracy: np.ndarray, constraint: Constraint,
                maximize: bool, keep: int, candidates: np.ndarray | None = None,
                groups: np.ndarray | None = None, ref_power_mw: np.ndarray | None = None,
                max_power_mw: float | None = None) -> np.ndarray:
    """Stage-1 selection: the ``keep`` best candidates on the reference, best first.

    The accuracy bound is hard (it does not depend on the accelerator).  The latency bound is a property
    of the accelerator, so on the reference it ranks rather than filters: candidates within it come first
    (by objective; ties: lower latency, higher accuracy, lower index), then the others by how far they
    exceed it (they may fit on a faster accelerator); with a power budget (``max_power_mw``, ``ref_power_mw`` the
    average power on the reference) both bounds rank this way, each scored on its own (:func:`hw_violations`:
    fewest broken bounds first, then the smallest largest excess).  ``candidates``: the indices the NAS queried (all
    when None).  ``groups`` (e.g. NB201 cell signatures: the same layers, so the same cost on *every*
    accelerator): only the best member of each group is kept, since a second one cannot win on any
    accelerator where the first does not."""
    cand = np.arange(len(ref_values)) if candidates is None else np.unique(np.asarray(candidates, dtype=np.int64))
    v = np.asarray(ref_values, float)[cand]
    lat = np.asarray(ref_latency_s, float)[cand]
    acc = np.asarray(accuracy, float)[cand]
    pw = None if ref_power_mw is None else np.asarray(ref_power_mw, float)[cand]
    ok = Constraint(min_accuracy=constraint.min_accuracy).feasible(acc, lat) & np.isfinite(v)
    cand, v, lat, acc = cand[ok], v[ok], lat[ok], acc[ok]
    pw = None if pw is None else pw[ok]
    n_viol, worst = hw_violations(lat, constraint, pw, max_power_mw)
    primary = np.where(n_viol == 0, -v if maximize else v, np.inf)
    ranked = cand[np.lexsort((cand, -acc, lat, primary, worst, n_viol))]
    return _first_of_group(ranked, groups)[:keep]


def select_pareto(ref_cost: np.ndarray, accuracy: np.ndarray, constraint: Constraint, keep: int,
                  candidates: np.ndarray | None = None, groups: np.ndarray | None = None) -> np.ndarray:
    """Stage-1 selection, Pareto variant: candidates on the front of (accuracy ↑, reference cost ↓) that
    meet the constraint's accuracy bound (hardware bounds are left to stage 2: the front spans every
    latency level), one per group (see :func:`select_topk`), thinned to at most ``keep`` archs evenly along
    the front; ordered by cost."""
    from accel.pareto import pareto_mask

    cand = np.arange(len(ref_cost)) if candidates is None else np.unique(np.asarray(candidates, dtype=np.int64))
    acc = np.asarray(accuracy, float)[cand]
    if constraint.min_accuracy is not None:
        keep_acc = acc >= constraint.min_accuracy
        cand, acc = cand[keep_acc], acc[keep_acc]
    cost = np.asarray(ref_cost, float)[cand]
    front = pareto_mask(cost, acc, maximize_y=True)
    cand, cost = cand[front], cost[front]
    order = np.lexsort((cand, cost))
    cand = _first_of_group(cand[order], groups)
    if len(cand) > keep:
        cand = cand[np.unique(np.round(np.linspace(0, len(cand) - 1, keep)).astype(np.int64))]
    return cand


def default_constraints(accuracy: np.ndarray) -> list[Constraint]:
    """Accuracy ≥ the 50th, 90th and 99th percentile of the space (computed from the table)."""
    return [Constraint(min_accuracy=float(np.round(np.percentile(accuracy, q), 2))) for q in (50, 90, 99)]


def param_distance(params: dict[str, Any], ref: dict[str, Any]) -> float:
    """Distance of a design point from the reference: Σ over swept parameters present in both of
    |log2(value / reference value)| for positive numbers, 1 for a differing non-numeric value, divided by the
    number of parameters compared (0 when none)."""
    tot, n = 0.0, 0
    for k, v in params.items():
        if k not in ref:
            continue
        r = ref[k]
        n += 1
        if isinstance(v, (int, float)) and isinstance(r, (int, float)) and not isinstance(v, bool) and v > 0 and r > 0:
            tot += abs(math.log2(v / r))
        else:
            tot += float(v != r)
    return tot / n if n else 0.0


# ---------------------------------------------------------------------------------------------
# Arrays path (exhaustive stage 1): the synthetic / brute-force reference
# ---------------------------------------------------------------------------------------------
def semi_decoupled(ref_values: np.ndarray, ref_latency_s: np.ndarray, values: np.ndarray, latency_s: np.ndarray,
                   accuracy: np.ndarray, constraints: Sequence[Constraint], keep: int, maximize: bool = False,
                   keep_mode: str = "topk", ref_cost: np.ndarray | None = None,
                   groups: np.ndarray | None = None) -> list[dict]:
    """Semi-decoupled vs joint on given tables: ``ref_*`` (n_arch,) on the reference, ``values`` /
    ``latency_s`` (n_hw, n_arch) on the swept accelerators, ``accuracy`` (n_arch,) in %.  Stage 1 ranks
    every arch on the reference.  ``ref_cost`` (Pareto mode): the reference cost to trade against
    accuracy (default: ``ref_values``); ``groups``: see :func:`select_topk`.  Returns per constraint ``{"constraint", "kept", "semi", "joint",
    "gap_pct"}`` with :class:`Choice` objects."""
    out = []
    for c in constraints:
        if keep_mode == "topk":
            kept = select_topk(ref_values, ref_latency_s, accuracy, c, maximize, keep, groups=groups)
        else:
            kept = select_pareto(ref_values if ref_cost is None else ref_cost, accuracy, c, keep, groups=groups)
        semi = (best_choice(np.asarray(values)[:, kept], np.asarray(latency_s)[:, kept], np.asarray(accuracy)[kept], c,
                            maximize, archs=kept) if len(kept) else None)
        joint = best_choice(values, latency_s, accuracy, c, maximize)
        out.append({"constraint": c, "kept": kept, "semi": semi, "joint": joint,
                    "gap_pct": gap_pct(semi, joint, maximize)})
    return out


# ---------------------------------------------------------------------------------------------
# NB201 driver
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _HwTask:
    points: tuple  # DesignPoint
    constraints: tuple[Constraint, ...]
    kept: tuple[np.ndarray, ...]  # per constraint, ordered, up to the largest keep studied
    objective: str
    mapping_objective: str
    dataset: str
    batch: int
    seed: int
    ref_cost: np.ndarray  # (15625,) reference cost (for Spearman ρ)
    cost_metric: str
    max_power_mw: float | None  # the sweep's power budget: pairs above it are infeasible
    effort: str  # mapper search budget (the sweep spec's search_effort)
    prune_dead: bool = False  # cost NB201 cells with dead edges removed (nas.nb201 module docstring)


def _hw_batch(task: _HwTask) -> list[dict]:
    """Executor task: for each design point, cost all 15,625 archs (nb201_hwcost), the joint optimum per
    constraint on this accelerator, the kept archs' values, and ρ against the reference."""
    from scipy.stats import spearmanr

    from accel.arch import parse_arch
    from mapper.network import NetworkEvaluator
    from mapper.mapspace import NoValidMapping
    from nas import nb201
    from nas.hwcost import cost_structure, nb201_hwcost

    acc = nb201.accuracies(task.dataset)
    metric, maximize = OBJECTIVES[task.objective]
    out = []
    evs = [NetworkEvaluator(parse_arch(p.config, f"point {p.point}"), objective=task.mapping_objective, seed=task.seed,
                            parallel=False, effort=task.effort) for p in task.points]
    # points that differ only in their clock, static power and bandwidths share each layer's search (same results)
    NetworkEvaluator.map_group(evs, cost_structure(task.dataset, task.batch, task.prune_dead).layers)
    for p, ev in zip(task.points, evs):
        try:
            df = nb201_hwcost(evaluator=ev, dataset=task.dataset, batch=task.batch, workers=1, prune=task.prune_dead)
        except NoValidMapping as e:
            out.append({"point": p.point, "error": f"no valid mapping: {e}"})
            continue
        lat = df["latency_s"].to_numpy()
        vals = np.asarray(acc, dtype=float) if metric == "accuracy" else df[metric].to_numpy()
        if task.max_power_mw is not None:  # average power, pJ/s = 1e-9 mW
            power = np.divide(df["energy_pj"].to_numpy() * 1e-9, lat, out=np.zeros(len(lat)), where=lat > 0)
            vals = np.where(power <= task.max_power_mw, vals, np.nan)
        cost = df[task.cost_metric].to_numpy()
        rho = float(spearmanr(task.ref_cost, cost).statistic)
        joint, kv, kl = [], [], []
        for c, kept in zip(task.constraints, task.kept):
            ch = best_choice(vals[None, :], lat[None, :], acc, c, maximize, hws=np.array([p.point]))
            joint.append(ch)
            kv.append(vals[kept])
            kl.append(lat[kept])
        out.append({"point": p.point, "joint": joint, "kept_values": kv, "kept_latency_s": kl, "rho": rho,
                    "error": ""})
    return out


@dataclass
class CodesignResult:
    objective: str
    constraints: list[Constraint]
    keep: int
    keep_mode: str
    sweep_name: str
    labels: dict[int, str]  # point → label
    results: list[dict]  # per constraint: constraint, kept, semi, joint, gap_pct, stage1_queries
    evaluations: dict[str, int]
    study: dict = field(default_factory=dict)
    hw: pd.DataFrame = field(default_factory=pd.DataFrame)  # per accelerator: point, distance, rho, error
    meta: dict = field(default_factory=dict)
    reference: pd.DataFrame = field(default_factory=pd.DataFrame)  # nb201_hwcost of the reference + accuracy

    def _pair(self, ch: Choice | None) -> dict | None:
        from nas import nb201

        if ch is None:
            return None
        return {"arch": nb201.arch_str(ch.arch), "hw": self.labels[ch.hw], "objective": ch.objective}

    def to_json(self, study: bool = False) -> dict:
        """``{"results": [{"constraint", "semi": {"arch", "hw", "objective"}, "joint": {...}, "gap_pct"}],
        "evaluations": {"semi", "joint"}, "prune_dead"}`` (+ ``"study"`` when asked)."""
        out: dict[str, Any] = {
            "results": [{"constraint": r["constraint"].to_json(), "semi": self._pair(r["semi"]),
                         "joint": self._pair(r["joint"]), "gap_pct": r["gap_pct"]} for r in self.results],
            "evaluations": dict(self.evaluations),
            "prune_dead": bool(self.meta.get("prune_dead", False)),
        }
        if study:
            out["study"] = self.study
        return out

    def table(self) -> str:
        from nas import nb201

        unit = _UNITS[self.objective]
        lines = [f"co-design on {self.sweep_name}: objective {self.objective} ({unit}), keep {self.keep} "
                 f"({self.keep_mode}), {self.meta.get('n_hw', 0)} accelerators "
                 f"({self.meta.get('n_hw_failed', 0)} without a valid mapping, {self.meta.get('n_hw_dropped', 0)} dropped by the spec)"]
        for r in self.results:
            lines.append("")
            lines.append(f"constraint {r['constraint']}: stage 1 queried {r['stage1_queries']} archs on the reference, "
                         f"kept {len(r['kept'])}")
            for name in ("semi", "joint"):
                ch = r[name]
                if ch is None:
                    lines.append(f"  {name:>5}: no feasible pair")
                    continue
                lines.append(f"  {name:>5}: {ch.objective:.6g} {unit}  arch {nb201.arch_str(ch.arch)} "
                             f"(acc {nb201.accuracies(self.meta['dataset'])[ch.arch]:.2f}%, latency {ch.latency_s * 1e3:.4g} ms)")
                lines.append(f"         hw {self.labels[ch.hw]}")
            g, g1 = r["gap_pct"], r["stage1_gap_pct"]
            lines.append(f"  gap: {'n/a' if g is None else f'{g:.4g} %'}   (stage 1 on the reference: best kept arch "
                         f"{'n/a' if g1 is None else f'{g1:.4g} %'} from the reference's own optimum)")
        e = self.evaluations
        lines.append("")
        lines.append(f"evaluations: semi-decoupled {e['semi']:,}, joint {e['joint']:,} "
                     f"({100 * (1 - e['semi'] / e['joint']):.2f} % saved)" if e["joint"] else "evaluations: none")
        if self.study:
            lines.append("")
            lines.append("gap (%) vs keep, per constraint:")
            for row in self.study["keep"]:
                gaps = ", ".join("n/a" if g is None else f"{g:.3g}" for g in row["gap_pct"])
                g1 = ", ".join("n/a" if g is None else f"{g:.3g}" for g in row["stage1_gap_pct"])
                lines.append(f"  keep {row['keep']:>5}: {gaps}   (on the reference: {g1}; "
                             f"semi evaluations {row['evaluations_semi']:,})")
            lines.append("gap (%) vs distance of the swept accelerators from the reference, per constraint:")
            for row in self.study["distance"]:
                gaps = ", ".join("n/a" if g is None else f"{g:.3g}" for g in row["gap_pct"])
                lo, hi = row["distance"]
                lines.append(f"  distance {lo:.3f}-{hi:.3f} ({row['n_hw']} hw, mean Spearman rho {row['mean_spearman_rho']:.4f}): "
                             f"{gaps}   (mean per-accelerator regret: "
                             + ", ".join("n/a" if g is None else f"{g:.3g}" for g in row["mean_regret_pct"]) + ")")
        return "\n".join(lines)


_TIER = 1e6  # score offset per broken hardware bound in stage 1 (scores of feasible archs are far smaller)


def _stage1(ref: pd.DataFrame, c: Constraint, objective: str, keep_mode: str, budget: int, seed: int,
            dataset: str, max_power_mw: float | None = None) -> tuple[np.ndarray, int]:
    """NAS on the reference accelerator; returns (queried arch indices, distinct archs queried).

    Feasibility first, each constraint on its own: the accuracy bound (the same on every accelerator) is the
    search's hard constraint; the hardware bounds (latency, the sweep's power budget), which hold on the
    reference only, tier the score: an arch meeting them scores its objective, one breaking n of them scores
    ``-n·1e6 - largest excess`` (:func:`hw_violations`).  A sum of relative violations over accuracy and
    latency (the former rule) let the search trade one for the other and miss feasible targets."""
    from nas.nb201 import NB201Space
    from nas.search import NB201Problem, Objective, random_search, regularized_evolution

    metric, maximize = OBJECTIVES[objective]
    problem = NB201Problem(dataset, ref)
    hw_bounds = keep_mode == "topk" and (c.max_latency_s is not None or max_power_mw is not None)

    def evaluate(arch) -> dict[str, float]:
        m = problem(arch)
        m["error_pct"] = 100.0 - m["accuracy"]
        base = m["accuracy"] if maximize else -math.log(m[metric])
        if hw_bounds:
            power = np.array([m["energy_pj"] / m["latency_s"] * 1e-9 if m["latency_s"] > 0 else math.inf])
            n, worst = hw_violations(np.array([m["latency_s"]]), c, power, max_power_mw)
            if n[0]:
                base = -_TIER * float(n[0]) - min(float(worst[0]), _TIER / 10)
        m["score_base"] = base
        return m

    cons = {}
    if c.min_accuracy is not None:
        cons["error_pct"] = max(100.0 - c.min_accuracy, 1e-9)
    obj = Objective(accuracy="score_base", constraints=cons)
    if keep_mode == "pareto":  # unbiased exploration of the whole front
        hist = random_search(NB201Space(), evaluate, budget, seed=seed, objective=obj)
    else:
        hist = regularized_evolution(NB201Space(), evaluate, budget, seed=seed, objective=obj)
    queried = hist["index"].to_numpy(dtype=np.int64)
    return queried, int(hist.attrs["unique_archs"])


def run_codesign(sweep, ref_hw, objective: str = "edp", keep: int = 20, constraints: Sequence[Constraint] | None = None,
                 keep_mode: str = "topk", dataset: str = "cifar10", nas_budget: int = 1000, nas_seed: int = 0,
                 keep_study: Sequence[int] = (1, 2, 5, 10, 20, 50, 100), distance_bins: int = 4,
                 executor: Executor | None = None, progress: Callable[[int, int], None] | None = None,
                 batch_size: int = 4, prune_dead: bool = False) -> CodesignResult:
    """Semi-decoupled co-design vs the joint baseline over the design points of ``sweep`` (a
    :class:`accel.app.sweep.Sweep` or spec path), with ``ref_hw`` (Arch or config path) as the stage-1
    reference (see the module docstring).  ``constraints``: default :func:`default_constraints`.
    ``executor`` runs batches of ``batch_size`` accelerators (None: in this process);
    ``progress(done_accelerators, total)``.  ``prune_dead``: cost NB201 cells with their dead edges removed
    (``--prune-dead``; default False: every edge is costed, as frameworks run them)."""
    from accel.arch import Arch, load_arch
    from accel.app.sweep import SerialExecutor
    from accel.designspace import Sweep, _resolve, load_sweep
    from nas import nb201
    from nas.hwcost import nb201_hwcost, signatures

    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}, got {objective!r}")
    if keep_mode not in ("topk", "pareto"):
        raise ValueError(f"keep_mode must be topk or pareto, got {keep_mode!r}")
    if keep < 1 or nas_budget < 1:
        raise ValueError("keep and nas_budget must be >= 1")
    sw: Sweep = sweep if isinstance(sweep, Sweep) else load_sweep(sweep)
    ref: Arch = ref_hw if isinstance(ref_hw, Arch) else load_arch(ref_hw)
    dataset = nb201.canonical_dataset(dataset)
    acc = nb201.accuracies(dataset)
    cons = list(constraints) if constraints else default_constraints(acc)
    metric, maximize = OBJECTIVES[objective]
    cost_metric = "latency_s" if metric == "accuracy" else metric
    mapping_objective = sw.spec.objective

    # stage 1 on the reference
    from mapper.network import NetworkEvaluator

    ref_ev = NetworkEvaluator(ref, objective=mapping_objective, seed=sw.spec.seed, effort=sw.spec.search_effort)
    ref_table = nb201_hwcost(ref, dataset=dataset, batch=sw.spec.batch, objective=mapping_objective,
                             seed=sw.spec.seed, evaluator=ref_ev, prune=prune_dead)
    ref_vals = acc.astype(float) if metric == "accuracy" else ref_table[metric].to_numpy()
    ref_lat = ref_table["latency_s"].to_numpy()
    ref_cost = ref_table[cost_metric].to_numpy()
    max_power = sw.spec.constraints.max_power_mw  # the sweep's power budget: ranks stage 1, filters stage 2
    # average power; 0 for a network that executes nothing (--prune-dead: an NB201 cell with a constant output)
    ref_power = np.divide(ref_table["energy_pj"].to_numpy() * 1e-9, ref_lat, out=np.zeros(len(ref_lat)),
                          where=ref_lat > 0)
    kmax = max([keep, *[k for k in keep_study if k >= 1]])
    # archs with the same cell signature have the same layers, hence the same cost on every accelerator
    groups = np.unique(signatures(prune=prune_dead), axis=0, return_inverse=True)[1].reshape(-1)
    kept_all, queries = [], []
    pareto_hist = None
    for c in cons:
        if keep_mode == "pareto":
            if pareto_hist is None:
                pareto_hist = _stage1(ref_table, Constraint(), objective, "pareto", nas_budget, nas_seed, dataset)
            cand, q = pareto_hist
            kept = select_pareto(ref_cost, acc, c, kmax, candidates=cand, groups=groups)
            queries.append(q if not queries else 0)
        else:
            cand, q = _stage1(ref_table, c, objective, "topk", nas_budget, nas_seed, dataset, max_power)
            kept = select_topk(ref_vals, ref_lat, acc, c, maximize, kmax, candidates=cand, groups=groups,
                               ref_power_mw=ref_power, max_power_mw=max_power)
            queries.append(q)
        kept_all.append(kept)

    # stage 2 + joint, per accelerator (executor batches)
    points = sw.points()
    live = [p for p in points if not p.dropped]
    labels = {p.point: p.label(sw.name) for p in points}
    tasks = [_HwTask(tuple(live[i:i + batch_size]), tuple(cons), tuple(kept_all), objective, mapping_objective, dataset,
                     sw.spec.batch, sw.spec.seed, ref_cost, cost_metric, sw.spec.constraints.max_power_mw,
                     sw.spec.search_effort, prune_dead)
             for i in range(0, len(live), batch_size)]
    ex = executor or SerialExecutor()
    rows: list[dict] = []
    done = 0
    if progress:
        progress(0, len(live))
    pending: dict[Future, _HwTask] = {}
    window = 8
    it = iter(tasks)
    while True:
        while len(pending) < window:
            t = next(it, None)
            if t is None:
                break
            pending[ex.submit(_hw_batch, t)] = t
        if not pending:
            break
        ready, _ = wait(list(pending), return_when=FIRST_COMPLETED)
        for f in ready:
            t = pending.pop(f)
            rows.extend(f.result())
            done += len(t.points)
            if progress:
                progress(done, len(live))
    rows.sort(key=lambda r: r["point"])
    ok = [r for r in rows if not r["error"]]

    # per-accelerator distance from the reference
    ref_cfg = ref.config.model_dump(mode="json")
    ref_params: dict[str, Any] = {}
    for col in sw.columns:
        try:
            loc, _ = _resolve(ref_cfg, col[3:])
        except ValueError:
            continue
        cur: Any = ref_cfg
        for k in loc:
            cur = cur[k]
        ref_params[col] = cur
    by_point = {p.point: p for p in points}
    hw = pd.DataFrame({"point": [r["point"] for r in rows],
                       "distance": [param_distance(by_point[r["point"]].params, ref_params) for r in rows],
                       "spearman_rho": [r.get("rho", math.nan) for r in rows],
                       "error": [r["error"] for r in rows]})

    hw_ids = np.array([r["point"] for r in ok], dtype=np.int64)

    def solve(ci: int, k: int, sel: np.ndarray) -> tuple[Choice | None, Choice | None]:
        """semi (first k kept) and joint over the accelerators selected by the boolean mask ``sel``."""
        kept = kept_all[ci][:k]
        c = cons[ci]
        semi = None
        if len(kept) and sel.any():
            kv = np.array([r["kept_values"][ci][:k] for r in ok])[sel]
            kl = np.array([r["kept_latency_s"][ci][:k] for r in ok])[sel]
            semi = best_choice(kv, kl, acc[kept], c, maximize, archs=kept, hws=hw_ids[sel])
        joint = None
        for r, s in zip(ok, sel):
            if s:
                joint = _better(joint, r["joint"][ci], maximize)
        return semi, joint

    def stage1_gap(ci: int, k: int) -> float | None:
        """How far the best kept arch is from the true optimum *on the reference* (search quality)."""
        kept = kept_all[ci][:k]
        best = best_choice(ref_vals[None, :], ref_lat[None, :], acc, cons[ci], maximize)
        found = (best_choice(ref_vals[None, kept], ref_lat[None, kept], acc[kept], cons[ci], maximize, archs=kept)
                 if len(kept) else None)
        return gap_pct(found, best, maximize)

    everything = np.ones(len(ok), dtype=bool)
    results = []
    for ci, c in enumerate(cons):
        semi, joint = solve(ci, keep, everything)
        results.append({"constraint": c, "kept": kept_all[ci][:keep], "semi": semi, "joint": joint,
                        "gap_pct": gap_pct(semi, joint, maximize), "stage1_queries": queries[ci],
                        "stage1_gap_pct": stage1_gap(ci, keep)})
    n_hw = len(ok)

    def semi_evals(k: int) -> int:
        union = set()
        for kept in kept_all:
            union.update(int(a) for a in kept[:k])
        return int(sum(queries)) + len(union) * n_hw

    evaluations = {"semi": semi_evals(keep), "joint": nb201.N_ARCHS * n_hw}

    # study: gap vs keep; gap vs distance from the reference
    study: dict[str, Any] = {"keep": [], "distance": []}
    for k in sorted({k for k in (*keep_study, keep) if 1 <= k <= kmax}):
        gaps = [gap_pct(*solve(ci, k, everything), maximize) for ci in range(len(cons))]
        study["keep"].append({"keep": k, "gap_pct": gaps, "evaluations_semi": semi_evals(k),
                              "stage1_gap_pct": [stage1_gap(ci, k) for ci in range(len(cons))]})
    if n_hw:
        dist = hw.set_index("point").loc[hw_ids, "distance"].to_numpy()
        rho = hw.set_index("point").loc[hw_ids, "spearman_rho"].to_numpy()
        edges = np.unique(np.quantile(dist, np.linspace(0, 1, distance_bins + 1)))
        if len(edges) == 1:
            edges = np.array([edges[0], edges[0]])
        for b in range(len(edges) - 1):
            lo, hi = edges[b], edges[b + 1]
            sel = (dist >= lo) & ((dist <= hi) if b == len(edges) - 2 else (dist < hi))
            if not sel.any():
                continue
            gaps = [gap_pct(*solve(ci, keep, sel), maximize) for ci in range(len(cons))]
            regrets = []
            for ci in range(len(cons)):  # per accelerator: best kept arch vs best arch on that accelerator
                rs = [gap_pct(*solve(ci, keep, np.arange(len(ok)) == j), maximize) for j in np.flatnonzero(sel)]
                rs = [x for x in rs if x is not None]
                regrets.append(float(np.mean(rs)) if rs else None)
            study["distance"].append({"distance": [float(lo), float(hi)], "n_hw": int(sel.sum()),
                                      "mean_spearman_rho": float(np.nanmean(rho[sel])), "gap_pct": gaps,
                                      "mean_regret_pct": regrets})
    meta = {"dataset": dataset, "n_hw": len(live), "n_hw_failed": len(rows) - len(ok),
            "n_hw_dropped": len(points) - len(live), "nas_budget": nas_budget, "nas_seed": nas_seed,
            "reference": ref.name, "reference_digest": ref.digest(), "mapping_objective": mapping_objective,
            "spec_hash": sw.digest(), "prune_dead": bool(prune_dead)}
    ref_table["accuracy"] = acc[ref_table["index"].to_numpy()]
    return CodesignResult(objective, cons, keep, keep_mode, sw.name, labels, results, evaluations, study, hw, meta,
                          ref_table)
