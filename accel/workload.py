"""Workloads: layers as loop nests with named dimensions, networks as networkx DAGs.

Every layer is a perfectly nested loop over eight named dimensions

    G  groups (conv groups, depthwise channels, batched-MatMul batch × heads)
    N  batch
    K  output channels per group (GEMM: output columns)
    C  input channels per group (GEMM: reduction length)
    P  output rows (GEMM: output rows M)
    Q  output columns
    R  filter rows
    S  filter columns

and three operand slots whose *relevance* to each dimension is stored per layer (``Layer.relevance``):

    slot 0 "weights"  the second operand: filter weights (conv/FC), the B matrix (MatMul),
                      the second input (binary element-wise); absent for pooling / unary ops
    slot 1 "inputs"   the activation read by the layer
    slot 2 "outputs"  the result (partial sums while a reduction is in progress)

A dimension an operand is not relevant to is a reuse opportunity for that operand.  The input tile of a
convolution depends on P and R (and Q and S) through the sliding window ``h = p*stride + r*dilation``;
``Layer.window`` marks layers where that projection applies.

Non-MAC layers are *not* convolutions: a pooling layer has no weight operand, its inner R×S loop reads
inputs and performs one compare (max) or add (avg) per point, and it is charged ``op`` energy, not MAC
energy.  An element-wise layer iterates N×K×P×Q once, reading one or two inputs and writing one output,
one op per point (the fused transformer kernels softmax, layernorm, rmsnorm, gelu, silu and rope repeat
their :data:`OPS_PER_ELEMENT` ops in an R loop that no operand depends on).  Both go through the same
loop-nest data-movement model as convolutions (so their DRAM and buffer traffic and bandwidth stalls are
costed like any other layer), and their ops execute at one op per MAC unit per cycle, mapped freely (a dataflow's unrolling/stationarity rules and a systolic array's
per-fold timing describe how MACs flow through the array, not vector ops).  Reshape-like layers (flatten, concat) move no data in this model and are not
layers at all: the builder only records the tensor shapes.

Bounds (:mod:`accel.schema`): every loop bound (G N K C P Q R S), stride and dilation is an integer from 1 to
2^31 (:data:`~accel.schema.MAX_LOOP_BOUND`), and a layer has at most 2^53 loop-nest points (MACs or ops,
:data:`~accel.schema.MAX_LAYER_POINTS`: float64 counts stay exact and int64 traffic counts cannot overflow).
A layer beyond them raises :class:`WorkloadError` at construction, so the mapper never sees it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from accel.errors import WorkloadInputError
from accel.schema import MAX_LAYER_POINTS, MAX_LOOP_BOUND

import networkx as nx
import numpy as np

DIMS: tuple[str, ...] = ("G", "N", "K", "C", "P", "Q", "R", "S")
DIM_INDEX = {d: i for i, d in enumerate(DIMS)}
OPERANDS: tuple[str, ...] = ("weights", "inputs", "outputs")
N_DIMS = 8
N_OPERANDS = 3

# Op kinds.  "mac" layers perform multiply-accumulates; the rest perform one "op" per loop point.
MAC_OPS = frozenset({"conv", "fc", "matmul"})
POOL_OPS = frozenset({"maxpool", "avgpool"})
# Fused multi-op element-wise kernels of transformers: one layer whose R loop — a dim no operand depends on, so
# the data moves once and the ops repeat — counts the ops per element.  Conventions (one op = one arithmetic
# operation or one elementary function such as exp, erf, sigmoid, rsqrt; per-row scalars such as the 1/sum of a
# softmax row or the rsqrt of a variance are amortised over the row and not counted):
#   softmax    4: max, exp(x - max), sum, scale by 1/sum (the numerically safe form every framework runs;
#                 single pass over data held on chip, as FlashAttention's online softmax)
#   layernorm  6: mean, x - mean, square, variance sum, normalise (x rstd), affine (gamma x + beta as one FMA)
#   rmsnorm    4: square, sum, x rrms, x gamma (Zhang & Sennrich 2019; Llama)
#   gelu       5: the erf form 0.5 x (1 + erf(x / sqrt 2)): scale, erf, add, mul, mul (Hendrycks & Gimpel 2016)
#   silu       2: x sigmoid(x): sigmoid, mul (sigmoid is one op, as the ``sigmoid`` layer)
#   rope       3: rotary embedding x cos + rotate_half(x) sin: mul, mul, add (Su et al. 2021); the cos/sin
#                 tables are not an operand (their traffic, 2 x positions x head_dim/2 values, is not modelled)
# accel.onnx_import costs Softmax, LayerNormalization, RMSNormalization, Gelu, ... with the same table.
OPS_PER_ELEMENT: dict[str, int] = {"softmax": 4, "layernorm": 6, "rmsnorm": 4, "gelu": 5, "silu": 2, "rope": 3}
ELTWISE_OPS = frozenset({"add", "mul", "relu", "relu6", "sigmoid", "hardswish", "hardsigmoid", "act"}
                        | set(OPS_PER_ELEMENT))
ALL_OPS = MAC_OPS | POOL_OPS | ELTWISE_OPS


def distinct_taps(p: int, r: int, s: int, d: int) -> int:
    """Distinct values of i*s + j*d for 0 ≤ i < p, 0 ≤ j < r: the input rows a p-row × r-tap window with
    stride s and dilation d touches.

    With g = gcd(s, d), s' = s/g, d' = d/g: i*s' + j*d' = i2*s' + j2*d' iff (i-i2, j2-j) = k(d', s'), so
    each value's representations form a chain (i - k d', j + k s'); counting one element per chain,
    distinct = p*r - max(0, p - d')*max(0, r - s').  For dilation 1 this is the familiar (p-1)*s + r when
    r ≥ s (overlapping windows) and p*r when the stride skips rows.  (Compiled by numba in accel.cost.)
    """
    if p <= 1 or r <= 1:
        return p * r
    g = math.gcd(s, d)
    s2 = s // g
    d2 = d // g
    return p * r - max(0, p - d2) * max(0, r - s2)


def _rel(*dims: str) -> tuple[bool, ...]:
    return tuple(d in dims for d in DIMS)


# Relevance of each operand slot to each dim, per op family.
_REL_MAC = (_rel("G", "K", "C", "R", "S"), _rel("G", "N", "C", "P", "Q", "R", "S"), _rel("G", "N", "K", "P", "Q"))
_REL_POOL = (_rel(), _rel("G", "N", "K", "P", "Q", "R", "S"), _rel("G", "N", "K", "P", "Q"))
_REL_ELT_BINARY = (_rel("G", "N", "K", "P", "Q"), _rel("G", "N", "K", "P", "Q"), _rel("G", "N", "K", "P", "Q"))
_REL_ELT_UNARY = (_rel(), _rel("G", "N", "K", "P", "Q"), _rel("G", "N", "K", "P", "Q"))
# x * s with s broadcast over the spatial dims (squeeze-excite scaling): s is per (N, channel)
_REL_ELT_BCAST = (_rel("G", "N", "K"), _rel("G", "N", "K", "P", "Q"), _rel("G", "N", "K", "P", "Q"))


class WorkloadError(WorkloadInputError):
    """An impossible layer or network description."""


@dataclass(frozen=True)
class Layer:
    """One layer as an 8-dim loop nest (see module docstring).  Dims are per group.

    ``stride``/``dilation`` are (vertical, horizontal); ``padding`` is (top, left, bottom, right) and only
    documents how P, Q were derived (padded input pixels are real reads in the model: the window
    projection covers them).
    """

    name: str
    op: str
    G: int = 1
    N: int = 1
    K: int = 1
    C: int = 1
    P: int = 1
    Q: int = 1
    R: int = 1
    S: int = 1
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)
    binary: bool = False  # element-wise with two inputs
    broadcast: bool = False  # binary element-wise whose second input is per channel (N, K)
    source: tuple[str, ...] = field(default_factory=tuple)  # e.g. ONNX node names

    def __post_init__(self) -> None:
        if self.op not in ALL_OPS:
            raise WorkloadError(f"layer {self.name!r}: unknown op {self.op!r} (known: {sorted(ALL_OPS)})")
        for d in DIMS:
            v = getattr(self, d)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 1 <= v <= MAX_LOOP_BOUND:
                raise WorkloadError(f"layer {self.name!r}: dim {d} must be an integer from 1 to {MAX_LOOP_BOUND} "
                                    f"(2^31), got {v!r}")
        for what in ("stride", "dilation"):
            v = getattr(self, what)
            if len(v) != 2 or not all(1 <= x <= MAX_LOOP_BOUND for x in v):
                raise WorkloadError(f"layer {self.name!r}: {what} must be two integers from 1 to {MAX_LOOP_BOUND} "
                                    f"(2^31), got {v!r}")
        if self.op in OPS_PER_ELEMENT and (self.R != OPS_PER_ELEMENT[self.op] or self.S != 1 or self.binary):
            raise WorkloadError(f"layer {self.name!r}: a {self.op} layer is unary with R = its ops per element "
                                f"({OPS_PER_ELEMENT[self.op]}) and S = 1, got R={self.R} S={self.S}"
                                + (" binary" if self.binary else ""))
        points = math.prod(int(getattr(self, d)) for d in DIMS)
        if points > MAX_LAYER_POINTS:
            raise WorkloadError(f"layer {self.name!r}: {points:.3g} loop-nest points (MACs / ops) exceed the limit of "
                                f"{MAX_LAYER_POINTS:.3g} (2^53)")

    # ---- derived quantities -------------------------------------------------------------------
    @property
    def dims(self) -> tuple[int, ...]:
        return tuple(int(getattr(self, d)) for d in DIMS)

    @property
    def is_mac(self) -> bool:
        return self.op in MAC_OPS

    @property
    def relevance(self) -> tuple[tuple[bool, ...], ...]:
        if self.op in MAC_OPS:
            return _REL_MAC
        if self.op in POOL_OPS:
            return _REL_POOL
        if self.binary:
            return _REL_ELT_BCAST if self.broadcast else _REL_ELT_BINARY
        return _REL_ELT_UNARY

    @property
    def window(self) -> bool:
        """True when the input index is the sliding window p*stride + r*dilation."""
        return self.op == "conv" or self.op in POOL_OPS

    @property
    def points(self) -> int:
        """Loop-nest points: MACs for MAC layers, ops for pooling / element-wise layers."""
        return math.prod(self.dims)

    @property
    def macs(self) -> int:
        return self.points if self.is_mac else 0

    @property
    def ops(self) -> int:
        return 0 if self.is_mac else self.points

    @property
    def input_hw(self) -> tuple[int, int]:
        """Input rows/cols the loop nest touches (padding included)."""
        h = (self.P - 1) * self.stride[0] + (self.R - 1) * self.dilation[0] + 1
        w = (self.Q - 1) * self.stride[1] + (self.S - 1) * self.dilation[1] + 1
        return h, w

    def operand_sizes(self) -> tuple[int, int, int]:
        """Distinct elements of (weights, inputs, outputs): the compulsory traffic.  Input rows/cols are the
        ones the windows touch (padding included, rows skipped by a stride larger than the window excluded)."""
        g, n, k, c, p, q, r, s = self.dims
        rel = self.relevance
        sizes = []
        for o in range(N_OPERANDS):
            if not any(rel[o]):
                sizes.append(0)
                continue
            if o == 1 and self.window:
                h = distinct_taps(self.P, self.R, self.stride[0], self.dilation[0])
                w = distinct_taps(self.Q, self.S, self.stride[1], self.dilation[1])
                sizes.append(g * n * c * h * w if self.op == "conv" else g * n * k * h * w)
                continue
            sizes.append(math.prod(v for v, m in zip(self.dims, rel[o]) if m))
        return tuple(sizes)

    def shape_key(self) -> tuple:
        """Everything the cost model sees (names excluded): identical keys cost the same."""
        return (self.op, self.dims, self.stride, self.dilation, self.binary, self.broadcast)

    def describe(self) -> str:
        parts = " ".join(f"{d}={getattr(self, d)}" for d in DIMS if getattr(self, d) != 1 or d in "KCPQ")
        extra = ""
        if self.stride != (1, 1):
            extra += f" stride={self.stride[0]}x{self.stride[1]}"
        if self.dilation != (1, 1):
            extra += f" dilation={self.dilation[0]}x{self.dilation[1]}"
        return f"{self.op} {parts}{extra}"


# ---------------------------------------------------------------------------------------------
# Parsing the `accelsim map --layer` syntax
# ---------------------------------------------------------------------------------------------
_LAYER_KEYS = set(DIMS) | {"stride", "dilation", "groups"}
_SPEC_INT = re.compile(r"[+-]?([0-9]+)")


def _spec_int(key: str, text: str) -> int:
    """One layer-spec integer: decimal, from 1 to 2^31."""
    m = _SPEC_INT.fullmatch(text)
    if not m:
        raise WorkloadError(f"layer spec: {key}={text!r} is not an integer")
    if len(m.group(1)) > 12 or not 1 <= int(text) <= MAX_LOOP_BOUND:  # length first: no huge-int arithmetic
        raise WorkloadError(f"layer spec: {key}={text} is out of range (1 to {MAX_LOOP_BOUND}, i.e. 2^31)")
    return int(text)


def parse_layer_spec(spec: str, name: str = "layer") -> Layer:
    """Parse ``"conv N=1 K=64 C=64 P=56 Q=56 R=3 S=3 stride=1 dilation=1 groups=1"``.

    First word: op (conv, fc, matmul, maxpool, avgpool, add, mul, relu, and the fused element-wise kernels
    softmax, layernorm, rmsnorm, gelu, silu, rope, whose R defaults to :data:`OPS_PER_ELEMENT`).  Then
    KEY=VALUE pairs: any of
    G N K C P Q R S (per-group K and C), ``stride=2`` or ``stride=2x1``, ``dilation=…``, ``groups=g``
    (``groups`` sets G and divides the given K and C, which are then read as totals).

    Rules (each violation raises :class:`WorkloadError` naming the key and the rule): a key at most once;
    values are decimal integers from 1 to 2^31; ``stride`` / ``dilation`` take one or two (``VxH``) of
    them; the layer has at most 2^53 loop-nest points (MACs / ops).
    """
    words = spec.split()
    if not words:
        raise WorkloadError("empty layer spec")
    op = words[0].lower()
    if op not in ALL_OPS:
        raise WorkloadError(f"layer spec: unknown op {op!r} (known: {', '.join(sorted(ALL_OPS))})")
    vals: dict[str, object] = {}
    for w in words[1:]:
        if "=" not in w:
            raise WorkloadError(f"layer spec: expected KEY=VALUE, got {w!r}")
        k, v = w.split("=", 1)
        key = k if k in DIMS else k.lower()
        if key not in _LAYER_KEYS:
            raise WorkloadError(f"layer spec: unknown key {k!r} (known: {', '.join(sorted(_LAYER_KEYS))})")
        if key in vals:
            raise WorkloadError(f"layer spec: key {k!r} is given twice (each key at most once)")
        if key in ("stride", "dilation"):
            parts = v.lower().split("x")
            if len(parts) not in (1, 2):
                raise WorkloadError(f"layer spec: {k}={v!r} must be one integer or two (VxH), got {len(parts)}")
            a = [_spec_int(k, x) for x in parts]
            vals[key] = (a[0], a[-1])
        else:
            vals[key] = _spec_int(k, v)
    groups = int(vals.pop("groups", 1))
    if groups > 1:
        for d in ("K", "C"):
            if d in vals:
                if int(vals[d]) % groups:
                    raise WorkloadError(f"layer spec: {d}={vals[d]} is not divisible by groups={groups}")
                vals[d] = int(vals[d]) // groups
        vals["G"] = int(vals.get("G", 1)) * groups
    binary = op in ("add", "mul")
    if op in OPS_PER_ELEMENT:
        vals.setdefault("R", OPS_PER_ELEMENT[op])  # fused kernels: R counts the ops per element
    return Layer(name=name, op=op, binary=binary, **vals)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tensor:
    """A tensor flowing between layers: its producer layer (None for the network input) and shape.

    Shapes are (N, C, H, W) for feature maps and (N, F) or (B, M, F) for vectors / sequences.
    """

    producer: str | None
    shape: tuple[int, ...]
    producers: tuple[str, ...] = ()  # all producing layers (after free ops such as concat)

    @property
    def sources(self) -> tuple[str, ...]:
        if self.producers:
            return self.producers
        return (self.producer,) if self.producer else ()


class Network:
    """A DNN as a networkx DAG of :class:`Layer` nodes (node attribute ``layer``)."""

    def __init__(self, name: str, graph: nx.DiGraph, input_shape: tuple[int, ...]):
        if not nx.is_directed_acyclic_graph(graph):
            raise WorkloadError(f"network {name!r}: graph has a cycle")
        self.name = name
        self.graph = graph
        self.input_shape = input_shape

    @property
    def layers(self) -> list[Layer]:
        """Layers in a deterministic topological order (insertion order breaks ties)."""
        order = {n: i for i, n in enumerate(self.graph.nodes)}
        return [self.graph.nodes[n]["layer"] for n in nx.lexicographical_topological_sort(self.graph, key=order.get)]

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def count(self, op: str) -> int:
        return sum(1 for layer in self.layers if layer.op == op)

    def with_batch(self, batch: int) -> "Network":
        """The same network at another batch size (N scales; MatMul batch lives in G and is kept)."""
        if batch < 1:
            raise WorkloadError("batch must be >= 1")
        g = nx.DiGraph()
        for n, data in self.graph.nodes(data=True):
            layer: Layer = data["layer"]
            g.add_node(n, layer=_replace(layer, N=layer.N * batch))
        g.add_edges_from(self.graph.edges)
        shape = (self.input_shape[0] * batch,) + tuple(self.input_shape[1:])
        return Network(self.name, g, shape)

    def __repr__(self) -> str:
        return f"Network({self.name!r}, {len(self.graph)} layers, {self.macs / 1e9:.3f} GMACs)"


def _replace(layer: Layer, **changes) -> Layer:
    from dataclasses import replace

    return replace(layer, **changes)


def window_out_size(size: int, kernel: int, stride: int, pad_a: int, pad_b: int, dilation: int = 1,
                    ceil_mode: bool = False) -> int:
    """Output length of a sliding window (conv or pool) along one axis — the one output-size rule of accelsim
    (NetworkBuilder, zoo, ONNX import): ``floor((size + pad_a + pad_b − dilation·(kernel − 1) − 1) / stride) + 1``
    (``ceil`` with ``ceil_mode``, where, as in PyTorch / ONNX, a last window that would start in the end padding
    is dropped).  Returns 0 (never negative) when the window does not fit; callers report that."""
    span = size + pad_a + pad_b - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad_a:
        out -= 1
    return out


def _out_size(size: int, kernel: int, stride: int, pad_a: int, pad_b: int, dilation: int, ceil: bool = False) -> int:
    out = window_out_size(size, kernel, stride, pad_a, pad_b, dilation, ceil)
    if out < 1:
        raise WorkloadError(f"window {kernel} (dilation {dilation}) does not fit input {size} with padding {pad_a}+{pad_b}")
    return out


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, np.integer)) else (int(v[0]), int(v[1]))


def _pads(v) -> tuple[int, int, int, int]:
    if isinstance(v, (int, np.integer)):
        return (int(v),) * 4
    if len(v) == 2:
        return (int(v[0]), int(v[1]), int(v[0]), int(v[1]))
    return tuple(int(x) for x in v)  # type: ignore[return-value]


class NetworkBuilder:
    """Builds a :class:`Network` while tracking tensor shapes, so zoo definitions read like model code.

    Free tensor operations (flatten, concat, reshape) only change the shape bookkeeping; every costed
    operation becomes a layer node with edges from the layers that produced its inputs.
    """

    def __init__(self, name: str):
        self.name = name
        self.graph = nx.DiGraph()
        self._input_shape: tuple[int, ...] | None = None
        self._counts: dict[str, int] = {}

    # -- bookkeeping ------------------------------------------------------------------------------
    def input(self, *shape: int) -> Tensor:
        self._input_shape = tuple(int(s) for s in shape)
        return Tensor(None, self._input_shape)

    def _name(self, name: str | None, op: str) -> str:
        if name is None:
            self._counts[op] = self._counts.get(op, 0) + 1
            name = f"{op}{self._counts[op]}"
        if name in self.graph:
            raise WorkloadError(f"network {self.name!r}: duplicate layer name {name!r}")
        return name

    def _add(self, layer: Layer, inputs: tuple[Tensor, ...], out_shape: tuple[int, ...]) -> Tensor:
        self.graph.add_node(layer.name, layer=layer)
        for t in inputs:
            for src in t.sources:
                self.graph.add_edge(src, layer.name)
        return Tensor(layer.name, out_shape)

    def build(self) -> Network:
        if self._input_shape is None:
            raise WorkloadError(f"network {self.name!r}: no input declared")
        return Network(self.name, self.graph, self._input_shape)

    # -- MAC layers -------------------------------------------------------------------------------
    def conv(self, x: Tensor, out_channels: int, kernel=1, stride=1, padding=0, groups: int = 1,
             dilation=1, name: str | None = None, source: tuple[str, ...] = ()) -> Tensor:
        if len(x.shape) != 4:
            raise WorkloadError(f"conv {name}: expected NCHW input, got shape {x.shape}")
        n, c, h, w = x.shape
        kh, kw = _pair(kernel)
        sh, sw = _pair(stride)
        dh, dw = _pair(dilation)
        pt, pl, pb, pr = _pads(padding)
        if c % groups or out_channels % groups:
            raise WorkloadError(f"conv {name}: channels {c}->{out_channels} not divisible by groups={groups}")
        p = _out_size(h, kh, sh, pt, pb, dh)
        q = _out_size(w, kw, sw, pl, pr, dw)
        layer = Layer(self._name(name, "conv"), "conv", G=groups, N=n, K=out_channels // groups, C=c // groups,
                      P=p, Q=q, R=kh, S=kw, stride=(sh, sw), dilation=(dh, dw), padding=(pt, pl, pb, pr),
                      source=source)
        return self._add(layer, (x,), (n, out_channels, p, q))

    def linear(self, x: Tensor, out_features: int, name: str | None = None, source: tuple[str, ...] = ()) -> Tensor:
        """Fully connected layer on (N, F) or on the last dim of (N, T, F) (tokens fold into P)."""
        if len(x.shape) == 2:
            n, f = x.shape
            layer = Layer(self._name(name, "fc"), "fc", N=n, K=out_features, C=f, source=source)
            return self._add(layer, (x,), (n, out_features))
        *lead, f = x.shape
        rows = math.prod(lead[1:])
        layer = Layer(self._name(name, "fc"), "fc", N=lead[0], K=out_features, C=f, P=rows, source=source)
        return self._add(layer, (x,), (*lead, out_features))

    def matmul(self, a: Tensor, b: Tensor, name: str | None = None, source: tuple[str, ...] = ()) -> Tensor:
        """Batched MatMul (..., M, Kr) @ (..., Kr, Ncol): batch dims fold into G."""
        *ba, m, kr = a.shape
        *bb, kr2, ncol = b.shape
        if kr != kr2:
            raise WorkloadError(f"matmul {name}: inner dims differ ({kr} vs {kr2})")
        batch = math.prod(ba) if ba else 1
        layer = Layer(self._name(name, "matmul"), "matmul", G=batch, K=ncol, C=kr, P=m, source=source)
        return self._add(layer, (a, b), (*ba, m, ncol))

    # -- non-MAC layers ---------------------------------------------------------------------------
    def pool(self, x: Tensor, kind: str, kernel, stride=None, padding=0, ceil_mode: bool = False,
             name: str | None = None, source: tuple[str, ...] = ()) -> Tensor:
        if kind not in ("max", "avg"):
            raise WorkloadError(f"pool kind must be max or avg, got {kind!r}")
        n, c, h, w = x.shape
        kh, kw = _pair(kernel)
        sh, sw = _pair(stride if stride is not None else kernel)
        pt, pl, pb, pr = _pads(padding)
        p = _out_size(h, kh, sh, pt, pb, 1, ceil_mode)
        q = _out_size(w, kw, sw, pl, pr, 1, ceil_mode)
        op = f"{kind}pool"
        layer = Layer(self._name(name, op), op, N=n, K=c, P=p, Q=q, R=kh, S=kw, stride=(sh, sw),
                      padding=(pt, pl, pb, pr), source=source)
        return self._add(layer, (x,), (n, c, p, q))

    def global_avgpool(self, x: Tensor, name: str | None = None, source: tuple[str, ...] = ()) -> Tensor:
        n, c, h, w = x.shape
        layer = Layer(self._name(name, "avgpool"), "avgpool", N=n, K=c, P=1, Q=1, R=h, S=w, source=source)
        return self._add(layer, (x,), (n, c, 1, 1))

    def eltwise(self, op: str, *xs: Tensor, name: str | None = None, source: tuple[str, ...] = ()) -> Tensor:
        if op not in ELTWISE_OPS:
            raise WorkloadError(f"unknown element-wise op {op!r}")
        shape = xs[0].shape
        broadcast = len(xs) > 1 and math.prod(xs[1].shape) < math.prod(shape)
        if broadcast and math.prod(xs[1].shape[2:]) != 1:
            raise WorkloadError(f"{op} {name}: only per-channel broadcasting is supported, got {xs[1].shape}")
        n = shape[0]
        c = shape[1] if len(shape) > 1 else 1
        rest = math.prod(shape[2:]) if len(shape) > 2 else 1
        h = shape[2] if len(shape) == 4 else rest
        w = shape[3] if len(shape) == 4 else 1
        layer = Layer(self._name(name, op), op, N=n, K=c, P=h, Q=w, R=OPS_PER_ELEMENT.get(op, 1),
                      binary=len(xs) > 1, broadcast=broadcast, source=source)
        return self._add(layer, xs, shape)

    def add(self, a: Tensor, b: Tensor, name: str | None = None) -> Tensor:
        if a.shape != b.shape:
            raise WorkloadError(f"add {name}: shapes differ {a.shape} vs {b.shape}")
        return self.eltwise("add", a, b, name=name)

    # -- free ops ---------------------------------------------------------------------------------
    @staticmethod
    def flatten(x: Tensor) -> Tensor:
        return Tensor(x.producer, (x.shape[0], math.prod(x.shape[1:])), x.producers)

    @staticmethod
    def reshape(x: Tensor, *shape: int) -> Tensor:
        """Free: the same data under another shape (e.g. splitting heads); the element count must match."""
        shape = tuple(int(d) for d in shape)
        if math.prod(shape) != math.prod(x.shape):
            raise WorkloadError(f"reshape: cannot view {x.shape} as {shape}")
        return Tensor(x.producer, shape, x.producers)

    @staticmethod
    def permute(x: Tensor, *perm: int) -> Tensor:
        """Free: a transposed view (dims reordered by ``perm``), as ONNX Transpose."""
        if sorted(perm) != list(range(len(x.shape))):
            raise WorkloadError(f"permute: {perm} is not a permutation of the {len(x.shape)} dims of {x.shape}")
        return Tensor(x.producer, tuple(x.shape[i] for i in perm), x.producers)

    @staticmethod
    def concat(xs: list[Tensor], axis: int = 1) -> Tensor:
        shape = list(xs[0].shape)
        shape[axis] = sum(t.shape[axis] for t in xs)
        prods = tuple(p for t in xs for p in t.sources)
        return Tensor(prods[0] if prods else None, tuple(shape), prods)
