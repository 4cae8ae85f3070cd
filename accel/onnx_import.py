"""ONNX front end: an ``.onnx`` file → a :class:`~accel.workload.Network` of costed layers.

:func:`load_onnx_network` loads the model (external-data files included), resolves the graph inputs to
concrete shapes (``input_shapes`` overrides; a symbolic batch dim takes ``batch``), runs
``onnx.shape_inference.infer_shapes`` (with data propagation) on a weight-free copy of the graph, and
walks the nodes in topological order, tracking for every tensor its shape, whether it is a constant
(initializer / ``Constant`` / computed from constants only) and which layers produced it.  Every layer's
``source`` lists the ONNX node names it came from; ``net.import_report`` (a dict) records what was fused,
what was free, what was constant-folded and what is not supported.

How each operator is costed
===========================

==============================================  ===========================================================
ONNX operator                                   layer (``Layer.op``) and dims
==============================================  ===========================================================
Conv (1-D and 2-D; group, dilations, pads,      ``conv``: G=group, K=M/G, C=C_in/G, P×Q output, R×S kernel.
auto_pad SAME_UPPER/SAME_LOWER/VALID, strides)  1-D convs are 2-D with H=1 (P=R=1).  Bias is free.
ConvTranspose                                   ``conv`` equivalent to the transposed conv: a stride-1 conv
                                                (same kernel and dilation) over the zero-stuffed input
                                                (``stride-1`` zeros between input pixels, padded by
                                                ``dilation*(k-1) - pad``), so P×Q is the real output and
                                                the MACs include the multiplications by stuffed zeros
                                                (≈ stride² × the useful MACs), which is what an accelerator
                                                without a zero-skipping transposed-conv mode executes.
Gemm (transA/transB, alpha/beta)                ``fc`` (N=M rows, K=out, C=reduction) when B is a constant;
                                                ``matmul`` when both operands are activations.  Bias free.
MatMul                                          constant 2-D B: ``fc`` like NetworkBuilder.linear ((N,F):
                                                N=N; (N,T,F): N=N, P=T); two activations (or a batched
                                                constant): ``matmul`` with G = product of the broadcast
                                                batch dims, e.g. attention (B,H,T,D)@(B,H,D,T): G=B·H,
                                                P=T, C=D, K=T.  A constant A (W@X) is an ``fc`` whose
                                                rows come from the activation (P = its columns).
BatchNormalization                              folded into the preceding conv / fc (free; its node name is
                                                appended to that layer's ``source``) when it is that
                                                layer's only consumer; otherwise (or ``fuse=False``) a
                                                unary ``mul`` element-wise layer (one FMA per element).
Relu, Clip, Sigmoid, HardSigmoid, HardSwish,    fused into the producing layer (free, ``source`` appended)
Gelu, Tanh, LeakyRelu, Elu, Selu, Celu, PRelu,  when the input comes from a single layer; otherwise, or
Softplus, Softsign, Mish, ThresholdedRelu,      with ``fuse=False``, an element-wise layer: ``relu``,
Swish                                           ``relu6`` (Clip 0..6), ``sigmoid``, ``hardsigmoid``,
                                                ``hardswish``, ``gelu`` (5 ops per element), ``silu``
                                                (Swish; 2 ops), else
                                                ``act`` (one op per element).
Add, Sub, Mul, Div, Pow, Max, Min, Sum, Mean,   element-wise over the broadcast output shape: Add/Sub/Sum/
Mod, Where, comparisons (Equal, Less, ...),     Mean→``add``, Mul/Div/Pow→``mul``, others ``act``.  Two
And, Or, Xor                                    activation operands: ``binary``; the smaller one per
                                                (N, channel) sets ``Layer.broadcast`` (squeeze-excite,
                                                LayerNorm's x - mean); any other broadcast is costed as a
                                                full-size second operand (noted in the report).  A
                                                constant/scalar operand makes the layer unary.
(bias) Add after conv / fc                      a constant per-output-channel Add on a conv/fc output that
                                                has no other consumer is its bias: folded (free, fused).
x * act(x) (SiLU, x * HardSigmoid(x))           the gating Mul fuses with the activation into the producer.
Erf-based GELU subgraph (Div/Mul, Erf, Add,     recognised (what exporters write below opset 20) and fused
Mul, Mul)                                       like a Gelu node (one ``gelu`` layer if it cannot fuse).
Decomposed RMSNorm x*rsqrt(mean(x^2)+eps)*w     recognised and costed as one ``rmsnorm`` layer over x
(Pow, ReduceMean, Add, Sqrt, Div(1,.)/          (with ``fuse``; else node by node).
Reciprocal, Mul [, Mul weight])
Rotary embedding, rotate-half form: x*cos +     recognised and costed as one ``rope`` layer over x (with
Concat(-x2, x1)*sin, x1/x2 a Split/Slice of x   ``fuse``); the Split/Slice and Concat stay free.
Sqrt, Exp, Log, Erf, Reciprocal, Neg, Abs,      unary ``act`` (one op per element); not fused.
Sin, Cos, Floor, Ceil, Round, Sign, Not, ...
MaxPool, AveragePool, LpPool (1-D/2-D)          ``maxpool`` / ``avgpool`` (K=C, R×S window, stride,
                                                dilation, pads/auto_pad, ceil_mode as PyTorch).
GlobalAveragePool, GlobalMaxPool, GlobalLpPool  ``avgpool`` / ``maxpool`` with R×S = H×W, P=Q=1.
ReduceMean/Sum/SumSquare/L1/L2/Prod/LogSum...,  pooling-like reduction: ``avgpool`` (``maxpool`` for
ReduceMax/Min, ArgMax/ArgMin                    Max/Min/Arg*) with N = dim 0 (if kept), K = product of
                                                the other kept dims, S = product of the reduced dims
                                                (one op per input element).
Softmax (4), LogSoftmax (5), LayerNormalization one layer over the tensor with R = the number of ops per
(6), GroupNormalization (6),                    element in brackets (R is a loop no operand depends on,
InstanceNormalization (6), RMSNormalization     so the data moves once and the ops repeat): ``softmax``,
(4), MeanVarianceNormalization (6),             ``layernorm``, ``rmsnorm`` (accel.workload.OPS_PER_ELEMENT:
LpNormalization (3), LRN (size + 3)             Softmax = max, exp(x-max), sum, scale; LayerNorm = mean,
                                                sub, square, variance sum, normalize, affine), the others
                                                ``act``.  The
                                                *decomposed* LayerNorm (ReduceMean, Sub, Pow, Sqrt, Div,
                                                Mul, Add) is costed node by node with the rules above.
Resize, Upsample                                data movement: unary ``act`` over the output (1 op each).
Identity, Reshape, Flatten, Transpose,          free: no layer, only shape bookkeeping (recorded in
Squeeze, Unsqueeze, Concat, Split, Slice,       ``import_report["free"]``).  A node whose inputs are all
Gather, GatherElements, Shape, Size, Constant,  constants is evaluated (shapes, weight preprocessing) and
ConstantOfShape, Cast, CastLike, Pad, Dropout,  is free too (``import_report["constant_folded"]``).
Expand, Tile, Range, DepthToSpace, SpaceToDepth,
QuantizeLinear, DequantizeLinear, EyeLike
==============================================  ===========================================================

All fusions (BN folding, bias folding, activations, gating, GELU) happen only with ``fuse=True`` (the
default); ``fuse=False`` costs every node on its own.

Anything else (3-D convs, Einsum, LSTM, control flow, custom domains, ...) is unsupported: the import
fails with one message listing every unsupported operator type (with a node name), unless
``allow_unsupported=True``, which costs those nodes as zero (no layer; their outputs keep the shape that
ONNX shape inference gives and pass on their inputs' producers) and lists them in
``import_report["unsupported"]``.

Supported opsets (default domain): :data:`MIN_OPSET`–:data:`MAX_OPSET`.  Every problem with the input
file raises :class:`OnnxImportError` (a :class:`~accel.workload.WorkloadError`) with a one-line message.
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import re

import networkx as nx
import numpy as np
import onnx
from onnx import numpy_helper

from accel.workload import OPS_PER_ELEMENT as KERNEL_OPS
from accel.workload import Layer, Network, WorkloadError, window_out_size

__all__ = ["MAX_OPSET", "MIN_OPSET", "OnnxImportError", "format_import_report", "load_onnx_network",
           "SUPPORTED_OPS", "OPS_PER_ELEMENT"]

MIN_OPSET = 7
MAX_OPSET = 25
MAX_DIM = 2 ** 31  # largest tensor dim (a loop bound of the cost model) an imported graph may have


class OnnxImportError(WorkloadError):
    """An ONNX file that cannot be turned into a network (one-line message)."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


# ---------------------------------------------------------------------------------------------
# Operator tables
# ---------------------------------------------------------------------------------------------
FREE_OPS = frozenset({
    "Identity", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Split", "Slice", "Gather",
    "GatherElements", "Shape", "Size", "Constant", "ConstantOfShape", "Cast", "CastLike", "Pad", "Dropout",
    "Expand", "Tile", "Range", "DepthToSpace", "SpaceToDepth", "QuantizeLinear", "DequantizeLinear", "EyeLike",
})

# activation → Layer.op when it is a layer of its own (Clip is decided from its bounds)
ACTIVATIONS = {
    "Relu": "relu", "Clip": "act", "Sigmoid": "sigmoid", "HardSigmoid": "hardsigmoid", "HardSwish": "hardswish",
    "Gelu": "gelu", "Tanh": "act", "LeakyRelu": "act", "Elu": "act", "Selu": "act", "Celu": "act", "PRelu": "act",
    "Softplus": "act", "Softsign": "act", "Mish": "act", "ThresholdedRelu": "act", "Swish": "silu",
}

UNARY_MATH = frozenset({
    "Sqrt", "Exp", "Log", "Erf", "Reciprocal", "Neg", "Abs", "Sin", "Cos", "Tan", "Floor", "Ceil", "Round",
    "Sign", "Not", "IsNaN", "IsInf", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh",
})

ELEMENTWISE = {
    "Add": "add", "Sub": "add", "Sum": "add", "Mean": "add", "Mul": "mul", "Div": "mul", "Pow": "mul",
    "Max": "act", "Min": "act", "Mod": "act", "Where": "act", "Equal": "act", "Less": "act", "Greater": "act",
    "LessOrEqual": "act", "GreaterOrEqual": "act", "And": "act", "Or": "act", "Xor": "act", "BitShift": "act",
}

REDUCTIONS = {
    "ReduceMean": "avgpool", "ReduceSum": "avgpool", "ReduceSumSquare": "avgpool", "ReduceL1": "avgpool",
    "ReduceL2": "avgpool", "ReduceProd": "avgpool", "ReduceLogSum": "avgpool", "ReduceLogSumExp": "avgpool",
    "ReduceMax": "maxpool", "ReduceMin": "maxpool", "ArgMax": "maxpool", "ArgMin": "maxpool",
}

# fused multi-op kernels costed as one layer with R = ops per element (LRN: size + 3).  The transformer kernels
# become accel.workload's fused op kinds (their R from accel.workload.OPS_PER_ELEMENT, the one table); the others
# an ``act`` layer with the count given here.
FUSED_KERNELS = {"Softmax": "softmax", "LayerNormalization": "layernorm", "RMSNormalization": "rmsnorm"}
OPS_PER_ELEMENT = {
    "LogSoftmax": 5, "GroupNormalization": 6, "InstanceNormalization": 6, "MeanVarianceNormalization": 6,
    "LpNormalization": 3, "LRN": 3, **{k: KERNEL_OPS[v] for k, v in FUSED_KERNELS.items()},
}

POOLS = {"MaxPool": "maxpool", "AveragePool": "avgpool", "LpPool": "avgpool"}
GLOBAL_POOLS = {"GlobalAveragePool": "avgpool", "GlobalMaxPool": "maxpool", "GlobalLpPool": "avgpool"}
MAC_NODES = frozenset({"Conv", "ConvTranspose", "Gemm", "MatMul"})
OTHER = frozenset({"BatchNormalization", "Resize", "Upsample"})

SUPPORTED_OPS = frozenset(FREE_OPS | set(ACTIVATIONS) | UNARY_MATH | set(ELEMENTWISE) | set(REDUCTIONS)
                          | set(OPS_PER_ELEMENT) | set(POOLS) | set(GLOBAL_POOLS) | MAC_NODES | OTHER)

_DEFAULT_DOMAINS = ("", "ai.onnx")
_SMALL = 1 << 16  # constants up to this many elements are evaluated (shape arithmetic); larger stay lazy


# ---------------------------------------------------------------------------------------------
# Tensor bookkeeping
# ---------------------------------------------------------------------------------------------
@dataclass
class _Val:
    shape: tuple[int, ...] | None
    const: bool = False
    value: np.ndarray | None = None
    producers: tuple[str, ...] = ()
    direct: str | None = None  # the layer whose raw (linear) output this tensor is: BN folding target
    opaque: bool = False  # passed through an unsupported operator: nothing fuses across it
    act_of: str | None = None  # output of an activation fused into its producer: the activation's input tensor
    init: object = None  # lazily converted initializer TensorProto

    def get_value(self) -> np.ndarray | None:
        if self.value is None and self.init is not None:
            if self.shape is not None and math.prod(self.shape) <= _SMALL:
                self.value = numpy_helper.to_array(self.init)
            self.init = None if self.value is not None else self.init
        return self.value


def _attrs(node) -> dict:
    out = {}
    for a in node.attribute:
        try:
            out[a.name] = onnx.helper.get_attribute_value(a)
        except Exception:  # noqa: BLE001 - unusual attribute kinds are irrelevant to costing
            out[a.name] = None
    return out


def _s(v) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _eltdims(shape: tuple[int, ...]) -> dict:
    """Element-wise loop dims for a tensor, NetworkBuilder.eltwise's convention: N=dim0, K=dim1,
    P×Q = H×W for 4-D, P = product of the rest otherwise."""
    n = shape[0] if len(shape) >= 1 else 1
    k = shape[1] if len(shape) >= 2 else 1
    if len(shape) == 4:
        p, q = shape[2], shape[3]
    else:
        p, q = (math.prod(shape[2:]) if len(shape) > 2 else 1), 1
    return {"N": int(n), "K": int(k), "P": int(p), "Q": int(q)}


def _broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(d) for d in np.broadcast_shapes(*shapes))


def _norm_axis(a: int, rank: int) -> int:
    return a + rank if a < 0 else a


def _same_pads(size: int, k: int, s: int, d: int, mode: str) -> tuple[int, int, int]:
    out = -(-size // s)
    total = max(0, (out - 1) * s + (k - 1) * d + 1 - size)
    small, big = total // 2, total - total // 2
    return (small, big, out) if mode == "SAME_UPPER" else (big, small, out)


# ---------------------------------------------------------------------------------------------
# Constant evaluation (shape arithmetic) with numpy
# ---------------------------------------------------------------------------------------------
def _np_dtype(onnx_type: int):
    return onnx.helper.tensor_dtype_to_np_dtype(onnx_type)


def _slice_params(node, at, vals, rank):
    if "starts" in at:  # opset < 10
        starts, ends = list(at["starts"]), list(at["ends"])
        axes = list(at.get("axes") or range(len(starts)))
        steps = [1] * len(starts)
    else:
        starts, ends = [int(x) for x in vals[1]], [int(x) for x in vals[2]]
        axes = [int(x) for x in vals[3]] if len(vals) > 3 and vals[3] is not None else list(range(len(starts)))
        steps = [int(x) for x in vals[4]] if len(vals) > 4 and vals[4] is not None else [1] * len(starts)
    return starts, ends, [_norm_axis(a, rank) for a in axes], steps


def _axes_of(at, vals, idx: int = 1):
    if at.get("axes") is not None:
        return [int(a) for a in at["axes"]]
    if len(vals) > idx and vals[idx] is not None:
        return [int(a) for a in np.asarray(vals[idx]).reshape(-1)]
    return None


def _fold(op: str, at: dict, vals: list) -> list[np.ndarray] | None:
    """Evaluate a node whose inputs are all known small constants; None when not implemented."""
    x = vals[0] if vals else None
    if op in ("Identity", "Dropout"):
        return [x]
    if op == "Cast":
        return [x.astype(_np_dtype(at["to"]))]
    if op == "CastLike":
        return [x.astype(vals[1].dtype)]
    if op == "Gather":
        return [np.take(x, vals[1].astype(np.int64), axis=int(at.get("axis", 0)))]
    if op == "Unsqueeze":
        axes = _axes_of(at, vals)
        r = x.ndim + len(axes)
        out = x
        for a in sorted(_norm_axis(a, r) for a in axes):
            out = np.expand_dims(out, a)
        return [out]
    if op == "Squeeze":
        axes = _axes_of(at, vals)
        return [np.squeeze(x, axis=tuple(_norm_axis(a, x.ndim) for a in axes)) if axes else np.squeeze(x)]
    if op == "Concat":
        return [np.concatenate([np.atleast_1d(v) for v in vals], axis=int(at.get("axis", 0)))]
    if op == "Slice":
        starts, ends, axes, steps = _slice_params(None, at, vals, x.ndim)
        idx = [slice(None)] * x.ndim
        for s, e, a, st in zip(starts, ends, axes, steps):
            idx[a] = slice(s, e, st)
        return [x[tuple(idx)]]
    if op == "Reshape":
        return [x.reshape(_reshape_shape(x.shape, vals[1], int(at.get("allowzero", 0))))]
    if op == "Flatten":
        a = _norm_axis(int(at.get("axis", 1)), x.ndim)
        return [x.reshape(math.prod(x.shape[:a]), -1)]
    if op == "Transpose":
        return [np.transpose(x, at.get("perm"))]
    if op == "Shape":
        return None
    if op == "Size":
        return [np.array(x.size, dtype=np.int64)]
    if op == "ConstantOfShape":
        if math.prod(int(d) for d in np.asarray(x).reshape(-1)) > _SMALL:
            return None
        t = at.get("value")
        fill = numpy_helper.to_array(t).reshape(-1)[0] if t is not None else np.float32(0)
        return [np.full([int(d) for d in x], fill, dtype=np.asarray(fill).dtype)]
    if op == "Range":
        if abs((float(vals[1]) - float(vals[0])) / float(vals[2])) > _SMALL:
            return None
        return [np.arange(vals[0], vals[1], vals[2]).astype(np.asarray(vals[0]).dtype)]
    if op == "Expand":
        if math.prod(_broadcast(x.shape, tuple(int(d) for d in vals[1]))) > _SMALL:
            return None
        return [x * np.ones([int(d) for d in vals[1]], dtype=x.dtype)]
    if op == "Tile":
        if x.size * math.prod(int(r) for r in vals[1]) > _SMALL:
            return None
        return [np.tile(x, [int(r) for r in vals[1]])]
    if op in ("Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Where", "Equal", "Less", "Greater",
              "LessOrEqual", "GreaterOrEqual", "And", "Or"):
        if math.prod(_broadcast(*[np.shape(v) for v in vals])) > _SMALL:
            return None
    binary = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Equal": np.equal, "Less": np.less,
              "Greater": np.greater, "LessOrEqual": np.less_equal, "GreaterOrEqual": np.greater_equal,
              "And": np.logical_and, "Or": np.logical_or, "Pow": np.power, "Mod": np.mod}
    if op in binary:
        return [np.asarray(binary[op](vals[0], vals[1])).astype(np.result_type(vals[0], vals[1]))
                if op in ("Add", "Sub", "Mul", "Pow", "Mod") else np.asarray(binary[op](vals[0], vals[1]))]
    if op == "Div":
        a, b = vals
        if np.issubdtype(np.asarray(a).dtype, np.integer):
            return [np.trunc(np.asarray(a) / np.asarray(b)).astype(np.asarray(a).dtype)]
        return [np.asarray(a / b)]
    if op in ("Max", "Min"):
        f = np.maximum if op == "Max" else np.minimum
        out = vals[0]
        for v in vals[1:]:
            out = f(out, v)
        return [np.asarray(out)]
    if op == "Where":
        return [np.where(vals[0], vals[1], vals[2])]
    unary = {"Neg": np.negative, "Sqrt": np.sqrt, "Floor": np.floor, "Ceil": np.ceil, "Abs": np.abs,
             "Not": np.logical_not, "Reciprocal": np.reciprocal, "Exp": np.exp, "Log": np.log,
             "Relu": lambda v: np.maximum(v, 0), "Sign": np.sign, "Round": np.round}
    if op in unary:
        return [np.asarray(unary[op](x))]
    if op in ("ReduceProd", "ReduceSum", "ReduceMin", "ReduceMax"):
        axes = _axes_of(at, vals)
        f = {"ReduceProd": np.prod, "ReduceSum": np.sum, "ReduceMin": np.min, "ReduceMax": np.max}[op]
        keep = bool(at.get("keepdims", 1))
        return [np.asarray(f(x, axis=tuple(axes) if axes else None, keepdims=keep))]
    return None


def _reshape_shape(in_shape, target, allowzero: int) -> tuple[int, ...]:
    tgt = [int(t) for t in np.asarray(target).reshape(-1)]
    out = []
    for i, t in enumerate(tgt):
        if t == 0 and not allowzero:
            if i >= len(in_shape):
                raise ValueError(f"Reshape: 0 at position {i} but the input has rank {len(in_shape)}")
            out.append(int(in_shape[i]))
        else:
            out.append(t)
    total = math.prod(in_shape)
    if out.count(-1) > 1:
        raise ValueError(f"Reshape: more than one -1 in {tgt}")
    if -1 in out:
        known = math.prod(d for d in out if d != -1)
        if known == 0 or total % known:
            raise ValueError(f"Reshape: cannot reshape {tuple(in_shape)} to {tuple(tgt)}")
        out[out.index(-1)] = total // known
    if math.prod(out) != total:
        raise ValueError(f"Reshape: cannot reshape {tuple(in_shape)} ({total} elements) to {tuple(tgt)}")
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# Loading and validation
# ---------------------------------------------------------------------------------------------
_CLASS_NAME = re.compile(r"\b(?:[\w.]+\.)?[A-Z]\w*(?:Error|Exception)\b:?\s*")


def _plain(e: BaseException) -> str:
    """An exception as plain words for a one-line message: no Python class names, first line only."""
    plain = {ZeroDivisionError: "division by zero (an attribute such as group, strides or kernel_shape is 0)",
             OverflowError: "a number is too large", RecursionError: "the graph is nested too deeply",
             MemoryError: "the model is too large to import", IndexError: "an attribute or input list is too short"}
    for cls, words in plain.items():
        if isinstance(e, cls):
            return words
    if isinstance(e, KeyError):
        return f"missing entry {e.args[0]!r}" if e.args else "a missing entry"
    text = str(e).strip().splitlines()[0] if str(e).strip() else ""
    text = _CLASS_NAME.sub("", text).strip()
    return text[:300] or "an inconsistent model"


def _not_onnx(path: Path, reason: str) -> OnnxImportError:
    return OnnxImportError(f"not an ONNX model: {path}: {reason}")


def _load_model(path: Path) -> "onnx.ModelProto":
    """Read, decode and check an ONNX file and its external data; every failure is an OnnxImportError naming
    the file ("not an ONNX model: FILE: reason" when the bytes are not an ONNX model)."""
    if not path.exists():
        raise OnnxImportError(f"{path}: file not found")
    if path.is_dir():
        raise OnnxImportError(f"{path}: is a directory, not an ONNX file")
    if not path.is_file():  # a FIFO would block the read forever
        raise _not_onnx(path, "not a regular file (a pipe, socket or device)")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise OnnxImportError(f"{path}: cannot read the file ({e.strerror or _plain(e)})") from None
    if not data:
        raise _not_onnx(path, "the file is empty")
    try:
        model = onnx.load_model_from_string(data)
    except Exception:  # noqa: BLE001 - protobuf's DecodeError and friends
        raise _not_onnx(path, "not a valid ONNX protobuf (truncated, corrupted or another kind of file)") from None
    if model.ir_version <= 0 or not model.HasField("graph") or not model.opset_import:
        raise _not_onnx(path, "it has no IR version, graph or opset import (is it an ONNX file?)")
    from onnx.external_data_helper import load_external_data_for_model

    try:
        load_external_data_for_model(model, str(path.parent))
    except FileNotFoundError as e:
        raise OnnxImportError(f"{path}: external data file missing ({e.filename or _plain(e)})") from None
    except Exception as e:  # noqa: BLE001 - onnx's checker refuses paths outside the model's folder, ...
        raise OnnxImportError(f"{path}: cannot read the model's external data ({_plain(e)})") from None
    return model


def _opset(model, path: Path) -> int:
    versions = {op.domain: op.version for op in model.opset_import}
    v = versions.get("", versions.get("ai.onnx"))
    if v is None:
        raise OnnxImportError(f"{path}: the model imports no default-domain opset; supported opsets are "
                              f"{MIN_OPSET}–{MAX_OPSET}")
    if not MIN_OPSET <= v <= MAX_OPSET:
        raise OnnxImportError(f"{path}: unsupported opset {v}; supported opsets are {MIN_OPSET}–{MAX_OPSET} "
                              "(convert with onnx.version_converter)")
    return int(v)


def _node_name(node, i: int) -> str:
    return node.name or f"{node.op_type}_{i}"


def _toposort(graph, known: set[str], names: list[str], path: Path) -> list[int]:
    """Node indices in topological order; errors for undefined tensors and cycles."""
    producer: dict[str, int] = {}
    for i, node in enumerate(graph.node):
        for o in node.output:
            if o:
                if o in producer or o in known:
                    raise OnnxImportError(f"{path}: tensor {o!r} is produced twice (node {names[i]!r}); "
                                          "malformed graph")
                producer[o] = i
    indeg = [0] * len(graph.node)
    users: dict[int, list[int]] = defaultdict(list)
    for i, node in enumerate(graph.node):
        for t in set(node.input):
            if not t or t in known:
                continue
            if t not in producer:
                raise OnnxImportError(f"{path}: node {names[i]!r} ({node.op_type}) reads tensor {t!r}, which is "
                                      "not a graph input, initializer or node output (truncated or malformed model)")
            indeg[i] += 1
            users[producer[t]].append(i)
    ready = [i for i in range(len(graph.node)) if indeg[i] == 0]
    ready.reverse()
    order = []
    while ready:
        i = ready.pop()
        order.append(i)
        for j in reversed(users[i]):
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(j)
    if len(order) != len(graph.node):
        left = [i for i in range(len(graph.node)) if indeg[i] > 0]
        g = nx.DiGraph()
        for i in left:
            for j in users[i]:
                if indeg[j] > 0:
                    g.add_edge(i, j)
        try:
            cyc = [names[a] for a, _ in nx.find_cycle(g)]
        except nx.NetworkXNoCycle:  # pragma: no cover - only nodes downstream of a cycle
            cyc = [names[i] for i in left[:5]]
        raise OnnxImportError(f"{path}: graph has a cycle through nodes {' -> '.join(map(repr, cyc))}")
    return order


def _resolve_inputs(graph, init_names: set[str], batch: int, input_shapes: dict | None,
                    path: Path) -> dict[str, tuple[int, ...]]:
    inputs = [i for i in graph.input if i.name not in init_names]
    given = {str(k): tuple(int(d) for d in v) for k, v in (input_shapes or {}).items()}
    unknown = sorted(set(given) - {i.name for i in inputs})
    if unknown:
        raise OnnxImportError(f"{path}: input_shapes names unknown input(s) {', '.join(map(repr, unknown))}; "
                              f"model inputs: {', '.join(repr(i.name) for i in inputs) or 'none'}")
    for name, shp in given.items():
        if any(d < 1 for d in shp):
            raise OnnxImportError(f"{path}: input_shapes[{name!r}] = {shp} has a non-positive dim")
        if any(d > MAX_DIM for d in shp):
            raise OnnxImportError(f"{path}: input_shapes[{name!r}] = {shp} has a dim above 2^31")
    # symbols bound by the given shapes, then symbolic batch dims
    symbols: dict[str, int] = {}
    decl: dict[str, list] = {}
    for inp in inputs:
        tt = inp.type.tensor_type if inp.type.HasField("tensor_type") else None
        if tt is None:
            raise OnnxImportError(f"{path}: graph input {inp.name!r} is not a tensor (sequences/maps are not "
                                  "supported)")
        if tt.elem_type in _NON_NUMERIC:
            raise OnnxImportError(f"{path}: graph input {inp.name!r} has element type "
                                  f"{onnx.TensorProto.DataType.Name(tt.elem_type)}; only numeric tensors can be costed")
        dims = list(tt.shape.dim) if tt.HasField("shape") else None
        decl[inp.name] = dims
        if inp.name in given and dims is not None:
            if len(dims) != len(given[inp.name]):
                raise OnnxImportError(f"{path}: input_shapes[{inp.name!r}] has rank {len(given[inp.name])}, the "
                                      f"model's input has rank {len(dims)}")
            for d, v in zip(dims, given[inp.name]):
                if d.dim_param:
                    symbols.setdefault(d.dim_param, v)
    for inp in inputs:
        dims = decl[inp.name]
        if inp.name not in given and dims and not dims[0].HasField("dim_value") and dims[0].dim_param:
            symbols.setdefault(dims[0].dim_param, batch)
    out: dict[str, tuple[int, ...]] = {}
    for inp in inputs:
        if inp.name in given:
            out[inp.name] = given[inp.name]
            continue
        dims = decl[inp.name]
        if dims is None:
            raise OnnxImportError(f"{path}: input {inp.name!r} has no declared shape; give it with "
                                  f"input_shapes={{{inp.name!r}: (...)}} (CLI: --input-shape {inp.name}=1x...)")
        shp = []
        for i, d in enumerate(dims):
            if d.HasField("dim_value") and (d.dim_value > MAX_DIM or (i > 0 and d.dim_value < 1)):
                raise OnnxImportError(f"{path}: input {inp.name!r} dim {i} is {d.dim_value}; dims must be between 1 "
                                      f"and 2^31 (CLI: --input-shape {inp.name}=...)")
            if d.HasField("dim_value") and d.dim_value > 0:
                v = int(d.dim_value)
                if i == 0 and batch != 1 and v != batch:
                    hint = "x".join(map(str, [batch] + [x.dim_value or "?" for x in dims[1:]]))
                    raise OnnxImportError(f"{path}: input {inp.name!r} has a fixed batch size {v} but batch={batch} "
                                          f"was requested; re-export with a dynamic batch axis or give the shape "
                                          f"with --input-shape {inp.name}={hint}")
            elif d.dim_param and d.dim_param in symbols:
                v = symbols[d.dim_param]
            elif i == 0:
                v = batch
            else:
                sym = f"'{d.dim_param}'" if d.dim_param else "unnamed"
                hint = "x".join(str(x.dim_value) if x.HasField("dim_value") else
                                (str(batch) if j == 0 else f"<{x.dim_param or '?'}>") for j, x in enumerate(dims))
                raise OnnxImportError(f"{path}: input {inp.name!r} dim {i} ({sym}) is symbolic and unresolved; give "
                                      f"the shape with input_shapes={{{inp.name!r}: (...)}} "
                                      f"(CLI: --input-shape {inp.name}={hint})")
            shp.append(v)
        out[inp.name] = tuple(shp)
    return out


_NON_NUMERIC = frozenset({onnx.TensorProto.UNDEFINED, onnx.TensorProto.STRING})


def _infer(model, inputs: dict[str, tuple[int, ...]], report: dict) -> dict[str, tuple[int, ...] | None]:
    """onnx.shape_inference on a weight-free copy of the graph with concrete input shapes."""
    g = model.graph
    m = onnx.ModelProto()
    m.ir_version = model.ir_version
    m.opset_import.extend(model.opset_import)
    m.functions.extend(model.functions)
    g2 = m.graph
    g2.name = g.name
    g2.node.extend(g.node)
    elem = {i.name: i.type.tensor_type.elem_type for i in g.input}
    for name, shp in inputs.items():
        g2.input.append(onnx.helper.make_tensor_value_info(name, elem.get(name) or onnx.TensorProto.FLOAT, shp))
    for t in g.initializer:
        n = math.prod(t.dims)
        if n <= _SMALL and t.data_location != onnx.TensorProto.EXTERNAL:
            g2.initializer.append(t)
        else:
            g2.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    for o in g.output:
        g2.output.append(onnx.helper.make_empty_tensor_value_info(o.name))
    out: dict[str, tuple[int, ...] | None] = {}
    try:
        inferred = onnx.shape_inference.infer_shapes(m, check_type=False, strict_mode=False, data_prop=True)
    except Exception as e:  # noqa: BLE001 - our own propagation covers every supported op
        report["notes"].append(f"ONNX shape inference failed ({_plain(e)[:200]}); "
                               "using the importer's own shape propagation only")
        return out
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        tt = vi.type.tensor_type
        if not tt.HasField("shape"):
            continue
        dims = tt.shape.dim
        if all(d.HasField("dim_value") for d in dims):
            out[vi.name] = tuple(int(d.dim_value) for d in dims)
        else:
            out[vi.name] = None
    return out


# ---------------------------------------------------------------------------------------------
# The importer
# ---------------------------------------------------------------------------------------------
class _Importer:
    def __init__(self, model, path: Path, batch: int, input_shapes, fuse: bool, allow_unsupported: bool):
        self.model = model
        self.path = path
        self.fuse = fuse
        self.allow_unsupported = allow_unsupported
        self.opset = _opset(model, path)
        g = model.graph
        self.graph = g
        self.names = self._unique_names()
        self.report: dict = {"model": str(path), "opset": self.opset,
                             "producer": f"{model.producer_name} {model.producer_version}".strip(),
                             "inputs": {}, "layers": [], "fused": [], "free": [], "constant_folded": [],
                             "unsupported": [], "notes": []}
        init_names = {t.name for t in g.initializer}
        self.inputs = _resolve_inputs(g, init_names, batch, input_shapes, path)
        self.report["inputs"] = dict(self.inputs)
        known = set(self.inputs) | init_names
        self.order = _toposort(g, known, self.names, path)
        self.vals: dict[str, _Val] = {}
        for t in g.initializer:
            self.vals[t.name] = _Val(tuple(int(d) for d in t.dims), const=True, init=t)
        for name, shp in self.inputs.items():
            self.vals[name] = _Val(shp)
        self.consumers: Counter = Counter(t for n in g.node for t in set(n.input) if t)
        for o in g.output:
            self.consumers[o.name] += 1
        self.layers: dict[str, Layer] = {}
        self.edges: list[tuple[str, str]] = []

    def _unique_names(self) -> list[str]:
        seen: dict[str, int] = {}
        out = []
        for i, n in enumerate(self.graph.node):
            name = _node_name(n, i)
            if name in seen:
                seen[name] += 1
                name = f"{name}#{seen[name]}"
            seen.setdefault(name, 0)
            out.append(name)
        return out

    # -- helpers ----------------------------------------------------------------------------------
    def err(self, nname: str, op: str, msg: str) -> OnnxImportError:
        return OnnxImportError(f"{self.path}: node {nname!r} ({op}): {msg}")

    def _add_layer(self, layer: Layer, inputs: list[_Val]) -> str:
        name = layer.name
        k = 1
        while name in self.layers:
            k += 1
            name = f"{layer.name}#{k}"
        if name != layer.name:
            layer = replace(layer, name=name)
        self.layers[name] = layer
        srcs = []
        for v in inputs:
            for p in v.producers:
                if p not in srcs:
                    srcs.append(p)
                    self.edges.append((p, name))
        return name

    def _fuse_into(self, layer_name: str, nname: str, op: str, kind: str) -> None:
        layer = self.layers[layer_name]
        self.layers[layer_name] = replace(layer, source=layer.source + (nname,))
        self.report["fused"].append({"node": nname, "op_type": op, "into": layer_name, "kind": kind})

    def _shape(self, v: _Val, nname: str, op: str, what: str = "input") -> tuple[int, ...]:
        if v.shape is None:
            raise self.err(nname, op, f"the shape of its {what} is unknown (it comes from an unsupported operator "
                                      "or a shape ONNX shape inference could not resolve)")
        return v.shape

    def _elt(self, nname: str, op: str, lop: str, shape: tuple[int, ...], ins: list[_Val], binary=False,
             broadcast=False, R: int | None = None) -> str:
        if math.prod(shape) == 0:
            raise self.err(nname, op, f"empty tensor of shape {shape}")
        R = KERNEL_OPS.get(lop, 1) if R is None else R  # the fused kernels' ops per element (accel.workload)
        layer = Layer(nname, lop, binary=binary, broadcast=broadcast, R=int(R), source=(nname,), **_eltdims(shape))
        return self._add_layer(layer, ins)

    # -- main loop --------------------------------------------------------------------------------
    def run(self) -> Network:
        g = self.graph
        if not g.node:
            raise OnnxImportError(f"{self.path}: the graph has no nodes: nothing to cost")
        unsupported: list[tuple[str, str]] = []
        for i in self.order:
            op = self._unsupported(g.node[i])
            if op is not None:
                unsupported.append((op, self.names[i]))
        if unsupported and not self.allow_unsupported:
            by_op: dict[str, list[str]] = defaultdict(list)
            for op, n in unsupported:
                by_op[op].append(n)
            parts = [f"{op} ({len(ns)} node{'s' if len(ns) > 1 else ''}, e.g. {ns[0]!r})" for op, ns in by_op.items()]
            raise OnnxImportError(f"{self.path}: unsupported ONNX operator(s): {'; '.join(parts)}; pass "
                                  "allow_unsupported=True (CLI: --allow-unsupported) to cost them as zero")
        self.inferred = _infer(self.model, self.inputs, self.report)
        groups, skip = self._find_gelus() if self.fuse else ({}, set())
        kernels, kskip = self._find_kernels(skip) if self.fuse else ({}, set())
        skip |= kskip
        for i in self.order:
            if i in skip:
                continue
            self.current = f"node {self.names[i]!r} ({g.node[i].op_type})"
            if i in groups:
                self._gelu_group(*groups[i])
                continue
            if i in kernels:
                self._kernel_group(*kernels[i])
                continue
            self._node(g.node[i], self.names[i])
        self.current = None
        if not self.layers:
            self._nothing_to_cost()
        graph = nx.DiGraph()
        for name, layer in self.layers.items():
            graph.add_node(name, layer=layer)
        graph.add_edges_from(self.edges)
        first = next(iter(self.inputs.values()), ())
        net = Network(self.path.stem, graph, tuple(first))
        self.report["layers"] = list(self.layers)
        net.import_report = self.report
        return net

    def _nothing_to_cost(self) -> None:
        """A graph that imported to no layer is an error, not a network of zero cost."""
        unsup = sorted({u["op_type"] for u in self.report["unsupported"]})
        if unsup:
            raise OnnxImportError(f"{self.path}: nothing to cost: every operator is unsupported or free "
                                  f"(unsupported: {', '.join(unsup)})")
        ops = sorted({n.op_type for n in self.graph.node})
        raise OnnxImportError(f"{self.path}: nothing to cost: the graph has only free operators "
                              f"({', '.join(ops)}) and no layer")

    @staticmethod
    def _act_const(nd, consts: set[str]):
        """(activation input, constant input) of a binary node whose other input is not constant, else None."""
        a, b = (list(nd.input) + ["", ""])[:2]
        if b in consts and a not in consts:
            return a, b
        if a in consts and b not in consts:
            return b, a
        return None

    def _producers_consumers(self) -> tuple[dict[str, int], dict[str, list[int]], set[str]]:
        """(producing node index per tensor, consuming node indices per tensor, constant tensor names:
        initializers and Constant outputs) of the graph, for the pattern matchers below."""
        g = self.graph
        prod: dict[str, int] = {}
        cons: dict[str, list[int]] = defaultdict(list)
        consts = {t.name for t in g.initializer}
        for i, nd in enumerate(g.node):
            for o in nd.output:
                prod[o] = i
            if nd.op_type == "Constant":
                consts.update(nd.output)
            for t in nd.input:
                cons[t].append(i)
        return prod, cons, consts

    # -- decomposed GELU: x * 0.5 * (1 + erf(x / sqrt(2))) ---------------------------------------------
    def _find_gelus(self):
        """Erf-based GELU subgraphs (what exporters emit below opset 20), as {index of the last node:
        (x, output tensor, node indices)} and the set of the other node indices, to fuse like a Gelu."""
        g = self.graph
        prod, cons, consts = self._producers_consumers()

        def split_const(nd):  # (activation input, constant input) of a binary node, else None
            return self._act_const(nd, consts)
        outputs = {o.name for o in g.output}

        def only(t):  # the single consumer of an internal tensor
            c = cons.get(t, [])
            return c[0] if len(c) == 1 and t not in outputs else None

        groups, skip = {}, set()
        for ie, e in enumerate(g.node):
            if e.op_type != "Erf" or (e.domain or "") not in _DEFAULT_DOMAINS or e.input[0] not in prod:
                continue
            idiv = prod[e.input[0]]
            d = g.node[idiv]
            if d.op_type not in ("Div", "Mul") or split_const(d) is None or only(d.output[0]) != ie:
                continue
            x = split_const(d)[0]
            ia = only(e.output[0])
            if ia is None or g.node[ia].op_type != "Add" or split_const(g.node[ia]) is None:
                continue
            im = only(g.node[ia].output[0])
            if im is None or g.node[im].op_type != "Mul":
                continue
            m = g.node[im]
            other = m.input[1] if m.input[0] == g.node[ia].output[0] else m.input[0]
            if other == x:  # (x * (1 + erf)) * 0.5
                ih = only(m.output[0])
                if ih is None or g.node[ih].op_type != "Mul" or split_const(g.node[ih]) is None:
                    continue
                members, last, out = [idiv, ie, ia, im, ih], ih, g.node[ih].output[0]
            elif other in prod and g.node[prod[other]].op_type == "Mul" and only(other) == im:
                h = g.node[prod[other]]  # (0.5 * x) * (1 + erf)
                if split_const(h) is None or split_const(h)[0] != x:
                    continue
                members, last, out = [prod[other], idiv, ie, ia, im], im, m.output[0]
            else:
                continue
            pos = {i: k for k, i in enumerate(self.order)}
            last = max(members, key=pos.get)
            groups[last] = (x, out, [self.names[i] for i in sorted(members, key=pos.get)])
            skip.update(i for i in members if i != last)
        return groups, skip

    # -- decomposed RMSNorm and rotary embedding ------------------------------------------------------
    def _find_kernels(self, taken: set[int]):
        """Decomposed transformer kernels that exporters write op by op, as {index of the last node: (kind, x,
        output tensor, node names)} and the set of the other node indices; each becomes one layer of the fused
        op kind (``rmsnorm`` / ``rope``, :data:`accel.workload.OPS_PER_ELEMENT`) over x:

        * RMSNorm: ``x * rsqrt(mean(x^2) + eps) [* w]`` — Pow(x, c) → ReduceMean → Add(c) → Sqrt → Div(c, ·)
          or Reciprocal → Mul(x, ·) [→ Mul(·, c)], x not a centred ``Sub`` output (a decomposed LayerNorm stays
          node by node);
        * rotary embedding (rotate-half form): Add(Mul(x, c), Mul(Concat(Neg(x2), x1), c)) with x1, x2 a
          Split / Slice of x (the Split / Slice nodes stay free)."""
        g = self.graph
        prod, cons, consts = self._producers_consumers()

        def split_const(nd):  # (activation input, constant input) of a binary node, else None
            return self._act_const(nd, consts)
        for i in self.order:  # constants forwarded by Identity (the exporter's de-duplicated initializers)
            nd = g.node[i]
            if nd.op_type == "Identity" and nd.input and nd.input[0] in consts:
                consts.update(nd.output)
        outputs = {o.name for o in g.output}

        def only(t, op=None):  # the single consumer of an internal tensor (of type ``op``), else None
            c = cons.get(t, [])
            if len(c) != 1 or t in outputs or c[0] in taken:
                return None
            return c[0] if op is None or g.node[c[0]].op_type in ((op,) if isinstance(op, str) else op) else None

        groups, skip = {}, set()
        pos = {i: k for k, i in enumerate(self.order)}

        def add(kind, members, x, out):
            last = max(members, key=pos.get)
            groups[last] = (kind, x, out, [self.names[i] for i in sorted(members, key=pos.get)])
            skip.update(i for i in members if i != last)

        for ir, r in enumerate(g.node):
            if r.op_type != "ReduceMean" or ir in taken or r.input[0] not in prod:
                continue
            ip = prod[r.input[0]]
            pw = g.node[ip]
            if pw.op_type != "Pow" or split_const(pw) is None or only(pw.output[0]) != ir:
                continue
            x = split_const(pw)[0]
            if x in prod and g.node[prod[x]].op_type == "Sub":
                continue  # x - mean: a decomposed LayerNorm, costed node by node
            ia = only(r.output[0], "Add")
            if ia is None or split_const(g.node[ia]) is None:
                continue
            isq = only(g.node[ia].output[0], "Sqrt")
            if isq is None:
                continue
            members = [ip, ir, ia, isq]
            iv = only(g.node[isq].output[0], ("Div", "Reciprocal"))
            if iv is None:
                continue
            v = g.node[iv]
            if v.op_type == "Div" and not (v.input[0] in consts and v.input[1] == g.node[isq].output[0]):
                continue
            im = only(v.output[0], "Mul")
            if im is None or set(g.node[im].input) != {x, v.output[0]}:
                continue
            members += [iv, im]
            out = g.node[im].output[0]
            iw = only(out, "Mul")
            if iw is not None and split_const(g.node[iw]) is not None:
                members.append(iw)
                out = g.node[iw].output[0]
            add("rmsnorm", members, x, out)

        for i_add, a in enumerate(g.node):
            if a.op_type != "Add" or i_add in taken or len(a.input) != 2 or not all(t in prod for t in a.input):
                continue
            m1, m2 = (prod[t] for t in a.input)
            found = None
            for ia_, ib_ in ((m1, m2), (m2, m1)):
                ma, mb = g.node[ia_], g.node[ib_]
                if ma.op_type != "Mul" or mb.op_type != "Mul" or split_const(ma) is None or split_const(mb) is None:
                    continue
                x, rot = split_const(ma)[0], split_const(mb)[0]
                if rot not in prod or g.node[prod[rot]].op_type != "Concat" or len(g.node[prod[rot]].input) != 2:
                    continue
                ic = prod[rot]
                neg_t, x1 = g.node[ic].input
                if neg_t not in prod or g.node[prod[neg_t]].op_type != "Neg":
                    continue
                ineg = prod[neg_t]
                x2 = g.node[ineg].input[0]
                halves = [prod.get(t) for t in (x1, x2)]
                if any(h is None or g.node[h].op_type not in ("Split", "Slice") or g.node[h].input[0] != x
                       for h in halves):
                    continue
                if only(ma.output[0]) != i_add or only(mb.output[0]) != i_add or only(rot) != ib_ \
                        or only(neg_t) != ic:
                    continue
                found = ([ia_, ineg, ic, ib_, i_add], x, a.output[0])
                break
            if found:
                add("rope", *found)
        return groups, skip

    def _kernel_group(self, kind: str, x_name: str, out_name: str, names: list[str]) -> None:
        x = self.vals[x_name]
        shp = self._shape(x, names[0], kind)
        layer = Layer(names[0], kind, R=KERNEL_OPS[kind], source=tuple(names), **_eltdims(shp))
        name = self._add_layer(layer, [x])
        self.report["notes"].append(f"decomposed {kind} {names} costed as one {kind} layer {name!r}")
        self.vals[out_name] = _Val(shp, producers=(name,))

    def _gelu_group(self, x_name: str, out_name: str, names: list[str]) -> None:
        x = self.vals[x_name]
        shp = self._shape(x, names[0], "Gelu")
        if len(x.producers) == 1 and x.producers[0] in self.layers and not x.opaque:
            for nm in names:
                self._fuse_into(x.producers[0], nm, self.graph.node[self.names.index(nm)].op_type,
                                "decomposed GELU fused into producer")
            self.vals[out_name] = _Val(shp, producers=x.producers, act_of=x_name)
            return
        layer = Layer(names[0], "gelu", R=KERNEL_OPS["gelu"], source=tuple(names), **_eltdims(shp))
        name = self._add_layer(layer, [x])
        self.report["notes"].append(f"decomposed GELU {names} costed as one element-wise layer {name!r}")
        self.vals[out_name] = _Val(shp, producers=(name,))

    def _unsupported(self, node) -> str | None:
        """The operator's name for the report when the node is not supported, else None."""
        domain = node.domain or ""
        if domain not in _DEFAULT_DOMAINS:
            return f"{domain}.{node.op_type}"
        if node.op_type not in SUPPORTED_OPS:
            return node.op_type
        if node.op_type in ("Conv", "ConvTranspose") or node.op_type in POOLS:
            ks = next((a.ints for a in node.attribute if a.name == "kernel_shape"), None)
            nsp = len(ks) if ks else None
            if nsp is None and len(node.input) > 1 and node.input[1] in self.vals:
                shp = self.vals[node.input[1]].shape
                nsp = len(shp) - 2 if shp is not None else None
            if nsp is not None and nsp not in (1, 2):
                return f"{node.op_type} ({nsp}-D)"
        return None

    def _check_window_attrs(self, nname: str, op: str, at: dict) -> None:
        """Refuse window attributes no convolution or pooling can have (0 strides would divide by zero)."""
        for key in ("strides", "dilations", "kernel_shape"):
            vals = list(at.get(key) or [])
            if any(int(v) < 1 for v in vals):
                raise self.err(nname, op, f"attribute {key} = {vals}: every entry must be >= 1")
        pads = list(at.get("pads") or [])
        if any(int(v) < 0 for v in pads):
            raise self.err(nname, op, f"attribute pads = {pads}: every entry must be >= 0")
        if "group" in at and int(at["group"]) < 1:
            raise self.err(nname, op, f"attribute group = {at['group']}: must be >= 1")

    def _node(self, node, nname: str) -> None:
        op = node.op_type
        at = _attrs(node)
        if op in ("Conv", "ConvTranspose") or op in POOLS:
            self._check_window_attrs(nname, op, at)
        ins: list[_Val | None] = [self.vals[t] if t else None for t in node.input]
        present = [v for v in ins if v is not None]
        opname = self._unsupported(node)
        if opname is not None:
            prods = tuple(dict.fromkeys(p for v in present for p in v.producers))
            acts = [v for v in present if not v.const]
            for o in node.output:
                if not o:
                    continue
                shp = self.inferred.get(o)
                if shp is None and acts and acts[0].shape is not None:
                    shp = acts[0].shape
                    self.report["notes"].append(f"{nname}: output shape of unsupported {opname} unknown; assumed "
                                                f"equal to its input's {shp}")
                self.vals[o] = _Val(shp, producers=prods, opaque=True)
            self.report["unsupported"].append({"node": nname, "op_type": opname})
            return
        # constant subgraphs (weights preprocessing, shape arithmetic) are free
        if op == "Constant" or (present and all(v.const for v in present) and op != "Shape"):
            self._constant(node, nname, op, at, ins)
            return
        if op == "Shape":
            x = ins[0]
            shp = self._shape(x, nname, op)
            start, end = at.get("start", 0), at.get("end")
            val = np.array(shp[slice(start, end)], dtype=np.int64)
            self.vals[node.output[0]] = _Val(val.shape, const=True, value=val)
            self.report["free"].append({"node": nname, "op_type": op})
            return
        if op in FREE_OPS:
            self._free(node, nname, op, at, ins)
        elif op in ("Conv", "ConvTranspose"):
            self._conv(node, nname, op, at, ins)
        elif op == "Gemm":
            self._gemm(node, nname, op, at, ins)
        elif op == "MatMul":
            self._matmul(node, nname, op, ins)
        elif op == "BatchNormalization":
            self._batchnorm(node, nname, op, ins)
        elif op in ACTIVATIONS:
            self._activation(node, nname, op, at, ins)
        elif op in ELEMENTWISE or op in UNARY_MATH:
            self._eltwise(node, nname, op, ins)
        elif op in POOLS:
            self._pool(node, nname, op, at, ins)
        elif op in GLOBAL_POOLS:
            self._global_pool(node, nname, op, ins)
        elif op in REDUCTIONS:
            self._reduce(node, nname, op, at, ins)
        elif op in OPS_PER_ELEMENT:
            x = ins[0]
            shp = self._shape(x, nname, op)
            r = OPS_PER_ELEMENT[op] + (int(at.get("size", 0)) if op == "LRN" else 0)
            name = self._elt(nname, op, FUSED_KERNELS.get(op, "act"), shp, [x], R=r)
            for o in node.output:
                if o:
                    self.vals[o] = _Val(shp if o == node.output[0] else self.inferred.get(o), producers=(name,))
        elif op in ("Resize", "Upsample"):
            self._resize(node, nname, op, at, ins)
        else:  # pragma: no cover - SUPPORTED_OPS and the dispatch above agree
            raise self.err(nname, op, "no handler")

    # -- free and constant ops -----------------------------------------------------------------------
    def _constant(self, node, nname, op, at, ins) -> None:
        if op == "Constant":
            vals = None
            if at.get("value") is not None:
                vals = [numpy_helper.to_array(at["value"])]
            elif at.get("value_float") is not None:
                vals = [np.array(at["value_float"], dtype=np.float32)]
            elif at.get("value_floats") is not None:
                vals = [np.array(at["value_floats"], dtype=np.float32)]
            elif at.get("value_int") is not None:
                vals = [np.array(at["value_int"], dtype=np.int64)]
            elif at.get("value_ints") is not None:
                vals = [np.array(at["value_ints"], dtype=np.int64)]
            if vals is None:
                shp = self.inferred.get(node.output[0])
                self.vals[node.output[0]] = _Val(shp, const=True)
            else:
                self.vals[node.output[0]] = _Val(tuple(vals[0].shape), const=True, value=vals[0])
            self.report["free"].append({"node": nname, "op_type": op})
            return
        vals = [v.get_value() if v is not None else None for v in ins]
        outs = None
        if all(v is not None for v, i in zip(vals, ins) if i is not None):
            try:
                outs = _fold(op, at, vals)
            except Exception:  # noqa: BLE001 - fall back to shape propagation
                outs = None
        for k, o in enumerate(node.output):
            if not o:
                continue
            if outs is not None and k < len(outs):
                self.vals[o] = _Val(tuple(int(d) for d in np.shape(outs[k])), const=True, value=np.asarray(outs[k]))
            else:
                shp = None
                if op in FREE_OPS:
                    try:
                        shp = self._free_shapes(node, nname, op, at, ins)[k]
                    except (OnnxImportError, IndexError, KeyError, TypeError, ValueError):
                        shp = None
                elif op in ELEMENTWISE or op in UNARY_MATH or op in ACTIVATIONS:
                    try:
                        shp = _broadcast(*[v.shape for v in ins if v is not None])
                    except Exception:  # noqa: BLE001
                        shp = None
                if shp is None:
                    shp = self.inferred.get(o)
                self.vals[o] = _Val(shp, const=True)
        self.report["constant_folded"].append({"node": nname, "op_type": op})

    def _free(self, node, nname, op, at, ins) -> None:
        x = ins[0]
        act = [v for v in ins if v is not None and not v.const]
        prods = tuple(dict.fromkeys(p for v in act for p in v.producers))
        try:
            shapes = self._free_shapes(node, nname, op, at, ins)
        except OnnxImportError:
            raise
        except Exception:  # noqa: BLE001 - e.g. a data-dependent shape: use ONNX inference
            shapes = None
        # the raw output of a layer stays "direct" through an Identity/Dropout (BN can still fold)
        direct = x.direct if op in ("Identity", "Dropout") and x is not None else None
        opaque = any(v.opaque for v in act)
        for k, o in enumerate(node.output):
            if not o:
                continue
            shp = shapes[k] if shapes is not None and k < len(shapes) else None
            if shp is None:
                shp = self.inferred.get(o)
            if shp is None and o in self.consumers:
                pass  # unknown; a layer that needs it reports the problem
            self.vals[o] = _Val(shp, producers=prods, direct=direct if k == 0 else None, opaque=opaque)
        self.report["free"].append({"node": nname, "op_type": op})

    def _const_input(self, ins, idx, nname, op, what):
        if len(ins) <= idx or ins[idx] is None:
            return None
        v = ins[idx]
        val = v.get_value() if v.const else None
        if val is None:
            raise ValueError(f"{what} is not a constant")
        return val

    def _free_shapes(self, node, nname, op, at, ins) -> list[tuple[int, ...] | None]:
        x = ins[0]
        xs = x.shape if x is not None else None
        if op in ("Identity", "Dropout", "Cast", "CastLike", "QuantizeLinear", "DequantizeLinear", "EyeLike"):
            return [xs, xs]
        if xs is None:
            return [None] * len(node.output)
        r = len(xs)
        if op == "Reshape":
            tgt = self._const_input(ins, 1, nname, op, "shape") if "shape" not in at else np.array(at["shape"])
            try:
                return [_reshape_shape(xs, tgt, int(at.get("allowzero", 0)))]
            except ValueError as e:
                raise self.err(nname, op, str(e)) from None
        if op == "Flatten":
            a = _norm_axis(int(at.get("axis", 1)), r)
            return [(math.prod(xs[:a]), math.prod(xs[a:]))]
        if op == "Transpose":
            perm = at.get("perm") or list(range(r))[::-1]
            return [tuple(xs[p] for p in perm)]
        if op == "Squeeze":
            axes = _axes_of(at, [None] + [self._const_input(ins, 1, nname, op, "axes")])
            if axes is None:
                return [tuple(d for d in xs if d != 1)]
            ax = {_norm_axis(a, r) for a in axes}
            return [tuple(d for i, d in enumerate(xs) if i not in ax)]
        if op == "Unsqueeze":
            axes = _axes_of(at, [None] + [self._const_input(ins, 1, nname, op, "axes")])
            rank = r + len(axes)
            ax = sorted(_norm_axis(a, rank) for a in axes)
            out = list(xs)
            for a in ax:
                out.insert(a, 1)
            return [tuple(out)]
        if op == "Concat":
            a = _norm_axis(int(at.get("axis", 0)), r)
            shps = [v.shape for v in ins if v is not None]
            if any(s is None for s in shps):
                return [None]
            out = list(xs)
            out[a] = sum(s[a] for s in shps)
            return [tuple(out)]
        if op == "Split":
            a = _norm_axis(int(at.get("axis", 0)), r)
            split = at.get("split")
            if split is None and len(ins) > 1 and ins[1] is not None:
                split = [int(s) for s in self._const_input(ins, 1, nname, op, "split")]
            n_out = len(node.output)
            if split is None:
                n = int(at.get("num_outputs", n_out))
                chunk = -(-xs[a] // n)
                split = [min(chunk, xs[a] - chunk * i) for i in range(n)]
            outs = []
            for s in split:
                o = list(xs)
                o[a] = int(s)
                outs.append(tuple(o))
            return outs
        if op == "Slice":
            vals = [None] + [self._const_input(ins, k, nname, op, "slice parameter") if k < len(ins) else None
                             for k in range(1, 5)]
            starts, ends, axes, steps = _slice_params(node, at, vals, r)
            out = list(xs)
            for s, e, a, st in zip(starts, ends, axes, steps):
                out[a] = len(range(*slice(s, e, st).indices(xs[a])))
            return [tuple(out)]
        if op == "Gather":
            idx = ins[1].shape
            if idx is None:
                return [None]
            a = _norm_axis(int(at.get("axis", 0)), r)
            return [tuple(xs[:a]) + tuple(idx) + tuple(xs[a + 1:])]
        if op == "GatherElements":
            return [ins[1].shape]
        if op == "Pad":
            pads = at.get("pads") if "pads" in at else self._const_input(ins, 1, nname, op, "pads")
            pads = [int(p) for p in pads]
            axes = None
            if len(ins) > 3 and ins[3] is not None:
                axes = [_norm_axis(int(a), r) for a in self._const_input(ins, 3, nname, op, "axes")]
            axes = axes if axes is not None else list(range(r))
            out = list(xs)
            for k, a in enumerate(axes):
                out[a] += pads[k] + pads[k + len(axes)]
            return [tuple(out)]
        if op == "Expand":
            tgt = [int(d) for d in self._const_input(ins, 1, nname, op, "shape")]
            return [_broadcast(xs, tuple(tgt))]
        if op == "Tile":
            reps = [int(d) for d in self._const_input(ins, 1, nname, op, "repeats")]
            return [tuple(d * k for d, k in zip(xs, reps))]
        if op == "DepthToSpace":
            b = int(at["blocksize"])
            return [(xs[0], xs[1] // (b * b), xs[2] * b, xs[3] * b)]
        if op == "SpaceToDepth":
            b = int(at["blocksize"])
            return [(xs[0], xs[1] * b * b, xs[2] // b, xs[3] // b)]
        if op == "Size":
            return [()]
        return [None] * len(node.output)

    def _window_outputs(self, nname, op, what, spatial, kernel, strides, dil, pads, auto_pad, nsp, ceil) -> list[int]:
        """Output size per spatial dim (H, W) of a sliding window (conv or pooling), resolving ``auto_pad``
        (SAME_UPPER / SAME_LOWER / VALID) into explicit ``pads`` [top, left, bottom, right] in place; 1-D
        layers arrive as 2-D with H = 1 (never padded).  ONNX operator spec, ``window_out_size``'s rule."""
        outs = []
        for d in range(2):
            k, s, dl = kernel[d], strides[d], dil[d]
            if auto_pad in ("SAME_UPPER", "SAME_LOWER") and not (nsp == 1 and d == 0):
                pa, pb, o = _same_pads(spatial[d], k, s, dl, auto_pad)
                pads[d], pads[d + 2] = pa, pb
            elif auto_pad == "VALID":
                pads[d] = pads[d + 2] = 0
                o = window_out_size(spatial[d], k, s, 0, 0, dl, ceil)
            else:
                o = window_out_size(spatial[d], k, s, pads[d], pads[d + 2], dl, ceil)
            if o < 1:
                raise self.err(nname, op, f"{what} {k} (dilation {dl}) does not fit input {spatial[d]} with "
                                          f"padding {pads[d]}+{pads[d + 2]}")
            outs.append(o)
        return outs

    # -- MAC layers -----------------------------------------------------------------------------------
    def _conv(self, node, nname, op, at, ins) -> None:
        x, w = ins[0], ins[1]
        if w is None:
            raise self.err(nname, op, "missing weight input")
        xs = self._shape(x, nname, op)
        ws = self._shape(w, nname, op, "weight")
        nsp = len(xs) - 2
        if nsp not in (1, 2) or len(ws) != len(xs):
            raise self.err(nname, op, f"only 1-D and 2-D convolutions are supported (input shape {xs}, weight "
                                      f"{ws})")
        group = int(at.get("group", 1))
        kernel = list(at.get("kernel_shape") or ws[2:])
        strides = list(at.get("strides") or [1] * nsp)
        dil = list(at.get("dilations") or [1] * nsp)
        pads = list(at.get("pads") or [0] * (2 * nsp))
        auto_pad = _s(at.get("auto_pad", "NOTSET") or "NOTSET")
        n, c_in = xs[0], xs[1]
        spatial = list(xs[2:])
        if nsp == 1:  # 1-D as 2-D with H = 1
            spatial, kernel, strides, dil = [1] + spatial, [1] + kernel, [1] + strides, [1] + dil
            pads = [0, pads[0], 0, pads[1]]
        if op == "Conv":
            m = ws[0]
            if ws[1] * group != c_in or m % group:
                raise self.err(nname, op, f"input channels {c_in} / weight {ws} do not match group={group}")
            outs = self._window_outputs(nname, op, "kernel", spatial, kernel, strides, dil, pads, auto_pad, nsp, False)
            layer = Layer(nname, "conv", G=group, N=n, K=m // group, C=c_in // group, P=outs[0], Q=outs[1],
                          R=kernel[0], S=kernel[1], stride=(strides[0], strides[1]), dilation=(dil[0], dil[1]),
                          padding=tuple(int(p) for p in pads), source=(nname,))
            out_shape = (n, m) + (tuple(outs) if nsp == 2 else (outs[1],))
        else:  # ConvTranspose → stride-1 conv over the zero-stuffed input
            if ws[0] != c_in or c_in % group:
                raise self.err(nname, op, f"input channels {c_in} / weight {ws} do not match group={group}")
            m = ws[1] * group
            out_pad = list(at.get("output_padding") or [0] * nsp)
            out_shape_attr = at.get("output_shape")
            if nsp == 1:
                out_pad = [0] + out_pad
                out_shape_attr = [1] + list(out_shape_attr) if out_shape_attr else None
            outs, eq_pads = [], [0, 0, 0, 0]
            for d in range(2):
                k, s, dl, i_ = kernel[d], strides[d], dil[d], spatial[d]
                full = s * (i_ - 1) + out_pad[d] + (k - 1) * dl + 1
                if out_shape_attr:
                    o = int(out_shape_attr[-2 + d])
                    total = full - o
                    pa, pb = total // 2, total - total // 2
                elif auto_pad in ("SAME_UPPER", "SAME_LOWER") and not (nsp == 1 and d == 0):
                    o = i_ * s
                    total = full - o
                    small, big = total // 2, total - total // 2
                    pa, pb = (small, big) if auto_pad == "SAME_UPPER" else (big, small)
                elif auto_pad == "VALID":
                    pa = pb = 0
                    o = full
                else:
                    pa, pb = pads[d], pads[d + 2]
                    o = full - pa - pb
                if o < 1:
                    raise self.err(nname, op, f"output size {o} < 1")
                outs.append(o)
                eq_pads[d] = max(0, (k - 1) * dl - pa)
                eq_pads[d + 2] = max(0, (k - 1) * dl - pb + out_pad[d])
            layer = Layer(nname, "conv", G=group, N=n, K=m // group, C=c_in // group, P=outs[0], Q=outs[1],
                          R=kernel[0], S=kernel[1], stride=(1, 1), dilation=(dil[0], dil[1]),
                          padding=tuple(eq_pads), source=(nname,))
            out_shape = (n, m) + (tuple(outs) if nsp == 2 else (outs[1],))
        acts = [v for v in ins if v is not None and not v.const]
        name = self._add_layer(layer, acts)
        self.vals[node.output[0]] = _Val(out_shape, producers=(name,), direct=name)

    def _gemm(self, node, nname, op, at, ins) -> None:
        a, b = ins[0], ins[1]
        as_, bs = self._shape(a, nname, op), self._shape(b, nname, op)
        if len(as_) != 2 or len(bs) != 2:
            raise self.err(nname, op, f"Gemm needs 2-D operands, got {as_} and {bs}")
        m, kr = (as_[1], as_[0]) if at.get("transA", 0) else as_
        kr2, nc = (bs[1], bs[0]) if at.get("transB", 0) else bs
        if kr != kr2:
            raise self.err(nname, op, f"inner dims differ ({kr} vs {kr2}; shapes {as_}, {bs}, transA="
                                      f"{at.get('transA', 0)}, transB={at.get('transB', 0)})")
        if b.const and not a.const:
            layer = Layer(nname, "fc", N=m, K=nc, C=kr, source=(nname,))
        elif a.const and not b.const:
            layer = Layer(nname, "fc", K=m, C=kr, P=nc, source=(nname,))
        else:
            layer = Layer(nname, "matmul", K=nc, C=kr, P=m, source=(nname,))
        acts = [v for v in ins[:2] if not v.const]
        name = self._add_layer(layer, acts)
        self.vals[node.output[0]] = _Val((m, nc), producers=(name,), direct=name)

    def _matmul(self, node, nname, op, ins) -> None:
        a, b = ins[0], ins[1]
        as_, bs = self._shape(a, nname, op), self._shape(b, nname, op)
        a2 = (1,) + as_ if len(as_) == 1 else as_
        b2 = bs + (1,) if len(bs) == 1 else bs
        *ba, m, kr = a2
        *bb, kr2, nc = b2
        if kr != kr2:
            raise self.err(nname, op, f"inner dims differ ({kr} vs {kr2}; shapes {as_} @ {bs})")
        try:
            batch = _broadcast(tuple(ba), tuple(bb))
        except ValueError:
            raise self.err(nname, op, f"batch dims do not broadcast ({as_} @ {bs})") from None
        out = list(batch) + ([m] if len(as_) > 1 else []) + ([nc] if len(bs) > 1 else [])
        g = math.prod(batch) if batch else 1
        if b.const and not a.const and len(bs) <= 2:
            if len(as_) <= 2:
                layer = Layer(nname, "fc", N=m if len(as_) == 2 else 1, K=nc, C=kr, source=(nname,))
            else:  # (N, T..., F) @ (F, out): tokens fold into P (NetworkBuilder.linear)
                layer = Layer(nname, "fc", N=as_[0], K=nc, C=kr, P=math.prod(as_[1:-1]), source=(nname,))
        elif a.const and not b.const and len(as_) <= 2:
            layer = Layer(nname, "fc", G=g, K=m, C=kr, P=nc, source=(nname,))
        else:
            layer = Layer(nname, "matmul", G=g, K=nc, C=kr, P=m, source=(nname,))
        acts = [v for v in ins[:2] if not v.const]
        name = self._add_layer(layer, acts)
        self.vals[node.output[0]] = _Val(tuple(out), producers=(name,), direct=name)

    # -- BN, activations, element-wise ----------------------------------------------------------
    def _batchnorm(self, node, nname, op, ins) -> None:
        x = ins[0]
        shp = self._shape(x, nname, op)
        target = x.direct
        if (self.fuse and target is not None and self.layers[target].op in ("conv", "fc")
                and self.consumers[node.input[0]] == 1):
            self._fuse_into(target, nname, op, "batchnorm folded into weights")
            self.vals[node.output[0]] = _Val(shp, producers=x.producers, direct=target)
        else:
            name = self._elt(nname, op, "mul", shp, [x])
            self.vals[node.output[0]] = _Val(shp, producers=(name,))
        for o in node.output[1:]:
            if o:
                self.vals[o] = _Val(self.inferred.get(o), const=True)

    def _activation(self, node, nname, op, at, ins) -> None:
        x = ins[0]
        shp = self._shape(x, nname, op)
        lop = ACTIVATIONS[op]
        if op == "Clip":
            lo, hi = at.get("min"), at.get("max")
            if len(ins) > 1 and ins[1] is not None and ins[1].const and ins[1].get_value() is not None:
                lo = float(np.asarray(ins[1].get_value()).reshape(-1)[0])
            if len(ins) > 2 and ins[2] is not None and ins[2].const and ins[2].get_value() is not None:
                hi = float(np.asarray(ins[2].get_value()).reshape(-1)[0])
            if lo == 0 and hi == 6:
                lop = "relu6"
            elif lo == 0 and (hi is None or hi == float("inf")):
                lop = "relu"
        if self.fuse and len(x.producers) == 1 and x.producers[0] in self.layers and not x.opaque:
            self._fuse_into(x.producers[0], nname, op, "activation fused into producer")
            self.vals[node.output[0]] = _Val(shp, producers=x.producers, act_of=node.input[0])
            return
        acts = [v for v in ins if v is not None and not v.const]
        name = self._elt(nname, op, lop, shp, acts)
        self.vals[node.output[0]] = _Val(shp, producers=(name,))

    def _eltwise(self, node, nname, op, ins) -> None:
        present = [v for v in ins if v is not None]
        for v in present:
            self._shape(v, nname, op)
        try:
            out = _broadcast(*[v.shape for v in present])
        except ValueError:
            raise self.err(nname, op, f"operand shapes {[v.shape for v in present]} do not broadcast") from None
        acts = [v for v in present if not v.const]
        lop = ELEMENTWISE.get(op, "act")
        numel = math.prod(out)
        if op == "Mul" and self.fuse and len(acts) == 2 and len(present) == 2:
            # x * act(x) with act fused into x's producer (SiLU / swish, HardSwish written as x * HardSigmoid(x)):
            # the gating multiply is part of the fused activation
            for k in (0, 1):
                x, gate = ins[k], ins[1 - k]
                if (gate.act_of == node.input[k] and gate.producers == x.producers and len(x.producers) == 1
                        and x.producers[0] in self.layers and not x.opaque and x.shape == gate.shape == out):
                    self._fuse_into(x.producers[0], nname, op, "x * activation(x) gating fused into producer")
                    self.vals[node.output[0]] = _Val(out, producers=x.producers, act_of=node.input[k])
                    return
        if op == "Add" and self.fuse and len(acts) == 1 and len(present) == 2:
            k = 0 if not ins[0].const else 1
            x, bias = ins[k], ins[1 - k]
            target = x.direct
            if target is not None and self.consumers[node.input[k]] == 1 and x.shape == out:
                layer = self.layers[target]
                feats = layer.G * layer.K
                bshape = tuple(bias.shape)
                per_feature = (layer.op == "fc" and math.prod(bshape) == feats and bshape[-1:] == (out[-1],)
                               and out[-1] == layer.K) or (
                    layer.op == "conv" and math.prod(bshape) == feats and len(out) >= 2
                    and ((1,) * (len(out) - len(bshape)) + bshape)[1] == out[1])
                if per_feature:
                    self._fuse_into(target, nname, op, "bias add folded into producer")
                    self.vals[node.output[0]] = _Val(out, producers=x.producers, direct=target)
                    return
        if len(acts) < 2:
            name = self._elt(nname, op, lop, out, acts)
        else:
            full = [v for v in acts if math.prod(v.shape) == numel]
            small = [v for v in acts if math.prod(v.shape) < numel]
            broadcast = False
            if len(full) == 1 and len(small) >= 1:
                s = (1,) * (len(out) - len(small[0].shape)) + tuple(small[0].shape)
                broadcast = all(d == 1 for d in s[2:]) and all(d in (1, o) for d, o in zip(s[:2], out[:2]))
                if not broadcast:
                    self.report["notes"].append(f"{nname}: broadcast of {small[0].shape} to {out} costed as a "
                                                "full-size second operand")
            elif small:
                self.report["notes"].append(f"{nname}: both operands broadcast to {out}; costed as full-size")
            ordered = full + small if full else acts
            name = self._elt(nname, op, lop, out, ordered, binary=True, broadcast=broadcast)
        self.vals[node.output[0]] = _Val(out, producers=(name,))

    # -- pooling / reductions ---------------------------------------------------------------------
    def _pool(self, node, nname, op, at, ins) -> None:
        x = ins[0]
        xs = self._shape(x, nname, op)
        nsp = len(xs) - 2
        if nsp not in (1, 2):
            raise self.err(nname, op, f"only 1-D and 2-D pooling is supported (input shape {xs})")
        kernel = list(at["kernel_shape"])
        strides = list(at.get("strides") or [1] * nsp)
        dil = list(at.get("dilations") or [1] * nsp)
        pads = list(at.get("pads") or [0] * (2 * nsp))
        auto_pad = _s(at.get("auto_pad", "NOTSET") or "NOTSET")
        ceil = bool(at.get("ceil_mode", 0))
        spatial = list(xs[2:])
        if nsp == 1:
            spatial, kernel, strides, dil = [1] + spatial, [1] + kernel, [1] + strides, [1] + dil
            pads = [0, pads[0], 0, pads[1]]
        outs = self._window_outputs(nname, op, "window", spatial, kernel, strides, dil, pads, auto_pad, nsp, ceil)
        n, c = xs[0], xs[1]
        layer = Layer(nname, POOLS[op], N=n, K=c, P=outs[0], Q=outs[1], R=kernel[0], S=kernel[1],
                      stride=(strides[0], strides[1]), dilation=(dil[0], dil[1]), padding=tuple(pads),
                      source=(nname,))
        name = self._add_layer(layer, [x])
        out_shape = (n, c) + (tuple(outs) if nsp == 2 else (outs[1],))
        for o in node.output:
            if o:
                self.vals[o] = _Val(out_shape, producers=(name,))

    def _global_pool(self, node, nname, op, ins) -> None:
        x = ins[0]
        xs = self._shape(x, nname, op)
        if len(xs) < 3:
            raise self.err(nname, op, f"expected an (N, C, ...) input, got {xs}")
        sp = xs[2:]
        r, s = (math.prod(sp[:-1]), sp[-1])
        layer = Layer(nname, GLOBAL_POOLS[op], N=xs[0], K=xs[1], R=r, S=s, source=(nname,))
        name = self._add_layer(layer, [x])
        self.vals[node.output[0]] = _Val((xs[0], xs[1]) + (1,) * len(sp), producers=(name,))

    def _reduce(self, node, nname, op, at, ins) -> None:
        x = ins[0]
        xs = self._shape(x, nname, op)
        r = len(xs)
        keep = bool(at.get("keepdims", 1))
        if op in ("ArgMax", "ArgMin"):
            axes = [int(at.get("axis", 0))]
        else:
            axes = at.get("axes")
            if axes is None and len(ins) > 1 and ins[1] is not None:
                val = ins[1].get_value() if ins[1].const else None
                if val is None:
                    raise self.err(nname, op, "reduction axes are not a constant")
                axes = [int(a) for a in np.asarray(val).reshape(-1)]
            if not axes:
                if at.get("noop_with_empty_axes", 0):
                    self.vals[node.output[0]] = _Val(xs, producers=x.producers)
                    self.report["free"].append({"node": nname, "op_type": op})
                    return
                axes = list(range(r))
        red = {_norm_axis(int(a), r) for a in axes}
        n = 1 if (0 in red or r == 0) else xs[0]
        kept = math.prod(d for i, d in enumerate(xs) if i not in red and i != 0)
        s = math.prod(d for i, d in enumerate(xs) if i in red)
        layer = Layer(nname, REDUCTIONS[op], N=n, K=kept, S=s, source=(nname,))
        name = self._add_layer(layer, [x])
        out = tuple((1 if i in red else d) for i, d in enumerate(xs) if keep or i not in red)
        self.vals[node.output[0]] = _Val(out, producers=(name,))

    def _resize(self, node, nname, op, at, ins) -> None:
        x = ins[0]
        xs = self._shape(x, nname, op)
        out = None
        sizes_idx, scales_idx = (3, 2) if (op == "Resize" and self.opset >= 11) else (None, 1)
        try:
            if sizes_idx is not None and len(ins) > sizes_idx and ins[sizes_idx] is not None:
                sz = ins[sizes_idx].get_value()
                if sz is not None and np.size(sz):
                    sz = [int(v) for v in np.asarray(sz).reshape(-1)]
                    axes = at.get("axes") or list(range(len(xs)))
                    o = list(xs)
                    for a, v in zip(axes, sz):
                        o[_norm_axis(a, len(xs))] = v
                    out = tuple(o)
            if out is None:
                sc = at.get("scales") if "scales" in at else (
                    ins[scales_idx].get_value() if len(ins) > scales_idx and ins[scales_idx] is not None else None)
                if sc is not None and np.size(sc):
                    sc = [float(v) for v in np.asarray(sc).reshape(-1)]
                    axes = at.get("axes") or list(range(len(xs)))
                    o = list(xs)
                    for a, v in zip(axes, sc):
                        a = _norm_axis(a, len(xs))
                        o[a] = int(math.floor(xs[a] * v))
                    out = tuple(o)
        except Exception:  # noqa: BLE001
            out = None
        if out is None:
            out = self.inferred.get(node.output[0])
        if out is None:
            raise self.err(nname, op, "cannot determine the output size (scales/sizes are not constants)")
        name = self._elt(nname, op, "act", out, [x])
        self.vals[node.output[0]] = _Val(out, producers=(name,))


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------
def load_onnx_network(path: str | os.PathLike, batch: int = 1, input_shapes: dict[str, tuple[int, ...]] | None = None,
                      fuse: bool = True, allow_unsupported: bool = False) -> Network:
    """Import an ONNX model as a :class:`Network` (see the module docstring for how each op is costed).

    ``batch`` fills a symbolic leading (batch) dim of the graph inputs; ``input_shapes`` ({input name:
    shape}) overrides declared input shapes and binds their symbolic dims; ``fuse=False`` keeps
    BatchNormalization and activations as element-wise layers; ``allow_unsupported=True`` costs
    unsupported operators as zero instead of failing.  The result carries ``net.import_report``: a dict with
    ``inputs``, ``opset``, ``layers``, ``fused``, ``free``, ``constant_folded``, ``unsupported``, ``notes``.
    Raises :class:`OnnxImportError` (one line, naming the file) for every problem with the file: bytes that
    are not an ONNX model ("not an ONNX model: FILE: reason"), missing external data, an unreadable file or a
    directory, a malformed graph (naming the node), and a graph with nothing to cost (no nodes, only free
    operators, or, with ``allow_unsupported``, only unsupported ones): a network of zero cost is not a result.
    """
    p = Path(os.fspath(path))
    try:
        batch = int(batch)
    except (TypeError, ValueError):
        raise OnnxImportError(f"batch must be an integer, got {batch!r}") from None
    if not 1 <= batch <= MAX_DIM:
        raise OnnxImportError(f"batch must be between 1 and 2^31, got {batch}")
    model = _load_model(p)
    importer = None
    try:
        importer = _Importer(model, p, batch, input_shapes, fuse, allow_unsupported)
        return importer.run()
    except OnnxImportError:
        raise
    except WorkloadError as e:
        raise OnnxImportError(f"{p}: {e}") from None
    except Exception as e:  # noqa: BLE001 - malformed graphs must not escape as tracebacks
        where = getattr(importer, "current", None)
        raise OnnxImportError(f"{p}: {where + ': ' if where else ''}malformed ONNX model: {_plain(e)}") from None


def format_import_report(report: dict) -> str:
    """A short human-readable summary of ``net.import_report`` (for the CLI's stderr)."""
    lines = [f"ONNX import of {report['model']} (opset {report['opset']}): {len(report['layers'])} layers"]
    if report["inputs"]:
        lines.append("  inputs: " + ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in report["inputs"].items()))
    for key, label in (("fused", "fused"), ("free", "free (no layer)"), ("constant_folded", "constant-folded"),
                       ("unsupported", "UNSUPPORTED, costed as zero")):
        items = report[key]
        if items:
            c = Counter(it["op_type"] for it in items)
            lines.append(f"  {label}: " + ", ".join(f"{op}×{n}" for op, n in sorted(c.items())))
    for note in report["notes"][:10]:
        lines.append(f"  note: {note}")
    if len(report["notes"]) > 10:
        lines.append(f"  ({len(report['notes']) - 10} more notes)")
    return "\n".join(lines)
