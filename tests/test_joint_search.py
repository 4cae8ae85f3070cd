"""Supernet weight sharing, the CHaNAS generalization-gap objective and the differentiable accelerator
search engine of the joint search."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mapper.network import evaluate_network  # noqa: E402
from nas.joint.costtable import CostTable  # noqa: E402
from nas.joint.data import make_synthetic, split_train_val  # noqa: E402
from nas.joint.engine import DesignEngine, gumbel_softmax, straight_through  # noqa: E402
from nas.joint.hwspace import load_hw_space  # noqa: E402
from nas.joint.search import (Batches, JointConfig, gen_gap_loss, joint_search, supernet_loss,  # noqa: E402
                              warmup_supernet)
from nas.joint.space import OPS, FBNetSpace  # noqa: E402
from nas.joint.supernet import FBNetSupernet, derive_network  # noqa: E402

from .conftest import ROOT  # noqa: E402

BITS = ((4, 4), (8, 8), (16, 16))


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """The tiny networks here run fastest on one intra-op thread (and do not fight other tests)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
TINY = FBNetSpace.cifar(width_mult=0.25, max_depth=1, num_stages=3, resolution=8)


def test_gen_gap_objective_as_specified():
    tr = torch.tensor(1.2, requires_grad=True)
    va = torch.tensor(1.7, requires_grad=True)
    loss = gen_gap_loss(tr, va)
    assert float(loss.detach()) == pytest.approx(1.2 + 0.45 * 0.5)
    loss.backward()
    assert float(tr.grad) == pytest.approx(1 - 0.45) and float(va.grad) == pytest.approx(0.45)
    tr2, va2 = torch.tensor(2.0, requires_grad=True), torch.tensor(1.5, requires_grad=True)
    gen_gap_loss(tr2, va2, lam=0.45).backward()  # val below train: |.| flips the sign
    assert float(tr2.grad) == pytest.approx(1.45) and float(va2.grad) == pytest.approx(-0.45)


def test_supernet_gen_gap_loss_on_a_path():
    torch.manual_seed(0)
    net = FBNetSupernet(TINY, BITS)
    g = torch.Generator().manual_seed(0)
    data = make_synthetic(64, seed=1000, size=8)
    b = Batches(data, 16, 8, g)
    xt, yt = b.tensor(np.arange(16), False)
    xv, yv = b.tensor(np.arange(16, 32), False)
    ops, bits = [2, 5, 8], [0, 1, 2]
    net.train()
    net(xt, ops, bits)  # activation ranges
    net.eval()  # deterministic: BN running stats, frozen ranges
    loss, ce_tr, ce_val = supernet_loss(net, (xt, yt), (xv, yv), ops, bits, "gen-gap", 0.45)
    ref_tr = torch.nn.functional.cross_entropy(net(xt, ops, bits), yt)
    ref_val = torch.nn.functional.cross_entropy(net(xv, ops, bits), yv)
    assert float(loss.detach()) == pytest.approx(float((ref_tr + 0.45 * (ref_val - ref_tr).abs()).detach()), rel=1e-6)
    assert ce_tr == pytest.approx(ref_tr.item()) and ce_val == pytest.approx(ref_val.item())
    loss.backward()
    assert net.layers[0].w1.grad is not None and float(net.layers[0].w1.grad.abs().sum()) > 0
    plain, _, _ = supernet_loss(net, (xt, yt), None, ops, bits, "plain")
    assert plain.item() == pytest.approx(ref_tr.item(), rel=1e-6)
    with pytest.raises(ValueError, match="validation batch"):
        supernet_loss(net, (xt, yt), None, ops, bits, "gen-gap")


def test_weight_sharing_and_derived_network():
    torch.manual_seed(1)
    net = FBNetSupernet(TINY, BITS)
    layer = net.layers[1]  # 4 -> 8 channels, stride 1
    cin = layer.slot.c_in
    w1, w2, w3 = layer.op_weights(OPS[2])  # k3_e3: first 3*cin channels, centre of the 5x5 kernel
    assert torch.equal(w1, layer.w1[:3 * cin]) and torch.equal(w3, layer.w3[:, :3 * cin])
    assert torch.allclose(w2, layer.w2[:3 * cin, :, 1:4, 1:4])  # the kernel transform starts at identity
    g1, _, g3 = layer.op_weights(OPS[5])  # k5_e1_g2: the diagonal blocks of the dense 1x1 weights
    h = cin // 2
    assert g1.shape == (cin, h, 1, 1) and torch.equal(g1[h:], layer.w1[h:cin, h:cin])
    assert g3.shape == (layer.slot.c_out, h, 1, 1) and torch.equal(g3[:4], layer.w3[:4, :h])
    x = torch.randn(6, 3, 8, 8)
    for ops, bits in (([3, 1, 8], [0, 1, 2]), ([8, 6, 4], [2, 0, 1]), ([0, 8, 7], [1, 1, 0])):
        net.train()
        net(x, ops, bits)
        net.eval()
        derived = derive_network(net, ops, bits)
        derived.eval()
        assert torch.allclose(net(x, ops, bits), derived(x), atol=1e-5)
        assert [tuple(b) for b in derived.bits] == [BITS[b] for b in bits]


def test_gumbel_and_straight_through():
    g = torch.Generator().manual_seed(0)
    logits = torch.tensor([[0.0, 3.0, 0.0], [5.0, 0.0, 0.0]], requires_grad=True)
    y, idx = gumbel_softmax(logits, 0.5, g)
    assert torch.allclose(y.sum(1), torch.ones(2)) and idx.tolist() == y.argmax(1).tolist()
    p = torch.softmax(logits, 1)
    sel = p[torch.arange(2), idx]
    out = straight_through(torch.tensor(3.0), sel, baseline=1.0)
    assert out.item() == 3.0  # forward: the cost itself
    out.backward()
    ref = torch.autograd.grad((2.0 * torch.softmax(logits, 1)[torch.arange(2), idx]).sum(), logits)[0]
    assert torch.allclose(logits.grad, ref)  # backward: (cost - baseline) x d(selected probabilities)


@pytest.fixture(scope="module")
def tiny_hw(tmp_path_factory):
    spec = tmp_path_factory.mktemp("hw") / "tiny.yaml"
    spec.write_text(f"version: 1\nname: tiny\nbase: {ROOT / 'configs' / 'eyeriss.yaml'}\nparameters:\n"
                    "  - path: [pe_array.rows, pe_array.cols]\n    values: [[4, 4], [8, 8], [12, 14]]\n"
                    "  - path: [levels.DRAM.read_bandwidth_bits, levels.DRAM.write_bandwidth_bits]\n"
                    "    values: [16, 256]\n")
    return load_hw_space(spec)


def test_engine_finds_the_optimum_of_a_tiny_design_space(tiny_hw):
    """A fixed network, exact accelsim latency of each of the 6 designs; the straight-through engine
    lowers the expected latency and ends on the brute-force optimum."""
    net = TINY.build_network([3, 0, 6])
    lat = np.array([evaluate_network(net, a).latency_s for a in tiny_hw.archs])
    assert len(set(np.round(lat, 12))) > 1
    engine = DesignEngine([len(d.values) for d in tiny_hw.dims], tiny_hw.index)
    opt = torch.optim.Adam(engine.parameters(), lr=0.05, betas=(0.5, 0.999))
    g = torch.Generator().manual_seed(0)
    cost = lat / lat.mean()
    start = engine.expected(cost)
    flowed = [False] * len(engine.logits)
    for step in range(300):
        d = engine.sample(g)
        loss = engine.cost_term(d, torch.tensor(float(cost[d])))
        assert loss.item() == pytest.approx(cost[d])  # forward value: the sampled design's cost
        opt.zero_grad()
        loss.backward()
        flowed = [f or float(t.grad.abs().sum()) > 0 for f, t in zip(flowed, engine.logits)]
        opt.step()
    assert all(flowed)  # gradients reached every dimension's logits
    assert start > 1.5 * cost.min()  # uniform start: far from the optimum
    assert engine.expected(cost) < 1.1 * cost.min()  # expected latency within 10 % of the optimum
    assert engine.best() == int(np.argmin(lat))


def _mac_table(designs: int) -> CostTable:
    """A cost table whose latency is MACs x (w·a / 256) / speed[d] (a bit-serial-like law; fast to build)."""
    L, O, B = TINY.n_slots, len(OPS), 2
    macs = np.array([[sum(x.macs for x in TINY.block_layers(s, op)) for op in OPS] for s in TINY.slots], dtype=float)
    speed = 1.0 + np.arange(designs)
    bitf = np.array([w * a / 256 for w, a in BITS[:B]])
    lat = macs[:, :, None, None] * bitf[None, None, :, None] / speed[None, None, None, :] * 1e-9
    fixed = sum(x.macs for x in TINY.fixed_layers()) / speed * 1e-9
    return CostTable(lat, lat * 1e12, fixed, fixed * 1e12, BITS[:B], [str(d) for d in range(designs)])


def test_engine_with_a_single_design():
    engine = DesignEngine([], np.zeros((1, 0), dtype=np.int64))
    g = torch.Generator().manual_seed(0)
    assert engine.sample(g) == 0 and engine.best() == 0 and engine.expected([2.5]) == pytest.approx(2.5)
    assert engine.cost_term(0, torch.tensor(1.5)).item() == 1.5
    with pytest.raises(ValueError, match="index must be"):
        DesignEngine([2], np.zeros((3, 2), dtype=np.int64))


def test_hardware_weight_steers_the_joint_search(tiny_hw):
    """Same data and seed: a large latency weight derives a cheaper (network, bits, design) than none."""
    table = _mac_table(tiny_hw.n_designs + 1)
    ref = table.uniform_expectation(tiny_hw.n_designs)
    data = make_synthetic(160, seed=1000, size=8)
    train, val = split_train_val(data, 0.25)
    got = {}
    for w in (0.0, 20.0):
        torch.manual_seed(0)
        g = torch.Generator().manual_seed(0)
        cfg = JointConfig(epochs=3, warmup_epochs=1, batch_size=24, latency_weight=w, arch_lr=0.1, seed=0)
        net = FBNetSupernet(TINY, BITS[:2])
        tr, va = Batches(train, 24, 8, g, True), Batches(val, 24, 8, g)
        warmup_supernet(net, tr, va, cfg, g)
        engine = DesignEngine([len(d.values) for d in tiny_hw.dims], tiny_hw.index)
        out = joint_search(net, tr, va, table, engine, np.arange(tiny_hw.n_designs), cfg, ref, g)
        lat, _ = table.totals(out.ops, out.bits)
        got[w] = lat[out.design]
        rows = [r for r in out.history if r["phase"] == "search"]
        assert len(rows) == 2 * len(tr) and all(np.isfinite(r["hw_cost"]) for r in rows)
    assert got[20.0] < 0.5 * got[0.0], got
