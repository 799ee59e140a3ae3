"""Per-dimension normality tests with scipy.stats, each returning a :class:`TestResult`.

- Shapiro–Wilk (Shapiro & Wilk 1965; scipy's algorithm is Royston 1995, AS R94): scale-free, tests "normal".
  scipy warns that its p-value may be inaccurate above n = 5 000, so for n > 5 000 it is computed on a
  seeded random subsample of 5 000 points (:func:`vaebench.metrics._arrays.subsample`).
- D'Agostino–Pearson K² (D'Agostino 1971; D'Agostino & Pearson 1973), ``scipy.stats.normaltest``; needs
  n ≥ 20 (scipy's kurtosis test is invalid below).
- Anderson–Darling for the normal family with estimated mean and variance (Anderson & Darling 1954;
  Stephens 1974): the statistic A² is scipy's; scipy interpolates p-values only within [0.01, 0.15], so the
  p-value here is D'Agostino & Stephens' (1986, Table 4.9) formula on A*² = A²(1 + 0.75/n + 2.25/n²).
- Kolmogorov–Smirnov against N(0, 1) itself (Kolmogorov 1933; Smirnov 1948), ``scipy.stats.kstest``: the
  only one of the four that tests the prior, not merely normality. Its p-value is scipy's except in the
  tail (p ≲ 0.025, n > 140), where it is Stephens' (1970) asymptotic form (:func:`ks_pvalue`).

The scale-free tests (all but KS) are undefined for a constant sample and raise a ValueError naming it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from vaebench.metrics._arrays import as_sample_1d, check_count, constant_reason, subsample
from vaebench.metrics.results import TestResult

SHAPIRO_MAX_N = 5000
DAGOSTINO_MIN_N = 20
KS_EXACT_MAX_N, KS_ASYMPTOTIC_NX2 = 140, 2.2  # where the KS p-value is asymptotic (see ks_pvalue)


def _non_constant(x: np.ndarray, name: str, test: str) -> np.ndarray:
    reason = constant_reason(x)
    if reason:
        raise ValueError(f"{name} = {reason}: the {test} test is scale-free and undefined for it")
    return x


def shapiro_wilk(x: Any, *, seed: int = 0) -> TestResult:
    """Shapiro–Wilk test of normality of a sample ``x`` [n] (or [n, 1]), n ≥ 3.

    Above n = 5 000 points the test runs on 5 000 of them drawn by
    ``np.sort(np.random.default_rng(seed).choice(n, 5000, replace=False))``, where scipy's p-value is
    accurate; ``n`` of the result says how many were used. Equals ``scipy.stats.shapiro`` on those points.
    """
    seed = check_count("seed", seed, 0)
    data = _non_constant(as_sample_1d(x, "x", min_n=3), "x", "Shapiro–Wilk")
    data = subsample(data, SHAPIRO_MAX_N, seed)
    res = stats.shapiro(data)
    return TestResult(float(res.statistic), float(res.pvalue), len(data), "shapiro")


def dagostino_pearson(x: Any) -> TestResult:
    """D'Agostino–Pearson omnibus K² test (skewness and kurtosis) of a sample ``x`` [n], n ≥ 20;
    equals ``scipy.stats.normaltest``. K² is χ²₂ under normality."""
    data = _non_constant(as_sample_1d(x, "x", min_n=DAGOSTINO_MIN_N), "x", "D'Agostino–Pearson")
    res = stats.normaltest(data)
    return TestResult(float(res.statistic), float(res.pvalue), len(data), "dagostino")


def anderson_pvalue(a2: float, n: int) -> float:
    """p-value of the Anderson–Darling normality statistic ``a2`` (mean and variance estimated) for a
    sample of ``n``: D'Agostino & Stephens (1986), Table 4.9, on A*² = A²(1 + 0.75/n + 2.25/n²). The upper
    branch exp(1.2937 − 5.709A* + 0.0186A*²) turns upwards past its vertex A* ≈ 153.5, far beyond any
    significance level (p ≈ 1e-191 there), so A* is clamped to the vertex to keep p monotone."""
    a = a2 * (1.0 + 0.75 / n + 2.25 / n**2)
    if a >= 0.6:
        a = min(a, 5.709 / (2 * 0.0186))
        p = math.exp(1.2937 - 5.709 * a + 0.0186 * a * a)
    elif a >= 0.34:
        p = math.exp(0.9177 - 4.279 * a - 1.38 * a * a)
    elif a >= 0.2:
        p = 1.0 - math.exp(-8.318 + 42.796 * a - 59.938 * a * a)
    else:
        p = 1.0 - math.exp(-13.436 + 101.14 * a - 223.73 * a * a)
    return min(max(p, 0.0), 1.0)


def anderson_darling(x: Any) -> TestResult:
    """Anderson–Darling test of normality (mean and variance estimated) of a sample ``x`` [n], n ≥ 8.
    The statistic A² equals ``scipy.stats.anderson(x, 'norm').statistic``; the p-value is
    :func:`anderson_pvalue` (continuous over (0, 1], unlike scipy's table interpolation)."""
    data = _non_constant(as_sample_1d(x, "x", min_n=8), "x", "Anderson–Darling")
    a2 = float(stats.anderson(data, dist="norm", method="interpolate").statistic)
    return TestResult(a2, anderson_pvalue(a2, len(data)), len(data), "anderson")


def ks_pvalue(d: float, n: int) -> float:
    """Two-sided p-value of the one-sample Kolmogorov–Smirnov statistic ``d`` for ``n`` points.

    scipy's (``scipy.stats.kstwo.sf``, what ``kstest`` uses) except where n > 140 and n·d² ≥ 2.2 (p below
    about 0.025): there scipy itself approximates, by 2× the one-sided exact probability, at a cost of
    O(n) (≈ 6 ms at n = 5 000, more than the test itself), and this returns instead Stephens' (1970)
    asymptotic form P(K > d·(√n + 0.12 + 0.11/√n)), K the Kolmogorov distribution (``kstwobign``). The
    two differ there by at most 1.1e-4 in absolute value (checked for n = 141 … 50 000 in the tests)."""
    if n > KS_EXACT_MAX_N and n * d * d >= KS_ASYMPTOTIC_NX2:
        root = math.sqrt(n)
        return float(stats.kstwobign.sf(d * (root + 0.12 + 0.11 / root)))
    return float(np.clip(stats.kstwo.sf(d, n), 0.0, 1.0))


def ks_standard_normal(x: Any) -> TestResult:
    """One-sample Kolmogorov–Smirnov test of ``x`` [n] against N(0, 1) (parameters fixed, not fitted):
    tests the prior, so a shifted or rescaled Gaussian is rejected. The statistic equals
    ``scipy.stats.kstest(x, "norm")``'s; so does the p-value, except in the tail (p ≲ 0.025, n > 140),
    where it is Stephens' asymptotic one (:func:`ks_pvalue`). Defined for constant samples too (and
    rejects them)."""
    data = as_sample_1d(x, "x", min_n=1)
    d = float(stats.kstest(data, "norm", method="asymp").statistic)
    return TestResult(d, ks_pvalue(d, len(data)), len(data), "ks")


# name → test(x, seed); the suite runs each on every latent dimension. "smaller statistic = less normal" only
# for Shapiro–Wilk's W, so the suite reports its minimum over dimensions and the others' maximum.
UNIVARIATE_TESTS: dict[str, Callable[[np.ndarray, int], TestResult]] = {
    "shapiro": lambda x, seed: shapiro_wilk(x, seed=seed),
    "dagostino": lambda x, seed: dagostino_pearson(x),
    "anderson": lambda x, seed: anderson_darling(x),
    "ks": lambda x, seed: ks_standard_normal(x),
}
WORST_STATISTIC = {"shapiro": "min", "dagostino": "max", "anderson": "max", "ks": "max"}
SCALE_FREE = ("shapiro", "dagostino", "anderson")
