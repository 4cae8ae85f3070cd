"""The one library of PyTorch building blocks (CPU, inference shapes) and the one torch → ONNX exporter.

Used by the zoo's torch models (:mod:`accel.torch_zoo`), the NAS spaces' ``build_torch`` builders
(:mod:`nas.nb201_torch`, :mod:`nas.darts`, :mod:`nas.mbconv`, :mod:`nas.fbnet`), the joint search's
derived networks (:mod:`nas.joint.supernet`) and the cross-check models (:mod:`accel.app.xcheck_models`).
:class:`InvertedResidual` is *the* MobileNetV2 / MobileNetV3 / OFA-MBConv / FBNet-IRF block.

BatchNorm is always built; zero-cost proxies that score BN-free copies replace it afterwards
(:func:`nas.proxies.without_bn`).  Every module here mirrors one construct of an accelsim network
builder: the torch model and the accelsim :class:`~accel.workload.Network` of an architecture contain the
same convolutions and linear layers with the same shapes (checked with :func:`mac_layers` /
:func:`count_macs`).  Batch norm and activations are fused away in accelsim (no layers) and are real
modules here.

This module imports torch at import time: import it only inside the functions that build torch models
(``import accel`` and ``import nas`` do not need torch).
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Callable

import torch
from torch import nn

__all__ = [
    "Zero", "ReLUConvBN", "SepConv", "DilConv", "FactorizedReduce", "SqueezeExcite", "ChannelShuffle",
    "ConvBNAct", "InvertedResidual", "count_macs", "mac_layers", "export_module_onnx",
    "RotaryEmbedding", "SelfAttention", "FeedForward", "TransformerBlock", "RMSNorm",
]

# conv(c_in, c_out, kernel, stride, padding, groups) -> a Conv2d-like module without bias
ConvFactory = Callable[[int, int, int, int, int, int], nn.Module]


def _conv2d(c_in: int, c_out: int, kernel: int, stride: int, padding: int, groups: int) -> nn.Module:
    return nn.Conv2d(c_in, c_out, kernel, stride, padding, groups=groups, bias=False)


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
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = nn.ReLU()
        self.scale_activation = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x))))) * x


class ChannelShuffle(nn.Module):
    """ShuffleNet channel shuffle (a permutation: free in accelsim)."""

    def __init__(self, groups: int):
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        return x.view(n, self.groups, c // self.groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ConvBNAct(nn.Sequential):
    """Conv(k, stride, pad = k//2, groups, no bias) → BN → activation (None: linear).  ``conv`` builds the
    convolution (default ``nn.Conv2d``; the joint search passes a quantized one)."""

    def __init__(self, c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                 act: type[nn.Module] | None = nn.ReLU, conv: ConvFactory = _conv2d):
        layers: list[nn.Module] = [conv(c_in, c_out, kernel, stride, kernel // 2, groups), nn.BatchNorm2d(c_out)]
        if act is not None:
            layers.append(act())
        super().__init__(*layers)


class InvertedResidual(nn.Module):
    """The inverted-residual block (MobileNetV2/V3, OFA MBConv, FBNet IRF): 1×1 expansion conv (``groups``)
    → BN → act → channel shuffle (``groups`` > 1) → k×k depthwise conv (``stride``) → BN → act → optional
    squeeze-excite (``se_squeeze`` channels) → 1×1 linear projection (``groups``) → BN, and ``input + that``
    when ``stride`` is 1 and ``c_in == c_out``.

    The expansion conv is left out when ``hidden == c_in`` (MobileNet / OFA), unless ``always_expand``
    (FBNet keeps it for expansion 1).  Submodules: ``block`` (``nn.Sequential``) in that order;
    :meth:`convs` lists the three (or two) convolutions.  Mirrors :func:`accel.zoo._inverted_residual`
    and :func:`nas.fbnet._block` on the accelsim side.
    """

    def __init__(self, c_in: int, hidden: int, c_out: int, kernel: int, stride: int = 1, *,
                 act: type[nn.Module] = nn.ReLU, groups: int = 1, se_squeeze: int | None = None,
                 always_expand: bool = False, conv: ConvFactory = _conv2d):
        super().__init__()
        layers: list[nn.Module] = []
        if always_expand or hidden != c_in:
            layers.append(ConvBNAct(c_in, hidden, 1, groups=groups, act=act, conv=conv))
            if groups > 1:
                layers.append(ChannelShuffle(groups))
        layers.append(ConvBNAct(hidden, hidden, kernel, stride, groups=hidden, act=act, conv=conv))
        if se_squeeze is not None:
            layers.append(SqueezeExcite(hidden, se_squeeze))
        layers.append(ConvBNAct(hidden, c_out, 1, groups=groups, act=None, conv=conv))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def convs(self) -> list[nn.Module]:
        """The block's convolutions in call order (expansion, depthwise, projection; SE excluded)."""
        return [m[0] for m in self.block if isinstance(m, ConvBNAct)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return x + y if self.residual else y


# ---------------------------------------------------------------------------------------------
# Transformer blocks (the torch side of accel.zoo_transformer; same layers, same order)
# ---------------------------------------------------------------------------------------------
class RMSNorm(nn.Module):
    """x / rms(x) · γ (Zhang & Sennrich 2019), written out so that every opset exports it."""

    def __init__(self, d: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (Su et al. 2021; Llama's ``rotate_half`` form) on (B, H, T, head_dim)."""

    def __init__(self, head_dim: int, positions: int, base: float = 10000.0):
        super().__init__()
        inv = 1.0 / base ** (torch.arange(0, head_dim, 2).float() / head_dim)
        ang = torch.outer(torch.arange(positions).float(), inv)
        emb = torch.cat((ang, ang), dim=-1)
        self.register_buffer("cos", emb.cos(), persistent=False)
        self.register_buffer("sin", emb.sin(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = x.shape[-2]
        x1, x2 = x.chunk(2, dim=-1)
        return x * self.cos[:t] + torch.cat((-x2, x1), dim=-1) * self.sin[:t]


class SelfAttention(nn.Module):
    """Multi-head self-attention on (B, T, D) with explicit batched matmuls (what the zoo costs): Q/K/V
    projections (one fused ``qkv`` or three), optional rotary embedding on Q and K, QKᵀ / √d_head, softmax, AV,
    output projection.  No mask and no KV cache: a prefill-shape model (the causal mask is not costed)."""

    def __init__(self, d: int, heads: int, fused_qkv: bool, bias: bool, rope_positions: int = 0):
        super().__init__()
        self.heads, self.head_dim = heads, d // heads
        if fused_qkv:
            self.qkv = nn.Linear(d, 3 * d, bias=bias)
        else:
            self.q, self.k, self.v = (nn.Linear(d, d, bias=bias) for _ in range(3))
        self.rope = RotaryEmbedding(self.head_dim, rope_positions) if rope_positions else None
        self.o = nn.Linear(d, d, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        if hasattr(self, "qkv"):
            q, k, v = self.qkv(x).split(d, dim=-1)
        else:
            q, k, v = self.q(x), self.k(x), self.v(x)
        q, k, v = (z.view(b, t, self.heads, self.head_dim).transpose(1, 2) for z in (q, k, v))
        if self.rope is not None:
            q, k = self.rope(q), self.rope(k)
        s = (q @ k.transpose(-2, -1)) / math.sqrt(self.head_dim)
        o = s.softmax(dim=-1) @ v
        return self.o(o.transpose(1, 2).reshape(b, t, d))


class FeedForward(nn.Module):
    """fc1 → GELU → fc2, or SwiGLU: down(silu(gate(x)) · up(x))."""

    def __init__(self, d: int, d_ff: int, kind: str, bias: bool):
        super().__init__()
        self.kind = kind
        if kind == "gelu":
            self.fc1, self.act, self.fc2 = nn.Linear(d, d_ff, bias=bias), nn.GELU(), nn.Linear(d_ff, d, bias=bias)
        else:
            self.gate, self.up = nn.Linear(d, d_ff, bias=bias), nn.Linear(d, d_ff, bias=bias)
            self.down = nn.Linear(d_ff, d, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kind == "gelu":
            return self.fc2(self.act(self.fc1(x)))
        return self.down(nn.functional.silu(self.gate(x)) * self.up(x))


class TransformerBlock(nn.Module):
    """One pre-norm (x + f(norm(x))) or post-norm (norm(x + f(x))) block of a
    :class:`accel.zoo_transformer.TransformerConfig` (``rope_positions``: rotary table length, 0 = no rotary)."""

    def __init__(self, cfg, rope_positions: int = 0):
        super().__init__()
        norm = (lambda: nn.LayerNorm(cfg.d_model)) if cfg.norm == "layernorm" else (lambda: RMSNorm(cfg.d_model))
        self.pre_norm = cfg.pre_norm
        self.norm1 = norm()
        self.attn = SelfAttention(cfg.d_model, cfg.heads, cfg.fused_qkv, cfg.bias, rope_positions if cfg.rope else 0)
        self.norm2 = norm()
        self.mlp = FeedForward(cfg.d_model, cfg.d_ff, cfg.ffn, cfg.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:
            x = x + self.attn(self.norm1(x))
            return x + self.mlp(self.norm2(x))
        x = self.norm1(x + self.attn(x))
        return self.norm2(x + self.mlp(x))


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


def export_module_onnx(model: nn.Module, input_shape: tuple[int, ...], path: str | os.PathLike, opset: int = 17,
                       dynamic_batch: bool = False, export_params: bool = True,
                       input_dtype: "torch.dtype | None" = None) -> Path:
    """Write ``model`` to ``path`` with PyTorch's offline TorchScript exporter (``dynamo=False``: no network
    access, no onnxscript) in eval mode with constant folding, which folds every BatchNorm into its
    convolution; input ``"input"`` of ``input_shape`` (N, C, H, W), output ``"logits"``.
    ``dynamic_batch=True`` makes dim 0 symbolic (``"batch"``); ``input_dtype`` (default float32): e.g.
    ``torch.long`` for token ids (B, T).  The model's train/eval mode is restored.
    Returns the path."""
    path = Path(path)
    x = torch.zeros(*input_shape, dtype=input_dtype)  # values do not matter for the traced graph; no global RNG draw
    kwargs = dict(input_names=["input"], output_names=["logits"], opset_version=opset, do_constant_folding=True,
                  export_params=export_params)
    if dynamic_batch:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "logits": {0: "batch"}}
    was = model.training
    model.eval()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            try:
                torch.onnx.export(model, (x,), str(path), dynamo=False, **kwargs)
            except TypeError:  # a torch without the ``dynamo`` keyword: the TorchScript exporter is the default
                torch.onnx.export(model, (x,), str(path), **kwargs)
    finally:
        model.train(was)
    return path
