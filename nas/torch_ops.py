"""PyTorch building blocks for the NAS spaces' ``nn.Module`` builders (CPU, inference shapes).

BatchNorm is always built; zero-cost proxies that score BN-free copies replace it afterwards
(:func:`nas.proxies.without_bn`).  Every module here mirrors one construct of an accelsim network
builder in :mod:`nas.nb201`,
:mod:`nas.darts`, :mod:`nas.mbconv` or :mod:`nas.fbnet`: the torch model and the accelsim
:class:`~accel.workload.Network` of an architecture contain the same convolutions and linear layers
with the same shapes (checked by ``tests/test_nas_spaces.py`` with :func:`count_macs`).  Batch norm and
activations are fused away in accelsim (no layers) and are real modules here.

This module imports torch at import time; the space modules import it only inside their
``build_torch`` methods, so ``import nas`` does not need torch.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = [
    "Zero", "ReLUConvBN", "SepConv", "DilConv", "FactorizedReduce", "SqueezeExcite", "ChannelShuffle",
    "ConvBNAct", "count_macs", "mac_layers",
]


class Zero(nn.Module):
    """The NAS-Bench-201 / DARTS ``none`` op: zeros of the input's shape (stride 1)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


class ReLUConvBN(nn.Sequential):
    """ReLU → Conv(k, stride, pad, dilation) → BN (NAS-Bench-201 ``nor_conv_kxk``, DARTS preprocessing)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1):
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation=dilation, bias=False),
                         nn.BatchNorm2d(c_out))


class DilConv(nn.Sequential):
    """DARTS ``DilConv``: ReLU → depthwise k×k (stride, dilation) → pointwise 1×1 → BN (Liu et al. ICLR 2019)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, dilation: int):
        super().__init__(nn.ReLU(inplace=False),
                         nn.Conv2d(c_in, c_in, kernel, stride, padding, dilation=dilation, groups=c_in, bias=False),
                         nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))


class SepConv(nn.Sequential):
    """DARTS ``SepConv``: two stacked DilConv(dilation 1); only the first is strided."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int):
        super().__init__(DilConv(c_in, c_in, kernel, stride, padding, 1), DilConv(c_in, c_out, kernel, 1, padding, 1))


class FactorizedReduce(nn.Module):
    """DARTS ``FactorizedReduce``: ReLU, two 1×1 stride-2 convs (C_out/2 each; the second on the input
    shifted by one pixel, ``x[:, :, 1:, 1:]``), channel concat, BN."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        if c_out % 2:
            raise ValueError(f"FactorizedReduce needs an even output width, got {c_out}")
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv_1(x), self.conv_2(x[:, :, 1:, 1:])], dim=1))


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation as in OFA / torchvision MobileNetV3: global average pool → 1×1 conv
    (C → squeeze, ReLU) → 1×1 conv (squeeze → C, hard-sigmoid) → per-channel scale."""

    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.act = nn.ReLU(inplace=False)
        self.gate = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3), keepdim=True)
        return x * self.gate(self.fc2(self.act(self.fc1(s))))


class ChannelShuffle(nn.Module):
    """ShuffleNet channel shuffle (a permutation: free in accelsim)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ConvBNAct(nn.Sequential):
    """Conv(k, stride, pad = k//2, groups) → BN → activation (None: linear)."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                 act: type[nn.Module] | None = nn.ReLU):
        layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
                                   nn.BatchNorm2d(c_out)]
        if act is not None:
            layers.append(act())
        super().__init__(*layers)


def mac_layers(model: nn.Module, x: torch.Tensor) -> list[tuple[str, int]]:
    """Run ``model(x)`` once (no grad) and return ``(module name, MACs)`` of every Conv2d / Linear call,
    in call order.  Conv2d MACs = output elements × (C_in / groups) × k_h × k_w; Linear MACs = output
    elements × in_features (biases are not MACs)."""
    out: list[tuple[str, int]] = []
    names = {m: n for n, m in model.named_modules()}

    def hook(mod: nn.Module, inp, res) -> None:
        if isinstance(mod, nn.Conv2d):
            kh, kw = mod.kernel_size
            out.append((names[mod], int(res.numel()) * (mod.in_channels // mod.groups) * kh * kw))
        else:
            out.append((names[mod], int(res.numel()) * mod.in_features))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return out


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Total Conv2d + Linear MACs of one forward pass on zeros of ``input_shape`` (N, C, H, W)."""
    was = model.training
    model.eval()
    try:
        return sum(m for _, m in mac_layers(model, torch.zeros(input_shape)))
    finally:
        model.train(was)
