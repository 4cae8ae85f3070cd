"""Tests of the built-in network zoo against published numbers.

Independent checks use plain-Python arithmetic restated from the papers (never the builder), and the
published parameter counts (torchvision / Caffe), which pin every channel count of every layer.
"""

from __future__ import annotations


import networkx as nx
import pytest

from accel.workload import Network, WorkloadError
from accel.zoo import ZOO, get_network, list_networks

NAMES = ["alexnet", "vgg16", "resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_large"]

# Published MACs per image (conv + FC): AlexNet per-layer sums (Eyeriss), torchvision "GFLOPS" column
# (which counts MACs) for the others; MobileNetV2 paper: 300 M; MobileNetV3-Large torchvision: 0.217 G
# (the paper's Table 3 says 219 M).
PUBLISHED_MACS = {
    "alexnet": 724.4e6,
    "vgg16": 15.47e9,
    "resnet18": 1.814e9,
    "resnet50": 4.089e9,
    "mobilenet_v2": 300.0e6,
    "mobilenet_v3_large": 217.0e6,
}

# Layer counts by op.
LAYER_COUNTS = {
    "alexnet": {"conv": 5, "fc": 3, "maxpool": 3},
    "vgg16": {"conv": 13, "fc": 3, "maxpool": 5},
    "resnet18": {"conv": 20, "fc": 1, "maxpool": 1, "avgpool": 1, "add": 8},
    "resnet50": {"conv": 53, "fc": 1, "maxpool": 1, "avgpool": 1, "add": 16},
    # stem + 2 (t=1 block) + 16*3 + last 1x1; adds: 1+2+3+2+2 repeated blocks
    "mobilenet_v2": {"conv": 52, "fc": 1, "avgpool": 1, "add": 10},
    # stem + 2 (block 1 has no expand) + 14*3 + 8 SE * 2 + last 1x1; avgpool: head + 8 SE
    "mobilenet_v3_large": {"conv": 62, "fc": 2, "avgpool": 9, "mul": 8, "add": 10},
}

INPUT_SHAPES = {name: (1, 3, 224, 224) for name in NAMES} | {"alexnet": (1, 3, 227, 227)}

# Published parameter counts: torchvision ``sum(p.numel() for p in model.parameters())``; AlexNet is the
# Caffe bvlc_alexnet (grouped) model.
PUBLISHED_PARAMS = {
    "alexnet": 60_965_224,
    "vgg16": 138_357_544,
    "resnet18": 11_689_512,
    "resnet50": 25_557_032,
    "mobilenet_v2": 3_504_872,
    "mobilenet_v3_large": 5_483_032,
}


@pytest.fixture(scope="module", params=NAMES)
def net(request) -> Network:
    return get_network(request.param)


def _close(value: float, expected: float, rel: float = 0.01) -> bool:
    return abs(value - expected) <= rel * expected


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------
def test_registry_lists_all_networks():
    from accel.zoo_transformer import TRANSFORMERS  # tests/test_transformers.py; names carry their options

    assert list_networks() == sorted([*NAMES, *TRANSFORMERS])
    assert set(ZOO) == set(NAMES) | set(TRANSFORMERS)
    for name in NAMES:
        assert ZOO[name]().name == name
    for name, fn in TRANSFORMERS.items():
        assert fn().name.partition("?")[0] == name


def test_unknown_name_raises_with_known_names():
    with pytest.raises(WorkloadError) as exc:
        get_network("lenet5")
    for name in NAMES:
        assert name in str(exc.value)


def test_name_lookup_is_forgiving():
    assert get_network("MobileNet-V2").macs == get_network("mobilenet_v2").macs


def test_bad_batch_raises():
    with pytest.raises(WorkloadError):
        get_network("resnet18", batch=0)


# ---------------------------------------------------------------------------------------------
# Every network
# ---------------------------------------------------------------------------------------------
def test_total_macs_match_published(net):
    assert _close(net.macs, PUBLISHED_MACS[net.name]), f"{net.name}: {net.macs / 1e6:.1f} M MACs"


def test_layer_counts_by_op(net):
    counts = {op: net.count(op) for op in {layer.op for layer in net.layers}}
    assert counts == LAYER_COUNTS[net.name]


def test_dag_is_acyclic_connected_single_source_and_sink(net):
    g = net.graph
    assert nx.is_directed_acyclic_graph(g)
    assert nx.is_weakly_connected(g)
    sources = [n for n in g if g.in_degree(n) == 0]
    sinks = [n for n in g if g.out_degree(n) == 0]
    assert sources == [net.layers[0].name]
    assert sinks == [net.layers[-1].name]
    assert g.nodes[sinks[0]]["layer"].op == "fc" and g.nodes[sinks[0]]["layer"].K == 1000


def test_binary_layers_have_two_producers(net):
    for layer in net.layers:
        if layer.binary:
            assert net.graph.in_degree(layer.name) == 2, layer.name


def test_first_layer_input(net):
    assert net.input_shape == INPUT_SHAPES[net.name]
    first = net.layers[0]
    assert first.op == "conv" and first.G == 1 and first.C == 3 and first.N == 1
    top, left, bottom, right = first.padding
    h, w = first.input_hw
    # the window covers the input (plus padding), without running past the padded edge
    assert h <= net.input_shape[2] + top + bottom < h + first.stride[0]
    assert w <= net.input_shape[3] + left + right < w + first.stride[1]


def test_no_fused_ops_as_layers(net):
    ops = {layer.op for layer in net.layers}
    assert not ops & {"relu", "relu6", "hardswish", "hardsigmoid", "sigmoid", "act"}


def test_batch_scaling(net):
    big = get_network(net.name, batch=4)
    assert big.macs == 4 * net.macs
    assert big.input_shape == (4,) + net.input_shape[1:]
    assert [layer.N for layer in big.layers] == [4] * len(big.layers)
    assert big.macs == net.with_batch(4).macs


def test_parameter_count_matches_published(net):
    """Weights from the layer shapes plus bias / BatchNorm terms by each model's convention."""
    params = 0
    for layer in net.layers:
        if not layer.is_mac:
            continue
        out_channels = layer.G * layer.K
        params += layer.G * layer.K * layer.C * layer.R * layer.S
        if net.name in ("alexnet", "vgg16") or layer.op == "fc" or ".se." in layer.name:
            params += out_channels  # bias
        else:
            params += 2 * out_channels  # BatchNorm weight + bias (conv has no bias)
    assert params == PUBLISHED_PARAMS[net.name]


# ---------------------------------------------------------------------------------------------
# AlexNet per layer (Eyeriss)
# ---------------------------------------------------------------------------------------------
def test_alexnet_per_layer_macs():
    net = get_network("alexnet")
    macs = {layer.name: layer.macs for layer in net.layers if layer.is_mac}
    expected_m = {"CONV1": 105.4, "CONV2": 223.9, "CONV3": 149.5, "CONV4": 112.1, "CONV5": 74.8}
    for name, m in expected_m.items():
        assert round(macs[name] / 1e6, 1) == m, name
    # plain arithmetic: K * C/groups * R*S * P*Q
    assert macs["CONV1"] == 96 * 3 * 11 * 11 * 55 * 55
    assert macs["CONV2"] == 256 * 48 * 5 * 5 * 27 * 27
    assert macs["CONV3"] == 384 * 256 * 3 * 3 * 13 * 13
    assert macs["CONV4"] == 384 * 192 * 3 * 3 * 13 * 13
    assert macs["CONV5"] == 256 * 192 * 3 * 3 * 13 * 13
    assert macs["FC6"] == 256 * 6 * 6 * 4096
    assert macs["FC7"] == 4096 * 4096
    assert macs["FC8"] == 4096 * 1000
    grouped = {layer.name: layer.G for layer in net.layers if layer.op == "conv"}
    assert grouped == {"CONV1": 1, "CONV2": 2, "CONV3": 1, "CONV4": 2, "CONV5": 2}


# ---------------------------------------------------------------------------------------------
# Independent plain-arithmetic MAC totals
# ---------------------------------------------------------------------------------------------
def _vgg16_macs() -> int:
    total, cin, hw = 0, 3, 224
    for widths in ((64, 64), (128, 128), (256,) * 3, (512,) * 3, (512,) * 3):
        for cout in widths:
            total += cin * cout * 9 * hw * hw
            cin = cout
        hw //= 2
    return total + 512 * 7 * 7 * 4096 + 4096 * 4096 + 4096 * 1000


def _resnet_macs(blocks: tuple[int, ...], bottleneck: bool) -> int:
    total = 3 * 64 * 49 * 112 * 112  # stem 7x7/2
    cin, hw = 64, 56  # after the 3x3/2 max pool
    for stage, (planes, n) in enumerate(zip((64, 128, 256, 512), blocks)):
        for i in range(n):
            stride = 2 if stage and i == 0 else 1
            hw_out = hw // stride
            cout = planes * 4 if bottleneck else planes
            if bottleneck:
                total += cin * planes * hw * hw  # 1x1 at input resolution
                total += planes * planes * 9 * hw_out * hw_out
                total += planes * cout * hw_out * hw_out
            else:
                total += cin * planes * 9 * hw_out * hw_out + planes * planes * 9 * hw_out * hw_out
            if stride != 1 or cin != cout:
                total += cin * cout * hw_out * hw_out
            cin, hw = cout, hw_out
    return total + cin * 1000


def _mobilenet_macs(blocks, stem: int, last: int, head: tuple[int, ...]) -> int:
    """blocks: (expanded, out, kernel, stride, se_squeeze or 0) with the input channels chained."""
    hw = 112
    total = 3 * stem * 9 * hw * hw
    cin = stem
    for expanded, cout, k, stride, squeeze in blocks:
        if expanded != cin:
            total += cin * expanded * hw * hw
        hw = (hw + stride - 1) // stride
        total += expanded * k * k * hw * hw  # depthwise
        total += 2 * expanded * squeeze  # SE fc1 + fc2 on a 1x1 map
        total += expanded * cout * hw * hw
        cin = cout
    total += cin * last * hw * hw
    features = [last, *head]
    return total + sum(a * b for a, b in zip(features, features[1:]))


def _mobilenet_v2_blocks():
    cin = 32
    for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                       (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(n):
            yield cin * t, c, 3, s if i == 0 else 1, 0
            cin = c


# Howard et al. 2019, Table 1 (exp size, #out, kernel, stride, SE) with SE squeeze = make_divisible(exp/4)
_V3_LARGE = [(16, 16, 3, 1, 0), (64, 24, 3, 2, 0), (72, 24, 3, 1, 0), (72, 40, 5, 2, 24), (120, 40, 5, 1, 32),
             (120, 40, 5, 1, 32), (240, 80, 3, 2, 0), (200, 80, 3, 1, 0), (184, 80, 3, 1, 0),
             (184, 80, 3, 1, 0), (480, 112, 3, 1, 120), (672, 112, 3, 1, 168), (672, 160, 5, 2, 168),
             (960, 160, 5, 1, 240), (960, 160, 5, 1, 240)]

INDEPENDENT_MACS = {
    "alexnet": lambda: 105415200 + 223948800 + 149520384 + 112140288 + 74760192 + 58621952,
    "vgg16": _vgg16_macs,
    "resnet18": lambda: _resnet_macs((2, 2, 2, 2), bottleneck=False),
    "resnet50": lambda: _resnet_macs((3, 4, 6, 3), bottleneck=True),
    "mobilenet_v2": lambda: _mobilenet_macs(_mobilenet_v2_blocks(), 32, 1280, (1000,)),
    "mobilenet_v3_large": lambda: _mobilenet_macs(_V3_LARGE, 16, 960, (1280, 1000)),
}


def test_macs_match_independent_arithmetic(net):
    assert net.macs == INDEPENDENT_MACS[net.name]()


# ---------------------------------------------------------------------------------------------
# Structure details
# ---------------------------------------------------------------------------------------------
def test_resnet50_v15_stride_in_3x3():
    net = get_network("resnet50")
    layers = {layer.name: layer for layer in net.layers}
    for stage in (2, 3, 4):
        assert layers[f"layer{stage}.0.conv1"].stride == (1, 1)
        assert layers[f"layer{stage}.0.conv2"].stride == (2, 2)
        assert layers[f"layer{stage}.0.downsample"].stride == (2, 2)
    assert sum(1 for name in layers if name.endswith("downsample")) == 4
    assert layers["fc"].C == 2048


def test_depthwise_convs_have_one_channel_per_group():
    for name in ("mobilenet_v2", "mobilenet_v3_large"):
        dws = [layer for layer in get_network(name).layers if layer.name.endswith(".dw")]
        assert len(dws) == (17 if name == "mobilenet_v2" else 15)
        assert all(layer.C == 1 and layer.K == 1 and layer.G > 1 for layer in dws)


def test_mobilenet_v3_squeeze_excite_shapes():
    net = get_network("mobilenet_v3_large")
    layers = {layer.name: layer for layer in net.layers}
    fc1 = [layer for name, layer in layers.items() if name.endswith(".se.fc1")]
    assert [layer.K for layer in fc1] == [24, 32, 32, 120, 168, 168, 240, 240]
    for layer in fc1:
        assert layer.P == layer.Q == 1
    scale = layers["features.4.se.scale"]
    assert scale.op == "mul" and scale.binary and scale.broadcast
    assert set(net.graph.predecessors("features.4.se.scale")) == {"features.4.dw", "features.4.se.fc2"}
    assert layers["features.16"].K == 960


def test_resolution_argument():
    big = ZOO["resnet50"](resolution=448)
    assert big.input_shape == (1, 3, 448, 448)
    # 448 = 14 * 32 halves exactly at every stride: everything but the FC scales with the pixel count
    fc = 2048 * 1000
    assert big.macs - fc == 4 * (get_network("resnet50").macs - fc)


# torchvision itself is not installable next to the CPU torch build (its wheels need a newer torch), so the
# independent checks are the published parameter counts above (which pin every channel count) and
# tests/test_torch_zoo.py, which runs every zoo network as a torch module and counts conv/FC MACs with hooks.
