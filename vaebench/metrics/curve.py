"""The length of a 1-D latent's decoded curve: the seed report's "snake" as a number.

A decoder with a 1-D latent maps the prior's line into the data plane as a curve. Its length over the
prior's central quantiles, L = Σᵢ ‖decode(zᵢ₊₁) − decode(zᵢ)‖ with zᵢ = Φ⁻¹(qᵢ),
qᵢ = q_lo + (q_hi − q_lo)·i/(m − 1), i = 0 … m − 1 (the polygonal arc length, which converges to the
curve's length from below as m grows; e.g. Apostol 1974, "Mathematical Analysis", §6.10), says how the
curve fills the square: a straight diagonal from (0, 0) to (1, 1) has length √2 ≈ 1.41, a curve that
"snakes" through the square to reach more of it is longer, a collapsed decoder (one point) has 0.
The default grid spans the prior's central 99 % (q from 0.005 to 0.995) in 513 points.

Length alone cannot tell a snake from a U or from the square's perimeter (4.0). Two more numbers say
how the curve snakes:

- **turns**: the total absolute turning of the polyline, Σᵢ |angle between segment i and i + 1|, in
  units of π (the total absolute curvature of a polygonal curve, Milnor 1950, "On the total curvature of
  knots"): 0 for a straight line, 1 for a U (a half circle), 1.5 for the square's perimeter walked from a
  corner (three right angles), 2 for an S, about k − 1 for a snake of k parallel passes joined by U-turns;
- **fill**: the share of the unit square within distance h = 0.1 of the curve (on a 100 × 100 grid of
  cell centres): 0.2 for a segment across the square, ≈ 0.27 for the diagonal, 0.36 for the perimeter,
  and ≈ 1 for a snake whose passes lie at most 2h apart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import spatial, stats

from vaebench.metrics._arrays import as_points, check_count, check_fraction

QUANTILE_LO, QUANTILE_HI, CURVE_POINTS = 0.005, 0.995, 513
FILL_RADIUS, FILL_GRID = 0.1, 100
CURVE_KEYS = ("curve_length", "curve_turns", "curve_fill")


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


def polyline_turns(points: Any) -> float:
    """Σ of the absolute turning angles between consecutive segments of ``points`` [m, 2], in units of π;
    zero-length segments are skipped (module docstring)."""
    p = as_points(points, "points", min_n=2)
    seg = np.diff(p, axis=0)
    seg = seg[np.linalg.norm(seg, axis=1) > 1e-12]
    if len(seg) < 2:
        return 0.0
    heading = np.arctan2(seg[:, 1], seg[:, 0])
    turn = np.angle(np.exp(1j * np.diff(heading)))  # wrapped into (−π, π]
    return float(np.abs(turn).sum() / np.pi)


def _densified(p: np.ndarray, spacing: float) -> np.ndarray:
    """The polyline ``p`` with every segment cut into pieces of at most ``spacing``: a point's distance to
    these vertices exceeds its distance to the polyline by at most spacing/2."""
    seg = np.diff(p, axis=0)
    pieces = np.maximum(1, np.ceil(np.linalg.norm(seg, axis=1) / spacing)).astype(int)
    t = np.concatenate([np.arange(k) / k for k in pieces])
    start = np.repeat(np.arange(len(seg)), pieces)
    return np.vstack([p[start] + t[:, None] * seg[start], p[-1:]])


def polyline_fill(points: Any, radius: float = FILL_RADIUS, grid: int = FILL_GRID) -> float:
    """The share of the unit square's ``grid`` × ``grid`` cell centres within ``radius`` of the polyline
    ``points`` [m, 2] (module docstring)."""
    p = as_points(points, "points", min_n=2)
    radius = check_fraction("radius", radius, high=np.inf)
    grid = check_count("grid", grid, 1)
    c = (np.arange(grid) + 0.5) / grid
    q = np.stack(np.meshgrid(c, c), -1).reshape(-1, 2)
    # vertices every radius/100: the distance is exact to 5·10⁻³ of the radius (a cell centre that close
    # to the band's edge could flip; the closed-form tests have none)
    dist, _ = spatial.cKDTree(_densified(p, radius / 100)).query(q, distance_upper_bound=radius * 1.01)
    return float(np.mean(dist <= radius))


def decoded_curve(decode: Callable[[np.ndarray], Any], m: int = CURVE_POINTS) -> dict[str, float]:
    """:data:`CURVE_KEYS` of ``decode`` (1-D latent [m, 1] → data [m, 2]) over the prior's central
    quantiles."""
    p = np.asarray(decode(prior_quantiles(m)), dtype=np.float64)
    return {"curve_length": polyline_length(p), "curve_turns": polyline_turns(p),
            "curve_fill": polyline_fill(p)}
