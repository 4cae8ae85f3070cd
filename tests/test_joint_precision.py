"""Per-layer precision in the accelsim model, bitwidths.json, the cost table and the hardware space."""

import json

import numpy as np
import pytest

from mapper.network import evaluate_network
from accel.workload import Layer, NetworkBuilder
from nas.joint.costtable import build_cost_table
from nas.joint.hwspace import HwSpaceError, load_hw_space
from accel.precision import BitwidthsError, BitwidthsFileError, PrecisionLaw, load_bitwidths, write_bitwidths
from nas.joint.precision import PrecisionEvaluator, evaluate_with_bitwidths, parse_bit_choices
from nas.joint.space import OPS, FBNetSpace

from .conftest import ROOT


def test_bitfusion_lanes():
    law = PrecisionLaw("bitfusion", 2)
    assert [law.mac_lanes(b, b, 16) for b in (16, 8, 6, 4, 2)] == [1, 4, 4, 16, 64]
    assert law.mac_lanes(4, 8, 16) == 8 and law.mac_lanes(5, 5, 16) == 4  # 5 bits use 3 bricks
    assert law.op_lanes(4, 16) == 4 and law.op_lanes(16, 16) == 1
    assert PrecisionLaw("none").mac_lanes(4, 4, 16) == 1
    with pytest.raises(BitwidthsError):
        PrecisionLaw("bitserial")


def test_parse_bit_choices():
    assert parse_bit_choices("4,6,8,16") == ((4, 4), (6, 6), (8, 8), (16, 16))
    assert parse_bit_choices("4x8, 8") == ((4, 8), (8, 8))
    for bad in ("4,4", "x", "0", "4y8", "64", "33", "4x-8", "²", "9" * 5000):
        with pytest.raises(BitwidthsError):
            parse_bit_choices(bad)


def test_precision_variant(eyeriss):
    ev = PrecisionEvaluator(eyeriss, PrecisionLaw())
    v = ev.variant((4, 8))
    assert v.config.bitwidths.weights == 4 and v.config.bitwidths.inputs == 8 and v.config.bitwidths.outputs == 8
    assert v.config.bitwidths.psums == eyeriss.config.bitwidths.psums
    assert v.config.pe_array.macs_per_pe == 8 and v.peak_macs_per_cycle == 8 * eyeriss.peak_macs_per_cycle
    assert v.arrays.mac_energy_pj == pytest.approx(eyeriss.arrays.mac_energy_pj * 4 * 8 / 256)
    op = ev.variant((4, 8), mac=False)  # element-wise: activations everywhere, adders split by 16/8
    assert op.config.bitwidths.weights == 8 and op.config.pe_array.macs_per_pe == 2
    assert ev.variant(None) is eyeriss
    with pytest.raises(BitwidthsError, match="reference precision"):
        ev.variant((32, 8))
    # lower precision is cheaper and (Bit-Fusion) faster on a compute-bound layer
    layer = Layer("c", "conv", K=64, C=64, P=16, Q=16, R=3, S=3)
    c16, c4 = ev.layer(layer, (16, 16)).cost, ev.layer(layer, (4, 4)).cost
    assert c4.latency_cycles < c16.latency_cycles / 2 and c4.energy_pj < c16.energy_pj


def _net():
    b = NetworkBuilder("tiny")
    x = b.input(1, 8, 8, 8)
    y = b.conv(x, 16, 3, 1, 1, name="c1", source=("onnx_c1", "onnx_relu1"))
    z = b.conv(y, 16, 1, name="c2", source=("onnx_c2",))
    b.add(z, y, name="add")
    return b.build()


def test_evaluate_with_bitwidths(tmp_path, eyeriss):
    net = _net()
    empty = {"format": "accelsim-bitwidths/1", "layers": {}}
    base = evaluate_network(net, eyeriss)
    same = evaluate_with_bitwidths(net, eyeriss, empty)
    assert same.latency_s == base.latency_s and same.energy_pj == base.energy_pj
    path = write_bitwidths(tmp_path / "bw.json", {"onnx_relu1": {"weights": 4, "activations": 4},
                                                  "add": {"weights": 8, "activations": 8}}, PrecisionLaw())
    res = evaluate_with_bitwidths(net, eyeriss, path)
    ev = PrecisionEvaluator(eyeriss, PrecisionLaw())
    layers = net.layers
    want = [ev.layer(layers[0], (4, 4)).cost, ev.layer(layers[1], None).cost, ev.layer(layers[2], (8, 8)).cost]
    assert res.latency_s == pytest.approx(sum(c.latency_s for c in want), rel=1e-12)
    assert res.energy_pj == pytest.approx(sum(c.energy_pj for c in want), rel=1e-12)
    assert res.meta["bitwidths"] == {"c1": [4, 4], "add": [8, 8]}
    assert res.latency_s < base.latency_s
    json.dumps(res.to_json())  # the eval JSON contract still serialises


def test_bitwidths_file_errors(tmp_path, eyeriss):
    p = tmp_path / "bw.json"
    p.write_text("{not json")
    with pytest.raises(BitwidthsError, match="not valid JSON"):
        load_bitwidths(p)
    with pytest.raises(BitwidthsError, match="no such file"):
        load_bitwidths(tmp_path / "missing.json")
    p.write_text(json.dumps({"format": "accelsim-bitwidths/1", "layers": {"x": {"weights": 4}}, "extra": 1}))
    with pytest.raises(BitwidthsFileError) as e:
        load_bitwidths(p)
    assert dict(e.value.errors) == {"layers.x.activations": "required key missing", "extra": "unknown key"}
    assert isinstance(e.value, BitwidthsError) and str(p) in str(e.value)
    doc = {"format": "accelsim-bitwidths/1", "layers": {"nope": {"weights": 4, "activations": 4}}}
    with pytest.raises(BitwidthsError, match="not in network"):
        evaluate_with_bitwidths(_net(), eyeriss, doc)


def test_cost_table_equals_network_evaluation(eyeriss):
    """The table's totals are the accelsim evaluation of the same network at the same precisions."""
    space = FBNetSpace.cifar(width_mult=0.25, max_depth=1, num_stages=2, resolution=8)
    bits = ((4, 4), (8, 8))
    alt = eyeriss.with_config(pe_array={**eyeriss.config.pe_array.model_dump(), "rows": 6, "cols": 28})
    table = build_cost_table(space, bits, [eyeriss, alt], ["eyeriss", "6x28"])
    assert table.shape == (2, len(OPS), 2, 2)
    from nas.joint.pipeline import network_bitwidths

    evs = [PrecisionEvaluator(a, PrecisionLaw()) for a in (eyeriss, alt)]
    for ops, bsel in (([0, 3], [0, 1]), ([8, 6], [1, 0]), ([5, 8], [0, 0])):
        lat, en = table.totals(ops, bsel)
        bw = network_bitwidths(space, ops, [bits[b] for b in bsel], PrecisionLaw())
        for d, arch in enumerate((eyeriss, alt)):
            res = evaluate_with_bitwidths(space.build_network(ops), arch, bw, evaluator=evs[d])
            assert lat[d] == pytest.approx(res.latency_s, rel=1e-12)
            assert en[d] == pytest.approx(res.energy_pj, rel=1e-12)
    # identity skip costs nothing; a stride-1 same-width block has a residual add
    assert space.slots[0].residual(OPS[8]) and np.all(table.latency_s[0, 8] == 0)
    assert [lay.op for lay in space.block_layers(space.slots[0], OPS[2])] == ["conv", "conv", "conv", "add"]


def _spec(tmp_path, params, extra=""):
    p = tmp_path / "hw.yaml"
    p.write_text(f"version: 1\nname: t\nbase: {ROOT / 'configs' / 'eyeriss.yaml'}\nparameters:\n{params}{extra}")
    return p


def test_hw_space(tmp_path):
    hw = load_hw_space(_spec(tmp_path, "  - path: [pe_array.rows, pe_array.cols]\n    values: [[12, 14], [6, 28]]\n"
                                       "  - path: levels.GLB.size_bytes\n    values: [27648, 55296, 110592]\n"))
    assert hw.n_designs == 6 and [len(d.values) for d in hw.dims] == [2, 3]
    assert hw.index.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
    assert hw.archs[4].config.pe_array.cols == 28 and hw.archs[4].config.levels[1].size_bytes == 55296
    assert hw.design_of([1, 2]) == 5 and hw.reference.name == "eyeriss"
    with pytest.raises(HwSpaceError, match="per-layer bitwidths"):
        load_hw_space(_spec(tmp_path, "  - path: bitwidths.weights\n    values: [8, 16]\n"))
    # the power budget is kept for the search (issue 15), not refused
    assert load_hw_space(_spec(tmp_path, "  - path: pe_array.rows\n    values: [8, 12]\n",
                               "constraints:\n  max_power_mw: 100\n")).max_power_mw == 100
    with pytest.raises(HwSpaceError, match="parameters\\[0\\].path"):
        load_hw_space(_spec(tmp_path, "  - path: pe_array.nope\n    values: [8, 12]\n"))


def test_cost_table_marks_designs_that_cannot_run_a_candidate(eyeriss):
    """Row-stationary runs a whole filter row in each PE: a 4-word input scratchpad cannot hold 5 taps."""
    space = FBNetSpace.cifar(width_mult=0.25, max_depth=1, num_stages=1, resolution=8)
    levels = eyeriss.config.model_dump(mode="python")["levels"]
    levels[2]["partitions_bytes"]["inputs"] = 8  # 4 16-bit words
    short = eyeriss.with_config(levels=levels)
    table = build_cost_table(space, ((16, 16),), [eyeriss, short], ["eyeriss", "spad4"])
    assert table.valid_designs().tolist() == [True, False]
    k5 = [i for i, o in enumerate(OPS) if o.kernel == 5]
    assert np.isnan(table.latency_s[0, k5, 0, 1]).all() and np.isfinite(table.latency_s[0, :4, 0, 1]).all()
    assert table.meta["unmappable"] and all(m.startswith("spad4: ") for m in table.meta["unmappable"])
