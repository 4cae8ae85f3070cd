"""The NAS-Bench-201 (NATS-Bench topology) search space: cells, encodings, accuracy oracle, networks.

A cell is a DAG over four nodes; node 0 is the cell input and node ``j`` (1..3) is the sum over
``i < j`` of ``op_{i→j}(node i)``; node 3 is the cell output.  Each of the six edges carries one of
five operations, giving 5**6 = 15,625 cells.  An architecture (``Arch``) is a tuple of six op names in
the order of the standard arch string::

    |op(0→1)~0|+|op(0→2)~0|op(1→2)~1|+|op(0→3)~0|op(1→3)~1|op(2→3)~2|

Three identifiers are used in this module:

* the **arch string** above (``arch_str`` / ``parse_arch``);
* the **official index** (0..15624): the row of the NAS-Bench-201 / NATS-Bench benchmark files.  That
  order is *not* a systematic enumeration (index 0 is ``|avg_pool_3x3~0|+|nor_conv_1x1~0|…``), so it is
  read from the shipped accuracy table (``nas/data/nasbench201_accuracy.csv.gz``);
* the **code** (0..15624): the base-5 number whose digits are the six op ids (``OPS`` order), edge 0
  most significant.  It is a cheap canonical key used for vectorised bookkeeping.

Networks (:func:`build_network`) follow the NAS-Bench-201 ``TinyNetwork`` macro skeleton: a 3×3 stem
conv to C=16, three stages of N=5 cells with C = 16, 32, 64 separated by two residual reduction blocks
(ResNet basic block, stride 2: 3×3 s2 conv → 3×3 conv, shortcut 2×2 s2 avg pool → 1×1 conv, then an
add), ``lastact`` (BN+ReLU, fused: no layer), a global average pool and the classifier FC.  Inside a
cell ``nor_conv_kxk`` is ReLU-Conv-BN (only the conv is a layer), ``avg_pool_3x3`` is a stride-1, pad-1
average pooling layer, ``skip_connect`` is a plain input to the node's sum, ``none`` is no edge at all,
and a node summing k inputs costs k−1 element-wise ``add`` layers.

Dead edges and ``prune`` (execution semantics: a property of the runtime, not of the cell).  A node that
no non-``none`` edge reaches from the input is identically zero, and a node that reaches the output only
through ``none`` edges is dead code.  Eager frameworks execute those edges anyway (PyTorch runs every
module it is given; the NAS-Bench-201 reference code's ``none`` op even multiplies its input by zero, which
keeps the branch live in any exported graph), so by default (``prune=False``, the
default of every function here, of :mod:`nas.hwcost` and of every ``accelsim`` command) every
non-``none`` edge is costed; an op applied to an identically-zero node reads a constant input (no graph
edge).  ``prune=True`` (``accelsim ... --prune-dead``) models a compiler that removes dead code: only
edges on an input→output path of non-``none`` edges are costed.  When no such path exists at all (e.g. the
all-``none`` cell; :func:`output_is_constant`) the cell outputs zeros, so the network's output does not depend on
its input: every layer after the first cell reads only constants (an exporter constant-folds them — ONNX export
followed by onnxruntime's graph optimiser leaves an empty graph that returns the constant logits) and every layer
before it feeds only that constant (dead code), so with ``prune=True`` such a network has **no layers** (0 MACs,
zero cost: what the runtime executes; the skeleton's layers are dropped too).  With a live path the macro
skeleton is always costed.  Pruning changes the cell signature of 5,909 of the 15,625 cells and the costed
layers of 5,921 (the MACs of 4,317), 341 of which have a constant output (``tests/test_prune_dead.py``).
"""

from __future__ import annotations

from accel.errors import WorkloadInputError
import functools
import importlib.resources
import io
import itertools
from typing import TYPE_CHECKING, Iterable, Sequence, Union

import numpy as np

from accel.workload import Network, NetworkBuilder, Tensor, WorkloadError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "OPS", "EDGES", "N_ARCHS", "DATASETS", "Arch", "NB201Space", "parse_arch", "arch_str", "as_arch",
    "arch_to_index", "index_to_arch", "arch_to_code", "code_to_arch", "to_vector", "from_vector",
    "all_archs", "effective_edges", "output_is_constant", "cell_signature", "build_network", "nb201_accuracy",
    "accuracy_table",
    "accuracies", "canonical_dataset",
]

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
OP_INDEX = {o: i for i, o in enumerate(OPS)}
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))  # (src, dst), string order
N_OPS = len(OPS)
N_EDGES = len(EDGES)
N_NODES = 4
N_ARCHS = N_OPS ** N_EDGES  # 15,625

Arch = tuple[str, ...]  # six op names in EDGES order
ArchLike = Union[Arch, Sequence[str], str, int, np.integer]

# dataset → (table column, classes, input resolution)
DATASETS: dict[str, tuple[str, int, int]] = {
    "cifar10": ("cifar10_test_acc", 10, 32),
    "cifar100": ("cifar100_test_acc", 100, 32),
    "imagenet16": ("imagenet16_120_test_acc", 120, 16),
}
_DATASET_ALIASES = {"cifar10": "cifar10", "cifar-10": "cifar10", "cifar10-valid": "cifar10",
                    "cifar100": "cifar100", "cifar-100": "cifar100",
                    "imagenet16": "imagenet16", "imagenet16-120": "imagenet16", "imagenet16_120": "imagenet16",
                    "imagenet": "imagenet16"}

_TABLE = "nasbench201_accuracy.csv.gz"


class NB201Error(WorkloadInputError):
    """A malformed NAS-Bench-201 architecture, index or dataset name."""


def canonical_dataset(dataset: str) -> str:
    """``cifar10`` | ``cifar100`` | ``imagenet16`` (accepts ImageNet16-120 and similar spellings)."""
    key = str(dataset).strip().lower()
    if key not in _DATASET_ALIASES:
        raise NB201Error(f"unknown dataset {dataset!r} (known: cifar10, cifar100, imagenet16-120)")
    return _DATASET_ALIASES[key]


# ---------------------------------------------------------------------------------------------
# Strings, codes, vectors
# ---------------------------------------------------------------------------------------------
def arch_str(arch: ArchLike) -> str:
    """The standard NAS-Bench-201 arch string."""
    a = as_arch(arch)
    nodes = []
    k = 0
    for j in range(1, N_NODES):
        nodes.append("|" + "|".join(f"{a[k + i]}~{i}" for i in range(j)) + "|")
        k += j
    return "+".join(nodes)


@functools.lru_cache(maxsize=65536)
def parse_arch(s: str) -> Arch:
    """Parse ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (strictly: three nodes, sources in order)."""
    parts = s.strip().split("+")
    if len(parts) != N_NODES - 1:
        raise NB201Error(f"arch string {s!r}: expected {N_NODES - 1} '+'-separated nodes, got {len(parts)}")
    ops: list[str] = []
    for j, node in enumerate(parts, start=1):
        if not (node.startswith("|") and node.endswith("|")):
            raise NB201Error(f"arch string {s!r}: node {j} {node!r} must be enclosed in '|'")
        edges = node[1:-1].split("|")
        if len(edges) != j:
            raise NB201Error(f"arch string {s!r}: node {j} must have {j} inputs, got {len(edges)}")
        for i, e in enumerate(edges):
            op, sep, src = e.partition("~")
            if not sep or src != str(i):
                raise NB201Error(f"arch string {s!r}: node {j} input {i} must read 'op~{i}', got {e!r}")
            if op not in OP_INDEX:
                raise NB201Error(f"arch string {s!r}: unknown op {op!r} (known: {', '.join(OPS)})")
            ops.append(op)
    return tuple(ops)


def as_arch(x: ArchLike) -> Arch:
    """Normalise an arch given as tuple/list of op names, arch string, or official index."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return index_to_arch(int(x))
    if isinstance(x, str):
        return parse_arch(x)
    t = tuple(x)
    if len(t) != N_EDGES or any(o not in OP_INDEX for o in t):
        raise NB201Error(f"an NB201 arch is {N_EDGES} op names from {OPS}, got {x!r}")
    return t  # type: ignore[return-value]


def arch_to_code(arch: ArchLike) -> int:
    """Base-5 code of the op ids (edge 0 most significant)."""
    c = 0
    for o in as_arch(arch):
        c = c * N_OPS + OP_INDEX[o]
    return c


def code_to_arch(code: int) -> Arch:
    if not 0 <= int(code) < N_ARCHS:
        raise NB201Error(f"code must be in [0, {N_ARCHS}), got {code}")
    return _CODE_ARCHS[int(code)]


def _all_by_code() -> tuple[Arch, ...]:
    # base-5 counting with edge 0 most significant is itertools.product's order (computed at import: ~2 ms,
    # a digit loop took ~10)
    return tuple(itertools.product(OPS, repeat=N_EDGES))


_CODE_ARCHS: tuple[Arch, ...] = _all_by_code()


def to_vector(arch: ArchLike) -> np.ndarray:
    """One-hot encoding, shape (30,) = 6 edges × 5 ops flattened edge-major (``OPS`` order)."""
    v = np.zeros((N_EDGES, N_OPS), dtype=np.float32)
    for e, o in enumerate(as_arch(arch)):
        v[e, OP_INDEX[o]] = 1.0
    return v.reshape(-1)


def to_vectors(archs: Iterable[ArchLike]) -> np.ndarray:
    """Stacked one-hot encodings, shape (n, 30)."""
    codes = np.array([arch_to_code(a) for a in archs], dtype=np.int64)
    return _ONEHOT_BY_CODE[codes]


def from_vector(v: np.ndarray) -> Arch:
    """Inverse of :func:`to_vector` (argmax per edge; accepts (30,) or (6, 5) scores)."""
    a = np.asarray(v, dtype=float)
    if a.size != N_EDGES * N_OPS:
        raise NB201Error(f"expected {N_EDGES * N_OPS} values, got {a.size}")
    return tuple(OPS[int(i)] for i in a.reshape(N_EDGES, N_OPS).argmax(axis=1))


def _onehot_by_code() -> np.ndarray:
    # op id of every edge of every code (the base-5 digits, edge 0 most significant), vectorised: computed at import
    digits = np.arange(N_ARCHS, dtype=np.int64)[:, None] // N_OPS ** np.arange(N_EDGES - 1, -1, -1) % N_OPS
    oh = np.zeros((N_ARCHS, N_EDGES, N_OPS), dtype=np.float32)
    oh[np.arange(N_ARCHS)[:, None], np.arange(N_EDGES)[None, :], digits] = 1.0
    return oh.reshape(N_ARCHS, -1)


_ONEHOT_BY_CODE = _onehot_by_code()


# ---------------------------------------------------------------------------------------------
# The benchmark table: official index ↔ arch, accuracies
# ---------------------------------------------------------------------------------------------
@functools.cache
def _table() -> pd.DataFrame:
    import pandas as pd  # not at import: `accelsim eval` of a zoo network imports this module, not the table

    data = importlib.resources.files("nas").joinpath("data", _TABLE).read_bytes()
    df = pd.read_csv(io.BytesIO(data), compression="gzip")
    if len(df) != N_ARCHS or not np.array_equal(df["index"].to_numpy(), np.arange(N_ARCHS)):
        raise RuntimeError(f"{_TABLE}: expected rows for indices 0..{N_ARCHS - 1}")
    return df


def accuracy_table() -> pd.DataFrame:
    """The shipped NAS-Bench-201 table (a copy): index, arch, cifar10/cifar100/imagenet16_120 test acc (%)."""
    return _table().copy()


@functools.cache
def _index_maps() -> tuple[np.ndarray, np.ndarray]:
    """(code_of_index, index_of_code) permutation arrays."""
    df = _table()
    code_of_index = np.array([arch_to_code(parse_arch(s)) for s in df["arch"]], dtype=np.int64)
    if len(np.unique(code_of_index)) != N_ARCHS:
        raise RuntimeError(f"{_TABLE}: arch strings are not a permutation of the space")
    index_of_code = np.empty(N_ARCHS, dtype=np.int64)
    index_of_code[code_of_index] = np.arange(N_ARCHS)
    return code_of_index, index_of_code


def arch_to_index(arch: ArchLike) -> int:
    """Official NAS-Bench-201 / NATS-Bench index of an arch."""
    if isinstance(arch, (int, np.integer)) and not isinstance(arch, bool):
        return _check_index(int(arch))
    return int(_index_maps()[1][arch_to_code(arch)])


def index_to_arch(index: int) -> Arch:
    return _CODE_ARCHS[int(_index_maps()[0][_check_index(index)])]


def codes_of_indices(indices: np.ndarray) -> np.ndarray:
    return _index_maps()[0][np.asarray(indices, dtype=np.int64)]


def indices_of_codes(codes: np.ndarray) -> np.ndarray:
    return _index_maps()[1][np.asarray(codes, dtype=np.int64)]


def _check_index(index: int) -> int:
    if not 0 <= index < N_ARCHS:
        raise NB201Error(f"NB201 index must be in [0, {N_ARCHS}), got {index}")
    return index


@functools.cache
def _arch_strings() -> np.ndarray:
    arr = _table()["arch"].to_numpy(dtype=object).copy()
    arr.setflags(write=False)
    return arr


def arch_strings() -> np.ndarray:
    """Arch strings of all archs by official index (read-only object array)."""
    return _arch_strings()


def all_archs() -> list[Arch]:
    """All 15,625 archs in official index order."""
    return [_CODE_ARCHS[c] for c in _index_maps()[0]]


@functools.cache
def _acc_array(dataset: str) -> np.ndarray:
    arr = _table()[DATASETS[dataset][0]].to_numpy(dtype=float).copy()
    arr.setflags(write=False)
    return arr


def accuracies(dataset: str = "cifar10") -> np.ndarray:
    """Test accuracy (%) of every arch, indexed by official index (read-only array)."""
    return _acc_array(canonical_dataset(dataset))


def nb201_accuracy(arch_or_index: ArchLike, dataset: str = "cifar10") -> float:
    """Accuracy oracle: NAS-Bench-201 test accuracy (%, 200 epochs, mean over seeds) from the table."""
    return float(accuracies(dataset)[arch_to_index(arch_or_index)])


# ---------------------------------------------------------------------------------------------
# Cell structure
# ---------------------------------------------------------------------------------------------
def effective_edges(arch: ArchLike, prune: bool = False) -> tuple[tuple[int, int, str], ...]:
    """The edges ``(src, dst, op)`` that cost anything, in string order: every non-``none`` edge, or with
    ``prune=True`` only those on an input→output path (see the module docstring)."""
    a = as_arch(arch)
    live = [(i, j, o) for (i, j), o in zip(EDGES, a) if o != "none"]
    if not prune:
        return tuple(live)
    fwd = {0}
    for j in range(1, N_NODES):
        if any(i in fwd for i, jj, _ in live if jj == j):
            fwd.add(j)
    bwd = {N_NODES - 1}
    for i in range(N_NODES - 2, -1, -1):
        if any(j in bwd for ii, j, _ in live if ii == i):
            bwd.add(i)
    return tuple(e for e in live if e[0] in fwd and e[1] in bwd)


def output_is_constant(arch: ArchLike) -> bool:
    """True when no path of non-``none`` edges leads from the cell input to its output: the cell (and the whole
    network, every cell being the same) outputs a constant (module docstring, ``prune``)."""
    return not effective_edges(arch, prune=True)


@functools.lru_cache(maxsize=None)
def _signature(arch: Arch, prune: bool) -> tuple[int, int, int, int]:
    edges = effective_edges(arch, prune)
    n1 = sum(1 for *_, o in edges if o == "nor_conv_1x1")
    n3 = sum(1 for *_, o in edges if o == "nor_conv_3x3")
    npool = sum(1 for *_, o in edges if o == "avg_pool_3x3")
    indeg = [0] * N_NODES
    for _, j, _ in edges:
        indeg[j] += 1
    nadd = sum(k - 1 for k in indeg if k > 1)
    return n1, n3, npool, nadd


def cell_signature(arch: ArchLike, prune: bool = False) -> tuple[int, int, int, int]:
    """Costed layers of one cell: (#conv1x1, #conv3x3, #avgpool3x3, #add).  All layers of a cell at a
    given stage have the same shape per kind, so this tuple fixes the cell's cost completely."""
    return _signature(as_arch(arch), prune)


def _cell(b: NetworkBuilder, x: Tensor, arch: Arch, name: str, prune: bool) -> Tensor:
    n, c, h, w = x.shape
    nodes: dict[int, Tensor | None] = {0: x}  # None: identically zero
    edges = effective_edges(arch, prune)
    for j in range(1, N_NODES):
        terms: list[Tensor] = []
        for i, jj, op in edges:
            if jj != j:
                continue
            src = nodes[i]
            if src is None:  # only with prune=False: an op applied to a zero node, input is a constant
                src = Tensor(None, x.shape)
            tag = f"{name}.e{i}{j}"
            if op == "skip_connect":
                terms.append(src)
            elif op == "nor_conv_1x1":
                terms.append(b.conv(src, c, kernel=1, name=f"{tag}.conv1x1"))
            elif op == "nor_conv_3x3":
                terms.append(b.conv(src, c, kernel=3, padding=1, name=f"{tag}.conv3x3"))
            elif op == "avg_pool_3x3":
                terms.append(b.pool(src, "avg", 3, stride=1, padding=1, name=f"{tag}.avgpool3x3"))
            else:  # pragma: no cover - effective_edges never yields none
                raise WorkloadError(f"unexpected op {op!r}")
        if not terms:
            nodes[j] = None
            continue
        acc = terms[0]
        for m, t in enumerate(terms[1:], start=1):
            acc = b.add(acc, t, name=f"{name}.n{j}.add{m}")
        nodes[j] = acc
    out = nodes[N_NODES - 1]
    return out if out is not None else Tensor(None, x.shape)


def _resblock(b: NetworkBuilder, x: Tensor, planes: int, name: str) -> Tensor:
    """NAS-Bench-201 ``ResNetBasicblock(inplanes, planes, stride=2)``."""
    y = b.conv(x, planes, kernel=3, stride=2, padding=1, name=f"{name}.conv_a")
    y = b.conv(y, planes, kernel=3, stride=1, padding=1, name=f"{name}.conv_b")
    s = b.pool(x, "avg", 2, stride=2, name=f"{name}.downsample.pool")
    s = b.conv(s, planes, kernel=1, name=f"{name}.downsample.conv")
    return b.add(s, y, name=f"{name}.add")


def build_network(arch: ArchLike, dataset: str = "cifar10", batch: int = 1, channels: int = 16,
                  cells_per_stage: int = 5, prune: bool = False) -> Network:
    """The NAS-Bench-201 network of ``arch`` as an accelsim :class:`~accel.workload.Network`.

    ``dataset``: cifar10 (32×32, 10 classes), cifar100 (32×32, 100), imagenet16 / ImageNet16-120 (16×16,
    120).  The all-``nor_conv_3x3`` cell gives 220.1 M MACs on CIFAR-10 and the all-``none`` cell 7.78 M,
    the FLOPs range NAS-Bench-201 reports.  ``prune``: drop dead cell edges, and every layer when the cell
    has no live input→output path (:func:`output_is_constant`: the output is a constant, the network has no
    layers; module docstring; default False: every non-``none`` edge is costed, as eager frameworks execute
    them).
    """
    a = as_arch(arch)
    ds = canonical_dataset(dataset)
    _, classes, res = DATASETS[ds]
    if batch < 1:
        raise WorkloadError(f"batch must be >= 1, got {batch}")
    b = NetworkBuilder(f"nb201[{arch_str(a)}]-{ds}")
    x = b.input(batch, 3, res, res)
    if prune and output_is_constant(a):  # constant output: nothing depends on the input, nothing is executed
        return b.build()
    c = channels
    x = b.conv(x, c, kernel=3, padding=1, name="stem")
    for stage in range(3):
        if stage:
            c *= 2
            x = _resblock(b, x, c, name=f"reduce{stage}")
        for k in range(cells_per_stage):
            x = _cell(b, x, a, f"stage{stage + 1}.cell{k}", prune)
    x = b.global_avgpool(x, name="gap")
    b.linear(b.flatten(x), classes, name="classifier")
    return b.build()


# ---------------------------------------------------------------------------------------------
# The space object used by nas.search
# ---------------------------------------------------------------------------------------------
class NB201Space:
    """NAS-Bench-201 cell space for the search strategies in :mod:`nas.search`.

    Archs are tuples of six op names; every method taking an arch also accepts an arch string or an
    official index.  Randomness comes only from the ``numpy.random.Generator`` passed in.
    """

    name = "nasbench201"
    ops = OPS
    edges = EDGES

    def __len__(self) -> int:
        return N_ARCHS

    # -- search operators -------------------------------------------------------------------------
    def sample(self, rng: np.random.Generator) -> Arch:
        """Uniform random arch."""
        return tuple(OPS[int(i)] for i in rng.integers(0, N_OPS, N_EDGES))

    def mutate(self, arch: ArchLike, rng: np.random.Generator) -> Arch:
        """Change the op of one uniformly chosen edge to a different, uniformly chosen op."""
        a = list(as_arch(arch))
        e = int(rng.integers(N_EDGES))
        cur = OP_INDEX[a[e]]
        new = int(rng.integers(N_OPS - 1))
        a[e] = OPS[new + (new >= cur)]
        return tuple(a)

    def crossover(self, a: ArchLike, b: ArchLike, rng: np.random.Generator) -> Arch:
        """Uniform crossover: each edge's op from ``a`` or ``b`` with probability 1/2."""
        pa, pb = as_arch(a), as_arch(b)
        take = rng.random(N_EDGES) < 0.5
        return tuple(x if t else y for x, y, t in zip(pa, pb, take))

    # -- encodings -------------------------------------------------------------------------------
    def encode(self, arch: ArchLike) -> str:
        return arch_str(arch)

    def decode(self, s: str) -> Arch:
        return parse_arch(s)

    def to_vector(self, arch: ArchLike) -> np.ndarray:
        return to_vector(arch)

    def from_vector(self, v: np.ndarray) -> Arch:
        return from_vector(v)

    def index(self, arch: ArchLike) -> int:
        return arch_to_index(arch)

    def arch(self, index: int) -> Arch:
        return index_to_arch(index)

    def enumerate(self) -> list[Arch]:
        """All archs in official index order."""
        return all_archs()

    def __iter__(self):
        return iter(all_archs())

    def build_network(self, arch: ArchLike, dataset: str = "cifar10", batch: int = 1, prune: bool = False) -> Network:
        return build_network(arch, dataset, batch, prune=prune)

    def accuracy(self, arch: ArchLike, dataset: str = "cifar10") -> float:
        return nb201_accuracy(arch, dataset)
