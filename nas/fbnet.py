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

Encoding: the 22 block names joined by ``-`` (e.g. ``k3_e1-k3_e6-skip-...``).
"""

from __future__ import annotations

from accel.errors import WorkloadInputError
import itertools

import numpy as np

from accel.workload import Network, NetworkBuilder, Tensor, WorkloadError

__all__ = ["OPS", "FBNetSpace", "build_network", "build_torch", "parse_arch", "arch_str", "LAYERS"]

OPS: tuple[str, ...] = ("k3_e1", "k3_e1_g2", "k3_e3", "k3_e6", "k5_e1", "k5_e1_g2", "k5_e3", "k5_e6", "skip")
OP_INDEX = {o: i for i, o in enumerate(OPS)}
STAGES: tuple[tuple[int, int, int], ...] = ((16, 1, 1), (24, 4, 2), (32, 4, 2), (64, 4, 2), (112, 4, 1),
                                            (184, 4, 2), (352, 1, 1))
# (output width, stride) of each of the 22 searchable layers
LAYERS: tuple[tuple[int, int], ...] = tuple((c, s if i == 0 else 1) for c, n, s in STAGES for i in range(n))
N_LAYERS = len(LAYERS)
STEM_WIDTH, LAST_WIDTH, CLASSES, RESOLUTION = 16, 1984, 1000, 224

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
    return "-".join(as_arch(a))


def parse_arch(s: str) -> Arch:
    ops = tuple(s.strip().split("-"))
    return as_arch(ops)


def as_arch(x) -> Arch:
    if isinstance(x, str):
        return parse_arch(x)
    a = tuple(x)
    if len(a) != N_LAYERS:
        raise FBNetError(f"an FBNet arch has {N_LAYERS} blocks joined by '-', got {len(a)}")
    for i, o in enumerate(a):
        if o not in OP_INDEX:
            raise FBNetError(f"layer {i}: unknown block {o!r} (known: {', '.join(OPS)})")
    return a


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
    """The FBNet network of ``arch`` as an accelsim :class:`~accel.workload.Network` (module docstring)."""
    a = as_arch(arch)
    if batch < 1:
        raise WorkloadError(f"batch must be >= 1, got {batch}")
    b = NetworkBuilder(f"fbnet[{arch_str(a)}]")
    x = b.input(batch, 3, resolution, resolution)
    x = b.conv(x, STEM_WIDTH, kernel=3, stride=2, padding=1, name="first")
    for i, (op, (c, s)) in enumerate(zip(a, LAYERS)):
        x = _block(b, x, op, c, s, f"layer{i}")
    x = b.conv(x, LAST_WIDTH, kernel=1, name="last")
    x = b.global_avgpool(x, name="avgpool")
    b.linear(b.flatten(x), CLASSES, name="fc")
    return b.build()


def build_torch(arch):
    """The FBNet network of ``arch`` as a torch ``nn.Module`` (inputs N×3×224×224)."""
    from torch import nn

    from nas.torch_ops import ChannelShuffle, ConvBNAct

    a = as_arch(arch)

    class IRFBlock(nn.Module):
        def __init__(self, c_in: int, c_out: int, stride: int, k: int, e: int, g: int):
            super().__init__()
            mid = c_in * e
            self.pw = ConvBNAct(c_in, mid, 1, groups=g)
            self.shuffle = ChannelShuffle(g) if g > 1 else nn.Identity()
            self.dw = ConvBNAct(mid, mid, k, stride, groups=mid)
            self.pwl = ConvBNAct(mid, c_out, 1, groups=g, act=None)
            self.residual = stride == 1 and c_in == c_out

        def forward(self, x):
            y = self.pwl(self.dw(self.shuffle(self.pw(x))))
            return y + x if self.residual else y

    class FBNet(nn.Module):
        def __init__(self):
            super().__init__()
            blocks: list[nn.Module] = [ConvBNAct(3, STEM_WIDTH, 3, 2)]
            c = STEM_WIDTH
            for op, (c_out, s) in zip(a, LAYERS):
                p = block_params(op)
                if p is None:
                    blocks.append(nn.Identity() if (c == c_out and s == 1) else ConvBNAct(c, c_out, 1, s))
                else:
                    blocks.append(IRFBlock(c, c_out, s, *p))
                c = c_out
            blocks.append(ConvBNAct(c, LAST_WIDTH, 1))
            self.features = nn.Sequential(*blocks)
            self.fc = nn.Linear(LAST_WIDTH, CLASSES)

        def forward(self, x):
            return self.fc(self.features(x).mean(dim=(2, 3)))

    return FBNet()


KERNEL_SETS: dict[str, tuple[int, ...]] = {"k3": (3,), "k5": (5,), "k3+k5": (3, 5)}
EXPANSION_SETS: dict[str, tuple[int, ...]] = {"e1": (1,), "e1+e3": (1, 3), "e3+e6": (3, 6), "e1+e3+e6": (1, 3, 6)}


class FBNetSpace:
    """FBNet architectures (module docstring), optionally restricted to a subset of the 9 blocks.

    ``sample``: each layer's block uniform; ``mutate``: one layer's block changes; ``crossover``: each
    layer from either parent; ``to_vector``: 22 × 9 one-hot (198 values).
    """

    name = "fbnet"
    finite = False
    spec_help = f"{N_LAYERS} blocks joined by '-' from {', '.join(OPS)}"

    def __init__(self, ops: tuple[str, ...] = OPS, resolution: int = RESOLUTION):
        bad = [o for o in ops if o not in OP_INDEX]
        if bad or not ops:
            raise FBNetError(f"unknown FBNet blocks {bad} (known: {', '.join(OPS)})")
        self.ops = tuple(o for o in OPS if o in ops)
        self.resolution = resolution

    @property
    def size(self) -> int:
        return len(self.ops) ** N_LAYERS

    @property
    def vector_size(self) -> int:
        return N_LAYERS * len(OPS)

    def contains(self, a: Arch) -> bool:
        return all(o in self.ops for o in a)

    def sample(self, rng: np.random.Generator) -> Arch:
        return tuple(self.ops[int(i)] for i in rng.integers(0, len(self.ops), N_LAYERS))

    def mutate(self, a, rng: np.random.Generator) -> Arch:
        out = list(as_arch(a))
        i = int(rng.integers(N_LAYERS))
        if len(self.ops) > 1:
            cur = self.ops.index(out[i]) if out[i] in self.ops else -1
            choices = [o for j, o in enumerate(self.ops) if j != cur]
            out[i] = choices[int(rng.integers(len(choices)))]
        return tuple(out)

    def crossover(self, a, b, rng: np.random.Generator) -> Arch:
        take = rng.random(N_LAYERS) < 0.5
        return tuple(x if t else y for x, y, t in zip(as_arch(a), as_arch(b), take))

    def encode(self, a) -> str:
        return arch_str(a)

    def decode(self, s: str) -> Arch:
        return parse_arch(s)

    def to_vector(self, a) -> np.ndarray:
        v = np.zeros((N_LAYERS, len(OPS)), dtype=np.float32)
        for i, o in enumerate(as_arch(a)):
            v[i, OP_INDEX[o]] = 1.0
        return v.reshape(-1)

    def from_vector(self, v: np.ndarray) -> Arch:
        x = np.asarray(v, dtype=float)
        if x.size != self.vector_size:
            raise FBNetError(f"expected {self.vector_size} values, got {x.size}")
        return tuple(OPS[int(i)] for i in x.reshape(N_LAYERS, len(OPS)).argmax(axis=1))

    def enumerate(self):
        raise FBNetError(f"the FBNet space has {self.size:.3g} archs: it cannot be enumerated")

    def input_shape(self, a=None, batch: int = 1) -> tuple[int, int, int, int]:
        return (batch, 3, self.resolution, self.resolution)

    def build_network(self, a, batch: int = 1) -> Network:
        return build_network(a, batch, self.resolution)

    def build_torch(self, a):
        """The torch model (resolution-agnostic: feed it ``input_shape()``)."""
        return build_torch(a)

    def subspaces(self) -> dict[str, "FBNetSpace"]:
        """Kernel set × expansion family (grouped e1 blocks count as e1), skip always allowed: 3 × 4 = 12."""
        out = {}
        for (kn, ks), (en, es) in itertools.product(KERNEL_SETS.items(), EXPANSION_SETS.items()):
            ops = tuple(o for o in OPS if o == "skip" or (block_params(o)[0] in ks and block_params(o)[1] in es))
            out[f"{kn}/{en}"] = FBNetSpace(ops, self.resolution)
        return out
