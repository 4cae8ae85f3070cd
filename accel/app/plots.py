"""Plots for sweeps, co-design and rank-correlation studies (matplotlib, object API: no pyplot state, no
global style).  Every function takes ``ax=None`` (a new :class:`matplotlib.figure.Figure` is made) or an
Axes to draw into, and returns the Figure.  The commands save figures with
:func:`accel.app.output.save_figure` (atomically; PNG, PDF or SVG by the file's extension, a name without
one is refused, so the file written is the file named); ``fig.savefig(path)`` works as usual in scripts.
matplotlib is imported inside the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from mapper.network import NetworkResult

__all__ = ["plot_pareto", "plot_rank_heatmap", "plot_rank_scatter", "plot_energy_breakdown", "plot_roofline",
           "level_roofs_bytes_per_cycle",
           "plot_gap_vs_keep", "new_figure"]


def new_figure(nrows: int = 1, ncols: int = 1, figsize: tuple[float, float] | None = None):
    """A Figure with a grid of Axes (not registered with pyplot)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize or (6.4 * ncols, 4.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _ax(ax: "Axes | None", figsize=(6.4, 4.6)) -> "tuple[Figure, Axes]":
    if ax is not None:
        return ax.figure, ax
    fig, axes = new_figure(figsize=figsize)
    return fig, axes[0, 0]


def plot_pareto(df: pd.DataFrame, x: str, y: str, maximize_y: bool = False, ax: "Axes | None" = None,
                label: str | None = None, log: bool = True, xlabel: str | None = None, ylabel: str | None = None,
                highlight: pd.DataFrame | None = None, highlight_label: str = "selected",
                feasible: str | None = None, bound_x: float | None = None, bound_label: str = "bound",
                color: str | None = None) -> "Figure":
    """Scatter of ``df[x]`` vs ``df[y]`` with the Pareto front (:func:`accel.pareto.pareto_mask`; ``x``
    minimised, ``y`` minimised unless ``maximize_y``) drawn as a step line — the one Pareto plot: accuracy vs
    latency_s of NB201 archs on one accelerator, latency_s vs energy_pj across a sweep's design points, or a
    NAS search history (``accelsim nas --plot``).  ``feasible``: a boolean column; infeasible rows are drawn
    in light grey and stay off the front.  ``bound_x``: a vertical dashed line (e.g. the latency bound, in
    ``x``'s units).  ``highlight`` rows are marked on top.  ``color``: a third minimised column (e.g.
    ``area_mm2``): every point is coloured by it (colour bar), the front stays the 2-D front of (x, y), and points
    on the 3-D front of (x, y, color) (:func:`accel.pareto.pareto_mask_nd`) get a black edge."""
    from accel.pareto import pareto_mask, pareto_mask_nd

    fig, ax = _ax(ax)
    xs = df[x].to_numpy(dtype=float)
    ys = df[y].to_numpy(dtype=float)
    ok = df[feasible].to_numpy(dtype=bool) if feasible else np.ones(len(xs), dtype=bool)
    front = pareto_mask(np.where(ok, xs, np.nan), ys, maximize_y=maximize_y)
    if not ok.all():
        ax.scatter(xs[~ok], ys[~ok], s=8, alpha=0.35, color="0.8", label=f"infeasible ({int((~ok).sum())})")
    rest = ok & ~front
    if color is not None:
        cs = df[color].to_numpy(dtype=float)
        sc = ax.scatter(xs[ok], ys[ok], s=22, c=cs[ok], cmap="viridis", label=f"{label or 'points'} ({int(ok.sum())})",
                        zorder=2)
        fig.colorbar(sc, ax=ax, label=color)
        front3 = pareto_mask_nd(np.column_stack([np.where(ok, xs, np.nan), ys, cs]),
                                maximize=[False, maximize_y, False])
        ax.scatter(xs[front3], ys[front3], s=34, facecolors="none", edgecolors="k", lw=1.0,
                   label=f"front of ({x}, {y}, {color}) ({int(front3.sum())})", zorder=4)
        order = np.argsort(xs[front], kind="stable")
        ax.step(xs[front][order], ys[front][order], where="post", color="tab:red", lw=1.2,
                label=f"Pareto front of ({x}, {y}) ({int(front.sum())})")
    else:
        ax.scatter(xs[rest], ys[rest], s=8, alpha=0.35, color="tab:gray", label=f"{label or 'points'} ({int(ok.sum())})")
        order = np.argsort(xs[front], kind="stable")
        ax.step(xs[front][order], ys[front][order], where="post", color="tab:red", lw=1.2)
        ax.scatter(xs[front], ys[front], s=18, color="tab:red", label=f"Pareto front ({int(front.sum())})", zorder=3)
    if highlight is not None and len(highlight):
        ax.scatter(highlight[x], highlight[y], s=70, facecolors="none", edgecolors="tab:blue", lw=1.5,
                   label=highlight_label, zorder=4)
    if bound_x is not None:
        ax.axvline(bound_x, ls="--", c="k", lw=1, label=bound_label)
    if log:
        ax.set_xscale("log")
        if not maximize_y and (ys[np.isfinite(ys)] > 0).all():
            ax.set_yscale("log")
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    ax.legend(loc="best", fontsize="small")
    ax.grid(True, which="both", alpha=0.3)
    return fig


def plot_rank_heatmap(matrix: pd.DataFrame, ax: "Axes | None" = None, title: str = "Spearman ρ",
                      vmin: float | None = None, vmax: float = 1.0) -> "Figure":
    """Heatmap of a square correlation / overlap matrix (e.g. :attr:`accel.app.rankcorr.RankCorr.spearman`),
    values printed in the cells when there are at most 15 columns.  ``vmin`` defaults to the smallest
    value rounded down to 0.05 (rank correlations across accelerators are often all above 0.8)."""
    n = len(matrix)
    fig, ax = _ax(ax, figsize=(1.2 + 0.55 * n + 1.5, 1.0 + 0.55 * n))
    data = matrix.to_numpy(dtype=float)
    if vmin is None:
        finite = data[np.isfinite(data)]
        vmin = float(np.floor(min(finite.min(), vmax - 0.05) * 20) / 20) if finite.size else -1.0
    im = ax.imshow(data, vmin=vmin, vmax=vmax, cmap="viridis")
    ax.set_xticks(range(n), [str(c) for c in matrix.columns], rotation=60, ha="right", fontsize="small")
    ax.set_yticks(range(n), [str(c) for c in matrix.index], fontsize="small")
    if n <= 15:
        for i in range(n):
            for j in range(n):
                v = data[i, j]
                ax.text(j, i, "–" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize="x-small",
                        color="white" if np.isnan(v) or v < (vmin + vmax) / 2 else "black")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def plot_rank_scatter(a: pd.Series, b: pd.Series, ax: "Axes | None" = None, top_k: int | None = None) -> "Figure":
    """Rank of every row under ``a`` vs under ``b`` (1 = lowest value = best), with Spearman ρ and
    Kendall τ-b in the title; rows in ``a``'s top-k are highlighted."""
    from scipy.stats import kendalltau, spearmanr

    fig, ax = _ax(ax, figsize=(5.2, 5.0))
    both = pd.concat([a, b], axis=1).dropna()
    ra = both.iloc[:, 0].rank(method="average").to_numpy()
    rb = both.iloc[:, 1].rank(method="average").to_numpy()
    ax.scatter(ra, rb, s=6, alpha=0.5, color="tab:blue")
    if top_k:
        top = ra <= top_k
        ax.scatter(ra[top], rb[top], s=14, color="tab:red", label=f"top-{top_k} under {a.name}")
        ax.legend(loc="lower right", fontsize="small")
    n = len(both)
    ax.plot([1, n], [1, n], color="k", lw=0.8, alpha=0.5)
    rho = spearmanr(ra, rb).statistic
    tau = kendalltau(ra, rb).statistic
    ax.set_xlabel(f"rank on {a.name}")
    ax.set_ylabel(f"rank on {b.name}")
    ax.set_title(f"ρ = {rho:.3f}, τ = {tau:.3f} (n = {n})")
    ax.set_aspect("equal", adjustable="box")
    return fig


def plot_energy_breakdown(result: "NetworkResult", ax: "Axes | None" = None, unit: str = "uJ") -> "Figure":
    """Stacked bars, one per layer: energy by memory level (all operands), MAC/op, NoC and static energy
    (from :class:`mapper.network.NetworkResult`), in µJ (``unit="uJ"``) or pJ."""
    scale = {"uJ": 1e-6, "pJ": 1.0}[unit]
    layers = [r for r in result.layers if r.cost is not None]
    fig, ax = _ax(ax, figsize=(max(6.4, 0.22 * len(layers) + 2), 4.6))
    levels = result.arch.level_names
    parts: dict[str, np.ndarray] = {}
    for lv in levels:
        parts[lv] = np.array([sum(r.cost.energy_breakdown_pj[lv].values()) for r in layers]) * scale
    parts["MAC/op"] = np.array([r.cost.mac_energy_pj for r in layers]) * scale
    parts["NoC"] = np.array([r.cost.noc_energy_pj for r in layers]) * scale
    parts["static"] = np.array([r.cost.static_energy_pj for r in layers]) * scale
    x = np.arange(len(layers))
    bottom = np.zeros(len(layers))
    for name, v in parts.items():
        if not v.any():
            continue
        ax.bar(x, v, bottom=bottom, label=name, width=0.8)
        bottom += v
    if len(layers) <= 60:
        ax.set_xticks(x, [r.layer.name for r in layers], rotation=90, fontsize="x-small")
    else:
        ax.set_xlabel("layer index")
    ax.set_ylabel(f"energy ({'µJ' if unit == 'uJ' else 'pJ'})")
    ax.set_title(f"{result.network} on {result.arch.name}: energy by level")
    ax.legend(fontsize="small")
    return fig


def level_roofs_bytes_per_cycle(arch) -> dict[str, float]:
    """Peak bytes per cycle of every memory level, all its instances together: read bandwidth × instances for a
    shared read/write port, (read + write) × instances for separate ports (a level's transfer time is
    ``max(r / read_bw, w / write_bw)`` per instance, :func:`accel.cost._bandwidth_bound`); inf where unbounded."""
    a = arch.arrays
    out, inst = {}, 1.0
    for lv, name in enumerate(arch.level_names):
        if lv > 0:
            inst *= float(a.fanout_x[lv]) * float(a.fanout_y[lv])
        bw = float(a.read_bw[lv]) if a.shared_port[lv] else float(a.read_bw[lv]) + float(a.write_bw[lv])
        out[name] = bw / 8 * inst
    return out


def plot_roofline(result: "NetworkResult", ax: "Axes | None" = None) -> "Figure":
    """Hierarchical roofline of one network on one accelerator (Williams et al., CACM 2009; one roof per memory
    level as in Yang et al., "Hierarchical Roofline Analysis", 2020): per layer and memory level, the level's
    arithmetic intensity (MACs or ops per byte moved at that level, reads + writes at the operands' bitwidths
    there, :func:`accel.app.report.level_bytes`) vs the attained MACs / ops per cycle, each level in its own
    colour under its roof min(peak MAC/cycle, intensity × the level's peak bytes/cycle,
    :func:`level_roofs_bytes_per_cycle`).  A layer sits on the roof of the level that bounds it.  Point sets
    carry the gid ``roofline:LEVEL``; levels of unbounded bandwidth have points but no roof."""
    from accel.app.report import level_bytes

    fig, ax = _ax(ax)
    arch = result.arch
    peak = float(arch.peak_macs_per_cycle)
    roofs = level_roofs_bytes_per_cycle(arch)
    colors = [f"C{i}" for i in range(10)]
    pts: dict[str, list[tuple[float, float, bool]]] = {lv: [] for lv in arch.level_names}
    for r in result.layers:
        c = r.cost
        if c is None or c.latency_cycles <= 0:
            continue
        perf = c.points / c.latency_cycles
        for lv, byts in level_bytes(c, arch).items():
            if byts > 0:
                pts[lv].append((c.points / byts, perf, r.layer.is_mac))
    xs_all = [x for v in pts.values() for x, _, _ in v]
    ridges = [peak / bw for bw in roofs.values() if np.isfinite(bw) and bw > 0]
    lo = min(xs_all + ridges + [1.0]) / 4
    hi = max(xs_all + ridges + [1.0]) * 4
    xs = np.geomspace(lo, hi, 200)
    ax.axhline(peak, color="k", lw=1.5, label=f"compute: {peak:g} MAC/cycle")
    for i, lv in enumerate(arch.level_names):
        col = colors[i % len(colors)]
        bw = roofs[lv]
        if np.isfinite(bw):
            ax.plot(xs, np.minimum(peak, xs * bw), color=col, lw=1.2, ls="--", label=f"{lv}: {bw:.4g} B/cycle")
        for is_mac, marker in ((True, "o"), (False, "x")):
            p = [(x, y) for x, y, m in pts[lv] if m == is_mac]
            if p:
                coll = ax.scatter([x for x, _ in p], [y for _, y in p], s=14, marker=marker, color=col,
                                  label=f"{lv} {'MAC' if is_mac else 'element-wise / pooling'} layers")
                coll.set_gid(f"roofline:{lv}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (MAC or op per byte moved at the level)")
    ax.set_ylabel("attained MAC or op per cycle")
    ax.set_title(f"{result.network} on {arch.name}")
    ax.legend(fontsize="x-small", ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    return fig


def plot_gap_vs_keep(keep_rows: Sequence[dict], constraint_labels: Sequence[str], ax: "Axes | None" = None) -> "Figure":
    """Co-design study: optimality gap (%) of the semi-decoupled result vs the number of kept archs, one
    line per constraint (``keep_rows``: :attr:`accel.app.codesign.CodesignResult.study` ``["keep"]``);
    gaps with no feasible semi-decoupled pair are left out."""
    fig, ax = _ax(ax)
    ks = [r["keep"] for r in keep_rows]
    for ci, lab in enumerate(constraint_labels):
        g = [r["gap_pct"][ci] for r in keep_rows]
        pts = [(k, v) for k, v in zip(ks, g) if v is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=lab)
    ax.set_xscale("log")
    ax.set_xlabel("architectures kept from stage 1 (--keep)")
    ax.set_ylabel("optimality gap (%)")
    ax.axhline(0, color="k", lw=0.8)
    ax.legend(fontsize="small")
    ax.grid(True, which="both", alpha=0.3)
    return fig
