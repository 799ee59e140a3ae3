"""Mardia and Henze–Zirkler against naive O(n²) implementations written here from the published formulas,
scipy's univariate moments, affine invariance, power, and memory."""

import math
import tracemalloc

import numpy as np
import pytest
from scipy import stats

from vaebench.metrics import MardiaResult, henze_zirkler, mardia


def _mahalanobis_gram(x):
    """D = (x − x̄) S⁻¹ (x − x̄)ᵀ with the divisor-n covariance: the full n×n matrix."""
    c = x - x.mean(axis=0)
    s = c.T @ c / len(x)
    return c @ np.linalg.inv(s) @ c.T


def naive_mardia(x):
    n, p = x.shape
    g = _mahalanobis_gram(x)
    b1p = np.sum(g**3) / n**2
    b2p = np.mean(np.diag(g) ** 2)
    skew = n * b1p / 6  # Mardia (1970), §3 and §4
    kurt = (b2p - p * (p + 2)) / math.sqrt(8 * p * (p + 2) / n)
    return b1p, b2p, skew, stats.chi2.sf(skew, p * (p + 1) * (p + 2) / 6), kurt, 2 * stats.norm.sf(abs(kurt))


def naive_henze_zirkler(x):
    """Henze & Zirkler (1990) with the log-normal p-value as in R's MVN::hz, from the n×n matrices."""
    n, p = x.shape
    g = _mahalanobis_gram(x)
    dj = np.diag(g)
    djk = dj[:, None] + dj[None, :] - 2 * g
    b = 1 / math.sqrt(2) * ((2 * p + 1) / 4) ** (1 / (p + 4)) * n ** (1 / (p + 4))
    hz = n * (np.sum(np.exp(-b**2 / 2 * djk)) / n**2
              - 2 * (1 + b**2) ** (-p / 2) * np.sum(np.exp(-b**2 / (2 * (1 + b**2)) * dj)) / n
              + (1 + 2 * b**2) ** (-p / 2))
    wb = (1 + b**2) * (1 + 3 * b**2)
    a = 1 + 2 * b**2
    mu = 1 - a ** (-p / 2) * (1 + p * b**2 / a + p * (p + 2) * b**4 / (2 * a**2))
    si2 = (2 * (1 + 4 * b**2) ** (-p / 2) + 2 * a ** (-p) * (1 + 2 * p * b**4 / a**2 + 3 * p * (p + 2) * b**8
                                                             / (4 * a**4))
           - 4 * wb ** (-p / 2) * (1 + 3 * p * b**4 / (2 * wb) + p * (p + 2) * b**8 / (2 * wb**2)))
    pmu = math.log(math.sqrt(mu**4 / (si2 + mu**2)))
    psi = math.sqrt(math.log((si2 + mu**2) / mu**2))
    return hz, 1 - stats.lognorm.cdf(hz, psi, scale=math.exp(pmu))


MIX = np.array([[1, 0.5, 0], [0, 1, 0.3], [0, 0, 2]])
SAMPLES = {
    "normal2": lambda rng: rng.standard_normal((300, 2)),
    "correlated3": lambda rng: rng.standard_normal((250, 3)) @ MIX,
    "uniform2": lambda rng: rng.random((300, 2)),
    "skewed4": lambda rng: rng.exponential(size=(200, 4)),
}


@pytest.mark.parametrize("kind", SAMPLES)
def test_mardia_equals_the_naive_n_squared_formula(kind):
    x = SAMPLES[kind](np.random.default_rng(3))
    res = mardia(x)
    b1p, b2p, skew, pskew, kurt, pkurt = naive_mardia(x)
    assert isinstance(res, MardiaResult)
    assert res.b1p == pytest.approx(b1p, rel=1e-9)
    assert res.b2p == pytest.approx(b2p, rel=1e-9)
    assert res.statistic == pytest.approx([skew, kurt], rel=1e-8)
    assert res.pvalue == pytest.approx([pskew, pkurt], rel=1e-6, abs=1e-300)


def test_mardia_in_one_dimension_is_squared_skewness_and_kurtosis():
    x = np.random.default_rng(4).gamma(3.0, size=500)
    res = mardia(x[:, None])
    assert res.b1p == pytest.approx(stats.skew(x) ** 2, rel=1e-9)
    assert res.b2p == pytest.approx(stats.kurtosis(x, fisher=False), rel=1e-9)


@pytest.mark.parametrize("kind", SAMPLES)
def test_henze_zirkler_equals_the_naive_n_squared_formula(kind, metrics_route):
    x = SAMPLES[kind](np.random.default_rng(5))
    res = henze_zirkler(x)
    hz, p = naive_henze_zirkler(x)
    assert res.statistic == pytest.approx(hz, rel=1e-9)
    assert res.pvalue == pytest.approx(p, rel=1e-6, abs=1e-12)
    assert res.n == len(x)


def test_block_size_does_not_change_the_statistic():
    from vaebench.metrics import _pairwise

    x = np.random.default_rng(6).standard_normal((501, 2))
    full = _pairwise.pairwise_sum(x, _pairwise.euclidean)
    for block in (1, 7, 500, 10**6):
        blocked = _pairwise.pairwise_sum(x, _pairwise.euclidean, max_block=block)
        assert blocked == pytest.approx(full, rel=1e-12)


def test_affine_invariance():
    rng = np.random.default_rng(7)
    x = rng.exponential(size=(400, 3))
    a = rng.standard_normal((3, 3)) + 3 * np.eye(3)
    y = x @ a.T + np.array([5.0, -2.0, 0.1])
    assert henze_zirkler(y).statistic == pytest.approx(henze_zirkler(x).statistic, rel=1e-8)
    assert mardia(y).statistic == pytest.approx(mardia(x).statistic, rel=1e-8)


def test_uniform_square_is_rejected_and_gaussian_is_not():
    rng = np.random.default_rng(8)
    uni = rng.random((1000, 2))
    assert henze_zirkler(uni).pvalue < 1e-6
    assert mardia(uni).kurtosis.pvalue < 1e-6  # b2p = 5.6 for the uniform square, 8 for a Gaussian
    gauss = rng.standard_normal((1000, 2))
    assert henze_zirkler(gauss).pvalue > 0.01 and min(mardia(gauss).pvalue) > 0.01


def test_henze_zirkler_is_memory_safe():
    # an n×n float64 matrix at n = 12 000 would take 1.15 GB; the blocked sum stays within a few MiB
    x = np.random.default_rng(9).standard_normal((12_000, 2))
    tracemalloc.start()
    res = henze_zirkler(x)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 20e6
    assert 0 <= res.pvalue <= 1


def test_singular_covariance_is_a_clear_error():
    rng = np.random.default_rng(10)
    x = np.column_stack([rng.standard_normal(100), np.full(100, 2.0)])
    for test in (henze_zirkler, mardia):
        with pytest.raises(ValueError, match="singular covariance"):
            test(x)
    line = np.column_stack([x[:, 0], 3 * x[:, 0] - 1])  # rank 1: collinear
    with pytest.raises(ValueError, match="singular covariance"):
        henze_zirkler(line)
