"""numba plumbing (accel._jit): serial and parallel kernels never share a cache entry, kernels compile once
per process, and only kernel source files may define kernels.

The subprocess tests share one fresh NUMBA_CACHE_DIR: one fresh process compiles and caches the parallel
genome evaluator, then another fresh process runs the serial path against the same cache.  numba keys
its cache on module, qualified name and line — not on ``parallel=True`` — so if the two variants shared
an entry the serial process would load the parallel code and start a threading layer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

_SETUP = f"""
import json, sys
import numpy as np
import numba
from accel.arch import load_arch
from accel.workload import parse_layer_spec
from mapper.mapspace import build_mapspace
from mapper.search import _Evaluator
from mapper.genome import random_genomes
arch = load_arch({str(ROOT / "configs" / "eyeriss.yaml")!r})
ms = build_mapspace(parse_layer_spec("conv N=1 K=64 C=64 P=56 Q=56 R=3 S=3", name="c"), arch)
rng = np.random.default_rng(0)
G = random_genomes(ms, rng.integers(0, len(ms.spatial_x), 2000), rng)
"""

_PARALLEL = _SETUP + """
v = _Evaluator(ms, "edp", parallel=True)(G)
from mapper import genome
print(json.dumps({"objective": [float(x) for x in v],
                  "parallel_cache_misses": sum(genome._eval_genomes_parallel.stats.cache_misses.values())}))
"""

_SERIAL = _SETUP + """
from accel.cost import Mapping, evaluate
from mapper.search import search_mapping
v = _Evaluator(ms, "edp", parallel=False)(G)
res = search_mapping(ms.layer, arch)
evaluate(ms.layer, arch, res.mapping)
try:
    layer = numba.threading_layer()
except ValueError:  # raised when no threading layer was ever initialised
    layer = None
from numba.np.ufunc import parallel as npar
import accel.cost, mapper.genome, mapper.search
from numba.core.registry import CPUDispatcher
sigs = {f"{m.__name__}.{k}": [str(s) for s in d.signatures] for m in (accel.cost, mapper.genome, mapper.search)
        for k, d in vars(m).items() if isinstance(d, CPUDispatcher)}
from mapper import genome
print(json.dumps({"objective": [float(x) for x in v], "threading_layer": layer,
                  "initialized": bool(npar._is_initialized), "signatures": sigs,
                  "parallel_compiled": len(genome._eval_genomes_parallel.signatures),
                  "serial_cache_hits": sum(genome._eval_genomes_serial.stats.cache_hits.values())}))
"""


def _run(code: str, cache_dir) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), PYTHONPATH=str(ROOT))
    env.pop("NUMBA_THREADING_LAYER", None)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    cache = tmp_path_factory.mktemp("numba_cache")
    par = _run(_PARALLEL, cache)  # fresh process: compiles and caches the parallel variant
    ser = _run(_SERIAL, cache)  # fresh process, same cache: serial path only
    ser2 = _run(_SERIAL, cache)  # and once more, now loading the serial variant from the cache
    return par, ser, ser2


def test_parallel_variant_was_compiled_into_the_shared_cache(runs):
    par, _, _ = runs
    assert par["parallel_cache_misses"] >= 1


@pytest.mark.parametrize("which", [1, 2], ids=["serial_compiled", "serial_from_cache"])
def test_serial_process_never_starts_a_threading_layer(runs, which):
    ser = runs[which]
    assert ser["threading_layer"] is None
    assert ser["initialized"] is False
    assert ser["parallel_compiled"] == 0


def test_serial_kernel_is_reused_from_the_cache(runs):
    _, _, ser2 = runs
    assert ser2["serial_cache_hits"] >= 1


def test_serial_and_parallel_agree_bit_for_bit(runs):
    par, ser, _ = runs
    assert par["objective"] == ser["objective"]
    assert any(v != float("inf") for v in ser["objective"])


def test_every_kernel_compiles_once(runs):
    """A helper called with an int literal is typed Literal[int] and compiled a second time; Python
    callers (evaluate, raw_record) must also hit the batch kernel's specialisation."""
    _, ser, _ = runs
    twice = {k: v for k, v in ser["signatures"].items() if len(v) > 1}
    assert not twice
    assert len(ser["signatures"]["accel.cost._evaluate_into"]) == 1


def test_serial_and_parallel_kernels_are_distinct_functions():
    from mapper import genome

    s, p = genome._eval_genomes_serial, genome._eval_genomes_parallel
    assert s.py_func.__code__ is not p.py_func.__code__
    assert s.py_func.__qualname__ != p.py_func.__qualname__
    assert s.targetoptions.get("parallel", False) is False and p.targetoptions["parallel"] is True


def test_one_function_is_never_compiled_for_two_targets():
    """numba's cache key ignores ``parallel``: _jit refuses to compile one function both ways."""
    from accel._jit import njit, njit_parallel
    from mapper import genome

    with pytest.raises(RuntimeError, match="parallel"):
        njit_parallel(genome._eval_genomes_serial.py_func)
    with pytest.raises(RuntimeError, match="parallel"):
        njit(genome._eval_genomes_parallel.py_func)


def test_kernels_outside_kernel_sources_are_refused():
    from accel._jit import njit, njit_parallel

    def f(x):
        return x + 1

    with pytest.raises(RuntimeError, match="KERNEL_SOURCES"):
        njit(f)

    def g(x):
        return x + 1

    with pytest.raises(RuntimeError, match="KERNEL_SOURCES"):
        njit_parallel(g)


def test_kernel_stamp_covers_every_kernel_source(tmp_path, monkeypatch):
    """Editing any kernel source changes every kernel's cache stamp (numba alone checks only the file that
    defines a function, though a compiled kernel embeds the kernels it calls)."""
    import accel._jit as jit

    copies = []
    for rel in jit.KERNEL_SOURCES:
        dst = tmp_path / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes((ROOT / rel).read_bytes())
        copies.append(str(dst))
    monkeypatch.setattr(jit, "_KERNEL_PATHS", tuple(copies))
    before = jit.kernel_sources_stamp()
    assert jit.kernel_sources_stamp() == before
    for path in copies:
        with open(path, "a") as f:
            f.write("\n# edit\n")
        after = jit.kernel_sources_stamp()
        assert after != before, path
        before = after
