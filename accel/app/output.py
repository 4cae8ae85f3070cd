"""Output files of the ``accelsim`` commands: checked before any work, written atomically after it.

Rules (README "Command-line grammar"):

- :func:`check_output` runs before a command loads or computes anything: ``-o`` naming an existing
  directory, a missing parent directory or a location that cannot be written is refused
  (:class:`accel.errors.OutputError`, exit 1), and so is an existing file unless ``--force``.  Directory
  outputs (``joint -o DIR``) refuse an existing non-empty directory unless ``--force``.
- :func:`write_atomic` writes to a temp file in the target's directory, fsyncs it and renames it over the
  target (``os.replace``), so an error or an interrupt never leaves a truncated or empty file; the temp
  file is removed on failure.  :func:`atomic_directory` does the same for a directory of files.
- :func:`resolve_format`: without ``--format`` the format is inferred from ``-o``'s extension; an explicit
  ``--format`` that contradicts a known extension is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import sys
from pathlib import Path
from typing import Callable, Iterator

from accel.errors import OutputError

__all__ = ["EXTENSIONS", "FIGURE_FORMATS", "check_output", "resolve_format", "figure_format", "write_atomic",
           "write_text", "write_frame", "save_figure", "atomic_directory", "jsonable", "report_written"]

EXTENSIONS = {".csv": "csv", ".json": "json", ".parquet": "parquet", ".pq": "parquet", ".txt": "table",
              ".png": "png", ".pdf": "pdf", ".svg": "svg"}
"""File extension → format (the one table the ``--format`` / ``-o`` rule reads)."""

FIGURE_FORMATS = ("png", "pdf", "svg")


def _tmp_name(path: Path, kind: str = "tmp") -> Path:
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}-{secrets.token_hex(4)}")


def check_output(path: str | Path, force: bool, option: str = "-o", directory: bool = False) -> Path:
    """Refuse an output location before any work (see the module docstring); returns it as a Path.

    ``directory=True``: ``path`` is a directory the command fills (it may not exist yet)."""
    p = Path(path)
    if str(path) == "" or p.name in ("", ".", ".."):
        raise OutputError(f"{option} {str(path)!r}: not a file name")
    if not directory and p.is_dir():
        raise OutputError(f"{option} {path}: is a directory; give a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.exists():
        raise OutputError(f"{option} {path}: directory {parent} does not exist")
    if not parent.is_dir():
        raise OutputError(f"{option} {path}: {parent} is not a directory")
    try:  # a real probe: permission bits say nothing for root, read-only mounts, /proc …
        fd, probe = _mkstemp(parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise OutputError(f"{option} {path}: cannot write in {parent} ({e.strerror or e})") from None
    if directory:
        if p.exists() and not p.is_dir():
            raise OutputError(f"{option} {path}: exists and is not a directory")
        if p.is_dir() and any(p.iterdir()) and not force:
            raise OutputError(f"{option} {path}: directory exists and is not empty; use --force to replace it")
    elif p.exists() and not force:
        raise OutputError(f"{option} {path}: file exists; use --force to overwrite it")
    return p


def _mkstemp(parent: Path) -> tuple[int, str]:
    import tempfile

    return tempfile.mkstemp(prefix=".accelsim-probe-", dir=parent)


def resolve_format(path: str | Path | None, fmt: str | None, allowed: tuple[str, ...], default: str,
                   option: str = "-o") -> str:
    """The output format: ``fmt`` if given, else the one ``path``'s extension names, else ``default``.
    Refuses ``fmt`` contradicting a known extension and formats the command cannot write."""
    ext_fmt = EXTENSIONS.get(Path(path).suffix.lower()) if path else None
    if fmt is not None and ext_fmt is not None and fmt != ext_fmt:
        raise OutputError(f"--format {fmt} contradicts {option} {path} (a .{Path(path).suffix[1:]} file is "
                          f"{ext_fmt}); drop --format or rename the file")
    out = fmt or ext_fmt or default
    if out not in allowed:
        where = f"{option} {path}: a {out} file" if fmt is None and ext_fmt else f"--format {out}"
        raise OutputError(f"{where}: this command writes {', '.join(allowed)}")
    return out


def figure_format(path: str | Path, option: str = "-o") -> str:
    """png | pdf | svg from a plot file's extension (a name without one is refused, so the file written is
    always the file named)."""
    fmt = EXTENSIONS.get(Path(path).suffix.lower())
    if fmt not in FIGURE_FORMATS:
        raise OutputError(f"{option} {path}: a plot file must end in .png, .pdf or .svg")
    return fmt


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` for a temp file next to ``path``, fsync it and rename it over ``path``.  On any
    failure the temp file is removed and ``path`` is left as it was; OS errors become OutputError."""
    p = Path(path)
    tmp = _tmp_name(p)
    try:
        write(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except OSError as e:
        raise OutputError(f"cannot write {p}: {e.strerror or e}") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    _fsync_dir(p.parent)
    return p


def _fsync_dir(d: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (a newline is appended if missing) atomically."""
    text = text if text.endswith("\n") else text + "\n"
    return write_atomic(path, lambda t: t.write_text(text, encoding="utf-8"))


def jsonable(obj):
    """``obj`` with numpy scalars, paths etc. turned into JSON-safe values (for Parquet metadata)."""
    return json.loads(json.dumps(obj, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def write_frame(df, path: str | Path, fmt: str) -> Path:
    """A DataFrame as parquet (``df.attrs`` kept as JSON metadata), csv or json (records), atomically."""
    df = df.copy()
    df.attrs = jsonable(dict(df.attrs))
    if fmt == "parquet":
        return write_atomic(path, lambda t: df.to_parquet(t, index=False))
    if fmt == "csv":
        return write_atomic(path, lambda t: df.to_csv(t, index=False))
    if fmt == "json":
        return write_atomic(path, lambda t: df.to_json(t, orient="records", indent=1))
    raise ValueError(f"write_frame: unknown format {fmt!r}")


def save_figure(fig, path: str | Path, option: str = "-o", dpi: int = 150) -> Path:
    """Save a matplotlib Figure atomically in the format its extension names (png, pdf, svg)."""
    fmt = figure_format(path, option)
    return write_atomic(path, lambda t: fig.savefig(t, format=fmt, dpi=dpi, bbox_inches="tight"))


@contextlib.contextmanager
def atomic_directory(path: str | Path, force: bool) -> Iterator[Path]:
    """Yield a fresh temp directory next to ``path``; when the block succeeds it becomes ``path`` (an
    existing directory is replaced only with ``force`` or when empty).  On failure it is removed and
    ``path`` is untouched."""
    p = Path(path)
    tmp = _tmp_name(p)
    try:
        tmp.mkdir()
    except OSError as e:
        raise OutputError(f"-o {p}: cannot create the output directory ({e.strerror or e})") from None
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if p.exists():
        if not p.is_dir() or (any(p.iterdir()) and not force):
            raise OutputError(f"-o {p}: appeared while the command ran; not replaced (results left in {tmp})")
        old = _tmp_name(p, "old")
        os.replace(p, old)
    os.replace(tmp, p)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(p.parent)


def report_written(path: str | Path, what: str = "wrote") -> None:
    """``wrote PATH`` on stderr: the path printed is exactly the path written."""
    print(f"{what} {path}", file=sys.stderr)


def emit_text(text: str, path: str | Path | None) -> None:
    """The result text to ``path`` (atomically; ``wrote PATH`` on stderr) or to stdout."""
    if path:
        write_text(path, text)
        report_written(path)
    else:
        print(text.rstrip("\n"))


def sweep_manifest(path: str | Path) -> Path:
    """The sweep runner's ``<out>.parts/manifest.json`` for ``sweep -o out`` (its presence means an
    interrupted sweep to this output: the runner decides whether it may resume)."""
    p = Path(path)
    return p.with_name(p.name + ".parts") / "manifest.json"


def prepare_outputs(args) -> None:
    """Check every output option of a parsed command line before any work (the subcommand declares them
    with ``set_defaults(outputs={dest: (option, kind)})``; kind: file | figure | dir | sweep) and resolve
    ``--format`` against ``-o`` (``set_defaults(formats=..., default_format=...)``)."""
    force = bool(getattr(args, "force", False))
    formats = getattr(args, "formats", None)
    if formats:
        args.format = resolve_format(getattr(args, "output", None), getattr(args, "format", None), formats,
                                     args.default_format)
        if args.format == "parquet" and not getattr(args, "output", None):
            raise OutputError("--format parquet needs -o FILE (Parquet is not written to stdout)")
    seen: dict[str, str] = {}
    for dest, (option, kind) in (getattr(args, "outputs", None) or {}).items():
        value = getattr(args, dest, None)
        if not value:
            continue
        key = os.path.abspath(value)
        if key in seen:
            raise OutputError(f"{option} {value}: the same file is also given to {seen[key]}")
        seen[key] = option
        exists_ok = force or (kind == "sweep" and sweep_manifest(value).exists())
        check_output(value, exists_ok, option, directory=kind == "dir")
        if kind == "figure":
            figure_format(value, option)
