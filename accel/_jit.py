"""numba flags in one place.  Every kernel in accelsim is compiled through :func:`njit` or :func:`njit_parallel`.

* ``cache=True`` keeps compiled kernels on disk (NUMBA_CACHE_DIR overrides the location; CI uses a fresh
  directory).  ``fastmath`` stays off: cost figures must be bit-for-bit reproducible between the serial and
  the parallel path.
* numba's cache only checks the source file that *defines* a function, but a compiled kernel carries the
  code of every kernel it calls (the genome batch evaluator in :mod:`mapper.genome` embeds
  ``accel.cost``'s kernel).  So every kernel's cache entry is stamped with the contents of all
  :data:`KERNEL_SOURCES`: editing any of them recompiles them all, and a stale copy can never load.
* numba's cache index is keyed on the function's module, qualified name and first line, not on target
  options: a serial and a ``parallel=True`` compilation of one Python function would share one entry and
  whichever was compiled first would be loaded for both (a serial-only process then starts the OpenMP/TBB
  threading layer).  So each Python function is compiled with one target only (:func:`_compile` refuses a
  second); the parallel genome evaluator is its own function, a ``prange`` loop over the serial one
  (:mod:`mapper.genome`), compiled on its first call only.
* Prebuilt kernels (:data:`SHIPPED_CACHE_DIR`, ``accel/_kernel_cache/``): a read-only cache of the kernels a
  mapping search compiles, built by ``accelsim warmup`` (editable installs) or by ``setup.py build_py`` (wheels),
  see :mod:`accel.app.warmup`.  A kernel is looked up there first, then in numba's own cache; compiled kernels
  are saved to numba's cache only.  The shipped entries are compiled for the portable ``generic`` CPU of the
  host's target triple (``NUMBA_CPU_NAME=generic``, in the build's own process) and looked up under exactly that
  magic tuple, whatever this process's CPU; their index is stamped with :func:`shipped_stamp` (the kernel
  sources' contents and the numba, llvmlite and Python versions), so an edited source, another numba or a cache
  built for another CPU name never loads.  ``ACCELSIM_PREBUILT_KERNELS=0`` in the environment skips them
  (read at each lookup, e.g. to test numba's own cache).
"""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import sys

import llvmlite
import numba
from numba.core import config as numba_config
from numba.core.caching import CompileResultCacheImpl, FunctionCache, IndexDataCacheFile

FLAGS = dict(nogil=True, fastmath=False, error_model="numpy")

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Every source file that defines a kernel (or a function compiled into one), relative to the repository
# root.  njit/njit_parallel refuse functions from other files, so this list cannot fall behind.
KERNEL_SOURCES = ("accel/_jit.py", "accel/layout.py", "accel/workload.py", "accel/cost.py",
                  "mapper/genome.py", "mapper/search.py")
_KERNEL_PATHS = tuple(os.path.join(_ROOT, p) for p in KERNEL_SOURCES)

prange = numba.prange
_TARGET: dict = {}  # code object -> the `parallel` flag it was compiled with


@functools.lru_cache(maxsize=None)
def _file_digest(path: str, mtime_ns: int, size: int) -> bytes:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).digest()


def kernel_sources_stamp() -> str:
    """sha256 over the contents of every file in :data:`KERNEL_SOURCES` (the cache stamp of all kernels)."""
    h = hashlib.sha256()
    for p in _KERNEL_PATHS:
        st = os.stat(p)
        h.update(_file_digest(p, st.st_mtime_ns, st.st_size))
    return h.hexdigest()


SHIPPED_CACHE_DIR = os.path.join(_ROOT, "accel", "_kernel_cache")
SHIPPED_CPU_NAME = "generic"  # the CPU the shipped kernels are compiled for (any CPU of the target triple)
_ship_to: list[str] = []  # set by begin_shipped_build: save compiled kernels there (the build process only)


def shipped_stamp() -> tuple:
    """What a shipped cache entry must match to load: the kernel sources' stamp, the numba, llvmlite and
    Python versions and the machine (the index's own key adds the target triple and CPU name)."""
    return (kernel_sources_stamp(), numba.__version__, llvmlite.__version__, sys.version, platform.machine())


def begin_shipped_build(dest: str) -> None:
    """Save every kernel compiled from now on into the shipped-cache layout under ``dest`` (and nowhere
    else).  Only for the build process of :mod:`accel.app.warmup`, which runs with ``NUMBA_CPU_NAME=generic``
    and ``NUMBA_CPU_FEATURES=""`` set before numba was imported; refuses any other CPU target."""
    if (numba_config.CPU_NAME, numba_config.CPU_FEATURES) != (SHIPPED_CPU_NAME, ""):
        raise RuntimeError(f"a shipped kernel cache must be compiled with NUMBA_CPU_NAME={SHIPPED_CPU_NAME} and "
                           f"NUMBA_CPU_FEATURES='' (this process: {numba_config.CPU_NAME!r}, "
                           f"{numba_config.CPU_FEATURES!r}); build it with `accelsim warmup`")
    _ship_to[:] = [os.path.abspath(dest)]


def _with_kernel_stamp(locator_cls: type) -> type:
    return type(f"Kernel{locator_cls.__name__}", (locator_cls,),
                {"get_source_stamp": lambda self: kernel_sources_stamp()})


class _KernelCacheImpl(CompileResultCacheImpl):
    _locator_classes = [_with_kernel_stamp(c) for c in CompileResultCacheImpl._locator_classes]


class _KernelCache(FunctionCache):
    """numba's function cache, with every kernel stamped by :func:`kernel_sources_stamp`, behind the
    read-only shipped cache (:data:`SHIPPED_CACHE_DIR`, see the module docstring)."""

    _impl_class = _KernelCacheImpl

    def __init__(self, py_func):
        super().__init__(py_func)
        # accel/cost.py -> <cache root>/accel/: the same place whatever directory the package is installed in
        self._shipped_subdir = os.path.dirname(os.path.relpath(os.path.abspath(py_func.__code__.co_filename), _ROOT))

    def _shipped_file(self, root: str) -> IndexDataCacheFile:
        return IndexDataCacheFile(cache_path=os.path.join(root, self._shipped_subdir),
                                  filename_base=self._impl.filename_base, source_stamp=shipped_stamp())

    def load_overload(self, sig, target_context):
        """numba's ``load_overload`` refreshes the whole target context first, which imports every numba
        lowering module (arraymath, listobj, unicode, the typed containers, linalg with scipy.linalg for its
        BLAS check...): about 0.4 s of a fresh ``accelsim eval``, for a rebuild that needs none of it.
        Rebuilding a cached kernel needs its compiled library and the C symbols it links against: numba's
        helpers, the C math functions and the exception objects (registered when numba's base module and the
        target context are created), the hash secrets (registered by ``numba.cpython.hashing``'s import, done
        here), numba's runtime (NRT, initialized here) and, for ``prange`` kernels, the threading layer (the
        cache entry's own ``reload_init`` launches it).  So only those two are set up here.  A miss leaves
        the context as it was: numba's compiler refreshes it before it compiles
        (``numba.core.compiler.compile_extra``)."""
        import numba.cpython.hashing  # noqa: F401 - the _numba_hashsecret_* symbols
        from numba.core.runtime import rtsys

        rtsys.initialize(target_context)
        with self._guard_against_spurious_io_errors():
            return self._load_overload(sig, target_context)

    def _load_overload(self, sig, target_context):
        if _ship_to:
            return None  # a shipped build compiles every kernel itself (for the generic CPU), loads none
        if self._enabled and os.environ.get("ACCELSIM_PREBUILT_KERNELS", "1") != "0":
            key = self._index_key(sig, target_context.codegen())
            triple = key[1][0]
            data = self._shipped_file(SHIPPED_CACHE_DIR).load((key[0], (triple, SHIPPED_CPU_NAME, ""), key[2]))
            if data is not None:
                return self._impl.rebuild(target_context, data)
        return super()._load_overload(sig, target_context)

    def _save_overload(self, sig, data):
        if not _ship_to:
            return super()._save_overload(sig, data)
        if not self._enabled or not self._impl.check_cachable(data):
            raise RuntimeError(f"{self._name} cannot be cached, so it cannot be shipped")
        key = self._index_key(sig, data.codegen)
        if key[1][1:] != (SHIPPED_CPU_NAME, ""):
            raise RuntimeError(f"{self._name} was compiled for {key[1]}, not for the shipped CPU {SHIPPED_CPU_NAME}")
        os.makedirs(os.path.join(_ship_to[0], self._shipped_subdir), exist_ok=True)
        self._shipped_file(_ship_to[0]).save(key, self._impl.reduce(data))


def _compile(func, parallel: bool, nrt: bool = True, inline: bool = False):
    src = os.path.abspath(func.__code__.co_filename)
    if src not in _KERNEL_PATHS:
        raise RuntimeError(f"{func.__qualname__} is defined in {src}, which is not in accel._jit.KERNEL_SOURCES; "
                           "add the file there so that its kernels' cache entries are invalidated when it changes")
    if _TARGET.setdefault(func.__code__, parallel) != parallel:
        raise RuntimeError(f"{func.__qualname__} is already compiled with parallel={not parallel}: numba's cache "
                           "would give both compilations one entry; write a separate function")
    disp = numba.njit(parallel=parallel, cache=False, _nrt=nrt, inline="always" if inline else "never", **FLAGS)(func)
    disp._cache = _KernelCache(func)  # what cache=True does (Dispatcher.enable_caching), with our stamp
    return disp


def njit(func=None, *, nrt: bool = True, inline: bool = False):
    """Serial kernel (cached on disk, see the module docstring).

    ``nrt=False`` compiles without numba's reference-counting runtime, for functions that allocate and
    return no arrays.  With it numba would atomically increment and decrement the reference count of
    every array an argument holds (each of the ~20 of an ArchArrays) on every call: the cost kernel, split
    into helpers that take the NamedTuples, ran 4x slower than the monolith, and even the monolith spent
    about half its time in those atomics.  ``inline=True`` inlines the function into its callers at
    numba-IR level (lowered in the caller's context, so an nrt=False caller stays free of reference
    counting) — for the cost model's helpers, which otherwise pay a call with every field of every
    NamedTuple flattened into arguments.  Measured on the cost kernel: 1.7x the monolith's evaluations/s.
    """
    if func is None:
        return lambda f: _compile(f, parallel=False, nrt=nrt, inline=inline)
    return _compile(func, parallel=False, nrt=nrt, inline=inline)


def njit_parallel(func):
    """Parallel kernel (``prange`` loops run on numba's threading layer); cached like :func:`njit`.

    A Python function is compiled with one target only: numba's cache key ignores ``parallel``, so a
    serial and a parallel compilation of one function would share a cache entry (see the module
    docstring).  Write the parallel kernel as a prange loop over the serial one instead.
    """
    return _compile(func, parallel=True)
