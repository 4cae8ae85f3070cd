"""The DARTS / NAS-Bench-301 cell space and its CIFAR evaluation network.

A DARTS architecture (Liu et al., "DARTS: Differentiable Architecture Search", ICLR 2019) is a pair of
cell genotypes, *normal* and *reduce*.  A cell has two input nodes (0: output of the cell before the
previous one, 1: output of the previous cell) and four intermediate nodes 2..5; intermediate node
``k`` sums two operations applied to two *distinct* earlier nodes, so a genotype is 8 ``(op, input)``
pairs, node-major.  The cell output concatenates nodes 2..5.  Ops are the seven primitives a derived
DARTS genotype can contain (``none`` is never selected), the NAS-Bench-301 space (Siems et al. 2020).

Encoding (``encode`` / ``decode``)::

    sep_conv_3x3~0,sep_conv_3x3~1,...(8 pairs)/max_pool_3x3~0,max_pool_3x3~1,...(8 pairs)

normal cell first, ``/``, reduce cell.  Within a node the two pairs are stored sorted by input (the sum
is commutative), so every network has one canonical string.  ``decode`` also accepts the published
genotypes ``DARTS_V1`` and ``DARTS_V2`` by name.

The evaluation network is DARTS' ``NetworkCIFAR`` (C=36, 20 cells, CIFAR 32×32, 10 classes, no auxiliary
head, which is training-only): stem 3×3 conv to 3C; reduction cells at 1/3 and 2/3 of the depth double C;
each cell preprocesses its inputs with ReLU-Conv(1×1)-BN (``FactorizedReduce`` for input 0 after a
reduction cell); global average pool and a linear classifier.  Ops: ``sep_conv_kxk`` = two stacked
(ReLU, depthwise k×k, pointwise 1×1, BN), ``dil_conv_kxk`` = ReLU, depthwise k×k dilation 2, pointwise
1×1, BN; 3×3 max / avg pooling (pad 1); ``skip_connect`` = identity, or ``FactorizedReduce`` (two 1×1
stride-2 convs, the second on the input shifted by one pixel, concatenated) on a stride-2 edge.  In a
reduction cell, edges from the two input nodes have stride 2.  Every intermediate node costs one add.
The ReLU that starts every ReLU-Conv-BN, ``FactorizedReduce``, ``dil_conv`` and each half of ``sep_conv`` is
an element-wise ``relu`` layer (``<op>.relu``; ``sep_conv``: ``<op>.1.relu``, ``<op>.2.relu``): it is applied
per edge to a tensor other edges read un-activated, so it cannot fuse into the producer (a runtime may still
fuse the one after ``pw1`` into that conv, or share the ReLUs of one tensor: :mod:`accel.device`).  BN folds
into the conv (no layer); concatenation is free (no layer: an accelerator writes the parts in place).
DARTS_V2 has 3.35 M parameters (the paper's 3.3 M) and 0.53 GMACs; ReLU layers add no MACs or parameters.
"""

from __future__ import annotations

from accel.errors import WorkloadInputError
import itertools
import math
from typing import NamedTuple

import numpy as np

from accel.workload import Network, NetworkBuilder, Tensor, WorkloadError

__all__ = ["OPS", "Genotype", "DartsSpace", "DARTS_V1", "DARTS_V2", "build_network", "build_torch", "parse_genotype",
           "genotype_str"]

OPS: tuple[str, ...] = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
                        "dil_conv_3x3", "dil_conv_5x5")
OP_INDEX = {o: i for i, o in enumerate(OPS)}
N_NODES = 4  # intermediate nodes per cell
N_PAIRS = 2 * N_NODES
# every possible (node, input) edge: node k (0..3) takes inputs 0..k+1 → 2+3+4+5 = 14 edges
EDGE_SLOTS: tuple[tuple[int, int], ...] = tuple((k, i) for k in range(N_NODES) for i in range(k + 2))
EDGE_INDEX = {e: n for n, e in enumerate(EDGE_SLOTS)}
CELL_TYPES = ("normal", "reduce")

Cell = tuple[tuple[str, int], ...]  # 8 (op, input) pairs, node-major, sorted by input within a node


class Genotype(NamedTuple):
    normal: Cell
    reduce: Cell


class DartsError(WorkloadInputError):
    """A malformed DARTS genotype string or cell."""


def _canonical_cell(pairs, ops: tuple[str, ...] = OPS) -> Cell:
    pairs = [(str(o), int(i)) for o, i in pairs]
    if len(pairs) != N_PAIRS:
        raise DartsError(f"a DARTS cell has {N_PAIRS} (op, input) pairs, got {len(pairs)}")
    out: list[tuple[str, int]] = []
    for k in range(N_NODES):
        a, b = pairs[2 * k], pairs[2 * k + 1]
        for op, inp in (a, b):
            if op not in ops:
                raise DartsError(f"node {k + 2}: unknown op {op!r} (known: {', '.join(ops)})")
            if not 0 <= inp <= k + 1:
                raise DartsError(f"node {k + 2}: input {inp} out of range 0..{k + 1}")
        if a[1] == b[1]:
            raise DartsError(f"node {k + 2}: the two inputs must differ, got {a[1]} twice")
        out.extend(sorted((a, b), key=lambda p: (p[1], OP_INDEX[p[0]])))
    return tuple(out)


def _cell_str(cell: Cell) -> str:
    return ",".join(f"{o}~{i}" for o, i in cell)


def genotype_str(g: Genotype) -> str:
    """``normal pairs/reduce pairs`` (see module docstring)."""
    return f"{_cell_str(g.normal)}/{_cell_str(g.reduce)}"


def _parse_cell(s: str, what: str) -> Cell:
    pairs = []
    for item in s.split(","):
        op, sep, inp = item.strip().partition("~")
        if not sep or not inp.isdigit():
            raise DartsError(f"{what} cell: expected 'op~input', got {item!r}")
        pairs.append((op, int(inp)))
    try:
        return _canonical_cell(pairs)
    except DartsError as e:
        raise DartsError(f"{what} cell: {e}") from None


def parse_genotype(s: str) -> Genotype:
    """Parse ``normal/reduce`` pair lists, or the names ``DARTS_V1`` / ``DARTS_V2``."""
    key = s.strip()
    if key.upper() in NAMED:
        return NAMED[key.upper()]
    parts = key.split("/")
    if len(parts) != 2:
        raise DartsError(f"DARTS genotype {s!r}: expected 'NORMAL/REDUCE' (8 'op~input' pairs each) or one of "
                         f"{', '.join(NAMED)}")
    return Genotype(_parse_cell(parts[0], "normal"), _parse_cell(parts[1], "reduce"))


# Published genotypes (DARTS repository, cnn/genotypes.py).
DARTS_V1 = Genotype(
    _canonical_cell([("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 0), ("sep_conv_3x3", 1),
                     ("skip_connect", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("skip_connect", 2)]),
    _canonical_cell([("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 0),
                     ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("avg_pool_3x3", 0)]))
DARTS_V2 = Genotype(
    _canonical_cell([("sep_conv_3x3", 0), ("sep_conv_3x3", 1), ("sep_conv_3x3", 0), ("sep_conv_3x3", 1),
                     ("sep_conv_3x3", 1), ("skip_connect", 0), ("skip_connect", 0), ("dil_conv_3x3", 2)]),
    _canonical_cell([("max_pool_3x3", 0), ("max_pool_3x3", 1), ("skip_connect", 2), ("max_pool_3x3", 1),
                     ("max_pool_3x3", 0), ("skip_connect", 2), ("skip_connect", 2), ("max_pool_3x3", 1)]))
NAMED = {"DARTS_V1": DARTS_V1, "DARTS_V2": DARTS_V2}


def as_genotype(x) -> Genotype:
    if isinstance(x, str):
        return parse_genotype(x)
    if isinstance(x, Genotype):
        return x
    normal, reduce = x
    return Genotype(_canonical_cell(normal), _canonical_cell(reduce))


# ---------------------------------------------------------------------------------------------
# Macro network
# ---------------------------------------------------------------------------------------------
def _plan(layers: int) -> list[bool]:
    """Which cells reduce: those at layers//3 and 2*layers//3 (DARTS NetworkCIFAR)."""
    return [i in (layers // 3, 2 * layers // 3) for i in range(layers)]


def _relu(b: NetworkBuilder, x: Tensor, name: str) -> Tensor:
    """The ReLU a DARTS op applies to its own input (per edge: it cannot fuse into the producer, whose output
    other edges read un-activated)."""
    return b.eltwise("relu", x, name=f"{name}.relu")


def _skip_reduce(b: NetworkBuilder, x: Tensor, c_out: int, name: str) -> Tensor:
    """FactorizedReduce: ReLU, two 1×1/2 convs to c_out/2, the second on ``x[:, :, 1:, 1:]``; concat (free)."""
    x = _relu(b, x, name)
    n, c, h, w = x.shape
    y1 = b.conv(x, c_out // 2, kernel=1, stride=2, name=f"{name}.conv_1")
    shifted = Tensor(x.producer, (n, c, h - 1, w - 1), x.producers)
    y2 = b.conv(shifted, c_out // 2, kernel=1, stride=2, name=f"{name}.conv_2")
    if y1.shape != y2.shape:
        raise WorkloadError(f"{name}: FactorizedReduce needs an even input size, got {h}x{w}")
    return b.concat([y1, y2])


def _op(b: NetworkBuilder, x: Tensor, op: str, stride: int, name: str) -> Tensor:
    c = x.shape[1]
    if op == "skip_connect":
        return x if stride == 1 else _skip_reduce(b, x, c, name)
    if op in ("max_pool_3x3", "avg_pool_3x3"):
        return b.pool(x, op[:3], 3, stride=stride, padding=1, name=name)
    k = int(op[-1])
    if op.startswith("sep_conv"):
        y = b.conv(_relu(b, x, f"{name}.1"), c, kernel=k, stride=stride, padding=k // 2, groups=c, name=f"{name}.dw1")
        y = b.conv(y, c, kernel=1, name=f"{name}.pw1")
        y = b.conv(_relu(b, y, f"{name}.2"), c, kernel=k, padding=k // 2, groups=c, name=f"{name}.dw2")
        return b.conv(y, c, kernel=1, name=f"{name}.pw2")
    if op.startswith("dil_conv"):
        y = b.conv(_relu(b, x, name), c, kernel=k, stride=stride, padding=(k // 2) * 2, dilation=2, groups=c,
                   name=f"{name}.dw")
        return b.conv(y, c, kernel=1, name=f"{name}.pw")
    raise WorkloadError(f"unknown DARTS op {op!r}")


def build_network(genotype, batch: int = 1, channels: int = 36, layers: int = 20, classes: int = 10,
                  resolution: int = 32) -> Network:
    """DARTS ``NetworkCIFAR`` of ``genotype`` as an accelsim :class:`~accel.workload.Network` (module docstring)."""
    g = as_genotype(genotype)
    if batch < 1:
        raise WorkloadError(f"batch must be >= 1, got {batch}")
    b = NetworkBuilder(f"darts[{genotype_str(g)}]")
    x = b.input(batch, 3, resolution, resolution)
    stem = b.conv(x, 3 * channels, kernel=3, padding=1, name="stem")
    s0 = s1 = stem
    c = channels
    reduction_prev = False
    for i, reduction in enumerate(_plan(layers)):
        if reduction:
            c *= 2
        name = f"cell{i}"
        p0 = (_skip_reduce(b, s0, c, f"{name}.pre0") if reduction_prev
              else b.conv(_relu(b, s0, f"{name}.pre0"), c, kernel=1, name=f"{name}.pre0"))
        p1 = b.conv(_relu(b, s1, f"{name}.pre1"), c, kernel=1, name=f"{name}.pre1")
        states = [p0, p1]
        cell = g.reduce if reduction else g.normal
        for k in range(N_NODES):
            terms = []
            for m in range(2):
                op, inp = cell[2 * k + m]
                stride = 2 if reduction and inp < 2 else 1
                terms.append(_op(b, states[inp], op, stride, f"{name}.n{k + 2}.{op}~{inp}"))
            states.append(b.add(terms[0], terms[1], name=f"{name}.n{k + 2}.add"))
        s0, s1 = s1, b.concat(states[2:])
        reduction_prev = reduction
    y = b.global_avgpool(s1, name="global_pooling")
    b.linear(b.flatten(y), classes, name="classifier")
    return b.build()


def build_torch(genotype, channels: int = 36, layers: int = 20, classes: int = 10):
    """DARTS ``NetworkCIFAR`` of ``genotype`` as a torch ``nn.Module`` (eval-mode structure, no auxiliary head)."""
    import torch
    from torch import nn

    from accel.nn import DilConv, FactorizedReduce, ReLUConvBN, SepConv

    g = as_genotype(genotype)

    def make_op(op: str, c: int, stride: int) -> nn.Module:
        if op == "skip_connect":
            return nn.Identity() if stride == 1 else FactorizedReduce(c, c)
        if op == "max_pool_3x3":
            return nn.MaxPool2d(3, stride=stride, padding=1)
        if op == "avg_pool_3x3":
            return nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
        k = int(op[-1])
        if op.startswith("sep_conv"):
            return SepConv(c, c, k, stride, k // 2)
        return DilConv(c, c, k, stride, (k // 2) * 2, 2)

    class Cell(nn.Module):
        def __init__(self, cell: Cell, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool):
            super().__init__()
            self.pre0 = FactorizedReduce(c_pp, c) if reduction_prev else ReLUConvBN(c_pp, c, 1)
            self.pre1 = ReLUConvBN(c_p, c, 1)
            self.inputs = [inp for _, inp in cell]
            self.ops = nn.ModuleList(make_op(op, c, 2 if reduction and inp < 2 else 1) for op, inp in cell)

        def forward(self, s0, s1):
            states = [self.pre0(s0), self.pre1(s1)]
            for k in range(N_NODES):
                a, bb = 2 * k, 2 * k + 1
                states.append(self.ops[a](states[self.inputs[a]]) + self.ops[bb](states[self.inputs[bb]]))
            return torch.cat(states[2:], dim=1)

    class NetworkCIFAR(nn.Module):
        def __init__(self):
            super().__init__()
            c = channels
            self.stem = nn.Sequential(nn.Conv2d(3, 3 * c, 3, padding=1, bias=False), nn.BatchNorm2d(3 * c))
            c_pp, c_p = 3 * c, 3 * c
            self.cells = nn.ModuleList()
            reduction_prev = False
            for reduction in _plan(layers):
                if reduction:
                    c *= 2
                self.cells.append(Cell(g.reduce if reduction else g.normal, c_pp, c_p, c, reduction, reduction_prev))
                reduction_prev = reduction
                c_pp, c_p = c_p, N_NODES * c
            self.classifier = nn.Linear(c_p, classes)

        def forward(self, x):
            s0 = s1 = self.stem(x)
            for cell in self.cells:
                s0, s1 = s1, cell(s0, s1)
            return self.classifier(s1.mean(dim=(2, 3)))

    return NetworkCIFAR()


# ---------------------------------------------------------------------------------------------
# The space object
# ---------------------------------------------------------------------------------------------
OP_FAMILIES: dict[str, tuple[str, ...]] = {
    "sep": ("sep_conv_3x3", "sep_conv_5x5"), "dil": ("dil_conv_3x3", "dil_conv_5x5"),
    "pool": ("max_pool_3x3", "avg_pool_3x3"), "skip": ("skip_connect",),
}


class DartsSpace:
    """DARTS / NAS-Bench-301 genotypes (module docstring), optionally restricted to a subset of ops.

    Search operators (as NAS-Bench-301's evolution / local search): ``sample`` draws, per node, two
    distinct inputs and two ops uniformly; ``mutate`` picks one of the 16 pairs and changes either its op
    or (when another input is free) its input; ``crossover`` takes each node of each cell from either
    parent.  ``to_vector``: per cell, the 14 possible (node, input) edges × one-hot op (196 values).
    """

    name = "darts"
    finite = False
    spec_help = "NORMAL/REDUCE with 8 'op~input' pairs each, or DARTS_V1 / DARTS_V2"

    def __init__(self, ops: tuple[str, ...] = OPS, channels: int = 36, layers: int = 20, classes: int = 10,
                 resolution: int = 32):
        bad = [o for o in ops if o not in OP_INDEX]
        if bad or not ops:
            raise DartsError(f"unknown DARTS ops {bad} (known: {', '.join(OPS)})")
        self.ops = tuple(o for o in OPS if o in ops)
        self.channels, self.layers, self.classes, self.resolution = channels, layers, classes, resolution

    @property
    def size(self) -> int:
        per_cell = math.prod(math.comb(k + 2, 2) for k in range(N_NODES)) * len(self.ops) ** N_PAIRS
        return per_cell ** 2

    @property
    def vector_size(self) -> int:
        return 2 * len(EDGE_SLOTS) * len(OPS)

    def contains(self, g: Genotype) -> bool:
        return all(o in self.ops for cell in g for o, _ in cell)

    # -- search operators ---------------------------------------------------------------------------
    def _sample_node(self, k: int, rng: np.random.Generator) -> list[tuple[str, int]]:
        inputs = rng.choice(k + 2, size=2, replace=False)
        ops = rng.integers(0, len(self.ops), size=2)
        return [(self.ops[int(o)], int(i)) for o, i in zip(ops, inputs)]

    def sample(self, rng: np.random.Generator) -> Genotype:
        cells = []
        for _ in CELL_TYPES:
            cells.append(_canonical_cell([p for k in range(N_NODES) for p in self._sample_node(k, rng)], self.ops))
        return Genotype(*cells)

    def mutate(self, g, rng: np.random.Generator) -> Genotype:
        g = as_genotype(g)
        which = int(rng.integers(2))
        cell = list(g[which])
        e = int(rng.integers(N_PAIRS))
        k = e // 2
        op, inp = cell[e]
        other = cell[e ^ 1][1]
        free = [i for i in range(k + 2) if i not in (inp, other)]
        if free and (len(self.ops) == 1 or rng.random() < 0.5):
            cell[e] = (op, free[int(rng.integers(len(free)))])
        elif len(self.ops) > 1:
            cur = self.ops.index(op)
            new = int(rng.integers(len(self.ops) - 1))
            cell[e] = (self.ops[new + (new >= cur)], inp)
        new_cell = _canonical_cell(cell, self.ops)
        return Genotype(new_cell, g.reduce) if which == 0 else Genotype(g.normal, new_cell)

    def crossover(self, a, b, rng: np.random.Generator) -> Genotype:
        ga, gb = as_genotype(a), as_genotype(b)
        take = rng.random((2, N_NODES)) < 0.5
        cells = []
        for c in range(2):
            pairs = []
            for k in range(N_NODES):
                src = ga[c] if take[c, k] else gb[c]
                pairs.extend(src[2 * k:2 * k + 2])
            cells.append(tuple(pairs))
        return Genotype(*cells)

    # -- encodings -----------------------------------------------------------------------------------
    def encode(self, g) -> str:
        return genotype_str(as_genotype(g))

    def decode(self, s: str) -> Genotype:
        return parse_genotype(s)

    def to_vector(self, g) -> np.ndarray:
        g = as_genotype(g)
        v = np.zeros((2, len(EDGE_SLOTS), len(OPS)), dtype=np.float32)
        for c, cell in enumerate(g):
            for e, (op, inp) in enumerate(cell):
                v[c, EDGE_INDEX[(e // 2, inp)], OP_INDEX[op]] = 1.0
        return v.reshape(-1)

    def from_vector(self, v: np.ndarray) -> Genotype:
        a = np.asarray(v, dtype=float)
        if a.size != self.vector_size:
            raise DartsError(f"expected {self.vector_size} values, got {a.size}")
        a = a.reshape(2, len(EDGE_SLOTS), len(OPS))
        cells = []
        for c in range(2):
            pairs = []
            for k in range(N_NODES):
                slots = [EDGE_INDEX[(k, i)] for i in range(k + 2)]
                best = sorted(range(k + 2), key=lambda i: -a[c, slots[i]].max())[:2]
                pairs.extend((OPS[int(a[c, slots[i]].argmax())], i) for i in best)
            cells.append(_canonical_cell(pairs))
        return Genotype(*cells)

    def enumerate(self):
        raise DartsError(f"the DARTS space has {self.size:.3g} genotypes: it cannot be enumerated")

    # -- networks ------------------------------------------------------------------------------------
    def input_shape(self, g=None, batch: int = 1) -> tuple[int, int, int, int]:
        return (batch, 3, self.resolution, self.resolution)

    def build_network(self, g, batch: int = 1) -> Network:
        return build_network(g, batch, self.channels, self.layers, self.classes, self.resolution)

    def build_torch(self, g):
        return build_torch(g, self.channels, self.layers, self.classes)

    # -- sub-spaces (BBSSP profiling / CHaNAS CDF division) ------------------------------------------
    def subspaces(self) -> dict[str, "DartsSpace"]:
        """Unions of op families (separable convs, dilated convs, pools, skip) with at least one conv family."""
        out = {}
        names = list(OP_FAMILIES)
        for r in range(1, len(names) + 1):
            for fams in itertools.combinations(names, r):
                if "sep" in fams or "dil" in fams:
                    ops = tuple(o for f in fams for o in OP_FAMILIES[f])
                    out["+".join(fams)] = DartsSpace(ops, self.channels, self.layers, self.classes, self.resolution)
        return out
