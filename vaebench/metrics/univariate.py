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
from scipy import special, stats

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
    equals ``scipy.stats.normaltest`` (to rounding: the same formulas without scipy's array wrappers).
    K² = Z₁² + Z₂² is χ²₂ under normality, Z₁ D'Agostino's (1970) transformed skewness and Z₂ Anscombe &
    Glynn's (1983) transformed kurtosis."""
    data = _non_constant(as_sample_1d(x, "x", min_n=DAGOSTINO_MIN_N), "x", "D'Agostino–Pearson")
    n = float(len(data))
    c = data - data.mean()
    c2 = c * c
    m2 = float(c2.mean())
    skew, kurt = float((c2 * c).mean()) / m2**1.5, float((c2 * c2).mean()) / m2**2
    y = skew * math.sqrt((n + 1) * (n + 3) / (6.0 * (n - 2)))
    beta2 = 3.0 * (n**2 + 27 * n - 70) * (n + 1) * (n + 3) / ((n - 2.0) * (n + 5) * (n + 7) * (n + 9))
    w2 = -1 + math.sqrt(2 * (beta2 - 1))
    delta, alpha = 1 / math.sqrt(0.5 * math.log(w2)), math.sqrt(2.0 / (w2 - 1))
    y = y if y != 0 else 1.0
    z_skew = delta * math.log(y / alpha + math.sqrt((y / alpha) ** 2 + 1))
    mean_b2 = 3.0 * (n - 1) / (n + 1)
    var_b2 = 24.0 * n * (n - 2) * (n - 3) / ((n + 1) * (n + 1.0) * (n + 3) * (n + 5))
    std_b2 = (kurt - mean_b2) / var_b2**0.5
    beta1 = (6.0 * (n * n - 5 * n + 2) / ((n + 7) * (n + 9))
             * (6.0 * (n + 3) * (n + 5) / (n * (n - 2) * (n - 3))) ** 0.5)
    a = 6.0 + 8.0 / beta1 * (2.0 / beta1 + (1 + 4.0 / beta1**2) ** 0.5)
    denom = 1 + std_b2 * (2 / (a - 4.0)) ** 0.5
    term2 = math.copysign(((1 - 2.0 / a) / abs(denom)) ** (1 / 3), denom) if denom != 0 else math.nan
    z_kurt = (1 - 2 / (9.0 * a) - term2) / (2 / (9.0 * a)) ** 0.5
    k2 = z_skew * z_skew + z_kurt * z_kurt
    return TestResult(k2, float(special.chdtrc(2.0, k2)), len(data), "dagostino")


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
    The statistic A² = −n − Σᵢ (2i − 1)/n·[ln Φ(w₍ᵢ₎) + ln(1 − Φ(w₍ₙ₊₁₋ᵢ₎))], w the sample standardised
    with its mean and standard deviation (ddof 1), equals ``scipy.stats.anderson(x, 'norm').statistic``
    (to rounding); the p-value is :func:`anderson_pvalue` (continuous over (0, 1], unlike scipy's table
    interpolation)."""
    data = _non_constant(as_sample_1d(x, "x", min_n=8), "x", "Anderson–Darling")
    n = len(data)
    w = (np.sort(data) - data.mean()) / data.std(ddof=1)
    weights = (2 * np.arange(1, n + 1) - 1.0) / n
    a2 = float(-n - np.sum(weights * (special.log_ndtr(w) + special.log_ndtr(-w)[::-1])))
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
    n = len(data)
    cdf = special.ndtr(np.sort(data))
    d = float(max(np.max(np.arange(1.0, n + 1) / n - cdf), np.max(cdf - np.arange(0.0, n) / n)))
    return TestResult(d, ks_pvalue(d, n), n, "ks")


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
