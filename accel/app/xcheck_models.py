"""PyTorch modules for the cross-check (``accelsim xcheck``) networks that the zoo does not provide, and their
ONNX export.

* NAS-Bench-201 cells: :func:`nas.nb201_torch.build_nb201_torch` (``prune=True``: the same convolutions as
  the accelsim network), BatchNorm statistics randomised so BN folding is exercised.
* :func:`mbconv_module`: a small MobileNetV2-style network of MBConv blocks (1×1 expand → k×k depthwise →
  1×1 project, ReLU6, residual when shapes allow) with a per-block choice of expansion ratio and kernel
  size — the OFA / CHaNAS unit choices (kernel 3/5/7, expansion 3/4/6; :mod:`nas.mbconv` has the full ImageNet-size
  OFA space) on a fixed six-block CIFAR-size skeleton, so a set of such networks can be MetaSchedule-tuned and
  measured within minutes on a 2-core CPU.

Names: ``nb201:<arch string>`` and ``mbconv:<e>k<k>-...`` (one token per block, e.g. ``mbconv:e3k3-e6k5-...``).
``torch`` is imported lazily.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["MBCONV_SKELETON", "MBCONV_EXPANDS", "MBCONV_KERNELS", "mbconv_module",
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
        import torch

        from nas.nb201_torch import build_nb201_torch

        torch.manual_seed(0)
        return _randomise_bn(build_nb201_torch(enc, prune=True)).eval()
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
