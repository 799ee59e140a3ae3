"""Active units and KL per dimension against numerical integration of the definition."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from vaebench.metrics import active_units, kl_per_dimension


def test_active_units_counts_dimensions_whose_mean_varies_above_the_threshold():
    rng = np.random.default_rng(0)
    mu = np.column_stack([rng.standard_normal(2000), 0.05 * rng.standard_normal(2000),
                          0.2 * rng.standard_normal(2000)])
    # variances ≈ 1, 0.0025, 0.04 against Burda et al.'s 0.01
    assert active_units(mu) == 2
    assert active_units(mu, threshold=0.001) == 3


def test_kl_per_dimension_matches_numerical_integration():
    mu = np.array([[0.0, 1.5], [-0.7, 0.2]])
    logvar = np.array([[0.0, -1.0], [0.8, -3.0]])

    def kl(m, lv):
        q, p = stats.norm(m, math.exp(0.5 * lv)), stats.norm(0, 1)
        return integrate.quad(lambda z: q.pdf(z) * (q.logpdf(z) - p.logpdf(z)), -30, 30, points=[m])[0]

    truth = [np.mean([kl(mu[i, u], logvar[i, u]) for i in range(2)]) for u in range(2)]
    assert kl_per_dimension(mu, logvar) == pytest.approx(truth, rel=1e-7)
    assert kl_per_dimension(np.zeros((3, 2)), np.zeros((3, 2))) == pytest.approx([0.0, 0.0])


def test_deterministic_encoder_has_infinite_kl():
    kl = kl_per_dimension(np.zeros((4, 2)), np.full((4, 2), -np.inf))
    assert np.all(np.isposinf(kl))
    with pytest.raises(ValueError, match="logvar"):
        kl_per_dimension(np.zeros((4, 2)), np.full((4, 2), np.nan))
