"""PyTorch modules for the cross-check (``accelsim xcheck``) networks that the zoo does not provide, and their
ONNX export.

* :func:`nb201_module`: a NAS-Bench-201 ``TinyNetwork`` (Dong & Yang, ICLR 2020) for one cell, written to
  match :func:`nas.nb201.build_network` layer for layer: 3×3 stem conv + BN, three stages of five cells
  (C = 16, 32, 64) separated by ``ResNetBasicblock`` reductions, ``lastact`` BN + ReLU, global average pool,
  classifier.  ``nor_conv_kxk`` is ReLU → Conv → BN, ``avg_pool_3x3`` is stride 1 pad 1
  (``count_include_pad=False`` as in NAS-Bench-201), ``skip_connect`` the identity.  Only the *effective*
  edges (:func:`nas.nb201.effective_edges`, ``prune=True``) are built, as a compiler removes dead or
  constant-zero edges; a cell with no input→output path outputs zeros.
* :func:`mbconv_module`: a small MobileNetV2-style network of MBConv blocks (1×1 expand → k×k depthwise →
  1×1 project, ReLU6, residual when shapes allow) with a per-block choice of expansion ratio and kernel
  size — the OFA / CHaNAS block space (CHaNAS Sec. 3, "MBConv blocks with kernel 3/5/7, expand 3/4/6") at
  CIFAR resolution, so a set of such networks can be tuned and measured within minutes on a laptop CPU.

Names: ``nb201:<arch string>`` and ``mbconv:<e>k<k>-...`` (one token per block, e.g. ``mbconv:e3k3-e6k5-...``).
``torch`` is imported lazily.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["MBCONV_SKELETON", "MBCONV_EXPANDS", "MBCONV_KERNELS", "nb201_module", "mbconv_module",
           "parse_mbconv", "mbconv_name", "sample_mbconv", "export_module_onnx", "module_for", "input_shape_for"]

# MBConv skeleton at 32×32: (output channels, stride) per block, after a 3×3 stem to 16 channels.
MBCONV_SKELETON: tuple[tuple[int, int], ...] = ((24, 1), (32, 2), (32, 1), (64, 2), (64, 1), (96, 1))
MBCONV_EXPANDS = (3, 4, 6)
MBCONV_KERNELS = (3, 5, 7)
MBCONV_STEM = 16
MBCONV_HEAD = 256
MBCONV_RES = 32
MBCONV_CLASSES = 10


def parse_mbconv(spec: str) -> tuple[tuple[int, int], ...]:
    """``"e3k3-e6k5-..."`` (one token per block of :data:`MBCONV_SKELETON`) → ((expand, kernel), ...)."""
    toks = spec.split("-")
    if len(toks) != len(MBCONV_SKELETON):
        raise ValueError(f"mbconv spec {spec!r}: expected {len(MBCONV_SKELETON)} blocks like 'e6k3', got {len(toks)}")
    out = []
    for t in toks:
        e, sep, k = t.lower().lstrip("e").partition("k")
        if not (sep and e.isdigit() and k.isdigit()) or int(e) not in MBCONV_EXPANDS or int(k) not in MBCONV_KERNELS:
            raise ValueError(f"mbconv spec {spec!r}: bad block {t!r} (expand in {MBCONV_EXPANDS}, "
                             f"kernel in {MBCONV_KERNELS}, e.g. 'e6k3')")
        out.append((int(e), int(k)))
    return tuple(out)


def mbconv_name(blocks: tuple[tuple[int, int], ...]) -> str:
    return "mbconv:" + "-".join(f"e{e}k{k}" for e, k in blocks)


def sample_mbconv(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct MBConv network names drawn uniformly from the block space (numpy Generator ``seed``)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names: list[str] = []
    while len(names) < n:
        blocks = tuple((int(rng.choice(MBCONV_EXPANDS)), int(rng.choice(MBCONV_KERNELS))) for _ in MBCONV_SKELETON)
        name = mbconv_name(blocks)
        if name not in names:
            names.append(name)
    return names


def nb201_module(arch, classes: int = 10, channels: int = 16, cells_per_stage: int = 5):
    """The NAS-Bench-201 network of ``arch`` (anything :func:`nas.nb201.as_arch` takes) as a ``torch.nn.Module``
    in eval mode, seeded random weights (BatchNorm running statistics randomised so BN folding is not a no-op)."""
    import torch
    from torch import nn

    from nas.nb201 import N_NODES, as_arch, effective_edges

    a = as_arch(arch)
    edges = effective_edges(a, prune=True)

    def relu_conv_bn(cin, cout, k, stride, pad):
        return nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(cin, cout, k, stride, pad, bias=False),
                             nn.BatchNorm2d(cout))

    class Cell(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.ops = nn.ModuleDict()
            for i, j, op in edges:
                key = f"{i}{j}"
                if op == "nor_conv_1x1":
                    self.ops[key] = relu_conv_bn(c, c, 1, 1, 0)
                elif op == "nor_conv_3x3":
                    self.ops[key] = relu_conv_bn(c, c, 3, 1, 1)
                elif op == "avg_pool_3x3":
                    self.ops[key] = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
                else:  # skip_connect
                    self.ops[key] = nn.Identity()

        def forward(self, x):
            nodes = {0: x}
            for j in range(1, N_NODES):
                terms = [self.ops[f"{i}{jj}"](nodes[i]) for i, jj, _ in edges if jj == j and i in nodes]
                if terms:
                    acc = terms[0]
                    for t in terms[1:]:
                        acc = acc + t
                    nodes[j] = acc
            out = nodes.get(N_NODES - 1)
            return out if out is not None else torch.zeros_like(x)

    class ResBlock(nn.Module):
        def __init__(self, cin, planes):
            super().__init__()
            self.conv_a = relu_conv_bn(cin, planes, 3, 2, 1)
            self.conv_b = relu_conv_bn(planes, planes, 3, 1, 1)
            self.downsample = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(cin, planes, 1, bias=False))

        def forward(self, x):
            return self.downsample(x) + self.conv_b(self.conv_a(x))

    class TinyNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            c = channels
            layers = [nn.Conv2d(3, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c)]
            for stage in range(3):
                if stage:
                    layers.append(ResBlock(c, 2 * c))
                    c *= 2
                layers += [Cell(c) for _ in range(cells_per_stage)]
            self.cells = nn.Sequential(*layers)
            self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Linear(c, classes)

        def forward(self, x):
            y = self.pool(self.lastact(self.cells(x)))
            return self.classifier(torch.flatten(y, 1))

    torch.manual_seed(0)
    return _randomise_bn(TinyNetwork()).eval()


def mbconv_module(blocks: tuple[tuple[int, int], ...] | str):
    """A MobileNetV2-style MBConv network (see module docstring) as a ``torch.nn.Module`` in eval mode."""
    import torch
    from torch import nn

    if isinstance(blocks, str):
        blocks = parse_mbconv(blocks.removeprefix("mbconv:"))

    def cba(cin, cout, k, stride=1, groups=1, act=True):
        mods = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        if act:
            mods.append(nn.ReLU6(inplace=False))
        return nn.Sequential(*mods)

    class MBConv(nn.Module):
        def __init__(self, cin, cout, stride, expand, k):
            super().__init__()
            hid = cin * expand
            self.body = nn.Sequential(cba(cin, hid, 1), cba(hid, hid, k, stride, groups=hid), cba(hid, cout, 1, act=False))
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            y = self.body(x)
            return x + y if self.residual else y

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            layers, c = [cba(3, MBCONV_STEM, 3)], MBCONV_STEM
            for (cout, stride), (e, k) in zip(MBCONV_SKELETON, blocks):
                layers.append(MBConv(c, cout, stride, e, k))
                c = cout
            layers.append(cba(c, MBCONV_HEAD, 1))
            self.features = nn.Sequential(*layers)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Linear(MBCONV_HEAD, MBCONV_CLASSES)

        def forward(self, x):
            return self.classifier(torch.flatten(self.pool(self.features(x)), 1))

    torch.manual_seed(0)
    return _randomise_bn(Net()).eval()


def _randomise_bn(model):
    import torch

    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.weight.copy_(0.5 + torch.rand(m.num_features, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.num_features, generator=g))
    return model


def input_shape_for(name: str, batch: int = 1) -> tuple[int, int, int, int]:
    """Input shape (N, C, H, W) of an ``nb201:`` / ``mbconv:`` network (CIFAR-10 resolution, 32×32)."""
    return (batch, 3, 32, 32)


def module_for(name: str):
    """The torch module of an ``nb201:<arch>`` or ``mbconv:<blocks>`` network name."""
    space, sep, enc = name.partition(":")
    if sep and space == "nb201":
        return nb201_module(enc)
    if sep and space == "mbconv":
        return mbconv_module(enc)
    raise ValueError(f"{name!r}: not an nb201:<arch> or mbconv:<blocks> network")


def export_module_onnx(model, input_shape: tuple[int, ...], path: str | os.PathLike, opset: int = 17) -> Path:
    """Export ``model`` with the offline TorchScript exporter, as :func:`accel.torch_zoo.export_onnx` does
    (eval mode, constant folding folds BatchNorm into the convolutions); input ``"input"``, output ``"logits"``."""
    import warnings

    import torch

    path = Path(path)
    x = torch.randn(*input_shape)
    kwargs = dict(input_names=["input"], output_names=["logits"], opset_version=opset, do_constant_folding=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(model, (x,), str(path), dynamo=False, **kwargs)
        except TypeError:  # a torch without the ``dynamo`` keyword
            torch.onnx.export(model, (x,), str(path), **kwargs)
    return path
