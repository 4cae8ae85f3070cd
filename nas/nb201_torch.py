"""NAS-Bench-201 networks as torch ``nn.Module`` (CPU), mirroring :func:`nas.nb201.build_network`.

The macro skeleton follows NAS-Bench-201's ``TinyNetwork`` (Dong & Yang, ICLR 2020; ``xautodl``
``models/cell_searchs`` / ``cell_infers/tiny_network.py``): stem 3×3 conv + BN, three stages of N cells
(C, 2C, 4C) separated by ``ResNetBasicblock(stride=2)`` (ReLU-Conv-BN 3×3/2 → ReLU-Conv-BN 3×3, shortcut
2×2/2 avg pool → 1×1 conv), ``lastact`` BN + ReLU, global average pool, linear classifier.  Cell ops:
``nor_conv_kxk`` = ReLU-Conv-BN, ``avg_pool_3x3`` = AvgPool2d(3, 1, 1, count_include_pad=False),
``skip_connect`` = identity, ``none`` = zero.

``prune`` means what it means for :func:`nas.nb201.build_network`, with the same default (False), so the two
always have the same convolutions: ``prune=False`` builds every non-``none`` edge like the benchmark's
training code did and eager PyTorch runs it; ``prune=True`` keeps only the edges that
:func:`nas.nb201.effective_edges` keeps with ``prune=True`` (``--prune-dead``).
"""

from __future__ import annotations

import torch
from torch import nn

from nas import nb201
from accel.nn import ReLUConvBN

__all__ = ["NB201Cell", "NB201Net", "build_nb201_torch"]


def _op(op: str, c: int) -> nn.Module:
    if op == "nor_conv_1x1":
        return ReLUConvBN(c, c, 1, 1, 0)
    if op == "nor_conv_3x3":
        return ReLUConvBN(c, c, 3, 1, 1)
    if op == "avg_pool_3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if op == "skip_connect":
        return nn.Identity()
    raise ValueError(f"op {op!r} has no module (none edges are dropped)")


class NB201Cell(nn.Module):
    """One cell: node j = Σ_i op_{i→j}(node i) over the kept edges; a node with no kept input is zero."""

    def __init__(self, arch: nb201.ArchLike, channels: int, prune: bool = False):
        super().__init__()
        self.edges = nb201.effective_edges(arch, prune)
        self.ops = nn.ModuleList(_op(op, channels) for _, _, op in self.edges)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes: list[torch.Tensor | None] = [x] + [None] * (nb201.N_NODES - 1)
        for j in range(1, nb201.N_NODES):
            acc = None
            for (i, jj, _), mod in zip(self.edges, self.ops):
                if jj != j:
                    continue
                src = nodes[i] if nodes[i] is not None else torch.zeros_like(x)
                y = mod(src)
                acc = y if acc is None else acc + y
            nodes[j] = acc
        out = nodes[-1]
        return out if out is not None else torch.zeros_like(x)


class _ResBlock(nn.Module):
    """NAS-Bench-201 ``ResNetBasicblock(inplanes, planes, stride=2)``."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(nn.AvgPool2d(2, stride=2, padding=0),
                                        nn.Conv2d(c_in, c_out, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Net(nn.Module):
    """The NAS-Bench-201 ``TinyNetwork`` of one arch (see module docstring)."""

    def __init__(self, arch: nb201.ArchLike, num_classes: int = 10, channels: int = 16, cells_per_stage: int = 5,
                 prune: bool = False):
        super().__init__()
        self.arch = nb201.as_arch(arch)
        self.stem = nn.Sequential(nn.Conv2d(3, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels))
        cells: list[nn.Module] = []
        c = channels
        for stage in range(3):
            if stage:
                cells.append(_ResBlock(c, 2 * c))
                c *= 2
            cells.extend(NB201Cell(self.arch, c, prune) for _ in range(cells_per_stage))
        self.cells = nn.Sequential(*cells)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False))
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.lastact(self.cells(self.stem(x)))
        return self.classifier(x.mean(dim=(2, 3)))


def build_nb201_torch(arch: nb201.ArchLike, dataset: str = "cifar10", channels: int = 16, cells_per_stage: int = 5,
                      prune: bool = False) -> NB201Net:
    """The torch model of ``arch`` for ``dataset`` (cifar10: 10 classes, cifar100: 100, imagenet16: 120;
    inputs are N×3×32×32, or N×3×16×16 for ImageNet16-120)."""
    _, classes, _ = nb201.DATASETS[nb201.canonical_dataset(dataset)]
    return NB201Net(arch, classes, channels, cells_per_stage, prune)
