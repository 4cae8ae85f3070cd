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



def pareto_mask_nd(values: np.ndarray, maximize: "list[bool] | None" = None) -> np.ndarray:
    """Boolean mask (n,) of the non-dominated rows of ``values`` (n, k), every column minimised unless
    ``maximize[j]``; rows with a NaN are never on the front; duplicates of a non-dominated row are all kept.
    k = 2 is :func:`pareto_mask`; k > 2 compares every pair (O(n² k), fine for sweep-sized tables)."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 2:
        raise ValueError("values must be a 2-D array (n points x k objectives)")
    if maximize is not None:
        v = v * np.where(np.asarray(maximize, dtype=bool), -1.0, 1.0)[None, :]
    if v.shape[1] == 2:
        return pareto_mask(v[:, 0], v[:, 1])
    ok = np.isfinite(v).all(axis=1)
    mask = np.zeros(len(v), dtype=bool)
    idx = np.flatnonzero(ok)
    w = v[idx]
    for j, i in enumerate(idx):
        le = (w <= w[j]).all(axis=1)
        lt = (w < w[j]).any(axis=1)
        mask[i] = not (le & lt).any()
    return mask
