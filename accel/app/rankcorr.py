"""How architecture rankings transfer between accelerators: Spearman ρ, Kendall τ-b and top-k overlap
matrices (scipy), with MACs and parameter count as naive, hardware-blind proxies.

The input is a metric table: one row per architecture (or workload), one column per accelerator (and
proxy), lower = better (latency, energy, EDP; MACs and parameters are "costs" too).  ``top-k overlap`` of
two columns is |top_k(a) ∩ top_k(b)| / k where ``top_k`` are the k rows with the lowest values (ties
broken by row order, so proxies with many ties — MACs — are read with that in mind).

Tables come from :func:`nb201_table` (a uniform sample of NAS-Bench-201 archs costed on each accelerator
with :func:`nas.hwcost.nb201_hwcost`) or :func:`sweep_table` (a results table of :func:`accel.app.sweep.run_sweep`:
workloads × design points).  The premise of semi-decoupled co-design (Lu et al. 2022, see
:mod:`accel.app.codesign`) is that these correlations are high across accelerators.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

__all__ = ["RankCorr", "rank_correlations", "topk_overlap", "nb201_table", "sweep_table", "METRICS", "PROXIES"]

# metric name → (nb201_hwcost column, sweep results column)
METRICS: dict[str, tuple[str, str]] = {"latency": ("latency_s", "latency_s"), "energy": ("energy_pj", "energy_pj"),
                                       "edp": ("edp", "edp_pj_s")}
PROXIES = ("macs", "params")


@dataclass
class RankCorr:
    """Pairwise matrices over the columns of a metric table (``n`` rows compared, ``top_k`` for overlap)."""

    spearman: pd.DataFrame
    kendall: pd.DataFrame
    topk_overlap: pd.DataFrame
    n: int
    top_k: int
    metric: str = ""
    rows: str = "rows"  # what the rows are (architectures, workloads)

    def to_json(self) -> dict:
        cols = list(self.spearman.columns)
        return {"metric": self.metric, "n": self.n, "top_k": self.top_k, "columns": cols,
                "spearman": self.spearman.to_numpy().tolist(), "kendall": self.kendall.to_numpy().tolist(),
                "topk_overlap": self.topk_overlap.to_numpy().tolist()}

    def table(self) -> str:
        fmt = {"float_format": lambda v: f"{v:.3f}"}
        return "\n".join([
            f"rank correlation of {self.metric or 'the metric'} over {self.n} {self.rows}",
            "", "Spearman rho:", self.spearman.to_string(**fmt),
            "", "Kendall tau-b:", self.kendall.to_string(**fmt),
            "", f"top-{self.top_k} overlap (fraction of the {self.top_k} best shared):", self.topk_overlap.to_string(**fmt),
        ])


def topk_overlap(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """|top_k(a) ∩ top_k(b)| / k, top_k = indices of the k lowest values (stable: ties by position)."""
    a, b = np.asarray(a), np.asarray(b)
    k = min(int(k), len(a))
    if k < 1:
        raise ValueError("top-k overlap needs k >= 1 and a non-empty table")
    ta = set(np.argsort(a, kind="stable")[:k].tolist())
    tb = set(np.argsort(b, kind="stable")[:k].tolist())
    return len(ta & tb) / k


def rank_correlations(table: pd.DataFrame, top_k: int = 50, metric: str = "") -> RankCorr:
    """Spearman ρ, Kendall τ-b and top-k overlap between every pair of columns of ``table`` (rows with
    any NaN are left out).  Constant columns give NaN correlations."""
    from scipy.stats import kendalltau, spearmanr

    t = table.dropna(how="any")
    n = len(t)
    if n < 2:
        raise ValueError(f"rank correlation needs at least 2 complete rows, got {n}")
    cols = list(t.columns)
    x = t.to_numpy(dtype=float)
    m = len(cols)
    rho = np.eye(m)
    tau = np.eye(m)
    ov = np.eye(m)
    k = min(top_k, n)
    for i in range(m):
        for j in range(i + 1, m):
            const = np.ptp(x[:, i]) == 0 or np.ptp(x[:, j]) == 0
            r = np.nan if const else float(spearmanr(x[:, i], x[:, j]).statistic)
            tt = np.nan if const else float(kendalltau(x[:, i], x[:, j]).statistic)
            o = topk_overlap(x[:, i], x[:, j], k)
            rho[i, j] = rho[j, i] = r
            tau[i, j] = tau[j, i] = tt
            ov[i, j] = ov[j, i] = o
    mk = lambda a: pd.DataFrame(a, index=cols, columns=cols)  # noqa: E731
    rows = {"arch": "architectures", "workload": "workloads"}.get(str(t.index.name), "rows")
    return RankCorr(mk(rho), mk(tau), mk(ov), n, k, metric, rows)


def _labels(archs) -> list[str]:
    names = [a.name for a in archs]
    return [n if names.count(n) == 1 else f"{n}#{i}" for i, n in enumerate(names)]


def nb201_table(hws: Sequence, sample: int = 1000, seed: int = 0, metric: str = "latency", dataset: str = "cifar10",
                batch: int = 1, objective: str = "edp", proxies: bool = True, effort: str = "thorough",
                prune_dead: bool = False) -> pd.DataFrame:
    """Metric table of ``sample`` NB201 archs (:func:`nas.registry.sample_architectures`: distinct, uniform,
    ``PCG64(seed)``; rows in official index order) on each accelerator
    (``Arch`` or config path), indexed by arch string; plus ``macs`` and ``params`` proxy columns.
    ``objective``: the per-layer mapping objective; ``effort``: the mapper's budget (:data:`mapper.search.BUDGETS`);
    ``prune_dead``: cost cells with their dead edges removed (default False: every edge, as frameworks run them)."""
    from accel.arch import Arch, load_arch
    from accel.app.sweep import nb201_params
    from nas import nb201
    from nas.hwcost import nb201_hwcost
    from nas.registry import sample_architectures
    from mapper.network import NetworkEvaluator

    if metric not in METRICS:
        raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
    if not 2 <= sample <= nb201.N_ARCHS:
        raise ValueError(f"sample must be in [2, {nb201.N_ARCHS}], got {sample}")
    archs = [h if isinstance(h, Arch) else load_arch(h) for h in hws]
    idx = np.sort([nb201.arch_to_index(a) for a in sample_architectures("nb201", sample, seed)])
    cols: dict[str, np.ndarray] = {}
    macs = None
    for label, a in zip(_labels(archs), archs):
        ev = NetworkEvaluator(a, objective=objective, seed=0, effort=effort)
        df = nb201_hwcost(archs=idx, dataset=dataset, batch=batch, evaluator=ev, prune=prune_dead)
        cols[label] = df[METRICS[metric][0]].to_numpy()
        macs = df["macs"].to_numpy()
    if proxies:
        if macs is None:
            from nas.hwcost import cost_structure

            st = cost_structure(dataset, batch, prune_dead)
            macs = st.counts(idx) @ st.layer_macs
        cols["macs"] = np.asarray(macs, dtype=float)
        cols["params"] = nb201_params(idx, batch, dataset, prune_dead).astype(float)
    out = pd.DataFrame(cols, index=pd.Index(nb201.arch_strings()[idx], name="arch"))
    out.attrs.update({"metric": metric, "sample": sample, "seed": seed, "dataset": dataset, "batch": batch,
                      "nb201_index": idx.tolist(), "prune_dead": bool(prune_dead)})
    return out


def sweep_table(results: pd.DataFrame | str | Path, metric: str = "latency", proxies: bool = True) -> pd.DataFrame:
    """Metric table from a sweep results table: one row per workload, one column per design point
    (``#<point>``) that has an ``ok`` row for every workload; plus the ``macs``/``params`` proxies."""
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {sorted(METRICS)}, got {metric!r}")
    df = pd.read_parquet(results) if not isinstance(results, pd.DataFrame) else results
    need = {"point", "workload", "status", METRICS[metric][1]}
    if not need <= set(df.columns):
        raise ValueError(f"not a sweep results table: missing columns {sorted(need - set(df.columns))}")
    if "layer" in df.columns:
        raise ValueError("a per-layer sweep table: rank correlation needs one row per design point x workload")
    ok = df[df["status"] == "ok"]
    col = METRICS[metric][1]
    wide = ok.pivot(index="workload", columns="point", values=col)
    order = list(dict.fromkeys(df["workload"]))
    wide = wide.reindex([w for w in order if w in wide.index])
    wide = wide.dropna(axis=1, how="any")
    wide.columns = [f"#{int(p)}" for p in wide.columns]
    wide.index.name = "workload"
    if proxies:
        per_w = ok.drop_duplicates("workload").set_index("workload")
        for p in PROXIES:
            if p in per_w.columns:
                wide[p] = per_w.loc[wide.index, p].to_numpy(dtype=float)
    wide.attrs.update({"metric": metric})
    return wide
