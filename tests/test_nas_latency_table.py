"""Latency lookup tables (layer / block) and BBSSP layer-adaptive latency correction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from accel.arch import load_arch
from mapper.network import NetworkEvaluator
from nas import mbconv, nb201
from nas.latency_table import (BLOCK_PATTERNS, BlockTable, LayerTable, SpaceHardware, correction_study,
                               fit_correction, layer_type, split_blocks, type_matrix)
from nas.registry import get_space
from tests.conftest import ROOT

SPACE = get_space("nb201")


@pytest.fixture(scope="module")
def table(eyeriss):
    return LayerTable(NetworkEvaluator(eyeriss))


@pytest.fixture(scope="module")
def nets():
    rng = np.random.Generator(np.random.PCG64(0))
    archs = list(dict.fromkeys(SPACE.sample(rng) for _ in range(40)))[:30]
    return [SPACE.build_network(a) for a in archs]


def test_layer_table_sums_the_model(table, nets):
    net = nets[0]
    res = table.evaluator.network(net)
    tot = table.network(net)
    assert tot["latency_s"] == pytest.approx(res.latency_s, rel=1e-12)
    assert tot["energy_pj"] == pytest.approx(res.energy_pj, rel=1e-12)
    assert tot["macs"] == net.macs
    assert sum(table.by_type(net).values()) == pytest.approx(tot["latency_s"], rel=1e-12)
    assert set(table.by_type(net)) <= {"conv3x3", "conv1x1", "avgpool", "add", "fc"}
    # a measured table (from a frame) answers the same; unknown shapes are an error
    measured = LayerTable.from_frame(table.to_frame())
    assert measured.network(net)["latency_s"] == pytest.approx(tot["latency_s"], rel=1e-12)
    with pytest.raises(KeyError, match="no entry"):
        measured.network(get_space("fbnet").build_network(("skip",) * 22))
    with pytest.raises(ValueError, match="missing columns"):
        LayerTable.from_frame(pd.DataFrame({"layer": ["x"]}))


def test_layer_types():
    net = get_space("fbnet").build_network(("k5_e1_g2",) * 22)
    types = {layer_type(la) for la in net.layers}
    assert {"conv3x3", "gconv1x1", "dwconv5x5", "conv1x1", "avgpool", "fc", "add"} <= types


def test_blocks(table, nets):
    blocks = BlockTable.for_space("nb201", table)
    net = nets[1]
    names = [b for b, _ in split_blocks(net, BLOCK_PATTERNS["nb201"])]
    assert sum(n.startswith("stage") for n in names) == 15 and {"reduce1", "reduce2", "stem"} <= set(names)
    assert blocks.latency_s(net) == pytest.approx(table.network(net)["latency_s"], rel=1e-12)
    assert len(blocks) < len(names)  # the five cells of a stage are one block entry
    measured = BlockTable.from_frame(blocks.to_frame(), BLOCK_PATTERNS["nb201"])
    assert measured.latency_s(net) == pytest.approx(blocks.latency_s(net), rel=1e-12)
    a = mbconv.parse_arch("r160-w1.0-k3e3.k5e4-k3e3.k3e3.k3e3-k7e6s.k3e3-k3e3.k3e3.k3e3.k3e3-k5e3.k5e3")
    mb = [b for b, _ in split_blocks(mbconv.build_network(a), BLOCK_PATTERNS["mbconv"])]
    assert sum(b.startswith("stage") for b in mb) == sum(a.depths) and "first_block" in mb


def test_correction_recovers_a_known_per_type_distortion(table, nets):
    truth = {"conv3x3": 1.3, "conv1x1": 0.7, "avgpool": 2.0, "add": 1.5, "fc": 0.9}
    T, types = type_matrix(nets, table)
    y = T @ np.array([truth[t] for t in types])
    corr, df = correction_study(nets, y, table, train_fraction=0.5, seed=0)
    for t, v in truth.items():
        assert corr.factors[t] == pytest.approx(v, rel=1e-6)
    assert df.attrs["mape_before"] > 0.05 and df.attrs["mape_after"] < 1e-8
    assert (df["split"] == "test").sum() == 15
    with pytest.raises(ValueError):
        fit_correction(nets[:3], [1.0, 2.0], table)


def test_correction_toward_another_accelerator(table, nets):
    other = LayerTable.from_model(load_arch(ROOT / "configs" / "simba-like.yaml"))
    y = [other.network(n)["latency_s"] for n in nets]
    _, df = correction_study(nets, y, table, train_fraction=0.5, seed=1)
    assert df.attrs["mape_before"] > 1.0  # the table is for a 5x slower chip
    assert df.attrs["mape_after"] < 0.05 * df.attrs["mape_before"]


def test_space_hardware(eyeriss):
    hw = SpaceHardware(SPACE, eyeriss)
    a = nb201.index_to_arch(123)
    m = hw(a)
    ref = NetworkEvaluator(eyeriss).network(nb201.build_network(a))
    assert m["latency_s"] == pytest.approx(ref.latency_s, rel=1e-9) and m["macs"] == ref.macs
    fb = get_space("fbnet").subspaces()["k3/e1"]
    hw2 = SpaceHardware(fb, eyeriss)
    arch = fb.sample(np.random.Generator(np.random.PCG64(2)))
    net = fb.build_network(arch)
    assert hw2(arch)["latency_s"] == pytest.approx(hw2.table.evaluator.network(net).latency_s, rel=1e-12)
    assert hw2.unique_layer_shapes == len({la.shape_key() for la in net.layers})
