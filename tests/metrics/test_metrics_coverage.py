"""Density and coverage (Naeem et al. 2020) against the published definition and the closed form."""

import math

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from vaebench.metrics import coverage, coverage_and_density, density, expected_coverage


def brute_force(real, fake, k):
    """The paper's definitions with full distance matrices (as the prdc package computes them)."""
    rr = cdist(real, real)
    radii = np.sort(rr, axis=1)[:, k]  # column 0 is the point itself
    rf = cdist(real, fake)
    cov = np.mean(rf.min(axis=1) < radii)
    dens = np.sum(rf < radii[:, None]) / (k * len(fake))
    return cov, dens


@pytest.mark.parametrize("k", [1, 5, 9])
def test_equals_the_published_definition(k, metrics_route):
    rng = np.random.default_rng(k)
    real = rng.random((300, 2))
    fake = 0.1 + 0.8 * rng.random((250, 2)) ** 1.5
    cov, dens = brute_force(real, fake, k)
    assert coverage(real, fake, k) == cov
    assert density(real, fake, k) == pytest.approx(dens, rel=1e-12)
    mask, d2 = coverage_and_density(real, fake, k)
    assert mask.mean() == cov and d2 == density(real, fake, k)


def test_closed_form_of_the_expected_coverage():
    i = np.arange(1, 6)
    assert expected_coverage(2000, 2000, 5) == pytest.approx(1 - np.prod((2000 - i) / (4000 - i)))
    assert expected_coverage(2000, 2000, 5) == pytest.approx(0.969, abs=5e-4)


@pytest.mark.parametrize(("n_real", "n_fake"), [(2000, 2000), (1000, 3000)])
def test_two_independent_samples_agree_with_the_closed_form(n_real, n_fake):
    rng = np.random.default_rng(n_fake)
    reps = 8
    covs, denss = [], []
    for _ in range(reps):
        cov_dens = coverage_and_density(rng.random((n_real, 2)), rng.random((n_fake, 2)), 5)
        covs.append(cov_dens[0].mean())
        denss.append(cov_dens[1])
    truth = expected_coverage(n_real, n_fake, 5)
    # simulated sd of one coverage at N = M = 2 000 is 0.0043 (shared/FACTS.md)
    assert np.mean(covs) == pytest.approx(truth, abs=4 * 0.0043 / math.sqrt(reps))
    assert np.mean(denss) == pytest.approx(1.0, abs=0.03)  # E[density] = 1 exactly for equal laws


def test_coverage_drops_when_the_fakes_miss_part_of_the_support():
    rng = np.random.default_rng(3)
    real = rng.random((2000, 2))
    half = rng.random((2000, 2)) * [0.5, 1.0]
    assert coverage(real, half) == pytest.approx(0.5, abs=0.03)
