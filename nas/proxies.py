"""Zero-cost accuracy proxies computed in torch on synthetic batches (CPU).

Each proxy scores an untrained network from one or two forward/backward passes (higher = predicted
more accurate).  Implementations follow Abdelfattah et al., "Zero-Cost Proxies for Lightweight NAS"
(ICLR 2021) and its ``foresight`` code, with synthetic data instead of real images:

* ``synflow`` (Tanaka et al., NeurIPS 2020): on a BN-free copy in float64 with every weight replaced
  by its absolute value, feed an all-ones 1-image input, back-propagate R = Σ output, and sum
  |θ ⊙ ∂R/∂θ| over the Conv2d / Linear weights.  Data-independent.
* ``naswot`` (Mellor et al., ICML 2021, "NAS without training", hamming-kernel version): binary codes
  c_i of every ReLU (h-swish: sign) unit for each image of a batch of N; kernel
  K = C Cᵀ + (1−C)(1−C)ᵀ (N_units − Hamming distance); score = log|det K|.
* ``grad_norm``: Σ over Conv2d / Linear weights of ‖∂L/∂W‖₂, L = cross-entropy on the batch.
* ``snip`` (Lee et al., ICLR 2019): Σ |W ⊙ ∂L/∂W| over the same weights.

Batches: N images ~ N(0, 1) of the space's input shape and uniform random labels, drawn from a
``torch.Generator`` seeded with ``seed``; weights are initialised under ``torch.manual_seed(seed)``
inside ``torch.random.fork_rng`` (no change to the caller's RNG state).  ``grad_norm`` and ``snip``
share one backward pass.  Networks are built with ``space.build_torch``; NAS-Bench-201 networks are
built with every non-``none`` edge (``prune=False``), as trained for the benchmark.
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = ["PROXIES", "compute_proxies", "ProxyScorer", "proxy_study", "without_bn", "spearman"]

PROXIES: tuple[str, ...] = ("synflow", "naswot", "grad_norm", "snip")
Progress = Callable[[int, int], None]


def without_bn(model):
    """``model`` with every BatchNorm2d replaced by Identity (in place; returns it)."""
    from torch import nn

    for name, child in list(model.named_children()):
        if isinstance(child, nn.BatchNorm2d):
            setattr(model, name, nn.Identity())
        else:
            without_bn(child)
    return model


def _weights(model) -> list:
    from torch import nn

    return [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _synflow(model, input_shape: Sequence[int]) -> float:
    import torch

    model = without_bn(model).double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.abs_()
    model.zero_grad()
    out = model(torch.ones((1, *input_shape[1:]), dtype=torch.float64))
    out.sum().backward()
    return float(sum((w * w.grad).abs().sum().item() for w in _weights(model) if w.grad is not None))


def _naswot(model, x) -> float:
    import torch
    from torch import nn

    n = x.shape[0]
    k = torch.zeros((n, n), dtype=torch.float64)

    def hook(mod, inp, out) -> None:
        c = (out.detach().reshape(n, -1) > 0).to(torch.float64)
        k.add_(c @ c.t() + (1.0 - c) @ (1.0 - c).t())

    acts = (nn.ReLU, nn.ReLU6, nn.Hardswish)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, acts)]
    try:
        model.train()
        with torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    sign, logdet = torch.linalg.slogdet(k)
    return float(logdet) if float(sign) > 0 else -math.inf


def _grad_scores(model, x, y) -> tuple[float, float]:
    import torch.nn.functional as F

    model.train()
    model.zero_grad()
    F.cross_entropy(model(x), y).backward()
    gn = sn = 0.0
    for w in _weights(model):
        if w.grad is None:
            continue
        gn += float(w.grad.norm().item())
        sn += float((w.grad * w).abs().sum().item())
    return gn, sn


def compute_proxies(space, arch, names: Iterable[str] = PROXIES, batch_size: int = 64, seed: int = 0,
                    classes: int | None = None) -> dict[str, float]:
    """The requested proxies of one arch (see module docstring); each on a freshly initialised network."""
    import torch

    names = list(names)
    bad = [n for n in names if n not in PROXIES]
    if bad:
        raise ValueError(f"unknown proxies {bad} (known: {', '.join(PROXIES)})")
    shape = tuple(space.input_shape(arch, batch_size))
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=gen)

    def build():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return (space.build_torch(arch, prune=False) if getattr(space, "name", "") == "nb201"
                    else space.build_torch(arch))

    out: dict[str, float] = {}
    if "synflow" in names:
        out["synflow"] = _synflow(build(), shape)
    if "naswot" in names:
        out["naswot"] = _naswot(build(), x)
    if "grad_norm" in names or "snip" in names:
        model = build()
        n_classes = classes or model(x[:1]).shape[1]
        y = torch.randint(0, n_classes, (batch_size,), generator=gen)
        gn, sn = _grad_scores(model, x, y)
        if "grad_norm" in names:
            out["grad_norm"] = gn
        if "snip" in names:
            out["snip"] = sn
    return out


class ProxyScorer:
    """``arch -> proxy value`` (cached per arch): a zero-cost accuracy signal for the searches."""

    def __init__(self, space, name: str, batch_size: int = 64, seed: int = 0):
        if name not in PROXIES:
            raise ValueError(f"unknown proxy {name!r} (known: {', '.join(PROXIES)})")
        self.space, self.name, self.batch_size, self.seed = space, name, batch_size, seed
        self._cache: dict[Any, float] = {}

    def __call__(self, arch) -> float:
        v = self._cache.get(arch)
        if v is None:
            v = compute_proxies(self.space, arch, (self.name,), self.batch_size, self.seed)[self.name]
            self._cache[arch] = v
        return v


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman rank correlation of ``a`` with ``b`` (average ranks for ties).  Non-finite values of ``a``
    rank lowest (NaN, −inf) or highest (+inf)."""
    from scipy.stats import spearmanr

    x = np.asarray(a, dtype=float)
    finite = np.isfinite(x)
    if not finite.all():
        lo, hi = (x[finite].min() - 1.0, x[finite].max() + 1.0) if finite.any() else (0.0, 1.0)
        x = np.where(finite, x, np.where(x == np.inf, hi, lo))
    return float(spearmanr(x, np.asarray(b, dtype=float)).statistic)


def proxy_study(space, archs: Sequence[Any], accuracy: Callable[[Any], float], names: Iterable[str] = PROXIES,
                batch_size: int = 64, seed: int = 0, progress: Progress | None = None) -> pd.DataFrame:
    """Proxies of ``archs`` next to their accuracy: one row per arch (``arch``, ``accuracy``, one column per
    proxy, ``seconds``); ``df.attrs['spearman']`` = {proxy: ρ with accuracy}."""
    names = list(names)
    rows = []
    for n, arch in enumerate(archs, start=1):
        t0 = time.perf_counter()
        vals = compute_proxies(space, arch, names, batch_size, seed)
        rows.append({"arch": space.encode(arch), "accuracy": float(accuracy(arch)), **vals,
                     "seconds": time.perf_counter() - t0})
        if progress:
            progress(n, len(archs))
    df = pd.DataFrame(rows)
    df.attrs.update({"space": space.name, "batch_size": batch_size, "seed": seed, "n_archs": len(df),
                     "spearman": {p: spearman(df[p], df["accuracy"]) for p in names}})
    return df
