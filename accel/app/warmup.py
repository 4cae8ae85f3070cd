"""``accelsim warmup``: build the prebuilt-kernel cache ``accel/_kernel_cache/`` (see :mod:`accel._jit`).

Without it, the first mapping search of a fresh process with an empty numba cache compiles the cost kernel
(≈ 20 CPU s); with it, the kernels load in a fraction of a second.  A wheel gets the cache from
``setup.py build_py`` (which calls :func:`build_kernel_cache`); a source checkout or an editable install
(``pip install -e .``) gets it from ``accelsim warmup``.  The kernels are compiled in a child process with
``NUMBA_CPU_NAME=generic`` and ``NUMBA_CPU_FEATURES=""`` (portable code for any CPU of this target triple) and an
empty numba cache of its own, by running :data:`WORKLOAD`; the result replaces the old cache only when complete.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

from accel.errors import AccelsimError

STAMP_FILE = "STAMP.json"  # shipped_stamp() of the build: `warmup` is a no-op while it matches
SEARCH_WORKLOAD = ("eval", "resnet18", "--hw", "eyeriss")  # compiles every kernel of a mapping search


class KernelCacheBuildError(AccelsimError, RuntimeError):
    """The prebuilt-kernel cache could not be built or written."""


def _stamp_json(workload: str) -> str:
    from accel._jit import shipped_stamp

    return json.dumps({"stamp": list(shipped_stamp()), "workload": workload})


def is_current(cache_dir: str, workload: str = "search") -> bool:
    """``cache_dir`` holds a complete build of ``workload`` for the current kernel sources, numba, llvmlite and
    Python."""
    try:
        with open(os.path.join(cache_dir, STAMP_FILE)) as f:
            return f.read() == _stamp_json(workload)
    except OSError:
        return False


def _search_workload() -> None:
    """Every kernel of ``accelsim eval`` / ``map`` (the serial search) and the parallel genome evaluator."""
    import contextlib
    import io

    from accel.app.cli import main
    from accel.arch import load_arch
    from accel.workload import parse_layer_spec
    from mapper.search import search_mapping

    with contextlib.redirect_stdout(io.StringIO()):
        if main(list(SEARCH_WORKLOAD)) != 0:
            raise SystemExit(f"accelsim {' '.join(SEARCH_WORKLOAD)} failed")
    # the parallel genome evaluator (search_mapping(parallel=True), the evaluations/s benchmark)
    search_mapping(parse_layer_spec("conv K=64 C=64 P=56 Q=56 R=3 S=3"), load_arch("eyeriss"), samples=600,
                   rounds=1, restarts=1, parallel=True, explain=False)
    # the group search of sweeps (mapper.search.search_mapping_group: its memo evaluator), and the memo's rehash
    from mapper.genome import _grown, new_memo
    from mapper.search import SearchBudget, search_mapping_group

    eyeriss = load_arch("eyeriss")
    search_mapping_group(parse_layer_spec("conv K=16 C=16 P=8 Q=8 R=3 S=3"), [eyeriss, eyeriss.with_config(clock_mhz=100)],
                         budget=SearchBudget(samples=300, rounds=2, restarts=1, exhaustive_limit=0))
    _grown(new_memo(14, 64), 64)


def _decode_workload() -> None:
    """The genome decoder only (a small kernel: for tests of the cache machinery)."""
    import numpy as np

    from accel.arch import load_arch
    from accel.workload import parse_layer_spec
    from mapper.genome import decode_genome, random_genomes
    from mapper.mapspace import build_mapspace

    ms = build_mapspace(parse_layer_spec("conv K=16 C=16 P=8 Q=8 R=3 S=3"), load_arch("eyeriss"))
    rng = np.random.default_rng(0)
    decode_genome(ms, random_genomes(ms, rng.integers(0, len(ms.spatial_x), 1), rng)[0])


WORKLOADS = {"search": _search_workload, "decode": _decode_workload}


def _build_here(dest: str, workload: str) -> None:
    """Child process of :func:`build_kernel_cache`: compile the workload's kernels into ``dest``."""
    from accel._jit import begin_shipped_build

    begin_shipped_build(dest)
    WORKLOADS[workload]()
    with open(os.path.join(dest, STAMP_FILE), "w") as f:
        f.write(_stamp_json(workload))


def build_kernel_cache(dest: str, python: str = sys.executable, force: bool = False,
                       workload: str = "search") -> bool:
    """Build the prebuilt-kernel cache into ``dest`` (replaced when complete) with ``python``, importing this
    package's source tree, by running ``WORKLOADS[workload]``.  Returns False (and does nothing) if ``dest``
    is current and not ``force``."""
    if not force and is_current(dest, workload):
        return False
    from accel._jit import SHIPPED_CPU_NAME

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    parent = os.path.dirname(os.path.abspath(dest))
    try:
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=".kernel_cache-", dir=parent)
    except OSError as e:
        raise KernelCacheBuildError(f"cannot write the kernel cache next to {dest}: {e}") from e
    try:
        with tempfile.TemporaryDirectory(prefix="accelsim-numba-") as numba_cache:
            env = dict(os.environ, NUMBA_CPU_NAME=SHIPPED_CPU_NAME, NUMBA_CPU_FEATURES="",
                       NUMBA_CACHE_DIR=numba_cache,
                       PYTHONPATH=os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])]))
            proc = subprocess.run([python, "-c", "import sys; from accel.app.warmup import _build_here; "
                                   "_build_here(*sys.argv[1:])", tmp, workload], env=env, capture_output=True,
                                  text=True)
        if proc.returncode != 0:
            raise KernelCacheBuildError(f"building the kernel cache failed (exit {proc.returncode}):\n"
                                        f"{proc.stdout}{proc.stderr}")
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return True


def cmd_warmup(args) -> int:
    from accel._jit import SHIPPED_CACHE_DIR

    if build_kernel_cache(SHIPPED_CACHE_DIR, force=args.force):
        print(f"accelsim: built the prebuilt kernels in {SHIPPED_CACHE_DIR}", file=sys.stderr)
    else:
        print(f"accelsim: the prebuilt kernels in {SHIPPED_CACHE_DIR} are up to date", file=sys.stderr)
    return 0


def add_parsers(sub) -> None:
    w = sub.add_parser("warmup", help="build the prebuilt kernels (fast first run; for source/editable installs)",
                       description="Compile accelsim's numba kernels once, for a portable CPU target, into the "
                                   "package's read-only kernel cache (accel/_kernel_cache/), so that a fresh "
                                   "process with an empty numba cache starts in about a second instead of "
                                   "compiling for ~20 s.  A wheel ships them already.  A no-op while the cache "
                                   "matches the kernel sources and the numba/llvmlite/Python versions.")
    w.add_argument("--force", action="store_true", help="rebuild even if the cache is up to date")
    w.set_defaults(func=cmd_warmup, outputs={})
