"""Search spaces: registry and SPACE:ENCODING specs, search operators, encodings, and torch ↔ accelsim
agreement (every Conv2d / Linear call of the torch model is a MAC layer of the accelsim network with the
same MACs)."""

from __future__ import annotations

import numpy as np
import pytest

from accel.errors import WorkloadInputError
from nas import darts, fbnet, mbconv, nb201
from nas.registry import SPACES, SpecError, get_space, parse_spec, resolve_network

NB201_EXAMPLE = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(seed))


@pytest.mark.parametrize("name", ["nb201", "darts", "mbconv", "mbconv_cifar", "fbnet"])
def test_operators_and_encodings(name):
    sp = get_space(name)
    rng = _rng(1)
    archs = [sp.sample(rng) for _ in range(6)]
    assert len(set(archs)) == 6
    for a in archs:
        s = sp.encode(a)
        assert sp.decode(s) == a and sp.encode(sp.decode(s)) == s
        v = sp.to_vector(a)
        assert v.shape == (sp.vector_size,) and sp.from_vector(v) == a
        m = sp.mutate(a, rng)
        assert m != a and sp.decode(sp.encode(m)) == m
        c = sp.crossover(a, archs[0], rng)
        assert sp.decode(sp.encode(c)) == c
        assert sp.contains(a) and sp.contains(m) and sp.contains(c)
    # deterministic for a generator state
    assert [sp.sample(_rng(3)) for _ in range(2)] == [sp.sample(_rng(3)) for _ in range(2)]
    assert sp.size > 1000


def test_nb201_space_matches_the_base_space_draws():
    base, full = nb201.NB201Space(), get_space("nb201")
    r1, r2 = _rng(7), _rng(7)
    for _ in range(20):
        a, b = base.sample(r1), full.sample(r2)
        assert a == b
        assert base.mutate(a, r1) == full.mutate(b, r2)
    assert len(full.enumerate()) == nb201.N_ARCHS and full.finite
    assert full.decode("6111") == nb201.index_to_arch(6111)


@pytest.mark.parametrize("name", ["nb201", "darts", "mbconv", "fbnet"])
def test_subspaces_restrict_the_operators(name):
    sp = get_space(name)
    subs = sp.subspaces()
    assert len(subs) >= 12
    rng = _rng(2)
    for sub in list(subs.values())[:: max(1, len(subs) // 4)]:
        assert sub.size <= sp.size
        for _ in range(5):
            a = sub.sample(rng)
            assert sub.contains(a) and sp.contains(a)
            assert sub.contains(sub.mutate(a, rng))


def test_nb201_subspace_enumeration():
    sub = get_space("nb201").subspaces()["{skip,c3}"]
    archs = sub.enumerate()
    assert len(archs) == 2 ** 6 == len(set(archs)) and all(set(a) <= {"skip_connect", "nor_conv_3x3"} for a in archs)


def test_registry_specs():
    assert set(SPACES) >= {"nb201", "darts", "mbconv", "mbconv_cifar", "fbnet"}
    net = resolve_network("nb201:" + NB201_EXAMPLE, 1)
    assert net.macs == nb201.build_network(NB201_EXAMPLE).macs
    assert resolve_network("nb201:" + NB201_EXAMPLE, 2).macs == 2 * net.macs
    assert resolve_network("nb301:DARTS_V2", 1).macs == darts.build_network(darts.DARTS_V2).macs
    sp, a = parse_spec("ofa:" + mbconv.arch_str(mbconv.MBConvSpace().sample(_rng())))
    assert sp.name == "mbconv" and sp.contains(a)
    assert get_space("NB201_cifar100").dataset == "cifar100"
    bad = ["nb201", "nb201:", "nope:abc", "nb201:|foo~0|", "darts:sep_conv_3x3~0", "mbconv:r224-w1.0-k3e4",
           "fbnet:k3_e1", "mbconv:r100-w1.0-k3e4.k3e4-k3e4.k3e4-k3e4.k3e4-k3e4.k3e4-k3e4.k3e4",
           "mbconv_cifar:e3k3", "mbconv:e3k3-e6k5-e4k7-e3k3-e6k3-e4k5"]  # the CIFAR encoding is not an OFA arch
    for spec in bad:
        with pytest.raises(WorkloadInputError) as e:
            resolve_network(spec, 1)
        assert spec in str(e.value)
    with pytest.raises(SpecError, match="known: nb201"):
        get_space("nope")
    with pytest.raises(WorkloadInputError, match="batch"):
        resolve_network("fbnet:" + fbnet.arch_str(get_space("fbnet").sample(_rng())), 0)


def test_darts_genotypes():
    # DARTS repository: DARTS_V2 on CIFAR-10 has 3,349,342 parameters (paper: 3.3 M)
    pytest.importorskip("torch")
    model = darts.build_torch(darts.DARTS_V2)
    assert sum(p.numel() for p in model.parameters()) == 3_349_342
    net = darts.build_network(darts.DARTS_V2)
    assert net.macs == 528_359_040
    assert net.count("add") == 20 * 4 and net.count("maxpool") == 2 * 5
    # every ReLU the torch model runs is a layer (each nn.ReLU module is called once per forward), with no MACs
    from torch import nn
    assert net.count("relu") == sum(isinstance(m, nn.ReLU) for m in model.modules()) == 18 * (5 * 2 + 1) + 20 * 2  # 18 normal cells: 5 sep (2 ReLUs), 1 dil; 2 per cell preprocessing
    assert all(layer.macs == 0 for layer in net.layers if layer.op == "relu")
    # within a node the pairs are canonical (sorted by input); the same input twice is rejected
    g = darts.parse_genotype("sep_conv_3x3~1,sep_conv_5x5~0," + ",".join(["skip_connect~0", "skip_connect~1"] * 3)
                             + "/" + ",".join(["max_pool_3x3~0", "max_pool_3x3~1"] * 4))
    assert g.normal[:2] == (("sep_conv_5x5", 0), ("sep_conv_3x3", 1))
    with pytest.raises(darts.DartsError, match="must differ"):
        darts.parse_genotype(",".join(["skip_connect~0"] * 8) + "/" + ",".join(["skip_connect~0"] * 8))
    with pytest.raises(darts.DartsError, match="out of range"):
        reduce = darts.genotype_str(g).split("/")[1]
        darts.parse_genotype(",".join(["skip_connect~0", "skip_connect~5"] * 4) + "/" + reduce)


def test_fbnet_and_mbconv_structure():
    sp = get_space("fbnet")
    assert sp == fbnet.FBNetSpace() and sp.n_slots == fbnet.N_LAYERS
    a = ("skip",) * fbnet.N_LAYERS
    net = sp.build_network(a)
    # skip on the 6 layers that change width / stride is a 1×1 conv, elsewhere nothing
    assert net.count("conv") == 2 + sum(1 for i, (c, s) in enumerate(fbnet.LAYERS)
                                        if s != 1 or c != ([fbnet.STEM_WIDTH] + [c for c, _ in fbnet.LAYERS])[i])
    g2 = sp.build_network(("k3_e1_g2",) * fbnet.N_LAYERS)
    assert all(la.G == 2 for la in g2.layers if la.name.endswith((".pw", ".pwl")))
    m = mbconv.MBConvSpace()
    small = mbconv.parse_arch("r160-w1.0-" + "-".join(["k3e3.k3e3"] * 5))
    big = mbconv.parse_arch("r224-w1.3-" + "-".join(["k7e6s.k7e6s.k7e6s.k7e6s"] * 5))
    assert m.build_network(small).macs < m.build_network(big).macs
    assert m.build_network(big).count("mul") == 20 and m.build_network(small).count("mul") == 0
    assert mbconv.arch_str(big).startswith("r224-w1.3-k7e6s.")


def _mac_lists(space, arch):
    import torch

    from accel.nn import mac_layers

    net = space.build_network(arch)
    model = space.build_torch(arch).eval()
    torch_macs = sorted(m for _, m in mac_layers(model, torch.zeros(space.input_shape(arch, 1))))
    accel_macs = sorted(la.macs for la in net.layers if la.is_mac)
    return torch_macs, accel_macs, net.macs


@pytest.mark.parametrize("name", ["nb201", "darts", "mbconv", "mbconv_cifar", "fbnet"])
def test_torch_model_matches_accelsim_network(name):
    pytest.importorskip("torch")
    sp = get_space(name)
    if name == "mbconv":
        sp = mbconv.MBConvSpace(resolutions=(160,))  # same layers as 224, less CPU
    rng = _rng(11)
    for _ in range(1 if name in ("darts", "mbconv") else 2):  # DARTS/MBConv forwards are the slow ones
        a = sp.sample(rng)
        t, acc, total = _mac_lists(sp, a)
        assert t == acc and sum(t) == total > 0


def test_nb201_torch_unpruned_matches_unpruned_network():
    pytest.importorskip("torch")
    import torch

    from nas.nb201_torch import build_nb201_torch
    from accel.nn import count_macs

    # node 1 is unreachable (none from the input) but feeds node 3 through a conv: pruned away, else costed
    a = "|none~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    pruned, full = nb201.build_network(a, prune=True), nb201.build_network(a)
    assert full.macs > pruned.macs
    assert count_macs(build_nb201_torch(a, prune=True), (1, 3, 32, 32)) == pruned.macs
    assert count_macs(build_nb201_torch(a, prune=False), (1, 3, 32, 32)) == full.macs
    out = build_nb201_torch("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "cifar100")(torch.zeros(2, 3, 32, 32))
    assert out.shape == (2, 100)
