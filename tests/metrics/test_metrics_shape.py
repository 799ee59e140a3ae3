"""Shape statistics on synthetic shapes with known values (closed forms in vaebench.metrics.shape)."""

import math

import numpy as np
import pytest

from vaebench.metrics.shape import kurtosis_contrast, shape_metrics, squareness

N = 200_000


def rot(deg: float) -> np.ndarray:
    a = math.radians(deg)
    return np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])


@pytest.fixture(scope="module")
def square():
    return np.random.default_rng(0).uniform(size=(N, 2))


def test_square_and_diamond(square):
    # whitened uniform: E x⁴ = 9/5, so E y⁴ = 2·9/5 − 6 = −12/5, E r⁴ = 2·9/5 + 2 = 28/5 → 3/7
    sq, angle = squareness(square)
    assert sq == pytest.approx(3 / 7, abs=0.01) and angle == pytest.approx(0, abs=1.5)
    assert kurtosis_contrast(square) == pytest.approx(-0.6, abs=0.02)
    diamond = square @ rot(45).T
    sq, angle = squareness(diamond)
    assert sq == pytest.approx(3 / 7, abs=0.01) and abs(angle) == pytest.approx(45, abs=1.5)
    assert kurtosis_contrast(diamond) == pytest.approx(0.6, abs=0.02)


def test_gaussian_laplace_and_noisy_square(square):
    rng = np.random.default_rng(1)
    g = rng.standard_normal((N, 2))
    assert squareness(g)[0] < 0.02 and kurtosis_contrast(g) == pytest.approx(0, abs=0.03)
    lap = rng.laplace(size=(N, 2))  # product of Laplace laws: L1 (diamond) contours; 3 − 3/2 in the limit
    assert kurtosis_contrast(lap) == pytest.approx(1.5, abs=0.1)
    noisy = square - 0.5 + rng.standard_normal((N, 2)) * math.sqrt(1 / 12)
    # (E y⁴ per coordinate 2.7): |2·2.7 − 6| / (2·2.7 + 2) = 0.6 / 7.4
    assert squareness(noisy)[0] == pytest.approx(0.6 / 7.4, abs=0.01)


@pytest.mark.parametrize("deg", [10.0, -30.0, 20.0])
def test_orientation_turns_with_the_sample_and_ignores_scale(square, deg):
    turned = 3.0 * (square - 0.5) @ rot(deg).T + 7.0
    sq, angle = squareness(turned)
    assert sq == pytest.approx(3 / 7, abs=0.01) and angle == pytest.approx(deg, abs=1.5)
    expected = -0.6 * math.cos(math.radians(4 * deg))  # the contrast is the cos 4θ component
    assert kurtosis_contrast(turned) == pytest.approx(expected, abs=0.03)


def test_undefined_cases_are_nan_and_bad_input_is_named(square):
    assert all(math.isnan(v) for v in shape_metrics(square[:, :1]).values())
    line = np.repeat(square[:, :1], 2, axis=1)
    assert all(math.isnan(v) for v in shape_metrics(line).values())
    bad = square.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="latent"):
        kurtosis_contrast(bad)
