"""Distances to N(0, I) against scipy's distributions and closed forms."""

import numpy as np
import pytest
from scipy import spatial, stats

from vaebench.metrics import energy_distance, expected_distance_to_standard_normal, moment_kl

RADII = np.array([0.0, 1e-4, 0.3, 1.0, 2.5, 7.0, 30.0])


def _points(radii, d):
    pts = np.zeros((len(radii), d))
    pts[:, 0] = radii
    return pts


def test_expected_distance_matches_scipy_distributions():
    # d = 1: |x − Y| is folded normal; d = 2: ‖x − Y‖ is Rice; any d, x = 0: chi
    got1 = expected_distance_to_standard_normal(_points(RADII, 1))
    got2 = expected_distance_to_standard_normal(_points(RADII, 2))
    for r, g1, g2 in zip(RADII, got1, got2, strict=True):
        assert g1 == pytest.approx(stats.foldnorm(c=r).mean(), rel=1e-10)
        assert g2 == pytest.approx(stats.rice(b=r).mean() if r > 0 else stats.chi(2).mean(), rel=1e-8)
    for d in (3, 5, 16):
        assert expected_distance_to_standard_normal(np.zeros((1, d)))[0] == pytest.approx(stats.chi(d).mean())
        x = np.full((1, d), 0.8)
        r2 = float(np.sum(x**2))
        # E sqrt(W) for W ~ non-central χ²(d, ‖x‖²)
        ref = stats.ncx2(df=d, nc=r2).expect(np.sqrt)
        assert expected_distance_to_standard_normal(x)[0] == pytest.approx(ref, rel=1e-7)


def test_energy_distance_in_1d_equals_scipys_two_sample_energy_distance_to_a_fine_normal_grid(metrics_route):
    # scipy.stats.energy_distance(u, v) = sqrt of the V-statistic ℰ between empirical distributions; ours is
    # the U-statistic against N(0, 1) itself: ℰ_U = ℰ_V − Σᵢⱼ|xᵢ − xⱼ| / (n²(n − 1))
    x = np.random.default_rng(11).standard_t(4, 400) * 0.8 + 0.2
    n = len(x)
    pair_sum = 2 * spatial.distance.pdist(x[:, None]).sum()
    grid = stats.norm.ppf((np.arange(400_000) + 0.5) / 400_000)
    v_stat = stats.energy_distance(x, grid) ** 2
    assert energy_distance(x) == pytest.approx(v_stat - pair_sum / (n**2 * (n - 1)), abs=1e-6)


def test_energy_distance_of_a_shifted_gaussian_matches_its_closed_form(metrics_route):
    # ℰ(N(μ, I), N(0, I)) = 2√2 (E Rice(‖μ‖/√2) − E χ₂) in 2-D
    rng = np.random.default_rng(12)
    for shift in (0.5, 1.0):
        truth = 2 * np.sqrt(2) * (stats.rice(b=shift / np.sqrt(2)).mean() - stats.chi(2).mean())
        est = np.mean([energy_distance(rng.standard_normal((1000, 2)) + [shift, 0.0]) for _ in range(5)])
        assert est == pytest.approx(truth, abs=0.02)  # sd of the mean of 5 estimates ≈ 0.006


def test_energy_distance_is_unbiased_near_zero_for_the_prior():
    rng = np.random.default_rng(13)
    est = [energy_distance(rng.standard_normal((500, 2))) for _ in range(40)]
    assert abs(np.mean(est)) < 3 * np.std(est) / np.sqrt(40)
    assert max(est) < 0.02


def test_moment_kl_matches_a_monte_carlo_kl_with_scipy_densities():
    rng = np.random.default_rng(14)
    x = rng.standard_normal((50_000, 2)) @ np.array([[0.5, 0.0], [0.4, 1.5]]) + [1.0, -0.5]
    m, s = x.mean(axis=0), np.cov(x.T, bias=True)
    fit, prior = stats.multivariate_normal(m, s), stats.multivariate_normal(np.zeros(2))
    draws = fit.rvs(200_000, random_state=rng)
    mc = np.mean(fit.logpdf(draws) - prior.logpdf(draws))
    assert moment_kl(x) == pytest.approx(mc, abs=0.01)
    assert moment_kl(rng.standard_normal((100_000, 3))) < 1e-3


def test_moment_kl_is_nan_for_a_singular_sample():
    x = np.column_stack([np.random.default_rng(15).standard_normal(100), np.zeros(100)])
    assert np.isnan(moment_kl(x))
