"""Plot functions return Figures (new or the given Axes'), and what they draw is the data."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from accel.app import plots


@pytest.fixture(scope="module")
def result(eyeriss):
    from mapper.network import evaluate_network
    from nas.nb201 import build_network

    return evaluate_network(build_network("|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|none~2|"),
                            eyeriss)


def test_pareto_plot_draws_the_front(tmp_path):
    df = pd.DataFrame({"lat": [1.0, 2.0, 3.0, 2.5, 0.5], "e": [5.0, 3.0, 1.0, 4.0, 9.0]})
    fig = plots.plot_pareto(df, "lat", "e")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    front = ax.collections[1].get_offsets()
    assert sorted(map(tuple, np.asarray(front))) == [(0.5, 9.0), (1.0, 5.0), (2.0, 3.0), (3.0, 1.0)]
    fig.savefig(tmp_path / "p.png")
    fig.savefig(tmp_path / "p.pdf")
    assert (tmp_path / "p.png").stat().st_size > 0 and (tmp_path / "p.pdf").stat().st_size > 0


def test_plots_draw_into_a_given_axes(result):
    fig, axes = plots.new_figure(2, 3)
    df = pd.DataFrame({"x": [1.0, 2.0], "acc": [90.0, 93.0]})
    m = pd.DataFrame([[1.0, 0.5], [0.5, 1.0]], index=["a", "b"], columns=["a", "b"])
    out = [plots.plot_pareto(df, "x", "acc", maximize_y=True, ax=axes[0, 0]),
           plots.plot_rank_heatmap(m, ax=axes[0, 1]),
           plots.plot_rank_scatter(pd.Series([1, 2, 3.0], name="a"), pd.Series([1, 3, 2.0], name="b"), ax=axes[0, 2], top_k=1),
           plots.plot_energy_breakdown(result, ax=axes[1, 0]),
           plots.plot_roofline(result, ax=axes[1, 1]),
           plots.plot_gap_vs_keep([{"keep": 1, "gap_pct": [5.0, None]}, {"keep": 5, "gap_pct": [0.0, 1.0]}],
                                  ["c1", "c2"], ax=axes[1, 2])]
    assert all(f is fig for f in out)


def test_energy_breakdown_bars_sum_to_layer_energy(result):
    fig = plots.plot_energy_breakdown(result, unit="pJ")
    ax = fig.axes[0]
    layers = [r for r in result.layers if r.cost is not None]
    tops = np.zeros(len(layers))
    for cont in ax.containers:
        for i, bar in enumerate(cont):
            tops[i] = max(tops[i], bar.get_y() + bar.get_height())
    assert np.allclose(tops, [r.cost.energy_pj for r in layers], rtol=1e-9)
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"DRAM", "GLB", "spad", "MAC/op"}


def test_roofline_points_lie_under_the_roof(result, eyeriss):
    fig = plots.plot_roofline(result)
    ax = fig.axes[0]
    peak = eyeriss.peak_macs_per_cycle
    roofs = plots.level_roofs_bytes_per_cycle(eyeriss)  # one roof per memory level (tests/test_roofline.py)
    n = 0
    for coll in ax.collections:
        bw = roofs[coll.get_gid().split(":", 1)[1]]
        for x, y in np.asarray(coll.get_offsets()):
            assert y <= min(peak, x * bw) * (1 + 1e-9)
            n += coll.get_gid() == "roofline:DRAM"
    assert n == sum(1 for r in result.layers if r.cost is not None)


def test_rank_heatmap_and_scatter_titles():
    m = pd.DataFrame([[1.0, 0.9], [0.9, 1.0]], index=["a", "b"], columns=["a", "b"])
    fig = plots.plot_rank_heatmap(m, title="t")
    assert fig.axes[0].get_title() == "t" and fig.axes[0].images[0].get_clim() == pytest.approx((0.9, 1.0))
    fig = plots.plot_rank_scatter(pd.Series([1.0, 2, 3, 4], name="a"), pd.Series([4.0, 3, 2, 1], name="b"))
    assert fig.axes[0].get_title().startswith("ρ = -1.000, τ = -1.000")
