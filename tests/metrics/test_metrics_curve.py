"""The decoded curve's length against lengths known in closed form or by numerical integration."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

from vaebench.metrics.curve import decoded_curve_length, polyline_length, prior_quantiles


def test_probit_diagonal_is_the_straight_line():
    # decode(z) = (Φ(z), Φ(z)) over q ∈ [0.005, 0.995]: a straight segment of length 0.99·√2
    length = decoded_curve_length(lambda z: np.hstack([stats.norm.cdf(z)] * 2))
    assert length == pytest.approx(0.99 * math.sqrt(2), rel=1e-9)


def test_snake_length_matches_the_arc_length_integral():
    # x = q, y = ½ + ½ sin(6πq) over q = Φ(z): length ∫ √(1 + (3π cos 6πq)²) dq over [0.005, 0.995]
    def decode(z):
        q = stats.norm.cdf(z)
        return np.hstack([q, 0.5 + 0.5 * np.sin(6 * math.pi * q)])

    exact = integrate.quad(lambda q: math.sqrt(1 + (3 * math.pi * math.cos(6 * math.pi * q)) ** 2),
                           0.005, 0.995, limit=200)[0]
    assert decoded_curve_length(decode, m=20_001) == pytest.approx(exact, rel=1e-4)
    assert decoded_curve_length(decode) == pytest.approx(exact, rel=0.01)  # the default grid
    assert exact > math.sqrt(2) + 2


def test_collapsed_decoder_and_bad_input():
    assert decoded_curve_length(lambda z: np.zeros((len(z), 2))) == 0.0
    with pytest.raises(ValueError, match="points"):
        polyline_length(np.array([[0.0, 0.0], [np.nan, 1.0]]))
    assert prior_quantiles(3).ravel() == pytest.approx(stats.norm.ppf([0.005, 0.5, 0.995]))
    with pytest.raises(ValueError, match="lo"):
        prior_quantiles(5, lo=0.6, hi=0.4)
