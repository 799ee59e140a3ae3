"""Input directions kept by a latent: exact structures, and the k-NN noise floor corrected."""

import math

import numpy as np
import pytest

from vaebench.metrics.directions import explained_shares, input_directions

N = 3000


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).uniform(size=(N, 2))


def test_a_latent_that_is_the_input_keeps_both(x, metrics_route):
    out = input_directions(x, 5.0 * x @ np.array([[0.6, -0.8], [0.8, 0.6]]) - 3)  # turned, scaled, moved
    assert out["z_directions_kept"] == 2 and out["z_explained_minor"] > 0.99


def test_bands_keep_one_direction(x, metrics_route):
    out = input_directions(x, (x[:, 0] + x[:, 1])[:, None])  # one latent dimension: a band per value
    assert out["z_directions_kept"] == 1
    assert out["z_explained_major"] > 0.98 and out["z_explained_minor"] == pytest.approx(0, abs=0.05)


def test_noise_floor_is_corrected(x):
    # independent z: the k-NN estimate of x is a mean of k random points, residual variance (1 + 1/k)·Σ,
    # so uncorrected shares would sit at −1/k = −0.1; corrected they are 0 on average
    shares = [explained_shares(x, np.random.default_rng(s).standard_normal((N, 2))) for s in range(5)]
    assert np.mean(shares) == pytest.approx(0, abs=0.02)
    assert input_directions(x, np.random.default_rng(9).standard_normal((N, 2)))["z_directions_kept"] == 0


def test_undefined_and_bad_input(x):
    z = x.copy()
    z[0, 0] = np.inf
    with pytest.raises(ValueError, match="z"):
        input_directions(x, z)
    assert all(math.isnan(v) for v in input_directions(x[:5], x[:5]).values())  # n <= k
    with pytest.raises(ValueError, match="as many"):
        input_directions(x, x[:-1])
