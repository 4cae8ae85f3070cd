"""The input boundary shared by every validated file (accelerator configs, sweep specs, bitwidth files):
one YAML reader, a strict frozen pydantic base model, the documented numeric bounds, and errors that list
every problem with its YAML path.

Reading (:func:`read_yaml`): safe loading only (no Python tags), through :class:`StrictLoader`, which

* refuses a key given twice in one mapping, naming the key and both lines
  (``levels[1]: duplicate key 'clock_mhz' (lines 3 and 9)``);
* reads YAML 1.2 floats (``1e6``, ``2.5E-3``): YAML 1.1 (PyYAML's default) reads them as strings;
* reads ``.json`` files too (JSON is YAML's flow syntax; the tabs JSON allows between tokens are read as
  spaces — valid JSON has no raw tab inside a string).

Validation (:class:`Strict`): unknown keys are errors (``extra="forbid"``), no type coercion (``strict``: a
bool is not an integer — ``rows: yes`` and ``version: true`` are refused — and a string is not a number;
an integer is accepted where a float is expected), every float must be finite (NaN and ±inf are refused; an
unbounded memory level or bandwidth omits the key or writes ``null``), and validated objects are frozen.

Bounds (inclusive; a value beyond one is refused with the bound in the message):

====================================================  ==========================================
quantity                                              bound
====================================================  ==========================================
layer loop bound (G N K C P Q R S), sweep ``batch``   1 … 2^31 (:data:`MAX_LOOP_BOUND`)
loop-nest points (MACs / ops) of one layer            ≤ 2^53 (:data:`MAX_LAYER_POINTS`)
PEs: rows, cols, macs_per_pe, each fan-out, and the   ≤ 2^24 (:data:`MAX_PES`)
product rows × cols × macs_per_pe × all fan-outs
operand bitwidths, ``reference_bits``                 1 … 64 (:data:`MAX_OPERAND_BITS`)
per-layer bitwidths (bitwidth files)                  1 … 32 (:data:`MAX_LAYER_BITS`)
``word_bits``                                         1 … 2^16 (:data:`MAX_WORD_BITS`)
``size_bytes``, ``partitions_bytes``                  > 0 … 2^50 B = 1 PiB (:data:`MAX_SIZE_BYTES`)
read/write bandwidth                                  > 0 … 2^40 bits/cycle (:data:`MAX_BANDWIDTH_BITS`)
energies (MAC, op, access, NoC per bit)               ≥ 0 … 10^6 pJ (:data:`MAX_ENERGY_PJ`)
``clock_mhz``                                         10^-3 … 10^6 MHz (:data:`MIN_CLOCK_MHZ`, …)
``static_power_mw``                                   0 … 10^9 mW (:data:`MAX_POWER_MW`)
``area_mm2``                                          0 … 10^6 mm² (:data:`MAX_AREA_MM2`)
cycle counts (psum accumulate, systolic fold terms)   \\|x\\| ≤ 2^20 (:data:`MAX_CYCLES_TERM`)
seeds                                                 0 … 2^63 − 1 (:data:`MAX_SEED`)
sweep points (grid product or random ``samples``)     ≤ 10^6 (``accel.designspace.MAX_POINTS``)
values of one sweep ``range``                         ≤ 10^4 (``accel.designspace.MAX_RANGE_VALUES``)
====================================================  ==========================================
"""

from __future__ import annotations

import math
import re
import reprlib
from collections.abc import Sequence
from typing import Annotated
from pathlib import Path

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from accel.errors import ConfigInputError

__all__ = [
    "Strict", "Name", "YamlError", "StrictLoader", "read_yaml", "fmt_loc", "pydantic_errors", "MAX_LOOP_BOUND",
    "MAX_LAYER_POINTS", "MAX_PES", "MAX_OPERAND_BITS", "MAX_LAYER_BITS", "MAX_WORD_BITS", "MAX_SIZE_BYTES",
    "MAX_BANDWIDTH_BITS", "MAX_ENERGY_PJ", "MIN_CLOCK_MHZ", "MAX_CLOCK_MHZ", "MAX_POWER_MW", "MAX_AREA_MM2",
    "MAX_CYCLES_TERM", "MAX_SEED", "duplicate_keys", "is_finite_tree", "show_value",
]

MAX_LOOP_BOUND = 2**31
MAX_LAYER_POINTS = 2**53  # float64 counts stay exact, int64 traffic counts cannot overflow
MAX_PES = 2**24
MAX_OPERAND_BITS = 64
MAX_LAYER_BITS = 32
MAX_WORD_BITS = 2**16
MAX_SIZE_BYTES = float(2**50)
MAX_BANDWIDTH_BITS = float(2**40)
MAX_ENERGY_PJ = 1e6
MIN_CLOCK_MHZ = 1e-3
MAX_CLOCK_MHZ = 1e6
MAX_POWER_MW = 1e9
MAX_AREA_MM2 = 1e6
MAX_CYCLES_TERM = 2**20
MAX_SEED = 2**63 - 1


class Strict(BaseModel):
    """Unknown keys are errors, no type coercion (bool is not int, str is not a number; int → float is
    fine), floats must be finite; validated objects are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _not_blank(v: str) -> str:
    if not v.strip():
        raise ValueError("must not be empty or blank")
    return v


Name = Annotated[str, AfterValidator(_not_blank)]
"""A name (of an accelerator, a memory level): a string with at least one non-space character."""


class YamlError(ConfigInputError):
    """Invalid YAML input; ``errors`` lists (yaml_path, message), all of them at once."""

    what = "input"

    def __init__(self, source: str, errors: list[tuple[str, str]]):
        self.source = source
        self.errors = errors
        lines = [f"{source}: {len(errors)} error(s) in {self.what}"]
        lines += [f"  {path}: {msg}" for path, msg in errors]
        super().__init__("\n".join(lines))


def fmt_loc(loc: Sequence) -> str:
    """('levels', 1, 'size_bytes') → 'levels[1].size_bytes'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


# pydantic inserts union/validator tags into error locations; they are not YAML keys
_LOC_NOISE = ("list[str]", "str", "function-after[_check(), RangeSpec]")
_TYPE_ERRORS = ("int_type", "float_type", "bool_type", "string_type", "list_type", "dict_type", "model_type",
                "literal_error", "int_from_float", "model_attributes_type")
_BOUND_ERRORS = ("greater_than", "greater_than_equal", "less_than", "less_than_equal", "too_long", "too_short")
# keys whose null / absence means "unbounded"
_UNBOUNDED_KEYS = ("size_bytes", "read_bandwidth_bits", "write_bandwidth_bits")


def show_value(v: object) -> str:
    """A user value for an error message: bounded in size however large or deep ``v`` is."""
    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxstring, r.maxother, r.maxlong = 1, 6, 6, 6, 40, 40, 40
    return r.repr(v)


def pydantic_errors(e: ValidationError) -> list[tuple[str, str]]:
    """A pydantic ValidationError as (yaml_path, message) pairs with plain-language messages."""
    errs = []
    for err in e.errors():
        msg = err["msg"]
        loc = [p for p in err["loc"] if p not in _LOC_NOISE]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key missing"
        elif err["type"] == "finite_number":
            msg = f"must be a finite number, got {show_value(err.get('input'))}"
            if loc and loc[-1] == "size_bytes":
                msg += " (only the outermost level may be unbounded: it omits size_bytes or writes null)"
            elif loc and loc[-1] in _UNBOUNDED_KEYS:
                msg += f" (an unbounded bandwidth omits {loc[-1]} or writes null)"
        elif err["type"] in _BOUND_ERRORS:
            msg = f"{msg}, got {show_value(err.get('input'))}"
        elif err["type"] in _TYPE_ERRORS:
            v = err.get("input")
            msg = f"{msg}, got {show_value(v)} ({type(v).__name__})"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        errs.append((fmt_loc(loc), msg))
    return errs


# ---------------------------------------------------------------------------------------------
# YAML reading
# ---------------------------------------------------------------------------------------------
class StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads YAML 1.2 floats (``1e6``).  Duplicate keys are found by
    :func:`duplicate_keys` on the composed node tree (which knows the YAML path)."""


# YAML 1.2 floats that YAML 1.1 reads as strings: an exponent without a dot or without a sign
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def duplicate_keys(loader: yaml.SafeLoader, node: yaml.Node, loc: tuple = (),
                   _seen: set[int] | None = None) -> list[tuple[str, str]]:
    """(yaml_path, message) for every key given twice in one mapping of ``node`` (both line numbers).  A node
    reached again through an alias is checked once (no exponential walk of alias chains)."""
    errs: list[tuple[str, str]] = []
    _seen = set() if _seen is None else _seen
    if id(node) in _seen:
        return errs
    _seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[object, int] = {}
        for key_node, value_node in node.value:
            key = None
            if isinstance(key_node, yaml.ScalarNode):
                key = loader.construct_object(key_node)
                line = key_node.start_mark.line + 1
                try:
                    if key in seen:
                        errs.append((fmt_loc(loc), f"duplicate key {key!r} (lines {seen[key]} and {line})"))
                    else:
                        seen[key] = line
                except TypeError:  # unhashable: PyYAML reports it when constructing the document
                    pass
            errs += duplicate_keys(loader, value_node, loc + ((str(key),) if key is not None else ("?",)), _seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            errs += duplicate_keys(loader, item, loc + (i,), _seen)
    return errs


def read_yaml(path, error: type[YamlError], loader_class: type | None = None, invalid_hint: str = ""):
    """Read a YAML (or JSON) file with :class:`StrictLoader` (or ``loader_class``, a safe loader that knows
    some more tags); a missing, unreadable or malformed file or a duplicate key raises ``error`` with the
    file and where (line / YAML path).  ``invalid_hint`` is added to the "not valid YAML" message."""
    p = Path(path)
    if not p.exists():
        raise error(str(path), [("<file>", "no such file")])
    if p.is_dir():
        raise error(str(path), [("<file>", "is a directory, not a file")])
    if not p.is_file():  # a FIFO or device would block the read forever
        raise error(str(path), [("<file>", "not a regular file (a pipe, socket or device)")])
    kind = "JSON" if p.suffix.lower() == ".json" else "YAML"
    try:
        text = p.read_text()
        if kind == "JSON":
            text = text.replace("\t", " ")
        loader = (loader_class or StrictLoader)(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            dups = duplicate_keys(loader, node)
            if dups:
                raise error(str(p), dups)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<file>"
        raise error(str(p), [(where, f"not valid {kind}{invalid_hint}: {getattr(e, 'problem', None) or e}")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise error(str(p), [("<file>", f"cannot read: {e}")]) from None
    except RecursionError:
        raise error(str(p), [("<file>", f"{kind} nested too deeply")]) from None


def is_finite_tree(v: object, _seen: set[int] | None = None) -> bool:
    """False when ``v`` is, or (in lists/dicts) contains, a NaN or infinite float.  A container reached
    again (YAML aliases share objects) is checked once."""
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, (list, tuple, dict)):
        _seen = set() if _seen is None else _seen
        if id(v) in _seen:
            return True
        _seen.add(id(v))
        return all(is_finite_tree(x, _seen) for x in (v.values() if isinstance(v, dict) else v))
    return True
