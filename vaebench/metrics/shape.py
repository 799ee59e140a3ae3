"""The shape of a 2-D latent: is it a square, a diamond (a square turned 45°) or round?

Both statistics are computed on the whitened sample y = S^{-1/2}(μ − mean), S the covariance (divisor n),
with the *symmetric* inverse square root, so scale is removed but the orientation relative to the latent
axes is kept (an affine-invariant statistic such as Mardia's kurtosis scores a square and a diamond
alike, 0.700 of its Gaussian value, and cannot see a diamond).

- **Squareness** (fourth circular moment, e.g. Mardia & Jupp 2000, "Directional Statistics", §3.4,
  weighted by r⁴): with y as the complex number r·e^{iθ}, m₄ = E[r⁴e^{4iθ}] = E[y⁴] and
  squareness = |m₄| / E[r⁴] ∈ [0, 1]. 0 for any rotation-invariant shape (a Gaussian), 3/7 ≈ 0.43 for
  a uniform square or diamond, ≈ 0.08 for a square plus Gaussian noise of equal variance.
  ``orientation`` = arg(−m₄)/4 in degrees, in (−45°, 45°]: the angle of the square's sides to the latent
  axes, 0° for an axis-aligned square, ±45° for a diamond; it turns with the sample.
  ``diagonal_alignment`` = −cos 4θ ∈ [−1, 1]: +1 for a diamond (sides at 45° to the axes), −1 for an
  axis-aligned square, 0 on average for a square at a uniformly random tilt (its mean over seeds is the
  first trigonometric moment of 4θ about 180°, Mardia & Jupp 2000, §3.4: how concentrated the tilts are
  at 45°). Meaningful only where the squareness is clearly above 0.
- **Kurtosis contrast**: the mean excess kurtosis of the two axis marginals y₁, y₂ minus that of the two
  diagonal marginals (y₁ ± y₂)/√2. Axis-aligned uniform square: −1.2 − (−0.6) = −0.6; diamond: +0.6;
  Gaussian (or any rotation-invariant shape): 0; an axis-aligned product of Laplace laws (whose
  contours are diamonds, L1 balls): 3 − 1.5 = +1.5 (sample estimates of heavy-tailed kurtoses converge
  slowly: ≈ 1.46 at n = 200 000). Positive means "pointed along the axes" (the seed
  report's diamond), negative "flat along the axes" (a square).

Both are NaN for d ≠ 2 or a singular covariance (a collapsed latent); non-finite input is a ValueError.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vaebench.metrics._arrays import as_points, singular_reason, whiten

SHAPE_KEYS = ("squareness", "orientation_deg", "kurtosis_contrast")


def _whitened(latent: Any) -> np.ndarray | None:
    x = as_points(latent, "latent", min_n=3)
    if x.shape[1] != 2 or singular_reason(x) is not None:
        return None
    return whiten(x, "latent")


def squareness(latent: Any) -> tuple[float, float]:
    """(|E y⁴| / E|y|⁴, orientation in degrees) of the whitened 2-D ``latent`` [n, 2] (module docstring);
    (NaN, NaN) where undefined."""
    y = _whitened(latent)
    if y is None:
        return math.nan, math.nan
    c = y[:, 0] + 1j * y[:, 1]
    m4 = np.mean(c ** 4)
    r4 = float(np.mean(np.abs(c) ** 4))
    return float(abs(m4) / r4), float(np.degrees(np.angle(-m4) / 4))


def diagonal_alignment(orientation_deg: float) -> float:
    """−cos 4θ of a square's tilt θ in degrees (module docstring): +1 diamond, −1 axis-aligned."""
    return -math.cos(math.radians(4.0 * orientation_deg)) if math.isfinite(orientation_deg) else math.nan


def _excess_kurtosis(v: np.ndarray) -> float:
    v = v - v.mean()
    return float(np.mean(v ** 4) / np.mean(v ** 2) ** 2 - 3.0)


def kurtosis_contrast(latent: Any) -> float:
    """Mean excess kurtosis of the axis marginals minus that of the diagonal marginals of the whitened 2-D
    ``latent`` [n, 2] (module docstring); NaN where undefined."""
    y = _whitened(latent)
    if y is None:
        return math.nan
    axes = (_excess_kurtosis(y[:, 0]) + _excess_kurtosis(y[:, 1])) / 2
    s = 1 / math.sqrt(2)
    diagonals = (_excess_kurtosis(s * (y[:, 0] + y[:, 1])) + _excess_kurtosis(s * (y[:, 0] - y[:, 1]))) / 2
    return axes - diagonals


def shape_metrics(latent: Any) -> dict[str, float]:
    """Every statistic of this module for one latent sample: :data:`SHAPE_KEYS`."""
    sq, angle = squareness(latent)
    return {"squareness": sq, "orientation_deg": angle, "kurtosis_contrast": kurtosis_contrast(latent)}
