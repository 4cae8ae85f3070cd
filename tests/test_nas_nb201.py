"""NAS-Bench-201 space: encodings, the official index table, accuracy oracle and network construction.

MAC counts are checked against plain arithmetic restated from the NAS-Bench-201 macro skeleton
(``TinyNetwork``), never against the builder.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import io

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from nas import nb201
from nas.nb201 import NB201Error, NB201Space

# sha256 of shared/data/nasbench201_accuracy.csv.gz, the copy shipped as nas/data/ (shared/ is absent in users' clones)
SHARED_TABLE_SHA256 = "9079c4be561d26a6829ddeda4afb2f9e1fc6b3996a0576ebd86e5746f10cc8de"

ALL_CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
ALL_SKIP = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|"
BEST_C10 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_1x1~2|"


# ---- hand arithmetic ------------------------------------------------------------------------------
def conv_macs(cin: int, cout: int, k: int, hout: int) -> int:
    return cin * cout * k * k * hout * hout


def skeleton_macs(res: int, classes: int) -> int:
    """Stem + two reduction blocks + classifier of TinyNetwork(C=16, N=5)."""
    m = conv_macs(3, 16, 3, res)
    for c_in, h_out in ((16, res // 2), (32, res // 4)):
        m += conv_macs(c_in, 2 * c_in, 3, h_out)  # conv_a, stride 2
        m += conv_macs(2 * c_in, 2 * c_in, 3, h_out)  # conv_b
        m += conv_macs(c_in, 2 * c_in, 1, h_out)  # shortcut 1x1 after the 2x2 avg pool
    return m + 64 * classes


def cells_macs(res: int, n1x1: int, n3x3: int) -> int:
    """Five cells per stage, C = 16/32/64 at res, res/2, res/4; every cell conv is C -> C."""
    total = 0
    for c, h in ((16, res), (32, res // 2), (64, res // 4)):
        total += 5 * (n1x1 * conv_macs(c, c, 1, h) + n3x3 * conv_macs(c, c, 3, h))
    return total


# ---- table, index and string round trips ---------------------------------------------------------------
def test_shipped_table_is_the_shared_copy():
    raw = importlib.resources.files("nas").joinpath("data", "nasbench201_accuracy.csv.gz").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == SHARED_TABLE_SHA256
    with gzip.open(io.BytesIO(raw)) as f:
        shared = pd.read_csv(f)
    pd.testing.assert_frame_equal(nb201.accuracy_table(), shared)


def test_index_arch_round_trip_all_archs():
    table = nb201.accuracy_table()
    assert len(table) == nb201.N_ARCHS == 15625
    seen = set()
    for i, s in zip(table["index"], table["arch"]):
        a = nb201.index_to_arch(i)
        assert nb201.arch_str(a) == s  # our formatter reproduces the official string exactly
        assert nb201.parse_arch(s) == a
        assert nb201.arch_to_index(s) == i
        assert nb201.arch_to_index(a) == i
        assert nb201.code_to_arch(nb201.arch_to_code(a)) == a
        seen.add(a)
    assert len(seen) == 15625
    assert [nb201.arch_str(a) for a in nb201.all_archs()] == list(table["arch"])
    assert list(nb201.arch_strings()) == list(table["arch"])


def test_official_order_is_not_the_code_order():
    assert nb201.arch_str(0) == ("|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+"
                                 "|nor_conv_1x1~0|skip_connect~1|skip_connect~2|")
    assert nb201.arch_to_code(ALL_NONE) == 0
    assert nb201.arch_to_code(("avg_pool_3x3",) * 6) == 15624


def test_vectors_round_trip():
    rng = np.random.default_rng(1)
    idx = rng.choice(15625, 200, replace=False)
    archs = [nb201.index_to_arch(i) for i in idx]
    V = nb201.to_vectors(archs)
    assert V.shape == (200, 30)
    assert np.all(V.sum(axis=1) == 6)
    for a, v in zip(archs, V):
        np.testing.assert_array_equal(nb201.to_vector(a), v)
        assert nb201.from_vector(v) == a
        assert nb201.from_vector(v.reshape(6, 5)) == a
    v = nb201.to_vector(BEST_C10).reshape(6, 5)
    assert v[0, nb201.OPS.index("nor_conv_3x3")] == 1 and v[5, nb201.OPS.index("nor_conv_1x1")] == 1


@pytest.mark.parametrize("bad", [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|",  # two nodes
    "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|",  # unknown op
    "|none~1|+|none~0|none~1|+|none~0|none~1|none~2|",  # wrong source
    "|none~0|+|none~0|+|none~0|none~1|none~2|",  # wrong fan-in
    "none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
])
def test_parse_rejects_malformed(bad):
    with pytest.raises(NB201Error):
        nb201.parse_arch(bad)


def test_bad_inputs():
    with pytest.raises(NB201Error):
        nb201.index_to_arch(15625)
    with pytest.raises(NB201Error):
        nb201.as_arch(("none",) * 5)
    with pytest.raises(NB201Error):
        nb201.canonical_dataset("mnist")


# ---- accuracy oracle -------------------------------------------------------------------------------
def test_best_cifar10_cell():
    acc = nb201.accuracies("cifar10")
    assert int(np.argmax(acc)) == 6111
    assert round(nb201.nb201_accuracy(6111), 2) == 94.37
    assert nb201.arch_str(6111) == BEST_C10
    assert nb201.nb201_accuracy(BEST_C10) == nb201.nb201_accuracy(6111)
    assert nb201.nb201_accuracy(nb201.parse_arch(BEST_C10), "cifar10") == nb201.nb201_accuracy(6111)


def test_datasets_and_aliases():
    t = nb201.accuracy_table()
    for ds, col in (("cifar100", "cifar100_test_acc"), ("ImageNet16-120", "imagenet16_120_test_acc"),
                    ("imagenet16", "imagenet16_120_test_acc")):
        assert nb201.nb201_accuracy(1234, ds) == t.loc[1234, col]
    with pytest.raises(ValueError):
        nb201.accuracies()[0] = 1.0  # read-only


# ---- networks -------------------------------------------------------------------------------------
def test_macs_all_conv3x3_and_all_none_cifar10():
    assert skeleton_macs(32, 10) == 7_783_040  # NAS-Bench-201's minimum FLOPs (7.78 M)
    full = nb201.build_network(ALL_CONV3)
    assert full.macs == skeleton_macs(32, 10) + cells_macs(32, 0, 6) == 220_119_680  # its maximum (220.1 M)
    empty = nb201.build_network(ALL_NONE)
    assert empty.macs == 7_783_040
    assert full.count("conv") == 1 + 2 * 3 + 15 * 6 and full.count("add") == 2 + 15 * 3
    assert full.count("avgpool") == 2 + 1 and full.count("fc") == 1
    names = [layer.name for layer in empty.layers]
    assert names == ["stem", "reduce1.conv_a", "reduce1.conv_b", "reduce1.downsample.pool",
                     "reduce1.downsample.conv", "reduce1.add", "reduce2.conv_a", "reduce2.conv_b",
                     "reduce2.downsample.pool", "reduce2.downsample.conv", "reduce2.add", "gap", "classifier"]


def test_macs_best_cell_and_imagenet16():
    # 6111: four 3x3 convs and one 1x1 conv, all on input->output paths
    assert nb201.build_network(6111).macs == skeleton_macs(32, 10) + cells_macs(32, 1, 4) == 153_272_960
    assert nb201.build_network(6111, "cifar100").macs == skeleton_macs(32, 100) + cells_macs(32, 1, 4)
    net = nb201.build_network(ALL_CONV3, "imagenet16-120", batch=2)
    assert net.input_shape == (2, 3, 16, 16)
    assert net.macs == 2 * (skeleton_macs(16, 120) + cells_macs(16, 0, 6))
    fc = [layer for layer in net.layers if layer.op == "fc"]
    assert len(fc) == 1 and (fc[0].K, fc[0].C, fc[0].N) == (120, 64, 2)


def test_layer_shapes_in_a_cell():
    net = nb201.build_network("|nor_conv_1x1~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|none~2|",
                              prune=True)
    by_name = {layer.name: layer for layer in net.layers}
    # node 2 is dead (reaches the output only through none): its two edges are pruned (--prune-dead)
    assert "stage1.cell0.e02.avgpool3x3" not in by_name and "stage1.cell0.e12.conv3x3" not in by_name
    net = nb201.build_network("|nor_conv_1x1~0|+|avg_pool_3x3~0|nor_conv_3x3~1|+|skip_connect~0|none~1|"
                              "nor_conv_3x3~2|")
    by_name = {layer.name: layer for layer in net.layers}
    pool = by_name["stage2.cell3.e02.avgpool3x3"]
    assert (pool.op, pool.K, pool.P, pool.Q, pool.R, pool.S, pool.stride) == ("avgpool", 32, 16, 16, 3, 3, (1, 1))
    c1 = by_name["stage3.cell4.e01.conv1x1"]
    assert (c1.K, c1.C, c1.P, c1.R) == (64, 64, 8, 1)
    c3 = by_name["stage1.cell0.e23.conv3x3"]
    assert (c3.K, c3.C, c3.P, c3.R, c3.padding) == (16, 16, 32, 3, (1, 1, 1, 1))
    ds = by_name["reduce1.downsample.pool"]
    assert (ds.K, ds.P, ds.R, ds.stride) == (16, 16, 2, (2, 2))
    gap = by_name["gap"]
    assert (gap.K, gap.R, gap.S) == (64, 8, 8)
    # node 2 sums avgpool(x) and conv3x3(conv1x1(x)); node 3 sums x and conv3x3(node 2)
    assert by_name["stage1.cell0.n2.add1"].op == "add" and by_name["stage1.cell0.n3.add1"].op == "add"
    g = net.graph
    assert set(g.predecessors("stage1.cell0.n2.add1")) == {"stage1.cell0.e02.avgpool3x3", "stage1.cell0.e12.conv3x3"}
    assert set(g.predecessors("stage1.cell0.n3.add1")) == {"stem", "stage1.cell0.e23.conv3x3"}
    assert set(g.predecessors("stage1.cell1.e01.conv1x1")) == {"stage1.cell0.n3.add1"}
    assert nx.is_directed_acyclic_graph(g)


def test_none_costs_nothing_skip_costs_one_add():
    chain = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|none~0|none~1|nor_conv_3x3~2|"
    with_skip = "|nor_conv_3x3~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"
    a, b = nb201.build_network(chain), nb201.build_network(with_skip)
    assert a.macs == b.macs == skeleton_macs(32, 10) + cells_macs(32, 0, 3)
    assert b.count("add") - a.count("add") == 15 and len(b.layers) - len(a.layers) == 15
    # the all-skip cell costs exactly its sums: node 2 (2 inputs) 1 add, node 3 (3 inputs) 2 adds
    s = nb201.build_network(ALL_SKIP)
    assert s.macs == skeleton_macs(32, 10) and s.count("add") == 2 + 15 * 3 and len(s.layers) == 13 + 45
    # a lone skip path makes the cell the identity: no layers
    ident = nb201.build_network("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    assert len(ident.layers) == 13
    # replacing one conv by none removes 15 convs and the 15 adds that summed it
    one_less = ALL_CONV3.replace("nor_conv_3x3~1|nor_conv_3x3~2|", "none~1|nor_conv_3x3~2|")
    c = nb201.build_network(one_less)
    full = nb201.build_network(ALL_CONV3)
    assert full.count("conv") - c.count("conv") == 15 and full.count("add") - c.count("add") == 15


def test_all_none_cell_and_dead_code():
    net = nb201.build_network(ALL_NONE)  # cells output zeros: no cell layers, the skeleton stays
    assert nx.is_directed_acyclic_graph(net.graph) and len(net.layers) == 13
    assert list(net.graph.predecessors("reduce1.conv_a")) == []  # reads a constant
    dead = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"  # conv 0->1 feeds nothing
    assert nb201.cell_signature(dead, prune=True) == (0, 0, 0, 0)
    assert nb201.build_network(dead, prune=True).macs == skeleton_macs(32, 10)
    assert nb201.cell_signature(dead, prune=False) == (0, 1, 0, 0)
    assert nb201.build_network(dead, prune=False).macs == skeleton_macs(32, 10) + cells_macs(32, 0, 1)
    # no input->output path: the output is a constant, so with prune nothing is executed (no layers, 0 MACs)
    assert nb201.output_is_constant(ALL_NONE) and not nb201.output_is_constant(dead)
    assert len(nb201.build_network(ALL_NONE, prune=True).layers) == 0
    only_dead = "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|none~0|none~1|none~2|"  # node 3 gets nothing
    assert nb201.output_is_constant(only_dead) and nb201.build_network(only_dead, prune=True).macs == 0
    assert nb201.build_network(only_dead).macs > skeleton_macs(32, 10)
    zero_src = "|none~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|"  # node 1 is zero
    assert nb201.effective_edges(zero_src, prune=True) == ((0, 3, "skip_connect"),)
    assert nb201.cell_signature(zero_src, prune=False) == (1, 0, 0, 1)


def test_signature_matches_network_for_every_arch_kind():
    sig = {}
    for a in nb201.all_archs():
        sig.setdefault(nb201.cell_signature(a), a)
    assert len(sig) > 100
    rng = np.random.default_rng(0)
    for key in rng.permutation(list(sig))[:25]:
        n1, n3, npool, nadd = (int(x) for x in key)
        net = nb201.build_network(sig[tuple(key)])
        assert net.macs == skeleton_macs(32, 10) + cells_macs(32, n1, n3)
        assert net.count("avgpool") == 3 + 15 * npool and net.count("add") == 2 + 15 * nadd


# ---- space operators --------------------------------------------------------------------------------
def test_space_operators_are_deterministic_and_valid():
    sp = NB201Space()
    assert len(sp) == 15625

    def run(seed):
        rng = np.random.Generator(np.random.PCG64(seed))
        a, b = sp.sample(rng), sp.sample(rng)
        return a, b, sp.mutate(a, rng), sp.crossover(a, b, rng)

    assert run(3) == run(3)
    assert run(3) != run(4)
    rng = np.random.default_rng(7)
    for _ in range(300):
        a, b = sp.sample(rng), sp.sample(rng)
        m = sp.mutate(a, rng)
        assert sum(x != y for x, y in zip(a, m)) == 1 and all(o in nb201.OPS for o in m)
        c = sp.crossover(a, b, rng)
        assert all(x in (y, z) for x, y, z in zip(c, a, b))
        assert sp.decode(sp.encode(c)) == c and sp.from_vector(sp.to_vector(c)) == c
        assert sp.arch(sp.index(c)) == c
    counts = np.zeros((6, 5))
    for _ in range(2000):
        a = sp.sample(rng)
        for e, o in enumerate(a):
            counts[e, nb201.OPS.index(o)] += 1
    assert counts.min() > 300  # uniform over ops on every edge (400 expected)
    assert sp.enumerate()[6111] == sp.arch(6111) and len(sp.enumerate()) == 15625
    assert sp.mutate(6111, rng) != sp.arch(6111)  # indices accepted too
