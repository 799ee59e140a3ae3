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
from scipy import stats

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


def _distance_to_polyline(q: np.ndarray, p: np.ndarray) -> np.ndarray:
    a, b = p[:-1], p[1:]
    ab = b - a
    length2 = np.maximum(np.sum(ab * ab, axis=1), 1e-24)
    best = np.full(len(q), np.inf)
    for start in range(0, len(a), 64):  # segments in blocks: [queries, 64] at a time
        aa, dd, ll = a[start:start + 64], ab[start:start + 64], length2[start:start + 64]
        t = np.clip(((q[:, None, :] - aa[None]) * dd[None]).sum(-1) / ll[None], 0.0, 1.0)
        near = aa[None] + t[..., None] * dd[None]
        best = np.minimum(best, np.sqrt(((q[:, None, :] - near) ** 2).sum(-1)).min(1))
    return best


def polyline_fill(points: Any, radius: float = FILL_RADIUS, grid: int = FILL_GRID) -> float:
    """The share of the unit square's ``grid`` × ``grid`` cell centres within ``radius`` of the polyline
    ``points`` [m, 2] (module docstring)."""
    p = as_points(points, "points", min_n=2)
    radius = check_fraction("radius", radius, high=np.inf)
    grid = check_count("grid", grid, 1)
    c = (np.arange(grid) + 0.5) / grid
    q = np.stack(np.meshgrid(c, c), -1).reshape(-1, 2)
    return float(np.mean(_distance_to_polyline(q, p) <= radius))


def decoded_curve(decode: Callable[[np.ndarray], Any], m: int = CURVE_POINTS) -> dict[str, float]:
    """:data:`CURVE_KEYS` of ``decode`` (1-D latent [m, 1] → data [m, 2]) over the prior's central
    quantiles."""
    p = np.asarray(decode(prior_quantiles(m)), dtype=np.float64)
    return {"curve_length": polyline_length(p), "curve_turns": polyline_turns(p),
            "curve_fill": polyline_fill(p)}
