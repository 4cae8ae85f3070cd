"""Quantization-aware training: fake quantization with straight-through estimators (torch).

* Weights: symmetric, per output channel, ``w`` bits: scale_c = max|W_c| / (2^(w-1) - 1), codes
  q = round(W / scale_c) ∈ [-(2^(w-1) - 1), 2^(w-1) - 1], value q·scale_c.
* Activations: asymmetric, per tensor, ``a`` bits over a range [lo, hi] tracked as an exponential moving
  average of batch min / max while training (momentum 0.1) and frozen in eval: scale = (hi - lo) / (2^a - 1),
  codes q = round((clamp(x, lo, hi) - lo) / scale) ∈ [0, 2^a - 1], value lo + q·scale.  A range that
  contains 0 is nudged so that 0 is exactly representable (zero padding stays exact).
* Straight-through estimator (Bengio et al. 2013): the forward pass uses the quantized value, the backward
  pass the gradient of the identity (of the clamp for activations: zero outside [lo, hi]).

For the bitwidth search, :func:`mix_quantize_weight` / :class:`ActQuantizer` also take a probability vector
over bitwidth choices and return Σ_b p_b·Q_b(x): one tensor, so the layer still runs *one* convolution —
the constant-memory soft relaxation of Auto-NBA's heterogeneous sampling (Fu et al., ICML 2021; its
released code mixes quantized tensors this way; after EdMIPS, Cai & Vasconcelos CVPR 2020).  16 or more
bits are treated as full precision in training (16-bit fixed point is below fp32 training noise), while
the hardware model still costs them at 16 bits.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["FULL_PRECISION_BITS", "weight_scale", "quantize_weight", "act_qparams", "quantize_act",
           "mix_quantize_weight", "ActQuantizer", "QuantConv2d"]

FULL_PRECISION_BITS = 16


def weight_scale(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Per-output-channel symmetric scale, shape (C_out, 1, ..., 1) (detached)."""
    qmax = 2 ** (bits - 1) - 1
    m = w.detach().abs().reshape(w.shape[0], -1).amax(dim=1).clamp_min(1e-12)
    return (m / qmax).reshape(-1, *([1] * (w.dim() - 1)))


def quantize_weight(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Fake-quantized weights (STE).  ``bits >= 16``: returned unchanged."""
    if bits >= FULL_PRECISION_BITS:
        return w
    qmax = 2 ** (bits - 1) - 1
    s = weight_scale(w, bits)
    q = torch.clamp(torch.round(w / s), -qmax, qmax) * s
    return w + (q - w).detach()


def mix_quantize_weight(w: torch.Tensor, bits: tuple[int, ...], probs: torch.Tensor) -> torch.Tensor:
    """Σ_b probs[b] · quantize_weight(w, bits[b]) (one tensor; gradients reach ``w`` and ``probs``)."""
    out = None
    for b, p in zip(bits, probs):
        t = quantize_weight(w, b) * p
        out = t if out is None else out + t
    return out


def act_qparams(lo: float, hi: float, bits: int) -> tuple[float, float]:
    """(scale, lo) with 0 exactly representable when lo < 0 < hi (the range is shifted, not widened)."""
    levels = 2 ** bits - 1
    hi = max(hi, lo + 1e-8)
    scale = (hi - lo) / levels
    if lo < 0.0 < hi:
        lo = -round(-lo / scale) * scale
    return scale, lo


def quantize_act(x: torch.Tensor, lo: float, hi: float, bits: int) -> torch.Tensor:
    """Fake-quantized activations over [lo, hi] (clipped STE).  ``bits >= 16``: unchanged."""
    if bits >= FULL_PRECISION_BITS:
        return x
    scale, lo = act_qparams(lo, hi, bits)
    levels = 2 ** bits - 1
    xc = torch.clamp(x, lo, lo + levels * scale)
    q = torch.round((xc - lo) / scale) * scale + lo
    return xc + (q - xc).detach()


class ActQuantizer(nn.Module):
    """Tracks an activation range and fake-quantizes to one bitwidth or a soft mixture of bitwidths."""

    def __init__(self, momentum: float = 0.1):
        super().__init__()
        self.momentum = momentum
        self.register_buffer("lo", torch.zeros(()))
        self.register_buffer("hi", torch.zeros(()))
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))

    def observe(self, x: torch.Tensor) -> None:
        if not self.training:
            return
        lo, hi = x.detach().min(), x.detach().max()
        if not bool(self.initialized):
            self.lo.copy_(lo)
            self.hi.copy_(hi)
            self.initialized.fill_(True)
        else:
            self.lo.mul_(1 - self.momentum).add_(self.momentum * lo)
            self.hi.mul_(1 - self.momentum).add_(self.momentum * hi)

    def forward(self, x: torch.Tensor, bits: int | tuple[int, ...], probs: torch.Tensor | None = None) -> torch.Tensor:
        self.observe(x)
        lo, hi = float(self.lo), float(self.hi)
        if probs is None:
            return quantize_act(x, lo, hi, int(bits))  # type: ignore[arg-type]
        out = None
        for b, p in zip(bits, probs):  # type: ignore[arg-type]
            t = quantize_act(x, lo, hi, int(b)) * p
            out = t if out is None else out + t
        return out


class QuantConv2d(nn.Conv2d):
    """A Conv2d whose weights (``w_bits``) and input activations (``a_bits``) are fake-quantized when
    ``quantize`` is True (plain Conv2d otherwise, e.g. for ONNX export)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: int = 0,
                 groups: int = 1, bias: bool = False, w_bits: int = 8, a_bits: int = 8):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=bias)
        self.w_bits = int(w_bits)
        self.a_bits = int(a_bits)
        self.quantize = True
        self.act = ActQuantizer()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.quantize:
            return super().forward(x)
        xq = self.act(x, self.a_bits)
        wq = quantize_weight(self.weight, self.w_bits)
        return F.conv2d(xq, wq, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", w_bits={self.w_bits}, a_bits={self.a_bits}"
