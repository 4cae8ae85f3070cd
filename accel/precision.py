"""Per-layer mixed precision in the core model: precision-scalable PEs and bitwidth files.

An accelerator config has one global ``bitwidths`` block and a :class:`~accel.workload.Layer` has no
bitwidth.  A layer that runs at (w, a) bits (weights, activations) is costed on a *variant* of the
accelerator (:func:`precision_variant`, built with :meth:`accel.arch.Arch.with_config`, so it is validated
like any config):

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

Bitwidth file (``bitwidths.json``, written by ``accelsim joint``, read by ``accelsim eval --bitwidths``)::

    {"format": "accelsim-bitwidths/1",
     "law": {"name": "bitfusion", "brick_bits": 2},
     "layers": {"<ONNX node name>": {"weights": 4, "activations": 8, ...}, ...}}

``format`` is the file's version (required; this accelsim reads ``accelsim-bitwidths/1``).  The file goes
through the same boundary as accelerator configs (:func:`accel.schema.read_yaml`, :class:`accel.schema.Strict`):
JSON or YAML, duplicate keys refused (with both lines), unknown keys refused, strict types (``"weights": true``
or ``"weights": "4"`` are errors), per-layer bits integers from 1 to 32 (:data:`~accel.schema.MAX_LAYER_BITS`),
``brick_bits`` from 1 to 16.  Keys of ``layers`` are ONNX node names (a network layer matches when its
``name`` or any of its ``source`` node names is a key; :func:`match_bitwidths`); the per-layer keys ``block``
and ``op`` are informational.  Layers that no key matches run on the accelerator as configured.

Mapping and costing whole networks at these precisions needs the mapper: that lives above the core
(:func:`nas.joint.precision.evaluate_with_bitwidths`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping

from pydantic import Field, ValidationError, field_validator

from accel.arch import Arch, ConfigError
from accel.errors import ConfigInputError
from accel.schema import MAX_LAYER_BITS, Strict, YamlError, pydantic_errors, read_yaml
from accel.workload import Network

__all__ = [
    "BITWIDTHS_FORMAT", "BitPair", "BitwidthsError", "BitwidthsFileError", "PrecisionLaw", "LawModel", "LayerBits",
    "BitwidthsFile", "load_bitwidths", "write_bitwidths", "precision_variant", "match_bitwidths", "MAX_BRICK_BITS",
]

BITWIDTHS_FORMAT = "accelsim-bitwidths/1"
MAX_BRICK_BITS = 16
BitPair = tuple[int, int]


class BitwidthsError(ConfigInputError):
    """Invalid bitwidths (file or option) or a bitwidth the accelerator cannot run."""


class BitwidthsFileError(YamlError, BitwidthsError):
    """Invalid bitwidth file; ``errors`` lists (yaml_path, message)."""

    what = "bitwidths file"


@dataclass(frozen=True)
class PrecisionLaw:
    """How throughput scales with precision (see the module docstring)."""

    name: Literal["bitfusion", "none"] = "bitfusion"
    brick_bits: int = 2

    def __post_init__(self) -> None:
        if self.name not in ("bitfusion", "none"):
            raise BitwidthsError(f"unknown precision law {self.name!r} (known: bitfusion, none)")
        if isinstance(self.brick_bits, bool) or not isinstance(self.brick_bits, int) \
                or not 1 <= self.brick_bits <= MAX_BRICK_BITS:
            raise BitwidthsError(f"brick_bits must be an integer from 1 to {MAX_BRICK_BITS}, got {self.brick_bits!r}")

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


# ---------------------------------------------------------------------------------------------
# the bitwidth file
# ---------------------------------------------------------------------------------------------
class LawModel(Strict):
    name: Literal["bitfusion", "none"] = "bitfusion"
    brick_bits: int = Field(2, ge=1, le=MAX_BRICK_BITS)


class LayerBits(Strict):
    weights: int = Field(ge=1, le=MAX_LAYER_BITS)
    activations: int = Field(ge=1, le=MAX_LAYER_BITS)
    block: str | None = None
    op: str | None = None


class BitwidthsFile(Strict):
    format: str = Field(description=f"file version: {BITWIDTHS_FORMAT}")
    law: LawModel = LawModel()
    layers: dict[str, LayerBits]

    @field_validator("format")
    @classmethod
    def _format(cls, v):
        if v != BITWIDTHS_FORMAT:
            raise ValueError(f"unsupported bitwidths format {v!r}; this accelsim reads {BITWIDTHS_FORMAT!r}")
        return v

    @property
    def precision_law(self) -> PrecisionLaw:
        return PrecisionLaw(self.law.name, self.law.brick_bits)

    def pairs(self) -> dict[str, BitPair]:
        return {k: (v.weights, v.activations) for k, v in self.layers.items()}


def load_bitwidths(src: str | Path | Mapping) -> BitwidthsFile:
    """Read and validate a bitwidth file (a path to JSON or YAML, or the parsed mapping); raises
    :class:`BitwidthsFileError` listing every problem with its path."""
    where = "<bitwidths>"
    if isinstance(src, (str, Path)):
        where = str(src)
        data = read_yaml(src, BitwidthsFileError)
    else:
        data = src
    if not isinstance(data, Mapping):
        raise BitwidthsFileError(where, [("<root>", "the bitwidths file must be a mapping (a JSON object)")])
    try:
        return BitwidthsFile.model_validate(data)
    except ValidationError as e:
        raise BitwidthsFileError(where, pydantic_errors(e)) from None


def write_bitwidths(path: str | Path, layers: Mapping[str, Mapping], law: PrecisionLaw) -> Path:
    """Write ``bitwidths.json``: ``layers`` maps ONNX node name → {"weights", "activations", ...}."""
    doc = {"format": BITWIDTHS_FORMAT, "law": law.to_json(), "layers": {k: dict(v) for k, v in layers.items()}}
    load_bitwidths(doc)  # never write what we cannot read back
    p = Path(path)
    p.write_text(json.dumps(doc, indent=1) + "\n")
    return p


# ---------------------------------------------------------------------------------------------
# the accelerator a layer runs on at a precision
# ---------------------------------------------------------------------------------------------
def precision_variant(arch: Arch, law: PrecisionLaw, w: int, a: int, mac: bool = True) -> Arch:
    """``arch`` as a layer at ``w``-bit weights and ``a``-bit activations sees it (module docstring); for a
    non-MAC layer (``mac=False``) every operand is an activation.  Raises :class:`BitwidthsError` when a
    width exceeds ``pe_array.reference_bits`` or the variant is not a valid accelerator."""
    pa = arch.config.pe_array
    ref = pa.reference_bits
    for what, b in (("weights", w), ("activations", a)):
        if b > ref:
            raise BitwidthsError(f"{arch.name}: {what} at {b} bits exceed the PEs' reference precision "
                                 f"(pe_array.reference_bits = {ref})")
    lanes = law.mac_lanes(w, a, ref) if mac else law.op_lanes(a, ref)
    bw = arch.config.bitwidths
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
