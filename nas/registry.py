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
other two datasets), ``darts`` (alias ``nb301``), ``mbconv`` (aliases ``ofa``, ``chanas``), ``fbnet``.
"""

from __future__ import annotations

from accel.errors import WorkloadInputError
import itertools
from typing import Any, Callable

import numpy as np

from nas import nb201
from nas.nb201 import NB201Space

__all__ = ["SPACES", "ALIASES", "SpecError", "NB201SearchSpace", "get_space", "parse_spec", "network_from_spec",
           "space_names"]


class SpecError(WorkloadInputError):
    """An unknown space name or a malformed ``SPACE:ENCODING`` string."""


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

    def build_network(self, arch, dataset: str | None = None, batch: int = 1):
        return nb201.build_network(arch, dataset or self.dataset, batch)

    def build_torch(self, arch, prune: bool = True):
        """See :func:`nas.nb201_torch.build_nb201_torch` (``prune=False``: every non-none edge, as trained)."""
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


def _fbnet():
    from nas.fbnet import FBNetSpace

    return FBNetSpace()


SPACES: dict[str, Callable[[], Any]] = {
    "nb201": lambda: NB201SearchSpace("cifar10"),
    "nb201_cifar100": lambda: NB201SearchSpace("cifar100"),
    "nb201_imagenet16": lambda: NB201SearchSpace("imagenet16"),
    "darts": _darts,
    "mbconv": _mbconv,
    "fbnet": _fbnet,
}
ALIASES: dict[str, str] = {"nasbench201": "nb201", "nb301": "darts", "nasbench301": "darts", "ofa": "mbconv",
                           "chanas": "mbconv"}


def space_names() -> list[str]:
    """Registered space names (aliases excluded)."""
    return list(SPACES)


def get_space(name: str):
    """A fresh space object by registered name or alias (case-insensitive)."""
    key = name.strip().lower()
    key = ALIASES.get(key, key)
    if key not in SPACES:
        raise SpecError(f"unknown search space {name!r} (known: {', '.join(SPACES)}; aliases: "
                        f"{', '.join(f'{a}={t}' for a, t in ALIASES.items())})")
    return SPACES[key]()


def parse_spec(spec: str) -> tuple[Any, Any]:
    """``SPACE:ENCODING`` → (space object, arch)."""
    name, sep, encoding = spec.partition(":")
    if not sep:
        raise SpecError(f"{spec!r}: expected SPACE:ENCODING (spaces: {', '.join(SPACES)})")
    space = get_space(name)
    if not encoding.strip():
        raise SpecError(f"{spec!r}: empty encoding; a {space.name} arch is {space.spec_help}")
    return space, space.decode(encoding)


def network_from_spec(spec: str, batch: int = 1):
    """The accelsim :class:`~accel.workload.Network` of ``SPACE:ENCODING``, e.g.
    ``nb201:|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|``.
    Raises :class:`SpecError` / the space's ``ValueError`` subclass / ``WorkloadError`` on bad input."""
    space, arch = parse_spec(spec)
    return space.build_network(arch, batch=batch)
