"""The FBNet layer-wise space (Wu et al., "FBNet: Hardware-Aware Efficient ConvNet Design via
Differentiable Neural Architecture Search", CVPR 2019).

Macro architecture (paper Table 1, ImageNet 224×224): 3×3/2 conv to 16, then 22 searchable layers
("TBS") in 7 stages of (output width, layers, first stride) = (16, 1, 1), (24, 4, 2), (32, 4, 2),
(64, 4, 2), (112, 4, 1), (184, 4, 2), (352, 1, 1); then a 1×1 conv to 1984, global average pool and the
1000-way FC.  Each searchable layer picks one of 9 blocks (paper Table 2)::

    k3_e1  k3_e1_g2  k3_e3  k3_e6  k5_e1  k5_e1_g2  k5_e3  k5_e6  skip

A ``kK_eE[_g2]`` block is the inverted-residual ``IRFBlock`` of the FBNet builder
(``maskrcnn-benchmark`` / ``mobile-vision`` ``fbnet_builder.py``): 1×1 (group) conv to E × C_in
channels → channel shuffle if grouped (free) → K×K depthwise with the layer's stride → 1×1 (group) conv
to the output width, plus a residual add when stride is 1 and widths match.  The expansion conv is
present even for E = 1.  ``skip`` is the builder's ``Identity``: nothing when the input already has the
output shape, else a 1×1 conv (with the stride) to the output width.  BN/ReLU are fused in accelsim.

Encoding: the block names joined by ``-`` (e.g. ``k3_e1-k3_e6-skip-...``), one per searchable layer.

:class:`FBNetSpace` is the one FBNet space class: the registry's ``fbnet`` (the ImageNet space above, default
arguments) and the joint search's scaled / CIFAR variants (:meth:`FBNetSpace.cifar`, Auto-NBA's CIFAR setting:
stem stride 1, stage strides (1, 1, 2, 2, 1, 2, 1), 1504-channel head, 10 classes).  ``width_mult`` scales
every channel count (rounded to a multiple of 4, so both halves of a group-2 conv stay whole),
``max_depth`` keeps the first layers of each stage and ``num_stages`` the first stages.  Layer names:
``stem``, ``L{l}.pw`` / ``.dw`` / ``.pwl`` / ``.add`` / ``.skip_conv`` for searchable layer ``l``, ``head``,
``pool``, ``fc``.
"""

from __future__ import annotations

from accel.errors import WorkloadInputError
import itertools
import math
from dataclasses import dataclass

import numpy as np

from accel.workload import Layer, Network, NetworkBuilder, Tensor, WorkloadError

__all__ = ["OPS", "OP_SPECS", "OpSpec", "SlotSpec", "FBNetSpace", "build_network", "build_torch", "parse_arch",
           "arch_str", "LAYERS", "IMAGENET_STRIDES", "CIFAR_STRIDES", "CIFAR_HEAD"]

OPS: tuple[str, ...] = ("k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip")
OP_INDEX = {o: i for i, o in enumerate(OPS)}
STAGES: tuple[tuple[int, int, int], ...] = ((16, 1, 1), (24, 4, 2), (32, 4, 2), (64, 4, 2), (112, 4, 1),
                                            (184, 4, 2), (352, 1, 1))
# (output width, stride) of each of the 22 searchable layers
LAYERS: tuple[tuple[int, int], ...] = tuple((c, s if i == 0 else 1) for c, n, s in STAGES for i in range(n))
N_LAYERS = len(LAYERS)
STEM_WIDTH, LAST_WIDTH, CLASSES, RESOLUTION = 16, 1984, 1000, 224
IMAGENET_STRIDES: tuple[int, ...] = (2,) + tuple(st for _, _, st in STAGES)  # stem, then the 7 stages (Table 1)
CIFAR_STRIDES: tuple[int, ...] = (1, 1, 1, 2, 2, 1, 2, 1)  # Auto-NBA's CIFAR setting
CIFAR_HEAD = 1504

Arch = tuple[str, ...]


class FBNetError(WorkloadInputError):
    """A malformed FBNet architecture."""


def block_params(op: str) -> tuple[int, int, int] | None:
    """(kernel, expansion, groups) of a block; None for ``skip``."""
    if op == "skip":
        return None
    parts = op.split("_")
    return int(parts[0][1:]), int(parts[1][1:]), (int(parts[2][1:]) if len(parts) > 2 else 1)


def arch_str(a: Arch) -> str:
    """The encoding of an arch of the (full, ImageNet) FBNet space."""
    return FBNetSpace().encode(a)


def parse_arch(s: str) -> Arch:
    return FBNetSpace().decode(s)


def as_arch(x) -> Arch:
    return FBNetSpace().as_arch(x)


def _block(b: NetworkBuilder, x: Tensor, op: str, c_out: int, stride: int, name: str) -> Tensor:
    c_in = x.shape[1]
    p = block_params(op)
    if p is None:
        if c_in == c_out and stride == 1:
            return x
        return b.conv(x, c_out, kernel=1, stride=stride, name=f"{name}.skip_conv")
    k, e, g = p
    mid = c_in * e
    y = b.conv(x, mid, kernel=1, groups=g, name=f"{name}.pw")
    y = b.conv(y, mid, kernel=k, stride=stride, padding=k // 2, groups=mid, name=f"{name}.dw")
    y = b.conv(y, c_out, kernel=1, groups=g, name=f"{name}.pwl")
    if stride == 1 and c_in == c_out:
        y = b.add(y, x, name=f"{name}.add")
    return y


def build_network(arch, batch: int = 1, resolution: int = RESOLUTION) -> Network:
    """The ImageNet FBNet network of ``arch`` as an accelsim :class:`~accel.workload.Network` (module docstring)."""
    return FBNetSpace(resolution=resolution).build_network(arch, batch)


def build_torch(arch):
    """The ImageNet FBNet network of ``arch`` as a torch ``nn.Module`` (inputs N×3×224×224)."""
    return FBNetSpace().build_torch(arch)


@dataclass(frozen=True)
class OpSpec:
    """One candidate block of a searchable layer (``kernel`` = ``expansion`` = 0 for skip)."""

    name: str
    kernel: int = 0
    expansion: int = 0
    groups: int = 1

    @property
    def is_skip(self) -> bool:
        return self.name == "skip"


OP_SPECS: tuple[OpSpec, ...] = tuple(OpSpec(n, *(block_params(n) or (0, 0, 1))) for n in OPS)


def _round_channels(c: float, divisor: int = 4) -> int:
    return max(divisor, int(round(c / divisor)) * divisor)


@dataclass(frozen=True)
class SlotSpec:
    """A searchable layer: its input/output channels, stride and input resolution (H = W)."""

    index: int
    stage: int
    c_in: int
    c_out: int
    stride: int
    in_size: int

    @property
    def out_size(self) -> int:
        return (self.in_size - 1) // self.stride + 1

    def residual(self, op: OpSpec | None = None) -> bool:
        """True when a block here adds its input (stride 1 and C_in = C_out; the identity skip included)."""
        return self.stride == 1 and self.c_in == self.c_out


KERNEL_SETS: dict[str, tuple[int, ...]] = {"k3": (3,), "k5": (5,), "k3+k5": (3, 5)}
EXPANSION_SETS: dict[str, tuple[int, ...]] = {"e1": (1,), "e1+e3": (1, 3), "e3+e6": (3, 6), "e1+e3+e6": (1, 3, 6)}


@dataclass(frozen=True)
class FBNetSpace:
    """The FBNet space (module docstring): the registry's ImageNet space by default, scaled / CIFAR variants
    for the joint search (:meth:`cifar`), optionally restricted to a subset ``ops`` of the 9 blocks.

    Registry interface (an arch is a tuple of block names, one per searchable layer): ``sample`` — each
    layer's block uniform; ``mutate`` — one layer's block changes; ``crossover`` — each layer from either
    parent; ``to_vector`` — layers × 9 one-hot.  Joint-search interface: ``slots``, ``add_stem`` /
    ``add_block`` / ``add_head``, ``block_layers``, ``fixed_layers``; ``build_network`` also takes block
    indices into :data:`OPS`.  ``resolution``: input H = W in pixels.
    """

    ops: tuple[str, ...] = OPS
    width_mult: float = 1.0
    max_depth: int | None = None
    num_stages: int | None = None
    resolution: int = RESOLUTION
    num_classes: int = CLASSES
    strides: tuple[int, ...] = IMAGENET_STRIDES
    head: int = LAST_WIDTH

    name = "fbnet"
    finite = False

    def __post_init__(self) -> None:
        bad = [o for o in self.ops if o not in OP_INDEX]
        if bad or not self.ops:
            raise FBNetError(f"unknown FBNet blocks {bad} (known: {', '.join(OPS)})")
        object.__setattr__(self, "ops", tuple(o for o in OPS if o in self.ops))
        if self.width_mult <= 0:
            raise FBNetError(f"width_mult must be > 0, got {self.width_mult}")
        if self.max_depth is not None and self.max_depth < 1:
            raise FBNetError(f"max_depth must be >= 1, got {self.max_depth}")
        if self.num_stages is not None and not 1 <= self.num_stages <= len(STAGES):
            raise FBNetError(f"num_stages must be in 1..{len(STAGES)}, got {self.num_stages}")
        if self.resolution < 8:
            raise FBNetError(f"resolution must be >= 8 pixels, got {self.resolution}")
        if self.num_classes < 2:
            raise FBNetError(f"num_classes must be >= 2, got {self.num_classes}")
        if len(self.strides) != len(STAGES) + 1:
            raise FBNetError(f"strides needs {len(STAGES) + 1} entries (stem + stages)")

    @classmethod
    def cifar(cls, width_mult: float = 1.0, max_depth: int | None = None, num_stages: int | None = None,
              resolution: int = 32, num_classes: int = 10) -> "FBNetSpace":
        """Auto-NBA's CIFAR setting (module docstring), optionally scaled down for CI-sized runs."""
        return cls(OPS, width_mult, max_depth, num_stages, resolution, num_classes, CIFAR_STRIDES, CIFAR_HEAD)

    # -- skeleton --------------------------------------------------------------------------------------
    @property
    def spec_help(self) -> str:
        return f"{self.n_slots} blocks joined by '-' from {', '.join(self.ops)}"

    @property
    def stem_channels(self) -> int:
        return _round_channels(STEM_WIDTH * self.width_mult)

    @property
    def head_channels(self) -> int:
        return _round_channels(self.head * self.width_mult)

    @property
    def stem_out_size(self) -> int:
        return (self.resolution - 1) // self.strides[0] + 1

    @property
    def slots(self) -> tuple[SlotSpec, ...]:
        out = []
        c_in, size = self.stem_channels, self.stem_out_size
        for s, (c, depth, _) in enumerate(STAGES[:self.num_stages]):
            c_out = _round_channels(c * self.width_mult)
            for i in range(depth if self.max_depth is None else min(depth, self.max_depth)):
                stride = self.strides[s + 1] if i == 0 else 1
                out.append(SlotSpec(len(out), s, c_in, c_out, stride, size))
                size = (size - 1) // stride + 1
                c_in = c_out
        return tuple(out)

    @property
    def n_slots(self) -> int:
        return len(self.slots)

    @property
    def final_size(self) -> int:
        return self.slots[-1].out_size

    def describe(self) -> str:
        return (f"FBNet space: {self.n_slots} searchable layers x {len(self.ops)} ops, width x{self.width_mult:g}, "
                f"{self.resolution}x{self.resolution} input, {self.num_classes} classes")

    def log10_size(self) -> float:
        """log10 of the number of architectures (ops ** layers)."""
        return self.n_slots * math.log10(len(self.ops))

    # -- architectures ---------------------------------------------------------------------------------
    def as_arch(self, a) -> Arch:
        """A canonical arch (tuple of block names) from an encoding string, block names or indices into
        :data:`OPS`; checks the length and the allowed blocks."""
        if isinstance(a, str):
            a = a.strip().split("-")
        a = tuple(OPS[int(o)] if isinstance(o, (int, np.integer)) and 0 <= int(o) < len(OPS) else o for o in a)
        n = self.n_slots
        if len(a) != n:
            raise FBNetError(f"an FBNet arch of this space has {n} blocks joined by '-', got {len(a)}")
        for i, o in enumerate(a):
            if o not in self.ops:
                raise FBNetError(f"layer {i}: unknown or excluded block {o!r} (allowed: {', '.join(self.ops)})")
        return a

    @property
    def size(self) -> int:
        return len(self.ops) ** self.n_slots

    @property
    def vector_size(self) -> int:
        return self.n_slots * len(OPS)

    def contains(self, a) -> bool:
        try:
            self.as_arch(a)
        except FBNetError:
            return False
        return True

    def sample(self, rng: np.random.Generator) -> Arch:
        return tuple(self.ops[int(i)] for i in rng.integers(0, len(self.ops), self.n_slots))

    def mutate(self, a, rng: np.random.Generator) -> Arch:
        out = list(a)
        i = int(rng.integers(len(out)))
        if len(self.ops) > 1:
            cur = self.ops.index(out[i]) if out[i] in self.ops else -1
            choices = [o for j, o in enumerate(self.ops) if j != cur]
            out[i] = choices[int(rng.integers(len(choices)))]
        return tuple(out)

    def crossover(self, a, b, rng: np.random.Generator) -> Arch:
        take = rng.random(self.n_slots) < 0.5
        return tuple(x if t else y for x, y, t in zip(a, b, take))

    def encode(self, a) -> str:
        return "-".join(self.as_arch(a))

    def decode(self, s: str) -> Arch:
        return self.as_arch(s)

    def to_vector(self, a) -> np.ndarray:
        v = np.zeros((self.n_slots, len(OPS)), dtype=np.float32)
        for i, o in enumerate(a):
            v[i, OP_INDEX[o]] = 1.0
        return v.reshape(-1)

    def from_vector(self, v: np.ndarray) -> Arch:
        x = np.asarray(v, dtype=float)
        if x.size != self.vector_size:
            raise FBNetError(f"expected {self.vector_size} values, got {x.size}")
        return tuple(OPS[int(i)] for i in x.reshape(self.n_slots, len(OPS)).argmax(axis=1))

    def enumerate(self):
        raise FBNetError(f"the FBNet space has {self.size:.3g} archs: it cannot be enumerated")

    def subspaces(self) -> dict[str, "FBNetSpace"]:
        """Kernel set × expansion family (grouped e1 blocks count as e1), skip always allowed: 3 × 4 = 12."""
        from dataclasses import replace

        out = {}
        for (kn, ks), (en, es) in itertools.product(KERNEL_SETS.items(), EXPANSION_SETS.items()):
            ops = tuple(o for o in OPS if o == "skip" or (block_params(o)[0] in ks and block_params(o)[1] in es))
            out[f"{kn}/{en}"] = replace(self, ops=ops)
        return out

    # -- accelsim networks -----------------------------------------------------------------------------
    def input_shape(self, a=None, batch: int = 1) -> tuple[int, int, int, int]:
        return (batch, 3, self.resolution, self.resolution)

    def add_stem(self, b: NetworkBuilder, x: Tensor) -> Tensor:
        return b.conv(x, self.stem_channels, 3, self.strides[0], 1, name="stem")

    def add_block(self, b: NetworkBuilder, x: Tensor, slot: SlotSpec, op: OpSpec | str, prefix: str) -> Tensor:
        """The accelsim layers of block ``op`` at ``slot`` (:func:`_block`; conv + BN + ReLU are one conv
        layer, as the ONNX importer fuses them), named ``prefix.<part>``."""
        return _block(b, x, op if isinstance(op, str) else op.name, slot.c_out, slot.stride, prefix)

    def add_head(self, b: NetworkBuilder, x: Tensor) -> Tensor:
        y = b.conv(x, self.head_channels, 1, 1, 0, name="head")
        y = b.global_avgpool(y, name="pool")
        return b.linear(NetworkBuilder.flatten(y), self.num_classes, name="fc")

    def build_network(self, a, batch: int = 1, name: str | None = None) -> Network:
        """The accelsim :class:`Network` of one architecture (block names or indices into :data:`OPS`)."""
        arch = self.as_arch(a)
        if batch < 1:
            raise WorkloadError(f"batch must be >= 1, got {batch}")
        b = NetworkBuilder(name or f"fbnet[{'-'.join(arch)}]")
        x = self.add_stem(b, b.input(batch, 3, self.resolution, self.resolution))
        for slot, op in zip(self.slots, arch):
            x = self.add_block(b, x, slot, op, f"L{slot.index}")
        self.add_head(b, x)
        return b.build()

    def block_layers(self, slot: SlotSpec, op: OpSpec | str, batch: int = 1) -> list[Layer]:
        """The costed layers of one (slot, block) choice (empty for an identity skip)."""
        opname = op if isinstance(op, str) else op.name
        b = NetworkBuilder(f"L{slot.index}.{opname}")
        self.add_block(b, b.input(batch, slot.c_in, slot.in_size, slot.in_size), slot, opname, f"L{slot.index}")
        return b.build().layers

    def fixed_layers(self, batch: int = 1) -> list[Layer]:
        """The layers every architecture has: stem, head conv, global pool and classifier."""
        b = NetworkBuilder("fixed")
        self.add_stem(b, b.input(batch, 3, self.resolution, self.resolution))
        self.add_head(b, b.input(batch, self.slots[-1].c_out, self.final_size, self.final_size))
        return b.build().layers

    def macs(self, a) -> int:
        return self.build_network(a).macs

    def build_torch(self, a):
        """The network as a torch ``nn.Module`` (feed it ``input_shape()``): :class:`accel.nn.InvertedResidual`
        blocks with the expansion conv always present, skip = identity or a 1×1 ConvBNAct."""
        from torch import nn

        from accel.nn import ConvBNAct, InvertedResidual

        arch, slots = self.as_arch(a), self.slots
        head_in, head, classes = slots[-1].c_out, self.head_channels, self.num_classes
        blocks: list[nn.Module] = [ConvBNAct(3, self.stem_channels, 3, self.strides[0])]
        for slot, op in zip(slots, arch):
            p = block_params(op)
            if p is None:
                blocks.append(nn.Identity() if slot.residual() else ConvBNAct(slot.c_in, slot.c_out, 1, slot.stride))
            else:
                k, e, g = p
                blocks.append(InvertedResidual(slot.c_in, slot.c_in * e, slot.c_out, k, slot.stride, groups=g,
                                               always_expand=True))
        blocks.append(ConvBNAct(head_in, head, 1))

        class FBNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.features = nn.Sequential(*blocks)
                self.fc = nn.Linear(head, classes)

            def forward(self, x):
                return self.fc(self.features(x).mean(dim=(2, 3)))

        return FBNet()
