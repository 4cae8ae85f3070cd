"""The YAML boundary shared by every validated input (accelerator configs, sweep specs): a strict frozen
pydantic base model, and errors that list every problem with its YAML path."""

from __future__ import annotations

from accel.errors import ConfigInputError
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, ValidationError


class Strict(BaseModel):
    """Unknown keys are errors; validated objects are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


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


def read_yaml(path, error: type[YamlError]):
    """``yaml.safe_load`` a file; a missing, unreadable or malformed file raises ``error`` with where."""
    import yaml
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        raise error(str(path), [("<file>", "no such file")])
    try:
        return yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "<file>"
        raise error(str(p), [(where, f"not valid YAML: {getattr(e, 'problem', e)}")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise error(str(p), [("<file>", f"cannot read: {e}")]) from None
