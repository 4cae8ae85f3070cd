"""Rank correlations on known orders, top-k overlap, sweep tables, and the rankcorr command."""

import json

import numpy as np
import pandas as pd
import pytest

from accel.app.rankcorr import rank_correlations, sweep_table, topk_overlap
from tests.conftest import ROOT


def test_known_orders():
    n = 20
    base = np.arange(1.0, n + 1)
    swapped = base.copy()
    swapped[[3, 4]] = swapped[[4, 3]]  # one adjacent swap: one discordant pair
    t = pd.DataFrame({"a": base, "same": base * 3 + 7, "rev": -base, "swap": swapped})
    rc = rank_correlations(t, top_k=5)
    s, k, o = rc.spearman, rc.kendall, rc.topk_overlap
    assert s.loc["a", "same"] == pytest.approx(1) and k.loc["a", "same"] == pytest.approx(1)
    assert s.loc["a", "rev"] == pytest.approx(-1) and k.loc["a", "rev"] == pytest.approx(-1)
    assert s.loc["a", "swap"] == pytest.approx(1 - 6 * 2 / (n * (n * n - 1)))
    assert k.loc["a", "swap"] == pytest.approx(1 - 2 * 1 / (n * (n - 1) / 2))
    assert o.loc["a", "same"] == 1 and o.loc["a", "rev"] == 0 and o.loc["a", "swap"] == 1
    assert (np.diag(s) == 1).all() and np.allclose(s, s.T) and np.allclose(k, k.T) and np.allclose(o, o.T)
    assert rc.n == n and rc.top_k == 5
    assert rank_correlations(t, top_k=4).topk_overlap.loc["a", "swap"] == pytest.approx(3 / 4)


def test_topk_overlap_and_degenerate_inputs():
    assert topk_overlap([1, 2, 3, 4], [4, 3, 2, 1], 2) == 0
    assert topk_overlap([1, 2, 3, 4], [1, 3, 2, 4], 2) == 0.5
    assert topk_overlap([1, 2], [1, 2], 10) == 1  # k capped at n
    rc = rank_correlations(pd.DataFrame({"a": [1.0, 2, 3], "c": [5.0, 5, 5]}))
    assert np.isnan(rc.spearman.loc["a", "c"]) and np.isnan(rc.kendall.loc["a", "c"])
    with pytest.raises(ValueError, match="at least 2 complete rows"):
        rank_correlations(pd.DataFrame({"a": [1.0, np.nan], "b": [1.0, 2.0]}))


def test_sweep_table_keeps_complete_points_only():
    rows = []
    for point in range(3):
        for w, macs in (("w1", 10), ("w2", 20), ("w3", 30)):
            bad = point == 2 and w == "w2"
            rows.append({"point": point, "workload": w, "status": "dropped" if bad else "ok",
                         "latency_s": np.nan if bad else macs * (point + 1), "macs": macs, "params": 100 - macs})
    t = sweep_table(pd.DataFrame(rows), "latency")
    assert list(t.columns) == ["#0", "#1", "macs", "params"] and list(t.index) == ["w1", "w2", "w3"]
    assert t.loc["w2", "#1"] == 40
    rc = rank_correlations(t, top_k=1)
    assert rc.spearman.loc["#0", "macs"] == pytest.approx(1) and rc.spearman.loc["#0", "params"] == pytest.approx(-1)
    assert rc.rows == "workloads"
    with pytest.raises(ValueError, match="missing columns"):
        sweep_table(pd.DataFrame({"point": [0]}), "latency")


def test_rankcorr_command(tmp_path, capsys):
    from accel.app.cli import main

    hm, sc = tmp_path / "hm.png", tmp_path / "sc.png"
    assert main(["rankcorr", "--space", "nb201", "--sample", "40", "--hw", str(ROOT / "configs" / "eyeriss.yaml"),
                 "--hw", "shidiannao-like", "--metric", "edp", "--top", "5", "--format", "json", "--plot", str(hm),
                 "--scatter-plot", str(sc), "--pair", "eyeriss", "macs"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["columns"] == ["eyeriss", "shidiannao-like", "macs", "params"] and out["n"] == 40 and out["top_k"] == 5
    s = np.array(out["spearman"])
    assert s.shape == (4, 4) and np.allclose(np.diag(s), 1) and np.allclose(s, s.T) and (np.abs(s) <= 1).all()
    o = np.array(out["topk_overlap"])
    assert ((o >= 0) & (o <= 1)).all() and np.allclose(o * 5, np.round(o * 5))
    assert hm.stat().st_size > 1000 and sc.stat().st_size > 1000
    assert main(["rankcorr", "--hw", "eyeriss"]) == 1
    assert "at least two --hw" in capsys.readouterr().err
