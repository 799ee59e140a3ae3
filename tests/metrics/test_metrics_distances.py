"""Sliced Wasserstein against scipy's 1-D Wasserstein distance and closed forms; MSE."""

import numpy as np
import pytest
from scipy import stats

from vaebench.metrics import mse, sliced_wasserstein
from vaebench.metrics.distances import projection_directions


def test_one_dimension_equals_scipys_wasserstein_distance_for_unequal_sizes():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(300), rng.exponential(size=451)
    assert sliced_wasserstein(a, b, p=1) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-12)


def test_two_dimensions_p1_is_the_mean_of_scipys_1d_distances_over_the_angles():
    rng = np.random.default_rng(1)
    a, b = rng.random((400, 2)), rng.standard_normal((333, 2)) * 0.3 + 0.5
    angles = np.pi * np.arange(16) / 16
    ref = np.mean([stats.wasserstein_distance(a @ [np.cos(t), np.sin(t)], b @ [np.cos(t), np.sin(t)])
                   for t in angles])
    assert sliced_wasserstein(a, b, n_projections=16, p=1) == pytest.approx(ref, rel=1e-10)


def test_translation_gives_norm_over_sqrt2_exactly_in_2d():
    a = np.random.default_rng(2).random((500, 2))
    delta = np.array([0.3, -0.4])  # ‖Δ‖ = 0.5
    assert sliced_wasserstein(a, a + delta) == pytest.approx(0.5 / np.sqrt(2), rel=1e-10)


def test_scaled_gaussian_in_3d_matches_the_closed_form():
    # every projection of N(0, I) and N(0, 4I) is N(0, 1) vs N(0, 4): W₂ = |2 − 1| = 1 per direction
    rng = np.random.default_rng(3)
    sw = sliced_wasserstein(rng.standard_normal((20_000, 3)), 2 * rng.standard_normal((20_000, 3)), seed=1)
    assert sw == pytest.approx(1.0, abs=0.03)
    dirs = projection_directions(3, 10, seed=4)
    assert np.allclose(np.linalg.norm(dirs, axis=1), 1.0)


def test_identical_samples_give_zero_and_mse_is_the_plain_mean():
    rng = np.random.default_rng(5)
    x, y = rng.random((100, 2)), rng.random((100, 2))
    assert sliced_wasserstein(x, x) == 0.0
    assert mse(x, y) == pytest.approx(np.mean((x - y) ** 2), rel=1e-15)
    with pytest.raises(ValueError, match="recon"):
        mse(x, y[:50])
