"""The length of a 1-D latent's decoded curve: the seed report's "snake" as a number.

A decoder with a 1-D latent maps the prior's line into the data plane as a curve. Its length over the
prior's central quantiles, L = Σᵢ ‖decode(zᵢ₊₁) − decode(zᵢ)‖ with zᵢ = Φ⁻¹(qᵢ),
qᵢ = q_lo + (q_hi − q_lo)·i/(m − 1), i = 0 … m − 1 (the polygonal arc length, which converges to the
curve's length from below as m grows; e.g. Apostol 1974, "Mathematical Analysis", §6.10), says how the
curve fills the square: a straight diagonal from (0, 0) to (1, 1) has length √2 ≈ 1.41, a curve that
"snakes" through the square to reach more of it is longer, a collapsed decoder (one point) has 0.
The default grid spans the prior's central 99 % (q from 0.005 to 0.995) in 513 points.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import stats

from vaebench.metrics._arrays import as_points, check_count, check_fraction

QUANTILE_LO, QUANTILE_HI, CURVE_POINTS = 0.005, 0.995, 513


def prior_quantiles(m: int = CURVE_POINTS, lo: float = QUANTILE_LO, hi: float = QUANTILE_HI) -> np.ndarray:
    """Φ⁻¹ of ``m`` equally spaced probabilities from ``lo`` to ``hi``: float64 [m, 1]."""
    m = check_count("m", m, 2)
    lo = check_fraction("lo", lo)
    hi = check_fraction("hi", hi)
    if not lo < hi < 1:
        raise ValueError(f"(lo, hi) = ({lo}, {hi}): must satisfy 0 < lo < hi < 1")
    return stats.norm.ppf(np.linspace(lo, hi, m))[:, None]


def polyline_length(points: Any) -> float:
    """Σ ‖pᵢ₊₁ − pᵢ‖ of the ordered ``points`` [m, D] (finite; ValueError otherwise)."""
    p = as_points(points, "points", min_n=2)
    return float(np.linalg.norm(np.diff(p, axis=0), axis=1).sum())


def decoded_curve_length(decode: Callable[[np.ndarray], Any], m: int = CURVE_POINTS) -> float:
    """Length of ``decode`` (1-D latent [m, 1] → data [m, D]) over the prior's central quantiles."""
    return polyline_length(np.asarray(decode(prior_quantiles(m)), dtype=np.float64))
