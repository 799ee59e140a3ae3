"""Sums over all pairs of points, Σ_i Σ_j f(‖y_i − y_j‖²), without an n×n matrix in memory.

Rows are processed in blocks of ``r`` rows against the columns from the block's first row on; the
symmetric half is counted twice and the block's own square (diagonal included) once, so the work is
about n²/2 evaluations of f and the memory one float64 block of ``r × n`` ≤ ``max_block`` numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MAX_BLOCK = 1 << 16  # numbers per block: 512 KiB of float64, about the fastest here

InPlace = Callable[[np.ndarray], np.ndarray]


def pairwise_sum(y: np.ndarray, transform: InPlace, *, max_block: int = MAX_BLOCK) -> float:
    """Σ over all ordered pairs (i, j), i = j included, of ``transform(‖y_i − y_j‖²)``.

    ``y``: float64 [n, d]. ``transform`` maps an array of squared distances to f of them and may work in
    place (it must return the result). Memory O(max_block) whatever n; time O(n²·d/2). Squared distances
    come from the Gram form ‖y_i‖² + ‖y_j‖² − 2y_iᵀy_j (one BLAS product per block), clamped at 0: their
    absolute rounding error is ~1e-16·max‖y‖², negligible in these sums.
    """
    n = len(y)
    norms = np.einsum("ij,ij->i", y, y)
    rows = max(1, min(n, max_block // max(n, 1)))
    total = 0.0
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        r = stop - start
        sq = y[start:stop] @ y[start:].T
        sq *= -2.0
        sq += norms[start:stop, None]
        sq += norms[None, start:]
        np.maximum(sq, 0.0, out=sq)
        f = transform(sq)
        total += float(f[:, :r].sum()) + 2.0 * float(f[:, r:].sum())
    return total


def gaussian_kernel(scale: float) -> InPlace:
    """In-place f(s) = exp(−scale·s) on squared distances s."""

    def f(sq: np.ndarray) -> np.ndarray:
        np.multiply(sq, -scale, out=sq)
        return np.exp(sq, out=sq)

    return f


def euclidean(sq: np.ndarray) -> np.ndarray:
    """In-place f(s) = √s: the Euclidean distance from its square."""
    return np.sqrt(sq, out=sq)
