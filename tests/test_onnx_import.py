"""Tests of the ONNX front end (accel.onnx_import).

Every model is built here with ``onnx.helper`` (nothing is downloaded).  Expected layer dims and MACs are
computed independently: output sizes come from running the model through ``onnx.reference``'s
ReferenceEvaluator (the ONNX reference implementation) or are worked out by hand in the test, and MACs
from the textbook formulas, never from the importer's code.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from accel.onnx_import import OnnxImportError, load_onnx_network  # noqa: E402
from accel.workload import WorkloadError  # noqa: E402

F = TensorProto.FLOAT
RNG = np.random.default_rng(0)


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
def vi(name, shape, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def init(name, shape, value=None, dtype=np.float32):
    arr = np.asarray(value, dtype=dtype) if value is not None else RNG.standard_normal(shape).astype(dtype)
    return numpy_helper.from_array(arr.reshape(shape) if value is not None and shape is not None else arr, name)


def model(nodes, inputs, outputs, inits=(), opset=17):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="accelsim-tests")
    m.ir_version = 8
    return m


def save(tmp_path, m, name="m.onnx"):
    p = tmp_path / name
    onnx.save(m, str(p))
    return p


def ref_shape(m, feeds):
    """Output shapes from the ONNX reference implementation."""
    from onnx.reference import ReferenceEvaluator

    return [np.shape(o) for o in ReferenceEvaluator(m).run(None, feeds)]


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def by_source(net):
    return {layer.source[0]: layer for layer in net.layers}


def assert_one_line(exc: Exception):
    msg = str(exc)
    assert msg and "\n" not in msg and "Traceback" not in msg


# ---------------------------------------------------------------------------------------------
# Convolutions
# ---------------------------------------------------------------------------------------------
CONV_CASES = [
    # (name, x shape, weight shape, attrs)
    ("grouped_dilated", (2, 32, 20, 20), (64, 8, 3, 3), dict(group=4, dilations=[2, 2], pads=[2, 2, 2, 2])),
    ("depthwise_dilated_strided", (1, 32, 21, 19), (32, 1, 3, 3),
     dict(group=32, dilations=[2, 3], strides=[2, 1], pads=[2, 3, 2, 3])),
    ("depthwise_multiplier", (1, 16, 14, 14), (32, 1, 5, 5), dict(group=16, pads=[2, 2, 2, 2], strides=[2, 2])),
    ("asymmetric_pads", (1, 3, 17, 19), (8, 3, 3, 5), dict(pads=[0, 1, 2, 3], strides=[2, 2])),
    ("same_upper", (1, 4, 15, 15), (6, 4, 4, 4), dict(auto_pad="SAME_UPPER", strides=[2, 2])),
    ("same_lower", (1, 4, 15, 15), (6, 4, 4, 4), dict(auto_pad="SAME_LOWER", strides=[2, 2])),
    ("valid", (1, 4, 15, 15), (6, 4, 4, 4), dict(auto_pad="VALID", strides=[2, 2])),
    ("same_upper_dilated", (1, 4, 16, 10), (4, 2, 3, 3), dict(auto_pad="SAME_UPPER", dilations=[2, 2], group=2)),
]


@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_dims_and_macs_match_reference(tmp_path, case):
    _, xs, ws, attrs = case
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", **attrs)
    m = model([node], [vi("x", list(xs))], [vi("y", None)], [init("w", ws), init("b", (ws[0],))])
    (ys,) = ref_shape(m, {"x": rand(*xs)})
    net = load_onnx_network(save(tmp_path, m))
    (layer,) = net.layers
    g = attrs.get("group", 1)
    assert layer.op == "conv" and layer.source == ("conv",)
    assert (layer.G, layer.N, layer.K, layer.C) == (g, xs[0], ws[0] // g, xs[1] // g)
    assert (layer.P, layer.Q, layer.R, layer.S) == (ys[2], ys[3], ws[2], ws[3])
    assert layer.stride == tuple(attrs.get("strides", [1, 1]))
    assert layer.dilation == tuple(attrs.get("dilations", [1, 1]))
    assert layer.macs == xs[0] * ws[0] * (xs[1] // g) * ys[2] * ys[3] * ws[2] * ws[3]


def test_asymmetric_pads_by_hand(tmp_path):
    # H: floor((17 + 0 + 2 - 3) / 2) + 1 = 9;  W: floor((19 + 1 + 3 - 5) / 2) + 1 = 10
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="c", pads=[0, 1, 2, 3], strides=[2, 2])
    m = model([node], [vi("x", [1, 3, 17, 19])], [vi("y", None)], [init("w", (8, 3, 3, 5))])
    (layer,) = load_onnx_network(save(tmp_path, m)).layers
    assert (layer.P, layer.Q) == (9, 10)
    assert layer.padding == (0, 1, 2, 3)
    assert layer.macs == 8 * 3 * 9 * 10 * 3 * 5


@pytest.mark.parametrize("mode,pads,out", [("SAME_UPPER", (1, 1, 2, 2), 8), ("SAME_LOWER", (2, 2, 1, 1), 8),
                                           ("VALID", (0, 0, 0, 0), 6)])
def test_auto_pad_by_hand(tmp_path, mode, pads, out):
    # 15x15 input, 4x4 kernel, stride 2: SAME -> ceil(15/2) = 8 with total padding (8-1)*2+4-15 = 3
    # (SAME_UPPER puts the odd one at the end); VALID -> floor((15-4)/2)+1 = 6
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="c", auto_pad=mode, strides=[2, 2])
    m = model([node], [vi("x", [1, 4, 15, 15])], [vi("y", None)], [init("w", (6, 4, 4, 4))])
    (layer,) = load_onnx_network(save(tmp_path, m)).layers
    assert (layer.P, layer.Q) == (out, out)
    assert layer.padding == pads
    assert layer.macs == 6 * 4 * out * out * 16


def test_conv1d_as_h1(tmp_path):
    # L_out = floor((50 + 2 + 2 - 2*(5-1) - 1) / 2) + 1 = 23
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="c1d", pads=[2, 2], strides=[2], dilations=[2]),
             helper.make_node("MaxPool", ["y"], ["z"], name="pool1d", kernel_shape=[3], strides=[2])]
    m = model(nodes, [vi("x", [2, 8, 50])], [vi("z", None)], [init("w", (16, 8, 5))])
    ys, = ref_shape(model(nodes[:1], [vi("x", [2, 8, 50])], [vi("y", None)], [init("w", (16, 8, 5))]),
                    {"x": rand(2, 8, 50)})
    assert ys == (2, 16, 23)
    net = load_onnx_network(save(tmp_path, m))
    conv, pool = net.layers
    assert (conv.N, conv.K, conv.C, conv.P, conv.Q, conv.R, conv.S) == (2, 16, 8, 1, 23, 1, 5)
    assert conv.stride == (1, 2) and conv.dilation == (1, 2) and conv.padding == (0, 2, 0, 2)
    assert conv.macs == 2 * 16 * 8 * 23 * 5
    assert (pool.op, pool.K, pool.P, pool.Q, pool.R, pool.S) == ("maxpool", 16, 1, 11, 1, 3)


def test_conv_transpose_is_conv_over_zero_stuffed_input(tmp_path):
    xs, ws = (1, 8, 7, 7), (8, 4, 3, 3)  # weight (C_in, C_out/group, kh, kw)
    node = helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", strides=[2, 2], pads=[1, 1, 1, 1],
                            output_padding=[1, 1])
    m = model([node], [vi("x", list(xs))], [vi("y", None)], [init("w", ws)])
    (ys,) = ref_shape(m, {"x": rand(*xs)})
    assert ys == (1, 4, 14, 14)  # 2*(7-1) + 1 + 3 - 2
    (layer,) = load_onnx_network(save(tmp_path, m)).layers
    assert layer.op == "conv" and layer.stride == (1, 1)
    assert (layer.K, layer.C, layer.P, layer.Q, layer.R, layer.S) == (4, 8, 14, 14, 3, 3)
    # the stride-1 window over the zero-stuffed input (13x13 + pads 1 / 2) covers it exactly
    assert layer.input_hw == ((7 - 1) * 2 + 1 + 1 + 2, (7 - 1) * 2 + 1 + 1 + 2)
    assert layer.macs == 4 * 8 * 14 * 14 * 9


# ---------------------------------------------------------------------------------------------
# Gemm / MatMul / attention
# ---------------------------------------------------------------------------------------------
def test_gemm_trans_b_is_fc(tmp_path):
    node = helper.make_node("Gemm", ["a", "w", "bias"], ["y"], name="fc", transB=1)
    m = model([node], [vi("a", [4, 32])], [vi("y", None)], [init("w", (10, 32)), init("bias", (10,))])
    (ys,) = ref_shape(m, {"a": rand(4, 32)})
    assert ys == (4, 10)
    (layer,) = load_onnx_network(save(tmp_path, m)).layers
    assert (layer.op, layer.N, layer.K, layer.C) == ("fc", 4, 10, 32)
    assert layer.macs == 4 * 10 * 32


def test_gemm_trans_a_and_two_activations_is_matmul(tmp_path):
    nodes = [helper.make_node("Gemm", ["a", "w"], ["y"], name="g1", transA=1),
             helper.make_node("Gemm", ["y", "b"], ["z"], name="g2", transB=1)]
    m = model(nodes, [vi("a", [32, 4]), vi("b", [6, 10])], [vi("z", None)], [init("w", (32, 10))])
    (zs,) = ref_shape(m, {"a": rand(32, 4), "b": rand(6, 10)})
    assert zs == (4, 6)
    g1, g2 = load_onnx_network(save(tmp_path, m)).layers
    assert (g1.op, g1.N, g1.K, g1.C) == ("fc", 4, 10, 32)
    assert (g2.op, g2.P, g2.K, g2.C) == ("matmul", 4, 6, 10)
    assert g2.macs == 4 * 6 * 10


def _mha_encoder(B=2, T=8, D=16, H=2, FF=32, batch_dim=None):
    """A hand-written pre-LN-free transformer encoder layer (BERT style) with two heads."""
    dh = D // H
    n = helper.make_node
    nodes = [
        n("MatMul", ["x", "wq"], ["q0"], name="q_proj"), n("Add", ["q0", "bq"], ["q1"], name="q_bias"),
        n("MatMul", ["x", "wk"], ["k0"], name="k_proj"), n("Add", ["k0", "bk"], ["k1"], name="k_bias"),
        n("MatMul", ["x", "wv"], ["v0"], name="v_proj"), n("Add", ["v0", "bv"], ["v1"], name="v_bias"),
        n("Reshape", ["q1", "heads_shape"], ["q2"], name="q_split"),
        n("Reshape", ["k1", "heads_shape"], ["k2"], name="k_split"),
        n("Reshape", ["v1", "heads_shape"], ["v2"], name="v_split"),
        n("Transpose", ["q2"], ["q"], name="q_t", perm=[0, 2, 1, 3]),      # (B, H, T, dh)
        n("Transpose", ["k2"], ["kT"], name="k_t", perm=[0, 2, 3, 1]),     # (B, H, dh, T)
        n("Transpose", ["v2"], ["v"], name="v_t", perm=[0, 2, 1, 3]),      # (B, H, T, dh)
        n("MatMul", ["q", "kT"], ["s0"], name="scores"),                   # (B, H, T, T)
        n("Div", ["s0", "scale"], ["s1"], name="scale_div"),
        n("Softmax", ["s1"], ["p"], name="softmax", axis=-1),
        n("MatMul", ["p", "v"], ["c0"], name="context"),                   # (B, H, T, dh)
        n("Transpose", ["c0"], ["c1"], name="merge_t", perm=[0, 2, 1, 3]),
        n("Reshape", ["c1", "model_shape"], ["c2"], name="merge"),
        n("MatMul", ["c2", "wo"], ["o0"], name="out_proj"), n("Add", ["o0", "bo"], ["o1"], name="out_bias"),
        n("Add", ["o1", "x"], ["r1"], name="residual1"),
        n("LayerNormalization", ["r1", "g1", "b1"], ["h1"], name="ln1", axis=-1),
        n("MatMul", ["h1", "w1"], ["f0"], name="ffn1"), n("Add", ["f0", "bf1"], ["f1"], name="ffn1_bias"),
        n("Relu", ["f1"], ["f2"], name="ffn_relu"),
        n("MatMul", ["f2", "w2"], ["f3"], name="ffn2"), n("Add", ["f3", "bf2"], ["f4"], name="ffn2_bias"),
        n("Add", ["f4", "h1"], ["r2"], name="residual2"),
        n("LayerNormalization", ["r2", "g2", "b2"], ["y"], name="ln2", axis=-1),
    ]
    inits = [init(w, (D, D)) for w in ("wq", "wk", "wv", "wo")] + [init(b, (D,)) for b in ("bq", "bk", "bv", "bo")]
    inits += [init("w1", (D, FF)), init("bf1", (FF,)), init("w2", (FF, D)), init("bf2", (D,)),
              init("g1", (D,)), init("b1", (D,)), init("g2", (D,)), init("b2", (D,)),
              init("heads_shape", (4,), [0, 0, H, dh], np.int64), init("model_shape", (3,), [0, 0, D], np.int64),
              init("scale", None, math.sqrt(dh))]
    xshape = [batch_dim or B, T, D]
    return model(nodes, [vi("x", xshape)], [vi("y", None)], inits)


def test_hand_built_transformer_encoder(tmp_path):
    B, T, D, H, FF = 2, 8, 16, 2, 32
    dh = D // H
    m = _mha_encoder(B, T, D, H, FF)
    (ys,) = ref_shape(m, {"x": rand(B, T, D)})
    assert ys == (B, T, D)
    net = load_onnx_network(save(tmp_path, m))
    L = by_source(net)
    for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
        assert (L[proj].op, L[proj].N, L[proj].P, L[proj].C, L[proj].K) == ("fc", B, T, D, D)
        assert L[proj].macs == B * T * D * D
    # the bias adds fold into the projections
    assert L["q_proj"].source == ("q_proj", "q_bias")
    # batched attention MatMuls: (B,H,T,dh) @ (B,H,dh,T) and (B,H,T,T) @ (B,H,T,dh), batch x heads in G
    s, c = L["scores"], L["context"]
    assert (s.op, s.G, s.P, s.C, s.K) == ("matmul", B * H, T, dh, T)
    assert (c.op, c.G, c.P, c.C, c.K) == ("matmul", B * H, T, T, dh)
    assert s.macs == c.macs == B * H * T * T * dh
    assert L["softmax"].op == "softmax" and L["softmax"].ops == B * H * T * T * 4
    assert L["scale_div"].op == "mul" and not L["scale_div"].binary and L["scale_div"].ops == B * H * T * T
    assert L["ln1"].op == "layernorm" and L["ln1"].ops == B * T * D * 6
    assert L["residual1"].binary and L["residual1"].ops == B * T * D
    assert (L["ffn1"].K, L["ffn1"].C) == (FF, D) and L["ffn1"].source == ("ffn1", "ffn1_bias", "ffn_relu")
    expected = 4 * B * T * D * D + 2 * B * H * T * T * dh + 2 * B * T * D * FF
    assert net.macs == expected
    # data flow: scores reads q and k projections; context reads softmax and v
    assert set(net.graph.predecessors(s.name)) == {L["q_proj"].name, L["k_proj"].name}
    assert set(net.graph.predecessors(c.name)) == {L["softmax"].name, L["v_proj"].name}
    report = net.import_report
    assert {f["node"] for f in report["fused"]} >= {"q_bias", "ffn_relu"}
    assert {f["op_type"] for f in report["free"]} == {"Reshape", "Transpose"}


def test_symbolic_batch_and_input_shapes(tmp_path):
    m = _mha_encoder(batch_dim="batch")
    p = save(tmp_path, m)
    net = load_onnx_network(p, batch=3)
    L = by_source(net)
    assert L["scores"].G == 3 * 2 and L["q_proj"].N == 3
    assert net.import_report["inputs"] == {"x": (3, 8, 16)}
    net5 = load_onnx_network(p, input_shapes={"x": (5, 8, 16)})
    assert by_source(net5)["scores"].G == 5 * 2
    assert net5.macs == pytest.approx(net.macs * 5 / 3)


def test_symbolic_sequence_dim_needs_input_shapes(tmp_path):
    m = _mha_encoder(batch_dim="batch")
    m.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "seq"
    p = save(tmp_path, m)
    with pytest.raises(OnnxImportError) as e:
        load_onnx_network(p)
    assert "'x'" in str(e.value) and "dim 1" in str(e.value) and "seq" in str(e.value)
    assert_one_line(e.value)
    net = load_onnx_network(p, batch=2, input_shapes={"x": (2, 12, 16)})
    assert by_source(net)["scores"].P == 12 and by_source(net)["scores"].K == 12
    with pytest.raises(OnnxImportError, match="unknown input"):
        load_onnx_network(p, input_shapes={"nope": (1, 2, 3)})
    with pytest.raises(OnnxImportError, match="rank"):
        load_onnx_network(p, input_shapes={"x": (1, 2)})


def test_fixed_batch_conflict(tmp_path):
    node = helper.make_node("Relu", ["x"], ["y"], name="r")
    p = save(tmp_path, model([node], [vi("x", [1, 4])], [vi("y", None)]))
    assert load_onnx_network(p).layers[0].N == 1
    with pytest.raises(OnnxImportError, match="fixed batch size 1"):
        load_onnx_network(p, batch=4)
    assert load_onnx_network(p, batch=4, input_shapes={"x": (4, 4)}).layers[0].N == 4


def test_torch_attention_block(tmp_path):
    """A ViT/BERT-style block written with torch ops, exported by PyTorch (TorchScript exporter)."""
    torch = pytest.importorskip("torch")
    from torch import nn

    class Block(nn.Module):
        def __init__(self, d=32, h=4, f=64):
            super().__init__()
            self.h = h
            self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.fc1, self.fc2, self.act = nn.Linear(d, f), nn.Linear(f, d), nn.GELU()

        def forward(self, x):
            b, t, d = x.shape
            q, k, v = self.qkv(self.ln1(x)).reshape(b, t, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
            a = (q @ k.transpose(-2, -1)) * (d // self.h) ** -0.5
            y = (a.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
            x = x + self.proj(y)
            return x + self.fc2(self.act(self.fc1(self.ln2(x))))

    import warnings

    torch.manual_seed(0)
    B, T, D, H, FF = 2, 6, 32, 4, 64
    p = tmp_path / "block.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Block(D, H, FF).eval(), (torch.randn(B, T, D),), str(p), dynamo=False, opset_version=17,
                          input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    net = load_onnx_network(p, batch=B)
    mm = [layer for layer in net.layers if layer.op == "matmul"]
    assert [(m.G, m.P, m.C, m.K) for m in mm] == [(B * H, T, D // H, T), (B * H, T, T, D // H)]
    fc = [(layer.N, layer.P, layer.C, layer.K) for layer in net.layers if layer.op == "fc"]
    assert fc == [(B, T, D, 3 * D), (B, T, D, D), (B, T, D, FF), (B, T, FF, D)]
    assert net.macs == B * T * D * 3 * D + 2 * B * H * T * T * (D // H) + B * T * D * D + 2 * B * T * D * FF
    assert sum(1 for layer in net.layers if layer.op == "layernorm" and layer.R == 6) == 2  # LayerNorms
    assert sum(1 for layer in net.layers if layer.op == "softmax" and layer.R == 4) == 1  # softmax
    for layer in net.layers:
        assert layer.source and all(isinstance(s, str) and s for s in layer.source)
    # opset 17 has no Gelu op: the exporter writes x * 0.5 * (1 + erf(x / sqrt 2)), fused as one activation
    fc1 = [layer for layer in net.layers if layer.op == "fc"][2]
    assert [s.rsplit("/", 1)[-1] for s in fc1.source] == ["MatMul", "Add", "Div", "Erf", "Add", "Mul", "Mul_1"]
    assert len(net.layers) == 4 + 2 + 2 + 1 + 1 + 2  # fc, matmul, layernorm, softmax, scale, residual adds


def _gelu_model(half_first: bool):
    n = helper.make_node
    if half_first:  # 0.5 * x * (1 + erf(x * (1/sqrt 2)))
        nodes = [n("Mul", ["h", "half"], ["hx"], name="g_half"), n("Mul", ["h", "rs2"], ["d"], name="g_scale"),
                 n("Erf", ["d"], ["e"], name="g_erf"), n("Add", ["e", "one"], ["a"], name="g_add"),
                 n("Mul", ["hx", "a"], ["y"], name="g_mul")]
    else:  # (x * (1 + erf(x / sqrt 2))) * 0.5
        nodes = [n("Div", ["h", "s2"], ["d"], name="g_div"), n("Erf", ["d"], ["e"], name="g_erf"),
                 n("Add", ["e", "one"], ["a"], name="g_add"), n("Mul", ["h", "a"], ["m"], name="g_mul"),
                 n("Mul", ["m", "half"], ["y"], name="g_half")]
    nodes = [n("MatMul", ["x", "w"], ["h"], name="fc")] + nodes
    inits = [init("w", (16, 32)), init("half", None, 0.5), init("one", None, 1.0), init("s2", None, math.sqrt(2)),
             init("rs2", None, 1 / math.sqrt(2))]
    return model(nodes, [vi("x", [3, 16])], [vi("y", None)], inits)


@pytest.mark.parametrize("half_first", [False, True])
def test_decomposed_gelu_fused(tmp_path, half_first):
    m = _gelu_model(half_first)
    p = save(tmp_path, m)
    (fc,) = load_onnx_network(p).layers
    assert fc.op == "fc" and fc.source[0] == "fc" and set(fc.source) == {nd.name for nd in m.graph.node}
    unfused = load_onnx_network(p, fuse=False)
    assert sorted(layer.op for layer in unfused.layers) == ["act", "add", "fc", "mul", "mul", "mul"]
    assert sum(layer.binary for layer in unfused.layers) == 1


def test_silu_gating_fused(tmp_path):
    n = helper.make_node
    nodes = [n("Conv", ["x", "w"], ["c"], name="conv"), n("Sigmoid", ["c"], ["s"], name="sig"),
             n("Mul", ["c", "s"], ["y"], name="swish")]
    p = save(tmp_path, model(nodes, [vi("x", [1, 3, 6, 6])], [vi("y", None)], [init("w", (4, 3, 1, 1))]))
    (conv,) = load_onnx_network(p).layers
    assert conv.source == ("conv", "sig", "swish")
    ops = [(layer.op, layer.binary) for layer in load_onnx_network(p, fuse=False).layers]
    assert ops == [("conv", False), ("sigmoid", False), ("mul", True)]


# ---------------------------------------------------------------------------------------------
# Fusion, element-wise, pooling, reductions, free ops
# ---------------------------------------------------------------------------------------------
def _conv_bn_relu():
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c", "s", "bb", "mu", "var"], ["bn"], name="bn"),
             helper.make_node("Relu", ["bn"], ["y"], name="relu")]
    inits = [init("w", (8, 4, 3, 3)), init("s", (8,)), init("bb", (8,)), init("mu", (8,)),
             init("var", (8,), np.ones(8))]
    return model(nodes, [vi("x", [1, 4, 10, 10])], [vi("y", None)], inits)


def test_bn_and_relu_fused_into_conv(tmp_path):
    p = save(tmp_path, _conv_bn_relu())
    net = load_onnx_network(p)
    (layer,) = net.layers
    assert layer.op == "conv" and layer.source == ("conv", "bn", "relu")
    fused = {(f["node"], f["op_type"], f["into"]) for f in net.import_report["fused"]}
    assert fused == {("bn", "BatchNormalization", "conv"), ("relu", "Relu", "conv")}


def test_no_fuse_keeps_bn_and_relu(tmp_path):
    net = load_onnx_network(save(tmp_path, _conv_bn_relu()), fuse=False)
    ops = [(layer.op, layer.source) for layer in net.layers]
    assert ops == [("conv", ("conv",)), ("mul", ("bn",)), ("relu", ("relu",))]
    assert all(layer.ops == 8 * 10 * 10 for layer in net.layers[1:])
    assert list(net.graph.edges) == [("conv", "bn"), ("bn", "relu")]
    assert net.import_report["fused"] == []


def test_standalone_bn_and_activation_layers(tmp_path):
    n = helper.make_node
    nodes = [n("BatchNormalization", ["x", "s", "bb", "mu", "var"], ["b0"], name="bn_in"),   # graph input: standalone
             n("Conv", ["b0", "w"], ["c1"], name="c1"), n("Conv", ["b0", "w"], ["c2"], name="c2"),
             n("Concat", ["c1", "c2"], ["cat"], name="cat", axis=1),
             n("Clip", ["cat", "lo", "hi"], ["r6"], name="relu6"),       # two producers: standalone
             n("HardSwish", ["r6"], ["hs"], name="hswish")]              # fused into the relu6 layer
    inits = [init("s", (4,)), init("bb", (4,)), init("mu", (4,)), init("var", (4,), np.ones(4)),
             init("w", (4, 4, 1, 1)), init("lo", None, 0.0), init("hi", None, 6.0)]
    m = model(nodes, [vi("x", [1, 4, 5, 5])], [vi("hs", None)], inits)
    net = load_onnx_network(save(tmp_path, m))
    L = by_source(net)
    assert L["bn_in"].op == "mul" and not L["bn_in"].binary
    assert L["relu6"].op == "relu6" and L["relu6"].K == 8 and L["relu6"].source == ("relu6", "hswish")
    assert set(net.graph.predecessors("relu6")) == {"c1", "c2"}
    assert any(f["op_type"] == "Concat" for f in net.import_report["free"])


def test_eltwise_broadcast_and_constants(tmp_path):
    n = helper.make_node
    nodes = [n("GlobalAveragePool", ["x"], ["s"], name="gap"),
             n("Sigmoid", ["s"], ["sg"], name="sig"),
             n("Mul", ["sg", "x"], ["y0"], name="se_scale"),          # per-channel broadcast (smaller operand first)
             n("Sub", ["y0", "x"], ["y1"], name="sub"),               # same shapes
             n("Mul", ["y1", "two"], ["y2"], name="by_const"),        # constant operand: unary
             n("Div", ["y2", "row"], ["y3"], name="by_row")]          # constant row: unary
    inits = [init("two", None, 2.0), init("row", (1, 1, 1, 7))]
    m = model(nodes, [vi("x", [2, 3, 5, 7])], [vi("y3", None)], inits)
    net = load_onnx_network(save(tmp_path, m))
    L = by_source(net)
    assert (L["gap"].op, L["gap"].K, L["gap"].R, L["gap"].S, L["gap"].source) == ("avgpool", 3, 5, 7, ("gap", "sig"))
    se = L["se_scale"]
    assert (se.op, se.binary, se.broadcast, se.N, se.K, se.P, se.Q) == ("mul", True, True, 2, 3, 5, 7)
    assert (L["sub"].op, L["sub"].binary, L["sub"].broadcast) == ("add", True, False)
    assert (L["by_const"].op, L["by_const"].binary) == ("mul", False)
    assert (L["by_row"].op, L["by_row"].binary, L["by_row"].ops) == ("mul", False, 2 * 3 * 5 * 7)


def test_pools_and_reductions(tmp_path):
    n = helper.make_node
    nodes = [n("MaxPool", ["x"], ["m"], name="mp", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
             n("AveragePool", ["m"], ["a"], name="ap", kernel_shape=[2, 2], strides=[1, 1], pads=[1, 1, 0, 0]),
             n("ReduceMean", ["a"], ["r"], name="rm", axes=[2, 3], keepdims=0)]
    m = model(nodes, [vi("x", [1, 6, 12, 12])], [vi("r", None)], opset=17)
    ms, as_, rs = ref_shape(model(nodes, [vi("x", [1, 6, 12, 12])], [vi("m", None), vi("a", None), vi("r", None)]),
                            {"x": rand(1, 6, 12, 12)})
    net = load_onnx_network(save(tmp_path, m))
    L = by_source(net)
    assert (L["mp"].P, L["mp"].Q) == ms[2:] == (6, 6)      # ceil((12-3)/2)+1 = 6
    assert (L["ap"].P, L["ap"].Q) == as_[2:] == (6, 6)
    assert L["ap"].padding == (1, 1, 0, 0)
    assert (L["rm"].op, L["rm"].N, L["rm"].K, L["rm"].S, L["rm"].ops) == ("avgpool", 1, 6, 36, 6 * 36)
    assert rs == (1, 6)


def test_decomposed_layernorm(tmp_path):
    n = helper.make_node
    B, T, D = 2, 4, 8
    nodes = [n("ReduceMean", ["x"], ["mu"], name="mean", axes=[-1]),
             n("Sub", ["x", "mu"], ["xc"], name="center"),
             n("Pow", ["xc", "two"], ["sq"], name="square"),
             n("ReduceMean", ["sq"], ["var"], name="var", axes=[-1]),
             n("Add", ["var", "eps"], ["ve"], name="add_eps"),
             n("Sqrt", ["ve"], ["sd"], name="sqrt"),
             n("Div", ["xc", "sd"], ["xn"], name="normalize"),
             n("Mul", ["xn", "gamma"], ["xg"], name="gamma"),
             n("Add", ["xg", "beta"], ["y"], name="beta")]
    inits = [init("two", None, 2.0), init("eps", None, 1e-5), init("gamma", (D,)), init("beta", (D,))]
    m = model(nodes, [vi("x", [B, T, D])], [vi("y", None)], inits, opset=17)
    net = load_onnx_network(save(tmp_path, m))
    L = by_source(net)
    assert [layer.source[0] for layer in net.layers] == [nd.name for nd in nodes]
    assert (L["mean"].op, L["mean"].N, L["mean"].K, L["mean"].S) == ("avgpool", B, T, D)
    assert (L["center"].binary, L["center"].broadcast) == (True, True)   # x - mean: mean is per (N, K)
    assert (L["square"].op, L["square"].binary) == ("mul", False)
    assert (L["normalize"].op, L["normalize"].binary, L["normalize"].broadcast) == ("mul", True, True)
    assert L["sqrt"].op == "act" and L["sqrt"].ops == B * T
    assert L["beta"].ops == B * T * D


def test_resize_and_free_ops(tmp_path):
    n = helper.make_node
    nodes = [n("Conv", ["x", "w"], ["c"], name="conv"),
             n("Resize", ["c", "", "scales"], ["u"], name="up", mode="nearest"),
             n("Pad", ["u", "pads"], ["pd"], name="pad"),
             n("Split", ["pd", "split"], ["s1", "s2"], name="split", axis=1),
             n("Slice", ["s2", "st", "en", "ax"], ["sl"], name="slice"),
             n("Concat", ["s1", "sl"], ["cat"], name="cat", axis=1),
             n("Flatten", ["cat"], ["f"], name="flat"),
             n("Gemm", ["f", "wf"], ["y"], name="fc", transB=1)]
    inits = [init("w", (4, 3, 1, 1)), init("scales", (4,), [1, 1, 2, 2]), init("pads", (8,), [0, 0, 1, 1, 0, 0, 1, 1],
                                                                                np.int64),
             init("split", (2,), [1, 3], np.int64), init("st", (1,), [1], np.int64), init("en", (1,), [3], np.int64),
             init("ax", (1,), [1], np.int64), init("wf", (5, 3 * 14 * 14))]
    m = model(nodes, [vi("x", [1, 3, 6, 6])], [vi("y", None)], inits, opset=17)
    (ys,) = ref_shape(m, {"x": rand(1, 3, 6, 6)})
    assert ys == (1, 5)
    net = load_onnx_network(save(tmp_path, m))
    assert [layer.op for layer in net.layers] == ["conv", "act", "fc"]
    up = by_source(net)["up"]
    assert up.ops == 4 * 12 * 12
    assert by_source(net)["fc"].C == 3 * 14 * 14
    free = {f["op_type"] for f in net.import_report["free"]}
    assert free == {"Pad", "Split", "Slice", "Concat", "Flatten"}
    assert list(net.graph.edges) == [("conv", "up"), ("up", "fc")]


def test_shape_arithmetic_reshape(tmp_path):
    """Flatten written as Shape → Gather → Unsqueeze → Concat → Reshape (what exporters emit)."""
    n = helper.make_node
    nodes = [n("Relu", ["x"], ["r"], name="relu"),
             n("Shape", ["r"], ["shp"], name="shape"),
             n("Gather", ["shp", "zero"], ["b"], name="gather", axis=0),
             n("Unsqueeze", ["b", "axes0"], ["b1"], name="unsq"),
             n("Concat", ["b1", "minus1"], ["tgt"], name="concat", axis=0),
             n("Reshape", ["r", "tgt"], ["f"], name="reshape"),
             n("MatMul", ["f", "w"], ["y"], name="fc")]
    inits = [init("zero", None, 0, np.int64), init("axes0", (1,), [0], np.int64),
             init("minus1", (1,), [-1], np.int64), init("w", (48, 10))]
    m = model(nodes, [vi("x", ["N", 3, 4, 4])], [vi("y", None)], inits, opset=17)
    net = load_onnx_network(save(tmp_path, m), batch=5)
    relu, fc = net.layers
    assert (relu.op, relu.N) == ("relu", 5)
    assert (fc.op, fc.N, fc.C, fc.K) == ("fc", 5, 48, 10)
    assert {f["op_type"] for f in net.import_report["constant_folded"]} == {"Gather", "Unsqueeze", "Concat"}


def test_external_data(tmp_path):
    m = _conv_bn_relu()
    p = tmp_path / "ext.onnx"
    onnx.save_model(m, str(p), save_as_external_data=True, all_tensors_to_one_file=True, location="ext.weights",
                    size_threshold=0)
    assert (tmp_path / "ext.weights").exists()
    net = load_onnx_network(p)
    assert [layer.source for layer in net.layers] == [("conv", "bn", "relu")]
    assert net.macs == 8 * 4 * 10 * 10 * 9
    (tmp_path / "ext.weights").unlink()
    with pytest.raises(OnnxImportError) as e:
        load_onnx_network(p)
    assert "ext.weights" in str(e.value) or "external" in str(e.value)
    assert_one_line(e.value)


# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------
def test_error_file_not_found(tmp_path):
    with pytest.raises(OnnxImportError, match="file not found") as e:
        load_onnx_network(tmp_path / "missing.onnx")
    assert isinstance(e.value, WorkloadError)
    assert_one_line(e.value)


# class names that must never reach a user (protobuf's DecodeError, Python's ZeroDivisionError, ...)
INTERNAL = ("Error:", "Exception", "DecodeError", "ZeroDivision", "KeyError", "IndexError", "Traceback")


def assert_plain(exc: Exception, path) -> None:
    """One line, naming the file, with no Python class name."""
    assert_one_line(exc)
    msg = str(exc)
    assert str(path) in msg
    assert not any(word in msg for word in INTERNAL), msg


def test_error_not_onnx(tmp_path):
    p = tmp_path / "notes.onnx"
    p.write_text("this is not a protobuf\n" * 10)
    with pytest.raises(OnnxImportError, match=r"^not an ONNX model: .*notes\.onnx: not a valid ONNX protobuf") as e:
        load_onnx_network(p)
    assert_plain(e.value, p)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(OnnxImportError, match=r"^not an ONNX model: .*empty\.onnx: the file is empty") as e:
        load_onnx_network(empty)
    assert_plain(e.value, empty)


@pytest.mark.parametrize("seed", range(8))
def test_error_random_bytes_in_plain_words(tmp_path, seed):
    import random

    p = tmp_path / f"r{seed}.onnx"
    p.write_bytes(random.Random(seed).randbytes(64 + 97 * seed))
    with pytest.raises(OnnxImportError) as e:
        load_onnx_network(p)
    assert_plain(e.value, p)


def test_error_decodes_but_is_not_a_model(tmp_path):
    # an empty ModelProto decodes from b"\x08\x00" (ir_version 0): no graph, no opset
    p = tmp_path / "bare.onnx"
    p.write_bytes(b"\x08\x00")
    with pytest.raises(OnnxImportError, match="not an ONNX model: .*no IR version, graph or opset") as e:
        load_onnx_network(p)
    assert_plain(e.value, p)


def test_error_directory_fifo_and_unreadable(tmp_path, monkeypatch):
    import os
    from pathlib import Path

    d = tmp_path / "x.onnx"
    d.mkdir()
    with pytest.raises(OnnxImportError, match="is a directory") as e:
        load_onnx_network(d)
    assert_plain(e.value, d)
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    with pytest.raises(OnnxImportError, match="not a regular file") as e:  # must not block on the read
        load_onnx_network(fifo)
    assert_plain(e.value, fifo)
    p = save(tmp_path, _conv_bn_relu(), "locked.onnx")

    def denied(self):
        raise PermissionError(13, "Permission denied", str(self))
    monkeypatch.setattr(Path, "read_bytes", denied)  # as root, mode bits would not stop the read
    with pytest.raises(OnnxImportError, match="cannot read the file \\(Permission denied\\)") as e:
        load_onnx_network(p)
    assert_plain(e.value, p)


def test_error_truncated(tmp_path):
    data = _mha_encoder().SerializeToString()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 7, len(data) - 1):
        p = tmp_path / f"trunc{cut}.onnx"
        p.write_bytes(data[:cut])
        with pytest.raises(OnnxImportError) as e:
            load_onnx_network(p)
        assert_plain(e.value, p)


def test_error_cycle(tmp_path):
    n = helper.make_node
    nodes = [n("Add", ["x", "b"], ["a"], name="n1"), n("Relu", ["a"], ["b"], name="n2")]
    m = model(nodes, [vi("x", [1, 4])], [vi("b", None)])
    with pytest.raises(OnnxImportError, match="cycle") as e:
        load_onnx_network(save(tmp_path, m))
    assert "n1" in str(e.value) and "n2" in str(e.value)
    assert_one_line(e.value)


@pytest.mark.parametrize("opset", [5, 99])
def test_error_unsupported_opset(tmp_path, opset):
    node = helper.make_node("Relu", ["x"], ["y"], name="r")
    m = model([node], [vi("x", [1, 4])], [vi("y", None)], opset=opset)
    with pytest.raises(OnnxImportError) as e:
        load_onnx_network(save(tmp_path, m))
    assert f"opset {opset}" in str(e.value) and "7–25" in str(e.value)


def _with_unsupported():
    n = helper.make_node
    nodes = [n("Conv", ["x", "w"], ["c"], name="conv"),
             n("Einsum", ["c", "c"], ["e"], name="einsum_1", equation="nchw,nchw->nchw"),
             n("Einsum", ["e", "c"], ["e2"], name="einsum_2", equation="nchw,nchw->nchw"),
             n("NonZero", ["e2"], ["nz"], name="nonzero"),
             n("MyOp", ["e2"], ["z"], name="custom", domain="com.example"),
             n("Relu", ["z"], ["y"], name="relu")]
    m = model(nodes, [vi("x", [1, 3, 8, 8])], [vi("y", None), vi("nz", None)], [init("w", (4, 3, 3, 3))])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    return m


def test_error_unsupported_ops_listed_together(tmp_path):
    with pytest.raises(OnnxImportError) as e:
        load_onnx_network(save(tmp_path, _with_unsupported()))
    msg = str(e.value)
    assert_one_line(e.value)
    for part in ("Einsum", "einsum_1", "NonZero", "nonzero", "com.example.MyOp", "custom", "allow"):
        assert part in msg


def test_allow_unsupported_costs_them_as_zero(tmp_path):
    net = load_onnx_network(save(tmp_path, _with_unsupported()), allow_unsupported=True)
    unsup = {(u["node"], u["op_type"]) for u in net.import_report["unsupported"]}
    assert unsup == {("einsum_1", "Einsum"), ("einsum_2", "Einsum"), ("nonzero", "NonZero"),
                     ("custom", "com.example.MyOp")}
    # nothing fuses across an unsupported op: the relu after the custom op is a layer of its own, fed by the
    # conv through the (zero-cost) unsupported chain; the custom op's unknown output shape is assumed to be
    # its input's (noted in the report)
    assert [(layer.op, layer.source) for layer in net.layers] == [("conv", ("conv",)), ("relu", ("relu",))]
    assert list(net.graph.edges) == [("conv", "relu")]
    assert net.layers[1].ops == 4 * 6 * 6
    assert any("custom" in note for note in net.import_report["notes"])
    assert net.macs == 4 * 3 * 6 * 6 * 9
    assert all(not any(s in ("einsum_1", "einsum_2", "nonzero", "custom") for s in layer.source)
               for layer in net.layers)


def test_error_empty_graph(tmp_path):
    m = model([], [vi("x", [1, 3, 8, 8])], [vi("x", [1, 3, 8, 8])])
    p = save(tmp_path, m, "empty_graph.onnx")
    with pytest.raises(OnnxImportError, match="the graph has no nodes: nothing to cost") as e:
        load_onnx_network(p)
    assert_plain(e.value, p)


def test_error_only_free_ops(tmp_path):
    n = helper.make_node
    m = model([n("Identity", ["x"], ["a"], name="id"), n("Reshape", ["a", "s"], ["y"], name="rs")],
              [vi("x", [1, 4])], [vi("y", None)], [init("s", (2,), [2, 2], dtype=np.int64)])
    p = save(tmp_path, m, "free.onnx")
    with pytest.raises(OnnxImportError, match=r"nothing to cost: the graph has only free operators "
                                              r"\(Identity, Reshape\)") as e:
        load_onnx_network(p)
    assert_plain(e.value, p)


def test_error_only_unsupported_ops(tmp_path):
    n = helper.make_node
    nodes = [n("Einsum", ["x", "x"], ["e"], name="einsum", equation="nchw,nchw->nchw"),
             n("NonZero", ["e"], ["y"], name="nonzero")]
    p = save(tmp_path, model(nodes, [vi("x", [1, 3, 8, 8])], [vi("y", None)]), "unsup.onnx")
    with pytest.raises(OnnxImportError, match="unsupported ONNX operator.*Einsum.*NonZero"):
        load_onnx_network(p)
    # allowed, they would cost zero: a network with nothing costed is not a result
    with pytest.raises(OnnxImportError, match=r"nothing to cost: every operator is unsupported or free "
                                              r"\(unsupported: Einsum, NonZero\)") as e:
        load_onnx_network(p, allow_unsupported=True)
    assert_plain(e.value, p)


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_cli_only_unsupported_is_an_error_not_a_zero_result(tmp_path, capsys, fmt):
    from accel.app.cli import main

    n = helper.make_node
    p = save(tmp_path, model([n("Einsum", ["x", "x"], ["y"], name="einsum", equation="nchw,nchw->nchw")],
                             [vi("x", [1, 3, 8, 8])], [vi("y", None)]), "unsup.onnx")
    assert main(["eval", str(p), "--hw", "eyeriss", "--allow-unsupported", "--format", fmt]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"accelsim: error: {p}: nothing to cost: every operator is unsupported" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("attrs, what", [(dict(strides=[0, 0]), "strides"), (dict(group=0), "group"),
                                         (dict(dilations=[1, -1]), "dilations"), (dict(pads=[0, -1, 0, 0]), "pads")])
def test_error_conv_attributes_out_of_range(tmp_path, attrs, what):
    n = helper.make_node
    m = model([n("Conv", ["x", "w"], ["y"], name="badconv", **attrs)], [vi("x", [1, 3, 8, 8])], [vi("y", None)],
              [init("w", (4, 3, 3, 3))])
    p = save(tmp_path, m)
    with pytest.raises(OnnxImportError, match=f"node 'badconv' \\(Conv\\): attribute {what}") as e:
        load_onnx_network(p)
    assert_plain(e.value, p)


def test_error_pool_stride_zero(tmp_path):
    n = helper.make_node
    m = model([n("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[2, 2], strides=[0, 1])],
              [vi("x", [1, 3, 8, 8])], [vi("y", None)])
    with pytest.raises(OnnxImportError, match=r"node 'pool' \(MaxPool\): attribute strides = \[0, 1\]"):
        load_onnx_network(save(tmp_path, m))


@pytest.mark.parametrize("shape, rule", [([1, 0, 8, 8], "dim 1 is 0"), ([1, 3, -8, 8], "dim 2 is -8"),
                                         ([1, 3, 2 ** 40, 8], "dim 2 is 1099511627776")])
def test_error_input_dims_out_of_range(tmp_path, shape, rule):
    m = model([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", shape)], [vi("y", None)])
    p = save(tmp_path, m)
    with pytest.raises(OnnxImportError, match=f"input 'x' {rule}; dims must be between 1 and 2\\^31") as e:
        load_onnx_network(p)
    assert_plain(e.value, p)
    ok = model([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", [1, 4])], [vi("y", None)])
    with pytest.raises(OnnxImportError, match=r"input_shapes\['x'\] = \(1, 4294967296\) has a dim above 2\^31"):
        load_onnx_network(save(tmp_path, ok, "ok.onnx"), input_shapes={"x": (1, 2 ** 32)})


def test_error_string_input(tmp_path):
    m = model([helper.make_node("Relu", ["x"], ["y"], name="r")], [vi("x", [1, 4], TensorProto.STRING)],
              [vi("y", None)])
    with pytest.raises(OnnxImportError, match="graph input 'x' has element type STRING"):
        load_onnx_network(save(tmp_path, m))


def test_error_external_data_outside_the_model_folder(tmp_path):
    m = _conv_bn_relu()
    t = m.graph.initializer[0]
    t.ClearField("float_data")
    t.ClearField("raw_data")
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "../../../../etc/hostname"), ("offset", "0"), ("length", "16")):
        e = t.external_data.add()
        e.key, e.value = k, v
    p = save(tmp_path, m, "escape.onnx")
    with pytest.raises(OnnxImportError, match="cannot read the model's external data|external data file missing") as e:
        load_onnx_network(p)
    assert_plain(e.value, p)


def test_unexpected_failure_names_the_node_in_plain_words(tmp_path, monkeypatch):
    # a bug-shaped failure inside a handler: the message names the node and hides the class name
    from accel import onnx_import

    def boom(self, node, nname, op, at, ins):
        return {}["weights"]
    monkeypatch.setattr(onnx_import._Importer, "_conv", boom)
    m = _conv_bn_relu()
    p = save(tmp_path, m)
    with pytest.raises(OnnxImportError, match=r"node 'conv' \(Conv\): malformed ONNX model: missing entry 'weights'") as e:
        load_onnx_network(p)
    assert_plain(e.value, p)


def test_error_malformed_graph(tmp_path):
    # a node reading a tensor nobody produces, and a conv whose weight does not match its input
    n = helper.make_node
    m = model([n("Relu", ["ghost"], ["y"], name="r")], [vi("x", [1, 4])], [vi("y", None)])
    with pytest.raises(OnnxImportError, match="ghost"):
        load_onnx_network(save(tmp_path, m, "a.onnx"))
    m = model([n("Conv", ["x", "w"], ["y"], name="bad")], [vi("x", [1, 3, 8, 8])], [vi("y", None)],
              [init("w", (4, 5, 3, 3))])
    with pytest.raises(OnnxImportError, match="bad") as e:
        load_onnx_network(save(tmp_path, m, "b.onnx"))
    assert_one_line(e.value)
    with pytest.raises(OnnxImportError, match="batch"):
        load_onnx_network(save(tmp_path, m, "c.onnx"), batch=0)


def test_3d_conv_is_unsupported(tmp_path):
    n = helper.make_node
    nodes = [n("Conv", ["x", "w"], ["c"], name="conv3d"), n("Relu", ["c"], ["y"], name="relu")]
    m = model(nodes, [vi("x", [1, 2, 4, 6, 6])], [vi("y", None)], [init("w", (3, 2, 3, 3, 3))])
    p = save(tmp_path, m)
    with pytest.raises(OnnxImportError, match=r"Conv \(3-D\).*conv3d"):
        load_onnx_network(p)
    net = load_onnx_network(p, allow_unsupported=True)
    # the ONNX-inferred output shape (1, 3, 2, 4, 4) is kept; the relu cannot fuse across the unsupported conv
    assert [(layer.op, layer.N, layer.K, layer.P) for layer in net.layers] == [("relu", 1, 3, 2 * 4 * 4)]
