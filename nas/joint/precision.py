"""Per-layer mixed precision in the accelsim model: precision-scalable PEs and ``bitwidths.json``.

accelsim's :class:`~accel.workload.Layer` has no bitwidth and an accelerator config has one global
``bitwidths`` block.  A layer that runs at (w, a) bits (weights, activations) is costed on a *variant* of the
accelerator built with :meth:`accel.arch.Arch.with_config`:

* ``bitwidths``: weights = w, inputs = a, outputs = a (a layer writes its activations at its own precision),
  psums unchanged (the accumulator width of the hardware).  Through the config's own laws this sets the
  storage (a buffer holds ``bits / operand bits`` values), the traffic in bits (bandwidth time, access energy
  ∝ bits / word bits) and the MAC energy ∝ w·a / reference_bits² (an array multiplier's energy grows with the
  product of its operand widths).
* throughput, for precision-scalable PEs (``law="bitfusion"``, Sharma et al., ISCA 2018): a PE built for
  R×R-bit MACs (R = ``pe_array.reference_bits``) is a grid of (R/β)² β×β-bit BitBricks (β = ``brick_bits``, 2
  in Bit Fusion).  A w×a-bit MAC fuses ⌈w/β⌉·⌈a/β⌉ bricks, so one PE performs

      lanes(w, a) = ⌊R / (β⌈w/β⌉)⌋ · ⌊R / (β⌈a/β⌉)⌋

  MACs per cycle: 16×16 → 1, 8×8 → 4, 6×6 → 4 (9 of 16 brick rows·cols used), 4×4 → 16 at R = 16.  The
  variant models this as ``pe_array.macs_per_pe`` × lanes(w, a) MAC lanes (fed by the same PE storage), while
  the MAC energy per operation follows the w·a law above (⌈w/β⌉⌈a/β⌉ bricks ∝ w·a for multiples of β).
  Non-MAC layers (element-wise, pooling; all operands are activations) split an R-bit adder/comparator
  into ⌊R / (β⌈a/β⌉)⌋ narrower ones (SIMD within a register).  ``law="none"`` keeps bit-parallel
  fixed-precision PEs: lower precision then only saves storage, bandwidth and energy.

``bitwidths.json`` (written by ``accelsim joint``, read by :func:`evaluate_with_bitwidths`)::

    {"format": "accelsim-bitwidths/1",
     "law": {"name": "bitfusion", "brick_bits": 2},
     "layers": {"<ONNX node name>": {"weights": 4, "activations": 8, ...}, ...}}

Keys of ``layers`` are ONNX node names (a network layer matches when its ``name`` or any of its
``source`` node names is a key); extra per-layer keys (``block``, ``op``) are informational.  Layers that no
key matches run on the accelerator as configured.
"""

from __future__ import annotations

from accel.errors import InputError
import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accel.arch import Arch, ConfigError
from accel.workload import Layer, Network

__all__ = [
    "BITWIDTHS_FORMAT", "BitwidthsError", "PrecisionLaw", "BitwidthsFile", "PrecisionEvaluator",
    "load_bitwidths", "write_bitwidths", "evaluate_with_bitwidths", "parse_bit_choices",
]

BITWIDTHS_FORMAT = "accelsim-bitwidths/1"
BitPair = tuple[int, int]


class BitwidthsError(InputError):
    """Invalid bitwidths file or a bitwidth the accelerator cannot run."""


@dataclass(frozen=True)
class PrecisionLaw:
    """How throughput scales with precision (see the module docstring)."""

    name: Literal["bitfusion", "none"] = "bitfusion"
    brick_bits: int = 2

    def __post_init__(self) -> None:
        if self.name not in ("bitfusion", "none"):
            raise BitwidthsError(f"unknown precision law {self.name!r} (known: bitfusion, none)")
        if self.brick_bits < 1:
            raise BitwidthsError(f"brick_bits must be >= 1, got {self.brick_bits}")

    def _per_operand(self, bits: int, reference_bits: int) -> int:
        if self.name == "none":
            return 1
        padded = self.brick_bits * math.ceil(bits / self.brick_bits)
        return max(1, reference_bits // padded)

    def mac_lanes(self, w_bits: int, a_bits: int, reference_bits: int) -> int:
        """MACs one PE performs per cycle at w×a bits (1 at reference precision)."""
        return self._per_operand(w_bits, reference_bits) * self._per_operand(a_bits, reference_bits)

    def op_lanes(self, a_bits: int, reference_bits: int) -> int:
        """Element-wise / pooling ops one PE performs per cycle at a-bit activations."""
        return self._per_operand(a_bits, reference_bits)

    def to_json(self) -> dict:
        return {"name": self.name, "brick_bits": self.brick_bits}


def parse_bit_choices(text: str) -> tuple[BitPair, ...]:
    """``"4,6,8,16"`` → ((4, 4), (6, 6), (8, 8), (16, 16)); ``"4x8,8x8"`` → ((4, 8), (8, 8)) (weights x
    activations).  Raises :class:`BitwidthsError` naming the bad entry."""
    out: list[BitPair] = []
    for item in text.split(","):
        item = item.strip().lower()
        try:
            w, _, a = item.partition("x")
            pair = (int(w), int(a or w))
        except ValueError:
            raise BitwidthsError(f"bitwidth choice {item!r} is not N or WxA (e.g. 8 or 4x8)") from None
        if min(pair) < 1 or max(pair) > 32:
            raise BitwidthsError(f"bitwidth choice {item!r} must be between 1 and 32 bits")
        if pair in out:
            raise BitwidthsError(f"bitwidth choice {item!r} is listed twice")
        out.append(pair)
    if not out:
        raise BitwidthsError("no bitwidth choices given")
    return tuple(out)


# ---------------------------------------------------------------------------------------------
# bitwidths.json
# ---------------------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LawModel(_Strict):
    name: Literal["bitfusion", "none"] = "bitfusion"
    brick_bits: int = Field(2, ge=1, le=16)


class LayerBits(_Strict):
    weights: int = Field(ge=1, le=32)
    activations: int = Field(ge=1, le=32)
    block: str | None = None
    op: str | None = None


class BitwidthsFile(_Strict):
    format: Literal["accelsim-bitwidths/1"]
    law: LawModel = LawModel()
    layers: dict[str, LayerBits]

    @property
    def precision_law(self) -> PrecisionLaw:
        return PrecisionLaw(self.law.name, self.law.brick_bits)

    def pairs(self) -> dict[str, BitPair]:
        return {k: (v.weights, v.activations) for k, v in self.layers.items()}


def _fmt_loc(loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def load_bitwidths(src: str | Path | Mapping) -> BitwidthsFile:
    """Read and validate a ``bitwidths.json`` (a path, or the parsed mapping)."""
    where = "<bitwidths>"
    if isinstance(src, (str, Path)):
        where = str(src)
        try:
            data = json.loads(Path(src).read_text())
        except FileNotFoundError:
            raise BitwidthsError(f"{src}: no such file") from None
        except (OSError, UnicodeDecodeError) as e:
            raise BitwidthsError(f"{src}: cannot read: {e}") from None
        except json.JSONDecodeError as e:
            raise BitwidthsError(f"{src}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
    else:
        data = src
    try:
        return BitwidthsFile.model_validate(data)
    except ValidationError as e:
        errs = []
        for err in e.errors():
            msg = "unknown key" if err["type"] == "extra_forbidden" else (
                "required key missing" if err["type"] == "missing" else err["msg"])
            errs.append(f"{_fmt_loc(err['loc'])}: {msg}")
        raise BitwidthsError(f"{where}: invalid bitwidths file: " + "; ".join(errs)) from None


def write_bitwidths(path: str | Path, layers: Mapping[str, Mapping], law: PrecisionLaw) -> Path:
    """Write ``bitwidths.json``: ``layers`` maps ONNX node name → {"weights", "activations", ...}."""
    doc = {"format": BITWIDTHS_FORMAT, "law": law.to_json(), "layers": {k: dict(v) for k, v in layers.items()}}
    BitwidthsFile.model_validate(doc)  # never write what we cannot read back
    p = Path(path)
    p.write_text(json.dumps(doc, indent=1) + "\n")
    return p


# ---------------------------------------------------------------------------------------------
# Costing layers at a precision
# ---------------------------------------------------------------------------------------------
class PrecisionEvaluator:
    """Maps and costs layers of one accelerator at per-layer precisions.

    Keeps one :class:`mapper.network.NetworkEvaluator` per precision variant of ``arch`` (so mappings are
    cached by layer shape within a variant); ``layer(layer, bits)`` with ``bits=None`` costs on ``arch``
    itself.  Thread-safe for concurrent ``layer`` calls on distinct shapes.
    """

    def __init__(self, arch: Arch, law: PrecisionLaw = PrecisionLaw(), objective: str = "edp", seed: int = 0,
                 parallel: bool = True):
        self.arch = arch
        self.law = law
        self.objective = objective
        self.seed = seed
        self.parallel = parallel
        self._variants: dict[tuple, object] = {}
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
                arch = self.arch if key is None else _variant(self.arch, self.law, key[0], key[1], key[2])
                ev = NetworkEvaluator(arch, objective=self.objective, seed=self.seed, parallel=self.parallel)
                self._variants[key] = ev
        return ev

    def layer(self, layer: Layer, bits: BitPair | None):
        """:class:`mapper.network.LayerResult` of ``layer`` at ``bits`` (raises NoValidMapping)."""
        return self.evaluator(bits, layer.is_mac).layer(layer)


def _variant(arch: Arch, law: PrecisionLaw, w: int, a: int, mac: bool) -> Arch:
    pa = arch.config.pe_array
    ref = pa.reference_bits
    for what, b in (("weight", w), ("activation", a)):
        if b > ref:
            raise BitwidthsError(f"{arch.name}: {what} bitwidth {b} exceeds the PEs' reference precision "
                                 f"(pe_array.reference_bits = {ref})")
    lanes = law.mac_lanes(w, a, ref) if mac else law.op_lanes(a, ref)
    bw = arch.config.bitwidths
    # non-MAC layers have activations in every operand slot (a binary element-wise layer's second input)
    bitwidths = {"weights": w if mac else a, "inputs": a, "outputs": a, "psums": bw.psums}
    changes: dict = {"bitwidths": bitwidths}
    if lanes != 1:
        changes["pe_array"] = {**pa.model_dump(mode="python"), "macs_per_pe": pa.macs_per_pe * lanes}
    try:
        return arch.with_config(**changes)
    except ConfigError as e:
        msg = "; ".join(f"{p}: {m}" for p, m in e.errors)
        raise BitwidthsError(f"{arch.name} at {w}/{a} bits (weights/activations) is not a valid accelerator: {msg}") from None


def match_bitwidths(net: Network, pairs: Mapping[str, BitPair]) -> dict[str, BitPair]:
    """Layer name → (w, a) for the layers of ``net`` a key of ``pairs`` names (by layer name or any of the
    layer's ``source`` node names).  Raises :class:`BitwidthsError` for keys that match no layer."""
    out: dict[str, BitPair] = {}
    used: set[str] = set()
    for layer in net.layers:
        for key in (layer.name, *layer.source):
            if key in pairs:
                out[layer.name] = tuple(pairs[key])  # type: ignore[assignment]
                used.add(key)
                break
    unknown = [k for k in pairs if k not in used]
    if unknown:
        more = f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else ""
        raise BitwidthsError(f"bitwidths for {len(unknown)} layer(s) not in network {net.name!r}: "
                             f"{', '.join(unknown[:5])}{more}")
    return out


def evaluate_with_bitwidths(net: Network, arch: Arch, bitwidths: str | Path | Mapping | BitwidthsFile,
                            objective: str = "edp", seed: int = 0, evaluator: PrecisionEvaluator | None = None):
    """Map and cost ``net`` on ``arch`` with per-layer precisions: an :class:`mapper.network.NetworkResult`
    whose totals are ``accelsim eval``'s with each listed layer costed on its precision variant.

    ``bitwidths``: a ``bitwidths.json`` path, its parsed mapping or a :class:`BitwidthsFile`.  Layers are
    mapped with ``objective`` and ``seed`` exactly as :func:`mapper.network.evaluate_network` maps them
    (same mapper call), so with an empty ``layers`` table the result equals ``evaluate_network``.
    ``result.meta["bitwidths"]`` maps layer name → [w, a].  Raises :class:`BitwidthsError` and
    :class:`mapper.mapspace.NoValidMapping`.
    """
    from accel._version import __version__
    from mapper.network import NetworkResult

    spec = bitwidths if isinstance(bitwidths, BitwidthsFile) else load_bitwidths(bitwidths)
    per_layer = match_bitwidths(net, spec.pairs())
    ev = evaluator or PrecisionEvaluator(arch, spec.precision_law, objective, seed)
    results = [ev.layer(layer, per_layer.get(layer.name)) for layer in net.layers]
    meta = {"accelsim_version": __version__, "hw_digest": arch.digest(), "seed": seed,
            "unique_layer_shapes": len({r.layer.shape_key() for r in results}),
            "bitwidths": {k: list(v) for k, v in per_layer.items()}, "precision_law": spec.precision_law.to_json()}
    return NetworkResult(net.name, arch, objective, results, meta, getattr(net, "import_report", None))
