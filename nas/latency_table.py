"""Latency lookup tables (CHaNAS) and layer-adaptive latency correction (BBSSP).

* :class:`LayerTable` — per unique layer shape latency (s) and energy (pJ).  Built from the accelsim
  model (each shape mapped once on the accelerator, lazily, through a shared
  :class:`mapper.network.NetworkEvaluator`) or from measurements (:meth:`LayerTable.from_frame`).  A
  network's table latency is the sum over its layers — CHaNAS eq. (5) at layer granularity; since
  accelsim runs layers one after another this equals :func:`mapper.network.evaluate_network`.
* :class:`BlockTable` — CHaNAS' block LUT: one entry per distinct block (an MBConv unit, a DARTS cell,
  an FBNet layer, an NB201 cell) keyed by the shapes of its layers; a network is the sum of its blocks
  (eq. 5).  From the model a block entry is the sum of its layers; from measurements it is whatever the
  device took for the block, which captures fusion the layer table cannot.
* :func:`fit_correction` — BBSSP's layer-adaptive correction (Zeng et al. ASP-DAC 2020, §"layer adaptive
  latency correction"), the one correction of accelsim (``accelsim nas-latency`` and ``accelsim xcheck`` use
  it): a table built from isolated layers mispredicts whole networks because a compiler treats layer types
  differently.  With ``T[n, t]`` = table (model) latency of the layers of type ``t`` (:func:`layer_type`) in
  network ``n`` and measured whole-network latencies ``y[n]``, fit factors ``α_t`` within :data:`FACTOR_RANGE`
  (1/8 … 8×) of the single best global factor by bounded least squares on the *relative* error
  ``Σ_n ((Σ_t α_t T[n, t] − y[n]) / y[n])²`` (small and large networks weigh alike); corrected latency = ``Σ_t α_t T[n, t]``.  There is no intercept: a fixed
  per-inference overhead would be confounded with every layer type that all networks share at the same size
  (stem, classifier), making those factors arbitrary, and those types absorb it anyway.  A type no training
  network exercises gets ``default_factor`` = :func:`global_factor`, the one factor of all types that fits the
  training networks best (the table's overall bias is the best guess for it; 1 when nothing was fitted — the
  median of the fitted factors, used before, inherits their noise: 10 NB201 networks gave 3.0 and put every
  MBConv / FBNet / DARTS network 3.6× too slow).  Few networks (K training networks, C exercised types):
  with K < C the least-squares problem is underdetermined, and with K a little above C ten noisy networks
  still pin C free factors badly (fitted on 10 of 602 measured networks, an unregularised fit was *worse* than
  no correction for onnxruntime: held-out MAPE 22 ± 15 % vs 16 %), so the fit is regularised toward the
  uncorrected model, minimising ``Σ_n r_n² + λ·Σ_t (α_t − 1)²`` (``prior_weight`` λ).  By default λ is chosen
  by cross-validation on the training networks alone (:func:`choose_prior_weight`: the λ of
  :data:`PRIOR_WEIGHT_GRID` with the least squared relative error on held-out training networks, leave-one-out
  up to 10 networks, 10 folds above; λ = 0 only where the folds' fits are determined; with fewer than 3
  networks :data:`FEW_SHOT_PRIOR_WEIGHT` when K < C, else 0); an explicit ``prior_weight`` is used as given
  (``prior_weight=0`` with K < C raises :class:`CorrectionError`).  :func:`correction_study` reports the error before (α = 1) and after on one
  held-out split; :func:`held_out_error` the few-shot protocol: fit on K networks, test on the rest, over
  many random splits (mean and spread of the held-out MAPE).
* :class:`SpaceHardware` — per-architecture hardware metrics for a search space (latency, energy, MACs),
  the ``hardware`` half of a NAS problem: NAS-Bench-201 uses :func:`nas.hwcost.nb201_hwcost` (all
  15,625 archs at once), other spaces the layer table.
"""

from __future__ import annotations

import math
import re
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from accel.errors import InputError
from accel.workload import Layer, Network

__all__ = ["layer_type", "layer_key", "LayerTable", "BlockTable", "LatencyCorrection", "fit_correction", "fit_type_correction", "split_train",
           "correction_study", "choose_prior_weight", "SpaceHardware", "type_matrix", "type_totals", "BLOCK_PATTERNS", "CorrectionError",
           "HeldOutError", "held_out_error", "FEW_SHOT_PRIOR_WEIGHT"]

Progress = Callable[[int, int], None]


def layer_type(layer: Layer) -> str:
    """The correction class of a layer: ``conv{R}x{S}``, ``dwconv{R}x{S}`` (depthwise), ``gconv{R}x{S}``
    (other grouped), ``fc`` (also matmul), ``maxpool``, ``avgpool``, or the element-wise op name."""
    if layer.op == "conv":
        kind = "dwconv" if layer.G > 1 and layer.K == 1 and layer.C == 1 else ("gconv" if layer.G > 1 else "conv")
        return f"{kind}{layer.R}x{layer.S}"
    if layer.op in ("fc", "matmul"):
        return "fc"
    return layer.op


def layer_key(layer: Layer) -> str:
    """A readable string that identifies everything the cost model sees (like ``Layer.shape_key``)."""
    flags = (" binary" if layer.binary else "") + (" broadcast" if layer.broadcast else "")
    return layer.describe() + flags


# ---------------------------------------------------------------------------------------------
# Layer table
# ---------------------------------------------------------------------------------------------
class LayerTable:
    """Latency (s) and energy (pJ) per unique layer shape (module docstring).

    ``evaluator``: a :class:`mapper.network.NetworkEvaluator` that fills misses from the model; None for a
    measured table (a miss raises ``KeyError``).  Layers the mapper cannot place on the accelerator cost
    ``inf`` (``unmappable`` lists them).
    """

    def __init__(self, evaluator=None, entries: dict[str, tuple[float, float]] | None = None, source: str = ""):
        self.evaluator = evaluator
        self.entries: dict[str, tuple[float, float]] = dict(entries or {})
        self.types: dict[str, str] = {}
        self.unmappable: list[str] = []
        self.source = source or (evaluator.arch.name if evaluator is not None else "measured")

    @classmethod
    def from_model(cls, hw, objective: str = "edp", seed: int = 0, effort: str = "thorough") -> "LayerTable":
        """An empty table that maps each new shape on ``hw`` (an :class:`accel.arch.Arch` or config path) with
        the mapper's ``effort`` budget (:data:`mapper.search.BUDGETS`)."""
        from accel.arch import Arch, load_arch
        from mapper.network import NetworkEvaluator

        arch = hw if isinstance(hw, Arch) else load_arch(hw)
        return cls(NetworkEvaluator(arch, objective=objective, seed=seed, effort=effort))

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> "LayerTable":
        """A measured table: columns ``layer`` (:func:`layer_key` strings), ``latency_s`` and optionally
        ``energy_pj`` (NaN when absent)."""
        missing = {"layer", "latency_s"} - set(df.columns)
        if missing:
            raise ValueError(f"layer table frame: missing columns {sorted(missing)}")
        energy = df["energy_pj"] if "energy_pj" in df.columns else pd.Series(np.nan, index=df.index)
        entries = {str(k): (float(t), float(e)) for k, t, e in zip(df["layer"], df["latency_s"], energy)}
        return cls(None, entries, source=str(df.attrs.get("source", "measured")))

    def prefetch(self, layers: Iterable[Layer], executor: Executor | None = None,
                 progress: Progress | None = None) -> int:
        """Fill the entries of all new shapes among ``layers`` (concurrently on ``executor``: threads);
        returns how many were new.  ``progress(done, total)`` after each."""
        todo: dict[str, Layer] = {}
        for layer in layers:
            k = layer_key(layer)
            if k not in self.entries:
                todo.setdefault(k, layer)
        if not todo or self.evaluator is None:
            return 0
        items = list(todo.items())
        layers = [la for _, la in items]
        results = executor.map(self._model, layers) if executor else map(self._model, layers)
        for n, ((k, layer), val) in enumerate(zip(items, results), start=1):
            self._store(k, layer, val)
            if progress:
                progress(n, len(items))
        return len(items)

    def _model(self, layer: Layer) -> tuple[float, float] | None:
        from mapper.mapspace import NoValidMapping

        try:
            c = self.evaluator.layer(layer).cost
        except NoValidMapping:
            return None
        return float(c.latency_s), float(c.energy_pj)

    def _store(self, k: str, layer: Layer, val: tuple[float, float] | None) -> None:
        if val is None:
            self.unmappable.append(k)
            val = (math.inf, math.inf)
        self.entries[k] = val
        self.types[k] = layer_type(layer)

    def layer(self, layer: Layer) -> tuple[float, float]:
        """(latency_s, energy_pj) of one layer."""
        k = layer_key(layer)
        hit = self.entries.get(k)
        if hit is None:
            if self.evaluator is None:
                raise KeyError(f"layer table ({self.source}) has no entry for {k!r}")
            self._store(k, layer, self._model(layer))
            hit = self.entries[k]
        return hit

    def network(self, net: Network) -> dict[str, float]:
        """Table totals: ``latency_s``, ``energy_pj``, ``macs`` and ``layers``."""
        lat = en = 0.0
        for layer in net.layers:
            t, e = self.layer(layer)
            lat += t
            en += e
        return {"latency_s": lat, "energy_pj": en, "macs": float(net.macs), "layers": float(len(net.graph))}

    def by_type(self, net: Network) -> dict[str, float]:
        """Table latency (s) of ``net`` summed per :func:`layer_type`."""
        return type_totals((layer, self.layer(layer)[0]) for layer in net.layers)

    def to_frame(self) -> pd.DataFrame:
        """One row per entry: layer, type, latency_s, energy_pj (``attrs['source']``)."""
        df = pd.DataFrame({"layer": list(self.entries), "type": [self.types.get(k, "") for k in self.entries],
                           "latency_s": [v[0] for v in self.entries.values()],
                           "energy_pj": [v[1] for v in self.entries.values()]})
        df.attrs["source"] = self.source
        return df

    def __len__(self) -> int:
        return len(self.entries)


# ---------------------------------------------------------------------------------------------
# Block table (CHaNAS eq. 5)
# ---------------------------------------------------------------------------------------------
# How layer names group into blocks, per space (layers outside any block are their own block).
BLOCK_PATTERNS: dict[str, str] = {
    "nb201": r"^(stage\d+\.cell\d+|reduce\d+)\.",
    "darts": r"^(cell\d+)\.",
    "mbconv": r"^(stage\d+\.unit\d+|first_block)\.",
    "fbnet": r"^(L\d+)\.",
}


def split_blocks(net: Network, pattern: str) -> list[tuple[str, list[Layer]]]:
    """Layers grouped into blocks by the name prefix ``pattern`` captures, in network order."""
    rx = re.compile(pattern)
    blocks: dict[str, list[Layer]] = {}
    for layer in net.layers:
        m = rx.match(layer.name)
        blocks.setdefault(m.group(1) if m else layer.name, []).append(layer)
    return list(blocks.items())


def block_key(layers: Sequence[Layer]) -> str:
    """A block's identity: the :func:`layer_key` of its layers in order, joined by ``; ``."""
    return "; ".join(layer_key(la) for la in layers)


class BlockTable:
    """Block latency LUT (module docstring).  ``layers``: a :class:`LayerTable` that fills misses (model
    source); None for a measured table (a miss raises ``KeyError``)."""

    def __init__(self, pattern: str, layers: LayerTable | None = None, entries: dict[str, float] | None = None):
        self.pattern = pattern
        self.layers = layers
        self.entries: dict[str, float] = dict(entries or {})

    @classmethod
    def for_space(cls, space_name: str, layers: LayerTable | None = None) -> "BlockTable":
        base = space_name.split("_")[0]
        if base not in BLOCK_PATTERNS:
            raise KeyError(f"no block pattern for space {space_name!r} (known: {', '.join(BLOCK_PATTERNS)})")
        return cls(BLOCK_PATTERNS[base], layers)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, pattern: str) -> "BlockTable":
        """A measured table: columns ``block`` (:func:`block_key` strings) and ``latency_s``."""
        missing = {"block", "latency_s"} - set(df.columns)
        if missing:
            raise ValueError(f"block table frame: missing columns {sorted(missing)}")
        return cls(pattern, None, {str(k): float(v) for k, v in zip(df["block"], df["latency_s"])})

    def block(self, layers: Sequence[Layer]) -> float:
        k = block_key(layers)
        hit = self.entries.get(k)
        if hit is None:
            if self.layers is None:
                raise KeyError(f"block table has no entry for {k!r}")
            hit = self.entries[k] = sum(self.layers.layer(la)[0] for la in layers)
        return hit

    def latency_s(self, net: Network) -> float:
        """Σ over the network's blocks of their table latency (s)."""
        return sum(self.block(ls) for _, ls in split_blocks(net, self.pattern))

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"block": list(self.entries), "latency_s": list(self.entries.values())})

    def __len__(self) -> int:
        return len(self.entries)


# ---------------------------------------------------------------------------------------------
# BBSSP layer-adaptive correction
# ---------------------------------------------------------------------------------------------
class CorrectionError(InputError):
    """A latency correction that cannot be fitted as asked (mismatched sizes, non-positive measurements, fewer
    training networks than layer types without regularisation, too few networks to split)."""


FEW_SHOT_PRIOR_WEIGHT = 0.1
"""λ of the pull toward α = 1 when fewer than 3 networks (too few to cross-validate) and fewer networks than
layer types are fitted (module docstring).  The residuals are relative errors, so λ = 0.1 weighs a factor's
distance from 1 like a 32 % error on one network: large enough to pin the directions no network determines,
small next to the data's pull."""

PRIOR_WEIGHT_GRID = (0.0, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 100.0)
"""The λ :func:`choose_prior_weight` picks from (0: plain NNLS; 100: factors within a few % of 1)."""

FACTOR_RANGE = (0.125, 8.0)
"""The bounds of every fitted factor relative to the global factor g (:func:`global_factor`: the single factor that
fits the networks best): a correction may treat one layer type at most 8× differently from the table's overall
bias, which itself is free (a table built for another chip: :func:`correction_study`).  Plain non-negative least
squares let a type that every training network runs at the same size (NAS-Bench-201's classifier, its stem) act
as an intercept: fitted on 10 NB201 networks of the ``xeon-kvm-3`` device study (bench/results) it gave the
classifier a factor of 849 and the 1×1 convs and additions 0 — no layer's cost is 0 or 849× its model — and put
held-out networks 3–4× too slow (held-out MAPE 52 % against 18.5 % uncorrected; with the bounds 19.8 %)."""

CV_FOLDS = 10  # leave-one-out up to this many training networks, this many folds (network i in fold i mod 10) above


def type_totals(pairs: Iterable[tuple[Layer, float]]) -> dict[str, float]:
    """Σ latency (s) per :func:`layer_type` over ``(layer, latency_s)`` pairs — one row of the correction's
    table-latency matrix (from a :class:`LayerTable`, or from a network evaluation's per-layer costs)."""
    out: dict[str, float] = {}
    for layer, t in pairs:
        k = layer_type(layer)
        out[k] = out.get(k, 0.0) + float(t)
    return out


def type_matrix(nets: Sequence[Network], table: LayerTable, types: Sequence[str] | None = None
                ) -> tuple[np.ndarray, list[str]]:
    """(n_nets × n_types) table latency (s) per layer type, and the type names (sorted unless given)."""
    per = [table.by_type(n) for n in nets]
    names = list(types) if types is not None else sorted({t for p in per for t in p})
    return np.array([[p.get(t, 0.0) for t in names] for p in per], dtype=float), names


@dataclass(frozen=True)
class LatencyCorrection:
    """BBSSP correction (module docstring): per-layer-type factors ``factors[type]`` and ``default_factor``
    for types never seen in training (:func:`global_factor` of the training networks); ``prior_weight``: the λ the fit
    used (0: plain NNLS)."""

    factors: dict[str, float]
    default_factor: float = 1.0
    prior_weight: float = 0.0

    def factor(self, layer_type_name: str) -> float:
        return self.factors.get(layer_type_name, self.default_factor)

    def predict(self, net: Network, table: LayerTable) -> float:
        """Corrected latency (s) = Σ_t α_t · (table latency of the type-t layers)."""
        return sum(self.factor(t) * v for t, v in table.by_type(net).items())

    def predict_matrix(self, T: np.ndarray, types: Sequence[str]) -> np.ndarray:
        """Corrected latency (s) of each row of a (n_nets × n_types) table-latency matrix."""
        return np.asarray(T, dtype=float) @ np.array([self.factor(t) for t in types])


def _check_matrix(T, types: Sequence[str], measured_latency_s) -> tuple[np.ndarray, np.ndarray]:
    T = np.asarray(T, dtype=float)
    y = np.asarray(measured_latency_s, dtype=float)
    if T.ndim != 2 or y.ndim != 1 or T.shape[0] != len(y) or T.shape[1] != len(types) or len(y) == 0:
        raise CorrectionError(f"need one measured latency per network and one column per type, got {len(y)} "
                              f"latencies for a {T.shape} matrix of {len(types)} types")
    if not np.all(np.isfinite(y)) or np.any(y <= 0):
        raise CorrectionError("measured latencies must be positive and finite")
    if not np.all(np.isfinite(T)) or np.any(T < 0):
        raise CorrectionError("the layer table has unmappable (infinite) or negative entries for some networks")
    return T, y


def _fixed_columns(T: np.ndarray, types: Sequence[str], fixed: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(T with the columns of the ``fixed`` types zeroed, the per-network sum of those columns: the offset)."""
    unknown = [t for t in fixed if t not in types]
    if unknown:
        raise CorrectionError(f"fixed types {', '.join(map(repr, unknown))} are not columns of the matrix "
                              f"({', '.join(types)})")
    cols = [j for j, t in enumerate(types) if t in fixed]
    offset = T[:, cols].sum(axis=1) if cols else np.zeros(T.shape[0])
    T = T.copy()
    T[:, cols] = 0.0
    return T, offset


def fit_type_correction(T: np.ndarray, types: Sequence[str], measured_latency_s: Sequence[float],
                        prior_weight: float | None = None, fixed: Sequence[str] = ()) -> LatencyCorrection:
    """Fit α_t ≥ 0 on a (K networks × n_types) table-latency matrix ``T`` (s: each network's predicted latency
    summed per layer type) against the K measured whole-network latencies (s), by non-negative least squares
    on the relative error (module docstring).  Types with an all-zero column are not fitted: they get
    ``default_factor`` = :func:`global_factor` of the training networks.  ``prior_weight`` λ ≥ 0 adds ``λ·Σ_t (α_t − 1)²``;
    None: chosen by cross-validation on these networks (:func:`choose_prior_weight`).  With
    with ``prior_weight=0`` and fewer networks than fitted types: :class:`CorrectionError`.  ``fixed``: types
    kept at α = 1 and not fitted (their time an offset the fitted factors do not scale): costs measured directly
    rather than modelled, such as a runtime's per-call overhead — a free factor on a column that is the same for
    every network acts as an intercept that absorbs the mean error of the training networks and multiplies the
    cost of every tiny held-out network (the ``xeon-kvm-3`` device study: a per-call factor of 56 fitted on 10 NB201
    networks put the constant-output networks 100× too slow)."""
    T, y = _check_matrix(T, types, measured_latency_s)
    T, offset = _fixed_columns(T, types, fixed)
    used = np.flatnonzero(T.sum(axis=0) > 0)
    k, c = len(y), len(used)
    if prior_weight is None:
        lam = choose_prior_weight(T, types, y, offset=offset)
    elif not (math.isfinite(prior_weight) and prior_weight >= 0):
        raise CorrectionError(f"prior_weight must be a finite number >= 0, got {prior_weight!r}")
    else:
        lam = float(prior_weight)
    if k < c and lam == 0:
        raise CorrectionError(f"{k} training network(s) cannot determine the factors of {c} layer types "
                              f"({', '.join(types[j] for j in used)}): measure at least {c} networks, or fit "
                              f"with prior_weight > 0 (pulls the undetermined factors toward 1)")
    alpha = _bounded_factors(T[:, used], y, lam, offset)
    fitted = {types[j]: float(a) for j, a in zip(used, alpha)}
    default = global_factor(T[:, used], y, offset) if fitted else 1.0
    return LatencyCorrection({t: 1.0 if t in fixed else fitted.get(t, default) for t in types}, default, lam)


def global_factor(T: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None) -> float:
    """The one factor g of every fitted type that fits the networks best, in closed form: g = argmin
    ``Σ_n ((o[n] + g·Σ_t T[n, t]) / y[n] − 1)²`` = Σ r·(1 − o/y) / Σ r² with r[n] = Σ_t T[n, t] / y[n] (at least
    1e-12).  The table's overall bias: the default factor of a type no training network runs, and the centre of
    :data:`FACTOR_RANGE`."""
    r = np.asarray(T, dtype=float).sum(axis=1) / y
    b = 1.0 - (np.asarray(offset, dtype=float) / y if offset is not None else 0.0)
    return max(float(np.sum(r * b)) / max(float(r @ r), 1e-300), 1e-12)


def _bounded_factors(T: np.ndarray, y: np.ndarray, lam: float,
                  offset: np.ndarray | None = None) -> np.ndarray:
    """α minimising ``Σ_n ((o[n] + Σ_t α_t T[n, t]) / y[n] − 1)² + λ·Σ_t (α_t − 1)²`` with every α_t within
    :data:`FACTOR_RANGE` of the global factor g — the one factor of all types that fits best, the same objective
    with λ = 0 (bounded least squares, scipy ``lsq_linear``; columns of ``T`` all fitted; o = ``offset``, the
    unfitted time of each network, default 0)."""
    from scipy.optimize import lsq_linear

    c = T.shape[1]
    A, b = T / y[:, None], 1.0 - (offset / y if offset is not None else 0.0) * np.ones(len(y))
    g = global_factor(T, y, offset)
    if lam > 0:
        A = np.vstack([A, math.sqrt(lam) * np.eye(c)])
        b = np.concatenate([b, math.sqrt(lam) * np.ones(c)])
    return lsq_linear(A, b, bounds=(g * FACTOR_RANGE[0], g * FACTOR_RANGE[1]), method="bvls").x


def choose_prior_weight(T: np.ndarray, types: Sequence[str], measured_latency_s: Sequence[float],
                        offset: np.ndarray | None = None) -> float:
    """The λ of :data:`PRIOR_WEIGHT_GRID` whose fit predicts held-out *training* networks best: the sum over
    folds of the squared relative errors of the networks a fold leaves out, each fold fitted on the others
    (leave-one-out for up to :data:`CV_FOLDS` networks; above, network i in fold i mod CV_FOLDS).  λ = 0 is a
    candidate only when every fold's fit has at least as many networks as fitted types; ties go to the smaller
    λ.  Fewer than 3 networks cannot be cross-validated: :data:`FEW_SHOT_PRIOR_WEIGHT` when K < C, else 0.
    Uses nothing but the training networks, so a held-out test set stays untouched.  ``offset``: each network's
    unfitted time (:func:`fit_type_correction`'s ``fixed`` types; their columns of ``T`` zero)."""
    T, y = _check_matrix(T, types, measured_latency_s)
    o = np.zeros(len(y)) if offset is None else np.asarray(offset, dtype=float)
    used = np.flatnonzero(T.sum(axis=0) > 0)
    k, c = len(y), len(used)
    if k < 3:
        return FEW_SHOT_PRIOR_WEIGHT if k < c else 0.0
    folds = min(k, CV_FOLDS)
    fold = np.arange(k) % folds
    smallest_train = k - int(np.bincount(fold).max())
    best_err, best_lam = np.inf, FEW_SHOT_PRIOR_WEIGHT
    for lam in PRIOR_WEIGHT_GRID:
        if lam == 0 and smallest_train < c:
            continue
        err = 0.0
        for f in range(folds):
            out = fold == f
            alpha = _bounded_factors(T[~out][:, used], y[~out], lam, o[~out])
            err += float(np.sum(((o[out] + T[out][:, used] @ alpha) / y[out] - 1.0) ** 2))
        if err < best_err * (1 - 1e-9):
            best_err, best_lam = err, lam
    return best_lam


@dataclass(frozen=True)
class HeldOutError:
    """Few-shot held-out error of the correction (:func:`held_out_error`): MAPE (%) of the uncorrected table
    (``before``) and of the correction fitted on ``k`` networks (``after``) on the other ``n - k``, over
    ``splits`` random splits: mean, standard deviation (ddof=1; 0 for one split), min and max."""

    k: int
    n: int
    splits: int
    seed: int
    prior_weight: float | None
    mape_before_pct: np.ndarray  # (splits,)
    mape_after_pct: np.ndarray  # (splits,)

    @staticmethod
    def _stats(v: np.ndarray) -> dict[str, float]:
        return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
                "min": float(v.min()), "max": float(v.max())}

    def to_dict(self) -> dict:
        return {"k": self.k, "n": self.n, "splits": self.splits, "seed": self.seed,
                "prior_weight": self.prior_weight,
                "mape_before_pct": self._stats(self.mape_before_pct),
                "mape_after_pct": self._stats(self.mape_after_pct)}


def held_out_error(T: np.ndarray, types: Sequence[str], measured_latency_s: Sequence[float], k: int = 10,
                   splits: int = 20, seed: int = 0, prior_weight: float | None = None,
                   fixed: Sequence[str] = ()) -> HeldOutError:
    """The few-shot protocol: ``splits`` times, draw ``k`` of the n networks (rows of ``T``, see
    :func:`fit_type_correction`) without replacement (``Generator(PCG64(seed))``, one permutation per
    split), fit on them (``fixed``: as :func:`fit_type_correction`), and take the MAPE (%) on the other n − k, before
    (α = 1) and after correction.
    Raises :class:`CorrectionError` unless 1 <= k < n and splits >= 1."""
    T, y = _check_matrix(T, types, measured_latency_s)
    n = len(y)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k < n:
        raise CorrectionError(f"k must be an integer in [1, {n - 1}] (fit on k, test on the rest of {n} networks), "
                              f"got {k!r}")
    if isinstance(splits, bool) or not isinstance(splits, (int, np.integer)) or splits < 1:
        raise CorrectionError(f"splits must be an integer >= 1, got {splits!r}")
    rng = np.random.Generator(np.random.PCG64(int(seed)))
    raw = T.sum(axis=1)
    before, after = np.empty(splits), np.empty(splits)
    for s in range(splits):
        perm = rng.permutation(n)
        train, test = perm[:k], perm[k:]
        corr = fit_type_correction(T[train], types, y[train], prior_weight, fixed)
        pred = corr.predict_matrix(T[test], types)
        before[s] = 100.0 * float(np.mean(np.abs(raw[test] / y[test] - 1.0)))
        after[s] = 100.0 * float(np.mean(np.abs(pred / y[test] - 1.0)))
    return HeldOutError(int(k), n, int(splits), int(seed), prior_weight, before, after)


def fit_correction(nets: Sequence[Network], measured_latency_s: Sequence[float], table: LayerTable
                   ) -> LatencyCorrection:
    """:func:`fit_type_correction` on the networks' :func:`type_matrix` from ``table``."""
    if len(nets) != len(measured_latency_s):
        raise CorrectionError(f"need one measured latency per network, got {len(measured_latency_s)} for "
                              f"{len(nets)} networks")
    T, types = type_matrix(nets, table)
    return fit_type_correction(T, types, measured_latency_s)


def split_train(n: int, train_fraction: float, seed: int, min_each: int = 1) -> np.ndarray:
    """Boolean mask (n,) of the training networks of a correction study: the first
    ``round(train_fraction · n)`` (clamped so that each side keeps at least ``min_each``) of a
    ``Generator(PCG64(seed))`` permutation."""
    if n < 2 * min_each:
        raise CorrectionError(f"need at least {2 * min_each} networks to split into train and held-out, got {n}")
    k = min(max(min_each, int(round(train_fraction * n))), n - min_each)
    mask = np.zeros(n, dtype=bool)
    mask[np.random.Generator(np.random.PCG64(seed)).permutation(n)[:k]] = True
    return mask


def correction_study(nets: Sequence[Network], measured_latency_s: Sequence[float], table: LayerTable,
                     train_fraction: float = 0.5, seed: int = 0) -> tuple[LatencyCorrection, pd.DataFrame]:
    """Split networks into train / held-out (seeded), fit on train, and return the correction plus one
    row per network: ``network, split, measured_s, table_s, corrected_s, table_err, corrected_err``
    (relative errors, signed).  ``df.attrs``: MAPE before/after on the held-out networks and the factors."""
    y = np.asarray(measured_latency_s, dtype=float)
    n = len(nets)
    mask = split_train(n, train_fraction, seed)
    n_train = int(mask.sum())
    train = set(np.flatnonzero(mask).tolist())
    corr = fit_correction([nets[i] for i in sorted(train)], y[sorted(train)], table)
    T, types = type_matrix(nets, table)
    raw = T.sum(axis=1)
    fixed = corr.predict_matrix(T, types)
    df = pd.DataFrame({"network": [net.name for net in nets],
                       "split": ["train" if i in train else "test" for i in range(n)],
                       "measured_s": y, "table_s": raw, "corrected_s": fixed,
                       "table_err": raw / y - 1.0, "corrected_err": fixed / y - 1.0})
    test = df[df["split"] == "test"]
    df.attrs.update({"mape_before": float(test["table_err"].abs().mean()),
                     "mape_after": float(test["corrected_err"].abs().mean()),
                     "max_err_before": float(test["table_err"].abs().max()),
                     "max_err_after": float(test["corrected_err"].abs().max()),
                     "factors": dict(corr.factors), "default_factor": corr.default_factor, "n_train": n_train, "n_test": n - n_train,
                     "table_source": table.source, "seed": seed})
    return corr, df


# ---------------------------------------------------------------------------------------------
# Per-architecture hardware metrics for a space
# ---------------------------------------------------------------------------------------------
class SpaceHardware:
    """``hardware(arch) -> {latency_s, energy_pj, macs}`` for one space on one accelerator, cached per arch.

    NAS-Bench-201 spaces are costed all at once by :func:`nas.hwcost.nb201_hwcost` (one matrix product
    over the 15,625 archs); other spaces build each arch's network and sum a :class:`LayerTable` filled
    from the model (each unique layer shape is mapped once for the whole search).  ``area_mm2`` of the
    accelerator joins the metrics when the config defines it, so it can be constrained like the others.
    ``prune_dead``: cost NB201 cells with their dead edges removed (:func:`nas.registry.space_network`;
    default False: every edge is costed, as frameworks run them).
    """

    def __init__(self, space, hw, batch: int = 1, objective: str = "edp", seed: int = 0,
                 executor: Executor | None = None, effort: str = "thorough", prune_dead: bool = False):
        from accel.arch import Arch, area_mm2, load_arch

        self.space = space
        self.arch = hw if isinstance(hw, Arch) else load_arch(hw)
        self.batch = batch
        self.executor = executor
        self.prune_dead = bool(prune_dead)
        self.table = LayerTable.from_model(self.arch, objective, seed, effort)
        area = area_mm2(self.arch)
        self.area_mm2 = float(area) if math.isfinite(area) else None
        self._cache: dict[Any, dict[str, float]] = {}
        self._nb201 = None
        if getattr(space, "name", "") == "nb201":
            from nas.hwcost import nb201_hwcost

            df = nb201_hwcost(evaluator=self.table.evaluator, dataset=space.dataset, batch=batch,
                              prune=self.prune_dead)
            self._nb201 = {c: df[c].to_numpy(dtype=float) for c in ("latency_s", "energy_pj", "macs")}
            self._nb201_shapes = int(df.attrs["unique_layer_shapes"])

    def __call__(self, arch) -> dict[str, float]:
        m = self._cache.get(arch)
        if m is None:
            if self._nb201 is not None:
                from nas import nb201

                i = nb201.arch_to_index(arch)
                m = {c: float(v[i]) for c, v in self._nb201.items()}
            else:
                from nas.registry import space_network

                net = space_network(self.space, arch, self.batch, self.prune_dead)
                if self.executor is not None:
                    self.table.prefetch(net.layers, self.executor)
                tot = self.table.network(net)
                m = {"latency_s": tot["latency_s"], "energy_pj": tot["energy_pj"], "macs": tot["macs"]}
            if self.area_mm2 is not None:
                m["area_mm2"] = self.area_mm2
            self._cache[arch] = m
        return m

    @property
    def unique_layer_shapes(self) -> int:
        """Unique layer shapes mapped so far."""
        return len(self.table) if self._nb201 is None else self._nb201_shapes
