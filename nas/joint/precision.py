"""Per-layer mixed precision for the joint search: network evaluation at per-layer bitwidths (needs the
mapper) and the ``--bits`` choices.  The precision model itself — precision-scalable PEs
(:class:`~accel.precision.PrecisionLaw`), the accelerator variant a layer runs on, and the validated
``bitwidths.json`` — is core model: :mod:`accel.precision` (re-exported here).
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Mapping

from accel.arch import Arch
from accel.precision import (BITWIDTHS_FORMAT, BitPair, BitwidthsError, BitwidthsFile, BitwidthsFileError, PrecisionLaw,
                             load_bitwidths, match_bitwidths, precision_variant, write_bitwidths)
from accel.schema import MAX_LAYER_BITS
from accel.workload import Layer, Network

__all__ = [
    "BITWIDTHS_FORMAT", "BitPair", "BitwidthsError", "BitwidthsFileError", "PrecisionLaw", "BitwidthsFile",
    "PrecisionEvaluator", "load_bitwidths", "write_bitwidths", "match_bitwidths", "evaluate_with_bitwidths",
    "parse_bit_choices",
]

_BITS = re.compile(r"[0-9]{1,3}")


def parse_bit_choices(text: str) -> tuple[BitPair, ...]:
    """``"4,6,8,16"`` → ((4, 4), (6, 6), (8, 8), (16, 16)); ``"4x8,8x8"`` → ((4, 8), (8, 8)) (weights x
    activations), each from 1 to 32 bits.  Raises :class:`BitwidthsError` naming the bad entry."""
    out: list[BitPair] = []
    for item in text.split(","):
        item = item.strip().lower()
        w, x, a = item.partition("x")
        if not _BITS.fullmatch(w) or not _BITS.fullmatch(a if x else w):
            raise BitwidthsError(f"bitwidth choice {item!r} is not N or WxA (e.g. 8 or 4x8)")
        pair = (int(w), int(a or w))
        if min(pair) < 1 or max(pair) > MAX_LAYER_BITS:
            raise BitwidthsError(f"bitwidth choice {item!r} must be between 1 and {MAX_LAYER_BITS} bits")
        if pair in out:
            raise BitwidthsError(f"bitwidth choice {item!r} is listed twice")
        out.append(pair)
    if not out:
        raise BitwidthsError("no bitwidth choices given")
    return tuple(out)


class PrecisionEvaluator:
    """Maps and costs layers of one accelerator at per-layer precisions.

    Keeps one :class:`mapper.network.NetworkEvaluator` per precision variant of ``arch``
    (:func:`accel.precision.precision_variant`; mappings are cached by layer shape within a variant);
    ``layer(layer, bits)`` with ``bits=None`` costs on ``arch`` itself.  Thread-safe for concurrent ``layer``
    calls on distinct shapes.
    """

    def __init__(self, arch: Arch, law: PrecisionLaw = PrecisionLaw(), objective: str = "edp", seed: int = 0,
                 parallel: bool = True, effort: str = "thorough"):
        self.arch = arch
        self.effort = effort
        self.law = law
        self.objective = objective
        self.seed = seed
        self.parallel = parallel
        self._variants: dict[tuple | None, object] = {}
        self._lock = threading.Lock()

    def variant(self, bits: BitPair | None, mac: bool = True) -> Arch:
        """The accelerator variant a layer at ``bits`` = (w, a) runs on (``arch`` for None)."""
        return self.evaluator(bits, mac).arch

    def evaluator(self, bits: BitPair | None, mac: bool = True):
        from mapper.network import NetworkEvaluator

        key = None if bits is None else (int(bits[0]) if mac else int(bits[1]), int(bits[1]), bool(mac))
        with self._lock:
            ev = self._variants.get(key)
            if ev is None:
                arch = self.arch if key is None else precision_variant(self.arch, self.law, *key)
                ev = NetworkEvaluator(arch, objective=self.objective, seed=self.seed, parallel=self.parallel,
                                      effort=self.effort)
                self._variants[key] = ev
        return ev

    def layer(self, layer: Layer, bits: BitPair | None):
        """:class:`mapper.network.LayerResult` of ``layer`` at ``bits`` (raises NoValidMapping)."""
        return self.evaluator(bits, layer.is_mac).layer(layer)


def evaluate_with_bitwidths(net: Network, arch: Arch, bitwidths: str | Path | Mapping | BitwidthsFile,
                            objective: str = "edp", seed: int = 0, evaluator: PrecisionEvaluator | None = None,
                            effort: str = "thorough"):
    """Map and cost ``net`` on ``arch`` with per-layer precisions: an :class:`mapper.network.NetworkResult`
    whose totals are ``accelsim eval``'s with each listed layer costed on its precision variant.

    ``bitwidths``: a ``bitwidths.json`` path, its parsed mapping or a :class:`BitwidthsFile`.  Layers are
    mapped with ``objective`` and ``seed`` exactly as :func:`mapper.network.evaluate_network` maps them
    (same mapper call, budget ``effort``), so with an empty ``layers`` table the result equals ``evaluate_network``.
    ``result.meta["bitwidths"]`` maps layer name → [w, a].  Raises :class:`BitwidthsError` and
    :class:`mapper.mapspace.NoValidMapping`.
    """
    from accel._version import __version__
    from mapper.network import NetworkResult

    spec = bitwidths if isinstance(bitwidths, BitwidthsFile) else load_bitwidths(bitwidths)
    where = "" if isinstance(bitwidths, (BitwidthsFile, Mapping)) else f"{bitwidths}: "
    try:
        per_layer = match_bitwidths(net, spec.pairs())
    except BitwidthsError as e:
        raise BitwidthsError(f"{where}layers: {e}") from None
    ev = evaluator or PrecisionEvaluator(arch, spec.precision_law, objective, seed, effort=effort)
    pairs = spec.pairs()
    results = []
    for layer in net.layers:
        try:
            results.append(ev.layer(layer, per_layer.get(layer.name)))
        except BitwidthsError as e:
            key = next((k for k in (layer.name, *layer.source) if k in pairs), layer.name)
            raise BitwidthsError(f"{where}layers.{key}: {e}") from None
    meta = {"accelsim_version": __version__, "hw_digest": arch.digest(), "seed": seed,
            "unique_layer_shapes": len({r.layer.shape_key() for r in results}),
            "bitwidths": {k: list(v) for k, v in per_layer.items()}, "precision_law": spec.precision_law.to_json()}
    return NetworkResult(net.name, arch, objective, results, meta, getattr(net, "import_report", None))
