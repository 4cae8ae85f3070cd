"""The command-line grammar shared by every ``accelsim`` subcommand (standard library only, so building the
parser stays fast).

- Value types (:func:`finite_float`, :func:`int_in`, :func:`float_in`, …): argparse ``type=`` callables
  that refuse NaN / infinity and out-of-range values with a message naming the rule; argparse prints
  ``accelsim CMD: error: argument --OPT: <rule>`` and exits 2.
- :class:`Parser`: an ArgumentParser whose plain ``store`` options may be given once only (``--hw a --hw b``
  is an error, not last-wins; options declared with ``action="append"`` keep append semantics), with
  deprecated spellings (``deprecated=("--ref-hw",)``) that still work, warn on stderr and are not shown
  in ``--help``.
- :func:`add_output_options`, :func:`add_effort_option`, :func:`add_prune_option`: ``-o/--output``,
  ``--force``, ``--format``, ``--effort`` and ``--prune-dead`` spelled and documented the same way everywhere.
"""

from __future__ import annotations

import argparse
import math
import sys

MAX_BUDGET = 1_000_000
"""Cap on search budgets (``nas --budget``, ``codesign --nas-budget``): 10^7 queries used 4.2 GB."""

MAX_JOBS = 1024
"""Cap on ``--jobs`` (worker processes or threads) of every command: a larger count only starts idle
workers (each process costs ~150 MB and a second to start), and 10^5 of them never finish starting."""

EFFORTS = ("fast", "default", "thorough")
"""``--effort``: the mapper's search budget per layer (:data:`mapper.search.BUDGETS`)."""


def effort_budget(effort: str, default: str) -> str:
    """The :data:`mapper.search.BUDGETS` key for ``--effort`` (``default``: the command's own default)."""
    if effort not in EFFORTS:
        raise ValueError(f"effort must be one of {EFFORTS}, got {effort!r}")
    return default if effort == "default" else effort


# ---------------------------------------------------------------------------------------------
# Value types
# ---------------------------------------------------------------------------------------------
def finite_float(s: str) -> float:
    """A finite float (NaN and ±inf are refused)."""
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {s!r}")
    return v


def float_in(lo: float | None = None, hi: float | None = None, lo_open: bool = False, hi_open: bool = False):
    """Type: a finite float in the interval [lo, hi] (``lo_open``/``hi_open``: exclusive bounds)."""
    lb = "(" if lo_open else "["
    rb = ")" if hi_open else "]"
    rule = (f"in {lb}{lo:g}, {hi:g}{rb}" if lo is not None and hi is not None
            else f"{'>' if lo_open else '>='} {lo:g}" if lo is not None
            else f"{'<' if hi_open else '<='} {hi:g}")

    def parse(s: str) -> float:
        v = finite_float(s)
        if lo is not None and (v <= lo if lo_open else v < lo) or hi is not None and (v >= hi if hi_open else v > hi):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {s}")
        return v

    parse.__name__ = f"float {rule}"
    return parse


def int_in(lo: int | None = None, hi: int | None = None):
    """Type: an integer in [lo, hi] (either bound may be None)."""
    rule = (f"an integer in [{lo:,}, {hi:,}]" if lo is not None and hi is not None
            else f"an integer >= {lo}" if lo is not None else f"an integer <= {hi}")

    def parse(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {rule}, got {s!r}") from None
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise argparse.ArgumentTypeError(f"must be {rule}, got {s}")
        return v

    parse.__name__ = rule
    return parse


def path_arg(s: str) -> str:
    """Type: a file path or name that is not empty (``--hw ""`` would otherwise read the current folder)."""
    if not s.strip():
        raise argparse.ArgumentTypeError("empty path")
    return s


path_arg.__name__ = "path"

positive_float = float_in(0, lo_open=True)
nonneg_float = float_in(0)
fraction_open = float_in(0, 1, lo_open=True, hi_open=True)
probability = float_in(0, 1)
positive_int = int_in(1)
nonneg_int = int_in(0)
seed_int = int_in(0, 2**63 - 1)
jobs_int = int_in(1, MAX_JOBS)


# ---------------------------------------------------------------------------------------------
# Parser: single-valued options, deprecated spellings
# ---------------------------------------------------------------------------------------------
def warn_deprecated(old: str, new: str) -> None:
    print(f"accelsim: warning: {old} is deprecated; use {new}", file=sys.stderr)


class StoreOnce(argparse._StoreAction):
    """``store`` that refuses a second occurrence of the option (any of its spellings) and warns when a
    deprecated spelling (``deprecated=(...)``) is used."""

    def __init__(self, option_strings, dest, deprecated: tuple[str, ...] = (), **kw):
        super().__init__(option_strings, dest, **kw)
        self.deprecated = tuple(deprecated)
        unknown = set(self.deprecated) - set(option_strings)
        if unknown:
            raise ValueError(f"deprecated spellings {sorted(unknown)} are not option strings of {dest}")

    def __call__(self, parser, namespace, values, option_string=None):
        seen = namespace.__dict__.setdefault("_given_once", set())
        if self.option_strings:
            if self.dest in seen:
                name = "/".join(s for s in self.option_strings if s not in self.deprecated)
                raise argparse.ArgumentError(None, f"argument {name}: given more than once (this option takes one "
                                                   "value)")
            seen.add(self.dest)
        if option_string in self.deprecated:
            warn_deprecated(option_string, self.option_strings[0])
        super().__call__(parser, namespace, values, option_string)


class HelpFormatter(argparse.HelpFormatter):
    """Leaves deprecated spellings out of ``--help``."""

    def _format_action_invocation(self, action):
        dep = getattr(action, "deprecated", ())
        if not dep:
            return super()._format_action_invocation(action)
        shown = [s for s in action.option_strings if s not in dep]
        copy = argparse.Action(shown, action.dest, nargs=action.nargs, metavar=action.metavar)
        copy.choices = action.choices
        return super()._format_action_invocation(copy)


class Parser(argparse.ArgumentParser):
    """ArgumentParser with :class:`StoreOnce` as the default action (subparsers inherit the class)."""

    def __init__(self, *args, **kw):
        kw.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kw)
        self.register("action", None, StoreOnce)
        self.register("action", "store", StoreOnce)

    def parse_args(self, args=None, namespace=None):
        ns = super().parse_args(args, namespace)
        ns.__dict__.pop("_given_once", None)
        return ns


# ---------------------------------------------------------------------------------------------
# Shared options
# ---------------------------------------------------------------------------------------------
def add_output_options(p: argparse.ArgumentParser, formats: tuple[str, ...] | None, what: str,
                       required: bool = False, default_format: str = "table") -> None:
    """``-o/--output FILE``, ``--force`` and (when ``formats``) ``--format``.  ``what``: what the file holds.

    The format rule (README "Command-line grammar"): without ``--format`` the format is inferred from
    ``-o``'s extension (``.csv``, ``.json``, ``.parquet``, ``.txt`` = table); an explicit ``--format`` that
    contradicts a known extension is refused; without ``-o`` the result goes to stdout."""
    p.add_argument("-o", "--output", metavar="FILE", required=required,
                   help=f"write {what} to FILE (atomically, after the results are computed)"
                        + ("" if required else " instead of stdout"))
    p.add_argument("--force", action="store_true", help="overwrite existing output files")
    if formats:
        p.add_argument("--format", choices=formats, default=None,
                       help=f"{' | '.join(formats)} (default: from -o's extension, else {default_format})")
    p.set_defaults(default_format=default_format, formats=formats)


def add_effort_option(p: argparse.ArgumentParser, default_means: str) -> None:
    """``--effort fast|default|thorough``: the mapper's per-layer search budget."""
    p.add_argument("--effort", choices=EFFORTS, default="default",
                   help=f"mapper search effort per layer: fast (~4x fewer evaluations), thorough, or default "
                        f"({default_means})")


PRUNE_DEAD_HELP = ("cost NAS-Bench-201 cells with their dead edges removed (edges on no input-to-output path), as a "
                   "compiler that eliminates dead code runs them; default: every non-none edge is costed, as "
                   "eager PyTorch executes them.  Other networks have no dead branches")


def add_prune_option(p: argparse.ArgumentParser) -> None:
    """``--prune-dead``: the execution semantics of dead NB201 cell edges (:mod:`nas.nb201` module docstring),
    ``args.prune_dead`` (default False: frameworks execute dead branches)."""
    p.add_argument("--prune-dead", action="store_true", help=PRUNE_DEAD_HELP)


ALLOCATORS = ("system", "retain")
"""How a measuring process's C allocator treats freed memory (``--allocator``; :func:`accel.app.measure.set_allocator`).
``system``: the C library's defaults — glibc's malloc serves large blocks with fresh ``mmap`` pages and returns
freed ones to the OS, adapting its thresholds to the process's history, so an operator that allocates its output
afresh (PyTorch eager) may spend most of a call in page faults, or none, depending on what the process did before
(a 64-channel 56×56 3×3 depthwise conv in torch on the development VM: 920 µs vs 104 µs).  ``retain``: freed memory
stays in the process, the steady state of a long-running inference server — reproducible from process to process."""


def add_allocator_option(p: argparse.ArgumentParser) -> None:
    """``--allocator system|retain``: the C allocator of a process that times real runs (:data:`ALLOCATORS`)."""
    p.add_argument("--allocator", choices=ALLOCATORS, default="system",
                   help="the C allocator while measuring: system (default: its defaults; glibc may return freed "
                        "activations to the OS, so torch operator times can include page faults that depend on the "
                        "process's history) or retain (freed memory stays in the process: reproducible, a "
                        "long-running server's steady state; glibc only)")
