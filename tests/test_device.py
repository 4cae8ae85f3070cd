"""Processor device model (accel/device.py): schema boundary, the per-layer equations on hand-computed cases,
dispatch through load_arch / NetworkEvaluator / ``accelsim eval``, the shipped device configs, and a small real
cross-check against onnxruntime."""

import copy
import json
import math

import pytest
import yaml

from accel.app.cli import main
from accel.arch import list_configs, load_arch
from accel.device import Device, DeviceError, DeviceModel, parse_device
from accel.errors import ConfigInputError
from accel.workload import Layer, NetworkBuilder, Tensor, parse_layer_spec
from tests.conftest import ROOT

# A hand-computable CPU: 1 core at 1 GHz, 10 fp32 MACs and 4 ops per cycle, a 64 B register file, a 1 KiB L1
# at 100 GB/s and DRAM; 2 us per operator, one thread always (grain 10^9).
BASE = {
    "version": 1, "kind": "cpu", "name": "toy", "dtype": "fp32", "clock_mhz": 1000, "cores": 1, "threads": 1,
    "macs_per_cycle_per_core": {"fp32": 10}, "ops_per_cycle_per_core": {"fp32": 4}, "register_bytes_per_core": 64,
    "levels": [{"name": "L1", "size_bytes": 1024, "bandwidth_gbs_per_core": 100},
               {"name": "DRAM", "size_bytes": None, "shared": True, "bandwidth_gbs_per_core": 1000}],
    "runtimes": {"rt": {"op_overhead_us": 2.0, "parallel_overhead_us": 3.0, "batchnorm": "folded",
                        "activation": "fused", "parallel_grain_elements": 10**9,
                        "efficiency": {"conv": 1, "depthwise": 1, "gemm": 1, "pool": 1, "eltwise": 1}}},
    "runtime": "rt",
}


def dev(**changes) -> Device:
    d = copy.deepcopy(BASE)
    for path, v in changes.items():
        node = d
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        last = keys[-1]
        if isinstance(node, list):
            node[int(last)] = v
        else:
            node[last] = v
    return parse_device(d, "toy.yaml")


# ---------------------------------------------------------------------------------------------------------
# schema boundary
# ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, value, where, says", [
    ("levels__0__bandwidth_gbs_per_core", -1, "levels[0].bandwidth_gbs_per_core", "greater than 0"),
    ("clock_mhz", "fast", "clock_mhz", "valid number"),
    ("threads", 4, "threads", "exceed the 1 cores"),
    ("levels__1__size_bytes", 2**30, "levels[1].size_bytes", "backing store"),
    ("runtime", "nope", "runtime", "not one of the runtimes"),
    ("runtimes__rt__efficiency__conv", 20, "runtimes.rt.efficiency.conv", "less than or equal to 16"),
    ("runtimes__rt__batchnorm", "fused", "runtimes.rt.batchnorm", "folded"),
    ("macs_per_cycle_per_core", {"fp16": 4}, "macs_per_cycle_per_core", "no rate for the device's dtype"),
    ("version", 2, "version", "unsupported device schema version"),
    ("cores", True, "cores", "valid integer"),
])
def test_bad_values_are_named_by_path(path, value, where, says):
    with pytest.raises(DeviceError) as e:
        dev(**{path: value})
    assert any(p == where and says in m for p, m in e.value.errors), e.value.errors


def test_unknown_key_and_kind(tmp_path):
    d = copy.deepcopy(BASE)
    d["levels"][0]["latency_ns"] = 4
    with pytest.raises(DeviceError) as e:
        parse_device(d)
    assert ("levels[0].latency_ns", "unknown key") in e.value.errors
    d = copy.deepcopy(BASE)
    d["kind"] = "tpu"
    with pytest.raises(DeviceError) as e:
        parse_device(d)
    assert e.value.errors[0][0] == "kind"
    # through load_arch (the one loader every --hw uses): the file name and path are in the message
    bad = copy.deepcopy(BASE)
    bad["cores"] = 0
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(bad))
    with pytest.raises(ConfigInputError, match=r"bad.yaml.*\n  cores: Input should be greater than or equal to 1"):
        load_arch(p)


def test_gpu_has_no_thread_count():
    g = copy.deepcopy(BASE)
    g["kind"] = "gpu"
    with pytest.raises(DeviceError, match="threads"):
        parse_device(g)
    del g["threads"]
    gpu = parse_device(g)
    assert gpu.threads == 1 and gpu.kind == "gpu"
    with pytest.raises(DeviceError, match="thread count"):
        gpu.with_threads(2)


# ---------------------------------------------------------------------------------------------------------
# equations (module docstring of accel/device.py), hand-computed
# ---------------------------------------------------------------------------------------------------------
def test_compute_bound_gemm():
    """fc K=64 C=64: 4096 MACs / (10 MAC/cycle x 1 GHz) = 409.6 ns.  L1 serves register misses: register tile
    t = floor(sqrt(64 / 8)) = 2, weights 64x64x4 B re-read ceil(1/2) = 1 time, inputs 256 B x ceil(64/2) = 32
    times + 256 B of outputs: 16384 + 8448 B at 100 GB/s = 248.3 ns; DRAM serves the weights (16 KiB do not
    fit the 1 KiB L1) once: 16384 B at 1000 GB/s = 16.4 ns.  Compute-bound: 409.6 ns + 2 us overhead."""
    c = DeviceModel(dev()).layer(parse_layer_spec("fc K=64 C=64"))
    assert c.compute_s == pytest.approx(409.6e-9)
    assert c.traffic_bytes == {"L1": 16384 + 8448, "DRAM": 16384}
    assert c.level_s["L1"] == pytest.approx(24832 / 100e9)
    assert c.level_s["DRAM"] == pytest.approx(16384 / 1000e9)
    assert c.bound == "compute"
    assert c.latency_s == pytest.approx(409.6e-9 + 2e-6)
    assert c.latency_cycles == pytest.approx(c.latency_s * 1e9)
    assert math.isnan(c.energy_pj)


def test_dram_bound_eltwise():
    """relu over 4096 elements: 4096 ops / (4 ops/cycle x 1 GHz) = 1.024 us; input + output 32 KiB do not fit the
    1 KiB L1, so DRAM streams them: 32768 B at 1 GB/s = 32.768 us (DRAM-bound), + 2 us overhead."""
    c = DeviceModel(dev(levels__1__bandwidth_gbs_per_core=1)).layer(parse_layer_spec("relu K=4096"))
    assert c.compute_s == pytest.approx(1.024e-6)
    assert c.traffic_bytes["DRAM"] == 32768 and c.traffic_bytes["L1"] == 32768
    assert c.bound == "DRAM"
    assert c.latency_s == pytest.approx(32.768e-6 + 2e-6)


def test_cache_resident_eltwise_never_reaches_dram():
    """relu over 64 elements: 512 B fit the L1, so DRAM sees nothing (warm activations)."""
    c = DeviceModel(dev(levels__1__bandwidth_gbs_per_core=1)).layer(parse_layer_spec("relu K=64"))
    assert c.traffic_bytes["DRAM"] == 0 and c.traffic_bytes["L1"] == 512


def test_overhead_added_per_operator_and_separate_epilogues():
    b = NetworkBuilder("three")
    x = b.input(1, 4, 2, 2)
    x = b.eltwise("relu", x, name="r1")
    x = b.conv(x, 4, kernel=1, name="c1")
    b.eltwise("relu", x, name="r2")
    net = b.build()
    m = DeviceModel(dev())
    res = m.network(net)
    assert len(res.layers) == 3
    per = [r.cost for r in res.layers]
    assert all(c.overhead_s == pytest.approx(2e-6) for c in per)
    assert res.latency_s == pytest.approx(sum(c.latency_s for c in per))
    assert res.latency_s > 3 * 2e-6
    # PyTorch-eager style: BatchNorm and the activation run as two more element-wise operators after the conv,
    # each one costed like the relu layer of the same shape (its own overhead included)
    eager = DeviceModel(dev(runtimes__rt__batchnorm="separate", runtimes__rt__activation="separate"))
    conv, relu = net.graph.nodes["c1"]["layer"], net.graph.nodes["r2"]["layer"]
    ce, cf = eager.layer(conv), m.layer(conv)
    assert ce.epilogue_ops == 2 and cf.epilogue_ops == 0
    assert ce.latency_s - cf.latency_s == pytest.approx(2 * m.layer(relu).latency_s)


def test_inference_overhead_once_per_network_and_alone_for_an_empty_one():
    """Equation 6: Σ layers + the runtime's per-call cost once; a network with no layers (an NB201 cell whose output
    is a constant under --prune-dead) costs the call alone; default 0 (datasheet configs: not modelled)."""
    from nas import nb201
    from nas.hwcost import nb201_hwcost

    from mapper.network import NetworkEvaluator

    plain, called = DeviceModel(dev()), DeviceModel(dev(runtimes__rt__inference_overhead_us=4.0))
    arch = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
    net = nb201.build_network(arch, prune=True)
    a, b = plain.network(net), called.network(net)
    assert a.inference_overhead_s == 0.0 and b.inference_overhead_s == pytest.approx(4e-6)
    assert b.latency_s - a.latency_s == pytest.approx(4e-6)
    assert b.latency_s == pytest.approx(sum(r.cost.latency_s for r in b.layers) + 4e-6)
    assert b.latency_cycles == pytest.approx(b.latency_s * called.device.clock_hz)
    assert b.to_json()["total"]["inference_overhead_s"] == pytest.approx(4e-6)
    const = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
    empty = called.network(nb201.build_network(const, prune=True))
    assert empty.layers == [] and empty.macs == 0 and empty.latency_s == pytest.approx(4e-6)
    # the NB201 fast path adds it once too, constant cells included
    df = nb201_hwcost(evaluator=NetworkEvaluator(called.device, objective="latency"), archs=[const, arch],
                      prune=True)
    assert df["latency_s"].tolist() == pytest.approx([4e-6, b.latency_s], rel=1e-9)


def test_class_overhead_replaces_the_generic_one():
    per_class = {"conv": 7.0, "depthwise": 9.0, "gemm": 5.0, "pool": 3.0, "eltwise": 1.0}
    m = DeviceModel(dev(runtimes__rt__class_overhead_us=per_class))
    assert m.layer(parse_layer_spec("conv K=8 C=8 P=4 Q=4 R=3 S=3")).overhead_s == pytest.approx(7e-6)
    assert m.layer(parse_layer_spec("conv K=8 C=8 P=4 Q=4 R=3 S=3 groups=8")).overhead_s == pytest.approx(9e-6)
    assert m.layer(parse_layer_spec("avgpool K=8 P=4 Q=4 R=3 S=3")).overhead_s == pytest.approx(3e-6)
    assert m.layer(parse_layer_spec("add K=8 P=4 Q=4")).overhead_s == pytest.approx(1e-6)


def test_separate_batchnorm_pass_pays_its_own_overhead():
    """class_overhead_us.batchnorm replaces the element-wise overhead for the BN pass only (module docstring, 5);
    absent, the BN pass costs like a ReLU; with BN folded it is never paid."""
    per_class = {"conv": 7.0, "depthwise": 9.0, "gemm": 5.0, "pool": 3.0, "eltwise": 1.0}
    eager = {"runtimes__rt__batchnorm": "separate", "runtimes__rt__activation": "separate"}
    conv = parse_layer_spec("conv K=8 C=8 P=4 Q=4 R=3 S=3")
    plain = DeviceModel(dev(runtimes__rt__class_overhead_us=per_class, **eager)).layer(conv)
    bn = DeviceModel(dev(runtimes__rt__class_overhead_us={**per_class, "batchnorm": 6.5}, **eager)).layer(conv)
    assert bn.latency_s - plain.latency_s == pytest.approx(5.5e-6) and bn.epilogue_ops == plain.epilogue_ops == 2
    assert bn.epilogue_s - plain.epilogue_s == pytest.approx(5.5e-6) and bn.overhead_s == plain.overhead_s == 7e-6
    folded = {**eager, "runtimes__rt__batchnorm": "folded"}
    assert (DeviceModel(dev(runtimes__rt__class_overhead_us={**per_class, "batchnorm": 6.5}, **folded)).layer(conv)
            .latency_s == pytest.approx(DeviceModel(dev(runtimes__rt__class_overhead_us=per_class, **folded))
                                        .layer(conv).latency_s))


def test_threads_split_compute_and_pay_parallel_overhead():
    one = DeviceModel(dev(cores=2, threads=1, runtimes__rt__parallel_grain_elements=1))
    two = DeviceModel(dev(cores=2, threads=2, runtimes__rt__parallel_grain_elements=1))
    half = DeviceModel(dev(cores=2, threads=2, runtimes__rt__parallel_grain_elements=1,
                           runtimes__rt__parallel_efficiency=0.5))
    layer = parse_layer_spec("conv K=64 C=64 P=8 Q=8 R=3 S=3")
    a, b = one.layer(layer), two.layer(layer)
    assert (a.threads_used, b.threads_used) == (1, 2)
    assert b.compute_s == pytest.approx(a.compute_s / 2)
    assert b.overhead_s == pytest.approx(5e-6) and a.overhead_s == pytest.approx(2e-6)
    # parallel_efficiency 0.5: two threads give 1 + (2 - 1) x 0.5 = 1.5 threads' worth of compute
    assert half.layer(layer).compute_s == pytest.approx(a.compute_s / 1.5)
    # a tensor smaller than the grain gets one thread
    small = DeviceModel(dev(cores=2, threads=2, runtimes__rt__parallel_grain_elements=10**6)).layer(layer)
    assert small.threads_used == 1


def test_mac_operators_split_by_their_own_grain():
    """parallel_grain_macs: MAC operators split by MACs (the conv below: 2.36 M), the others keep the element grain."""
    conv = parse_layer_spec("conv K=64 C=64 P=8 Q=8 R=3 S=3")  # 4,096 outputs, 2,359,296 MACs
    relu = parse_layer_spec("relu K=64 P=8 Q=8")
    by_macs = DeviceModel(dev(cores=2, threads=2, runtimes__rt__parallel_grain_elements=10**6,
                              runtimes__rt__parallel_grain_macs=2_000_000))
    assert by_macs.layer(conv).threads_used == 2 and by_macs.layer(relu).threads_used == 1
    above = DeviceModel(dev(cores=2, threads=2, runtimes__rt__parallel_grain_elements=1,
                            runtimes__rt__parallel_grain_macs=2_359_296))
    assert above.layer(conv).threads_used == 1 and above.layer(relu).threads_used == 2
    with pytest.raises(DeviceError, match="parallel_grain_macs"):
        dev(runtimes__rt__parallel_grain_macs=0)
    pool = parse_layer_spec("avgpool K=16 P=8 Q=8 R=3 S=3")  # 1,024 outputs
    own = DeviceModel(dev(cores=2, threads=2, runtimes__rt__parallel_grain_elements=10**6,
                          runtimes__rt__parallel_grain_pool_elements=512))
    assert own.layer(pool).threads_used == 2 and own.layer(relu).threads_used == 1
    assert DeviceModel(dev(cores=2, threads=2, runtimes__rt__parallel_grain_elements=10**6)).layer(pool).threads_used == 1


def test_weights_resident_in_the_smallest_level_that_holds_them():
    m = DeviceModel(dev())
    assert m.weight_home(1000) == 0 and m.weight_home(2000) == 1
    assert DeviceModel(dev(warm_cache=False)).weight_home(10) == 1


def test_warm_weight_bytes_caps_weight_residency():
    """Weights beyond ``warm_weight_bytes`` live in the backing store even where a level's size would hold them
    (module docstring, 3); without the field only the level sizes decide."""
    assert DeviceModel(dev()).weight_home(600) == 0
    capped = DeviceModel(dev(warm_weight_bytes=500))
    assert capped.weight_home(400) == 0 and capped.weight_home(600) == 1
    # a layer whose weights are homed in DRAM pays DRAM traffic for them
    fc = parse_layer_spec("fc K=8 C=16")  # 512 B of weights
    assert DeviceModel(dev(warm_weight_bytes=256)).layer(fc, weight_home=None).traffic_bytes["DRAM"] > 0
    assert DeviceModel(dev()).layer(fc).traffic_bytes["DRAM"] == 0


def test_nchwc_block_pads_conv_channels_exactly_when_the_rule_says():
    """onnxruntime's NCHWc layout (module docstring, 2a): with ``nchwc_block`` 16 a 1x1 conv with C = 36 input
    channels computes 48 / 36 of its MACs' time, a depthwise conv of 36 channels 48 / 36; C = 8 (< the block: the
    NCHW-input stem path), C = 32 (a multiple) and a gemm are not padded; without the field nothing changes."""
    plain, blocked = DeviceModel(dev()), DeviceModel(dev(runtimes__rt__nchwc_block=16))
    conv36 = parse_layer_spec("conv K=16 C=36 P=4 Q=4")
    assert plain.layer(conv36).compute_s == pytest.approx(16 * 36 * 16 / 10e9)
    assert blocked.layer(conv36).compute_s == pytest.approx(plain.layer(conv36).compute_s * 48 / 36)
    dw = parse_layer_spec("conv K=36 C=36 P=4 Q=4 R=3 S=3 groups=36")
    assert blocked.layer(dw).compute_s == pytest.approx(plain.layer(dw).compute_s * 48 / 36)
    for spec in ("conv K=16 C=8 P=4 Q=4", "conv K=16 C=32 P=4 Q=4", "conv K=32 C=32 P=4 Q=4 R=3 S=3 groups=32",
                 "fc K=16 C=36"):
        layer = parse_layer_spec(spec)
        assert blocked.layer(layer).compute_s == pytest.approx(plain.layer(layer).compute_s), spec


def test_unblocked_pool_efficiency_applies_only_off_the_nchwc_block():
    """A pool whose channels are not a multiple of ``nchwc_block`` runs the NCHW kernel at
    ``efficiency.pool_unblocked``; a multiple keeps ``efficiency.pool``; without a block (or without the
    efficiency) every pool keeps ``pool``'s."""
    m = DeviceModel(dev(runtimes__rt__nchwc_block=16, runtimes__rt__efficiency__pool_unblocked=0.25))
    p36, p32 = parse_layer_spec("avgpool K=36 P=8 Q=8 R=3 S=3"), parse_layer_spec("avgpool K=32 P=8 Q=8 R=3 S=3")
    assert m.layer(p36).compute_s == pytest.approx(36 * 64 * 9 / (4e9 * 0.25))
    assert m.layer(p32).compute_s == pytest.approx(32 * 64 * 9 / 4e9)
    no_block = DeviceModel(dev(runtimes__rt__efficiency__pool_unblocked=0.25))
    assert no_block.layer(p36).compute_s == pytest.approx(36 * 64 * 9 / 4e9)
    assert DeviceModel(dev(runtimes__rt__nchwc_block=16)).layer(p36).compute_s == pytest.approx(36 * 64 * 9 / 4e9)


def _reorder_net(in_channels: int, mid: int):
    """input (in_channels x 8 x 8) -> conv a (mid channels, 3x3) -> avg pool -> conv b (32) -> output."""
    b = NetworkBuilder("reorders")
    x = b.input(1, in_channels, 8, 8)
    y = b.conv(x, mid, kernel=3, padding=1, name="a")
    y = b.pool(y, "avg", 3, stride=1, padding=1, name="pool")
    y = b.conv(y, 32, kernel=1, name="b")
    return b.build()


def test_nchwc_reorders_are_costed_exactly_where_the_transformer_inserts_them():
    """Module docstring 2b: a 32-channel input read by an NCHWc conv gets one ReorderInput (charged to conv a);
    a 3-channel input takes the NCHW-input path (none); a 36-channel pool is NCHW, so conv a's output is reordered
    back (ReorderOutput at a) and conv b reads an NCHW tensor (ReorderInput at b); the network output leaves NCHWc
    (ReorderOutput at b).  Each reorder costs a unary element-wise operator of the tensor's elements; without
    ``nchwc_block`` nothing is added."""
    blocked = DeviceModel(dev(runtimes__rt__nchwc_block=16))
    copy_s = lambda n: blocked.layer(Layer("c", "relu", K=n)).latency_s  # noqa: E731

    def reorders(net):
        return {r.layer.name: (r.cost.reorders, r.cost.reorder_s) for r in blocked.network(net).layers}

    r = reorders(_reorder_net(32, 32))  # everything block-aligned: in at a, out at b
    assert r["a"] == (1, pytest.approx(copy_s(32 * 64)))  # the network input
    assert r["pool"] == (0, 0.0) and r["b"] == (1, pytest.approx(copy_s(32 * 64)))
    r = reorders(_reorder_net(3, 32))  # the stem reads NCHW directly
    assert r["a"] == (0, 0.0) and r["b"][0] == 1
    r = reorders(_reorder_net(3, 36))  # a 36-channel pool is NCHW: out at a, in + out at b
    assert r["a"] == (1, pytest.approx(copy_s(36 * 64)))
    assert r["pool"] == (0, 0.0)
    assert r["b"] == (2, pytest.approx(copy_s(36 * 64) + copy_s(32 * 64)))
    res = blocked.network(_reorder_net(3, 36))
    assert res.latency_s == pytest.approx(sum(blocked.layer(x.layer).latency_s + x.cost.reorder_s for x in res.layers))
    plain = DeviceModel(dev()).network(_reorder_net(32, 32))
    assert all(x.cost.reorders == 0 and x.cost.reorder_s == 0.0 for x in plain.layers)
    assert plain.latency_s == pytest.approx(sum(DeviceModel(dev()).layer(x.layer).latency_s for x in plain.layers))


def test_an_addition_of_a_constant_stays_nchw():
    """Module docstring 2b: a binary element-wise layer with one producer adds a constant (a folded dead branch)
    or the network input, so onnxruntime runs it in NCHW: conv a's output is reordered back (ReorderOutput at a)
    and conv b reads an NCHW tensor (ReorderInput at b)."""
    b = NetworkBuilder("const-add")
    x = b.input(1, 3, 8, 8)
    y = b.conv(x, 32, kernel=3, padding=1, name="a")
    y = b.add(y, Tensor(None, y.shape), name="plus_const")
    b.conv(y, 32, kernel=1, name="b")
    blocked = DeviceModel(dev(runtimes__rt__nchwc_block=16))
    res = {r.layer.name: r.cost.reorders for r in blocked.network(b.build()).layers}
    assert res == {"a": 1, "plus_const": 0, "b": 2}  # b: ReorderInput of the sum, ReorderOutput of the output


def _fusion_net():
    """conv a (32) -> two ReLUs of a (one DARTS state read by two ReLU-first ops) -> convs b, c; conv d (32) on c's
    output, then d + b (d's only output: a Sum candidate) -> ReLU; and a pool + b that no conv can host."""
    b = NetworkBuilder("fusion")
    x = b.input(1, 32, 8, 8)
    a = b.conv(x, 32, kernel=3, padding=1, name="a")
    r1, r2 = b.eltwise("relu", a, name="r1"), b.eltwise("relu", a, name="r2")
    yb = b.conv(r1, 32, kernel=1, name="b")
    yc = b.conv(r2, 32, kernel=1, name="c")
    yd = b.conv(yc, 32, kernel=1, name="d")
    s = b.add(yd, yb, name="sum")
    b.eltwise("relu", s, name="r3")
    b.add(b.pool(yb, "max", 3, stride=1, padding=1, name="pool"), yb, name="pool_sum")
    return b.build()


def test_graph_fusion_follows_onnxruntime_rewrites():
    """Module docstring 2c: r2 is r1's common subexpression; r1 (then the only consumer of a) fuses into a; sum
    becomes d's Sum input and r3 d's activation; pool_sum stays (its conv input b has other consumers); fused
    layers cost only their reorders.  Without ``graph_fusion`` (or ``nchwc_block`` for the Add)
    nothing fuses."""
    net = _fusion_net()
    m = DeviceModel(dev(runtimes__rt__nchwc_block=16, runtimes__rt__graph_fusion=True))
    res = {r.layer.name: r.cost for r in m.network(net).layers}
    assert {k: c.fused_into for k, c in res.items() if c.fused_into} == {"r2": "r1", "r1": "a", "sum": "d", "r3": "d"}
    assert all(c.latency_s == c.reorder_s and c.compute_s == 0.0 for c in res.values() if c.fused_into)
    assert res["pool_sum"].fused_into is None and res["pool_sum"].latency_s > 0
    no_add = DeviceModel(dev(runtimes__rt__graph_fusion=True)).network(net)
    assert {r.layer.name: r.cost.fused_into for r in no_add.layers if r.cost.fused_into} == {"r2": "r1", "r1": "a"}
    separate = DeviceModel(dev(runtimes__rt__graph_fusion=True, runtimes__rt__activation="separate")).network(net)
    assert {r.layer.name for r in separate.layers if r.cost.fused_into} == {"r2"}
    assert not any(r.cost.fused_into for r in DeviceModel(dev(runtimes__rt__nchwc_block=16)).network(net).layers)


def test_concat_copy_is_charged_once_per_concatenation():
    """Module docstring 5: with ``concat: copy`` the first single-input reader of a concatenation (conv c of a
    and b) pays one element-wise copy of its elements; the second reader (pool) of the same one pays nothing;
    the default ``free`` charges nothing."""
    b = NetworkBuilder("concat")
    x = b.input(1, 16, 8, 8)
    ya, yb = b.conv(x, 16, name="a"), b.conv(x, 8, name="b")
    cat = b.concat([ya, yb])
    b.conv(cat, 16, name="c")
    b.pool(cat, "max", 3, stride=1, padding=1, name="pool")
    net = b.build()
    m = DeviceModel(dev(runtimes__rt__concat="copy"))
    res = {r.layer.name: r.cost for r in m.network(net).layers}
    assert res["c"].concat_s == pytest.approx(m.layer(Layer("copy", "relu", K=24 * 64)).latency_s)
    assert res["c"].latency_s == pytest.approx(m.layer(res_layer(net, "c")).latency_s + res["c"].concat_s)
    assert res["pool"].concat_s == 0.0 and res["a"].concat_s == 0.0
    assert all(r.cost.concat_s == 0.0 for r in DeviceModel(dev()).network(net).layers)


def res_layer(net, name):
    return next(layer for layer in net.layers if layer.name == name)


def test_depthwise_efficiency_is_interpolated_per_tap():
    """Module docstring 2: with ``efficiency.depthwise_7x7`` the time per output element is linear in the taps
    through (9, 9 / eff) and (49, 49 / eff_7x7); without it every kernel size keeps ``depthwise``'s."""
    m = DeviceModel(dev(runtimes__rt__efficiency__depthwise=0.1, runtimes__rt__efficiency__depthwise_7x7=0.49))
    plain = DeviceModel(dev(runtimes__rt__efficiency__depthwise=0.1))
    for k, per_output in ((3, 90.0), (5, 90.0 + 10.0 * 16 / 40), (7, 100.0)):
        layer = parse_layer_spec(f"conv K=32 C=32 P=4 Q=4 R={k} S={k} groups=32")
        assert m.layer(layer).compute_s == pytest.approx(32 * 16 * per_output / 10e9)
        assert plain.layer(layer).compute_s == pytest.approx(32 * 16 * k * k / 0.1 / 10e9)


def _device_study():
    import importlib.util

    spec = importlib.util.spec_from_file_location("device_study", ROOT / "bench" / "device_study.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_device_study_files_per_machine_and_timing_statistics():
    """``--study NAME`` keeps another machine's files beside the committed study's (a name that could leave
    bench/results is refused); ``_time_calls`` gives the medians and the minima of the same timed calls; the
    committed second study loads (thread CPU minima recorded) while the first has no minima."""
    ds = _device_study()
    first, second = ds.study_paths(""), ds.study_paths("xeon")
    assert [p.name for p in first] == ["device_measurements.parquet", "device_measurements_machine.json",
                                       "device_study.json"]
    assert [p.name for p in second] == ["device_measurements_xeon.parquet", "device_measurements_xeon_machine.json",
                                        "device_study_xeon.json"]
    assert all(p.parent == ds.RESULTS for p in first + second)
    for bad in ("../x", "a/b", "x y"):
        with pytest.raises(SystemExit):
            ds.study_paths(bad)
    with pytest.raises(SystemExit, match="exists: use --force"):  # the committed measurements are kept
        ds.main(["measure", "--study", "xeon"])
    calls = iter([0.002, 0.001, 0.003])
    med, cpu_med, mn, cpu_mn = ds._time_calls(lambda: __import__("time").sleep(next(calls)), 0, 3)
    assert mn <= med and cpu_mn <= cpu_med and 0.0009 < mn < med < 0.01
    tab = ds.read_measurements("xeon")
    assert len(tab) == 602 * 8 and tab.groupby(["runtime", "threads", "pass"]).size().eq(602).all()
    assert tab.thread_cpu_min_s.notna().all() and (tab.thread_cpu_min_s <= tab.thread_cpu_s).all()
    assert (tab.latency_min_s <= tab.latency_s).all()
    assert "thread_cpu_min_s" not in ds.read_measurements("").columns


def test_spearman_brown_ceiling_of_the_mean_of_two_passes():
    """sqrt(2r / (1 + r)); a non-positive pass-to-pass correlation (3 networks in reversed order: r = -1, which
    divided by zero) gives no ceiling (0); NaN stays NaN."""
    ds = _device_study()
    assert ds._spearman_brown_ceiling(0.8) == pytest.approx(math.sqrt(1.6 / 1.8))
    assert ds._spearman_brown_ceiling(1.0) == pytest.approx(1.0)
    assert ds._spearman_brown_ceiling(-1.0) == 0.0 and ds._spearman_brown_ceiling(0.0) == 0.0
    assert math.isnan(ds._spearman_brown_ceiling(float("nan")))


def test_drift_tracked_diagnostic_recovers_a_drifting_machine():
    """bench/device_study.py ``_drift_tracked``: measurements that are exactly the chain-built model times a machine
    speed drifting within and between passes, with sentinel probes timed on the same drifting machine, give back the
    measurements (MAPE 0, ρ 1, the passes' normalised spread 0) while the raw passes are 20–50 % apart; the local
    scale is read off the probes as calibrate fits it (the median over the probes)."""
    import numpy as np
    import pandas as pd

    from nas import nb201

    ds = _device_study()
    dev = load_arch(ROOT / "configs" / "cpu-host-xeon-kvm.yaml").with_runtime("onnxruntime").with_threads(1)
    model = DeviceModel(dev.without_network_scale())
    archs = ["|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|nor_conv_1x1~1|avg_pool_3x3~2|",
             "|skip_connect~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|nor_conv_3x3~0|none~1|skip_connect~2|",
             "|nor_conv_1x1~0|+|none~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|",
             "|avg_pool_3x3~0|+|nor_conv_3x3~0|skip_connect~1|+|nor_conv_1x1~0|nor_conv_3x3~1|none~2|",
             "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"]
    nw = {i: nb201.build_network(a) for i, a in enumerate(archs)}
    probes = {"p-small": nw[1], "p-large": nw[4], "p-mid": nw[2]}  # any networks serve as probes here
    positions, speed = [0, 2, 5], {1: [1.0, 1.5, 2.0], 2: [1.3, 1.3, 1.3]}

    def timed(net, s):
        r = model.network(net)
        return r.inference_overhead_s + s * (r.latency_s - r.inference_overhead_s)

    sent = pd.DataFrame([dict(probe=k, runtime="ort", threads=1, position=pos, latency_s=timed(n, s), **{"pass": p})
                         for p in (1, 2) for pos, s in zip(positions, speed[p]) for k, n in probes.items()])
    wide = pd.DataFrame({p: {i: timed(nw[i], float(np.interp(i, positions, speed[p]))) for i in nw} for p in (1, 2)})
    spaces = pd.Series("nb201", index=wide.index)
    d = ds._drift_tracked(sent, probes, dev, wide, nw, spaces, "latency_s")
    a = d["all"]
    assert a["mape"] < 1e-9 and a["model"]["spearman"] == pytest.approx(1.0)
    assert a["pass_to_pass_normalised"]["mean_abs_pct"] < 1e-6
    assert 20 < 100 * (wide[1] / wide[2] - 1).abs().max() < 60
    assert d["sentinel_scale"]["pass1"]["max_over_min"] == pytest.approx(2.0)
    assert d["sentinel_scale"]["pass1"]["lag1_autocorrelation_log"] == pytest.approx(1.0)
    p2 = d["sentinel_scale"]["pass2"]
    assert math.isnan(p2.pop("lag1_autocorrelation_log"))  # a constant speed has no autocorrelation
    assert p2 == {"min": pytest.approx(1.3), "median": pytest.approx(1.3), "max": pytest.approx(1.3),
                  "max_over_min": pytest.approx(1.0), "n_positions": 3}
    assert ds._drift_tracked(sent[sent["pass"] == 3], probes, dev, wide, nw, spaces, "latency_s") == {}


def test_device_study_measures_sentinels_and_analyzes_them(tmp_path, monkeypatch, capsys):
    """``measure --sentinel-every N`` times the sentinel probes in every phase before network 0, every N-th network
    and after the last (position = the next network's index), in their own table beside the measurements; network
    rows carry ``t_s`` and the ``--sentinel-each`` probe's times; ``analyze`` writes both diagnostics for every pair
    and skips the few-shot correction of a subset too small to fit on 10 networks (a real, tiny measurement: 7
    networks, one sentinel probe); ``--no-sentinel-each`` leaves the columns empty and the diagnostic out."""
    ds = _device_study()
    monkeypatch.setattr(ds, "RESULTS", tmp_path)
    monkeypatch.setattr(ds, "SENTINELS", ("cifar-res-narrow",))
    monkeypatch.setattr(ds, "SENTINEL_EACH", "cifar-res-narrow")
    monkeypatch.setattr(ds, "SENTINEL_WARMUP", 1)
    monkeypatch.setattr(ds, "SENTINEL_REPEATS", 2)
    with pytest.raises(SystemExit, match="--sentinel-every: a number of networks >= 0"):
        ds.main(["measure", "--study", "t", "--sentinel-every", "-1"])
    assert ds.main(["measure", "--study", "t", "--nb201", "4", "--others", "3", "--sentinel-every", "3",
                    "--warmup", "1", "--repeats", "1", "--repeats-all-threads", "1",
                    "--onnx-dir", str(tmp_path)]) == 0
    tab, sent = ds.read_measurements("t"), ds.read_sentinels("t")
    phases = tab.groupby(["runtime", "threads", "pass"]).size()
    assert len(phases) == 4 * len({1, __import__("os").cpu_count() or 1}) and phases.eq(7).all()
    assert tab.t_s.gt(0).all() and sent.t_s.gt(0).all()
    assert tab.sentinel_thread_cpu_s.gt(0).all() and tab.sentinel_latency_s.gt(0).all()
    assert set(sent.probe) == {"cifar-res-narrow"} and set(sent.runtime) == {"ort", "torch"}
    for _, g in sent.groupby(["runtime", "threads", "pass"]):
        assert sorted(g.position) == [0, 3, 6, 7]
    assert (sent.latency_min_s <= sent.latency_s).all() and sent.thread_cpu_s.gt(0).all()
    meta = json.loads(ds.study_paths("t")[1].read_text())["protocol"]["sentinels"]
    assert meta["every_networks"] == 3 and meta["probes"] == ["cifar-res-narrow"]
    capsys.readouterr()
    assert ds.main(["analyze", "--study", "t", "--hw", str(ROOT / "configs" / "cpu-host-xeon-kvm.yaml")]) == 0
    out = json.loads(ds.study_paths("t")[2].read_text())
    drift = out["drift_tracked"]["cpu-host-xeon-kvm.yaml"]
    assert set(drift) == set(out["results"]["cpu-host-xeon-kvm.yaml"]) - {"targets"}
    for v in drift.values():
        assert v["all"]["n"] == 7 and v["all"]["mape"] > 0 and v["sentinel_scale"]["pass1"]["n_positions"] == 4
    assert "correction" not in out["results"]["cpu-host-xeon-kvm.yaml"]["ort/1t"]["all"]  # 7 networks: too few
    norm = out["speed_normalised"]["cpu-host-xeon-kvm.yaml"]
    assert set(norm) == set(drift) and all(v["mape"] > 0 and "test_retest" in v for v in norm.values())
    printed = capsys.readouterr().out
    assert "drift-tracked (diagnostic" in printed and "speed-normalised (diagnostic" in printed
    (tmp_path / "u").mkdir()
    assert ds.main(["measure", "--study", "u", "--nb201", "2", "--others", "0", "--sentinel-every", "0",
                    "--no-sentinel-each", "--warmup", "1", "--repeats", "1", "--repeats-all-threads", "1",
                    "--onnx-dir", str(tmp_path / "u")]) == 0
    assert ds.read_measurements("u").sentinel_latency_s.isna().all() and ds.read_sentinels("u") is None


def test_ort_executed_nb201_network_keeps_the_additions_of_folded_constants():
    """bench/device_study.py ``ort_executed_network``: in ``|none~0|+|none~0|nor_conv_3x3~1|+|avg_pool_3x3~0|
    skip_connect~1|nor_conv_1x1~2|`` node 1 is zero and node 2 = conv3x3(0) a constant the exporter folds; node 3
    = avgpool(x) + 0 + conv1x1(constant) keeps two additions of constants per cell (15 cells: the 30 Adds
    onnxruntime's profile counts) and no conv on a constant; MACs as ``prune=True``.  A constant-output cell leaves
    no layer; a cell without dead edges gives the pruned network."""
    ds = _device_study()
    arch = "|none~0|+|none~0|nor_conv_3x3~1|+|avg_pool_3x3~0|skip_connect~1|nor_conv_1x1~2|"
    net, pruned = ds.ort_executed_network("nb201", arch), ds.accelsim_network("nb201", arch, prune=True)
    assert sum(1 for x in net.layers if x.op == "add" and ".cell" in x.name) == 30
    assert sum(1 for x in pruned.layers if x.op == "add" and ".cell" in x.name) == 0
    assert net.macs == pruned.macs and not any("conv3x3" in x.name for x in net.layers)
    assert ds.ort_executed_network("nb201", "|none~0|+|none~0|none~1|+|none~0|none~1|nor_conv_3x3~2|").layers == []
    live = "|nor_conv_3x3~0|+|avg_pool_3x3~0|nor_conv_1x1~1|+|nor_conv_3x3~0|nor_conv_1x1~1|avg_pool_3x3~2|"
    assert ([x.name for x in ds.ort_executed_network("nb201", live).layers]
            == [x.name for x in ds.accelsim_network("nb201", live, prune=True).layers])


# ---------------------------------------------------------------------------------------------------------
# dispatch: NetworkEvaluator and accelsim eval
# ---------------------------------------------------------------------------------------------------------
NB = "nb201:|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


def test_network_evaluator_dispatches_on_device(tmp_path):
    from mapper.network import NetworkEvaluator
    from nas.registry import resolve_network

    p = tmp_path / "toy.yaml"
    p.write_text(yaml.safe_dump(BASE))
    device = load_arch(p)
    assert isinstance(device, Device)
    net = resolve_network(NB, 1)
    ev = NetworkEvaluator(device, objective="latency")
    res = ev.network(net)
    direct = DeviceModel(device).network(net)
    assert res.latency_s == pytest.approx(direct.latency_s) and res.latency_s > 0
    assert math.isnan(res.energy_pj) and res.macs == net.macs
    assert ev.layer(net.layers[0]).cost.latency_s == pytest.approx(direct.layers[0].cost.latency_s)
    df = res.to_frame()
    assert {"latency_cycles", "latency_s", "energy_pj"} <= set(df.columns) and len(df) == len(net.layers)
    assert df.attrs["hw_digest"] == device.digest()


def test_eval_cli_with_device_config(tmp_path, capsys):
    p = tmp_path / "toy.yaml"
    p.write_text(yaml.safe_dump(BASE))
    assert main(["eval", NB, "--hw", str(p), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hw"] == "toy" and out["total"]["energy_pj"] is None
    assert out["total"]["latency_s"] == pytest.approx(sum(x["latency_s"] for x in out["layers"]))
    assert {x["bound"] for x in out["layers"]} <= {"compute"} | {f"bandwidth:{lv}" for lv in out["layers"][0]
                                                                   ["traffic_bytes"]}
    assert out["hardware"]["components"] == [] and out["hardware"]["average_power_mw"] is None
    assert main(["eval", NB, "--hw", str(p)]) == 0  # the table renders too
    text = capsys.readouterr().out
    assert "toy" in text and "the device model has no energy model" in text
    assert main(["eval", NB, "--hw", str(p), "--format", "csv"]) == 0
    head = capsys.readouterr().out.splitlines()[0].split(",")
    assert "bound" in head and "arithmetic_intensity_macs_per_byte" in head


def test_mapper_commands_refuse_a_device_with_one_error(capsys):
    from accel.arch import area_mm2

    assert main(["map", "--hw", "cpu-host", "--layer", "conv K=8 C=8 P=4 Q=4 R=3 S=3"]) == 1
    err = capsys.readouterr().err
    assert "need an accelerator config" in err and "Traceback" not in err
    assert not hasattr(load_arch("cpu-host"), "arrays")
    assert area_mm2(load_arch("xeon-gold-6226")) == load_arch("xeon-gold-6226").config.area_mm2
    # rankcorr / nas take loaded devices as well as paths
    assert load_arch(load_arch("cpu-host")).name == "cpu-host"


def test_shipped_device_configs_load():
    devices = [load_arch(p) for p in list_configs()]
    devices = {d.name: d for d in devices if isinstance(d, Device)}
    assert {"cpu-host", "cpu-host-xeon", "cpu-host-xeon-kvm", "gpu-h200", "xeon-gold-6226", "xeon-gold-6240", "xeon-silver-4114", "xeon-silver-4210r",
            "gtx-1080ti", "titan-rtx", "rtx-2080ti"} <= set(devices)
    for d in devices.values():
        assert d.config.sources, d.name
        if not d.name.startswith("cpu-host"):  # calibrated VM slices of unknown parts: no area / TDP
            assert d.config.area_mm2 and d.config.tdp_w, d.name
        assert len(d.config.runtimes) >= 1
    # a 12-core Gold 6226 at 2 AVX-512 FMA units is faster than a 10-core Silver 4114 with one
    assert devices["xeon-gold-6226"].peak_macs_per_s > devices["xeon-silver-4114"].peak_macs_per_s


# ---------------------------------------------------------------------------------------------------------
# a small real cross-check (CI): the calibrated host model against onnxruntime on this machine
# ---------------------------------------------------------------------------------------------------------
def test_real_crosscheck_onnxruntime(tmp_path):
    """Four NAS-Bench-201 networks from ~8 M to ~220 M MACs run in onnxruntime (1 thread, the fastest of 7 calls
    after 2 warm-up calls: noise only adds time): the model (configs/cpu-host.yaml, onnxruntime profile, 1 thread)
    ranks the smallest below the largest and predicts each within a factor of 5 (loose: the machine is shared)."""
    import time

    import numpy as np
    import onnxruntime as ort
    import torch

    from accel.app.xcheck_models import _randomise_bn
    from accel.nn import export_module_onnx
    from nas import nb201
    from nas.registry import SPACES

    archs = ["|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
             "|nor_conv_1x1~0|+|none~0|nor_conv_1x1~1|+|skip_connect~0|none~1|nor_conv_1x1~2|",
             "|nor_conv_3x3~0|+|nor_conv_1x1~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|",
             "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"]
    host = load_arch("cpu-host").with_runtime("onnxruntime").with_threads(1)
    model = DeviceModel(host)
    sp = SPACES["nb201"]()
    measured, predicted = [], []
    for i, a in enumerate(archs):
        torch.manual_seed(0)
        m = _randomise_bn(sp.build_torch(sp.decode(a), prune=False)).eval()
        path = export_module_onnx(m, (1, 3, 32, 32), tmp_path / f"n{i}.onnx")
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = 1, 1
        s = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        x = {"input": np.zeros((1, 3, 32, 32), np.float32)}
        for _ in range(2):
            s.run(None, x)
        ts = []
        for _ in range(7):
            t0 = time.perf_counter()
            s.run(None, x)
            ts.append(time.perf_counter() - t0)
        measured.append(float(np.min(ts)))
        predicted.append(model.network(nb201.build_network(a, prune=False)).latency_s)
    assert predicted[0] < predicted[-1] and measured[0] < measured[-1]
    for p, mm in zip(predicted, measured):
        assert mm / 5 < p < mm * 5, (predicted, measured)
