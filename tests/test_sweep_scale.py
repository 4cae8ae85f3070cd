"""Sweeps at scale: the points of a batch that differ only in their clock and bandwidths share each layer's mapping
search (exactly: every row equals a fresh search on that point's own accelerator), and the shipped 100,000-point spec
expands."""

import math
from pathlib import Path

import pytest
import yaml

import accel.app.sweep as sweep_mod
import mapper.search as search_mod
from accel.app.sweep import SerialExecutor, run_sweep
from accel.arch import parse_arch
from accel.arch import static_power_mw as static_power
from accel.designspace import load_sweep, parse_sweep
from mapper.network import NetworkEvaluator
from nas.hwcost import nb201_hwcost
from tests.conftest import ROOT

LAYER = "layer:conv K=16 C=16 P=8 Q=8 R=3 S=3"
NB = "nb201:|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|none~2|"


def _spec(base: Path) -> dict:
    return {"version": 1, "name": "clk", "base": str(base), "parameters": [
        {"path": "levels.DRAM.read_bandwidth_bits", "values": [32, 128]},
        {"path": "clock_mhz", "values": [100, 250, 400]}]}


@pytest.mark.parametrize("static", [False, True], ids=["no-static-power", "leakage-and-always-on"])
def test_clock_and_bandwidth_variants_share_searches_and_equal_fresh_searches(tmp_path, monkeypatch, static):
    """eyeriss draws leakage and always-on power (its technology block); without that block it draws none."""
    cfg = yaml.safe_load((ROOT / "configs" / "eyeriss.yaml").read_text())
    if not static:
        cfg.pop("technology")
    (tmp_path / "hw.yaml").write_text(yaml.safe_dump(cfg))
    sw = parse_sweep(_spec(tmp_path / "hw.yaml"), "clk.yaml", ROOT)
    pts = sw.points()
    static_power_mw = static_power(parse_arch(pts[0].config, "p"))
    assert (static_power_mw > 0) == static
    alone, grouped = [], []
    real_layer, real_group = NetworkEvaluator._layer, search_mod.search_mapping_group

    def counting(self, layer):
        if layer.shape_key() not in self._cache:
            alone.append(self.arch.digest())
        return real_layer(self, layer)

    def counting_group(layer, archs, *args, **kw):
        grouped.append(len(archs))
        return real_group(layer, archs, *args, **kw)

    monkeypatch.setattr(NetworkEvaluator, "_layer", counting)
    monkeypatch.setattr(search_mod, "search_mapping_group", counting_group)
    df = run_sweep(sw, [LAYER, NB], tmp_path / "c.parquet", executor=SerialExecutor(), batch_size=4)
    monkeypatch.undo()
    # batches of 4 and 2 points (6 = 2 DRAM bandwidths x 3 clocks, one accelerator but for them): one search per
    # layer shape and batch, shared by the batch's points; no point searches alone
    n_shapes = 1 + 21  # the layer + the NB201 CIFAR-10 shapes
    assert sorted(grouped) == [2] * n_shapes + [4] * n_shapes
    assert alone == []
    assert (df.status == "ok").all()
    for p in pts:
        arch = parse_arch(p.config, "p")
        ev = NetworkEvaluator(arch, objective="edp", seed=0, effort=sw.spec.search_effort)
        lay = ev.network(sweep_mod._network("layer", LAYER[6:], 1))
        nb = nb201_hwcost(evaluator=NetworkEvaluator(arch, objective="edp", seed=0, effort=sw.spec.search_effort),
                          archs=[NB[6:]]).iloc[0]
        rows = df[df.point == p.point].set_index("workload")
        for wl, (cyc, sec, pj) in {LAYER: (lay.latency_cycles, lay.latency_s, lay.energy_pj),
                                   NB: (nb.latency_cycles, nb.latency_s, nb.energy_pj)}.items():
            r = rows.loc[wl]
            assert (r.latency_cycles, r.latency_s, r.energy_pj) == (cyc, sec, pj)
    # latency in seconds follows each point's own clock; without static power cycles and energy do not depend on
    # it (one shared mapping); with it the clock moves the energy of every mapping (here even the chosen one)
    g = df[df.workload == LAYER].groupby("hw.levels.DRAM.read_bandwidth_bits")
    for _, rows in g:
        assert all(math.isclose(s * c * 1e6, cyc) for s, c, cyc in
                   zip(rows.latency_s, rows["hw.clock_mhz"], rows.latency_cycles))
        assert rows.energy_pj.nunique() == (3 if static else 1)
        if not static:
            assert rows.latency_cycles.nunique() == 1


def test_scale_spec_has_100k_points_in_clock_groups():
    sw = load_sweep(ROOT / "configs" / "sweeps" / "scale-100k.yaml")
    assert len(sw.assignments()) == 100_000
    assert sw.spec.parameters[-1].paths == ["clock_mhz"] and len(sw.spec.parameters[-1].domain()) == 5
