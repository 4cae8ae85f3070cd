"""The MBConv / once-for-all MobileNetV3 space as used by CHaNAS.

The super-net (Cai et al., "Once-for-All", ICLR 2020, ``OFAMobileNetV3``; CHaNAS, Zhang et al., §3.3 and
§4.1) is a single-path chain: a 3×3/2 stem conv (16 channels, h-swish), a fixed first MBConv (3×3
depthwise, expansion 1, 16 channels, residual), then **5 stages** of **2–4 MBConv units** each with
output widths 24, 40, 80, 112, 160 and first-unit strides 2, 2, 2, 1, 2; then a 1×1 conv to 960, global
average pool, a 1×1 "feature mix" conv to 1280 (no BN) and the 1000-way classifier.

Per architecture the searchable choices are

* input resolution ∈ {160, 176, 192, 208, 224} and width multiplier ∈ {1.0, 1.1, 1.2, 1.3} (CHaNAS'
  ``In_size`` and ``Md_E``; every width above is ``make_divisible(width × base, 8)``);
* per stage the depth ∈ {2, 3, 4} (only the first units are kept, as in OFA);
* per unit the depthwise kernel ∈ {3, 5, 7}, the expansion ratio ∈ {3, 4, 6} (hidden width
  ``make_divisible(round(C_in × e), 8)``) and whether the unit has a squeeze-excite module (squeeze width
  ``make_divisible(hidden // 4, 8)``; OFA fixes SE per stage, here it is a per-unit choice).

A unit is 1×1 expand → k×k depthwise (stride on the first unit of a stage) → optional SE → 1×1 linear
projection, plus a residual add when stride is 1 and widths match (:func:`accel.zoo._inverted_residual`,
the same construction as the zoo's MobileNets).  Activations (ReLU in the first two stages, h-swish after)
and BN are fused in the accelsim network.

Encoding: ``r224-w1.0-k3e4.k5e6-k7e3s.k3e3s.k5e4s-...`` — resolution, width, then one ``-``-separated
group per stage of ``.``-separated units ``k{kernel}e{expansion}`` with a trailing ``s`` for SE.
"""

from __future__ import annotations

from accel.errors import WorkloadInputError
import itertools
import math
import re
from dataclasses import dataclass

import numpy as np

from accel.workload import Network, NetworkBuilder, WorkloadError
from accel.zoo import _inverted_residual, _make_divisible

__all__ = ["MBConvArch", "MBConvSpace", "MBConvCifarSpace", "build_network", "build_torch", "parse_arch", "arch_str",
           "parse_cifar_arch", "cifar_arch_str"]

KERNELS: tuple[int, ...] = (3, 5, 7)
EXPANDS: tuple[int, ...] = (3, 4, 6)
DEPTHS: tuple[int, ...] = (2, 3, 4)
RESOLUTIONS: tuple[int, ...] = (160, 176, 192, 208, 224)
WIDTHS: tuple[float, ...] = (1.0, 1.1, 1.2, 1.3)
STAGE_WIDTHS: tuple[int, ...] = (24, 40, 80, 112, 160)
STAGE_STRIDES: tuple[int, ...] = (2, 2, 2, 1, 2)
STAGE_HSWISH: tuple[bool, ...] = (False, False, True, True, True)
N_STAGES = len(STAGE_WIDTHS)
MAX_DEPTH = max(DEPTHS)
STEM_WIDTH, FIRST_BLOCK_WIDTH, FINAL_EXPAND_WIDTH, LAST_WIDTH, CLASSES = 16, 16, 960, 1280, 1000

Unit = tuple[int, int, bool]  # (kernel, expansion, squeeze-excite)


class MBConvError(WorkloadInputError):
    """A malformed MBConv architecture or encoding."""


@dataclass(frozen=True)
class MBConvArch:
    """One sub-network: resolution (pixels), width multiplier, and per stage the kept units."""

    resolution: int
    width: float
    stages: tuple[tuple[Unit, ...], ...]

    @property
    def depths(self) -> tuple[int, ...]:
        return tuple(len(s) for s in self.stages)


def arch_str(a: MBConvArch) -> str:
    stages = [".".join(f"k{k}e{e}{'s' if se else ''}" for k, e, se in st) for st in a.stages]
    return f"r{a.resolution}-w{a.width:.1f}-" + "-".join(stages)


_UNIT = re.compile(r"k(\d+)e(\d+)(s?)")


def parse_arch(s: str) -> MBConvArch:
    """Inverse of :func:`arch_str`; checks values against the full space's choices."""
    parts = s.strip().split("-")
    if len(parts) != 2 + N_STAGES or not parts[0].startswith("r") or not parts[1].startswith("w"):
        raise MBConvError(f"MBConv arch {s!r}: expected 'rRES-wWIDTH-' then {N_STAGES} '-'-separated stages "
                          "of '.'-separated units kKeE[s], e.g. r224-w1.0-k3e4.k5e6-...")
    try:
        res, width = int(parts[0][1:]), float(parts[1][1:])
    except ValueError:
        raise MBConvError(f"MBConv arch {s!r}: bad resolution {parts[0]!r} or width {parts[1]!r}") from None
    stages = []
    for n, group in enumerate(parts[2:], start=1):
        units = []
        for u in group.split("."):
            m = _UNIT.fullmatch(u)
            if not m:
                raise MBConvError(f"MBConv arch {s!r}: stage {n} unit {u!r} is not kKeE[s]")
            units.append((int(m.group(1)), int(m.group(2)), bool(m.group(3))))
        stages.append(tuple(units))
    a = MBConvArch(res, width, tuple(stages))
    MBConvSpace().check(a)
    return a


def as_arch(x) -> MBConvArch:
    return parse_arch(x) if isinstance(x, str) else x


# ---------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------
def _widths(width: float) -> dict[str, object]:
    d = lambda c: _make_divisible(c * width, 8)  # noqa: E731
    return {"stem": d(STEM_WIDTH), "first": d(FIRST_BLOCK_WIDTH), "stages": tuple(d(c) for c in STAGE_WIDTHS),
            "final": d(FINAL_EXPAND_WIDTH), "last": d(LAST_WIDTH)}


def _hidden(c_in: int, e: int) -> int:
    return _make_divisible(round(c_in * e), 8)


def build_network(arch, batch: int = 1) -> Network:
    """The sub-network as an accelsim :class:`~accel.workload.Network` (module docstring)."""
    a = as_arch(arch)
    if batch < 1:
        raise WorkloadError(f"batch must be >= 1, got {batch}")
    w = _widths(a.width)
    b = NetworkBuilder(f"mbconv[{arch_str(a)}]")
    x = b.input(batch, 3, a.resolution, a.resolution)
    x = b.conv(x, w["stem"], kernel=3, stride=2, padding=1, name="first_conv")
    x = _inverted_residual(b, x, x.shape[1], w["first"], 3, 1, "first_block")
    for s, units in enumerate(a.stages):
        for u, (k, e, se) in enumerate(units):
            hidden = _hidden(x.shape[1], e)
            x = _inverted_residual(b, x, hidden, w["stages"][s], k, STAGE_STRIDES[s] if u == 0 else 1,
                                   f"stage{s + 1}.unit{u}", se_squeeze=_make_divisible(hidden // 4, 8) if se else None)
    x = b.conv(x, w["final"], kernel=1, name="final_expand")
    x = b.global_avgpool(x, name="global_pool")
    x = b.conv(x, w["last"], kernel=1, name="feature_mix")
    b.linear(b.flatten(x), CLASSES, name="classifier")
    return b.build()


def build_torch(arch):
    """The sub-network as a torch ``nn.Module`` (OFA ``MobileNetV3`` layout; inputs N×3×r×r)."""
    from torch import nn

    from accel.nn import ConvBNAct, InvertedResidual

    a = as_arch(arch)
    w = _widths(a.width)

    class MobileNetV3(nn.Module):
        def __init__(self):
            super().__init__()
            blocks: list[nn.Module] = [ConvBNAct(3, w["stem"], 3, 2, act=nn.Hardswish),
                                       InvertedResidual(w["stem"], w["stem"], w["first"], 3, 1, act=nn.ReLU)]
            c = w["first"]
            for s, units in enumerate(a.stages):
                act = nn.Hardswish if STAGE_HSWISH[s] else nn.ReLU
                for u, (k, e, se) in enumerate(units):
                    hidden = _hidden(c, e)
                    blocks.append(InvertedResidual(c, hidden, w["stages"][s], k, STAGE_STRIDES[s] if u == 0 else 1,
                                                   act=act, se_squeeze=_make_divisible(hidden // 4, 8) if se else None))
                    c = w["stages"][s]
            blocks.append(ConvBNAct(c, w["final"], 1, act=nn.Hardswish))
            self.features = nn.Sequential(*blocks)
            self.feature_mix = nn.Sequential(nn.Conv2d(w["final"], w["last"], 1, bias=False), nn.Hardswish())
            self.classifier = nn.Linear(w["last"], CLASSES)

        def forward(self, x):
            y = self.features(x).mean(dim=(2, 3), keepdim=True)
            return self.classifier(self.feature_mix(y).flatten(1))

    return MobileNetV3()


# ---------------------------------------------------------------------------------------------
# The space object
# ---------------------------------------------------------------------------------------------
class MBConvSpace:
    """OFA / CHaNAS MBConv sub-networks (module docstring), optionally restricted per choice.

    ``sample``: every choice uniform (SE with probability 1/2).  ``mutate``: one gene — resolution,
    width, a stage's depth (a new unit is drawn at random) or one kept unit's kernel / expansion / SE —
    changes to another allowed value.  ``crossover``: each gene (resolution, width, depth, each unit
    slot) from either parent.  ``to_vector``: one-hot resolution (5) + width (4) + depth per stage (5×3) +
    per unit slot (20) one-hot kernel (3), one-hot expansion (3) and SE (1), zeros for dropped units:
    164 values.
    """

    name = "mbconv"
    finite = False
    spec_help = "rRES-wWIDTH-then 5 stages of units kKeE[s], e.g. r224-w1.0-k3e4.k5e6-..."

    def __init__(self, resolutions: tuple[int, ...] = RESOLUTIONS, widths: tuple[float, ...] = WIDTHS,
                 kernels: tuple[int, ...] = KERNELS, expands: tuple[int, ...] = EXPANDS,
                 depths: tuple[int, ...] = DEPTHS, se: tuple[bool, ...] = (False, True)):
        for name, vals, full in (("resolution", resolutions, RESOLUTIONS), ("width", widths, WIDTHS),
                                 ("kernel", kernels, KERNELS), ("expansion", expands, EXPANDS),
                                 ("depth", depths, DEPTHS), ("se", se, (False, True))):
            if not vals or any(v not in full for v in vals):
                raise MBConvError(f"{name} choices {vals} must be a non-empty subset of {full}")
        self.resolutions, self.widths, self.kernels = tuple(resolutions), tuple(widths), tuple(kernels)
        self.expands, self.depths, self.se = tuple(expands), tuple(depths), tuple(se)

    @property
    def size(self) -> int:
        per_unit = len(self.kernels) * len(self.expands) * len(self.se)
        per_stage = sum(per_unit ** d for d in self.depths)
        return len(self.resolutions) * len(self.widths) * per_stage ** N_STAGES

    @property
    def vector_size(self) -> int:
        return (len(RESOLUTIONS) + len(WIDTHS) + N_STAGES * len(DEPTHS)
                + N_STAGES * MAX_DEPTH * (len(KERNELS) + len(EXPANDS) + 1))

    def check(self, a: MBConvArch) -> None:
        """Raise :class:`MBConvError` unless every choice of ``a`` is allowed in this space."""
        if a.resolution not in self.resolutions:
            raise MBConvError(f"resolution {a.resolution} not in {self.resolutions}")
        if not any(math.isclose(a.width, w) for w in self.widths):
            raise MBConvError(f"width {a.width} not in {self.widths}")
        if len(a.stages) != N_STAGES:
            raise MBConvError(f"expected {N_STAGES} stages, got {len(a.stages)}")
        for n, st in enumerate(a.stages, start=1):
            if len(st) not in self.depths:
                raise MBConvError(f"stage {n}: depth {len(st)} not in {self.depths}")
            for k, e, se in st:
                if k not in self.kernels or e not in self.expands or se not in self.se:
                    raise MBConvError(f"stage {n}: unit k{k}e{e}{'s' if se else ''} not allowed (kernels "
                                      f"{self.kernels}, expansions {self.expands}, se {self.se})")

    def contains(self, a: MBConvArch) -> bool:
        try:
            self.check(a)
        except MBConvError:
            return False
        return True

    # -- search operators ---------------------------------------------------------------------------
    def _unit(self, rng: np.random.Generator) -> Unit:
        return (self.kernels[int(rng.integers(len(self.kernels)))], self.expands[int(rng.integers(len(self.expands)))],
                self.se[int(rng.integers(len(self.se)))])

    def sample(self, rng: np.random.Generator) -> MBConvArch:
        res = self.resolutions[int(rng.integers(len(self.resolutions)))]
        width = self.widths[int(rng.integers(len(self.widths)))]
        stages = []
        for _ in range(N_STAGES):
            d = self.depths[int(rng.integers(len(self.depths)))]
            stages.append(tuple(self._unit(rng) for _ in range(d)))
        return MBConvArch(res, width, tuple(stages))

    @staticmethod
    def _other(vals: tuple, cur, rng: np.random.Generator):
        rest = [v for v in vals if v != cur]
        return rest[int(rng.integers(len(rest)))] if rest else cur

    def mutate(self, a, rng: np.random.Generator) -> MBConvArch:
        a = as_arch(a)
        genes: list[tuple] = [("res",), ("width",)] + [("depth", s) for s in range(N_STAGES)]
        genes += [(f, s, u) for s, st in enumerate(a.stages) for u in range(len(st)) for f in ("k", "e", "se")]
        g = genes[int(rng.integers(len(genes)))]
        stages = [list(st) for st in a.stages]
        res, width = a.resolution, a.width
        if g[0] == "res":
            res = self._other(self.resolutions, res, rng)
        elif g[0] == "width":
            width = self._other(self.widths, width, rng)
        elif g[0] == "depth":
            s = g[1]
            d = self._other(self.depths, len(stages[s]), rng)
            stages[s] = stages[s][:d] + [self._unit(rng) for _ in range(d - len(stages[s]))]
        else:
            f, s, u = g
            k, e, se = stages[s][u]
            if f == "k":
                k = self._other(self.kernels, k, rng)
            elif f == "e":
                e = self._other(self.expands, e, rng)
            else:
                se = self._other(self.se, se, rng)
            stages[s][u] = (k, e, se)
        return MBConvArch(res, width, tuple(tuple(st) for st in stages))

    def crossover(self, a, b, rng: np.random.Generator) -> MBConvArch:
        a, b = as_arch(a), as_arch(b)
        take = rng.random(2 + N_STAGES * (1 + MAX_DEPTH)) < 0.5
        res = a.resolution if take[0] else b.resolution
        width = a.width if take[1] else b.width
        stages = []
        for s in range(N_STAGES):
            t = take[2 + s * (1 + MAX_DEPTH):2 + (s + 1) * (1 + MAX_DEPTH)]
            sa, sb = a.stages[s], b.stages[s]
            d = len(sa) if t[0] else len(sb)
            units = []
            for u in range(d):
                if u < len(sa) and u < len(sb):
                    units.append(sa[u] if t[1 + u] else sb[u])
                else:
                    units.append(sa[u] if u < len(sa) else sb[u])
            stages.append(tuple(units))
        return MBConvArch(res, width, tuple(stages))

    # -- encodings -----------------------------------------------------------------------------------
    def encode(self, a) -> str:
        return arch_str(as_arch(a))

    def decode(self, s: str) -> MBConvArch:
        return parse_arch(s)

    def to_vector(self, a) -> np.ndarray:
        a = as_arch(a)
        parts = [np.eye(len(RESOLUTIONS))[RESOLUTIONS.index(a.resolution)],
                 np.eye(len(WIDTHS))[[math.isclose(a.width, w) for w in WIDTHS].index(True)]]
        for st in a.stages:
            parts.append(np.eye(len(DEPTHS))[DEPTHS.index(len(st))])
        for st in a.stages:
            for u in range(MAX_DEPTH):
                slot = np.zeros(len(KERNELS) + len(EXPANDS) + 1)
                if u < len(st):
                    k, e, se = st[u]
                    slot[KERNELS.index(k)] = 1.0
                    slot[len(KERNELS) + EXPANDS.index(e)] = 1.0
                    slot[-1] = float(se)
                parts.append(slot)
        return np.concatenate(parts).astype(np.float32)

    def from_vector(self, v: np.ndarray) -> MBConvArch:
        x = np.asarray(v, dtype=float)
        if x.size != self.vector_size:
            raise MBConvError(f"expected {self.vector_size} values, got {x.size}")
        pos = 0

        def take(n: int) -> np.ndarray:
            nonlocal pos
            out = x[pos:pos + n]
            pos += n
            return out

        res = RESOLUTIONS[int(take(len(RESOLUTIONS)).argmax())]
        width = WIDTHS[int(take(len(WIDTHS)).argmax())]
        depths = [DEPTHS[int(take(len(DEPTHS)).argmax())] for _ in range(N_STAGES)]
        stages = []
        for s in range(N_STAGES):
            units = []
            for u in range(MAX_DEPTH):
                slot = take(len(KERNELS) + len(EXPANDS) + 1)
                if u < depths[s]:
                    units.append((KERNELS[int(slot[:len(KERNELS)].argmax())],
                                  EXPANDS[int(slot[len(KERNELS):-1].argmax())], bool(slot[-1] > 0.5)))
            stages.append(tuple(units))
        return MBConvArch(res, width, tuple(stages))

    def enumerate(self):
        raise MBConvError(f"the MBConv space has {self.size:.3g} sub-networks: it cannot be enumerated")

    # -- networks ------------------------------------------------------------------------------------
    def input_shape(self, a, batch: int = 1) -> tuple[int, int, int, int]:
        r = as_arch(a).resolution
        return (batch, 3, r, r)

    def build_network(self, a, batch: int = 1) -> Network:
        return build_network(a, batch)

    def build_torch(self, a):
        return build_torch(a)

    # -- sub-spaces ----------------------------------------------------------------------------------
    def subspaces(self) -> dict[str, "MBConvSpace"]:
        """CHaNAS §3.6 division: one sub-space per (input resolution, width multiplier), 5 × 4 = 20."""
        return {f"r{r}-w{w:.1f}": MBConvSpace((r,), (w,), self.kernels, self.expands, self.depths, self.se)
                for r, w in itertools.product(self.resolutions, self.widths)}


# ---------------------------------------------------------------------------------------------
# The small CIFAR MBConv space ("mbconv_cifar": the cross-check's tunable-in-minutes networks)
# ---------------------------------------------------------------------------------------------
# (output channels, stride) per block at 32×32, after a 3×3 stride-1 stem to 16 channels; then a 1×1 conv to
# 256, global average pool and a 10-way classifier.  Blocks: 1×1 expand (C_in × e) → k×k depthwise → 1×1
# project, ReLU6, residual when stride 1 and widths match.
CIFAR_SKELETON: tuple[tuple[int, int], ...] = ((24, 1), (32, 2), (32, 1), (64, 2), (64, 1), (96, 1))
CIFAR_EXPANDS: tuple[int, ...] = (3, 4, 6)
CIFAR_KERNELS: tuple[int, ...] = (3, 5, 7)
CIFAR_STEM, CIFAR_HEAD, CIFAR_RES, CIFAR_CLASSES = 16, 256, 32, 10

CifarArch = tuple[tuple[int, int], ...]  # (expansion, kernel) per block


def parse_cifar_arch(s: str) -> CifarArch:
    """``"e3k3-e6k5-..."`` (one ``e{expansion}k{kernel}`` token per block of :data:`CIFAR_SKELETON`) →
    ((expansion, kernel), ...)."""
    toks = s.strip().split("-")
    if len(toks) != len(CIFAR_SKELETON):
        raise MBConvError(f"mbconv_cifar arch {s!r}: expected {len(CIFAR_SKELETON)} blocks like 'e6k3' joined by "
                          f"'-', got {len(toks)}")
    out = []
    for t in toks:
        m = re.fullmatch(r"e(\d+)k(\d+)", t.strip().lower())
        if not m or int(m.group(1)) not in CIFAR_EXPANDS or int(m.group(2)) not in CIFAR_KERNELS:
            raise MBConvError(f"mbconv_cifar arch {s!r}: bad block {t!r} (expansion in {CIFAR_EXPANDS}, kernel in "
                              f"{CIFAR_KERNELS}, e.g. 'e6k3')")
        out.append((int(m.group(1)), int(m.group(2))))
    return tuple(out)


def cifar_arch_str(a: CifarArch) -> str:
    return "-".join(f"e{e}k{k}" for e, k in a)


def _as_cifar(x) -> CifarArch:
    return parse_cifar_arch(x) if isinstance(x, str) else parse_cifar_arch(cifar_arch_str(x))


class MBConvCifarSpace:
    """The six-block CIFAR MBConv space (registry name ``mbconv_cifar``): per block an expansion ratio and a
    depthwise kernel from the OFA / CHaNAS unit choices, on a fixed 32×32 skeleton (see
    :data:`CIFAR_SKELETON`) — small enough to MetaSchedule-tune and measure within minutes on a CPU.

    ``sample``: per block, expansion then kernel, each uniform (``rng.choice``).  ``mutate``: one block's
    expansion or kernel changes.  ``crossover``: each block from either parent.  ``to_vector``: per block
    one-hot expansion (3) + one-hot kernel (3), 36 values.  Treated as non-enumerable (9^6 archs):
    :func:`nas.registry.sample_architectures` draws from ``sample``.
    """

    name = "mbconv_cifar"
    finite = False
    spec_help = (f"{len(CIFAR_SKELETON)} blocks e{{expansion}}k{{kernel}} joined by '-', expansion in {CIFAR_EXPANDS}, "
                 f"kernel in {CIFAR_KERNELS}, e.g. e3k3-e6k5-e4k7-e3k3-e6k3-e4k5")

    @property
    def size(self) -> int:
        return (len(CIFAR_EXPANDS) * len(CIFAR_KERNELS)) ** len(CIFAR_SKELETON)

    @property
    def vector_size(self) -> int:
        return len(CIFAR_SKELETON) * (len(CIFAR_EXPANDS) + len(CIFAR_KERNELS))

    def contains(self, a) -> bool:
        try:
            _as_cifar(a)
        except MBConvError:
            return False
        return True

    def sample(self, rng: np.random.Generator) -> CifarArch:
        return tuple((int(rng.choice(CIFAR_EXPANDS)), int(rng.choice(CIFAR_KERNELS))) for _ in CIFAR_SKELETON)

    def mutate(self, a, rng: np.random.Generator) -> CifarArch:
        out = [list(b) for b in _as_cifar(a)]
        i, f = int(rng.integers(len(out))), int(rng.integers(2))
        out[i][f] = MBConvSpace._other(CIFAR_EXPANDS if f == 0 else CIFAR_KERNELS, out[i][f], rng)
        return tuple((e, k) for e, k in out)

    def crossover(self, a, b, rng: np.random.Generator) -> CifarArch:
        take = rng.random(len(CIFAR_SKELETON)) < 0.5
        return tuple(x if t else y for x, y, t in zip(_as_cifar(a), _as_cifar(b), take))

    def encode(self, a) -> str:
        return cifar_arch_str(_as_cifar(a))

    def decode(self, s: str) -> CifarArch:
        return parse_cifar_arch(s)

    def to_vector(self, a) -> np.ndarray:
        eye_e, eye_k = np.eye(len(CIFAR_EXPANDS)), np.eye(len(CIFAR_KERNELS))
        return np.concatenate([np.concatenate([eye_e[CIFAR_EXPANDS.index(e)], eye_k[CIFAR_KERNELS.index(k)]])
                               for e, k in _as_cifar(a)]).astype(np.float32)

    def from_vector(self, v: np.ndarray) -> CifarArch:
        x = np.asarray(v, dtype=float)
        if x.size != self.vector_size:
            raise MBConvError(f"expected {self.vector_size} values, got {x.size}")
        x = x.reshape(len(CIFAR_SKELETON), -1)
        ne = len(CIFAR_EXPANDS)
        return tuple((CIFAR_EXPANDS[int(r[:ne].argmax())], CIFAR_KERNELS[int(r[ne:].argmax())]) for r in x)

    def enumerate(self):
        raise MBConvError(f"the mbconv_cifar space has {self.size} archs: sample it instead of enumerating")

    def input_shape(self, a=None, batch: int = 1) -> tuple[int, int, int, int]:
        return (batch, 3, CIFAR_RES, CIFAR_RES)

    def build_network(self, a, batch: int = 1) -> Network:
        """The accelsim :class:`~accel.workload.Network` (BN and ReLU6 fused, as the ONNX importer does)."""
        blocks = _as_cifar(a)
        if batch < 1:
            raise WorkloadError(f"batch must be >= 1, got {batch}")
        b = NetworkBuilder(f"mbconv_cifar[{cifar_arch_str(blocks)}]")
        x = b.input(batch, 3, CIFAR_RES, CIFAR_RES)
        x = b.conv(x, CIFAR_STEM, kernel=3, padding=1, name="stem")
        for i, ((c_out, stride), (e, k)) in enumerate(zip(CIFAR_SKELETON, blocks)):
            x = _inverted_residual(b, x, x.shape[1] * e, c_out, k, stride, f"block{i}")
        x = b.conv(x, CIFAR_HEAD, kernel=1, name="head")
        x = b.global_avgpool(x, name="pool")
        b.linear(b.flatten(x), CIFAR_CLASSES, name="classifier")
        return b.build()

    def build_torch(self, a):
        """The network as a torch ``nn.Module`` (:class:`accel.nn.InvertedResidual` blocks, ReLU6)."""
        import torch
        from torch import nn

        from accel.nn import ConvBNAct, InvertedResidual

        blocks = _as_cifar(a)

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                layers, c = [ConvBNAct(3, CIFAR_STEM, 3, act=nn.ReLU6)], CIFAR_STEM
                for (c_out, stride), (e, k) in zip(CIFAR_SKELETON, blocks):
                    layers.append(InvertedResidual(c, c * e, c_out, k, stride, act=nn.ReLU6))
                    c = c_out
                layers.append(ConvBNAct(c, CIFAR_HEAD, 1, act=nn.ReLU6))
                self.features = nn.Sequential(*layers)
                self.pool = nn.AdaptiveAvgPool2d(1)
                self.classifier = nn.Linear(CIFAR_HEAD, CIFAR_CLASSES)

            def forward(self, x):
                return self.classifier(torch.flatten(self.pool(self.features(x)), 1))

        return Net()

    def subspaces(self) -> dict[str, "MBConvCifarSpace"]:
        """No restricted sub-spaces (BBSSP profiling treats the whole space as one)."""
        return {"all": self}
