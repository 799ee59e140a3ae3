"""Derived numbers against constructed latents whose answer is known."""

import numpy as np
import pytest
from scipy import stats

from analysis.derived import derived_metrics, input_directions, kurtosis_ratio

N = 4000


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).random((N, 2))


def test_probit_latent_keeps_both_directions(x):
    out = input_directions(x, stats.norm.ppf(x))
    assert out["z_input_directions"] == 2 and out["z_explained_minor"] > 0.95


def test_rotated_reflected_and_rescaled_latent_gives_the_same_numbers(x):
    z = stats.norm.ppf(x)
    angle = 0.7
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]) @ np.diag([1, -1])
    a, b = input_directions(x, z), input_directions(x, 1e-6 * z @ rot.T)
    assert a["z_explained_minor"] == pytest.approx(b["z_explained_minor"], abs=1e-3)
    assert a["z_input_directions"] == b["z_input_directions"]


def test_latent_of_one_coordinate_keeps_one_direction(x):
    out = input_directions(x, x[:, :1] * 3.0)  # "bands": the latent sees x1 only
    assert out["z_input_directions"] == 1
    assert out["z_explained_major"] > 0.95 and out["z_explained_minor"] < 0.05


def test_collapsed_or_noise_dominated_latent_keeps_none(x):
    rng = np.random.default_rng(1)
    assert input_directions(x, np.zeros((N, 2)))["z_input_directions"] == 0
    # structure far below the posterior noise: z = 1e-3 Φ⁻¹(x) + N(0, 1) noise carries no usable information
    noisy = 1e-3 * stats.norm.ppf(x) + rng.standard_normal((N, 2))
    assert input_directions(x, noisy)["z_input_directions"] == 0


def test_input_directions_bad_input(x):
    with pytest.raises(ValueError, match="z.shape"):
        input_directions(x, np.zeros((N - 1, 2)))
    with pytest.raises(ValueError, match="k = 0"):
        input_directions(x, x, k=0)
    nan = input_directions(x, np.full((N, 2), np.nan))
    assert np.isnan(nan["z_input_directions"])


def test_kurtosis_ratio_closed_forms():
    rng = np.random.default_rng(2)
    # Mardia's b2 of U[0,1]^2 is 2·1.8 + 2 = 5.6, so the ratio to d(d+2) = 8 is 0.7; a Gaussian gives 1
    assert kurtosis_ratio(rng.random((200_000, 2))) == pytest.approx(0.7, abs=0.005)
    assert kurtosis_ratio(rng.standard_normal((200_000, 2))) == pytest.approx(1.0, abs=0.02)
    # 1-D: the ordinary kurtosis over 3 (uniform: 1.8 / 3 = 0.6)
    assert kurtosis_ratio(rng.random(200_000)) == pytest.approx(0.6, abs=0.005)
    assert np.isnan(kurtosis_ratio(np.ones((100, 2))))


def test_derived_metrics_keys(x):
    arrays = {"x": x, "mu": stats.norm.ppf(x), "z": stats.norm.ppf(x)}
    assert set(derived_metrics(arrays)) == {"z_input_directions", "z_explained_major", "z_explained_minor",
                                            "mu_kurtosis_ratio"}


def test_input_directions_of_too_few_points_is_nan_not_an_error():
    x = np.random.default_rng(0).random((10, 2))
    out = input_directions(x, x, k=10)
    assert all(np.isnan(v) for v in out.values())
