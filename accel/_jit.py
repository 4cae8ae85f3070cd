"""numba flags in one place.  Every kernel in accelsim is compiled through these decorators.

``cache=True`` keeps compiled kernels on disk (NUMBA_CACHE_DIR overrides the location; CI uses a fresh
directory so that a stale cache never hides an edit).  ``fastmath`` stays off: cost figures must be
bit-for-bit reproducible between the serial and the parallel path.
"""

from __future__ import annotations

import numba

FLAGS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")

njit = numba.njit(**FLAGS)
njit_parallel = numba.njit(parallel=True, **FLAGS)
prange = numba.prange


def jit_pair(func):
    """Compile one Python function twice: serial and parallel (``prange`` runs serially in the former).

    The two are the same code, so the serial path is a faithful reference for the parallel one.
    """
    return numba.njit(**FLAGS)(func), numba.njit(parallel=True, **FLAGS)(func)
