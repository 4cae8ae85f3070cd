"""The YAML boundary shared by every validated input (accelerator configs, sweep specs): a strict frozen
pydantic base model, and errors that list every problem with its YAML path."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, ValidationError


class Strict(BaseModel):
    """Unknown keys are errors; validated objects are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class YamlError(ValueError):
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


def pydantic_errors(e: ValidationError) -> list[tuple[str, str]]:
    """A pydantic ValidationError as (yaml_path, message) pairs with plain-language messages."""
    errs = []
    for err in e.errors():
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key missing"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        loc = [p for p in err["loc"] if p not in _LOC_NOISE]
        errs.append((fmt_loc(loc), msg))
    return errs
