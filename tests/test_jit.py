"""numba plumbing (accel._jit): serial and parallel kernels never share a cache entry, kernels compile once
per process, only kernel source files may define kernels, and the prebuilt kernels (accel/_kernel_cache)
load only for the very sources, numba and CPU target they were built for.

The subprocess tests share one fresh NUMBA_CACHE_DIR: one fresh process compiles and caches the parallel
genome evaluator, then another fresh process runs the serial path against the same cache.  numba keys
its cache on module, qualified name and line — not on ``parallel=True`` — so if the two variants shared
an entry the serial process would load the parallel code and start a threading layer.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
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
    # numba's own cache is under test here: never the prebuilt kernels of an `accelsim warmup`
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), PYTHONPATH=str(ROOT), ACCELSIM_PREBUILT_KERNELS="0")
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


# ---- prebuilt kernels (accel/_kernel_cache, accelsim warmup) ---------------------------------------------
# A copy of the source tree gets a prebuilt cache of the genome decoder (the smallest kernel; built exactly as
# `accelsim warmup` builds the search's kernels); fresh processes with an empty NUMBA_CACHE_DIR then report
# which kernels they compiled (numba fires no compile event for a kernel loaded from a cache).

_PROBE = """
import json
import numba.core.event as ev
rec = ev.RecordingListener()
ev.register("numba:compile", rec)
from accel.app.warmup import _decode_workload
_decode_workload()
from mapper import genome
import sys
print(json.dumps({"compiled": sorted({e.data["dispatcher"].py_func.__qualname__ for _, e in rec.buffer}),
                  "hits": sum(genome._decode.stats.cache_hits.values()), "file": genome.__file__,
                  "context_refreshed": "numba.np.arraymath" in sys.modules}))
"""


def _probe(tree, tmp_path, **env) -> dict:
    cache = tmp_path / "numba_cache"
    cache.mkdir()
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=str(tree), **env)
    p = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, cwd=tree,
                       timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["file"] == str(tree / "mapper" / "genome.py")
    out["saved"] = sorted(f.name for f in cache.rglob("*.nbi"))  # what went into numba's own cache
    return out


def _copy_tree(src, dst):
    for d in ("accel", "mapper", "configs"):
        shutil.copytree(src / d, dst / d, ignore=shutil.ignore_patterns("__pycache__", ".kernel_cache-*"))
    return dst


@pytest.fixture(scope="module")
def shipped_tree(tmp_path_factory):
    tree = tmp_path_factory.mktemp("tree")
    for d in ("accel", "mapper", "configs"):
        shutil.copytree(ROOT / d, tree / d, ignore=shutil.ignore_patterns("__pycache__", "_kernel_cache",
                                                                           ".kernel_cache-*"))
    code = ("import sys; from accel.app.warmup import build_kernel_cache; "
            "assert build_kernel_cache(sys.argv[1], workload='decode')")
    p = subprocess.run([sys.executable, "-c", code, str(tree / "accel" / "_kernel_cache")], capture_output=True,
                       text=True, env=dict(os.environ, PYTHONPATH=str(tree)), cwd=tree, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    assert list((tree / "accel" / "_kernel_cache" / "mapper").glob("genome._decode-*.nbc"))
    return tree


def test_prebuilt_kernel_is_loaded_and_never_recompiled(shipped_tree, tmp_path):
    out = _probe(shipped_tree, tmp_path)
    assert "_decode" not in out["compiled"] and out["hits"] == 1
    assert not [f for f in out["saved"] if "_decode" in f]
    # a load sets up only what the kernel links against, not numba's whole target context (every lowering
    # module, scipy.linalg: ~0.4 s of a fresh process); a compilation still refreshes it (next test)
    assert out["context_refreshed"] is False


def test_prebuilt_kernels_can_be_switched_off(shipped_tree, tmp_path):
    out = _probe(shipped_tree, tmp_path, ACCELSIM_PREBUILT_KERNELS="0")
    assert "_decode" in out["compiled"] and out["hits"] == 0 and out["context_refreshed"] is True
    assert [f for f in out["saved"] if "_decode" in f]  # compiled kernels go to numba's cache only


def test_edited_kernel_source_never_loads_a_prebuilt_kernel(shipped_tree, tmp_path):
    """accel/cost.py does not define _decode: the shipped entry is stamped with every kernel source."""
    tree = _copy_tree(shipped_tree, tmp_path / "tree")
    with open(tree / "accel" / "cost.py", "a") as f:
        f.write("\n# edited\n")
    out = _probe(tree, tmp_path)
    assert "_decode" in out["compiled"] and out["hits"] == 0


def _rewrite_shipped_index(tree, change) -> int:
    """Rewrite every shipped index file's (stamp, {key: data file}) with ``change``; returns how many."""
    from numba.core.serialize import dumps

    n = 0
    for nbi in (tree / "accel" / "_kernel_cache").rglob("*.nbi"):
        with open(nbi, "rb") as f:
            version = pickle.load(f)
            stamp, overloads = pickle.loads(f.read())
        stamp, overloads = change(stamp, overloads)
        with open(nbi, "wb") as f:
            pickle.dump(version, f, protocol=-1)
            f.write(dumps((stamp, overloads)))
        n += 1
    return n


def _other_cpu(stamp, overloads):
    """As if built with NUMBA_CPU_NAME=skylake-avx512 (and its features) instead of generic."""
    return stamp, {(sig, (magic[0], "skylake-avx512", "+avx512f"), h): v for (sig, magic, h), v in overloads.items()}


def _other_numba(stamp, overloads):
    return (stamp[0], "0.0.1", *stamp[2:]), overloads


def _unchanged(stamp, overloads):
    return stamp, overloads


@pytest.mark.parametrize("change", [_other_cpu, _other_numba, _unchanged], ids=["other_cpu", "other_numba",
                                                                                 "unchanged"])
def test_prebuilt_kernel_for_another_target_is_not_loaded(shipped_tree, tmp_path, change):
    """A cache built for another CPU name or another numba never loads (``unchanged``: the rewrite itself
    keeps a loadable cache, so the other two fail for the reason they name)."""
    tree = _copy_tree(shipped_tree, tmp_path / "tree")
    assert _rewrite_shipped_index(tree, change) >= 1
    out = _probe(tree, tmp_path)
    loaded = change is _unchanged
    assert ("_decode" in out["compiled"]) != loaded and out["hits"] == int(loaded)


def test_shipped_kernels_are_compiled_for_the_generic_cpu_only():
    """This process's numba compiles for the host CPU: it must refuse to build a shipped cache."""
    from accel._jit import begin_shipped_build

    with pytest.raises(RuntimeError, match="NUMBA_CPU_NAME=generic"):
        begin_shipped_build("/nonexistent")
