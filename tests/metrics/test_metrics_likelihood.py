"""ELBO and IWAE on a linear-Gaussian model whose log p(x) is known in closed form."""

import math
import types

import numpy as np
import pytest
import torch
from scipy import stats

from vaebench.metrics import likelihood_bounds

A, SIGMA2 = 0.8, 0.3  # decoder x = A·z + c, noise variance σ², latent d = 2, data D = 2
C = torch.tensor([0.5, 0.5])


def linear_model(scale_error=1.0, mean_shift=0.0):
    # exact posterior of z given x: N(s²·A·(x − c)/σ², s²I) with s² = 1/(1 + A²/σ²)
    s2 = 1.0 / (1.0 + A**2 / SIGMA2)

    def encode(x):
        mu = s2 * A * (x - C) / SIGMA2 + mean_shift
        return mu, torch.full_like(mu, math.log(s2 * scale_error**2))

    return types.SimpleNamespace(encode=encode, decode=lambda z: A * z + C)


@pytest.fixture(scope="module")
def data():
    x = np.random.default_rng(0).random((500, 2))
    log_px = stats.multivariate_normal(C.numpy(), (A**2 + SIGMA2) * np.eye(2)).logpdf(x)
    return x, float(np.mean(log_px))


def test_exact_posterior_makes_iwae_equal_log_px_and_elbo_close(data):
    x, log_px = data
    b = likelihood_bounds(linear_model(), x, k=16, recon_var=SIGMA2, seed=1)
    assert b.iwae == pytest.approx(log_px, abs=1e-5)  # every importance weight equals p(x)
    assert b.elbo == pytest.approx(log_px, abs=0.01)  # the same bound, up to Monte Carlo noise
    assert (b.k, b.n) == (16, 500)


def test_a_poor_encoder_orders_the_bounds(data):
    x, log_px = data
    model = linear_model(scale_error=2.5, mean_shift=0.3)
    iwae = [likelihood_bounds(model, x, k=k, recon_var=SIGMA2, seed=2).iwae for k in (1, 8, 64)]
    elbo = likelihood_bounds(model, x, k=64, recon_var=SIGMA2, seed=2).elbo
    assert elbo < iwae[1] < iwae[2] < log_px
    assert iwae[0] < iwae[1]
    assert elbo == pytest.approx(iwae[0], abs=0.15)  # IWAE₁ is a one-sample ELBO


def test_deterministic_encoder_gives_nan_and_a_bad_model_is_refused(data):
    x = data[0]
    det = types.SimpleNamespace(encode=lambda t: (t, torch.full_like(t, -torch.inf)), decode=lambda z: z)
    b = likelihood_bounds(det, x)
    assert math.isnan(b.elbo) and math.isnan(b.iwae)
    with pytest.raises(ValueError, match="decode"):
        likelihood_bounds(types.SimpleNamespace(encode=lambda t: t), x)
