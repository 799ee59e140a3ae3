"""Input checks shared by the metric functions: any array-like in, float64 NumPy out, or a ValueError.

Every metric accepts NumPy arrays, lists and tensors (anything with ``.detach()`` is moved to the CPU
first), so nothing here depends on vaebench's own types. Errors name the argument, the value and what is
allowed, in the house style ``name = value: what is allowed``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# A dimension whose variance is at most this fraction of its squared mean (or exactly 0) is treated as
# constant: float32 rounding of a constant leaves relative jitter of ~1e-7, i.e. variance ~1e-14·mean².
CONSTANT_RTOL = 1e-12


def to_numpy(x: Any, name: str) -> np.ndarray:
    """``x`` as a float64 NumPy array (tensors are detached and moved to the CPU); ValueError naming
    ``name`` if it cannot be read as numbers."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} = {type(x).__name__} object: must be an array of numbers ({err})") from None


def as_points(x: Any, name: str, *, min_n: int = 1, dim: int | None = None,
              allow_neg_inf: bool = False) -> np.ndarray:
    """Validate a point set and return it as float64 [n, d]; a 1-D array of n numbers is n points of d = 1.

    Raises ValueError naming ``name`` when the array is not 1-D or 2-D, has fewer than ``min_n`` points,
    has d = 0 or d ≠ ``dim``, or holds NaN or ±inf (−inf is allowed with ``allow_neg_inf``, for
    log-variances of deterministic encoders).
    """
    arr = to_numpy(x, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} = array of shape {arr.shape}: must be 2-D [n points, d dims] "
                         f"(or 1-D [n] for d = 1)")
    n, d = arr.shape
    if d == 0:
        raise ValueError(f"{name} = array of shape {arr.shape}: must have at least one dimension per point")
    if dim is not None and d != dim:
        raise ValueError(f"{name} = array of shape {arr.shape}: must have {dim} dimensions per point")
    if n < min_n:
        raise ValueError(f"{name} = array of {n} points: needs at least {min_n} points")
    bad = ~np.isfinite(arr)
    if allow_neg_inf:
        bad &= ~np.isneginf(arr)
    if bad.any():
        what = "NaN or +inf" if allow_neg_inf else "NaN or ±inf"
        raise ValueError(f"{name} = array with {int(bad.sum())} non-finite values ({what}) among "
                         f"{arr.size}: must be finite numbers")
    return arr


def as_sample_1d(x: Any, name: str, *, min_n: int) -> np.ndarray:
    """A univariate sample as float64 [n]: accepts [n] or [n, 1]; ValueError otherwise."""
    arr = as_points(x, name, min_n=min_n)
    if arr.shape[1] != 1:
        raise ValueError(f"{name} = array of shape {arr.shape}: must be one-dimensional, [n] or [n, 1] "
                         f"(test each latent dimension separately)")
    return arr[:, 0]


def as_labels(labels: Any, name: str, n: int) -> np.ndarray:
    """Integer class labels as int64 [n]; ValueError if the shape or the values are wrong."""
    arr = np.asarray(labels.detach().cpu().numpy() if hasattr(labels, "detach") else labels)
    if arr.shape != (n,):
        raise ValueError(f"{name} = array of shape {arr.shape}: must be [n] = ({n},), one label per point")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.floating) or not np.all(np.isfinite(arr) & (arr == np.round(arr))):
            raise ValueError(f"{name} = array of dtype {arr.dtype}: must hold integer class labels")
    return arr.astype(np.int64)


def check_count(name: str, value: Any, low: int, high: int | None = None) -> int:
    """``value`` as an int in [low, high]; ValueError naming ``name`` otherwise (booleans are refused)."""
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not ok or value < low or (high is not None and value > high):
        upper = f" and <= {high}" if high is not None else ""
        raise ValueError(f"{name} = {value!r}: must be an integer >= {low}{upper}")
    return int(value)


def check_fraction(name: str, value: Any, *, open_low: bool = True, high: float = 1.0) -> float:
    """``value`` as a float in (0, high] (or [0, high]); ValueError naming ``name`` otherwise."""
    ok = isinstance(value, int | float | np.floating) and not isinstance(value, bool) and np.isfinite(value)
    if not ok or value < 0 or (open_low and value == 0) or value > high:
        low = "> 0" if open_low else ">= 0"
        raise ValueError(f"{name} = {value!r}: must be a number {low} and <= {high:g}")
    return float(value)


def constant_reason(x: np.ndarray) -> str | None:
    """Why a univariate sample [n] is numerically constant (scale-free tests undefined), or None."""
    mean, var = float(np.mean(x)), float(np.var(x))
    if var == 0.0 or var <= CONSTANT_RTOL * mean * mean:
        return f"constant sample (all values ≈ {mean:.6g}, variance {var:.3g})"
    return None


def whiten(x: np.ndarray, name: str) -> np.ndarray:
    """Centre ``x`` [n, d] and whiten it by its maximum-likelihood covariance S (divisor n), so the result
    has mean 0 and covariance I; ‖y_i − y_j‖² is then the Mahalanobis distance (x_i − x_j)ᵀS⁻¹(x_i − x_j).

    Raises ValueError when S is singular: its smallest eigenvalue is at most CONSTANT_RTOL times
    (largest eigenvalue + ‖mean‖²/d), i.e. the sample lies (numerically) in a lower-dimensional subspace,
    as the encoder means of a collapsed model do; affine-invariant tests are undefined there.
    """
    centred = x - x.mean(axis=0)
    cov = centred.T @ centred / len(x)
    evals, evecs = np.linalg.eigh(cov)
    scale = evals[-1] + float(np.sum(x.mean(axis=0) ** 2)) / x.shape[1]
    if evals[0] <= CONSTANT_RTOL * scale or scale == 0.0:
        rank = int(np.sum(evals > CONSTANT_RTOL * scale)) if scale > 0 else 0
        evals_text = np.array2string(evals, precision=3)
        raise ValueError(f"{name} = sample with singular covariance (numerical rank {rank} of {x.shape[1]}, "
                         f"eigenvalues {evals_text}): affine-invariant normality tests need a non-degenerate "
                         f"sample")
    return centred @ (evecs / np.sqrt(evals)) @ evecs.T


def singular_reason(x: np.ndarray) -> str | None:
    """The reason :func:`whiten` would refuse ``x``, or None if its covariance is non-singular."""
    try:
        whiten(x, "z")
    except ValueError as err:
        return str(err)
    return None


def subsample(x: np.ndarray, max_n: int, seed: int) -> np.ndarray:
    """At most ``max_n`` rows of ``x``: all of them if n ≤ max_n, else the rows
    ``np.sort(np.random.default_rng(seed).choice(n, max_n, replace=False))`` (a seeded simple random
    sample without replacement, in the original order)."""
    n = len(x)
    if n <= max_n:
        return x
    idx = np.sort(np.random.default_rng(seed).choice(n, max_n, replace=False))
    return x[idx]
