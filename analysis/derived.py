"""Numbers the report derives from a run's stored arrays, beside the metric suite's own columns.

- **Input directions kept by the latent** (``z_input_directions``, ``z_explained_minor``,
  ``z_explained_major``): how much of the input x a latent sample z ~ q(z|x) still determines, per
  input direction. x is predicted from z by leave-one-out k-nearest-neighbour regression in the latent
  (k = 10; a nonparametric regression, e.g. Györfi et al. 2002, "A Distribution-Free Theory of
  Nonparametric Regression"); the residual covariance R = Cov(x − x̂) is whitened by the input's own
  covariance Σ (eigenvalues of Σ^{-1/2} R Σ^{-1/2}: 0 = that direction is fully determined by z, 1 = z
  says nothing about it). A direction is *kept* when its eigenvalue is below 0.5. The samples z, not
  the means μ(x), are used on purpose: structure in μ far below the posterior's noise σ is not
  information the decoder can use, and the noise washes it out (for deterministic encoders z = μ).
  kNN distances are invariant to rotations, reflections and the scale of the latent; a latent collapsed
  to the prior keeps no direction. This is the seed report's "points of a quadrant now belong to bands
  over one dimension of the latent: the information about 2-D location gets lost", as a number.
- **Kurtosis ratio** (``mu_kurtosis_ratio``): Mardia's (1970) multivariate kurtosis
  b₂ = mean(((μ − m)ᵀ S⁻¹ (μ − m))²), S the covariance (divide by n), over its Gaussian value d(d + 2).
  1 for a Gaussian, 0.70 for a uniform square (or diamond, which is a rotated square), above 1 for shapes
  peaked at the centre. Affine invariant, so it measures shape, not scale or orientation. NaN when S is
  singular to float64 precision.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy.spatial import cKDTree

KEPT_BELOW = 0.5  # a whitened residual eigenvalue below this counts as a kept input direction
K_NEIGHBOURS = 10


def _points(a: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] < 2:
        raise ValueError(f"{name}.shape = {a.shape}: must be [n, d] with n >= 2")
    return a


def input_directions(x: np.ndarray, z: np.ndarray, k: int = K_NEIGHBOURS) -> dict[str, float]:
    """How many input directions of ``x`` [n, p] the latent samples ``z`` [n, d] keep (module docstring).
    Returns ``z_input_directions`` (count of whitened residual eigenvalues < 0.5), ``z_explained_major``
    and ``z_explained_minor`` (1 − the smallest and the largest eigenvalue: the share of the best- and
    worst-kept direction's variance that z determines). NaN when z is not finite; needs n > k."""
    x, z = _points(x, "x"), _points(z, "z")
    nan = {"z_input_directions": math.nan, "z_explained_major": math.nan, "z_explained_minor": math.nan}
    if x.shape[0] != z.shape[0]:
        raise ValueError(f"z.shape = {z.shape}: must have as many rows as x.shape = {x.shape}")
    if not isinstance(k, int) or k < 1:
        raise ValueError(f"k = {k!r}: must be an integer >= 1")
    if k >= x.shape[0] or not (np.isfinite(z).all() and np.isfinite(x).all()):  # too few points or NaN
        return nan
    _, idx = cKDTree(z).query(z, k + 1)
    # leave one out: drop the point itself (with ties it may not come first, so drop it by index)
    rows = np.arange(len(z))[:, None]
    own = idx == rows
    keep = np.where(own.any(1, keepdims=True), ~own, np.arange(k + 1)[None, :] < k)
    neigh = idx[keep].reshape(len(z), k)
    resid = x - x[neigh].mean(1)
    sigma = np.atleast_2d(np.cov(x.T, bias=True))
    w, v = np.linalg.eigh(sigma)
    if w.min() <= 0:
        return nan
    whiten = v @ np.diag(w ** -0.5) @ v.T
    eig = np.linalg.eigvalsh(whiten @ np.atleast_2d(np.cov(resid.T, bias=True)) @ whiten)
    return {"z_input_directions": float(np.sum(eig < KEPT_BELOW)),
            "z_explained_major": float(1 - eig.min()), "z_explained_minor": float(1 - eig.max())}


def kurtosis_ratio(mu: np.ndarray) -> float:
    """Mardia's b₂ of ``mu`` [n, d] over d(d + 2) (1 for a Gaussian); NaN if the covariance is singular or
    ``mu`` not finite."""
    mu = _points(mu, "mu")
    if not np.isfinite(mu).all():
        return math.nan
    d = mu.shape[1]
    centred = mu - mu.mean(0)
    s = np.atleast_2d(np.cov(centred.T, bias=True))
    w = np.linalg.eigvalsh(s)
    if w.min() <= w.max() * 1e-12 or w.max() == 0:
        return math.nan
    d2 = np.einsum("ij,jk,ik->i", centred, np.linalg.inv(s), centred)
    return float(np.mean(d2 ** 2) / (d * (d + 2)))


def derived_metrics(arrays: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Every derived number of one run from its evaluation arrays (``x``, ``z`` and ``mu`` needed)."""
    out = input_directions(arrays["x"], arrays["z"])
    out["mu_kurtosis_ratio"] = kurtosis_ratio(arrays["mu"])
    return out
