"""Sums over all pairs of points, Σ_i Σ_j f(‖y_i − y_j‖²), without an n×n matrix in memory.

:func:`gaussian_pair_sum` and :func:`distance_pair_sum` are what the metrics call: one pass of the CPU
kernel (``vb_pair_sum`` in ``vaebench/kernel/metric_loops.c``: squared distances in the difference form, the
exponential to about one ulp, four lanes at once, about 1 ms for n = 2 000 in 2-D), or, where the kernel is
not built (no C compiler, ``VAEBENCH_CPU_KERNEL=torch``), :func:`pairwise_sum` with the same f. Both
give the same sums to rounding (~1e-13 relative; tests check them against each other and against the
n×n matrix).

:func:`pairwise_sum`: rows are processed in blocks of ``r`` rows against the columns from the block's
first row on; the symmetric half is counted twice and the block's own square (diagonal included) once, so
the work is about n²/2 evaluations of f and the memory one float64 block of ``r × n`` ≤ ``max_block`` numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from vaebench import cpu_kernel

MAX_BLOCK = 1 << 18  # numbers per block: 2 MiB of float64, about the fastest here

InPlace = Callable[[torch.Tensor], torch.Tensor]


def pairwise_sum(y: np.ndarray, transform: InPlace, *, max_block: int = MAX_BLOCK) -> float:
    """Σ over all ordered pairs (i, j), i = j included, of ``transform(‖y_i − y_j‖²)``.

    ``y``: float64 [n, d]. ``transform`` maps a float64 tensor of squared distances to f of them and may
    work in place (it must return the result). Memory O(max_block) whatever n; time O(n²·d/2). Squared
    distances come from the Gram form ‖y_i‖² + ‖y_j‖² − 2y_iᵀy_j (one BLAS product per block), clamped at
    0, the diagonal set to 0 exactly: their absolute rounding error is ~1e-16·max‖y‖², negligible in these
    sums. The blocks are torch float64 tensors: torch's vectorised exp is about twice as fast as NumPy's
    here, with the same float64 results to rounding.
    """
    t = torch.from_numpy(np.ascontiguousarray(y, dtype=np.float64))
    n = len(t)
    norms = torch.einsum("ij,ij->i", t, t)
    rows = max(1, min(n, max_block // max(n, 1)))
    total = 0.0
    buffer = torch.empty(rows * n, dtype=torch.float64)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        r = stop - start
        sq = buffer[:r * (n - start)].view(r, n - start)
        torch.add(norms[start:stop, None], norms[None, start:], out=sq)
        sq.addmm_(t[start:stop], t[start:].T, alpha=-2.0)
        sq.clamp_(min=0.0)
        sq[:, :r].diagonal().zero_()  # ‖y_i − y_i‖² is 0, not the Gram form's rounding error
        f = transform(sq)
        # the block's own square once, the pairs to its right twice (for (i, j) and (j, i))
        total += 2.0 * float(f.sum()) - float(f[:, :r].sum())
    return total


def gaussian_kernel(scale: float) -> InPlace:
    """In-place f(s) = exp(−scale·s) on squared distances s."""

    def f(sq: torch.Tensor) -> torch.Tensor:
        return sq.mul_(-scale).exp_()

    return f


def euclidean(sq: torch.Tensor) -> torch.Tensor:
    """In-place f(s) = √s: the Euclidean distance from its square."""
    return sq.sqrt_()


def _kernel_sum(y: np.ndarray, kind: int, scale: float) -> float | None:
    lib = cpu_kernel.load()
    if lib is None:
        return None
    cols = np.ascontiguousarray(np.asarray(y, dtype=np.float64).T)  # column-major: points contiguous
    n = cols.shape[1]
    return float(lib.vb_pair_sum(n, cols.shape[0], cols.ctypes.data, kind, float(scale)))


def gaussian_pair_sum(y: np.ndarray, scale: float) -> float:
    """Σ over all ordered pairs (i, j), i = j included, of exp(−``scale``·‖y_i − y_j‖²); ``y`` float64
    [n, d], ``scale`` ≥ 0."""
    out = _kernel_sum(y, 0, scale)
    return pairwise_sum(y, gaussian_kernel(scale)) if out is None else out


def distance_pair_sum(y: np.ndarray) -> float:
    """Σ over all ordered pairs (i, j) of the Euclidean distance ‖y_i − y_j‖; ``y`` float64 [n, d]."""
    out = _kernel_sum(y, 1, 0.0)
    return pairwise_sum(y, euclidean) if out is None else out
