"""The FBNet search space as the joint search sees it: macro skeleton, the nine candidate operators per
searchable layer, and the accelsim layers of every (layer, operator) choice.  The operator list, stage
table and block builder are :mod:`nas.fbnet`'s (the fixed ImageNet space); this module adds the scaled
and CIFAR variants a CPU search needs and per-layer slots.

FBNet (Wu et al., CVPR 2019, Table 1 and Table 2): a fixed stem (3×3 conv, 16 channels), 22 searchable
layers in 7 stages of (channels, depth) = (16, 1), (24, 4), (32, 4), (64, 4), (112, 4), (184, 4), (352, 1),
a fixed 1×1 head conv (1984 channels; 1504 in Auto-NBA's CIFAR search), global average pooling and a
linear classifier.  Each searchable layer picks one of nine operators:

    k3_e1  k3_e1_g2  k3_e3  k3_e6  k5_e1  k5_e1_g2  k5_e3  k5_e6  skip

``kK_eE[_g2]`` is the FBNet block: 1×1 (group g) conv C_in → E·C_in, BN, ReLU, channel shuffle (g = 2),
K×K depthwise conv with the layer's stride, BN, ReLU, 1×1 (group g) conv E·C_in → C_out, BN, plus the
identity when stride = 1 and C_in = C_out.  ``skip`` is the identity when the shapes allow it, else a 1×1
conv (stride s) + BN + ReLU — the FBNet / Auto-NBA ``Identity`` op (Fu et al., ICML 2021, code release).

CIFAR adaptation (as Auto-NBA's CIFAR search): stem stride 1, stage strides (1, 1, 2, 2, 1, 2, 1) and a
1504-channel head, so a 32×32 input ends at 4×4.  For CI-sized runs ``width_mult`` scales every channel
count (rounded to a multiple of 4, so both halves of a group-2 conv stay whole), ``max_depth`` caps the layers per stage
(the first ``max_depth`` layers of each stage are kept) and ``num_stages`` keeps only the first stages
(``None`` for both keeps all 22 layers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from accel.workload import Layer, Network, NetworkBuilder, Tensor
from nas import fbnet

__all__ = ["OPS", "OpSpec", "SlotSpec", "FBNetSpace", "FBNET_STAGES", "CIFAR_STRIDES", "IMAGENET_STRIDES"]


@dataclass(frozen=True)
class OpSpec:
    """One candidate operator of a searchable layer."""

    name: str
    kernel: int = 0  # 0 for skip
    expansion: int = 0
    groups: int = 1

    @property
    def is_skip(self) -> bool:
        return self.name == "skip"


# the operator list, stage table and widths are nas.fbnet's (FBNet Tables 1 and 2)
OPS: tuple[OpSpec, ...] = tuple(OpSpec(n, *(fbnet.block_params(n) or (0, 0, 1))) for n in fbnet.OPS)
MAX_EXPANSION = max(o.expansion for o in OPS)
MAX_KERNEL = max(o.kernel for o in OPS)

# (channels, depth) per stage; stem 16 channels, head 1984 channels
FBNET_STAGES: tuple[tuple[int, int], ...] = tuple((c, n) for c, n, _ in fbnet.STAGES)
FBNET_STEM = fbnet.STEM_WIDTH
FBNET_HEAD = fbnet.LAST_WIDTH  # ImageNet head; Auto-NBA's CIFAR search uses 1504
CIFAR_HEAD = 1504
IMAGENET_STRIDES = (2,) + tuple(st for _, _, st in fbnet.STAGES)  # stem, then the 7 stages (FBNet Table 1)
CIFAR_STRIDES = (1, 1, 1, 2, 2, 1, 2, 1)  # Auto-NBA's CIFAR setting


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

    def residual(self, op: OpSpec) -> bool:
        """True when the block adds its input (FBNet: stride 1 and C_in = C_out; identity skip included)."""
        return self.stride == 1 and self.c_in == self.c_out


@dataclass(frozen=True)
class FBNetSpace:
    """An FBNet space instance (see the module docstring).  ``resolution``: input H = W in pixels."""

    width_mult: float = 1.0
    max_depth: int | None = None
    num_stages: int | None = None
    resolution: int = 32
    num_classes: int = 10
    strides: tuple[int, ...] = CIFAR_STRIDES
    head: int = CIFAR_HEAD

    def __post_init__(self) -> None:
        if self.width_mult <= 0:
            raise ValueError(f"width_mult must be > 0, got {self.width_mult}")
        if self.max_depth is not None and self.max_depth < 1:
            raise ValueError(f"max_depth must be >= 1, got {self.max_depth}")
        if self.num_stages is not None and not 1 <= self.num_stages <= len(FBNET_STAGES):
            raise ValueError(f"num_stages must be in 1..{len(FBNET_STAGES)}, got {self.num_stages}")
        if self.resolution < 8:
            raise ValueError(f"resolution must be >= 8 pixels, got {self.resolution}")
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")
        if len(self.strides) != len(FBNET_STAGES) + 1:
            raise ValueError(f"strides needs {len(FBNET_STAGES) + 1} entries (stem + stages)")

    @property
    def ops(self) -> tuple[OpSpec, ...]:
        return OPS

    @property
    def stem_channels(self) -> int:
        return _round_channels(FBNET_STEM * self.width_mult)

    @property
    def head_channels(self) -> int:
        return _round_channels(self.head * self.width_mult)

    @property
    def stem_out_size(self) -> int:
        return (self.resolution - 1) // self.strides[0] + 1

    @property
    def slots(self) -> tuple[SlotSpec, ...]:
        out = []
        c_in = self.stem_channels
        size = self.stem_out_size
        for s, (c, depth) in enumerate(FBNET_STAGES[:self.num_stages]):
            c_out = _round_channels(c * self.width_mult)
            n = depth if self.max_depth is None else min(depth, self.max_depth)
            for i in range(n):
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
        return (f"FBNet space: {self.n_slots} searchable layers x {len(OPS)} ops, width x{self.width_mult:g}, "
                f"{self.resolution}x{self.resolution} input, {self.num_classes} classes")

    # -- accelsim networks ----------------------------------------------------------------------
    def add_stem(self, b: NetworkBuilder, x: Tensor) -> Tensor:
        return b.conv(x, self.stem_channels, 3, self.strides[0], 1, name="stem")

    def add_block(self, b: NetworkBuilder, x: Tensor, slot: SlotSpec, op: OpSpec, prefix: str) -> Tensor:
        """The accelsim layers of ``op`` at ``slot`` — :mod:`nas.fbnet`'s block builder (conv + BN + ReLU are
        one conv layer: BN folds and the activation fuses, as the ONNX importer does).  Layer names start
        with ``prefix``: ``.pw``, ``.dw``, ``.pwl``, ``.add``, or ``.skip_conv``."""
        return fbnet._block(b, x, op.name, slot.c_out, slot.stride, prefix)

    def add_head(self, b: NetworkBuilder, x: Tensor) -> Tensor:
        y = b.conv(x, self.head_channels, 1, 1, 0, name="head")
        y = b.global_avgpool(y, name="pool")
        return b.linear(NetworkBuilder.flatten(y), self.num_classes, name="fc")

    def build_network(self, choices: list[int] | tuple[int, ...], batch: int = 1, name: str = "fbnet") -> Network:
        """The accelsim :class:`Network` of one architecture (``choices[l]`` indexes :data:`OPS`).  Layers of
        searchable layer ``l`` are named ``L{l}.<part>``; fixed ones ``stem``, ``head``, ``pool``, ``fc``."""
        if len(choices) != self.n_slots:
            raise ValueError(f"expected {self.n_slots} op choices, got {len(choices)}")
        b = NetworkBuilder(name)
        x = b.input(batch, 3, self.resolution, self.resolution)
        x = self.add_stem(b, x)
        for slot, c in zip(self.slots, choices):
            x = self.add_block(b, x, slot, OPS[int(c)], f"L{slot.index}")
        self.add_head(b, x)
        return b.build()

    def block_layers(self, slot: SlotSpec, op: OpSpec, batch: int = 1) -> list[Layer]:
        """The costed layers of one (slot, op) choice (empty for an identity skip)."""
        b = NetworkBuilder(f"L{slot.index}.{op.name}")
        x = b.input(batch, slot.c_in, slot.in_size, slot.in_size)
        self.add_block(b, x, slot, op, f"L{slot.index}")
        return b.build().layers

    def fixed_layers(self, batch: int = 1) -> list[Layer]:
        """The layers every architecture has: stem, head conv, global pool and classifier."""
        b = NetworkBuilder("fixed")
        self.add_stem(b, b.input(batch, 3, self.resolution, self.resolution))
        self.add_head(b, b.input(batch, self.slots[-1].c_out, self.final_size, self.final_size))
        return b.build().layers

    def macs(self, choices) -> int:
        return self.build_network(choices).macs

    def log10_size(self) -> float:
        """log10 of the number of architectures (9 ** layers)."""
        return self.n_slots * math.log10(len(OPS))
