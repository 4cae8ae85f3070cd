"""Training and search curves of a joint run (matplotlib; no global style)."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["plot_curves"]


def plot_curves(history: pd.DataFrame, axes=None):
    """Four panels from a run's history table (:func:`nas.joint.pipeline.run_joint`): losses per step,
    validation accuracy per epoch, hardware cost (sampled per step; argmax network on the most probable
    and in expectation over the design distribution per epoch) and the most probable design's probability.
    ``axes``: four matplotlib axes, or None for a new 2×2 figure.  Returns the Figure."""
    import matplotlib.pyplot as plt

    if axes is None:
        fig, grid = plt.subplots(2, 2, figsize=(11, 7), constrained_layout=True)
        axes = grid.ravel()
    fig = axes[0].figure
    h = history.reset_index(drop=True).copy()
    h["x"] = np.arange(len(h))
    ax = axes[0]
    for phase, style in (("warmup", "C0"), ("search", "C1"), ("finetune", "C2"), ("decoupled-search", "C4"),
                         ("decoupled-finetune", "C5")):
        part = h[h["phase"] == phase]
        if len(part) and "train_loss" in part:
            ax.plot(part["x"], part["train_loss"], color=style, lw=0.8, label=f"{phase} train CE")
    part = h[h["phase"] == "search"]
    if len(part) and "val_loss" in part:
        ax.plot(part["x"], part["val_loss"], color="C3", lw=0.8, alpha=0.7, label="search val CE (arch step)")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy")
    ax.set_title("training losses")
    ax.legend(fontsize=7)
    ax = axes[1]
    for phase, style in (("search-epoch", "C1"), ("finetune-epoch", "C2"), ("decoupled-search-epoch", "C4"),
                         ("decoupled-finetune-epoch", "C5")):
        part = h[h["phase"] == phase]
        if len(part) and "val_acc" in part:
            ax.plot(part["epoch"] + 1, part["val_acc"], "o-", color=style, label=phase.replace("-epoch", ""))
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy")
    ax.set_title("accuracy (argmax / derived network)")
    ax.legend(fontsize=7)
    ax = axes[2]
    part = h[h["phase"] == "search"]
    if len(part):
        ax.plot(part["x"], part["sampled_latency_ms"], ".", ms=2, color="0.6", label="sampled (step)")
    ep = h[h["phase"] == "search-epoch"]
    if len(ep):
        ax.plot(ep["x"], ep["argmax_latency_ms"], "o-", color="C1", label="argmax network, best design")
        ax.plot(ep["x"], ep["expected_latency_ms"], "s--", color="C3", label="argmax network, E[design]")
    ax.set_xlabel("step")
    ax.set_ylabel("latency (ms)")
    ax.set_title("hardware cost during the search (accelsim table)")
    ax.legend(fontsize=7)
    ax = axes[3]
    if len(ep) and "design_prob" in ep:
        ax.plot(ep["epoch"] + 1, ep["design_prob"], "o-", color="C1")
        for _, r in ep.iterrows():
            ax.annotate(str(int(r["design"])), (r["epoch"] + 1, r["design_prob"]), fontsize=7,
                        textcoords="offset points", xytext=(0, 4))
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("epoch")
    ax.set_ylabel("probability of the most probable design")
    ax.set_title("accelerator distribution (labels: design id)")
    return fig
