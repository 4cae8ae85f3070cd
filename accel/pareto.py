"""The one Pareto-front routine of accelsim."""

from __future__ import annotations

import numpy as np


def pareto_mask(x: np.ndarray, y: np.ndarray, maximize_x: bool = False, maximize_y: bool = False) -> np.ndarray:
    """Boolean mask (n,) of the non-dominated points of (x, y) (both minimised unless told otherwise).

    A point is dominated when another is at least as good in both and strictly better in one; duplicates
    of a non-dominated point are all kept.  NaNs are never on the front.  O(n log n).
    """
    x = np.asarray(x, dtype=float) * (-1.0 if maximize_x else 1.0)
    y = np.asarray(y, dtype=float) * (-1.0 if maximize_y else 1.0)
    ok = np.isfinite(x) & np.isfinite(y)
    mask = np.zeros(len(x), dtype=bool)
    idx = np.flatnonzero(ok)
    order = idx[np.lexsort((y[idx], x[idx]))]  # by x, then y
    best_y = np.inf
    prev = None
    for i in order:
        if y[i] < best_y:
            mask[i] = True
            best_y = y[i]
            prev = (x[i], y[i])
        elif prev is not None and x[i] == prev[0] and y[i] == prev[1]:
            mask[i] = True
    return mask

