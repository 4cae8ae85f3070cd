"""Search-space registry: ``SPACE:ENCODING`` strings → space objects, archs and accelsim networks.

Every registered space object offers the same interface (used by :mod:`nas.search`,
:mod:`nas.profiling`, the proxies, the predictor and the CLI):

* ``name``; ``finite`` (enumerable in practice); ``size`` (number of archs); ``vector_size``;
* ``sample(rng)``, ``mutate(arch, rng)``, ``crossover(a, b, rng)`` (randomness only from the
  ``numpy.random.Generator`` passed in);
* ``encode(arch) -> str`` / ``decode(str) -> arch`` (canonical; ``decode`` raises a ``ValueError``
  subclass naming what is wrong); ``to_vector(arch)`` (fixed length ``vector_size``) / ``from_vector``;
* ``enumerate()`` (finite spaces; others raise ``ValueError``); ``contains(arch)``;
* ``build_network(arch, batch=1)`` → :class:`accel.workload.Network`; ``build_torch(arch)`` → CPU
  ``nn.Module`` with the same convolutions (torch imported only there); ``input_shape(arch, batch)``;
* ``subspaces()`` → ``{name: restricted space}`` for BBSSP profiling / CHaNAS CDF division.

Registered names: ``nb201`` (NAS-Bench-201 on CIFAR-10; ``nb201_cifar100``, ``nb201_imagenet16`` for the
other two datasets), ``darts`` (alias ``nb301``), ``mbconv`` (the OFA / CHaNAS ImageNet space; aliases
``ofa``, ``chanas``), ``mbconv_cifar`` (the six-block CIFAR MBConv networks of the cross-check), ``fbnet``.

This module also holds the two entry points every command uses:

* :func:`resolve_network` — the one network-string resolver (zoo names with their options as
  ``NAME?KEY=VALUE&...``, e.g. ``gpt2?phase=decode&context=1024`` (:mod:`accel.zoo_transformer`), ``.onnx`` files,
  ``SPACE:ENCODING`` of every registered space, ``layer:<spec>``); :func:`parse_network_spec` validates
  and classifies a string without building anything.
* :func:`sample_architectures` — the one ``--sample N --seed S`` sampler.
* :func:`space_network` — an arch's network with the ``--prune-dead`` execution semantics applied.

Dead branches (``prune_dead``, the ``--prune-dead`` option of every command): whether the dead edges of a
NAS-Bench-201 cell execute is a property of the runtime (:mod:`nas.nb201` module docstring).  Default False
(frameworks execute them: every non-``none`` edge is costed); True removes them as a compiler would.  The
other spaces build no dead branches (DARTS concatenates every intermediate node, MBConv / FBNet are chains),
so the option does not change their networks.
"""

from __future__ import annotations

from accel.errors import WorkloadInputError
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np

from nas import nb201
from nas.nb201 import NB201Space

__all__ = ["SPACES", "ALIASES", "SpecError", "UnknownNetworkError", "NB201SearchSpace", "NetworkSpec", "get_space",
           "parse_spec", "space_names", "canonical_space_name", "parse_network_spec",
           "resolve_network", "sample_architectures", "sample_specs", "space_network", "prunes_dead"]


class SpecError(WorkloadInputError):
    """An unknown space name, a malformed ``SPACE:ENCODING`` string or any network string that cannot be
    resolved; the message names the string."""


class UnknownNetworkError(SpecError):
    """A network string that is neither a zoo name, a file, ``SPACE:ENCODING`` nor ``layer:<spec>``."""


_OP_ABBREV = {"none": "none", "skip_connect": "skip", "nor_conv_1x1": "c1", "nor_conv_3x3": "c3",
              "avg_pool_3x3": "pool"}


class NB201SearchSpace(NB201Space):
    """:class:`nas.nb201.NB201Space` with the registry interface: a dataset, an optional op subset (the
    sub-spaces of BBSSP profiling), torch models and fixed-size metadata.

    With all five ops, ``sample``/``mutate``/``crossover`` draw exactly what ``NB201Space`` draws for
    the same generator state.
    """

    name = "nb201"
    finite = True
    spec_help = "an NAS-Bench-201 arch string |op~0|+|op~0|op~1|+|op~0|op~1|op~2| or an index 0..15624"

    def __init__(self, dataset: str = "cifar10", ops: tuple[str, ...] = nb201.OPS):
        self.dataset = nb201.canonical_dataset(dataset)
        bad = [o for o in ops if o not in nb201.OP_INDEX]
        if bad or not ops:
            raise nb201.NB201Error(f"unknown NB201 ops {bad} (known: {', '.join(nb201.OPS)})")
        self.ops = tuple(o for o in nb201.OPS if o in ops)

    def __len__(self) -> int:
        return len(self.ops) ** nb201.N_EDGES

    @property
    def size(self) -> int:
        return len(self)

    @property
    def vector_size(self) -> int:
        return nb201.N_EDGES * nb201.N_OPS

    def contains(self, arch) -> bool:
        return all(o in self.ops for o in nb201.as_arch(arch))

    def sample(self, rng: np.random.Generator) -> nb201.Arch:
        return tuple(self.ops[int(i)] for i in rng.integers(0, len(self.ops), nb201.N_EDGES))

    def mutate(self, arch, rng: np.random.Generator) -> nb201.Arch:
        """Change the op of one uniformly chosen edge to a different allowed op."""
        a = list(nb201.as_arch(arch))
        e = int(rng.integers(nb201.N_EDGES))
        if len(self.ops) > 1:
            cur = self.ops.index(a[e]) if a[e] in self.ops else len(self.ops)
            new = int(rng.integers(len(self.ops) - (cur < len(self.ops))))
            a[e] = self.ops[new + (new >= cur)]
        return tuple(a)

    def decode(self, s: str) -> nb201.Arch:
        """An arch string, or an official index given as digits."""
        s = s.strip()
        return nb201.index_to_arch(int(s)) if s.isdigit() else nb201.parse_arch(s)

    def enumerate(self) -> list[nb201.Arch]:
        """All archs of the (sub-)space; the full space in official index order."""
        if len(self.ops) == nb201.N_OPS:
            return nb201.all_archs()
        return [tuple(p) for p in itertools.product(self.ops, repeat=nb201.N_EDGES)]

    def __iter__(self):
        return iter(self.enumerate())

    def input_shape(self, arch=None, batch: int = 1) -> tuple[int, int, int, int]:
        res = nb201.DATASETS[self.dataset][2]
        return (batch, 3, res, res)

    def build_network(self, arch, dataset: str | None = None, batch: int = 1, prune: bool = False):
        """:func:`nas.nb201.build_network` (``prune=True``: dead cell edges removed; default: all costed)."""
        return nb201.build_network(arch, dataset or self.dataset, batch, prune=prune)

    def build_torch(self, arch, prune: bool = False):
        """See :func:`nas.nb201_torch.build_nb201_torch` (``prune=False``, the default: every non-none edge, as
        trained and as eager PyTorch runs it; ``prune=True``: dead edges left out)."""
        from nas.nb201_torch import build_nb201_torch

        return build_nb201_torch(arch, self.dataset, prune=prune)

    def accuracy(self, arch, dataset: str | None = None) -> float:
        return nb201.nb201_accuracy(arch, dataset or self.dataset)

    def subspaces(self) -> dict[str, "NB201SearchSpace"]:
        """BBSSP candidate sub-spaces: every op subset of at least two ops with at least one convolution."""
        out = {}
        for r in range(2, len(self.ops) + 1):
            for ops in itertools.combinations(self.ops, r):
                if "nor_conv_1x1" in ops or "nor_conv_3x3" in ops:
                    out["{" + ",".join(_OP_ABBREV[o] for o in ops) + "}"] = NB201SearchSpace(self.dataset, ops)
        return out


def _darts():
    from nas.darts import DartsSpace

    return DartsSpace()


def _mbconv():
    from nas.mbconv import MBConvSpace

    return MBConvSpace()


def _mbconv_cifar():
    from nas.mbconv import MBConvCifarSpace

    return MBConvCifarSpace()


def _fbnet():
    from nas.fbnet import FBNetSpace

    return FBNetSpace()


SPACES: dict[str, Callable[[], Any]] = {
    "nb201": lambda: NB201SearchSpace("cifar10"),
    "nb201_cifar100": lambda: NB201SearchSpace("cifar100"),
    "nb201_imagenet16": lambda: NB201SearchSpace("imagenet16"),
    "darts": _darts,
    "mbconv": _mbconv,
    "mbconv_cifar": _mbconv_cifar,
    "fbnet": _fbnet,
}
ALIASES: dict[str, str] = {"nasbench201": "nb201", "nb301": "darts", "nasbench301": "darts", "ofa": "mbconv",
                           "chanas": "mbconv"}


def space_names() -> list[str]:
    """Registered space names (aliases excluded)."""
    return list(SPACES)


def canonical_space_name(name: str) -> str:
    """The registered name of ``name`` (a name or alias, case-insensitive); :class:`SpecError` if unknown."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in SPACES:
        raise SpecError(f"unknown search space {name!r} (known: {', '.join(SPACES)}; aliases: "
                        f"{', '.join(f'{a}={t}' for a, t in ALIASES.items())})")
    return key


def get_space(name: str):
    """A fresh space object by registered name or alias (case-insensitive)."""
    return SPACES[canonical_space_name(name)]()


def parse_spec(spec: str) -> tuple[Any, Any]:
    """``SPACE:ENCODING`` → (space object, arch)."""
    name, sep, encoding = spec.partition(":")
    if not sep:
        raise SpecError(f"{spec!r}: expected SPACE:ENCODING (spaces: {', '.join(SPACES)})")
    space = get_space(name)
    if not encoding.strip():
        raise SpecError(f"{spec!r}: empty encoding; a {space.name} arch is {space.spec_help}")
    return space, space.decode(encoding)


# ---------------------------------------------------------------------------------------------
# The one network-string resolver
# ---------------------------------------------------------------------------------------------
NETWORK_FORMS = ("a zoo network ({zoo}), an .onnx file, SPACE:ENCODING (spaces: {spaces}; e.g. nb201:<arch string "
                 "or index 0..15624>, darts:DARTS_V2) or layer:<spec> (accelsim map --layer syntax)")


@dataclass(frozen=True)
class NetworkSpec:
    """A validated network string.  ``kind``: ``zoo`` (``ref`` = zoo key), ``onnx`` (``ref`` = the path as
    given), ``space`` (``space`` = registered space name, ``ref`` = canonical encoding) or ``layer``
    (``ref`` = the layer spec, whitespace-normalised).  ``label`` is the canonical string: resolving it
    again gives the same network."""

    kind: Literal["zoo", "onnx", "space", "layer"]
    ref: str
    space: str | None = None

    @property
    def label(self) -> str:
        if self.kind == "space":
            return f"{self.space}:{self.ref}"
        return f"layer:{self.ref}" if self.kind == "layer" else self.ref


def _forms() -> str:
    from accel.zoo import list_networks

    return NETWORK_FORMS.format(zoo=", ".join(list_networks()), spaces=", ".join(SPACES))


def _is_file(p: Path) -> bool:
    """``p.is_file()``, False for strings no file system accepts as a name (too long, NUL bytes)."""
    try:
        return p.is_file()
    except (OSError, ValueError):
        return False


def _check_onnx_file(spec: str, p: Path) -> None:
    """Refuse a missing file, a directory, or a file that cannot be an ONNX ``ModelProto`` (whose first byte,
    the ``ir_version`` field tag, is 0x08), before the importer parses it."""
    try:
        is_dir = p.is_dir()
    except (OSError, ValueError):
        is_dir = False
    if is_dir:
        raise SpecError(f"{spec!r}: not an ONNX model: it is a directory")
    if not _is_file(p):
        raise SpecError(f"{spec!r}: no such ONNX file")
    with open(p, "rb") as fh:
        head = fh.read(1)
    if head != b"\x08":
        raise SpecError(f"{spec!r}: not an ONNX model: the file is not a valid ONNX protobuf "
                        f"({'empty file' if not head else f'first byte 0x{head[0]:02x}, expected 0x08'})")


def parse_network_spec(spec: str, *, check_files: bool = True) -> NetworkSpec:
    """Validate and classify a network string without building the network (module docstring; in order:
    ``layer:<spec>``, an ``.onnx`` path or an existing file, ``SPACE:ENCODING`` of a registered space or
    alias, a zoo name).  ``check_files=False`` skips opening ONNX files.  Raises :class:`SpecError` (a
    :class:`~accel.errors.WorkloadInputError`) naming the string and the rule."""
    from accel.workload import parse_layer_spec
    from accel.zoo import list_networks

    if not isinstance(spec, str) or not spec.strip():
        raise UnknownNetworkError(f"empty network string {spec!r}: expected {_forms()}")
    s = spec.strip()
    head, sep, rest = s.partition(":")
    if sep and head.strip().lower() == "layer":
        try:
            parse_layer_spec(rest)
        except WorkloadInputError as e:
            raise SpecError(f"{spec!r}: {e}") from None
        return NetworkSpec("layer", " ".join(rest.split()))
    p = Path(s)
    if p.suffix.lower() == ".onnx" or _is_file(p):
        if check_files:
            _check_onnx_file(spec, p)
        return NetworkSpec("onnx", s)
    if sep and head.strip().lower() in {**SPACES, **ALIASES}:
        name = canonical_space_name(head)
        space = SPACES[name]()
        if not rest.strip():
            raise SpecError(f"{spec!r}: empty encoding; a {name} arch is {space.spec_help}")
        try:
            arch = space.decode(rest)
        except (ValueError, KeyError) as e:
            raise SpecError(f"{spec!r}: {e}") from None
        return NetworkSpec("space", space.encode(arch), name)
    if sep and head.strip().isidentifier():
        raise UnknownNetworkError(f"{spec!r}: unknown search space {head!r} (known: {', '.join(SPACES)}; aliases: "
                                  f"{', '.join(f'{a}={t}' for a, t in ALIASES.items())})")
    name, q, query = s.partition("?")
    key = name.strip().lower().replace("-", "_")
    if key in list_networks():
        if not q:
            return NetworkSpec("zoo", key)
        from accel.zoo import get_network, parse_network_options  # NAME?phase=decode&context=1024

        try:
            opts = parse_network_options(key, query)
            get_network(key, batch=1, **opts)  # values checked now (milliseconds), not when a worker builds it
        except WorkloadInputError as e:
            raise SpecError(f"{spec!r}: {e}") from None
        return NetworkSpec("zoo", key + ("?" + "&".join(f"{k}={v}" for k, v in sorted(opts.items())) if opts else ""))
    raise UnknownNetworkError(f"unknown network {spec!r}: expected {_forms()}")


def prunes_dead(space) -> bool:
    """Whether ``prune_dead`` can change ``space``'s networks (only NAS-Bench-201 cells have dead edges)."""
    return isinstance(space, NB201SearchSpace)


def space_network(space, arch, batch: int = 1, prune_dead: bool = False):
    """``space.build_network(arch, batch=batch)`` with the ``prune_dead`` execution semantics (module docstring):
    NB201 cells with their dead edges removed when True, every edge costed when False (the default); other
    spaces have no dead branches and ignore it."""
    if prunes_dead(space):
        return space.build_network(arch, batch=batch, prune=bool(prune_dead))
    return space.build_network(arch, batch=batch)


def resolve_network(spec: str, batch: int, *, input_shapes: dict[str, tuple[int, ...]] | None = None,
                    fuse: bool = True, allow_unsupported: bool = False, prune_dead: bool = False):
    """The accelsim :class:`~accel.workload.Network` of a network string at ``batch`` — the one resolver
    behind ``accelsim eval``, sweep workloads, ``xcheck``, ``rankcorr``, ``codesign`` and the NAS commands.

    Forms (checked by :func:`parse_network_spec`): a zoo name (:mod:`accel.zoo`), with its options as
    ``NAME?KEY=VALUE&...`` (``gpt2?phase=decode&context=1024``, ``bert_base?seq=512``: :mod:`accel.zoo_transformer`); an ``.onnx`` file
    (:func:`accel.onnx_import.load_onnx_network` with ``input_shapes``, ``fuse``, ``allow_unsupported``;
    the result carries ``import_report``); ``SPACE:ENCODING`` of any registered space (``nb201:<arch string
    or index>``, ``darts:DARTS_V2``, ``fbnet:...``, ``mbconv:`` = the OFA / CHaNAS space of
    :mod:`nas.mbconv`, ``mbconv_cifar:`` = the cross-check's CIFAR MBConv space); ``layer:<spec>`` (one layer,
    ``accelsim map --layer`` syntax, its N multiplied by ``batch``).  ``prune_dead``: remove dead NB201 cell
    edges (module docstring; default False: every edge is costed, as frameworks run them).  Every error is a
    :class:`~accel.errors.WorkloadInputError` naming the string."""
    import networkx as nx

    from accel.workload import Network, WorkloadError, parse_layer_spec

    ns = parse_network_spec(spec)
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise SpecError(f"{spec!r}: batch must be an integer >= 1, got {batch!r}")
    try:
        if ns.kind == "zoo":
            from accel.zoo import get_network, parse_network_options

            name, _, query = ns.ref.partition("?")
            return get_network(name, batch=int(batch), **(parse_network_options(name, query) if query else {}))
        if ns.kind == "onnx":
            try:
                from accel.onnx_import import load_onnx_network
            except ImportError:
                raise SpecError(f"{spec!r}: ONNX import needs the 'onnx' extra (pip install 'accelsim[onnx]')") from None
            return load_onnx_network(ns.ref, batch=batch, input_shapes=input_shapes, fuse=fuse,
                                     allow_unsupported=allow_unsupported)
        if ns.kind == "layer":
            layer = parse_layer_spec(ns.ref, name="layer")
            g = nx.DiGraph()
            g.add_node(layer.name, layer=layer)
            return Network(ns.label, g, (layer.N, layer.C * layer.G, *layer.input_hw)).with_batch(batch)
        space = SPACES[ns.space]()
        return space_network(space, space.decode(ns.ref), int(batch), prune_dead)
    except SpecError:
        raise
    except WorkloadError as e:
        msg = str(e)
        raise SpecError(msg if ns.kind == "onnx" else f"{spec!r}: {msg}") from None


# ---------------------------------------------------------------------------------------------
# The one sampler
# ---------------------------------------------------------------------------------------------
def sample_architectures(space, n: int, seed: int) -> list:
    """``n`` distinct architectures of ``space`` (a registered name / alias or a space object), drawn with
    ``numpy.random.Generator(PCG64(seed))`` — the sampler behind every ``--sample N --seed S``.

    Finite spaces (NAS-Bench-201): ``rng.choice(size, n, replace=False)`` indexes :meth:`enumerate` (the
    official index order for NB201, so ``nb201`` draws official indices uniformly without replacement); with
    ``n == size`` every arch is returned in enumeration order.  Other spaces: ``space.sample(rng)`` repeated,
    duplicates skipped, until ``n`` distinct archs (in draw order).  Raises :class:`SpecError` for ``n < 1``,
    a negative seed, or more archs than the space holds."""
    sp = get_space(space) if isinstance(space, str) else space
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise SpecError(f"sample size must be an integer >= 1, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SpecError(f"sample seed must be an integer >= 0, got {seed!r}")
    if n > sp.size:
        raise SpecError(f"cannot draw {n:,} distinct archs: the {sp.name} space holds {sp.size:,}")
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    if sp.finite:
        archs = sp.enumerate()
        if n == len(archs):
            return list(archs)
        return [archs[int(i)] for i in rng.choice(len(archs), size=int(n), replace=False)]
    seen, out = set(), []
    while len(out) < n:
        a = sp.sample(rng)
        if a not in seen:
            seen.add(a)
            out.append(a)
    return out


def sample_specs(space: str, n: int, seed: int) -> list[str]:
    """:func:`sample_architectures` as ``SPACE:ENCODING`` network strings (``SPACE``: the registered name)."""
    name = canonical_space_name(space)
    sp = SPACES[name]()
    return [f"{name}:{sp.encode(a)}" for a in sample_architectures(sp, n, seed)]
