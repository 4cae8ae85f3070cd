"""The differentiable accelerator search engine and the Gumbel-softmax helpers of the joint search.

Auto-NBA (Fu et al., ICML 2021) treats every accelerator design choice as a categorical variable
with learnable logits: each step samples one *hard* design, costs it with the hardware model, and passes
gradients to the logits with a straight-through estimator.  Here:

* dimension k of the design space (:class:`nas.joint.hwspace.HwSpace`) has logits θ_k and probabilities
  p_k = softmax(θ_k);
* a design is drawn from Π_k p_k restricted to the valid designs by the Gumbel-max trick over the joint
  log-probability Σ_k log p_k[i_k(design)] (invalid combinations are never drawn);
* the drawn design d is costed from the precomputed accelsim table (:mod:`nas.joint.costtable`), and the
  loss gets ``cost(d) · Π_k (onehot_k − p_k.detach() + p_k)[i_k]`` — forward value cost(d), gradient
  cost(d) w.r.t. each sampled probability.

With that estimator alone the expected update minimises Σ_i p_i²·c_i, whose optimum is p ∝ 1/c, not the
cheapest design; subtracting a moving-average baseline b of the sampled cost (REINFORCE's variance
reduction, Williams 1992) — gradient (cost − b) w.r.t. the sampled probabilities — makes the cheapest
design the attractor while keeping the forward value.  :func:`straight_through` implements both.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["gumbel_noise", "gumbel_softmax", "straight_through", "DesignEngine"]


def gumbel_noise(shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
    """Standard Gumbel samples −log(−log U), U ~ Uniform(0, 1)."""
    u = torch.rand(shape, generator=generator).clamp(1e-10, 1.0 - 1e-7)
    return -torch.log(-torch.log(u))


def gumbel_softmax(logits: torch.Tensor, tau: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(soft sample softmax((logits + G) / tau) over the last dim, hard index argmax) — Jang et al. 2017."""
    y = torch.softmax((logits + gumbel_noise(tuple(logits.shape), generator)) / tau, dim=-1)
    return y, y.detach().argmax(dim=-1)


def straight_through(cost: torch.Tensor, selected_probs: torch.Tensor, baseline: float | torch.Tensor = 0.0) -> torch.Tensor:
    """``cost`` in the forward pass; backward, ``(cost − baseline)`` times the gradient of each selected
    probability (``selected_probs``: the probabilities of the sampled choices, any shape; summed).
    Gradients reaching ``cost`` itself pass unchanged."""
    sel = selected_probs.reshape(-1)
    return cost + (cost.detach() - baseline) * (sel - sel.detach()).sum()


class DesignEngine(torch.nn.Module):
    """Categorical distributions over the design dimensions of a hardware space.

    ``sizes[k]``: choices of dimension k; ``index``: (P, K) per-dimension choice of each valid design.
    """

    def __init__(self, sizes: list[int], index: np.ndarray, baseline_momentum: float = 0.9):
        super().__init__()
        self.sizes = [int(s) for s in sizes]
        self.logits = torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(s)) for s in self.sizes])
        idx = np.asarray(index, dtype=np.int64)
        if idx.ndim != 2 or idx.shape[1] != len(self.sizes) or idx.shape[0] < 1:
            raise ValueError(f"index must be (designs >= 1, {len(self.sizes)}), got shape {idx.shape}")
        self.register_buffer("index", torch.as_tensor(idx))
        self.momentum = baseline_momentum
        self.baseline: float | None = None

    @property
    def n_designs(self) -> int:
        return int(self.index.shape[0])

    def probs(self) -> list[torch.Tensor]:
        return [torch.softmax(t, dim=0) for t in self.logits]

    def log_joint(self) -> torch.Tensor:
        """(P,) log Π_k p_k[i_k] of every valid design (unnormalised over the valid set)."""
        out = torch.zeros(self.n_designs)
        for k, lp in enumerate(torch.log_softmax(t, dim=0) for t in self.logits):
            out = out + lp[self.index[:, k]]
        return out

    def design_probs(self) -> torch.Tensor:
        """(P,) probability of each valid design (the product distribution conditioned on validity)."""
        return torch.softmax(self.log_joint().detach(), dim=0)

    def sample(self, generator: torch.Generator) -> int:
        """One valid design drawn from :meth:`design_probs` (Gumbel-max)."""
        if self.n_designs == 1:
            return 0
        g = gumbel_noise((self.n_designs,), generator)
        return int(torch.argmax(self.log_joint().detach() + g))

    def best(self) -> int:
        """The most probable valid design."""
        return int(torch.argmax(self.log_joint().detach()))

    def selected_probs(self, design: int) -> torch.Tensor:
        """(K,) p_k[i_k] of the design's choices (differentiable)."""
        if not self.sizes:
            return torch.zeros(0)
        probs = self.probs()
        return torch.stack([probs[k][self.index[design, k]] for k in range(len(self.sizes))])

    def cost_term(self, design: int, cost: torch.Tensor) -> torch.Tensor:
        """The straight-through loss term of a sampled design's ``cost`` (scalar tensor), updating the
        moving-average baseline."""
        c = float(cost.detach())
        b = c if self.baseline is None else self.baseline
        self.baseline = c if self.baseline is None else self.momentum * self.baseline + (1 - self.momentum) * c
        return straight_through(cost, self.selected_probs(design), b)

    def expected(self, cost_per_design: np.ndarray | torch.Tensor) -> float:
        """Σ_p P(p) · cost[p] under the current distribution."""
        c = torch.as_tensor(np.asarray(cost_per_design, dtype=np.float64)).float()
        return float((self.design_probs() * c).sum())
