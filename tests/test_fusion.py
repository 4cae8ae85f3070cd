"""Inter-layer on-chip reuse (mapper.fusion): the fused-pair equations against a literal two-layer walk, the
network pass's guarantees (never more DRAM traffic, compulsory traffic when everything fits, honest capacity),
``fusion: none`` = the single-layer numbers, and the config block's errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from accel.arch import ConfigError, load_arch, parse_arch
from accel.cost import evaluate
from accel.layout import OP_INPUTS, OP_WEIGHTS
from accel.workload import OPERANDS, Layer, NetworkBuilder, window_out_size
from mapper.fusion import dram_bits, edge_slots, relocate
from mapper.network import NetworkEvaluator

try:
    from tests.reference_fusion_walker import isclose, walk_pair
    from tests.test_cost_reference import SETTINGS, conventions, mappings
except ImportError:  # pragma: no cover
    from reference_fusion_walker import isclose, walk_pair
    from test_cost_reference import SETTINGS, conventions, mappings


# ---- the fused pair against the literal walker ------------------------------------------------------------
def _subset(draw, items):
    return [x for x in items if draw(st.booleans())]


@st.composite
def fusion_archs(draw):
    """DRAM, the fusion buffer X (shared, one instance), optionally a fanned-out buffer, 1–2 per-PE levels."""
    levels = [dict(name="DRAM", word_bits=64, keeps=list(OPERANDS), read_energy_pj=100.0, write_energy_pj=120.0,
                   read_bandwidth_bits=64, write_bandwidth_bits=draw(st.sampled_from([32, 64])))]
    keeps = _subset(draw, OPERANDS)
    levels.append(dict(name="X", size_bytes=1e9, word_bits=32, keeps=keeps, bypass_optional=_subset(draw, keeps),
                       read_energy_pj=8.0, write_energy_pj=9.0, read_bandwidth_bits=draw(st.sampled_from([16, 128])),
                       shared_port=draw(st.booleans())))
    if draw(st.booleans()):
        keeps = _subset(draw, OPERANDS)
        levels.append(dict(name="B1", size_bytes=1e9, word_bits=32, keeps=keeps, bypass_optional=_subset(draw, keeps),
                           read_energy_pj=4.0, write_energy_pj=4.0, fanout=dict(x=draw(st.integers(1, 2)), y=1)))
    for i in range(draw(st.integers(1, 2))):
        keeps = _subset(draw, OPERANDS)
        levels.append(dict(name=f"RF{i}", size_bytes=1e9, word_bits=16, keeps=keeps, per_pe=True,
                           bypass_optional=_subset(draw, keeps), read_energy_pj=1.0, write_energy_pj=1.5))
    return parse_arch(dict(
        version=1, name="fz", clock_mhz=100.0, static_power_mw=draw(st.sampled_from([0.0, 5.0])),
        bitwidths=dict(weights=8, inputs=draw(st.sampled_from([8, 16])), outputs=16, psums=24),
        pe_array=dict(rows=draw(st.integers(1, 2)), cols=draw(st.integers(1, 3)), macs_per_pe=1, mac_energy_pj=2.0),
        noc=dict(multicast=draw(st.booleans()), spatial_reduction=draw(st.booleans()), energy_pj_per_bit=0.01),
        dataflow=dict(preset="unconstrained"), levels=levels,
        conventions=draw(conventions([lv["name"] for lv in levels])),
        fusion=dict(policy="elementwise", level="X")))


@st.composite
def chains(draw):
    """A conv producer and a consumer of its output: (u, v, operand slot of v that u fills)."""
    u = Layer("u", "conv", N=draw(st.integers(1, 2)), K=draw(st.integers(1, 2)), C=draw(st.integers(1, 2)),
              P=draw(st.integers(1, 3)), Q=draw(st.integers(1, 3)), R=draw(st.integers(1, 2)), S=draw(st.integers(1, 2)),
              stride=(draw(st.integers(1, 2)), 1))
    kind = draw(st.sampled_from(["conv", "maxpool", "add", "relu"]))
    if kind in ("conv", "maxpool"):
        r, s = draw(st.integers(1, 3)), draw(st.integers(1, 2))
        pad, st_h = draw(st.integers(0, 1)), draw(st.integers(1, 2))
        p = window_out_size(u.P, r, st_h, pad, pad)
        q = window_out_size(u.Q, s, 1, pad, pad)
        if p < 1 or q < 1:
            r, s, pad, st_h, p, q = 1, 1, 0, 1, u.P, u.Q
        k = dict(K=draw(st.integers(1, 2)), C=u.K) if kind == "conv" else dict(K=u.K)
        v = Layer("v", kind, N=u.N, P=p, Q=q, R=r, S=s, stride=(st_h, 1), padding=(pad, pad, pad, pad), **k)
        return u, v, OP_INPUTS
    v = Layer("v", kind, N=u.N, K=u.K, P=u.P, Q=u.Q, binary=kind == "add")
    return u, v, draw(st.sampled_from([OP_INPUTS, OP_WEIGHTS])) if kind == "add" else OP_INPUTS


@st.composite
def pair_cases(draw):
    u, v, o = draw(chains())
    arch = draw(fusion_archs())
    return u, v, o, arch, draw(mappings(u, arch)), draw(mappings(v, arch))


@settings(max_examples=30, **SETTINGS)
@given(pair_cases())
def test_fused_pair_matches_literal_walk(case):
    _check_pair(*case)


def _check_pair(u, v, o, arch, mu, mv):
    X = 1
    cu, cv = evaluate(u, arch, mu), evaluate(v, arch, mv)
    assert cu.valid and cv.valid
    fused = [relocate(u, arch, mu, X, {}, True), relocate(v, arch, mv, X, {o: 1.0}, False)]
    ref, unfused = walk_pair(u, v, o, arch, mu, mv, X)
    names = arch.level_names
    for i, (c, c0, layer) in enumerate(zip(fused, (cu, cv), (u, v))):
        # the single-layer record is the walker's (tests/test_cost_reference.py) with the serial bits timed once
        assert isclose(c0.energy_pj, unfused.energy_pj[i]) and isclose(c0.latency_cycles, unfused.latency_cycles[i])
        for lv, n in enumerate(names):
            for q, on in enumerate(OPERANDS):
                for what, k, r in (("reads", c.reads, ref.reads), ("writes", c.writes, ref.writes)):
                    assert isclose(k[n][on], r[i][lv, q]), (layer.name, what, n, on, k[n][on], r[i][lv, q])
        assert isclose(c.latency_cycles, ref.latency_cycles[i]), (layer.name, c.latency_cycles, ref.latency_cycles[i])
        assert isclose(c.energy_pj, ref.energy_pj[i]), (layer.name, c.energy_pj, ref.energy_pj[i])
        assert isclose(dram_bits(c0, arch), _dram(unfused, i, arch))
    assert isclose(dram_bits(fused[0], arch) + dram_bits(fused[1], arch), ref.dram_bits)
    # the intermediate crosses no DRAM port
    assert fused[0].reads["DRAM"]["outputs"] == fused[0].writes["DRAM"]["outputs"] == 0
    assert fused[1].reads["DRAM"][OPERANDS[o]] == 0


def test_fused_pair_psum_read_backs_in_place():
    """Partial sums revisited at DRAM's loops (C outside K) are read back from X in place: hand-built case."""
    from accel.cost import Mapping

    lv = dict(word_bits=16, keeps=list(OPERANDS), read_energy_pj=1.0, write_energy_pj=2.0)
    for drain_read in (False, True):
        arch = parse_arch(dict(
            version=1, name="h", clock_mhz=1.0, pe_array=dict(rows=1, cols=1, mac_energy_pj=1.0),
            levels=[dict(name="DRAM", **lv), dict(name="X", size_bytes=1e6, **lv),
                    dict(name="RF", size_bytes=1e6, per_pe=True, **lv)],
            conventions=dict(psum_drain_read=drain_read), fusion=dict(policy="depth_first", tile_rows=1)))
        u = Layer("u", "conv", K=2, C=3, P=2)
        v = Layer("v", "conv", K=1, C=2, P=2)
        T = np.ones((3, 8), dtype=np.int64)
        T[0, 3], T[0, 2], T[1, 4] = 3, 2, 2  # DRAM: C3 outside K2; X: P2
        order = np.array([[3, 2, 0, 1, 4, 5, 6, 7]] + [list(range(8))] * 2, dtype=np.int64)
        one = np.ones((4, 8), dtype=np.int64)
        mu = Mapping(T, one, one, order, np.ones((3, 3), dtype=np.int64))
        mv = Mapping(np.ones((3, 8), dtype=np.int64) * np.array([1, 1, 1, 2, 2, 1, 1, 1]), one, one,
                     np.array([list(range(8))] * 3, dtype=np.int64), np.ones((3, 3), dtype=np.int64))
        assert evaluate(u, arch, mu).reads["DRAM"]["outputs"] == 8  # (3 − 1) read-backs × 2 K × 2 P
        _check_pair(u, v, OP_INPUTS, arch, mu, mv)


def _dram(res, i, arch):
    a = arch.arrays
    return float(((res.reads[i][0] + res.writes[i][0]) * a.op_bits[0]).sum())


def test_relocate_nothing_is_identity():
    arch = load_arch("eyeriss")
    layer = Layer("c", "conv", K=16, C=16, P=8, Q=8, R=3, S=3)
    from mapper.search import search_mapping

    best = search_mapping(layer, arch, samples=300, rounds=5, restarts=1)
    r = relocate(layer, arch, best.mapping, 1, {OP_INPUTS: 0.0}, False)
    assert np.array_equal(r.raw, best.cost.raw)


# ---- the network pass ----------------------------------------------------------------------------------------
def _buffer_arch(glb_bytes: float, keeps=("weights", "inputs", "outputs"), **fusion):
    return parse_arch(dict(
        version=1, name="buf", clock_mhz=200.0, static_power_mw=1.0,
        bitwidths=dict(weights=8, inputs=8, outputs=8, psums=24),
        pe_array=dict(rows=4, cols=4, mac_energy_pj=1.0),
        noc=dict(multicast=True, spatial_reduction=True, energy_pj_per_bit=0.01),
        dataflow=dict(preset="unconstrained"),
        levels=[dict(name="DRAM", word_bits=64, keeps=["weights", "inputs", "outputs"], read_bandwidth_bits=64,
                     read_energy_pj=200.0, write_energy_pj=200.0),
                dict(name="GLB", size_bytes=glb_bytes, word_bits=64, keeps=list(keeps), read_bandwidth_bits=256,
                     read_energy_pj=10.0, write_energy_pj=10.0),
                dict(name="RF", per_pe=True, size_bytes=256, word_bits=16, keeps=["weights", "inputs", "outputs"],
                     read_energy_pj=0.5, write_energy_pj=0.5)],
        fusion=fusion or dict(policy="none")))


@st.composite
def small_networks(draw):
    """Random small CNNs: conv / relu / pool / residual add, 3–7 layers."""
    b = NetworkBuilder("rand")
    c = draw(st.sampled_from([2, 4, 8]))
    hw = draw(st.sampled_from([4, 6, 8]))
    x = b.input(1, c, hw, hw)
    skip = None
    for i in range(draw(st.integers(3, 7))):
        kind = draw(st.sampled_from(["conv", "conv", "relu", "pool", "add"]))
        if kind == "conv":
            k = draw(st.sampled_from([1, 3]))
            x = b.conv(x, draw(st.sampled_from([2, 4, 8])), kernel=k, padding=k // 2, name=f"conv{i}")
            skip = skip if skip is not None and skip.shape == x.shape else None
        elif kind == "relu":
            x = b.eltwise("relu", x, name=f"relu{i}")
        elif kind == "pool" and x.shape[2] > 2:
            x = b.pool(x, "max", 2, name=f"pool{i}")
        elif kind == "add" and skip is not None and skip.shape == x.shape and skip.producer != x.producer:
            x = b.add(x, skip, name=f"add{i}")
        if draw(st.booleans()):
            skip = x
    return b.build()


@settings(max_examples=25, deadline=None)
@given(small_networks(), st.sampled_from([512, 2048, 8192, 65536]), st.sampled_from(["elementwise", "depth_first"]),
       st.sampled_from(["edp", "energy"]))
def test_fusion_never_increases_dram_traffic(net, glb, policy, objective):
    fz = dict(policy=policy, tile_rows=2) if policy == "depth_first" else dict(policy=policy)
    base = NetworkEvaluator(_buffer_arch(glb), objective, effort="fast").network(net)
    arch = _buffer_arch(glb, **fz)
    res = NetworkEvaluator(arch, objective, effort="fast").network(net)
    rep = res.fusion
    before = sum(dram_bits(r.cost, arch) for r in base.layers)
    after = sum(dram_bits(r.cost, arch) for r in res.layers)
    assert rep.dram_bits_unfused == pytest.approx(before) and rep.dram_bits == pytest.approx(after)
    assert after <= before * (1 + 1e-12)
    assert (after < before) == (rep.edges_on_chip > 0)
    if objective == "energy":
        assert res.energy_pj <= base.energy_pj * (1 + 1e-9)
    # honest capacity: every layer's own tiles fit in what the held tensors leave of the buffer
    cap = 8 * arch.config.levels[1].size_bytes
    for r in res.layers:
        lf = rep.layers[r.layer.name]
        assert sum(r.cost.tile_bits["GLB"].values()) + lf.reserved_bits <= cap * (1 + 1e-12)
    # every on-chip edge is reported with a reservation; a layer reading from chip has an on-chip in-edge
    on = {(e.producer, e.consumer) for e in rep.edges if e.on_chip}
    assert all(e.reserved_bits > 0 for e in rep.edges if e.on_chip)
    for name, lf in rep.layers.items():
        assert bool(lf.from_chip) == any(v == name for _, v in on)
        if lf.output_on_chip:
            assert all((name, v) in on for v in net.graph.successors(name))


def _residual_net():
    b = NetworkBuilder("res")
    x = b.input(1, 4, 8, 8)
    y = b.conv(x, 8, kernel=3, padding=1, name="conv1")
    y = b.eltwise("relu", y, name="relu1")
    z = b.conv(y, 8, kernel=3, padding=1, name="conv2")
    z = b.add(z, y, name="add")
    z = b.pool(z, "max", 2, name="pool")
    b.conv(z, 4, kernel=1, name="conv3")
    return b.build()


def test_all_on_chip_reaches_compulsory_traffic():
    """Activations that all fit: DRAM moves the weights once, the network input once, the output once."""
    net = _residual_net()
    arch = _buffer_arch(1 << 20, policy="depth_first", tile_rows=64)
    res = NetworkEvaluator(arch, "energy", effort="fast").network(net)
    rep = res.fusion
    assert rep.edges_on_chip == len(rep.edges) == net.graph.number_of_edges()
    layers = {layer.name: layer for layer in net.layers}
    bits = 8
    weights = sum(layer.operand_sizes()[0] for layer in layers.values() if layer.is_mac)
    compulsory = bits * (weights + 4 * 8 * 8 + layers["conv3"].operand_sizes()[2])
    # the first conv reads its padded input: the padding is charged as reads (single-layer convention)
    pad_extra = bits * 4 * (10 * 10 - 8 * 8)
    assert rep.dram_bits == pytest.approx(compulsory + pad_extra)
    assert rep.dram_bits < rep.dram_bits_unfused


def test_none_reproduces_single_layer_numbers():
    net = _residual_net()
    plain = _buffer_arch(4096)
    explicit = parse_arch({**plain.config.model_dump(mode="python"), "fusion": {"policy": "none"}})
    assert explicit.digest() == plain.digest()
    a = NetworkEvaluator(plain, effort="fast").network(net)
    b = NetworkEvaluator(explicit, effort="fast").network(net)
    assert b.fusion is None and "fusion" not in b.to_json()
    for x, y in zip(a.layers, b.layers):
        assert np.array_equal(x.cost.raw, y.cost.raw)


def test_elementwise_policy_keeps_only_elementwise_edges():
    net = _residual_net()
    res = NetworkEvaluator(_buffer_arch(1 << 20, policy="elementwise"), "energy", effort="fast").network(net)
    ops = {layer.name: layer.op for layer in net.layers}
    for e in res.fusion.edges:
        assert e.on_chip == (ops[e.consumer] in ("relu", "add", "maxpool")), e
    j = res.to_json()
    assert j["fusion"]["edges_on_chip"] == res.fusion.edges_on_chip
    assert j["layers"][0]["fusion"]["dram_bits_saved"] == res.fusion.layers["conv1"].dram_bits_saved
    df = res.to_frame()
    assert df["fusion_dram_bits_saved"].sum() == pytest.approx(res.fusion.dram_bits_saved)


def test_edge_slots_of_two_operand_layers():
    b = NetworkBuilder("slots")
    x = b.input(1, 4, 4, 4)
    y = b.conv(x, 4, kernel=1, name="c")
    b.add(x, y, name="add_in")  # the network input fills the first slot: the conv's slot is unknown
    z = b.conv(x, 4, kernel=1, name="d")
    b.add(y, z, name="add_two")
    s = edge_slots(b.build())
    assert s[("c", "add_in")] == (None, 0.0)
    assert s[("c", "add_two")] == (OP_INPUTS, 1.0) and s[("d", "add_two")] == (OP_WEIGHTS, 1.0)


def test_fusion_config_errors():
    base = load_arch("eyeriss").config.model_dump(mode="python")
    with pytest.raises(ConfigError) as e:
        parse_arch({**base, "fusion": {"policy": "depth_first"}})
    assert "fusion.tile_rows" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse_arch({**base, "fusion": {"policy": "elementwise", "level": "spad"}})
    assert "fusion.level" in str(e.value) and "single shared buffer" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse_arch({**base, "fusion": {"policy": "elementwise", "level": "nope"}})
    assert "no level named 'nope'" in str(e.value)
    with pytest.raises(ConfigError) as e:
        parse_arch({**base, "fusion": {"policy": "elementwise", "tile_rows": 4}})
    assert "depth_first only" in str(e.value)
    with pytest.raises(ConfigError):
        parse_arch({**base, "fusion": {"policy": "sometimes"}})


def test_bands_cover_the_layer_and_add_up():
    """depth_first bands: the rows add up to P, and the summed record is the per-band records run in turn."""
    from mapper.fusion import banded, sum_records
    from mapper.search import search_mapping

    arch = _buffer_arch(4096)
    layer = Layer("c", "conv", K=4, C=4, P=7, Q=6, R=3, S=3)
    parts = banded(layer, 3)
    assert [(b.P, n) for b, n in parts] == [(3, 2), (1, 1)] and banded(layer, 7) == [(layer, 1)]
    recs = [(search_mapping(b, arch, samples=300, rounds=5, restarts=1).cost, n) for b, n in parts]
    tot = sum_records(recs, arch)
    assert tot.points == layer.points
    assert tot.latency_cycles == pytest.approx(sum(c.latency_cycles * n for c, n in recs))
    assert tot.energy_pj == pytest.approx(sum(c.energy_pj * n for c, n in recs))
    assert dram_bits(tot, arch) == pytest.approx(sum(dram_bits(c, arch) * n for c, n in recs))
    # each band fetches the weights again: at least once per band
    assert tot.reads["DRAM"]["weights"] >= 3 * layer.operand_sizes()[0]


def test_depth_first_streams_a_tensor_that_does_not_fit_whole_in_bands():
    b = NetworkBuilder("band")
    x = b.input(1, 4, 32, 32)
    y = b.conv(x, 8, kernel=3, padding=1, name="c1")
    b.conv(y, 2, kernel=3, padding=1, name="c2")
    net = b.build()
    res = NetworkEvaluator(_buffer_arch(4096, policy="depth_first", tile_rows=4), "edp", effort="fast").network(net)
    (e,) = res.fusion.edges
    assert e.tensor_bits == 8 * 32 * 32 * 8 > 4096 * 8  # the whole tensor does not fit the 4 KiB buffer
    # line buffer: one band of c1 (4 rows) + the rows c2's band reads ((4 − 1)·1 + 3 = 6), 32 × 8 values each
    assert e.on_chip and e.mode == "band" and e.reserved_bits == (4 + 6) * 32 * 8 * 8
    c1, c2 = (res.fusion.layers[n] for n in ("c1", "c2"))
    assert c1.band_rows == c2.band_rows == 4 and c1.output_on_chip and c2.from_chip == {OP_INPUTS: 1.0}
    costs = {r.layer.name: r.cost for r in res.layers}
    assert costs["c1"].writes["DRAM"]["outputs"] == costs["c1"].reads["DRAM"]["outputs"] == 0
    assert costs["c2"].reads["DRAM"]["inputs"] == 0
    assert res.fusion.dram_bits < res.fusion.dram_bits_unfused


def test_eval_reports_fusion_and_per_layer_costs_are_refused(tmp_path, capsys):
    import yaml

    from accel.app.cli import main
    from accel.errors import ConfigInputError

    cfg = tmp_path / "fused.yaml"
    cfg.write_text(yaml.safe_dump({**_buffer_arch(1 << 16).config.model_dump(mode="json"),
                                   "fusion": {"policy": "elementwise"}}))
    spec = "layer:conv K=8 C=4 P=8 Q=8 R=3 S=3"
    assert main(["eval", spec, "--hw", str(cfg), "--effort", "fast"]) == 0
    assert "fusion elementwise in GLB: 0/0 edges on chip" in capsys.readouterr().out
    assert main(["eval", spec, "--hw", str(cfg), "--effort", "fast", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fusion"]["policy"] == "elementwise" and out["layers"][0]["fusion"]["dram_bits_saved"] == 0
    with pytest.raises(ConfigInputError, match="fusion.policy elementwise is a whole-network effect"):
        NetworkEvaluator(load_arch(cfg)).layer(Layer("c", "conv", K=4, C=4, P=4, Q=4))
