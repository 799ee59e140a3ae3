"""The closed forms of vaebench.closed_forms, each checked against an independent computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize

from vaebench.closed_forms import (
    UNIFORM_VAR,
    blahut_arimoto_uniform,
    expected_coverage,
    gaussian_upper_bound,
    linear_vae_critical_beta,
    linear_vae_optimum,
    shannon_lower_bound,
    uniform_square_rate,
)
from vaebench.metrics import coverage


def _direction_loss(theta: np.ndarray, beta: float, recon_var: float, xi2: float) -> float:
    """The linear VAE's expected loss along one direction, encoder μ = a·x, log s², decoder w·z:
    E(x − w(ax + sε))²/(2σ²) + β·KL(N(ax, s²) ‖ N(0, 1)) averaged over x ~ (0, ξ²)."""
    a, log_s2, w = theta
    s2 = math.exp(log_s2)
    err = (1 - w * a) ** 2 * xi2 + w * w * s2
    kl = 0.5 * (a * a * xi2 + s2 - 1 - log_s2)
    return err / (2 * recon_var) + beta * kl


def _minimise(beta: float, recon_var: float, xi2: float) -> tuple[float, float]:
    """(error, KL) of the best of several local minimisations of the loss above."""
    best = None
    for a0, w0 in ((3.0, 0.2), (0.01, 0.01), (-2.0, -0.1)):
        res = optimize.minimize(_direction_loss, [a0, 0.0, w0], args=(beta, recon_var, xi2),
                                method="BFGS", options={"gtol": 1e-10})
        if best is None or res.fun < best.fun:
            best = res
    a, log_s2, w = best.x
    s2 = math.exp(log_s2)
    return (1 - w * a) ** 2 * xi2 + w * w * s2, 0.5 * (a * a * xi2 + s2 - 1 - log_s2)


def test_linear_vae_matches_the_facts_sheet():
    opt = linear_vae_optimum(0.1)
    assert opt["error_per_direction"] == pytest.approx(0.0500, abs=5e-5)
    assert opt["kl_per_direction"] == pytest.approx(0.2554, abs=5e-5)
    assert opt["error"] == pytest.approx(0.1) and opt["kl"] == pytest.approx(2 * 0.25541, abs=1e-4)
    assert linear_vae_critical_beta() == pytest.approx(1 / 6)


@pytest.mark.parametrize("recon_var", [0.5, 0.1])
@pytest.mark.parametrize("fraction", [0.1, 0.4, 0.8, 1.25, 3.0])
def test_linear_vae_optimum_is_the_minimum_of_its_loss(recon_var, fraction):
    beta = fraction * linear_vae_critical_beta(recon_var)
    err, kl = _minimise(beta, recon_var, UNIFORM_VAR)
    opt = linear_vae_optimum(beta, recon_var)
    assert opt["error_per_direction"] == pytest.approx(err, rel=1e-4, abs=1e-7)
    assert opt["kl_per_direction"] == pytest.approx(kl, rel=1e-4, abs=1e-6)
    assert opt["active"] == (2 if fraction < 1 else 0)


def test_linear_vae_with_one_latent_keeps_one_direction():
    opt = linear_vae_optimum(0.1, latent_dim=1)
    assert opt["active"] == 1
    assert opt["error"] == pytest.approx(0.05 + UNIFORM_VAR)
    assert opt["kl"] == pytest.approx(0.5 * math.log(UNIFORM_VAR / 0.05))


@pytest.mark.parametrize("bad", [0.0, -0.1, math.nan, math.inf])
def test_linear_vae_rejects_a_bad_beta(bad):
    with pytest.raises(ValueError, match="beta"):
        linear_vae_optimum(bad)


def test_rate_distortion_bounds_order_and_the_gaussian_bound_is_zero_at_the_variance():
    d1 = np.geomspace(1e-5, UNIFORM_VAR, 50)
    assert np.all(shannon_lower_bound(d1) < gaussian_upper_bound(d1))
    assert gaussian_upper_bound(UNIFORM_VAR) == pytest.approx(0.0, abs=1e-12)
    # the two bounds differ by ½ ln(2πe/12) nats wherever the upper one is positive
    assert np.allclose(gaussian_upper_bound(d1[:-1]) - shannon_lower_bound(d1[:-1]),
                       0.5 * math.log(2 * math.pi * math.e / 12))


@pytest.fixture(scope="module")
def ba_points():
    return [blahut_arimoto_uniform(s, n=600, tol=1e-4)[0] for s in (-10.0, -60.0, -400.0, -3000.0)]


def test_blahut_arimoto_converges_between_the_bounds(ba_points):
    for p in ba_points:
        assert p.converged
        assert p.rate - p.rate_lower < 1e-4
        assert shannon_lower_bound(p.distortion) <= p.rate_lower
        assert p.rate < gaussian_upper_bound(p.distortion)
    # small distortions approach Shannon's bound (the source's edges matter less and less)
    small = ba_points[-1]
    assert small.rate - shannon_lower_bound(small.distortion) < 0.02


def test_blahut_arimoto_slope_is_the_curve_s_derivative():
    # parametric property of R(D): dR/dD = s at the point of slope s (Blahut 1972, Thm 2)
    s = -60.0
    a, _ = blahut_arimoto_uniform(s * 1.1, n=600, tol=2e-5)
    b, _ = blahut_arimoto_uniform(s / 1.1, n=600, tol=2e-5)
    assert (a.rate - b.rate) / (a.distortion - b.distortion) == pytest.approx(s, rel=0.01)


def test_an_unconverged_run_says_so():
    p, _ = blahut_arimoto_uniform(-400.0, n=600, tol=1e-9, max_iter=50)
    assert not p.converged and p.iterations == 50


def test_uniform_square_rate_is_twice_the_coordinate_rate(ba_points):
    for p in ba_points:
        assert uniform_square_rate(2 * p.distortion, ba_points) == pytest.approx(2 * p.rate)
    assert uniform_square_rate(2 * UNIFORM_VAR + 0.01, ba_points) == 0.0
    assert np.isnan(uniform_square_rate(1e-9, ba_points))


@pytest.mark.parametrize(("n_real", "n_fake", "k"), [(400, 400, 5), (300, 600, 3)])
def test_same_distribution_coverage_matches_simulation(n_real, n_fake, k):
    rng = np.random.default_rng(7)
    sims = [coverage(rng.random((n_real, 2)), rng.random((n_fake, 2)), k) for _ in range(300)]
    se = np.std(sims, ddof=1) / math.sqrt(len(sims))
    assert abs(np.mean(sims) - expected_coverage(n_real, n_fake, k)) < 4 * se
