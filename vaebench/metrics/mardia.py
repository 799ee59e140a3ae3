"""Mardia's multivariate skewness and kurtosis tests, as defined in Mardia (1970), O(n·p³) time and O(p³)
memory: no n×n matrix, so n = 100 000 is cheap.

With y_i the whitened sample (mean 0, maximum-likelihood covariance I), b₁,ₚ = (1/n²) Σᵢⱼ (y_iᵀy_j)³ equals
Σ_abc T_abc² for the third-moment tensor T_abc = (1/n) Σᵢ y_ia y_ib y_ic, and b₂,ₚ = (1/n) Σᵢ ‖y_i‖⁴.

- skewness: n·b₁,ₚ/6 ~ χ² with p(p+1)(p+2)/6 degrees of freedom (Mardia 1970, §3);
- kurtosis: (b₂,ₚ − p(p+2)) / √(8p(p+2)/n) ~ N(0, 1), two-sided (Mardia 1970, §4).
Both are the large-sample forms; the evaluation sets here have thousands of points (no small-sample
correction is applied, so for n below about 50 the tests are approximate).

Both are affine-invariant: they test "Gaussian", not "equal to N(0, I)".
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from vaebench.metrics._arrays import as_points, whiten
from vaebench.metrics.results import MardiaResult, TestResult

_ROWS = 4096  # rows per block of the third-moment tensor: memory O(_ROWS·p²)


def third_moment_tensor(y: np.ndarray) -> np.ndarray:
    """T_abc = (1/n) Σᵢ y_ia y_ib y_ic of ``y`` [n, p], accumulated over row blocks: [p, p, p]."""
    n, p = y.shape
    t = np.zeros((p * p, p))
    for start in range(0, n, _ROWS):
        blk = y[start:start + _ROWS]
        outer = (blk[:, :, None] * blk[:, None, :]).reshape(len(blk), p * p)
        t += outer.T @ blk
    return (t / n).reshape(p, p, p)


def mardia(z: Any) -> MardiaResult:
    """Mardia's skewness and kurtosis tests of multivariate normality of ``z`` [n, p], n > p + 1.

    Returns a :class:`MardiaResult` (``.skewness`` and ``.kurtosis`` are TestResults; ``.statistic`` and
    ``.pvalue`` hold both). ValueError for bad arrays or a singular sample covariance (e.g. a constant
    latent dimension). For p = 1, b₁ and b₂ are the squared sample skewness and the sample kurtosis.
    """
    x = as_points(z, "z", min_n=3)
    n, p = x.shape
    if n < p + 2:
        raise ValueError(f"z = array of {n} points in {p} dimensions: Mardia's tests need n >= p + 2")
    y = whiten(x, "z")
    b1p = float(np.sum(third_moment_tensor(y) ** 2))
    b2p = float(np.mean(np.sum(y * y, axis=1) ** 2))
    skew_stat = n * b1p / 6.0
    df = p * (p + 1) * (p + 2) / 6.0
    skew = TestResult(skew_stat, float(stats.chi2.sf(skew_stat, df)), n, "mardia_skew")
    kurt_stat = (b2p - p * (p + 2)) / np.sqrt(8.0 * p * (p + 2) / n)
    kurt = TestResult(float(kurt_stat), float(2.0 * stats.norm.sf(abs(kurt_stat))), n, "mardia_kurt")
    return MardiaResult(skew, kurt, b1p, b2p)
