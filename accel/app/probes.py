"""Probe networks of ``accelsim calibrate``: the in-network scale of a device profile (accel/device.py, 4b).

The calibration's efficiencies and overheads come from chains of one operator repeated.  Inside a network every
operator has its own weights, reads what a different kernel wrote, and shares the caches with the rest of the
graph, so it can cost more than in the chain.  The probes measure that: a fixed set of small networks, built from
accelsim's torch block library (:mod:`accel.nn`: ``ConvBNAct``, ``InvertedResidual``) and spanning the regimes
NAS networks live in — CIFAR-sized residual stacks of 3×3 and 1×1 convs (8–96 channels at 32×32 … 8×8), a
concatenating stack with pools, and ImageNet-sized inverted-residual stacks with 3×3 / 5×5 / 7×7 depthwise convs
(224 and 160 px) —, timed in the runtime on one and on all threads.  They are not drawn from any NAS space or
benchmark (the device study's networks are never seen by a calibration).  Each probe is exported to ONNX with
:func:`accel.nn.export_module_onnx` and imported with :func:`accel.onnx_import.load_onnx_network`, so the
device model costs the very graph that was timed; :func:`fit_network_scale` takes the median ratio of measured
to modelled time on one and on all threads.

Only the standard library at import time; torch, numpy and onnx are imported by the functions that need them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

# A block: ("conv", c_out, kernel, stride) ConvBNAct with ReLU; ("res", kernel) x + ConvBN(ConvBNAct(x)) at the
# same width (no activation after the add: the MBConv / pre-activation form, which every runtime runs as one Add);
# ("ir", c_out, expand, kernel, stride) an inverted residual (1x1 expand, kxk depthwise, 1x1 project; the residual
# when stride 1 and c_out == c_in); ("pool", "avg" | "max", kernel, stride) with padding kernel // 2;
# ("cat",) the concatenation of a 1x1 ConvBNAct branch and a 3x3 max pool -> 3x3 ConvBNAct branch (half the
# channels each); ("head", classes) global average pool, flatten, Linear.
Block = tuple

PROBES: tuple[tuple[str, tuple[int, int, int], tuple[Block, ...]], ...] = (
    ("cifar-res-16", (3, 32, 32), (("conv", 16, 3, 1), ("res", 3), ("res", 3), ("conv", 32, 3, 2), ("res", 3),
                                   ("res", 3), ("conv", 64, 3, 2), ("res", 3), ("res", 3), ("head", 10))),
    ("cifar-res-narrow", (3, 32, 32), (("conv", 8, 3, 1), ("res", 3), ("pool", "avg", 3, 1), ("res", 1),
                                       ("conv", 24, 3, 2), ("res", 1), ("res", 3), ("pool", "max", 3, 2),
                                       ("res", 3), ("head", 10))),
    ("cifar-cat-24", (3, 32, 32), (("conv", 24, 3, 1), ("cat",), ("cat",), ("pool", "max", 3, 2), ("cat",),
                                   ("res", 1), ("cat",), ("pool", "avg", 3, 2), ("cat",), ("head", 10))),
    ("cifar-wide", (3, 32, 32), (("conv", 48, 3, 1), ("res", 1), ("res", 3), ("conv", 96, 1, 2), ("res", 3),
                                 ("res", 1), ("pool", "avg", 3, 2), ("res", 3), ("head", 100))),
    ("cifar-ir-32", (3, 32, 32), (("conv", 32, 3, 1), ("ir", 32, 3, 3, 1), ("ir", 48, 6, 5, 2), ("ir", 48, 3, 3, 1),
                                  ("ir", 64, 6, 3, 2), ("ir", 64, 3, 5, 1), ("head", 10))),
    ("mobile-224-k3", (3, 224, 224), (("conv", 16, 3, 2), ("ir", 16, 1, 3, 1), ("ir", 24, 4, 3, 2),
                                      ("ir", 24, 3, 3, 1), ("ir", 40, 3, 3, 2), ("ir", 40, 3, 3, 1),
                                      ("ir", 80, 6, 3, 2), ("ir", 80, 3, 3, 1), ("ir", 112, 6, 3, 1),
                                      ("ir", 160, 6, 3, 2), ("ir", 160, 3, 3, 1), ("conv", 640, 1, 1),
                                      ("head", 1000))),
    ("mobile-224-k57", (3, 224, 224), (("conv", 24, 3, 2), ("ir", 24, 1, 5, 1), ("ir", 32, 6, 7, 2),
                                       ("ir", 32, 3, 5, 1), ("ir", 48, 4, 7, 2), ("ir", 96, 6, 5, 2),
                                       ("ir", 96, 4, 7, 1), ("ir", 136, 6, 5, 1), ("ir", 192, 4, 7, 2),
                                       ("head", 1000))),
    ("mobile-160-mixed", (3, 160, 160), (("conv", 16, 3, 2), ("ir", 24, 6, 3, 2), ("ir", 24, 3, 5, 1),
                                         ("ir", 32, 6, 7, 2), ("ir", 64, 4, 3, 2), ("ir", 64, 6, 5, 1),
                                         ("ir", 128, 6, 3, 2), ("ir", 128, 3, 7, 1), ("conv", 512, 1, 1),
                                         ("head", 1000))),
)


def build_probe(blocks: Sequence[Block], in_channels: int):
    """The torch module of a probe (eval mode, weights from ``torch.manual_seed(0)``)."""
    import torch
    from torch import nn

    from accel.nn import ConvBNAct, InvertedResidual

    class _Res(nn.Module):
        def __init__(self, c: int, k: int):
            super().__init__()
            self.body = nn.Sequential(ConvBNAct(c, c, k), ConvBNAct(c, c, k, act=None))

        def forward(self, x):
            return x + self.body(x)

    class _Cat(nn.Module):
        def __init__(self, c: int):
            super().__init__()
            self.a = ConvBNAct(c, c // 2, 1)
            self.b = nn.Sequential(nn.MaxPool2d(3, 1, 1), ConvBNAct(c, c - c // 2, 3))

        def forward(self, x):
            return torch.cat([self.a(x), self.b(x)], dim=1)

    torch.manual_seed(0)
    mods: list[nn.Module] = []
    c = in_channels
    for blk in blocks:
        kind = blk[0]
        if kind == "conv":
            mods.append(ConvBNAct(c, blk[1], blk[2], blk[3]))
            c = blk[1]
        elif kind == "res":
            mods.append(_Res(c, blk[1]))
        elif kind == "ir":
            mods.append(InvertedResidual(c, c * blk[2], blk[1], blk[3], blk[4]))
            c = blk[1]
        elif kind == "pool":
            pool = nn.AvgPool2d if blk[1] == "avg" else nn.MaxPool2d
            mods.append(pool(blk[2], blk[3], blk[2] // 2))
        elif kind == "cat":
            mods.append(_Cat(c))
        elif kind == "head":
            mods += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, blk[1])]
        else:
            raise ValueError(f"unknown probe block {blk!r}")
    return nn.Sequential(*mods).eval()


@dataclass(frozen=True)
class ProbeTiming:
    """One probe timed: ``name``, ``threads``, ``latency_s`` (median of the calls after the warm-up), the device
    model's time of its layers without the in-network scale (``modelled_s``) and the runtime's per-call overhead
    (``call_s``, which is not scaled: subtracted from the measurement before the ratio)."""

    name: str
    threads: int
    latency_s: float
    modelled_s: float
    call_s: float

    @property
    def ratio(self) -> float:
        """(measured − per-call overhead) / modelled: what this probe's operators cost over the model's time."""
        return max(self.latency_s - self.call_s, 1e-12) / max(self.modelled_s, 1e-12)


def fit_network_scale(timings: Sequence[ProbeTiming]) -> dict:
    """The in-network factors (accel/device.py 4b): ``one_thread`` = the median :attr:`ProbeTiming.ratio` of the
    1-thread timings, ``all_threads`` = that of the timings on the most threads (= ``one_thread`` when every
    timing ran on one thread); each clipped to [1/16, 16] (the schema's range).  The median: one probe the chain
    model misprices (a pool-heavy stack) does not move it."""
    import statistics

    from accel.device import MAX_NETWORK_SCALE

    if not timings:
        raise ValueError("fit_network_scale: no probe timings")
    most = max(t.threads for t in timings)

    def med(ts):
        v = statistics.median(t.ratio for t in ts)
        return float(min(MAX_NETWORK_SCALE, max(1.0 / MAX_NETWORK_SCALE, v)))

    one = [t for t in timings if t.threads == 1] or [t for t in timings if t.threads == min(x.threads for x in timings)]
    return {"one_thread": med(one), "all_threads": med([t for t in timings if t.threads == most])}
