"""The likelihood bounds at extreme log-weights: a decoder far from the data (log p(x|z) ≈ −10⁶ nats).

Without the max shift of the log-sum-exp, exp(log w) underflows to 0 and IWAE turns −inf. With the
encoder equal to the prior, every importance weight p(z)/q(z|x) is exactly 1, so ELBO = IWAE_k =
log N(x; c, σ²I) for a constant decoder c: the closed form the test compares with (scipy).
"""

import math
import types

import numpy as np
import pytest
import torch
from scipy import stats

from vaebench.metrics import likelihood_bounds

SIGMA2 = 0.5


def far_model(offset: float):
    """q(z|x) = N(0, I) = p(z); decode(z) = (offset, offset) whatever z."""

    def encode(x):
        return torch.zeros(len(x), 2), torch.zeros(len(x), 2)

    def decode(z):
        return torch.full((len(z), 2), offset)

    return types.SimpleNamespace(encode=encode, decode=decode)


@pytest.mark.parametrize("offset", [1e3, -3e3])
def test_iwae_is_finite_and_exact_for_a_decoder_far_from_the_data(offset):
    x = np.random.default_rng(1).random((200, 2))
    b = likelihood_bounds(far_model(offset), x, k=32, recon_var=SIGMA2, seed=3)
    exact = float(np.mean(stats.multivariate_normal([offset, offset], SIGMA2 * np.eye(2)).logpdf(x)))
    assert exact < -1e6  # exp() of it is 0.0 in float64: only the shifted log-sum-exp survives
    assert math.isfinite(b.iwae) and math.isfinite(b.elbo)
    assert b.iwae == pytest.approx(exact, rel=1e-9)
    assert b.elbo == pytest.approx(exact, rel=1e-9)


def test_recon_var_zero_is_refused_open_bound():
    """σ² = 0 is no density (log p(x|z) = ±inf): the bound on recon_var is open."""
    x = np.random.default_rng(1).random((20, 2))
    with pytest.raises(ValueError, match="recon_var = 0: must be a number > 0"):
        likelihood_bounds(far_model(0.5), x, recon_var=0)
    assert math.isfinite(likelihood_bounds(far_model(0.5), x, k=2, recon_var=1e-6).iwae)
