"""Is the latent an affine image of the input? The seed report's "points stay grouped together in the
latent in some notion of a quadrant, but a rotation or reflection might take place", as one number.

``affine_r2`` is the coefficient of determination of the least-squares affine fit μ ≈ A x + b
(multivariate: R² = 1 − tr Cov(μ − μ̂) / tr Cov(μ); e.g. Seber & Lee 2003, "Linear Regression
Analysis", §4.4). It is 1 exactly when μ is any affine image of x (a rotation, a reflection, a scaling,
a shear), and unchanged by any rotation or reflection of the latent (the trace is invariant), so it
keeps the quadrants "up to a rotation or reflection" without asking which. Closed form: for x uniform
on [0, 1] and μ = Φ⁻¹(x) per coordinate (the exact map onto N(0, I)), Cov(x, Φ⁻¹(x)) = E[φ(Z)] =
1/(2√π), so R² = 12/(4π) = 3/π ≈ 0.955: the probit's curvature costs 4.5 %. A fold (two input
regions on one latent point) or a collapsed latent scores low. NaN when μ does not vary.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from vaebench.metrics._arrays import as_points


def affine_r2(x: Any, latent: Any) -> float:
    """R² of the least-squares affine fit of ``latent`` [n, d] on ``x`` [n, p] (module docstring)."""
    xs = as_points(x, "x", min_n=2)
    m = as_points(latent, "latent", min_n=2)
    if len(xs) != len(m):
        raise ValueError(f"latent = array of {len(m)} points: must have as many as x ({len(xs)})")
    mc = m - m.mean(0)
    total = float(np.sum(mc * mc))
    if not total > 1e-12 * len(m):
        return math.nan
    design = np.column_stack([np.ones(len(xs)), xs - xs.mean(0)])
    coef, *_ = np.linalg.lstsq(design, mc, rcond=None)
    resid = mc - design @ coef
    return float(1.0 - np.sum(resid * resid) / total)
