"""Training and searching: supernet warm-up, the Auto-NBA joint search, fine-tuning a derived network.

Phases (all single-path, so memory does not grow with the number of candidates):

1. **warm-up** (``warmup_epochs``): only the supernet weights train, on uniformly sampled operators with
   a uniform soft mixture over the bitwidths (every bitwidth's quantizer sees every update).
2. **joint search** (the remaining epochs), alternating per batch (first-order bi-level, as DARTS / Auto-NBA):

   * *weight step* on a training batch: operator ``o_l`` sampled hard from Gumbel-softmax(α_l, τ);
     bitwidths as the soft Gumbel-softmax mixture over β_{l,o_l} (Auto-NBA's heterogeneous sampling:
     operators hard, bitwidths soft for the weight update — ``bit_heterogenous_search`` in its released
     code — in one convolution per layer, so memory stays constant);
     loss: cross-entropy, or CHaNAS's generalization-gap objective
     ``L_train + λ·|L_val − L_train|`` (Eq. 3, λ = 0.45) on a training and a validation batch through the same
     sampled path.
   * *architecture step* on a validation batch: operator and bitwidth both hard (one path, one bitwidth),
     with straight-through gates (1 in the forward pass) carrying gradients to α and β; one accelerator
     design d drawn by the :class:`~nas.joint.engine.DesignEngine`; loss
     ``CE + Σ_l c_l + c_fixed`` where ``c = w_lat·latency/latency_ref + w_en·energy/energy_ref`` read from
     the accelsim cost table for (o_l, b_l, d) — its gradient reaches α, β through the sampled choices'
     probabilities and the design logits through the engine's straight-through estimator (each with a
     moving-average baseline, see :mod:`nas.joint.engine`).  latency_ref / energy_ref: the uniform
     average over operators and bitwidths on the reference accelerator (so w = 1 weighs one "typical"
     network's cost like one nat of cross-entropy).
   τ anneals geometrically from ``tau_start`` to ``tau_end`` over the search epochs (Auto-NBA: 5 with decay).
3. **derive**: o_l = argmax α_l, b_l = argmax β_{l,o_l}, the most probable valid design (with a power budget:
   the most probable one the derived network fits, :func:`pick_design`); the path's
   BatchNorm statistics are recalibrated (:func:`calibrate`) before its weights are inherited.
4. **fine-tune**: the derived network (weights inherited) trains with its fixed bitwidths (QAT).
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np
import torch
import torch.nn.functional as F

from nas.joint.costtable import CostTable
from nas.joint.data import ImageData
from nas.joint.engine import DesignEngine, gumbel_softmax, straight_through
from nas.joint.supernet import DerivedNet, FBNetSupernet

__all__ = ["JointConfig", "SearchOutcome", "Batches", "gen_gap_loss", "supernet_loss", "warmup_supernet",
           "joint_search", "finetune", "accuracy", "path_accuracy", "calibrate", "hw_objective", "copy_model",
           "power_mw", "pick_design"]

Log = Callable[[str, int, int], None]


@dataclass(frozen=True)
class JointConfig:
    """Hyper-parameters of warm-up, search and fine-tuning (epochs are passes over the training split)."""

    epochs: int = 10
    warmup_epochs: int | None = None  # default: epochs // 3
    finetune_epochs: int = 2
    batch_size: int = 64
    lr: float = 0.05  # SGD (Nesterov momentum 0.9), cosine schedule
    weight_decay: float = 5e-4
    arch_lr: float = 0.02  # Adam on α, β (betas 0.5, 0.999, as Auto-NBA / DARTS)
    design_lr: float = 0.05  # Adam on the design logits
    latency_weight: float = 1.0
    energy_weight: float = 0.0
    objective: Literal["plain", "gen-gap"] = "plain"
    gen_gap_lambda: float = 0.45  # CHaNAS Eq. 3
    tau_start: float = 5.0
    tau_end: float = 0.5
    augment: bool = True
    seed: int = 0
    power_penalty: float = 10.0  # loss per unit of relative excess over the power budget (joint_search max_power_mw)

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {self.epochs}")
        if self.warmup_epochs is not None and not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"warmup_epochs must be in [0, epochs), got {self.warmup_epochs}")
        if self.finetune_epochs < 0 or self.batch_size < 1:
            raise ValueError("finetune_epochs must be >= 0 and batch_size >= 1")
        if self.power_penalty < 0:
            raise ValueError(f"power_penalty must be >= 0, got {self.power_penalty}")
        if self.latency_weight < 0 or self.energy_weight < 0:
            raise ValueError("latency and energy weights must be >= 0")
        if self.objective not in ("plain", "gen-gap"):
            raise ValueError(f"objective must be plain or gen-gap, got {self.objective!r}")
        if not 0 < self.tau_end <= self.tau_start:
            raise ValueError("need 0 < tau_end <= tau_start")

    @property
    def n_warmup(self) -> int:
        return self.epochs // 3 if self.warmup_epochs is None else self.warmup_epochs


@dataclass
class SearchOutcome:
    """A derived architecture: ``ops[l]``, ``bits[l]`` (choice indices), ``design`` (table column) and the
    per-step ``history`` rows."""

    ops: list[int]
    bits: list[int]
    design: int
    history: list[dict] = field(default_factory=list)
    alpha: np.ndarray | None = None
    beta: np.ndarray | None = None
    design_probs: np.ndarray | None = None


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------
class Batches:
    """Mini-batches of an :class:`ImageData` as normalised float tensors (N, 3, R, R).

    ``augment``: CIFAR's standard random crop (4-pixel zero padding) and horizontal flip, before resizing
    to ``resolution`` (bilinear, antialiased) when it differs from the stored size.
    """

    def __init__(self, data: ImageData, batch_size: int, resolution: int, generator: torch.Generator,
                 augment: bool = False):
        self.data = data
        self.batch_size = min(batch_size, len(data))
        self.resolution = resolution
        self.generator = generator
        self.augment = augment
        self.mean = torch.tensor(data.mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(data.std, dtype=torch.float32).view(1, 3, 1, 1)
        self._perm: list[int] = []

    def __len__(self) -> int:
        return len(self.data) // self.batch_size

    def tensor(self, idx: np.ndarray, augment: bool) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.from_numpy(self.data.images[idx]).float().div_(255.0)
        x = (x - self.mean) / self.std
        if augment:
            n, _, h, w = x.shape
            pad = F.pad(x, (4, 4, 4, 4))
            off = torch.randint(0, 9, (n, 2), generator=self.generator)
            flip = torch.rand(n, generator=self.generator) < 0.5
            out = torch.empty_like(x)
            for i in range(n):
                crop = pad[i, :, off[i, 0]:off[i, 0] + h, off[i, 1]:off[i, 1] + w]
                out[i] = crop.flip(-1) if flip[i] else crop
            x = out
        if x.shape[-1] != self.resolution:
            x = F.interpolate(x, size=(self.resolution, self.resolution), mode="bilinear", antialias=True,
                              align_corners=False)
        return x, torch.from_numpy(self.data.labels[idx])

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next batch of an endless reshuffled stream."""
        if len(self._perm) < self.batch_size:
            self._perm = torch.randperm(len(self.data), generator=self.generator).tolist()
        idx = np.array(self._perm[:self.batch_size])
        self._perm = self._perm[self.batch_size:]
        return self.tensor(idx, self.augment)

    def ordered(self, batch_size: int = 256):
        """All images in order, unaugmented (for evaluation)."""
        for s in range(0, len(self.data), batch_size):
            yield self.tensor(np.arange(s, min(s + batch_size, len(self.data))), False)


# ---------------------------------------------------------------------------------------------
# Losses
# ---------------------------------------------------------------------------------------------
def gen_gap_loss(train_loss: torch.Tensor, val_loss: torch.Tensor, lam: float = 0.45) -> torch.Tensor:
    """CHaNAS's supernet objective (Eq. 3): L_train + λ·|L_val − L_train|."""
    return train_loss + lam * (val_loss - train_loss).abs()


def supernet_loss(model: FBNetSupernet, train: tuple[torch.Tensor, torch.Tensor],
                  val: tuple[torch.Tensor, torch.Tensor] | None, ops, bits, objective: str = "plain",
                  lam: float = 0.45) -> tuple[torch.Tensor, float, float]:
    """(loss, train CE, val CE) of one sampled path; ``objective="gen-gap"`` needs ``val``."""
    ce_tr = F.cross_entropy(model(train[0], ops, bits), train[1])
    if objective == "plain":
        return ce_tr, float(ce_tr.detach()), math.nan
    if val is None:
        raise ValueError("the gen-gap objective needs a validation batch")
    ce_val = F.cross_entropy(model(val[0], ops, bits), val[1])
    return gen_gap_loss(ce_tr, ce_val, lam), float(ce_tr.detach()), float(ce_val.detach())


def hw_objective(latency_s, energy_pj, config: JointConfig, ref: tuple[float, float]):
    """w_lat·latency/latency_ref + w_en·energy/energy_ref (elementwise on arrays)."""
    return config.latency_weight * latency_s / ref[0] + config.energy_weight * energy_pj / ref[1]


# ---------------------------------------------------------------------------------------------
# Phases
# ---------------------------------------------------------------------------------------------
def _sgd(params, config: JointConfig, steps: int, lr: float):
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=True, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, steps))
    return opt, sched


@torch.no_grad()
def calibrate(model: torch.nn.Module, forward, batches: Batches, n_batches: int = 4) -> None:
    """Re-estimate BatchNorm statistics (cumulative average) and activation ranges of one supernet path
    from ``n_batches`` training batches — the one-shot NAS recalibration (Guo et al., ECCV 2020): a path's
    BN statistics are otherwise stale because the path is sampled only now and then."""
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    momenta = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    was = model.training
    model.train()
    for _ in range(n_batches):
        forward(batches.next()[0])
    for m, mo in zip(bns, momenta):
        m.momentum = mo
    model.train(was)


@torch.no_grad()
def path_accuracy(model: FBNetSupernet, ops, bits, calib: Batches, batches: Batches) -> float:
    """Accuracy of one supernet path after :func:`calibrate`; the model's buffers are restored after."""
    saved = {k: v.clone() for k, v in model.named_buffers()}
    calibrate(model, lambda x: model(x, ops, bits), calib)
    acc = accuracy(model, batches, lambda x: model(x, ops, bits))
    bufs = dict(model.named_buffers())
    for k, v in saved.items():
        bufs[k].copy_(v)
    return acc


@torch.no_grad()
def accuracy(model: torch.nn.Module, batches: Batches, forward=None) -> float:
    """Top-1 accuracy (fraction) over all of ``batches.data`` in eval mode."""
    was = model.training
    model.eval()
    correct = total = 0
    for x, y in batches.ordered():
        logits = forward(x) if forward is not None else model(x)
        correct += int((logits.argmax(1) == y).sum())
        total += len(y)
    model.train(was)
    return correct / max(1, total)


def warmup_supernet(model: FBNetSupernet, train: Batches, val: Batches, config: JointConfig,
                    generator: torch.Generator, log: Log | None = None) -> list[dict]:
    """Warm-up phase (module docstring); returns history rows."""
    n_layers, n_ops, n_bits = len(model.layers), 9, len(model.bits)
    steps = config.n_warmup * len(train)
    opt, sched = _sgd(model.parameters(), config, max(steps, 1), config.lr)
    hist = []
    uniform = torch.full((n_bits,), 1.0 / n_bits)
    model.train()
    for epoch in range(config.n_warmup):
        t0 = time.perf_counter()
        losses = []
        for step in range(len(train)):
            ops = torch.randint(0, n_ops, (n_layers,), generator=generator).tolist()
            loss, ce_tr, ce_val = supernet_loss(model, train.next(), val.next() if config.objective == "gen-gap" else None,
                                                ops, [uniform] * n_layers, config.objective, config.gen_gap_lambda)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            losses.append(ce_tr)
            hist.append({"phase": "warmup", "epoch": epoch, "step": len(hist), "train_loss": ce_tr,
                         "val_loss_weights": ce_val, "loss": loss.item()})
        if log:
            log(f"warm-up epoch {epoch + 1}/{config.n_warmup}: train loss {np.mean(losses):.3f} "
                f"({time.perf_counter() - t0:.1f} s)", epoch + 1, config.n_warmup)
    return hist


def power_mw(latency_s, energy_pj):
    """Average power (mW) of a network: energy / latency (pJ/s = 1e-9 mW); inf where the latency is 0."""
    lat = np.asarray(latency_s, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(lat > 0, np.asarray(energy_pj, dtype=float) / lat * 1e-9, np.inf)


def pick_design(probs: np.ndarray, power: np.ndarray, max_power_mw: float | None) -> int:
    """Feasibility first: the most probable design whose network power fits ``max_power_mw``; when none fits,
    the one that exceeds it least (ties: the more probable).  Without a budget: the most probable."""
    probs = np.asarray(probs, dtype=float)
    if max_power_mw is None:
        return int(np.argmax(probs))
    excess = np.maximum(0.0, np.asarray(power, dtype=float) / max_power_mw - 1.0)
    ok = excess == 0
    if ok.any():
        return int(np.flatnonzero(ok)[np.argmax(probs[ok])])
    return int(np.lexsort((-probs, excess))[0])


def joint_search(model: FBNetSupernet, train: Batches, val: Batches, table: CostTable, engine: DesignEngine | None,
                 design_columns: np.ndarray, config: JointConfig, ref: tuple[float, float],
                 generator: torch.Generator, fixed_design: int | None = None, log: Log | None = None,
                 max_power_mw: float | None = None) -> SearchOutcome:
    """Joint search phase (module docstring).

    ``engine`` samples design ``p`` ∈ [0, P), costed from table column ``design_columns[p]``; with
    ``engine=None`` every step uses table column ``fixed_design`` (hardware-aware NAS on one accelerator:
    the first half of the decoupled baseline).  ``ref``: (latency_s, energy_pj) normalisers.

    ``max_power_mw`` (the sweep's power budget: average power = energy / latency of the sampled network on the
    sampled design): a sampled pair above it adds ``config.power_penalty · (power / budget − 1)`` to the
    architecture step's hardware cost (its gradient reaches α, β and the design logits through the same
    straight-through estimators), and the derived design is chosen feasibility first (:func:`pick_design`:
    the most probable design on which the derived network fits the budget).
    """
    L, n_ops = len(model.layers), 9
    B = len(model.bits)
    epochs = config.epochs - config.n_warmup
    alpha = torch.nn.Parameter(torch.zeros(L, n_ops))
    beta = torch.nn.Parameter(torch.zeros(L, n_ops, B))
    arch_opt = torch.optim.Adam([alpha, beta], lr=config.arch_lr, betas=(0.5, 0.999))
    design_opt = (torch.optim.Adam(engine.parameters(), lr=config.design_lr, betas=(0.5, 0.999))
                  if engine is not None and engine.sizes else None)
    steps = epochs * len(train)
    opt, sched = _sgd(model.parameters(), config, max(steps, 1), config.lr)
    lat_t = torch.as_tensor(table.latency_s)
    en_t = torch.as_tensor(table.energy_pj)
    baselines = np.full(L, np.nan)
    pen_baseline: float | None = None
    hist: list[dict] = []
    li = torch.arange(L)
    model.train()
    for epoch in range(epochs):
        t0 = time.perf_counter()
        tau = config.tau_start * (config.tau_end / config.tau_start) ** (epoch / max(1, epochs - 1))
        for step in range(len(train)):
            # -- weight step: operators hard, bitwidths soft (heterogeneous sampling) ------------------
            with torch.no_grad():
                _, ops_w = gumbel_softmax(alpha, tau, generator)
                yb_w, _ = gumbel_softmax(beta[li, ops_w], tau, generator)
            loss, ce_tr, ce_val = supernet_loss(model, train.next(), val.next() if config.objective == "gen-gap" else None,
                                                ops_w.tolist(), list(yb_w), config.objective, config.gen_gap_lambda)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            # -- architecture step: operators and bitwidths hard with straight-through gates ------------
            ya, oa = gumbel_softmax(alpha, tau, generator)
            yb, bb = gumbel_softmax(beta[li, oa], tau, generator)
            pa, pb = ya[li, oa], yb[li, bb]
            op_gates = 1.0 + pa - pa.detach()
            bit_gates = 1.0 + pb - pb.detach()
            xv, yv = val.next()
            logits = model(xv, oa.tolist(), [(int(bb[l]), bit_gates[l]) for l in range(L)], op_gates)
            ce = F.cross_entropy(logits, yv)
            p = engine.sample(generator) if engine is not None else 0
            col = int(design_columns[p]) if engine is not None else int(fixed_design)
            lat_l = lat_t[li, oa, bb, col]
            en_l = en_t[li, oa, bb, col]
            c_l = hw_objective(lat_l, en_l, config, ref).float()
            c_fixed = float(hw_objective(table.fixed_latency_s[col], table.fixed_energy_pj[col], config, ref))
            hw = torch.tensor(c_fixed)
            cl = c_l.detach().numpy()
            for l in range(L):
                b = cl[l] if np.isnan(baselines[l]) else baselines[l]
                hw = hw + straight_through(c_l[l], torch.stack([pa[l], pb[l]]), float(b))
            baselines = np.where(np.isnan(baselines), cl, 0.9 * baselines + 0.1 * cl)
            if max_power_mw is not None and config.power_penalty > 0:
                pw = float(power_mw(table.fixed_latency_s[col] + float(lat_l.sum()),
                                    table.fixed_energy_pj[col] + float(en_l.sum())))
                pen = config.power_penalty * max(0.0, pw / max_power_mw - 1.0)
                pen_b = pen if pen_baseline is None else pen_baseline
                pen_baseline = pen if pen_baseline is None else 0.9 * pen_baseline + 0.1 * pen
                hw = hw + straight_through(torch.tensor(pen), torch.cat([pa, pb]), pen_b)
            total = hw.detach()
            if engine is not None:
                hw = hw + engine.cost_term(p, total) - total
            arch_loss = ce + hw
            arch_opt.zero_grad()
            if design_opt:
                design_opt.zero_grad()
            arch_loss.backward()
            arch_opt.step()
            if design_opt:
                design_opt.step()
            model.zero_grad(set_to_none=True)
            hist.append({"phase": "search", "epoch": config.n_warmup + epoch, "step": step, "tau": tau,
                         "train_loss": ce_tr, "val_loss_weights": ce_val, "loss": loss.item(), "val_loss": ce.item(),
                         "hw_cost": float(total), "design": col,
                         "sampled_latency_ms": 1e3 * float(table.fixed_latency_s[col] + lat_l.sum()),
                         "sampled_energy_mj": 1e-9 * float(table.fixed_energy_pj[col] + en_l.sum())})
        ops_now = alpha.detach().argmax(1)
        bits_now = beta.detach()[li, ops_now].argmax(1)
        lat_all, en_all = table.totals(ops_now.tolist(), bits_now.tolist())
        if engine is not None:
            best = int(design_columns[pick_design(engine.design_probs().numpy(),
                                                  power_mw(lat_all, en_all)[design_columns], max_power_mw)])
            exp_lat = engine.expected(lat_all[design_columns])
            exp_en = engine.expected(en_all[design_columns])
        else:
            best, exp_lat, exp_en = int(fixed_design), float(lat_all[fixed_design]), float(en_all[fixed_design])
        acc = path_accuracy(model, ops_now.tolist(), bits_now.tolist(), train, val)
        row = {"phase": "search-epoch", "epoch": config.n_warmup + epoch, "step": len(train) - 1, "tau": tau,
               "val_acc": acc, "argmax_latency_ms": 1e3 * float(lat_all[best]),
               "argmax_energy_mj": 1e-9 * float(en_all[best]), "expected_latency_ms": 1e3 * exp_lat,
               "expected_energy_mj": 1e-9 * exp_en, "design": best}
        if engine is not None:
            row["design_prob"] = float(engine.design_probs().max())
        hist.append(row)
        if log:
            log(f"search epoch {epoch + 1}/{epochs}: val acc {acc:.3f}, argmax network {1e3 * lat_all[best]:.3f} ms on "
                f"design {best} (tau {tau:.2f}, {time.perf_counter() - t0:.1f} s)", epoch + 1, epochs)
    ops = alpha.detach().argmax(1)
    bits = beta.detach()[li, ops].argmax(1)
    if engine is not None:
        lat_all, en_all = table.totals(ops.tolist(), bits.tolist())
        design = int(design_columns[pick_design(engine.design_probs().numpy(), power_mw(lat_all, en_all)[design_columns],
                                                max_power_mw)])
    else:
        design = int(fixed_design)
    return SearchOutcome(ops.tolist(), bits.tolist(), design, hist, alpha.detach().numpy().copy(),
                         beta.detach().numpy().copy(),
                         engine.design_probs().numpy().copy() if engine is not None else None)


def finetune(net: DerivedNet, train: Batches, val: Batches, config: JointConfig, label: str = "finetune",
             log: Log | None = None) -> list[dict]:
    """Quantization-aware fine-tuning of a derived network (inherited weights); returns history rows."""
    steps = config.finetune_epochs * len(train)
    opt, sched = _sgd(net.parameters(), config, max(steps, 1), config.lr * 0.5)
    net.set_quantize(True)
    net.train()
    hist = []
    for epoch in range(config.finetune_epochs):
        t0 = time.perf_counter()
        losses = []
        for step in range(len(train)):
            x, y = train.next()
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
            hist.append({"phase": label, "epoch": config.epochs + epoch, "step": step, "train_loss": loss.item()})
        acc = accuracy(net, val)
        hist.append({"phase": label + "-epoch", "epoch": config.epochs + epoch, "step": len(train) - 1, "val_acc": acc})
        if log:
            log(f"{label} epoch {epoch + 1}/{config.finetune_epochs}: train loss {np.mean(losses):.3f}, val acc {acc:.3f} "
                f"({time.perf_counter() - t0:.1f} s)", epoch + 1, config.finetune_epochs)
    return hist


def copy_model(model: torch.nn.Module) -> torch.nn.Module:
    """An independent deep copy (weights, BN statistics, activation ranges)."""
    return copy.deepcopy(model)
